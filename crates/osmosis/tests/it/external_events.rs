//! External event subscriptions and polling (docs/spec/semantics.md §2.4, §4.3,
//! §5.6): enabling an instance with data record triggers makes the subscriptions,
//! pulls find created, updated and deleted records — through a collection's
//! `pull-latest-records` change feed or by scanning it whole — and their events
//! start flow runs with the records mapped through the trigger's field mapping.
//!
//! The test server runs no job worker: the tests pull through
//! `POST …/pull-events`, or run the due jobs themselves.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::mock_crm::{crm_fixture, seed_contact};
use crate::common::{assert_error, now, token, Server};

/// The mock behind the `feed` connector: tickets that only a change feed shows
/// (`GET /changes?cursor=<n>` → the changes after the n-th, two a page, and the
/// cursor after them). No list of tickets at all.
#[derive(Clone, Default)]
pub(crate) struct Feed {
    changes: Arc<Mutex<Vec<Value>>>,
}

impl Feed {
    pub(crate) fn push(&self, ticket: Value) {
        self.changes.lock().unwrap().push(ticket);
    }
}

async fn changes(
    State(feed): State<Feed>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let all = feed.changes.lock().unwrap().clone();
    let from: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(from).take(2).cloned().collect();
    Json(json!({"items": items, "next": (from + items.len()).to_string()}))
}

pub(crate) async fn start_feed() -> (String, Feed) {
    let feed = Feed::default();
    let app = Router::new()
        .route("/me", get(|| async { Json(json!({"id": "me"})) }))
        .route("/changes", get(changes))
        .with_state(feed.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, feed)
}

fn rest(path: &str, request: Value, response: Value) -> Value {
    let mut mapping = json!({"path": path, "method": "GET"});
    if !request.is_null() {
        mapping["requestMapping"] = request;
    }
    if !response.is_null() {
        mapping["responseMapping"] = response;
    }
    json!({"type": "rest-api-mapping", "mapping": mapping})
}

/// The `feed` connector: collection `tickets` with `pull-latest-records` events
/// for created and updated tickets, and no `list`.
pub(crate) fn feed_connector(base: &str) -> Value {
    let pull = rest(
        "/changes",
        json!({"query": {"cursor": {"$var": "$.cursor"}}}),
        json!({"records": {"$var": "$.response.data.items"}, "cursor": {"$var": "$.response.data.next"}}),
    );
    json!({
        "key": "feed", "name": "Feed", "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": base,
            "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}}},
        "test": rest("/me", Value::Null, Value::Null),
        "data": {"tickets": {
            "name": "Tickets",
            "fieldsSchema": {"type": "object", "properties": {"subject": {"type": "string"}, "status": {"type": "string"}}},
            "recordFromApi": {"type": "mapping", "mapping": {"id": {"$var": "$.id"}, "name": {"$var": "$.subject"},
                "fields": {"subject": {"$var": "$.subject"}, "status": {"$var": "$.status"}}}},
            "events": {
                "created": {"type": "pull-latest-records", "pullLatestRecords": pull.clone()},
                "updated": {"type": "pull-latest-records", "pullLatestRecords": pull},
            },
        }},
    })
}

/// A flow `key` on the integration: trigger `t` of `trigger` over `collection`,
/// its import mapping `mapping`, and `out` after it.
pub(crate) async fn event_flow(
    s: &Server,
    integration_id: &str,
    key: &str,
    trigger: &str,
    collection: &str,
    mapping: Value,
) {
    s.create(
        "flows",
        json!({"key": key, "integrationId": integration_id, "nodes": {
            "t": {"type": trigger,
                  "config": {"dataSource": {"collectionKey": collection}, "fieldMapping": {"importValue": mapping}},
                  "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {
                "id": {"$var": "$.input.t.record.id"}, "type": {"$var": "$.input.t.type"}}}}
        }}),
    )
    .await;
}

