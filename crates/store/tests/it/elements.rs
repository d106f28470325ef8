//! The element table as the store enforces it, on the backend under test: the
//! revision compare-and-swap (the only guard when several nodes write one element
//! on PostgreSQL: the engine's lock and its own revision check are per node),
//! uniqueness, and what a query selects and in which order.

use std::collections::BTreeSet;
use std::sync::Arc;

use osmosis_model::{ids, Element, ElementType};
use osmosis_store::{ElementQuery, ElementWrite, RefFilter, StoreError, Stores, UniqueField};
use serde_json::json;

use crate::common::*;

/// `e` renamed under a new revision, as the engine prepares a write.
fn renamed(e: &Element, name: &str) -> Element {
    Element {
        name: name.into(),
        revision: ids::revision(),
        updated_at: "2026-01-02T00:00:00.000Z".into(),
        ..e.clone()
    }
}

#[tokio::test]
async fn a_write_naming_the_current_revision_lands_and_bumps_it() {
    let db = TestDb::new().await;
    let node = db.node().await;
    let e = insert(&*node.elements, element(WS, ElementType::Flow, "f")).await;
    let mut next = renamed(&e, "Renamed");
    next.doc.insert("enabled".into(), json!(true));
    // Identity and creation time are not the writer's to change.
    next.created_at = "2030-01-01T00:00:00.000Z".into();
    node.elements
        .update_element(&next, "", &e.revision)
        .await
        .unwrap();
    let now = stored(&db, &e).await;
    assert_eq!(now.revision, next.revision);
    assert_ne!(now.revision, e.revision);
    assert_eq!(now.name, "Renamed");
    assert_eq!(now.doc["enabled"], json!(true));
    assert_eq!(now.updated_at, next.updated_at);
    assert_eq!(now.created_at, e.created_at);
    assert_eq!((now.seq, &now.uuid), (e.seq, &e.uuid));
    // The new revision is the one to name next.
    let third = renamed(&now, "Third");
    node.elements
        .update_element(&third, "", &now.revision)
        .await
        .unwrap();
    assert_eq!(stored(&db, &e).await.name, "Third");
    db.finish().await;
}

#[tokio::test]
async fn a_write_naming_a_stale_revision_is_a_conflict_and_changes_nothing() {
    let db = TestDb::new().await;
    let (a, b) = (db.node().await, db.node().await);
    let e = insert(&*a.elements, element(WS, ElementType::Flow, "f")).await;
    // Both nodes read revision 1; node A writes first.
    let seen_by_b = b.elements.element_by_id(WS, &e.id).await.unwrap().unwrap();
    let first = renamed(&e, "First");
    a.elements
        .update_element(&first, "", &e.revision)
        .await
        .unwrap();
    // Node B's write names the revision it read, which is gone.
    let mut late = renamed(&seen_by_b, "Late");
    late.doc.insert("enabled".into(), json!(true));
    late.archived_at = Some("2026-01-03T00:00:00.000Z".into());
    let refused = b
        .elements
        .update_element(&late, "", &seen_by_b.revision)
        .await;
    assert!(
        matches!(refused, Err(StoreError::RevisionConflict)),
        "{refused:?}"
    );
    // So is node A's own repeat of its old revision.
    let again = a.elements.update_element(&late, "", &e.revision).await;
    assert!(
        matches!(again, Err(StoreError::RevisionConflict)),
        "{again:?}"
    );
    let now = stored(&db, &e).await;
    assert_eq!(now.revision, first.revision);
    assert_eq!(now.name, "First");
    assert!(now.doc.is_empty(), "{:?}", now.doc);
    assert_eq!(now.archived_at, None);
    db.finish().await;
}

