//! Tidy: the architecture's "never" rules (DESIGN.md, core/src/lib.rs's "Boundaries") as a
//! test that fails with `file:line: reason`, after rust-analyzer's tidy tests. It walks every
//! Rust file of the workspace (core, lua, native, testkit, web, xtask) and checks that
//!
//! - the core library (core/src) does no I/O: no `std::{fs, net, thread, time, process,
//!   env}`, no clock (`Instant::now`, `SystemTime::now`), no mio, tokio, libc, socket2,
//!   wasm-bindgen / js-sys / web-sys, nothing from the shells;
//! - the core's layers keep to themselves: `types` (the data structures) and `resp` (the
//!   codec) use only the leaf modules `cnum`, `glob`, `rng` and `time`, which use nothing of
//!   the crate; so neither knows `command`, `keyspace`, `engine` ... nor each other;
//! - every module starts with a `//!` doc saying what it owns.
//!
//! Comments, strings and char literals are blanked before the checks, so prose may name
//! anything; `use` trees are flattened (`use std::{io, fs}` is `std::fs`) and `super::`
//! paths resolved against the module they appear in (inline `mod` blocks included). The
//! checker's own tests below feed it forbidden snippets.

use std::fmt;
use std::path::{Path, PathBuf};

/// Crates the core must not use: I/O runtimes, the wasm bindings, the shells.
const FORBIDDEN_CRATES: &[&str] = &[
    "mio",
    "tokio",
    "libc",
    "socket2",
    "signal_hook",
    "wasm_bindgen",
    "js_sys",
    "web_sys",
    "oxidis_server",
    "oxidis_wasm",
];

/// `std` modules that do I/O, spawn threads or read the clock or the environment.
const FORBIDDEN_STD: &[&str] = &["fs", "net", "thread", "time", "process", "env"];

/// Modules that use nothing of the crate.
const LEAVES: &[&str] = &["cnum", "glob", "rng", "time"];

/// Layers that may use only themselves and the leaves.
const LOW_LAYERS: &[&str] = &["types", "resp"];

#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

