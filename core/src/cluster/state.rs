//! The cluster protocol (cluster.c's clusterProcessPacket, clusterCron, clusterBeforeSleep and
//! their helpers), sans-I/O: bus bytes in through `Engine::cluster_link_input`, bytes out
//! through the links' send buffers, connections requested with `Event::ConnectClusterNode`,
//! time from the host. The operations the CLUSTER commands need (MEET, FORGET, RESET,
//! REPLICATE, FAILOVER, SETSLOT NODE, epochs) are here too, so the commands only parse and
//! reply. Elections, manual failover and replica migration are in `failover.rs`.
//!
//! While a protocol step runs, the `Cluster` is taken out of the `Server` (`with`), so the
//! steps get both at once; nothing they call looks at `srv.cluster`.

use super::bus::{self, Body, Gossip, Header, Message, PingExt};
use super::failover;
use super::{flags, todo, Cluster, FailReport, Health, Link, LinkHandle, Node, NodeName};
use super::{NAMELEN, SLOTS};
use crate::engine::{Client, Event, Server};

// The CLUSTER commands call them here (their first home).
#[allow(unused_imports)]
pub use super::cron::{before_sleep, cron};
// The link API runs the before-sleep work after each input.
pub(crate) use super::cron::cluster_before_sleep;
// The CLUSTER commands call them here (their first home).
#[allow(unused_imports)]
pub use super::ops::{
    bump_epoch, forget, manual_failover, meet, propagate_publish, replicate, reset,
    set_config_epoch, set_slot_node, FailoverMode,
};
use crate::time::UnixMillis;

pub(crate) type Clients = slab::Slab<Client>;

/// CLUSTER_NODE_NULL_NAME: a master's `slaveof` on the bus.
pub const NULL_NAME: NodeName = [0; NAMELEN];
/// CLUSTER_FAIL_REPORT_VALIDITY_MULT, CLUSTER_FAIL_UNDO_TIME_MULT.
const FAIL_REPORT_VALIDITY_MULT: u64 = 2;
const FAIL_UNDO_TIME_MULT: u64 = 2;
/// CLUSTER_BLACKLIST_TTL (60 s), in ms.
const BLACKLIST_TTL_MS: u64 = 60_000;
/// clusterUpdateState's CLUSTER_MAX_REJOIN_DELAY, CLUSTER_MIN_REJOIN_DELAY,
/// CLUSTER_WRITABLE_DELAY.
const MAX_REJOIN_DELAY: u64 = 5000;
const MIN_REJOIN_DELAY: u64 = 500;
const WRITABLE_DELAY: u64 = 2000;
/// clusterCron's period.
pub const CRON_PERIOD_MS: u64 = 100;

/// Runs `f` with the cluster taken out of the server (None when not a cluster node).
pub(crate) fn with<R>(
    srv: &mut Server,
    f: impl FnOnce(&mut Cluster, &mut Server) -> R,
) -> Option<R> {
    let mut c = srv.cluster.take()?;
    let r = f(&mut c, srv);
    srv.cluster = Some(c);
    Some(r)
}

/// cluster-node-timeout, ms.
pub(crate) fn node_timeout(srv: &Server) -> u64 {
    srv.config.cluster_node_timeout.max(0) as u64
}

pub(crate) fn name_str(n: &NodeName) -> String {
    String::from_utf8_lossy(n).into_owned()
}

pub(crate) fn bit(bitmap: &[u8; SLOTS / 8], slot: usize) -> bool {
    bitmap[slot >> 3] & (1 << (slot & 7)) != 0
}

/// 64 slots of a bitmap at once: bit k of word w is slot 64w + k (as `bit`).
pub(crate) fn word(bitmap: &[u8; SLOTS / 8], w: usize) -> u64 {
    u64::from_le_bytes(bitmap[w * 8..w * 8 + 8].try_into().expect("8 bytes"))
}

fn set_word(bitmap: &mut [u8; SLOTS / 8], w: usize, v: u64) {
    bitmap[w * 8..w * 8 + 8].copy_from_slice(&v.to_le_bytes());
}

/// The slots whose bits are set in `bits` (word `w` of a bitmap), in order.
fn word_slots(w: usize, mut bits: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            w * 64 + k
        })
    })
}

fn set_bit(bitmap: &mut [u8; SLOTS / 8], slot: usize) {
    bitmap[slot >> 3] |= 1 << (slot & 7);
}

fn clear_bit(bitmap: &mut [u8; SLOTS / 8], slot: usize) {
    bitmap[slot >> 3] &= !(1 << (slot & 7));
}

pub(crate) fn log(srv: &mut Server, line: String) {
    srv.events.push_back(Event::Log(line));
}

impl Cluster {
    pub(crate) fn node(&self, n: &NodeName) -> &Node {
        &self.nodes[n]
    }
    pub(crate) fn node_mut(&mut self, n: &NodeName) -> &mut Node {
        self.nodes.get_mut(n).expect("a known node")
    }
    pub(crate) fn flags_of(&self, n: &NodeName) -> u16 {
        self.nodes.get(n).map_or(0, |n| n.flags)
    }
    /// The node names in a fixed order (the map's own order is not deterministic), so the
    /// same inputs give the same behaviour.
    pub(crate) fn sorted_names(&self) -> Vec<NodeName> {
        let mut v: Vec<NodeName> = self.nodes.keys().copied().collect();
        v.sort_unstable();
        v
    }
    pub(crate) fn is_master(&self, n: &NodeName) -> bool {
        self.flags_of(n) & flags::MASTER != 0
    }
    pub(crate) fn is_replica(&self, n: &NodeName) -> bool {
        self.flags_of(n) & flags::SLAVE != 0
    }
    pub(crate) fn my_master(&self) -> Option<NodeName> {
        self.me().replicaof
    }
    /// isSlotUnclaimed.
    pub(crate) fn slot_unclaimed(&self, slot: usize) -> bool {
        self.slots[slot].is_none() || bit(&self.owner_not_claiming_slot, slot)
    }
    /// clusterGetMaxEpoch.
    pub(crate) fn max_epoch(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch)
    }
}

// ---------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------

/// clusterNodeAddFailureReport: true when the report is new.
fn add_failure_report(c: &mut Cluster, failing: &NodeName, sender: &NodeName, now: u64) -> bool {
    let n = c.node_mut(failing);
    if let Some(fr) = n.fail_reports.iter_mut().find(|f| f.node == *sender) {
        fr.time = now;
        return false;
    }
    n.fail_reports.push(FailReport {
        node: *sender,
        time: now,
    });
    true
}

