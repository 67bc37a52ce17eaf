//! The hash command group (Redis 7.0's t_hash.c).

use super::{is, parse_int, CmdError, Ctx};
use crate::glob::glob_match;
use crate::resp::{parse_i64, ReplyWriter};
use crate::rng::Rng;
use crate::types::hash::{Hash, Limits};
use crate::types::longdouble::LongDouble;
use crate::types::Value;

/// HRANDFIELD with a negative count stops once the reply has grown this large and closes the
/// client, where Redis would keep allocating (its CLIENT_CLOSE_ASAP check in the loop).
const RANDOM_REPLY_LIMIT: usize = 1 << 30;

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        max_entries: ctx.srv.config.hash_max_listpack_entries,
        max_value: ctx.srv.config.hash_max_listpack_value,
    }
}

/// Redis's lookupKeyRead + checkType, with the caller's reply writer borrowed alongside.
fn read<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<(Option<&'c Hash>, ReplyWriter<'c>), CmdError> {
    let now = ctx.now;
    let c = &mut ctx.clients[ctx.id.0];
    let h = match ctx.srv.dbs[c.db].lookup_read(key, now) {
        None => None,
        Some(Value::Hash(h)) => Some(&**h),
        Some(_) => return Err(CmdError::WrongType),
    };
    Ok((h, ReplyWriter::new(&mut c.out, c.resp3)))
}

/// Like `read`, but the hash is mutable (random picks advance the table's rehashing).
fn read_mut<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<(Option<&'c mut Hash>, &'c mut Rng, ReplyWriter<'c>), CmdError> {
    let now = ctx.now;
    let c = &mut ctx.clients[ctx.id.0];
    let db = &mut ctx.srv.dbs[c.db];
    // lookup_read counts the hit or miss; the second lookup borrows mutably.
    let h = match db.lookup_read(key, now) {
        None => None,
        Some(Value::Hash(_)) => match db.keys.get_mut(key) {
            Some(Value::Hash(h)) => Some(&mut **h),
            _ => None,
        },
        Some(_) => return Err(CmdError::WrongType),
    };
    Ok((h, &mut ctx.srv.rng, ReplyWriter::new(&mut c.out, c.resp3)))
}

/// What a write closure reports back: its result, and whether the hash changed.
struct Wrote<R> {
    result: R,
    changed: bool,
}

/// Redis's lookupKeyWrite (+ create when `create`, like hashTypeLookupWriteOrCreate) and
/// checkType, runs `f` on the hash, deletes the key if the hash became empty, and signals the
/// change. None when the key is missing and `create` is false. The new hash is only stored if
/// `f` succeeds and leaves it non-empty.
fn write<R>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Hash, &Limits, &mut Rng) -> Result<Wrote<R>, CmdError>,
) -> Result<Option<R>, CmdError> {
    let now = ctx.now;
    let lim = limits(ctx);
    let dbi = ctx.client_ref().db;
    let srv = &mut *ctx.srv;
    let db = &mut srv.dbs[dbi];
    let (wrote, emptied) = match db.get_mut(key, now) {
        Some(Value::Hash(h)) => {
            let w = f(h, &lim, &mut srv.rng)?;
            let empty = h.is_empty();
            (w, empty)
        }
        Some(_) => return Err(CmdError::WrongType),
        None if !create => return Ok(None),
        None => {
            let mut h = Hash::new();
            let w = f(&mut h, &lim, &mut srv.rng)?;
            if !h.is_empty() {
                db.insert_new(key, Value::Hash(Box::new(h)));
            }
            (w, false)
        }
    };
    if emptied {
        db.remove(key);
    }
    if wrote.changed {
        ctx.key_modified(key);
    }
    Ok(Some(wrote.result))
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    hset_generic(ctx, args, false)
}

/// HMSET key field value [field value ...]: HSET replying +OK (deprecated).
pub fn hmset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    hset_generic(ctx, args, true)
}

