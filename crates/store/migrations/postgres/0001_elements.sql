-- Workspaces: the tenants of an Osmosis server. The secret signs customer tokens,
-- so it is kept retrievable (HMAC verification needs it).
CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    secret      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Every workspace element of every type: envelope columns plus the type's document.
-- Optional references are '' rather than NULL so that plain unique indexes work the
-- same on SQLite and PostgreSQL.
CREATE TABLE elements (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    element_type    TEXT NOT NULL,
    key             TEXT,
    key_scope       TEXT NOT NULL,
    uuid            TEXT NOT NULL,
    name            TEXT NOT NULL,
    integration_id  TEXT NOT NULL DEFAULT '',
    parent_id       TEXT NOT NULL DEFAULT '',
    connection_id   TEXT NOT NULL DEFAULT '',
    instance_key    TEXT NOT NULL DEFAULT '',
    customer_id     TEXT NOT NULL DEFAULT '',
    revision        TEXT NOT NULL,
    state           TEXT NOT NULL,
    archived_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    doc             TEXT NOT NULL
);

CREATE UNIQUE INDEX elements_uuid ON elements (workspace_id, element_type, uuid);
-- Keys are unique among live elements of one scope; archiving frees a key.
CREATE UNIQUE INDEX elements_key ON elements (workspace_id, element_type, key_scope, key)
    WHERE archived_at IS NULL AND key IS NOT NULL;
CREATE INDEX elements_by_type ON elements (workspace_id, element_type, seq);
CREATE INDEX elements_by_integration ON elements (workspace_id, element_type, integration_id, seq);
CREATE INDEX elements_by_parent ON elements (workspace_id, parent_id);
CREATE INDEX elements_by_customer ON elements (workspace_id, element_type, customer_id, seq);
