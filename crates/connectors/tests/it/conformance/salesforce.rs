//! Salesforce's REST API (SOQL query, sObjects), as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "00D5e000000conf!AQ0AQ.conformance";
const BASE: &str = "/services/data/v60.0";

pub fn spec() -> Spec {
    Spec {
        key: "salesforce",
        api: |scopes: &Scopes| {
            Arc::new(Salesforce {
                scopes: scopes.clone(),
            })
        },
        credentials: json!({"access_token": TOKEN, "instance_url": "https://na1.my.salesforce.com",
            "refresh_token": "r", "token_type": "Bearer"}),
        wrong_credentials: json!({"access_token": "00D5e000000conf!expired", "instance_url": "https://na1.my.salesforce.com"}),
        collections: vec![
            Collection::new(
                "accounts",
                vec![
                    vec![
                        ("001RO000001A1AAAA", "Edge Communications"),
                        ("001RO000001A2AAAA", "Burlington Textiles"),
                    ],
                    vec![("001RO000001A3AAAA", "Pyramid Construction")],
                ],
                ("001RO000001A1AAAA", "Edge Communications"),
            )
            .create(
                json!({"Name": "Osmosis Ltd", "Website": "https://osmosis.example"}),
                "001RO000009NEWAAA",
            ),
            Collection::new(
                "contacts",
                vec![
                    vec![
                        ("003RO000001C1AAAA", "Rose Gonzalez"),
                        ("003RO000001C2AAAA", "Sean Forbes"),
                    ],
                    vec![("003RO000001C3AAAA", "Jack Rogers")],
                ],
                ("003RO000001C1AAAA", "Rose Gonzalez"),
            )
            .create(
                json!({"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}),
                "003RO000009NEWAAA",
            ),
        ],
    }
}

struct Salesforce {
    scopes: Scopes,
}

/// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm:
/// an array of `{message, errorCode, fields?}`.
fn error(code: u16, error_code: &str, message: &str) -> Reply {
    status(code, json!([{"message": message, "errorCode": error_code}]))
}

/// One sObject type: its fields (others are INVALID_FIELD), the required ones, its
/// records.
struct SObject {
    name: &'static str,
    fields: &'static [&'static str],
    required: &'static [&'static str],
    locator: &'static str,
    new_id: &'static str,
    records: fn() -> Vec<Value>,
}

const ACCOUNT: SObject = SObject {
    name: "Account",
    fields: &[
        "Id",
        "Name",
        "Website",
        "Industry",
        "Phone",
        "CreatedDate",
        "LastModifiedDate",
    ],
    required: &["Name"],
    locator: "01gRO0000016PIAYA2-2000",
    new_id: "001RO000009NEWAAA",
    records: || {
        let account = |id: &str, name: &str| {
            json!({"Id": id, "Name": name, "Website": null, "Industry": "Construction",
            "Phone": "(512) 757-6000", "CreatedDate": "2024-01-02T03:04:05.000+0000", "LastModifiedDate": "2024-01-03T03:04:05.000+0000"})
        };
        vec![
            account("001RO000001A1AAAA", "Edge Communications"),
            account("001RO000001A2AAAA", "Burlington Textiles"),
            account("001RO000001A3AAAA", "Pyramid Construction"),
        ]
    },
};

const CONTACT: SObject = SObject {
    name: "Contact",
    fields: &[
        "Id",
        "Name",
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "AccountId",
        "CreatedDate",
        "LastModifiedDate",
    ],
    required: &["LastName"],
    locator: "01gRO0000016PIBYA2-2000",
    new_id: "003RO000009NEWAAA",
    records: || {
        let contact = |id: &str, first: &str, last: &str| {
            json!({"Id": id, "Name": format!("{first} {last}"),
            "FirstName": first, "LastName": last, "Email": null, "Phone": null, "AccountId": "001RO000001A1AAAA",
            "CreatedDate": "2024-01-02T03:04:05.000+0000", "LastModifiedDate": "2024-01-03T03:04:05.000+0000"})
        };
        vec![
            contact("003RO000001C1AAAA", "Rose", "Gonzalez"),
            contact("003RO000001C2AAAA", "Sean", "Forbes"),
            contact("003RO000001C3AAAA", "Jack", "Rogers"),
        ]
    },
};

fn with_attributes(object: &SObject, record: &Value, fields: &[&str]) -> Value {
    let mut out = Map::new();
    let id = record["Id"].as_str().unwrap_or_default();
    out.insert(
        "attributes".into(),
        json!({"type": object.name, "url": format!("{BASE}/sobjects/{}/{id}", object.name)}),
    );
    for field in fields {
        out.insert((*field).to_owned(), record[*field].clone());
    }
    Value::Object(out)
}

/// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm:
/// the query's first batch; while `done` is false, `nextRecordsUrl`
/// (`…/query/<locator>`) fetches the next. Only the selected fields come back.
fn query(soql: &str) -> Reply {
    let upper = soql.to_uppercase();
    let (Some(select), Some(from)) = (upper.find("SELECT "), upper.find(" FROM ")) else {
        return error(
            400,
            "MALFORMED_QUERY",
            &format!("unexpected token: '{soql}'"),
        );
    };
    let object_name = soql[from + 6..].split_whitespace().next().unwrap_or("");
    let object = match object_name {
        "Account" => &ACCOUNT,
        "Contact" => &CONTACT,
        other => {
            return error(
                400,
                "INVALID_TYPE",
                &format!("sObject type '{other}' is not supported."),
            )
        }
    };
    let selected: Vec<&str> = soql[select + 7..from].split(',').map(str::trim).collect();
    if let Some(bad) = selected.iter().find(|f| !object.fields.contains(f)) {
        return error(
            400,
            "INVALID_FIELD",
            &format!("No such column '{bad}' on entity '{}'.", object.name),
        );
    }
    batch(object, &selected, 0)
}

