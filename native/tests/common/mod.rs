//! Starting the real oxidis-server binary for integration tests.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_oxidis-server");

/// A running server, killed (by its own pid) when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        s
    }

    /// Sends SIGTERM and waits (with a deadline) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        wait_exit(&mut self.child, Duration::from_secs(10)).expect("server did not exit")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts the server with `args` on a free port and waits until it accepts connections. A
/// port taken between choosing and binding makes the server exit; then another is tried.
pub fn start(args: &[&str]) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(BIN)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn oxidis-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break; // exited: the port was taken, try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server { child, port };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("oxidis-server did not start listening on {port}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("could not start oxidis-server");
}

/// Encodes a request as a RESP multibulk.
pub fn cmd(args: &[&[u8]]) -> Vec<u8> {
    oxidis_core::resp::encode_request(args)
}

/// Reads exactly `n` bytes.
pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("read reply");
    buf
}

/// Reads until EOF (or a reset, which a peer that closes with unread input causes). Returns
/// everything received and whether the connection ended (false: the read timed out).
pub fn read_to_close(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(limit)).ok();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// One read, retried when a signal interrupts it (std's `read` does not retry EINTR).
pub fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    loop {
        match s.read(buf) {
            Ok(n) => return n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Writes all of `bytes`, ignoring a peer that closes early (it may reject the input midway).
pub fn write_lossy(s: &mut TcpStream, bytes: &[u8]) {
    let _ = s.write_all(bytes);
}

/// PINGs on `s` and expects PONG.
pub fn assert_ping(s: &mut TcpStream) {
    s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write PING");
    assert_eq!(read_n(s, 7), b"+PONG\r\n");
}
