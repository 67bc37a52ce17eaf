//! The pubsub command group (Redis 7.0's pubsub.c): SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their
//! UNSUBSCRIBEs, PUBLISH, SPUBLISH and PUBSUB.
//!
//! Delivery writes the message frame straight into each subscriber's output buffer (RESP2
//! `*3`/`*4` arrays, RESP3 `>` pushes) and queues `Event::Output` for the host, so every
//! subscriber connection gets its messages in publish order. After each write the subscriber's
//! output-buffer limit is checked (`client-output-buffer-limit pubsub ...`): past it the client
//! is closed and its buffer dropped, so a subscriber that never reads cannot grow memory
//! without bound.
//!
//! Orders that Redis leaves to its hash tables (which clients of several matching patterns are
//! served first, the order of a bare UNSUBSCRIBE's confirmations) follow subscription order
//! here; per-channel subscriber lists and a client's pattern list are ordered in Redis too, and
//! those orders match.

use super::{CmdError, CommandSpec, Ctx};
use crate::config::Config;
use crate::engine::{Client, ClientHandle, Event, Server};
use crate::glob::glob_match;
use crate::resp::ReplyWriter;
use crate::time::UnixMillis;
use std::collections::{HashMap, VecDeque};

/// Server-side subscription tables (Redis's server.pubsub_channels, pubsub_patterns,
/// pubsubshard_channels): subscriber slots in subscription order.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: HashMap<Vec<u8>, Vec<usize>>,
    shard: HashMap<Vec<u8>, Vec<usize>>,
    /// Patterns in the order they were first subscribed, each with its subscribers.
    patterns: Vec<(Vec<u8>, Vec<usize>)>,
}

impl PubSub {
    /// Channels with subscribers (INFO's pubsub_channels).
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Distinct patterns with subscribers (INFO's pubsub_patterns, PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Shard channels with subscribers (INFO's pubsubshard_channels).
    pub fn shard_channel_count(&self) -> usize {
        self.shard.len()
    }
}

/// One client's subscriptions (Redis's c->pubsub_channels, pubsub_patterns,
/// pubsubshard_channels) and its CLIENT_PUBSUB flag.
#[derive(Debug, Default)]
pub struct ClientSubs {
    channels: OrderedSet,
    /// A list in Redis 7.0: PUNSUBSCRIBE without arguments goes in subscription order.
    patterns: Vec<Vec<u8>>,
    shard: OrderedSet,
    /// CLIENT_PUBSUB: set by a (P|S)SUBSCRIBE, cleared when the last subscription goes.
    pub mode: bool,
}

impl ClientSubs {
    /// (channels, patterns, shard channels) subscribed: CLIENT LIST's sub=, psub=, ssub=.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shard.len())
    }

    /// What SUBSCRIBE/PSUBSCRIBE confirmations count (Redis's clientSubscriptionsCount).
    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    fn total(&self) -> usize {
        self.count() + self.shard.len()
    }
}

/// A set that remembers insertion order (removal may reorder: Redis's order is a hash
/// table's, so nothing depends on it).
#[derive(Debug, Default)]
struct OrderedSet {
    items: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
}

impl OrderedSet {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn insert(&mut self, v: &[u8]) -> bool {
        if self.index.contains_key(v) {
            return false;
        }
        self.index.insert(v.to_vec(), self.items.len());
        self.items.push(v.to_vec());
        true
    }

    fn remove(&mut self, v: &[u8]) -> bool {
        let Some(i) = self.index.remove(v) else {
            return false;
        };
        self.items.swap_remove(i);
        if let Some(moved) = self.items.get(i) {
            self.index.insert(moved.clone(), i);
        }
        true
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Global,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Global => b"subscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Global => b"unsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }

    fn message_word(self) -> &'static [u8] {
        match self {
            Kind::Global => b"message",
            Kind::Shard => b"smessage",
        }
    }
}

fn subs(c: &mut Client) -> &mut ClientSubs {
    c.subs.get_or_insert_with(Default::default)
}

/// The count a confirmation of this kind reports.
fn kind_count(c: &Client, kind: Kind) -> usize {
    c.subs.as_ref().map_or(0, |s| match kind {
        Kind::Global => s.count(),
        Kind::Shard => s.shard.len(),
    })
}

