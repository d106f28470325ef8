//! The shipped connectors' change feeds (`pull-latest-records` events, semantics
//! §2.4): HubSpot's CRM search on the modification (or creation) date and
//! Salesforce's SOQL on `LastModifiedDate` (or `CreatedDate`), each against a mock
//! of its API that filters and sorts as the real one does, through the engine:
//! flows with data record triggers on the connector's collections, records created
//! and changed in the mock, pulls through `POST …/pull-events` (the first takes the
//! baseline), the runs the changes start, the cursor moving on.
//!
//! What the feeds must get right: a record changed in the same instant as the
//! newest one the previous pull saw (the cursor) is not lost; more records in one
//! instant than a page holds are all read (the feed cannot page by timestamp alone);
//! a pull with nothing new starts no run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::common::{Extras, Server};

const TOKEN: &str = "at-shipped-events-0001";
/// The mock's clock starts here (a whole second) and moves a second per change.
const T0: i64 = 1_717_000_000_000;

/// One record of the mock app.
#[derive(Clone)]
struct Rec {
    id: u64,
    created: i64,
    modified: i64,
    fields: Map<String, Value>,
}

#[derive(Default)]
struct Store {
    /// Records by the API's object name (`contacts`, `Contact`, …).
    objects: BTreeMap<String, Vec<Rec>>,
    clock: i64,
    next_id: u64,
    /// Every HubSpot search body and Salesforce SOQL query received, in order.
    queries: Vec<Value>,
}

/// The mock app's data, shared by its handlers and the test.
#[derive(Clone)]
struct Crm(Arc<Mutex<Store>>);

impl Crm {
    fn new() -> Self {
        Crm(Arc::new(Mutex::new(Store {
            clock: T0,
            next_id: 100,
            ..Store::default()
        })))
    }

    /// The time of the next change: a second after the last one.
    fn tick(&self) -> i64 {
        let mut s = self.0.lock().unwrap();
        s.clock += 1000;
        s.clock
    }

    /// A new record created (and last modified) at `at`; its id.
    fn create_at(&self, object: &str, fields: Value, at: i64) -> u64 {
        let mut s = self.0.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.clock = s.clock.max(at);
        s.objects.entry(object.into()).or_default().push(Rec {
            id,
            created: at,
            modified: at,
            fields: fields.as_object().cloned().unwrap_or_default(),
        });
        id
    }

    fn create(&self, object: &str, fields: Value) -> u64 {
        let at = self.tick();
        self.create_at(object, fields, at)
    }

    /// Record `id`'s `fields` changed at `at`.
    fn update_at(&self, object: &str, id: u64, fields: Value, at: i64) {
        let mut s = self.0.lock().unwrap();
        s.clock = s.clock.max(at);
        let rec = s
            .objects
            .get_mut(object)
            .and_then(|all| all.iter_mut().find(|r| r.id == id))
            .expect("a record of the mock");
        for (k, v) in fields.as_object().unwrap() {
            rec.fields.insert(k.clone(), v.clone());
        }
        rec.modified = at;
    }

    fn update(&self, object: &str, id: u64, fields: Value) {
        let at = self.tick();
        self.update_at(object, id, fields, at)
    }

    /// The newest creation or modification time of `object`'s records.
    fn newest(&self, object: &str, created: bool) -> i64 {
        let s = self.0.lock().unwrap();
        s.objects[object]
            .iter()
            .map(|r| if created { r.created } else { r.modified })
            .max()
            .unwrap()
    }

    fn queries(&self) -> Vec<Value> {
        self.0.lock().unwrap().queries.clone()
    }
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&*format!("Bearer {TOKEN}"))
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

fn iso(ms: i64) -> String {
    osmosis_engine::clock::iso_of_ms(ms)
}

// ---- HubSpot: https://developers.hubspot.com/docs/api/crm/search -------------

fn hubspot_error(status: u16, message: &str) -> Response {
    reply(
        status,
        json!({"status": "error", "message": message, "category": "VALIDATION_ERROR"}),
    )
}

/// The object's modification date property: `lastmodifieddate` on contacts,
/// `hs_lastmodifieddate` on companies (the search guide's default properties).
fn hubspot_modified(object: &str) -> &'static str {
    if object == "contacts" {
        "lastmodifieddate"
    } else {
        "hs_lastmodifieddate"
    }
}

