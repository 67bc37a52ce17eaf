//! Server configuration: Redis 7.0's parameter registry (config.c's `static_configs`), CONFIG
//! GET / CONFIG SET semantics and redis.conf parsing.
//!
//! Every parameter `CONFIG GET *` lists on redis-server 7.0.15 is declared once, in the
//! `params!` table below: its name and alias, flags, kind (type, bounds, enum names, checks),
//! default text, and the typed field of [`Config`] that holds it. From that one declaration
//! come the struct, [`PARAMS`] (CONFIG GET and CONFIG SET walk it, and CONFIG REWRITE will),
//! CONFIG SET's validation with Redis's exact error texts, and redis.conf parsing. The engine
//! and the hosts read the typed fields (`config.hz`, `config.appendfsync` ...), never a
//! parameter by name; CONFIG GET's text is rendered from the field.
//!
//! Where a parameter is applied: the engine reads its field when it needs it (so a CONFIG SET
//! takes effect at the next read), except the parameters flagged `HOST`, which the host
//! applies (files, sockets): CONFIG SET of one of them queues `Event::ConfigChanged`.
//!
//! Deliberate differences from Redis: `dir` is whatever the host sets (core has no working
//! directory), and `replicaof host port` makes the server a replica from the start
//! (repl/replica.rs).

use crate::cnum::{parse_i64, strtoll};
use crate::glob::glob_match;
use crate::resp::split_args;

/// The Redis version Oxidis reports (HELLO, INFO, config-file errors) so clients feature-detect.
pub const REDIS_VERSION: &str = "7.0.15";

mod rewrite;

const IMMUTABLE: u8 = 1;
const PROTECTED: u8 = 2;
/// Only an exact CONFIG GET name finds it, never a pattern.
const HIDDEN: u8 = 4;
/// Takes several arguments: CONFIG SET splits its value on spaces.
const MULTI_ARG: u8 = 8;
/// In a config file, the parameter's later lines add to its first (Redis's `save`).
const APPEND_LINES: u8 = 16;
/// Applied by the host (files, sockets): CONFIG SET of it queues `Event::ConfigChanged`.
const HOST: u8 = 32;

#[derive(Clone, Copy, Debug)]
pub enum Num {
    /// string2ll only.
    Plain,
    /// memtoull ("1gb", "100mb", "5k"...).
    Memory,
    /// A memory value or a percentage ("5%", stored negated, as Redis does).
    MemoryPercent,
    /// Octal digits (unixsocketperm).
    Octal,
}

type StrCheck = fn(&[u8]) -> Result<(), &'static str>;
/// Renders a parameter's field as CONFIG GET's text.
type Show = fn(&Config, &Kind) -> Vec<u8>;
/// Validates a parameter's arguments and stores its field.
type Store = fn(&mut Config, &Kind, &[&[u8]]) -> Result<(), String>;
type BoolCheck = fn(bool) -> Result<(), &'static str>;

/// What a parameter's arguments must look like (config.c's typeInterface).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool {
        check: Option<BoolCheck>,
    },
    /// `unsigned`: Redis's unsigned types (uint, unsigned long long, size_t) compare the value
    /// reinterpreted as unsigned; the others compare it signed. `cap`: accepted values outside
    /// it are stored capped (updateHZ).
    Num {
        lo: i128,
        hi: i128,
        unsigned: bool,
        num: Num,
        cap: Option<(i64, i64)>,
    },
    /// (name, value) pairs in Redis's order; `flags`: several names OR together.
    Enum {
        names: &'static [(&'static str, i32)],
        flags: bool,
    },
    Str {
        check: Option<StrCheck>,
    },
    /// Parsed by the field's own type (save, bind, client-output-buffer-limit ...).
    Special,
}

/// One configuration parameter: Redis's name, alias, flags, kind and default (as CONFIG GET
/// reports it on a redis-server started without a config file), and how its typed field in
/// [`Config`] is shown and stored.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    flags: u8,
    kind: Kind,
    pub default: &'static str,
    show: Show,
    store: Store,
}

impl Param {
    /// The parameter's arguments from one value, as CONFIG SET splits it: multi-argument
    /// parameters on every space (empty tokens kept, "" is no arguments).
    fn split<'a>(&self, value: &'a [u8]) -> Vec<&'a [u8]> {
        if self.flags & MULTI_ARG == 0 {
            return vec![value];
        }
        if value.is_empty() {
            return Vec::new();
        }
        value.split(|&c| c == b' ').collect()
    }
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;

const BOOL: Kind = Kind::Bool { check: None };
const STR: Kind = Kind::Str { check: None };
const SPECIAL: Kind = Kind::Special;

const fn num(lo: i128, hi: i128, unsigned: bool, num: Num) -> Kind {
    Kind::Num {
        lo,
        hi,
        unsigned,
        num,
        cap: None,
    }
}
const fn int(lo: i128, hi: i128) -> Kind {
    num(lo, hi, false, Num::Plain)
}
const fn uint(lo: i128, hi: i128) -> Kind {
    num(lo, hi, true, Num::Plain)
}
const fn mem(lo: i128, hi: i128, unsigned: bool) -> Kind {
    num(lo, hi, unsigned, Num::Memory)
}
/// `hz`: any int accepted, stored capped to 1..=500 (Redis's CONFIG_MIN_HZ, CONFIG_MAX_HZ).
const HZ: Kind = Kind::Num {
    lo: 0,
    hi: INT_MAX,
    unsigned: false,
    num: Num::Plain,
    cap: Some((1, 500)),
};
const fn enm(names: &'static [(&'static str, i32)]) -> Kind {
    Kind::Enum {
        names,
        flags: false,
    }
}
const fn str_check(check: StrCheck) -> Kind {
    Kind::Str { check: Some(check) }
}

/// An enum parameter the engine or a host reads: a Rust enum whose discriminants are the
/// values of the parameter's name table (generated here, in Redis's order).
macro_rules! config_enum {
    ($(#[$m:meta])* pub enum $name:ident, $table:ident {
        $($(#[$vm:meta])* $var:ident = $val:literal => $text:literal,)*
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vm])* $var = $val,)*
        }
        const $table: &[(&str, i32)] = &[$(($text, $val)),*];
        impl $name {
            /// The name CONFIG GET reports.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$var => $text,)*
                }
            }
        }
        impl Field for $name {
            fn parse(kind: &Kind, args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
                match enum_parse(kind, args)? {
                    $($val => Ok($name::$var),)*
                    _ => Err(MISMATCH.into()),
                }
            }
            fn show(&self, _kind: &Kind) -> Vec<u8> {
                self.name().as_bytes().to_vec()
            }
        }
    };
}

