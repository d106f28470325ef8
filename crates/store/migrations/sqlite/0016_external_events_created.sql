-- The external event log records still `created` of a subscription, oldest first:
-- events stored whose runs a node that died never started (or never recorded),
-- launched again when the subscription's work next runs, or settled `error` once
-- the subscription is archived. Partial, so the lookup reads only those records
-- however long the subscription's history is (and the index stays small: a record
-- leaves it when it is settled).
CREATE INDEX external_event_log_records_created
    ON external_event_log_records (subscription_id, seq)
    WHERE status = 'created';
