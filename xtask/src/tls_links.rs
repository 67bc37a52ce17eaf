//! `cargo xtask test "tls links"`: TLS on the links servers open to each other, Oxidis with
//! Debian's redis-server (built with TLS) on the other end. Certificates are made with the
//! openssl CLI at test time; the nodes' certificate names a host nobody connects to
//! (`DNS:node.invalid`), since Redis checks the chain of a peer's certificate, not its name.
//!
//! 1. `tls-replication yes`: a redis-server master with an Oxidis replica, and an Oxidis
//!    master with a redis-server replica, each replica pointed at its master's tls-port. The
//!    link comes up, the first sync and later writes arrive (4 MB values in the RDB and in the
//!    stream too), the master lists the replica under its tls-port (REPLCONF listening-port),
//!    and a killed link resyncs partially (sync_partial_ok grows, sync_full does not). An
//!    Oxidis replica trusting another CA never gets its link up (the master's certificate is
//!    verified). A replica whose tls-cert-file is certified for serverAuth only is refused as
//!    a client, and gets its link up with a clientAuth `tls-client-cert-file` (both servers as
//!    the replica).
//! 2. `tls-cluster yes`: oxidis, redis-server, oxidis formed with `redis-cli --tls ... --cluster
//!    create` on their tls-ports (the bus is TLS both ways, a client certificate required);
//!    cluster_state:ok on all three, CLUSTER NODES naming the tls-ports, a MOVED redirect
//!    followed by `redis-cli -c --tls` (a plaintext client is told the plaintext ports in
//!    CLUSTER NODES and MOVED), and MIGRATE of a 4 MB value over TLS between the nodes (oxidis →
//!    redis, redis → oxidis, oxidis → oxidis, and inside MULTI/EXEC, the synchronous path),
//!    each key read back on its new owner; MIGRATE to a plaintext port fails.

use crate::servers::{self, Server};
use crate::setup::ensure_programs;
use crate::suite::{poll, Suite};
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

pub fn run(ctx: &mut crate::test_all::Ctx, name: &str) -> Suite {
    let mut s = Suite::new(name);
    if let Err(e) = ensure_programs(&[("openssl", "openssl"), ("redis-cli", "redis-tools")]) {
        return Suite::error(name, e);
    }
    let bin = match ctx.oxidis_bin() {
        Ok(b) => b,
        Err(e) => return Suite::error(name, e),
    };
    let root = std::env::temp_dir().join(format!("oxidis-tls-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let certs = match make_certs(&root.join("certs")) {
        Ok(c) => c,
        Err(e) => return Suite::error(name, format!("certificates: {e}")),
    };
    s.passed += 1;
    let redis = Path::new("redis-server");
    let t = Tls {
        certs: &certs,
        root: &root,
    };
    for (what, master, replica) in [
        ("redis-server master, oxidis replica", redis, bin.as_path()),
        ("oxidis master, redis-server replica", bin.as_path(), redis),
    ] {
        if let Err(e) = replication(&mut s, &t, master, replica) {
            s.fail(format!("tls-replication, {what}: {e}"));
        }
    }
    if let Err(e) = wrong_ca(&t, &bin) {
        s.fail(format!(
            "tls-replication, oxidis replica trusting another CA: {e}"
        ));
    } else {
        s.passed += 1;
    }
    for (what, master, replica, client_cert) in [
        (
            "oxidis replica, tls-client-cert-file",
            redis,
            bin.as_path(),
            true,
        ),
        (
            "redis-server replica, tls-client-cert-file",
            bin.as_path(),
            redis,
            true,
        ),
        (
            "oxidis replica, a server-only certificate",
            redis,
            bin.as_path(),
            false,
        ),
    ] {
        match client_cert_link(&t, master, replica, client_cert) {
            Ok(()) => s.passed += 1,
            Err(e) => s.fail(format!("tls-replication, {what}: {e}")),
        }
    }
    if let Err(e) = cluster(&mut s, &t, &bin) {
        s.fail(format!("tls-cluster: {e}"));
    }
    let _ = std::fs::remove_dir_all(&root);
    s
}

/// The certificate files: a CA, the nodes' certificate (no extended key usage: both a server
/// and a client certificate) and a second CA that signed nothing here.
struct Certs {
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// The nodes' key certified for serverAuth only, and for clientAuth only.
    server_only: PathBuf,
    client_only: PathBuf,
}

fn make_certs(dir: &Path) -> Result<Certs, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    };
    for (key, crt, cn) in [
        ("ca.key", "ca.crt", "/CN=Oxidis TLS links CA"),
        ("other-ca.key", "other-ca.crt", "/CN=Another CA"),
    ] {
        openssl(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days",
            "2", "-subj", cn,
        ])?;
    }
    openssl(&["genrsa", "-out", "node.key", "2048"])?;
    // One key certified three times: for both purposes (no extended key usage), and for one
    // purpose only.
    for (who, usage) in [
        ("node", ""),
        ("server-only", "extendedKeyUsage=serverAuth\n"),
        ("client-only", "extendedKeyUsage=clientAuth\n"),
    ] {
        let (csr, crt, ext) = (
            format!("{who}.csr"),
            format!("{who}.crt"),
            format!("{who}.ext"),
        );
        std::fs::write(
            dir.join(&ext),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
                 subjectAltName=DNS:node.invalid\n{usage}"
            ),
        )
        .map_err(|e| e.to_string())?;
        openssl(&[
            "req", "-new", "-key", "node.key", "-out", &csr, "-subj", "/CN=node",
        ])?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ])?;
    }
    Ok(Certs {
        ca: dir.join("ca.crt"),
        other_ca: dir.join("other-ca.crt"),
        cert: dir.join("node.crt"),
        key: dir.join("node.key"),
        server_only: dir.join("server-only.crt"),
        client_only: dir.join("client-only.crt"),
    })
}

