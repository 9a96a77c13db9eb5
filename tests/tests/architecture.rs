//! The direction rules of the architecture (README, "Architecture"), held
//! against the code: no import cycle between the modules of `api/src` or
//! `api/registry/src`, `routes/` and `ui/` never import each other, no
//! registry module uses what the registry's `lib.rs` defines, and in the
//! HTTP face every import points down: cli -> app -> routes | ui | jobs |
//! openapi -> http | auth | state | config | telemetry -> registry (`main.rs`
//! is a crate of its own over the library).
//!
//! Imports are read from the source as text: `use` trees and inline
//! `crate::`/`super::`/`self::` paths, resolved to the file that defines
//! the name (following a parent module's `pub use child::…` re-exports to
//! the child). A module declaring or re-exporting its own children is
//! containment, not an import. Test modules (`#[cfg(test)] mod tests`) are
//! left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One source file as a module (`main.rs` is a crate of its own that uses
/// the library by name, so it is left out).
#[derive(Debug)]
struct Module {
    /// Path from the crate root, e.g. `["routes", "reports"]`; empty for
    /// `lib.rs`/`main.rs`.
    path: Vec<String>,
    file: PathBuf,
    source: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "main.rs")
        {
            out.push(path);
        }
    }
}

/// The source without its test module (a top-level `mod tests`) and
/// comments.
fn code_of(text: &str) -> String {
    let text = match text.find("\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn modules(src: &Path) -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let mut path: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        if path.len() == 1 && (path[0] == "lib" || path[0] == "main") {
            path.clear();
        }
        let source = code_of(&std::fs::read_to_string(&file).expect("readable file"));
        out.push(Module { path, file, source });
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into whole paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len().saturating_sub(1)];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// The paths a module uses, each with whether it is a `pub use`.
fn used_paths(source: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("use ") {
        let before = &rest[..i];
        let at_start = before.is_empty()
            || before.ends_with('\n')
            || before.ends_with(' ')
            || before.ends_with(';')
            || before.ends_with('{');
        let after = &rest[i + 4..];
        let Some(end) = after.find(';') else { break };
        if at_start && !before.ends_with("::") {
            let line_start = before.rfind('\n').map_or(0, |n| n + 1);
            let is_pub = before[line_start..].trim_start().starts_with("pub");
            let tree = after[..end].split(" as ").next().unwrap_or("").trim();
            for path in expand(tree) {
                out.push((path, is_pub));
            }
        }
        rest = &after[end..];
    }
    // Inline paths: `crate::a::b::f(...)`, `super::x::y`.
    for prefix in ["crate::", "super::", "self::"] {
        let mut rest = source;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            let tail = &rest[i..];
            let len = tail
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == ':'))
                .map_or(tail.len(), |(n, _)| n);
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                out.push((tail[..len].trim_end_matches(':').to_owned(), false));
            }
            rest = &tail[len.max(1)..];
        }
    }
    out
}

/// What a crate's modules import of each other.
struct Graph {
    modules: Vec<Module>,
    by_path: HashMap<Vec<String>, usize>,
    /// (module, re-exported name) -> the child module it comes from.
    reexports: HashMap<(usize, String), usize>,
}

impl Graph {
    fn new(src: &Path) -> Graph {
        let modules = modules(src);
        let by_path = modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.path.clone(), i))
            .collect();
        let mut graph = Graph {
            modules,
            by_path,
            reexports: HashMap::new(),
        };
        for i in 0..graph.modules.len() {
            for (path, is_pub) in used_paths(&graph.modules[i].source) {
                if !is_pub {
                    continue;
                }
                if let Some((target, name)) = graph.resolve_raw(i, &path)
                    && graph.is_descendant(target, i)
                {
                    graph.reexports.insert((i, name), target);
                }
            }
        }
        graph
    }

    fn is_descendant(&self, child: usize, parent: usize) -> bool {
        let (c, p) = (&self.modules[child].path, &self.modules[parent].path);
        c.len() > p.len() && c.starts_with(p)
    }

    /// The deepest module a path names, and the item name after it.
    fn resolve_raw(&self, from: usize, path: &str) -> Option<(usize, String)> {
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let mut base: Vec<String> = self.modules[from].path.clone();
        let mut rest = &segments[..];
        match rest.first() {
            Some(&"crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some(&"self") => rest = &rest[1..],
            Some(&"super") => {
                while rest.first() == Some(&"super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            // An external crate or a local name.
            _ => {
                let child: Vec<String> = base
                    .iter()
                    .cloned()
                    .chain(rest.first().map(|s| s.to_string()))
                    .collect();
                if !self.by_path.contains_key(&child) {
                    return None;
                }
            }
        }
        let mut module = *self.by_path.get(&base)?;
        let mut name = String::new();
        for seg in rest {
            let mut next = self.modules[module].path.clone();
            next.push(seg.to_string());
            match self.by_path.get(&next) {
                Some(&m) => module = m,
                None => {
                    name = seg.to_string();
                    break;
                }
            }
        }
        Some((module, name))
    }

    /// The module that defines what `path` names, following re-exports.
    fn resolve(&self, from: usize, path: &str) -> Option<usize> {
        let (mut module, name) = self.resolve_raw(from, path)?;
        let mut hops = 0;
        while let Some(&child) = self.reexports.get(&(module, name.clone())) {
            module = child;
            hops += 1;
            if hops > 8 {
                break;
            }
        }
        Some(module)
    }

    /// Import edges between files (containment left out).
    fn edges(&self) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for i in 0..self.modules.len() {
            for (path, is_pub) in used_paths(&self.modules[i].source) {
                let Some(target) = self.resolve(i, &path) else {
                    continue;
                };
                // A parent naming or re-exporting its own children.
                if target == i || (is_pub && self.is_descendant(target, i)) {
                    continue;
                }
                if self.is_descendant(target, i) && self.modules[i].path.is_empty() {
                    continue;
                }
                edges.entry(i).or_default().insert(target);
            }
        }
        edges
    }

    fn name(&self, i: usize) -> String {
        self.modules[i]
            .file
            .strip_prefix(root())
            .unwrap_or(&self.modules[i].file)
            .display()
            .to_string()
    }

    /// Strongly connected components of more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut tarjan = Tarjan {
            edges: self.edges(),
            index: vec![None; self.modules.len()],
            low: vec![0; self.modules.len()],
            on_stack: vec![false; self.modules.len()],
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        };
        for v in 0..self.modules.len() {
            if tarjan.index[v].is_none() {
                tarjan.visit(v);
            }
        }
        tarjan
            .components
            .into_iter()
            .map(|c| {
                let mut names: Vec<String> = c.into_iter().map(|i| self.name(i)).collect();
                names.sort();
                names
            })
            .collect()
    }
}

