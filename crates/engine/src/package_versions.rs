//! Package versions: publishing a package snapshots it, once, and a package
//! can be read as of any version it published. Membrane's SDK has the shapes
//! (`PackageVersionData`, `PackageVersionListItem`, `PACKAGE_VERSION_DEVELOPMENT
//! = 'dev'`, `PACKAGE_VERSION_LATEST = 'latest'`) but no calls, so the routes
//! are ours (`routes/package_versions.rs`, and `?version=` on the package GETs).
//!
//! Decisions where Membrane's docs are silent:
//! * A snapshot holds the package's export properties (name, description, its
//!   element list as `{uuid, type}`) and each listed element's export
//!   properties, references by uuid as a workspace export writes them
//!   (`config_as_code::export`): uuids survive an export and import to another
//!   server, ids do not, so a snapshot means the same wherever it is read.
//! * A read at a version shows the version's name, description and element
//!   list; each element that still exists (found by uuid, archived or not) is
//!   rendered as it is now (`{id, type, element}`, as the working copy's are).
//!   One that no longer exists is `{uuid, type}`: it has no id to give, so the
//!   SDK's `PackageElement` (which requires `id`) does not fit it. The elements'
//!   properties as published stay in the snapshot and are not shown: responses
//!   carry no key the SDK's schemas do not name, and `element` is the SDK's
//!   rendering of an element, not its export form. They are what an upgrade to
//!   a version would need.
//! * `parentPackageVersion` is the version published just before, whatever its
//!   name: publishing is a history, not a semver tree. `latest` is the newest
//!   published the same way, so `2.0.0` then `1.5.1` makes `1.5.1` the latest.
//!   On one node a package's publishes are serialised and each is given a
//!   creation time after its parent's, so the order never ties; two nodes
//!   publishing one package at the same moment may give both the same parent.
//! * Version names follow the connector versions' rules (`check_version`), and
//!   `dev` and `latest`, which name the working copy and the newest version on
//!   reads, cannot be published.
//! * Versions are admin-only, reads too: they are the workspace's release
//!   history, which a customer's token has no use for; a customer is refused
//!   before the package is looked up, so it learns nothing of which exist.
//! * An archived package cannot publish (410); its versions stay readable, as
//!   the archived package itself is.
//! * This module reaches the element core only through its public reads; the
//!   core never calls it.

use osmosis_model::error::keys;
use osmosis_model::{ids, ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, PackageVersion};
use serde_json::{json, Map, Value};

use crate::clock::now_ms;
use crate::config_as_code::export::{export_properties, ExportOptions, Refs};
use crate::connector_sources::check_version;
use crate::elements::Depth;
use crate::errors::store_error;
use crate::{Caller, Engine};

/// The working copy on reads (the SDK's `PACKAGE_VERSION_DEVELOPMENT`).
pub const DEV: &str = "dev";
/// The newest published version on reads (the SDK's `PACKAGE_VERSION_LATEST`).
pub const LATEST: &str = "latest";

/// What a caller that is not an admin is told.
pub const ADMIN_ONLY: &str = "package versions need an admin token";

/// A version name to publish: [`check_version`]'s rules, and not a name reads
/// give a meaning of their own.
pub fn check_package_version(version: &str) -> Result<(), ApiError> {
    check_version(version)?;
    if [DEV, LATEST]
        .iter()
        .any(|r| version.eq_ignore_ascii_case(r))
    {
        return Err(ApiError::invalid_field(
            "version",
            format!("`{version}` names the working copy or the newest version on reads; publish a version such as `1.0.0`"),
        ));
    }
    Ok(())
}

/// A version as the version list shows it (the SDK's `PackageVersionListItem`,
/// which has no time: the list's order tells it).
fn list_item(row: &PackageVersion) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(row.id));
    m.insert("version".into(), json!(row.version));
    if let Some(changelog) = &row.changelog {
        m.insert("changelog".into(), json!(changelog));
    }
    if let Some(parent) = &row.parent_version {
        m.insert("parentPackageVersion".into(), json!(parent));
    }
    Value::Object(m)
}

fn ensure_package(el: &Element) -> Result<(), ApiError> {
    if el.element_type != ElementType::Package {
        return Err(ApiError::internal(format!(
            "{} {} is not a package",
            el.element_type.name(),
            el.id
        )));
    }
    Ok(())
}

