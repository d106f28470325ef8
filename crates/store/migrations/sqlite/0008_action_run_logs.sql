-- One row per action run, successful or not. `record` is the run as the API
-- renders it and the list reads it; `details` holds the trace of external calls
-- (JSON), read only for one run by id. The layer ids are NULL when the action has
-- no element at that layer. Runs are kept for a retention period, deleted by
-- creation time.
CREATE TABLE action_run_logs (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT NOT NULL UNIQUE,
    workspace_id          TEXT NOT NULL,
    customer_id           TEXT NOT NULL,
    integration_id        TEXT NOT NULL,
    connection_id         TEXT NOT NULL,
    action_id             TEXT NOT NULL,
    universal_action_id   TEXT,
    integration_action_id TEXT,
    connection_action_id  TEXT,
    is_success            BIGINT NOT NULL,
    created_ms            BIGINT NOT NULL,
    record                TEXT NOT NULL,
    details               TEXT NOT NULL
);
CREATE INDEX action_run_logs_ws ON action_run_logs (workspace_id, seq);
CREATE INDEX action_run_logs_conn ON action_run_logs (workspace_id, connection_id, seq);
CREATE INDEX action_run_logs_action ON action_run_logs (workspace_id, action_id, seq);
CREATE INDEX action_run_logs_created ON action_run_logs (created_ms);
