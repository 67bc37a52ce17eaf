//! Server configuration: Redis 7.0's parameter registry (config.c's `static_configs`), CONFIG
//! GET / CONFIG SET semantics and redis.conf parsing.
//!
//! Every parameter `CONFIG GET *` lists on redis-server 7.0.15 is in [`PARAMS`], with its type,
//! bounds and default, so CONFIG SET validates with Redis's exact error texts. Each parameter's
//! current value is kept as the text CONFIG GET reports. The parameters the engine reads on hot
//! paths also live in typed fields (`port`, `hz`, `timeout_secs` ...), which are the source of
//! truth for those names: CONFIG GET reads them, so tests may set them directly.
//!
//! Deliberate differences from Redis: `bind` defaults to `127.0.0.1` (Oxidis has no
//! protected mode), `dir` is whatever the host sets (core has no working directory), and
//! `replicaof` only accepts `no one` (Oxidis does not replicate).

use crate::cnum::parse_i64;
use crate::glob::glob_match;
use crate::resp::split_args;

/// The Redis version Oxidis reports (HELLO, INFO, config-file errors) so clients feature-detect.
pub const REDIS_VERSION: &str = "7.0.15";

const IMMUTABLE: u8 = 1;
const PROTECTED: u8 = 2;
/// Only an exact CONFIG GET name finds it, never a pattern.
const HIDDEN: u8 = 4;
/// Takes several arguments: CONFIG SET splits its value on spaces.
const MULTI_ARG: u8 = 8;

#[derive(Clone, Copy, Debug)]
enum Num {
    /// string2ll only.
    Plain,
    /// memtoull ("1gb", "100mb", "5k"...).
    Memory,
    /// A memory value or a percentage ("5%", stored negated, as Redis does).
    MemoryPercent,
    /// Octal digits (unixsocketperm).
    Octal,
}

#[derive(Clone, Copy, Debug)]
enum Special {
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyPercentiles,
}

type StrCheck = fn(&[u8]) -> Result<(), &'static str>;
type BoolCheck = fn(bool) -> Result<(), &'static str>;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Bool {
        check: Option<BoolCheck>,
    },
    /// `unsigned`: Redis's unsigned types (uint, unsigned long long, size_t) compare the value
    /// reinterpreted as unsigned; the others compare it signed.
    Num {
        lo: i128,
        hi: i128,
        unsigned: bool,
        num: Num,
    },
    /// (name, value) pairs in Redis's order; `flags`: several names OR together.
    Enum {
        names: &'static [(&'static str, i32)],
        flags: bool,
    },
    Str {
        check: Option<StrCheck>,
    },
    Special(Special),
}

/// One configuration parameter: Redis's name, alias, flags, type and default (as CONFIG GET
/// reports it on a redis-server started without a config file).
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    flags: u8,
    kind: Kind,
    pub default: &'static str,
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;

const fn p(name: &'static str, flags: u8, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        flags,
        kind,
        default,
    }
}

const fn pa(
    name: &'static str,
    alias: &'static str,
    flags: u8,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        flags,
        kind,
        default,
    }
}

const BOOL: Kind = Kind::Bool { check: None };
const STR: Kind = Kind::Str { check: None };

const fn int(lo: i128, hi: i128) -> Kind {
    Kind::Num {
        lo,
        hi,
        unsigned: false,
        num: Num::Plain,
    }
}
const fn uint(lo: i128, hi: i128) -> Kind {
    Kind::Num {
        lo,
        hi,
        unsigned: true,
        num: Num::Plain,
    }
}
const fn mem(lo: i128, hi: i128, unsigned: bool) -> Kind {
    Kind::Num {
        lo,
        hi,
        unsigned,
        num: Num::Memory,
    }
}
const fn enm(names: &'static [(&'static str, i32)]) -> Kind {
    Kind::Enum {
        names,
        flags: false,
    }
}