/// `POST /crm/v3/objects/{object}/search`: filter groups (OR of ANDs) on the date
/// properties and `hs_object_id` (values in epoch milliseconds), one sort at most,
/// `limit` up to 200, `after` an offset refused past 10,000 results — HubSpot's
/// documented limits. Ties of the sort come in no promised order: here the newest
/// id first, so a feed relying on an order HubSpot does not give fails.
async fn hubspot_search(
    State(crm): State<Crm>,
    Path(object): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return reply(
            401,
            json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}),
        );
    }
    let modified = hubspot_modified(&object);
    let mut s = crm.0.lock().unwrap();
    s.queries.push(body.clone());
    let sorts = body["sorts"].as_array().cloned().unwrap_or_default();
    if sorts.len() > 1 {
        return hubspot_error(400, "There can be only one sort");
    }
    let limit = body["limit"].as_u64().unwrap_or(10) as usize;
    if limit > 200 {
        return hubspot_error(400, "limit must be at most 200");
    }
    let after: usize = match &body["after"] {
        Value::Null => 0,
        Value::String(a) => a.parse().unwrap_or(usize::MAX),
        Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
        _ => usize::MAX,
    };
    if after.saturating_add(limit) > 10_000 {
        return hubspot_error(
            400,
            "The search endpoints are limited to 10,000 total results for any given query",
        );
    }
    let value_of = |rec: &Rec, prop: &str| -> Option<i64> {
        match prop {
            "createdate" => Some(rec.created),
            "hs_object_id" => Some(rec.id as i64),
            p if p == modified => Some(rec.modified),
            _ => None,
        }
    };
    let groups = body["filterGroups"].as_array().cloned().unwrap_or_default();
    for filter in groups
        .iter()
        .flat_map(|g| g["filters"].as_array().cloned().unwrap_or_default())
    {
        let prop = filter["propertyName"].as_str().unwrap_or_default();
        if !["createdate", "hs_object_id", modified].contains(&prop) {
            return hubspot_error(400, &format!("the mock cannot filter on {prop}"));
        }
    }
    let matches = |rec: &Rec| {
        groups.is_empty()
            || groups.iter().any(|g| {
                g["filters"].as_array().into_iter().flatten().all(|f| {
                    let v = value_of(rec, f["propertyName"].as_str().unwrap_or_default());
                    let x: Option<i64> = f["value"].as_str().and_then(|x| x.parse().ok());
                    match (v, x, f["operator"].as_str().unwrap_or_default()) {
                        (Some(v), Some(x), "GTE") => v >= x,
                        (Some(v), Some(x), "GT") => v > x,
                        (Some(v), Some(x), "EQ") => v == x,
                        (Some(v), Some(x), "LT") => v < x,
                        (Some(v), Some(x), "LTE") => v <= x,
                        _ => false,
                    }
                })
            })
    };
    let mut hits: Vec<Rec> = s
        .objects
        .get(&object)
        .into_iter()
        .flatten()
        .filter(|r| matches(r))
        .cloned()
        .collect();
    hits.sort_by_key(|r| std::cmp::Reverse(r.id));
    match sorts.first() {
        Some(sort) => {
            let prop = sort["propertyName"].as_str().unwrap_or_default().to_owned();
            let descending = sort["direction"] == "DESCENDING";
            hits.sort_by_key(|r| {
                let v = value_of(r, &prop).unwrap_or(0);
                if descending {
                    -v
                } else {
                    v
                }
            });
        }
        None => hits.sort_by_key(|r| r.id),
    }
    let total = hits.len();
    let asked: Vec<String> = body["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|r| {
            let mut properties = Map::new();
            for p in &asked {
                properties.insert(p.clone(), r.fields.get(p).cloned().unwrap_or(Value::Null));
            }
            properties.insert("hs_object_id".into(), json!(r.id.to_string()));
            properties.insert("createdate".into(), json!(iso(r.created)));
            properties.insert(modified.into(), json!(iso(r.modified)));
            json!({"id": r.id.to_string(), "properties": properties, "createdAt": iso(r.created),
                "updatedAt": iso(r.modified), "archived": false})
        })
        .collect();
    let mut page = json!({"total": total, "results": results});
    if after + limit < total {
        page["paging"] = json!({"next": {"after": (after + limit).to_string()}});
    }
    reply(200, page)
}

// ---- Salesforce: SOQL through GET /services/data/v60.0/query ------------------

