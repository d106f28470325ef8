//! The generic element core: one code path that creates, changes, archives,
//! restores, selects, lists and renders every element type of the registry.
//!
//! Types differ only through their `TypeSpec` (model crate) and the hooks in
//! [`hooks`] the types register; nothing here is written for one type.

mod apply;
mod follow;
pub mod hooks;
mod input;
mod limits;
mod list;
mod pages;
mod render;
mod select;
mod watch;

use futures::future::BoxFuture;
use osmosis_model::element_type::{Layering, Writers};
use osmosis_model::error::keys;
use osmosis_model::fields::take_fields;
use osmosis_model::patch::Patch;
use osmosis_model::{ids, ApiError, Element, ElementType};
use osmosis_store::{ElementStore, StoreError};
use serde_json::{Map, Value};

use crate::caller::{only_visible, visible_to};
use crate::errors::{not_found, store_error};
use crate::locks::ElementLocks;
use crate::refs::Ref;
pub(crate) use input::{camel_stem, read_ref};
pub(crate) use limits::key_problem;

/// `flow-instance` → `flowInstance`: the stem of a type's `…Id`/`…Key` selector fields.
pub fn camel_stem_of(t: ElementType) -> String {
    camel_stem(t)
}
pub use list::{ListPage, ListQuery};
pub(crate) use pages::element_pages;
pub(crate) use render::copy_type_fields;
pub use render::Depth;
pub use select::{InstanceSelector, PathSelector};

use crate::clock::now_iso;
use crate::{Caller, Engine};
pub use hooks::{BeforeWrite, ElementHooks, NoHooks};

/// The element core as a service: what it reaches is exactly these fields. It is a
/// borrowed view of the engine's parts ([`Engine::elements`]), cheap to make per
/// call, so services built on it hold one by value.
#[derive(Clone, Copy)]
pub struct Elements<'e> {
    /// The element rows (behind the read cache).
    pub(crate) store: &'e dyn ElementStore,
    /// Serialises the writes of one element on this node.
    pub(crate) locks: &'e ElementLocks,
    /// Each element type's behaviour.
    pub(crate) registry: hooks::HooksRegistry,
    /// Handed to the types' hooks, which may reach other services (archiving a
    /// connection disconnects it through the calls service). The core itself
    /// reads nothing through it.
    pub(crate) hook_context: &'e Engine,
    /// Writes are staged in memory (see [`Engine::staging`]): the hooks that act
    /// on a stored write are not run.
    staging: bool,
}

impl<'e> Elements<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        Elements {
            store: engine.stores.elements.as_ref(),
            locks: &engine.locks,
            registry: engine.element_hooks,
            hook_context: engine,
            staging: engine.staging,
        }
    }
}

/// A create request: the body, plus context a nested route fixes
/// (`/integrations/{i}/flows` fixes the integration).
#[derive(Debug, Default)]
pub struct NewElement {
    pub body: Map<String, Value>,
    pub integration_id: Option<String>,
}

impl NewElement {
    pub fn from_body(body: Map<String, Value>) -> Self {
        NewElement {
            body,
            integration_id: None,
        }
    }
}

/// What a change given to [`Elements::compare_and_swap`] decided.
pub(crate) enum Change {
    /// Nothing to write: the stored element is the answer.
    Unchanged,
    /// Write this element; on a lost race, do as the second field says.
    Write(Box<Element>, OnConflict),
}

/// What a lost compare-and-swap race does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Re-read the row and apply the change again.
    Retry,
    /// Answer `concurrency`: the change was computed from (or named) a revision
    /// that is no longer current.
    Refuse,
}

/// How a write treats fields the body leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// PATCH: absent fields keep their values.
    Patch,
    /// PUT: absent type fields, description and meta are removed.
    Put,
}

