//! HubSpot's CRM v3 objects API (contacts, companies), as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "CNDc-conformance-0001";

pub fn spec() -> Spec {
    Spec {
        key: "hubspot",
        api: |scopes: &Scopes| {
            Arc::new(HubSpot {
                scopes: scopes.clone(),
            })
        },
        credentials: json!({"access_token": TOKEN, "token_type": "bearer", "refresh_token": "r"}),
        wrong_credentials: json!({"access_token": "CNDc-expired", "token_type": "bearer"}),
        collections: vec![
            Collection::new(
                "contacts",
                vec![
                    vec![("51", "Brian Halligan"), ("52", "only@mail.com")],
                    vec![("53", "Dharmesh Shah")],
                ],
                ("51", "Brian Halligan"),
            )
            .create(
                json!({"email": "new@example.com", "firstname": "Ada"}),
                "60",
            ),
            Collection::new(
                "companies",
                vec![
                    vec![("9", "HubSpot"), ("10", "example.org")],
                    vec![("11", "Acme")],
                ],
                ("10", "example.org"),
            )
            .create(json!({"name": "Globex", "domain": "globex.example"}), "61"),
        ],
    }
}

struct HubSpot {
    scopes: Scopes,
}

/// Every object type's properties (HubSpot refuses others) and the ones returned
/// when a read names none: https://developers.hubspot.com/docs/api/crm/contacts,
/// https://developers.hubspot.com/docs/api/crm/companies
struct ObjectType {
    name: &'static str,
    known: &'static [&'static str],
    default: &'static [&'static str],
    page_2: &'static str,
    created_id: &'static str,
    records: fn() -> Vec<Value>,
}

const CONTACTS: ObjectType = ObjectType {
    name: "contacts",
    known: &["email", "firstname", "lastname", "phone", "company"],
    default: &["email", "firstname", "lastname"],
    page_2: "53",
    created_id: "60",
    records: || {
        vec![
            json!({"id": "51", "properties": {"firstname": "Brian", "lastname": "Halligan", "email": "bh@hubspot.com", "phone": "555-0100"}}),
            json!({"id": "52", "properties": {"email": "only@mail.com"}}),
            json!({"id": "53", "properties": {"firstname": "Dharmesh", "lastname": "Shah", "email": "ds@hubspot.com"}}),
        ]
    },
};

const COMPANIES: ObjectType = ObjectType {
    name: "companies",
    known: &["name", "domain", "industry", "phone", "city"],
    default: &["name", "domain"],
    page_2: "11",
    created_id: "61",
    records: || {
        vec![
            json!({"id": "9", "properties": {"name": "HubSpot", "domain": "hubspot.com", "city": "Cambridge"}}),
            json!({"id": "10", "properties": {"domain": "example.org"}}),
            json!({"id": "11", "properties": {"name": "Acme", "domain": "acme.example"}}),
        ]
    },
};

fn error(code: u16, category: &str, message: &str) -> Reply {
    status(
        code,
        json!({"status": "error", "message": message, "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf", "category": category}),
    )
}

/// The record with only the properties asked for (or the defaults), plus the ones
/// HubSpot always returns.
fn shaped(kind: &ObjectType, record: &Value, asked: Option<&str>) -> Value {
    let wanted: Vec<&str> = match asked {
        Some(list) => list.split(',').collect(),
        None => kind.default.to_vec(),
    };
    let id = record["id"].as_str().unwrap_or_default();
    let mut properties: Map<String, Value> = record["properties"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| wanted.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    properties.insert("hs_object_id".into(), json!(id));
    properties.insert("createdate".into(), json!("2024-01-02T03:04:05.000Z"));
    properties.insert("lastmodifieddate".into(), json!("2024-01-03T03:04:05.000Z"));
    json!({"id": id, "properties": properties, "createdAt": "2024-01-02T03:04:05.000Z",
        "updatedAt": "2024-01-03T03:04:05.000Z", "archived": false})
}

impl HubSpot {
    /// https://developers.hubspot.com/docs/api/scopes: each object's read and write
    /// scopes; a token without one gets 403 MISSING_SCOPES.
    fn require(&self, scope: &str) -> Option<Reply> {
        (!self.scopes.contains(scope)).then(|| {
            status(403, json!({"status": "error",
                "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                "category": "MISSING_SCOPES",
                "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": [scope]}}]}))
        })
    }

    fn objects(&self, req: &Req, kind: &ObjectType) -> Reply {
        let write = req.method == "POST";
        let scope = format!(
            "crm.objects.{}.{}",
            kind.name,
            if write { "write" } else { "read" }
        );
        if let Some(refusal) = self.require(&scope) {
            return refusal;
        }
        let records = (kind.records)();
        let asked = req.query("properties");
        if req.matches(&format!("/crm/v3/objects/{}", kind.name)) {
            if write {
                return create(req, kind);
            }
            // Paging: `after` from the previous page's `paging.next.after`:
            // https://developers.hubspot.com/docs/api/crm/understanding-the-crm#paging
            let start = if req.query("after") == Some(kind.page_2) {
                2
            } else {
                0
            };
            let results: Vec<Value> = records
                .iter()
                .skip(start)
                .take(2)
                .map(|r| shaped(kind, r, asked))
                .collect();
            let mut body = json!({ "results": results });
            if start == 0 {
                body["paging"] = json!({"next": {"after": kind.page_2,
                    "link": format!("https://api.hubapi.com/crm/v3/objects/{}?after={}", kind.name, kind.page_2)}});
            }
            return ok(body);
        }
        let id = req.segment(5);
        match records.iter().find(|r| r["id"] == id.as_str()) {
            Some(record) if req.method == "GET" => ok(shaped(kind, record, asked)),
            _ => error(404, "OBJECT_NOT_FOUND", "resource not found"),
        }
    }
}

/// https://developers.hubspot.com/docs/api/crm/contacts (create): a JSON body
/// `{"properties": {…}}` of existing properties.
fn create(req: &Req, kind: &ObjectType) -> Reply {
    let Some(body) = req.json() else {
        return error(
            415,
            "VALIDATION_ERROR",
            "Unsupported Media Type: the body must be application/json",
        );
    };
    let Some(properties) = body["properties"].as_object() else {
        return error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1, column 2: Cannot build SimplePublicObjectInputForCreate, some of required attributes are not set [properties]");
    };
    if let Some(unknown) = properties
        .keys()
        .find(|k| !kind.known.contains(&k.as_str()))
    {
        return error(400, "VALIDATION_ERROR", &format!("Property values were not valid: [{{\"isValid\":false,\"message\":\"Property \\\"{unknown}\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"{unknown}\"}}]"));
    }
    status(
        201,
        json!({"id": kind.created_id, "properties": properties, "archived": false}),
    )
}

impl Api for HubSpot {
    fn answer(&self, req: &Req) -> Reply {
        // https://developers.hubspot.com/docs/api/oauth-quickstart-guide: the access
        // token as a Bearer header.
        if req.bearer() != Some(TOKEN) {
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview");
        }
        if req.is("GET", "/account-info/v3/details") {
            return ok(
                json!({"portalId": 62515, "accountType": "STANDARD", "timeZone": "US/Eastern"}),
            );
        }
        if req.path.starts_with("/crm/v3/objects/contacts") {
            return self.objects(req, &CONTACTS);
        }
        if req.path.starts_with("/crm/v3/objects/companies") {
            return self.objects(req, &COMPANIES);
        }
        error(404, "OBJECT_NOT_FOUND", "resource not found")
    }
}
