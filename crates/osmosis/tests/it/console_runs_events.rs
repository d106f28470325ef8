//! Console pages: see the module doc of each test below.
//!
//! Events (`/console/events`) and settings (`/console/settings`): the pages show
//! what the API's routes answer the workspace's admin, the settings form changes
//! what `PATCH /settings` changes and nothing when the engine refuses it or the
//! CSRF token is missing, another workspace's session sees only its own, and what
//! came in from outside is escaped.

use serde_json::{json, Value};

use crate::common::console::Console;
use crate::common::mock_crm::crm_fixture;
use crate::common::{Server, WS_KEY, WS_SECRET};
use crate::external_events::{event_flow, instance, subscriptions};

const HOSTILE: &str = "<script>alert('x')</script>";

/// Runs due jobs until none is left.
async fn process(s: &Server) {
    for _ in 0..20 {
        if s.engine.run_due_jobs("test-worker").await == 0 {
            return;
        }
    }
}

async fn settings(s: &Server) -> Value {
    let (status, v) = s.get("/settings", &s.admin()).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn first_item(s: &Server, path: &str) -> Value {
    let (status, page) = s.get(path, &s.admin()).await;
    assert_eq!(status, 200, "{page}");
    page["items"][0].clone()
}

/// Every tab lists what its API route lists, links to the records that have a
/// page of their own, shows their JSON escaped, and pages newest first.
#[tokio::test]
async fn the_events_tabs_list_each_log_and_its_details_escaped() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 2).await;
    // An app event from outside, carrying markup.
    let t = s
        .create(
            "app-event-types",
            json!({"key": "order-created", "name": "Order created",
                   "tenantIdFormula": {"$var": "$.customer"}}),
        )
        .await;
    let uri = t["globalWebhookUri"].as_str().unwrap();
    let path = uri.strip_prefix(&s.url).unwrap();
    let (status, answer) = s
        .call(
            "POST",
            path,
            None,
            Some(json!({"customer": "alice", "note": HOSTILE})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let delivery = answer["incomingWebhookId"].as_str().unwrap().to_owned();
    // An external event subscription with its pulls.
    event_flow(
        &s,
        &f.integration_id,
        "contact-created",
        "data-record-created-trigger",
        "contacts",
        json!({"mail": {"$var": "$.email"}}),
    )
    .await;
    instance(&s, &f.alice_conn, &f.alice, "contact-created").await;
    process(&s).await;
    let sub = subscriptions(&s, &f.alice_conn).await[0].clone();
    let sub_id = sub["id"].as_str().unwrap();
    let event = first_item(&s, "/app-events").await;
    let event_id = event["id"].as_str().unwrap();
    let pull = first_item(&s, "/external-event-pulls").await;
    assert!(pull["id"].is_string(), "a pull was made: {pull}");

    let console = Console::sign_in(&s).await;
    let page = console.get("/console/events").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Events</h1>"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("href=\"/console/events/webhooks/{delivery}\"")),
        "the delivery links to its page: {}",
        page.body
    );
    assert!(page
        .body
        .contains("aria-current=\"page\"><strong>Incoming webhooks"));

    let w = console
        .get(&format!("/console/events/webhooks/{delivery}"))
        .await;
    assert_eq!(w.status, 200, "{}", w.body);
    assert!(w.body.contains("<h1>Incoming webhook</h1>"));
    assert!(
        w.body.contains(t["id"].as_str().unwrap()),
        "posted to the type"
    );
    assert!(w.body.contains("&lt;script&gt;alert"), "{}", w.body);
    assert!(!w.body.contains(HOSTILE), "the payload is escaped");
    assert!(
        w.body
            .contains(&format!("href=\"/console/events/app-events/{event_id}\"")),
        "the delivery links to the event it made: {}",
        w.body
    );

    let events = console.get("/console/events?tab=app-events").await;
    assert_eq!(events.status, 200, "{}", events.body);
    assert!(events
        .body
        .contains(&format!("href=\"/console/events/app-events/{event_id}\"")));
    let e = console
        .get(&format!("/console/events/app-events/{event_id}"))
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    assert!(e.body.contains("<h1>App event</h1>"));
    assert!(e.body.contains("&lt;script&gt;alert"));
    assert!(!e.body.contains(HOSTILE));

    let subs = console.get("/console/events?tab=subscriptions").await;
    assert_eq!(subs.status, 200, "{}", subs.body);
    assert!(
        subs.body.contains("Data record created: contacts"),
        "{}",
        subs.body
    );
    assert!(subs
        .body
        .contains(&format!("href=\"/console/events/subscriptions/{sub_id}\"")));
    let one = console
        .get(&format!("/console/events/subscriptions/{sub_id}"))
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(one.body.contains("<h1>External event subscription</h1>"));
    assert!(one.body.contains(sub["status"].as_str().unwrap()));
    assert!(one.body.contains(&f.alice_conn));

    let pulls = console.get("/console/events?tab=pulls").await;
    assert_eq!(pulls.status, 200, "{}", pulls.body);
    assert!(
        pulls.body.contains(pull["id"].as_str().unwrap()),
        "the pull's record is folded under its row: {}",
        pulls.body
    );
    let records = console.get("/console/events?tab=external-events").await;
    assert_eq!(records.status, 200, "{}", records.body);
    assert!(records.body.contains("<h2>External events</h2>"));

    // Unknown ids and tabs.
    assert_eq!(
        console.get("/console/events/webhooks/nope").await.status,
        404
    );
    assert_eq!(
        console.get("/console/events/app-events/nope").await.status,
        404
    );
    let unknown = console.get("/console/events?tab=%3Cb%3E").await;
    assert_eq!(unknown.status, 200, "an unknown tab is the first");
    assert!(unknown.body.contains("<h2>Incoming webhooks</h2>"));
    let bad_cursor = console.get("/console/events?cursor=x").await;
    assert_eq!(bad_cursor.status, 400, "{}", bad_cursor.body);
    s.finish().await;
}

