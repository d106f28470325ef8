//! The demo app's HTTP side: routes, the API-key check, query and body parsing, and
//! the errors (`{"error": {code, message, field}}`). The API is described in the
//! crate documentation.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use osmosis_connectors::http::OutboundClient;
use osmosis_engine::clock::now_iso;
use osmosis_model::ids;
use serde_json::{json, Map, Value};

use crate::db::{Account, Db, ListQuery};
use crate::resources::{Check, Kind, COMPANIES, CONTACTS};
use crate::webhooks::{Hooks, EVENTS};
use crate::{page, PATH};

/// The default and the largest page of a list.
pub(crate) const DEFAULT_LIMIT: i64 = 20;
pub(crate) const MAX_LIMIT: i64 = 100;

/// The largest request body: records are small.
const MAX_BODY: usize = 256 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    db: Db,
    hooks: Hooks,
}

impl AppState {
    pub(crate) fn new(db: Db, http: OutboundClient) -> Self {
        AppState {
            hooks: Hooks::new(db.clone(), http),
            db,
        }
    }
}

pub(crate) fn router(state: AppState) -> Router {
    let api = |path: &str| format!("{PATH}/api{path}");
    let mut router = Router::new()
        .route(PATH, get(page::page))
        .route(&format!("{PATH}/"), get(page::page))
        .route(&api("/keys"), post(create_key))
        .route(&api("/me"), get(me))
        .route(&api("/webhooks"), get(list_webhooks).post(create_webhook))
        .route(
            &api("/webhooks/{id}"),
            get(get_webhook).delete(delete_webhook),
        )
        .route(&api("/{*rest}"), any(no_route));
    for kind in [&CONTACTS, &COMPANIES] {
        router = router
            .route(
                &api(&format!("/{}", kind.table)),
                get(move |s, a, q| list(s, a, kind, q)).post(move |s, a, b| create(s, a, kind, b)),
            )
            .route(
                &api(&format!("/{}/{{id}}", kind.table)),
                get(move |s, a, id| read(s, a, kind, id))
                    .patch(move |s, a, id, b| update(s, a, kind, id, b))
                    .delete(move |s, a, id| delete(s, a, kind, id)),
            );
    }
    router
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

// ---------------------------------------------------------------------------
// Errors.

/// An error answer: `{"error": {code, message, field}}` with its status.
#[derive(Debug)]
pub(crate) struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The body field or query parameter at fault.
    pub field: Option<String>,
}

impl AppError {
    pub(crate) fn invalid_body(message: impl Into<String>) -> Self {
        AppError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        AppError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    fn invalid_query(parameter: &str, message: impl Into<String>) -> Self {
        AppError {
            code: "invalid_query",
            ..AppError::invalid_field(parameter, message)
        }
    }

    fn not_found(what: &str, id: &str) -> Self {
        AppError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: format!("No {what} `{id}`"),
            field: None,
        }
    }

    fn unauthorized(message: &str) -> Self {
        AppError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.to_owned(),
            field: None,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "the demo app's database failed");
        AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "The demo app's database failed; see the server log".into(),
            field: None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = Value::String(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

async fn no_route(uri: axum::http::Uri) -> AppError {
    AppError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("The demo app has no route `{}`", uri.path()),
        field: None,
    }
}

// ---------------------------------------------------------------------------
// Keys and accounts.

/// The account whose key the request carries (`Authorization: Bearer` or
/// `X-Api-Key`).
pub(crate) struct Authed(Account);

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(key) = presented_key(&parts.headers) else {
            return Err(AppError::unauthorized(
                "Send your API key as `Authorization: Bearer <key>` or `X-Api-Key: <key>` (POST /demo-app/api/keys makes one)",
            ));
        };
        match state.db.account_by_key(key).await? {
            Some(account) => Ok(Authed(account)),
            None => Err(AppError::unauthorized("Unknown API key")),
        }
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some((scheme, key)) = text("authorization").and_then(|v| v.split_once(' ')) {
        if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() {
            return Some(key.trim());
        }
    }
    text("x-api-key")
}

