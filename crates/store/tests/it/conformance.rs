//! What every store promises, checked through its trait alone on the backend under
//! test (`OSMOSIS_TEST_DATABASE`; the suite runs once per backend): each concern's
//! rows come back as they were written, its lookups find what they name and no
//! more, and its one-caller-only steps hold. The element and job stores' behaviour
//! across nodes is in `elements.rs` and `jobs.rs`.

use crate::common::*;
use osmosis_model::{ids, Element, ElementType};
use osmosis_store::{
    ConnectRecord, ElementQuery, ExternalApiLog, ExternalApiLogQuery, Job, Lease, RefFilter,
    StoreError, UniqueField,
};
use serde_json::json;

/// A document whose keys are out of alphabetical order, nested, with a large
/// number: stored as written, it reads back identical, key order included.
fn ordered_document() -> serde_json::Value {
    json!({"zeta": 1, "alpha": {"y": [3, 2, 1], "b": null}, "big": 12345678901234567890u64, "mid": "ü"})
}

/// The keys of a JSON object in order, at every level.
fn key_order(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(key_order(v)))
            .collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(key_order).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn workspaces_are_found_by_key_listed_oldest_first_and_unique() {
    let db = TestDb::new().await;
    let stores = db.node().await;
    let ws = &stores.workspaces;
    let later = osmosis_store::Workspace {
        created_at: "2026-02-01T00:00:00.000Z".into(),
        ..workspace("ws_later")
    };
    ws.insert_workspace(&later).await.unwrap();
    ws.insert_workspace(&workspace("ws_0")).await.unwrap();
    assert_eq!(
        ws.workspace_by_key("key-ws_later").await.unwrap(),
        Some(later)
    );
    assert_eq!(ws.workspace_by_key("key-none").await.unwrap(), None);
    let listed: Vec<String> = ws
        .list_workspaces()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    // Same creation time: by id.
    assert_eq!(listed, ["ws_0", WS, "ws_later"]);
    let same_key = osmosis_store::Workspace {
        id: "ws_other".into(),
        ..workspace("ws_0")
    };
    assert!(
        matches!(
            ws.insert_workspace(&same_key).await,
            Err(StoreError::Unique(UniqueField::WorkspaceKey))
        ),
        "a taken key"
    );
    let same_id = osmosis_store::Workspace {
        key: "key-fresh".into(),
        ..workspace("ws_0")
    };
    assert!(
        matches!(
            ws.insert_workspace(&same_id).await,
            Err(StoreError::Unique(UniqueField::Id))
        ),
        "a taken id"
    );
    db.finish().await;
}

#[tokio::test]
async fn workspace_settings_default_to_empty_and_keep_their_key_order() {
    let db = TestDb::new().await;
    let ws = db.node().await.workspaces;
    assert_eq!(ws.workspace_settings(WS).await.unwrap(), json!({}));
    assert_eq!(ws.workspace_settings("ws_none").await.unwrap(), json!({}));
    let settings = ordered_document();
    ws.set_workspace_settings(WS, &settings).await.unwrap();
    let read = ws.workspace_settings(WS).await.unwrap();
    assert_eq!(read, settings);
    assert_eq!(key_order(&read), key_order(&settings));
    db.finish().await;
}

#[tokio::test]
async fn an_element_reads_back_as_written_every_field_and_document_order() {
    let db = TestDb::new().await;
    let stores = db.node().await;
    let serde_json::Value::Object(doc) = ordered_document() else {
        unreachable!()
    };
    let full = Element {
        integration_id: Some("int_1".into()),
        parent_id: Some("flw_parent".into()),
        connection_id: Some("con_1".into()),
        instance_key: Some("inst".into()),
        customer_id: Some("cus_1".into()),
        archived_at: Some("2026-01-03T00:00:00.000Z".into()),
        updated_at: "2026-01-02T00:00:00.000Z".into(),
        doc,
        ..element(WS, ElementType::Flow, "full")
    };
    let bare = Element {
        key: None,
        ..element(WS, ElementType::Flow, "unused")
    };
    for e in [full, bare] {
        let written = insert(&*stores.elements, e).await;
        assert!(written.seq > 0);
        let read = stores
            .elements
            .element_by_id(WS, &written.id)
            .await
            .unwrap()
            .expect("found by id");
        assert_eq!(read, written);
        let doc = serde_json::Value::Object(read.doc.clone());
        assert_eq!(
            key_order(&doc),
            key_order(&serde_json::Value::Object(written.doc))
        );
    }
    assert_eq!(
        stores.elements.element_by_id(WS, "flw_none").await.unwrap(),
        None
    );
    db.finish().await;
}

