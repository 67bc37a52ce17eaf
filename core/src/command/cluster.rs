//! The CLUSTER command family, ASKING, READONLY and READWRITE (cluster.c's clusterCommand and
//! friends), and the redirections processCommand applies in cluster mode (getNodeByQuery,
//! clusterRedirectClient, clusterRedirectBlockedClientIfNeeded). The handlers parse, check and
//! reply; what changes the cluster beyond the node's own bookkeeping (MEET, FORGET, RESET,
//! REPLICATE, FAILOVER, SETSLOT NODE's consequences, epochs) is cluster/state.rs's.

use super::{is, CmdError, CommandSpec, Ctx};
use crate::cluster::describe::{self, Filter};
use crate::cluster::slot::key_hash_slot;
use crate::cluster::state::{self, FailoverMode};
use crate::cluster::{bus, flags, Cluster, Health, Node, NodeName, NAMELEN, SLOTS};
use crate::engine::{Client, Server};

/// Client flags (Redis's CLIENT_ASKING, CLIENT_READONLY), in `Client::cluster_flags`.
pub(crate) const ASKING: u8 = 1;
pub(crate) const READONLY: u8 = 2;

const DISABLED: &str = "This instance has cluster support disabled";

fn cluster_of<'a>(ctx: &'a mut Ctx) -> Result<&'a mut Cluster, CmdError> {
    ctx.srv
        .cluster
        .as_deref_mut()
        .ok_or_else(|| CmdError::err(DISABLED))
}

/// removeChannelsInSlot for the slots the command took from this node's shard: the shard
/// channels' subscribers get their `sunsubscribe` before the command's reply, as in Redis.
fn remove_lost_channels(ctx: &mut Ctx) {
    let clients = &mut *ctx.clients;
    state::with(ctx.srv, |c, srv| {
        crate::cluster::ops::remove_lost_channels(c, srv, clients)
    });
}

/// The node named by `arg` (clusterLookupNode: exactly 40 characters).
fn lookup<'a>(c: &'a Cluster, arg: &[u8]) -> Option<&'a Node> {
    let name: NodeName = arg.try_into().ok()?;
    c.nodes.get(&name)
}

/// The node an argument names, or `ERR Unknown node <arg>`.
fn known_node<'a>(c: &'a Cluster, arg: &[u8]) -> Result<&'a Node, CmdError> {
    lookup(c, arg).ok_or_else(|| unknown_node("Unknown node ", arg))
}

fn unknown_node(prefix: &str, arg: &[u8]) -> CmdError {
    let mut m = format!("ERR {prefix}").into_bytes();
    m.extend_from_slice(super::c_str(arg));
    CmdError::Msg(m)
}

/// A state.rs error: Redis's reply text, prefix included.
fn state_err(msg: String) -> CmdError {
    CmdError::Msg(msg.into_bytes())
}

/// getSlotOrReply.
fn slot_arg(arg: &[u8]) -> Result<u16, CmdError> {
    match crate::cnum::parse_i64(arg) {
        Some(n) if (0..SLOTS as i64).contains(&n) => Ok(n as u16),
        _ => Err(CmdError::err("Invalid or out of range slot")),
    }
}

fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    crate::cnum::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// The endpoint clients are told to use (getPreferredEndpoint).
fn preferred_endpoint<'a>(srv: &Server, n: &'a Node) -> &'a str {
    match srv.config.cluster_preferred_endpoint_type.0 {
        0 => &n.ip,
        1 if !n.hostname.is_empty() => &n.hostname,
        1 => "?",
        _ => "",
    }
}

/// Sets up what cluster mode needs at startup (clusterInit's part beyond the node table):
/// database 0's keys-per-slot index, and myself's announced ports and hostname.
pub(crate) fn on_enable(srv: &mut Server) {
    if let Some(db) = srv.dbs.get_mut(0) {
        db.slots = Some(Box::new(crate::keyspace::slots::SlotIndex::build(&db.keys)));
    }
    let cfg = &srv.config;
    let tls = cfg.tls_cluster;
    let base = if tls { cfg.tls_port as u16 } else { cfg.port };
    let port = match (
        tls,
        cfg.cluster_announce_tls_port,
        cfg.cluster_announce_port,
    ) {
        (true, p, _) if p != 0 => p as u16,
        (false, _, p) if p != 0 => p as u16,
        _ => base,
    };
    let pport = if tls {
        match cfg.cluster_announce_port {
            0 => cfg.port,
            p => p as u16,
        }
    } else {
        0
    };
    let cport = match (cfg.cluster_announce_bus_port, cfg.cluster_port) {
        // The bus port follows tls-port under tls-cluster (clusterInit).
        (0, 0) => base.wrapping_add(crate::cluster::PORT_INCR),
        (0, p) => p as u16,
        (p, _) => p as u16,
    };
    let hostname = String::from_utf8_lossy(&cfg.cluster_announce_hostname).into_owned();
    if let Some(c) = srv.cluster.as_deref_mut() {
        let me = c.me_mut();
        if me.port == 0 {
            me.port = port;
            me.pport = pport;
            me.cport = cport;
        }
        me.hostname = hostname;
    }
}

// ---------------------------------------------------------------------------------------------
// ASKING, READONLY, READWRITE

/// ASKING: the next command may address a slot this node is importing.
pub fn asking(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    ctx.client().cluster_flags |= ASKING;
    ctx.out().ok();
    Ok(())
}

/// READONLY: a replica serves this client's reads of its master's slots.
pub fn readonly(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    ctx.client().cluster_flags |= READONLY;
    ctx.out().ok();
    Ok(())
}

/// READWRITE
pub fn readwrite(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    ctx.client().cluster_flags &= !READONLY;
    ctx.out().ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CLUSTER

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
];

/// addReplySubcommandSyntaxError.
fn syntax_error(args: &[&[u8]]) -> CmdError {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    m.extend_from_slice(super::truncated(args[1], 128));
    m.extend_from_slice(b"'. Try CLUSTER HELP.");
    CmdError::Msg(m)
}

/// CLUSTER HELP
pub fn cluster_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    super::connection::reply_help(ctx, HELP);
    Ok(())
}

/// The name CLUSTER INFO gives a bus message type (clusterGetMessageTypeString).
fn message_type_name(t: usize) -> &'static str {
    match t as u16 {
        bus::TYPE_PING => "ping",
        bus::TYPE_PONG => "pong",
        bus::TYPE_MEET => "meet",
        bus::TYPE_FAIL => "fail",
        bus::TYPE_PUBLISH => "publish",
        bus::TYPE_PUBLISHSHARD => "publishshard",
        bus::TYPE_FAILOVER_AUTH_REQUEST => "auth-req",
        bus::TYPE_FAILOVER_AUTH_ACK => "auth-ack",
        bus::TYPE_UPDATE => "update",
        bus::TYPE_MFSTART => "mfstart",
        bus::TYPE_MODULE => "module",
        _ => "unknown",
    }
}

