//! Keeping secrets out of messages: the set of secret strings one connection uses
//! (credential values, auth header values, basic-auth passwords, client secrets) and
//! their replacement by `***` in anything that may be shown or logged.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Strings shorter than this are not treated as secrets: masking `1` or `true` would
/// mangle every message while protecting nothing.
const MIN_SECRET_LEN: usize = 4;

/// Secret strings to mask. Cheap to clone.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one secret (ignored when too short to be one).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        if secret.len() >= MIN_SECRET_LEN && !self.secrets.contains(&secret) {
            let mut list = (*self.secrets).clone();
            list.push(secret);
            // Longest first, so a secret containing another is masked whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
            self.secrets = Arc::new(list);
        }
        self
    }

    /// Adds every string leaf of a JSON value (credentials are secrets through and
    /// through: which of their fields is sensitive depends on the connector).
    pub fn with_value_leaves(mut self, value: &Value) -> Self {
        match value {
            Value::String(s) => self = self.with_secret(s.clone()),
            Value::Array(items) => {
                for item in items {
                    self = self.with_value_leaves(item);
                }
            }
            Value::Object(map) => {
                for item in map.values() {
                    self = self.with_value_leaves(item);
                }
            }
            _ => {}
        }
        self
    }

    /// Adds the string leaves of credentials, except fields that describe a token
    /// rather than being one (`token_type: "bearer"` masked everywhere would only
    /// garble messages).
    pub fn with_credentials(mut self, credentials: &Value) -> Self {
        const NOT_SECRET: [&str; 7] = [
            "token_type",
            "tokenType",
            "scope",
            "scopes",
            "expires_in",
            "expires_at",
            "expiresIn",
        ];
        match credentials {
            Value::Object(map) => {
                for (key, value) in map {
                    if !NOT_SECRET.contains(&key.as_str()) {
                        self = self.with_value_leaves(value);
                    }
                }
                self
            }
            other => self.with_value_leaves(other),
        }
    }

    /// Adds the values of fields whose names mark them as secret (`clientSecret`,
    /// `apiKey`, `password`, …) anywhere inside `value`: connector parameters mix
    /// secrets with plain settings.
    pub fn with_secret_fields(mut self, value: &Value) -> Self {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    if looks_secret(key) {
                        self = self.with_value_leaves(item);
                    } else {
                        self = self.with_secret_fields(item);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self = self.with_secret_fields(item);
                }
            }
            _ => {}
        }
        self
    }

    /// Adds all secrets of another redactor.
    pub fn merge(mut self, other: &Redactor) -> Self {
        for secret in other.secrets.iter() {
            self = self.with_secret(secret.clone());
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The text with every secret replaced by [`MASK`].
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// The value with every secret inside its strings (and keys) replaced.
    pub fn value(&self, value: &Value) -> Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.text(k), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// Whether a field, header or query parameter name marks its value as secret.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "auth",
        "token",
        "key",
        "secret",
        "signature",
        "cookie",
        "session",
        "password",
        "sig",
    ]
    .iter()
    .any(|marker| name.contains(marker))
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_longest_secret_first_and_skips_short_values() {
        let r = Redactor::new()
            .with_secret("abcd")
            .with_secret("abcdefgh")
            .with_secret("ab");
        assert_eq!(r.text("x abcdefgh y abcd z ab"), "x *** y *** z ab");
    }

    #[test]
    fn masks_json_leaves() {
        let r = Redactor::new().with_value_leaves(&json!({"token": "tok-123", "n": 5}));
        assert_eq!(
            r.value(&json!({"msg": "bad tok-123", "list": ["tok-123"]})),
            json!({"msg": "bad ***", "list": ["***"]})
        );
        assert_eq!(format!("{:?}", Secret::new("tok-123")), "***");
    }
}
