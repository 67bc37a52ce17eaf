//! Several real connections to oxidis-server at once: blocking pops woken by other clients,
//! FIFO among blocked clients, timeouts, pub/sub delivery with exact frames (RESP2 and RESP3
//! pushes), transactions with WATCH, and a subscriber that never reads being disconnected at
//! the pubsub output-buffer limit while the server's memory stays bounded.
//! Expected bytes were taken from Debian's redis-server 7.0.15 given the same requests.

mod common;

use common::*;
use oxidis_core::resp::encode_request;
use std::io::Write;
use std::time::{Duration, Instant};

/// Sends a request; its reply is read later.
fn send(c: &mut Conn, args: &[&str]) {
    c.send(args).expect("write");
}

/// The next whole reply's raw bytes, as text (waits up to 20 s).
fn reply(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.read_reply_bytes().expect("read reply")).into_owned()
}

fn call(c: &mut Conn, args: &[&str]) -> String {
    send(c, args);
    reply(c)
}

/// True if nothing arrives within `ms` (used only to check that a client stays blocked).
fn quiet_for(c: &mut Conn, ms: u64) -> bool {
    c.quiet_for(Duration::from_millis(ms)).expect("read")
}

/// Waits until `cond` holds (polling the server), at most 10 s.
fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Blocked clients as INFO reports them.
fn blocked_clients(c: &mut Conn) -> u64 {
    let info = call(c, &["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn blpop_is_woken_by_lpush_from_another_connection() {
    let srv = start(&[]);
    let mut waiter = connect(&srv);
    let mut pusher = connect(&srv);
    send(&mut waiter, &["BLPOP", "jobs", "0"]);
    assert!(quiet_for(&mut waiter, 100));
    assert_eq!(call(&mut pusher, &["LPUSH", "jobs", "job1"]), ":1\r\n");
    assert_eq!(reply(&mut waiter), "*2\r\n$4\r\njobs\r\n$4\r\njob1\r\n");
    assert_eq!(call(&mut pusher, &["EXISTS", "jobs"]), ":0\r\n");
}

#[test]
fn three_blocked_clients_are_served_first_come_first_served() {
    let srv = start(&[]);
    let mut admin = connect(&srv);
    let mut waiters: Vec<Conn> = (0..3).map(|_| connect(&srv)).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BLPOP", "q", "0"]);
        // Make the blocking order certain before the next one blocks.
        wait_until(|| blocked_clients(&mut admin) == i as u64 + 1);
    }
    assert_eq!(call(&mut admin, &["RPUSH", "q", "a", "b"]), ":2\r\n");
    assert_eq!(reply(&mut waiters[0]), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(reply(&mut waiters[1]), "*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    assert!(quiet_for(&mut waiters[2], 100));
    assert_eq!(call(&mut admin, &["RPUSH", "q", "c"]), ":1\r\n");
    assert_eq!(reply(&mut waiters[2]), "*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn timeouts_reply_null_arrays_in_resp2_and_nulls_in_resp3() {
    let srv = start(&[]);
    let mut v2 = connect(&srv);
    let mut v3 = connect(&srv);
    assert!(call(&mut v3, &["HELLO", "3"]).starts_with("%7\r\n"));
    send(&mut v2, &["BLPOP", "q", "0.2"]);
    send(&mut v3, &["BLPOP", "q", "0.2"]);
    assert_eq!(reply(&mut v2), "*-1\r\n");
    assert_eq!(reply(&mut v3), "_\r\n");
    send(&mut v2, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0.05"]);
    assert_eq!(reply(&mut v2), "*-1\r\n");
    send(&mut v3, &["BZPOPMIN", "z", "0.05"]);
    assert_eq!(reply(&mut v3), "_\r\n");
    // Still usable afterwards.
    assert_eq!(call(&mut v2, &["PING"]), "+PONG\r\n");
}

#[test]
fn client_unblock_and_a_blocked_client_that_disconnects() {
    let srv = start(&[]);
    let mut admin = connect(&srv);
    let mut w = connect(&srv);
    let id = call(&mut w, &["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_until(|| blocked_clients(&mut admin) == 1);
    assert_eq!(
        call(&mut admin, &["CLIENT", "UNBLOCK", &id, "ERROR"]),
        ":1\r\n"
    );
    assert_eq!(
        reply(&mut w),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_until(|| blocked_clients(&mut admin) == 1);
    drop(w);
    wait_until(|| blocked_clients(&mut admin) == 0);
    assert_eq!(call(&mut admin, &["LPUSH", "q", "x"]), ":1\r\n");
    assert_eq!(call(&mut admin, &["LLEN", "q"]), ":1\r\n");
}

#[test]
fn watch_conflict_makes_exec_return_nil() {
    let srv = start(&[]);
    let mut a = connect(&srv);
    let mut b = connect(&srv);
    assert_eq!(call(&mut a, &["WATCH", "k"]), "+OK\r\n");
    assert_eq!(call(&mut b, &["SET", "k", "other"]), "+OK\r\n");
    assert_eq!(call(&mut a, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut a, &["SET", "k", "mine"]), "+QUEUED\r\n");
    assert_eq!(call(&mut a, &["EXEC"]), "*-1\r\n");
    assert_eq!(call(&mut a, &["GET", "k"]), "$5\r\nother\r\n");
    // A MULTI/EXEC that pushes wakes a blocked client after the whole transaction.
    send(&mut b, &["BLPOP", "q", "0"]);
    wait_until(|| blocked_clients(&mut a) == 1);
    assert_eq!(call(&mut a, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut a, &["RPUSH", "q", "1", "2"]), "+QUEUED\r\n");
    assert_eq!(call(&mut a, &["EXEC"]), "*1\r\n:2\r\n");
    assert_eq!(reply(&mut b), "*2\r\n$1\r\nq\r\n$1\r\n1\r\n");
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers_with_exact_frames() {
    let srv = start(&[]);
    let mut sub = connect(&srv);
    let mut psub = connect(&srv);
    let mut publ = connect(&srv);
    assert_eq!(
        call(&mut sub, &["SUBSCRIBE", "news"]),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        call(&mut psub, &["PSUBSCRIBE", "n*"]),
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    assert_eq!(call(&mut publ, &["PUBLISH", "news", "hello"]), ":2\r\n");
    assert_eq!(
        reply(&mut sub),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        reply(&mut psub),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    // In order, every one of many.
    for i in 0..200 {
        send(&mut publ, &["PUBLISH", "news", &i.to_string()]);
    }
    for i in 0..200 {
        assert_eq!(reply(&mut publ), ":2\r\n");
        let m = i.to_string();
        let want = format!(
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{m}\r\n",
            m.len()
        );
        assert_eq!(reply(&mut sub), want);
        assert!(reply(&mut psub).ends_with(&format!("{m}\r\n")));
    }
    assert_eq!(
        call(&mut sub, &["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(call(&mut sub, &["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn resp3_subscribers_get_push_frames() {
    let srv = start(&[]);
    let mut sub = connect(&srv);
    let mut publ = connect(&srv);
    assert!(call(&mut sub, &["HELLO", "3"]).starts_with("%7\r\n"));
    assert_eq!(
        call(&mut sub, &["SUBSCRIBE", "ch"]),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(call(&mut sub, &["GET", "k"]), "_\r\n");
    assert_eq!(call(&mut publ, &["PUBLISH", "ch", "hi"]), ":1\r\n");
    assert_eq!(
        reply(&mut sub),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    assert_eq!(call(&mut sub, &["PING"]), "+PONG\r\n");
}

/// VmHWM (peak resident set) of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn info_field(c: &mut Conn, field: &str) -> u64 {
    let info = call(c, &["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_memory_stays_bounded() {
    let srv = start(&[]);
    let mut other = connect(&srv);
    let mut sub = connect(&srv);
    call(&mut sub, &["SUBSCRIBE", "flood"]);
    let before = info_field(&mut other, "used_memory");
    // 4000 messages of 64 KiB: 256 MiB published to a subscriber that reads nothing; the
    // default pubsub hard limit is 32 MiB.
    let payload = "x".repeat(64 * 1024);
    let total = 4000;
    let addr = srv.addr();
    let publisher = std::thread::spawn(move || {
        let mut p = Conn::connect(&addr).expect("connect");
        let req = encode_request(&[&b"PUBLISH"[..], b"flood", payload.as_bytes()]);
        // Written from a second thread while this one reads the replies, so neither side's
        // buffers fill.
        let mut w = p.stream().try_clone().expect("clone");
        let writer = std::thread::spawn(move || {
            for _ in 0..total {
                w.write_all(&req).expect("publish");
            }
        });
        let replies: Vec<String> = (0..total).map(|_| reply(&mut p)).collect();
        writer.join().expect("writer thread");
        replies
    });
    let replies = publisher.join().expect("publisher thread");
    // Delivered while the subscriber was there, then to nobody once it was dropped.
    assert_eq!(replies.first().map(String::as_str), Some(":1\r\n"));
    assert_eq!(replies.last().map(String::as_str), Some(":0\r\n"));
    assert_eq!(
        call(&mut other, &["PUBSUB", "NUMSUB", "flood"]),
        "*2\r\n$5\r\nflood\r\n:0\r\n"
    );
    // The server kept serving others, and never held anything near what was published.
    assert_eq!(call(&mut other, &["PING"]), "+PONG\r\n");
    let peak = peak_rss(srv.pid());
    assert!(peak > 0, "no VmHWM for the server");
    assert!(
        peak < 160 << 20,
        "peak RSS {peak} bytes while 256 MiB were published"
    );
    let after = info_field(&mut other, "used_memory");
    eprintln!("peak RSS {peak}, used_memory before {before}, after {after}");
    assert!(
        after < before + (8 << 20),
        "used_memory {before} -> {after}: the dropped buffer was not freed"
    );
    // The subscriber's socket ends after whatever the kernel had buffered.
    let (_, closed) = sub.read_to_close(Duration::from_secs(20));
    assert!(closed, "the subscriber was not disconnected");
}
