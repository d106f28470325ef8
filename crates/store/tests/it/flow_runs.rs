//! Flow runs on the backend under test: a batch of writes answers each write (the
//! queue cap, a lost lease and a run no longer queued refuse theirs, a create of an
//! id stored already is skipped alone) and fails as a whole on a database error; claims take only the head of each connection's queue,
//! one holder at a time, and an expired lease hands the head over; node runs are
//! written once per id; lists select by every filter and page both ways; a stop
//! request reaches the lease holder; retention keeps unfinished runs. With several
//! nodes claiming at once no connection ever has two runs executing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use osmosis_store::{
    Claim, FlowRunQuery, FlowRunQueue, FlowRunRow, FlowRunStore, FlowWrite, NodeRunRow, StoreError,
    Stores, WriteOutcome,
};
use serde_json::json;

use crate::common::*;

use WriteOutcome::{Applied, Refused};

/// A new queued run `id` of connection `connection`, created at `created_ms`.
fn run(id: &str, connection: &str, created_ms: i64) -> FlowRunRow {
    FlowRunRow {
        seq: 0,
        id: id.into(),
        workspace_id: WS.into(),
        customer_id: "cus_1".into(),
        integration_id: "int_1".into(),
        connection_id: connection.into(),
        connection_flow_id: format!("flow_{connection}"),
        integration_flow_id: Some("iflow_1".into()),
        universal_flow_id: None,
        state: "queued".into(),
        created_ms,
        ended_ms: None,
        stop_requested: false,
        attempts: 0,
        // Keys out of alphabetical order: the record must come back as written.
        record: json!({"id": id, "zeta": 1, "alpha": {"y": [3, 2, 1]}}),
    }
}

fn create(run: FlowRunRow, queue_cap: i64) -> FlowWrite {
    FlowWrite::Create {
        run,
        queue_cap,
        claim: None,
    }
}

/// `id`'s new `state`, by `owner` (a lease holder) or by anyone; final when
/// `ended_ms` is given.
fn update(id: &str, owner: Option<&str>, state: &str, ended_ms: Option<i64>) -> FlowWrite {
    FlowWrite::Update {
        workspace_id: WS.into(),
        id: id.into(),
        owner: owner.map(str::to_string),
        only_if_queued: false,
        state: state.into(),
        ended_ms,
        record: json!({"id": id, "state": state}),
    }
}

/// `owner` finishes `id` (`completed` at `ended_ms`).
fn complete(id: &str, owner: &str, ended_ms: i64) -> FlowWrite {
    update(id, Some(owner), "completed", Some(ended_ms))
}

fn node_run(run_id: &str, id: &str, node_key: &str) -> NodeRunRow {
    NodeRunRow {
        seq: 0,
        workspace_id: WS.into(),
        run_id: run_id.into(),
        id: id.into(),
        node_key: node_key.into(),
        status: "completed".into(),
        created_ms: 1_000,
        record: json!({"id": id, "outputs": [{"b": 2, "a": 1}]}),
    }
}

async fn apply(store: &dyn FlowRunStore, writes: Vec<FlowWrite>) -> Vec<WriteOutcome> {
    store.apply_flow_writes(&writes).await.unwrap()
}

async fn get(store: &dyn FlowRunStore, id: &str) -> Option<FlowRunRow> {
    store.flow_run_by_id(WS, id).await.unwrap()
}

