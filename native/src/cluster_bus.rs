//! The cluster bus host (Redis 7.0's cluster.c I/O: clusterInit's listener, clusterAcceptHandler,
//! clusterReadHandler, clusterWriteHandler, the non-blocking connects of clusterCron, and
//! nodes.conf locking, loading and saving). The protocol is the core's (core/src/cluster/):
//! this file only moves bytes between sockets and the engine's link API
//! (`Engine::cluster_link_*`) and writes the nodes.conf text the engine hands over.
//!
//! Tokens: the bus listeners are `TOKEN_BASE + i`, link `h` is `TOKEN_BASE + LINKS + h`
//! (h = the core's `LinkHandle`), far above the client connections' tokens.

use crate::conn::Stream;
use crate::log;
use crate::tls::TlsStream;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use oxidis_core::{Engine, Event, LinkHandle, UnixMillis};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::os::fd::AsRawFd;

/// The first bus token.
pub const TOKEN_BASE: usize = 1 << 40;
/// Link tokens start this far above `TOKEN_BASE` (the listeners are below).
const LINKS: usize = 64;
/// Reads per link per readiness event (RCVBUF_INIT_LEN's order, a few times over).
const READ_CHUNK: usize = 16 * 1024;
const READS_PER_EVENT: usize = 16;

/// One bus connection.
struct BusLink {
    /// Plain, or TLS under tls-cluster (the handshake runs with the first reads and writes).
    stream: Stream,
    /// Bytes the socket did not take yet.
    out: Vec<u8>,
    /// A non-blocking connect in progress (outbound links).
    connecting: bool,
    /// Registered for WRITABLE.
    writable: bool,
}

/// The bus: listeners, links, the nodes.conf lock.
pub struct Bus {
    listeners: Vec<TcpListener>,
    links: Vec<Option<BusLink>>,
    /// cluster-config-file (relative to `dir`, the working directory).
    config_path: String,
    /// Holds the flock on nodes.conf for the process's life (clusterLockConfig).
    _lock: File,
    buf: Vec<u8>,
}

/// Why the bus could not start: the lines Redis logs before `exit(1)`.
pub type StartError = Vec<String>;

