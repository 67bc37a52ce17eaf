//! `cargo xtask test [FILTER...]`: every test, in one command, on a fresh Debian machine.
//!
//! Installs what it lacks (setup.rs), then runs the suites below in order. Each suite prints its
//! own result; the end is a summary table and the line `N passed, M failed`, where N and M count
//! individual tests and checks (cargo's tests, golden transcripts, ...). The exit code is non-zero
//! if anything failed. With FILTERs, only suites whose name contains one of them run.
//!
//! Build budget (2 cores, well under 30 minutes): clippy only type-checks; `cargo test` builds the
//! workspace once in the dev profile; the golden-vs-oxidis suite and the suites after it reuse the
//! dev-profile oxidis-server that `cargo test` already compiled (`cargo build -p oxidis-server`
//! then only links the binary, as all its dependencies are shared with the test build). A
//! release build (thin LTO) would cost several more minutes and test the same behaviour; the
//! debug binary also has overflow checks on, so it catches more.

use crate::servers::{self, Server};
use crate::setup;
use crate::suite::{run_status, run_streaming, summary, CargoTestCounts, Suite};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// State shared by the suites of one run.
#[derive(Default)]
pub struct Ctx {
    /// The dev-profile oxidis-server, built once on first use.
    oxidis: Option<Result<PathBuf, String>>,
}

impl Ctx {
    /// The oxidis-server binary every server-based suite uses (see the module comment).
    pub fn oxidis_bin(&mut self) -> Result<PathBuf, String> {
        self.oxidis
            .get_or_insert_with(|| {
                let mut cmd = crate::cargo_cmd();
                cmd.args(["build", "-p", "oxidis-server"]);
                run_status(cmd).map(|()| servers::oxidis_bin("debug"))
            })
            .clone()
    }

    /// A fresh oxidis-server on a free port (stopped when the guard drops).
    pub fn start_oxidis(&mut self) -> Result<Server, String> {
        let bin = self.oxidis_bin()?;
        servers::start_oxidis(&bin)
    }
}

type SuiteFn = fn(&mut Ctx, &str) -> Suite;

/// Every suite, in the order they run: (name, what runs it).
const SUITES: &[(&str, SuiteFn)] = &[
    ("rustfmt", rustfmt),
    ("clippy", clippy),
    ("wasm32 build (oxidis-core)", wasm_build),
    ("oxidis-lua on wasm32 (node)", lua_wasm),
    ("cargo test --workspace", cargo_test),
    (
        "cluster simulation (release, 2000 seeded fault schedules)",
        cluster_sim,
    ),
    ("golden vs redis-server", golden_redis),
    ("golden vs oxidis-server", golden_oxidis),
    // Suites that talk to both servers: each gets a fresh redis-server and oxidis-server on
    // free ports (stopped afterwards, even on failure) through `against_both`.
    ("differential vs redis-server", |ctx, name| {
        against_both(ctx, name, crate::difftest::run_suite)
    }),
    (
        "ACL rules vs redis-server (random SETUSER, GETUSER, LIST, DRYRUN)",
        |ctx, name| against_both(ctx, name, crate::acldiff::run),
    ),
    ("real clients (redis-cli, redis-benchmark)", |ctx, name| {
        against_both(ctx, name, crate::clients::run)
    }),
    (
        "network safety (protected mode, maxclients, TLS, unix socket, idle connections)",
        crate::netsafety::suite,
    ),
    (
        "persistence (RDB/AOF interop, crash)",
        crate::persistence::run,
    ),
    ("replication (master)", crate::repl_master::run),
    (
        "eviction (maxmemory policies vs redis-server)",
        crate::eviction::run,
    ),
    (
        "replication (replica): Oxidis following redis-server",
        crate::repl_replica::run,
    ),
    (
        "replication (chain): redis → oxidis → redis, oxidis ×3",
        crate::repl_chain::run,
    ),
    (
        "sentinel: redis-sentinel fails over Oxidis (and mixed groups)",
        crate::sentinel::run,
    ),
    (
        "cluster: redis-server ×6 (proves the suite)",
        |ctx, name| crate::cluster::run(ctx, name, crate::cluster::ALL_REDIS),
    ),
    ("cluster: oxidis ×6", |ctx, name| {
        crate::cluster::run(ctx, name, crate::cluster::ALL_OXIDIS)
    }),
    (
        "cluster: mixed (2 oxidis + 1 redis-server masters, replicas mixed)",
        |ctx, name| crate::cluster::run(ctx, name, crate::cluster::MIXED),
    ),
    (
        "tls links: replication, cluster bus, MIGRATE with redis-server",
        crate::tls_links::run,
    ),
    (
        "wasm package (node --test, golden, chromium)",
        crate::wasm::suite,
    ),
    (
        "playground (www/, Chromium and Firefox)",
        crate::playground::suite,
    ),
    ("bench --quick (smoke)", |ctx, name| {
        match ctx.oxidis_bin() {
            Ok(bin) => crate::bench::quick_suite(&bin),
            Err(e) => Suite::error(name, e),
        }
    }),
    (
        "client libraries (redis-py, ioredis, rate-limiter-flexible, bullmq, streams recovery)",
        crate::client_libs::run,
    ),
];

