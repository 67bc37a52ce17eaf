//! The replica side of replication: REPLICAOF's link to a master (the handshake: PING, AUTH,
//! REPLCONF listening-port/capa, PSYNC), receiving and loading the master's RDB, applying its
//! command stream as the master client, acking offsets, partial resync after a cut or a
//! restart, read-only and stale-data rules.
//!
//! The link is an ordinary client session of the engine (Redis's repl_transfer_s, then
//! server.master): the host opens a TCP connection when the engine asks
//! (`Event::ConnectMaster`), hands it over with `Engine::master_link_connected`, and from then on
//! feeds its bytes with `Engine::feed` and sends its output as any client's. Until the RDB is
//! loaded its input is read here (replies to the handshake, the payload); then it goes through
//! the request decoder and dispatch as the master client's commands, whose replies are dropped
//! (but REPLCONF GETACK's ACK), counting the offset.

use crate::command::{dispatch, flags, is, CommandSpec, Dispatched};
use crate::engine::{Client, ClientHandle, ConnInfo, Engine, Event, Server};
use crate::time::UnixMillis;
use std::fmt::Write as _;

/// Redis's repl_state (REPL_STATE_*), the handshake states merged as Redis's ROLE shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// Not a replica.
    #[default]
    None,
    /// Must connect (the replication cron does it each second).
    Connect,
    /// The host is connecting.
    Connecting,
    ReceivePingReply,
    ReceiveAuthReply,
    ReceivePortReply,
    ReceiveIpReply,
    ReceiveCapaReply,
    ReceivePsyncReply,
    /// Receiving the RDB.
    Transfer,
    /// Applying the stream.
    Connected,
}

/// What survives a cut of the link (Redis's cached master): enough to PSYNC from where the
/// stream stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cached {
    pub replid: String,
    /// The applied offset (the next PSYNC asks for reploff + 1).
    pub reploff: i64,
    /// The database the master's stream had selected.
    pub db: usize,
}

/// How the payload is loaded (useDisklessLoad, decided when the `$` line arrives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum LoadMode {
    /// repl-diskless-load disabled, or on-empty-db over a non-empty dataset: the payload is
    /// written to a temp file as it arrives (the old data still served), renamed to
    /// dbfilename when complete, then the old data goes and the file is read and parsed a
    /// budget per loop turn, `loading:1`, others get -LOADING.
    #[default]
    Disk,
    /// on-empty-db over an empty dataset: parsed as it arrives, `loading:1` meanwhile.
    Diskless,
    /// swapdb: parsed as it arrives into a temporary dataset while the old one is served
    /// (`async_loading:1` when the master's replid is ours, else `loading:1` as Redis), then
    /// swapped in; a failed transfer keeps the old data.
    Swapdb,
}

/// The RDB transfer in progress (Redis's repl_transfer_*).
#[derive(Default)]
struct Transfer {
    /// From the `$<len>` line; None until it has arrived (or with an EOF mark).
    size: Option<usize>,
    /// The diskless form's `$EOF:<mark>`.
    eof_mark: Option<Vec<u8>>,
    /// Whether the size line has been read.
    started: bool,
    /// Received payload bytes not parsed yet. Disk mode: with a host file, at most the
    /// last 40 bytes received (they may be the EOF mark) while the payload arrives, then a
    /// window of the file being loaded; without one, the whole payload.
    buf: Vec<u8>,
    /// Disk mode: where the payload is.
    file: SyncFile,
    mode: LoadMode,
    /// The RDB parser and, for swapdb, the keys it produced (Redis's tempDb, swapped in when
    /// the load ends; the other modes insert them into the flushed dataset as parsed).
    loader: crate::rdb::Loader,
    keys: Vec<crate::rdb::LoadedKey>,
    /// Disk mode: the payload is complete and stored, the old data gone; `buf[pos..]` is
    /// parsed a budget at a time.
    loading: bool,
    pos: usize,
}

/// Where a disk-mode payload is kept (Redis's repl_transfer_fd / repl_transfer_tmpfile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum SyncFile {
    /// In `buf` (not disk mode, or a host without files).
    #[default]
    Memory,
    /// Written to the host's temp file as it arrives.
    Tmp,
    /// Renamed to dbfilename and opened for loading: `read` of its `size` bytes are read.
    Opened { handle: u64, size: u64, read: u64 },
}

/// The replica-side state (Redis's server.masterhost, repl_state, master client, ...).
#[derive(Default)]
pub struct ReplicaSide {
    /// REPLICAOF host port (None: a master).
    pub master_host: Option<String>,
    pub master_port: u16,
    pub state: State,
    /// The link's client slot, from connect to cut (handshake, transfer and stream).
    pub link: Option<usize>,
    /// Counts connection attempts: the host's answer names the one it is about.
    attempt: u64,
    pub cached: Option<Cached>,
    /// From +FULLRESYNC (Redis's master_replid / master_initial_offset).
    master_replid: String,
    master_initial_offset: i64,
    /// The master client's applied offset (reploff) and received offset (read_reploff).
    pub reploff: i64,
    pub read_reploff: i64,
    /// Bytes of a MULTI the master has not EXECed yet: counted when it is.
    pending: Vec<u8>,
    transfer: Transfer,
    /// Last byte from the master (repl_last_io, then the master client's
    /// lastinteraction), ms.
    last_io: u64,
    /// When the link went down (seconds; 0: up or never), for master_link_down_since_seconds.
    down_since: u64,
    /// When the transfer began (for master_sync_last_io_seconds_ago etc.).
    transfer_start: u64,
    last_cron: u64,
    /// Bytes received while syncing (master_sync_read_bytes) and the announced total.
    sync_read: u64,
    /// The database the master client has selected (for the RDB's repl-stream-db).
    master_db: usize,
    /// Bytes received from the master (INFO's total_net_repl_input_bytes).
    pub net_repl_input_bytes: u64,
}

impl ReplicaSide {
    /// Whether this node follows a master (REPLICAOF host port in force).
    pub fn is_replica(&self) -> bool {
        self.master_host.is_some()
    }

    /// Redis's slaveIsInHandshakeState.
    fn in_handshake(&self) -> bool {
        matches!(
            self.state,
            State::ReceivePingReply
                | State::ReceiveAuthReply
                | State::ReceivePortReply
                | State::ReceiveIpReply
                | State::ReceiveCapaReply
                | State::ReceivePsyncReply
        )
    }

    /// The state word of ROLE.
    #[allow(dead_code)]
    fn role_state(&self) -> &'static str {
        if self.in_handshake() {
            return "handshake";
        }
        match self.state {
            State::None => "none",
            State::Connect => "connect",
            State::Connecting => "connecting",
            State::Transfer => "sync",
            State::Connected => "connected",
            _ => "unknown",
        }
    }
}

/// ROLE on a replica: ["slave", host, port, state, offset] (the master side's ROLE handler
/// calls this when `is_replica`).
pub fn role_reply(srv: &Server, w: &mut crate::resp::ReplyWriter<'_>) {
    let r = &srv.repl.replica;
    w.array_len(5);
    w.bulk(b"slave");
    w.bulk(r.master_host.as_deref().unwrap_or("").as_bytes());
    w.int(i64::from(r.master_port));
    w.bulk(r.role_state().as_bytes());
    w.int(if r.state == State::Connected {
        r.reploff
    } else {
        -1
    });
}