// ------------------------------------------------------------------ blanking

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `src` with comments, string literals (plain, byte, C, raw) and char literals replaced by
/// spaces, newlines kept, so what remains is code and line numbers still hold.
fn blank_non_code(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let after_ident = i > 0 && is_ident_char(b[i - 1]);
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if let (false, Some(len)) = (after_ident, raw_string_len(&b[i..])) {
            for &ch in &b[i..i + len] {
                blank(&mut out, ch);
            }
            i += len;
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' && i + 1 < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                blank(&mut out, b[i]);
                i += 1;
            }
            if i < b.len() {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}', '\'') or a lifetime / label ('a).
            let end = if next == Some('\\') {
                (i + 2..b.len()).find(|&j| j > i + 2 && b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for &ch in &b[i..=end] {
                        blank(&mut out, ch);
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, `br##"…"##`, `cr"…"`) starting
/// at `b[0]`, if one does.
fn raw_string_len(b: &[char]) -> Option<usize> {
    let mut i = match b {
        ['r', ..] => 1,
        ['b' | 'c', 'r', ..] => 2,
        _ => return None,
    };
    let hashes = b[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes;
    if b.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < b.len() {
        if b[i] == '"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(b.len())
}

// ------------------------------------------------------------------ tokens and paths

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokenize(code: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_ident_char(c) {
            let start = i;
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            toks.push((Tok::Ident(b[start..i].iter().collect()), line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            toks.push((Tok::PathSep, line));
            i += 2;
        } else {
            toks.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    toks
}

/// A path as written (`super::super::resp::X`), where it is, and the module it is in.
#[derive(Clone, Debug)]
struct PathUse {
    segs: Vec<String>,
    line: usize,
    module: Vec<String>,
}

impl PathUse {
    fn text(&self) -> String {
        self.segs.join("::")
    }

    /// The crate-relative module path this names (`["resp", "X"]`), if it starts with
    /// `crate`, `super` or `self`; None for everything else (extern crates, names in scope).
    fn in_crate(&self) -> Option<Vec<String>> {
        let mut segs = self.segs.iter().map(String::as_str).peekable();
        let mut base = match segs.peek() {
            Some(&"crate") => {
                segs.next();
                Vec::new()
            }
            Some(&"super") | Some(&"self") => self.module.clone(),
            _ => return None,
        };
        while let Some(&s) = segs.peek() {
            match s {
                "super" => {
                    base.pop();
                }
                "self" => {}
                _ => break,
            }
            segs.next();
        }
        base.extend(segs.map(str::to_string));
        Some(base)
    }
}

/// Every path in the code: `use` trees flattened, and paths written inline (`a::b::c`), each
/// with the module it appears in (`file_module` plus the inline `mod x { .. }` around it).
fn paths(toks: &[(Tok, usize)], file_module: &[String]) -> Vec<PathUse> {
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |i: usize, t: &Tok| toks.get(i).map(|(x, _)| x) == Some(t);
    let mut out = Vec::new();
    let mut module = file_module.to_vec();
    // Brace depth, and the depth at which each inline module opened.
    let mut depth = 0usize;
    let mut opened: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let line = toks[i].1;
        match (&toks[i].0, ident(i + 1)) {
            (Tok::Ident(kw), Some(name)) if kw == "mod" && is(i + 2, &Tok::Punct('{')) => {
                module.push(name.to_string());
                opened.push(depth);
                depth += 1;
                i += 3;
                continue;
            }
            (Tok::Punct('{'), _) => depth += 1,
            (Tok::Punct('}'), _) => {
                depth = depth.saturating_sub(1);
                if opened.last() == Some(&depth) {
                    opened.pop();
                    module.pop();
                }
            }
            (Tok::Ident(kw), _) if kw == "use" => {
                i += 1;
                let mut flat = Vec::new();
                use_tree(toks, &mut i, Vec::new(), &mut flat);
                for segs in flat {
                    out.push(PathUse {
                        segs,
                        line,
                        module: module.clone(),
                    });
                }
                continue;
            }
            (Tok::Ident(_), _) | (Tok::PathSep, _)
                if is(i + 1, &Tok::PathSep) || toks[i].0 == Tok::PathSep =>
            {
                let mut segs = Vec::new();
                if toks[i].0 == Tok::PathSep {
                    i += 1;
                }
                while let Some(s) = ident(i) {
                    segs.push(s.to_string());
                    i += 1;
                    if is(i, &Tok::PathSep) && ident(i + 1).is_some() {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if segs.len() > 1 {
                    out.push(PathUse {
                        segs,
                        line,
                        module: module.clone(),
                    });
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Flattens the use tree at `toks[*i]` (after `use`), up to its end, into `out`.
fn use_tree(toks: &[(Tok, usize)], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    if toks.get(*i).map(|t| &t.0) == Some(&Tok::PathSep) {
        *i += 1;
    }
    while let Some((t, _)) = toks.get(*i) {
        match t {
            Tok::Ident(s) => {
                if s != "self" {
                    path.push(s.clone());
                }
                *i += 1;
                match toks.get(*i).map(|t| &t.0) {
                    Some(Tok::PathSep) => *i += 1,
                    Some(Tok::Ident(a)) if a == "as" => {
                        *i += 2;
                        out.push(path);
                        return;
                    }
                    _ => {
                        out.push(path);
                        return;
                    }
                }
            }
            Tok::Punct('*') => {
                *i += 1;
                out.push(path);
                return;
            }
            Tok::Punct('{') => {
                *i += 1;
                while let Some((t, _)) = toks.get(*i) {
                    match t {
                        Tok::Punct('}') => {
                            *i += 1;
                            return;
                        }
                        Tok::Punct(',') => *i += 1,
                        _ => {
                            let before = *i;
                            use_tree(toks, i, path.clone(), out);
                            if *i == before {
                                *i += 1; // malformed: never loop
                            }
                        }
                    }
                }
                return;
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

// ------------------------------------------------------------------ the rules

/// The module path of a file under core/src (`types/set.rs` -> `["types", "set"]`).
fn core_module(rel: &str) -> Option<Vec<String>> {
    let inner = rel.strip_prefix("core/src/")?.strip_suffix(".rs")?;
    let mut segs: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
        segs.pop();
    }
    Some(segs)
}

/// Checks one file, given by its path relative to the repository root. `test_only`: the file is
/// a module its parent declares under `#[cfg(test)]` (it never runs in a host), so it may use
/// the standard library's environment, files and clock (e.g. a case-count knob); every other
/// rule holds for it too.
fn check_file(rel: &str, src: &str, test_only: bool) -> Vec<Violation> {
    let mut found = Vec::new();
    let doc = src.lines().next().unwrap_or("");
    let words = doc
        .strip_prefix("//!")
        .map_or(0, |d| d.split_whitespace().count());
    if words < 3 {
        found.push(Violation {
            file: rel.to_string(),
            line: 1,
            reason: "a module starts with a `//!` doc saying what it owns".to_string(),
        });
    }
    let Some(module) = core_module(rel) else {
        return found;
    };
    let mut flag = |line: usize, reason: String| {
        let v = Violation {
            file: rel.to_string(),
            line,
            reason,
        };
        if !found.contains(&v) {
            found.push(v);
        }
    };
    let toks = tokenize(&blank_non_code(src));
    for w in toks.windows(3) {
        if let [(Tok::Ident(e), line), (Tok::Ident(c), _), (Tok::Ident(name), _)] = w {
            if e == "extern" && c == "crate" && FORBIDDEN_CRATES.contains(&name.as_str()) {
                flag(
                    *line,
                    format!("the core does no I/O and knows no shell: `extern crate {name}`"),
                );
            }
        }
        if let [(Tok::Ident(a), line), (Tok::PathSep, _), (Tok::Ident(b), _)] = w {
            if (a == "Instant" || a == "SystemTime") && b == "now" {
                flag(
                    *line,
                    format!(
                        "the core reads no clock (`{a}::now`): time is the host's `now` argument"
                    ),
                );
            }
        }
    }
    let own = module.first().map(String::as_str).unwrap_or("");
    for p in paths(&toks, &module) {
        let first = p.segs[0].as_str();
        if FORBIDDEN_CRATES.contains(&first) {
            flag(
                p.line,
                format!("the core does no I/O and knows no shell: `{}`", p.text()),
            );
        }
        if !test_only
            && first == "std"
            && p.segs.len() > 1
            && FORBIDDEN_STD.contains(&p.segs[1].as_str())
        {
            flag(
                p.line,
                format!(
                    "the core does no I/O (no files, sockets, threads, clock, process or environment): `{}`",
                    p.text()
                ),
            );
        }
        let Some(target) = p.in_crate() else {
            continue;
        };
        let Some(top) = target.first().map(String::as_str) else {
            continue;
        };
        if top == own {
            continue;
        }
        // The path as written, and where it leads when that is not plain to see.
        let resolved = format!("crate::{}", target.join("::"));
        let shown = if p.text() == resolved {
            format!("`{resolved}`")
        } else {
            format!("`{}` ({resolved})", p.text())
        };
        if LEAVES.contains(&own) {
            flag(
                p.line,
                format!("`{own}` is a leaf: it uses nothing of the crate, not {shown}"),
            );
        } else if LOW_LAYERS.contains(&own) && !LEAVES.contains(&top) {
            flag(
                p.line,
                format!(
                    "`{own}` may use only the leaf modules ({}), not {shown}",
                    LEAVES.join(", ")
                ),
            );
        }
    }
    found
}

/// Whether the core file `rel` is a module its parent declares `#[cfg(test)] mod name;`.
fn declared_test_only(root: &Path, rel: &str) -> bool {
    let Some(module) = core_module(rel) else {
        return false;
    };
    let Some((name, parent)) = module.split_last() else {
        return false;
    };
    let dir = root.join("core/src").join(parent.join("/"));
    let candidates = if parent.is_empty() {
        vec![root.join("core/src/lib.rs")]
    } else {
        vec![dir.with_extension("rs"), dir.join("mod.rs")]
    };
    candidates.iter().any(|f| {
        let Ok(src) = std::fs::read_to_string(f) else {
            return false;
        };
        let code = blank_non_code(&src);
        let lines: Vec<&str> = code.lines().map(str::trim).collect();
        lines.windows(2).any(|w| {
            let decl = w[1]
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ");
            w[0] == "#[cfg(test)]" && decl == format!("mod {name};")
        })
    })
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

/// Every .rs file under `dir`, skipping build output and dependencies.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_tree_is_tidy() {
    let root = repo_root();
    let mut files = Vec::new();
    for crate_dir in ["core", "lua", "native", "web", "xtask", "testkit"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 50 && files.iter().any(|f| f.ends_with("core/src/lib.rs")),
        "the walk found too little: {files:?}"
    );
    let mut violations = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let src = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{rel}: {e}"));
        violations.extend(check_file(&rel, &src, declared_test_only(&root, &rel)));
    }
    let report: Vec<String> = violations.iter().map(Violation::to_string).collect();
    assert!(
        report.is_empty(),
        "{} tidy violation(s) in {} files:\n{}",
        report.len(),
        files.len(),
        report.join("\n")
    );
}

// ------------------------------------------------------------------ the checker's own tests

mod checker {
    use super::*;

    const DOC: &str = "//! A module that says what it owns.\n";

    fn check(rel: &str, code: &str) -> Vec<String> {
        check_file(rel, &format!("{DOC}{code}"), false)
            .iter()
            .map(Violation::to_string)
            .collect()
    }

    #[test]
    fn a_test_only_module_may_read_the_environment_but_keeps_the_other_rules() {
        let code = format!("{DOC}fn n() -> String {{ std::env::var(\"N\").unwrap() }}\n");
        assert_eq!(check_file("core/src/resp/props.rs", &code, false).len(), 1);
        assert!(check_file("core/src/resp/props.rs", &code, true).is_empty());
        let up = format!("{DOC}use crate::command::Ctx;\n");
        assert_eq!(check_file("core/src/resp/props.rs", &up, true).len(), 1);
        // The real tree: the decoder's property tests are declared under #[cfg(test)].
        let root = repo_root();
        assert!(declared_test_only(&root, "core/src/resp/request/props.rs"));
        assert!(declared_test_only(&root, "core/src/testing.rs"));
        assert!(!declared_test_only(&root, "core/src/resp/request.rs"));
    }

    #[test]
    fn io_in_the_core_fails_with_file_and_line() {
        let v = check("core/src/engine.rs", "use std::fs;\n");
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with("core/src/engine.rs:2: the core does no I/O"),
            "{v:?}"
        );
        assert!(v[0].ends_with("`std::fs`"), "{v:?}");
        for code in [
            "use std::{collections::HashMap, net::TcpStream};",
            "use ::std::thread;",
            "fn f() { std::thread::sleep(d) }",
            "use std::time::{Duration, Instant};",
            "let t = Instant::now();",
            "let t = SystemTime :: now();",
            "use mio::Poll;",
            "use wasm_bindgen::prelude::*;",
            "use std::env::var as v;",
            "fn f() -> tokio::task::JoinHandle<()> {}",
            "use oxidis_server::x;",
            "extern crate mio;",
        ] {
            assert!(
                !check("core/src/command/keys.rs", code).is_empty(),
                "{code} passed"
            );
        }
    }

    #[test]
    fn comments_strings_and_chars_are_not_code() {
        let code = r####"
// use std::fs;
/* std::net::TcpStream /* nested */ std::thread::spawn */
/// Calls `Instant::now()` in docs only.
fn f<'a>(x: &'a str) -> &'a str {
    let _ = "use std::fs; \" still a string std::net";
    let _ = b"std::thread";
    let _ = r#"std::time "quoted" mio::Poll"#;
    let _ = br##"crate::resp::x"# still"##;
    let _ = ('"', '\'', '\\', '\u{1F600}', 'x');
    'outer: loop { break 'outer; }
    x
}
"####;
        assert_eq!(
            check("core/src/resp/request.rs", code),
            Vec::<String>::new()
        );
        // ... while the same text as code fails, on the right line.
        let v = check(
            "core/src/resp/request.rs",
            "let s = 'x';\nlet d = std::time::Duration::ZERO;\n",
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("core/src/resp/request.rs:3:"), "{v:?}");
    }

    #[test]
    fn layers_fail_when_they_reach_up() {
        let bad = [
            ("core/src/types/set.rs", "use crate::resp::parse_i64;"),
            (
                "core/src/types/mod.rs",
                "fn f() { crate::resp::parse_i64(b) }",
            ),
            ("core/src/types/set.rs", "use crate::keyspace::Dict;"),
            ("core/src/types/set.rs", "use super::super::command::Ctx;"),
            ("core/src/types/mod.rs", "use super::resp;"),
            (
                "core/src/types/set.rs",
                "use crate::{cnum::parse_i64, command::CmdError};",
            ),
            ("core/src/resp/reply.rs", "use crate::command::CmdError;"),
            (
                "core/src/resp/mod.rs",
                "pub(crate) use crate::keyspace::Db;",
            ),
            (
                "core/src/resp/reply.rs",
                "mod tests { use super::super::super::engine::Engine; }",
            ),
            ("core/src/cnum.rs", "use crate::types::Value;"),
            ("core/src/rng.rs", "use super::time::UnixMillis;"),
        ];
        for (file, code) in bad {
            let v = check(file, code);
            assert_eq!(v.len(), 1, "{file}: {code} gave {v:?}");
            assert!(v[0].starts_with(&format!("{file}:2: `")), "{v:?}");
        }
        let good = [
            (
                "core/src/types/set.rs",
                "use super::CompactBytes;\nuse super::dict::Dict;",
            ),
            (
                "core/src/types/set.rs",
                "use crate::cnum::parse_i64;\nuse crate::rng::Rng;",
            ),
            (
                "core/src/types/set.rs",
                "mod tests { use super::*; use super::super::Value; }",
            ),
            (
                "core/src/resp/render.rs",
                "use super::annotate::{annotate, Kind};",
            ),
            ("core/src/cnum.rs", "mod tests { use super::*; }"),
            (
                "core/src/keyspace/mod.rs",
                "use crate::types::{CompactBytes, Dict, Value};",
            ),
            (
                "core/src/command/mod.rs",
                "use crate::resp::ReplyWriter;\nuse crate::keyspace::Db;",
            ),
            (
                "core/src/lib.rs",
                "pub use resp::Reply;\npub use keyspace::Db;",
            ),
            (
                "native/src/server.rs",
                "use std::net::TcpStream;\nuse mio::Poll;",
            ),
            ("core/tests/golden.rs", "use std::fs;"),
        ];
        for (file, code) in good {
            assert_eq!(check(file, code), Vec::<String>::new(), "{file}: {code}");
        }
    }

    #[test]
    fn a_module_without_its_doc_fails() {
        let v: Vec<String> = check_file("native/src/conn.rs", "use std::net::TcpStream;\n", false)
            .iter()
            .map(Violation::to_string)
            .collect();
        assert_eq!(
            v,
            ["native/src/conn.rs:1: a module starts with a `//!` doc saying what it owns"]
        );
        assert_eq!(
            check_file("xtask/src/x.rs", "//!\nfn f() {}\n", false).len(),
            1
        );
        assert_eq!(
            check_file("xtask/src/x.rs", "/// An item doc.\nfn f() {}\n", false).len(),
            1
        );
        assert!(check_file("xtask/src/x.rs", "//! The x task: what it owns.\n", false).is_empty());
    }
}