/// `*3`/`>3` [word, name or nil, count].
/// A push in both protocols (Redis's addReplyPubsub*): it reaches the client under CLIENT
/// REPLY OFF/SKIP too.
fn confirm(c: &mut Client, word: &[u8], name: Option<&[u8]>, count: usize) {
    super::connection::write_push(c, |w| {
        w.push_len(3);
        w.bulk(word);
        match name {
            Some(n) => w.bulk(n),
            None => w.nil(),
        }
        w.int(count as i64);
    });
}

/// Drops the client's subscription state once nothing is left (and the flag is clear).
fn tidy(c: &mut Client) {
    if c.subs.as_ref().is_some_and(|s| s.total() == 0 && !s.mode) {
        c.subs = None;
    }
}

/// Leaves pubsub mode when the last subscription went (Redis does this after every
/// (P|S)UNSUBSCRIBE).
fn leave_mode_if_empty(c: &mut Client) {
    if let Some(s) = c.subs.as_mut() {
        if s.total() == 0 {
            s.mode = false;
        }
    }
    tidy(c);
}

fn table(ps: &mut PubSub, kind: Kind) -> &mut HashMap<Vec<u8>, Vec<usize>> {
    match kind {
        Kind::Global => &mut ps.channels,
        Kind::Shard => &mut ps.shard,
    }
}

fn subscribe_channel(srv: &mut Server, c: &mut Client, slot: usize, ch: &[u8], kind: Kind) {
    let s = subs(c);
    let set = match kind {
        Kind::Global => &mut s.channels,
        Kind::Shard => &mut s.shard,
    };
    if set.insert(ch) {
        table(&mut srv.pubsub, kind)
            .entry(ch.to_vec())
            .or_default()
            .push(slot);
    }
    let n = kind_count(c, kind);
    confirm(c, kind.subscribe_word(), Some(ch), n);
}

fn unsubscribe_channel(
    srv: &mut Server,
    c: &mut Client,
    slot: usize,
    ch: &[u8],
    kind: Kind,
    notify: bool,
) -> bool {
    let removed = c.subs.as_mut().is_some_and(|s| match kind {
        Kind::Global => s.channels.remove(ch),
        Kind::Shard => s.shard.remove(ch),
    });
    if removed {
        let t = table(&mut srv.pubsub, kind);
        if let Some(list) = t.get_mut(ch) {
            list.retain(|&s| s != slot);
            if list.is_empty() {
                t.remove(ch);
            }
        }
    }
    if notify {
        let n = kind_count(c, kind);
        confirm(c, kind.unsubscribe_word(), Some(ch), n);
    }
    removed
}

fn subscribe_pattern(srv: &mut Server, c: &mut Client, slot: usize, pat: &[u8]) {
    let s = subs(c);
    if !s.patterns.iter().any(|p| p == pat) {
        s.patterns.push(pat.to_vec());
        match srv.pubsub.patterns.iter_mut().find(|(p, _)| p == pat) {
            Some((_, list)) => list.push(slot),
            None => srv.pubsub.patterns.push((pat.to_vec(), vec![slot])),
        }
    }
    let n = kind_count(c, Kind::Global);
    confirm(c, b"psubscribe", Some(pat), n);
}

fn unsubscribe_pattern(srv: &mut Server, c: &mut Client, slot: usize, pat: &[u8], notify: bool) {
    let mut removed = false;
    if let Some(s) = c.subs.as_mut() {
        if let Some(i) = s.patterns.iter().position(|p| p == pat) {
            s.patterns.remove(i);
            removed = true;
        }
    }
    if removed {
        let pats = &mut srv.pubsub.patterns;
        if let Some(i) = pats.iter().position(|(p, _)| p == pat) {
            pats[i].1.retain(|&s| s != slot);
            if pats[i].1.is_empty() {
                pats.remove(i);
            }
        }
    }
    if notify {
        let n = kind_count(c, Kind::Global);
        confirm(c, b"punsubscribe", Some(pat), n);
    }
}

fn unsubscribe_all_channels(
    srv: &mut Server,
    c: &mut Client,
    slot: usize,
    kind: Kind,
    notify: bool,
) {
    let names: Vec<Vec<u8>> = c.subs.as_ref().map_or_else(Vec::new, |s| match kind {
        Kind::Global => s.channels.items.clone(),
        Kind::Shard => s.shard.items.clone(),
    });
    for ch in &names {
        unsubscribe_channel(srv, c, slot, ch, kind, notify);
    }
    if notify && names.is_empty() {
        let n = kind_count(c, kind);
        confirm(c, kind.unsubscribe_word(), None, n);
    }
}

