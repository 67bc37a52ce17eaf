//! The generic keyspace commands (Redis's db.c): DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME,
//! RENAMENX, COPY, MOVE, RANDOMKEY, TOUCH.
//!
//! Lookups follow Redis's flavours: "read" lookups (EXISTS, TYPE, TOUCH, COPY's source, SCAN's
//! TYPE filter) count keyspace hits/misses, "write" lookups do not; both expire lazily.

use super::{is, notify, CmdError, Ctx};
use crate::glob::glob_match;
use crate::keyspace::Db;
use crate::lazyfree::FreeReason;
use crate::time::UnixMillis;

/// Redis's shared.sameobjecterr.
fn same_object() -> CmdError {
    CmdError::err("source and destination objects are the same")
}

fn db_out_of_range() -> CmdError {
    CmdError::err("DB index is out of range")
}

/// Redis's `getIntFromObjectOrReply` (a C int) followed by `selectDb`'s range check.
fn parse_db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CmdError> {
    let n = super::parse_int(arg)?;
    let n = i32::try_from(n).map_err(|_| {
        CmdError::err("value is out of range, value must between -2147483648 and 2147483647")
    })?;
    usize::try_from(n)
        .ok()
        .filter(|&i| i < ctx.srv.dbs.len())
        .ok_or_else(db_out_of_range)
}

/// DEL key [key ...] and UNLINK: the number of keys removed (repeats count once). Big values
/// go to the host's lazy-free worker for UNLINK, and for DEL under lazyfree-lazy-user-del.
fn del_generic(ctx: &mut Ctx, args: &[&[u8]], reason: FreeReason) -> Result<(), CmdError> {
    let now = ctx.now;
    let mut deleted = 0;
    for key in &args[1..] {
        let db = ctx.db();
        db.expire_if_needed(key, now);
        if let Some(v) = db.remove(key) {
            deleted += 1;
            ctx.srv.free_value(v, reason);
            ctx.key_modified(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    ctx.out().int(deleted);
    Ok(())
}

/// DEL key [key ...]
pub fn del(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    del_generic(ctx, args, FreeReason::UserDel)
}

/// UNLINK key [key ...] — DEL, with the freeing of big values left to the host's worker.
pub fn unlink(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    del_generic(ctx, args, FreeReason::Always)
}

/// EXISTS key [key ...] — repeated keys are counted each time.
/// A read lookup that leaves the LRU/LFU field alone (LOOKUP_NOTOUCH), as EXISTS does.
pub fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    let count = args[1..]
        .iter()
        .filter(|k| db.lookup_read_notouch(k, now).is_some())
        .count();
    ctx.out().int(count as i64);
    Ok(())
}

/// TOUCH key [key ...] — the number of keys that exist (a read lookup each, which records the
/// access: TOUCH's whole point).
pub fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    let count = args[1..]
        .iter()
        .filter(|k| db.lookup_read(k, now).is_some())
        .count();
    ctx.out().int(count as i64);
    Ok(())
}

/// The name TYPE reports for a read lookup of `key` ("none" if missing), LOOKUP_NOTOUCH.
fn type_name(db: &mut Db, key: &[u8], now: UnixMillis) -> &'static str {
    db.lookup_read_notouch(key, now)
        .map_or("none", |(v, _)| v.type_name())
}

/// TYPE key
pub fn type_(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let name = type_name(ctx.db(), args[1], now);
    ctx.out().simple(name);
    Ok(())
}

/// KEYS pattern — expired keys are skipped but, as in Redis, not deleted.
pub fn keys(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now.0;
    let pattern = args[1];
    let all = pattern == b"*";
    let i = ctx.client_ref().db;
    let db = &ctx.srv.dbs[i];
    let c = &mut ctx.clients[ctx.handle.0];
    let mut w = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    let found: Vec<&[u8]> = db
        .keys
        .iter()
        .map(|(k, _)| k.as_bytes())
        .filter(|k| all || glob_match(pattern, k, false))
        .filter(|k| db.expire_at(k).is_none_or(|at| at > now))
        .collect();
    w.array_len(found.len());
    for k in found {
        w.bulk(k);
    }
    Ok(())
}

