//! Which unique constraint a write ran into, told by the constraint's name.
//!
//! PostgreSQL names the violated constraint (`DatabaseError::constraint`); the
//! names are set by the migrations (`0007_constraint_names.sql` names the ones
//! `0001` left to PostgreSQL's defaults). SQLite reports no name, only the
//! constraint's columns (`UNIQUE constraint failed: elements.id`), so every
//! constraint is listed here with its columns too. The conformance suite checks
//! each mapping on both backends by violating it.

use sqlx::error::DatabaseError;

use crate::error::{StoreError, UniqueField};

/// A unique constraint callers are told about.
struct Unique {
    name: &'static str,
    table: &'static str,
    columns: &'static [&'static str],
    field: UniqueField,
}

const UNIQUE: [Unique; 5] = [
    Unique {
        name: "elements_id",
        table: "elements",
        columns: &["id"],
        field: UniqueField::Id,
    },
    Unique {
        name: "elements_uuid",
        table: "elements",
        columns: &["workspace_id", "element_type", "uuid"],
        field: UniqueField::Uuid,
    },
    Unique {
        name: "elements_key",
        table: "elements",
        columns: &["workspace_id", "element_type", "key_scope", "key"],
        field: UniqueField::Key,
    },
    Unique {
        name: "workspaces_id",
        table: "workspaces",
        columns: &["id"],
        field: UniqueField::Id,
    },
    Unique {
        name: "workspaces_key",
        table: "workspaces",
        columns: &["key"],
        field: UniqueField::WorkspaceKey,
    },
];

/// The prefix of SQLite's unique and primary key violations, before the columns.
const SQLITE_UNIQUE_FAILED: &str = "UNIQUE constraint failed: ";

impl Unique {
    /// Whether SQLite's list of columns (`table.column, table.column`) is this one's.
    fn has_columns(&self, listed: &str) -> bool {
        listed
            .split(", ")
            .eq(self.columns.iter().map(|c| format!("{}.{c}", self.table)))
    }
}

fn violated(db: &dyn DatabaseError) -> Option<&'static Unique> {
    match db.constraint() {
        Some(name) => UNIQUE.iter().find(|u| u.name == name),
        None => {
            let listed = db.message().strip_prefix(SQLITE_UNIQUE_FAILED)?;
            UNIQUE.iter().find(|u| u.has_columns(listed))
        }
    }
}

/// A unique violation of a known constraint as [`StoreError::Unique`]; any other
/// error as usual.
pub(crate) fn classify_unique(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            if let Some(unique) = violated(db.as_ref()) {
                return StoreError::Unique(unique.field);
            }
        }
    }
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_column_lists_match_whole_constraints_only() {
        let uuid = &UNIQUE[1];
        assert!(uuid.has_columns("elements.workspace_id, elements.element_type, elements.uuid"));
        assert!(!uuid.has_columns("elements.workspace_id, elements.element_type"));
        assert!(!UNIQUE[0].has_columns("workspaces.id"));
        assert!(UNIQUE[3].has_columns("workspaces.id"));
    }
}
