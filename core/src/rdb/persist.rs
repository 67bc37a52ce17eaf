//! Persistence state the engine keeps (Redis's server.dirty / lastsave / child status / AOF
//! status fields), the host hooks that do the I/O, and command propagation (Redis's
//! `alsoPropagate`): the stream of effects a host appends to its AOF.
//!
//! The core decides *what* and *when* (save rules, SHUTDOWN semantics, which commands are
//! propagated and how they are rewritten to be replayable); the host only writes files, forks,
//! and reports back (`Engine::bgsave_done`, `Engine::aof_rewrite_done`).

use super::SaveOptions;
use crate::config::Config;
use crate::keyspace::Db;
use crate::resp::append_request;

/// An AOF's contents as DEBUG LOADAOF reads them: the base file (if any), then the incr files.
pub type AofFiles = (Option<Vec<u8>>, Vec<Vec<u8>>);

/// What the host does for the core; the native shell implements it with files and fork().
/// A host without storage (the wasm playground) installs none, and the commands that need
/// one reply with an error.
pub trait PersistHost {
    /// SAVE, SHUTDOWN, DEBUG RELOAD: write the snapshot to `dbfilename` in `dir`, atomically,
    /// before returning.
    fn save(&mut self, dbs: &[Db], opts: &SaveOptions) -> Result<(), String>;
    /// BGSAVE and the save rules: start writing a point-in-time snapshot without blocking;
    /// report completion with `Engine::bgsave_done`.
    fn bgsave(&mut self, dbs: &[Db], opts: &SaveOptions) -> Result<(), String>;
    /// BGREWRITEAOF and auto-rewrite: start writing a new AOF base from this snapshot; report
    /// completion with `Engine::aof_rewrite_done`.
    /// `pending`: effects propagated before this point and not yet taken by the host; they
    /// belong to the old AOF (the new base already contains them).
    fn bgrewriteaof(
        &mut self,
        dbs: &[Db],
        opts: &SaveOptions,
        pending: &[u8],
    ) -> Result<(), String>;
    /// DEBUG RELOAD: the bytes of the RDB file on disk.
    fn read_rdb(&mut self) -> Result<Vec<u8>, String>;
    /// DEBUG LOADAOF: the AOF's files as the manifest lists them, base first (None: no
    /// base), then the incr files in order, with anything written but not yet in the files
    /// (a write being retried) at the end of the last one.
    fn read_aof(&mut self) -> Result<AofFiles, String> {
        Err("this host keeps no AOF".into())
    }
    /// A full sync: start producing a point-in-time snapshot for replicas (with `opts.repl`'s
    /// aux fields) without blocking, and hand it over with `Engine::repl_rdb_done` when done.
    /// Ok(false): this host has no way to (the engine then encodes it in-process).
    fn repl_rdb(&mut self, dbs: &[Db], opts: &SaveOptions) -> Result<bool, String> {
        let _ = (dbs, opts);
        Ok(false)
    }
    /// A replica's full sync with repl-diskless-load disabled (readSyncBulkPayload's disk
    /// path): create the temp file (`temp-<unixtime>.<pid>.rdb`) the master's payload is
    /// written to as it arrives. Ok(false): this host keeps no files (the engine then keeps
    /// the payload in memory). Err: why the file could not be opened (strerror).
    fn create_sync_tmp(&mut self) -> Result<bool, String> {
        Ok(false)
    }
    /// Appends received payload bytes to the temp file, fsyncing what was written every
    /// 8 MB (REPL_MAX_WRITTEN_BEFORE_FSYNC) so the final fsync has little left to do.
    fn write_sync_tmp(&mut self, bytes: &[u8]) -> Result<(), String> {
        let _ = bytes;
        Err("this host keeps no files".into())
    }
    /// The payload is complete: fsync the temp file, rename it over `dbfilename`, fsync the
    /// directory. Err: the whole reason, as Redis logs it ("Failed trying to rename the temp
    /// DB into ... in MASTER <-> REPLICA synchronization: ...").
    fn commit_sync_tmp(&mut self) -> Result<(), String> {
        Err("this host keeps no files".into())
    }
    /// The transfer failed or was cut: close the temp file and delete it.
    fn discard_sync_tmp(&mut self) {}
    /// A disk-based full sync: open `dbfilename` for one replica (Redis's repldbfd: a later
    /// save renaming a new file over it does not change what this replica gets) and return
    /// (handle, size). Ok(None): this host has no files; the engine then uses `read_rdb`.
    fn open_sync_rdb(&mut self) -> Result<Option<(u64, u64)>, String> {
        Ok(None)
    }
    /// Up to `len` bytes of an opened sync RDB from `offset` (sendBulkToSlave's reads).
    fn read_sync_rdb(&mut self, handle: u64, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let _ = (handle, offset, len);
        Err("this host keeps no files".into())
    }
    /// rdb-del-sync-files: delete `dbfilename` (Redis's bg_unlink), which only served
    /// replication. False: there was no such file.
    fn remove_rdb(&mut self) -> bool {
        false
    }
    /// The replica got its RDB or went away: the file is closed.
    fn close_sync_rdb(&mut self, handle: u64) {
        let _ = handle;
    }
    /// SHUTDOWN / SIGTERM: stop a running child and drop its temp file; flush and fsync the
    /// AOF.
    fn prepare_shutdown(&mut self) -> Result<(), String>;
}

