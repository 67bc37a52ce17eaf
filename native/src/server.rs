//! The event loop: one thread, mio (epoll), edge-triggered.
//!
//! - Accept until WouldBlock; TCP_NODELAY; the engine gets a client per connection, and the
//!   connection's token is the engine's slot (`CONN_BASE + ClientHandle.0`), so engine events map
//!   straight to sockets.
//! - Read until a short read or WouldBlock (up to a budget per turn, for fairness), feeding
//!   each chunk to the engine, which executes every complete request. Replies wait until every
//!   ready client has been served: the turn's effects then go to the AOF with one write (and
//!   under appendfsync always one fsync: group commit), and only then are the replies written,
//!   each until done or WouldBlock (Redis's beforeSleep order: flushAppendOnlyFile, then
//!   handleClientsWithPendingWrites). WRITABLE interest is registered only while output is
//!   pending.
//! - Close when the engine says so (after QUIT or a protocol error once the reply is flushed; at
//!   once for idle timeouts), on EOF or on a socket error; `disconnect` frees the client.
//! - The poll timeout comes from `next_deadline`; `tick` runs when it is due.
//! - SIGINT/SIGTERM arrive through self-pipes and end the loop.
//! - Big values the engine dropped lazily go to the lazy-free worker after every turn.

use crate::conn::{Conn, Stream};
use crate::log;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token};
use oxidis_core::{ClientHandle, ConnInfo, Engine, Event, LoopTurn, TurnCounters, UnixMillis};
use std::cell::RefCell;
use std::io::Write;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SIGNAL_BASE: usize = 0;
/// The connection being opened to a master (replication; at most one at a time).
const MASTER_CONNECT: usize = 7;
const LISTENER_BASE: usize = 8;
const CONN_BASE: usize = 64;
/// Redis's CONFIG_BINDADDR_MAX.
const MAX_LISTENERS: usize = CONN_BASE - LISTENER_BASE;
/// Redis's PROTO_IOBUF_LEN.
const READ_CHUNK: usize = 16 * 1024;
/// Reads per connection per turn before others get theirs (then it is read again next turn).
/// One 16 KB read, as Redis does: a pipelining loader must not make a lone client wait behind
/// a megabyte of its commands (measured: 64 reads per turn gave 20-60 ms probe stalls).
const READ_BUDGET: usize = 1;
/// Redis's default tcp-backlog.
const BACKLOG: i32 = 511;
/// After accept fails (EMFILE ...), try again this soon, since edge-triggered epoll will not
/// report the still-pending connections again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// serverCron's run_with_period(100) for the instantaneous metrics.
const CRON_SAMPLE_MS: u64 = 100;

const SIGNALS: [(i32, &str); 2] = [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")];

pub fn now() -> UnixMillis {
    UnixMillis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    )
}

/// Why starting failed; main logs it and exits 1.
pub enum StartError {
    /// Redis's "Configured to not listen anywhere, exiting."
    NoListeners,
    /// A listening socket failed: the warning lines to log.
    Listen(Vec<String>),
    Io(String),
}

/// A listening socket: TCP on `port` or `tls-port`, or the unix socket.
enum Listener {
    Tcp { l: TcpListener, tls: bool },
    Unix { l: UnixListener, path: String },
}

/// The listening sockets, in the order plain TCP, TLS, unix; listener `i` has the token
/// `LISTENER_BASE + i`. Shared by the loop and the engine's `Rebinder` (CONFIG SET port/bind).
type Listeners = Rc<RefCell<Vec<Listener>>>;

/// Duplicates of the plain TCP listeners for the script environment.
type Dups = Rc<RefCell<Vec<std::net::TcpListener>>>;

impl Listener {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Tcp { l, .. } => l,
            Listener::Unix { l, .. } => l,
        }
    }
}

/// A connection just accepted, before it is a client.
enum Accepted {
    Tcp(TcpStream, SocketAddr, bool),
    Unix(UnixStream, String),
}

pub struct Server {
    poll: Poll,
    listeners: Listeners,
    signals: Vec<UnixStream>,
    conns: Vec<Option<Conn>>,
    eng: Engine,
    read_again: Vec<usize>,
    /// Counts loop turns (`Conn::read_turn`).
    turn_no: u64,
    /// Connections with replies to write once the turn's AOF write is done.
    write_queue: Vec<usize>,
    accept_retry: bool,
    /// When the engine last ticked.
    last_tick: UnixMillis,
    buf: Vec<u8>,
    /// Persistence state shared with the engine's host hooks (persistence.rs, aof.rs).
    persist: Option<crate::persistence::Shared>,
    aof_buf: Vec<u8>,
    lazyfree: crate::lazyfree::Worker,
    /// Duplicates of the connections' sockets, for the script environment (script_env.rs).
    socks: crate::script_env::Socks,
    accepted: crate::script_env::Accepted,
    /// A non-blocking connect to a master in progress, with the engine's attempt number.
    master_connect: Option<(TcpStream, u64)>,
    /// The host of the master being connected to (the TLS server name, tls-replication).
    master_host: String,
    /// What the current loop turn did so far (reported to the engine when it ends).
    turn: LoopTurn,
    /// The cluster bus, when `cluster-enabled yes` (cluster_bus.rs).
    bus: Option<crate::cluster_bus::Bus>,
}

/// Where a loop turn started: the clock, the engine's counters, the allocator's big-block
/// counters and (while the latency monitor is on) the thread's resource usage.
struct TurnStart {
    at: std::time::Instant,
    counters: TurnCounters,
    big: (usize, usize),
    usage: Option<libc::rusage>,
    cpu_us: Option<u64>,
}

