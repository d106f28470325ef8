//! The shipped connectors' webhook events (semantics §2.4 `webhook`, §5.6, §5.7):
//! GitHub `issues` and Stripe `customers` / `invoices`, each through the engine against
//! a mock of its API that registers hooks as the real one does (GitHub: `POST
//! /repos/{owner}/{repo}/hooks` with a secret the connector chose; Stripe: form-encoded
//! `POST /v1/webhook_endpoints`, answering a `whsec_…` secret it made) and posts
//! deliveries signed as the real one signs them (`X-Hub-Signature-256`;
//! `Stripe-Signature: t=…,v1=…`) to the registered URL.
//!
//! What must hold: enabling an instance with a data record trigger registers exactly
//! one hook for its subscription, with the subscription's URL; a signed delivery
//! starts one run whose trigger holds the record mapped by the collection's
//! `record-from-api`; a tampered, unsigned or wrongly signed delivery (and for Stripe
//! one signed too long ago or too far ahead) is logged `error` and starts nothing; the
//! app's action maps to the trigger's event type (only its own type fires);
//! disabling the instance deletes the hook at the app.
//!
//! The test server runs no job worker: the tests run the due jobs themselves.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::common::{Extras, Server};
use crate::external_events::{finished_runs, log_records, outputs, settle_jobs, subscriptions};

const GITHUB_TOKEN: &str = "gho-shipped-webhooks-0001";
const STRIPE_KEY: &str = "sk_test_shipped_webhooks_0001";

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

fn bearer(headers: &HeaderMap, token: &str) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&*format!("Bearer {token}"))
}

/// One hook registered at the mock app.
#[derive(Clone, Debug)]
struct Hook {
    id: String,
    /// `owner/repo` (GitHub), empty for Stripe.
    scope: String,
    url: String,
    secret: String,
    /// GitHub `events`, Stripe `enabled_events[]`.
    events: Vec<String>,
    /// The registration as received (GitHub: JSON; Stripe: the form pairs).
    request: Value,
}

#[derive(Default)]
struct AppState {
    live: BTreeMap<String, Hook>,
    made: usize,
    /// Every `DELETE` received, by path.
    deleted: Vec<String>,
}

/// The mock app (GitHub and Stripe on one server), shared with the test.
#[derive(Clone, Default)]
struct App {
    state: Arc<Mutex<AppState>>,
    http: reqwest::Client,
}

impl App {
    fn live(&self) -> Vec<Hook> {
        self.state.lock().unwrap().live.values().cloned().collect()
    }

    fn deleted(&self) -> Vec<String> {
        self.state.lock().unwrap().deleted.clone()
    }

    /// Forgets hook `id` without telling anyone (deleted by hand at the app).
    fn drop_hook(&self, id: &str) {
        self.state.lock().unwrap().live.remove(id);
    }

    fn only_hook(&self) -> Hook {
        let live = self.live();
        assert_eq!(live.len(), 1, "{live:?}");
        live[0].clone()
    }

