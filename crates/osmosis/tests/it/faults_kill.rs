//! Fault suite, SIGKILL under a mixed write load, on the backend the run is for
//! (SQLite data dir, or a fresh PostgreSQL database with `OSMOSIS_TEST_DATABASE=postgres`).
//!
//! Eight writers create integrations, universal flows and customers as the admin and
//! app-data-schema instances as a customer (elements of no connection), each with a
//! key of its own, and PATCH, archive and restore what they made. After a random
//! number of acknowledged writes (some hundreds) the real `osmosis serve` is killed
//! with SIGKILL, mid-request, and started again on the same database. Then every
//! acknowledged create is present exactly once (by key and id, archived ones
//! included), every element reads back whole with the name of its last acknowledged
//! write (or of a write cut off by the kill, whose outcome the writer never learnt), a
//! create cut off by the kill exists at most once, nothing exists that nobody wrote,
//! and the server serves normally. Three kills in CI, each at another moment;
//! `OSMOSIS_FAULTS_LONG=1` runs twenty.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use osmosis_connectors::sealing::EncryptionKey;
use serde_json::{json, Value};

use crate::common::process::*;
use crate::common::*;

const WRITERS: usize = 8;
/// The customer whose app-data-schema instances the writers make.
const CUSTOMER: &str = "fault-customer";
/// Every key the writers choose starts with this; nothing else in the database does.
const PREFIX: &str = "fk-";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Integration,
    Flow,
    Customer,
    SchemaInstance,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Integration,
        Kind::Flow,
        Kind::Customer,
        Kind::SchemaInstance,
    ];

    fn plural(self) -> &'static str {
        match self {
            Kind::Integration => "integrations",
            Kind::Flow => "flows",
            Kind::Customer => "customers",
            Kind::SchemaInstance => "app-data-schema-instances",
        }
    }

    /// Admins write the workspace's elements; a customer its own instances.
    fn token(self) -> String {
        match self {
            Kind::SchemaInstance => customer_token(CUSTOMER),
            _ => admin_token(),
        }
    }

    /// Where the writer's distinct key goes: customers have no `key`, but an `internalId`.
    fn key_field(self) -> &'static str {
        match self {
            Kind::Customer => "internalId",
            _ => "key",
        }
    }

    fn create_body(self, key: &str, name: &str, schema_id: &str) -> Value {
        let mut body = json!({ self.key_field(): key, "name": name });
        if self == Kind::SchemaInstance {
            body["appDataSchemaId"] = json!(schema_id);
        }
        body
    }
}

/// What a writer knows of one element it created (or tried to).
#[derive(Clone, Debug)]
struct Written {
    kind: Kind,
    key: String,
    /// `None`: the create was cut off by the kill, its outcome unknown.
    id: Option<String>,
    /// Names the element may have now: that of its last acknowledged write, then
    /// that of a write cut off by the kill.
    names: Vec<String>,
    /// `None`: an archive or restore was cut off by the kill.
    archived: Option<bool>,
}

/// A small xorshift generator seeded from the process's random hasher keys: each
/// run kills at other moments; the seed is printed to replay one.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn long() -> bool {
    std::env::var("OSMOSIS_FAULTS_LONG").is_ok_and(|v| v == "1")
}

/// The outcome of one write: `None` when the server never answered (it was killed).
async fn send(req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let resp = req.send().await.ok()?;
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.ok()?;
    Some((status, body))
}

