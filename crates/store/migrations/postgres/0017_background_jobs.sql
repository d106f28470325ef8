-- Background jobs: long operations a request starts and a client then polls for
-- (a workspace export), with what was asked (`params`), and once finished either
-- a `result` or an `error` (JSON text, as every document here). A job is
-- `running` until it settles `completed` or `failed`, once; finished jobs are kept
-- for a retention period, deleted by `finished_ms` with their files (running ones
-- are kept whatever their age). The primary keys keep PostgreSQL's default names:
-- job ids are generated, so no write is expected to report them and
-- crates/store/src/constraints.rs does not list them (as for flow_runs).
CREATE TABLE background_jobs (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    params       TEXT NOT NULL,
    result       TEXT,
    error        TEXT,
    created_ms   BIGINT NOT NULL,
    finished_ms  BIGINT,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX background_jobs_finished ON background_jobs (finished_ms);

-- The file a completed job produced (an export's archive), in a table of its own
-- so that polling a job never reads its file. Written in the transaction that
-- completes the job, deleted in the one that purges it.
CREATE TABLE background_job_files (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
