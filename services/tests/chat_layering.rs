//! The chat server's modules depend on each other in one direction only:
//! no file of `src/chat` imports, directly or through others, a module that
//! imports it back. (`chat/mod.rs` lists the order.) This reads the sources'
//! `use` lines, so a new cycle fails here rather than in a reviewer's head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`delivery::frames`) → source text, for every file under `dir`.
fn modules(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let module = if prefix.is_empty() { name.clone() } else { format!("{prefix}::{name}") };
        if path.is_dir() {
            modules(&path, &module, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let module = match name.as_str() {
                "mod" => prefix.to_string(),
                _ => module,
            };
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The chat modules `module` imports.
fn imports(module: &str, source: &str, all: &BTreeMap<String, String>) -> BTreeSet<String> {
    let parent = |m: &str| m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
    let mut found = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with("use ")) {
        let path = line.trim_start_matches("use ");
        let absolute = if let Some(rest) = path.strip_prefix("crate::chat::") {
            rest.to_string()
        } else if let Some(rest) = path.strip_prefix("super::") {
            // `super` is the parent module (for `a/mod.rs`, `a`'s parent).
            let base = parent(module);
            if base.is_empty() {
                rest.to_string()
            } else {
                format!("{base}::{rest}")
            }
        } else {
            let child = format!("{module}::{path}");
            if all
                .keys()
                .any(|m| child.starts_with(m.as_str()) && m.starts_with(module) && m != module)
            {
                child
            } else {
                continue;
            }
        };
        let parts: Vec<&str> = absolute.split("::").collect();
        for i in (1..=parts.len()).rev() {
            let candidate = parts[..i].join("::");
            if all.contains_key(&candidate) {
                if candidate != module {
                    found.insert(candidate);
                }
                break;
            }
        }
    }
    found
}

#[test]
fn no_module_of_the_chat_server_imports_one_that_imports_it_back() {
    let mut all = BTreeMap::new();
    modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/chat"), "", &mut all);
    all.remove(""); // chat/mod.rs declares modules; it imports none
    let graph: BTreeMap<String, BTreeSet<String>> =
        all.iter().map(|(m, s)| (m.clone(), imports(m, s, &all))).collect();
    assert!(graph["conn"].contains("requests"), "the scan reads the imports: {graph:?}");

    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_string());
        for next in &graph[node] {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}