/// A row is found by workspace and id: the same id in another workspace, or an id
/// no row has, is not written (and says so).
#[tokio::test]
async fn a_write_reaches_only_its_own_workspace_and_row() {
    let db = TestDb::new().await;
    let node = db.node().await;
    node.workspaces
        .insert_workspace(&workspace("ws_2"))
        .await
        .unwrap();
    let e = insert(&*node.elements, element(WS, ElementType::Flow, "f")).await;
    let elsewhere = Element {
        workspace_id: "ws_2".into(),
        ..renamed(&e, "Elsewhere")
    };
    let refused = node
        .elements
        .update_element(&elsewhere, "", &e.revision)
        .await;
    assert!(
        matches!(refused, Err(StoreError::RevisionConflict)),
        "{refused:?}"
    );
    let missing = Element {
        id: format!("flw_{}", ids::object_id()),
        ..renamed(&e, "Missing")
    };
    let refused = node
        .elements
        .update_element(&missing, "", &e.revision)
        .await;
    assert!(
        matches!(refused, Err(StoreError::RevisionConflict)),
        "{refused:?}"
    );
    let now = stored(&db, &e).await;
    assert_eq!((now.name.as_str(), &now.revision), ("f", &e.revision));
    assert_eq!(
        node.elements.element_by_id("ws_2", &e.id).await.unwrap(),
        None
    );
    db.finish().await;
}

/// Writers on two nodes that all read revision 1 race to write it: the database
/// lets exactly one through, whatever the interleaving.
#[tokio::test]
async fn of_concurrent_writers_naming_one_revision_exactly_one_wins() {
    const WRITERS_PER_NODE: usize = 8;
    let db = TestDb::new().await;
    let nodes = [db.node().await, db.node().await];
    let e = insert(&*nodes[0].elements, element(WS, ElementType::Flow, "f")).await;
    let start = Arc::new(tokio::sync::Barrier::new(2 * WRITERS_PER_NODE));
    let mut writers = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for w in 0..WRITERS_PER_NODE {
            let (node, start) = (node.clone(), start.clone());
            let mine = renamed(&e, &format!("node {n} writer {w}"));
            let expected = e.revision.clone();
            writers.push(tokio::spawn(async move {
                start.wait().await;
                let outcome = node.elements.update_element(&mine, "", &expected).await;
                (mine, outcome)
            }));
        }
    }
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            (mine, Ok(())) => winners.push(mine),
            (_, Err(StoreError::RevisionConflict)) => {}
            (_, Err(e)) => panic!("a writer failed otherwise: {e:?}"),
        }
    }
    let names: Vec<_> = winners.iter().map(|w| &w.name).collect();
    assert_eq!(winners.len(), 1, "winners: {names:?}");
    let now = stored(&db, &e).await;
    assert_eq!(
        (&now.name, &now.revision),
        (&winners[0].name, &winners[0].revision)
    );
    db.finish().await;
}

#[tokio::test]
async fn ids_uuids_and_live_keys_are_unique_and_archiving_frees_a_key() {
    let db = TestDb::new().await;
    let node = db.node().await;
    let a = insert(&*node.elements, element(WS, ElementType::Action, "k")).await;
    let unique = |r: Result<i64, StoreError>| match r {
        Err(StoreError::Unique(field)) => field,
        other => panic!("expected a unique violation: {other:?}"),
    };
    let same_key = element(WS, ElementType::Action, "k");
    assert_eq!(
        unique(node.elements.insert_element(&same_key, "").await),
        UniqueField::Key
    );
    let same_uuid = Element {
        uuid: a.uuid.clone(),
        ..element(WS, ElementType::Action, "k2")
    };
    assert_eq!(
        unique(node.elements.insert_element(&same_uuid, "").await),
        UniqueField::Uuid
    );
    let same_id = Element {
        id: a.id.clone(),
        ..element(WS, ElementType::Action, "k3")
    };
    assert_eq!(
        unique(node.elements.insert_element(&same_id, "").await),
        UniqueField::Id
    );
    // Another scope, another type: the key is free there.
    node.elements
        .insert_element(&element(WS, ElementType::Action, "k"), "int_1")
        .await
        .unwrap();
    node.elements
        .insert_element(&element(WS, ElementType::Flow, "k"), "")
        .await
        .unwrap();
    // Archiving frees the key; restoring over its new holder is refused.
    let archived = Element {
        archived_at: Some("2026-01-02T00:00:00.000Z".into()),
        ..renamed(&a, "k")
    };
    node.elements
        .update_element(&archived, "", &a.revision)
        .await
        .unwrap();
    insert(&*node.elements, element(WS, ElementType::Action, "k")).await;
    let restored = Element {
        archived_at: None,
        ..renamed(&archived, "k")
    };
    let clash = node
        .elements
        .update_element(&restored, "", &archived.revision)
        .await;
    assert!(
        matches!(clash, Err(StoreError::Unique(UniqueField::Key))),
        "{clash:?}"
    );
    assert_eq!(stored(&db, &a).await.revision, archived.revision);
    db.finish().await;
}

