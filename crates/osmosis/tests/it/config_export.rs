//! Workspace export (issue "config as code"): `GET /export` as a background job,
//! the zip in Membrane's layout with references by uuid, secrets and
//! connection-level elements left out, tenancy of the job and its download, the
//! per-element `/export` route, and `osmosis export` giving the same files.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// What a file that is not text (a connector's `src.zip`) reads as in
/// [`unzip`]'s map: this prefix, then its bytes in base64.
pub(crate) const BINARY: &str = "\u{0}base64:";

/// The zip's files by path; text as is, other files as [`BINARY`].
pub(crate) fn unzip(bytes: &[u8]) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut body = Vec::new();
        f.read_to_end(&mut body).unwrap();
        let name = f.name().expect("a UTF-8 name").into_owned();
        let body = String::from_utf8(body).unwrap_or_else(|e| {
            format!(
                "{BINARY}{}",
                base64::engine::general_purpose::STANDARD.encode(e.into_bytes())
            )
        });
        files.insert(name, body);
    }
    files
}

pub(crate) fn yaml(body: &str) -> Value {
    serde_yaml::from_str(body).expect("YAML")
}

/// Runs due jobs (the test server has no worker of its own) and polls the job
/// until it is no longer running.
pub(crate) async fn finished(s: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        s.engine.run_due_jobs("test-worker").await;
        let (status, job) = s.get(&format!("/background-jobs/{id}"), token).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] != "running" {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the export never finished: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn download(s: &Server, token: &str, url: &str) -> (u16, Vec<u8>, String) {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let _ = s;
    (status, resp.bytes().await.unwrap().to_vec(), kind)
}

/// Exports through the API as admin: the finished job and the zip's files.
async fn export(s: &Server, query: &str) -> (Value, BTreeMap<String, String>) {
    export_as(s, &s.admin(), query).await
}

/// Exports through the API with `admin`, a token of the workspace to export.
pub(crate) async fn export_as(
    s: &Server,
    admin: &str,
    query: &str,
) -> (Value, BTreeMap<String, String>) {
    let admin = admin.to_owned();
    let (status, job) = s.get(&format!("/export{query}"), &admin).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "running", "{job}");
    let job = finished(s, &admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    let url = job["result"]["downloadUrl"]
        .as_str()
        .expect("a download URL")
        .to_owned();
    let (status, bytes, kind) = download(s, &admin, &url).await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/zip");
    (job, unzip(&bytes))
}

/// Every element type the export holds, layered, and what it must leave out.
pub(crate) struct Workspace {
    pub connector: Value,
    pub integration: Value,
    pub universal_action: Value,
    pub custom_action: Value,
    pub data_source: Value,
    pub ids: Vec<String>,
}

pub(crate) async fn workspace(s: &Server) -> Workspace {
    // No `test`: the customer's connection below is stored without calling anything.
    let mut connector = oauth2_connector("http://127.0.0.1:9");
    connector.as_object_mut().unwrap().remove("test");
    let connector = s.create("connectors", connector).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "crm", "name": "CRM", "connectorId": connector["id"],
                   "parameters": {"clientId": "the-client", "clientSecret": "s3cr3t-value"}}),
        )
        .await;
    let universal_action = s
        .create(
            "actions",
            json!({"key": "sync", "name": "Sync", "type": "run-javascript",
                                  "config": {"code": "module.exports = async () => 1"}}),
        )
        .await;
    let custom_action = s
        .create(
            "actions",
            json!({"key": "sync", "name": "Sync for CRM", "integrationId": integration["id"],
                   "parentId": universal_action["id"], "type": "run-javascript",
                   "config": {"code": "module.exports = async () => 2"}}),
        )
        .await;
    let data_source = s
        .create(
            "data-sources",
            json!({"key": "people", "name": "People", "udm": "contacts"}),
        )
        .await;
    let mapping = s
        .create(
            "field-mappings",
            json!({"key": "people-map", "name": "People map", "dataSourceId": data_source["id"],
                   "importValue": {"mail": {"$var": "$.email"}}}),
        )
        .await;
    let flow = s
        .create(
            "flows",
            json!({"key": "on-change", "name": "On change", "nodes": {}}),
        )
        .await;
    let schema = s
        .create(
            "app-data-schemas",
            json!({"key": "user", "name": "User", "schema": {"type": "object"}}),
        )
        .await;
    let event_type = s
        .create(
            "app-event-types",
            json!({"key": "signup", "name": "Signup"}),
        )
        .await;
    let table = s
        .create("data-link-tables", json!({"key": "links", "name": "Links"}))
        .await;
    let package = s
        .create(
            "packages",
            json!({"key": "starter", "name": "Starter",
                   "elements": [{"type": "flow", "id": flow["id"]}, {"type": "action", "id": universal_action["id"]}]}),
        )
        .await;
    let gone = s
        .create("actions", json!({"key": "gone", "name": "Gone"}))
        .await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/actions/{}", gone["id"].as_str().unwrap()),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // A customer's connection and its flow instance: never exported.
    let alice = s.customer("alice");
    let (status, conn) = s
        .post("/connections", &alice, json!({"integrationId": integration["id"], "name": "Alice's CRM", "credentials": {"access_token": "t"}}))
        .await;
    assert!(status == 200, "{conn}");
    let ids = [
        &connector,
        &integration,
        &universal_action,
        &custom_action,
        &data_source,
        &mapping,
        &flow,
        &schema,
        &event_type,
        &table,
        &package,
        &gone,
        &conn,
    ]
    .iter()
    .map(|e| e["id"].as_str().unwrap().to_owned())
    .collect();
    Workspace {
        connector,
        integration,
        universal_action,
        custom_action,
        data_source,
        ids,
    }
}