/// One effect of a running script: its database, arguments and targets.
type ScriptOp = (usize, Vec<Vec<u8>>, u8);

/// Propagation targets (Redis's PROPAGATE_AOF / PROPAGATE_REPL).
pub const TO_AOF: u8 = 1;
pub const TO_REPL: u8 = 2;

/// The persistence fields of the server (INFO persistence reads them).
pub struct Persist {
    pub host: Option<Box<dyn PersistHost>>,
    /// LASTSAVE: the last successful save (seconds).
    pub lastsave: u64,
    pub last_bgsave_try: u64,
    pub last_bgsave_ok: bool,
    pub bgsave_in_progress: bool,
    pub bgsave_scheduled: bool,
    pub bgsave_started_ms: u64,
    pub last_bgsave_secs: i64,
    /// `dirty` when the running BGSAVE forked (subtracted when it succeeds).
    pub dirty_at_bgsave: u64,
    pub rdb_saves: u64,
    pub aof_enabled: bool,
    pub aof_rewrite_in_progress: bool,
    pub aof_rewrite_scheduled: bool,
    pub aof_rewrite_started_ms: u64,
    pub aof_last_rewrite_secs: i64,
    pub aof_last_rewrite_ok: bool,
    pub aof_rewrites: u64,
    pub aof_last_write_ok: bool,
    /// Why the last AOF write or fsync failed (strerror), for MISCONF's text.
    pub aof_last_write_error: String,
    /// Sizes the host reports, for INFO and auto-aof-rewrite.
    pub aof_current_size: u64,
    pub aof_base_size: u64,
    pub loading: bool,
    /// A replica's swapdb load while the old data is served (`async_loading:1`).
    pub async_loading: bool,
    /// INFO's loading_* fields: when it began (seconds), the payload size (0: unknown),
    /// bytes parsed.
    pub loading_start_secs: u64,
    pub loading_total_bytes: u64,
    pub loading_loaded_bytes: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// Propagation is collected only while something consumes it: the AOF (`aof_on`) or
    /// the replication stream (`repl_on`); either sets this.
    pub propagate: bool,
    aof_on: bool,
    stream: Vec<u8>,
    selected_db: Option<usize>,
    /// The replication stream (Redis's replicationFeedSlaves input), with its own SELECT
    /// tracking (server.slaveseldb): collected while there is a backlog on a top-level
    /// master, moved into the backlog and the replicas by `repl::master::flush`.
    repl_on: bool,
    pub(crate) repl_stream: Vec<u8>,
    pub(crate) repl_selected_db: Option<usize>,
    /// Set by `Ctx::propagate` during a command: replaces the command as executed.
    pub(crate) rewrite: Option<Vec<(usize, Vec<Vec<u8>>)>>,
    /// Inside MULTI/EXEC (or a script): wrap what is propagated in MULTI ... EXEC.
    multi: bool,
    /// MULTI went out on the AOF's stream, on the replicas' (each stream opens the
    /// transaction with its first command: a PUBLISH goes to replicas only).
    aof_multi: bool,
    repl_multi: bool,
    /// A script runs: its effects are collected here with their targets (`TO_AOF` /
    /// `TO_REPL`: a PUBLISH goes to replicas only), then written bare (one) or wrapped in
    /// MULTI/EXEC (two or more), as Redis 7.0's propagatePendingCommands.
    script_ops: Option<Vec<ScriptOp>>,
    /// The targets the script's next commands propagate to (redis.set_repl's flags, which
    /// share these bits: REPL_AOF 1, REPL_REPLICA 2).
    pub script_targets: u8,
    /// SHUTDOWN succeeded: the host exits.
    pub shutdown: bool,
}

