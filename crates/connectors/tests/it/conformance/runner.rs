//! Runs one connector against its API mock the way the engine does (a `FunctionRunner`
//! on the outbound client, `collections::run_method`) and reports every case, not just
//! the first failure: the list of calls the API refused is what tells a connector
//! author what to fix.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use osmosis_connectors::api_client::RetryPolicy;
use osmosis_connectors::catalog;
use osmosis_connectors::collections::run_method;
use osmosis_connectors::definition::{AuthFunction, CollectionMethod, Connector};
use osmosis_connectors::function::FunctionRunner;
use osmosis_connectors::http::{OutboundClient, USER_AGENT};
use serde_json::{json, Value};

use super::wire::{serve, Api, Log};

/// The scopes the connection's token holds: the connector's default scopes, as its
/// `getOAuthConfig` asks for them, since that is what the provider grants.
pub type Scopes = BTreeSet<String>;

/// A record as the test expects it back: `(id, name)`.
pub type Rec = (&'static str, &'static str);

/// What one connector must do against its mock.
pub struct Spec {
    pub key: &'static str,
    /// Builds the mock, given the scopes the token holds.
    pub api: fn(&Scopes) -> Arc<dyn Api>,
    pub credentials: Value,
    /// Credentials the API does not accept (a revoked token, a mistyped key).
    pub wrong_credentials: Value,
    pub collections: Vec<Collection>,
}

/// What one collection must do.
pub struct Collection {
    pub key: &'static str,
    pub parameters: Value,
    /// The records of each page, in order; more than one page means the mock pages.
    pub pages: Vec<Vec<Rec>>,
    /// Scroll-style APIs only say they are done with an empty page.
    pub ends_with_empty_page: bool,
    pub find: Rec,
    /// `create` with these fields must return this id.
    pub create: Option<(Value, &'static str)>,
}

impl Collection {
    pub fn new(key: &'static str, pages: Vec<Vec<Rec>>, find: Rec) -> Self {
        Collection {
            key,
            parameters: json!({}),
            pages,
            ends_with_empty_page: false,
            find,
            create: None,
        }
    }

    pub fn parameters(mut self, parameters: Value) -> Self {
        self.parameters = parameters;
        self
    }

    pub fn create(mut self, fields: Value, id: &'static str) -> Self {
        self.create = Some((fields, id));
        self
    }

    pub fn ends_with_empty_page(mut self) -> Self {
        self.ends_with_empty_page = true;
        self
    }
}

/// Each case's outcome, in the order run.
pub struct Report {
    pub key: &'static str,
    pub outcomes: Vec<(String, Result<(), String>)>,
}

impl Report {
    /// The failure message of the case named `case`, if it failed.
    pub fn failure(&self, case: &str) -> Option<&str> {
        self.outcomes
            .iter()
            .find(|(name, _)| name == case)
            .unwrap_or_else(|| panic!("{}: no case `{case}` in\n{self}", self.key))
            .1
            .as_ref()
            .err()
            .map(String::as_str)
    }

