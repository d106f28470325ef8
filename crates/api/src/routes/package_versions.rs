//! Package versions (`osmosis_engine::package_versions`), all with an admin
//! token of the workspace, under `/packages` and its alias `/scenarios`:
//!
//! * `POST /packages/{selector}/versions` `{version, changelog?}` — publishes
//!   the package as it is now; answers the version's list item
//! * `GET /packages/{selector}/versions` — `{items}`, newest first
//!
//! Public packages (`osmosis_engine::public_packages`), admin too:
//!
//! * `POST /packages/{selector}/publish` and `…/unpublish` — `isPublic` on and
//!   off; answer the package
//! * `GET /public-packages?search&limit&cursor` — `{items, cursor?}` of every
//!   workspace's public packages
//! * `POST /public-packages/{id}/install` `{version?}` — answers the installed
//!   package
//! * `POST /packages/{selector}/upgrade` `{version?}` — answers the package
//!
//! A package as of a version is the package GET with `?version=` (routes/
//! elements.rs). The list answers `{items}` as the SDK's other lists do (the
//! connector versions' bare array is what Membrane's CLI reads there; nothing
//! reads this one yet). The static `versions` segment sits beside the generic
//! `/packages/{selector}/…` element routes without clashing.

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::elements::Depth;
use osmosis_engine::package_versions::ADMIN_ONLY;
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Value};

use super::elements::stems;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::Body;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    let mut r = Routes::new();
    for (plural, _) in stems(ElementType::Package) {
        r = r.route(
            &format!("/{plural}/{{selector}}/versions"),
            get(list).post(publish),
        );
        r = r
            .route(
                &format!("/{plural}/{{selector}}/publish"),
                post(|s, a, p| set_public(s, a, p, true)),
            )
            .route(
                &format!("/{plural}/{{selector}}/unpublish"),
                post(|s, a, p| set_public(s, a, p, false)),
            )
            .route(&format!("/{plural}/{{selector}}/upgrade"), post(upgrade));
    }
    r.route("/public-packages", get(public_list))
        .route("/public-packages/{id}/install", post(install))
}

/// The body of an install or upgrade: the version to go to (`latest`, the
/// default, is the newest published).
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PackageVersionChoice {
    pub version: Option<String>,
}

async fn set_public(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    public: bool,
) -> ApiResult<Json<Value>> {
    let el = package(&state, &caller, selector).await?;
    state
        .engine
        .set_package_public(&caller, &el, public)
        .await?;
    Ok(Json(
        state
            .engine
            .elements()
            .render(&caller, &el, Depth::Full)
            .await?,
    ))
}

async fn public_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let limit = q.limit()?.map(|l| l.clamp(1, 1000) as usize);
    let out = state
        .engine
        .public_packages(
            &caller,
            q.get("search"),
            limit,
            q.get("cursor").filter(|c| !c.is_empty()),
        )
        .await?;
    Ok(Json(out))
}

async fn install(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(body): Body<PackageVersionChoice>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .install_public_package(&caller, &id, body.version.as_deref().map(str::trim))
            .await?,
    ))
}

async fn upgrade(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    Body(body): Body<PackageVersionChoice>,
) -> ApiResult<Json<Value>> {
    let el = package(&state, &caller, selector).await?;
    Ok(Json(
        state
            .engine
            .upgrade_package(&caller, &el, body.version.as_deref().map(str::trim))
            .await?,
    ))
}

/// The body of `POST /packages/{selector}/versions`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PublishPackageVersion {
    /// The version's name: letters, digits, `.`, `-`, `+`, `_` (`1.2.3`); not
    /// `dev` or `latest`.
    pub version: String,
    pub changelog: Option<String>,
}

/// The package a path names in the caller's workspace; admins only, checked
/// before the lookup so a customer learns nothing of which packages exist.
async fn package(state: &AppState, caller: &Caller, selector: String) -> Result<Element, ApiError> {
    caller.require_admin(ADMIN_ONLY)?;
    state
        .engine
        .elements()
        .resolve(caller, ElementType::Package, &PathSelector::new(selector))
        .await
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
) -> ApiResult<Json<Value>> {
    let el = package(&state, &caller, selector).await?;
    let items = state.engine.package_versions(&caller, &el).await?;
    Ok(Json(json!({ "items": items })))
}

async fn publish(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    Body(body): Body<PublishPackageVersion>,
) -> ApiResult<Json<Value>> {
    let el = package(&state, &caller, selector).await?;
    Ok(Json(
        state
            .engine
            .publish_package_version(&caller, &el, body.version.trim(), body.changelog)
            .await?,
    ))
}
