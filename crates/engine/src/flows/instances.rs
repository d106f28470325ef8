//! Flow instances: the connection-level copies of a flow that actually run
//! (semantics §4.4, §8; api-surface §2.9, §4, §6.3) — made for every connection
//! when the flow asks for it, customised per part, brought up to date with their
//! flow, and their triggers set up while they are enabled ([`triggers`]).
//!
//! **Made for every connection.** A flow with `autoCreateInstances: true` — an
//! integration-level one, or a universal one (every integration) — gets an
//! instance on each live connection of its integration(s): when it is created or
//! switched to `true`, on the connections that exist then, and on every
//! connection made afterwards. Each instance belongs to its connection's customer
//! and is made the way `GET /connections/{c}/flows/{f}?autoCreate=true` makes it,
//! from the most specific flow for that connection (an integration-level copy of
//! a universal flow wins over the universal one, unless the copy says
//! `autoCreateInstances: false`). Archived connections are skipped. A failure is
//! logged and never fails the write that caused it.
//!
//! **Customisation, per part.** An instance starts as a copy of its flow and, as
//! long as nothing is customised, runs its flow's current definition. Changing the
//! instance's `name` or a node marks that part in `customized: {name?: true,
//! nodes?: {<key>: true}}` (and the node's own `isCustomized`); `isCustomized` is
//! true while any part is. A part equal to the flow's again (a selective reset)
//! is no longer customised. Settings that are the instance's own by nature —
//! `enabled`, `parameters`, a node's `userConfig` — customise nothing. A
//! customised instance runs its own nodes: its other nodes stay as they were
//! taken (`flowRevision`/`universalFlowRevision` say from which revision of the
//! flow and of the universal flow) until `POST /flow-instances/{id}/update-to-latest-flow`
//! takes the flow's current definition again for every part that is not
//! customised, keeping the customised ones and every node's `userConfig`.
//!
//! Decisions where the documentation is silent:
//! * `PATCH` with `nodes` changes the nodes it names — each given node's fields
//!   over the node's current ones (a field or a node given as `null` is removed)
//!   — and leaves the others; `PUT` replaces the whole map (a `PUT` without
//!   `nodes` keeps them). Editing the nodes of an instance that was not
//!   customised starts from its flow's current nodes, so the edit does not bring
//!   back older ones.
//! * **Enabled by default.** An instance is enabled unless `enabled: false` is set
//!   on it; a new instance takes its flow's `enabled` when the flow sets one, and
//!   `enabled: true` otherwise, and always shows it. The flow's own `enabled` is
//!   only that default: changing it later leaves existing instances as they are.
//! * `parameters` of an instance are checked against its flow's
//!   `parametersSchema` when they are written: a value that does not fit is a
//!   `bad_request` naming the field (`parameters.<path>`) and nothing is stored.
//!   Parameters that no longer fit after the flow's schema changed put the
//!   instance in `CONFIGURATION_ERROR`, with the reason in `errors`. An instance
//!   without parameters of its own runs with its flow's (`$.flowInstance.parameters`).
//! * `POST /flow-instances/{id}/setup` re-validates the instance and sets its
//!   triggers up again; it does not take the flow's newer definition (that is
//!   `update-to-latest-flow`).

mod triggers;

pub(crate) use triggers::{active, FlowScheduleJob};

use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::{json, Map, Value};

use super::Flows;
use crate::caller::visible_to;
use futures::TryStreamExt;

use crate::elements::{
    check_writer, element_pages, ensure_editable, Change, InstanceSelector, OnConflict,
    PathSelector, WriteMode,
};
use crate::errors::{not_found, store_error};
use crate::{Caller, Engine};

tokio::task_local! {
    /// The flow revisions a write of an instance's nodes rebased it onto (see
    /// [`Engine::flow_instance_write`]), for `prepare` to stamp.
    static REBASED: Stamps;
    /// Set while this module writes a flow or an instance and handles what follows
    /// itself, so [`Engine::flow_written`] does not do it a second time.
    static HANDLED: ();
}

/// Node fields that are not the node's definition: an instance changing them
/// customises nothing, and `update-to-latest-flow` keeps the instance's.
const NOT_DEFINITION: &[&str] = &["isCustomized", "userConfig", "state", "errors"];

/// Connections (or flows) read per page while looking for instances to make.
const PAGE: i64 = 500;

