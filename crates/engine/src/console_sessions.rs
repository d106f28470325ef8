//! Signing in to the console: sessions opened with a workspace's key and secret,
//! or with a one-time link (`osmosis console-link`).
//!
//! The browser holds a random 256-bit token; the store keeps its SHA-256 only
//! (`console_sessions`), so reading the table signs no one in. A session is an
//! admin of one workspace and nothing else. It lasts [`SESSION_TTL_MS`] from
//! sign-in whatever the activity — a console left open overnight signs in again,
//! which is the cost of not writing on every page view — and ends early when the
//! browser signs out, when the workspace's secret is rotated (the session
//! remembers a hash of the secret it was opened with: rotating is what an operator
//! does when a secret may have leaked, and every way in that the secret opened must
//! close with it) or when the workspace is archived.

use osmosis_model::ApiError;
use osmosis_store::{ConsoleSession, ConsoleSessionKind, Workspace};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::errors::store_error;
use crate::Engine;

/// How long a console session lasts: a working day.
pub const SESSION_TTL_MS: i64 = 12 * 3_600_000;

/// How long a printed sign-in link may wait to be followed.
pub const LINK_TTL_MS: i64 = 10 * 60_000;

/// A session or link just made: `token` is what the browser (or the printed link)
/// holds, shown this once and never stored.
#[derive(Debug, Clone)]
pub struct Opened {
    pub token: String,
    pub session: ConsoleSession,
}

/// What a refused sign-in says, the same whether the key or the secret was wrong,
/// so the form cannot be used to find out which workspace keys exist.
const WRONG_CREDENTIALS: &str = "The workspace key or secret is not right";

impl Engine {
    /// Opens a session for whoever knows `key`'s secret.
    pub async fn console_sign_in(&self, key: &str, secret: &str) -> Result<Opened, ApiError> {
        let workspace = self
            .stores
            .workspaces
            .workspace_by_key(key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_authenticated(WRONG_CREDENTIALS))?;
        // Compared as digests: equal-length inputs, whatever the guess's length.
        if hash(&workspace.secret) != hash(secret) {
            return Err(ApiError::not_authenticated(WRONG_CREDENTIALS));
        }
        self.open_console(&workspace, ConsoleSessionKind::Session, SESSION_TTL_MS)
            .await
    }

    /// A one-time sign-in link's token for the workspace `key` (whoever runs the
    /// CLI on the database has its secret anyway).
    pub async fn console_link(&self, key: &str) -> Result<Opened, ApiError> {
        let workspace = self
            .stores
            .workspaces
            .workspace_by_key(key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("No workspace `{key}`")))?;
        self.open_console(&workspace, ConsoleSessionKind::Link, LINK_TTL_MS)
            .await
    }

    /// Follows a link: it is gone after this, and a session takes its place.
    pub async fn console_follow_link(&self, token: &str) -> Result<Opened, ApiError> {
        let link = self
            .stores
            .console_sessions
            .take_console_link(&hash(token), now_ms())
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiError::not_authenticated(
                    "This sign-in link was used already or has expired: print a new one with `osmosis console-link`",
                )
            })?;
        let workspace = self
            .stores
            .workspaces
            .workspace_by_key(&link.workspace_key)
            .await
            .map_err(store_error)?
            .filter(|w| opened_with(&link, w))
            .ok_or_else(|| ApiError::not_authenticated(WRONG_CREDENTIALS))?;
        self.open_console(&workspace, ConsoleSessionKind::Session, SESSION_TTL_MS)
            .await
    }

    /// The live session a browser's token stands for. The caller still checks it
    /// against its workspace ([`opened_with`]).
    pub async fn console_session(&self, token: &str) -> Result<Option<ConsoleSession>, ApiError> {
        self.stores
            .console_sessions
            .console_session(&hash(token), now_ms())
            .await
            .map_err(store_error)
    }

    /// Ends the session a browser's token stands for.
    pub async fn console_sign_out(&self, token: &str) -> Result<(), ApiError> {
        self.stores
            .console_sessions
            .delete_console_session(&hash(token))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn open_console(
        &self,
        workspace: &Workspace,
        kind: ConsoleSessionKind,
        ttl_ms: i64,
    ) -> Result<Opened, ApiError> {
        let token = random_token();
        let now = now_ms();
        let session = ConsoleSession {
            token_hash: hash(&token),
            kind,
            workspace_key: workspace.key.clone(),
            secret_hash: hash(&workspace.secret),
            csrf_token: random_token(),
            created_ms: now,
            expires_ms: now + ttl_ms,
        };
        self.stores
            .console_sessions
            .insert_console_session(&session)
            .await
            .map_err(store_error)?;
        Ok(Opened { token, session })
    }
}

/// Whether `session` was opened with `workspace`'s current secret.
pub fn opened_with(session: &ConsoleSession, workspace: &Workspace) -> bool {
    session.workspace_key == workspace.key && session.secret_hash == hash(&workspace.secret)
}

fn hash(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// 256 random bits, URL-safe: session tokens, CSRF tokens.
pub fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