#[tokio::test]
async fn a_workspace_exports_to_membranes_layout_with_references_by_uuid() {
    let s = Server::start().await;
    let w = workspace(&s).await;
    let (job, files) = export(&s, "").await;
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    let connector_uuid = w.connector["uuid"].as_str().unwrap();
    assert_eq!(
        paths,
        [
            "membrane/actions/sync/spec.yaml".to_owned(),
            "membrane/app-data-schemas/user/spec.yaml".into(),
            "membrane/app-event-types/signup/spec.yaml".into(),
            format!("membrane/connectors/{connector_uuid}/{connector_uuid}.yml"),
            "membrane/data-link-tables/links/spec.yaml".into(),
            "membrane/data-sources/people/spec.yaml".into(),
            "membrane/field-mappings/people-map/spec.yaml".into(),
            "membrane/flows/on-change/spec.yaml".into(),
            "membrane/integrations/crm/actions/sync/spec.yaml".into(),
            "membrane/integrations/crm/spec.yaml".into(),
            "membrane/packages/starter/spec.yaml".into(),
        ]
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        "archived elements, customers, connections and instances are left out"
    );
    assert_eq!(job["result"]["files"], files.len());

    let integration = yaml(&files["membrane/integrations/crm/spec.yaml"]);
    assert_eq!(integration["uuid"], w.integration["uuid"]);
    assert_eq!(integration["connectorUuid"], w.connector["uuid"]);
    assert_eq!(
        integration["parameters"],
        json!({"clientId": "the-client"}),
        "no secret without asking"
    );

    let custom = yaml(&files["membrane/integrations/crm/actions/sync/spec.yaml"]);
    assert_eq!(custom["uuid"], w.custom_action["uuid"]);
    assert_eq!(custom["integrationUuid"], w.integration["uuid"]);
    assert_eq!(custom["parentUuid"], w.universal_action["uuid"]);
    assert_eq!(custom["isUniversal"], false);
    assert_eq!(custom["config"]["code"], "module.exports = async () => 2");
    let universal = yaml(&files["membrane/actions/sync/spec.yaml"]);
    assert_eq!(universal["isUniversal"], true);
    assert!(universal.get("integrationUuid").is_none(), "{universal:?}");

    let mapping = yaml(&files["membrane/field-mappings/people-map/spec.yaml"]);
    assert_eq!(mapping["dataSourceUuid"], w.data_source["uuid"]);
    let package = yaml(&files["membrane/packages/starter/spec.yaml"]);
    assert_eq!(
        package["elements"][1],
        json!({"uuid": w.universal_action["uuid"], "type": "action"})
    );

    // No id of this server anywhere: the files mean the same on any other.
    for (path, body) in &files {
        for id in &w.ids {
            assert!(
                !body.contains(id.as_str()),
                "{path} holds the id {id}:\n{body}"
            );
        }
        assert!(
            !body.contains("s3cr3t-value"),
            "{path} holds the client secret"
        );
    }

    // The same workspace gives the same files; secrets only when asked for.
    let (_, again) = export(&s, "").await;
    assert_eq!(again, files);
    let (_, with_secrets) = export(&s, "?includeSecrets=true").await;
    let integration = yaml(&with_secrets["membrane/integrations/crm/spec.yaml"]);
    assert_eq!(integration["parameters"]["clientSecret"], "s3cr3t-value");

    // One element's export properties, as its file holds them.
    let (status, one) = s
        .get(
            &format!(
                "/actions/{}/export",
                w.custom_action["id"].as_str().unwrap()
            ),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one, custom);
    let gone = w.ids[11].as_str();
    let archived = s.get(&format!("/actions/{gone}/export"), &s.admin()).await;
    assert_error(&archived, 410, "bad_request", "gone");
    // Exports are an admin's: a customer's read of an integration leaves its
    // parameters out, an export does not.
    let alice = s.customer("alice");
    let integration_id = w.integration["id"].as_str().unwrap();
    for query in ["", "?includeSecrets=true"] {
        let refused = s
            .get(
                &format!("/integrations/{integration_id}/export{query}"),
                &alice,
            )
            .await;
        assert_error(&refused, 403, "bad_request", "access_denied");
    }

    // `osmosis export` reads the same database and writes the same files: as a
    // zip, and as a folder whose `membrane/` tree it replaces whole.
    let out = tempfile::tempdir().unwrap();
    let zip_path = out.path().join("ws.zip");
    let cli = |to: &std::path::Path| {
        let to = to.to_str().unwrap().to_owned();
        let database = s.database_url.clone();
        let output = crate::cli_token::osmosis(
            &[
                "export",
                "--workspace",
                WS_KEY,
                "--database",
                &database,
                "--out",
                &to,
            ],
            &[],
        );
        assert!(
            output.status.success(),
            "{}",
            crate::cli_token::stderr(&output)
        );
        let printed: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
        assert_eq!(printed["files"], files.len());
    };
    cli(&zip_path);
    assert_eq!(unzip(&std::fs::read(&zip_path).unwrap()), files);
    let dir = out.path().join("repo");
    std::fs::create_dir_all(dir.join("membrane/actions/stale")).unwrap();
    std::fs::write(dir.join("membrane/actions/stale/spec.yaml"), "key: stale\n").unwrap();
    std::fs::write(dir.join("README.md"), "mine").unwrap();
    cli(&dir);
    let mut written = BTreeMap::new();
    let mut todo = vec![dir.join("membrane")];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                written.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    assert_eq!(written, files, "the tree is the zip's, the stale file gone");
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        "mine"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".membrane-export-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let output = crate::cli_token::osmosis(
        &[
            "export",
            "--workspace",
            "nobody",
            "--database",
            &s.database_url,
            "--out",
            zip_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        crate::cli_token::stderr(&output).contains("no workspace `nobody`"),
        "{}",
        crate::cli_token::stderr(&output)
    );
    s.finish().await;
}

