//! The engine: sessions (clients), databases and server state, driven by the host.
//!
//! ```text
//! let mut eng = Engine::new(Config::default(), seed);
//! let id = eng.connect(now, ConnInfo::default());
//! eng.feed(now, id, b"PING\r\n");        // parse + execute every complete request
//! eng.drain_output(id, &mut out);         // "+PONG\r\n"
//! eng.should_close(id);                   // after QUIT or a protocol error, once flushed
//! eng.tick(now);                          // active expiry, idle timeouts: bounded work
//! eng.next_deadline();                    // when the host should call tick again
//! eng.poll_event();                       // things the host must act on (close a client)
//! ```
//! Nothing here reads a clock, touches a socket or spawns a thread.

use crate::command::{dispatch, Dispatched};
use crate::config::Config;
use crate::keyspace::Db;

use crate::resp::{Args, Decoded, ReplyWriter, RequestDecoder};
use crate::rng::Rng;
use crate::time::UnixMillis;
use std::collections::VecDeque;

/// The host's handle on a connected client: a slot in the engine's slab, reused after
/// disconnect. Not Redis's CLIENT ID, which is `Client::client_id` (unique for the server's
/// life).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientHandle(pub usize);

/// Client buffers (query and reply, in the engine and in the host) bigger than this are freed
/// once empty rather than kept for reuse, as Redis keeps only its 16 KB reply chunk
/// (PROTO_REPLY_CHUNK_BYTES) and shrinks query buffers: kept capacity is used memory, and under
/// `noeviction` nothing else can make room for it (the bound would be passed for good).
pub const KEEP_BUFFER: usize = 16 * 1024;

/// What the host knows about a connection.
#[derive(Clone, Debug, Default)]
pub struct ConnInfo {
    /// Peer address as "ip:port" (CLIENT LIST's addr).
    pub addr: String,
    /// Local address as "ip:port" (laddr).
    pub laddr: String,
    /// Accepted on the unix socket (CLIENT LIST's `U` flag; always local for protected mode).
    pub unix_socket: bool,
    /// A TLS connection (Redis's CONN_TYPE_TLS): under tls-cluster, a plaintext client is
    /// told the nodes' plaintext ports (CLUSTER NODES/SLOTS/REPLICAS, MOVED/ASK).
    pub tls: bool,
    /// The socket's file descriptor, where the host has one (CLIENT LIST's fd; without one,
    /// the client's slot is shown).
    pub fd: Option<i32>,
}

/// The host's TLS loader (see `HostInfo::configure_tls`): Err(why) if it cannot be applied.
pub type ConfigureTls = fn(&Config) -> Result<(), String>;

/// Facts only the host knows, for INFO.
#[derive(Clone, Debug, Default)]
pub struct HostInfo {
    pub process_id: u32,
    pub tcp_port: u16,
    pub executable: String,
    pub config_file: String,
    pub os: String,
    pub arch_bits: u32,
    pub multiplexing_api: String,
    /// Bytes allocated, if the host counts them (native: a counting allocator).
    pub used_memory: Option<fn() -> usize>,
    /// Resident set size, if the host can read it.
    pub used_memory_rss: Option<fn() -> usize>,
    /// The host takes big dropped values with `Engine::take_lazyfree` and frees them on a
    /// worker thread (native). False: everything is freed inline (wasm). See lazyfree.rs.
    pub frees_lazily: bool,
    /// INFO's lazyfree_pending_objects / lazyfreed_objects, counted by the host's worker.
    pub lazyfree_pending: Option<fn() -> usize>,
    pub lazyfreed: Option<fn() -> usize>,
    /// Redis's adjustOpenFilesLimit: given the maxclients wanted, raises the process's open
    /// files limit as far as it can and returns the maxclients that fits (CONFIG SET
    /// maxclients calls it when the value grows). None: no limit to adjust (wasm).
    pub adjust_open_files: Option<fn(u64) -> u64>,
    /// Redis's applyTlsCfg: CONFIG SET of a tls-* parameter hands the new configuration to the
    /// host, which loads and installs it for new connections (or says why not, having logged
    /// it: the CONFIG SET is then undone). None: no TLS here (wasm).
    pub configure_tls: Option<ConfigureTls>,
    /// A monotonic clock in microseconds, to time commands (INFO commandstats, SLOWLOG,
    /// LATENCY). None: every command takes 0 µs (tests with a virtual clock).
    pub monotonic_us: Option<fn() -> u64>,
    /// The wall clock in microseconds since the epoch (MONITOR's timestamps). None: the
    /// feed's `now`, in whole milliseconds.
    pub wall_us: Option<fn() -> u64>,
    /// CPU seconds used: (sys, user, children's sys, children's user), for INFO's used_cpu_*
    /// (getrusage on native; None: zeros).
    pub cpu_times: Option<fn() -> [f64; 4]>,
}

/// The configuration file, kept by the host (CONFIG REWRITE): the core makes the new text,
/// the host reads and writes the file. Errors are the system's text ("Permission denied").
pub trait ConfigStore {
    /// The file's current text ("" if it is gone).
    fn read(&mut self) -> Result<String, String>;
    /// Replaces the file with `text`, atomically (a temporary file renamed over it).
    fn write(&mut self, text: &str) -> Result<(), String>;
}

/// The host's listening sockets, moved by CONFIG SET `port` / `bind` / `tls-port` before the
/// change is committed (Redis's changeListenPort / changeBindAddr): the host compares with what
/// it listens on now and moves what differs (0: no listener of that kind). Err leaves the old
/// ones listening and the configuration unchanged.
pub trait ListenerHost {
    fn rebind(&mut self, bind: &str, port: u16, tls_port: u16) -> Result<(), String>;
}

/// Something the host must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Close this client's connection now (idle timeout, CLIENT KILL ...), then `disconnect`.
    Close(ClientHandle),
    /// Output became pending for a client other than the one being fed.
    Output(ClientHandle),
    /// SHUTDOWN succeeded (the snapshot, if any, is written): the host exits.
    Shutdown,
    /// A line for the server log (DEBUG LOG, DEBUG LISTPACK/QUICKLIST's structure dump), at
    /// Redis's warning level.
    Log(String),
    /// CONFIG SET changed a parameter the host applies (`dir`, `dbfilename`, `appendonly`,
    /// `appendfsync`): the host re-reads those typed fields of `Engine::config`.
    ConfigChanged,
    /// Replication: open a TCP connection to the master at host:port, then hand it over with
    /// `Engine::master_link_connected(now, attempt, ..)` (or report
    /// `Engine::master_link_failed(now, attempt)`); repl/replica.rs.
    ConnectMaster {
        host: String,
        port: u16,
        attempt: u64,
    },
    /// Cluster bus: open a TCP connection to a node's bus port, then report
    /// `Engine::cluster_link_connected(now, link)` or `Engine::cluster_link_failed(now, link)`
    /// (cluster/state.rs).
    /// MIGRATE: open a TCP connection to host:port within `timeout_ms`, then hand it over
    /// with `Engine::migrate_link_connected(now, token, ..)` (or report
    /// `Engine::migrate_link_failed(now, token)`); command/migrate.rs.
    ConnectMigrate {
        host: String,
        port: u16,
        token: u64,
        timeout_ms: u64,
    },
    ConnectClusterNode {
        link: crate::cluster::LinkHandle,
        ip: String,
        port: u16,
    },
    /// Bus bytes are pending on a link: `Engine::cluster_link_output`.
    ClusterOutput(crate::cluster::LinkHandle),
    /// Close a bus link (a bad message, a node forgotten, a timeout); the core has freed it.
    CloseClusterLink(crate::cluster::LinkHandle),
}

/// One key as `Engine::keys_matching` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView<'a> {
    pub key: &'a [u8],
    /// TYPE's answer: "string", "list", "hash", "set" or "zset".
    pub type_name: &'static str,
    /// Milliseconds left before it expires; None without a TTL.
    pub ttl_ms: Option<u64>,
}

