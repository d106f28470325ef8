//! Flow graph helpers over a flow's `nodes` map (edges are `links[].key` on the source
//! node; a `for-each-v2` node also points at its sub-flow through
//! `config.rootNodeKey`). The server's flow validation and runner use these; they keep
//! the SDK's exact results, including that "downstream" goes only two levels deep and
//! that `hasCycles` also reports nodes unreachable from a root.

use crate::error::{Result, RuntimeError};
use crate::js;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;

const SUB_FLOW_NODE_TYPE: &str = "for-each-v2";

fn node<'a>(nodes: Option<&'a Value>, key: &Value) -> Option<Cow<'a, Value>> {
    let nodes = nodes.and_then(js::slot)?;
    js::get_property(nodes, &js::to_js_string(Some(key))).filter(|n| js::truthy(Some(n)))
}

fn sub_flow_root(node: &Value) -> Option<Value> {
    let ty = js::get_property(node, "type");
    if ty.as_deref() != Some(&Value::String(SUB_FLOW_NODE_TYPE.into())) {
        return None;
    }
    js::get_property(node, "config")
        .and_then(|c| js::get_property(&c, "rootNodeKey").map(Cow::into_owned))
}

fn null_error(what: &str) -> RuntimeError {
    RuntimeError::Type(format!("Cannot read properties of null (reading '{what}')"))
}

/// `links.map(l => l.key)` of a node; `None` when the node has no links.
fn link_keys(node: &Value) -> Result<Option<Vec<Value>>> {
    let links = js::get_property(node, "links");
    match links.as_deref() {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|l| match js::slot(l) {
                None | Some(Value::Null) => Err(null_error("key")),
                Some(l) => Ok(js::get_property(l, "key")
                    .map(Cow::into_owned)
                    .unwrap_or(Value::Null)),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(RuntimeError::Type("n.links.map is not a function".into())),
    }
}

fn node_entries(nodes: Option<&Value>) -> Vec<(String, Value)> {
    match nodes.and_then(js::slot) {
        Some(v) => crate::schema::merge::entries(v),
        None => Vec::new(),
    }
}

/// `getRootNodeKeys({nodes})`: nodes that no link and no sub-flow points at.
pub fn get_root_node_keys(nodes: Option<&Value>) -> Result<Vec<String>> {
    let entries = node_entries(nodes);
    let mut targets: Vec<Value> = Vec::new();
    for (_, n) in &entries {
        if js::is_nullish(Some(n)) {
            return Err(null_error("links"));
        }
        if let Some(keys) = link_keys(n)? {
            targets.extend(keys.into_iter().filter(|k| js::truthy(Some(k))));
        }
    }
    for (_, n) in &entries {
        if !js::truthy(Some(n)) || !js::truthy(js::get_property(n, "type").as_deref()) {
            continue;
        }
        if let Some(root) = sub_flow_root(n).filter(|r| js::truthy(Some(r))) {
            targets.push(root);
        }
    }
    Ok(entries
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !targets
                .iter()
                .any(|t| js::strict_eq(Some(t), Some(&Value::String(k.clone()))))
        })
        .collect())
}

