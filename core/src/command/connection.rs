//! The connection command group: PING, ECHO, SELECT, QUIT, HELLO and CLIENT's
//! per-connection subcommands (Redis's networking.c / server.c).

use super::{flags, is, parse_int, CmdError, CommandSpec, Ctx};
use crate::config::REDIS_VERSION;
use crate::engine::{Client, ClientHandle, Event, Server};
use crate::resp::ReplyWriter;
use crate::time::UnixMillis;

/// PING [message]
pub fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 2 {
        // The table's arity is -1: Redis checks the upper bound itself.
        return Err(CmdError::err(
            "wrong number of arguments for 'ping' command",
        ));
    }
    // Redis's pingCommand: a RESP2 client in pubsub context gets ["pong", message], also when
    // the PING runs inside EXEC after a queued SUBSCRIBE.
    if super::pubsub::subscriber_ping(ctx.client(), args) {
        return Ok(());
    }
    let mut out = ctx.out();
    match args.get(1) {
        Some(msg) => out.bulk(msg),
        None => out.simple("PONG"),
    }
    Ok(())
}

/// ECHO message
pub fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out().bulk(args[1]);
    Ok(())
}

/// SELECT index
pub fn select(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // getIntFromObjectOrReply: a long long first, then the int range.
    let id = parse_int(args[1])?;
    let id = i32::try_from(id).map_err(|_| {
        CmdError::err("value is out of range, value must between -2147483648 and 2147483647")
    })?;
    if ctx.srv.cluster.is_some() && id != 0 {
        return Err(CmdError::err("SELECT is not allowed in cluster mode"));
    }
    let db = usize::try_from(id)
        .ok()
        .filter(|&i| i < ctx.srv.dbs.len())
        .ok_or_else(|| CmdError::err("DB index is out of range"))?;
    ctx.client().db = db;
    ctx.out().ok();
    Ok(())
}

/// QUIT: answered by dispatch before lookup (as Redis 7.0 does); kept for the table.
pub fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out().ok();
    ctx.client().close_after_reply = true;
    Ok(())
}

/// networking.c validateClientName: printable ASCII without spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

const BAD_NAME: &str = "Client names cannot contain spaces, newlines or special characters.";

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut ver = None;
    let mut next = 1;
    if let Some(v) = args.get(1) {
        let v = super::parse_i64(v)
            .ok_or_else(|| CmdError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Msg(
                b"NOPROTO unsupported protocol version".to_vec(),
            ));
        }
        ver = Some(v);
        next = 2;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "AUTH") && more >= 2 {
            auth = Some((args[j + 1], args[j + 2]));
            j += 3;
        } else if is(args[j], "SETNAME") && more >= 1 {
            name = Some(args[j + 1]);
            j += 2;
        } else {
            let mut m = b"ERR Syntax error in HELLO option '".to_vec();
            m.extend_from_slice(args[j]);
            m.push(b'\'');
            return Err(CmdError::Msg(m));
        }
    }
    if let Some((user, pass)) = auth {
        authenticate(ctx, args[0], user, pass)?;
    }
    if auth_required(ctx.srv, ctx.client_ref()) {
        return Err(CmdError::Msg(
            b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".to_vec(),
        ));
    }
    if let Some(name) = name {
        if !valid_client_name(name) {
            return Err(CmdError::err(BAD_NAME));
        }
    }
    let c = ctx.client();
    if let Some(name) = name {
        c.name = (!name.is_empty()).then(|| name.to_vec());
    }
    if let Some(v) = ver {
        c.resp3 = v == 3;
    }
    let (id, proto) = (c.client_id as i64, if c.resp3 { 3 } else { 2 });
    let replica = ctx.srv.repl.replica.is_replica();
    // Redis: "cluster" when cluster_enabled (sentinel is a separate server here).
    let mode: &[u8] = if ctx.srv.cluster.is_some() {
        b"cluster"
    } else {
        b"standalone"
    };
    let mut out = ctx.out();
    out.map_len(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(id);
    out.bulk(b"mode");
    out.bulk(mode);
    out.bulk(b"role");
    out.bulk(if replica { &b"replica"[..] } else { b"master" });
    out.bulk(b"modules");
    out.array_len(0);
    Ok(())
}

/// CLIENT ID
pub fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let id = ctx.client_ref().client_id as i64;
    ctx.out().int(id);
    Ok(())
}

/// CLIENT SETNAME connection-name ("" removes the name)
pub fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if !valid_client_name(args[2]) {
        return Err(CmdError::err(BAD_NAME));
    }
    ctx.client().name = (!args[2].is_empty()).then(|| args[2].to_vec());
    ctx.out().ok();
    Ok(())
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let name = ctx.client_ref().name.clone();
    let mut out = ctx.out();
    match name {
        Some(n) => out.bulk(&n),
        None => out.nil(),
    }
    Ok(())
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver> (Redis 7.2's, which clients send on
/// connect; answered with 7.2's checks and texts).
pub fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() != 4 {
        // 7.2's arity is exactly 4.
        return Err(CmdError::err(
            "wrong number of arguments for 'client|setinfo' command",
        ));
    }
    let (attr, val) = (args[2], args[3]);
    let lib_name = if is(attr, "lib-name") {
        true
    } else if is(attr, "lib-ver") {
        false
    } else {
        let mut m = b"ERR Unrecognized option '".to_vec();
        m.extend_from_slice(attr);
        m.push(b'\'');
        return Err(CmdError::Msg(m));
    };
    if !valid_client_name(val) {
        let mut m = b"ERR ".to_vec();
        m.extend_from_slice(attr);
        m.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
        return Err(CmdError::Msg(m));
    }
    let v = (!val.is_empty()).then(|| val.to_vec());
    let c = ctx.client();
    if lib_name {
        c.lib_name = v;
    } else {
        c.lib_ver = v;
    }
    ctx.out().ok();
    Ok(())
}

