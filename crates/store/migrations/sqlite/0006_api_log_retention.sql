-- External API logs are kept for a retention period; the worker deletes older rows
-- by creation time.
CREATE INDEX external_api_logs_created ON external_api_logs (created_ms);
