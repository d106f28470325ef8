//! The two record kinds, contacts and companies: their fields, what each accepts, the
//! query filters of their lists, and checking a create or update body.

use serde_json::{Map, Value};

use crate::routes::AppError;

/// What a field accepts (every field also takes `null`, which clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A string of at most [`MAX_TEXT`] characters.
    Text,
    /// `local@domain`, without spaces.
    Email,
    /// A host name (`acme.example`): letters, digits, hyphens and dots, with a dot.
    Domain,
    /// The id of one of the account's companies (checked by the caller, which has
    /// the database).
    CompanyId,
}

/// The longest text a field takes.
const MAX_TEXT: usize = 1000;

pub(crate) struct Field {
    pub name: &'static str,
    pub check: Check,
}

/// An exact-match filter of a list: a query parameter naming a field.
pub(crate) struct Filter {
    pub name: &'static str,
    /// Compared without regard to case (emails and domains).
    pub any_case: bool,
}

/// One kind of record.
pub(crate) struct Kind {
    /// Its table and path segment (`contacts`).
    pub table: &'static str,
    /// Its name in events and messages (`contact`).
    pub singular: &'static str,
    /// The prefix of its ids (`con_…`).
    pub id_prefix: &'static str,
    pub fields: &'static [Field],
    /// Fields a record must have.
    pub required: &'static [&'static str],
    pub filters: &'static [Filter],
    /// The fields `q` searches.
    pub searched: &'static [&'static str],
}

/// Written by the app, refused in a body.
pub(crate) const READ_ONLY: [&str; 3] = ["id", "createdAt", "updatedAt"];

pub(crate) const CONTACTS: Kind = Kind {
    table: "contacts",
    singular: "contact",
    id_prefix: "con",
    fields: &[
        Field {
            name: "firstName",
            check: Check::Text,
        },
        Field {
            name: "lastName",
            check: Check::Text,
        },
        Field {
            name: "email",
            check: Check::Email,
        },
        Field {
            name: "phone",
            check: Check::Text,
        },
        Field {
            name: "companyId",
            check: Check::CompanyId,
        },
    ],
    required: &["email"],
    filters: &[
        Filter {
            name: "email",
            any_case: true,
        },
        Filter {
            name: "companyId",
            any_case: false,
        },
    ],
    searched: &["firstName", "lastName", "email"],
};

pub(crate) const COMPANIES: Kind = Kind {
    table: "companies",
    singular: "company",
    id_prefix: "com",
    fields: &[
        Field {
            name: "name",
            check: Check::Text,
        },
        Field {
            name: "domain",
            check: Check::Domain,
        },
        Field {
            name: "industry",
            check: Check::Text,
        },
        Field {
            name: "phone",
            check: Check::Text,
        },
    ],
    required: &["name"],
    filters: &[Filter {
        name: "domain",
        any_case: true,
    }],
    searched: &["name", "domain"],
};

