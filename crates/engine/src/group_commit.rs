//! Group commit: many writers' rows in one transaction, each writer answered only
//! after that transaction committed.
//!
//! One commit per write makes the database's single writer — and on SQLite its
//! fsync — the limit of whatever records as it goes (action run logs, flow runs
//! and their node runs). So writers hand their writes to one task: it takes every
//! write queued while the previous batch was being stored, stores them together,
//! and answers each with its own outcome. At one writer nothing waits for a batch
//! to fill; under load one commit serves many. Durability is not traded away: no
//! writer is answered before its write is committed.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

/// Writes waiting for the writer task before writers wait to hand theirs over.
const QUEUE: usize = 4096;

/// Stores one batch; answers one outcome per write, or why the whole batch failed
/// (then nothing of it is stored).
pub(crate) type StoreBatch<W, O> =
    Arc<dyn Fn(Vec<W>) -> BoxFuture<'static, Result<Vec<O>, String>> + Send + Sync>;

type Ack<O> = oneshot::Sender<Result<O, String>>;

/// The writer task's inbox: each write with where its outcome goes.
type Inbox<W, O> = mpsc::Sender<(W, Ack<O>)>;

pub(crate) struct GroupCommit<W, O> {
    store: StoreBatch<W, O>,
    /// Writes per batch: bounds a transaction's size.
    batch: usize,
    /// Whether the writer task runs on a thread of its own (see
    /// [`GroupCommit::on_own_thread`]).
    own_thread: bool,
    tx: OnceLock<Option<Inbox<W, O>>>,
}

impl<W: Send + 'static, O: Clone + Send + 'static> GroupCommit<W, O> {
    pub(crate) fn new(batch: usize, store: StoreBatch<W, O>) -> Self {
        GroupCommit {
            store,
            batch,
            own_thread: false,
            tx: OnceLock::new(),
        }
    }

    /// Runs the writer task on a thread of its own, with a single-threaded
    /// runtime, when `yes`. A commit is a chain of round trips — the writer
    /// connection's acquire, each statement, the commit, sqlx's task returning the
    /// connection to its pool — and on the shared runtime every step resumed only
    /// when a worker was free of HTTP tasks: under load the writer waited more
    /// than it wrote (intake at 16 clients: 5,800 → 9,800 deliveries/s,
    /// `bench/events/README.md`). Only for a database this node owns (SQLite,
    /// whose connections run on threads of their own): a PostgreSQL connection
    /// opened from this runtime would register its socket with it, and the pool
    /// it joins outlives the runtime.
    pub(crate) fn on_own_thread(mut self, yes: bool) -> Self {
        self.own_thread = yes;
        self
    }

    /// The writer task, started on first use inside a runtime.
    fn sender(&self) -> Option<&Inbox<W, O>> {
        self.tx
            .get_or_init(|| {
                let shared = tokio::runtime::Handle::try_current().ok()?;
                let (tx, rx) = mpsc::channel(QUEUE);
                let writer = write_loop(Arc::clone(&self.store), self.batch, rx);
                if !self.own_thread {
                    shared.spawn(writer);
                    return Some(tx);
                }
                let own = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                // The thread ends with the writer task: when every sender is gone.
                std::thread::Builder::new()
                    .name("osmosis-commit".into())
                    .spawn(move || own.block_on(writer))
                    .ok()?;
                Some(tx)
            })
            .as_ref()
    }

    /// Stores `write`; answers once it is committed (or why it could not be).
    pub(crate) async fn write(&self, write: W) -> Result<O, String> {
        let Some(tx) = self.sender() else {
            let mut outcomes = (self.store)(vec![write]).await?;
            return outcomes.pop().ok_or_else(|| "no outcome".to_owned());
        };
        let (ack, done) = oneshot::channel();
        tx.send((write, ack))
            .await
            .map_err(|_| "the group commit writer has stopped".to_owned())?;
        done.await
            .map_err(|_| "the group commit writer has stopped".to_owned())?
    }
}

async fn write_loop<W, O: Clone>(
    store: StoreBatch<W, O>,
    batch_size: usize,
    mut rx: mpsc::Receiver<(W, Ack<O>)>,
) {
    let mut batch = Vec::with_capacity(batch_size);
    while rx.recv_many(&mut batch, batch_size).await > 0 {
        let (writes, acks): (Vec<W>, Vec<Ack<O>>) = batch.drain(..).unzip();
        let count = writes.len();
        match store(writes).await {
            Ok(outcomes) if outcomes.len() == count => {
                for (ack, outcome) in acks.into_iter().zip(outcomes) {
                    let _ = ack.send(Ok(outcome));
                }
            }
            Ok(_) => {
                for ack in acks {
                    let _ = ack.send(Err("the store answered a batch partly".to_owned()));
                }
            }
            Err(e) => {
                for ack in acks {
                    let _ = ack.send(Err(e.clone()));
                }
            }
        }
    }
}
