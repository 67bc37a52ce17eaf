//! The cluster bus codec (core's `cluster_bus`) against Debian's redis-server 7.0.15 over real
//! sockets. A redis-server in cluster mode is met by two fake nodes written with nothing but
//! `encode` / `decode` and plain TCP: redis's PONG to our MEET and its PINGs (with gossip) are
//! decoded and checked against what CLUSTER MYID / NODES / INFO say; our PONGs complete the
//! handshakes (CLUSTER NODES shows both fakes connected, hostnames included); then an UPDATE,
//! a FAIL, a PUBLISH and a PUBLISHSHARD from a fake have their effect on redis (slots move,
//! the epoch follows our header, a node is marked failing, subscribers get the messages), and
//! a FAILOVER_AUTH_REQUEST from a fake turned replica gets redis's vote (FAILOVER_AUTH_ACK).
//! redis-server must be installed (CI's setup does it): a missing one fails the test.

use oxidis_core::cluster_bus::{self as bus, Body, Header, Message, PingExt};
use oxidis_core::Reply;
use oxidis_testkit::{server, Conn, Server};
use std::ffi::OsString;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// CLUSTER_NODE_* (cluster.h).
const MASTER: u16 = 1;
const SLAVE: u16 = 2;
const MYSELF: u16 = 16;
/// How long anything may take (generous: the machine is shared).
const WAIT: Duration = Duration::from_secs(30);

type Slots = Box<[u8; 2048]>;

fn bitmap(ranges: &[(u16, u16)]) -> Slots {
    let mut s = Box::new([0u8; 2048]);
    for &(a, b) in ranges {
        for i in a..=b {
            s[i as usize >> 3] |= 1 << (i & 7);
        }
    }
    s
}

/// What a fake node claims about itself in its headers.
struct FakeState {
    current_epoch: u64,
    config_epoch: u64,
    slots: Slots,
    /// All zeros for a master.
    slaveof: [u8; 40],
    flags: u16,
}

/// A fake cluster node: a name, an announced port, a bus listener answering PINGs with PONGs.
#[derive(Clone)]
struct Fake {
    name: [u8; 40],
    port: u16,
    cport: u16,
    hostname: String,
    state: Arc<Mutex<FakeState>>,
}

/// What the fakes' bus readers saw: (fake's index, message) or a reader's failure.
type Seen = Result<(usize, Message), String>;

impl Fake {
    fn start(index: usize, name: &str, hostname: &str, seen: Sender<Seen>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a bus port");
        let cport = listener.local_addr().unwrap().port();
        let fake = Fake {
            name: name.as_bytes().try_into().expect("40-byte name"),
            // The client port is only announced (nobody connects to it).
            port: cport.wrapping_sub(10000),
            cport,
            hostname: hostname.into(),
            state: Arc::new(Mutex::new(FakeState {
                current_epoch: 0,
                config_epoch: 0,
                slots: bitmap(&[]),
                slaveof: [0; 40],
                flags: MYSELF | MASTER,
            })),
        };
        let f = fake.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (f, seen) = (f.clone(), seen.clone());
                std::thread::spawn(move || f.serve(index, conn, seen));
            }
        });
        fake
    }

    fn header(&self, type_: u16) -> Header {
        let st = self.state.lock().unwrap();
        Header {
            type_,
            count: 0,
            port: self.port,
            current_epoch: st.current_epoch,
            config_epoch: st.config_epoch,
            offset: 0,
            sender: self.name,
            myslots: st.slots.clone(),
            slaveof: st.slaveof,
            myip: String::new(),
            pport: 0,
            cport: self.cport,
            flags: st.flags,
            state: 0,
            mflags: [0; 3],
        }
    }

    /// A PING / PONG / MEET about ourselves, as redis would send it (hostname extension).
    fn ping(&self, type_: u16) -> Message {
        Message {
            header: self.header(type_),
            body: Body::Ping {
                gossip: vec![],
                exts: vec![PingExt::Hostname(self.hostname.clone())],
            },
        }
    }

    /// One connection redis opened to our bus port: decode everything, PONG every PING.
    fn serve(&self, index: usize, mut conn: TcpStream, seen: Sender<Seen>) {
        loop {
            let msg = match read_message(&mut conn) {
                Ok(Some(m)) => m,
                Ok(None) => return,
                Err(e) => {
                    let _ = seen.send(Err(e));
                    return;
                }
            };
            let t = msg.header.type_;
            let _ = seen.send(Ok((index, msg)));
            if t == bus::TYPE_PING || t == bus::TYPE_MEET {
                let pong = bus::encode(&self.ping(bus::TYPE_PONG));
                if conn.write_all(&pong).is_err() {
                    return;
                }
            }
        }
    }
}

