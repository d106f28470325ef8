//! Writing action run logs in group commits, without giving up "recorded before
//! answered".
//!
//! A run's answer waits until its log row is stored (an `actionRunId` a client got
//! always names a stored record). One INSERT per run made the database's single
//! writer — and on SQLite its fsync — the limit of `/act` (bench/actions: 0.13 of
//! the proxy's throughput). So runs hand their rows to one writer task: it takes
//! every row queued while the previous INSERT ran and stores them in one statement
//! (one transaction), then acknowledges each. At one client nothing waits for a
//! batch to fill; under load, one commit serves many runs.

use std::sync::{Arc, OnceLock};

use osmosis_store::{ActionRunLog, ActionRunLogStore};
use tokio::sync::{mpsc, oneshot};

/// Rows per INSERT: run logs carry outputs and traces, so a batch stays a few MB.
const BATCH: usize = 64;
/// Rows waiting for the writer before runs wait to hand theirs over.
const QUEUE: usize = 4096;

type Ack = oneshot::Sender<Result<(), String>>;

pub(crate) struct RunLogWriter {
    store: Arc<dyn ActionRunLogStore>,
    tx: OnceLock<Option<mpsc::Sender<(ActionRunLog, Ack)>>>,
}

impl RunLogWriter {
    pub(crate) fn new(store: Arc<dyn ActionRunLogStore>) -> Self {
        RunLogWriter {
            store,
            tx: OnceLock::new(),
        }
    }

    fn sender(&self) -> Option<&mpsc::Sender<(ActionRunLog, Ack)>> {
        self.tx
            .get_or_init(|| {
                let runtime = tokio::runtime::Handle::try_current().ok()?;
                let (tx, rx) = mpsc::channel(QUEUE);
                runtime.spawn(write_loop(Arc::clone(&self.store), rx));
                Some(tx)
            })
            .as_ref()
    }

    /// Stores `log`; returns once it is committed (or why it could not be).
    pub(crate) async fn write(&self, log: ActionRunLog) -> Result<(), String> {
        let Some(tx) = self.sender() else {
            return self
                .store
                .insert_action_runs(&[log])
                .await
                .map_err(|e| e.to_string());
        };
        let (ack, done) = oneshot::channel();
        tx.send((log, ack))
            .await
            .map_err(|_| "the run log writer has stopped".to_owned())?;
        done.await
            .map_err(|_| "the run log writer has stopped".to_owned())?
    }
}

async fn write_loop(
    store: Arc<dyn ActionRunLogStore>,
    mut rx: mpsc::Receiver<(ActionRunLog, Ack)>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let (rows, acks): (Vec<ActionRunLog>, Vec<Ack>) = batch.drain(..).unzip();
        let result = store
            .insert_action_runs(&rows)
            .await
            .map_err(|e| e.to_string());
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
}
