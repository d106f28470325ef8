//! A connection's secrets at rest: `{credentials, input}` sealed into the
//! `sealedCredentials` doc field, bound to the workspace and connection id so a
//! sealed value copied onto another row does not open.

use osmosis_connectors::sealing::SealingError;
use osmosis_model::{ApiError, Element};
use serde_json::{json, Value};

use super::ConnectionError;
use osmosis_connectors::sealing::CredentialsCipher;

/// What a connection keeps secret.
pub(crate) struct Secrets {
    pub credentials: Value,
    pub input: Value,
}

fn context(el: &Element) -> Vec<u8> {
    format!("connection:{}:{}", el.workspace_id, el.id).into_bytes()
}

/// Why `el`'s sealed credentials did not open.
fn unreadable(el: &Element) -> impl FnOnce(SealingError) -> ConnectionError + '_ {
    |source| ConnectionError::Unreadable {
        connection: el.id.clone(),
        source,
    }
}

pub(crate) fn seal(
    cipher: Option<&CredentialsCipher>,
    el: &Element,
    credentials: &Value,
    input: &Value,
) -> Result<String, ApiError> {
    let cipher = cipher.ok_or(ConnectionError::NoCipher)?;
    Ok(cipher.seal_json(
        &json!({"credentials": credentials, "input": input}),
        &context(el),
    ))
}

pub(crate) fn open(cipher: Option<&CredentialsCipher>, el: &Element) -> Result<Secrets, ApiError> {
    let cipher = cipher.ok_or(ConnectionError::NoCipher)?;
    let Some(text) = el.doc_str("sealedCredentials") else {
        return Ok(Secrets {
            credentials: json!({}),
            input: json!({}),
        });
    };
    let mut opened = cipher
        .open_json(text, &context(el))
        .map_err(unreadable(el))?;
    Ok(Secrets {
        credentials: opened
            .get_mut("credentials")
            .map(Value::take)
            .unwrap_or_else(|| json!({})),
        input: opened
            .get_mut("input")
            .map(Value::take)
            .unwrap_or_else(|| json!({})),
    })
}

/// Whether a connection's sealed secrets use a key other than the current one
/// (`None`: it holds none).
pub(crate) fn needs_rotation(
    cipher: Option<&CredentialsCipher>,
    el: &Element,
) -> Result<Option<bool>, ApiError> {
    let cipher = cipher.ok_or(ConnectionError::NoCipher)?;
    Ok(el
        .doc_str("sealedCredentials")
        .map(|text| cipher.text_needs_rotation(text)))
}

/// A connection's sealed secrets opened with whichever configured key sealed them
/// and sealed again with the current key, byte for byte the same plaintext
/// (`None`: it holds none).
pub(crate) fn reseal(
    cipher: Option<&CredentialsCipher>,
    el: &Element,
) -> Result<Option<String>, ApiError> {
    let cipher = cipher.ok_or(ConnectionError::NoCipher)?;
    el.doc_str("sealedCredentials")
        .map(|text| {
            cipher
                .reseal_text(text, &context(el))
                .map_err(|e| unreadable(el)(e).into())
        })
        .transpose()
}
