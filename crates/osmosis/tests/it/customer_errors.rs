//! End customers never see developer errors: an integration whose OAuth client id
//! is not set shows "not set up yet — contact <workspace>" on every connect screen,
//! with no button that could only lead to an error; the API tells an admin which
//! parameters are missing (`configuration`), a customer token whom to contact with
//! the detail in `data`; and every other failure on a connect screen is a short
//! sentence with the request id as a reference, the technical message logged (and
//! in the result event's `errorData.data.detail` for the developer).

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::common::*;

const NOT_SET_UP: &str = "This integration is not set up yet — contact Test.";

/// A HubSpot-like OAuth 2 connector: `clientId` and `clientSecret` are required
/// connector parameters, and `getOAuthConfig` takes them from there.
fn oauth_connector(key: &str, required: bool) -> Value {
    let mut c = json!({
        "key": key,
        "name": "HubSpot",
        "type": "oauth2",
        "parametersSchema": {
            "type": "object",
            "properties": {"clientId": {"type": "string"}, "clientSecret": {"type": "string"}},
        },
        "getOAuthConfig": {"type": "mapping", "mapping": {
            "clientId": {"$var": "$.connectorParameters.clientId"},
            "clientSecret": {"$var": "$.connectorParameters.clientSecret"},
            "authorizeUri": "https://provider.example/authorize",
            "tokenUri": "https://provider.example/token",
        }},
        // No `test`: nothing here calls the provider.
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": "https://provider.example/api"}}
    });
    if required {
        c["parametersSchema"]["required"] = json!(["clientId", "clientSecret"]);
    }
    c
}

async fn install(s: &Server, key: &str, required: bool, parameters: Option<Value>) -> Value {
    let c = s.create("connectors", oauth_connector(key, required)).await;
    let mut body = json!({"key": key, "name": "HubSpot", "connectorId": c["id"]});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    s.create("integrations", body).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A page as the browser got it: status, `Location`, `x-request-id`, body.
struct Page {
    status: u16,
    location: String,
    request_id: String,
    body: String,
}

async fn page(request: reqwest::RequestBuilder) -> Page {
    let resp = request.send().await.expect("answered");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (location, request_id) = (header("location"), header("x-request-id"));
    Page {
        status: resp.status().as_u16(),
        location,
        request_id,
        body: resp.text().await.unwrap(),
    }
}

impl Page {
    /// The text of `<p id="connect-error" …>`: what the customer reads.
    fn error_text(&self) -> String {
        let start = self
            .body
            .find("id=\"connect-error\"")
            .unwrap_or_else(|| panic!("no #connect-error in {}", self.body));
        let rest = &self.body[start..];
        let text = &rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()];
        text.replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    /// The result event the page posts to the SDK.
    fn event(&self) -> Value {
        let start = self.body.find("var EVENT=").expect("a result page") + "var EVENT=".len();
        let end = start + self.body[start..].find(";var target=").unwrap();
        serde_json::from_str(&self.body[start..end]).unwrap()
    }

    /// The page offers nothing that starts a connect.
    fn assert_no_way_forward(&self) {
        for start in ["<form", "connect-submit", "Continue to", "connect-retry"] {
            assert!(
                !self.body.contains(start),
                "`{start}` on a not-set-up page: {}",
                self.body
            );
        }
        assert!(self.body.contains("id=\"connect-cancel\""), "{}", self.body);
    }

    #[track_caller]
    fn assert_not_set_up(&self) {
        assert_eq!(self.status, 400, "{}", self.body);
        assert_eq!(self.error_text(), NOT_SET_UP, "{}", self.body);
        self.assert_no_way_forward();
        assert!(
            self.body
                .contains(&format!("Reference: {}", self.request_id)),
            "the reference the customer can quote: {}",
            self.body
        );
    }
}

/// What the server logs while `f` runs on this thread (the test's runtime runs
/// the server on it too).
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buffer);
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || Logs(Arc::clone(&sink)))
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

