//! Several nodes on one PostgreSQL database: 5,000 mixed writes spread across three
//! nodes, with deliberate key collisions and stale revisions, one node killed with
//! SIGKILL midway and started again. Afterwards every acknowledged write is present
//! exactly once, every refused write is absent, and all nodes read the same.
//!
//! Runs when `OSMOSIS_TEST_DATABASE=postgres` (the PostgreSQL pass of the suite).

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_osmosis");
/// 32 bytes, base64: a fixed test key every node is given.
const NODES_ENCRYPTION_KEY: &str = "b3Ntb3Npcy1tdWx0aW5vZGUtdGVzdC1rZXktMzJieXQ=";
const WORKERS: usize = 12;
const OPS: usize = 5000;

struct Node {
    port: u16,
    child: Option<Child>,
    db: String,
}

impl Node {
    fn start(db: &str, port: u16) -> Node {
        let child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database",
                db,
                "--database-pool-size",
                "8",
            ])
            .env("OSMOSIS_WORKSPACE_KEY", WS_KEY)
            .env("OSMOSIS_WORKSPACE_SECRET", WS_SECRET)
            // Nodes sharing a database share the credentials key.
            .env("OSMOSIS_ENCRYPTION_KEY", NODES_ENCRYPTION_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        Node {
            port,
            child: Some(child),
            db: db.to_string(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if reqwest::get(format!("{}/health", self.url()))
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("node on {} never became ready", self.port);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.kill9();
        *self = Node::start(&self.db, self.port);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What the client knows about one element after its writes.
#[derive(Debug, Clone, Default)]
struct Known {
    id: String,
    /// Revision of the last acknowledged write, unless a later write's outcome is unknown.
    revision: Option<String>,
    archived: Option<bool>,
    name: Option<String>,
}

#[derive(Default)]
struct Ledger {
    /// uuid → element, for acknowledged creates.
    created: BTreeMap<String, Known>,
    /// uuids of refused creates: must not exist.
    refused_uuids: BTreeSet<String>,
    /// uuids of creates whose outcome is unknown (the node died): may exist, once at most.
    unknown_uuids: BTreeSet<String>,
    stale_refused: usize,
    collisions_refused: usize,
}

#[tokio::test]
async fn three_nodes_one_database_nothing_lost_nothing_doubled() {
    if backend() != "postgres" {
        eprintln!("multi-node test runs in the PostgreSQL pass (OSMOSIS_TEST_DATABASE=postgres)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let migrated = Command::new(BIN)
        .args(["migrate", "--database", &db])
        .output()
        .unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let nodes: Vec<Arc<tokio::sync::RwLock<Node>>> = ports
        .iter()
        .map(|p| Arc::new(tokio::sync::RwLock::new(Node::start(&db, *p))))
        .collect();
    for n in &nodes {
        n.read().await.ready().await;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let admin = token(
        json!({"iss": WS_KEY, "isAdmin": true}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    // Phase 1: every worker creates the same keys at once on different nodes — the
    // database decides, one wins per key.
    let mut racers = Vec::new();
    for w in 0..WORKERS {
        let (http, admin, ledger, url) = (
            http.clone(),
            admin.clone(),
            ledger.clone(),
            nodes[w % 3].read().await.url(),
        );
        racers.push(tokio::spawn(async move {
            for k in 0..10 {
                let uuid = format!("race-{w}-{k}-{}", osmosis_model::ids::object_id());
                let r = http
                    .post(format!("{url}/actions"))
                    .bearer_auth(&admin)
                    .json(&json!({"key": format!("race-{k}"), "uuid": uuid}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap();
                let mut l = ledger.lock().unwrap();
                match status {
                    200 => {
                        l.created.insert(
                            uuid,
                            Known {
                                id: v["id"].as_str().unwrap().into(),
                                revision: v["revision"].as_str().map(Into::into),
                                archived: Some(false),
                                name: v["name"].as_str().map(Into::into),
                            },
                        );
                    }
                    409 => {
                        assert_eq!(v["key"], "already_exists", "{v}");
                        l.refused_uuids.insert(uuid);
                        l.collisions_refused += 1;
                    }
                    other => panic!("unexpected {other}: {v}"),
                }
            }
        }));
    }
    for r in racers {
        r.await.unwrap();
    }
    {
        let l = ledger.lock().unwrap();
        assert_eq!(l.created.len(), 10, "exactly one winner per raced key");
    }

    // Phase 2: mixed writes; each worker owns its own elements so their order is known.
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (http, admin, ledger, nodes, done) = (
            http.clone(),
            admin.clone(),
            ledger.clone(),
            nodes.clone(),
            done.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut mine: Vec<(String, Known)> = Vec::new(); // (uuid, known)
            let mut i = 0usize;
            loop {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= OPS {
                    break;
                }
                i += 1;
                let url = nodes[(w + i) % 3].read().await.url();
                let choice = if mine.is_empty() { 0 } else { i % 6 };
                match choice {
                    // create, sometimes with a key this worker already used
                    0 | 1 => {
                        let uuid = format!("w{w}-{i}-{}", osmosis_model::ids::object_id());
                        let key = if i.is_multiple_of(7) && !mine.is_empty() {
                            format!("w{w}-k{}", (i / 7) % mine.len().max(1))
                        } else {
                            format!("w{w}-k{i}")
                        };
                        let sent = http
                            .post(format!("{url}/actions"))
                            .bearer_auth(&admin)
                            .json(&json!({"key": key, "uuid": uuid, "name": format!("n{i}")}))
                            .send()
                            .await;
                        let Ok(r) = sent else {
                            ledger.lock().unwrap().unknown_uuids.insert(uuid);
                            continue;
                        };
                        let status = r.status().as_u16();
                        let Ok(v) = r.json::<Value>().await else {
                            ledger.lock().unwrap().unknown_uuids.insert(uuid);
                            continue;
                        };
                        match status {
                            200 => mine.push((
                                uuid,
                                Known {
                                    id: v["id"].as_str().unwrap().into(),
                                    revision: v["revision"].as_str().map(Into::into),
                                    archived: Some(false),
                                    name: Some(format!("n{i}")),
                                },
                            )),
                            409 => {
                                ledger.lock().unwrap().refused_uuids.insert(uuid);
                            }
                            other => panic!("create: {other} {v}"),
                        }
                    }
                    // patch with the current revision, or a stale one
                    2 | 3 => {
                        let idx = i % mine.len();
                        let (_, known) = &mut mine[idx];
                        let stale = choice == 3
                            && known.revision.is_some()
                            && known.archived == Some(false);
                        let revision = if stale {
                            Some("0000000000000000".to_string())
                        } else {
                            known.revision.clone()
                        };
                        let name = format!("p{w}-{i}");
                        let mut body = json!({"name": name});
                        if let Some(r) = &revision {
                            body["revision"] = json!(r);
                        }
                        let sent = http
                            .patch(format!("{url}/actions/{}", known.id))
                            .bearer_auth(&admin)
                            .json(&body)
                            .send()
                            .await;
                        let outcome = match sent {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                r.json::<Value>().await.ok().map(|v| (status, v))
                            }
                            Err(_) => None,
                        };
                        match outcome {
                            Some((200, v)) => {
                                known.revision = v["revision"].as_str().map(Into::into);
                                known.name = Some(name);
                            }
                            Some((409, v)) if stale || known.revision.is_none() => {
                                assert_eq!(v["type"], "concurrency", "{v}");
                                if stale {
                                    ledger.lock().unwrap().stale_refused += 1;
                                }
                            }
                            Some((400, v)) if known.archived != Some(false) => {
                                assert_eq!(v["key"], "not_editable", "{v}");
                            }
                            Some((status, v)) => panic!("patch: {status} {v} (known {known:?})"),
                            None => {
                                known.revision = None;
                                known.name = None;
                            }
                        }
                    }
                    // archive or restore
                    _ => {
                        let idx = (i * 7) % mine.len();
                        let (_, known) = &mut mine[idx];
                        let archive = known.archived != Some(true);
                        let req = if archive {
                            http.delete(format!("{url}/actions/{}", known.id))
                        } else {
                            http.post(format!("{url}/actions/{}/restore", known.id))
                        };
                        let outcome = match req.bearer_auth(&admin).send().await {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                r.json::<Value>().await.ok().map(|v| (status, v))
                            }
                            Err(_) => None,
                        };
                        match outcome {
                            Some((200, v)) => {
                                known.revision = v["revision"].as_str().map(Into::into);
                                known.archived = Some(v.get("archivedAt").is_some());
                            }
                            // Restoring over a key a later create reused.
                            Some((409, v)) if !archive => {
                                assert_eq!(v["key"], "already_exists", "{v}")
                            }
                            Some((status, v)) => panic!("archive/restore: {status} {v}"),
                            None => {
                                known.revision = None;
                                known.archived = None;
                            }
                        }
                    }
                }
            }
            let mut l = ledger.lock().unwrap();
            for (uuid, known) in mine {
                l.created.insert(uuid, known);
            }
        }));
    }
    // Midway, kill node 2 hard, then bring it back.
    while done.load(std::sync::atomic::Ordering::SeqCst) < OPS / 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nodes[2].write().await.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    nodes[2].write().await.restart();
    nodes[2].read().await.ready().await;
    for w in workers {
        w.await.unwrap();
    }

    // Every node answers every read identically.
    let mut listings = Vec::new();
    for n in &nodes {
        let url = n.read().await.url();
        // 5,000 writes fill five pages of 1,000 at most.
        let url = format!("{url}/actions?includeArchived=true&limit=1000");
        let all = items_of(&list_pages(&http, &url, &admin, 10).await);
        listings.push(all);
    }
    assert_eq!(listings[0], listings[1]);
    assert_eq!(listings[0], listings[2]);
    let by_uuid: BTreeMap<String, &Value> = listings[0]
        .iter()
        .map(|e| (e["uuid"].as_str().unwrap().to_string(), e))
        .collect();
    assert_eq!(by_uuid.len(), listings[0].len(), "no uuid twice");
    let l = std::mem::take(&mut *ledger.lock().unwrap());
    for (uuid, known) in &l.created {
        let el = by_uuid
            .get(uuid)
            .unwrap_or_else(|| panic!("acknowledged create {uuid} is missing"));
        assert_eq!(el["id"], known.id);
        if let Some(rev) = &known.revision {
            assert_eq!(
                el["revision"], *rev,
                "last acknowledged write of {uuid} is what is stored"
            );
            if let Some(name) = &known.name {
                assert_eq!(el["name"], *name);
            }
            if let Some(archived) = known.archived {
                assert_eq!(el.get("archivedAt").is_some(), archived, "{el}");
            }
        }
    }
    for uuid in &l.refused_uuids {
        assert!(!by_uuid.contains_key(uuid), "refused create {uuid} exists");
    }
    let unexplained: Vec<&String> = by_uuid
        .keys()
        .filter(|u| !l.created.contains_key(*u) && !l.unknown_uuids.contains(*u))
        .collect();
    assert!(
        unexplained.is_empty(),
        "elements nobody created: {unexplained:?}"
    );
    // Live keys are unique.
    let mut live_keys = BTreeSet::new();
    for e in listings[0].iter().filter(|e| e.get("archivedAt").is_none()) {
        assert!(
            live_keys.insert(e["key"].as_str().unwrap().to_string()),
            "live key twice: {e}"
        );
    }
    assert!(
        l.stale_refused > 0 && l.collisions_refused > 0,
        "the run exercised refusals"
    );
    eprintln!(
        "multi-node: {} elements, {} refused creates, {} stale patches refused, {} unknown outcomes",
        by_uuid.len(),
        l.refused_uuids.len(),
        l.stale_refused,
        l.unknown_uuids.len()
    );
    for n in &nodes {
        n.write().await.kill9();
    }
    drop_database(pg).await;
}