fn unsubscribe_all_patterns(srv: &mut Server, c: &mut Client, slot: usize, notify: bool) {
    let pats: Vec<Vec<u8>> = c
        .subs
        .as_ref()
        .map_or_else(Vec::new, |s| s.patterns.clone());
    for p in &pats {
        unsubscribe_pattern(srv, c, slot, p, notify);
    }
    if notify && pats.is_empty() {
        let n = kind_count(c, Kind::Global);
        confirm(c, b"punsubscribe", None, n);
    }
}

/// Drops every subscription of a client without notifying it (disconnect, RESET).
pub fn forget_client(srv: &mut Server, clients: &mut slab::Slab<Client>, id: ClientHandle) {
    let Some(c) = clients.get_mut(id.0) else {
        return;
    };
    if c.subs.is_none() {
        return;
    }
    unsubscribe_all_channels(srv, c, id.0, Kind::Global, false);
    unsubscribe_all_channels(srv, c, id.0, Kind::Shard, false);
    unsubscribe_all_patterns(srv, c, id.0, false);
    c.subs = None;
}

/// Whether the client is in pubsub mode (Redis's CLIENT_PUBSUB flag): the one test for its
/// buffer-limit class, CLIENT LIST's P flag, CLIENT KILL TYPE pubsub and RESP2's subscriber
/// restrictions.
pub fn is_pubsub(c: &Client) -> bool {
    c.subs.as_ref().is_some_and(|s| s.mode)
}

/// A client's channels (shard channels included) and patterns, for the ACL check that closes
/// subscribers whose channels their user lost (ACLKillPubsubClientsIfNeeded).
pub(crate) fn subscriptions(c: &Client) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    match c.subs.as_ref() {
        Some(s) => (
            s.channels
                .items
                .iter()
                .chain(s.shard.items.iter())
                .cloned()
                .collect(),
            s.patterns.clone(),
        ),
        None => (Vec::new(), Vec::new()),
    }
}

/// (channels, patterns, shard channels) subscribed: CLIENT LIST's sub=, psub=, ssub=.
pub fn subscription_counts(c: &Client) -> (usize, usize, usize) {
    c.subs.as_ref().map_or((0, 0, 0), |s| s.counts())
}

/// Redis's processCommand check for RESP2 subscribers: only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE,
/// PING, QUIT and RESET. Returns the error to reply with when `cmd` is refused.
pub fn subscriber_mode_error(c: &Client, cmd: &CommandSpec) -> Option<Vec<u8>> {
    if c.resp3 || !is_pubsub(c) {
        return None;
    }
    const ALLOWED: [&str; 9] = [
        "ping",
        "subscribe",
        "ssubscribe",
        "unsubscribe",
        "sunsubscribe",
        "psubscribe",
        "punsubscribe",
        "quit",
        "reset",
    ];
    if ALLOWED.contains(&cmd.name) {
        return None;
    }
    Some(
        format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        )
        .into_bytes(),
    )
}