fn salesforce_error(status: u16, code: &str, message: &str) -> Response {
    reply(status, json!([{"message": message, "errorCode": code}]))
}

/// The record's id: the object's key prefix, then the number, 18 characters.
fn salesforce_id(object: &str, id: u64) -> String {
    let prefix = if object == "Account" { "001" } else { "003" };
    format!("{prefix}{id:012}AAA")
}

/// A time as a SOQL datetime literal: Salesforce keeps these fields to the second.
fn soql_literal(ms: i64) -> String {
    format!("{}Z", &iso(ms)[..19])
}

/// The parts of the queries the connector sends: `SELECT <fields> FROM <object>
/// [WHERE <condition>] ORDER BY <field>, Id LIMIT <n>`. Anything else is refused as
/// Salesforce refuses a malformed query.
struct Soql {
    fields: Vec<String>,
    object: String,
    field: String,
    condition: Condition,
    limit: usize,
}

/// The conditions on the ordering field the mock reads.
enum Condition {
    All,
    /// `<field> >= <datetime>`
    From(String),
    /// `<field> > <datetime>`
    After(String),
    /// `<field> > <datetime> OR (<field> = <datetime> AND Id > '<id>')`
    AfterRecord(String, String),
}

fn parse_soql(q: &str) -> Option<Soql> {
    let rest = q.strip_prefix("SELECT ")?;
    let (fields, rest) = rest.split_once(" FROM ")?;
    let (object, rest) = rest.split_once(' ')?;
    let (condition, rest) = match rest.strip_prefix("WHERE ") {
        Some(r) => r.split_once(" ORDER BY ")?,
        None => ("", rest.strip_prefix("ORDER BY ")?),
    };
    let (order, limit) = rest.split_once(" LIMIT ")?;
    let field = order.strip_suffix(", Id")?.to_owned();
    if field != "CreatedDate" && field != "LastModifiedDate" {
        return None;
    }
    let literal = |l: &str| {
        (l.len() == 20 && l.ends_with('Z') && l.as_bytes()[10] == b'T' && !l.contains(' '))
            .then(|| l.to_owned())
    };
    let condition = if condition.is_empty() {
        Condition::All
    } else if let Some((a, b)) = condition.split_once(" OR (") {
        let since = a.strip_prefix(&format!("{field} > "))?;
        let b = b.strip_prefix(&format!("{field} = {since} AND Id > '"))?;
        Condition::AfterRecord(literal(since)?, b.strip_suffix("')")?.to_owned())
    } else if let Some(since) = condition.strip_prefix(&format!("{field} >= ")) {
        Condition::From(literal(since)?)
    } else {
        Condition::After(literal(condition.strip_prefix(&format!("{field} > "))?)?)
    };
    Some(Soql {
        fields: fields.split(", ").map(str::to_owned).collect(),
        object: object.to_owned(),
        field,
        condition,
        limit: limit.parse().ok()?,
    })
}

