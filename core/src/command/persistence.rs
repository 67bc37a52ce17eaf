//! The persistence command group (SAVE BGSAVE BGREWRITEAOF LASTSAVE SHUTDOWN DUMP RESTORE,
//! DEBUG RELOAD), the save rules and auto-rewrite of Redis's serverCron, and the propagation hook
//! dispatch calls around every command (Redis's call() + alsoPropagate).
//!
//! Files, fork and fsync are the host's (`rdb::persist::PersistHost`); everything about *when*
//! and *what* is here, so every shell behaves alike.

use super::{is, notify, parse_int, CmdError, Ctx};
use crate::engine::{Event, Server};
use crate::rdb::{self, persist::save_params, PayloadError, SaveOptions};
use crate::time::UnixMillis;

// ---------------------------------------------------------------- propagation

/// What dispatch remembers before running a command.
pub struct Before {
    dirty: u64,
    db: usize,
}

pub fn before_command(srv: &mut Server, db: usize) -> Before {
    srv.persist.rewrite = None;
    Before {
        dirty: srv.dirty,
        db,
    }
}

/// After a command: counts its changes into `dirty` when its handler did not (string and
/// keyspace commands change keys through `Db` methods, which count them), then propagates
/// expired-key deletions and the command's effects.
#[inline]
pub fn after_command(ctx: &mut Ctx, args: &[&[u8]], before: Before, ok: bool) {
    // Every write handler counts its changes with key_modified (Redis's signalModifiedKey
    // sites), so `dirty` moved exactly when something changed.
    let _ = ok;
    // Inlined for this test: without propagation there is nothing to do.
    if ctx.srv.persist.propagate {
        propagate_after_command(ctx, args, before);
    }
}

/// `after_command` while effects are propagated.
#[inline(never)]
fn propagate_after_command(ctx: &mut Ctx, args: &[&[u8]], before: Before) {
    let write = ctx.cmd.has(super::flags::WRITE);
    // Expiry deletions in this command are propagated before its own effects.
    super::tx::drain_expired(ctx.srv, ctx.clients);
    let srv = &mut *ctx.srv;
    match srv.persist.rewrite.take() {
        Some(cmds) => srv.persist.emit_ops(&cmds),
        None if write && srv.dirty != before.dirty => srv.persist.emit(before.db, args),
        None => {}
    }
}

/// Keys deleted by lazy or active expiry in `db` are propagated as DEL (UNLINK with
/// lazyfree-lazy-expire), as Redis's deleteExpiredKeyAndPropagate does. Called by
/// `tx::drain_expired`, the one reader of the databases' expiry logs.
pub(crate) fn propagate_expired(srv: &mut Server, db: usize, keys: &[Vec<u8>]) {
    if !srv.persist.propagate || keys.is_empty() {
        return;
    }
    let lazy = srv.config.lazyfree_lazy_expire;
    let name: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
    for k in keys {
        srv.persist.emit(db, &[name, k]);
    }
}

/// Starts or stops collecting propagated effects (the host's AOF is on or off).
pub fn set_propagation(srv: &mut Server, on: bool) {
    srv.persist.set_propagate(on);
    super::tx::sync_expiry_logging(srv);
}

// ---------------------------------------------------------------- MISCONF

/// shared.bgsaveerr, without its '-' and CRLF.
pub const BGSAVE_ERR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// writeCommandsDeniedByDiskError + writeCommandsGetDiskErrorMessage: why writes are refused
/// now, if they are: the last BGSAVE failed (with stop-writes-on-bgsave-error and save rules
/// set), or the last AOF write or fsync did. Each clears when the disk recovers (a save that
/// succeeds; an AOF write that succeeds, which the host retries).
pub fn disk_error(srv: &Server) -> Option<Vec<u8>> {
    let p = &srv.persist;
    // The cheap tests first: the save rules are parsed from their text.
    if !p.last_bgsave_ok
        && srv.config.stop_writes_on_bgsave_error
        && save_params(&srv.config).next().is_some()
    {
        return Some(BGSAVE_ERR.as_bytes().to_vec());
    }
    if p.aof_enabled && !p.aof_last_write_ok {
        return Some(
            format!(
                "MISCONF Errors writing to the AOF file: {}",
                p.aof_last_write_error
            )
            .into_bytes(),
        );
    }
    None
}

