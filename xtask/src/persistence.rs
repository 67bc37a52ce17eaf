//! `cargo xtask test persistence`: RDB/AOF interoperability and durability against Debian's
//! redis-server, on real files.
//!
//! - redis-server's RDB (every type, small and large encodings, TTLs, binary keys, several
//!   databases) loads into oxidis-server with identical contents, and oxidis-server's RDB
//!   loads into redis-server with identical contents (HyperLogLogs: the same bytes and the same
//!   PFCOUNT, bitmaps with BITCOUNT/BITPOS); `redis-check-rdb` accepts Oxidis's file.
//! - DUMP payloads restore on the other server in both directions.
//! - FUNCTION libraries: redis-server's RDB with two libraries loads into oxidis-server and
//!   FCALL works, and the reverse; FUNCTION DUMP payloads are the same bytes and restore on the
//!   other server both ways; oxidis-server keeps them across AOF restarts and a rewrite.
//! - Crash: acknowledged writes with `appendfsync always` survive SIGKILL at a random moment.
//! - Clients woken in every blocking command (BLPOP ... BZMPOP, XREAD, XREADGROUP): after
//!   SIGKILL and a restart the popped elements stay popped, as on redis-server.
//! - A torn last AOF command loads with `aof-load-truncated yes` and refuses with `no`.
//! - BGSAVE of 1M keys: a probing client's worst PING latency is reported (not asserted).
//! - DEBUG LOADAOF (after a rewrite, with an RDB preamble and incr files) gives back the same
//!   dataset: DEBUG DIGEST before and after are equal, and equal to redis-server's.
//! - MISCONF, on both servers alike: after a failed BGSAVE (its directory deleted) writes and
//!   PING are refused with Redis's text, reads served, and a BGSAVE into a working directory
//!   ends it; with the AOF on a full disk (a 1 MB tmpfs: needs root to mount it) writes are
//!   refused, acknowledged ones survive, and writes resume once space is freed.

use crate::servers::{self, Server};
use crate::suite::Suite;
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A connection with a deadline long enough for SAVE and SHUTDOWN of big data sets.
fn connect(addr: &str) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    c.set_timeout(Duration::from_secs(60));
    Ok(c)
}

fn bytes(r: &Reply) -> Vec<u8> {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) => b.clone(),
        Reply::Int(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

fn items(r: Reply) -> Vec<Vec<u8>> {
    match r {
        Reply::Array(v) | Reply::Set(v) => v.iter().map(bytes).collect(),
        _ => Vec::new(),
    }
}

/// A reply as text, with unix-ms times (>= 10^12) shown as `T`: the stream dumps of two
/// servers fed the same commands at different moments agree on everything else.
fn render_masking_times(r: &Reply) -> String {
    match r {
        Reply::Int(n) if *n >= 1_000_000_000_000 => "T".into(),
        Reply::Int(n) => n.to_string(),
        Reply::Bulk(b) | Reply::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            let parts: Vec<String> = v.iter().map(render_masking_times).collect();
            format!("[{}]", parts.join(" "))
        }
        Reply::Map(v) => {
            let parts: Vec<String> = v
                .iter()
                .map(|(a, b)| format!("{}={}", render_masking_times(a), render_masking_times(b)))
                .collect();
            format!("{{{}}}", parts.join(" "))
        }
        other => format!("{other:?}"),
    }
}

fn s(v: &str) -> Vec<u8> {
    v.as_bytes().to_vec()
}