const MAXMEMORY_POLICY: &[(&str, i32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const SYSLOG_FACILITY: &[(&str, i32)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const LOGLEVEL: &[(&str, i32)] = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
const SUPERVISED: &[(&str, i32)] = &[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)];
const APPENDFSYNC: &[(&str, i32)] = &[("everysec", 0), ("always", 1), ("no", 2)];
const DISKLESS_LOAD: &[(&str, i32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const TLS_AUTH: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
/// "yes" and "relative" are one value: CONFIG GET reports the first name, "yes".
const OOM_SCORE_ADJ: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB: &[(&str, i32)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const PROTECTED_ACTION: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("local", 2)];
const ENDPOINT: &[(&str, i32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR: &[(&str, i32)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const SHUTDOWN_ON_SIG: &[(&str, i32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];
const SHUTDOWN_KIND: Kind = Kind::Enum {
    names: SHUTDOWN_ON_SIG,
    flags: true,
};

fn check_active_defrag(on: bool) -> Result<(), &'static str> {
    if on {
        // Debian's redis-server (system jemalloc) cannot defrag either; Oxidis says the same.
        return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution");
    }
    Ok(())
}

fn is_base_name(v: &[u8]) -> bool {
    !v.contains(&b'/')
}

fn check_dbfilename(v: &[u8]) -> Result<(), &'static str> {
    if !is_base_name(v) {
        return Err("dbfilename can't be a path, just a filename");
    }
    Ok(())
}

fn check_aof_filename(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("appendfilename can't be empty");
    }
    if !is_base_name(v) {
        return Err("appendfilename can't be a path, just a filename");
    }
    Ok(())
}

fn check_aof_dirname(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("appenddirname can't be empty");
    }
    if !is_base_name(v) {
        return Err("appenddirname can't be a path, just a dirname");
    }
    Ok(())
}

fn check_hostname(v: &[u8]) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if !v
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots");
    }
    Ok(())
}

/// server.c validateProcTitleTemplate: sdstemplate expansion with the known variables must
/// succeed and not be blank. Expanded with an empty title, as Redis does.
fn check_proc_title(v: &[u8]) -> Result<(), &'static str> {
    const ERR: &str = "template format is invalid or contains unknown variables";
    let mut out_nonblank = false;
    let mut i = 0;
    while i < v.len() {
        if v[i] != b'{' {
            out_nonblank |= v[i] != b' ';
            i += 1;
            continue;
        }
        i += 1;
        match v.get(i) {
            None => return Err(ERR),
            Some(b'{') => {
                out_nonblank = true;
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let Some(end) = v[i..].iter().position(|&c| c == b'}') else {
            return Err(ERR);
        };
        match &v[i..i + end] {
            b"title" | b"server-mode" | b"unixsocket" | b"config-file" => {}
            b"listen-addr" | b"port" | b"tls-port" => out_nonblank = true,
            _ => return Err(ERR),
        }
        i += end + 1;
    }
    if out_nonblank {
        Ok(())
    } else {
        Err(ERR)
    }
}

const fn str_check(check: StrCheck) -> Kind {
    Kind::Str { check: Some(check) }
}

/// Redis 7.0.15's parameters, in config.c's order (CONFIG GET with a pattern lists them
/// sorted by name; Redis's own order is its dict's, which varies per process).
pub static PARAMS: &[Param] = &[
    // Bool configs
    p("rdbchecksum", IMMUTABLE, BOOL, "yes"),
    p("daemonize", IMMUTABLE, BOOL, "no"),
    p("io-threads-do-reads", IMMUTABLE, BOOL, "no"),
    p("always-show-logo", IMMUTABLE, BOOL, "no"),
    p("protected-mode", 0, BOOL, "yes"),
    p("rdbcompression", 0, BOOL, "yes"),
    p("rdb-del-sync-files", 0, BOOL, "no"),
    p("activerehashing", 0, BOOL, "yes"),
    p("stop-writes-on-bgsave-error", 0, BOOL, "yes"),
    p("set-proc-title", IMMUTABLE, BOOL, "yes"),
    p("dynamic-hz", 0, BOOL, "yes"),
    p("lazyfree-lazy-eviction", 0, BOOL, "no"),
    p("lazyfree-lazy-expire", 0, BOOL, "no"),
    p("lazyfree-lazy-server-del", 0, BOOL, "no"),
    p("lazyfree-lazy-user-del", 0, BOOL, "no"),
    p("lazyfree-lazy-user-flush", 0, BOOL, "no"),
    p("repl-disable-tcp-nodelay", 0, BOOL, "no"),
    p("repl-diskless-sync", 0, BOOL, "yes"),
    p("aof-rewrite-incremental-fsync", 0, BOOL, "yes"),
    p("no-appendfsync-on-rewrite", 0, BOOL, "no"),
    p("cluster-require-full-coverage", 0, BOOL, "yes"),
    p("rdb-save-incremental-fsync", 0, BOOL, "yes"),
    p("aof-load-truncated", 0, BOOL, "yes"),
    p("aof-use-rdb-preamble", 0, BOOL, "yes"),
    p("aof-timestamp-enabled", 0, BOOL, "no"),
    pa(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        0,
        BOOL,
        "no",
    ),
    pa("replica-lazy-flush", "slave-lazy-flush", 0, BOOL, "no"),
    pa(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        0,
        BOOL,
        "yes",
    ),
    pa("replica-read-only", "slave-read-only", 0, BOOL, "yes"),
    pa(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        0,
        BOOL,
        "yes",
    ),
    p("jemalloc-bg-thread", 0, BOOL, "yes"),
    p(
        "activedefrag",
        0,
        Kind::Bool {
            check: Some(check_active_defrag),
        },
        "no",
    ),
    p("syslog-enabled", IMMUTABLE, BOOL, "no"),
    p("cluster-enabled", IMMUTABLE, BOOL, "no"),
    p("appendonly", 0, BOOL, "no"),
    p("cluster-allow-reads-when-down", 0, BOOL, "no"),
    p("cluster-allow-pubsubshard-when-down", 0, BOOL, "yes"),
    p("crash-log-enabled", 0, BOOL, "yes"),
    p("crash-memcheck-enabled", 0, BOOL, "yes"),
    p("use-exit-on-panic", HIDDEN, BOOL, "no"),
    p("disable-thp", IMMUTABLE, BOOL, "yes"),
    p("cluster-allow-replica-migration", 0, BOOL, "yes"),
    p("replica-announced", 0, BOOL, "yes"),
    p("latency-tracking", 0, BOOL, "yes"),
    p("aof-disable-auto-gc", 0, BOOL, "no"),
    p("replica-ignore-disk-write-errors", 0, BOOL, "no"),
    // String configs
    p("aclfile", IMMUTABLE, STR, ""),
    p("unixsocket", IMMUTABLE, STR, ""),
    p("pidfile", IMMUTABLE, STR, ""),
    pa("replica-announce-ip", "slave-announce-ip", 0, STR, ""),
    p("masteruser", 0, STR, ""),
    p("cluster-announce-ip", 0, STR, ""),
    p("cluster-config-file", IMMUTABLE, STR, "nodes.conf"),
    p(
        "cluster-announce-hostname",
        0,
        str_check(check_hostname),
        "",
    ),
    p("syslog-ident", IMMUTABLE, STR, "redis"),
    p(
        "dbfilename",
        PROTECTED,
        str_check(check_dbfilename),
        "dump.rdb",
    ),
    p(
        "appendfilename",
        IMMUTABLE,
        str_check(check_aof_filename),
        "appendonly.aof",
    ),
    p(
        "appenddirname",
        IMMUTABLE,
        str_check(check_aof_dirname),
        "appendonlydir",
    ),
    p("server_cpulist", IMMUTABLE, STR, ""),
    p("bio_cpulist", IMMUTABLE, STR, ""),
    p("aof_rewrite_cpulist", IMMUTABLE, STR, ""),
    p("bgsave_cpulist", IMMUTABLE, STR, ""),
    p("ignore-warnings", 0, STR, ""),
    p(
        "proc-title-template",
        0,
        str_check(check_proc_title),
        "{title} {listen-addr} {server-mode}",
    ),
    p("bind-source-addr", 0, STR, ""),
    p("logfile", IMMUTABLE, STR, ""),
    p("masterauth", 0, STR, ""),
    p("requirepass", 0, STR, ""),
    // Enum configs
    p("supervised", IMMUTABLE, enm(SUPERVISED), "no"),
    p("syslog-facility", IMMUTABLE, enm(SYSLOG_FACILITY), "local0"),
    p("repl-diskless-load", 0, enm(DISKLESS_LOAD), "disabled"),
    p("loglevel", 0, enm(LOGLEVEL), "notice"),
    p("maxmemory-policy", 0, enm(MAXMEMORY_POLICY), "noeviction"),
    p("appendfsync", 0, enm(APPENDFSYNC), "everysec"),
    p("oom-score-adj", 0, enm(OOM_SCORE_ADJ), "no"),
    p("acl-pubsub-default", 0, enm(ACL_PUBSUB), "resetchannels"),
    p("sanitize-dump-payload", 0, enm(SANITIZE), "no"),
    p(
        "enable-protected-configs",
        IMMUTABLE,
        enm(PROTECTED_ACTION),
        "no",
    ),
    p(
        "enable-debug-command",
        IMMUTABLE,
        enm(PROTECTED_ACTION),
        "no",
    ),
    p(
        "enable-module-command",
        IMMUTABLE,
        enm(PROTECTED_ACTION),
        "no",
    ),
    p("cluster-preferred-endpoint-type", 0, enm(ENDPOINT), "ip"),
    p(
        "propagation-error-behavior",
        0,
        enm(PROPAGATION_ERROR),
        "ignore",
    ),
    p("shutdown-on-sigint", MULTI_ARG, SHUTDOWN_KIND, "default"),
    p("shutdown-on-sigterm", MULTI_ARG, SHUTDOWN_KIND, "default"),
    // Integer configs
    p("databases", IMMUTABLE, int(1, INT_MAX), "16"),
    p("port", 0, int(0, 65535), "6379"),
    p("io-threads", IMMUTABLE, int(1, 128), "1"),
    p("auto-aof-rewrite-percentage", 0, int(0, INT_MAX), "100"),
    pa(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        0,
        int(0, INT_MAX),
        "10",
    ),
    pa(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        0,
        int(INT_MIN, INT_MAX),
        "-2",
    ),
    p("tcp-keepalive", 0, int(0, INT_MAX), "300"),
    p("cluster-migration-barrier", 0, int(0, INT_MAX), "1"),
    p("active-defrag-cycle-min", 0, int(1, 99), "1"),
    p("active-defrag-cycle-max", 0, int(1, 99), "25"),
    p("active-defrag-threshold-lower", 0, int(0, 1000), "10"),
    p("active-defrag-threshold-upper", 0, int(0, 1000), "100"),
    p("lfu-log-factor", 0, int(0, INT_MAX), "10"),
    p("lfu-decay-time", 0, int(0, INT_MAX), "1"),
    pa(
        "replica-priority",
        "slave-priority",
        0,
        int(0, INT_MAX),
        "100",
    ),
    p("repl-diskless-sync-delay", 0, int(0, INT_MAX), "5"),
    p("maxmemory-samples", 0, int(1, INT_MAX), "5"),
    p("maxmemory-eviction-tenacity", 0, int(0, 100), "10"),
    p("timeout", 0, int(0, INT_MAX), "0"),
    pa(
        "replica-announce-port",
        "slave-announce-port",
        0,
        int(0, 65535),
        "0",
    ),
    p("tcp-backlog", IMMUTABLE, int(0, INT_MAX), "511"),
    p("cluster-port", IMMUTABLE, int(0, 65535), "0"),
    p("cluster-announce-bus-port", 0, int(0, 65535), "0"),
    p("cluster-announce-port", 0, int(0, 65535), "0"),
    p("cluster-announce-tls-port", 0, int(0, 65535), "0"),
    p("repl-timeout", 0, int(1, INT_MAX), "60"),
    pa(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        0,
        int(1, INT_MAX),
        "10",
    ),
    p("list-compress-depth", 0, int(0, INT_MAX), "0"),
    p("rdb-key-save-delay", HIDDEN, int(INT_MIN, INT_MAX), "0"),
    p("key-load-delay", HIDDEN, int(INT_MIN, INT_MAX), "0"),
    p("active-expire-effort", 0, int(1, 10), "1"),
    p("hz", 0, int(0, INT_MAX), "10"),
    pa(
        "min-replicas-to-write",
        "min-slaves-to-write",
        0,
        int(0, INT_MAX),
        "0",
    ),
    pa(
        "min-replicas-max-lag",
        "min-slaves-max-lag",
        0,
        int(0, INT_MAX),
        "10",
    ),
    p("watchdog-period", HIDDEN, int(0, INT_MAX), "0"),
    p("shutdown-timeout", 0, int(0, INT_MAX), "10"),
    p("repl-diskless-sync-max-replicas", 0, int(0, INT_MAX), "0"),
    // Unsigned int configs
    p("maxclients", 0, uint(1, UINT_MAX), "10000"),
    p(
        "unixsocketperm",
        IMMUTABLE,
        Kind::Num {
            lo: 0,
            hi: 0o777,
            unsigned: true,
            num: Num::Octal,
        },
        "0",
    ),
    p("socket-mark-id", IMMUTABLE, uint(0, UINT_MAX), "0"),
    // Unsigned long configs (Redis checks these bounds signed)
    p("active-defrag-max-scan-fields", 0, int(1, LONG_MAX), "1000"),
    p("slowlog-max-len", 0, int(0, LONG_MAX), "128"),
    p("acllog-max-len", 0, int(0, LONG_MAX), "128"),
    // Long long configs
    pa(
        "busy-reply-threshold",
        "lua-time-limit",
        0,
        int(0, LONG_MAX),
        "5000",
    ),
    p("cluster-node-timeout", 0, int(0, LONG_MAX), "15000"),
    p("slowlog-log-slower-than", 0, int(-1, LONG_MAX), "10000"),
    p("latency-monitor-threshold", 0, int(0, LONG_MAX), "0"),
    p(
        "proto-max-bulk-len",
        0,
        mem(1024 * 1024, LONG_MAX, false),
        "536870912",
    ),
    p("stream-node-max-entries", 0, int(0, LONG_MAX), "100"),
    p("repl-backlog-size", 0, mem(1, LONG_MAX, false), "1048576"),
    // Unsigned long long configs
    p("maxmemory", 0, mem(0, ULLONG_MAX, true), "0"),
    p(
        "cluster-link-sendbuf-limit",
        0,
        mem(0, ULLONG_MAX, true),
        "0",
    ),
    // size_t configs
    pa(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        0,
        uint(0, LONG_MAX),
        "512",
    ),
    p("set-max-intset-entries", 0, uint(0, LONG_MAX), "512"),
    pa(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        0,
        uint(0, LONG_MAX),
        "128",
    ),
    p(
        "active-defrag-ignore-bytes",
        0,
        mem(1, LONG_MAX, true),
        "104857600",
    ),
    pa(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        0,
        mem(0, LONG_MAX, true),
        "64",
    ),
    p("stream-node-max-bytes", 0, mem(0, LONG_MAX, true), "4096"),
    pa(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        0,
        mem(0, LONG_MAX, true),
        "64",
    ),
    p("hll-sparse-max-bytes", 0, mem(0, LONG_MAX, true), "3000"),
    p("tracking-table-max-keys", 0, uint(0, LONG_MAX), "1000000"),
    p(
        "client-query-buffer-limit",
        0,
        mem(1024 * 1024, LONG_MAX, true),
        "1073741824",
    ),
    p(
        "maxmemory-clients",
        0,
        Kind::Num {
            lo: -100,
            hi: LONG_MAX,
            unsigned: false,
            num: Num::MemoryPercent,
        },
        "0",
    ),
    // Other numeric configs
    p("repl-backlog-ttl", 0, int(0, LONG_MAX), "3600"),
    p(
        "auto-aof-rewrite-min-size",
        0,
        mem(0, LONG_MAX, false),
        "67108864",
    ),
    p(
        "loading-process-events-interval-bytes",
        HIDDEN,
        int(1024, INT_MAX),
        "2097152",
    ),
    // TLS configs (Debian's build has TLS)
    p("tls-port", 0, int(0, 65535), "0"),
    p("tls-session-cache-size", 0, int(0, INT_MAX), "20480"),
    p("tls-session-cache-timeout", 0, int(0, INT_MAX), "300"),
    p("tls-cluster", 0, BOOL, "no"),
    p("tls-replication", 0, BOOL, "no"),
    p("tls-auth-clients", 0, enm(TLS_AUTH), "yes"),
    p("tls-prefer-server-ciphers", 0, BOOL, "no"),
    p("tls-session-caching", 0, BOOL, "yes"),
    p("tls-cert-file", 0, STR, ""),
    p("tls-key-file", 0, STR, ""),
    p("tls-key-file-pass", 0, STR, ""),
    p("tls-client-cert-file", 0, STR, ""),
    p("tls-client-key-file", 0, STR, ""),
    p("tls-client-key-file-pass", 0, STR, ""),
    p("tls-dh-params-file", 0, STR, ""),
    p("tls-ca-cert-file", 0, STR, ""),
    p("tls-ca-cert-dir", 0, STR, ""),
    p("tls-protocols", 0, STR, ""),
    p("tls-ciphers", 0, STR, ""),
    p("tls-ciphersuites", 0, STR, ""),
    // Special configs
    p("dir", PROTECTED, Kind::Special(Special::Dir), "/"),
    p(
        "save",
        MULTI_ARG,
        Kind::Special(Special::Save),
        "3600 1 300 100 60 10000",
    ),
    p(
        "client-output-buffer-limit",
        MULTI_ARG,
        Kind::Special(Special::ClientOutputBufferLimit),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p(
        "oom-score-adj-values",
        MULTI_ARG,
        Kind::Special(Special::OomScoreAdjValues),
        "0 200 800",
    ),
    p(
        "notify-keyspace-events",
        0,
        Kind::Special(Special::NotifyKeyspaceEvents),
        "",
    ),
    p("bind", MULTI_ARG, Kind::Special(Special::Bind), "127.0.0.1"),
    pa(
        "replicaof",
        "slaveof",
        IMMUTABLE | MULTI_ARG,
        Kind::Special(Special::ReplicaOf),
        "",
    ),
    p(
        "latency-tracking-info-percentiles",
        MULTI_ARG,
        Kind::Special(Special::LatencyPercentiles),
        "50 99 99.9",
    ),
];

/// One registered name: a parameter under its name or its alias (Redis registers both; the
/// alias errors and CONFIG GET lines say the alias).
#[derive(Clone, Copy)]
struct Entry {
    name: &'static str,
    param: usize,
}

fn entries() -> &'static [Entry] {
    static ENTRIES: std::sync::OnceLock<Vec<Entry>> = std::sync::OnceLock::new();
    ENTRIES.get_or_init(|| {
        let mut v = Vec::new();
        for (i, p) in PARAMS.iter().enumerate() {
            v.push(Entry {
                name: p.name,
                param: i,
            });
            if let Some(a) = p.alias {
                v.push(Entry { name: a, param: i });
            }
        }
        v.sort_by_key(|e| e.name);
        v
    })
}

/// Finds a registered name, case-insensitively (Redis's configs dict ignores case).
fn lookup(name: &[u8]) -> Option<Entry> {
    let lower = name.to_ascii_lowercase();
    let lower = std::str::from_utf8(&lower).ok()?;
    let e = entries();
    e.binary_search_by(|x| x.name.cmp(lower)).ok().map(|i| e[i])
}

/// notify.c's flags, for the pubsub group.
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// 'A': every class but key-miss, loaded and new.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// keyspaceEventsStringToFlags; None for an unknown class character.
    pub fn parse(classes: &[u8]) -> Option<u32> {
        let mut flags = 0;
        for &c in classes {
            flags |= match c {
                b'A' => ALL,
                b'g' => GENERIC,
                b'$' => STRING,
                b'l' => LIST,
                b's' => SET,
                b'h' => HASH,
                b'z' => ZSET,
                b'x' => EXPIRED,
                b'e' => EVICTED,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                b't' => STREAM,
                b'm' => KEY_MISS,
                b'd' => MODULE,
                b'n' => NEW,
                _ => return None,
            };
        }
        Some(flags)
    }

    /// keyspaceEventsFlagsToString.
    pub fn to_string(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            for (f, c) in [
                (GENERIC, 'g'),
                (STRING, '$'),
                (LIST, 'l'),
                (SET, 's'),
                (HASH, 'h'),
                (ZSET, 'z'),
                (EXPIRED, 'x'),
                (EVICTED, 'e'),
                (STREAM, 't'),
                (MODULE, 'd'),
                (NEW, 'n'),
            ] {
                if flags & f != 0 {
                    s.push(c);
                }
            }
        }
        for (f, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if flags & f != 0 {
                s.push(c);
            }
        }
        s
    }
}

/// The server's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    /// `bind`: the addresses, space-separated, as CONFIG GET reports them.
    pub bind: String,
    pub databases: usize,
    /// `hz`, clamped to 1..=500 as Redis's updateHZ does.
    pub hz: u32,
    /// `timeout`: close a client idle this many seconds (0 = never).
    pub timeout_secs: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: usize,
    /// `requirepass` (None when empty).
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: u64,
    pub maxmemory: u64,
    /// `notify-keyspace-events` as [`notify`] flags.
    pub notify_keyspace_events: u32,
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    /// `lazyfree-lazy-*`: which implicit frees go to the host's background worker.
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    /// `client-output-buffer-limit` per class (normal, replica, pubsub): [hard bytes, soft
    /// bytes, soft seconds]; 0 disables a limit.
    pub client_obuf_limits: [[u64; 3]; 3],
    /// Every parameter's CONFIG GET text, indexed like [`PARAMS`] (typed fields win).
    values: Vec<Vec<u8>>,
    /// Whether a config file has set `save` yet (file `save` lines accumulate).
    save_loaded: bool,
}

