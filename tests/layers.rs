//! The layer rule of ARCHITECTURE.md, checked on the source: a module names only modules of a
//! lower layer (so imports point one way and there is no cycle), SQL is written only in
//! `src/store/`, and apalis is named only in `src/queue/`.
//!
//! It reads the code as text: every `crate::<module>` path in a file under `src/<module>…` is an
//! edge. Comments are skipped, so a doc comment may still mention a higher layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module and its layer, lowest first. A module may name modules of a strictly
/// lower layer only (and its own submodules).
const LAYERS: &[(&str, u8)] = &[
    ("ids", 0),
    ("config", 0),
    ("lock", 0),
    ("metrics", 0),
    ("store", 1),
    ("github", 2),
    ("slack", 2),
    ("apply", 3),
    ("survey", 3),
    ("sync", 3),
    ("export", 3),
    ("queue", 4),
    ("web", 5),
    ("app", 6),
    ("replay", 6),
    ("telemetry", 6),
];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/<module>.rs` or `src/<module>/…` → module; `lib.rs` and `main.rs` are the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// The file's lines without `//` comments (doc comments included).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let code = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// Every `crate::<name>` in `code`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        // `mergecast_crate::` or an identifier ending in `crate` is not a crate path.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

fn sources() -> (PathBuf, Vec<(PathBuf, String)>) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let read = files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).expect("read source");
            (f, text)
        })
        .collect();
    (src, read)
}

#[test]
fn every_module_has_a_layer() {
    let (src, files) = sources();
    for (file, _) in &files {
        if let Some(module) = module_of(&src, file) {
            assert!(
                layer_of(&module).is_some(),
                "{} is in no layer: add `{module}` to LAYERS here and to ARCHITECTURE.md",
                file.display()
            );
        }
    }
}

#[test]
fn imports_point_down_only() {
    let (src, files) = sources();
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, text) in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for (line_no, code) in code_lines(text) {
            for named in crate_paths(code) {
                if named == module {
                    continue;
                }
                match layer_of(&named) {
                    Some(theirs) if theirs < own => {}
                    _ => upward
                        .entry(format!("{module} -> {named}"))
                        .or_default()
                        .push(format!(
                            "{}:{line_no}",
                            file.strip_prefix(&src).unwrap_or(file).display()
                        )),
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not point to a lower layer: {upward:#?}"
    );
}

#[test]
fn sql_is_written_only_in_store() {
    let (src, files) = sources();
    let markers = [
        "sqlx::query",
        "query_as(",
        "query_as::<",
        "query_scalar(",
        "query_scalar::<",
        "QueryBuilder",
        "raw_sql(",
    ];
    let mut outside = Vec::new();
    for (file, text) in &files {
        if module_of(&src, file).as_deref() == Some("store") {
            continue;
        }
        for (line_no, code) in code_lines(text) {
            if markers.iter().any(|m| code.contains(m)) {
                outside.push(format!("{}:{line_no}: {}", file.display(), code.trim()));
            }
        }
    }
    assert!(outside.is_empty(), "SQL outside src/store: {outside:#?}");
}

#[test]
fn only_the_queue_knows_apalis() {
    let (src, files) = sources();
    let mut outside = Vec::new();
    for (file, text) in &files {
        if module_of(&src, file).as_deref() == Some("queue") {
            continue;
        }
        for (line_no, code) in code_lines(text) {
            if code.contains("apalis") {
                outside.push(format!("{}:{line_no}", file.display()));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "apalis named outside src/queue: {outside:?}"
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    assert_eq!(
        crate_paths("use crate::web::AppState; let x = crate::store::ping(&p);"),
        vec!["web", "store"]
    );
    assert!(crate_paths("my_crate::web").is_empty());
    let lines: Vec<_> = code_lines("//! names crate::web\nuse crate::store; // crate::web\n")
        .map(|(_, l)| l.trim().to_owned())
        .collect();
    assert_eq!(lines, vec!["use crate::store;"]);
}