/// Every page of `q` from the start, `limit` at a time: the ids in order and the
/// size of each page. Stops at the first page shorter than `limit` (the store's
/// own end), or after one page more than `max_items` could fill.
async fn pages(store: &Stores, q: &ElementQuery, max_items: usize) -> (Vec<String>, Vec<usize>) {
    let (mut ids, mut sizes) = (Vec::new(), Vec::new());
    let mut q = q.clone();
    for _ in 0..=max_items / q.limit as usize + 1 {
        let page = store.elements.find_elements(&q).await.unwrap();
        sizes.push(page.len());
        let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]) && seqs.iter().all(|s| *s > q.after_seq),
            "page after {} is not in seq order: {seqs:?}",
            q.after_seq
        );
        ids.extend(page.iter().map(|e| e.id.clone()));
        match page.last() {
            Some(last) if page.len() as i64 == q.limit => q.after_seq = last.seq,
            _ => return (ids, sizes),
        }
    }
    panic!("more than {max_items} items: {sizes:?}");
}

#[tokio::test]
async fn pages_follow_creation_order_and_stay_in_their_workspace_and_type() {
    let db = TestDb::new().await;
    let node = db.node().await;
    node.workspaces
        .insert_workspace(&workspace("ws_2"))
        .await
        .unwrap();
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            insert(
                &*node.elements,
                element(WS, ElementType::Flow, &format!("f{i}")),
            )
            .await
            .id,
        );
        // Neighbours in the same table that no page of WS's flows may show.
        insert(
            &*node.elements,
            element("ws_2", ElementType::Flow, &format!("f{i}")),
        )
        .await;
        insert(
            &*node.elements,
            element(WS, ElementType::Action, &format!("a{i}")),
        )
        .await;
    }
    let mut q = ElementQuery::new(WS, ElementType::Flow);
    q.limit = 3;
    let (ids, sizes) = pages(&node, &q, created.len()).await;
    assert_eq!(ids, created);
    assert_eq!(sizes, [3, 3, 1]);
    q.limit = 7;
    let (ids, sizes) = pages(&node, &q, created.len()).await;
    assert_eq!((ids, sizes), (created.clone(), vec![7, 0]));
    assert!(
        pages(&node, &ElementQuery::new("ws_3", ElementType::Flow), 0)
            .await
            .0
            .is_empty()
    );
    db.finish().await;
}

