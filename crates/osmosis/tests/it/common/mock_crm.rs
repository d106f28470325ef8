//! A mock CRM, and a client-credentials connector for it (key `crm`), for tests and
//! benchmarks that need a realistic API behind a connection: paged contacts of 20
//! fields each, companies, custom fields, CRUD, an echo, and failures on demand.
//!
//! The API (every route needs `x-api-key: CRM_KEY`, else 401 `{message}`):
//! - `GET /me` → `{id, name}`;
//! - `GET /contacts?cursor=&limit=&q=&email=` → `{items, next}`, pages of `limit`
//!   (default and most 100), `next` null on the last page; `q` searches names
//!   (case-insensitive), `email` matches exactly; `POST /contacts` (201 `{id}`),
//!   `GET|PATCH|DELETE /contacts/{id}` (404 `{message}` when missing; PATCH merges and
//!   answers `{id}`, DELETE answers 204);
//! - `/companies` the same (`q` searches names, `domain` matches exactly);
//! - `GET /custom-fields/contacts` → `[{key, type}]`;
//! - `POST /echo`, any method on `/echo/{*rest}` → 200 `{method, path, query, headers, body}`;
//! - `/status/{code}` → that status with `{message, code}`.
//!
//! [`Crm::fail_next`] makes the next requests (except `/me`) fail with a status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::Server;

/// The key the mock accepts in `x-api-key`.
pub const CRM_KEY: &str = "crm-key-5f2d8c1b9a7e4036";

/// The default and largest page of a listing.
pub const CRM_PAGE: usize = 100;

/// How many companies the mock starts with (ids "1".."5").
pub const CRM_COMPANIES: usize = 5;

const FIRST_NAMES: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Linus",
    "Frances", "John",
];
const LAST_NAMES: [&str; 11] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson",
    "Perlman", "Torvalds", "Allen",
];
/// `(name, domain, industry, employees)` of the seeded companies.
const COMPANIES: [(&str, &str, &str, u64); CRM_COMPANIES] = [
    ("Acme", "acme.test", "Manufacturing", 1200),
    ("Globex", "globex.test", "Energy", 5400),
    ("Initech", "initech.test", "Software", 180),
    ("Umbrella", "umbrella.test", "Pharma", 9100),
    ("Hooli", "hooli.test", "Internet", 23000),
];
const CITIES: [(&str, &str); 6] = [
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("Lisbon", "PT"),
    ("Austin", "US"),
    ("Toronto", "CA"),
];
const TITLES: [&str; 5] = ["Engineer", "Manager", "Director", "Analyst", "Founder"];
const SOURCES: [&str; 4] = ["web", "referral", "event", "import"];
const STATUSES: [&str; 3] = ["lead", "customer", "churned"];
const LANGUAGES: [&str; 4] = ["en", "de", "fr", "pt"];

/// One request the mock received (recorded before auth and failures).
#[derive(Debug, Clone)]
pub struct CrmRequest {
    pub method: String,
    /// The path alone.
    pub path: String,
    /// Path and query as sent.
    pub uri: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    /// JSON when it parses, else the text; null when empty.
    pub body: Value,
}

impl CrmRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The mock's data and switches, shared with its handlers.
#[derive(Default)]
pub struct CrmState {
    pub contacts: Mutex<BTreeMap<u64, Value>>,
    pub companies: Mutex<BTreeMap<u64, Value>>,
    next_id: Mutex<BTreeMap<&'static str, u64>>,
    /// `(status, how many more requests)` still to fail.
    failing: Mutex<Option<(u16, usize)>>,
}

/// The running mock CRM.
#[derive(Clone)]
pub struct Crm {
    /// Its base URL (`http://127.0.0.1:port`), the connector's `baseUri`.
    pub url: String,
    /// Every request received, in order.
    pub requests: Arc<Mutex<Vec<CrmRequest>>>,
    pub state: Arc<CrmState>,
}

impl Crm {
    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The requests whose path starts with `path_prefix` (`/contacts`), in order.
    pub fn requests_to(&self, path_prefix: &str) -> Vec<CrmRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    pub fn last_request(&self) -> Option<CrmRequest> {
        self.requests.lock().unwrap().last().cloned()
    }

