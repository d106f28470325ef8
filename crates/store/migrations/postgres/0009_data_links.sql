-- Data links (docs/spec/semantics.md §5.3): which external record is which app
-- record, per data link table instance (one per table and connection) and direction.
-- A link made both ways is two rows, one per direction. Within an instance and a
-- direction an app record is linked to at most one external record and the other
-- way round (the two unique indexes; a new link replaces the older link of either
-- record), so the link (instance, direction, external, app) is unique too. Paged
-- by `seq`. No write reports these constraints to a caller (the store replaces the
-- older link instead), so crates/store/src/constraints.rs does not list them and
-- the unique constraint on `id` keeps PostgreSQL's default name.
CREATE TABLE data_links (
    seq                BIGSERIAL PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    workspace_id       TEXT NOT NULL,
    instance_id        TEXT NOT NULL,
    external_record_id TEXT NOT NULL,
    app_record_id      TEXT NOT NULL,
    direction          TEXT NOT NULL CHECK (direction IN ('import', 'export')),
    created_at         TEXT NOT NULL
);
CREATE UNIQUE INDEX data_links_app ON data_links (instance_id, direction, app_record_id);
CREATE UNIQUE INDEX data_links_external ON data_links (instance_id, direction, external_record_id);
CREATE INDEX data_links_instance ON data_links (instance_id, seq);
