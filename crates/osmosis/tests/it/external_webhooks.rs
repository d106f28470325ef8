//! Connector webhooks of external event subscriptions (docs/spec/semantics.md
//! §2.4 `webhook`, §5.6, §5.7): enabling an instance with a data record trigger
//! registers a webhook at the external app through the connector's `subscribe`,
//! one at a time per subscription whatever is toggled and on however many nodes;
//! the app's signed deliveries are stored, then the connector's `handle` verifies
//! them and turns them into events, and the events into flow runs with their
//! records mapped; repeats fire once, forgeries never.
//!
//! The test server runs no job worker: the tests run the due jobs themselves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::common::mock_api::API_KEY;
use crate::common::{backend, Server};
use crate::external_events::{
    event_flow, finished_runs, instance, leave_created, log_records, of_type, outputs, settle_jobs,
    subscriptions,
};

/// The secret the app signs its deliveries with; the connection holds it.
const SECRET: &str = "whsec-7f3a9c2e1b";

/// The mock external app: webhooks registered through its API (`POST /webhooks`
/// `{url}`, `DELETE /webhooks/{id}`, `POST /webhooks/{id}/renew`), each delivery
/// signed `x-hook-signature: sha256=<hex HMAC-SHA256 of the body>`.
#[derive(Clone, Default)]
struct Hooks {
    /// Live registrations: id → URL.
    live: Arc<Mutex<BTreeMap<String, String>>>,
    made: Arc<AtomicUsize>,
    renewed: Arc<AtomicUsize>,
    /// While set, registering fails (422).
    refuse: Arc<AtomicBool>,
    http: reqwest::Client,
}

impl Hooks {
    fn live(&self) -> Vec<String> {
        self.live.lock().unwrap().values().cloned().collect()
    }

    /// Posts `body` to every registered URL, signed with `secret` (`None`:
    /// unsigned); answers each `(status, answer)`.
    async fn deliver(&self, body: &Value, secret: Option<&str>) -> Vec<(u16, Value)> {
        let text = body.to_string();
        let mut answers = Vec::new();
        for url in self.live() {
            answers.push(post_signed(&self.http, &url, &text, secret).await);
        }
        answers
    }
}

fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    secret: Option<&str>,
) -> (u16, Value) {
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(secret) = secret {
        req = req.header("x-hook-signature", signature(secret, body));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(API_KEY)
}

async fn register(
    State(h): State<Hooks>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !authorised(&headers) || h.refuse.load(Ordering::SeqCst) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "webhooks are down"})),
        );
    }
    let n = h.made.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("hook-{n}");
    h.live
        .lock()
        .unwrap()
        .insert(id.clone(), body["url"].as_str().unwrap().to_owned());
    (StatusCode::CREATED, Json(json!({"id": id})))
}

async fn unregister(
    State(h): State<Hooks>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> StatusCode {
    if !authorised(&headers) {
        return StatusCode::FORBIDDEN;
    }
    match h.live.lock().unwrap().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

async fn renew(State(h): State<Hooks>, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    if !h.live.lock().unwrap().contains_key(&id) {
        return (StatusCode::NOT_FOUND, Json(json!({})));
    }
    h.renewed.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, Json(json!({"id": id})))
}

async fn start_hooks() -> (String, Hooks) {
    let hooks = Hooks::default();
    let app = Router::new()
        .route("/me", get(|| async { Json(json!({"id": "me"})) }))
        .route("/webhooks", post(register))
        .route("/webhooks/{id}", delete(unregister))
        .route("/webhooks/{id}/renew", post(renew))
        .with_state(hooks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hooks)
}

/// HMAC-SHA256 in plain JavaScript (the sandbox has no `crypto`): what a
/// connector verifying signatures carries.
const HMAC_JS: &str = r#"
const K = [0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
  0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
  0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
  0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
  0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2];
const rotr = (x, n) => (x >>> n) | (x << (32 - n));
function sha256(msg) {
  const m = msg.slice(); const bits = msg.length * 8;
  m.push(0x80); while (m.length % 64 !== 56) m.push(0);
  for (let i = 7; i >= 0; i--) m.push(i > 3 ? 0 : (bits >>> (i * 8)) & 255);
  let h = [0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19];
  const w = new Array(64);
  for (let o = 0; o < m.length; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = (m[o+4*i] << 24) | (m[o+4*i+1] << 16) | (m[o+4*i+2] << 8) | m[o+4*i+3];
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i-15], 7) ^ rotr(w[i-15], 18) ^ (w[i-15] >>> 3);
      const s1 = rotr(w[i-2], 17) ^ rotr(w[i-2], 19) ^ (w[i-2] >>> 10);
      w[i] = (w[i-16] + s0 + w[i-7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e,6) ^ rotr(e,11) ^ rotr(e,25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a,2) ^ rotr(a,13) ^ rotr(a,22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h = [h[0]+a, h[1]+b, h[2]+c, h[3]+d, h[4]+e, h[5]+f, h[6]+g, h[7]+hh].map(x => x | 0);
  }
  const out = [];
  for (const x of h) out.push((x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255);
  return out;
}
function utf8(s) {
  const b = [];
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c < 128) b.push(c);
    else if (c < 2048) b.push(192 | c >> 6, 128 | c & 63);
    else if (c < 65536) b.push(224 | c >> 12, 128 | c >> 6 & 63, 128 | c & 63);
    else b.push(240 | c >> 18, 128 | c >> 12 & 63, 128 | c >> 6 & 63, 128 | c & 63);
  }
  return b;
}
function hmacHex(key, msg) {
  let k = utf8(key); if (k.length > 64) k = sha256(k); while (k.length < 64) k.push(0);
  const inner = sha256(k.map(x => x ^ 0x36).concat(utf8(msg)));
  return sha256(k.map(x => x ^ 0x5c).concat(inner)).map(x => (x < 16 ? '0' : '') + x.toString(16)).join('');
}
"#;