pub fn run(filters: &[String]) -> ExitCode {
    let started = Instant::now();
    let mut results = Vec::new();
    let problems = setup::ensure_prerequisites();
    if !problems.is_empty() {
        let mut s = Suite::new("setup");
        for p in problems {
            s.fail(p);
        }
        s.elapsed = started.elapsed();
        println!("{}", s.report());
        results.push(s);
    }
    let chosen: Vec<&(&str, SuiteFn)> = SUITES
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        eprintln!("no suite matches {filters:?}; suites are:");
        for (name, _) in SUITES {
            eprintln!("  {name}");
        }
        return ExitCode::from(2);
    }
    let mut ctx = Ctx::default();
    for (i, (name, f)) in chosen.iter().enumerate() {
        println!("\n==> [{}/{}] {name}", i + 1, chosen.len());
        let s = run_suite(&mut ctx, name, *f);
        println!("{}", s.report());
        results.push(s);
    }
    println!(
        "\n==> summary ({:.0}s in all)\n{}",
        started.elapsed().as_secs_f64(),
        summary(&results)
    );
    if results.iter().all(Suite::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one suite, timing it. A panicking suite (a bug in its harness) is one failure, not the
/// end of the run; its servers are stopped by their guards while the panic unwinds.
fn run_suite(ctx: &mut Ctx, name: &str, f: SuiteFn) -> Suite {
    let t = Instant::now();
    let run = std::panic::catch_unwind(AssertUnwindSafe(|| f(ctx, name)));
    let mut s = run.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        Suite::error(name, format!("the suite panicked: {msg}"))
    });
    s.name = name.to_string();
    s.elapsed = t.elapsed();
    s
}

fn rustfmt(_: &mut Ctx, name: &str) -> Suite {
    let mut cmd = crate::cargo_cmd();
    cmd.args(["fmt", "--all", "--", "--check"]);
    Suite::check(
        name,
        run_status(cmd).map_err(|e| format!("{e} (run `cargo fmt --all`)")),
    )
}

fn clippy(_: &mut Ctx, name: &str) -> Suite {
    let mut cmd = crate::cargo_cmd();
    cmd.args(["clippy", "--all-targets", "--", "-D", "warnings"]);
    Suite::check(name, run_status(cmd))
}

fn wasm_build(_: &mut Ctx, name: &str) -> Suite {
    let mut cmd = crate::cargo_cmd();
    cmd.args(["build", "-p", "oxidis-core", "--target", setup::WASM_TARGET]);
    Suite::check(name, run_status(cmd))
}

/// oxidis-lua's test cases compiled for wasm32 (lua/examples/wasm_check.rs: Lua's C through
/// clang-19 and wasi-libc, which setup installs) and run in Node by lua/tests/wasm.test.mjs;
/// the native run of the same cases is part of `cargo test --workspace`.
fn lua_wasm(_: &mut Ctx, name: &str) -> Suite {
    let mut cmd = crate::cargo_cmd();
    cmd.args([
        "build",
        "-p",
        "oxidis-lua",
        "--example",
        "wasm_check",
        "--target",
        setup::WASM_TARGET,
    ]);
    if let Err(e) = run_status(cmd) {
        return Suite::error(name, e);
    }
    let wasm = crate::target_dir()
        .join(setup::WASM_TARGET)
        .join("debug/examples/wasm_check.wasm");
    let mut s = Suite::new(name);
    let mut node = std::process::Command::new("node");
    node.current_dir(crate::repo_root().join("lua"))
        .env("OXIDIS_LUA_WASM", &wasm);
    crate::wasm::run_node_tests(&mut s, node);
    s
}

/// Rust unit tests, golden transcripts on the engine, native integration tests. Counts come
/// from cargo's "test result:" lines; `--no-fail-fast` so one failing binary does not hide
/// the counts of the others.
fn cargo_test(_: &mut Ctx, name: &str) -> Suite {
    let mut cmd = crate::cargo_cmd();
    cmd.args(["test", "--workspace", "--no-fail-fast"]);
    let mut counts = CargoTestCounts::default();
    let status = run_streaming(cmd, |line| counts.line(line));
    let mut s = Suite::new(name);
    s.passed = counts.passed;
    s.failed = counts.failed;
    s.details = counts.failed_tests;
    if let Err(e) = status {
        if s.failed == 0 {
            // Nothing failed by name: a build error or a test binary that crashed.
            s.fail(format!(
                "{e}: a build error or a crashed test binary (see above)"
            ));
        }
    }
    s
}

