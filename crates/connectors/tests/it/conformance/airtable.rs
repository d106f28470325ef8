//! Airtable's Web API (records, base schema), as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "oaa.conformance0001";
const BASE: &str = "appLkNDICXNqxSDhG";
const OFFSET: &str = "itrHv4Vj8CSz1Ux5m/rec560UJdUtocSouk";

pub fn spec() -> Spec {
    Spec {
        key: "airtable",
        api: |scopes: &Scopes| {
            Arc::new(Airtable {
                scopes: scopes.clone(),
            })
        },
        credentials: json!({"access_token": TOKEN, "refresh_token": "r", "expires_in": 3600}),
        wrong_credentials: json!({"access_token": "oaa.expired", "refresh_token": "r"}),
        collections: vec![
            Collection::new(
                "records",
                vec![
                    vec![
                        ("rec560UJdUtocSouk", "Write docs"),
                        ("rec6Hz2pXGbtLT9Ab", "Review PR"),
                    ],
                    vec![("rec7Jb9qYHcuMU0Bc", "Ship it")],
                ],
                ("rec560UJdUtocSouk", "Write docs"),
            )
            .parameters(json!({"baseId": BASE, "tableIdOrName": "Tasks"}))
            .create(
                json!({"Name": "Plan launch", "Status": "Todo"}),
                "recNewConformance",
            ),
            // The base schema is one response: no paging.
            Collection::new(
                "tables",
                vec![vec![
                    ("tblTasks000000001", "Tasks"),
                    ("tblK6MZHez0ZvBChZ", "Districts"),
                ]],
                ("tblK6MZHez0ZvBChZ", "Districts"),
            )
            .parameters(json!({ "baseId": BASE }))
            .create(
                json!({"name": "Apartments", "description": "Units to rent"}),
                "tblNewConformance",
            ),
        ],
    }
}

struct Airtable {
    scopes: Scopes,
}

/// https://airtable.com/developers/web/api/errors: `{"error": {type, message}}`.
fn error(code: u16, kind: &str, message: &str) -> Reply {
    status(code, json!({"error": {"type": kind, "message": message}}))
}

fn tables() -> Vec<Value> {
    vec![
        json!({"id": "tblTasks000000001", "name": "Tasks", "primaryFieldId": "fldName0000000001",
            "fields": [{"id": "fldName0000000001", "name": "Name", "type": "singleLineText"},
                       {"id": "fldStatus00000001", "name": "Status", "type": "singleSelect"},
                       {"id": "fldNotes000000001", "name": "Notes", "type": "multilineText"}]}),
        json!({"id": "tblK6MZHez0ZvBChZ", "name": "Districts", "primaryFieldId": "fldName0000000002",
            "fields": [{"id": "fldName0000000002", "name": "Name", "type": "singleLineText"}]}),
    ]
}

fn records() -> Vec<Value> {
    let record = |id: &str, name: &str| json!({"id": id, "createdTime": "2022-09-12T21:03:48.000Z", "fields": {"Name": name, "Status": "Todo"}});
    vec![
        record("rec560UJdUtocSouk", "Write docs"),
        record("rec6Hz2pXGbtLT9Ab", "Review PR"),
        record("rec7Jb9qYHcuMU0Bc", "Ship it"),
    ]
}

impl Airtable {
    /// https://airtable.com/developers/web/api/scopes: each endpoint's scope; without
    /// it the API answers as if the model did not exist.
    fn require(&self, scope: &str) -> Option<Reply> {
        (!self.scopes.contains(scope)).then(|| {
            error(403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.")
        })
    }

    /// https://airtable.com/developers/web/api/list-records: `pageSize` at most 100;
    /// the response's `offset` continues the list when sent back as `offset`; an
    /// offset the server does not know is LIST_RECORDS_ITERATOR_NOT_AVAILABLE.
    fn list_records(&self, req: &Req) -> Reply {
        if req
            .query("pageSize")
            .and_then(|p| p.parse::<usize>().ok())
            .is_some_and(|p| p > 100)
        {
            return error(422, "INVALID_PAGE_SIZE", "pageSize must be at most 100");
        }
        let all = records();
        let start = match req.query("offset") {
            None => 0,
            Some(OFFSET) => 2,
            Some(_) => {
                return error(
                    422,
                    "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                    "The iterator is not available.",
                )
            }
        };
        let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
        let mut body = json!({ "records": page });
        if start + 2 < all.len() {
            body["offset"] = json!(OFFSET);
        }
        ok(body)
    }

    /// https://airtable.com/developers/web/api/create-records: `{"fields": {…}}` of the
    /// table's existing fields (`typecast` converts values, it does not add fields).
    fn create_record(&self, body: &Value) -> Reply {
        let Some(fields) = body["fields"].as_object() else {
            return error(
                422,
                "INVALID_REQUEST_MISSING_FIELDS",
                "Could not find field \"fields\" in the request body",
            );
        };
        let table = &tables()[0];
        let known: Vec<&str> = table["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return error(
                422,
                "UNKNOWN_FIELD_NAME",
                &format!("Unknown field name: \"{unknown}\""),
            );
        }
        ok(
            json!({"id": "recNewConformance", "createdTime": "2024-01-02T03:04:05.000Z", "fields": fields}),
        )
    }

