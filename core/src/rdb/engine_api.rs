//! The Engine's persistence API for hosts: snapshots as RDB bytes (native files, the wasm
//! playground's download/upload), AOF replay, the propagated-effects stream, and the reports
//! hosts make when background work ends.

use super::persist::PersistHost;
use super::{LoadInfo, LoadedKey, SaveOptions};
use crate::command::{dispatch, persistence};
use crate::engine::{ConnInfo, Engine};
use crate::keyspace::Db;
use crate::resp::{Args, Decoded, RequestDecoder};
use crate::time::UnixMillis;

/// What replaying an AOF found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AofReplay {
    pub commands: u64,
    /// Bytes of complete commands (outside an unfinished MULTI): where a torn file would be
    /// truncated.
    pub valid_len: usize,
    /// The input ended inside a command or a MULTI block.
    pub truncated: bool,
}

impl Engine {
    /// Installs the host's persistence hooks (files, fork).
    pub fn set_persist_host(&mut self, host: Box<dyn PersistHost>) {
        self.srv.persist.host = Some(host);
    }

    /// The databases, for a host writing a snapshot itself (an AOF base at startup).
    pub fn dbs(&self) -> &[Db] {
        &self.srv.dbs
    }

    /// How a snapshot is written now (rdbcompression, rdbchecksum, ...).
    pub fn save_options(&self, now: UnixMillis) -> SaveOptions {
        persistence::save_options(&self.srv, now)
    }

    /// How an AOF base file (an RDB preamble) is written now.
    pub fn aof_base_options(&self, now: UnixMillis) -> SaveOptions {
        SaveOptions {
            aof_base: true,
            ..self.save_options(now)
        }
    }

    /// A host sets a parameter itself (its resolved `dir`), without CONFIG SET's checks.
    pub fn set_config(&mut self, name: &str, value: &[u8]) -> Result<(), String> {
        self.srv.config.set(name, value)?;
        crate::command::notify::sync(&mut self.srv);
        Ok(())
    }

    /// SHUTDOWN succeeded: the host exits (also reported as `Event::Shutdown`).
    pub fn shutdown_requested(&self) -> bool {
        self.srv.persist.shutdown
    }

    /// The host keeps an AOF and appends the propagated effects to it.
    pub fn aof_enabled(&self) -> bool {
        self.srv.persist.aof_enabled
    }

    /// The host started loading a snapshot or an AOF at startup (INFO's `loading:1`).
    pub fn loading_started(&mut self) {
        self.srv.persist.loading = true;
    }

    /// The host finished (or gave up) loading.
    pub fn loading_finished(&mut self) {
        self.srv.persist.loading = false;
    }

    /// The host opened its AOF at startup (loaded or created, appendonly yes): effects are
    /// propagated from now on. Sizes for INFO and auto-aof-rewrite.
    pub fn aof_opened(&mut self, base_size: u64, current_size: u64) {
        self.aof_sizes(base_size, current_size);
        self.srv.persist.aof_enabled = true;
        self.set_propagation(true);
    }

    /// The host applied CONFIG SET appendonly yes: effects are propagated from now on, and a
    /// rewrite (at the next cron, as Redis's startAppendOnly) writes the base they follow.
    pub fn aof_switched_on(&mut self) {
        self.set_propagation(true);
        let p = &mut self.srv.persist;
        p.aof_enabled = true;
        p.aof_rewrite_scheduled = true;
    }

    /// The host applied CONFIG SET appendonly no (its AOF is flushed and closed).
    pub fn aof_switched_off(&mut self) {
        self.set_propagation(false);
        self.srv.persist.aof_enabled = false;
    }

    /// The host appended the propagated effects to its AOF (and fsynced per policy); the
    /// AOF is now `current_size` bytes.
    pub fn aof_write_ok(&mut self, current_size: u64) {
        let p = &mut self.srv.persist;
        p.aof_last_write_ok = true;
        p.aof_current_size = current_size;
    }

    /// Whether the last AOF write succeeded (false while MISCONF refuses writes).
    pub fn aof_write_ok_was(&self) -> bool {
        self.srv.persist.aof_last_write_ok
    }

