//! Server processes for tests: a free loopback port, waiting until a server accepts, and
//! [`Server`], a child process stopped (by its own PID) when dropped, so a failing or
//! panicking test never leaves a server behind.
//!
//! ```text
//! let srv = server::start("oxidis-server", bin, &logs, |port| vec!["--port".into(), port.to_string()])?;
//! let mut c = srv.connect()?;
//! // stopped here: SIGTERM, then SIGKILL if it does not exit
//! ```

use crate::Conn;
use std::ffi::OsString;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a freshly spawned server has to start accepting connections.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// How many ports `start` tries when a server exits at once (its port taken meanwhile).
const START_TRIES: usize = 5;

/// A loopback port nobody listens on right now: bind port 0, read what the kernel chose, close.
/// (Another process could take it before the server binds; `start` then tries another.)
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

/// Waits up to `limit` for `child` to exit.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `bin` with the arguments `args(port)` on a free port (its output to
/// `log_dir/NAME-PORT.log`) and waits until it accepts. A server that exits at once (its port
/// taken between choosing and binding) is retried on another port.
pub fn start(
    name: &str,
    bin: &Path,
    log_dir: &Path,
    args: impl Fn(u16) -> Vec<OsString>,
) -> Result<Server, String> {
    let mut last = String::new();
    for _ in 0..START_TRIES {
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.args(args(port));
        let log = log_dir.join(format!("{name}-{port}.log"));
        match Server::spawn(name, cmd, port, &log) {
            Ok(s) => return Ok(s),
            Err(e) if e.contains(EXITED_AT_START) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

const EXITED_AT_START: &str = "exited at start";

/// Whether process `pid` holds a listening TCP socket on `port` (Linux's /proc/net/tcp and
/// /proc/PID/fd); `None` where that cannot be read.
fn listens_on(pid: u32, port: u16) -> Option<bool> {
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // "sl local_address rem_address st ... inode": local "0100007F:1F90", st 0A = LISTEN.
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && f.get(3) == Some(&"0A") {
                sockets.extend(f.get(9).map(|inode| format!("socket:[{inode}]")));
            }
        }
    }
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
    }))
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
        let pid = server.pid();
        let child = &mut server.child;
        let mut alive = || match child.try_wait() {
            Ok(Some(status)) => Err(format!("{name} {EXITED_AT_START} ({status})")),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("{name}: {e}")),
        };
        // Another process (a test running beside this one) may have taken the port between
        // free_port and the bind: then the connection is to a stranger, and our child is
        // about to exit. Wait until the listener is the child's own.
        let started = loop {
            if let Err(e) = wait_for_accept(&addr, deadline, &mut alive) {
                break Err(e);
            }
            if listens_on(pid, port) != Some(false) {
                break Ok(());
            }
            if let Err(e) = alive() {
                break Err(e);
            }
            if Instant::now() >= deadline {
                break Err(format!("{addr} is held by another process"));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Err(e) = started {
            // `server` drops here, stopping the process if it is still up.
            return Err(format!("{e}\n{}", server.log_tail(20)));
        }
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// "127.0.0.1:PORT"
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A new connection to the server.
    pub fn connect(&self) -> Result<Conn, String> {
        Conn::connect(&self.addr())
    }

    /// The process id (crash tests SIGKILL it; the bench reads its RSS from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself (SHUTDOWN), up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, limit)
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.wait_exit(limit)
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
        if self.terminate(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
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

    #[test]
    fn a_listener_is_told_from_one_of_another_process() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(listens_on(std::process::id(), port), Some(true));
        // pid 1 (init) does not listen on our port.
        assert_ne!(listens_on(1, port), Some(true));
        drop(l);
        assert_eq!(listens_on(std::process::id(), port), Some(false));
    }

    #[test]
    fn a_port_held_by_another_process_is_not_taken_for_the_server() {
        // The "server" exits at once, as one that cannot bind does, while a stranger (this
        // process) listens on its port: that is an exit at start, not a started server.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.2; exit 1"]);
        let log = scratch_dir("held").join("fake.log");
        let err = Server::spawn("fake", cmd, port, &log).err().unwrap();
        assert!(err.contains("fake exited at start"), "{err}");
        let _ = std::fs::remove_dir_all(scratch_dir("held"));
    }

    #[test]
    fn wait_for_accept_gives_up_at_the_deadline() {
        let addr = format!("127.0.0.1:{}", free_port().unwrap());
        let r = wait_for_accept(&addr, Instant::now(), || Ok(()));
        assert!(r.unwrap_err().contains("did not accept"));
    }

    fn scratch_dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("testkit-{tag}-{}", std::process::id()))
    }

    #[test]
    fn a_server_that_exits_at_start_is_retried_then_reported_with_its_log() {
        let dir = scratch_dir("exit");
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let err = start("fake", Path::new("sh"), &dir, |_| {
            tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            vec!["-c".into(), "echo cannot bind; exit 3".into()]
        })
        .err()
        .unwrap();
        assert!(err.contains("fake exited at start"), "{err}");
        assert!(err.contains("cannot bind"), "{err}");
        assert_eq!(tries.into_inner(), START_TRIES);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn dropping_a_server_stops_it_and_terminate_reports_the_status() {
        // A stand-in server: python3 listening on the port until killed.
        let listen = |port: u16| -> Vec<OsString> {
            vec![
                "-c".into(),
                "import socket,sys,time\n\
                 s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8)\n\
                 while True: time.sleep(1)"
                    .into(),
                port.to_string().into(),
            ]
        };
        let dir = scratch_dir("drop");
        let server = start("fake", Path::new("python3"), &dir, listen).unwrap();
        let addr = server.addr();
        assert!(server.connect().is_ok());
        drop(server);
        assert!(TcpStream::connect(&addr).is_err());
        let mut server = start("fake", Path::new("python3"), &dir, listen).unwrap();
        let st = server.terminate(Duration::from_secs(10)).expect("exited");
        assert!(!st.success(), "{st}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