    /// https://airtable.com/developers/web/api/create-table: a unique name and at least
    /// one field, the first being the primary field.
    fn create_table(&self, body: &Value) -> Reply {
        let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
            return error(
                422,
                "INVALID_REQUEST_UNKNOWN",
                "Invalid request: parameter validation failed. Check your request data.",
            );
        };
        if tables().iter().any(|t| t["name"] == name) {
            return error(
                422,
                "DUPLICATE_TABLE_NAME",
                &format!("Table name \"{name}\" is already in use"),
            );
        }
        if body["fields"].as_array().is_none_or(|f| f.is_empty()) {
            return error(
                422,
                "INVALID_REQUEST_UNKNOWN",
                "Invalid request: a table needs at least one field.",
            );
        }
        ok(
            json!({"id": "tblNewConformance", "name": name, "primaryFieldId": "fldNew00000000001", "fields": body["fields"]}),
        )
    }
}

impl Api for Airtable {
    fn answer(&self, req: &Req) -> Reply {
        // https://airtable.com/developers/web/api/authentication: a Bearer token.
        if req.bearer() != Some(TOKEN) {
            return error(401, "AUTHENTICATION_REQUIRED", "Authentication required");
        }
        // https://airtable.com/developers/web/api/introduction: JSON bodies with
        // `Content-Type: application/json`.
        let body = if req.method == "POST" || req.method == "PATCH" {
            match req.json() {
                Some(body) => body,
                None => {
                    return error(
                        415,
                        "INVALID_REQUEST_UNKNOWN",
                        "Unsupported content type: the body must be application/json",
                    )
                }
            }
        } else {
            Value::Null
        };
        let tasks = |segment: String| segment == "Tasks" || segment == "tblTasks000000001";
        if req.is("GET", "/v0/meta/whoami") {
            let mut me = json!({"id": "usrL2PNC5o3H4lBEi"});
            // https://airtable.com/developers/web/api/get-user-id-scopes: the email only
            // with `user.email:read`.
            if self.scopes.contains("user.email:read") {
                me["email"] = json!("ada@example.com");
            }
            return ok(me);
        }
        if req.matches(&format!("/v0/meta/bases/{BASE}/tables")) {
            let write = req.method == "POST";
            let scope = if write {
                "schema.bases:write"
            } else {
                "schema.bases:read"
            };
            if let Some(refusal) = self.require(scope) {
                return refusal;
            }
            return if write {
                self.create_table(&body)
            } else {
                ok(json!({ "tables": tables() }))
            };
        }
        if req.matches(&format!("/v0/{BASE}/*")) && tasks(req.segment(3)) {
            let write = req.method == "POST";
            let scope = if write {
                "data.records:write"
            } else {
                "data.records:read"
            };
            if let Some(refusal) = self.require(scope) {
                return refusal;
            }
            return if write {
                self.create_record(&body)
            } else {
                self.list_records(req)
            };
        }
        if req.matches(&format!("/v0/{BASE}/*/*")) && tasks(req.segment(3)) && req.method == "GET" {
            if let Some(refusal) = self.require("data.records:read") {
                return refusal;
            }
            let id = req.segment(4);
            return match records().into_iter().find(|r| r["id"] == id.as_str()) {
                Some(record) => ok(record),
                None => error(404, "NOT_FOUND", "Could not find what you are looking for"),
            };
        }
        error(404, "NOT_FOUND", "Could not find what you are looking for")
    }
}
