//! The "network safety" suite: tests/clients/python/netsafety.py runs redis-server and
//! oxidis-server side by side with the same flags and checks protected mode (a client from
//! 127.0.0.2 refused with Redis's DENIED text, byte for byte), maxclients (the refusal, the
//! limit reduced to fit `ulimit -n`), unixsocket/unixsocketperm, tcp-keepalive (the kernel's
//! keepalive timer, seen with `ss -o`), TLS (certificates made by the openssl CLI at test time;
//! redis-cli --tls and redis-py ssl=True, mutual TLS refusing a client without a certificate,
//! tls-auth-clients optional, tls-ca-cert-dir, tls-protocols, tls-ciphersuites), rename-command,
//! and N idle connections held by each server with the RSS per connection reported ("figure"
//! lines). Each "ok NAME" / "FAILED NAME" line is one check.
//!
//! `cargo xtask netsafety [--idle N]` runs it alone (N defaults to 10,000; the script raises
//! its own soft `ulimit -n` and says so if the hard limit allows fewer).
//!
//! Setup: redis-py's venv (client_libs.rs), and openssl, iproute2 (ss) and redis-tools from
//! apt when missing.

use crate::client_libs::{ensure_python, run_script};
use crate::setup::ensure_programs;
use crate::suite::Suite;
use crate::test_all::Ctx;
use std::path::Path;
use std::process::{Command, ExitCode};

fn ensure_tools() -> Result<(), String> {
    ensure_programs(&[
        ("openssl", "openssl"),
        ("ss", "iproute2"),
        ("redis-cli", "redis-tools"),
    ])
}

fn suite_with(name: &str, oxidis: &Path, idle: Option<&str>) -> Suite {
    let mut s = Suite::new(name);
    if let Err(e) = ensure_tools() {
        return Suite::error(name, e);
    }
    let python = match ensure_python() {
        Ok(p) => p,
        Err(e) => return Suite::error(name, e),
    };
    let mut cmd = Command::new(python);
    cmd.arg(crate::repo_root().join("tests/clients/python/netsafety.py"))
        .arg(oxidis)
        .arg("redis-server");
    if let Some(n) = idle {
        cmd.args(["--idle", n]);
    }
    run_script(&mut s, "netsafety", cmd);
    s
}

pub fn suite(ctx: &mut Ctx, name: &str) -> Suite {
    match ctx.oxidis_bin() {
        Ok(bin) => suite_with(name, &bin, None),
        Err(e) => Suite::error(name, e),
    }
}

/// `cargo xtask netsafety [--idle N]`
pub fn cli(args: &[String]) -> ExitCode {
    let idle = match args {
        [] => None,
        [flag, n] if flag == "--idle" => Some(n.as_str()),
        _ => {
            eprintln!("usage: cargo xtask netsafety [--idle N]");
            return ExitCode::from(2);
        }
    };
    let mut ctx = Ctx::default();
    let s = match ctx.oxidis_bin() {
        Ok(bin) => suite_with("network safety", &bin, idle),
        Err(e) => Suite::error("network safety", e),
    };
    println!("{}", s.report());
    if s.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
