//! Console sessions and one-time sign-in links (`console_sessions`): what a
//! browser's console cookie or a printed link stands for. Rows are addressed by a
//! hash of the token the browser holds; the store never sees the token itself.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// What a row is: a signed-in browser, or a link not yet followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleSessionKind {
    Session,
    /// Taken once ([`ConsoleSessionStore::take_console_link`]), then gone.
    Link,
}

impl ConsoleSessionKind {
    fn as_str(self) -> &'static str {
        match self {
            ConsoleSessionKind::Session => "session",
            ConsoleSessionKind::Link => "link",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Hex SHA-256 of the token the browser holds.
    pub token_hash: String,
    pub kind: ConsoleSessionKind,
    pub workspace_key: String,
    /// Hex SHA-256 of the workspace secret when the session was opened.
    pub secret_hash: String,
    /// The token every form of the session carries.
    pub csrf_token: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

#[async_trait]
pub trait ConsoleSessionStore: Send + Sync + 'static {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<(), StoreError>;

    /// The unexpired session (not a link) with this token hash.
    async fn console_session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// Removes an unexpired link and returns it: exactly one caller ever gets it.
    async fn take_console_link(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// Ends a session (signing out); false when there was none.
    async fn delete_console_session(&self, token_hash: &str) -> Result<bool, StoreError>;

    /// Forgets sessions and links that expired before `before_ms`.
    async fn purge_console_sessions(&self, before_ms: i64) -> Result<u64, StoreError>;
}

const COLUMNS: &str =
    "token_hash, kind, workspace_key, secret_hash, csrf_token, created_ms, expires_ms";

for_each_backend! {
    #[async_trait]
    impl ConsoleSessionStore for SqlStore<DB> {
        async fn insert_console_session(&self, s: &ConsoleSession) -> Result<(), StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO console_sessions ({COLUMNS}) VALUES ("));
            let mut values = q.separated(", ");
            values.push_bind(&s.token_hash);
            values.push_bind(s.kind.as_str());
            values.push_bind(&s.workspace_key);
            values.push_bind(&s.secret_hash);
            values.push_bind(&s.csrf_token);
            values.push_bind(s.created_ms);
            values.push_bind(s.expires_ms);
            q.push(")");
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn console_session(
            &self,
            token_hash: &str,
            now_ms: i64,
        ) -> Result<Option<ConsoleSession>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM console_sessions WHERE token_hash = "));
            q.push_bind(token_hash);
            q.push(" AND kind = 'session' AND expires_ms > ").push_bind(now_ms);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        async fn take_console_link(
            &self,
            token_hash: &str,
            now_ms: i64,
        ) -> Result<Option<ConsoleSession>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("DELETE FROM console_sessions WHERE token_hash = ");
            q.push_bind(token_hash);
            q.push(" AND kind = 'link' AND expires_ms > ").push_bind(now_ms);
            q.push(format!(" RETURNING {COLUMNS}"));
            let rows = q.build().fetch_all(&mut *self.writer().await?).await?;
            rows.first().map(decode).transpose()
        }

        async fn delete_console_session(&self, token_hash: &str) -> Result<bool, StoreError> {
            let mut q = QueryBuilder::<DB>::new("DELETE FROM console_sessions WHERE token_hash = ");
            q.push_bind(token_hash);
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }

        async fn purge_console_sessions(&self, before_ms: i64) -> Result<u64, StoreError> {
            let mut q = QueryBuilder::<DB>::new("DELETE FROM console_sessions WHERE expires_ms < ");
            q.push_bind(before_ms);
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected())
        }
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<ConsoleSession, StoreError> {
        let kind: String = row.try_get("kind")?;
        let kind = match kind.as_str() {
            "session" => ConsoleSessionKind::Session,
            "link" => ConsoleSessionKind::Link,
            other => return Err(StoreError::Corrupt(format!("console session kind `{other}`"))),
        };
        Ok(ConsoleSession {
            token_hash: row.try_get("token_hash")?,
            kind,
            workspace_key: row.try_get("workspace_key")?,
            secret_hash: row.try_get("secret_hash")?,
            csrf_token: row.try_get("csrf_token")?,
            created_ms: row.try_get("created_ms")?,
            expires_ms: row.try_get("expires_ms")?,
        })
    }
}