impl Bus {
    /// clusterInit: lock and load nodes.conf (a missing or empty file: a fresh node, its file
    /// written at once), then listen on the bus port (`cluster-port`, else port + 10000, or
    /// tls-port + 10000 under tls-cluster) on every `bind` address. Ok(None) when cluster mode is off.
    pub fn start(
        eng: &mut Engine,
        registry: &Registry,
        bind: &str,
        port: u16,
        now: UnixMillis,
    ) -> Result<Option<Bus>, StartError> {
        if !eng.config().cluster_enabled {
            return Ok(None);
        }
        let config_path = String::from_utf8_lossy(&eng.config().cluster_config_file).into_owned();
        let lock = lock_config(&config_path)?;
        let text = match std::fs::read(&config_path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(vec![format!(
                    "Loading the cluster node config from {config_path}: {}",
                    log::strerror(&e)
                )])
            }
        };
        let myself = |eng: &Engine| eng.cluster_myself().unwrap_or_default();
        if text.is_empty() {
            log::notice(&format!(
                "No cluster configuration found, I'm {}",
                myself(eng)
            ));
            // clusterSaveConfigOrDie(1): the fresh node's file, now.
            if let Some((text, _)) = eng.cluster_config_to_save() {
                save_config(&config_path, &text, true).map_err(|_| fatal_save())?;
            }
        } else {
            eng.cluster_load_config(&String::from_utf8_lossy(&text), now)
                .map_err(|e| vec![e])?;
            log::notice(&format!("Node configuration loaded, I'm {}", myself(eng)));
        }
        let cluster_port = eng.config().cluster_port;
        // Under tls-cluster the bus port follows tls-port (clusterInit).
        let tls_port = u16::try_from(eng.config().tls_port).unwrap_or(0);
        let port = if eng.config().tls_cluster {
            tls_port
        } else {
            port
        };
        if cluster_port == 0 && port > 65535 - 10000 {
            return Err(vec![
                "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.".into(),
            ]);
        }
        if bind.split_ascii_whitespace().next().is_none() {
            return Err(vec![
                "No bind address is configured, but it is required for the Cluster bus.".into(),
            ]);
        }
        let cport = if cluster_port != 0 {
            cluster_port as u16
        } else {
            port + 10000
        };
        let mut listeners = match crate::server::open_listeners(bind, cport, "cluster") {
            Ok(l) => l,
            Err(crate::server::StartError::Listen(lines)) => return Err(lines),
            Err(crate::server::StartError::Io(e)) => return Err(vec![e]),
            Err(crate::server::StartError::NoListeners) => Vec::new(),
        };
        if listeners.is_empty() || listeners.len() > LINKS {
            return Err(vec![format!(
                "Failed listening on port {cport} (cluster), aborting."
            )]);
        }
        for (i, l) in listeners.iter_mut().enumerate() {
            registry
                .register(l, Token(TOKEN_BASE + i), Interest::READABLE)
                .map_err(|e| vec![log::strerror(&e)])?;
        }
        eng.set_cluster_config_host(Box::new(ConfigWriter(config_path.clone())));
        Ok(Some(Bus {
            listeners,
            links: Vec::new(),
            config_path,
            _lock: lock,
            buf: vec![0; READ_CHUNK],
        }))
    }

    /// A readiness event on a bus token.
    pub fn ready(
        &mut self,
        ev: &mio::event::Event,
        registry: &Registry,
        eng: &mut Engine,
        now: UnixMillis,
    ) {
        let token = ev.token().0;
        let (readable, writable) = (ev.is_readable(), ev.is_writable());
        let closed = ev.is_read_closed() || ev.is_error();
        let i = token - TOKEN_BASE;
        if i < LINKS {
            self.accept(i, registry, eng, now);
            return;
        }
        let h = i - LINKS;
        let Some(link) = self.links.get_mut(h).and_then(Option::as_mut) else {
            return;
        };
        if link.connecting {
            if writable || closed {
                self.connect_ready(h, registry, eng, now);
            }
            return;
        }
        if readable || closed {
            self.read(h, registry, eng, now);
        }
        if writable {
            self.flush(h, registry, eng, now);
        }
    }

    /// clusterAcceptHandler: every pending connection becomes an inbound link.
    fn accept(&mut self, i: usize, registry: &Registry, eng: &mut Engine, now: UnixMillis) {
        loop {
            let Some(l) = self.listeners.get(i) else {
                return;
            };
            match l.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr();
                    // tls-cluster: a client certificate is required (connCreateAcceptedTLS
                    // with TLS_CLIENT_AUTH_YES).
                    let mut stream = if eng.config().tls_cluster {
                        match TlsStream::accept_bus(stream) {
                            Ok(t) => Stream::Tls(Box::new(t)),
                            Err(e) => {
                                log::verbose(&format!("Error accepting cluster node: {e}"));
                                continue;
                            }
                        }
                    } else {
                        Stream::Tcp(stream)
                    };
                    let h = eng.cluster_link_accepted(now, peer.ip().to_string());
                    if h.0 == usize::MAX {
                        continue; // not a cluster node: dropped
                    }
                    // A MEET arriving on it tells us our own address (as Redis learns it).
                    if let Ok(local) = local {
                        eng.cluster_link_local_ip(h, local.ip().to_string());
                    }
                    if registry
                        .register(
                            &mut stream,
                            Token(TOKEN_BASE + LINKS + h.0),
                            Interest::READABLE,
                        )
                        .is_err()
                    {
                        eng.cluster_link_closed(now, h);
                        continue;
                    }
                    self.put(
                        h,
                        BusLink {
                            stream,
                            out: Vec::new(),
                            connecting: false,
                            writable: false,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::verbose(&format!(
                        "Error accepting cluster node: {}",
                        log::strerror(&e)
                    ));
                    return;
                }
            }
        }
    }

    fn put(&mut self, h: LinkHandle, link: BusLink) {
        if self.links.len() <= h.0 {
            self.links.resize_with(h.0 + 1, || None);
        }
        // A stale socket under the same handle (the core reused it) is dropped.
        self.links[h.0] = Some(link);
    }

    /// clusterReadHandler: what the socket has, to the engine; EOF or an error frees the link.
    fn read(&mut self, h: usize, registry: &Registry, eng: &mut Engine, now: UnixMillis) {
        let mut eof = false;
        for _ in 0..READS_PER_EVENT {
            let Some(link) = self.links.get_mut(h).and_then(Option::as_mut) else {
                return;
            };
            match link.stream.read(&mut self.buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    eng.cluster_link_input(now, LinkHandle(h), &self.buf[..n]);
                    if n < self.buf.len() && !link.stream.reads_records() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        if eof {
            self.drop_link(h, registry);
            eng.cluster_link_closed(now, LinkHandle(h));
        } else if self
            .links
            .get(h)
            .and_then(Option::as_ref)
            .is_some_and(|l| l.stream.reads_records())
        {
            // A TLS handshake that ended here releases what was written during it.
            self.flush(h, registry, eng, now);
        }
    }

    /// The engine's side of the events it queued for the bus.
    pub fn handle(&mut self, ev: Event, registry: &Registry, eng: &mut Engine, now: UnixMillis) {
        match ev {
            Event::ConnectClusterNode { link, ip, port } => {
                self.connect(link, &ip, port, registry, eng, now)
            }
            Event::ClusterOutput(link) => {
                let bytes = eng.cluster_link_output(link);
                if let Some(l) = self.links.get_mut(link.0).and_then(Option::as_mut) {
                    l.out.extend_from_slice(&bytes);
                    if l.connecting {
                        eng.cluster_link_unsent(link, l.out.len());
                    } else {
                        self.flush(link.0, registry, eng, now);
                    }
                }
            }
            Event::CloseClusterLink(link) => self.drop_link(link.0, registry),
            _ => {}
        }
    }

    /// clusterCron's connect: non-blocking, finished in `connect_ready`.
    fn connect(
        &mut self,
        h: LinkHandle,
        ip: &str,
        port: u16,
        registry: &Registry,
        eng: &mut Engine,
        now: UnixMillis,
    ) {
        self.drop_link(h.0, registry);
        let addr = (ip, port).to_socket_addrs().ok().and_then(|mut a| a.next());
        let Some(mut stream) = addr.and_then(|a| TcpStream::connect(a).ok()) else {
            eng.cluster_link_failed(now, h);
            return;
        };
        if registry
            .register(
                &mut stream,
                Token(TOKEN_BASE + LINKS + h.0),
                Interest::WRITABLE,
            )
            .is_err()
        {
            eng.cluster_link_failed(now, h);
            return;
        }
        self.put(
            h,
            BusLink {
                stream: Stream::Tcp(stream),
                out: Vec::new(),
                connecting: true,
                writable: true,
            },
        );
    }

    /// The connect finished (or failed).
    fn connect_ready(&mut self, h: usize, registry: &Registry, eng: &mut Engine, now: UnixMillis) {
        let Some(link) = self.links.get_mut(h).and_then(Option::as_mut) else {
            return;
        };
        let Some(sock) = link.stream.socket() else {
            return;
        };
        let failed = matches!(sock.take_error(), Ok(Some(_)) | Err(_));
        match sock.peer_addr() {
            Ok(peer) if !failed => {
                link.connecting = false;
                let _ = sock.set_nodelay(true);
                // tls-cluster: the ClientHello goes with the first message.
                if eng.config().tls_cluster {
                    let Some(mut plain) = self.links.get_mut(h).and_then(Option::take) else {
                        return;
                    };
                    let Stream::Tcp(sock) = plain.stream else {
                        return;
                    };
                    match TlsStream::client(sock, &peer.ip().to_string()) {
                        Ok(t) => {
                            plain.stream = Stream::Tls(Box::new(t));
                            self.put(LinkHandle(h), plain);
                        }
                        Err(e) => {
                            log::verbose(&format!("Unable to connect to a cluster node: {e}"));
                            eng.cluster_link_failed(now, LinkHandle(h));
                            return;
                        }
                    }
                }
                eng.cluster_link_connected(now, LinkHandle(h));
                // The engine queued its first message (a PING or MEET): written with the
                // events; until then only readable.
                if let Some(link) = self.links.get_mut(h).and_then(Option::as_mut) {
                    link.writable = false;
                    let _ = registry.reregister(
                        &mut link.stream,
                        Token(TOKEN_BASE + LINKS + h),
                        Interest::READABLE,
                    );
                }
                self.flush(h, registry, eng, now);
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected && !failed => {
                // Spurious wake-up: still connecting.
            }
            _ => {
                self.drop_link(h, registry);
                eng.cluster_link_failed(now, LinkHandle(h));
            }
        }
    }

    /// clusterWriteHandler: writes what it can, keeps the rest with WRITABLE interest.
    fn flush(&mut self, h: usize, registry: &Registry, eng: &mut Engine, now: UnixMillis) {
        let Some(link) = self.links.get_mut(h).and_then(Option::as_mut) else {
            return;
        };
        let mut written = 0;
        let mut broken = false;
        while written < link.out.len() {
            match link.stream.write(&link.out[written..]) {
                Ok(0) => {
                    broken = true;
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if broken {
            self.drop_link(h, registry);
            eng.cluster_link_closed(now, LinkHandle(h));
            return;
        }
        link.out.drain(..written);
        eng.cluster_link_unsent(LinkHandle(h), link.out.len());
        // TLS records the socket did not take (or a handshake under way) want WRITABLE too.
        let records = match link.stream.records_pending() {
            Ok(r) => r,
            Err(_) => {
                self.drop_link(h, registry);
                eng.cluster_link_closed(now, LinkHandle(h));
                return;
            }
        };
        let want = !link.out.is_empty() || records;
        if want != link.writable {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if registry
                .reregister(&mut link.stream, Token(TOKEN_BASE + LINKS + h), interest)
                .is_ok()
            {
                link.writable = want;
            }
        }
    }

    fn drop_link(&mut self, h: usize, registry: &Registry) {
        if let Some(mut link) = self.links.get_mut(h).and_then(Option::take) {
            let _ = registry.deregister(&mut link.stream);
        }
    }

    /// After an engine turn: nodes.conf written if it changed (clusterSaveConfigOrDie).
    pub fn save_config(&mut self, eng: &mut Engine) {
        if let Some((text, fsync)) = eng.cluster_config_to_save() {
            if save_config(&self.config_path, &text, fsync).is_err() {
                for l in fatal_save() {
                    log::warning(&l);
                }
                std::process::exit(1);
            }
        }
    }

    /// Shutdown: every link and listener closed.
    pub fn close_all(&mut self, registry: &Registry) {
        for h in 0..self.links.len() {
            self.drop_link(h, registry);
        }
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = registry.deregister(&mut l);
        }
    }
}

/// MIGRATE inside MULTI/EXEC or a script: a blocking connection, as Redis's migrateCommand
/// (connect, write, then each reply line within the timeout), opened for the one call.
pub struct SyncMigrate;

impl oxidis_core::MigrateHost for SyncMigrate {
    fn exchange(
        &mut self,
        host: &str,
        port: u16,
        request: &[u8],
        lines: usize,
        timeout_ms: u64,
    ) -> Result<Vec<Vec<u8>>, oxidis_core::MigrateIoError> {
        use oxidis_core::MigrateIoError as E;
        use std::io::{BufRead, BufReader};
        use std::net::ToSocketAddrs;
        let t = std::time::Duration::from_millis(timeout_ms.max(1));
        let addrs = (host, port).to_socket_addrs().map_err(|_| E::Connect)?;
        let stream = addrs
            .into_iter()
            .find_map(|a| std::net::TcpStream::connect_timeout(&a, t).ok())
            .ok_or(E::Connect)?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(t));
        let _ = stream.set_read_timeout(Some(t));
        // tls-cluster (connTypeOfCluster): TLS, its handshake within the timeout too.
        let mut stream: Box<dyn ReadWrite> = if crate::tls::cluster() {
            Box::new(crate::tls::connect_blocking(stream, host, t).map_err(|_| E::Connect)?)
        } else {
            Box::new(stream)
        };
        stream.write_all(request).map_err(|_| E::Write)?;
        let mut r = BufReader::new(stream);
        let mut out = Vec::with_capacity(lines);
        for _ in 0..lines {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line).map_err(|_| E::Read)?;
            if !line.ends_with(b"\r\n") {
                return Err(E::Read);
            }
            line.truncate(line.len() - 2);
            out.push(line);
        }
        Ok(out)
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// CLUSTER SAVECONFIG's writer: the same in-place write, its error as strerror's text.
struct ConfigWriter(String);

impl oxidis_core::ClusterConfigHost for ConfigWriter {
    fn save(&mut self, text: &str, fsync: bool) -> Result<(), String> {
        save_config(&self.0, text, fsync).map_err(|e| log::strerror(&e))
    }
}

fn fatal_save() -> Vec<String> {
    vec!["Fatal: can't update cluster config file.".into()]
}

/// clusterLockConfig: an exclusive flock held for the process's life (the file is created
/// if missing, so two nodes started together cannot both take it).
fn lock_config(path: &str) -> Result<File, StartError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            vec![format!(
                "Can't open {path} in order to acquire a lock: {}",
                log::strerror(&e)
            )]
        })?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == -1 {
        let e = io::Error::last_os_error();
        return Err(vec![if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            format!(
                "Sorry, the cluster configuration file {path} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files."
            )
        } else {
            format!("Impossible to lock {path}: {}", log::strerror(&e))
        }]);
    }
    Ok(file)
}

/// clusterSaveConfig as 7.0.15 writes it: in place, one write of the whole text padded with
/// newlines to the old length (so a crash leaves the old or the new content, never a short
/// file), fsync when asked, then truncated to the text's length.
fn save_config(path: &str, text: &str, fsync: bool) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let old = f.metadata()?.len() as usize;
    let mut bytes = text.as_bytes().to_vec();
    if old > bytes.len() {
        bytes.resize(old, b'\n');
    }
    f.write_all(&bytes)?;
    if fsync {
        f.sync_all()?;
    }
    if bytes.len() != text.len() {
        let _ = f.set_len(text.len() as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_pads_then_truncates_in_place() {
        let dir = std::env::temp_dir().join(format!("oxidis-bus-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("nodes.conf");
        let path = p.to_str().unwrap();
        save_config(path, "a long first version\n", true).unwrap();
        save_config(path, "short\n", false).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "short\n");
        let _lock = lock_config(path).unwrap();
        let err = lock_config(path).unwrap_err();
        assert!(err[0].starts_with("Sorry, the cluster configuration file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