/// Which revisions of its flow and universal flow an instance was taken from.
#[derive(Debug, Clone, Default)]
struct Stamps {
    flow: Option<String>,
    universal: Option<String>,
}

/// What an instance is made from: its flow, the element whose definition applies
/// to that flow (itself, or the universal flow it follows), and their revisions.
struct Source {
    parent: Element,
    definition: Element,
    stamps: Stamps,
}

impl Source {
    fn nodes(&self) -> Map<String, Value> {
        nodes_of(&self.definition)
    }
}

fn nodes_of(el: &Element) -> Map<String, Value> {
    el.doc
        .get("nodes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// A node without the fields that are not its definition, for comparing.
fn definition(node: Option<&Value>) -> Value {
    match node {
        Some(Value::Object(m)) => {
            let mut m = m.clone();
            for f in NOT_DEFINITION {
                m.remove(*f);
            }
            Value::Object(m)
        }
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// `patch` over `base`: each field of the patch replaces the node's (`null`
/// removes it); a `null` patch removes the node.
fn merge_node(base: Option<&Value>, patch: &Value) -> Option<Value> {
    match patch {
        Value::Null => None,
        Value::Object(fields) => {
            let mut node = base.and_then(Value::as_object).cloned().unwrap_or_default();
            for (k, v) in fields {
                if v.is_null() {
                    node.remove(k);
                } else {
                    node.insert(k.clone(), v.clone());
                }
            }
            Some(Value::Object(node))
        }
        // Not an object: left for the shape check to refuse.
        other => Some(other.clone()),
    }
}

/// `customized` as stored: `{name?: true, nodes?: {key: true}}`.
fn customized_of(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

fn name_customized(c: &Map<String, Value>) -> bool {
    c.get("name") == Some(&Value::Bool(true))
}

fn node_flags(c: &Map<String, Value>) -> Map<String, Value> {
    c.get("nodes")
        .and_then(Value::as_object)
        .map(|n| {
            n.iter()
                .filter(|(_, v)| v.as_bool() == Some(true))
                .map(|(k, _)| (k.clone(), Value::Bool(true)))
                .collect()
        })
        .unwrap_or_default()
}

fn node_customized(c: &Map<String, Value>, key: &str) -> bool {
    c.get("nodes")
        .and_then(|n| n.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn set_node_flag(c: &mut Map<String, Value>, key: &str, on: bool) {
    let nodes = c
        .entry("nodes")
        .or_insert_with(|| Value::Object(Map::new()));
    if !nodes.is_object() {
        *nodes = Value::Object(Map::new());
    }
    let nodes = nodes.as_object_mut().expect("an object");
    if on {
        nodes.insert(key.to_owned(), Value::Bool(true));
    } else {
        nodes.remove(key);
    }
}

/// `nodes` with each node's `userConfig` taken from `own` where it has one.
fn with_user_config(mut nodes: Map<String, Value>, own: &Map<String, Value>) -> Map<String, Value> {
    for (k, node) in nodes.iter_mut() {
        let mine = own.get(k).and_then(|o| o.get("userConfig"));
        if let (Value::Object(n), Some(uc)) = (node, mine) {
            n.insert("userConfig".into(), uc.clone());
        }
    }
    nodes
}

/// Whether `el` has `autoCreateInstances: true`.
fn auto_creates(el: &Element) -> bool {
    el.doc.get("autoCreateInstances") == Some(&Value::Bool(true))
}

impl Engine {
    /// An admin caller of the workspace `id`.
    async fn admin_of(&self, workspace_id: &str) -> Result<Caller, ApiError> {
        Ok(Caller::admin(self.workspace_by_id(workspace_id).await?))
    }

    /// What `instance` is made from, when its flow exists and is live.
    async fn source_of(&self, instance: &Element) -> Result<Option<Source>, ApiError> {
        let Some(pid) = &instance.parent_id else {
            return Ok(None);
        };
        let store = &self.stores.elements;
        let Some(parent) = store
            .element_by_id(&instance.workspace_id, pid)
            .await
            .map_err(store_error)?
            .filter(|p| !p.is_archived())
        else {
            return Ok(None);
        };
        let definition = self.elements().effective(&parent).await?;
        let universal = match instance.doc_str("universalFlowId") {
            Some(u) if u == parent.id => Some(parent.revision.clone()),
            Some(u) => store
                .element_by_id(&instance.workspace_id, u)
                .await
                .map_err(store_error)?
                .map(|e| e.revision),
            None => None,
        };
        let stamps = Stamps {
            flow: Some(parent.revision.clone()),
            universal,
        };
        Ok(Some(Source {
            parent,
            definition,
            stamps,
        }))
    }

    /// A new instance (hook): what it does not give is taken from its flow, the
    /// parts it gives differently are customised, and it is stamped with the
    /// revisions it was taken from.
    pub(crate) async fn flow_instance_before_insert(
        &self,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let Some(source) = self.source_of(el).await? else {
            return Ok(());
        };
        let mut customized = customized_of(body.get("customized"));
        let source_nodes = source.nodes();
        let nodes = match body.get("nodes") {
            Some(Value::Object(given)) => {
                let mut nodes = source_nodes.clone();
                for (k, patch) in given {
                    let merged = merge_node(source_nodes.get(k), patch);
                    let explicit = patch.get("isCustomized").and_then(Value::as_bool);
                    let changed = definition(merged.as_ref()) != definition(source_nodes.get(k));
                    if explicit.unwrap_or(changed) {
                        set_node_flag(&mut customized, k, true);
                    }
                    match merged {
                        Some(n) => nodes.insert(k.clone(), n),
                        None => nodes.remove(k),
                    };
                }
                nodes
            }
            _ => source_nodes,
        };
        el.doc.insert("nodes".into(), Value::Object(nodes));
        if body.get("name").is_some_and(Value::is_string) && el.name != source.parent.name {
            customized.insert("name".into(), Value::Bool(true));
        }
        el.doc
            .insert("customized".into(), Value::Object(customized));
        match source.definition.doc.get("parametersSchema") {
            Some(schema) if !body.contains_key("parametersSchema") => {
                el.doc.insert("parametersSchema".into(), schema.clone());
            }
            _ => {}
        }
        if !body.contains_key("parameters") {
            // Copied from the flow when it was made: an instance without its own
            // parameters runs with its flow's current ones.
            el.doc.remove("parameters");
        }
        el.doc.remove("autoCreateInstances");
        if !body.contains_key("enabled") {
            let enabled = source
                .definition
                .doc
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            el.doc.insert("enabled".into(), Value::Bool(enabled));
        }
        stamp(el, &source.stamps);
        Ok(())
    }

    /// Every write of an instance (hook, before the graph checks): customisation
    /// reconciled with the flow, `enabled` shown, parameters checked. Answers
    /// configuration problems to add to the instance's errors.
    pub(crate) async fn flow_instance_prepare(
        &self,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<Vec<Value>, ApiError> {
        if let Ok(stamps) = REBASED.try_with(Stamps::clone) {
            stamp(el, &stamps);
        }
        if HANDLED.try_with(|_| ()).is_err() {
            // Not a write of this module's, nor an insert: a reset, which takes
            // every field from the flow. The instance's own settings stay.
            let stored = self
                .stores
                .elements
                .element_by_id(&el.workspace_id, &el.id)
                .await
                .map_err(store_error)?;
            if let Some(stored) = stored {
                for f in ["enabled", "parameters"] {
                    match stored.doc.get(f) {
                        Some(v) => el.doc.insert(f.into(), v.clone()),
                        None => el.doc.remove(f),
                    };
                }
                el.doc.remove("autoCreateInstances");
            }
        }
        let source = self.source_of(el).await?;
        let mut customized = customized_of(el.doc.get("customized"));
        let mut flags = node_flags(&customized);
        let own_nodes = nodes_of(el);
        if let Some(source) = &source {
            if name_customized(&customized) && el.name == source.parent.name {
                customized.remove("name");
            }
            let theirs = source.nodes();
            flags.retain(|k, _| definition(own_nodes.get(k)) != definition(theirs.get(k)));
        }
        let mut nodes = own_nodes;
        for (k, node) in nodes.iter_mut() {
            if let Value::Object(n) = node {
                if flags.contains_key(k) {
                    n.insert("isCustomized".into(), Value::Bool(true));
                } else {
                    n.remove("isCustomized");
                }
            }
        }
        if el.doc.contains_key("nodes") {
            el.doc.insert("nodes".into(), Value::Object(nodes));
        }
        let is_customized = name_customized(&customized) || !flags.is_empty();
        if flags.is_empty() {
            customized.remove("nodes");
        } else {
            customized.insert("nodes".into(), Value::Object(flags));
        }
        if customized.is_empty() {
            el.doc.remove("customized");
        } else {
            el.doc
                .insert("customized".into(), Value::Object(customized));
        }
        el.doc
            .insert("isCustomized".into(), Value::Bool(is_customized));
        if !el.doc.get("enabled").is_some_and(Value::is_boolean) {
            el.doc.insert("enabled".into(), Value::Bool(true));
        }
        let mut problems = Vec::new();
        let schema = source
            .as_ref()
            .and_then(|s| s.definition.doc.get("parametersSchema"))
            .or_else(|| el.doc.get("parametersSchema"))
            .filter(|s| !s.is_null())
            .cloned();
        if let (Some(schema), Some(parameters)) = (schema, el.doc.get("parameters")) {
            if let Err(e) = crate::actions::input::fit(Some(&schema), parameters.clone()) {
                let e = as_parameters_error(e);
                if body.contains_key("parameters") {
                    return Err(e);
                }
                problems.push(json!({
                    "type": "configuration",
                    "message": format!("The instance's parameters do not fit its flow's parametersSchema: {}", e.message),
                    "data": e.data.as_deref().cloned().unwrap_or(Value::Null),
                }));
            }
        }
        Ok(problems)
    }

    /// After a new instance is stored (hook): its triggers set up.
    pub(crate) async fn flow_instance_inserted(&self, el: &Element) {
        triggers::setup_triggers(self, el).await;
    }

    /// `PATCH`/`PUT` of an instance (hook): the customised parts recorded (see
    /// the module doc), the write made, then the triggers brought in line with
    /// what changed (enabling sets them up, disabling tears them down).
    pub(crate) async fn flow_instance_write(
        &self,
        caller: &Caller,
        current: Element,
        mut body: Map<String, Value>,
        mode: WriteMode,
    ) -> Result<Element, ApiError> {
        let current = self
            .stores
            .elements
            .element_by_id(&current.workspace_id, &current.id)
            .await
            .map_err(store_error)?
            .filter(|el| visible_to(caller, el))
            .ok_or_else(|| not_found(current.element_type, &current.id))?;
        let mut customized = match body.get("customized") {
            Some(Value::Object(given)) => given.clone(),
            _ => customized_of(current.doc.get("customized")),
        };
        let mut rebased = None;
        let given_nodes = body.get("nodes").cloned();
        if mode == WriteMode::Put || given_nodes.as_ref().is_some_and(Value::is_object) {
            let own = nodes_of(&current);
            let source = self.source_of(&current).await?;
            let base = match &source {
                Some(s) if !current.doc_bool("isCustomized") => {
                    rebased = Some(s.stamps.clone());
                    with_user_config(s.nodes(), &own)
                }
                _ => own,
            };
            let (nodes, touched): (Map<String, Value>, Vec<String>) = match (&given_nodes, mode) {
                (Some(Value::Object(given)), WriteMode::Patch) => {
                    let mut nodes = base.clone();
                    for (k, patch) in given {
                        match merge_node(base.get(k), patch) {
                            Some(n) => nodes.insert(k.clone(), n),
                            None => nodes.remove(k),
                        };
                    }
                    (nodes, given.keys().cloned().collect())
                }
                (Some(Value::Object(given)), WriteMode::Put) => {
                    let mut touched: Vec<String> = given.keys().cloned().collect();
                    touched.extend(base.keys().filter(|k| !given.contains_key(*k)).cloned());
                    (given.clone(), touched)
                }
                _ => (base.clone(), Vec::new()),
            };
            for k in touched {
                let explicit = given_nodes
                    .as_ref()
                    .and_then(|g| g.get(&k))
                    .and_then(|n| n.get("isCustomized"))
                    .and_then(Value::as_bool);
                let changed = definition(nodes.get(&k)) != definition(base.get(&k));
                match explicit {
                    Some(on) => set_node_flag(&mut customized, &k, on),
                    None if changed => set_node_flag(&mut customized, &k, true),
                    None => {}
                }
            }
            body.insert("nodes".into(), Value::Object(nodes));
        }
        if let Some(Value::String(name)) = body.get("name") {
            if *name != current.name {
                customized.insert("name".into(), Value::Bool(true));
            }
        }
        body.insert("customized".into(), Value::Object(customized));
        if mode == WriteMode::Put && !body.contains_key("parametersSchema") {
            if let Some(schema) = current.doc.get("parametersSchema") {
                body.insert("parametersSchema".into(), schema.clone());
            }
        }
        let elements = self.elements();
        let write = elements.write_existing(caller, current.clone(), body, mode);
        let written = match rebased {
            Some(stamps) => HANDLED.scope((), REBASED.scope(stamps, write)).await?,
            None => HANDLED.scope((), write).await?,
        };
        triggers::sync_triggers(self, &current, &written).await;
        Ok(written)
    }

    /// `POST /flow-instances/{id}/setup` (hook): the instance re-validated, then
    /// its triggers set up again.
    pub(crate) async fn flow_instance_setup(
        &self,
        caller: &Caller,
        current: &Element,
    ) -> Result<Element, ApiError> {
        let elements = self.elements();
        let current = self
            .stores
            .elements
            .element_by_id(&current.workspace_id, &current.id)
            .await
            .map_err(store_error)?
            .filter(|el| visible_to(caller, el))
            .ok_or_else(|| not_found(current.element_type, &current.id))?;
        let mut el = current.clone();
        elements
            .hooks(el.element_type)
            .prepare(self, caller, &mut el, &Map::new())
            .await?;
        let stored = if el.doc != current.doc || el.state != current.state {
            HANDLED
                .scope((), elements.store_refreshed(current, el))
                .await?
        } else {
            current
        };
        triggers::setup_triggers(self, &stored).await;
        Ok(stored)
    }

    /// After an instance was archived (hook): its triggers torn down.
    pub(crate) async fn flow_instance_archived(&self, el: &Element) {
        triggers::teardown_triggers(self, el).await;
    }

    /// After a flow is stored (hook): instances made on every connection when it
    /// asks for them.
    pub(crate) async fn flow_inserted(&self, flow: &Element) {
        if let Err(e) = self.ensure_auto_instances(flow).await {
            tracing::warn!(workspace_id = %flow.workspace_id, flow = %flow.id, error = %e.message, "could not make the flow's instances");
        }
    }

    /// `PATCH`/`PUT` of a flow (hook): the write, then instances made on every
    /// connection if it was just switched to `autoCreateInstances: true`, and the
    /// schedules of the instances that follow it brought in line with its
    /// schedule triggers.
    pub(crate) async fn flow_write(
        &self,
        caller: &Caller,
        current: Element,
        body: Map<String, Value>,
        mode: WriteMode,
    ) -> Result<Element, ApiError> {
        let before = current.clone();
        let written = HANDLED
            .scope(
                (),
                self.elements().write_existing(caller, current, body, mode),
            )
            .await?;
        let was = self
            .elements()
            .effective(&before)
            .await
            .map(|e| auto_creates(&e));
        if was.is_ok_and(|was| !was) {
            if let Err(e) = self.ensure_auto_instances(&written).await {
                tracing::warn!(workspace_id = %written.workspace_id, flow = %written.id, error = %e.message, "could not make the flow's instances");
            }
        }
        triggers::sync_followers(self, &before, &written).await;
        Ok(written)
    }

    /// After any stored change of a flow or an instance (hook) that this module
    /// did not make itself — a reset, a restore, a refresh: the triggers of what
    /// changed brought in line, in the background.
    pub(crate) fn flow_written(&self, before: &Element, after: &Element) {
        if HANDLED.try_with(|_| ()).is_ok() {
            return;
        }
        let (before, after) = (before.clone(), after.clone());
        let engine = self.clone();
        match after.element_type {
            ElementType::FlowInstance => {
                let relevant = ["nodes", "enabled", "isCustomized"]
                    .iter()
                    .any(|f| before.doc.get(*f) != after.doc.get(*f));
                if before.is_archived() && !after.is_archived() {
                    tokio::spawn(async move { triggers::setup_triggers(&engine, &after).await });
                } else if relevant && !after.is_archived() {
                    tokio::spawn(
                        async move { triggers::sync_triggers(&engine, &before, &after).await },
                    );
                }
            }
            ElementType::Flow
                if before.doc.get("nodes") != after.doc.get("nodes")
                    || before.doc.get("isCustomized") != after.doc.get("isCustomized")
                    || before.is_archived() != after.is_archived() =>
            {
                tokio::spawn(
                    async move { triggers::sync_followers(&engine, &before, &after).await },
                );
            }
            _ => {}
        }
    }

    /// After a connection is written (hook): when it was restored, what its
    /// archiving stopped starts again, in the background — the triggers of its
    /// live instances (their schedules ended at their first tick while it was
    /// archived; [`triggers::setup_triggers`] sets up only what an instance wants
    /// now, so a disabled one stays still) and an instance of every flow that asks
    /// for one, as for a new connection.
    pub(crate) fn connection_written(&self, before: &Element, after: &Element) {
        if !before.is_archived() || after.is_archived() {
            return;
        }
        let (engine, conn) = (self.clone(), after.clone());
        tokio::spawn(async move {
            engine.flow_instances_for_connection(&conn).await;
            if let Err(e) = engine.restart_instance_triggers(&conn).await {
                tracing::warn!(workspace_id = %conn.workspace_id, connection = %conn.id, error = %e.message, "could not set up the flow triggers of a restored connection");
            }
        });
    }

    async fn restart_instance_triggers(&self, conn: &Element) -> Result<(), ApiError> {
        let mut q = ElementQuery::new(&conn.workspace_id, ElementType::FlowInstance);
        q.connection = RefFilter::Is(conn.id.clone());
        q.limit = PAGE;
        let mut pages = std::pin::pin!(element_pages(&*self.stores.elements, q));
        while let Some(instances) = pages.try_next().await? {
            for instance in &instances {
                triggers::setup_triggers(self, instance).await;
            }
        }
        Ok(())
    }

    /// After a connection is stored: an instance of every flow that asks for one
    /// on each connection of its integration.
    pub(crate) async fn flow_instances_for_connection(&self, conn: &Element) {
        if let Err(e) = self.auto_instances_for(conn).await {
            tracing::warn!(workspace_id = %conn.workspace_id, connection = %conn.id, error = %e.message, "could not make the flow instances of a new connection");
        }
    }

    async fn auto_instances_for(&self, conn: &Element) -> Result<(), ApiError> {
        let Some(iid) = conn.integration_id.clone() else {
            return Ok(());
        };
        if conn.is_archived() {
            return Ok(());
        }
        let admin = self.admin_of(&conn.workspace_id).await?;
        for scope in [RefFilter::Is(iid), RefFilter::None] {
            let mut q = ElementQuery::new(&conn.workspace_id, ElementType::Flow);
            q.integration = scope;
            q.doc_equals = vec![("autoCreateInstances".into(), Value::Bool(true))];
            q.limit = PAGE;
            let mut pages = std::pin::pin!(element_pages(&*self.stores.elements, q));
            while let Some(flows) = pages.try_next().await? {
                for flow in &flows {
                    self.auto_instance(&admin, flow, conn).await;
                }
            }
        }
        Ok(())
    }

    /// An instance of `flow` on every live connection of its integration(s), when
    /// it asks for them.
    async fn ensure_auto_instances(&self, flow: &Element) -> Result<(), ApiError> {
        if flow.is_archived() || !auto_creates(&self.elements().effective(flow).await?) {
            return Ok(());
        }
        let admin = self.admin_of(&flow.workspace_id).await?;
        let mut q = ElementQuery::new(&flow.workspace_id, ElementType::Connection);
        if let Some(iid) = &flow.integration_id {
            q.integration = RefFilter::Is(iid.clone());
        }
        q.limit = PAGE;
        let mut pages = std::pin::pin!(element_pages(&*self.stores.elements, q));
        while let Some(connections) = pages.try_next().await? {
            for conn in &connections {
                self.auto_instance(&admin, flow, conn).await;
            }
        }
        Ok(())
    }

    /// The instance of `flow` — or of its most specific copy for the connection's
    /// integration — on `conn`, made if missing; a failure is logged.
    async fn auto_instance(&self, admin: &Caller, flow: &Element, conn: &Element) {
        let made = async {
            let target = match (&flow.integration_id, &flow.key, &conn.integration_id) {
                (None, Some(key), Some(iid)) => {
                    let sel = PathSelector {
                        value: key.clone(),
                        layer: osmosis_model::selector::LayerQuery {
                            integration_id: Some(iid.clone()),
                            ..Default::default()
                        },
                        auto_create: false,
                    };
                    let found = self
                        .elements()
                        .resolve(admin, ElementType::Flow, &sel)
                        .await?;
                    // An archived copy does not stand in for the universal flow.
                    if found.is_archived() {
                        flow.clone()
                    } else {
                        found
                    }
                }
                _ => flow.clone(),
            };
            if !auto_creates(&self.elements().effective(&target).await?) {
                return Ok(None);
            }
            let sel = InstanceSelector {
                parent: Some(target.id.clone()),
                connection_id: Some(conn.id.clone()),
                auto_create: true,
                ..Default::default()
            };
            self.elements()
                .resolve_instance(admin, ElementType::FlowInstance, &sel)
                .await
                .map(Some)
        };
        match made.await {
            Ok(Some(instance)) => {
                tracing::debug!(flow = %flow.id, connection = %conn.id, instance = %instance.id, "flow instance made for a connection")
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(workspace_id = %flow.workspace_id, flow = %flow.id, connection = %conn.id, error = %e.message, "could not make a flow instance for a connection")
            }
        }
    }
}

/// Records on `el` the revisions it was taken from.
fn stamp(el: &mut Element, stamps: &Stamps) {
    for (field, v) in [
        ("flowRevision", &stamps.flow),
        ("universalFlowRevision", &stamps.universal),
    ] {
        match v {
            Some(r) => el.doc.insert(field.into(), Value::String(r.clone())),
            None => el.doc.remove(field),
        };
    }
}

/// An `input.<path>` error of the schema check, renamed to `parameters.<path>`.
fn as_parameters_error(mut e: ApiError) -> ApiError {
    e.message =
        e.message
            .replacen("`input.", "`parameters.", 1)
            .replacen("`input`", "`parameters`", 1);
    if let Some(data) = e.data.as_deref_mut() {
        if let Some(Value::String(f)) = data.get_mut("field") {
            *f = match f.strip_prefix("input") {
                Some(rest) => format!("parameters{rest}"),
                None => f.clone(),
            };
        }
    }
    e
}

impl Flows<'_> {
    /// `POST /flow-instances/{id}/update-to-latest-flow`: the instance takes its
    /// flow's current definition for every part that is not customised (see the
    /// module doc) and is stamped with the flow's current revisions; its triggers
    /// follow. Answers the instance.
    pub async fn update_to_latest_flow(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Element, ApiError> {
        let engine = self.engine;
        let t = ElementType::FlowInstance;
        let elements = engine.elements();
        let sel = InstanceSelector {
            id: Some(id.to_owned()),
            ..Default::default()
        };
        let found = elements.resolve_instance(caller, t, &sel).await?;
        check_writer(caller, t)?;
        ensure_editable(&found)?;
        let lock = engine.locks.lock(&found.id).await;
        let current = engine
            .stores
            .elements
            .element_by_id(&found.workspace_id, &found.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(t, id))?;
        let before = current.clone();
        let updated = HANDLED
            .scope(
                (),
                elements.compare_and_swap(current, |cur| {
                    Box::pin(async move {
                        ensure_editable(&cur)?;
                        let source = engine.source_of(&cur).await?.ok_or_else(|| {
                            ApiError::configuration(format!(
                                "The flow of the instance `{}` is gone or archived",
                                cur.id
                            ))
                        })?;
                        let mut next = cur;
                        rebuild(&mut next, &source);
                        engine
                            .elements()
                            .hooks(t)
                            .prepare(engine, caller, &mut next, &Map::new())
                            .await?;
                        Ok(Change::Write(Box::new(next), OnConflict::Retry))
                    })
                }),
            )
            .await?;
        drop(lock);
        triggers::sync_triggers(engine, &before, &updated).await;
        Ok(updated)
    }
}

/// `el` rebuilt from its flow's current definition, customised parts kept.
fn rebuild(el: &mut Element, source: &Source) {
    let customized = customized_of(el.doc.get("customized"));
    let own = nodes_of(el);
    let theirs = source.nodes();
    let mut nodes = Map::new();
    for (k, node) in &theirs {
        if node_customized(&customized, k) {
            // Customised: the instance's version, or none if it removed it.
            if let Some(mine) = own.get(k) {
                nodes.insert(k.clone(), mine.clone());
            }
        } else {
            nodes.insert(k.clone(), node.clone());
        }
    }
    for (k, mine) in &own {
        if !theirs.contains_key(k) && node_customized(&customized, k) {
            nodes.insert(k.clone(), mine.clone());
        }
    }
    el.doc
        .insert("nodes".into(), Value::Object(with_user_config(nodes, &own)));
    if !name_customized(&customized) {
        el.name = source.parent.name.clone();
    }
    match source.definition.doc.get("parametersSchema") {
        Some(s) => el.doc.insert("parametersSchema".into(), s.clone()),
        None => el.doc.remove("parametersSchema"),
    };
    stamp(el, &source.stamps);
}
