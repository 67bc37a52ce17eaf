//! The master side of replication: replicas attached by SYNC/PSYNC (REPLCONF options, their
//! state and acknowledged offsets), the circular replication backlog, the command stream
//! they are fed (the effects propagation the AOF uses, with its own SELECT tracking), full and
//! partial resynchronisation, WAIT and min-replicas-to-write.
//!
//! How the pieces move (Redis 7.0's replication.c):
//! - A client becomes a replica with SYNC or PSYNC (`sync_command`). PSYNC whose replid and
//!   offset the backlog covers gets `+CONTINUE <replid>` and the backlog's tail; anything else
//!   a full resync: `+FULLRESYNC <replid> <offset>`, then the RDB (from the host's fork, or
//!   encoded in-process by a host without one), then the stream accumulated meanwhile.
//! - Every command's effects (`rdb::persist::Persist`'s replication stream, with SELECT as
//!   needed) are moved after each command by [`flush`] into [`feed_stream`]: the backlog,
//!   `master_repl_offset`, and each replica's output (online) or pending buffer (syncing).
//! - The cron ([`cron`], once a second from the engine's tick) pings replicas every
//!   repl-ping-replica-period, sends newlines to replicas waiting for their RDB, drops timed
//!   out replicas, frees the backlog after repl-backlog-ttl without replicas and starts the
//!   RDB for replicas waiting (repl-diskless-sync-delay).
//!
//! For the replica side (chained replication): [`feed_stream`] takes the master's stream bytes
//! verbatim into this node's backlog and sub-replicas (Redis's
//! replicationFeedStreamFromMasterStream), [`create_backlog`] makes the backlog, and
//! [`sync_propagation`] must be called when the role changes (a replica proxies its master's
//! stream instead of propagating its own commands).

use crate::engine::{Client, ClientHandle, Event, Server};
use crate::resp::{append_request, ReplyWriter};
use crate::time::UnixMillis;
use std::collections::VecDeque;

/// A replica's state (Redis's SLAVE_STATE_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaveState {
    /// Waiting for the RDB to start (repl-diskless-sync-delay, or another one running).
    WaitBgsaveStart,
    /// +FULLRESYNC sent; the RDB is being produced; the stream accumulates.
    WaitBgsaveEnd,
    /// Streaming.
    Online,
    /// An rdb-only replica got its RDB: closed once it is sent (SLAVE_STATE_RDB_TRANSMITTED,
    /// not listed in INFO's slaveN lines).
    RdbTransmitted,
    /// A disk-based sync sends the RDB file a chunk at a time as the host takes the output
    /// (SLAVE_STATE_SEND_BULK); the stream accumulates meanwhile.
    SendBulk,
}

impl SlaveState {
    fn name(self) -> &'static str {
        match self {
            SlaveState::WaitBgsaveStart | SlaveState::WaitBgsaveEnd => "wait_bgsave",
            SlaveState::Online => "online",
            SlaveState::RdbTransmitted => "rdb_transmitted",
            SlaveState::SendBulk => "send_bulk",
        }
    }
}

/// What the master keeps per client that sent REPLCONF or SYNC/PSYNC (Redis's slave_* fields
/// of the client).
#[derive(Debug)]
pub struct Slave {
    /// REPLCONF listening-port.
    pub listening_port: i64,
    /// REPLCONF ip-address.
    pub ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// REPLCONF rdb-only 1 (CLIENT_REPL_RDBONLY): the RDB without the stream, then closed.
    pub rdb_only: bool,
    /// REPLCONF rdb-filter-only (slave_req): `REQ_EXCLUDE_DATA` / `REQ_EXCLUDE_FUNCTIONS`.
    pub req: u8,
    /// CLIENT_SLAVE: it sent SYNC/PSYNC and is in the replica list.
    pub attached: bool,
    pub state: SlaveState,
    /// REPLCONF ACK's offset (repl_ack_off) and when it came (repl_ack_time, ms).
    pub ack_off: i64,
    pub ack_time: u64,
    /// The offset of its RDB (psync_initial_offset).
    pub initial_offset: i64,
    /// It used SYNC (no +FULLRESYNC line).
    pub pre_psync: bool,
    /// The stream accumulated while its RDB is produced or until its first ACK after a
    /// diskless transfer (repl_start_cmd_stream_on_ack).
    pub pending: Vec<u8>,
    pub start_stream_on_ack: bool,
    /// When it started waiting for an RDB (for repl-diskless-sync-delay).
    pub wait_since: u64,
    /// Bytes queued to its output in total, and that total at the end of its RDB: the RDB
    /// does not count against the output buffer limit (Redis sends it outside the buffer).
    pub queued: u64,
    pub rdb_end: u64,
    /// The RDB file being sent (SendBulk): the host's handle, the next offset, the size.
    pub bulk: Option<Bulk>,
}

/// A disk-based sync's file for one replica (Redis's repldbfd, repldboff, repldbsize).
#[derive(Debug, Clone, Copy)]
pub struct Bulk {
    pub handle: u64,
    pub off: u64,
    pub size: u64,
}

/// PROTO_IOBUF_LEN: what sendBulkToSlave reads and writes at a time.
pub const BULK_CHUNK: usize = 16 * 1024;

impl Slave {
    fn new() -> Slave {
        Slave {
            listening_port: 0,
            ip: None,
            capa_eof: false,
            capa_psync2: false,
            rdb_only: false,
            req: 0,
            attached: false,
            state: SlaveState::WaitBgsaveStart,
            ack_off: 0,
            ack_time: 0,
            initial_offset: 0,
            pre_psync: false,
            pending: Vec::new(),
            start_stream_on_ack: false,
            wait_since: 0,
            queued: 0,
            rdb_end: 0,
            bulk: None,
        }
    }
}

/// slave_req's bits (SLAVE_REQ_RDB_EXCLUDE_DATA / _FUNCTIONS).
pub const REQ_EXCLUDE_DATA: u8 = 1;
pub const REQ_EXCLUDE_FUNCTIONS: u8 = 2;

/// The circular backlog: the last `size` bytes of the stream.
#[derive(Debug, Default)]
pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
}

impl Backlog {
    fn push(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.size {
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.size..]);
            return;
        }
        let over = (self.buf.len() + bytes.len()).saturating_sub(self.size);
        self.buf.drain(..over);
        self.buf.extend(bytes);
    }

    fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        let over = self.buf.len().saturating_sub(self.size);
        self.buf.drain(..over);
    }

    pub fn histlen(&self) -> usize {
        self.buf.len()
    }
}

/// A shutdown waiting for the replicas to ack the master's offset.
#[derive(Clone, Copy, Debug)]
pub struct PendingShutdown {
    /// Absolute ms: shut down anyway then (shutdown-timeout).
    pub deadline: u64,
    /// SHUTDOWN's flags (persistence::SHUTDOWN_*).
    pub flags: u8,
}

/// The master-side state (Redis's server.slaves, repl_backlog, slaveseldb, ...).
#[derive(Default)]
pub struct MasterSide {
    /// Slots of the clients that are replicas (CLIENT_SLAVE), in the order they attached.
    pub replicas: Vec<usize>,
    pub backlog: Option<Backlog>,
    /// When the last replica went (repl_no_slaves_since, ms).
    pub no_slaves_since: u64,
    /// A replication RDB is being produced by the host; its target is a socket (EOF form).
    pub rdb_in_progress: bool,
    /// The dbfilename on disk was written to feed replicas (RDBGeneratedByReplication):
    /// rdb-del-sync-files deletes it once they have it, on a node without persistence.
    pub rdb_generated_by_replication: bool,
    /// buffer_memory's figures (total, backlog, replicas) as of the last before-sleep.
    pub buffer_mem: (u64, u64, u64),
    pub rdb_socket: bool,
    /// Replicas whose lag is within min-replicas-max-lag (repl_good_slaves_count).
    pub good_slaves: usize,
    /// Cron bookkeeping: the last run (ms) and the number of runs.
    last_cron: u64,
    cron_loops: u64,
    /// WAIT asked for acks this turn (get_ack_from_slaves).
    pub get_ack: bool,
    /// Clients blocked in WAIT (their slots; stale entries are dropped when seen).
    pub waiting: Vec<usize>,
    /// A SHUTDOWN (or SIGTERM) waiting for lagging replicas (Redis's shutdown_mstime != 0):
    /// writes are paused meanwhile.
    pub shutdown: Option<PendingShutdown>,
    /// Clients blocked in SHUTDOWN (BLOCKED_SHUTDOWN).
    pub shutdown_blocked: Vec<usize>,
    /// Bytes sent to replicas (stat_net_repl_output_bytes; not in total_net_output_bytes).
    pub net_repl_output_bytes: u64,
    /// INFO stats.
    pub stat_sync_full: u64,
    pub stat_sync_partial_ok: u64,
    pub stat_sync_partial_err: u64,
}

// ---------------------------------------------------------------- the stream

/// Turns the replication stream on while there is a backlog on a top-level master (Redis's
/// replicationFeedSlaves returns at once otherwise; a replica proxies its master's stream
/// through [`feed_stream`] instead). Call after the backlog or the role changes.
pub fn sync_propagation(srv: &mut Server) {
    let on = srv.repl.master.backlog.is_some() && !srv.repl.replica.is_replica();
    srv.persist.set_repl_propagate(on);
    crate::command::tx::sync_expiry_logging(srv);
}

/// Redis's createReplicationBacklog: an empty backlog whose first byte is the next offset.
pub fn create_backlog(srv: &mut Server) {
    srv.repl.master.backlog = Some(Backlog {
        buf: VecDeque::new(),
        size: srv.config.repl_backlog_size.max(1) as usize,
    });
    sync_propagation(srv);
}

/// Redis's freeReplicationBacklog.
pub fn free_backlog(srv: &mut Server) {
    srv.repl.master.backlog = None;
    sync_propagation(srv);
}

/// CONFIG SET repl-backlog-size: the backlog keeps its newest bytes.
pub fn resize_backlog(srv: &mut Server) {
    let size = srv.config.repl_backlog_size.max(1) as usize;
    if let Some(b) = &mut srv.repl.master.backlog {
        if b.size != size {
            b.resize(size);
        }
    }
}

/// Bytes of replication buffers that maxmemory does not count (freeMemoryGetNotCountedMemory:
/// the backlog while replicas are attached).
pub fn not_counted_for_evict(srv: &Server, repl_buffer_mem: u64) -> u64 {
    // freeMemoryGetNotCountedMemory: only what exceeds the backlog's size and its blocks'
    // approximate headers (sizeof(replBufBlock) + sizeof(listNode) = 64 per 16 KB block).
    let size = srv.config.repl_backlog_size;
    if repl_buffer_mem <= size {
        return 0;
    }
    let counted = size + (size / REPL_BLOCK + 1) * 64;
    repl_buffer_mem.saturating_sub(counted)
}

/// Appends stream bytes to the backlog (moving `master_repl_offset`) and to every replica:
/// an online one's output, a syncing one's pending buffer. Nothing without a backlog (no
/// replica was ever attached). This is also the entry for a replica proxying its master's
/// stream to its own sub-replicas.
pub fn feed_stream(srv: &mut Server, clients: &mut slab::Slab<Client>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let Some(backlog) = &mut srv.repl.master.backlog else {
        return;
    };
    backlog.push(bytes);
    srv.repl.master_repl_offset += bytes.len() as i64;
    // Each replica whose output grew is checked against `client-output-buffer-limit
    // replica` at once (Redis checks as each reply is queued), in the same pass.
    let now = UnixMillis(srv.last_tick_ms());
    let Server {
        repl,
        config,
        events,
        ..
    } = srv;
    for &slot in &repl.master.replicas {
        let Some(c) = clients.get_mut(slot) else {
            continue;
        };
        let Some(s) = c.slave.as_deref_mut() else {
            continue;
        };
        // canFeedReplicaReplBuffer: not those that only want the RDB.
        if s.rdb_only {
            continue;
        }
        match s.state {
            SlaveState::WaitBgsaveStart | SlaveState::RdbTransmitted => continue,
            SlaveState::WaitBgsaveEnd | SlaveState::SendBulk => s.pending.extend_from_slice(bytes),
            SlaveState::Online => {
                if s.start_stream_on_ack {
                    s.pending.extend_from_slice(bytes);
                } else {
                    s.queued += bytes.len() as u64;
                    if c.out.is_empty() {
                        events.push_back(Event::Output(ClientHandle(slot)));
                    }
                    c.out.extend_from_slice(bytes);
                }
            }
        }
        crate::command::pubsub::output_limit(now, config, events, c, slot);
    }
}

/// Moves the effects propagated since the last call into the stream. Dispatch calls it
/// after every command (so WAIT knows the offset of a client's last write), the engine
/// after each feed and tick.
#[inline]
pub fn flush(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    // Inlined for this test: most requests (reads) leave nothing to send.
    if !srv.persist.repl_stream.is_empty() {
        flush_stream(srv, clients);
    }
}

/// `flush` with something in the stream.
#[inline(never)]
fn flush_stream(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let bytes = std::mem::take(&mut srv.persist.repl_stream);
    feed_stream(srv, clients, &bytes);
    let mut bytes = bytes;
    bytes.clear();
    if bytes.capacity() <= crate::engine::KEEP_BUFFER {
        srv.persist.repl_stream = bytes;
    }
}

/// Sends one command to the replicas outside any database (PING, REPLCONF GETACK): Redis
/// feeds them with dictid = slaveseldb, so no SELECT.
fn feed_command(srv: &mut Server, clients: &mut slab::Slab<Client>, args: &[&[u8]]) {
    flush(srv, clients);
    let mut buf = Vec::new();
    append_request(&mut buf, args);
    feed_stream(srv, clients, &buf);
}

