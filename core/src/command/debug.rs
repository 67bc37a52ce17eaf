//! DEBUG (Redis's debug.c): the subcommands client libraries' and Redis's own test suites use,
//! with 7.0.15's replies and errors. Gated by `enable-debug-command` (`no` by default, as
//! 7.0: a test server starts with `--enable-debug-command yes`, as Redis's own suite does).
//!
//! Where Redis acts on the process, Oxidis answers without doing it: SEGFAULT, PANIC, ASSERT,
//! OOM, RESTART and CRASH-AND-RECOVER are refused with an error (the server never crashes on
//! request); LISTPACK and QUICKLIST print their structure to the log (an `Event::Log` the host
//! writes) rather than to stdout. SLEEP stops the whole engine, as a sleeping redis-server:
//! until `now` passes the deadline no input is executed, no output is handed to the host and
//! the cron does not run (see `Server::sleep_until`).

use super::{is, CmdError, Ctx};
use crate::engine::Event;
use crate::keyspace::Db;
use crate::rdb;
use crate::types::Value;

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
    "HELP",
    "    Prints this help.",
];

/// The state DEBUG changes that other parts of the engine read.
#[derive(Clone, Debug)]
pub struct DebugState {
    /// DEBUG SET-ACTIVE-EXPIRE: the tick's active expiry runs only while true.
    pub active_expire: bool,
    /// DEBUG QUICKLIST-PACKED-THRESHOLD (bytes). Kept and validated as Redis does; Oxidis's
    /// lists have no "plain" nodes, so it changes no layout.
    pub quicklist_packed_threshold: u64,
    /// DEBUG REPLYBUFFER PEAK-RESET-TIME (ms, -1 never) and RESIZING: kept for parity; Oxidis
    /// sizes its reply buffers itself.
    pub reply_buffer_peak_reset_time: i64,
    pub reply_buffer_resizing: bool,
    /// DEBUG PAUSE-CRON: serverCron's work (idle timeouts, active expiry, rehashing, save
    /// rules) is skipped while true.
    pub pause_cron: bool,
}

impl Default for DebugState {
    fn default() -> Self {
        DebugState {
            active_expire: true,
            quicklist_packed_threshold: 1 << 30,
            reply_buffer_peak_reset_time: 5000,
            reply_buffer_resizing: true,
            pause_cron: false,
        }
    }
}

fn syntax_error(sub: &[u8]) -> CmdError {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(b"'. Try DEBUG HELP.");
    CmdError::Msg(msg)
}

