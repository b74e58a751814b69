//! The shape of the crate: every module imports only from the layers below it
//! (`src/lib.rs` and `docs/architecture.md` list them). Fails on an import that runs upward,
//! naming the file, the line and both layers.

use std::path::{Path, PathBuf};

/// The layers, bottom first; modules of one layer may use each other.
const LAYERS: &[&[&str]] = &[
    &["error", "backend", "util"],
    &["data"],
    &["resize"],
    &["image"],
    &["metrics"],
    &["model"],
    &["defense"],
    &["attack"],
    &["scaling"],
    &["experiment"],
    &["web"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::NAME` references in code (comments and doc comments skipped) before the file's
/// `#[cfg(test)]` section, with their line numbers.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") || code.starts_with("#[cfg(all(test") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = code.split("//").next().unwrap_or("");
        for (pos, _) in code.match_indices("crate::") {
            let name: String = code[pos + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.push((i + 1, name));
        }
    }
    out
}

#[test]
fn imports_only_run_downward() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    let mut upward = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "bin" || top == "lib" {
            continue; // front ends may use every layer
        }
        let own = rank(&top).unwrap_or_else(|| panic!("src/{} is in no layer: add `{top}` to LAYERS", rel.display()));
        let text = std::fs::read_to_string(f).unwrap();
        for (line, name) in crate_refs(&text) {
            checked += 1;
            match rank(&name) {
                Some(r) if r > own => upward.push(format!("src/{}:{line}: {top} (layer {own}) uses crate::{name} (layer {r})", rel.display())),
                Some(_) => {}
                None => upward.push(format!("src/{}:{line}: crate::{name} is in no layer", rel.display())),
            }
        }
    }
    assert!(checked > 100, "only {checked} imports found: is the scan broken?");
    assert!(upward.is_empty(), "imports that run upward:\n{}", upward.join("\n"));
}

#[test]
fn the_scan_sees_upward_imports() {
    let text = "use crate::model::Segmenter;\n// crate::web in a comment\nfn f() { crate::attack::pgd(); } // crate::x\n#[cfg(test)]\nuse crate::experiment;\n";
    let refs: Vec<String> = crate_refs(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(refs, ["model", "attack"]);
    assert!(rank("attack") > rank("model"));
}