fn js(code: &str) -> Value {
    json!({"type": "javascript", "code": code})
}

/// The `hooks` connector: collection `tickets` whose created events come by
/// webhook. `handle` refuses a delivery whose signature is not the HMAC of its
/// raw body with the connection's `webhookSecret`.
fn hooks_connector(base: &str) -> Value {
    let handle = format!(
        r#"{HMAC_JS}
export default async ({{input, credentials}}) => {{
  const sent = input.headers['x-hook-signature'];
  if (!sent) throw new Error('unsigned delivery');
  if (sent !== 'sha256=' + hmacHex(credentials.webhookSecret, input.rawBody)) throw new Error('bad signature');
  const events = (input.data.tickets || []).map(t => ({{type: 'created', record: t, id: input.data.eventId}}));
  return {{events, response: {{data: {{ok: true}}}}, state: {{...input.state, seen: (input.state.seen || 0) + 1}}}};
}}"#
    );
    json!({
        "key": "hooks", "name": "Hooks", "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": base,
            "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}}},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}},
        "data": {"tickets": {
            "name": "Tickets",
            "fieldsSchema": {"type": "object", "properties": {"subject": {"type": "string"}}},
            "recordFromApi": {"type": "mapping", "mapping": {"id": {"$var": "$.id"}, "name": {"$var": "$.subject"},
                "fields": {"subject": {"$var": "$.subject"}, "status": {"$var": "$.status"}}}},
            "events": {"created": {
                "type": "webhook",
                "subscribe": js("export default async ({input, apiClient}) => { const r = await apiClient.post('/webhooks', {url: input.webhookUri}); return {state: {hookId: r.id}, nextRefreshTimestamp: Date.now() + 3600000}; }"),
                "handle": js(&handle),
                "unsubscribe": js("export default async ({input, apiClient}) => { await apiClient.delete('/webhooks/' + input.state.hookId); }"),
                "refresh": js("export default async ({input, apiClient}) => { await apiClient.post('/webhooks/' + input.state.hookId + '/renew', {}); return {state: input.state, nextRefreshTimestamp: Date.now() + 7200000}; }"),
            }},
        }},
    })
}

/// A server with the hooks app, its connector and integration, Alice connected
/// (with the signing secret) and flow `on-created` on `tickets`.
struct Fixture {
    hooks: Hooks,
    alice: String,
    conn: String,
    iid: String,
}

async fn fixture(s: &Server) -> Fixture {
    let (url, hooks) = start_hooks().await;
    let (_, integration) = crate::common::mock_api::install(s, hooks_connector(&url)).await;
    let alice = s.customer("alice");
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": integration["id"], "input": {"apiKey": API_KEY, "webhookSecret": SECRET}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let iid = integration["id"].as_str().unwrap().to_owned();
    event_flow(
        s,
        &iid,
        "on-created",
        "data-record-created-trigger",
        "tickets",
        json!({"title": {"$var": "$.subject"}}),
    )
    .await;
    Fixture {
        hooks,
        alice,
        conn: conn["id"].as_str().unwrap().to_owned(),
        iid,
    }
}

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