impl Default for Config {
    fn default() -> Config {
        let mut c = Config {
            port: 6379,
            bind: String::new(),
            databases: 16,
            hz: 10,
            timeout_secs: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            requirepass: None,
            maxclients: 0,
            maxmemory: 0,
            notify_keyspace_events: 0,
            hash_max_listpack_entries: 0,
            hash_max_listpack_value: 0,
            set_max_intset_entries: 0,
            zset_max_listpack_entries: 0,
            zset_max_listpack_value: 0,
            list_max_listpack_size: 0,
            list_compress_depth: 0,
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            lazyfree_lazy_eviction: false,
            lazyfree_lazy_expire: false,
            lazyfree_lazy_server_del: false,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            client_obuf_limits: [[0; 3]; 3],
            values: vec![Vec::new(); PARAMS.len()],
            save_loaded: false,
        };
        for (i, p) in PARAMS.iter().enumerate() {
            if matches!(p.kind, Kind::Special(Special::ReplicaOf)) {
                continue; // "" is its default: no master.
            }
            let args = c.split_value(i, p.default.as_bytes());
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            // The defaults are Redis's own texts: they always parse.
            if let Err(e) = c.set_args(i, &refs) {
                debug_assert!(false, "default of {}: {e}", p.name);
            }
        }
        c
    }
}

