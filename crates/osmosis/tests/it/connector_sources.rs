//! Connector sources and versions, as Membrane's CLI uses them: a source folder
//! uploaded as a zip becomes the connector's definition, versions are published
//! once, one file of the development source changes at a time, and a connector
//! made as JSON downloads a source that rebuilds it. Admins of the workspace
//! only; hostile zips and paths change nothing.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::common::*;

/// The files of a shipped connector's folder, read from disk: `(path relative
/// to the folder, contents)`.
fn shipped_files(key: &str) -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../connectors/shipped")
        .join(key);
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().unwrap().to_string();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        out.insert(name, body);
    }
    out
}

async fn upload(s: &Server, token: &str, selector: &str, zip: &[u8]) -> (u16, Value) {
    let (ct, body) = multipart(&[("file", Some("file.zip"), zip)]);
    send(
        s,
        "POST",
        &format!("/connectors/{selector}/upload"),
        token,
        &ct,
        body,
    )
    .await
}

async fn publish(
    s: &Server,
    token: &str,
    selector: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (u16, Value) {
    let (ct, body) = multipart(parts);
    let path = format!("/connectors/{selector}/publish-version");
    send(s, "POST", &path, token, &ct, body).await
}

async fn put_file(s: &Server, token: &str, selector: &str, path: &str, text: &str) -> (u16, Value) {
    let url = format!("/connectors/{selector}/files/{path}");
    send(
        s,
        "PUT",
        &url,
        token,
        "text/plain",
        text.as_bytes().to_vec(),
    )
    .await
}

/// `GET /connectors/{selector}/download{query}`: the status, content type and bytes.
async fn download(s: &Server, token: &str, selector: &str, query: &str) -> (u16, String, Vec<u8>) {
    let resp = s
        .http
        .get(format!("{}/connectors/{selector}/download{query}", s.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

/// The shipped connector's definition as the catalog assembles it.
fn shipped_definition(key: &str) -> Value {
    osmosis_connectors::catalog::shipped()
        .unwrap()
        .into_iter()
        .find(|d| d["key"] == key)
        .unwrap()
}

/// A connector's definition: its export properties (every definition field,
/// where a response shows the SDK's).
async fn definition(s: &Server, selector: &str) -> Value {
    let (status, v) = s
        .get(&format!("/connectors/{selector}/export"), &s.admin())
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// A definition without what identifies its element.
fn definition_part(definition: &Value) -> Value {
    let mut m = definition.as_object().unwrap().clone();
    for f in ["uuid", "key"] {
        m.remove(f);
    }
    Value::Object(m)
}

#[tokio::test]
async fn connector_sources_upload_publish_download_and_edit_files() {
    let s = Server::start().await;
    let admin = s.admin();
    let created = s
        .create(
            "connectors",
            json!({"key": "my-linear", "name": "Placeholder"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();

    // The linear folder, inside a top folder as `zip -r linear.zip linear` makes it.
    let files: Vec<(String, Vec<u8>)> = shipped_files("linear")
        .into_iter()
        .map(|(p, b)| (format!("linear/{p}"), b))
        .collect();
    let zip = zip_of(&files);
    let (status, connector) = upload(&s, &admin, "my-linear", &zip).await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["id"], id);
    assert_eq!(connector["uuid"], created["uuid"]);
    assert_eq!(connector["key"], "my-linear");
    // The connector's definition (its export properties hold it whole; a
    // response shows only the SDK's fields) is the folder's.
    let def = shipped_definition("linear");
    let exported = definition(&s, &id).await;
    for (field, value) in def.as_object().unwrap() {
        if field != "key" {
            assert_eq!(&exported[field], value, "field {field}");
        }
    }
    assert_eq!(connector["name"], "Linear");

    // The development source is the zip uploaded.
    let (status, ct, dev) = download(&s, &admin, &id, "").await;
    assert_eq!((status, ct.as_str()), (200, "application/zip"));
    assert_eq!(dev, zip);
    assert_eq!(
        download(&s, &admin, &id, "?version=development").await.2,
        zip
    );

    // Publish 1.0.0 from it, once.
    let (status, v1) = publish(
        &s,
        &admin,
        "my-linear",
        &[("version", None, b"1.0.0"), ("changelog", None, b"First")],
    )
    .await;
    assert_eq!(status, 200, "{v1}");
    assert_eq!(v1["version"], "1.0.0");
    assert_eq!(v1["connectorId"], id);
    assert_eq!(v1["changelog"], "First");
    assert!(v1["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(v1["createdAt"].as_str().is_some());
    let again = publish(&s, &admin, &id, &[("version", None, b"1.0.0")]).await;
    assert_error(&again, 409, "bad_request", "already_exists");
    let (status, versions) = s.get(&format!("/connectors/{id}/versions"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(versions, json!([v1]));
    let (status, _, published) = download(&s, &admin, &id, "?version=1.0.0").await;
    assert_eq!(status, 200);
    assert_eq!(published, zip);
    let missing = s
        .get(&format!("/connectors/{id}/download?version=9.9.9"), &admin)
        .await;
    assert_error(&missing, 404, "bad_request", "not_found");

    // One file changed: the definition and the development source follow, 1.0.0 does not.
    let main = String::from_utf8(
        shipped_files("linear")
            .into_iter()
            .find(|(p, _)| p == "linear.yaml")
            .unwrap()
            .1,
    )
    .unwrap();
    let renamed = main.replacen("name: Linear", "name: Linear (edited)", 1);
    assert_ne!(renamed, main);
    let (status, connector) = put_file(&s, &admin, &id, "linear.yaml", &renamed).await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["name"], "Linear (edited)");
    assert_eq!(connector["key"], "my-linear");
    let dev = unzip(&download(&s, &admin, &id, "").await.2);
    assert_eq!(dev["linear.yaml"], renamed.as_bytes());
    assert_eq!(dev.len(), files.len());
    assert_eq!(download(&s, &admin, &id, "?version=1.0.0").await.2, zip);

    // A new file of a nested folder, then deleted again.
    let (status, connector) =
        put_file(&s, &admin, &id, "data/labels/spec.yml", "name: Labels\n").await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["dataCollectionsCount"], 3);
    assert_eq!(
        definition(&s, &id).await["data"]["labels"]["name"],
        "Labels"
    );
    let url = format!("/connectors/{id}/files/data/labels/spec.yml");
    let (status, connector) = s.call("DELETE", &url, Some(&admin), None).await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["dataCollectionsCount"], 2);
    assert!(definition(&s, &id).await["data"].get("labels").is_none());
    // The test function's file deleted: the connector has no test any more.
    assert_eq!(connector["hasTest"], true);
    let url = format!("/connectors/{id}/files/test.rest.yml");
    let (status, connector) = s.call("DELETE", &url, Some(&admin), None).await;
    assert_eq!(status, 200, "{connector}");
    assert_eq!(connector["hasTest"], false, "{connector}");
    assert!(definition(&s, &id).await.get("test").is_none());
    assert!(!unzip(&download(&s, &admin, &id, "").await.2).contains_key("test.rest.yml"));
    let gone = s.call("DELETE", &url, Some(&admin), None).await;
    assert_error(&gone, 404, "bad_request", "not_found");

    // Publishing by JSON takes the development source as it is now; newest first.
    let (status, v2) = s
        .post(
            &format!("/connectors/{id}/publish-version"),
            &admin,
            json!({"version": "1.1.0", "changelog": "Edited"}),
        )
        .await;
    assert_eq!(status, 200, "{v2}");
    let (_, versions) = s.get(&format!("/connectors/{id}/versions"), &admin).await;
    let names: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1.1.0", "1.0.0"]);
    let v2_files = unzip(&download(&s, &admin, &id, "?version=1.1.0").await.2);
    assert_eq!(v2_files["linear.yaml"], renamed.as_bytes());
    // With a file of its own: that zip, not the development source.
    let demo: Vec<(String, Vec<u8>)> = shipped_files("demo-app");
    let demo_zip = zip_of(&demo);
    let (status, v3) = publish(
        &s,
        &admin,
        &id,
        &[
            ("file", Some("file.zip"), &demo_zip),
            ("version", None, b"2.0.0"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v3}");
    assert!(v3.get("changelog").is_none());
    assert_eq!(
        download(&s, &admin, &id, "?version=2.0.0").await.2,
        demo_zip
    );
    let (_, still) = s.get(&format!("/connectors/{id}"), &admin).await;
    assert_eq!(still["name"], "Linear (edited)");

    // The export's view: development first, then versions in release order.
    let ws = s.workspace_id().await;
    let sources = s.engine.connector_sources(&ws, &id).await.unwrap();
    let names: Vec<&str> = sources.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(names, ["development", "1.0.0", "1.1.0", "2.0.0"]);
    assert_eq!(sources[1].1, zip);
    s.finish().await;
}

#[tokio::test]
async fn connector_sources_of_a_json_connector_rebuild_it_elsewhere() {
    let s = Server::start().await;
    let admin = s.admin();
    let mut body = oauth2_connector("https://api.example.com");
    body["key"] = json!("json-made");
    body["description"] = json!("Made as JSON");
    body["data"] = json!({"contacts": {"name": "Contacts", "methods": {
        "list": {"type": "rest-api-mapping", "mapping": {"path": "/contacts", "method": "GET"}}
    }}});
    body["parametersSchema"] =
        json!({"type": "object", "properties": {"region": {"type": "string", "default": "yes"}}});
    let made = s.create("connectors", body).await;

    let (status, ct, zip) = download(&s, &admin, "json-made", "").await;
    assert_eq!((status, ct.as_str()), (200, "application/zip"));
    let files = unzip(&zip);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["json-made.yaml"]);

    let other = s
        .create("connectors", json!({"key": "copy", "name": "Copy"}))
        .await;
    let (status, copy) = upload(&s, &admin, "copy", &zip).await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["id"], other["id"]);
    assert_eq!(copy["key"], "copy");
    assert_eq!(copy["name"], made["name"]);
    let original = definition(&s, "json-made").await;
    assert!(original["data"]["contacts"].is_object(), "{original}");
    assert_eq!(
        definition_part(&definition(&s, "copy").await),
        definition_part(&original)
    );
    // The built source is one file: a collection it holds inline is not also
    // a folder's, and a new one is.
    let url = "/connectors/json-made/files/data/contacts/spec.yml";
    let twice = send(
        &s,
        "PUT",
        url,
        &admin,
        "text/plain",
        b"name: People\n".to_vec(),
    )
    .await;
    assert_error(&twice, 400, "bad_request", "invalid_field");
    assert!(
        twice.1["message"]
            .as_str()
            .unwrap()
            .contains("defined twice"),
        "{}",
        twice.1
    );
    let url = "/connectors/json-made/files/data/deals/spec.yml";
    let (status, _) = send(
        &s,
        "PUT",
        url,
        &admin,
        "text/plain",
        b"name: Deals\n".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    let changed = definition(&s, "json-made").await;
    assert_eq!(changed["data"]["deals"]["name"], "Deals");
    assert_eq!(changed["data"]["contacts"], original["data"]["contacts"]);
    assert_eq!(changed["description"], "Made as JSON");
    s.finish().await;
}

#[tokio::test]
async fn connector_sources_are_for_the_workspace_admins_only() {
    let s = Server::start().await;
    let admin = s.admin();
    let c = s
        .create("connectors", json!({"key": "crm", "name": "CRM"}))
        .await;
    let id = c["id"].as_str().unwrap().to_owned();
    let zip = zip_of(&[("crm.yaml".into(), b"name: CRM 2\n".to_vec())]);
    let (status, up) = upload(&s, &admin, &id, &zip).await;
    assert_eq!(status, 200, "{up}");

    let customer = s.customer("alice");
    let other = s.other_workspace_admin().await;
    for (token, status, key) in [
        (&customer, 403, "access_denied"),
        (&other, 404, "not_found"),
    ] {
        assert_error(
            &upload(&s, token, &id, &zip).await,
            status,
            "bad_request",
            key,
        );
        let (st, _, bytes) = download(&s, token, &id, "").await;
        assert_eq!(st, status, "{}", String::from_utf8_lossy(&bytes));
        assert_error(
            &s.get(&format!("/connectors/{id}/versions"), token).await,
            status,
            "bad_request",
            key,
        );
        assert_error(
            &publish(&s, token, &id, &[("version", None, b"1.0.0")]).await,
            status,
            "bad_request",
            key,
        );
        assert_error(
            &put_file(&s, token, &id, "crm.yaml", "name: X\n").await,
            status,
            "bad_request",
            key,
        );
        let url = format!("/connectors/{id}/files/crm.yaml");
        assert_error(
            &s.call("DELETE", &url, Some(token), None).await,
            status,
            "bad_request",
            key,
        );
    }
    // Nothing changed.
    let (_, versions) = s.get(&format!("/connectors/{id}/versions"), &admin).await;
    assert_eq!(versions, json!([]));
    assert_eq!(download(&s, &admin, &id, "").await.2, zip);

    // An archived connector's source is read, not written.
    let (status, _) = s
        .call("DELETE", &format!("/connectors/{id}"), Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    assert_error(
        &upload(&s, &admin, &id, &zip).await,
        410,
        "bad_request",
        "gone",
    );
    assert_error(
        &publish(&s, &admin, &id, &[("version", None, b"1.0.0")]).await,
        410,
        "bad_request",
        "gone",
    );
    assert_error(
        &put_file(&s, &admin, &id, "crm.yaml", "name: X\n").await,
        410,
        "bad_request",
        "gone",
    );
    let url = format!("/connectors/{id}/files/crm.yaml");
    assert_error(
        &s.call("DELETE", &url, Some(&admin), None).await,
        410,
        "bad_request",
        "gone",
    );
    assert_eq!(download(&s, &admin, &id, "").await.2, zip);
    let (status, _) = s.get(&format!("/connectors/{id}/versions"), &admin).await;
    assert_eq!(status, 200);
    s.finish().await;
}

#[tokio::test]
async fn connector_sources_refuse_hostile_input_and_change_nothing() {
    let s = Server::start().await;
    let admin = s.admin();
    let c = s
        .create(
            "connectors",
            json!({"key": "crm", "name": "CRM", "description": "Kept"}),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_owned();
    let (_, _, before) = download(&s, &admin, &id, "").await;

    let refused = |resp: &(u16, Value), needle: &str| {
        assert_error(resp, 400, "bad_request", "invalid_field");
        let msg = resp.1["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg} should say {needle}");
    };
    refused(
        &upload(&s, &admin, &id, b"this is not a zip").await,
        "not a zip",
    );
    let escaping = zip_of(&[
        ("crm.yaml".into(), b"name: Evil\n".to_vec()),
        ("../outside.js".into(), b"x".to_vec()),
    ]);
    refused(&upload(&s, &admin, &id, &escaping).await, "unsafe path");
    let absolute = zip_of(&[("/etc/crm.yaml".into(), b"name: Evil\n".to_vec())]);
    refused(&upload(&s, &admin, &id, &absolute).await, "unsafe path");
    // Small on the wire, past 20 MB inflated.
    let bomb = zip_of(&[
        ("crm.yaml".into(), b"name: Evil\n".to_vec()),
        ("big.js".into(), vec![b' '; 21 * 1024 * 1024]),
    ]);
    assert!(bomb.len() < 1024 * 1024);
    refused(&upload(&s, &admin, &id, &bomb).await, "inflates past");
    // Files that do not make a connector: no connector file, broken YAML.
    let no_main = zip_of(&[("data/x/spec.yml".into(), b"name: X\n".to_vec())]);
    refused(&upload(&s, &admin, &id, &no_main).await, "crm.yaml");
    let broken = zip_of(&[
        ("crm.yaml".into(), b"name: CRM\n".to_vec()),
        ("data/x/spec.yml".into(), b"name: [unclosed\n".to_vec()),
    ]);
    refused(&upload(&s, &admin, &id, &broken).await, "spec.yml");
    // A source that assembles but that the connector refuses (an unknown
    // status): the development source stored first is put back.
    let refused_field = zip_of(&[(
        "crm.yaml".into(),
        b"name: CRM 3\nstatus: nonsense\n".to_vec(),
    )]);
    let resp = upload(&s, &admin, &id, &refused_field).await;
    assert_error(&resp, 400, "bad_request", "invalid_field");
    assert_eq!(resp.1["data"]["field"], "status", "{}", resp.1);
    assert_eq!(download(&s, &admin, &id, "").await.2, before);
    let (ct, body) = multipart(&[("other", None, b"x")]);
    refused(
        &send(
            &s,
            "POST",
            &format!("/connectors/{id}/upload"),
            &admin,
            &ct,
            body,
        )
        .await,
        "file",
    );

    // File paths out of the folder.
    for path in ["data%2F..%2F..%2Fx.yml", "%2Fetc%2Fpasswd", "a%5Cb.yml"] {
        let resp = put_file(&s, &admin, &id, path, "name: X\n").await;
        assert_error(&resp, 400, "bad_request", "invalid_field");
    }
    let long = "a".repeat(501);
    assert_error(
        &put_file(&s, &admin, &id, &long, "x").await,
        400,
        "bad_request",
        "invalid_field",
    );
    // A file that breaks the connector.
    let resp = put_file(&s, &admin, &id, "crm.yaml", "name: [unclosed\n").await;
    refused(&resp, "crm.yaml");

    // Bad versions.
    for version in ["", "development", "1/2", "a b"] {
        let resp = publish(&s, &admin, &id, &[("version", None, version.as_bytes())]).await;
        assert_error(&resp, 400, "bad_request", "invalid_field");
    }

    let (_, after) = s.get(&format!("/connectors/{id}"), &admin).await;
    assert_eq!(after["revision"], c["revision"]);
    assert_eq!(after["name"], "CRM");
    assert_eq!(download(&s, &admin, &id, "").await.2, before);
    let (_, versions) = s.get(&format!("/connectors/{id}/versions"), &admin).await;
    assert_eq!(versions, json!([]));
    s.finish().await;
}

/// The sub-routes sit beside the generic element routes of connectors.
#[tokio::test]
async fn connector_sources_leave_the_element_routes_alone() {
    let s = Server::start().await;
    let admin = s.admin();
    let c = s
        .create("connectors", json!({"key": "crm", "name": "CRM"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let (status, got) = s.get("/connectors/crm", &admin).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(id)));
    let (status, _) = s
        .call("DELETE", &format!("/connectors/{id}"), Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    let (status, restored) = s
        .post(&format!("/connectors/{id}/restore"), &admin, json!({}))
        .await;
    assert_eq!(status, 200, "{restored}");
    let (status, _) = s.get(&format!("/connectors/{id}/export"), &admin).await;
    assert_eq!(status, 200);
    s.finish().await;
}