/// processCommand's check: a write command (EXEC of a transaction with one; a script whose
/// flags may write) or PING is refused while `disk_error` says so.
#[inline]
pub fn refuses_write(
    srv: &Server,
    c: &crate::engine::Client,
    cmd: &super::CommandSpec,
    args: &[&[u8]],
) -> Option<Vec<u8>> {
    // Inlined for the common case: the last BGSAVE and AOF write went well (then
    // `disk_error` has nothing to say).
    let p = &srv.persist;
    if p.last_bgsave_ok && (p.aof_last_write_ok || !p.aof_enabled) {
        return None;
    }
    refuses_write_on_error(srv, c, cmd, args)
}

/// `refuses_write` after a failed BGSAVE or AOF write.
#[inline(never)]
fn refuses_write_on_error(
    srv: &Server,
    c: &crate::engine::Client,
    cmd: &super::CommandSpec,
    args: &[&[u8]],
) -> Option<Vec<u8>> {
    let msg = disk_error(srv)?;
    let flags = crate::script::command_flags(srv, cmd, args);
    let write = flags & super::flags::WRITE != 0
        || (cmd.name == "exec" && c.tx.queued_flags & super::flags::WRITE != 0);
    (write || cmd.name == "ping").then_some(msg)
}

// ---------------------------------------------------------------- cron

/// Whether the host should keep ticking for persistence (save rules, children, schedules).
pub fn wants_tick(srv: &Server) -> bool {
    let p = &srv.persist;
    p.host.is_some()
        && (srv.dirty > 0 || p.child_active() || p.bgsave_scheduled || p.aof_rewrite_scheduled)
}

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, save rules wait this long.
const BGSAVE_RETRY_DELAY: u64 = 5;

/// serverCron's persistence part: scheduled children, save rules, auto AOF rewrite.
pub fn cron(srv: &mut Server, now: UnixMillis) {
    if srv.persist.host.is_none() || srv.persist.child_active() {
        return;
    }
    let secs = now.as_secs();
    if srv.persist.aof_rewrite_scheduled {
        let _ = start_rewrite(srv, now);
        return;
    }
    if srv.persist.bgsave_scheduled {
        srv.persist.bgsave_scheduled = false;
        let _ = start_bgsave(srv, now);
        return;
    }
    let may_retry = srv.persist.last_bgsave_ok
        || secs.saturating_sub(srv.persist.last_bgsave_try) > BGSAVE_RETRY_DELAY;
    let due = save_params(&srv.config).any(|(period, changes)| {
        srv.dirty >= changes && secs.saturating_sub(srv.persist.lastsave) > period
    });
    if due && may_retry && srv.dirty > 0 {
        let _ = start_bgsave(srv, now);
        return;
    }
    if srv.persist.aof_enabled {
        let perc = srv.config.auto_aof_rewrite_percentage;
        let min = srv.config.auto_aof_rewrite_min_size;
        let cur = srv.persist.aof_current_size;
        if perc > 0 && cur > min {
            let base = srv.persist.aof_base_size.max(1);
            let growth = (cur * 100 / base).saturating_sub(100);
            if growth >= perc {
                let _ = start_rewrite(srv, now);
            }
        }
    }
}

// ---------------------------------------------------------------- saving

pub fn save_options(srv: &Server, now: UnixMillis) -> SaveOptions {
    let used = srv.host.used_memory.map_or(0, |f| f() as u64);
    SaveOptions {
        functions: srv.script.functions.codes(),
        repl: crate::repl::replica::save_info(srv),
        ..SaveOptions::from_config(&srv.config, now.as_secs(), used)
    }
}