/// After a top-level command: remember the offset its effects reached (c->woff, for WAIT).
#[inline]
pub fn after_command(srv: &mut Server, clients: &mut slab::Slab<Client>, id: ClientHandle) {
    flush(srv, clients);
    if let Some(c) = clients.get_mut(id.0) {
        c.woff = srv.repl.master_repl_offset;
    }
}

/// The end of an engine turn (Redis's beforeSleep): the stream of anything that ran outside
/// a command, and REPLCONF GETACK if WAIT asked for acks.
pub fn before_sleep(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    flush(srv, clients);
    if srv.repl.master.get_ack {
        srv.repl.master.get_ack = false;
        feed_command(srv, clients, &[b"REPLCONF", b"GETACK", b"*"]);
    }
    // Eviction's and INFO's view of the replication buffer (Redis keeps repl_buffer_mem
    // as it goes).
    srv.repl.master.buffer_mem = buffer_memory(srv, clients);
}

// ---------------------------------------------------------------- replicas come and go

fn slave_mut(c: &mut Client) -> &mut Slave {
    c.slave.get_or_insert_with(|| Box::new(Slave::new()))
}

/// A client that is going away: out of the replica list (and the backlog's TTL starts when
/// it was the last one).
pub fn forget_client(srv: &mut Server, clients: &slab::Slab<Client>, slot: usize, now: u64) {
    let bulk = clients
        .get(slot)
        .and_then(|c| c.slave.as_ref())
        .and_then(|s| s.bulk);
    if let (Some(b), Some(h)) = (bulk, srv.persist.host.as_mut()) {
        h.close_sync_rdb(b.handle);
    }
    let was = clients
        .get(slot)
        .and_then(|c| c.slave.as_ref())
        .is_some_and(|s| s.attached);
    if !was {
        return;
    }
    srv.repl.master.replicas.retain(|&s| s != slot);
    if srv.repl.master.replicas.is_empty() {
        srv.repl.master.no_slaves_since = now;
    }
    srv.repl.master.waiting.retain(|&s| s != slot);
}

/// Redis's disconnectSlaves: every replica is closed (a replica that full-syncs from a new
/// master: its sub-replicas must resync too).
pub fn disconnect_replicas(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    for &slot in &srv.repl.master.replicas {
        if let Some(c) = clients.get_mut(slot) {
            if !c.close_asap {
                c.close_asap = true;
                srv.events.push_back(Event::Close(ClientHandle(slot)));
            }
        }
    }
}

/// CLIENT LIST's S flag and the client classes: a replica (CLIENT_SLAVE).
pub fn is_replica(c: &Client) -> bool {
    c.slave.as_ref().is_some_and(|s| s.attached)
}

/// A block of Redis's shared replication buffer: PROTO_REPLY_CHUNK_BYTES of payload and the
/// replBufBlock header (refcount, id, repl_offset, size, used).
const REPL_BLOCK: u64 = 16 * 1024;
const REPL_BLOCK_MEM: u64 = REPL_BLOCK + 40;

/// The replication buffer's memory as Redis 7.0's getMemoryOverheadData reads it:
/// (repl_buffer_mem, the backlog's part, the replicas' part). Redis keeps one buffer of 16 KB
/// blocks shared by the backlog and the replicas: it spans the backlog's history or, when
/// a replica lags further, that replica's unsent stream; what exceeds repl-backlog-size while
/// replicas are attached counts as theirs (mem_clients_slaves). Here the backlog and each
/// replica's output are separate copies: the same figures are computed from their sizes.
pub fn buffer_memory(srv: &Server, clients: &slab::Slab<Client>) -> (u64, u64, u64) {
    let Some(b) = &srv.repl.master.backlog else {
        return (0, 0, 0);
    };
    let mut span = b.histlen() as u64;
    for &slot in &srv.repl.master.replicas {
        if let Some(c) = clients.get(slot) {
            if c.slave.as_ref().is_some_and(|s| !s.rdb_only) {
                span = span.max(obuf_used(c));
            }
        }
    }
    let mem = span.div_ceil(REPL_BLOCK) * REPL_BLOCK_MEM;
    let size = srv.config.repl_backlog_size;
    if !srv.repl.master.replicas.is_empty() && mem > size {
        (mem, size, mem - size)
    } else {
        (mem, mem, 0)
    }
}

/// The output that counts against `client-output-buffer-limit replica`: what is unsent, less
/// what is left of the RDB.
pub fn obuf_used(c: &Client) -> u64 {
    let unsent = c.out.len().saturating_add(c.host_pending) as u64;
    let Some(s) = c.slave.as_ref() else {
        return unsent;
    };
    let sent = s.queued.saturating_sub(unsent);
    let rdb_left = s.rdb_end.saturating_sub(sent);
    unsent.saturating_sub(rdb_left) + s.pending.len() as u64
}

// ---------------------------------------------------------------- REPLCONF

/// REPLCONF option value [option value ...]: the replica's handshake and acks.
pub fn replconf(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    now: UnixMillis,
    args: &[&[u8]],
) -> Result<bool, Vec<u8>> {
    use crate::command::is;
    if args.len().is_multiple_of(2) {
        return Err(b"ERR syntax error".to_vec());
    }
    let mut j = 1;
    while j < args.len() {
        let (opt, val) = (args[j], args[j + 1]);
        if is(opt, "listening-port") {
            let port = crate::cnum::parse_i64(val)
                .ok_or_else(|| b"ERR value is not an integer or out of range".to_vec())?;
            slave_mut(&mut clients[id.0]).listening_port = port;
        } else if is(opt, "ip-address") {
            // NET_HOST_STR_LEN is 256.
            if val.len() >= 256 {
                return Err(format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    val.len()
                )
                .into_bytes());
            }
            slave_mut(&mut clients[id.0]).ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "capa") {
            let s = slave_mut(&mut clients[id.0]);
            if is(val, "eof") {
                s.capa_eof = true;
            } else if is(val, "psync2") {
                s.capa_psync2 = true;
            }
        } else if is(opt, "ack") {
            // No reply, whatever happens.
            let Some(s) = clients[id.0].slave.as_deref_mut().filter(|s| s.attached) else {
                return Ok(false);
            };
            let Some(off) = crate::cnum::parse_i64(val) else {
                return Ok(false);
            };
            if off > s.ack_off {
                s.ack_off = off;
            }
            s.ack_time = now.0;
            if s.start_stream_on_ack && s.state == SlaveState::Online {
                start_command_stream(srv, clients, id.0);
            }
            refresh_good_slaves(srv, clients, now);
            serve_waiting(srv, clients);
            return Ok(false);
        } else if is(opt, "getack") {
            // Only a replica answers GETACK (replica.rs); a master ignores it, silently.
            return Ok(false);
        } else if is(opt, "rdb-only") {
            match crate::cnum::parse_i64(val) {
                Some(v @ (0 | 1)) => slave_mut(&mut clients[id.0]).rdb_only = v == 1,
                Some(_) => {
                    return Err(b"ERR value is out of range, value must between 0 and 1".to_vec());
                }
                None => return Err(b"ERR value is not an integer or out of range".to_vec()),
            }
        } else if is(opt, "rdb-filter-only") {
            let mut words = Vec::new();
            if !crate::resp::split_args(val, &mut words) {
                return Err(b"ERR Missing rdb-filter-only values".to_vec());
            }
            // By default every part is filtered out; "functions" keeps the libraries.
            let mut req = REQ_EXCLUDE_DATA | REQ_EXCLUDE_FUNCTIONS;
            for w in &words {
                if !is(w, "functions") {
                    let mut m = b"ERR Unsupported rdb-filter-only option: ".to_vec();
                    m.extend_from_slice(w);
                    return Err(m);
                }
                req &= !REQ_EXCLUDE_FUNCTIONS;
            }
            slave_mut(&mut clients[id.0]).req = req;
        } else {
            let mut m = b"ERR Unrecognized REPLCONF option: ".to_vec();
            m.extend_from_slice(crate::command::c_str(opt));
            return Err(m);
        }
        j += 2;
    }
    Ok(true)
}

/// replicaStartCommandStream: the first ACK after a diskless transfer lets the stream flow.
fn start_command_stream(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    let c = &mut clients[slot];
    let Some(s) = c.slave.as_deref_mut() else {
        return;
    };
    s.start_stream_on_ack = false;
    let pending = std::mem::take(&mut s.pending);
    s.queued += pending.len() as u64;
    if !pending.is_empty() {
        c.out.extend_from_slice(&pending);
        srv.events.push_back(Event::Output(ClientHandle(slot)));
    }
}

// ---------------------------------------------------------------- SYNC / PSYNC

/// SYNC, and PSYNC replid offset (Redis's syncCommand). Err: an error reply.
pub fn sync_command(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    now: UnixMillis,
    args: &[&[u8]],
) -> Result<(), Vec<u8>> {
    use crate::command::is;
    if is_replica(&clients[id.0]) {
        return Ok(()); // already a replica: ignored
    }
    let psync = is(args[0], "psync");
    if psync && args.len() > 3 && is(args[3], "failover") {
        // The old master of a coordinated FAILOVER asks us to take over (if it is ours).
        srv.events.push_back(Event::Log(format!(
            "Failover request received for replid {}.",
            String::from_utf8_lossy(args[1])
        )));
        if !srv.repl.replica.is_replica() {
            return Err(b"ERR PSYNC FAILOVER can't be sent to a master.".to_vec());
        }
        if !args[1].eq_ignore_ascii_case(srv.repl.replid.as_bytes()) {
            return Err(b"ERR PSYNC FAILOVER replid must match my replid.".to_vec());
        }
        crate::repl::replica::unset_master(srv, clients);
        srv.events
            .push_back(Event::Log("MASTER MODE enabled (failover request)".into()));
    }
    // Replicas may not sync with us while we fail over.
    if srv.repl.failover.state != crate::repl::FailoverState::None {
        return Err(b"NOMASTERLINK Can't SYNC while failing over".to_vec());
    }
    // A replica whose link to its master is down cannot serve a sub-replica.
    if srv.repl.replica.is_replica() && !crate::repl::replica::link_up(srv) {
        return Err(b"NOMASTERLINK Can't SYNC while not connected with my master".to_vec());
    }
    // clientHasPendingReplies: replies of earlier pipelined commands (or pushes) still in the
    // buffer, i.e. before this command's own reply mark, or handed to the host but unsent.
    let c = &clients[id.0];
    if c.reply_start > 0 || c.host_pending > 0 {
        return Err(b"ERR SYNC and PSYNC are invalid with pending output".to_vec());
    }
    // A filtered RDB is only made for a socket (never over the snapshot file).
    if c.slave.as_ref().is_some_and(|s| s.req != 0 && !s.capa_eof) {
        return Err(b"ERR Filtered replica requires EOF capability".to_vec());
    }
    let mut pre_psync = false;
    if psync {
        let offset = crate::cnum::parse_i64(args[2])
            .ok_or_else(|| b"ERR value is not an integer or out of range".to_vec())?;
        if try_partial(srv, clients, id, now, args[1], offset) {
            srv.repl.master.stat_sync_partial_ok += 1;
            return Ok(());
        }
        if args[1].first() != Some(&b'?') {
            srv.repl.master.stat_sync_partial_err += 1;
        }
    } else {
        pre_psync = true;
    }
    srv.repl.master.stat_sync_full += 1;
    let s = slave_mut(&mut clients[id.0]);
    s.state = SlaveState::WaitBgsaveStart;
    s.pre_psync = pre_psync;
    s.attached = true;
    s.wait_since = now.0;
    s.pending.clear();
    s.start_stream_on_ack = false;
    srv.repl.master.replicas.push(id.0);
    if srv.repl.master.replicas.len() == 1 && srv.repl.master.backlog.is_none() {
        // A new history starts: a fresh ID, no previous one (changeReplicationId). A replica
        // keeps its master's ID (its backlog normally exists since its own sync).
        if !srv.repl.replica.is_replica() {
            let replid = super::random_replid(&mut srv.rng);
            srv.repl.change_replid(replid);
            srv.repl.clear_replid2();
        }
        create_backlog(srv);
    }
    // syncCommand's three cases: a BGSAVE to disk is running (attach to it if a replica
    // already waits for it with capabilities this one has: its RDB and stream serve both,
    // else the next one); one to sockets is running (the next one); none (start one, after
    // repl-diskless-sync-delay for a diskless one: the cron starts it).
    let m = &srv.repl.master;
    if (m.rdb_in_progress && !m.rdb_socket) || srv.persist.bgsave_in_progress {
        if attach_to_running_bgsave(srv, clients, id) {
            srv.events
                .push_back(Event::Log("Waiting for end of BGSAVE for SYNC".into()));
        } else {
            srv.events.push_back(Event::Log(
                "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
                    .into(),
            ));
        }
        return Ok(());
    }
    if m.rdb_in_progress {
        srv.events.push_back(Event::Log(
            "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC".into(),
        ));
        return Ok(());
    }
    let delayed = srv.config.repl_diskless_sync
        && srv.config.repl_diskless_sync_delay > 0
        && clients[id.0].slave.as_ref().is_some_and(|s| s.capa_eof);
    if !delayed && !srv.persist.child_active() {
        start_rdb_for_replication(srv, clients, now);
    }
    Ok(())
}

