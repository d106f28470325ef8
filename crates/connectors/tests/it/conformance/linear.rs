//! Linear's GraphQL API, as far as the connector uses it: one endpoint, `POST /graphql`
//! with a JSON `{query, variables}`:
//! https://developers.linear.app/docs/graphql/working-with-the-graphql-api

use std::sync::Arc;

use serde_json::{json, Value};

use super::graphql::{parse, project, Field};
use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "lin_oauth_conformance0001";
const ENGINEERING: &str = "72b2a2dc-6f4f-4423-9d34-24b5bd10634a";

pub fn spec() -> Spec {
    Spec {
        key: "linear",
        api: |scopes: &Scopes| {
            Arc::new(Linear {
                scopes: scopes.clone(),
            })
        },
        credentials: json!({"access_token": TOKEN, "token_type": "Bearer", "scope": "read,write"}),
        wrong_credentials: json!({"access_token": "lin_oauth_revoked", "token_type": "Bearer"}),
        collections: vec![
            Collection::new(
                "issues",
                vec![
                    vec![
                        ("9cfb482a-81e3-4154-b6c3-2b0ba26b5f4c", "Crash on start"),
                        ("1e1a5a3c-2c53-4d36-9f32-3d2b8e4c6a01", "Slow search"),
                    ],
                    vec![("5b0e2f7d-7e6a-4b9c-8d1e-0f2a3b4c5d6e", "Dark mode")],
                ],
                ("9cfb482a-81e3-4154-b6c3-2b0ba26b5f4c", "Crash on start"),
            )
            .create(
                json!({"title": "Crash on exit", "teamId": ENGINEERING, "priority": 2}),
                "0d7f3c1e-5b6a-4c8d-9e0f-1a2b3c4d5e6f",
            ),
            Collection::new(
                "teams",
                vec![
                    vec![
                        (ENGINEERING, "Engineering"),
                        ("8f1d3b6a-0c2e-4a5b-9d7f-1e3c5a7b9d0f", "Design"),
                    ],
                    vec![("a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b", "Support")],
                ],
                (ENGINEERING, "Engineering"),
            ),
        ],
    }
}

struct Linear {
    scopes: Scopes,
}

fn issue(id: &str, number: u32, title: &str) -> Value {
    json!({"id": id, "identifier": format!("ENG-{number}"), "title": title, "description": null,
        "priority": 2, "url": format!("https://linear.app/acme/issue/ENG-{number}"),
        "createdAt": "2024-01-02T03:04:05.000Z", "updatedAt": "2024-01-03T03:04:05.000Z",
        "state": {"id": "s1", "name": "Todo", "type": "unstarted"},
        "team": {"id": ENGINEERING, "name": "Engineering", "key": "ENG"}})
}

fn issues() -> Vec<Value> {
    vec![
        issue("9cfb482a-81e3-4154-b6c3-2b0ba26b5f4c", 1, "Crash on start"),
        issue("1e1a5a3c-2c53-4d36-9f32-3d2b8e4c6a01", 2, "Slow search"),
        issue("5b0e2f7d-7e6a-4b9c-8d1e-0f2a3b4c5d6e", 3, "Dark mode"),
    ]
}

fn team(id: &str, name: &str, key: &str) -> Value {
    json!({"id": id, "name": name, "key": key, "description": null,
        "createdAt": "2023-01-02T03:04:05.000Z", "updatedAt": "2023-01-03T03:04:05.000Z"})
}

fn teams() -> Vec<Value> {
    vec![
        team(ENGINEERING, "Engineering", "ENG"),
        team("8f1d3b6a-0c2e-4a5b-9d7f-1e3c5a7b9d0f", "Design", "DES"),
        team("a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b", "Support", "SUP"),
    ]
}

/// A GraphQL error as Linear sends it (`extensions.code`, `extensions.type`).
fn errors(code: u16, message: &str, kind: &str, extension_code: &str) -> Reply {
    status(
        code,
        json!({"errors": [{"message": message, "extensions": {"type": kind, "code": extension_code,
            "statusCode": code, "userError": true, "userPresentableMessage": message}}]}),
    )
}

fn invalid(message: &str) -> Reply {
    errors(400, message, "graphql error", "GRAPHQL_VALIDATION_FAILED")
}

