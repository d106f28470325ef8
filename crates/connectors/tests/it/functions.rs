//! Function execution and the API client, against the mock REST API.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use osmosis_connectors::api_client::{
    call_with_refresh, ApiClient, ApiClientConfig, ApiClientError, ApiRequest,
    CredentialsRefresher, Method, RefreshError, RetryPolicy, WithRefreshError,
};
use osmosis_connectors::definition::{AuthFunction, Connector};
use osmosis_connectors::function::{FunctionError, FunctionRunner};
use osmosis_connectors::redact::Redactor;
use serde_json::{json, Value};

use crate::mock;
use crate::mock::rest_api::{self, Counters, GOOD_TOKEN};

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        overall_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_attempts: 6,
    }
}

async fn api() -> (String, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    (mock::serve(rest_api::app(counters.clone())).await, counters)
}

fn connector(base: &str) -> Connector {
    Connector::from_value(&json!({
        "key": "mockapi",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {
            "baseUri": base,
            "headers": {"Authorization": {"$tpl": {"template": "Bearer {t}", "values": {"t": {"$var": "$.credentials.token"}}}}},
            "query": {"client": "osmosis"},
            "responseHandlers": [
                {"match": {"$eval": {"$var": "$.response.data.error"}, "is": "token_expired"},
                 "error": {"key": "access_token_expired", "message": "soft expiry"}},
                {"match": {"$eval": {"$var": "$.response.data.error"}, "is": "account_inactive"},
                 "error": {"key": "connection_is_defunct", "message": "account is gone"}},
                {"match": {"$eval": {"$var": "$.response.data.ok"}, "is": true}, "isSuccess": true,
                 "data": {"value": {"$var": "$.response.data.value"}}}
            ]
        }},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET", "responseMapping": {"$var": "$.response.data.id"}}},
        "operations": {
            "get-contact": {"run": {"type": "rest-api-mapping", "mapping": {
                "path": "/contacts/{id}", "method": "GET",
                "requestMapping": {"pathParameters": {"id": {"$var": "$.input.contactId"}}},
                "responseMapping": {"name": {"$var": "$.response.data.full_name"}, "status": {"$var": "$.response.statusCode"}}
            }}},
            "greet": {"run": {"type": "mapping", "mapping": {"$tpl": {"template": "hi {n}", "values": {"n": {"$var": "$.input.name"}}}}}}
        }
    }))
    .unwrap()
}

fn runner(connector: Connector, token: &str) -> FunctionRunner {
    FunctionRunner::new(Arc::new(connector), crate::mock::outbound())
        .with_credentials(json!({"token": token}))
        .with_connector_parameters(json!({"region": "eu", "clientSecret": "param-secret-99"}))
        .with_retry_policy(fast_retries())
}

fn def(value: Value) -> osmosis_connectors::definition::FunctionDef {
    osmosis_connectors::definition::FunctionDef::from_value(&value, "inline").unwrap()
}

#[tokio::test]
async fn mapping_sees_credentials_parameters_and_input() {
    let (base, _) = api().await;
    let r = runner(connector(&base), GOOD_TOKEN);
    let out = r
        .run(
            &def(json!({"type": "mapping", "mapping": {
                "region": {"$var": "$.connectorParameters.region"},
                "alias": {"$var": "$.parameters.region"},
                "who": {"$var": "$.input.name"},
                "spread": {"$var": "$.name"},
                "hasToken": {"$eval": {"$var": "$.credentials.token"}, "isNotEmpty": true}
            }})),
            json!({"name": "Ada"}),
        )
        .await
        .unwrap();
    assert_eq!(
        out.output,
        json!({"region": "eu", "alias": "eu", "who": "Ada", "spread": "Ada", "hasToken": true})
    );
}

#[tokio::test]
async fn rest_api_mapping_and_test_through_make_api_client() {
    let (base, _) = api().await;
    let r = runner(connector(&base), GOOD_TOKEN);
    assert!(r.test().await.unwrap());
    let out = r
        .run_operation("get-contact", json!({"contactId": 3}))
        .await
        .unwrap();
    assert_eq!(out.output, json!({"name": "Person 3", "status": 200}));
    let error = r
        .run_operation("get-contact", json!({"contactId": 77}))
        .await
        .unwrap_err();
    let Some(ApiClientError::HttpStatus { status: 404, .. }) = error.api_error() else {
        panic!("expected a 404, got {error:?}");
    };
    assert_eq!(
        error.to_error_data().error_type,
        osmosis_model::ErrorType::Connection
    );
}