/// Redis 7.0's CLIENT HELP text (all of it, as Redis prints it).
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
];

/// Writes a help text as Redis's addReplyHelp does: status lines in an array.
pub(crate) fn reply_help(ctx: &mut Ctx, lines: &[&str]) {
    let mut out = ctx.out();
    out.array_len(lines.len());
    for l in lines {
        out.simple(l);
    }
}

/// CLIENT HELP
pub fn client_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, CLIENT_HELP);
    Ok(())
}

/// CLIENT REPLY state (Redis's CLIENT_REPLY_OFF / _SKIP / _SKIP_NEXT flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyMode {
    pub off: bool,
    /// Drop the replies of the command being run.
    pub skip: bool,
    /// Set by CLIENT REPLY SKIP: becomes `skip` for the next command.
    pub skip_next: bool,
    /// Where in the client's output the current OFF/SKIP state began to apply, within the
    /// top-level command being run: what was written since then goes or stays together.
    pub since: usize,
}

impl ReplyMode {
    /// Whether what is written now is dropped (prepareClientToWrite refusing).
    pub fn silenced(&self) -> bool {
        self.off || self.skip
    }
}

/// A CLIENT PAUSE in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    pub end: UnixMillis,
    /// ALL (every command waits) rather than WRITE (only commands that may write).
    pub all: bool,
}

/// The default user has no password (Redis's `DefaultUser->flags & USER_FLAG_NOPASS`).
pub fn default_user_nopass(srv: &Server) -> bool {
    srv.acl.default_nopass()
}

/// Redis's islocalClient: the unix socket, or a peer of exactly 127.0.0.1 or ::1 (127.0.0.2 is
/// not local to Redis). `addr` is "ip:port" ("[ip]:port" for IPv6, as Rust writes it). A
/// client whose address is no IP at all (the wasm host's "wasm:0", a test's "") is inside the
/// host's process: local.
pub fn is_local(info: &crate::engine::ConnInfo) -> bool {
    if info.unix_socket {
        return true;
    }
    let ip = match info.addr.rsplit_once(':') {
        Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']'),
        None => info.addr.as_str(),
    };
    // Redis compares inet_ntop's text: 127.0.0.1 and ::1 exactly, not 127/8 or ::ffff:127.0.0.1.
    match ip.parse::<core::net::IpAddr>() {
        Ok(core::net::IpAddr::V4(v4)) => v4.octets() == [127, 0, 0, 1],
        Ok(core::net::IpAddr::V6(v6)) => v6.is_loopback(),
        Err(_) => true,
    }
}

/// Redis's protected mode check (clientAcceptHandler): refuse a non-local client while
/// `protected-mode yes` and the default user has no password. Redis 7.0 no longer looks at
/// `bind` here.
pub fn protected_mode_denies(srv: &Server, info: &crate::engine::ConnInfo) -> bool {
    srv.config.protected_mode && default_user_nopass(srv) && !is_local(info)
}

/// What a client refused by protected mode is sent before the connection closes: 7.0.15's
/// networking.c text, typo ("Setup a an") included.
pub const PROTECTED_MODE_DENIED: &[u8] =
    b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. \
In this mode connections are only accepted from the loopback interface. \
If you want to connect from external computers to Redis you \
may adopt one of the following solutions: \
1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface \
by connecting to Redis from the same host the server is \
running, however MAKE SURE Redis is not publicly accessible \
from internet if you do so. Use CONFIG REWRITE to make this \
change permanent. \
2) Alternatively you can just disable the protected mode by \
editing the Redis configuration file, and setting the protected \
mode option to 'no', and then restarting the server. \
3) If you started the server manually just for testing, restart \
it with the '--protected-mode no' option. \
4) Setup a an authentication password for the default user. \
NOTE: You only need to do one of the above things in order for \
the server to start accepting connections from the outside.\r\n";

/// Redis's authRequired: the default user has a password (or is off) and this client has not
/// authenticated.
pub fn auth_required(srv: &Server, c: &Client) -> bool {
    !c.authenticated && srv.acl.auth_required()
}

/// Before a top-level request: its replies start at `out_start`.
pub fn before_command(c: &mut Client, out_start: usize) {
    c.reply.since = out_start;
}

/// Redis decides at each write whether CLIENT REPLY OFF/SKIP drops it (prepareClientToWrite),
/// and the state can change in the middle of a command (CLIENT REPLY inside EXEC, RESET).
/// Oxidis writes first and decides per stretch: this drops what was written under the state
/// that is ending, and starts the next stretch here. Call it before changing `reply`.
pub fn end_reply_stretch(c: &mut Client) {
    if c.reply.silenced() && c.out.len() >= c.reply.since {
        c.out.truncate(c.reply.since);
    }
    c.reply.since = c.out.len();
}

/// After a top-level request (resetClient): drop the last stretch if it was silenced, and move
/// SKIP along (a SKIP inside EXEC thus silences the command after the EXEC).
pub fn after_command(c: &mut Client) {
    end_reply_stretch(c);
    c.reply.skip = std::mem::take(&mut c.reply.skip_next);
    super::tracking::after_command(c);
}