impl Default for Persist {
    fn default() -> Self {
        Persist {
            host: None,
            lastsave: 0,
            last_bgsave_try: 0,
            last_bgsave_ok: true,
            bgsave_in_progress: false,
            bgsave_scheduled: false,
            bgsave_started_ms: 0,
            last_bgsave_secs: -1,
            dirty_at_bgsave: 0,
            rdb_saves: 0,
            aof_enabled: false,
            aof_rewrite_in_progress: false,
            aof_rewrite_scheduled: false,
            aof_rewrite_started_ms: 0,
            aof_last_rewrite_secs: -1,
            aof_last_rewrite_ok: true,
            aof_rewrites: 0,
            aof_last_write_ok: true,
            aof_last_write_error: String::new(),
            aof_current_size: 0,
            aof_base_size: 0,
            loading: false,
            async_loading: false,
            loading_start_secs: 0,
            loading_total_bytes: 0,
            loading_loaded_bytes: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            propagate: false,
            aof_on: false,
            stream: Vec::new(),
            selected_db: None,
            repl_on: false,
            repl_stream: Vec::new(),
            repl_selected_db: None,
            rewrite: None,
            multi: false,
            aof_multi: false,
            repl_multi: false,
            script_ops: None,
            script_targets: TO_AOF | TO_REPL,
            shutdown: false,
        }
    }
}

impl Persist {
    /// Bytes of propagated effects the host has not taken yet (the AOF buffer, which Redis
    /// leaves out of the memory counted for eviction).
    pub fn pending_len(&self) -> usize {
        self.stream.len()
    }

    pub fn child_active(&self) -> bool {
        self.bgsave_in_progress || self.aof_rewrite_in_progress
    }

    /// Appends one command executed in `db` to the propagated stream (SELECT first when the
    /// database changes, then MULTI first inside a transaction).
    pub fn emit(&mut self, db: usize, args: &[&[u8]]) {
        if !self.propagate {
            return;
        }
        if let Some(ops) = &mut self.script_ops {
            if self.script_targets != 0 {
                ops.push((
                    db,
                    args.iter().map(|a| a.to_vec()).collect(),
                    self.script_targets,
                ));
            }
            return;
        }
        self.put(db, args, true, true);
    }

    /// Redis's forceCommandPropagation(c, PROPAGATE_REPL): a command only the replicas get
    /// (PUBLISH, SPUBLISH), in `db`. Inside a script it joins the script's effects (when
    /// the script's replication flags include the replicas), as 7.0's call() adds it to
    /// also_propagate with the REPL target.
    pub fn emit_repl(&mut self, db: usize, args: &[&[u8]]) {
        if !self.repl_on {
            return;
        }
        if let Some(ops) = &mut self.script_ops {
            if self.propagate && self.script_targets & TO_REPL != 0 {
                ops.push((db, args.iter().map(|a| a.to_vec()).collect(), TO_REPL));
            }
            return;
        }
        self.put(db, args, false, true);
    }

    /// Appends one command to the AOF's and/or the replicas' stream, each preceded by
    /// SELECT where that stream's selected database differs from `db`, and by MULTI for the
    /// first command a transaction sends that stream (SELECT before MULTI, for the first
    /// command's database, as Redis 7.0 writes it).
    fn put(&mut self, db: usize, args: &[&[u8]], aof: bool, repl: bool) {
        fn one(
            stream: &mut Vec<u8>,
            sel: &mut Option<usize>,
            multi_sent: &mut bool,
            multi: bool,
            db: usize,
            args: &[&[u8]],
        ) {
            if *sel != Some(db) {
                let mut b = itoa::Buffer::new();
                append_request(stream, &[b"SELECT".as_slice(), b.format(db).as_bytes()]);
                *sel = Some(db);
            }
            if multi && !*multi_sent {
                *multi_sent = true;
                append_request(stream, &[b"MULTI"]);
            }
            append_request(stream, args);
        }
        let multi = self.multi;
        if self.aof_on && aof {
            let (s, sel, m) = (&mut self.stream, &mut self.selected_db, &mut self.aof_multi);
            one(s, sel, m, multi, db, args);
        }
        if self.repl_on && repl {
            let (s, sel, m) = (
                &mut self.repl_stream,
                &mut self.repl_selected_db,
                &mut self.repl_multi,
            );
            one(s, sel, m, multi, db, args);
        }
    }

