-- External event subscriptions and their logs (docs/spec/semantics.md §2.4, §5.6).
--
-- `external_event_subscriptions`: one row per (connection, config): `config_key` is
-- a fingerprint of the resolved config, unique per connection so two nodes making
-- the same subscription at once make one row. `config`, `details` (what the
-- connector's events implementation gave: flags, intervals, webhook fields),
-- `error` and `state_data` are JSON text; `next_pull_ms` is when its next pull is
-- due, `archived_ms` set once no flow instance needs it. Paged by `seq`.
CREATE TABLE external_event_subscriptions (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    workspace_id   TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    config_key     TEXT NOT NULL,
    config         TEXT NOT NULL,
    details        TEXT NOT NULL,
    status         TEXT NOT NULL,
    error          TEXT,
    state_data     TEXT,
    next_pull_ms   BIGINT,
    created_ms     BIGINT NOT NULL,
    archived_ms    BIGINT
);
CREATE UNIQUE INDEX external_event_subscriptions_config
    ON external_event_subscriptions (connection_id, config_key);
CREATE INDEX external_event_subscriptions_ws
    ON external_event_subscriptions (workspace_id, seq);

-- The records a full scan saw last, per subscription: a changed fingerprint is an
-- update, a record gone a deletion.
CREATE TABLE external_event_snapshots (
    subscription_id TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    PRIMARY KEY (subscription_id, record_id)
);

-- One row per event detected (`payload` JSON text, `launched_flow_run_ids` a JSON
-- array of run ids), `created` until its runs are started.
CREATE TABLE external_event_log_records (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT NOT NULL UNIQUE,
    workspace_id          TEXT NOT NULL,
    customer_id           TEXT NOT NULL,
    integration_id        TEXT NOT NULL,
    connection_id         TEXT NOT NULL,
    subscription_id       TEXT NOT NULL,
    status                TEXT NOT NULL,
    error                 TEXT,
    payload               TEXT NOT NULL,
    launched_flow_run_ids TEXT NOT NULL,
    created_ms            BIGINT NOT NULL
);
CREATE INDEX external_event_log_records_ws ON external_event_log_records (workspace_id, seq);
CREATE INDEX external_event_log_records_sub ON external_event_log_records (subscription_id, seq);

-- One row per polling cycle. A `running` row is also the lock of its connection
-- and kind (`is_full_scan`) while `lease_until_ms` is ahead; `event_ids` is a JSON
-- array of the log records it made.
CREATE TABLE external_event_pulls (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    workspace_id    TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    integration_id  TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    is_full_scan    BIGINT NOT NULL,
    status          TEXT NOT NULL,
    error           TEXT,
    event_ids       TEXT NOT NULL,
    started_ms      BIGINT NOT NULL,
    ended_ms        BIGINT,
    lease_until_ms  BIGINT NOT NULL
);
CREATE INDEX external_event_pulls_ws ON external_event_pulls (workspace_id, seq);
CREATE INDEX external_event_pulls_running ON external_event_pulls (workspace_id, connection_id)
    WHERE status = 'running';