/// rdbSave through the host: on success the dirty counter restarts.
pub fn save_now(srv: &mut Server, now: UnixMillis) -> Result<(), String> {
    let opts = save_options(srv, now);
    let Server { dbs, persist, .. } = srv;
    let host = persist
        .host
        .as_mut()
        .ok_or_else(|| "no persistence in this host".to_string())?;
    host.save(dbs, &opts)?;
    srv.dirty = 0;
    srv.persist.lastsave = now.as_secs();
    srv.persist.last_bgsave_ok = true;
    srv.persist.rdb_saves += 1;
    Ok(())
}

pub fn start_bgsave(srv: &mut Server, now: UnixMillis) -> Result<(), String> {
    let opts = save_options(srv, now);
    start_bgsave_with(srv, now, &opts)
}

/// rdbSaveBackground with these options (the BGSAVE for a disk-based full sync passes the
/// replication aux fields of its +FULLRESYNC).
pub fn start_bgsave_with(
    srv: &mut Server,
    now: UnixMillis,
    opts: &SaveOptions,
) -> Result<(), String> {
    srv.persist.last_bgsave_try = now.as_secs();
    let Server { dbs, persist, .. } = srv;
    let host = persist
        .host
        .as_mut()
        .ok_or_else(|| "no persistence in this host".to_string())?;
    let clock = srv.host.monotonic_us;
    let t0 = clock.map(|f| f());
    let r = host.bgsave(dbs, opts);
    super::intro::fork_done(srv, now, t0, r.is_ok());
    match r {
        Ok(()) => {
            srv.persist.bgsave_in_progress = true;
            srv.persist.bgsave_started_ms = now.0;
            srv.persist.dirty_at_bgsave = srv.dirty;
            Ok(())
        }
        Err(e) => {
            srv.persist.last_bgsave_ok = false;
            Err(e)
        }
    }
}

pub fn start_rewrite(srv: &mut Server, now: UnixMillis) -> Result<(), String> {
    let mut opts = save_options(srv, now);
    opts.aof_base = true;
    srv.persist.aof_rewrite_scheduled = false;
    let mut pending = Vec::new();
    srv.persist.take(&mut pending);
    // The host starts a new incr file now, replayed by a fresh client in database 0: its
    // first command must select again (Redis: aof_selected_db = -1 before the fork).
    srv.persist.reset_selected_db();
    let Server { dbs, persist, .. } = srv;
    let host = persist
        .host
        .as_mut()
        .ok_or_else(|| "no persistence in this host".to_string())?;
    let clock = srv.host.monotonic_us;
    let t0 = clock.map(|f| f());
    let r = host.bgrewriteaof(dbs, &opts, &pending);
    super::intro::fork_done(srv, now, t0, r.is_ok());
    match r {
        Ok(()) => {
            srv.persist.aof_rewrite_in_progress = true;
            srv.persist.aof_rewrite_started_ms = now.0;
            Ok(())
        }
        Err(e) => {
            srv.persist.aof_last_rewrite_ok = false;
            Err(e)
        }
    }
}

/// The host's report that the BGSAVE child ended.
pub fn bgsave_done(srv: &mut Server, now: UnixMillis, ok: bool) {
    let p = &mut srv.persist;
    p.bgsave_in_progress = false;
    p.last_bgsave_secs = (now.0.saturating_sub(p.bgsave_started_ms) / 1000) as i64;
    if ok {
        srv.dirty = srv.dirty.saturating_sub(p.dirty_at_bgsave);
        p.lastsave = now.as_secs();
        p.last_bgsave_ok = true;
        p.rdb_saves += 1;
    } else {
        p.last_bgsave_ok = false;
    }
}

/// The host's report that the AOF rewrite child ended (and its files are in place).
pub fn aof_rewrite_done(srv: &mut Server, now: UnixMillis, ok: bool) {
    let p = &mut srv.persist;
    p.aof_rewrite_in_progress = false;
    p.aof_last_rewrite_secs = (now.0.saturating_sub(p.aof_rewrite_started_ms) / 1000) as i64;
    p.aof_last_rewrite_ok = ok;
    if ok {
        p.aof_rewrites += 1;
    }
}