/// A full page has a link to the next one, which starts after it (newest first).
#[tokio::test]
async fn the_incoming_webhooks_page_newest_first_with_a_next_page() {
    let s = Server::start().await;
    let t = s
        .create(
            "app-event-types",
            json!({"key": "ping", "name": "Ping", "tenantIdFormula": {"$var": "$.customer"}}),
        )
        .await;
    let path = t["globalWebhookUri"]
        .as_str()
        .unwrap()
        .strip_prefix(&s.url)
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for n in 0..51 {
        let (status, answer) = s
            .call("POST", &path, None, Some(json!({"customer": "c", "n": n})))
            .await;
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["incomingWebhookId"].as_str().unwrap().to_owned());
    }
    let console = Console::sign_in(&s).await;
    let first = console.get("/console/events").await;
    assert_eq!(first.status, 200);
    let newest = first.body.find(ids[50].as_str()).expect("the newest");
    let older = first.body.find(ids[1].as_str()).expect("the 50th newest");
    assert!(newest < older, "newest first");
    assert!(
        !first.body.contains(ids[0].as_str()),
        "the oldest is on page 2"
    );
    let marker = "rel=\"next\" href=\"";
    let start = first.body.find(marker).expect("a next page") + marker.len();
    let href =
        first.body[start..start + first.body[start..].find('"').unwrap()].replace("&amp;", "&");
    assert!(href.contains("tab=webhooks"), "{href}");
    let second = console.get(&href).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(second.body.contains(ids[0].as_str()));
    assert!(!second.body.contains(ids[50].as_str()));
    assert!(!second.body.contains("rel=\"next\""));
    s.finish().await;
}

/// Another workspace's admin sees its own empty logs, and none of this
/// workspace's records, not even by id.
#[tokio::test]
async fn another_workspace_sees_none_of_these_events() {
    let s = Server::start().await;
    let t = s
        .create(
            "app-event-types",
            json!({"key": "ping", "name": "Ping", "tenantIdFormula": {"$var": "$.customer"}}),
        )
        .await;
    let path = t["globalWebhookUri"]
        .as_str()
        .unwrap()
        .strip_prefix(&s.url)
        .unwrap()
        .to_owned();
    let (_, answer) = s
        .call("POST", &path, None, Some(json!({"customer": "c"})))
        .await;
    let delivery = answer["incomingWebhookId"].as_str().unwrap().to_owned();
    process(&s).await;
    s.other_workspace_admin().await;
    let other = Console::sign_in_as(&s.url, "other-ws", "other-secret").await;
    for tab in [
        "webhooks",
        "app-events",
        "external-events",
        "pulls",
        "subscriptions",
    ] {
        let page = other.get(&format!("/console/events?tab={tab}")).await;
        assert_eq!(page.status, 200, "{tab}: {}", page.body);
        assert!(!page.body.contains(&delivery), "{tab}");
        assert!(!page.body.contains("<table>"), "{tab}: nothing listed");
        assert!(page.body.contains("class=\"empty\""), "{tab}");
    }
    let by_id = other
        .get(&format!("/console/events/webhooks/{delivery}"))
        .await;
    assert_eq!(by_id.status, 404, "{}", by_id.body);
    let mine = Console::sign_in(&s).await;
    assert!(mine.get("/console/events").await.body.contains(&delivery));
    s.finish().await;
}

