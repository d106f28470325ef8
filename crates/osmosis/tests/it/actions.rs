//! Actions over HTTP against the mock CRM: every action type, every way to run one,
//! input fitting, output mapping, layers, run logs (with their traces, masked, and
//! each customer seeing only its own), and runs refused when something on their
//! path is archived or belongs to another customer.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;

fn var(p: &str) -> Value {
    json!({"$var": p})
}

/// Creates a universal action (admin); its id.
async fn action(s: &Server, body: Value) -> String {
    s.create("actions", body).await["id"]
        .as_str()
        .expect("an action id")
        .to_owned()
}

/// `POST /act` as `token`.
async fn act(s: &Server, token: &str, body: Value) -> (u16, Value) {
    s.post("/act", token, body).await
}

/// The output of a run that must succeed.
async fn output(s: &Server, token: &str, body: Value) -> Value {
    let (status, answer) = act(s, token, body.clone()).await;
    assert_eq!(status, 200, "{body} → {answer}");
    assert!(answer["actionRunId"].is_string(), "{answer}");
    answer["output"].clone()
}

#[tokio::test]
async fn every_action_type_runs_through_the_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 250).await;
    let conn = &f.alice_conn;

    // api-request-to-external-app: path parameters, query, body; config formulas
    // read the input.
    action(
        &s,
        json!({"key": "echo", "name": "Echo", "type": "api-request-to-external-app",
               "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}, "text": {"type": "string"}}},
               "config": {"request": {"method": "POST", "path": "/echo/things/{id}",
                   "pathParameters": {"id": var("$.input.id")},
                   "query": {"q": var("$.input.text")}, "data": {"text": var("$.input.text")}}}}),
    )
    .await;
    let out = output(
        &s,
        &f.alice,
        json!({"key": "echo", "connectionId": conn, "input": {"id": "a b", "text": "hi"}}),
    )
    .await;
    assert_eq!(out["method"], "POST", "{out}");
    assert_eq!(out["path"], "/echo/things/a%20b", "{out}");
    assert_eq!(out["body"], json!({"text": "hi"}), "{out}");

    // A non-2xx answer fails the run, unless allowNon2xx.
    action(
        &s,
        json!({"key": "teapot", "name": "Teapot", "type": "api-request-to-external-app",
                      "config": {"request": {"path": "/status/418"}}}),
    )
    .await;
    action(
        &s,
        json!({"key": "teapot-ok", "name": "Teapot ok", "type": "api-request-to-external-app",
                      "config": {"request": {"path": "/status/418"}, "allowNon2xx": true}}),
    )
    .await;
    let (status, e) = act(&s, &f.alice, json!({"key": "teapot", "connectionId": conn})).await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["actionRunId"].is_string(),
        "a failed run names its record: {e}"
    );
    let out = output(
        &s,
        &f.alice,
        json!({"key": "teapot-ok", "connectionId": conn}),
    )
    .await;
    assert_eq!(out["code"], 418, "{out}");

    // connector-operation, with its input built from the action's input.
    action(&s, json!({"key": "note", "name": "Note", "type": "connector-operation",
                      "config": {"operationKey": "create-note", "input": {"text": var("$.input.body")}}})).await;
    let out = output(
        &s,
        &f.alice,
        json!({"key": "note", "connectionId": conn, "input": {"body": "remember"}}),
    )
    .await;
    assert_eq!(out["body"], json!({"text": "remember"}), "{out}");

    // run-javascript: input, credentials and the connection's API client.
    action(&s, json!({"key": "js", "name": "JS", "type": "run-javascript", "config": {"code":
        "export default async ({input, credentials, externalApiClient}) => { const me = await externalApiClient.get('/me'); return {n: input.n * 2, me: me.name, keyLength: credentials.apiKey.length} }"}})).await;
    let out = output(
        &s,
        &f.alice,
        json!({"key": "js", "connectionId": conn, "input": {"n": 21}}),
    )
    .await;
    assert_eq!(
        out,
        json!({"n": 42, "me": "Ada Admin", "keyLength": CRM_KEY.len()}),
        "{out}"
    );

    // run-javascript's `membrane` (alias `engineApiClient`): Osmosis's own API as
    // the connection's customer — her connections only, others not found.
    action(&s, json!({"key": "self", "name": "Self", "type": "run-javascript", "config": {"code": format!(
        "export default async ({{membrane, engineApiClient}}) => {{ const conns = await engineApiClient.get('/connections'); let denied; try {{ await membrane.get('/connections/{}') }} catch (e) {{ denied = e.data.key }} const run = await membrane.post('/act', {{key: 'js', connectionId: '{}', input: {{n: 1}}}}); return {{ids: conns.items.map(c => c.id), denied, nested: run.output.n}} }}",
        f.bob_conn, conn)}})).await;
    let out = output(&s, &f.alice, json!({"key": "self", "connectionId": conn})).await;
    assert_eq!(
        out,
        json!({"ids": [conn], "denied": "not_found", "nested": 2}),
        "{out}"
    );

    // http-request: any URL (the mock is allowed as loopback here).
    action(&s, json!({"key": "http", "name": "HTTP", "type": "http-request",
                      "config": {"request": {"method": "PUT", "url": format!("{}/echo/raw", f.crm.url),
                                             "headers": {"x-api-key": CRM_KEY}, "data": {"a": 1}}}})).await;
    let out = output(&s, &f.alice, json!({"key": "http", "connectionId": conn})).await;
    assert_eq!(
        (&out["method"], &out["body"]),
        (&json!("PUT"), &json!({"a": 1})),
        "{out}"
    );

    // api-request-to-your-app: as the customer, with a token the workspace signed.
    action(&s, json!({"key": "mine", "name": "Mine", "type": "api-request-to-your-app",
                      "config": {"request": {"method": "POST", "uri": format!("{}/echo/app", f.crm.url),
                                             "headers": {"x-api-key": CRM_KEY}, "data": {"b": 2}}}})).await;
    let out = output(&s, &f.alice, json!({"key": "mine", "connectionId": conn})).await;
    let token = out["headers"]["x-membrane-token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {out}");
    assert_eq!(
        out["headers"]["authorization"],
        format!("Bearer {token}"),
        "{out}"
    );
    assert_eq!(out["body"], json!({"b": 2}), "{out}");

    // The data actions on the contacts collection.
    let contacts = json!({"collectionKey": "contacts"});
    for (key, kind) in [
        ("list", "list-data-records"),
        ("find", "find-data-record-by-id"),
        ("match", "match-data-record"),
        ("search", "search-data-record"),
        ("create", "create-data-record"),
        ("update", "update-data-record"),
        ("delete", "delete-data-record"),
        ("find-or-create", "find-or-create-data-record"),
    ] {
        action(
            &s,
            json!({"key": key, "name": key, "type": kind, "config": {"dataSource": contacts}}),
        )
        .await;
    }
    // list: pages of 100 through the cursor, every record once.
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = Value::Null;
    for page in 0.. {
        assert!(page < 10, "the list must end");
        let out = output(
            &s,
            &f.alice,
            json!({"key": "list", "connectionId": conn, "input": {"cursor": cursor}}),
        )
        .await;
        for r in out["records"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_str().unwrap().to_owned()), "{r}");
        }
        cursor = out["cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen.len(), 250);
    let one = output(
        &s,
        &f.alice,
        json!({"key": "find", "connectionId": conn, "input": {"id": "7"}}),
    )
    .await;
    assert_eq!(one["id"], "7", "{one}");
    let email = one["fields"]["email"].clone();
    let matched = output(
        &s,
        &f.alice,
        json!({"key": "match", "connectionId": conn, "input": {"query": {"email": email}}}),
    )
    .await;
    assert_eq!(matched["id"], "7", "{matched}");
    let found = output(&s, &f.alice, json!({"key": "search", "connectionId": conn, "input": {"query": one["fields"]["lastName"]}})).await;
    assert!(
        found["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "7"),
        "{found}"
    );
    let created = output(
        &s,
        &f.alice,
        json!({"key": "create", "connectionId": conn,
        "input": {"fields": {"email": "new@x.io", "firstName": "New", "lastName": "Person"}}}),
    )
    .await;
    let id = created["id"].as_str().expect("the new id").to_owned();
    assert_eq!(f.crm.contact(&id).unwrap()["email"], "new@x.io");
    output(&s, &f.alice, json!({"key": "update", "connectionId": conn, "input": {"id": id, "fields": {"city": "Oslo"}}})).await;
    assert_eq!(f.crm.contact(&id).unwrap()["city"], "Oslo");
    let again = output(
        &s,
        &f.alice,
        json!({"key": "find-or-create", "connectionId": conn,
        "input": {"query": {"email": "new@x.io"}, "fields": {"email": "new@x.io"}}}),
    )
    .await;
    assert_eq!(again, json!({"id": id, "created": false}));
    let fresh = output(
        &s,
        &f.alice,
        json!({"key": "find-or-create", "connectionId": conn,
        "input": {"query": {"email": "fresh@x.io"}, "fields": {"email": "fresh@x.io"}}}),
    )
    .await;
    assert_eq!(fresh["created"], true, "{fresh}");
    assert_eq!(
        output(
            &s,
            &f.alice,
            json!({"key": "delete", "connectionId": conn, "input": {"id": id}})
        )
        .await,
        json!({})
    );
    assert!(f.crm.contact(&id).is_none());
}

#[tokio::test]
async fn field_mappings_and_output_mapping_reshape_records() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 20).await;
    // Import: the app's schema from the record's fields; export: back again.
    action(&s, json!({"key": "people", "name": "People", "type": "list-data-records",
        "config": {"dataSource": {"collectionKey": "contacts"},
                   "fieldMapping": {"importValue": {"mail": var("$.email"), "tier": var("$.tier")}}},
        "outputMapping": {"count": {"$var": "$.output.records.length"}, "first": var("$.output.records[0].fields"), "who": var("$.user.internalId")}})).await;
    let out = output(
        &s,
        &f.alice,
        json!({"key": "people", "connectionId": f.alice_conn}),
    )
    .await;
    let first = seed_contact(1);
    assert_eq!(
        out["first"],
        json!({"mail": first["email"], "tier": first["custom"]["tier"]}),
        "{out}"
    );
    assert_eq!(out["who"], "alice", "{out}");

    // A field mapping named by key: a customer's own instance of it wins for her
    // connection (but for its frozen fields); everyone else gets the mapping.
    s.create(
        "field-mappings",
        json!({"key": "people-map", "name": "People map",
        "importValue": {"mail": var("$.email")}, "frozenImportFields": ["mail"]}),
    )
    .await;
    action(&s, json!({"key": "mapped", "name": "Mapped", "type": "find-data-record-by-id",
        "config": {"dataSource": {"collectionKey": "contacts"}, "fieldMapping": {"key": "people-map"}}})).await;
    let (status, mine) = s
        .call(
            "PUT",
            &format!("/connections/{}/field-mappings/people-map", f.alice_conn),
            Some(&f.alice),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    let (status, _) = s
        .patch(
            &format!("/connections/{}/field-mappings/people-map", f.alice_conn),
            &f.alice,
            json!({"importValue": {"city": var("$.city"), "mail": var("$.phone")}}),
        )
        .await;
    assert_eq!(status, 200);
    let hers = output(
        &s,
        &f.alice,
        json!({"key": "mapped", "connectionId": f.alice_conn, "input": {"id": "2"}}),
    )
    .await;
    // Her own mapping, except the field the mapping froze.
    assert_eq!(
        hers["fields"],
        json!({"city": seed_contact(2)["city"], "mail": seed_contact(2)["email"]}),
        "{hers}"
    );
    let his = output(
        &s,
        &f.bob,
        json!({"key": "mapped", "connectionId": f.bob_conn, "input": {"id": "2"}}),
    )
    .await;
    assert_eq!(
        his["fields"],
        json!({"mail": seed_contact(2)["email"]}),
        "{his}"
    );

    action(&s, json!({"key": "add-person", "name": "Add person", "type": "create-data-record",
        "inputSchema": {"type": "object", "properties": {"mail": {"type": "string"}, "given": {"type": "string"}}},
        "config": {"dataSource": {"collectionKey": "contacts"},
                   "fields": {"mail": var("$.input.mail"), "given": var("$.input.given")},
                   "fieldMapping": {"exportValue": {"email": var("$.mail"), "firstName": var("$.given")}}}})).await;
    let out = output(
        &s,
        &f.alice,
        json!({"key": "add-person", "connectionId": f.alice_conn,
        "input": {"mail": "m@x.io", "given": "Mia", "ignored": true}}),
    )
    .await;
    let stored = f.crm.contact(out["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&stored["email"], &stored["first_name"]),
        (&json!("m@x.io"), &json!("Mia")),
        "{stored}"
    );
}

#[tokio::test]
async fn a_refused_input_runs_nothing_and_records_nothing() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    action(&s, json!({"key": "echo", "name": "Echo", "type": "api-request-to-external-app",
        "inputSchema": {"type": "object", "properties": {"n": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}},
                        "required": ["n"]},
        "config": {"request": {"method": "POST", "path": "/echo/x", "data": var("$.input")}}})).await;
    let before = f.crm.request_count();
    for (input, field) in [
        (json!({"n": "5"}), "input.n"),
        (json!({"n": 1, "tags": ["a", 2]}), "input.tags.1"),
        (json!({}), "input"),
    ] {
        let r = act(
            &s,
            &f.alice,
            json!({"key": "echo", "connectionId": f.alice_conn, "input": input}),
        )
        .await;
        assert_error(&r, 400, "bad_request", "invalid_field");
        assert!(r.1["message"].as_str().unwrap().contains(field), "{}", r.1);
        assert!(r.1.get("actionRunId").is_none(), "no run: {}", r.1);
    }
    assert_eq!(f.crm.request_count(), before, "nothing was sent");
    let (_, logs) = s.get("/action-run-logs", &f.alice).await;
    assert_eq!(logs["items"], json!([]), "nothing was recorded");
    // Extra properties are dropped before anything is sent.
    let out = output(
        &s,
        &f.alice,
        json!({"key": "echo", "connectionId": f.alice_conn, "input": {"n": 1, "secret": "x"}}),
    )
    .await;
    assert_eq!(out["body"], json!({"n": 1}), "{out}");
}

