//! The module map, checked: every top-level module has a layer, and a module
//! imports (`crate::…`) only modules of lower layers. `state`, `startup` and
//! `cli` wire everything together and may import anything; `state` (the
//! handlers' shared context) may be imported by the job handlers and by every
//! layer from `web` up. The picture in words is in docs/DESIGN.md.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Lowest first. A new top-level module must be placed here.
const LAYERS: &[&[&str]] = &[
    // Words (message keys and catalogues): what even the error type holds.
    &["i18n"],
    &["error", "telemetry", "time", "input", "pdf"],
    &["config"],
    &["db", "fascicolo"],
    &["audit", "jobs"],
    &["registry", "notify", "tenancy", "users", "organisation"],
    // The domain: procedures, forms, workflows, cases and their files. No HTTP.
    &["procedure"],
    &["web"],
    &["auth"],
    &["catalog"],
    &["portal", "account", "cases", "backoffice", "platform"],
    // The ente admin console: over the back office (its staff sign-in).
    &["admin"],
    &["onboarding", "demo"],
];

const WIRING: &[&str] = &["state", "startup", "cli"];

/// Who may use the shared handler context.
fn may_import_state(module: &str) -> bool {
    matches!(module, "jobs" | "notify") || layer_of(module).is_some_and(|l| l >= layer_of("web").unwrap())
}

/// Modules that hold no HTTP framework (`error` does: the one error type maps
/// itself to a response).
const NO_HTTP: &[&str] = &[
    "time",
    "input",
    "pdf",
    "i18n",
    "config",
    "db",
    "audit",
    "registry",
    "tenancy",
    "users",
    "procedure",
    "fascicolo",
    "organisation",
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top_level_modules() -> BTreeSet<String> {
    std::fs::read_dir(src_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let name = name.strip_suffix(".rs").map(str::to_string).unwrap_or(name);
            (!matches!(name.as_str(), "lib" | "main" | "architecture")).then_some(name)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a source file names through `crate::`, in paths
/// (`crate::db::TenantTx`) and in grouped imports (`use crate::{db, web::…}`).
fn crate_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code = production_code(text);
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == ',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                    item.clear();
                    if depth == 0 {
                        break;
                    }
                } else if depth == 1 && c != '{' {
                    // Inside a nested group only the leading name counts.
                    item.push(c);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.insert(name);
        }
    }
    found
}

/// The file without comments and without its unit tests (a test may render a
/// domain view with the real templates).
fn production_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src_dir()).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.strip_suffix(".rs").map(str::to_string).unwrap_or(first)
}

/// module -> (imported module -> files)
fn imports() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let modules = top_level_modules();
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        if !modules.contains(&module) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for target in crate_references(&text) {
            if target != module && modules.contains(&target) {
                let rel = file.strip_prefix(src_dir()).unwrap().display().to_string();
                edges.entry(module.clone()).or_default().entry(target).or_default().insert(rel);
            }
        }
    }
    edges
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<_> =
        top_level_modules().into_iter().filter(|m| layer_of(m).is_none() && !WIRING.contains(&m.as_str())).collect();
    assert!(unplaced.is_empty(), "place these modules in src/architecture.rs LAYERS: {unplaced:?}");
}

#[test]
fn imports_point_down() {
    let mut wrong = Vec::new();
    for (module, targets) in imports() {
        if WIRING.contains(&module.as_str()) {
            continue;
        }
        let Some(from) = layer_of(&module) else { continue };
        for (target, files) in targets {
            let allowed = if target == "state" {
                may_import_state(&module)
            } else {
                layer_of(&target).is_some_and(|to| to < from)
            };
            if !allowed {
                wrong.push(format!("{module} -> {target} (in {})", files.into_iter().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that point up or sideways (see docs/DESIGN.md):\n{}", wrong.join("\n"));
}

#[test]
fn the_domain_has_no_http() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let offending: Vec<_> = files
        .iter()
        .filter(|f| NO_HTTP.contains(&module_of(f).as_str()))
        .filter(|f| {
            let text = production_code(&std::fs::read_to_string(f).unwrap());
            text.contains("axum::") || text.contains("use axum") || text.contains("AppState")
        })
        .map(|f| f.strip_prefix(src_dir()).unwrap().display().to_string())
        .collect();
    assert!(offending.is_empty(), "HTTP (axum, AppState) in a module below the web layer: {offending:?}");
}

#[test]
fn the_reference_reader_sees_grouped_imports() {
    let refs =
        crate_references("use crate::{db::TenantTx, web::{render, forms}, error};\nlet x = crate::jobs::enqueue;");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["db", "error", "jobs", "web"]);
}
