//! Starting the real oxidis-server binary for integration tests (testkit's `Server` and
//! `Conn`, with the panicking shorthands tests want).

#![allow(dead_code, unused_imports)]

pub use oxidis_testkit::server::{free_port, wait_child};
pub use oxidis_testkit::{Conn, Server};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const BIN: &str = env!("CARGO_BIN_EXE_oxidis-server");

/// Starts the server with `args` after `--port P --dir D` on a free port P, in a fresh
/// working directory D (so no dump.rdb from an earlier test is loaded, and none is left in
/// the source tree), and waits until it accepts connections.
pub fn start(args: &[&str]) -> Server {
    start_with(|port| {
        let mut v: Vec<OsString> = vec![
            "--port".into(),
            port.to_string().into(),
            "--dir".into(),
            fresh_dir(port).into(),
        ];
        v.extend(args.iter().map(OsString::from));
        v
    })
}

/// An empty working directory for the server on `port`.
pub fn fresh_dir(port: u16) -> PathBuf {
    let dir = tmp_dir().join(format!("dir-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("server directory");
    dir
}

/// Cargo's scratch directory for integration tests.
fn tmp_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxidis-server")
}

/// Starts the server with the arguments `args(port)`; its output goes to a log in cargo's
/// scratch directory for tests.
pub fn start_with(args: impl Fn(u16) -> Vec<OsString>) -> Server {
    oxidis_testkit::server::start("oxidis-server", Path::new(BIN), &tmp_dir(), args)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A connection to `srv`.
pub fn connect(srv: &Server) -> Conn {
    srv.connect().expect("connect")
}

/// PINGs on `c` and expects PONG.
pub fn assert_ping(c: &mut Conn) {
    c.send_raw(b"*1\r\n$4\r\nPING\r\n").expect("write PING");
    assert_eq!(c.read_exact(7).expect("read PONG"), b"+PONG\r\n");
}
