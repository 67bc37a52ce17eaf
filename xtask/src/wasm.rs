//! `cargo xtask wasm`: builds the npm package (web/pkg), and the test suite that runs it in Node
//! and headless Chromium. `cargo xtask bench-wasm`: web/bench.mjs.
//!
//! The package is: the release-wasm build of oxidis-wasm, wasm-bindgen's `--target web` glue, the
//! hand-written API in web/js (JS + index.d.ts), web/README.md and a package.json.
//!
//! wasm-bindgen: the CLI of the exact version in Cargo.lock (installed with `cargo install`
//! when `wasm-bindgen --version` differs), rather than the `wasm-bindgen-cli-support` crate as
//! a library of xtask. The library would keep the version in the lock by itself, but it brings
//! ~150 crates (walrus, ...) into xtask: every `cargo xtask` build, `clippy --all-targets` and
//! `cargo test --workspace` would compile them on a 2-core machine, for a step only this task
//! needs. The CLI is installed once (2-4 minutes) and kept; the version check makes reruns free.

use crate::setup::which;
use crate::suite::{run_status, run_streaming, Suite};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The package's files that are copied from web/js as they are.
const JS_FILES: &[&str] = &[
    "index.js",
    "engine.js",
    "redis.js",
    "replication.js",
    "cluster.js",
    "index.d.ts",
];

fn web_dir() -> PathBuf {
    crate::repo_root().join("web")
}

pub fn pkg_dir() -> PathBuf {
    web_dir().join("pkg")
}

/// The wasm-bindgen version pinned in Cargo.lock.
pub fn locked_wasm_bindgen_version(lock: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"wasm-bindgen\"" {
            let v = lines.next()?.trim();
            return v
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string);
        }
    }
    None
}

fn installed_version(prog: &Path) -> Option<String> {
    let out = Command::new(prog).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "wasm-bindgen 0.2.130"
    text.split_whitespace().nth(1).map(str::to_string)
}

/// The wasm-bindgen CLI of `version`, installing it if needed.
fn ensure_wasm_bindgen(version: &str) -> Result<PathBuf, String> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin/wasm-bindgen"));
    let found = which("wasm-bindgen").or(cargo_bin.filter(|p| p.exists()));
    if let Some(p) = &found {
        if installed_version(p).as_deref() == Some(version) {
            return Ok(p.clone());
        }
    }
    println!("    installing wasm-bindgen-cli {version} (cargo install, a few minutes, once)");
    // Without --locked: with it a pinned transitive crate is missing from the registry.
    let mut cmd = Command::new(crate::cargo());
    cmd.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        version,
        "--force",
    ]);
    run_status(cmd)?;
    let p = which("wasm-bindgen")
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/wasm-bindgen"))
        })
        .ok_or("wasm-bindgen not found after cargo install")?;
    match installed_version(&p) {
        Some(v) if v == version => Ok(p),
        v => Err(format!("{} is {v:?}, expected {version}", p.display())),
    }
}

fn ensure_target() -> Result<(), String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains(crate::setup::WASM_TARGET) => Ok(()),
        Ok(_) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["target", "add", crate::setup::WASM_TARGET]);
            run_status(cmd)
        }
        // No rustup: the toolchain may have the target anyway; cargo will say if not.
        Err(_) => Ok(()),
    }
}

/// Sizes of the package's .wasm: (raw, gzip -9).
pub fn wasm_sizes() -> Result<(u64, u64), String> {
    let wasm = pkg_dir().join("oxidis_wasm_bg.wasm");
    let raw = std::fs::metadata(&wasm)
        .map_err(|e| format!("{}: {e}", wasm.display()))?
        .len();
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&wasm)
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    Ok((raw, out.stdout.len() as u64))
}

/// The glue's `performance.now` import without wasm-bindgen's `wrapError` (which a
/// panic=unwind build puts around every import that may throw, for Node 20's missing JSTag):
/// the engine reads that clock at the end of every command, and the wrapper (an `apply` over
/// `arguments` in a try) cost more than the read. `performance.now()` does not throw. A glue
/// of another shape is left as it is (only slower), with a warning.
fn unwrap_clock_import(glue: &Path) -> Result<(), String> {
    const WRAPPED: &str = "return wrapError(function () {
            const ret = performance.now();
            return ret;
        }, arguments); }";
    let js = std::fs::read_to_string(glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    if js.matches(WRAPPED).count() != 1 {
        println!(
            "    note: the glue's performance.now import is not in the expected form; left wrapped"
        );
        return Ok(());
    }
    std::fs::write(glue, js.replace(WRAPPED, "return performance.now(); }"))
        .map_err(|e| format!("{}: {e}", glue.display()))
}