/// The dataset both directions use: every type in small and large encodings, TTLs, binary
/// keys and values, databases 0, 1 and 9.
fn dataset() -> Vec<Vec<Vec<u8>>> {
    let mut c: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |v: Vec<Vec<u8>>| c.push(v);
    add(vec![s("SELECT"), s("0")]);
    add(vec![s("SET"), s("str"), s("hello")]);
    add(vec![s("SET"), s("int"), s("12345")]);
    add(vec![s("SET"), s("bigint"), s("-9223372036854775808")]);
    add(vec![s("SET"), s("long"), "abc".repeat(200).into_bytes()]);
    add(vec![
        s("SET"),
        b"bin\x00\xff\r\nkey".to_vec(),
        b"\x00\x01\x02\xfe\xff".to_vec(),
    ]);
    add(vec![s("SET"), s("ttl"), s("v"), s("PX"), s("86400000")]);
    add(vec![s("SET"), s("empty"), s("")]);
    add(vec![
        s("RPUSH"),
        s("list"),
        s("a"),
        s("1"),
        s("-2"),
        s("x y z"),
    ]);
    let mut big = vec![s("RPUSH"), s("biglist")];
    big.extend((0..5000).map(|i| format!("element-{i}").into_bytes()));
    add(big);
    add(vec![s("HSET"), s("hash"), s("f1"), s("v1"), s("n"), s("7")]);
    let mut h = vec![s("HSET"), s("bighash")];
    for i in 0..700 {
        h.push(format!("field:{i}").into_bytes());
        h.push(format!("value:{i}").into_bytes());
    }
    add(h);
    add(vec![
        s("HSET"),
        s("longhash"),
        s("f"),
        "v".repeat(100).into_bytes(),
    ]);
    add(vec![
        s("SADD"),
        s("iset"),
        s("1"),
        s("-70000"),
        s("5000000000"),
    ]);
    add(vec![s("SADD"), s("set"), s("a"), s("b"), b"\x00".to_vec()]);
    let mut bs = vec![s("SADD"), s("bigiset")];
    bs.extend((0..600).map(|i| (i * 3).to_string().into_bytes()));
    add(bs);
    add(vec![
        s("ZADD"),
        s("zset"),
        s("1"),
        s("a"),
        s("2.5"),
        s("b"),
        s("-inf"),
        s("c"),
        s("1e300"),
        s("d"),
    ]);
    let mut z = vec![s("ZADD"), s("bigzset")];
    for i in 0..300 {
        z.push(format!("{}", f64::from(i) * 0.37 - 20.0).into_bytes());
        z.push(format!("m{i}").into_bytes());
    }
    add(z);
    add(vec![
        s("ZADD"),
        s("longzset"),
        s("3"),
        "z".repeat(100).into_bytes(),
    ]);
    // Streams: a small one, one across many nodes with deleted entries (tombstones inside
    // nodes and whole nodes gone), one emptied by XTRIM (an empty stream key stays).
    add(vec![
        s("XADD"),
        s("stream"),
        s("1-1"),
        s("a"),
        s("1"),
        s("b"),
        s("x"),
    ]);
    add(vec![
        s("XADD"),
        s("stream"),
        s("1-2"),
        s("a"),
        s("2"),
        s("b"),
        s("y"),
    ]);
    add(vec![
        s("XADD"),
        s("stream"),
        s("5-0"),
        s("c"),
        "z".repeat(100).into_bytes(),
    ]);
    for i in 0..1000 {
        let f = if i % 7 == 0 { "other" } else { "f" };
        add(vec![
            s("XADD"),
            s("bigstream"),
            format!("{}-{}", 1000 + i / 3, i % 3).into_bytes(),
            s(f),
            format!("value-{i}").into_bytes(),
            s("n"),
            i.to_string().into_bytes(),
        ]);
    }
    let mut del = vec![s("XDEL"), s("bigstream")];
    del.extend(
        (0..1000)
            .step_by(3)
            .map(|i| format!("{}-{}", 1000 + i / 3, i % 3).into_bytes()),
    );
    add(del);
    add(vec![s("XTRIM"), s("bigstream"), s("MINID"), s("1100")]);
    // Consumer groups: pending entries across consumers, a NOACK group, an empty consumer,
    // a group whose last ID is past a deleted entry.
    add(vec![
        s("XGROUP"),
        s("CREATE"),
        s("bigstream"),
        s("g1"),
        s("0"),
    ]);
    add(vec![
        s("XGROUP"),
        s("CREATE"),
        s("bigstream"),
        s("g2"),
        s("$"),
    ]);
    add(vec![
        s("XGROUP"),
        s("CREATE"),
        s("bigstream"),
        s("g0"),
        s("1200-0"),
        s("ENTRIESREAD"),
        s("50"),
    ]);
    for (consumer, n) in [("alice", "10"), ("bob", "25"), ("carol", "3")] {
        add(vec![
            s("XREADGROUP"),
            s("GROUP"),
            s("g1"),
            s(consumer),
            s("COUNT"),
            s(n),
            s("STREAMS"),
            s("bigstream"),
            s(">"),
        ]);
    }
    add(vec![
        s("XREADGROUP"),
        s("GROUP"),
        s("g0"),
        s("dave"),
        s("NOACK"),
        s("COUNT"),
        s("7"),
        s("STREAMS"),
        s("bigstream"),
        s(">"),
    ]);
    add(vec![
        s("XGROUP"),
        s("CREATECONSUMER"),
        s("bigstream"),
        s("g2"),
        s("idle"),
    ]);
    add(vec![
        s("XCLAIM"),
        s("bigstream"),
        s("g1"),
        s("carol"),
        s("0"),
        s("1100-1"),
        s("1100-2"),
        s("TIME"),
        s("1000"),
        s("RETRYCOUNT"),
        s("9"),
    ]);
    add(vec![s("XACK"), s("bigstream"), s("g1"), s("1101-1")]);
    add(vec![
        s("XGROUP"),
        s("CREATE"),
        s("stream"),
        s("solo"),
        s("0"),
    ]);
    add(vec![
        s("XREADGROUP"),
        s("GROUP"),
        s("solo"),
        s("x"),
        s("STREAMS"),
        s("stream"),
        s(">"),
    ]);
    add(vec![s("XADD"), s("emptystream"), s("7-7"), s("f"), s("v")]);
    add(vec![s("XTRIM"), s("emptystream"), s("MAXLEN"), s("0")]);
    // HyperLogLogs (strings): sparse (past embstr's 44 bytes: Redis's PFADD makes them raw,
    // a short one would differ in OBJECT ENCODING only), dense, and one with its cardinality
    // cached in the header.
    let mut hll = vec![s("PFADD"), s("hll:sparse")];
    hll.extend((0..40).map(|i| format!("visitor-{i}").into_bytes()));
    add(hll);
    let mut hll = vec![s("PFADD"), s("hll:dense")];
    hll.extend((0..5000).map(|i| format!("visitor-{i}").into_bytes()));
    add(hll);
    add(vec![
        s("PFADD"),
        s("hll:cached"),
        s("a"),
        s("b"),
        s("c"),
        s("d"),
        s("e"),
        s("f"),
    ]);
    add(vec![
        s("PFADD"),
        s("hll:cached"),
        s("g"),
        s("h"),
        s("i"),
        s("j"),
        s("k"),
        s("l"),
    ]);
    add(vec![s("PFCOUNT"), s("hll:cached")]);
    // Bitmaps (strings written bit by bit): a small one, one grown to 1 MB by a far SETBIT, and
    // BITFIELD counters; compared by bytes and by BITCOUNT/BITPOS both ways. Each is longer
    // than embstr's 44 bytes: a loaded string of 44 or less is embstr on both servers, while
    // the bit commands leave it raw.
    for off in ["0", "7", "13", "1000"] {
        add(vec![s("SETBIT"), s("bm:small"), s(off), s("1")]);
    }
    add(vec![s("SETBIT"), s("bm:big"), s("8388607"), s("1")]);
    add(vec![s("SETBIT"), s("bm:big"), s("4242"), s("1")]);
    add(vec![
        s("BITFIELD"),
        s("bm:fields"),
        s("SET"),
        s("i16"),
        s("#0"),
        s("-1234"),
        s("INCRBY"),
        s("u5"),
        s("400"),
        s("30"),
    ]);
    add(vec![s("EXPIRE"), s("bighash"), s("100000")]);
    add(vec![s("SELECT"), s("1")]);
    add(vec![s("SET"), s("db1key"), s("one")]);
    add(vec![s("RPUSH"), s("db1list"), s("q")]);
    add(vec![s("SELECT"), s("9")]);
    add(vec![s("SET"), s("db9key"), s("nine")]);
    add(vec![s("PEXPIREAT"), s("db9key"), s("4102444800000")]);
    add(vec![s("SELECT"), s("0")]);
    c
}