async fn claim(store: &dyn FlowRunStore, node: &str, now_ms: i64, until: i64) -> Vec<String> {
    store
        .claim_flow_runs(node, now_ms, until, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn fresh() -> (TestDb, Arc<dyn FlowRunStore>) {
    let db = TestDb::new().await;
    let store = db.node().await.flow_runs;
    (db, store)
}

#[tokio::test]
async fn a_batch_answers_each_write_and_the_queue_cap_refuses_the_run_over_it() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    assert_eq!(apply(store, vec![]).await, vec![]);
    assert_eq!(
        apply(
            store,
            vec![
                create(run("r1", "con_a", 1_000), 2),
                create(run("r2", "con_a", 1_001), 2),
                create(run("r3", "con_a", 1_002), 2),
                create(run("r4", "con_b", 1_003), 2),
            ],
        )
        .await,
        vec![Applied, Applied, Refused, Applied]
    );
    assert_eq!(get(store, "r3").await, None, "nothing of a refused create");
    let r1 = get(store, "r1").await.expect("stored");
    assert!(r1.seq > 0);
    assert_eq!(
        r1,
        FlowRunRow {
            seq: r1.seq,
            ..run("r1", "con_a", 1_000)
        }
    );
    assert_eq!(
        serde_json::to_string(&r1.record).unwrap(),
        serde_json::to_string(&run("r1", "con_a", 1_000).record).unwrap(),
        "the record keeps its key order"
    );
    assert_eq!(store.flow_run_by_id("ws_2", "r1").await.unwrap(), None);

    // Only queued runs count against the cap: once r1 runs, con_a has room for one.
    assert_eq!(claim(store, "node-a", 0, 10_000).await, ["r1", "r4"]);
    assert_eq!(
        apply(
            store,
            vec![
                create(run("r5", "con_a", 1_005), 2),
                create(run("r6", "con_a", 1_006), 2),
            ],
        )
        .await,
        vec![Applied, Refused]
    );

    // A lease holder's update applies, anyone else's is refused.
    assert_eq!(
        apply(
            store,
            vec![
                update("r1", Some("node-b"), "failed", Some(2_000)),
                update("r1", Some("node-a"), "running", None),
                update("r_none", None, "running", None),
            ],
        )
        .await,
        vec![Refused, Applied, Refused]
    );
    let r1 = get(store, "r1").await.unwrap();
    assert_eq!((r1.state.as_str(), r1.ended_ms), ("running", None));
    assert_eq!(r1.record, json!({"id": "r1", "state": "running"}));
    // Still node-a's lease: a non-final update keeps it.
    assert!(claim(store, "node-b", 5_000, 20_000).await.is_empty());

    // Stopping a queued run: refused once it was claimed.
    let stop = |id: &str| FlowWrite::Update {
        workspace_id: WS.into(),
        id: id.into(),
        owner: None,
        only_if_queued: true,
        state: "stopped".into(),
        ended_ms: Some(3_000),
        record: json!({"id": id, "state": "stopped"}),
    };
    assert_eq!(
        apply(store, vec![stop("r1"), stop("r2")]).await,
        vec![Refused, Applied]
    );
    let r2 = get(store, "r2").await.unwrap();
    assert_eq!((r2.state.as_str(), r2.ended_ms), ("stopped", Some(3_000)));
    assert_eq!(get(store, "r1").await.unwrap().state, "running");

    // A final state releases the lease and sets the end; a later update without an
    // end keeps it.
    assert_eq!(
        apply(
            store,
            vec![
                complete("r1", "node-a", 4_000),
                update("r1", None, "completed", None)
            ]
        )
        .await,
        vec![Applied, Applied]
    );
    assert_eq!(get(store, "r1").await.unwrap().ended_ms, Some(4_000));
    assert_eq!(
        apply(store, vec![update("r1", Some("node-a"), "failed", None)]).await,
        vec![Refused],
        "the lease went with the final state"
    );
    db.finish().await;
}

/// Runs `sql` on the test's database, past the store.
async fn database_sql(db: &TestDb, sql: &str) {
    if is_postgres() {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// A trigger making the database refuse node run `boom` (an error none of the
/// writes can cause: each is valid).
async fn refuse_node_run_boom(db: &TestDb) {
    if is_postgres() {
        database_sql(
            db,
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.id = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$",
        )
        .await;
        database_sql(
            db,
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON flow_node_runs \
             FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        )
        .await;
    } else {
        database_sql(
            db,
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON flow_node_runs WHEN NEW.id = 'boom' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        .await;
    }
}

#[tokio::test]
async fn a_database_error_fails_the_whole_batch() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    apply(store, vec![create(run("r1", "con_a", 1), 10)]).await;
    refuse_node_run_boom(&db).await;
    let failed = store
        .apply_flow_writes(&[
            create(run("r2", "con_a", 2), 10),
            FlowWrite::NodeRuns(vec![node_run("r1", "n1", "x")]),
            update("r1", None, "stopped", Some(5)),
            FlowWrite::NodeRuns(vec![node_run("r1", "boom", "y")]),
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
    assert_eq!(get(store, "r2").await, None);
    assert_eq!(get(store, "r1").await.unwrap().state, "queued");
    assert!(store
        .find_node_runs(WS, "r1", None, None, 10)
        .await
        .unwrap()
        .is_empty());
    // The store works on after the rollback.
    assert_eq!(
        apply(store, vec![create(run("r2", "con_a", 2), 10)]).await,
        vec![Applied]
    );
    db.finish().await;
}

#[tokio::test]
async fn claims_take_the_head_of_each_connection_until_its_lease_expires() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    assert_eq!(
        store.flow_run_queue().await.unwrap(),
        FlowRunQueue::default()
    );
    let mut writes = Vec::new();
    for n in 1..=3 {
        writes.push(create(run(&format!("a{n}"), "con_a", n), 10));
        writes.push(create(run(&format!("b{n}"), "con_b", n), 10));
    }
    apply(store, writes).await;

    let claimed = store
        .claim_flow_runs("node-a", 1_000, 2_000, 10)
        .await
        .unwrap();
    // What the metrics read: four queued (the oldest made at 2), two running.
    assert_eq!(
        store.flow_run_queue().await.unwrap(),
        FlowRunQueue {
            queued: 4,
            oldest_queued_ms: Some(2),
            running: 2
        }
    );
    let heads: Vec<_> = claimed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(heads, ["a1", "b1"], "the heads, in queue order");
    assert!(claimed
        .iter()
        .all(|r| r.state == "running" && r.attempts == 1));
    assert_eq!(get(store, "a1").await.unwrap().attempts, 1);
    // While the leases live nobody gets anything: the heads are held, the others
    // wait for them.
    assert!(claim(store, "node-b", 1_500, 3_000).await.is_empty());
    assert!(claim(store, "node-a", 1_999, 3_000).await.is_empty());

    // a1 ends: a2 is the head of con_a now.
    apply(store, vec![complete("a1", "node-a", 1_600)]).await;
    assert_eq!(claim(store, "node-b", 1_700, 4_000).await, ["a2"]);

    // node-a died holding b1: once its lease expired node-b takes b1 over.
    assert_eq!(claim(store, "node-b", 2_001, 4_000).await, ["b1"]);
    let b1 = get(store, "b1").await.unwrap();
    assert_eq!((b1.state.as_str(), b1.attempts), ("running", 2));
    // The dead node's late writes are refused; the new holder's apply.
    assert_eq!(
        apply(
            store,
            vec![
                complete("b1", "node-a", 2_100),
                complete("b1", "node-b", 2_200)
            ]
        )
        .await,
        vec![Refused, Applied]
    );
    // `limit` takes the oldest heads first: b2 was created before a3.
    apply(store, vec![complete("a2", "node-b", 2_300)]).await;
    let one = store
        .claim_flow_runs("node-c", 2_400, 5_000, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, "b2");
    assert_eq!(claim(store, "node-c", 2_400, 5_000).await, ["a3"]);
    db.finish().await;
}

#[tokio::test]
async fn a_released_lease_is_claimable_at_once() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    apply(
        store,
        vec![
            create(run("a1", "con_a", 1), 10),
            create(run("b1", "con_b", 2), 10),
        ],
    )
    .await;
    assert_eq!(claim(store, "node-a", 0, 60_000).await, ["a1", "b1"]);
    assert_eq!(store.release_flow_run_leases().await.unwrap(), 2);
    assert_eq!(store.release_flow_run_leases().await.unwrap(), 0);
    assert_eq!(claim(store, "node-b", 1, 60_000).await, ["a1", "b1"]);
    assert_eq!(get(store, "a1").await.unwrap().attempts, 2);
    db.finish().await;
}

/// A run created with a claim is its creator's at once when its connection has
/// nothing unfinished; behind another run it is queued like any other.
/// A create of an id stored already — a starter that derives its run ids
/// starting a run again — is `Exists` and changes nothing (the run stays as it
/// is, unclaimed), and the rest of its batch is stored; so is a second create of
/// one id in one batch.
#[tokio::test]
async fn a_create_of_an_existing_id_is_skipped_alone() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    apply(store, vec![create(run("r1", "con_a", 1), 10)]).await;
    let claimed = |r: FlowRunRow| FlowWrite::Create {
        run: r,
        queue_cap: 10,
        claim: Some(Claim {
            node: "node-a".into(),
            lease_until_ms: 60_000,
        }),
    };
    let mut again = run("r1", "con_b", 2);
    again.record = json!({"id": "r1", "again": true});
    let outcomes = apply(
        store,
        vec![
            create(run("r2", "con_a", 3), 10),
            claimed(run("r1", "con_a", 4)),
            create(again, 10),
            claimed(run("b1", "con_b", 5)),
            create(run("r2", "con_a", 6), 10),
            FlowWrite::NodeRuns(vec![node_run("r2", "n1", "x")]),
        ],
    )
    .await;
    assert_eq!(
        outcomes,
        [
            Applied,
            WriteOutcome::Exists,
            WriteOutcome::Exists,
            WriteOutcome::Claimed,
            WriteOutcome::Exists,
            Applied
        ]
    );
    let r1 = get(store, "r1").await.unwrap();
    assert_eq!(
        (r1.connection_id.as_str(), r1.state.as_str(), r1.attempts),
        ("con_a", "queued", 0)
    );
    assert_eq!(r1.record, run("r1", "con_a", 1).record);
    assert_eq!(get(store, "r2").await.unwrap().created_ms, 3);
    assert_eq!(get(store, "b1").await.unwrap().state, "running");
    assert_eq!(
        store
            .find_node_runs(WS, "r2", None, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    db.finish().await;
}

#[tokio::test]
async fn a_run_created_at_the_head_of_its_queue_is_claimed_by_its_creator() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    let claimed = |r: FlowRunRow| FlowWrite::Create {
        run: r,
        queue_cap: 10,
        claim: Some(Claim {
            node: "node-a".into(),
            lease_until_ms: 60_000,
        }),
    };
    let outcomes = apply(
        store,
        vec![
            claimed(run("a1", "con_a", 1)),
            claimed(run("a2", "con_a", 2)),
            claimed(run("b1", "con_b", 3)),
        ],
    )
    .await;
    assert_eq!(
        outcomes,
        [WriteOutcome::Claimed, Applied, WriteOutcome::Claimed]
    );
    let a1 = get(store, "a1").await.unwrap();
    assert_eq!((a1.state.as_str(), a1.attempts), ("running", 1));
    assert_eq!(get(store, "a2").await.unwrap().state, "queued");
    // Nobody else can claim the heads while the creator's lease lives.
    assert!(claim(store, "node-b", 1, 60_000).await.is_empty());
    apply(store, vec![complete("a1", "node-a", 5)]).await;
    assert_eq!(claim(store, "node-b", 6, 60_000).await, ["a2"]);
    db.finish().await;
}

#[tokio::test]
async fn node_runs_are_written_once_per_id() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    apply(
        store,
        vec![
            create(run("r1", "con_a", 1), 10),
            create(run("r2", "con_b", 1), 10),
        ],
    )
    .await;
    let first = vec![
        node_run("r1", "n1", "x"),
        node_run("r1", "n2", "y"),
        node_run("r1", "n3", "x"),
        // The same node run id in another run is another node run.
        node_run("r2", "n1", "x"),
    ];
    let again = NodeRunRow {
        record: json!({"written": "twice"}),
        status: "failed".into(),
        ..node_run("r1", "n1", "x")
    };
    assert_eq!(
        apply(
            store,
            vec![
                FlowWrite::NodeRuns(first.clone()),
                FlowWrite::NodeRuns(vec![again, node_run("r1", "n4", "y")]),
                FlowWrite::NodeRuns(vec![]),
            ],
        )
        .await,
        vec![Applied, Applied, Applied]
    );
    let ids = |rows: Vec<NodeRunRow>| rows.into_iter().map(|n| n.id).collect::<Vec<_>>();
    let all = store
        .find_node_runs(WS, "r1", None, None, 100)
        .await
        .unwrap();
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        all[0],
        NodeRunRow {
            seq: all[0].seq,
            ..first[0].clone()
        },
        "the first write is kept"
    );
    assert_eq!(
        serde_json::to_string(&all[0].record).unwrap(),
        serde_json::to_string(&first[0].record).unwrap()
    );
    assert_eq!(ids(all.clone()), ["n1", "n2", "n3", "n4"]);
    assert_eq!(
        ids(store
            .find_node_runs(WS, "r1", Some("x"), None, 100)
            .await
            .unwrap()),
        ["n1", "n3"]
    );
    assert_eq!(
        ids(store
            .find_node_runs(WS, "r1", None, Some(all[0].seq), 2)
            .await
            .unwrap()),
        ["n2", "n3"]
    );
    assert_eq!(
        ids(store
            .find_node_runs(WS, "r1", Some("y"), Some(all[1].seq), 10)
            .await
            .unwrap()),
        ["n4"]
    );
    assert!(store
        .find_node_runs("ws_2", "r1", None, None, 100)
        .await
        .unwrap()
        .is_empty());

    let one = store.node_run_by_id(WS, "r1", "n2").await.unwrap();
    assert_eq!(one, Some(all[1].clone()));
    assert_eq!(
        store.node_run_by_id("ws_2", "r1", "n2").await.unwrap(),
        None
    );
    assert_eq!(store.node_run_by_id(WS, "r2", "n2").await.unwrap(), None);
    assert_eq!(
        store
            .node_run_by_id(WS, "r2", "n1")
            .await
            .unwrap()
            .unwrap()
            .run_id,
        "r2"
    );

    // A batch larger than one statement holds.
    let many: Vec<NodeRunRow> = (0..150)
        .map(|i| node_run("r2", &format!("m{i:03}"), "z"))
        .collect();
    assert_eq!(
        apply(store, vec![FlowWrite::NodeRuns(many)]).await,
        vec![Applied]
    );
    let stored = store
        .find_node_runs(WS, "r2", Some("z"), None, 1_000)
        .await
        .unwrap();
    assert_eq!(stored.len(), 150);
    assert_eq!(stored[149].id, "m149");
    db.finish().await;
}

/// Run `n` of 7, created at `n` seconds: connections, flows and states vary with
/// `n` so that each filter selects a different subset.
fn listed(n: i64) -> FlowRunRow {
    let connection = if n <= 4 { "con_a" } else { "con_b" };
    FlowRunRow {
        customer_id: format!("cus_{}", n % 2),
        integration_id: if n <= 5 { "int_1" } else { "int_2" }.into(),
        connection_flow_id: format!("flow_{}", n % 3),
        integration_flow_id: (n % 2 == 1).then(|| "iflow_1".into()),
        universal_flow_id: (n >= 6).then(|| "uflow_1".into()),
        ..run(&format!("run_{n}"), connection, 1_000 * n)
    }
}

fn names(ns: &[i64]) -> Vec<String> {
    ns.iter().map(|n| format!("run_{n}")).collect()
}

fn query() -> FlowRunQuery {
    FlowRunQuery {
        workspace_id: WS.into(),
        limit: 100,
        ..Default::default()
    }
}

async fn find(store: &dyn FlowRunStore, q: &FlowRunQuery) -> Vec<String> {
    let rows = store.find_flow_runs(q).await.unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

/// Every id `q` lists, a page of `limit` at a time.
async fn paged(store: &dyn FlowRunStore, q: FlowRunQuery, limit: i64) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor = None;
    for _ in 0..=10 {
        let page = store
            .find_flow_runs(&FlowRunQuery {
                cursor,
                limit,
                ..q.clone()
            })
            .await
            .unwrap();
        assert!(page.len() as i64 <= limit);
        let Some(last) = page.last() else {
            return found;
        };
        cursor = Some(last.seq);
        found.extend(page.into_iter().map(|r| r.id));
    }
    panic!("paging did not end: {found:?}");
}

#[tokio::test]
async fn lists_select_by_every_filter_and_page_both_ways() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    apply(store, (1..=7).map(|n| create(listed(n), 100)).collect()).await;
    let elsewhere = FlowRunRow {
        id: "run_elsewhere".into(),
        workspace_id: "ws_2".into(),
        connection_id: "con_x".into(),
        ..listed(1)
    };
    apply(store, vec![create(elsewhere, 100)]).await;
    // run_1 and run_5 are the heads: they run.
    assert_eq!(
        claim(store, "node-a", 0, 10_000).await,
        ["run_1", "run_5", "run_elsewhere"]
    );

    let s = |v: &str| Some(v.to_string());
    let cases: Vec<(&str, FlowRunQuery, Vec<i64>)> = vec![
        ("all", query(), vec![1, 2, 3, 4, 5, 6, 7]),
        (
            "customer",
            FlowRunQuery {
                customer_id: s("cus_0"),
                ..query()
            },
            vec![2, 4, 6],
        ),
        (
            "integration",
            FlowRunQuery {
                integration_id: s("int_2"),
                ..query()
            },
            vec![6, 7],
        ),
        (
            "connection",
            FlowRunQuery {
                connection_id: s("con_b"),
                ..query()
            },
            vec![5, 6, 7],
        ),
        (
            "connection flow",
            FlowRunQuery {
                connection_flow_id: s("flow_1"),
                ..query()
            },
            vec![1, 4, 7],
        ),
        (
            "integration flow",
            FlowRunQuery {
                integration_flow_id: s("iflow_1"),
                ..query()
            },
            vec![1, 3, 5, 7],
        ),
        (
            "universal flow",
            FlowRunQuery {
                universal_flow_id: s("uflow_1"),
                ..query()
            },
            vec![6, 7],
        ),
        (
            "state",
            FlowRunQuery {
                state: s("running"),
                ..query()
            },
            vec![1, 5],
        ),
        (
            "from and to, bounds included",
            FlowRunQuery {
                from_ms: Some(2_000),
                to_ms: Some(4_000),
                ..query()
            },
            vec![2, 3, 4],
        ),
        (
            "filters combine",
            FlowRunQuery {
                connection_id: s("con_a"),
                state: s("queued"),
                descending: true,
                ..query()
            },
            vec![4, 3, 2],
        ),
        (
            "an unknown id",
            FlowRunQuery {
                connection_flow_id: s("flow_9"),
                ..query()
            },
            vec![],
        ),
    ];
    for (what, q, expected) in cases {
        assert_eq!(find(store, &q).await, names(&expected), "{what}");
    }
    let theirs = FlowRunQuery {
        workspace_id: "ws_2".into(),
        ..query()
    };
    assert_eq!(find(store, &theirs).await, ["run_elsewhere"]);

    let all: Vec<i64> = (1..=7).collect();
    let newest_first: Vec<i64> = all.iter().rev().copied().collect();
    for limit in [1, 2, 3, 7, 8] {
        assert_eq!(paged(store, query(), limit).await, names(&all), "{limit}");
        let descending = FlowRunQuery {
            descending: true,
            ..query()
        };
        assert_eq!(
            paged(store, descending, limit).await,
            names(&newest_first),
            "descending by {limit}"
        );
    }
    let con_b_newest_first = FlowRunQuery {
        connection_id: s("con_b"),
        descending: true,
        ..query()
    };
    assert_eq!(paged(store, con_b_newest_first, 2).await, names(&[7, 6, 5]));
    db.finish().await;
}