/// `POST /keys`: a new account and its key. The body may name the account, as JSON
/// `{"name"}` or a form (the page's button).
async fn create_key(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::invalid_body("the body must be UTF-8"))?
        .trim();
    let name = if text.is_empty() {
        None
    } else if text.starts_with('{') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(mut body)) => {
                if let Some(unknown) = body.keys().find(|k| *k != "name") {
                    return Err(AppError::invalid_field(
                        unknown,
                        format!("`{unknown}` is not a field of a new account (fields: name)"),
                    ));
                }
                match body.remove("name") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(name)) => Some(name),
                    Some(_) => {
                        return Err(AppError::invalid_field("name", "`name` must be a string"))
                    }
                }
            }
            _ => return Err(AppError::invalid_body("the body must be a JSON object")),
        }
    } else {
        url::form_urlencoded::parse(text.as_bytes())
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
    };
    let name = name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Demo account".to_owned());
    if name.chars().count() > 200 {
        return Err(AppError::invalid_field(
            "name",
            "`name` is longer than 200 characters",
        ));
    }
    let account = Account {
        id: format!("acc_{}", ids::object_id()),
        name,
        created_at: now_iso(),
    };
    let key = format!(
        "demo_{}{}",
        ids::uuid_v4().replace('-', ""),
        ids::uuid_v4().replace('-', "")
    );
    state.db.create_account(&account, &key).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"apiKey": key, "account": account.to_json()})),
    )
        .into_response())
}

async fn me(Authed(account): Authed) -> Json<Value> {
    Json(account.to_json())
}

// ---------------------------------------------------------------------------
// Contacts and companies.

fn body_json(body: &Bytes) -> Result<Value, AppError> {
    serde_json::from_slice(body)
        .map_err(|e| AppError::invalid_body(format!("the body must be a JSON object ({e})")))
}

/// The query pairs; empty values count as absent (`?cursor=&limit=`).
fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn list_query(kind: &Kind, raw: Option<String>) -> Result<ListQuery, AppError> {
    let mut query = ListQuery {
        filters: Vec::new(),
        search: None,
        after: 0,
        limit: DEFAULT_LIMIT,
    };
    for (name, value) in query_pairs(raw) {
        match name.as_str() {
            "cursor" => {
                query.after = value.parse().ok().filter(|n: &i64| *n > 0).ok_or_else(|| {
                    AppError::invalid_query(
                        "cursor",
                        "`cursor` must be the `nextCursor` of the previous page",
                    )
                })?;
            }
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        AppError::invalid_query(
                            "limit",
                            format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "q" => query.search = Some(value.to_lowercase()),
            _ => {
                let Some(filter) = kind.filters.iter().find(|f| f.name == name) else {
                    let mut known = vec!["cursor", "limit", "q"];
                    known.extend(kind.filters.iter().map(|f| f.name));
                    return Err(AppError::invalid_query(
                        &name,
                        format!(
                            "`{name}` is not a query parameter of {} (parameters: {})",
                            kind.table,
                            known.join(", ")
                        ),
                    ));
                };
                query.filters.push((filter.name, value, filter.any_case));
            }
        }
    }
    Ok(query)
}

async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    kind: &'static Kind,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, AppError> {
    let query = list_query(kind, raw)?;
    let (items, next) = state.db.list(kind, &account.id, &query).await?;
    Ok(Json(
        json!({"items": items, "nextCursor": next.map(|seq| seq.to_string())}),
    ))
}