/// `token`'s instance of flow `key` on `conn`, made on demand.
pub(crate) async fn instance(s: &Server, conn: &str, token: &str, key: &str) -> String {
    let (status, inst) = s
        .get(
            &format!("/connections/{conn}/flows/{key}?autoCreate=true"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    inst["id"].as_str().unwrap().to_owned()
}

/// The live subscriptions of a connection, by `config.type`.
pub(crate) async fn subscriptions(s: &Server, conn: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/external-event-subscriptions?connectionId={conn}"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

pub(crate) fn of_type<'a>(subs: &'a [Value], t: &str) -> &'a Value {
    subs.iter()
        .find(|s| s["config"]["type"] == t)
        .unwrap_or_else(|| panic!("no {t} subscription in {subs:?}"))
}

async fn pull_now(s: &Server, id: &str, token: &str) -> Value {
    let (status, sub) = s
        .post(
            &format!("/external-event-subscriptions/{id}/pull-events"),
            token,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{sub}");
    sub
}

/// The runs of instance `id`, each waited for, oldest first.
pub(crate) async fn finished_runs(s: &Server, id: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/flow-runs?connectionFlowId={id}&sortOrder=asc"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut runs = Vec::new();
    for run in page["items"].as_array().unwrap() {
        let (_, done) = s
            .get(
                &format!("/flow-runs/{}?wait=20", run["id"].as_str().unwrap()),
                &s.admin(),
            )
            .await;
        assert_eq!(done["state"], "completed", "{done}");
        runs.push(done);
    }
    runs
}

/// The outputs of node `node` of run `run`, parsed.
pub(crate) async fn outputs(s: &Server, run: &Value, node: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!(
                "/flow-runs/{}/nodes/{node}/outputs",
                run["id"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| serde_json::from_str(o["data"].as_str().unwrap()).unwrap())
        .collect()
}

pub(crate) async fn log_records(s: &Server, sub: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/external-event-log-records?externalEventSubscriptionId={sub}&sortOrder=asc"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Runs due jobs until none is left (a claim may queue more).
pub(crate) async fn settle_jobs(s: &Server) {
    for _ in 0..50 {
        if s.engine.run_due_jobs("test-worker").await == 0 {
            return;
        }
    }
    panic!("jobs keep coming");
}

/// Puts the log record `event_id` (of the test workspace) back to `created`, its
/// runs unrecorded: what a node that died between starting its runs and
/// recording them leaves.
pub(crate) async fn leave_created(s: &Server, event_id: &str) {
    let ws = s.workspace_id().await;
    s.stores
        .external_events
        .settle_external_events(&ws, &[event_id.to_owned()], "created", None, &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_change_feed_finds_created_and_updated_records() {
    let s = Server::start().await;
    let (url, feed) = start_feed().await;
    for i in 1..=3 {
        feed.push(json!({"id": i.to_string(), "subject": format!("Ticket {i}"), "status": "open"}));
    }
    let (_, integration) = crate::common::mock_api::install(&s, feed_connector(&url)).await;
    let alice = s.customer("alice");
    let conn = crate::common::mock_api::connect(&s, &alice, &integration).await;
    let conn = conn["id"].as_str().unwrap().to_owned();
    let iid = integration["id"].as_str().unwrap();
    let mapping = json!({"title": {"$var": "$.subject"}, "state": {"$var": "$.status"}});
    event_flow(
        &s,
        iid,
        "on-created",
        "data-record-created-trigger",
        "tickets",
        mapping.clone(),
    )
    .await;
    event_flow(
        &s,
        iid,
        "on-updated",
        "data-record-updated-trigger",
        "tickets",
        mapping.clone(),
    )
    .await;
    event_flow(
        &s,
        iid,
        "on-deleted",
        "data-record-deleted-trigger",
        "tickets",
        mapping,
    )
    .await;
    let created_flow = instance(&s, &conn, &alice, "on-created").await;
    let updated_flow = instance(&s, &conn, &alice, "on-updated").await;
    instance(&s, &conn, &alice, "on-deleted").await;

    let subs = subscriptions(&s, &conn).await;
    assert_eq!(subs.len(), 3, "{subs:?}");
    let created = of_type(&subs, "data-record-created").clone();
    assert_eq!(created["status"], "subscribed", "{created}");
    assert_eq!(created["isRealTime"], false);
    assert_eq!(created["requiresPull"], true);
    assert_eq!(created["requiresFullSync"], false);
    assert_eq!(created["pullUpdatesIntervalSeconds"], 300);
    assert_eq!(created["config"]["dataSource"]["collectionKey"], "tickets");
    assert!(created["nextPullEventsTimestamp"].is_i64(), "{created}");
    // Deletions cannot come from a change feed, and the collection has no list.
    let deleted = of_type(&subs, "data-record-deleted");
    assert_eq!(deleted["status"], "error", "{deleted}");
    assert!(
        deleted["error"]["message"]
            .as_str()
            .unwrap()
            .contains("list"),
        "{deleted}"
    );
    let updated = of_type(&subs, "data-record-updated").clone();
    let (cid, uid) = (
        created["id"].as_str().unwrap(),
        updated["id"].as_str().unwrap(),
    );

    // The first pulls take the baseline: the whole feed, no events.
    let after = pull_now(&s, cid, &alice).await;
    assert_eq!(after["stateData"]["cursor"], "3", "{after}");
    pull_now(&s, uid, &alice).await;
    assert!(log_records(&s, cid).await.is_empty());
    assert!(finished_runs(&s, &created_flow).await.is_empty());

    // A new ticket, a changed one, and one repeated unchanged.
    feed.push(json!({"id": "4", "subject": "Ticket 4", "status": "open"}));
    feed.push(json!({"id": "1", "subject": "Ticket 1", "status": "closed"}));
    feed.push(json!({"id": "2", "subject": "Ticket 2", "status": "open"}));
    pull_now(&s, cid, &alice).await;
    pull_now(&s, uid, &alice).await;

    let made = log_records(&s, cid).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["payload"]["type"], "created");
    assert_eq!(made[0]["payload"]["record"]["id"], "4");
    assert_eq!(made[0]["status"], "success", "{made:?}");
    let runs = finished_runs(&s, &created_flow).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0]["launchedBy"],
        json!({"type": "external-event", "ids": [made[0]["id"]]})
    );
    assert_eq!(made[0]["launchedFlowRunIds"], json!([runs[0]["id"]]));
    let out = outputs(&s, &runs[0], "t").await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["record"]["id"], "4");
    assert_eq!(
        out[0]["record"]["fields"],
        json!({"title": "Ticket 4", "state": "open"})
    );
    assert_eq!(
        outputs(&s, &runs[0], "out").await,
        vec![json!({"id": "4", "type": "created"})]
    );

    let changed = log_records(&s, uid).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["payload"]["record"]["id"], "1");
    let runs = finished_runs(&s, &updated_flow).await;
    assert_eq!(runs.len(), 1);
    let out = outputs(&s, &runs[0], "t").await;
    assert_eq!(out[0]["type"], "updated");
    assert_eq!(out[0]["record"]["fields"]["state"], "closed");

    // Every pull is recorded: baseline and events, with the events it found.
    let (_, pulls) = s
        .get(
            &format!("/external-event-pulls?externalEventSubscriptionId={cid}"),
            &alice,
        )
        .await;
    let pulls = pulls["items"].as_array().unwrap();
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert_eq!(pulls[0]["status"], "success");
    assert_eq!(pulls[0]["isFullScan"], false);
    assert_eq!(pulls[0]["collectedEventIds"], json!([made[0]["id"]]));
    assert_eq!(pulls[1]["collectedEventIds"], json!([]));
    s.finish().await;
}

#[tokio::test]
async fn a_full_scan_finds_created_updated_and_deleted_records() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    let mapping = json!({"mail": {"$var": "$.email"}});
    for (key, trigger) in [
        ("contact-created", "data-record-created-trigger"),
        ("contact-updated", "data-record-updated-trigger"),
        ("contact-deleted", "data-record-deleted-trigger"),
    ] {
        event_flow(
            &s,
            &f.integration_id,
            key,
            trigger,
            "contacts",
            mapping.clone(),
        )
        .await;
    }
    let mut flows = Vec::new();
    for key in ["contact-created", "contact-updated", "contact-deleted"] {
        flows.push(instance(&s, &f.alice_conn, &f.alice, key).await);
    }
    let subs = subscriptions(&s, &f.alice_conn).await;
    assert_eq!(subs.len(), 3, "{subs:?}");
    for sub in &subs {
        assert_eq!(sub["status"], "subscribed", "{sub}");
        assert_eq!(sub["requiresFullSync"], true, "{sub}");
        assert_eq!(sub["fullSyncIntervalSeconds"], 10_800, "{sub}");
    }
    // Bob's connection has none: his instances do not exist.
    assert!(subscriptions(&s, &f.bob_conn).await.is_empty());

    // The pull jobs take the baselines (one full scan of the connection at a
    // time: the others wait their turn).
    for _ in 0..3 {
        s.engine.run_due_jobs("test-worker").await;
    }
    let (_, pulls) = s
        .get(
            &format!(
                "/external-event-pulls?connectionId={}&status=success",
                f.alice_conn
            ),
            &s.admin(),
        )
        .await;
    let ok = pulls["items"].as_array().unwrap();
    assert!(!ok.is_empty(), "{pulls}");
    for sub in &subs {
        let id = sub["id"].as_str().unwrap();
        let (_, now_sub) = s
            .get(&format!("/external-event-subscriptions/{id}"), &f.alice)
            .await;
        if now_sub["stateData"].is_null() {
            pull_now(&s, id, &f.alice).await;
        }
    }
    {
        let mut contacts = f.crm.state.contacts.lock().unwrap();
        contacts.insert(4, seed_contact(4));
        contacts.get_mut(&1).unwrap()["email"] = json!("ada@new.example.com");
        contacts.remove(&2);
    }
    for (t, expect, flow) in [
        ("data-record-created", "4", &flows[0]),
        ("data-record-updated", "1", &flows[1]),
        ("data-record-deleted", "2", &flows[2]),
    ] {
        let id = of_type(&subs, t)["id"].as_str().unwrap().to_owned();
        pull_now(&s, &id, &f.alice).await;
        let events = log_records(&s, &id).await;
        assert_eq!(events.len(), 1, "{t}: {events:?}");
        assert_eq!(events[0]["payload"]["record"]["id"], expect, "{t}");
        let runs = finished_runs(&s, flow).await;
        assert_eq!(runs.len(), 1, "{t}: {runs:?}");
        let out = outputs(&s, &runs[0], "t").await;
        assert_eq!(out[0]["record"]["id"], expect, "{t}");
        if t == "data-record-updated" {
            assert_eq!(
                out[0]["record"]["fields"],
                json!({"mail": "ada@new.example.com"})
            );
        }
        // Nothing changed since: the next scan finds nothing.
        pull_now(&s, &id, &f.alice).await;
        assert_eq!(log_records(&s, &id).await.len(), 1, "{t}");
    }

    // A disabled instance receives nothing, and its subscription goes.
    let (status, _) = s
        .patch(
            &format!("/flow-instances/{}", flows[0]),
            &f.alice,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200);
    let subs = subscriptions(&s, &f.alice_conn).await;
    assert_eq!(subs.len(), 2, "{subs:?}");
    let (_, all) = s
        .get(
            &format!(
                "/external-event-subscriptions?connectionId={}&includeArchived=true",
                f.alice_conn
            ),
            &s.admin(),
        )
        .await;
    let gone = of_type(all["items"].as_array().unwrap(), "data-record-created");
    assert!(gone["archivedAt"].is_string(), "{gone}");
    assert_eq!(gone["status"], "unsubscribed");
    let (status, _) = s
        .post(
            &format!(
                "/external-event-subscriptions/{}/pull-events",
                gone["id"].as_str().unwrap()
            ),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    // Enabled again: subscribed again, from a new baseline.
    s.patch(
        &format!("/flow-instances/{}", flows[0]),
        &f.alice,
        json!({"enabled": true}),
    )
    .await;
    let again = of_type(
        &subscriptions(&s, &f.alice_conn).await,
        "data-record-created",
    )
    .clone();
    assert_eq!(again["id"], gone["id"]);
    assert_eq!(again["status"], "subscribed");
    assert!(again["stateData"].is_null(), "{again}");
    s.finish().await;
}

#[tokio::test]
async fn lifecycle_routes_and_tenancy() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 2).await;
    event_flow(
        &s,
        &f.integration_id,
        "watch",
        "data-record-created-trigger",
        "contacts",
        json!({}),
    )
    .await;
    let inst = instance(&s, &f.alice_conn, &f.alice, "watch").await;
    let sub = subscriptions(&s, &f.alice_conn).await[0].clone();
    let id = sub["id"].as_str().unwrap().to_owned();

    // Alice and the admin see it; Bob and another workspace do not, on any route.
    let (status, mine) = s
        .get(&format!("/external-event-subscriptions/{id}"), &f.alice)
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["userId"], sub["userId"]);
    s.engine
        .create_workspace(
            "Other",
            Some("other-ws".into()),
            Some("other-secret-0123456789".into()),
        )
        .await
        .unwrap();
    let other = token(
        json!({"iss": "other-ws", "isAdmin": true, "exp": now() + 3600}),
        "other-secret-0123456789",
        jsonwebtoken::Algorithm::HS256,
    );
    for who in [&f.bob, &other] {
        let r = s
            .get(&format!("/external-event-subscriptions/{id}"), who)
            .await;
        assert_error(&r, 404, "bad_request", "not_found");
        for action in [
            "setup",
            "subscribe",
            "unsubscribe",
            "resubscribe",
            "refresh-webhook",
            "pull-events",
        ] {
            let r = s
                .post(
                    &format!("/external-event-subscriptions/{id}/{action}"),
                    who,
                    json!({}),
                )
                .await;
            assert_eq!(r.0, 404, "{action}: {}", r.1);
        }
        for list in [
            "external-event-subscriptions",
            "external-event-log-records",
            "external-event-pulls",
        ] {
            let (status, page) = s.get(&format!("/{list}"), who).await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["items"], json!([]), "{list}");
        }
    }
    // Bob naming Alice sees nothing either.
    let (_, page) = s
        .get(
            &format!(
                "/external-event-subscriptions?tenantId={}",
                sub["userId"].as_str().unwrap()
            ),
            &f.bob,
        )
        .await;
    assert_eq!(page["items"], json!([]));

    // Unsubscribe stops it; subscribe brings it back; refresh-webhook changes nothing.
    let (status, off) = s
        .post(
            &format!("/external-event-subscriptions/{id}/unsubscribe"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["status"], "unsubscribed");
    let r = s
        .post(
            &format!("/external-event-subscriptions/{id}/pull-events"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_error(&r, 400, "bad_request", "invalid_field");
    let (_, on) = s
        .post(
            &format!("/external-event-subscriptions/{id}/subscribe"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(on["status"], "subscribed");
    let (_, same) = s
        .post(
            &format!("/external-event-subscriptions/{id}/refresh-webhook"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(same["status"], "subscribed");
    let pulled = pull_now(&s, &id, &f.alice).await;
    assert!(pulled["stateData"].is_object(), "{pulled}");
    let (_, fresh) = s
        .post(
            &format!("/external-event-subscriptions/{id}/resubscribe"),
            &f.alice,
            json!({}),
        )
        .await;
    assert!(fresh["stateData"].is_null(), "{fresh}");
    let (_, set) = s
        .post(
            &format!("/external-event-subscriptions/{id}/setup"),
            &s.admin(),
            json!({}),
        )
        .await;
    assert_eq!(set["status"], "subscribed", "{set}");

    // Hostile input: a clear 400 naming the parameter.
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("cursor=zz", "cursor"),
        ("status=maybe", "status"),
        ("includeArchived=perhaps", "includeArchived"),
    ] {
        let r = s
            .get(
                &format!("/external-event-subscriptions?{query}"),
                &s.admin(),
            )
            .await;
        assert_error(&r, 400, "bad_request", "invalid_query");
        assert_eq!(r.1["data"]["parameter"], param, "{query}: {}", r.1);
    }
    let long = "x".repeat(5000);
    let r = s
        .get(
            &format!("/external-event-subscriptions?connectionId={long}"),
            &s.admin(),
        )
        .await;
    assert_eq!(r.1["data"]["parameter"], "connectionId", "{}", r.1);
    for (query, param) in [
        ("status=maybe", "status"),
        ("from=yesterday", "from"),
        ("sortOrder=up", "sortOrder"),
        (
            &*format!("externalEventSubscriptionId={long}"),
            "externalEventSubscriptionId",
        ),
    ] {
        for list in ["external-event-log-records", "external-event-pulls"] {
            let r = s.get(&format!("/{list}?{query}"), &s.admin()).await;
            assert_error(&r, 400, "bad_request", "invalid_query");
            assert_eq!(r.1["data"]["parameter"], param, "{list} {query}: {}", r.1);
        }
    }
    let r = s
        .get(&format!("/external-event-subscriptions/{long}"), &s.admin())
        .await;
    assert_error(&r, 400, "bad_request", "invalid_field");
    let r = s
        .get("/external-event-subscriptions/nope", &s.admin())
        .await;
    assert_error(&r, 404, "bad_request", "not_found");

    // An archived connection on the path: no pulls or changes through it.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/connections/{}", f.alice_conn),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let r = s
        .post(
            &format!("/external-event-subscriptions/{id}/pull-events"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(r.0, 404, "{}", r.1);
    // An archived instance: its subscription is archived with it.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/flow-instances/{inst}"),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, gone) = s
        .get(&format!("/external-event-subscriptions/{id}"), &s.admin())
        .await;
    assert!(gone["archivedAt"].is_string(), "{gone}");
    s.finish().await;
}

/// A stored event record of subscription `sub` that no launch ever got to: what a
/// node dying between storing a pull's events and launching them leaves. Stored
/// as a pull stores its events (the subscription's state as it is).
async fn strand_new_event(s: &Server, ws: &str, sub: &str, record: Value) -> String {
    let store = &s.stores.external_events;
    let row = store
        .external_event_subscription(ws, sub)
        .await
        .unwrap()
        .expect("the subscription");
    let id = osmosis_model::ids::object_id();
    let now = osmosis_engine::clock::now_ms();
    let kept = store
        .finish_external_event_pull(&osmosis_store::PullFinish {
            workspace_id: ws.to_owned(),
            pull_id: "no-such-pull".into(),
            subscription_id: sub.to_owned(),
            ended_ms: now,
            error: None,
            state_data: row.state_data.clone(),
            next_pull_ms: row.next_pull_ms,
            snapshot: Default::default(),
            events: vec![osmosis_store::ExternalEventLogRow {
                seq: 0,
                id: id.clone(),
                workspace_id: ws.to_owned(),
                customer_id: row.customer_id.clone(),
                integration_id: row.integration_id.clone(),
                connection_id: row.connection_id.clone(),
                subscription_id: sub.to_owned(),
                status: "created".into(),
                error: None,
                payload: json!({"type": "created", "record": record}),
                launched_flow_run_ids: Vec::new(),
                created_ms: now,
                dedupe_key: None,
            }],
        })
        .await
        .unwrap();
    assert!(kept);
    id
}

/// Events stranded `created` — by a node that died after it started their runs
/// and before it recorded them, or before it started any — are launched by the
/// subscription's next pull, before the events that pull finds: a group launched
/// again finds the run it started (one run, never two), one never launched starts
/// its own. A run started again by its id, amid other starts sharing its group
/// commit, is refused alone: the others start. An archived subscription's
/// stranded events are settled `error` and start nothing.
#[tokio::test]
async fn stranded_events_are_launched_once_and_a_repeated_run_fails_no_other() {
    let s = Server::start().await;
    let (url, feed) = start_feed().await;
    let (_, integration) = crate::common::mock_api::install(&s, feed_connector(&url)).await;
    let alice = s.customer("alice");
    let conn = crate::common::mock_api::connect(&s, &alice, &integration).await;
    let conn = conn["id"].as_str().unwrap().to_owned();
    let iid = integration["id"].as_str().unwrap();
    let mapping = json!({"title": {"$var": "$.subject"}});
    event_flow(
        &s,
        iid,
        "on-created",
        "data-record-created-trigger",
        "tickets",
        mapping,
    )
    .await;
    let inst = instance(&s, &conn, &alice, "on-created").await;
    let subs = subscriptions(&s, &conn).await;
    let sub = of_type(&subs, "data-record-created")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ws = s.workspace_id().await;
    let store = &s.stores.external_events;
    let run_ids = |records: &[Value], i: usize| records[i]["launchedFlowRunIds"].clone();
    pull_now(&s, &sub, &alice).await;
    feed.push(json!({"id": "1", "subject": "Ticket 1"}));
    pull_now(&s, &sub, &alice).await;
    let made = log_records(&s, &sub).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["status"], "success", "{made:?}");
    let first_run = made[0]["launchedFlowRunIds"][0]
        .as_str()
        .unwrap()
        .to_owned();

    // The node died after it started the run of event 1 and before it recorded
    // it; and after it stored event 2, before it launched it.
    store
        .settle_external_events(
            &ws,
            &[made[0]["id"].as_str().unwrap().to_owned()],
            "created",
            None,
            &[],
        )
        .await
        .unwrap();
    let never = strand_new_event(&s, &ws, &sub, json!({"id": "2", "subject": "Ticket 2"})).await;
    assert_eq!(log_records(&s, &sub).await[0]["status"], "created");
    // The next pull launches both, then what it finds.
    feed.push(json!({"id": "3", "subject": "Ticket 3"}));
    pull_now(&s, &sub, &alice).await;
    let records = log_records(&s, &sub).await;
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(
        records.iter().all(|r| r["status"] == "success"),
        "{records:?}"
    );
    assert_eq!(records[1]["id"], json!(never));
    assert_eq!(
        run_ids(&records, 0),
        json!([first_run]),
        "one run for event 1"
    );
    let runs = finished_runs(&s, &inst).await;
    assert_eq!(runs.len(), 3, "one run per event: {runs:?}");
    for (i, record) in records.iter().enumerate() {
        let run = &runs[i];
        assert_eq!(run_ids(&records, i), json!([run["id"]]), "{records:?}");
        assert_eq!(
            run["launchedBy"],
            json!({"type": "external-event", "ids": [record["id"]]})
        );
        let out = outputs(&s, run, "t").await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0]["record"]["id"], record["payload"]["record"]["id"]);
    }
    // Launched again, and again: still one run each.
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    store
        .settle_external_events(&ws, &ids[..2], "created", None, &[])
        .await
        .unwrap();
    pull_now(&s, &sub, &alice).await;
    pull_now(&s, &sub, &alice).await;
    let again = log_records(&s, &sub).await;
    assert_eq!(
        again
            .iter()
            .map(|r| r["launchedFlowRunIds"].clone())
            .collect::<Vec<_>>(),
        records
            .iter()
            .map(|r| r["launchedFlowRunIds"].clone())
            .collect::<Vec<_>>(),
    );
    assert!(again.iter().all(|r| r["status"] == "success"), "{again:?}");
    assert_eq!(finished_runs(&s, &inst).await.len(), 3);

    // Starts of an existing run id amid others, all at once so they share group
    // commits: the repeats are refused (or, once, found), every other start runs.
    let admin = osmosis_engine::Caller::admin(s.engine.workspace_by_id(&ws).await.unwrap());
    let element = s
        .stores
        .elements
        .element_by_id(&ws, &inst)
        .await
        .unwrap()
        .expect("the instance");
    let flows = s.engine.flows();
    let launch = |run_id: Option<String>| osmosis_engine::flows::Launch {
        start_node_key: Some("t".into()),
        input: Some(json!([{"type": "created", "record": {"id": "x"}}])),
        meta: None,
        launched_by: "external-event",
        launched_by_ids: Vec::new(),
        run_id,
    };
    let mut starts = Vec::new();
    let mut once = Vec::new();
    for i in 0..40 {
        let (admin, element) = (admin.clone(), element.clone());
        let repeat = (i % 4 == 0).then(|| first_run.clone());
        let l = launch(repeat.clone());
        if i % 8 == 4 {
            once.push(async move { flows.start_once(&admin, element, l).await });
        } else {
            starts.push(async move { (repeat.is_some(), flows.start(&admin, element, l).await) });
        }
    }
    let (started, found) = futures::future::join(
        futures::future::join_all(starts),
        futures::future::join_all(once),
    )
    .await;
    let mut new = 0;
    for (repeat, answer) in started {
        match answer {
            Ok(run) => {
                assert!(!repeat, "a run started again: {run}");
                new += 1;
            }
            Err(e) => assert!(repeat, "a start failed beside a repeated one: {e:?}"),
        }
    }
    assert_eq!(new, 30);
    for answer in found {
        assert_eq!(answer.unwrap().unwrap(), first_run);
    }
    assert_eq!(finished_runs(&s, &inst).await.len(), 33);

    // An archived subscription's stranded events never run.
    let stranded = strand_new_event(&s, &ws, &sub, json!({"id": "4", "subject": "Ticket 4"})).await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/flow-instances/{inst}"),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let records = log_records(&s, &sub).await;
    let last = records.last().unwrap();
    assert_eq!(last["id"], json!(stranded));
    assert_eq!(last["status"], "error", "{last}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("archived"),
        "{last}"
    );
    assert_eq!(last["launchedFlowRunIds"], json!([]));
    s.finish().await;
}
