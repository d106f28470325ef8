//! Who is calling: the bearer JWT, verified with its workspace's secret.
//!
//! Accepted exactly as the SDK mints them (docs/spec/api-surface.md §5): HS256 or HS512, the
//! workspace key in `iss` (or `workspaceKey`), the customer's id in `id` (or
//! `tenantKey`/`sub`), optional `name` and `fields`; `isAdmin: true` (or `"true"`,
//! as Membrane's export scripts write it) with no customer claim is an admin token. `exp` is checked when present; a token without `exp`
//! is accepted, as the hosted service's jsonwebtoken-based check does. `exp` and
//! `nbf` must be non-negative numbers (seconds since the epoch): a string, a
//! negative or a past `exp`, or an `nbf` still ahead, is refused — by our own check
//! ([`check_times`]), run on every request, because the JWT library silently skips
//! an `exp` it cannot read as an unsigned integer. Any other algorithm (including
//! `none`), a bad signature, an expired token or an unknown workspace is
//! `not_authenticated`.
//!
//! The token travels in the `Authorization` header. Only endpoints a browser
//! opens itself without being able to set a header (the SSE stream of connect
//! results) take it from `?token=` ([`QueryTokenAuth`]); anywhere else a query
//! token would end up in logs and, through the proxy, at the external app. The
//! hosted screens read theirs from their form fields. Whatever Osmosis forwards
//! (proxied query strings and headers, collection parameters) is first cleared of
//! anything that is an access token of the caller's workspace
//! ([`without_access_tokens`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use dashmap::DashMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use osmosis_engine::caller::CustomerClaims;
use osmosis_engine::Caller;
use osmosis_model::ApiError;
use osmosis_store::Workspace;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ErrorResponse;
use crate::AppState;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    /// Read as any JSON value so a malformed one is refused rather than ignored.
    exp: Option<Value>,
    nbf: Option<Value>,
    iss: Option<String>,
    workspace_key: Option<String>,
    id: Option<Value>,
    tenant_key: Option<Value>,
    sub: Option<Value>,
    name: Option<String>,
    fields: Option<Value>,
    #[serde(default, deserialize_with = "flag")]
    is_admin: bool,
}

/// `true`, or the text `"true"` as Membrane's export scripts send `isAdmin`
/// (`false` and `"false"` likewise); anything else makes the token unreadable,
/// so it is refused rather than taken for a customer's.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "isAdmin must be true or false, not {other}"
        ))),
    }
}

/// Verified workspaces by key, each re-read from the database once it is
/// [`WORKSPACE_RECHECK`] old: caching keeps the database off the hot path, and the
/// re-read bounds how long a secret rotated (`osmosis workspace rotate-secret`) or a
/// workspace archived (`osmosis workspace delete`) by another process goes unseen.
#[derive(Default)]
pub struct WorkspaceCache {
    by_key: DashMap<String, (Arc<Workspace>, Instant)>,
    /// Tokens whose signature was verified, with their workspace and claims. HMAC
    /// verification is deterministic, so a token once verified stays valid until
    /// its `exp` while its workspace keeps the secret it was verified with (checked
    /// on every hit against the cached workspace); the customer behind it is still
    /// resolved on every request (an archived customer is refused at once).
    verified: DashMap<String, (Arc<Workspace>, Arc<Claims>)>,
}

/// How long a workspace read from the database is trusted before it is read again:
/// the longest a running server keeps accepting tokens signed with a rotated-out
/// secret, or of an archived workspace. A database that does not answer the re-read
/// leaves the cached workspace in use.
pub const WORKSPACE_RECHECK: Duration = Duration::from_secs(5);

/// More verified tokens than this and the cache starts over (a bound on memory).
const MAX_VERIFIED_TOKENS: usize = 100_000;

/// Clock skew tolerated between the token's minter and this server, in seconds.
const LEEWAY_SECS: f64 = 5.0;

/// A time claim (`exp`, `nbf`): absent, or seconds since the epoch that are a
/// non-negative number.
fn time_claim(claims_value: &Option<Value>, name: &str) -> Result<Option<f64>, ErrorResponse> {
    match claims_value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(Some(t)),
            _ => Err(unauthenticated(&format!(
                "The access token's `{name}` must be a non-negative number of seconds"
            ))),
        },
        Some(_) => Err(unauthenticated(&format!(
            "The access token's `{name}` must be a number of seconds since the epoch"
        ))),
    }
}