    /// Writing or fsyncing the AOF failed (INFO's aof_last_write_status:err), because of
    /// `error` (strerror's text): writes are refused with MISCONF until a write succeeds.
    /// True if the last write had succeeded: the host logs the error once, as Redis does.
    pub fn aof_write_failed(&mut self, error: &str) -> bool {
        let p = &mut self.srv.persist;
        p.aof_last_write_error = error.to_string();
        std::mem::replace(&mut p.aof_last_write_ok, false)
    }

    /// The AOF's sizes changed (a rewrite installed a new base).
    pub fn aof_sizes(&mut self, base_size: u64, current_size: u64) {
        let p = &mut self.srv.persist;
        p.aof_base_size = base_size;
        p.aof_current_size = current_size;
    }

    /// Changes since the last save.
    #[cfg(test)]
    pub(crate) fn dirty(&self) -> u64 {
        self.srv.dirty
    }

    /// The whole dataset as an RDB file (what SAVE writes).
    pub fn export_rdb(&self, now: UnixMillis) -> Vec<u8> {
        let opts = persistence::save_options(&self.srv, now);
        super::encode_to_vec(&self.srv.dbs, &opts)
    }

    /// Replaces the dataset with an RDB file's contents (keys already expired at `now` are
    /// dropped, as Redis does when loading). On error nothing changes.
    pub fn import_rdb(&mut self, bytes: &[u8], now: UnixMillis) -> Result<LoadInfo, String> {
        self.srv.forget_db_scan();
        let info = persistence::load_snapshot(&mut self.srv, bytes, now, true, false)?;
        crate::repl::replica::loaded_at_startup(&mut self.srv, &info);
        Ok(info)
    }

    /// Loads the RDB at the start of an AOF base file (expired keys kept: the AOF's DELs
    /// follow). Returns how many bytes it occupied.
    pub fn load_aof_preamble(&mut self, bytes: &[u8]) -> Result<usize, String> {
        self.srv.forget_db_scan();
        let mut keys: Vec<LoadedKey> = Vec::new();
        let srv = &mut self.srv;
        let info = super::decode(bytes, &srv.config, &mut srv.rng, None, |k| keys.push(k))?;
        persistence::apply_loaded_with_functions(srv, keys, &info.functions, false, true)?;
        Ok(info.consumed)
    }

    /// Replays AOF commands (RESP multibulk) as a fake client would. Stops at the first
    /// incomplete command or unfinished MULTI (see `AofReplay::truncated`); a malformed
    /// command is an error.
    pub fn replay_aof(&mut self, now: UnixMillis, bytes: &[u8]) -> Result<AofReplay, String> {
        self.srv.forget_db_scan();
        replay_aof(&mut self.srv, &mut self.clients, now, bytes)
    }

    /// Starts or stops collecting the propagated-effects stream (AOF on/off).
    pub fn set_propagation(&mut self, on: bool) {
        persistence::set_propagation(&mut self.srv, on);
    }

    /// Moves the propagated commands (RESP, with SELECTs) into `out`.
    pub fn take_propagated(&mut self, out: &mut Vec<u8>) {
        self.srv.persist.take(out);
    }

    /// The host's BGSAVE child ended.
    pub fn bgsave_done(&mut self, now: UnixMillis, ok: bool) {
        persistence::bgsave_done(&mut self.srv, now, ok);
        crate::repl::master::bgsave_done(&mut self.srv, &mut self.clients, now, ok);
    }

    /// The host's AOF rewrite ended.
    pub fn aof_rewrite_done(&mut self, now: UnixMillis, ok: bool) {
        persistence::aof_rewrite_done(&mut self.srv, now, ok);
    }

    /// SIGTERM/SIGINT: Redis's prepareForShutdown(SHUTDOWN_NOFLAGS): save if save points
    /// are configured. Err: the server should keep running (Redis does so when the save
    /// fails).
    pub fn prepare_shutdown(&mut self, now: UnixMillis) -> Result<(), String> {
        persistence::prepare_shutdown(&mut self.srv, now, 0)
    }

