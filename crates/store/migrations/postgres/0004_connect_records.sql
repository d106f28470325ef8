-- Short-lived records of the interactive connect flow, outside the element store:
-- OAuth states (single-use, expiring, bound to the customer who started the flow),
-- connect results waiting for the browser's SSE listener, and connection requests.
CREATE TABLE connect_records (
    workspace_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    id            TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    doc           TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, id)
);
CREATE INDEX connect_records_expiry ON connect_records (expires_at);

-- Workspace settings (webhook notifications: webhookUri, enabledWebhookEvents).
ALTER TABLE workspaces ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