/// Builds web/pkg.
pub fn build() -> Result<(), String> {
    ensure_target()?;
    let lock = std::fs::read_to_string(crate::repo_root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let version = locked_wasm_bindgen_version(&lock).ok_or("no wasm-bindgen in Cargo.lock")?;
    let bindgen = ensure_wasm_bindgen(&version)?;

    let mut cmd = crate::cargo_cmd();
    cmd.args([
        "build",
        "--profile",
        "release-wasm",
        "--target",
        crate::setup::WASM_TARGET,
        "-p",
        "oxidis-wasm",
    ]);
    run_status(cmd)?;
    let wasm = crate::target_dir()
        .join(crate::setup::WASM_TARGET)
        .join("release-wasm/oxidis_wasm.wasm");

    let pkg = pkg_dir();
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::create_dir_all(&pkg).map_err(|e| format!("{}: {e}", pkg.display()))?;
    let mut cmd = Command::new(&bindgen);
    cmd.args([
        "--target",
        "web",
        "--remove-name-section",
        "--out-name",
        "oxidis_wasm",
        "--out-dir",
    ])
    .arg(&pkg)
    .arg(&wasm);
    run_status(cmd)?;
    unwrap_clock_import(&pkg.join("oxidis_wasm.js"))?;

    let js = web_dir().join("js");
    for f in JS_FILES {
        std::fs::copy(js.join(f), pkg.join(f)).map_err(|e| format!("copy {f}: {e}"))?;
    }
    std::fs::copy(web_dir().join("README.md"), pkg.join("README.md"))
        .map_err(|e| format!("copy README.md: {e}"))?;
    let manifest = std::fs::read_to_string(js.join("package.json"))
        .map_err(|e| format!("web/js/package.json: {e}"))?
        .replace(
            "\"0.0.0-workspace\"",
            &format!("\"{}\"", env!("CARGO_PKG_VERSION")),
        );
    std::fs::write(pkg.join("package.json"), manifest).map_err(|e| e.to_string())?;
    let (raw, gz) = wasm_sizes()?;
    println!(
        "web/pkg built: oxidis_wasm_bg.wasm {raw} bytes, {gz} bytes gzipped (wasm-bindgen {version})"
    );
    Ok(())
}

pub fn cli(_args: &[String]) -> ExitCode {
    match build() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask wasm: {e}");
            ExitCode::FAILURE
        }
    }
}

/// npm packages for the tests and the benchmark, into web/node_modules (from the committed
/// package-lock.json), plus the `oxidis` link so tests import the package by name.
fn ensure_node_modules() -> Result<(), String> {
    let web = web_dir();
    crate::setup::npm_ci(&web)?;
    let link = web.join("node_modules/oxidis");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("../pkg", &link)
            .map_err(|e| format!("{}: {e}", link.display()))?;
    }
    Ok(())
}

/// Counts node's test runner summary ("ℹ pass 12" with the spec reporter, "# pass 12" with tap).
#[derive(Default, Debug, PartialEq)]
pub struct NodeCounts {
    pub passed: usize,
    pub failed: usize,
    /// Tests node skipped ("ℹ skipped 1"), each named with its reason ("﹣ name # reason"):
    /// shown in the suite's output, never counted as passed.
    pub skipped: usize,
    pub skips: Vec<String>,
    pub failures: Vec<String>,
}

impl NodeCounts {
    pub fn line(&mut self, line: &str) {
        let t = line.trim_start();
        let t = t
            .strip_prefix("ℹ ")
            .or_else(|| t.strip_prefix("# "))
            .unwrap_or("");
        if let Some(n) = t
            .strip_prefix("pass ")
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            self.passed += n;
        } else if let Some(n) = t
            .strip_prefix("fail ")
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            self.failed += n;
        } else if let Some(n) = t
            .strip_prefix("skipped ")
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            self.skipped += n;
        } else if let Some(name) = line.trim_start().strip_prefix("﹣ ") {
            self.skips.push(name.to_string());
        } else if let Some(name) = line.trim_start().strip_prefix("✖ ") {
            if !name.starts_with("failing tests") && !self.failures.iter().any(|f| f == name) {
                self.failures.push(name.to_string());
            }
        }
    }
}

