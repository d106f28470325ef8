//! Google's Drive v3 (listing spreadsheets, the signed-in user) and Sheets v4 APIs,
//! as far as the connector uses them.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

const TOKEN: &str = "ya29.conformance0001";
const BUDGET: &str = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";
const SPREADSHEET_MIME: &str = "application/vnd.google-apps.spreadsheet";
const FILES_PAGE_2: &str = "~!!~AI9FV7Tq3conformance";
const AUTH: &str = "https://www.googleapis.com/auth/";

pub fn spec() -> Spec {
    Spec {
        key: "google-sheets",
        api: |scopes: &Scopes| {
            Arc::new(Google {
                scopes: scopes.clone(),
            })
        },
        credentials: json!({"access_token": TOKEN, "refresh_token": "1//r", "expires_in": 3599, "token_type": "Bearer"}),
        wrong_credentials: json!({"access_token": "ya29.expired", "token_type": "Bearer"}),
        collections: vec![
            // A document and a trashed spreadsheet are in Drive too; neither is listed.
            Collection::new(
                "spreadsheets",
                vec![
                    vec![
                        (BUDGET, "Budget 2024"),
                        ("1RoadmapSheetConformance", "Roadmap"),
                    ],
                    vec![("1HiringSheetConformance", "Hiring plan")],
                ],
                (BUDGET, "Budget 2024"),
            )
            .create(json!({"title": "Q3 plan"}), "1NewConformanceSheet"),
            // A spreadsheet's tabs come in its one GET: no paging.
            Collection::new(
                "sheets",
                vec![vec![("0", "Sheet1"), ("1729", "Data")]],
                ("1729", "Data"),
            )
            .parameters(json!({ "spreadsheetId": BUDGET }))
            .create(json!({"title": "Summary"}), "2037153442"),
        ],
    }
}

struct Google {
    scopes: Scopes,
}

/// https://cloud.google.com/apis/design/errors: `{"error": {code, message, status}}`.
fn error(code: u16, message: &str, state: &str) -> Reply {
    status(
        code,
        json!({"error": {"code": code, "message": message, "status": state}}),
    )
}

/// A partial-response field mask (`fields=a,b(c,d)`, `a.b`, `a/b`):
/// https://developers.google.com/drive/api/guides/fields-parameter. An empty mask
/// keeps everything below it.
#[derive(Default, Debug)]
struct Mask(Vec<(String, Mask)>);