async fn salesforce_query(
    State(crm): State<Crm>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return salesforce_error(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    let q = query.get("q").cloned().unwrap_or_default();
    let mut s = crm.0.lock().unwrap();
    s.queries.push(json!(q));
    let Some(soql) = parse_soql(&q) else {
        return salesforce_error(400, "MALFORMED_QUERY", &format!("the mock cannot read {q}"));
    };
    if soql.limit > 2000 {
        return salesforce_error(400, "MALFORMED_QUERY", "LIMIT too large for the mock");
    }
    let stamp = |r: &Rec| {
        soql_literal(if soql.field == "CreatedDate" {
            r.created
        } else {
            r.modified
        })
    };
    let mut hits: Vec<(String, String, Rec)> = s
        .objects
        .get(&soql.object)
        .into_iter()
        .flatten()
        .map(|r| (stamp(r), salesforce_id(&soql.object, r.id), r.clone()))
        .filter(|(at, id, _)| match &soql.condition {
            Condition::All => true,
            Condition::From(since) => at >= since,
            Condition::After(since) => at > since,
            Condition::AfterRecord(since, after) => at > since || (at == since && id > after),
        })
        .collect();
    hits.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let records: Vec<Value> = hits
        .into_iter()
        .take(soql.limit)
        .map(|(_, id, r)| {
            let mut record = Map::new();
            record.insert(
                "attributes".into(),
                json!({"type": soql.object, "url": format!("/services/data/v60.0/sobjects/{}/{id}", soql.object)}),
            );
            for f in &soql.fields {
                let v = match f.as_str() {
                    "Id" => json!(id),
                    "CreatedDate" => json!(format!("{}.000+0000", &iso(r.created)[..19])),
                    "LastModifiedDate" => json!(format!("{}.000+0000", &iso(r.modified)[..19])),
                    other => r.fields.get(other).cloned().unwrap_or(Value::Null),
                };
                record.insert(f.clone(), v);
            }
            Value::Object(record)
        })
        .collect();
    reply(
        200,
        json!({"totalSize": records.len(), "done": true, "records": records}),
    )
}

/// Both apps' endpoints on one mock (each test uses one of them).
async fn start_mock() -> (String, Crm) {
    let crm = Crm::new();
    let app = Router::new()
        .route(
            "/account-info/v3/details",
            get(|headers: HeaderMap| async move {
                if authorised(&headers) {
                    reply(200, json!({"portalId": 62515}))
                } else {
                    reply(401, json!({"category": "INVALID_AUTHENTICATION"}))
                }
            }),
        )
        .route("/crm/v3/objects/{object}/search", post(hubspot_search))
        .route(
            "/services/data/v60.0/",
            get(|headers: HeaderMap| async move {
                if authorised(&headers) {
                    reply(200, json!({"sobjects": "/services/data/v60.0/sobjects"}))
                } else {
                    salesforce_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
                }
            }),
        )
        .route("/services/data/v60.0/query", get(salesforce_query))
        .with_state(crm.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, crm)
}

// ---- The apps as the tests drive them -----------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum App {
    HubSpot,
    Salesforce,
}

/// One collection of a shipped connector: its key, the API's object, the API field
/// the tests write and the name the trigger's field mapping gives it.
#[derive(Clone, Copy)]
struct Coll {
    key: &'static str,
    object: &'static str,
    field: &'static str,
    mapped: &'static str,
}

impl App {
    fn key(self) -> &'static str {
        match self {
            App::HubSpot => "hubspot",
            App::Salesforce => "salesforce",
        }
    }

    fn collections(self) -> [Coll; 2] {
        match self {
            App::HubSpot => [
                Coll {
                    key: "contacts",
                    object: "contacts",
                    field: "email",
                    mapped: "mail",
                },
                Coll {
                    key: "companies",
                    object: "companies",
                    field: "domain",
                    mapped: "site",
                },
            ],
            App::Salesforce => [
                Coll {
                    key: "contacts",
                    object: "Contact",
                    field: "Email",
                    mapped: "mail",
                },
                Coll {
                    key: "accounts",
                    object: "Account",
                    field: "Website",
                    mapped: "site",
                },
            ],
        }
    }

    /// How much later than the cursor's time a change still falls in the same
    /// instant as far as the app's timestamps tell: the same millisecond in
    /// HubSpot, the same second in Salesforce.
    fn same_instant(self) -> i64 {
        match self {
            App::HubSpot => 0,
            App::Salesforce => 400,
        }
    }

    /// The cursor a pull leaves when the newest record it saw is at `ms`.
    fn cursor(self, ms: i64) -> String {
        match self {
            App::HubSpot => ms.to_string(),
            App::Salesforce => soql_literal(ms),
        }
    }

    /// The record's id as the connector returns it.
    fn id(self, coll: Coll, id: u64) -> String {
        match self {
            App::HubSpot => id.to_string(),
            App::Salesforce => salesforce_id(coll.object, id),
        }
    }

    /// The fields of a new record `n`, its tested field set to `value`.
    fn fields(self, coll: Coll, n: u64, value: &str) -> Value {
        let mut fields = json!({coll.field: value});
        match (self, coll.object) {
            (App::Salesforce, "Contact") => {
                fields["LastName"] = json!(format!("Person {n}"));
                fields["Name"] = json!(format!("Person {n}"));
            }
            (App::Salesforce, _) => fields["Name"] = json!(format!("Account {n}")),
            _ => {}
        }
        fields
    }
}