fn ticket(id: &str, subject: &str) -> Value {
    json!({"id": id, "subject": subject, "status": "open"})
}

#[tokio::test]
async fn signed_deliveries_start_runs_once_and_forgeries_none() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    let flow = instance(&s, &f.conn, &f.alice, "on-created").await;
    let sub = of_type(&subscriptions(&s, &f.conn).await, "data-record-created").clone();
    let sid = sub["id"].as_str().unwrap().to_owned();
    assert_eq!(sub["isRealTime"], true, "{sub}");
    assert_eq!(sub["requiresPull"], false, "{sub}");
    let uri = sub["webhookUri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with(&format!("{}/webhooks/external-events/", s.url)),
        "{uri}"
    );
    let key = uri.rsplit('/').next().unwrap();
    assert_eq!(key.len(), 32, "{uri}");
    // Registered by the job, not by the change.
    assert!(f.hooks.live().is_empty());
    settle_jobs(&s).await;
    assert_eq!(f.hooks.live(), vec![uri.clone()]);
    let (_, sub) = s
        .get(&format!("/external-event-subscriptions/{sid}"), &f.alice)
        .await;
    assert_eq!(sub["status"], "subscribed", "{sub}");
    assert_eq!(sub["stateData"], json!({"hookId": "hook-1"}), "{sub}");
    assert!(sub["nextRefreshTimestamp"].as_i64().unwrap() > crate::common::now() * 1000);

    // A signed delivery: stored and answered first, handled by the job.
    let event = json!({"eventId": "evt-1", "tickets": [ticket("7", "Printer on fire")]});
    let answers = f.hooks.deliver(&event, Some(SECRET)).await;
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 200, "{:?}", answers);
    let delivery = answers[0].1["incomingWebhookId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(incoming(&s, &delivery).await["status"], "received");
    settle_jobs(&s).await;
    let events = log_records(&s, &sid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["payload"]["record"]["id"], "7");
    assert_eq!(events[0]["status"], "success", "{events:?}");
    let runs = finished_runs(&s, &flow).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0]["launchedBy"],
        json!({"type": "external-event", "ids": [events[0]["id"]]})
    );
    let out = outputs(&s, &runs[0], "t").await;
    assert_eq!(
        out[0]["record"]["fields"],
        json!({"title": "Printer on fire"})
    );
    let d = incoming(&s, &delivery).await;
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["subscriptionId"], sid);
    assert_eq!(d["collectedEventIds"], json!([events[0]["id"]]));
    // The handle's response was not sent, and the log says so; what was sealed
    // for the handle is gone, and the signature is masked.
    assert_eq!(
        d["request"]["handleResponse"]["response"],
        json!({"data": {"ok": true}})
    );
    assert!(d["request"]["handleResponse"]["note"]
        .as_str()
        .unwrap()
        .contains("not sent"));
    assert!(d["request"].get("sealed").is_none(), "{d}");
    assert_eq!(d["request"]["headers"]["x-hook-signature"], "***", "{d}");
    // The state handle gave is the subscription's.
    let (_, sub) = s
        .get(&format!("/external-event-subscriptions/{sid}"), &f.alice)
        .await;
    assert_eq!(sub["stateData"], json!({"hookId": "hook-1", "seen": 1}));

    // The same event again (a retry): its delivery points at the first event.
    let again = f.hooks.deliver(&event, Some(SECRET)).await;
    settle_jobs(&s).await;
    let d = incoming(&s, again[0].1["incomingWebhookId"].as_str().unwrap()).await;
    assert_eq!(d["status"], "success");
    assert_eq!(d["collectedEventIds"], json!([events[0]["id"]]));
    // Without an event id, the same payload within the window is a repeat too.
    let anonymous = json!({"tickets": [ticket("8", "Paper jam")]});
    f.hooks.deliver(&anonymous, Some(SECRET)).await;
    f.hooks.deliver(&anonymous, Some(SECRET)).await;
    settle_jobs(&s).await;
    assert_eq!(log_records(&s, &sid).await.len(), 2);
    assert_eq!(finished_runs(&s, &flow).await.len(), 2);

    // Forged and unsigned deliveries are logged as errors and make nothing.
    let forged = f
        .hooks
        .deliver(
            &json!({"tickets": [ticket("9", "Forged")]}),
            Some("not-the-secret"),
        )
        .await;
    let unsigned = f
        .hooks
        .deliver(&json!({"tickets": [ticket("10", "Unsigned")]}), None)
        .await;
    assert_eq!(forged[0].0, 200);
    settle_jobs(&s).await;
    for (answer, why) in [(&forged[0], "bad signature"), (&unsigned[0], "unsigned")] {
        let d = incoming(&s, answer.1["incomingWebhookId"].as_str().unwrap()).await;
        assert_eq!(d["status"], "error", "{d}");
        assert!(d["error"].as_str().unwrap().contains(why), "{d}");
        assert_eq!(d["collectedEventIds"], json!([]));
    }
    assert_eq!(log_records(&s, &sid).await.len(), 2);
    assert_eq!(finished_runs(&s, &flow).await.len(), 2);

    // refresh-webhook renews it through the job.
    let (status, _) = s
        .post(
            &format!("/external-event-subscriptions/{sid}/refresh-webhook"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    settle_jobs(&s).await;
    assert_eq!(f.hooks.renewed.load(Ordering::SeqCst), 1);

    // Disabled: the subscription is archived and its webhook unsubscribed; a
    // late delivery to its URL is refused 410 and logged, never handled.
    enable(&s, &flow, &f.alice, false).await;
    settle_jobs(&s).await;
    assert!(f.hooks.live().is_empty());
    let late = post_signed(&s.http, &uri, &event.to_string(), Some(SECRET)).await;
    assert_eq!(late.0, 410, "{:?}", late);
    let d = incoming(&s, late.1["data"]["incomingWebhookId"].as_str().unwrap()).await;
    assert_eq!(d["status"], "error", "{d}");
    settle_jobs(&s).await;
    assert_eq!(log_records(&s, &sid).await.len(), 2);
    s.finish().await;
}

#[tokio::test]
async fn toggling_leaves_exactly_one_webhook_and_the_api_drives_it() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    let flow = instance(&s, &f.conn, &f.alice, "on-created").await;
    settle_jobs(&s).await;
    assert_eq!(f.hooks.live().len(), 1);
    // Many changes, the jobs running now and then between them.
    for i in 0..12 {
        enable(&s, &flow, &f.alice, i % 2 == 1).await;
        if i % 3 == 0 {
            s.engine.run_due_jobs("test-worker").await;
        }
    }
    settle_jobs(&s).await;
    assert_eq!(f.hooks.live().len(), 1, "{:?}", f.hooks.live());
    enable(&s, &flow, &f.alice, false).await;
    enable(&s, &flow, &f.alice, true).await;
    enable(&s, &flow, &f.alice, false).await;
    settle_jobs(&s).await;
    assert!(f.hooks.live().is_empty(), "{:?}", f.hooks.live());
    enable(&s, &flow, &f.alice, true).await;
    settle_jobs(&s).await;
    assert_eq!(f.hooks.live().len(), 1);

    // The API: unsubscribe removes it, subscribe brings one back, resubscribe
    // replaces it (still one).
    let sid = of_type(&subscriptions(&s, &f.conn).await, "data-record-created")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let act = |action: &'static str| {
        let (s, sid, alice) = (&s, sid.clone(), f.alice.clone());
        async move {
            let (status, v) = s
                .post(
                    &format!("/external-event-subscriptions/{sid}/{action}"),
                    &alice,
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{action}: {v}");
            settle_jobs(s).await;
            v
        }
    };
    act("unsubscribe").await;
    assert!(f.hooks.live().is_empty());
    let (_, off) = s
        .get(&format!("/external-event-subscriptions/{sid}"), &f.alice)
        .await;
    assert_eq!(off["status"], "unsubscribed", "{off}");
    assert!(off["stateData"].is_null(), "{off}");
    act("subscribe").await;
    let before = f.hooks.live();
    assert_eq!(before.len(), 1);
    act("resubscribe").await;
    let after = f.hooks.live();
    assert_eq!(after.len(), 1);
    let made = f.hooks.made.load(Ordering::SeqCst);
    act("resubscribe").await;
    assert_eq!(f.hooks.made.load(Ordering::SeqCst), made + 1);
    assert_eq!(f.hooks.live().len(), 1);
    // Nothing to pull from a webhook subscription.
    let pulled = act("pull-events").await;
    assert_eq!(pulled["status"], "subscribed", "{pulled}");
    s.finish().await;
}