fn logged(buffer: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

#[tokio::test]
async fn customer_errors_an_integration_without_its_client_id_is_not_set_up_on_every_screen() {
    let (logs, _guard) = capture_logs();
    let s = Server::start().await;
    let integration = install(&s, "hubspot", true, None).await;
    assert_eq!(integration["hasMissingParameters"], true);
    let http = no_redirects();
    let token = s.customer("alice");

    // The hosted screen (ui.connect), by form post, query string and integration path.
    let form = [("token", token.as_str()), ("integrationKey", "hubspot")];
    let posted = page(http.post(format!("{}/screens/connect", s.url)).form(&form)).await;
    posted.assert_not_set_up();
    assert!(
        posted.body.contains("<h1>Connect HubSpot</h1>"),
        "{}",
        posted.body
    );
    assert!(!posted.body.contains("clientId"), "{}", posted.body);
    page(http.get(format!("{}/screens/connect", s.url)).query(&form))
        .await
        .assert_not_set_up();
    page(
        http.post(format!("{}/screens/integrations/hubspot/connect", s.url))
            .form(&[("token", token.as_str())]),
    )
    .await
    .assert_not_set_up();
    // Submitting the form anyway (an old page) lands on the same message.
    let mut submitted = form.to_vec();
    submitted.push(("step", "submit"));
    page(
        http.post(format!("{}/screens/connect", s.url))
            .form(&submitted),
    )
    .await
    .assert_not_set_up();

    // The SDK's connect(): the page says so and the SDK hears the configuration
    // error, with the missing parameters and the detail for the developer.
    let payload = json!({"token": token, "integrationKey": "hubspot", "requestId": "r-1"});
    let result = page(
        http.post(format!("{}/connect", s.url))
            .form(&[("payload", payload.to_string())]),
    )
    .await;
    result.assert_not_set_up();
    let event = result.event();
    assert_eq!(event["type"], "newConnectionFailure", "{event}");
    assert_eq!(event["error"], NOT_SET_UP);
    assert_eq!(event["errorData"]["type"], "configuration", "{event}");
    assert_eq!(event["errorData"]["key"], "missing_connector_parameters");
    assert_eq!(event["errorData"]["message"], NOT_SET_UP);
    assert_eq!(
        event["errorData"]["data"]["missingParameters"],
        json!(["clientId", "clientSecret"])
    );
    let detail = event["errorData"]["data"]["detail"].as_str().unwrap();
    assert!(detail.contains("`clientId`"), "{detail}");
    // …on SSE as well.
    let sse = s
        .http
        .get(format!("{}/sse/connection-events/r-1?token={token}", s.url))
        .send()
        .await
        .unwrap();
    let mut sse = sse;
    let mut text = String::new();
    while let Some(chunk) = sse.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("data:") && text.contains("\n\n") {
            break;
        }
    }
    assert!(text.contains("missing_connector_parameters"), "{text}");

    // The legacy popup and a redirect back to the app.
    let popup = page(http.get(format!("{}/connection-popup", s.url)).query(&form)).await;
    popup.assert_not_set_up();
    let back = json!({"token": token, "integrationKey": "hubspot", "redirectUri": "https://app.example/back"});
    let redirected = page(
        http.post(format!("{}/connect", s.url))
            .form(&[("payload", back.to_string())]),
    )
    .await;
    assert_eq!(redirected.status, 303);
    let url = url::Url::parse(&redirected.location).unwrap();
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["error"], NOT_SET_UP);
    let error_data: Value = serde_json::from_str(&pairs["errorData"]).unwrap();
    assert_eq!(error_data["type"], "configuration");

    // The status screen of a connection (made headless, with its credentials)
    // offers no reconnect while the integration is not set up.
    let (status, conn) = s
        .post(
            "/connections",
            &token,
            json!({"integrationId": integration["id"], "credentials": {"access_token": "at"}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let id = conn["id"].as_str().unwrap();
    let screen = page(
        http.get(format!("{}/screens/connection", s.url))
            .query(&[("token", token.as_str()), ("connectionId", id)]),
    )
    .await;
    assert_eq!(screen.error_text(), NOT_SET_UP, "{}", screen.body);
    assert!(
        !screen.body.contains("connection-reconnect"),
        "{}",
        screen.body
    );

    // The developer finds the detail in the log, under the request's id.
    let log = logged(&logs);
    let line = log
        .lines()
        .find(|l| l.contains(&posted.request_id) && l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warn line for {} in:\n{log}", posted.request_id));
    assert!(line.contains("clientId"), "{line}");
    assert!(line.contains("missing_connector_parameters"), "{line}");

    // Once the parameters are set, the screen offers to continue to HubSpot.
    let (status, _) = s
        .patch(
            "/integrations/hubspot",
            &s.admin(),
            json!({"parameters": {"clientId": "cid", "clientSecret": "cs"}}),
        )
        .await;
    assert_eq!(status, 200);
    let ready = page(http.post(format!("{}/screens/connect", s.url)).form(&form)).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(ready.body.contains("Continue to HubSpot"), "{}", ready.body);
    assert!(
        !ready.body.contains("id=\"connect-error\""),
        "{}",
        ready.body
    );
    s.finish().await;
}

#[tokio::test]
async fn customer_errors_the_api_names_the_missing_parameters_to_admins_and_the_contact_to_customers(
) {
    let s = Server::start().await;
    install(&s, "hubspot", true, None).await;
    let alice = s.customer("alice");
    // Alice exists once her token was used.
    assert_eq!(s.get("/connections", &alice).await.0, 200);

    let admin = s
        .post(
            "/connection-requests",
            &s.admin(),
            json!({"integrationKey": "hubspot", "userId": "alice"}),
        )
        .await;
    assert_error(&admin, 400, "configuration", "missing_connector_parameters");
    let message = admin.1["message"].as_str().unwrap();
    assert!(message.contains("`clientId`"), "{message}");
    assert!(message.contains("`clientSecret`"), "{message}");
    assert_eq!(
        admin.1["data"]["missingParameters"],
        json!(["clientId", "clientSecret"])
    );

    let customer = s
        .post(
            "/connection-requests",
            &alice,
            json!({"integrationKey": "hubspot"}),
        )
        .await;
    assert_error(
        &customer,
        400,
        "configuration",
        "missing_connector_parameters",
    );
    assert_eq!(customer.1["message"], NOT_SET_UP);
    assert_eq!(
        customer.1["data"]["missingParameters"],
        json!(["clientId", "clientSecret"])
    );
    assert!(
        customer.1["data"]["detail"]
            .as_str()
            .unwrap()
            .contains("`clientId`"),
        "{}",
        customer.1
    );

    // A customer's own OAuth app (connectorParameters) sets them up.
    let own = s
        .post(
            "/connection-requests",
            &alice,
            json!({"integrationKey": "hubspot", "connectorParameters": {"clientId": "mine", "clientSecret": "shh"}}),
        )
        .await;
    assert_eq!(own.0, 200, "{}", own.1);
    s.finish().await;
}

#[tokio::test]
async fn customer_errors_an_oauth_config_without_a_client_id_is_not_set_up_either() {
    // The connector does not declare its parameters required: the missing client
    // id shows when getOAuthConfig runs, and is still the integration's setup.
    let s = Server::start().await;
    install(&s, "loose", false, None).await;
    let http = no_redirects();
    let token = s.customer("alice");
    let form = [
        ("token", token.as_str()),
        ("integrationKey", "loose"),
        ("step", "submit"),
    ];
    let submitted = page(http.post(format!("{}/screens/connect", s.url)).form(&form)).await;
    submitted.assert_not_set_up();
    assert!(!submitted.body.contains("clientId"), "{}", submitted.body);

    let payload = json!({"token": token, "integrationKey": "loose"});
    let result = page(
        http.post(format!("{}/connect", s.url))
            .form(&[("payload", payload.to_string())]),
    )
    .await;
    result.assert_not_set_up();
    let event = result.event();
    assert_eq!(event["errorData"]["type"], "configuration", "{event}");
    assert_eq!(event["errorData"]["key"], "invalid_oauth_config", "{event}");
    assert!(
        event["errorData"]["data"]["detail"]
            .as_str()
            .unwrap()
            .contains("`clientId` is missing"),
        "{event}"
    );
    s.finish().await;
}

#[tokio::test]
async fn customer_errors_every_other_failure_is_a_short_sentence_with_a_reference() {
    let s = Server::start().await;
    let mock = mock_api::start_mock().await;
    mock_api::install(&s, mock_api::connector(&mock.url, "keyapp")).await;
    install(
        &s,
        "hubspot",
        true,
        Some(json!({"clientId": "cid", "clientSecret": "csecret-77"})),
    )
    .await;
    let http = no_redirects();
    let token = s.customer("alice");

    // A wrong API key: the form again, with what the customer can do.
    let wrong = page(http.post(format!("{}/screens/connect", s.url)).form(&[
        ("token", token.as_str()),
        ("integrationKey", "keyapp"),
        ("step", "submit"),
        ("input.apiKey", "sk-wrong"),
    ]))
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(
        wrong.error_text(),
        "Mock API did not accept these credentials. Check them and try again."
    );
    assert!(
        wrong.body.contains("id=\"connect-form\""),
        "the form is kept"
    );
    assert!(
        !wrong.body.contains("responded with status"),
        "{}",
        wrong.body
    );
    assert!(!wrong.body.contains("bad key"), "{}", wrong.body);
    assert!(
        wrong
            .body
            .contains(&format!("Reference: {}", wrong.request_id)),
        "{}",
        wrong.body
    );

    // An expired or forged token.
    let forged = page(
        http.post(format!("{}/screens/connect", s.url))
            .form(&[("token", "not-a-token"), ("integrationKey", "keyapp")]),
    )
    .await;
    assert_eq!(forged.status, 401);
    assert_eq!(
        forged.error_text(),
        "This connect link has expired. Go back and start connecting again."
    );

    // A callback with a state that is not one.
    let replayed = page(http.get(format!(
        "{}/oauth-callback?state=test-ws.forged&code=x",
        s.url
    )))
    .await;
    assert_eq!(replayed.status, 400);
    assert_eq!(
        replayed.error_text(),
        "This connect link is invalid, expired or already used. Start connecting again."
    );
    assert!(replayed.body.contains("Reference: "), "{}", replayed.body);

    // The provider denies access: the customer reads a sentence, the developer
    // gets the provider's words in errorData.data.detail.
    let payload = json!({"token": token, "integrationKey": "hubspot"});
    let started = page(
        http.post(format!("{}/connect", s.url))
            .form(&[("payload", payload.to_string())]),
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let authorize = url::Url::parse(&started.location).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    let denied = page(http.get(format!("{}/oauth-callback", s.url)).query(&[
        ("state", state.as_str()),
        ("error", "access_denied"),
        ("error_description", "The user clicked no"),
    ]))
    .await;
    assert_eq!(denied.status, 400, "{}", denied.body);
    assert_eq!(
        denied.error_text(),
        "Access was not granted in HubSpot, so nothing was connected. You can try again."
    );
    let event = denied.event();
    assert_eq!(event["errorData"]["key"], "oauth_denied", "{event}");
    assert!(
        event["errorData"]["data"]["detail"]
            .as_str()
            .unwrap()
            .contains("The user clicked no"),
        "{event}"
    );
    assert!(
        denied.body.contains("connect-retry"),
        "denied can be retried"
    );

    // No page shows a secret.
    for p in [&wrong, &forged, &replayed, &denied] {
        assert!(!p.body.contains("csecret-77"), "{}", p.body);
        assert!(!p.body.contains(mock_api::API_KEY), "{}", p.body);
    }
    s.finish().await;
}