/// CLUSTER INFO's text (also INFO's? no: INFO has only cluster_enabled).
pub fn info_text(c: &Cluster) -> String {
    use std::fmt::Write;
    let (mut assigned, mut ok, mut pfail, mut fail) = (0, 0, 0, 0);
    for owner in c.slots.iter().flatten() {
        let Some(n) = c.nodes.get(owner) else {
            continue;
        };
        assigned += 1;
        if n.failed() {
            fail += 1;
        } else if n.timed_out() {
            pfail += 1;
        } else {
            ok += 1;
        }
    }
    // cluster_size: the masters serving a slot, as clusterUpdateState computes it before
    // every reply (counted here so it never lags the slot table).
    let size = c
        .nodes
        .values()
        .filter(|n| n.is_master() && n.numslots > 0)
        .count();
    let me = c.me();
    let my_epoch = match me.replicaof.and_then(|m| c.nodes.get(&m)) {
        Some(m) if me.is_replica() => m.config_epoch,
        _ => me.config_epoch,
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{ok}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        if c.state == Health::Ok { "ok" } else { "fail" },
        c.nodes.len(),
        size,
        c.current_epoch,
    );
    for (dir, stats) in [
        ("sent", &c.stats_bus_messages_sent),
        ("received", &c.stats_bus_messages_received),
    ] {
        let mut total = 0;
        for (t, &n) in stats.iter().enumerate() {
            if n == 0 {
                continue;
            }
            total += n;
            let _ = write!(
                s,
                "cluster_stats_messages_{}_{dir}:{n}\r\n",
                message_type_name(t)
            );
        }
        let _ = write!(s, "cluster_stats_messages_{dir}:{total}\r\n");
    }
    let _ = write!(
        s,
        "total_cluster_links_buffer_limit_exceeded:{}\r\n",
        c.stat_cluster_links_buffer_limit_exceeded
    );
    s
}

/// CLUSTER INFO
pub fn cluster_info(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let text = info_text(cluster_of(ctx)?);
    ctx.out().verbatim("txt", text.as_bytes());
    Ok(())
}

/// CLUSTER MYID
pub fn cluster_myid(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let me = cluster_of(ctx)?.myself;
    ctx.out().bulk(&me);
    Ok(())
}

/// CLUSTER NODES
pub fn cluster_nodes(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let filter = if use_pport(ctx.srv, &ctx.clients[ctx.handle.0]) {
        Filter::PlainClient
    } else {
        Filter::Client
    };
    let text = describe::nodes(cluster_of(ctx)?, filter);
    ctx.out().verbatim("txt", text.as_bytes());
    Ok(())
}

/// The runs of consecutive slots each master serves, in slot order: (start, end, owner).
fn slot_runs(c: &Cluster) -> Vec<(u16, u16, NodeName)> {
    let mut runs: Vec<(u16, u16, NodeName)> = Vec::new();
    for (i, owner) in c.slots.iter().enumerate() {
        let Some(owner) = owner else {
            continue;
        };
        match runs.last_mut() {
            Some(r) if r.2 == *owner && r.1 as usize + 1 == i => r.1 = i as u16,
            _ => runs.push((i as u16, i as u16, *owner)),
        }
    }
    runs
}

/// This node's replication offset as it reports itself (replicationGetSlaveOffset for a
/// replica, master_repl_offset for a master).
fn my_offset(srv: &Server) -> i64 {
    srv.repl.master_repl_offset
}

/// isReplicaAvailable.
fn replica_available(srv: &Server, n: &Node) -> bool {
    if n.failed() {
        return false;
    }
    let off = if n.flags & flags::MYSELF != 0 {
        my_offset(srv)
    } else {
        n.repl_offset
    };
    off != 0
}

/// Redis's use_pport: a tls-cluster node tells a plaintext client the plaintext ports.
fn use_pport(srv: &Server, c: &Client) -> bool {
    srv.config.tls_cluster && !c.info.tls
}

/// The port a client is told for node `n` (`use_pport && n->pport ? n->pport : n->port`).
fn client_port(n: &Node, use_pport: bool) -> u16 {
    if use_pport && n.pport != 0 {
        n.pport
    } else {
        n.port
    }
}

/// addNodeToNodeReply.
fn node_entry(srv: &Server, out: &mut crate::resp::ReplyWriter<'_>, n: &Node, pport: bool) {
    let kind = srv.config.cluster_preferred_endpoint_type.0;
    out.array_len(4);
    match kind {
        0 => out.bulk(n.ip.as_bytes()),
        1 if !n.hostname.is_empty() => out.bulk(n.hostname.as_bytes()),
        1 => out.bulk(b"?"),
        _ => out.nil(),
    }
    out.int(i64::from(client_port(n, pport)));
    out.bulk(&n.name);
    let with_ip = kind != 0;
    let with_host = kind != 1 && !n.hostname.is_empty();
    out.map_len(usize::from(with_ip) + usize::from(with_host));
    if with_ip {
        out.bulk(b"ip");
        out.bulk(n.ip.as_bytes());
    }
    if with_host {
        out.bulk(b"hostname");
        out.bulk(n.hostname.as_bytes());
    }
}

/// CLUSTER SLOTS
pub fn cluster_slots(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let c = &mut ctx.clients[ctx.handle.0];
    let pport = use_pport(ctx.srv, c);
    let mut out = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    let srv = &*ctx.srv;
    let cl = srv.cluster.as_deref().expect("checked");
    let runs = slot_runs(cl);
    out.array_len(runs.len());
    for (start, end, owner) in runs {
        let n = &cl.nodes[&owner];
        let replicas: Vec<&Node> = n
            .replicas
            .iter()
            .filter_map(|r| cl.nodes.get(r))
            .filter(|r| replica_available(srv, r))
            .collect();
        out.array_len(3 + replicas.len());
        out.int(i64::from(start));
        out.int(i64::from(end));
        node_entry(srv, &mut out, n, pport);
        for r in replicas {
            node_entry(srv, &mut out, r, pport);
        }
    }
    Ok(())
}

