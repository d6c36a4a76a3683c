//! The module layering that docs/development.md ("Architecture") describes, checked against
//! `src/`: which top-level module imports which, and no two files importing each other.
//!
//! Imports are read from the source text: `crate::…`, `super::…` and `self::…` paths outside
//! comments and `#[cfg(test)]` items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Each top-level module and the modules of ours it imports: the table in
/// docs/development.md.
const LAYERS: &[(&str, &[&str])] = &[
    ("api", &[]),
    ("config", &["api"]),
    ("contract", &[]),
    ("client", &[]),
    ("resources", &["api", "config"]),
    ("telemetry", &["api", "contract"]),
    ("stats", &["api", "resources", "telemetry"]),
    (
        "controller",
        &["api", "config", "resources", "stats", "telemetry"],
    ),
    ("webhook", &["api", "contract", "telemetry"]),
    ("manifests", &["api", "config", "contract", "stats"]),
    (
        "operator",
        &[
            "client",
            "config",
            "contract",
            "controller",
            "stats",
            "telemetry",
            "webhook",
        ],
    ),
    ("report", &["api", "client", "controller", "resources"]),
    ("ui", &["api", "client", "resources"]),
];

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `[a, b]`; `src/lib.rs` -> `[]`.
fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text without comment lines and without `#[cfg(test)]` items (their braces matched).
fn production_code(text: &str) -> String {
    let without_comments: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut code = String::new();
    let mut rest = without_comments.as_str();
    while let Some(start) = rest.find("#[cfg(test)]") {
        code.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = match (after.find('{'), after.find(';')) {
            (Some(open), Some(semi)) if semi < open => semi + 1,
            (Some(open), _) => {
                let mut depth = 0;
                let mut end = after.len();
                for (i, c) in after[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(semi)) => semi + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    code.push_str(rest);
    code
}

/// Every file's module and the modules its paths name (resolved to the longest existing module).
fn imports(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let path = Regex::new(r"\b(crate|super|self)((?:::\w+)+)").unwrap();
    let resolve = |segments: &[String]| {
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].to_vec())
            .find(|m| modules.contains_key(m))
    };
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let is_dir_module = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let here: Module = if is_dir_module {
            module.clone()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        let code = production_code(&fs::read_to_string(file).unwrap());
        let mut targets = BTreeSet::new();
        for found in path.captures_iter(&code) {
            let mut segments: Vec<String> = found[2]
                .trim_start_matches("::")
                .split("::")
                .map(str::to_string)
                .collect();
            let full = match &found[1] {
                "crate" => segments,
                "self" => [module.clone(), segments].concat(),
                _ => {
                    let mut base = here.clone();
                    while segments.first().map(String::as_str) == Some("super") {
                        segments.remove(0);
                        base.pop();
                    }
                    [base, segments].concat()
                }
            };
            if let Some(target) = resolve(&full)
                && &target != module
            {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_what_the_architecture_table_says() {
    let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in imports(&src()) {
        let Some(top) = module.first() else { continue };
        let entry = actual.entry(top.clone()).or_default();
        for target in targets {
            if let Some(other) = target.first()
                && other != top
            {
                entry.insert(other.clone());
            }
        }
    }
    let expected: BTreeMap<String, BTreeSet<String>> = LAYERS
        .iter()
        .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
        .collect();
    assert_eq!(
        actual, expected,
        "the imports between top-level modules changed: update LAYERS here and the table in docs/development.md, or undo the import"
    );
}

#[test]
fn the_layers_have_no_cycle() {
    // Each module imports only modules listed before it.
    for (i, (module, deps)) in LAYERS.iter().enumerate() {
        for dep in *deps {
            let position = LAYERS.iter().position(|(m, _)| m == dep);
            assert!(
                position.is_some_and(|p| p < i),
                "{module} imports {dep}, which is not below it"
            );
        }
    }
}

#[test]
fn no_two_files_import_each_other() {
    let graph = imports(&src());
    let mut loops = Vec::new();
    for (a, targets) in &graph {
        for b in targets {
            if a < b && graph.get(b).is_some_and(|t| t.contains(a)) {
                loops.push(format!("{} <-> {}", a.join("::"), b.join("::")));
            }
        }
    }
    assert!(loops.is_empty(), "files importing each other: {loops:?}");
}

#[test]
fn the_checker_sees_an_import_loop_and_ignores_test_code() {
    let code = "use crate::a::b;\n// use crate::c;\n#[cfg(test)]\nmod tests {\n    use crate::d;\n    fn f() { if x { } }\n}\nuse crate::e;\n";
    let kept = production_code(code);
    assert!(kept.contains("crate::a::b") && kept.contains("crate::e"));
    assert!(!kept.contains("crate::c") && !kept.contains("crate::d"));

    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("lib.rs"), "pub mod x;\npub mod y;\n").unwrap();
    fs::write(dir.path().join("x.rs"), "use crate::y::Y;\n").unwrap();
    fs::write(dir.path().join("y.rs"), "use super::x::X;\n").unwrap();
    let graph = imports(dir.path());
    let x = vec!["x".to_string()];
    let y = vec!["y".to_string()];
    assert!(graph[&x].contains(&y) && graph[&y].contains(&x));
}