/// Writes a push (a pub/sub confirmation or message, a tracking invalidation) into a client's
/// output. Pushes reach the client whatever CLIENT REPLY says, in both protocols (Redis's
/// CLIENT_PUSHING lifts the silencing in prepareClientToWrite): what the silenced command
/// wrote so far is dropped now rather than at the end of its stretch, and the stretch starts
/// again after the push. A push to a client whose command has not replied yet goes before
/// that reply and stays if the command then fails (`command::run_handler` discards only the
/// reply).
pub fn write_push(c: &mut Client, write: impl FnOnce(&mut ReplyWriter)) {
    let silenced = c.reply.silenced();
    if silenced && c.out.len() > c.reply.since {
        c.out.truncate(c.reply.since);
        c.reply_start = c.reply_start.min(c.out.len());
    }
    let before_reply = c.out.len() == c.reply_start;
    write(&mut ReplyWriter::new(&mut c.out, c.resp3));
    if before_reply {
        c.reply_start = c.out.len();
    }
    if silenced {
        c.reply.since = c.out.len();
    }
}

/// True while CLIENT PAUSE holds this command back (processCommand's pause check: ALL holds
/// everything, WRITE what may write, EXEC included when its queue may).
/// `cmd_flags`: the command's flags as getCommandFlags gives them (a script's own for EVAL and
/// FCALL).
pub fn must_postpone(
    srv: &Server,
    c: &Client,
    cmd: &CommandSpec,
    cmd_flags: u32,
    now: UnixMillis,
) -> bool {
    // A shutdown waiting for replicas pauses writes (PAUSE_DURING_SHUTDOWN).
    let (all, on) = match &srv.pause {
        Some(p) if p.end.0 > now.0 => (p.all, true),
        _ => (false, crate::repl::writes_paused(srv)),
    };
    // Replicas are never paused.
    if !on || crate::repl::master::is_replica(c) {
        return false;
    }
    let may_write = flags::WRITE | flags::MAY_REPLICATE;
    all || cmd_flags & may_write != 0 || (cmd.name == "exec" && c.tx.queued_flags & may_write != 0)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Pubsub,
    Master,
}

/// Redis's getClientTypeByName.
fn client_type_by_name(name: &[u8]) -> Result<ClientType, CmdError> {
    if is(name, "normal") {
        Ok(ClientType::Normal)
    } else if is(name, "slave") || is(name, "replica") {
        Ok(ClientType::Replica)
    } else if is(name, "pubsub") {
        Ok(ClientType::Pubsub)
    } else if is(name, "master") {
        Ok(ClientType::Master)
    } else {
        let mut m = b"ERR Unknown client type '".to_vec();
        m.extend_from_slice(name);
        m.push(b'\'');
        Err(CmdError::Msg(m))
    }
}

fn client_type(c: &Client) -> ClientType {
    if c.repl_master {
        ClientType::Master
    } else if crate::repl::master::is_replica(c) {
        ClientType::Replica
    } else if super::pubsub::is_pubsub(c) {
        ClientType::Pubsub
    } else {
        ClientType::Normal
    }
}

/// Redis 7.0's catClientInfoString: one CLIENT LIST line (without the newline). `argv_mem`
/// is the size of the arguments being executed (only the calling client has any).
pub(crate) fn client_info_line(
    out: &mut Vec<u8>,
    slot: usize,
    c: &Client,
    now: UnixMillis,
    argv_mem: usize,
    monitor: bool,
) {
    use std::io::Write;
    let mut flags = String::new();
    if monitor {
        flags.push('O');
    } else if crate::repl::master::is_replica(c) {
        flags.push('S');
    }
    if c.repl_master {
        flags.push('M');
    }
    if super::pubsub::is_pubsub(c) {
        flags.push('P');
    }
    if c.tx.active {
        flags.push('x');
    }
    // CLIENT_BLOCKED: blocked on keys, or held by CLIENT PAUSE (BLOCKED_POSTPONE).
    if c.blocked.is_some() || c.postponed {
        flags.push('b');
    }
    super::tracking::list_flags(c, &mut flags);
    if c.tx.dirty_cas {
        flags.push('d');
    }
    if c.close_after_reply {
        flags.push('c');
    }
    if c.close_asap {
        flags.push('A');
    }
    if c.info.unix_socket {
        flags.push('U');
    }
    if c.no_evict {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let (sub, psub, ssub) = super::pubsub::subscription_counts(c);
    let qbuf = c.query_buffer_len();
    let qbuf_cap = c.query_buffer_capacity().max(qbuf);
    let multi_mem = super::client_evict::multi_memory(c);
    // Redis's output is a 16 KB buffer, then a list of blocks.
    let obl = c.out.len().min(16 * 1024);
    let omem = c.out.len() - obl;
    let oll = omem.div_ceil(16 * 1024);
    // Redis's getClientMemoryUsage, the figure maxmemory-clients compares.
    let tot_mem = super::client_evict::client_memory(c) + argv_mem;
    let age = now.0.saturating_sub(c.created.0) / 1000;
    let idle = now.0.saturating_sub(c.last_interaction.0) / 1000;
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name=",
        c.client_id,
        c.info.addr,
        c.info.laddr,
        c.info.fd.map_or(slot as i64, i64::from)
    );
    if let Some(n) = &c.name {
        out.extend_from_slice(n);
    }
    let _ = write!(
        out,
        " age={age} idle={idle} flags={flags} db={} sub={sub} psub={psub} ssub={ssub} \
         multi={} qbuf={qbuf} qbuf-free={} argv-mem={argv_mem} multi-mem={multi_mem} \
         rbs={} rbp={} obl={obl} oll={oll} omem={omem} tot-mem={tot_mem} \
         events=r cmd={} user={} redir={} resp={}",
        c.db,
        c.tx.list_count(),
        qbuf_cap - qbuf,
        // Redis's rbs/rbp are its reply buffer's size and peak: Oxidis's output buffer's.
        c.out.capacity(),
        c.out_peak.max(c.out.len()),
        c.last_cmd,
        String::from_utf8_lossy(&c.user),
        super::tracking::list_redir(c),
        if c.resp3 { 3 } else { 2 },
    );
}

