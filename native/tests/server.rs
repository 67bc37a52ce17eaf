//! Integration tests over real sockets against the oxidis-server binary.
//! Expected texts were taken from Debian's redis-server 7.0.15 fed the same bytes.

mod common;

use common::*;
use oxidis_core::resp::encode_request;
use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn ping_and_echo() {
    let srv = start(&[]);
    let mut s = connect(&srv);
    s.send_raw(b"PING\r\n").unwrap();
    assert_eq!(s.read_exact(7).unwrap(), b"+PONG\r\n");
    s.send(&["ECHO", "hello world"]).unwrap();
    assert_eq!(s.read_exact(18).unwrap(), b"$11\r\nhello world\r\n");
    s.send(&["ECHO", ""]).unwrap();
    assert_eq!(s.read_exact(6).unwrap(), b"$0\r\n\r\n");
}

#[test]
fn pipeline_of_10k_pings_in_one_write() {
    let srv = start(&[]);
    let mut s = connect(&srv);
    let n = 10_000;
    s.send_raw(&b"*1\r\n$4\r\nPING\r\n".repeat(n)).unwrap();
    let got = s.read_exact(7 * n).unwrap();
    assert!(got.chunks(7).all(|c| c == b"+PONG\r\n"));
    assert_ping(&mut s);
}

