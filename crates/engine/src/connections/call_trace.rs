//! The trace of one run (an action run): every request its connection's API
//! client sent, masked as the external API logs are — the action run log keeps it
//! as its `details`.
//!
//! The API client reports each request to the connection's observer
//! (`connections::api_logs`), which is shared by every run on the connection (the
//! runner is cached). So the run is found from the task instead: a task-local
//! [`Trace`] set around the run, and carried into the JavaScript sandbox's host calls
//! (which run as tasks of their own) by [`Trace::host_scope`].

use std::future::Future;
use std::sync::{Arc, Mutex};

use osmosis_sandbox::HostScope;
use serde_json::{json, Value};

/// Entries kept per run; a run that pages through a large collection keeps the
/// first ones and counts the rest.
pub const MAX_ENTRIES: usize = 100;

/// Bytes of JSON text a traced request or response body keeps. A run that pages
/// through a collection would otherwise store every page twice — in the external API
/// log and again in its run log — which made a list run's log row ~140 KB and its
/// write the largest cost of the run; the whole body stays in the external API log
/// the entry names (`externalApiLogId`).
pub const MAX_BODY_BYTES: usize = 4096;

/// A copy of an external API log's `details` for a trace: bodies longer than
/// [`MAX_BODY_BYTES`] become `{"truncated": true, "bytes": <length>, "preview":
/// "<their first bytes>"}`.
pub(crate) fn capped(details: &Value) -> Value {
    let Value::Object(parts) = details else {
        return details.clone();
    };
    let mut entry = serde_json::Map::new();
    for (name, part) in parts {
        let copy = match part {
            Value::Object(fields) if name == "request" || name == "response" => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let v = if k == "body" {
                            capped_body(v)
                        } else {
                            v.clone()
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        entry.insert(name.clone(), copy);
    }
    Value::Object(entry)
}

fn capped_body(body: &Value) -> Value {
    let text = match body {
        Value::Null | Value::Bool(_) | Value::Number(_) => return body.clone(),
        Value::String(s) if s.len() <= MAX_BODY_BYTES => return body.clone(),
        Value::String(s) => s.clone(),
        other => {
            let text = other.to_string();
            if text.len() <= MAX_BODY_BYTES {
                return body.clone();
            }
            text
        }
    };
    let preview = super::api_logs::head(&text, MAX_BODY_BYTES);
    json!({"truncated": true, "bytes": text.len(), "preview": preview})
}

tokio::task_local! {
    static CURRENT: Trace;
}

#[derive(Clone, Default)]
pub(crate) struct Trace(Arc<Mutex<Entries>>);

#[derive(Default)]
struct Entries {
    kept: Vec<Value>,
    dropped: usize,
}

impl Trace {
    /// Runs `f` with this trace as the current one.
    pub(crate) async fn scope<F: Future>(&self, f: F) -> F::Output {
        CURRENT.scope(self.clone(), f).await
    }

    /// Makes host calls of a sandboxed run record into this trace.
    pub(crate) fn host_scope(&self) -> HostScope {
        let trace = self.clone();
        Arc::new(move |future| Box::pin(CURRENT.scope(trace.clone(), future)))
    }

    /// The trace the caller runs inside, or a new one nobody reads.
    pub(crate) fn current_or_default() -> Trace {
        CURRENT.try_with(Trace::clone).unwrap_or_default()
    }

    /// Adds an entry to the current run's trace, if the caller runs inside one;
    /// `entry` is only built then.
    pub(crate) fn record(entry: impl FnOnce() -> Value) {
        let _ = CURRENT.try_with(|t| {
            if let Ok(mut e) = t.0.lock() {
                if e.kept.len() < MAX_ENTRIES {
                    e.kept.push(entry());
                } else {
                    e.dropped += 1;
                }
            }
        });
    }

    /// The entries so far (and a note of how many were not kept).
    pub(crate) fn take(&self) -> Vec<Value> {
        let Ok(mut e) = self.0.lock() else {
            return Vec::new();
        };
        let mut kept = std::mem::take(&mut e.kept);
        if e.dropped > 0 {
            kept.push(json!({"omitted": e.dropped}));
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_are_kept_and_large_ones_become_a_preview() {
        let large: Vec<Value> = (0..400).map(|i| json!({"id": i, "name": "é"})).collect();
        let details = json!({
            "request": {"method": "POST", "url": "u", "headers": {"authorization": "***"}, "body": {"a": 1}},
            "response": {"status": 200, "headers": {}, "body": {"items": large}},
            "error": null,
        });
        let entry = capped(&details);
        assert_eq!(entry["request"], details["request"]);
        assert_eq!(entry["response"]["status"], 200);
        assert_eq!(entry["error"], Value::Null);
        let body = &entry["response"]["body"];
        assert_eq!(body["truncated"], true);
        let full = details["response"]["body"].to_string();
        assert_eq!(body["bytes"], full.len());
        let preview = body["preview"].as_str().unwrap();
        assert!(preview.len() <= MAX_BODY_BYTES && full.starts_with(preview));
    }

    #[test]
    fn a_long_text_body_is_cut_on_a_character_boundary() {
        let text = "é".repeat(MAX_BODY_BYTES);
        let entry = capped(&json!({"response": {"body": text}}));
        let preview = entry["response"]["body"]["preview"].as_str().unwrap();
        assert!(preview.len() <= MAX_BODY_BYTES && preview.chars().all(|c| c == 'é'));
    }
}