/// The suite: build the package, install what the tests need, run `node --test web/tests`.
pub fn suite(_: &mut crate::test_all::Ctx, name: &str) -> Suite {
    if let Err(e) = build() {
        return Suite::error(name, format!("building web/pkg: {e}"));
    }
    let mut s = Suite::new(name);
    if let Ok((raw, gz)) = wasm_sizes() {
        s.info
            .push(format!("oxidis_wasm_bg.wasm: {raw} bytes, {gz} gzipped"));
    }
    if let Err(e) = ensure_node_modules() {
        return Suite::error(name, format!("npm: {e}"));
    }
    let mut cmd = Command::new("node");
    cmd.current_dir(web_dir())
        .env("GOLDEN_FILES", golden_files());
    run_node_tests(&mut s, cmd);
    s
}

/// The golden transcripts for web/tests/golden.test.mjs: testkit's walk of testdata/golden,
/// one relative path per line.
fn golden_files() -> String {
    let all =
        oxidis_testkit::transcripts::transcripts(&oxidis_testkit::transcripts::golden_dir(), "");
    all.into_iter()
        .map(|(name, _)| name)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `node --test tests/` with `cmd`'s directory and environment, counting each test into
/// `s`; a failing run with no failing test, or a run with no test, is a failure too.
pub fn run_node_tests(s: &mut Suite, mut cmd: Command) {
    cmd.args(["--test", "--test-reporter=spec", "tests/"]);
    let mut counts = NodeCounts::default();
    let status = run_streaming(cmd, |l| counts.line(l));
    s.passed += counts.passed;
    s.failed += counts.failed;
    s.details.extend(counts.failures);
    if counts.skipped > 0 {
        s.info.push(format!(
            "{} node tests skipped (not counted as passed)",
            counts.skipped
        ));
        s.info
            .extend(counts.skips.into_iter().map(|n| format!("  skipped: {n}")));
    }
    if let Err(e) = status {
        if counts.failed == 0 {
            s.fail(format!("{e}: node --test failed without a failing test"));
        }
    }
    if s.passed + s.failed == 0 {
        s.fail("node --test ran no test");
    }
}

/// `cargo xtask bench-wasm [N]`: builds the package, runs web/bench.mjs (client.call, the
/// facade and ioredis-mock in one Node process, then client.call and the facade in headless
/// Chromium), and writes docs/bench-wasm.md with its chart
/// docs/bench-wasm.svg (the ratios to ioredis-mock), which web/README.md shows.
pub fn bench_cli(args: &[String]) -> ExitCode {
    let tsv = crate::target_dir().join("bench-wasm.tsv");
    let r = build().and_then(|()| ensure_node_modules()).and_then(|()| {
        let mut cmd = Command::new("node");
        cmd.arg("bench.mjs")
            .args(args)
            .arg("--chromium")
            .arg("--tsv")
            .arg(&tsv)
            .current_dir(web_dir());
        run_status(cmd)?;
        let text = std::fs::read_to_string(&tsv).map_err(|e| format!("{}: {e}", tsv.display()))?;
        let bench = parse_bench(&text).ok_or("web/bench.mjs wrote no figures")?;
        let node = &bench[0];
        let command = std::iter::once("cargo xtask bench-wasm".to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let docs = crate::repo_root().join("docs");
        std::fs::write(docs.join("bench-wasm.md"), bench_markdown(&bench, &command))
            .map_err(|e| format!("docs/bench-wasm.md: {e}"))?;
        std::fs::write(docs.join("bench-wasm.svg"), bench_svg(node))
            .map_err(|e| format!("docs/bench-wasm.svg: {e}"))?;
        println!("wrote docs/bench-wasm.md and docs/bench-wasm.svg");
        Ok(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask bench-wasm: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The targets of issue 19: client.call and the facade against ioredis-mock.
const DIRECT_TARGET: f64 = 2.0;
const FACADE_TARGET: f64 = 1.5;

/// web/bench.mjs's figures: one section per runtime (Node, then Chromium if it ran there), each
/// a `# runtime rounds per` line then per command ops/s of client.call, the facade and
/// ioredis-mock (0 where it did not run: ioredis-mock runs in Node only).
#[derive(Debug, PartialEq)]
pub struct WasmBench {
    pub runtime: String,
    pub rounds: String,
    pub per: String,
    pub rows: Vec<(String, [f64; 3])>,
}

pub fn parse_bench(text: &str) -> Option<Vec<WasmBench>> {
    let mut out: Vec<WasmBench> = Vec::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        if let Some(head) = l.strip_prefix("# ") {
            let [runtime, rounds, per] = head.split('\t').collect::<Vec<_>>()[..] else {
                return None;
            };
            out.push(WasmBench {
                runtime: runtime.to_string(),
                rounds: rounds.to_string(),
                per: per.to_string(),
                rows: Vec::new(),
            });
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        let [name, a, b, c] = f[..] else {
            return None;
        };
        let n = |x: &str| x.parse::<f64>().ok().filter(|v| *v >= 0.0);
        let row = [n(a)?, n(b)?, n(c)?];
        if row[0] == 0.0 || row[1] == 0.0 {
            return None;
        }
        out.last_mut()?.rows.push((name.to_string(), row));
    }
    let node = out.first()?;
    let usable = !node.rows.is_empty() && node.rows.iter().all(|(_, r)| r[2] > 0.0);
    usable.then_some(out)
}

fn ops(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn bench_markdown(all: &[WasmBench], command: &str) -> String {
    use std::fmt::Write as _;
    let b = &all[0];
    let mut s = String::new();
    let _ = writeln!(s, "# The wasm engine vs ioredis-mock\n");
    let _ = writeln!(
        s,
        "`{command}` (web/bench.mjs): ops per second of CPU time in one {} process \
         (`process.cpuUsage()`, user + system: the time the process waited for a core on this \
         shared machine does not count, as it would on the wall clock), best of {} interleaved \
         rounds of {} operations per command (a pipeline counts its 100 SETs). `client.call` is the direct call \
         path (arguments packed into wasm memory, one crossing, the reply read from the engine's \
         output); the facade is the ioredis-style `Redis` (`await redis.set(...)`); ioredis-mock is \
         the npm package (a JavaScript Map behind ioredis's API). Targets (issue 19): client.call \
         ≥ {DIRECT_TARGET}× ioredis-mock, the facade ≥ {FACADE_TARGET}×. The array rows \
         (HGETALL, LRANGE, SMEMBERS, ZRANGE) read the same unchanged data each time: the engine \
         sees that a reply's bytes equal the previous call's and the wrapper returns a copy of \
         the value it read then (an array that changed is read anew, at the cost it had before); \
         the rows marked `(2 keys)` read two keys in turn, so every reply differs from the one \
         before and none is served by that memo: what arrays that change cost. \
         The machine is shared (2 cores, other jobs running): figures move between runs.\n",
        b.runtime, b.rounds, b.per
    );
    let _ = writeln!(s, "![ratios to ioredis-mock](bench-wasm.svg)\n");
    let _ = writeln!(
        s,
        "| command | client.call | facade | ioredis-mock | call ÷ mock | facade ÷ mock |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    let mark = |r: f64, t: f64| if r >= t { "" } else { " (below target)" };
    for (name, [d, f, m]) in &b.rows {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {:.2}×{} | {:.2}×{} |",
            ops(*d),
            ops(*f),
            ops(*m),
            d / m,
            mark(d / m, DIRECT_TARGET),
            f / m,
            mark(f / m, FACADE_TARGET)
        );
    }
    for c in &all[1..] {
        let _ = writeln!(
            s,
            "\n## {}\n\nThe same commands in headless {} (the playground's engine), ops/s on the wall \
             clock (a page has no CPU clock), best of {} rounds \
             of {}. ioredis-mock does not run in a browser without a bundler and polyfills (it \
             needs Node's `events`, `stream` and `crypto` and ioredis's internals): the ratios are \
             to its figures in Node above.\n",
            c.runtime, c.runtime, c.rounds, c.per
        );
        let _ = writeln!(
            s,
            "| command | client.call | facade | call ÷ mock (Node) | facade ÷ mock (Node) |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: |");
        for (name, [d, f, _]) in &c.rows {
            let Some((_, [_, _, m])) = b.rows.iter().find(|(n, _)| n == name) else {
                continue;
            };
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {:.2}× | {:.2}× |",
                ops(*d),
                ops(*f),
                d / m,
                f / m
            );
        }
    }
    s
}

/// Grouped bars of the two ratios per command (like docs/bench-throughput.svg), on a scale to
/// 5×; a bar beyond it is cut and labelled with its value.
pub fn bench_svg(b: &WasmBench) -> String {
    let title = format!("oxidis (wasm) ÷ ioredis-mock, ops/s ({})", b.runtime);
    crate::ratio_chart::RatioChart {
        title: &title,
        series: ["client.call (direct)", "facade (await redis.cmd)"],
        rows: b
            .rows
            .iter()
            .map(|(name, [d, f, m])| (name.clone(), [d / m, f / m]))
            .collect(),
        max: 5.0,
        tick: 1.0,
        targets: vec![
            (FACADE_TARGET, format!("facade target {FACADE_TARGET}×")),
            (DIRECT_TARGET, format!("call target {DIRECT_TARGET}×")),
        ],
        footer: "ops/s ÷ ioredis-mock's (higher is better; bars cut at 5×)",
    }
    .svg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"9\"\n\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(
            locked_wasm_bindgen_version(lock).as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_wasm_bindgen_version("nothing"), None);
    }

    #[test]
    fn the_workspace_pins_the_locked_version() {
        let lock = std::fs::read_to_string(crate::repo_root().join("Cargo.lock")).unwrap();
        let manifest = std::fs::read_to_string(web_dir().join("Cargo.toml")).unwrap();
        let v = locked_wasm_bindgen_version(&lock).expect("wasm-bindgen locked");
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={v}\"")),
            "web/Cargo.toml must pin wasm-bindgen = \"={v}\""
        );
    }

    #[test]
    fn bench_figures_become_a_table_and_a_chart() {
        let text = "# Node v20.1.0\t7\t10000\nSET\t2000\t1500\t1000\nZADD\t600000\t500000\t500\n\
                    # Chromium 140\t7\t10000\nSET\t3000\t2000\t0\n";
        let b = parse_bench(text).expect("parsed");
        assert_eq!(b[0].runtime, "Node v20.1.0");
        assert_eq!((b[0].rows.len(), b[1].rows.len()), (2, 1));
        let md = bench_markdown(&b, "cargo xtask bench-wasm");
        assert!(
            md.contains("| SET | 2,000 | 1,500 | 1,000 | 2.00× | 1.50× |"),
            "{md}"
        );
        assert!(md.contains("| ZADD | 600,000 | 500,000 | 500 | 1200.00× | 1000.00× |"));
        assert!(md.contains("## Chromium 140"));
        assert!(
            md.contains("| SET | 3,000 | 2,000 | 3.00× | 2.00× |"),
            "{md}"
        );
        let svg = bench_svg(&b[0]);
        assert_eq!(svg.matches("<rect x=").count(), 2 + 2 * 2);
        assert!(svg.contains(">1200.00<"));
        // Node's section needs the mock's figures.
        assert!(parse_bench("# x\t1\t2\nSET\t1\t1\t0\n").is_none());
        assert!(parse_bench("nothing").is_none());
    }

    #[test]
    fn counts_node_test_summaries() {
        let mut c = NodeCounts::default();
        for l in [
            "✔ set and get (1.2ms)",
            "✖ pub/sub (3ms)",
            "ℹ tests 3",
            "ℹ pass 2",
            "ℹ fail 1",
            "✖ failing tests:",
            "✖ pub/sub (3ms)",
        ] {
            c.line(l);
        }
        assert_eq!((c.passed, c.failed), (2, 1));
        assert_eq!(c.failures, vec!["pub/sub (3ms)".to_string()]);
        let mut k = NodeCounts::default();
        k.line("﹣ golden x (0.1ms) # skipped: no MIGRATE");
        k.line("ℹ skipped 1");
        assert_eq!((k.passed, k.skipped), (0, 1));
        assert_eq!(
            k.skips,
            vec!["golden x (0.1ms) # skipped: no MIGRATE".to_string()]
        );
        let mut t = NodeCounts::default();
        t.line("# pass 5");
        t.line("# fail 0");
        assert_eq!((t.passed, t.failed), (5, 0));
    }
}
