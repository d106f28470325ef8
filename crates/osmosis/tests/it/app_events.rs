//! App events (docs/spec/semantics.md §5.5, §4.3): deliveries to an app event
//! type's global webhook or a customer's subscription webhook are stored before
//! they are answered, turned into app events by the target's job, and fire the
//! `app-event-trigger` nodes of the customer's enabled flow instances.
//!
//! The test server runs no job worker: each test processes deliveries itself with
//! `run_due_jobs`; the flow runs run on the server's scheduler.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::mock_crm::crm_fixture;
use crate::common::{now, token, Server};

/// An app event type `key` with `extra` fields.
async fn event_type(s: &Server, key: &str, extra: Value) -> Value {
    let mut body = json!({"key": key, "name": key});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.create("app-event-types", body).await
}

/// An integration-level flow `key`: `event` (an app-event-trigger of `type_key`,
/// with `filter` if given) → `out`, which outputs the event's amount.
async fn trigger_flow(
    s: &Server,
    integration_id: &str,
    key: &str,
    type_key: &str,
    filter: Option<Value>,
) {
    let mut config = json!({"appEventKey": type_key});
    if let Some(f) = filter {
        config["filter"] = f;
    }
    s.create(
        "flows",
        json!({"key": key, "integrationId": integration_id, "nodes": {
            "event": {"type": "app-event-trigger", "config": config, "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {
                "amount": {"$var": "$.input.event.payload.amount"}
            }}}
        }}),
    )
    .await;
}

/// The customer's instance of flow `key` on `conn`, made on demand.
async fn instance(s: &Server, conn: &str, token: &str, key: &str) -> String {
    let (status, inst) = s
        .get(
            &format!("/connections/{conn}/flows/{key}?autoCreate=true"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    inst["id"].as_str().unwrap().to_owned()
}

/// Sends `body` to a webhook URL (absolute, as the API renders it) with `method`.
async fn deliver(
    s: &Server,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let path = uri.strip_prefix(&s.url).expect("a URL of this server");
    s.call(method, path, bearer, body).await
}

/// Runs due jobs until none is left (processing may come back for more).
async fn process(s: &Server) {
    for _ in 0..20 {
        if s.engine.run_due_jobs("test-worker").await == 0 {
            return;
        }
    }
}

async fn app_events(s: &Server, token: &str, query: &str) -> Vec<Value> {
    let (status, page) = s.get(&format!("/app-events{query}"), token).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The run `id` once it ended.
async fn finished_run(s: &Server, id: &str) -> Value {
    let (status, run) = s.get(&format!("/flow-runs/{id}?wait=30"), &s.admin()).await;
    assert_eq!(status, 200, "{run}");
    assert!(
        matches!(run["state"].as_str(), Some("completed" | "failed")),
        "{run}"
    );
    run
}

async fn runs_of(s: &Server, instance: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/flow-runs?connectionFlowId={instance}"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_global_webhook_event_fires_its_customers_flow_with_the_payload() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let t = event_type(
        &s,
        "order-created",
        json!({"tenantIdFormula": {"$var": "$.customer"}}),
    )
    .await;
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with(&format!("{}/webhooks/app-events/", s.url)),
        "{uri}"
    );
    trigger_flow(&s, &f.integration_id, "on-order", "order-created", None).await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "on-order").await;
    let bobs = instance(&s, &f.bob_conn, &f.bob, "on-order").await;

    // Any method; no token: the formula says whose event it is.
    let (status, answer) = deliver(
        &s,
        "PUT",
        &uri,
        None,
        Some(json!({"customer": "alice", "amount": 42})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let delivery = answer["incomingWebhookId"].as_str().unwrap().to_owned();
    process(&s).await;

    let events = app_events(&s, &s.admin(), "").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["appEventTypeId"], t["id"]);
    assert_eq!(e["event"], json!({"customer": "alice", "amount": 42}));
    let launched = e["launchedFlowRunIds"].as_array().unwrap();
    assert_eq!(launched.len(), 1, "{e}");
    let run = finished_run(&s, launched[0].as_str().unwrap()).await;
    assert_eq!(run["state"], "completed", "{run}");
    assert_eq!(run["connectionFlowId"], json!(alices));
    assert_eq!(run["launchedBy"]["type"], "app-event-trigger", "{run}");
    assert_eq!(
        run["input"],
        json!({"payload": {"customer": "alice", "amount": 42}})
    );
    let (_, output) = s
        .get(
            &format!("/flow-runs/{}/output", run["id"].as_str().unwrap()),
            &s.admin(),
        )
        .await;
    assert_eq!(
        output,
        json!({"amount": 42}),
        "the trigger's output is {{payload}}"
    );
    assert!(
        runs_of(&s, &bobs).await.is_empty(),
        "bob's flow never fired"
    );

    // The delivery, as received: settled with its event, the method kept.
    let (status, w) = s
        .get(&format!("/incoming-webhooks/{delivery}"), &s.admin())
        .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["status"], "success", "{w}");
    assert_eq!(w["error"], Value::Null, "{w}");
    assert_eq!(w["subscriptionId"], t["id"]);
    assert_eq!(w["collectedEventIds"], json!([e["id"]]));
    assert_eq!(w["request"]["method"], "PUT");
    s.finish().await;
}