/// One writer's part of one round, until the server stops answering.
async fn writer(
    url: String,
    round: usize,
    w: usize,
    seed: u64,
    schema_id: String,
    acknowledged: Arc<AtomicUsize>,
) -> Vec<Written> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut rng = Rng::new(seed);
    let mut mine: Vec<Written> = Vec::new();
    for i in 0.. {
        let op = if mine.is_empty() { 0 } else { rng.below(8) };
        if op < 4 {
            let kind = Kind::ALL[rng.below(4) as usize];
            let key = format!("{PREFIX}r{round}-w{w}-{i}");
            let name = format!("n-{key}");
            let outcome = send(
                http.post(format!("{url}/{}", kind.plural()))
                    .bearer_auth(kind.token())
                    .json(&kind.create_body(&key, &name, &schema_id)),
            )
            .await;
            let mut written = Written {
                kind,
                key,
                id: None,
                names: vec![name],
                archived: Some(false),
            };
            match outcome {
                Some((200, v)) => {
                    written.id = Some(v["id"].as_str().expect("an id").to_string());
                    mine.push(written);
                }
                Some((status, v)) => panic!("create {kind:?}: {status} {v}"),
                None => {
                    mine.push(written);
                    break;
                }
            }
        } else {
            // PATCH or archive/restore one of this round's acknowledged elements.
            let known: Vec<usize> = (0..mine.len()).filter(|&j| mine[j].id.is_some()).collect();
            let el = &mut mine[known[rng.below(known.len() as u64) as usize]];
            let path = format!("{url}/{}/{}", el.kind.plural(), el.id.as_deref().unwrap());
            let token = el.kind.token();
            if op < 6 && el.archived == Some(false) {
                let name = format!("p{i}-{}", el.key);
                let outcome = send(
                    http.patch(&path)
                        .bearer_auth(&token)
                        .json(&json!({"name": name})),
                )
                .await;
                match outcome {
                    Some((200, v)) => {
                        assert_eq!(v["name"], name, "{v}");
                        el.names = vec![name];
                    }
                    Some((status, v)) => panic!("patch {:?}: {status} {v}", el.kind),
                    None => {
                        el.names.push(name);
                        break;
                    }
                }
            } else {
                let archive = el.archived == Some(false);
                let req = if archive {
                    http.delete(&path)
                } else {
                    http.post(format!("{path}/restore"))
                };
                match send(req.bearer_auth(&token)).await {
                    Some((200, v)) => {
                        assert_eq!(v.get("archivedAt").is_some(), archive, "{v}");
                        el.archived = Some(archive);
                    }
                    Some((status, v)) => panic!("archive/restore {:?}: {status} {v}", el.kind),
                    None => {
                        el.archived = None;
                        break;
                    }
                }
            }
        }
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
    mine
}

/// Every element of a kind, archived ones included, all pages.
async fn list_all(node: &Running, kind: Kind) -> Vec<Value> {
    let url = format!(
        "{}/{}?includeArchived=true&limit=1000",
        node.url,
        kind.plural()
    );
    // A test writes some thousands of elements at most: a few pages.
    items_of(&list_pages(&reqwest::Client::new(), &url, &admin_token(), 100).await)
}