    /// A SIGTERM/SIGINT (Redis's prepareForShutdown with no flags): Ok once the server may
    /// exit (`shutdown_requested`), or while it waits for lagging replicas (up to
    /// shutdown-timeout; `shutdown_requested` turns true when done, SHUTDOWN ABORT cancels).
    pub fn request_shutdown(&mut self, now: UnixMillis) -> Result<(), String> {
        crate::repl::master::begin_shutdown(&mut self.srv, &mut self.clients, now, 0).map(|_| ())
    }
}

/// `Engine::replay_aof` on the engine's parts (DEBUG LOADAOF replays from inside a command).
pub(crate) fn replay_aof(
    srv: &mut crate::engine::Server,
    clients: &mut slab::Slab<crate::engine::Client>,
    now: UnixMillis,
    bytes: &[u8],
) -> Result<AofReplay, String> {
    let was = srv.persist.propagate;
    srv.persist.propagate = false;
    let was_loading = std::mem::replace(&mut srv.persist.loading, true);
    let stats = srv.stats.clone();
    let id = crate::engine::connect(srv, clients, now, ConnInfo::default());
    let mut decoder = RequestDecoder::new();
    decoder.max_bulk_len = srv.config.proto_max_bulk_len;
    let mut pos = 0;
    let mut res = AofReplay::default();
    let mut in_multi = false;
    let mut err = None;
    while pos < bytes.len() {
        if bytes[pos] != b'*' {
            err = Some(format!(
                "Bad file format reading the append only file (offset {pos})"
            ));
            break;
        }
        match decoder.decode(&bytes[pos..]) {
            Ok(Decoded::Request { consumed }) => {
                let base = &bytes[pos..];
                let args: Vec<&[u8]> = match decoder.args() {
                    Args::Ranges(r) => r.iter().map(|r| &base[r.clone()]).collect(),
                    Args::Owned(o) => o.iter().map(|v| v.as_slice()).collect(),
                };
                if let Some(first) = args.first() {
                    if first.eq_ignore_ascii_case(b"multi") {
                        in_multi = true;
                    } else if first.eq_ignore_ascii_case(b"exec") {
                        in_multi = false;
                    }
                }
                dispatch(now, srv, clients, id, &args);
                if let Some(c) = clients.get_mut(id.0) {
                    c.out.clear();
                    c.close_after_reply = false;
                }
                res.commands += 1;
                pos += consumed;
                if !in_multi {
                    res.valid_len = pos;
                }
            }
            Ok(Decoded::Empty { consumed }) => pos += consumed,
            Ok(Decoded::Incomplete) => break,
            Err(e) => {
                err = Some(format!(
                    "Bad file format reading the append only file (offset {pos}): {e}"
                ));
                break;
            }
        }
    }
    if in_multi && err.is_none() {
        // Revert an incomplete MULTI/EXEC transaction: it was never executed.
        if let Some(c) = clients.get_mut(id.0) {
            c.out.clear();
        }
        dispatch(now, srv, clients, id, &[b"DISCARD"]);
    }
    res.truncated = err.is_none() && (pos < bytes.len() || in_multi);
    crate::engine::disconnect(srv, clients, id);
    srv.stats = stats;
    srv.persist.loading = was_loading;
    srv.persist.propagate = was;
    match err {
        Some(e) => Err(e),
        None => Ok(res),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::engine::{ConnInfo, Engine};
    use crate::rdb::SaveOptions;
    use crate::time::UnixMillis;

    use crate::resp::encode_request as cmd;

    fn run(eng: &mut Engine, now: u64, args: &[&str]) -> String {
        let id = eng.connect(UnixMillis(now), ConnInfo::default());
        eng.feed(UnixMillis(now), id, &cmd(args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        eng.disconnect(id);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// `run` for a request whose reply the test does not read: it must be one reply and not
    /// an error.
    fn ok(eng: &mut Engine, now: u64, args: &[&str]) {
        let out = run(eng, now, args);
        let (reply, used) = crate::resp::decode_reply(out.as_bytes())
            .expect("decodable")
            .expect("whole");
        assert_eq!(used, out.len(), "{args:?}: one reply");
        if let crate::resp::Reply::Error(e) = &reply {
            panic!("{args:?}: -{}", String::from_utf8_lossy(e));
        }
    }

    #[test]
    fn propagation_rewrites_relative_times_and_replays_identically() {
        let mut eng = Engine::new(Config::default(), 1);
        eng.set_propagation(true);
        let t = 1_000_000;
        for c in [
            &["SET", "a", "1"][..],
            &["SET", "b", "x", "EX", "100"],
            &["SETEX", "c", "100", "v"],
            &["EXPIRE", "a", "50"],
            &["INCRBYFLOAT", "f", "1.5"],
            &["SADD", "s", "1", "2", "3"],
            &["SPOP", "s"],
            &["GETEX", "c", "PX", "5000"],
            &["SET", "gone", "1", "PX", "10"],
            &["DEL", "nothing"],
            &["SELECT", "2"],
            &["HINCRBYFLOAT", "h", "f", "0.25"],
        ] {
            ok(&mut eng, t, c);
        }
        // A read after expiry deletes lazily: propagated as DEL.
        ok(&mut eng, t + 20, &["GET", "gone"]);
        let mut aof = Vec::new();
        eng.take_propagated(&mut aof);
        let text = String::from_utf8_lossy(&aof).into_owned();
        assert!(text.contains("PXAT\r\n$7\r\n1100000"), "{text}");
        assert!(
            text.contains("PEXPIREAT\r\n$1\r\na\r\n$7\r\n1050000"),
            "{text}"
        );
        assert!(text.contains("KEEPTTL"), "{text}");
        assert!(text.contains("SREM"), "{text}");
        assert!(
            !text.contains("SPOP") && !text.contains("EXPIRE\r\n"),
            "{text}"
        );
        assert!(text.contains("$3\r\nDEL\r\n$4\r\ngone"), "{text}");
        assert!(!text.contains("nothing"), "{text}");
        // Replaying the stream elsewhere, later, gives the same data.
        let mut other = Engine::new(Config::default(), 2);
        let r = other.replay_aof(UnixMillis(t + 20), &aof).unwrap();
        assert!(!r.truncated);
        assert_eq!(r.valid_len, aof.len());
        let a = eng.export_rdb(UnixMillis(0));
        let b = other.export_rdb(UnixMillis(0));
        let mut ka = Vec::new();
        let mut kb = Vec::new();
        let cfg = Config::default();
        let mut rng = crate::rng::Rng::new(1);
        super::super::decode(&a, &cfg, &mut rng, None, |k| {
            ka.push((
                k.db,
                k.key,
                super::super::tests::canon(&k.value),
                k.expire_ms,
            ))
        })
        .unwrap();
        super::super::decode(&b, &cfg, &mut rng, None, |k| {
            kb.push((
                k.db,
                k.key,
                super::super::tests::canon(&k.value),
                k.expire_ms,
            ))
        })
        .unwrap();
        ka.sort();
        kb.sort();
        assert_eq!(ka, kb);
        assert!(ka.len() >= 5);
    }

    /// A host that accepts every request and keeps nothing.
    struct NullHost;

    impl crate::rdb::persist::PersistHost for NullHost {
        fn save(&mut self, _: &[crate::keyspace::Db], _: &SaveOptions) -> Result<(), String> {
            Ok(())
        }
        fn bgsave(&mut self, _: &[crate::keyspace::Db], _: &SaveOptions) -> Result<(), String> {
            Ok(())
        }
        fn bgrewriteaof(
            &mut self,
            _: &[crate::keyspace::Db],
            _: &SaveOptions,
            _: &[u8],
        ) -> Result<(), String> {
            Ok(())
        }
        fn read_rdb(&mut self) -> Result<Vec<u8>, String> {
            Err("none".into())
        }
        fn prepare_shutdown(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn the_aof_after_a_rewrite_starts_with_select() {
        // The host starts a new incr file when the rewrite starts, and each file is replayed
        // by a fresh client in database 0: its first command must say its database again.
        let mut eng = Engine::new(Config::default(), 1);
        eng.set_persist_host(Box::new(NullHost));
        eng.set_propagation(true);
        let id = eng.connect(UnixMillis(1), ConnInfo::default());
        let mut out = Vec::new();
        let mut aof = Vec::new();
        for c in [&["SELECT", "3"][..], &["SET", "a", "1"], &["BGREWRITEAOF"]] {
            eng.feed(UnixMillis(1), id, &cmd(c));
        }
        eng.drain_output(id, &mut out);
        assert!(out.ends_with(b"+Background append only file rewriting started\r\n"));
        // SELECT 3 and SET a went to the host with the rewrite (they end the old file).
        eng.feed(UnixMillis(1), id, &cmd(&["SET", "b", "2"]));
        eng.take_propagated(&mut aof);
        let mut want = cmd(&["SELECT", "3"]);
        want.extend(cmd(&["SET", "b", "2"]));
        assert_eq!(
            String::from_utf8_lossy(&aof),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn truncated_aof_is_detected() {
        let mut aof = cmd(&["SET", "a", "1"]);
        aof.extend_from_slice(&cmd(&["SET", "b", "2"]));
        let good = aof.len();
        aof.extend_from_slice(&cmd(&["SET", "c", "3"])[..7]);
        let mut eng = Engine::new(Config::default(), 1);
        let r = eng.replay_aof(UnixMillis(1), &aof).unwrap();
        assert!(r.truncated);
        assert_eq!(r.valid_len, good);
        assert_eq!(r.commands, 2);
        assert!(Engine::new(Config::default(), 1)
            .replay_aof(UnixMillis(1), b"SET a b\r\n")
            .is_err());
    }

    #[test]
    fn dirty_counts_writes() {
        let mut eng = Engine::new(Config::default(), 1);
        ok(&mut eng, 1, &["SET", "a", "1"]);
        assert_eq!(eng.dirty(), 1);
        ok(&mut eng, 1, &["MSET", "a", "1", "b", "2"]);
        assert_eq!(eng.dirty(), 3);
        ok(&mut eng, 1, &["GET", "a"]);
        ok(&mut eng, 1, &["DEL", "zz"]);
        assert_eq!(eng.dirty(), 3);
        ok(&mut eng, 1, &["DEL", "a", "b"]);
        assert_eq!(eng.dirty(), 5);
        ok(&mut eng, 1, &["RPUSH", "l", "x"]);
        assert_eq!(eng.dirty(), 6);
    }

    #[test]
    fn import_export_round_trip_and_debug_reload() {
        let mut eng = Engine::new(Config::default(), 1);
        ok(&mut eng, 1, &["RPUSH", "l", "a", "b"]);
        ok(&mut eng, 1, &["SET", "k", "v"]);
        let bytes = eng.export_rdb(UnixMillis(1));
        let mut other = Engine::new(Config::default(), 9);
        let info = other.import_rdb(&bytes, UnixMillis(1)).unwrap();
        assert_eq!(info.keys_loaded, 2);
        assert_eq!(
            run(&mut other, 1, &["LRANGE", "l", "0", "-1"]),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert!(other.import_rdb(b"garbage", UnixMillis(1)).is_err());
        assert_eq!(run(&mut other, 1, &["GET", "k"]), "$1\r\nv\r\n");
        let mut cfg = Config::default();
        cfg.set("enable-debug-command", b"yes").unwrap();
        let mut eng = Engine::new(cfg, 1);
        ok(&mut eng, 1, &["SET", "k", "v"]);
        assert_eq!(run(&mut eng, 1, &["DEBUG", "RELOAD"]), "+OK\r\n");
        assert_eq!(run(&mut eng, 1, &["GET", "k"]), "$1\r\nv\r\n");
        assert_eq!(
            run(&mut eng, 1, &["DEBUG", "RELOAD", "x"]),
            "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
        );
    }
}
