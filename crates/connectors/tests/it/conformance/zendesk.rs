//! Zendesk Support's API (tickets, users), as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "zd-oauth-conformance0001";

pub fn spec() -> Spec {
    Spec {
        key: "zendesk",
        api: |scopes: &Scopes| Arc::new(Zendesk { scopes: scopes.clone() }),
        credentials: json!({"access_token": TOKEN, "token_type": "bearer", "subdomain": "acme"}),
        wrong_credentials: json!({"access_token": "zd-revoked", "subdomain": "acme"}),
        collections: vec![
            Collection::new(
                "tickets",
                vec![
                    vec![("35436", "Help, my printer is on fire!"), ("35437", "Password reset")],
                    vec![("35438", "Invoice missing")],
                ],
                ("35436", "Help, my printer is on fire!"),
            )
            .create(json!({"subject": "Printer", "description": "It is on fire.", "priority": "urgent"}), "35440"),
            Collection::new(
                "users",
                vec![
                    vec![("223443", "Johnny Agent"), ("223444", "Jane End-User")],
                    vec![("223445", "Sam Admin")],
                ],
                ("223443", "Johnny Agent"),
            )
            .create(json!({"name": "Roger Wilco", "email": "roge@example.org"}), "9873843"),
        ],
    }
}

struct Zendesk {
    scopes: Scopes,
}

fn tickets() -> Vec<Value> {
    vec![
        json!({"id": 35436, "subject": "Help, my printer is on fire!", "status": "open", "priority": "urgent"}),
        json!({"id": 35437, "subject": "Password reset", "status": "new", "priority": "normal"}),
        json!({"id": 35438, "subject": "Invoice missing", "status": "pending", "priority": null}),
    ]
}

fn users() -> Vec<Value> {
    vec![
        json!({"id": 223443, "name": "Johnny Agent", "role": "agent", "email": "johnny@acme.example"}),
        json!({"id": 223444, "name": "Jane End-User", "role": "end-user", "email": "jane@example.org"}),
        json!({"id": 223445, "name": "Sam Admin", "role": "admin", "email": "sam@acme.example"}),
    ]
}

/// Record validation errors (422): https://developer.zendesk.com/api-reference/introduction/requests/#422-unprocessable-entity
fn invalid(field: &str, description: &str) -> Reply {
    status(
        422,
        json!({"error": "RecordInvalid", "description": "Record validation errors",
            "details": {field: [{"description": description, "error": "BlankValue"}]}}),
    )
}

/// https://developer.zendesk.com/api-reference/introduction/pagination/: cursor
/// pagination is used when the request carries `page[size]` (at most 100); the next
/// page comes from `page[after]` = `meta.after_cursor`, while `meta.has_more`.
/// `after_cursor` is set on the last page too, so `has_more` is what ends the list.
/// Without `page[size]`, offset pagination answers (up to 100 a page, `next_page`).
fn paged(req: &Req, items: Vec<Value>, field: &str) -> Reply {
    let cursor_mode = req.query("page[size]").is_some() || req.query("page[after]").is_some();
    if !cursor_mode {
        let count = items.len();
        return ok(json!({field: items, "next_page": null, "previous_page": null, "count": count}));
    }
    let size = match req.query("page[size]").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return status(
                400,
                json!({"error": "InvalidPaginationParameter", "description": "page[size] is limited to 100"}),
            )
        }
    };
    let cursor = |i: usize| format!("eyJvIjoibmljZV9pZCIsInYiOiJhUVVBQUFBQUFBQUEifQ{i}");
    let start = match req.query("page[after]") {
        None => 0,
        Some(after) => match (1..=items.len()).find(|i| cursor(*i) == after) {
            Some(i) => i,
            None => {
                return status(
                    400,
                    json!({"error": "InvalidPaginationParameter", "description": "page[after] is not a valid cursor"}),
                )
            }
        },
    };
    let size = size.min(2);
    let end = (start + size).min(items.len());
    let page: Vec<Value> = items[start..end].to_vec();
    ok(json!({field: page,
        "meta": {"has_more": end < items.len(), "after_cursor": cursor(end), "before_cursor": cursor(start)},
        "links": {"next": format!("https://acme.zendesk.com/api/v2/{field}.json?page%5Bafter%5D={}&page%5Bsize%5D={size}", cursor(end)), "prev": null}}))
}