fn argv_mem(args: &[&[u8]]) -> usize {
    args.iter().map(|a| a.len()).sum()
}

/// Live clients in creation order (Redis's server.clients): killed ones are gone already.
fn clients_in_order(ctx: &Ctx) -> Vec<usize> {
    let mut v: Vec<(u64, usize)> = ctx
        .clients
        .iter()
        .filter(|(_, c)| !c.close_asap)
        .map(|(slot, c)| (c.client_id, slot))
        .collect();
    v.sort_unstable();
    v.into_iter().map(|(_, slot)| slot).collect()
}

/// CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]
pub fn client_list(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut only_type = None;
    let mut ids = None;
    if args.len() == 4 && is(args[2], "type") {
        only_type = Some(client_type_by_name(args[3])?);
    } else if args.len() > 3 && is(args[2], "id") {
        let mut v = Vec::new();
        for a in &args[3..] {
            v.push(super::parse_i64(a).ok_or_else(|| CmdError::err("Invalid client ID"))?);
        }
        ids = Some(v);
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    }
    let me = ctx.handle.0;
    let mem = argv_mem(args);
    let mut text = Vec::new();
    let order = clients_in_order(ctx);
    let line = |slot: usize, text: &mut Vec<u8>| {
        let c = &ctx.clients[slot];
        let monitor = ctx.srv.intro.monitors.contains(&slot);
        let argv = if slot == me { mem } else { 0 };
        client_info_line(text, slot, c, ctx.now, argv, monitor);
        text.push(b'\n');
    };
    match ids {
        Some(ids) => {
            // In the order asked for, as Redis does.
            for id in ids {
                if let Some(&slot) = order
                    .iter()
                    .find(|&&s| i64::try_from(ctx.clients[s].client_id).is_ok_and(|x| x == id))
                {
                    line(slot, &mut text);
                }
            }
        }
        None => {
            for &slot in &order {
                if only_type.is_none_or(|t| client_type(&ctx.clients[slot]) == t) {
                    line(slot, &mut text);
                }
            }
        }
    }
    ctx.out().verbatim("txt", &text);
    Ok(())
}

