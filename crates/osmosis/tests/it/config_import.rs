//! Workspace import (issue "config as code"): `POST /import` of an export's
//! zip as a background job — a round trip onto a server on the other database
//! backend gives the same files, an import is all or nothing and names what it
//! refused, `dryRun`/`diff` write nothing, the same zip twice changes nothing,
//! absent elements are archived unless `partial` (and never when customers use
//! them, unless `force`), and only the workspace's admin imports.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::common::*;
use crate::config_export::{export_as, finished, workspace, BINARY};

/// A zip of `files` ([`unzip`]'s map: binary files as `BINARY`).
fn zip_of(files: &BTreeMap<String, String>) -> Vec<u8> {
    use base64::Engine as _;
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (path, body) in files {
        zip.start_file(path.as_str(), options).unwrap();
        let bytes = match body.strip_prefix(BINARY) {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64"),
            None => body.clone().into_bytes(),
        };
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// `POST /import{query}` of `zip` as a multipart form's `file` (as Membrane's
/// CLI sends it) with `token`: the status and the answer.
async fn post_import(s: &Server, token: &str, query: &str, zip: &[u8]) -> (u16, Value) {
    let (content_type, body) = multipart(&[("file", Some("file.zip"), zip)]);
    send(
        s,
        "POST",
        &format!("/import{query}"),
        token,
        &content_type,
        body,
    )
    .await
}

/// Imports `zip` as admin and waits for the job: the finished job.
async fn import(s: &Server, token: &str, query: &str, zip: &[u8]) -> Value {
    let (status, job) = post_import(s, token, query, zip).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["type"], "import", "{job}");
    assert_eq!(job["status"], "running", "{job}");
    finished(s, token, job["id"].as_str().unwrap()).await
}

/// Gives connector `id` a development source (its own, as downloaded) and
/// publishes it as `version`.
async fn upload_and_publish(s: &Server, id: &str, version: &str) {
    let zip = s
        .http
        .get(format!("{}/connectors/{id}/download", s.url))
        .bearer_auth(s.admin())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (content_type, body) = multipart(&[("file", Some("file.zip"), &zip)]);
    let (status, uploaded) = send(
        s,
        "POST",
        &format!("/connectors/{id}/upload"),
        &s.admin(),
        &content_type,
        body,
    )
    .await;
    assert_eq!(status, 200, "{uploaded}");
    let (status, published) = s
        .post(
            &format!("/connectors/{id}/publish-version"),
            &s.admin(),
            json!({"version": version, "changelog": "First"}),
        )
        .await;
    assert_eq!(status, 200, "{published}");
}

/// A connector source (`BINARY`, as `unzip` reads it) with a README added:
/// another valid source.
fn with_readme(source: &str) -> String {
    use base64::Engine as _;
    use std::io::{Read, Write};
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64
        .decode(source.strip_prefix(BINARY).expect("a binary file"))
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut body = Vec::new();
        f.read_to_end(&mut body).unwrap();
        out.start_file(f.name().unwrap().into_owned(), options)
            .unwrap();
        out.write_all(&body).unwrap();
    }
    out.start_file("README.md", options).unwrap();
    out.write_all(b"changed after publishing").unwrap();
    format!("{BINARY}{}", b64.encode(out.finish().unwrap().into_inner()))
}

/// The change of the report for the element at `path`.
fn change_at<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == path)
        .unwrap_or_else(|| panic!("no change for {path} in {report}"))
}