#[tokio::test]
async fn element_lookups_by_identity_reference_and_document_value() {
    let db = TestDb::new().await;
    let stores = db.node().await;
    let put = |key: &str, change: &dyn Fn(&mut Element)| {
        let mut e = element(WS, ElementType::Connection, key);
        change(&mut e);
        let elements = stores.elements.clone();
        async move { insert(&*elements, e).await }
    };
    let a = put("a", &|e| {
        e.parent_id = Some("con_parent".into());
        e.instance_key = Some("one".into());
        e.doc.insert("externalAppId".into(), json!("app-1"));
    })
    .await;
    let b = put("b\\slash", &|e| {
        e.connection_id = Some("con_a".into());
        e.doc.insert("externalAppId".into(), json!("app-2"));
        e.doc.insert("count".into(), json!(2));
    })
    .await;
    // Two keyless elements: no key to clash.
    let keyless = put("unused", &|e| e.key = None).await;
    put("unused2", &|e| e.key = None).await;
    let ids = |change: &dyn Fn(&mut ElementQuery)| {
        let mut q = ElementQuery::new(WS, ElementType::Connection);
        change(&mut q);
        let elements = stores.elements.clone();
        async move {
            let found = elements.find_elements(&q).await.unwrap();
            found.into_iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(&|q| q.id = Some(a.id.clone())).await, [a.id.as_str()]);
    assert_eq!(
        ids(&|q| q.key = Some("b\\slash".into())).await,
        [b.id.as_str()]
    );
    assert_eq!(
        ids(&|q| q.uuid = Some(keyless.uuid.clone())).await,
        [keyless.id.as_str()]
    );
    assert_eq!(
        ids(&|q| q.parent = RefFilter::Is("con_parent".into())).await,
        [a.id.as_str()]
    );
    assert_eq!(
        ids(&|q| q.connection = RefFilter::Some).await,
        [b.id.as_str()]
    );
    assert_eq!(
        ids(&|q| q.instance_key = RefFilter::Is("one".into())).await,
        [a.id.as_str()]
    );
    assert_eq!(
        ids(&|q| q.doc_equals = vec![("externalAppId".into(), json!("app-2"))]).await,
        [b.id.as_str()]
    );
    assert_eq!(
        ids(&|q| q.doc_equals = vec![("count".into(), json!(2))]).await,
        [b.id.as_str()]
    );
    // A backslash in a search is literal, as `%` and `_` are.
    assert_eq!(
        ids(&|q| q.search = Some("\\S".into())).await,
        [b.id.as_str()]
    );
    // An identity lookup in another type or workspace finds nothing.
    let mut other_type = ElementQuery::new(WS, ElementType::Flow);
    other_type.id = Some(a.id.clone());
    assert!(stores
        .elements
        .find_elements(&other_type)
        .await
        .unwrap()
        .is_empty());
    let mut other_ws = ElementQuery::new("ws_2", ElementType::Connection);
    other_ws.id = Some(a.id.clone());
    assert!(stores
        .elements
        .find_elements(&other_ws)
        .await
        .unwrap()
        .is_empty());
    // The limit holds in identity lookups too.
    let all = ids(&|q| q.limit = 2).await;
    assert_eq!(all.len(), 2);
    db.finish().await;
}

fn job(key: &str, run_at: i64, payload: serde_json::Value) -> Job {
    Job {
        id: format!("job_{}", ids::object_id()),
        workspace_id: WS.into(),
        kind: "test".into(),
        dedupe_key: key.into(),
        payload,
        run_at,
        attempts: 0,
        last_error: None,
    }
}

fn lease(now_ms: i64) -> Lease {
    Lease {
        now_ms,
        duration_ms: 1_000,
    }
}

#[tokio::test]
async fn jobs_are_claimed_due_first_within_the_limit_and_keep_their_payload() {
    let db = TestDb::new().await;
    let jobs = db.node().await.jobs;
    jobs.schedule_job(&job("late", 300, json!({"n": 3})), 0)
        .await
        .unwrap();
    jobs.schedule_job(&job("early", 100, ordered_document()), 0)
        .await
        .unwrap();
    jobs.schedule_job(&job("middle", 200, json!(null)), 0)
        .await
        .unwrap();
    jobs.schedule_job(&job("future", 5_000, json!({})), 0)
        .await
        .unwrap();
    let first = jobs.claim_jobs("n", lease(1_000), 2).await.unwrap();
    let keys: Vec<_> = first.iter().map(|j| j.dedupe_key.as_str()).collect();
    assert_eq!(keys, ["early", "middle"]);
    assert_eq!(first[0].payload, ordered_document());
    assert_eq!(key_order(&first[0].payload), key_order(&ordered_document()));
    assert_eq!((first[0].attempts, &first[0].last_error), (1, &None));
    let rest = jobs.claim_jobs("n", lease(1_000), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (rest[0].dedupe_key.as_str(), &rest[0].payload),
        ("late", &json!({"n": 3}))
    );
    // A retry records why and waits for its time; its attempts count on.
    jobs.retry_job(&rest[0], "n", 1_500, "it broke")
        .await
        .unwrap();
    assert!(jobs
        .claim_jobs("n", lease(1_400), 10)
        .await
        .unwrap()
        .is_empty());
    let retried = jobs.claim_jobs("n", lease(1_500), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].attempts, retried[0].last_error.as_deref()),
        (2, Some("it broke"))
    );
    // Scheduling the same key again moves the job and starts its count over.
    jobs.schedule_job(&job("future", 1_600, json!({"moved": true})), 0)
        .await
        .unwrap();
    let moved = jobs.claim_jobs("n", lease(1_600), 10).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!((moved[0].run_at, moved[0].attempts), (1_600, 1));
    assert_eq!(moved[0].payload, json!({"moved": true}));
    // Finished jobs are gone.
    for j in first.iter().chain(&retried).chain(&moved) {
        jobs.finish_job(j, "n").await.unwrap();
    }
    assert!(jobs
        .claim_jobs("n", lease(100_000), 10)
        .await
        .unwrap()
        .is_empty());
    db.finish().await;
}

