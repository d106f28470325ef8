//! Public packages: a workspace publishes a package to every workspace of this
//! server, which can install one of its published versions and later upgrade
//! to a newer one. Semantics §6 has the words (publish/unpublish toggles
//! `isPublic`, a public list with `search`, elements from a published package
//! `isReadOnly` in the consuming workspace); the paths and bodies are ours,
//! as Membrane's docs and SDK give none (`routes/package_versions.rs`).
//!
//! Decisions where Membrane's docs are silent:
//! * **What is public** is the package's published versions, not its working
//!   copy: a package needs a version before it can be made public, the list
//!   shows each package as its newest version (`latest`) names it, and an
//!   install copies a version's snapshot. Publishing a newer version of a
//!   public package makes it what installs get from then on.
//! * **Only universal elements travel.** A version whose package or elements
//!   belong to an integration cannot be made public or installed: integrations
//!   are the publishing workspace's own. An element a version's elements refer
//!   to and do not carry (a field mapping's data source, say) must already be
//!   in the installing workspace with the same uuid, or the install is refused
//!   naming it.
//! * **An install is an import** of the version's elements and package
//!   (`config_as_code::import`, with [`ImportMode`]): checked, staged and
//!   committed in one transaction as a workspace import is, matched by uuid
//!   only (an element of the workspace with a key the package uses is not
//!   taken over: the install is refused on the key), and every element it
//!   writes is `isReadOnly`, so the API refuses to change or archive it.
//! * **Applying** an installed package to integrations is allowed, as for any
//!   universal package (`Elements::apply_to_integrations`): the copies are
//!   the workspace's own and can be customised.
//! * **Upgrade rule.** `upgrade` moves an installed package to a newer
//!   published version (newest by default): its read-only elements become the
//!   version's; elements the version dropped are archived, with their
//!   integration-level copies, customised or not (archiving discards nothing:
//!   a restore brings a copy back as it was); the package is
//!   applied again to the integrations it is applied to, so they get copies
//!   of the elements the version added. Integration-level copies that are not
//!   customised follow their new parent at once; **customised copies are left
//!   exactly as they are** — an upgrade never discards an edit. Their
//!   `isCustomized` stays true, visible in the package's
//!   `appliedToIntegrations`, and `POST /{type}/{id}/reset` makes one follow
//!   the new version. A version older than the installed one is refused:
//!   downgrades are not supported; the installed version again is a no-op.
//! * **Unpublishing** hides the package from the list and refuses new installs
//!   and upgrades from it; workspaces that installed it keep what they have.
//! * Every call needs an admin token, and the list names only what a workspace
//!   chose to publish; a package that is not public answers 404 whether or
//!   not it exists, so other workspaces learn nothing of it.
//! * Not built yet: uninstalling. An installed package's elements are
//!   read-only, so neither they nor the package can be archived through the
//!   API; an upgrade to a version without them is the way to drop elements.

use std::collections::HashSet;

use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, PackageVersion, RefFilter};
use serde_json::{json, Map, Value};

use crate::clock::now_ms;
use crate::config_as_code::export::ROOT;
use crate::config_as_code::import::{ImportMode, INSTALLED_FROM};
use crate::config_as_code::{ImportOptions, WorkspaceFiles};
use crate::elements::Depth;
use crate::errors::store_error;
use crate::package_versions::LATEST;
use crate::{Caller, Engine};

/// What a caller that is not an admin is told.
pub const ADMIN_ONLY: &str = "public packages need an admin token";

/// The most public packages one list page holds.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

/// Where an installed package came from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstalledFrom {
    workspace_id: String,
    package_id: String,
    version: String,
}

impl InstalledFrom {
    fn of(el: &Element) -> Option<Self> {
        serde_json::from_value(el.doc.get(INSTALLED_FROM)?.clone()).ok()
    }
}

/// The version a package installed, for its rendering (`version`).
pub(crate) fn installed_version(el: &Element) -> Option<String> {
    InstalledFrom::of(el).map(|i| i.version)
}

fn not_public(id: &str) -> ApiError {
    ApiError::not_found(format!("No public package `{id}`"))
}