#[tokio::test]
async fn only_an_admin_of_the_workspace_starts_sees_and_downloads_an_export() {
    let s = Server::start().await;
    workspace(&s).await;
    let (job, _) = export(&s, "").await;
    let id = job["id"].as_str().unwrap();
    let url = job["result"]["downloadUrl"].as_str().unwrap();

    let alice = s.customer("alice");
    assert_error(
        &s.get("/export", &alice).await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_error(
        &s.get("/export?includeSecrets=true", &alice).await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_error(
        &s.get(&format!("/background-jobs/{id}"), &alice).await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_eq!(download(&s, &alice, url).await.0, 403);

    // An admin of another workspace finds nothing.
    let other = s.other_workspace_admin().await;
    assert_error(
        &s.get(&format!("/background-jobs/{id}"), &other).await,
        404,
        "bad_request",
        "not_found",
    );
    let (status, bytes, _) = download(&s, &other, url).await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&bytes));
    // …and its own export holds none of this workspace's elements.
    let (status, theirs) = s.get("/export", &other).await;
    assert_eq!(status, 200);
    let theirs = finished(&s, &other, theirs["id"].as_str().unwrap()).await;
    let (status, bytes, _) = download(
        &s,
        &other,
        theirs["result"]["downloadUrl"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        unzip(&bytes).is_empty(),
        "another workspace's export is empty"
    );

    // Hostile ids are a plain 404 (a NUL: the router's invalid_query).
    let long = "x".repeat(10_000);
    for bad in [
        "..%2F..%2Fetc",
        "bgj_%00",
        "x'%20OR%20'1'='1",
        long.as_str(),
    ] {
        let (status, _) = s.get(&format!("/background-jobs/{bad}"), &s.admin()).await;
        assert!(status == 404 || status == 400, "{bad:.40}: {status}");
        let (status, _) = s
            .get(&format!("/background-jobs/{bad}/download"), &s.admin())
            .await;
        assert!(status == 404 || status == 400, "{bad:.40}: {status}");
    }
    // A flag of the wrong type is refused; a token in the query string is no
    // token here (only the SSE stream reads one).
    assert_error(
        &s.get("/export?includeSecrets=maybe", &s.admin()).await,
        400,
        "bad_request",
        "invalid_query",
    );
    assert_error(
        &s.call("GET", &format!("/export?token={}", s.admin()), None, None)
            .await,
        401,
        "bad_request",
        "not_authenticated",
    );
    let (status, action) = s.get("/actions", &s.admin()).await;
    assert_eq!(status, 200);
    let some_action = action["items"][0]["id"].as_str().unwrap().to_owned();
    assert_error(
        &s.get(
            &format!("/actions/{some_action}/export?includeSecrets=maybe"),
            &s.admin(),
        )
        .await,
        400,
        "bad_request",
        "invalid_query",
    );
    s.finish().await;
}

/// `osmosis serve`'s own worker runs the export: nothing but the API involved.
#[tokio::test]
async fn the_server_process_runs_an_export_to_completion() {
    let dir = tempfile::tempdir().unwrap();
    let mut server =
        crate::common::process::Running::start_in(dir.path(), crate::common::process::free_port());
    server.wait_ready().await;
    let admin = admin_token();
    let (status, action) = server
        .call(
            "POST",
            "/actions",
            &admin,
            Some(json!({"key": "hello", "name": "Hello"})),
        )
        .await;
    assert_eq!(status, 200, "{action}");
    let (status, job) = server.call("GET", "/export", &admin, None).await;
    assert_eq!(status, 200, "{job}");
    let path = format!("/background-jobs/{}", job["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let (status, job) = server.call("GET", &path, &admin, None).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] != "running" {
            break job;
        }
        assert!(Instant::now() < deadline, "never finished: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["status"], "completed", "{job}");
    let url = job["result"]["downloadUrl"].as_str().unwrap();
    assert!(url.starts_with(&server.url), "{url} is this server's");
    let bytes = reqwest::Client::new()
        .get(url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let files = unzip(&bytes);
    let hello = yaml(&files["membrane/actions/hello/spec.yaml"]);
    assert_eq!(hello["uuid"], action["uuid"]);
    server.stop();
}