/// The loop thread's CPU time, µs.
fn thread_cpu_us() -> Option<u64> {
    // SAFETY: clock_gettime writes a timespec into the zeroed struct we own.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        (libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) == 0)
            .then(|| ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000)
    }
}

/// The loop thread's resource usage (page faults, context switches).
fn thread_usage() -> Option<libc::rusage> {
    // SAFETY: getrusage writes a rusage into the zeroed struct we own.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_THREAD, &mut ru) == 0).then_some(ru)
    }
}

fn listen_on(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        // Like Redis's anetV6Only: `bind * ::*` must be able to take the same port twice.
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Redis's `bind` words: `*` is every IPv4 address, `::*` every IPv6 one, a leading `-` makes
/// an address optional (skipped if it is not available here).
fn bind_addr(word: &str, port: u16) -> io::Result<SocketAddr> {
    let host = match word {
        "*" => "0.0.0.0",
        "::*" => "::",
        w => w,
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EADDRNOTAVAIL))
}

/// Redis's anetUnixServer: unlink a stale socket file, bind, chmod to `perm` (if not 0),
/// listen with the TCP backlog.
fn listen_unix(path: &str, perm: u32) -> Result<UnixListener, String> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let _ = std::fs::remove_file(path);
    let max = 107; // sizeof(sun_path) - 1
    if path.len() > max {
        return Err(format!(
            "unix socket path too long ({}), must be under {}",
            path.len(),
            max + 1
        ));
    }
    let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| e.to_string())?;
    let addr = SockAddr::unix(path).map_err(|e| e.to_string())?;
    s.bind(&addr)
        .map_err(|e| format!("bind: {}", crate::log::strerror(&e)))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
    }
    s.listen(BACKLOG)
        .map_err(|e| format!("listen: {}", crate::log::strerror(&e)))?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    let fd: std::os::fd::OwnedFd = s.into();
    Ok(UnixListener::from_std(fd.into()))
}

/// Redis's anetKeepAlive: SO_KEEPALIVE, the first probe after `interval` idle seconds, then
/// every interval/3 (at least 1), and the peer is dead after 3 unanswered probes.
fn set_keepalive(stream: &TcpStream, interval: i64) {
    if interval <= 0 {
        return;
    }
    let secs = |n: i64| Duration::from_secs(n.max(1) as u64);
    let ka = socket2::TcpKeepalive::new()
        .with_time(secs(interval))
        .with_interval(secs(interval / 3))
        .with_retries(3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
}

pub(crate) fn open_listeners(
    bind: &str,
    port: u16,
    kind: &str,
) -> Result<Vec<TcpListener>, StartError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for word in bind.split_ascii_whitespace() {
        let (optional, word) = match word.strip_prefix('-') {
            Some(w) => (true, w),
            None => (false, word),
        };
        let res = bind_addr(word, port).and_then(listen_on);
        match res {
            Ok(l) => {
                if out.len() == MAX_LISTENERS {
                    return Err(StartError::Listen(vec![format!(
                        "Too many bind addresses specified (at most {MAX_LISTENERS})."
                    )]));
                }
                out.push(TcpListener::from_std(l));
            }
            Err(e) => {
                warnings.push(format!(
                    "Warning: Could not create server TCP listening socket {word}:{port}: bind: {}",
                    crate::log::strerror(&e)
                ));
                let unavailable = matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)
                );
                if optional && unavailable {
                    continue;
                }
                warnings.push(format!(
                    "Failed listening on port {port} ({kind}), aborting."
                ));
                return Err(StartError::Listen(warnings));
            }
        }
    }
    for w in &warnings {
        log::warning(w);
    }
    Ok(out)
}

/// Duplicates of the plain TCP listeners: while a script is busy, new plain TCP connections are
/// still answered (BUSY); TLS and unix connections wait for the loop.
fn plain_dups(listeners: &[Listener]) -> Vec<std::net::TcpListener> {
    listeners
        .iter()
        .filter_map(|l| match l {
            Listener::Tcp { l, tls: false } => socket2::SockRef::from(l).try_clone().ok(),
            _ => None,
        })
        .map(std::net::TcpListener::from)
        .collect()
}

/// The engine's handle on the listeners for CONFIG SET port / bind / tls-port (the core's
/// `ListenerHost`). A new port is opened before the old one closes (so a failure leaves the
/// old one as it was); new addresses on the same port need the old sockets closed first, as
/// Redis's changeBindAddr closes them (for both the plain and the TLS port), and the old ones
/// are opened again if the new fail. The unix socket is never touched.
struct Rebinder {
    listeners: Listeners,
    dups: Dups,
    registry: mio::Registry,
    bind: String,
    port: u16,
    /// 0 when no TLS listener is open (tls-port 0, or TLS not configured at startup).
    tls_port: u16,
}

/// Opens `bind` on `port` (none for port 0); on failure logs what Redis's listenToPort logs
/// (the per-address warnings, not startup's "aborting" line).
fn reopen(bind: &str, port: u16, kind: &str) -> Result<Vec<TcpListener>, String> {
    if port == 0 {
        return Ok(Vec::new());
    }
    open_listeners(bind, port, kind).map_err(|e| {
        let lines = match e {
            StartError::Listen(mut lines) => {
                if lines.len() > 1 {
                    lines.pop();
                }
                lines
            }
            StartError::Io(e) => vec![e],
            StartError::NoListeners => Vec::new(),
        };
        lines.iter().for_each(|l| log::warning(l));
        lines.join("; ")
    })
}

