//! Notion's API (search, pages, databases), as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "ntn_conformance0001";
const KALE: &str = "59833787-2cf9-4fdf-8782-e53db20768a5";
const GROCERIES: &str = "bc1211ca-e3f1-4939-ae34-5260b16f627c";

pub fn spec() -> Spec {
    Spec {
        key: "notion",
        api: |_: &Scopes| Arc::new(Notion),
        credentials: json!({"access_token": TOKEN, "bot_id": "b1", "workspace_id": "w1"}),
        wrong_credentials: json!({"access_token": "ntn_revoked", "bot_id": "b1"}),
        collections: vec![
            Collection::new(
                "pages",
                vec![
                    vec![
                        (KALE, "Tuscan kale"),
                        ("a1d8501e-1ac1-43e9-a6bd-ea9fe6c8822b", "Meeting notes"),
                    ],
                    vec![("b55c9c91-384d-452b-81db-d1ef79372b75", "Roadmap")],
                ],
                (KALE, "Tuscan kale"),
            )
            .parameters(json!({ "parentPageId": KALE }))
            .create(
                json!({"title": "Launch plan"}),
                "c0ffee00-0000-4000-8000-000000000001",
            ),
            Collection::new(
                "databases",
                vec![
                    vec![
                        (GROCERIES, "Grocery list"),
                        ("d9824bdc-8445-4327-be8b-5b47500af6ce", "Tasks"),
                    ],
                    vec![("e2f3a4b5-6c7d-4e8f-9a0b-1c2d3e4f5a6b", "Reading list")],
                ],
                (GROCERIES, "Grocery list"),
            ),
        ],
    }
}

struct Notion;

/// https://developers.notion.com/reference/status-codes: `{object: "error", status,
/// code, message}`.
fn error(code: u16, kind: &str, message: &str) -> Reply {
    status(
        code,
        json!({"object": "error", "status": code, "code": kind, "message": message,
            "request_id": "7a3c0f2e-0000-4000-8000-000000000000"}),
    )
}

fn page(id: &str, title: &str) -> Value {
    json!({"object": "page", "id": id, "url": format!("https://www.notion.so/{}", id.replace('-', "")),
        "created_time": "2024-01-02T03:04:00.000Z", "last_edited_time": "2024-01-03T03:04:00.000Z",
        "archived": false, "parent": {"type": "workspace", "workspace": true},
        "properties": {"title": {"id": "title", "type": "title",
            "title": [{"type": "text", "text": {"content": title}, "plain_text": title}]}}})
}

fn database(id: &str, title: &str) -> Value {
    json!({"object": "database", "id": id, "url": format!("https://www.notion.so/{}", id.replace('-', "")),
        "title": [{"type": "text", "text": {"content": title}, "plain_text": title}], "description": [],
        "properties": {"Name": {"id": "title", "type": "title", "title": {}}}})
}

/// Everything shared with the integration, most recently edited first, pages and
/// databases mixed as search returns them.
fn shared() -> Vec<Value> {
    vec![
        page(KALE, "Tuscan kale"),
        database(GROCERIES, "Grocery list"),
        page("a1d8501e-1ac1-43e9-a6bd-ea9fe6c8822b", "Meeting notes"),
        database("d9824bdc-8445-4327-be8b-5b47500af6ce", "Tasks"),
        page("b55c9c91-384d-452b-81db-d1ef79372b75", "Roadmap"),
        database("e2f3a4b5-6c7d-4e8f-9a0b-1c2d3e4f5a6b", "Reading list"),
    ]
}

