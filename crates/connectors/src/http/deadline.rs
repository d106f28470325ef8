//! A total time budget for one operation that calls out: a connection test, a
//! connector function, a proxied call, a connect step.
//!
//! A per-request timeout alone does not bound what a caller waits: a function
//! makes several requests, each request is retried, and each attempt may wait for
//! its own timeout. A [`Deadline`] is one instant for all of them. It is kept in
//! task-local context ([`Deadline::scope`]) so every layer below the caller sees it
//! without being handed it:
//!
//! * [`super::OutboundRequest::send`] bounds each request by the time left and does
//!   not start one once the deadline has passed ([`DeadlineExceeded`]);
//! * the API client ([`crate::api_client::ApiClient`]) starts no retry after it and
//!   gives up at once when a `Retry-After` points past it;
//! * nested scopes keep the earlier deadline, so an inner budget never extends an
//!   outer one.
//!
//! Tasks spawned by the operation do not inherit task-local context: whoever
//! spawns work for it (the sandbox's host calls) re-enters the scope with
//! [`Deadline::current`].

use std::future::Future;
use std::time::{Duration, Instant};

use osmosis_model::{ApiError, ErrorType};
use serde_json::json;

/// `connection` error key of a call that did not finish within its deadline
/// (HTTP 504).
pub const DEADLINE_EXCEEDED: &str = osmosis_model::error::keys::DEADLINE_EXCEEDED;

tokio::task_local! {
    static CURRENT: Deadline;
}

/// When the operation in progress must have its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
    /// What the budget is for (`connect`, `call`), named in the error.
    label: &'static str,
}

impl Deadline {
    /// A deadline `budget` from now, for what `label` names.
    pub fn after(budget: Duration, label: &'static str) -> Self {
        Deadline {
            at: Instant::now() + budget,
            budget,
            label,
        }
    }

    /// The deadline of the operation this task runs, if it has one.
    pub fn current() -> Option<Deadline> {
        CURRENT.try_with(|d| *d).ok()
    }

    /// Time left before the current deadline (`None`: there is none).
    pub fn remaining_now() -> Option<Duration> {
        Self::current().map(|d| d.remaining())
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    pub fn label(&self) -> &'static str {
        self.label
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has come (within a millisecond: timers fire on
    /// millisecond ticks).
    pub fn passed(&self) -> bool {
        Instant::now() + Duration::from_millis(1) >= self.at
    }

    /// Runs `f` under this deadline, or under the current one when that comes
    /// first. The deadline bounds what `f` sends out; it does not cancel `f`.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        let effective = match Self::current() {
            Some(outer) if outer.at <= self.at => outer,
            _ => self,
        };
        CURRENT.scope(effective, f).await
    }

    /// The error of this deadline having passed; `detail` says what was cut short.
    pub fn exceeded(&self, detail: Option<String>) -> DeadlineExceeded {
        DeadlineExceeded {
            budget: self.budget,
            label: self.label,
            detail,
        }
    }
}

/// Runs `f` under `deadline` when there is one (see [`Deadline::scope`]).
pub async fn within<F: Future>(deadline: Option<Deadline>, f: F) -> F::Output {
    match deadline {
        Some(d) => d.scope(f).await,
        None => f.await,
    }
}

/// The operation's deadline passed before an answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct DeadlineExceeded {
    pub budget: Duration,
    pub label: &'static str,
    /// What was under way when the deadline passed (masked by the caller).
    pub detail: Option<String>,
}

impl DeadlineExceeded {
    fn message(&self) -> String {
        let detail = self
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        format!(
            "No answer from the external app within the {} {} deadline{detail}",
            format_budget(self.budget),
            self.label
        )
    }

    /// `type: connection`, key [`DEADLINE_EXCEEDED`], the budget in `data`.
    pub fn to_error_data(&self) -> ApiError {
        ApiError {
            error_type: ErrorType::Connection,
            key: Some(std::borrow::Cow::Borrowed(DEADLINE_EXCEEDED)),
            message: self.to_string(),
            data: Some(Box::new(json!({
                "deadline": self.label,
                "deadlineMs": u64::try_from(self.budget.as_millis()).unwrap_or(u64::MAX),
            }))),
        }
    }
}

/// `15 s`, `1.5 s`, `250 ms`.
pub fn format_budget(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_inner_scope_never_extends_the_outer_one() {
        assert_eq!(Deadline::current(), None);
        let outer = Deadline::after(Duration::from_secs(2), "connect");
        outer
            .scope(async {
                assert_eq!(Deadline::current(), Some(outer));
                Deadline::after(Duration::from_secs(60), "call")
                    .scope(async { assert_eq!(Deadline::current(), Some(outer)) })
                    .await;
                let inner = Deadline::after(Duration::from_millis(500), "call");
                inner
                    .scope(async { assert_eq!(Deadline::current(), Some(inner)) })
                    .await;
            })
            .await;
        assert_eq!(Deadline::current(), None);
    }

    #[test]
    fn the_error_names_the_deadline() {
        let d = Deadline::after(Duration::from_millis(1500), "connect");
        let e = d.exceeded(Some("GET /me".into())).to_error_data();
        assert_eq!(e.key.as_deref(), Some(DEADLINE_EXCEEDED));
        assert_eq!(e.error_type, ErrorType::Connection);
        assert!(
            e.message.contains("1.5 s connect deadline"),
            "{}",
            e.message
        );
        assert_eq!(e.data.as_deref().unwrap()["deadlineMs"], 1500);
        assert_eq!(format_budget(Duration::from_secs(15)), "15 s");
        assert_eq!(format_budget(Duration::from_millis(250)), "250 ms");
    }
}
