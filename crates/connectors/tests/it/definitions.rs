//! Connector definitions from stored JSON and from the folder layout.

use std::fs;

use osmosis_connectors::definition::{
    AuthFunction, AuthType, CollectionHelper, CollectionMethod, Connector, DefinitionError,
    Implementation,
};
use serde_json::json;

#[test]
fn stored_json_with_functions_options_operations_and_collections() {
    let connector = Connector::from_value(&json!({
        "key": "acme", "name": "Acme",
        "auth": {"type": "oauth2", "getOAuthConfig": {"type": "mapping", "mapping": {"clientId": "x"}}},
        "parametersSchema": {"type": "object", "properties": {"clientId": {"type": "string"}}},
        "makeApiClient": {"implementationType": "mapping", "mapping": {"baseUri": "https://api.acme.test"}},
        "test": {"type": "operation-mapping", "mapping": {"operationKey": "me"}},
        "options": {
            "api-key": {"type": "client-credentials", "inputSchema": {"type": "object", "properties": {"apiKey": {"type": "string"}}}}
        },
        "operations": [{"key": "me", "name": "Me", "run": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "get"}}}],
        "data": {"contacts": {
            "name": "Contacts",
            "list": {"filterFields": ["email"], "type": "rest-api-mapping", "mapping": {"path": "/contacts", "method": "GET"}},
            "methods": {"find-by-id": {"type": "javascript", "code": "export default async () => ({})"}},
            "recordFromApi": {"type": "mapping", "mapping": {"id": {"$var": "$.id"}}}
        }}
    }))
    .unwrap();
    assert_eq!(connector.auth.auth_type, Some(AuthType::OAuth2));
    assert!(connector
        .auth
        .function(AuthFunction::GetOAuthConfig)
        .is_some());
    assert!(matches!(
        connector
            .auth
            .function(AuthFunction::Test)
            .unwrap()
            .implementation,
        Implementation::Operation(_)
    ));
    let option = connector.effective_auth("api-key").unwrap();
    assert_eq!(option.auth_type, Some(AuthType::ClientCredentials));
    // makeApiClient and test fall back to the connector's; schemas are merged.
    assert!(option.function(AuthFunction::MakeApiClient).is_some());
    assert!(option.parameters_schema.is_some() && option.input_schema.is_some());
    assert!(connector.effective_auth("missing").is_none());
    let contacts = connector.data_collection("contacts").unwrap();
    assert!(contacts.method(CollectionMethod::List).is_some());
    assert!(contacts.method(CollectionMethod::FindById).is_some());
    assert!(contacts.helper(CollectionHelper::RecordFromApi).is_some());
    assert_eq!(contacts.spec["list"], json!({"filterFields": ["email"]}));
    assert_eq!(contacts.filter_fields().unwrap(), vec!["email".to_owned()]);
    if let Implementation::RestApi(m) = &connector.operation("me").unwrap().run.implementation {
        assert_eq!(m.method, "GET");
    } else {
        panic!("operation should be rest-api-mapping");
    }
}

#[test]
fn stored_json_errors_name_the_field() {
    let cases = [
        (json!({"type": "oauth3"}), "connector.type"),
        (
            json!({"type": "oauth2", "refreshCredentials": {"type": "mapping", "mapping": {}}}),
            "connector.refreshCredentials",
        ),
        (
            json!({"makeApiClient": {"type": "magic"}}),
            "connector.makeApiClient",
        ),
        (
            json!({"makeApiClient": {"type": "mapping"}}),
            "connector.makeApiClient",
        ),
        (
            json!({"test": {"type": "rest-api-mapping", "mapping": {"method": "GET"}}}),
            "connector.test",
        ),
        (
            json!({"test": {"type": "operation-mapping", "mapping": {"operationKey": "nope"}}}),
            "connector.test",
        ),
        (
            json!({"operations": [{"name": "no key", "run": {"type": "javascript", "code": ""}}]}),
            "operations[0]",
        ),
        (
            json!({"data": {"c": {"list": {"type": "rest-api-mapping", "mapping": {"path": "/x", "method": "FETCH"}}}}}),
            "data.c.list",
        ),
    ];
    for (value, location) in cases {
        let error = Connector::from_value(&value).unwrap_err();
        assert!(
            error.to_string().starts_with(location),
            "{error} should start with {location}"
        );
    }
    assert!(matches!(
        Connector::from_value(&json!({"refreshCredentials": {"type": "mapping", "mapping": 1}})),
        Err(DefinitionError::ImplementationNotAllowed { .. })
    ));
}

