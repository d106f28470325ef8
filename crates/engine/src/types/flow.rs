//! Flows and flow instances: the node graph is checked for shape on every write
//! (a malformed node is a `bad_request`), and for meaning — known node types, links
//! to existing nodes, no cycles, dependencies present — into `state`/`errors`, so a
//! flow can be saved half-built and shows what is wrong (`CONFIGURATION_ERROR`).

use std::collections::{BTreeMap, BTreeSet};

use osmosis_model::element::ElementState;
use osmosis_model::element_type::Layering;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use crate::elements::{BeforeWrite, WriteMode};
use crate::errors::store_error;
use crate::refs::Ref;
use crate::{Caller, Engine};

pub mod schedule;

/// `FlowNodeType` of the SDK (docs/spec/api-surface.md §6.1), deprecated types included.
pub const FLOW_NODE_TYPES: &[&str] = &[
    "api-trigger",
    "schedule-trigger",
    "app-event-trigger",
    "data-record-created-trigger",
    "data-record-updated-trigger",
    "data-record-deleted-trigger",
    "connector-event-trigger",
    "search-data-records",
    "list-data-records",
    "find-or-create-data-record",
    "lookup-data-record",
    "find-data-record-by-id",
    "create-data-record",
    "update-data-record",
    "delete-data-record",
    "create-data-link",
    "find-data-link",
    "delete-data-link",
    "transform-data",
    "filter",
    "for-each-v2",
    "run-javascript",
    "integration-specific-operation",
    "api-request-to-your-app",
    "api-request-to-external-app",
    "custom-http-request",
    "run-action",
    "api-request",
    "custom-api-request",
    "http-request",
    "for-each",
    "find-data-records",
];

/// Node types that only make sense inside an integration (the SDK's `Int` flag).
const NEEDS_INTEGRATION: &[&str] = &[
    "connector-event-trigger",
    "integration-specific-operation",
    "api-request-to-external-app",
    "custom-api-request",
];

fn config_error(message: String, node_key: Option<&str>) -> Value {
    let mut e = json!({ "type": "configuration", "message": message });
    if let Some(k) = node_key {
        e["data"] = json!({ "nodeKey": k });
    }
    e
}