/// A version's elements and package are universal: what may be published
/// and installed.
fn check_universal(row: &PackageVersion) -> Result<(), ApiError> {
    let bound = |props: &Value| props.get("integrationUuid").is_some();
    if bound(&row.snapshot["package"]) {
        return Err(ApiError::bad_request(
            keys::NOT_SUPPORTED,
            "only a universal package can be public: this one belongs to an integration",
        ));
    }
    for (i, item) in row.snapshot["elements"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if bound(&item["properties"]) {
            return Err(ApiError::bad_request(
                keys::NOT_SUPPORTED,
                format!(
                    "version `{}` lists an element of an integration (elements[{i}], {} `{}`): a public package carries universal elements only",
                    row.version,
                    item["type"].as_str().unwrap_or_default(),
                    item["uuid"].as_str().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// A version's snapshot as the files of a workspace export, for the import.
fn version_files(row: &PackageVersion) -> Result<WorkspaceFiles, ApiError> {
    let mut files = std::collections::BTreeMap::new();
    let mut add = |type_name: &str, props: &Value| -> Result<(), ApiError> {
        let t = ElementType::from_name(type_name).ok_or_else(|| {
            ApiError::internal(format!("a package version lists the type `{type_name}`"))
        })?;
        // Named by key, as an export names them, so a refusal's path says
        // which element; by uuid when the key is no safe folder name.
        let uuid = props["uuid"].as_str().unwrap_or_default();
        let folder = props["key"]
            .as_str()
            .filter(|k| !k.is_empty() && *k != "." && *k != ".." && !k.contains(['/', '\\']))
            .unwrap_or(uuid);
        let yaml = serde_yaml::to_string(props)
            .map_err(|e| ApiError::internal(format!("a package version as YAML: {e}")))?;
        let mut path = format!("{ROOT}/{}/{folder}/spec.yaml", t.spec().api_path);
        if files.contains_key(&path) {
            path = format!("{ROOT}/{}/{uuid}/spec.yaml", t.spec().api_path);
        }
        files.insert(path, yaml.into_bytes());
        Ok(())
    };
    for item in row.snapshot["elements"].as_array().into_iter().flatten() {
        add(
            item["type"].as_str().unwrap_or_default(),
            &item["properties"],
        )?;
    }
    add(ElementType::Package.name(), &row.snapshot["package"])?;
    Ok(WorkspaceFiles { files })
}

impl Engine {
    /// `POST /packages/{selector}/publish` and `…/unpublish`: makes the package
    /// public (it needs a published version) or not.
    pub async fn set_package_public(
        &self,
        caller: &Caller,
        package: &Element,
        public: bool,
    ) -> Result<(), ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        let store = &self.stores.package_versions;
        if !public {
            return store
                .set_package_public(&package.workspace_id, &package.id, None)
                .await
                .map_err(store_error);
        }
        if package.is_archived() {
            return Err(ApiError::bad_request(
                keys::GONE,
                format!(
                    "The package `{}` is archived; restore it before publishing it",
                    package.id
                ),
            ));
        }
        if package.doc.contains_key(INSTALLED_FROM) {
            return Err(ApiError::bad_request(
                keys::NOT_SUPPORTED,
                format!(
                    "The package `{}` was installed from another workspace; only that workspace can publish it",
                    package.id
                ),
            ));
        }
        let latest = store
            .newest_package_version(&package.workspace_id, &package.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiError::bad_request(
                    keys::NOT_SUPPORTED,
                    format!(
                        "The package `{}` has no published version; publish one (POST /packages/{}/versions) before making it public",
                        package.id, package.id
                    ),
                )
            })?;
        check_universal(&latest)?;
        store
            .set_package_public(&package.workspace_id, &package.id, Some(now_ms()))
            .await
            .map_err(store_error)
    }

    /// Whether a package of the workspace is public (its `isPublic`).
    pub(crate) async fn package_is_public(&self, package: &Element) -> Result<bool, ApiError> {
        Ok(self
            .stores
            .package_versions
            .public_package_workspace(&package.id)
            .await
            .map_err(store_error)?
            .as_deref()
            == Some(package.workspace_id.as_str()))
    }

    /// A public package and the version asked for (`None` or `latest`: the
    /// newest); 404 for one that is not public, archived or without it.
    async fn public_version(
        &self,
        id: &str,
        version: Option<&str>,
    ) -> Result<(Element, PackageVersion), ApiError> {
        let ws = self
            .stores
            .package_versions
            .public_package_workspace(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_public(id))?;
        self.public_version_in(&ws, id, version).await
    }

    /// [`Engine::public_version`] of a package known to be public in `ws`.
    async fn public_version_in(
        &self,
        ws: &str,
        id: &str,
        version: Option<&str>,
    ) -> Result<(Element, PackageVersion), ApiError> {
        let store = &self.stores.package_versions;
        let package = self
            .stores
            .elements
            .element_by_id(ws, id)
            .await
            .map_err(store_error)?
            .filter(|p| !p.is_archived() && p.element_type == ElementType::Package)
            .ok_or_else(|| not_public(id))?;
        let row = match version.filter(|v| *v != LATEST) {
            None => store
                .newest_package_version(ws, id)
                .await
                .map_err(store_error)?,
            Some(v) => store
                .package_version(ws, id, v)
                .await
                .map_err(store_error)?,
        }
        .ok_or_else(|| match version {
            Some(v) if v != LATEST => {
                ApiError::not_found(format!("The public package `{id}` has no version `{v}`"))
            }
            _ => not_public(id),
        })?;
        Ok((package, row))
    }

    /// `GET /public-packages?search&limit&cursor`: the public packages of
    /// every workspace, each as its newest version names it; `search` matches
    /// the name or key, ignoring case.
    pub async fn public_packages(
        &self,
        caller: &Caller,
        search: Option<&str>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<Value, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let needle = search.map(str::to_lowercase).filter(|s| !s.is_empty());
        let mut items = Vec::new();
        let mut after = cursor.map(str::to_owned);
        let mut next_cursor = None;
        'pages: loop {
            let rows = self
                .stores
                .package_versions
                .public_packages(after.as_deref(), MAX_LIMIT)
                .await
                .map_err(store_error)?;
            let last_page = rows.len() < MAX_LIMIT;
            for (ws, id) in &rows {
                after = Some(id.clone());
                // Archived, or without a version yet: not listed. A failing
                // read fails the list rather than hiding the package.
                let (package, row) = match self.public_version_in(ws, id, None).await {
                    Ok(found) => found,
                    Err(e) if e.key.as_deref() == Some(keys::NOT_FOUND) => continue,
                    Err(e) => return Err(e),
                };
                let item = public_item(&package, &row);
                let matches = needle.as_ref().is_none_or(|n| {
                    ["name", "key"].iter().any(|f| {
                        item[*f]
                            .as_str()
                            .is_some_and(|v| v.to_lowercase().contains(n.as_str()))
                    })
                });
                if !matches {
                    continue;
                }
                if items.len() == limit {
                    next_cursor = items
                        .last()
                        .and_then(|i: &Value| i["id"].as_str().map(str::to_owned));
                    break 'pages;
                }
                items.push(item);
            }
            if last_page {
                break;
            }
        }
        let mut out = json!({ "items": items });
        if let Some(c) = next_cursor {
            out["cursor"] = json!(c);
        }
        Ok(out)
    }

    /// `POST /public-packages/{id}/install {version?}`: the public package's
    /// version (newest by default) installed into the caller's workspace;
    /// answers the installed package.
    pub async fn install_public_package(
        &self,
        caller: &Caller,
        id: &str,
        version: Option<&str>,
    ) -> Result<Value, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        let (source, row) = self.public_version(id, version).await?;
        if source.workspace_id == caller.workspace_id() {
            return Err(ApiError::bad_request(
                keys::NOT_SUPPORTED,
                format!("The package `{id}` is this workspace's own; it needs no install"),
            ));
        }
        if let Some(existing) = self.package_by_uuid(caller, &source.uuid).await? {
            if !existing.is_archived() {
                let why = match InstalledFrom::of(&existing) {
                    Some(from) => format!(
                        "version `{}` of it is installed as `{}`; upgrade that (POST /packages/{}/upgrade)",
                        from.version, existing.id, existing.id
                    ),
                    None => format!(
                        "the workspace's own package `{}` has its uuid",
                        existing.id
                    ),
                };
                return Err(ApiError::already_exists(format!(
                    "The package `{id}` cannot be installed: {why}"
                )));
            }
        }
        self.install_version(caller, &source, &row, Vec::new())
            .await
    }

    /// `POST /packages/{selector}/upgrade {version?}`: the installed package
    /// moved to a newer published version (newest by default), by the rule in
    /// the module doc; answers the package.
    pub async fn upgrade_package(
        &self,
        caller: &Caller,
        package: &Element,
        version: Option<&str>,
    ) -> Result<Value, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        let from = InstalledFrom::of(package).ok_or_else(|| {
            ApiError::bad_request(
                keys::NOT_SUPPORTED,
                format!(
                    "The package `{}` was not installed from a public package; publish versions of it instead",
                    package.id
                ),
            )
        })?;
        if package.is_archived() {
            return Err(ApiError::bad_request(
                keys::GONE,
                format!("The package `{}` is archived", package.id),
            ));
        }
        let (source, row) = self.public_version(&from.package_id, version).await?;
        if row.version == from.version {
            return self.elements().render(caller, package, Depth::Full).await;
        }
        let installed = self
            .stores
            .package_versions
            .package_version(&source.workspace_id, &source.id, &from.version)
            .await
            .map_err(store_error)?;
        if installed.is_some_and(|i| i.created_ms > row.created_ms) {
            return Err(ApiError::invalid_field(
                "version",
                format!(
                    "`{}` is older than the installed `{}`; downgrades are not supported",
                    row.version, from.version
                ),
            ));
        }
        let kept: HashSet<&str> = row.snapshot["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["uuid"].as_str())
            .collect();
        let mut dropped = Vec::new();
        for el in self.elements().package_members(package).await? {
            if el.is_archived() || kept.contains(el.uuid.as_str()) {
                continue;
            }
            let mut q = ElementQuery::new(&package.workspace_id, el.element_type);
            q.parent = RefFilter::Is(el.id.clone());
            q.integration = RefFilter::Some;
            let copies = self
                .stores
                .elements
                .find_elements(&q)
                .await
                .map_err(store_error)?;
            dropped.extend(copies);
            dropped.push(el);
        }
        self.install_version(caller, &source, &row, dropped).await
    }

    /// Installs `row` of `source` (see the module doc), archiving `dropped`;
    /// then applies the package again to the integrations it is applied to.
    async fn install_version(
        &self,
        caller: &Caller,
        source: &Element,
        row: &PackageVersion,
        dropped: Vec<Element>,
    ) -> Result<Value, ApiError> {
        check_universal(row)?;
        let from = InstalledFrom {
            workspace_id: source.workspace_id.clone(),
            package_id: source.id.clone(),
            version: row.version.clone(),
        };
        let mut marks = Map::new();
        marks.insert(
            INSTALLED_FROM.into(),
            serde_json::to_value(&from).map_err(|e| ApiError::internal(e.to_string()))?,
        );
        let mode = ImportMode {
            match_by_key: false,
            read_only: true,
            archive: dropped,
            marks: [(source.uuid.clone(), marks)].into_iter().collect(),
        };
        let options = ImportOptions {
            partial: true,
            ..ImportOptions::default()
        };
        self.import_files(caller.workspace_id(), &version_files(row)?, options, &mode)
            .await
            .map_err(|e| match e.key.as_deref() {
                Some(keys::IMPORT_REFUSED) => ApiError {
                    message: e.message.replacen(
                        "The import was refused",
                        &format!("The install of version `{}` was refused", row.version),
                        1,
                    ),
                    ..e
                },
                _ => e,
            })?;
        let package = self
            .package_by_uuid(caller, &source.uuid)
            .await?
            .ok_or_else(|| ApiError::internal("the installed package is gone"))?;
        let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Package);
        q.parent = RefFilter::Is(package.id.clone());
        q.integration = RefFilter::Some;
        let applied: Vec<String> = self
            .stores
            .elements
            .find_elements(&q)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter_map(|c| c.integration_id)
            .collect();
        if !applied.is_empty() {
            self.elements()
                .apply_to_integrations(caller, &package, &applied)
                .await?;
        }
        self.elements().render(caller, &package, Depth::Full).await
    }

    /// The caller's package with `uuid`, archived or not.
    async fn package_by_uuid(
        &self,
        caller: &Caller,
        uuid: &str,
    ) -> Result<Option<Element>, ApiError> {
        let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Package);
        q.uuid = Some(uuid.to_owned());
        q.include_archived = true;
        self.stores
            .elements
            .first_element(q)
            .await
            .map_err(store_error)
    }
}

/// A public package as the list shows it: what its newest version names,
/// in the SDK's package shape; the working copy's other fields stay private.
fn public_item(package: &Element, row: &PackageVersion) -> Value {
    let at = &row.snapshot["package"];
    let mut m = Map::new();
    m.insert("id".into(), json!(package.id));
    m.insert("uuid".into(), json!(package.uuid));
    for f in ["key", "name", "description"] {
        if let Some(v) = at.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    m.insert("isUniversal".into(), json!(true));
    m.insert("isPublic".into(), json!(true));
    m.insert("version".into(), json!(row.version));
    if let Some(c) = &row.changelog {
        m.insert("changelog".into(), json!(c));
    }
    if let Some(p) = &row.parent_version {
        m.insert("parentPackageVersion".into(), json!(p));
    }
    Value::Object(m)
}