/// syncCommand's attach to a running disk BGSAVE: another replica waiting for its end, whose
/// capabilities this one has, lends its +FULLRESYNC offset and the stream it accumulated
/// (copyReplicaOutputBuffer). False: none (a user BGSAVE has no replica waiting).
fn attach_to_running_bgsave(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) -> bool {
    if !srv.repl.master.rdb_in_progress || srv.repl.master.rdb_socket {
        return false;
    }
    let me = clients[id.0]
        .slave
        .as_ref()
        .map(|s| (s.capa_eof, s.capa_psync2, s.rdb_only, s.req));
    let Some((eof, psync2, rdb_only, req)) = me else {
        return false;
    };
    // The first replica waiting for its end that has a stream buffer (or any, for an
    // rdb-only newcomer); it must ask for nothing this one lacks and the same filter.
    let donor = srv.repl.master.replicas.iter().copied().find(|&slot| {
        slot != id.0
            && clients
                .get(slot)
                .and_then(|c| c.slave.as_ref())
                .is_some_and(|o| o.state == SlaveState::WaitBgsaveEnd && (!o.rdb_only || rdb_only))
    });
    let Some(donor) = donor else {
        return false;
    };
    let fits = clients[donor]
        .slave
        .as_ref()
        .is_some_and(|o| (eof || !o.capa_eof) && (psync2 || !o.capa_psync2) && o.req == req);
    if !fits {
        return false;
    }
    let (offset, pending) = {
        let o = clients[donor].slave.as_ref().expect("checked above");
        (o.initial_offset, o.pending.clone())
    };
    let line = format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset);
    let c = &mut clients[id.0];
    let s = slave_mut(c);
    s.initial_offset = offset;
    s.state = SlaveState::WaitBgsaveEnd;
    if !s.rdb_only {
        s.pending = pending;
    }
    if !s.pre_psync {
        s.queued += line.len() as u64;
        c.out.extend_from_slice(line.as_bytes());
        srv.events.push_back(Event::Output(id));
    }
    true
}

/// The BGSAVE ended: when it was the disk-based full sync's, its file goes to the replicas
/// waiting for it (updateSlavesWaitingBgsave; Redis streams the file, here it is read whole).
pub fn bgsave_done(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis, ok: bool) {
    if !srv.repl.master.rdb_in_progress || srv.repl.master.rdb_socket {
        return;
    }
    // The file is opened per replica (sendBulkToSlave, in rdb_done).
    let rdb = if !ok {
        Err("SYNC failed. BGSAVE child returned an error".to_string())
    } else if srv.persist.host.is_none() {
        Err("no persistence in this host".to_string())
    } else {
        Ok(Payload::File)
    };
    if let Err(e) = &rdb {
        srv.events.push_back(Event::Log(e.clone()));
    }
    rdb_done_payload(srv, clients, now, rdb);
}

/// masterTryPartialResynchronization: true when the backlog covers what the replica asks.
fn try_partial(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    now: UnixMillis,
    replid: &[u8],
    offset: i64,
) -> bool {
    let repl = &srv.repl;
    let ours = replid == repl.replid.as_bytes();
    let previous = replid == repl.replid2.as_bytes() && offset <= repl.second_replid_offset;
    if !ours && !previous {
        return false;
    }
    let Some(backlog) = &repl.master.backlog else {
        return false;
    };
    let histlen = backlog.histlen() as i64;
    let first = repl.master_repl_offset - histlen + 1;
    if offset < first || offset > first + histlen {
        return false;
    }
    // The tail from `offset`.
    let skip = (offset - first) as usize;
    let tail: Vec<u8> = backlog.buf.iter().skip(skip).copied().collect();
    let line = {
        let c = &clients[id.0];
        if c.slave.as_ref().is_some_and(|s| s.capa_psync2) {
            format!("+CONTINUE {}\r\n", repl.replid)
        } else {
            "+CONTINUE\r\n".to_string()
        }
    };
    let c = &mut clients[id.0];
    let s = slave_mut(c);
    s.attached = true;
    s.state = SlaveState::Online;
    s.ack_time = now.0;
    s.start_stream_on_ack = false;
    s.queued += (line.len() + tail.len()) as u64;
    c.out.extend_from_slice(line.as_bytes());
    c.out.extend_from_slice(&tail);
    srv.repl.master.replicas.push(id.0);
    refresh_good_slaves(srv, clients, now);
    true
}

/// startBgsaveForReplication: every replica waiting to start gets +FULLRESYNC at the current
/// offset and the RDB is started (the host's child, or in-process without one).
pub fn start_rdb_for_replication(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
) {
    flush(srv, clients);
    // The waiting replicas with the first one's filter (the others wait for the next).
    let mut req = None;
    let waiting: Vec<usize> = srv
        .repl
        .master
        .replicas
        .iter()
        .copied()
        .filter(|&s| {
            clients
                .get(s)
                .and_then(|c| c.slave.as_ref())
                .is_some_and(|sl| {
                    sl.state == SlaveState::WaitBgsaveStart && *req.get_or_insert(sl.req) == sl.req
                })
        })
        .collect();
    if waiting.is_empty() {
        return;
    }
    let req = req.unwrap_or(0);
    let all_eof = waiting
        .iter()
        .all(|&s| clients[s].slave.as_ref().is_some_and(|sl| sl.capa_eof));
    // A filtered RDB always goes to sockets (never over the snapshot file).
    let socket = (srv.config.repl_diskless_sync || req != 0) && all_eof;
    let offset = srv.repl.master_repl_offset;
    let stream_db = srv.persist.repl_selected_db.unwrap_or(0) as i64;
    let line = format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset);
    for &slot in &waiting {
        let c = &mut clients[slot];
        let s = slave_mut(c);
        s.initial_offset = offset;
        s.state = SlaveState::WaitBgsaveEnd;
        let pre = s.pre_psync;
        if !pre {
            s.queued += line.len() as u64;
            c.out.extend_from_slice(line.as_bytes());
            srv.events.push_back(Event::Output(ClientHandle(slot)));
        }
    }
    // The stream after the RDB starts with SELECT (slaveseldb = -1).
    srv.persist.repl_selected_db = None;
    let mut opts = crate::command::persistence::save_options(srv, now);
    opts.repl = Some(crate::rdb::ReplAux {
        stream_db,
        replid: srv.repl.replid.clone(),
        offset,
    });
    opts.exclude_data = req & REQ_EXCLUDE_DATA != 0;
    if req & REQ_EXCLUDE_FUNCTIONS != 0 {
        opts.functions.clear();
    }
    srv.repl.master.rdb_socket = socket;
    if !socket && srv.persist.host.is_some() {
        // Disk-based: a BGSAVE writes dbfilename (with these aux fields); its file is sent
        // when it ends (`bgsave_done`).
        srv.events.push_back(Event::Log(
            "Starting BGSAVE for SYNC with target: disk".into(),
        ));
        match crate::command::persistence::start_bgsave_with(srv, now, &opts) {
            Ok(()) => {
                srv.repl.master.rdb_in_progress = true;
                if srv.config.rdb_del_sync_files {
                    srv.repl.master.rdb_generated_by_replication = true;
                }
            }
            Err(e) => {
                srv.events
                    .push_back(Event::Log(format!("BGSAVE for replication failed: {e}")));
                rdb_done(srv, clients, now, Err(e));
            }
        }
        return;
    }
    let clock = srv.host.monotonic_us;
    let t0 = clock.map(|f| f());
    let Server { dbs, persist, .. } = srv;
    let started = match persist.host.as_mut() {
        Some(h) => h.repl_rdb(dbs, &opts),
        None => Ok(false),
    };
    match started {
        Ok(true) => {
            // total_forks, latest_fork_usec and the fork latency event, as BGSAVE's.
            crate::command::intro::fork_done(srv, now, t0, true);
            srv.repl.master.rdb_in_progress = true;
        }
        Ok(false) => {
            // No fork here: the snapshot is made now, in-process.
            let rdb = crate::rdb::encode(Vec::new(), &srv.dbs, &opts).unwrap_or_default();
            srv.repl.master.rdb_in_progress = true;
            rdb_done(srv, clients, now, Ok(rdb));
        }
        Err(e) => {
            srv.events
                .push_back(Event::Log(format!("BGSAVE for replication failed: {e}")));
            rdb_done(srv, clients, now, Err(e));
        }
    }
}

/// A finished replication RDB: its bytes (a diskless transfer, a host without files), or
/// the `dbfilename` a disk-based BGSAVE wrote, sent from the file a chunk at a time.
pub enum Payload {
    Bytes(Vec<u8>),
    File,
}

/// The replication RDB is ready (or failed): send it to every replica waiting for it, then
/// what accumulated meanwhile (after the first ACK for the EOF form, as Redis does, so the
/// replica finds the end mark at the end of what it read). Failed: those replicas are closed.
pub fn rdb_done(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    rdb: Result<Vec<u8>, String>,
) {
    rdb_done_payload(srv, clients, now, rdb.map(Payload::Bytes));
}

pub fn rdb_done_payload(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    mut rdb: Result<Payload, String>,
) {
    srv.repl.master.rdb_in_progress = false;
    let socket = srv.repl.master.rdb_socket;
    let slots: Vec<usize> = srv.repl.master.replicas.clone();
    let mut mark = String::new();
    if socket {
        mark = super::random_replid(&mut srv.rng);
    }
    for slot in slots {
        let waiting = clients
            .get(slot)
            .and_then(|c| c.slave.as_ref())
            .is_some_and(|s| s.state == SlaveState::WaitBgsaveEnd);
        if !waiting {
            continue;
        }
        // The file, opened for this replica (a host without files: read whole once).
        let mut bulk = None;
        if let Ok(Payload::File) = &rdb {
            let opened = srv.persist.host.as_mut().map(|h| h.open_sync_rdb());
            match opened {
                Some(Ok(Some((handle, size)))) => {
                    bulk = Some(Bulk {
                        handle,
                        off: 0,
                        size,
                    })
                }
                Some(Ok(None)) => {
                    rdb = match srv.persist.host.as_mut().map(|h| h.read_rdb()) {
                        Some(Ok(bytes)) => Ok(Payload::Bytes(bytes)),
                        Some(Err(e)) => {
                            Err(format!("SYNC failed. Can't open/stat DB after BGSAVE: {e}"))
                        }
                        None => Err("no persistence in this host".to_string()),
                    };
                }
                Some(Err(e)) => {
                    srv.events.push_back(Event::Log(format!(
                        "SYNC failed. Can't open/stat DB after BGSAVE: {e}"
                    )));
                    let c = &mut clients[slot];
                    c.close_asap = true;
                    srv.events.push_back(Event::Close(ClientHandle(slot)));
                    continue;
                }
                None => rdb = Err("no persistence in this host".to_string()),
            }
        }
        let c = &mut clients[slot];
        let Some(s) = c.slave.as_deref_mut() else {
            continue;
        };
        let before = c.out.len();
        let rdb_bytes = match &rdb {
            Err(_) => {
                c.close_asap = true;
                srv.events.push_back(Event::Close(ClientHandle(slot)));
                continue;
            }
            Ok(Payload::Bytes(b)) => Some(b),
            Ok(Payload::File) => None,
        };
        if let Some(b) = bulk {
            // sendBulkToSlave: the `$<size>` line now, the file as the host takes output.
            c.out.push(b'$');
            c.out
                .extend_from_slice(itoa::Buffer::new().format(b.size).as_bytes());
            c.out.extend_from_slice(b"\r\n");
            s.queued += (c.out.len() - before) as u64;
            s.rdb_end = s.queued + b.size;
            s.bulk = Some(b);
            s.state = SlaveState::SendBulk;
            if b.size == 0 {
                send_bulk(srv, clients, ClientHandle(slot), now);
            }
            srv.events.push_back(Event::Output(ClientHandle(slot)));
            continue;
        }
        let rdb = rdb_bytes.expect("bytes");
        if socket {
            c.out.extend_from_slice(b"$EOF:");
            c.out.extend_from_slice(mark.as_bytes());
            c.out.extend_from_slice(b"\r\n");
            c.out.extend_from_slice(rdb);
            c.out.extend_from_slice(mark.as_bytes());
            s.start_stream_on_ack = true;
        } else {
            c.out.push(b'$');
            c.out
                .extend_from_slice(itoa::Buffer::new().format(rdb.len()).as_bytes());
            c.out.extend_from_slice(b"\r\n");
            c.out.extend_from_slice(rdb);
        }
        s.queued += (c.out.len() - before) as u64;
        s.rdb_end = s.queued;
        put_online(srv, c, slot, now, socket);
    }
    refresh_good_slaves(srv, clients, now);
    // Replicas that arrived meanwhile get the next one.
    if srv.repl.master.replicas.iter().any(|&s| {
        clients
            .get(s)
            .and_then(|c| c.slave.as_ref())
            .is_some_and(|sl| sl.state == SlaveState::WaitBgsaveStart)
    }) {
        start_pending(srv, clients, now);
    }
}

/// replicaPutOnline once its RDB is queued: an rdb-only replica is closed after it, others
/// stream (the EOF form after their first ACK; otherwise what accumulated goes now).
fn put_online(srv: &mut Server, c: &mut Client, slot: usize, now: UnixMillis, socket: bool) {
    let name = format!(
        "{}:{}",
        replica_addr(c),
        c.slave.as_ref().map_or(0, |s| s.listening_port)
    );
    let Some(s) = c.slave.as_deref_mut() else {
        return;
    };
    if s.rdb_only {
        // replicaPutOnline: closed once the RDB is sent.
        s.state = SlaveState::RdbTransmitted;
        s.start_stream_on_ack = false;
        c.close_after_reply = true;
        c.close_armed = true;
        srv.events.push_back(Event::Log(format!(
            "RDB transfer completed, rdb only replica ({name}) should be disconnected asap"
        )));
        srv.events.push_back(Event::Output(ClientHandle(slot)));
        return;
    }
    s.state = SlaveState::Online;
    s.ack_time = now.0;
    if !socket {
        let pending = std::mem::take(&mut s.pending);
        s.queued += pending.len() as u64;
        c.out.extend_from_slice(&pending);
    }
    srv.events.push_back(Event::Output(ClientHandle(slot)));
}