pub struct Client {
    /// CLIENT ID: unique for the server's life, unlike the slab slot.
    pub(crate) client_id: u64,
    pub(crate) db: usize,
    pub(crate) resp3: bool,
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) lib_name: Option<Vec<u8>>,
    pub(crate) lib_ver: Option<Vec<u8>>,
    pub(crate) info: ConnInfo,
    pub(crate) created: UnixMillis,
    pub(crate) last_interaction: UnixMillis,
    /// Reply, then close (QUIT, protocol error, CLIENT KILL of itself): further input is
    /// read but not run.
    pub(crate) close_after_reply: bool,
    /// `close_after_reply` closes once a write has sent everything, as Redis closes in
    /// writeToClient; a write is due if output was pending when the request batch that set
    /// it ended, or when something is later sent to the client. A reply silenced by CLIENT
    /// REPLY OFF/SKIP schedules no write: Redis then leaves the connection open, deaf.
    pub(crate) close_armed: bool,
    /// Close without waiting for output (idle timeout, query buffer limit).
    pub(crate) close_asap: bool,
    pub(crate) out: Vec<u8>,
    /// Where in `out` the reply of the command being run starts (see `command::run_handler`):
    /// set before each handler, moved past pushes the command delivers to its own client
    /// before replying.
    pub(crate) reply_start: usize,
    /// MULTI queue, transaction flags and WATCHed keys (tx.rs).
    pub(crate) tx: crate::command::tx::MultiState,
    /// False while the client must still AUTH (requirepass set when it connected, or RESET).
    pub(crate) authenticated: bool,
    /// The ACL user it is authenticated as (Redis's c->user), by name: "default" until AUTH.
    pub(crate) user: Box<[u8]>,
    /// CLIENT REPLY ON|OFF|SKIP state.
    pub(crate) reply: crate::command::connection::ReplyMode,
    /// CLIENT NO-EVICT: never evicted for `maxmemory-clients` (command/client_evict.rs).
    pub(crate) no_evict: bool,
    /// This client's memory as last counted in `Server::clients_memory` (client_evict.rs).
    pub(crate) mem_accounted: usize,
    /// The last command run (CLIENT LIST's cmd=).
    pub(crate) last_cmd: &'static str,
    /// Held by CLIENT PAUSE: its next request waits, unconsumed, in the input buffer.
    pub(crate) postponed: bool,
    /// Output the host took but has not sent yet (`Engine::report_unsent`): counted against
    /// the output buffer limits.
    pub(crate) host_pending: usize,
    /// When the output first stayed above the soft buffer limit (Redis's
    /// obuf_soft_limit_reached_time).
    pub(crate) obuf_soft_since: Option<UnixMillis>,
    /// Subscriptions and pubsub mode (None: never subscribed).
    pub(crate) subs: Option<Box<crate::command::pubsub::ClientSubs>>,
    /// Set while blocked (BLPOP ...): input waits until it is unblocked.
    pub(crate) blocked: Option<Box<crate::command::blocking::Blocked>>,
    /// CLIENT TRACKING state (None: tracking off).
    pub(crate) tracking: Option<Box<crate::command::tracking::ClientTracking>>,
    /// A script's client (Redis's CLIENT_SCRIPT): MONITOR shows it as `[db lua]`.
    pub(crate) script: bool,
    /// This replica's link to its master, once synchronized (Redis's CLIENT_MASTER).
    pub(crate) repl_master: bool,
    /// The query buffer's length and capacity while its requests run (the buffer is out of
    /// the client then): CLIENT LIST's qbuf counts the command being run, as Redis's does.
    running_qbuf: Option<(usize, usize)>,
    /// Replication, master side: REPLCONF's options and, once it sent SYNC/PSYNC, its state
    /// as a replica (repl/master.rs).
    pub(crate) slave: Option<Box<crate::repl::master::Slave>>,
    /// The replication offset after its last command (Redis's c->woff, for WAIT).
    pub(crate) woff: i64,
    /// The most output that waited in the reply buffer (CLIENT LIST's rbp).
    pub(crate) out_peak: usize,
    /// Cluster mode: ASKING and READONLY (command/cluster.rs).
    pub(crate) cluster_flags: u8,
    /// Cluster mode: the slot of the keys of the command being run (Redis's c->slot, which
    /// processCommand's getNodeByQuery sets: for EXEC, the transaction's), None without keys
    /// or where getNodeByQuery returns before setting it (`cluster::route`).
    /// A script keeps to it and sets it with the first key it touches when None
    /// (scriptVerifyClusterState), so it carries over to the next scripts of an EXEC.
    pub(crate) slot: Option<u16>,
    inbuf: Vec<u8>,
    decoder: RequestDecoder,
}

impl Client {
    /// The query buffer, for the replication link's handshake and RDB (repl/replica.rs).
    pub(crate) fn inbuf_mut(&mut self) -> &mut Vec<u8> {
        &mut self.inbuf
    }

    pub(crate) fn inbuf_is_empty(&self) -> bool {
        self.inbuf.is_empty()
    }

    /// Bytes received but not yet executed (CLIENT LIST's qbuf).
    pub(crate) fn query_buffer_len(&self) -> usize {
        self.running_qbuf.map_or(self.inbuf.len(), |r| r.0)
    }

    pub(crate) fn query_buffer_capacity(&self) -> usize {
        self.running_qbuf.map_or(self.inbuf.capacity(), |r| r.1)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub(crate) commands_processed: u64,
    pub(crate) connections_received: u64,
    /// Connections refused by maxclients or protected mode (INFO rejected_connections).
    pub(crate) rejected_connections: u64,
    pub(crate) error_replies: u64,
    pub(crate) unknown_commands: u64,
    pub(crate) net_input_bytes: u64,
    pub(crate) net_output_bytes: u64,
    pub(crate) expired_keys_active: u64,
    /// Clients closed for `maxmemory-clients` (INFO's evicted_clients).
    pub(crate) evicted_clients: u64,
    /// Time spent in active expiry (INFO expire_cycle_cpu_milliseconds).
    pub(crate) expire_cycle_us: u64,
    /// fork() calls and the last one's duration (INFO total_forks, latest_fork_usec).
    pub(crate) total_forks: u64,
    pub(crate) latest_fork_us: u64,
    /// commandstats, errorstats, latency histograms (command/intro.rs).
    pub(crate) counters: crate::command::intro::Counters,
    /// INFO's instantaneous_* rates, sampled by the tick.
    pub(crate) inst: crate::command::intro::InstMetrics,
}

/// The engine's counters at the start of a host's loop turn ([`Engine::turn_counters`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TurnCounters {
    commands: u64,
    rehashed: u64,
    expired: u64,
    evicted: u64,
}

pub use crate::command::intro::LoopTurn;