/// https://developers.linear.app/docs/graphql/working-with-the-graphql-api/pagination:
/// Relay connections, `first`/`after` (the previous page's `pageInfo.endCursor`) with
/// `pageInfo { hasNextPage endCursor }`. Two a page here.
fn connection(items: Vec<Value>, args: &serde_json::Map<String, Value>) -> Value {
    let start = args
        .get("after")
        .and_then(Value::as_str)
        .and_then(|after| items.iter().position(|i| i["id"] == after))
        .map_or(0, |p| p + 1);
    let first = args.get("first").and_then(Value::as_u64).unwrap_or(50) as usize;
    let size = first.min(2);
    let nodes: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    json!({"nodes": nodes, "pageInfo": {
        "hasNextPage": start + size < items.len(),
        "hasPreviousPage": start > 0,
        "startCursor": nodes.first().map(|n| n["id"].clone()),
        "endCursor": nodes.last().map(|n| n["id"].clone()),
    }})
}

impl Linear {
    fn resolve(&self, kind: &str, field: &Field) -> Result<Value, Reply> {
        let by_id = |items: Vec<Value>, what: &str| {
            let id = field.args.get("id").and_then(Value::as_str).unwrap_or("");
            items.into_iter().find(|i| i["id"] == id).ok_or_else(|| {
                errors(
                    200,
                    &format!("Entity not found: {what}"),
                    "invalid input",
                    "INVALID_INPUT",
                )
            })
        };
        match (kind, field.name.as_str()) {
            ("query", "viewer") => {
                Ok(json!({"id": "u-1", "name": "Ada Lovelace", "email": "ada@example.com"}))
            }
            ("query", "issues") => Ok(connection(issues(), &field.args)),
            ("query", "teams") => Ok(connection(teams(), &field.args)),
            ("query", "issue") => by_id(issues(), "Issue"),
            ("query", "team") => by_id(teams(), "Team"),
            // https://developers.linear.app/docs/oauth/authentication#scopes: writing
            // needs `write` (or `issues:create` for this mutation).
            ("mutation", "issueCreate") => {
                if !self.scopes.contains("write") && !self.scopes.contains("issues:create") {
                    return Err(errors(
                        403,
                        "Invalid scope: `write` required",
                        "forbidden",
                        "FORBIDDEN",
                    ));
                }
                let input = field.args.get("input").cloned().unwrap_or(Value::Null);
                let title_ok = input["title"].as_str().is_some_and(|t| !t.is_empty());
                let team_ok = teams().iter().any(|t| t["id"] == input["teamId"]);
                if !title_ok || !team_ok {
                    return Err(errors(
                        400,
                        "Argument Validation Error",
                        "invalid input",
                        "INVALID_INPUT",
                    ));
                }
                let mut created = issue(
                    "0d7f3c1e-5b6a-4c8d-9e0f-1a2b3c4d5e6f",
                    4,
                    input["title"].as_str().unwrap(),
                );
                created["priority"] = input["priority"].clone();
                Ok(json!({"success": true, "lastSyncId": 1234, "issue": created}))
            }
            (_, name) => Err(invalid(&format!(
                "Cannot query field \"{name}\" on type \"{}\".",
                if kind == "mutation" {
                    "Mutation"
                } else {
                    "Query"
                }
            ))),
        }
    }
}

impl Api for Linear {
    fn answer(&self, req: &Req) -> Reply {
        if !req.is("POST", "/graphql") {
            return status(404, json!({"errors": [{"message": "Not found"}]}));
        }
        // https://developers.linear.app/docs/oauth/authentication: an OAuth token as
        // `Authorization: Bearer`; the API answers 401 with AUTHENTICATION_ERROR.
        if req.bearer() != Some(TOKEN) {
            return errors(
                401,
                "Authentication required, not authenticated",
                "authentication error",
                "AUTHENTICATION_ERROR",
            );
        }
        let Some(body) = req.json() else {
            return status(
                400,
                json!({"errors": [{"message": "POST body missing, invalid Content-Type, or JSON object has no keys."}]}),
            );
        };
        let Some(query) = body["query"].as_str() else {
            return invalid("Must provide query string.");
        };
        let variables = body.get("variables").cloned().unwrap_or(json!({}));
        let operation = match parse(query, &variables) {
            Ok(operation) => operation,
            Err(message) => return invalid(&message),
        };
        let mut data = serde_json::Map::new();
        for field in &operation.fields {
            let value = match self.resolve(&operation.kind, field) {
                Ok(value) => value,
                Err(reply) => return reply,
            };
            match project(&value, &field.selection, &field.name) {
                Ok(value) => {
                    data.insert(
                        field.alias.clone().unwrap_or_else(|| field.name.clone()),
                        value,
                    );
                }
                Err(message) => return invalid(&message),
            }
        }
        ok(json!({ "data": data }))
    }
}