/// Refuses a token whose `exp` has passed or whose `nbf` is still ahead.
fn check_times(claims: &Claims) -> Result<(), ErrorResponse> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    if let Some(exp) = time_claim(&claims.exp, "exp")? {
        if exp + LEEWAY_SECS <= now {
            return Err(unauthenticated("The access token has expired"));
        }
    }
    if let Some(nbf) = time_claim(&claims.nbf, "nbf")? {
        if nbf - LEEWAY_SECS > now {
            return Err(unauthenticated(
                "The access token is not valid yet (`nbf` is in the future)",
            ));
        }
    }
    Ok(())
}

fn unauthenticated(msg: &str) -> ErrorResponse {
    ErrorResponse(ApiError::not_authenticated(msg.to_string()))
}

fn claim_string(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl AppState {
    /// The live workspace `key`: cached, re-read once [`WORKSPACE_RECHECK`] old.
    pub(crate) async fn workspace(&self, key: &str) -> Result<Arc<Workspace>, ErrorResponse> {
        let cached = self
            .workspaces
            .by_key
            .get(key)
            .map(|entry| (Arc::clone(&entry.0), entry.1));
        if let Some((ws, read_at)) = &cached {
            if read_at.elapsed() < WORKSPACE_RECHECK {
                return Ok(Arc::clone(ws));
            }
        }
        let found = match self.engine.workspace_by_key(key).await {
            Ok(found) => found,
            // The database is away: keep trusting what it said last, and ask it
            // again only after another recheck period, so requests do not each
            // wait on it during an outage.
            Err(_) if cached.is_some() => {
                let ws = cached.expect("checked").0;
                self.workspaces
                    .by_key
                    .insert(key.to_string(), (Arc::clone(&ws), Instant::now()));
                return Ok(ws);
            }
            Err(e) => return Err(ErrorResponse(e)),
        };
        let Some(found) = found else {
            self.workspaces.by_key.remove(key);
            return Err(unauthenticated("The token's workspace is unknown"));
        };
        // Unchanged: keep the value callers already share.
        let ws = match cached {
            Some((ws, _)) if *ws == found => ws,
            _ => Arc::new(found),
        };
        self.workspaces
            .by_key
            .insert(key.to_string(), (Arc::clone(&ws), Instant::now()));
        Ok(ws)
    }

    /// Verifies `token` and resolves the caller it speaks for.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, ErrorResponse> {
        let hit = self
            .workspaces
            .verified
            .get(token)
            .map(|entry| (Arc::clone(&entry.0), Arc::clone(&entry.1)));
        // A cached token still needs its workspace live with the same secret.
        let hit = match hit {
            Some((workspace, claims)) => {
                match self.workspace(&workspace.key).await {
                    Ok(current) if current.secret == workspace.secret => Some((current, claims)),
                    // A new secret: the token is verified again against it.
                    Ok(_) => {
                        self.workspaces.verified.remove(token);
                        None
                    }
                    // Gone (or unreadable): verifying again would ask the same.
                    Err(e) => {
                        self.workspaces.verified.remove(token);
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let (workspace, claims) = match hit {
            Some((workspace, claims)) => {
                check_times(&claims)?;
                (workspace, claims)
            }
            None => {
                let (workspace, claims) = self.verify(token).await?;
                let claims = Arc::new(claims);
                let cache = &self.workspaces.verified;
                if cache.len() >= MAX_VERIFIED_TOKENS {
                    cache.clear();
                }
                cache.insert(
                    token.to_owned(),
                    (Arc::clone(&workspace), Arc::clone(&claims)),
                );
                (workspace, claims)
            }
        };
        let customer = claim_string(&claims.id)
            .or(claim_string(&claims.tenant_key))
            .or(claim_string(&claims.sub));
        crate::request_span::identify(&workspace.key, customer.as_deref());
        match customer {
            Some(internal_id) => Ok(self
                .engine
                .customer_caller(workspace, CustomerClaims { internal_id, name: claims.name.clone(), fields: claims.fields.clone() })
                .await?),
            None if claims.is_admin => Ok(Caller::admin(workspace)),
            None => Err(unauthenticated("The access token names no customer (id, tenantKey or sub) and is not an admin token")),
        }
    }

    /// Checks a token's algorithm, workspace, signature and expiry.
    async fn verify(&self, token: &str) -> Result<(Arc<Workspace>, Claims), ErrorResponse> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthenticated("The access token is not a valid JWT"))?;
        if !matches!(header.alg, Algorithm::HS256 | Algorithm::HS512) {
            return Err(unauthenticated(
                "The access token must be signed with HS256 or HS512",
            ));
        }
        // Read the issuer first (unverified) to know whose secret checks the signature.
        let mut peek = signature_only(header.alg);
        peek.insecure_disable_signature_validation();
        let unverified =
            jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&[]), &peek)
                .map_err(|_| unauthenticated("The access token's claims are malformed"))?;
        let ws_key = unverified
            .claims
            .iss
            .clone()
            .or(unverified.claims.workspace_key.clone())
            .ok_or_else(|| {
                unauthenticated("The access token names no workspace (iss or workspaceKey)")
            })?;
        let workspace = self.workspace(&ws_key).await?;
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(workspace.secret.as_bytes()),
            &signature_only(header.alg),
        )
        .map_err(|_| unauthenticated("The access token's signature is invalid"))?
        .claims;
        check_times(&claims)?;
        Ok((workspace, claims))
    }
}