/// Redis's `parseScanCursorOrReply`: C's strtoul on the argument as a C string (so it stops
/// at a NUL byte), refusing a leading space, trailing garbage and overflow. strtoul's quirks
/// carry over: a leading '+' or '-' is accepted ("-1" wraps to 2^64-1) and an empty string
/// is cursor 0.
/// The options of SCAN, SSCAN, HSCAN and ZSCAN (Redis's scanGenericCommand): COUNT (≥ 1),
/// MATCH (a lone `*` disables matching) and, for SCAN only, TYPE (compared as a C string).
pub struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_filter: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Parses the arguments after the cursor.
    pub fn parse(opts: &[&'a [u8]], allow_type: bool) -> Result<ScanOptions<'a>, CmdError> {
        let mut o = ScanOptions {
            count: 10,
            pattern: None,
            type_filter: None,
        };
        let mut i = 0;
        while i + 1 < opts.len() {
            let (name, value) = (opts[i], opts[i + 1]);
            if is(name, "count") {
                let n = super::parse_int(value)?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                o.count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if is(name, "match") {
                o.pattern = Some(value).filter(|p| *p != b"*");
            } else if allow_type && is(name, "type") {
                o.type_filter = Some(value.split(|&b| b == 0).next().unwrap_or(&[]));
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        if i < opts.len() {
            return Err(CmdError::Syntax);
        }
        Ok(o)
    }
}

/// Redis's scan loop: visit buckets from `cursor` until the table is done, `count` items are
/// gathered, or count×10 buckets were visited. `step` visits one cursor position and returns
/// the next cursor and how many items it gathered. Returns the cursor to hand back.
pub fn scan_buckets(
    mut cursor: u64,
    count: usize,
    mut step: impl FnMut(u64) -> (u64, usize),
) -> u64 {
    let mut max_iterations = count.saturating_mul(10);
    let mut items = 0usize;
    loop {
        let (next, gathered) = step(cursor);
        cursor = next;
        items = items.saturating_add(gathered);
        if cursor == 0 || max_iterations == 0 || items >= count {
            return cursor;
        }
        max_iterations -= 1;
    }
}

/// Redis's parseScanCursorOrReply: the cursor argument, else "invalid cursor".
pub fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    parse_scan_cursor(arg).ok_or_else(|| CmdError::err("invalid cursor"))
}

/// The head of a SCAN-family reply, [cursor, array of `len`]; the caller writes the `len`
/// elements. Redis replies with addReplyBulkLongLong on the unsigned cursor. (0, 0) is
/// Redis's shared.emptyscan.
pub fn reply_scan_head(w: &mut crate::resp::ReplyWriter, cursor: u64, len: usize) {
    w.array_len(2);
    w.bulk_i64(cursor as i64);
    w.array_len(len);
}

pub fn parse_scan_cursor(arg: &[u8]) -> Option<u64> {
    let s = arg.split(|&b| b == 0).next().unwrap_or(&[]);
    if s.first().is_some_and(|&b| crate::cnum::is_c_space(b)) {
        return None;
    }
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        // No conversion: strtoul leaves the end pointer at the start.
        return if s.is_empty() { Some(0) } else { None };
    }
    if len != digits.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// Redis 7.0's scanGenericCommand: parse options in order (a later MATCH/TYPE wins; every
/// COUNT is validated), collect keys with `dictScan` until `count` keys or `count*10` extra
/// calls, then filter by pattern, by type (a read lookup: expired keys read as "none"), and
/// drop (and delete) expired keys. The reply is [cursor, keys], the cursor a bulk string.
pub fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut cursor = scan_cursor(args[1])?;
    let ScanOptions {
        count,
        pattern,
        type_filter,
    } = ScanOptions::parse(&args[2..], true)?;
    let now = ctx.now;
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    cursor = scan_buckets(cursor, count, |c| {
        let before = found.len();
        let next = db.keys.scan(c, |k, _| found.push(k.as_bytes().to_vec()));
        (next, found.len() - before)
    });
    found.retain(|k| {
        if pattern.is_some_and(|p| !glob_match(p, k, false)) {
            return false;
        }
        if let Some(t) = type_filter {
            if !type_name(db, k, now).as_bytes().eq_ignore_ascii_case(t) {
                return false;
            }
        }
        !db.expire_if_needed(k, now)
    });

    let mut w = ctx.out();
    reply_scan_head(&mut w, cursor, found.len());
    for k in &found {
        w.bulk(k);
    }
    Ok(())
}

/// RENAME / RENAMENX: moves the value and its TTL; renaming a key onto itself is a no-op that
/// still requires the key to exist.
fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> Result<(), CmdError> {
    let (src, dst) = (args[1], args[2]);
    let now = ctx.now;
    let db = ctx.db();
    if db.get(src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    let reply = |ctx: &mut Ctx, done: bool| {
        if nx {
            ctx.out().int(i64::from(done));
        } else {
            ctx.out().ok();
        }
    };
    if src == dst {
        reply(ctx, false);
        return Ok(());
    }
    if db.get(dst, now).is_some() {
        if nx {
            reply(ctx, false);
            return Ok(());
        }
        db.delete(dst, FreeReason::ServerDel);
    }
    let expire = db.expire_at(src);
    let lru = db.lru_of(src);
    if let Some(value) = db.remove(src) {
        db.insert_new(dst, value);
        if let Some(at) = expire {
            db.set_expire(dst, at);
        }
        if let Some(f) = lru {
            db.set_lru(dst, f);
        }
    }
    ctx.key_modified(src);
    let cur = ctx.client_ref().db;
    ctx.key_modified_in(cur, dst);
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    reply(ctx, true);
    Ok(())
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    rename_generic(ctx, args, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    rename_generic(ctx, args, true)
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let src_db = ctx.client_ref().db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let additional = args.len() - j - 1;
        if is(args[j], "replace") {
            replace = true;
        } else if is(args[j], "db") && additional >= 1 {
            dst_db = parse_db_index(ctx, args[j + 1])?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if ctx.srv.cluster.is_some() && (src_db != 0 || dst_db != 0) {
        return Err(CmdError::err(
            "Copying to another database is not allowed in cluster mode",
        ));
    }
    let (key, newkey) = (args[1], args[2]);
    if src_db == dst_db && key == newkey {
        return Err(same_object());
    }
    let now = ctx.now;
    let Some(value) = ctx.srv.dbs[src_db].lookup_read(key, now).cloned() else {
        ctx.out().int(0);
        return Ok(());
    };
    let expire = ctx.srv.dbs[src_db].expire_at(key);
    let dst = &mut ctx.srv.dbs[dst_db];
    if dst.get(newkey, now).is_some() {
        if !replace {
            ctx.out().int(0);
            return Ok(());
        }
        dst.remove(newkey);
    }
    dst.insert_new(newkey, value);
    if let Some(at) = expire {
        dst.set_expire(newkey, at);
    }
    ctx.srv.dirty += 1;
    ctx.key_modified_in(dst_db, newkey);
    ctx.notify_in(dst_db, notify::GENERIC, "copy_to", newkey);
    ctx.out().int(1);
    Ok(())
}

/// MOVE key db
pub fn move_(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.srv.cluster.is_some() {
        return Err(CmdError::err("MOVE is not allowed in cluster mode"));
    }
    let src_db = ctx.client_ref().db;
    let dst_db = parse_db_index(ctx, args[2])?;
    if src_db == dst_db {
        return Err(same_object());
    }
    let key = args[1];
    let now = ctx.now;
    if ctx.srv.dbs[src_db].get(key, now).is_none() || ctx.srv.dbs[dst_db].get(key, now).is_some() {
        ctx.out().int(0);
        return Ok(());
    }
    let src = &mut ctx.srv.dbs[src_db];
    let expire = src.expire_at(key);
    let lru = src.lru_of(key);
    let moved = src.remove(key);
    let dst = &mut ctx.srv.dbs[dst_db];
    if let Some(value) = moved {
        dst.insert_new(key, value);
        if let Some(at) = expire {
            dst.set_expire(key, at);
        }
        if let Some(f) = lru {
            dst.set_lru(key, f);
        }
    }
    ctx.key_modified(key);
    ctx.key_modified_in(dst_db, key);
    ctx.notify_in(src_db, notify::GENERIC, "move_from", key);
    ctx.notify_in(dst_db, notify::GENERIC, "move_to", key);
    ctx.out().int(1);
    Ok(())
}

/// RANDOMKEY — a random live key, or nil when the database is empty.
pub fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let i = ctx.client_ref().db;
    let key = ctx.srv.dbs[i].random_key(&mut ctx.srv.rng, now);
    match key {
        Some(k) => ctx.out().bulk(&k),
        None => ctx.out().nil(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Reply;
    use crate::types::Value;
    use std::collections::HashSet;

    use crate::testing::NOW;

    type T = crate::testing::Session;

    /// One SCAN call: (next cursor, keys).
    fn scan(t: &mut T, cursor: u64, extra: &[&[u8]]) -> (u64, Vec<Vec<u8>>) {
        let c = cursor.to_string();
        let mut args: Vec<&[u8]> = vec![b"SCAN", c.as_bytes()];
        args.extend_from_slice(extra);
        let Reply::Array(parts) = t.cmd(&args) else {
            panic!("SCAN replies with an array")
        };
        let [Reply::Bulk(cur), Reply::Array(keys)] = &parts[..] else {
            panic!("[cursor, keys]")
        };
        let cur: i64 = std::str::from_utf8(cur).unwrap().parse().unwrap();
        let keys = keys
            .iter()
            .map(|k| match k {
                Reply::Bulk(b) => b.clone(),
                _ => panic!("bulk keys"),
            })
            .collect();
        (cur as u64, keys)
    }

    #[test]
    fn cursor_parsing_is_strtoul() {
        assert_eq!(parse_scan_cursor(b"0"), Some(0));
        assert_eq!(parse_scan_cursor(b""), Some(0));
        assert_eq!(parse_scan_cursor(b"+12"), Some(12));
        assert_eq!(parse_scan_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_scan_cursor(b"7\x00junk"), Some(7));
        assert_eq!(parse_scan_cursor(b"\x00junk"), Some(0));
        for bad in [
            &b" 1"[..],
            b"1 ",
            b"+",
            b"-",
            b"0x1",
            b"1.0",
            b"\t1",
            b"+-1",
        ] {
            assert_eq!(parse_scan_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn scan_returns_every_key_across_resizes() {
        let mut t = T::new(7);
        for i in 0..2000u32 {
            t.db()
                .set(format!("stable:{i}").as_bytes(), Value::Int(1), false);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        let mut extra = 0u32;
        loop {
            let (next, keys) = scan(&mut t, cursor, &[b"COUNT", b"7"]);
            seen.extend(keys);
            calls += 1;
            // Grow, then shrink, the table between calls.
            if calls < 100 {
                for _ in 0..50 {
                    t.db()
                        .set(format!("churn:{extra}").as_bytes(), Value::Int(1), false);
                    extra += 1;
                }
            } else {
                for i in 0..extra {
                    t.db().remove(format!("churn:{i}").as_bytes());
                }
                t.db().keys.shrink_if_needed();
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
            assert!(calls < 100_000, "the scan terminates");
        }
        for i in 0..2000u32 {
            assert!(
                seen.contains(format!("stable:{i}").as_bytes()),
                "stable:{i}"
            );
        }
    }

    #[test]
    fn scan_match_and_type_filter_after_collecting() {
        let mut t = T::new(7);
        for i in 0..100u32 {
            t.db().set(format!("k{i}").as_bytes(), Value::Int(1), false);
        }
        let mut found = Vec::new();
        let mut cursor = 0;
        loop {
            let (next, keys) = scan(&mut t, cursor, &[b"MATCH", b"k1?", b"TYPE", b"String"]);
            found.extend(keys);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        found.sort();
        let want: Vec<Vec<u8>> = (10..20).map(|i| format!("k{i}").into_bytes()).collect();
        assert_eq!(found, want);
        // COUNT bounds the work: a sparse table (1024 buckets, 10 keys) takes many calls,
        // as each one visits at most COUNT*10+1 buckets.
        let mut t = T::new(7);
        for i in 0..1000u32 {
            t.db().set(format!("k{i}").as_bytes(), Value::Int(1), false);
        }
        while t.db().keys.rehash_steps(1000) {}
        for i in 10..1000u32 {
            t.db().remove(format!("k{i}").as_bytes());
        }
        assert_eq!(t.db().keys.slots(), 1024);
        let (mut cursor, mut calls, mut total) = (0, 0, 0);
        loop {
            let (next, keys) = scan(&mut t, cursor, &[b"COUNT", b"1"]);
            total += keys.len();
            calls += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(total, 10);
        assert!(calls >= 1024 / 11, "{calls} calls");
    }

    #[test]
    fn scan_drops_and_deletes_expired_keys() {
        let mut t = T::new(7);
        t.db().set(b"live", Value::Int(1), false);
        t.db().set(b"dead", Value::Int(1), false);
        t.db().set_expire(b"dead", NOW.0);
        let (cursor, keys) = scan(&mut t, 0, &[]);
        assert_eq!((cursor, keys), (0, vec![b"live".to_vec()]));
        assert_eq!(t.db().len(), 1);
        assert_eq!(t.db().expired_count, 1);
    }

    #[test]
    fn scan_type_none_lists_expired_keys_like_redis() {
        // Redis's TYPE filter looks the key up (deleting it if expired, so it reads as
        // "none"); the expiry filter then finds nothing to expire and keeps it.
        let mut t = T::new(7);
        t.db().set(b"live", Value::Int(1), false);
        t.db().set(b"dead", Value::Int(1), false);
        t.db().set_expire(b"dead", NOW.0 - 1);
        let (_, keys) = scan(&mut t, 0, &[b"TYPE", b"none"]);
        assert_eq!(keys, vec![b"dead".to_vec()]);
        assert_eq!(t.db().len(), 1);
    }

    #[test]
    fn keys_skips_expired_keys_without_deleting_them() {
        let mut t = T::new(7);
        t.db().set(b"a1", Value::Int(1), false);
        t.db().set(b"a2", Value::Int(1), false);
        t.db().set(b"b", Value::Int(1), false);
        t.db().set_expire(b"a2", NOW.0);
        let Reply::Array(keys) = t.cmd::<&[u8]>(&[b"KEYS", b"a*"]) else {
            panic!()
        };
        assert_eq!(keys, vec![Reply::Bulk(b"a1".to_vec())]);
        let Reply::Array(all) = t.cmd::<&[u8]>(&[b"KEYS", b"*"]) else {
            panic!()
        };
        assert_eq!(all.len(), 2);
        assert_eq!(t.db().len(), 3);
    }

    #[test]
    fn randomkey_reaches_every_key() {
        let mut t = T::new(7);
        for i in 0..20u32 {
            t.db().set(format!("k{i}").as_bytes(), Value::Int(1), false);
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            match t.cmd::<&[u8]>(&[b"RANDOMKEY"]) {
                Reply::Bulk(k) => {
                    seen.insert(k);
                }
                r => panic!("{r:?}"),
            }
        }
        assert_eq!(seen.len(), 20);
    }

    #[test]
    fn ttl_travels_exactly_with_rename_copy_move() {
        let mut t = T::new(7);
        t.db().set(b"a", Value::Int(1), false);
        t.db().set_expire(b"a", NOW.0 + 12_345);
        assert_eq!(
            t.cmd::<&[u8]>(&[b"RENAME", b"a", b"b"]),
            Reply::Simple("OK".into())
        );
        assert_eq!(t.db().expire_at(b"b"), Some(NOW.0 + 12_345));
        assert_eq!(t.db().expire_at(b"a"), None);
        assert_eq!(
            t.cmd::<&[u8]>(&[b"COPY", b"b", b"c", b"DB", b"3"]),
            Reply::Int(1)
        );
        assert_eq!(t.eng.server().dbs[3].expire_at(b"c"), Some(NOW.0 + 12_345));
        assert_eq!(t.cmd::<&[u8]>(&[b"MOVE", b"b", b"5"]), Reply::Int(1));
        assert_eq!(t.eng.server().dbs[5].expire_at(b"b"), Some(NOW.0 + 12_345));
        assert!(t.db().is_empty());
        assert!(t.db().expires.is_empty());
        assert_eq!(t.eng.server().dbs[5].keys.get(b"b"), Some(&Value::Int(1)));
    }

    #[test]
    fn read_lookups_count_hits_and_misses() {
        let mut t = T::new(7);
        t.db().set(b"a", Value::Int(1), false);
        t.cmd::<&[u8]>(&[b"EXISTS", b"a", b"a", b"x"]);
        t.cmd::<&[u8]>(&[b"TYPE", b"a"]);
        t.cmd::<&[u8]>(&[b"TOUCH", b"y"]);
        t.cmd::<&[u8]>(&[b"DEL", b"z"]);
        t.cmd::<&[u8]>(&[b"RENAME", b"a", b"b"]);
        assert_eq!((t.db().hits, t.db().misses), (3, 2));
    }
}