/// May `caller` create or change elements of type `t` at all?
pub(crate) fn check_writer(caller: &Caller, t: ElementType) -> Result<(), ApiError> {
    match t.spec().writers {
        Writers::Admin if !caller.is_admin() => Err(ApiError::access_denied(format!(
            "Changing {} elements needs an admin token",
            t.name()
        ))),
        Writers::Unavailable(why) => Err(ApiError::bad_request(keys::NOT_SUPPORTED, why)),
        Writers::Engine => Err(ApiError::access_denied(format!(
            "{} elements are managed by Osmosis itself",
            t.name()
        ))),
        _ => Ok(()),
    }
}

impl Elements<'_> {
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, element_type = t.name()))]
    pub async fn create(
        &self,
        caller: &Caller,
        t: ElementType,
        new: NewElement,
    ) -> Result<Element, ApiError> {
        check_writer(caller, t)?;
        let spec = t.spec();
        let env = input::parse_envelope(t, &new.body)?;
        for required in spec.required_on_create {
            if new.body.get(*required).is_none_or(Value::is_null) {
                return Err(ApiError::invalid_field(required, "is required"));
            }
        }
        let mut doc = take_fields(&new.body, spec.fields)?;
        doc.retain(|_, v| !v.is_null());
        let now = now_iso();
        let mut el = Element {
            integration_id: new.integration_id.clone(),
            doc,
            ..Element::new(caller.workspace.id.clone(), t, now)
        };
        let key_given = env.key.is_some();
        self.apply_envelope(caller, &mut el, env, true).await?;
        let hooks = self.hooks(t);
        hooks
            .before_insert(self.hook_context, caller, &mut el, &new.body)
            .await?;
        let el = self.insert_with_key(el, key_given).await?;
        if !self.staging {
            hooks.after_insert(self.hook_context, &el).await;
        }
        Ok(el)
    }

    /// Inserts, and when the key was derived from the name and is taken, tries
    /// `-2`, `-3`, … so creating two elements with the same name just works. Not
    /// for instances: their key scope is the instance itself (element, connection,
    /// instance key), so a taken key there means the instance exists, and another
    /// key would make a second one that every selector of it then finds ambiguous.
    async fn insert_with_key(&self, mut el: Element, key_given: bool) -> Result<Element, ApiError> {
        limits::check_write(&el, None)?;
        let base = el.key.clone();
        let instance = matches!(el.element_type.spec().layering, Layering::Instance(_));
        for attempt in 1..=20 {
            match self.store.insert_element(&el, &self.key_scope(&el)).await {
                Ok(seq) => {
                    el.seq = seq;
                    return Ok(el);
                }
                Err(StoreError::Unique(osmosis_store::UniqueField::Key)) if instance => {
                    return Err(ApiError::already_exists(
                        "The connection already has this instance (same element and instance key)",
                    ));
                }
                Err(StoreError::Unique(osmosis_store::UniqueField::Key))
                    if !key_given && base.is_some() =>
                {
                    el.key = base.as_ref().map(|k| format!("{k}-{}", attempt + 1));
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ApiError::already_exists(
            "Could not derive a free key from the name; give a key",
        ))
    }

    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, element = %current.id))]
    pub async fn patch_element(
        &self,
        caller: &Caller,
        current: Element,
        body: Map<String, Value>,
    ) -> Result<Element, ApiError> {
        self.write_or_reconnect(caller, current, body, WriteMode::Patch)
            .await
    }

    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, element = %current.id))]
    pub async fn put_element(
        &self,
        caller: &Caller,
        current: Element,
        body: Map<String, Value>,
    ) -> Result<Element, ApiError> {
        self.write_or_reconnect(caller, current, body, WriteMode::Put)
            .await
    }

    /// The type's [`ElementHooks::before_write`] first (it may take the write
    /// over), then the generic write.
    async fn write_or_reconnect(
        &self,
        caller: &Caller,
        current: Element,
        body: Map<String, Value>,
        mode: WriteMode,
    ) -> Result<Element, ApiError> {
        let hooks = self.hooks(current.element_type);
        match hooks
            .before_write(self.hook_context, caller, current, body, mode)
            .await?
        {
            BeforeWrite::Continue { current, body } => {
                self.write_existing(caller, current, body, mode).await
            }
            BeforeWrite::Done(el) => Ok(el),
        }
    }

    /// Checks a body's envelope (name, keys, description, …) without applying it:
    /// for hooks that must refuse a bad body before they act on it.
    pub(crate) fn check_envelope(
        t: ElementType,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        input::parse_envelope(t, body).map(|_| ())
    }

    /// Read-modify-write with the revision as compare-and-swap. A client that named a
    /// revision gets `concurrency` when it is stale; otherwise a lost race is retried
    /// on the fresh row, so concurrent patches of different fields both land.
    pub(crate) async fn write_existing(
        &self,
        caller: &Caller,
        current: Element,
        body: Map<String, Value>,
        mode: WriteMode,
    ) -> Result<Element, ApiError> {
        check_writer(caller, current.element_type)?;
        if !visible_to(caller, &current) {
            return Err(not_found(current.element_type, &current.id));
        }
        let _lock = self.locks.lock(&current.id).await;
        let current = self.reload(&current).await?;
        let body = &body;
        self.compare_and_swap(current, |current| {
            Box::pin(async move { self.apply_write(caller, current, body, mode).await })
        })
        .await
    }

    /// One attempt of [`Elements::write_existing`] on the element as stored now.
    async fn apply_write(
        &self,
        caller: &Caller,
        current: Element,
        body: &Map<String, Value>,
        mode: WriteMode,
    ) -> Result<Change, ApiError> {
        ensure_editable(&current)?;
        let env = input::parse_envelope(current.element_type, body)?;
        if let Some(revision) = &env.revision {
            if *revision != current.revision {
                return Err(ApiError::stale_revision(revision));
            }
        }
        let on_conflict = if env.revision.is_some() {
            OnConflict::Refuse
        } else {
            OnConflict::Retry
        };
        let spec = current.element_type.spec();
        let fields = take_fields(body, spec.fields)?;
        let mut el = current;
        if mode == WriteMode::Put {
            for table in spec.fields {
                for f in table.iter() {
                    el.doc.remove(f.name);
                }
            }
            el.doc.remove("description");
            el.doc.remove("meta");
        }
        let changed_own_fields =
            !fields.is_empty() || env.name.is_some() || env.description.is_present();
        for (k, v) in fields {
            if v.is_null() {
                el.doc.remove(&k);
            } else {
                el.doc.insert(k, v);
            }
        }
        self.apply_envelope(caller, &mut el, env, false).await?;
        let hooks = self.hooks(el.element_type);
        // Before `prepare`: what a type derives from the fields that apply to the
        // element (its own once customised, else its parent's) must see this write
        // as the customisation it is.
        if changed_own_fields && el.parent_id.is_some() && hooks.tracks_customization() {
            el.doc.insert("isCustomized".into(), Value::Bool(true));
        }
        hooks
            .prepare(self.hook_context, caller, &mut el, body)
            .await?;
        Ok(Change::Write(Box::new(el), on_conflict))
    }

    /// Sets or clears `archivedAt` (DELETE / restore). Archiving twice is a no-op.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, element = %current.id))]
    pub async fn set_archived(
        &self,
        caller: &Caller,
        mut current: Element,
        archived: bool,
    ) -> Result<Element, ApiError> {
        check_writer(caller, current.element_type)?;
        if !visible_to(caller, &current) {
            return Err(not_found(current.element_type, &current.id));
        }
        let _lock = self.locks.lock(&current.id).await;
        current = self.reload(&current).await?;
        let hooks = self.hooks(current.element_type);
        if archived && !current.is_archived() && !self.staging {
            hooks
                .before_archive(self.hook_context, caller, &current)
                .await;
        }
        let was_archived = current.is_archived();
        let stored = self
            .update_locked(current, |el| {
                if el.is_archived() == archived {
                    return Ok(false);
                }
                if el.doc_bool("isReadOnly") {
                    return Err(read_only(el));
                }
                el.archived_at = archived.then(now_iso);
                Ok(true)
            })
            .await?;
        if archived && !was_archived && !self.staging {
            hooks.after_archive(self.hook_context, &stored).await;
        }
        Ok(stored)
    }

    /// The one compare-and-swap loop of the core: `change` turns the element as
    /// stored now into what to write, which is stored only if nobody wrote since.
    /// A lost race re-reads the row and asks `change` again, unless the change
    /// refuses that ([`OnConflict::Refuse`]). Callers hold this node's write lock
    /// on the element, so races are only with other nodes or the engine itself.
    pub(crate) async fn compare_and_swap<'f>(
        &self,
        mut current: Element,
        mut change: impl FnMut(Element) -> BoxFuture<'f, Result<Change, ApiError>>,
    ) -> Result<Element, ApiError> {
        for _ in 0..5 {
            let (mut el, on_conflict) = match change(current.clone()).await? {
                Change::Unchanged => return Ok(current),
                Change::Write(el, on_conflict) => (*el, on_conflict),
            };
            el.revision = ids::revision();
            el.updated_at = now_iso();
            limits::check_write(&el, Some(&current))?;
            match self
                .store
                .update_element(&el, &self.key_scope(&el), &current.revision)
                .await
            {
                Ok(()) => {
                    self.after_write(&current, &el);
                    return Ok(el);
                }
                Err(StoreError::RevisionConflict) if on_conflict == OnConflict::Retry => {
                    current = self.reload(&current).await?;
                }
                Err(StoreError::RevisionConflict) => {
                    return Err(ApiError::stale_revision(&current.revision))
                }
                Err(StoreError::Unique(osmosis_store::UniqueField::Key))
                    if current.is_archived() && !el.is_archived() =>
                {
                    return Err(ApiError::already_exists(format!(
                        "Cannot restore: another live {} now uses the key `{}`",
                        el.element_type.name(),
                        el.key.unwrap_or_default()
                    )))
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ApiError::new(
            osmosis_model::ErrorType::Concurrency,
            Some("lock_timeout"),
            "The element is being changed by many writers at once; retry",
        ))
    }

    /// [`Elements::compare_and_swap`] with a change made in place; `change` answers
    /// whether there is anything to write.
    pub(crate) async fn update_locked(
        &self,
        current: Element,
        mut change: impl FnMut(&mut Element) -> Result<bool, ApiError>,
    ) -> Result<Element, ApiError> {
        self.compare_and_swap(current, |mut el| {
            let decided = change(&mut el).map(|write| {
                if write {
                    Change::Write(Box::new(el), OnConflict::Retry)
                } else {
                    Change::Unchanged
                }
            });
            Box::pin(std::future::ready(decided))
        })
        .await
    }

    /// [`Elements::update_locked`] under this node's write lock on the element, for
    /// changes the engine makes itself (credentials refreshed, health recorded).
    pub(crate) async fn update_with(
        &self,
        current: &Element,
        change: impl FnMut(&mut Element) -> Result<bool, ApiError>,
    ) -> Result<Element, ApiError> {
        let _lock = self.locks.lock(&current.id).await;
        let fresh = self.reload(current).await?;
        self.update_locked(fresh, change).await
    }

    async fn reload(&self, el: &Element) -> Result<Element, ApiError> {
        self.store
            .element_by_id(&el.workspace_id, &el.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(el.element_type, &el.id))
    }

    /// Node-local caches that a write invalidates.
    fn after_write(&self, before: &Element, after: &Element) {
        if !self.staging {
            self.hooks(before.element_type)
                .after_write(self.hook_context, before, after);
        }
    }

    /// Applies identity, scope and references from a body to `el`.
    async fn apply_envelope(
        &self,
        caller: &Caller,
        el: &mut Element,
        env: input::EnvelopeInput,
        creating: bool,
    ) -> Result<(), ApiError> {
        let t = el.element_type;
        let spec = t.spec();
        if let Some(uuid) = env.uuid {
            el.uuid = uuid;
        } else if creating {
            el.uuid = ids::uuid_v4();
        }
        if let Some(key) = env.key {
            el.key = Some(key);
        }
        if let Some(name) = env.name {
            el.name = name;
        }
        match env.description {
            Patch::Value(d) => {
                el.doc.insert("description".into(), Value::String(d));
            }
            Patch::Null => {
                el.doc.remove("description");
            }
            Patch::Absent => {}
        }
        match env.meta {
            Patch::Value(m) => {
                el.doc.insert("meta".into(), Value::Object(m));
            }
            Patch::Null => {
                el.doc.remove("meta");
            }
            Patch::Absent => {}
        }
        if let Some(ext) = env.external_app_id {
            el.doc.insert("externalAppId".into(), Value::String(ext));
        }
        // Scope: integration, connection, parent.
        if let Some(r) = &env.integration {
            let integration = self
                .resolve_ref(caller, ElementType::Integration, r, "integration")
                .await?;
            // Which integration an element belongs to is fixed when it is made:
            // moving it would leave its customers' instances and its copies'
            // parents pointing across integrations.
            if !creating && el.integration_id.as_deref() != Some(integration.id.as_str()) {
                return Err(ApiError::invalid_field(
                    "integrationId",
                    format!(
                        "the {} `{}` belongs to {}; an element's integration cannot change",
                        t.name(),
                        el.id,
                        el.integration_id
                            .as_deref()
                            .map_or("no integration (it is universal)".to_owned(), |i| format!(
                                "integration `{i}`"
                            ))
                    ),
                ));
            }
            el.integration_id = Some(integration.id);
        }
        if let Some(is_universal) = env.is_universal {
            if is_universal && el.integration_id.is_some() {
                return Err(ApiError::invalid_field(
                    "isUniversal",
                    "a universal element cannot belong to an integration",
                ));
            }
        }
        if let Some(conn_id) = &env.connection_id {
            if matches!(spec.layering, Layering::Instance(_)) {
                let conn = self
                    .resolve_ref(
                        caller,
                        ElementType::Connection,
                        &Ref::Id(conn_id.clone()),
                        "connection",
                    )
                    .await?;
                el.connection_id = Some(conn.id.clone());
                el.customer_id = conn.customer_id.clone();
                el.integration_id = conn.integration_id.clone();
            } else if creating && spec.layering == Layering::IntegrationLevel {
                return Err(ApiError::invalid_field(
                    "connectionId",
                    format!(
                        "{} elements at connection level are {} instances",
                        t.name(),
                        t.name()
                    ),
                ));
            }
        }
        if let Some(instance_key) = env.instance_key.into_change() {
            if matches!(spec.layering, Layering::Instance(_)) {
                el.instance_key = instance_key;
            }
        }
        if let Some(r) = &env.parent {
            match self.apply_parent(caller, el, r).await {
                // A copy written with files from another workspace names its
                // parent by that workspace's id: it keeps the parent it has.
                Err(e)
                    if !creating
                        && el.parent_id.is_some()
                        && matches!(r, Ref::Id(_))
                        && e.key.as_deref() == Some(keys::NOT_FOUND) => {}
                done => done?,
            }
        }
        if let Layering::Instance(parent_type) = spec.layering {
            if creating && el.parent_id.is_none() {
                return Err(ApiError::invalid_field(
                    spec.parent_field.unwrap_or("parentId"),
                    format!(
                        "a {} needs the {} it is an instance of",
                        t.name(),
                        parent_type.name()
                    ),
                ));
            }
            if creating && el.connection_id.is_none() && self.hooks(t).instance_needs_connection() {
                return Err(ApiError::invalid_field(
                    "connectionId",
                    format!("a {} needs a connection", t.name()),
                ));
            }
            if el.customer_id.is_none() {
                el.customer_id = caller.customer_id.clone();
            }
            if el.customer_id.is_none() {
                return Err(ApiError::invalid_field(
                    "connectionId",
                    "an instance needs a customer: give a connection or use a customer token",
                ));
            }
        }
        // A customer creating a record it owns (a connection) becomes its owner;
        // instances got theirs from the connection above.
        if creating && spec.writers == Writers::Owner && el.customer_id.is_none() {
            el.customer_id = caller.customer_id.clone();
        }
        if let Some(me) = &caller.customer_id {
            if spec.writers == Writers::Owner && el.customer_id.as_deref() != Some(me.as_str()) {
                return Err(ApiError::access_denied(
                    "A customer token can only write its own elements",
                ));
            }
        }
        // Name and key: name is always present; a missing key derives from the name.
        if el.name.is_empty() {
            el.name = el.key.clone().unwrap_or_default();
        }
        if creating && el.key.is_none() {
            el.key = self.hooks(t).derived_key(el);
        }
        if el.name.is_empty() {
            el.name = el.key.clone().unwrap_or_else(|| el.id.clone());
        }
        Ok(())
    }

    async fn apply_parent(
        &self,
        caller: &Caller,
        el: &mut Element,
        r: &Ref,
    ) -> Result<(), ApiError> {
        let spec = el.element_type.spec();
        let field = spec.parent_field.unwrap_or("parentId");
        match spec.layering {
            Layering::IntegrationLevel => {
                let parent = self
                    .resolve_ref_scoped(caller, el.element_type, r, field, Some(None))
                    .await?;
                if el.integration_id.is_none() {
                    return Err(ApiError::invalid_field(field, "only an integration-level element can have a universal parent; give integrationId or integrationKey"));
                }
                el.parent_id = Some(parent.id.clone());
                // A copy for an integration is the parent under its own key and
                // name unless told otherwise, as Membrane's apply makes them.
                if el.key.is_none() {
                    el.key = parent.key.clone();
                }
                if el.name.is_empty() {
                    el.name = parent.name.clone();
                }
                if el.doc_is_empty_of_type_fields() {
                    inherit_type_fields(el, &parent);
                } else if self.hooks(el.element_type).tracks_customization() {
                    // Made with a definition of its own: it does not follow the parent.
                    el.doc.insert("isCustomized".into(), Value::Bool(true));
                }
            }
            Layering::Instance(parent_type) => {
                let parent = self
                    .resolve_instance_parent(
                        caller,
                        parent_type,
                        r,
                        el.integration_id.as_deref(),
                        field,
                    )
                    .await?;
                el.parent_id = Some(parent.id.clone());
                if let Some(universal_field) = spec.universal_parent_field {
                    let universal = parent
                        .parent_id
                        .clone()
                        .unwrap_or_else(|| parent.id.clone());
                    el.doc
                        .insert(universal_field.into(), Value::String(universal));
                }
                if el.key.is_none() {
                    el.key = parent.key.clone();
                }
                if el.name.is_empty() {
                    el.name = parent.name.clone();
                }
                if el.doc_is_empty_of_type_fields() {
                    inherit_type_fields(el, &parent);
                } else if self.hooks(el.element_type).tracks_customization() {
                    // Made with a definition of its own: it does not follow the parent.
                    el.doc.insert("isCustomized".into(), Value::Bool(true));
                }
            }
            Layering::None => {}
        }
        Ok(())
    }

    /// Finds the element a reference in a body names; `what` names the field for errors.
    pub(crate) async fn resolve_ref(
        &self,
        caller: &Caller,
        t: ElementType,
        r: &Ref,
        what: &str,
    ) -> Result<Element, ApiError> {
        self.resolve_ref_scoped(caller, t, r, what, None).await
    }

    /// Like [`Elements::resolve_ref`]; `integration` narrows keys: `Some(None)` to
    /// universal elements, `Some(Some(id))` to one integration.
    pub(crate) async fn resolve_ref_scoped(
        &self,
        caller: &Caller,
        t: ElementType,
        r: &Ref,
        what: &str,
        integration: Option<Option<&str>>,
    ) -> Result<Element, ApiError> {
        let mut q = osmosis_store::ElementQuery::new(caller.workspace_id(), t);
        match r {
            Ref::Id(v) => q.id = Some(v.clone()),
            Ref::Uuid(v) => q.uuid = Some(v.clone()),
            Ref::Key(v) => {
                q.key = Some(v.clone());
                if let Some(scope) = integration {
                    q.integration = match scope {
                        None => osmosis_store::RefFilter::None,
                        Some(id) => osmosis_store::RefFilter::Is(id.to_string()),
                    };
                }
            }
        }
        only_visible(caller, &mut q);
        q.limit = 2;
        let found = self.store.find_elements(&q).await.map_err(store_error)?;
        match found.len() {
            1 => Ok(found.into_iter().next().expect("one element")),
            0 => Err(
                ApiError::not_found(format!("{what}: no {} with {}", t.name(), r.describe()))
                    .with_data(serde_json::json!({ "field": what })),
            ),
            _ => Err(ApiError::invalid_field(
                what,
                format!(
                    "more than one {} has {}; give an id",
                    t.name(),
                    r.describe()
                ),
            )),
        }
    }

    /// The element an instance is made from: the integration-level one for the
    /// instance's integration when it exists, else the universal one.
    async fn resolve_instance_parent(
        &self,
        caller: &Caller,
        t: ElementType,
        r: &Ref,
        integration_id: Option<&str>,
        what: &str,
    ) -> Result<Element, ApiError> {
        if let (Ref::Key(_), Some(iid), Layering::IntegrationLevel) =
            (r, integration_id, t.spec().layering)
        {
            if let Ok(el) = self
                .resolve_ref_scoped(caller, t, r, what, Some(Some(iid)))
                .await
            {
                return Ok(el);
            }
            return self
                .resolve_ref_scoped(caller, t, r, what, Some(None))
                .await;
        }
        self.resolve_ref(caller, t, r, what).await
    }
}

impl ElementExt for Element {
    fn doc_is_empty_of_type_fields(&self) -> bool {
        !self
            .element_type
            .spec()
            .fields
            .iter()
            .flat_map(|t| t.iter())
            .any(|f| self.doc.contains_key(f.name))
    }
}

trait ElementExt {
    fn doc_is_empty_of_type_fields(&self) -> bool;
}

/// A child made from a parent without its own definition starts as a copy of the
/// parent's type fields (and is not customised).
fn inherit_type_fields(child: &mut Element, parent: &Element) {
    for table in child.element_type.spec().fields {
        for f in table.iter() {
            if let Some(v) = parent.doc.get(f.name) {
                child.doc.insert(f.name.to_string(), v.clone());
            }
        }
    }
}

pub(crate) fn ensure_editable(el: &Element) -> Result<(), ApiError> {
    if el.is_archived() {
        return Err(ApiError::bad_request(
            keys::NOT_EDITABLE,
            format!(
                "The {} `{}` is archived; restore it before changing it",
                el.element_type.name(),
                el.id
            ),
        ));
    }
    if el.doc_bool("isReadOnly") {
        return Err(read_only(el));
    }
    Ok(())
}

pub(crate) fn read_only(el: &Element) -> ApiError {
    ApiError::bad_request(
        keys::NOT_EDITABLE,
        format!("The {} `{}` is read-only", el.element_type.name(), el.id),
    )
}

impl Elements<'_> {
    /// Stores what a refresh recomputed (state, errors, dependencies) under a new
    /// revision; computed from `current`, it is refused if the row changed since.
    pub(crate) async fn store_refreshed(
        &self,
        current: Element,
        el: Element,
    ) -> Result<Element, ApiError> {
        let mut once = Some(el);
        self.compare_and_swap(current, move |_| {
            let change = match once.take() {
                Some(el) => Change::Write(Box::new(el), OnConflict::Refuse),
                None => Change::Unchanged,
            };
            Box::pin(std::future::ready(Ok(change)))
        })
        .await
    }
}

