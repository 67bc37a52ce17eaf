//! Client-side caching (Redis 7.0's tracking.c and the CLIENT TRACKING / CACHING / GETREDIR /
//! TRACKINGINFO subcommands of networking.c).
//!
//! - The tracking table maps a key name (of any database: the table is global, as Redis's) to
//!   the clients that read it while tracking ([`KeyTable`]); a write to the key
//!   ([`key_modified`], hooked in `Ctx::key_modified_in`, Redis's signalModifiedKey), its
//!   expiry (`tx::drain_expired`) or its eviction ([`key_deleted`]) sends each of them one
//!   invalidation and forgets the key. FLUSHDB/FLUSHALL send every tracking client a null
//!   invalidation and empty the table ([`flushed`]).
//! - Reads are remembered after the command ran (`command::call`): the keys of a read-only
//!   command ([`command_keys`], Redis's getKeysFromCommand), or for a script's reads the keys the
//!   EVAL/FCALL declared; OPTIN/OPTOUT with CLIENT CACHING decide per command.
//! - BCAST clients register prefixes ([`Tracking::prefixes`]); modified keys collect per prefix
//!   and go out once per event-loop turn ([`broadcast`], Redis's beforeSleep), one array of keys
//!   per prefix, NOLOOP leaving out the client's own changes.
//! - An invalidation goes to the client as a RESP3 push `>2 invalidate [keys]`, or through
//!   REDIRECT to another client: a push if that one speaks RESP3, a `__redis__:invalidate`
//!   pub/sub message if it is a RESP2 subscriber, nothing otherwise; a redirect client that is
//!   gone turns on `broken_redirect` and RESP3 clients get a `tracking-redir-broken` push.
//! - Invalidations due to the client that is running a command go after that command's reply
//!   (Redis's server.tracking_pending_keys, flushed when the outermost call ends): after EXEC's
//!   whole array, after a script's reply.
//! - `tracking-table-max-keys` bounds the table: before each command and in the cron, keys
//!   picked at random are invalidated until it fits again ([`limit`], trackingLimitUsedSlots).
//!
//! Pushes bypass CLIENT REPLY OFF/SKIP (Redis's CLIENT_PUSHING: `connection::write_push`).

use super::{c_str, is, parse_int, CmdError, CommandSpec, Ctx};
use crate::engine::{Client, Server};
use crate::rng::Rng;
use crate::time::UnixMillis;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The channel RESP2 redirect clients receive invalidations on.
const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking state (Redis's CLIENT_TRACKING_* flags, redirection and prefixes);
/// `Client::tracking` is Some exactly while CLIENT_TRACKING is set.
#[derive(Debug, Default)]
pub struct ClientTracking {
    /// REDIRECT's client id (0: none) and the slot that client had then.
    redirect: u64,
    redirect_slot: usize,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    /// CLIENT CACHING YES (OPTIN) / NO (OPTOUT) given for the next command or transaction.
    caching: bool,
    /// The redirect client was gone when an invalidation was due.
    broken_redir: bool,
    /// BCAST prefixes, in Redis's (rax) order.
    prefixes: BTreeSet<Vec<u8>>,
}

/// A client in the tables: its CLIENT ID, and its slab slot (valid while the id matches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tracker {
    id: u64,
    slot: usize,
}

/// Key -> clients that may cache it, with O(1) random picks for the size limit.
#[derive(Debug, Default)]
struct KeyTable {
    entries: Vec<(Vec<u8>, Vec<Tracker>)>,
    index: HashMap<Vec<u8>, usize>,
}

impl KeyTable {
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds `t` to `key`'s clients; true if it was not there (a new item).
    fn insert(&mut self, key: &[u8], t: Tracker) -> bool {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.index.insert(key.to_vec(), self.entries.len());
                self.entries.push((key.to_vec(), Vec::new()));
                self.entries.len() - 1
            }
        };
        let ids = &mut self.entries[i].1;
        if ids.iter().any(|x| x.id == t.id) {
            return false;
        }
        ids.push(t);
        true
    }

    fn remove(&mut self, key: &[u8]) -> Option<Vec<Tracker>> {
        let i = self.index.remove(key)?;
        let (_, ids) = self.entries.swap_remove(i);
        if let Some((moved, _)) = self.entries.get(i) {
            if let Some(slot) = self.index.get_mut(moved.as_slice()) {
                *slot = i;
            }
        }
        Some(ids)
    }

    fn random_key(&self, rng: &mut Rng) -> Option<Vec<u8>> {
        if self.entries.is_empty() {
            return None;
        }
        let i = rng.below(self.entries.len() as u64) as usize;
        Some(self.entries[i].0.clone())
    }

    fn clear(&mut self) {
        *self = KeyTable::default();
    }
}