#[tokio::test]
async fn client_joins_base_uri_and_sends_headers_query_and_basic_auth() {
    let (base, _) = api().await;
    let config = ApiClientConfig::from_value(&json!({"args": {
        "baseUri": format!("{base}/"), "headers": {"X-Custom": "yes"}, "query": {"a": 1, "skip": null},
        "auth": {"username": "user", "password": "pa55word"}
    }}))
    .unwrap();
    let client = ApiClient::new(
        crate::mock::outbound(),
        config,
        fast_retries(),
        Redactor::new(),
    );
    let response = client
        .request(ApiRequest::get("echo").with_query("b", "two"))
        .await
        .unwrap();
    assert_eq!(response.data["headers"]["x-custom"], "yes");
    assert_eq!(
        response.data["headers"]["authorization"],
        "Basic dXNlcjpwYTU1d29yZA=="
    );
    assert_eq!(response.data["query"], json!([["a", "1"], ["b", "two"]]));
    // Form bodies when the request says so.
    let mut form = ApiRequest::new(Method::POST, "/echo").with_data(json!({"x": "1 2"}));
    form.headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let response = client.request(form).await.unwrap();
    assert_eq!(response.data["body"], "x=1+2");
    assert!(!format!("{client:?}").contains("pa55word"));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let (base, counters) = api().await;
    let client = ApiClient::new(
        crate::mock::outbound(),
        ApiClientConfig::from_value(&json!({"baseUri": base})).unwrap(),
        fast_retries(),
        Redactor::new(),
    );
    let response = client.request(ApiRequest::get("/limited")).await.unwrap();
    assert_eq!(response.data["attempt"], 3);
    assert_eq!(counters.limited.load(Ordering::SeqCst), 3);
    client.request(ApiRequest::get("/flaky")).await.unwrap();
    assert_eq!(counters.flaky.load(Ordering::SeqCst), 2);

    let error = client
        .request(ApiRequest::get("/always-limited"))
        .await
        .unwrap_err();
    let ApiClientError::RateLimitExceeded { attempts, .. } = &error else {
        panic!("expected rate limit, got {error:?}");
    };
    assert_eq!(*attempts, 6);
    assert_eq!(counters.always_limited.load(Ordering::SeqCst), 6);
    let data = error.to_error_data();
    assert_eq!(data.key.as_deref(), Some("rate_limit_exceeded"));

    // With no retries, a single attempt.
    let once = ApiClient::new(
        crate::mock::outbound(),
        ApiClientConfig::from_value(&json!({"baseUri": base})).unwrap(),
        RetryPolicy::none(),
        Redactor::new(),
    );
    once.request(ApiRequest::get("/always-limited"))
        .await
        .unwrap_err();
    assert_eq!(counters.always_limited.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn response_handlers_classify_bodies() {
    let (base, _) = api().await;
    let r = runner(connector(&base), GOOD_TOKEN);
    let client = r.api_client().await.unwrap();
    let ok = client
        .request(ApiRequest::get("/soft-error"))
        .await
        .unwrap();
    assert_eq!(ok.data, json!({"value": 42}));
    let expired = client
        .request(ApiRequest::get("/soft-error").with_query("kind", "expired"))
        .await
        .unwrap_err();
    assert!(expired.is_access_token_expired(), "{expired:?}");
    let defunct = client
        .request(ApiRequest::get("/soft-error").with_query("kind", "revoked"))
        .await
        .unwrap_err();
    assert!(defunct.is_connection_defunct());
    assert_eq!(
        defunct.to_error_data().key.as_deref(),
        Some("connection_is_defunct")
    );
    assert_eq!(
        defunct.to_error_data().message,
        "Connection is defunct: account is gone"
    );
}

struct SwapToken {
    calls: std::sync::atomic::AtomicUsize,
    fail: bool,
}

#[async_trait]
impl CredentialsRefresher for SwapToken {
    async fn refresh(&self, _credentials: &Value) -> Result<Value, RefreshError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(RefreshError::Failed("refresh token revoked".into()));
        }
        Ok(json!({"token": GOOD_TOKEN}))
    }
}