impl Rebinder {
    /// Takes the TCP listeners out (`tls`: the TLS ones, else the plain ones), deregistered;
    /// they close when the caller drops them.
    fn take(&mut self, tls: bool) -> Vec<TcpListener> {
        if !tls {
            // The duplicates hold the same sockets open (`install` makes new ones).
            self.dups.borrow_mut().clear();
        }
        let mut all = self.listeners.borrow_mut();
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for mut l in all.drain(..) {
            match l {
                Listener::Tcp {
                    l: mut t,
                    tls: t_tls,
                } if t_tls == tls => {
                    let _ = self.registry.deregister(&mut t);
                    out.push(t);
                }
                _ => {
                    let _ = self.registry.deregister(l.source());
                    keep.push(l);
                }
            }
        }
        *all = keep;
        out
    }

    /// Puts TCP listeners back (plain first, then TLS, then the unix socket, as at startup) and
    /// registers every listener under its new index.
    fn install(&mut self, plain: Vec<TcpListener>, tls: Vec<TcpListener>) {
        let mut all = self.listeners.borrow_mut();
        for mut l in all.drain(..).collect::<Vec<_>>() {
            let _ = self.registry.deregister(l.source());
            match l {
                Listener::Tcp { .. } => {}
                unix => all.push(unix),
            }
        }
        let others = std::mem::take(&mut *all);
        let plain = plain.into_iter().map(|l| Listener::Tcp { l, tls: false });
        let tls = tls.into_iter().map(|l| Listener::Tcp { l, tls: true });
        all.extend(plain.chain(tls).chain(others));
        all.truncate(MAX_LISTENERS);
        for (i, l) in all.iter_mut().enumerate() {
            if let Err(e) =
                self.registry
                    .register(l.source(), Token(LISTENER_BASE + i), Interest::READABLE)
            {
                log::warning(&format!(
                    "Unrecoverable error creating TCP socket accept handler: {}",
                    crate::log::strerror(&e)
                ));
            }
        }
        *self.dups.borrow_mut() = plain_dups(&all);
    }
}

impl oxidis_core::ListenerHost for Rebinder {
    fn rebind(&mut self, bind: &str, port: u16, tls_port: u16) -> Result<(), String> {
        let tls_port = if crate::tls::current().is_some() {
            tls_port
        } else {
            0
        };
        if bind != self.bind {
            // changeBindAddr: the new addresses may include the old ones.
            let (old_plain, old_tls) = (self.take(false), self.take(true));
            drop((old_plain, old_tls));
            let fresh = reopen(bind, port, "TCP")
                .and_then(|p| reopen(bind, tls_port, "TLS").map(|t| (p, t)));
            match fresh {
                Ok((p, t)) => self.install(p, t),
                Err(e) => {
                    log::warning("Failed to bind");
                    let (ob, op, ot) = (self.bind.clone(), self.port, self.tls_port);
                    match reopen(&ob, op, "TCP")
                        .and_then(|p| reopen(&ob, ot, "TLS").map(|t| (p, t)))
                    {
                        Ok((p, t)) => self.install(p, t),
                        Err(_) => {
                            log::warning("Failed to restore the old listening sockets.");
                            self.install(Vec::new(), Vec::new());
                        }
                    }
                    return Err(e);
                }
            }
        } else {
            // changeListenPort, new before old: a failure changes nothing.
            let plain = (port != self.port)
                .then(|| reopen(bind, port, "TCP"))
                .transpose()?;
            let tls = (tls_port != self.tls_port)
                .then(|| reopen(bind, tls_port, "TLS"))
                .transpose()?;
            let plain = plain.unwrap_or_else(|| self.take(false));
            let tls = tls.unwrap_or_else(|| self.take(true));
            // The replaced ones (still in the list) close here.
            drop((self.take(false), self.take(true)));
            self.install(plain, tls);
        }
        self.bind = bind.to_string();
        self.port = port;
        self.tls_port = tls_port;
        Ok(())
    }
}