pub const SHUTDOWN_NOSAVE: u8 = 1;
pub const SHUTDOWN_SAVE: u8 = 2;
pub const SHUTDOWN_FORCE: u8 = 4;
pub const SHUTDOWN_NOW: u8 = 8;

/// Redis's prepareForShutdown + finishShutdown (no replicas): stop children, flush the AOF,
/// save if save points are configured (or SAVE) unless NOSAVE. Err when it must not exit.
pub fn prepare_shutdown(srv: &mut Server, now: UnixMillis, flags: u8) -> Result<(), String> {
    let force = flags & SHUTDOWN_FORCE != 0;
    if let Some(host) = srv.persist.host.as_mut() {
        if let Err(e) = host.prepare_shutdown() {
            if !force {
                return Err(e);
            }
        }
        srv.persist.bgsave_in_progress = false;
        srv.persist.aof_rewrite_in_progress = false;
        let want_save = (flags & SHUTDOWN_SAVE != 0)
            || (flags & SHUTDOWN_NOSAVE == 0 && save_params(&srv.config).next().is_some());
        if want_save {
            if let Err(e) = save_now(srv, now) {
                if !force {
                    return Err(e);
                }
            }
        }
    }
    srv.persist.shutdown = true;
    srv.events.push_back(Event::Shutdown);
    Ok(())
}

// ---------------------------------------------------------------- commands

/// SAVE
pub fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.srv.persist.bgsave_in_progress {
        return Err(CmdError::err("Background save already in progress"));
    }
    if ctx.srv.persist.host.is_none() {
        return Err(CmdError::err(
            "SAVE is not available: this server has no storage",
        ));
    }
    match save_now(ctx.srv, ctx.now) {
        Ok(()) => {
            ctx.out().ok();
            Ok(())
        }
        Err(_) => Err(CmdError::Msg(b"ERR".to_vec())),
    }
}