/// Everything but the clients: what commands act on.
pub struct Server {
    pub(crate) dbs: Vec<Db>,
    pub(crate) config: Config,
    /// The command table under the config file's rename-command lines (None: no renames, the
    /// static table serves; see `command::lookup_in`).
    pub(crate) renamed: Option<crate::command::Renamed>,
    /// The last request's command name as sent and what it named (`command::lookup_in`).
    pub(crate) last_lookup: crate::command::LookupCache,
    pub(crate) stats: Stats,
    pub(crate) rng: Rng,
    pub(crate) host: HostInfo,
    pub(crate) start_time: UnixMillis,
    pub(crate) next_client_id: u64,
    /// Some database logs expiry deletions (`Db::log_expired`): kept by
    /// `tx::sync_expiry_logging` so the per-command drain is skipped when none does.
    pub(crate) expiry_logging: bool,
    /// Changes since the last save (Redis's server.dirty).
    pub(crate) dirty: u64,
    pub(crate) events: VecDeque<Event>,
    /// Who WATCHes which key (tx.rs).
    pub(crate) watched: crate::command::tx::WatchIndex,
    /// CLIENT PAUSE in force, if any.
    pub(crate) pause: Option<crate::command::connection::Pause>,
    /// Some client may be postponed (set wherever one is, cleared when `resume_all_postponed`
    /// has fed them all): `next_deadline` then looks for them, instead of scanning every
    /// client on each call (a native loop turn with 10k connections).
    pub(crate) any_postponed: bool,
    /// DEBUG SLEEP: the engine sleeps until then, as a sleeping redis-server: no input is
    /// executed (it queues), no output is handed over and the cron does not run until a
    /// `tick` at or after it.
    pub(crate) sleep_until: Option<UnixMillis>,
    /// What other DEBUG subcommands switched (active expiry, ...).
    pub(crate) debug: crate::command::debug::DebugState,
    /// RDB/AOF state, host hooks and the propagated-effects stream (rdb/persist.rs).
    pub(crate) persist: crate::rdb::persist::Persist,
    /// Big values waiting for the host to free them elsewhere (lazyfree.rs).
    pub(crate) lazyfree: Vec<crate::lazyfree::Garbage>,
    /// Whether some database has keys with a TTL or a table being rehashed (the cron has work:
    /// `Engine::next_deadline`), with `dirty` when it was found: kept between a read-only fast
    /// command and the next, which cannot change it (see `Server::dbs_want_cron`).
    pub(crate) db_scan: std::cell::Cell<Option<(u64, bool)>>,
    /// `lazyfree::PENDING_GEN` when the databases' pending_free lists were last emptied.
    pub(crate) pending_free_seen: u64,
    pub(crate) pubsub: crate::command::pubsub::PubSub,
    pub(crate) blocking: crate::command::blocking::Blocking,
    /// Client-side caching: the tracking and prefix tables (tracking.rs).
    pub(crate) tracking: crate::command::tracking::Tracking,
    /// The script cache and the EVAL Lua state (script/eval.rs).
    pub(crate) script: crate::script::ScriptState,
    /// maxmemory: the eviction pool, counters, the OOM state (evict.rs).
    pub(crate) evict: crate::evict::Evict,
    /// The sum of every client's accounted memory (command/client_evict.rs).
    pub(crate) clients_memory: usize,
    /// ACL users and the ACL LOG (acl.rs).
    pub(crate) acl: crate::acl::Acl,
    /// The host's files and random bytes for ACL LOAD/SAVE and GENPASS.
    pub(crate) acl_host: Option<Box<dyn crate::acl::AclHost>>,
    /// SLOWLOG, latency events, MONITOR clients (command/intro.rs).
    pub(crate) intro: crate::command::intro::Intro,
    /// The host's configuration file, if it was started with one (CONFIG REWRITE).
    pub(crate) config_store: Option<Box<dyn ConfigStore>>,
    /// The host's listeners, if CONFIG SET port/bind can move them.
    pub(crate) listener_host: Option<Box<dyn ListenerHost>>,
    /// Replication: the ID pair, offsets, master and replica sides (repl/).
    pub(crate) repl: crate::repl::Repl,
    /// Redis Cluster: this node's view of the cluster, when `cluster-enabled yes` (cluster/).
    pub(crate) cluster: Option<Box<crate::cluster::Cluster>>,
    /// The host's nodes.conf writer (CLUSTER SAVECONFIG writes through it before replying).
    pub(crate) cluster_config_host: Option<Box<dyn crate::cluster::ClusterConfigHost>>,
    /// MIGRATE's outgoing connections (command/migrate.rs).
    pub(crate) migrate: crate::command::migrate::Migrations,
    last_tick: UnixMillis,
}

/// `Engine::refuse_connection` on the parts (also the busy gate's).
pub(crate) fn refuse_connection(
    srv: &mut Server,
    clients: &slab::Slab<Client>,
) -> Option<&'static [u8]> {
    if (clients.len() as u64) < srv.config.maxclients {
        return None;
    }
    srv.stats.rejected_connections += 1;
    Some(b"-ERR max number of clients reached\r\n")
}

/// `Engine::connect` on the parts (also the busy gate's).
pub(crate) fn connect(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    info: ConnInfo,
) -> ClientHandle {
    let denied = crate::command::connection::protected_mode_denies(srv, &info);
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    let mut c = new_client(srv, now, info, id);
    if denied {
        // Redis's clientAcceptHandler: the client exists, is sent the explanation and is freed
        // (asynchronously: after the write); it does not count as a connection received.
        srv.stats.rejected_connections += 1;
        c.out
            .extend_from_slice(crate::command::connection::PROTECTED_MODE_DENIED);
        c.close_after_reply = true;
        c.close_armed = true;
    } else {
        srv.stats.connections_received += 1;
    }
    ClientHandle(clients.insert(c))
}

/// A connection the server opened itself (the replication link to a master): no admission,
/// no protected mode, not counted as a connection received.
pub(crate) fn connect_outgoing(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    info: ConnInfo,
) -> ClientHandle {
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    let c = new_client(srv, now, info, id);
    ClientHandle(clients.insert(c))
}

/// `Engine::disconnect` on the engine's parts.
pub(crate) fn disconnect(srv: &mut Server, clients: &mut slab::Slab<Client>, id: ClientHandle) {
    if clients.contains(id.0) {
        crate::repl::replica::link_gone(srv, &clients[id.0], id.0);
        crate::command::migrate::link_gone(srv, clients, id.0);
        crate::command::tx::client_gone(srv, clients, id.0);
        crate::command::blocking::forget_client(srv, clients, id);
        crate::command::pubsub::forget_client(srv, clients, id);
        crate::command::tracking::disable(srv, clients, id.0);
        crate::command::intro::forget_monitor(srv, id.0);
        let now = srv.last_tick.0;
        crate::repl::master::forget_client(srv, clients, id.0, now);
        let c = clients.remove(id.0);
        crate::command::client_evict::forget(srv, &c);
    }
}

/// A client as `connect` makes it.
fn new_client(srv: &Server, now: UnixMillis, info: ConnInfo, client_id: u64) -> Client {
    let mut decoder = RequestDecoder::new();
    decoder.max_bulk_len = srv.config.proto_max_bulk_len;
    // Redis's clientSetDefaultAuth: authenticated unless the default user has a password.
    let authenticated = !srv.acl.auth_required();
    Client {
        client_id,
        db: 0,
        resp3: false,
        name: None,
        lib_name: None,
        lib_ver: None,
        info,
        created: now,
        last_interaction: now,
        close_after_reply: false,
        close_armed: false,
        close_asap: false,
        out: Vec::new(),
        reply_start: 0,
        tx: Default::default(),
        authenticated,
        user: b"default"[..].into(),
        reply: Default::default(),
        no_evict: false,
        mem_accounted: 0,
        last_cmd: "NULL",
        postponed: false,
        host_pending: 0,
        obuf_soft_since: None,
        subs: None,
        blocked: None,
        tracking: None,
        script: false,
        repl_master: false,
        running_qbuf: None,
        slave: None,
        woff: 0,
        out_peak: 0,
        cluster_flags: 0,
        slot: None,
        inbuf: Vec::new(),
        decoder,
    }
}

/// The client a script's `redis.call` runs on (Redis's lua client): in `db`, speaking the
/// script's protocol, authenticated; the caller removes it after the command.
pub(crate) fn script_client(
    srv: &Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    db: usize,
    resp3: bool,
) -> ClientHandle {
    let mut c = new_client(srv, now, ConnInfo::default(), 0);
    c.db = db;
    c.resp3 = resp3;
    c.authenticated = true;
    c.tx.in_exec = true;
    c.script = true;
    ClientHandle(clients.insert(c))
}

impl Server {
    /// Whether any database has keys with a TTL or a table being rehashed (the cron has work
    /// to do). Scanning every database after each call cost ~8% of a GET, so the answer is
    /// kept until something may change it: a command that is not read-only and fast (`call`),
    /// a tick, fed bytes, a load, or any change counted in `dirty`. A read-only fast command
    /// may only turn it from true to false (a lazily expired key), which leaves a spare tick.
    pub(crate) fn dbs_want_cron(&self) -> bool {
        if let Some((dirty, busy)) = self.db_scan.get() {
            if dirty == self.dirty {
                return busy;
            }
        }
        let busy = self
            .dbs
            .iter()
            .any(|db| !db.expires.is_empty() || db.keys.is_rehashing());
        self.db_scan.set(Some((self.dirty, busy)));
        busy
    }

    /// What `dbs_want_cron` found may no longer hold.
    #[inline]
    pub(crate) fn forget_db_scan(&self) {
        self.db_scan.set(None);
    }

    /// The time of the latest tick (INFO's running-time fields).
    pub(crate) fn last_tick_ms(&self) -> u64 {
        self.last_tick.0
    }
}

pub struct Engine {
    pub(crate) srv: Server,
    pub(crate) clients: slab::Slab<Client>,
}

/// Rehash work per database per tick (buckets): about 0.1-0.3 ms on a big table, like Redis's
/// 1 ms budget in incrementallyRehash (each command moves a bucket too).
const REHASH_BUCKETS_PER_TICK: usize = 1_000;
/// Active-expiry samples per database per tick.
const EXPIRE_SAMPLES_PER_TICK: usize = 4_000;