#[test]
fn request_sent_byte_by_byte() {
    let srv = start(&[]);
    let mut s = connect(&srv);
    let req = [encode_request(&["ECHO", "abc"]), b"PING\r\n".to_vec()].concat();
    for b in &req {
        s.send_raw(std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(s.read_exact(9 + 7).unwrap(), b"$3\r\nabc\r\n+PONG\r\n");
}

#[test]
fn big_reply_to_a_slow_reader_while_others_are_served() {
    let srv = start(&[]);
    let size = 50 << 20;
    let value: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let mut big = connect(&srv);
    big.send(&[&b"ECHO"[..], &value]).unwrap();
    let header = format!("${size}\r\n").into_bytes();
    let total = header.len() + size + 2;

    // Read the first megabytes slowly, so the server meets a full socket buffer many times;
    // meanwhile another client is served.
    let mut other = connect(&srv);
    let mut got = Vec::with_capacity(total);
    let mut chunk = vec![0u8; 64 * 1024];
    while got.len() < 4 << 20 {
        let n = big.read_some(&mut chunk).unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&chunk[..n]);
        assert_ping(&mut other);
        std::thread::sleep(Duration::from_millis(2));
    }
    while got.len() < total {
        let n = big.read_some(&mut chunk).unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got.len(), total);
    assert_eq!(&got[..header.len()], &header[..]);
    assert!(got[header.len()..header.len() + size] == value[..]);
    assert_eq!(&got[total - 2..], b"\r\n");
    assert_ping(&mut big);
}

/// Bytes that break the protocol get Redis's error and the connection closes, while another
/// client keeps being served.
fn protocol_error(input: &[u8], expected: &[u8]) {
    let srv = start(&[]);
    let mut bystander = connect(&srv);
    assert_ping(&mut bystander);
    let mut bad = connect(&srv);
    // The server may close before it has read everything: a failed write is expected.
    let _ = bad.send_raw(input);
    let (got, closed) = bad.read_to_close(Duration::from_secs(20));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
    assert!(closed, "the connection stayed open");
    assert_ping(&mut bystander);
}

#[test]
fn garbage_bytes() {
    protocol_error(
        b"*1\r\nfoo\r\n\x00\xff\x01",
        b"-ERR Protocol error: expected '$', got 'f'\r\n",
    );
}

#[test]
fn huge_multibulk_length() {
    protocol_error(
        b"*999999999999\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn bulk_length_over_512mb() {
    protocol_error(
        b"*1\r\n$600000000\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn two_megabyte_inline_line() {
    let mut line = vec![b'a'; 2 << 20];
    line.extend_from_slice(b"\r\n");
    protocol_error(&line, b"-ERR Protocol error: too big inline request\r\n");
}

#[test]
fn quit_replies_ok_then_closes() {
    let srv = start(&[]);
    let mut s = connect(&srv);
    s.send_raw(b"PING\r\nQUIT\r\nPING\r\n").unwrap();
    let (got, closed) = s.read_to_close(Duration::from_secs(20));
    assert_eq!(got, b"+PONG\r\n+OK\r\n");
    assert!(closed);
}

#[test]
fn idle_client_is_closed_after_timeout() {
    let srv = start(&["--timeout", "1"]);
    let mut idle = connect(&srv);
    assert_ping(&mut idle);
    // Wait for the close with a deadline well past the timeout (no timing assertion).
    let (got, closed) = idle.read_to_close(Duration::from_secs(30));
    assert!(got.is_empty());
    assert!(closed, "idle client was not closed");
    // The server still accepts and serves new clients.
    let mut fresh = connect(&srv);
    assert_ping(&mut fresh);
}

#[test]
fn sigterm_exits_zero() {
    let mut srv = start(&[]);
    let mut s = connect(&srv);
    assert_ping(&mut s);
    let status = srv
        .terminate(Duration::from_secs(10))
        .expect("server did not exit");
    assert_eq!(status.code(), Some(0));
    let (_, closed) = s.read_to_close(Duration::from_secs(10));
    assert!(closed);
    assert!(Conn::connect(&srv.addr()).is_err());
}

fn start_fails(args: &[&str]) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_child(&mut child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{args:?}: {err}");
    err
}

#[test]
fn bad_value_fails_to_start() {
    let port = free_port().unwrap().to_string();
    let err = start_fails(&["--bind", "127.0.0.1", "--timeout", "soon", "--port", &port]);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR (Oxidis"), "{err}");
    assert!(
        err.contains("Reading the configuration file, at line 3\n>>> 'timeout \"soon\"'\n"),
        "{err}"
    );
}

#[test]
fn unknown_option_fails_to_start() {
    let port = free_port().unwrap().to_string();
    let err = start_fails(&["--port", &port, "--no-such-option", "1"]);
    assert!(
        err.contains(
            "at line 3\n>>> 'no-such-option \"1\"'\nBad directive or wrong number of arguments\n"
        ),
        "{err}"
    );
}

#[test]
fn port_zero_listens_nowhere() {
    let err = start_fails(&["--port", "0"]);
    assert!(
        err.contains("Configured to not listen anywhere, exiting."),
        "{err}"
    );
}

#[test]
fn missing_config_file() {
    let err = start_fails(&["/nonexistent/oxidis.conf"]);
    assert!(
        err.contains("Fatal error, can't open config file '/nonexistent/oxidis.conf'"),
        "{err}"
    );
}

#[test]
fn version_flag() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "Oxidis server v={} (redis 7.0.15 compatible)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn config_file_and_options() {
    let dir = std::env::temp_dir().join(format!("oxidis-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("oxidis.conf");
    // The file says port 1 and bind on a dead address; the command line wins, as in Redis.
    std::fs::write(&conf, "# a comment\nbind 192.0.2.1\nport 1\ntimeout 0\n").unwrap();
    let conf = conf.display().to_string();
    let srv = start_with(|port| {
        let mut args = [
            conf.as_str(),
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ]
        .map(OsString::from)
        .to_vec();
        args.extend(["--dir".into(), fresh_dir(port).into()]);
        args
    });
    let mut s = connect(&srv);
    assert_ping(&mut s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ipv4_and_ipv6_on_one_port() {
    // `-::1` is optional, as in Redis's default `bind * -::*`: skipped where IPv6 is missing.
    let srv = start(&["--bind", "127.0.0.1", "-::1"]);
    assert_ping(&mut connect(&srv));
    if let Ok(mut s6) = Conn::connect(&format!("[::1]:{}", srv.port())) {
        assert_ping(&mut s6);
    }
}

#[test]
fn two_thousand_concurrent_clients() {
    let srv = start(&[]);
    let n = 2000;
    let mut conns: Vec<Conn> = (0..n).map(|_| connect(&srv)).collect();
    for s in &mut conns {
        s.send_raw(b"*1\r\n$4\r\nPING\r\n").unwrap();
    }
    for s in &mut conns {
        assert_eq!(s.read_exact(7).unwrap(), b"+PONG\r\n");
    }
    // All still open and served.
    for s in conns.iter_mut().step_by(97) {
        assert_ping(s);
    }
}

/// `--daemonize yes`: the launching process exits 0 at once, the server keeps running in the
/// background with its pid in `pidfile` and its log in `logfile`, and removes the pid file when
/// it shuts down.
#[test]
fn daemonize_writes_the_pidfile_and_logfile() {
    let port = free_port().unwrap();
    let dir = std::env::temp_dir().join(format!("oxidis-daemon-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("oxidis.pid");
    let logfile = dir.join("oxidis.log");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_oxidis-server"))
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--daemonize",
            "yes",
        ])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(&logfile)
        .arg("--dir")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "the launcher exits 0");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        if let Ok(s) = Conn::connect(&format!("127.0.0.1:{port}")) {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_ping(&mut s);
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    s.send(&["SHUTDOWN", "NOSAVE"]).unwrap();
    let _ = s.read_to_close(Duration::from_secs(10));
    // Gone, or a zombie waiting for init to reap it.
    let running = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|st| {
            !st.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
    };
    while running(pid) {
        assert!(
            std::time::Instant::now() < deadline + Duration::from_secs(10),
            "still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pidfile.exists(), "the pid file is removed at shutdown");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("Ready to accept connections"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A script in an infinite loop: past busy-reply-threshold another client gets BUSY, SCRIPT
/// KILL stops it, its caller gets the kill error, and the server answers normally afterwards.
#[test]
fn busy_script_gets_busy_replies_and_script_kill() {
    let srv = start(&["--busy-reply-threshold", "200"]);
    let mut a = connect(&srv);
    let mut b = connect(&srv);
    assert_ping(&mut b);
    a.send(&["EVAL", "while true do end", "0"]).unwrap();
    // B's PING waits until the script is busy, then gets BUSY (the read's deadline is 20 s).
    b.send(&["PING"]).unwrap();
    assert_eq!(
        b.read_reply_bytes().unwrap(),
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    // A connection opened while the script runs is served too (redis-cli SCRIPT KILL).
    let mut c = connect(&srv);
    c.send(&["PING"]).unwrap();
    assert_eq!(
        c.read_reply_bytes().unwrap(),
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    c.send(&["SCRIPT", "KILL"]).unwrap();
    assert_eq!(c.read_reply_bytes().unwrap(), b"+OK\r\n");
    let killed = String::from_utf8_lossy(&a.read_reply_bytes().unwrap()).into_owned();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert_ping(&mut b);
    assert_ping(&mut a);
    assert_ping(&mut c);
    b.send(&["SCRIPT", "KILL"]).unwrap();
    assert_eq!(
        b.read_reply_bytes().unwrap(),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
}

/// A function in an infinite loop: other clients get the FUNCTION flavour of BUSY, SCRIPT KILL
/// refuses it, FUNCTION STATS shows it running, FUNCTION KILL stops it.
#[test]
fn busy_function_gets_function_busy_replies_and_function_kill() {
    let srv = start(&["--busy-reply-threshold", "200"]);
    let mut a = connect(&srv);
    let mut b = connect(&srv);
    a.send(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
    ])
    .unwrap();
    assert_eq!(a.read_reply_bytes().unwrap(), b"$4\r\nspin\r\n");
    a.send(&["FCALL", "spin", "0"]).unwrap();
    let busy: &[u8] =
        b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    b.send(&["PING"]).unwrap();
    assert_eq!(b.read_reply_bytes().unwrap(), busy);
    b.send(&["SCRIPT", "KILL"]).unwrap();
    assert_eq!(b.read_reply_bytes().unwrap(), busy);
    b.send(&["FUNCTION", "STATS"]).unwrap();
    let stats = String::from_utf8_lossy(&b.read_reply_bytes().unwrap()).into_owned();
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"),
        "{stats}"
    );
    b.send(&["FUNCTION", "KILL"]).unwrap();
    assert_eq!(b.read_reply_bytes().unwrap(), b"+OK\r\n");
    assert_eq!(
        a.read_reply_bytes().unwrap(),
        b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    assert_ping(&mut a);
    assert_ping(&mut b);
}

/// `loglevel`: at `warning` neither notice lines (Ready to accept connections) nor verbose
/// ones are written; CONFIG SET loglevel verbose brings Redis's verbose lines for accepted
/// and closed connections.
#[test]
fn loglevel_filters_the_log_and_config_set_changes_it() {
    let port = free_port().unwrap();
    let dir = fresh_dir(port);
    let logfile = dir.join("oxidis.log");
    let srv = start_with(|p| {
        vec![
            "--port".into(),
            p.to_string().into(),
            "--dir".into(),
            dir.clone().into(),
            "--logfile".into(),
            logfile.clone().into(),
            "--loglevel".into(),
            "warning".into(),
        ]
    });
    let mut c = connect(&srv);
    assert_ping(&mut c);
    drop(connect(&srv));
    let log = || std::fs::read_to_string(&logfile).unwrap_or_default();
    assert!(log().contains("Configuration loaded"), "{}", log());
    assert!(!log().contains("Ready to accept connections"), "{}", log());
    c.send(&["CONFIG", "SET", "loglevel", "verbose"]).unwrap();
    assert_eq!(c.read_exact(5).unwrap(), b"+OK\r\n");
    let mut d = connect(&srv);
    assert_ping(&mut d);
    drop(d);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(log().contains(" - Accepted 127.0.0.1:")
        && log().contains(" - Client closed connection id="))
    {
        assert!(std::time::Instant::now() < deadline, "{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(log().matches(" - Accepted ").count(), 1, "{}", log());
}
