//! The console's integrations, connectors and customers
//! (`/console/integrations`, `/console/connectors`, `/console/customers`): what
//! each page shows, that the OAuth client form sets the integration's
//! parameters as the API's PATCH does and never shows the secret back, and that
//! another workspace, an archived element, a forged form or hostile input
//! changes and reveals nothing.

use osmosis_connectors::http::AllowList;
use serde_json::{json, Value};

use crate::common::console::Console;
use crate::common::mock_api::{connect, connector, install, start_mock};
use crate::common::*;

const SECRET: &str = "cs-very-secret-4f1e2d";

/// An OAuth connector requiring a client id and secret, with an operation, a
/// data collection with events and an auth option; an integration on it with
/// an https logo.
async fn oauth_integration(s: &Server) -> (Value, Value) {
    let mut definition = oauth2_connector("https://provider.example");
    definition["parametersSchema"] = json!({
        "type": "object",
        "properties": {
            "clientId": {"type": "string", "title": "Client ID"},
            "clientSecret": {"type": "string", "title": "Client Secret"}
        },
        "required": ["clientId", "clientSecret"]
    });
    definition["operations"] = json!([{"key": "whoami", "name": "Who am I",
        "description": "Reads the signed-in user",
        "run": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}}]);
    definition["data"] = json!({"contacts": {"name": "Contacts",
        "list": {"type": "rest-api-mapping", "mapping": {"path": "/contacts", "method": "GET"}},
        "events": {"all": {"type": "pull-latest-records"}}}});
    definition["events"] = json!({"contact-merged": {"name": "Contact merged"}});
    definition["options"] = json!({"sandbox": {"title": "Sandbox account", "type": "oauth2"}});
    let connector = s.create("connectors", definition).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "crm", "name": "Acme CRM", "connectorId": connector["id"],
                   "logoUri": "https://cdn.example/acme.png"}),
        )
        .await;
    (connector, integration)
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("an id")
}

