-- Sessions of the console (/console) and the one-time sign-in links
-- `osmosis console-link` prints. Addressed by the SHA-256 of the browser's token,
-- never the token itself: a copy of this table signs no one in. A session names
-- its workspace by key and remembers a hash of the secret it was opened with, so
-- rotating the secret or archiving the workspace ends every session at once.
CREATE TABLE console_sessions (
    token_hash    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    workspace_key TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);