/// The next whole message on `conn` (None at end of stream), cut with `frame_len` and decoded.
fn read_message(conn: &mut TcpStream) -> Result<Option<Message>, String> {
    let mut buf = vec![0u8; 8];
    match conn.read_exact(&mut buf) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(format!("bus read: {e}")),
    }
    let len = match bus::frame_len(&buf) {
        Some(Ok(n)) => n,
        other => return Err(format!("bad frame prefix {buf:?}: {other:?}")),
    };
    buf.resize(len, 0);
    conn.read_exact(&mut buf[8..])
        .map_err(|e| format!("bus read: {e}"))?;
    bus::decode(&buf).map(Some).map_err(|e| {
        format!(
            "redis sent bytes we do not decode ({e:?}): {:?}",
            &buf[..64]
        )
    })
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Error(b) => String::from_utf8_lossy(b).into(),
        Reply::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn call(c: &mut Conn, args: &[&str]) -> String {
    text(&c.call_ok(args).unwrap_or_else(|e| panic!("{e}")))
}

/// CLUSTER NODES as lines of fields.
fn nodes(c: &mut Conn) -> Vec<Vec<String>> {
    call(c, &["CLUSTER", "NODES"])
        .lines()
        .map(|l| l.split(' ').map(String::from).collect())
        .collect()
}

fn node_line(c: &mut Conn, name: &[u8]) -> Option<Vec<String>> {
    let name = std::str::from_utf8(name).unwrap();
    nodes(c).into_iter().find(|l| l[0] == name)
}