/// `getChildNodeKeys(flow, nodeKey)`: link targets that exist.
pub fn get_child_node_keys(flow: Option<&Value>, node_key: &Value) -> Result<Vec<Value>> {
    let nodes = flow
        .and_then(js::slot)
        .and_then(|f| js::get_property(f, "nodes"));
    let Some(n) = node(nodes.as_deref(), node_key) else {
        return Ok(Vec::new());
    };
    let keys = match js::get_property(&n, "links") {
        Some(l) if js::truthy(Some(&l)) => link_keys(&n)?.unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(keys
        .into_iter()
        .filter(|k| js::truthy(Some(k)) && node(nodes.as_deref(), k).is_some())
        .collect())
}

/// `getDownstreamNodeKeys`: children and grandchildren (the SDK stops there).
pub fn get_downstream_node_keys(flow: Option<&Value>, node_key: &Value) -> Result<Vec<Value>> {
    let children = get_child_node_keys(flow, node_key)?;
    let mut out = children.clone();
    for c in &children {
        out.extend(get_child_node_keys(flow, c)?);
    }
    Ok(out)
}

/// `getParentNodeKeys`: nodes linking here, then sub-flow nodes rooted here, deduplicated.
pub fn get_parent_node_keys(flow: Option<&Value>, node_key: &Value) -> Result<Vec<String>> {
    let nodes = flow
        .and_then(js::slot)
        .and_then(|f| js::get_property(f, "nodes"));
    let entries = node_entries(nodes.as_deref());
    let mut out: Vec<String> = Vec::new();
    for (k, n) in &entries {
        if !js::truthy(Some(n)) {
            continue;
        }
        let links = js::get_property(n, "links");
        let links_match = match links.as_deref() {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => {
                let mut hit = false;
                for l in items {
                    match js::slot(l) {
                        None | Some(Value::Null) => return Err(null_error("key")),
                        Some(l) => {
                            if js::strict_eq(js::get_property(l, "key").as_deref(), Some(node_key))
                            {
                                hit = true;
                                break;
                            }
                        }
                    }
                }
                hit
            }
            Some(_) => return Err(RuntimeError::Type("links.some is not a function".into())),
        };
        if links_match {
            out.push(k.clone());
        }
    }
    for (k, n) in &entries {
        if !js::truthy(Some(n)) {
            continue;
        }
        if sub_flow_root(n).is_some_and(|r| js::strict_eq(Some(&r), Some(node_key)))
            && !out.contains(k)
        {
            out.push(k.clone());
        }
    }
    Ok(out)
}

/// `getUpstreamNodeKeys`: parents, transitively. On a cycle the SDK recurses until the
/// stack overflows; this reports the same `RangeError`.
pub fn get_upstream_node_keys(flow: Option<&Value>, node_key: &Value) -> Result<Vec<String>> {
    let mut path = Vec::new();
    upstream(flow, node_key, &mut path)
}

fn upstream(flow: Option<&Value>, node_key: &Value, path: &mut Vec<String>) -> Result<Vec<String>> {
    let key = js::to_js_string(Some(node_key));
    if path.contains(&key) {
        return Err(RuntimeError::Range(
            "Maximum call stack size exceeded".into(),
        ));
    }
    path.push(key);
    let parents = get_parent_node_keys(flow, node_key)?;
    let mut out = parents.clone();
    for p in &parents {
        out.extend(upstream(flow, &Value::String(p.clone()), path)?);
    }
    path.pop();
    Ok(out)
}

/// `hasCycles(nodes)`: a cycle, or a node that no root reaches.
pub fn has_cycles(nodes: Option<&Value>) -> Result<bool> {
    if !js::truthy(nodes) {
        return Ok(false);
    }
    let roots = get_root_node_keys(nodes)?;
    let mut state = CycleSearch {
        nodes,
        found: false,
        all_visited: HashSet::new(),
    };
    for root in roots {
        state.visit(&Value::String(root), &HashSet::new())?;
    }
    let total = node_entries(nodes).len();
    Ok(state.found || state.all_visited.len() != total)
}

struct CycleSearch<'a> {
    nodes: Option<&'a Value>,
    found: bool,
    all_visited: HashSet<String>,
}

impl CycleSearch<'_> {
    /// The SDK's `visitNode`; only membership of the returned `visited` matters.
    fn visit(&mut self, key: &Value, visited: &HashSet<String>) -> Result<HashSet<String>> {
        if !js::truthy(Some(key)) {
            return Ok(visited.clone());
        }
        let name = js::to_js_string(Some(key));
        if visited.contains(&name) {
            self.found = true;
            return Ok(visited.clone());
        }
        let Some(n) = node(self.nodes, key) else {
            return Ok(visited.clone());
        };
        let n = n.into_owned();
        let mut visited = visited.clone();
        visited.insert(name.clone());
        self.all_visited.insert(name);
        if js::truthy(js::get_property(&n, "type").as_deref()) {
            if let Some(root) = sub_flow_root(&n) {
                let sub = self.visit(&root, &visited)?;
                visited.extend(sub);
            } else if js::get_property(&n, "type").as_deref()
                == Some(&Value::String(SUB_FLOW_NODE_TYPE.into()))
            {
                let sub = self.visit(&Value::Null, &visited)?;
                visited.extend(sub);
            }
        }
        if let Some(keys) = match js::get_property(&n, "links") {
            Some(l) if js::truthy(Some(&l)) => link_keys(&n)?,
            _ => None,
        } {
            let mut sub_nodes = HashSet::new();
            for k in keys {
                if js::truthy(Some(&k)) {
                    sub_nodes.extend(self.visit(&k, &visited)?);
                }
            }
            visited.extend(sub_nodes);
        }
        Ok(visited)
    }
}