/// Whether a replica has RDB file bytes left to send (the host should take its output).
pub fn bulk_pending(c: &Client) -> bool {
    c.slave.as_ref().is_some_and(|s| s.bulk.is_some())
}

/// sendBulkToSlave: when the host takes a replica's output and little is queued, the next
/// chunk of the RDB file goes into it; after the last one the replica is online (the
/// stream accumulated meanwhile follows). A read error closes the replica.
pub fn send_bulk(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    now: UnixMillis,
) {
    let Some(c) = clients.get_mut(id.0) else {
        return;
    };
    if c.out.len() >= BULK_CHUNK {
        return;
    }
    let Some(b) = c.slave.as_ref().and_then(|s| s.bulk) else {
        return;
    };
    let want = ((b.size - b.off) as usize).min(BULK_CHUNK);
    if want > 0 {
        let read = match srv.persist.host.as_mut() {
            Some(h) => h.read_sync_rdb(b.handle, b.off, want),
            None => Err("no persistence in this host".into()),
        };
        match read {
            Ok(chunk) if !chunk.is_empty() => {
                c.out.extend_from_slice(&chunk);
                let s = slave_mut(c);
                s.queued += chunk.len() as u64;
                if let Some(bk) = s.bulk.as_mut() {
                    bk.off += chunk.len() as u64;
                }
            }
            other => {
                let why = match other {
                    Err(e) => e,
                    _ => "premature EOF".into(),
                };
                srv.events.push_back(Event::Log(format!(
                    "Read error sending DB to replica: {why}"
                )));
                c.close_asap = true;
                srv.events.push_back(Event::Close(id));
                return;
            }
        }
    }
    let s = slave_mut(c);
    let Some(bk) = s.bulk else {
        return;
    };
    if bk.off < bk.size {
        return;
    }
    s.bulk = None;
    if let Some(h) = srv.persist.host.as_mut() {
        h.close_sync_rdb(bk.handle);
    }
    put_online(srv, c, id.0, now, false);
    refresh_good_slaves(srv, clients, now);
}

/// replicationStartPendingFork: start the RDB for waiting replicas once the diskless delay
/// has passed (or enough are waiting), or at once for disk-based ones.
fn start_pending(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis) {
    if srv.repl.master.rdb_in_progress || srv.persist.child_active() {
        return;
    }
    let mut waiting = 0;
    let mut max_idle = 0;
    let mut all_eof = true;
    let mut req = None;
    for &slot in &srv.repl.master.replicas {
        if let Some(s) = clients.get(slot).and_then(|c| c.slave.as_ref()) {
            if s.state == SlaveState::WaitBgsaveStart && *req.get_or_insert(s.req) == s.req {
                waiting += 1;
                max_idle = max_idle.max(now.0.saturating_sub(s.wait_since) / 1000);
                all_eof &= s.capa_eof;
            }
        }
    }
    if waiting == 0 {
        return;
    }
    let cfg = &srv.config;
    let diskless = cfg.repl_diskless_sync && all_eof;
    let enough = cfg.repl_diskless_sync_max_replicas > 0
        && waiting >= cfg.repl_diskless_sync_max_replicas as usize;
    if !diskless || enough || max_idle as i64 >= cfg.repl_diskless_sync_delay {
        start_rdb_for_replication(srv, clients, now);
    }
}

impl crate::Engine {
    /// The host's replication RDB (`PersistHost::repl_rdb`) is complete: its bytes go to the
    /// replicas waiting for it; Err closes them (they will retry).
    pub fn repl_rdb_done(&mut self, now: UnixMillis, rdb: Result<Vec<u8>, String>) {
        rdb_done(&mut self.srv, &mut self.clients, now, rdb);
    }
}

// ---------------------------------------------------------------- cron

/// Whether the engine should tick for replication (replicas to ping, a backlog to expire).
pub fn wants_tick(srv: &Server) -> bool {
    !srv.repl.master.replicas.is_empty()
        || srv.repl.master.backlog.is_some()
        || !srv.repl.master.waiting.is_empty()
        || srv.repl.master.shutdown.is_some()
        || srv.repl.failover.state != crate::repl::FailoverState::None
}

/// replicationCron's master half, once a second.
pub fn cron(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis) {
    shutdown_cron(srv, clients, now);
    update_failover(srv, clients, now);
    if now.0 < srv.repl.master.last_cron + 1000 && srv.repl.master.last_cron != 0 {
        return;
    }
    srv.repl.master.last_cron = now.0;
    let loops = srv.repl.master.cron_loops;
    srv.repl.master.cron_loops += 1;
    let period = srv.config.repl_ping_replica_period.max(1) as u64;
    let is_top = !srv.repl.replica.is_replica();
    // No PING while a FAILOVER with a timeout, or a cluster manual failover, holds writes
    // (Redis's manual_failover_in_progress): the target can reach the offset.
    let failing_over = srv.repl.failover.end != 0
        || srv
            .cluster
            .as_deref()
            .is_some_and(crate::cluster::failover::paused);
    if is_top
        && !failing_over
        && loops.is_multiple_of(period)
        && !srv.repl.master.replicas.is_empty()
    {
        feed_command(srv, clients, &[b"PING"]);
    }
    // Newlines keep replicas waiting for their RDB from timing out (before the payload
    // starts only: the EOF form's payload may not be interrupted).
    for &slot in &srv.repl.master.replicas {
        if let Some(c) = clients.get_mut(slot) {
            let waiting = c
                .slave
                .as_ref()
                .is_some_and(|s| s.state == SlaveState::WaitBgsaveStart);
            let before_rdb = c.slave.as_ref().is_some_and(|s| {
                s.state == SlaveState::WaitBgsaveEnd && srv.repl.master.rdb_socket
            });
            if waiting || (before_rdb && !srv.repl.master.rdb_in_progress) {
                if c.out.is_empty() {
                    srv.events.push_back(Event::Output(ClientHandle(slot)));
                }
                c.out.push(b'\n');
                if let Some(s) = c.slave.as_deref_mut() {
                    s.queued += 1;
                }
            }
        }
    }
    // Replicas that stopped acking (repl-timeout).
    let timeout = srv.config.repl_timeout.max(1) as u64 * 1000;
    for &slot in &srv.repl.master.replicas {
        if let Some(c) = clients.get_mut(slot) {
            let stale = c.slave.as_ref().is_some_and(|s| {
                s.state == SlaveState::Online
                    && !s.start_stream_on_ack
                    && now.0.saturating_sub(s.ack_time) > timeout
            });
            if stale && !c.close_asap {
                c.close_asap = true;
                srv.events.push_back(Event::Close(ClientHandle(slot)));
                srv.events
                    .push_back(Event::Log("Disconnecting timedout replica".into()));
            }
        }
    }
    // The backlog goes after repl-backlog-ttl without replicas (on a top-level master).
    let ttl = srv.config.repl_backlog_ttl;
    if srv.repl.master.replicas.is_empty()
        && ttl > 0
        && srv.repl.master.backlog.is_some()
        && is_top
        && now.0.saturating_sub(srv.repl.master.no_slaves_since) / 1000 > ttl as u64
    {
        let replid = super::random_replid(&mut srv.rng);
        srv.repl.change_replid(replid);
        srv.repl.clear_replid2();
        free_backlog(srv);
        srv.events.push_back(Event::Log(format!(
            "Replication backlog freed after {ttl} seconds without connected replicas."
        )));
    }
    start_pending(srv, clients, now);
    remove_rdb_used_to_sync(srv, clients);
    refresh_good_slaves(srv, clients, now);
}

/// allPersistenceDisabled: no save points, no AOF.
pub fn all_persistence_disabled(srv: &Server) -> bool {
    srv.config.save.0.is_empty() && !srv.persist.aof_enabled
}

/// removeRDBUsedToSyncReplicas: with rdb-del-sync-files on a node without persistence, the
/// RDB written for replicas goes once none is waiting for it or being sent it.
fn remove_rdb_used_to_sync(srv: &mut Server, clients: &slab::Slab<Client>) {
    if !srv.config.rdb_del_sync_files {
        srv.repl.master.rdb_generated_by_replication = false;
        return;
    }
    if !all_persistence_disabled(srv) || !srv.repl.master.rdb_generated_by_replication {
        return;
    }
    let busy = srv.repl.master.replicas.iter().any(|&slot| {
        clients
            .get(slot)
            .and_then(|c| c.slave.as_ref())
            .is_some_and(|s| {
                matches!(
                    s.state,
                    SlaveState::WaitBgsaveStart | SlaveState::WaitBgsaveEnd | SlaveState::SendBulk
                )
            })
    });
    if busy {
        return;
    }
    if srv.persist.host.as_mut().is_some_and(|h| h.remove_rdb()) {
        srv.repl.master.rdb_generated_by_replication = false;
        srv.events.push_back(Event::Log(
            "Removing the RDB file used to feed replicas in a persistence-less instance".into(),
        ));
    }
}

/// refreshGoodSlavesCount: online replicas whose last ack is within min-replicas-max-lag.
pub fn refresh_good_slaves(srv: &mut Server, clients: &slab::Slab<Client>, now: UnixMillis) {
    let max_lag = srv.config.min_replicas_max_lag;
    if srv.config.min_replicas_to_write == 0 || max_lag == 0 {
        return;
    }
    srv.repl.master.good_slaves = srv
        .repl
        .master
        .replicas
        .iter()
        .filter_map(|&s| clients.get(s).and_then(|c| c.slave.as_ref()))
        .filter(|s| {
            s.state == SlaveState::Online
                && (now.0 / 1000).saturating_sub(s.ack_time / 1000) <= max_lag as u64
        })
        .count();
}

/// processCommand's checkGoodReplicasStatus: a write (EXEC with one) is refused while fewer
/// than min-replicas-to-write replicas have acked within min-replicas-max-lag.
pub fn refuses_write(
    srv: &Server,
    c: &Client,
    cmd: &crate::command::CommandSpec,
    args: &[&[u8]],
) -> Option<Vec<u8>> {
    let cfg = &srv.config;
    if srv.repl.replica.is_replica()
        || cfg.min_replicas_max_lag == 0
        || cfg.min_replicas_to_write == 0
        || srv.repl.master.good_slaves >= cfg.min_replicas_to_write as usize
    {
        return None;
    }
    let flags = crate::script::command_flags(srv, cmd, args);
    let write = flags & crate::command::flags::WRITE != 0
        || (cmd.name == "exec" && c.tx.queued_flags & crate::command::flags::WRITE != 0);
    write.then(|| b"NOREPLICAS Not enough good replicas to write.".to_vec())
}

// ---------------------------------------------------------------- WAIT

/// replicationCountAcksByOffset: online replicas that acked `offset` or beyond.
pub fn count_acks(srv: &Server, clients: &slab::Slab<Client>, offset: i64) -> i64 {
    srv.repl
        .master
        .replicas
        .iter()
        .filter_map(|&s| clients.get(s).and_then(|c| c.slave.as_ref()))
        .filter(|s| s.state == SlaveState::Online && s.ack_off >= offset)
        .count() as i64
}

/// processClientsWaitingReplicas: WAIT clients whose offset enough replicas acked are
/// answered with the count.
pub fn serve_waiting(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    if srv.repl.master.waiting.is_empty() {
        return;
    }
    let slots = std::mem::take(&mut srv.repl.master.waiting);
    let mut keep = Vec::new();
    for slot in slots {
        let Some((offset, want)) = clients
            .get(slot)
            .and_then(crate::command::blocking::wait_target)
        else {
            continue; // unblocked some other way (timeout, CLIENT UNBLOCK, gone)
        };
        let acks = count_acks(srv, clients, offset);
        if acks >= want {
            crate::command::blocking::unblock_wait(srv, clients, slot, acks);
        } else {
            keep.push(slot);
        }
    }
    srv.repl.master.waiting = keep;
}

// ---------------------------------------------------------------- INFO, ROLE

fn replica_addr(c: &Client) -> String {
    if let Some(ip) = c.slave.as_ref().and_then(|s| s.ip.clone()) {
        return ip;
    }
    // The peer's IP (without the port).
    let addr = &c.info.addr;
    match addr.rfind(':') {
        Some(i) => addr[..i]
            .trim_start_matches('[')
            .trim_end_matches(']')
            .into(),
        None => addr.clone(),
    }
}

/// INFO replication: connected_slaves, min_slaves_good_slaves, slaveN lines.
pub fn info_fields(srv: &Server, clients: &slab::Slab<Client>, s: &mut String) {
    use std::fmt::Write;
    let m = &srv.repl.master;
    let _ = write!(s, "connected_slaves:{}\r\n", m.replicas.len());
    if srv.config.min_replicas_to_write > 0 && srv.config.min_replicas_max_lag > 0 {
        let _ = write!(s, "min_slaves_good_slaves:{}\r\n", m.good_slaves);
    }
    let now = srv.last_tick_ms();
    let mut i = 0;
    for &slot in &m.replicas {
        let Some(c) = clients.get(slot) else { continue };
        let Some(sl) = c.slave.as_ref() else { continue };
        if sl.state == SlaveState::RdbTransmitted {
            continue;
        }
        // Only an online replica has a lag (Redis shows 0 otherwise).
        let lag = if sl.state == SlaveState::Online {
            (now / 1000).saturating_sub(sl.ack_time / 1000)
        } else {
            0
        };
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            replica_addr(c),
            sl.listening_port,
            sl.state.name(),
            sl.ack_off,
            lag
        );
        i += 1;
    }
}

