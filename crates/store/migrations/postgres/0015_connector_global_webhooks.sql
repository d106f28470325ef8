-- Connector-level global webhooks (docs/spec/semantics.md §5.6 "Global webhooks"):
-- one app-wide URL per (workspace, connector, global webhook key),
-- `/webhooks/global/<workspace>/<url_key>`, the URL key 128 random bits. Made the
-- first time a subscription of the workspace needs the global webhook, kept after
-- (the URL is given to the external app once and must not change).
CREATE TABLE connector_global_webhooks (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    webhook_key TEXT NOT NULL,
    url_key TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX connector_global_webhooks_key
    ON connector_global_webhooks (workspace_id, connector_id, webhook_key);
CREATE UNIQUE INDEX connector_global_webhooks_url_key
    ON connector_global_webhooks (workspace_id, url_key);