impl Engine {
    pub fn new(config: Config, seed: u64) -> Engine {
        let mut rng = Rng::new(seed);
        let dbs = (0..config.databases.max(1))
            .map(|_| Db::new(rng.next_u64()))
            .collect();
        let mut acl = crate::acl::Acl::new(config.requirepass.as_deref());
        for words in &config.acl_users {
            let words: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
            // Validated when the config was loaded (Config::load_conf).
            let _ = acl.config_user(&words, config.acl_pubsub_default.0 == 1);
        }
        // load_conf has checked the renames; a host that set the field by hand gets what
        // applies of it.
        let renamed = crate::command::apply_renames(&config.command_renames).unwrap_or(None);
        let mut eng = Engine {
            srv: Server {
                dbs,
                renamed,
                last_lookup: Default::default(),
                config,
                acl,
                acl_host: None,
                stats: Stats::default(),
                rng,
                host: HostInfo::default(),
                start_time: UnixMillis(0),
                next_client_id: 1,
                expiry_logging: false,
                dirty: 0,
                events: VecDeque::new(),
                watched: Default::default(),
                pause: None,
                any_postponed: false,
                sleep_until: None,
                debug: Default::default(),
                persist: Default::default(),
                lazyfree: Vec::new(),
                db_scan: Default::default(),
                pending_free_seen: 0,
                pubsub: Default::default(),
                blocking: Default::default(),
                tracking: Default::default(),
                script: Default::default(),
                evict: Default::default(),
                clients_memory: 0,
                intro: Default::default(),
                config_store: None,
                listener_host: None,
                // Its own stream of the seed: drawing from `rng` would shift every seeded
                // sequence the tests know.
                repl: crate::repl::Repl::new(crate::repl::random_replid(&mut Rng::new(
                    seed ^ 0x7265_706c_6964,
                ))),
                cluster: None,
                cluster_config_host: None,
                migrate: Default::default(),
                last_tick: UnixMillis(0),
            },
            clients: slab::Slab::new(),
        };
        crate::command::notify::sync(&mut eng.srv);
        crate::repl::replica::init_from_config(&mut eng.srv);
        if eng.srv.config.cluster_enabled {
            // A fresh node; a host with a nodes.conf replaces it (`cluster_load_config`).
            let name = crate::cluster::random_name(&mut Rng::new(seed ^ 0x0063_6c75_7374_6572));
            eng.srv.cluster = Some(Box::new(crate::cluster::Cluster::new(name, 0)));
            crate::command::cluster::on_enable(&mut eng.srv);
        }
        eng
    }

    /// Records when the server started (for INFO's uptime) and host facts.
    pub fn set_host_info(&mut self, now: UnixMillis, host: HostInfo) {
        self.srv.start_time = now;
        self.srv.last_tick = now;
        self.srv.persist.lastsave = now.as_secs();
        // Big bucket arrays of completed rehashes go to the host's worker with the values.
        crate::types::dict::set_retire_tables(host.frees_lazily);
        self.srv.host = host;
        self.srv.evict.startup_used = self.srv.used_memory();
    }

    /// The host's used memory in bytes, for a host that pushes the figure (before feeding
    /// requests) rather than giving `HostInfo::used_memory`, which wins when set. maxmemory,
    /// eviction and INFO read it; without either, used memory is 0 and nothing is evicted.
    pub fn set_used_memory(&mut self, bytes: usize) {
        self.srv.evict.reported_used = bytes as u64;
    }

    pub fn config(&self) -> &Config {
        &self.srv.config
    }

    #[cfg(test)]
    pub(crate) fn server(&self) -> &Server {
        &self.srv
    }

    #[cfg(test)]
    pub(crate) fn server_mut(&mut self) -> &mut Server {
        &mut self.srv
    }

    #[cfg(test)]
    pub(crate) fn client(&self, id: ClientHandle) -> Option<&Client> {
        self.clients.get(id.0)
    }

    #[cfg(test)]
    pub(crate) fn client_mut(&mut self, id: ClientHandle) -> Option<&mut Client> {
        self.clients.get_mut(id.0)
    }

    /// The server and the clients at once, for tests that run a handler directly.
    #[cfg(test)]
    pub(crate) fn parts_mut(&mut self) -> (&mut Server, &mut slab::Slab<Client>) {
        (&mut self.srv, &mut self.clients)
    }

    /// The client's CLIENT LIST line (Redis's catClientInfoString), for the host's log lines.
    pub fn client_info_line(&self, now: UnixMillis, id: ClientHandle) -> Option<String> {
        let c = self.clients.get(id.0)?;
        let monitor = self.srv.intro.monitors.contains(&id.0);
        let mut out = Vec::new();
        crate::command::connection::client_info_line(&mut out, id.0, c, now, 0, monitor);
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Keys in database `db`, including ones past their TTL not removed yet (DBSIZE); None if
    /// there is no such database.
    pub fn db_size(&self, db: usize) -> Option<usize> {
        self.srv.dbs.get(db).map(Db::len)
    }

    /// How many databases there are (`databases`).
    pub fn db_count(&self) -> usize {
        self.srv.dbs.len()
    }

    /// Up to `limit` keys of database `db` matching the glob `pattern` (case-sensitive, as
    /// KEYS), in table order, leaving out keys past their TTL; for a host's key browser (the
    /// playground). Nothing is touched or expired. None if there is no such database.
    pub fn keys_matching(
        &self,
        now: UnixMillis,
        db: usize,
        pattern: &[u8],
        limit: usize,
    ) -> Option<Vec<KeyView<'_>>> {
        let d = self.srv.dbs.get(db)?;
        let all = pattern == b"*";
        let mut out = Vec::new();
        for (k, v) in d.keys.iter() {
            if out.len() >= limit {
                break;
            }
            let key = k.as_bytes();
            let ttl_ms = match d.expire_at(key) {
                Some(at) if at <= now.0 => continue,
                Some(at) => Some(at - now.0),
                None => None,
            };
            if all || crate::glob::glob_match(pattern, key, false) {
                out.push(KeyView {
                    key,
                    type_name: v.type_name(),
                    ttl_ms,
                });
            }
        }
        Some(out)
    }

