//! `cargo xtask <task>`: the project's commands.
//!
//!     cargo xtask run [--playground-port P] [-- SERVER ARGS]
//!                                             build and run oxidis-server, and serve the playground
//!     cargo xtask test [SUITE FILTER...]      install what is missing, run every test suite
//!     cargo xtask golden --against ADDR [FILTER]   replay testdata/golden on any server
//!     cargo xtask golden --topology BIN [FILTER]   replay testdata/golden/topology/ on fresh servers
//!     cargo xtask bench [--quick] ...          oxidis vs redis-server, side by side (bench.rs)
//!     cargo xtask commands [--readme]         the supported commands, as markdown (or into README.md)
//!     cargo xtask memreport [--quick]         memory for big data sets, Oxidis vs Redis (markdown)
//!     cargo xtask wasm                        build the npm package into web/pkg
//!     cargo xtask bench-wasm                  the wasm package's benchmark (vs ioredis-mock)
//!     cargo xtask site [DIR]                  the playground as a static directory (target/site)

mod acldiff;
mod bench;
mod client_libs;
mod clients;
mod cluster;
mod cutproxy;
mod difftest;
mod eviction;
mod memreport;
mod netsafety;
mod ops_tools;
mod persistence;
mod playground;
mod ratio_chart;
mod repl_chain;
mod repl_master;
mod repl_replica;
mod sentinel;
mod servers;
mod setup;
mod suite;
mod test_all;
mod tls_links;
mod wasm;

use oxidis_testkit::{golden_tcp, transcripts};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "usage:
  cargo xtask run [--playground-port P] [-- SERVER ARGS]
                                               build oxidis-server (release) and run it; build
                                               the wasm package and serve the playground (www/)
  cargo xtask test [SUITE FILTER...]           install what is missing, run every test suite
  cargo xtask golden --against HOST:PORT [FILTER]   replay testdata/golden on a server
  cargo xtask golden --topology SERVER-BIN [FILTER] replay testdata/golden/topology/ on fresh servers
  cargo xtask golden --record FILE.resp            record a topology/ transcript from fresh redis-servers
  cargo xtask bench [--quick] [--rounds N] [--only SECTIONS] [--tests ROWS] [--docs]
                                               oxidis vs redis-server: throughput, memory,
                                               latency under growth, lazy free
  cargo xtask cluster [redis|oxidis|mixed]...  the cluster suite for those node mixes
  cargo xtask cluster-bench [--requests N]     3-master cluster throughput, oxidis vs
                                               redis-server (redis-benchmark --cluster)
  cargo xtask commands [--readme]              print the supported commands as markdown
                                               (--readme: rewrite README.md's list)
  cargo xtask memreport [--quick]              memory per data set, Oxidis vs Redis
  cargo xtask netsafety [--idle N]             protected mode, maxclients, TLS, unix socket,
                                               N idle connections (RSS each), vs redis-server
  cargo xtask wasm                             build the npm package (web/pkg)
  cargo xtask bench-wasm                       ops/s of the wasm package vs ioredis-mock
  cargo xtask site [DIR]                       the playground as a static directory for any host";

pub fn repo_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map(PathBuf::from).unwrap_or(dir)
}

/// Cargo's target directory (CARGO_TARGET_DIR if set, else target/ in the repo).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => repo_root().join(d),
        None => repo_root().join("target"),
    }
}