/// The shipped connector's integration, pointed at the mock, and alice's
/// connection to it (made with a token, as a headless client would): the
/// connection's id and alice's token.
async fn connect(s: &Server, app: App, base: &str) -> (String, String, String) {
    let integration = s
        .create(
            "integrations",
            json!({"key": app.key(), "name": app.key(), "connectorKey": app.key(),
                   "parameters": {"clientId": "client-1", "clientSecret": "secret-1", "apiBaseUri": base}}),
        )
        .await;
    let alice = s.customer("alice");
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": integration["id"],
                   "credentials": {"access_token": TOKEN, "instance_url": base}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    (
        integration["id"].as_str().unwrap().to_owned(),
        conn["id"].as_str().unwrap().to_owned(),
        alice,
    )
}

/// Flow `key`: trigger `t` of `trigger` on `coll`, mapping its tested field.
async fn event_flow(s: &Server, integration_id: &str, key: &str, trigger: &str, coll: Coll) {
    s.create(
        "flows",
        json!({"key": key, "integrationId": integration_id, "nodes": {
            "t": {"type": trigger,
                  "config": {"dataSource": {"collectionKey": coll.key},
                             "fieldMapping": {"importValue": {coll.mapped: {"$var": format!("$.{}", coll.field)}}}},
                  "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {
                "id": {"$var": "$.input.t.record.id"}}}}
        }}),
    )
    .await;
}