struct Tls<'a> {
    certs: &'a Certs,
    root: &'a Path,
}

/// A started node: its plain port (the guard's) and its tls-port.
struct Node {
    server: Server,
    tls_port: u16,
}

impl Node {
    fn conn(&self) -> Result<Conn, String> {
        let mut c = Conn::connect(&self.server.addr())?;
        c.set_timeout(LIMIT);
        Ok(c)
    }
}

impl Tls<'_> {
    /// `bin` with a config file: plain port, tls-port, the certificate files, and `extra`
    /// lines (`{tls}` in them is replaced by the node's tls-port).
    fn start(&self, bin: &Path, ca: &Path, extra: &str) -> Result<Node, String> {
        let port = servers::free_port()?;
        let tls_port = loop {
            let p = servers::free_port()?;
            if p != port {
                break p;
            }
        };
        let dir = self.root.join(format!("node-{port}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let c = self.certs;
        let conf = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsave \"\"\nappendonly no\n\
             enable-debug-command yes\nrepl-diskless-sync-delay 0\ntls-port {tls_port}\n\
             tls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n{}",
            dir.display(),
            c.cert.display(),
            c.key.display(),
            ca.display(),
            extra.replace("{tls}", &tls_port.to_string()),
        );
        let path = dir.join("node.conf");
        std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = format!(
            "tls-links-{}",
            bin.file_name().unwrap_or_default().to_string_lossy()
        );
        let mut cmd = Command::new(bin);
        cmd.arg(&path).current_dir(&dir);
        let log = servers::log_dir().join(format!("{name}-{port}.log"));
        let server = Server::spawn(&name, cmd, port, &log)?;
        Ok(Node { server, tls_port })
    }

    /// redis-cli over TLS with the nodes' certificate: (success, stdout + stderr).
    fn cli(&self, args: &[&str]) -> Result<(bool, String), String> {
        let c = self.certs;
        let mut all: Vec<&std::ffi::OsStr> = vec!["--tls".as_ref(), "--cert".as_ref()];
        all.extend([c.cert.as_os_str(), "--key".as_ref(), c.key.as_os_str()]);
        all.extend(["--cacert".as_ref(), c.ca.as_os_str()]);
        all.extend(args.iter().map(std::ffi::OsStr::new));
        crate::cluster::run_redis_cli(Duration::from_secs(60), &all)
    }
}

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Error(b) => String::from_utf8_lossy(b).into(),
        Reply::Int(n) => n.to_string(),
        Reply::Nil => "(nil)".into(),
        other => format!("{other:?}"),
    }
}

fn check(s: &mut Suite, what: &str, r: Result<(), String>) -> Result<(), String> {
    match r {
        Ok(()) => {
            s.passed += 1;
            Ok(())
        }
        Err(e) => Err(format!("{what}: {e}")),
    }
}

fn info_i64(c: &mut Conn, section: &str, field: &str) -> Result<i64, String> {
    c.info_field(section, field)?
        .parse()
        .map_err(|e| format!("INFO {field}: {e}"))
}

/// The 4 MB values arrived whole.
fn big_values(r: &mut Conn) -> Result<(), String> {
    for key in ["big1", "big2"] {
        let n = text(&r.call(&["STRLEN", key])?);
        if n != (4 << 20).to_string() {
            return Err(format!("STRLEN {key} on the replica: {n}"));
        }
    }
    Ok(())
}