#[tokio::test]
async fn a_workspace_round_trips_through_files_onto_the_other_backend() {
    let shipped = Extras {
        shipped: true,
        ..Extras::default()
    };
    let source = Server::start_on_with(&backend(), shipped).await;
    let w = workspace(&source).await;
    // A copy that follows its parent (not customised) beside the customised one.
    let flow = source
        .create(
            "flows",
            json!({"key": "copy-me", "name": "Copy me", "nodes": {"start": {"type": "api-trigger", "name": "Start"}}}),
        )
        .await;
    source
        .create(
            "flows",
            json!({"integrationId": w.integration["id"], "parentId": flow["id"]}),
        )
        .await;
    // The custom connector's source uploaded, and published as 1.0.0.
    let connector = w.connector["id"].as_str().unwrap();
    upload_and_publish(&source, connector, "1.0.0").await;
    let (_, files) = export_as(&source, &source.admin(), "?includeSecrets=true").await;
    let connector_uuid = w.connector["uuid"].as_str().unwrap();
    for version in ["development", "1.0.0"] {
        assert!(
            files.contains_key(&format!(
                "membrane/connectors/{connector_uuid}/{version}/src.zip"
            )),
            "{version}: {:?}",
            files.keys().collect::<Vec<_>>()
        );
    }
    assert!(
        files.contains_key("membrane/integrations/crm/flows/copy-me/spec.yaml"),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );

    let target = Server::start_on_with(&other_backend(), shipped).await;
    let admin = target.admin();
    let job = import(&target, &admin, "", &zip_of(&files)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let report = &job["result"];
    assert_eq!(report["dryRun"], false);
    assert_eq!(
        change_at(report, "membrane/actions/sync/spec.yaml")["change"],
        "create"
    );
    let (_, again) = export_as(&target, &admin, "?includeSecrets=true").await;
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>()
    );
    for (path, body) in &files {
        assert_eq!(&again[path], body, "{path} differs after the round trip");
    }
    // What the API answers matches too: the copy still follows its parent.
    let (status, copy) = target
        .get("/flow?key=copy-me&integrationKey=crm", &admin)
        .await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["isCustomized"], false, "{copy}");
    assert_eq!(
        copy["integrationId"].as_str().map(|s| s.starts_with("int")),
        Some(true)
    );
    let (status, integration) = target.get("/integrations/crm", &admin).await;
    assert_eq!(status, 200, "{integration}");
    assert_eq!(integration["uuid"], w.integration["uuid"]);
    assert!(
        integration["connectorId"].as_str().is_some(),
        "{integration}"
    );

    // The same files again: nothing to change, nothing written.
    let before = target.get("/actions/sync", &admin).await.1;
    let job = import(&target, &admin, "", &zip_of(&files)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"]["changes"], json!([]), "{job}");
    assert_eq!(job["result"]["unchanged"], files.len());
    let after = target.get("/actions/sync", &admin).await.1;
    assert_eq!(before["revision"], after["revision"]);
    source.finish().await;
    target.finish().await;
}