/// INFO replication: master_host ... replica_announced, only on a replica.
pub fn info_fields(srv: &Server, s: &mut String) {
    let r = &srv.repl.replica;
    let Some(host) = &r.master_host else {
        return;
    };
    let now = srv.last_tick_ms() / 1000;
    let _ = write!(s, "master_host:{host}\r\nmaster_port:{}\r\n", r.master_port);
    let up = r.state == State::Connected;
    let _ = write!(
        s,
        "master_link_status:{}\r\n",
        if up { "up" } else { "down" }
    );
    let last_io = if up {
        now.saturating_sub(r.last_io / 1000) as i64
    } else {
        -1
    };
    let _ = write!(s, "master_last_io_seconds_ago:{last_io}\r\n");
    let syncing = r.state == State::Transfer;
    let _ = write!(s, "master_sync_in_progress:{}\r\n", u8::from(syncing));
    let (read_off, off) = if up {
        (r.read_reploff, r.reploff)
    } else if let Some(m) = &r.cached {
        (m.reploff, m.reploff)
    } else {
        (1, 1)
    };
    let _ = write!(s, "slave_read_repl_offset:{read_off}\r\n");
    let _ = write!(s, "slave_repl_offset:{off}\r\n");
    if syncing {
        // Redis's repl_transfer_size: -1 before the `$` line, 0 with an EOF mark.
        let t = &r.transfer;
        let total: i64 = match (t.started, t.size) {
            (false, _) => -1,
            (true, Some(n)) => n as i64,
            (true, None) => 0,
        };
        let read = r.sync_read as i64;
        let _ = write!(s, "master_sync_total_bytes:{total}\r\n");
        let _ = write!(s, "master_sync_read_bytes:{read}\r\n");
        let _ = write!(s, "master_sync_left_bytes:{}\r\n", total - read);
        let perc = if total != 0 {
            read as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        let _ = write!(s, "master_sync_perc:{perc:.2}\r\n");
        let _ = write!(
            s,
            "master_sync_last_io_seconds_ago:{}\r\n",
            now.saturating_sub(r.last_io / 1000)
        );
    }
    if !up {
        let since = if r.down_since > 0 {
            now.saturating_sub(r.down_since) as i64
        } else {
            -1
        };
        let _ = write!(s, "master_link_down_since_seconds:{since}\r\n");
    }
    let _ = write!(s, "slave_priority:{}\r\n", srv.config.replica_priority);
    let _ = write!(
        s,
        "slave_read_only:{}\r\n",
        u8::from(srv.config.replica_read_only)
    );
    let _ = write!(
        s,
        "replica_announced:{}\r\n",
        u8::from(srv.config.replica_announced)
    );
}

/// Redis's shared.roslaveerr.
pub const READONLY_ERROR: &[u8] = b"READONLY You can't write against a read only replica.";
/// Redis's shared.masterdownerr.
pub const MASTERDOWN_ERROR: &[u8] =
    b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// Whether this replica's link to its master is up (the master side answers a sub-replica's
/// PSYNC with -NOMASTERLINK while it is not, as Redis's syncCommand does).
pub fn link_up(srv: &Server) -> bool {
    srv.repl.replica.state == State::Connected
}

/// Whether `id` is the master link (Redis's CLIENT_MASTER, or obey_client).
pub(crate) fn is_master_client(srv: &Server, id: usize) -> bool {
    srv.repl.replica.link == Some(id) && srv.repl.replica.state == State::Connected
}

/// processCommand's read-only replica check: a write from anyone but the master.
pub(crate) fn readonly_rejects(
    srv: &Server,
    c: &Client,
    id: usize,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
) -> Option<Vec<u8>> {
    let r = &srv.repl.replica;
    if !r.is_replica() || !srv.config.replica_read_only || r.link == Some(id) {
        return None;
    }
    let f = crate::script::command_flags(srv, cmd, args);
    let write =
        f & flags::WRITE != 0 || (cmd.name == "exec" && c.tx.queued_flags & flags::WRITE != 0);
    write.then(|| READONLY_ERROR.to_vec())
}

/// scriptVerifyWriteCommandAllow's read-only replica check for a script run by `caller`.
pub(crate) fn script_write_denied(srv: &Server, caller: usize) -> bool {
    let r = &srv.repl.replica;
    r.is_replica() && srv.config.replica_read_only && r.link != Some(caller)
}

/// processCommand's stale-data check: while the link is down, with
/// replica-serve-stale-data no, only commands flagged `stale` run.
pub(crate) fn stale_rejects(
    srv: &Server,
    c: &Client,
    id: usize,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
) -> Option<Vec<u8>> {
    let r = &srv.repl.replica;
    if !r.is_replica()
        || r.state == State::Connected
        || srv.config.replica_serve_stale_data
        || r.link == Some(id)
    {
        return None;
    }
    let f = crate::script::command_flags(srv, cmd, args);
    let deny = f & flags::STALE == 0
        || (cmd.name == "exec" && c.tx.queue.iter().any(|q| !q.cmd.has(flags::STALE)));
    deny.then(|| MASTERDOWN_ERROR.to_vec())
}

/// Redis's replicationGetSlaveOffset: the applied offset of the master link (or of the cached
/// master while it is down); 0 when none.
pub(crate) fn slave_offset(srv: &Server) -> i64 {
    let r = &srv.repl.replica;
    if !r.is_replica() {
        return 0;
    }
    let off = if r.state == State::Connected {
        r.reploff
    } else {
        r.cached.as_ref().map_or(0, |c| c.reploff)
    };
    off.max(0)
}

/// How old the replica's data is (clusterHandleSlaveFailover's data_age), in whole seconds
/// as ms: since the master last spoke when the link is up, since it went down otherwise
/// (forever when it never was up).
pub(crate) fn data_age_ms(srv: &Server, now: u64) -> u64 {
    let r = &srv.repl.replica;
    let since = if r.state == State::Connected {
        r.last_io / 1000
    } else {
        r.down_since
    };
    (now / 1000).saturating_sub(since) * 1000
}

/// Redis's replicationSetMaster: follow host:port (the caller has checked it is not the
/// current master).
pub(crate) fn set_master(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    host: &str,
    port: u16,
) {
    let was_master = !srv.repl.replica.is_replica();
    // freeClient(server.master): a connected master is cached (the new master may continue
    // its history) and the link counts as down from now.
    if srv.repl.replica.state == State::Connected {
        let db = srv
            .repl
            .replica
            .link
            .and_then(|s| clients.get(s))
            .map_or(0, |c| c.db);
        srv.repl.replica.cached = Some(Cached {
            replid: srv.repl.replid.clone(),
            reploff: srv.repl.replica.reploff,
            db,
        });
        srv.repl.replica.down_since = srv.last_tick_ms() / 1000;
    }
    drop_link(srv, clients);
    // CONFIG GET / REWRITE replicaof show the master in force.
    srv.config.replicaof = crate::config::ReplicaOf(Some((host.to_string(), port)));
    let r = &mut srv.repl.replica;
    r.master_host = Some(host.to_string());
    r.master_port = port;
    if was_master {
        // replicationCacheMasterUsingMyself: our own history may continue on the new master.
        r.cached = Some(Cached {
            replid: srv.repl.replid.clone(),
            reploff: srv.repl.master_repl_offset,
            db: 0,
        });
    }
    srv.repl.replica.state = State::Connect;
    set_expiry(srv, crate::keyspace::Expiry::Hide);
    // Our replicas stay (they may continue with us); they now get the master's stream.
    crate::repl::master::sync_propagation(srv);
    connect(srv);
}

/// Redis's replicationUnsetMaster (REPLICAOF NO ONE): a master again, the old history kept
/// as replid2 so the other replicas can PSYNC with us.
pub(crate) fn unset_master(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    if !srv.repl.replica.is_replica() {
        return;
    }
    drop_link(srv, clients);
    srv.config.replicaof = crate::config::ReplicaOf(None);
    let r = &mut srv.repl.replica;
    r.master_host = None;
    r.cached = None;
    r.state = State::None;
    r.down_since = 0;
    set_expiry(srv, crate::keyspace::Expiry::Delete);
    let fresh = crate::repl::random_replid(&mut srv.rng);
    srv.repl.shift_replid(fresh);
    // repl_no_slaves_since: the backlog's TTL counts from the promotion, not from ever.
    srv.repl.master.no_slaves_since = srv.last_tick_ms();
    // disconnectSlaves(): our replicas PSYNC again (and continue, thanks to replid2).
    crate::repl::master::disconnect_replicas(srv, clients);
    crate::repl::master::sync_propagation(srv);
}

/// How the databases treat keys past their TTL (a replica leaves deletion to its master).
fn set_expiry(srv: &mut Server, mode: crate::keyspace::Expiry) {
    for db in &mut srv.dbs {
        db.expiry = mode;
    }
}

/// Closes the link wherever it is (handshake, transfer or stream), without caching it.
fn drop_link(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let r = &mut srv.repl.replica;
    if let Some(slot) = r.link.take() {
        if let Some(c) = clients.get_mut(slot) {
            c.close_asap = true;
            srv.events.push_back(Event::Close(ClientHandle(slot)));
        }
    }
    r.pending.clear();
    reset_transfer(srv);
}

/// Redis's connectWithMaster: asks the host for a connection.
fn connect(srv: &mut Server) {
    let now = srv.last_tick_ms();
    let r = &mut srv.repl.replica;
    let Some(host) = r.master_host.clone() else {
        return;
    };
    r.attempt += 1;
    r.state = State::Connecting;
    r.last_io = now;
    srv.events.push_back(Event::ConnectMaster {
        host,
        port: r.master_port,
        attempt: r.attempt,
    });
}

/// cancelReplicationHandshake / the handshake's error path: the link goes; `reconnect` asks
/// for a new one at once, otherwise the cron does within a second.
fn fail(srv: &mut Server, clients: &mut slab::Slab<Client>, why: &str, reconnect: bool) {
    srv.events
        .push_back(Event::Log(format!("Replication with MASTER failed: {why}")));
    drop_link(srv, clients);
    srv.repl.replica.state = State::Connect;
    if reconnect {
        connect(srv);
    }
}

/// Writes a command as Redis's sendCommand does (a multibulk).
fn send(c: &mut Client, args: &[&[u8]]) {
    c.out
        .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        c.out
            .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        c.out.extend_from_slice(a);
        c.out.extend_from_slice(b"\r\n");
    }
}

/// Takes one line (up to \n, without \r\n) from the front of `buf`.
fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let mut line: Vec<u8> = buf.drain(..=nl).collect();
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Some(line)
}