/// INFO replication: repl_backlog_active ... repl_backlog_histlen.
pub fn info_backlog_fields(srv: &Server, s: &mut String) {
    use std::fmt::Write;
    let b = srv.repl.master.backlog.as_ref();
    let histlen = b.map_or(0, |b| b.histlen() as i64);
    let first = b.map_or(0, |_| srv.repl.master_repl_offset - histlen + 1);
    let _ = write!(s, "repl_backlog_active:{}\r\n", u8::from(b.is_some()));
    let _ = write!(s, "repl_backlog_size:{}\r\n", srv.config.repl_backlog_size);
    let _ = write!(s, "repl_backlog_first_byte_offset:{first}\r\n");
    let _ = write!(s, "repl_backlog_histlen:{histlen}\r\n");
}

/// ROLE on a master: ["master", offset, [[ip, port, offset], ...]] (online replicas only).
pub fn role(srv: &Server, clients: &slab::Slab<Client>, w: &mut ReplyWriter<'_>) {
    let online: Vec<(String, i64, i64)> = srv
        .repl
        .master
        .replicas
        .iter()
        .filter_map(|&slot| {
            let c = clients.get(slot)?;
            let s = c.slave.as_ref()?;
            (s.state == SlaveState::Online).then(|| (replica_addr(c), s.listening_port, s.ack_off))
        })
        .collect();
    w.array_len(3);
    w.bulk(b"master");
    w.int(srv.repl.master_repl_offset);
    w.array_len(online.len());
    for (ip, port, off) in online {
        w.array_len(3);
        w.bulk(ip.as_bytes());
        w.bulk(port.to_string().as_bytes());
        w.bulk(off.to_string().as_bytes());
    }
}

// ---------------------------------------------------------------- SHUTDOWN waits for replicas

/// isReadyToShutdown: every replica acked the master's offset (or there is none).
pub fn ready_to_shutdown(srv: &Server, clients: &slab::Slab<Client>) -> bool {
    srv.repl
        .master
        .replicas
        .iter()
        .filter_map(|&s| clients.get(s).and_then(|c| c.slave.as_ref()))
        .all(|s| s.ack_off == srv.repl.master_repl_offset)
}

/// prepareForShutdown: Ok(true) when the server may exit now (the persistence steps done),
/// Ok(false) when it waits for lagging replicas (writes paused, GETACK sent; the cron
/// finishes it) or a shutdown is already waiting, Err when it must keep running.
pub fn begin_shutdown(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    flags: u8,
) -> Result<bool, String> {
    use crate::command::persistence::SHUTDOWN_NOW;
    if srv.repl.master.shutdown.is_some() {
        return Ok(false);
    }
    srv.events
        .push_back(Event::Log("User requested shutdown...".into()));
    if flags & SHUTDOWN_NOW == 0
        && srv.config.shutdown_timeout != 0
        && !ready_to_shutdown(srv, clients)
    {
        srv.repl.master.shutdown = Some(PendingShutdown {
            deadline: now
                .0
                .saturating_add(srv.config.shutdown_timeout as u64 * 1000),
            flags,
        });
        if srv.pause.is_none() {
            srv.repl.master.get_ack = true;
        }
        srv.events.push_back(Event::Log(
            "Waiting for replicas before shutting down.".into(),
        ));
        return Ok(false);
    }
    finish_shutdown(srv, clients, now, flags)
}

/// finishShutdown: logs the lagging replicas, then the persistence steps. Err cancels a
/// waiting shutdown (its blocked clients get the error).
fn finish_shutdown(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    now: UnixMillis,
    flags: u8,
) -> Result<bool, String> {
    let offset = srv.repl.master_repl_offset;
    let (mut total, mut lagging) = (0, 0);
    for &slot in &srv.repl.master.replicas {
        let Some(sl) = clients.get(slot).and_then(|c| c.slave.as_ref()) else {
            continue;
        };
        total += 1;
        if sl.ack_off != offset {
            lagging += 1;
            srv.events.push_back(Event::Log(format!(
                "Lagging replica {} reported offset {} behind master, state={}.",
                clients
                    .get(slot)
                    .map(|c| c.info.addr.as_str())
                    .unwrap_or(""),
                offset - sl.ack_off,
                sl.state.name()
            )));
        }
    }
    if total > 0 {
        srv.events.push_back(Event::Log(format!(
            "{} of {} replicas are in sync when shutting down.",
            total - lagging,
            total
        )));
    }
    match crate::command::persistence::prepare_shutdown(srv, now, flags) {
        Ok(()) => {
            srv.repl.master.shutdown = None;
            Ok(true)
        }
        Err(e) => {
            cancel_shutdown(srv, clients);
            Err(e)
        }
    }
}

/// The server cron's half: finish a waiting shutdown once every replica acked or the
/// timeout passed.
fn shutdown_cron(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis) {
    let Some(p) = srv.repl.master.shutdown else {
        return;
    };
    if now.0 >= p.deadline || ready_to_shutdown(srv, clients) {
        // Errors are logged and the waiting clients told (cancel_shutdown).
        let _ = finish_shutdown(srv, clients, now, p.flags);
    }
}

/// cancelShutdown: writes resume, the clients blocked in SHUTDOWN get an error.
pub fn cancel_shutdown(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    srv.repl.master.shutdown = None;
    for slot in std::mem::take(&mut srv.repl.master.shutdown_blocked) {
        crate::command::blocking::unblock_shutdown(srv, clients, slot);
    }
}

/// abortShutdown (SHUTDOWN ABORT): false when no shutdown is waiting.
pub fn abort_shutdown(srv: &mut Server, clients: &mut slab::Slab<Client>) -> bool {
    if srv.repl.master.shutdown.is_none() {
        return false;
    }
    cancel_shutdown(srv, clients);
    srv.events
        .push_back(Event::Log("Shutdown manually aborted.".into()));
    true
}

// ---------------------------------------------------------------- FAILOVER

/// findReplica: the replica announced (or seen) at host:port.
fn find_replica(
    srv: &Server,
    clients: &slab::Slab<Client>,
    host: &str,
    port: i64,
) -> Option<usize> {
    srv.repl.master.replicas.iter().copied().find(|&slot| {
        clients.get(slot).is_some_and(|c| {
            c.slave.as_ref().is_some_and(|s| s.listening_port == port)
                && replica_addr(c).eq_ignore_ascii_case(host)
        })
    })
}

/// failoverCommand after parsing (`timeout` 0: none). Err: the error reply.
pub fn failover_start(
    srv: &mut Server,
    clients: &slab::Slab<Client>,
    now: UnixMillis,
    to: Option<(String, i64)>,
    force: bool,
    timeout: i64,
) -> Result<(), &'static str> {
    use crate::repl::FailoverState;
    if srv.repl.failover.state != FailoverState::None {
        return Err("FAILOVER already in progress.");
    }
    if srv.repl.replica.is_replica() {
        return Err("FAILOVER is not valid when server is a replica.");
    }
    if srv.repl.master.replicas.is_empty() {
        return Err("FAILOVER requires connected replicas.");
    }
    if force && (timeout == 0 || to.is_none()) {
        return Err("FAILOVER with force option requires both a timeout and target HOST and IP.");
    }
    if let Some((host, port)) = to {
        let Some(slot) = find_replica(srv, clients, &host, port) else {
            return Err("FAILOVER target HOST and PORT is not a replica.");
        };
        if clients[slot].slave.as_ref().map(|s| s.state) != Some(SlaveState::Online) {
            return Err("FAILOVER target replica is not online.");
        }
        srv.events
            .push_back(Event::Log(format!("FAILOVER requested to {host}:{port}.")));
        srv.repl.failover.target = Some((host, port as u16));
    } else {
        srv.events
            .push_back(Event::Log("FAILOVER requested to any replica.".into()));
    }
    let f = &mut srv.repl.failover;
    f.end = if timeout > 0 {
        now.0.saturating_add(timeout as u64)
    } else {
        0
    };
    f.force = force;
    f.state = FailoverState::WaitForSync;
    Ok(())
}

/// abortFailover: back to a plain master (if it had become a replica), writes resume.
pub fn abort_failover(srv: &mut Server, clients: &mut slab::Slab<Client>, why: &str) {
    use crate::repl::FailoverState;
    let f = &srv.repl.failover;
    if f.state == FailoverState::None {
        return;
    }
    let to = match &f.target {
        Some((h, p)) => format!("{h}:{p}"),
        None => "any replica".into(),
    };
    srv.events
        .push_back(Event::Log(format!("FAILOVER to {to} aborted: {why}")));
    if f.state == FailoverState::InProgress {
        crate::repl::replica::unset_master(srv, clients);
    }
    srv.repl.failover = Default::default();
}

