//! `GET /sse/workspace?token=`: element writes as they happen, to whoever may
//! read the element — and on PostgreSQL to the watchers of every node.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// An open `/sse/workspace` stream and what it has said so far.
struct Watch {
    resp: reqwest::Response,
    buffer: String,
}

impl Watch {
    async fn open(s: &Server, token: &str) -> Watch {
        let resp = s
            .http
            .get(format!("{}/sse/workspace?token={token}", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Watch {
            resp,
            buffer: String::new(),
        }
    }

    /// The updates received within `wait` (keep-alive comments skipped).
    async fn updates(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, self.resp.chunk()).await {
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        let mut updates = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let event: String = self.buffer.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    updates.push(serde_json::from_str(data.trim()).unwrap());
                }
            }
        }
        updates
    }

    /// Waits (up to 10 s) for the update of `id`, and answers every update seen.
    async fn until(&mut self, id: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.extend(self.updates(Duration::from_millis(500)).await);
            if seen.iter().any(|u| u["elementId"] == id) {
                return seen;
            }
        }
        panic!("no update of {id} within 10 s; saw {seen:?}");
    }
}

fn ids(updates: &[Value]) -> Vec<&str> {
    updates
        .iter()
        .map(|u| u["elementId"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn each_watcher_hears_of_the_writes_it_may_read_and_no_others() {
    let s = Server::start().await;
    let mut admin = Watch::open(&s, &s.admin()).await;
    let mut alice = Watch::open(&s, &s.customer("alice")).await;
    let mut bob = Watch::open(&s, &s.customer("bob")).await;
    let other = s.other_workspace_admin().await;
    let mut stranger = Watch::open(&s, &other).await;

    let connector = s
        .create(
            "connectors",
            json!({"key": "app", "name": "App", "type": "client-credentials",
                   "makeApiClient": {"type": "mapping", "mapping": {"baseUri": "http://127.0.0.1:9"}}}),
        )
        .await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "app", "name": "App", "connectorId": connector["id"]}),
        )
        .await;
    let (status, conn) = s
        .post(
            "/connections",
            &s.customer("alice"),
            json!({"integrationId": integration["id"], "name": "Alice's", "input": {}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let conn_id = conn["id"].as_str().unwrap();
    let action = s
        .create("actions", json!({"key": "ping", "name": "Ping"}))
        .await;
    let action_id = action["id"].as_str().unwrap();
    // An archive is a write too.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/actions/{action_id}"),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let everything = admin.until(action_id).await;
    let everything = [everything, admin.updates(Duration::from_millis(300)).await].concat();
    let heard = ids(&everything);
    for id in [
        connector["id"].as_str().unwrap(),
        integration["id"].as_str().unwrap(),
        conn_id,
        action_id,
    ] {
        assert!(
            heard.contains(&id),
            "the admin hears of {id}: {everything:?}"
        );
    }
    let update = everything
        .iter()
        .find(|u| u["elementId"] == conn_id)
        .unwrap();
    assert_eq!(
        update,
        &json!({"type": "element-update", "elementType": "connection", "elementId": conn_id})
    );
    assert_eq!(
        heard.iter().filter(|id| **id == action_id).count(),
        2,
        "created and archived: {everything:?}"
    );

    // Alice hears of her connection and of the workspace's elements; Bob only of
    // the workspace's; the other workspace of nothing.
    let hers = alice.until(action_id).await;
    assert!(ids(&hers).contains(&conn_id), "{hers:?}");
    let his = bob.until(action_id).await;
    assert!(
        !ids(&his).contains(&conn_id),
        "Bob hears of Alice's connection: {his:?}"
    );
    assert!(
        ids(&his).contains(&integration["id"].as_str().unwrap()),
        "{his:?}"
    );
    let theirs = stranger.updates(Duration::from_millis(500)).await;
    assert!(
        theirs.is_empty(),
        "another workspace hears of this one's writes: {theirs:?}"
    );

    // Without a valid token: refused.
    let (status, _) = s.call("GET", "/sse/workspace", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = s
        .call("GET", "/sse/workspace?token=not-a-jwt", None, None)
        .await;
    assert_eq!(status, 401);
    s.finish().await;
}

/// On PostgreSQL a write on one node reaches the watchers of another.
#[tokio::test]
async fn a_write_on_one_node_reaches_a_watcher_on_another() {
    if backend() != "postgres" {
        return;
    }
    let a = Server::start().await;
    let b = a.another_node().await;
    let mut on_b = Watch::open(&b, &b.admin()).await;
    let mut on_a = Watch::open(&a, &a.admin()).await;
    // The listener of node B may still be connecting: write until it hears.
    let started = std::time::Instant::now();
    let mut heard = Vec::new();
    for i in 0.. {
        let flow = a
            .create("flows", json!({"key": format!("f{i}"), "name": "F"}))
            .await;
        let id = flow["id"].as_str().unwrap().to_owned();
        heard.extend(on_b.updates(Duration::from_secs(1)).await);
        if ids(&heard).contains(&id.as_str()) {
            // Node A's own watcher hears of it exactly once.
            let mut own = on_a.until(&id).await;
            own.extend(on_a.updates(Duration::from_millis(500)).await);
            assert_eq!(ids(&own).iter().filter(|x| **x == id).count(), 1, "{own:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "node B never heard: {heard:?}"
        );
    }
    b.finish().await;
    a.finish().await;
}