config_enum! {
    /// `maxmemory-policy`.
    pub enum MaxmemoryPolicy, MAXMEMORY_POLICY {
        VolatileLru = 0 => "volatile-lru",
        VolatileLfu = 1 => "volatile-lfu",
        VolatileRandom = 2 => "volatile-random",
        VolatileTtl = 3 => "volatile-ttl",
        AllkeysLru = 4 => "allkeys-lru",
        AllkeysLfu = 5 => "allkeys-lfu",
        AllkeysRandom = 6 => "allkeys-random",
        #[default]
        Noeviction = 7 => "noeviction",
    }
}

impl MaxmemoryPolicy {
    /// An LRU or LFU policy: objects carry access metadata, so integers are not shared.
    pub fn tracks_access(self) -> bool {
        !matches!(
            self,
            MaxmemoryPolicy::VolatileRandom
                | MaxmemoryPolicy::VolatileTtl
                | MaxmemoryPolicy::AllkeysRandom
                | MaxmemoryPolicy::Noeviction
        )
    }
}

config_enum! {
    /// `appendfsync`: when the host fsyncs the AOF.
    pub enum AppendFsync, APPENDFSYNC {
        #[default]
        EverySec = 0 => "everysec",
        Always = 1 => "always",
        No = 2 => "no",
    }
}

config_enum! {
    /// `enable-protected-configs`, `enable-debug-command`, `enable-module-command`.
    pub enum ProtectedAction, PROTECTED_ACTION {
        #[default]
        No = 0 => "no",
        Yes = 1 => "yes",
        Local = 2 => "local",
    }
}

impl ProtectedAction {
    /// Whether a client on a loopback address (`local`) or elsewhere may proceed.
    pub fn allows(self, local: bool) -> bool {
        match self {
            ProtectedAction::No => false,
            ProtectedAction::Yes => true,
            ProtectedAction::Local => local,
        }
    }
}

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
const DISKLESS_LOAD: &[(&str, i32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const TLS_AUTH: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
/// "yes" and "relative" are one value: CONFIG GET reports the first name, "yes".
const OOM_SCORE_ADJ: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB: &[(&str, i32)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
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

/// config.c's setConfigDirOption: chdir fails on an empty path (core has no working
/// directory: the host resolves the path).
fn check_dir(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("No such file or directory");
    }
    Ok(())
}

/// A parameter whose kind disagrees with its field's type: a bug in the table, which the
/// every-parameter test catches.
const MISMATCH: &str = "internal error: the parameter's kind does not fit its field";

/// How a typed field is set from a parameter's arguments (split as CONFIG SET does, and
/// validated against `kind` with Redis's texts) and rendered as CONFIG GET's text. `cur` is
/// the current value (client-output-buffer-limit changes only the classes it names).
trait Field: Sized {
    fn parse(kind: &Kind, args: &[&[u8]], cur: &Self) -> Result<Self, String>;
    fn show(&self, kind: &Kind) -> Vec<u8>;
}

fn one<'a>(args: &[&'a [u8]]) -> Result<&'a [u8], String> {
    match args {
        [a] => Ok(a),
        _ => Err("wrong number of arguments".into()),
    }
}

impl Field for bool {
    fn parse(kind: &Kind, args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let Kind::Bool { check } = kind else {
            return Err(MISMATCH.into());
        };
        let a = one(args)?;
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
        Ok(b)
    }
    fn show(&self, _kind: &Kind) -> Vec<u8> {
        let text: &[u8] = if *self { b"yes" } else { b"no" };
        text.to_vec()
    }
}

/// A numeric parameter's value as Redis's `long long` (memory values reinterpreted), checked
/// against the bounds and capped.
fn num_parse(kind: &Kind, args: &[&[u8]]) -> Result<i64, String> {
    let Kind::Num {
        lo,
        hi,
        unsigned,
        num,
        cap,
    } = *kind
    else {
        return Err(MISMATCH.into());
    };
    let v = parse_numeric(one(args)?, num)?;
    check_bounds(v, lo, hi, unsigned, num)?;
    Ok(match cap {
        Some((a, b)) => v.clamp(a, b),
        None => v,
    })
}

fn num_show(kind: &Kind, v: i64) -> Vec<u8> {
    let num = match kind {
        Kind::Num { num, .. } => *num,
        _ => Num::Plain,
    };
    match num {
        Num::MemoryPercent if v < 0 => format!("{}%", -i128::from(v)),
        Num::Memory | Num::MemoryPercent => (v as u64).to_string(),
        Num::Octal => format!("{:o}", v as u64),
        Num::Plain => v.to_string(),
    }
    .into_bytes()
}

/// Numeric fields: the validated `long long` converted to the field's type (`from`) and back
/// (`to`). Bounds make the conversions exact, except usize on 32-bit targets (saturates).
macro_rules! num_field {
    ($($t:ty: $from:expr, $to:expr;)*) => {$(
        impl Field for $t {
            fn parse(kind: &Kind, args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
                num_parse(kind, args).map($from)
            }
            fn show(&self, kind: &Kind) -> Vec<u8> {
                num_show(kind, $to(*self))
            }
        }
    )*};
}

num_field! {
    i64: |v| v, |v| v;
    u64: |v| v as u64, |v| v as i64;
    u32: |v| v as u32, i64::from;
    u16: |v| v as u16, i64::from;
    usize: |v| usize::try_from(v as u64).unwrap_or(usize::MAX), |v| v as u64 as i64;
}

impl Field for Vec<u8> {
    fn parse(kind: &Kind, args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let Kind::Str { check } = kind else {
            return Err(MISMATCH.into());
        };
        let a = one(args)?;
        if let Some(check) = check {
            check(a)?;
        }
        // Redis keeps these as C strings: a NUL ends the value.
        Ok(a.split(|&c| c == 0).next().unwrap_or_default().to_vec())
    }
    fn show(&self, _kind: &Kind) -> Vec<u8> {
        self.clone()
    }
}

/// A string parameter where empty means unset (requirepass).
impl Field for Option<Vec<u8>> {
    fn parse(kind: &Kind, args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let v = Vec::<u8>::parse(kind, args, &Vec::new())?;
        Ok((!v.is_empty()).then_some(v))
    }
    fn show(&self, _kind: &Kind) -> Vec<u8> {
        self.clone().unwrap_or_default()
    }
}

/// An enum parameter nothing reads yet: its value in the name table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Choice(pub i32);