/// The cargo to run: the one on PATH (rustup's proxy, which also finds `cargo fmt` and
/// `cargo clippy`), else the one that runs us.
pub fn cargo() -> PathBuf {
    setup::which("cargo")
        .or_else(|| std::env::var_os("CARGO").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// `cargo` run from the repository root.
pub fn cargo_cmd() -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(repo_root());
    cmd
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run_server(&args[1..]),
        Some("test") => test_all::run(&args[1..]),
        Some("golden") => golden(&args[1..]),
        Some("commands") if args.get(1).is_some_and(|a| a == "--readme") => {
            match write_readme_commands() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("commands") => {
            print!("{}", commands_markdown());
            ExitCode::SUCCESS
        }
        Some("difftest") => difftest::cli(&args[1..]),
        Some("clients") => clients::cli(&args[1..]),
        Some("memreport") => memreport::cli(&args[1..]),
        Some("netsafety") => netsafety::cli(&args[1..]),
        Some("wasm") => wasm::cli(&args[1..]),
        Some("bench-wasm") => wasm::bench_cli(&args[1..]),
        Some("site") => playground::site_cli(&args[1..]),
        Some("bench") => bench::cli(&args[1..]),
        Some("cluster") => cluster::cli(&args[1..]),
        Some("cluster-bench") => cluster::bench_cli(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// cargo xtask golden --against HOST:PORT [FILTER]
fn golden(args: &[String]) -> ExitCode {
    const USAGE: &str = "usage: cargo xtask golden --against HOST:PORT [FILTER]   (a cluster-enabled server runs golden/cluster/, a plain one the rest)\n       cargo xtask golden --record HOST:PORT FILE.resp   (fills in the server's replies)\n       cargo xtask golden --topology SERVER-BIN [FILTER]   (topology/ transcripts, each on fresh servers)\n       cargo xtask golden --record topology/FILE.resp   (records on fresh redis-servers it starts)";
    let addr = match (args.first().map(String::as_str), args.get(1)) {
        (Some("--against"), Some(a)) => a.clone(),
        (Some("--topology"), Some(bin)) => return golden_topology(bin, args.get(2)),
        (Some("--record"), Some(file)) if args.len() == 2 => return golden_record_topology(file),
        (Some("--record"), Some(a)) if args.len() == 3 => {
            let path = PathBuf::from(&args[2]);
            let result = std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|text| golden_tcp::record(a, &text))
                .and_then(|t| {
                    std::fs::write(&path, t).map_err(|e| format!("{}: {e}", path.display()))
                });
            return match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("golden --record: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let filter = args.get(2).cloned().unwrap_or_default();
    let (ran, failures) = golden_tcp::run_against(&addr, &transcripts::golden_dir(), &filter);
    for f in &failures {
        eprintln!("{f}");
    }
    println!(
        "golden against {addr}: {ran} transcripts, {} failures",
        failures.len()
    );
    if ran == 0 {
        eprintln!(
            "no transcript ran: none matches {filter:?} for this server (transcripts under topology/ run with `cargo xtask golden --topology SERVER-BIN`)"
        );
        return ExitCode::FAILURE;
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// cargo xtask golden --topology SERVER-BIN [FILTER]: the transcripts under
/// testdata/golden/topology/, each on fresh servers of SERVER-BIN (redis-server, or
/// target/debug/oxidis-server) set up as its directory says (golden::Topology).
fn golden_topology(bin: &str, filter: Option<&String>) -> ExitCode {
    let filter = filter.cloned().unwrap_or_default();
    let bin = PathBuf::from(bin);
    let start = |cluster: bool| servers::start_topology_node("topology", &bin, cluster);
    let results = golden_tcp::run_topologies(&transcripts::golden_dir(), &filter, &start);
    let failed = results.iter().filter(|(_, f)| !f.is_empty()).count();
    for (name, f) in &results {
        println!(
            "    {} {name}",
            if f.is_empty() { "ok    " } else { "FAILED" }
        );
        for f in f {
            eprintln!("{f}");
        }
    }
    println!(
        "golden topologies on {}: {} transcripts, {failed} failed",
        bin.display(),
        results.len()
    );
    if failed == 0 && !results.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// cargo xtask golden --record FILE: a transcript under testdata/golden/topology/, recorded
/// on fresh redis-servers (the reference) set up as its directory says.
fn golden_record_topology(file: &str) -> ExitCode {
    let path = PathBuf::from(file);
    let root = transcripts::golden_dir();
    let name = std::fs::canonicalize(&path)
        .ok()
        .zip(std::fs::canonicalize(&root).ok())
        .and_then(|(p, r)| Some(p.strip_prefix(r).ok()?.display().to_string()))
        .unwrap_or_default();
    let start = |cluster: bool| {
        servers::start_topology_node(
            "redis-server",
            std::path::Path::new("redis-server"),
            cluster,
        )
    };
    let result = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|text| golden_tcp::record_topology(&name, &text, &start))
        .and_then(|t| std::fs::write(&path, t).map_err(|e| format!("{}: {e}", path.display())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("golden --record: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The address the server will listen on, read from its arguments (redis-server's flag names;
/// the server's defaults otherwise).
fn listen_addr(args: &[String]) -> (String, u16) {
    let mut host = "127.0.0.1".to_string();
    let mut port = 6379;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.trim_start_matches('-') {
            "port" => {
                if let Some(p) = it.next().and_then(|p| p.parse().ok()) {
                    port = p;
                }
            }
            "bind" => {
                if let Some(h) = it.next() {
                    host = h.clone();
                }
            }
            _ => {}
        }
    }
    if host == "0.0.0.0" || host == "*" {
        host = "127.0.0.1".to_string();
    }
    (host, port)
}

/// cargo xtask run [-- SERVER ARGS]: builds the release server and runs it in the foreground.
fn run_server(args: &[String]) -> ExitCode {
    // Our own flags come before the server's (`--` separates them).
    let mut pg_port = playground::DEFAULT_PORT;
    let mut rest = args;
    if let [flag, p, tail @ ..] = rest {
        if flag == "--playground-port" {
            match p.parse() {
                Ok(p) => pg_port = p,
                Err(_) => {
                    eprintln!("--playground-port takes a port number");
                    return ExitCode::from(2);
                }
            }
            rest = tail;
        }
    }
    let args: Vec<String> = rest.iter().skip_while(|a| *a == "--").cloned().collect();
    // The playground: the wasm package copied into www/, served over http. If it cannot be
    // built (no wasm toolchain), the server still runs.
    let playground = playground::prepare().and_then(|()| playground::serve(pg_port));
    let mut build = cargo_cmd();
    build.args(["build", "--release", "-p", "oxidis-server"]);
    if let Err(e) = suite::run_status(build) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let bin = servers::oxidis_bin("release");
    let mut child = match Command::new(&bin).args(&args).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {}: {e}", bin.display());
            return ExitCode::FAILURE;
        }
    };
    let (host, port) = listen_addr(&args);
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let deadline = Instant::now() + servers::START_DEADLINE;
    let up = servers::wait_for_accept(&addr, deadline, || match child.try_wait() {
        Ok(Some(status)) => Err(format!("oxidis-server exited ({status})")),
        Ok(None) => Ok(()),
        Err(e) => Err(e.to_string()),
    });
    match up {
        Ok(()) => {
            println!("oxidis-server is listening on {addr}  (try: redis-cli -h {host} -p {port})");
            match &playground {
                Ok(a) => println!(
                    "the playground is at http://{a}/  (the engine runs in the page, in WebAssembly)"
                ),
                Err(e) => eprintln!("the playground is not served: {e}"),
            }
            println!("press Ctrl-C to stop it");
        }
        Err(e) => {
            eprintln!("{e}");
            let _ = child.kill();
            let _ = child.wait();
            return ExitCode::FAILURE;
        }
    }
    match child.wait() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("oxidis-server exited ({s})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The supported commands as a markdown list, one line per group, from the command table.
fn commands_markdown() -> String {
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in oxidis_core::all_commands() {
        // Containers (CLIENT, CONFIG, COMMAND) are listed through their subcommands.
        if c.is_container() {
            continue;
        }
        let shown = c.name.replace('|', " ").to_ascii_uppercase();
        groups.entry(c.group).or_default().push(shown);
    }
    let mut out = String::new();
    for (group, mut names) in groups {
        names.sort();
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!("- **{group}**: {}\n", names.join(", ")));
    }
    out
}

const README_BEGIN: &str = "<!-- commands:begin -->\n";
const README_END: &str = "<!-- commands:end -->";

/// README.md with the block between the markers replaced by `list`; None without markers.
fn readme_with_commands(readme: &str, list: &str) -> Option<String> {
    let start = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = start + readme[start..].find(README_END)?;
    Some(format!("{}{list}{}", &readme[..start], &readme[end..]))
}

/// cargo xtask commands --readme: rewrites README.md's command list from the table.
fn write_readme_commands() -> Result<(), String> {
    let path = repo_root().join("README.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let new = readme_with_commands(&text, &commands_markdown())
        .ok_or_else(|| format!("{}: no {README_BEGIN:?} ... {README_END:?}", path.display()))?;
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addr_reads_redis_style_flags() {
        let a = |v: &[&str]| listen_addr(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&[]), ("127.0.0.1".to_string(), 6379));
        assert_eq!(a(&["--port", "7000"]), ("127.0.0.1".to_string(), 7000));
        assert_eq!(
            a(&["--bind", "0.0.0.0", "--port", "1"]),
            ("127.0.0.1".to_string(), 1)
        );
        assert_eq!(a(&["--bind", "::1"]), ("::1".to_string(), 6379));
    }

    #[test]
    fn readme_lists_the_commands_of_the_table() {
        let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
        let fresh = readme_with_commands(&readme, &commands_markdown()).expect("markers");
        assert!(
            readme == fresh,
            "README.md's command list is stale: run `cargo xtask commands --readme`"
        );
    }

    #[test]
    fn readme_block_is_replaced_between_the_markers() {
        let r = "a\n<!-- commands:begin -->\nold\n<!-- commands:end -->\nb\n";
        assert_eq!(
            readme_with_commands(r, "new\n").unwrap(),
            "a\n<!-- commands:begin -->\nnew\n<!-- commands:end -->\nb\n"
        );
        assert_eq!(readme_with_commands("no markers", "x"), None);
    }

    #[test]
    fn commands_markdown_lists_groups_and_subcommands() {
        let md = commands_markdown();
        assert!(md.contains("- **string**: "), "{md}");
        assert!(md.contains("`GET`"), "{md}");
        assert!(md.contains("`CLIENT ID`"), "{md}");
        // A container without a handler of its own is not listed bare.
        assert!(!md.contains("`CLIENT`,"), "{md}");
    }
}