    /// Admission control before a connection becomes a client (Redis's acceptCommonHandler):
    /// Some(error line) if `maxclients` are connected already. The host writes the line (best
    /// effort; nothing over TLS, whose handshake has not happened) and closes the socket; the
    /// refusal is counted in INFO's rejected_connections.
    pub fn refuse_connection(&mut self) -> Option<&'static [u8]> {
        refuse_connection(&mut self.srv, &self.clients)
    }

    /// A new client. Under protected mode (no password for the default user) a client that is
    /// not local is created already answered with Redis's DENIED text and due to close.
    pub fn connect(&mut self, now: UnixMillis, info: ConnInfo) -> ClientHandle {
        connect(&mut self.srv, &mut self.clients, now, info)
    }

    /// A latency sample the host measured (aof-write-alone, aof-fsync-always ...), recorded by
    /// the latency monitor when it reaches latency-monitor-threshold.
    pub fn latency_sample(&mut self, now: UnixMillis, event: &'static str, ms: u64) {
        crate::command::intro::latency_add_sample_if_needed(&mut self.srv, now, event, ms);
    }

    /// Installs the host's listeners (CONFIG SET port/bind moves them; without this, the
    /// parameters change and nothing listens elsewhere, as in a host with no sockets).
    pub fn set_listener_host(&mut self, host: Box<dyn ListenerHost>) {
        self.srv.listener_host = Some(host);
    }

    /// Installs the host's configuration file (CONFIG REWRITE; without one it answers "The
    /// server is running without a config file").
    pub fn set_config_store(&mut self, store: Box<dyn ConfigStore>) {
        self.srv.config_store = Some(store);
    }

    /// Installs the host's ACL capabilities (the aclfile, random bytes for ACL GENPASS).
    pub fn set_acl_host(&mut self, host: Box<dyn crate::acl::AclHost>) {
        self.srv.acl_host = Some(host);
    }

    /// Loads the users of the `aclfile` (Redis's ACLLoadUsersAtStartup): the host calls it
    /// once after `set_acl_host`. Err: Redis's error text (the server should not start).
    pub fn load_acl_file(&mut self) -> Result<(), String> {
        let file = String::from_utf8_lossy(&self.srv.config.aclfile).to_string();
        if file.is_empty() {
            return Ok(());
        }
        crate::command::acl::load_file(&mut self.srv, &mut self.clients, &file, None)
            .map_err(|e| String::from_utf8_lossy(&e).to_string())
    }

    /// Installs the host's Lua VM factory: EVAL and SCRIPT work from then on (without one,
    /// they answer an error naming the missing VM).
    pub fn set_script_vm_factory(&mut self, factory: Box<dyn crate::script::ScriptVmFactory>) {
        self.srv.script.factory = Some(factory);
        self.srv.script.vm = None;
    }

    /// Installs the host's live wall clock, read while a script runs (the feed's `now` stays
    /// frozen for the script's semantics) to stop a script past busy-reply-threshold. Without
    /// one, scripts are never stopped (tests with a virtual clock).
    pub fn set_script_clock(&mut self, clock: Box<dyn FnMut() -> UnixMillis>) {
        self.srv.script.env = Some(Box::new(crate::script::eval::ClockEnv(clock)));
    }

    /// Installs the host's script environment: its clock, and how it serves other clients
    /// while a script is busy (the native server; see `ScriptEnv`).
    pub fn set_script_env(&mut self, env: Box<dyn crate::script::ScriptEnv>) {
        self.srv.script.env = Some(env);
    }

    pub fn disconnect(&mut self, id: ClientHandle) {
        disconnect(&mut self.srv, &mut self.clients, id);
    }

    /// Appends bytes from the client and executes every complete request in them.
    pub fn feed(&mut self, now: UnixMillis, id: ClientHandle, bytes: &[u8]) {
        self.srv.forget_db_scan();
        if receive(&mut self.srv, &mut self.clients, now, id, bytes) {
            // A client whose query buffer took it over maxmemory-clients may be evicted
            // before it runs anything (Redis checks before each command).
            if let Some(c) = self.clients.get_mut(id.0) {
                crate::command::client_evict::update(&mut self.srv, c);
            }
            crate::command::client_evict::evict(&mut self.srv, &mut self.clients);
            if self.closes_at_once(id) {
                return;
            }
            self.process_input(now, id);
            self.run_unblocked(now);
            // Redis's beforeSleep: BCAST invalidations of this turn.
            crate::command::tracking::broadcast(&mut self.srv, &mut self.clients);
            if self.srv.cluster.is_some() {
                // clusterBeforeSleep: nodes.conf to save before the replies go out.
                crate::cluster::state::before_sleep(&mut self.srv, &mut self.clients, now);
            }
            crate::repl::master::before_sleep(&mut self.srv, &mut self.clients);
            self.srv.collect_pending_free();
        }
    }

    /// Runs one request given as its arguments, already split (an embedding host's direct call
    /// path): exactly what `feed` of its RESP multibulk encoding does — the same dispatch,
    /// statistics and query-buffer accounting (CLIENT LIST's qbuf, client eviction) — without
    /// encoding and parsing it. When the request could not run at once (the client is blocked,
    /// paused, closing or has input waiting, DEBUG SLEEP, a script is busy, the limits of an
    /// unauthenticated client or of proto-max-bulk-len apply) its encoding is fed instead, so
    /// every such case takes the one path that handles it. The reply is in the client's output.
    pub fn call_args(&mut self, now: UnixMillis, id: ClientHandle, args: &[&[u8]]) {
        self.call_args_impl(now, id, args);
    }

    /// `call_args` for an embedder that has just read the monotonic clock (`HostInfo::
    /// monotonic_us`, as `clock_us`): the command's timer starts from that reading rather than
    /// a read of its own (one clock read fewer per command; the few instructions in between
    /// count towards the command, as the query's parsing does in Redis).
    pub fn call_args_at(
        &mut self,
        now: UnixMillis,
        clock_us: u64,
        id: ClientHandle,
        args: &[&[u8]],
    ) {
        self.srv.stats.counters.clock_hint = Some(clock_us);
        self.call_args_impl(now, id, args);
        // A request refused before call() leaves the hint: it is not the next one's start.
        self.srv.stats.counters.clock_hint = None;
    }

    /// The monotonic clock read that ended the last timed command since the previous take, if
    /// any: an embedder running requests back to back starts the next one's timer there.
    pub fn take_clock_us(&mut self) -> Option<u64> {
        self.srv.stats.counters.clock_last.take()
    }

    fn call_args_impl(&mut self, now: UnixMillis, id: ClientHandle, args: &[&[u8]]) {
        let len = crate::resp::request_len(args);
        let max_bulk = self.srv.config.proto_max_bulk_len;
        let direct = !args.is_empty()
            && self.srv.sleep_until.is_none()
            && !self.srv.script.busy
            && self.clients.get(id.0).is_some_and(|c| {
                !c.close_asap
                    && !c.close_after_reply
                    && !c.postponed
                    && c.blocked.is_none()
                    && c.inbuf.is_empty()
            })
            && args.iter().all(|a| a.len() as u64 <= max_bulk)
            && !crate::command::connection::auth_required(&self.srv, &self.clients[id.0]);
        if !direct {
            let mut req = Vec::with_capacity(len);
            crate::resp::append_request(&mut req, args);
            self.feed(now, id, &req);
            return;
        }
        // receive(): the bytes would sit in the query buffer; it takes the capacity they would
        // take (same qbuf, qbuf-free and tot-mem figures while the command runs).
        let srv = &mut self.srv;
        let c = &mut self.clients[id.0];
        c.last_interaction = now;
        srv.stats.net_input_bytes += len as u64;
        c.inbuf.reserve(len);
        c.running_qbuf = Some((len, c.inbuf.capacity()));
        crate::command::client_evict::update(srv, c);
        crate::command::client_evict::evict(srv, &mut self.clients);
        if self.closes_at_once(id) {
            if let Some(c) = self.clients.get_mut(id.0) {
                c.running_qbuf = None;
            }
            return;
        }
        // process_input() for one request.
        let (srv, clients) = (&mut self.srv, &mut self.clients);
        if dispatch(now, srv, clients, id, args) == Dispatched::Postponed {
            // Held by CLIENT PAUSE: it waits in the query buffer, as the fed request would.
            if let Some(c) = clients.get_mut(id.0) {
                c.running_qbuf = None;
                crate::resp::append_request(&mut c.inbuf, args);
            }
        } else {
            if !srv.script.busy {
                crate::command::blocking::handle_ready(now, srv, clients);
            }
            if let Some(c) = clients.get_mut(id.0) {
                if !crate::command::pubsub::check_output_limit(now, srv, c, id.0) {
                    crate::command::client_evict::update(srv, c);
                    crate::command::client_evict::evict(srv, clients);
                }
            }
            if let Some(c) = clients.get_mut(id.0) {
                let stopped = c.close_after_reply || c.close_asap || c.blocked.is_some();
                if !stopped && srv.sleep_until.is_some() {
                    c.postponed = true;
                    srv.any_postponed = true;
                }
                if c.close_after_reply && (!c.out.is_empty() || c.host_pending > 0) {
                    c.close_armed = true;
                }
                if c.inbuf.capacity() > KEEP_BUFFER {
                    c.inbuf = Vec::new();
                }
                c.running_qbuf = None;
            }
        }
        self.run_unblocked(now);
        crate::command::tracking::broadcast(&mut self.srv, &mut self.clients);
        if self.srv.cluster.is_some() {
            crate::cluster::state::before_sleep(&mut self.srv, &mut self.clients, now);
        }
        self.srv.collect_pending_free();
    }

    /// Runs the buffered input of clients that were unblocked (served, timed out, CLIENT
    /// UNBLOCK): Redis's processUnblockedClients.
    #[inline]
    pub(crate) fn run_unblocked(&mut self, now: UnixMillis) {
        // Inlined for this test: most requests unblock nobody.
        if !self.srv.blocking.unblocked.is_empty() {
            self.run_unblocked_clients(now);
        }
    }

    #[inline(never)]
    fn run_unblocked_clients(&mut self, now: UnixMillis) {
        while !self.srv.blocking.unblocked.is_empty() {
            for id in std::mem::take(&mut self.srv.blocking.unblocked) {
                let pending = self
                    .clients
                    .get(id.0)
                    .is_some_and(|c| c.blocked.is_none() && !c.inbuf.is_empty());
                if pending {
                    self.process_input(now, id);
                    if self.has_output(id) {
                        self.srv.events.push_back(Event::Output(id));
                    }
                }
            }
        }
    }

    /// Executes every complete request in the client's input buffer, stopping while it is
    /// blocked or held by CLIENT PAUSE; after each one, serves clients blocked on keys it made
    /// ready.
    fn process_input(&mut self, now: UnixMillis, id: ClientHandle) {
        process_input(&mut self.srv, &mut self.clients, now, id);
    }

    /// The host reports how many bytes it has taken from `output` but not yet sent (its own
    /// socket buffer), so the output buffer limits see the true pending size. A client past
    /// its limit is closed (`Event::Close`).
    pub fn report_unsent(&mut self, now: UnixMillis, id: ClientHandle, unsent: usize) {
        if let Some(c) = self.clients.get_mut(id.0) {
            c.host_pending = unsent;
            if !crate::command::pubsub::check_output_limit(now, &mut self.srv, c, id.0) {
                crate::command::client_evict::update(&mut self.srv, c);
                crate::command::client_evict::evict(&mut self.srv, &mut self.clients);
            }
        }
    }

    /// Moves all pending output into `out`.
    pub fn drain_output(&mut self, id: ClientHandle, out: &mut Vec<u8>) {
        if self.srv.sleep_until.is_some() {
            return; // DEBUG SLEEP: nothing leaves a sleeping server.
        }
        // A disk-based sync's RDB file goes a chunk at a time, as the host takes it.
        if self
            .clients
            .get(id.0)
            .is_some_and(crate::repl::master::bulk_pending)
        {
            let now = self.srv.last_tick;
            crate::repl::master::send_bulk(&mut self.srv, &mut self.clients, id, now);
        }
        if let Some(c) = self.clients.get_mut(id.0) {
            if crate::repl::master::is_replica(c) {
                self.srv.repl.master.net_repl_output_bytes += c.out.len() as u64;
            } else {
                self.srv.stats.net_output_bytes += c.out.len() as u64;
            }
            c.out_peak = c.out_peak.max(c.out.len());
            out.append(&mut c.out);
            // A big reply's buffer is not kept (Redis frees reply blocks as they are sent):
            // it would count against maxmemory-clients for the client's whole life.
            if c.out.capacity() > KEEP_BUFFER {
                c.out = Vec::new();
            }
            crate::command::client_evict::update(&mut self.srv, c);
        }
    }

    /// True while a request of the client is waiting to run or to answer: blocked (BLPOP ...),
    /// held by CLIENT PAUSE or DEBUG SLEEP, or input queued behind one. A call that wrote no
    /// reply and is not waiting was silenced (CLIENT REPLY OFF/SKIP).
    pub fn awaits_reply(&self, id: ClientHandle) -> bool {
        self.srv.sleep_until.is_some()
            || self
                .clients
                .get(id.0)
                .is_some_and(|c| c.blocked.is_some() || c.postponed || !c.inbuf.is_empty())
    }

    pub fn has_output(&self, id: ClientHandle) -> bool {
        self.srv.sleep_until.is_none()
            && self
                .clients
                .get(id.0)
                .is_some_and(|c| !c.out.is_empty() || crate::repl::master::bulk_pending(c))
    }

    /// True once the connection should be closed: after QUIT or a protocol error (when its
    /// reply has been sent; never if CLIENT REPLY OFF/SKIP silenced it and nothing else was
    /// to be sent), or at once after a timeout or limit.
    pub fn should_close(&self, id: ClientHandle) -> bool {
        self.clients.get(id.0).is_none_or(|c| {
            c.close_asap || (c.close_after_reply && c.close_armed && c.out.is_empty())
        })
    }

    /// True if the connection must close now, without sending pending output (timeout,
    /// CLIENT KILL, output limits), or the client is gone.
    pub fn closes_at_once(&self, id: ClientHandle) -> bool {
        self.clients.get(id.0).is_none_or(|c| c.close_asap)
    }

    /// What the host last reported with `report_unsent` (None: no such client).
    pub fn reported_unsent(&self, id: ClientHandle) -> Option<usize> {
        self.clients.get(id.0).map(|c| c.host_pending)
    }

    /// Periodic work (Redis's serverCron at `hz`): idle timeouts, active expiry, rehashing.
    /// Bounded per call.
    pub fn tick(&mut self, now: UnixMillis) {
        self.srv.forget_db_scan();
        if let Some(until) = self.srv.sleep_until {
            if now.0 < until.0 {
                return;
            }
            // DEBUG SLEEP is over: what was answered meanwhile goes out.
            self.srv.sleep_until = None;
            for (slot, c) in self.clients.iter() {
                if !c.out.is_empty() {
                    self.srv.events.push_back(Event::Output(ClientHandle(slot)));
                }
            }
            // Every client held by the sleep runs now (one a CLIENT PAUSE holds is held again
            // by dispatch).
            self.resume_all_postponed(now);
        }
        self.srv.last_tick = now;
        self.srv.sync_access(now);
        let cron = !self.srv.debug.pause_cron;
        let timeout = self.srv.config.timeout_secs;
        if timeout > 0 && cron {
            for (slot, c) in self.clients.iter_mut() {
                // Redis's clientsCronHandleTimeout spares blocked clients (their own
                // timeouts apply), pubsub clients and replicas. The master link has
                // repl-timeout instead (repl/replica.rs).
                let exempt = c.blocked.is_some()
                    || crate::command::pubsub::is_pubsub(c)
                    || crate::repl::master::is_replica(c)
                    || c.repl_master;
                if !c.close_asap
                    && !exempt
                    && now.0.saturating_sub(c.last_interaction.0) > timeout * 1000
                {
                    c.close_asap = true;
                    self.srv.events.push_back(Event::Close(ClientHandle(slot)));
                }
            }
        }
        if self.srv.migrate.wants_tick() {
            crate::command::migrate::cron(now, &mut self.srv, &mut self.clients);
        }
        crate::command::blocking::expire(now, &mut self.srv, &mut self.clients);
        self.run_unblocked(now);
        // A replica leaves expiry to its master's DELs (activeExpireCycle runs on masters).
        let active_expire =
            self.srv.debug.active_expire && cron && !self.srv.repl.replica.is_replica();
        let clock = self.srv.host.monotonic_us;
        let started = clock.map(|f| f());
        let Server {
            dbs, rng, stats, ..
        } = &mut self.srv;
        for db in dbs.iter_mut() {
            if active_expire {
                stats.expired_keys_active +=
                    db.active_expire(now, rng, EXPIRE_SAMPLES_PER_TICK) as u64;
            }
            if cron {
                db.rehash_tick(REHASH_BUCKETS_PER_TICK);
            }
        }
        crate::command::notify::flush_server(now, &mut self.srv, &mut self.clients);
        crate::evict::tick(now, &mut self.srv, &mut self.clients);
        // activeExpireCycle's latency event (with the rehash step, which this loop shares).
        if let (Some(t0), Some(f)) = (started, clock) {
            let us = f().saturating_sub(t0);
            self.srv.stats.expire_cycle_us += us;
            crate::command::intro::latency_add_sample_if_needed(
                &mut self.srv,
                now,
                "expire-cycle",
                us / 1000,
            );
        }
        crate::command::tx::drain_expired(&mut self.srv, &mut self.clients);
        crate::command::tracking::tick(now, &mut self.srv, &mut self.clients);
        crate::repl::replica::cron(now, &mut self.srv, &mut self.clients);
        // A replica's disk-mode load goes on a budget per turn (then the stream behind it).
        if let Some(link) = crate::repl::replica::load_pending(&self.srv) {
            self.feed(now, link, &[]);
        }
        if cron {
            crate::command::persistence::cron(&mut self.srv, now);
            crate::command::client_evict::cron(&mut self.srv, &mut self.clients);
            crate::repl::master::cron(&mut self.srv, &mut self.clients, now);
            crate::command::intro::InstMetrics::tick(&mut self.srv.stats, now);
            if self.srv.cluster.is_some() {
                crate::cluster::state::cron(&mut self.srv, &mut self.clients, now);
                crate::command::blocking::cluster_redirect(&mut self.srv, &mut self.clients);
            }
        }
        self.resume_postponed(now);
        if self.srv.cluster.is_some() {
            crate::cluster::state::before_sleep(&mut self.srv, &mut self.clients, now);
        }
        crate::repl::master::before_sleep(&mut self.srv, &mut self.clients);
        self.srv.collect_pending_free();
    }

    /// The engine's cumulative counters a host snapshots when a loop turn starts and passes
    /// back to [`Engine::end_turn`] when it ends.
    pub fn turn_counters(&self) -> TurnCounters {
        TurnCounters {
            commands: self.srv.stats.commands_processed,
            rehashed: crate::types::dict::rehashed_buckets(),
            expired: self.srv.stats.expired_keys_active
                + self.srv.dbs.iter().map(|d| d.expired_count).sum::<u64>(),
            evicted: self.srv.evict.evicted_keys,
        }
    }

    /// A turn of the host's event loop ended: `turn` has the host's figures (time, I/O,
    /// faults), `start` the engine's counters when it began; the engine adds its deltas and
    /// records the turn (the worst one for DEBUG LOOP-TURN, the `loop-turn` LATENCY event).
    pub fn end_turn(&mut self, now: UnixMillis, start: TurnCounters, mut turn: LoopTurn) {
        let end = self.turn_counters();
        turn.commands = end.commands.saturating_sub(start.commands);
        turn.rehashed_buckets = end.rehashed.saturating_sub(start.rehashed);
        turn.expired = end.expired.saturating_sub(start.expired);
        turn.evicted = end.evicted.saturating_sub(start.evicted);
        crate::command::intro::record_turn(&mut self.srv, now, turn);
    }

    /// The big values waiting to be freed on the host's worker (only ever non-empty when
    /// `HostInfo::frees_lazily`); the host drops them wherever it likes.
    pub fn take_lazyfree(&mut self) -> Vec<crate::lazyfree::Garbage> {
        std::mem::take(&mut self.srv.lazyfree)
    }

    pub fn has_lazyfree(&self) -> bool {
        !self.srv.lazyfree.is_empty()
    }

    /// Runs the requests CLIENT PAUSE held back once the pause is over (or lifted), and tells
    /// the host their clients have output.
    fn resume_postponed(&mut self, now: UnixMillis) {
        if crate::repl::writes_paused(&self.srv) {
            return;
        }
        if let Some(p) = &self.srv.pause {
            if p.end.0 > now.0 {
                return;
            }
            self.srv.pause = None;
        }
        self.resume_all_postponed(now);
    }

    /// Feeds every postponed client its held input (a CLIENT PAUSE still in force holds
    /// again what it must).
    fn resume_all_postponed(&mut self, now: UnixMillis) {
        if !self.srv.any_postponed {
            return;
        }
        // Cleared first: a client held again while being fed sets it again.
        self.srv.any_postponed = false;
        let held: Vec<usize> = self
            .clients
            .iter()
            .filter(|(_, c)| c.postponed)
            .map(|(slot, _)| slot)
            .collect();
        for slot in held {
            if let Some(c) = self.clients.get_mut(slot) {
                c.postponed = false;
            }
            self.feed(now, ClientHandle(slot), &[]);
            if self.has_output(ClientHandle(slot)) {
                self.srv.events.push_back(Event::Output(ClientHandle(slot)));
            }
        }
    }

    /// When `tick` should next run, if anything is waiting for it.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        if let Some(until) = self.srv.sleep_until {
            return Some(until);
        }
        let busy = self.srv.config.timeout_secs > 0 && !self.clients.is_empty()
            || self.srv.dbs_want_cron()
            || crate::command::persistence::wants_tick(&self.srv)
            || crate::repl::replica::wants_tick(&self.srv)
            || crate::repl::master::wants_tick(&self.srv)
            || self.srv.cluster.is_some();
        // A round of evictions stopped over the limit: go on at once (evictionTimeProc runs
        // at every event loop iteration); so does a replica's load of its master's RDB.
        if self.srv.evict.running || crate::repl::replica::load_pending(&self.srv).is_some() {
            return Some(self.srv.last_tick);
        }
        let period = 1000 / u64::from(self.srv.config.hz.clamp(1, 500));
        let cron = busy.then(|| self.srv.last_tick.saturating_add(period));
        // A pause ends at its deadline; postponed clients held by a lifted pause run at once.
        let pause = match &self.srv.pause {
            Some(p) => Some(p.end),
            None if self.srv.any_postponed
                && !crate::repl::writes_paused(&self.srv)
                && self.clients.iter().any(|(_, c)| c.postponed) =>
            {
                Some(self.srv.last_tick)
            }
            None => None,
        };
        // A blocked client's timeout is served exactly when it falls due.
        [cron, pause, self.srv.blocking.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.srv.events.pop_front()
    }
}