/// PING from a RESP2 subscriber replies ["pong", message or ""] (Redis's pingCommand). True
/// when it did.
pub fn subscriber_ping(c: &mut Client, args: &[&[u8]]) -> bool {
    if c.resp3 || !is_pubsub(c) || args.len() > 2 {
        return false;
    }
    let mut w = ReplyWriter::new(&mut c.out, false);
    w.array_len(2);
    w.bulk(b"pong");
    w.bulk(args.get(1).copied().unwrap_or(b""));
    true
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // Redis refuses DENY BLOCKING clients except inside MULTI (kept for compatibility): here
    // only EXEC denies blocking, so SUBSCRIBE is always allowed.
    let slot = ctx.handle.0;
    let c = &mut ctx.clients[slot];
    for ch in &args[1..] {
        subscribe_channel(ctx.srv, c, slot, ch, Kind::Global);
    }
    subs(c).mode = true;
    Ok(())
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
pub fn ssubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.client_ref().tx.in_exec {
        return Err(CmdError::err(
            "SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    let slot = ctx.handle.0;
    let c = &mut ctx.clients[slot];
    for ch in &args[1..] {
        subscribe_channel(ctx.srv, c, slot, ch, Kind::Shard);
    }
    subs(c).mode = true;
    Ok(())
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let slot = ctx.handle.0;
    let c = &mut ctx.clients[slot];
    for p in &args[1..] {
        subscribe_pattern(ctx.srv, c, slot, p);
    }
    subs(c).mode = true;
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> Result<(), CmdError> {
    let slot = ctx.handle.0;
    let c = &mut ctx.clients[slot];
    if args.len() == 1 {
        unsubscribe_all_channels(ctx.srv, c, slot, kind, true);
    } else {
        for ch in &args[1..] {
            unsubscribe_channel(ctx.srv, c, slot, ch, kind, true);
        }
    }
    leave_mode_if_empty(c);
    Ok(())
}

/// UNSUBSCRIBE [channel [channel ...]]
pub fn unsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    unsubscribe_generic(ctx, args, Kind::Global)
}

/// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
pub fn sunsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    unsubscribe_generic(ctx, args, Kind::Shard)
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
pub fn punsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let slot = ctx.handle.0;
    let c = &mut ctx.clients[slot];
    if args.len() == 1 {
        unsubscribe_all_patterns(ctx.srv, c, slot, true);
    } else {
        for p in &args[1..] {
            unsubscribe_pattern(ctx.srv, c, slot, p, true);
        }
    }
    leave_mode_if_empty(c);
    Ok(())
}

/// What delivering to subscribers needs besides the clients: the limits and the event queue.
struct Sink<'a> {
    now: UnixMillis,
    config: &'a Config,
    events: &'a mut VecDeque<Event>,
    caller: ClientHandle,
}

impl Sink<'_> {
    fn deliver(
        &mut self,
        clients: &mut slab::Slab<Client>,
        slot: usize,
        write: impl FnOnce(&mut ReplyWriter),
    ) {
        deliver_push(
            self.now,
            self.config,
            self.events,
            Some(self.caller.0),
            clients,
            slot,
            write,
        );
    }
}

/// Writes one push frame (a message, a tracking invalidation) into a client's buffer, tells the
/// host (unless it is `caller`, the client being fed, whose output the host takes anyway), and
/// enforces its buffer limit. Pushes reach a client under CLIENT REPLY OFF/SKIP too
/// (`connection::write_push`).
pub(crate) fn deliver_push(
    now: UnixMillis,
    config: &Config,
    events: &mut VecDeque<Event>,
    caller: Option<usize>,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    write: impl FnOnce(&mut ReplyWriter),
) {
    let Some(c) = clients.get_mut(slot) else {
        return;
    };
    if c.close_asap {
        return;
    }
    if c.close_after_reply {
        // Redis adds nothing to the output of a client it will close after its reply,
        // but the attempt schedules a write, which closes even a deaf one.
        c.close_armed = true;
        events.push_back(Event::Output(ClientHandle(slot)));
        return;
    }
    let was_empty = c.out.is_empty();
    super::connection::write_push(c, write);
    if was_empty && caller != Some(slot) {
        events.push_back(Event::Output(ClientHandle(slot)));
    }
    output_limit(now, config, events, c, slot);
}

/// Redis's checkClientOutputBufferLimits + closeClientOnOutputBufferLimitReached: the bytes
/// still to send (the engine's buffer plus what the host holds) against the client's class
/// limits; the soft limit must hold for more than its seconds. A client past its limit is
/// closed at once (`Event::Close`) and its buffer freed. True when it was closed.
pub fn check_output_limit(now: UnixMillis, srv: &mut Server, c: &mut Client, slot: usize) -> bool {
    output_limit(now, &srv.config, &mut srv.events, c, slot)
}

pub(crate) fn output_limit(
    now: UnixMillis,
    config: &Config,
    events: &mut VecDeque<Event>,
    c: &mut Client,
    slot: usize,
) -> bool {
    if c.close_asap {
        return false;
    }
    // getClientType: replica (1), pubsub (2) or normal (0).
    let replica = crate::repl::master::is_replica(c);
    let class = if replica {
        1
    } else if is_pubsub(c) {
        2
    } else {
        0
    };
    let [hard, soft, soft_secs] = config.client_obuf_limits[class];
    if hard == 0 && soft == 0 {
        return false;
    }
    let used = if replica {
        crate::repl::master::obuf_used(c)
    } else {
        c.out.len().saturating_add(c.host_pending) as u64
    };
    let hard_hit = hard != 0 && used >= hard;
    let mut soft_hit = soft != 0 && used >= soft;
    if soft_hit {
        match c.obuf_soft_since {
            None => {
                c.obuf_soft_since = Some(now);
                soft_hit = false;
            }
            Some(since) => {
                // Redis counts whole seconds of server.unixtime.
                let elapsed = (now.0 / 1000).saturating_sub(since.0 / 1000);
                if elapsed <= soft_secs {
                    soft_hit = false;
                }
            }
        }
    } else {
        c.obuf_soft_since = None;
    }
    if !(hard_hit || soft_hit) {
        return false;
    }
    c.close_asap = true;
    c.out = Vec::new();
    events.push_back(Event::Close(ClientHandle(slot)));
    true
}