    /// Starts wrapping propagated commands in MULTI/EXEC (EXEC, scripts).
    pub fn begin_multi(&mut self) {
        self.multi = true;
        self.aof_multi = false;
        self.repl_multi = false;
    }

    /// Ends the wrap: EXEC goes to each stream that got MULTI.
    pub fn end_multi(&mut self) {
        if self.multi {
            if self.aof_multi && self.aof_on {
                append_request(&mut self.stream, &[b"EXEC"]);
            }
            if self.repl_multi && self.repl_on {
                append_request(&mut self.repl_stream, &[b"EXEC"]);
            }
        }
        self.multi = false;
        self.aof_multi = false;
        self.repl_multi = false;
    }

    /// Whether a script is running (its effects are being collected): Redis's CLIENT_SCRIPT
    /// for the commands it calls (XREAD BLOCK refuses them).
    pub fn in_script(&self) -> bool {
        self.script_ops.is_some()
    }

    /// A script starts: collect its effects.
    pub fn begin_script(&mut self) {
        self.script_ops = Some(Vec::new());
        self.script_targets = TO_AOF | TO_REPL;
    }

    /// The script ended: its effects go out as one command's (propagatePendingCommands:
    /// MULTI/EXEC around two or more, each effect to its own targets).
    pub fn end_script(&mut self) {
        self.script_targets = TO_AOF | TO_REPL;
        let Some(ops) = self.script_ops.take() else {
            return;
        };
        if !self.propagate {
            return;
        }
        let wrap = ops.len() >= 2 && !self.multi;
        if wrap {
            self.begin_multi();
        }
        for (db, cmd, to) in &ops {
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            self.put(*db, &refs, to & TO_AOF != 0, to & TO_REPL != 0);
        }
        if wrap {
            self.end_multi();
        }
    }

    /// The effects of one command (a rewritten command, a script, a woken blocked client),
    /// as Redis 7.0's propagatePendingCommands: wrapped in MULTI/EXEC when two or more (SELECT
    /// before MULTI, for the first one's database), so a replica or an AOF replay applies
    /// them together.
    pub fn emit_ops(&mut self, ops: &[(usize, Vec<Vec<u8>>)]) {
        if !self.propagate {
            return;
        }
        // Inside a script they join the script's; inside EXEC the transaction's own
        // MULTI/EXEC wraps them already.
        if let Some(pending) = &mut self.script_ops {
            if self.script_targets != 0 {
                let to = self.script_targets;
                pending.extend(ops.iter().map(|(db, cmd)| (*db, cmd.clone(), to)));
            }
            return;
        }
        let wrap = ops.len() >= 2 && !self.multi;
        if wrap {
            self.begin_multi();
        }
        for (db, cmd) in ops {
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            self.emit(*db, &refs);
        }
        if wrap {
            self.end_multi();
        }
    }

    /// Moves the propagated stream (RESP) into `out`.
    pub fn take(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.stream);
    }

    /// The effects propagated but not yet taken by the host (they will follow the AOF's
    /// last file).
    pub fn pending(&self) -> &[u8] {
        &self.stream
    }

    /// Turns propagation on or off; a new stream starts with SELECT again (an AOF file).
    pub fn set_propagate(&mut self, on: bool) {
        self.aof_on = on;
        self.propagate = self.aof_on || self.repl_on;
        self.selected_db = None;
        self.stream.clear();
    }

    /// Turns the replication stream on (a backlog exists on a top-level master) or off;
    /// a new stream starts with SELECT.
    pub fn set_repl_propagate(&mut self, on: bool) {
        if self.repl_on != on {
            self.repl_on = on;
            self.repl_selected_db = None;
            self.repl_stream.clear();
        }
        self.propagate = self.aof_on || self.repl_on;
    }

    /// Forget the selected database, so the next command re-selects (a new AOF file).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }
}

/// The `save` parameter as (seconds, changes) pairs (a negative int of changes, which
/// Redis's `dirty >= changes` always meets, as 0).
pub fn save_params(cfg: &Config) -> impl Iterator<Item = (u64, u64)> + '_ {
    cfg.save
        .0
        .iter()
        .map(|&(secs, changes)| (secs.max(0) as u64, changes.max(0) as u64))
}
