//! Installs what `cargo xtask test` needs on a fresh Debian machine. Every step first checks
//! whether it is needed, so a second run costs a few process spawns.

use crate::suite::{describe, run_status};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Debian packages the tests need, each with a program that tells whether it is installed.
/// Add rows here (e.g. ("chromium", "chromium")) and one `apt-get update` + `install` covers all.
const APT_NEEDS: &[(&str, &str)] = &[
    ("redis-server", "redis-server"),
    ("redis-cli", "redis-tools"),
    // The sentinel suite's three Sentinels (sentinel.rs).
    ("redis-sentinel", "redis-sentinel"),
    // The browser tests: the wasm package's and the playground's (Chromium through
    // playwright-core, which may not download its own browser; Firefox through its own
    // WebDriver BiDi server).
    ("chromium", "chromium"),
    ("firefox-esr", "firefox-esr"),
    // oxidis-lua's C for wasm32 (lua/build.rs): clang-19 compiles it (clang is only ever
    // run with -c, so neither lld-19 nor compiler-rt is needed: rust-lld links).
    ("clang-19", "clang-19"),
    // The real clients suite scrapes both servers with redis_exporter (ops_tools.rs).
    ("prometheus-redis-exporter", "prometheus-redis-exporter"),
];

/// Debian packages that install no program, each with a file that tells whether it is there.
const APT_FILE_NEEDS: &[(&str, &str)] = &[
    // wasi-libc's headers and libc.a (snprintf, strtod, math) for oxidis-lua on wasm32.
    ("/usr/lib/wasm32-wasi/libc.a", "wasi-libc"),
];