/// Redis's memtoull: digits then an optional unit (b, k, kb, m, mb, g, gb; any case).
/// strtoull's quirks kept: empty digits are 0, overflowing digits saturate.
pub fn memtoull(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = s[digits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in &s[..digits] {
        val = val
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .unwrap_or(u64::MAX);
    }
    if val > u64::MAX / mul {
        return None;
    }
    Some(val * mul)
}

/// C's strtoll(s, &end, base) == whole string: leading whitespace, a sign, digits (none is 0).
/// Saturates on overflow as strtoll does; None if anything follows the digits.
fn c_strtoll(s: &[u8], base: u32) -> Option<i64> {
    let mut i = s
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .count();
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
    let start = i;
    let mut v: i128 = 0;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        v = (v * i128::from(base) + i128::from(d)).min(i128::from(u64::MAX));
        i += 1;
    }
    if i == start {
        // No digits: strtoll converts nothing and points end at the start of the string.
        return s.is_empty().then_some(0);
    }
    if i != s.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// C's "%f" then Redis's trimDoubleString (no trailing zeros or point).
fn format_percentile(d: f64) -> String {
    let s = format!("{d:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Redis's getClientTypeByName for buffer-limit classes: normal 0, slave/replica 1, pubsub 2;
/// master is a class but not allowed here.
fn obuf_class(name: &[u8]) -> Option<usize> {
    match name.to_ascii_lowercase().as_slice() {
        b"normal" => Some(0),
        b"slave" | b"replica" => Some(1),
        b"pubsub" => Some(2),
        _ => None,
    }
}

/// CONFIG SET's failure, rendered like Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetError {
    Syntax,
    /// "Unknown option or number of arguments for CONFIG SET - 'name'".
    Unknown(Vec<u8>),
    /// "CONFIG SET failed (possibly related to argument 'name') - reason".
    Failed(Vec<u8>, String),
}

impl SetError {
    /// The error line, "ERR ..." (without '-').
    pub fn text(&self) -> Vec<u8> {
        match self {
            SetError::Syntax => b"ERR syntax error".to_vec(),
            SetError::Unknown(name) => {
                let mut m =
                    b"ERR Unknown option or number of arguments for CONFIG SET - '".to_vec();
                m.extend_from_slice(name);
                m.push(b'\'');
                m
            }
            SetError::Failed(name, reason) => {
                let mut m = b"ERR CONFIG SET failed (possibly related to argument '".to_vec();
                m.extend_from_slice(name);
                m.extend_from_slice(b"') - ");
                m.extend_from_slice(reason.as_bytes());
                m
            }
        }
    }
}

fn has_glob(p: &[u8]) -> bool {
    p.iter().any(|c| matches!(c, b'[' | b'*' | b'?'))
}

impl Config {
    /// The registered name `name` exists (name or alias, any case).
    pub fn exists(name: &str) -> bool {
        lookup(name.as_bytes()).is_some()
    }

    /// CONFIG GET's value for one parameter (name or alias, any case; hidden ones too).
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        lookup(name.as_bytes()).map(|e| self.value(e.param))
    }

    fn value(&self, i: usize) -> Vec<u8> {
        let n = |v: &dyn std::fmt::Display| v.to_string().into_bytes();
        match PARAMS[i].name {
            "port" => n(&self.port),
            "bind" => self.bind.clone().into_bytes(),
            "databases" => n(&self.databases),
            "hz" => n(&self.hz),
            "timeout" => n(&self.timeout_secs),
            "proto-max-bulk-len" => n(&self.proto_max_bulk_len),
            "client-query-buffer-limit" => n(&self.client_query_buffer_limit),
            "requirepass" => self.requirepass.clone().unwrap_or_default(),
            "maxclients" => n(&self.maxclients),
            "maxmemory" => n(&self.maxmemory),
            "notify-keyspace-events" => notify::to_string(self.notify_keyspace_events).into_bytes(),
            "hash-max-listpack-entries" => n(&self.hash_max_listpack_entries),
            "hash-max-listpack-value" => n(&self.hash_max_listpack_value),
            "set-max-intset-entries" => n(&self.set_max_intset_entries),
            "zset-max-listpack-entries" => n(&self.zset_max_listpack_entries),
            "zset-max-listpack-value" => n(&self.zset_max_listpack_value),
            "list-max-listpack-size" => n(&self.list_max_listpack_size),
            "list-compress-depth" => n(&self.list_compress_depth),
            "slowlog-log-slower-than" => n(&self.slowlog_log_slower_than),
            "slowlog-max-len" => n(&self.slowlog_max_len),
            _ => self.values[i].clone(),
        }
    }

    /// Keeps the typed field of parameter `i` equal to its canonical text.
    fn sync_typed(&mut self, i: usize) {
        let v = self.values[i].clone();
        let int = || parse_i64(&v).unwrap_or(0);
        let uint = || {
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        match PARAMS[i].name {
            "port" => self.port = int().clamp(0, 65535) as u16,
            "bind" => self.bind = String::from_utf8_lossy(&v).into_owned(),
            "databases" => self.databases = int().max(1) as usize,
            "hz" => self.hz = int().clamp(0, u32::MAX as i64) as u32,
            "timeout" => self.timeout_secs = int().max(0) as u64,
            "proto-max-bulk-len" => self.proto_max_bulk_len = uint(),
            "client-query-buffer-limit" => {
                self.client_query_buffer_limit = usize::try_from(uint()).unwrap_or(usize::MAX)
            }
            "requirepass" => self.requirepass = (!v.is_empty()).then_some(v),
            "maxclients" => self.maxclients = uint(),
            "maxmemory" => self.maxmemory = uint(),
            "notify-keyspace-events" => {
                self.notify_keyspace_events = notify::parse(&v).unwrap_or(0)
            }
            "hash-max-listpack-entries" => self.hash_max_listpack_entries = uint(),
            "hash-max-listpack-value" => self.hash_max_listpack_value = uint(),
            "set-max-intset-entries" => self.set_max_intset_entries = uint(),
            "zset-max-listpack-entries" => self.zset_max_listpack_entries = uint(),
            "zset-max-listpack-value" => self.zset_max_listpack_value = uint(),
            "list-max-listpack-size" => self.list_max_listpack_size = int(),
            "list-compress-depth" => self.list_compress_depth = int(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = int(),
            "slowlog-max-len" => self.slowlog_max_len = uint(),
            "lazyfree-lazy-eviction" => self.lazyfree_lazy_eviction = v == b"yes",
            "lazyfree-lazy-expire" => self.lazyfree_lazy_expire = v == b"yes",
            "lazyfree-lazy-server-del" => self.lazyfree_lazy_server_del = v == b"yes",
            "lazyfree-lazy-user-del" => self.lazyfree_lazy_user_del = v == b"yes",
            "lazyfree-lazy-user-flush" => self.lazyfree_lazy_user_flush = v == b"yes",
            "client-output-buffer-limit" => {
                // The stored text is canonical: "normal H S SECS slave H S SECS pubsub H S SECS".
                let text = String::from_utf8_lossy(&v).into_owned();
                let words: Vec<&str> = text.split_ascii_whitespace().collect();
                for c in words.chunks(4) {
                    if let (Some(class), [_, h, s, secs]) = (obuf_class(c[0].as_bytes()), c) {
                        let p = |w: &str| w.parse::<u64>().unwrap_or(0);
                        self.client_obuf_limits[class] = [p(h), p(s), p(secs)];
                    }
                }
            }
            _ => {}
        }
    }

    /// CONFIG GET: the (name, value) pairs matching any of `patterns`, without duplicates.
    /// An exact name is reported as the client wrote it; a pattern (case-insensitive) lists
    /// the registered names it matches, hidden ones excepted, in name order.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let seen = |out: &Vec<(Vec<u8>, Vec<u8>)>, n: &[u8]| {
            out.iter().any(|(k, _)| k.eq_ignore_ascii_case(n))
        };
        for &pat in patterns {
            if !has_glob(pat) {
                if seen(&out, pat) {
                    continue;
                }
                if let Some(e) = lookup(pat) {
                    out.push((pat.to_vec(), self.value(e.param)));
                }
                continue;
            }
            for e in entries() {
                if PARAMS[e.param].flags & HIDDEN != 0 || seen(&out, e.name.as_bytes()) {
                    continue;
                }
                if glob_match(pat, e.name.as_bytes(), true) {
                    out.push((e.name.as_bytes().to_vec(), self.value(e.param)));
                }
            }
        }
        out
    }

    /// Splits a single value into a parameter's arguments as CONFIG SET does: multi-argument
    /// parameters on every space (empty tokens kept, "" is no arguments).
    fn split_value(&self, i: usize, value: &[u8]) -> Vec<Vec<u8>> {
        if PARAMS[i].flags & MULTI_ARG == 0 {
            return vec![value.to_vec()];
        }
        if value.is_empty() {
            return Vec::new();
        }
        value.split(|&c| c == b' ').map(<[u8]>::to_vec).collect()
    }

    /// Sets one parameter by name from a single value (CONFIG SET's splitting), without the
    /// immutability checks: for `--name value` flags and hosts. Errors are Redis's reasons.
    pub fn set(&mut self, name: &str, value: &[u8]) -> Result<(), String> {
        let e = lookup(name.as_bytes())
            .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let args = self.split_value(e.param, value);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        self.set_args(e.param, &refs)
    }

    /// CONFIG SET name value [name value ...]: all or nothing, with Redis 7.0's checks and
    /// texts. `local`: the client is on a loopback address (for enable-protected-configs local).
    pub fn config_set(&mut self, args: &[&[u8]], local: bool) -> Result<(), SetError> {
        if !args.len().is_multiple_of(2) {
            return Err(SetError::Syntax);
        }
        let mut chosen: Vec<(Entry, &[u8])> = Vec::new();
        let mut first_err: Option<SetError> = None;
        let protected_ok = match self.values[param_index("enable-protected-configs")].as_slice() {
            b"yes" => true,
            b"local" => local,
            _ => false,
        };
        for pair in args.chunks(2) {
            let (name, value) = (pair[0], pair[1]);
            let Some(e) = lookup(name) else {
                if first_err.is_none() {
                    first_err = Some(SetError::Unknown(name.to_vec()));
                }
                continue;
            };
            if first_err.is_some() {
                continue;
            }
            let flags = PARAMS[e.param].flags;
            if flags & IMMUTABLE != 0 || (flags & PROTECTED != 0 && !protected_ok) {
                let why = if flags & IMMUTABLE != 0 {
                    "can't set immutable config"
                } else {
                    "can't set protected config"
                };
                first_err = Some(SetError::Failed(name.to_vec(), why.into()));
                continue;
            }
            // Redis compares registered entries: a name and its alias are not duplicates.
            if chosen.iter().any(|(c, _)| c.name == e.name) {
                first_err = Some(SetError::Failed(
                    name.to_vec(),
                    "duplicate parameter".into(),
                ));
            }
            chosen.push((e, value));
        }
        if let Some(err) = first_err {
            return Err(err);
        }
        let mut next = self.clone();
        for (e, value) in chosen {
            let parts = next.split_value(e.param, value);
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            next.set_args(e.param, &refs)
                .map_err(|why| SetError::Failed(e.name.as_bytes().to_vec(), why))?;
        }
        *self = next;
        Ok(())
    }

    /// Sets parameter `i` from its arguments (config.c's interface.set); on success stores the
    /// canonical text and updates the typed field.
    fn set_args(&mut self, i: usize, args: &[&[u8]]) -> Result<(), String> {
        let param = &PARAMS[i];
        let one = || -> Result<&[u8], String> {
            match args {
                [a] => Ok(a),
                _ => Err("wrong number of arguments".into()),
            }
        };
        let text: Vec<u8> = match param.kind {
            Kind::Bool { check } => {
                let a = one()?;
                let b = if a.eq_ignore_ascii_case(b"yes") {
                    true
                } else if a.eq_ignore_ascii_case(b"no") {
                    false
                } else {
                    return Err("argument must be 'yes' or 'no'".into());
                };
                if let Some(check) = check {
                    check(b)?;
                }
                if b {
                    b"yes".to_vec()
                } else {
                    b"no".to_vec()
                }
            }
            Kind::Str { check } => {
                let a = one()?;
                if let Some(check) = check {
                    check(a)?;
                }
                // Redis keeps these as C strings: a NUL ends the value.
                a.split(|&c| c == 0).next().unwrap_or_default().to_vec()
            }
            Kind::Enum { names, flags } => enum_value(names, flags, args)?,
            Kind::Num {
                lo,
                hi,
                unsigned,
                num,
            } => {
                let v = parse_numeric(one()?, num)?;
                check_bounds(v, lo, hi, unsigned, num)?;
                let v = if param.name == "hz" {
                    // updateHZ: out-of-range values are accepted but capped.
                    v.clamp(1, 500)
                } else {
                    v
                };
                match num {
                    Num::MemoryPercent if v < 0 => format!("{}%", -i128::from(v)).into_bytes(),
                    Num::Memory | Num::MemoryPercent => (v as u64).to_string().into_bytes(),
                    Num::Octal => format!("{:o}", v as u64).into_bytes(),
                    Num::Plain => v.to_string().into_bytes(),
                }
            }
            Kind::Special(sp) => self.set_special(i, sp, args)?,
        };
        self.values[i] = text;
        self.sync_typed(i);
        Ok(())
    }

    fn set_special(&mut self, i: usize, sp: Special, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        let wrong = || "wrong number of arguments".to_string();
        match sp {
            Special::Dir => {
                let [a] = args else { return Err(wrong()) };
                if a.is_empty() {
                    return Err("No such file or directory".into());
                }
                Ok(a.to_vec())
            }
            Special::Save => {
                let args: &[&[u8]] = if args.len() == 1 && args[0].is_empty() {
                    &[]
                } else {
                    args
                };
                const INVALID: &str = "Invalid save parameters";
                if !args.len().is_multiple_of(2) {
                    return Err(INVALID.into());
                }
                let mut pairs = Vec::new();
                for pair in args.chunks(2) {
                    let secs = c_strtoll(pair[0], 10).ok_or(INVALID)?;
                    let changes = c_strtoll(pair[1], 10).ok_or(INVALID)?;
                    if secs < 1 || changes < 0 {
                        return Err(INVALID.into());
                    }
                    // Redis keeps changes in an int.
                    pairs.push(format!("{} {}", secs, changes as i32));
                }
                let mut all = Vec::new();
                if self.save_loaded {
                    // A config file's later `save` lines add to the first.
                    let cur = &self.values[i];
                    if !cur.is_empty() {
                        all.push(String::from_utf8_lossy(cur).into_owned());
                    }
                }
                all.extend(pairs);
                Ok(all.join(" ").into_bytes())
            }
            Special::ClientOutputBufferLimit => {
                if !args.len().is_multiple_of(4) {
                    return Err("Wrong number of arguments in buffer limit configuration.".into());
                }
                let cur = String::from_utf8_lossy(&self.values[i]).into_owned();
                let mut limits: Vec<[String; 3]> = cur
                    .split(' ')
                    .collect::<Vec<_>>()
                    .chunks(4)
                    .map(|c| {
                        [
                            c.get(1).unwrap_or(&"0").to_string(),
                            c.get(2).unwrap_or(&"0").to_string(),
                            c.get(3).unwrap_or(&"0").to_string(),
                        ]
                    })
                    .collect();
                limits.resize(3, ["0".into(), "0".into(), "0".into()]);
                let mut next = limits.clone();
                for c in args.chunks(4) {
                    let class = obuf_class(c[0])
                        .ok_or("Invalid client class specified in buffer limit configuration.")?;
                    let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
                    let hard = memtoull(c[1]).ok_or(bad)?;
                    let soft = memtoull(c[2]).ok_or(bad)?;
                    let secs = c_strtoll(c[3], 10).ok_or(bad)? as i32;
                    if secs < 0 {
                        return Err(bad.into());
                    }
                    next[class] = [hard.to_string(), soft.to_string(), secs.to_string()];
                }
                let names = ["normal", "slave", "pubsub"];
                Ok(names
                    .iter()
                    .zip(&next)
                    .map(|(n, l)| format!("{n} {} {} {}", l[0], l[1], l[2]))
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into_bytes())
            }
            Special::OomScoreAdjValues => {
                if args.len() != 3 {
                    return Err(wrong());
                }
                let mut vals = Vec::new();
                for a in args {
                    match c_strtoll(a, 10) {
                        Some(v) if (-2000..=2000).contains(&v) => vals.push(v.to_string()),
                        _ => {
                            return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into())
                        }
                    }
                }
                Ok(vals.join(" ").into_bytes())
            }
            Special::NotifyKeyspaceEvents => {
                let [a] = args else { return Err(wrong()) };
                let flags = notify::parse(a)
                    .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
                Ok(notify::to_string(flags).into_bytes())
            }
            Special::Bind => {
                if args.len() > 16 {
                    return Err("Too many bind addresses specified.".into());
                }
                let args: &[&[u8]] = if args.len() == 1 && args[0].is_empty() {
                    &[]
                } else {
                    args
                };
                Ok(args.join(&b' '))
            }
            Special::ReplicaOf => {
                let [host, port] = args else {
                    return Err(wrong());
                };
                if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
                    return Ok(Vec::new());
                }
                match c_strtoll(port, 10) {
                    Some(p) if (0..=65535).contains(&p) => {}
                    _ => return Err("Invalid master port".into()),
                }
                Err("replication is not supported by Oxidis".into())
            }
            Special::LatencyPercentiles => {
                if args.len() == 1 && args[0].is_empty() {
                    return Ok(Vec::new());
                }
                let mut out = Vec::new();
                for a in args {
                    let d = std::str::from_utf8(a)
                        .ok()
                        .filter(|s| !s.is_empty() && !s.starts_with(char::is_whitespace))
                        .and_then(|s| s.parse::<f64>().ok())
                        .filter(|d| !d.is_nan())
                        .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                    if !(0.0..=100.0).contains(&d) {
                        return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                    }
                    out.push(format_percentile(d));
                }
                Ok(out.join(" ").into_bytes())
            }
        }
    }

    /// Applies a redis.conf text (loadServerConfigFromString): one directive per line,
    /// sdssplitargs quoting, `#` comments. `include`, `rename-command`, `user`, `loadmodule`
    /// and `sentinel` are refused. The error is Redis's report:
    /// "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at
    /// line N\n>>> 'line'\nreason".
    pub fn load_conf(&mut self, text: &str) -> Result<(), String> {
        let result = self.load_conf_lines(text);
        self.save_loaded = false;
        result
    }

    fn load_conf_lines(&mut self, text: &str) -> Result<(), String> {
        for (n, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| {
                format!(
                    "*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\nReading the configuration file, at line {}\n>>> '{line}'\n{reason}",
                    n + 1
                )
            };
            let mut args = Vec::new();
            if !split_args(line.as_bytes(), &mut args) {
                return Err(fail("Unbalanced quotes in configuration line"));
            }
            if args.is_empty() {
                continue;
            }
            let name = args[0].to_ascii_lowercase();
            if let Some(e) = lookup(&name) {
                if PARAMS[e.param].flags & MULTI_ARG == 0 && args.len() != 2 {
                    return Err(fail("wrong number of arguments"));
                }
                let refs: Vec<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
                let is_save = PARAMS[e.param].name == "save";
                if is_save && !self.save_loaded {
                    self.values[e.param].clear();
                    self.save_loaded = true;
                }
                self.set_args(e.param, &refs).map_err(|r| fail(&r))?;
                continue;
            }
            let deprecated = matches!(
                name.as_slice(),
                b"list-max-ziplist-entries" | b"list-max-ziplist-value" | b"lua-replicate-commands"
            );
            if deprecated && args.len() == 2 {
                continue;
            }
            let reason = match name.as_slice() {
                b"include" if args.len() == 2 => {
                    "include is not supported by Oxidis: pass one config file"
                }
                b"rename-command" if args.len() == 3 => "rename-command is not supported by Oxidis",
                b"user" if args.len() >= 2 => "user is not supported by Oxidis (no ACL yet)",
                b"loadmodule" if args.len() >= 2 => "loadmodule is not supported by Oxidis",
                b"sentinel" => "sentinel directive while not in sentinel mode",
                _ => "Bad directive or wrong number of arguments",
            };
            return Err(fail(reason));
        }
        Ok(())
    }
}