impl Zendesk {
    fn create(&self, req: &Req, field: &str) -> Reply {
        // https://developer.zendesk.com/api-reference/introduction/requests/: JSON
        // bodies with `Content-Type: application/json`.
        let Some(body) = req.json() else {
            return status(
                415,
                json!({"error": "UnsupportedMediaType", "description": "Content-Type must be application/json"}),
            );
        };
        let record = &body[field];
        match field {
            // https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket:
            // `comment` is required (it becomes the description).
            "ticket" => {
                let body = record["comment"]["body"].as_str().filter(|b| !b.is_empty());
                if body.is_none() && !record["comment"]["html_body"].is_string() {
                    return invalid("base", "Description: cannot be blank");
                }
                status(
                    201,
                    json!({"ticket": {"id": 35440, "subject": record["subject"], "status": "new"}}),
                )
            }
            // https://developer.zendesk.com/api-reference/ticketing/users/users/#create-user:
            // `name` is required.
            _ => {
                if record["name"].as_str().is_none_or(str::is_empty) {
                    return invalid("name", "Name: cannot be blank");
                }
                status(
                    201,
                    json!({"user": {"id": 9873843, "name": record["name"], "role": "end-user"}}),
                )
            }
        }
    }
}

impl Api for Zendesk {
    fn answer(&self, req: &Req) -> Reply {
        // https://developer.zendesk.com/api-reference/introduction/security-and-auth/:
        // an OAuth token as a Bearer header. `users/me` without credentials answers
        // the anonymous user (id null) rather than an error.
        match req.header("authorization") {
            None if req.is("GET", "/api/v2/users/me") => {
                return ok(
                    json!({"user": {"id": null, "name": "Anonymous user", "role": "end-user"}}),
                )
            }
            None => return status(401, json!({"error": "Couldn't authenticate you"})),
            Some(_) if req.bearer() != Some(TOKEN) => {
                return status(
                    401,
                    json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."}),
                )
            }
            Some(_) => {}
        }
        // https://developer.zendesk.com/documentation/ticketing/working-with-oauth/creating-and-using-oauth-tokens-with-the-api/:
        // `read` for GET, `write` for the rest.
        let scope = if req.method == "GET" { "read" } else { "write" };
        if !self.scopes.contains(scope) {
            return status(
                403,
                json!({"error": "Forbidden", "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."}),
            );
        }
        let find = |items: Vec<Value>, field: &str| {
            let id = req.segment(4);
            match items
                .into_iter()
                .find(|i| i["id"].as_u64() == id.parse().ok())
            {
                Some(item) => ok(json!({ field: item })),
                None => status(
                    404,
                    json!({"error": "RecordNotFound", "description": "Not found"}),
                ),
            }
        };
        if req.is("GET", "/api/v2/users/me") {
            return ok(json!({"user": {"id": 35436, "name": "Osmosis Agent", "role": "agent"}}));
        }
        if req.is("GET", "/api/v2/tickets") {
            return paged(req, tickets(), "tickets");
        }
        if req.is("GET", "/api/v2/tickets/*") {
            return find(tickets(), "ticket");
        }
        if req.is("POST", "/api/v2/tickets") {
            return self.create(req, "ticket");
        }
        if req.is("GET", "/api/v2/users") {
            return paged(req, users(), "users");
        }
        if req.is("GET", "/api/v2/users/*") {
            return find(users(), "user");
        }
        if req.is("POST", "/api/v2/users") {
            return self.create(req, "user");
        }
        status(
            404,
            json!({"error": "InvalidEndpoint", "description": "Not found"}),
        )
    }
}