/// The page shows the workspace (never its secret) and the retention; the form
/// changes the settings exactly as `PATCH /settings` would.
#[tokio::test]
async fn the_settings_form_changes_the_webhook_settings() {
    let s = Server::start().await;
    let console = Console::sign_in(&s).await;
    let page = console.get("/console/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Settings</h1>"));
    assert!(page.body.contains(WS_KEY));
    assert!(page
        .body
        .contains("osmosis workspace rotate-secret --key test-ws"));
    assert!(!page.body.contains(WS_SECRET), "the secret is never shown");
    assert!(page.body.contains("30 days"), "the default retention");
    assert!(
        page.body
            .contains("id=\"allEvents\" type=\"checkbox\" name=\"allEvents\" checked"),
        "no events chosen: every event is sent: {}",
        page.body
    );

    let saved = console
        .post(
            "/console/settings",
            &[
                ("webhookUri", "https://hooks.example.com/osmosis"),
                ("event:flowRun.failed", "on"),
                ("event:connection.created", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location, "/console/settings?saved=1");
    assert_eq!(
        settings(&s).await,
        json!({"webhookUri": "https://hooks.example.com/osmosis",
               "enabledWebhookEvents": ["connection.created", "flowRun.failed"]})
    );
    let shown = console.get("/console/settings?saved=1").await;
    assert!(shown.body.contains("Saved."));
    assert!(shown
        .body
        .contains("value=\"https://hooks.example.com/osmosis\""));
    assert!(shown.body.contains("name=\"event:flowRun.failed\" checked"));
    assert!(!shown
        .body
        .contains("name=\"event:flowRun.started\" checked"));

    // Every event again, and the URL kept.
    let all = console
        .post(
            "/console/settings",
            &[
                ("webhookUri", "https://hooks.example.com/osmosis"),
                ("allEvents", "on"),
                ("event:flowRun.failed", "on"),
            ],
        )
        .await;
    assert_eq!(all.status, 303, "{}", all.body);
    assert_eq!(
        settings(&s).await,
        json!({"webhookUri": "https://hooks.example.com/osmosis"})
    );
    // An empty URL removes it.
    let none = console
        .post(
            "/console/settings",
            &[("webhookUri", ""), ("allEvents", "on")],
        )
        .await;
    assert_eq!(none.status, 303, "{}", none.body);
    assert_eq!(settings(&s).await, json!({}));
    s.finish().await;
}

/// What the engine refuses changes nothing and is shown with the engine's
/// reason, escaped; a form without its CSRF token is refused.
#[tokio::test]
async fn refused_settings_change_nothing() {
    let s = Server::start().await;
    let (status, v) = s
        .patch(
            "/settings",
            &s.admin(),
            json!({"webhookUri": "https://before.example.com/"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let before = settings(&s).await;
    let console = Console::sign_in(&s).await;
    for (fields, reason) in [
        (
            vec![
                ("webhookUri", "ftp://files.example.com/"),
                ("allEvents", "on"),
            ],
            "must be an http(s) URL",
        ),
        (
            vec![
                ("webhookUri", "http://169.254.169.254/latest"),
                ("allEvents", "on"),
            ],
            "Invalid field `webhookUri`",
        ),
        (
            vec![
                ("webhookUri", "https://ok.example.com/"),
                ("event:<img src=x onerror=alert(1)>", "on"),
            ],
            "is not an event",
        ),
    ] {
        let answer = console.post("/console/settings", &fields).await;
        assert_eq!(answer.status, 400, "{fields:?}: {}", answer.body);
        assert!(answer.body.contains("Nothing was saved"), "{}", answer.body);
        assert!(answer.body.contains(reason), "{fields:?}: {}", answer.body);
        assert!(
            !answer.body.contains("<img src=x"),
            "escaped: {}",
            answer.body
        );
        assert_eq!(settings(&s).await, before, "{fields:?}");
    }
    // The form comes back as it was sent, for the admin to correct.
    let answer = console
        .post(
            "/console/settings",
            &[(
                "webhookUri",
                "ftp://files.example.com/\"><script>x</script>",
            )],
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .contains("value=\"ftp://files.example.com/&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains("<script>x"));

    let refused = console
        .post_raw(
            "/console/settings",
            &[
                ("webhookUri", "https://after.example.com/"),
                ("allEvents", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let wrong = console
        .post_raw(
            "/console/settings",
            &[
                ("csrf", "not-the-token"),
                ("webhookUri", "https://after.example.com/"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(settings(&s).await, before);
    s.finish().await;
}

/// Each workspace's session reads and changes its own settings only.
#[tokio::test]
async fn another_workspace_sees_and_changes_only_its_own_settings() {
    let s = Server::start().await;
    let other_admin = s.other_workspace_admin().await;
    let mine = Console::sign_in(&s).await;
    let saved = mine
        .post(
            "/console/settings",
            &[
                ("webhookUri", "https://mine.example.com/"),
                ("allEvents", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let other = Console::sign_in_as(&s.url, "other-ws", "other-secret").await;
    let page = other.get("/console/settings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("other-ws"));
    assert!(!page.body.contains("mine.example.com"));
    assert!(!page.body.contains(WS_KEY), "{}", page.body);
    assert!(!page.body.contains("other-secret"));
    let theirs = other
        .post(
            "/console/settings",
            &[
                ("webhookUri", "https://theirs.example.com/"),
                ("allEvents", "on"),
            ],
        )
        .await;
    assert_eq!(theirs.status, 303);
    // One workspace's session token does not post the other's form.
    let crossed = Console {
        csrf: mine.csrf.clone(),
        ..Console::sign_in_as(&s.url, "other-ws", "other-secret").await
    };
    let refused = crossed
        .post(
            "/console/settings",
            &[("webhookUri", "https://x.example.com/")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        settings(&s).await,
        json!({"webhookUri": "https://mine.example.com/"})
    );
    let (status, v) = s.get("/settings", &other_admin).await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"webhookUri": "https://theirs.example.com/"}));
    s.finish().await;
}