impl Server {
    /// Binds every address in `bind` on `port` (plain) and on the engine's `tls-port` (TLS as
    /// `tls::apply` installed it), opens `unixsocket`, and installs the signal pipes. Port 0
    /// means no listener on that port, as in Redis.
    pub fn new(mut eng: Engine, bind: &str, port: u16) -> Result<Server, StartError> {
        let io = |e: io::Error| StartError::Io(crate::log::strerror(&e));
        let mut listeners = Vec::new();
        if port != 0 {
            for l in open_listeners(bind, port, "TCP")? {
                listeners.push(Listener::Tcp { l, tls: false });
            }
        }
        let tls_port = u16::try_from(eng.config().tls_port).unwrap_or(0);
        if tls_port != 0 && crate::tls::current().is_some() {
            for l in open_listeners(bind, tls_port, "TLS")? {
                listeners.push(Listener::Tcp { l, tls: true });
            }
        }
        let unixsocket = String::from_utf8_lossy(&eng.config().unixsocket).into_owned();
        if !unixsocket.is_empty() {
            let perm = u32::try_from(eng.config().unixsocketperm).unwrap_or(0);
            let l = listen_unix(&unixsocket, perm).map_err(|e| {
                StartError::Listen(vec![format!("Failed opening Unix socket: {e}")])
            })?;
            listeners.push(Listener::Unix {
                l,
                path: unixsocket,
            });
        }
        if listeners.is_empty() {
            return Err(StartError::NoListeners);
        }
        if listeners.len() > MAX_LISTENERS {
            return Err(StartError::Listen(vec![format!(
                "Too many bind addresses specified (at most {MAX_LISTENERS})."
            )]));
        }
        let poll = Poll::new().map_err(io)?;
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(l.source(), Token(LISTENER_BASE + i), Interest::READABLE)
                .map_err(io)?;
        }
        let mut signals = Vec::new();
        for (i, (sig, _)) in SIGNALS.iter().enumerate() {
            let (rx, tx) = std::os::unix::net::UnixStream::pair().map_err(io)?;
            rx.set_nonblocking(true).map_err(io)?;
            signal_hook::low_level::pipe::register(*sig, tx).map_err(io)?;
            let mut rx = UnixStream::from_std(rx);
            poll.registry()
                .register(&mut rx, Token(SIGNAL_BASE + i), Interest::READABLE)
                .map_err(io)?;
            signals.push(rx);
        }
        let socks = crate::script_env::Socks::default();
        let accepted = crate::script_env::Accepted::default();
        let dups = Dups::new(RefCell::new(plain_dups(&listeners)));
        let listeners = Listeners::new(RefCell::new(listeners));
        eng.set_listener_host(Box::new(Rebinder {
            listeners: listeners.clone(),
            dups: dups.clone(),
            registry: poll.registry().try_clone().map_err(io)?,
            bind: bind.to_string(),
            port,
            tls_port: if crate::tls::current().is_some() {
                tls_port
            } else {
                0
            },
        }));
        eng.set_script_env(Box::new(crate::script_env::NativeScriptEnv {
            socks: socks.clone(),
            listeners: dups,
            accepted: accepted.clone(),
            buf: vec![0; READ_CHUNK],
        }));
        Ok(Server {
            socks,
            accepted,
            poll,
            listeners,
            signals,
            conns: Vec::new(),
            eng,
            read_again: Vec::new(),
            turn_no: 0,
            write_queue: Vec::new(),
            accept_retry: false,
            master_connect: None,
            master_host: String::new(),
            last_tick: UnixMillis(0),
            buf: vec![0; READ_CHUNK],
            persist: None,
            aof_buf: Vec::new(),
            lazyfree: crate::lazyfree::Worker::start(),
            turn: LoopTurn::default(),
            bus: None,
        })
    }

    /// Cluster mode: nodes.conf locked and loaded, the bus port open (clusterInit). Err: the
    /// lines to log before exiting.
    pub fn start_cluster_bus(&mut self, bind: &str, port: u16) -> Result<(), Vec<String>> {
        self.bus =
            crate::cluster_bus::Bus::start(&mut self.eng, self.poll.registry(), bind, port, now())?;
        Ok(())
    }

    /// Installs the persistence state (RDB/AOF files, children).
    pub fn set_persistence(&mut self, shared: crate::persistence::Shared) {
        self.persist = Some(shared);
    }

    /// After the engine ran commands: append their effects to the AOF (fsync per policy)
    /// before any of their replies is written.
    /// Before any reply is written: the AOF, then nodes.conf if the cluster asked for a save
    /// (clusterBeforeSleep saves before handleClientsWithPendingWrites).
    fn after_batch(&mut self) {
        if let Some(p) = &self.persist {
            crate::aof::flush(p, &mut self.eng, &mut self.aof_buf);
        }
        if let Some(bus) = self.bus.as_mut() {
            bus.save_config(&mut self.eng);
        }
    }

    /// A loop turn starts (poll returned).
    fn start_turn(&self) -> TurnStart {
        let monitored = self.eng.config().latency_monitor_threshold > 0;
        TurnStart {
            at: std::time::Instant::now(),
            counters: self.eng.turn_counters(),
            big: (crate::alloc::big_allocated(), crate::alloc::big_freed()),
            usage: if monitored { thread_usage() } else { None },
            cpu_us: if monitored { thread_cpu_us() } else { None },
        }
    }

    /// The turn that `t` started ends (the loop is about to poll): its figures go to the
    /// engine (DEBUG LOOP-TURN, the `loop-turn` LATENCY event).
    fn end_turn(&mut self, t: TurnStart) {
        let mut turn = std::mem::take(&mut self.turn);
        turn.us = t.at.elapsed().as_micros() as u64;
        turn.big_alloc_bytes = crate::alloc::big_allocated().wrapping_sub(t.big.0) as u64;
        turn.big_free_bytes = crate::alloc::big_freed().wrapping_sub(t.big.1) as u64;
        if let (Some(a), Some(b)) = (t.usage, t.usage.and_then(|_| thread_usage())) {
            let d = |x: libc::c_long, y: libc::c_long| y.saturating_sub(x).max(0) as u64;
            turn.minor_faults = d(a.ru_minflt, b.ru_minflt);
            turn.major_faults = d(a.ru_majflt, b.ru_majflt);
            turn.preempted = d(a.ru_nivcsw, b.ru_nivcsw);
        }
        if let (Some(a), Some(b)) = (t.cpu_us, t.cpu_us.and_then(|_| thread_cpu_us())) {
            turn.cpu_us = b.saturating_sub(a).max(1);
        }
        self.eng.end_turn(now(), t.counters, turn);
    }

    /// Runs until SIGINT or SIGTERM; returns the signal's name.
    pub fn run(&mut self) -> io::Result<&'static str> {
        let mut events = Events::with_capacity(1024);
        let mut turn: Option<TurnStart> = None;
        loop {
            let now = now();
            if let Some(p) = &self.persist {
                if crate::persistence::has_child(p) {
                    crate::persistence::check_children(p, &mut self.eng, now);
                    // A replication RDB handed over: the replicas have output.
                    self.handle_engine_events();
                }
            }
            // Also at least every 100 ms while the loop is busy, as serverCron samples the
            // instantaneous_* rates (the engine asks for no tick of its own for them).
            let sample_due = now.0.saturating_sub(self.last_tick.0) >= CRON_SAMPLE_MS;
            if sample_due || self.eng.next_deadline().is_some_and(|d| d <= now) {
                self.last_tick = now;
                let t = std::time::Instant::now();
                self.eng.tick(now);
                self.handle_engine_events();
                self.turn.tick_us += t.elapsed().as_micros() as u64;
            }
            // A failed AOF write is retried (MISCONF clears once it succeeds).
            if self.persist.as_ref().is_some_and(crate::aof::retry_pending) {
                self.after_batch();
            }
            if self.eng.shutdown_requested() {
                return Ok("SHUTDOWN");
            }
            let mut timeout = self
                .eng
                .next_deadline()
                .map(|d| Duration::from_millis(d.0.saturating_sub(now.0)));
            if self.accept_retry {
                timeout = Some(timeout.map_or(ACCEPT_RETRY, |t| t.min(ACCEPT_RETRY)));
            }
            if !self.read_again.is_empty() {
                timeout = Some(Duration::ZERO);
            }
            if let Some(p) = &self.persist {
                // Children are polled and everysec fsyncs done at least this often.
                if crate::persistence::has_child(p)
                    || crate::aof::fsync_pending(p)
                    || crate::aof::retry_pending(p)
                {
                    let cap = Duration::from_millis(100);
                    timeout = Some(timeout.map_or(cap, |t| t.min(cap)));
                }
            }
            if let Some(t) = turn.take() {
                self.end_turn(t);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            turn = Some(self.start_turn());
            self.turn_no += 1;
            let now = crate::server::now();
            let mut stop = None;
            for ev in events.iter() {
                let t = ev.token().0;
                if t >= crate::cluster_bus::TOKEN_BASE {
                    // Events the engine queued before are handled first, so a link handle
                    // the core freed and reused is never confused with the old socket.
                    self.handle_engine_events();
                    if let Some(bus) = self.bus.as_mut() {
                        bus.ready(ev, self.poll.registry(), &mut self.eng, now);
                    }
                    self.handle_engine_events();
                } else if t >= CONN_BASE {
                    let slot = t - CONN_BASE;
                    if ev.is_read_closed() || ev.is_error() {
                        self.read_conn(slot, now, true);
                    } else if ev.is_readable() {
                        self.read_conn(slot, now, false);
                    }
                    if ev.is_writable() {
                        self.send_replies(slot);
                    }
                } else if t >= LISTENER_BASE {
                    self.accept(t - LISTENER_BASE, now);
                } else if t == MASTER_CONNECT {
                    self.master_connect_ready(now);
                } else if let Some(name) = self.drain_signal(t - SIGNAL_BASE) {
                    stop = Some(name);
                }
            }
            if self.accept_retry {
                self.accept_retry = false;
                let n = self.listeners.borrow().len();
                for i in 0..n {
                    self.accept(i, now);
                }
            }
            self.adopt_accepted();
            // Connections whose budget ran out last turn, unless an event read them already in
            // this one (a second 16 KB read would double the turn; measured: 556-command turns
            // of 2.4 ms CPU at 10M keys): those wait for the next turn.
            for slot in std::mem::take(&mut self.read_again) {
                let turn_no = self.turn_no;
                let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                    continue;
                };
                if !c.read_again {
                    continue;
                }
                if c.read_turn == turn_no {
                    self.read_again.push(slot);
                } else {
                    c.read_again = false;
                    self.read_conn(slot, now, false);
                }
            }
            // One AOF write (+ fsync) for every client served this turn, then their replies.
            self.handle_engine_events();
            self.write_queued();
            if self.eng.shutdown_requested() {
                return Ok("SHUTDOWN");
            }
            if let Some(name) = stop {
                // As Redis's prepareForShutdown: save if save points are set; if that
                // fails, keep running.
                match self.eng.request_shutdown(crate::server::now()) {
                    Ok(()) if self.eng.shutdown_requested() => return Ok(name),
                    // Waiting for lagging replicas: the cron finishes it.
                    Ok(()) => {}
                    Err(_) => log::warning(
                        "Errors trying to shut down the server. Check the logs for more information.",
                    ),
                }
            }
        }
    }

    /// Closes the listeners and every connection (shutdown).
    pub fn close_all(&mut self) {
        for mut l in std::mem::take(&mut *self.listeners.borrow_mut()) {
            let _ = self.poll.registry().deregister(l.source());
            if let Listener::Unix { path, .. } = l {
                // As Redis's prepareForShutdown.
                let _ = std::fs::remove_file(path);
            }
        }
        for slot in 0..self.conns.len() {
            self.close(slot);
        }
        if let Some(bus) = self.bus.as_mut() {
            bus.close_all(self.poll.registry());
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.eng
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.eng
    }

    fn drain_signal(&mut self, i: usize) -> Option<&'static str> {
        let rx = self.signals.get_mut(i)?;
        let mut got = false;
        let mut b = [0u8; 64];
        loop {
            match rx.read(&mut b) {
                Ok(0) => break,
                Ok(_) => got = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        got.then(|| SIGNALS[i].1)
    }

    fn accept(&mut self, i: usize, now: UnixMillis) {
        loop {
            // The borrow ends before `admit`, which runs engine code.
            let res = match self.listeners.borrow().get(i) {
                None => return,
                Some(Listener::Tcp { l, tls }) => {
                    l.accept().map(|(s, p)| Accepted::Tcp(s, p, *tls))
                }
                Some(Listener::Unix { l, path }) => {
                    l.accept().map(|(s, _)| Accepted::Unix(s, path.clone()))
                }
            };
            match res {
                Ok(acc) => {
                    // acceptTcpHandler / acceptUnixHandler's verbose line.
                    match &acc {
                        Accepted::Tcp(_, peer, _) if log::enabled(log::VERBOSE) => {
                            log::verbose(&format!("Accepted {}:{}", peer.ip(), peer.port()))
                        }
                        Accepted::Unix(_, path) if log::enabled(log::VERBOSE) => {
                            log::verbose(&format!("Accepted connection to {path}"))
                        }
                        _ => {}
                    }
                    self.admit(acc, now)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    log::warning(&format!(
                        "Accepting client connection: {}",
                        crate::log::strerror(&e)
                    ));
                    self.accept_retry = true;
                    return;
                }
            }
        }
    }

    /// Registers the connections the script environment accepted while a script was busy
    /// (the engine has their clients already).
    fn adopt_accepted(&mut self) {
        let accepted = std::mem::take(&mut *self.accepted.borrow_mut());
        for (stream, id) in accepted {
            let mut stream = TcpStream::from_std(stream);
            if self
                .poll
                .registry()
                .register(&mut stream, Token(CONN_BASE + id.0), Interest::READABLE)
                .is_err()
            {
                self.socks.borrow_mut().remove(&id.0);
                self.eng.disconnect(id);
                continue;
            }
            if self.conns.len() <= id.0 {
                self.conns.resize_with(id.0 + 1, || None);
            }
            self.conns[id.0] = Some(Conn::new(Stream::Tcp(stream), id));
            // What it was answered while the script ran may not all be out yet.
            self.write_conn(id.0);
        }
    }

    /// Admission (maxclients, in the core), then the connection becomes a client. A refused
    /// connection is sent the error line, best effort (nothing over TLS: no handshake yet, as
    /// in Redis), and closed.
    fn admit(&mut self, acc: Accepted, now: UnixMillis) {
        if let Some(err) = self.eng.refuse_connection() {
            match acc {
                Accepted::Tcp(mut s, _, false) => {
                    let _ = s.write(err);
                }
                Accepted::Unix(mut s, _) => {
                    let _ = s.write(err);
                }
                Accepted::Tcp(_, _, true) => {}
            }
            return;
        }
        let (stream, info) = match acc {
            Accepted::Tcp(s, peer, tls) => {
                let _ = s.set_nodelay(true);
                set_keepalive(&s, self.eng.config().tcp_keepalive);
                let laddr = s.local_addr().map(|a| a.to_string()).unwrap_or_default();
                let info = ConnInfo {
                    addr: peer.to_string(),
                    laddr,
                    unix_socket: false,
                    tls,
                    fd: Some(std::os::fd::AsRawFd::as_raw_fd(&s)),
                };
                let stream = if tls {
                    let Some(cfg) = crate::tls::current() else {
                        return;
                    };
                    match crate::tls::TlsStream::new(s, cfg) {
                        Ok(t) => Stream::Tls(Box::new(t)),
                        Err(_) => return,
                    }
                } else {
                    Stream::Tcp(s)
                };
                (stream, info)
            }
            Accepted::Unix(s, path) => {
                // Redis shows a unix client's addr and laddr as "<unixsocket>:0".
                let addr = format!("{path}:0");
                let info = ConnInfo {
                    addr: addr.clone(),
                    laddr: addr,
                    unix_socket: true,
                    tls: false,
                    fd: Some(std::os::fd::AsRawFd::as_raw_fd(&s)),
                };
                (Stream::Unix(s), info)
            }
        };
        self.add_conn(stream, info, now);
    }

    fn add_conn(&mut self, stream: Stream, info: ConnInfo, now: UnixMillis) {
        let id = self.eng.connect(now, info);
        let fd = stream.tcp().map(std::os::fd::AsRawFd::as_raw_fd);
        if !self.install_conn(stream, id) {
            return;
        }
        if let Some(fd) = fd {
            let sock = crate::script_env::Sock {
                fd,
                id,
                clean: true,
            };
            self.socks.borrow_mut().insert(id.0, sock);
        }
        if self.eng.has_output(id) {
            // Refused by protected mode: the explanation goes out, then the socket closes.
            self.write_conn(id.0);
        }
    }

    /// Reads and executes what the client sent. A read shorter than the buffer (not over TLS,
    /// whose reads stop at a record's end) emptied the socket, so it ends the turn without the extra read that would only say WouldBlock (one
    /// syscall less per request at -P 1): data arriving later raises a new edge. Only when the
    /// peer has closed (`to_eof`: its FIN raised no new edge after our read) is the socket
    /// read to the end.
    fn read_conn(&mut self, slot: usize, now: UnixMillis, to_eof: bool) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let id = conn.id;
        conn.read_turn = self.turn_no;
        let mut reads = 0;
        let mut eof = false;
        loop {
            if self.eng.should_close(id) && !conn.stream.handshaking() {
                // QUIT or a protocol error: further input is ignored; flush and close below.
                // (A TLS handshake still needs reading, for the refusal to be sent over it.)
                break;
            }
            match conn.stream.read(&mut self.buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    self.turn.reads += 1;
                    self.turn.read_bytes += n as u64;
                    self.eng.feed(now, id, &self.buf[..n]);
                    if n < self.buf.len() && !to_eof && !conn.stream.reads_records() {
                        break;
                    }
                    reads += 1;
                    if reads == READ_BUDGET {
                        if !conn.read_again {
                            conn.read_again = true;
                            self.read_again.push(slot);
                        }
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
        if eof {
            if log::enabled(log::VERBOSE) {
                if let Some(info) = self.eng.client_info_line(now, id) {
                    log::verbose(&format!("Client closed connection {info}"));
                }
            }
            // Send what is already owed (as Redis writes before its next read), after its
            // effects reached the AOF, then close.
            self.after_batch();
            if let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                let _ = conn.flush(&mut self.eng, &mut self.turn);
            }
            self.close(slot);
            return;
        }
        self.send_replies(slot);
    }

    /// Sends `slot`'s replies at the end of the turn, once their effects are in the AOF, as
    /// Redis's beforeSleep does (handleClientsWithPendingWrites): under `appendfsync always`
    /// one fsync covers every client served in the turn (group commit), and the replies of
    /// all of them leave together, so a client waiting on several connections wakes once per
    /// turn rather than once per reply (written at once, each reply woke redis-benchmark
    /// again: ZADD at -P 16 cost the server 0.92 µs of kernel time per request, redis 0.40).
    fn send_replies(&mut self, slot: usize) {
        self.queue_write(slot);
    }

    /// Writes `slot`'s replies at the end of the turn, after the AOF write.
    fn queue_write(&mut self, slot: usize) {
        if let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) {
            if !conn.write_queued {
                conn.write_queued = true;
                self.write_queue.push(slot);
            }
        }
    }

    /// Writes the replies of every client served this turn (the AOF has them already).
    fn write_queued(&mut self) {
        let mut queue = std::mem::take(&mut self.write_queue);
        for &slot in &queue {
            if let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                conn.write_queued = false;
                self.write_conn(slot);
            }
        }
        queue.clear();
        self.write_queue = queue;
    }

    /// Writes pending output, then closes the connection if the engine is done with it, else
    /// keeps WRITABLE interest exactly while output is pending.
    fn write_conn(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let all_sent = match conn.flush(&mut self.eng, &mut self.turn) {
            Ok(all) => all,
            Err(_) => {
                self.close(slot);
                return;
            }
        };
        if self.eng.should_close(conn.id) {
            // close_asap (timeout, CLIENT KILL, limits) closes at once; after QUIT or a
            // protocol error the reply goes out first.
            let asap = self.eng.closes_at_once(conn.id);
            if asap || all_sent {
                self.close(slot);
                return;
            }
        }
        if let Some(s) = self.socks.borrow_mut().get_mut(&slot) {
            s.clean = all_sent;
        }
        let want_writable = !all_sent;
        if conn.writable != want_writable {
            let interest = if all_sent {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut conn.stream, Token(CONN_BASE + slot), interest)
                .is_err()
            {
                self.close(slot);
                return;
            }
            conn.writable = want_writable;
        }
    }

    /// Replication: starts a non-blocking connect to the master (the engine decided to).
    fn connect_master(&mut self, host: &str, port: u16, attempt: u64) {
        if let Some((mut old, _)) = self.master_connect.take() {
            let _ = self.poll.registry().deregister(&mut old);
        }
        let addr = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next());
        let stream = addr.and_then(|a| TcpStream::connect(a).ok());
        let Some(mut stream) = stream else {
            crate::log::warning(&format!("Unable to connect to MASTER {host}:{port}"));
            self.eng.master_link_failed(now(), attempt);
            return;
        };
        let token = Token(MASTER_CONNECT);
        if self
            .poll
            .registry()
            .register(&mut stream, token, Interest::WRITABLE)
            .is_err()
        {
            self.eng.master_link_failed(now(), attempt);
            return;
        }
        self.master_connect = Some((stream, attempt));
        self.master_host = host.to_string();
    }

    /// MIGRATE: connects to its target within the timeout, blocking as Redis's MIGRATE does
    /// (connBlockingConnect), and hands the socket to the engine as an outgoing client.
    fn connect_migrate(&mut self, host: &str, port: u16, token: u64, timeout_ms: u64) {
        let limit = Duration::from_millis(timeout_ms.max(1));
        let Some(addr) = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        else {
            self.eng.migrate_link_failed(now(), token, false);
            return;
        };
        let stream = match std::net::TcpStream::connect_timeout(&addr, limit) {
            Ok(s) => s,
            Err(e) => {
                let refused = e.kind() != io::ErrorKind::TimedOut;
                return self.eng.migrate_link_failed(now(), token, refused);
            }
        };
        let _ = stream.set_nodelay(true);
        // tls-cluster (connTypeOfCluster): the handshake too within the timeout, blocking.
        let stream = if self.eng.config().tls_cluster {
            crate::tls::connect_blocking(stream, host, limit).and_then(|t| {
                t.sock.set_nonblocking(true)?;
                Ok(Stream::Tls(Box::new(t.map_sock(TcpStream::from_std))))
            })
        } else {
            stream
                .set_nonblocking(true)
                .map(|()| Stream::Tcp(TcpStream::from_std(stream)))
        };
        let Ok(stream) = stream else {
            return self.eng.migrate_link_failed(now(), token, true);
        };
        let Some(sock) = stream.socket() else {
            return;
        };
        let info = outgoing_info(&stream, sock);
        let Some(id) = self.eng.migrate_link_connected(now(), token, info) else {
            return;
        };
        self.adopt_outgoing(stream, id);
    }

    /// An outgoing connection the engine took as a client (the master link, a MIGRATE link):
    /// registered for reading under its client's token, its first output written.
    fn adopt_outgoing(&mut self, stream: Stream, id: ClientHandle) {
        if self.install_conn(stream, id) {
            self.write_conn(id.0);
        }
    }

    /// A client's socket registered for reading under its client's token and kept in its
    /// slot; false (the engine told the client is gone) when it cannot be registered.
    /// Registering reports the socket's current readiness, so bytes that arrived before this
    /// point are not missed.
    fn install_conn(&mut self, mut stream: Stream, id: ClientHandle) -> bool {
        if self
            .poll
            .registry()
            .register(&mut stream, Token(CONN_BASE + id.0), Interest::READABLE)
            .is_err()
        {
            self.eng.disconnect(id);
            return false;
        }
        if self.conns.len() <= id.0 {
            self.conns.resize_with(id.0 + 1, || None);
        }
        self.conns[id.0] = Some(Conn::new(stream, id));
        true
    }

    /// The connect finished (or failed): the socket becomes the engine's master link.
    fn master_connect_ready(&mut self, now: UnixMillis) {
        let Some((mut stream, attempt)) = self.master_connect.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut stream);
        let failed = matches!(stream.take_error(), Ok(Some(_)) | Err(_));
        let peer = stream.peer_addr();
        match peer {
            Ok(_) if !failed => {
                let _ = stream.set_nodelay(true);
                // tls-replication: the handshake goes with the engine's first command (PING).
                let stream = if self.eng.config().tls_replication {
                    let host = self.master_host.clone();
                    match crate::tls::TlsStream::client(stream, &host) {
                        Ok(t) => Stream::Tls(Box::new(t)),
                        Err(e) => {
                            crate::log::warning(&format!("Unable to connect to MASTER: {e}"));
                            self.eng.master_link_failed(now, attempt);
                            return;
                        }
                    }
                } else {
                    Stream::Tcp(stream)
                };
                let Some(sock) = stream.socket() else {
                    return;
                };
                let info = outgoing_info(&stream, sock);
                let Some(id) = self.eng.master_link_connected(now, attempt, info) else {
                    return; // no longer wanted: dropping the stream closes it
                };
                self.adopt_outgoing(stream, id);
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected && !failed => {
                // Spurious wake-up: still connecting.
                let _ = self.poll.registry().register(
                    &mut stream,
                    Token(MASTER_CONNECT),
                    Interest::WRITABLE,
                );
                self.master_connect = Some((stream, attempt));
            }
            _ => {
                crate::log::warning("Error condition on socket for SYNC: Connection refused");
                self.eng.master_link_failed(now, attempt);
            }
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) {
            self.socks.borrow_mut().remove(&slot);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            conn.stream.discard_input();
            conn.stream.close_notify();
            self.eng.disconnect(conn.id);
        }
    }

    fn handle_engine_events(&mut self) {
        self.after_batch();
        while let Some(ev) = self.eng.poll_event() {
            match ev {
                // The slot may have been closed and reused since the event was queued:
                // close only a client the engine still wants closed.
                Event::Close(id) => {
                    if self.eng.should_close(id) {
                        self.close(id.0)
                    }
                }
                // The AOF write above covers what produced it.
                Event::Output(ClientHandle(slot)) => self.write_conn(slot),
                // Seen through `shutdown_requested` by the loop.
                Event::Shutdown => {}
                Event::Log(line) => crate::log::warning(&line),
                Event::ConfigChanged => {
                    log::set_level(self.eng.config().loglevel.0);
                    if let Some(p) = &self.persist {
                        crate::persistence::sync_config(p, &mut self.eng);
                    }
                }
                Event::ConnectMaster {
                    host,
                    port,
                    attempt,
                } => self.connect_master(&host, port, attempt),
                Event::ConnectMigrate {
                    host,
                    port,
                    token,
                    timeout_ms,
                } => self.connect_migrate(&host, port, token, timeout_ms),
                ev @ (Event::ConnectClusterNode { .. }
                | Event::ClusterOutput(_)
                | Event::CloseClusterLink(_)) => {
                    if let Some(bus) = self.bus.as_mut() {
                        bus.handle(ev, self.poll.registry(), &mut self.eng, now());
                    }
                }
            }
        }
        if let Some(bus) = self.bus.as_mut() {
            bus.save_config(&mut self.eng);
        }
        if self.eng.has_lazyfree() {
            for g in self.eng.take_lazyfree() {
                self.turn.lazyfree += 1;
                self.lazyfree.free(g);
            }
        }
    }
}