#[test]
fn folder_layout_suffixes_pick_implementation_types() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("acme");
    fs::create_dir_all(dir.join("auth")).unwrap();
    fs::create_dir_all(dir.join("data/contacts")).unwrap();
    fs::create_dir_all(dir.join("operations/me")).unwrap();
    fs::write(dir.join("acme.yaml"), "key: acme\nname: Acme\nauth:\n  type: client-credentials\n  inputSchema:\n    type: object\n").unwrap();
    fs::write(dir.join("auth/make-api-client.map.yml"), "baseUri: https://api.acme.test\nheaders:\n  Authorization:\n    $tpl:\n      template: Bearer {t}\n      values:\n        t: {$var: $.credentials.apiKey}\n").unwrap();
    fs::write(dir.join("test.rest.yml"), "path: /me\nmethod: GET\n").unwrap();
    fs::write(
        dir.join("refresh-credentials.js"),
        "export default async ({credentials}) => credentials",
    )
    .unwrap();
    fs::write(
        dir.join("data/contacts/spec.yml"),
        "name: Contacts\nfieldsSchema:\n  type: object\n",
    )
    .unwrap();
    fs::write(dir.join("data/contacts/list.api.yml"), "path: /contacts\nmethod: GET\nresponseMapping:\n  records: {$var: $.response.data.items}\n").unwrap();
    fs::write(
        dir.join("data/contacts/find-by-id.graphql.yml"),
        "query: '{ viewer { login } }'\n",
    )
    .unwrap();
    fs::write(
        dir.join("data/contacts/delete.yml"),
        "type: not-supported\n",
    )
    .unwrap();
    fs::write(
        dir.join("data/contacts/record-from-api.map.yml"),
        "id: {$var: $.id}\n",
    )
    .unwrap();
    fs::write(
        dir.join("data/contacts/events-created-webhook-handle.js"),
        "export default 1",
    )
    .unwrap();
    fs::write(dir.join("operations/me/spec.yml"), "name: Me\n").unwrap();
    fs::write(
        dir.join("operations/me/run.rest.yml"),
        "path: /me\nmethod: GET\n",
    )
    .unwrap();

    let connector = Connector::load_dir(&dir).unwrap();
    assert_eq!(connector.key.as_deref(), Some("acme"));
    let make = connector
        .auth
        .function(AuthFunction::MakeApiClient)
        .unwrap();
    assert_eq!(make.origin, "auth/make-api-client.map.yml");
    assert!(matches!(make.implementation, Implementation::Mapping(_)));
    assert!(matches!(
        connector
            .auth
            .function(AuthFunction::Test)
            .unwrap()
            .implementation,
        Implementation::RestApi(_)
    ));
    assert!(matches!(
        connector
            .auth
            .function(AuthFunction::RefreshCredentials)
            .unwrap()
            .implementation,
        Implementation::Javascript(_)
    ));
    let contacts = connector.data_collection("contacts").unwrap();
    assert_eq!(contacts.spec["name"], "Contacts");
    assert!(matches!(
        contacts
            .method(CollectionMethod::List)
            .unwrap()
            .implementation,
        Implementation::RestApi(_)
    ));
    assert!(matches!(
        contacts
            .method(CollectionMethod::FindById)
            .unwrap()
            .implementation,
        Implementation::Graphql(_)
    ));
    assert!(matches!(
        contacts
            .method(CollectionMethod::Delete)
            .unwrap()
            .implementation,
        Implementation::NotSupported
    ));
    assert!(contacts.helper(CollectionHelper::RecordFromApi).is_some());
    assert_eq!(
        connector.operation("me").unwrap().name.as_deref(),
        Some("Me")
    );

    // Errors name the file.
    fs::write(
        dir.join("data/contacts/create.rest.yml"),
        "path: /contacts\n",
    )
    .unwrap();
    let error = Connector::load_dir(&dir).unwrap_err();
    assert!(
        error.to_string().contains("data/contacts/create.rest.yml"),
        "{error}"
    );
    fs::write(
        dir.join("data/contacts/create.rest.yml"),
        "path: [unclosed\n",
    )
    .unwrap();
    let error = Connector::load_dir(&dir).unwrap_err();
    assert!(
        matches!(error, DefinitionError::Yaml { .. })
            && error.to_string().contains("create.rest.yml"),
        "{error}"
    );
    fs::remove_file(dir.join("data/contacts/create.rest.yml")).unwrap();
    fs::write(dir.join("disconnect.ts"), "export default async () => {}").unwrap();
    assert!(matches!(
        Connector::load_dir(&dir),
        Err(DefinitionError::TypeScriptUnsupported { .. })
    ));
    fs::remove_file(dir.join("disconnect.ts")).unwrap();
    fs::write(dir.join("test.js"), "export default async () => true").unwrap();
    assert!(matches!(
        Connector::load_dir(&dir),
        Err(DefinitionError::Duplicate { .. })
    ));
    assert!(matches!(
        Connector::load_dir(&root.path().join("missing")),
        Err(DefinitionError::Io { .. })
    ));
}