    pub fn clear_requests(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// The next `times` requests to any path but `/me` answer `status` with
    /// `{message}` (a 429 also with `Retry-After: 0`). Replaces any failure still
    /// pending.
    pub fn fail_next(&self, status: u16, times: usize) {
        StatusCode::from_u16(status).expect("an HTTP status");
        *self.state.failing.lock().unwrap() = (times > 0).then_some((status, times));
    }

    /// How many injected failures are still to come.
    pub fn failures_pending(&self) -> usize {
        self.state.failing.lock().unwrap().map_or(0, |(_, n)| n)
    }

    /// The contact with this id as the API stores it.
    pub fn contact(&self, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        self.state.contacts.lock().unwrap().get(&id).cloned()
    }

    pub fn contact_count(&self) -> usize {
        self.state.contacts.lock().unwrap().len()
    }

    pub fn company(&self, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        self.state.companies.lock().unwrap().get(&id).cloned()
    }

    pub fn company_count(&self) -> usize {
        self.state.companies.lock().unwrap().len()
    }
}

/// Seeded contact number `i` (1-based): deterministic, 20 top-level fields, the
/// email unique.
pub fn seed_contact(i: usize) -> Value {
    let first = FIRST_NAMES[i % FIRST_NAMES.len()];
    let last = LAST_NAMES[(i * 7) % LAST_NAMES.len()];
    let (city, country) = CITIES[i % CITIES.len()];
    let company = COMPANIES[i % CRM_COMPANIES].0;
    json!({
        "id": i.to_string(),
        "first_name": first,
        "last_name": last,
        "email": format!("{}.{}.{i}@example.com", first.to_lowercase(), last.to_lowercase()),
        "phone": format!("+1-555-{:04}", i % 10_000),
        "company": company,
        "title": TITLES[i % TITLES.len()],
        "street": format!("{} Main Street", 1 + i % 999),
        "city": city,
        "zip": format!("{:05}", (i * 37) % 100_000),
        "country": country,
        "website": format!("https://{}.example.com/~{}", company.to_lowercase(), first.to_lowercase()),
        "source": SOURCES[i % SOURCES.len()],
        "status": STATUSES[i % STATUSES.len()],
        "owner": format!("u-{}", 1 + i % 4),
        "language": LANGUAGES[i % LANGUAGES.len()],
        "timezone": format!("UTC{:+}", (i % 25) as i64 - 12),
        "created_at": format!("2024-{:02}-{:02}T{:02}:{:02}:00Z", 1 + i % 12, 1 + i % 28, i % 24, i % 60),
        "updated_at": format!("2025-{:02}-{:02}T{:02}:{:02}:00Z", 1 + i % 12, 1 + i % 28, i % 24, i % 60),
        "custom": {"tier": if i.is_multiple_of(3) { "gold" } else { "silver" }, "score": (i * 37) % 100},
    })
}

/// The seeded company number `i` (1-based, at most [`CRM_COMPANIES`]).
pub fn seed_company(i: usize) -> Value {
    let (name, domain, industry, employees) = COMPANIES[i - 1];
    json!({"id": i.to_string(), "name": name, "domain": domain, "industry": industry, "employees": employees})
}

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({"message": text.into()}))).into_response()
}

/// The two collections the mock serves.
#[derive(Clone, Copy)]
enum Kind {
    Contacts,
    Companies,
}

impl Kind {
    fn table(self, st: &CrmState) -> &Mutex<BTreeMap<u64, Value>> {
        match self {
            Kind::Contacts => &st.contacts,
            Kind::Companies => &st.companies,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Companies => "companies",
        }
    }

    /// What `q` searches.
    fn searched(self, item: &Value) -> String {
        match self {
            Kind::Contacts => format!(
                "{} {}",
                item["first_name"].as_str().unwrap_or(""),
                item["last_name"].as_str().unwrap_or("")
            ),
            Kind::Companies => item["name"].as_str().unwrap_or("").to_owned(),
        }
    }

    /// The field an exact-match query parameter of the same name filters.
    fn exact(self) -> &'static str {
        match self {
            Kind::Contacts => "email",
            Kind::Companies => "domain",
        }
    }
}

type St = State<Arc<CrmState>>;

