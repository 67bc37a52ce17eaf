//! Redis Cluster (Redis 7.0's cluster.c), sans-I/O. The node's view of the cluster (nodes,
//! epochs, the slot table, migrations: [`Cluster`]) and everything that changes it live here;
//! the host only moves bus bytes, opens the connections the core asks for, writes the
//! nodes.conf text it is handed and passes time in, so many nodes can run in one process
//! (the simulation test, the wasm playground).
//!
//! - `slot`: key → hash slot (CRC16, hash tags).
//! - `bus`: the cluster bus's binary messages (clusterMsg), encoded and decoded exactly as
//!   redis-server 7.0 writes them.
//! - `nodes_conf`: the node list as CLUSTER NODES prints it and nodes.conf stores it (written
//!   and loaded).
//! - `state`: the protocol: handshakes, gossip, PFAIL → FAIL, epochs, replica elections and
//!   manual failover, UPDATE, the cron and before-sleep work, the link table.
//! - command/cluster.rs (not here): the CLUSTER command family, ASKING / READONLY /
//!   READWRITE, redirections (getNodeByQuery), MIGRATE.
//!
//! A node exists only when `cluster-enabled yes` (`Server::cluster` is None otherwise).

// The skeleton the cluster work fills in: some parts are not read yet.
#![allow(dead_code)]

pub mod bus;
mod cron;
pub mod describe;
pub mod failover;
mod links;
pub mod nodes_conf;
pub mod ops;
pub mod slot;
pub mod state;

use std::collections::HashMap;

pub const SLOTS: usize = 16384;
/// Node names are 40 hex characters (a SHA1's size), as Redis's CLUSTER_NAMELEN.
pub const NAMELEN: usize = 40;
pub type NodeName = [u8; NAMELEN];
/// The bus port is the client port plus this, unless `cluster-port` says otherwise.
pub const PORT_INCR: u16 = 10000;

/// clusterNode's flags (CLUSTER_NODE_*), the same bits as on the bus.
pub mod flags {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;
}

/// The host's nodes.conf (cluster-config-file): CLUSTER SAVECONFIG writes it through this
/// before it replies, as clusterSaveConfig(1) does, and reports the write's error. The other
/// saves (CLUSTER_TODO_SAVE_CONFIG) go through `Engine::cluster_config_to_save`, which the host
/// calls before it writes the replies of a loop turn (clusterBeforeSleep's order).
pub trait ClusterConfigHost {
    /// Writes `text` as clusterSaveConfig does (fsync when asked). Err: the system's text
    /// ("No such file or directory").
    fn save(&mut self, text: &str, fsync: bool) -> Result<(), String>;
}

/// A bus connection, as the host and the core name it (an index in `Cluster::links`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkHandle(pub usize);

/// clusterLink: one TCP connection of the bus, outbound (we opened it toward `node`) or
/// inbound (accepted; `node` known once its first message names the sender).
#[derive(Debug)]
pub struct Link {
    pub ctime: u64,
    pub node: Option<NodeName>,
    pub inbound: bool,
    /// Bytes received and not yet a whole message.
    pub rcvbuf: Vec<u8>,
    /// Bytes the host has yet to write (`Engine::cluster_link_output`).
    pub sndbuf: Vec<u8>,
    /// Outbound only: the host is still connecting.
    pub connecting: bool,
    /// The peer's address as the host saw it (inbound: where a MEET came from).
    pub peer_ip: String,
    /// Our own address on this connection (connSockName: how a MEET's receiver learns its
    /// IP); empty when the host did not say.
    pub local_ip: String,
    /// Bytes the host holds that its socket has not taken yet (`Engine::cluster_link_unsent`):
    /// with `sndbuf`, what Redis's link->sndbuf holds (CLUSTER LINKS' `w` and buffer use).
    pub unsent: usize,
    /// What Redis's link->sndbuf would have allocated (sdsalloc: grown greedily by
    /// sdsMakeRoomFor under jemalloc's size classes, trimmed by the cron): CLUSTER LINKS'
    /// `send-buffer-allocated` and what cluster-link-sendbuf-limit compares.
    pub sndbuf_alloc: usize,
    /// What Redis's link->rcvbuf_alloc would be: RCVBUF_INIT_LEN, grown to twice what a partial
    /// message needs (plus 1 MB past 1 MB) and back to RCVBUF_INIT_LEN after each whole one.
    /// Redis reads a message in its own chunk sizes, so mid-message this is an estimate.
    pub rcvbuf_alloc: usize,
}