fn record(kind: &str, id: &str, expires_at: i64) -> ConnectRecord {
    ConnectRecord {
        workspace_id: WS.into(),
        kind: kind.into(),
        id: id.into(),
        customer_id: "cus_1".into(),
        doc: ordered_document(),
        expires_at,
        used_at: None,
        created_at: 10,
    }
}

#[tokio::test]
async fn a_connect_record_is_found_until_it_expires_and_taken_once() {
    let db = TestDb::new().await;
    let records = db.node().await.connect_records;
    let state = record("oauth-state", "s1", 1_000);
    records.put_connect_record(&state).await.unwrap();
    let found = records
        .connect_record(WS, "oauth-state", "s1", 500)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(found, state);
    assert_eq!(key_order(&found.doc), key_order(&state.doc));
    // The address is all three parts.
    assert_eq!(
        records
            .connect_record(WS, "connect-result", "s1", 500)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        records
            .connect_record("ws_2", "oauth-state", "s1", 500)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        records
            .connect_record(WS, "oauth-state", "s1", 1_000)
            .await
            .unwrap(),
        None
    );
    // Taken once; still readable, marked taken.
    let taken = records
        .take_connect_record(WS, "oauth-state", "s1", 600)
        .await
        .unwrap()
        .expect("the first take");
    assert_eq!(taken.used_at, Some(600));
    assert_eq!(
        records
            .take_connect_record(WS, "oauth-state", "s1", 700)
            .await
            .unwrap(),
        None
    );
    let read = records
        .connect_record(WS, "oauth-state", "s1", 700)
        .await
        .unwrap();
    assert_eq!(read.and_then(|r| r.used_at), Some(600));
    // Putting it again replaces it, untaken.
    let again = ConnectRecord {
        doc: json!({"second": true}),
        expires_at: 2_000,
        ..record("oauth-state", "s1", 0)
    };
    records.put_connect_record(&again).await.unwrap();
    let taken = records
        .take_connect_record(WS, "oauth-state", "s1", 1_500)
        .await
        .unwrap();
    assert_eq!(
        taken.map(|r| (r.doc, r.expires_at)),
        Some((json!({"second": true}), 2_000))
    );
    // An expired record cannot be taken, and purging forgets what expired before.
    records
        .put_connect_record(&record("connect-result", "r1", 100))
        .await
        .unwrap();
    assert_eq!(
        records
            .take_connect_record(WS, "connect-result", "r1", 100)
            .await
            .unwrap(),
        None
    );
    assert_eq!(records.purge_connect_records(100).await.unwrap(), 0);
    assert_eq!(records.purge_connect_records(101).await.unwrap(), 1);
    assert_eq!(records.purge_connect_records(5_000).await.unwrap(), 1);
    db.finish().await;
}