/// One BCAST prefix (Redis's bcastState).
#[derive(Debug, Default)]
struct Bcast {
    /// Keys modified since the last broadcast, each with the id of the client that changed it
    /// last (0: the server, or a script).
    keys: BTreeMap<Vec<u8>, u64>,
    clients: Vec<Tracker>,
}

/// The server's tracking state.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Some client enabled tracking once (Redis's TrackingTable != NULL): from then on
    /// writes, expiry and flushes consult the tables.
    enabled_once: bool,
    /// INFO's tracking_clients.
    clients: usize,
    table: KeyTable,
    /// (key, client) pairs in the table: INFO's tracking_total_items.
    items: u64,
    prefixes: BTreeMap<Vec<u8>, Bcast>,
    /// Invalidations for the client running the outermost command, sent after its reply
    /// (None: the null of a flush).
    pending: Vec<Option<Vec<u8>>>,
    /// Nesting of `command::call` (EXEC and scripts call inside a call).
    depth: u32,
    /// The client whose top-level command is running (Redis's server.current_client).
    current: Option<usize>,
    /// While a tracking client runs EVAL/FCALL: its slot and the keys the script declared,
    /// which its reads track (Redis remembers the script caller's keys).
    script_keys: Option<(usize, Vec<Vec<u8>>)>,
    /// Rounds that ended still over tracking-table-max-keys (the effort grows with them).
    limit_rounds: u32,
    now: UnixMillis,
}

impl Tracking {
    /// Whether writes and expiry have anything to look up.
    pub(crate) fn enabled_once(&self) -> bool {
        self.enabled_once
    }

    /// INFO's tracking_clients.
    pub fn client_count(&self) -> usize {
        self.clients
    }

    /// INFO's tracking_total_keys.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// INFO's tracking_total_items.
    pub fn total_items(&self) -> u64 {
        self.items
    }