/// The library's validation reduced to the signature: time claims are ours
/// ([`check_times`]), the same on the first and every later request.
fn signature_only(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation
}

/// The bearer token of the `Authorization` header, when there is one.
fn header_token(parts: &Parts) -> Result<Option<String>, ErrorResponse> {
    let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    h.to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(|t| Some(t.trim().to_string()))
        .ok_or_else(|| unauthenticated("The Authorization header must be `Bearer <token>`"))
}

/// The authenticated caller of a request, from the `Authorization` header only.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = header_token(parts)?.ok_or_else(|| {
            unauthenticated(
                "No access token: send `Authorization: Bearer <token>` \
                 (a `token` query parameter is taken only by the SSE endpoint)",
            )
        })?;
        Ok(Auth(state.authenticate(&token).await?))
    }
}

/// The caller a request names with `Authorization: Bearer <token>`, if it sends
/// one; other schemes (a sender's own Basic credentials) are not ours to read and
/// count as none. A Bearer token that does not verify is refused.
pub struct OptionalAuth(pub Option<Caller>);

impl FromRequestParts<AppState> for OptionalAuth {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.starts_with("Bearer ") || h.starts_with("bearer "));
        if !bearer {
            return Ok(OptionalAuth(None));
        }
        let token = header_token(parts)?.unwrap_or_default();
        Ok(OptionalAuth(Some(state.authenticate(&token).await?)))
    }
}

/// The caller of an endpoint a browser opens itself (an `EventSource`, which
/// cannot send headers): the `Authorization` header, else `?token=`.
pub struct QueryTokenAuth(pub Caller);

impl FromRequestParts<AppState> for QueryTokenAuth {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = match header_token(parts)? {
            Some(t) => t,
            None => crate::query::Query::parse(parts.uri.query())
                .string("token")
                .ok_or_else(|| {
                    unauthenticated(
                        "No access token: send `Authorization: Bearer <token>` or `?token=`",
                    )
                })?,
        };
        Ok(QueryTokenAuth(state.authenticate(&token).await?))
    }
}

/// Whether `value` is an access token of the caller's workspace (a JWT its
/// secret signed, whatever its claims or expiry): such a value is a credential for
/// Osmosis and must never be passed on to an external app.
pub fn is_access_token(caller: &Caller, value: &str) -> bool {
    let value = value.trim();
    let value = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    if value.split('.').count() != 3 {
        return false;
    }
    let Ok(header) = jsonwebtoken::decode_header(value) else {
        return false;
    };
    if !matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return false;
    }
    jsonwebtoken::decode::<Value>(
        value,
        &DecodingKey::from_secret(caller.workspace.secret.as_bytes()),
        &signature_only(header.alg),
    )
    .is_ok()
}

/// `pairs` (query parameters or headers about to be forwarded) without those
/// whose value is an access token of the caller's workspace.
pub fn without_access_tokens(
    caller: &Caller,
    pairs: Vec<(String, String)>,
) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(_, v)| !is_access_token(caller, v))
        .collect()
}