fn param_index(name: &str) -> usize {
    PARAMS.iter().position(|p| p.name == name).unwrap_or(0)
}

fn enum_value(
    names: &'static [(&'static str, i32)],
    flags: bool,
    args: &[&[u8]],
) -> Result<Vec<u8>, String> {
    let err = || {
        let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        format!(
            "argument(s) must be one of the following: {}",
            list.join(", ")
        )
    };
    if args.is_empty() || (!flags && args.len() != 1) {
        return Err(err());
    }
    let mut val = 0;
    for a in args {
        let (_, v) = names
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(a))
            .ok_or_else(err)?;
        val |= v;
    }
    // configEnumGetName: an exact value match first, else the flags set, in table order.
    if let Some((n, _)) = names.iter().find(|(_, v)| *v == val) {
        return Ok(n.as_bytes().to_vec());
    }
    let parts: Vec<&str> = names
        .iter()
        .filter(|(_, v)| *v != 0 && val & v == *v)
        .map(|(n, _)| *n)
        .collect();
    Ok(parts.join(" ").into_bytes())
}

/// numericParseString: the value as Redis's `long long` (memory values reinterpreted).
fn parse_numeric(a: &[u8], num: Num) -> Result<i64, String> {
    match num {
        Num::Memory => memtoull(a)
            .map(|v| v as i64)
            .ok_or_else(|| "argument must be a memory value".into()),
        Num::MemoryPercent => {
            if let Some(v) = memtoull(a) {
                return Ok(v as i64);
            }
            if a.len() > 1 && a.last() == Some(&b'%') {
                if let Some(v) = parse_i64(&a[..a.len() - 1]).filter(|v| *v >= 0) {
                    return Ok(-v);
                }
            }
            Err("argument must be a memory or percent value".into())
        }
        Num::Octal => {
            c_strtoll(a, 8).ok_or_else(|| "argument couldn't be parsed as an octal number".into())
        }
        Num::Plain => {
            parse_i64(a).ok_or_else(|| "argument couldn't be parsed into an integer".into())
        }
    }
}

