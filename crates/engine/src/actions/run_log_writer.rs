//! Writing action run logs in group commits (`group_commit`), without giving up
//! "recorded before answered": a run's answer waits until its log row is stored
//! (an `actionRunId` a client got always names a stored record). One INSERT per
//! run made the database's single writer — and on SQLite its fsync — the limit of
//! `/act` (bench/actions: 0.13 of the proxy's throughput).

use std::sync::Arc;

use osmosis_store::{ActionRunLog, ActionRunLogStore};

use crate::group_commit::GroupCommit;

/// Rows per INSERT: run logs carry outputs and traces, so a batch stays a few MB.
const BATCH: usize = 64;

pub(crate) struct RunLogWriter(GroupCommit<ActionRunLog, ()>);

impl RunLogWriter {
    /// `own_thread`: see `GroupCommit::on_own_thread`.
    pub(crate) fn new(store: Arc<dyn ActionRunLogStore>, own_thread: bool) -> Self {
        RunLogWriter(
            GroupCommit::new(
                BATCH,
                Arc::new(move |rows: Vec<ActionRunLog>| {
                    let store = Arc::clone(&store);
                    Box::pin(async move {
                        let count = rows.len();
                        store
                            .insert_action_runs(&rows)
                            .await
                            .map(|()| vec![(); count])
                            .map_err(|e| e.to_string())
                    })
                }),
            )
            .on_own_thread(own_thread),
        )
    }

    /// Stores `log`; returns once it is committed (or why it could not be).
    pub(crate) async fn write(&self, log: ActionRunLog) -> Result<(), String> {
        self.0.write(log).await
    }
}