    /// Posts `body` to `hook`'s URL with `headers`; the delivery id the server answered.
    async fn post(&self, hook: &Hook, body: &str, headers: &[(&str, String)]) -> String {
        let mut req = self
            .http
            .post(&hook.url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{}", hook.url);
        let answer: Value = resp.json().await.unwrap();
        answer["incomingWebhookId"].as_str().unwrap().to_owned()
    }
}

// ---- GitHub: https://docs.github.com/en/rest/repos/webhooks ---------------------

async fn github_user(headers: HeaderMap) -> Response {
    if !bearer(&headers, GITHUB_TOKEN) {
        return reply(401, json!({"message": "Bad credentials"}));
    }
    reply(200, json!({"login": "octocat", "id": 1}))
}

/// `POST /repos/{owner}/{repo}/hooks`: a `web` hook, active, for the listed events,
/// with `config.url` and `config.content_type`; the secret is the caller's. The
/// answer shows the secret masked, as GitHub does.
async fn github_create_hook(
    State(app): State<App>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !bearer(&headers, GITHUB_TOKEN) {
        return reply(401, json!({"message": "Bad credentials"}));
    }
    let config = &body["config"];
    let url = config["url"].as_str().unwrap_or_default();
    if body["name"] != "web" || !url.starts_with("http") || config["content_type"] != "json" {
        return reply(422, json!({"message": "Validation Failed", "body": body}));
    }
    let events: Vec<String> = body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    let mut s = app.state.lock().unwrap();
    s.made += 1;
    let id = (12_345_000 + s.made).to_string();
    s.live.insert(
        id.clone(),
        Hook {
            id: id.clone(),
            scope: format!("{owner}/{repo}"),
            url: url.to_owned(),
            secret: config["secret"].as_str().unwrap_or_default().to_owned(),
            events: events.clone(),
            request: body.clone(),
        },
    );
    reply(
        201,
        json!({"type": "Repository", "id": id.parse::<u64>().unwrap(), "name": "web", "active": true,
               "events": events, "config": {"url": url, "content_type": "json", "insecure_ssl": "0", "secret": "********"}}),
    )
}

async fn github_delete_hook(
    State(app): State<App>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !bearer(&headers, GITHUB_TOKEN) {
        return reply(401, json!({"message": "Bad credentials"}));
    }
    let mut s = app.state.lock().unwrap();
    s.deleted.push(format!("/repos/{owner}/{repo}/hooks/{id}"));
    let scope = format!("{owner}/{repo}");
    if s.live.get(&id).is_some_and(|h| h.scope == scope) {
        s.live.remove(&id);
        StatusCode::NO_CONTENT.into_response()
    } else {
        reply(404, json!({"message": "Not Found"}))
    }
}

// ---- Stripe: https://docs.stripe.com/api/webhook_endpoints ------------------------

async fn stripe_customers(headers: HeaderMap) -> Response {
    if !bearer(&headers, STRIPE_KEY) {
        return reply(
            401,
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
        );
    }
    reply(
        200,
        json!({"object": "list", "data": [], "has_more": false, "url": "/v1/customers"}),
    )
}

/// `POST /v1/webhook_endpoints`, form-encoded: `url` and `enabled_events[]` required;
/// the answer carries the endpoint's new signing secret.
async fn stripe_create_endpoint(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !bearer(&headers, STRIPE_KEY) {
        return reply(401, json!({"error": {"type": "invalid_request_error"}}));
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return reply(
            400,
            json!({"error": {"type": "invalid_request_error", "message": "form-encoded bodies only"}}),
        );
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let url = pairs
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let events: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "enabled_events[]")
        .map(|(_, v)| v.clone())
        .collect();
    if url.is_empty() || events.is_empty() {
        return reply(
            400,
            json!({"error": {"type": "invalid_request_error", "message": "Missing required param: url or enabled_events."}}),
        );
    }
    let mut s = app.state.lock().unwrap();
    s.made += 1;
    let id = format!("we_{:04}", s.made);
    let secret = format!("whsec_{}", osmosis_model::ids::object_id());
    s.live.insert(
        id.clone(),
        Hook {
            id: id.clone(),
            scope: String::new(),
            url: url.clone(),
            secret: secret.clone(),
            events: events.clone(),
            request: json!(pairs),
        },
    );
    reply(
        200,
        json!({"id": id, "object": "webhook_endpoint", "url": url, "enabled_events": events,
               "status": "enabled", "secret": secret}),
    )
}

async fn stripe_delete_endpoint(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !bearer(&headers, STRIPE_KEY) {
        return reply(401, json!({"error": {"type": "invalid_request_error"}}));
    }
    let mut s = app.state.lock().unwrap();
    s.deleted.push(format!("/v1/webhook_endpoints/{id}"));
    match s.live.remove(&id) {
        Some(_) => reply(
            200,
            json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
        ),
        None => reply(
            404,
            json!({"error": {"type": "invalid_request_error", "code": "resource_missing"}}),
        ),
    }
}

async fn start_app() -> (String, App) {
    let app = App::default();
    let router = Router::new()
        .route("/user", get(github_user))
        .route("/repos/{owner}/{repo}/hooks", post(github_create_hook))
        .route(
            "/repos/{owner}/{repo}/hooks/{id}",
            delete(github_delete_hook),
        )
        .route("/v1/customers", get(stripe_customers))
        .route("/v1/webhook_endpoints", post(stripe_create_endpoint))
        .route("/v1/webhook_endpoints/{id}", delete(stripe_delete_endpoint))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, app)
}

// ---- Through the engine ---------------------------------------------------------

async fn incoming(s: &Server, id: &str) -> Value {
    let (status, d) = s.get(&format!("/incoming-webhooks/{id}"), &s.admin()).await;
    assert_eq!(status, 200, "{d}");
    d
}