/// addNodeDetailsToShardReply.
fn shard_node(srv: &Server, out: &mut crate::resp::ReplyWriter<'_>, n: &Node) {
    let tls = srv.config.tls_cluster;
    let plain = if tls { n.pport } else { n.port };
    let tls_port = if tls { n.port } else { 0 };
    let offset = if n.flags & flags::MYSELF != 0 {
        my_offset(srv)
    } else {
        n.repl_offset
    };
    let health = if n.failed() {
        "fail"
    } else if n.is_replica() && offset == 0 {
        "loading"
    } else {
        "online"
    };
    let len = 6
        + usize::from(plain != 0)
        + usize::from(tls_port != 0)
        + usize::from(!n.hostname.is_empty());
    out.map_len(len);
    out.bulk(b"id");
    out.bulk(&n.name);
    if plain != 0 {
        out.bulk(b"port");
        out.int(i64::from(plain));
    }
    if tls_port != 0 {
        out.bulk(b"tls-port");
        out.int(i64::from(tls_port));
    }
    out.bulk(b"ip");
    out.bulk(n.ip.as_bytes());
    out.bulk(b"endpoint");
    out.bulk(preferred_endpoint(srv, n).as_bytes());
    if !n.hostname.is_empty() {
        out.bulk(b"hostname");
        out.bulk(n.hostname.as_bytes());
    }
    out.bulk(b"role");
    out.bulk(if n.is_replica() {
        b"replica"
    } else {
        b"master"
    });
    out.bulk(b"replication-offset");
    out.int(offset);
    out.bulk(b"health");
    out.bulk(health.as_bytes());
}

/// The nodes in the order Redis's dict would list them: here, myself first, then by name
/// (Oxidis's node table is a HashMap; a stable order keeps replies reproducible).
pub(crate) fn ordered_nodes(c: &Cluster) -> Vec<&Node> {
    let mut v: Vec<&Node> = c.nodes.values().collect();
    v.sort_by(|a, b| {
        (b.flags & flags::MYSELF != 0)
            .cmp(&(a.flags & flags::MYSELF != 0))
            .then(a.name.cmp(&b.name))
    });
    v
}

/// CLUSTER SHARDS
pub fn cluster_shards(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let c = &mut ctx.clients[ctx.handle.0];
    let mut out = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    let srv = &*ctx.srv;
    let cl = srv.cluster.as_deref().expect("checked");
    let runs = slot_runs(cl);
    let masters: Vec<&Node> = ordered_nodes(cl)
        .into_iter()
        .filter(|n| n.is_master())
        .collect();
    out.array_len(masters.len());
    for m in masters {
        out.map_len(2);
        out.bulk(b"slots");
        let mine: Vec<_> = runs.iter().filter(|r| r.2 == m.name).collect();
        out.array_len(mine.len() * 2);
        for r in mine {
            out.int(i64::from(r.0));
            out.int(i64::from(r.1));
        }
        out.bulk(b"nodes");
        // clusterGetNodesServingMySlots: the master (or the replica's master) first, then its
        // replicas.
        let mut serving = vec![m];
        serving.extend(m.replicas.iter().filter_map(|r| cl.nodes.get(r)));
        out.array_len(serving.len());
        for n in serving {
            shard_node(srv, &mut out, n);
        }
    }
    Ok(())
}

/// CLUSTER LINKS
pub fn cluster_links(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let c = &mut ctx.clients[ctx.handle.0];
    let mut out = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    let cl = ctx.srv.cluster.as_deref().expect("checked");
    let mut links = Vec::new();
    for n in ordered_nodes(cl) {
        for h in [n.link, n.inbound_link].into_iter().flatten() {
            if let Some(l) = cl.links.get(h.0) {
                links.push((n.name, l));
            }
        }
    }
    out.array_len(links.len());
    for (name, l) in links {
        out.map_len(6);
        out.bulk(b"direction");
        out.bulk(if l.inbound { b"from" } else { b"to" });
        out.bulk(b"node");
        out.bulk(&name);
        out.bulk(b"create-time");
        out.int(l.ctime as i64);
        out.bulk(b"events");
        // connHasReadHandler: set once connected; connHasWriteHandler: while bytes wait
        // (queued here or held by the host until its socket is writable).
        let pending = l.sndbuf.len() + l.unsent;
        let events: &[u8] = match (!l.connecting, pending > 0) {
            (true, true) => b"rw",
            (true, false) => b"r",
            (false, true) => b"w",
            (false, false) => b"",
        };
        out.bulk(events);
        out.bulk(b"send-buffer-allocated");
        out.int(l.sndbuf_alloc.max(pending) as i64);
        out.bulk(b"send-buffer-used");
        out.int(pending as i64);
    }
    Ok(())
}

/// CLUSTER KEYSLOT key
pub fn cluster_keyslot(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    ctx.out().int(i64::from(key_hash_slot(args[2])));
    Ok(())
}

fn slot_index(srv: &Server) -> Option<&crate::keyspace::slots::SlotIndex> {
    srv.dbs.first().and_then(|d| d.slots.as_deref())
}

/// countKeysInSlot.
pub(crate) fn count_keys_in_slot(srv: &Server, slot: u16) -> usize {
    slot_index(srv).map_or(0, |ix| ix.count(slot))
}

/// CLUSTER COUNTKEYSINSLOT slot
pub fn cluster_countkeysinslot(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let slot = int_arg(args[2])?;
    if !(0..SLOTS as i64).contains(&slot) {
        return Err(CmdError::err("Invalid slot"));
    }
    let n = count_keys_in_slot(ctx.srv, slot as u16);
    ctx.out().int(n as i64);
    Ok(())
}

/// CLUSTER GETKEYSINSLOT slot count
pub fn cluster_getkeysinslot(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let slot = int_arg(args[2])?;
    let max = int_arg(args[3])?;
    if !(0..SLOTS as i64).contains(&slot) || max < 0 {
        return Err(CmdError::err("Invalid slot or number of keys"));
    }
    let c = &mut ctx.clients[ctx.handle.0];
    let mut out = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    let keys = slot_index(ctx.srv).map_or_else(Vec::new, |ix| {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        ix.keys(&ctx.srv.dbs[0].keys, slot as u16, max)
    });
    out.array_len(keys.len());
    for k in keys {
        out.bulk(k);
    }
    Ok(())
}

/// CLUSTER MEET ip port [cport]
pub fn cluster_meet(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    if args.len() > 5 {
        return Err(syntax_error(args));
    }
    let Some(port) = crate::cnum::parse_i64(args[3]) else {
        let mut m = b"ERR Invalid TCP base port specified: ".to_vec();
        m.extend_from_slice(super::c_str(args[3]));
        return Err(CmdError::Msg(m));
    };
    let cport = match args.get(4) {
        Some(a) => crate::cnum::parse_i64(a).ok_or_else(|| {
            let mut m = b"ERR Invalid TCP bus port specified: ".to_vec();
            m.extend_from_slice(super::c_str(a));
            CmdError::Msg(m)
        })?,
        None => port + i64::from(crate::cluster::PORT_INCR),
    };
    let ip = std::str::from_utf8(super::c_str(args[2]))
        .ok()
        .and_then(|s| s.parse::<core::net::IpAddr>().ok());
    let valid = |p: i64| (1..=65535).contains(&p);
    let (Some(ip), true, true) = (ip, valid(port), valid(cport)) else {
        let mut m = b"ERR Invalid node address specified: ".to_vec();
        m.extend_from_slice(super::c_str(args[2]));
        m.push(b':');
        m.extend_from_slice(super::c_str(args[3]));
        return Err(CmdError::Msg(m));
    };
    state::meet(ctx.srv, &ip.to_string(), port as u16, cport as u16, ctx.now).map_err(state_err)?;
    ctx.out().ok();
    Ok(())
}

