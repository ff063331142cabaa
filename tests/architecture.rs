//! The map in ARCHITECTURE.md is the rule for which module may use which: this test reads the "may use"
//! column of its table of stages and every `crate::` path in `src/` (outside comments and test modules)
//! and fails when the code and the map part ways — a module using one its row does not name, a module
//! with no row, or a cycle in the map itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules every other module may use: the failure kinds and the small helpers.
const EVERYONE_MAY_USE: &[&str] = &["error", "util"];
/// The top: argument parsing and the binary's entry, which may use anything.
const UNCONSTRAINED: &[&str] = &["cli", "main", "lib"];

type Map = BTreeMap<String, BTreeSet<String>>;

/// The "may use" column of each top-level module's row: the first path segment of every name in
/// backticks (`intake::scan` allows `intake`); words outside backticks are notes.
fn read_map(markdown: &str) -> Map {
    let mut map = Map::new();
    for line in markdown.lines().filter(|l| l.starts_with("| `src/")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | folder | job | takes → gives | may use |  →  ["", folder, job, takes, may, ""]
        if cells.len() < 6 {
            continue;
        }
        let path = cells[1].trim_matches('`').trim_start_matches("src/").trim_end_matches('/');
        let module = path.trim_end_matches(".rs");
        if module.contains('/') {
            continue; // a row for a file inside a module: the module's row rules it
        }
        let may = cells[cells.len() - 2];
        let allowed =
            may.split('`').skip(1).step_by(2).map(|name| name.split("::").next().unwrap_or(name).to_string()).collect();
        map.insert(module.to_string(), allowed);
    }
    map
}

/// The modules each file's code names through `crate::`, before its `#[cfg(test)]` module and outside
/// `//` comments.
fn uses_in(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Every top-level module of `src/` and the modules its files use.
fn read_code(src: &Path) -> Map {
    let mut map = Map::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let first = rel.components().next().expect("a component").as_os_str().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).expect("source readable");
            let uses = map.entry(module.clone()).or_default();
            uses.extend(uses_in(&text).into_iter().filter(|m| *m != module));
        }
    }
    map
}

/// What breaks the rule, one line each.
fn violations(map: &Map, code: &Map) -> Vec<String> {
    let mut out = Vec::new();
    for (module, uses) in code {
        if UNCONSTRAINED.contains(&module.as_str()) {
            continue;
        }
        let Some(allowed) = map.get(module) else {
            out.push(format!("`src/{module}` has no row in ARCHITECTURE.md's table of stages"));
            continue;
        };
        for used in uses {
            // `error` and `util` themselves keep to their rows (one may not use the other both ways).
            let implied = EVERYONE_MAY_USE.contains(&used.as_str()) && !EVERYONE_MAY_USE.contains(&module.as_str());
            if !allowed.contains(used) && !implied {
                out.push(format!(
                    "`{module}` uses `{used}`, which its row in ARCHITECTURE.md does not allow (may use: {allowed:?})"
                ));
            }
        }
    }
    out
}

/// A cycle in the map, if there is one, as the modules along it.
fn cycle(map: &Map) -> Option<Vec<String>> {
    fn visit(m: &str, map: &Map, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut c = path[at..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in map.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, map, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    map.keys().find_map(|m| visit(m, map, &mut Vec::new(), &mut done))
}

#[test]
fn the_code_keeps_to_the_map_in_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let map = read_map(&markdown);
    assert!(map.len() >= 15, "the table of stages was not found in ARCHITECTURE.md: {map:?}");
    for m in map.keys() {
        assert!(
            root.join("src").join(m).is_dir() || root.join("src").join(format!("{m}.rs")).is_file(),
            "ARCHITECTURE.md has a row for `src/{m}`, which does not exist"
        );
    }
    let code = read_code(&root.join("src"));
    let wrong = violations(&map, &code);
    assert!(wrong.is_empty(), "the code and ARCHITECTURE.md part ways:\n{}", wrong.join("\n"));
    assert_eq!(cycle(&map), None, "the map in ARCHITECTURE.md has a cycle");
}

#[test]
fn a_wrong_import_is_caught() {
    let map = read_map(
        "| `src/store/` | bytes | x → y | `profile` (settings) |\n\
         | `src/profile/` | settings | x → y | nothing |\n\
         | `src/pipeline/` | jobs | x → y | `store::blob`, `profile` |\n",
    );
    assert_eq!(map["pipeline"], BTreeSet::from(["store".to_string(), "profile".to_string()]));
    let mut code = Map::new();
    code.insert("pipeline".into(), uses_in("use crate::store::Records;\nuse crate::util::text;\n"));
    code.insert("profile".into(), uses_in("// see crate::store for who reads this\nuse crate::error::Result;\n"));
    code.insert(
        "store".into(),
        uses_in(
            "use crate::profile::Profile;\nuse crate::pipeline::Pipeline;\n#[cfg(test)]\nuse crate::pipeline::x;\n",
        ),
    );
    code.insert("watch".into(), BTreeSet::new());
    let wrong = violations(&map, &code);
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(wrong[0].starts_with("`store` uses `pipeline`"), "{wrong:?}");
    assert!(wrong[1].contains("`src/watch` has no row"), "{wrong:?}");

    let mut looped = map.clone();
    looped.get_mut("profile").expect("row").insert("pipeline".into());
    assert!(cycle(&looped).is_some());
    assert_eq!(cycle(&map), None);
}
