//! The paging and time-range parameters every log list takes (external API logs,
//! action run logs): `from`, `to` (ISO 8601), `sortOrder` (`desc` by default),
//! `limit` (1–1000, default 100) and `cursor` (a row's insertion number, as this
//! server gave it). Checked once here, so each list refuses the same mistakes the
//! same way.

use osmosis_model::ApiError;
use serde_json::{json, Value};

/// The parameters as given (strings), part of each list's filter type.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPageParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort_order: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// [`LogPageParams`] checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogPage {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub descending: bool,
    pub limit: i64,
    pub cursor: Option<i64>,
}

impl LogPageParams {
    pub(crate) fn check(&self) -> Result<LogPage, ApiError> {
        let limit = match &self.limit {
            None => 100,
            Some(limit) => limit
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_query("limit", "must be an integer from 1 to 1000")
                })?,
        };
        Ok(LogPage {
            from_ms: self
                .from
                .as_deref()
                .map(|v| datetime_ms("from", v))
                .transpose()?,
            to_ms: self
                .to
                .as_deref()
                .map(|v| datetime_ms("to", v))
                .transpose()?,
            descending: match self.sort_order.as_deref() {
                None | Some("") | Some("desc") => true,
                Some("asc") => false,
                Some(_) => return Err(ApiError::invalid_query("sortOrder", "must be asc or desc")),
            },
            limit,
            cursor: match self.cursor.as_deref() {
                None | Some("") => None,
                Some(c) => Some(c.parse::<i64>().map_err(|_| {
                    ApiError::invalid_query("cursor", "is not a cursor this server gave")
                })?),
            },
        })
    }
}

impl LogPage {
    /// `{items, cursor}`: a cursor only when the page is full (the last row's number).
    pub(crate) fn answer(&self, items: Vec<Value>, last_seq: Option<i64>) -> Value {
        let full = items.len() as i64 == self.limit;
        let mut page = json!({ "items": items });
        if let (true, Some(seq)) = (full, last_seq) {
            page["cursor"] = json!(seq.to_string());
        }
        page
    }
}

/// A `true`/`false` query parameter (`1`/`0` too); empty is unset.
pub(crate) fn bool_param(name: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid_query(name, "must be true or false")),
    }
}

fn datetime_ms(param: &str, value: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|d| d.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc()
                    .timestamp_millis()
            })
        })
        .map_err(|_| ApiError::invalid_query(param, "must be an ISO 8601 date-time"))
}