#[tokio::test]
async fn expired_token_refreshes_once_and_retries() {
    let (base, counters) = api().await;
    let connector = Arc::new(connector(&base));
    let refresher = SwapToken {
        calls: Default::default(),
        fail: false,
    };
    let result = call_with_refresh(
        json!({"token": "stale-token-000"}),
        &refresher,
        |credentials| {
            let connector = connector.clone();
            async move {
                let r = FunctionRunner::new(connector, crate::mock::outbound())
                    .with_credentials(credentials);
                r.test().await
            }
        },
    )
    .await
    .unwrap();
    assert!(result.value);
    assert_eq!(result.new_credentials, Some(json!({"token": GOOD_TOKEN})));
    assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    assert_eq!(counters.me.load(Ordering::SeqCst), 2);

    // A refresher that fails ends it; a token that stays bad is not refreshed twice.
    let failing = SwapToken {
        calls: Default::default(),
        fail: true,
    };
    let error = call_with_refresh(json!({"token": "stale"}), &failing, |credentials| {
        let connector = connector.clone();
        async move {
            FunctionRunner::new(connector, crate::mock::outbound())
                .with_credentials(credentials)
                .test()
                .await
        }
    })
    .await
    .unwrap_err();
    assert!(matches!(
        error,
        WithRefreshError::Refresh(RefreshError::Failed(_))
    ));
    struct StillBad;
    #[async_trait]
    impl CredentialsRefresher for StillBad {
        async fn refresh(&self, _: &Value) -> Result<Value, RefreshError> {
            Ok(json!({"token": "also-bad-token"}))
        }
    }
    let error = call_with_refresh(json!({"token": "stale"}), &StillBad, |credentials| {
        let connector = connector.clone();
        async move {
            FunctionRunner::new(connector, crate::mock::outbound())
                .with_credentials(credentials)
                .test()
                .await
        }
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&error, WithRefreshError::Call(e) if e.api_error().is_some_and(|a| a.is_access_token_expired()))
    );
}

#[tokio::test]
async fn secrets_never_appear_in_rendered_errors() {
    let (base, _) = api().await;
    let token = "leaky-secret-token-5678";
    let r = runner(connector(&base), token);
    let error = r.test().await.unwrap_err();
    assert!(error.is_access_token_expired_like());
    let rendered = format!(
        "{error} {error:?} {} {:?} {r:?}",
        serde_json::to_string(&error.to_error_data()).unwrap(),
        r.api_client().await.unwrap()
    );
    for secret in [token, "param-secret-99"] {
        assert!(!rendered.contains(secret), "{secret} leaked: {rendered}");
    }
    assert!(
        rendered.contains("***"),
        "the echoed token should be masked: {rendered}"
    );

    // JavaScript errors and logs are masked too.
    let js = def(json!({"type": "javascript", "code":
        "export default async ({credentials, connectorParameters}) => { console.log('tok', credentials.token); throw new Error('bad ' + credentials.token + connectorParameters.clientSecret) }"}));
    let error = r.run(&js, json!({})).await.unwrap_err();
    let rendered = format!(
        "{error} {error:?} {}",
        serde_json::to_string(&error.to_error_data()).unwrap()
    );
    for secret in [token, "param-secret-99"] {
        assert!(!rendered.contains(secret), "{secret} leaked: {rendered}");
    }
}

trait ExpiredLike {
    fn is_access_token_expired_like(&self) -> bool;
}
impl ExpiredLike for FunctionError {
    fn is_access_token_expired_like(&self) -> bool {
        self.api_error()
            .is_some_and(|e| e.is_access_token_expired())
    }
}

