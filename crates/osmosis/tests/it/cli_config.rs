//! Config as code from the command line, with the real binary: `osmosis import`
//! taking back what `osmosis export` wrote (on the database, no server), and
//! `osmosis pull`/`osmosis push` through a running `osmosis serve`'s API,
//! configured by flags, `MEMBRANE_*` variables or `membrane.config.yml`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::{json, Value};

use crate::common::process::{command, free_port, Running};
use crate::common::*;

const MEMBRANE_VARS: [&str; 3] = [
    "MEMBRANE_API_URI",
    "MEMBRANE_WORKSPACE_KEY",
    "MEMBRANE_WORKSPACE_SECRET",
];

/// `osmosis <args>` in `dir`, stdin not a terminal, with only the given
/// `MEMBRANE_*`/`OSMOSIS_WORKSPACE_*` settings.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(args, &[]);
    cmd.env_remove("OSMOSIS_WORKSPACE_KEY")
        .env_remove("OSMOSIS_WORKSPACE_SECRET");
    for k in MEMBRANE_VARS {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("osmosis runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn ok(out: Output) -> (String, String) {
    assert!(
        out.status.success(),
        "exit {}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

#[track_caller]
fn failed(out: Output) -> (String, String) {
    assert!(
        !out.status.success(),
        "expected a failure\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// The `membrane/` tree of `dir`, by path relative to `dir`.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.join("membrane")];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_str().unwrap();
                files.insert(
                    rel.replace('\\', "/"),
                    std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
    files
}

/// Sets `field` of the YAML file at `path` to `value`.
fn edit(path: &Path, field: &str, value: serde_yaml::Value) {
    let mut spec: serde_yaml::Mapping =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    spec.insert(field.into(), value);
    std::fs::write(path, serde_yaml::to_string(&spec).unwrap()).unwrap();
}

/// Elements of several types, layered: an integration on a connector, a
/// universal action and its copy for the integration, a data source and its
/// field mapping, a flow.
async fn elements(s: &Server) {
    let mut connector = oauth2_connector("http://127.0.0.1:9");
    connector.as_object_mut().unwrap().remove("test");
    let connector = s.create("connectors", connector).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "crm", "name": "CRM", "connectorId": connector["id"],
                   "parameters": {"clientId": "the-client"}}),
        )
        .await;
    let action = s
        .create(
            "actions",
            json!({"key": "sync", "name": "Sync", "type": "run-javascript",
                   "config": {"code": "module.exports = async () => 1"}}),
        )
        .await;
    s.create(
        "actions",
        json!({"key": "sync", "name": "Sync for CRM", "integrationId": integration["id"],
               "parentId": action["id"], "type": "run-javascript",
               "config": {"code": "module.exports = async () => 2"}}),
    )
    .await;
    let data_source = s
        .create(
            "data-sources",
            json!({"key": "people", "name": "People", "udm": "contacts"}),
        )
        .await;
    s.create(
        "field-mappings",
        json!({"key": "people-map", "name": "People map", "dataSourceId": data_source["id"],
               "importValue": {"mail": {"$var": "$.email"}}}),
    )
    .await;
    s.create(
        "flows",
        json!({"key": "on-change", "name": "On change", "nodes": {}}),
    )
    .await;
}

/// `osmosis export` of `workspace` into `out`: its tree.
fn export(dir: &Path, database: &str, workspace: &str, out: &Path) -> BTreeMap<String, String> {
    ok(run_in(
        dir,
        &[
            "export",
            "--workspace",
            workspace,
            "--database",
            database,
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    tree(out)
}

fn import(dir: &Path, database: &str, workspace: &str, from: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "import",
        "--workspace",
        workspace,
        "--database",
        database,
        from.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    run_in(dir, &args, &[])
}

#[tokio::test]
async fn cli_config_import_takes_back_what_export_wrote() {
    let s = Server::start().await;
    elements(&s).await;
    s.other_workspace_admin().await;
    let db = s.database_url.clone();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    let original = export(t, &db, WS_KEY, &t.join("a"));
    assert!(original.contains_key("membrane/actions/sync/spec.yaml"));
    assert!(original.contains_key("membrane/integrations/crm/actions/sync/spec.yaml"));
    let empty = export(t, &db, "other-ws", &t.join("empty"));

    // A dry run answers the changes and writes nothing.
    let (stdout, _) = ok(import(t, &db, "other-ws", &t.join("a"), &["--dry-run"]));
    let report: Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert_eq!(report["dryRun"], true, "{report}");
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), original.len(), "{report}");
    assert!(changes.iter().all(|c| c["change"] == "create"), "{report}");
    assert_eq!(export(t, &db, "other-ws", &t.join("dry")), empty);

    // `--diff` neither.
    let (stdout, _) = ok(import(t, &db, "other-ws", &t.join("a"), &["--diff"]));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["dryRun"], true, "{report}");
    assert_eq!(export(t, &db, "other-ws", &t.join("dry")), empty);

    // The import: the other workspace exports the same files.
    let (stdout, _) = ok(import(t, &db, "other-ws", &t.join("a"), &[]));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["dryRun"], false, "{report}");
    assert_eq!(
        report["changes"].as_array().unwrap().len(),
        original.len(),
        "{report}"
    );
    assert_eq!(export(t, &db, "other-ws", &t.join("b")), original);

    // Again: nothing changes.
    let (stdout, _) = ok(import(t, &db, "other-ws", &t.join("b"), &[]));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["changes"], json!([]), "{report}");
    assert_eq!(report["unchanged"], original.len(), "{report}");

    // A zip reads as the folder does.
    let zip = t.join("ws.zip");
    ok(run_in(
        t,
        &[
            "export",
            "--workspace",
            WS_KEY,
            "--database",
            &db,
            "--out",
            zip.to_str().unwrap(),
        ],
        &[],
    ));
    let (stdout, _) = ok(import(t, &db, "other-ws", &zip, &["--dry-run"]));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["changes"], json!([]), "{report}");

    // Broken files: refused, each named, nothing written.
    let broken = t.join("b");
    edit(
        &broken.join("membrane/actions/sync/spec.yaml"),
        "type",
        serde_yaml::Value::from(5),
    );
    edit(
        &broken.join("membrane/flows/on-change/spec.yaml"),
        "name",
        "Renamed".into(),
    );
    let (_, stderr) = failed(import(t, &db, "other-ws", &broken, &[]));
    assert!(
        stderr.contains("membrane/actions/sync/spec.yaml"),
        "{stderr}"
    );
    assert_eq!(export(t, &db, "other-ws", &t.join("c")), original);
    std::fs::create_dir_all(broken.join("membrane/actions/bad")).unwrap();
    std::fs::write(
        broken.join("membrane/actions/bad/spec.yaml"),
        "key: bad\nname: [unclosed\n",
    )
    .unwrap();
    let (_, stderr) = failed(import(t, &db, "other-ws", &broken, &[]));
    assert!(
        stderr.contains("membrane/actions/bad/spec.yaml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("membrane/actions/sync/spec.yaml"),
        "{stderr}"
    );
    assert_eq!(export(t, &db, "other-ws", &t.join("c")), original);

    // No `membrane/` folder, no such workspace: said, nothing written.
    let (_, stderr) = failed(import(t, &db, "other-ws", &t.join("nowhere"), &[]));
    assert!(stderr.contains("no `membrane/` folder"), "{stderr}");
    let (_, stderr) = failed(import(t, &db, "no-such-ws", &t.join("a"), &[]));
    assert!(stderr.contains("no workspace `no-such-ws`"), "{stderr}");
    s.finish().await;
}