/// Takes bytes a client sent into its query buffer. False when they must wait: the client is
/// closing, deaf after a QUIT or protocol error (Redis reads on but runs nothing:
/// processInputBuffer stops at CLOSE_AFTER_REPLY) or held by CLIENT PAUSE (until the pause
/// ends) — within the query buffer limit, past which it is closed. Shared by `Engine::feed`
/// and the busy-script gate, which then run `process_input`.
pub(crate) fn receive(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    id: ClientHandle,
    bytes: &[u8],
) -> bool {
    let Some(c) = clients.get_mut(id.0) else {
        return false;
    };
    if c.close_asap {
        return false;
    }
    c.last_interaction = now;
    if srv.repl.replica.link == Some(id.0) {
        // What the master sends counts as replication traffic (stat_net_repl_input_bytes).
        srv.repl.replica.net_repl_input_bytes += bytes.len() as u64;
    } else {
        srv.stats.net_input_bytes += bytes.len() as u64;
    }
    c.inbuf.extend_from_slice(bytes);
    if srv.sleep_until.is_some() {
        c.postponed = true; // run by resume_postponed when DEBUG SLEEP ends
        srv.any_postponed = true;
    }
    if c.close_after_reply || c.postponed {
        if c.inbuf.len() > srv.config.client_query_buffer_limit {
            c.close_asap = true;
            c.inbuf = Vec::new();
        }
        return false;
    }
    true
}

