//! A flow's nodes drawn as an SVG graph: top to bottom, each node in the row of
//! its longest path from a node nothing links to, edges along `links`. Used by the
//! flow pages (no states) and the flow run pages (each node coloured by the state
//! of its node runs). Each node links to `#node-<key>`, where the page shows its
//! details.

use std::collections::{BTreeMap, HashMap};

use maud::{html, Markup};
use serde_json::{Map, Value};

const NODE_W: i64 = 210;
const NODE_H: i64 = 52;
const GAP_X: i64 = 28;
const GAP_Y: i64 = 44;
const PAD: i64 = 12;

/// `nodes` as a flow document holds them (`{key: {type, name, links: [{key}]}}`);
/// `states` maps node keys to the state shown (`completed`, `failed`, `running`, …).
pub(crate) fn render(nodes: &Map<String, Value>, states: &HashMap<String, String>) -> Markup {
    if nodes.is_empty() {
        return html! { p.empty { "This flow has no nodes." } };
    }
    let links = |n: &Value| -> Vec<String> {
        n.get("links")
            .and_then(Value::as_array)
            .map(|ls| {
                ls.iter()
                    .filter_map(|l| l.get("key").and_then(Value::as_str))
                    .filter(|k| nodes.contains_key(*k))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    // Rows by longest path from the roots; a cycle cannot push a node past the
    // number of nodes.
    let mut row: BTreeMap<&str, i64> = nodes.keys().map(|k| (k.as_str(), 0)).collect();
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (key, n) in nodes {
            let from = row[key.as_str()];
            for to in links(n) {
                let target = row.get_mut(to.as_str()).expect("filtered to known nodes");
                if *target < from + 1 && from + 1 < nodes.len() as i64 {
                    *target = from + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut columns: BTreeMap<i64, i64> = BTreeMap::new();
    let mut at: HashMap<&str, (i64, i64)> = HashMap::new();
    for (key, r) in &row {
        let c = columns.entry(*r).or_insert(0);
        at.insert(
            key,
            (PAD + *c * (NODE_W + GAP_X), PAD + r * (NODE_H + GAP_Y)),
        );
        *c += 1;
    }
    let width = PAD * 2 + columns.values().max().copied().unwrap_or(1) * (NODE_W + GAP_X) - GAP_X;
    let height =
        PAD * 2 + (row.values().max().copied().unwrap_or(0) + 1) * (NODE_H + GAP_Y) - GAP_Y;
    html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" role="group" aria-label="The flow's nodes and links"
            width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
            @for (key, n) in nodes {
                @for to in links(n) {
                    @let (x1, y1) = at[key.as_str()];
                    @let (x2, y2) = at[to.as_str()];
                    path.edge d={ "M" (x1 + NODE_W / 2) " " (y1 + NODE_H) " C" (x1 + NODE_W / 2) " " (y1 + NODE_H + GAP_Y / 2) " " (x2 + NODE_W / 2) " " (y2 - GAP_Y / 2) " " (x2 + NODE_W / 2) " " (y2) } {}
                }
            }
            @for (key, n) in nodes {
                @let (x, y) = at[key.as_str()];
                @let state = states.get(key).map(String::as_str).unwrap_or("");
                @let name = n.get("name").and_then(Value::as_str).unwrap_or(key);
                @let kind = n.get("type").and_then(Value::as_str).unwrap_or("");
                @let class = if state.is_empty() { "node".to_owned() } else { format!("node {state}") };
                a href={ "#node-" (key) } {
                    g class=(class) data-node=(key) {
                        title { (name) " (" (kind) ")" @if !state.is_empty() { ": " (state) } }
                        rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) rx="8" {}
                        text x=(x + 10) y=(y + 21) { (clip(name, 26)) }
                        text x=(x + 10) y=(y + 40) fill="#4b5466" { (clip(&subtitle(kind, state), 28)) }
                    }
                }
            }
        }
    }
}

/// A node's second line: its type, and its state when it has one.
fn subtitle(kind: &str, state: &str) -> String {
    if state.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} · {state}")
    }
}

/// At most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}
