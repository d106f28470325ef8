//! Jira Cloud's REST API v3 through the Atlassian gateway (OAuth 2.0 3LO: calls go to
//! `/ex/jira/{cloudId}/rest/api/3/…`), as far as the connector uses it:
//! https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/#3-2-make-calls-to-the-api-using-the-cloudid

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "eyJraWQiOiJjb25mb3JtYW5jZSJ9.jira";
const BASE: &str = "/ex/jira/cloud-1/rest/api/3";
const ISSUES_PAGE_2: &str = "CAEaAggD";

pub fn spec() -> Spec {
    Spec {
        key: "jira",
        api: |scopes: &Scopes| Arc::new(Jira { scopes: scopes.clone() }),
        credentials: json!({"access_token": TOKEN, "refresh_token": "r", "expires_in": 3600, "cloudId": "cloud-1"}),
        wrong_credentials: json!({"access_token": "expired", "cloudId": "cloud-1"}),
        collections: vec![
            // The default JQL (no `jql` parameter): it must be bounded.
            Collection::new(
                "issues",
                vec![
                    vec![("10001", "ENG-2 Slow search"), ("10000", "ENG-1 Crash on start")],
                    vec![("10002", "OPS-1 Rotate keys")],
                ],
                ("10000", "ENG-1 Crash on start"),
            )
            .create(
                json!({"summary": "Crash on exit", "projectKey": "ENG", "description": "It crashes."}),
                "10003",
            ),
            Collection::new(
                "projects",
                vec![
                    vec![("10000", "Engineering"), ("10001", "Operations")],
                    vec![("10002", "Design")],
                ],
                ("10000", "Engineering"),
            ),
        ],
    }
}

struct Jira {
    scopes: Scopes,
}

/// Jira's error collection: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#status-codes
fn error(code: u16, messages: &[&str], errors: Value) -> Reply {
    status(code, json!({"errorMessages": messages, "errors": errors}))
}

fn issues() -> Vec<Value> {
    let issue = |id: &str, key: &str, summary: &str, project: &str| {
        json!({"id": id, "key": key, "self": format!("https://api.atlassian.com{BASE}/issue/{id}"),
            "fields": {"summary": summary, "status": {"name": "To Do"}, "issuetype": {"name": "Task"},
                "project": {"key": project}, "created": "2024-01-02T03:04:05.000+0000",
                "updated": "2024-01-03T03:04:05.000+0000", "description": null, "priority": {"name": "Medium"},
                "assignee": null, "reporter": {"accountId": "5b10a2844c20165700ede21g"}}})
    };
    vec![
        issue("10001", "ENG-2", "Slow search", "ENG"),
        issue("10000", "ENG-1", "Crash on start", "ENG"),
        issue("10002", "OPS-1", "Rotate keys", "OPS"),
    ]
}

fn projects() -> Vec<Value> {
    let project = |id: &str, key: &str, name: &str| {
        json!({"id": id, "key": key, "name": name, "projectTypeKey": "software",
            "self": format!("https://api.atlassian.com{BASE}/project/{id}")})
    };
    vec![
        project("10000", "ENG", "Engineering"),
        project("10001", "OPS", "Operations"),
        project("10002", "DES", "Design"),
    ]
}

/// Whether a JQL query restricts the search. `/search/jql` refuses one that does not:
/// https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
/// ("this parameter requires a bounded query. A bounded query is a query with a search
/// restriction"). A query with only `ORDER BY`, or whose clauses are all `X IS [NOT]
/// EMPTY`, restricts nothing.
pub fn is_bounded(jql: &str) -> bool {
    let upper = jql.to_uppercase();
    let condition = match upper.find("ORDER BY") {
        Some(at) => &upper[..at],
        None => &upper[..],
    };
    let mut clauses = Vec::new();
    let mut rest = condition;
    while let Some(at) = [" AND ", " OR "]
        .iter()
        .filter_map(|sep| rest.find(sep).map(|p| (p, sep.len())))
        .min()
    {
        clauses.push(&rest[..at.0]);
        rest = &rest[at.0 + at.1..];
    }
    clauses.push(rest);
    clauses
        .iter()
        .map(|c| {
            c.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim()
        })
        .filter(|c| !c.is_empty())
        .any(|c| {
            let words: Vec<&str> = c.split_whitespace().collect();
            !matches!(
                words.as_slice(),
                [_, "IS", "EMPTY"] | [_, "IS", "NOT", "EMPTY"]
            )
        })
}

/// The issue with only the fields asked for: `/search/jql` returns only the id when
/// `fields` is not given (its `fields` parameter: "The default is `id`"); `GET issue`
/// returns all fields by default.
fn with_fields(issue: &Value, fields: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), issue["id"].clone());
    let Some(fields) = fields else {
        return Value::Object(out);
    };
    out.insert("key".into(), issue["key"].clone());
    out.insert("self".into(), issue["self"].clone());
    let all = issue["fields"].as_object().unwrap();
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    let picked: Map<String, Value> = all
        .iter()
        .filter(|(k, _)| wanted.contains(&"*all") || wanted.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert("fields".into(), Value::Object(picked));
    Value::Object(out)
}

impl Jira {
    /// Each operation's "OAuth 2.0 scopes required" (classic) in the v3 reference; the
    /// gateway refuses a token without them with 401.
    fn require(&self, scope: &str) -> Option<Reply> {
        (!self.scopes.contains(scope)).then(|| {
            status(
                401,
                json!({"code": 401, "message": "Unauthorized; scope does not match"}),
            )
        })
    }