struct Tarjan {
    edges: BTreeMap<usize, BTreeSet<usize>>,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        let targets: Vec<usize> = self.edges.get(&v).into_iter().flatten().copied().collect();
        for w in targets {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                self.components.push(component);
            }
        }
    }
}

#[test]
fn no_import_cycle_in_the_http_face_or_the_registry() {
    for src in ["api/src", "api/registry/src"] {
        let graph = Graph::new(&root().join(src));
        assert!(graph.modules.len() > 10, "{src}: modules found");
        let cycles = graph.cycles();
        assert!(cycles.is_empty(), "{src}: import cycles: {cycles:#?}");
    }
}

#[test]
fn routes_and_ui_never_import_each_other() {
    let graph = Graph::new(&root().join("api/src"));
    let top = |i: usize| graph.modules[i].path.first().cloned().unwrap_or_default();
    let mut wrong = Vec::new();
    for (from, targets) in graph.edges() {
        for to in targets {
            let pair = (top(from), top(to));
            if pair == ("routes".into(), "ui".into()) || pair == ("ui".into(), "routes".into()) {
                wrong.push(format!("{} -> {}", graph.name(from), graph.name(to)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "routes and ui import each other: {wrong:#?}"
    );
}

#[test]
fn the_http_face_imports_only_downwards() {
    let rank = |top: &str| match top {
        "" => 6,
        "cli" => 5,
        "app" => 4,
        "routes" | "ui" | "jobs" | "openapi" => 3,
        "http" | "auth" | "state" | "config" | "telemetry" => 2,
        other => panic!("api/src/{other}: place it in the layers of this test and the README"),
    };
    let graph = Graph::new(&root().join("api/src"));
    let mut upward = Vec::new();
    for (from, targets) in graph.edges() {
        let from_top = graph.modules[from]
            .path
            .first()
            .cloned()
            .unwrap_or_default();
        for to in targets {
            let to_top = graph.modules[to].path.first().cloned().unwrap_or_default();
            if rank(&to_top) > rank(&from_top) {
                upward.push(format!("{} -> {}", graph.name(from), graph.name(to)));
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up: {upward:#?}");
}

#[test]
fn no_registry_module_uses_the_registry_handle() {
    let src = root().join("api/registry/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let defined: Vec<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            [
                "pub struct ",
                "pub fn ",
                "pub enum ",
                "pub const ",
                "struct ",
                "fn ",
            ]
            .iter()
            .find_map(|k| l.strip_prefix(k))
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
        })
        .collect();
    assert!(defined.iter().any(|d| d == "Registry"), "{defined:?}");
    let graph = Graph::new(&src);
    let mut wrong = Vec::new();
    for (i, m) in graph.modules.iter().enumerate() {
        if m.path.is_empty() {
            continue;
        }
        for (path, _) in used_paths(&m.source) {
            if let Some((target, name)) = graph.resolve_raw(i, &path)
                && graph.modules[target].path.is_empty()
                && defined.contains(&name)
            {
                wrong.push(format!("{} uses crate::{name}", graph.name(i)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The checker itself: it finds a cycle and an upward import where there
/// is one (so the tests above cannot pass by reading nothing).
#[test]
fn the_checker_sees_cycles_and_reexports() {
    let dir = tempfile::tempdir().expect("dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("write");
    std::fs::write(src.join("a/mod.rs"), "mod inner;\npub use inner::Thing;\n").expect("write");
    std::fs::write(
        src.join("a/inner.rs"),
        "use crate::b::Other;\npub struct Thing;\n",
    )
    .expect("write");
    std::fs::write(
        src.join("b.rs"),
        "use crate::a::Thing;\npub struct Other(Thing);\n",
    )
    .expect("write");
    let graph = Graph::new(src);
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].len(), 2, "{cycles:?}");
    assert!(
        cycles[0].iter().any(|n| n.ends_with("a/inner.rs")),
        "{cycles:?}"
    );
    std::fs::write(src.join("b.rs"), "pub struct Other;\n").expect("write");
    assert!(Graph::new(src).cycles().is_empty());
}