#[tokio::test]
async fn a_failing_subscribe_is_an_error_and_is_retried() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    f.hooks.refuse.store(true, Ordering::SeqCst);
    instance(&s, &f.conn, &f.alice, "on-created").await;
    s.engine.run_due_jobs("test-worker").await;
    let sub = of_type(&subscriptions(&s, &f.conn).await, "data-record-created").clone();
    assert_eq!(sub["status"], "error", "{sub}");
    let why = sub["error"].to_string();
    assert!(
        why.contains("422") || why.contains("webhooks are down"),
        "{sub}"
    );
    assert!(f.hooks.live().is_empty());
    // The job comes back after its backoff (2 s) and succeeds.
    f.hooks.refuse.store(false, Ordering::SeqCst);
    assert_eq!(s.engine.run_due_jobs("test-worker").await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(2_300)).await;
    settle_jobs(&s).await;
    assert_eq!(f.hooks.live().len(), 1);
    let sub = of_type(&subscriptions(&s, &f.conn).await, "data-record-created").clone();
    assert_eq!(sub["status"], "subscribed", "{sub}");
    assert!(sub.get("error").is_none(), "{sub}");
    s.finish().await;
}

#[tokio::test]
async fn routes_refuse_unknown_keys_other_tenants_and_hostile_input() {
    let s = Server::start().await;
    let f = fixture(&s).await;
    instance(&s, &f.conn, &f.alice, "on-created").await;
    settle_jobs(&s).await;
    let sub = of_type(&subscriptions(&s, &f.conn).await, "data-record-created").clone();
    let uri = sub["webhookUri"].as_str().unwrap().to_owned();
    let key = uri.rsplit('/').next().unwrap().to_owned();
    let ws = uri.rsplit('/').nth(1).unwrap().to_owned();
    let long = "k".repeat(5000);
    for path in [
        format!("/webhooks/external-events/{ws}/nope"),
        format!("/webhooks/external-events/{ws}/{long}"),
        format!("/webhooks/external-events/other-workspace/{key}"),
        format!("/webhooks/external-events/{ws}/..%2F..%2Fetc"),
        format!("/webhooks/app-events/{ws}/{key}"),
    ] {
        let (status, v) = s
            .call("POST", &path, None, Some(json!({"tickets": []})))
            .await;
        assert_eq!(status, 404, "{path}: {v}");
    }
    // A body that is no JSON at all is stored as text and given to the handle,
    // which finds no tickets in it: no events.
    let (status, v) = post_signed(&s.http, &uri, "\u{0}not json", Some(SECRET)).await;
    assert_eq!(status, 200, "{v}");
    settle_jobs(&s).await;
    let d = incoming(&s, v["incomingWebhookId"].as_str().unwrap()).await;
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["request"]["body"], "\u{0}not json", "{d}");
    assert_eq!(d["collectedEventIds"], json!([]), "{d}");
    assert!(log_records(&s, sub["id"].as_str().unwrap())
        .await
        .is_empty());
    // Another customer sees neither the subscription nor its deliveries.
    let bob = s.customer("bob");
    let (_, page) = s.get("/incoming-webhooks", &bob).await;
    assert_eq!(page["items"], json!([]), "{page}");
    let (status, _) = s
        .get(
            &format!("/incoming-webhooks/{}", d["id"].as_str().unwrap()),
            &bob,
        )
        .await;
    assert_eq!(status, 404);
    let (_, page) = s.get("/incoming-webhooks", &f.alice).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let _ = &f.iid;
    s.finish().await;
}