/// Checks the shape of `nodes`: an object of node objects, each with a string `type`
/// and, if present, `links` as an array of objects whose `key` is a string.
fn check_node_shapes(nodes: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, node) in nodes {
        let field = format!("nodes.{key}");
        let Some(node) = node.as_object() else {
            return Err(ApiError::invalid_field(&field, "a node must be an object"));
        };
        match node.get("type") {
            Some(Value::String(_)) => {}
            None => {
                return Err(ApiError::invalid_field(
                    &format!("{field}.type"),
                    "is required",
                ))
            }
            Some(_) => {
                return Err(ApiError::invalid_field(
                    &format!("{field}.type"),
                    "expected a string",
                ))
            }
        }
        if let Some(links) = node.get("links") {
            let Some(links) = links.as_array() else {
                return Err(ApiError::invalid_field(
                    &format!("{field}.links"),
                    "expected an array",
                ));
            };
            for (i, link) in links.iter().enumerate() {
                let ok = link
                    .as_object()
                    .is_some_and(|l| l.get("key").is_none_or(|k| k.is_string() || k.is_null()));
                if !ok {
                    return Err(ApiError::invalid_field(
                        &format!("{field}.links[{i}]"),
                        "expected an object with a string `key`",
                    ));
                }
            }
        }
        for (f, kind) in [("name", "a string"), ("onError", "`stop` or `continue`")] {
            if let Some(v) = node.get(f) {
                let ok = if f == "onError" {
                    matches!(v.as_str(), Some("stop" | "continue"))
                } else {
                    v.is_string()
                };
                if !ok {
                    return Err(ApiError::invalid_field(
                        &format!("{field}.{f}"),
                        format!("expected {kind}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn links_of(node: &Value) -> Vec<String> {
    node.get("links")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.get("key").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn sub_flow_root(node: &Value) -> Option<String> {
    node.get("config")
        .and_then(|c| c.get("rootNodeKey"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Graph problems of a node map, as `configuration` errors: unknown node types,
/// links to missing nodes, and — with the SDK's `hasCycles` meaning — cycles or
/// nodes unreachable from a root (roots are nodes no link and no sub-flow targets).
pub fn flow_graph_errors(nodes: &Map<String, Value>, has_integration: bool) -> Vec<Value> {
    let mut errors = Vec::new();
    for (key, node) in nodes {
        let t = node.get("type").and_then(Value::as_str).unwrap_or_default();
        if !FLOW_NODE_TYPES.contains(&t) {
            errors.push(config_error(
                format!("Node `{key}` has an unknown type `{t}`"),
                Some(key),
            ));
        } else if !has_integration && NEEDS_INTEGRATION.contains(&t) {
            // Universal flows may hold such nodes; they are configured per integration.
        } else if t == "schedule-trigger" {
            if let Some(problem) = schedule::problem(node.get("config")) {
                errors.push(config_error(format!("Node `{key}`: {problem}"), Some(key)));
            }
        }
        for target in links_of(node) {
            if !nodes.contains_key(&target) {
                errors.push(config_error(
                    format!("Node `{key}` links to `{target}`, which does not exist"),
                    Some(key),
                ));
            }
        }
        if let Some(root) = sub_flow_root(node) {
            if !nodes.contains_key(&root) {
                errors.push(config_error(
                    format!("Node `{key}` starts its loop at `{root}`, which does not exist"),
                    Some(key),
                ));
            }
        }
    }
    let children: BTreeMap<&str, Vec<String>> = nodes
        .iter()
        .map(|(k, n)| {
            let mut c: Vec<String> = links_of(n)
                .into_iter()
                .filter(|t| nodes.contains_key(t))
                .collect();
            c.extend(sub_flow_root(n).filter(|r| nodes.contains_key(r)));
            (k.as_str(), c)
        })
        .collect();
    let targets: BTreeSet<&str> = children.values().flatten().map(String::as_str).collect();
    let roots: Vec<&str> = nodes
        .keys()
        .map(String::as_str)
        .filter(|k| !targets.contains(k))
        .collect();
    // Depth-first from the roots: a grey node met again is a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    let mut marks: BTreeMap<&str, Mark> = nodes.keys().map(|k| (k.as_str(), Mark::White)).collect();
    let mut cycle = false;
    fn visit<'a>(
        n: &'a str,
        children: &'a BTreeMap<&str, Vec<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        cycle: &mut bool,
    ) {
        marks.insert(n, Mark::Grey);
        for c in &children[n] {
            match marks[c.as_str()] {
                Mark::Grey => *cycle = true,
                Mark::White => visit(c, children, marks, cycle),
                Mark::Black => {}
            }
        }
        marks.insert(n, Mark::Black);
    }
    for r in &roots {
        visit(r, &children, &mut marks, &mut cycle);
    }
    let unreachable: Vec<&str> = marks
        .iter()
        .filter(|(_, m)| **m == Mark::White)
        .map(|(k, _)| *k)
        .collect();
    if cycle || !unreachable.is_empty() {
        let detail = if unreachable.is_empty() {
            String::new()
        } else {
            format!(
                " (nodes in a cycle or unreachable: {})",
                unreachable.join(", ")
            )
        };
        errors.push(config_error(
            format!("The flow graph has a cycle{detail}"),
            None,
        ));
    }
    errors
}

/// References from node configs to other elements, as `(type, key)`.
fn node_dependencies(nodes: &Map<String, Value>) -> Vec<(ElementType, String, String)> {
    let mut deps = Vec::new();
    for (node_key, node) in nodes {
        let config = node.get("config");
        for (field, t) in [
            ("action", ElementType::Action),
            ("dataSource", ElementType::DataSource),
            ("fieldMapping", ElementType::FieldMapping),
        ] {
            if let Some(k) = config
                .and_then(|c| c.get(field))
                .and_then(|r| r.get("key"))
                .and_then(Value::as_str)
            {
                deps.push((t, k.to_string(), node_key.clone()));
            }
        }
    }
    deps
}

pub(super) async fn prepare(
    engine: &Engine,
    caller: &Caller,
    el: &mut Element,
) -> Result<(), ApiError> {
    let nodes = match el.doc.get("nodes") {
        None => Map::new(),
        Some(Value::Object(n)) => n.clone(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "nodes",
                "expected an object of nodes keyed by node key",
            ))
        }
    };
    check_node_shapes(&nodes)?;
    let mut errors = flow_graph_errors(&nodes, el.integration_id.is_some());
    let mut dependencies = Vec::new();
    let admin = Caller::admin(caller.workspace.clone());
    if let Some(iid) = &el.integration_id {
        match engine.stores.elements.element_by_id(&el.workspace_id, iid).await.map_err(store_error)? {
            Some(i) if !i.is_archived() => dependencies.push(json!({"type": "PARENT", "elementType": "integration", "id": i.id, "key": i.key})),
            _ => errors.push(json!({"type": "dependency_error", "message": format!("Integration `{iid}` is missing or archived"), "data": {"workspaceElementReference": {"type": "integration", "id": iid}}})),
        }
    }
    if let Some(pid) = &el.parent_id {
        let parent_type = match el.element_type.spec().layering {
            Layering::Instance(p) => p,
            _ => el.element_type,
        };
        match engine.stores.elements.element_by_id(&el.workspace_id, pid).await.map_err(store_error)? {
            Some(p) if !p.is_archived() => dependencies.push(json!({"type": "PARENT", "elementType": parent_type.name(), "id": p.id, "key": p.key})),
            _ => errors.push(json!({"type": "dependency_error", "message": format!("Parent {} `{pid}` is missing or archived", parent_type.name()), "data": {"workspaceElementReference": {"type": parent_type.name(), "id": pid}}})),
        }
    }
    for (t, key, node_key) in node_dependencies(&nodes) {
        let scope = el.integration_id.as_deref();
        let found = match engine
            .elements()
            .resolve_ref_scoped(&admin, t, &Ref::Key(key.clone()), "config", Some(scope))
            .await
        {
            Ok(e) => Some(e),
            Err(_) if scope.is_some() => engine
                .elements()
                .resolve_ref_scoped(&admin, t, &Ref::Key(key.clone()), "config", Some(None))
                .await
                .ok(),
            Err(_) => None,
        };
        match found {
            Some(d) => dependencies.push(json!({"type": "CONFIGURATION", "elementType": t.name(), "id": d.id, "key": key, "nodeKey": node_key})),
            None => errors.push(json!({"type": "dependency_error", "message": format!("Node `{node_key}` uses {} `{key}`, which does not exist", t.name()), "data": {"nodeKey": node_key, "workspaceElementReference": {"type": t.name(), "key": key}}})),
        }
    }
    el.state = if errors.is_empty() {
        ElementState::Ready
    } else {
        ElementState::ConfigurationError
    };
    if errors.is_empty() {
        el.doc.remove("errors");
    } else {
        el.doc.insert("errors".into(), Value::Array(errors));
    }
    el.doc
        .insert("dependencies".into(), Value::Array(dependencies));
    Ok(())
}

/// Flows and flow instances: the graph validated and dependencies recorded on
/// every write. What instances add — customisation bookkeeping per part,
/// instances made for every connection (`autoCreateInstances`), and their
/// triggers set up while enabled — is the flows service's (`flows::instances`),
/// reached through the engine.
pub(crate) struct FlowHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for FlowHooks {
    async fn prepare(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        if el.element_type != ElementType::FlowInstance {
            return prepare(engine, caller, el).await;
        }
        let problems = engine.flow_instance_prepare(el, body).await?;
        prepare(engine, caller, el).await?;
        if !problems.is_empty() {
            let mut errors = el
                .doc
                .get("errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            errors.extend(problems);
            el.doc.insert("errors".into(), Value::Array(errors));
            el.state = ElementState::ConfigurationError;
        }
        Ok(())
    }

    async fn before_insert(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        if el.element_type == ElementType::FlowInstance {
            engine.flow_instance_before_insert(el, body).await?;
        }
        self.prepare(engine, caller, el, body).await
    }

    async fn after_insert(&self, engine: &Engine, el: &Element) {
        match el.element_type {
            ElementType::FlowInstance => engine.flow_instance_inserted(el).await,
            _ => engine.flow_inserted(el).await,
        }
    }

    async fn before_write(
        &self,
        engine: &Engine,
        caller: &Caller,
        current: Element,
        body: Map<String, Value>,
        mode: WriteMode,
    ) -> Result<BeforeWrite, ApiError> {
        let written = match current.element_type {
            ElementType::FlowInstance => {
                engine
                    .flow_instance_write(caller, current, body, mode)
                    .await?
            }
            _ => engine.flow_write(caller, current, body, mode).await?,
        };
        Ok(BeforeWrite::Done(written))
    }

    fn after_write(&self, engine: &Engine, before: &Element, after: &Element) {
        engine.flow_written(before, after);
    }

    async fn after_archive(&self, engine: &Engine, el: &Element) {
        if el.element_type == ElementType::FlowInstance {
            engine.flow_instance_archived(el).await;
        }
    }

    /// An instance shows which revisions of its flow it was taken from.
    async fn render(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: crate::elements::Depth,
    ) -> Result<(), ApiError> {
        for f in ["flowRevision", "universalFlowRevision"] {
            if let Some(v) = el.doc.get(f) {
                m.insert(f.into(), v.clone());
            }
        }
        Ok(())
    }

    /// `POST /flow-instances/{id}/setup` re-validates the instance and sets its
    /// triggers up again.
    async fn refresh(
        &self,
        engine: &Engine,
        caller: &Caller,
        current: &Element,
    ) -> Option<Result<Element, ApiError>> {
        if current.element_type != ElementType::FlowInstance {
            return None;
        }
        Some(engine.flow_instance_setup(caller, current).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_linear_flow_is_clean() {
        let n = nodes(
            json!({"t": {"type": "api-trigger", "links": [{"key": "a"}]}, "a": {"type": "transform-data"}}),
        );
        assert!(flow_graph_errors(&n, false).is_empty());
    }

    #[test]
    fn unknown_types_dangling_links_and_cycles_are_reported() {
        let n = nodes(json!({"t": {"type": "nope", "links": [{"key": "zz"}]}}));
        let e = flow_graph_errors(&n, false);
        assert_eq!(e.len(), 2, "{e:?}");
        let cyc = nodes(
            json!({"t": {"type": "api-trigger", "links": [{"key": "a"}]}, "a": {"type": "filter", "links": [{"key": "b"}]}, "b": {"type": "filter", "links": [{"key": "a"}]}}),
        );
        assert_eq!(flow_graph_errors(&cyc, false).len(), 1);
        // A pure loop has no root at all: every node is unreachable.
        let lonely = nodes(json!({"a": {"type": "filter", "links": [{"key": "a"}]}}));
        assert_eq!(flow_graph_errors(&lonely, false).len(), 1);
    }

    #[test]
    fn for_each_bodies_are_reachable_through_their_root_node_key() {
        let n = nodes(json!({
            "t": {"type": "api-trigger", "links": [{"key": "loop"}]},
            "loop": {"type": "for-each-v2", "config": {"rootNodeKey": "body"}},
            "body": {"type": "transform-data"}
        }));
        assert!(flow_graph_errors(&n, false).is_empty());
    }
}