#[test]
fn folder_layout_reads_connector_events_and_global_webhooks() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("hooky");
    fs::create_dir_all(dir.join("events/deal-won")).unwrap();
    fs::create_dir_all(dir.join("global-webhooks/all-events")).unwrap();
    fs::write(
        dir.join("hooky.yaml"),
        "key: hooky\nname: Hooky\ntype: client-credentials\n",
    )
    .unwrap();
    fs::write(dir.join("events/deal-won/spec.yml"), "name: Deal won\n").unwrap();
    fs::write(
        dir.join("events/deal-won/get-event-selector.js"),
        "exports.default = async ({parameters}) => ({globalWebhookKey: 'all-events', globalWebhookEventSelector: 'x'})",
    )
    .unwrap();
    fs::write(
        dir.join("global-webhooks/all-events/spec.yml"),
        "name: All events\n",
    )
    .unwrap();
    fs::write(
        dir.join("global-webhooks/all-events/handle.js"),
        "exports.default = async ({data}) => ({events: []})",
    )
    .unwrap();
    let connector = Connector::load_dir(&dir).unwrap();
    let event = connector.event("deal-won").unwrap();
    assert_eq!(event.spec["name"], "Deal won");
    assert!(event.function("getEventSelector").is_some());
    let hook = connector.global_webhook("all-events").unwrap();
    assert_eq!(hook.spec["key"], "all-events");
    assert_eq!(
        hook.function("handle").unwrap().origin,
        "global-webhooks/all-events/handle.js"
    );
    // Inline in the connector file too.
    let inline = Connector::from_value(&json!({
        "key": "x", "type": "client-credentials",
        "globalWebhooks": {"k": {"handle": {"type": "javascript", "code": "exports.default = () => ({})"}}},
        "events": {"e": {"getEventSelector": {"type": "javascript", "code": "exports.default = () => ({})"}}},
    }))
    .unwrap();
    assert!(inline
        .global_webhook("k")
        .unwrap()
        .function("handle")
        .is_some());
    assert!(inline
        .event("e")
        .unwrap()
        .function("getEventSelector")
        .is_some());
    // A list of entries naming their keys; an entry without one is refused.
    let listed = Connector::from_value(&json!({
        "key": "x", "type": "client-credentials",
        "events": [{"key": "e", "name": "E"}],
    }))
    .unwrap();
    assert_eq!(listed.event("e").unwrap().spec["name"], "E");
    let err = Connector::from_value(&json!({
        "key": "x", "type": "client-credentials", "globalWebhooks": [{"name": "no key"}],
    }))
    .unwrap_err();
    assert!(err.to_string().contains("globalWebhooks[0]"), "{err}");
}