#[tokio::test]
async fn an_import_is_all_or_nothing_and_dry_runs_write_nothing() {
    let s = Server::start().await;
    workspace(&s).await;
    let admin = s.admin();
    let (_, files) = export_as(&s, &admin, "").await;

    // One element that cannot be taken: nothing else lands either.
    let mut broken = files.clone();
    broken.insert(
        "membrane/actions/new-one/spec.yaml".into(),
        "key: new-one\nname: New one\n".into(),
    );
    let renamed =
        files["membrane/flows/on-change/spec.yaml"].replace("name: On change", "name: Renamed");
    broken.insert("membrane/flows/on-change/spec.yaml".into(), renamed.clone());
    broken.insert(
        "membrane/actions/sync/spec.yaml".into(),
        files["membrane/actions/sync/spec.yaml"].replace("type: run-javascript", "type: 5"),
    );
    let job = import(&s, &admin, "", &zip_of(&broken)).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["type"], "bad_request", "{job}");
    assert_eq!(job["error"]["key"], "import_refused", "{job}");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("membrane/actions/sync/spec.yaml"),
        "{message}"
    );
    let refused = job["error"]["data"]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{job}");
    assert_eq!(refused[0]["path"], "membrane/actions/sync/spec.yaml");
    assert_eq!(refused[0]["type"], "action");
    assert_eq!(refused[0]["error"]["data"]["field"], "type", "{job}");
    let (_, unchanged) = export_as(&s, &admin, "").await;
    assert_eq!(unchanged, files, "a refused import changed something");
    assert_error(
        &s.get("/actions/new-one", &admin).await,
        404,
        "bad_request",
        "not_found",
    );

    // A file that is not YAML is refused by its path.
    let mut garbled = files.clone();
    garbled.insert(
        "membrane/actions/bad/spec.yaml".into(),
        "key: [unclosed\n".into(),
    );
    let job = import(&s, &admin, "", &zip_of(&garbled)).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(
        job["error"]["data"]["refused"][0]["path"],
        "membrane/actions/bad/spec.yaml"
    );

    // dryRun and diff answer the changes and write nothing.
    let mut edited = files.clone();
    edited.insert("membrane/flows/on-change/spec.yaml".into(), renamed);
    edited.insert(
        "membrane/actions/new-one/spec.yaml".into(),
        "key: new-one\nname: New one\n".into(),
    );
    edited.remove("membrane/app-event-types/signup/spec.yaml");
    for query in ["?dryRun=true", "?diff=true"] {
        let job = import(&s, &admin, query, &zip_of(&edited)).await;
        assert_eq!(job["status"], "completed", "{job}");
        let report = &job["result"];
        assert_eq!(report["dryRun"], true);
        let update = change_at(report, "membrane/flows/on-change/spec.yaml");
        assert_eq!(update["change"], "update");
        assert_eq!(update["fields"], json!(["name"]), "{update}");
        if query == "?diff=true" {
            assert_eq!(
                update["diff"]["name"],
                json!({"before": "On change", "after": "Renamed"})
            );
        } else {
            assert!(update.get("diff").is_none());
        }
        assert_eq!(
            change_at(report, "membrane/actions/new-one/spec.yaml")["change"],
            "create"
        );
        let archived: Vec<&Value> = report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["change"] == "archive")
            .collect();
        assert_eq!(archived.len(), 1, "{report}");
        assert_eq!(archived[0]["key"], "signup");
        let (_, now) = export_as(&s, &admin, "").await;
        assert_eq!(now, files, "{query} wrote something");
    }

    // Applied: the rename, the new action, the archived event type.
    let job = import(&s, &admin, "", &zip_of(&edited)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.get("/flows/on-change", &admin).await.1["name"], "Renamed");
    assert_eq!(s.get("/actions/new-one", &admin).await.0, 200);
    let (status, signup) = s.get("/app-event-types/signup", &admin).await;
    assert_eq!(status, 200, "{signup}");
    assert!(signup["archivedAt"].is_string(), "{signup}");

    // The archived element comes back when the files hold it again.
    let job = import(&s, &admin, "", &zip_of(&files)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        change_at(&job["result"], "membrane/app-event-types/signup/spec.yaml")["change"],
        "restore"
    );
    let (_, restored) = export_as(&s, &admin, "").await;
    assert_eq!(restored, files);
    s.finish().await;
}