#[tokio::test]
async fn a_stop_request_reaches_the_lease_holder() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    apply(
        store,
        vec![
            create(run("a1", "con_a", 1), 10),
            create(run("b1", "con_b", 2), 10),
            create(run("c1", "con_c", 3), 10),
        ],
    )
    .await;
    assert!(store
        .extend_flow_run_leases("node-a", &[], 9_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(claim(store, "node-a", 0, 3_000).await, ["a1", "b1", "c1"]);
    let stopping = store
        .request_flow_run_stop(WS, "a1")
        .await
        .unwrap()
        .expect("found");
    assert!(stopping.stop_requested);
    assert_eq!(stopping.state, "running", "it stops at a node boundary");
    assert_eq!(store.request_flow_run_stop(WS, "none").await.unwrap(), None);
    assert_eq!(
        store.request_flow_run_stop("ws_2", "b1").await.unwrap(),
        None
    );
    // A finished run is left as it is.
    apply(store, vec![complete("c1", "node-a", 100)]).await;
    let finished = store
        .request_flow_run_stop(WS, "c1")
        .await
        .unwrap()
        .unwrap();
    assert!(!finished.stop_requested);

    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store
            .extend_flow_run_leases("node-a", &ids(&["a1", "b1", "c1", "none"]), 9_000)
            .await
            .unwrap(),
        ["a1"]
    );
    // Another node extends nothing, and learns nothing.
    assert!(store
        .extend_flow_run_leases("node-b", &ids(&["a1", "b1"]), 50_000)
        .await
        .unwrap()
        .is_empty());
    // node-a's leases hold to 9 000, not 3 000 and not 50 000.
    assert!(claim(store, "node-b", 5_000, 60_000).await.is_empty());
    assert_eq!(claim(store, "node-b", 9_001, 60_000).await, ["a1", "b1"]);
    // Taken over: node-a's extension no longer applies.
    assert!(store
        .extend_flow_run_leases("node-a", &ids(&["a1"]), 99_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .extend_flow_run_leases("node-b", &ids(&["a1", "b1"]), 70_000)
            .await
            .unwrap(),
        ["a1"]
    );
    // A queued run can be asked to stop too.
    apply(store, vec![create(run("b2", "con_b", 4), 10)]).await;
    assert!(
        store
            .request_flow_run_stop(WS, "b2")
            .await
            .unwrap()
            .unwrap()
            .stop_requested
    );
    db.finish().await;
}

#[tokio::test]
async fn purging_deletes_finished_runs_with_their_node_runs() {
    let (db, store) = fresh().await;
    let store = store.as_ref();
    let mut writes: Vec<FlowWrite> = ["r1", "r2", "r3", "r4", "r5"]
        .iter()
        .enumerate()
        .map(|(i, id)| create(run(id, &format!("con_{i}"), 1), 10))
        .collect();
    writes.push(FlowWrite::NodeRuns(vec![
        node_run("r1", "n1", "x"),
        node_run("r1", "n2", "y"),
        node_run("r3", "n1", "x"),
    ]));
    apply(store, writes).await;
    assert_eq!(claim(store, "node-a", 0, 60_000).await.len(), 5);
    apply(
        store,
        vec![
            complete("r1", "node-a", 1_000),
            update("r2", Some("node-a"), "failed", Some(3_000)),
            update("r5", Some("node-a"), "stopped", Some(500)),
        ],
    )
    .await;
    assert_eq!(store.purge_flow_runs(400).await.unwrap(), 0);
    assert_eq!(store.purge_flow_runs(2_000).await.unwrap(), 2);
    assert_eq!(get(store, "r1").await, None);
    assert_eq!(get(store, "r5").await, None);
    assert!(store
        .find_node_runs(WS, "r1", None, None, 10)
        .await
        .unwrap()
        .is_empty());
    // Unfinished runs stay whatever their age, with their node runs.
    assert_eq!(store.purge_flow_runs(i64::MAX).await.unwrap(), 1);
    assert_eq!(find(store, &query()).await, ["r3", "r4"]);
    assert_eq!(
        store
            .find_node_runs(WS, "r3", None, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    db.finish().await;
}

const CONNECTIONS: usize = 8;
const RUNS_PER_CONNECTION: usize = 6;

/// Several claimers on two nodes at once: a run is claimed once, a connection
/// never has two runs executing, and each connection's runs execute in order.
#[tokio::test]
async fn concurrent_claimers_never_run_two_runs_of_one_connection() {
    let db = TestDb::new().await;
    let (a, b) = (db.node().await, db.node().await);
    let mut writes = Vec::new();
    for n in 0..RUNS_PER_CONNECTION {
        for c in 0..CONNECTIONS {
            writes.push(create(
                run(&format!("c{c}_r{n}"), &format!("con_{c}"), 1),
                100,
            ));
        }
    }
    apply(a.flow_runs.as_ref(), writes).await;
    let total = CONNECTIONS * RUNS_PER_CONNECTION;
    // Which connections have a run executing, and the runs each executed in order.
    let executing: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let finished = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (n, stores) in [&a, &a, &a, &b, &b, &b].into_iter().enumerate() {
        let store: Stores = stores.clone();
        let executing = executing.clone();
        let finished = finished.clone();
        tasks.push(tokio::spawn(async move {
            let node = format!("node-{n}");
            let mut mine: Vec<FlowRunRow> = Vec::new();
            for _ in 0..10_000 {
                if finished.load(Ordering::SeqCst) == total {
                    return mine;
                }
                let claimed = store
                    .flow_runs
                    .claim_flow_runs(&node, 1_000, 600_000, 3)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                for r in &claimed {
                    assert!(
                        executing.lock().unwrap().insert(r.connection_id.clone()),
                        "{node} claimed {} while its connection had a run executing",
                        r.id
                    );
                }
                tokio::task::yield_now().await;
                for r in claimed {
                    // Off the list before the run ends: the next run of the
                    // connection can be claimed only once this commits.
                    executing.lock().unwrap().remove(&r.connection_id);
                    let done = store
                        .flow_runs
                        .apply_flow_writes(&[complete(&r.id, &node, 2_000)])
                        .await
                        .unwrap();
                    assert_eq!(done, vec![Applied], "{node} lost {}", r.id);
                    finished.fetch_add(1, Ordering::SeqCst);
                    mine.push(r);
                }
            }
            panic!("{node} did not see every run finish");
        }));
    }
    let mut by_connection: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for t in tasks {
        for r in t.await.unwrap() {
            assert!(seen.insert(r.id.clone()), "{} was claimed twice", r.id);
            assert_eq!(r.attempts, 1);
            by_connection
                .entry(r.connection_id)
                .or_default()
                .push((r.seq, r.id));
        }
    }
    assert_eq!(seen.len(), total);
    for (connection, mut runs) in by_connection {
        runs.sort();
        let ids: Vec<String> = runs.into_iter().map(|(_, id)| id).collect();
        let c = connection.trim_start_matches("con_");
        let expected: Vec<String> = (0..RUNS_PER_CONNECTION)
            .map(|n| format!("c{c}_r{n}"))
            .collect();
        assert_eq!(ids, expected);
    }
    db.finish().await;
}

/// Nodes creating runs of one connection at once never fill its queue past the cap.
#[tokio::test]
async fn concurrent_creates_stop_at_the_queue_cap() {
    const CAP: i64 = 5;
    let db = TestDb::new().await;
    let (a, b) = (db.node().await, db.node().await);
    let mut tasks = Vec::new();
    for (n, stores) in [&a, &a, &b, &b].into_iter().enumerate() {
        let store = stores.flow_runs.clone();
        tasks.push(tokio::spawn(async move {
            let mut applied = 0;
            for i in 0..10 {
                let outcome = store
                    .apply_flow_writes(&[
                        create(run(&format!("n{n}_r{i}"), "con_a", 1), CAP),
                        create(run(&format!("n{n}_o{i}"), &format!("con_{n}"), 1), 100),
                    ])
                    .await
                    .unwrap();
                assert_eq!(outcome[1], Applied);
                applied += usize::from(outcome[0] == Applied);
            }
            applied
        }));
    }
    let mut applied = 0;
    for t in tasks {
        applied += t.await.unwrap();
    }
    assert_eq!(applied, CAP as usize);
    let queued = FlowRunQuery {
        connection_id: Some("con_a".into()),
        ..query()
    };
    assert_eq!(
        a.flow_runs.find_flow_runs(&queued).await.unwrap().len(),
        CAP as usize
    );
    db.finish().await;
}

#[tokio::test]
async fn runs_are_counted_by_state_from_a_time_in_their_workspace_only() {
    let db = TestDb::new().await;
    let store = db.node().await.flow_runs;
    let mut writes = Vec::new();
    for (id, created) in [("a", 1_000), ("b", 2_000), ("c", 3_000), ("d", 4_000)] {
        writes.push(create(run(id, "conn_1", created), 100));
    }
    store.apply_flow_writes(&writes).await.unwrap();
    store
        .apply_flow_writes(&[
            update("c", None, "failed", Some(3_500)),
            update("d", None, "completed", Some(4_500)),
        ])
        .await
        .unwrap();
    let counts = store.count_flow_runs_by_state(WS, 2_000).await.unwrap();
    assert_eq!(
        counts,
        vec![
            ("completed".to_string(), 1),
            ("failed".to_string(), 1),
            ("queued".to_string(), 1)
        ]
    );
    assert!(store
        .count_flow_runs_by_state("ws_other", 0)
        .await
        .unwrap()
        .is_empty());
}