pub(crate) fn process_input(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    id: ClientHandle,
) {
    if srv.migrate.is_link(id.0) {
        crate::command::migrate::link_input(now, srv, clients, id);
        return;
    }
    let master = srv.repl.replica.link == Some(id.0);
    if master && !crate::repl::replica::link_input(now, srv, clients, id) {
        return;
    }
    let Some(c) = clients.get_mut(id.0) else {
        return;
    };
    if c.blocked.is_some() {
        // Redis keeps a blocked client's input for when it is unblocked, within the
        // query buffer limit.
        if c.inbuf.len() > srv.config.client_query_buffer_limit {
            c.close_asap = true;
            c.inbuf = Vec::new();
            srv.events.push_back(Event::Close(id));
        }
        return;
    }
    let mut inbuf = std::mem::take(&mut c.inbuf);
    c.running_qbuf = Some((inbuf.len(), inbuf.capacity()));
    let mut decoder = std::mem::take(&mut c.decoder);
    let mut pos = 0;
    loop {
        // Redis refuses big headers while the client must still authenticate.
        decoder.unauthenticated = crate::command::connection::auth_required(srv, &clients[id.0]);
        match decoder.decode(&inbuf[pos..]) {
            Ok(Decoded::Request { consumed }) => {
                let base = &inbuf[pos..];
                let args: smallvec::SmallVec<[&[u8]; 8]> = match decoder.args() {
                    Args::Ranges(r) => r.iter().map(|r| &base[r.clone()]).collect(),
                    Args::Owned(o) => o.iter().map(|v| v.as_slice()).collect(),
                };
                let r = if master {
                    crate::repl::replica::apply_command(
                        now,
                        srv,
                        clients,
                        id,
                        &args,
                        &base[..consumed],
                    )
                } else {
                    dispatch(now, srv, clients, id, &args)
                };
                if r == Dispatched::Postponed {
                    break;
                }
                pos += consumed;
                // While a script is busy, nothing but the script touches the keyspace.
                if !srv.script.busy {
                    crate::command::blocking::handle_ready(now, srv, clients);
                }
                let Some(c) = clients.get_mut(id.0) else {
                    return;
                };
                if !crate::command::pubsub::check_output_limit(now, srv, c, id.0) {
                    // The command's output counts before the next one runs (Redis's
                    // evictClients in processCommand).
                    crate::command::client_evict::update(srv, c);
                    crate::command::client_evict::evict(srv, clients);
                }
                let c = &mut clients[id.0];
                if c.close_after_reply || c.close_asap || c.blocked.is_some() {
                    break;
                }
                if srv.sleep_until.is_some() {
                    // DEBUG SLEEP: the rest of the pipeline waits for the wake-up.
                    c.postponed = true;
                    srv.any_postponed = true;
                    break;
                }
            }
            Ok(Decoded::Empty { consumed }) => {
                if master {
                    let b = &inbuf[pos..pos + consumed];
                    crate::repl::replica::apply_empty(srv, clients, id, b);
                }
                pos += consumed
            }
            Ok(Decoded::Incomplete) => break,
            Err(e) => {
                let c = &mut clients[id.0];
                // CLIENT REPLY OFF or SKIP silences this reply too, as every reply in
                // Redis (prepareClientToWrite); the connection then stays open, deaf
                // (see `Client::close_armed`).
                if !c.reply.silenced() {
                    let msg = format!("Protocol error: {e}");
                    let mut w = ReplyWriter::new(&mut c.out, c.resp3);
                    w.error(format!("ERR {msg}").as_bytes());
                }
                c.close_after_reply = true;
                pos = inbuf.len();
                break;
            }
        }
    }
    inbuf.drain(..pos);
    let c = &mut clients[id.0];
    if c.close_after_reply && (!c.out.is_empty() || c.host_pending > 0) {
        c.close_armed = true;
    }
    if inbuf.len() > srv.config.client_query_buffer_limit {
        // Redis closes such a client without a reply ("reached max query buffer length").
        c.close_asap = true;
        inbuf = Vec::new();
    } else if inbuf.is_empty() && inbuf.capacity() > KEEP_BUFFER {
        inbuf = Vec::new();
    }
    c.inbuf = inbuf;
    c.running_qbuf = None;
    c.decoder = decoder;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(eng: &mut Engine, id: ClientHandle, input: &[u8]) -> Vec<u8> {
        eng.feed(UnixMillis(1000), id, input);
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        out
    }

    #[test]
    fn keys_matching_is_a_key_browser() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let setup = b"SET user:1 a\r\nRPUSH user:2 x\r\nSET other b\r\nPEXPIRE user:1 500\r\n\
                      SET gone c\r\nPEXPIRE gone 10\r\nSELECT 2\r\nSET k v\r\n";
        assert_eq!(
            run(&mut eng, id, setup),
            b"+OK\r\n:1\r\n+OK\r\n:1\r\n+OK\r\n:1\r\n+OK\r\n+OK\r\n"
        );
        let now = UnixMillis(1100); // "gone" expired at 1010, user:1 expires at 1500
        let mut seen = eng.keys_matching(now, 0, b"user:*", 10).unwrap();
        seen.sort_by_key(|k| k.key);
        let want = [
            KeyView {
                key: b"user:1",
                type_name: "string",
                ttl_ms: Some(400),
            },
            KeyView {
                key: b"user:2",
                type_name: "list",
                ttl_ms: None,
            },
        ];
        assert_eq!(seen, want);
        assert_eq!(eng.keys_matching(now, 0, b"*", 10).unwrap().len(), 3);
        assert_eq!(eng.keys_matching(now, 0, b"*", 1).unwrap().len(), 1);
        assert_eq!(eng.keys_matching(now, 0, b"USER:*", 10).unwrap(), []);
        // Nothing was expired by looking: DBSIZE still counts "gone".
        assert_eq!(eng.db_size(0), Some(4));
        assert_eq!(eng.db_size(2), Some(1));
        assert_eq!(eng.db_count(), 16);
        assert_eq!(eng.db_size(16), None);
        assert!(eng.keys_matching(now, 16, b"*", 10).is_none());
    }

    #[test]
    fn call_args_is_feed_without_the_encoding() {
        // Two engines, one fed RESP, one called with split arguments: the same bytes out,
        // including the figures that count the request's bytes (qbuf, net_input_bytes).
        let script: &[&[&str]] = &[
            &["SET", "k", "v"],
            &["GET", "k"],
            &["CLIENT", "INFO"],
            &["LPUSH", "l", "a", "b"],
            &["LRANGE", "l", "0", "-1"],
            &["MULTI"],
            &["INCR", "n"],
            &["EXEC"],
            &["nope", "x"],
            &["GET"],
            &["AUTH", "x"],
            &["QUIT"],
        ];
        let mut fed = Engine::new(Config::default(), 1);
        let mut called = Engine::new(Config::default(), 1);
        let a = fed.connect(UnixMillis(0), ConnInfo::default());
        let b = called.connect(UnixMillis(0), ConnInfo::default());
        for cmd in script {
            let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
            let mut req = Vec::new();
            crate::resp::append_request(&mut req, &args);
            assert_eq!(crate::resp::request_len(&args), req.len());
            let want = run(&mut fed, a, &req);
            called.call_args(UnixMillis(1000), b, &args);
            let mut got = Vec::new();
            called.drain_output(b, &mut got);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{cmd:?}"
            );
            assert_eq!(fed.should_close(a), called.should_close(b));
        }
        assert_eq!(
            fed.srv.stats.net_input_bytes,
            called.srv.stats.net_input_bytes
        );
    }

    #[test]
    fn quit_and_protocol_errors_close() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(run(&mut eng, id, b"QUIT\r\nPING\r\n"), b"+OK\r\n");
        assert!(eng.should_close(id));
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, b"*1\r\n$4\r\nquit\r\n*x\r\n"),
            b"+OK\r\n".to_vec()
        );
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, b"*1\r\nfoo\r\n"),
            b"-ERR Protocol error: expected '$', got 'f'\r\n".to_vec()
        );
        assert!(eng.should_close(id));
    }

    #[test]
    fn unknown_command_and_arity_errors() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, b"foo a b\r\n"),
            b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n".to_vec()
        );
        assert_eq!(
            run(&mut eng, id, b"GET\r\n"),
            b"-ERR wrong number of arguments for 'get' command\r\n".to_vec()
        );
        assert_eq!(
            run(&mut eng, id, b"client nope\r\n"),
            b"-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n".to_vec()
        );
        assert_eq!(
            run(&mut eng, id, b"client\r\n"),
            b"-ERR wrong number of arguments for 'client' command\r\n".to_vec()
        );
        assert!(!eng.should_close(id));
    }

    #[test]
    fn the_deadline_follows_ttls_between_direct_reads() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let call = |eng: &mut Engine, args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            eng.call_args(UnixMillis(1000), id, &args);
            eng.drain_output(id, &mut Vec::new());
        };
        // Nothing for the cron to do: no deadline, and reads keep that answer.
        call(&mut eng, &["GET", "k"]);
        assert_eq!(eng.next_deadline(), None);
        call(&mut eng, &["GET", "k"]);
        assert_eq!(eng.next_deadline(), None);
        // A TTL gives the cron work at once, however many reads came before.
        call(&mut eng, &["SET", "k", "v", "PX", "5000"]);
        assert!(eng.next_deadline().is_some());
        call(&mut eng, &["GET", "k"]);
        assert!(eng.next_deadline().is_some());
        call(&mut eng, &["PERSIST", "k"]);
        call(&mut eng, &["GET", "k"]);
        assert_eq!(eng.next_deadline(), None);
        // In another database, through the RESP path.
        assert_eq!(
            run(&mut eng, id, b"SELECT 3\r\nSET j v EX 9\r\n"),
            b"+OK\r\n+OK\r\n"
        );
        assert!(eng.next_deadline().is_some());
    }

    #[test]
    fn idle_timeout_emits_close() {
        let mut cfg = Config::default();
        cfg.set("timeout", b"1").expect("valid");
        let mut eng = Engine::new(cfg, 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        eng.tick(UnixMillis(1000));
        assert_eq!(eng.poll_event(), None);
        eng.tick(UnixMillis(1001));
        assert_eq!(eng.poll_event(), Some(Event::Close(id)));
        assert!(eng.should_close(id));
    }
}