#[tokio::test]
async fn every_route_runs_the_most_specific_layer() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    let echo = |tag: &str| json!({"request": {"method": "POST", "path": format!("/echo/{tag}")}});
    let universal = action(&s, json!({"key": "where", "name": "Where", "type": "api-request-to-external-app", "config": echo("universal")})).await;
    let path = |v: &Value| v["path"].as_str().unwrap_or_default().to_owned();

    let by_key = json!({"key": "where", "connectionId": f.alice_conn});
    assert_eq!(
        path(&output(&s, &f.alice, by_key.clone()).await),
        "/echo/universal"
    );
    // An integration-level copy wins over the universal action…
    let (status, copy) = s.post("/integrations/crm/actions", &s.admin(),
        json!({"key": "where", "name": "Where (CRM)", "parentId": universal, "type": "api-request-to-external-app", "config": echo("integration")})).await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(
        path(&output(&s, &f.alice, by_key.clone()).await),
        "/echo/integration"
    );
    // …and a customised connection-level copy over both, for its connection only.
    let (status, mine) = s
        .call(
            "PUT",
            &format!("/connections/{}/actions/where", f.alice_conn),
            Some(&f.alice),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    // Not customised: it follows its parent, even after the parent changes.
    s.patch(
        "/integrations/crm/actions/where",
        &s.admin(),
        json!({"config": echo("integration-2")}),
    )
    .await;
    assert_eq!(
        path(&output(&s, &f.alice, by_key.clone()).await),
        "/echo/integration-2"
    );
    let (status, _) = s
        .patch(
            &format!("/connections/{}/actions/where", f.alice_conn),
            &f.alice,
            json!({"config": echo("alice")}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(path(&output(&s, &f.alice, by_key).await), "/echo/alice");
    assert_eq!(
        path(&output(&s, &f.bob, json!({"key": "where", "integrationKey": "crm"})).await),
        "/echo/integration-2"
    );

    // Every route the SDK runs an action by.
    let instance = mine["id"].as_str().unwrap().to_owned();
    let routes: Vec<(String, Value)> = vec![
        (
            format!("/actions/where/run?connectionId={}", f.alice_conn),
            json!({"input": {}}),
        ),
        (
            "/action/run?key=where&integrationKey=crm".into(),
            json!({"input": {}}),
        ),
        (
            format!("/connections/{}/actions/where/run", f.alice_conn),
            json!({}),
        ),
        (
            format!(
                "/action-instance/run?actionKey=where&connectionId={}",
                f.alice_conn
            ),
            json!({}),
        ),
        (format!("/action-instances/{instance}/run"), json!({})),
    ];
    for (route, body) in routes {
        let (status, answer) = s.post(&route, &f.alice, body).await;
        assert_eq!(status, 200, "{route}: {answer}");
        assert_eq!(path(&answer["output"]), "/echo/alice", "{route}: {answer}");
        assert!(answer["actionRunId"].is_string(), "{route}: {answer}");
    }
    assert_eq!(
        path(&output(&s, &f.alice, json!({"id": instance})).await),
        "/echo/alice"
    );

    // Inline: code, and the legacy execute-request.
    let out = output(
        &s,
        &f.alice,
        json!({"code": "export default async ({input}) => input.a + 1", "input": {"a": 1}}),
    )
    .await;
    assert_eq!(out, json!(2));
    let (status, answer) = s
        .post(
            &format!("/connections/{}/execute-request", f.alice_conn),
            &f.alice,
            json!({"key": "PATCH /echo/legacy", "payload": {"x": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["method"], &answer["body"]),
        (&json!("PATCH"), &json!({"x": 1})),
        "{answer}"
    );

    // Exactly one of id, key, api, code.
    for body in [
        json!({}),
        json!({"key": "where", "code": "x"}),
        json!({"id": 5}),
    ] {
        let r = act(&s, &f.alice, body).await;
        assert_eq!(r.0, 400, "{}", r.1);
    }
}

#[tokio::test]
async fn run_logs_record_every_run_and_each_customer_sees_its_own() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    action(&s, json!({"key": "me", "name": "Me", "type": "api-request-to-external-app", "config": {"request": {"path": "/me"}}})).await;
    action(&s, json!({"key": "boom", "name": "Boom", "type": "api-request-to-external-app", "config": {"request": {"path": "/status/422"}}})).await;
    let ok = act(
        &s,
        &f.alice,
        json!({"key": "me", "connectionId": f.alice_conn, "meta": {"trace": "t1"}}),
    )
    .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let failed = act(
        &s,
        &f.alice,
        json!({"key": "boom", "connectionId": f.alice_conn}),
    )
    .await;
    assert!(failed.0 >= 400, "{}", failed.1);
    let bobs = act(&s, &f.bob, json!({"key": "me", "integrationKey": "crm"})).await;
    assert_eq!(bobs.0, 200, "{}", bobs.1);

    let (_, page) = s.get("/action-run-logs", &f.alice).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "alice sees her two runs: {page}");
    assert_eq!(items[0]["id"], failed.1["actionRunId"], "newest first");
    assert_eq!(items[0]["status"], "error");
    assert!(items[0]["error"]["message"].is_string(), "{}", items[0]);
    assert_eq!(items[1]["status"], "success");
    assert_eq!(items[1]["meta"], json!({"trace": "t1"}));
    assert_eq!(items[1]["connectionId"], f.alice_conn.as_str());
    assert_eq!(items[1]["integrationId"], f.integration_id.as_str());
    for filter in ["status=success", &format!("connectionId={}", f.alice_conn)] {
        let (_, p) = s
            .get(
                &format!("/action-run-logs?{filter}&sortOrder=asc"),
                &f.alice,
            )
            .await;
        assert_eq!(p["items"][0]["id"], ok.1["actionRunId"], "{filter}: {p}");
    }
    let (_, p) = s.get("/action-run-logs?status=error", &f.alice).await;
    assert_eq!(p["items"].as_array().unwrap().len(), 1, "{p}");
    let (_, all) = s.get("/action-run-logs", &s.admin()).await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        3,
        "an admin sees every run: {all}"
    );
    let r = s.get("/action-run-logs?status=maybe", &f.alice).await;
    assert_error(&r, 400, "bad_request", "invalid_query");

    // One run, with its trace: the request as sent, the key masked.
    let id = ok.1["actionRunId"].as_str().unwrap();
    let (status, one) = s
        .get(&format!("/action-run-logs/{id}/details"), &f.alice)
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["connection"]["id"], f.alice_conn.as_str(), "{one}");
    let calls = one["details"]["externalApiCalls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{one}");
    assert!(
        calls[0]["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/me"),
        "{one}"
    );
    assert!(
        !one.to_string().contains(CRM_KEY),
        "the key never shows: {one}"
    );
    let (_, plain) = s.get(&format!("/action-run-logs/{id}"), &f.alice).await;
    assert!(plain.get("details").is_none(), "{plain}");
    // Bob: not found, whichever way he asks.
    let r = s.get(&format!("/action-run-logs/{id}"), &f.bob).await;
    assert_error(&r, 404, "bad_request", "not_found");
    let (_, theirs) = s.get("/action-run-logs?tenantId=alice", &f.bob).await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");
}

