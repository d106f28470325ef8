//! Flow runs and their node runs: the durable record of a flow's execution.
//!
//! Two tables of their own (ARCHITECTURE "Durable runs"): `flow_runs`, one row per
//! run, which is also the queue — a partial index over the unfinished runs keeps the
//! hot part small however long the history grows — and `flow_node_runs`, one row per
//! completed node run, written as the run goes so a run another node takes over
//! continues from its last completed node run.
//!
//! **Claims.** A run is claimable when it is the head of its connection's queue (the
//! unfinished run with the lowest `seq`) and nobody holds a live lease on it. So one
//! connection never has two runs executing at once, on any number of nodes, and its
//! runs execute in the order they were created; a node that dies leaves a lease that
//! expires, and the head becomes claimable again. On PostgreSQL claims use
//! `FOR UPDATE SKIP LOCKED`; SQLite has one writer.
//!
//! **Group commit.** [`FlowRunStore::apply_flow_writes`] applies a batch of writes of
//! many runs in one transaction, so one commit (one fsync) serves them all; each
//! write answers its own [`WriteOutcome`].

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, write_transaction, Backend, SqlStore};

/// One flow run.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRunRow {
    /// Insertion order; the list cursor and the queue order. `0` before insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub integration_id: String,
    /// The connection the run belongs to: the unit of ordering.
    pub connection_id: String,
    /// The flow instance (connection layer) that runs.
    pub connection_flow_id: String,
    pub integration_flow_id: Option<String>,
    pub universal_flow_id: Option<String>,
    /// `queued`, `running`, `completed`, `failed` or `stopped`.
    pub state: String,
    /// Milliseconds since the epoch: list range filters compare it.
    pub created_ms: i64,
    /// When the run reached a final state; retention deletes by it.
    pub ended_ms: Option<i64>,
    /// Someone asked to stop the run; it stops at the next node boundary.
    pub stop_requested: bool,
    /// How many times the run was claimed: more than one means it was taken over.
    pub attempts: i32,
    /// The run as the API renders it (a JSON object), without the embedded elements.
    pub record: serde_json::Value,
}

/// One completed node run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRunRow {
    /// Insertion order; the cursor of a node's run list. `0` before insertion.
    pub seq: i64,
    pub workspace_id: String,
    pub run_id: String,
    /// Deterministic within the run (derived from the path that led to it), so a
    /// run taken over writes the same id again and the second write is dropped.
    pub id: String,
    pub node_key: String,
    /// `completed`, `failed` or `skipped`.
    pub status: String,
    pub created_ms: i64,
    /// The node run record as the API renders it, outputs' data included.
    pub record: serde_json::Value,
}

impl FlowRunRow {
    /// The run's columns without its record (to pair with a new one, without
    /// copying the old).
    pub fn without_record(&self) -> FlowRunRow {
        FlowRunRow {
            seq: self.seq,
            id: self.id.clone(),
            workspace_id: self.workspace_id.clone(),
            customer_id: self.customer_id.clone(),
            integration_id: self.integration_id.clone(),
            connection_id: self.connection_id.clone(),
            connection_flow_id: self.connection_flow_id.clone(),
            integration_flow_id: self.integration_flow_id.clone(),
            universal_flow_id: self.universal_flow_id.clone(),
            state: self.state.clone(),
            created_ms: self.created_ms,
            ended_ms: self.ended_ms,
            stop_requested: self.stop_requested,
            attempts: self.attempts,
            record: serde_json::Value::Null,
        }
    }
}

/// One write of a group commit.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowWrite {
    /// A new run (state `queued`). Refused when its connection already has
    /// `queue_cap` queued runs. With `claim`, the run is claimed for that node in
    /// the same transaction when it is the head of its connection's queue
    /// (nothing of the connection is unfinished before it): the node that created
    /// it executes it at once, without a claim round trip (`Claimed`). A run whose
    /// id is stored already (or made by an earlier create of the same batch) is
    /// left as it is: that write is `Exists`, and the rest of the batch is stored
    /// as if it were not there.
    Create {
        run: FlowRunRow,
        queue_cap: i64,
        claim: Option<Claim>,
    },
    /// Completed node runs of one run. An id already stored is kept as it is.
    NodeRuns(Vec<NodeRunRow>),
    /// A run's new state and record. With `owner`, applies only while that node
    /// holds the run's lease (refused otherwise: the run was taken over). With
    /// `only_if_queued`, applies only to a run nobody claimed yet (stopping a
    /// queued run). A final state (`ended_ms` set) releases the lease.
    Update {
        workspace_id: String,
        id: String,
        owner: Option<String>,
        only_if_queued: bool,
        state: String,
        ended_ms: Option<i64>,
        record: serde_json::Value,
    },
}