/// Waits until `replica`'s link is up and it has `key` = `value`.
fn arrived(replica: &mut Conn, key: &str, value: &str) -> Result<(), String> {
    poll(&format!("{key} on the replica"), LIMIT, || {
        let up = replica.info_field("replication", "master_link_status")? == "up";
        let got = text(&replica.call(&["GET", key])?);
        Ok((up && got == value).then_some(()))
    })
}

fn replication(
    s: &mut Suite,
    t: &Tls,
    master_bin: &Path,
    replica_bin: &Path,
) -> Result<(), String> {
    let ca = &t.certs.ca;
    let master = t.start(master_bin, ca, "tls-replication yes\n")?;
    let mut m = master.conn()?;
    // 4 MB values in the RDB and in the stream: more than one TLS record or socket buffer.
    let big = "x".repeat(4 << 20);
    m.call_ok(&["SET", "big1", &big])?;
    m.call_ok(&["SET", "before", "sync"])?;
    let replica = t.start(
        replica_bin,
        ca,
        &format!(
            "tls-replication yes\nreplicaof 127.0.0.1 {}\n",
            master.tls_port
        ),
    )?;
    let mut r = replica.conn()?;
    check(s, "first sync over TLS", arrived(&mut r, "before", "sync"))?;
    m.call_ok(&["SET", "big2", &big])?;
    m.call_ok(&["SET", "after", "sync"])?;
    check(
        s,
        "a write after the sync",
        arrived(&mut r, "after", "sync"),
    )?;
    check(
        s,
        "4 MB values in the RDB and the stream",
        big_values(&mut r),
    )?;
    let listed = m.info_field("replication", "slave0")?;
    let want = format!("port={},", replica.tls_port);
    check(
        s,
        "the master lists the replica under its tls-port",
        if listed.contains(&want) {
            Ok(())
        } else {
            Err(format!("slave0:{listed}, want {want}"))
        },
    )?;
    let (full, partial) = (
        info_i64(&mut m, "stats", "sync_full")?,
        info_i64(&mut m, "stats", "sync_partial_ok")?,
    );
    r.call_ok(&["CLIENT", "KILL", "TYPE", "master"])?;
    m.call_ok(&["SET", "after", "cut"])?;
    check(s, "a write after the cut", arrived(&mut r, "after", "cut"))?;
    let (full2, partial2) = (
        info_i64(&mut m, "stats", "sync_full")?,
        info_i64(&mut m, "stats", "sync_partial_ok")?,
    );
    check(
        s,
        "the cut link resyncs partially",
        if full2 == full && partial2 == partial + 1 {
            Ok(())
        } else {
            Err(format!(
                "sync_full {full} → {full2}, sync_partial_ok {partial} → {partial2}"
            ))
        },
    )
}