/// clusterNodeCleanupFailureReports.
fn cleanup_failure_reports(n: &mut Node, node_timeout: u64, now: u64) {
    let maxtime = node_timeout * FAIL_REPORT_VALIDITY_MULT;
    n.fail_reports
        .retain(|f| now.saturating_sub(f.time) <= maxtime);
}

/// clusterNodeDelFailureReport.
fn del_failure_report(n: &mut Node, sender: &NodeName, node_timeout: u64, now: u64) -> bool {
    let Some(i) = n.fail_reports.iter().position(|f| f.node == *sender) else {
        return false;
    };
    n.fail_reports.remove(i);
    cleanup_failure_reports(n, node_timeout, now);
    true
}

/// clusterNodeFailureReportsCount.
pub(crate) fn failure_reports_count(n: &mut Node, node_timeout: u64, now: u64) -> usize {
    cleanup_failure_reports(n, node_timeout, now);
    n.fail_reports.len()
}

/// clusterNodeRemoveSlave.
pub(crate) fn remove_replica(c: &mut Cluster, master: &NodeName, replica: &NodeName) -> bool {
    let Some(m) = c.nodes.get_mut(master) else {
        return false;
    };
    let Some(i) = m.replicas.iter().position(|r| r == replica) else {
        return false;
    };
    m.replicas.remove(i);
    if m.replicas.is_empty() {
        m.flags &= !flags::MIGRATE_TO;
    }
    true
}

/// clusterNodeAddSlave.
pub(crate) fn add_replica(c: &mut Cluster, master: &NodeName, replica: &NodeName) -> bool {
    let Some(m) = c.nodes.get_mut(master) else {
        return false;
    };
    if m.replicas.contains(replica) {
        return false;
    }
    m.replicas.push(*replica);
    m.flags |= flags::MIGRATE_TO;
    true
}

/// clusterCountNonFailingSlaves.
pub(crate) fn count_non_failing_replicas(c: &Cluster, n: &NodeName) -> usize {
    c.node(n)
        .replicas
        .iter()
        .filter(|r| c.flags_of(r) & flags::FAIL == 0)
        .count()
}

/// clusterDelNode (with freeClusterNode): its slots unassigned, its failure reports about
/// others dropped, its links closed.
pub(crate) fn del_node(c: &mut Cluster, srv: &mut Server, name: &NodeName, now: u64) {
    for j in 0..SLOTS {
        if c.importing_slots_from[j] == Some(*name) {
            c.importing_slots_from[j] = None;
        }
        if c.migrating_slots_to[j] == Some(*name) {
            c.migrating_slots_to[j] = None;
        }
        if c.slots[j] == Some(*name) {
            c.del_slot(j as u16);
        }
    }
    let timeout = node_timeout(srv);
    for n in c.nodes.values_mut() {
        if n.name != *name {
            del_failure_report(n, name, timeout, now);
        }
    }
    let Some(node) = c.nodes.get(name) else {
        return;
    };
    let replicas = node.replicas.clone();
    let master = node.replicaof.filter(|_| node.is_replica());
    for r in replicas {
        if let Some(r) = c.nodes.get_mut(&r) {
            r.replicaof = None;
        }
    }
    if let Some(m) = master {
        remove_replica(c, &m, name);
    }
    let node = c.nodes.remove(name).expect("checked above");
    if let Some(l) = node.link {
        free_link(c, srv, l, true);
    }
    if let Some(l) = node.inbound_link {
        free_link(c, srv, l, true);
    }
    if c.mf_replica == Some(*name) {
        c.mf_replica = None;
    }
}

/// clusterRenameNode: the handshake node takes the name its PONG gave.
fn rename_node(c: &mut Cluster, old: &NodeName, new: &NodeName) {
    let Some(mut n) = c.nodes.remove(old) else {
        return;
    };
    n.name = *new;
    for h in [n.link, n.inbound_link].into_iter().flatten() {
        if let Some(l) = c.links.get_mut(h.0) {
            l.node = Some(*new);
        }
    }
    c.nodes.insert(*new, n);
}

/// clusterSetNodeAsMaster.
pub(crate) fn set_node_as_master(c: &mut Cluster, n: &NodeName) {
    if c.is_master(n) {
        return;
    }
    let myself = c.myself;
    if let Some(m) = c.node(n).replicaof {
        remove_replica(c, &m, n);
        if *n != myself {
            c.node_mut(n).flags |= flags::MIGRATE_TO;
        }
    }
    let node = c.node_mut(n);
    node.flags &= !flags::SLAVE;
    node.flags |= flags::MASTER;
    node.replicaof = None;
    c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
}

/// clusterDelNodeSlots.
fn del_node_slots(c: &mut Cluster, n: &NodeName) -> usize {
    let mut deleted = 0;
    for j in 0..SLOTS {
        if c.node(n).has_slot(j as u16) {
            c.del_slot(j as u16);
            deleted += 1;
        }
    }
    deleted
}

/// clusterCloseAllSlots.
pub(crate) fn close_all_slots(c: &mut Cluster) {
    c.migrating_slots_to.fill(None);
    c.importing_slots_from.fill(None);
}

/// clusterBlacklistAddNode / clusterBlacklistExists (expired entries dropped first).
fn blacklist_cleanup(c: &mut Cluster, now: u64) {
    c.blacklist.retain(|_, until| *until >= now);
}

/// clusterBlacklistAddNode.
pub(crate) fn blacklist_add(c: &mut Cluster, n: &NodeName, now: u64) {
    blacklist_cleanup(c, now);
    c.blacklist.insert(*n, now + BLACKLIST_TTL_MS);
}

fn blacklisted(c: &mut Cluster, n: &NodeName, now: u64) -> bool {
    blacklist_cleanup(c, now);
    c.blacklist.contains_key(n)
}

/// The keys of db 0 in the slots the filter selects (getKeysInSlot), from the keyspace's
/// per-slot index (keyspace/slots.rs), which cluster mode keeps.
pub(crate) fn keys_in_slots(srv: &Server, want: impl Fn(u16) -> bool) -> Vec<Vec<u8>> {
    let Some((db, ix)) = srv.dbs.first().and_then(|d| Some((d, d.slots.as_deref()?))) else {
        return Vec::new();
    };
    (0..SLOTS as u16)
        .filter(|&s| ix.count(s) > 0 && want(s))
        .flat_map(|s| ix.keys(&db.keys, s, usize::MAX))
        .map(<[u8]>::to_vec)
        .collect()
}