/// Which of a few differently placed elements each filter selects.
#[tokio::test]
async fn filters_select_by_reference_archive_search_and_document() {
    let db = TestDb::new().await;
    let node = db.node().await;
    let put = |key: &str, change: &dyn Fn(&mut Element)| {
        let mut e = element(WS, ElementType::Flow, key);
        change(&mut e);
        let node = node.clone();
        async move { insert(&*node.elements, e).await }
    };
    put("in-int-1", &|e| {
        e.integration_id = Some("int_1".into());
        e.customer_id = Some("c1".into());
    })
    .await;
    put("in-int-2", &|e| {
        e.integration_id = Some("int_2".into());
        e.archived_at = Some("2026-01-02T00:00:00.000Z".into());
    })
    .await;
    put("pct", &|e| {
        e.name = "100%_Done".into();
        e.doc.insert("isTest".into(), json!(true));
    })
    .await;
    put("thousand", &|e| {
        e.name = "1000 rows".into();
        e.doc.insert("isTest".into(), json!(false));
    })
    .await;
    put("plain", &|_| {}).await;
    let keys = |change: &dyn Fn(&mut ElementQuery)| {
        let mut q = ElementQuery::new(WS, ElementType::Flow);
        change(&mut q);
        let node = node.clone();
        async move {
            let found: BTreeSet<String> = node
                .elements
                .find_elements(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.key.unwrap())
                .collect();
            // The same query over the rows in memory (an import's staged
            // writes) selects the same rows.
            let mut every = ElementQuery::new(WS, ElementType::Flow);
            every.include_archived = true;
            let in_memory: BTreeSet<String> = node
                .elements
                .find_elements(&every)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| q.matches(e))
                .map(|e| e.key.unwrap())
                .collect();
            assert_eq!(found, in_memory, "{q:?}");
            found
        }
    };
    let set = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        keys(&|_| {}).await,
        set(&["in-int-1", "pct", "thousand", "plain"])
    );
    assert_eq!(
        keys(&|q| q.include_archived = true).await,
        set(&["in-int-1", "in-int-2", "pct", "thousand", "plain"])
    );
    assert_eq!(
        keys(&|q| q.integration = RefFilter::Is("int_1".into())).await,
        set(&["in-int-1"])
    );
    assert_eq!(
        keys(&|q| {
            q.integration = RefFilter::Some;
            q.include_archived = true;
        })
        .await,
        set(&["in-int-1", "in-int-2"])
    );
    assert_eq!(
        keys(&|q| q.integration = RefFilter::None).await,
        set(&["pct", "thousand", "plain"])
    );
    assert_eq!(
        keys(&|q| q.customer = RefFilter::Is("c1".into())).await,
        set(&["in-int-1"])
    );
    // Search: a case-insensitive substring of name or key, `%` and `_` taken literally.
    assert_eq!(
        keys(&|q| q.search = Some("100%".into())).await,
        set(&["pct"])
    );
    assert_eq!(
        keys(&|q| q.search = Some("THOUSAND".into())).await,
        set(&["thousand"])
    );
    assert_eq!(keys(&|q| q.search = Some("_".into())).await, set(&["pct"]));
    // A flag a document lacks reads as false.
    assert_eq!(
        keys(&|q| q.doc_equals = vec![("isTest".into(), json!(true))]).await,
        set(&["pct"])
    );
    assert_eq!(
        keys(&|q| q.doc_equals = vec![("isTest".into(), json!(false))]).await,
        set(&["in-int-1", "thousand", "plain"])
    );
    db.finish().await;
}

#[tokio::test]
async fn a_batch_of_writes_lands_whole_or_not_at_all() {
    let db = TestDb::new().await;
    let node = db.node().await;
    let old = insert(&*node.elements, element(WS, ElementType::Action, "old")).await;
    let kept = insert(&*node.elements, element(WS, ElementType::Action, "kept")).await;
    let write = |e: Element, expected: Option<&str>| ElementWrite {
        element: e,
        key_scope: String::new(),
        expected_revision: expected.map(str::to_owned),
    };
    // The last write names a revision that is no longer current: nothing of
    // the batch lands, and the failed write is named.
    let new = element(WS, ElementType::Action, "new");
    let failed = node
        .elements
        .write_elements(&[
            write(new.clone(), None),
            write(renamed(&old, "Old renamed"), Some(&old.revision)),
            write(renamed(&kept, "Kept renamed"), Some("stale")),
        ])
        .await
        .unwrap_err();
    assert_eq!(failed.index, Some(2));
    assert!(
        matches!(failed.error, StoreError::RevisionConflict),
        "{:?}",
        failed.error
    );
    assert_eq!(stored(&db, &old).await.name, old.name);
    let lookup = |key: &str| {
        let mut q = ElementQuery::new(WS, ElementType::Action);
        q.key = Some(key.into());
        q
    };
    assert!(node
        .elements
        .find_elements(&lookup("new"))
        .await
        .unwrap()
        .is_empty());
    // A key taken by a live element fails the batch the same way.
    let failed = node
        .elements
        .write_elements(&[
            write(renamed(&old, "Old renamed"), Some(&old.revision)),
            write(element(WS, ElementType::Action, "kept"), None),
        ])
        .await
        .unwrap_err();
    assert_eq!(failed.index, Some(1));
    assert!(
        matches!(failed.error, StoreError::Unique(UniqueField::Key)),
        "{:?}",
        failed.error
    );
    assert_eq!(stored(&db, &old).await.name, old.name);
    // In order: archiving first frees the key a new element then takes.
    let mut archived = renamed(&kept, "Kept");
    archived.archived_at = Some("2026-01-02T00:00:00.000Z".into());
    let seqs = node
        .elements
        .write_elements(&[
            write(archived, Some(&kept.revision)),
            write(element(WS, ElementType::Action, "kept"), None),
            write(new.clone(), None),
        ])
        .await
        .unwrap();
    assert_eq!(seqs.len(), 3);
    assert_eq!(seqs[0], kept.seq);
    assert!(seqs[1] > kept.seq && seqs[2] > seqs[1], "{seqs:?}");
    assert!(stored(&db, &kept).await.archived_at.is_some());
    let fresh = node.elements.find_elements(&lookup("kept")).await.unwrap();
    assert_eq!(fresh.len(), 1);
    assert_ne!(fresh[0].id, kept.id);
    assert_eq!(
        node.elements
            .find_elements(&lookup("new"))
            .await
            .unwrap()
            .len(),
        1
    );
    db.finish().await;
}

