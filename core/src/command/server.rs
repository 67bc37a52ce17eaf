//! The server command group: COMMAND, CONFIG, INFO, DBSIZE, FLUSHDB / FLUSHALL and TIME.
//!
//! COMMAND INFO / DOCS render from the generated table. Where Redis lists commands or
//! subcommands it walks a dict (its own hash order); Oxidis lists them in table order, so
//! containers may order their children differently from Redis. CONFIG GET lists pattern
//! matches sorted by name for the same reason.

use super::connection::reply_help;
use super::{is, table, CmdError, CommandSpec, Ctx};
use crate::config::REDIS_VERSION;
use crate::resp::{decode_reply, ReplyWriter};

/// Writes RESP3 bytes from the table (tips, key specs, doc fields) in the client's protocol.
fn reply_resp3(out: &mut ReplyWriter, mut bytes: &[u8], count: usize) {
    for _ in 0..count {
        match decode_reply(bytes) {
            Ok(Some((r, n))) => {
                out.reply(&r);
                bytes = &bytes[n..];
            }
            // The table is generated from Redis's own replies; a bad row is a generator bug.
            _ => out.nil(),
        }
    }
}

/// Redis's lookupCommandBySds: "name" or "container|sub", any case.
fn lookup_full(srv: &crate::engine::Server, name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.split(|&c| c == b'|');
    let base = super::lookup_in(srv, parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) => base.subcommand(sub),
        _ => None,
    }
}

fn command_info_reply(out: &mut ReplyWriter, c: &CommandSpec) {
    out.array_len(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity.into());
    let names: Vec<&str> = c.flag_names().collect();
    out.set_len(names.len());
    names.iter().for_each(|n| out.simple(n));
    out.int(c.first_key.into());
    out.int(c.last_key.into());
    out.int(c.key_step.into());
    out.set_len(c.acl_categories.len());
    c.acl_categories.iter().for_each(|n| out.simple(n));
    reply_resp3(out, c.tips_resp3, 1);
    reply_resp3(out, c.key_specs_resp3, 1);
    // Redis: an empty *set* when there are no subcommands, else an array.
    if c.subcommands.is_empty() {
        out.set_len(0);
    } else {
        out.array_len(c.subcommands.len());
    }
    for s in c.subcommands {
        command_info_reply(out, s);
    }
}

fn command_docs_reply(out: &mut ReplyWriter, c: &CommandSpec) {
    let present = |s: &str| usize::from(!s.is_empty());
    let len = 1
        + present(c.summary)
        + present(c.since)
        + present(c.complexity)
        + c.doc_extra_count
        + usize::from(!c.subcommands.is_empty());
    out.map_len(len);
    for (k, v) in [("summary", c.summary), ("since", c.since)] {
        if !v.is_empty() {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
    }
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !c.complexity.is_empty() {
        out.bulk(b"complexity");
        out.bulk(c.complexity.as_bytes());
    }
    // The table holds the field names as simple strings; Redis sends bulk strings.
    for (k, v) in c.doc_extra() {
        out.bulk(&k);
        out.reply(&v);
    }
    if !c.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map_len(c.subcommands.len());
        for s in c.subcommands {
            out.bulk(s.name.as_bytes());
            command_docs_reply(out, s);
        }
    }
}

/// The top-level commands in server.commands: rename-command "" deleted some; a renamed one
/// stays, shown under its own name (Redis keeps cmd->fullname, only the dict's key changes).
fn listed_commands(srv: &crate::engine::Server) -> Vec<&'static CommandSpec> {
    match &srv.renamed {
        None => table::COMMANDS.iter().collect(),
        Some(t) => {
            let present: std::collections::HashSet<&str> = t.values().map(|c| c.name).collect();
            table::COMMANDS
                .iter()
                .filter(|c| present.contains(c.name))
                .collect()
        }
    }
}

