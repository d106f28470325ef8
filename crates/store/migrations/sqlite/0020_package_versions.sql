-- Package versions: a package as it was when a version was published (`snapshot`,
-- JSON text as every document here: its name, description, element list and
-- each listed element's export properties). Published once and never changed.
-- `parent_version` is the version published just before it; `created_ms` orders
-- a package's versions (the engine makes it increase strictly per package).
CREATE TABLE package_versions (
    workspace_id   TEXT NOT NULL,
    package_id     TEXT NOT NULL,
    version        TEXT NOT NULL,
    id             TEXT NOT NULL,
    changelog      TEXT,
    parent_version TEXT,
    created_ms     BIGINT NOT NULL,
    snapshot       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, package_id, version)
);