/// CLUSTER FORGET node-id
pub fn cluster_forget(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let c = cluster_of(ctx)?;
    let n = known_node(c, args[2])?;
    if n.flags & flags::MYSELF != 0 {
        return Err(CmdError::err("I tried hard but I can't forget myself..."));
    }
    let me = c.me();
    if me.is_replica() && me.replicaof == Some(n.name) {
        return Err(CmdError::err("Can't forget my master!"));
    }
    let name = n.name;
    state::forget(ctx.srv, &name, ctx.now).map_err(state_err)?;
    remove_lost_channels(ctx);
    ctx.out().ok();
    Ok(())
}

/// CLUSTER RESET [HARD|SOFT]
pub fn cluster_reset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let is_master = cluster_of(ctx)?.me().is_master();
    if args.len() > 3 {
        return Err(syntax_error(args));
    }
    let hard = match args.get(2) {
        None => false,
        Some(a) if is(a, "hard") => true,
        Some(a) if is(a, "soft") => false,
        Some(_) => return Err(CmdError::Syntax),
    };
    if is_master && !ctx.db().is_empty() {
        return Err(CmdError::err(
            "CLUSTER RESET can't be called with master nodes containing keys",
        ));
    }
    state::reset(ctx.srv, ctx.clients, hard, ctx.now).map_err(state_err)?;
    remove_lost_channels(ctx);
    ctx.out().ok();
    Ok(())
}

/// Parses ADDSLOTS/DELSLOTS (single slots) or their RANGE forms, checks every slot
/// (checkSlotAssignmentsOrReply) and applies them (clusterUpdateSlots).
fn update_slots(ctx: &mut Ctx, args: &[&[u8]], del: bool, ranges: bool) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let mut wanted: Vec<(u16, u16)> = Vec::new();
    if ranges {
        if args.len() % 2 == 1 {
            return Err(CmdError::Msg(
                format!(
                    "ERR wrong number of arguments for '{}' command",
                    ctx.cmd.name
                )
                .into_bytes(),
            ));
        }
        for pair in args[2..].chunks(2) {
            let start = slot_arg(pair[0])?;
            let end = slot_arg(pair[1])?;
            if start > end {
                return Err(CmdError::err(format!(
                    "start slot number {start} is greater than end slot number {end}"
                )));
            }
            wanted.push((start, end));
        }
    } else {
        for a in &args[2..] {
            let s = slot_arg(a)?;
            wanted.push((s, s));
        }
    }
    let c = ctx.srv.cluster.as_deref_mut().expect("checked");
    let mut seen = vec![false; SLOTS];
    for &(start, end) in &wanted {
        for slot in start..=end {
            let owned = c.slots[slot as usize].is_some();
            if del && !owned {
                return Err(CmdError::err(format!("Slot {slot} is already unassigned")));
            }
            if !del && owned {
                return Err(CmdError::err(format!("Slot {slot} is already busy")));
            }
            if std::mem::replace(&mut seen[slot as usize], true) {
                return Err(CmdError::err(format!(
                    "Slot {slot} specified multiple times"
                )));
            }
        }
    }
    let me = c.myself;
    for (slot, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        c.importing_slots_from[slot] = None;
        if del {
            c.del_slot(slot as u16);
        } else {
            c.add_slot(&me, slot as u16);
        }
    }
    c.todo(crate::cluster::todo::UPDATE_STATE | crate::cluster::todo::SAVE_CONFIG);
    remove_lost_channels(ctx);
    ctx.out().ok();
    Ok(())
}

/// CLUSTER ADDSLOTS slot [slot ...]
pub fn cluster_addslots(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    update_slots(ctx, args, false, false)
}

/// CLUSTER DELSLOTS slot [slot ...]
pub fn cluster_delslots(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    update_slots(ctx, args, true, false)
}

/// CLUSTER ADDSLOTSRANGE start end [start end ...]
pub fn cluster_addslotsrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    update_slots(ctx, args, false, true)
}

/// CLUSTER DELSLOTSRANGE start end [start end ...]
pub fn cluster_delslotsrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    update_slots(ctx, args, true, true)
}

/// CLUSTER FLUSHSLOTS
pub fn cluster_flushslots(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    if !ctx.srv.dbs[0].is_empty() {
        return Err(CmdError::err(
            "DB must be empty to perform CLUSTER FLUSHSLOTS.",
        ));
    }
    let c = ctx.srv.cluster.as_deref_mut().expect("checked");
    // clusterDelNodeSlots(myself).
    let me = c.myself;
    for slot in 0..SLOTS as u16 {
        if c.me().has_slot(slot) {
            c.del_slot(slot);
        } else if c.slots[slot as usize] == Some(me) {
            c.slots[slot as usize] = None;
        }
    }
    c.todo(crate::cluster::todo::UPDATE_STATE | crate::cluster::todo::SAVE_CONFIG);
    remove_lost_channels(ctx);
    ctx.out().ok();
    Ok(())
}

