//! GitHub's REST API, as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "gho_conformance0001";
/// A version the API accepts in `X-GitHub-Api-Version`:
/// https://docs.github.com/en/rest/about-the-rest-api/api-versions
const API_VERSIONS: [&str; 1] = ["2022-11-28"];

pub fn spec() -> Spec {
    Spec {
        key: "github",
        api: |_: &Scopes| Arc::new(GitHub),
        credentials: json!({"access_token": TOKEN, "token_type": "bearer"}),
        wrong_credentials: json!({"access_token": "gho_revoked", "token_type": "bearer"}),
        collections: vec![
            Collection::new(
                "repositories",
                vec![
                    vec![
                        ("1296269", "octocat/Hello-World"),
                        ("1300192", "octocat/Spoon-Knife"),
                    ],
                    vec![("1300193", "octocat/linguist")],
                ],
                ("1296269", "octocat/Hello-World"),
            )
            .create(
                json!({"name": "new-repo", "description": "Made by Osmosis"}),
                "1296300",
            ),
            // Page 1 holds a pull request (#1348) between two issues: the connector must
            // leave it out. Page 2 holds a closed issue: `list` means all issues.
            Collection::new(
                "issues",
                vec![
                    vec![("1347", "Found a bug")],
                    vec![("1346", "Docs are stale")],
                ],
                ("1347", "Found a bug"),
            )
            .parameters(json!({"owner": "octocat", "repo": "Hello-World"}))
            .create(
                json!({"title": "Crash on start", "labels": ["bug"]}),
                "1350",
            ),
        ],
    }
}

struct GitHub;

fn error(code: u16, message: &str) -> Reply {
    status(
        code,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": code.to_string()}),
    )
}

fn repos() -> Vec<Value> {
    vec![
        json!({"id": 1296269, "name": "Hello-World", "full_name": "octocat/Hello-World", "private": false}),
        json!({"id": 1300192, "name": "Spoon-Knife", "full_name": "octocat/Spoon-Knife", "private": false}),
        json!({"id": 1300193, "name": "linguist", "full_name": "octocat/linguist", "private": true}),
    ]
}

fn issues() -> Vec<Value> {
    vec![
        json!({"id": 1, "number": 1347, "title": "Found a bug", "state": "open", "labels": [], "assignees": []}),
        // https://docs.github.com/en/rest/issues/issues#list-repository-issues: "GitHub's
        // REST API considers every pull request an issue […] identify pull requests by
        // the `pull_request` key."
        json!({"id": 2, "number": 1348, "title": "Fix the bug", "state": "open", "labels": [], "assignees": [],
            "pull_request": {"url": "https://api.github.com/repos/octocat/Hello-World/pulls/1348"}}),
        json!({"id": 3, "number": 1346, "title": "Docs are stale", "state": "closed", "labels": [], "assignees": []}),
    ]
}

/// One page of `items` (two a page here), with the `Link` header GitHub sends:
/// https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
/// The page is the `page` query parameter; anything else is page 1.
fn paged(req: &Req, items: Vec<Value>) -> Reply {
    let page: usize = req
        .query("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let pages = items.len().div_ceil(2);
    let chunk: Vec<Value> = items.into_iter().skip((page - 1) * 2).take(2).collect();
    let host = req.header("host").unwrap_or("api.github.com");
    let link = |n: usize, rel: &str| {
        format!(
            "<http://{host}{}?per_page=2&page={n}>; rel=\"{rel}\"",
            req.path
        )
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let reply = ok(Value::Array(chunk));
    if links.is_empty() {
        reply
    } else {
        reply.header("link", &links.join(", "))
    }
}

impl Api for GitHub {
    fn answer(&self, req: &Req) -> Reply {
        // https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent:
        // "All API requests must include a valid User-Agent header. Requests with no
        // User-Agent header will be rejected."
        if req.header("user-agent").is_none_or(str::is_empty) {
            return status(
                403,
                json!({"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes."}),
            );
        }
        // https://docs.github.com/en/rest/about-the-rest-api/api-versions: an unsupported
        // version is a 400.
        if let Some(version) = req.header("x-github-api-version") {
            if !API_VERSIONS.contains(&version) {
                return error(400, &format!("Unsupported 'X-GitHub-Api-Version' header. The requested version '{version}' is not supported."));
            }
        }
        // https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api:
        // the token goes in `Authorization` (`Bearer` or `token`); a wrong one is 401.
        let token = req.bearer().or_else(|| {
            req.header("authorization")
                .and_then(|v| v.strip_prefix("token "))
        });
        match token {
            Some(TOKEN) => {}
            Some(_) => return error(401, "Bad credentials"),
            None => return error(401, "Requires authentication"),
        }
        let state_matches = |issue: &Value| match req.query("state").unwrap_or("open") {
            "all" => true,
            state => issue["state"] == state,
        };
        if req.is("GET", "/user") {
            return ok(json!({"login": "octocat", "id": 1, "type": "User"}));
        }
        if req.is("GET", "/user/repos") {
            return paged(req, repos());
        }
        if req.is("GET", "/repositories/*") {
            let id = req.segment(2);
            return match repos()
                .into_iter()
                .find(|r| r["id"].as_u64() == id.parse().ok())
            {
                Some(repo) => ok(repo),
                None => error(404, "Not Found"),
            };
        }
        if req.is("GET", "/repos/octocat/Hello-World/issues") {
            return paged(req, issues().into_iter().filter(state_matches).collect());
        }
        if req.is("GET", "/repos/octocat/Hello-World/issues/*") {
            let number = req.segment(5);
            return match issues()
                .into_iter()
                .find(|i| i["number"].as_u64() == number.parse().ok())
            {
                Some(issue) => ok(issue),
                None => error(404, "Not Found"),
            };
        }
        if req.method == "POST" {
            // Bodies are JSON: https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#request-body
            let Some(body) = req.json() else {
                return error(400, "Problems parsing JSON");
            };
            // https://docs.github.com/en/rest/repos/repos#create-a-repository-for-the-authenticated-user
            if req.is("POST", "/user/repos") {
                let Some(name) = body["name"].as_str() else {
                    return status(
                        422,
                        json!({"message": "Repository creation failed.", "errors": [{"resource": "Repository", "code": "missing_field", "field": "name"}]}),
                    );
                };
                return status(
                    201,
                    json!({"id": 1296300, "name": name, "full_name": format!("octocat/{name}")}),
                );
            }
            // https://docs.github.com/en/rest/issues/issues#create-an-issue
            if req.is("POST", "/repos/octocat/Hello-World/issues") {
                let Some(title) = body["title"].as_str() else {
                    return status(
                        422,
                        json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}]}),
                    );
                };
                return status(
                    201,
                    json!({"id": 4, "number": 1350, "title": title, "state": "open"}),
                );
            }
        }
        error(404, "Not Found")
    }
}