fn list(st: &CrmState, kind: Kind, q: &BTreeMap<String, String>) -> Response {
    let table = kind.table(st).lock().unwrap();
    let needle = q.get("q").map(|s| s.to_lowercase());
    let exact = q.get(kind.exact());
    let matching: Vec<&Value> = table
        .values()
        .filter(|item| {
            needle
                .as_ref()
                .is_none_or(|n| kind.searched(item).to_lowercase().contains(n.as_str()))
                && exact.is_none_or(|e| item[kind.exact()] == e.as_str())
        })
        .collect();
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(CRM_PAGE)
        .min(CRM_PAGE);
    let items: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let next = (start + limit < matching.len()).then(|| (start + limit).to_string());
    Json(json!({"items": items, "next": next})).into_response()
}

fn create(st: &CrmState, kind: Kind, body: &str) -> Response {
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(body) else {
        return message(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let mut table = kind.table(st).lock().unwrap();
    let id = {
        let mut next = st.next_id.lock().unwrap();
        let n = next.entry(kind.name()).or_insert(0);
        *n = (*n).max(table.keys().next_back().copied().unwrap_or(0)) + 1;
        *n
    };
    let now = "2026-01-01T00:00:00Z";
    fields.insert("id".into(), json!(id.to_string()));
    if let Kind::Contacts = kind {
        fields.entry("created_at").or_insert(json!(now));
        fields.entry("updated_at").or_insert(json!(now));
    }
    table.insert(id, Value::Object(fields));
    (StatusCode::CREATED, Json(json!({"id": id.to_string()}))).into_response()
}

fn one(st: &CrmState, kind: Kind, method: &Method, id: &str, body: &str) -> Response {
    let mut table = kind.table(st).lock().unwrap();
    let Some(key) = id.parse::<u64>().ok().filter(|k| table.contains_key(k)) else {
        return message(
            StatusCode::NOT_FOUND,
            format!("no {} with id {id}", kind.name()),
        );
    };
    match *method {
        Method::GET => Json(table[&key].clone()).into_response(),
        Method::PATCH | Method::PUT => {
            let Ok(Value::Object(patch)) = serde_json::from_str::<Value>(body) else {
                return message(StatusCode::BAD_REQUEST, "the body must be a JSON object");
            };
            let item = table.get_mut(&key).expect("present");
            for (k, v) in patch {
                if k == "id" {
                    continue;
                }
                // Objects merge one level deep (`custom`), so a patch of one custom
                // field keeps the others.
                match (item.get_mut(&k), v) {
                    (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                    (_, v) => item[&k] = v,
                }
            }
            if let Kind::Contacts = kind {
                item["updated_at"] = json!("2026-01-02T00:00:00Z");
            }
            Json(json!({"id": id})).into_response()
        }
        Method::DELETE => {
            table.remove(&key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

async fn me() -> Response {
    Json(json!({"id": "u-1", "name": "Ada Admin"})).into_response()
}

async fn list_contacts(State(st): St, Query(q): Query<BTreeMap<String, String>>) -> Response {
    list(&st, Kind::Contacts, &q)
}

async fn create_contact(State(st): St, body: String) -> Response {
    create(&st, Kind::Contacts, &body)
}

async fn one_contact(
    State(st): St,
    method: Method,
    Path(id): Path<String>,
    body: String,
) -> Response {
    one(&st, Kind::Contacts, &method, &id, &body)
}

async fn list_companies(State(st): St, Query(q): Query<BTreeMap<String, String>>) -> Response {
    list(&st, Kind::Companies, &q)
}

async fn create_company(State(st): St, body: String) -> Response {
    create(&st, Kind::Companies, &body)
}

async fn one_company(
    State(st): St,
    method: Method,
    Path(id): Path<String>,
    body: String,
) -> Response {
    one(&st, Kind::Companies, &method, &id, &body)
}

async fn custom_fields() -> Response {
    Json(json!([{"key": "tier", "type": "string"}, {"key": "score", "type": "number"}]))
        .into_response()
}

async fn echo(
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(query): Query<BTreeMap<String, String>>,
    body: String,
) -> Response {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": query,
        "headers": headers,
        "body": body,
    }))
    .into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(status) => (status, Json(json!({"message": "as asked", "code": code}))).into_response(),
        Err(_) => message(StatusCode::BAD_REQUEST, format!("no status {code}")),
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    message(StatusCode::NOT_FOUND, format!("no route {}", uri.path()))
}

/// Outermost: records the request whole, then hands it on.
async fn record(
    State(log): State<Arc<Mutex<Vec<CrmRequest>>>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
    };
    log.lock().unwrap().push(CrmRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body,
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Then the failures asked for with [`Crm::fail_next`] (never on `/me`).
async fn inject_failures(State(st): St, req: Request, next: Next) -> Response {
    if req.uri().path() != "/me" {
        let mut failing = st.failing.lock().unwrap();
        if let Some((code, left)) = *failing {
            *failing = (left > 1).then_some((code, left - 1));
            drop(failing);
            let status = StatusCode::from_u16(code).expect("checked by fail_next");
            let mut resp = message(status, format!("injected failure {code}"));
            if code == 429 {
                resp.headers_mut()
                    .insert("retry-after", "0".parse().expect("a header value"));
            }
            return resp;
        }
    }
    next.run(req).await
}

/// Then the key.
async fn authenticate(req: Request, next: Next) -> Response {
    if req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) != Some(CRM_KEY) {
        return message(StatusCode::UNAUTHORIZED, "missing or wrong x-api-key");
    }
    next.run(req).await
}

/// Starts the mock on a free loopback port with `records` contacts (ids "1"..)
/// and [`CRM_COMPANIES`] companies.
pub async fn start_crm(records: usize) -> Crm {
    let state = Arc::new(CrmState::default());
    {
        let mut contacts = state.contacts.lock().unwrap();
        for i in 1..=records {
            contacts.insert(i as u64, seed_contact(i));
        }
        let mut companies = state.companies.lock().unwrap();
        for i in 1..=CRM_COMPANIES {
            companies.insert(i as u64, seed_company(i));
        }
    }
    let requests: Arc<Mutex<Vec<CrmRequest>>> = Arc::default();
    let app = Router::new()
        .route("/me", get(me))
        .route("/contacts", get(list_contacts).post(create_contact))
        .route("/contacts/{id}", any(one_contact))
        .route("/companies", get(list_companies).post(create_company))
        .route("/companies/{id}", any(one_company))
        .route("/custom-fields/contacts", get(custom_fields))
        .route("/echo", post(echo))
        .route("/echo/{*rest}", any(echo))
        .route("/status/{code}", any(status))
        .fallback(not_found)
        .with_state(Arc::clone(&state))
        .layer(axum::middleware::from_fn(authenticate))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            inject_failures,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&requests),
            record,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("mock CRM runs") });
    Crm {
        url,
        requests,
        state,
    }
}

fn var(path: &str) -> Value {
    json!({ "$var": path })
}

/// A `rest-api-mapping` function.
fn rest(path: &str, method: &str, request: Value, response: Value) -> Value {
    let mut mapping = json!({"path": path, "method": method});
    if !request.is_null() {
        mapping["requestMapping"] = request;
    }
    if !response.is_null() {
        mapping["responseMapping"] = response;
    }
    json!({"type": "rest-api-mapping", "mapping": mapping})
}

/// `(record field, API field, JSON type)` of a contact's plain fields: the 18 beside
/// `id` and `custom`.
pub const CONTACT_FIELDS: [(&str, &str, &str); 18] = [
    ("email", "email", "string"),
    ("firstName", "first_name", "string"),
    ("lastName", "last_name", "string"),
    ("phone", "phone", "string"),
    ("companyName", "company", "string"),
    ("title", "title", "string"),
    ("street", "street", "string"),
    ("city", "city", "string"),
    ("zip", "zip", "string"),
    ("country", "country", "string"),
    ("website", "website", "string"),
    ("source", "source", "string"),
    ("status", "status", "string"),
    ("owner", "owner", "string"),
    ("language", "language", "string"),
    ("timezone", "timezone", "string"),
    ("createdTime", "created_at", "string"),
    ("updatedTime", "updated_at", "string"),
];

/// `(key, JSON type)` of a contact's custom fields (`custom.<key>` in the API,
/// `fields.<key>` in a record).
pub const CONTACT_CUSTOM_FIELDS: [(&str, &str); 2] = [("tier", "string"), ("score", "number")];

/// `(record field, API field, JSON type)` of a company's fields beside `id`.
pub const COMPANY_FIELDS: [(&str, &str, &str); 4] = [
    ("name", "name", "string"),
    ("domain", "domain", "string"),
    ("industry", "industry", "string"),
    ("employees", "employees", "integer"),
];

fn contacts_collection() -> Value {
    let mut from_api = Map::new();
    let mut to_api = Map::new();
    let mut schema = Map::new();
    for (field, api, ty) in CONTACT_FIELDS {
        from_api.insert(field.into(), var(&format!("$.{api}")));
        to_api.insert(api.into(), var(&format!("$.fields.{field}")));
        schema.insert(field.into(), json!({"type": ty}));
    }
    let mut custom_to_api = Map::new();
    for (key, ty) in CONTACT_CUSTOM_FIELDS {
        from_api.insert(key.into(), var(&format!("$.custom.{key}")));
        custom_to_api.insert(key.into(), var(&format!("$.fields.{key}")));
        schema.insert(key.into(), json!({"type": ty}));
    }
    to_api.insert("custom".into(), Value::Object(custom_to_api));
    json!({
        "name": "Contacts",
        "fieldsSchema": {"type": "object", "properties": schema},
        "customFields": true,
        "list": rest("/contacts", "GET",
            json!({"query": {"cursor": var("$.cursor")}}),
            json!({"records": var("$.response.data.items"), "cursor": var("$.response.data.next")})),
        "search": rest("/contacts", "GET",
            json!({"query": {"q": var("$.query"), "cursor": var("$.cursor")}}),
            json!({"records": var("$.response.data.items"), "cursor": var("$.response.data.next")})),
        "match": {"type": "javascript", "code":
            "export default async ({apiClient, input}) => { const r = await apiClient.get('/contacts', {email: input.query.email}); return {record: r.items[0]} }"},
        "findById": rest("/contacts/{id}", "GET", json!({"pathParameters": {"id": var("$.id")}}), Value::Null),
        "create": rest("/contacts", "POST", json!({"data": var("$.fields")}), json!({"id": var("$.response.data.id")})),
        "update": rest("/contacts/{id}", "PATCH",
            json!({"pathParameters": {"id": var("$.id")}, "data": var("$.fields")}),
            json!({"id": var("$.response.data.id")})),
        "delete": rest("/contacts/{id}", "DELETE", json!({"pathParameters": {"id": var("$.id")}}), Value::Null),
        "recordFromApi": {"type": "mapping", "mapping": {
            "id": var("$.id"),
            "name": {"$tpl": {"template": "{f} {l}", "values": {"f": var("$.first_name"), "l": var("$.last_name")}}},
            "createdTime": var("$.created_at"),
            "updatedTime": var("$.updated_at"),
            "fields": from_api,
        }},
        "fieldsToApi": {"type": "mapping", "mapping": to_api},
        // The unified `contacts` model: record fields to the model's and back.
        "udm": {"contacts": {
            "extract": {
                "fullName": {"$concat": {"values": [var("$.firstName"), var("$.lastName")], "delimiter": " "}},
                "firstName": var("$.firstName"),
                "lastName": var("$.lastName"),
                "primaryEmail": var("$.email"),
                "companyName": var("$.companyName"),
            },
            "parse": {
                "firstName": var("$.firstName"),
                "lastName": var("$.lastName"),
                "email": var("$.primaryEmail"),
                "companyName": var("$.companyName"),
            },
        }},
        "customFieldsSchema": {"type": "javascript", "code":
            "export default async ({apiClient}) => { const fields = await apiClient.get('/custom-fields/contacts'); const properties = {}; for (const f of fields) properties[f.key] = {type: f.type}; return {type: 'object', properties} }"},
    })
}

fn companies_collection() -> Value {
    let mut from_api = Map::new();
    let mut to_api = Map::new();
    let mut schema = Map::new();
    for (field, api, ty) in COMPANY_FIELDS {
        from_api.insert(field.into(), var(&format!("$.{api}")));
        to_api.insert(api.into(), var(&format!("$.fields.{field}")));
        schema.insert(field.into(), json!({"type": ty}));
    }
    json!({
        "name": "Companies",
        "fieldsSchema": {"type": "object", "properties": schema},
        "list": rest("/companies", "GET",
            json!({"query": {"cursor": var("$.cursor")}}),
            json!({"records": var("$.response.data.items"), "cursor": var("$.response.data.next")})),
        "search": rest("/companies", "GET",
            json!({"query": {"q": var("$.query"), "cursor": var("$.cursor")}}),
            json!({"records": var("$.response.data.items"), "cursor": var("$.response.data.next")})),
        "match": {"type": "javascript", "code":
            "export default async ({apiClient, input}) => { const r = await apiClient.get('/companies', {domain: input.query.domain}); return {record: r.items[0]} }"},
        "findById": rest("/companies/{id}", "GET", json!({"pathParameters": {"id": var("$.id")}}), Value::Null),
        "create": rest("/companies", "POST", json!({"data": var("$.fields")}), json!({"id": var("$.response.data.id")})),
        "update": rest("/companies/{id}", "PATCH",
            json!({"pathParameters": {"id": var("$.id")}, "data": var("$.fields")}),
            json!({"id": var("$.response.data.id")})),
        "delete": rest("/companies/{id}", "DELETE", json!({"pathParameters": {"id": var("$.id")}}), Value::Null),
        "recordFromApi": {"type": "mapping", "mapping": {
            "id": var("$.id"),
            "name": var("$.name"),
            "fields": from_api,
        }},
        "fieldsToApi": {"type": "mapping", "mapping": to_api},
    })
}

/// The connector (key `crm`) for the mock at `base`: client credentials (`apiKey`,
/// sent as `x-api-key`), a test GETting `/me`, operations `whoami` (the `/me`
/// object) and `create-note` (POSTs its input to `/echo/notes`, outputs the echo),
/// and collections `contacts` and `companies` with every method but `find`.
///
/// Contact records: `name` is first and last name; `fields` are the
/// [`CONTACT_FIELDS`] and the [`CONTACT_CUSTOM_FIELDS`] (20); `rawFields` the API
/// object (the engine keeps it). `fieldsToApi` maps the same fields back.
pub fn crm_connector(base: &str) -> Value {
    json!({
        "key": "crm",
        "name": "CRM",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {
            "baseUri": base,
            "headers": {"x-api-key": var("$.credentials.apiKey")}
        }},
        "test": rest("/me", "GET", Value::Null, Value::Null),
        "operations": [
            {"key": "whoami", "name": "Who am I", "inputSchema": {"type": "object"},
             "run": rest("/me", "GET", Value::Null, Value::Null)},
            {"key": "create-note", "name": "Create note",
             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
             "run": rest("/echo/notes", "POST", json!({"data": var("$.input")}), Value::Null)}
        ],
        "data": {
            "contacts": contacts_collection(),
            "companies": companies_collection(),
        }
    })
}