fn hset_generic(ctx: &mut Ctx, args: &[&[u8]], ok_reply: bool) -> Result<(), CmdError> {
    // The table's arity is -4; the pairing is checked here, with the same message.
    if args.len() % 2 == 1 {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let created = write(ctx, args[1], true, |h, lim, rng| {
        h.prepare(&args[2..], lim, rng);
        let mut created = 0;
        for pair in args[2..].chunks_exact(2) {
            if h.set(pair[0], pair[1], lim, rng) {
                created += 1;
            }
        }
        Ok(Wrote {
            result: created,
            changed: true,
        })
    })?
    .unwrap_or(0);
    if ok_reply {
        ctx.out().ok();
    } else {
        ctx.out().int(created);
    }
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (field, value) = (args[2], args[3]);
    let set = write(ctx, args[1], true, |h, lim, rng| {
        // Redis converts for long arguments even when the field exists.
        h.prepare(&args[2..4], lim, rng);
        let set = !h.contains(field) && h.set(field, value, lim, rng);
        Ok(Wrote {
            result: set,
            changed: set,
        })
    })?
    .unwrap_or(false);
    ctx.out().int(i64::from(set));
    Ok(())
}

/// HGET key field
pub fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    match h.and_then(|h| h.get(args[2])) {
        Some(v) => w.bulk(v),
        None => w.nil(),
    }
    Ok(())
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    w.array_len(args.len() - 2);
    for f in &args[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => w.bulk(v),
            None => w.nil(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let deleted = write(ctx, args[1], false, |h, _, _| {
        let mut deleted = 0;
        for f in &args[2..] {
            if h.remove(f) {
                deleted += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
        Ok(Wrote {
            result: deleted,
            changed: deleted > 0,
        })
    })?
    .unwrap_or(0);
    ctx.out().int(deleted);
    Ok(())
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    w.int(h.map_or(0, |h| h.len() as i64));
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    w.int(h.and_then(|h| h.get(args[2])).map_or(0, |v| v.len() as i64));
    Ok(())
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    w.int(i64::from(h.is_some_and(|h| h.contains(args[2]))));
    Ok(())
}

/// HGETALL key: a map in RESP3.
pub fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    let Some(h) = h else {
        w.map_len(0);
        return Ok(());
    };
    w.map_len(h.len());
    for (f, v) in h.iter() {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    w.array_len(h.map_or(0, Hash::len));
    for (f, _) in h.iter().flat_map(|h| h.iter()) {
        w.bulk(f);
    }
    Ok(())
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = read(ctx, args[1])?;
    w.array_len(h.map_or(0, Hash::len));
    for (_, v) in h.iter().flat_map(|h| h.iter()) {
        w.bulk(v);
    }
    Ok(())
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let field = args[2];
    let incr = parse_int(args[3])?;
    let n = write(ctx, args[1], true, |h, lim, rng| {
        let cur = match h.get(field) {
            Some(v) => parse_i64(v).ok_or(CmdError::err("hash value is not an integer"))?,
            None => 0,
        };
        let n = cur.checked_add(incr).ok_or(CmdError::Overflow)?;
        h.set(field, itoa::Buffer::new().format(n).as_bytes(), lim, rng);
        Ok(Wrote {
            result: n,
            changed: true,
        })
    })?
    .unwrap_or(0);
    ctx.out().int(n);
    Ok(())
}

/// HINCRBYFLOAT key field increment
///
/// In x87 `long double`, like INCRBYFLOAT (see types::longdouble); the stored text is Redis's
/// "%.17Lf" without trailing zeros.
pub fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let field = args[2];
    let incr = LongDouble::parse(args[3]).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::err("value is NaN or Infinity"));
    }
    let text = write(ctx, args[1], true, |h, lim, rng| {
        let cur = match h.get(field) {
            Some(v) => LongDouble::parse(v).ok_or(CmdError::err("hash value is not a float"))?,
            None => LongDouble::ZERO,
        };
        let sum = cur + incr;
        if !sum.is_finite() {
            return Err(CmdError::err("increment would produce NaN or Infinity"));
        }
        let text = sum.to_human_string();
        h.set(field, text.as_bytes(), lim, rng);
        Ok(Wrote {
            result: text,
            changed: true,
        })
    })?
    .unwrap_or_default();
    ctx.out().bulk(text.as_bytes());
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() == 2 {
        let (h, rng, mut w) = read_mut(ctx, args[1])?;
        match h.and_then(|h| h.random_pair(rng)) {
            Some((f, _)) => w.bulk(f),
            None => w.nil(),
        }
        return Ok(());
    }
    // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX).
    let l = parse_int(args[2])?;
    if l == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withvalues = match args.len() {
        3 => false,
        4 if is(args[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    // The reply would hold twice as many elements: Redis refuses counts that could overflow.
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::err("value is out of range"));
    }
    let (h, rng, mut w) = read_mut(ctx, args[1])?;
    let Some(h) = h else {
        w.array_len(0);
        return Ok(());
    };
    let count = l.unsigned_abs();
    let resp3 = w.resp3;
    let pair_len = |w: &mut ReplyWriter, n: u64| {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if withvalues && !resp3 {
            w.array_len(n.saturating_mul(2));
        } else {
            w.array_len(n);
        }
    };
    let put = |w: &mut ReplyWriter, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            w.array_len(2);
        }
        w.bulk(f);
        if withvalues {
            w.bulk(v);
        }
    };
    if count == 0 {
        w.array_len(0);
        return Ok(());
    }
    // Case 1: a negative count (or 1) samples with repeats, in random order.
    if l < 0 || count == 1 {
        pair_len(&mut w, count);
        let mut closed = false;
        h.random_pairs(count, rng, |f, v| {
            put(&mut w, f, v);
            if w.out.len() > RANDOM_REPLY_LIMIT {
                closed = true;
                return false;
            }
            true
        });
        if closed {
            ctx.client().close_asap = true;
        }
        return Ok(());
    }
    let size = h.len() as u64;
    // Case 2: the whole hash, in its order.
    if count >= size {
        pair_len(&mut w, size);
        for (f, v) in h.iter() {
            put(&mut w, f, v);
        }
        return Ok(());
    }
    // Cases 3 and 4: distinct picks (a listpack gives them in its order, as Redis does).
    let picks = h.random_unique_pairs(count as usize, rng);
    pair_len(&mut w, picks.len() as u64);
    for (f, v) in picks {
        put(&mut w, f, v);
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A listpack-encoded hash comes back whole with cursor 0, whatever the cursor and COUNT (as
/// in Redis). For a table, COUNT counts fields and values alike, as Redis's list does.
pub fn hscan(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut cursor = super::keys::parse_scan_cursor(args[2])
        .ok_or_else(|| CmdError::err("invalid cursor"))?;
    let (h, mut w) = read(ctx, args[1])?;
    let Some(h) = h else {
        // Redis's shared.emptyscan.
        w.array_len(2);
        w.bulk(b"0");
        w.array_len(0);
        return Ok(());
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i;
        if is(args[i], "count") && more >= 2 {
            count = parse_int(args[i + 1])?;
            if count < 1 {
                return Err(CmdError::Syntax);
            }
            i += 2;
        } else if is(args[i], "match") && more >= 2 {
            // A lone '*' disables matching.
            pattern = Some(args[i + 1]).filter(|p| *p != b"*");
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut take = |f: &[u8], v: &[u8]| found.push((f.to_vec(), v.to_vec()));
    if h.scans_whole() {
        cursor = h.scan(cursor, &mut take);
    } else {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let mut max_iterations = count.saturating_mul(10);
        let mut items = 0usize;
        loop {
            cursor = h.scan(cursor, |f, v| {
                take(f, v);
                // Redis's list holds fields and values alike.
                items += 2;
            });
            if cursor == 0 || max_iterations == 0 || items >= count {
                break;
            }
            max_iterations -= 1;
        }
    }
    if let Some(p) = pattern {
        found.retain(|(f, _)| glob_match(p, f, false));
    }
    w.array_len(2);
    // Redis replies with addReplyBulkLongLong on the unsigned cursor.
    w.bulk_i64(cursor as i64);
    w.array_len(found.len() * 2);
    for (f, v) in &found {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}