/// clusterReadHandler's RCVBUF_INIT_LEN and RCVBUF_MAX_PREALLOC.
pub(crate) const RCVBUF_INIT_LEN: usize = 1024;
const RCVBUF_MAX_PREALLOC: usize = 1 << 20;
/// sizeof(clusterLink) in 7.0 on a 64-bit build.
const CLUSTER_LINK_SIZE: usize = 64;

impl Link {
    /// Redis's rcvbuf growth when a read leaves `self.rcvbuf` beyond its allocation.
    pub(crate) fn grow_rcvbuf(&mut self) {
        let required = self.rcvbuf.len();
        if required > self.rcvbuf_alloc {
            self.rcvbuf_alloc = if required < RCVBUF_MAX_PREALLOC {
                required * 2
            } else {
                required + RCVBUF_MAX_PREALLOC
            };
        }
    }

    /// getClusterLinkMemUsage: the link, its send buffer's and its receive buffer's
    /// allocations (INFO's mem_cluster_links, MEMORY STATS' cluster.links).
    pub(crate) fn mem_usage(&self) -> usize {
        CLUSTER_LINK_SIZE + self.sndbuf_alloc + self.rcvbuf_alloc
    }
}

/// sdsempty()'s allocation: jemalloc's 8-byte class less the type-8 header and the NUL.
pub(crate) const EMPTY_SDS_ALLOC: usize = 4;

/// jemalloc's usable size for a request of `size` bytes (5.x, 16-byte quantum: four
/// classes per doubling above 64 bytes).
fn je_usable(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    if size <= 64 {
        return size.div_ceil(16) * 16;
    }
    let k = usize::BITS - 1 - (size - 1).leading_zeros();
    let step = 1usize << (k - 2);
    size.div_ceil(step) * step
}

/// sdsReqType's header size and the type's largest length.
fn sds_header(len: usize) -> (usize, usize) {
    if len < 1 << 8 {
        (3, (1 << 8) - 1)
    } else if len < 1 << 16 {
        (5, (1 << 16) - 1)
    } else if (len as u64) < 1 << 32 {
        (9, usize::try_from(u32::MAX).unwrap_or(usize::MAX))
    } else {
        (17, usize::MAX)
    }
}

/// sdsMakeRoomFor (greedy) on a buffer of `len` bytes in `alloc`, for `add` more: the new
/// allocation.
pub(crate) fn sds_make_room(alloc: usize, len: usize, add: usize) -> usize {
    if alloc.saturating_sub(len) >= add {
        return alloc;
    }
    const SDS_MAX_PREALLOC: usize = 1024 * 1024;
    let mut newlen = len + add;
    if newlen < SDS_MAX_PREALLOC {
        newlen *= 2;
    } else {
        newlen += SDS_MAX_PREALLOC;
    }
    let (hdr, max) = sds_header(newlen);
    (je_usable(hdr + newlen + 1) - hdr - 1).min(max)
}

/// clusterNodeFailReport.
#[derive(Clone, Debug)]
pub struct FailReport {
    pub node: NodeName,
    pub time: u64,
}