impl Mask {
    fn parse(text: &str) -> Mask {
        let mut items = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&text[start..]);
        let mut mask = Mask::default();
        for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
            let split = item.find(['(', '/', '.']);
            let (name, sub) = match split {
                Some(at) if item[at..].starts_with('(') => (
                    &item[..at],
                    Mask::parse(item[at + 1..].trim_end().strip_suffix(')').unwrap_or("")),
                ),
                Some(at) => (&item[..at], Mask::parse(&item[at + 1..])),
                None => (item, Mask::default()),
            };
            mask.0.push((name.trim().to_owned(), sub));
        }
        mask
    }

    fn apply(&self, value: &Value) -> Value {
        if self.0.is_empty() {
            return value.clone();
        }
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|i| self.apply(i)).collect()),
            Value::Object(object) => {
                let mut out = Map::new();
                for (name, sub) in &self.0 {
                    if let Some(inner) = object.get(name) {
                        let masked = sub.apply(inner);
                        match (out.get_mut(name), masked) {
                            (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
                            (_, masked) => {
                                out.insert(name.clone(), masked);
                            }
                        }
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// Everything in the user's Drive: a document and a trashed spreadsheet among the
/// spreadsheets.
fn files() -> Vec<Value> {
    let file = |id: &str, name: &str, mime: &str, trashed: bool| {
        json!({"kind": "drive#file", "id": id, "name": name, "mimeType": mime, "trashed": trashed,
            "webViewLink": format!("https://docs.google.com/spreadsheets/d/{id}/edit"),
            "createdTime": "2024-01-02T03:04:05.000Z", "modifiedTime": "2024-01-03T03:04:05.000Z"})
    };
    vec![
        file(BUDGET, "Budget 2024", SPREADSHEET_MIME, false),
        file(
            "1NotesDocConformance",
            "Notes",
            "application/vnd.google-apps.document",
            false,
        ),
        file(
            "1OldBudgetConformance",
            "Old budget",
            SPREADSHEET_MIME,
            true,
        ),
        file(
            "1RoadmapSheetConformance",
            "Roadmap",
            SPREADSHEET_MIME,
            false,
        ),
        file(
            "1HiringSheetConformance",
            "Hiring plan",
            SPREADSHEET_MIME,
            false,
        ),
    ]
}

fn spreadsheet() -> Value {
    let tab = |id: u64, title: &str, index: u64| {
        json!({"properties": {"sheetId": id, "title": title, "index": index, "sheetType": "GRID",
            "gridProperties": {"rowCount": 1000, "columnCount": 26}}})
    };
    json!({"spreadsheetId": BUDGET, "properties": {"title": "Budget 2024", "locale": "en_US", "timeZone": "Etc/GMT"},
        "sheets": [tab(0, "Sheet1", 0), tab(1729, "Data", 1)],
        "spreadsheetUrl": format!("https://docs.google.com/spreadsheets/d/{BUDGET}/edit")})
}

/// The JSON keys a Sheets request may carry; Google refuses others ("Invalid JSON
/// payload received. Unknown name …"): https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets#Spreadsheet
fn unknown_key<'a>(object: &'a Value, known: &[&str]) -> Option<&'a str> {
    object
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .map(String::as_str)
        .find(|k| !known.contains(k))
}

impl Google {
    /// Each method's "Authorization scopes" (any one of them will do).
    fn require(&self, any_of: &[&str]) -> Option<Reply> {
        (!any_of.iter().any(|s| self.scopes.contains(&format!("{AUTH}{s}")))).then(|| {
            status(403, json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com"}]}}))
        })
    }

    /// https://developers.google.com/drive/api/reference/rest/v3/files/list: `q`
    /// filters (trashed files are listed unless `trashed = false`), `pageSize` 1 to
    /// 1000, `pageToken` = the previous `nextPageToken`; `fields` trims the response,
    /// so a mask without `nextPageToken` drops it.
    fn list_files(&self, req: &Req) -> Reply {
        let q: String = req
            .query("q")
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut listed = files();
        if q.contains(&format!("mimeType='{SPREADSHEET_MIME}'")) {
            listed.retain(|f| f["mimeType"] == SPREADSHEET_MIME);
        }
        if q.contains("trashed=false") {
            listed.retain(|f| f["trashed"] == false);
        }
        if req
            .query("pageSize")
            .and_then(|s| s.parse::<usize>().ok())
            .is_some_and(|n| !(1..=1000).contains(&n))
        {
            return error(400, "Invalid value for pageSize", "INVALID_ARGUMENT");
        }
        let start = match req.query("pageToken") {
            None => 0,
            Some(FILES_PAGE_2) => 2,
            Some(_) => return error(400, "Invalid Value", "INVALID_ARGUMENT"),
        };
        let page: Vec<Value> = listed.iter().skip(start).take(2).cloned().collect();
        let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": page});
        if start + 2 < listed.len() {
            body["nextPageToken"] = json!(FILES_PAGE_2);
        }
        let mask = Mask::parse(
            req.query("fields")
                .unwrap_or("kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)"),
        );
        ok(mask.apply(&body))
    }

    /// https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/batchUpdate
    /// with https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/request#addsheetrequest
    fn batch_update(&self, body: &Value) -> Reply {
        let Some(requests) = body["requests"].as_array().filter(|r| !r.is_empty()) else {
            return error(
                400,
                "Must specify at least one request.",
                "INVALID_ARGUMENT",
            );
        };
        let mut replies = Vec::new();
        for (i, request) in requests.iter().enumerate() {
            let Some(add) = request.get("addSheet") else {
                return error(
                    400,
                    &format!("Invalid requests[{i}]: this mock reads addSheet only"),
                    "INVALID_ARGUMENT",
                );
            };
            let properties = &add["properties"];
            if let Some(name) = unknown_key(
                properties,
                &[
                    "sheetId",
                    "title",
                    "index",
                    "sheetType",
                    "gridProperties",
                    "hidden",
                    "tabColor",
                    "tabColorStyle",
                    "rightToLeft",
                ],
            ) {
                return error(400, &format!("Invalid JSON payload received. Unknown name \"{name}\" at 'requests[{i}].add_sheet.properties': Cannot find field."), "INVALID_ARGUMENT");
            }
            let title = properties["title"].as_str().unwrap_or("Sheet3");
            if spreadsheet()["sheets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["properties"]["title"] == title)
            {
                return error(400, &format!("Invalid requests[{i}].addSheet: A sheet with the name \"{title}\" already exists. Please enter another name."), "INVALID_ARGUMENT");
            }
            replies.push(
                json!({"addSheet": {"properties": {"sheetId": 2037153442u64, "title": title,
                "index": properties["index"].as_u64().unwrap_or(2), "sheetType": "GRID",
                "gridProperties": {"rowCount": 1000, "columnCount": 26}}}}),
            );
        }
        ok(json!({"spreadsheetId": BUDGET, "replies": replies}))
    }

    /// https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/create
    fn create(&self, body: &Value) -> Reply {
        if let Some(name) = unknown_key(
            body,
            &[
                "spreadsheetId",
                "properties",
                "sheets",
                "namedRanges",
                "spreadsheetUrl",
                "developerMetadata",
                "dataSources",
            ],
        ) {
            return error(
                400,
                &format!(
                    "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
                ),
                "INVALID_ARGUMENT",
            );
        }
        if let Some(name) = unknown_key(
            &body["properties"],
            &[
                "title",
                "locale",
                "autoRecalc",
                "timeZone",
                "defaultFormat",
                "iterativeCalculationSettings",
                "spreadsheetTheme",
            ],
        ) {
            return error(400, &format!("Invalid JSON payload received. Unknown name \"{name}\" at 'spreadsheet.properties': Cannot find field."), "INVALID_ARGUMENT");
        }
        let title = body["properties"]["title"]
            .as_str()
            .unwrap_or("Untitled spreadsheet");
        ok(
            json!({"spreadsheetId": "1NewConformanceSheet", "properties": {"title": title},
            "sheets": [{"properties": {"sheetId": 0, "title": "Sheet1", "index": 0}}],
            "spreadsheetUrl": "https://docs.google.com/spreadsheets/d/1NewConformanceSheet/edit"}),
        )
    }
}

impl Api for Google {
    fn answer(&self, req: &Req) -> Reply {
        // https://developers.google.com/identity/protocols/oauth2/web-server#callinganapi:
        // the access token as a Bearer header.
        if req.bearer() != Some(TOKEN) {
            return error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "UNAUTHENTICATED");
        }
        // JSON request bodies: https://developers.google.com/sheets/api/guides/concepts
        let body = if req.method == "POST" {
            match req.json() {
                Some(body) => body,
                None => return error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"),
            }
        } else {
            Value::Null
        };
        let drive_read = [
            "drive",
            "drive.readonly",
            "drive.file",
            "drive.metadata",
            "drive.metadata.readonly",
            "drive.appdata",
        ];
        let sheets_read = [
            "spreadsheets",
            "spreadsheets.readonly",
            "drive",
            "drive.readonly",
            "drive.file",
        ];
        let sheets_write = ["spreadsheets", "drive", "drive.file"];
        if req.is("GET", "/drive/v3/about") {
            if let Some(refusal) = self.require(&drive_read) {
                return refusal;
            }
            // https://developers.google.com/drive/api/guides/fields-parameter: "For all
            // methods of the about […] resources, you must set the fields parameter."
            let Some(fields) = req.query("fields") else {
                return error(
                    400,
                    "The 'fields' parameter is required for this method.",
                    "INVALID_ARGUMENT",
                );
            };
            let about = json!({"kind": "drive#about", "user": {"kind": "drive#user", "displayName": "Ada",
                "emailAddress": "ada@example.com", "permissionId": "0123"}, "storageQuota": {"limit": "16106127360"}});
            return ok(Mask::parse(fields).apply(&about));
        }
        if req.is("GET", "/drive/v3/files") {
            if let Some(refusal) = self.require(&drive_read) {
                return refusal;
            }
            return self.list_files(req);
        }
        if req.is("POST", "/v4/spreadsheets") {
            if let Some(refusal) = self.require(&sheets_write) {
                return refusal;
            }
            return self.create(&body);
        }
        if req.matches("/v4/spreadsheets/*") {
            let target = req.segment(3);
            let (id, batch) = match target.strip_suffix(":batchUpdate") {
                Some(id) => (id.to_owned(), true),
                None => (target.clone(), false),
            };
            if id != BUDGET {
                return error(404, "Requested entity was not found.", "NOT_FOUND");
            }
            if batch && req.method == "POST" {
                if let Some(refusal) = self.require(&sheets_write) {
                    return refusal;
                }
                return self.batch_update(&body);
            }
            if !batch && req.method == "GET" {
                if let Some(refusal) = self.require(&sheets_read) {
                    return refusal;
                }
                // https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/get
                return ok(match req.query("fields") {
                    Some(fields) => Mask::parse(fields).apply(&spreadsheet()),
                    None => spreadsheet(),
                });
            }
        }
        error(404, "Not Found", "NOT_FOUND")
    }
}
