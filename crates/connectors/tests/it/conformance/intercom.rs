//! Intercom's API (contacts, companies), as far as the connector uses it.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "dG9rOmNvbmZvcm1hbmNl";
const CONTACTS_PAGE_2: &str = "WzE3MTk0OTM3NTcuMCw";
const SCROLL: &str = "25b649f7-4d33-4ef6-88f5-60e5b8244309";

pub fn spec() -> Spec {
    Spec {
        key: "intercom",
        api: |_: &Scopes| Arc::new(Intercom::default()),
        credentials: json!({"access_token": TOKEN, "token_type": "Bearer"}),
        wrong_credentials: json!({"access_token": "dG9rOnJldm9rZWQ=", "token_type": "Bearer"}),
        collections: vec![
            Collection::new(
                "contacts",
                vec![
                    vec![
                        ("6657add46abd0167d9419cd2", "Joe Example"),
                        ("6657add46abd0167d9419cd3", "ann@example.com"),
                    ],
                    vec![("6657add46abd0167d9419cd4", "Zoe Lead")],
                ],
                ("6657add46abd0167d9419cd2", "Joe Example"),
            )
            .create(
                json!({"email": "new@example.com", "name": "New Person"}),
                "6657add46abd0167d9419cd9",
            ),
            // Globex has no users: the scroll API lists it, `POST /companies/list` does not.
            Collection::new(
                "companies",
                vec![
                    vec![
                        ("6657add66abd0167d9419cd5", "Acme"),
                        ("6657add66abd0167d9419cd6", "Globex"),
                    ],
                    vec![("6657add66abd0167d9419cd7", "Initech")],
                ],
                ("6657add66abd0167d9419cd5", "Acme"),
            )
            .ends_with_empty_page()
            .create(
                json!({"name": "Hooli", "companyId": "hooli-1", "size": 50}),
                "6657add66abd0167d9419cd9",
            ),
        ],
    }
}

/// Where the open scroll is: only one scroll at a time, continued by its
/// `scroll_param`.
#[derive(Default)]
struct Intercom {
    scroll: Mutex<Option<usize>>,
}

/// https://developers.intercom.com/docs/references/rest-api/errors/error-objects
fn error(code: u16, kind: &str, message: &str) -> Reply {
    status(
        code,
        json!({"type": "error.list", "request_id": "000on5ojh9s4ukbl5nv0",
            "errors": [{"code": kind, "message": message}]}),
    )
}

fn contacts() -> Vec<Value> {
    vec![
        json!({"type": "contact", "id": "6657add46abd0167d9419cd2", "role": "user", "name": "Joe Example", "email": "joe@example.com"}),
        json!({"type": "contact", "id": "6657add46abd0167d9419cd3", "role": "user", "name": null, "email": "ann@example.com"}),
        json!({"type": "contact", "id": "6657add46abd0167d9419cd4", "role": "lead", "name": "Zoe Lead", "email": null}),
    ]
}

fn companies() -> Vec<Value> {
    vec![
        json!({"type": "company", "id": "6657add66abd0167d9419cd5", "name": "Acme", "company_id": "acme-1", "user_count": 3}),
        json!({"type": "company", "id": "6657add66abd0167d9419cd6", "name": "Globex", "company_id": "globex-1", "user_count": 0}),
        json!({"type": "company", "id": "6657add66abd0167d9419cd7", "name": "Initech", "company_id": "initech-1", "user_count": 1}),
    ]
}

impl Intercom {
    /// https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/scrolloverallcompanies:
    /// the first call (no `scroll_param`) opens a scroll; each call with the
    /// `scroll_param` it returned gets the next batch; an empty `data` means done.
    fn scroll(&self, req: &Req) -> Reply {
        let mut scroll = self.scroll.lock().unwrap();
        let start = match req.query("scroll_param") {
            None => 0,
            Some(SCROLL) => match *scroll {
                Some(at) => at,
                None => return error(404, "not_found", "scroll parameter not found"),
            },
            Some(_) => return error(404, "not_found", "scroll parameter not found"),
        };
        let all = companies();
        let data: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
        *scroll = if data.is_empty() {
            None
        } else {
            Some(start + data.len())
        };
        ok(
            json!({"type": "list", "data": data, "pages": null, "total_count": null, "scroll_param": SCROLL}),
        )
    }
}