/// clusterNode: what this node knows of one node of the cluster (itself included).
#[derive(Clone, Debug)]
pub struct Node {
    pub ctime: u64,
    pub name: NodeName,
    /// `flags::*`.
    pub flags: u16,
    pub config_epoch: u64,
    /// The slots it serves, a bit per slot as on the bus (bit `slot & 7` of byte `slot >> 3`).
    pub slots: Box<[u8; SLOTS / 8]>,
    pub numslots: u32,
    /// Its master, when it is a replica and we know that master.
    pub replicaof: Option<NodeName>,
    /// Its replicas, when it is a master.
    pub replicas: Vec<NodeName>,
    pub last_in_ping_gossip: u64,
    pub ping_sent: u64,
    pub pong_received: u64,
    pub data_received: u64,
    pub fail_time: u64,
    pub voted_time: u64,
    pub repl_offset_time: u64,
    pub orphaned_time: u64,
    pub repl_offset: i64,
    pub ip: String,
    pub hostname: String,
    /// Client port (the TLS one when tls-cluster), plaintext port, bus port.
    pub port: u16,
    pub pport: u16,
    pub cport: u16,
    pub link: Option<LinkHandle>,
    pub inbound_link: Option<LinkHandle>,
    pub fail_reports: Vec<FailReport>,
}

impl Node {
    pub fn new(name: NodeName, flags: u16, now: u64) -> Node {
        Node {
            ctime: now,
            name,
            flags,
            config_epoch: 0,
            slots: Box::new([0; SLOTS / 8]),
            numslots: 0,
            replicaof: None,
            replicas: Vec::new(),
            last_in_ping_gossip: 0,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset_time: 0,
            orphaned_time: 0,
            repl_offset: 0,
            ip: String::new(),
            hostname: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            link: None,
            inbound_link: None,
            fail_reports: Vec::new(),
        }
    }

    pub fn has_slot(&self, slot: u16) -> bool {
        self.slots[slot as usize >> 3] & (1 << (slot & 7)) != 0
    }
    pub fn is_master(&self) -> bool {
        self.flags & flags::MASTER != 0
    }
    pub fn is_replica(&self) -> bool {
        self.flags & flags::SLAVE != 0
    }
    pub fn in_handshake(&self) -> bool {
        self.flags & flags::HANDSHAKE != 0
    }
    pub fn failed(&self) -> bool {
        self.flags & flags::FAIL != 0
    }
    pub fn timed_out(&self) -> bool {
        self.flags & flags::PFAIL != 0
    }
}

/// clusterState's `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    Fail,
}

/// Redis's `cant_failover_reason` (CLUSTER_CANT_FAILOVER_*).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CantFailover {
    #[default]
    None,
    DataAge,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