/// ConnInfo of an outgoing connection (CLIENT LIST's addr/laddr/fd), plain or TLS.
fn outgoing_info(stream: &Stream, peer: &TcpStream) -> ConnInfo {
    ConnInfo {
        addr: peer.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
        laddr: peer.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        unix_socket: false,
        tls: matches!(stream, Stream::Tls(_)),
        fd: Some(std::os::fd::AsRawFd::as_raw_fd(peer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_words() {
        assert_eq!(
            bind_addr("*", 7).unwrap(),
            "0.0.0.0:7".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            bind_addr("::*", 7).unwrap(),
            "[::]:7".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            bind_addr("::1", 7).unwrap(),
            "[::1]:7".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            bind_addr("127.0.0.1", 7).unwrap(),
            "127.0.0.1:7".parse::<SocketAddr>().unwrap()
        );
    }

    #[test]
    fn optional_unavailable_address_is_skipped() {
        // 192.0.2.1 (TEST-NET-1) is not on this host: optional, it is skipped; then nothing
        // listens. Required, it aborts with Redis's two warning lines.
        assert!(matches!(
            open_listeners("-192.0.2.1", 1, "TCP"),
            Ok(v) if v.is_empty()
        ));
        match open_listeners("192.0.2.1", 1, "TCP") {
            Err(StartError::Listen(lines)) => {
                assert_eq!(
                    lines,
                    [
                        "Warning: Could not create server TCP listening socket 192.0.2.1:1: bind: Cannot assign requested address",
                        "Failed listening on port 1 (TCP), aborting."
                    ]
                );
            }
            _ => panic!("expected a listen error"),
        }
    }

    #[test]
    fn keepalive_as_redis_derives_it() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let s = TcpStream::from_std(c);
        let sock = socket2::SockRef::from(&s);
        assert!(!sock.keepalive().unwrap());
        set_keepalive(&s, 300);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(300));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(100)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
        // interval/3 is at least one second.
        set_keepalive(&s, 2);
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(2));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn error_text_drops_the_os_error_number() {
        let e = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(crate::log::strerror(&e), "Address already in use");
    }
}