impl Field for Choice {
    fn parse(kind: &Kind, args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        enum_parse(kind, args).map(Choice)
    }
    fn show(&self, kind: &Kind) -> Vec<u8> {
        match kind {
            Kind::Enum { names, .. } => enum_name(names, self.0).into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// configEnumSet: one name (or several OR-ed, for flags) to its value.
fn enum_parse(kind: &Kind, args: &[&[u8]]) -> Result<i32, String> {
    let Kind::Enum { names, flags } = *kind else {
        return Err(MISMATCH.into());
    };
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
    Ok(val)
}

/// configEnumGetName: an exact value match first, else the flags set, in table order.
fn enum_name(names: &[(&str, i32)], val: i32) -> String {
    if let Some((n, _)) = names.iter().find(|(_, v)| *v == val) {
        return n.to_string();
    }
    let parts: Vec<&str> = names
        .iter()
        .filter(|(_, v)| *v != 0 && val & v == *v)
        .map(|(n, _)| *n)
        .collect();
    parts.join(" ")
}

/// Fields of `Kind::Special` parameters: their type parses and renders them.
macro_rules! special_field {
    ($t:ty) => {
        impl Field for $t {
            fn parse(kind: &Kind, args: &[&[u8]], cur: &Self) -> Result<Self, String> {
                match kind {
                    Kind::Special => <$t>::parse_args(args, cur),
                    _ => Err(MISMATCH.into()),
                }
            }
            fn show(&self, _kind: &Kind) -> Vec<u8> {
                self.render().into_bytes()
            }
        }
    };
}

/// `save`: (seconds, changes) save points; Redis keeps changes in an int.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavePoints(pub Vec<(i64, i32)>);

impl SavePoints {
    fn parse_args(args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let args: &[&[u8]] = if args.len() == 1 && args[0].is_empty() {
            &[]
        } else {
            args
        };
        const INVALID: &str = "Invalid save parameters";
        if !args.len().is_multiple_of(2) {
            return Err(INVALID.into());
        }
        let mut points = Vec::new();
        for pair in args.chunks(2) {
            let secs = strtoll(pair[0], 10).ok_or(INVALID)?;
            let changes = strtoll(pair[1], 10).ok_or(INVALID)?;
            if secs < 1 || changes < 0 {
                return Err(INVALID.into());
            }
            points.push((secs, changes as i32));
        }
        Ok(SavePoints(points))
    }
    fn render(&self) -> String {
        let words: Vec<String> = self.0.iter().map(|(s, c)| format!("{s} {c}")).collect();
        words.join(" ")
    }
}
special_field!(SavePoints);

/// `client-output-buffer-limit` per class (normal, replica, pubsub): [hard bytes, soft
/// bytes, soft seconds]; 0 disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObufLimits(pub [[u64; 3]; 3]);

impl std::ops::Index<usize> for ObufLimits {
    type Output = [u64; 3];
    fn index(&self, class: usize) -> &[u64; 3] {
        &self.0[class]
    }
}

impl ObufLimits {
    fn parse_args(args: &[&[u8]], cur: &Self) -> Result<Self, String> {
        if !args.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *cur;
        for c in args.chunks(4) {
            let class = obuf_class(c[0])
                .ok_or("Invalid client class specified in buffer limit configuration.")?;
            let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = memtoull(c[1]).ok_or(bad)?;
            let soft = memtoull(c[2]).ok_or(bad)?;
            let secs = strtoll(c[3], 10).ok_or(bad)? as i32;
            if secs < 0 {
                return Err(bad.into());
            }
            next.0[class] = [hard, soft, secs as u64];
        }
        Ok(next)
    }
    fn render(&self) -> String {
        let names = ["normal", "slave", "pubsub"];
        let parts: Vec<String> = names
            .iter()
            .zip(&self.0)
            .map(|(n, l)| format!("{n} {} {} {}", l[0], l[1], l[2]))
            .collect();
        parts.join(" ")
    }
}
special_field!(ObufLimits);

/// `oom-score-adj-values`: for the master, replicas and background children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomScoreAdjValues(pub [i64; 3]);

impl OomScoreAdjValues {
    fn parse_args(args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let [a, b, c] = args else {
            return Err("wrong number of arguments".into());
        };
        let mut vals = [0; 3];
        for (slot, a) in vals.iter_mut().zip([a, b, c]) {
            match strtoll(a, 10) {
                Some(v) if (-2000..=2000).contains(&v) => *slot = v,
                _ => {
                    return Err(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .into(),
                    )
                }
            }
        }
        Ok(OomScoreAdjValues(vals))
    }
    fn render(&self) -> String {
        let [a, b, c] = self.0;
        format!("{a} {b} {c}")
    }
}
special_field!(OomScoreAdjValues);

/// `notify-keyspace-events` as [`notify`] flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyspaceEvents(pub u32);

impl KeyspaceEvents {
    fn parse_args(args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let flags = notify::parse(one(args)?)
            .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
        Ok(KeyspaceEvents(flags))
    }
    fn render(&self) -> String {
        notify::to_string(self.0)
    }
}
special_field!(KeyspaceEvents);

/// `bind`: the addresses to listen on, as written (`*`, `-::1` ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindAddrs(pub Vec<Vec<u8>>);

impl BindAddrs {
    fn parse_args(args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        if args.len() > 16 {
            return Err("Too many bind addresses specified.".into());
        }
        if args.len() == 1 && args[0].is_empty() {
            return Ok(BindAddrs(Vec::new()));
        }
        Ok(BindAddrs(args.iter().map(|a| a.to_vec()).collect()))
    }
    /// The addresses, space-separated, as CONFIG GET reports them.
    pub fn render(&self) -> String {
        String::from_utf8_lossy(&self.0.join(&b' ')).into_owned()
    }
}
special_field!(BindAddrs);

/// `replicaof host port` (None: "no one", a master).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaOf(pub Option<(String, u16)>);

impl ReplicaOf {
    fn parse_args(args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        let [host, port] = args else {
            return Err("wrong number of arguments".into());
        };
        if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
            return Ok(ReplicaOf(None));
        }
        match strtoll(port, 10) {
            Some(p) if (0..=65535).contains(&p) => Ok(ReplicaOf(Some((
                String::from_utf8_lossy(host).into_owned(),
                p as u16,
            )))),
            _ => Err("Invalid master port".into()),
        }
    }
    fn render(&self) -> String {
        match &self.0 {
            Some((h, p)) => format!("{h} {p}"),
            None => String::new(),
        }
    }
}
special_field!(ReplicaOf);

/// `latency-tracking-info-percentiles`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Percentiles(pub Vec<f64>);

impl Percentiles {
    fn parse_args(args: &[&[u8]], _cur: &Self) -> Result<Self, String> {
        if args.len() == 1 && args[0].is_empty() {
            return Ok(Percentiles(Vec::new()));
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
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                );
            }
            out.push(d);
        }
        Ok(Percentiles(out))
    }
    fn render(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|d| format_percentile(*d)).collect();
        parts.join(" ")
    }
}
special_field!(Percentiles);