/// CLUSTER SETSLOT slot IMPORTING node | MIGRATING node | STABLE | NODE node
pub fn cluster_setslot(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let c = cluster_of(ctx)?;
    if c.me().is_replica() {
        return Err(CmdError::err("Please use SETSLOT only with masters."));
    }
    let slot = slot_arg(args[2])?;
    let action = args[3];
    let me = c.myself;
    let target = |c: &Cluster, unknown: &str| -> Result<NodeName, CmdError> {
        let Some(n) = lookup(c, args[4]) else {
            return Err(unknown_node(unknown, args[4]));
        };
        if n.is_replica() {
            return Err(CmdError::err("Target node is not a master"));
        }
        Ok(n.name)
    };
    if is(action, "migrating") && args.len() == 5 {
        if c.slots[slot as usize] != Some(me) {
            return Err(CmdError::err(format!(
                "I'm not the owner of hash slot {slot}"
            )));
        }
        let n = target(c, "I don't know about node ")?;
        c.migrating_slots_to[slot as usize] = Some(n);
    } else if is(action, "importing") && args.len() == 5 {
        if c.slots[slot as usize] == Some(me) {
            return Err(CmdError::err(format!(
                "I'm already the owner of hash slot {slot}"
            )));
        }
        let n = target(c, "I don't know about node ")?;
        c.importing_slots_from[slot as usize] = Some(n);
    } else if is(action, "stable") && args.len() == 4 {
        c.importing_slots_from[slot as usize] = None;
        c.migrating_slots_to[slot as usize] = None;
    } else if is(action, "node") && args.len() == 5 {
        let n = target(c, "Unknown node ")?;
        let keys = count_keys_in_slot(ctx.srv, slot);
        let c = ctx.srv.cluster.as_deref_mut().expect("checked");
        if c.slots[slot as usize] == Some(me) && n != me && keys != 0 {
            return Err(CmdError::err(format!(
                "Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
            )));
        }
        if keys == 0 {
            c.migrating_slots_to[slot as usize] = None;
        }
        state::set_slot_node(ctx.srv, ctx.clients, slot, &n, ctx.now).map_err(state_err)?;
    } else {
        return Err(CmdError::err(
            "Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
        ));
    }
    if let Some(c) = ctx.srv.cluster.as_deref_mut() {
        c.todo(crate::cluster::todo::SAVE_CONFIG | crate::cluster::todo::UPDATE_STATE);
    }
    remove_lost_channels(ctx);
    ctx.out().ok();
    Ok(())
}

/// CLUSTER REPLICATE node-id
pub fn cluster_replicate(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let c = cluster_of(ctx)?;
    let n = known_node(c, args[2])?;
    if n.flags & flags::MYSELF != 0 {
        return Err(CmdError::err("Can't replicate myself"));
    }
    if n.is_replica() {
        return Err(CmdError::err(
            "I can only replicate a master, not a replica.",
        ));
    }
    let name = n.name;
    let me = c.me();
    if me.is_master() && (me.numslots != 0 || !ctx.srv.dbs[0].is_empty()) {
        return Err(CmdError::err(
            "To set a master the node must be empty and without assigned slots.",
        ));
    }
    state::replicate(ctx.srv, ctx.clients, &name, ctx.now).map_err(state_err)?;
    remove_lost_channels(ctx);
    ctx.out().ok();
    Ok(())
}

/// CLUSTER REPLICAS node-id (and its old name SLAVES)
pub fn cluster_replicas(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let pport = use_pport(ctx.srv, &ctx.clients[ctx.handle.0]);
    let c = cluster_of(ctx)?;
    let n = known_node(c, args[2])?;
    if n.is_replica() {
        return Err(CmdError::err("The specified node is not a master"));
    }
    let lines: Vec<String> = n
        .replicas
        .iter()
        .filter_map(|r| c.nodes.get(r))
        .map(|r| describe::node_line_ports(c, r, pport))
        .collect();
    let mut out = ctx.out();
    out.array_len(lines.len());
    for l in lines {
        out.bulk(l.as_bytes());
    }
    Ok(())
}

/// CLUSTER SLAVES node-id
pub fn cluster_slaves(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_replicas(ctx, args)
}

/// CLUSTER COUNT-FAILURE-REPORTS node-id
pub fn cluster_count_failure_reports(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let timeout = ctx.srv.config.cluster_node_timeout.max(0) as u64;
    let now = ctx.now.0;
    let c = cluster_of(ctx)?;
    let n = known_node(c, args[2])?;
    // clusterNodeFailureReportsCount drops the reports older than twice the node timeout.
    let valid = n
        .fail_reports
        .iter()
        .filter(|r| now.saturating_sub(r.time) <= timeout * 2)
        .count();
    ctx.out().int(valid as i64);
    Ok(())
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER]
pub fn cluster_failover(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let c = cluster_of(ctx)?;
    if args.len() > 3 {
        return Err(syntax_error(args));
    }
    let mode = match args.get(2) {
        None => FailoverMode::Default,
        Some(a) if is(a, "force") => FailoverMode::Force,
        Some(a) if is(a, "takeover") => FailoverMode::Takeover,
        Some(_) => return Err(CmdError::Syntax),
    };
    let me = c.me();
    if me.is_master() {
        return Err(CmdError::err(
            "You should send CLUSTER FAILOVER to a replica",
        ));
    }
    let Some(master) = me.replicaof.and_then(|m| c.nodes.get(&m)) else {
        return Err(CmdError::err(
            "I'm a replica but my master is unknown to me",
        ));
    };
    if mode == FailoverMode::Default && (master.failed() || master.link.is_none()) {
        return Err(CmdError::err(
            "Master is down or failed, please use CLUSTER FAILOVER FORCE",
        ));
    }
    state::manual_failover(ctx.srv, ctx.clients, mode, ctx.now).map_err(state_err)?;
    ctx.out().ok();
    Ok(())
}

/// CLUSTER SET-CONFIG-EPOCH epoch
pub fn cluster_set_config_epoch(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let c = cluster_of(ctx)?;
    let epoch = int_arg(args[2])?;
    if epoch < 0 {
        return Err(CmdError::err(format!(
            "Invalid config epoch specified: {epoch}"
        )));
    }
    if c.nodes.len() > 1 {
        return Err(CmdError::err(
            "The user can assign a config epoch only when the node does not know any other node.",
        ));
    }
    if c.me().config_epoch != 0 {
        return Err(CmdError::err("Node config epoch is already non-zero"));
    }
    state::set_config_epoch(c, epoch as u64).map_err(state_err)?;
    ctx.out().ok();
    Ok(())
}

/// CLUSTER BUMPEPOCH: +BUMPED n or +STILL n.
pub fn cluster_bumpepoch(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let c = cluster_of(ctx)?;
    let (bumped, epoch) = state::bump_epoch(c);
    let word = if bumped { "BUMPED" } else { "STILL" };
    ctx.out().simple(&format!("{word} {epoch}"));
    Ok(())
}

/// CLUSTER SAVECONFIG: nodes.conf written and fsynced before the reply (clusterSaveConfig(1)),
/// which reports the write's error. A host without a writer (the wasm engine) gets the text
/// through `cluster_config_to_save` before the reply goes out.
pub fn cluster_saveconfig(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    cluster_of(ctx)?;
    let srv = &mut *ctx.srv;
    let c = srv.cluster.as_mut().expect("checked above");
    let Some(host) = srv.cluster_config_host.as_mut() else {
        c.config_dirty = true;
        c.config_fsync = true;
        ctx.out().ok();
        return Ok(());
    };
    // clusterSaveConfig clears both to-do bits first, whatever the write's outcome.
    c.config_dirty = false;
    c.config_fsync = false;
    host.save(&crate::cluster::nodes_conf::to_text(c), true)
        .map_err(|e| CmdError::err(format!("error saving the cluster node config: {e}")))?;
    ctx.out().ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Redirections (getNodeByQuery / clusterRedirectClient)

/// Why a command is not served here (CLUSTER_REDIR_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Redirect {
    CrossSlot,
    Unstable,
    DownState,
    DownRoState,
    DownUnbound,
    Moved(u16, NodeName),
    Ask(u16, NodeName),
}

