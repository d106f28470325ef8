//! A reference to another element as a request body gives it: by id, uuid or key.
//!
//! A leaf module: everything may import it, it imports nothing of the engine.

/// A reference to another element, as the client gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ref {
    Id(String),
    Uuid(String),
    Key(String),
}

impl Ref {
    pub fn describe(&self) -> String {
        match self {
            Ref::Id(v) => format!("id `{v}`"),
            Ref::Uuid(v) => format!("uuid `{v}`"),
            Ref::Key(v) => format!("key `{v}`"),
        }
    }
}