/// A canonical listing of a server's whole contents: per db, per key, TYPE, whether it has a
/// TTL (in ms, compared with a tolerance by `compare`), and the contents (sets and hashes sorted).
fn full_dump(addr: &str) -> Result<BTreeMap<(u8, Vec<u8>), String>, String> {
    let mut c = connect(addr)?;
    let mut out = BTreeMap::new();
    for db in 0..16u8 {
        c.call(&["SELECT", &db.to_string()])?;
        let keys = items(c.call(&["KEYS", "*"])?);
        for k in keys {
            let t = bytes(&c.call(&[b"TYPE".as_slice(), &k])?);
            let pttl = match c.call(&[b"PTTL".as_slice(), &k])? {
                Reply::Int(n) if n >= 0 => format!("ttl~{n}"),
                Reply::Int(n) => format!("ttl{n}"),
                r => format!("{r:?}"),
            };
            let mut content: Vec<Vec<u8>> = match t.as_slice() {
                b"string" => {
                    let v = bytes(&c.call(&[b"GET".as_slice(), &k])?);
                    if v.starts_with(b"HYLL") {
                        // The estimate, by the multi-key form, which leaves the cache alone.
                        let n = c.call(&[b"PFCOUNT".as_slice(), &k, &k])?;
                        vec![v, format!("pfcount {n:?}").into_bytes()]
                    } else if k.starts_with(b"bm:") {
                        let n = c.call(&[b"BITCOUNT".as_slice(), &k])?;
                        let last = c.call(&[b"BITPOS".as_slice(), &k, b"1", b"-1"])?;
                        vec![v, format!("bitcount {n:?} bitpos {last:?}").into_bytes()]
                    } else {
                        vec![v]
                    }
                }
                b"list" => items(c.call(&[b"LRANGE".as_slice(), &k, b"0", b"-1"])?),
                b"set" => items(c.call(&[b"SMEMBERS".as_slice(), &k])?),
                b"hash" => {
                    let v = items(c.call(&[b"HGETALL".as_slice(), &k])?);
                    v.chunks(2).map(|p| p.concat()).collect()
                }
                b"zset" => {
                    items(c.call(&[b"ZRANGE".as_slice(), &k, b"0", b"-1", b"WITHSCORES"])?)
                }
                b"stream" => {
                    // Every entry as id:field=value,..., then the length.
                    let mut v: Vec<Vec<u8>> =
                        match c.call(&[b"XRANGE".as_slice(), &k, b"-", b"+"])? {
                            Reply::Array(es) => es
                                .into_iter()
                                .map(|e| match e {
                                    Reply::Array(mut p) if p.len() == 2 => {
                                        let fv = items(p.pop().unwrap_or(Reply::Nil));
                                        let mut out = bytes(&p[0]);
                                        out.push(b':');
                                        out.extend(fv.join(&b'='));
                                        out
                                    }
                                    other => format!("{other:?}").into_bytes(),
                                })
                                .collect(),
                            other => vec![format!("{other:?}").into_bytes()],
                        };
                    v.push(bytes(&c.call(&[b"XLEN".as_slice(), &k])?));
                    // Nodes, IDs, counters, groups, PELs and consumers; the delivery and
                    // seen times (unix ms) only where both datasets were made at once.
                    let info =
                        c.call(&[b"XINFO".as_slice(), b"STREAM", &k, b"FULL", b"COUNT", b"0"])?;
                    v.push(render_masking_times(&info).into_bytes());
                    v
                }
                _ => vec![],
            };
            if matches!(t.as_slice(), b"set" | b"hash") {
                content.sort();
            }
            let enc = bytes(&c.call(&[b"OBJECT".as_slice(), b"ENCODING", &k])?);
            out.insert(
                (db, k),
                format!(
                    "{} {} {} {:?}",
                    String::from_utf8_lossy(&t),
                    String::from_utf8_lossy(&enc),
                    pttl,
                    content
                ),
            );
        }
    }
    Ok(out)
}

fn compare(
    name: &str,
    a: &BTreeMap<(u8, Vec<u8>), String>,
    b: &BTreeMap<(u8, Vec<u8>), String>,
) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{name}: {} keys vs {} keys", a.len(), b.len()));
    }
    for (k, v) in a {
        match b.get(k) {
            Some(w) if same_but_ttl(v, w) => {}
            Some(w) => {
                return Err(format!(
                    "{name}: db{} key {:?} differs:\n  {}\n  {}",
                    k.0,
                    String::from_utf8_lossy(&k.1),
                    v.chars().take(300).collect::<String>(),
                    w.chars().take(300).collect::<String>()
                ))
            }
            None => {
                return Err(format!(
                    "{name}: key {:?} missing",
                    String::from_utf8_lossy(&k.1)
                ))
            }
        }
    }
    Ok(())
}

/// Two listings of one key agree when they are equal except for TTLs (`ttl~<ms>`) that differ
/// by at most a minute: the two reads happen at different moments, and any rounding of the TTL
/// would flip at some boundary between them.
fn same_but_ttl(a: &str, b: &str) -> bool {
    let ttl = |s: &str| -> Option<(String, i64)> {
        let at = s.find(" ttl~")?;
        let rest = &s[at + 5..];
        let end = rest.find(' ').unwrap_or(rest.len());
        let ms = rest[..end].parse().ok()?;
        Some((format!("{}{}", &s[..at], &rest[end..]), ms))
    };
    match (ttl(a), ttl(b)) {
        (Some((x, m)), Some((y, n))) => x == y && (m - n).abs() <= 60_000,
        _ => a == b,
    }
}

fn fresh_dir(name: &str) -> Result<PathBuf, String> {
    let d = servers::log_dir().join("persistence").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

fn start(bin: &Path, dir: &Path, extra: &[&str], tag: &str) -> Result<Server, String> {
    servers::start(&format!("persistence-{tag}"), bin, |port| {
        let mut args: Vec<OsString> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
            "--enable-debug-command",
            "yes",
        ]
        .map(OsString::from)
        .to_vec();
        args.extend(["--dir".into(), dir.into()]);
        args.extend(extra.iter().map(OsString::from));
        args
    })
}

/// Neither RDB save points nor the AOF.
const NO_PERSISTENCE: &[&str] = &["--save", "", "--appendonly", "no"];
/// The AOF with a write and fsync before every reply, no RDB save points.
const AOF_ALWAYS: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
];

fn redis_bin() -> PathBuf {
    PathBuf::from("redis-server")
}

fn shutdown(srv: &mut Server, how: &str) -> Result<(), String> {
    let mut c = connect(&srv.addr())?;
    let _ = c.call(&["SHUTDOWN", how]);
    srv.wait_exit(Duration::from_secs(30))
        .ok_or_else(|| "server did not exit after SHUTDOWN".to_string())
        .map(|_| ())
}

/// redis-server writes, oxidis-server reads; then the reverse, with redis-check-rdb.
fn rdb_interop(ox: &Path) -> Result<(), String> {
    let data = dataset();
    // Redis -> Oxidis.
    let rdir = fresh_dir("redis-to-oxidis")?;
    let mut r = start(&redis_bin(), &rdir, NO_PERSISTENCE, "redis")?;
    connect(&r.addr())?.pipeline_ok(&data)?;
    let want = full_dump(&r.addr())?;
    shutdown(&mut r, "SAVE")?;
    let mut o = start(ox, &rdir, NO_PERSISTENCE, "oxidis")?;
    let got = full_dump(&o.addr())?;
    compare("redis RDB loaded by oxidis", &want, &got)?;
    shutdown(&mut o, "NOSAVE")?;
    // Oxidis -> Redis.
    let odir = fresh_dir("oxidis-to-redis")?;
    let mut o = start(ox, &odir, NO_PERSISTENCE, "oxidis")?;
    connect(&o.addr())?.pipeline_ok(&data)?;
    let want2 = full_dump(&o.addr())?;
    compare("oxidis contents vs redis contents", &want, &want2)?;
    shutdown(&mut o, "SAVE")?;
    let check = Command::new("redis-check-rdb")
        .arg(odir.join("dump.rdb"))
        .output()
        .map_err(|e| format!("redis-check-rdb: {e}"))?;
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    if !check.status.success() || !text.contains("RDB looks OK") {
        return Err(format!("redis-check-rdb refused Oxidis's file:\n{text}"));
    }
    let mut r = start(&redis_bin(), &odir, NO_PERSISTENCE, "redis")?;
    let got2 = full_dump(&r.addr())?;
    compare("oxidis RDB loaded by redis", &want2, &got2)?;
    shutdown(&mut r, "NOSAVE")?;
    Ok(())
}