    /// INFO's tracking_total_prefixes.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

/// A client on its way out (killed, or closing after its reply: QUIT) counts as gone, as Redis
/// frees it before it reads anything else.
fn closing(c: &Client) -> bool {
    c.close_asap || c.close_after_reply
}

/// The live client `t` names, if it is still connected.
fn live(clients: &slab::Slab<Client>, t: Tracker) -> Option<&Client> {
    clients
        .get(t.slot)
        .filter(|c| c.client_id == t.id && !closing(c))
}

/// Redis's lookupClientByID, for REDIRECT.
fn find_client(clients: &slab::Slab<Client>, id: u64) -> Option<usize> {
    clients
        .iter()
        .find(|(_, c)| c.client_id == id && id != 0 && !closing(c))
        .map(|(slot, _)| slot)
}

/// What an invalidation carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    /// One key: `*1 $k`.
    Key(&'a [u8]),
    /// A flush: the null of the tracking client's protocol (Redis sends shared.null[c->resp]
    /// as it is, even to a redirect client of the other protocol).
    Null,
    /// A BCAST array, already encoded.
    Proto(&'a [u8]),
}

/// Redis's sendTrackingMessage: one invalidation for tracking client `slot`, to it or to its
/// redirect client.
fn send(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize, payload: Payload) {
    let Some(c) = clients.get_mut(slot) else {
        return;
    };
    let (redirect, redirect_slot) = c
        .tracking
        .as_ref()
        .map_or((0, 0), |t| (t.redirect, t.redirect_slot));
    let null: &[u8] = if c.resp3 { b"_\r\n" } else { b"$-1\r\n" };
    let mut target = slot;
    let redirected = redirect != 0;
    if redirected {
        let found = live(
            clients,
            Tracker {
                id: redirect,
                slot: redirect_slot,
            },
        )
        .is_some();
        if !found {
            let c = &mut clients[slot];
            if let Some(t) = c.tracking.as_mut() {
                t.broken_redir = true;
            }
            if c.resp3 {
                push_to(srv, clients, slot, |w| {
                    w.push_len(2);
                    w.bulk(b"tracking-redir-broken");
                    w.int(redirect as i64);
                });
            }
            return;
        }
        target = redirect_slot;
    }
    let tc = &clients[target];
    let resp3 = tc.resp3;
    if !(resp3 || redirected && super::pubsub::is_pubsub(tc)) {
        // RESP2 without a subscribed redirect client: nothing can carry it.
        return;
    }
    push_to(srv, clients, target, |w| {
        if resp3 {
            w.push_len(2);
            w.bulk(b"invalidate");
        } else {
            w.array_len(3);
            w.bulk(b"message");
            w.bulk(CHANNEL);
        }
        match payload {
            Payload::Key(k) => {
                w.array_len(1);
                w.bulk(k);
            }
            Payload::Null => w.out.extend_from_slice(null),
            Payload::Proto(p) => w.out.extend_from_slice(p),
        }
    });
}

fn push_to(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    write: impl FnOnce(&mut crate::resp::ReplyWriter),
) {
    let caller = srv.tracking.current;
    let now = srv.tracking.now;
    super::pubsub::deliver_push(
        now,
        &srv.config,
        &mut srv.events,
        caller,
        clients,
        slot,
        write,
    );
}

/// Redis's trackingInvalidateKey: `key` changed (or is evicted from the table when
/// `bcast` is false). `modifier`: the client that changed it (its id, 0 for none).
fn invalidate(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    key: &[u8],
    modifier: u64,
    bcast: bool,
) {
    if !srv.tracking.enabled_once {
        return;
    }
    if bcast && !srv.tracking.prefixes.is_empty() {
        for (p, bs) in srv.tracking.prefixes.iter_mut() {
            if key.starts_with(p) {
                bs.keys.insert(key.to_vec(), modifier);
            }
        }
    }
    let Some(ids) = srv.tracking.table.remove(key) else {
        return;
    };
    srv.tracking.items -= ids.len() as u64;
    let current = srv.tracking.current;
    for t in ids {
        let Some(c) = live(clients, t) else {
            continue;
        };
        let Some(ct) = c.tracking.as_ref() else {
            continue;
        };
        // A client that switched to BCAST gets nothing for keys it read before.
        if ct.bcast {
            continue;
        }
        let is_current = current == Some(t.slot);
        if ct.noloop && is_current {
            continue;
        }
        if is_current && srv.tracking.depth > 0 {
            srv.tracking.pending.push(Some(key.to_vec()));
        } else {
            send(srv, clients, t.slot, Payload::Key(key));
        }
    }
}

/// A write to `key` by client `by` (Redis's signalModifiedKey -> trackingInvalidateKey).
pub fn key_modified(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    by: crate::engine::ClientHandle,
    key: &[u8],
) {
    let modifier = clients.get(by.0).map_or(0, |c| c.client_id);
    invalidate(srv, clients, key, modifier, true);
}

/// The server deleted `key` on its own (expiry, eviction): trackingInvalidateKey with no
/// client. The eviction code calls this for every evicted key.
pub fn key_deleted(srv: &mut Server, clients: &mut slab::Slab<Client>, key: &[u8]) {
    invalidate(srv, clients, key, 0, true);
}

/// Redis's trackingInvalidateKeysOnFlush: every tracking client gets a null invalidation
/// (the one running the FLUSH after its reply), and the table is emptied.
pub fn flushed(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    if srv.tracking.clients > 0 {
        let mut order: Vec<(u64, usize)> = clients
            .iter()
            .filter(|(_, c)| c.tracking.is_some())
            .map(|(slot, c)| (c.client_id, slot))
            .collect();
        order.sort_unstable();
        for (_, slot) in order {
            if srv.tracking.current == Some(slot) && srv.tracking.depth > 0 {
                srv.tracking.pending.push(None);
            } else {
                send(srv, clients, slot, Payload::Null);
            }
        }
    }
    srv.tracking.table.clear();
    srv.tracking.items = 0;
}

/// Redis's trackingLimitUsedSlots: past `tracking-table-max-keys`, invalidates keys picked at
/// random (as if they changed, for the clients tracking them) until the table fits, with an
/// effort that grows while it does not.
pub fn limit(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    if srv.tracking.clients == 0 || !srv.tracking.enabled_once {
        return;
    }
    let max = srv.config.tracking_table_max_keys;
    if max <= 0 {
        return;
    }
    let max = max as usize;
    if srv.tracking.table.len() <= max {
        srv.tracking.limit_rounds = 0;
        return;
    }
    let mut effort = 100 * (srv.tracking.limit_rounds as u64 + 1);
    while effort > 0 {
        effort -= 1;
        let Some(key) = srv.tracking.table.random_key(&mut srv.rng) else {
            break;
        };
        invalidate(srv, clients, &key, 0, false);
        if srv.tracking.table.len() <= max {
            srv.tracking.limit_rounds = 0;
            return;
        }
    }
    srv.tracking.limit_rounds += 1;
}

/// Redis's trackingBuildBroadcastReply: the array of `keys`, leaving out those `skip` changed
/// last (NOLOOP); None when nothing is left.
fn broadcast_proto(keys: &BTreeMap<Vec<u8>, u64>, skip: Option<u64>) -> Option<Vec<u8>> {
    let count = keys.values().filter(|&&m| Some(m) != skip).count();
    if count == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(count * 15);
    let mut w = crate::resp::ReplyWriter::new(&mut out, false);
    w.array_len(count);
    for (k, &m) in keys {
        if Some(m) != skip {
            w.bulk(k);
        }
    }
    Some(out)
}

/// Redis's trackingBroadcastInvalidationMessages (beforeSleep): for each prefix with changed
/// keys, one array of them to each of its clients. The engine calls this after each batch of
/// input and each tick.
#[inline]
pub fn broadcast(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    // Inlined for this test, which is all most requests pay.
    if srv.tracking.clients != 0 && !srv.tracking.prefixes.is_empty() {
        broadcast_prefixes(srv, clients);
    }
}

/// `broadcast` while some client tracks prefixes (BCAST).
#[inline(never)]
fn broadcast_prefixes(srv: &mut Server, clients: &mut slab::Slab<Client>) {
    if srv.tracking.prefixes.values().all(|b| b.keys.is_empty()) {
        return;
    }
    let prefixes: Vec<Vec<u8>> = srv.tracking.prefixes.keys().cloned().collect();
    for p in prefixes {
        let Some(bs) = srv.tracking.prefixes.get_mut(&p) else {
            continue;
        };
        let keys = std::mem::take(&mut bs.keys);
        if keys.is_empty() {
            continue;
        }
        let targets = bs.clients.clone();
        let all = broadcast_proto(&keys, None);
        for t in targets {
            let noloop = live(clients, t)
                .and_then(|c| c.tracking.as_ref())
                .is_some_and(|ct| ct.noloop);
            if noloop {
                if let Some(adhoc) = broadcast_proto(&keys, Some(t.id)) {
                    send(srv, clients, t.slot, Payload::Proto(&adhoc));
                }
            } else if let Some(all) = &all {
                send(srv, clients, t.slot, Payload::Proto(all));
            }
        }
    }
}

/// The cron's part (serverCron's trackingLimitUsedSlots, then beforeSleep's broadcast).
pub fn tick(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    srv.tracking.now = now;
    limit(srv, clients);
    broadcast(srv, clients);
}

/// Redis's disableTracking: leaves the prefixes, clears the flags. The client's entries in the
/// table stay (they are skipped, and dropped when their key is invalidated), as in Redis.
pub fn disable(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    let Some(c) = clients.get_mut(slot) else {
        return;
    };
    let Some(ct) = c.tracking.take() else {
        return;
    };
    let id = c.client_id;
    if ct.bcast {
        for p in &ct.prefixes {
            if let Some(bs) = srv.tracking.prefixes.get_mut(p) {
                bs.clients.retain(|t| t.id != id);
                if bs.clients.is_empty() {
                    srv.tracking.prefixes.remove(p);
                }
            }
        }
    }
    srv.tracking.clients -= 1;
}

/// Before `command::call` runs a command: counts the nesting, notes the top-level client, and
/// for a tracking client starting a script the keys it declares; returns the script keys it
/// replaced, for `leave_call` to put back.
#[inline]
pub(crate) fn enter_call(
    now: UnixMillis,
    srv: &mut Server,
    clients: &slab::Slab<Client>,
    slot: usize,
    cmd: &CommandSpec,
    args: &[&[u8]],
) -> Option<Option<(usize, Vec<Vec<u8>>)>> {
    let t = &mut srv.tracking;
    t.now = now;
    if t.depth == 0 {
        t.current = Some(slot);
    }
    t.depth += 1;
    // A tracking client starting a script: its reads track the keys the script declares.
    let c = &clients[slot];
    let tracking = c.client_id != 0 && c.tracking.as_ref().is_some_and(|ct| !ct.bcast);
    if tracking {
        script_keys_enter(t, slot, cmd, args)
    } else {
        None
    }
}

/// `enter_call` for a tracking (not BCAST) client: a script's declared keys.
#[inline(never)]
fn script_keys_enter(
    t: &mut Tracking,
    slot: usize,
    cmd: &CommandSpec,
    args: &[&[u8]],
) -> Option<Option<(usize, Vec<Vec<u8>>)>> {
    if matches!(
        cmd.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    ) {
        let keys = numkeys_keys(args, 2, 3)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        return Some(t.script_keys.replace((slot, keys)));
    }
    None
}

/// After the handler of `command::call` (before propagation): expiry deletions of the command
/// first, then the keys a read-only command read are remembered for its tracking client.
#[inline]
pub(crate) fn after_handler(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    cmd: &CommandSpec,
    args: &[&[u8]],
    now: UnixMillis,
) {
    // Inlined for this test: until some client turns tracking on, nothing is remembered.
    if srv.tracking.enabled_once {
        after_handler_tracking(srv, clients, slot, cmd, args, now);
    }
}

/// `after_handler` once tracking has been turned on.
#[inline(never)]
fn after_handler_tracking(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: usize,
    cmd: &CommandSpec,
    args: &[&[u8]],
    now: UnixMillis,
) {
    srv.tracking.now = now;
    super::tx::drain_expired(srv, clients);
    if !cmd.has(super::flags::READONLY)
        || matches!(cmd.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
        || srv.tracking.clients == 0
    {
        return;
    }
    let Some(c) = clients.get(slot) else {
        return;
    };
    if c.client_id == 0 {
        // A script's read: the script's caller tracks the keys the script declared.
        let Some((caller, keys)) = srv.tracking.script_keys.take() else {
            return;
        };
        remember(srv, clients, caller, keys.iter().map(Vec::as_slice));
        srv.tracking.script_keys = Some((caller, keys));
    } else {
        if cmd.has(super::flags::PUBSUB) {
            return;
        }
        remember(srv, clients, slot, command_keys(cmd, args).into_iter());
    }
}

/// After `command::call` finished a command: the outermost call sends the invalidations it
/// deferred for its own client (Redis's afterCommand -> trackingHandlePendingKeyInvalidations).
pub(crate) fn leave_call(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    saved_script: Option<Option<(usize, Vec<Vec<u8>>)>>,
) {
    if let Some(prev) = saved_script {
        srv.tracking.script_keys = prev;
    }
    let t = &mut srv.tracking;
    t.depth -= 1;
    if t.depth > 0 {
        return;
    }
    if t.pending.is_empty() {
        t.current = None;
        return;
    }
    let pending = std::mem::take(&mut t.pending);
    if let Some(slot) = t.current.filter(|&s| clients.contains(s)) {
        // NOLOOP was applied when they were deferred.
        for p in pending {
            match &p {
                Some(k) => send(srv, clients, slot, Payload::Key(k)),
                None => send(srv, clients, slot, Payload::Null),
            }
        }
    }
    srv.tracking.current = None;
}

/// Redis's trackingRememberKeys for tracking client `slot` (not BCAST).
fn remember<'k>(
    srv: &mut Server,
    clients: &slab::Slab<Client>,
    slot: usize,
    keys: impl Iterator<Item = &'k [u8]>,
) {
    let Some(c) = clients.get(slot) else {
        return;
    };
    let Some(ct) = c.tracking.as_ref() else {
        return;
    };
    if ct.bcast || (ct.optin && !ct.caching) || (ct.optout && ct.caching) {
        return;
    }
    let t = Tracker {
        id: c.client_id,
        slot,
    };
    for k in keys {
        if srv.tracking.table.insert(k, t) {
            srv.tracking.items += 1;
        }
    }
}

/// C's atoi: optional blanks and sign, then digits up to the first non-digit (0 if none).
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = s.get(i).filter(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Redis's genericGetKeys without a store key: `numkeys` at `count_at`, keys from `first`.
fn numkeys_keys<'a>(args: &[&'a [u8]], count_at: usize, first: usize) -> Vec<&'a [u8]> {
    let Some(n) = args.get(count_at) else {
        return Vec::new();
    };
    let num = atoi(c_str(n));
    let room = args.len().saturating_sub(first) as i64;
    if num < 1 || num > room {
        return Vec::new();
    }
    args[first..first + num as usize].to_vec()
}

