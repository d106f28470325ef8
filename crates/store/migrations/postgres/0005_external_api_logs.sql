-- One row per request made to an external API through a connection (the API proxy,
-- operations, data collections, /act, connector functions). `details` holds the
-- masked request and response (JSON); the list reads only the other columns.
CREATE TABLE external_api_logs (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    workspace_id   TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    status_code    BIGINT NOT NULL,
    is_success     BIGINT NOT NULL,
    request_url    TEXT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    created_ms     BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    details        TEXT NOT NULL
);
CREATE INDEX external_api_logs_ws ON external_api_logs (workspace_id, seq);
CREATE INDEX external_api_logs_conn ON external_api_logs (workspace_id, connection_id, seq);