/// Redis's pubsubPublishMessage: channel subscribers first, in subscription order, then (for
/// global channels) every matching pattern's subscribers. Returns the number of receivers.
fn publish_message(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    channel: &[u8],
    msg: &[u8],
    kind: Kind,
) -> usize {
    let Server {
        pubsub,
        config,
        events,
        ..
    } = srv;
    let mut sink = Sink {
        now,
        config,
        events,
        caller,
    };
    let mut receivers = 0;
    let direct = match kind {
        Kind::Global => pubsub.channels.get(channel),
        Kind::Shard => pubsub.shard.get(channel),
    };
    for &slot in direct.map_or(&[][..], Vec::as_slice) {
        sink.deliver(clients, slot, |w| {
            w.push_len(3);
            w.bulk(kind.message_word());
            w.bulk(channel);
            w.bulk(msg);
        });
        receivers += 1;
    }
    if kind == Kind::Shard {
        return receivers;
    }
    for (pat, slots) in &pubsub.patterns {
        if !glob_match(pat, channel, false) {
            continue;
        }
        for &slot in slots {
            sink.deliver(clients, slot, |w| {
                w.push_len(4);
                w.bulk(b"pmessage");
                w.bulk(pat);
                w.bulk(channel);
                w.bulk(msg);
            });
            receivers += 1;
        }
    }
    receivers
}

/// removeChannelsInSlot for the slots `lost` names (a slot this node's shard no longer
/// serves): their shard channels are dropped and every subscriber gets an `sunsubscribe`
/// message (pubsubShardUnsubscribeAllClients), channels by slot then name as Redis's
/// slots_to_channels rax holds them, subscribers in subscription order.
pub(crate) fn unsubscribe_shard_slots(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    lost: impl Fn(u16) -> bool,
) {
    if srv.pubsub.shard.is_empty() {
        return;
    }
    let mut gone: Vec<(u16, Vec<u8>)> = srv
        .pubsub
        .shard
        .keys()
        .map(|ch| (crate::cluster::slot::key_hash_slot(ch), ch))
        .filter(|(s, _)| lost(*s))
        .map(|(s, ch)| (s, ch.clone()))
        .collect();
    gone.sort();
    for (_, ch) in gone {
        for slot in srv.pubsub.shard.remove(&ch).unwrap_or_default() {
            let Some(c) = clients.get_mut(slot) else {
                continue;
            };
            if let Some(s) = c.subs.as_mut() {
                s.shard.remove(&ch);
            }
            let n = kind_count(c, Kind::Shard);
            confirm(c, Kind::Shard.unsubscribe_word(), Some(&ch), n);
            leave_mode_if_empty(c);
            srv.events
                .push_back(crate::engine::Event::Output(ClientHandle(slot)));
        }
    }
}

/// Publishes `msg` on a global channel (keyspace notifications): PUBLISH without the reply.
pub(crate) fn publish_global(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    channel: &[u8],
    msg: &[u8],
) -> usize {
    publish_message(now, srv, clients, caller, channel, msg, Kind::Global)
}

