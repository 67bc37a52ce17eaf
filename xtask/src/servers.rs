//! Starting and stopping servers for tests: Debian's redis-server (the reference) and
//! oxidis-server, each on a free loopback port, as a child process whose guard stops it on drop
//! (so a failing or panicking suite never leaves a server behind).
//!
//! ```ignore
//! let redis = servers::start_redis()?;        // redis-server --save '' --appendonly no
//! let oxidis = servers::start_oxidis(&bin)?;  // oxidis-server --bind 127.0.0.1 --port P
//! do_something(&oxidis.addr(), &redis.addr());
//! // both stopped here, by PID
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use oxidis_testkit::server::{free_port, wait_for_accept, Server, START_DEADLINE};

/// Where test servers write their logs: target/xtask/logs.
pub fn log_dir() -> PathBuf {
    crate::target_dir().join("xtask/logs")
}

/// Debian's redis-server on a free loopback port, without persistence (nothing written to disk).
pub fn start_redis() -> Result<Server, String> {
    start("redis-server", Path::new("redis-server"), server_args)
}

/// `bin` on a free loopback port with the arguments `args(port)`, its log in `log_dir()`.
pub fn start(
    name: &str,
    bin: &Path,
    args: impl Fn(u16) -> Vec<OsString>,
) -> Result<Server, String> {
    oxidis_testkit::server::start(name, bin, &log_dir(), args)
}

/// The command line both servers get (redis-server's flag names, which oxidis-server shares),
/// so differential suites compare like with like: loopback on `port`, no persistence, and a
/// fresh, empty working directory of its own (so nothing lands in the repo if a test sends
/// SAVE, and no stray dump.rdb from elsewhere is loaded at start), and DEBUG allowed, as
/// Redis's own test suite starts its servers (golden transcripts use DEBUG PROTOCOL, DIGEST).
pub fn server_args(port: u16) -> Vec<OsString> {
    let dir = std::env::temp_dir().join(format!("oxidis-xtask-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        &dir.display().to_string(),
        "--enable-debug-command",
        "yes",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// `server_args` plus `cluster-enabled yes`: a fresh single cluster node (its nodes.conf in
/// the server's own fresh directory), for the transcripts under testdata/golden/cluster/.
pub fn cluster_args(port: u16) -> Vec<OsString> {
    let mut a = server_args(port);
    a.extend(["--cluster-enabled", "yes"].map(OsString::from));
    a
}

/// One server of a golden topology (testdata/golden/topology/): `server_args` with the first
/// sync at once (`repl-diskless-sync-delay 0`), and for a cluster node `cluster-enabled yes`
/// with a free bus port of its own (`cluster-port`: port+10000 may not be free, or exist).
pub fn start_topology_node(name: &str, bin: &Path, cluster: bool) -> Result<Server, String> {
    start(name, bin, |port| {
        let mut a = server_args(port);
        a.extend(["--repl-diskless-sync-delay", "0"].map(OsString::from));
        if cluster {
            let bus = free_port().unwrap_or(0).to_string();
            a.extend(["--cluster-enabled", "yes", "--cluster-port", &bus].map(OsString::from));
        }
        a
    })
}

/// oxidis-server (the binary at `bin`) on a free loopback port.
pub fn start_oxidis(bin: &Path) -> Result<Server, String> {
    start("oxidis-server", bin, server_args)
}

/// The oxidis-server binary of a cargo profile ("debug" or "release").
pub fn oxidis_bin(profile: &str) -> PathBuf {
    crate::target_dir()
        .join(profile)
        .join(format!("oxidis-server{}", std::env::consts::EXE_SUFFIX))
}