async fn enable(s: &Server, instance: &str, token: &str, on: bool) {
    let (status, v) = s
        .patch(
            &format!("/flow-instances/{instance}"),
            token,
            json!({"enabled": on}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

/// Flow `key`: trigger `t` of `trigger` on `data_source`, importing `mapping`.
async fn flow(
    s: &Server,
    integration_id: &str,
    key: &str,
    trigger: &str,
    data_source: Value,
    mapping: Value,
) {
    s.create(
        "flows",
        json!({"key": key, "integrationId": integration_id, "nodes": {
            "t": {"type": trigger,
                  "config": {"dataSource": data_source, "fieldMapping": {"importValue": mapping}},
                  "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {
                "id": {"$var": "$.input.t.record.id"}, "type": {"$var": "$.input.t.type"}}}}
        }}),
    )
    .await;
}

/// Disables `instances`; then every hook of `hooks` is deleted at the app (the
/// path of each deletion is `deleted_at` and its id) and none is left live.
async fn disable_all(
    s: &Server,
    app: &App,
    instances: &[&str],
    token: &str,
    hooks: &[Hook],
    deleted_at: &str,
) {
    for inst in instances {
        enable(s, inst, token, false).await;
    }
    settle_jobs(s).await;
    assert!(app.live().is_empty(), "{:?}", app.live());
    let mut deleted = app.deleted();
    deleted.sort();
    let mut want: Vec<String> = hooks
        .iter()
        .map(|h| format!("{deleted_at}{}", h.id))
        .collect();
    want.sort();
    assert_eq!(deleted, want);
}

/// `token`'s instance of flow `key` on `conn`, made (enabled) on demand.
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

/// The live subscription of `conn` of `sub_type` on collection `collection`.
async fn subscription(s: &Server, conn: &str, sub_type: &str, collection: &str) -> Value {
    subscriptions(s, conn)
        .await
        .into_iter()
        .find(|sub| {
            sub["config"]["type"] == sub_type
                && sub["config"]["dataSource"]["collectionKey"] == collection
        })
        .unwrap_or_else(|| panic!("no {sub_type} subscription on {collection}"))
}

/// The trigger outputs of every finished run of instance `id`.
async fn triggered(s: &Server, id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for run in finished_runs(s, id).await {
        all.extend(outputs(s, &run, "t").await);
    }
    all
}

/// Asserts delivery `id` was refused by the connector's `handle` with an error
/// containing `why`, and collected nothing.
async fn refused(s: &Server, id: &str, why: &str) {
    let d = incoming(s, id).await;
    assert_eq!(d["status"], "error", "{d}");
    let error = d["error"].to_string();
    assert!(error.contains(why), "wanted {why:?} in {d}");
    assert_eq!(d["collectedEventIds"], json!([]), "{d}");
}

/// Asserts the `secret` a hook was registered with is nowhere in what the API shows:
/// not in subscription `sid` read by id or listed (by the admin and by `customer`,
/// whose `webhookSecret` shows masked), nor in any external API log of connection
/// `conn` — among them the registration, the `POST` to a URL ending in
/// `registration_path` (its request or its response carried the secret).
async fn secret_kept_hidden(
    s: &Server,
    customer: &str,
    conn: &str,
    sid: &str,
    registration_path: &str,
    secret: &str,
) {
    assert!(secret.len() >= 16, "{secret}");
    let admin = s.admin();
    for token in [admin.as_str(), customer] {
        let (status, sub) = s
            .get(&format!("/external-event-subscriptions/{sid}"), token)
            .await;
        assert_eq!(status, 200, "{sub}");
        assert_eq!(sub["stateData"]["webhookSecret"], "***", "{sub}");
        assert!(!sub.to_string().contains(secret), "{sub}");
        let (status, list) = s
            .get(
                &format!("/external-event-subscriptions?connectionId={conn}"),
                token,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        assert!(!list.to_string().contains(secret), "{list}");
    }
    // Logs are written asynchronously: wait for the registration's.
    let mut registration = None;
    for _ in 0..100 {
        let (status, page) = s
            .get(&format!("/external-api-logs?connectionId={conn}"), &admin)
            .await;
        assert_eq!(status, 200, "{page}");
        registration = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| {
                l["requestUrl"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(registration_path))
            })
            .cloned();
        if registration.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let registration =
        registration.unwrap_or_else(|| panic!("no external API log of {registration_path}"));
    let (status, log) = s
        .get(
            &format!(
                "/external-api-logs/{}",
                registration["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["request"]["method"], "POST", "{log}");
    assert!(log["response"]["body"].is_object(), "{log}");
    for token in [admin.as_str(), customer] {
        let (status, page) = s
            .get(&format!("/external-api-logs?connectionId={conn}"), token)
            .await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{page}");
        assert!(!page.to_string().contains(secret), "{page}");
        for item in items {
            let (status, log) = s
                .get(
                    &format!("/external-api-logs/{}", item["id"].as_str().unwrap()),
                    token,
                )
                .await;
            assert_eq!(status, 200, "{log}");
            assert!(!log.to_string().contains(secret), "{log}");
        }
    }
}

/// Asserts delivery `id` was handled and collected `n` events.
async fn accepted(s: &Server, id: &str, n: usize) -> Value {
    let d = incoming(s, id).await;
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["collectedEventIds"].as_array().unwrap().len(), n, "{d}");
    d
}

// ---- GitHub ---------------------------------------------------------------------

fn issue(number: u64, title: &str, state: &str, labels: &[&str]) -> Value {
    json!({
        "id": 900_000 + number, "number": number, "title": title, "body": format!("About {title}"),
        "state": state, "html_url": format!("https://github.com/octo/hello/issues/{number}"),
        "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-05T10:00:00Z",
        "labels": labels.iter().map(|l| json!({"name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "assignees": [{"login": "hubot"}], "user": {"login": "octocat"},
    })
}

fn issues_payload(action: &str, issue: Value) -> String {
    json!({"action": action, "issue": issue,
           "repository": {"full_name": "octo/hello", "name": "hello"}, "sender": {"login": "octocat"}})
    .to_string()
}

/// A delivery as GitHub makes it: `X-GitHub-Event`, `X-GitHub-Delivery` and
/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
fn github_headers(
    event: &str,
    delivery: &str,
    signature: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("x-github-event", event.to_owned()),
        ("x-github-delivery", delivery.to_owned()),
        ("x-github-hook-id", "0".to_owned()),
        ("user-agent", "GitHub-Hookshot/abc123".to_owned()),
    ];
    if let Some(sig) = signature {
        h.push(("x-hub-signature-256", sig));
    }
    h
}

async fn github_deliver(app: &App, hook: &Hook, event: &str, delivery: &str, body: &str) -> String {
    let sig = format!("sha256={}", hmac_hex(&hook.secret, body));
    app.post(hook, body, &github_headers(event, delivery, Some(sig)))
        .await
}

#[tokio::test]
async fn github_issue_webhooks_are_verified_and_reach_flows() {
    let s = Server::start_with(Extras {
        shipped: true,
        ..Extras::default()
    })
    .await;
    let (base, app) = start_app().await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "github", "name": "GitHub", "connectorKey": "github",
                   "parameters": {"clientId": "client-1", "clientSecret": "client-secret-1", "apiBaseUri": base}}),
        )
        .await;
    let iid = integration["id"].as_str().unwrap();
    let alice = s.customer("alice");
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": iid, "credentials": {"access_token": GITHUB_TOKEN}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    let issues = json!({"collectionKey": "issues", "collectionParameters": {"owner": "octo", "repo": "hello"}});
    let mapping = json!({"title": {"$var": "$.title"}, "state": {"$var": "$.state"},
                         "labels": {"$var": "$.labels"}, "assignees": {"$var": "$.assignees"}});
    for (key, trigger) in [
        ("on-opened", "data-record-created-trigger"),
        ("on-changed", "data-record-updated-trigger"),
        ("on-deleted", "data-record-deleted-trigger"),
    ] {
        flow(&s, iid, key, trigger, issues.clone(), mapping.clone()).await;
    }

    // Enabled: one hook at the repository, for `issues`, JSON, posting to the
    // subscription's own URL, with a 256-bit secret the subscription keeps.
    let opened = instance(&s, &conn, &alice, "on-opened").await;
    settle_jobs(&s).await;
    let hook = app.only_hook();
    let sub = subscription(&s, &conn, "data-record-created", "issues").await;
    assert_eq!(sub["status"], "subscribed", "{sub}");
    assert_eq!(sub["isRealTime"], true, "{sub}");
    assert_eq!(hook.scope, "octo/hello");
    assert_eq!(hook.url, sub["webhookUri"].as_str().unwrap());
    assert_eq!(hook.events, vec!["issues".to_owned()]);
    assert_eq!(hook.request["active"], true, "{:?}", hook.request);
    assert_eq!(hook.request["config"]["insecure_ssl"], "0");
    assert_eq!(hook.secret.len(), 64, "{}", hook.secret);
    assert!(
        hook.secret.chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        hook.secret
    );
    assert_eq!(
        sub["stateData"]["hookId"],
        json!(hook.id.parse::<u64>().unwrap()),
        "{sub}"
    );
    let sid = sub["id"].as_str().unwrap().to_owned();
    // The secret is the subscription's state and went out in the registration's
    // body: shown to nobody.
    secret_kept_hidden(
        &s,
        &alice,
        &conn,
        &sid,
        "/repos/octo/hello/hooks",
        &hook.secret,
    )
    .await;

    // GitHub's ping on a new hook: verified, no event.
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    let d = github_deliver(&app, &hook, "ping", "d-ping", &ping).await;
    settle_jobs(&s).await;
    accepted(&s, &d, 0).await;

    // A signed `opened`: one run, the issue mapped by `record-from-api`.
    let body = issues_payload(
        "opened",
        issue(42, "Printer on fire", "open", &["bug", "p1"]),
    );
    let d = github_deliver(&app, &hook, "issues", "d-1", &body).await;
    settle_jobs(&s).await;
    let d = accepted(&s, &d, 1).await;
    assert_eq!(d["request"]["headers"]["x-hub-signature-256"], "***", "{d}");
    assert!(!d.to_string().contains(&hook.secret), "{d}");
    // The delivery is the subscription's connection's, listed or read by id.
    assert_eq!(d["integrationId"], iid, "{d}");
    assert_eq!(d["connectionId"], conn, "{d}");
    let (status, listed) = s
        .get(&format!("/incoming-webhooks?subscriptionId={sid}"), &alice)
        .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["items"].as_array().unwrap().clone();
    assert!(!listed.is_empty());
    for l in &listed {
        assert_eq!(
            (&l["integrationId"], &l["connectionId"]),
            (&json!(iid), &json!(conn)),
            "{l}"
        );
    }
    let events = log_records(&s, &sid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["payload"]["type"], "created");
    let record = &events[0]["payload"]["record"];
    assert_eq!(record["id"], "42", "{record}");
    assert_eq!(record["name"], "Printer on fire");
    assert_eq!(record["uri"], "https://github.com/octo/hello/issues/42");
    assert_eq!(record["fields"]["labels"], json!(["bug", "p1"]), "{record}");
    let out = triggered(&s, &opened).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["record"]["id"], "42");
    assert_eq!(
        out[0]["record"]["fields"],
        json!({"title": "Printer on fire", "state": "open", "labels": ["bug", "p1"], "assignees": ["hubot"]})
    );
    // The same delivery again (GitHub's redelivery keeps its GUID): no second run.
    let again = github_deliver(&app, &hook, "issues", "d-1", &body).await;
    settle_jobs(&s).await;
    accepted(&s, &again, 1).await;
    assert_eq!(finished_runs(&s, &opened).await.len(), 1);

    // Refused: a body changed after signing, no signature, the wrong secret, a
    // signature of the right length that is not the body's.
    let signed = format!("sha256={}", hmac_hex(&hook.secret, &body));
    let tampered = body.replace("Printer on fire", "Printer is fine");
    let forged = [
        (tampered.clone(), Some(signed.clone()), "does not match"),
        (tampered.clone(), None, "no X-Hub-Signature-256"),
        (
            tampered.clone(),
            Some(format!("sha256={}", hmac_hex("not-the-secret", &tampered))),
            "does not match",
        ),
        (
            tampered.clone(),
            Some(format!("sha1={}", hmac_hex(&hook.secret, &tampered))),
            "no X-Hub-Signature-256",
        ),
    ];
    for (i, (body, sig, why)) in forged.into_iter().enumerate() {
        let d = app
            .post(
                &hook,
                &body,
                &github_headers("issues", &format!("d-forged-{i}"), sig),
            )
            .await;
        settle_jobs(&s).await;
        refused(&s, &d, why).await;
    }
    assert_eq!(log_records(&s, &sid).await.len(), 1);
    assert_eq!(finished_runs(&s, &opened).await.len(), 1);

    // An edit is an `updated` event: not this subscription's type.
    let edited = issues_payload("edited", issue(42, "Printer on fire!", "open", &["bug"]));
    let d = github_deliver(&app, &hook, "issues", "d-2", &edited).await;
    settle_jobs(&s).await;
    accepted(&s, &d, 0).await;
    assert_eq!(finished_runs(&s, &opened).await.len(), 1);

    // Updated and deleted triggers: a hook each, each with its own secret.
    let changed = instance(&s, &conn, &alice, "on-changed").await;
    let deleted = instance(&s, &conn, &alice, "on-deleted").await;
    settle_jobs(&s).await;
    let hooks = app.live();
    assert_eq!(hooks.len(), 3, "{hooks:?}");
    let mut secrets: Vec<&str> = hooks.iter().map(|h| h.secret.as_str()).collect();
    secrets.sort();
    secrets.dedup();
    assert_eq!(secrets.len(), 3, "each subscription has its own secret");
    // GitHub posts each event to every hook of the repository.
    let deliver_all = |action: &'static str, issue: Value, guid: &'static str| {
        let (app, hooks) = (app.clone(), hooks.clone());
        async move {
            let body = issues_payload(action, issue);
            let mut ids = Vec::new();
            for h in &hooks {
                ids.push(
                    github_deliver(&app, h, "issues", &format!("{guid}-{}", h.id), &body).await,
                );
            }
            ids
        }
    };
    for action in ["closed", "labeled"] {
        deliver_all(
            action,
            issue(42, "Printer on fire", "closed", &["bug", "wontfix"]),
            action,
        )
        .await;
    }
    settle_jobs(&s).await;
    let out = triggered(&s, &changed).await;
    assert_eq!(out.len(), 2, "{out:?}");
    for o in &out {
        assert_eq!(o["record"]["id"], "42");
        assert_eq!(o["record"]["fields"]["state"], "closed");
        assert_eq!(o["record"]["fields"]["labels"], json!(["bug", "wontfix"]));
    }
    assert!(finished_runs(&s, &deleted).await.is_empty());
    deliver_all(
        "deleted",
        issue(42, "Printer on fire", "closed", &[]),
        "gone",
    )
    .await;
    deliver_all(
        "opened",
        issue(43, "Papierstau — Zoë 😀", "open", &[]),
        "new",
    )
    .await;
    settle_jobs(&s).await;
    let out = triggered(&s, &deleted).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["record"]["id"], "42");
    let out = triggered(&s, &opened).await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1]["record"]["id"], "43");
    assert_eq!(out[1]["record"]["fields"]["title"], "Papierstau — Zoë 😀");
    assert_eq!(triggered(&s, &changed).await.len(), 2);

    // Disabled: each instance's hook is deleted at the repository; one deleted by
    // hand already (404) is no error.
    let by_url = |url: &str| hooks.iter().find(|h| h.url == url).unwrap().clone();
    let changed_hook = by_url(
        subscription(&s, &conn, "data-record-updated", "issues").await["webhookUri"]
            .as_str()
            .unwrap(),
    );
    app.drop_hook(&changed_hook.id);
    disable_all(
        &s,
        &app,
        &[&opened, &changed, &deleted],
        &alice,
        &hooks,
        "/repos/octo/hello/hooks/",
    )
    .await;
    let (_, all) = s
        .get(
            &format!("/external-event-subscriptions?connectionId={conn}&includeArchived=true"),
            &s.admin(),
        )
        .await;
    for sub in all["items"].as_array().unwrap() {
        assert_ne!(sub["status"], "error", "{sub}");
    }
    s.finish().await;
}

