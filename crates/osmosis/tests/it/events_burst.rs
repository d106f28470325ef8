//! A burst of webhook deliveries (issue "Events", point 6), with the real binary:
//! 10,000 deliveries to one subscription's URL in a few seconds are all answered
//! and stored, the server's memory stays bounded (each delivery waits for its
//! group commit instead of queueing in memory without limit), and they are
//! processed in the order they were stored: the subscription's app events come
//! out in the order of their deliveries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::process::*;
use crate::common::*;

const DELIVERIES: u64 = 10_000;
const SENDERS: u64 = 32;

/// The peak resident memory of a process so far (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_deliveries_are_stored_with_bounded_memory_and_processed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let node = Running::serve_workspace(&db, free_port(), dir.path(), &[]).await;
    node.create("app-event-types", json!({"key": "burst", "name": "Burst"}))
        .await;
    let (status, sub) = node
        .call(
            "GET",
            "/app-event-subscription?appEventTypeKey=burst&autoCreate=true",
            &customer_token("alice"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{sub}");
    let url = sub["webhookUri"].as_str().unwrap().to_owned();
    let before = peak_rss_kib(node.child.id());

    let next = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (next, http, url) = (next.clone(), http.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= DELIVERIES {
                    return;
                }
                let resp = http.post(&url).json(&json!({"n": n})).send().await.unwrap();
                assert_eq!(resp.status(), 200, "delivery {n}");
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let sent = started.elapsed();
    let peak = peak_rss_kib(node.child.id());
    eprintln!(
        "{DELIVERIES} deliveries answered in {sent:?}; peak RSS {} MiB (before the burst {} MiB)",
        peak / 1024,
        before / 1024
    );
    // Bounded: far below what holding the burst in memory would need with the
    // debug build's overhead; a leak per delivery would show as hundreds of MiB.
    assert!(
        peak < before + 200 * 1024,
        "peak RSS grew by {} MiB during the burst",
        (peak - before) / 1024
    );

    // Processed, in order.
    let deadline = Instant::now() + Duration::from_secs(240);
    let events = loop {
        let events = node.all_items("/app-events?limit=1000").await;
        if events.len() as u64 == DELIVERIES {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {DELIVERIES} deliveries processed",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let deliveries = node.all_items("/incoming-webhooks?limit=1000").await;
    assert_eq!(deliveries.len() as u64, DELIVERIES);
    let in_delivery_order: Vec<&Value> = deliveries
        .iter()
        .map(|d| &d["collectedEventIds"][0])
        .collect();
    let in_event_order: Vec<&Value> = events.iter().map(|e| &e["id"]).collect();
    assert_eq!(
        in_delivery_order, in_event_order,
        "events in delivery order"
    );
    let mut ns: Vec<u64> = events
        .iter()
        .map(|e| e["event"]["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    ns.dedup();
    assert_eq!(ns.len() as u64, DELIVERIES, "one event per delivery");
    node.stop();
    drop_database(pg).await;
}
