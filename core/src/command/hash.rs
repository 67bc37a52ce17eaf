//! The hash command group (Redis 7.0's t_hash.c).

use super::{is, notify, parse_int, CmdError, Ctx};
use crate::cnum::parse_i64;
use crate::glob::glob_match;
use crate::resp::ReplyWriter;
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

/// `Ctx::read` with the hash mutable (random picks advance the table's rehashing) and the
/// server's RNG borrowed too.
fn read_mut<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<(Option<&'c mut Hash>, &'c mut Rng, ReplyWriter<'c>), CmdError> {
    let now = ctx.now;
    let c = &mut ctx.clients[ctx.handle.0];
    let h = ctx.srv.dbs[c.db].read_mut::<Hash>(key, now)?;
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
    event: Option<&str>,
    f: impl FnOnce(&mut Hash, &Limits, &mut Rng) -> Result<Wrote<R>, CmdError>,
) -> Result<Option<R>, CmdError> {
    let now = ctx.now;
    let lim = limits(ctx);
    let dbi = ctx.client_ref().db;
    let srv = &mut *ctx.srv;
    let db = &mut srv.dbs[dbi];
    let (wrote, emptied) = match db.write::<Hash>(key, now)? {
        Some(h) => {
            let w = f(h, &lim, &mut srv.rng)?;
            let empty = h.is_empty();
            (w, empty)
        }
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
        // HDEL notifies here, before its reply (then `del` if it emptied the hash); the
        // commands that set fields reply first and notify after (`event` None).
        if let Some(event) = event {
            ctx.notify_removal(notify::HASH, event, key);
        }
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
    let created = write(ctx, args[1], true, None, |h, lim, rng| {
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
    ctx.notify(notify::HASH, "hset", args[1]);
    Ok(())
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (field, value) = (args[2], args[3]);
    let set = write(ctx, args[1], true, None, |h, lim, rng| {
        // Redis 7.0 checks for long arguments only once it knows it will add the field.
        let set = !h.contains(field);
        if set {
            h.prepare(&args[2..4], lim, rng);
            h.set(field, value, lim, rng);
        }
        Ok(Wrote {
            result: set,
            changed: set,
        })
    })?
    .unwrap_or(false);
    ctx.out().int(i64::from(set));
    if set {
        ctx.notify(notify::HASH, "hset", args[1]);
    }
    Ok(())
}

/// HGET key field
pub fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
    match h.and_then(|h| h.get(args[2])) {
        Some(v) => w.bulk(v),
        None => w.nil(),
    }
    Ok(())
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
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
    let deleted = write(ctx, args[1], false, Some("hdel"), |h, _, _| {
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
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
    w.int(h.map_or(0, |h| h.len() as i64));
    Ok(())
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
    w.int(h.and_then(|h| h.get(args[2])).map_or(0, |v| v.len() as i64));
    Ok(())
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
    w.int(i64::from(h.is_some_and(|h| h.contains(args[2]))));
    Ok(())
}

/// HGETALL key: a map in RESP3.
pub fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
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
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
    w.array_len(h.map_or(0, Hash::len));
    for (f, _) in h.iter().flat_map(|h| h.iter()) {
        w.bulk(f);
    }
    Ok(())
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
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
    let n = write(ctx, args[1], true, None, |h, lim, rng| {
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
    ctx.notify(notify::HASH, "hincrby", args[1]);
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
    let text = write(ctx, args[1], true, None, |h, lim, rng| {
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
    // Propagated as HSET of the result, so replay does not redo float arithmetic.
    ctx.propagate(&[b"HSET", args[1], field, text.as_bytes()]);
    ctx.out().bulk(text.as_bytes());
    ctx.notify(notify::HASH, "hincrbyfloat", args[1]);
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
    let mut cursor = super::keys::scan_cursor(args[2])?;
    let (h, mut w) = ctx.read::<Hash>(args[1])?;
    let Some(h) = h else {
        super::keys::reply_scan_head(&mut w, 0, 0);
        return Ok(());
    };
    let super::keys::ScanOptions { count, pattern, .. } =
        super::keys::ScanOptions::parse(&args[3..], false)?;
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut take = |f: &[u8], v: &[u8]| found.push((f.to_vec(), v.to_vec()));
    if h.scans_whole() {
        cursor = h.scan(cursor, &mut take);
    } else {
        cursor = super::keys::scan_buckets(cursor, count, |c| {
            let mut items = 0;
            let next = h.scan(c, |f, v| {
                take(f, v);
                // Redis's list holds fields and values alike.
                items += 2;
            });
            (next, items)
        });
    }
    if let Some(p) = pattern {
        found.retain(|(f, _)| glob_match(p, f, false));
    }
    super::keys::reply_scan_head(&mut w, cursor, found.len() * 2);
    for (f, v) in &found {
        w.bulk(f);
        w.bulk(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::Reply;
    use std::collections::{HashMap, HashSet};

    type T = crate::testing::Session;

    /// A hash of `n` fields fN -> vN.
    fn fill(t: &mut T, key: &str, n: usize) {
        let mut args = vec!["HSET".to_string(), key.to_string()];
        for i in 0..n {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(t.cmd(&refs), Reply::Int(n as i64));
    }

    fn bulk(r: &Reply) -> String {
        match r {
            Reply::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        }
    }

    fn array(r: Reply) -> Vec<Reply> {
        match r {
            Reply::Array(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    #[test]
    fn encodings_follow_the_config() {
        let mut t = T::new(11);
        // Redis 7.0's default hash-max-listpack-entries is 512.
        fill(&mut t, "small", 512);
        assert_eq!(t.encoding("small"), "listpack");
        fill(&mut t, "big", 513);
        assert_eq!(t.encoding("big"), "hashtable");
        t.cmd(&["HSET", "v", "a", &"x".repeat(64)]);
        assert_eq!(t.encoding("v"), "listpack");
        t.cmd(&["HSET", "v", "b", &"x".repeat(65)]);
        assert_eq!(t.encoding("v"), "hashtable");
        t.cmd(&["HDEL", "v", "b"]);
        assert_eq!(t.encoding("v"), "hashtable", "one way");
        t.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
        fill(&mut t, "c", 2);
        assert_eq!(t.encoding("c"), "listpack");
        t.cmd(&["HINCRBY", "c", "new", "1"]);
        assert_eq!(t.encoding("c"), "hashtable");
        t.cmd(&["CONFIG", "SET", "hash-max-listpack-value", "3"]);
        t.cmd(&["HSET", "d", "a", "1"]);
        t.cmd(&["HINCRBYFLOAT", "d", "a", "0.5"]);
        assert_eq!(t.encoding("d"), "listpack");
        t.cmd(&["HINCRBYFLOAT", "d", "a", "0.25"]);
        assert_eq!(t.encoding("d"), "hashtable", "1.75 is 4 bytes");
        t.cmd(&["HSET", "e", "a", "1"]);
        assert_eq!(t.cmd(&["HSETNX", "e", "a", "long"]), Reply::Int(0));
        assert_eq!(
            t.encoding("e"),
            "listpack",
            "HSETNX on an existing field converts nothing"
        );
        assert_eq!(t.cmd(&["HSETNX", "e", "b", "long"]), Reply::Int(1));
        assert_eq!(t.encoding("e"), "hashtable");
    }

    #[test]
    fn hrandfield_negative_count_repeats_and_covers() {
        let mut t = T::new(11);
        fill(&mut t, "lp", 5);
        fill(&mut t, "ht", 200);
        for key in ["lp", "ht"] {
            let n = if key == "lp" { 5 } else { 200 };
            let picks = array(t.cmd(&["HRANDFIELD", key, "-3000"]));
            assert_eq!(picks.len(), 3000);
            let mut counts: HashMap<String, usize> = HashMap::new();
            for p in &picks {
                *counts.entry(bulk(p)).or_default() += 1;
            }
            assert_eq!(counts.len(), n, "every field comes up ({key})");
            let with = array(t.cmd(&["HRANDFIELD", key, "-50", "WITHVALUES"]));
            assert_eq!(with.len(), 100);
            for pair in with.chunks(2) {
                assert_eq!(bulk(&pair[1]), bulk(&pair[0]).replace('f', "v"));
            }
        }
    }

    #[test]
    fn hrandfield_positive_count_is_unique() {
        let mut t = T::new(11);
        fill(&mut t, "lp", 10);
        fill(&mut t, "ht", 300);
        for (key, n) in [("lp", 10), ("ht", 300)] {
            for count in [1, 2, 9, n / 3 + 1, n - 1, n, n + 5] {
                let picks = array(t.cmd(&["HRANDFIELD", key, &count.to_string()]));
                let names: Vec<String> = picks.iter().map(bulk).collect();
                assert_eq!(names.len(), count.min(n));
                assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
                if key == "lp" {
                    // Listpack order, as Redis's lpRandomPairsUnique gives.
                    let idx: Vec<usize> = names.iter().map(|s| s[1..].parse().unwrap()).collect();
                    assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
                }
            }
        }
        // Single picks come out uniformly enough.
        let mut counts: HashMap<String, usize> = HashMap::new();
        for _ in 0..5000 {
            *counts
                .entry(bulk(&t.cmd(&["HRANDFIELD", "lp"])))
                .or_default() += 1;
        }
        assert_eq!(counts.len(), 10);
        assert!(
            counts.values().all(|&c| (350..650).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn hrandfield_resp3_pairs_on_a_table() {
        let mut t = T::new(11);
        fill(&mut t, "ht", 200);
        t.cmd(&["HELLO", "3"]);
        for count in ["-7", "7", "150", "500"] {
            let pairs = array(t.cmd(&["HRANDFIELD", "ht", count, "WITHVALUES"]));
            let want = count.parse::<i64>().unwrap().unsigned_abs().min(200) as usize;
            assert_eq!(pairs.len(), want);
            for p in pairs {
                let p = array(p);
                assert_eq!(p.len(), 2);
                assert_eq!(bulk(&p[1]), bulk(&p[0]).replace('f', "v"));
            }
        }
    }

    #[test]
    fn hscan_iterates_a_table_with_count_and_match() {
        let mut t = T::new(11);
        fill(&mut t, "ht", 1000);
        let mut seen = HashSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let mut parts = array(t.cmd(&["HSCAN", "ht", &cursor, "COUNT", "20"]));
            let items = array(parts.pop().unwrap());
            cursor = bulk(&parts[0]);
            assert_eq!(items.len() % 2, 0);
            for pair in items.chunks(2) {
                let f = bulk(&pair[0]);
                if f.starts_with('f') {
                    assert_eq!(bulk(&pair[1]), f.replace('f', "v"));
                }
                seen.insert(f);
            }
            calls += 1;
            // Between calls, churn other fields (the scan guarantee holds for the rest).
            t.cmd(&["HSET", "ht", &format!("extra{calls}"), "x"]);
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 10, "COUNT 20 takes many calls: {calls}");
        assert!((0..1000).all(|i| seen.contains(&format!("f{i}"))));
        let mut matched = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let mut parts = array(t.cmd(&["HSCAN", "ht", &cursor, "MATCH", "f99*"]));
            let items = array(parts.pop().unwrap());
            cursor = bulk(&parts[0]);
            matched.extend(items.chunks(2).map(|p| bulk(&p[0])));
            if cursor == "0" {
                break;
            }
        }
        matched.sort();
        assert_eq!(
            matched,
            vec![
                "f99", "f990", "f991", "f992", "f993", "f994", "f995", "f996", "f997", "f998",
                "f999"
            ]
        );
    }

    #[test]
    fn emptied_hashes_are_deleted_and_changes_counted() {
        let mut t = T::new(11);
        fill(&mut t, "h", 3);
        let dirty = t.eng.server_mut().dirty;
        t.cmd(&["HDEL", "h", "nope"]);
        t.cmd(&["HSETNX", "h", "f0", "x"]);
        assert_eq!(t.eng.server_mut().dirty, dirty, "no change, no dirty");
        t.cmd(&["HDEL", "h", "f0", "f1", "f2", "f3"]);
        assert_eq!(t.eng.server_mut().dirty, dirty + 1);
        assert!(t.eng.server_mut().dbs[0].keys.get(b"h").is_none());
        // Failed writes on a missing key leave nothing behind.
        assert!(matches!(
            t.cmd(&["HINCRBYFLOAT", "k", "f", "inf"]),
            Reply::Error(_)
        ));
        assert!(t.eng.server_mut().dbs[0].keys.get(b"k").is_none());
    }
}
