//! Checks that the engine's top-level modules import no cycle: the core
//! (`elements`) must not reach the types or the connection lifecycle except
//! through hooks, and every other module must stay on one side of each edge.
//!
//! How: each top-level module's source files are scanned for `crate::<module>`
//! paths (including `use crate::{a, b::c}` groups); the crate root (`lib.rs`, which
//! only wires the modules together) is left out. Calls of `Engine` methods defined
//! in another module are not imports and are not seen here — they are the
//! services' business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sources(path: &Path, out: &mut String) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            sources(&p, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        // Code only: a comment naming another module is not an import.
        for line in std::fs::read_to_string(path).unwrap().lines() {
            if !line.trim_start().starts_with("//") {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

/// The modules named by `crate::…` paths in `text`.
fn imported(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(|p| p.trim().split("::").next().unwrap_or("").trim())
                .collect()
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            vec![&rest[..end]]
        };
        found.extend(
            names
                .into_iter()
                .filter(|n| modules.contains(*n))
                .map(str::to_owned),
        );
    }
    found
}

fn cycle_from(
    node: &str,
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_owned());
    for next in &graph[node] {
        if let Some(c) = cycle_from(next, graph, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node.to_owned());
    None
}

#[test]
fn top_level_modules_import_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "module_graph" {
            continue;
        }
        let mut text = String::new();
        sources(&p, &mut text);
        files.insert(name, text);
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let graph: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|(m, text)| {
            let mut deps = imported(text, &modules);
            deps.remove(m);
            (m.clone(), deps)
        })
        .collect();
    assert!(graph.contains_key("elements") && graph.contains_key("types"));
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(cycle) = cycle_from(m, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "the engine's modules import a cycle: {}\n(the whole graph: {graph:#?})",
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn the_scan_sees_grouped_and_nested_imports() {
    let modules: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let found = imported(
        "use crate::{a::X, b};\nlet y = crate::c::f(); crate::Engine",
        &modules,
    );
    assert_eq!(found, modules);
}