/// BGSAVE [SCHEDULE]
pub fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut schedule = false;
    if args.len() > 1 {
        if args.len() == 2 && is(args[1], "schedule") {
            schedule = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let p = &ctx.srv.persist;
    if p.bgsave_in_progress {
        return Err(CmdError::err("Background save already in progress"));
    }
    if p.host.is_none() {
        return Err(CmdError::err(
            "BGSAVE is not available: this server has no storage",
        ));
    }
    if p.child_active() {
        if !schedule {
            return Err(CmdError::err(
                "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        ctx.srv.persist.bgsave_scheduled = true;
        ctx.out().simple("Background saving scheduled");
        return Ok(());
    }
    match start_bgsave(ctx.srv, ctx.now) {
        Ok(()) => {
            ctx.out().simple("Background saving started");
            Ok(())
        }
        Err(_) => Err(CmdError::Msg(b"ERR".to_vec())),
    }
}

/// BGREWRITEAOF
pub fn bgrewriteaof(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let p = &ctx.srv.persist;
    if p.aof_rewrite_in_progress {
        return Err(CmdError::err(
            "Background append only file rewriting already in progress",
        ));
    }
    if p.host.is_none() {
        return Err(CmdError::err(
            "BGREWRITEAOF is not available: this server has no storage",
        ));
    }
    if p.child_active() {
        ctx.srv.persist.aof_rewrite_scheduled = true;
        ctx.out()
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    match start_rewrite(ctx.srv, ctx.now) {
        Ok(()) => {
            ctx.out()
                .simple("Background append only file rewriting started");
            Ok(())
        }
        Err(_) => Err(CmdError::err(
            "Can't execute an AOF background rewriting. Please check the server logs for more information.",
        )),
    }
}

/// LASTSAVE
pub fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let t = ctx.srv.persist.lastsave as i64;
    ctx.out().int(t);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut flags = 0u8;
    let mut abort = false;
    for a in &args[1..] {
        if is(a, "nosave") {
            flags |= SHUTDOWN_NOSAVE;
        } else if is(a, "save") {
            flags |= SHUTDOWN_SAVE;
        } else if is(a, "now") {
            flags |= SHUTDOWN_NOW;
        } else if is(a, "force") {
            flags |= SHUTDOWN_FORCE;
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && flags != 0) || (flags & SHUTDOWN_NOSAVE != 0 && flags & SHUTDOWN_SAVE != 0) {
        return Err(CmdError::Syntax);
    }
    if abort {
        if crate::repl::master::abort_shutdown(ctx.srv, ctx.clients) {
            ctx.out().ok();
            return Ok(());
        }
        return Err(CmdError::err("No shutdown in progress."));
    }
    let c = ctx.client_ref();
    if flags & SHUTDOWN_NOW == 0 && (c.tx.in_exec || c.script) {
        return Err(CmdError::err(
            "SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.srv.script.busy && flags & SHUTDOWN_NOSAVE == 0 {
        // A busy script may have written half of its changes: only NOSAVE may exit.
        return Err(CmdError::Msg(super::BUSY_SCRIPT.to_vec()));
    }
    match crate::repl::master::begin_shutdown(ctx.srv, ctx.clients, ctx.now, flags) {
        // No reply: the connection closes as the server exits (a busy script is stopped).
        Ok(true) => {
            if ctx.srv.script.busy {
                ctx.srv.script.kill_requested = true;
            }
            Ok(())
        }
        // Lagging replicas: blocked until the server exits (or an error if it cannot).
        Ok(false) => {
            super::blocking::block_shutdown(ctx);
            ctx.srv.repl.master.shutdown_blocked.push(ctx.handle.0);
            Ok(())
        }
        Err(_) => Err(CmdError::err("Errors trying to SHUTDOWN. Check logs.")),
    }
}

/// DUMP key
pub fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let i = ctx.client_ref().db;
    let payload = match ctx.srv.dbs[i].lookup_read(args[1], now) {
        None => None,
        Some(v) => Some(rdb::dump_payload(v, &ctx.srv.config)),
    };
    match payload {
        None => ctx.out().nil(),
        Some(p) => ctx.out().bulk(&p),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
pub fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut replace = false;
    let mut absttl = false;
    let mut idle = None;
    let mut freq = None;
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        let a = args[j];
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && more >= 1 && freq.is_none() {
            let v = parse_int(args[j + 1])?;
            if v < 0 {
                return Err(CmdError::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v as u64);
            j += 1;
        } else if is(a, "freq") && more >= 1 && idle.is_none() {
            let v = parse_int(args[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v as u8);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = args[1];
    let now = ctx.now;
    if !replace && ctx.db().get(key, now).is_some() {
        return Err(CmdError::Msg(
            b"BUSYKEY Target key name already exists.".to_vec(),
        ));
    }
    let mut ttl = parse_int(args[2])?;
    if ttl < 0 {
        return Err(CmdError::err("Invalid TTL value, must be >= 0"));
    }
    let Server { config, rng, .. } = &mut *ctx.srv;
    let value = match rdb::restore_payload(args[3], config, rng) {
        Ok(v) => v,
        Err(PayloadError::VersionOrChecksum) => {
            return Err(CmdError::err("DUMP payload version or checksum are wrong"))
        }
        Err(PayloadError::BadFormat) => return Err(CmdError::err("Bad data format")),
    };
    let deleted = replace && ctx.db().remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(i64::try_from(now.0).unwrap_or(i64::MAX));
    }
    if ttl != 0 && ttl as u64 <= now.0 {
        // Already expired: nothing is created (an old key was replaced by nothing).
        if deleted {
            let lazy = ctx.srv.config.lazyfree_lazy_server_del;
            ctx.propagate(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
            ctx.key_modified(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.out().ok();
        return Ok(());
    }
    let db = ctx.db();
    db.insert_new(key, value);
    // objectSetLRUOrLFU: IDLETIME under an LRU-style policy, FREQ under an LFU one.
    let field = (idle.and_then(|s| db.access.field_for_idle_secs(s)))
        .or_else(|| freq.and_then(|f| db.access.field_for_freq(f)));
    if let Some(f) = field {
        db.set_lru(key, f);
    }
    if ttl != 0 {
        db.set_expire(key, ttl as u64);
        if !absttl {
            let mut cmd: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            cmd[2] = ttl.to_string().into_bytes();
            cmd.push(b"ABSTTL".to_vec());
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            ctx.propagate(&refs);
        }
    }
    ctx.key_modified(key);
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out().ok();
    Ok(())
}

/// DEBUG LOADAOF: empties the databases and replays the AOF as the host's files hold it,
/// followed by the effects not yet written (Redis flushes its aof_buf first). The files are
/// read before anything is emptied; a file that fails to replay is an error (where Redis
/// exits) and leaves what loaded so far.
pub(crate) fn debug_loadaof(ctx: &mut Ctx) -> Result<(), CmdError> {
    let now = ctx.now;
    let Some(host) = ctx.srv.persist.host.as_mut() else {
        return Err(CmdError::err(
            "DEBUG LOADAOF needs an AOF: this host keeps no files",
        ));
    };
    let (base, mut incrs) = host
        .read_aof()
        .map_err(|e| CmdError::err(format!("Error trying to load the AOF: {e}")))?;
    let pending = ctx.srv.persist.pending().to_vec();
    match incrs.last_mut() {
        Some(last) => last.extend_from_slice(&pending),
        None => incrs.push(pending),
    }
    let fail = |e: String| CmdError::err(format!("Error trying to load the AOF: {e}"));
    // emptyData: what FLUSHALL signals (WATCH, tracking), then the databases emptied.
    for db in 0..ctx.srv.dbs.len() {
        super::tx::touch_all_in_db(ctx.srv, ctx.clients, db, None, now);
    }
    super::tracking::flushed(ctx.srv, ctx.clients);
    for i in 0..ctx.srv.dbs.len() {
        let (keys, expires) = ctx.srv.dbs[i].flush_all();
        ctx.srv.free_db(keys, expires, false);
    }
    if let Some(bytes) = base {
        let mut rest: &[u8] = &bytes;
        if bytes.starts_with(b"REDIS") {
            let mut keys: Vec<rdb::LoadedKey> = Vec::new();
            let Server { config, rng, .. } = &mut *ctx.srv;
            let info = rdb::decode(&bytes, config, rng, None, |k| keys.push(k)).map_err(fail)?;
            apply_loaded_with_functions(ctx.srv, keys, &info.functions, false, true)
                .map_err(fail)?;
            rest = &bytes[info.consumed..];
        }
        crate::rdb::replay_aof(ctx.srv, ctx.clients, now, rest).map_err(fail)?;
    }
    for bytes in &incrs {
        crate::rdb::replay_aof(ctx.srv, ctx.clients, now, bytes).map_err(fail)?;
    }
    // What was loaded is what the AOF already holds: nothing to propagate or save.
    ctx.srv.dirty = 0;
    ctx.out().ok();
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]
pub(crate) fn debug_reload(ctx: &mut Ctx, opts: &[&[u8]]) -> Result<(), CmdError> {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for o in opts {
        if is(o, "merge") {
            merge = true;
        } else if is(o, "noflush") {
            flush = false;
        } else if is(o, "nosave") {
            save = false;
        } else {
            return Err(CmdError::err(
                "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let now = ctx.now;
    // Deviation: the file is read and decoded before anything is emptied, so an RDB that
    // cannot be loaded leaves the data as it was (Redis has emptied it by then).
    let bytes = if ctx.srv.persist.host.is_some() {
        if save && save_now(ctx.srv, now).is_err() {
            return Err(CmdError::Msg(b"ERR".to_vec()));
        }
        let host = ctx.srv.persist.host.as_mut();
        match host.map(|h| h.read_rdb()) {
            Some(Ok(b)) => b,
            _ => return Err(CmdError::err("Error trying to load the RDB dump")),
        }
    } else {
        // No storage: the round trip happens in memory.
        let opts = save_options(ctx.srv, now);
        rdb::encode_to_vec(&ctx.srv.dbs, &opts)
    };
    if load_snapshot(ctx.srv, &bytes, now, flush, merge).is_err() {
        return Err(CmdError::err("Error trying to load the RDB dump"));
    }
    ctx.out().ok();
    Ok(())
}

/// Loads an RDB into the server: decoded fully first (an error leaves the data untouched),
/// then applied. `flush` empties every database first; without `merge` a key that already
/// exists is an error (Redis would abort), with it the file's value wins.
pub fn load_snapshot(
    srv: &mut Server,
    bytes: &[u8],
    now: UnixMillis,
    flush: bool,
    merge: bool,
) -> Result<rdb::LoadInfo, String> {
    let mut keys: Vec<rdb::LoadedKey> = Vec::new();
    srv.sync_access(now);
    let Server { config, rng, .. } = &mut *srv;
    let info = rdb::decode(bytes, config, rng, Some(now.0), |k| keys.push(k))?;
    apply_loaded_with_functions(srv, keys, &info.functions, flush, merge)?;
    srv.persist.last_load_keys_loaded = info.keys_loaded;
    srv.persist.last_load_keys_expired = info.keys_expired;
    Ok(info)
}

/// `apply_loaded`, and the file's FUNCTION libraries: with `flush` they replace the current
/// ones (emptyData flushes functions too), with `merge` a library of the same name is replaced
/// (RDBFLAGS_ALLOW_DUP), otherwise one is an error. Nothing changes on error.
pub fn apply_loaded_with_functions(
    srv: &mut Server,
    keys: Vec<rdb::LoadedKey>,
    functions: &[Vec<u8>],
    flush: bool,
    merge: bool,
) -> Result<(), String> {
    if functions.is_empty() && !flush {
        return apply_loaded(srv, keys, flush, merge);
    }
    with_functions(srv, functions, flush, merge, |srv| {
        apply_loaded(srv, keys, flush, merge)
    })
}

/// A replica's load that inserted the keys as it parsed them (over a flushed dataset): the
/// RDB's functions replace all the libraries.
pub(crate) fn apply_loaded_functions(
    srv: &mut Server,
    functions: &[Vec<u8>],
) -> Result<(), String> {
    with_functions(srv, functions, true, false, |_| Ok(()))
}

/// The RDB's libraries are created and checked, then `apply` puts the keys in, then the
/// libraries are installed (none of them if either step failed).
fn with_functions(
    srv: &mut Server,
    functions: &[Vec<u8>],
    flush: bool,
    merge: bool,
    apply: impl FnOnce(&mut Server) -> Result<(), String>,
) -> Result<(), String> {
    use crate::script::function::{self, Policy};
    let libs = function::create_all(srv, functions).map_err(|e| {
        format!(
            "Failed loading library, {}",
            String::from_utf8_lossy(e.text().strip_prefix(b"ERR ").unwrap_or(e.text()))
        )
    })?;
    let policy = if flush {
        Policy::Flush
    } else if merge {
        Policy::Replace
    } else {
        Policy::Append
    };
    if let Some(e) = function::join_error(srv, &libs, policy) {
        function::discard(srv, libs);
        return Err(format!(
            "Failed loading library, {}",
            String::from_utf8_lossy(&e)
        ));
    }
    if let Err(e) = apply(srv) {
        function::discard(srv, libs);
        return Err(e);
    }
    function::install(srv, libs, policy);
    Ok(())
}

pub fn apply_loaded(
    srv: &mut Server,
    keys: Vec<rdb::LoadedKey>,
    flush: bool,
    merge: bool,
) -> Result<(), String> {
    if !flush && !merge {
        for k in &keys {
            if srv
                .dbs
                .get(k.db)
                .is_some_and(|d| d.keys.contains_key(&k.key))
            {
                return Err(format!(
                    "Duplicate key '{}' found in RDB file",
                    String::from_utf8_lossy(&k.key)
                ));
            }
        }
    }
    if flush {
        for db in &mut srv.dbs {
            db.flush();
        }
    }
    for k in keys {
        insert_loaded_key(&mut srv.dbs, k);
    }
    Ok(())
}

/// One loaded key into its database (replacing one of that name), with its expiry and its
/// IDLE / FREQ.
pub(crate) fn insert_loaded_key(dbs: &mut [crate::keyspace::Db], k: rdb::LoadedKey) {
    let Some(db) = dbs.get_mut(k.db) else {
        return;
    };
    db.remove(&k.key);
    db.insert_loaded(&k.key, k.value);
    if let Some(at) = k.expire_ms {
        db.set_expire(&k.key, at);
    }
    // rdbLoad's objectSetLRUOrLFU: the IDLE opcode counts under LRU-style policies, FREQ
    // under LFU ones.
    let field = (k.idle_secs.and_then(|s| db.access.field_for_idle_secs(s)))
        .or_else(|| k.freq.and_then(|f| db.access.field_for_freq(f)));
    if let Some(f) = field {
        db.set_lru(&k.key, f);
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, ConnInfo, Engine, UnixMillis};

    fn send(eng: &mut Engine, id: crate::ClientHandle, req: &str) -> String {
        eng.feed(UnixMillis(1000), id, req.as_bytes());
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// processCommand's MISCONF rule: writes (and PING, and an EXEC of writes) are refused
    /// while the last BGSAVE or AOF write failed; reads are served; the rule lifts when the
    /// disk recovers or stop-writes-on-bgsave-error is off.
    #[test]
    fn misconf_refuses_writes_until_the_disk_recovers() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(1000), ConnInfo::default());
        assert_eq!(send(&mut eng, id, "SET k v\r\n"), "+OK\r\n");
        eng.srv.persist.last_bgsave_ok = false;
        let rdb = format!("-{}\r\n", super::BGSAVE_ERR);
        assert_eq!(send(&mut eng, id, "SET k w\r\n"), rdb);
        assert_eq!(send(&mut eng, id, "PING\r\n"), rdb);
        assert_eq!(send(&mut eng, id, "GET k\r\n"), "$1\r\nv\r\n");
        assert_eq!(
            send(&mut eng, id, "MULTI\r\nSET k w\r\nGET k\r\nEXEC\r\n"),
            format!("+OK\r\n{rdb}+QUEUED\r\n-EXECABORT Transaction discarded because of previous errors.\r\n")
        );
        // Without save rules (or with the option off) a failed BGSAVE refuses nothing.
        assert_eq!(
            send(
                &mut eng,
                id,
                "CONFIG SET stop-writes-on-bgsave-error no\r\nSET k w\r\n"
            ),
            "+OK\r\n+OK\r\n"
        );
        assert_eq!(
            send(
                &mut eng,
                id,
                "CONFIG SET stop-writes-on-bgsave-error yes\r\nSET k w\r\n"
            ),
            format!("+OK\r\n{rdb}")
        );
        eng.srv.persist.last_bgsave_ok = true;
        // The AOF's failure names its cause; a write that succeeds lifts it.
        eng.srv.persist.aof_enabled = true;
        assert!(eng.aof_write_failed("No space left on device"));
        let aof = "-MISCONF Errors writing to the AOF file: No space left on device\r\n";
        assert_eq!(send(&mut eng, id, "DEL k\r\n"), aof);
        assert_eq!(send(&mut eng, id, "EXISTS k\r\n"), ":1\r\n");
        eng.aof_write_ok(0);
        assert_eq!(send(&mut eng, id, "DEL k\r\n"), ":1\r\n");
    }
}