impl Kind {
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn field_names(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The fields a create (`creating`) or update body sets, checked: every key a
    /// field, every value what the field accepts or `null`; on create the required
    /// fields present. A company id is only checked to be a string here.
    pub(crate) fn changes(
        &self,
        body: &Value,
        creating: bool,
    ) -> Result<Map<String, Value>, AppError> {
        let Value::Object(body) = body else {
            return Err(AppError::invalid_body(format!(
                "the body must be a JSON object of {} fields ({})",
                self.singular,
                self.field_names()
            )));
        };
        let mut changes = Map::new();
        for (name, value) in body {
            if READ_ONLY.contains(&name.as_str()) {
                return Err(AppError::invalid_field(
                    name,
                    format!("`{name}` is set by the app and cannot be written"),
                ));
            }
            let field = self.field(name).ok_or_else(|| {
                AppError::invalid_field(
                    name,
                    format!(
                        "`{name}` is not a {} field (fields: {})",
                        self.singular,
                        self.field_names()
                    ),
                )
            })?;
            let value = match value {
                Value::Null => Value::Null,
                Value::String(text) => {
                    let text = text.trim();
                    check(field, text)?;
                    if text.is_empty() {
                        Value::Null
                    } else {
                        Value::String(text.to_owned())
                    }
                }
                _ => {
                    return Err(AppError::invalid_field(
                        name,
                        format!("`{name}` must be a string or null"),
                    ))
                }
            };
            if value.is_null() && self.required.contains(&name.as_str()) {
                return Err(AppError::invalid_field(
                    name,
                    format!("`{name}` is required and cannot be empty"),
                ));
            }
            changes.insert(name.clone(), value);
        }
        if creating {
            if let Some(missing) = self
                .required
                .iter()
                .find(|name| changes.get(**name).is_none_or(Value::is_null))
            {
                return Err(AppError::invalid_field(
                    missing,
                    format!("`{missing}` is required"),
                ));
            }
        }
        Ok(changes)
    }

    /// A new record of this kind: every field (`null` unless set), id and times.
    pub(crate) fn new_record(
        &self,
        id: &str,
        now: &str,
        changes: Map<String, Value>,
    ) -> Map<String, Value> {
        let mut record = Map::new();
        record.insert("id".into(), Value::String(id.to_owned()));
        for field in self.fields {
            record.insert(field.name.into(), Value::Null);
        }
        record.extend(changes);
        record.insert("createdAt".into(), Value::String(now.to_owned()));
        record.insert("updatedAt".into(), Value::String(now.to_owned()));
        record
    }
}

fn check(field: &Field, text: &str) -> Result<(), AppError> {
    let name = field.name;
    if text.chars().count() > MAX_TEXT {
        return Err(AppError::invalid_field(
            name,
            format!("`{name}` is longer than {MAX_TEXT} characters"),
        ));
    }
    if text.is_empty() {
        return Ok(());
    }
    let fine = match field.check {
        Check::Text | Check::CompanyId => true,
        Check::Email => text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }),
        Check::Domain => {
            text.contains('.')
                && !text.starts_with(['.', '-'])
                && !text.ends_with(['.', '-'])
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        }
    };
    if fine {
        return Ok(());
    }
    let what = match field.check {
        Check::Email => "an email address (name@example.com)",
        _ => "a domain name (example.com, without a scheme or path)",
    };
    Err(AppError::invalid_field(
        name,
        format!("`{name}` must be {what}"),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_of(result: Result<Map<String, Value>, AppError>) -> Option<String> {
        result.err().and_then(|e| e.field)
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = CONTACTS
            .changes(
                &json!({"email": " ada@example.com ", "firstName": "Ada", "phone": null}),
                true,
            )
            .unwrap();
        assert_eq!(
            Value::Object(ok),
            json!({"email": "ada@example.com", "firstName": "Ada", "phone": null})
        );
        for (body, field) in [
            (json!({"firstName": "Ada"}), "email"),
            (json!({"email": "not-an-email"}), "email"),
            (json!({"email": "a@b.c", "nickname": "x"}), "nickname"),
            (json!({"email": "a@b.c", "id": "con_1"}), "id"),
            (json!({"email": "a@b.c", "firstName": 7}), "firstName"),
        ] {
            assert_eq!(
                field_of(CONTACTS.changes(&body, true)).as_deref(),
                Some(field),
                "{body}"
            );
        }
        assert!(CONTACTS.changes(&json!([1]), true).is_err());
        // An update may leave the required field out, not clear it.
        assert!(CONTACTS.changes(&json!({"lastName": "L"}), false).is_ok());
        assert_eq!(
            field_of(CONTACTS.changes(&json!({"email": null}), false)).as_deref(),
            Some("email")
        );
        assert_eq!(
            field_of(COMPANIES.changes(&json!({"name": "A", "domain": "https://a.io"}), true))
                .as_deref(),
            Some("domain")
        );
        assert!(COMPANIES
            .changes(&json!({"name": "A", "domain": "a-b.example.io"}), true)
            .is_ok());
    }
}
