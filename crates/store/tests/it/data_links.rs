//! Data links on the backend under test: links read back as written, one row per
//! direction; writing a link again changes nothing; a new link replaces the older
//! link of either of its records in its instance and direction (and nowhere else);
//! lists filter by equality and page by cursor without skipping or repeating; deletes
//! take the pair in the directions named; and writers racing on the same records,
//! on two nodes, all succeed and leave every record in at most one link.

use std::sync::Arc;

use osmosis_store::{DataLink, DataLinkQuery, DataLinkStore};

use crate::common::*;

const INSTANCE: &str = "dli_1";

fn link(instance: &str, direction: &str, app: &str, external: &str) -> DataLink {
    DataLink {
        seq: 0,
        id: osmosis_model::ids::object_id(),
        workspace_id: WS.into(),
        instance_id: instance.into(),
        external_record_id: external.into(),
        app_record_id: app.into(),
        direction: direction.into(),
        created_at: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn query(instance: &str) -> DataLinkQuery {
    DataLinkQuery {
        workspace_id: WS.into(),
        instance_id: instance.into(),
        limit: 1000,
        ..Default::default()
    }
}

/// `direction app→external` of every link `q` lists, in order.
async fn pairs(store: &dyn DataLinkStore, q: &DataLinkQuery) -> Vec<String> {
    store
        .find_data_links(q)
        .await
        .unwrap()
        .into_iter()
        .map(|l| {
            format!(
                "{} {}→{}",
                l.direction, l.app_record_id, l.external_record_id
            )
        })
        .collect()
}

async fn fresh() -> (TestDb, Arc<dyn DataLinkStore>) {
    let db = TestDb::new().await;
    let store = db.node().await.data_links;
    (db, store)
}

#[tokio::test]
async fn links_read_back_as_written_and_writing_one_again_changes_nothing() {
    let (db, store) = fresh().await;
    assert!(store.put_data_links(&[]).await.unwrap().is_empty());
    let written = vec![
        link(INSTANCE, "import", "a1", "e1"),
        link(INSTANCE, "export", "a1", "e1"),
    ];
    let stored = store.put_data_links(&written).await.unwrap();
    assert_eq!(stored.len(), 2);
    for (s, w) in stored.iter().zip(&written) {
        assert!(s.seq > 0);
        assert_eq!(
            s,
            &DataLink {
                seq: s.seq,
                ..w.clone()
            }
        );
    }
    assert_eq!(
        store.find_data_links(&query(INSTANCE)).await.unwrap(),
        stored
    );

    // The same links again, with new ids: the stored ones stay, ids and positions too.
    let again = vec![
        link(INSTANCE, "export", "a1", "e1"),
        link(INSTANCE, "import", "a1", "e1"),
    ];
    let answered = store.put_data_links(&again).await.unwrap();
    assert_eq!(answered, vec![stored[1].clone(), stored[0].clone()]);
    assert_eq!(
        store.find_data_links(&query(INSTANCE)).await.unwrap(),
        stored
    );
    db.finish().await;
}

#[tokio::test]
async fn a_new_link_replaces_the_older_link_of_either_record_in_its_direction_only() {
    let (db, store) = fresh().await;
    let put = |l: DataLink| {
        let store = store.clone();
        async move { store.put_data_links(&[l]).await.unwrap() }
    };
    put(link(INSTANCE, "import", "a1", "e1")).await;
    put(link(INSTANCE, "export", "a1", "e1")).await;
    put(link("dli_2", "import", "a1", "e1")).await;
    put(link(INSTANCE, "import", "a2", "e2")).await;

    // a1 now mirrors e9: its import link to e1 goes; the export one and the other
    // instance's stay.
    put(link(INSTANCE, "import", "a1", "e9")).await;
    assert_eq!(
        pairs(store.as_ref(), &query(INSTANCE)).await,
        ["export a1→e1", "import a2→e2", "import a1→e9"]
    );
    // e2 is now a3's: a2's link goes.
    put(link(INSTANCE, "import", "a3", "e2")).await;
    // Both records already linked elsewhere: both older links go.
    put(link(INSTANCE, "import", "a1", "e2")).await;
    assert_eq!(
        pairs(store.as_ref(), &query(INSTANCE)).await,
        ["export a1→e1", "import a1→e2"]
    );
    assert_eq!(
        pairs(store.as_ref(), &query("dli_2")).await,
        ["import a1→e1"]
    );
    db.finish().await;
}

#[tokio::test]
async fn lists_filter_by_equality_and_stay_in_their_instance_and_workspace() {
    let (db, store) = fresh().await;
    for i in 1..=3 {
        let (a, e) = (format!("a{i}"), format!("e{i}"));
        store
            .put_data_links(&[
                link(INSTANCE, "import", &a, &e),
                link(INSTANCE, "export", &a, &e),
            ])
            .await
            .unwrap();
    }
    store
        .put_data_links(&[link("dli_2", "import", "a1", "e1")])
        .await
        .unwrap();
    let elsewhere = DataLink {
        workspace_id: "ws_2".into(),
        ..link("dli_3", "import", "a1", "e1")
    };
    store.put_data_links(&[elsewhere]).await.unwrap();
    let s = |v: &str| Some(v.to_string());
    let cases: Vec<(&str, DataLinkQuery, Vec<&str>)> = vec![
        (
            "direction",
            DataLinkQuery {
                direction: s("export"),
                ..query(INSTANCE)
            },
            vec!["export a1→e1", "export a2→e2", "export a3→e3"],
        ),
        (
            "app record",
            DataLinkQuery {
                app_record_id: s("a2"),
                ..query(INSTANCE)
            },
            vec!["import a2→e2", "export a2→e2"],
        ),
        (
            "external record and direction",
            DataLinkQuery {
                external_record_id: s("e3"),
                direction: s("import"),
                ..query(INSTANCE)
            },
            vec!["import a3→e3"],
        ),
        (
            "a pair that is not linked",
            DataLinkQuery {
                app_record_id: s("a1"),
                external_record_id: s("e2"),
                ..query(INSTANCE)
            },
            vec![],
        ),
        ("another instance", query("dli_2"), vec!["import a1→e1"]),
        (
            "another workspace's instance, from this one",
            query("dli_3"),
            vec![],
        ),
        (
            "the instance, from another workspace",
            DataLinkQuery {
                workspace_id: "ws_2".into(),
                ..query(INSTANCE)
            },
            vec![],
        ),
    ];
    for (what, q, expected) in cases {
        assert_eq!(pairs(store.as_ref(), &q).await, expected, "{what}");
    }
    db.finish().await;
}

#[tokio::test]
async fn cursors_page_through_the_links_without_skipping_or_repeating() {
    let (db, store) = fresh().await;
    let written: Vec<DataLink> = (0..7)
        .map(|i| link(INSTANCE, "import", &format!("a{i}"), &format!("e{i}")))
        .collect();
    store.put_data_links(&written).await.unwrap();
    for limit in [1, 2, 3, 7, 8] {
        let mut seen = Vec::new();
        let mut cursor = None;
        for _ in 0..=written.len() {
            let page = store
                .find_data_links(&DataLinkQuery {
                    cursor,
                    limit,
                    ..query(INSTANCE)
                })
                .await
                .unwrap();
            assert!(page.len() as i64 <= limit);
            let Some(last) = page.last() else { break };
            cursor = Some(last.seq);
            seen.extend(page.into_iter().map(|l| l.app_record_id));
        }
        let all: Vec<String> = written.iter().map(|l| l.app_record_id.clone()).collect();
        assert_eq!(seen, all, "by {limit}");
    }
    db.finish().await;
}

#[tokio::test]
async fn deleting_takes_the_pair_in_the_directions_named() {
    let (db, store) = fresh().await;
    let both = |a: &str, e: &str| {
        vec![
            link(INSTANCE, "import", a, e),
            link(INSTANCE, "export", a, e),
        ]
    };
    store.put_data_links(&both("a1", "e1")).await.unwrap();
    store.put_data_links(&both("a2", "e2")).await.unwrap();
    let delete = |a: &'static str, e: &'static str, directions: &'static [&'static str]| {
        let store = store.clone();
        async move {
            store
                .delete_data_links(WS, INSTANCE, a, e, directions)
                .await
                .unwrap()
        }
    };
    // Half a pair, a crossed pair, no direction: nothing.
    assert_eq!(delete("a1", "e2", &["import", "export"]).await, 0);
    assert_eq!(delete("a1", "e1", &[]).await, 0);
    assert_eq!(
        store
            .delete_data_links("ws_2", INSTANCE, "a1", "e1", &["import"])
            .await
            .unwrap(),
        0
    );
    assert_eq!(delete("a1", "e1", &["export"]).await, 1);
    assert_eq!(
        pairs(store.as_ref(), &query(INSTANCE)).await,
        ["import a1→e1", "import a2→e2", "export a2→e2"]
    );
    assert_eq!(delete("a2", "e2", &["import", "export"]).await, 2);
    assert_eq!(delete("a2", "e2", &["import", "export"]).await, 0);
    assert_eq!(
        pairs(store.as_ref(), &query(INSTANCE)).await,
        ["import a1→e1"]
    );
    db.finish().await;
}

/// Writers on two nodes link the same few records to each other at once: every
/// write succeeds (none sees the other's link as a conflict), and afterwards each
/// record is in at most one link per direction.
#[tokio::test]
async fn racing_writers_all_succeed_and_keep_links_one_to_one() {
    let db = TestDb::new().await;
    let nodes = [db.node().await.data_links, db.node().await.data_links];
    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = nodes[n % 2].clone();
        tasks.push(tokio::spawn(async move {
            let (a, e) = (format!("a{}", n % 3), format!("e{}", (n / 3) % 4));
            let both = [
                link(INSTANCE, "import", &a, &e),
                link(INSTANCE, "export", &a, &e),
            ];
            store.put_data_links(&both).await
        }));
    }
    for t in tasks {
        let stored = t.await.unwrap().expect("every write succeeds");
        assert_eq!(stored.len(), 2);
    }
    let all = nodes[0].find_data_links(&query(INSTANCE)).await.unwrap();
    assert!(!all.is_empty());
    for direction in ["import", "export"] {
        let of: Vec<&DataLink> = all.iter().filter(|l| l.direction == direction).collect();
        let mut apps: Vec<&str> = of.iter().map(|l| l.app_record_id.as_str()).collect();
        let mut externals: Vec<&str> = of.iter().map(|l| l.external_record_id.as_str()).collect();
        let n = of.len();
        apps.sort();
        apps.dedup();
        externals.sort();
        externals.dedup();
        assert_eq!((apps.len(), externals.len()), (n, n), "{direction}: {of:?}");
    }
    db.finish().await;
}
