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

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a freshly spawned server has to start accepting connections.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// A loopback port nobody listens on right now: bind port 0, read what the kernel chose, close.
/// (Another process could take it before the server binds; on a test machine that is rare, and
/// the server then fails to start with a clear message rather than talking to a stranger.)
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let port = l
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?
        .port();
    Ok(port)
}

/// Polls `addr` until it accepts a TCP connection or `deadline` passes. `alive` is asked between
/// attempts so a server that exited at once is reported at once instead of at the deadline.
pub fn wait_for_accept(
    addr: &str,
    deadline: Instant,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let mut pause = Duration::from_millis(5);
    loop {
        if TcpStream::connect_timeout(&sock, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        alive()?;
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("{addr} did not accept connections in time"));
        }
        // Back off gently (5 ms .. 100 ms), never sleeping past the deadline.
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// A running server child process; dropping it stops the process (SIGTERM, then SIGKILL).
pub struct Server {
    name: String,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Spawns `cmd` (stdout and stderr to `log`) and waits until 127.0.0.1:`port` accepts.
    pub fn spawn(name: &str, mut cmd: Command, port: u16, log: &Path) -> Result<Server, String> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        let mut server = Server {
            name: name.to_string(),
            child,
            port,
            log: log.to_path_buf(),
        };
        let addr = server.addr();
        let deadline = Instant::now() + START_DEADLINE;
        let child = &mut server.child;
        let started = wait_for_accept(&addr, deadline, || match child.try_wait() {
            Ok(Some(status)) => Err(format!("{name} exited at start ({status})")),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("{name}: {e}")),
        });
        if let Err(e) = started {
            // `server` drops here, stopping the process if it is still up.
            return Err(format!("{e}\n{}", server.log_tail(20)));
        }
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id (crash tests SIGKILL it; the bench reads its RSS from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself (SHUTDOWN), up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// "127.0.0.1:PORT"
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The last `n` lines the server wrote, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        format!(
            "--- last lines of {} ({}) ---\n{}",
            self.log.display(),
            self.name,
            lines[from..].join("\n")
        )
    }

    /// Stops the process by PID: SIGTERM, up to 5 s to exit, then SIGKILL.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // std has no SIGTERM; kill(1) is in procps on every Debian.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where test servers write their logs: target/xtask/logs.
pub fn log_dir() -> PathBuf {
    crate::target_dir().join("xtask/logs")
}

/// Debian's redis-server on a free loopback port, without persistence (nothing written to disk).
pub fn start_redis() -> Result<Server, String> {
    let port = free_port()?;
    let mut cmd = Command::new("redis-server");
    cmd.args(server_args(port));
    Server::spawn(
        "redis-server",
        cmd,
        port,
        &log_dir().join(format!("redis-{port}.log")),
    )
}

/// The command line both servers get (redis-server's flag names, which oxidis-server shares),
/// so differential suites compare like with like: loopback on `port`, no persistence, and a
/// fresh, empty working directory of its own (so nothing lands in the repo if a test sends
/// SAVE, and no stray dump.rdb from elsewhere is loaded at start).
pub fn server_args(port: u16) -> Vec<String> {
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// oxidis-server (the binary at `bin`) on a free loopback port.
pub fn start_oxidis(bin: &Path) -> Result<Server, String> {
    let port = free_port()?;
    let mut cmd = Command::new(bin);
    cmd.args(server_args(port));
    Server::spawn(
        "oxidis-server",
        cmd,
        port,
        &log_dir().join(format!("oxidis-{port}.log")),
    )
}

/// The oxidis-server binary of a cargo profile ("debug" or "release").
pub fn oxidis_bin(profile: &str) -> PathBuf {
    crate::target_dir()
        .join(profile)
        .join(format!("oxidis-server{}", std::env::consts::EXE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let p = free_port().unwrap();
        assert_ne!(p, 0);
        TcpListener::bind(("127.0.0.1", p)).unwrap();
    }

    #[test]
    fn wait_for_accept_sees_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(wait_for_accept(&addr, deadline, || Ok(())), Ok(()));
    }

    #[test]
    fn wait_for_accept_reports_a_dead_server_at_once() {
        let addr = format!("127.0.0.1:{}", free_port().unwrap());
        // A deadline far away: the liveness check must end the wait, not the clock.
        let deadline = Instant::now() + Duration::from_secs(3600);
        let r = wait_for_accept(&addr, deadline, || Err("exited".to_string()));
        assert_eq!(r, Err("exited".to_string()));
    }

    fn scratch_log(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("xtask-test-{tag}-{}.log", std::process::id()))
    }

    #[test]
    fn a_server_that_exits_at_start_is_reported_with_its_log() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo cannot bind; exit 3"]);
        let log = scratch_log("exit");
        let port = free_port().unwrap();
        let err = Server::spawn("fake", cmd, port, &log).err().unwrap();
        assert!(err.contains("fake exited at start"), "{err}");
        assert!(err.contains("cannot bind"), "{err}");
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn dropping_a_server_stops_it() {
        // A stand-in server: python3 listening on the port until killed.
        let port = free_port().unwrap();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import socket,sys,time\n\
             s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8)\n\
             while True: time.sleep(1)",
        ])
        .arg(port.to_string());
        let log = scratch_log("drop");
        let server = Server::spawn("fake", cmd, port, &log).unwrap();
        let addr = server.addr();
        assert!(TcpStream::connect(&addr).is_ok());
        drop(server);
        assert!(TcpStream::connect(&addr).is_err());
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn wait_for_accept_gives_up_at_the_deadline() {
        let addr = format!("127.0.0.1:{}", free_port().unwrap());
        let r = wait_for_accept(&addr, Instant::now(), || Ok(()));
        assert!(r.unwrap_err().contains("did not accept"));
    }
}