/// rustup components used by the suites: (probe cargo subcommand, component).
const RUSTUP_COMPONENTS: &[(&str, &str)] = &[("fmt", "rustfmt"), ("clippy", "clippy")];

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Finds `prog` on PATH.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `cmd` with no input or output; whether it succeeded.
pub fn quiet(mut cmd: Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(mut cmd: Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    let mut cmd = Command::new("id");
    cmd.arg("-u");
    output(cmd).is_some_and(|s| s.trim() == "0")
}

/// `prog args` as root with DEBIAN_FRONTEND=noninteractive: directly when we are root, else
/// through sudo (which fails cleanly without a terminal if it needs a password, as in CI).
/// Through `env`, because sudo resets the environment.
fn as_root(prog: &str, args: &[&str]) -> Command {
    let mut cmd = if is_root() {
        let mut c = Command::new(prog);
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    } else {
        let mut c = Command::new("sudo");
        c.args(["env", "DEBIAN_FRONTEND=noninteractive", prog]);
        c
    };
    cmd.args(args);
    cmd
}

/// Makes sure every prerequisite is there. Returns the problems it could not fix (the suites
/// that need those things will then fail with their own messages too).
pub fn ensure_prerequisites() -> Vec<String> {
    let mut problems = Vec::new();
    println!("==> setup: checking prerequisites");
    if let Err(e) = ensure_rust() {
        problems.push(e);
    }
    match ensure_apt_packages() {
        Ok(installed) => {
            if installed.iter().any(|p| p == "redis-server") {
                stop_system_redis();
            }
            if installed.iter().any(|p| p == "redis-sentinel") {
                stop_system_service("redis-sentinel");
            }
        }
        Err(e) => problems.push(e),
    }
    problems
}

fn ensure_rust() -> Result<(), String> {
    let has_rustup = which("rustup").is_some();
    let mut missing_components = Vec::new();
    for (sub, component) in RUSTUP_COMPONENTS {
        let mut probe = Command::new(crate::cargo());
        probe.args([sub, "--version"]);
        if quiet(probe) {
            println!("    {component}: present");
        } else {
            missing_components.push(*component);
        }
    }
    if !missing_components.is_empty() {
        if !has_rustup {
            return Err(format!(
                "rustup not found: cannot add {}",
                missing_components.join(", ")
            ));
        }
        println!(
            "    adding rustup components {}",
            missing_components.join(" ")
        );
        let mut cmd = Command::new("rustup");
        cmd.args(["component", "add"]).args(&missing_components);
        run_status(cmd)?;
    }
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"]);
    match output(list) {
        Some(t) if t.lines().any(|l| l.trim() == WASM_TARGET) => {
            println!("    rust target {WASM_TARGET}: present");
            Ok(())
        }
        _ if !has_rustup => Err(format!("rustup not found: cannot add target {WASM_TARGET}")),
        _ => {
            println!("    adding rust target {WASM_TARGET}");
            let mut cmd = Command::new("rustup");
            cmd.args(["target", "add", WASM_TARGET]);
            run_status(cmd)
        }
    }
}

/// Installs the missing Debian packages; returns the ones it installed.
fn ensure_apt_packages() -> Result<Vec<String>, String> {
    let mut missing: Vec<&str> = Vec::new();
    for (prog, package) in APT_NEEDS {
        if which(prog).is_some() {
            println!("    {prog}: present");
        } else if !missing.contains(package) {
            missing.push(package);
        }
    }
    for (file, package) in APT_FILE_NEEDS {
        if Path::new(file).exists() {
            println!("    {package}: present");
        } else if !missing.contains(package) {
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let shown = apt_install(&missing)?;
    for (prog, _) in APT_NEEDS {
        if which(prog).is_none() {
            return Err(format!("{prog} still missing after {shown}"));
        }
    }
    for (file, _) in APT_FILE_NEEDS {
        if !Path::new(file).exists() {
            return Err(format!("{file} still missing after {shown}"));
        }
    }
    Ok(missing.iter().map(|s| s.to_string()).collect())
}

/// Installs (one apt-get for all) the packages of the programs in `needs` (program, package)
/// that are not on PATH: for suites that can also run alone (`cargo xtask netsafety`).
pub fn ensure_programs(needs: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(prog, _)| which(prog).is_none())
        .map(|&(_, package)| package)
        .collect();
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    Ok(())
}

/// `apt-get update` and `apt-get install` of `packages` (as root, or through sudo). Returns the
/// install command as shown to the user.
pub fn apt_install(packages: &[&str]) -> Result<String, String> {
    if which("apt-get").is_none() {
        return Err(format!(
            "apt-get not found: install {} by hand",
            packages.join(" ")
        ));
    }
    println!("    installing {} (apt-get)", packages.join(" "));
    run_status(as_root("apt-get", &["update"]))?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(packages);
    let install = as_root("apt-get", &args);
    let shown = describe(&install);
    run_status(install)?;
    Ok(shown)
}

/// `npm ci` in `dir` from its committed package-lock.json, skipped when node_modules was
/// installed from this very lock (a copy of it is kept in node_modules as the stamp).
pub fn npm_ci(dir: &Path) -> Result<(), String> {
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules/.oxidis-installed");
    if is_current(&stamp, &lock) {
        println!("    {}/node_modules: present", short(dir));
        return Ok(());
    }
    if which("node").is_none() || which("npm").is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    println!("    npm ci ({}/node_modules)", short(dir));
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    run_status(cmd)?;
    std::fs::copy(&lock, &stamp).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(())
}

/// A stamp file holding the manifest's text: the install is current when they match.
pub fn is_current(stamp: &Path, manifest: &Path) -> bool {
    match (std::fs::read(stamp), std::fs::read(manifest)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `dir` relative to the repository, for messages.
fn short(dir: &Path) -> String {
    let root = crate::repo_root();
    dir.strip_prefix(&root).unwrap_or(dir).display().to_string()
}

/// Debian's redis-server package starts a system service on 6379 where an init system lets it.
/// The tests use free ports anyway, but that service would take `cargo xtask run`'s default port
/// and keep running for nothing: stop and disable the service we have just installed.
fn stop_system_redis() {
    if Path::new("/run/systemd/system").exists() && which("systemctl").is_some() {
        let _ = quiet(as_root("systemctl", &["disable", "--now", "redis-server"]));
    } else if which("service").is_some() {
        let _ = quiet(as_root("service", &["redis-server", "stop"]));
    }
    // Whatever started it, a redis on 6379 right after we installed it is that service.
    let mut ping = Command::new("redis-cli");
    ping.args(["-p", "6379", "ping"]);
    if output(ping).is_some_and(|s| s.trim() == "PONG") {
        let mut shutdown = Command::new("redis-cli");
        shutdown.args(["-p", "6379", "shutdown", "nosave"]);
        let _ = quiet(shutdown);
    }
    println!("    system redis-server service stopped");
}

/// Stops and disables a service a package has just started (redis-sentinel's on 26379: the
/// suite starts its own Sentinels on free ports).
fn stop_system_service(name: &str) {
    if Path::new("/run/systemd/system").exists() && which("systemctl").is_some() {
        let _ = quiet(as_root("systemctl", &["disable", "--now", name]));
    } else if which("service").is_some() {
        let _ = quiet(as_root("service", &[name, "stop"]));
    }
    println!("    system {name} service stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("surely-no-such-program-here").is_none());
    }
}
