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

/// Whether a field, header or query parameter name marks its value as secret: it
/// holds `secret`, `password`, `passphrase`, `token`, `key`, `credential`,
/// `signature`, `hmac`, `cookie`, `session` or `auth` (`authorization`, `x-auth-…`,
/// `oauth…`; not `author`, `author_association`, `authority`), or a word `sig`
/// (`sig`, `x-sig`, `apiSig`; not `assignee`, `design`, `signal`). Words that only
/// contain a marker by accident (`keyword`, `keyboard`) are not secret.
pub fn looks_secret(name: &str) -> bool {
    const MARKERS: [&str; 10] = [
        "secret",
        "password",
        "passphrase",
        "token",
        "key",
        "credential",
        "signature",
        "hmac",
        "cookie",
        "session",
    ];
    const NOT_SECRET: [&str; 2] = ["keyword", "keyboard"];
    let mut lower = name.to_ascii_lowercase();
    for word in NOT_SECRET {
        if lower.contains(word) {
            lower = lower.replace(word, " ");
        }
    }
    MARKERS.iter().any(|marker| lower.contains(marker))
        || auth_marker(&lower)
        || (lower.contains("sig") && words(name).any(|w| sig_word(&w)))
}

/// `sig`, `sigs`, `sig256`: a signature, not `signal` or `assignee`.
fn sig_word(word: &str) -> bool {
    word.strip_prefix("sig")
        .is_some_and(|rest| rest == "s" || rest.chars().all(|c| c.is_ascii_digit()))
}

/// Whether lower-case `name` holds `auth` other than as the start of `author…`
/// (which is secret again as `authoriz…` / `authoris…`).
fn auth_marker(name: &str) -> bool {
    name.match_indices("auth").any(|(at, _)| {
        let rest = &name[at + 4..];
        !rest.starts_with("or") || rest.starts_with("oriz") || rest.starts_with("oris")
    })
}

/// The lower-case words of a name: split at anything not a letter or digit and
/// where a capital follows a small letter (`webhookSecret`, `x-api-key`).
fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    out.push(word);
    out.into_iter().filter(|w| !w.is_empty())
}

/// Masks, in place, what fields named like secrets ([`looks_secret`]) hold anywhere
/// inside `value`: every non-empty string under such a field (however deep) becomes
/// [`MASK`]; numbers, booleans, `null` and empty strings are kept (`"total_tokens":
/// 12` tells nothing). Other fields are walked. For what is shown or logged of data
/// whose secrets are not known in advance (a webhook's signing secret in a
/// subscription's state, a request or response body).
pub fn redact_json_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if looks_secret(key) {
                    mask_strings(item);
                } else {
                    redact_json_keys(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json_keys),
        _ => {}
    }
}

/// [`redact_json_keys`] on a copy.
pub fn redacted_json_keys(value: &Value) -> Value {
    let mut copy = value.clone();
    redact_json_keys(&mut copy);
    copy
}

fn mask_strings(value: &mut Value) {
    match value {
        Value::String(s) if !s.is_empty() => *s = MASK.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(mask_strings),
        Value::Object(map) => map.values_mut().for_each(mask_strings),
        _ => {}
    }
}

/// A form-encoded body (`a=1&client_secret=…`) with the values of secret-looking
/// fields ([`looks_secret`]) masked; as given when it has none.
pub fn redact_form_text(text: &str) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    if !pairs.iter().any(|(k, v)| !v.is_empty() && looks_secret(k)) {
        return text.to_owned();
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        if !v.is_empty() && looks_secret(k) {
            out.append_pair(k, MASK);
        } else {
            out.append_pair(k, v);
        }
    }
    out.finish()
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

    #[test]
    fn names_that_look_secret() {
        for name in [
            "secret",
            "webhookSecret",
            "client_secret",
            "clientSecret",
            "password",
            "Passphrase",
            "token",
            "access_token",
            "refreshToken",
            "apiKey",
            "x-api-key",
            "api_key",
            "key",
            "privateKey",
            "credentials",
            "Authorization",
            "proxy-authorization",
            "auth",
            "x-auth-token",
            "oauth_verifier",
            "authorise",
            "X-Hub-Signature-256",
            "Stripe-Signature",
            "X-Shopify-Hmac-Sha256",
            "cookie",
            "Set-Cookie",
            "sessionId",
            "sig",
            "x-sig",
            "apiSig",
            "sig256",
        ] {
            assert!(looks_secret(name), "{name} should look secret");
        }
        for name in [
            "id",
            "hookId",
            "endpointId",
            "url",
            "webhookUri",
            "cursor",
            "name",
            "content_type",
            "insecure_ssl",
            "events",
            "enabled_events[]",
            "author",
            "author_association",
            "authority",
            "assignee",
            "assignees",
            "design",
            "signal",
            "signup_date",
            "insight",
            "keyword",
            "keywords",
            "description",
            "status",
        ] {
            assert!(!looks_secret(name), "{name} should not look secret");
        }
    }

    #[test]
    fn masks_values_of_secret_looking_fields_at_any_depth() {
        let mut v = json!({
            "id": "we_1",
            "hookId": 12345,
            "url": "https://h/webhooks/x",
            "secret": "whsec_abc",
            "webhookSecret": "f00d",
            "config": {"url": "https://h", "content_type": "json", "secret": "s3cr3t"},
            "list": [{"client_secret": "cs", "name": "n"}],
            "credentials": {"access_token": "t", "nested": ["a", "b"], "expires": 3600},
            "total_tokens": 12,
            "password": "",
            "author": {"login": "octocat"},
        });
        redact_json_keys(&mut v);
        assert_eq!(
            v,
            json!({
                "id": "we_1",
                "hookId": 12345,
                "url": "https://h/webhooks/x",
                "secret": MASK,
                "webhookSecret": MASK,
                "config": {"url": "https://h", "content_type": "json", "secret": MASK},
                "list": [{"client_secret": MASK, "name": "n"}],
                "credentials": {"access_token": MASK, "nested": [MASK, MASK], "expires": 3600},
                "total_tokens": 12,
                "password": "",
                "author": {"login": "octocat"},
            })
        );
        let original = json!({"state": {"webhookSecret": "f00d", "hookId": 1}});
        let shown = redacted_json_keys(&original);
        assert_eq!(shown["state"]["webhookSecret"], MASK);
        assert_eq!(
            original["state"]["webhookSecret"], "f00d",
            "the original is kept"
        );
        let mut scalar = json!("whsec_abc");
        redact_json_keys(&mut scalar);
        assert_eq!(scalar, "whsec_abc", "a bare value has no name to judge");
    }

    #[test]
    fn masks_secret_looking_form_fields() {
        assert_eq!(
            redact_form_text("grant_type=refresh&client_secret=abc%20d&refresh_token=rt&x="),
            "grant_type=refresh&client_secret=***&refresh_token=***&x="
        );
        let plain = "url=https%3A%2F%2Fh%2Fw&enabled_events[]=customer.created";
        assert_eq!(redact_form_text(plain), plain, "kept as given");
        assert_eq!(redact_form_text("not a form"), "not a form");
    }
}