/// A PUBLISH / SPUBLISH another node sent over the cluster bus: this node's subscribers get
/// it (clusterProcessPacket's pubsubPublishMessage).
pub(crate) fn publish_from_bus(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    channel: &[u8],
    msg: &[u8],
    sharded: bool,
) -> usize {
    let kind = if sharded { Kind::Shard } else { Kind::Global };
    publish_message(
        now,
        srv,
        clients,
        ClientHandle(usize::MAX),
        channel,
        msg,
        kind,
    )
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let n = publish_message(
        ctx.now,
        ctx.srv,
        ctx.clients,
        ctx.handle,
        args[1],
        args[2],
        Kind::Global,
    );
    // In a cluster the bus carries it to every node (clusterPropagatePublish); otherwise
    // forceCommandPropagation(c, PROPAGATE_REPL): replicas' subscribers get it too.
    if ctx.srv.cluster.is_some() {
        crate::cluster::state::propagate_publish(ctx.srv, args[1], args[2], false);
    } else {
        let db = ctx.client_ref().db;
        ctx.srv.persist.emit_repl(db, args);
    }
    ctx.out().int(n as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
pub fn spublish(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let n = publish_message(
        ctx.now,
        ctx.srv,
        ctx.clients,
        ctx.handle,
        args[1],
        args[2],
        Kind::Shard,
    );
    // In a cluster the bus carries it to the shard's nodes (clusterPropagatePublish);
    // otherwise forceCommandPropagation(c, PROPAGATE_REPL).
    if ctx.srv.cluster.is_some() {
        crate::cluster::state::propagate_publish(ctx.srv, args[1], args[2], true);
    } else {
        let db = ctx.client_ref().db;
        ctx.srv.persist.emit_repl(db, args);
    }
    ctx.out().int(n as i64);
    Ok(())
}

/// Redis's addReplySubcommandSyntaxError for PUBSUB.
fn pubsub_syntax(args: &[&[u8]]) -> CmdError {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    m.extend_from_slice(args[1]);
    m.extend_from_slice(b"'. Try PUBSUB HELP.");
    CmdError::Msg(m)
}

fn channel_list(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(pubsub_syntax(args));
    }
    let pat = args.get(2).copied();
    let names: Vec<Vec<u8>> = table(&mut ctx.srv.pubsub, kind)
        .keys()
        .filter(|ch| pat.is_none_or(|p| glob_match(p, ch, false)))
        .cloned()
        .collect();
    let mut out = ctx.out();
    out.array_len(names.len());
    for n in &names {
        out.bulk(n);
    }
    Ok(())
}

/// NUMSUB and SHARDNUMSUB: flat [channel, count, ...] arrays (RESP3 too, in Redis 7.0).
fn numsub(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> Result<(), CmdError> {
    let counts: Vec<usize> = args[2..]
        .iter()
        .map(|ch| {
            table(&mut ctx.srv.pubsub, kind)
                .get(*ch)
                .map_or(0, Vec::len)
        })
        .collect();
    let mut out = ctx.out();
    out.array_len(counts.len() * 2);
    for (ch, n) in args[2..].iter().zip(counts) {
        out.bulk(ch);
        out.int(n as i64);
    }
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
pub fn pubsub_channels(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    channel_list(ctx, args, Kind::Global)
}

/// PUBSUB SHARDCHANNELS [pattern]
pub fn pubsub_shardchannels(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    channel_list(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB [channel [channel ...]]
pub fn pubsub_numsub(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    numsub(ctx, args, Kind::Global)
}

/// PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]
pub fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    numsub(ctx, args, Kind::Shard)
}

/// PUBSUB NUMPAT: distinct patterns with subscribers.
pub fn pubsub_numpat(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let n = ctx.srv.pubsub.patterns.len();
    ctx.out().int(n as i64);
    Ok(())
}

/// PUBSUB HELP
pub fn pubsub_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    const LINES: [&str; 13] = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
    ];
    let mut out = ctx.out();
    out.array_len(LINES.len() + 1);
    for l in LINES {
        out.simple(l);
    }
    out.simple("    Prints this help.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::engine::{ConnInfo, Engine, Event};
    use crate::{Config, UnixMillis};

    fn run(eng: &mut Engine, id: crate::ClientHandle, cmd: &str) -> String {
        eng.feed(UnixMillis(1000), id, format!("{cmd}\r\n").as_bytes());
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).replace("\r\n", " ")
    }

    fn pushes_to_itself_then_fails(
        ctx: &mut crate::command::Ctx,
        _args: &[&[u8]],
    ) -> Result<(), crate::command::CmdError> {
        let (now, id) = (ctx.now, ctx.handle);
        super::publish_message(
            now,
            ctx.srv,
            ctx.clients,
            id,
            b"ch",
            b"hi",
            super::Kind::Global,
        );
        Err(crate::command::CmdError::NoSuchKey)
    }

    #[test]
    fn a_push_to_the_caller_before_it_fails_is_kept() {
        let mut s = crate::testing::Session::new(1);
        s.raw(&["HELLO", "3"]);
        s.raw(&["SUBSCRIBE", "ch"]);
        assert_eq!(
            String::from_utf8_lossy(&s.run_handler("x", pushes_to_itself_then_fails)),
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n-ERR no such key\r\n"
        );
    }

    #[test]
    fn publish_reaches_channel_then_pattern_subscribers_in_order() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        let p = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, a, "SUBSCRIBE ch"),
            "*3 $9 subscribe $2 ch :1 "
        );
        assert_eq!(
            run(&mut eng, b, "PSUBSCRIBE c*"),
            "*3 $10 psubscribe $2 c* :1 "
        );
        assert_eq!(run(&mut eng, p, "PUBLISH ch hi"), ":2 ");
        assert_eq!(eng.poll_event(), Some(Event::Output(a)));
        assert_eq!(eng.poll_event(), Some(Event::Output(b)));
        assert_eq!(run(&mut eng, a, ""), "*3 $7 message $2 ch $2 hi ");
        assert_eq!(run(&mut eng, b, ""), "*4 $8 pmessage $2 c* $2 ch $2 hi ");
        assert_eq!(
            run(&mut eng, p, "PUBSUB NUMSUB ch x"),
            "*4 $2 ch :1 $1 x :0 "
        );
        assert_eq!(run(&mut eng, p, "PUBSUB NUMPAT"), ":1 ");
        eng.disconnect(a);
        assert_eq!(run(&mut eng, p, "PUBLISH ch hi"), ":1 ");
        assert_eq!(run(&mut eng, p, "PUBSUB NUMSUB ch"), "*2 $2 ch :0 ");
    }

    #[test]
    fn resp2_subscriber_mode_and_leaving_it() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, a, "SUBSCRIBE x");
        assert!(run(&mut eng, a, "GET k").starts_with("-ERR Can't execute 'get'"));
        assert_eq!(run(&mut eng, a, "PING"), "*2 $4 pong $0  ");
        assert_eq!(
            run(&mut eng, a, "UNSUBSCRIBE"),
            "*3 $11 unsubscribe $1 x :0 "
        );
        assert_eq!(run(&mut eng, a, "GET k"), "$-1 ");
        assert_eq!(
            run(&mut eng, a, "UNSUBSCRIBE"),
            "*3 $11 unsubscribe $-1 :0 "
        );
    }

    #[test]
    fn a_subscriber_past_the_hard_limit_is_closed_and_its_buffer_dropped() {
        let mut cfg = Config::default();
        cfg.set("client-output-buffer-limit", b"pubsub 1000 0 0")
            .expect("valid");
        let mut eng = Engine::new(cfg, 1);
        let sub = eng.connect(UnixMillis(0), ConnInfo::default());
        let publ = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, sub, "SUBSCRIBE ch");
        while eng.poll_event().is_some() {}
        let msg = "x".repeat(100);
        // 133 bytes a message: 5 of them stay below 1000.
        for _ in 0..5 {
            assert_eq!(run(&mut eng, publ, &format!("PUBLISH ch {msg}")), ":1 ");
        }
        assert!(!eng.should_close(sub));
        // The host still holds 300 unsent bytes: the next message crosses 1000.
        eng.report_unsent(UnixMillis(1000), sub, 300);
        assert!(!eng.should_close(sub));
        assert_eq!(run(&mut eng, publ, &format!("PUBLISH ch {msg}")), ":1 ");
        assert!(eng.should_close(sub));
        assert!(!eng.has_output(sub));
        let evs: Vec<Event> = std::iter::from_fn(|| eng.poll_event()).collect();
        assert!(evs.contains(&Event::Close(sub)), "{evs:?}");
        // Closed clients receive nothing more.
        assert_eq!(run(&mut eng, publ, "PUBLISH ch y"), ":1 ");
        assert!(!eng.has_output(sub));
    }

    #[test]
    fn soft_limit_needs_to_hold_longer_than_its_seconds() {
        let mut cfg = Config::default();
        cfg.set("client-output-buffer-limit", b"pubsub 0 100 2")
            .expect("valid");
        let mut eng = Engine::new(cfg, 1);
        let sub = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, sub, "SUBSCRIBE ch");
        let mut out = Vec::new();
        eng.drain_output(sub, &mut out);
        eng.report_unsent(UnixMillis(1000), sub, 150);
        eng.report_unsent(UnixMillis(3500), sub, 150);
        assert!(!eng.should_close(sub));
        eng.report_unsent(UnixMillis(4000), sub, 150);
        assert!(eng.should_close(sub));
    }
}
