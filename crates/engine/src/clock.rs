//! Timestamps in the form the hosted API and JavaScript's `toISOString()` use.

/// Now in milliseconds since the epoch (leases, expiries, job times).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Exponential backoff without jitter: `base_ms` after the first attempt, doubling
/// with each further one, never more than `cap_ms`. Background retries (webhook
/// deliveries, credential refreshes) space out with it.
pub fn backoff_ms(base_ms: i64, cap_ms: i64, attempts: i64) -> i64 {
    let doublings = (attempts.max(1) - 1).min(30) as u32;
    base_ms.saturating_mul(1i64 << doublings).min(cap_ms)
}

/// Now as `2024-01-02T03:04:05.678Z`.
pub fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A time in milliseconds since the epoch as `2024-01-02T03:04:05.678Z`.
pub fn iso_of_ms(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