#[tokio::test]
async fn runs_through_what_is_gone_or_not_yours_are_not_found() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    action(&s, json!({"key": "me", "name": "Me", "type": "api-request-to-external-app", "config": {"request": {"path": "/me"}}})).await;
    let run = json!({"key": "me", "connectionId": f.alice_conn});
    // Another customer's connection, by id and through every route.
    let before = f.crm.request_count();
    for r in [
        act(&s, &f.bob, run.clone()).await,
        s.post(
            &format!("/actions/me/run?connectionId={}", f.alice_conn),
            &f.bob,
            json!({}),
        )
        .await,
        s.post(
            &format!("/connections/{}/actions/me/run", f.alice_conn),
            &f.bob,
            json!({}),
        )
        .await,
        s.post(
            &format!("/connections/{}/execute-request", f.alice_conn),
            &f.bob,
            json!({"key": "/me"}),
        )
        .await,
        act(
            &s,
            &f.bob,
            json!({"api": {"path": "/me"}, "connectionId": f.alice_conn}),
        )
        .await,
    ] {
        assert_error(&r, 404, "bad_request", "not_found");
    }
    // Hostile selectors.
    for sel in ["../me", "me%00", "' OR 1=1 --"] {
        let r = s
            .post(
                &format!(
                    "/actions/{}/run?connectionId={}",
                    urlencode(sel),
                    f.alice_conn
                ),
                &f.alice,
                json!({}),
            )
            .await;
        assert!(r.0 == 404 || r.0 == 400, "{sel}: {}", r.1);
    }
    assert_eq!(f.crm.request_count(), before, "nothing reached the API");

    // An archived action; then an archived connection, integration, customer.
    action(&s, json!({"key": "gone", "name": "Gone", "type": "api-request-to-external-app", "config": {"request": {"path": "/me"}}})).await;
    s.call("DELETE", "/actions/gone", Some(&s.admin()), None)
        .await;
    let r = act(
        &s,
        &f.alice,
        json!({"key": "gone", "connectionId": f.alice_conn}),
    )
    .await;
    assert_error(&r, 404, "bad_request", "not_found");
    assert_eq!(act(&s, &f.alice, run.clone()).await.0, 200);
    s.call(
        "DELETE",
        &format!("/connections/{}", f.alice_conn),
        Some(&f.alice),
        None,
    )
    .await;
    let before = f.crm.request_count();
    assert_error(
        &act(&s, &f.alice, run.clone()).await,
        404,
        "bad_request",
        "not_found",
    );
    assert_error(
        &s.post(
            &format!("/connections/{}/execute-request", f.alice_conn),
            &f.alice,
            json!({"key": "/me"}),
        )
        .await,
        404,
        "bad_request",
        "not_found",
    );
    assert_eq!(
        act(&s, &f.bob, json!({"key": "me", "integrationKey": "crm"}))
            .await
            .0,
        200
    );
    s.call("DELETE", "/integrations/crm", Some(&s.admin()), None)
        .await;
    assert_error(
        &act(&s, &f.bob, json!({"key": "me", "connectionId": f.bob_conn})).await,
        404,
        "bad_request",
        "not_found",
    );
    // Bob's run before the integration was archived made one call; nothing after.
    assert_eq!(f.crm.request_count(), before + 1);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn javascript_that_loops_allocates_or_throws_fails_alone() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    for (key, code) in [
        ("loop", "export default async () => { while (true) {} }"),
        ("alloc", "export default async () => { const a = []; while (true) a.push(new Array(100000).fill(1)); }"),
        ("throw", "export default async () => { throw new Error('no way') }"),
        ("fine", "export default async ({input}) => ({ok: input.i})"),
    ] {
        action(&s, json!({"key": key, "name": key, "type": "run-javascript", "config": {"code": code}})).await;
    }
    let bad = ["loop", "alloc", "throw"].map(|key| {
        let s = &s;
        let f = &f;
        async move {
            (
                key,
                act(
                    s,
                    &f.alice,
                    json!({"key": key, "connectionId": f.alice_conn}),
                )
                .await,
            )
        }
    });
    let fine = async {
        let mut outs = Vec::new();
        for i in 0..20 {
            outs.push(
                act(
                    &s,
                    &f.alice,
                    json!({"key": "fine", "connectionId": f.alice_conn, "input": {"i": i}}),
                )
                .await,
            );
        }
        outs
    };
    let (bad, fine) = tokio::join!(futures::future::join_all(bad), fine);
    for (i, (status, answer)) in fine.iter().enumerate() {
        assert_eq!(
            (*status, &answer["output"]),
            (200, &json!({"ok": i})),
            "{answer}"
        );
    }
    for (key, (status, answer)) in bad {
        assert!(status >= 400, "{key}: {answer}");
        assert!(answer["actionRunId"].is_string(), "{key}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{key}: {answer}"
        );
    }
    // Each failure is a recorded failed run.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (_, errors) = s.get("/action-run-logs?status=error", &f.alice).await;
    assert_eq!(errors["items"].as_array().unwrap().len(), 3, "{errors}");
}