/// updateFailoverStatus: once the target (or any replica) acked the master's offset, or
/// the timeout passed with FORCE, become a replica of it (the handshake then sends
/// `PSYNC ... FAILOVER`); the timeout without FORCE aborts.
pub fn update_failover(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis) {
    use crate::repl::FailoverState;
    let f = &srv.repl.failover;
    if f.state != FailoverState::WaitForSync {
        return;
    }
    let target = if f.end != 0 && f.end <= now.0 {
        if !f.force {
            abort_failover(srv, clients, "Replica never caught up before timeout");
            return;
        }
        srv.events.push_back(Event::Log(
            "FAILOVER time out exceeded, failing over.".into(),
        ));
        f.target.clone()
    } else {
        let offset = srv.repl.master_repl_offset;
        let synced = |slot: usize| {
            clients
                .get(slot)
                .and_then(|c| c.slave.as_ref())
                .is_some_and(|s| s.ack_off == offset)
        };
        let found = match &f.target {
            Some((h, p)) => find_replica(srv, clients, h, *p as i64).filter(|&s| synced(s)),
            None => srv
                .repl
                .master
                .replicas
                .iter()
                .copied()
                .find(|&s| synced(s)),
        };
        let Some(slot) = found else {
            return;
        };
        let c = &clients[slot];
        let port = c.slave.as_ref().map_or(0, |s| s.listening_port) as u16;
        srv.events.push_back(Event::Log(format!(
            "Failover target {}:{port} is synced, failing over.",
            replica_addr(c)
        )));
        Some((replica_addr(c), port))
    };
    let Some((host, port)) = target else {
        return;
    };
    srv.repl.failover.target = Some((host.clone(), port));
    srv.repl.failover.state = FailoverState::InProgress;
    crate::repl::replica::set_master(srv, clients, &host, port);
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::resp::append_request;
    use crate::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};

    const T0: UnixMillis = UnixMillis(1_000_000);

    fn engine(extra: &[(&str, &str)]) -> Engine {
        let mut cfg = Config::default();
        cfg.set("repl-diskless-sync-delay", b"0").unwrap();
        for (k, v) in extra {
            cfg.set(k, v.as_bytes()).unwrap();
        }
        let mut eng = Engine::new(cfg, 7);
        eng.tick(T0);
        eng
    }

    fn client(eng: &mut Engine) -> ClientHandle {
        eng.connect(
            T0,
            ConnInfo {
                addr: "127.0.0.1:50000".into(),
                ..Default::default()
            },
        )
    }

    fn req(args: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        append_request(&mut b, args);
        b
    }

    fn send_at(eng: &mut Engine, now: UnixMillis, id: ClientHandle, args: &[&str]) -> Vec<u8> {
        eng.feed(now, id, &req(args));
        out(eng, id)
    }

    fn send(eng: &mut Engine, id: ClientHandle, args: &[&str]) -> Vec<u8> {
        send_at(eng, T0, id, args)
    }

    fn out(eng: &mut Engine, id: ClientHandle) -> Vec<u8> {
        let mut o = Vec::new();
        eng.drain_output(id, &mut o);
        o
    }

    fn info(eng: &mut Engine, field: &str) -> String {
        let c = client(eng);
        let text = String::from_utf8(send(eng, c, &["INFO", "everything"])).unwrap();
        eng.disconnect(c);
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .unwrap_or_default()
    }

    /// The handshake a redis-server 7.0 replica sends; returns the replica's connection and
    /// what PSYNC answered.
    fn attach(eng: &mut Engine, replid: &str, offset: i64) -> (ClientHandle, Vec<u8>) {
        let r = client(eng);
        assert_eq!(
            send(eng, r, &["REPLCONF", "listening-port", "6380"]),
            b"+OK\r\n"
        );
        assert_eq!(
            send(eng, r, &["REPLCONF", "capa", "eof", "capa", "psync2"]),
            b"+OK\r\n"
        );
        let got = send(eng, r, &["PSYNC", replid, &offset.to_string()]);
        (r, got)
    }

    /// Splits `+FULLRESYNC id off\r\n$EOF:<mark>\r\n<rdb><mark>` into (id, offset, rdb).
    fn parse_fullresync(b: &[u8]) -> (String, i64, Vec<u8>) {
        let text = String::from_utf8_lossy(b);
        assert!(text.starts_with("+FULLRESYNC "), "{text}");
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let line = std::str::from_utf8(&b[12..line_end]).unwrap();
        let (id, off) = line.split_once(' ').unwrap();
        let rest = &b[line_end + 2..];
        assert!(rest.starts_with(b"$EOF:"));
        let mark = &rest[5..45];
        assert_eq!(&rest[45..47], b"\r\n");
        let body = &rest[47..];
        assert!(body.ends_with(mark), "the payload ends with its mark");
        (
            id.to_string(),
            off.parse().unwrap(),
            body[..body.len() - 40].to_vec(),
        )
    }

    #[test]
    fn full_resync_then_stream_then_continue() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        assert_eq!(send(&mut eng, w, &["SET", "k", "v"]), b"+OK\r\n");
        let old_id = info(&mut eng, "master_replid");
        let (r, got) = attach(&mut eng, "?", -1);
        let (id, off, rdb) = parse_fullresync(&got);
        // The first replica starts a new history.
        assert_ne!(id, old_id);
        assert_eq!(off, 0);
        let mut copy = Engine::new(Config::default(), 1);
        copy.import_rdb(&rdb, T0).unwrap();
        assert_eq!(copy.db_size(0), Some(1));
        // Until its first ACK, the stream waits (the EOF form must end the transfer).
        assert_eq!(send(&mut eng, w, &["SET", "a", "1"]), b"+OK\r\n");
        assert_eq!(out(&mut eng, r), b"");
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        let mut want = req(&["SELECT", "0"]);
        want.extend(req(&["SET", "a", "1"]));
        assert_eq!(out(&mut eng, r), want);
        assert_eq!(info(&mut eng, "master_repl_offset"), want.len().to_string());
        assert_eq!(info(&mut eng, "connected_slaves"), "1");
        assert_eq!(
            info(&mut eng, "slave0"),
            "ip=127.0.0.1,port=6380,state=online,offset=0,lag=0"
        );
        // A transaction goes as MULTI ... EXEC; a script as its effects.
        send(&mut eng, w, &["MULTI"]);
        send(&mut eng, w, &["INCR", "n"]);
        send(&mut eng, w, &["LPUSH", "l", "x"]);
        assert_eq!(send(&mut eng, w, &["EXEC"]), b"*2\r\n:1\r\n:1\r\n");
        let mut tx = req(&["MULTI"]);
        tx.extend(req(&["INCR", "n"]));
        tx.extend(req(&["LPUSH", "l", "x"]));
        tx.extend(req(&["EXEC"]));
        assert_eq!(out(&mut eng, r), tx);
        let seen = (want.len() + tx.len()) as i64;
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", &seen.to_string()]));
        // The link drops; writes go on; the replica comes back with PSYNC id offset+1.
        eng.disconnect(r);
        assert_eq!(info(&mut eng, "connected_slaves"), "0");
        send(&mut eng, w, &["SELECT", "3"]);
        send(&mut eng, w, &["SET", "b", "2"]);
        let (r2, got) = attach(&mut eng, &id, seen + 1);
        let mut missed = format!("+CONTINUE {id}\r\n").into_bytes();
        missed.extend(req(&["SELECT", "3"]));
        missed.extend(req(&["SET", "b", "2"]));
        assert_eq!(got, missed);
        assert_eq!(info(&mut eng, "sync_partial_ok"), "1");
        assert_eq!(info(&mut eng, "sync_full"), "1");
        // And it streams at once.
        send(&mut eng, w, &["DEL", "b"]);
        assert_eq!(out(&mut eng, r2), req(&["DEL", "b"]));
    }

    #[test]
    fn sync_pipelined_behind_another_reply_is_refused_as_pending_output() {
        let mut eng = engine(&[]);
        for psync in [&["SYNC"][..], &["PSYNC", "?", "-1"][..]] {
            let r = client(&mut eng);
            let mut pipe = req(&["REPLCONF", "listening-port", "6380"]);
            pipe.extend(req(psync));
            pipe.extend(req(&["PING"]));
            eng.feed(T0, r, &pipe);
            assert_eq!(
                out(&mut eng, r),
                b"+OK\r\n-ERR SYNC and PSYNC are invalid with pending output\r\n+PONG\r\n"
            );
            eng.disconnect(r);
        }
        assert_eq!(info(&mut eng, "sync_full"), "0");
        assert_eq!(info(&mut eng, "connected_slaves"), "0");
    }

    /// A host whose BGSAVE "file" is kept in memory: it serves it by ranges (never whole)
    /// and records the reads.
    #[derive(Default, Clone)]
    pub(crate) struct FileHost {
        pub file: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
        pub reads: std::rc::Rc<std::cell::RefCell<Vec<usize>>>,
        pub open: std::rc::Rc<std::cell::Cell<i32>>,
        /// remove_rdb calls that found a file.
        pub removed: std::rc::Rc<std::cell::Cell<i32>>,
        /// A replica's temp file while its sync payload arrives, and the sizes written to it.
        pub tmp: std::rc::Rc<std::cell::RefCell<Option<Vec<u8>>>>,
        pub writes: std::rc::Rc<std::cell::RefCell<Vec<usize>>>,
    }

    impl crate::rdb::persist::PersistHost for FileHost {
        fn save(
            &mut self,
            _: &[crate::keyspace::Db],
            _: &crate::rdb::SaveOptions,
        ) -> Result<(), String> {
            Ok(())
        }
        fn bgsave(
            &mut self,
            dbs: &[crate::keyspace::Db],
            o: &crate::rdb::SaveOptions,
        ) -> Result<(), String> {
            *self.file.borrow_mut() = crate::rdb::encode_to_vec(dbs, o);
            Ok(())
        }
        fn bgrewriteaof(
            &mut self,
            _: &[crate::keyspace::Db],
            _: &crate::rdb::SaveOptions,
            _: &[u8],
        ) -> Result<(), String> {
            Ok(())
        }
        fn read_rdb(&mut self) -> Result<Vec<u8>, String> {
            panic!("the sync file is read whole");
        }
        fn open_sync_rdb(&mut self) -> Result<Option<(u64, u64)>, String> {
            self.open.set(self.open.get() + 1);
            Ok(Some((7, self.file.borrow().len() as u64)))
        }
        fn read_sync_rdb(&mut self, h: u64, off: u64, len: usize) -> Result<Vec<u8>, String> {
            assert_eq!(h, 7);
            self.reads.borrow_mut().push(len);
            let f = self.file.borrow();
            let end = (off as usize + len).min(f.len());
            Ok(f[off as usize..end].to_vec())
        }
        fn close_sync_rdb(&mut self, h: u64) {
            assert_eq!(h, 7);
            self.open.set(self.open.get() - 1);
        }
        fn create_sync_tmp(&mut self) -> Result<bool, String> {
            *self.tmp.borrow_mut() = Some(Vec::new());
            Ok(true)
        }
        fn write_sync_tmp(&mut self, bytes: &[u8]) -> Result<(), String> {
            self.writes.borrow_mut().push(bytes.len());
            let mut tmp = self.tmp.borrow_mut();
            tmp.as_mut().ok_or("no temp file")?.extend_from_slice(bytes);
            Ok(())
        }
        fn commit_sync_tmp(&mut self) -> Result<(), String> {
            let tmp = self.tmp.borrow_mut().take().ok_or("no temp file")?;
            *self.file.borrow_mut() = tmp;
            Ok(())
        }
        fn discard_sync_tmp(&mut self) {
            self.tmp.borrow_mut().take();
        }
        fn remove_rdb(&mut self) -> bool {
            let had = !self.file.borrow().is_empty();
            self.file.borrow_mut().clear();
            if had {
                self.removed.set(self.removed.get() + 1);
            }
            had
        }
        fn prepare_shutdown(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn a_disk_sync_sends_the_rdb_file_a_chunk_at_a_time_then_the_stream() {
        let mut eng = engine(&[("repl-diskless-sync", "no")]);
        let file = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let reads = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let open = std::rc::Rc::new(std::cell::Cell::new(0));
        eng.set_persist_host(Box::new(FileHost {
            file: file.clone(),
            reads: reads.clone(),
            open: open.clone(),
            ..Default::default()
        }));
        let w = client(&mut eng);
        // Values LZF cannot shrink.
        let mut x: u64 = 1;
        for i in 0..100 {
            let big: String = (0..60)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("{:016x}", x >> 1)
                })
                .collect();
            send(&mut eng, w, &["SET", &format!("k{i}"), &big]);
        }
        let (r, got) = attach(&mut eng, "?", -1);
        assert!(got.starts_with(b"+FULLRESYNC "));
        eng.bgsave_done(T0, true);
        assert_eq!(
            info(&mut eng, "slave0").split(',').nth(2),
            Some("state=send_bulk")
        );
        // Written meanwhile: after the file.
        send(&mut eng, w, &["SET", "late", "1"]);
        let rdb = file.borrow().clone();
        assert!(rdb.len() > 50_000, "{}", rdb.len());
        let mut got = Vec::new();
        let mut pulls = 0;
        while eng.has_output(r) {
            let mut o = Vec::new();
            eng.drain_output(r, &mut o);
            assert!(o.len() <= super::BULK_CHUNK + 200, "{}", o.len());
            got.extend(o);
            pulls += 1;
        }
        let head = format!("${}\r\n", rdb.len());
        assert!(got.starts_with(head.as_bytes()));
        assert_eq!(&got[head.len()..head.len() + rdb.len()], &rdb[..]);
        let mut stream = req(&["SELECT", "0"]);
        stream.extend(req(&["SET", "late", "1"]));
        assert_eq!(&got[head.len() + rdb.len()..], &stream[..]);
        assert!(pulls > rdb.len() / super::BULK_CHUNK, "{pulls}");
        assert!(reads.borrow().iter().all(|&n| n <= super::BULK_CHUNK));
        assert_eq!(open.get(), 0, "the file is closed once sent");
        assert_eq!(
            info(&mut eng, "slave0").split(',').nth(2),
            Some("state=online")
        );
        // Online: the stream follows directly.
        send(&mut eng, w, &["DEL", "late"]);
        assert_eq!(out(&mut eng, r), req(&["DEL", "late"]));
        // A replica that goes away mid-file closes it.
        let (r2, _) = attach(&mut eng, "?", -1);
        eng.bgsave_done(T0, true);
        assert_eq!(open.get(), 1);
        let mut o = Vec::new();
        eng.drain_output(r2, &mut o);
        eng.disconnect(r2);
        assert_eq!(open.get(), 0);
    }

    #[test]
    fn rdb_del_sync_files_removes_the_sync_rdb_once_sent_without_persistence() {
        for (save, removed) in [("", 1), ("3600 1", 0)] {
            let mut eng = engine(&[
                ("repl-diskless-sync", "no"),
                ("rdb-del-sync-files", "yes"),
                ("save", save),
            ]);
            let host = FileHost::default();
            eng.set_persist_host(Box::new(host.clone()));
            let w = client(&mut eng);
            send(&mut eng, w, &["SET", "k", "v"]);
            let (r, _) = attach(&mut eng, "?", -1);
            eng.bgsave_done(T0, true);
            // Not while the file is being sent.
            eng.tick(UnixMillis(T0.0 + 1000));
            assert_eq!(host.removed.get(), 0);
            while eng.has_output(r) {
                out(&mut eng, r);
            }
            eng.tick(UnixMillis(T0.0 + 2000));
            assert_eq!(host.removed.get(), removed, "save '{save}'");
        }
    }

    #[test]
    fn backlog_overrun_and_unknown_id_mean_a_full_resync() {
        let mut eng = engine(&[("repl-backlog-size", "100")]);
        let w = client(&mut eng);
        let (r, got) = attach(&mut eng, "?", -1);
        let (id, _, _) = parse_fullresync(&got);
        eng.disconnect(r);
        for i in 0..20 {
            send(&mut eng, w, &["SET", "key", &i.to_string()]);
        }
        assert_eq!(info(&mut eng, "repl_backlog_histlen"), "100");
        // CONFIG SET shrinks it to its newest bytes.
        assert_eq!(
            send(&mut eng, w, &["CONFIG", "SET", "repl-backlog-size", "60"]),
            b"+OK\r\n"
        );
        assert_eq!(info(&mut eng, "repl_backlog_histlen"), "60");
        let (_, got) = attach(&mut eng, &id, 1);
        assert!(got.starts_with(b"+FULLRESYNC "));
        let (_, got) = attach(&mut eng, &"f".repeat(40), 1);
        assert!(got.starts_with(b"+FULLRESYNC "));
        assert_eq!(info(&mut eng, "sync_partial_err"), "2");
        assert_eq!(info(&mut eng, "sync_full"), "3");
    }

    #[test]
    fn sync_gets_the_length_prefixed_rdb_then_the_stream() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        send(&mut eng, w, &["SET", "k", "v"]);
        let r = client(&mut eng);
        let got = send(&mut eng, r, &["SYNC"]);
        assert_eq!(got[0], b'$', "no +FULLRESYNC line for SYNC");
        let nl = got.iter().position(|&b| b == b'\n').unwrap();
        let len: usize = std::str::from_utf8(&got[1..nl - 1])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(got.len(), nl + 1 + len);
        assert!(got[nl + 1..].starts_with(b"REDIS0010"));
        send(&mut eng, w, &["SET", "k", "w"]);
        let mut want = req(&["SELECT", "0"]);
        want.extend(req(&["SET", "k", "w"]));
        assert_eq!(out(&mut eng, r), want);
    }

    #[test]
    fn wait_blocks_until_the_replica_acks() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        assert_eq!(send(&mut eng, w, &["WAIT", "0", "0"]), b":0\r\n");
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        send(&mut eng, w, &["SET", "k", "v"]);
        let stream = out(&mut eng, r);
        let off = info(&mut eng, "master_repl_offset");
        assert_eq!(stream.len().to_string(), off);
        // Blocks, and asks the replicas for an ACK.
        assert_eq!(send(&mut eng, w, &["WAIT", "1", "0"]), b"");
        assert_eq!(out(&mut eng, r), req(&["REPLCONF", "GETACK", "*"]));
        // An ACK short of the write does not answer it; one that covers it does.
        assert_eq!(send(&mut eng, r, &["REPLCONF", "ACK", "1"]), b"");
        assert_eq!(out(&mut eng, w), b"");
        send(&mut eng, r, &["REPLCONF", "ACK", &off]);
        assert_eq!(out(&mut eng, w), b":1\r\n");
        // Already acked: at once (its offset is its last command's, the blocked WAIT's).
        assert_eq!(send(&mut eng, w, &["WAIT", "1", "0"]), b":1\r\n");
        // Asking for 2: the timeout answers with the count of replicas that acked its
        // offset, which now includes the GETACK sent for the first WAIT.
        assert_eq!(send(&mut eng, w, &["WAIT", "2", "100"]), b"");
        let all = info(&mut eng, "master_repl_offset");
        assert_ne!(all, off);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", &all]));
        assert_eq!(out(&mut eng, w), b"");
        eng.tick(UnixMillis(T0.0 + 100));
        assert_eq!(out(&mut eng, w), b":1\r\n");
        assert_eq!(
            send(&mut eng, w, &["WAIT", "1", "-1"]),
            b"-ERR timeout is negative\r\n"
        );
    }

    #[test]
    fn shutdown_waits_for_a_lagging_replica_pausing_writes_and_abort_cancels_it() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        send(&mut eng, w, &["SET", "k", "v"]);
        out(&mut eng, r);
        assert_eq!(
            send(&mut eng, w, &["SHUTDOWN", "ABORT"]),
            b"-ERR No shutdown in progress.\r\n"
        );
        let wid = String::from_utf8(send(&mut eng, w, &["CLIENT", "ID"])).unwrap();
        let wid = wid.trim_start_matches(':').trim_end().to_string();
        // The replica has not acked the SET: SHUTDOWN blocks, asks for an ACK, pauses writes.
        assert_eq!(send(&mut eng, w, &["SHUTDOWN"]), b"");
        assert!(!eng.shutdown_requested());
        assert_eq!(out(&mut eng, r), req(&["REPLCONF", "GETACK", "*"]));
        let w2 = client(&mut eng);
        assert_eq!(send(&mut eng, w2, &["SET", "k", "v2"]), b"");
        let w3 = client(&mut eng);
        assert_eq!(send(&mut eng, w3, &["GET", "k"]), b"$1\r\nv\r\n");
        // A second SHUTDOWN waits with the first; CLIENT UNBLOCK does not release them.
        assert_eq!(send(&mut eng, w3, &["SHUTDOWN"]), b"");
        let a0 = client(&mut eng);
        assert_eq!(send(&mut eng, a0, &["CLIENT", "UNBLOCK", &wid]), b":0\r\n");
        // ABORT: the waiting clients get the error, the held write runs.
        let a = client(&mut eng);
        assert_eq!(send(&mut eng, a, &["SHUTDOWN", "ABORT"]), b"+OK\r\n");
        let err = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n";
        assert_eq!(out(&mut eng, w), err);
        assert_eq!(out(&mut eng, w3), err);
        eng.tick(T0);
        assert_eq!(out(&mut eng, w2), b"+OK\r\n");
        assert!(!eng.shutdown_requested());
        // Again; this time the replica acks everything and the cron lets the server exit.
        assert_eq!(send(&mut eng, w, &["SHUTDOWN", "NOSAVE"]), b"");
        let off = info(&mut eng, "master_repl_offset");
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", &off]));
        eng.tick(UnixMillis(T0.0 + 1000));
        assert!(eng.shutdown_requested());
    }

    #[test]
    fn shutdown_gives_up_on_a_replica_after_the_timeout_and_now_does_not_wait() {
        let mut eng = engine(&[("shutdown-timeout", "2")]);
        let w = client(&mut eng);
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        send(&mut eng, w, &["SET", "k", "v"]);
        assert_eq!(send(&mut eng, w, &["SHUTDOWN"]), b"");
        eng.tick(UnixMillis(T0.0 + 1000));
        assert!(!eng.shutdown_requested());
        eng.tick(UnixMillis(T0.0 + 2000));
        assert!(eng.shutdown_requested());
        // NOW skips the wait; shutdown-timeout 0 too.
        for (cfg, args) in [("2", &["SHUTDOWN", "NOW"][..]), ("0", &["SHUTDOWN"][..])] {
            let mut eng = engine(&[("shutdown-timeout", cfg)]);
            let w = client(&mut eng);
            attach(&mut eng, "?", -1);
            send(&mut eng, w, &["SET", "k", "v"]);
            assert_eq!(send(&mut eng, w, args), b"");
            assert!(eng.shutdown_requested(), "{args:?} {cfg}");
        }
        // Without replicas, at once.
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        assert_eq!(send(&mut eng, w, &["SHUTDOWN"]), b"");
        assert!(eng.shutdown_requested());
    }

    /// The host's ConnectMaster request: (host, port, attempt).
    fn connect_request(eng: &mut Engine) -> (String, u16, u64) {
        while let Some(ev) = eng.poll_event() {
            if let crate::Event::ConnectMaster {
                host,
                port,
                attempt,
            } = ev
            {
                return (host, port, attempt);
            }
        }
        panic!("no ConnectMaster event");
    }

    /// Moves bytes both ways between a connection's two ends until neither has output.
    fn wire(now: UnixMillis, a: &mut Engine, ca: ClientHandle, b: &mut Engine, cb: ClientHandle) {
        for _ in 0..100 {
            let (x, y) = (out(a, ca), out(b, cb));
            if x.is_empty() && y.is_empty() {
                return;
            }
            b.feed(now, cb, &x);
            a.feed(now, ca, &y);
        }
        panic!("the link never went quiet");
    }

    #[test]
    fn failover_errors_wait_for_sync_abort_and_timeout() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        let err = |t: &str| format!("-ERR {t}\r\n").into_bytes();
        assert_eq!(
            send(&mut eng, w, &["FAILOVER"]),
            err("FAILOVER requires connected replicas.")
        );
        assert_eq!(
            send(&mut eng, w, &["FAILOVER", "ABORT"]),
            err("No failover in progress.")
        );
        assert_eq!(
            send(&mut eng, w, &["FAILOVER", "TIMEOUT", "0"]),
            err("FAILOVER timeout must be greater than 0")
        );
        assert_eq!(
            send(&mut eng, w, &["FAILOVER", "FORCE", "FORCE"]),
            err("syntax error")
        );
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        send(&mut eng, w, &["SET", "k", "v"]);
        assert_eq!(
            send(&mut eng, w, &["FAILOVER", "FORCE", "TIMEOUT", "10"]),
            err("FAILOVER with force option requires both a timeout and target HOST and IP.")
        );
        assert_eq!(
            send(&mut eng, w, &["FAILOVER", "TO", "127.0.0.1", "6381"]),
            err("FAILOVER target HOST and PORT is not a replica.")
        );
        // Waiting for the replica to ack the SET: writes are held, ABORT lets them go.
        assert_eq!(
            send(&mut eng, w, &["FAILOVER", "TO", "127.0.0.1", "6380"]),
            b"+OK\r\n"
        );
        assert_eq!(info(&mut eng, "master_failover_state"), "waiting-for-sync");
        assert_eq!(
            send(&mut eng, w, &["FAILOVER"]),
            err("FAILOVER already in progress.")
        );
        assert_eq!(
            send(&mut eng, w, &["REPLICAOF", "127.0.0.1", "1"]),
            err("REPLICAOF not allowed while failing over.")
        );
        let w2 = client(&mut eng);
        assert_eq!(send(&mut eng, w2, &["SET", "k", "v2"]), b"");
        eng.tick(UnixMillis(T0.0 + 5000));
        assert_eq!(info(&mut eng, "master_failover_state"), "waiting-for-sync");
        assert_eq!(send(&mut eng, w, &["FAILOVER", "ABORT"]), b"+OK\r\n");
        assert_eq!(info(&mut eng, "master_failover_state"), "no-failover");
        eng.tick(UnixMillis(T0.0 + 5000));
        assert_eq!(out(&mut eng, w2), b"+OK\r\n");
        // A timeout without FORCE gives up.
        assert_eq!(
            send_at(
                &mut eng,
                UnixMillis(T0.0 + 5000),
                w,
                &["FAILOVER", "TIMEOUT", "100"]
            ),
            b"+OK\r\n"
        );
        eng.tick(UnixMillis(T0.0 + 5100));
        assert_eq!(info(&mut eng, "master_failover_state"), "no-failover");
        assert_eq!(info(&mut eng, "role"), "master");
    }

    #[test]
    fn failover_force_after_the_timeout_then_abort_or_a_refusing_target() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        send(&mut eng, w, &["SET", "k", "v"]);
        while eng.poll_event().is_some() {}
        let failover = [
            "FAILOVER",
            "TO",
            "127.0.0.1",
            "6380",
            "FORCE",
            "TIMEOUT",
            "100",
        ];
        assert_eq!(send(&mut eng, w, &failover), b"+OK\r\n");
        eng.tick(UnixMillis(T0.0 + 50));
        assert_eq!(info(&mut eng, "master_failover_state"), "waiting-for-sync");
        // The replica never acked: FORCE fails over anyway once the timeout passed.
        eng.tick(UnixMillis(T0.0 + 100));
        assert_eq!(
            info(&mut eng, "master_failover_state"),
            "failover-in-progress"
        );
        assert_eq!(info(&mut eng, "role"), "slave");
        let (host, port, _) = connect_request(&mut eng);
        assert_eq!((host.as_str(), port), ("127.0.0.1", 6380));
        // ABORT: a master again, writes flow.
        assert_eq!(send(&mut eng, w, &["FAILOVER", "ABORT"]), b"+OK\r\n");
        assert_eq!(info(&mut eng, "role"), "master");
        assert_eq!(info(&mut eng, "master_failover_state"), "no-failover");
        assert_eq!(send(&mut eng, w, &["SET", "k", "v2"]), b"+OK\r\n");
        // Again (ABORT dropped the replicas: one attaches anew), and this time the target
        // refuses PSYNC ... FAILOVER: aborted as well.
        attach(&mut eng, "?", -1);
        let t = UnixMillis(T0.0 + 1000);
        eng.tick(t);
        assert_eq!(send_at(&mut eng, t, w, &failover), b"+OK\r\n");
        let t = UnixMillis(T0.0 + 2000);
        eng.tick(t);
        let (_, _, attempt) = connect_request(&mut eng);
        let link = eng
            .master_link_connected(t, attempt, ConnInfo::default())
            .unwrap();
        assert_eq!(out(&mut eng, link), req(&["PING"]));
        eng.feed(t, link, b"+PONG\r\n");
        out(&mut eng, link);
        eng.feed(t, link, b"+OK\r\n+OK\r\n");
        let psync = String::from_utf8(out(&mut eng, link)).unwrap();
        assert!(psync.ends_with("$8\r\nFAILOVER\r\n"), "{psync:?}");
        eng.feed(
            t,
            link,
            b"-ERR PSYNC FAILOVER replid must match my replid.\r\n",
        );
        assert_eq!(info(&mut eng, "role"), "master");
        assert_eq!(info(&mut eng, "master_failover_state"), "no-failover");
    }

    #[test]
    fn failover_hands_the_master_role_to_a_synced_replica() {
        // a: the master; b: its replica (an Oxidis engine, listening on 6380).
        let mut a = engine(&[]);
        let mut b = engine(&[("replica-announce-port", "6380")]);
        let bc = client(&mut b);
        assert_eq!(
            send(&mut b, bc, &["REPLICAOF", "127.0.0.1", "6379"]),
            b"+OK\r\n"
        );
        let (_, _, attempt) = connect_request(&mut b);
        let blink = b
            .master_link_connected(T0, attempt, ConnInfo::default())
            .unwrap();
        let ar = client(&mut a);
        let mut now = T0;
        for _ in 0..3 {
            wire(now, &mut a, ar, &mut b, blink);
            now = UnixMillis(now.0 + 1000);
            a.tick(now);
            b.tick(now);
        }
        wire(now, &mut a, ar, &mut b, blink);
        assert_eq!(info(&mut b, "master_link_status"), "up");
        let aw = client(&mut a);
        send(&mut a, aw, &["SET", "k", "before"]);
        assert_eq!(send(&mut a, aw, &["FAILOVER"]), b"+OK\r\n");
        // b acks on its cron; a then becomes b's replica and asks it to take over.
        wire(now, &mut a, ar, &mut b, blink);
        now = UnixMillis(now.0 + 1000);
        b.tick(now);
        wire(now, &mut a, ar, &mut b, blink);
        a.tick(now);
        assert_eq!(
            info(&mut a, "master_failover_state"),
            "failover-in-progress"
        );
        assert_eq!(info(&mut a, "role"), "slave");
        let (host, port, attempt) = connect_request(&mut a);
        assert_eq!((host.as_str(), port), ("127.0.0.1", 6380));
        let alink = a
            .master_link_connected(now, attempt, ConnInfo::default())
            .unwrap();
        let br = client(&mut b);
        for _ in 0..3 {
            wire(now, &mut b, br, &mut a, alink);
            now = UnixMillis(now.0 + 1000);
            a.tick(now);
            b.tick(now);
        }
        assert_eq!(info(&mut b, "role"), "master");
        assert_eq!(info(&mut a, "role"), "slave");
        assert_eq!(info(&mut a, "master_failover_state"), "no-failover");
        assert_eq!(info(&mut a, "master_link_status"), "up");
        // A partial resync: no full sync on the new master; its writes reach the old one.
        assert_eq!(info(&mut b, "sync_full"), "0");
        assert_eq!(info(&mut b, "sync_partial_ok"), "1");
        let bw = client(&mut b);
        assert_eq!(send(&mut b, bw, &["SET", "k", "after"]), b"+OK\r\n");
        wire(now, &mut b, br, &mut a, alink);
        let ac = client(&mut a);
        assert_eq!(send(&mut a, ac, &["GET", "k"]), b"$5\r\nafter\r\n");
    }

    #[test]
    fn min_replicas_to_write_refuses_writes_without_good_replicas() {
        let mut eng = engine(&[("min-replicas-to-write", "1")]);
        let w = client(&mut eng);
        assert_eq!(
            send(&mut eng, w, &["SET", "k", "v"]),
            b"-NOREPLICAS Not enough good replicas to write.\r\n"
        );
        assert_eq!(send(&mut eng, w, &["GET", "k"]), b"$-1\r\n");
        assert_eq!(info(&mut eng, "min_slaves_good_slaves"), "0");
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        assert_eq!(send(&mut eng, w, &["SET", "k", "v"]), b"+OK\r\n");
        assert_eq!(info(&mut eng, "min_slaves_good_slaves"), "1");
        // Past min-replicas-max-lag (10 s) without an ACK, writes stop again.
        let later = UnixMillis(T0.0 + 12_000);
        eng.tick(later);
        assert_eq!(
            send_at(&mut eng, later, w, &["SET", "k", "v"]),
            b"-NOREPLICAS Not enough good replicas to write.\r\n"
        );
    }

    /// Reads `$EOF:<mark>\r\n<rdb><mark>` (after keepalive newlines): the RDB.
    fn eof_payload(b: &[u8]) -> Vec<u8> {
        let start = b.iter().position(|&c| c != b'\n').unwrap();
        let rest = &b[start..];
        assert!(
            rest.starts_with(b"$EOF:"),
            "{}",
            String::from_utf8_lossy(rest)
        );
        let mark = &rest[5..45];
        let body = &rest[47..];
        assert!(body.ends_with(mark));
        body[..body.len() - 40].to_vec()
    }

    #[test]
    fn rdb_only_replicas_get_the_filtered_rdb_without_the_stream_then_close() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        send(&mut eng, w, &["SET", "k", "v"]);
        // As `redis-cli --rdb` asks: capa eof, rdb-only 1, SYNC: every key, then closed.
        let r = client(&mut eng);
        assert_eq!(send(&mut eng, r, &["REPLCONF", "capa", "eof"]), b"+OK\r\n");
        assert_eq!(
            send(&mut eng, r, &["REPLCONF", "rdb-only", "1"]),
            b"+OK\r\n"
        );
        let rdb = eof_payload(&send(&mut eng, r, &["SYNC"]));
        let mut copy = Engine::new(Config::default(), 1);
        copy.import_rdb(&rdb, T0).unwrap();
        let c = client(&mut copy);
        assert_eq!(send(&mut copy, c, &["GET", "k"]), b"$1\r\nv\r\n");
        assert!(eng.should_close(r), "closed once the RDB is sent");
        send(&mut eng, w, &["SET", "k2", "v2"]);
        assert_eq!(out(&mut eng, r), b"", "no stream for an rdb-only replica");
        assert_eq!(info(&mut eng, "slave0"), "", "not listed once transmitted");
        // rdb-filter-only "": no data at all (even with repl-diskless-sync no: a socket).
        send(&mut eng, w, &["CONFIG", "SET", "repl-diskless-sync", "no"]);
        let r2 = client(&mut eng);
        send(&mut eng, r2, &["REPLCONF", "capa", "eof"]);
        send(&mut eng, r2, &["REPLCONF", "rdb-only", "1"]);
        assert_eq!(
            send(&mut eng, r2, &["REPLCONF", "rdb-filter-only", ""]),
            b"+OK\r\n"
        );
        let rdb = eof_payload(&send(&mut eng, r2, &["SYNC"]));
        let mut copy = Engine::new(Config::default(), 1);
        copy.import_rdb(&rdb, T0).unwrap();
        let c = client(&mut copy);
        assert_eq!(send(&mut copy, c, &["DBSIZE"]), b":0\r\n");
        // A filter needs the EOF form.
        let r3 = client(&mut eng);
        send(&mut eng, r3, &["REPLCONF", "rdb-filter-only", "functions"]);
        assert_eq!(
            send(&mut eng, r3, &["SYNC"]),
            b"-ERR Filtered replica requires EOF capability\r\n"
        );
        assert_eq!(
            send(&mut eng, r3, &["REPLCONF", "rdb-filter-only", "keys"]),
            b"-ERR Unsupported rdb-filter-only option: keys\r\n"
        );
    }

    #[test]
    fn replication_buffer_memory_and_traffic_as_redis_counts_them() {
        let mut eng = engine(&[]);
        let w = client(&mut eng);
        let num = |eng: &mut Engine, f: &str| info(eng, f).parse::<u64>().unwrap();
        assert_eq!(num(&mut eng, "mem_total_replication_buffers"), 0);
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        let sent = num(&mut eng, "total_net_repl_output_bytes");
        assert!(sent > 0, "the RDB went to the replica");
        let out0 = num(&mut eng, "total_net_output_bytes");
        // One write: one 16 KB block, all of it the backlog's.
        send(&mut eng, w, &["SET", "k", "v"]);
        assert_eq!(
            num(&mut eng, "mem_total_replication_buffers"),
            super::REPL_BLOCK_MEM
        );
        assert_eq!(
            num(&mut eng, "mem_replication_backlog"),
            super::REPL_BLOCK_MEM
        );
        assert_eq!(num(&mut eng, "mem_clients_slaves"), 0);
        // The replica reads nothing while 1.2 MB flow: past the backlog's size, the rest is
        // the replica's (mem_clients_slaves), as MEMORY STATS says too.
        let v = "x".repeat(1000);
        for i in 0..1200 {
            send(&mut eng, w, &["SET", &format!("k{i}"), &v]);
        }
        let total = num(&mut eng, "mem_total_replication_buffers");
        assert!(total > 1_200_000, "{total}");
        assert_eq!(num(&mut eng, "mem_replication_backlog"), 1 << 20);
        assert_eq!(num(&mut eng, "mem_clients_slaves"), total - (1 << 20));
        let c = client(&mut eng);
        let stats = String::from_utf8(send(&mut eng, c, &["MEMORY", "STATS"])).unwrap();
        assert!(
            stats.contains("$19\r\nreplication.backlog\r\n:1048576\r\n"),
            "{stats}"
        );
        // overhead.total counts both (getMemoryOverheadData); aof.buffer is the AOF's only.
        let stat = |name: &str| -> u64 {
            let key = format!("${}\r\n{name}\r\n:", name.len());
            let at = stats
                .find(&key)
                .unwrap_or_else(|| panic!("{name}: {stats}"))
                + key.len();
            stats[at..stats[at..].find('\r').unwrap() + at]
                .parse()
                .unwrap()
        };
        assert_eq!(stat("aof.buffer"), 0);
        assert_eq!(stat("clients.slaves"), total - (1 << 20));
        let parts = [
            "startup.allocated",
            "replication.backlog",
            "clients.slaves",
            "clients.normal",
            "cluster.links",
            "aof.buffer",
            "lua.caches",
            "functions.caches",
            "overhead.hashtable.main",
            "overhead.hashtable.expires",
        ];
        let sum: u64 = parts.iter().map(|p| stat(p)).sum();
        assert_eq!(stat("overhead.total"), sum, "{stats}");
        // freeMemoryGetNotCountedMemory: what exceeds the backlog and its block headers.
        assert_eq!(
            num(&mut eng, "mem_not_counted_for_evict"),
            total - (1 << 20) - (64 + 1) * 64
        );
        // What it then reads counts as replication output, not as normal output.
        let got = out(&mut eng, r).len() as u64;
        assert!(got > 1_200_000);
        assert_eq!(num(&mut eng, "total_net_repl_output_bytes"), sent + got);
        assert!(num(&mut eng, "total_net_output_bytes") < out0 + 1_000_000);
        // Caught up: the buffer is the backlog's 64 blocks, their headers past
        // repl-backlog-size counted as the replicas' (as redis-server shows after a load).
        assert_eq!(
            num(&mut eng, "mem_total_replication_buffers"),
            64 * super::REPL_BLOCK_MEM
        );
        assert_eq!(num(&mut eng, "mem_clients_slaves"), 64 * 40);
    }

    #[test]
    fn a_replica_past_its_output_limit_is_closed_and_the_rdb_does_not_count() {
        let mut eng = engine(&[("client-output-buffer-limit", "replica 300 0 0")]);
        let w = client(&mut eng);
        // An RDB bigger than the limit is not counted.
        let big: String = (0..1000u64)
            .map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        send(&mut eng, w, &["SET", "big", &big]);
        let (r, got) = attach(&mut eng, "?", -1);
        assert!(got.len() > 1000);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        send(&mut eng, w, &["SET", "a", "1"]);
        assert!(!eng.should_close(r));
        // Unsent stream past the limit closes it.
        send(&mut eng, w, &["SET", "b", &"y".repeat(400)]);
        assert!(eng.should_close(r));
    }

    #[test]
    fn diskless_sync_waits_its_delay_or_enough_replicas_then_serves_them_together() {
        let mut eng = engine(&[
            ("repl-diskless-sync-delay", "5"),
            ("repl-diskless-sync-max-replicas", "2"),
        ]);
        let (a, got) = attach(&mut eng, "?", -1);
        assert_eq!(got, b"", "waits for the delay");
        assert_eq!(
            info(&mut eng, "slave0"),
            "ip=127.0.0.1,port=6380,state=wait_bgsave,offset=0,lag=0"
        );
        // Newlines keep it from timing out meanwhile.
        let t1 = UnixMillis(T0.0 + 1000);
        eng.tick(t1);
        assert_eq!(out(&mut eng, a), b"\n");
        // A second replica makes two: the next cron starts one RDB for both.
        let (b, got) = attach(&mut eng, "?", -1);
        assert_eq!(got, b"");
        eng.tick(UnixMillis(T0.0 + 2000));
        // (after this cron's keepalive newline)
        let (oa, ob) = (out(&mut eng, a), out(&mut eng, b));
        let (ida, offa, _) = parse_fullresync(oa.strip_prefix(b"\n").unwrap());
        let (idb, offb, _) = parse_fullresync(ob.strip_prefix(b"\n").unwrap());
        assert_eq!((ida, offa), (idb, offb));
        assert_eq!(info(&mut eng, "sync_full"), "2");
    }

    #[test]
    fn publish_goes_to_the_replicas_and_not_to_the_aof() {
        let mut eng = engine(&[]);
        eng.set_propagation(true); // as with appendonly yes
        let w = client(&mut eng);
        let (r, _) = attach(&mut eng, "?", -1);
        eng.feed(T0, r, &req(&["REPLCONF", "ACK", "0"]));
        assert_eq!(out(&mut eng, r), b"");
        send(&mut eng, w, &["PUBLISH", "ch", "m"]);
        let mut want = req(&["SELECT", "0"]);
        want.extend(req(&["PUBLISH", "ch", "m"]));
        assert_eq!(out(&mut eng, r), want);
        send(&mut eng, w, &["MULTI"]);
        send(&mut eng, w, &["PUBLISH", "ch", "m2"]);
        send(&mut eng, w, &["SET", "k", "v"]);
        send(&mut eng, w, &["EXEC"]);
        let mut want = req(&["MULTI"]);
        want.extend(req(&["PUBLISH", "ch", "m2"]));
        want.extend(req(&["SET", "k", "v"]));
        want.extend(req(&["EXEC"]));
        assert_eq!(out(&mut eng, r), want);
        let mut aof = Vec::new();
        eng.take_propagated(&mut aof);
        let mut want = req(&["SELECT", "0"]);
        want.extend(req(&["MULTI"]));
        want.extend(req(&["SET", "k", "v"]));
        want.extend(req(&["EXEC"]));
        assert_eq!(aof, want);
    }

    #[test]
    fn replconf_errors_and_role() {
        let mut eng = engine(&[]);
        let c = client(&mut eng);
        assert_eq!(
            send(&mut eng, c, &["REPLCONF", "capa"]),
            b"-ERR syntax error\r\n"
        );
        assert_eq!(
            send(&mut eng, c, &["REPLCONF", "nope", "1"]),
            b"-ERR Unrecognized REPLCONF option: nope\r\n"
        );
        assert_eq!(
            send(&mut eng, c, &["REPLCONF", "listening-port", "x"]),
            b"-ERR value is not an integer or out of range\r\n"
        );
        // ACK from a client that is not a replica: no reply.
        assert_eq!(send(&mut eng, c, &["REPLCONF", "ack", "5"]), b"");
        assert_eq!(
            send(&mut eng, c, &["ROLE"]),
            b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
        );
        let (r, _) = attach(&mut eng, "?", -1);
        send(&mut eng, r, &["REPLCONF", "ACK", "0"]);
        assert_eq!(
            send(&mut eng, c, &["ROLE"]),
            b"*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$1\r\n0\r\n"
        );
        // A replica may not touch the keyspace.
        assert_eq!(
            send(&mut eng, r, &["GET", "k"]),
            b"-ERR Replica can't interact with the keyspace\r\n"
        );
        let list = String::from_utf8(send(&mut eng, c, &["CLIENT", "LIST"])).unwrap();
        assert!(list.contains("flags=S"), "{list}");
        assert_eq!(info(&mut eng, "connected_clients"), "2");
    }

    #[test]
    fn pings_every_period_and_the_backlog_expires_without_replicas() {
        let mut eng = engine(&[("repl-ping-replica-period", "2"), ("repl-backlog-ttl", "5")]);
        let (r, _) = attach(&mut eng, "?", -1);
        send(&mut eng, r, &["REPLCONF", "ACK", "0"]);
        let mut pings = 0;
        for s in 1..=6 {
            let now = UnixMillis(T0.0 + s * 1000);
            eng.tick(now);
            eng.feed(now, r, &req(&["REPLCONF", "ACK", "0"]));
            let o = out(&mut eng, r);
            pings += o.windows(4).filter(|w| w == b"PING").count();
        }
        assert_eq!(pings, 3);
        eng.disconnect(r);
        let id = info(&mut eng, "master_replid");
        eng.tick(UnixMillis(T0.0 + 13_000));
        assert_eq!(info(&mut eng, "repl_backlog_active"), "0");
        assert_ne!(info(&mut eng, "master_replid"), id);
    }
}