/// The connector and integration `crm` on a server, with customers `alice` and
/// `bob` each connected to the mock.
pub struct CrmFixture {
    pub crm: Crm,
    pub connector_id: String,
    pub integration_id: String,
    pub alice: String,
    pub bob: String,
    /// Alice's connection.
    pub alice_conn: String,
    /// Bob's connection.
    pub bob_conn: String,
}

impl CrmFixture {
    /// `/connections/{alice_conn}/data/{collection}/{method}`.
    pub fn alice_data(&self, collection: &str, method: &str) -> String {
        format!(
            "/connections/{}/data/{collection}/{method}",
            self.alice_conn
        )
    }

    /// `/connections/{bob_conn}/data/{collection}/{method}`.
    pub fn bob_data(&self, collection: &str, method: &str) -> String {
        format!("/connections/{}/data/{collection}/{method}", self.bob_conn)
    }
}

/// Connects `token`'s customer to the integration with the mock's key; the
/// connection id.
pub async fn crm_connect(s: &Server, token: &str, integration_id: &str, name: &str) -> String {
    let (status, connection) = s
        .post(
            "/connections",
            token,
            json!({"integrationId": integration_id, "name": name, "input": {"apiKey": CRM_KEY}}),
        )
        .await;
    assert_eq!(status, 200, "connect {name}: {connection}");
    connection["id"]
        .as_str()
        .expect("a connection id")
        .to_owned()
}

/// Starts a mock CRM with `records` contacts, creates [`crm_connector`] and an
/// integration `crm` on `s`, and connects `alice` and `bob`.
pub async fn crm_fixture(s: &Server, records: usize) -> CrmFixture {
    let crm = start_crm(records).await;
    let connector = s.create("connectors", crm_connector(&crm.url)).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "crm", "name": "CRM", "connectorId": connector["id"]}),
        )
        .await;
    let integration_id = integration["id"].as_str().expect("an id").to_owned();
    let (alice, bob) = (s.customer("alice"), s.customer("bob"));
    let alice_conn = crm_connect(s, &alice, &integration_id, "Alice CRM").await;
    let bob_conn = crm_connect(s, &bob, &integration_id, "Bob CRM").await;
    CrmFixture {
        crm,
        connector_id: connector["id"].as_str().expect("an id").to_owned(),
        integration_id,
        alice,
        bob,
        alice_conn,
        bob_conn,
    }
}
