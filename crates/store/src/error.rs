use thiserror::Error;

/// Which unique constraint a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Id,
    Uuid,
    Key,
    WorkspaceKey,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("a record with the same {0:?} already exists")]
    Unique(UniqueField),
    #[error("the record was changed concurrently")]
    RevisionConflict,
    #[error("the record does not exist")]
    Missing,
    #[error("unsupported database URL scheme `{0}` (use sqlite: or postgres://)")]
    UnsupportedUrl(String),
    #[error("the database schema is at version {found}, newer than this binary knows ({known}); upgrade Osmosis")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the data directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Maps a unique-constraint violation to the field it protects, by index name.
pub(crate) fn classify_unique(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            let field = if text.contains("elements_uuid") || text.contains("elements.uuid") {
                UniqueField::Uuid
            } else if text.contains("elements_key") || text.contains("elements.key") {
                UniqueField::Key
            } else if text.contains("workspaces") {
                UniqueField::WorkspaceKey
            } else {
                UniqueField::Id
            };
            return StoreError::Unique(field);
        }
    }
    StoreError::Database(err)
}