    /// Panics with the whole report when any case failed; prints it otherwise (seen
    /// with `--nocapture`).
    pub fn assert_clean(&self) {
        if self.outcomes.iter().all(|(_, r)| r.is_ok()) {
            println!("{self}");
        } else {
            panic!("the API refused calls or the results were wrong\n{self}");
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.outcomes.iter().filter(|(_, r)| r.is_err()).count();
        writeln!(
            f,
            "{}: {} cases, {failed} failed",
            self.key,
            self.outcomes.len()
        )?;
        for (name, result) in &self.outcomes {
            match result {
                Ok(()) => writeln!(f, "  ok    {name}")?,
                Err(message) => writeln!(f, "  FAIL  {name}: {message}")?,
            }
        }
        Ok(())
    }
}

/// The shipped connector's stored JSON shape (what a mutation test edits).
pub fn shipped(key: &str) -> Value {
    catalog::shipped()
        .unwrap()
        .into_iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no shipped connector `{key}`"))
}

/// The shipped connector on the engine's outbound client.
pub async fn check_shipped(spec: &Spec) -> Report {
    check(spec, &shipped(spec.key), crate::mock::outbound()).await
}

/// No retries: a refused call is refused once, and the log shows it once.
fn one_attempt() -> RetryPolicy {
    RetryPolicy {
        overall_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        max_attempts: 1,
    }
}

pub async fn check(spec: &Spec, connector: &Value, http: OutboundClient) -> Report {
    let connector = Arc::new(Connector::from_value(connector).unwrap());
    let scopes = granted_scopes(&connector).await;
    let (base, log) = serve((spec.api)(&scopes)).await;
    let parameters = json!({
        "clientId": "client-1", "clientSecret": "client-secret-1",
        "apiBaseUri": base, "authBaseUri": base,
    });
    let runner = |credentials: &Value| {
        FunctionRunner::new(connector.clone(), http.clone())
            .with_credentials(credentials.clone())
            .with_connector_parameters(parameters.clone())
            .with_retry_policy(one_attempt())
    };
    let good = runner(&spec.credentials);
    let mut report = Report {
        key: spec.key,
        outcomes: Vec::new(),
    };

    report
        .case("test", &log, async {
            match good.test().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("`test` returned a falsy result".into()),
                Err(e) => Err(format!("`test` failed: {e}")),
            }
        })
        .await;
    for (what, credentials) in [("wrong", spec.wrong_credentials.clone()), ("no", json!({}))] {
        let runner = runner(&credentials);
        report
            .case(&format!("test with {what} credentials"), &log, async {
                match runner.test().await {
                    Ok(true) => Err(format!("`test` passed with {what} credentials")),
                    _ => Ok(()),
                }
            })
            .await;
    }

    for collection in &spec.collections {
        let key = collection.key;
        report
            .case(&format!("{key}: list"), &log, list(&good, collection))
            .await;
        report
            .case(&format!("{key}: find-by-id"), &log, find(&good, collection))
            .await;
        if let Some((fields, id)) = &collection.create {
            report
                .case(
                    &format!("{key}: create"),
                    &log,
                    create(&good, collection, fields, id),
                )
                .await;
        }
    }