    fn search(&self, req: &Req) -> Reply {
        let Some(jql) = req.query("jql") else {
            return error(400, &["The JQL query is required."], json!({}));
        };
        if !is_bounded(jql) {
            return error(
                400,
                &["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."],
                json!({}),
            );
        }
        let max = match req.query("maxResults").map(str::parse::<usize>) {
            None => 50,
            Some(Ok(n)) if (1..=5000).contains(&n) => n,
            Some(_) => return error(400, &["maxResults must be between 1 and 5000."], json!({})),
        };
        // The next page is the one `nextPageToken` names; without it, the first.
        let start = if req.query("nextPageToken") == Some(ISSUES_PAGE_2) {
            2
        } else {
            0
        };
        let size = max.min(2);
        let all = issues();
        let page: Vec<Value> = all
            .iter()
            .skip(start)
            .take(size)
            .map(|i| with_fields(i, req.query("fields")))
            .collect();
        let mut body = json!({"issues": page, "isLast": start + size >= all.len()});
        if start + size < all.len() {
            body["nextPageToken"] = json!(ISSUES_PAGE_2);
        }
        ok(body)
    }

    /// https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/#api-rest-api-3-project-search-get:
    /// offset pages (`startAt`, `maxResults`), `isLast` on the last. The server may
    /// return fewer than asked (two here) and says so in `maxResults`.
    fn project_search(&self, req: &Req) -> Reply {
        let start: usize = req
            .query("startAt")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let asked: usize = req
            .query("maxResults")
            .and_then(|s| s.parse().ok())
            .unwrap_or(50);
        let size = asked.clamp(1, 2);
        let all = projects();
        let values: Vec<Value> = all.iter().skip(start).take(size).cloned().collect();
        ok(
            json!({"self": format!("https://api.atlassian.com{BASE}/project/search?startAt={start}"),
            "maxResults": size, "startAt": start, "total": all.len(),
            "isLast": start + size >= all.len(), "values": values}),
        )
    }

    /// https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post:
    /// project, summary and issue type are required; in v3 a description is an
    /// Atlassian Document, never a string.
    fn create(&self, req: &Req) -> Reply {
        let Some(body) = req.json() else {
            return status(415, json!({"errorMessages": ["Unsupported Media Type"]}));
        };
        let fields = &body["fields"];
        let mut errors = Map::new();
        let project = &fields["project"];
        if !projects()
            .iter()
            .any(|p| p["key"] == project["key"] || p["id"] == project["id"])
        {
            errors.insert("project".into(), json!("valid project is required"));
        }
        if fields["summary"].as_str().is_none_or(str::is_empty) {
            errors.insert(
                "summary".into(),
                json!("You must specify a summary of the issue."),
            );
        }
        let issue_type = fields["issuetype"]["name"].as_str().unwrap_or("");
        if !["Task", "Bug", "Story", "Epic"].contains(&issue_type) {
            errors.insert("issuetype".into(), json!("Specify an issue type"));
        }
        match &fields["description"] {
            Value::Null => {}
            Value::Object(doc)
                if doc.get("type") == Some(&json!("doc"))
                    && doc.get("version") == Some(&json!(1)) => {}
            _ => {
                errors.insert(
                    "description".into(),
                    json!("Operation value must be an Atlassian Document (see the Atlassian Document Format)"),
                );
            }
        }
        if !errors.is_empty() {
            return error(400, &[], Value::Object(errors));
        }
        status(
            201,
            json!({"id": "10003", "key": "ENG-3", "self": format!("https://api.atlassian.com{BASE}/issue/10003")}),
        )
    }
}

impl Api for Jira {
    fn answer(&self, req: &Req) -> Reply {
        // https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/: the
        // access token as a Bearer header; the gateway answers 401 otherwise.
        if req.bearer() != Some(TOKEN) {
            return status(401, json!({"code": 401, "message": "Unauthorized"}));
        }
        let Some(path) = req.path.strip_prefix(BASE) else {
            return status(404, json!({"errorMessages": ["Site not found"]}));
        };
        let get = req.method == "GET";
        let scope = match (get, path) {
            (true, "/myself") => "read:jira-user",
            (true, _) => "read:jira-work",
            (false, _) => "write:jira-work",
        };
        if let Some(refusal) = self.require(scope) {
            return refusal;
        }
        let segments: Vec<&str> = path.split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["", "myself"]) => ok(
                json!({"accountId": "5b10a2844c20165700ede21g", "displayName": "Ada", "active": true}),
            ),
            ("GET", ["", "search", "jql"]) => self.search(req),
            ("GET", ["", "issue", id]) => {
                match issues().iter().find(|i| i["id"] == *id || i["key"] == *id) {
                    Some(issue) => ok(with_fields(
                        issue,
                        Some(req.query("fields").unwrap_or("*all")),
                    )),
                    None => error(
                        404,
                        &["Issue does not exist or you do not have permission to see it."],
                        json!({}),
                    ),
                }
            }
            ("POST", ["", "issue"]) => self.create(req),
            ("GET", ["", "project", "search"]) => self.project_search(req),
            ("GET", ["", "project", id]) => match projects()
                .into_iter()
                .find(|p| p["id"] == *id || p["key"] == *id)
            {
                Some(project) => ok(project),
                None => error(
                    404,
                    &[&format!("No project could be found with key '{id}'.")],
                    json!({}),
                ),
            },
            _ => error(404, &["Not found"], json!({})),
        }
    }
}
