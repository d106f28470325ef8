-- Background work that must run once across all nodes (credential refreshes,
-- webhook retries, schedules). A node claims due jobs under a lease; a node that
-- dies leaves its lease to expire and another node takes the job over.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    dedupe_key    TEXT NOT NULL,
    payload       TEXT NOT NULL,
    run_at        BIGINT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    locked_by     TEXT,
    locked_until  BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL
);
-- One pending job per (kind, key): scheduling again moves it instead of adding one.
CREATE UNIQUE INDEX jobs_dedupe ON jobs (workspace_id, kind, dedupe_key);
CREATE INDEX jobs_due ON jobs (run_at);
