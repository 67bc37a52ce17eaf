//! MIGRATE inside MULTI/EXEC and inside a script runs synchronously, as Redis's migrateCommand
//! always does (the caller cannot wait for the event loop there): the keys move and EXEC /
//! EVAL see +OK. A target that cannot be reached gives Redis's IOERR. Checked with an
//! oxidis-server source and, to prove the test, a redis-server source (a missing redis-server
//! fails the test, as CI installs it); the target is an oxidis-server.

mod common;

use common::{connect, start, Server};
use std::ffi::OsString;
use std::path::Path;

fn redis() -> Server {
    oxidis_testkit::server::start(
        "redis-server",
        Path::new("/usr/bin/redis-server"),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        |port| -> Vec<OsString> {
            [
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .iter()
            .map(OsString::from)
            .collect()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn check(src: &Server, name: &str) {
    let dst = start(&[]);
    let mut a = connect(src);
    let mut b = connect(&dst);
    let call = |c: &mut oxidis_testkit::Conn, args: &[&str]| {
        c.send(args).unwrap();
        String::from_utf8(c.read_reply_bytes().unwrap()).unwrap()
    };
    let port = dst.port().to_string();
    call(&mut a, &["FLUSHALL"]);
    call(&mut a, &["SET", "k1", "v1"]);
    call(&mut a, &["SET", "k2", "v2"]);
    assert_eq!(call(&mut a, &["MULTI"]), "+OK\r\n");
    call(&mut a, &["MIGRATE", "127.0.0.1", &port, "k1", "0", "2000"]);
    assert_eq!(call(&mut a, &["EXEC"]), "*1\r\n+OK\r\n", "{name}");
    assert_eq!(call(&mut a, &["EXISTS", "k1"]), ":0\r\n", "{name}");
    assert_eq!(call(&mut b, &["GET", "k1"]), "$2\r\nv1\r\n", "{name}");
    let script =
        format!("return redis.call('MIGRATE','127.0.0.1','{port}','k2','3','2000','COPY')");
    assert_eq!(call(&mut a, &["EVAL", &script, "0"]), "+OK\r\n", "{name}");
    assert_eq!(call(&mut a, &["EXISTS", "k2"]), ":1\r\n", "{name}");
    call(&mut b, &["SELECT", "3"]);
    assert_eq!(call(&mut b, &["GET", "k2"]), "$2\r\nv2\r\n", "{name}");
    // Again: the target has it now (BUSYKEY), the first error is the reply.
    let r = call(&mut a, &["EVAL", &script, "0"]);
    assert!(
        r.starts_with("-ERR Target instance replied with error: BUSYKEY Target key name already exists. script: "),
        "{name}: {r:?}"
    );
    // Nothing listens on the port of a stopped server.
    let gone = start(&[]);
    let gone_port = gone.port().to_string();
    drop(gone);
    call(&mut a, &["MULTI"]);
    call(
        &mut a,
        &["MIGRATE", "127.0.0.1", &gone_port, "k2", "0", "500"],
    );
    let r = call(&mut a, &["EXEC"]);
    assert!(
        r.starts_with("*1\r\n-IOERR error or timeout "),
        "{name}: {r:?}"
    );
}

#[test]
fn migrate_in_multi_and_scripts_runs_synchronously() {
    check(&start(&[]), "oxidis-server");
    check(&redis(), "redis-server");
}
