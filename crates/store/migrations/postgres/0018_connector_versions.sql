-- Connector sources: each connector's source folder as a zip (`source`), with the
-- definition it assembles to (`definition`, JSON text as every document here).
-- The `development` row is the connector's working source, replaced on every
-- upload; any other version is published once and never changed. `id` is the
-- version's public id, kept when the development row is replaced. The primary
-- key keeps PostgreSQL's default name: a publish that finds its version taken
-- is told by `ON CONFLICT DO NOTHING`, not by the constraint's name, so
-- crates/store/src/constraints.rs does not list it.
CREATE TABLE connector_versions (
    workspace_id TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    version      TEXT NOT NULL,
    id           TEXT NOT NULL,
    changelog    TEXT,
    created_ms   BIGINT NOT NULL,
    source       BYTEA NOT NULL,
    definition   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, connector_id, version)
);