async fn get(server: &Running, path: &str) -> Value {
    let (status, body) = server.call("GET", path, &admin_token(), None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

#[tokio::test]
async fn cli_config_pull_and_push_through_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Running::start_in(data.path(), free_port());
    server.wait_ready().await;
    let hello = server
        .create(
            "actions",
            json!({"key": "hello", "name": "Hello", "type": "run-javascript",
                   "config": {"code": "module.exports = async () => 1"}}),
        )
        .await;
    let people = server
        .create("data-sources", json!({"key": "people", "name": "People"}))
        .await;
    let hello_path = format!("/actions/{}", hello["id"].as_str().unwrap());
    let people_path = format!("/data-sources/{}", people["id"].as_str().unwrap());
    let url = server.url.clone();
    let env = [
        ("MEMBRANE_API_URI", url.as_str()),
        ("MEMBRANE_WORKSPACE_KEY", WS_KEY),
        ("MEMBRANE_WORKSPACE_SECRET", WS_SECRET),
    ];

    // Pull into the current folder.
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    let (stdout, _) = ok(run_in(r, &["pull"], &env));
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    let pulled = tree(r);
    assert_eq!(printed["files"], pulled.len(), "{stdout}");
    let spec = r.join("membrane/actions/hello/spec.yaml");
    assert!(spec.exists(), "{pulled:?}");
    assert!(r.join("membrane/data-sources/people/spec.yaml").exists());

    // Edit one file, add one: without --yes and no terminal, the diff is printed
    // and nothing applied.
    edit(&spec, "name", "Hello again".into());
    std::fs::create_dir_all(r.join("membrane/actions/fresh")).unwrap();
    std::fs::write(
        r.join("membrane/actions/fresh/spec.yaml"),
        "key: fresh\nname: Fresh\n",
    )
    .unwrap();
    let (stdout, stderr) = ok(run_in(r, &["push"], &env));
    assert!(stdout.contains("~ update action hello: name\n"), "{stdout}");
    assert!(
        stdout.contains("+ create action fresh (membrane/actions/fresh/spec.yaml)\n"),
        "{stdout}"
    );
    // The rest (the data source, the shipped connectors) is as it was.
    let unchanged = pulled.len() - 1;
    assert!(
        stdout.contains(&format!("\n{unchanged} unchanged\n")),
        "{stdout}"
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(get(&server, &hello_path).await["name"], "Hello");
    // --dry-run neither, even with --yes.
    let (stdout, _) = ok(run_in(r, &["push", "--dry-run", "--yes"], &env));
    assert!(stdout.contains("~ update action hello: name"), "{stdout}");
    assert_eq!(get(&server, &hello_path).await["name"], "Hello");

    // --yes applies.
    let (_, stderr) = ok(run_in(r, &["push", "--yes"], &env));
    assert!(stderr.contains("Applied 2 change(s)"), "{stderr}");
    assert_eq!(get(&server, &hello_path).await["name"], "Hello again");
    let actions = server.all_items("/actions?limit=100").await;
    assert!(
        actions
            .iter()
            .any(|a| a["key"] == "fresh" && a["name"] == "Fresh"),
        "{actions:?}"
    );
    // Pushing the same files again changes nothing.
    let (stdout, stderr) = ok(run_in(r, &["push", "--yes"], &env));
    assert!(
        stdout.starts_with(&format!("{} unchanged\n", pulled.len() + 1)),
        "{stdout}"
    );
    assert!(stderr.contains("Nothing to apply"), "{stderr}");

    // A removed file archives its element; from another folder, with the
    // folder as argument.
    std::fs::remove_dir_all(r.join("membrane/data-sources")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (stdout, _) = ok(run_in(
        elsewhere.path(),
        &["push", "--yes", r.to_str().unwrap()],
        &env,
    ));
    assert!(
        stdout.contains("- archive data-source people\n"),
        "{stdout}"
    );
    let people = get(&server, &people_path).await;
    assert!(people["archivedAt"].is_string(), "{people}");

    // A broken file: refused, named, nothing applied.
    std::fs::write(&spec, "key: hello\nname: [unclosed\n").unwrap();
    let (_, stderr) = failed(run_in(r, &["push", "--yes"], &env));
    assert!(
        stderr.contains("membrane/actions/hello/spec.yaml"),
        "{stderr}"
    );
    assert_eq!(get(&server, &hello_path).await["name"], "Hello again");

    // membrane.config.yml in the current folder, its current keys…
    let other = tempfile::tempdir().unwrap();
    let o = other.path();
    std::fs::write(
        o.join("membrane.config.yml"),
        format!("workspaceKey: {WS_KEY}\nworkspaceSecret: {WS_SECRET}\napiUri: {url}\n"),
    )
    .unwrap();
    ok(run_in(o, &["pull"], &[]));
    let now = tree(o);
    assert!(
        now.contains_key("membrane/actions/fresh/spec.yaml"),
        "{now:?}"
    );
    assert!(!now.contains_key("membrane/data-sources/people/spec.yaml"));
    // …overridden by the environment and then by flags.
    let wrong = [("MEMBRANE_WORKSPACE_SECRET", "not-the-secret")];
    let (_, stderr) = failed(run_in(o, &["pull"], &wrong));
    assert!(stderr.contains("401"), "{stderr}");
    ok(run_in(
        o,
        &["pull", "--workspace-secret", WS_SECRET],
        &wrong,
    ));
    // …and the older format, named with --config.
    let legacy = o.join("legacy.yml");
    std::fs::write(
        &legacy,
        format!("workspaces:\n  default:\n    key: {WS_KEY}\n    secret: {WS_SECRET}\n    apiUri: {url}\n"),
    )
    .unwrap();
    let third = tempfile::tempdir().unwrap();
    ok(run_in(
        third.path(),
        &[
            "pull",
            "--config",
            legacy.to_str().unwrap(),
            "--out",
            "repo",
        ],
        &[],
    ));
    assert_eq!(tree(&third.path().join("repo")), now);
    // Nothing configured: said how to.
    let (_, stderr) = failed(run_in(third.path(), &["pull"], &[]));
    assert!(stderr.contains("MEMBRANE_WORKSPACE_KEY"), "{stderr}");

    // Into a second workspace of the server: pulled back, the same files.
    ok(run_in(
        o,
        &[
            "workspace",
            "create",
            "--name",
            "Second",
            "--key",
            "second",
            "--secret",
            "second-secret-0123456789",
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    ));
    let second = [
        ("MEMBRANE_API_URI", url.as_str()),
        ("MEMBRANE_WORKSPACE_KEY", "second"),
        ("MEMBRANE_WORKSPACE_SECRET", "second-secret-0123456789"),
    ];
    let (stdout, _) = ok(run_in(o, &["push", "--yes"], &second));
    assert!(
        stdout.contains("+ create action hello (membrane/actions/hello/spec.yaml)\n"),
        "{stdout}"
    );
    let fourth = tempfile::tempdir().unwrap();
    ok(run_in(fourth.path(), &["pull"], &second));
    assert_eq!(tree(fourth.path()), now);

    server.stop();
}
