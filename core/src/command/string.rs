//! The string command group (Redis's t_string.c).
//!
//! Values are `Value::Int` (Redis's "int" encoding) or `Value::Str`. Commands that store what
//! the client sent (SET, MSET, APPEND on a new key ...) int-encode like Redis's
//! `tryObjectEncoding`; commands that build a string (APPEND, SETRANGE, INCRBYFLOAT) store it
//! as `Str`, as Redis stores a raw/embstr string there.

use super::{is, notify, parse_int, CmdError, Ctx};
use crate::cnum::parse_i64;
use crate::resp::ReplyWriter;
use crate::types::longdouble::LongDouble;
use crate::types::{CompactBytes, Value};

/// A string value's bytes (an int is formatted into `buf`), or WRONGTYPE.
fn str_of<'a>(v: &'a Value, buf: &'a mut itoa::Buffer) -> Result<&'a [u8], CmdError> {
    v.string_bytes(buf).ok_or(CmdError::WrongType)
}

/// Moves a string value's bytes out (no copy for a heap string), leaving an empty string the
/// caller then overwrites; WRONGTYPE leaves other values untouched.
fn take_bytes(v: &mut Value) -> Result<Vec<u8>, CmdError> {
    if let Value::Str(s) = v {
        return Ok(std::mem::replace(s, CompactBytes::new(b"")).into_vec());
    }
    Ok(str_of(v, &mut itoa::Buffer::new())?.to_vec())
}

/// Replies with a string value as a bulk string; WRONGTYPE (nothing written) for other types.
fn reply_string(out: &mut ReplyWriter, v: &Value) -> Result<(), CmdError> {
    let mut buf = itoa::Buffer::new();
    out.bulk(str_of(v, &mut buf)?);
    Ok(())
}