fn batch(object: &SObject, selected: &[&str], start: usize) -> Reply {
    let all = (object.records)();
    let records: Vec<Value> = all
        .iter()
        .skip(start)
        .take(2)
        .map(|r| with_attributes(object, r, selected))
        .collect();
    let done = start + 2 >= all.len();
    let mut body = json!({"totalSize": all.len(), "done": done, "records": records});
    if !done {
        body["nextRecordsUrl"] = json!(format!("{BASE}/query/{}", object.locator));
    }
    ok(body)
}

/// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_sobject_create.htm:
/// a JSON body of the object's fields; required fields must be there.
fn create(req: &Req, object: &SObject) -> Reply {
    let Some(Value::Object(body)) = req.json() else {
        return error(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "MediaType of 'application/x-www-form-urlencoded' is not supported by this resource",
        );
    };
    if let Some(bad) = body
        .keys()
        .find(|k| !object.fields.contains(&k.as_str()) || *k == "Id")
    {
        return error(
            400,
            "INVALID_FIELD",
            &format!("No such column '{bad}' on sobject of type {}", object.name),
        );
    }
    let missing: Vec<&str> = object
        .required
        .iter()
        .copied()
        .filter(|f| !body.get(*f).is_some_and(|v| v.is_string()))
        .collect();
    if !missing.is_empty() {
        return status(
            400,
            json!([{"message": format!("Required fields are missing: [{}]", missing.join(", ")),
            "errorCode": "REQUIRED_FIELD_MISSING", "fields": missing}]),
        );
    }
    status(
        201,
        json!({"id": object.new_id, "success": true, "errors": []}),
    )
}

impl Api for Salesforce {
    fn answer(&self, req: &Req) -> Reply {
        // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm:
        // the OpenID Connect UserInfo endpoint sits beside the REST API, outside its
        // version path. Like the identity URL
        // (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid.htm),
        // it wants an identity scope (`openid`, `profile`, `id`…) and answers a bad token
        // with 403 Bad_OAuth_Token rather than a REST 401.
        if req.is("GET", "/services/oauth2/userinfo") {
            let identity = ["openid", "profile", "id", "full"];
            if req.bearer() != Some(TOKEN) || !identity.iter().any(|s| self.scopes.contains(*s)) {
                return status(403, json!("Bad_OAuth_Token"));
            }
            return ok(
                json!({"sub": "https://login.salesforce.com/id/00D5e000000confEAA/005RO000000confAAA",
                "user_id": "005RO000000confAAA", "organization_id": "00D5e000000confEAA",
                "preferred_username": "ada@acme.example", "name": "Ada Lovelace"}),
            );
        }
        // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/quickstart_oauth.htm:
        // the access token as a Bearer header.
        if req.bearer() != Some(TOKEN) {
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid");
        }
        // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_tokens_scopes.htm:
        // the REST API needs the `api` scope (or `full`).
        if !self.scopes.contains("api") && !self.scopes.contains("full") {
            return error(
                403,
                "INVALID_SESSION_ID",
                "This session is not valid for use with the REST API",
            );
        }
        let Some(path) = req.path.strip_prefix(BASE) else {
            return error(404, "NOT_FOUND", "The requested resource does not exist");
        };
        let segments: Vec<&str> = path.split('/').collect();
        let object = |name: &str| match name {
            "Account" => Some(&ACCOUNT),
            "Contact" => Some(&CONTACT),
            _ => None,
        };
        match (req.method.as_str(), segments.as_slice()) {
            // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_discoveryresource.htm
            ("GET", ["", ""]) => ok(
                json!({"sobjects": format!("{BASE}/sobjects"), "query": format!("{BASE}/query"),
                "limits": format!("{BASE}/limits")}),
            ),
            // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm
            ("GET", ["", "limits"]) => {
                ok(json!({"DailyApiRequests": {"Max": 15000, "Remaining": 14998}}))
            }
            ("GET", ["", "query"]) => match req.query("q") {
                Some(soql) => query(soql),
                None => error(400, "MALFORMED_QUERY", "A query string has to be specified"),
            },
            ("GET", ["", "query", locator]) => match [&ACCOUNT, &CONTACT]
                .into_iter()
                .find(|o| o.locator == *locator)
            {
                // The locator remembers the query; the connector's selects every field.
                Some(object) => batch(object, object.fields, 2),
                None => error(400, "INVALID_QUERY_LOCATOR", "invalid query locator"),
            },
            ("GET", ["", "sobjects", name, id]) => {
                let Some(object) = object(name) else {
                    return error(404, "NOT_FOUND", "The requested resource does not exist");
                };
                match (object.records)().iter().find(|r| r["Id"] == *id) {
                    Some(record) => ok(with_attributes(object, record, object.fields)),
                    None => error(404, "NOT_FOUND", "The requested resource does not exist"),
                }
            }
            ("POST", ["", "sobjects", name]) => match object(name) {
                Some(object) => create(req, object),
                None => error(404, "NOT_FOUND", "The requested resource does not exist"),
            },
            _ => error(404, "NOT_FOUND", "The requested resource does not exist"),
        }
    }
}