/// An Oxidis replica whose tls-ca-cert-file is another CA: the master's certificate does not
/// verify, so the link never comes up (checked for 3 s) and the master has no replica.
fn wrong_ca(t: &Tls, bin: &Path) -> Result<(), String> {
    let master = t.start(
        Path::new("redis-server"),
        &t.certs.ca,
        "tls-replication yes\n",
    )?;
    let replica = t.start(
        bin,
        &t.certs.other_ca,
        &format!(
            "tls-replication yes\nreplicaof 127.0.0.1 {}\n",
            master.tls_port
        ),
    )?;
    let (mut m, mut r) = (master.conn()?, replica.conn()?);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let link = r.info_field("replication", "master_link_status")?;
        let slaves = m.info_field("replication", "connected_slaves")?;
        if link != "down" || slaves != "0" {
            return Err(format!(
                "master_link_status:{link}, the master's connected_slaves:{slaves}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// A replica whose tls-cert-file is certified for serverAuth only: with a clientAuth
/// tls-client-cert-file (`client_cert`) the link comes up and carries a write (the client
/// certificate is the one presented); without, the master refuses the certificate and the
/// link stays down (checked for 3 s).
fn client_cert_link(
    t: &Tls,
    master_bin: &Path,
    replica_bin: &Path,
    client_cert: bool,
) -> Result<(), String> {
    let master = t.start(master_bin, &t.certs.ca, "tls-replication yes\n")?;
    let c = t.certs;
    let mut extra = format!(
        "tls-replication yes\nreplicaof 127.0.0.1 {}\ntls-cert-file {}\n",
        master.tls_port,
        c.server_only.display()
    );
    if client_cert {
        extra.push_str(&format!(
            "tls-client-cert-file {}\ntls-client-key-file {}\n",
            c.client_only.display(),
            c.key.display()
        ));
    }
    let replica = t.start(replica_bin, &c.ca, &extra)?;
    let (mut m, mut r) = (master.conn()?, replica.conn()?);
    m.call_ok(&["SET", "client", "cert"])?;
    if client_cert {
        return arrived(&mut r, "client", "cert");
    }
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let link = r.info_field("replication", "master_link_status")?;
        if link != "down" {
            return Err(format!("master_link_status:{link}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// A key whose slot `owner` (a node's port in CLUSTER SLOTS to a plaintext client) serves, and
/// that slot.
fn key_on(c: &mut Conn, owner: u16, tag: &str) -> Result<(String, i64), String> {
    let Reply::Array(ranges) = c.call_ok(&["CLUSTER", "SLOTS"])? else {
        return Err("CLUSTER SLOTS: not an array".into());
    };
    let mut mine = Vec::new();
    for r in &ranges {
        if let Reply::Array(v) = r {
            if let [Reply::Int(a), Reply::Int(b), Reply::Array(m), ..] = v.as_slice() {
                if m.get(1) == Some(&Reply::Int(i64::from(owner))) {
                    mine.push((*a, *b));
                }
            }
        }
    }
    for i in 0..10_000 {
        let key = format!("{tag}:{i}");
        let slot = match c.call_ok(&["CLUSTER", "KEYSLOT", &key])? {
            Reply::Int(n) => n,
            other => return Err(format!("CLUSTER KEYSLOT: {other:?}")),
        };
        if mine.iter().any(|&(a, b)| (a..=b).contains(&slot)) {
            return Ok((key, slot));
        }
    }
    Err(format!(
        "no key on the node at {owner} (CLUSTER SLOTS {ranges:?})"
    ))
}

fn expect(what: &str, got: &Reply, want: &str) -> Result<(), String> {
    if text(got) == want {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, want {want}"))
    }
}

/// Moves `key`'s slot from `from` to `to` as a resharding does (IMPORTING, MIGRATING, MIGRATE
/// to `to`'s tls-port, SETSLOT NODE everywhere), MIGRATE inside MULTI/EXEC when `in_multi`;
/// the value read back from `to` is the one written.
fn migrate(
    nodes: &[Node],
    from: usize,
    to: usize,
    key: &str,
    slot: i64,
    in_multi: bool,
) -> Result<(), String> {
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| Ok(text(&n.conn()?.call_ok(&["CLUSTER", "MYID"])?)))
        .collect::<Result<_, String>>()?;
    let slot = slot.to_string();
    let (mut src, mut dst) = (nodes[from].conn()?, nodes[to].conn()?);
    // 4 MB: more than rustls and the sockets buffer at once, on both MIGRATE paths.
    let value = format!("moved over TLS {}", "x".repeat(4 << 20));
    src.call_ok(&["SET", key, &value])?;
    dst.call_ok(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &ids[from]])?;
    src.call_ok(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &ids[to]])?;
    let port = nodes[to].tls_port.to_string();
    let args = ["MIGRATE", "127.0.0.1", &port, key, "0", "5000"];
    if in_multi {
        src.call_ok(&["MULTI"])?;
        expect("MIGRATE in MULTI", &src.call(&args)?, "QUEUED")?;
        match src.call(&["EXEC"])? {
            Reply::Array(v) if v.len() == 1 => expect("EXEC's MIGRATE", &v[0], "OK")?,
            other => return Err(format!("EXEC: {other:?}")),
        }
    } else {
        expect("MIGRATE", &src.call(&args)?, "OK")?;
    }
    for n in nodes {
        n.conn()?
            .call_ok(&["CLUSTER", "SETSLOT", &slot, "NODE", &ids[to]])?;
    }
    match dst.call(&["GET", key])? {
        Reply::Bulk(b) if b == value.as_bytes() => {}
        Reply::Bulk(b) => return Err(format!("the key on its new owner: {} bytes", b.len())),
        other => return Err(format!("the key on its new owner: {other:?}")),
    }
    expect(
        "the keys left in the slot on the old owner",
        &src.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot])?,
        "0",
    )
}

fn cluster(s: &mut Suite, t: &Tls, bin: &Path) -> Result<(), String> {
    let redis = Path::new("redis-server");
    let mut nodes = Vec::new();
    for b in [bin, redis, bin] {
        let bus = servers::free_port()?;
        nodes.push(t.start(
            b,
            &t.certs.ca,
            &format!(
                "tls-cluster yes\ncluster-enabled yes\ncluster-config-file nodes.conf\n\
                 cluster-node-timeout 5000\ncluster-port {bus}\n"
            ),
        )?);
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.tls_port))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.push("--cluster-yes");
    let (ok, out) = t.cli(&args)?;
    check(
        s,
        "redis-cli --tls --cluster create",
        if ok && out.contains("[OK] All 16384 slots covered.") {
            Ok(())
        } else {
            Err(out)
        },
    )?;
    for (i, n) in nodes.iter().enumerate() {
        let mut c = n.conn()?;
        check(
            s,
            &format!("cluster_state:ok on node {i}"),
            poll("cluster_state:ok", LIMIT, || {
                let info = text(&c.call_ok(&["CLUSTER", "INFO"])?);
                Ok(info.lines().any(|l| l == "cluster_state:ok").then_some(()))
            }),
        )?;
    }
    // Every node names every node by its tls-port to a TLS client, by its plaintext port
    // (pport) to a plaintext one (use_pport).
    let plain: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}@", n.server.port()))
        .collect();
    let tls: Vec<String> = addrs.iter().map(|a| format!("{a}@")).collect();
    for (i, n) in nodes.iter().enumerate() {
        let over_plain = text(&n.conn()?.call_ok(&["CLUSTER", "NODES"])?);
        let (ok, over_tls) = t.cli(&["-p", &n.tls_port.to_string(), "CLUSTER", "NODES"])?;
        let r = [(&plain, &over_plain), (&tls, &over_tls)]
            .iter()
            .find_map(|(want, got)| {
                let missing: Vec<&String> = want.iter().filter(|a| !got.contains(*a)).collect();
                (!missing.is_empty()).then(|| format!("{missing:?} not in {got}"))
            })
            .map_or(Ok(()), Err);
        check(
            s,
            &format!("CLUSTER NODES on node {i}: tls-ports over TLS, ports over plaintext"),
            if ok { r } else { Err(over_tls) },
        )?;
    }
    // A key node 1 (redis-server) serves, asked of node 0 (oxidis) over TLS.
    let (key, slot) = key_on(&mut nodes[0].conn()?, nodes[1].server.port(), "moved")?;
    let p0 = nodes[0].tls_port.to_string();
    let (_, out) = t.cli(&["-p", &p0, "SET", &key, "v"])?;
    let want = format!("MOVED {slot} 127.0.0.1:{}", nodes[1].tls_port);
    let got = nodes[0].conn()?.call(&["SET", &key, "v"])?;
    let want_plain = format!("MOVED {slot} 127.0.0.1:{}", nodes[1].server.port());
    check(
        s,
        "MOVED names the tls-port over TLS, the port over plaintext",
        if out.trim() == want && text(&got) == want_plain {
            Ok(())
        } else {
            Err(format!(
                "{out:?}, want {want:?}; {got:?}, want {want_plain:?}"
            ))
        },
    )?;
    let (ok, out) = t.cli(&["-c", "-p", &p0, "SET", &key, "followed"])?;
    let p2 = nodes[2].tls_port.to_string();
    let (ok2, out2) = t.cli(&["-c", "-p", &p2, "GET", &key])?;
    check(
        s,
        "redis-cli -c --tls follows MOVED",
        if ok && out.trim() == "OK" && ok2 && out2.trim() == "followed" {
            Ok(())
        } else {
            Err(format!("SET: {out:?}, GET: {out2:?}"))
        },
    )?;
    for (what, from, to, multi) in [
        ("oxidis → redis-server", 0, 1, false),
        ("redis-server → oxidis", 1, 2, false),
        ("oxidis → oxidis", 2, 0, false),
        ("oxidis → oxidis in MULTI/EXEC", 0, 2, true),
    ] {
        let tag = format!("m{from}{to}{multi}");
        let (key, slot) = key_on(&mut nodes[from].conn()?, nodes[from].server.port(), &tag)?;
        let r = migrate(&nodes, from, to, &key, slot, multi);
        check(s, &format!("MIGRATE over TLS, {what}"), r)?;
    }
    // The target's plaintext port does not speak TLS: MIGRATE from an Oxidis node fails.
    let (key, _) = key_on(&mut nodes[0].conn()?, nodes[0].server.port(), "plain")?;
    let mut c = nodes[0].conn()?;
    c.call_ok(&["SET", &key, "stays"])?;
    let port = nodes[1].server.port().to_string();
    let r = c.call(&["MIGRATE", "127.0.0.1", &port, &key, "0", "1000"])?;
    check(
        s,
        "MIGRATE to a plaintext port fails under tls-cluster",
        match &r {
            Reply::Error(e) if e.starts_with(b"IOERR") => {
                expect("the key", &c.call(&["GET", &key])?, "stays")
            }
            other => Err(format!("{other:?}")),
        },
    )
}