/// https://developers.notion.com/reference/post-search: a JSON body; `filter` on
/// `object` (`page` or `database` in 2022-06-28); `page_size` at most 100; the next
/// page from `start_cursor` = the previous `next_cursor`, with `has_more`
/// (https://developers.notion.com/reference/intro#pagination).
fn search(body: &Value) -> Reply {
    let mut results = shared();
    if let Some(filter) = body.get("filter") {
        let value = filter["value"].as_str().unwrap_or("");
        if filter["property"] != "object" || !["page", "database"].contains(&value) {
            return error(
                400,
                "validation_error",
                "body failed validation: body.filter.value should be `\"page\"` or `\"database\"`.",
            );
        }
        results.retain(|r| r["object"] == value);
    }
    let size = match &body["page_size"] {
        Value::Null => 100,
        Value::Number(n) if n.as_u64().is_some_and(|n| (1..=100).contains(&n)) => {
            n.as_u64().unwrap() as usize
        }
        other => {
            return error(400, "validation_error", &format!("body failed validation: body.page_size should be a number between 1 and 100, instead was `{other}`."))
        }
    };
    let start = match body["start_cursor"].as_str() {
        None => 0,
        Some(cursor) => match results.iter().position(|r| r["id"] == cursor) {
            Some(p) => p,
            None => {
                return error(
                    400,
                    "validation_error",
                    "body failed validation: body.start_cursor should be a valid cursor.",
                )
            }
        },
    };
    let size = size.min(2);
    let next = results.get(start + size).map(|r| r["id"].clone());
    let page: Vec<Value> = results.into_iter().skip(start).take(size).collect();
    ok(
        json!({"object": "list", "results": page, "has_more": next.is_some(),
        "next_cursor": next, "type": "page_or_database", "page_or_database": {}}),
    )
}

/// https://developers.notion.com/reference/post-page: a parent page or database is
/// required; under a page, `title` is the only property allowed.
fn create_page(body: &Value) -> Reply {
    let parent = &body["parent"];
    let Some(parent_id) = parent["page_id"].as_str() else {
        if parent["database_id"].is_string() {
            return error(404, "object_not_found", "Could not find database with ID. Make sure the relevant pages and databases are shared with your integration.");
        }
        return error(400, "validation_error", "body failed validation. Fix one:\nbody.parent.page_id should be defined, instead was `undefined`.\nbody.parent.database_id should be defined, instead was `undefined`.");
    };
    if !shared()
        .iter()
        .any(|r| r["object"] == "page" && r["id"] == parent_id)
    {
        return error(404, "object_not_found", &format!("Could not find page with ID: {parent_id}. Make sure the relevant pages and databases are shared with your integration."));
    }
    let Some(properties) = body["properties"].as_object() else {
        return error(
            400,
            "validation_error",
            "body failed validation: body.properties should be defined, instead was `undefined`.",
        );
    };
    if let Some(other) = properties.keys().find(|k| *k != "title") {
        return error(
            400,
            "validation_error",
            &format!("{other} is not a property that exists."),
        );
    }
    if !properties["title"]["title"].is_array() {
        return error(
            400,
            "validation_error",
            "body failed validation: body.properties.title.title should be an array.",
        );
    }
    ok(page("c0ffee00-0000-4000-8000-000000000001", "new"))
}

impl Api for Notion {
    fn answer(&self, req: &Req) -> Reply {
        // https://developers.notion.com/reference/authentication: a Bearer token.
        if req.bearer() != Some(TOKEN) {
            return error(401, "unauthorized", "API token is invalid.");
        }
        // https://developers.notion.com/reference/versioning: "the Notion-Version header
        // is required".
        if req.header("notion-version").is_none() {
            return error(400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.");
        }
        let body = if req.method == "POST" || req.method == "PATCH" {
            // https://developers.notion.com/reference/intro#conventions: JSON bodies.
            match req.json() {
                Some(body) => body,
                None => return error(400, "invalid_json", "Error parsing JSON body."),
            }
        } else {
            Value::Null
        };
        let find = |object: &str| {
            let id = req.segment(3);
            shared()
                .into_iter()
                .find(|r| r["object"] == object && r["id"] == id.as_str())
                .map(ok)
                .unwrap_or_else(|| {
                    error(
                        404,
                        "object_not_found",
                        &format!("Could not find {object} with ID: {id}."),
                    )
                })
        };
        if req.is("GET", "/v1/users/me") {
            return ok(
                json!({"object": "user", "id": "bot-1", "type": "bot", "name": "Osmosis",
                "bot": {"owner": {"type": "workspace", "workspace": true}}}),
            );
        }
        if req.is("POST", "/v1/search") {
            return search(&body);
        }
        if req.is("GET", "/v1/pages/*") {
            return find("page");
        }
        if req.is("GET", "/v1/databases/*") {
            return find("database");
        }
        if req.is("POST", "/v1/pages") {
            return create_page(&body);
        }
        error(400, "invalid_request_url", "Invalid request URL.")
    }
}
