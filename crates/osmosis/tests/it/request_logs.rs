//! What the log says, with the real binary: one line per request (method, route
//! template, status, duration, workspace, customer, request id), one per connect
//! success or failure and disconnect, one per outbound call at debug — and never
//! a token or a secret, wherever the client put it (the `Authorization` header,
//! `?token=`, `?access_token=`, a proxied path or query, a connection's input).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::mock_api::{self, API_KEY};
use crate::common::process::*;
use crate::common::*;

/// 32 bytes, base64: the credentials key the server is given (it must not be logged).
const ENCRYPTION_KEY: &str = "cmVxdWVzdC1sb2dzLXRlc3Qta2V5LTMyLWJ5dGVzLSE=";
const WRONG_KEY: &str = "sk-wrong-5f4e3d2c1b0a99887766";
const QUERY_TOKEN: &str = "qs-token-aa11bb22cc33dd44";
const ACCESS_TOKEN: &str = "qs-access-token-ee55ff66gg77";
const PATH_SECRET: &str = "path-secret-hh88ii99jj00";
const BAD_TOKEN: &str = "not-a-jwt-kk11ll22mm33";

/// What the test did, for the assertions: every request it made, with what its
/// log line must say, and the secrets it used.
struct Made {
    requests: Vec<Expected>,
    secrets: Vec<String>,
}

/// What one request's line must say.
struct Expected {
    method: &'static str,
    route: &'static str,
    status: u16,
    /// The test workspace's key and alice are named.
    workspace: bool,
    customer: bool,
}

/// [`Expected`] in one line.
fn expect(
    method: &'static str,
    route: &'static str,
    status: u16,
    workspace: bool,
    customer: bool,
) -> Expected {
    Expected {
        method,
        route,
        status,
        workspace,
        customer,
    }
}