#[tokio::test]
async fn config_formulas_find_linked_records_on_the_runs_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 10).await;
    s.create(
        "data-link-tables",
        json!({"key": "people-links", "name": "People links"}),
    )
    .await;
    let links = |conn: &str| {
        format!("/data-link-table-instance/links?dataLinkTableKey=people-links&connectionId={conn}&autoCreate=true")
    };
    let (status, made) = s
        .post(
            &links(&f.alice_conn),
            &f.alice,
            json!({"appRecordId": "app-7", "externalRecordId": "7"}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    s.post(
        &links(&f.bob_conn),
        &f.bob,
        json!({"appRecordId": "app-7", "externalRecordId": "3"}),
    )
    .await;
    action(&s, json!({"key": "linked", "name": "Linked", "type": "find-data-record-by-id",
        "config": {"dataSource": {"collectionKey": "contacts"},
                   "id": {"$findExternalRecordId": {"dataLinkTable": {"key": "people-links"}, "recordId": var("$.input.appId")}}}})).await;
    // Each customer's link on her own connection.
    let hers = output(
        &s,
        &f.alice,
        json!({"key": "linked", "connectionId": f.alice_conn, "input": {"appId": "app-7"}}),
    )
    .await;
    assert_eq!(hers["id"], "7", "{hers}");
    let his = output(
        &s,
        &f.bob,
        json!({"key": "linked", "connectionId": f.bob_conn, "input": {"appId": "app-7"}}),
    )
    .await;
    assert_eq!(his["id"], "3", "{his}");
}

#[tokio::test]
async fn output_schemas_follow_the_documented_precedence() {
    let s = Server::start().await;
    let list = s
        .create(
            "actions",
            json!({"key": "list", "name": "List", "type": "list-data-records",
            "config": {"dataSource": {"collectionKey": "contacts"}}}),
        )
        .await;
    assert_eq!(list["outputSchema"], list["defaultOutputSchema"], "{list}");
    assert_eq!(
        list["outputSchema"]["properties"]["records"]["type"], "array",
        "{list}"
    );
    let mapped = s
        .create(
            "actions",
            json!({"key": "mapped", "name": "Mapped", "type": "list-data-records",
            "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
            "config": {"dataSource": {"collectionKey": "contacts"}},
            "outputMapping": {"next": var("$.output.cursor"), "who": var("$.input.name")}}),
        )
        .await;
    let transformed = json!({"type": "object", "properties": {"next": {"type": "string"}, "who": {"type": "string"}}});
    assert_eq!(mapped["transformedOutputSchema"], transformed, "{mapped}");
    assert_eq!(mapped["outputSchema"], transformed, "{mapped}");
    let custom = json!({"type": "object", "properties": {"total": {"type": "number"}}});
    let (status, customised) = s
        .patch(
            "/actions/mapped",
            &s.admin(),
            json!({"customOutputSchema": custom}),
        )
        .await;
    assert_eq!(status, 200, "{customised}");
    assert_eq!(customised["outputSchema"], custom, "{customised}");
    // An API request has no default: nothing to claim without a mapping.
    let api = s
        .create(
            "actions",
            json!({"key": "api", "name": "API", "type": "api-request-to-external-app",
            "config": {"request": {"path": "/x"}}}),
        )
        .await;
    assert!(api.get("outputSchema").is_none(), "{api}");
}

#[tokio::test]
async fn a_careless_record_mapping_does_not_hand_out_the_credentials() {
    let s = Server::start().await;
    let crm = start_crm(3).await;
    let mut connector = crm_connector(&crm.url);
    connector["key"] = json!("careless");
    // `$` of a mapping holds the API object and, beside it, the credentials.
    connector["data"]["contacts"]["recordFromApi"] =
        json!({"type": "mapping", "mapping": {"id": var("$.id"), "fields": var("$")}});
    let c = s.create("connectors", connector).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "careless", "name": "Careless", "connectorId": c["id"]}),
        )
        .await;
    let alice = s.customer("alice");
    let conn = crm_connect(&s, &alice, integration["id"].as_str().unwrap(), "Careless").await;
    let (status, page) = s
        .post(
            &format!("/connections/{conn}/data/contacts/list"),
            &alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 3, "{page}");
    assert!(
        !page.to_string().contains(CRM_KEY),
        "the key never shows: {page}"
    );
}

