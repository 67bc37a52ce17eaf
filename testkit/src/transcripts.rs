//! The golden transcripts on disk: the one walk of `testdata/golden` that every runner uses
//! (core's engine test, the TCP driver in xtask and native's tests, and — through the
//! `GOLDEN_FILES` list xtask hands to node — the wasm package's test).
//!
//! Only `std`: core's integration test includes this file by path, because core cannot depend
//! on this crate (which depends on core).

use std::path::{Path, PathBuf};

/// `testdata/golden` of the repository this file was compiled from.
pub fn golden_dir() -> PathBuf {
    // Every crate of the workspace sits one level below the repository root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/golden")
}

/// Every `*.resp` file below `root`, as (its path relative to `root`, its full path), in
/// path order, those whose relative path contains `filter` only ("" keeps all).
pub fn transcripts(root: &Path, filter: &str) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "resp") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| (f.strip_prefix(root).unwrap_or(&f).display().to_string(), f))
        .filter(|(name, _)| name.contains(filter))
        .collect()
}