fn all_command_info(out: &mut ReplyWriter, listed: &[&'static CommandSpec]) {
    out.array_len(listed.len());
    for c in listed {
        command_info_reply(out, c);
    }
}

/// COMMAND (bare: every command's info)
pub fn command(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let listed = listed_commands(ctx.srv);
    all_command_info(&mut ctx.out(), &listed);
    Ok(())
}

/// COMMAND INFO [command-name ...] (none: every command)
pub fn command_info(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let found: Vec<Option<&CommandSpec>> =
        args[2..].iter().map(|n| lookup_full(ctx.srv, n)).collect();
    let listed = listed_commands(ctx.srv);
    let mut out = ctx.out();
    if args.len() == 2 {
        all_command_info(&mut out, &listed);
        return Ok(());
    }
    out.array_len(found.len());
    for c in found {
        match c {
            Some(c) => command_info_reply(&mut out, c),
            None => out.nil(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [command-name ...]
pub fn command_docs(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let found: Vec<&CommandSpec> = args[2..]
        .iter()
        .filter_map(|n| lookup_full(ctx.srv, n))
        .collect();
    let listed = listed_commands(ctx.srv);
    let mut out = ctx.out();
    if args.len() == 2 {
        out.map_len(listed.len());
        for c in listed {
            out.bulk(c.name.as_bytes());
            command_docs_reply(&mut out, c);
        }
        return Ok(());
    }
    out.map_len(found.len());
    for c in found {
        out.bulk(c.name.as_bytes());
        command_docs_reply(&mut out, c);
    }
    Ok(())
}

/// COMMAND COUNT
pub fn command_count(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    // dictSize(server.commands): after rename-command "" deleted some.
    let n = ctx
        .srv
        .renamed
        .as_ref()
        .map_or(table::COMMANDS.len(), |t| t.len());
    ctx.out().int(n as i64);
    Ok(())
}

/// COMMAND LIST [FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]
pub fn command_list(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    enum Filter<'a> {
        All,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if is(args[2], "FILTERBY") => {
            if is(args[3], "MODULE") {
                Filter::Module
            } else if is(args[3], "ACLCAT") {
                Filter::AclCat(args[4])
            } else if is(args[3], "PATTERN") {
                Filter::Pattern(args[4])
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&str> = listed_commands(ctx.srv)
        .into_iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
        .filter(|c| match filter {
            Filter::All => true,
            // Oxidis has no modules.
            Filter::Module => false,
            Filter::AclCat(cat) => c.acl_categories.iter().any(|a| {
                a.strip_prefix('@')
                    .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(cat))
            }),
            Filter::Pattern(p) => crate::glob::glob_match(p, c.name.as_bytes(), true),
        })
        .map(|c| c.name)
        .collect();
    let mut out = ctx.out();
    out.array_len(names.len());
    names.iter().for_each(|n| out.bulk(n.as_bytes()));
    Ok(())
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// COMMAND HELP
pub fn command_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, COMMAND_HELP);
    Ok(())
}

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let pairs = ctx.srv.config.get_matching(&args[2..]);
    let mut out = ctx.out();
    out.map_len(pairs.len());
    for (k, v) in pairs {
        out.bulk(&k);
        out.bulk(&v);
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]
pub fn config_set(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let local = crate::command::connection::is_local(&ctx.client_ref().info);
    // maxclients is applied at once (Redis's updateMaxclients): the host raises its open files
    // limit, and if the new value does not fit, the whole CONFIG SET is undone.
    let names = || args[2..].iter().step_by(2);
    let sets_maxclients = names().any(|n| n.eq_ignore_ascii_case(b"maxclients"));
    // The parameters whose apply function is applyTlsCfg (and tls-auth-clients, which rustls
    // keeps in the configuration too); tls-port moves a listener, which it does not do here.
    let tls_param = names().find(|n| {
        n.len() > 4 && n[..4].eq_ignore_ascii_case(b"tls-") && !n.eq_ignore_ascii_case(b"tls-port")
    });
    let before = (sets_maxclients || tls_param.is_some()).then(|| ctx.srv.config.clone());
    let old_pass = ctx.srv.config.requirepass.clone();
    let old = ctx
        .srv
        .listener_host
        .is_some()
        .then(|| ctx.srv.config.clone());
    let host_applies = ctx
        .srv
        .config
        .config_set(&args[2..], local)
        .map_err(|e| CmdError::Msg(e.text()))?;
    if let (Some(before), Some(name), Some(configure)) =
        (&before, tls_param, ctx.srv.host.configure_tls)
    {
        if configure(&ctx.srv.config).is_err() {
            ctx.srv.config = before.clone();
            let why = "Unable to update TLS configuration. Check server logs.".to_string();
            return Err(CmdError::Msg(
                crate::config::SetError::Failed(name.to_vec(), why).text(),
            ));
        }
    }
    let before = before.filter(|_| sets_maxclients);
    if let (Some(before), Some(adjust)) = (before, ctx.srv.host.adjust_open_files) {
        let wanted = ctx.srv.config.maxclients;
        let fits = if wanted > before.maxclients {
            adjust(wanted)
        } else {
            wanted
        };
        if fits != wanted {
            ctx.srv.config = before;
            let why = format!(
                "The operating system is not able to handle the specified number of clients, try with {fits}"
            );
            return Err(CmdError::Msg(
                crate::config::SetError::Failed(b"maxclients".to_vec(), why).text(),
            ));
        }
    }
    if let Some(old) = old {
        move_listeners(ctx, args, old)?;
    }
    // requirepass is the default user's password (Redis's ACLUpdateDefaultUserPassword).
    if ctx.srv.config.requirepass != old_pass {
        let pass = ctx.srv.config.requirepass.clone();
        ctx.srv.acl.set_default_password(pass.as_deref());
    }
    super::notify::sync(ctx.srv);
    // updateReplBacklogSize: the backlog keeps its newest bytes.
    crate::repl::master::resize_backlog(ctx.srv);
    if host_applies {
        ctx.srv
            .events
            .push_back(crate::engine::Event::ConfigChanged);
    }
    // Redis's updateMaxmemory evicts at once; here the engine's next tick does (a round of
    // evictions is not run inside another command), or the next command before it runs.
    if ctx.srv.config.maxmemory > 0
        && args[2..]
            .iter()
            .step_by(2)
            .any(|name| name.eq_ignore_ascii_case(b"maxmemory"))
    {
        ctx.srv.evict.running = true;
    }
    ctx.out().ok();
    Ok(())
}

/// CONFIG SET's apply step for `port`, `bind` and `tls-port` (updatePort, applyBind,
/// applyTLSPort): the host moves its listeners; if it cannot, every parameter of the command is
/// rolled back and the error names the first of the three that changed, in the command's
/// order, by its canonical name (configSetCommand's `set_configs[...]->name`).
fn move_listeners(
    ctx: &mut Ctx,
    args: &[&[u8]],
    old: crate::config::Config,
) -> Result<(), CmdError> {
    let cfg = &ctx.srv.config;
    let bind = cfg.bind.render();
    let port16 = |p: i64| u16::try_from(p).unwrap_or(0);
    let (port, tls_port, old_tls) = (cfg.port, port16(cfg.tls_port), port16(old.tls_port));
    let changed = |name: &[u8]| {
        (is(name, "port") && port != old.port)
            || (is(name, "bind") && bind != old.bind.render())
            || (is(name, "tls-port") && tls_port != old_tls)
    };
    let Some(first) = args[2..].chunks(2).map(|p| p[0]).find(|n| changed(n)) else {
        return Ok(());
    };
    let first = ["port", "bind", "tls-port"]
        .into_iter()
        .find(|p| is(first, p))
        .unwrap_or("port");
    if ctx.srv.listener_host.is_none() {
        return Ok(());
    }
    // applyTLSPort configures TLS first when it was not in use (tls-port was 0 and neither
    // replication nor cluster used it).
    let tls_unused = old_tls == 0 && !old.tls_replication && !old.tls_cluster;
    let mut failed = None;
    if tls_port != 0 && tls_unused {
        if let Some(configure) = ctx.srv.host.configure_tls {
            if configure(cfg).is_err() {
                failed = Some((
                    "tls-port",
                    "Unable to update TLS configuration. Check server logs.",
                ));
            }
        }
    }
    if failed.is_none() {
        let host = ctx.srv.listener_host.as_mut().expect("checked above");
        if host.rebind(&bind, port, tls_port).is_err() {
            let why = if first == "bind" {
                "Failed to bind to specified addresses."
            } else {
                "Unable to listen on this port. Check server logs."
            };
            failed = Some((first, why));
        }
    }
    let Some((param, why)) = failed else {
        return Ok(());
    };
    ctx.srv.config = old;
    ctx.srv.events.push_back(crate::engine::Event::Log(format!(
        "Failed applying new configuration. Possibly related to new {param} setting. Restoring previous settings."
    )));
    Err(CmdError::Msg(
        format!("ERR CONFIG SET failed (possibly related to argument '{param}') - {why}")
            .into_bytes(),
    ))
}

/// CONFIG RESETSTAT
pub fn config_resetstat(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.srv.stats = Default::default();
    ctx.srv.repl.replica.net_repl_input_bytes = 0;
    ctx.srv.evict.reset_stats(ctx.now);
    for db in &mut ctx.srv.dbs {
        db.expired_count = 0;
        db.hits = 0;
        db.misses = 0;
    }
    ctx.out().ok();
    Ok(())
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

/// CONFIG HELP
pub fn config_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, CONFIG_HELP);
    Ok(())
}

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let n = ctx.db().len() as i64;
    ctx.out().int(n);
    Ok(())
}

/// Redis's getFlushCommandFlags: true for a lazy flush (ASYNC, or no mode and
/// lazyfree-lazy-user-flush).
fn flush_mode(ctx: &Ctx, args: &[&[u8]]) -> Result<bool, CmdError> {
    match args {
        [_] => Ok(ctx.srv.config.lazyfree_lazy_user_flush),
        [_, m] if is(m, "SYNC") => Ok(false),
        [_, m] if is(m, "ASYNC") => Ok(true),
        _ => Err(CmdError::Syntax),
    }
}

/// FLUSHDB [ASYNC|SYNC]
pub fn flushdb(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let lazy = flush_mode(ctx, args)?;
    let (db, now) = (ctx.client_ref().db, ctx.now);
    super::tx::touch_all_in_db(ctx.srv, ctx.clients, db, None, now);
    super::tracking::flushed(ctx.srv, ctx.clients);
    let (keys, expires) = ctx.db().flush_all();
    ctx.srv.free_db(keys, expires, lazy);
    ctx.out().ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]
pub fn flushall(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let lazy = flush_mode(ctx, args)?;
    for db in 0..ctx.srv.dbs.len() {
        super::tx::touch_all_in_db(ctx.srv, ctx.clients, db, None, ctx.now);
    }
    super::tracking::flushed(ctx.srv, ctx.clients);
    for i in 0..ctx.srv.dbs.len() {
        let (keys, expires) = ctx.srv.dbs[i].flush_all();
        ctx.srv.free_db(keys, expires, lazy);
    }
    ctx.out().ok();
    Ok(())
}

/// TIME
pub fn time(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let ms = ctx.now.as_millis();
    let mut out = ctx.out();
    out.array_len(2);
    out.bulk_i64((ms / 1000) as i64);
    out.bulk_i64(((ms % 1000) * 1000) as i64);
    Ok(())
}

/// Redis's bytesToHuman.
fn bytes_to_human(n: u64) -> String {
    const K: f64 = 1024.0;
    let d = n as f64;
    let units = [
        (1u64 << 10, 1.0, "B"),
        (1u64 << 20, K, "K"),
        (1u64 << 30, K * K, "M"),
        (1u64 << 40, K * K * K, "G"),
        (1u64 << 50, K * K * K * K, "T"),
        (1u64 << 60, K * K * K * K * K, "P"),
    ];
    for (limit, div, unit) in units {
        if n < limit {
            return if unit == "B" {
                format!("{n}B")
            } else {
                format!("{:.2}{unit}", d / div)
            };
        }
    }
    format!("{n}B")
}

/// INFO's sections in Redis's order; `true` for those in `INFO` / `INFO default`.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// A 40-hex-digit id that is stable for the server's life (run_id, master_replid).
fn hex_id(seed: u64) -> String {
    let mut x = seed;
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        s.push_str(&format!("{z:016x}"));
    }
    s.truncate(40);
    s
}

/// The INFO text for the chosen sections (genRedisInfoString).
pub fn info_string(ctx: &Ctx, wanted: &[bool]) -> String {
    use std::fmt::Write;
    let srv = &*ctx.srv;
    let cfg = &srv.config;
    let host = &srv.host;
    let now = ctx.now.as_millis();
    let uptime = now.saturating_sub(srv.start_time.as_millis()) / 1000;
    let seed = srv.start_time.as_millis() ^ (u64::from(host.process_id) << 32);
    let mut s = String::new();
    let mut first = true;
    let mut section = |s: &mut String, name: &str| {
        if !first {
            s.push_str("\r\n");
        }
        first = false;
        let _ = write!(s, "# {name}\r\n");
    };
    macro_rules! kv {
        ($s:expr, $($arg:tt)*) => {{
            let _ = write!($s, $($arg)*);
            $s.push_str("\r\n");
        }};
    }
    for (i, (name, _)) in SECTIONS.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        match *name {
            "server" => {
                section(&mut s, "Server");
                kv!(s, "redis_version:{REDIS_VERSION}");
                kv!(s, "oxidis_version:{}", env!("CARGO_PKG_VERSION"));
                kv!(s, "redis_git_sha1:00000000");
                kv!(s, "redis_git_dirty:0");
                kv!(s, "redis_build_id:0");
                kv!(
                    s,
                    "redis_mode:{}",
                    if srv.cluster.is_some() {
                        "cluster"
                    } else {
                        "standalone"
                    }
                );
                kv!(s, "os:{}", host.os);
                kv!(s, "arch_bits:{}", host.arch_bits);
                kv!(s, "monotonic_clock:host");
                kv!(s, "multiplexing_api:{}", host.multiplexing_api);
                kv!(s, "atomicvar_api:none");
                kv!(s, "gcc_version:0.0.0");
                kv!(s, "process_id:{}", host.process_id);
                kv!(s, "process_supervised:no");
                kv!(s, "run_id:{}", hex_id(seed));
                // server.port, or the TLS port when there is no plain one (CONFIG SET port
                // moves it: the host's figure is the port it started on).
                let port = if cfg.port != 0 {
                    i64::from(cfg.port)
                } else {
                    cfg.tls_port
                };
                kv!(s, "tcp_port:{port}");
                kv!(s, "server_time_usec:{}", now.saturating_mul(1000));
                kv!(s, "uptime_in_seconds:{uptime}");
                kv!(s, "uptime_in_days:{}", uptime / 86400);
                kv!(s, "hz:{}", cfg.hz);
                kv!(s, "configured_hz:{}", cfg.hz);
                kv!(s, "lru_clock:{}", (now / 1000) & ((1 << 24) - 1));
                kv!(s, "executable:{}", host.executable);
                kv!(s, "config_file:{}", host.config_file);
                kv!(s, "io_threads_active:0");
            }
            "clients" => {
                section(&mut s, "Clients");
                kv!(
                    s,
                    "connected_clients:{}",
                    ctx.clients.len() - srv.repl.master.replicas.len()
                );
                kv!(s, "cluster_connections:0");
                kv!(s, "maxclients:{}", cfg.maxclients);
                kv!(s, "client_recent_max_input_buffer:0");
                kv!(s, "client_recent_max_output_buffer:0");
                // Redis 7.0 blocks a client CLIENT PAUSE holds (BLOCKED_POSTPONE): it counts.
                let postponed = ctx.clients.iter().filter(|(_, c)| c.postponed).count();
                let blocked = ctx.srv.blocking.blocked_clients() + postponed;
                kv!(s, "blocked_clients:{blocked}");
                kv!(s, "tracking_clients:{}", ctx.srv.tracking.client_count());
                kv!(
                    s,
                    "clients_in_timeout_table:{}",
                    ctx.srv.blocking.in_timeout_table()
                );
            }
            "memory" => {
                section(&mut s, "Memory");
                // The figures MEMORY STATS shows too (Server::overhead).
                let repl = crate::repl::master::buffer_memory(srv, ctx.clients);
                let oh = srv.overhead_with(repl);
                let (used, rss) = (oh.used, oh.rss);
                kv!(s, "used_memory:{used}");
                kv!(s, "used_memory_human:{}", bytes_to_human(used));
                kv!(s, "used_memory_rss:{rss}");
                kv!(s, "used_memory_rss_human:{}", bytes_to_human(rss));
                // The peak after each command and in the cron, or the present figure if that
                // is higher (as Redis's INFO).
                let peak = oh.peak;
                kv!(s, "used_memory_peak:{peak}");
                kv!(s, "used_memory_peak_human:{}", bytes_to_human(peak));
                kv!(
                    s,
                    "used_memory_peak_perc:{:.2}%",
                    used as f64 * 100.0 / peak.max(1) as f64
                );
                kv!(s, "used_memory_overhead:{}", oh.total);
                kv!(s, "used_memory_startup:{}", oh.startup);
                kv!(s, "used_memory_dataset:{}", oh.dataset);
                kv!(s, "used_memory_dataset_perc:{:.2}%", oh.dataset_perc);
                kv!(s, "allocator_allocated:{used}");
                kv!(s, "allocator_active:{used}");
                kv!(s, "allocator_resident:{rss}");
                kv!(s, "total_system_memory:0");
                kv!(s, "total_system_memory_human:0B");
                // The EVAL Lua state's bytes (none until a script runs; 0 while one runs, as
                // the state is out of the server then).
                let lua = ctx.srv.script.vm.as_ref().map_or(0, |vm| vm.used_memory());
                kv!(s, "used_memory_lua:{lua}");
                kv!(s, "used_memory_vm_eval:{lua}");
                kv!(s, "used_memory_lua_human:{}", bytes_to_human(lua as u64));
                kv!(s, "used_memory_scripts_eval:0");
                kv!(s, "number_of_cached_scripts:{}", ctx.srv.script.cache.len());
                let fs = &ctx.srv.script.functions;
                kv!(s, "number_of_functions:{}", fs.functions_count());
                kv!(s, "number_of_libraries:{}", fs.libs.len());
                let vm_functions = fs.used_memory();
                kv!(s, "used_memory_vm_functions:{vm_functions}");
                kv!(s, "used_memory_vm_total:{}", lua + vm_functions);
                kv!(
                    s,
                    "used_memory_vm_total_human:{}",
                    bytes_to_human((lua + vm_functions) as u64)
                );
                kv!(s, "used_memory_functions:0");
                kv!(s, "used_memory_scripts:0");
                kv!(s, "used_memory_scripts_human:0B");
                kv!(s, "maxmemory:{}", cfg.maxmemory);
                kv!(s, "maxmemory_human:{}", bytes_to_human(cfg.maxmemory));
                kv!(s, "maxmemory_policy:{}", cfg.maxmemory_policy.name());
                let frag = if used > 0 {
                    rss as f64 / used as f64
                } else {
                    0.0
                };
                kv!(s, "allocator_frag_ratio:1.00");
                kv!(s, "allocator_frag_bytes:0");
                kv!(s, "allocator_rss_ratio:{frag:.2}");
                kv!(
                    s,
                    "allocator_rss_bytes:{}",
                    i128::from(rss) - i128::from(used)
                );
                kv!(s, "rss_overhead_ratio:1.00");
                kv!(s, "rss_overhead_bytes:0");
                kv!(s, "mem_fragmentation_ratio:{frag:.2}");
                kv!(
                    s,
                    "mem_fragmentation_bytes:{}",
                    i128::from(rss) - i128::from(used)
                );
                kv!(
                    s,
                    "mem_not_counted_for_evict:{}",
                    srv.mem_not_counted_for_evict_with(repl.0)
                );
                let (repl_buf, backlog, slaves) = repl;
                kv!(s, "mem_replication_backlog:{backlog}");
                kv!(s, "mem_total_replication_buffers:{repl_buf}");
                kv!(s, "mem_clients_slaves:{slaves}");
                kv!(s, "mem_clients_normal:{}", oh.clients_normal);
                kv!(s, "mem_cluster_links:{}", oh.cluster_links);
                kv!(s, "mem_aof_buffer:{}", oh.aof_buffer);
                kv!(s, "mem_allocator:libc");
                kv!(s, "active_defrag_running:0");
                let count = |f: Option<fn() -> usize>| f.map_or(0, |f| f());
                kv!(
                    s,
                    "lazyfree_pending_objects:{}",
                    count(srv.host.lazyfree_pending)
                );
                kv!(s, "lazyfreed_objects:{}", count(srv.host.lazyfreed));
            }
            "persistence" => {
                section(&mut s, "Persistence");
                let p = &srv.persist;
                let now_ms = srv.last_tick_ms();
                let b = |v: bool| u8::from(v);
                let status = |ok: bool| if ok { "ok" } else { "err" };
                let running = |on: bool, since: u64| {
                    if on {
                        (now_ms.saturating_sub(since) / 1000) as i64
                    } else {
                        -1
                    }
                };
                kv!(s, "loading:{}", b(p.loading && !p.async_loading));
                kv!(s, "async_loading:{}", b(p.async_loading));
                for f in [
                    "current_cow_peak:0",
                    "current_cow_size:0",
                    "current_cow_size_age:0",
                    "current_fork_perc:0.00",
                    "current_save_keys_processed:0",
                    "current_save_keys_total:0",
                ] {
                    kv!(s, "{f}");
                }
                kv!(s, "rdb_changes_since_last_save:{}", srv.dirty);
                kv!(s, "rdb_bgsave_in_progress:{}", b(p.bgsave_in_progress));
                kv!(s, "rdb_last_save_time:{}", p.lastsave);
                kv!(s, "rdb_last_bgsave_status:{}", status(p.last_bgsave_ok));
                kv!(s, "rdb_last_bgsave_time_sec:{}", p.last_bgsave_secs);
                kv!(
                    s,
                    "rdb_current_bgsave_time_sec:{}",
                    running(p.bgsave_in_progress, p.bgsave_started_ms)
                );
                kv!(s, "rdb_saves:{}", p.rdb_saves);
                kv!(s, "rdb_last_cow_size:0");
                kv!(s, "rdb_last_load_keys_expired:{}", p.last_load_keys_expired);
                kv!(s, "rdb_last_load_keys_loaded:{}", p.last_load_keys_loaded);
                kv!(s, "aof_enabled:{}", b(p.aof_enabled));
                kv!(
                    s,
                    "aof_rewrite_in_progress:{}",
                    b(p.aof_rewrite_in_progress)
                );
                kv!(s, "aof_rewrite_scheduled:{}", b(p.aof_rewrite_scheduled));
                kv!(s, "aof_last_rewrite_time_sec:{}", p.aof_last_rewrite_secs);
                kv!(
                    s,
                    "aof_current_rewrite_time_sec:{}",
                    running(p.aof_rewrite_in_progress, p.aof_rewrite_started_ms)
                );
                kv!(
                    s,
                    "aof_last_bgrewrite_status:{}",
                    status(p.aof_last_rewrite_ok)
                );
                kv!(s, "aof_rewrites:{}", p.aof_rewrites);
                kv!(s, "aof_rewrites_consecutive_failures:0");
                kv!(s, "aof_last_write_status:{}", status(p.aof_last_write_ok));
                kv!(s, "aof_last_cow_size:0");
                kv!(s, "module_fork_in_progress:0");
                kv!(s, "module_fork_last_cow_size:0");
                if p.aof_enabled {
                    kv!(s, "aof_current_size:{}", p.aof_current_size);
                    kv!(s, "aof_base_size:{}", p.aof_base_size);
                    kv!(s, "aof_pending_rewrite:{}", b(p.aof_rewrite_scheduled));
                    kv!(s, "aof_buffer_length:0");
                    kv!(s, "aof_pending_bio_fsync:0");
                    kv!(s, "aof_delayed_fsync:0");
                }
                if p.loading {
                    // A replica loading its master's RDB (the host's startup load is over
                    // before clients are served).
                    let (total, loaded) = (p.loading_total_bytes, p.loading_loaded_bytes);
                    let perc = if total > 0 {
                        loaded as f64 / total as f64 * 100.0
                    } else {
                        0.0
                    };
                    let elapsed = (now_ms / 1000).saturating_sub(p.loading_start_secs);
                    let left = if total > 0 {
                        total.saturating_sub(loaded)
                    } else {
                        1
                    };
                    let eta = if elapsed == 0 {
                        1
                    } else {
                        elapsed * left / (loaded + 1)
                    };
                    kv!(s, "loading_start_time:{}", p.loading_start_secs);
                    kv!(s, "loading_total_bytes:{total}");
                    kv!(s, "loading_rdb_used_mem:0");
                    kv!(s, "loading_loaded_bytes:{loaded}");
                    kv!(s, "loading_loaded_perc:{perc:.2}");
                    kv!(s, "loading_eta_seconds:{eta}");
                }
            }
            "stats" => {
                let st = &srv.stats;
                let (hits, misses, expired) = srv.dbs.iter().fold((0, 0, 0), |a, d| {
                    (a.0 + d.hits, a.1 + d.misses, a.2 + d.expired_count)
                });
                section(&mut s, "Stats");
                kv!(s, "total_connections_received:{}", st.connections_received);
                kv!(s, "total_commands_processed:{}", st.commands_processed);
                let inst = |m| st.inst.get(m);
                use super::intro::InstMetrics as M;
                kv!(s, "instantaneous_ops_per_sec:{}", inst(M::OPS));
                kv!(s, "total_net_input_bytes:{}", st.net_input_bytes);
                kv!(s, "total_net_output_bytes:{}", st.net_output_bytes);
                kv!(
                    s,
                    "total_net_repl_input_bytes:{}",
                    srv.repl.replica.net_repl_input_bytes
                );
                kv!(
                    s,
                    "total_net_repl_output_bytes:{}",
                    srv.repl.master.net_repl_output_bytes
                );
                let kbps = |m| inst(m) as f32 / 1024.0;
                kv!(s, "instantaneous_input_kbps:{:.2}", kbps(M::NET_INPUT));
                kv!(s, "instantaneous_output_kbps:{:.2}", kbps(M::NET_OUTPUT));
                kv!(s, "instantaneous_input_repl_kbps:0.00");
                kv!(s, "instantaneous_output_repl_kbps:0.00");
                kv!(s, "rejected_connections:{}", st.rejected_connections);
                let m = &srv.repl.master;
                kv!(s, "sync_full:{}", m.stat_sync_full);
                kv!(s, "sync_partial_ok:{}", m.stat_sync_partial_ok);
                kv!(s, "sync_partial_err:{}", m.stat_sync_partial_err);
                kv!(s, "expired_keys:{}", expired.max(st.expired_keys_active));
                kv!(s, "expired_stale_perc:0.00");
                kv!(s, "expired_time_cap_reached_count:0");
                kv!(
                    s,
                    "expire_cycle_cpu_milliseconds:{}",
                    st.expire_cycle_us / 1000
                );
                let ev = &srv.evict;
                kv!(s, "evicted_keys:{}", ev.evicted_keys);
                kv!(s, "evicted_clients:{}", ctx.srv.stats.evicted_clients);
                let current = ev.current_exceeded_ms(ctx.now);
                kv!(
                    s,
                    "total_eviction_exceeded_time:{}",
                    ev.exceeded_total_ms + current
                );
                kv!(s, "current_eviction_exceeded_time:{current}");
                kv!(s, "keyspace_hits:{hits}");
                kv!(s, "keyspace_misses:{misses}");
                let ps = &ctx.srv.pubsub;
                kv!(s, "pubsub_channels:{}", ps.channel_count());
                kv!(s, "pubsub_patterns:{}", ps.pattern_count());
                kv!(s, "pubsubshard_channels:{}", ps.shard_channel_count());
                kv!(s, "latest_fork_usec:{}", st.latest_fork_us);
                kv!(s, "total_forks:{}", st.total_forks);
                for f in [
                    "migrate_cached_sockets:0",
                    "slave_expires_tracked_keys:0",
                    "active_defrag_hits:0",
                    "active_defrag_misses:0",
                    "active_defrag_key_hits:0",
                    "active_defrag_key_misses:0",
                    "total_active_defrag_time:0",
                    "current_active_defrag_time:0",
                ] {
                    kv!(s, "{f}");
                }
                let t = &ctx.srv.tracking;
                kv!(s, "tracking_total_keys:{}", t.total_keys());
                kv!(s, "tracking_total_items:{}", t.total_items());
                kv!(s, "tracking_total_prefixes:{}", t.total_prefixes());
                kv!(s, "unexpected_error_replies:0");
                kv!(s, "total_error_replies:{}", st.error_replies);
                kv!(s, "dump_payload_sanitizations:0");
                kv!(s, "total_reads_processed:0");
                kv!(s, "total_writes_processed:0");
                kv!(s, "io_threaded_reads_processed:0");
                kv!(s, "io_threaded_writes_processed:0");
                kv!(s, "reply_buffer_shrinks:0");
                kv!(s, "reply_buffer_expands:0");
            }
            "replication" => {
                section(&mut s, "Replication");
                crate::repl::info_section(srv, ctx.clients, &mut s);
            }
            "cpu" => {
                section(&mut s, "CPU");
                let [sys, user, csys, cuser] = host.cpu_times.map_or([0.0; 4], |f| f());
                kv!(s, "used_cpu_sys:{sys:.6}");
                kv!(s, "used_cpu_user:{user:.6}");
                kv!(s, "used_cpu_sys_children:{csys:.6}");
                kv!(s, "used_cpu_user_children:{cuser:.6}");
                // The engine runs on the main thread (the lazy-free worker's share is small).
                kv!(s, "used_cpu_sys_main_thread:{sys:.6}");
                kv!(s, "used_cpu_user_main_thread:{user:.6}");
            }
            "modules" => section(&mut s, "Modules"),
            "commandstats" => {
                section(&mut s, "Commandstats");
                super::intro::info_commandstats(srv, &mut s);
            }
            "errorstats" => {
                section(&mut s, "Errorstats");
                super::intro::info_errorstats(srv, &mut s);
            }
            "latencystats" => {
                section(&mut s, "Latencystats");
                super::intro::info_latencystats(srv, &mut s);
            }
            "cluster" => {
                section(&mut s, "Cluster");
                kv!(s, "cluster_enabled:{}", u8::from(srv.cluster.is_some()));
            }
            "keyspace" => {
                section(&mut s, "Keyspace");
                for (i, db) in srv.dbs.iter().enumerate() {
                    if !db.is_empty() {
                        kv!(
                            s,
                            "db{i}:keys={},expires={},avg_ttl=0",
                            db.len(),
                            db.expires.len()
                        );
                    }
                }
            }
            _ => {}
        }
    }
    s
}

/// INFO [section [section ...]]
pub fn info(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut wanted = vec![false; SECTIONS.len()];
    if args.len() == 1 {
        for (w, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
            *w = *default;
        }
    }
    for a in &args[1..] {
        for (w, (name, default)) in wanted.iter_mut().zip(SECTIONS) {
            // "all" is every section but the modules' own; "everything" adds those (none).
            if is(a, "all") || is(a, "everything") || (is(a, "default") && *default) || is(a, name)
            {
                *w = true;
            }
        }
    }
    // The samples an idle engine's missing ticks would have taken.
    super::intro::InstMetrics::tick(&mut ctx.srv.stats, ctx.now);
    let text = info_string(ctx, &wanted);
    ctx.out().verbatim("txt", text.as_bytes());
    Ok(())
}

/// SWAPDB index1 index2: swaps the contents (keys and TTLs) of two databases; what clients
/// watch (or, later, block on) stays with the database number, as in Redis.
pub fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // Cluster mode has database 0 only.
    if ctx.srv.cluster.is_some() {
        return Err(CmdError::err("SWAPDB is not allowed in cluster mode"));
    }
    // getIntFromObjectOrReply with a custom message: non-integers and values outside int.
    let index = |a: &[u8], msg: &str| {
        super::parse_i64(a)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| CmdError::err(msg))
    };
    let a = index(args[1], "invalid first DB index")?;
    let b = index(args[2], "invalid second DB index")?;
    let n = ctx.srv.dbs.len();
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return Err(CmdError::err("DB index is out of range"));
    };
    if a >= n || b >= n {
        return Err(CmdError::err("DB index is out of range"));
    }
    if a != b {
        let now = ctx.now;
        super::tx::touch_all_in_db(ctx.srv, ctx.clients, a, Some(b), now);
        super::tx::touch_all_in_db(ctx.srv, ctx.clients, b, Some(a), now);
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = ctx.srv.dbs.split_at_mut(hi);
        let (x, y) = (&mut left[lo], &mut right[0]);
        std::mem::swap(&mut x.keys, &mut y.keys);
        std::mem::swap(&mut x.expires, &mut y.expires);
        // Clients blocked on keys the swap brought in are served (scanDatabaseForReadyKeys).
        super::blocking::databases_swapped(ctx.srv, a, b);
    }
    ctx.srv.dirty += 1;
    ctx.out().ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::{decode_reply, Reply};
    use crate::{Config, ConnInfo, Engine, HostInfo, UnixMillis};

    fn raw(eng: &mut Engine, id: crate::ClientHandle, cmd: &str) -> Vec<u8> {
        let mut args = Vec::new();
        assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
        eng.feed(
            UnixMillis(1_700_000_123_456),
            id,
            &crate::resp::encode_request(&args),
        );
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        out
    }

    fn run(eng: &mut Engine, id: crate::ClientHandle, cmd: &str) -> Reply {
        let out = raw(eng, id, cmd);
        let (r, n) = decode_reply(&out).unwrap().unwrap();
        assert_eq!(n, out.len());
        r
    }

    #[test]
    fn rename_command_renames_in_the_one_lookup() {
        let mut cfg = Config::default();
        cfg.load_conf(
            "rename-command get fetch\nrename-command FLUSHALL \"\"\nrename-command fetch get2",
        )
        .unwrap();
        let count = crate::command::table::COMMANDS.len() as i64;
        let mut eng = Engine::new(cfg, 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        run(&mut eng, id, "SET k v");
        assert_eq!(
            raw(&mut eng, id, "GET k"),
            b"-ERR unknown command 'GET', with args beginning with: 'k' \r\n"
        );
        assert_eq!(run(&mut eng, id, "get2 k"), Reply::Bulk(b"v".to_vec()));
        assert!(raw(&mut eng, id, "FLUSHALL").starts_with(b"-ERR unknown command"));
        // MULTI and COMMAND INFO look names up in the same table (scripts too: lookup_args).
        run(&mut eng, id, "MULTI");
        run(&mut eng, id, "GET2 k");
        assert_eq!(
            run(&mut eng, id, "EXEC"),
            Reply::Array(vec![Reply::Bulk(b"v".to_vec())])
        );
        match run(&mut eng, id, "COMMAND INFO get2 get") {
            Reply::Array(v) => {
                assert!(matches!(&v[0], Reply::Array(i) if i[0] == Reply::Bulk(b"get".to_vec())));
                assert!(matches!(v[1], Reply::Nil | Reply::NilArray));
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(run(&mut eng, id, "COMMAND COUNT"), Reply::Int(count - 1));
        // config.c's errors, on the line that fails.
        for (text, why) in [
            (
                "rename-command nosuch x",
                "No such command in rename-command",
            ),
            (
                "rename-command get set",
                "Target command name already exists",
            ),
            (
                "rename-command get \"\"\nrename-command get x",
                "No such command in rename-command",
            ),
        ] {
            let e = Config::default().load_conf(text).unwrap_err();
            assert!(e.ends_with(why), "{e}");
        }
    }

    fn text(r: Reply) -> String {
        match r {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn time_uses_the_host_clock() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "TIME"),
            Reply::Array(vec![Reply::bulk(b"1700000123"), Reply::bulk(b"456000")])
        );
    }

    #[test]
    fn info_sections() {
        let mut eng = Engine::new(Config::default(), 1);
        eng.set_host_info(
            UnixMillis(1_700_000_000_000),
            HostInfo {
                process_id: 42,
                used_memory: Some(|| 2048),
                ..Default::default()
            },
        );
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        eng.server_mut().dbs[0].insert_new(b"k", crate::types::Value::string(b"v"));
        let all = text(run(&mut eng, id, "INFO"));
        let heads: Vec<&str> = all.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            heads,
            [
                "# Server",
                "# Clients",
                "# Memory",
                "# Persistence",
                "# Stats",
                "# Replication",
                "# CPU",
                "# Modules",
                "# Errorstats",
                "# Cluster",
                "# Keyspace"
            ]
        );
        assert!(all.starts_with("# Server\r\nredis_version:7.0.15\r\noxidis_version:"));
        assert!(all.contains("\r\nprocess_id:42\r\n"));
        assert!(all.contains("\r\nuptime_in_seconds:123\r\n"));
        assert!(all.contains("\r\nused_memory:2048\r\nused_memory_human:2.00K\r\n"));
        assert!(all.contains("\r\n\r\n# Clients\r\nconnected_clients:1\r\n"));
        assert!(all.ends_with("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"));
        assert!(all.split("\r\n").all(|l| !l.contains('\n')));
        let two = text(run(&mut eng, id, "INFO keyspace CPU"));
        assert!(two.starts_with("# CPU\r\n"));
        assert!(two.contains("\r\n\r\n# Keyspace\r\n"));
        assert_eq!(text(run(&mut eng, id, "INFO nosuch")), "");
        let every = text(run(&mut eng, id, "INFO everything"));
        assert!(every.contains("# Commandstats\r\n") && every.contains("# Latencystats\r\n"));
        // RESP3: a verbatim string.
        run(&mut eng, id, "HELLO 3");
        assert!(raw(&mut eng, id, "INFO cluster")
            .ends_with(b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"));
    }

    /// Containers hold subcommands in Redis's hash order; compare order-insensitively.
    fn normalize(r: Reply) -> Reply {
        match r {
            Reply::Array(mut v) | Reply::Set(mut v) => {
                v = v.into_iter().map(normalize).collect();
                v.sort_by_key(|x| format!("{x:?}"));
                Reply::Array(v)
            }
            Reply::Map(mut v) => {
                v = v
                    .into_iter()
                    .map(|(k, x)| (normalize(k), normalize(x)))
                    .collect();
                v.sort_by_key(|x| format!("{x:?}"));
                Reply::Map(v)
            }
            other => other,
        }
    }

    /// Recorded from redis-server 7.0.15: `COMMAND INFO get client` in RESP2.
    const INFO_GET_RESP2: &[u8] = b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

    #[test]
    fn command_info_matches_redis() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let out = raw(&mut eng, id, "COMMAND INFO get nosuch");
        let mut want = b"*2\r\n".to_vec();
        want.extend_from_slice(INFO_GET_RESP2);
        want.extend_from_slice(b"$-1\r\n");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );
        // RESP3: sets and maps, and a null.
        run(&mut eng, id, "HELLO 3");
        let out = raw(&mut eng, id, "COMMAND INFO GET nosuch");
        assert!(out.starts_with(b"*2\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"));
        assert!(out.ends_with(b"_\r\n"));
        // Subcommands: every child present, whatever the order.
        let Reply::Array(v) = run(&mut eng, id, "COMMAND INFO config") else {
            panic!()
        };
        let Reply::Array(info) = &v[0] else { panic!() };
        let Reply::Array(subs) = normalize(info[9].clone()) else {
            panic!()
        };
        assert_eq!(subs.len(), 5);
        assert_eq!(
            run(&mut eng, id, "COMMAND COUNT"),
            Reply::Int(crate::command::table::COMMANDS.len() as i64)
        );
    }

    #[test]
    fn command_docs_and_list() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let Reply::Array(v) = run(&mut eng, id, "COMMAND DOCS get nosuch config|get") else {
            panic!()
        };
        assert_eq!(v.len(), 4);
        assert_eq!(v[0], Reply::bulk(b"get"));
        assert_eq!(v[2], Reply::bulk(b"config|get"));
        let Reply::Array(get) = &v[1] else { panic!() };
        assert_eq!(
            get[..4],
            [
                Reply::bulk(b"summary"),
                Reply::bulk(b"Get the value of a key"),
                Reply::bulk(b"since"),
                Reply::bulk(b"1.0.0")
            ]
        );
        run(&mut eng, id, "HELLO 3");
        let Reply::Map(m) = run(&mut eng, id, "COMMAND DOCS client") else {
            panic!()
        };
        let Reply::Map(doc) = &m[0].1 else { panic!() };
        assert_eq!(doc.last().unwrap().0, Reply::bulk(b"subcommands"));
        let Reply::Array(names) = run(&mut eng, id, "COMMAND LIST FILTERBY PATTERN client|setname")
        else {
            panic!()
        };
        assert_eq!(names, [Reply::bulk(b"client|setname")]);
        let Reply::Array(names) = run(&mut eng, id, "COMMAND LIST") else {
            panic!()
        };
        assert_eq!(names.len(), crate::command::all_commands().count());
        let Reply::Array(names) = run(&mut eng, id, "COMMAND LIST FILTERBY aclcat CONNECTION")
        else {
            panic!()
        };
        assert!(names.contains(&Reply::bulk(b"ping")));
        assert!(!names.contains(&Reply::bulk(b"get")));
        assert_eq!(
            run(&mut eng, id, "COMMAND LIST FILTERBY module x"),
            Reply::Array(vec![])
        );
        assert_eq!(
            run(&mut eng, id, "COMMAND LIST FILTERBY foo x"),
            Reply::error("ERR syntax error")
        );
    }
}