/// Two nodes on one PostgreSQL database, each changing the instance and running
/// jobs at once: one webhook at the end.
#[tokio::test]
async fn two_nodes_leave_exactly_one_webhook() {
    if backend() != "postgres" {
        return;
    }
    let s = Server::start().await;
    let other = s.another_node().await;
    let f = fixture(&s).await;
    let flow = instance(&s, &f.conn, &f.alice, "on-created").await;
    async fn toggle(node: &Server, flow: &str, alice: &str, rounds: usize, start: bool) {
        for i in 0..rounds {
            enable(node, flow, alice, (i % 2 == 0) == start).await;
            node.engine.run_due_jobs("node").await;
        }
    }
    futures::join!(
        toggle(&s, &flow, &f.alice, 9, true),
        toggle(&other, &flow, &f.alice, 10, false)
    );
    enable(&s, &flow, &f.alice, true).await;
    futures::join!(settle_jobs(&s), settle_jobs(&other));
    settle_jobs(&s).await;
    assert_eq!(f.hooks.live().len(), 1, "{:?}", f.hooks.live());
    enable(&other, &flow, &f.alice, false).await;
    futures::join!(settle_jobs(&s), settle_jobs(&other));
    assert!(f.hooks.live().is_empty(), "{:?}", f.hooks.live());
    other.finish().await;
    s.finish().await;
}