/// clusterState: this node's view of the cluster.
pub struct Cluster {
    pub myself: NodeName,
    pub current_epoch: u64,
    pub state: Health,
    /// Masters serving at least one slot.
    pub size: u32,
    pub nodes: HashMap<NodeName, Node>,
    /// Forgotten nodes not re-added from gossip until the time given (CLUSTER FORGET's 60 s).
    pub blacklist: HashMap<NodeName, u64>,
    pub migrating_slots_to: Box<[Option<NodeName>; SLOTS]>,
    pub importing_slots_from: Box<[Option<NodeName>; SLOTS]>,
    /// Who serves each slot.
    pub slots: Box<[Option<NodeName>; SLOTS]>,
    /// Elections (replica side).
    pub failover_auth_time: u64,
    pub failover_auth_count: u32,
    pub failover_auth_sent: bool,
    pub failover_auth_rank: u32,
    pub failover_auth_epoch: u64,
    pub cant_failover_reason: CantFailover,
    /// Manual failover: deadline (0: none), the replica doing it (master side), the master's
    /// offset to reach (-1: not received yet) and whether voting can start (replica side).
    pub mf_end: u64,
    pub mf_replica: Option<NodeName>,
    pub mf_master_offset: i64,
    pub mf_can_start: bool,
    /// Elections (master side).
    pub last_vote_epoch: u64,
    /// CLUSTER_TODO_* for the next before-sleep.
    pub todo_before_sleep: u32,
    pub stats_bus_messages_sent: [u64; bus::TYPE_COUNT],
    pub stats_bus_messages_received: [u64; bus::TYPE_COUNT],
    pub stats_pfail_nodes: u64,
    pub stat_cluster_links_buffer_limit_exceeded: u64,
    /// stat_cluster_links_memory: the nodes' links' memory, summed by the cron.
    pub stat_cluster_links_memory: usize,
    pub owner_not_claiming_slot: Box<[u8; SLOTS / 8]>,
    /// Bus connections; `LinkHandle` indexes it.
    pub links: slab::Slab<Link>,
    /// The nodes.conf text must be written (and fsynced when `config_fsync`): the host takes it
    /// with `Engine::cluster_config_to_save`.
    pub config_dirty: bool,
    pub config_fsync: bool,
    /// clusterCron's bookkeeping: when it last ran (it runs every 100 ms whatever the tick
    /// rate) and how many times (the random PING each tenth run).
    pub cron_last: u64,
    pub cron_iteration: u64,
    /// clusterSendPing's static counter (a node is gossiped once per message).
    pub pings_sent: u64,
    /// clusterUpdateState's statics: its first call (the writable delay) and when we were
    /// last among the minority (the rejoin delay).
    pub first_call_time: u64,
    pub among_minority_time: u64,
    /// clusterUpdateMyselfIp's static: the cluster-announce-ip last applied.
    pub prev_announce_ip: Option<String>,
    /// clusterLogCantFailover's static: when the reason was last logged.
    pub cant_failover_logged: u64,
    /// Slots this node's shard stopped serving (clusterDelSlot's removeChannelsInSlot): their
    /// shard channels are unsubscribed by `ops::remove_lost_channels`.
    pub lost_channel_slots: Vec<u16>,
}

/// CLUSTER_TODO_* flags.
pub mod todo {
    pub const HANDLE_FAILOVER: u32 = 1;
    pub const UPDATE_STATE: u32 = 2;
    pub const SAVE_CONFIG: u32 = 4;
    pub const FSYNC_CONFIG: u32 = 8;
    pub const HANDLE_MANUALFAILOVER: u32 = 16;
}

