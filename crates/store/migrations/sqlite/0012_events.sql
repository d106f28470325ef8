-- Incoming webhooks and app events (semantics §5.5–5.7; ARCHITECTURE "Intake before
-- processing"). A delivery is a row of `incoming_webhooks` before it is answered:
-- `received` until the job of its target (`target_kind`, `target_id`: the app
-- event type or subscription it was posted to) turns it into events, then
-- `success` or `error`. `request` is the delivery as received, secrets masked
-- (JSON text); `customer_id` is the customer it was authenticated as, if any.
CREATE TABLE incoming_webhooks (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    customer_id  TEXT,
    status       TEXT NOT NULL,
    error        TEXT,
    event_ids    TEXT NOT NULL,
    request      TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    processed_ms BIGINT
);
CREATE INDEX incoming_webhooks_pending ON incoming_webhooks (target_id, seq)
    WHERE status = 'received';
CREATE INDEX incoming_webhooks_ws ON incoming_webhooks (workspace_id, seq);
CREATE INDEX incoming_webhooks_created ON incoming_webhooks (created_ms);

-- App events: one row per event a delivery held (a batch holds several). Made
-- `created` in the transaction that settles their delivery, then `success` (or
-- `error`) with the flow runs they launched. `fingerprint` (a hash of the event
-- type, customer and payload) finds a duplicate delivery of the same event.
CREATE TABLE app_events (
    seq                       INTEGER PRIMARY KEY AUTOINCREMENT,
    id                        TEXT NOT NULL UNIQUE,
    workspace_id              TEXT NOT NULL,
    target_id                 TEXT NOT NULL,
    customer_id               TEXT NOT NULL,
    app_event_type_id         TEXT NOT NULL,
    app_event_subscription_id TEXT,
    incoming_webhook_id       TEXT NOT NULL,
    fingerprint               TEXT NOT NULL,
    status                    TEXT NOT NULL,
    error                     TEXT,
    event                     TEXT NOT NULL,
    launched_flow_run_ids     TEXT NOT NULL,
    created_ms                BIGINT NOT NULL
);
CREATE INDEX app_events_pending ON app_events (target_id, seq) WHERE status = 'created';
CREATE INDEX app_events_ws ON app_events (workspace_id, seq);
CREATE INDEX app_events_fingerprint ON app_events (workspace_id, fingerprint, created_ms);
CREATE INDEX app_events_created ON app_events (created_ms);