/// DUMP on one server, RESTORE on the other, for every key, both ways.
fn dump_restore(ox: &Path) -> Result<(), String> {
    let data = dataset();
    let d1 = fresh_dir("dump-a")?;
    let d2 = fresh_dir("dump-b")?;
    let r = start(&redis_bin(), &d1, NO_PERSISTENCE, "redis")?;
    let o = start(ox, &d2, NO_PERSISTENCE, "oxidis")?;
    let mut rc = connect(&r.addr())?;
    let mut oc = connect(&o.addr())?;
    rc.pipeline_ok(&data)?;
    oc.pipeline_ok(&data)?;
    transfer(&mut rc, &mut oc, "redis->oxidis", b"r2o:")?;
    transfer(&mut oc, &mut rc, "oxidis->redis", b"o2r:")?;
    // Both servers now hold the originals plus the same restored copies.
    compare(
        "after DUMP/RESTORE both ways",
        &full_dump(&r.addr())?,
        &full_dump(&o.addr())?,
    )
}

fn transfer(from: &mut Conn, to: &mut Conn, label: &str, prefix: &[u8]) -> Result<(), String> {
    from.call(&["SELECT", "0"])?;
    to.call(&["SELECT", "0"])?;
    for k in items(from.call(&["KEYS", "*"])?) {
        let payload = bytes(&from.call(&[b"DUMP".as_slice(), &k])?);
        let mut nk = prefix.to_vec();
        nk.extend_from_slice(&k);
        match to.call(&[b"RESTORE".as_slice(), &nk, b"0", &payload])? {
            Reply::Simple(ok) if ok == b"OK" => {}
            r => {
                return Err(format!(
                    "{label}: RESTORE of {:?} failed: {r:?}",
                    String::from_utf8_lossy(&k)
                ))
            }
        }
        // The restored value dumps back to a payload the source accepts too.
        let back = bytes(&to.call(&[b"DUMP".as_slice(), &nk])?);
        match from.call(&[b"RESTORE".as_slice(), &nk, b"0", &back, b"REPLACE"])? {
            Reply::Simple(ok) if ok == b"OK" => {}
            r => {
                return Err(format!(
                    "{label}: round trip of {:?}: {r:?}",
                    String::from_utf8_lossy(&k)
                ))
            }
        }
    }
    Ok(())
}

/// Two libraries: one with a function that writes, one with a no-writes function and a
/// description long enough for LZF to compress the code in the RDB.
const LIBS: [&str; 2] = [
    "#!lua name=counter\nredis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)",
    "#!lua name=reader\nredis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads a key, reads a key, reads a key, reads a key'}",
];

/// The function view of a server that loaded the file saved after `want` was taken: the
/// counter bumped by the view's FCALL went on from the saved 5 (to 10), the rest is the same.
fn same_after_load(label: &str, want: &[Reply], c: &mut Conn) -> Result<(), String> {
    let mut got = function_view(c)?;
    if got[0] != Reply::Int(10) {
        return Err(format!("{label}: FCALL bump gave {:?}", got[0]));
    }
    got[0] = Reply::Int(5);
    got[1] = want[1].clone();
    same(label, want, &got)
}

/// FCALLs that both libraries answer, and each library's LIST entry with its code.
fn function_view(c: &mut Conn) -> Result<Vec<Reply>, String> {
    let mut out = vec![
        c.call(&["FCALL", "bump", "1", "fn:cnt", "5"])?,
        c.call(&["FCALL_RO", "peek", "1", "fn:cnt"])?,
        c.call(&["FCALL_RO", "bump", "1", "fn:cnt", "1"])?,
    ];
    for lib in ["counter", "reader"] {
        out.push(c.call(&["FUNCTION", "LIST", "LIBRARYNAME", lib, "WITHCODE"])?);
    }
    Ok(out)
}

fn load_libs(c: &mut Conn) -> Result<(), String> {
    for l in LIBS {
        c.call_ok(&["FUNCTION", "LOAD", l])?;
    }
    Ok(())
}

fn same(label: &str, want: &[Reply], got: &[Reply]) -> Result<(), String> {
    if want != got {
        return Err(format!("{label}: expected {want:?}, got {got:?}"));
    }
    Ok(())
}

/// FUNCTION DUMP of two libraries on `from` restores on `to` (FLUSH), and again refuses (APPEND).
fn restore_across(from: &mut Conn, to: &mut Conn, label: &str) -> Result<(), String> {
    let all = bytes(&from.call(&["FUNCTION", "DUMP"])?);
    to.call_ok(&[&b"FUNCTION"[..], b"RESTORE", &all, b"FLUSH"])
        .map_err(|e| format!("{label}: {e}"))?;
    let listed = to.call(&["FUNCTION", "LIST", "LIBRARYNAME", "*", "WITHCODE"])?;
    if items(to.call(&["FUNCTION", "LIST"])?).len() != 2
        || to.call(&["FCALL_RO", "peek", "1", "fn:none"])? != Reply::Nil
    {
        return Err(format!(
            "{label}: after RESTORE of two libraries: {listed:?}"
        ));
    }
    let exists = to.call(&[&b"FUNCTION"[..], b"RESTORE", &all])?;
    if exists != Reply::Error(b"ERR Library counter already exists".to_vec())
        && exists != Reply::Error(b"ERR Library reader already exists".to_vec())
    {
        return Err(format!("{label}: RESTORE APPEND again gave {exists:?}"));
    }
    Ok(())
}

