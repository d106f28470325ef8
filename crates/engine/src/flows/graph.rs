//! A flow's node graph as a run walks it (api-surface §6.2): nodes keyed by node
//! key, edges on the source node's `links`, loop bodies entered through a
//! `for-each` node's `config.rootNodeKey`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Node types that start runs.
pub(crate) const TRIGGERS: &[&str] = &[
    "api-trigger",
    "schedule-trigger",
    "app-event-trigger",
    "data-record-created-trigger",
    "data-record-updated-trigger",
    "data-record-deleted-trigger",
    "connector-event-trigger",
];

/// One node as the run reads it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub key: String,
    pub kind: String,
    pub name: Option<String>,
    pub config: Value,
    pub links: Vec<Link>,
    /// Node runs of this node at once; at least 1.
    pub concurrency: usize,
    /// `onError: continue`: a failed node run is recorded and the run goes on.
    pub continue_on_error: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub key: String,
    /// A formula over the output that must hold for the link to be followed.
    pub filter: Option<Value>,
}

/// The graph of one flow.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    pub nodes: BTreeMap<String, Node>,
    /// How many links reach each node: a node reached by two or more is a join.
    incoming: BTreeMap<String, usize>,
}

impl Graph {
    pub(crate) fn of(nodes: &Map<String, Value>) -> Graph {
        let mut graph = Graph::default();
        for (key, n) in nodes {
            let links = n
                .get("links")
                .and_then(Value::as_array)
                .map(|ls| {
                    ls.iter()
                        .filter_map(|l| {
                            let key = l.get("key")?.as_str()?.to_owned();
                            nodes.contains_key(&key).then(|| Link {
                                key,
                                filter: l.get("filter").filter(|f| !f.is_null()).cloned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let node = Node {
                key: key.clone(),
                kind: n
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                name: n.get("name").and_then(Value::as_str).map(str::to_owned),
                config: n.get("config").cloned().unwrap_or(Value::Null),
                links,
                concurrency: n
                    .get("concurrency")
                    .and_then(Value::as_u64)
                    .map_or(1, |c| c.clamp(1, 64) as usize),
                continue_on_error: n.get("onError").and_then(Value::as_str) == Some("continue"),
            };
            graph.nodes.insert(key.clone(), node);
        }
        let targets: Vec<String> = graph
            .nodes
            .values()
            .flat_map(|n| n.links.iter().map(|l| l.key.clone()))
            .collect();
        for t in targets {
            *graph.incoming.entry(t).or_default() += 1;
        }
        graph
    }

    pub(crate) fn node(&self, key: &str) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// A node two or more links reach: it runs once, after every branch that leads
    /// to it has finished (see the module doc of `runner`).
    pub(crate) fn is_join(&self, key: &str) -> bool {
        self.incoming.get(key).copied().unwrap_or(0) >= 2
    }

    /// The nodes `key` leads to through links, transitively (not into loop bodies).
    pub(crate) fn downstream(&self, key: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![key.to_owned()];
        while let Some(k) = stack.pop() {
            for l in self
                .nodes
                .get(&k)
                .map(|n| n.links.as_slice())
                .unwrap_or(&[])
            {
                if seen.insert(l.key.clone()) {
                    stack.push(l.key.clone());
                }
            }
        }
        seen
    }

    /// Trigger nodes that no link reaches: where runs start.
    pub(crate) fn triggers(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .values()
            .filter(|n| TRIGGERS.contains(&n.kind.as_str()) && !self.incoming.contains_key(&n.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn joins_and_downstream_follow_links() {
        let nodes = json!({
            "t": {"type": "api-trigger", "links": [{"key": "a"}, {"key": "b"}]},
            "a": {"type": "transform-data", "links": [{"key": "j"}]},
            "b": {"type": "transform-data", "links": [{"key": "j"}, {"key": "gone"}]},
            "j": {"type": "transform-data", "concurrency": 4, "onError": "continue"}
        });
        let g = Graph::of(nodes.as_object().unwrap());
        assert!(g.is_join("j") && !g.is_join("a"));
        assert_eq!(
            g.downstream("t").into_iter().collect::<Vec<_>>(),
            ["a", "b", "j"]
        );
        assert_eq!(
            g.triggers().map(|n| n.key.as_str()).collect::<Vec<_>>(),
            ["t"]
        );
        let j = g.node("j").unwrap();
        assert_eq!((j.concurrency, j.continue_on_error), (4, true));
        // A link to a node that does not exist is not followed.
        assert_eq!(g.node("b").unwrap().links.len(), 1);
    }
}