// ---- Stripe ---------------------------------------------------------------------

fn stripe_event(id: &str, kind: &str, object: Value) -> String {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": crate::common::now(),
           "livemode": false, "type": kind, "data": {"object": object}})
    .to_string()
}

fn customer(id: &str, name: &str, email: &str) -> Value {
    json!({"id": id, "object": "customer", "name": name, "email": email, "phone": null,
           "description": "VIP", "currency": "eur", "created": 1_733_000_000})
}

/// `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>`.
fn stripe_signature(secret: &str, ts: i64, body: &str) -> String {
    format!("t={ts},v1={}", hmac_hex(secret, &format!("{ts}.{body}")))
}

async fn stripe_deliver(app: &App, hook: &Hook, body: &str, signature: Option<String>) -> String {
    let headers: Vec<(&str, String)> = signature
        .into_iter()
        .map(|sig| ("stripe-signature", sig))
        .collect();
    app.post(hook, body, &headers).await
}

#[tokio::test]
async fn stripe_webhooks_are_verified_and_reach_flows() {
    let s = Server::start_with(Extras {
        shipped: true,
        ..Extras::default()
    })
    .await;
    let (base, app) = start_app().await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "stripe", "name": "Stripe", "connectorKey": "stripe",
                   "parameters": {"apiBaseUri": base}}),
        )
        .await;
    let iid = integration["id"].as_str().unwrap();
    let alice = s.customer("alice");
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": iid, "input": {"apiKey": STRIPE_KEY}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    let customers = json!({"collectionKey": "customers"});
    let mapping = json!({"name": {"$var": "$.name"}, "email": {"$var": "$.email"},
                         "currency": {"$var": "$.currency"}});
    flow(
        &s,
        iid,
        "on-customer",
        "data-record-created-trigger",
        customers.clone(),
        mapping.clone(),
    )
    .await;
    flow(
        &s,
        iid,
        "on-customer-gone",
        "data-record-deleted-trigger",
        customers,
        mapping,
    )
    .await;
    flow(
        &s,
        iid,
        "on-invoice",
        "data-record-created-trigger",
        json!({"collectionKey": "invoices"}),
        json!({"customer": {"$var": "$.customer"}, "total": {"$var": "$.total"}}),
    )
    .await;

    // Enabled: one endpoint, form-encoded, for the subscription's URL and the three
    // customer events; the secret Stripe made is what the connector verifies with.
    let created = instance(&s, &conn, &alice, "on-customer").await;
    settle_jobs(&s).await;
    let hook = app.only_hook();
    let sub = subscription(&s, &conn, "data-record-created", "customers").await;
    assert_eq!(sub["status"], "subscribed", "{sub}");
    assert_eq!(hook.url, sub["webhookUri"].as_str().unwrap());
    assert_eq!(
        hook.events,
        ["customer.created", "customer.updated", "customer.deleted"]
    );
    assert_eq!(sub["stateData"]["endpointId"], hook.id, "{sub}");
    let sid = sub["id"].as_str().unwrap().to_owned();
    // The secret Stripe made came back in the registration's answer and is the
    // subscription's state: shown to nobody.
    secret_kept_hidden(&s, &alice, &conn, &sid, "/webhook_endpoints", &hook.secret).await;
    let now = crate::common::now();

    // A signed `customer.created`: one run, `data.object` mapped.
    let body = stripe_event(
        "evt_1",
        "customer.created",
        customer("cus_1", "Ada", "ada@example.com"),
    );
    let d = stripe_deliver(
        &app,
        &hook,
        &body,
        Some(stripe_signature(&hook.secret, now, &body)),
    )
    .await;
    settle_jobs(&s).await;
    let d = accepted(&s, &d, 1).await;
    assert_eq!(d["request"]["headers"]["stripe-signature"], "***", "{d}");
    assert!(!d.to_string().contains(&hook.secret), "{d}");
    assert_eq!(d["integrationId"], iid, "{d}");
    assert_eq!(d["connectionId"], conn, "{d}");
    let out = triggered(&s, &created).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["record"]["id"], "cus_1");
    assert_eq!(out[0]["record"]["name"], "Ada");
    assert_eq!(
        out[0]["record"]["fields"],
        json!({"name": "Ada", "email": "ada@example.com", "currency": "eur"})
    );
    let events = log_records(&s, &sid).await;
    assert_eq!(
        events[0]["payload"]["record"]["createdTime"], "2024-11-30T20:53:20.000Z",
        "{events:?}"
    );

    // Any `v1` may match (Stripe sends several while a secret is rolled).
    let body2 = stripe_event(
        "evt_2",
        "customer.created",
        customer("cus_2", "Grâce 😀", "grace@example.com"),
    );
    let good = hmac_hex(&hook.secret, &format!("{now}.{body2}"));
    let several = format!(
        "t={now},v1={},v1={good},v0=abc",
        hmac_hex("old-secret", &format!("{now}.{body2}"))
    );
    let d = stripe_deliver(&app, &hook, &body2, Some(several)).await;
    settle_jobs(&s).await;
    accepted(&s, &d, 1).await;
    assert_eq!(finished_runs(&s, &created).await.len(), 2);

    // Refused: tampered, unsigned, the wrong secret, no v1, and signed correctly but
    // 301 s too old or 10 minutes ahead (a replay).
    let body3 = stripe_event(
        "evt_3",
        "customer.created",
        customer("cus_3", "Eve", "eve@example.com"),
    );
    let tampered = body3.replace("Eve", "Mallory");
    let forged = [
        (
            tampered.clone(),
            Some(stripe_signature(&hook.secret, now, &body3)),
            "no v1 signature",
        ),
        (tampered.clone(), None, "no Stripe-Signature"),
        (
            tampered.clone(),
            Some(stripe_signature("whsec_guess", now, &tampered)),
            "no v1 signature",
        ),
        (
            body3.clone(),
            Some(format!(
                "t={now},v0={}",
                hmac_hex(&hook.secret, &format!("{now}.{body3}"))
            )),
            "no Stripe-Signature",
        ),
        (
            body3.clone(),
            Some(stripe_signature(&hook.secret, now - 301, &body3)),
            "more than 300 s",
        ),
        (
            body3.clone(),
            Some(stripe_signature(&hook.secret, now + 600, &body3)),
            "more than 300 s",
        ),
    ];
    for (body, sig, why) in forged {
        let d = stripe_deliver(&app, &hook, &body, sig).await;
        settle_jobs(&s).await;
        refused(&s, &d, why).await;
    }
    assert_eq!(log_records(&s, &sid).await.len(), 2);
    assert_eq!(finished_runs(&s, &created).await.len(), 2);
    // Within the tolerance, a little old is fine.
    let d = stripe_deliver(
        &app,
        &hook,
        &body3,
        Some(stripe_signature(&hook.secret, now - 200, &body3)),
    )
    .await;
    settle_jobs(&s).await;
    accepted(&s, &d, 1).await;

    // Deleted customers, and invoices, through their own endpoints; an update is no
    // created event; an event of another object is nobody's.
    let gone = instance(&s, &conn, &alice, "on-customer-gone").await;
    let invoiced = instance(&s, &conn, &alice, "on-invoice").await;
    settle_jobs(&s).await;
    let hooks = app.live();
    assert_eq!(hooks.len(), 3, "{hooks:?}");
    let invoice_hook = hooks
        .iter()
        .find(|h| h.events.contains(&"invoice.created".to_owned()))
        .unwrap()
        .clone();
    assert_eq!(
        invoice_hook.events,
        ["invoice.created", "invoice.updated", "invoice.deleted"]
    );
    let now = crate::common::now();
    let customer_events = [
        stripe_event(
            "evt_4",
            "customer.updated",
            customer("cus_1", "Ada L.", "ada@example.com"),
        ),
        stripe_event(
            "evt_5",
            "customer.deleted",
            customer("cus_2", "Grâce 😀", "grace@example.com"),
        ),
    ];
    for h in hooks.iter().filter(|h| h.id != invoice_hook.id) {
        for body in &customer_events {
            stripe_deliver(&app, h, body, Some(stripe_signature(&h.secret, now, body))).await;
        }
    }
    let invoice = json!({"id": "in_1", "object": "invoice", "customer": "cus_1", "total": 4200,
                         "number": "INV-0001", "status": "draft", "currency": "eur", "created": 1_733_000_000});
    for body in [
        stripe_event("evt_6", "invoice.created", invoice.clone()),
        stripe_event("evt_7", "customer.created", invoice.clone()),
    ] {
        stripe_deliver(
            &app,
            &invoice_hook,
            &body,
            Some(stripe_signature(&invoice_hook.secret, now, &body)),
        )
        .await;
    }
    settle_jobs(&s).await;
    assert_eq!(finished_runs(&s, &created).await.len(), 3);
    let out = triggered(&s, &gone).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["record"]["id"], "cus_2");
    let out = triggered(&s, &invoiced).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["record"]["id"], "in_1");
    assert_eq!(out[0]["record"]["name"], "INV-0001");
    assert_eq!(
        out[0]["record"]["fields"],
        json!({"customer": "cus_1", "total": 4200})
    );

    // Disabled: every endpoint deleted at Stripe.
    disable_all(
        &s,
        &app,
        &[&created, &gone, &invoiced],
        &alice,
        &hooks,
        "/v1/webhook_endpoints/",
    )
    .await;
    s.finish().await;
}

/// The HMAC-SHA256 each webhook file carries (the sandbox has no `crypto` and no
/// imports) is one block, copied byte for byte: the tests above prove it against a
/// native HMAC through GitHub's and Stripe's handles, so every copy must be that one.
#[test]
fn the_connectors_hmac_is_one_block() {
    let files = [
        include_str!(
            "../../../connectors/shipped/github/data/issues/events-all-webhook-subscribe.js"
        ),
        include_str!("../../../connectors/shipped/github/data/issues/events-all-webhook-handle.js"),
        include_str!(
            "../../../connectors/shipped/stripe/data/customers/events-all-webhook-handle.js"
        ),
        include_str!(
            "../../../connectors/shipped/stripe/data/invoices/events-all-webhook-handle.js"
        ),
    ];
    let block = |text: &str| -> String {
        let start = text.find("// ---- HMAC-SHA256").expect("the HMAC block");
        let end = text.find("// ---- end of HMAC-SHA256").expect("its end");
        text[start..end].to_owned()
    };
    let first = block(files[0]);
    assert!(first.contains("function hmacSha256Hex"), "{first}");
    for f in &files[1..] {
        assert_eq!(block(f), first, "the HMAC blocks differ");
    }
}