/// A node's claim on a run it creates (see [`FlowWrite::Create`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub node: String,
    pub lease_until_ms: i64,
}

/// How one write of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    /// A create that was claimed for the node that asked (`running`, one attempt).
    Claimed,
    /// Its condition did not hold (queue full, lease lost, run no longer queued).
    Refused,
    /// A create of a run whose id exists: nothing was stored.
    Exists,
}

/// Which runs to list, in `seq` order from after the cursor. Every filter is an
/// equality; `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct FlowRunQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub connection_flow_id: Option<String>,
    pub integration_flow_id: Option<String>,
    pub universal_flow_id: Option<String>,
    pub state: Option<String>,
    /// `created_ms >= from_ms`.
    pub from_ms: Option<i64>,
    /// `created_ms <= to_ms`.
    pub to_ms: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Continue after (ascending) or before (descending) this `seq`.
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// The flow runs not finished yet, at a moment (the metrics' run queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowRunQueue {
    pub queued: i64,
    /// When the oldest queued run was made (ms since the epoch).
    pub oldest_queued_ms: Option<i64>,
    pub running: i64,
}

#[async_trait]
pub trait FlowRunStore: Send + Sync + 'static {
    /// How many runs are queued and running, and the oldest queued one's age.
    async fn flow_run_queue(&self) -> Result<FlowRunQueue, StoreError>;

    /// Applies `writes` in one transaction; answers one outcome per write. Every
    /// create comes first (in order), then every node run, then every update (in
    /// order): for the writes of different runs the order makes no difference, and
    /// a run's own writes keep theirs (its node runs before its record). A
    /// database error fails the whole batch (nothing of it is stored).
    async fn apply_flow_writes(
        &self,
        writes: &[FlowWrite],
    ) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Claims up to `limit` claimable runs (see the module doc) for `node` until
    /// `lease_until_ms`: each becomes `running`, its `attempts` grows by one.
    /// `now_ms` decides which leases have expired.
    async fn claim_flow_runs(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<FlowRunRow>, StoreError>;

    /// Extends `node`'s leases on `ids` to `lease_until_ms`; answers the ids among
    /// them whose stop was requested. A run whose lease another node took is left
    /// alone. One statement locks the rows one by one: on PostgreSQL, while a
    /// group commit of the same runs may hold some of them, give one id per call
    /// (a single-row statement holds nothing while it waits).
    async fn extend_flow_run_leases(
        &self,
        node: &str,
        ids: &[String],
        lease_until_ms: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Asks an unfinished run to stop; answers the run as it is now (`None` when
    /// it does not exist).
    async fn request_flow_run_stop(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<FlowRunRow>, StoreError>;

    /// Releases every lease held by anyone (on a store only one node uses, at start:
    /// the runs of the process that died are taken over at once).
    async fn release_flow_run_leases(&self) -> Result<u64, StoreError>;

    async fn flow_run_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<FlowRunRow>, StoreError>;

    async fn find_flow_runs(&self, query: &FlowRunQuery) -> Result<Vec<FlowRunRow>, StoreError>;

    /// How many of a workspace's runs made since `from_ms` are in each state
    /// (the console's overview).
    async fn count_flow_runs_by_state(
        &self,
        workspace_id: &str,
        from_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError>;

    /// Node runs of one run in `seq` order, of one node when `node_key` is given,
    /// after `cursor`, at most `limit`.
    async fn find_node_runs(
        &self,
        workspace_id: &str,
        run_id: &str,
        node_key: Option<&str>,
        cursor: Option<i64>,
        limit: i64,
    ) -> Result<Vec<NodeRunRow>, StoreError>;

    async fn node_run_by_id(
        &self,
        workspace_id: &str,
        run_id: &str,
        id: &str,
    ) -> Result<Option<NodeRunRow>, StoreError>;

    /// Deletes finished runs that ended before `before_ms`, with their node runs;
    /// answers how many runs.
    async fn purge_flow_runs(&self, before_ms: i64) -> Result<u64, StoreError>;
}

const COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, connection_id, \
     connection_flow_id, integration_flow_id, universal_flow_id, state, created_ms, ended_ms, \
     stop_requested, attempts, record";

const NODE_COLUMNS: &str = "seq, workspace_id, run_id, id, node_key, status, created_ms, record";

/// The predicate of the queue's partial index (`flow_runs_queue`): every query over
/// the unfinished runs repeats it word for word, so that SQLite, which does not
/// infer it from a narrower condition, uses the index too.
const UNFINISHED: &str = "state IN ('queued', 'running')";

/// Node runs per `INSERT` (7 binds each), well below SQLite's bind limit.
const NODE_RUNS_PER_STATEMENT: usize = 64;

/// Runs per `INSERT` or `UPDATE` of a batch (14 binds at most each).
const RUNS_PER_STATEMENT: usize = 64;

/// Run ids per lease extension statement.
const IDS_PER_STATEMENT: usize = 500;

/// What a batch holding creates takes first: one lock per connection it creates
/// runs of, held to the end of the transaction. Two nodes then cannot each count a
/// connection's queue and both add the run that fills it; and a connection's runs
/// commit in `seq` order — without the lock, a run given a lower `seq` could commit
/// after a higher one was claimed as the head, becoming a second head that runs at
/// once. The locks are taken in one order (connection ids sorted) so two batches
/// never wait for each other's. SQLite has one writer already.
trait QueueLock {
    /// The statement around a `VALUES` list of the connection ids (column `c`).
    const LOCK: Option<(&'static str, &'static str)>;
}

impl QueueLock for sqlx::Sqlite {
    const LOCK: Option<(&'static str, &'static str)> = None;
}

impl QueueLock for sqlx::Postgres {
    const LOCK: Option<(&'static str, &'static str)> = Some((
        "SELECT pg_advisory_xact_lock(hashtextextended('flow_runs:' || c, 0)) FROM (",
        ") AS v(c)",
    ));
}

for_each_backend! {
    #[async_trait]
    impl FlowRunStore for SqlStore<DB> {
        async fn flow_run_queue(&self) -> Result<FlowRunQueue, StoreError> {
            let row = sqlx::query(&format!(
                "SELECT SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS queued, \
                 MIN(CASE WHEN state = 'queued' THEN created_ms END) AS oldest, \
                 SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running \
                 FROM flow_runs WHERE {UNFINISHED}"
            ))
            .fetch_one(&mut *self.reader().await?)
            .await?;
            Ok(FlowRunQueue {
                queued: row.try_get::<Option<i64>, _>("queued")?.unwrap_or(0),
                oldest_queued_ms: row.try_get("oldest")?,
                running: row.try_get::<Option<i64>, _>("running")?.unwrap_or(0),
            })
        }

        async fn apply_flow_writes(
            &self,
            writes: &[FlowWrite],
        ) -> Result<Vec<WriteOutcome>, StoreError> {
            if writes.is_empty() {
                return Ok(Vec::new());
            }
            // Dropping the transaction on an error rolls it back.
            write_transaction!(self, |tx| { apply_all(&mut tx, writes).await? })
        }

        async fn claim_flow_runs(
            &self,
            node: &str,
            now_ms: i64,
            lease_until_ms: i64,
            limit: i64,
        ) -> Result<Vec<FlowRunRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "UPDATE flow_runs SET state = 'running', locked_by = ",
            );
            q.push_bind(node);
            q.push(", locked_until = ").push_bind(lease_until_ms);
            q.push(format!(
                ", attempts = attempts + 1 WHERE id IN (SELECT r.id FROM flow_runs r \
                 WHERE r.{UNFINISHED} AND (r.locked_until IS NULL OR r.locked_until < "
            ));
            q.push_bind(now_ms);
            // The head of the run's connection: a correlated subquery, so the row
            // lock below applies to `r` alone (PostgreSQL refuses `FOR UPDATE` next
            // to an aggregate at one level). Ordered by `+r.seq`, an expression: by
            // the bare column SQLite (and PostgreSQL, on its estimates) may walk the
            // primary key through the whole history to skip the sort, where the
            // partial index reads only the unfinished runs.
            q.push(format!(
                ") AND r.seq = (SELECT MIN(h.seq) FROM flow_runs h \
                 WHERE h.connection_id = r.connection_id AND h.{UNFINISHED}) \
                 ORDER BY +r.seq LIMIT "
            ));
            q.push_bind(limit);
            q.push(<DB as Backend>::CLAIM_LOCK);
            q.push(format!(") RETURNING {COLUMNS}"));
            let rows = q.build().fetch_all(&mut *self.writer().await?).await?;
            let mut runs = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
            runs.sort_by_key(|r| r.seq);
            Ok(runs)
        }

        async fn extend_flow_run_leases(
            &self,
            node: &str,
            ids: &[String],
            lease_until_ms: i64,
        ) -> Result<Vec<String>, StoreError> {
            let mut stopping = Vec::new();
            if ids.is_empty() {
                return Ok(stopping);
            }
            let mut conn = self.writer().await?;
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                let mut q = QueryBuilder::<DB>::new("UPDATE flow_runs SET locked_until = ");
                q.push_bind(lease_until_ms);
                q.push(" WHERE locked_by = ").push_bind(node);
                q.push(" AND state = 'running' AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                // The rows updated are the runs `node` still holds: answer those
                // of them asked to stop.
                q.push(") RETURNING id, stop_requested");
                for row in q.build().fetch_all(&mut *conn).await? {
                    if row.try_get::<i64, _>("stop_requested")? != 0 {
                        stopping.push(row.try_get("id")?);
                    }
                }
            }
            Ok(stopping)
        }

        async fn request_flow_run_stop(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<FlowRunRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "UPDATE flow_runs SET stop_requested = 1 WHERE workspace_id = ",
            );
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            q.push(format!(" AND {UNFINISHED}"));
            q.build().execute(&mut *self.writer().await?).await?;
            self.flow_run_by_id(workspace_id, id).await
        }

        async fn release_flow_run_leases(&self) -> Result<u64, StoreError> {
            let done = sqlx::query(
                "UPDATE flow_runs SET locked_by = NULL, locked_until = NULL \
                 WHERE locked_by IS NOT NULL",
            )
            .execute(&mut *self.writer().await?)
            .await?;
            Ok(done.rows_affected())
        }

        async fn flow_run_by_id(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<FlowRunRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {COLUMNS} FROM flow_runs WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        async fn find_flow_runs(
            &self,
            query: &FlowRunQuery,
        ) -> Result<Vec<FlowRunRow>, StoreError> {
            let rows = find(query)
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(decode).collect()
        }

        async fn count_flow_runs_by_state(
            &self,
            workspace_id: &str,
            from_ms: i64,
        ) -> Result<Vec<(String, i64)>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("SELECT state, COUNT(*) FROM flow_runs WHERE workspace_id = ");
            q.push_bind(workspace_id);
            q.push(" AND created_ms >= ").push_bind(from_ms);
            q.push(" GROUP BY state ORDER BY state");
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect()
        }

        async fn find_node_runs(
            &self,
            workspace_id: &str,
            run_id: &str,
            node_key: Option<&str>,
            cursor: Option<i64>,
            limit: i64,
        ) -> Result<Vec<NodeRunRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {NODE_COLUMNS} FROM flow_node_runs WHERE run_id = "
            ));
            q.push_bind(run_id);
            q.push(" AND workspace_id = ").push_bind(workspace_id);
            if let Some(node_key) = node_key {
                q.push(" AND node_key = ").push_bind(node_key);
            }
            if let Some(cursor) = cursor {
                q.push(" AND seq > ").push_bind(cursor);
            }
            q.push(" ORDER BY seq LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode_node).collect()
        }

        async fn node_run_by_id(
            &self,
            workspace_id: &str,
            run_id: &str,
            id: &str,
        ) -> Result<Option<NodeRunRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {NODE_COLUMNS} FROM flow_node_runs WHERE run_id = "
            ));
            q.push_bind(run_id);
            q.push(" AND id = ").push_bind(id);
            q.push(" AND workspace_id = ").push_bind(workspace_id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode_node).transpose()
        }

        async fn purge_flow_runs(&self, before_ms: i64) -> Result<u64, StoreError> {
            write_transaction!(self, |tx| {
                let mut nodes = QueryBuilder::<DB>::new(
                    "DELETE FROM flow_node_runs WHERE run_id IN (SELECT id FROM flow_runs \
                     WHERE ended_ms < ",
                );
                nodes.push_bind(before_ms);
                nodes.push(format!(" AND NOT {UNFINISHED})"));
                nodes.build().execute(&mut *tx).await?;
                let mut runs = QueryBuilder::<DB>::new("DELETE FROM flow_runs WHERE ended_ms < ");
                runs.push_bind(before_ms);
                runs.push(format!(" AND NOT {UNFINISHED}"));
                runs.build().execute(&mut *tx).await?.rows_affected()
            })
        }
    }

    /// The writes of one batch inside its transaction, a few statements for the
    /// whole batch rather than one or two per write: every create, then every node
    /// run, then every update (see [`FlowRunStore::apply_flow_writes`]).
    async fn apply_all(
        tx: &mut <DB as sqlx::Database>::Connection,
        writes: &[FlowWrite],
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        // The connections the batch creates runs of, sorted: the order the queue
        // locks are taken in, and what the queue cap counts.
        let mut connections: Vec<&str> = writes
            .iter()
            .filter_map(|w| match w {
                FlowWrite::Create { run, .. } => Some(run.connection_id.as_str()),
                _ => None,
            })
            .collect();
        connections.sort_unstable();
        connections.dedup();
        if let (Some((before, after)), false) = (<DB as QueueLock>::LOCK, connections.is_empty()) {
            let mut q = QueryBuilder::<DB>::new(before);
            q.push_values(&connections, |mut row, c| {
                row.push_bind(*c);
            });
            q.push(after);
            q.build().execute(&mut *tx).await?;
        }
        let mut outcomes = vec![WriteOutcome::Applied; writes.len()];
        apply_creates(tx, writes, &connections, &mut outcomes).await?;
        let node_runs: Vec<&NodeRunRow> = writes
            .iter()
            .flat_map(|w| match w {
                FlowWrite::NodeRuns(rows) => rows.as_slice(),
                _ => &[],
            })
            .collect();
        for chunk in node_runs.chunks(NODE_RUNS_PER_STATEMENT) {
            insert_node_runs(chunk).build().execute(&mut *tx).await?;
        }
        apply_updates(tx, writes, &mut outcomes).await?;
        Ok(outcomes)
    }

    /// The creates of a batch: the queue cap counted once per connection (a
    /// batch's own creates count as queued, claimed or not: at the cap's edge a
    /// batch may refuse one run early, never accept one too many), the accepted
    /// runs inserted in the batch's order (their `seq` follows it), then those
    /// asking for a claim claimed when they are their connection's head.
    /// `connections`: those the creates are of, each once.
    async fn apply_creates(
        tx: &mut <DB as sqlx::Database>::Connection,
        writes: &[FlowWrite],
        connections: &[&str],
        outcomes: &mut [WriteOutcome],
    ) -> Result<(), StoreError> {
        let creates: Vec<(usize, &FlowRunRow, i64, Option<&Claim>)> = writes
            .iter()
            .enumerate()
            .filter_map(|(i, w)| match w {
                FlowWrite::Create {
                    run,
                    queue_cap,
                    claim,
                } => Some((i, run, *queue_cap, claim.as_ref())),
                _ => None,
            })
            .collect();
        if creates.is_empty() {
            return Ok(());
        }
        let mut queued: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for chunk in connections.chunks(IDS_PER_STATEMENT) {
            // `state = 'queued'` alone would not let SQLite use the partial index.
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT connection_id, COUNT(*) AS n FROM flow_runs WHERE {UNFINISHED} \
                 AND state = 'queued' AND connection_id IN ("
            ));
            let mut list = q.separated(", ");
            for c in chunk {
                list.push_bind(*c);
            }
            q.push(") GROUP BY connection_id");
            for row in q.build().fetch_all(&mut *tx).await? {
                queued.insert(row.try_get("connection_id")?, row.try_get("n")?);
            }
        }
        let mut accepted = Vec::with_capacity(creates.len());
        for (i, run, cap, claim) in creates {
            let n = queued.entry(run.connection_id.clone()).or_default();
            if *n < cap {
                *n += 1;
                accepted.push((i, run, claim));
            } else {
                outcomes[i] = WriteOutcome::Refused;
            }
        }
        // An id already there (a starter that derives its run ids started the
        // run before) is skipped by the insert, not an error that would fail the
        // whole batch; the first create of an id the insert returns made it.
        let mut made = std::collections::HashSet::new();
        for chunk in accepted.chunks(RUNS_PER_STATEMENT) {
            let mut q = insert_runs(chunk.iter().map(|a| a.1));
            q.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
            made.extend(returned_ids(q, tx).await?);
        }
        accepted.retain(|&(i, run, _)| {
            let new = made.remove(&run.id);
            if !new {
                outcomes[i] = WriteOutcome::Exists;
            }
            new
        });
        // One node makes a batch, so its claims share the node; the lease is the
        // latest asked for (they differ by the milliseconds between the creates).
        let claims: Vec<(usize, &FlowRunRow, &Claim)> = accepted
            .iter()
            .filter_map(|&(i, run, claim)| claim.map(|c| (i, run, c)))
            .collect();
        for group in claims.chunk_by(|a, b| a.2.node == b.2.node) {
            for chunk in group.chunks(IDS_PER_STATEMENT) {
                let until = chunk.iter().map(|c| c.2.lease_until_ms).max().unwrap_or_default();
                let mut q = QueryBuilder::<DB>::new(
                    "UPDATE flow_runs SET state = 'running', attempts = 1, locked_by = ",
                );
                q.push_bind(&chunk[0].2.node);
                q.push(", locked_until = ").push_bind(until);
                q.push(" WHERE id IN (");
                let mut list = q.separated(", ");
                for c in chunk {
                    list.push_bind(&c.1.id);
                }
                q.push(format!(
                    ") AND seq = (SELECT MIN(h.seq) FROM flow_runs h WHERE h.{UNFINISHED} \
                     AND h.connection_id = flow_runs.connection_id) RETURNING id"
                ));
                let claimed = returned_ids(q, tx).await?;
                for c in chunk {
                    if claimed.contains(&c.1.id) {
                        outcomes[c.0] = WriteOutcome::Claimed;
                    }
                }
            }
        }
        Ok(())
    }

    /// The updates of a batch, in statements over many runs each. A run updated
    /// twice in one batch (a stop beside its own progress) is updated in order, by
    /// statements of their own: one statement applies one update per row.
    async fn apply_updates(
        tx: &mut <DB as sqlx::Database>::Connection,
        writes: &[FlowWrite],
        outcomes: &mut [WriteOutcome],
    ) -> Result<(), StoreError> {
        let mut rounds: Vec<Vec<(usize, &FlowWrite)>> = Vec::new();
        let mut round_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, w) in writes.iter().enumerate() {
            if let FlowWrite::Update { id, .. } = w {
                let r = round_of.entry(id.as_str()).and_modify(|r| *r += 1).or_insert(0);
                if rounds.len() <= *r {
                    rounds.push(Vec::new());
                }
                rounds[*r].push((i, w));
            }
        }
        for round in rounds {
            for chunk in round.chunks(RUNS_PER_STATEMENT) {
                let mut q = QueryBuilder::<DB>::new(
                    "WITH v (id, workspace_id, owner, only_if_queued, state, ended_ms, record) AS (",
                );
                q.push_values(chunk, |mut row, (_, w)| {
                    if let FlowWrite::Update {
                        workspace_id,
                        id,
                        owner,
                        only_if_queued,
                        state,
                        ended_ms,
                        record,
                    } = w
                    {
                        row.push_bind(id.as_str())
                            .push_bind(workspace_id.as_str())
                            .push_bind(owner.as_deref())
                            .push_bind(i64::from(*only_if_queued))
                            .push_bind(state.as_str())
                            .push_bind(*ended_ms)
                            .push_bind(record.to_string());
                    }
                });
                // A final state (`ended_ms` given) releases the lease.
                q.push(
                    ") UPDATE flow_runs SET state = v.state, record = v.record, \
                     ended_ms = COALESCE(v.ended_ms, flow_runs.ended_ms), \
                     locked_by = CASE WHEN v.ended_ms IS NULL THEN flow_runs.locked_by END, \
                     locked_until = CASE WHEN v.ended_ms IS NULL THEN flow_runs.locked_until END \
                     FROM v WHERE flow_runs.id = v.id AND flow_runs.workspace_id = v.workspace_id \
                     AND (v.owner IS NULL OR flow_runs.locked_by = v.owner) \
                     AND (v.only_if_queued = 0 OR flow_runs.state = 'queued') \
                     RETURNING flow_runs.id",
                );
                let applied = returned_ids(q, tx).await?;
                for (i, w) in chunk {
                    if let FlowWrite::Update { id, .. } = w {
                        if !applied.contains(id) {
                            outcomes[*i] = WriteOutcome::Refused;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `q`, which returns the `id` of each row it changed; answers those ids.
    async fn returned_ids(
        mut q: QueryBuilder<'_, DB>,
        tx: &mut <DB as sqlx::Database>::Connection,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let rows = q.build().fetch_all(&mut *tx).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?)
    }

    /// Inserts new runs (their `seq` in the order given).
    fn insert_runs<'a>(runs: impl Iterator<Item = &'a FlowRunRow>) -> QueryBuilder<'a, DB> {
        let mut q = QueryBuilder::<DB>::new(
            "INSERT INTO flow_runs (id, workspace_id, customer_id, integration_id, \
             connection_id, connection_flow_id, integration_flow_id, universal_flow_id, state, \
             created_ms, ended_ms, stop_requested, attempts, record) ",
        );
        q.push_values(runs, |mut values, run| {
            values
                .push_bind(&run.id)
                .push_bind(&run.workspace_id)
                .push_bind(&run.customer_id)
                .push_bind(&run.integration_id)
                .push_bind(&run.connection_id)
                .push_bind(&run.connection_flow_id)
                .push_bind(&run.integration_flow_id)
                .push_bind(&run.universal_flow_id)
                .push_bind(&run.state)
                .push_bind(run.created_ms)
                .push_bind(run.ended_ms)
                .push_bind(i64::from(run.stop_requested))
                .push("0")
                .push_bind(run.record.to_string());
        });
        q
    }

    fn insert_node_runs<'a>(rows: &[&'a NodeRunRow]) -> QueryBuilder<'a, DB> {
        let mut q = QueryBuilder::<DB>::new(
            "INSERT INTO flow_node_runs (workspace_id, run_id, id, node_key, status, \
             created_ms, record) ",
        );
        q.push_values(rows.iter().copied(), |mut row, n| {
            row.push_bind(&n.workspace_id)
                .push_bind(&n.run_id)
                .push_bind(&n.id)
                .push_bind(&n.node_key)
                .push_bind(&n.status)
                .push_bind(n.created_ms)
                .push_bind(n.record.to_string());
        });
        q.push(" ON CONFLICT (run_id, id) DO NOTHING");
        q
    }

    fn find(q: &FlowRunQuery) -> QueryBuilder<'_, DB> {
        let mut s = QueryBuilder::<DB>::new(format!(
            "SELECT {COLUMNS} FROM flow_runs WHERE workspace_id = "
        ));
        s.push_bind(&q.workspace_id);
        let equalities = [
            ("customer_id", &q.customer_id),
            ("integration_id", &q.integration_id),
            ("connection_id", &q.connection_id),
            ("connection_flow_id", &q.connection_flow_id),
            ("integration_flow_id", &q.integration_flow_id),
            ("universal_flow_id", &q.universal_flow_id),
            ("state", &q.state),
        ];
        crate::query::push_log_filters(
            &mut s,
            &equalities,
            "created_ms",
            crate::query::log_page!(q),
        );
        s
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<FlowRunRow, StoreError> {
        Ok(FlowRunRow {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            customer_id: row.try_get("customer_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            connection_flow_id: row.try_get("connection_flow_id")?,
            integration_flow_id: row.try_get("integration_flow_id")?,
            universal_flow_id: row.try_get("universal_flow_id")?,
            state: row.try_get("state")?,
            created_ms: row.try_get("created_ms")?,
            ended_ms: row.try_get("ended_ms")?,
            stop_requested: row.try_get::<i64, _>("stop_requested")? != 0,
            attempts: row.try_get("attempts")?,
            record: serde_json::from_str(row.try_get("record")?)
                .map_err(|e| StoreError::Corrupt(format!("flow run record: {e}")))?,
        })
    }

    fn decode_node(row: &<DB as sqlx::Database>::Row) -> Result<NodeRunRow, StoreError> {
        Ok(NodeRunRow {
            seq: row.try_get("seq")?,
            workspace_id: row.try_get("workspace_id")?,
            run_id: row.try_get("run_id")?,
            id: row.try_get("id")?,
            node_key: row.try_get("node_key")?,
            status: row.try_get("status")?,
            created_ms: row.try_get("created_ms")?,
            record: serde_json::from_str(row.try_get("record")?)
                .map_err(|e| StoreError::Corrupt(format!("node run record: {e}")))?,
        })
    }
}