impl Engine {
    /// `POST /packages/{selector}/versions`: snapshots the package as it is now
    /// as `version`, once; answers the version's list item.
    pub async fn publish_package_version(
        &self,
        caller: &Caller,
        package: &Element,
        version: &str,
        changelog: Option<String>,
    ) -> Result<Value, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        ensure_package(package)?;
        if package.is_archived() {
            return Err(ApiError::bad_request(
                keys::GONE,
                format!(
                    "The package `{}` is archived; restore it before publishing a version",
                    package.id
                ),
            ));
        }
        check_package_version(version)?;
        let snapshot = self.package_snapshot(package).await?;
        let store = &self.stores.package_versions;
        let (ws, id) = (&package.workspace_id, &package.id);
        // Not the element's own lock: the parent read and the insert must not
        // interleave with another publish, element writes may.
        let _lock = self.locks.lock(&format!("{id}#versions")).await;
        let newest = store
            .newest_package_version(ws, id)
            .await
            .map_err(store_error)?;
        let row = PackageVersion {
            workspace_id: ws.clone(),
            package_id: id.clone(),
            version: version.to_owned(),
            id: ids::object_id(),
            changelog: changelog.filter(|c| !c.is_empty()),
            parent_version: newest.as_ref().map(|n| n.version.clone()),
            created_ms: now_ms().max(newest.as_ref().map_or(0, |n| n.created_ms + 1)),
            snapshot,
        };
        if !store
            .insert_package_version(&row)
            .await
            .map_err(store_error)?
        {
            return Err(ApiError::already_exists(format!(
                "The package `{id}` already has version `{version}`; published versions cannot change, publish another"
            )));
        }
        Ok(list_item(&row))
    }

    /// `GET /packages/{selector}/versions`: the published versions, newest
    /// first.
    pub async fn package_versions(
        &self,
        caller: &Caller,
        package: &Element,
    ) -> Result<Vec<Value>, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        ensure_package(package)?;
        let rows = self
            .stores
            .package_versions
            .package_versions(&package.workspace_id, &package.id)
            .await
            .map_err(store_error)?;
        Ok(rows.iter().map(list_item).collect())
    }

    /// `GET /packages/{selector}?version=V`: the package as of version `V`
    /// (`latest`: the newest), or `None` when the request asks for the working
    /// copy (`dev`) or names no package, which then render as without
    /// `version`.
    pub async fn package_at_version(
        &self,
        caller: &Caller,
        package: &Element,
        version: &str,
    ) -> Result<Option<Value>, ApiError> {
        if package.element_type != ElementType::Package || version == DEV {
            return Ok(None);
        }
        caller.require_admin(ADMIN_ONLY)?;
        let store = &self.stores.package_versions;
        let (ws, id) = (&package.workspace_id, &package.id);
        let row = if version == LATEST {
            store
                .newest_package_version(ws, id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| {
                    ApiError::not_found(format!("The package `{id}` has no published version"))
                })?
        } else {
            check_version(version)?;
            store
                .package_version(ws, id, version)
                .await
                .map_err(store_error)?
                .ok_or_else(|| {
                    ApiError::not_found(format!("The package `{id}` has no version `{version}`"))
                })?
        };
        let mut out = match self.elements().render(caller, package, Depth::Full).await? {
            Value::Object(m) => m,
            other => {
                return Err(ApiError::internal(format!(
                    "a package rendered as {other}, not an object"
                )))
            }
        };
        let at = &row.snapshot["package"];
        if let Some(name) = at.get("name") {
            out.insert("name".into(), name.clone());
        }
        match at.get("description") {
            Some(d) => out.insert("description".into(), d.clone()),
            None => out.remove("description"),
        };
        let mut elements = Vec::new();
        for item in row.snapshot["elements"].as_array().into_iter().flatten() {
            elements.push(self.element_at_version(caller, package, item).await?);
        }
        out.insert("elements".into(), Value::Array(elements));
        out.insert("version".into(), json!(row.version));
        match &row.changelog {
            Some(c) => out.insert("changelog".into(), json!(c)),
            None => out.remove("changelog"),
        };
        match &row.parent_version {
            Some(p) => out.insert("parentPackageVersion".into(), json!(p)),
            None => out.remove("parentPackageVersion"),
        };
        Ok(Some(Value::Object(out)))
    }

    /// The package's export properties and each listed element's.
    async fn package_snapshot(&self, package: &Element) -> Result<Value, ApiError> {
        let ws = &package.workspace_id;
        let members = self.elements().package_members(package).await?;
        let mut all = vec![package.clone()];
        all.extend(members.iter().cloned());
        let refs = Refs::new(self, ws, &all).await?;
        // Secrets never go into a version: anyone who may read it would see them.
        let options = ExportOptions::default();
        let elements: Vec<Value> = members
            .iter()
            .map(|el| {
                json!({
                    "uuid": el.uuid,
                    "type": el.element_type.name(),
                    "properties": export_properties(el, &refs, options),
                })
            })
            .collect();
        Ok(json!({
            "package": export_properties(package, &refs, options),
            "elements": elements,
        }))
    }

    /// One element of a version: the element with that uuid as it is now.
    async fn element_at_version(
        &self,
        caller: &Caller,
        package: &Element,
        item: &Value,
    ) -> Result<Value, ApiError> {
        let uuid = item.get("uuid").and_then(Value::as_str).unwrap_or_default();
        let type_name = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let mut out = Map::new();
        let current = match ElementType::from_name(type_name) {
            Some(t) if !uuid.is_empty() => {
                let mut q = ElementQuery::new(&package.workspace_id, t);
                q.uuid = Some(uuid.to_owned());
                q.include_archived = true;
                self.stores
                    .elements
                    .first_element(q)
                    .await
                    .map_err(store_error)?
            }
            _ => None,
        };
        match current {
            Some(el) => {
                out.insert("id".into(), json!(el.id));
                out.insert("type".into(), json!(type_name));
                out.insert(
                    "element".into(),
                    self.elements().render(caller, &el, Depth::Flat).await?,
                );
            }
            None => {
                out.insert("uuid".into(), json!(uuid));
                out.insert("type".into(), json!(type_name));
            }
        }
        Ok(Value::Object(out))
    }
}