fn check_bounds(v: i64, lo: i128, hi: i128, unsigned: bool, num: Num) -> Result<(), String> {
    if unsigned {
        let u = i128::from(v as u64);
        if u < lo || u > hi {
            return Err(if matches!(num, Num::Octal) {
                format!("argument must be between {lo:o} and {hi:o} inclusive")
            } else {
                format!("argument must be between {lo} and {hi} inclusive")
            });
        }
    } else if matches!(num, Num::MemoryPercent) && v < 0 {
        if i128::from(v) < lo {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -lo
            ));
        }
    } else if i128::from(v) < lo || i128::from(v) > hi {
        return Err(format!("argument must be between {lo} and {hi} inclusive"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_err(c: &mut Config, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        String::from_utf8(c.config_set(&args, true).unwrap_err().text()).unwrap()
    }

    fn ok(c: &mut Config, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        c.config_set(&args, true).unwrap();
    }

    fn get(c: &Config, name: &str) -> String {
        String::from_utf8(c.get(name).unwrap()).unwrap()
    }

    #[test]
    fn defaults_are_redis_texts() {
        let c = Config::default();
        for p in PARAMS {
            assert_eq!(get(&c, p.name), p.default, "{}", p.name);
        }
        assert_eq!(c.hz, 10);
        assert_eq!(c.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(c.client_query_buffer_limit, 1024 * 1024 * 1024);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.list_max_listpack_size, -2);
        assert_eq!(get(&c, "SLAVE-READ-ONLY"), "yes");
    }

    #[test]
    fn set_errors_match_redis() {
        let mut c = Config::default();
        assert_eq!(
            set_err(&mut c, &["hz", "abc"]),
            "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set_err(&mut c, &["foo", "bar"]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            set_err(&mut c, &["daemonize", "yes", "foo", "1"]),
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        );
        assert_eq!(
            set_err(&mut c, &["hz", "10", "foo", "1", "daemonize", "yes"]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            set_err(&mut c, &["hz", "10", "HZ", "11"]),
            "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
        );
        assert_eq!(
            set_err(&mut c, &["dir", "/tmp"]),
            "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
        );
        assert_eq!(set_err(&mut c, &["hz", "1", "x"]), "ERR syntax error");
        assert_eq!(
            set_err(&mut c, &["maxmemory-clients", "101%"]),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
        );
        assert_eq!(
            set_err(&mut c, &["loglevel", "foo"]),
            "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert_eq!(
            set_err(&mut c, &["slave-read-only", "maybe"]),
            "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set_err(&mut c, &["maxclients", "0"]),
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            set_err(&mut c, &["proto-max-bulk-len", "1000"]),
            "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            set_err(&mut c, &["maxmemory", "-1"]),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        );
        assert_eq!(
            set_err(&mut c, &["notify-keyspace-events", "Q"]),
            "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }

    #[test]
    fn set_is_atomic() {
        let mut c = Config::default();
        set_err(&mut c, &["timeout", "5", "hz", "x"]);
        assert_eq!(c.timeout_secs, 0);
        ok(&mut c, &["timeout", "5", "hz", "1000", "maxmemory", "1GB"]);
        assert_eq!(c.timeout_secs, 5);
        assert_eq!(get(&c, "hz"), "500");
        assert_eq!(c.maxmemory, 1 << 30);
        assert_eq!(get(&c, "maxmemory"), "1073741824");
    }

    #[test]
    fn special_values() {
        let mut c = Config::default();
        ok(&mut c, &["maxmemory-clients", "5%"]);
        assert_eq!(get(&c, "maxmemory-clients"), "5%");
        ok(&mut c, &["maxmemory", "99999999999999999999999"]);
        assert_eq!(get(&c, "maxmemory"), "18446744073709551615");
        ok(&mut c, &["maxmemory", "1k"]);
        assert_eq!(get(&c, "maxmemory"), "1000");
        ok(&mut c, &["oom-score-adj", "relative"]);
        assert_eq!(get(&c, "oom-score-adj"), "yes");
        ok(&mut c, &["shutdown-on-sigint", "now save"]);
        assert_eq!(get(&c, "shutdown-on-sigint"), "save now");
        ok(&mut c, &["shutdown-on-sigint", "default now"]);
        assert_eq!(get(&c, "shutdown-on-sigint"), "now");
        ok(&mut c, &["notify-keyspace-events", "nmdtK"]);
        assert_eq!(get(&c, "notify-keyspace-events"), "tdnKm");
        ok(&mut c, &["notify-keyspace-events", "g$lshzxetd"]);
        assert_eq!(get(&c, "notify-keyspace-events"), "A");
        ok(
            &mut c,
            &["client-output-buffer-limit", "normal 1mb 2 3 pubsub 1 1 1"],
        );
        assert_eq!(
            get(&c, "client-output-buffer-limit"),
            "normal 1048576 2 3 slave 268435456 67108864 60 pubsub 1 1 1"
        );
        ok(&mut c, &["save", "+10 1"]);
        assert_eq!(get(&c, "save"), "10 1");
        ok(&mut c, &["save", ""]);
        assert_eq!(get(&c, "save"), "");
        ok(
            &mut c,
            &["latency-tracking-info-percentiles", "50 99.9999 100"],
        );
        assert_eq!(
            get(&c, "latency-tracking-info-percentiles"),
            "50 99.9999 100"
        );
        ok(&mut c, &["requirepass", "s3cret"]);
        assert_eq!(c.requirepass.as_deref(), Some(&b"s3cret"[..]));
        ok(&mut c, &["requirepass", ""]);
        assert_eq!(c.requirepass, None);
    }

    #[test]
    fn get_patterns() {
        let c = Config::default();
        let names = |pats: &[&str]| -> Vec<String> {
            let pats: Vec<&[u8]> = pats.iter().map(|p| p.as_bytes()).collect();
            c.get_matching(&pats)
                .into_iter()
                .map(|(k, _)| String::from_utf8(k).unwrap())
                .collect()
        };
        assert_eq!(names(&["HZ", "hz"]), ["HZ"]);
        assert_eq!(names(&["nope"]), Vec::<String>::new());
        assert_eq!(names(&["watchdog-period"]), ["watchdog-period"]);
        // Every name CONFIG GET * lists on redis-server 7.0.15 (hidden ones excepted).
        let all = names(&["*"]);
        assert_eq!(all.len(), 192);
        assert!(all.contains(&"slaveof".to_string()) && all.contains(&"replicaof".to_string()));
        assert!(!all.contains(&"watchdog-period".to_string()));
    }

    #[test]
    fn conf_file() {
        let mut c = Config::default();
        c.load_conf("# comment\nport 7000\n  save 3600 1\nsave 300 100\nhz \"1000\"\nmaxmemory 100mb\nlist-max-ziplist-entries 5\n")
            .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(get(&c, "save"), "3600 1 300 100");
        assert_eq!(c.hz, 500);
        assert_eq!(c.maxmemory, 100 << 20);
        let err = c.load_conf("port 1\n\nhz 5 6\n").unwrap_err();
        assert_eq!(
            err,
            "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'hz 5 6'\nwrong number of arguments"
        );
        let err = c.load_conf("foo bar").unwrap_err();
        assert!(err.ends_with(">>> 'foo bar'\nBad directive or wrong number of arguments"));
        let err = c.load_conf("save \"abc").unwrap_err();
        assert!(err.ends_with("Unbalanced quotes in configuration line"));
        let err = c.load_conf("include /x.conf").unwrap_err();
        assert!(err.contains("include is not supported"));
        // Immutable parameters can be set from a file.
        c.load_conf("daemonize yes").unwrap();
        assert_eq!(get(&c, "daemonize"), "yes");
    }

    #[test]
    fn memtoull_units() {
        assert_eq!(memtoull(b"1gb"), Some(1 << 30));
        assert_eq!(memtoull(b"1GB"), Some(1 << 30));
        assert_eq!(memtoull(b"5k"), Some(5000));
        assert_eq!(memtoull(b""), Some(0));
        assert_eq!(memtoull(b"1zb"), None);
        assert_eq!(memtoull(b"-1"), None);
        assert_eq!(memtoull(b"18446744073709551615kb"), None);
    }

    proptest::proptest! {
        #[test]
        fn config_set_never_panics(
            pairs in proptest::collection::vec(
                (0..PARAMS.len(), proptest::collection::vec(proptest::num::u8::ANY, 0..24)),
                1..4,
            ),
            text in "[ -~\n]{0,80}",
        ) {
            let mut c = Config::default();
            let args: Vec<&[u8]> = pairs
                .iter()
                .flat_map(|(i, v)| [PARAMS[*i].name.as_bytes(), v.as_slice()])
                .collect();
            let _ = c.config_set(&args, false);
            let _ = c.load_conf(&text);
            for p in PARAMS {
                proptest::prop_assert!(c.get(p.name).is_some());
            }
        }
    }
}