#[tokio::test]
async fn javascript_uses_external_api_client_and_returns_logs() {
    let (base, _) = api().await;
    let r = runner(connector(&base), GOOD_TOKEN);
    let js = def(json!({"type": "javascript", "code": r#"
        export default async ({externalApiClient, input, connectorParameters}) => {
            const page = await externalApiClient.get('/contacts', {cursor: input.cursor});
            const created = await externalApiClient.post('/contacts', {name: 'New'});
            const full = await externalApiClient.get('/me', null, {returnFullResponse: true});
            console.log('region', connectorParameters.region);
            let status = null;
            try { await externalApiClient.get('/contacts/404') } catch (e) { status = e.data.data.response.status }
            return {ids: page.items.map(i => i.id), next: page.next, created: created.id, meStatus: full.status, status};
        }"#}));
    let out = r.run(&js, json!({"cursor": "2"})).await.unwrap();
    assert_eq!(
        out.output,
        json!({"ids": [3, 4], "next": "4", "created": 99, "meStatus": 200, "status": 404})
    );
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].message, "region eu");

    // An unhandled expired token inside JavaScript surfaces as the typed error.
    let r = runner(connector(&base), "stale-token-xyz");
    let js = def(
        json!({"type": "javascript", "code": "export default async ({externalApiClient}) => externalApiClient.get('/me')"}),
    );
    let error = r.run(&js, json!({})).await.unwrap_err();
    assert!(error.is_access_token_expired_like(), "{error:?}");
}

#[tokio::test]
async fn javascript_make_api_client_and_operation_mapping() {
    let (base, _) = api().await;
    let connector = Connector::from_value(&json!({
        "type": "client-credentials",
        "makeApiClient": {"type": "javascript", "code": format!(
            "export default async ({{credentials}}) => ({{baseUri: '{base}', headers: {{Authorization: 'Bearer ' + credentials.token}}}})")},
        "test": {"type": "operation-mapping", "mapping": {
            "operationKey": "whoami", "inputMapping": {"x": 1},
            "outputMapping": {"$eval": {"$var": "$.output.name"}, "is": "Ada"}}},
        "operations": [{"key": "whoami", "run": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}},
                       {"key": "legacy", "run": {"type": "not-supported"}}]
    }))
    .unwrap();
    let r = runner(connector, GOOD_TOKEN);
    assert!(r.test().await.unwrap());
    let error = r.run_operation("legacy", json!({})).await.unwrap_err();
    assert!(matches!(error, FunctionError::NotSupported { .. }));
    assert!(error.to_string().contains("not supported"));
    assert!(matches!(
        r.run_operation("nope", json!({})).await,
        Err(FunctionError::UnknownOperation { .. })
    ));
    assert!(matches!(
        r.run_auth_function(AuthFunction::GetOAuthConfig, json!({}))
            .await,
        Ok(None)
    ));
}

#[tokio::test]
async fn graphql_api_mapping_text_and_field_forms() {
    let (base, _) = api().await;
    let r = runner(connector(&base), GOOD_TOKEN);
    let text = def(json!({"type": "graphql-api-mapping", "mapping": {
        "path": "/graphql", "query": "query($n: Int) { viewer { login } }",
        "variables": {"n": {"$var": "$.input.n"}},
        "responseMapping": {"login": {"$var": "$.response.data.viewer.login"}, "vars": {"$var": "$.response.data.echo.variables"}}
    }}));
    assert_eq!(
        r.run(&text, json!({"n": 5})).await.unwrap().output,
        json!({"login": "octo", "vars": {"n": 5}})
    );
    let fields = def(json!({"type": "graphql-api-mapping", "mapping": {
        "path": "/graphql", "operationType": "query",
        "requestMapping": [{"field": "users", "args": {"first": {"$var": "$.input.n"}, "name": "a\"b"}, "subFields": [{"field": "id"}]}],
        "responseMapping": {"$var": "$.response.data.echo.query"}
    }}));
    assert_eq!(
        r.run(&fields, json!({"n": 2})).await.unwrap().output,
        json!("query { users(first: 2, name: \"a\\\"b\") { id } }")
    );
    let broken = def(
        json!({"type": "graphql-api-mapping", "mapping": {"path": "/graphql", "query": "{ broken }"}}),
    );
    assert!(matches!(
        r.run(&broken, json!({})).await,
        Err(FunctionError::Graphql { .. })
    ));
}
