//! The "client libraries" suite: real Redis client libraries — redis-py (PyPI `redis`, over
//! RESP3 with `protocol=3`) and ioredis (npm) — run their smoke tests (tests/clients/) against
//! redis-server first (proving the scripts right) and then against oxidis-server: connect,
//! pub/sub between two connections, a pipeline, MULTI/EXEC with WATCH, a blocking pop woken by
//! another connection. Every "ok NAME" / "FAILED NAME" line a script prints is one check.
//!
//! Dependencies are installed locally and only when missing or changed: a venv at
//! tests/clients/python/.venv (pip install -r requirements.txt) and `npm ci` into
//! tests/clients/node/node_modules (from the committed package-lock.json). On a fresh Debian
//! machine without python3-venv or npm they are installed with apt-get first.

use crate::setup::which;
use crate::suite::{run_status, run_streaming, Suite};
use crate::test_all::Ctx;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn clients_dir() -> PathBuf {
    crate::repo_root().join("tests/clients")
}

/// apt-get install, as root or through sudo.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    if which("apt-get").is_none() {
        return Err(format!(
            "apt-get not found: install {} by hand",
            packages.join(" ")
        ));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let run = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        run_status(cmd)
    };
    println!("    installing {} (apt-get)", packages.join(" "));
    run(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(packages);
    run(&args)
}

fn succeeds(mut cmd: Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A stamp file holding the manifest's text: the install is current when they match.
fn is_current(stamp: &Path, manifest: &Path) -> bool {
    match (std::fs::read(stamp), std::fs::read(manifest)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The venv's python with redis-py installed.
fn ensure_python() -> Result<PathBuf, String> {
    let dir = clients_dir().join("python");
    let venv = dir.join(".venv");
    let python = venv.join("bin/python");
    let reqs = dir.join("requirements.txt");
    let stamp = venv.join(".installed");
    if python.exists() && is_current(&stamp, &reqs) {
        println!("    redis-py venv: present");
        return Ok(python);
    }
    if which("python3").is_none() {
        apt_install(&["python3", "python3-venv"])?;
    }
    let make_venv = || {
        let mut c = Command::new("python3");
        c.args(["-m", "venv", "--clear"]).arg(&venv);
        succeeds(c)
    };
    if !make_venv() {
        // Debian splits venv (and ensurepip) out of python3.
        apt_install(&["python3-venv"])?;
        if !make_venv() {
            return Err(format!("python3 -m venv {} failed", venv.display()));
        }
    }
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
    ])
    .arg(&reqs);
    run_status(pip)?;
    std::fs::copy(&reqs, &stamp).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// node, with ioredis installed from the lock file.
fn ensure_node() -> Result<PathBuf, String> {
    let dir = clients_dir().join("node");
    if which("node").is_none() || which("npm").is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    let node = which("node").ok_or("node not found after installing nodejs")?;
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules/.oxidis-installed");
    if is_current(&stamp, &lock) {
        println!("    ioredis (node_modules): present");
        return Ok(node);
    }
    let mut ci = Command::new("npm");
    ci.args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir);
    run_status(ci)?;
    std::fs::copy(&lock, &stamp).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(node)
}

/// Runs one smoke script against `addr`, adding its ok/FAILED lines to `s` (prefixed with
/// `label`). A script that fails without naming a failed check is one failure itself.
fn run_script(s: &mut Suite, label: &str, mut cmd: Command) {
    let mut passed = 0;
    let mut failed = Vec::new();
    cmd.stderr(Stdio::inherit());
    let status = run_streaming(cmd, |line| {
        if line.starts_with("ok ") {
            passed += 1;
        } else if let Some(rest) = line.strip_prefix("FAILED ") {
            failed.push(format!("{label}: {rest}"));
        }
    });
    s.passed += passed;
    let named = !failed.is_empty();
    for f in failed {
        s.fail(f);
    }
    if let Err(e) = status {
        if !named {
            s.fail(format!("{label}: {e}"));
        }
    } else if passed == 0 {
        s.fail(format!("{label}: no checks ran"));
    }
}

pub fn run(ctx: &mut Ctx, name: &str) -> Suite {
    let mut s = Suite::new(name);
    let python = ensure_python();
    let node = ensure_node();
    let redis = match crate::servers::start_redis() {
        Ok(r) => r,
        Err(e) => return Suite::error(name, e),
    };
    let oxidis = match ctx.start_oxidis() {
        Ok(o) => o,
        Err(e) => return Suite::error(name, e),
    };
    let dir = clients_dir();
    for (server, addr) in [
        ("redis-server", redis.addr()),
        ("oxidis-server", oxidis.addr()),
    ] {
        match &python {
            Ok(py) => {
                let mut cmd = Command::new(py);
                cmd.arg(dir.join("python/smoke.py")).arg(&addr);
                run_script(&mut s, &format!("redis-py vs {server}"), cmd);
            }
            Err(e) => s.fail(format!("redis-py: {e}")),
        }
        match &node {
            Ok(node) => {
                let mut cmd = Command::new(node);
                cmd.arg(dir.join("node/smoke.mjs"))
                    .arg(&addr)
                    .current_dir(dir.join("node"));
                run_script(&mut s, &format!("ioredis vs {server}"), cmd);
            }
            Err(e) => s.fail(format!("ioredis: {e}")),
        }
    }
    drop((oxidis, redis));
    s
}