/// A company id a body sets must be one of the account's companies.
async fn check_references(
    state: &AppState,
    account: &Account,
    kind: &Kind,
    changes: &Map<String, Value>,
) -> Result<(), AppError> {
    for field in kind.fields.iter().filter(|f| f.check == Check::CompanyId) {
        if let Some(Value::String(id)) = changes.get(field.name) {
            if state
                .db
                .get(COMPANIES.table, &account.id, id)
                .await?
                .is_none()
            {
                return Err(AppError::invalid_field(
                    field.name,
                    format!("`{}`: the account has no company `{id}`", field.name),
                ));
            }
        }
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    Authed(account): Authed,
    kind: &'static Kind,
    body: Bytes,
) -> Result<Response, AppError> {
    let changes = kind.changes(&body_json(&body)?, true)?;
    check_references(&state, &account, kind, &changes).await?;
    let id = format!("{}_{}", kind.id_prefix, ids::object_id());
    let record = kind.new_record(&id, &now_iso(), changes);
    state.db.insert(kind.table, &account.id, &record).await?;
    state
        .hooks
        .emit(&account.id, format!("{}.created", kind.singular), &record);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn read(
    State(state): State<AppState>,
    Authed(account): Authed,
    kind: &'static Kind,
    Path(id): Path<String>,
) -> Result<Json<Map<String, Value>>, AppError> {
    state
        .db
        .get(kind.table, &account.id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(kind.singular, &id))
}

async fn update(
    State(state): State<AppState>,
    Authed(account): Authed,
    kind: &'static Kind,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Map<String, Value>>, AppError> {
    let changes = kind.changes(&body_json(&body)?, false)?;
    check_references(&state, &account, kind, &changes).await?;
    let now = now_iso();
    let record = state
        .db
        .update(kind.table, &account.id, &id, |record| {
            record.extend(changes);
            record.insert("updatedAt".into(), Value::String(now));
        })
        .await?
        .ok_or_else(|| AppError::not_found(kind.singular, &id))?;
    state
        .hooks
        .emit(&account.id, format!("{}.updated", kind.singular), &record);
    Ok(Json(record))
}

async fn delete(
    State(state): State<AppState>,
    Authed(account): Authed,
    kind: &'static Kind,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let record = state
        .db
        .delete(kind.table, &account.id, &id)
        .await?
        .ok_or_else(|| AppError::not_found(kind.singular, &id))?;
    state
        .hooks
        .emit(&account.id, format!("{}.deleted", kind.singular), &record);
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// Webhook subscriptions.

const WEBHOOKS: &str = "webhooks";

async fn create_webhook(
    State(state): State<AppState>,
    Authed(account): Authed,
    body: Bytes,
) -> Result<Response, AppError> {
    let Value::Object(body) = body_json(&body)? else {
        return Err(AppError::invalid_body(
            "the body must be a JSON object {url, events}",
        ));
    };
    if let Some(unknown) = body
        .keys()
        .find(|k| !["url", "events"].contains(&k.as_str()))
    {
        return Err(AppError::invalid_field(
            unknown,
            format!("`{unknown}` is not a field of a webhook (fields: url, events)"),
        ));
    }
    let url = match body.get("url") {
        Some(Value::String(url)) => state.hooks.check_url(url)?,
        _ => {
            return Err(AppError::invalid_field(
                "url",
                "`url` is required: the http(s) URL events are POSTed to",
            ))
        }
    };
    let known = || EVENTS.join(", ");
    let Some(Value::Array(listed)) = body.get("events") else {
        return Err(AppError::invalid_field(
            "events",
            format!("`events` is required: an array of events ({})", known()),
        ));
    };
    let mut events: Vec<Value> = Vec::new();
    for event in listed {
        match event.as_str() {
            Some(name) if EVENTS.contains(&name) => {
                if !events.contains(event) {
                    events.push(event.clone());
                }
            }
            _ => {
                return Err(AppError::invalid_field(
                    "events",
                    format!("`events`: {event} is not an event ({})", known()),
                ))
            }
        }
    }
    if events.is_empty() {
        return Err(AppError::invalid_field(
            "events",
            format!("`events` must name at least one event ({})", known()),
        ));
    }
    let mut webhook = Map::new();
    webhook.insert(
        "id".into(),
        Value::String(format!("whk_{}", ids::object_id())),
    );
    webhook.insert("url".into(), Value::String(url));
    webhook.insert("events".into(), Value::Array(events));
    webhook.insert("createdAt".into(), Value::String(now_iso()));
    state.db.insert(WEBHOOKS, &account.id, &webhook).await?;
    Ok((StatusCode::CREATED, Json(webhook)).into_response())
}

async fn list_webhooks(
    State(state): State<AppState>,
    Authed(account): Authed,
) -> Result<Json<Value>, AppError> {
    let items = state.db.all(WEBHOOKS, &account.id).await?;
    Ok(Json(json!({ "items": items })))
}

async fn get_webhook(
    State(state): State<AppState>,
    Authed(account): Authed,
    Path(id): Path<String>,
) -> Result<Json<Map<String, Value>>, AppError> {
    state
        .db
        .get(WEBHOOKS, &account.id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found("webhook", &id))
}

async fn delete_webhook(
    State(state): State<AppState>,
    Authed(account): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state
        .db
        .delete(WEBHOOKS, &account.id, &id)
        .await?
        .ok_or_else(|| AppError::not_found("webhook", &id))?;
    Ok(StatusCode::NO_CONTENT)
}
