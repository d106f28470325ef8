//! Console sessions and sign-in links: a session reads back until it expires or
//! is deleted; a link is taken exactly once, even by two nodes at once; expired
//! rows are purged. Run on SQLite and PostgreSQL.

use osmosis_store::{ConsoleSession, ConsoleSessionKind};

use crate::common::*;

fn row(hash: &str, kind: ConsoleSessionKind, expires_ms: i64) -> ConsoleSession {
    ConsoleSession {
        token_hash: hash.into(),
        kind,
        workspace_key: "ws-key".into(),
        secret_hash: "secret-hash".into(),
        csrf_token: format!("csrf-{hash}"),
        created_ms: 1_000,
        expires_ms,
    }
}

#[tokio::test]
async fn a_session_reads_back_until_it_expires_or_is_deleted() {
    let db = TestDb::new().await;
    let store = db.node().await.console_sessions;
    let session = row("s1", ConsoleSessionKind::Session, 10_000);
    store.insert_console_session(&session).await.unwrap();
    assert_eq!(
        store.console_session("s1", 9_999).await.unwrap(),
        Some(session)
    );
    assert_eq!(store.console_session("s1", 10_000).await.unwrap(), None);
    assert_eq!(store.console_session("other", 1).await.unwrap(), None);
    // A link is not a session, whatever its hash.
    store
        .insert_console_session(&row("l1", ConsoleSessionKind::Link, 10_000))
        .await
        .unwrap();
    assert_eq!(store.console_session("l1", 1).await.unwrap(), None);
    assert!(store.delete_console_session("s1").await.unwrap());
    assert!(!store.delete_console_session("s1").await.unwrap());
    assert_eq!(store.console_session("s1", 1).await.unwrap(), None);
}

#[tokio::test]
async fn a_link_is_taken_once_even_by_two_nodes_at_once() {
    let db = TestDb::new().await;
    let a = db.node().await.console_sessions;
    let b = db.node().await.console_sessions;
    a.insert_console_session(&row("l1", ConsoleSessionKind::Link, 10_000))
        .await
        .unwrap();
    let (x, y) = tokio::join!(a.take_console_link("l1", 5), b.take_console_link("l1", 5));
    let taken: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken.len(), 1, "exactly one node takes the link");
    assert_eq!(taken[0].csrf_token, "csrf-l1");
    assert_eq!(a.take_console_link("l1", 5).await.unwrap(), None);
    // An expired link is not taken; a session is never taken as a link.
    a.insert_console_session(&row("l2", ConsoleSessionKind::Link, 100))
        .await
        .unwrap();
    assert_eq!(a.take_console_link("l2", 100).await.unwrap(), None);
    a.insert_console_session(&row("s1", ConsoleSessionKind::Session, 10_000))
        .await
        .unwrap();
    assert_eq!(a.take_console_link("s1", 5).await.unwrap(), None);
    assert!(a.console_session("s1", 5).await.unwrap().is_some());
}

#[tokio::test]
async fn expired_sessions_and_links_are_purged() {
    let db = TestDb::new().await;
    let store = db.node().await.console_sessions;
    for (hash, kind, expires) in [
        ("old-session", ConsoleSessionKind::Session, 100),
        ("old-link", ConsoleSessionKind::Link, 200),
        ("live", ConsoleSessionKind::Session, 10_000),
    ] {
        store
            .insert_console_session(&row(hash, kind, expires))
            .await
            .unwrap();
    }
    assert_eq!(store.purge_console_sessions(500).await.unwrap(), 2);
    assert!(store.console_session("live", 600).await.unwrap().is_some());
    // The same hash twice is refused (a token is never reused).
    assert!(store
        .insert_console_session(&row("live", ConsoleSessionKind::Session, 10_000))
        .await
        .is_err());
}