/// Makes every kind of request against `url` (a server of the test workspace
/// whose outbound calls may reach the mock): admin and customer calls, a
/// headless connect and a failing one, a proxied call, the SSE endpoint with
/// `?token=`, a query with an `access_token`, a bad token, an unknown route and a
/// disconnect.
async fn make_requests(url: &str, mock: &mock_api::MockApi) -> Made {
    let admin = admin_token();
    let alice = customer_token("alice");
    let http = reqwest::Client::new();
    let mut requests = Vec::new();

    let send = |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut req = http.request(method.parse().unwrap(), format!("{url}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.expect("answered");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };

    let (status, connector) = send(
        "POST",
        "/connectors",
        Some(&admin),
        Some(mock_api::connector(&mock.url, "mockapi")),
    )
    .await;
    assert_eq!(status, 200, "{connector}");
    requests.push(expect("POST", "/connectors", 200, true, false));
    let (status, integration) = send(
        "POST",
        "/integrations",
        Some(&admin),
        Some(json!({"key": "mockapi", "name": "Mock", "connectorId": connector["id"]})),
    )
    .await;
    assert_eq!(status, 200, "{integration}");
    requests.push(expect("POST", "/integrations", 200, true, false));

    // A connect that works and one the API refuses (a wrong key).
    let (status, connection) = send(
        "POST",
        "/connections",
        Some(&alice),
        Some(json!({"integrationId": integration["id"], "input": {"apiKey": API_KEY}})),
    )
    .await;
    assert_eq!(status, 200, "{connection}");
    requests.push(expect("POST", "/connections", 200, true, true));
    let (failed, v) = send(
        "POST",
        "/connections",
        Some(&alice),
        Some(json!({"integrationId": integration["id"], "input": {"apiKey": WRONG_KEY}})),
    )
    .await;
    assert!((400..500).contains(&failed), "{failed} {v}");
    requests.push(expect("POST", "/connections", failed, true, true));

    // A proxied call with a secret in its path and in its query.
    let id = connection["id"].as_str().unwrap();
    let (status, v) = send(
        "GET",
        &format!("/connections/{id}/proxy/echo/{PATH_SECRET}?api_key={QUERY_TOKEN}&page=2"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    requests.push(expect(
        "GET",
        "/connections/{connection}/proxy/{*path}",
        201,
        true,
        true,
    ));

    // The SSE stream takes its token from the query: its head is enough.
    let resp = http
        .get(format!("{url}/sse/connection-events/req-1?token={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    requests.push(expect(
        "GET",
        "/sse/connection-events/{request_id}",
        200,
        true,
        true,
    ));

    // Tokens in the query of an ordinary route, beside the header.
    let (status, v) = send(
        "GET",
        &format!("/integrations?token={QUERY_TOKEN}&access_token={ACCESS_TOKEN}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    requests.push(expect("GET", "/integrations", 200, true, false));

    // A token that is not one, and a route that does not exist.
    let (status, _) = send("GET", "/connectors", Some(BAD_TOKEN), None).await;
    assert_eq!(status, 401);
    requests.push(expect("GET", "/connectors", 401, false, false));
    let (status, _) = send(
        "GET",
        &format!("/no/such/{PATH_SECRET}?access_token={ACCESS_TOKEN}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 404);
    requests.push(expect("GET", "(none)", 404, false, false));

    // Disconnecting: the connector's revoke runs, the connection is archived.
    let (status, v) = send("DELETE", &format!("/connections/{id}"), Some(&alice), None).await;
    assert_eq!(status, 200, "{v}");
    requests.push(expect("DELETE", "/connections/{selector}", 200, true, true));

    Made {
        requests,
        secrets: [
            admin,
            alice,
            WS_SECRET.to_owned(),
            API_KEY.to_owned(),
            WRONG_KEY.to_owned(),
            QUERY_TOKEN.to_owned(),
            ACCESS_TOKEN.to_owned(),
            PATH_SECRET.to_owned(),
            BAD_TOKEN.to_owned(),
            ENCRYPTION_KEY.to_owned(),
        ]
        .into(),
    }
}

#[track_caller]
fn assert_no_secrets(log: &str, secrets: &[String]) {
    for secret in secrets {
        // A JWT is also checked by its signature alone: a line that cut or
        // re-encoded the token would still carry it.
        let parts: Vec<&str> = secret.split('.').collect();
        let probes: Vec<&str> = if parts.len() == 3 {
            vec![secret.as_str(), parts[2]]
        } else {
            vec![secret.as_str()]
        };
        for probe in probes {
            assert!(
                !log.contains(probe),
                "the log holds a secret ({probe}):\n{log}"
            );
        }
    }
}

fn env<'a>(dir: &'a str, level: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("OSMOSIS_WORKSPACE_KEY", WS_KEY),
        ("OSMOSIS_WORKSPACE_SECRET", WS_SECRET),
        ("OSMOSIS_DATA_DIR", dir),
        ("OSMOSIS_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("RUST_LOG", level),
    ]
}

#[tokio::test]
async fn one_json_line_per_request_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let mock = mock_api::start_mock().await;
    let data = dir.path().join("data");
    let mut node = Running::start(&db, free_port(), &env(data.to_str().unwrap(), "info"));
    node.wait_ready().await;
    let made = make_requests(&node.url, &mock).await;
    let (status, _, log) = node.terminate();
    assert!(status.success(), "{log}");

    // The JSON format: every line is an object.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let fields = |l: &Value| l["fields"].clone();
    let request_lines: Vec<Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .map(fields)
        .collect();
    // /health (the readiness probe) is at debug: one line per request made here.
    assert_eq!(
        request_lines.len(),
        made.requests.len(),
        "{request_lines:#?}"
    );
    let mut ids = std::collections::HashSet::new();
    for (line, expected) in request_lines.iter().zip(&made.requests) {
        assert_eq!(line["method"], expected.method, "{line}");
        assert_eq!(line["route"], expected.route, "{line}");
        assert_eq!(line["status"], expected.status, "{line}");
        let workspace = expected.workspace.then_some(WS_KEY);
        assert_eq!(line["workspace"].as_str(), workspace, "{line}");
        let customer = expected.customer.then_some("alice");
        assert_eq!(line["customer"].as_str(), customer, "{line}");
        assert!(line["duration_ms"].as_f64().is_some(), "{line}");
        let id = line["request_id"].as_str().expect("a request id");
        assert!(ids.insert(id.to_owned()), "request ids differ: {line}");
    }
    // The connection's story, at info.
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    for wanted in ["connected", "connect failed", "disconnected"] {
        assert_eq!(
            messages.iter().filter(|m| **m == wanted).count(),
            1,
            "one `{wanted}` in {messages:?}"
        );
    }
    let failed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "connect failed")
        .unwrap();
    assert_eq!(failed["fields"]["workspace"], WS_KEY, "{failed}");
    assert!(failed["fields"]["error"].is_string(), "{failed}");
    // A line the request caused carries the request's span.
    let request_span = failed["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["name"] == "request"))
        .unwrap_or_else(|| panic!("in a request span: {failed}"));
    assert_eq!(request_span["route"], "/connections", "{failed}");
    assert_eq!(request_span["workspace"], WS_KEY, "{failed}");
    assert_eq!(request_span["customer"], "alice", "{failed}");
    assert!(request_span["request_id"].is_string(), "{failed}");
    assert_no_secrets(&log, &made.secrets);
    drop_database(pg).await;
}

/// The pretty format at `RUST_LOG=debug`: the request lines and one line per
/// outbound call with its URL masked — and still no secret anywhere in the log,
/// the libraries' debug lines included.
#[tokio::test]
async fn debug_lines_name_outbound_calls_without_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let mock = mock_api::start_mock().await;
    let data = dir.path().join("data");
    let log_path = dir.path().join("stderr.log");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = command(
        &["serve", "--listen", &listen, "--database", &db],
        &env(data.to_str().unwrap(), "debug"),
    )
    .env("NO_COLOR", "1")
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log_path).unwrap())
    .spawn()
    .unwrap();
    let url = format!("http://{listen}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{url}/health"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let made = make_requests(&url, &mock).await;
    send_signal(child.id(), "TERM");
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let plain = strip_ansi(&log);
    let request_lines: Vec<&str> = plain
        .lines()
        .filter(|l| l.contains("osmosis_api::request_span: request "))
        .collect();
    assert!(
        request_lines.iter().any(|l| l
            .contains("method=GET route=/connections/{connection}/proxy/{*path} status=201")
            && l.contains("workspace=test-ws customer=alice")),
        "{request_lines:#?}"
    );
    // /health is logged at debug.
    assert!(
        request_lines.iter().any(|l| l.contains("route=/health")),
        "{request_lines:#?}"
    );
    let outbound: Vec<&str> = plain
        .lines()
        .filter(|l| l.contains("outbound call"))
        .collect();
    assert!(
        outbound
            .iter()
            .any(|l| l.contains("/echo/") && l.contains("api_key=***") && l.contains("page=2")),
        "{outbound:#?}"
    );
    // The path secret is the external API's business and goes out as sent; every
    // other secret appears nowhere.
    let secrets: Vec<String> = made
        .secrets
        .into_iter()
        .filter(|s| s != PATH_SECRET)
        .collect();
    assert_no_secrets(&plain, &secrets);
    drop_database(pg).await;
}

/// The text without terminal colour sequences (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
