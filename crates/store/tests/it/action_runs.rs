//! Action run logs on the backend under test: runs read back as written (absent
//! layer ids as absent, record keys in order), lists leave the details out and
//! select by every filter within one workspace, cursors page through a list in
//! either direction without skipping or repeating a run, and retention deletes by
//! creation time.

use osmosis_store::{ActionRunLog, ActionRunLogQuery, ActionRunLogStore};
use serde_json::json;

use crate::common::*;

const RUNS: i64 = 7;

/// Run `n` of [`RUNS`]: the ids vary with `n` so that each filter selects a
/// different subset, and runs 6 and 7 have neither integration nor connection.
fn run(n: i64) -> ActionRunLog {
    let some_if = |yes: bool, id: &str| yes.then(|| id.to_string());
    ActionRunLog {
        seq: 0,
        id: format!("run_{n}"),
        workspace_id: WS.into(),
        customer_id: format!("cus_{}", n % 2),
        integration_id: if n <= 5 { "int_1" } else { "" }.into(),
        connection_id: match n {
            1..=3 => "con_a",
            4..=5 => "con_b",
            _ => "",
        }
        .into(),
        action_id: format!("act_{}", n % 3),
        universal_action_id: some_if(n % 2 == 1, "ua_1"),
        integration_action_id: some_if((2..=4).contains(&n), "ia_1"),
        connection_action_id: some_if(n == 3, "ca_1"),
        is_success: n != 5,
        created_ms: 1_000 * n,
        // Keys out of alphabetical order: the record must come back as written.
        record: json!({"id": format!("run_{n}"), "zeta": n, "alpha": {"y": [3, 2, 1]}}),
        details: json!({"calls": [{"request": {"method": "GET"}, "n": n}]}),
    }
}

fn query() -> ActionRunLogQuery {
    ActionRunLogQuery {
        workspace_id: WS.into(),
        limit: 100,
        ..Default::default()
    }
}

