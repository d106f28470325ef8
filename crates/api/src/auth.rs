//! Who is calling: the bearer JWT, verified with its workspace's secret.
//!
//! Accepted exactly as the SDK mints them (api-surface §5): HS256 or HS512, the
//! workspace key in `iss` (or `workspaceKey`), the customer's id in `id` (or
//! `tenantKey`/`sub`), optional `name` and `fields`; `isAdmin: true` with no customer
//! claim is an admin token. `exp` is checked when present; a token without `exp`
//! is accepted, as the hosted service's jsonwebtoken-based check does. Any other
//! algorithm (including `none`), a bad signature, an expired token or an unknown
//! workspace is `not_authenticated`. Browser-facing endpoints may carry the token in
//! `?token=` instead of the header.

use std::sync::Arc;

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
    exp: Option<f64>,
    iss: Option<String>,
    workspace_key: Option<String>,
    id: Option<Value>,
    tenant_key: Option<Value>,
    sub: Option<Value>,
    name: Option<String>,
    fields: Option<Value>,
    #[serde(default)]
    is_admin: bool,
}

/// Verified workspaces by key. A workspace's secret never changes while the server
/// runs, so caching the lookup keeps the database off the hot path.
#[derive(Default)]
pub struct WorkspaceCache {
    by_key: DashMap<String, Arc<Workspace>>,
    /// Tokens whose signature was verified, with their workspace and claims. HMAC
    /// verification is deterministic and a workspace's secret never changes, so a
    /// token once verified stays valid until its `exp`; the customer behind it is
    /// still resolved on every request (an archived customer is refused at once).
    verified: DashMap<String, (Arc<Workspace>, Arc<Claims>)>,
}

/// More verified tokens than this and the cache starts over (a bound on memory).
const MAX_VERIFIED_TOKENS: usize = 100_000;

fn unexpired(claims: &Claims) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    claims.exp.is_none_or(|exp| exp + 5.0 > now)
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
    async fn workspace(&self, key: &str) -> Result<Arc<Workspace>, ErrorResponse> {
        if let Some(ws) = self.workspaces.by_key.get(key) {
            return Ok(ws.clone());
        }
        let ws = self
            .engine
            .store
            .workspace_by_key(key)
            .await
            .map_err(|e| ErrorResponse(osmosis_engine::elements::store_error(e)))?
            .ok_or_else(|| unauthenticated("The token's workspace is unknown"))?;
        let ws = Arc::new(ws);
        self.workspaces.by_key.insert(key.to_string(), ws.clone());
        Ok(ws)
    }

    /// Verifies `token` and resolves the caller it speaks for.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, ErrorResponse> {
        let hit = self
            .workspaces
            .verified
            .get(token)
            .map(|entry| (Arc::clone(&entry.0), Arc::clone(&entry.1)));
        let (workspace, claims) = match hit {
            Some((workspace, claims)) if unexpired(&claims) => (workspace, claims),
            _ => {
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
        let mut peek = Validation::new(header.alg);
        peek.insecure_disable_signature_validation();
        peek.validate_exp = false;
        peek.required_spec_claims.clear();
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
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(workspace.secret.as_bytes()),
            &validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                unauthenticated("The access token has expired")
            }
            _ => unauthenticated("The access token's signature is invalid"),
        })?
        .claims;
        Ok((workspace, claims))
    }
}

/// The authenticated caller of a request.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = match header {
            Some(h) => h
                .strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    unauthenticated("The Authorization header must be `Bearer <token>`")
                })?
                .to_string(),
            None => crate::query::Query::parse(parts.uri.query())
                .string("token")
                .ok_or_else(|| {
                    unauthenticated("No access token: send `Authorization: Bearer <token>`")
                })?,
        };
        Ok(Auth(state.authenticate(&token).await?))
    }
}
