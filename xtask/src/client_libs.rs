//! The "client libraries" suite: real Redis client libraries — redis-py (PyPI `redis`, over
//! RESP3 with `protocol=3`) and ioredis (npm) — run their smoke tests (tests/clients/) against
//! redis-server first (proving the scripts right) and then against oxidis-server: connect,
//! pub/sub between two connections, a pipeline, MULTI/EXEC with WATCH, a blocking pop woken by
//! another connection, redis-py's Lock, and (redis-py, RESP2 and RESP3) a keyspace-notification
//! listener on `__keyevent@0__:expired` that sees keys expire untouched (active expiry).
//! redis-py's client-side cache (tests/clients/python/csc.py:
//! `cache_config=CacheConfig()` over CLIENT TRACKING) serves repeated reads without reaching
//! the server (INFO's total_commands_processed stays put) and drops keys another client writes,
//! that expire, or that FLUSHALL removes. Then applications' libraries built on ioredis and Lua
//! scripts, on both servers too: rate-limiter-flexible's RateLimiterRedis
//! (tests/clients/node/ratelimit.mjs) and BullMQ (tests/clients/node/bullmq.mjs: a Queue, a
//! Worker processing plain, delayed, retried and failing jobs, QueueEvents in XREAD BLOCK,
//! pause/resume, drain, obliterate). And a stream consumer group's crash recovery with ioredis
//! (tests/clients/node/streams-recovery.mjs: a consumer dies holding pending entries, XAUTOCLAIM
//! hands them to another, XPENDING ends empty). Every "ok NAME" / "FAILED NAME" line a script
//! prints is one check.
//!
//! Dependencies are installed locally and only when missing or changed: a venv at
//! tests/clients/python/.venv (pip install -r requirements.txt) and `npm ci` into
//! tests/clients/node/node_modules (from the committed package-lock.json, which pins ioredis,
//! rate-limiter-flexible and bullmq). On a fresh Debian machine without python3-venv or npm they
//! are installed with apt-get first.

use crate::setup::{apt_install, is_current, npm_ci, quiet, which};
use crate::suite::{run_status, run_streaming, Suite};
use crate::test_all::Ctx;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn clients_dir() -> PathBuf {
    crate::repo_root().join("tests/clients")
}

/// The venv's python with redis-py installed.
pub(crate) fn ensure_python() -> Result<PathBuf, String> {
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
        quiet(c)
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

/// The Node scripts of tests/clients/node, each run against both servers: (library, script).
const NODE_SCRIPTS: &[(&str, &str)] = &[
    ("ioredis", "smoke.mjs"),
    ("rate-limiter-flexible", "ratelimit.mjs"),
    ("bullmq", "bullmq.mjs"),
    ("ioredis streams", "streams-recovery.mjs"),
];

/// node, with the npm packages installed from the lock file.
pub(crate) fn ensure_node() -> Result<PathBuf, String> {
    npm_ci(&clients_dir().join("node"))?;
    which("node").ok_or_else(|| "node not found after installing nodejs".to_string())
}

/// Runs one smoke script against `addr`, adding its ok/FAILED lines to `s` (prefixed with
/// `label`). A script that fails without naming a failed check is one failure itself.
pub(crate) fn run_script(s: &mut Suite, label: &str, mut cmd: Command) {
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
                let mut cmd = Command::new(py);
                cmd.arg(dir.join("python/csc.py")).arg(&addr);
                run_script(&mut s, &format!("redis-py cache vs {server}"), cmd);
                let mut cmd = Command::new(py);
                cmd.arg(dir.join("python/acl.py")).arg(&addr);
                run_script(&mut s, &format!("redis-py ACL vs {server}"), cmd);
            }
            Err(e) => s.fail(format!("redis-py: {e}")),
        }
        for (library, script) in NODE_SCRIPTS {
            match &node {
                Ok(node) => {
                    let mut cmd = Command::new(node);
                    cmd.arg(dir.join("node").join(script))
                        .arg(&addr)
                        .current_dir(dir.join("node"));
                    run_script(&mut s, &format!("{library} vs {server}"), cmd);
                }
                Err(e) => s.fail(format!("{library}: {e}")),
            }
        }
    }
    drop((oxidis, redis));
    s
}