#[tokio::test]
async fn a_token_in_a_request_path_is_not_forwarded() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    let echo = |v: &Value| v["query"].to_string();
    // /act with `api`: the token goes, the other pair stays.
    let out = output(
        &s,
        &f.alice,
        json!({"connectionId": f.alice_conn,
        "api": {"path": format!("/echo/t?keep=1&t={}", f.alice)}}),
    )
    .await;
    assert!(!echo(&out).contains(&f.alice), "{out}");
    assert!(echo(&out).contains("keep"), "{out}");
    // execute-request: the same.
    let (status, out) = s
        .post(
            &format!("/connections/{}/execute-request", f.alice_conn),
            &f.alice,
            json!({"key": format!("GET /echo/t?t={}", f.alice)}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let seen = f.crm.last_request().expect("a request");
    assert!(!seen.uri.contains(&f.alice), "{}", seen.uri);
}

/// `POST /act` for a run that must fail; the error body.
async fn failed_run(s: &Server, token: &str, body: Value) -> Value {
    let (status, answer) = act(s, token, body.clone()).await;
    assert!(status >= 400, "{body} → {status} {answer}");
    assert!(answer["actionRunId"].is_string(), "{answer}");
    answer
}

/// A run-javascript action `key` whose code is `code`.
async fn javascript_action(s: &Server, key: &str, code: String) {
    action(
        s,
        json!({"key": key, "name": key, "type": "run-javascript", "config": {"code": code}}),
    )
    .await;
}

#[tokio::test]
async fn javascript_membrane_runs_actions_through_the_sdks_chained_accessors() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    let conn = &f.alice_conn;
    action(
        &s,
        json!({"key": "add-contact", "name": "Add contact", "type": "api-request-to-external-app",
               "inputSchema": {"type": "object", "properties": {"email": {"type": "string"}}},
               "config": {"request": {"method": "POST", "path": "/echo/contacts",
                                      "data": {"email": var("$.input.email")}}}}),
    )
    .await;
    javascript_action(
        &s,
        "chained",
        format!(
            "export default async ({{input, membrane, engineApiClient}}) => {{
                const viaConnection = await membrane.connection('{conn}').action('add-contact').run({{email: input.email}});
                const viaAction = await engineApiClient.action('add-contact').run({{email: 'b@x'}}, {{connectionId: '{conn}'}});
                const connection = await membrane.connection('{conn}').get();
                const me = await membrane.connection('{conn}').proxy.get('/me');
                const legacy = await membrane.connectionRequest('{conn}', 'PUT /echo/legacy', {{n: 1}});
                const flat = await membrane.get('/connections/{conn}');
                return {{viaConnection, viaAction, connectionId: connection.id, me: me.name, legacy, flat: flat.id}};
            }}"
        ),
    )
    .await;
    f.crm.clear_requests();
    let out = output(
        &s,
        &f.alice,
        json!({"key": "chained", "connectionId": conn, "input": {"email": "a@x"}}),
    )
    .await;
    // A run through the SDK's accessors answers what the SDK's does: `{output,
    // actionRunId}`.
    assert_eq!(out["viaConnection"]["output"]["method"], "POST", "{out}");
    assert_eq!(
        out["viaConnection"]["output"]["body"],
        json!({"email": "a@x"}),
        "{out}"
    );
    assert!(out["viaConnection"]["actionRunId"].is_string(), "{out}");
    assert_eq!(
        out["viaAction"]["output"]["body"],
        json!({"email": "b@x"}),
        "{out}"
    );
    assert_eq!(
        (&out["connectionId"], &out["flat"], &out["me"]),
        (&json!(conn), &json!(conn), &json!("Ada Admin")),
        "{out}"
    );
    assert_eq!(
        (&out["legacy"]["method"], &out["legacy"]["body"]),
        (&json!("PUT"), &json!({"n": 1})),
        "{out}"
    );
    let sent: Vec<Value> = f
        .crm
        .requests_to("/echo/contacts")
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert_eq!(sent, [json!({"email": "a@x"}), json!({"email": "b@x"})]);
    // The nested runs are runs of their own, in Alice's logs.
    let (_, logs) = s.get("/action-run-logs", &f.alice).await;
    let ids: Vec<&Value> = logs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert!(
        ids.contains(&&out["viaConnection"]["actionRunId"]),
        "{logs}"
    );
}