/// Alice's instance of flow `key` on `conn`.
async fn instance(s: &Server, conn: &str, alice: &str, key: &str) -> String {
    let (status, inst) = s
        .get(
            &format!("/connections/{conn}/flows/{key}?autoCreate=true"),
            alice,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    inst["id"].as_str().unwrap().to_owned()
}

/// The subscription of `conn` for `event` (`created`, `updated`) on `collection`.
async fn subscription(s: &Server, conn: &str, collection: &str, event: &str) -> Value {
    let (status, page) = s
        .get(
            &format!("/external-event-subscriptions?connectionId={conn}"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sub| {
            sub["config"]["type"] == format!("data-record-{event}")
                && sub["config"]["dataSource"]["collectionKey"] == collection
        })
        .cloned()
        .unwrap_or_else(|| panic!("no {event} subscription on {collection}: {page}"))
}

/// Pulls subscription `id` now, as admin; the subscription after the pull, which
/// must have succeeded.
async fn pull_now(s: &Server, id: &str) -> Value {
    let (status, sub) = s
        .post(
            &format!("/external-event-subscriptions/{id}/pull-events"),
            &s.admin(),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{sub}");
    let (_, pulls) = s
        .get(
            &format!("/external-event-pulls?externalEventSubscriptionId={id}&limit=1"),
            &s.admin(),
        )
        .await;
    assert_eq!(pulls["items"][0]["status"], "success", "{pulls}");
    sub
}

async fn log_records(s: &Server, sub: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/external-event-log-records?externalEventSubscriptionId={sub}&limit=1000"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The runs of instance `id`, each waited for.
async fn finished_runs(s: &Server, id: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/flow-runs?connectionFlowId={id}&sortOrder=asc&limit=100"),
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

/// The trigger's outputs (one per event) of every run of instance `id`: the
/// records by id, and how many runs.
async fn triggered(s: &Server, id: &str) -> (BTreeMap<String, Value>, usize) {
    let runs = finished_runs(s, id).await;
    let mut records = BTreeMap::new();
    for run in &runs {
        let (status, page) = s
            .get(
                &format!(
                    "/flow-runs/{}/nodes/t/outputs?limit=1000",
                    run["id"].as_str().unwrap()
                ),
                &s.admin(),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for output in page["items"].as_array().unwrap() {
            let output: Value = serde_json::from_str(output["data"].as_str().unwrap()).unwrap();
            let id = output["record"]["id"].as_str().unwrap().to_owned();
            assert!(
                records
                    .insert(id.clone(), output["record"].clone())
                    .is_none(),
                "{id} twice"
            );
        }
    }
    (records, runs.len())
}

/// Created and updated records of both main collections reach their flows: the
/// baseline pull reports nothing, the next one the new and the changed records —
/// among them one created and one changed in the same instant as the newest record
/// the baseline saw — and the one after it, with nothing new, nothing.
async fn created_and_updated_reach_flows(app: App) {
    let s = Server::start_with(Extras {
        shipped: true,
        ..Extras::default()
    })
    .await;
    let (base, crm) = start_mock().await;
    let (integration, conn, alice) = connect(&s, app, &base).await;
    let mut seeded: HashMap<&str, Vec<u64>> = HashMap::new();
    for coll in app.collections() {
        for n in 1..=3 {
            let id = crm.create(coll.object, app.fields(coll, n, &format!("v{n}")));
            seeded.entry(coll.key).or_default().push(id);
        }
        for event in ["created", "updated"] {
            let key = format!("{}-{event}", coll.key);
            event_flow(
                &s,
                &integration,
                &key,
                &format!("data-record-{event}-trigger"),
                coll,
            )
            .await;
        }
    }
    let mut instances = HashMap::new();
    let mut subs = HashMap::new();
    for coll in app.collections() {
        for event in ["created", "updated"] {
            let key = format!("{}-{event}", coll.key);
            instances.insert(key.clone(), instance(&s, &conn, &alice, &key).await);
            let sub = subscription(&s, &conn, coll.key, event).await;
            assert_eq!(sub["status"], "subscribed", "{sub}");
            // Served by the connector's change feed, not by scanning the collection.
            assert_eq!(sub["requiresFullSync"], false, "{sub}");
            assert_eq!(sub["pullUpdatesIntervalSeconds"], 300, "{sub}");
            subs.insert(key, sub["id"].as_str().unwrap().to_owned());
        }
    }

    // The baselines: every record seen, none reported; the cursor is the newest.
    for coll in app.collections() {
        for event in ["created", "updated"] {
            let key = format!("{}-{event}", coll.key);
            let after = pull_now(&s, &subs[&key]).await;
            let newest = crm.newest(coll.object, event == "created");
            assert_eq!(
                after["stateData"]["cursor"],
                app.cursor(newest),
                "{key}: {after}"
            );
            assert!(log_records(&s, &subs[&key]).await.is_empty(), "{key}");
        }
    }

    // Changes: a new record and a changed one, plus a record created and one
    // changed in the very instant of the newest record the baselines saw (after
    // those pulls: the feed must not skip them).
    let mut expected: HashMap<String, BTreeSet<String>> = HashMap::new();
    for coll in app.collections() {
        let ids = &seeded[coll.key];
        let tie = crm.newest(coll.object, false) + app.same_instant();
        let tied_new = crm.create_at(coll.object, app.fields(coll, 4, "new-tied"), tie);
        crm.update_at(
            coll.object,
            ids[1],
            json!({coll.field: "changed-tied"}),
            tie,
        );
        let new = crm.create(coll.object, app.fields(coll, 5, "new"));
        crm.update(coll.object, ids[0], json!({coll.field: "changed"}));
        expected.insert(
            format!("{}-created", coll.key),
            [tied_new, new].iter().map(|id| app.id(coll, *id)).collect(),
        );
        expected.insert(
            format!("{}-updated", coll.key),
            [ids[0], ids[1]]
                .iter()
                .map(|id| app.id(coll, *id))
                .collect(),
        );
    }
    for coll in app.collections() {
        for event in ["created", "updated"] {
            let key = format!("{}-{event}", coll.key);
            let after = pull_now(&s, &subs[&key]).await;
            let newest = crm.newest(coll.object, event == "created");
            assert_eq!(
                after["stateData"]["cursor"],
                app.cursor(newest),
                "{key}: {after}"
            );
            let events = log_records(&s, &subs[&key]).await;
            let ids: BTreeSet<String> = events
                .iter()
                .map(|e| {
                    assert_eq!(e["payload"]["type"], event, "{key}: {e}");
                    assert_eq!(e["status"], "success", "{key}: {e}");
                    e["payload"]["record"]["id"].as_str().unwrap().to_owned()
                })
                .collect();
            assert_eq!(ids, expected[&key], "{key}");
            let (records, runs) = triggered(&s, &instances[&key]).await;
            assert_eq!(runs, 1, "{key}: the events of one pull start one run");
            assert_eq!(
                records.keys().cloned().collect::<BTreeSet<_>>(),
                expected[&key],
                "{key}"
            );
            for record in records.values() {
                let value = &record["fields"][coll.mapped];
                let want = if event == "created" {
                    ["new", "new-tied"].as_slice()
                } else {
                    ["changed", "changed-tied"].as_slice()
                };
                assert!(
                    want.contains(&value.as_str().unwrap_or_default()),
                    "{key}: {record}"
                );
            }
        }
    }

    // Nothing changed since: the cursor stays, no event, no run.
    for coll in app.collections() {
        for event in ["created", "updated"] {
            let key = format!("{}-{event}", coll.key);
            let before = log_records(&s, &subs[&key]).await.len();
            let after = pull_now(&s, &subs[&key]).await;
            let newest = crm.newest(coll.object, event == "created");
            assert_eq!(after["stateData"]["cursor"], app.cursor(newest), "{key}");
            assert_eq!(log_records(&s, &subs[&key]).await.len(), before, "{key}");
            assert_eq!(triggered(&s, &instances[&key]).await.1, 1, "{key}");
        }
    }
    feeds_ask_what_the_api_allows(app, &crm);
    s.finish().await;
}

/// HubSpot's feed never pages with `after` (an offset: records changed meanwhile
/// shift it, and it stops at 10,000); Salesforce's queries are bounded.
fn feeds_ask_what_the_api_allows(app: App, crm: &Crm) {
    let queries = crm.queries();
    assert!(!queries.is_empty());
    for q in &queries {
        match app {
            App::HubSpot => assert!(q.get("after").is_none(), "{q}"),
            App::Salesforce => assert!(q.as_str().unwrap().contains(" LIMIT 200"), "{q}"),
        }
    }
}

/// More records changed in one instant than a page holds (an import): the
/// baseline and the pull after the change read every one of them, in the runs of
/// at most 100 events each, and the pull after that finds nothing.
async fn an_instant_larger_than_a_page(app: App) {
    let s = Server::start_with(Extras {
        shipped: true,
        ..Extras::default()
    })
    .await;
    let (base, crm) = start_mock().await;
    let (integration, conn, alice) = connect(&s, app, &base).await;
    let coll = app.collections()[0];
    // 250 records imported in the same instant (more than HubSpot's 100 a page
    // and Salesforce's 200), and one a second later.
    let imported_at = crm.tick();
    let mut ids: Vec<u64> = (1..=250)
        .map(|n| crm.create_at(coll.object, app.fields(coll, n, "imported"), imported_at))
        .collect();
    ids.push(crm.create(coll.object, app.fields(coll, 251, "later")));
    event_flow(
        &s,
        &integration,
        "on-updated",
        "data-record-updated-trigger",
        coll,
    )
    .await;
    let inst = instance(&s, &conn, &alice, "on-updated").await;
    let sub = subscription(&s, &conn, coll.key, "updated").await;
    let sub = sub["id"].as_str().unwrap().to_owned();
    let after = pull_now(&s, &sub).await;
    assert_eq!(
        after["stateData"]["cursor"],
        app.cursor(crm.newest(coll.object, false))
    );

    // All of them changed in one instant again: every change is reported, once.
    let changed_at = crm.tick() + 1000;
    for id in &ids {
        crm.update_at(coll.object, *id, json!({coll.field: "bulk"}), changed_at);
    }
    pull_now(&s, &sub).await;
    let events = log_records(&s, &sub).await;
    assert_eq!(events.len(), ids.len());
    let (records, runs) = triggered(&s, &inst).await;
    assert_eq!(runs, 3, "251 events: runs of 100, 100 and 51");
    let want: BTreeSet<String> = ids.iter().map(|id| app.id(coll, *id)).collect();
    assert_eq!(records.keys().cloned().collect::<BTreeSet<_>>(), want);
    assert!(records.values().all(|r| r["fields"][coll.mapped] == "bulk"));

    let after = pull_now(&s, &sub).await;
    let cursor = after["stateData"]["cursor"].as_str().unwrap().to_owned();
    assert!(
        cursor.starts_with(&app.cursor(changed_at)),
        "{cursor} is past the change at {changed_at}"
    );
    assert_eq!(log_records(&s, &sub).await.len(), ids.len());
    assert_eq!(triggered(&s, &inst).await.1, 3);
    feeds_ask_what_the_api_allows(app, &crm);
    s.finish().await;
}

#[tokio::test]
async fn hubspot_created_and_updated_reach_flows() {
    created_and_updated_reach_flows(App::HubSpot).await;
}

#[tokio::test]
async fn salesforce_created_and_updated_reach_flows() {
    created_and_updated_reach_flows(App::Salesforce).await;
}

#[tokio::test]
async fn hubspot_an_instant_larger_than_a_page() {
    an_instant_larger_than_a_page(App::HubSpot).await;
}

#[tokio::test]
async fn salesforce_an_instant_larger_than_a_page() {
    an_instant_larger_than_a_page(App::Salesforce).await;
}