/// Redis's getKeysFromCommand for the read-only commands: the movable-key ones by their
/// getkeys functions, the others by the legacy (first, last, step) range.
pub fn command_keys<'a>(cmd: &CommandSpec, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    match cmd.name {
        "sort_ro" => return args.get(1).copied().into_iter().collect(),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" => {
            return numkeys_keys(args, 1, 2)
        }
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
            return numkeys_keys(args, 2, 3)
        }
        "xread" => return xread_keys(args),
        _ => {}
    }
    if cmd.first_key <= 0 {
        return Vec::new();
    }
    let argc = args.len() as i64;
    let first = i64::from(cmd.first_key);
    let last = i64::from(cmd.last_key);
    let last = if last < 0 { argc + last } else { last };
    let step = i64::from(cmd.key_step.max(1));
    let mut out = Vec::new();
    let mut j = first;
    while j <= last {
        if j < argc {
            out.push(args[j as usize]);
        }
        j += step;
    }
    out
}

/// Redis's xreadGetKeys.
fn xread_keys<'a>(args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut streams = None;
    let mut i = 1;
    while i < args.len() {
        let a = args[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "noack") {
        } else if is(a, "streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(pos) = streams else {
        return Vec::new();
    };
    let num = args.len() - pos - 1;
    if num == 0 || !num.is_multiple_of(2) {
        return Vec::new();
    }
    args[pos + 1..pos + 1 + num / 2].to_vec()
}