/// The declaration: one line per parameter, `field: Type = "name" | "alias", flags, kind,
/// "default";`. It generates [`Config`] (one public typed field each) and [`PARAMS`] (name,
/// alias, flags, kind, default, and the field's show/store functions).
macro_rules! params {
    ($($(#[$doc:meta])* $field:ident: $ty:ty = $name:literal $(| $alias:literal)?,
        $flags:expr, $kind:expr, $default:literal;)*) => {
        /// The server's configuration: one typed field per parameter of [`PARAMS`], declared
        /// once in config.rs's `params!` table. Hosts and tests may set fields directly; CONFIG
        /// GET renders them.
        #[derive(Clone, Debug)]
        pub struct Config {
            $($(#[$doc])* pub $field: $ty,)*
            /// The config file's `rename-command FROM TO` lines, in order (not a parameter:
            /// CONFIG GET does not show them; `command::apply_renames` applies them).
            pub command_renames: Vec<(Vec<u8>, Vec<u8>)>,
            /// The config file's `user <name> rules...` lines (the words after `user`),
            /// applied by the engine at start (Redis's ACLLoadConfiguredUsers).
            pub acl_users: Vec<Vec<Vec<u8>>>,
        }

        /// Redis 7.0.15's parameters, in config.c's order (CONFIG GET with a pattern lists
        /// them sorted by name; Redis's own order is its dict's, which varies per process).
        pub static PARAMS: &[Param] = &[$(Param {
            name: $name,
            alias: params!(@alias $($alias)?),
            flags: $flags,
            kind: $kind,
            default: $default,
            show: |c: &Config, k: &Kind| <$ty as Field>::show(&c.$field, k),
            store: |c: &mut Config, k: &Kind, args: &[&[u8]]| {
                c.$field = <$ty as Field>::parse(k, args, &c.$field)?;
                Ok(())
            },
        },)*];

        impl Config {
            /// Every field at its type's zero; `Default` then applies the declared defaults.
            fn zeroed() -> Config {
                Config {
                    $($field: Default::default(),)*
                    command_renames: Vec::new(),
                    acl_users: Vec::new(),
                }
            }
        }
    };
    (@alias) => { None };
    (@alias $a:literal) => { Some($a) };
}

params! {
    // Bool configs
    rdbchecksum: bool = "rdbchecksum", IMMUTABLE, BOOL, "yes";
    daemonize: bool = "daemonize", IMMUTABLE, BOOL, "no";
    io_threads_do_reads: bool = "io-threads-do-reads", IMMUTABLE, BOOL, "no";
    always_show_logo: bool = "always-show-logo", IMMUTABLE, BOOL, "no";
    protected_mode: bool = "protected-mode", 0, BOOL, "yes";
    rdbcompression: bool = "rdbcompression", 0, BOOL, "yes";
    rdb_del_sync_files: bool = "rdb-del-sync-files", 0, BOOL, "no";
    activerehashing: bool = "activerehashing", 0, BOOL, "yes";
    stop_writes_on_bgsave_error: bool = "stop-writes-on-bgsave-error", 0, BOOL, "yes";
    set_proc_title: bool = "set-proc-title", IMMUTABLE, BOOL, "yes";
    dynamic_hz: bool = "dynamic-hz", 0, BOOL, "yes";
    /// `lazyfree-lazy-*`: which implicit frees go to the host's background worker.
    lazyfree_lazy_eviction: bool = "lazyfree-lazy-eviction", 0, BOOL, "no";
    lazyfree_lazy_expire: bool = "lazyfree-lazy-expire", 0, BOOL, "no";
    lazyfree_lazy_server_del: bool = "lazyfree-lazy-server-del", 0, BOOL, "no";
    lazyfree_lazy_user_del: bool = "lazyfree-lazy-user-del", 0, BOOL, "no";
    lazyfree_lazy_user_flush: bool = "lazyfree-lazy-user-flush", 0, BOOL, "no";
    repl_disable_tcp_nodelay: bool = "repl-disable-tcp-nodelay", 0, BOOL, "no";
    repl_diskless_sync: bool = "repl-diskless-sync", 0, BOOL, "yes";
    aof_rewrite_incremental_fsync: bool = "aof-rewrite-incremental-fsync", 0, BOOL, "yes";
    no_appendfsync_on_rewrite: bool = "no-appendfsync-on-rewrite", 0, BOOL, "no";
    cluster_require_full_coverage: bool = "cluster-require-full-coverage", 0, BOOL, "yes";
    rdb_save_incremental_fsync: bool = "rdb-save-incremental-fsync", 0, BOOL, "yes";
    aof_load_truncated: bool = "aof-load-truncated", 0, BOOL, "yes";
    aof_use_rdb_preamble: bool = "aof-use-rdb-preamble", 0, BOOL, "yes";
    aof_timestamp_enabled: bool = "aof-timestamp-enabled", 0, BOOL, "no";
    cluster_replica_no_failover: bool = "cluster-replica-no-failover" | "cluster-slave-no-failover", 0, BOOL, "no";
    replica_lazy_flush: bool = "replica-lazy-flush" | "slave-lazy-flush", 0, BOOL, "no";
    replica_serve_stale_data: bool = "replica-serve-stale-data" | "slave-serve-stale-data", 0, BOOL, "yes";
    replica_read_only: bool = "replica-read-only" | "slave-read-only", 0, BOOL, "yes";
    replica_ignore_maxmemory: bool = "replica-ignore-maxmemory" | "slave-ignore-maxmemory", 0, BOOL, "yes";
    jemalloc_bg_thread: bool = "jemalloc-bg-thread", 0, BOOL, "yes";
    activedefrag: bool = "activedefrag", 0, Kind::Bool { check: Some(check_active_defrag) }, "no";
    syslog_enabled: bool = "syslog-enabled", IMMUTABLE, BOOL, "no";
    cluster_enabled: bool = "cluster-enabled", IMMUTABLE, BOOL, "no";
    appendonly: bool = "appendonly", HOST, BOOL, "no";
    cluster_allow_reads_when_down: bool = "cluster-allow-reads-when-down", 0, BOOL, "no";
    cluster_allow_pubsubshard_when_down: bool = "cluster-allow-pubsubshard-when-down", 0, BOOL, "yes";
    crash_log_enabled: bool = "crash-log-enabled", 0, BOOL, "yes";
    crash_memcheck_enabled: bool = "crash-memcheck-enabled", 0, BOOL, "yes";
    use_exit_on_panic: bool = "use-exit-on-panic", HIDDEN, BOOL, "no";
    disable_thp: bool = "disable-thp", IMMUTABLE, BOOL, "yes";
    cluster_allow_replica_migration: bool = "cluster-allow-replica-migration", 0, BOOL, "yes";
    replica_announced: bool = "replica-announced", 0, BOOL, "yes";
    latency_tracking: bool = "latency-tracking", 0, BOOL, "yes";
    aof_disable_auto_gc: bool = "aof-disable-auto-gc", 0, BOOL, "no";
    replica_ignore_disk_write_errors: bool = "replica-ignore-disk-write-errors", 0, BOOL, "no";
    // String configs
    aclfile: Vec<u8> = "aclfile", IMMUTABLE, STR, "";
    unixsocket: Vec<u8> = "unixsocket", IMMUTABLE, STR, "";
    pidfile: Vec<u8> = "pidfile", IMMUTABLE, STR, "";
    replica_announce_ip: Vec<u8> = "replica-announce-ip" | "slave-announce-ip", 0, STR, "";
    masteruser: Vec<u8> = "masteruser", 0, STR, "";
    cluster_announce_ip: Vec<u8> = "cluster-announce-ip", 0, STR, "";
    cluster_config_file: Vec<u8> = "cluster-config-file", IMMUTABLE, STR, "nodes.conf";
    cluster_announce_hostname: Vec<u8> = "cluster-announce-hostname", 0, str_check(check_hostname), "";
    syslog_ident: Vec<u8> = "syslog-ident", IMMUTABLE, STR, "redis";
    dbfilename: Vec<u8> = "dbfilename", PROTECTED | HOST, str_check(check_dbfilename), "dump.rdb";
    appendfilename: Vec<u8> = "appendfilename", IMMUTABLE, str_check(check_aof_filename), "appendonly.aof";
    appenddirname: Vec<u8> = "appenddirname", IMMUTABLE, str_check(check_aof_dirname), "appendonlydir";
    server_cpulist: Vec<u8> = "server_cpulist", IMMUTABLE, STR, "";
    bio_cpulist: Vec<u8> = "bio_cpulist", IMMUTABLE, STR, "";
    aof_rewrite_cpulist: Vec<u8> = "aof_rewrite_cpulist", IMMUTABLE, STR, "";
    bgsave_cpulist: Vec<u8> = "bgsave_cpulist", IMMUTABLE, STR, "";
    ignore_warnings: Vec<u8> = "ignore-warnings", 0, STR, "";
    proc_title_template: Vec<u8> = "proc-title-template", 0, str_check(check_proc_title), "{title} {listen-addr} {server-mode}";
    bind_source_addr: Vec<u8> = "bind-source-addr", 0, STR, "";
    logfile: Vec<u8> = "logfile", IMMUTABLE, STR, "";
    masterauth: Vec<u8> = "masterauth", 0, STR, "";
    /// `requirepass` (None when empty).
    requirepass: Option<Vec<u8>> = "requirepass", 0, STR, "";
    // Enum configs
    supervised: Choice = "supervised", IMMUTABLE, enm(SUPERVISED), "no";
    syslog_facility: Choice = "syslog-facility", IMMUTABLE, enm(SYSLOG_FACILITY), "local0";
    repl_diskless_load: Choice = "repl-diskless-load", 0, enm(DISKLESS_LOAD), "disabled";
    /// The host filters its log lines by it (HOST: CONFIG SET tells it).
    loglevel: Choice = "loglevel", HOST, enm(LOGLEVEL), "notice";
    maxmemory_policy: MaxmemoryPolicy = "maxmemory-policy", 0, enm(MAXMEMORY_POLICY), "noeviction";
    /// When the host fsyncs the AOF.
    appendfsync: AppendFsync = "appendfsync", HOST, enm(APPENDFSYNC), "everysec";
    oom_score_adj: Choice = "oom-score-adj", 0, enm(OOM_SCORE_ADJ), "no";
    acl_pubsub_default: Choice = "acl-pubsub-default", 0, enm(ACL_PUBSUB), "resetchannels";
    sanitize_dump_payload: Choice = "sanitize-dump-payload", 0, enm(SANITIZE), "no";
    enable_protected_configs: ProtectedAction = "enable-protected-configs", IMMUTABLE, enm(PROTECTED_ACTION), "no";
    enable_debug_command: ProtectedAction = "enable-debug-command", IMMUTABLE, enm(PROTECTED_ACTION), "no";
    enable_module_command: ProtectedAction = "enable-module-command", IMMUTABLE, enm(PROTECTED_ACTION), "no";
    cluster_preferred_endpoint_type: Choice = "cluster-preferred-endpoint-type", 0, enm(ENDPOINT), "ip";
    propagation_error_behavior: Choice = "propagation-error-behavior", 0, enm(PROPAGATION_ERROR), "ignore";
    shutdown_on_sigint: Choice = "shutdown-on-sigint", MULTI_ARG, SHUTDOWN_KIND, "default";
    shutdown_on_sigterm: Choice = "shutdown-on-sigterm", MULTI_ARG, SHUTDOWN_KIND, "default";
    // Integer configs
    databases: usize = "databases", IMMUTABLE, int(1, INT_MAX), "16";
    /// `port`: the TCP port (0: none).
    port: u16 = "port", 0, int(0, 65535), "6379";
    io_threads: i64 = "io-threads", IMMUTABLE, int(1, 128), "1";
    auto_aof_rewrite_percentage: u64 = "auto-aof-rewrite-percentage", 0, int(0, INT_MAX), "100";
    cluster_replica_validity_factor: i64 = "cluster-replica-validity-factor" | "cluster-slave-validity-factor", 0, int(0, INT_MAX), "10";
    list_max_listpack_size: i64 = "list-max-listpack-size" | "list-max-ziplist-size", 0, int(INT_MIN, INT_MAX), "-2";
    tcp_keepalive: i64 = "tcp-keepalive", 0, int(0, INT_MAX), "300";
    cluster_migration_barrier: i64 = "cluster-migration-barrier", 0, int(0, INT_MAX), "1";
    active_defrag_cycle_min: i64 = "active-defrag-cycle-min", 0, int(1, 99), "1";
    active_defrag_cycle_max: i64 = "active-defrag-cycle-max", 0, int(1, 99), "25";
    active_defrag_threshold_lower: i64 = "active-defrag-threshold-lower", 0, int(0, 1000), "10";
    active_defrag_threshold_upper: i64 = "active-defrag-threshold-upper", 0, int(0, 1000), "100";
    lfu_log_factor: i64 = "lfu-log-factor", 0, int(0, INT_MAX), "10";
    lfu_decay_time: i64 = "lfu-decay-time", 0, int(0, INT_MAX), "1";
    replica_priority: i64 = "replica-priority" | "slave-priority", 0, int(0, INT_MAX), "100";
    repl_diskless_sync_delay: i64 = "repl-diskless-sync-delay", 0, int(0, INT_MAX), "5";
    maxmemory_samples: i64 = "maxmemory-samples", 0, int(1, INT_MAX), "5";
    maxmemory_eviction_tenacity: i64 = "maxmemory-eviction-tenacity", 0, int(0, 100), "10";
    /// `timeout`: close a client idle this many seconds (0 = never).
    timeout_secs: u64 = "timeout", 0, int(0, INT_MAX), "0";
    replica_announce_port: i64 = "replica-announce-port" | "slave-announce-port", 0, int(0, 65535), "0";
    tcp_backlog: i64 = "tcp-backlog", IMMUTABLE, int(0, INT_MAX), "511";
    cluster_port: i64 = "cluster-port", IMMUTABLE, int(0, 65535), "0";
    cluster_announce_bus_port: i64 = "cluster-announce-bus-port", 0, int(0, 65535), "0";
    cluster_announce_port: i64 = "cluster-announce-port", 0, int(0, 65535), "0";
    cluster_announce_tls_port: i64 = "cluster-announce-tls-port", 0, int(0, 65535), "0";
    repl_timeout: i64 = "repl-timeout", 0, int(1, INT_MAX), "60";
    repl_ping_replica_period: i64 = "repl-ping-replica-period" | "repl-ping-slave-period", 0, int(1, INT_MAX), "10";
    list_compress_depth: i64 = "list-compress-depth", 0, int(0, INT_MAX), "0";
    rdb_key_save_delay: i64 = "rdb-key-save-delay", HIDDEN, int(INT_MIN, INT_MAX), "0";
    key_load_delay: i64 = "key-load-delay", HIDDEN, int(INT_MIN, INT_MAX), "0";
    active_expire_effort: i64 = "active-expire-effort", 0, int(1, 10), "1";
    /// `hz`, capped to 1..=500 as Redis's updateHZ does.
    hz: u32 = "hz", 0, HZ, "10";
    min_replicas_to_write: i64 = "min-replicas-to-write" | "min-slaves-to-write", 0, int(0, INT_MAX), "0";
    min_replicas_max_lag: i64 = "min-replicas-max-lag" | "min-slaves-max-lag", 0, int(0, INT_MAX), "10";
    watchdog_period: i64 = "watchdog-period", HIDDEN, int(0, INT_MAX), "0";
    shutdown_timeout: i64 = "shutdown-timeout", 0, int(0, INT_MAX), "10";
    repl_diskless_sync_max_replicas: i64 = "repl-diskless-sync-max-replicas", 0, int(0, INT_MAX), "0";
    // Unsigned int configs
    maxclients: u64 = "maxclients", 0, uint(1, UINT_MAX), "10000";
    unixsocketperm: i64 = "unixsocketperm", IMMUTABLE, num(0, 0o777, true, Num::Octal), "0";
    socket_mark_id: i64 = "socket-mark-id", IMMUTABLE, uint(0, UINT_MAX), "0";
    // Unsigned long configs (Redis checks these bounds signed)
    active_defrag_max_scan_fields: i64 = "active-defrag-max-scan-fields", 0, int(1, LONG_MAX), "1000";
    slowlog_max_len: u64 = "slowlog-max-len", 0, int(0, LONG_MAX), "128";
    acllog_max_len: i64 = "acllog-max-len", 0, int(0, LONG_MAX), "128";
    // Long long configs
    busy_reply_threshold: i64 = "busy-reply-threshold" | "lua-time-limit", 0, int(0, LONG_MAX), "5000";
    cluster_node_timeout: i64 = "cluster-node-timeout", 0, int(0, LONG_MAX), "15000";
    slowlog_log_slower_than: i64 = "slowlog-log-slower-than", 0, int(-1, LONG_MAX), "10000";
    latency_monitor_threshold: i64 = "latency-monitor-threshold", 0, int(0, LONG_MAX), "0";
    proto_max_bulk_len: u64 = "proto-max-bulk-len", 0, mem(1024 * 1024, LONG_MAX, false), "536870912";
    stream_node_max_entries: i64 = "stream-node-max-entries", 0, int(0, LONG_MAX), "100";
    repl_backlog_size: u64 = "repl-backlog-size", 0, mem(1, LONG_MAX, false), "1048576";
    // Unsigned long long configs
    maxmemory: u64 = "maxmemory", 0, mem(0, ULLONG_MAX, true), "0";
    /// Oxidis's own (Redis has none): the most a Lua state may hold, so `string.rep` to
    /// gigabytes ends in `not enough memory` instead of taking the host down; 0 = no limit.
    /// HIDDEN keeps `CONFIG GET *` as redis-server's.
    lua_memory_limit: u64 = "lua-memory-limit", HIDDEN, mem(0, LONG_MAX, true), "1073741824";
    cluster_link_sendbuf_limit: i64 = "cluster-link-sendbuf-limit", 0, mem(0, ULLONG_MAX, true), "0";
    // size_t configs
    hash_max_listpack_entries: u64 = "hash-max-listpack-entries" | "hash-max-ziplist-entries", 0, uint(0, LONG_MAX), "512";
    set_max_intset_entries: u64 = "set-max-intset-entries", 0, uint(0, LONG_MAX), "512";
    zset_max_listpack_entries: u64 = "zset-max-listpack-entries" | "zset-max-ziplist-entries", 0, uint(0, LONG_MAX), "128";
    active_defrag_ignore_bytes: i64 = "active-defrag-ignore-bytes", 0, mem(1, LONG_MAX, true), "104857600";
    hash_max_listpack_value: u64 = "hash-max-listpack-value" | "hash-max-ziplist-value", 0, mem(0, LONG_MAX, true), "64";
    stream_node_max_bytes: i64 = "stream-node-max-bytes", 0, mem(0, LONG_MAX, true), "4096";
    zset_max_listpack_value: u64 = "zset-max-listpack-value" | "zset-max-ziplist-value", 0, mem(0, LONG_MAX, true), "64";
    hll_sparse_max_bytes: i64 = "hll-sparse-max-bytes", 0, mem(0, LONG_MAX, true), "3000";
    tracking_table_max_keys: i64 = "tracking-table-max-keys", 0, uint(0, LONG_MAX), "1000000";
    client_query_buffer_limit: usize = "client-query-buffer-limit", 0, mem(1024 * 1024, LONG_MAX, true), "1073741824";
    maxmemory_clients: i64 = "maxmemory-clients", 0, num(-100, LONG_MAX, false, Num::MemoryPercent), "0";
    // Other numeric configs
    repl_backlog_ttl: i64 = "repl-backlog-ttl", 0, int(0, LONG_MAX), "3600";
    auto_aof_rewrite_min_size: u64 = "auto-aof-rewrite-min-size", 0, mem(0, LONG_MAX, false), "67108864";
    loading_process_events_interval_bytes: i64 = "loading-process-events-interval-bytes", HIDDEN, int(1024, INT_MAX), "2097152";
    // TLS configs (Debian's build has TLS)
    tls_port: i64 = "tls-port", 0, int(0, 65535), "0";
    tls_session_cache_size: i64 = "tls-session-cache-size", 0, int(0, INT_MAX), "20480";
    tls_session_cache_timeout: i64 = "tls-session-cache-timeout", 0, int(0, INT_MAX), "300";
    tls_cluster: bool = "tls-cluster", 0, BOOL, "no";
    tls_replication: bool = "tls-replication", 0, BOOL, "no";
    tls_auth_clients: Choice = "tls-auth-clients", 0, enm(TLS_AUTH), "yes";
    tls_prefer_server_ciphers: bool = "tls-prefer-server-ciphers", 0, BOOL, "no";
    tls_session_caching: bool = "tls-session-caching", 0, BOOL, "yes";
    tls_cert_file: Vec<u8> = "tls-cert-file", 0, STR, "";
    tls_key_file: Vec<u8> = "tls-key-file", 0, STR, "";
    tls_key_file_pass: Vec<u8> = "tls-key-file-pass", 0, STR, "";
    tls_client_cert_file: Vec<u8> = "tls-client-cert-file", 0, STR, "";
    tls_client_key_file: Vec<u8> = "tls-client-key-file", 0, STR, "";
    tls_client_key_file_pass: Vec<u8> = "tls-client-key-file-pass", 0, STR, "";
    tls_dh_params_file: Vec<u8> = "tls-dh-params-file", 0, STR, "";
    tls_ca_cert_file: Vec<u8> = "tls-ca-cert-file", 0, STR, "";
    tls_ca_cert_dir: Vec<u8> = "tls-ca-cert-dir", 0, STR, "";
    tls_protocols: Vec<u8> = "tls-protocols", 0, STR, "";
    tls_ciphers: Vec<u8> = "tls-ciphers", 0, STR, "";
    tls_ciphersuites: Vec<u8> = "tls-ciphersuites", 0, STR, "";
    // Special configs
    dir: Vec<u8> = "dir", PROTECTED | HOST, str_check(check_dir), "/";
    /// The save points (`save ""`: none).
    save: SavePoints = "save", MULTI_ARG | APPEND_LINES, SPECIAL, "3600 1 300 100 60 10000";
    client_obuf_limits: ObufLimits = "client-output-buffer-limit", MULTI_ARG, SPECIAL, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    oom_score_adj_values: OomScoreAdjValues = "oom-score-adj-values", MULTI_ARG, SPECIAL, "0 200 800";
    notify_keyspace_events: KeyspaceEvents = "notify-keyspace-events", 0, SPECIAL, "";
    bind: BindAddrs = "bind", MULTI_ARG, SPECIAL, "* -::*";
    replicaof: ReplicaOf = "replicaof" | "slaveof", IMMUTABLE | MULTI_ARG, SPECIAL, "";
    latency_tracking_info_percentiles: Percentiles = "latency-tracking-info-percentiles", MULTI_ARG, SPECIAL, "50 99 99.9";

}

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

/// C's "%f" then Redis's trimDoubleString (no trailing zeros or point).
pub(crate) fn format_percentile(d: f64) -> String {
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

impl Default for Config {
    fn default() -> Config {
        let mut c = Config::zeroed();
        for (i, p) in PARAMS.iter().enumerate() {
            if (p.show)(&c, &p.kind) == p.default.as_bytes() {
                continue; // The zero is the default (and "" is no replicaof, which no args set).
            }
            // The defaults are Redis's own texts: they always parse.
            if let Err(e) = c.set_args(i, &p.split(p.default.as_bytes())) {
                debug_assert!(false, "default of {}: {e}", p.name);
            }
        }
        c
    }
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
        let p = &PARAMS[i];
        (p.show)(self, &p.kind)
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

    /// Sets one parameter by name from a single value (CONFIG SET's splitting), without the
    /// immutability checks: for `--name value` flags and hosts. Errors are Redis's reasons.
    pub fn set(&mut self, name: &str, value: &[u8]) -> Result<(), String> {
        let e = lookup(name.as_bytes())
            .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        self.set_args(e.param, &PARAMS[e.param].split(value))
    }

    /// CONFIG SET name value [name value ...]: all or nothing, with Redis 7.0's checks and
    /// texts. `local`: the client is on a loopback address (for enable-protected-configs local).
    /// Ok(true): a parameter the host applies was set (see `Event::ConfigChanged`).
    pub fn config_set(&mut self, args: &[&[u8]], local: bool) -> Result<bool, SetError> {
        if !args.len().is_multiple_of(2) {
            return Err(SetError::Syntax);
        }
        let mut chosen: Vec<(Entry, &[u8])> = Vec::new();
        let mut first_err: Option<SetError> = None;
        let protected_ok = self.enable_protected_configs.allows(local);
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
        let mut host = false;
        for (e, value) in chosen {
            let p = &PARAMS[e.param];
            next.set_args(e.param, &p.split(value))
                .map_err(|why| SetError::Failed(e.name.as_bytes().to_vec(), why))?;
            host |= p.flags & HOST != 0;
        }
        *self = next;
        Ok(host)
    }

    /// Sets parameter `i` from its arguments (config.c's interface.set): validates them and
    /// stores the typed field.
    fn set_args(&mut self, i: usize, args: &[&[u8]]) -> Result<(), String> {
        let p = &PARAMS[i];
        (p.store)(self, &p.kind, args)
    }

    /// Applies a redis.conf text (loadServerConfigFromString): one directive per line,
    /// sdssplitargs quoting, `#` comments. `rename-command` is kept in
    /// `command_renames`; `include`, `user`, `loadmodule`
    /// and `sentinel` are refused. The error is Redis's report:
    /// "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at
    /// line N\n>>> 'line'\nreason".
    pub fn load_conf(&mut self, text: &str) -> Result<(), String> {
        // Parameters whose later lines add to the first (`save`) and that were seen already.
        let mut appending: Vec<usize> = Vec::new();
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
                let p = &PARAMS[e.param];
                if p.flags & MULTI_ARG == 0 && args.len() != 2 {
                    return Err(fail("wrong number of arguments"));
                }
                let mut refs: Vec<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
                // Redis splits a multi-argument parameter given as one value (`save "3600 1"`,
                // which is how `--save "3600 1"` reaches the config).
                if p.flags & MULTI_ARG != 0 && args.len() == 2 && !args[1].is_empty() {
                    refs = p.split(&args[1]);
                }
                let cur;
                if p.flags & APPEND_LINES != 0 {
                    if appending.contains(&e.param) {
                        cur = self.value(e.param);
                        let mut all = p.split(&cur);
                        all.append(&mut refs);
                        refs = all;
                    } else {
                        appending.push(e.param);
                    }
                }
                self.set_args(e.param, &refs).map_err(|r| fail(&r))?;
                continue;
            }
            if name == b"user" && args.len() >= 2 {
                // Redis's ACLAppendUserForLoading: the rules must apply to a scratch user.
                let words: Vec<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
                if self.acl_users.iter().any(|u| u[0] == args[1]) {
                    return Err(fail(&format!(
                        "Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files",
                        String::from_utf8_lossy(&args[1])
                    )));
                }
                let mut scratch = crate::acl::Acl::new(None);
                scratch
                    .config_user(&words, self.acl_pubsub_default.0 == 1)
                    .map_err(|e| fail(&e))?;
                self.acl_users.push(args[1..].to_vec());
                continue;
            }
            let deprecated = matches!(
                name.as_slice(),
                b"list-max-ziplist-entries" | b"list-max-ziplist-value" | b"lua-replicate-commands"
            );
            if deprecated && args.len() == 2 {
                continue;
            }
            if name == b"rename-command" && args.len() == 3 {
                // Redis 7.0 renames only from the config file (not CONFIG SET).
                self.command_renames
                    .push((args[1].clone(), args[2].clone()));
                if let Err((_, why)) = crate::command::apply_renames(&self.command_renames) {
                    return Err(fail(why));
                }
                continue;
            }
            let reason = match name.as_slice() {
                b"include" if args.len() == 2 => {
                    "include is not supported by Oxidis: pass one config file"
                }
                b"loadmodule" if args.len() >= 2 => "loadmodule is not supported by Oxidis",
                b"sentinel" => "sentinel directive while not in sentinel mode",
                _ => "Bad directive or wrong number of arguments",
            };
            return Err(fail(reason));
        }
        Ok(())
    }
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
            strtoll(a, 8).ok_or_else(|| "argument couldn't be parsed as an octal number".into())
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
        // One quoted value of a multi-argument parameter is split (`--save "3600 1"`).
        let mut q = Config::default();
        q.load_conf("save \"60 5 10 2\"\n").unwrap();
        assert_eq!(get(&q, "save"), "60 5 10 2");
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

    /// Parameters that cannot hold a value other than their default, and why.
    const NO_OTHER_VALUE: &[(&str, &str)] = &[
        (
            "activedefrag",
            "yes is refused: defragmentation needs Redis's own jemalloc (Debian's redis-server refuses it too)",
        ),
    ];

    /// Special parameters: a config-file value other than the default, and CONFIG GET's text.
    const SPECIAL_VALUES: &[(&str, &str, &str)] = &[
        ("save", "100 10 5 1", "100 10 5 1"),
        (
            "client-output-buffer-limit",
            "normal 1mb 2mb 3",
            "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ),
        ("oom-score-adj-values", "1 2 3", "1 2 3"),
        ("notify-keyspace-events", "KEA", "AKE"),
        ("bind", "127.0.0.2 ::1", "127.0.0.2 ::1"),
        ("latency-tracking-info-percentiles", "50 99.5", "50 99.5"),
        ("replicaof", "127.0.0.1 6380", "127.0.0.1 6380"),
    ];

    /// A valid value other than `p`'s default, derived from its declaration: (the config-file
    /// value, what CONFIG GET then reports). None for the parameters in NO_OTHER_VALUE.
    fn other_value(p: &Param) -> Option<(String, String)> {
        if NO_OTHER_VALUE.iter().any(|(n, _)| *n == p.name) {
            return None;
        }
        match p.kind {
            Kind::Bool { .. } => {
                let v = if p.default == "yes" { "no" } else { "yes" };
                Some((v.into(), v.into()))
            }
            Kind::Num {
                lo,
                hi,
                unsigned,
                num,
                cap,
            } => {
                let d = parse_numeric(p.default.as_bytes(), num).unwrap();
                let fits = |v: i64| {
                    check_bounds(v, lo, hi, unsigned, num).is_ok()
                        && cap.is_none_or(|(a, b)| (a..=b).contains(&v))
                };
                let v = [d + 1, d - 1].into_iter().find(|v| fits(*v))?;
                let text = String::from_utf8(num_show(&p.kind, v)).unwrap();
                Some((text.clone(), text))
            }
            Kind::Enum { names, .. } => {
                let d = enum_parse(&p.kind, &[p.default.as_bytes()]).unwrap();
                let (n, _) = names
                    .iter()
                    .find(|(n, v)| *v != d && enum_name(names, *v) == *n)?;
                Some((n.to_string(), n.to_string()))
            }
            Kind::Str { .. } => Some(("oxidis".into(), "oxidis".into())),
            Kind::Special => SPECIAL_VALUES
                .iter()
                .find(|(n, _, _)| *n == p.name)
                .map(|(_, v, shown)| (v.to_string(), shown.to_string())),
        }
    }

    /// Every parameter, set by a redis.conf line to a value other than its default, reads back
    /// through the engine's CONFIG GET as exactly that value: the declaration, conf parsing,
    /// the typed field and CONFIG GET agree for all of them.
    #[test]
    fn every_parameter_round_trips_from_a_conf_file() {
        use crate::engine::{ConnInfo, Engine};
        use crate::resp::encode_request;
        use crate::time::UnixMillis;
        let mut text = String::new();
        let mut expected = Vec::new();
        for p in PARAMS {
            match other_value(p) {
                Some((value, shown)) => {
                    assert_ne!(shown, p.default, "{}: not a different value", p.name);
                    text.push_str(&format!("{} {value}\n", p.name));
                    expected.push((p.name, shown));
                }
                None => assert!(
                    NO_OTHER_VALUE.iter().any(|(n, _)| *n == p.name),
                    "{}: no other value derived and none listed",
                    p.name
                ),
            }
        }
        assert_eq!(expected.len() + NO_OTHER_VALUE.len(), PARAMS.len());
        let mut cfg = Config::default();
        cfg.load_conf(&text).unwrap();
        let mut eng = Engine::new(cfg, 1);
        let now = UnixMillis(1);
        let id = eng.connect(now, ConnInfo::default());
        let mut out = Vec::new();
        // requirepass is among them.
        eng.feed(now, id, &encode_request(&["AUTH", "oxidis"]));
        eng.drain_output(id, &mut out);
        assert_eq!(out, b"+OK\r\n");
        for (name, shown) in expected {
            out.clear();
            eng.feed(now, id, &encode_request(&["CONFIG", "GET", name]));
            eng.drain_output(id, &mut out);
            let want = format!(
                "*2\r\n${}\r\n{name}\r\n${}\r\n{shown}\r\n",
                name.len(),
                shown.len()
            );
            assert_eq!(String::from_utf8_lossy(&out), want, "{name}");
        }
        // The listed exceptions do refuse another value.
        let mut c = Config::default();
        assert!(c.set("activedefrag", b"yes").is_err());
        assert!(c.set("replicaof", b"127.0.0.1 99999").is_err());
    }

    #[test]
    fn config_set_of_a_host_parameter_queues_an_event() {
        use crate::engine::{ConnInfo, Engine, Event};
        use crate::resp::encode_request;
        use crate::time::UnixMillis;
        let mut eng = Engine::new(Config::default(), 1);
        let now = UnixMillis(1);
        let id = eng.connect(now, ConnInfo::default());
        let mut out = Vec::new();
        eng.feed(now, id, &encode_request(&["CONFIG", "SET", "hz", "20"]));
        assert_eq!(eng.poll_event(), None);
        eng.feed(
            now,
            id,
            &encode_request(&["CONFIG", "SET", "hz", "30", "appendfsync", "always"]),
        );
        assert_eq!(eng.poll_event(), Some(Event::ConfigChanged));
        assert_eq!(eng.poll_event(), None);
        assert_eq!(eng.config().appendfsync, AppendFsync::Always);
        eng.drain_output(id, &mut out);
        assert_eq!(out, b"+OK\r\n+OK\r\n");
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
