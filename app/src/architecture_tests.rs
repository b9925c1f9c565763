//! The module layering of ARCHITECTURE.md, checked: a module uses only modules listed before it,
//! so no two modules use each other, however indirectly.

use std::{collections::BTreeSet, fs, path::Path};

/// Lowest first. Keep in step with ARCHITECTURE.md.
const LAYERS: [&str; 28] = [
    "paths",
    "limits",
    "unix_time",
    "validation",
    "kept_fields",
    "notice",
    "security",
    "error",
    "display",
    "store",
    "mail",
    "password",
    "breached_passwords",
    "components",
    "state",
    "audit",
    "notify",
    "auth",
    "two_factor",
    "org",
    "security_keys",
    "recovery",
    "oidc",
    "account",
    "forward_auth",
    "maintenance",
    "settings",
    "frame",
];

/// The top-level modules a piece of source names through `crate::`, `use crate::{a, b::c}` too.
fn crate_modules(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (index, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && !c.is_whitespace() => {
                        item_start = false;
                        found.insert(identifier(&group[index..]));
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(identifier(rest));
        }
    }
    found.retain(|name| !name.is_empty() && name != "self" && name != "super");
    found
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("the source folder reads") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = fs::read_to_string(&path).expect("a source file reads");
            out.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 40, "the source tree was read");
    let mut wrong = Vec::new();
    for (path, text) in &files {
        let relative = Path::new(path).strip_prefix(&root).expect("under src");
        let module = relative
            .components()
            .next()
            .and_then(|part| part.as_os_str().to_str())
            .map(|part| part.trim_end_matches(".rs").to_owned())
            .unwrap_or_default();
        if ["lib", "architecture_tests"].contains(&module.as_str()) {
            continue;
        }
        let rank = LAYERS
            .iter()
            .position(|layer| *layer == module)
            .unwrap_or_else(|| panic!("{module} is not in LAYERS (and ARCHITECTURE.md)"));
        for used in crate_modules(text) {
            let allowed = LAYERS[..rank].contains(&used.as_str()) || used == module;
            if !allowed {
                wrong.push(format!("{} uses {used}", relative.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses against the layering:\n{}",
        wrong.join("\n")
    );
}

/// The modules besides the flows' services that may read and write the store: the session's
/// sign-in (`auth`), the audit log, mail about links (`notify`) and housekeeping.
const STORE_USERS: [&str; 5] = ["store", "auth", "audit", "notify", "maintenance"];

/// Pages and components hold UI and thin server functions; the rules, and so every query, live
/// in a flow's `service` (a `service.rs` or a `service/` folder).
#[test]
fn only_services_use_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let wrong: Vec<String> = files
        .iter()
        .filter_map(|(path, text)| {
            let relative = Path::new(path).strip_prefix(&root).expect("under src");
            let parts: Vec<&str> = relative
                .components()
                .filter_map(|part| part.as_os_str().to_str())
                .map(|part| part.trim_end_matches(".rs"))
                .collect();
            let allowed = STORE_USERS.contains(&parts[0])
                || parts.contains(&"service")
                || parts[0] == "architecture_tests";
            (!allowed && crate_modules(text).contains("store"))
                .then(|| relative.display().to_string())
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "these use the store outside a service:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn grouped_uses_are_all_seen() {
    let found = crate_modules(
        "use crate::{\n    audit::{self, X},\n    store::{self, Y},\n};\nlet _ = crate::mail::send;",
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["audit", "mail", "store"]
    );
}

#[test]
fn server_functions_redirect_only_through_the_checked_helper() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let unchecked: Vec<&str> = files
        .iter()
        .filter(|(path, text)| {
            let helper = path.ends_with("validation.rs") || path.ends_with("architecture_tests.rs");
            !helper && text.contains("leptos_axum::redirect")
        })
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(
        unchecked.is_empty(),
        "call crate::validation::redirect, which keeps a redirect on this site: {unchecked:?}"
    );
}