/// clusterRedirectClient's text.
/// `pport`: the client is told the plaintext port (see `use_pport`).
pub(crate) fn redirect_text(srv: &Server, r: Redirect, pport: bool) -> Vec<u8> {
    match r {
        Redirect::CrossSlot => b"CROSSSLOT Keys in request don't hash to the same slot".to_vec(),
        Redirect::Unstable => b"TRYAGAIN Multiple keys request during rehashing of slot".to_vec(),
        Redirect::DownState => b"CLUSTERDOWN The cluster is down".to_vec(),
        Redirect::DownRoState => {
            b"CLUSTERDOWN The cluster is down and only accepts read commands".to_vec()
        }
        Redirect::DownUnbound => b"CLUSTERDOWN Hash slot not served".to_vec(),
        Redirect::Moved(slot, n) | Redirect::Ask(slot, n) => {
            let word = if matches!(r, Redirect::Ask(..)) {
                "ASK"
            } else {
                "MOVED"
            };
            let c = srv.cluster.as_deref();
            let (endpoint, port) = match c.and_then(|c| c.nodes.get(&n)) {
                Some(node) => (
                    preferred_endpoint(srv, node).to_string(),
                    client_port(node, pport),
                ),
                None => (String::new(), 0),
            };
            format!("{word} {slot} {endpoint}:{port}").into_bytes()
        }
    }
}

fn is_pubsubshard(cmd: &CommandSpec) -> bool {
    matches!(cmd.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// The keys (or shard channels) a command addresses, for slot routing.
fn routing_keys<'a>(cmd: &CommandSpec, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    match cmd.name {
        "ssubscribe" | "sunsubscribe" => args[1..].to_vec(),
        "spublish" => args.get(1).copied().into_iter().collect(),
        _ => crate::acl::command_keys(cmd, args)
            .into_iter()
            .filter_map(|(i, _)| args.get(i).copied())
            .collect(),
    }
}

/// Whether the key is there for a migration check (lookupKeyReadWithFlags with NOEXPIRE: an
/// expired key counts as missing but stays).
fn key_present(srv: &Server, key: &[u8], now: crate::time::UnixMillis) -> bool {
    let db = &srv.dbs[0];
    db.exists(key) && db.expire_at(key).is_none_or(|at| at > now.0)
}