/// C's atoi: leading blanks, a sign, digits; anything else ends it (0 when none).
fn atoi(b: &[u8]) -> i64 {
    let s = std::str::from_utf8(b).unwrap_or("").trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in rest.bytes().take_while(u8::is_ascii_digit) {
        n = n.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// C's strtod on the longest valid prefix (0 when none), as DEBUG SLEEP reads its seconds.
fn strtod(b: &[u8]) -> f64 {
    let s = std::str::from_utf8(b).unwrap_or("").trim_start();
    let mut best = 0.0;
    for end in (1..=s.len()).rev() {
        if let Ok(v) = s[..end].parse::<f64>() {
            best = v;
            break;
        }
    }
    best
}

fn refuse(what: &str) -> CmdError {
    CmdError::err(format!(
        "DEBUG {what} is not supported: Oxidis does not crash or restart on request"
    ))
}

/// DEBUG <subcommand> [<arg> [value] [opt] ...]
pub fn debug(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if !is_local_allowed(ctx) {
        return Err(CmdError::err(
            "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = args[1];
    let argc = args.len();
    let named = |n: &str| is(sub, n);
    if named("help") && argc == 2 {
        super::connection::reply_help(ctx, DEBUG_HELP);
        return Ok(());
    }
    for (name, label) in [
        ("segfault", "SEGFAULT"),
        ("panic", "PANIC"),
        ("assert", "ASSERT"),
        ("oom", "OOM"),
        ("restart", "RESTART"),
        ("crash-and-recover", "CRASH-AND-RECOVER"),
    ] {
        if named(name) {
            return Err(refuse(label));
        }
    }
    if named("log") && argc == 3 {
        let text = format!("DEBUG LOG: {}", String::from_utf8_lossy(args[2]));
        ctx.srv.events.push_back(Event::Log(text));
        ctx.out().ok();
        return Ok(());
    }
    if named("leak") && argc == 3 {
        // Nothing is leaked: the reply is all a test can see.
        ctx.out().ok();
        return Ok(());
    }
    if named("loop-turn") && (argc == 2 || (argc == 3 && is(args[2], "reset"))) {
        // Oxidis's own: the host's longest event-loop turn (command/intro.rs).
        super::intro::debug_loop_turn(ctx, argc == 3);
        return Ok(());
    }
    if named("reload") {
        return super::persistence::debug_reload(ctx, &args[2..]);
    }
    if named("loadaof") {
        return super::persistence::debug_loadaof(ctx);
    }
    if named("object") && argc == 3 {
        return object(ctx, args[2]);
    }
    if named("sdslen") && argc == 3 {
        let dbi = ctx.client_ref().db;
        let Some(v) = ctx.srv.dbs[dbi].keys.get(args[2]) else {
            return Err(CmdError::NoSuchKey);
        };
        // Oxidis's strings are plain byte buffers: no spare room, their length allocated.
        let Value::Str(val) = v else {
            return Err(CmdError::err("Not an sds encoded string."));
        };
        let (k, n) = (args[2].len(), val.len());
        let text = format!(
            "key_sds_len:{k}, key_sds_avail:0, key_zmalloc: {k}, val_sds_len:{n}, val_sds_avail:0, val_zmalloc: {n}"
        );
        ctx.out().simple(&text);
        return Ok(());
    }
    if (named("listpack") && argc == 3) || (named("quicklist") && (argc == 3 || argc == 4)) {
        return structure(ctx, named("listpack"), args);
    }
    if named("populate") && (3..=5).contains(&argc) {
        return populate(ctx, args);
    }
    if named("digest") && argc == 2 {
        let d = dataset_digest(&ctx.srv.dbs);
        ctx.out().simple(&hex(&d));
        return Ok(());
    }
    if named("digest-value") {
        let dbi = ctx.client_ref().db;
        let db = &ctx.srv.dbs[dbi];
        let digests: Vec<String> = args[2..]
            .iter()
            .map(|k| {
                let mut d = [0u8; 20];
                // Logically expired keys count: a debug command looks at what is stored.
                if let Some(v) = db.keys.get(k) {
                    object_digest(&mut d, v, db.expire_at(k).is_some());
                }
                hex(&d)
            })
            .collect();
        let mut out = ctx.out();
        out.array_len(digests.len());
        for d in digests {
            out.simple(&d);
        }
        return Ok(());
    }
    if named("protocol") && argc == 3 {
        return protocol(ctx, args[2]);
    }
    if named("sleep") && argc == 3 {
        let secs = strtod(args[2]);
        let micros = (secs * 1_000_000.0) as i64;
        if micros >= 1000 {
            let until = ctx.now.saturating_add((micros / 1000) as u64);
            ctx.srv.sleep_until = Some(until);
        }
        ctx.out().ok();
        return Ok(());
    }
    if named("set-active-expire") && argc == 3 {
        ctx.srv.debug.active_expire = atoi(args[2]) != 0;
        ctx.out().ok();
        return Ok(());
    }
    if named("quicklist-packed-threshold") && argc == 3 {
        match crate::config::memtoull(args[2]) {
            Some(sz) if sz <= (1u64 << 32) - (1 << 20) => {
                ctx.srv.debug.quicklist_packed_threshold = if sz == 0 { 1 << 30 } else { sz };
                ctx.out().ok();
                return Ok(());
            }
            _ => {
                return Err(CmdError::err(
                    "argument must be a memory value bigger than 1 and smaller than 4gb",
                ))
            }
        }
    }
    if named("pause-cron") && argc == 3 {
        ctx.srv.debug.pause_cron = atoi(args[2]) != 0;
        ctx.out().ok();
        return Ok(());
    }
    if (named("set-skip-checksum-validation")
        || named("aof-flush-sleep")
        || named("set-disable-deny-scripts"))
        && argc == 3
    {
        // Accepted for the test suites that send them; Oxidis has no such switches.
        ctx.out().ok();
        return Ok(());
    }
    if named("replicate") && argc >= 3 {
        // No replicas to feed.
        ctx.out().ok();
        return Ok(());
    }
    if named("error") && argc == 3 {
        // The message as given, one line: Redis maps CR and LF to spaces.
        let mut line: Vec<u8> = args[2]
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        line.splice(0..0, [b'-']);
        line.extend_from_slice(b"\r\n");
        ctx.out().raw(&line);
        return Ok(());
    }
    if named("htstats") && argc == 3 {
        let dbid = super::parse_int(args[2])?;
        if dbid < 0 || dbid as usize >= ctx.srv.dbs.len() {
            return Err(CmdError::err("Out of range database"));
        }
        let db = &ctx.srv.dbs[dbid as usize];
        let text = format!(
            "[Dictionary HT]\n{}[Expires HT]\n{}",
            db.keys.stats_text(),
            db.expires.stats_text()
        );
        ctx.out().verbatim("txt", text.as_bytes());
        return Ok(());
    }
    if named("htstats-key") && argc == 3 {
        let now = ctx.now;
        let Some(v) = ctx.db().lookup_read(args[2], now) else {
            return Err(CmdError::NoSuchKey);
        };
        let stats = match v {
            Value::Hash(h) => h.dict_stats(),
            Value::Set(s) => s.dict_stats(),
            Value::ZSet(z) => z.dict_stats(),
            _ => None,
        };
        let Some(text) = stats else {
            return Err(CmdError::err(
                "The value stored at the specified key is not represented using an hash table",
            ));
        };
        ctx.out().verbatim("txt", text.as_bytes());
        return Ok(());
    }
    if named("change-repl-id") && argc == 2 {
        // Redis: changeReplicationId(); clearReplicationId2().
        let id = crate::repl::random_replid(&mut ctx.srv.rng);
        ctx.srv.repl.change_replid(id);
        ctx.srv.repl.clear_replid2();
        ctx.srv.events.push_back(Event::Log(
            "Changing replication IDs after receiving DEBUG change-repl-id".into(),
        ));
        ctx.out().ok();
        return Ok(());
    }
    if named("stringmatch-test") && argc == 2 {
        stringmatch_fuzz(ctx.now.0);
        ctx.out()
            .simple("Apparently Redis did not crash: test passed");
        return Ok(());
    }
    if named("structsize") && argc == 2 {
        let sizes = format!("bits:64 value:{} ", std::mem::size_of::<Value>());
        ctx.out().bulk(sizes.as_bytes());
        return Ok(());
    }
    if named("client-eviction") && argc == 2 && ctx.srv.config.maxmemory_clients == 0 {
        return Err(CmdError::err("maxmemory-clients is disabled."));
    }
    if (named("mallctl") || named("mallctl-str")) && argc >= 3 {
        // Oxidis does not run on jemalloc: every key is unknown to it.
        return Err(CmdError::err("No such file or directory"));
    }
    if named("replybuffer") && argc == 4 {
        let (what, val) = (args[2], args[3]);
        if is(what, "peak-reset-time") {
            let t = if is(val, "never") {
                -1
            } else if is(val, "reset") {
                5000
            } else {
                super::parse_int(val)?
            };
            ctx.srv.debug.reply_buffer_peak_reset_time = t;
        } else if is(what, "resizing") {
            ctx.srv.debug.reply_buffer_resizing = atoi(val) != 0;
        } else {
            return Err(syntax_error(sub));
        }
        ctx.out().ok();
        return Ok(());
    }
    if named("clusterlink") && argc == 5 && is(args[2], "kill") {
        return Err(CmdError::err(
            "Debug option only available for cluster mode enabled setup!",
        ));
    }
    Err(syntax_error(sub))
}

fn is_local_allowed(ctx: &Ctx) -> bool {
    let local = super::connection::is_local(&ctx.client_ref().info);
    ctx.srv.config.enable_debug_command.allows(local)
}

/// DEBUG OBJECT key: Redis's field layout with Oxidis's figures (the value's address, its
/// RDB length, the key's LRU/LFU field and idle seconds).
fn object(ctx: &mut Ctx, key: &[u8]) -> Result<(), CmdError> {
    let cfg = ctx.srv.config.clone();
    let access = ctx.srv.access(ctx.now);
    let dbi = ctx.client_ref().db;
    // A plain dictFind, as Redis's: no expiry, the access field left alone.
    let Some((k, v)) = ctx.srv.dbs[dbi].keys.get_entry(key) else {
        return Err(CmdError::NoSuchKey);
    };
    let len = rdb::dump_payload(v, &cfg).len().saturating_sub(11);
    let mut extra = String::new();
    if let Value::List(l) = v {
        let (nodes, bytes) = l.node_figures();
        let avg = l.len() as f64 / nodes.max(1) as f64;
        extra = format!(
            " ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{bytes}",
            cfg.list_max_listpack_size,
            u8::from(cfg.list_compress_depth != 0)
        );
    }
    let text = format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{len} lru:{} lru_seconds_idle:{}{extra}",
        v as *const Value,
        v.encoding(),
        k.lru(),
        access.idle_ms(k.lru()) / 1000
    );
    ctx.out().simple(&text);
    Ok(())
}

/// DEBUG LISTPACK key / DEBUG QUICKLIST key [0|1]: the structure goes to the log.
fn structure(ctx: &mut Ctx, listpack: bool, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let Some(v) = ctx.db().lookup_read(args[2], now) else {
        return Err(CmdError::NoSuchKey);
    };
    let enc = v.encoding();
    let (want, err, done) = if listpack {
        (
            "listpack",
            "Not a listpack encoded object.",
            "Listpack structure printed on stdout",
        )
    } else {
        (
            "quicklist",
            "Not a quicklist encoded object.",
            "Quicklist structure printed on stdout",
        )
    };
    if enc != want {
        return Err(CmdError::err(err));
    }
    let mut repr = format!(
        "{{{want}}} {} type:{}",
        String::from_utf8_lossy(args[2]),
        v.type_name()
    );
    if let Value::List(l) = v {
        let (nodes, bytes) = l.node_figures();
        repr.push_str(&format!(" count:{} nodes:{nodes} bytes:{bytes}", l.len()));
    }
    ctx.srv.events.push_back(Event::Log(repr));
    ctx.out().simple(done);
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]: string keys `prefix:N` = `value:N` (padded with
/// zero bytes or cut to `size`), skipping keys that exist.
fn populate(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let positive = |b: &[u8]| -> Result<u64, CmdError> {
        match super::parse_int(b) {
            Ok(n) if n >= 0 => Ok(n as u64),
            _ => Err(CmdError::err("value is out of range, must be positive")),
        }
    };
    let count = positive(args[2])?;
    let size = match args.get(4) {
        Some(s) => Some(positive(s)? as usize),
        None => None,
    };
    let prefix: &[u8] = args.get(3).copied().unwrap_or(b"key");
    let now = ctx.now;
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        if ctx.db().get(&key, now).is_some() {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if let Some(sz) = size.filter(|&s| s > 0) {
            val.resize(sz, 0);
        }
        ctx.db().insert_new(&key, Value::string_from_vec(val));
        // signalModifiedKey without server.dirty: Redis neither counts nor propagates these.
        let db = ctx.client_ref().db;
        ctx.key_modified_in(db, &key);
    }
    ctx.out().ok();
    Ok(())
}

/// DEBUG PROTOCOL type: one value of each RESP3 type (RESP2 downgrades as Redis does).
fn protocol(ctx: &mut Ctx, name: &[u8]) -> Result<(), CmdError> {
    let resp3 = ctx.client_ref().resp3;
    if is(name, "push") && !resp3 {
        return Err(CmdError::err("RESP2 is not supported by this command"));
    }
    let mut out = ctx.out();
    if is(name, "string") {
        out.bulk(b"Hello World");
    } else if is(name, "integer") {
        out.int(12345);
    } else if is(name, "double") {
        // Redis's literal, not pi.
        #[allow(clippy::approx_constant)]
        out.double(3.141);
    } else if is(name, "bignum") {
        out.big_number(b"1234567999999999999999999999999999999");
    } else if is(name, "null") {
        out.nil();
    } else if is(name, "array") {
        out.array_len(3);
        (0..3).for_each(|j| out.int(j));
    } else if is(name, "set") {
        out.set_len(3);
        (0..3).for_each(|j| out.int(j));
    } else if is(name, "map") {
        out.map_len(3);
        for j in 0..3 {
            out.int(j);
            out.bool(j == 1);
        }
    } else if is(name, "attrib") {
        if resp3 {
            out.attribute_len(1);
            out.bulk(b"key-popularity");
            out.array_len(2);
            out.bulk(b"key:123");
            out.int(90);
        }
        out.bulk(b"Some real reply following the attribute");
    } else if is(name, "push") {
        out.push_len(2);
        out.bulk(b"server-cpu-usage");
        out.int(42);
        out.bulk(b"Some real reply following the push reply");
    } else if is(name, "true") {
        out.bool(true);
    } else if is(name, "false") {
        out.bool(false);
    } else if is(name, "verbatim") {
        out.verbatim("txt", b"This is a verbatim\nstring");
    } else {
        return Err(CmdError::err(
            "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ));
    }
    Ok(())
}

/// stringmatchlen_fuzz_test: random patterns against random strings must not panic.
fn stringmatch_fuzz(seed: u64) {
    let mut rng = crate::rng::Rng::new(seed);
    let mut matches = 0u64;
    for _ in 0..100_000 {
        let slen = rng.below(32) as usize;
        let plen = rng.below(32) as usize;
        let s: Vec<u8> = (0..slen).map(|_| rng.below(128) as u8).collect();
        let p: Vec<u8> = (0..plen).map(|_| rng.below(128) as u8).collect();
        matches += u64::from(crate::glob::glob_match(&p, &s, false));
    }
    let _ = matches;
}

// ---------------------------------------------------------------- digest (debug.c)

fn sha1(data: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// xorDigest: digest ^= SHA1(data) (order-free).
fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    let h = sha1(data);
    digest.iter_mut().zip(h).for_each(|(d, h)| *d ^= h);
}

/// mixDigest: digest = SHA1(digest ^ SHA1(data)) (order matters).
fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1(&digest[..]);
}

fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Redis's object type numbers (OBJ_STRING ... OBJ_STREAM), mixed in big-endian.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Int(_) | Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// xorObjectDigest: the value's digest mixed into `digest`, and "!!expire!!" when it has a TTL.
fn object_digest(digest: &mut [u8; 20], v: &Value, has_expire: bool) {
    mix_digest(digest, &type_code(v).to_be_bytes());
    let mut ibuf = itoa::Buffer::new();
    match v {
        Value::Int(_) | Value::Str(_) => {
            let b = v.string_bytes(&mut ibuf).unwrap_or_default();
            mix_digest(digest, b);
        }
        Value::List(l) => l.iter().for_each(|e| mix_digest(digest, e)),
        Value::Set(s) => {
            for m in s.iter() {
                xor_digest(digest, &m.to_vec());
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, m);
                mix_digest(&mut ele, crate::resp::format_double_g17(score).as_bytes());
                xor_digest(digest, &ele);
            }
        }
        Value::Hash(h) => {
            for (f, val) in h.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, f);
                mix_digest(&mut ele, val);
                xor_digest(digest, &ele);
            }
        }
        Value::Stream(s) => {
            use crate::types::stream::StreamId;
            let (lo, hi) = (
                StreamId { ms: 0, seq: 0 },
                StreamId {
                    ms: u64::MAX,
                    seq: u64::MAX,
                },
            );
            s.walk(lo, hi, false, false, |e| {
                mix_digest(digest, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                let (mut b1, mut b2) = (itoa::Buffer::new(), itoa::Buffer::new());
                for (f, val) in &e.fields {
                    mix_digest(digest, f.bytes(&mut b1));
                    mix_digest(digest, val.bytes(&mut b2));
                }
                true
            });
        }
    }
    if has_expire {
        xor_digest(digest, b"!!expire!!");
    }
}

/// computeDatasetDigest: per database (its number mixed in), the XOR of every key's digest.
pub fn dataset_digest(dbs: &[Db]) -> [u8; 20] {
    let mut fin = [0u8; 20];
    for (j, db) in dbs.iter().enumerate() {
        if db.keys.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &(j as u32).to_be_bytes());
        for (k, v) in db.keys.iter() {
            let mut d = [0u8; 20];
            mix_digest(&mut d, k.as_bytes());
            object_digest(&mut d, v, db.expire_at(k.as_bytes()).is_some());
            xor_digest(&mut fin, &d);
        }
    }
    fin
}

#[cfg(test)]
mod tests {
    use crate::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};

    fn engine(debug: &str) -> (Engine, ClientHandle) {
        let mut cfg = Config::default();
        cfg.set("enable-debug-command", debug.as_bytes()).unwrap();
        // A remote client (for the `local` rule) that protected mode lets in.
        cfg.set("protected-mode", b"no").unwrap();
        let mut eng = Engine::new(cfg, 1);
        let info = ConnInfo {
            addr: "10.0.0.5:4000".into(),
            ..Default::default()
        };
        let id = eng.connect(UnixMillis(1000), info);
        (eng, id)
    }

    fn send(eng: &mut Engine, id: ClientHandle, now: u64, req: &str) -> String {
        eng.feed(UnixMillis(now), id, req.as_bytes());
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn refused_unless_enabled_and_local_needs_loopback() {
        let refusal = "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
        let (mut eng, id) = engine("no");
        assert_eq!(send(&mut eng, id, 1000, "DEBUG HELP\r\n"), refusal);
        let (mut eng, id) = engine("local");
        assert_eq!(send(&mut eng, id, 1000, "DEBUG SLEEP 0\r\n"), refusal);
        let local = eng.connect(
            UnixMillis(1000),
            ConnInfo {
                addr: "127.0.0.1:5000".into(),
                ..Default::default()
            },
        );
        assert_eq!(send(&mut eng, local, 1000, "DEBUG SLEEP 0\r\n"), "+OK\r\n");
    }

    #[test]
    fn crashes_are_refused() {
        let (mut eng, id) = engine("yes");
        for sub in ["SEGFAULT", "PANIC", "ASSERT", "OOM", "RESTART"] {
            let r = send(&mut eng, id, 1000, &format!("DEBUG {sub}\r\n"));
            assert!(
                r.starts_with(&format!("-ERR DEBUG {sub} is not supported")),
                "{r}"
            );
        }
        assert_eq!(send(&mut eng, id, 1000, "PING\r\n"), "+PONG\r\n");
    }

    /// DEBUG SLEEP holds every client: nothing runs and nothing is sent until a tick at the
    /// deadline, then the queued requests run in order.
    #[test]
    fn sleep_stops_the_whole_engine_until_the_deadline() {
        let (mut eng, a) = engine("yes");
        let b = eng.connect(UnixMillis(1000), ConnInfo::default());
        assert_eq!(
            send(&mut eng, a, 1000, "DEBUG SLEEP 0.5\r\nSET k 1\r\n"),
            ""
        );
        assert_eq!(eng.next_deadline(), Some(UnixMillis(1500)));
        assert_eq!(send(&mut eng, b, 1200, "GET k\r\n"), "");
        eng.tick(UnixMillis(1499));
        assert_eq!(send(&mut eng, b, 1499, ""), "");
        eng.tick(UnixMillis(1500));
        assert_eq!(send(&mut eng, a, 1500, ""), "+OK\r\n+OK\r\n");
        // Both queues run at the wake-up, in client order: a's SET before b's GET.
        assert_eq!(send(&mut eng, b, 1500, ""), "$1\r\n1\r\n");
    }

    /// A read held by the sleep runs at the wake-up even under CLIENT PAUSE WRITE; a write
    /// stays held by the pause.
    #[test]
    fn sleep_ends_for_reads_under_a_write_pause() {
        let (mut eng, a) = engine("yes");
        let b = eng.connect(UnixMillis(1000), ConnInfo::default());
        let c = eng.connect(UnixMillis(1000), ConnInfo::default());
        assert_eq!(
            send(&mut eng, a, 1000, "CLIENT PAUSE 10000 WRITE\r\n"),
            "+OK\r\n"
        );
        assert_eq!(send(&mut eng, b, 1000, "DEBUG SLEEP 0.1\r\n"), "");
        assert_eq!(send(&mut eng, c, 1050, "GET k\r\nSET k v\r\n"), "");
        eng.tick(UnixMillis(1100));
        assert_eq!(send(&mut eng, b, 1100, ""), "+OK\r\n");
        assert_eq!(send(&mut eng, c, 1100, ""), "$-1\r\n");
        assert_eq!(send(&mut eng, a, 1100, "CLIENT UNPAUSE\r\n"), "+OK\r\n");
        eng.tick(UnixMillis(1101));
        assert_eq!(send(&mut eng, c, 1101, ""), "+OK\r\n");
    }

    #[test]
    fn set_active_expire_stops_the_tick_from_expiring() {
        let (mut eng, id) = engine("yes");
        assert_eq!(
            send(
                &mut eng,
                id,
                1000,
                "DEBUG SET-ACTIVE-EXPIRE 0\r\nSET k v PX 10\r\n"
            ),
            "+OK\r\n+OK\r\n"
        );
        eng.tick(UnixMillis(2000));
        // Still stored (DIGEST-VALUE sees logically expired keys), though GET would say nil.
        let d = send(&mut eng, id, 2000, "DEBUG DIGEST-VALUE k\r\n");
        assert!(
            !d.contains("0000000000000000000000000000000000000000"),
            "{d}"
        );
        assert_eq!(
            send(&mut eng, id, 2000, "DEBUG SET-ACTIVE-EXPIRE 1\r\n"),
            "+OK\r\n"
        );
        eng.tick(UnixMillis(2100));
        let d = send(&mut eng, id, 2100, "DEBUG DIGEST-VALUE k\r\n");
        assert!(
            d.contains("0000000000000000000000000000000000000000"),
            "{d}"
        );
    }

    #[test]
    fn htstats_and_object_show_oxidis_figures_in_redis_layout() {
        let (mut eng, id) = engine("yes");
        send(&mut eng, id, 1000, "SET a 1\r\nSET b 2\r\nRPUSH l x y\r\n");
        let r = send(&mut eng, id, 1000, "DEBUG HTSTATS 0\r\n");
        assert!(
            r.contains("[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: "),
            "{r}"
        );
        assert!(r.contains(" number of elements: 3\n"), "{r}");
        let r = send(&mut eng, id, 1000, "DEBUG OBJECT l\r\n");
        assert!(r.starts_with("+Value at:0x"), "{r}");
        assert!(
            r.contains(" refcount:1 encoding:quicklist serializedlength:"),
            "{r}"
        );
        assert!(
            r.contains(" ql_nodes:1 ql_avg_node:2.00 ql_listpack_max:-2 ql_compressed:0"),
            "{r}"
        );
        let r = send(
            &mut eng,
            id,
            1000,
            "SET s hello\r\nDEBUG SDSLEN s\r\nDEBUG SDSLEN a\r\n",
        );
        assert_eq!(r, "+OK\r\n+key_sds_len:1, key_sds_avail:0, key_zmalloc: 1, val_sds_len:5, val_sds_avail:0, val_zmalloc: 5\r\n-ERR Not an sds encoded string.\r\n");
        let r = send(&mut eng, id, 1000, "DEBUG STRINGMATCH-TEST\r\n");
        assert_eq!(r, "+Apparently Redis did not crash: test passed\r\n");
    }

    /// What a transcript cannot hold (multi-line bulks): the verbatim string and an empty
    /// database's HTSTATS, byte for byte as redis-server 7.0.15 answered them.
    #[test]
    fn verbatim_and_empty_htstats_as_redis() {
        let (mut eng, id) = engine("yes");
        assert_eq!(
            send(&mut eng, id, 1000, "DEBUG PROTOCOL verbatim\r\n"),
            "$25\r\nThis is a verbatim\nstring\r\n"
        );
        let empty = "[Dictionary HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n[Expires HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n";
        assert_eq!(empty.len(), 189);
        assert_eq!(
            send(&mut eng, id, 1000, "DEBUG HTSTATS 9\r\n"),
            format!("$189\r\n{empty}\r\n")
        );
        send(&mut eng, id, 1000, "HELLO 3\r\n");
        assert_eq!(
            send(&mut eng, id, 1000, "DEBUG PROTOCOL verbatim\r\n"),
            "=29\r\ntxt:This is a verbatim\nstring\r\n"
        );
        assert_eq!(
            send(&mut eng, id, 1000, "DEBUG HTSTATS 9\r\n"),
            format!("=193\r\ntxt:{empty}\r\n")
        );
    }
}