fn api_log(n: i64, connection: &str, ok: bool) -> ExternalApiLog {
    ExternalApiLog {
        seq: 0,
        id: format!("log_{n}"),
        workspace_id: WS.into(),
        customer_id: format!("cus_{}", n % 2),
        integration_id: "int_1".into(),
        connection_id: connection.into(),
        status_code: if ok { 200 } else { 500 },
        is_success: ok,
        request_url: format!("https://api.example.com/{n}"),
        duration_ms: n,
        created_ms: 1_000 * n,
        created_at: format!("2026-01-01T00:00:0{n}.000Z"),
        details: json!({"request": {"method": "GET"}, "n": n}),
    }
}

#[tokio::test]
async fn api_logs_list_by_filter_and_cursor_and_keep_details_for_one() {
    let db = TestDb::new().await;
    let logs = db.node().await.api_logs;
    logs.insert_api_logs(&[]).await.unwrap();
    let written: Vec<ExternalApiLog> = (1..=6)
        .map(|n| api_log(n, if n <= 3 { "con_a" } else { "con_b" }, n != 5))
        .collect();
    logs.insert_api_logs(&written[..2]).await.unwrap();
    logs.insert_api_logs(&written[2..]).await.unwrap();
    let list = |change: &dyn Fn(&mut ExternalApiLogQuery)| {
        let mut q = ExternalApiLogQuery {
            workspace_id: WS.into(),
            limit: 100,
            ..Default::default()
        };
        change(&mut q);
        let logs = logs.clone();
        async move { logs.find_api_logs(&q).await.unwrap() }
    };
    let all = list(&|_| {}).await;
    let ids = |found: &[ExternalApiLog]| found.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&all), ids(&written));
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    for (read, wrote) in all.iter().zip(&written) {
        // Lists leave the details out; everything else is as written.
        let expected = ExternalApiLog {
            seq: read.seq,
            details: serde_json::Value::Null,
            ..wrote.clone()
        };
        assert_eq!(read, &expected);
    }
    let names = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(&list(&|q| q.connection_id = Some("con_b".into())).await),
        names(&["log_4", "log_5", "log_6"])
    );
    assert_eq!(
        ids(&list(&|q| q.is_success = Some(false)).await),
        names(&["log_5"])
    );
    assert_eq!(
        ids(&list(&|q| q.customer_id = Some("cus_0".into())).await),
        names(&["log_2", "log_4", "log_6"])
    );
    assert_eq!(
        ids(&list(&|q| {
            q.from_ms = Some(2_000);
            q.to_ms = Some(4_000);
        })
        .await),
        names(&["log_2", "log_3", "log_4"])
    );
    assert!(list(&|q| q.integration_id = Some("int_2".into()))
        .await
        .is_empty());
    let third = all[2].seq;
    assert_eq!(
        ids(&list(&|q| {
            q.cursor = Some(third);
            q.limit = 2;
        })
        .await),
        names(&["log_4", "log_5"])
    );
    assert_eq!(
        ids(&list(&|q| {
            q.cursor = Some(third);
            q.descending = true;
        })
        .await),
        names(&["log_2", "log_1"])
    );
    let one = logs
        .api_log_by_id(WS, "log_3")
        .await
        .unwrap()
        .expect("found");
    assert_eq!(one.details, written[2].details);
    assert_eq!(logs.api_log_by_id("ws_2", "log_3").await.unwrap(), None);
    // Retention deletes by creation time.
    assert_eq!(logs.purge_api_logs(3_000).await.unwrap(), 2);
    assert_eq!(list(&|_| {}).await.len(), 4);
    db.finish().await;
}

/// The highest migration version shipped for the backend under test.
fn shipped_schema_version() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(if is_postgres() { "postgres" } else { "sqlite" });
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|f| {
            let name = f.unwrap().file_name().into_string().unwrap();
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .unwrap()
}

#[tokio::test]
async fn the_database_is_at_the_shipped_schema_and_says_whether_it_is_shared() {
    let db = TestDb::new().await;
    let stores = db.node().await;
    assert_eq!(stores.database.is_shared(), is_postgres());
    assert_eq!(
        stores.database.schema_version().await.unwrap(),
        shipped_schema_version()
    );
    // Opened again without migrating, it reads the same.
    let again = osmosis_store::open(&db.url, 1, false).await.unwrap();
    assert_eq!(
        again.database.schema_version().await.unwrap(),
        shipped_schema_version()
    );
    again.database.close().await;
    stores.database.close().await;
    db.finish().await;
}