/// core/tests/cluster_sim.rs's seeded schedules on a release build, where a schedule costs
/// ~0.1 s instead of ~1 s (`cargo test` runs 24 on its debug build): one count per schedule,
/// from the test's `cluster sim: N schedules, M failed` line.
fn cluster_sim(_: &mut Ctx, name: &str) -> Suite {
    const SCHEDULES: u32 = 2000;
    let mut cmd = crate::cargo_cmd();
    cmd.args([
        "test",
        "--release",
        "-p",
        "oxidis-core",
        "--test",
        "cluster_sim",
        "seeded_fault_schedules",
        "--",
        "--nocapture",
    ])
    .env("CLUSTER_SIM_SCHEDULES", SCHEDULES.to_string());
    let mut counted: Option<(u64, u64)> = None;
    let status = run_streaming(cmd, |line| {
        if let Some(rest) = line.strip_prefix("cluster sim: ") {
            let nums: Vec<u64> = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            if let [total, failed] = nums[..] {
                counted = Some((total, failed));
            }
        }
    });
    let mut s = Suite::new(name);
    match counted {
        Some((total, failed)) => {
            s.passed = (total - failed.min(total)) as usize;
            s.failed = failed as usize;
            if failed > 0 {
                s.details
                    .push("the failing seeds are in the panic message above".into());
            }
        }
        None => s.fail(format!(
            "no `cluster sim:` summary line ({status:?}): a build error or a crash (see above)"
        )),
    }
    if status.is_err() && s.failed == 0 {
        s.fail("cargo test failed (see above)");
    }
    s
}

/// Replays testdata/golden on a server, one passed/failed count per transcript: the plain
/// server runs all but golden/cluster/ and golden/topology/, the cluster-enabled one
/// golden/cluster/, and each topology transcript runs on fresh servers of `bin` set up as its
/// topology says (golden_tcp::run_topologies).
fn golden_on(
    name: &str,
    server: Result<Server, String>,
    cluster: Result<Server, String>,
    bin: &Path,
) -> Suite {
    let (server, cluster) = match (server, cluster) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return Suite::error(name, e),
    };
    let root = oxidis_testkit::transcripts::golden_dir();
    let mut s = Suite::new(name);
    let results = [&server, &cluster]
        .into_iter()
        .flat_map(|srv| oxidis_testkit::golden_tcp::run_each(&srv.addr(), &root, ""));
    let node_name = bin.file_name().and_then(|n| n.to_str()).unwrap_or("server");
    let start = |cluster: bool| servers::start_topology_node(node_name, bin, cluster);
    let topologies = oxidis_testkit::golden_tcp::run_topologies(&root, "", &start);
    for (transcript, failures) in results.chain(topologies) {
        if failures.is_empty() {
            s.passed += 1;
            println!("    ok     {transcript}");
        } else {
            println!("    FAILED {transcript}");
            s.fail(failures.join("\n"));
        }
    }
    if s.passed + s.failed == 0 {
        s.fail(format!("no transcripts under {}", root.display()));
    }
    s
}

fn golden_redis(_: &mut Ctx, name: &str) -> Suite {
    let cluster = servers::start(
        "redis-server",
        Path::new("redis-server"),
        servers::cluster_args,
    );
    golden_on(
        name,
        servers::start_redis(),
        cluster,
        Path::new("redis-server"),
    )
}

fn golden_oxidis(ctx: &mut Ctx, name: &str) -> Suite {
    let bin = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let cluster = servers::start("oxidis-server", &bin, servers::cluster_args);
    golden_on(name, ctx.start_oxidis(), cluster, &bin)
}

/// Runs `f(oxidis_addr, redis_addr)` against a fresh oxidis-server and redis-server, stopping
/// both afterwards whatever happens. An `Err` counts as one failure.
pub fn against_both(
    ctx: &mut Ctx,
    name: &str,
    f: fn(&str, &str) -> Result<Suite, String>,
) -> Suite {
    let redis = match servers::start_redis() {
        Ok(s) => s,
        Err(e) => return Suite::error(name, e),
    };
    let oxidis = match ctx.start_oxidis() {
        Ok(s) => s,
        Err(e) => return Suite::error(name, e),
    };
    let result = f(&oxidis.addr(), &redis.addr());
    drop((oxidis, redis));
    match result {
        Ok(s) => s,
        Err(e) => Suite::error(name, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_suite_is_one_failure() {
        let s = run_suite(&mut Ctx::default(), "boom", |_, _| panic!("harness bug"));
        assert_eq!((s.name.as_str(), s.passed, s.failed), ("boom", 0, 1));
        assert!(s.details[0].contains("harness bug"), "{:?}", s.details);
    }

    #[test]
    fn suite_names_are_unique() {
        let mut names: Vec<&str> = SUITES.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SUITES.len());
    }
}