/// Everything the ledger says, against what the restarted server holds.
async fn verify(node: &Running, ledger: &[Written]) {
    for kind in Kind::ALL {
        let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for el in list_all(node, kind).await {
            if let Some(key) = el[kind.key_field()].as_str() {
                if key.starts_with(PREFIX) {
                    by_key.entry(key.to_string()).or_default().push(el);
                }
            }
        }
        let mine: BTreeMap<&str, &Written> = ledger
            .iter()
            .filter(|w| w.kind == kind)
            .map(|w| (w.key.as_str(), w))
            .collect();
        let unwritten: Vec<&String> = by_key
            .keys()
            .filter(|k| !mine.contains_key(k.as_str()))
            .collect();
        assert!(unwritten.is_empty(), "{kind:?} nobody wrote: {unwritten:?}");
        for w in mine.values() {
            let found = by_key.get(&w.key).map(Vec::as_slice).unwrap_or_default();
            match &w.id {
                Some(id) => {
                    assert_eq!(found.len(), 1, "acknowledged {w:?} present once: {found:?}");
                    assert_eq!(found[0]["id"], *id, "{w:?}");
                }
                None => assert!(
                    found.len() <= 1,
                    "cut-off create {w:?} at most once: {found:?}"
                ),
            }
            let Some(listed) = found.first() else {
                continue;
            };
            let id = listed["id"].as_str().expect("an id");
            let (status, read) = node
                .call(
                    "GET",
                    &format!("/{}/{id}", kind.plural()),
                    &w.kind.token(),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{w:?} reads back: {read}");
            for el in [listed, &read] {
                assert_eq!(el["id"], id, "{el}");
                assert_eq!(el[kind.key_field()], w.key.as_str(), "{el}");
                let name = el["name"].as_str().expect("a name");
                assert!(
                    w.names.iter().any(|n| n == name),
                    "{w:?}: the name is {name}: {el}"
                );
                assert!(el["createdAt"].as_str().is_some(), "{el}");
                if kind != Kind::Customer {
                    assert!(el["revision"].as_str().is_some(), "{el}");
                    assert!(el["uuid"].as_str().is_some(), "{el}");
                }
                if let Some(archived) = w.archived {
                    assert_eq!(el.get("archivedAt").is_some(), archived, "{w:?}: {el}");
                }
            }
        }
    }
}

/// A write of each kind and a read on the restarted server, as any client would.
async fn serves_normally(node: &Running, schema_id: &str, n: usize) {
    for kind in Kind::ALL {
        let key = format!("after-{n}-{}", kind.plural());
        let (status, made) = node
            .call(
                "POST",
                &format!("/{}", kind.plural()),
                &kind.token(),
                Some(kind.create_body(&key, "after", schema_id)),
            )
            .await;
        assert_eq!(status, 200, "{made}");
        let path = format!("/{}/{}", kind.plural(), made["id"].as_str().unwrap());
        let (status, patched) = node
            .call(
                "PATCH",
                &path,
                &kind.token(),
                Some(json!({"name": "after 2"})),
            )
            .await;
        assert_eq!(
            (status, &patched["name"]),
            (200, &json!("after 2")),
            "{patched}"
        );
        let (status, read) = node.call("GET", &path, &kind.token(), None).await;
        assert_eq!((status, &read["name"]), (200, &json!("after 2")), "{read}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_mixed_writes_keeps_every_acknowledged_create_once_and_whole() {
    let kills = if long() { 20 } else { 3 };
    let seed = RandomState::new().hash_one(0u8);
    eprintln!("faults_kill seed {seed}");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let data = dir.path().join("data");
    let port = free_port();
    let key = EncryptionKey::generate().to_base64();
    let env = [("OSMOSIS_ENCRYPTION_KEY", key.as_str())];
    let mut node = Running::serve_workspace(&db, port, &data, &env).await;
    let schema = node
        .create(
            "app-data-schemas",
            json!({"key": "fault-schema", "name": "Fault schema", "schema": {"type": "object"}}),
        )
        .await;
    let schema_id = schema["id"].as_str().unwrap().to_string();

    let mut ledger: Vec<Written> = Vec::new();
    for round in 0..kills {
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(writer(
                    node.url.clone(),
                    round,
                    w,
                    rng.below(u64::MAX),
                    schema_id.clone(),
                    acknowledged.clone(),
                ))
            })
            .collect();
        let kill_after = 200 + rng.below(400) as usize;
        let deadline = Instant::now() + Duration::from_secs(120);
        while acknowledged.load(Ordering::SeqCst) < kill_after {
            assert!(
                Instant::now() < deadline,
                "{kill_after} writes never acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Somewhere inside the next requests, not at a write boundary.
        tokio::time::sleep(Duration::from_micros(rng.below(20_000))).await;
        assert!(node.kill().code().is_none(), "killed by the signal");
        let mut round_writes = Vec::new();
        for w in writers {
            round_writes.extend(w.await.expect("a writer"));
        }
        eprintln!(
            "round {round}: killed after {} acknowledged writes, {} acknowledged creates",
            acknowledged.load(Ordering::SeqCst),
            round_writes.iter().filter(|w| w.id.is_some()).count(),
        );
        ledger.extend(round_writes);

        node = Running::serve_workspace(&db, port, &data, &env).await;
        verify(&node, &ledger).await;
        serves_normally(&node, &schema_id, round).await;
    }
    node.stop();
    if pg.is_none() {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        pool.close().await;
    }
    drop_database(pg).await;
}