/// A subscription's first event, launched (one run), then set back to `created`
/// as a node that died before recording its run leaves it: the server, fixture,
/// flow instance, subscription id and that run's id (`launchedFlowRunIds`).
async fn one_event_left_created() -> (Server, Fixture, String, String, Value) {
    let s = Server::start().await;
    let f = fixture(&s).await;
    let flow = instance(&s, &f.conn, &f.alice, "on-created").await;
    let sid = of_type(&subscriptions(&s, &f.conn).await, "data-record-created")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    settle_jobs(&s).await;
    let first = json!({"eventId": "evt-1", "tickets": [ticket("7", "Printer on fire")]});
    assert_eq!(f.hooks.deliver(&first, Some(SECRET)).await[0].0, 200);
    settle_jobs(&s).await;
    let events = log_records(&s, &sid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let run = events[0]["launchedFlowRunIds"].clone();
    assert_eq!(run.as_array().unwrap().len(), 1, "{events:?}");
    leave_created(&s, events[0]["id"].as_str().unwrap()).await;
    (s, f, flow, sid, run)
}

/// The events of a delivery stored, their run started, and never recorded (the
/// node died in between: what is left is `created`) are launched by the
/// subscription's next claim, before that claim's own: the run started before is
/// found, not started again.
#[tokio::test]
async fn the_next_delivery_launches_events_an_earlier_claim_left_created() {
    let (s, f, flow, sid, run) = one_event_left_created().await;
    let second = json!({"eventId": "evt-2", "tickets": [ticket("8", "Paper jam")]});
    assert_eq!(f.hooks.deliver(&second, Some(SECRET)).await[0].0, 200);
    settle_jobs(&s).await;
    let events = log_records(&s, &sid).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|e| e["status"] == "success"),
        "{events:?}"
    );
    assert_eq!(events[0]["launchedFlowRunIds"], run, "{events:?}");
    let runs = finished_runs(&s, &flow).await;
    assert_eq!(runs.len(), 2, "one run per event: {runs:?}");
    assert_eq!(json!([runs[0]["id"]]), run);
    assert_eq!(events[1]["launchedFlowRunIds"], json!([runs[1]["id"]]));
    s.finish().await;
}

/// Events a claim left `created` (the node died before recording their runs) of
/// a subscription the app sends nothing more to are launched by the worker's
/// sweep — once it is sure no claim is still launching them — with no delivery,
/// and start no run twice.
#[tokio::test]
async fn the_sweep_launches_events_a_claim_left_created_without_a_new_delivery() {
    let (s, _f, flow, sid, run) = one_event_left_created().await;
    // Just stored: a claim may still be launching it.
    let now = osmosis_engine::clock::now_ms();
    let mut cursor = 0;
    assert_eq!(
        s.engine
            .sweep_stranded_external_events(now, &mut cursor)
            .await,
        0
    );
    settle_jobs(&s).await;
    assert_eq!(log_records(&s, &sid).await[0]["status"], "created");

    // A minute on, it is stranded: launched with no delivery.
    let later = now + 61_000;
    assert_eq!(
        s.engine
            .sweep_stranded_external_events(later, &mut cursor)
            .await,
        1
    );
    settle_jobs(&s).await;
    let events = log_records(&s, &sid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["status"], "success", "{events:?}");
    assert_eq!(events[0]["launchedFlowRunIds"], run, "{events:?}");
    let runs = finished_runs(&s, &flow).await;
    assert_eq!(runs.len(), 1, "the run started once: {runs:?}");
    assert_eq!(json!([runs[0]["id"]]), run);
    assert_eq!(
        s.engine
            .sweep_stranded_external_events(later, &mut cursor)
            .await,
        0,
        "nothing is left to launch"
    );
    s.finish().await;
}