/// Redis's checkPrefixCollisionsOrReply: Ok, or the error and whether Redis goes on to enable
/// tracking anyway (its quirk: an overlap found among the new prefixes at any index but the
/// first returns a non-zero "success" after replying the error, so the client gets the error
/// and then +OK).
fn check_prefixes(existing: &BTreeSet<Vec<u8>>, new: &[&[u8]]) -> Result<(), (CmdError, bool)> {
    let overlaps = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    let msg = |p: &[u8], what: &str, q: &[u8]| {
        let mut m = b"ERR Prefix '".to_vec();
        m.extend_from_slice(c_str(p));
        m.extend_from_slice(b"' overlaps with ");
        m.extend_from_slice(what.as_bytes());
        m.extend_from_slice(b" '");
        m.extend_from_slice(c_str(q));
        m.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
        CmdError::Msg(m)
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlaps(e, p)) {
            return Err((msg(p, "an existing prefix", e), false));
        }
        for q in &new[i + 1..] {
            if overlaps(p, q) {
                return Err((msg(p, "another provided prefix", q), i != 0));
            }
        }
    }
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn client_tracking(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut redir: Option<(u64, usize)> = None;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = args[j];
        if is(a, "redirect") && more {
            j += 1;
            if redir.is_some() {
                return Err(CmdError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            let id = parse_int(args[j])?;
            // Redis requires the client to exist now, though it may go later.
            let slot = find_client(ctx.clients, id as u64).ok_or_else(|| {
                CmdError::err("The client ID you want redirect to does not exist")
            })?;
            redir = Some((id as u64, slot));
        } else if is(a, "bcast") {
            bcast = true;
        } else if is(a, "optin") {
            optin = true;
        } else if is(a, "optout") {
            optout = true;
        } else if is(a, "noloop") {
            noloop = true;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(args[j]);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let slot = ctx.handle.0;
    if is(args[2], "off") {
        disable(ctx.srv, ctx.clients, slot);
        ctx.out().ok();
        return Ok(());
    }
    if !is(args[2], "on") {
        return Err(CmdError::Syntax);
    }
    if !bcast && !prefixes.is_empty() {
        return Err(CmdError::err(
            "PREFIX option requires BCAST mode to be enabled",
        ));
    }
    let old = ctx
        .client_ref()
        .tracking
        .as_deref()
        .map(|o| (o.bcast, o.optin, o.optout, o.prefixes.clone()));
    if old.as_ref().is_some_and(|o| o.0 != bcast) {
        return Err(CmdError::err(
            "You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if bcast && (optin || optout) {
        return Err(CmdError::err(
            "OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if optin && optout {
        return Err(CmdError::err(
            "You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if old
        .as_ref()
        .is_some_and(|o| (optin && o.2) || (optout && o.1))
    {
        return Err(CmdError::err(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if bcast {
        let existing = old.map(|o| o.3).unwrap_or_default();
        if let Err((e, go_on)) = check_prefixes(&existing, &prefixes) {
            if !go_on {
                return Err(e);
            }
            ctx.error(&e);
        }
    }
    // enableTracking.
    let t = &mut ctx.srv.tracking;
    t.enabled_once = true;
    let c = &mut ctx.clients[slot];
    if c.tracking.is_none() {
        t.clients += 1;
    }
    let id = c.client_id;
    let ct = c.tracking.get_or_insert_with(Default::default);
    // The flags are reset; CACHING and the prefixes stay.
    (ct.redirect, ct.redirect_slot) = redir.unwrap_or((0, 0));
    ct.broken_redir = false;
    ct.bcast = bcast;
    ct.optin = optin;
    ct.optout = optout;
    ct.noloop = noloop;
    if bcast {
        let list: Vec<&[u8]> = if prefixes.is_empty() {
            vec![b""]
        } else {
            prefixes
        };
        for p in list {
            let bs = t.prefixes.entry(p.to_vec()).or_default();
            if !bs.clients.iter().any(|x| x.id == id) {
                bs.clients.push(Tracker { id, slot });
                ct.prefixes.insert(p.to_vec());
            }
        }
    }
    super::tx::sync_expiry_logging(ctx.srv);
    ctx.out().ok();
    Ok(())
}

/// CLIENT CACHING YES|NO
pub fn client_caching(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let Some(ct) = ctx.client().tracking.as_deref_mut() else {
        return Err(CmdError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(args[2], "yes") {
        if !ct.optin {
            return Err(CmdError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(args[2], "no") {
        if !ct.optout {
            return Err(CmdError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ct.caching = true;
    ctx.out().ok();
    Ok(())
}

/// Redis's resetClient for CACHING: it applies to the next command, or the next transaction
/// (kept inside MULTI), and any CLIENT subcommand keeps it too (Redis compares the command's
/// proc, which all CLIENT subcommands share).
pub(crate) fn after_command(c: &mut Client) {
    if let Some(ct) = c.tracking.as_deref_mut() {
        if !c.tx.active && c.last_cmd != "client" && !c.last_cmd.starts_with("client|") {
            ct.caching = false;
        }
    }
}

/// CLIENT GETREDIR
pub fn client_getredir(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let r = ctx
        .client_ref()
        .tracking
        .as_ref()
        .map_or(-1, |t| t.redirect as i64);
    ctx.out().int(r);
    Ok(())
}

/// CLIENT TRACKINGINFO
pub fn client_trackinginfo(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let c = &mut ctx.clients[ctx.handle.0];
    let t = c.tracking.as_deref();
    let mut flags: Vec<&[u8]> = vec![if t.is_some() { b"on" } else { b"off" }];
    let mut redirect = -1;
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    if let Some(t) = t {
        if t.bcast {
            flags.push(b"bcast");
        }
        if t.optin {
            flags.push(b"optin");
            if t.caching {
                flags.push(b"caching-yes");
            }
        }
        if t.optout {
            flags.push(b"optout");
            if t.caching {
                flags.push(b"caching-no");
            }
        }
        if t.noloop {
            flags.push(b"noloop");
        }
        if t.broken_redir {
            flags.push(b"broken_redirect");
        }
        redirect = t.redirect as i64;
        prefixes = t.prefixes.iter().cloned().collect();
    }
    let mut out = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    out.map_len(3);
    out.bulk(b"flags");
    out.set_len(flags.len());
    for f in flags {
        out.bulk(f);
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    out.array_len(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
    Ok(())
}

/// CLIENT LIST's flags (t, R, B) and redir= for a client.
pub(crate) fn list_flags(c: &Client, flags: &mut String) {
    if let Some(t) = c.tracking.as_deref() {
        flags.push('t');
        if t.broken_redir {
            flags.push('R');
        }
        if t.bcast {
            flags.push('B');
        }
    }
}

/// CLIENT LIST's redir=: the redirect id while tracking (0 without REDIRECT), else -1.
pub(crate) fn list_redir(c: &Client) -> i64 {
    c.tracking.as_ref().map_or(-1, |t| t.redirect as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{Config, ConnInfo, Engine};

    fn feed(eng: &mut Engine, id: crate::ClientHandle, cmd: &str) -> String {
        let mut args = Vec::new();
        assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
        eng.feed(UnixMillis(1000), id, &crate::resp::encode_request(&args));
        read(eng, id)
    }

    fn read(eng: &mut Engine, id: crate::ClientHandle) -> String {
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).replace("\r\n", " ")
    }

    #[test]
    fn the_table_limit_invalidates_random_keys_until_it_fits() {
        let mut eng = Engine::new(Config::default(), 7);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        feed(&mut eng, a, "HELLO 3");
        assert_eq!(feed(&mut eng, a, "CLIENT TRACKING on"), "+OK ");
        feed(&mut eng, a, "MGET k1 k2 k3 k4 k5");
        assert_eq!(eng.server().tracking.total_keys(), 5);
        feed(&mut eng, b, "CONFIG SET tracking-table-max-keys 2");
        // The limit is applied before the next command: three keys go, each invalidated.
        assert_eq!(feed(&mut eng, b, "PING"), "+PONG ");
        assert_eq!(eng.server().tracking.total_keys(), 2);
        let pushes = read(&mut eng, a);
        assert_eq!(
            pushes.matches(">2 $10 invalidate *1 $2 k").count(),
            3,
            "{pushes}"
        );
        // The cron applies it too (a key tracked while the limit is 0, then lowered).
        feed(&mut eng, b, "CONFIG SET tracking-table-max-keys 0");
        feed(&mut eng, a, "MGET k6 k7 k8");
        assert_eq!(eng.server().tracking.total_keys(), 5);
        eng.server_mut().config.tracking_table_max_keys = 1;
        eng.tick(UnixMillis(2000));
        assert_eq!(eng.server().tracking.total_keys(), 1);
        assert_eq!(read(&mut eng, a).matches("invalidate").count(), 4);
    }

    #[test]
    fn a_lazily_expired_key_is_invalidated_after_the_reply_and_tracked_again() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        for id in [a, b] {
            feed(&mut eng, id, "HELLO 3");
            feed(&mut eng, id, "CLIENT TRACKING on");
        }
        feed(&mut eng, a, "SET k v PX 100");
        assert_eq!(feed(&mut eng, a, "GET k"), "$1 v ");
        assert_eq!(feed(&mut eng, b, "GET k"), "$1 v ");
        // No tick: the key expires when a reads it, b hears of it at once, a after its reply.
        eng.feed(UnixMillis(1200), a, b"GET k\r\n");
        assert_eq!(read(&mut eng, a), "_ >2 $10 invalidate *1 $1 k ");
        assert_eq!(read(&mut eng, b), ">2 $10 invalidate *1 $1 k ");
        // The read tracked k again for a.
        assert_eq!(eng.server().tracking.total_items(), 1);
        feed(&mut eng, b, "SET k w");
        assert_eq!(read(&mut eng, a), ">2 $10 invalidate *1 $1 k ");
    }

    #[test]
    fn client_list_shows_tracking_flags_and_redirect() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            feed(&mut eng, a, "CLIENT TRACKING on BCAST REDIRECT 2"),
            "+OK "
        );
        let info = feed(&mut eng, a, "CLIENT INFO");
        assert!(
            info.contains(" flags=tB ") && info.contains(" redir=2 "),
            "{info}"
        );
        // The redirect client goes: the next invalidation finds it gone.
        eng.disconnect(b);
        feed(&mut eng, a, "SET x 1");
        let info = feed(&mut eng, a, "CLIENT INFO");
        assert!(info.contains(" flags=tRB "), "{info}");
        feed(&mut eng, a, "CLIENT TRACKING off");
        let info = feed(&mut eng, a, "CLIENT INFO");
        assert!(
            info.contains(" flags=N ") && info.contains(" redir=-1 "),
            "{info}"
        );
    }

    #[test]
    fn a_disconnected_client_leaves_its_prefixes_and_its_count() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        feed(&mut eng, a, "CLIENT TRACKING on BCAST PREFIX p PREFIX q");
        feed(&mut eng, b, "CLIENT TRACKING on");
        feed(&mut eng, b, "GET k");
        let t = &eng.server().tracking;
        assert_eq!(
            (t.client_count(), t.total_prefixes(), t.total_items()),
            (2, 2, 1)
        );
        eng.disconnect(a);
        eng.disconnect(b);
        let t = &eng.server().tracking;
        // The table keeps b's entry until k changes, as Redis does.
        assert_eq!(
            (t.client_count(), t.total_prefixes(), t.total_items()),
            (0, 0, 1)
        );
    }

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b" -3"), -3);
        assert_eq!(atoi(b"x"), 0);
    }

    #[test]
    fn prefix_collisions_follow_redis() {
        let mut existing = BTreeSet::new();
        existing.insert(b"b".to_vec());
        let e = check_prefixes(&existing, &[b"bcd"]).unwrap_err();
        assert_eq!(
            e.0.text(),
            b"ERR Prefix 'bcd' overlaps with an existing prefix 'b'. Prefixes for a single client must not overlap."
        );
        assert!(!e.1);
        let none = BTreeSet::new();
        assert!(!check_prefixes(&none, &[b"a", b"ab"]).unwrap_err().1);
        assert!(check_prefixes(&none, &[b"a", b"b", b"bc"]).unwrap_err().1);
        assert!(check_prefixes(&none, &[b"a", b"b"]).is_ok());
    }

    #[test]
    fn key_table_removes_and_picks() {
        let mut t = KeyTable::default();
        let tr = Tracker { id: 1, slot: 0 };
        assert!(t.insert(b"a", tr));
        assert!(!t.insert(b"a", tr));
        assert!(t.insert(b"b", tr));
        assert!(t.insert(b"c", Tracker { id: 2, slot: 1 }));
        assert_eq!(t.remove(b"a").map(|v| v.len()), Some(1));
        assert_eq!(t.len(), 2);
        assert!(t.remove(b"a").is_none());
        assert!(t.insert(b"b", Tracker { id: 2, slot: 1 }));
        assert_eq!(t.remove(b"b").map(|v| v.len()), Some(2));
        let mut rng = Rng::new(1);
        assert_eq!(t.random_key(&mut rng), Some(b"c".to_vec()));
    }
}
