-- Connector webhooks of external event subscriptions (docs/spec/semantics.md §2.4,
-- §5.6, §5.7).
--
-- `webhook_key`: the random key of the subscription's URL
-- (`/webhooks/external-events/<workspace>/<key>`), made with the row (128 random
-- bits; rows made before this migration get one here). `webhook_state` (JSON text)
-- is non-null exactly while a webhook is registered at the external app:
-- `{state, registeredMs, refreshedMs}`, where `state` is what the connector's `subscribe`,
-- `refresh` or `handle` gave last. Only the subscription's webhook job and its
-- deliveries write it, so the lifecycle (enable, disable, archive) never loses a
-- registration it would need to unsubscribe. `next_refresh_ms`: when `refresh`
-- is due.
ALTER TABLE external_event_subscriptions ADD COLUMN webhook_key TEXT;
ALTER TABLE external_event_subscriptions ADD COLUMN webhook_state TEXT;
ALTER TABLE external_event_subscriptions ADD COLUMN next_refresh_ms BIGINT;
UPDATE external_event_subscriptions SET webhook_key = replace(CAST(gen_random_uuid() AS TEXT), '-', '') WHERE webhook_key IS NULL;
CREATE UNIQUE INDEX external_event_subscriptions_webhook_key
    ON external_event_subscriptions (webhook_key);

-- What makes a webhook event a repeat: `id:<event id>` when the connector's
-- `handle` gave the event an id (a repeat at any time), else `fp:<fingerprint>` of
-- its type and record (a repeat within the dedupe window). Null for polled events.
ALTER TABLE external_event_log_records ADD COLUMN dedupe_key TEXT;
CREATE INDEX external_event_log_records_dedupe
    ON external_event_log_records (subscription_id, dedupe_key, created_ms)
    WHERE dedupe_key IS NOT NULL;