#[tokio::test]
async fn a_batch_with_a_customer_token_makes_one_event_each_and_the_filter_picks_runs() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let t = event_type(&s, "payment", json!({})).await;
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();
    trigger_flow(
        &s,
        &f.integration_id,
        "big-payments",
        "payment",
        Some(json!({"$eval": {"$var": "$.payload.amount"}, "gt": 10})),
    )
    .await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "big-payments").await;

    let (status, answer) = deliver(
        &s,
        "POST",
        &uri,
        Some(&f.alice),
        Some(json!([{"amount": 5}, {"amount": 50}, {"amount": 500}])),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    process(&s).await;

    let events = app_events(&s, &f.alice, "?sortOrder=asc").await;
    assert_eq!(events.len(), 3, "one event per item: {events:?}");
    let amounts: Vec<&Value> = events.iter().map(|e| &e["event"]["amount"]).collect();
    assert_eq!(amounts, [&json!(5), &json!(50), &json!(500)], "in order");
    assert!(
        events[0]["launchedFlowRunIds"]
            .as_array()
            .unwrap()
            .is_empty(),
        "5 is filtered out"
    );
    assert_eq!(runs_of(&s, &alices).await.len(), 2);
    for e in &events[1..] {
        let id = e["launchedFlowRunIds"][0].as_str().unwrap();
        assert_eq!(finished_run(&s, id).await["state"], "completed");
    }
    // The token is masked in the stored request.
    let (_, w) = s
        .get(
            &format!(
                "/incoming-webhooks/{}",
                answer["incomingWebhookId"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    assert_eq!(w["request"]["headers"]["authorization"], "***", "{w}");
    assert!(!w.to_string().contains(&f.alice), "no token in the log");

    // A token in the query is masked too; an oversized body is refused unstored.
    let (status, answer) = deliver(
        &s,
        "POST",
        &format!("{uri}?token=tok-secret-123&source=app"),
        None,
        Some(json!({"amount": 1})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (_, w) = s
        .get(
            &format!(
                "/incoming-webhooks/{}",
                answer["incomingWebhookId"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    assert_eq!(w["request"]["query"]["token"], "***", "{w}");
    assert_eq!(w["request"]["query"]["source"], "app", "{w}");
    assert!(!w.to_string().contains("tok-secret-123"), "{w}");
    let (_, before) = s.get("/incoming-webhooks?limit=1000", &s.admin()).await;
    let huge = "x".repeat(11 * 1024 * 1024);
    let (status, e) = deliver(&s, "POST", &uri, None, Some(json!({"blob": huge}))).await;
    assert_eq!(status, 413, "{e}");
    let (_, after) = s.get("/incoming-webhooks?limit=1000", &s.admin()).await;
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        after["items"].as_array().unwrap().len(),
        "nothing stored"
    );
    s.finish().await;
}

#[tokio::test]
async fn a_repeated_delivery_makes_one_event_and_one_run_and_a_retried_dispatch_no_second_run() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let t = event_type(&s, "signup", json!({"tenantIdFormula": {"$var": "$.user"}})).await;
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();
    trigger_flow(&s, &f.integration_id, "on-signup", "signup", None).await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "on-signup").await;
    let body = json!({"user": "alice", "amount": 1, "nested": {"b": 2, "a": 1}});
    let (first, _) = deliver(&s, "POST", &uri, None, Some(body.clone())).await;
    // The same event again, its keys in another order.
    let again = json!({"nested": {"a": 1, "b": 2}, "amount": 1, "user": "alice"});
    let (second, answer) = deliver(&s, "POST", &uri, None, Some(again)).await;
    assert_eq!((first, second), (200, 200));
    process(&s).await;
    let events = app_events(&s, &s.admin(), "").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (_, w) = s
        .get(
            &format!(
                "/incoming-webhooks/{}",
                answer["incomingWebhookId"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    assert_eq!(
        w["collectedEventIds"],
        json!([events[0]["id"]]),
        "the repeat points at the event"
    );
    let runs = runs_of(&s, &alices).await;
    assert_eq!(runs.len(), 1);
    finished_run(&s, runs[0]["id"].as_str().unwrap()).await;

    // A dispatch retried after a crash (the event still `created`) finds its run.
    let ws = s.workspace_id().await;
    s.stores
        .events
        .finish_app_events(
            &ws,
            &[osmosis_store::AppEventOutcome {
                id: events[0]["id"].as_str().unwrap().to_owned(),
                status: "created".into(),
                error: None,
                launched_flow_run_ids: Vec::new(),
            }],
        )
        .await
        .unwrap();
    // Another delivery brings the job back.
    deliver(
        &s,
        "POST",
        &uri,
        None,
        Some(json!({"user": "alice", "amount": 2})),
    )
    .await;
    process(&s).await;
    let events = app_events(&s, &s.admin(), "?sortOrder=asc").await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["launchedFlowRunIds"],
        json!([runs[0]["id"]]),
        "{:?}",
        events[0]
    );
    assert_eq!(
        runs_of(&s, &alices).await.len(),
        2,
        "one run per event, never two"
    );
    s.finish().await;
}

#[tokio::test]
async fn unknown_archived_and_unattributable_deliveries_are_refused_or_logged_and_never_run() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let t = event_type(&s, "no-tenant", json!({})).await;
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();
    trigger_flow(&s, &f.integration_id, "on-no-tenant", "no-tenant", None).await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "on-no-tenant").await;

    // Hostile or unknown URLs: 404, nothing stored.
    let ws = s.workspace_id().await;
    for path in [
        format!("/webhooks/app-events/{}/not-a-key", ws),
        format!(
            "/webhooks/app-events/nope/{}",
            &uri[uri.rfind('/').unwrap() + 1..]
        ),
        format!("/webhooks/app-events/{}/%27%20OR%201%3D1", ws),
        format!(
            "/webhooks/app-event-subscriptions/{}/{}",
            ws,
            &uri[uri.rfind('/').unwrap() + 1..]
        ),
    ] {
        let (status, e) = s.call("POST", &path, None, Some(json!({}))).await;
        assert_eq!(status, 404, "{path}: {e}");
        assert_eq!(e["key"], "not_found", "{e}");
    }
    // No customer can be told: logged as an error, no event.
    let (status, answer) = deliver(&s, "POST", &uri, None, Some(json!({"amount": 1}))).await;
    assert_eq!(status, 200, "{answer}");
    process(&s).await;
    let (_, w) = s
        .get(
            &format!(
                "/incoming-webhooks/{}",
                answer["incomingWebhookId"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    assert_eq!(w["status"], "error", "{w}");
    assert!(w["error"].as_str().unwrap().contains("no customer"), "{w}");
    assert!(app_events(&s, &s.admin(), "").await.is_empty());

    // A token of another workspace is refused; a bad token too.
    s.engine
        .create_workspace(
            "Other",
            Some("other-ws".into()),
            Some("other-secret-0123456789".into()),
        )
        .await
        .unwrap();
    let other = token(
        json!({"iss": "other-ws", "id": "alice", "exp": now() + 3600}),
        "other-secret-0123456789",
        jsonwebtoken::Algorithm::HS256,
    );
    let (status, e) = deliver(&s, "POST", &uri, Some(&other), Some(json!({"amount": 1}))).await;
    assert_eq!(status, 403, "{e}");
    let (status, _) = deliver(&s, "POST", &uri, Some("not.a.token"), Some(json!({}))).await;
    assert_eq!(status, 401);

    // Archived: 410, logged, never processed.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/app-event-types/{}", t["id"].as_str().unwrap()),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, e) = deliver(&s, "POST", &uri, Some(&f.alice), Some(json!({"amount": 1}))).await;
    assert_eq!(status, 410, "{e}");
    assert_eq!(e["key"], "gone", "{e}");
    process(&s).await;
    let (_, page) = s
        .get(
            &format!(
                "/incoming-webhooks?subscriptionId={}",
                t["id"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    let logged = page["items"].as_array().unwrap();
    assert_eq!(logged.len(), 2, "{page}");
    assert_eq!(logged[0]["status"], "error");
    assert!(app_events(&s, &s.admin(), "").await.is_empty());
    assert!(runs_of(&s, &alices).await.is_empty());
    s.finish().await;
}

#[tokio::test]
async fn a_disabled_instance_receives_nothing() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let t = event_type(&s, "tick", json!({})).await;
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();
    trigger_flow(&s, &f.integration_id, "on-tick", "tick", None).await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "on-tick").await;
    let (status, _) = s
        .patch(
            &format!("/flow-instances/{alices}"),
            &s.admin(),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200);
    deliver(&s, "POST", &uri, Some(&f.alice), Some(json!({"n": 1}))).await;
    process(&s).await;
    let events = app_events(&s, &s.admin(), "").await;
    assert_eq!(events.len(), 1, "the event is logged");
    assert_eq!(events[0]["launchedFlowRunIds"], json!([]));
    assert!(runs_of(&s, &alices).await.is_empty());
    s.finish().await;
}

/// The workspace's own app: records each subscribe request's body and headers.
async fn start_app() -> (String, Arc<Mutex<Vec<(Value, String)>>>) {
    let seen: Arc<Mutex<Vec<(Value, String)>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/subscribe",
        post(
            move |headers: axum::http::HeaderMap, Json(body): Json<Value>| {
                let record = record.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    record.lock().unwrap().push((body, auth));
                    Json(json!({"subscribed": true}))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn enabling_a_flow_subscribes_the_customer_and_its_webhook_fires_only_its_runs() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let (app, seen) = start_app().await;
    event_type(
        &s,
        "ticket",
        json!({"subscribeRequest": {
            "method": "POST",
            "uri": format!("{app}/subscribe"),
            "body": {"url": "{{webhookUri}}", "tenant": {"$var": "$.user.internalId"}}
        }}),
    )
    .await;
    trigger_flow(&s, &f.integration_id, "on-ticket", "ticket", None).await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "on-ticket").await;

    let (status, sub) = s
        .get("/app-event-subscription?appEventTypeKey=ticket", &f.alice)
        .await;
    assert_eq!(status, 200, "{sub}");
    assert_eq!(sub["isSubscribed"], true, "{sub}");
    let hook = sub["webhookUri"].as_str().unwrap().to_owned();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one subscribe request");
        assert_eq!(seen[0].0, json!({"url": hook, "tenant": "alice"}));
        assert!(seen[0].1.starts_with("Bearer "), "as the customer");
    }
    assert_eq!(sub["subscriptionResponse"], json!({"subscribed": true}));
    assert_eq!(sub["subscriptionRequest"]["headers"], Value::Null);

    // Subscribing again through the API sends the request again.
    let (status, again) = s
        .post(
            "/app-event-subscription/subscribe?appEventTypeKey=ticket",
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(seen.lock().unwrap().len(), 2);

    // Bob cannot see or subscribe Alice's subscription.
    let (status, _) = s
        .post(
            &format!(
                "/app-event-subscription/subscribe?id={}",
                sub["id"].as_str().unwrap()
            ),
            &f.bob,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);

    // Events on the subscription's URL are Alice's whatever they say.
    let (status, answer) = deliver(
        &s,
        "POST",
        &hook,
        None,
        Some(json!({"amount": 7, "customer": "bob"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    process(&s).await;
    let events = app_events(&s, &f.alice, "").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["appEventSubscriptionId"], sub["id"]);
    let run = finished_run(&s, events[0]["launchedFlowRunIds"][0].as_str().unwrap()).await;
    assert_eq!(run["connectionFlowId"], json!(alices));
    assert!(
        app_events(&s, &f.bob, "").await.is_empty(),
        "bob sees none of alice's events"
    );
    let (status, _) = s
        .get(
            &format!("/app-events/{}", events[0]["id"].as_str().unwrap()),
            &f.bob,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .get(
            &format!(
                "/incoming-webhooks/{}",
                answer["incomingWebhookId"].as_str().unwrap()
            ),
            &f.bob,
        )
        .await;
    assert_eq!(status, 404);
    s.finish().await;
}

#[tokio::test]
async fn log_lists_refuse_bad_parameters_by_name() {
    let s = Server::start().await;
    for (path, field) in [
        ("/app-events?limit=0", "limit"),
        ("/app-events?status=bogus", "status"),
        ("/app-events?from=yesterday", "from"),
        ("/incoming-webhooks?cursor=abc", "cursor"),
        ("/incoming-webhooks?sortOrder=sideways", "sortOrder"),
    ] {
        let (status, e) = s.get(path, &s.admin()).await;
        assert_eq!(status, 400, "{path}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{path}: {e}"
        );
    }
    s.finish().await;
}

/// An event whose customer has no flow instance with a trigger of its type
/// launches nothing, so nothing is left to do for it. On a database the node owns
/// it is settled in the commit that stores its delivery: handled the moment the
/// webhook answers, no job queued. Copies of one event sent at once — in one
/// group commit or several — are one event. A trigger added afterwards does not
/// receive it (decided: an event fires the triggers there were when it arrived).
#[tokio::test]
async fn an_event_no_trigger_can_fire_is_handled_with_its_delivery() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let t = event_type(&s, "ping", json!({"tenantIdFormula": {"$var": "$.user"}})).await;
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();
    let copies = futures::future::join_all((0..20).map(|_| {
        deliver(
            &s,
            "POST",
            &uri,
            None,
            Some(json!({"user": "alice", "n": 1})),
        )
    }))
    .await;
    let shared = crate::common::backend() == "postgres";
    let mut delivery_ids = Vec::new();
    for (status, answer) in &copies {
        assert_eq!(*status, 200, "{answer}");
        delivery_ids.push(answer["incomingWebhookId"].as_str().unwrap().to_owned());
    }
    if shared {
        // Two nodes could store copies at once: the target's job settles them.
        let (_, w) = s
            .get(
                &format!("/incoming-webhooks/{}", delivery_ids[0]),
                &s.admin(),
            )
            .await;
        assert_eq!(w["status"], "received", "{w}");
        process(&s).await;
    } else {
        assert_eq!(
            s.engine.run_due_jobs("test-worker").await,
            0,
            "nothing was left for a job"
        );
    }
    let events = app_events(&s, &s.admin(), "").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["launchedFlowRunIds"], json!([]), "{e}");
    for id in &delivery_ids {
        let (_, w) = s.get(&format!("/incoming-webhooks/{id}"), &s.admin()).await;
        assert_eq!(w["status"], "success", "{w}");
        assert_eq!(w["collectedEventIds"], json!([e["id"]]), "{w}");
    }

    // A trigger of the type now: the event already handled does not reach it.
    trigger_flow(&s, &f.integration_id, "on-ping", "ping", None).await;
    let alices = instance(&s, &f.alice_conn, &f.alice, "on-ping").await;
    process(&s).await;
    assert!(runs_of(&s, &alices).await.is_empty());
    // The next event does.
    deliver(
        &s,
        "POST",
        &uri,
        None,
        Some(json!({"user": "alice", "n": 2})),
    )
    .await;
    process(&s).await;
    let runs = runs_of(&s, &alices).await;
    assert_eq!(runs.len(), 1, "{runs:?}");

    // Whose an event is follows the customers as they are now: a customer
    // created after an event named them unknown gets the next one, and one
    // archived since does not.
    let delivery_status = |n: i64| {
        let s = &s;
        let uri = &uri;
        async move {
            let (status, answer) =
                deliver(s, "POST", uri, None, Some(json!({"user": "carol", "n": n}))).await;
            assert_eq!(status, 200, "{answer}");
            process(s).await;
            let id = answer["incomingWebhookId"].as_str().unwrap();
            let (_, w) = s.get(&format!("/incoming-webhooks/{id}"), &s.admin()).await;
            w
        }
    };
    let w = delivery_status(1).await;
    assert_eq!(w["status"], "error", "{w}");
    assert!(w["error"].as_str().unwrap().contains("carol"), "{w}");
    let carol = s
        .create("customers", json!({"internalId": "carol", "name": "Carol"}))
        .await;
    let w = delivery_status(2).await;
    assert_eq!(w["status"], "success", "{w}");
    let (status, archived) = s
        .call(
            "DELETE",
            &format!("/customers/{}", carol["id"].as_str().unwrap()),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{archived}");
    let w = delivery_status(3).await;
    assert_eq!(w["status"], "error", "{w}");
    s.finish().await;
}