impl Cluster {
    /// A fresh node (no nodes.conf): a master with a random name and no slots.
    pub fn new(myself: NodeName, now: u64) -> Cluster {
        let mut nodes = HashMap::new();
        nodes.insert(
            myself,
            Node::new(myself, flags::MYSELF | flags::MASTER, now),
        );
        Cluster {
            myself,
            current_epoch: 0,
            state: Health::Fail,
            size: 0,
            nodes,
            blacklist: HashMap::new(),
            migrating_slots_to: slot_table(),
            importing_slots_from: slot_table(),
            slots: slot_table(),
            failover_auth_time: 0,
            failover_auth_count: 0,
            failover_auth_sent: false,
            failover_auth_rank: 0,
            failover_auth_epoch: 0,
            cant_failover_reason: CantFailover::None,
            mf_end: 0,
            mf_replica: None,
            mf_master_offset: -1,
            mf_can_start: false,
            last_vote_epoch: 0,
            todo_before_sleep: 0,
            stats_bus_messages_sent: [0; bus::TYPE_COUNT],
            stats_bus_messages_received: [0; bus::TYPE_COUNT],
            stats_pfail_nodes: 0,
            stat_cluster_links_buffer_limit_exceeded: 0,
            stat_cluster_links_memory: 0,
            owner_not_claiming_slot: Box::new([0; SLOTS / 8]),
            links: slab::Slab::new(),
            config_dirty: true,
            config_fsync: true,
            cron_last: 0,
            cron_iteration: 0,
            pings_sent: 0,
            first_call_time: 0,
            among_minority_time: 0,
            prev_announce_ip: None,
            lost_channel_slots: Vec::new(),
            cant_failover_logged: 0,
        }
    }

    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }
    pub fn me_mut(&mut self) -> &mut Node {
        self.nodes
            .get_mut(&self.myself)
            .expect("myself is always a node")
    }
    /// The master serving `slot`, if any.
    pub fn slot_owner(&self, slot: u16) -> Option<&Node> {
        self.slots[slot as usize].and_then(|n| self.nodes.get(&n))
    }
    /// clusterAddSlot: false when the slot is already served.
    pub fn add_slot(&mut self, node: &NodeName, slot: u16) -> bool {
        if self.slots[slot as usize].is_some() {
            return false;
        }
        let Some(n) = self.nodes.get_mut(node) else {
            return false;
        };
        n.slots[slot as usize >> 3] |= 1 << (slot & 7);
        n.numslots += 1;
        let first = n.numslots == 1;
        self.slots[slot as usize] = Some(*node);
        // clusterNodeSetSlotBit: a master getting its first slot is a replica migration
        // target when some master has replicas.
        if first && self.masters_have_replicas() {
            if let Some(n) = self.nodes.get_mut(node) {
                n.flags |= flags::MIGRATE_TO;
            }
        }
        true
    }
    /// clusterMastersHaveSlaves.
    pub fn masters_have_replicas(&self) -> bool {
        self.nodes
            .values()
            .any(|n| !n.is_replica() && !n.replicas.is_empty())
    }
    /// clusterDelSlot: false when nobody served it.
    pub fn del_slot(&mut self, slot: u16) -> bool {
        let Some(owner) = self.slots[slot as usize] else {
            return false;
        };
        // clusterGetNodesServingMySlots(owner) holds myself: the owner's shard is ours.
        let shard = |n: &NodeName| {
            self.nodes.get(n).and_then(|n| {
                if n.is_replica() {
                    n.replicaof
                } else {
                    Some(n.name)
                }
            })
        };
        let mine =
            shard(&owner).is_some_and(|m| m == self.myself || shard(&self.myself) == Some(m));
        if mine {
            self.lost_channel_slots.push(slot);
        }
        self.slots[slot as usize] = None;
        if let Some(n) = self.nodes.get_mut(&owner) {
            if n.has_slot(slot) {
                n.slots[slot as usize >> 3] &= !(1 << (slot & 7));
                n.numslots -= 1;
            }
        }
        true
    }
    /// Asks the before-sleep to save nodes.conf (and fsync it) and update the state.
    pub fn todo(&mut self, what: u32) {
        self.todo_before_sleep |= what;
    }
}

/// An empty per-slot table, built on the heap: `Box::new([None; SLOTS])` (672 KB) goes
/// through the stack in debug builds, which overflows a test thread's or wasm's stack.
fn slot_table() -> Box<[Option<NodeName>; SLOTS]> {
    vec![None; SLOTS]
        .into_boxed_slice()
        .try_into()
        .expect("SLOTS entries")
}

/// A new node's name: 40 random hex digits (getRandomHexChars).
pub fn random_name(rng: &mut crate::rng::Rng) -> NodeName {
    let mut name = [0u8; NAMELEN];
    for b in name.iter_mut() {
        *b = b"0123456789abcdef"[(rng.next_u64() & 15) as usize];
    }
    name
}

/// Whether the node is a cluster node at all (`cluster-enabled yes`).
pub fn enabled(srv: &crate::engine::Server) -> bool {
    srv.cluster.is_some()
}

impl crate::engine::Engine {
    /// This node's name (CLUSTER MYID) when `cluster-enabled yes`: the host logs it at start
    /// ("No cluster configuration found, I'm ...", "Node configuration loaded, I'm ...").
    pub fn cluster_myself(&self) -> Option<String> {
        let c = self.srv.cluster.as_ref()?;
        Some(String::from_utf8_lossy(&c.myself).into_owned())
    }

