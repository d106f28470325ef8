-- Flow runs and their node runs (ARCHITECTURE "Durable runs"). `flow_runs` holds one
-- row per run and is also the queue: a run is claimable when it is the unfinished
-- run with the lowest `seq` of its connection and nobody holds a live lease on it
-- (`locked_by` until `locked_until`, milliseconds). The partial index over the
-- unfinished runs keeps the queue's part small however long the history grows; the
-- claim, the queue cap and the head lookups repeat its predicate so they can use it.
-- `record` is the run as the API renders it (JSON text). Finished runs are kept for
-- a retention period, deleted by `ended_ms` with their node runs.
CREATE TABLE flow_runs (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    workspace_id        TEXT NOT NULL,
    customer_id         TEXT NOT NULL,
    integration_id      TEXT NOT NULL,
    connection_id       TEXT NOT NULL,
    connection_flow_id  TEXT NOT NULL,
    integration_flow_id TEXT,
    universal_flow_id   TEXT,
    state               TEXT NOT NULL,
    created_ms          BIGINT NOT NULL,
    ended_ms            BIGINT,
    stop_requested      BIGINT NOT NULL DEFAULT 0,
    attempts            INTEGER NOT NULL DEFAULT 0,
    locked_by           TEXT,
    locked_until        BIGINT,
    record              TEXT NOT NULL
);
CREATE INDEX flow_runs_queue ON flow_runs (connection_id, seq)
    WHERE state IN ('queued', 'running');
CREATE INDEX flow_runs_ws ON flow_runs (workspace_id, seq);
CREATE INDEX flow_runs_flow ON flow_runs (workspace_id, connection_flow_id, seq);
CREATE INDEX flow_runs_conn ON flow_runs (workspace_id, connection_id, seq);
CREATE INDEX flow_runs_ended ON flow_runs (ended_ms);

-- One row per completed node run, written as the run goes. Its id is
-- deterministic within the run, so a run taken over writes the same id again and
-- the second write is dropped (the unique constraint).
CREATE TABLE flow_node_runs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    id           TEXT NOT NULL,
    node_key     TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    record       TEXT NOT NULL,
    UNIQUE (run_id, id)
);
CREATE INDEX flow_node_runs_node ON flow_node_runs (run_id, node_key, seq);