impl Elements<'_> {
    /// Throws away customisation: an element made from a parent takes the parent's
    /// type fields again. Flow instances may reset selectively with
    /// `{name?: bool, nodes?: {key: bool}, allNodes?: bool}`; an empty body resets all.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, element = %current.id))]
    pub async fn reset(
        &self,
        caller: &Caller,
        current: Element,
        options: &Map<String, Value>,
    ) -> Result<Element, ApiError> {
        check_writer(caller, current.element_type)?;
        if !visible_to(caller, &current) {
            return Err(not_found(current.element_type, &current.id));
        }
        ensure_editable(&current)?;
        let Some(pid) = current.parent_id.clone() else {
            return Ok(current);
        };
        let parent = self
            .store
            .element_by_id(&current.workspace_id, &pid)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiError::configuration(format!("The parent `{pid}` no longer exists"))
            })?;
        let mut el = current.clone();
        let selective = !options.is_empty();
        let flag = |k: &str| options.get(k).and_then(Value::as_bool).unwrap_or(false);
        if !selective || flag("name") {
            el.name = parent.name.clone();
        }
        if !selective {
            for table in el.element_type.spec().fields {
                for f in table.iter() {
                    match parent.doc.get(f.name) {
                        Some(v) => el.doc.insert(f.name.to_string(), v.clone()),
                        None => el.doc.remove(f.name),
                    };
                }
            }
            el.doc.insert("isCustomized".into(), Value::Bool(false));
        } else {
            let parent_nodes = parent
                .doc
                .get("nodes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let chosen: Vec<String> = if flag("allNodes") {
                parent_nodes.keys().cloned().collect()
            } else {
                options
                    .get("nodes")
                    .and_then(Value::as_object)
                    .map(|n| {
                        n.iter()
                            .filter(|(_, v)| v.as_bool() == Some(true))
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut nodes = el
                .doc
                .get("nodes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for k in chosen {
                match parent_nodes.get(&k) {
                    Some(n) => nodes.insert(k, n.clone()),
                    None => nodes.remove(&k),
                };
            }
            el.doc.insert("nodes".into(), Value::Object(nodes));
        }
        self.hooks(el.element_type)
            .prepare(self.hook_context, caller, &mut el, &Map::new())
            .await?;
        self.store_refreshed(current, el).await
    }
}

impl Elements<'_> {
    /// Re-validates an element against its current dependencies and stores the
    /// resulting `state`/`errors` (the seed's `POST /flows/{selector}/refresh`),
    /// unless its type gives refresh another meaning.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, element = %current.id))]
    pub async fn refresh(&self, caller: &Caller, current: Element) -> Result<Element, ApiError> {
        let hooks = self.hooks(current.element_type);
        if let Some(done) = hooks.refresh(self.hook_context, caller, &current).await {
            return done;
        }
        check_writer(caller, current.element_type).or_else(|e| {
            if current.element_type.spec().writers == Writers::Admin {
                Err(e)
            } else {
                Ok(())
            }
        })?;
        let mut el = current.clone();
        hooks
            .prepare(self.hook_context, caller, &mut el, &Map::new())
            .await?;
        if el.state == current.state
            && el.doc.get("errors") == current.doc.get("errors")
            && el.doc.get("dependencies") == current.doc.get("dependencies")
        {
            return Ok(current);
        }
        self.store_refreshed(current, el).await
    }
}