/// The link's input before the stream: the handshake's replies and the RDB. True when the
/// rest of the client's input is the command stream (run it).
pub(crate) fn link_input(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) -> bool {
    if srv.repl.replica.link == Some(id.0) && !clients[id.0].inbuf_is_empty() {
        srv.repl.replica.last_io = now.0;
    }
    loop {
        let state = srv.repl.replica.state;
        if state == State::Connected {
            return true;
        }
        if srv.repl.replica.link != Some(id.0) {
            return false;
        }
        let c = &mut clients[id.0];
        if c.inbuf_is_empty() && !(state == State::Transfer && srv.repl.replica.transfer.loading) {
            return false;
        }
        if state == State::Transfer {
            if !transfer_input(now, srv, clients, id) {
                return false;
            }
            continue;
        }
        let Some(line) = take_line(c.inbuf_mut()) else {
            return false;
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        match state {
            State::ReceivePingReply => {
                if !text.starts_with('+')
                    && !text.starts_with("-NOAUTH")
                    && !text.starts_with("-NOPERM")
                    && !text.starts_with("-ERR operation not permitted")
                {
                    fail(
                        srv,
                        clients,
                        &format!("Error reply to PING: '{text}'"),
                        false,
                    );
                    return false;
                }
                send_handshake(srv, c_mut(clients, id));
            }
            State::ReceiveAuthReply => {
                if text.starts_with('-') {
                    fail(
                        srv,
                        clients,
                        &format!("Unable to AUTH to MASTER: {text}"),
                        false,
                    );
                    return false;
                }
                srv.repl.replica.state = State::ReceivePortReply;
            }
            State::ReceivePortReply => {
                srv.repl.replica.state = if srv.config.replica_announce_ip.is_empty() {
                    State::ReceiveCapaReply
                } else {
                    State::ReceiveIpReply
                };
            }
            State::ReceiveIpReply => srv.repl.replica.state = State::ReceiveCapaReply,
            State::ReceiveCapaReply => {
                // slaveTryPartialResynchronization(conn, 0).
                let r = &mut srv.repl.replica;
                r.master_initial_offset = -1;
                let (replid, off) = match &r.cached {
                    Some(m) => (m.replid.clone(), (m.reploff + 1).to_string()),
                    None => ("?".to_string(), "-1".to_string()),
                };
                // A master failing over asks its target to take over (PSYNC ... FAILOVER).
                if srv.repl.failover.state == crate::repl::FailoverState::InProgress {
                    send(
                        c_mut(clients, id),
                        &[b"PSYNC", replid.as_bytes(), off.as_bytes(), b"FAILOVER"],
                    );
                } else {
                    send(
                        c_mut(clients, id),
                        &[b"PSYNC", replid.as_bytes(), off.as_bytes()],
                    );
                }
                r.state = State::ReceivePsyncReply;
            }
            State::ReceivePsyncReply => {
                if !psync_reply(srv, clients, id, &text) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn c_mut(clients: &mut slab::Slab<Client>, id: ClientHandle) -> &mut Client {
    &mut clients[id.0]
}

/// After PING's reply: AUTH, REPLCONF listening-port, ip-address, capa, in one write.
fn send_handshake(srv: &mut Server, c: &mut Client) {
    let cfg = &srv.config;
    if !cfg.masterauth.is_empty() {
        if cfg.masteruser.is_empty() {
            send(c, &[b"AUTH", &cfg.masterauth]);
        } else {
            send(c, &[b"AUTH", &cfg.masteruser, &cfg.masterauth]);
        }
    }
    let port = if cfg.replica_announce_port != 0 {
        cfg.replica_announce_port as u64
    } else if cfg.tls_replication && cfg.tls_port != 0 {
        cfg.tls_port as u64
    } else {
        u64::from(srv.host.tcp_port)
    };
    send(
        c,
        &[b"REPLCONF", b"listening-port", port.to_string().as_bytes()],
    );
    if !cfg.replica_announce_ip.is_empty() {
        send(c, &[b"REPLCONF", b"ip-address", &cfg.replica_announce_ip]);
    }
    send(c, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]);
    srv.repl.replica.state = if cfg.masterauth.is_empty() {
        State::ReceivePortReply
    } else {
        State::ReceiveAuthReply
    };
}

/// slaveTryPartialResynchronization(conn, 1) and what syncWithMaster does with its answer.
/// True: go on reading the link's input.
fn psync_reply(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    text: &str,
) -> bool {
    if text.is_empty() {
        return true; // the master sends newlines while it prepares
    }
    // The target of our FAILOVER took over (any sync will do), or refused.
    if srv.repl.failover.state == crate::repl::FailoverState::InProgress {
        if text.starts_with("+FULLRESYNC") || text.starts_with("+CONTINUE") {
            srv.repl.failover = Default::default();
        } else {
            crate::repl::master::abort_failover(
                srv,
                clients,
                "Failover target rejected psync request",
            );
            return false;
        }
    }
    let r = &mut srv.repl.replica;
    if let Some(rest) = text.strip_prefix("+FULLRESYNC") {
        let mut words = rest.split_whitespace();
        match (words.next(), words.next()) {
            (Some(id), Some(off)) if id.len() == 40 => {
                r.master_replid = id.to_string();
                r.master_initial_offset = off.parse().unwrap_or(-1);
            }
            _ => r.master_replid = String::new(),
        }
        start_transfer(srv);
        return true;
    }
    if let Some(rest) = text.strip_prefix("+CONTINUE") {
        let Some(cached) = r.cached.take() else {
            fail(srv, clients, "+CONTINUE without a cached master", false);
            return false;
        };
        let new = rest.trim();
        if new.len() == 40 && new != cached.replid {
            // The master's ID changed (it was promoted): our history is its replid2.
            srv.repl.replid2 = cached.replid.clone();
            srv.repl.second_replid_offset = srv.repl.master_repl_offset + 1;
            srv.repl.replid = new.to_string();
            crate::repl::master::disconnect_replicas(srv, clients);
        }
        // replicationResurrectCachedMaster.
        let r = &mut srv.repl.replica;
        r.reploff = cached.reploff;
        r.read_reploff = cached.reploff;
        r.state = State::Connected;
        r.down_since = 0;
        srv.repl.master_repl_offset = cached.reploff;
        srv.repl.replica.master_db = cached.db;
        if srv.repl.master.backlog.is_none() {
            crate::repl::master::create_backlog(srv);
        }
        make_master_client(clients, id, cached.db);
        return true;
    }
    if text.starts_with("-NOMASTERLINK") || text.starts_with("-LOADING") {
        fail(
            srv,
            clients,
            &format!("master cannot PSYNC now: {text}"),
            false,
        );
        return false;
    }
    // Not supported (an old master, or an error): SYNC.
    c_mut(clients, id).out.extend_from_slice(b"SYNC\r\n");
    r.master_initial_offset = -1;
    start_transfer(srv);
    true
}

fn start_transfer(srv: &mut Server) {
    let now = srv.last_tick_ms();
    let r = &mut srv.repl.replica;
    r.state = State::Transfer;
    discard_sync_file(srv);
    let r = &mut srv.repl.replica;
    r.transfer = Transfer::default();
    r.sync_read = 0;
    r.transfer_start = now;
}

/// Ends a transfer however it went (stopLoading): the parser and its keys go, the loading
/// flags are cleared.
fn reset_transfer(srv: &mut Server) {
    discard_sync_file(srv);
    srv.repl.replica.transfer = Transfer::default();
    stop_loading(srv);
}

/// The disk-mode payload's file, if any, is let go: a temp file is deleted
/// (replicationAbortSyncTransfer), the opened dbfilename closed.
fn discard_sync_file(srv: &mut Server) {
    let t = &mut srv.repl.replica.transfer;
    let file = std::mem::take(&mut t.file);
    let Some(h) = srv.persist.host.as_mut() else {
        return;
    };
    match file {
        SyncFile::Memory => {}
        SyncFile::Tmp => h.discard_sync_tmp(),
        SyncFile::Opened { handle, .. } => h.close_sync_rdb(handle),
    }
}

/// startLoading: `loading:1`, `async_loading:1` when `async_`.
fn start_loading(srv: &mut Server, total: u64, async_: bool) {
    let now = srv.last_tick_ms();
    let p = &mut srv.persist;
    p.loading = true;
    p.async_loading = async_;
    p.loading_start_secs = now / 1000;
    p.loading_total_bytes = total;
    p.loading_loaded_bytes = 0;
}

fn stop_loading(srv: &mut Server) {
    srv.persist.loading = false;
    srv.persist.async_loading = false;
}

/// Whether a disk-mode load has records left to parse: the host gives the engine a turn at
/// once (the tick feeds the link), as Redis's rdbLoad processes events every
/// loading-process-events-interval-bytes.
pub(crate) fn load_pending(srv: &Server) -> Option<ClientHandle> {
    let r = &srv.repl.replica;
    (r.state == State::Transfer && r.transfer.loading)
        .then_some(r.link)
        .flatten()
        .map(ClientHandle)
}

/// processCommand's loading checks: while loading (not async) only `loading` commands run;
/// while async loading, `no_async_loading` ones are refused.
pub(crate) fn loading_rejects(
    srv: &Server,
    c: &Client,
    cmd: &'static CommandSpec,
) -> Option<Vec<u8>> {
    let p = &srv.persist;
    // Only a replica's load of its master's RDB serves clients meanwhile (the AOF replay's
    // own client runs with `loading` set too, and must not be refused).
    if !p.loading || srv.repl.replica.state != State::Transfer {
        return None;
    }
    let exec = cmd.name == "exec";
    let deny = if p.async_loading {
        cmd.has(flags::NO_ASYNC_LOADING)
            || (exec
                && c.tx
                    .queue
                    .iter()
                    .any(|q| q.cmd.has(flags::NO_ASYNC_LOADING)))
    } else {
        !cmd.has(flags::LOADING) || (exec && c.tx.queue.iter().any(|q| !q.cmd.has(flags::LOADING)))
    };
    deny.then(|| LOADING_ERROR.to_vec())
}

/// Redis's shared.loadingerr.
pub const LOADING_ERROR: &[u8] = b"LOADING Redis is loading the dataset in memory";

/// replicationAttachToNewMaster, then emptyData: the cached master and our sub-replicas
/// go (our history changes), and the old dataset (replica-lazy-flush says how).
fn attach_to_new_master(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    flush: bool,
) {
    srv.repl.replica.cached = None;
    crate::repl::master::disconnect_replicas(srv, clients);
    crate::repl::master::free_backlog(srv);
    if !flush {
        return;
    }
    srv.events.push_back(Event::Log(
        "MASTER <-> REPLICA sync: Flushing old data".into(),
    ));
    let lazy = srv.config.replica_lazy_flush;
    for db in 0..srv.dbs.len() {
        crate::command::tx::touch_all_in_db(srv, clients, db, None, now);
    }
    crate::command::tracking::flushed(srv, clients);
    for i in 0..srv.dbs.len() {
        let (k, e) = srv.dbs[i].flush_all();
        srv.free_db(k, e, lazy);
    }
}

/// readSyncBulkPayload: the `$` line, then the payload, parsed as it arrives (diskless) or
/// once stored (disk), then the load's end. True when the state moved on (loop again),
/// false to wait for more input (or, loading from disk, for the next turn).
fn transfer_input(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) -> bool {
    if !srv.repl.replica.transfer.started {
        let c = &mut clients[id.0];
        let Some(line) = take_line(c.inbuf_mut()) else {
            return false;
        };
        if line.is_empty() {
            return true; // keepalive newline
        }
        if line[0] == b'-' {
            let why = String::from_utf8_lossy(&line[1..]).into_owned();
            fail(
                srv,
                clients,
                &format!("MASTER aborted replication with an error: {why}"),
                true,
            );
            return false;
        }
        if line[0] != b'$' {
            fail(
                srv,
                clients,
                "Bad protocol from MASTER, the first byte is not '$'",
                true,
            );
            return false;
        }
        let t = &mut srv.repl.replica.transfer;
        if line.len() >= 5 + 40 && &line[1..5] == b"EOF:" {
            t.eof_mark = Some(line[5..45].to_vec());
        } else {
            let n = std::str::from_utf8(&line[1..])
                .ok()
                .and_then(|s| s.parse::<usize>().ok());
            let Some(n) = n else {
                fail(srv, clients, "Bad bulk length from MASTER", true);
                return false;
            };
            t.size = Some(n);
        }
        t.started = true;
        // useDisklessLoad.
        let mode = match srv.config.repl_diskless_load.0 {
            2 => LoadMode::Swapdb,
            1 if srv.dbs.iter().all(|d| d.is_empty()) => LoadMode::Diskless,
            _ => LoadMode::Disk,
        };
        srv.repl.replica.transfer.mode = mode;
        let total = srv.repl.replica.transfer.size.unwrap_or(0) as u64;
        match mode {
            LoadMode::Disk => {
                // The temp file the payload goes to as it arrives (Redis opens it before
                // PSYNC; here once a payload is announced).
                match srv.persist.host.as_mut().map(|h| h.create_sync_tmp()) {
                    Some(Ok(true)) => srv.repl.replica.transfer.file = SyncFile::Tmp,
                    None | Some(Ok(false)) => {}
                    Some(Err(e)) => {
                        fail(
                            srv,
                            clients,
                            &format!(
                                "Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}"
                            ),
                            true,
                        );
                        return false;
                    }
                }
            }
            LoadMode::Diskless => {
                attach_to_new_master(now, srv, clients, true);
                start_loading(srv, total, false);
            }
            LoadMode::Swapdb => {
                // Async loading (reads keep being served) only when the master's history is
                // ours: the old data is an earlier point of the same dataset.
                let same = srv.repl.replid == srv.repl.replica.master_replid;
                start_loading(srv, total, same);
            }
        }
        return true;
    }
    let mode = srv.repl.replica.transfer.mode;
    if mode == LoadMode::Disk && srv.repl.replica.transfer.loading {
        return disk_load_step(now, srv, clients, id);
    }
    // Take the payload's bytes: with a size, no more (the stream may follow at once); with
    // an EOF mark, everything (the master sends nothing after it until our first ACK).
    let c = &mut clients[id.0];
    let inbuf = c.inbuf_mut();
    let t = &mut srv.repl.replica.transfer;
    let take = match t.size {
        Some(n) => (n - srv.repl.replica.sync_read as usize).min(inbuf.len()),
        None => inbuf.len(),
    };
    if take == 0 && mode == LoadMode::Disk {
        return false;
    }
    t.buf.extend(inbuf.drain(..take));
    srv.repl.replica.sync_read += take as u64;
    let read = srv.repl.replica.sync_read;
    let t = &mut srv.repl.replica.transfer;
    // Whether the whole payload is here: by size, or (EOF form) when the received bytes end
    // with the mark (Redis compares the last 40 bytes read with it).
    let mut complete = t.size.is_some_and(|n| read == n as u64);
    if let Some(mark) = &t.eof_mark {
        if t.buf.len() >= 40 && t.buf[t.buf.len() - 40..] == mark[..] {
            complete = true;
        }
    }
    if mode == LoadMode::Disk {
        if t.file == SyncFile::Tmp {
            // To the temp file as it arrives, all but what may be the EOF mark (the last 40
            // bytes: Redis writes them and truncates them off at the end).
            let keep = if t.eof_mark.is_some() {
                if complete {
                    40
                } else {
                    t.buf.len().min(40)
                }
            } else {
                0
            };
            let upto = t.buf.len() - keep;
            if upto > 0 {
                let res = srv
                    .persist
                    .host
                    .as_mut()
                    .map_or(Ok(()), |h| h.write_sync_tmp(&t.buf[..upto]));
                if let Err(e) = res {
                    fail(
                        srv,
                        clients,
                        &format!(
                            "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {e}"
                        ),
                        true,
                    );
                    return false;
                }
                srv.repl.replica.transfer.buf.drain(..upto);
            }
        }
        let t = &mut srv.repl.replica.transfer;
        if !complete {
            return false;
        }
        if t.eof_mark.is_some() {
            let l = t.buf.len() - 40;
            t.buf.truncate(l);
        }
        return begin_disk_load(now, srv, clients, id);
    }
    // Diskless: parse what arrived (the mark, if any, is left over at the end).
    let body_len = if complete && t.eof_mark.is_some() && !t.loader.done() {
        t.buf.len() - 40
    } else {
        t.buf.len()
    };
    srv.sync_access(now);
    let result = {
        let Server {
            config,
            rng,
            repl,
            dbs,
            ..
        } = &mut *srv;
        let t = &mut repl.replica.transfer;
        let (keys, direct) = (&mut t.keys, t.mode != LoadMode::Swapdb);
        t.loader
            .step(&t.buf[..body_len], complete, config, rng, usize::MAX, |k| {
                if direct {
                    crate::command::persistence::insert_loaded_key(dbs, k);
                } else {
                    keys.push(k);
                }
            })
    };
    let (consumed, done) = match result {
        Ok(r) => r,
        Err(e) => {
            load_failed(srv, clients, &e);
            return false;
        }
    };
    let t = &mut srv.repl.replica.transfer;
    t.buf.drain(..consumed);
    srv.persist.loading_loaded_bytes = t.loader.consumed;
    if !done {
        if complete {
            load_failed(srv, clients, "Unexpected EOF reading RDB file");
        }
        return false;
    }
    if let Some(mark) = t.eof_mark.clone() {
        // The end mark follows the RDB.
        if t.buf.len() < 40 {
            return false;
        }
        if t.buf[..40] != mark[..] {
            load_failed(srv, clients, "Replication stream EOF marker is broken");
            return false;
        }
    } else if !complete {
        return false; // what is left of the announced size
    }
    finish_load(now, srv, clients, id);
    true
}

/// Disk mode, the payload complete: stored as dbfilename, the old data flushed, then parsed
/// turn by turn (`disk_load_step`).
fn begin_disk_load(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) -> bool {
    let mut total = srv.repl.replica.transfer.buf.len() as u64;
    if srv.repl.replica.transfer.file == SyncFile::Tmp {
        // fsync, rename over dbfilename, then read back a window at a time (rdbLoad).
        srv.repl.replica.transfer.file = SyncFile::Memory;
        let Some(h) = srv.persist.host.as_mut() else {
            return false;
        };
        let opened = h.commit_sync_tmp().and_then(|()| h.open_sync_rdb());
        match opened {
            Ok(Some((handle, size))) => {
                total = size;
                srv.repl.replica.transfer.file = SyncFile::Opened {
                    handle,
                    size,
                    read: 0,
                };
            }
            Ok(None) => {
                fail(
                    srv,
                    clients,
                    "the host did not open the stored payload",
                    true,
                );
                return false;
            }
            Err(e) => {
                fail(srv, clients, &e, true);
                return false;
            }
        }
    }
    attach_to_new_master(now, srv, clients, true);
    start_loading(srv, total, false);
    srv.events.push_back(Event::Log(
        "MASTER <-> REPLICA sync: Loading DB in memory".into(),
    ));
    srv.repl.replica.transfer.loading = true;
    disk_load_step(now, srv, clients, id)
}

/// One turn's worth (loading-process-events-interval-bytes) of a disk-mode load.
fn disk_load_step(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) -> bool {
    let budget = srv.config.loading_process_events_interval_bytes.max(1024) as usize;
    // Loading is not a silent master: repl-timeout counts from the last step.
    srv.repl.replica.last_io = now.0;
    // From the stored file: one more budget's worth read into the window.
    let mut complete = true;
    if let SyncFile::Opened { handle, size, read } = srv.repl.replica.transfer.file {
        let mut read = read;
        if read < size {
            let want = budget.min((size - read) as usize);
            let chunk = match srv.persist.host.as_mut() {
                Some(h) => h.read_sync_rdb(handle, read, want),
                None => Err("the host went away".into()),
            };
            match chunk {
                Ok(c) if !c.is_empty() => {
                    read += c.len() as u64;
                    srv.repl.replica.transfer.buf.extend_from_slice(&c);
                }
                Ok(_) => {
                    // Shorter than it was: what was read is all there is.
                    read = size;
                }
                Err(e) => {
                    remove_sync_file(srv);
                    load_failed(srv, clients, &e);
                    return false;
                }
            }
            srv.repl.replica.transfer.file = SyncFile::Opened { handle, size, read };
        }
        complete = read >= size;
    }
    // Into the flushed dataset as parsed (rdbLoad), others getting -LOADING meanwhile; IDLE
    // and FREQ convert on the current clock.
    srv.sync_access(now);
    let result = {
        let Server {
            config,
            rng,
            repl,
            dbs,
            ..
        } = &mut *srv;
        let t = &mut repl.replica.transfer;
        t.loader
            .step(&t.buf[t.pos..], complete, config, rng, budget, |k| {
                crate::command::persistence::insert_loaded_key(dbs, k)
            })
    };
    match result {
        Err(e) => {
            // Redis exits here (a corrupt file); the flushed dataset stays empty and the sync
            // starts again.
            discard_sync_file(srv);
            remove_sync_file(srv);
            load_failed(srv, clients, &e);
            false
        }
        Ok((consumed, done)) => {
            let t = &mut srv.repl.replica.transfer;
            t.pos += consumed;
            if matches!(t.file, SyncFile::Opened { .. }) {
                // The window keeps only what is not parsed yet.
                t.buf.drain(..t.pos);
                t.pos = 0;
            }
            srv.persist.loading_loaded_bytes = t.loader.consumed;
            if done {
                finish_load(now, srv, clients, id);
                return true;
            }
            false
        }
    }
}

/// rdb-del-sync-files on a replica without persistence: the file the disk-mode sync
/// stored goes once loaded (or failed).
fn remove_sync_file(srv: &mut Server) {
    if srv.config.rdb_del_sync_files && crate::repl::master::all_persistence_disabled(srv) {
        if let Some(h) = srv.persist.host.as_mut() {
            srv.events.push_back(Event::Log(
                "Removing the RDB file obtained from the master. This replica has persistence disabled"
                    .into(),
            ));
            h.remove_rdb();
        }
    }
}

fn load_failed(srv: &mut Server, clients: &mut slab::Slab<Client>, e: &str) {
    if srv.repl.replica.transfer.mode == LoadMode::Swapdb {
        srv.events.push_back(Event::Log(
            "MASTER <-> REPLICA sync: Discarding temporary DB in background".into(),
        ));
    } else {
        drop_partial_load(srv);
    }
    fail(
        srv,
        clients,
        &format!("Failed trying to load the MASTER synchronization DB: {e}"),
        true,
    );
}

/// A load into the flushed dataset failed: what it inserted goes (emptyData), so the dataset
/// is empty until the next sync.
fn drop_partial_load(srv: &mut Server) {
    let lazy = srv.config.replica_lazy_flush;
    for i in 0..srv.dbs.len() {
        let (k, e) = srv.dbs[i].flush_all();
        srv.free_db(k, e, lazy);
    }
}

/// The end of readSyncBulkPayload: the loaded keys become the dataset (swapdb: the old one
/// goes now), the master client is made from the +FULLRESYNC figures.
fn finish_load(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) {
    discard_sync_file(srv);
    let t = std::mem::take(&mut srv.repl.replica.transfer);
    if t.mode == LoadMode::Disk {
        remove_sync_file(srv);
    }
    let usemark = t.eof_mark.is_some();
    let info = t.loader.info;
    srv.sync_access(now);
    if t.mode == LoadMode::Swapdb {
        attach_to_new_master(now, srv, clients, true);
        srv.events.push_back(Event::Log(
            "MASTER <-> REPLICA sync: Swapping active DB with loaded DB".into(),
        ));
    }
    stop_loading(srv);
    srv.persist.last_load_keys_loaded = info.keys_loaded;
    srv.persist.last_load_keys_expired = info.keys_expired;
    // Disk and diskless loads put the keys in as they were parsed; swapdb's come now.
    let applied = if t.mode == LoadMode::Swapdb {
        crate::command::persistence::apply_loaded_with_functions(
            srv,
            t.keys,
            &info.functions,
            true,
            false,
        )
    } else {
        crate::command::persistence::apply_loaded_functions(srv, &info.functions)
    };
    if let Err(e) = applied {
        if t.mode != LoadMode::Swapdb {
            drop_partial_load(srv);
        }
        fail(
            srv,
            clients,
            &format!("Failed trying to load the MASTER synchronization DB: {e}"),
            true,
        );
        return;
    }
    srv.dirty += 1;
    let r = &mut srv.repl.replica;
    r.reploff = r.master_initial_offset;
    r.read_reploff = r.reploff;
    r.state = State::Connected;
    r.down_since = 0;
    srv.repl.replid = r.master_replid.clone();
    srv.repl.master_repl_offset = r.reploff;
    srv.repl.clear_replid2();
    // A replica keeps a backlog whether or not it has sub-replicas, so that once promoted
    // (FAILOVER, REPLICAOF NO ONE) its old master's replicas can continue with it.
    if srv.repl.master.backlog.is_none() {
        crate::repl::master::create_backlog(srv);
    }
    let db = info.repl_stream_db.unwrap_or(0);
    srv.repl.replica.master_db = db;
    srv.events.push_back(Event::Log(
        "MASTER <-> REPLICA sync: Finished with success".into(),
    ));
    make_master_client(clients, id, db);
    if usemark {
        send_ack(srv, clients);
    }
}

/// replicationCreateMasterClient on the link's session.
fn make_master_client(clients: &mut slab::Slab<Client>, id: ClientHandle, db: usize) {
    let c = &mut clients[id.0];
    c.authenticated = true;
    c.repl_master = true;
    c.db = db;
}

/// replicationSendAck: REPLCONF ACK <applied offset>.
fn send_ack(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let r = &srv.repl.replica;
    if r.state != State::Connected || r.reploff < 0 {
        return;
    }
    let Some(slot) = r.link else {
        return;
    };
    let off = r.reploff.to_string();
    if let Some(c) = clients.get_mut(slot) {
        let was_empty = c.out.is_empty();
        send(c, &[b"REPLCONF", b"ACK", off.as_bytes()]);
        if was_empty {
            srv.events.push_back(Event::Output(ClientHandle(slot)));
        }
    }
}

/// One command of the master's stream: run without a reply (REPLCONF GETACK answers an ACK),
/// then counted in the offset (a MULTI's commands when its EXEC runs, as Redis's
/// commandProcessed does).
pub(crate) fn apply_command(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    args: &[&[u8]],
    bytes: &[u8],
) -> Dispatched {
    if args.len() >= 2 && is(args[0], "replconf") && is(args[1], "getack") {
        // The ACK names the offset before this command (reploff moves after it).
        send_ack(srv, clients);
        applied(srv, clients, id, bytes);
        return Dispatched::Done;
    }
    let start = clients[id.0].out.len();
    // The master's commands see every key it has not deleted yet.
    set_expiry(srv, crate::keyspace::Expiry::Keep);
    let r = dispatch(now, srv, clients, id, args);
    if srv.repl.replica.is_replica() {
        set_expiry(srv, crate::keyspace::Expiry::Hide);
    }
    if r == Dispatched::Postponed {
        return r;
    }
    if let Some(c) = clients.get_mut(id.0) {
        c.out.truncate(start);
    }
    applied(srv, clients, id, bytes);
    r
}

/// Empty lines (newlines) of the stream count in the offset too.
pub(crate) fn apply_empty(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    bytes: &[u8],
) {
    applied(srv, clients, id, bytes);
}

fn applied(srv: &mut Server, clients: &mut slab::Slab<Client>, id: ClientHandle, bytes: &[u8]) {
    let in_multi = clients.get(id.0).is_some_and(|c| c.tx.active);
    let r = &mut srv.repl.replica;
    r.read_reploff += bytes.len() as i64;
    if in_multi || !r.pending.is_empty() {
        // A MULTI's commands wait for its EXEC (Redis keeps them in the query buffer).
        r.pending.extend_from_slice(bytes);
        if in_multi {
            return;
        }
    }
    if let Some(c) = clients.get(id.0) {
        r.master_db = c.db;
    }
    let pending = std::mem::take(&mut r.pending);
    let done: &[u8] = if pending.is_empty() { bytes } else { &pending };
    r.reploff += done.len() as i64;
    let reploff = r.reploff;
    // replicationFeedStreamFromMasterStream: our sub-replicas and backlog get the master's
    // bytes verbatim (feed_stream moves the offset by as much, when there is a backlog).
    crate::repl::master::feed_stream(srv, clients, done);
    srv.repl.master_repl_offset = reploff;
}

/// The link's session went away (the host closed it, or it was killed): the master is
/// cached for a partial resync and a new connection asked for (Redis's freeClient of the
/// master: replicationCacheMaster, replicationHandleMasterDisconnection).
pub(crate) fn link_gone(srv: &mut Server, c: &Client, slot: usize) {
    let now_s = srv.last_tick_ms() / 1000;
    let r = &mut srv.repl.replica;
    if r.link != Some(slot) {
        return;
    }
    r.link = None;
    if r.state == State::Connected {
        r.pending.clear();
        r.read_reploff = r.reploff;
        r.cached = Some(Cached {
            replid: srv.repl.replid.clone(),
            reploff: r.reploff,
            db: c.db,
        });
        r.down_since = now_s;
    }
    r.state = State::Connect;
    reset_transfer(srv);
    connect(srv);
}

/// Whether the replication cron needs the engine's tick.
pub(crate) fn wants_tick(srv: &Server) -> bool {
    srv.repl.replica.is_replica()
}

/// Redis's replicationCron, replica half: timeouts, reconnects, the ACK each second.
pub(crate) fn cron(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let r = &mut srv.repl.replica;
    if !r.is_replica() || now.0 < r.last_cron + 1000 {
        return;
    }
    r.last_cron = now.0;
    let timeout = srv.config.repl_timeout.max(1) as u64 * 1000;
    let state = r.state;
    if (state == State::Connecting || r.in_handshake() || state == State::Transfer)
        && now.0.saturating_sub(r.last_io) > timeout
    {
        fail(
            srv,
            clients,
            "Timeout connecting to the MASTER / receiving its data",
            true,
        );
        return;
    }
    if state == State::Connected {
        if let Some(slot) = r.link.filter(|s| clients.contains(*s)) {
            if now.0.saturating_sub(r.last_io) > timeout {
                // freeClient(server.master): cached, then reconnected.
                srv.events.push_back(Event::Log(
                    "MASTER timeout: no data nor PING received...".into(),
                ));
                if let Some(c) = clients.get_mut(slot) {
                    c.close_asap = true;
                }
                srv.events.push_back(Event::Close(ClientHandle(slot)));
                let c = &clients[slot];
                link_gone(srv, c, slot);
                return;
            }
        }
        send_ack(srv, clients);
    }
    if srv.repl.replica.state == State::Connect {
        connect(srv);
    }
}

impl Engine {
    /// The host's connection for `Event::ConnectMaster { attempt }` is up: it becomes the
    /// master link (its output starts with PING). None: the engine no longer wants it (the
    /// host closes the socket).
    pub fn master_link_connected(
        &mut self,
        now: UnixMillis,
        attempt: u64,
        info: ConnInfo,
    ) -> Option<ClientHandle> {
        let r = &self.srv.repl.replica;
        if r.attempt != attempt || r.state != State::Connecting {
            return None;
        }
        let id = crate::engine::connect_outgoing(&mut self.srv, &mut self.clients, now, info);
        let c = &mut self.clients[id.0];
        c.authenticated = true;
        send(c, &[b"PING"]);
        let r = &mut self.srv.repl.replica;
        r.link = Some(id.0);
        r.state = State::ReceivePingReply;
        r.last_io = now.0;
        Some(id)
    }

    /// The host could not connect for `attempt`: the cron tries again within a second.
    pub fn master_link_failed(&mut self, now: UnixMillis, attempt: u64) {
        let r = &mut self.srv.repl.replica;
        if r.attempt == attempt && r.state == State::Connecting {
            r.state = State::Connect;
            let _ = now;
        }
    }
}

/// rdbPopulateSaveInfo: the stream's database, our ID and offset, when there is a master
/// (connected or cached) or we are a master with a backlog (its replicas' stream database).
pub(crate) fn save_info(srv: &Server) -> Option<crate::rdb::ReplAux> {
    let r = &srv.repl.replica;
    if !r.is_replica() && srv.repl.master.backlog.is_some() {
        return Some(crate::rdb::ReplAux {
            stream_db: srv.persist.repl_selected_db.map_or(0, |d| d as i64),
            replid: srv.repl.replid.clone(),
            offset: srv.repl.master_repl_offset,
        });
    }
    let db = if r.state == State::Connected {
        r.master_db
    } else {
        r.cached.as_ref()?.db
    };
    Some(crate::rdb::ReplAux {
        stream_db: db as i64,
        replid: srv.repl.replid.clone(),
        offset: srv.repl.master_repl_offset,
    })
}

/// loadDataFromDisk on a replica: an RDB that names our history (repl-id, repl-offset,
/// repl-stream-db) becomes the cached master, so the first PSYNC continues it.
pub(crate) fn loaded_at_startup(srv: &mut Server, info: &crate::rdb::LoadInfo) {
    if !srv.repl.replica.is_replica() {
        return;
    }
    if let (Some(id), Some(off), Some(db)) = (&info.repl_id, info.repl_offset, info.repl_stream_db)
    {
        if id.len() == 40 && off >= 0 {
            srv.repl.replid = id.clone();
            srv.repl.master_repl_offset = off;
            srv.repl.replica.cached = Some(Cached {
                replid: id.clone(),
                reploff: off,
                db,
            });
        }
    }
}

/// Startup with `replicaof` in the configuration: a replica from the start (the cron
/// connects).
pub(crate) fn init_from_config(srv: &mut Server) {
    if let Some((host, port)) = srv.config.replicaof.0.clone() {
        let r = &mut srv.repl.replica;
        r.master_host = Some(host);
        r.master_port = port;
        r.state = State::Connect;
        set_expiry(srv, crate::keyspace::Expiry::Hide);
        crate::repl::master::sync_propagation(srv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::HostInfo;
    use crate::resp::encode_request;

    const T0: UnixMillis = UnixMillis(1_000_000);

    fn out(eng: &mut Engine, id: ClientHandle) -> Vec<u8> {
        let mut o = Vec::new();
        eng.drain_output(id, &mut o);
        o
    }

    fn cmd(eng: &mut Engine, id: ClientHandle, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        eng.feed(T0, id, &encode_request(&a));
        out(eng, id)
    }

    fn engine(cfg: Config) -> (Engine, ClientHandle) {
        let mut eng = Engine::new(cfg, 7);
        eng.set_host_info(
            T0,
            HostInfo {
                tcp_port: 6380,
                ..Default::default()
            },
        );
        let c = eng.connect(T0, ConnInfo::default());
        (eng, c)
    }

    fn connect_event(eng: &mut Engine) -> u64 {
        while let Some(ev) = eng.poll_event() {
            if let Event::ConnectMaster {
                host,
                port,
                attempt,
            } = ev
            {
                assert_eq!((host.as_str(), port), ("127.0.0.1", 6379));
                return attempt;
            }
        }
        panic!("no ConnectMaster event");
    }

    /// The engine's next master connection attempt, answered: the new link.
    fn reconnect(eng: &mut Engine) -> ClientHandle {
        let attempt = connect_event(eng);
        eng.master_link_connected(T0, attempt, ConnInfo::default())
            .expect("wanted")
    }

    fn multibulk(args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        encode_request(&a)
    }

    /// A master's dataset as an RDB, with the repl-stream-db aux as Redis writes it.
    fn master_rdb() -> Vec<u8> {
        let (mut m, c) = engine(Config::default());
        cmd(&mut m, c, &["SET", "a", "1"]);
        cmd(&mut m, c, &["RPUSH", "l", "x", "y"]);
        cmd(&mut m, c, &["SELECT", "3"]);
        cmd(&mut m, c, &["HSET", "h", "f", "v"]);
        m.export_rdb(T0)
    }

    const MASTER_ID: &str = "0123456789abcdef0123456789abcdef01234567";

    /// REPLICAOF, the connection, the handshake up to the PSYNC; returns the link.
    fn handshake(eng: &mut Engine, c: ClientHandle, psync: &[u8]) -> ClientHandle {
        assert_eq!(cmd(eng, c, &["REPLICAOF", "127.0.0.1", "6379"]), b"+OK\r\n");
        let attempt = connect_event(eng);
        let link = eng
            .master_link_connected(T0, attempt, ConnInfo::default())
            .expect("wanted");
        assert_eq!(out(eng, link), b"*1\r\n$4\r\nPING\r\n");
        eng.feed(T0, link, b"+PONG\r\n");
        let mut want = multibulk(&["REPLCONF", "listening-port", "6380"]);
        want.extend(multibulk(&["REPLCONF", "capa", "eof", "capa", "psync2"]));
        assert_eq!(out(eng, link), want);
        eng.feed(T0, link, b"+OK\r\n+OK\r\n");
        assert_eq!(out(eng, link), psync);
        link
    }

    fn get(eng: &mut Engine, c: ClientHandle, db: &str, key: &str) -> Vec<u8> {
        cmd(eng, c, &["SELECT", db]);
        cmd(eng, c, &["GET", key])
    }

    #[test]
    fn full_sync_with_a_sized_rdb_then_the_stream() {
        let (mut eng, c) = engine(Config::default());
        cmd(&mut eng, c, &["SET", "old", "x"]);
        // A master turned replica offers its own history first (cacheMasterUsingMyself).
        let own = eng.server().repl.replid.clone();
        let psync = multibulk(&["PSYNC", &own, "1"]);
        let link = handshake(&mut eng, c, &psync);
        let rdb = master_rdb();
        let mut bytes = format!("+FULLRESYNC {MASTER_ID} 100\r\n${}\r\n", rdb.len()).into_bytes();
        bytes.extend_from_slice(&rdb);
        // The stream may follow the payload in the same read.
        let set = multibulk(&["SET", "b", "2"]);
        bytes.extend_from_slice(&set);
        // Split at every chunk boundary the host might make: feed in 7-byte pieces.
        for chunk in bytes.chunks(7) {
            eng.feed(T0, link, chunk);
        }
        assert_eq!(out(&mut eng, link), b""); // the sized form sends no ACK at once
        assert_eq!(get(&mut eng, c, "0", "old"), b"$-1\r\n");
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
        assert_eq!(get(&mut eng, c, "0", "b"), b"$1\r\n2\r\n");
        assert_eq!(cmd(&mut eng, c, &["HGET", "h", "f"]), b"$-1\r\n");
        cmd(&mut eng, c, &["SELECT", "3"]);
        assert_eq!(cmd(&mut eng, c, &["HGET", "h", "f"]), b"$1\r\nv\r\n");
        let r = &eng.server().repl;
        assert_eq!(r.replid, MASTER_ID);
        assert_eq!(r.master_repl_offset, 100 + set.len() as i64);
        assert_eq!(r.replica.state, State::Connected);
        // GETACK: the ACK names the offset before the GETACK itself.
        let getack = multibulk(&["REPLCONF", "GETACK", "*"]);
        eng.feed(T0, link, &getack);
        let off = (100 + set.len()).to_string();
        assert_eq!(out(&mut eng, link), multibulk(&["REPLCONF", "ACK", &off]));
        let off = 100 + set.len() + getack.len();
        assert_eq!(eng.server().repl.replica.reploff, off as i64);
        // Replies to the master's commands are not sent; PING counts in the offset.
        eng.feed(T0, link, b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(out(&mut eng, link), b"");
        assert_eq!(eng.server().repl.replica.reploff, off as i64 + 14);
        // Those bytes are replication traffic in INFO stats.
        let stats = cmd(&mut eng, c, &["INFO", "stats"]);
        let stats = String::from_utf8_lossy(&stats);
        let want = format!(
            "total_net_repl_input_bytes:{}\r\n",
            eng.server().repl.replica.net_repl_input_bytes
        );
        assert!(
            stats.contains(&want) && !want.ends_with(":0\r\n"),
            "{stats}"
        );
        // The ACK each second from the cron.
        eng.tick(UnixMillis(T0.0 + 1500));
        let off = (off + 14).to_string();
        assert_eq!(out(&mut eng, link), multibulk(&["REPLCONF", "ACK", &off]));
    }

    fn info_field(eng: &mut Engine, c: ClientHandle, section: &str, field: &str) -> String {
        let text = cmd(eng, c, &["INFO", section]);
        let text = String::from_utf8_lossy(&text);
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .unwrap_or_default()
    }

    /// The loading flags INFO shows: (loading, async_loading).
    fn loading(eng: &mut Engine, c: ClientHandle) -> (String, String) {
        (
            info_field(eng, c, "persistence", "loading"),
            info_field(eng, c, "persistence", "async_loading"),
        )
    }

    const LOADING: &[u8] = b"-LOADING Redis is loading the dataset in memory\r\n";

    /// A replica under `cfg` holding `old` = x, its link at the PSYNC: `same_history` makes
    /// it a replica of MASTER_ID already (a full sync, a cut, then PSYNC MASTER_ID ...);
    /// otherwise a master turned replica offering its own history.
    fn at_psync(mut cfg: Config, same_history: bool) -> (Engine, ClientHandle, ClientHandle) {
        // Writable, so that the test can write its old data.
        cfg.set("replica-read-only", b"no").expect("valid");
        let (mut eng, c) = engine(cfg);
        let own = eng.server().repl.replid.clone();
        let mut link = handshake(&mut eng, c, &multibulk(&["PSYNC", &own, "1"]));
        if same_history {
            let rdb = master_rdb();
            let mut bytes =
                format!("+FULLRESYNC {MASTER_ID} 10\r\n${}\r\n", rdb.len()).into_bytes();
            bytes.extend_from_slice(&rdb);
            eng.feed(T0, link, &bytes);
            assert_eq!(eng.server().repl.replica.state, State::Connected);
            eng.disconnect(link);
            link = reconnect(&mut eng);
            out(&mut eng, link);
            eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
            let o = out(&mut eng, link);
            assert!(o.ends_with(&multibulk(&["PSYNC", MASTER_ID, "11"])));
        }
        cmd(&mut eng, c, &["SELECT", "0"]);
        cmd(&mut eng, c, &["SET", "old", "x"]);
        (eng, c, link)
    }

    fn sized_payload(rdb: &[u8]) -> Vec<u8> {
        let mut bytes = format!("+FULLRESYNC {MASTER_ID} 100\r\n${}\r\n", rdb.len()).into_bytes();
        bytes.extend_from_slice(rdb);
        bytes
    }

    #[test]
    fn swapdb_of_the_same_history_loads_async_serving_the_old_data() {
        let mut cfg = Config::default();
        cfg.set("repl-diskless-load", b"swapdb").expect("valid");
        let (mut eng, c, link) = at_psync(cfg, true);
        let rdb = master_rdb();
        let bytes = sized_payload(&rdb);
        // Half the payload: the old dataset still answers, async_loading:1.
        let half = bytes.len() - rdb.len() / 2;
        eng.feed(T0, link, &bytes[..half]);
        assert_eq!(loading(&mut eng, c), ("0".into(), "1".into()));
        assert_eq!(get(&mut eng, c, "0", "old"), b"$1\r\nx\r\n");
        // The rest: swapped in at the end.
        eng.feed(T0, link, &bytes[half..]);
        assert_eq!(eng.server().repl.replica.state, State::Connected);
        assert_eq!(loading(&mut eng, c), ("0".into(), "0".into()));
        assert_eq!(get(&mut eng, c, "0", "old"), b"$-1\r\n");
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
        // A corrupted payload later: the old data stays, the flags are cleared.
        eng.disconnect(link);
        let link = reconnect(&mut eng);
        out(&mut eng, link);
        eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
        out(&mut eng, link);
        let mut bytes = sized_payload(&rdb);
        let n = bytes.len();
        bytes[n - 12] ^= 0xff;
        eng.feed(T0, link, &bytes[..n - 20]);
        assert_eq!(loading(&mut eng, c), ("0".into(), "1".into()));
        eng.feed(T0, link, &bytes[n - 20..]);
        assert_ne!(eng.server().repl.replica.state, State::Connected);
        assert_eq!(loading(&mut eng, c), ("0".into(), "0".into()));
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
    }

    #[test]
    fn swapdb_of_a_new_history_answers_loading_and_keeps_the_old_data_after_a_cut() {
        let mut cfg = Config::default();
        cfg.set("repl-diskless-load", b"swapdb").expect("valid");
        let (mut eng, c, link) = at_psync(cfg, false);
        let rdb = master_rdb();
        let bytes = sized_payload(&rdb);
        let half = bytes.len() - rdb.len() / 2;
        eng.feed(T0, link, &bytes[..half]);
        // Redis's startLoading without async: loading:1, -LOADING but for INFO & co.
        assert_eq!(loading(&mut eng, c), ("1".into(), "0".into()));
        assert_eq!(cmd(&mut eng, c, &["GET", "old"]), LOADING);
        let info = cmd(&mut eng, c, &["INFO", "persistence"]);
        let info = String::from_utf8_lossy(&info);
        assert!(info.contains("loading_total_bytes:"), "{info}");
        // The master goes away mid-transfer: the old data is back.
        eng.disconnect(link);
        assert_eq!(loading(&mut eng, c), ("0".into(), "0".into()));
        assert_eq!(get(&mut eng, c, "0", "old"), b"$1\r\nx\r\n");
        assert_eq!(get(&mut eng, c, "0", "a"), b"$-1\r\n");
    }

    #[test]
    fn on_empty_db_loads_while_receiving_into_an_empty_dataset() {
        let mut cfg = Config::default();
        cfg.set("repl-diskless-load", b"on-empty-db")
            .expect("valid");
        cfg.set("replica-read-only", b"no").expect("valid");
        let (mut eng, c) = engine(cfg);
        let own = eng.server().repl.replid.clone();
        let link = handshake(&mut eng, c, &multibulk(&["PSYNC", &own, "1"]));
        let rdb = master_rdb();
        let bytes = sized_payload(&rdb);
        // Parsed as it arrives, a few bytes at a time.
        let half = bytes.len() - rdb.len() / 2;
        for chunk in bytes[..half].chunks(3) {
            eng.feed(T0, link, chunk);
        }
        assert_eq!(loading(&mut eng, c), ("1".into(), "0".into()));
        assert_eq!(cmd(&mut eng, c, &["DBSIZE"]), LOADING);
        let loaded: u64 = info_field(&mut eng, c, "persistence", "loading_loaded_bytes")
            .parse()
            .unwrap();
        assert!(
            loaded > 9,
            "the header and the first records are parsed: {loaded}"
        );
        for chunk in bytes[half..].chunks(3) {
            eng.feed(T0, link, chunk);
        }
        assert_eq!(eng.server().repl.replica.state, State::Connected);
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
        // A failed transfer leaves the dataset empty (nothing half loaded).
        eng.disconnect(link);
        cmd(&mut eng, c, &["FLUSHALL"]);
        let link = reconnect(&mut eng);
        out(&mut eng, link);
        eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
        out(&mut eng, link);
        eng.feed(T0, link, &bytes[..half]);
        assert_eq!(cmd(&mut eng, c, &["GET", "a"]), LOADING);
        eng.disconnect(link);
        assert_eq!(cmd(&mut eng, c, &["DBSIZE"]), b":0\r\n");
    }

    #[test]
    fn disk_load_serves_the_old_data_while_receiving_then_flushes_and_loads_over_turns() {
        let mut cfg = Config::default();
        cfg.set("repl-diskless-load", b"disabled").expect("valid");
        cfg.set("loading-process-events-interval-bytes", b"1024")
            .expect("valid");
        let (mut eng, c, link) = at_psync(cfg, false);
        let host = crate::repl::master::tests::FileHost::default();
        eng.set_persist_host(Box::new(host.clone()));
        // A master with enough keys for several 1 KB steps.
        let (mut m, mc) = engine(Config::default());
        for i in 0..200 {
            cmd(&mut m, mc, &["SET", &format!("key:{i}"), &"v".repeat(40)]);
        }
        let rdb = m.export_rdb(T0);
        let bytes = sized_payload(&rdb);
        eng.feed(T0, link, &bytes[..bytes.len() - 1]);
        // Receiving: the old data answers.
        assert_eq!(loading(&mut eng, c), ("0".into(), "0".into()));
        assert_eq!(get(&mut eng, c, "0", "old"), b"$1\r\nx\r\n");
        eng.feed(T0, link, &bytes[bytes.len() - 1..]);
        // Received: the old data is gone, the load has begun; -LOADING meanwhile.
        assert_eq!(loading(&mut eng, c), ("1".into(), "0".into()));
        assert_eq!(cmd(&mut eng, c, &["GET", "old"]), LOADING);
        assert!(eng.next_deadline().is_some_and(|d| d.0 <= T0.0));
        let mut turns = 0;
        while eng.server().repl.replica.state != State::Connected {
            eng.tick(T0);
            turns += 1;
            assert!(turns < 100);
            // Read from the stored file a budget at a time: the window stays small.
            let window = eng.server().repl.replica.transfer.buf.len();
            assert!(window <= 2048, "{window} bytes in the window");
        }
        assert!(turns > 2, "loaded over {turns} turns");
        let reads = host.reads.borrow();
        assert!(
            reads.len() > 2 && reads.iter().all(|&n| n <= 1024),
            "{reads:?}"
        );
        assert_eq!(host.file.borrow().len(), rdb.len(), "stored as dbfilename");
        assert_eq!(loading(&mut eng, c), ("0".into(), "0".into()));
        assert_eq!(cmd(&mut eng, c, &["DBSIZE"]), b":200\r\n");
        assert_eq!(cmd(&mut eng, c, &["GET", "old"]), b"$-1\r\n");
    }

    /// Disk and diskless loads insert the keys as they parse them; a payload found corrupt
    /// at its end (the checksum) leaves no partial dataset behind.
    #[test]
    fn a_load_failing_at_the_checksum_leaves_the_dataset_empty() {
        let (mut m, mc) = engine(Config::default());
        for i in 0..200 {
            cmd(&mut m, mc, &["SET", &format!("key:{i}"), &"v".repeat(40)]);
        }
        let mut rdb = m.export_rdb(T0);
        let n = rdb.len();
        rdb[n - 1] ^= 0xff;
        for mode in ["disabled", "on-empty-db"] {
            let mut cfg = Config::default();
            cfg.set("repl-diskless-load", mode.as_bytes())
                .expect("valid");
            cfg.set("loading-process-events-interval-bytes", b"1024")
                .expect("valid");
            let (mut eng, c) = engine(cfg);
            let host = crate::repl::master::tests::FileHost::default();
            eng.set_persist_host(Box::new(host.clone()));
            let own = eng.server().repl.replid.clone();
            let link = handshake(&mut eng, c, &multibulk(&["PSYNC", &own, "1"]));
            eng.feed(T0, link, &sized_payload(&rdb));
            let mut turns = 0;
            while eng.server().repl.replica.state == State::Transfer {
                eng.tick(T0);
                turns += 1;
                assert!(turns < 100);
            }
            assert_ne!(eng.server().repl.replica.state, State::Connected, "{mode}");
            assert_eq!(loading(&mut eng, c), ("0".into(), "0".into()));
            assert_eq!(cmd(&mut eng, c, &["DBSIZE"]), b":0\r\n", "{mode}");
        }
    }

    #[test]
    fn rdb_del_sync_files_removes_the_stored_payload_once_loaded_without_persistence() {
        for (save, left) in [("", false), ("3600 1", true)] {
            let mut cfg = Config::default();
            cfg.set("repl-diskless-load", b"disabled").expect("valid");
            cfg.set("rdb-del-sync-files", b"yes").expect("valid");
            cfg.set("save", save.as_bytes()).expect("valid");
            let (mut eng, c) = engine(cfg);
            let host = crate::repl::master::tests::FileHost::default();
            eng.set_persist_host(Box::new(host.clone()));
            let own = eng.server().repl.replid.clone();
            let link = handshake(&mut eng, c, &multibulk(&["PSYNC", &own, "1"]));
            eng.feed(T0, link, &sized_payload(&master_rdb()));
            assert_eq!(eng.server().repl.replica.state, State::Connected);
            assert_eq!(!host.file.borrow().is_empty(), left, "save '{save}'");
        }
    }

    /// Disk mode with a host that keeps files: the payload goes to the temp file as it
    /// arrives (the engine holds no more than the last 40 bytes of it), is renamed to
    /// dbfilename when complete and loaded from there a window at a time; a cut transfer
    /// deletes its temp file. Both payload forms: `$<len>` and `$EOF:<mark>`.
    #[test]
    fn a_disk_sync_writes_the_payload_as_it_arrives_and_loads_the_stored_file() {
        let rdb = master_rdb();
        let mark = "m".repeat(40);
        let sized = sized_payload(&rdb);
        let mut marked = format!("+FULLRESYNC {MASTER_ID} 100\r\n$EOF:{mark}\r\n").into_bytes();
        marked.extend_from_slice(&rdb);
        marked.extend_from_slice(mark.as_bytes());
        for (bytes, tail) in [(sized, 0), (marked, 40)] {
            let mut cfg = Config::default();
            cfg.set("repl-diskless-load", b"disabled").expect("valid");
            cfg.set("loading-process-events-interval-bytes", b"1024")
                .expect("valid");
            let (mut eng, c, link) = at_psync(cfg, false);
            let host = crate::repl::master::tests::FileHost::default();
            eng.set_persist_host(Box::new(host.clone()));
            // The +FULLRESYNC and `$` lines.
            let head = bytes.len() - rdb.len() - tail;
            // A cut mid-transfer: the temp file goes, the old data stays.
            eng.feed(T0, link, &bytes[..head + 10]);
            assert!(host.tmp.borrow().is_some());
            eng.disconnect(link);
            assert!(host.tmp.borrow().is_none());
            assert_eq!(get(&mut eng, c, "0", "old"), b"$1\r\nx\r\n");
            let link = reconnect(&mut eng);
            out(&mut eng, link);
            eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
            out(&mut eng, link);
            host.writes.borrow_mut().clear();
            // Three bytes at a time: each piece reaches the temp file before the next.
            let mut fed = 0;
            for piece in bytes.chunks(3) {
                eng.feed(T0, link, piece);
                fed += piece.len();
                let held = eng.server().repl.replica.transfer.buf.len();
                assert!(held <= 43, "{held} bytes held");
                if fed > head + 43 && fed < bytes.len() {
                    let tmp = host.tmp.borrow();
                    let n = tmp.as_ref().expect("temp file").len();
                    assert_eq!(n + held, fed - head, "written and held: all received");
                }
            }
            assert_eq!(eng.server().repl.replica.state, State::Connected);
            assert!(host.tmp.borrow().is_none());
            assert_eq!(
                *host.file.borrow(),
                rdb,
                "dbfilename holds the payload alone"
            );
            assert!(host.writes.borrow().iter().all(|&n| n <= 3));
            assert_eq!(host.open.get(), 0, "the stored file is closed once loaded");
            assert_eq!(get(&mut eng, c, "0", "old"), b"$-1\r\n");
            assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
            assert_eq!(
                get(&mut eng, c, "3", "h"),
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            );
        }
    }

    #[test]
    fn diskless_form_acks_at_once_and_multi_counts_at_exec() {
        let mut cfg = Config::default();
        cfg.set("replicaof", b"127.0.0.1 6379").expect("valid");
        let (mut eng, c) = engine(cfg);
        assert!(eng.server().repl.replica.is_replica());
        // The cron connects; a fresh replica has no history: PSYNC ? -1.
        eng.tick(UnixMillis(T0.0 + 1000));
        let link = reconnect(&mut eng);
        assert_eq!(out(&mut eng, link), b"*1\r\n$4\r\nPING\r\n");
        eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
        let o = out(&mut eng, link);
        assert!(o.ends_with(&multibulk(&["PSYNC", "?", "-1"])));
        let mark = "f".repeat(40);
        let rdb = master_rdb();
        eng.feed(T0, link, b"\n"); // keepalive while the master prepares
        let mut bytes = format!("+FULLRESYNC {MASTER_ID} 0\r\n\n$EOF:{mark}\r\n").into_bytes();
        bytes.extend_from_slice(&rdb);
        bytes.extend_from_slice(mark.as_bytes());
        eng.feed(T0, link, &bytes);
        assert_eq!(out(&mut eng, link), multibulk(&["REPLCONF", "ACK", "0"]));
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
        // MULTI ... EXEC: the offset moves when EXEC has run.
        let multi = multibulk(&["MULTI"]);
        let incr = multibulk(&["INCR", "a"]);
        let exec = multibulk(&["EXEC"]);
        eng.feed(T0, link, &[multi.clone(), incr.clone()].concat());
        assert_eq!(eng.server().repl.replica.reploff, 0);
        assert_eq!(
            eng.server().repl.replica.read_reploff,
            (multi.len() + incr.len()) as i64
        );
        eng.feed(T0, link, &exec);
        assert_eq!(out(&mut eng, link), b"");
        let total = (multi.len() + incr.len() + exec.len()) as i64;
        assert_eq!(eng.server().repl.replica.reploff, total);
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n2\r\n");
    }

    fn synced() -> (Engine, ClientHandle, ClientHandle) {
        let (mut eng, c) = engine(Config::default());
        let own = eng.server().repl.replid.clone();
        let link = handshake(&mut eng, c, &multibulk(&["PSYNC", &own, "1"]));
        let rdb = master_rdb();
        let mut bytes = format!("+FULLRESYNC {MASTER_ID} 10\r\n${}\r\n", rdb.len()).into_bytes();
        bytes.extend_from_slice(&rdb);
        eng.feed(T0, link, &bytes);
        (eng, c, link)
    }

    #[test]
    fn continue_after_a_cut_keeps_the_offset_and_the_db() {
        let (mut eng, c, link) = synced();
        let sel = multibulk(&["SELECT", "3"]);
        let set = multibulk(&["SET", "k", "v"]);
        eng.feed(T0, link, &[sel.clone(), set.clone()].concat());
        let off = 10 + (sel.len() + set.len()) as i64;
        // A MULTI cut in the middle is not counted: it comes again.
        eng.feed(T0, link, &multibulk(&["MULTI"]));
        // The master goes away: the host closes the link.
        eng.disconnect(link);
        assert_eq!(eng.server().repl.replica.state, State::Connecting);
        let attempt = connect_event(&mut eng);
        let info = cmd(&mut eng, c, &["INFO", "replication"]);
        let info = String::from_utf8_lossy(&info);
        assert!(info.contains("master_link_status:down\r\n"), "{info}");
        assert!(
            info.contains("master_link_down_since_seconds:0\r\n"),
            "{info}"
        );
        assert!(info.contains("master_last_io_seconds_ago:-1\r\n"), "{info}");
        let link = eng
            .master_link_connected(T0, attempt, ConnInfo::default())
            .expect("wanted");
        out(&mut eng, link);
        eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
        let o = out(&mut eng, link);
        let off1 = (off + 1).to_string();
        assert!(o.ends_with(&multibulk(&["PSYNC", MASTER_ID, &off1])));
        // +CONTINUE, then the stream in the database it had selected.
        eng.feed(T0, link, b"+CONTINUE\r\n");
        eng.feed(T0, link, &multibulk(&["SET", "k2", "v2"]));
        assert_eq!(get(&mut eng, c, "3", "k2"), b"$2\r\nv2\r\n");
        let mut w = Vec::new();
        role_reply(
            eng.server(),
            &mut crate::resp::ReplyWriter::new(&mut w, false),
        );
        let want_off = off + multibulk(&["SET", "k2", "v2"]).len() as i64;
        let want = format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:{want_off}\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&w), want);
        // +CONTINUE with a new ID: the old one becomes replid2.
        eng.disconnect(link);
        let link = reconnect(&mut eng);
        eng.feed(T0, link, b"+PONG\r\n+OK\r\n+OK\r\n");
        let new_id = "9".repeat(40);
        eng.feed(T0, link, format!("+CONTINUE {new_id}\r\n").as_bytes());
        let r = &eng.server().repl;
        assert_eq!(
            (r.replid.as_str(), r.replid2.as_str()),
            (new_id.as_str(), MASTER_ID)
        );
        assert_eq!(r.second_replid_offset, want_off + 1);
    }

    #[test]
    fn readonly_and_masterdown() {
        let (mut eng, c, link) = synced();
        assert_eq!(
            cmd(&mut eng, c, &["SET", "x", "1"]),
            b"-READONLY You can't write against a read only replica.\r\n"
        );
        assert_eq!(cmd(&mut eng, c, &["GET", "a"]), b"$1\r\n1\r\n");
        cmd(
            &mut eng,
            c,
            &["CONFIG", "SET", "replica-serve-stale-data", "no"],
        );
        assert_eq!(cmd(&mut eng, c, &["GET", "a"]), b"$1\r\n1\r\n");
        eng.disconnect(link);
        assert_eq!(
            cmd(&mut eng, c, &["GET", "a"]),
            b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
        );
        // PING is not flagged `stale` in 7.0; CONFIG GET is.
        assert!(cmd(&mut eng, c, &["PING"]).starts_with(b"-MASTERDOWN"));
        assert!(cmd(&mut eng, c, &["CONFIG", "GET", "port"]).starts_with(b"*2"));
        cmd(&mut eng, c, &["CONFIG", "SET", "replica-read-only", "no"]);
        cmd(
            &mut eng,
            c,
            &["CONFIG", "SET", "replica-serve-stale-data", "yes"],
        );
        assert_eq!(cmd(&mut eng, c, &["SET", "x", "1"]), b"+OK\r\n");
        // Promotion: writes accepted, the master's ID kept as replid2.
        cmd(&mut eng, c, &["CONFIG", "SET", "replica-read-only", "yes"]);
        assert_eq!(cmd(&mut eng, c, &["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
        assert_eq!(cmd(&mut eng, c, &["SET", "y", "1"]), b"+OK\r\n");
        let r = &eng.server().repl;
        assert_eq!(r.replid2, MASTER_ID);
        assert_eq!(r.second_replid_offset, 11);
        assert!(!r.replica.is_replica());
    }

    #[test]
    fn replicaof_replies() {
        let (mut eng, c, _link) = synced();
        assert_eq!(
            cmd(&mut eng, c, &["REPLICAOF", "127.0.0.1", "6379"]),
            b"+OK Already connected to specified master\r\n"
        );
        assert_eq!(
            cmd(&mut eng, c, &["REPLICAOF", "127.0.0.1", "65536"]),
            b"-ERR Invalid master port\r\n"
        );
        assert_eq!(
            cmd(&mut eng, c, &["SLAVEOF", "127.0.0.1", "x"]),
            b"-ERR Invalid master port\r\n"
        );
        assert_eq!(
            cmd(&mut eng, c, &["CONFIG", "GET", "replicaof"]),
            b"*2\r\n$9\r\nreplicaof\r\n$14\r\n127.0.0.1 6379\r\n"
        );
        cmd(&mut eng, c, &["REPLICAOF", "NO", "ONE"]);
        assert_eq!(
            cmd(&mut eng, c, &["CONFIG", "GET", "replicaof"]),
            b"*2\r\n$9\r\nreplicaof\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn errors_in_the_handshake_retry_and_stale_connects_are_refused() {
        let (mut eng, c) = engine(Config::default());
        assert_eq!(
            cmd(&mut eng, c, &["REPLICAOF", "127.0.0.1", "6379"]),
            b"+OK\r\n"
        );
        let attempt = connect_event(&mut eng);
        eng.master_link_failed(T0, attempt);
        assert_eq!(eng.server().repl.replica.state, State::Connect);
        assert!(eng
            .master_link_connected(T0, attempt, ConnInfo::default())
            .is_none());
        eng.tick(UnixMillis(T0.0 + 1000));
        let link = reconnect(&mut eng);
        eng.feed(
            T0,
            link,
            b"+PONG\r\n+OK\r\n+OK\r\n-LOADING Redis is loading\r\n",
        );
        assert!(eng.should_close(link));
        assert_eq!(eng.server().repl.replica.state, State::Connect);
    }

    #[test]
    fn expiry_is_left_to_the_master() {
        let (mut eng, c, link) = synced();
        let at = (T0.0 + 10).to_string();
        eng.feed(T0, link, &multibulk(&["SET", "t", "v"]));
        eng.feed(T0, link, &multibulk(&["PEXPIREAT", "t", &at]));
        let later = UnixMillis(T0.0 + 100);
        let at_later = |eng: &mut Engine, args: &[&str]| {
            let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
            eng.feed(later, c, &encode_request(&a));
            out(eng, c)
        };
        // Reads see it gone (lookupKey on a replica), but it stays: DBSIZE counts it and
        // neither the tick nor the read deletes it.
        assert_eq!(at_later(&mut eng, &["GET", "t"]), b"$-1\r\n");
        assert_eq!(at_later(&mut eng, &["EXISTS", "t"]), b":0\r\n");
        eng.tick(later);
        eng.tick(UnixMillis(later.0 + 1000));
        assert_eq!(at_later(&mut eng, &["DBSIZE"]), b":3\r\n");
        // The master's commands still see it; its DEL removes it.
        eng.feed(later, link, &multibulk(&["APPEND", "t", "w"]));
        eng.feed(later, link, &multibulk(&["PERSIST", "t"]));
        assert_eq!(at_later(&mut eng, &["GET", "t"]), b"$2\r\nvw\r\n");
        eng.feed(later, link, &multibulk(&["DEL", "t"]));
        assert_eq!(at_later(&mut eng, &["DBSIZE"]), b":2\r\n");
        // Promoted, it expires keys again.
        eng.feed(later, link, &multibulk(&["SET", "u", "v", "PXAT", &at]));
        assert_eq!(at_later(&mut eng, &["DBSIZE"]), b":3\r\n");
        assert_eq!(at_later(&mut eng, &["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
        assert_eq!(at_later(&mut eng, &["GET", "u"]), b"$-1\r\n");
        assert_eq!(at_later(&mut eng, &["DBSIZE"]), b":2\r\n");
    }

    #[test]
    fn the_master_client_in_client_list_and_kill() {
        let (mut eng, c, link) = synced();
        let list = cmd(&mut eng, c, &["CLIENT", "LIST", "TYPE", "master"]);
        let list = String::from_utf8_lossy(&list);
        assert!(list.contains(" flags=M "), "{list}");
        let hello = cmd(&mut eng, c, &["HELLO", "3"]);
        assert!(hello.windows(7).any(|w| w == b"replica"));
        cmd(&mut eng, c, &["HELLO", "2"]);
        assert_eq!(
            cmd(&mut eng, c, &["CLIENT", "KILL", "TYPE", "master"]),
            b":1\r\n"
        );
        assert!(eng.should_close(link));
        // The host closes it: the master is cached and a new connection asked for.
        eng.disconnect(link);
        connect_event(&mut eng);
        assert_eq!(
            eng.server().repl.replica.cached.as_ref().map(|m| m.reploff),
            Some(10)
        );
    }

    #[test]
    fn masterauth_and_the_sync_fallback() {
        let mut cfg = Config::default();
        cfg.set("masterauth", b"secret").expect("valid");
        cfg.set("masteruser", b"repl").expect("valid");
        cfg.set("replica-announce-ip", b"10.0.0.1").expect("valid");
        let (mut eng, c) = engine(cfg);
        cmd(&mut eng, c, &["REPLICAOF", "127.0.0.1", "6379"]);
        let link = reconnect(&mut eng);
        out(&mut eng, link);
        eng.feed(T0, link, b"-NOAUTH Authentication required.\r\n");
        let mut want = multibulk(&["AUTH", "repl", "secret"]);
        want.extend(multibulk(&["REPLCONF", "listening-port", "6380"]));
        want.extend(multibulk(&["REPLCONF", "ip-address", "10.0.0.1"]));
        want.extend(multibulk(&["REPLCONF", "capa", "eof", "capa", "psync2"]));
        assert_eq!(out(&mut eng, link), want);
        eng.feed(T0, link, b"+OK\r\n+OK\r\n-ERR unknown option\r\n+OK\r\n");
        let own = eng.server().repl.replid.clone();
        assert_eq!(out(&mut eng, link), multibulk(&["PSYNC", &own, "1"]));
        // An old master: SYNC, then the payload; its stream has no offset (-1).
        eng.feed(T0, link, b"-ERR unknown command 'PSYNC'\r\n");
        assert_eq!(out(&mut eng, link), b"SYNC\r\n");
        let rdb = master_rdb();
        let mut bytes = format!("${}\r\n", rdb.len()).into_bytes();
        bytes.extend_from_slice(&rdb);
        eng.feed(T0, link, &bytes);
        assert_eq!(eng.server().repl.replica.state, State::Connected);
        assert_eq!(get(&mut eng, c, "0", "a"), b"$1\r\n1\r\n");
        // A bad AUTH fails the handshake.
        eng.disconnect(link);
        let link = reconnect(&mut eng);
        eng.feed(
            T0,
            link,
            b"+PONG\r\n-WRONGPASS invalid username-password pair\r\n",
        );
        assert!(eng.should_close(link));
        assert_eq!(eng.server().repl.replica.state, State::Connect);
    }

    #[test]
    fn info_replication_on_a_replica_whose_master_is_down() {
        // Recorded from redis-server 7.0.15 after `REPLICAOF 127.0.0.1 1` (nothing listens).
        let (mut eng, c) = engine(Config::default());
        cmd(&mut eng, c, &["REPLICAOF", "127.0.0.1", "1"]);
        let info = cmd(&mut eng, c, &["INFO", "replication"]);
        let info = String::from_utf8_lossy(&info);
        let want = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:1\r\n\
            master_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\n\
            master_sync_in_progress:0\r\nslave_read_repl_offset:0\r\nslave_repl_offset:0\r\n\
            master_link_down_since_seconds:-1\r\nslave_priority:100\r\nslave_read_only:1\r\n\
            replica_announced:1\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n";
        assert!(info.contains(want), "{info}");
        let mut w = Vec::new();
        role_reply(
            eng.server(),
            &mut crate::resp::ReplyWriter::new(&mut w, false),
        );
        assert_eq!(
            w,
            b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$10\r\nconnecting\r\n:-1\r\n"
        );
    }

    #[test]
    fn repl_timeout_drops_a_silent_master_and_reconnects() {
        let mut cfg = Config::default();
        cfg.set("repl-timeout", b"5").expect("valid");
        let (mut eng, _c) = engine(cfg);
        let own = eng.server().repl.replid.clone();
        let link = handshake(&mut eng, _c, &multibulk(&["PSYNC", &own, "1"]));
        // Silent during the handshake: after repl-timeout, a new connection.
        eng.tick(UnixMillis(T0.0 + 4000));
        assert!(!eng.should_close(link));
        eng.tick(UnixMillis(T0.0 + 6000));
        assert!(eng.should_close(link));
        let attempt = connect_event(&mut eng);
        let now = UnixMillis(T0.0 + 6000);
        let link = eng
            .master_link_connected(now, attempt, ConnInfo::default())
            .expect("wanted");
        eng.feed(now, link, b"+PONG\r\n+OK\r\n+OK\r\n");
        let rdb = master_rdb();
        let mut bytes = format!("+FULLRESYNC {MASTER_ID} 0\r\n${}\r\n", rdb.len()).into_bytes();
        bytes.extend_from_slice(&rdb);
        eng.feed(now, link, &bytes);
        assert_eq!(eng.server().repl.replica.state, State::Connected);
        // Connected, the master's PINGs keep it alive; silence past repl-timeout drops it
        // (cached for a partial resync).
        eng.feed(UnixMillis(now.0 + 4000), link, b"*1\r\n$4\r\nPING\r\n");
        eng.tick(UnixMillis(now.0 + 8000));
        assert!(!eng.should_close(link));
        eng.tick(UnixMillis(now.0 + 9500));
        assert!(eng.should_close(link));
        assert_eq!(
            eng.server().repl.replica.cached,
            Some(Cached {
                replid: MASTER_ID.into(),
                reploff: 14,
                db: 0
            })
        );
        connect_event(&mut eng);
    }
}
