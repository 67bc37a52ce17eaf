//! Several real connections to oxidis-server at once: blocking pops woken by other clients,
//! FIFO among blocked clients, timeouts, pub/sub delivery with exact frames (RESP2 and RESP3
//! pushes), transactions with WATCH, and a subscriber that never reads being disconnected at
//! the pubsub output-buffer limit while the server's memory stays bounded.
//! Expected bytes were taken from Debian's redis-server 7.0.15 given the same requests.

mod common;

use common::*;
use oxidis_core::resp::decode_reply;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A connection that reads whole replies.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn new(srv: &Server) -> Client {
        Client {
            s: srv.connect(),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.s.write_all(&cmd(&args)).expect("write");
    }

    /// The next whole reply's raw bytes (waits up to 20 s).
    fn reply(&mut self) -> String {
        let mut chunk = [0u8; 65536];
        loop {
            if let Ok(Some((_, n))) = decode_reply(&self.buf) {
                let r: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8_lossy(&r).into_owned();
            }
            let n = self.s.read(&mut chunk).expect("read reply");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn call(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.reply()
    }

    /// True if nothing arrives within `ms` (used only to check that a client stays blocked).
    fn quiet_for(&mut self, ms: u64) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.s
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .ok();
        let mut b = [0u8; 1024];
        let quiet = match self.s.read(&mut b) {
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                false
            }
            Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        };
        self.s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        quiet
    }
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
fn blocked_clients(c: &mut Client) -> u64 {
    let info = c.call(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn blpop_is_woken_by_lpush_from_another_connection() {
    let srv = start(&[]);
    let mut waiter = Client::new(&srv);
    let mut pusher = Client::new(&srv);
    waiter.send(&["BLPOP", "jobs", "0"]);
    assert!(waiter.quiet_for(100));
    assert_eq!(pusher.call(&["LPUSH", "jobs", "job1"]), ":1\r\n");
    assert_eq!(waiter.reply(), "*2\r\n$4\r\njobs\r\n$4\r\njob1\r\n");
    assert_eq!(pusher.call(&["EXISTS", "jobs"]), ":0\r\n");
}

#[test]
fn three_blocked_clients_are_served_first_come_first_served() {
    let srv = start(&[]);
    let mut admin = Client::new(&srv);
    let mut waiters: Vec<Client> = (0..3).map(|_| Client::new(&srv)).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send(&["BLPOP", "q", "0"]);
        // Make the blocking order certain before the next one blocks.
        wait_until(|| blocked_clients(&mut admin) == i as u64 + 1);
    }
    assert_eq!(admin.call(&["RPUSH", "q", "a", "b"]), ":2\r\n");
    assert_eq!(waiters[0].reply(), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(waiters[1].reply(), "*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    assert!(waiters[2].quiet_for(100));
    assert_eq!(admin.call(&["RPUSH", "q", "c"]), ":1\r\n");
    assert_eq!(waiters[2].reply(), "*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn timeouts_reply_null_arrays_in_resp2_and_nulls_in_resp3() {
    let srv = start(&[]);
    let mut v2 = Client::new(&srv);
    let mut v3 = Client::new(&srv);
    assert!(v3.call(&["HELLO", "3"]).starts_with("%7\r\n"));
    v2.send(&["BLPOP", "q", "0.2"]);
    v3.send(&["BLPOP", "q", "0.2"]);
    assert_eq!(v2.reply(), "*-1\r\n");
    assert_eq!(v3.reply(), "_\r\n");
    v2.send(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0.05"]);
    assert_eq!(v2.reply(), "*-1\r\n");
    v3.send(&["BZPOPMIN", "z", "0.05"]);
    assert_eq!(v3.reply(), "_\r\n");
    // Still usable afterwards.
    assert_eq!(v2.call(&["PING"]), "+PONG\r\n");
}

#[test]
fn client_unblock_and_a_blocked_client_that_disconnects() {
    let srv = start(&[]);
    let mut admin = Client::new(&srv);
    let mut w = Client::new(&srv);
    let id = w.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    w.send(&["BLPOP", "q", "0"]);
    wait_until(|| blocked_clients(&mut admin) == 1);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1\r\n");
    assert_eq!(
        w.reply(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    w.send(&["BLPOP", "q", "0"]);
    wait_until(|| blocked_clients(&mut admin) == 1);
    drop(w);
    wait_until(|| blocked_clients(&mut admin) == 0);
    assert_eq!(admin.call(&["LPUSH", "q", "x"]), ":1\r\n");
    assert_eq!(admin.call(&["LLEN", "q"]), ":1\r\n");
}

#[test]
fn watch_conflict_makes_exec_return_nil() {
    let srv = start(&[]);
    let mut a = Client::new(&srv);
    let mut b = Client::new(&srv);
    assert_eq!(a.call(&["WATCH", "k"]), "+OK\r\n");
    assert_eq!(b.call(&["SET", "k", "other"]), "+OK\r\n");
    assert_eq!(a.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.call(&["SET", "k", "mine"]), "+QUEUED\r\n");
    assert_eq!(a.call(&["EXEC"]), "*-1\r\n");
    assert_eq!(a.call(&["GET", "k"]), "$5\r\nother\r\n");
    // A MULTI/EXEC that pushes wakes a blocked client after the whole transaction.
    b.send(&["BLPOP", "q", "0"]);
    wait_until(|| blocked_clients(&mut a) == 1);
    assert_eq!(a.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.call(&["RPUSH", "q", "1", "2"]), "+QUEUED\r\n");
    assert_eq!(a.call(&["EXEC"]), "*1\r\n:2\r\n");
    assert_eq!(b.reply(), "*2\r\n$1\r\nq\r\n$1\r\n1\r\n");
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers_with_exact_frames() {
    let srv = start(&[]);
    let mut sub = Client::new(&srv);
    let mut psub = Client::new(&srv);
    let mut publ = Client::new(&srv);
    assert_eq!(
        sub.call(&["SUBSCRIBE", "news"]),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        psub.call(&["PSUBSCRIBE", "n*"]),
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    assert_eq!(publ.call(&["PUBLISH", "news", "hello"]), ":2\r\n");
    assert_eq!(
        sub.reply(),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        psub.reply(),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    // In order, every one of many.
    for i in 0..200 {
        publ.send(&["PUBLISH", "news", &i.to_string()]);
    }
    for i in 0..200 {
        assert_eq!(publ.reply(), ":2\r\n");
        let m = i.to_string();
        let want = format!(
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{m}\r\n",
            m.len()
        );
        assert_eq!(sub.reply(), want);
        assert!(psub.reply().ends_with(&format!("{m}\r\n")));
    }
    assert_eq!(
        sub.call(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(sub.call(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn resp3_subscribers_get_push_frames() {
    let srv = start(&[]);
    let mut sub = Client::new(&srv);
    let mut publ = Client::new(&srv);
    assert!(sub.call(&["HELLO", "3"]).starts_with("%7\r\n"));
    assert_eq!(
        sub.call(&["SUBSCRIBE", "ch"]),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(sub.call(&["GET", "k"]), "_\r\n");
    assert_eq!(publ.call(&["PUBLISH", "ch", "hi"]), ":1\r\n");
    assert_eq!(
        sub.reply(),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    assert_eq!(sub.call(&["PING"]), "+PONG\r\n");
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

fn info_field(c: &mut Client, field: &str) -> u64 {
    let info = c.call(&["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_memory_stays_bounded() {
    let srv = start(&[]);
    let mut other = Client::new(&srv);
    let mut sub = Client::new(&srv);
    sub.call(&["SUBSCRIBE", "flood"]);
    let before = info_field(&mut other, "used_memory");
    // 4000 messages of 64 KiB: 256 MiB published to a subscriber that reads nothing; the
    // default pubsub hard limit is 32 MiB.
    let payload = "x".repeat(64 * 1024);
    let total = 4000;
    let addr = srv.addr();
    let publisher = std::thread::spawn(move || {
        let mut p = TcpStream::connect(addr).expect("connect");
        let req = cmd(&[b"PUBLISH", b"flood", payload.as_bytes()]);
        let mut buf = Vec::new();
        let mut replies = Vec::new();
        let mut chunk = [0u8; 65536];
        for _ in 0..total {
            p.write_all(&req).expect("publish");
            // Drain replies now and then so neither side's buffers fill.
            p.set_nonblocking(true).ok();
            while let Ok(n) = p.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            p.set_nonblocking(false).ok();
        }
        p.set_read_timeout(Some(Duration::from_secs(20))).ok();
        loop {
            while let Ok(Some((_, n))) = decode_reply(&buf) {
                replies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                buf.drain(..n);
            }
            if replies.len() >= total {
                return replies;
            }
            let n = p.read(&mut chunk).expect("read replies");
            assert!(n > 0, "publisher connection closed");
            buf.extend_from_slice(&chunk[..n]);
        }
    });
    let replies = publisher.join().expect("publisher thread");
    // Delivered while the subscriber was there, then to nobody once it was dropped.
    assert_eq!(replies.first().map(String::as_str), Some(":1\r\n"));
    assert_eq!(replies.last().map(String::as_str), Some(":0\r\n"));
    assert_eq!(
        other.call(&["PUBSUB", "NUMSUB", "flood"]),
        "*2\r\n$5\r\nflood\r\n:0\r\n"
    );
    // The server kept serving others, and never held anything near what was published.
    assert_eq!(other.call(&["PING"]), "+PONG\r\n");
    let peak = peak_rss(srv.child.id());
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
    let (_, closed) = read_to_close(&mut sub.s, Duration::from_secs(20));
    assert!(closed, "the subscriber was not disconnected");
}