/// CLIENT INFO
pub fn client_info(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut text = Vec::new();
    client_info_line(
        &mut text,
        ctx.handle.0,
        ctx.client_ref(),
        ctx.now,
        argv_mem(args),
        ctx.srv.intro.monitors.contains(&ctx.handle.0),
    );
    text.push(b'\n');
    ctx.out().verbatim("txt", &text);
    Ok(())
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE type] [USER name] [ADDR ip:port]
/// [LADDR ip:port] [SKIPME yes|no] ...
pub fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut addr: Option<&[u8]> = None;
    let mut laddr: Option<&[u8]> = None;
    let mut user: Option<&[u8]> = None;
    let mut ctype = None;
    let mut id: Option<u64> = None;
    let mut skipme = true;
    let old_form = args.len() == 3;
    if old_form {
        addr = Some(args[2]);
        // With the old form a client may kill itself.
        skipme = false;
    } else {
        let mut i = 2;
        while i < args.len() {
            let (opt, val) = match args.get(i + 1) {
                Some(v) => (args[i], *v),
                None => return Err(CmdError::Syntax),
            };
            if is(opt, "id") {
                let n = super::parse_i64(val)
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| CmdError::err("client-id should be greater than 0"))?;
                id = Some(n as u64);
            } else if is(opt, "type") {
                ctype = Some(client_type_by_name(val)?);
            } else if is(opt, "addr") {
                addr = Some(val);
            } else if is(opt, "laddr") {
                laddr = Some(val);
            } else if is(opt, "user") {
                if !ctx.srv.acl.users.contains_key(val) {
                    let mut m = b"ERR No such user '".to_vec();
                    m.extend_from_slice(val);
                    m.push(b'\'');
                    return Err(CmdError::Msg(m));
                }
                user = Some(val);
            } else if is(opt, "skipme") {
                skipme = if is(val, "yes") {
                    true
                } else if is(val, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
    }
    let me = ctx.handle.0;
    let mut killed = 0i64;
    let mut close_me = false;
    for slot in clients_in_order(ctx) {
        let c = &ctx.clients[slot];
        let matches = addr.is_none_or(|a| c.info.addr.as_bytes() == a)
            && laddr.is_none_or(|a| c.info.laddr.as_bytes() == a)
            && ctype.is_none_or(|t| client_type(c) == t)
            && id.is_none_or(|i| c.client_id == i)
            && user.is_none_or(|u| &c.user[..] == u)
            && !(slot == me && skipme);
        if !matches {
            continue;
        }
        if slot == me {
            close_me = true;
        } else {
            ctx.clients[slot].close_asap = true;
            ctx.srv.events.push_back(Event::Close(ClientHandle(slot)));
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(CmdError::err("No such client"));
        }
        ctx.out().ok();
    } else {
        ctx.out().int(killed);
    }
    if close_me {
        ctx.client().close_after_reply = true;
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn client_pause(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 4 {
        let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        m.extend_from_slice(super::truncated(args[1], 128));
        m.extend_from_slice(b"'. Try CLIENT HELP.");
        return Err(CmdError::Msg(m));
    }
    let mut all = true;
    if let Some(mode) = args.get(3) {
        if is(mode, "write") {
            all = false;
        } else if !is(mode, "all") {
            return Err(CmdError::err("CLIENT PAUSE mode must be WRITE or ALL"));
        }
    }
    let ms = super::parse_i64(args[2])
        .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    // getTimeoutFromObjectOrReply adds mstime() to the timeout in a long long without a
    // check: past LLONG_MAX the end wraps negative, so the call answers +OK and its pause has
    // already ended (it still makes a pause in force ALL, below). WAIT and the blocking
    // commands share that parser; their huge timeouts block forever (their deadlines are
    // compared unsigned), which `blocking::parse_timeout` and WAIT already do.
    let end = if ms > 0 {
        UnixMillis((ctx.now.0 as i64).wrapping_add(ms).max(0) as u64)
    } else {
        UnixMillis(0)
    };
    // A new pause only extends the old one, and never turns ALL into WRITE.
    let p = match ctx.srv.pause {
        Some(old) => Pause {
            end: if end.0 > old.end.0 { end } else { old.end },
            all: old.all || all,
        },
        None => Pause { end, all },
    };
    // updateClientPauseTypeAndEndTime frees a pause that has ended at once, so a wrapped one
    // (or CLIENT PAUSE 0) leaves nothing behind for the next CLIENT PAUSE to inherit ALL from.
    ctx.srv.pause = (p.end.0 > ctx.now.0).then_some(p);
    ctx.out().ok();
    Ok(())
}

/// CLIENT UNPAUSE: held clients run at the engine's next tick (next_deadline says now).
pub fn client_unpause(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.srv.pause = None;
    ctx.out().ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
/// (ON writes +OK once the silencing is lifted, so it is seen even inside a silenced EXEC; ON
/// leaves a pending SKIP, as Redis does. SKIP inside EXEC takes effect after the EXEC.)
pub fn client_reply(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (on, off, skip) = (is(args[2], "on"), is(args[2], "off"), is(args[2], "skip"));
    if !(on || off || skip) {
        return Err(CmdError::Syntax);
    }
    let c = ctx.client();
    end_reply_stretch(c);
    let r = &mut c.reply;
    if on {
        r.off = false;
        r.skip = false;
        ctx.out().ok();
    } else if off {
        r.off = true;
    } else if !r.off {
        r.skip_next = true;
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF (exempts the client from `maxmemory-clients`: client_evict.rs).
pub fn client_no_evict(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let on = if is(args[2], "on") {
        true
    } else if is(args[2], "off") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    ctx.client().no_evict = on;
    ctx.out().ok();
    Ok(())
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (user, pass) = if args.len() == 2 {
        if ctx.srv.acl.default_user_nopass() {
            return Err(CmdError::err(
                "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ));
        }
        (&b"default"[..], args[1])
    } else {
        (args[1], args[2])
    };
    authenticate(ctx, args[0], user, pass)?;
    ctx.out().ok();
    Ok(())
}

/// Redis's ACLAuthenticateUser (a failure keeps the old state and goes to the ACL LOG).
fn authenticate(ctx: &mut Ctx, name: &[u8], user: &[u8], pass: &[u8]) -> Result<(), CmdError> {
    super::acl::authenticate(ctx, name, user, pass)
}

/// Redis's clearClientConnectionState: what RESET puts back (subscriptions and blocking
/// included).
fn clear_connection_state(ctx: &mut Ctx) {
    // A MONITOR client leaves monitor mode (clearClientConnectionState).
    super::intro::forget_monitor(ctx.srv, ctx.handle.0);
    let slot = ctx.handle.0;
    super::tx::discard_transaction(ctx.srv, ctx.clients, slot);
    super::pubsub::forget_client(ctx.srv, ctx.clients, ctx.handle);
    super::blocking::forget_client(ctx.srv, ctx.clients, ctx.handle);
    super::tracking::disable(ctx.srv, ctx.clients, slot);
    let c = &mut ctx.clients[slot];
    c.db = 0;
    c.resp3 = false;
    c.cluster_flags = 0;
    // clientSetDefaultAuth: the default user, authenticated only if it needs no password.
    c.user = b"default"[..].into();
    c.authenticated = !ctx.srv.acl.auth_required();
    c.name = None;
    end_reply_stretch(c);
    c.reply.off = false;
    c.reply.skip_next = false;
}

/// RESET
pub fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    clear_connection_state(ctx);
    ctx.out().simple("RESET");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::{decode_reply, Reply};
    use crate::{Config, ConnInfo, Engine, UnixMillis};

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

    fn b(s: &str) -> Reply {
        Reply::bulk(s.as_bytes())
    }

    #[test]
    fn hello_full_reply() {
        let mut eng = Engine::new(Config::default(), 1);
        let _ = eng.connect(UnixMillis(0), ConnInfo::default());
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let want = |proto| {
            Reply::Map(vec![
                (b("server"), b("redis")),
                (b("version"), b(crate::config::REDIS_VERSION)),
                (b("proto"), Reply::Int(proto)),
                (b("id"), Reply::Int(2)),
                (b("mode"), b("standalone")),
                (b("role"), b("master")),
                (b("modules"), Reply::Array(vec![])),
            ])
        };
        // RESP2 flattens the map.
        let Reply::Array(flat) = run(&mut eng, id, "HELLO") else {
            panic!("array")
        };
        assert_eq!(flat.len(), 14);
        assert_eq!(flat[5], Reply::Int(2));
        assert_eq!(run(&mut eng, id, "HELLO 3 SETNAME app"), want(3));
        assert_eq!(run(&mut eng, id, "CLIENT GETNAME"), b("app"));
        assert_eq!(run(&mut eng, id, "HELLO 3 AUTH default anything"), want(3));
        assert_eq!(
            run(&mut eng, id, "HELLO 3 AUTH bob x"),
            Reply::error("WRONGPASS invalid username-password pair or user is disabled.")
        );
        assert_eq!(run(&mut eng, id, "CLIENT ID"), Reply::Int(2));
        assert_eq!(run(&mut eng, id, "CLIENT GETNAME"), b("app"));
        eng.server_mut().config.requirepass = Some(b"pw".to_vec());
        eng.server_mut().acl.set_default_password(Some(b"pw"));
        assert!(run(&mut eng, id, "HELLO 2 AUTH default x").is_error());
        let Reply::Array(flat) = run(&mut eng, id, "HELLO 2 AUTH default pw") else {
            panic!("array")
        };
        assert_eq!(flat[5], Reply::Int(2));
    }

    #[test]
    fn setinfo_and_names() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO LIB-NAME redis-py"),
            Reply::simple("OK")
        );
        assert_eq!(
            eng.client(id).unwrap().lib_name.as_deref(),
            Some(&b"redis-py"[..])
        );
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO lib-ver \"1 2\""),
            Reply::error("ERR lib-ver cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO foo x"),
            Reply::error("ERR Unrecognized option 'foo'")
        );
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO lib-ver x y"),
            Reply::error("ERR wrong number of arguments for 'client|setinfo' command")
        );
        assert_eq!(run(&mut eng, id, "CLIENT SETNAME x"), Reply::simple("OK"));
        assert_eq!(
            run(&mut eng, id, "CLIENT SETNAME \"\""),
            Reply::simple("OK")
        );
        assert_eq!(run(&mut eng, id, "CLIENT GETNAME"), Reply::Nil);
    }

    fn text(r: Reply) -> String {
        match r {
            Reply::Bulk(b) => String::from_utf8(b).unwrap(),
            Reply::Verbatim(_, b) => String::from_utf8(b).unwrap(),
            r => panic!("{r:?}"),
        }
    }

    fn info(addr: &str) -> ConnInfo {
        ConnInfo {
            addr: addr.into(),
            laddr: "127.0.0.1:6379".into(),
            unix_socket: false,
            tls: false,
            fd: None,
        }
    }

    /// An engine that takes clients from other hosts (`protected-mode no`).
    fn open_engine() -> Engine {
        let cfg = Config {
            protected_mode: false,
            ..Default::default()
        };
        Engine::new(cfg, 1)
    }

    #[test]
    fn protected_mode_refuses_what_redis_does_not_call_local() {
        let mut eng = Engine::new(Config::default(), 1);
        let mut refused = 0;
        for (addr, unix, denied) in [
            ("127.0.0.1:5000", false, false),
            ("[::1]:5000", false, false),
            ("/tmp/redis.sock:0", true, false),
            ("wasm:0", false, false),
            ("127.0.0.2:5000", false, true),
            ("10.0.0.1:5000", false, true),
            ("[::ffff:127.0.0.1]:5000", false, true),
            ("[2001:db8::1]:5000", false, true),
        ] {
            let mut i = info(addr);
            i.unix_socket = unix;
            let id = eng.connect(UnixMillis(0), i);
            let mut out = Vec::new();
            eng.drain_output(id, &mut out);
            if denied {
                refused += 1;
                assert_eq!(out, super::PROTECTED_MODE_DENIED, "{addr}");
                assert!(out.starts_with(b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode"));
                assert!(eng.should_close(id), "{addr}");
            } else {
                assert!(out.is_empty() && !eng.should_close(id), "{addr}");
            }
        }
        let local = eng.connect(UnixMillis(0), info("127.0.0.1:1"));
        let stats = text(run(&mut eng, local, "INFO stats"));
        assert!(
            stats.contains(&format!("rejected_connections:{refused}\r\n")),
            "{stats}"
        );
        assert!(
            stats.contains("total_connections_received:5\r\n"),
            "{stats}"
        );
        // A password for the default user, or protected-mode no, lets everyone in.
        run(&mut eng, local, "CONFIG SET requirepass secret");
        let id = eng.connect(UnixMillis(0), info("10.0.0.1:2"));
        assert!(!eng.has_output(id) && !eng.should_close(id));
        let mut eng = open_engine();
        let id = eng.connect(UnixMillis(0), info("10.0.0.1:2"));
        assert!(!eng.has_output(id) && !eng.should_close(id));
    }

    #[test]
    fn config_set_tls_is_undone_when_the_host_cannot_load_it() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), info("127.0.0.1:1"));
        eng.set_host_info(
            UnixMillis(0),
            crate::HostInfo {
                configure_tls: Some(|c| match c.tls_cert_file.as_slice() {
                    b"good.crt" | b"" => Ok(()),
                    _ => Err("Failed to load certificate".into()),
                }),
                ..Default::default()
            },
        );
        assert_eq!(
            run(&mut eng, a, "CONFIG SET tls-cert-file good.crt"),
            Reply::Simple(b"OK".to_vec())
        );
        assert_eq!(
            run(&mut eng, a, "CONFIG SET timeout 9 tls-cert-file bad.crt"),
            Reply::Error(b"ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.".to_vec())
        );
        assert_eq!(eng.config().tls_cert_file, b"good.crt");
        assert_eq!(eng.config().timeout_secs, 0);
    }

    #[test]
    fn maxclients_refuses_at_accept() {
        let cfg = Config {
            maxclients: 2,
            ..Default::default()
        };
        let mut eng = Engine::new(cfg, 1);
        assert_eq!(eng.refuse_connection(), None);
        let a = eng.connect(UnixMillis(0), info("127.0.0.1:1"));
        assert_eq!(eng.refuse_connection(), None);
        let _b = eng.connect(UnixMillis(0), info("127.0.0.1:2"));
        assert_eq!(
            eng.refuse_connection(),
            Some(&b"-ERR max number of clients reached\r\n"[..])
        );
        let stats = text(run(&mut eng, a, "INFO stats"));
        assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
        // CONFIG SET maxclients asks the host whether the descriptors fit.
        eng.set_host_info(
            UnixMillis(0),
            crate::HostInfo {
                adjust_open_files: Some(|want| want.min(100)),
                ..Default::default()
            },
        );
        assert_eq!(
            run(&mut eng, a, "CONFIG SET maxclients 50"),
            Reply::Simple(b"OK".to_vec())
        );
        assert_eq!(
            run(&mut eng, a, "CONFIG SET maxclients 500 timeout 7"),
            Reply::Error(b"ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with 100".to_vec())
        );
        assert_eq!(eng.config().maxclients, 50);
        assert_eq!(eng.config().timeout_secs, 0);
        assert_eq!(eng.refuse_connection(), None);
    }

    #[test]
    fn client_list_line_format() {
        let mut eng = open_engine();
        let a = eng.connect(UnixMillis(0), info("10.0.0.1:5000"));
        let b = eng.connect(UnixMillis(0), info("10.0.0.2:6000"));
        run(&mut eng, b, "CLIENT SETNAME bee");
        run(&mut eng, b, "SELECT 2");
        run(&mut eng, b, "MULTI");
        run(&mut eng, b, "PING");
        let list = text(run(&mut eng, a, "CLIENT LIST"));
        let lines: Vec<&str> = list.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2, "{list}");
        let keys = |l: &str| -> Vec<String> {
            l.split(' ')
                .map(|kv| kv.split('=').next().unwrap().to_string())
                .collect()
        };
        // Redis 7.0.15's fields, in order.
        assert_eq!(
            keys(lines[0]).join(" "),
            "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free \
             argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
        );
        assert!(lines[0].starts_with("id=1 addr=10.0.0.1:5000 laddr=127.0.0.1:6379 fd=0 name= age=1 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 "), "{}", lines[0]);
        assert!(lines[0].contains(" argv-mem=10 "), "{}", lines[0]);
        assert!(lines[0].ends_with(" cmd=client|list user=default redir=-1 resp=2"));
        assert!(lines[1].starts_with("id=2 addr=10.0.0.2:6000 "));
        assert!(lines[1].contains(" name=bee "));
        assert!(lines[1].contains(" flags=x db=2 "));
        assert!(lines[1].contains(" multi=1 "));
        assert!(lines[1].contains(" argv-mem=0 "));
        assert!(
            lines[1].contains(" cmd=ping "),
            "queued commands are the last command too"
        );
        // INFO is the caller's line; LIST ID picks clients in the order asked.
        let me = text(run(&mut eng, a, "CLIENT INFO"));
        assert!(me.starts_with("id=1 ") && me.ends_with(" resp=2\n"), "{me}");
        assert!(me.contains(" cmd=client|info "));
        let both = text(run(&mut eng, a, "CLIENT LIST ID 2 1 77"));
        assert!(both.starts_with("id=2 ") && both.contains("\nid=1 "));
        assert_eq!(text(run(&mut eng, a, "CLIENT LIST TYPE pubsub")), "");
        assert_eq!(
            text(run(&mut eng, a, "CLIENT LIST TYPE normal"))
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn client_kill_asks_the_host_to_close() {
        let mut eng = open_engine();
        let a = eng.connect(UnixMillis(0), info("10.0.0.1:5000"));
        let b = eng.connect(UnixMillis(0), info("10.0.0.2:6000"));
        assert_eq!(
            run(&mut eng, a, "CLIENT KILL 10.0.0.2:6000"),
            Reply::simple("OK")
        );
        assert_eq!(eng.poll_event(), Some(crate::Event::Close(b)));
        assert!(eng.should_close(b));
        // A killed client is gone from CLIENT LIST at once.
        assert_eq!(text(run(&mut eng, a, "CLIENT LIST")).lines().count(), 1);
        // Old form on oneself: the reply, then close.
        assert_eq!(
            run(&mut eng, a, "CLIENT KILL 10.0.0.1:5000"),
            Reply::simple("OK")
        );
        assert!(eng.should_close(a));
        assert_eq!(eng.poll_event(), None);
        eng.disconnect(a);
        eng.disconnect(b);
        let c = eng.connect(UnixMillis(0), info("10.0.0.3:1"));
        let d = eng.connect(UnixMillis(0), info("10.0.0.3:2"));
        assert_eq!(
            run(&mut eng, c, "CLIENT KILL LADDR 127.0.0.1:6379"),
            Reply::Int(1)
        );
        assert_eq!(eng.poll_event(), Some(crate::Event::Close(d)));
    }

    #[test]
    fn client_pause_holds_commands_until_it_ends() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let b = eng.connect(UnixMillis(0), ConnInfo::default());
        let t0 = UnixMillis(1000);
        eng.tick(t0);
        let feed = |eng: &mut Engine, id, now, cmd: &str| {
            let mut args = Vec::new();
            assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
            eng.feed(now, id, &crate::resp::encode_request(&args));
            let mut out = Vec::new();
            eng.drain_output(id, &mut out);
            out
        };
        assert_eq!(feed(&mut eng, a, t0, "CLIENT PAUSE 500 WRITE"), b"+OK\r\n");
        assert_eq!(eng.next_deadline(), Some(UnixMillis(1500)));
        // Reads go on; a write waits, and so does everything after it.
        assert_eq!(feed(&mut eng, b, t0, "GET k"), b"$-1\r\n");
        assert_eq!(feed(&mut eng, b, t0, "SET k v"), b"");
        assert_eq!(feed(&mut eng, b, t0, "GET k"), b"");
        // A transaction with a write waits at EXEC.
        assert_eq!(feed(&mut eng, a, t0, "MULTI"), b"+OK\r\n");
        assert_eq!(feed(&mut eng, a, t0, "INCR n"), b"");
        eng.tick(UnixMillis(1499));
        assert_eq!(eng.poll_event(), None);
        eng.tick(UnixMillis(1500));
        let mut woke = Vec::new();
        while let Some(e) = eng.poll_event() {
            woke.push(e);
        }
        assert_eq!(woke, vec![crate::Event::Output(a), crate::Event::Output(b)]);
        let mut out = Vec::new();
        eng.drain_output(b, &mut out);
        assert_eq!(out, b"+OK\r\n$1\r\nv\r\n");
        out.clear();
        eng.drain_output(a, &mut out);
        assert_eq!(out, b"+QUEUED\r\n");
        // ALL holds reads too; UNPAUSE lets them through at the next tick.
        assert_eq!(feed(&mut eng, a, t0, "DISCARD"), b"+OK\r\n");
        assert_eq!(
            feed(&mut eng, a, UnixMillis(2000), "CLIENT PAUSE 100000"),
            b"+OK\r\n"
        );
        assert_eq!(feed(&mut eng, b, UnixMillis(2000), "GET k"), b"");
        // The pausing client is paused as well (Redis 7.0 exempts only replicas).
        assert_eq!(feed(&mut eng, a, UnixMillis(2000), "CLIENT UNPAUSE"), b"");
        eng.server_mut().pause = None;
        assert_eq!(eng.next_deadline().map(|d| d.0 <= 2000), Some(true));
        eng.tick(UnixMillis(2001));
        let mut out = Vec::new();
        eng.drain_output(b, &mut out);
        assert_eq!(out, b"$1\r\nv\r\n");
    }

    #[test]
    fn client_reply_skip_and_off() {
        let mut eng = Engine::new(Config::default(), 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        let mut out = Vec::new();
        eng.feed(
            UnixMillis(0),
            a,
            b"CLIENT REPLY SKIP\r\nPING\r\nPING x\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\n",
        );
        eng.drain_output(a, &mut out);
        assert_eq!(out, b"$1\r\nx\r\n+OK\r\n");
    }

    #[test]
    fn a_silenced_protocol_error_leaves_the_client_deaf_until_the_query_buffer_limit() {
        let mut cfg = Config::default();
        cfg.set("client-query-buffer-limit", b"1mb").expect("valid");
        let mut eng = Engine::new(cfg, 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        eng.feed(
            UnixMillis(0),
            a,
            b"CLIENT REPLY OFF\r\n*x\r\nCLIENT REPLY ON\r\n",
        );
        let mut out = Vec::new();
        eng.drain_output(a, &mut out);
        assert_eq!(out, b"");
        assert!(!eng.should_close(a));
        // Read, never run, until the query buffer is past its limit.
        eng.feed(UnixMillis(0), a, &vec![b'x'; 1024 * 1024 - 64]);
        assert!(!eng.should_close(a));
        eng.feed(UnixMillis(0), a, &[b'x'; 128]);
        assert!(eng.should_close(a) && eng.closes_at_once(a));
    }

    #[test]
    fn unauthenticated_decoder_limits_follow_auth() {
        let mut cfg = Config::default();
        cfg.set("requirepass", b"pw").expect("valid");
        let mut eng = Engine::new(cfg, 1);
        let a = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, a, "PING"),
            Reply::error("NOAUTH Authentication required.")
        );
        assert_eq!(run(&mut eng, a, "AUTH pw"), Reply::simple("OK"));
        // Authenticated: long headers are fine again, in the same feed as AUTH too.
        let mut req = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*12\r\n$4\r\nMSET".to_vec();
        for i in 0..11 {
            req.extend_from_slice(format!("\r\n$1\r\n{}", i % 10).as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        eng.feed(UnixMillis(0), a, &req);
        let mut out = Vec::new();
        eng.drain_output(a, &mut out);
        assert_eq!(
            out,
            b"+OK\r\n-ERR wrong number of arguments for 'mset' command\r\n"
        );
        assert!(!eng.should_close(a));
        assert_eq!(run(&mut eng, a, "RESET"), Reply::simple("RESET"));
        eng.feed(UnixMillis(0), a, b"*11\r\n");
        let mut out = Vec::new();
        eng.drain_output(a, &mut out);
        assert_eq!(
            out,
            b"-ERR Protocol error: unauthenticated multibulk length\r\n"
        );
        assert!(eng.should_close(a));
    }
}
