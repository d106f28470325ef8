//! Rotating the credentials key: every stored connection's `sealedCredentials`
//! (archived ones too) sealed with a key other than the current one is opened with
//! whichever configured key sealed it and sealed again with the current key.
//!
//! Each connection is written with the revision compare-and-swap the engine uses
//! for its own writes ([`Elements::update_with`]), so a node refreshing the same
//! connection's credentials meanwhile is never overwritten: the change is decided
//! again on what it wrote. Running it twice reseals nothing the second time.

use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::ElementQuery;
use serde_json::Value;

use super::Calls;
use super::{secrets, ConnectionError};
use futures::TryStreamExt;

use crate::elements::element_pages;
use crate::errors::store_error;

/// Connections read per page.
const PAGE: i64 = 200;

/// What a rotation did.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotation {
    /// Sealed again with the current key.
    pub resealed: usize,
    /// Already sealed with the current key, and it opens.
    pub already_current: usize,
    /// Sealed values no configured key opens, left as they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unopenable: Vec<Unopenable>,
}

/// A connection whose sealed value no configured key opens: which one and why,
/// never what it holds.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unopenable {
    pub workspace_key: String,
    pub connection_id: String,
    pub error: String,
}

/// What rotating one connection came to.
enum Outcome {
    NoSecrets,
    Current,
    Resealed,
    Unopenable(String),
}

impl Calls<'_> {
    /// Seals every stored connection's credentials with the current key, paging
    /// through all workspaces and their connections, archived ones included.
    pub async fn rotate_credentials_key(&self) -> Result<KeyRotation, ApiError> {
        if self.cipher.is_none() {
            return Err(ConnectionError::NoCipher.into());
        }
        let mut report = KeyRotation::default();
        for workspace in self
            .workspaces
            .list_workspaces()
            .await
            .map_err(store_error)?
        {
            let mut query = ElementQuery::new(&workspace.id, ElementType::Connection);
            query.include_archived = true;
            query.limit = PAGE;
            let mut pages = std::pin::pin!(element_pages(self.elements.store, query));
            while let Some(page) = pages.try_next().await? {
                for conn in &page {
                    match self.rotate_one(conn).await? {
                        Outcome::NoSecrets => {}
                        Outcome::Current => report.already_current += 1,
                        Outcome::Resealed => report.resealed += 1,
                        Outcome::Unopenable(error) => report.unopenable.push(Unopenable {
                            workspace_key: workspace.key.clone(),
                            connection_id: conn.id.clone(),
                            error,
                        }),
                    }
                }
            }
        }
        Ok(report)
    }

    async fn rotate_one(&self, conn: &Element) -> Result<Outcome, ApiError> {
        let current = |el: &Element| match secrets::open(self.cipher, el) {
            Ok(_) => Outcome::Current,
            // The current key's id but it does not open: changed bytes.
            Err(e) => Outcome::Unopenable(e.message),
        };
        match secrets::needs_rotation(self.cipher, conn)? {
            None => return Ok(Outcome::NoSecrets),
            Some(false) => return Ok(current(conn)),
            Some(true) => {}
        }
        // Decided again on the fresh row, under the CAS.
        let mut outcome = Outcome::NoSecrets;
        self.elements
            .update_with(conn, |el| {
                let (now, write) = match secrets::needs_rotation(self.cipher, el)? {
                    None => (Outcome::NoSecrets, false),
                    Some(false) => (current(el), false),
                    Some(true) => match secrets::reseal(self.cipher, el) {
                        Ok(Some(sealed)) => {
                            el.doc
                                .insert("sealedCredentials".into(), Value::String(sealed));
                            (Outcome::Resealed, true)
                        }
                        Ok(None) => (Outcome::NoSecrets, false),
                        Err(e) => (Outcome::Unopenable(e.message), false),
                    },
                };
                outcome = now;
                Ok(write)
            })
            .await?;
        Ok(outcome)
    }
}