#[tokio::test]
async fn javascript_membrane_lists_only_its_own_customers_connections() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    javascript_action(
        &s,
        "mine",
        "export default async ({membrane}) => {
            const page = await membrane.connections.find();
            const all = await membrane.connections.find({limit: 10, includeArchived: true});
            return {ids: page.items.map(c => c.id), all: all.items.map(c => c.id), cursor: page.cursor ?? null};
        }"
        .to_owned(),
    )
    .await;
    let out = output(
        &s,
        &f.alice,
        json!({"key": "mine", "connectionId": f.alice_conn}),
    )
    .await;
    assert_eq!(
        out,
        json!({"ids": [&f.alice_conn], "all": [&f.alice_conn], "cursor": null}),
        "{out}"
    );
    let out = output(
        &s,
        &f.bob,
        json!({"key": "mine", "connectionId": f.bob_conn}),
    )
    .await;
    assert_eq!(out["ids"], json!([&f.bob_conn]), "{out}");
}

#[tokio::test]
async fn javascript_membrane_chain_to_an_unknown_action_fails_with_the_servers_error() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    let conn = &f.alice_conn;
    javascript_action(
        &s,
        "unknown",
        format!("export default async ({{membrane}}) => membrane.connection('{conn}').action('no-such-action').run({{}})"),
    )
    .await;
    // What the server answers the same request from outside.
    let direct = s
        .post(
            &format!("/connections/{conn}/actions/no-such-action/run"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_error(&direct, 404, "bad_request", "not_found");
    let error = failed_run(
        &s,
        &f.alice,
        json!({"key": "unknown", "connectionId": conn}),
    )
    .await;
    assert_eq!(error["type"], "custom_code", "{error}");
    // The run's message is the server's (after the `action: ` every failure of
    // code run on a connection starts with).
    let server_message = direct.1["message"].as_str().expect("a message");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(server_message)),
        "{error}"
    );
    // Caught, the rejection carries the server's error body.
    javascript_action(
        &s,
        "caught",
        format!("export default async ({{membrane}}) => {{ try {{ await membrane.action('no-such-action').run({{}}, {{connectionId: '{conn}'}}); }} catch (e) {{ return {{message: e.message, data: e.data}}; }} }}"),
    )
    .await;
    let out = output(&s, &f.alice, json!({"key": "caught", "connectionId": conn})).await;
    assert_eq!(out["data"]["key"], "not_found", "{out}");
    assert_eq!(out["message"], out["data"]["message"], "{out}");
}

