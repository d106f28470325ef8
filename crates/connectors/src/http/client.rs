//! [`OutboundClient`]: the guarded client, and [`OutboundRequest`], the only way to
//! send through it.
//!
//! The guard sits in three places because reqwest gives each a different view:
//! the resolver sees every name (and re-resolves per connection), but never an
//! IP-literal host, which the connector dials directly; so [`OutboundRequest::send`]
//! checks the URL's host before sending, and the redirect policy checks each hop's
//! host before following it. The inner reqwest client never leaves this module, so
//! no request can skip the URL check.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::redirect::{Attempt, Policy};
use reqwest::{IntoUrl, Method};
use serde::Serialize;

use super::allow_list::AllowList;
use super::deadline::Deadline;
use super::error::{AddressRefused, OutboundError};
use super::guard::AddressGuard;
use super::resolver::GuardedResolver;
use super::USER_AGENT;

/// As many redirects as reqwest's default policy follows.
const MAX_REDIRECTS: usize = 10;

/// The redirect chain went on past [`MAX_REDIRECTS`] hops.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

/// The one HTTP client every outbound call goes through: connector functions, the
/// API proxy, token endpoints, webhooks. One client means one connection pool, one
/// set of defaults and one address guard. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct OutboundClient {
    http: reqwest::Client,
    guard: Arc<AddressGuard>,
}

impl std::fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundClient")
            .field("guard", &self.guard)
            .finish()
    }
}

impl Default for OutboundClient {
    /// Public addresses only.
    fn default() -> Self {
        OutboundClient::new(AllowList::default())
    }
}

impl OutboundClient {
    /// A client that reaches public addresses and the private ones `allow` covers.
    ///
    /// Connecting is bounded so an unreachable host fails in seconds; a whole call
    /// is bounded by the operation's [`Deadline`] and the caller's retry policy,
    /// not here, because some reads (exports, long lists) legitimately take minutes. Proxies from the
    /// environment are not used: a proxy resolves names itself, out of the
    /// guard's sight.
    pub fn new(allow: AllowList) -> Self {
        Self::build(allow, Some(USER_AGENT))
    }

    /// The same client sending no `User-Agent` of its own: for checking that an
    /// API refuses anonymous clients (the connector conformance tests).
    pub fn without_user_agent(allow: AllowList) -> Self {
        Self::build(allow, None)
    }

    fn build(allow: AllowList, user_agent: Option<&str>) -> Self {
        let guard = Arc::new(AddressGuard::new(allow));
        let mut http = reqwest::Client::builder();
        if let Some(user_agent) = user_agent {
            http = http.user_agent(user_agent);
        }
        let http = http
            .connect_timeout(Duration::from_secs(10))
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                guard: Arc::clone(&guard),
            }))
            .redirect(redirect_policy(Arc::clone(&guard)))
            .build()
            .expect("the outbound HTTP client's settings are static and valid");
        OutboundClient { http, guard }
    }

    pub fn request(&self, method: Method, url: impl IntoUrl) -> OutboundRequest {
        OutboundRequest {
            builder: self.http.request(method, url),
            guard: Arc::clone(&self.guard),
        }
    }

    pub fn get(&self, url: impl IntoUrl) -> OutboundRequest {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl IntoUrl) -> OutboundRequest {
        self.request(Method::POST, url)
    }

    /// What can be refused from the URL alone (an IP-literal or metadata host),
    /// without resolving: for checking a URL when it is configured, long before
    /// it is called.
    pub fn check_url(&self, url: &url::Url) -> Result<(), AddressRefused> {
        self.guard.check_url(url)
    }
}

/// Follows up to [`MAX_REDIRECTS`] redirects, each to a host the guard accepts: a
/// public API must not be able to bounce the engine to a private address.
fn redirect_policy(guard: Arc<AddressGuard>) -> Policy {
    Policy::custom(move |attempt: Attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        match guard.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// A request being built; [`Self::send`] checks its URL and sends it. The builder
/// methods are reqwest's, for those the callers need.
pub struct OutboundRequest {
    builder: reqwest::RequestBuilder,
    guard: Arc<AddressGuard>,
}

impl OutboundRequest {
    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        OutboundRequest {
            builder: f(self.builder),
            guard: self.guard,
        }
    }

    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(name, value))
    }

    pub fn basic_auth(self, username: &str, password: Option<&str>) -> Self {
        self.map(|b| b.basic_auth(username, password))
    }

    /// Bounds the whole request, from connecting to the end of the body.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.map(|b| b.form(form))
    }

    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        self.map(|b| b.body(body))
    }

    /// Sends the request when its host is acceptable; the resolver and the redirect
    /// policy check the rest on the way.
    ///
    /// Under a [`Deadline`] (the operation's total budget) the request's timeout is
    /// at most the time left, and no request starts once it has passed: the error
    /// is then [`OutboundError::DeadlineExceeded`].
    pub async fn send(self) -> Result<reqwest::Response, OutboundError> {
        let (client, request) = self.builder.build_split();
        let mut request = request.map_err(OutboundError::Request)?;
        self.guard.check_url(request.url())?;
        if let Some(deadline) = Deadline::current() {
            if deadline.passed() {
                return Err(deadline.exceeded(None).into());
            }
            let left = deadline.remaining();
            let timeout = request.timeout_mut();
            *timeout = Some(timeout.map_or(left, |own| own.min(left)));
        }
        client
            .execute(request)
            .await
            .map_err(|e| OutboundError::from_reqwest(e).or_deadline())
    }
}