/// delKeysInSlot for a set of slots: the keys go, their deletion propagated as DELs.
pub(crate) fn del_keys_in_slots(srv: &mut Server, slots: &[u16]) {
    let keys = keys_in_slots(srv, |s| slots.contains(&s));
    for k in keys {
        if srv.dbs[0].delete(&k, crate::lazyfree::FreeReason::ServerDel) {
            srv.persist.emit(0, &[b"DEL", &k]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Links and sending
// ---------------------------------------------------------------------------------------

/// createClusterLink: an outbound link to `node` (the host is asked to connect) or an
/// inbound one.
pub(crate) fn create_link(
    c: &mut Cluster,
    node: Option<NodeName>,
    now: u64,
    peer_ip: String,
) -> LinkHandle {
    let inbound = node.is_none();
    let h = LinkHandle(c.links.insert(Link {
        ctime: now,
        node,
        inbound,
        rcvbuf: Vec::new(),
        sndbuf: Vec::new(),
        connecting: !inbound,
        peer_ip,
        local_ip: String::new(),
        unsent: 0,
        sndbuf_alloc: super::EMPTY_SDS_ALLOC,
        rcvbuf_alloc: super::RCVBUF_INIT_LEN,
    }));
    if let Some(n) = node {
        c.node_mut(&n).link = Some(h);
    }
    h
}

/// freeClusterLink: `close` asks the host to close the connection (not needed when the host
/// reported it gone).
pub(crate) fn free_link(c: &mut Cluster, srv: &mut Server, h: LinkHandle, close: bool) {
    if !c.links.contains(h.0) {
        return;
    }
    let l = c.links.remove(h.0);
    if let Some(n) = l.node.and_then(|n| c.nodes.get_mut(&n)) {
        if n.link == Some(h) {
            n.link = None;
        } else if n.inbound_link == Some(h) {
            n.inbound_link = None;
        }
    }
    if close {
        srv.events.push_back(Event::CloseClusterLink(h));
    }
}

/// setClusterNodeToInboundClusterLink.
fn set_inbound_link(c: &mut Cluster, srv: &mut Server, n: &NodeName, h: LinkHandle) {
    if let Some(old) = c.node(n).inbound_link {
        if old != h {
            free_link(c, srv, old, true);
        }
    }
    c.node_mut(n).inbound_link = Some(h);
    if let Some(l) = c.links.get_mut(h.0) {
        l.node = Some(*n);
    }
}

/// clusterSendMessage: queued on the link; the host hears of it when the buffer was empty.
pub(crate) fn send_bytes(
    c: &mut Cluster,
    srv: &mut Server,
    h: Option<LinkHandle>,
    bytes: &[u8],
    type_: u16,
) {
    let Some(h) = h else {
        return;
    };
    let Some(l) = c.links.get_mut(h.0) else {
        return;
    };
    let was_empty = l.sndbuf.is_empty();
    l.sndbuf_alloc = super::sds_make_room(l.sndbuf_alloc, l.sndbuf.len() + l.unsent, bytes.len());
    l.sndbuf.extend_from_slice(bytes);
    if was_empty && !l.sndbuf.is_empty() && !l.connecting {
        srv.events.push_back(Event::ClusterOutput(h));
    }
    if (type_ as usize) < bus::TYPE_COUNT {
        c.stats_bus_messages_sent[type_ as usize] += 1;
    }
}

fn send(c: &mut Cluster, srv: &mut Server, h: Option<LinkHandle>, msg: &Message) {
    if h.is_none() {
        return;
    }
    let bytes = bus::encode(msg);
    send_bytes(c, srv, h, &bytes, msg.header.type_);
}

/// clusterBroadcastMessage: every node we have a link to, but handshaking ones.
pub(crate) fn broadcast(c: &mut Cluster, srv: &mut Server, msg: &Message) {
    let bytes = bus::encode(msg);
    for n in c.sorted_names() {
        let node = c.node(&n);
        if node.flags & (flags::MYSELF | flags::HANDSHAKE) != 0 {
            continue;
        }
        let link = node.link;
        send_bytes(c, srv, link, &bytes, msg.header.type_);
    }
}

/// deriveAnnouncedPorts: (port, pport, cport).
pub(crate) fn announced_ports(srv: &Server) -> (u16, u16, u16) {
    let cfg = &srv.config;
    let tls = cfg.tls_cluster;
    let base = if tls { cfg.tls_port as u16 } else { cfg.port };
    let mut port = base;
    let mut pport = if tls { cfg.port } else { 0 };
    let mut cport = if cfg.cluster_port != 0 {
        cfg.cluster_port as u16
    } else {
        base.wrapping_add(super::PORT_INCR)
    };
    if tls && cfg.cluster_announce_tls_port != 0 {
        port = cfg.cluster_announce_tls_port as u16;
        pport = cfg.cluster_announce_port as u16;
    } else if cfg.cluster_announce_port != 0 {
        port = cfg.cluster_announce_port as u16;
    }
    if cfg.cluster_announce_bus_port != 0 {
        cport = cfg.cluster_announce_bus_port as u16;
    }
    (port, pport, cport)
}

fn announce_ip(srv: &Server) -> String {
    let mut ip = String::from_utf8_lossy(&srv.config.cluster_announce_ip).into_owned();
    ip.truncate(bus::IP_LEN - 1);
    ip
}

/// replicationGetSlaveOffset on a replica, master_repl_offset on a master.
fn my_offset(c: &Cluster, srv: &Server) -> u64 {
    if c.me().is_replica() {
        crate::repl::replica::slave_offset(srv) as u64
    } else {
        srv.repl.master_repl_offset.max(0) as u64
    }
}

/// clusterBuildMessageHdr.
pub(crate) fn build_header(c: &Cluster, srv: &Server, type_: u16) -> Header {
    let me = c.me();
    let master = if me.is_replica() {
        me.replicaof.and_then(|m| c.nodes.get(&m)).unwrap_or(me)
    } else {
        me
    };
    let (port, pport, cport) = announced_ports(srv);
    let mut mflags = [0u8; 3];
    if me.is_master() && c.mf_end != 0 {
        mflags[0] |= bus::FLAG0_PAUSED;
    }
    Header {
        type_,
        count: 0,
        port,
        current_epoch: c.current_epoch,
        config_epoch: master.config_epoch,
        offset: my_offset(c, srv),
        sender: c.myself,
        myslots: master.slots.clone(),
        slaveof: me.replicaof.unwrap_or(NULL_NAME),
        myip: announce_ip(srv),
        pport,
        cport,
        flags: me.flags,
        state: if c.state == Health::Ok { 0 } else { 1 },
        mflags,
    }
}

/// clusterSetGossipEntry.
fn gossip_entry(n: &Node) -> Gossip {
    Gossip {
        nodename: n.name,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// clusterSendPing: a PING, PONG or MEET with gossip about max(3, nodes/10) random nodes
/// (fewer when there are not that many fresh ones), every PFAIL node, and the hostname
/// extension when we announce one.
pub(crate) fn send_ping(c: &mut Cluster, srv: &mut Server, h: LinkHandle, type_: u16, now: u64) {
    let Some(link) = c.links.get(h.0) else {
        return;
    };
    let (inbound, link_node) = (link.inbound, link.node);
    c.pings_sent += 1;
    let stamp = c.pings_sent;
    let total = c.nodes.len() as i64;
    let mut freshnodes = total - 2;
    let mut wanted = (total / 10).max(3);
    if wanted > freshnodes {
        wanted = freshnodes;
    }
    let mut pfail_wanted = c.stats_pfail_nodes;
    if !inbound && type_ == bus::TYPE_PING {
        if let Some(n) = link_node.and_then(|n| c.nodes.get_mut(&n)) {
            n.ping_sent = now;
        }
    }
    let mut header = build_header(c, srv, type_);
    let names = c.sorted_names();
    let mut gossip = Vec::new();
    let mut maxiterations = wanted * 3;
    while freshnodes > 0 && (gossip.len() as i64) < wanted && maxiterations > 0 {
        maxiterations -= 1;
        let pick = names[srv.rng.below(names.len() as u64) as usize];
        let n = c.node_mut(&pick);
        if n.flags & flags::MYSELF != 0 || n.flags & flags::PFAIL != 0 {
            continue;
        }
        if n.flags & (flags::HANDSHAKE | flags::NOADDR) != 0
            || (n.link.is_none() && n.numslots == 0)
        {
            freshnodes -= 1;
            continue;
        }
        if n.last_in_ping_gossip == stamp {
            continue;
        }
        gossip.push(gossip_entry(n));
        n.last_in_ping_gossip = stamp;
        freshnodes -= 1;
    }
    if pfail_wanted > 0 {
        for name in &names {
            if pfail_wanted == 0 {
                break;
            }
            let n = c.node(name);
            if n.flags & (flags::HANDSHAKE | flags::NOADDR) != 0 || n.flags & flags::PFAIL == 0 {
                continue;
            }
            gossip.push(gossip_entry(n));
            pfail_wanted -= 1;
        }
    }
    let mut exts = Vec::new();
    let hostname = &c.me().hostname;
    if !hostname.is_empty() {
        exts.push(PingExt::Hostname(hostname.clone()));
        header.mflags[0] |= bus::FLAG0_EXT_DATA;
    }
    header.count = gossip.len() as u16;
    let msg = Message {
        header,
        body: Body::Ping { gossip, exts },
    };
    send(c, srv, Some(h), &msg);
}

/// clusterBroadcastPong: ALL, or only the replicas of our master ring.
pub(crate) fn broadcast_pong(c: &mut Cluster, srv: &mut Server, local_replicas: bool, now: u64) {
    let myself = c.myself;
    let my_master = c.my_master();
    for name in c.sorted_names() {
        let n = c.node(&name);
        let Some(link) = n.link else {
            continue;
        };
        if name == myself || n.in_handshake() {
            continue;
        }
        if local_replicas {
            let local = n.is_replica()
                && n.replicaof.is_some()
                && (n.replicaof == Some(myself) || n.replicaof == my_master);
            if !local {
                continue;
            }
        }
        send_ping(c, srv, link, bus::TYPE_PONG, now);
    }
}

/// clusterSendFail.
fn send_fail(c: &mut Cluster, srv: &mut Server, about: &NodeName) {
    let msg = Message {
        header: build_header(c, srv, bus::TYPE_FAIL),
        body: Body::Fail { about: *about },
    };
    broadcast(c, srv, &msg);
}

/// clusterSendUpdate: `about`'s slots (less those it stopped claiming) and config epoch.
fn send_update(c: &mut Cluster, srv: &mut Server, h: Option<LinkHandle>, about: &NodeName) {
    if h.is_none() {
        return;
    }
    let n = c.node(about);
    let mut slots = n.slots.clone();
    for (b, not) in slots.iter_mut().zip(c.owner_not_claiming_slot.iter()) {
        *b &= !not;
    }
    let msg = Message {
        header: build_header(c, srv, bus::TYPE_UPDATE),
        body: Body::Update {
            config_epoch: n.config_epoch,
            nodename: *about,
            slots,
        },
    };
    send(c, srv, h, &msg);
}

/// Sends a header-only message (FAILOVER_AUTH_REQUEST / ACK, MFSTART).
pub(crate) fn empty_message(c: &Cluster, srv: &Server, type_: u16) -> Message {
    Message {
        header: build_header(c, srv, type_),
        body: Body::Empty,
    }
}

pub(crate) fn send_to_node(c: &mut Cluster, srv: &mut Server, n: &NodeName, msg: &Message) {
    let link = c.nodes.get(n).and_then(|n| n.link);
    send(c, srv, link, msg);
}

pub(crate) fn broadcast_message(c: &mut Cluster, srv: &mut Server, msg: &Message) {
    broadcast(c, srv, msg);
}

// ---------------------------------------------------------------------------------------
// Failure detection
// ---------------------------------------------------------------------------------------

/// markNodeAsFailingIfNeeded: PFAIL here plus reports from a majority of masters → FAIL,
/// broadcast.
fn mark_failing_if_needed(c: &mut Cluster, srv: &mut Server, name: &NodeName, now: u64) {
    let needed_quorum = c.size as usize / 2 + 1;
    let timeout = node_timeout(srv);
    let me_master = c.me().is_master();
    let n = c.node_mut(name);
    if !n.timed_out() || n.failed() {
        return;
    }
    let mut failures = failure_reports_count(n, timeout, now);
    if me_master {
        failures += 1;
    }
    if failures < needed_quorum {
        return;
    }
    n.flags &= !flags::PFAIL;
    n.flags |= flags::FAIL;
    n.fail_time = now;
    log(
        srv,
        format!(
            "Marking node {} as failing (quorum reached).",
            name_str(name)
        ),
    );
    send_fail(c, srv, name);
    c.todo(todo::UPDATE_STATE | todo::SAVE_CONFIG);
}

/// clearNodeFailureIfNeeded.
fn clear_failure_if_needed(c: &mut Cluster, srv: &Server, name: &NodeName, now: u64) {
    let undo = node_timeout(srv) * FAIL_UNDO_TIME_MULT;
    let n = c.node_mut(name);
    if n.is_replica() || n.numslots == 0 {
        n.flags &= !flags::FAIL;
        c.todo(todo::UPDATE_STATE | todo::SAVE_CONFIG);
    }
    let n = c.node_mut(name);
    if n.is_master() && n.numslots > 0 && now.saturating_sub(n.fail_time) > undo {
        n.flags &= !flags::FAIL;
        c.todo(todo::UPDATE_STATE | todo::SAVE_CONFIG);
    }
}

// ---------------------------------------------------------------------------------------
// Packet processing
// ---------------------------------------------------------------------------------------

/// nodeIp2String: the announced IP, else the link's peer address.
fn node_ip(c: &Cluster, h: LinkHandle, announced: &str) -> Option<String> {
    if !announced.is_empty() {
        return Some(announced.to_string());
    }
    let ip = c.links.get(h.0)?.peer_ip.clone();
    (!ip.is_empty()).then_some(ip)
}

/// nodeUpdateAddressIfNeeded.
fn update_address_if_needed(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    name: &NodeName,
    h: LinkHandle,
    hdr: &Header,
) -> bool {
    if c.node(name).link == Some(h) {
        return false;
    }
    let Some(ip) = node_ip(c, h, &hdr.myip) else {
        return false;
    };
    let n = c.node(name);
    if n.port == hdr.port && n.cport == hdr.cport && n.pport == hdr.pport && n.ip == ip {
        return false;
    }
    let n = c.node_mut(name);
    n.ip = ip;
    n.port = hdr.port;
    n.pport = hdr.pport;
    n.cport = hdr.cport;
    n.flags &= !flags::NOADDR;
    if let Some(l) = n.link {
        free_link(c, srv, l, true);
    }
    let n = c.node(name);
    let line = format!(
        "Address updated for node {}, now {}:{}",
        name_str(name),
        n.ip,
        n.port
    );
    let (ip, port) = (n.ip.clone(), n.port);
    log(srv, line);
    if c.me().is_replica() && c.my_master() == Some(*name) {
        crate::repl::replica::set_master(srv, clients, &ip, port);
    }
    true
}

/// getNodeFromLinkAndMsg.
fn node_from_link_and_msg(
    c: &mut Cluster,
    srv: &mut Server,
    h: LinkHandle,
    hdr: &Header,
) -> Option<NodeName> {
    let link_node = c.links.get(h.0)?.node;
    if let Some(n) = link_node {
        if c.nodes.get(&n).is_some_and(|n| !n.in_handshake()) {
            return Some(n);
        }
    }
    let sender = c.nodes.contains_key(&hdr.sender).then_some(hdr.sender)?;
    if link_node.is_none() {
        set_inbound_link(c, srv, &sender, h);
    }
    Some(sender)
}

/// clusterProcessGossipSection.
fn process_gossip(c: &mut Cluster, srv: &mut Server, h: LinkHandle, msg: &Message, now: u64) {
    let Body::Ping { gossip, .. } = &msg.body else {
        return;
    };
    let sender = c
        .links
        .get(h.0)
        .and_then(|l| l.node)
        .or_else(|| {
            c.nodes
                .contains_key(&msg.header.sender)
                .then_some(msg.header.sender)
        })
        .filter(|s| c.nodes.contains_key(s));
    let timeout = node_timeout(srv);
    let myself = c.myself;
    for g in gossip {
        let gflags = g.flags;
        if c.nodes.contains_key(&g.nodename) {
            if let Some(s) = sender {
                if c.is_master(&s) && g.nodename != myself {
                    if gflags & (flags::FAIL | flags::PFAIL) != 0 {
                        if add_failure_report(c, &g.nodename, &s, now) {
                            log(
                                srv,
                                format!(
                                    "Node {} reported node {} as not reachable.",
                                    name_str(&s),
                                    name_str(&g.nodename)
                                ),
                            );
                        }
                        mark_failing_if_needed(c, srv, &g.nodename, now);
                    } else {
                        let n = c.node_mut(&g.nodename);
                        del_failure_report(n, &s, timeout, now);
                    }
                }
            }
            let n = c.node_mut(&g.nodename);
            if gflags & (flags::FAIL | flags::PFAIL) == 0
                && n.ping_sent == 0
                && failure_reports_count(n, timeout, now) == 0
            {
                let pongtime = u64::from(g.pong_received) * 1000;
                if pongtime <= now + 500 && pongtime > n.pong_received {
                    n.pong_received = pongtime;
                }
            }
            if n.flags & (flags::FAIL | flags::PFAIL) != 0
                && gflags & flags::NOADDR == 0
                && gflags & (flags::FAIL | flags::PFAIL) == 0
                && (!n.ip.eq_ignore_ascii_case(&g.ip) || n.port != g.port || n.cport != g.cport)
            {
                let old = n.link.take();
                n.ip = g.ip.clone();
                n.port = g.port;
                n.pport = g.pport;
                n.cport = g.cport;
                n.flags &= !flags::NOADDR;
                if let Some(l) = old {
                    c.node_mut(&g.nodename).link = Some(l);
                    free_link(c, srv, l, true);
                }
            }
        } else if sender.is_some()
            && gflags & flags::NOADDR == 0
            && !blacklisted(c, &g.nodename, now)
        {
            let mut n = Node::new(g.nodename, gflags, now);
            n.ip = g.ip.clone();
            n.port = g.port;
            n.pport = g.pport;
            n.cport = g.cport;
            c.nodes.insert(g.nodename, n);
        }
    }
}

/// clusterProcessPingExtensions: the hostname (none sent: none announced); unknown types are
/// ignored.
fn process_ping_exts(c: &mut Cluster, sender: &NodeName, msg: &Message) {
    let Body::Ping { exts, .. } = &msg.body else {
        return;
    };
    let mut hostname = String::new();
    for e in exts {
        if let PingExt::Hostname(h) = e {
            hostname = h.clone();
        }
    }
    if let Some(n) = c.nodes.get_mut(sender) {
        n.hostname = hostname;
    }
}

/// clusterProcessPacket for one decoded message. False when the link was freed.
pub(crate) fn process_packet(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    h: LinkHandle,
    msg: &Message,
    now: u64,
) -> bool {
    let hdr = &msg.header;
    let type_ = hdr.type_;
    let hflags = hdr.flags;
    let sender = node_from_link_and_msg(c, srv, h, hdr);
    if let Some(s) = sender {
        c.node_mut(&s).data_received = now;
    }
    let mut sender_current_epoch = 0;
    let mut sender_config_epoch = 0;
    if let Some(s) = sender.filter(|s| !c.node(s).in_handshake()) {
        sender_current_epoch = hdr.current_epoch;
        sender_config_epoch = hdr.config_epoch;
        if sender_current_epoch > c.current_epoch {
            c.current_epoch = sender_current_epoch;
        }
        let n = c.node_mut(&s);
        if sender_config_epoch > n.config_epoch {
            n.config_epoch = sender_config_epoch;
            c.todo(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
        }
        let n = c.node_mut(&s);
        n.repl_offset = hdr.offset as i64;
        n.repl_offset_time = now;
        if c.mf_end != 0
            && c.me().is_replica()
            && c.my_master() == Some(s)
            && hdr.mflags[0] & bus::FLAG0_PAUSED != 0
            && c.mf_master_offset == -1
        {
            c.mf_master_offset = hdr.offset as i64;
            c.todo(todo::HANDLE_MANUALFAILOVER);
            log(
                srv,
                format!(
                    "Received replication offset for paused master manual failover: {}",
                    c.mf_master_offset
                ),
            );
        }
    }

    let ping_like = matches!(type_, bus::TYPE_PING | bus::TYPE_PONG | bus::TYPE_MEET);
    if type_ == bus::TYPE_PING || type_ == bus::TYPE_MEET {
        if (type_ == bus::TYPE_MEET || c.me().ip.is_empty())
            && srv.config.cluster_announce_ip.is_empty()
        {
            let ip = c.links[h.0].local_ip.clone();
            if !ip.is_empty() && ip != c.me().ip {
                log(srv, format!("IP address for this node updated to {ip}"));
                c.me_mut().ip = ip;
                c.todo(todo::SAVE_CONFIG);
            }
        }
        if sender.is_none() && type_ == bus::TYPE_MEET {
            let name = super::random_name(&mut srv.rng);
            let mut n = Node::new(name, flags::HANDSHAKE, now);
            n.ip = node_ip(c, h, &hdr.myip).unwrap_or_default();
            n.port = hdr.port;
            n.pport = hdr.pport;
            n.cport = hdr.cport;
            c.nodes.insert(name, n);
            c.todo(todo::SAVE_CONFIG);
            process_gossip(c, srv, h, msg, now);
        }
        send_ping(c, srv, h, bus::TYPE_PONG, now);
    }

    if ping_like {
        let (inbound, link_node) = {
            let l = &c.links[h.0];
            (l.inbound, l.node)
        };
        if !inbound {
            let ln = link_node.expect("outbound links have a node");
            if c.node(&ln).in_handshake() {
                if let Some(s) = sender {
                    if update_address_if_needed(c, srv, clients, &s, h, hdr) {
                        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                    }
                    del_node(c, srv, &ln, now);
                    return false;
                }
                rename_node(c, &ln, &hdr.sender);
                let n = c.node_mut(&hdr.sender);
                n.flags &= !flags::HANDSHAKE;
                n.flags |= hflags & (flags::MASTER | flags::SLAVE);
                c.todo(todo::SAVE_CONFIG);
            } else if ln != hdr.sender {
                let n = c.node_mut(&ln);
                n.flags |= flags::NOADDR;
                n.ip.clear();
                n.port = 0;
                n.pport = 0;
                n.cport = 0;
                free_link(c, srv, h, true);
                c.todo(todo::SAVE_CONFIG);
                return false;
            }
        }
        if let Some(s) = sender {
            let n = c.node_mut(&s);
            n.flags &= !flags::NOFAILOVER;
            n.flags |= hflags & flags::NOFAILOVER;
        }
        if let Some(s) = sender {
            if type_ == bus::TYPE_PING
                && !c.node(&s).in_handshake()
                && update_address_if_needed(c, srv, clients, &s, h, hdr)
            {
                c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
            }
        }
        if !inbound && type_ == bus::TYPE_PONG {
            if let Some(ln) = c.links.get(h.0).and_then(|l| l.node) {
                let n = c.node_mut(&ln);
                n.pong_received = now;
                n.ping_sent = 0;
                if n.timed_out() {
                    n.flags &= !flags::PFAIL;
                    c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                } else if n.failed() {
                    clear_failure_if_needed(c, srv, &ln, now);
                }
            }
        }
        // Role switches.
        if let Some(s) = sender {
            if hdr.slaveof == NULL_NAME {
                set_node_as_master(c, &s);
            } else {
                let master = c.nodes.contains_key(&hdr.slaveof).then_some(hdr.slaveof);
                if c.is_master(&s) {
                    del_node_slots(c, &s);
                    let n = c.node_mut(&s);
                    n.flags &= !(flags::MASTER | flags::MIGRATE_TO);
                    n.flags |= flags::SLAVE;
                    c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                }
                if let Some(m) = master {
                    if c.node(&s).replicaof != Some(m) {
                        if let Some(old) = c.node(&s).replicaof {
                            remove_replica(c, &old, &s);
                        }
                        add_replica(c, &m, &s);
                        c.node_mut(&s).replicaof = Some(m);
                        c.todo(todo::SAVE_CONFIG);
                    }
                }
            }
        }
        // Slots.
        let mut dirty_slots = false;
        if let Some(s) = sender {
            let sender_master = if c.is_master(&s) {
                Some(s)
            } else {
                c.node(&s).replicaof
            };
            if let Some(sm) = sender_master.and_then(|m| c.nodes.get(&m)) {
                dirty_slots = *sm.slots != *hdr.myslots;
            }
        }
        if let Some(s) = sender {
            if c.is_master(&s) && dirty_slots {
                update_slots_config_with(
                    c,
                    srv,
                    clients,
                    &s,
                    sender_config_epoch,
                    &hdr.myslots,
                    now,
                );
            }
        }
        if let Some(s) = sender.filter(|_| dirty_slots) {
            // The claimed slots the sender does not own (its bitmap follows the slot table).
            let owned = c.node(&s).slots.clone();
            let claimed = (0..SLOTS / 64)
                .flat_map(|w| word_slots(w, word(&hdr.myslots, w) & !word(&owned, w)));
            for j in claimed {
                if c.slots[j] == Some(s) || c.slot_unclaimed(j) {
                    continue;
                }
                let owner = c.slots[j].expect("claimed");
                if c.node(&owner).config_epoch > sender_config_epoch {
                    log(
                        srv,
                        format!(
                            "Node {} has old slots configuration, sending an UPDATE message about {}",
                            name_str(&s),
                            name_str(&owner)
                        ),
                    );
                    let link = c.node(&s).link;
                    send_update(c, srv, link, &owner);
                    break;
                }
            }
        }
        if let Some(s) = sender {
            if c.me().is_master()
                && c.nodes.get(&s).is_some_and(|n| n.is_master())
                && sender_config_epoch == c.me().config_epoch
            {
                handle_config_epoch_collision(c, srv, &s);
            }
        }
        if let Some(s) = sender.filter(|s| c.nodes.contains_key(s)) {
            process_gossip(c, srv, h, msg, now);
            process_ping_exts(c, &s, msg);
        }
    } else if type_ == bus::TYPE_FAIL {
        if sender.is_some() {
            if let Body::Fail { about } = &msg.body {
                if let Some(f) = c.nodes.get_mut(about) {
                    if f.flags & (flags::FAIL | flags::MYSELF) == 0 {
                        f.flags |= flags::FAIL;
                        f.fail_time = now;
                        f.flags &= !flags::PFAIL;
                        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                        log(
                            srv,
                            format!(
                                "FAIL message received from {} about {}",
                                name_str(&hdr.sender),
                                name_str(about)
                            ),
                        );
                    }
                }
            }
        }
    } else if type_ == bus::TYPE_PUBLISH || type_ == bus::TYPE_PUBLISHSHARD {
        if sender.is_none() {
            return true;
        }
        if let Body::Publish { channel, message } = &msg.body {
            crate::command::pubsub::publish_from_bus(
                UnixMillis(now),
                srv,
                clients,
                channel,
                message,
                type_ == bus::TYPE_PUBLISHSHARD,
            );
        }
    } else if type_ == bus::TYPE_FAILOVER_AUTH_REQUEST {
        let Some(s) = sender else {
            return true;
        };
        failover::send_failover_auth_if_needed(c, srv, &s, hdr, now);
    } else if type_ == bus::TYPE_FAILOVER_AUTH_ACK {
        let Some(s) = sender else {
            return true;
        };
        let n = c.node(&s);
        if n.is_master() && n.numslots > 0 && sender_current_epoch >= c.failover_auth_epoch {
            c.failover_auth_count += 1;
            c.todo(todo::HANDLE_FAILOVER);
        }
    } else if type_ == bus::TYPE_MFSTART {
        let Some(s) = sender else {
            return true;
        };
        if c.node(&s).replicaof != Some(c.myself) {
            return true;
        }
        failover::reset_manual_failover(c);
        c.mf_end = now + failover::MF_TIMEOUT;
        c.mf_replica = Some(s);
        log(
            srv,
            format!("Manual failover requested by replica {}.", name_str(&s)),
        );
        send_ping(c, srv, h, bus::TYPE_PING, now);
    } else if type_ == bus::TYPE_UPDATE {
        if sender.is_none() {
            return true;
        }
        if let Body::Update {
            config_epoch,
            nodename,
            slots,
        } = &msg.body
        {
            let Some(n) = c.nodes.get(nodename) else {
                return true;
            };
            if n.config_epoch >= *config_epoch {
                return true;
            }
            if n.is_replica() {
                set_node_as_master(c, nodename);
            }
            c.node_mut(nodename).config_epoch = *config_epoch;
            c.todo(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
            update_slots_config_with(c, srv, clients, nodename, *config_epoch, slots, now);
        }
    }
    c.links.contains(h.0)
}

/// clusterHandleConfigEpochCollision: of two masters with the same config epoch, the one
/// with the smaller name takes a new epoch.
fn handle_config_epoch_collision(c: &mut Cluster, srv: &mut Server, sender: &NodeName) {
    let s = c.node(sender);
    let me = c.me();
    if s.config_epoch != me.config_epoch || !s.is_master() || !me.is_master() {
        return;
    }
    if *sender <= c.myself {
        return;
    }
    c.current_epoch += 1;
    let epoch = c.current_epoch;
    c.me_mut().config_epoch = epoch;
    c.config_dirty = true;
    c.config_fsync = true;
    log(
        srv,
        format!(
            "WARNING: configEpoch collision with node {}. configEpoch set to {epoch}",
            name_str(sender)
        ),
    );
}

/// clusterUpdateSlotsConfigWith: rebinds the slots `sender` claims with a newer config
/// epoch; a master left without slots (or a replica whose master was) follows the new owner,
/// a master keeping some slots drops the keys of those it lost.
pub(crate) fn update_slots_config_with(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    sender: &NodeName,
    sender_config_epoch: u64,
    slots: &[u8; SLOTS / 8],
    now: u64,
) {
    let myself = c.myself;
    if *sender == myself {
        log(srv, "Discarding UPDATE message about myself.".into());
        return;
    }
    let curmaster = if c.me().is_master() {
        Some(myself)
    } else {
        c.my_master()
    };
    let mut newmaster = None;
    let mut dirty: Vec<u16> = Vec::new();
    let mut sender_slots = 0;
    let mut migrated_our_slots = 0;
    // A word at a time: the slots the sender claims and already owns (its own bitmap, kept
    // with the slot table by add_slot / del_slot) only clear owner_not_claiming_slot, the
    // ones it owns and no longer claims set it; only claimed slots it does not own yet are
    // looked at one by one, as Redis's loop does for every slot.
    let owned_before: Box<[u8; SLOTS / 8]> = c
        .nodes
        .get(sender)
        .map_or_else(|| Box::new([0; SLOTS / 8]), |n| n.slots.clone());
    for w in 0..SLOTS / 64 {
        let claimed = word(slots, w);
        let owned = word(&owned_before, w);
        sender_slots += claimed.count_ones();
        let onc = word(&c.owner_not_claiming_slot, w);
        let onc_new = (onc & !(claimed & owned)) | (owned & !claimed);
        if onc_new != onc {
            set_word(&mut c.owner_not_claiming_slot, w, onc_new);
        }
        for j in word_slots(w, claimed & !owned) {
            if c.slots[j] == Some(*sender) {
                clear_bit(&mut c.owner_not_claiming_slot, j);
                continue;
            }
            if c.importing_slots_from[j].is_some() {
                continue;
            }
            let newer = c.slot_unclaimed(j)
                || c.slots[j].is_some_and(|o| c.node(&o).config_epoch < sender_config_epoch);
            if newer {
                if c.slots[j] == Some(myself)
                    && crate::command::cluster::count_keys_in_slot(srv, j as u16) > 0
                {
                    dirty.push(j as u16);
                }
                if c.slots[j].is_some() && c.slots[j] == curmaster {
                    newmaster = Some(*sender);
                    migrated_our_slots += 1;
                }
                c.del_slot(j as u16);
                c.add_slot(sender, j as u16);
                clear_bit(&mut c.owner_not_claiming_slot, j);
                c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
            }
        }
    }
    let cur_numslots = curmaster
        .and_then(|m| c.nodes.get(&m))
        .map_or(0, |n| n.numslots);
    let grand = c
        .my_master()
        .and_then(|m| c.nodes.get(&m))
        .and_then(|m| m.replicaof);
    if newmaster.is_some()
        && cur_numslots == 0
        && (srv.config.cluster_allow_replica_migration || sender_slots == migrated_our_slots)
    {
        log(
            srv,
            format!(
                "Configuration change detected. Reconfiguring myself as a replica of {}",
                name_str(sender)
            ),
        );
        set_master(c, srv, clients, sender, now);
        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
    } else if let Some(g) = grand.filter(|g| *g != myself && c.nodes.contains_key(g)) {
        log(
            srv,
            format!(
                "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {}",
                name_str(&g)
            ),
        );
        set_master(c, srv, clients, &g, now);
        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
    } else if !dirty.is_empty() {
        del_keys_in_slots(srv, &dirty);
    }
}

/// clusterSetMaster: this node becomes a replica of `n` (its replication follows).
pub(crate) fn set_master(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    n: &NodeName,
    _now: u64,
) {
    let myself = c.myself;
    if *n == myself {
        return;
    }
    if c.me().is_master() {
        let me = c.me_mut();
        me.flags &= !(flags::MASTER | flags::MIGRATE_TO);
        me.flags |= flags::SLAVE;
        close_all_slots(c);
    } else if let Some(old) = c.my_master() {
        remove_replica(c, &old, &myself);
    }
    c.me_mut().replicaof = Some(*n);
    add_replica(c, n, &myself);
    let (ip, port) = {
        let m = c.node(n);
        (m.ip.clone(), m.port)
    };
    crate::repl::replica::set_master(srv, clients, &ip, port);
    failover::reset_manual_failover(c);
}

// ---------------------------------------------------------------------------------------
// Cluster state
// ---------------------------------------------------------------------------------------

/// clusterUpdateState: ok unless a slot is unserved or failed (with full coverage required)
/// or we are in a minority partition; a master waits a little before turning ok.
pub(crate) fn update_state(c: &mut Cluster, srv: &mut Server, now: u64) {
    c.todo_before_sleep &= !todo::UPDATE_STATE;
    if c.first_call_time == 0 {
        c.first_call_time = now.max(1);
    }
    if c.me().is_master()
        && c.state == Health::Fail
        && now.saturating_sub(c.first_call_time) < WRITABLE_DELAY
    {
        return;
    }
    let mut new_state = Health::Ok;
    if srv.config.cluster_require_full_coverage {
        // Every slot served by a node not FAIL, counted per node (a slot has one owner, whose
        // bitmap and numslots hold it: add_slot / del_slot keep them with the slot table)
        // rather than slot by slot, as this runs in every before-sleep that follows a change.
        let mut served = 0usize;
        for n in c.nodes.values().filter(|n| n.numslots > 0) {
            served += n.numslots as usize;
            if n.flags & flags::FAIL != 0 {
                new_state = Health::Fail;
            }
        }
        if served < SLOTS {
            new_state = Health::Fail;
        }
    }
    let mut size = 0;
    let mut reachable = 0;
    for n in c.nodes.values() {
        if n.is_master() && n.numslots > 0 {
            size += 1;
            if n.flags & (flags::FAIL | flags::PFAIL) == 0 {
                reachable += 1;
            }
        }
    }
    c.size = size;
    if reachable < size / 2 + 1 {
        new_state = Health::Fail;
        c.among_minority_time = now;
    }
    if new_state != c.state {
        let rejoin_delay = node_timeout(srv).clamp(MIN_REJOIN_DELAY, MAX_REJOIN_DELAY);
        if new_state == Health::Ok
            && c.me().is_master()
            && now.saturating_sub(c.among_minority_time) < rejoin_delay
        {
            return;
        }
        log(
            srv,
            format!(
                "Cluster state changed: {}",
                if new_state == Health::Ok {
                    "ok"
                } else {
                    "fail"
                }
            ),
        );
        c.state = new_state;
    }
}

/// clusterUpdateMyselfFlags, AnnouncedPorts, Ip, Hostname: myself follows the config.
pub(crate) fn update_myself(c: &mut Cluster, srv: &Server) {
    let nofailover = if srv.config.cluster_replica_no_failover {
        flags::NOFAILOVER
    } else {
        0
    };
    let me = c.me_mut();
    let old = me.flags;
    me.flags = (me.flags & !flags::NOFAILOVER) | nofailover;
    let changed = me.flags != old;
    let (port, pport, cport) = announced_ports(srv);
    me.port = port;
    me.pport = pport;
    me.cport = cport;
    me.hostname = String::from_utf8_lossy(&srv.config.cluster_announce_hostname).into_owned();
    if changed {
        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
    }
    let ip = announce_ip(srv);
    let cur = (!ip.is_empty()).then_some(ip);
    if cur != c.prev_announce_ip {
        c.prev_announce_ip = cur.clone();
        c.me_mut().ip = cur.unwrap_or_default();
    }
}