/// https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/listallcompanies:
/// numbered pages, but "the API does not include companies who have no associated
/// users in list responses" (and stops at 10,000 companies).
fn list_companies(req: &Req) -> Reply {
    let with_users: Vec<Value> = companies()
        .into_iter()
        .filter(|c| c["user_count"].as_u64() > Some(0))
        .collect();
    let page: usize = req
        .query("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let data: Vec<Value> = with_users
        .iter()
        .skip((page - 1) * 2)
        .take(2)
        .cloned()
        .collect();
    ok(
        json!({"type": "list", "data": data, "total_count": with_users.len(),
        "pages": {"type": "pages", "page": page, "per_page": 2, "total_pages": with_users.len().div_ceil(2)}}),
    )
}

/// https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/listcontacts:
/// cursor pages, `starting_after` = the previous `pages.next.starting_after`;
/// `per_page` at most 150.
fn list_contacts(req: &Req) -> Reply {
    if req
        .query("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .is_some_and(|p| p > 150)
    {
        return error(400, "parameter_invalid", "per_page must be 150 or less");
    }
    let start = if req.query("starting_after") == Some(CONTACTS_PAGE_2) {
        2
    } else {
        0
    };
    let all = contacts();
    let data: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    let mut pages =
        json!({"type": "pages", "page": start / 2 + 1, "per_page": 2, "total_pages": 2});
    if start == 0 {
        pages["next"] = json!({"page": 2, "starting_after": CONTACTS_PAGE_2});
    }
    ok(json!({"type": "list", "data": data, "total_count": all.len(), "pages": pages}))
}

fn find(req: &Req, items: Vec<Value>, kind: &str) -> Reply {
    let id = req.segment(2);
    match items.into_iter().find(|i| i["id"] == id.as_str()) {
        Some(item) => ok(item),
        None => error(404, "not_found", &format!("{kind} Not Found")),
    }
}

impl Api for Intercom {
    fn answer(&self, req: &Req) -> Reply {
        // https://developers.intercom.com/docs/build-an-integration/learn-more/authentication:
        // the access token as a Bearer header.
        if req.bearer() != Some(TOKEN) {
            return error(401, "unauthorized", "Access Token Invalid");
        }
        // https://developers.intercom.com/docs/references/rest-apis/use-of-http:
        // "Requests without an Accept header of application/json may be rejected with
        // a client error of 404 or 406."
        if !req
            .header("accept")
            .is_some_and(|a| a.contains("application/json"))
        {
            return error(
                406,
                "not_acceptable",
                "The Accept header must be application/json",
            );
        }
        // Same page: "The Content-Type header should be used by clients to indicate
        // the submitted format for POST/PUT requests" — JSON.
        let body = if req.method == "POST" && !req.body.is_empty() {
            match req.json() {
                Some(body) => body,
                None => return error(400, "parameter_invalid", "Request body must be JSON"),
            }
        } else {
            json!({})
        };
        if req.is("GET", "/me") {
            return ok(
                json!({"type": "admin", "id": "991267460", "email": "admin@example.com", "name": "Ada"}),
            );
        }
        if req.is("GET", "/contacts") {
            return list_contacts(req);
        }
        if req.is("GET", "/contacts/*") {
            return find(req, contacts(), "User");
        }
        // https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/createcontact:
        // a role of `user` or `lead`, and an email or external_id.
        if req.is("POST", "/contacts") {
            let role = body["role"].as_str().unwrap_or("user");
            if !["user", "lead"].contains(&role) {
                return error(400, "parameter_invalid", "role must be user or lead");
            }
            if role == "user" && !body["email"].is_string() && !body["external_id"].is_string() {
                return error(
                    400,
                    "parameter_invalid",
                    "email or external_id is required for a user",
                );
            }
            return ok(
                json!({"type": "contact", "id": "6657add46abd0167d9419cd9", "role": role, "email": body["email"]}),
            );
        }
        if req.is("GET", "/companies/scroll") {
            return self.scroll(req);
        }
        if req.is("POST", "/companies/list") {
            return list_companies(req);
        }
        if req.is("GET", "/companies/*") {
            return find(req, companies(), "Company");
        }
        // https://developers.intercom.com/docs/references/rest-api/api.intercom.io/companies/createorupdatecompany
        if req.is("POST", "/companies") {
            return ok(
                json!({"type": "company", "id": "6657add66abd0167d9419cd9", "name": body["name"], "company_id": body["company_id"]}),
            );
        }
        error(404, "not_found", "Resource Not Found")
    }
}

/// https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/regional-hosting:
/// a workspace's data lives in one region and only that region's host serves it. The
/// connection input `region` picks the host; `apiBaseUri` still replaces it (a proxy, or
/// this test's mocks).
#[tokio::test]
async fn intercom_calls_the_connection_regions_host_unless_an_api_base_uri_is_set() {
    use osmosis_connectors::definition::AuthFunction;
    use osmosis_connectors::function::FunctionRunner;

    let connector =
        osmosis_connectors::definition::Connector::from_value(&super::runner::shipped("intercom"))
            .unwrap();
    let connector = Arc::new(connector);
    let app = json!({"clientId": "client-1", "clientSecret": "s"});
    for (region, host) in [
        (None, "https://api.intercom.io"),
        (Some("us"), "https://api.intercom.io"),
        (Some("eu"), "https://api.eu.intercom.io"),
        (Some("au"), "https://api.au.intercom.io"),
    ] {
        // The region chosen when connecting is kept with the token…
        let input = json!({"access_token": TOKEN, "tokenResponse": {"access_token": TOKEN, "token_type": "Bearer"},
            "connectionInput": {"region": region}});
        let credentials = FunctionRunner::new(connector.clone(), crate::mock::outbound())
            .with_connector_parameters(app.clone())
            .run_auth_function(AuthFunction::GetCredentialsFromAccessTokenResponse, input)
            .await
            .unwrap()
            .expect("intercom keeps the region in the credentials")
            .output;
        assert_eq!(credentials["region"], region.unwrap_or("us"));
        // …and picks the API host, unless apiBaseUri replaces it.
        for (parameters, want) in [
            (app.clone(), format!("{host}/me")),
            (
                json!({"clientId": "client-1", "apiBaseUri": "http://127.0.0.1:9"}),
                "http://127.0.0.1:9/me".to_owned(),
            ),
        ] {
            let runner = FunctionRunner::new(connector.clone(), crate::mock::outbound())
                .with_credentials(credentials.clone())
                .with_connector_parameters(parameters);
            let url = runner.api_client().await.unwrap().url_for("/me").unwrap();
            assert_eq!(url.as_str(), want, "region {region:?}");
        }
    }
}