#[tokio::test]
async fn javascript_membrane_chains_cannot_reach_another_customers_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    action(
        &s,
        json!({"key": "whoami", "name": "Who am I", "type": "api-request-to-external-app",
               "config": {"request": {"path": "/me"}}}),
    )
    .await;
    // Alice's code names Bob's connection by id through every chain there is.
    let bob = &f.bob_conn;
    javascript_action(
        &s,
        "hostile",
        format!(
            "export default async ({{membrane}}) => {{
                const attempts = {{
                    run: () => membrane.connection('{bob}').action('whoami').run({{}}),
                    runByOption: () => membrane.action('whoami').run({{}}, {{connectionId: '{bob}'}}),
                    get: () => membrane.connection('{bob}').get(),
                    proxy: () => membrane.connection('{bob}').proxy.get('/me'),
                    request: () => membrane.connection('{bob}').request('/me'),
                    legacy: () => membrane.connectionRequest('{bob}', 'GET /me'),
                    operation: () => membrane.connection('{bob}').operation('whoami').run({{}}),
                    data: () => membrane.connection('{bob}').dataCollection('contacts').list({{}}),
                    instance: () => membrane.actionInstance({{actionKey: 'whoami', connectionId: '{bob}'}}).get(),
                    patch: () => membrane.connection('{bob}').patch({{name: 'mine now'}}),
                    archive: () => membrane.connection('{bob}').archive(),
                }};
                const keys = {{}};
                for (const [name, attempt] of Object.entries(attempts)) {{
                    try {{ keys[name] = {{answered: await attempt()}}; }} catch (e) {{ keys[name] = e.data?.key ?? e.message; }}
                }}
                return keys;
            }}"
        ),
    )
    .await;
    let before = f.crm.request_count();
    let out = output(
        &s,
        &f.alice,
        json!({"key": "hostile", "connectionId": f.alice_conn}),
    )
    .await;
    let keys = out.as_object().expect("an object");
    assert_eq!(keys.len(), 11, "{out}");
    for (name, key) in keys {
        assert_eq!(key, "not_found", "{name}: {out}");
    }
    assert_eq!(f.crm.request_count(), before, "nothing reached the CRM");
    // Bob's connection is as it was.
    let (status, connection) = s.get(&format!("/connections/{bob}"), &f.bob).await;
    assert_eq!(status, 200, "{connection}");
    assert_eq!(connection["name"], "Bob CRM", "{connection}");
    assert!(connection["archivedAt"].is_null(), "{connection}");
}
