//! JWTs as the SDK's callers mint them (HS256, workspace key in `iss`), so the
//! server verifies a real signature on every benchmark request.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use crate::error::BenchError;

/// A customer token when `customer` is given, an admin token otherwise. It carries
/// `exp` so the server's expiry check runs too.
pub fn mint(
    key: &str,
    secret: &str,
    customer: Option<&str>,
    name: Option<&str>,
) -> Result<String, BenchError> {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + 3600;
    let claims = match customer {
        Some(id) => json!({ "iss": key, "id": id, "name": name.unwrap_or(id), "exp": exp }),
        None => json!({ "iss": key, "isAdmin": true, "exp": exp }),
    };
    Ok(encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}