/// getNodeByQuery: Ok when this node serves the request, with the slot Redis leaves in
/// c->slot (its keys' slot when the ordinary owner check passed; None without keys and on the
/// ASKING, READONLY and MIGRATE shortcuts, which return before setting it), else why not.
/// For EXEC the keys are the transaction's.
pub(crate) fn route(
    srv: &Server,
    c: &Client,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
    now: crate::time::UnixMillis,
) -> Result<Option<u16>, Redirect> {
    let Some(cl) = srv.cluster.as_deref() else {
        return Ok(None);
    };
    let is_exec = cmd.name == "exec";
    let queued_args: Vec<Vec<&[u8]>>;
    let mut commands: Vec<(&'static CommandSpec, &[&[u8]])> = Vec::new();
    if is_exec {
        if !c.tx.active {
            return Ok(None);
        }
        queued_args =
            c.tx.queue
                .iter()
                .map(|q| q.args.iter().map(Vec::as_slice).collect())
                .collect();
        for (q, a) in c.tx.queue.iter().zip(&queued_args) {
            commands.push((q.cmd, a.as_slice()));
        }
    } else {
        commands.push((cmd, args));
    }
    let pubsubshard = is_pubsubshard(cmd);
    let mut first: Option<&[u8]> = None;
    let mut slot = 0u16;
    let mut owner: Option<NodeName> = None;
    let (mut migrating, mut importing, mut multiple) = (false, false, false);
    let (mut missing, mut existing) = (0, 0);
    for (mcmd, margs) in commands {
        for key in routing_keys(mcmd, margs) {
            let this = key_hash_slot(key);
            match first {
                None => {
                    first = Some(key);
                    slot = this;
                    let Some(n) = cl.slots[slot as usize] else {
                        return Err(Redirect::DownUnbound);
                    };
                    owner = Some(n);
                    if n == cl.myself && cl.migrating_slots_to[slot as usize].is_some() {
                        migrating = true;
                    } else if cl.importing_slots_from[slot as usize].is_some() {
                        importing = true;
                    }
                }
                Some(f) if f != key => {
                    if this != slot {
                        return Err(Redirect::CrossSlot);
                    }
                    multiple = true;
                }
                Some(_) => {}
            }
            if (migrating || importing) && !pubsubshard {
                if key_present(srv, key, now) {
                    existing += 1;
                } else {
                    missing += 1;
                }
            }
        }
    }
    // No key at all: served here.
    let Some(owner) = owner else {
        return Ok(None);
    };
    let cmd_flags = crate::script::command_flags(srv, cmd, args);
    let write = cmd_flags & super::flags::WRITE != 0
        || (is_exec && c.tx.queued_flags & super::flags::WRITE != 0);
    if cl.state != Health::Ok {
        if pubsubshard {
            if !srv.config.cluster_allow_pubsubshard_when_down {
                return Err(Redirect::DownState);
            }
        } else if !srv.config.cluster_allow_reads_when_down {
            return Err(Redirect::DownState);
        } else if cmd_flags & super::flags::WRITE != 0 {
            return Err(Redirect::DownRoState);
        }
    }
    if (migrating || importing) && cmd.name == "migrate" {
        return Ok(None);
    }
    if migrating && missing > 0 {
        if existing > 0 {
            return Err(Redirect::Unstable);
        }
        let to = cl.migrating_slots_to[slot as usize].expect("migrating");
        return Err(Redirect::Ask(slot, to));
    }
    if importing && (c.cluster_flags & ASKING != 0 || cmd_flags & super::flags::ASKING != 0) {
        if multiple && missing > 0 {
            return Err(Redirect::Unstable);
        }
        return Ok(None);
    }
    let me = cl.me();
    if (c.cluster_flags & READONLY != 0 || pubsubshard)
        && !write
        && me.is_replica()
        && me.replicaof == Some(owner)
    {
        return Ok(None);
    }
    if owner != cl.myself {
        return Err(Redirect::Moved(slot, owner));
    }
    Ok(Some(slot))
}

/// processCommand's cluster step: Ok with the slot for c->slot (see `route`), or the
/// redirection or error text for a command this node must not run. The master link, a
/// script's calls and the AOF are not checked (their slot stays None).
pub(crate) fn check(
    srv: &Server,
    clients: &slab::Slab<Client>,
    id: usize,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
    now: crate::time::UnixMillis,
) -> Result<Option<u16>, Vec<u8>> {
    if srv.cluster.is_none() {
        return Ok(None);
    }
    let c = &clients[id];
    // mustObeyClient: the master link and the AOF being loaded; a script's calls were
    // checked as the script (its declared keys).
    if srv.persist.loading
        || c.repl_master
        || c.script
        || crate::repl::replica::is_master_client(srv, id)
    {
        return Ok(None);
    }
    route(srv, c, cmd, args, now).map_err(|r| redirect_text(srv, r, use_pport(srv, c)))
}

/// clusterRedirectBlockedClientIfNeeded: a client blocked on keys of a slot this node no
/// longer serves (or while the cluster is down) gets the redirection instead of waiting.
/// Returns the error text to unblock it with.
pub(crate) fn blocked_redirect(
    srv: &Server,
    c: &Client,
    key: &[u8],
    last_cmd_write: bool,
) -> Option<Vec<u8>> {
    let cl = srv.cluster.as_deref()?;
    let pport = use_pport(srv, c);
    if cl.state == Health::Fail {
        return Some(redirect_text(srv, Redirect::DownState, pport));
    }
    let slot = key_hash_slot(key);
    let mut node = cl.slots[slot as usize];
    let me = cl.me();
    if c.cluster_flags & READONLY != 0 && !last_cmd_write && me.is_replica() && me.replicaof == node
    {
        node = Some(cl.myself);
    }
    if node != Some(cl.myself) && cl.importing_slots_from[slot as usize].is_none() {
        return Some(match node {
            None => redirect_text(srv, Redirect::DownUnbound, pport),
            Some(n) => redirect_text(srv, Redirect::Moved(slot, n), pport),
        });
    }
    None
}

const _: () = assert!(NAMELEN == 40);

#[cfg(test)]
mod tests {
    use crate::cluster::{flags, Node};
    use crate::resp::{decode_reply, Reply};
    use crate::{Config, ConnInfo, Engine, UnixMillis};

    fn engine() -> Engine {
        let mut cfg = Config::default();
        cfg.set("cluster-enabled", b"yes").unwrap();
        cfg.set("port", b"7000").unwrap();
        Engine::new(cfg, 1)
    }

    fn run(eng: &mut Engine, id: crate::ClientHandle, cmd: &str) -> Reply {
        let mut args = Vec::new();
        assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
        eng.feed(UnixMillis(1000), id, &crate::resp::encode_request(&args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        let (r, n) = decode_reply(&out).unwrap().unwrap();
        assert_eq!(n, out.len(), "one reply");
        r
    }

    /// A second master known to this node, serving `slots`.
    fn add_peer(eng: &mut Engine, name: u8, port: u16, slots: std::ops::RangeInclusive<u16>) {
        let c = eng.srv.cluster.as_deref_mut().unwrap();
        let nm = [name; 40];
        let mut n = Node::new(nm, flags::MASTER, 0);
        n.ip = "127.0.0.1".into();
        n.port = port;
        n.cport = port + 10000;
        c.nodes.insert(nm, n);
        for s in slots {
            c.add_slot(&nm, s);
        }
    }

    fn err(s: &str) -> Reply {
        Reply::error(s)
    }

    #[test]
    fn moved_ask_and_tryagain_as_redis_words_them() {
        let mut eng = engine();
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "CLUSTER ADDSLOTSRANGE 0 8000"),
            Reply::simple("OK")
        );
        add_peer(&mut eng, b'b', 7001, 8001..=16383);
        eng.srv.cluster.as_deref_mut().unwrap().state = crate::cluster::Health::Ok;
        // "foo" hashes to 12182, served by the peer.
        assert_eq!(
            run(&mut eng, id, "GET foo"),
            err("MOVED 12182 127.0.0.1:7001")
        );
        assert_eq!(run(&mut eng, id, "SET bar 1"), Reply::simple("OK")); // 5061
        assert_eq!(
            run(&mut eng, id, "MGET bar foo"),
            err("CROSSSLOT Keys in request don't hash to the same slot")
        );
        // Migrating 5061 to the peer: a missing key is ASKed there; some present: TRYAGAIN.
        let peer = String::from_utf8(vec![b'b'; 40]).unwrap();
        assert_eq!(
            run(
                &mut eng,
                id,
                &format!("CLUSTER SETSLOT 5061 MIGRATING {peer}")
            ),
            Reply::simple("OK")
        );
        assert_eq!(run(&mut eng, id, "GET bar"), Reply::bulk(b"1"));
        assert_eq!(
            run(&mut eng, id, "GET {bar}x"),
            err("ASK 5061 127.0.0.1:7001")
        );
        assert_eq!(
            run(&mut eng, id, "MGET bar {bar}x"),
            err("TRYAGAIN Multiple keys request during rehashing of slot")
        );
        // Importing 12182 from the peer: only with ASKING, once.
        assert_eq!(
            run(
                &mut eng,
                id,
                &format!("CLUSTER SETSLOT 12182 IMPORTING {peer}")
            ),
            Reply::simple("OK")
        );
        assert_eq!(run(&mut eng, id, "ASKING"), Reply::simple("OK"));
        assert_eq!(run(&mut eng, id, "GET foo"), Reply::Nil);
        assert_eq!(
            run(&mut eng, id, "GET foo"),
            err("MOVED 12182 127.0.0.1:7001")
        );
        // The preferred endpoint.
        eng.srv.config.cluster_preferred_endpoint_type.0 = 1;
        assert_eq!(run(&mut eng, id, "GET {foo}"), err("MOVED 12182 ?:7001"));
        eng.srv.config.cluster_preferred_endpoint_type.0 = 2;
        assert_eq!(run(&mut eng, id, "GET {foo}"), err("MOVED 12182 :7001"));
        // Keys per slot follow the keyspace.
        assert_eq!(
            run(&mut eng, id, "CLUSTER COUNTKEYSINSLOT 5061"),
            Reply::Int(1)
        );
        assert_eq!(run(&mut eng, id, "DEL bar"), Reply::Int(1));
        assert_eq!(
            run(&mut eng, id, "CLUSTER COUNTKEYSINSLOT 5061"),
            Reply::Int(0)
        );
    }

    #[test]
    fn tls_cluster_tells_plaintext_clients_the_plaintext_ports() {
        let mut cfg = Config::default();
        for (k, v) in [
            ("cluster-enabled", "yes"),
            ("port", "7000"),
            ("tls-port", "7100"),
            ("tls-cluster", "yes"),
        ] {
            cfg.set(k, v.as_bytes()).unwrap();
        }
        let mut eng = Engine::new(cfg, 1);
        let plain = eng.connect(UnixMillis(0), ConnInfo::default());
        let tls = ConnInfo {
            tls: true,
            ..ConnInfo::default()
        };
        let tls = eng.connect(UnixMillis(0), tls);
        assert_eq!(
            run(&mut eng, plain, "CLUSTER ADDSLOTSRANGE 0 8000"),
            Reply::simple("OK")
        );
        add_peer(&mut eng, b'b', 7101, 8001..=16383);
        let c = eng.srv.cluster.as_deref_mut().unwrap();
        c.nodes.get_mut(&[b'b'; 40]).unwrap().pport = 7001;
        c.state = crate::cluster::Health::Ok;
        assert_eq!(
            run(&mut eng, plain, "GET foo"),
            err("MOVED 12182 127.0.0.1:7001")
        );
        assert_eq!(
            run(&mut eng, tls, "GET foo"),
            err("MOVED 12182 127.0.0.1:7101")
        );
        let nodes = |eng: &mut Engine, id| match run(eng, id, "CLUSTER NODES") {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        };
        let (p, t) = (nodes(&mut eng, plain), nodes(&mut eng, tls));
        assert!(
            p.contains(" 127.0.0.1:7001@17101 ") && p.contains(":7000@17100 "),
            "{p}"
        );
        assert!(
            t.contains(" 127.0.0.1:7101@17101 ") && t.contains(":7100@17100 "),
            "{t}"
        );
    }

    #[test]
    fn multi_exec_redirects_on_the_whole_transaction() {
        let mut eng = engine();
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "CLUSTER ADDSLOTSRANGE 0 8000"),
            Reply::simple("OK")
        );
        add_peer(&mut eng, b'c', 7002, 8001..=16383);
        eng.srv.cluster.as_deref_mut().unwrap().state = crate::cluster::Health::Ok;
        assert_eq!(run(&mut eng, id, "MULTI"), Reply::simple("OK"));
        assert_eq!(
            run(&mut eng, id, "GET foo"),
            err("MOVED 12182 127.0.0.1:7002")
        );
        assert_eq!(
            run(&mut eng, id, "EXEC"),
            err("EXECABORT Transaction discarded because of previous errors.")
        );
    }

    #[test]
    fn replica_with_readonly_serves_its_masters_reads() {
        let mut eng = engine();
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        add_peer(&mut eng, b'm', 7003, 0..=16383);
        let c = eng.srv.cluster.as_deref_mut().unwrap();
        c.state = crate::cluster::Health::Ok;
        let me = c.myself;
        let n = c.me_mut();
        n.flags = flags::MYSELF | flags::SLAVE;
        n.replicaof = Some([b'm'; 40]);
        c.nodes.get_mut(&[b'm'; 40]).unwrap().replicas.push(me);
        assert_eq!(
            run(&mut eng, id, "GET foo"),
            err("MOVED 12182 127.0.0.1:7003")
        );
        assert_eq!(run(&mut eng, id, "READONLY"), Reply::simple("OK"));
        assert_eq!(run(&mut eng, id, "GET foo"), Reply::Nil);
        assert_eq!(
            run(&mut eng, id, "SET foo 1"),
            err("MOVED 12182 127.0.0.1:7003")
        );
        assert_eq!(run(&mut eng, id, "READWRITE"), Reply::simple("OK"));
        assert_eq!(
            run(&mut eng, id, "GET foo"),
            err("MOVED 12182 127.0.0.1:7003")
        );
    }

    /// CLUSTER LINKS' events: "r" once connected, "w" while bytes wait, queued here or held
    /// by the host (its socket not writable yet), as Redis's read/write handlers.
    #[test]
    fn links_events_follow_the_bytes_waiting() {
        let mut eng = engine();
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "CLUSTER MEET 127.0.0.1 7001"),
            Reply::simple("OK")
        );
        eng.tick(UnixMillis(1000));
        let link = std::iter::from_fn(|| eng.poll_event())
            .find_map(|ev| match ev {
                crate::Event::ConnectClusterNode { link, .. } => Some(link),
                _ => None,
            })
            .expect("a connection asked for");
        let events = |eng: &mut Engine| {
            let Reply::Array(links) = run(eng, id, "CLUSTER LINKS") else {
                panic!("an array");
            };
            let Some(Reply::Array(f)) = links.first() else {
                panic!("one link");
            };
            let field = |name: &[u8]| {
                let i = f
                    .iter()
                    .position(|x| *x == Reply::Bulk(name.to_vec()))
                    .unwrap();
                f[i + 1].clone()
            };
            (field(b"events"), field(b"send-buffer-used"))
        };
        let bulk = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
        assert_eq!(events(&mut eng), (bulk(""), Reply::Int(0)));
        eng.cluster_link_connected(UnixMillis(1000), link);
        assert_eq!(events(&mut eng).0, bulk("rw"));
        assert!(matches!(events(&mut eng).1, Reply::Int(n) if n > 0));
        let out = eng.cluster_link_output(link);
        eng.cluster_link_unsent(link, out.len());
        assert_eq!(events(&mut eng), (bulk("rw"), Reply::Int(out.len() as i64)));
        eng.cluster_link_unsent(link, 0);
        assert_eq!(events(&mut eng), (bulk("r"), Reply::Int(0)));
    }

    #[test]
    fn a_client_blocked_on_a_slot_that_moves_is_redirected() {
        let mut eng = engine();
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "CLUSTER ADDSLOTSRANGE 0 16383"),
            Reply::simple("OK")
        );
        add_peer(&mut eng, b'p', 7004, 16383..=16383); // busy here: it gets none
        eng.srv.cluster.as_deref_mut().unwrap().state = crate::cluster::Health::Ok;
        let mut args = Vec::new();
        crate::resp::split_args(b"BLPOP foo 0", &mut args);
        eng.feed(UnixMillis(1000), id, &crate::resp::encode_request(&args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        assert!(out.is_empty(), "blocked");
        // Slot 12182 now belongs to the peer: the cron redirects the waiting client.
        let c = eng.srv.cluster.as_deref_mut().unwrap();
        c.del_slot(12182);
        c.add_slot(&[b'p'; 40], 12182);
        eng.tick(UnixMillis(3000));
        eng.drain_output(id, &mut out);
        assert_eq!(out, b"-MOVED 12182 127.0.0.1:7004\r\n");
    }
}