#[tokio::test]
async fn the_integrations_list_and_page_show_the_integration() {
    let s = Server::start().await;
    let (connector, integration) = oauth_integration(&s).await;
    s.create("integrations", json!({"key": "bare", "name": "Bare one"}))
        .await;
    let console = Console::sign_in(&s).await;

    let list = console.get("/console/integrations").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let b = &list.body;
    assert!(b.contains("<h1>Integrations</h1>"), "{b}");
    assert!(
        b.contains(r#"<img class="logo" src="https://cdn.example/acme.png" alt="Acme CRM">"#),
        "{b}"
    );
    assert!(
        b.contains(&format!(
            r#"<a href="/console/integrations/{}">Acme CRM</a>"#,
            id(&integration)
        )),
        "{b}"
    );
    assert!(b.contains("<code>crm</code>"), "{b}");
    assert!(
        b.contains(&format!(
            r#"<a href="/console/connectors/{}">OAuth API</a>"#,
            id(&connector)
        )),
        "{b}"
    );
    assert!(b.contains("oauth2"), "{b}");
    assert!(b.contains("parameters missing"), "{b}");
    assert!(
        b.contains("not set up"),
        "the integration without a connector: {b}"
    );

    // Search narrows the list.
    let found = console.get("/console/integrations?search=bare").await;
    assert!(found.body.contains("Bare one"));
    assert!(!found.body.contains("Acme CRM"));

    let page = console
        .get(&format!("/console/integrations/{}", id(&integration)))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("<h1>Acme CRM</h1>"), "{b}");
    assert!(b.contains(r#"<dl class="facts">"#), "{b}");
    assert!(
        b.contains(&format!(
            r#"href="/console/connections?integration={}">0</a>"#,
            id(&integration)
        )),
        "{b}"
    );
    assert!(b.contains("Sandbox account"), "the auth option: {b}");
    assert!(b.contains("No secret is set."), "{b}");
    // A key works as the id does, as on the API.
    assert_eq!(console.get("/console/integrations/crm").await.status, 200);
    s.finish().await;
}

#[tokio::test]
async fn the_oauth_client_form_sets_the_parameters_and_never_shows_the_secret() {
    let s = Server::start().await;
    let (_, integration) = oauth_integration(&s).await;
    let iid = id(&integration).to_owned();
    // A parameter set through the API stays.
    s.patch(
        &format!("/integrations/{iid}/parameters"),
        &s.admin(),
        json!({"scopes": ["read"]}),
    )
    .await;
    let console = Console::sign_in(&s).await;
    let path = format!("/console/integrations/{iid}/parameters");
    let saved = console
        .post(
            &path,
            &[("clientId", "client-123"), ("clientSecret", SECRET)],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location,
        format!("/console/integrations/{iid}?done=saved")
    );
    let (status, params) = s
        .get(&format!("/integrations/{iid}/parameters"), &s.admin())
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        params,
        json!({"clientId": "client-123", "clientSecret": SECRET, "scopes": ["read"]})
    );
    let (_, shown) = s.get(&format!("/integrations/{iid}"), &s.admin()).await;
    assert_eq!(shown["hasMissingParameters"], false, "{shown}");

    let page = console.get(&saved.location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Saved."), "{}", page.body);
    assert!(page.body.contains(r#"value="client-123""#), "{}", page.body);
    assert!(page.body.contains("A secret is set"), "{}", page.body);
    assert!(!page.body.contains(SECRET), "{}", page.body);
    assert!(page.body.contains("<code>scopes</code>"), "{}", page.body);
    let list = console.get("/console/integrations").await;
    assert!(!list.body.contains(SECRET));
    assert!(list.body.contains("ready"), "{}", list.body);

    // An empty secret keeps the one set; a new client id replaces the old.
    let again = console
        .post(&path, &[("clientId", "client-456"), ("clientSecret", "")])
        .await;
    assert_eq!(again.status, 303);
    let (_, params) = s
        .get(&format!("/integrations/{iid}/parameters"), &s.admin())
        .await;
    assert_eq!(params["clientId"], "client-456");
    assert_eq!(params["clientSecret"], SECRET);
    s.finish().await;
}

#[tokio::test]
async fn integrations_refuse_other_workspaces_archives_forged_and_hostile_requests() {
    let s = Server::start().await;
    let (_, integration) = oauth_integration(&s).await;
    let iid = id(&integration).to_owned();
    let console = Console::sign_in(&s).await;
    let params = || async {
        s.get(&format!("/integrations/{iid}/parameters"), &s.admin())
            .await
            .1
    };

    // Another workspace's admin: nothing of this one, and its form changes nothing.
    s.other_workspace_admin().await;
    let other = Console::sign_in_as(&s.url, "other-ws", "other-secret").await;
    assert_eq!(
        other
            .get(&format!("/console/integrations/{iid}"))
            .await
            .status,
        404
    );
    let posted = other
        .post(
            &format!("/console/integrations/{iid}/parameters"),
            &[("clientId", "evil"), ("clientSecret", "evil")],
        )
        .await;
    assert_eq!(posted.status, 404, "{}", posted.body);
    assert!(!other
        .get("/console/integrations")
        .await
        .body
        .contains("Acme CRM"));

    // Without the CSRF token: refused, nothing changed.
    let forged = console
        .post_raw(
            &format!("/console/integrations/{iid}/parameters"),
            &[("clientId", "evil")],
        )
        .await;
    assert_eq!(forged.status, 403);
    // A form over the size limit is refused whole.
    let big = "x".repeat(2 * 1024 * 1024);
    let huge = console
        .post(
            &format!("/console/integrations/{iid}/parameters"),
            &[("clientId", big.as_str())],
        )
        .await;
    assert!(huge.status == 400 || huge.status == 413, "{}", huge.status);
    assert_eq!(params().await, json!({}));

    // Hostile input is escaped or refused.
    let hostile = console
        .get("/console/integrations?search=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(hostile.status, 200);
    assert!(
        !hostile.body.contains("<script>alert(1)"),
        "{}",
        hostile.body
    );
    assert!(hostile.body.contains("&lt;script&gt;alert(1)"));
    for path in [
        "/console/integrations/..%2F..",
        "/console/integrations/%3Cscript%3E",
        "/console/connectors/..%2F..",
        "/console/customers/..%2F..",
    ] {
        let answer = console.get(path).await;
        assert!(
            answer.status == 404 || answer.status == 400,
            "{path}: {}",
            answer.status
        );
        assert!(!answer.body.contains("<script>"), "{path}");
    }
    let bad_cursor = console.get("/console/integrations?cursor=nope").await;
    assert_eq!(bad_cursor.status, 400);

    // Archived: its page says so (410), and its form changes nothing.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/integrations/{iid}"),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let gone = console.get(&format!("/console/integrations/{iid}")).await;
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert!(gone.body.contains("is archived"), "{}", gone.body);
    let posted = console
        .post(
            &format!("/console/integrations/{iid}/parameters"),
            &[("clientId", "late"), ("clientSecret", "late")],
        )
        .await;
    assert_eq!(posted.status, 410);
    let (_, restored) = s
        .post(
            &format!("/integrations/{iid}/restore"),
            &s.admin(),
            json!({}),
        )
        .await;
    assert!(restored["id"].is_string(), "{restored}");
    assert_eq!(params().await, json!({}));
    s.finish().await;
}

#[tokio::test]
async fn connectors_show_their_auth_operations_data_and_events() {
    let s = Server::start().await;
    let (connector, _) = oauth_integration(&s).await;
    let console = Console::sign_in(&s).await;
    let list = console.get("/console/connectors").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains(&format!(
            r#"<a href="/console/connectors/{}">OAuth API</a>"#,
            id(&connector)
        )),
        "{}",
        list.body
    );
    assert!(list.body.contains("custom"));

    let page = console
        .get(&format!("/console/connectors/{}", id(&connector)))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    for expected in [
        "<h1>OAuth API</h1>",
        "oauth2",
        "Sandbox account",
        "<code>clientSecret</code>",
        "<code>whoami</code>",
        "Who am I",
        "Reads the signed-in user",
        "<code>contacts</code>",
        "Contacts",
        "list",
        "<code>all</code>",
        "<code>contact-merged</code>",
        "Contact merged",
    ] {
        assert!(b.contains(expected), "{expected}: {b}");
    }
    // The definition's functions are not shown (this one holds a client secret).
    assert!(!b.contains("csecret"), "{b}");

    s.other_workspace_admin().await;
    let other = Console::sign_in_as(&s.url, "other-ws", "other-secret").await;
    assert_eq!(
        other
            .get(&format!("/console/connectors/{}", id(&connector)))
            .await
            .status,
        404
    );
    s.finish().await;
}

#[tokio::test]
async fn shipped_connectors_are_listed_as_shipped() {
    let s = Server::start_shipped(false, AllowList::default()).await;
    let console = Console::sign_in(&s).await;
    let list = console.get("/console/connectors?search=github").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("GitHub"), "{}", list.body);
    assert!(list.body.contains("shipped"), "{}", list.body);
    assert!(!list.body.contains("HubSpot"), "{}", list.body);
    let (_, connectors) = s.get("/connectors?search=github", &s.admin()).await;
    let github = &connectors["items"][0];
    let page = console
        .get(&format!("/console/connectors/{}", id(github)))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<code>issues</code>"), "{}", page.body);
    assert!(page.body.contains("Client ID"), "{}", page.body);
    s.finish().await;
}

#[tokio::test]
async fn customers_show_their_connections() {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = install(&s, connector(&mock.url, "crm")).await;
    let alice = s.customer("alice");
    let conn = connect(&s, &alice, &integration).await;
    let (_, me) = s.get("/self", &alice).await;
    let alice_id = id(&me).to_owned();
    s.get("/self", &s.customer("bob")).await;
    let console = Console::sign_in(&s).await;

    let list = console.get("/console/customers").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body
            .contains(&format!(r#"<a href="/console/customers/{alice_id}">"#)),
        "{}",
        list.body
    );
    assert!(list.body.contains("<code>alice</code>"));
    assert!(list.body.contains("<code>bob</code>"));
    let searched = console.get("/console/customers?search=bob").await;
    assert!(!searched.body.contains("<code>alice</code>"));

    let page = console.get(&format!("/console/customers/{alice_id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("<code>alice</code>"), "{b}");
    assert!(
        b.contains(&format!(r#"<a href="/console/connections/{}">"#, id(&conn))),
        "{b}"
    );
    assert!(b.contains("healthy"), "{b}");
    assert!(b.contains("Mock API"), "the integration's name: {b}");
    assert!(
        b.contains(&format!("/console/connections?customer={alice_id}")),
        "{b}"
    );

    s.other_workspace_admin().await;
    let other = Console::sign_in_as(&s.url, "other-ws", "other-secret").await;
    assert_eq!(
        other
            .get(&format!("/console/customers/{alice_id}"))
            .await
            .status,
        404
    );
    assert!(!other.get("/console/customers").await.body.contains("alice"));
    s.finish().await;
}

#[tokio::test]
async fn lists_page_by_50_and_keep_their_search() {
    let s = Server::start().await;
    for n in 0..51 {
        s.create(
            "integrations",
            json!({"key": format!("int-{n:02}"), "name": format!("Paged {n:02}")}),
        )
        .await;
    }
    let console = Console::sign_in(&s).await;
    let first = console.get("/console/integrations?search=paged").await;
    assert!(first.body.contains("Paged 00"));
    assert!(first.body.contains("Paged 49"));
    assert!(!first.body.contains("Paged 50"));
    let marker = r#"<a rel="next" href=""#;
    let at = first.body.find(marker).expect("a next page") + marker.len();
    let next = first.body[at..at + first.body[at..].find('"').unwrap()].replace("&amp;", "&");
    assert!(next.contains("search=paged"), "{next}");
    let second = console.get(&next).await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("Paged 50"));
    assert!(!second.body.contains("Paged 49"));
    assert!(!second.body.contains(marker), "the last page");
    s.finish().await;
}