    /// verifyClusterConfigWithData, after the data is loaded at startup (a master only): keys
    /// outside db 0 are refused (Err: the line Redis logs before exiting); slots holding keys
    /// are claimed when unassigned, or set importing when another node serves them.
    pub fn cluster_verify_config_with_data(&mut self) -> Result<(), String> {
        if !self
            .srv
            .cluster
            .as_ref()
            .is_some_and(|c| c.me().is_master())
        {
            return Ok(());
        }
        if (1..self.db_count()).any(|db| self.db_size(db).unwrap_or(0) > 0) {
            return Err(
                "You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting."
                    .into(),
            );
        }
        let srv = &mut self.srv;
        let mut update = false;
        for slot in 0..SLOTS as u16 {
            if crate::command::cluster::count_keys_in_slot(srv, slot) == 0 {
                continue;
            }
            let c = srv.cluster.as_mut().expect("checked");
            let me = c.myself;
            let owner = c.slots[slot as usize];
            if owner == Some(me) || c.importing_slots_from[slot as usize].is_some() {
                continue;
            }
            update = true;
            let line = if owner.is_none() {
                c.add_slot(&me, slot);
                format!("I have keys for unassigned slot {slot}. Taking responsibility for it.")
            } else {
                c.importing_slots_from[slot as usize] = owner;
                format!(
                    "I have keys for slot {slot}, but the slot is assigned to another node. \
                     Setting it to importing state."
                )
            };
            srv.events.push_back(crate::engine::Event::Log(line));
        }
        if update {
            let c = srv.cluster.as_mut().expect("checked");
            c.config_dirty = true;
            c.config_fsync = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod sds_tests {
    use super::*;

    /// Figures read from redis-server 7.0.15 (jemalloc 5.3): CLUSTER LINKS showed
    /// send-buffer-allocated 5114 for a first 2256-byte PING queued on an empty buffer.
    #[test]
    fn sds_growth_as_redis_under_jemalloc() {
        assert_eq!(je_usable(4), 8);
        assert_eq!(je_usable(17), 32);
        assert_eq!(je_usable(4518), 5120);
        assert_eq!(je_usable(16385), 20480);
        assert_eq!(sds_make_room(EMPTY_SDS_ALLOC, 0, 2256), 5114);
        assert_eq!(sds_make_room(0, 0, 2256), 5114);
        // Room left: unchanged.
        assert_eq!(sds_make_room(5114, 2256, 2256), 5114);
        // Small: a type-8 header, capped at 255.
        assert_eq!(sds_make_room(0, 0, 100), 220);
        assert_eq!(sds_make_room(0, 0, 127), 255);
    }

    /// redis-server 7.0.15 in a settled 3-master cluster: INFO mem_cluster_links 4352 on each
    /// node, i.e. four links (two out, two in) of 64 + 0 (send buffer trimmed) + 1024.
    #[test]
    fn link_memory_as_redis() {
        let mut l = Link {
            ctime: 0,
            node: None,
            inbound: true,
            rcvbuf: Vec::new(),
            sndbuf: Vec::new(),
            connecting: false,
            peer_ip: String::new(),
            local_ip: String::new(),
            unsent: 0,
            sndbuf_alloc: 0,
            rcvbuf_alloc: RCVBUF_INIT_LEN,
        };
        assert_eq!(4 * l.mem_usage(), 4352);
        // A partial message larger than the buffer: twice what it needs.
        l.rcvbuf = vec![0; 2256];
        l.grow_rcvbuf();
        assert_eq!(l.rcvbuf_alloc, 4512);
        l.rcvbuf = vec![0; 3000];
        l.grow_rcvbuf();
        assert_eq!(l.rcvbuf_alloc, 4512);
        l.rcvbuf = vec![0; 2 << 20];
        l.grow_rcvbuf();
        assert_eq!(l.rcvbuf_alloc, 3 << 20);
    }
}