/// FUNCTION libraries through RDB files, FUNCTION DUMP/RESTORE and the AOF.
fn functions_interop(ox: &Path) -> Result<(), String> {
    // redis-server's RDB -> oxidis-server.
    let rdir = fresh_dir("functions-redis-to-oxidis")?;
    let mut r = start(&redis_bin(), &rdir, NO_PERSISTENCE, "redis")?;
    let mut rc = connect(&r.addr())?;
    load_libs(&mut rc)?;
    let want = function_view(&mut rc)?;
    shutdown(&mut r, "SAVE")?;
    let mut o = start(ox, &rdir, NO_PERSISTENCE, "oxidis")?;
    let mut oc = connect(&o.addr())?;
    same_after_load("redis RDB loaded by oxidis", &want, &mut oc)?;
    shutdown(&mut o, "NOSAVE")?;
    // oxidis-server's RDB -> redis-server (redis-check-rdb accepts it).
    let odir = fresh_dir("functions-oxidis-to-redis")?;
    let mut o = start(ox, &odir, NO_PERSISTENCE, "oxidis")?;
    let mut oc = connect(&o.addr())?;
    load_libs(&mut oc)?;
    same("oxidis vs redis", &want, &function_view(&mut oc)?)?;
    // DEBUG RELOAD keeps the libraries once (they are flushed with the keys, then loaded).
    oc.call_ok(&["DEBUG", "RELOAD"])?;
    let after = (
        items(oc.call(&["FUNCTION", "LIST"])?).len(),
        oc.call(&["FCALL_RO", "peek", "1", "fn:cnt"])?,
    );
    if after != (2, Reply::Bulk(b"5".to_vec())) {
        return Err(format!("after DEBUG RELOAD: {after:?}"));
    }
    shutdown(&mut o, "SAVE")?;
    let check = Command::new("redis-check-rdb")
        .arg(odir.join("dump.rdb"))
        .output()
        .map_err(|e| format!("redis-check-rdb: {e}"))?;
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    if !check.status.success() || !text.contains("RDB looks OK") {
        return Err(format!(
            "redis-check-rdb refused Oxidis's file with functions:\n{text}"
        ));
    }
    let mut r = start(&redis_bin(), &odir, NO_PERSISTENCE, "redis")?;
    let mut rc = connect(&r.addr())?;
    same_after_load("oxidis RDB loaded by redis", &want, &mut rc)?;
    // FUNCTION DUMP: one library gives the same bytes on both; payloads restore both ways.
    let mut o = start(ox, &fresh_dir("functions-dump")?, NO_PERSISTENCE, "oxidis")?;
    let mut oc = connect(&o.addr())?;
    restore_across(&mut rc, &mut oc, "redis->oxidis")?;
    restore_across(&mut oc, &mut rc, "oxidis->redis")?;
    for c in [&mut rc, &mut oc] {
        c.call_ok(&["FUNCTION", "DELETE", "counter"])?;
    }
    let rd = bytes(&rc.call(&["FUNCTION", "DUMP"])?);
    let od = bytes(&oc.call(&["FUNCTION", "DUMP"])?);
    if rd != od || rd.is_empty() {
        return Err(format!(
            "FUNCTION DUMP of one library differs: redis {rd:?}, oxidis {od:?}"
        ));
    }
    shutdown(&mut r, "NOSAVE")?;
    shutdown(&mut o, "NOSAVE")?;
    // The AOF: libraries and FCALL effects survive restarts, before and after a rewrite.
    let adir = fresh_dir("functions-aof")?;
    let mut o = start(ox, &adir, AOF_ALWAYS, "oxidis-aof")?;
    let mut oc = connect(&o.addr())?;
    load_libs(&mut oc)?;
    oc.call_ok(&["FCALL", "bump", "1", "fn:cnt", "5"])?;
    oc.call_ok(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=gone\nredis.register_function('g', function() return 1 end)",
    ])?;
    oc.call_ok(&["FUNCTION", "DELETE", "gone"])?;
    let expect = |c: &mut Conn, n: i64, when: &str| -> Result<(), String> {
        let got = c.call(&["FCALL", "bump", "1", "fn:cnt", "1"])?;
        let gone = c.call(&["FCALL", "g", "0"])?;
        let libs = items(c.call(&["FUNCTION", "LIST"])?).len();
        if got != Reply::Int(n)
            || gone != Reply::Error(b"ERR Function not found".to_vec())
            || libs != 2
        {
            return Err(format!(
                "{when}: bump {got:?}, g {gone:?}, {libs} libraries"
            ));
        }
        Ok(())
    };
    shutdown(&mut o, "NOSAVE")?;
    let mut o = start(ox, &adir, AOF_ALWAYS, "oxidis-aof")?;
    let mut oc = connect(&o.addr())?;
    expect(&mut oc, 6, "after an AOF restart")?;
    oc.call_ok(&["BGREWRITEAOF"])?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = bytes(&oc.call(&["INFO", "persistence"])?);
        if String::from_utf8_lossy(&info).contains("aof_rewrite_in_progress:0") {
            break;
        }
        if Instant::now() > deadline {
            return Err("BGREWRITEAOF did not finish in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    shutdown(&mut o, "NOSAVE")?;
    let o = start(ox, &adir, AOF_ALWAYS, "oxidis-aof")?;
    expect(&mut connect(&o.addr())?, 7, "after a rewrite and a restart")?;
    drop(o);
    Ok(())
}

/// Writers with appendfsync always; SIGKILL at a random moment; every acknowledged write
/// must be there after restart.
fn crash(ox: &Path, seed: u64) -> Result<String, String> {
    let dir = fresh_dir("crash")?;

    let srv = start(ox, &dir, AOF_ALWAYS, "crash")?;
    let addr = srv.addr();
    let pid = srv.pid();
    let kill_after = Duration::from_millis(300 + seed % 700);
    let writer = std::thread::spawn(move || -> Result<u64, String> {
        let mut c = connect(&addr)?;
        let mut acked = 0u64;
        for i in 0..200_000u64 {
            let k = format!("key:{i}");
            let r = match c.call(&["SET", &k, &i.to_string()]) {
                Ok(r) => r,
                Err(_) => break, // killed
            };
            if !matches!(r, Reply::Simple(_)) {
                return Err(format!("SET {k}: {r:?}"));
            }
            match c.call(&["INCR", "counter"]) {
                Ok(Reply::Int(_)) => acked = i + 1,
                _ => break,
            }
        }
        Ok(acked)
    });
    std::thread::sleep(kill_after);
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let acked = writer.join().map_err(|_| "writer panicked".to_string())??;
    drop(srv);
    let srv = start(ox, &dir, AOF_ALWAYS, "crash-restart")?;
    let mut c = connect(&srv.addr())?;
    let counter = match c.call(&["GET", "counter"])? {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    if counter < acked {
        return Err(format!(
            "lost acknowledged writes: counter {counter} < acked {acked}"
        ));
    }
    for i in (0..acked)
        .step_by(((acked / 500).max(1)) as usize)
        .chain(acked.checked_sub(1))
    {
        let k = format!("key:{i}");
        if bytes(&c.call(&["GET", &k])?) != i.to_string().into_bytes() {
            return Err(format!("acknowledged SET {k} missing after SIGKILL"));
        }
    }
    Ok(format!(
        "crash: SIGKILL after {} ms, {acked} acknowledged INCR+SET pairs, all present (counter {counter})",
        kill_after.as_millis()
    ))
}

/// The blocking commands, each woken by another client's write (a blocker's command, the
/// writer's command), in the order `woken_pops_survive_restart` plays them.
const WOKEN: &[(&[&str], &[&str])] = &[
    (&["BLPOP", "q", "0"], &["LPUSH", "q", "x"]),
    (&["BRPOP", "q2", "0"], &["RPUSH", "q2", "a", "b"]),
    (
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
        &["LPUSH", "src", "v", "w"],
    ),
    (&["BRPOPLPUSH", "src2", "dst", "0"], &["RPUSH", "src2", "u"]),
    (
        &["BLMPOP", "0", "1", "m", "LEFT", "COUNT", "2"],
        &["RPUSH", "m", "1", "2", "3"],
    ),
    (&["BZPOPMIN", "z", "0"], &["ZADD", "z", "1", "a", "2", "b"]),
    (
        &["BZPOPMAX", "z2", "0"],
        &["ZADD", "z2", "1", "a", "2", "b"],
    ),
    (
        &["BZMPOP", "0", "1", "z3", "MAX", "COUNT", "5"],
        &["ZADD", "z3", "1", "a", "2", "b", "3", "c"],
    ),
    (
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        &["XADD", "s", "1-1", "f", "v"],
    ),
    (
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "gs",
            ">",
        ],
        &["XADD", "gs", "1-1", "f", "v"],
    ),
];

/// Plays `WOKEN` (and a BLPOP in database 5) on a server with the AOF and `appendfsync
/// always`, SIGKILLs it once every woken client has its reply, restarts it: returns the
/// replies and the contents before and after.
type Woken = (
    Vec<String>,
    BTreeMap<(u8, Vec<u8>), String>,
    BTreeMap<(u8, Vec<u8>), String>,
);
fn play_woken(bin: &Path, tag: &str) -> Result<Woken, String> {
    let dir = fresh_dir(&format!("woken-{tag}"))?;
    let srv = start(bin, &dir, AOF_ALWAYS, &format!("woken-{tag}"))?;
    let mut writer = connect(&srv.addr())?;
    writer.call_ok(&["XGROUP", "CREATE", "gs", "g", "$", "MKSTREAM"])?;
    let mut replies = Vec::new();
    let db5: (&[&str], &[&str]) = (&["BLPOP", "q", "0"], &["LPUSH", "q", "y"]);
    for (i, &(block, wake)) in WOKEN.iter().chain([&db5]).enumerate() {
        let db = if i == WOKEN.len() { "5" } else { "0" };
        let mut blocker = connect(&srv.addr())?;
        blocker.call_ok(&["SELECT", db])?;
        writer.call_ok(&["SELECT", db])?;
        blocker.send(block)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while writer.info_field("clients", "blocked_clients")? != "1" {
            if Instant::now() > deadline {
                return Err(format!("{tag}: {block:?} did not block"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        writer.call_ok(wake)?;
        replies.push(format!("{block:?} -> {:?}", blocker.read_reply()?));
    }
    let before = full_dump(&srv.addr())?;
    let _ = Command::new("kill")
        .args(["-KILL", &srv.pid().to_string()])
        .status();
    drop(srv);
    let srv = start(bin, &dir, AOF_ALWAYS, &format!("woken-{tag}-restart"))?;
    let after = full_dump(&srv.addr())?;
    let mut c = connect(&srv.addr())?;
    // The bug this guards: the woken BLPOP's element came back.
    for db in ["0", "5"] {
        c.call_ok(&["SELECT", db])?;
        if c.call(&["LLEN", "q"])? != Reply::Int(0) {
            return Err(format!(
                "{tag}: the element popped by BLPOP in db {db} came back after a restart"
            ));
        }
    }
    Ok((replies, before, after))
}

/// Clients blocked in every blocking command, woken by another client's write: their pops
/// are in the AOF, so after SIGKILL and a restart oxidis-server holds what redis-server
/// holds after the same (the same replies, the same contents before and after).
fn woken_pops_survive_restart(ox: &Path) -> Result<(), String> {
    let (oreplies, obefore, oafter) = play_woken(ox, "oxidis")?;
    let (rreplies, rbefore, rafter) = play_woken(&redis_bin(), "redis")?;
    if oreplies != rreplies {
        return Err(format!(
            "woken replies differ:\n  oxidis {oreplies:?}\n  redis  {rreplies:?}"
        ));
    }
    compare("before the restart, redis vs oxidis", &rbefore, &obefore)?;
    compare(
        "after SIGKILL and a restart, redis vs oxidis",
        &rafter,
        &oafter,
    )
}

/// A torn last command: loads with aof-load-truncated yes, refuses with no.
fn truncated(ox: &Path) -> Result<(), String> {
    let dir = fresh_dir("truncated")?;

    let mut srv = start(ox, &dir, AOF_ALWAYS, "trunc")?;
    let mut c = connect(&srv.addr())?;
    for i in 0..100 {
        c.call(&["RPUSH", "l", &i.to_string()])?;
    }
    shutdown(&mut srv, "NOSAVE")?;
    let incr = std::fs::read_dir(dir.join("appendonlydir"))
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .ok_or("no incr file")?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .map_err(|e| e.to_string())?;
    f.write_all(b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$3\r\n10")
        .map_err(|e| e.to_string())?;
    drop(f);
    // With `no`: the server refuses to start, naming the problem.
    let port = servers::free_port()?;
    let out = Command::new(ox)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(&dir)
        .args(AOF_ALWAYS)
        .args(["--aof-load-truncated", "no"])
        .output()
        .map_err(|e| e.to_string())?;
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    if out.status.success() || !log.contains("Unexpected end of file") {
        return Err(format!(
            "aof-load-truncated no: expected a refusal, got {:?}:\n{log}",
            out.status
        ));
    }
    // With `yes`: loads the 100 complete commands.
    let srv = start(ox, &dir, AOF_ALWAYS, "trunc-yes")?;
    let mut c = connect(&srv.addr())?;
    match c.call(&["LLEN", "l"])? {
        Reply::Int(100) => Ok(()),
        r => Err(format!("after truncated load LLEN l = {r:?}, want 100")),
    }
}

/// One server: a dataset of every type written to its AOF (some before a rewrite, so there
/// is an RDB preamble, some after), then DEBUG LOADAOF; returns (digest before, after).
fn loadaof_on(bin: &Path, tag: &str) -> Result<(String, String), String> {
    let dir = fresh_dir(&format!("loadaof-{tag}"))?;
    let extra = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let srv = start(bin, &dir, &extra, &format!("loadaof-{tag}"))?;
    let mut c = connect(&srv.addr())?;
    let digest = |c: &mut Conn| -> Result<String, String> {
        match c.call(&["DEBUG", "DIGEST"])? {
            Reply::Simple(d) => Ok(String::from_utf8_lossy(&d).into_owned()),
            r => Err(format!("DEBUG DIGEST: {r:?}")),
        }
    };
    for cmd in dataset().iter().take(40) {
        c.call(cmd)?;
    }
    c.call(&["BGREWRITEAOF"])?;
    wait_info(&mut c, "aof_rewrite_in_progress", "0")?;
    wait_info(&mut c, "aof_rewrite_scheduled", "0")?;
    for cmd in dataset().iter().skip(40) {
        c.call(cmd)?;
    }
    c.call(&["SELECT", "2"])?;
    c.call(&["RPUSH", "l2", "a", "b"])?;
    let before = digest(&mut c)?;
    c.call_ok(&["DEBUG", "LOADAOF"])?;
    let after = digest(&mut c)?;
    Ok((before, after))
}

fn loadaof(ox: &Path) -> Result<(), String> {
    let (rb, ra) = loadaof_on(&redis_bin(), "redis")?;
    let (ob, oa) = loadaof_on(ox, "oxidis")?;
    if rb != ra || ob != oa || rb != ob || rb == "0".repeat(40) {
        return Err(format!(
            "digests before/after LOADAOF: redis-server {rb}/{ra}, oxidis-server {ob}/{oa}"
        ));
    }
    Ok(())
}

/// Polls INFO persistence until `field` reads `want` (10 s at most).
fn wait_info(c: &mut Conn, field: &str, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = c.info_field("persistence", field)?;
        if got == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{field} stayed {got:?}, want {want:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every reply of `cmds`, rendered, for comparing the two servers.
fn replies(c: &mut Conn, cmds: &[&[&str]]) -> Result<Vec<String>, String> {
    cmds.iter()
        .map(|cmd| {
            let r = c.call(cmd)?;
            let text = match &r {
                Reply::Error(e) => format!("-{}", String::from_utf8_lossy(e)),
                r => render_masking_times(r),
            };
            Ok(format!("{} -> {text}", cmd.join(" ")))
        })
        .collect()
}

/// One server's MISCONF story with a failing BGSAVE: its directory is deleted under it (a
/// failure root cannot bypass, unlike a read-only mode), then a new one is set.
fn misconf_bgsave_on(bin: &Path, tag: &str) -> Result<Vec<String>, String> {
    let dir = fresh_dir(&format!("misconf-{tag}"))?;
    let extra = [
        "--save",
        "3600 1",
        "--appendonly",
        "no",
        "--enable-protected-configs",
        "yes",
    ];
    let srv = start(bin, &dir, &extra, &format!("misconf-{tag}"))?;
    let mut c = connect(&srv.addr())?;
    c.call_ok(&["SET", "k1", "v1"])?;
    std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut log = vec![format!(
        "BGSAVE -> {}",
        render_masking_times(&c.call(&["BGSAVE"])?)
    )];
    wait_info(&mut c, "rdb_bgsave_in_progress", "0")?;
    wait_info(&mut c, "rdb_last_bgsave_status", "err")?;
    log.extend(replies(
        &mut c,
        &[
            &["SET", "k2", "v2"],
            &["GET", "k1"],
            &["PING"],
            &["INCR", "n"],
            &["MULTI"],
            &["SET", "k3", "v3"],
            &["GET", "k1"],
            &["EXEC"],
            &["EVAL", "return redis.call('get', 'k1')", "0"],
            &[
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('get', 'k1')",
                "0",
            ],
            &["EVAL", "return 1", "0"],
            &["EVAL", "return redis.call('set', 'k4', 'v')", "0"],
            &["EVAL", "return redis.pcall('set', 'k4', 'v')", "0"],
            &["EVAL", "#!lua\nreturn redis.call('get', 'k1')", "0"],
            &["DBSIZE"],
        ],
    )?);
    // The disk recovers: a save into a working directory ends the refusal.
    let dir2 = fresh_dir(&format!("misconf-{tag}-2"))?;
    c.call_ok(&["CONFIG", "SET", "dir", &dir2.display().to_string()])?;
    c.call(&["BGSAVE"])?;
    wait_info(&mut c, "rdb_bgsave_in_progress", "0")?;
    wait_info(&mut c, "rdb_last_bgsave_status", "ok")?;
    log.extend(replies(
        &mut c,
        &[&["SET", "k2", "v2"], &["PING"], &["DBSIZE"]],
    )?);
    Ok(log)
}

fn misconf_bgsave(ox: &Path) -> Result<(), String> {
    let want = misconf_bgsave_on(&redis_bin(), "redis")?;
    let got = misconf_bgsave_on(ox, "oxidis")?;
    let misconf = want
        .iter()
        .filter(|l| l.contains("MISCONF Redis is configured"))
        .count();
    if misconf < 3 {
        return Err(format!(
            "redis-server refused {misconf} commands with MISCONF: {want:#?}"
        ));
    }
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            return Err(format!("redis-server: {w}\noxidis-server: {g}"));
        }
    }
    if want.len() != got.len() {
        return Err(format!("{} replies vs {}", want.len(), got.len()));
    }
    Ok(())
}

/// Mounts a 1 MB tmpfs at `at` (root only), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mounting a 1 MB tmpfs (a full disk) needs root: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// One server with its AOF on a disk that fills up: (acknowledged keys, the MISCONF text),
/// after checking that reads are served, that writes resume once space is freed and that
/// every acknowledged write is there after a restart.
fn misconf_aof_on(bin: &Path, tag: &str) -> Result<(usize, String), String> {
    let dir = fresh_dir(&format!("misconf-aof-{tag}"))?;
    let fs = Tmpfs::mount(&dir)?;
    let extra = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ];
    let name = format!("misconf-aof-{tag}");
    let mut srv = start(bin, &dir, &extra, &name)?;
    let mut c = connect(&srv.addr())?;
    // Fill the disk but for a little room, then write until the AOF cannot take more.
    let filler = dir.join("filler");
    {
        let mut f = std::fs::File::create(&filler).map_err(|e| e.to_string())?;
        let chunk = vec![b'x'; 4096];
        while f.write_all(&chunk).is_ok() {}
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        f.set_len(len.saturating_sub(64 * 1024))
            .map_err(|e| e.to_string())?;
    }
    let value = "v".repeat(1000);
    let mut acked = 0;
    let mut misconf = None;
    for i in 0..1000 {
        match c.call(&["SET", &format!("key:{i}"), &value])? {
            Reply::Simple(s) if s == b"OK" => acked += 1,
            Reply::Error(e) => {
                misconf = Some(String::from_utf8_lossy(&e).into_owned());
                break;
            }
            r => return Err(format!("SET key:{i}: {r:?}")),
        }
    }
    let misconf = misconf.ok_or("the disk never filled up")?;
    match c.call(&["GET", "key:0"])? {
        Reply::Bulk(b) if b == value.as_bytes() => {}
        r => return Err(format!("GET on a full disk: {r:?}")),
    }
    // Space again: writes resume once the retried AOF write succeeds.
    std::fs::remove_file(&filler).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.call(&["SET", "after", "1"])? {
            Reply::Simple(_) => break,
            r if Instant::now() > deadline => return Err(format!("writes did not resume: {r:?}")),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    shutdown(&mut srv, "NOSAVE")?;
    drop(srv);
    let srv = start(bin, &dir, &extra, &format!("{name}-restart"))?;
    let mut c = connect(&srv.addr())?;
    for i in 0..acked {
        if c.call(&["EXISTS", &format!("key:{i}")])? != Reply::Int(1) {
            return Err(format!(
                "acknowledged key:{i} (of {acked}) lost after the restart"
            ));
        }
    }
    if c.call(&["EXISTS", "after"])? != Reply::Int(1) {
        return Err("the write after recovery was lost".into());
    }
    drop(c);
    drop(srv);
    drop(fs);
    Ok((acked, misconf))
}

fn misconf_aof(ox: &Path) -> Result<String, String> {
    let (r_acked, want) = misconf_aof_on(&redis_bin(), "redis")?;
    let (o_acked, got) = misconf_aof_on(ox, "oxidis")?;
    let text = "MISCONF Errors writing to the AOF file: No space left on device";
    if want != text || got != text {
        return Err(format!("redis-server: {want:?}\noxidis-server: {got:?}"));
    }
    Ok(format!(
        "full disk: {r_acked} writes acknowledged by redis-server, {o_acked} by oxidis-server, all kept"
    ))
}

/// BGSAVE of 1M keys while a client PINGs: the worst latency, reported.
fn bgsave_latency(ox: &Path) -> Result<String, String> {
    let dir = fresh_dir("bgsave")?;
    let srv = start(ox, &dir, NO_PERSISTENCE, "bgsave")?;
    let mut c = connect(&srv.addr())?;
    let mut batch = Vec::new();
    for i in 0..1_000_000u32 {
        batch.push(vec![
            s("SET"),
            format!("key:{i}").into_bytes(),
            format!("value:{i}").into_bytes(),
        ]);
        if batch.len() == 10_000 {
            c.pipeline_ok(&batch)?;
            batch.clear();
        }
    }
    let mut probe = connect(&srv.addr())?;
    let t0 = Instant::now();
    c.call(&["BGSAVE"])?;
    let mut worst = Duration::ZERO;
    let mut pings = 0;
    loop {
        let t = Instant::now();
        probe.call(&["PING"])?;
        worst = worst.max(t.elapsed());
        pings += 1;
        if pings % 50 == 0 {
            let info = bytes(&probe.call(&["INFO", "persistence"])?);
            if String::from_utf8_lossy(&info).contains("rdb_bgsave_in_progress:0") {
                break;
            }
        }
        if t0.elapsed() > Duration::from_secs(120) {
            return Err("BGSAVE did not finish in 120 s".into());
        }
    }
    let size = std::fs::metadata(dir.join("dump.rdb")).map_or(0, |m| m.len());
    Ok(format!(
        "bgsave: 1M keys, {:.2} s, {size} bytes, {pings} PINGs meanwhile, worst PING latency {:.2} ms (debug build)",
        t0.elapsed().as_secs_f64(),
        worst.as_secs_f64() * 1000.0
    ))
}

/// A reply as text (strings readable, so paths in them can be masked).
fn show(r: &Reply) -> String {
    match r {
        Reply::Simple(b) => format!("+{}", String::from_utf8_lossy(b)),
        Reply::Error(b) => format!("-{}", String::from_utf8_lossy(b)),
        Reply::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Array(items) => {
            let inner: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", inner.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// One server's ACL file session: users loaded at start, ACL SAVE's file, ACL LOAD of a broken
/// file (its errors, nothing changed) and of a good one. Paths in replies read `<dir>`.
fn acl_session(bin: &Path, tag: &str) -> Result<Vec<String>, String> {
    let dir = fresh_dir(&format!("acl-{tag}"))?;
    let file = dir.join("users.acl");
    let path = file.display().to_string();
    let write = |text: &str| std::fs::write(&file, text).map_err(|e| format!("{path}: {e}"));
    write("user default on nopass ~* &* +@all\nuser reader on >pw %R~app:* +@read\n")?;
    let mut extra = NO_PERSISTENCE.to_vec();
    extra.extend(["--aclfile", path.as_str()]);
    let srv = start(bin, &dir, &extra, &format!("acl-{tag}"))?;
    let mut c = connect(&srv.addr())?;
    let mut out = Vec::new();
    let call = |out: &mut Vec<String>, c: &mut Conn, args: &[&str]| -> Result<(), String> {
        let r = c.call(args)?;
        out.push(format!("{args:?} -> {}", show(&r)).replace(&path, "<dir>/users.acl"));
        Ok(())
    };
    call(&mut out, &mut c, &["ACL", "LIST"])?;
    call(
        &mut out,
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "writer",
            "on",
            ">w",
            "~app:*",
            "(+set ~x)",
            "+@write",
        ],
    )?;
    call(&mut out, &mut c, &["ACL", "SAVE"])?;
    let saved = std::fs::read_to_string(&file).map_err(|e| format!("{path}: {e}"))?;
    out.push(format!("saved file: {saved:?}"));
    write("user u1 on +nosuch +get\nbogus line\nuser u2 on %X~k\nuser u2\nuser u3 (+get\n")?;
    call(&mut out, &mut c, &["ACL", "LOAD"])?;
    call(&mut out, &mut c, &["ACL", "USERS"])?;
    write("user default on nopass ~* &* +@all\n\n  user u9 on >pw ~k:* +get  \n")?;
    call(&mut out, &mut c, &["ACL", "LOAD"])?;
    call(&mut out, &mut c, &["ACL", "LIST"])?;
    let _ = std::fs::remove_file(&file);
    call(&mut out, &mut c, &["ACL", "LOAD"])?;
    Ok(out)
}

/// The same ACL file session on both servers gives the same replies and the same saved file.
fn acl_files(ox: &Path) -> Result<(), String> {
    let want = acl_session(&redis_bin(), "redis")?;
    let got = acl_session(ox, "oxidis")?;
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            return Err(format!("redis-server: {w}\n  oxidis-server: {g}"));
        }
    }
    if want.len() != got.len() {
        return Err(format!("{} steps vs {}", want.len(), got.len()));
    }
    Ok(())
}

pub fn run(ctx: &mut crate::test_all::Ctx, name: &str) -> Suite {
    let ox = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let mut s = Suite::new(name);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let checks: Vec<(&str, Result<Option<String>, String>)> = vec![
        (
            "rdb interop both ways + redis-check-rdb",
            rdb_interop(&ox).map(|()| None),
        ),
        ("DUMP/RESTORE both ways", dump_restore(&ox).map(|()| None)),
        (
            "FUNCTION libraries: RDB and FUNCTION DUMP both ways, AOF restarts",
            functions_interop(&ox).map(|()| None),
        ),
        ("crash with appendfsync always", crash(&ox, seed).map(Some)),
        (
            "woken blocking pops in the AOF: SIGKILL and restart as redis-server",
            woken_pops_survive_restart(&ox).map(|()| None),
        ),
        ("truncated AOF", truncated(&ox).map(|()| None)),
        (
            "aclfile: loaded at start, ACL SAVE, ACL LOAD and its errors, as redis-server",
            acl_files(&ox).map(|()| None),
        ),
        (
            "DEBUG LOADAOF reloads the dataset with the same DEBUG DIGEST as redis-server",
            loadaof(&ox).map(|()| None),
        ),
        (
            "MISCONF after a failed BGSAVE, as redis-server",
            misconf_bgsave(&ox).map(|()| None),
        ),
        (
            "MISCONF on a full disk with the AOF, as redis-server; no acknowledged write lost",
            misconf_aof(&ox).map(Some),
        ),
        ("BGSAVE latency", bgsave_latency(&ox).map(Some)),
    ];
    for (what, r) in checks {
        match r {
            Ok(info) => {
                println!("    ok     {what}");
                s.passed += 1;
                s.info.extend(info);
            }
            Err(e) => {
                println!("    FAILED {what}");
                s.fail(format!("{what}: {e}"));
            }
        }
    }
    s
}
