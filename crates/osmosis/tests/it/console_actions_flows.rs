//! Console pages: see the module doc of each test below.
//!
//! Actions (`/console/actions`), flows (`/console/flows`) and flow runs
//! (`/console/flow-runs`): the pages show what the API answers the workspace's
//! admin; running an action, starting a run, enabling an instance, stopping and
//! repeating a run do what the API's routes do; a running run's page follows it
//! (fragment and event stream); another workspace's session, archived elements,
//! missing CSRF tokens and hostile input change nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::console::{Answer, Console};
use crate::common::mock_api::{connect, connector, install, start_mock, MockApi};
use crate::common::Server;
use crate::flow_nodes::{finished, instance_id, Probe};

const HOSTILE: &str = "<script>alert('x')</script>";

/// A workspace with the mock app, Alice's connection to it, an integration-level
/// action calling the app, a two-node flow and Alice's instance of it.
struct Fixture {
    s: Server,
    mock: MockApi,
    alice: String,
    integration: String,
    conn: String,
    action: String,
    flow: String,
    instance: String,
}

async fn fixture() -> Fixture {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = install(&s, connector(&mock.url, "mock")).await;
    let alice = s.customer("alice");
    let conn = connect(&s, &alice, &integration).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let integration = integration["id"].as_str().unwrap().to_owned();
    let action = s
        .create(
            "actions",
            json!({"key": "echo", "name": format!("Echo {HOSTILE}"), "integrationId": integration,
                "type": "api-request-to-external-app",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
                "config": {"request": {"method": "POST", "path": "/echo/console",
                    "data": {"text": {"$var": "$.input.text"}}}}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let flow = s
        .create(
            "flows",
            json!({"key": "simple", "name": "Simple flow", "integrationId": integration, "nodes": {
                "start": {"type": "api-trigger", "name": "Start here", "links": [{"key": "done"}]},
                "done": {"type": "transform-data", "name": "Done", "config": {"output": {"got": {"$var": "$.input.start"}}}}
            }}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let instance = instance_id(&s, &alice, &conn, "simple").await;
    Fixture {
        s,
        mock,
        alice,
        integration,
        conn,
        action,
        flow,
        instance,
    }
}

/// The first `href` in `html` starting with `prefix`, up to its closing quote.
fn href_of(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(&format!("href=\"{prefix}"))? + "href=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// The run id a console redirect to a run's page names.
fn run_id_of(answer: &Answer) -> String {
    assert_eq!(answer.status, 303, "{}", answer.body);
    answer
        .location
        .strip_prefix("/console/flow-runs/")
        .unwrap_or_else(|| panic!("not a run page: {}", answer.location))
        .to_owned()
}

/// How many flow runs the workspace has.
async fn run_count(s: &Server) -> usize {
    let (status, page) = s.get("/flow-runs?limit=1000", &s.admin()).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().len()
}

/// Whether the flow instance is enabled, as the API says.
async fn enabled(s: &Server, instance: &str) -> Value {
    let (status, i) = s
        .get(&format!("/flow-instances/{instance}"), &s.admin())
        .await;
    assert_eq!(status, 200, "{i}");
    i["enabled"].clone()
}

#[tokio::test]
async fn actions_are_listed_shown_and_run_on_a_connection_from_the_console() {
    let f = fixture().await;
    let console = Console::sign_in(&f.s).await;

    let list = console.get("/console/actions").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list
        .body
        .contains(&format!("/console/actions/{}", f.action)));
    assert!(list.body.contains("Echo &lt;script&gt;"), "{}", list.body);
    assert!(!list.body.contains(HOSTILE));
    assert!(list.body.contains("api-request-to-external-app"));
    let none = console.get("/console/actions?search=nothing-like-it").await;
    assert!(none.body.contains("No actions match."), "{}", none.body);
    let by_integration = console
        .get(&format!("/console/actions?integration={}", f.integration))
        .await;
    assert!(by_integration.body.contains(&f.action));
    assert!(by_integration
        .body
        .contains(&format!("value=\"{}\" selected", f.integration)));
    let other = console
        .get("/console/actions?integration=no-such-integration")
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(console.get("/console/actions?cursor=x").await.status, 400);

    let page = console.get(&format!("/console/actions/{}", f.action)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "api-request-to-external-app",
        "/echo/console",
        "&quot;text&quot;",
        &format!("value=\"{}\"", f.conn),
        "This action has not run yet.",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert!(!page.body.contains(HOSTILE));

    // Run it: the app is called with the input, the output is shown escaped.
    let before = f.mock.request_count();
    let ran = console
        .post(
            &format!("/console/actions/{}/run", f.action),
            &[
                ("connectionId", f.conn.as_str()),
                ("input", &json!({"text": HOSTILE}).to_string()),
            ],
        )
        .await;
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert_eq!(f.mock.request_count(), before + 1);
    let seen = f.mock.last();
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("POST", "/echo/console")
    );
    assert!(
        ran.body.contains("&quot;method&quot;: &quot;POST&quot;"),
        "{}",
        ran.body
    );
    assert!(ran.body.contains("&lt;script&gt;alert"), "{}", ran.body);
    assert!(!ran.body.contains(HOSTILE));
    let log = href_of(&ran.body, "/console/action-run-logs/").expect("a link to the run log");
    let log_page = console.get(&log).await;
    assert_eq!(log_page.status, 200, "{}", log_page.body);
    assert!(log_page.body.contains("success"));
    assert!(
        log_page.body.contains("/echo/console"),
        "the call: {}",
        log_page.body
    );
    assert!(!log_page.body.contains(HOSTILE));
    // The action's page lists the run now.
    let page = console.get(&format!("/console/actions/{}", f.action)).await;
    assert!(page.body.contains(&log), "{}", page.body);

    // A failed run shows its error.
    let teapot = f
        .s
        .create(
            "actions",
            json!({"key": "teapot", "name": "Teapot", "integrationId": f.integration,
                "type": "api-request-to-external-app", "config": {"request": {"path": "/status/418"}}}),
        )
        .await;
    let failed = console
        .post(
            &format!("/console/actions/{}/run", teapot["id"].as_str().unwrap()),
            &[("connectionId", f.conn.as_str()), ("input", "")],
        )
        .await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert!(failed.body.contains("The run failed"), "{}", failed.body);
    assert!(failed.body.contains("/console/action-run-logs/"));

    // Invalid JSON names the field and runs nothing; so does an unknown connection.
    let before = f.mock.request_count();
    let bad = console
        .post(
            &format!("/console/actions/{}/run", f.action),
            &[("connectionId", f.conn.as_str()), ("input", "{nope")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("`input`"), "{}", bad.body);
    assert!(bad.body.contains("not valid JSON"));
    let unknown = console
        .post(
            &format!("/console/actions/{}/run", f.action),
            &[("connectionId", "con_nope"), ("input", "{}")],
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(f.mock.request_count(), before);
    f.s.finish().await;
}

#[tokio::test]
async fn flows_show_their_graph_enable_instances_and_start_runs_from_the_console() {
    let f = fixture().await;
    let console = Console::sign_in(&f.s).await;

    let list = console.get("/console/flows").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("Simple flow"));
    assert!(list.body.contains(&format!("/console/flows/{}", f.flow)));
    let none = console.get("/console/flows?search=zzz").await;
    assert!(none.body.contains("No flows match."));

    let page = console.get(&format!("/console/flows/{}", f.flow)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "<svg",
        "href=\"#node-start\"",
        "href=\"#node-done\"",
        "id=\"node-start\"",
        "id=\"node-done\"",
        "Start here",
        "transform-data",
        "$.input.start",
        f.instance.as_str(),
        f.conn.as_str(),
        "badge good",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }

    // Disable and enable: the same as PATCHing `enabled`.
    let path = format!("/console/flow-instances/{}/enabled", f.instance);
    let off = console.post(&path, &[("enabled", "false")]).await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(off.location, format!("/console/flows/{}#instances", f.flow));
    assert_eq!(enabled(&f.s, &f.instance).await, false);
    let page = console.get(&format!("/console/flows/{}", f.flow)).await;
    assert!(page.body.contains(">disabled<"), "{}", page.body);
    // A disabled instance does not run.
    let refused = console
        .post(
            &format!("/console/flow-instances/{}/run", f.instance),
            &[("input", "{}")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("disabled"));
    assert_eq!(run_count(&f.s).await, 0);
    let on = console.post(&path, &[("enabled", "true")]).await;
    assert_eq!(on.status, 303, "{}", on.body);
    assert_eq!(enabled(&f.s, &f.instance).await, true);
    assert_eq!(
        console.post(&path, &[("enabled", "maybe")]).await.status,
        400
    );
    assert_eq!(enabled(&f.s, &f.instance).await, true);

    // Start a run with a test input: to the run's page, which shows node states.
    let started = console
        .post(
            &format!("/console/flow-instances/{}/run", f.instance),
            &[("input", r#"{"n": 7}"#)],
        )
        .await;
    let run = run_id_of(&started);
    let done = finished(&f.s, &f.alice, &run).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["input"], json!({"n": 7}));
    let page = console.get(&started.location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "class=\"node completed\"",
        "id=\"node-start\"",
        "id=\"node-done\"",
        "data-final",
        "&quot;got&quot;",
        "&quot;n&quot;: 7",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert!(
        !page.body.contains("data-live"),
        "a finished run is not followed"
    );
    // The flow page's one form names the instance in a field.
    let again = console
        .post(
            "/console/flow-instances/start",
            &[
                ("instance", f.instance.as_str()),
                ("input", ""),
                ("startNodeKey", "start"),
            ],
        )
        .await;
    let again = run_id_of(&again);
    assert_eq!(finished(&f.s, &f.alice, &again).await["state"], "completed");

    // Invalid JSON and a start node that is no trigger start nothing.
    let count = run_count(&f.s).await;
    let bad = console
        .post(
            &format!("/console/flow-instances/{}/run", f.instance),
            &[("input", "[1,")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("`input`"), "{}", bad.body);
    let bad = console
        .post(
            &format!("/console/flow-instances/{}/run", f.instance),
            &[("input", "{}"), ("startNodeKey", HOSTILE)],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(!bad.body.contains(HOSTILE));
    assert_eq!(run_count(&f.s).await, count);
    f.s.finish().await;
}

/// A flow whose second node waits at the probe's gate.
fn held(probe: &Probe) -> Value {
    json!({
        "start": {"type": "api-trigger", "links": [{"key": "wait"}]},
        "wait": {"type": "custom-http-request", "config": probe.request("/gate", json!({"tag": "held"}))}
    })
}

/// GETs `path` as `console` and reads its event stream to the end (failing after
/// `secs`): status, content type, body.
async fn read_stream(console: &Console, path: &str, secs: u64) -> (u16, String, String) {
    let response = console
        .http
        .get(format!("{}{path}", console.base))
        .header("cookie", format!("osmosis_console={}", console.session))
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = tokio::time::timeout(Duration::from_secs(secs), response.text())
        .await
        .expect("the stream ends")
        .expect("body");
    (status, kind, body)
}

#[tokio::test]
async fn flow_runs_are_filtered_stopped_repeated_and_followed_live() {
    // In two parts, each boxed, so neither future grows large.
    let (f, runs) = Box::pin(follow_stop_and_repeat()).await;
    Box::pin(filter(&f, &runs)).await;
    f.s.finish().await;
}

/// The runs [`follow_stop_and_repeat`] made, for the filters.
struct Runs {
    failed: String,
    ok: String,
    running: String,
    queued: String,
    repeated: String,
    held_instance: String,
}

async fn follow_stop_and_repeat() -> (Fixture, Runs) {
    let f = fixture().await;
    let probe = Probe::start().await;
    let admin = f.s.admin();
    f.s.create(
        "flows",
        json!({"key": "held", "name": "Held", "integrationId": f.integration, "nodes": held(&probe)}),
    )
    .await;
    f.s.create(
        "flows",
        json!({"key": "bad", "name": "Bad", "integrationId": f.integration, "nodes": {
            "start": {"type": "api-trigger", "links": [{"key": "fail"}]},
            "fail": {"type": "custom-http-request", "config": probe.request("/fail", json!({}))}
        }}),
    )
    .await;
    let held_instance = instance_id(&f.s, &f.alice, &f.conn, "held").await;
    let bad_instance = instance_id(&f.s, &f.alice, &f.conn, "bad").await;
    let console = Console::sign_in(&f.s).await;
    let start = |instance: String| {
        let console = &console;
        async move {
            run_id_of(
                &console
                    .post(
                        &format!("/console/flow-instances/{instance}/run"),
                        &[("input", "{}")],
                    )
                    .await,
            )
        }
    };

    let failed = start(bad_instance.clone()).await;
    assert_eq!(finished(&f.s, &admin, &failed).await["state"], "failed");
    let ok = start(f.instance.clone()).await;
    assert_eq!(finished(&f.s, &admin, &ok).await["state"], "completed");

    // A running run's page follows it.
    let running = start(held_instance.clone()).await;
    probe.wait_at_gate(1).await;
    let page = console.get(&format!("/console/flow-runs/{running}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!(
        "data-live=\"/console/flow-runs/{running}/events\" data-fragment=\"/console/flow-runs/{running}/fragment\""
    )), "{}", page.body);
    assert!(page.body.contains(">Stop<"));
    // Node runs that only compute are stored with the next write: while the
    // run waits at the gate, its page knows it runs.
    assert!(page.body.contains("badge busy\">running"), "{}", page.body);
    let fragment = console
        .get(&format!("/console/flow-runs/{running}/fragment"))
        .await;
    assert_eq!(fragment.status, 200, "{}", fragment.body);
    assert!(fragment.body.contains("id=\"node-wait\""));
    assert!(!fragment.body.contains("data-final"));
    assert!(!fragment.body.contains("<html"), "the live part alone");
    // Its event stream opens now and ends once the run finishes.
    let events = {
        let console = Console {
            base: console.base.clone(),
            http: console.http.clone(),
            session: console.session.clone(),
            csrf: console.csrf.clone(),
        };
        let path = format!("/console/flow-runs/{running}/events");
        tokio::spawn(async move { read_stream(&console, &path, 30).await })
    };

    // Queued behind it on the same connection, then stopped from the console.
    let queued = start(f.instance.clone()).await;
    let stopped = console
        .post(&format!("/console/flow-runs/{queued}/stop"), &[])
        .await;
    assert_eq!(stopped.status, 303, "{}", stopped.body);
    assert_eq!(stopped.location, format!("/console/flow-runs/{queued}"));
    let (_, run) = f.s.get(&format!("/flow-runs/{queued}"), &admin).await;
    assert_eq!(run["state"], "stopped", "{run}");
    let page = console.get(&format!("/console/flow-runs/{queued}")).await;
    assert!(page.body.contains("data-final"));
    assert!(!page.body.contains(">Stop<"));

    probe.open_gate();
    assert_eq!(finished(&f.s, &admin, &running).await["state"], "completed");
    let (status, kind, body) = events.await.unwrap();
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    assert!(body.contains("data: completed"), "{body}");
    // A finished run's stream says so once and ends; its fragment is final.
    let (status, kind, body) = read_stream(
        &console,
        &format!("/console/flow-runs/{running}/events"),
        10,
    )
    .await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    assert_eq!(body.matches("data:").count(), 1, "{body}");
    let fragment = console
        .get(&format!("/console/flow-runs/{running}/fragment"))
        .await;
    assert!(fragment.body.contains("data-final"), "{}", fragment.body);
    assert!(fragment.body.contains("class=\"node completed\""));

    // Repeat: a new run of the same instance, node and input.
    let repeated = run_id_of(
        &console
            .post(&format!("/console/flow-runs/{ok}/repeat"), &[])
            .await,
    );
    assert_ne!(repeated, ok);
    let again = finished(&f.s, &admin, &repeated).await;
    let (_, first) = f.s.get(&format!("/flow-runs/{ok}"), &admin).await;
    assert_eq!(again["state"], "completed");
    assert_eq!(
        (
            &again["connectionFlowId"],
            &again["startNodeKey"],
            &again["input"]
        ),
        (
            &first["connectionFlowId"],
            &first["startNodeKey"],
            &first["input"]
        )
    );

    // The failed run's page shows its error and the failed node.
    let page = console.get(&format!("/console/flow-runs/{failed}")).await;
    assert!(page.body.contains("class=\"node failed\""), "{}", page.body);
    assert!(page.body.contains("class=\"error\""));

    let runs = Runs {
        failed,
        ok,
        running,
        queued,
        repeated,
        held_instance,
    };
    (f, runs)
}

async fn filter(f: &Fixture, runs: &Runs) {
    let console = Console::sign_in(&f.s).await;
    let Runs {
        failed,
        ok,
        running,
        queued,
        repeated,
        held_instance,
    } = runs;
    let list = |q: &'static str| {
        let console = &console;
        async move {
            let page = console.get(&format!("/console/flow-runs{q}")).await;
            assert_eq!(page.status, 200, "{q}: {}", page.body);
            page.body
        }
    };
    let all = list("").await;
    for id in [&failed, &ok, &running, &queued, &repeated] {
        assert!(all.contains(id.as_str()), "{id}");
    }
    // Newest first.
    assert!(all.find(repeated.as_str()) < all.find(failed.as_str()));
    let only_failed = list("?state=failed").await;
    assert!(only_failed.contains(failed.as_str()));
    assert!(!only_failed.contains(ok.as_str()));
    let stopped_list = list("?state=stopped").await;
    assert!(stopped_list.contains(queued.as_str()) && !stopped_list.contains(failed.as_str()));
    let by_flow = list("?flow=held").await;
    assert!(by_flow.contains(running.as_str()) && !by_flow.contains(ok.as_str()));
    let by_customer = list("?customer=alice").await;
    assert!(by_customer.contains(ok.as_str()));
    let by_customer = list("?customer=bob").await;
    assert!(!by_customer.contains(ok.as_str()));
    let future = list("?from=2999-01-01T00:00").await;
    assert!(future.contains("No flow runs match."), "{future}");
    let past = list("?to=2000-01-01T00:00:00Z").await;
    assert!(past.contains("No flow runs match."));
    let recent = list("?from=2000-01-01T00:00&to=2999-01-01T00:00:00").await;
    assert!(recent.contains(ok.as_str()));
    let by_connection = console
        .get(&format!("/console/flow-runs?connection={}", f.conn))
        .await;
    assert!(by_connection.body.contains(ok.as_str()));
    let by_instance = console
        .get(&format!("/console/flow-runs?instance={held_instance}"))
        .await;
    assert!(by_instance.body.contains(running.as_str()) && !by_instance.body.contains(ok.as_str()));
    for q in ["?state=nope", "?from=yesterday", "?cursor=x"] {
        let page = console.get(&format!("/console/flow-runs{q}")).await;
        assert_eq!(page.status, 400, "{q}: {}", page.body);
    }
    let page = console
        .get("/console/flow-runs?state=%3Cscript%3Ealert('x')%3C%2Fscript%3E")
        .await;
    assert_eq!(page.status, 400);
    assert!(!page.body.contains(HOSTILE));
}

#[tokio::test]
async fn other_workspaces_archived_elements_missing_tokens_and_odd_ids_change_nothing() {
    let f = fixture().await;
    let admin = f.s.admin();
    let console = Console::sign_in(&f.s).await;
    let ran = console
        .post(
            &format!("/console/actions/{}/run", f.action),
            &[("connectionId", f.conn.as_str()), ("input", "{}")],
        )
        .await;
    let log = href_of(&ran.body, "/console/action-run-logs/").expect("a run log");
    let run = run_id_of(
        &console
            .post(
                &format!("/console/flow-instances/{}/run", f.instance),
                &[("input", "{}")],
            )
            .await,
    );
    finished(&f.s, &admin, &run).await;
    let calls = f.mock.request_count();
    let runs = run_count(&f.s).await;
    let on = enabled(&f.s, &f.instance).await;
    assert_eq!(on, true);

    // Another workspace's session sees none of it and changes nothing.
    f.s.other_workspace_admin().await;
    let other = Console::sign_in_as(&f.s.url, "other-ws", "other-secret").await;
    for path in [
        format!("/console/actions/{}", f.action),
        log.clone(),
        format!("/console/flows/{}", f.flow),
        format!("/console/flow-runs/{run}"),
        format!("/console/flow-runs/{run}/fragment"),
        format!("/console/flow-runs/{run}/events"),
    ] {
        let answer = other.get(&path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
    }
    let list = other.get("/console/flow-runs").await;
    assert!(!list.body.contains(run.as_str()));
    let list = other.get("/console/actions").await;
    assert!(!list.body.contains(f.action.as_str()));
    let posts = [
        (
            format!("/console/actions/{}/run", f.action),
            vec![("connectionId", f.conn.as_str()), ("input", "{}")],
        ),
        (
            format!("/console/flow-instances/{}/enabled", f.instance),
            vec![("enabled", "false")],
        ),
        (
            format!("/console/flow-instances/{}/run", f.instance),
            vec![("input", "{}")],
        ),
        (
            "/console/flow-instances/start".to_owned(),
            vec![("instance", f.instance.as_str()), ("input", "{}")],
        ),
        (format!("/console/flow-runs/{run}/stop"), vec![]),
        (format!("/console/flow-runs/{run}/repeat"), vec![]),
    ];
    for (path, fields) in &posts {
        let answer = other.post(path, fields).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        // Without the CSRF token, this workspace's own session is refused too.
        let answer = console.post_raw(path, fields).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
    }
    assert_eq!(f.mock.request_count(), calls);
    assert_eq!(run_count(&f.s).await, runs);
    assert_eq!(enabled(&f.s, &f.instance).await, on);

    // Ids that try to leave their segment are ids like any other.
    for path in [
        "/console/actions/..%2F..%2Fconsole",
        "/console/flows/..%2Fflows",
        "/console/flow-runs/..%2F..%2Fconsole",
        "/console/flow-runs/..%2Fx/fragment",
        "/console/action-run-logs/%3Cscript%3E",
    ] {
        let answer = console.get(path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(!answer.body.contains("<script>"));
    }
    let answer = console.post("/console/flow-runs/..%2Fx/stop", &[]).await;
    assert_eq!(answer.status, 404);

    // Archived: the pages say so, and nothing runs or changes on them.
    let (status, _) =
        f.s.call(
            "DELETE",
            &format!("/actions/{}", f.action),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let page = console.get(&format!("/console/actions/{}", f.action)).await;
    assert_eq!(page.status, 410, "{}", page.body);
    assert!(page.body.contains("archived"));
    let answer = console
        .post(
            &format!("/console/actions/{}/run", f.action),
            &[("connectionId", f.conn.as_str()), ("input", "{}")],
        )
        .await;
    assert_eq!(answer.status, 410, "{}", answer.body);
    assert_eq!(f.mock.request_count(), calls);
    let (status, _) =
        f.s.call("DELETE", &format!("/flows/{}", f.flow), Some(&admin), None)
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        console
            .get(&format!("/console/flows/{}", f.flow))
            .await
            .status,
        410
    );
    for (path, fields) in &posts[1..4] {
        let answer = console.post(path, fields).await;
        assert_eq!(answer.status, 410, "{path}: {}", answer.body);
    }
    assert_eq!(run_count(&f.s).await, runs);
    assert_eq!(enabled(&f.s, &f.instance).await, on);
    // The finished run's page still opens.
    assert_eq!(
        console
            .get(&format!("/console/flow-runs/{run}"))
            .await
            .status,
        200
    );
    f.s.finish().await;
}