/// Node `a`'s reads of `e` until they show `name` (another node's write reaches
/// `a`'s cache as a notice, a moment after it commits); the reads it took.
async fn reads_until_named(a: &Stores, e: &Element, name: &str) -> usize {
    for read in 1..=200 {
        let by_id = a.elements.element_by_id(WS, &e.id).await.unwrap().unwrap();
        let mut q = ElementQuery::new(WS, e.element_type);
        q.key = e.key.clone();
        let listed = a.elements.find_elements(&q).await.unwrap();
        if by_id.name == name && listed.first().map(|l| l.name.as_str()) == Some(name) {
            return read;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "node a still reads `{}` two seconds after another node renamed it to `{name}`",
        e.name
    );
}

#[tokio::test]
async fn a_node_reads_what_another_node_wrote_though_it_cached_the_element() {
    // Only PostgreSQL is shared by nodes: a SQLite file has one (whose cache sees
    // every write there is).
    if !is_postgres() {
        return;
    }
    let db = TestDb::new().await;
    let (a, b) = (db.node().await, db.node().await);
    let e = insert(&*b.elements, element(WS, ElementType::Flow, "f")).await;
    // Node a reads (and on either database may cache) the element by id and by key.
    reads_until_named(&a, &e, &e.name).await;
    let renamed_by_b = renamed(&e, "Renamed on b");
    b.elements
        .update_element(&renamed_by_b, "", &e.revision)
        .await
        .unwrap();
    reads_until_named(&a, &e, "Renamed on b").await;
    // Its own writes it reads back at once.
    let renamed_by_a = renamed(&renamed_by_b, "Renamed on a");
    a.elements
        .update_element(&renamed_by_a, "", &renamed_by_b.revision)
        .await
        .unwrap();
    assert_eq!(reads_until_named(&a, &e, "Renamed on a").await, 1);
    // And an element another node creates is found once it exists.
    let other = insert(&*b.elements, element(WS, ElementType::Flow, "g")).await;
    reads_until_named(&a, &other, &other.name).await;
    db.finish().await;
}

#[tokio::test]
async fn elements_are_counted_by_the_query_filters_not_its_page() {
    let db = TestDb::new().await;
    let node = db.node().await;
    node.workspaces
        .insert_workspace(&workspace("ws_other"))
        .await
        .unwrap();
    let store = node.elements;
    for i in 0..7 {
        let mut e = element(WS, ElementType::Connection, &format!("c{i}"));
        if i % 3 == 0 {
            e.doc
                .insert("disconnected".into(), serde_json::Value::Bool(true));
        }
        insert(store.as_ref(), e).await;
    }
    insert(
        store.as_ref(),
        element("ws_other", ElementType::Connection, "x"),
    )
    .await;
    let mut q = ElementQuery::new(WS, ElementType::Connection);
    q.limit = 2;
    q.after_seq = 3;
    assert_eq!(store.count_elements(&q).await.unwrap(), 7);
    q.doc_equals = vec![("disconnected".into(), serde_json::Value::Bool(true))];
    assert_eq!(store.count_elements(&q).await.unwrap(), 3);
    q.doc_equals.clear();
    q.search = Some("C1".into());
    assert_eq!(store.count_elements(&q).await.unwrap(), 1);
}
