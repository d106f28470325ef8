-- The store tells unique violations apart by the violated constraint's name
-- (crates/store/src/constraints.rs). 0001 left these three to PostgreSQL's default
-- names; they are named by the schema from here on.
ALTER TABLE workspaces RENAME CONSTRAINT workspaces_pkey TO workspaces_id;
ALTER TABLE workspaces RENAME CONSTRAINT workspaces_key_key TO workspaces_key;
ALTER TABLE elements RENAME CONSTRAINT elements_id_key TO elements_id;