async fn ids(store: &dyn ActionRunLogStore, q: &ActionRunLogQuery) -> Vec<String> {
    store
        .find_action_runs(q)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn names(ns: &[i64]) -> Vec<String> {
    ns.iter().map(|n| format!("run_{n}")).collect()
}

/// A fresh database holding runs 1 to [`RUNS`] of [`WS`] (written in two batches)
/// and one run of another workspace.
async fn seeded() -> (
    TestDb,
    std::sync::Arc<dyn ActionRunLogStore>,
    Vec<ActionRunLog>,
) {
    let db = TestDb::new().await;
    let store = db.node().await.action_runs;
    store.insert_action_runs(&[]).await.unwrap();
    let written: Vec<ActionRunLog> = (1..=RUNS).map(run).collect();
    store.insert_action_runs(&written[..2]).await.unwrap();
    store.insert_action_runs(&written[2..]).await.unwrap();
    let elsewhere = ActionRunLog {
        id: "run_elsewhere".into(),
        workspace_id: "ws_2".into(),
        ..run(1)
    };
    store.insert_action_runs(&[elsewhere]).await.unwrap();
    (db, store, written)
}

#[tokio::test]
async fn a_run_reads_back_by_id_with_its_details_and_lists_without_them() {
    let (db, store, written) = seeded().await;
    let all = store.find_action_runs(&query()).await.unwrap();
    assert_eq!(all.len(), written.len());
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    for (read, wrote) in all.iter().zip(&written) {
        assert!(read.seq > 0);
        let expected = ActionRunLog {
            seq: read.seq,
            details: serde_json::Value::Null,
            ..wrote.clone()
        };
        assert_eq!(read, &expected);
        assert_eq!(
            serde_json::to_string(&read.record).unwrap(),
            serde_json::to_string(&wrote.record).unwrap(),
            "the record keeps its key order"
        );
    }
    for (listed, wrote) in all.iter().zip(&written) {
        let one = store
            .action_run_by_id(WS, &wrote.id)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(
            one,
            ActionRunLog {
                seq: listed.seq,
                ..wrote.clone()
            }
        );
    }
    assert_eq!(store.action_run_by_id(WS, "run_none").await.unwrap(), None);
    db.finish().await;
}

#[tokio::test]
async fn runs_stay_in_their_workspace() {
    let (db, store, _) = seeded().await;
    assert_eq!(store.action_run_by_id("ws_2", "run_3").await.unwrap(), None);
    assert_eq!(
        store.action_run_by_id(WS, "run_elsewhere").await.unwrap(),
        None
    );
    let theirs = ActionRunLogQuery {
        workspace_id: "ws_2".into(),
        ..query()
    };
    assert_eq!(ids(store.as_ref(), &theirs).await, ["run_elsewhere"]);
    assert!(!ids(store.as_ref(), &query())
        .await
        .contains(&"run_elsewhere".to_string()));
    let other = store
        .action_run_by_id("ws_2", "run_elsewhere")
        .await
        .unwrap()
        .expect("found in its own workspace");
    assert_eq!(other.workspace_id, "ws_2");
    db.finish().await;
}

#[tokio::test]
async fn every_filter_selects_by_equality() {
    let (db, store, _) = seeded().await;
    let s = |v: &str| Some(v.to_string());
    let cases: Vec<(&str, ActionRunLogQuery, Vec<i64>)> = vec![
        (
            "customer",
            ActionRunLogQuery {
                customer_id: s("cus_0"),
                ..query()
            },
            vec![2, 4, 6],
        ),
        (
            "integration",
            ActionRunLogQuery {
                integration_id: s("int_1"),
                ..query()
            },
            vec![1, 2, 3, 4, 5],
        ),
        (
            "no integration",
            ActionRunLogQuery {
                integration_id: s(""),
                ..query()
            },
            vec![6, 7],
        ),
        (
            "connection",
            ActionRunLogQuery {
                connection_id: s("con_b"),
                ..query()
            },
            vec![4, 5],
        ),
        (
            "action",
            ActionRunLogQuery {
                action_id: s("act_1"),
                ..query()
            },
            vec![1, 4, 7],
        ),
        (
            "universal action",
            ActionRunLogQuery {
                universal_action_id: s("ua_1"),
                ..query()
            },
            vec![1, 3, 5, 7],
        ),
        (
            "integration action",
            ActionRunLogQuery {
                integration_action_id: s("ia_1"),
                ..query()
            },
            vec![2, 3, 4],
        ),
        (
            "connection action",
            ActionRunLogQuery {
                connection_action_id: s("ca_1"),
                ..query()
            },
            vec![3],
        ),
        (
            "failure",
            ActionRunLogQuery {
                is_success: Some(false),
                ..query()
            },
            vec![5],
        ),
        (
            "success",
            ActionRunLogQuery {
                is_success: Some(true),
                ..query()
            },
            vec![1, 2, 3, 4, 6, 7],
        ),
        (
            "from",
            ActionRunLogQuery {
                from_ms: Some(5_000),
                ..query()
            },
            vec![5, 6, 7],
        ),
        (
            "to",
            ActionRunLogQuery {
                to_ms: Some(2_000),
                ..query()
            },
            vec![1, 2],
        ),
        (
            "from and to, bounds included",
            ActionRunLogQuery {
                from_ms: Some(2_000),
                to_ms: Some(4_000),
                ..query()
            },
            vec![2, 3, 4],
        ),
        (
            "filters combine",
            ActionRunLogQuery {
                connection_id: s("con_a"),
                universal_action_id: s("ua_1"),
                ..query()
            },
            vec![1, 3],
        ),
        (
            "an unknown id",
            ActionRunLogQuery {
                action_id: s("act_9"),
                ..query()
            },
            vec![],
        ),
    ];
    for (what, q, expected) in cases {
        assert_eq!(ids(store.as_ref(), &q).await, names(&expected), "{what}");
    }
    db.finish().await;
}

/// Every id `q` lists, a page of `limit` at a time; fails rather than loops when the
/// cursor does not advance.
async fn paged(store: &dyn ActionRunLogStore, q: ActionRunLogQuery, limit: i64) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor = None;
    for _ in 0..=RUNS {
        let page = store
            .find_action_runs(&ActionRunLogQuery {
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
async fn cursors_page_through_a_list_in_either_direction() {
    let (db, store, _) = seeded().await;
    let all: Vec<i64> = (1..=RUNS).collect();
    let newest_first: Vec<i64> = all.iter().rev().copied().collect();
    for limit in [1, 2, 3, RUNS, RUNS + 1] {
        assert_eq!(
            paged(store.as_ref(), query(), limit).await,
            names(&all),
            "ascending by {limit}"
        );
        let descending = ActionRunLogQuery {
            descending: true,
            ..query()
        };
        assert_eq!(
            paged(store.as_ref(), descending, limit).await,
            names(&newest_first),
            "descending by {limit}"
        );
    }
    // A cursor continues a filtered list too.
    let successes = ActionRunLogQuery {
        is_success: Some(true),
        descending: true,
        ..query()
    };
    assert_eq!(
        paged(store.as_ref(), successes, 2).await,
        names(&[7, 6, 4, 3, 2, 1])
    );
    db.finish().await;
}

#[tokio::test]
async fn purging_deletes_runs_created_before_the_cutoff() {
    let (db, store, _) = seeded().await;
    assert_eq!(store.purge_action_runs(1_000).await.unwrap(), 0);
    // Runs 1 and 2 of this workspace and the other workspace's copy of run 1.
    assert_eq!(store.purge_action_runs(3_000).await.unwrap(), 3);
    assert_eq!(ids(store.as_ref(), &query()).await, names(&[3, 4, 5, 6, 7]));
    assert_eq!(store.action_run_by_id(WS, "run_1").await.unwrap(), None);
    assert!(store.action_run_by_id(WS, "run_3").await.unwrap().is_some());
    assert_eq!(store.purge_action_runs(3_000).await.unwrap(), 0);
    db.finish().await;
}