#[tokio::test]
async fn absent_elements_customers_use_are_archived_only_with_force() {
    let s = Server::start().await;
    let w = workspace(&s).await;
    let admin = s.admin();
    let (_, files) = export_as(&s, &admin, "").await;
    // Without the integration (alice has a connection to it) and its copy of
    // the action.
    let without: BTreeMap<String, String> = files
        .iter()
        .filter(|(p, _)| !p.starts_with("membrane/integrations/"))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let job = import(&s, &admin, "", &zip_of(&without)).await;
    assert_eq!(job["status"], "failed", "{job}");
    let refused = job["error"]["data"]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{job}");
    assert_eq!(refused[0]["type"], "integration");
    assert_eq!(refused[0]["key"], "crm");
    assert_eq!(refused[0]["error"]["key"], "in_use");
    assert_eq!(
        s.get("/integrations/crm", &admin).await.1["archivedAt"],
        Value::Null
    );

    // partial keeps what the files do not hold.
    let job = import(&s, &admin, "?partial=true", &zip_of(&without)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"]["changes"], json!([]));
    assert_eq!(
        s.get("/integrations/crm", &admin).await.1["archivedAt"],
        Value::Null
    );

    // force archives it, and its copy of the action.
    let job = import(&s, &admin, "?force=true", &zip_of(&without)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let integration_id = w.integration["id"].as_str().unwrap();
    let (_, integration) = s
        .get(&format!("/integrations/{integration_id}"), &admin)
        .await;
    assert!(integration["archivedAt"].is_string(), "{integration}");
    let custom = w.custom_action["id"].as_str().unwrap();
    let (_, custom) = s.get(&format!("/actions/{custom}"), &admin).await;
    assert!(custom["archivedAt"].is_string(), "{custom}");
    s.finish().await;
}

#[tokio::test]
async fn only_the_workspaces_admin_imports_and_hostile_uploads_are_refused() {
    let s = Server::start().await;
    workspace(&s).await;
    let admin = s.admin();
    let (_, files) = export_as(&s, &admin, "").await;
    let zip = zip_of(&files);

    let alice = s.customer("alice");
    assert_error(
        &post_import(&s, &alice, "", &zip).await,
        403,
        "bad_request",
        "access_denied",
    );

    // Another workspace's admin imports into its own workspace only, and does
    // not see this one's jobs.
    let other = s.other_workspace_admin().await;
    let job = import(&s, &other, "?dryRun=true", &zip).await;
    assert_eq!(job["status"], "completed", "{job}");
    let mine = post_import(&s, &admin, "?dryRun=true", &zip).await.1;
    assert_error(
        &s.get(
            &format!("/background-jobs/{}", mine["id"].as_str().unwrap()),
            &other,
        )
        .await,
        404,
        "bad_request",
        "not_found",
    );
    // An import's job has no file to download.
    let done = finished(&s, &admin, mine["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["result"].get("downloadUrl").is_none(), "{done}");
    let (status, _) = s
        .call(
            "GET",
            &format!("/background-jobs/{}/download", mine["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // A token in the query string is no token here.
    assert_error(
        &s.call("POST", &format!("/import?token={admin}"), None, None)
            .await,
        401,
        "bad_request",
        "not_authenticated",
    );
    // Not a zip; no file; a bad flag.
    assert_error(
        &post_import(&s, &admin, "", b"not a zip").await,
        400,
        "bad_request",
        "invalid_field",
    );
    let (status, body) = s.call("POST", "/import", Some(&admin), None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["data"]["field"], "file");
    assert_error(
        &post_import(&s, &admin, "?dryRun=maybe", &zip).await,
        400,
        "bad_request",
        "invalid_query",
    );

    // A zip with an entry that climbs out of its tree is refused whole, before
    // any job is made.
    for unsafe_path in [
        "../../etc/passwd",
        "membrane/../../escape/spec.yaml",
        "/etc/cron.d/x",
    ] {
        let mut hostile = files.clone();
        hostile.insert(unsafe_path.into(), "key: x\n".into());
        let refused = post_import(&s, &admin, "", &zip_of(&hostile)).await;
        assert_error(&refused, 400, "bad_request", "invalid_field");
        assert!(
            refused.1["message"]
                .as_str()
                .unwrap()
                .contains("unsafe path"),
            "{}",
            refused.1
        );
    }
    // Paths outside the layout are not elements: listed as ignored, nothing made
    // of them; a field past its limit names the file and the field.
    let mut odd = files.clone();
    odd.insert(
        "membrane/customers/c/spec.yaml".into(),
        "internalId: c".into(),
    );
    odd.insert("README.md".into(), "not in membrane/".into());
    odd.insert(
        "membrane/actions/x/spec.yaml".into(),
        format!("key: x\nname: {}\n", "n".repeat(10_000)),
    );
    let job = import(&s, &admin, "?dryRun=true", &zip_of(&odd)).await;
    assert_eq!(job["status"], "failed", "{job}");
    let refused = job["error"]["data"]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{job}");
    assert_eq!(refused[0]["path"], "membrane/actions/x/spec.yaml");
    assert_eq!(refused[0]["error"]["data"]["field"], "name", "{job}");
    odd.remove("membrane/actions/x/spec.yaml");
    let job = import(&s, &admin, "?dryRun=true", &zip_of(&odd)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["result"]["ignored"],
        json!(["membrane/customers/c/spec.yaml"])
    );
    assert_eq!(job["result"]["changes"], json!([]));
    s.finish().await;
}

#[tokio::test]
async fn connector_sources_travel_with_their_connector_and_published_ones_never_change() {
    let s = Server::start().await;
    let w = workspace(&s).await;
    let admin = s.admin();
    let connector = w.connector["id"].as_str().unwrap();
    let uuid = w.connector["uuid"].as_str().unwrap();
    upload_and_publish(&s, connector, "1.0.0").await;
    let (_, files) = export_as(&s, &admin, "").await;
    let dev = format!("membrane/connectors/{uuid}/development/src.zip");
    let v1 = format!("membrane/connectors/{uuid}/1.0.0/src.zip");
    assert!(files.contains_key(&dev) && files.contains_key(&v1));

    // The same sources: nothing to do.
    let job = import(&s, &admin, "", &zip_of(&files)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"]["changes"], json!([]), "{job}");

    // A new version is published by the import; a published one that differs,
    // a source without its connector, and a source that is no connector's are
    // refused, and then nothing is written.
    let mut newer = files.clone();
    let v2 = format!("membrane/connectors/{uuid}/2.0.0/src.zip");
    newer.insert(v2.clone(), files[&dev].clone());
    let job = import(&s, &admin, "?dryRun=true", &zip_of(&newer)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let planned = change_at(&job["result"], &v2);
    assert_eq!(planned["change"], "create");
    assert_eq!(planned["type"], "connector-version");
    assert_eq!(planned["version"], "2.0.0");

    let mut broken = newer.clone();
    let garbage = crate::config_export::BINARY.to_owned() + "bm90IGEgemlw";
    broken.insert(v1.clone(), with_readme(&files[&dev]));
    broken.insert(
        "membrane/connectors/nobody/development/src.zip".into(),
        files[&dev].clone(),
    );
    broken.insert(format!("membrane/connectors/{uuid}/3.0.0/src.zip"), garbage);
    let job = import(&s, &admin, "", &zip_of(&broken)).await;
    assert_eq!(job["status"], "failed", "{job}");
    let refused = job["error"]["data"]["refused"].as_array().unwrap();
    let by_path = |p: &str| {
        refused
            .iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("{p} not refused: {job}"))
            .clone()
    };
    assert_eq!(by_path(&v1)["error"]["key"], "already_exists");
    assert_eq!(
        by_path("membrane/connectors/nobody/development/src.zip")["error"]["data"]["field"],
        "file"
    );
    assert_eq!(
        by_path(&format!("membrane/connectors/{uuid}/3.0.0/src.zip"))["error"]["data"]["field"],
        "file"
    );
    let (_, versions) = s
        .get(&format!("/connectors/{connector}/versions"), &admin)
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");

    let job = import(&s, &admin, "", &zip_of(&newer)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let (_, versions) = s
        .get(&format!("/connectors/{connector}/versions"), &admin)
        .await;
    let names: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{versions}");
    assert!(names.contains(&"2.0.0"), "{versions}");
    let (_, again) = export_as(&s, &admin, "").await;
    assert_eq!(again, newer);
    s.finish().await;
}
