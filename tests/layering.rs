//! The layering rule of `src/lib.rs`, checked: imports between top-level
//! modules only go down the layers its module doc draws (or stay within
//! one), never form a cycle, and never lead from the query path to what
//! builds or operates it.
//!
//! The diagram is read from `src/lib.rs` itself, so the rule and its
//! picture cannot drift apart; the imports are every `crate::` path (and
//! `super::` path reaching the crate root) in `src/`, outside test modules,
//! which may build fixtures with any layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rule as drawn in `src/lib.rs`.
struct Rule {
    layer: BTreeMap<String, usize>,
    query_path: BTreeSet<String>,
    never_on_query_path: BTreeSet<String>,
}

/// One import of module `to` by a file of module `from`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    from: String,
    to: String,
    file: String,
    line: usize,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn words_after<'a>(line: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = line.trim_start_matches("//!").trim().strip_prefix(prefix)?;
    // Module names come first; two spaces start the description.
    let names = rest.trim_start().split("  ").next().unwrap_or("");
    Some(names.split_whitespace().collect())
}

fn read_rule(lib: &str) -> Rule {
    let mut rule = Rule {
        layer: BTreeMap::new(),
        query_path: BTreeSet::new(),
        never_on_query_path: BTreeSet::new(),
    };
    for line in lib.lines().filter(|l| l.starts_with("//!")) {
        let text = line.trim_start_matches("//!").trim();
        if let Some(rest) = text.strip_prefix("layer ") {
            let (number, _) = rest.split_once(':').expect("layer N: modules");
            let number: usize = number.trim().parse().expect("a layer number");
            for name in words_after(line, &format!("layer {number}:")).unwrap() {
                let before = rule.layer.insert(name.to_string(), number);
                assert!(before.is_none(), "{name} is drawn in two layers");
            }
        } else if let Some(names) = words_after(line, "query path:") {
            rule.query_path = names.into_iter().map(String::from).collect();
        } else if let Some(names) = words_after(line, "never on the query path:") {
            rule.never_on_query_path = names.into_iter().map(String::from).collect();
        }
    }
    assert!(!rule.layer.is_empty(), "src/lib.rs draws no layers");
    assert!(
        !rule.query_path.is_empty(),
        "src/lib.rs names no query path"
    );
    rule
}

/// The top-level modules `src/lib.rs` declares.
fn declared_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|rest| rest.trim_end_matches(';').trim().to_string())
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

/// The code of a file that counts: without the trailing test module and
/// without comments.
fn production_code(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut previous_cfg_test = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if previous_cfg_test && trimmed.starts_with("mod tests") {
            break;
        }
        previous_cfg_test = trimmed == "#[cfg(test)]";
        let code = line.split("//").next().unwrap_or("");
        lines.push((i + 1, code.to_string()));
    }
    lines
}

/// The top-level modules named by `crate::` paths (including `crate::{a,
/// b::c}` groups) and by `super::` chains that climb to the crate root.
fn imports_in(code: &str, depth: usize) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for part in inner.split(',') {
                let name = ident(part.trim());
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            found.insert(ident(after));
        }
        rest = after;
    }
    // `super::` from a file `depth` modules below the root.
    let climb = "super::".repeat(depth);
    if depth > 0 {
        let mut rest = code;
        while let Some(at) = rest.find(&climb) {
            let after = &rest[at + climb.len()..];
            if !after.starts_with("super::") {
                found.insert(ident(after));
            }
            rest = after;
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

/// Every import between top-level modules in the files under `root`
/// (`src/` and its subdirectories; binaries and test-only files left out).
fn imports(root: &Path, extra: &[(&str, &str)]) -> Vec<Import> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.extend(extra.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    let mut out = Vec::new();
    for (rel, text) in files {
        if rel == "lib.rs" || rel.ends_with("/tests.rs") {
            continue;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        let from = parts[0].trim_end_matches(".rs").to_string();
        // src/a.rs and src/a/mod.rs are one below the root; src/a/b.rs two.
        let file_name = *parts.last().unwrap();
        let depth = parts.len() - usize::from(file_name == "mod.rs");
        for (line, code) in production_code(&text) {
            for to in imports_in(&code, depth) {
                if to != from {
                    out.push(Import {
                        from: from.clone(),
                        to,
                        file: format!("src/{rel}"),
                        line,
                    });
                }
            }
        }
    }
    out.sort();
    out
}

/// Every way the imports break the rule, as messages.
fn violations(rule: &Rule, declared: &BTreeSet<String>, imports: &[Import]) -> Vec<String> {
    let mut problems = Vec::new();
    let drawn: BTreeSet<String> = rule.layer.keys().cloned().collect();
    for m in declared.difference(&drawn) {
        problems.push(format!(
            "module {m} is declared in src/lib.rs but drawn in no layer"
        ));
    }
    for m in drawn.difference(declared) {
        problems.push(format!(
            "layer diagram names {m}, which src/lib.rs does not declare"
        ));
    }
    for i in imports {
        let (Some(&from), Some(&to)) = (rule.layer.get(&i.from), rule.layer.get(&i.to)) else {
            continue;
        };
        if to > from {
            problems.push(format!(
                "{}:{}: upward import: {} (layer {from}) uses {} (layer {to})",
                i.file, i.line, i.from, i.to
            ));
        }
        if rule.query_path.contains(&i.from) && rule.never_on_query_path.contains(&i.to) {
            problems.push(format!(
                "{}:{}: the query path's {} imports {}",
                i.file, i.line, i.from, i.to
            ));
        }
    }
    // Cycles between top-level modules (possible within one layer).
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for i in imports {
        graph.entry(&i.from).or_default().insert(&i.to);
    }
    for start in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, start) {
            problems.push(format!("import cycle: {}", cycle.join(" → ")));
            break;
        }
    }
    problems
}

fn cycle_from<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    start: &'a str,
) -> Option<Vec<&'a str>> {
    let mut path = vec![start];
    let mut next = vec![graph.get(start)?.iter()];
    while let Some(edges) = next.last_mut() {
        match edges.next() {
            Some(&to) if to == start => {
                path.push(to);
                return Some(path);
            }
            Some(&to) if !path.contains(&to) => {
                path.push(to);
                next.push(graph.get(to).map(|e| e.iter()).unwrap_or_default());
            }
            Some(_) => {}
            None => {
                next.pop();
                path.pop();
            }
        }
    }
    None
}

fn check(extra: &[(&str, &str)]) -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let rule = read_rule(&lib);
    violations(&rule, &declared_modules(&lib), &imports(&src(), extra))
}

#[test]
fn imports_only_go_down_the_layers_of_lib_rs() {
    let problems = check(&[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check is not vacuous: an upward import, one from the query path to
/// the compile stage, and a cycle inside a layer are each caught.
#[test]
fn the_check_catches_upward_imports_and_cycles() {
    let problems = check(&[("zone/fixture.rs", "use crate::compile::build::Built;\n")]);
    assert!(
        problems.iter().any(|p| p.contains(
            "src/zone/fixture.rs:1: upward import: zone (layer 2) uses compile (layer 5)"
        )),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("the query path's zone imports compile")),
        "{problems:#?}"
    );
    let problems = check(&[(
        "geo/fixture.rs",
        "fn f() { super::super::policy::select(); }\n",
    )]);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("import cycle: ") && p.contains("geo") && p.contains("policy")),
        "{problems:#?}"
    );
    // Test modules may use any layer.
    let problems = check(&[(
        "zone/fixture.rs",
        "fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::compile;\n}\n",
    )]);
    assert!(problems.is_empty(), "{problems:#?}");
}
