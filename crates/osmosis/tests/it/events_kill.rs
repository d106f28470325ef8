//! Webhook intake under SIGKILL, with the real binary (`crates/engine/src/events/
//! intake.rs`): a delivery answered 2xx was committed first, so killing the server
//! while senders keep posting loses none of the answered ones, and after a restart
//! each is processed — into exactly one app event each (the payloads are distinct,
//! so none is a duplicate of another), none twice. On SQLite and, in its pass,
//! PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::process::*;
use crate::common::*;

/// Senders posting at once.
const SENDERS: usize = 8;
/// Answered deliveries before the kill.
const BEFORE_KILL: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_answered_delivery_and_processes_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let port = free_port();
    let node = Running::serve_workspace(&db, port, dir.path(), &[]).await;
    let t = node
        .create(
            "app-event-types",
            json!({"key": "burst", "name": "Burst", "tenantIdFormula": {"$var": "$.customer"}}),
        )
        .await;
    // Alice exists once her token was seen.
    let (status, _) = node
        .call("GET", "/self", &customer_token("alice"), None)
        .await;
    assert_eq!(status, 200);
    let uri = t["globalWebhookUri"].as_str().unwrap().to_owned();

    let answered: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let http = reqwest::Client::new();
    let mut senders = Vec::new();
    for sender in 0..SENDERS as u64 {
        let (answered, http, url) = (answered.clone(), http.clone(), uri.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let seq = sender * 1_000_000 + i;
                let sent = http
                    .post(&url)
                    .json(&json!({"customer": "alice", "seq": seq}))
                    .send()
                    .await;
                let Ok(resp) = sent else { return };
                if resp.status() != 200 {
                    return;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    return;
                };
                let id = body["incomingWebhookId"].as_str().unwrap().to_owned();
                answered.lock().unwrap().push((seq, id));
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.lock().unwrap().len() < BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "the senders never got {BEFORE_KILL} answers"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(node.kill().code().is_none(), "killed by the signal");
    for s in senders {
        s.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    eprintln!("{} deliveries answered before the kill", answered.len());

    let node = Running::serve_workspace(&db, port, dir.path(), &[]).await;
    let admin = admin_token();
    // Every answered delivery is there and gets processed: at once on SQLite (the
    // restarted node releases the claims of the one it replaces), within the job
    // lease (60 s) on PostgreSQL, where another node may still hold them.
    let deadline = Instant::now() + Duration::from_secs(100);
    for (seq, id) in &answered {
        loop {
            let (status, w) = node
                .call("GET", &format!("/incoming-webhooks/{id}"), &admin, None)
                .await;
            assert_eq!(
                status, 200,
                "answered delivery {id} (seq {seq}) was lost: {w}"
            );
            if w["status"] == "success" {
                assert_eq!(w["collectedEventIds"].as_array().unwrap().len(), 1, "{w}");
                break;
            }
            assert_ne!(w["status"], "error", "{w}");
            assert!(
                Instant::now() < deadline,
                "delivery {id} never processed: {w}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // One event per payload: none lost, none made twice.
    let mut seqs = std::collections::HashMap::<u64, usize>::new();
    let mut event_of_seq = std::collections::HashMap::<u64, String>::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = node
            .call(
                "GET",
                &format!("/app-events?limit=1000&sortOrder=asc{cursor}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for e in page["items"].as_array().unwrap() {
            let seq = e["event"]["seq"].as_u64().unwrap();
            *seqs.entry(seq).or_default() += 1;
            event_of_seq.insert(seq, e["id"].as_str().unwrap().to_owned());
        }
        match page["cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    for (seq, _) in &answered {
        assert_eq!(seqs.get(seq), Some(&1), "seq {seq}: one event");
    }
    assert!(seqs.values().all(|n| *n == 1), "no event twice");

    // A retry, after the restart, of a delivery answered before the kill is a
    // repeat of the event stored then: the restarted node's window of recent
    // events (`events::recent_events`, SQLite) was loaded from the database.
    let (seq, _) = answered[0];
    let resp = reqwest::Client::new()
        .post(&uri)
        .json(&json!({"customer": "alice", "seq": seq}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let retry = resp.json::<Value>().await.unwrap()["incomingWebhookId"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let retried = loop {
        let (_, w) = node
            .call("GET", &format!("/incoming-webhooks/{retry}"), &admin, None)
            .await;
        if w["status"] == "success" {
            break w;
        }
        assert!(
            Instant::now() < deadline,
            "the retry was never processed: {w}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        retried["collectedEventIds"],
        json!([event_of_seq[&seq]]),
        "the retry points at the event stored before the kill: {retried}"
    );
    node.stop();
    drop_database(pg).await;
}
