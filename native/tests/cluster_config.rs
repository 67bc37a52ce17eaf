//! nodes.conf is written before the replies go out, as redis-server 7.0 does (clusterBeforeSleep
//! runs before handleClientsWithPendingWrites; CLUSTER SAVECONFIG writes before it replies).
//! Each check runs on oxidis-server and on Debian's redis-server 7.0.15 (which proves it;
//! a missing redis-server fails the test, as CI installs it). The node's working directory
//! is removed under it, so every write of nodes.conf fails (open with O_CREAT: ENOENT).

mod common;

use common::{connect, fresh_dir, Server};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

const REDIS: &str = "/usr/bin/redis-server";

fn start(bin: &str) -> (Server, std::path::PathBuf) {
    let dir = std::cell::RefCell::new(None);
    let args = |port: u16| -> Vec<OsString> {
        let d = fresh_dir(port).join("node");
        std::fs::create_dir_all(&d).unwrap();
        *dir.borrow_mut() = Some(d.clone());
        let mut v: Vec<OsString> = vec!["--port".into(), port.to_string().into()];
        v.extend(["--dir".into(), d.into_os_string()]);
        for a in [
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
        ] {
            v.push(a.into());
        }
        v
    };
    let name = Path::new(bin)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let srv = oxidis_testkit::server::start(
        &name,
        Path::new(bin),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        args,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = dir.borrow().clone().expect("started");
    (srv, d)
}

/// CLUSTER SAVECONFIG reports the failed write ("-ERR error saving the cluster node config:
/// No such file or directory") and the node keeps serving; a change that asks for a save
/// (ADDSLOTS) then ends the process before its reply is sent (clusterSaveConfigOrDie).
fn check(bin: &str) {
    let (mut srv, dir) = start(bin);
    let mut c = connect(&srv);
    let mut call = |args: &[&str]| {
        c.send(args).unwrap();
        String::from_utf8(c.read_reply_bytes().unwrap()).unwrap()
    };
    assert_eq!(call(&["CLUSTER", "SAVECONFIG"]), "+OK\r\n", "{bin}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        call(&["CLUSTER", "SAVECONFIG"]),
        "-ERR error saving the cluster node config: No such file or directory\r\n",
        "{bin}"
    );
    assert_eq!(call(&["PING"]), "+PONG\r\n", "{bin}");
    c.send(&["CLUSTER", "ADDSLOTS", "5"]).unwrap();
    let (rest, closed) = c.read_to_close(Duration::from_secs(10));
    assert!(
        closed && rest.is_empty(),
        "{bin}: the reply went out before nodes.conf was written: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(srv.wait_exit(Duration::from_secs(10)).is_some(), "{bin}");
    assert!(
        srv.log_tail(5)
            .contains("Fatal: can't update cluster config file."),
        "{bin}: {}",
        srv.log_tail(5)
    );
}

#[test]
fn nodes_conf_is_written_before_the_reply() {
    check(common::BIN);
    check(REDIS);
}
