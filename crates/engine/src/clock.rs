//! Timestamps in the form the hosted API and JavaScript's `toISOString()` use.

/// Now as `2024-01-02T03:04:05.678Z`.
pub fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