fn cluster_info(c: &mut Conn, field: &str) -> String {
    let info = call(c, &["CLUSTER", "INFO"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in CLUSTER INFO: {info}"))
        .trim()
        .to_string()
}

/// Polls `f` until it gives something, failing with `what` and CLUSTER NODES after WAIT.
fn wait_for<T>(c: &mut Conn, what: &str, mut f: impl FnMut(&mut Conn) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(x) = f(c) {
            return x;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; CLUSTER NODES:\n{}",
                call(c, &["CLUSTER", "NODES"])
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The next message the fakes' readers saw that `want` accepts (others are skipped).
fn next_seen(
    seen: &Receiver<Seen>,
    what: &str,
    want: impl Fn(usize, &Message) -> bool,
) -> (usize, Message) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(Ok((i, m))) if want(i, &m) => return (i, m),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("{e}"),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

fn scratch() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-bus-redis");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start_redis(dir: &Path) -> (Server, u16) {
    let cport = server::free_port().unwrap();
    let d = dir.to_path_buf();
    let srv = server::start("redis-server", Path::new("redis-server"), dir, move |p| {
        let conf = d.join(format!("nodes-{p}.conf"));
        let _ = std::fs::remove_file(&conf);
        [
            "--port",
            &p.to_string(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            conf.to_str().unwrap(),
            "--cluster-port",
            &cport.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            d.to_str().unwrap(),
        ]
        .iter()
        .map(OsString::from)
        .collect()
    })
    .unwrap_or_else(|e| panic!("redis-server (required by this test) did not start: {e}"));
    (srv, cport)
}

/// The header fields redis sends about itself, against what its commands say.
fn check_redis_header(h: &Header, myid: &str, port: u16, cport: u16, slots: &Slots, c: &mut Conn) {
    assert_eq!(std::str::from_utf8(&h.sender).unwrap(), myid);
    assert_eq!(h.slaveof, [0; 40], "a master sends a null slaveof");
    assert_eq!(h.port, port);
    assert_eq!(h.cport, cport);
    assert_eq!(h.pport, 0, "no TLS: no plaintext port");
    assert_eq!(h.flags, MYSELF | MASTER, "redis sends myself->flags");
    assert_eq!(&h.myslots, slots);
    assert_eq!(h.myip, "", "no cluster-announce-ip");
    let cur: u64 = cluster_info(c, "cluster_current_epoch").parse().unwrap();
    let my: u64 = cluster_info(c, "cluster_my_epoch").parse().unwrap();
    assert_eq!((h.current_epoch, h.config_epoch), (cur, my));
    let state = cluster_info(c, "cluster_state");
    assert_eq!(
        h.state,
        if state == "ok" { 0 } else { 1 },
        "cluster_state {state}"
    );
    let offset = c.info_field("replication", "master_repl_offset").unwrap();
    assert_eq!(h.offset.to_string(), offset);
}

#[test]
fn redis_server_speaks_our_cluster_bus() {
    let dir = scratch();
    let (redis, rcport) = start_redis(&dir);
    let rport = redis.port();
    let mut c = redis.connect().unwrap();
    call(&mut c, &["CLUSTER", "ADDSLOTSRANGE", "0", "999"]);
    call(&mut c, &["CLUSTER", "SET-CONFIG-EPOCH", "5"]);
    call(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "cluster-announce-hostname",
            "redis-one.test",
        ],
    );
    let myid = call(&mut c, &["CLUSTER", "MYID"]);
    let mut redis_slots = bitmap(&[(0, 999)]);

    let (tx, seen) = mpsc::channel();
    let a = Fake::start(0, &format!("{:a>39}1", ""), "fake-a.test", tx.clone());
    let b = Fake::start(1, &format!("{:b>39}2", ""), "fake-b.test", tx);
    let fakes = [&a, &b];

    // MEET from each fake on a connection to redis's bus port; redis answers with a PONG.
    let mut outbound = Vec::new();
    for f in fakes {
        let mut s = TcpStream::connect(("127.0.0.1", rcport)).expect("connect to redis's bus");
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(&bus::encode(&f.ping(bus::TYPE_MEET))).unwrap();
        let pong = read_message(&mut s).unwrap().expect("a PONG to our MEET");
        assert_eq!(pong.header.type_, bus::TYPE_PONG);
        check_redis_header(&pong.header, &myid, rport, rcport, &redis_slots, &mut c);
        assert_eq!(
            pong.header.mflags[0] & bus::FLAG0_EXT_DATA,
            bus::FLAG0_EXT_DATA
        );
        let Body::Ping { exts, .. } = &pong.body else {
            panic!("a PONG has a ping body: {pong:?}")
        };
        assert_eq!(exts, &[PingExt::Hostname("redis-one.test".into())]);
        outbound.push(s);
    }

    // Redis connects to each fake's bus port with a handshake PING; our PONG (with our real
    // name) completes the handshake: both fakes are connected masters, hostnames known.
    for f in fakes {
        let addr = format!("127.0.0.1:{}@{},{}", f.port, f.cport, f.hostname);
        wait_for(&mut c, "the handshake to complete", |c| {
            let l = node_line(c, &f.name)?;
            (l[1] == addr && l[2] == "master" && l[3] == "-" && l[7] == "connected").then_some(())
        });
    }

    // A PING from redis carries gossip about the fakes (redis picks gossip at random, so
    // wait for one that has it; it may be about the receiver itself: clusterSendPing skips
    // only myself).
    let (_, ping) = next_seen(&seen, "a PING with gossip", |_, m| {
        m.header.type_ == bus::TYPE_PING
            && matches!(&m.body, Body::Ping { gossip, .. } if !gossip.is_empty())
    });
    check_redis_header(&ping.header, &myid, rport, rcport, &redis_slots, &mut c);
    let Body::Ping { gossip, exts } = &ping.body else {
        unreachable!()
    };
    assert_eq!(exts, &[PingExt::Hostname("redis-one.test".into())]);
    assert_eq!(ping.header.count as usize, gossip.len());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for g in gossip {
        let f = fakes
            .iter()
            .find(|f| f.name == g.nodename)
            .unwrap_or_else(|| panic!("gossip about a node redis does not know: {g:?}"));
        assert_eq!(
            (g.ip.as_str(), g.port, g.cport, g.pport),
            ("127.0.0.1", f.port, f.cport, 0)
        );
        assert_eq!(g.flags, MASTER);
        // Seconds (ms/1000), not milliseconds: close to the wall clock's seconds.
        assert!(
            (g.pong_received as i64 - now).abs() < 3600,
            "pong_received {} vs {now}",
            g.pong_received
        );
    }

    // UPDATE from A about B with a newer config epoch: redis gives B the slots, and takes
    // A's header's currentEpoch.
    a.state.lock().unwrap().current_epoch = 10;
    let update = Message {
        header: a.header(bus::TYPE_UPDATE),
        body: Body::Update {
            config_epoch: 10,
            nodename: b.name,
            slots: bitmap(&[(0, 99)]),
        },
    };
    outbound[0].write_all(&bus::encode(&update)).unwrap();
    wait_for(&mut c, "the UPDATE's slots to move", |c| {
        let l = node_line(c, &b.name)?;
        let me = node_line(c, myid.as_bytes())?;
        (l[6] == "10" && l[8..] == ["0-99"] && me[8..] == ["100-999"]).then_some(())
    });
    assert_eq!(cluster_info(&mut c, "cluster_current_epoch"), "10");
    {
        let mut st = b.state.lock().unwrap();
        st.current_epoch = 10;
        st.config_epoch = 10;
        st.slots = bitmap(&[(0, 99)]);
    }
    redis_slots = bitmap(&[(100, 999)]);
    // Its next PONG says so too.
    outbound[1]
        .write_all(&bus::encode(&b.ping(bus::TYPE_PING)))
        .unwrap();
    let pong = read_message(&mut outbound[1])
        .unwrap()
        .expect("a PONG to our PING");
    check_redis_header(&pong.header, &myid, rport, rcport, &redis_slots, &mut c);

    // FAIL from A about B: redis marks B failing (B serves slots, so it stays so for
    // 2 * node-timeout).
    let fail = Message {
        header: a.header(bus::TYPE_FAIL),
        body: Body::Fail { about: b.name },
    };
    outbound[0].write_all(&bus::encode(&fail)).unwrap();
    wait_for(&mut c, "B marked failing", |c| {
        (node_line(c, &b.name)?[2] == "master,fail").then_some(())
    });

    // PUBLISH and PUBLISHSHARD from A reach redis's subscribers.
    let mut sub = redis.connect().unwrap();
    sub.call_ok(&["SUBSCRIBE", "news"]).unwrap();
    let shard_channel = (0..)
        .map(|i| format!("shard-{i}"))
        .find(|ch| {
            let slot: u16 = call(&mut c, &["CLUSTER", "KEYSLOT", ch]).parse().unwrap();
            (100..=999).contains(&slot)
        })
        .unwrap();
    sub.call_ok(&["SSUBSCRIBE", &shard_channel]).unwrap();
    for (type_, channel, message, kind) in [
        (bus::TYPE_PUBLISH, "news", "hello from the bus", "message"),
        (
            bus::TYPE_PUBLISHSHARD,
            shard_channel.as_str(),
            "to the shard",
            "smessage",
        ),
    ] {
        let publish = Message {
            header: a.header(type_),
            body: Body::Publish {
                channel: channel.into(),
                message: message.into(),
            },
        };
        outbound[0].write_all(&bus::encode(&publish)).unwrap();
        let got = sub.read_reply().unwrap();
        let want = Reply::Array(vec![
            Reply::Bulk(kind.into()),
            Reply::Bulk(channel.into()),
            Reply::Bulk(message.into()),
        ]);
        assert_eq!(got, want);
    }

    // A becomes a replica of the failed B (its PING says so), then asks for a vote with a
    // newer epoch: redis, a master with slots, grants it (FAILOVER_AUTH_ACK on its link to
    // A) and records the vote in nodes.conf.
    {
        let mut st = a.state.lock().unwrap();
        st.slaveof = b.name;
        st.flags = MYSELF | SLAVE;
        st.config_epoch = 10;
        st.slots = bitmap(&[(0, 99)]);
    }
    outbound[0]
        .write_all(&bus::encode(&a.ping(bus::TYPE_PING)))
        .unwrap();
    let pong = read_message(&mut outbound[0])
        .unwrap()
        .expect("a PONG to our PING");
    assert_eq!(pong.header.type_, bus::TYPE_PONG);
    let b_id = std::str::from_utf8(&b.name).unwrap().to_string();
    wait_for(&mut c, "A seen as B's replica", |c| {
        let l = node_line(c, &a.name)?;
        (l[2] == "slave" && l[3] == b_id).then_some(())
    });
    a.state.lock().unwrap().current_epoch = 11;
    let request = Message {
        header: a.header(bus::TYPE_FAILOVER_AUTH_REQUEST),
        body: Body::Empty,
    };
    outbound[0].write_all(&bus::encode(&request)).unwrap();
    let (_, ack) = next_seen(&seen, "a FAILOVER_AUTH_ACK to A", |i, m| {
        i == 0 && m.header.type_ == bus::TYPE_FAILOVER_AUTH_ACK
    });
    assert_eq!(ack.body, Body::Empty);
    assert_eq!(std::str::from_utf8(&ack.header.sender).unwrap(), myid);
    assert_eq!(ack.header.current_epoch, 11);
    call(&mut c, &["CLUSTER", "SAVECONFIG"]);
    let conf = std::fs::read_to_string(dir.join(format!("nodes-{rport}.conf"))).unwrap();
    assert_eq!(
        conf.lines().last(),
        Some("vars currentEpoch 11 lastVoteEpoch 11"),
        "{conf}"
    );

    // cluster-announce-ip / -port / -bus-port go into the header's myip, port and cport.
    call(
        &mut c,
        &["CONFIG", "SET", "cluster-announce-ip", "10.1.2.3"],
    );
    call(&mut c, &["CONFIG", "SET", "cluster-announce-port", "4321"]);
    call(
        &mut c,
        &["CONFIG", "SET", "cluster-announce-bus-port", "14321"],
    );
    outbound[1]
        .write_all(&bus::encode(&b.ping(bus::TYPE_PING)))
        .unwrap();
    let pong = read_message(&mut outbound[1])
        .unwrap()
        .expect("a PONG to our PING");
    let h = &pong.header;
    assert_eq!(
        (h.myip.as_str(), h.port, h.cport),
        ("10.1.2.3", 4321, 14321)
    );

    // Everything redis sent the fakes meanwhile decoded.
    while let Ok(s) = seen.try_recv() {
        if let Err(e) = s {
            panic!("{e}");
        }
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}