    report
        .outcomes
        .push(("every method is covered".into(), coverage(spec, &connector)));
    report.outcomes.push((
        format!("every request carries User-Agent {USER_AGENT}"),
        user_agents(&log),
    ));
    report
}

impl Report {
    async fn case(
        &mut self,
        name: &str,
        log: &Log,
        case: impl Future<Output = Result<(), String>>,
    ) {
        let before = log.lock().unwrap().len();
        let result = case.await.map_err(|message| {
            let seen: Vec<String> = log.lock().unwrap()[before..]
                .iter()
                .map(|e| format!("\n          {e}"))
                .collect();
            if seen.is_empty() {
                format!("{message}\n        (no request reached the API)")
            } else {
                format!("{message}\n        the API saw:{}", seen.concat())
            }
        });
        self.outcomes.push((name.to_owned(), result));
    }
}

/// The scopes a token from the connector's default OAuth request holds: `scopes`, or
/// the `scope` extra parameter some apps want comma-separated (Slack, Linear).
async fn granted_scopes(connector: &Arc<Connector>) -> Scopes {
    if connector
        .auth
        .function(AuthFunction::GetOAuthConfig)
        .is_none()
    {
        return Scopes::new();
    }
    let runner = FunctionRunner::new(connector.clone(), crate::mock::outbound())
        .with_connector_parameters(json!({"clientId": "client-1", "clientSecret": "s"}));
    let input = json!({"connectionInput": {"subdomain": "acme"}, "redirectUri": "https://osmosis.test/cb", "state": "s"});
    let config = runner
        .run_auth_function(AuthFunction::GetOAuthConfig, input)
        .await
        .unwrap()
        .unwrap()
        .output;
    let listed = config["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned);
    let extra = config["extra"]["scope"]
        .as_str()
        .unwrap_or("")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    listed.chain(extra).collect()
}

fn records(page: &Value) -> Vec<(String, String)> {
    page["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let name = match &r["name"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (r["id"].as_str().unwrap_or_default().to_owned(), name)
        })
        .collect()
}

fn owned(records: &[Rec]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
        .collect()
}

/// Lists page after page, following the cursor the connector returns, and checks
/// each page's records; the last page must come without a cursor.
async fn list(runner: &FunctionRunner, collection: &Collection) -> Result<(), String> {
    let first = owned(&collection.pages[0]);
    let mut cursor: Option<String> = None;
    let mut expected: Vec<Vec<(String, String)>> =
        collection.pages.iter().map(|p| owned(p)).collect();
    if collection.ends_with_empty_page {
        expected.push(Vec::new());
    }
    for (index, want) in expected.iter().enumerate() {
        let number = index + 1;
        let request = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let page = run_method(
            runner,
            collection.key,
            CollectionMethod::List,
            request,
            collection.parameters.clone(),
        )
        .await
        .map_err(|e| format!("page {number}: {e}"))?;
        let got = records(&page);
        if &got != want {
            return Err(if index > 0 && got == first {
                format!(
                    "page {number}: the API answered page 1 again: the cursor {cursor:?} \
                     did not reach the parameter the API reads"
                )
            } else {
                format!("page {number}: records {got:?}, expected {want:?}")
            });
        }
        let next = page
            .get("cursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let last = index + 1 == expected.len();
        match (&next, last) {
            (None, false) => return Err(format!("page {number}: no cursor, but the API has more")),
            (Some(c), true) => {
                return Err(format!(
                    "page {number}: cursor {c:?} after the last page (the API said it was done)"
                ))
            }
            _ => {}
        }
        cursor = next;
    }
    Ok(())
}

async fn find(runner: &FunctionRunner, collection: &Collection) -> Result<(), String> {
    let (id, name) = collection.find;
    let result = run_method(
        runner,
        collection.key,
        CollectionMethod::FindById,
        json!({ "id": id }),
        collection.parameters.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let record = &result["record"];
    if record["id"] != id || record["name"] != name {
        return Err(format!(
            "got id {} name {}, expected {id:?} {name:?}",
            record["id"], record["name"]
        ));
    }
    Ok(())
}

async fn create(
    runner: &FunctionRunner,
    collection: &Collection,
    fields: &Value,
    id: &str,
) -> Result<(), String> {
    let result = run_method(
        runner,
        collection.key,
        CollectionMethod::Create,
        json!({ "fields": fields }),
        collection.parameters.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    if result != json!({ "id": id }) {
        return Err(format!("returned {result}, expected {{\"id\": {id:?}}}"));
    }
    Ok(())
}

/// The spec runs `list` and `find-by-id` on every collection and `create` where the
/// connector defines it; any other method would go untested, so it is a failure.
fn coverage(spec: &Spec, connector: &Connector) -> Result<(), String> {
    let mut defined = BTreeSet::new();
    for (key, collection) in &connector.data_collections {
        for method in CollectionMethod::ALL {
            if collection.method(method).is_some() {
                defined.insert((key.clone(), method.file_stem()));
            }
        }
    }
    let mut tested = BTreeSet::new();
    for collection in &spec.collections {
        let key = collection.key.to_owned();
        tested.insert((key.clone(), CollectionMethod::List.file_stem()));
        tested.insert((key.clone(), CollectionMethod::FindById.file_stem()));
        if collection.create.is_some() {
            tested.insert((key, CollectionMethod::Create.file_stem()));
        }
    }
    if defined == tested {
        return Ok(());
    }
    Err(format!(
        "defined but not tested: {:?}; tested but not defined: {:?}",
        defined.difference(&tested).collect::<Vec<_>>(),
        tested.difference(&defined).collect::<Vec<_>>()
    ))
}

fn user_agents(log: &Log) -> Result<(), String> {
    let log = log.lock().unwrap();
    let wrong: Vec<String> = log
        .iter()
        .filter(|e| e.req.header("user-agent") != Some(USER_AGENT))
        .map(|e| {
            format!(
                "{} {} sent {:?}",
                e.req.method,
                e.req.path,
                e.req.header("user-agent")
            )
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}
