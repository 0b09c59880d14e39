//! The module layering of `../shared/STYLE.md` §2, enforced: each module may use only the
//! modules its row allows, so data keeps flowing one way (CLI → commands → engines → storage).

use std::collections::BTreeMap;
use std::path::Path;

/// module → the crate modules it may use.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("main", &["cli", "commands", "context", "output"][..]),
        (
            "commands",
            &[
                "cli", "context", "output", "config", "image", "registry", "build", "runtime",
                "compose", "kube", "storage", "oci", "util", "userns", "env", "systemd",
            ][..],
        ),
        ("cli", &[][..]),
        ("output", &[][..]),
        ("env", &[][..]),
        ("config", &["util", "env"][..]),
        ("context", &["config", "output"][..]),
        (
            "build",
            &[
                "dockerfile",
                "runtime",
                "registry",
                "image",
                "storage",
                "oci",
                "util",
            ][..],
        ),
        ("image", &["storage", "oci", "util"][..]),
        ("registry", &["storage", "oci", "util", "config"][..]),
        ("runtime", &["storage", "userns", "oci", "util"][..]),
        ("storage", &["oci", "util"][..]),
        ("userns", &["util"][..]),
        ("oci", &[][..]),
        ("dockerfile", &[][..]),
        ("util", &[][..]),
        ("compose", &["oci"][..]),
        ("kube", &["oci"][..]),
        ("systemd", &[][..]),
    ])
}

/// The crate modules a source file names, through `crate::x` paths and `use crate::{x, …}`.
fn used_modules(text: &str) -> Vec<String> {
    let mut used = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                used.push(name);
            }
        } else {
            used.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    used.retain(|name| !name.is_empty());
    used
}

fn module_of(path: &Path, src: &Path) -> String {
    let relative = path.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn modules_use_only_what_their_layer_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules = allowed();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let module = module_of(&file, &src);
        if module == "lib" {
            continue;
        }
        let Some(allowed) = rules.get(module.as_str()) else {
            violations.push(format!(
                "{} is in module `{module}`, which has no row in the layering table",
                file.display()
            ));
            continue;
        };
        let text = fs_err::read_to_string(&file).unwrap();
        for used in used_modules(&text) {
            if used != module && !allowed.contains(&used.as_str()) {
                violations.push(format!(
                    "{} uses `crate::{used}`; {module} may use {}",
                    file.strip_prefix(&src).unwrap().display(),
                    if allowed.is_empty() {
                        "nothing of ours".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn only_the_allowed_modules_contain_unsafe() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let text = fs_err::read_to_string(&file).unwrap();
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if text.contains("allow(unsafe_code)") {
            assert!(
                relative == "userns.rs" || relative.starts_with("runtime/"),
                "{relative} allows unsafe code; only userns.rs and runtime/ may"
            );
        }
    }
}