/// Redis's `checkStringLength`: the result of growing a string must fit proto-max-bulk-len.
fn check_string_length(ctx: &Ctx, size: u64, append: u64) -> Result<(), CmdError> {
    match size.checked_add(append) {
        Some(total) if total <= ctx.srv.config.proto_max_bulk_len => Ok(()),
        _ => Err(CmdError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

// Redis's OBJ_* flags for SET and GETEX options.
const NX: u16 = 1 << 0;
const XX: u16 = 1 << 1;
const EX: u16 = 1 << 2;
const PX: u16 = 1 << 3;
const KEEPTTL: u16 = 1 << 4;
const GET: u16 = 1 << 5;
const EXAT: u16 = 1 << 6;
const PXAT: u16 = 1 << 7;
const PERSIST: u16 = 1 << 8;
const ANY_EXPIRE: u16 = EX | PX | EXAT | PXAT;

/// Redis's `parseExtendedStringArgumentsOrReply`: the options after SET's value (`for_set`) or
/// GETEX's key. An option repeated is fine (the last expire value wins); a conflicting one, an
/// option the command does not take, or an expire option without a value is a syntax error.
fn parse_extended<'a>(
    args: &[&'a [u8]],
    for_set: bool,
) -> Result<(u16, Option<&'a [u8]>), CmdError> {
    let mut flags = 0u16;
    let mut expire = None;
    let mut j = if for_set { 3 } else { 2 };
    while j < args.len() {
        let opt = args[j];
        let next = args.get(j + 1).copied();
        // For each option, the flags it cannot be combined with.
        let (flag, conflicts, takes_value) = if for_set && is(opt, "NX") {
            (NX, XX, false)
        } else if for_set && is(opt, "XX") {
            (XX, NX, false)
        } else if for_set && is(opt, "GET") {
            (GET, 0, false)
        } else if for_set && is(opt, "KEEPTTL") {
            (KEEPTTL, PERSIST | ANY_EXPIRE, false)
        } else if !for_set && is(opt, "PERSIST") {
            (PERSIST, ANY_EXPIRE | KEEPTTL, false)
        } else if is(opt, "EX") {
            (EX, KEEPTTL | PERSIST | (ANY_EXPIRE & !EX), true)
        } else if is(opt, "PX") {
            (PX, KEEPTTL | PERSIST | (ANY_EXPIRE & !PX), true)
        } else if is(opt, "EXAT") {
            (EXAT, KEEPTTL | PERSIST | (ANY_EXPIRE & !EXAT), true)
        } else if is(opt, "PXAT") {
            (PXAT, KEEPTTL | PERSIST | (ANY_EXPIRE & !PXAT), true)
        } else {
            return Err(CmdError::Syntax);
        };
        if flags & conflicts != 0 || (takes_value && next.is_none()) {
            return Err(CmdError::Syntax);
        }
        flags |= flag;
        if takes_value {
            expire = next;
            j += 1;
        }
        j += 1;
    }
    Ok((flags, expire))
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry time in ms. Non-positive values
/// and overflow (seconds * 1000, or relative + now) are "invalid expire time in '<cmd>' command".
fn expire_at_ms(ctx: &Ctx, arg: &[u8], flags: u16) -> Result<u64, CmdError> {
    let invalid = || CmdError::err(format!("invalid expire time in '{}' command", ctx.cmd.name));
    let mut ms = parse_int(arg)?;
    let seconds = flags & (EX | EXAT) != 0;
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if seconds {
        ms *= 1000;
    }
    if flags & (EX | PX) != 0 {
        // C's signed overflow wraps here; a wrapped (negative) time is refused below.
        ms = ms.wrapping_add(ctx.now.as_millis() as i64);
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms as u64)
}

/// What SET-family commands answer.
#[derive(Clone, Copy, PartialEq)]
enum SetReplies {
    /// +OK when set, nil when NX/XX stopped it (SET, SETEX, PSETEX).
    OkNil,
    /// :1 when set, :0 when not (SETNX).
    OneZero,
}

/// Redis's `setGenericCommand`, shared by SET, SETNX, SETEX and PSETEX.
fn set_generic(
    ctx: &mut Ctx,
    flags: u16,
    key: &[u8],
    val: &[u8],
    expire: Option<&[u8]>,
    replies: SetReplies,
) -> Result<(), CmdError> {
    let now = ctx.now;
    let when = match expire {
        Some(e) => Some(expire_at_ms(ctx, e, flags)?),
        None => None,
    };
    let (db, _) = ctx.db_out();
    // With GET the reply is the old value (or nil), whatever NX/XX decide.
    let mut old: Option<Option<Vec<u8>>> = None;
    if flags & GET != 0 {
        let mut buf = itoa::Buffer::new();
        old = Some(match db.lookup_read(key, now) {
            Some(v) => Some(str_of(v, &mut buf)?.to_vec()),
            None => None,
        });
    }
    let abort = if flags & (NX | XX) == 0 {
        // Nothing to decide: no lookup, the insert below is the one probe of the key table
        // (a key whose TTL passed is still expired first, as a lookup would, for the stats,
        // the expired-key log and the AOF).
        db.expire_if_needed(key, now);
        false
    } else {
        let found = db.get(key, now).is_some();
        (flags & NX != 0 && found) || (flags & XX != 0 && !found)
    };
    if !abort {
        db.set(key, Value::string(val), flags & KEEPTTL != 0);
        if let Some(at) = when {
            // A time already past is stored as is: the key expires on its next access.
            db.set_expire(key, at);
        }
    }
    if !abort && flags & PXAT == 0 {
        if let Some(at) = when {
            // Propagated as SET key value PXAT <absolute ms>, replayable at any time.
            let at = at.to_string();
            ctx.propagate(&[b"SET", key, val, b"PXAT", at.as_bytes()]);
        }
    }
    if !abort {
        ctx.key_modified(key);
        // Redis notifies before it replies.
        ctx.notify(notify::STRING, "set", key);
        if when.is_some() {
            ctx.notify(notify::GENERIC, "expire", key);
        }
    }
    let (_, mut out) = ctx.db_out();
    match (old, replies, abort) {
        (Some(Some(v)), _, _) => out.bulk(&v),
        (Some(None), _, _) => out.nil(),
        (None, SetReplies::OkNil, false) => out.ok(),
        (None, SetReplies::OkNil, true) => out.nil(),
        (None, SetReplies::OneZero, abort) => out.int(!abort as i64),
    }
    Ok(())
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]
pub fn set(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (flags, expire) = parse_extended(args, true)?;
    set_generic(ctx, flags, args[1], args[2], expire, SetReplies::OkNil)
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    set_generic(ctx, NX, args[1], args[2], None, SetReplies::OneZero)
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    set_generic(ctx, EX, args[1], args[3], Some(args[2]), SetReplies::OkNil)
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    set_generic(ctx, PX, args[1], args[3], Some(args[2]), SetReplies::OkNil)
}

/// GET key
pub fn get(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    match db.lookup_read(args[1], now) {
        Some(v) => reply_string(&mut out, v),
        None => {
            out.nil();
            Ok(())
        }
    }
}

/// GETSET key value (replaces the value and drops any TTL)
pub fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    match db.lookup_read(args[1], now) {
        Some(v) => reply_string(&mut out, v)?,
        None => out.nil(),
    }
    db.set(args[1], Value::string(args[2]), false);
    ctx.key_modified(args[1]);
    ctx.notify(notify::STRING, "set", args[1]);
    Ok(())
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    match db.lookup_read(args[1], now) {
        Some(v) => {
            reply_string(&mut out, v)?;
            db.remove(args[1]);
        }
        None => {
            out.nil();
            return Ok(());
        }
    }
    ctx.key_modified(args[1]);
    ctx.notify(notify::GENERIC, "del", args[1]);
    Ok(())
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]
///
/// As in Redis, a missing key answers nil before the expire value is even validated.
pub fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (flags, expire) = parse_extended(args, false)?;
    let now = ctx.now;
    let key = args[1];
    {
        let (db, _) = ctx.db_out();
        match db.lookup_read(key, now) {
            None => {
                ctx.db_out().1.nil();
                return Ok(());
            }
            Some(v) if !v.is_string() => return Err(CmdError::WrongType),
            Some(_) => {}
        }
    }
    let when = match expire {
        Some(e) => Some(expire_at_ms(ctx, e, flags)?),
        None => None,
    };
    let (db, mut out) = ctx.db_out();
    if let Some(v) = db.get(key, now) {
        reply_string(&mut out, v)?;
    }
    let changed = match when {
        // An absolute time already past deletes the key (checkAlreadyExpired).
        Some(at) if flags & (EXAT | PXAT) != 0 && at <= now.as_millis() => {
            db.remove(key);
            ctx.propagate(&[b"DEL", key]);
            Some("del")
        }
        Some(at) => {
            db.set_expire(key, at);
            let at = at.to_string();
            ctx.propagate(&[b"PEXPIREAT", key, at.as_bytes()]);
            Some("expire")
        }
        None if flags & PERSIST != 0 && db.persist(key) => {
            ctx.propagate(&[b"PERSIST", key]);
            Some("persist")
        }
        None => None,
    };
    if let Some(event) = changed {
        ctx.key_modified(key);
        ctx.notify(notify::GENERIC, event, key);
    }
    Ok(())
}

/// MGET key [key ...] (keys of other types read as nil)
pub fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    out.array_len(args.len() - 1);
    let mut buf = itoa::Buffer::new();
    for key in &args[1..] {
        match db
            .lookup_read(key, now)
            .and_then(|v| v.string_bytes(&mut buf))
        {
            Some(b) => out.bulk(b),
            None => out.nil(),
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> Result<(), CmdError> {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    if nx && args[1..].chunks(2).any(|kv| db.contains(kv[0], now)) {
        out.int(0);
        return Ok(());
    }
    // Key by key, as Redis: each one's `new` (dbAdd) goes right before its `set`; the
    // reply after them.
    for kv in args[1..].chunks(2) {
        ctx.db().set(kv[0], Value::string(kv[1]), false);
        ctx.key_modified(kv[0]);
        ctx.notify(notify::STRING, "set", kv[0]);
    }
    let mut out = ctx.out();
    if nx {
        out.int(1);
    } else {
        out.ok();
    }
    Ok(())
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    mset_generic(ctx, args, false)
}

/// MSETNX key value [key value ...] (sets all or none)
pub fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    mset_generic(ctx, args, true)
}

/// APPEND key value
pub fn append(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (key, tail) = (args[1], args[2]);
    let cur_len = {
        let (db, _) = ctx.db_out();
        match db.get(key, now) {
            None => None,
            Some(v) => Some(str_of(v, &mut itoa::Buffer::new())?.len()),
        }
    };
    if let Some(len) = cur_len {
        check_string_length(ctx, len as u64, tail.len() as u64)?;
    }
    let db = ctx.db();
    let total = match db.get_mut(key, now) {
        None => {
            db.insert_new(key, Value::string(tail));
            tail.len()
        }
        Some(v) => {
            // Raw whatever the length, as dbUnshareStringValue + sdscatlen leave it; the Vec
            // keeps its capacity, so appending in a loop is amortized as an sds is.
            let mut s = take_bytes(v)?;
            s.extend_from_slice(tail);
            let n = s.len();
            *v = Value::Str(CompactBytes::raw(s));
            n
        }
    };
    ctx.key_modified(key);
    ctx.notify(notify::STRING, "append", key);
    ctx.out().int(total as i64);
    Ok(())
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let n = match db.lookup_read(args[1], now) {
        None => 0,
        Some(v) => str_of(v, &mut itoa::Buffer::new())?.len(),
    };
    out.int(n as i64);
    Ok(())
}

/// Redis's `incrDecrCommand`, shared by INCR, DECR, INCRBY and DECRBY. An int-encoded value is
/// updated in place; the TTL is kept.
fn incr_by(ctx: &mut Ctx, key: &[u8], incr: i64) -> Result<(), CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    let new = match db.get_mut(key, now) {
        Some(Value::Int(n)) => {
            *n = n.checked_add(incr).ok_or(CmdError::Overflow)?;
            *n
        }
        Some(v) => {
            let cur = {
                let mut buf = itoa::Buffer::new();
                parse_i64(str_of(v, &mut buf)?).ok_or(CmdError::NotInteger)?
            };
            let n = cur.checked_add(incr).ok_or(CmdError::Overflow)?;
            *v = Value::Int(n);
            n
        }
        None => {
            db.insert_new(key, Value::Int(incr));
            incr
        }
    };
    ctx.key_modified(key);
    ctx.notify(notify::STRING, "incrby", key);
    ctx.out().int(new);
    Ok(())
}

/// INCR key
pub fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    incr_by(ctx, args[1], 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    incr_by(ctx, args[1], -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let n = parse_int(args[2])?;
    incr_by(ctx, args[1], n)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let n = parse_int(args[2])?;
    // -i64::MIN does not exist: Redis has its own message for this one.
    if n == i64::MIN {
        return Err(CmdError::err("decrement would overflow"));
    }
    incr_by(ctx, args[1], -n)
}

/// INCRBYFLOAT key increment
///
/// In x87 `long double`, as Redis computes it (see types::longdouble); the result is stored as
/// the text Redis stores ("%.17Lf" without trailing zeros), keeping the TTL.
pub fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let key = args[1];
    let db = ctx.db();
    let cur = match db.get(key, now) {
        None => LongDouble::ZERO,
        Some(Value::Int(n)) => LongDouble::from_i64(*n),
        Some(v) => {
            let mut buf = itoa::Buffer::new();
            LongDouble::parse(str_of(v, &mut buf)?).ok_or(CmdError::NotFloat)?
        }
    };
    let incr = LongDouble::parse(args[2]).ok_or(CmdError::NotFloat)?;
    let sum = cur + incr;
    if !sum.is_finite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    let text = sum.to_human_string();
    db.set(key, Value::Str(CompactBytes::new(text.as_bytes())), true);
    ctx.key_modified(key);
    ctx.notify(notify::STRING, "incrbyfloat", key);
    ctx.out().bulk(text.as_bytes());
    // Propagated as SET ... KEEPTTL of the result (float formatting may differ elsewhere).
    ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    Ok(())
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (key, value) = (args[1], args[3]);
    let offset = parse_int(args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let cur_len = {
        let (db, _) = ctx.db_out();
        match db.get(key, now) {
            None => None,
            Some(v) => Some(str_of(v, &mut itoa::Buffer::new())?.len()),
        }
    };
    // Writing nothing answers the current length (0 for a missing key) without the size check.
    if value.is_empty() {
        ctx.db_out().1.int(cur_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_string_length(ctx, offset as u64, value.len() as u64)?;
    let offset = offset as usize;
    let db = ctx.db();
    let end = offset + value.len();
    let patch = |mut s: Vec<u8>| {
        if s.len() < end {
            s.resize(end, 0);
        }
        s[offset..end].copy_from_slice(value);
        // Raw whatever the length: a new sds, or dbUnshareStringValue's copy.
        Value::Str(CompactBytes::raw(s))
    };
    let n = match db.get_mut(key, now) {
        Some(v) => {
            *v = patch(take_bytes(v)?);
            str_of(v, &mut itoa::Buffer::new())?.len()
        }
        None => {
            db.insert_new(key, patch(Vec::new()));
            end
        }
    };
    ctx.key_modified(key);
    ctx.notify(notify::STRING, "setrange", key);
    ctx.out().int(n as i64);
    Ok(())
}

/// Redis's GETRANGE index arithmetic: the byte range to return, or None for "".
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    // Both negative and inverted: empty, before any clamping (Redis 7.0).
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = len as i64;
    let mut start = if start < 0 {
        len_i.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len_i.saturating_add(end)
    } else {
        end
    };
    start = start.max(0);
    end = end.max(0);
    if end >= len_i {
        end = len_i - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// GETRANGE key start end
pub fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let start = parse_int(args[2])?;
    let end = parse_int(args[3])?;
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let Some(v) = db.lookup_read(args[1], now) else {
        out.bulk(b"");
        return Ok(());
    };
    let mut buf = itoa::Buffer::new();
    let s = str_of(v, &mut buf)?;
    match clamp_range(start, end, s.len()) {
        Some((a, b)) => out.bulk(&s[a..=b]),
        None => out.bulk(b""),
    }
    Ok(())
}

/// SUBSTR key start end (GETRANGE's old name)
pub fn substr(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    getrange(ctx, args)
}

/// What LCS was asked for.
#[derive(Clone, Copy, Debug, Default)]
struct LcsOpts {
    len: bool,
    idx: bool,
    min_match_len: u64,
    with_match_len: bool,
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let max_alloc = ctx.srv.config.proto_max_bulk_len;
    let (a, b) = {
        let (db, _) = ctx.db_out();
        let mut get = |key: &[u8]| -> Result<Vec<u8>, CmdError> {
            match db.lookup_read(key, now) {
                None => Ok(Vec::new()),
                Some(v) => v
                    .string_bytes(&mut itoa::Buffer::new())
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| CmdError::err("The specified keys must contain string values")),
            }
        };
        let a = get(args[1]);
        let b = get(args[2]);
        (a?, b?)
    };
    let mut o = LcsOpts::default();
    let mut j = 3;
    while j < args.len() {
        let opt = args[j];
        if is(opt, "IDX") {
            o.idx = true;
        } else if is(opt, "LEN") {
            o.len = true;
        } else if is(opt, "WITHMATCHLEN") {
            o.with_match_len = true;
        } else if is(opt, "MINMATCHLEN") && j + 1 < args.len() {
            o.min_match_len = parse_int(args[j + 1])?.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if o.idx && o.len {
        return Err(CmdError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > max_alloc {
        return Err(CmdError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    lcs_reply(&mut ctx.db_out().1, &a, &b, o);
    Ok(())
}

/// Redis's LCS: the dynamic-programming table, then a walk back from the end that collects the
/// common string and, for IDX, the matching ranges (last first, as Redis emits them).
fn lcs_reply(out: &mut ReplyWriter, a: &[u8], b: &[u8], o: LcsOpts) {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut t = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    if o.len {
        out.int(total as i64);
        return;
    }
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    // (a_start, a_end, b_start, b_end); a_start == alen means "no range open".
    let mut ranges: Vec<(usize, usize, usize, usize)> = Vec::new();
    let (mut ar_start, mut ar_end, mut br_start, mut br_end) = (alen, 0, 0, 0);
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if ar_start == alen {
                (ar_start, ar_end, br_start, br_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if ar_start == i && br_start == j {
                ar_start -= 1;
                br_start -= 1;
            } else {
                emit = true;
            }
            if ar_start == 0 || br_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if ar_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (ar_end - ar_start + 1) as u64;
            if o.min_match_len == 0 || match_len >= o.min_match_len {
                ranges.push((ar_start, ar_end, br_start, br_end));
            }
            ar_start = alen;
        }
    }
    if !o.idx {
        out.bulk(&result);
        return;
    }
    out.map_len(2);
    out.bulk(b"matches");
    out.array_len(ranges.len());
    for (a0, a1, b0, b1) in ranges {
        out.array_len(2 + o.with_match_len as usize);
        out.array_len(2);
        out.int(a0 as i64);
        out.int(a1 as i64);
        out.array_len(2);
        out.int(b0 as i64);
        out.int(b1 as i64);
        if o.with_match_len {
            out.int((a1 - a0 + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_clamping_matches_redis() {
        // (start, end, len) -> expected slice; values checked on redis-server 7.0.15.
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(-1, -3, 5), None);
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(clamp_range(-1, 0, 5), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(-10, -8, 5), Some((0, 0)));
    }

    fn lcs_bytes(a: &str, b: &str, o: LcsOpts, resp3: bool) -> String {
        let mut v = Vec::new();
        lcs_reply(
            &mut ReplyWriter::new(&mut v, resp3),
            a.as_bytes(),
            b.as_bytes(),
            o,
        );
        String::from_utf8(v).unwrap()
    }

    /// RESP3 shapes recorded from redis-server 7.0.15 (HELLO 3; LCS ... IDX ...).
    #[test]
    fn lcs_resp3_shapes() {
        let idx = LcsOpts {
            idx: true,
            min_match_len: 4,
            with_match_len: true,
            ..Default::default()
        };
        assert_eq!(
            lcs_bytes("ohmytext", "mynewtext", idx, true),
            "%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
        );
        let idx = LcsOpts {
            idx: true,
            ..Default::default()
        };
        assert_eq!(
            lcs_bytes("", "abc", idx, true),
            "%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
        );
    }

    fn run(eng: &mut crate::Engine, id: crate::ClientHandle, args: &[&str]) -> String {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        eng.feed(UNIX_NOW, id, &crate::resp::encode_request(&args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    const UNIX_NOW: crate::UnixMillis = crate::UnixMillis(1_700_000_000_000);

    #[test]
    fn plain_set_expires_a_dead_key_first() {
        // SET without NX/XX skips the lookup, yet a key whose TTL passed is still expired first,
        // as Redis's lookupKeyWrite does: counted, its TTL gone, its DEL propagated.
        let mut eng = crate::Engine::new(crate::Config::default(), 1);
        eng.set_propagation(true);
        let id = eng.connect(UNIX_NOW, Default::default());
        assert_eq!(run(&mut eng, id, &["SET", "k", "v", "PX", "10"]), "+OK\r\n");
        let later = crate::UnixMillis(UNIX_NOW.0 + 20);
        eng.feed(later, id, &crate::resp::encode_request(&["SET", "k", "w"]));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        assert_eq!(out, b"+OK\r\n");
        let db = &eng.server().dbs[0];
        assert_eq!(db.expired_count, 1);
        assert_eq!(db.expire_at(b"k"), None);
        let mut aof = Vec::new();
        eng.take_propagated(&mut aof);
        let aof = String::from_utf8_lossy(&aof).into_owned();
        assert!(
            aof.ends_with("$3\r\nDEL\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n"),
            "{aof}"
        );
    }

    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn encodings_and_size_limit() {
        // Below CONFIG SET's 1mb floor, so set the field directly.
        let mut cfg = crate::Config::default();
        cfg.proto_max_bulk_len = 20;
        let mut eng = crate::Engine::new(cfg, 1);
        let id = eng.connect(UNIX_NOW, Default::default());
        let value = |eng: &crate::Engine| eng.server().dbs[0].keys.get(&b"k"[..]).cloned();
        assert_eq!(run(&mut eng, id, &["SET", "k", "41"]), "+OK\r\n");
        assert_eq!(run(&mut eng, id, &["INCR", "k"]), ":42\r\n");
        assert_eq!(value(&eng), Some(Value::Int(42)));
        // APPEND and INCRBYFLOAT build strings (Redis: raw/embstr, not int).
        assert_eq!(run(&mut eng, id, &["APPEND", "k", "0"]), ":3\r\n");
        assert_eq!(value(&eng), Some(Value::Str(CompactBytes::new(b"420"))));
        assert_eq!(
            run(&mut eng, id, &["INCRBYFLOAT", "k", "1"]),
            "$3\r\n421\r\n"
        );
        assert_eq!(value(&eng), Some(Value::Str(CompactBytes::new(b"421"))));
        let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
        assert_eq!(
            run(&mut eng, id, &["APPEND", "k", "123456789012345678"]),
            too_big
        );
        assert_eq!(
            run(&mut eng, id, &["APPEND", "k", "12345678901234567"]),
            ":20\r\n"
        );
        assert_eq!(run(&mut eng, id, &["SETRANGE", "k", "20", "x"]), too_big);
        assert_eq!(run(&mut eng, id, &["SETRANGE", "k", "19", "x"]), ":20\r\n");
        assert_eq!(run(&mut eng, id, &["SETRANGE", "n", "19", "xy"]), too_big);
        assert_eq!(run(&mut eng, id, &["SETRANGE", "n", "100", ""]), ":0\r\n");
        // 21 * 1 cells of 4 bytes > 20.
        assert_eq!(
            run(&mut eng, id, &["LCS", "k", "n"]),
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
        );
    }
}
