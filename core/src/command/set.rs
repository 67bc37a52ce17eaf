//! The set command group (Redis 7.0's t_set.c).
//!
//! SINTER, SMEMBERS (which Redis 7.0 runs as a one-key SINTER), SINTERCARD and SINTERSTORE
//! share `sinter_generic`; SUNION, SDIFF, their STORE forms and SPOP-everything share
//! `sunion_diff_generic`, as in Redis. Results are built the way Redis builds them (a fresh
//! intset that converts as members arrive), so result encodings and the sorted order of
//! intset results match Redis's; hashtable order is hash order (not Redis's).

use super::{is, notify, parse_int, CmdError, Ctx};
use crate::glob::glob_match;
use crate::keyspace::Db;
use crate::resp::ReplyWriter;
use crate::rng::Rng;
use crate::types::set::Member;
use crate::types::{Dict, Kind, Set, Value};

/// SPOP_MOVE_STRATEGY_MUL: when popping nearly everything, rebuild the remainder instead.
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;
/// SRANDMEMBER_SUB_STRATEGY_MUL: when asking for most of the set, copy it and drop some.
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;
/// A negative SRANDMEMBER count repeats members without bound; Redis streams such replies
/// until the client is closed for its output buffer (or the server runs out of memory).
/// Past this many bytes of pending output the engine stops and closes the client instead.
#[cfg(not(test))]
const REPLY_GUARD_BYTES: usize = 256 << 20;
#[cfg(test)]
const REPLY_GUARD_BYTES: usize = 1 << 20;

fn out_of_range_positive() -> CmdError {
    CmdError::err("value is out of range, must be positive")
}

/// The calling client's database, the server's RNG and set-max-intset-entries, borrowed
/// together.
fn parts<'a>(ctx: &'a mut Ctx) -> (&'a mut Db, &'a mut Rng, u64) {
    let i = ctx.clients[ctx.handle.0].db;
    let srv = &mut *ctx.srv;
    (
        &mut srv.dbs[i],
        &mut srv.rng,
        srv.config.set_max_intset_entries,
    )
}

fn write_member(w: &mut ReplyWriter, m: Member<'_>) {
    match m {
        Member::Int(n) => w.bulk_i64(n),
        Member::Bytes(b) => w.bulk(b),
    }
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let key = args[1];
    let now = ctx.now;
    let (db, rng, max) = parts(ctx);
    let added = match db.write::<Set>(key, now)? {
        Some(s) => args[2..].iter().filter(|m| s.add(m, max, rng)).count(),
        None => {
            // setTypeCreate looks at the first member only.
            let mut s = Set::for_first_member(args[2], rng);
            let added = args[2..].iter().filter(|m| s.add(m, max, rng)).count();
            db.insert_new(key, Value::Set(Box::new(s)));
            added
        }
    };
    if added > 0 {
        ctx.key_modified(key);
        ctx.notify(notify::SET, "sadd", key);
    }
    ctx.out().int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let key = args[1];
    let now = ctx.now;
    let db = ctx.db();
    let (deleted, emptied) = match db.write::<Set>(key, now)? {
        None => (0, false),
        Some(s) => {
            let mut deleted = 0;
            for m in &args[2..] {
                if s.remove(m) {
                    deleted += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (deleted, s.is_empty())
        }
    };
    if emptied {
        db.remove(key);
    }
    if deleted > 0 {
        ctx.key_modified(key);
        ctx.notify_removal(notify::SET, "srem", key);
    }
    ctx.out().int(deleted);
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (src, dst, member) = (args[1], args[2], args[3]);
    let now = ctx.now;
    let (db, _, _) = parts(ctx);
    // Both are looked up (and lazily expired) first, as lookupKeyWrite does in Redis.
    let src_found = db.get_as::<Set>(src, now).map(|s| s.is_some());
    let dst_checked = db.get_as::<Set>(dst, now).map(|_| ());
    if src_found == Ok(false) {
        ctx.out().int(0);
        return Ok(());
    }
    src_found?;
    dst_checked?;
    if src == dst {
        let found = matches!(db.keys.get(src), Some(Value::Set(s)) if s.contains(member));
        ctx.out().int(i64::from(found));
        return Ok(());
    }
    let Some(Value::Set(s)) = db.keys.get_mut(src) else {
        return Err(CmdError::WrongType);
    };
    if !s.remove(member) {
        ctx.out().int(0);
        return Ok(());
    }
    if s.is_empty() {
        db.remove(src);
    }
    // srem and del on the source come before the destination's creation (its `new`).
    ctx.notify_removal(notify::SET, "srem", src);
    let (db, rng, max) = parts(ctx);
    let added = match db.keys.get_mut(dst) {
        Some(Value::Set(d)) => d.add(member, max, rng),
        _ => {
            let mut d = Set::for_first_member(member, rng);
            d.add(member, max, rng);
            db.insert_new(dst, Value::Set(Box::new(d)));
            true
        }
    };
    ctx.key_modified(src);
    if added {
        ctx.key_modified(dst);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.out().int(1);
    Ok(())
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (s, mut out) = ctx.read::<Set>(args[1])?;
    out.int(i64::from(s.is_some_and(|s| s.contains(args[2]))));
    Ok(())
}

/// SMISMEMBER key member [member ...] — a missing key is an empty set.
pub fn smismember(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (s, mut w) = ctx.read::<Set>(args[1])?;
    w.array_len(args.len() - 2);
    for m in &args[2..] {
        w.int(i64::from(s.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

/// SCARD key
pub fn scard(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (s, mut out) = ctx.read::<Set>(args[1])?;
    out.int(s.map_or(0, Set::len) as i64);
    Ok(())
}

/// SMEMBERS key — Redis 7.0 runs it as SINTER of one key.
pub fn smembers(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // sinterGenericCommand over one set: every member in the set's order, written straight
    // into the reply (the general path collects into a second buffer to count them first).
    let (set, mut w) = ctx.read::<Set>(args[1])?;
    match set {
        None => w.set_len(0),
        Some(s) => {
            w.set_len(s.len());
            for m in s.iter() {
                write_member(&mut w, m);
            }
        }
    }
    Ok(())
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match args.len() {
        2 => {}
        3 => return spop_with_count(ctx, args),
        _ => return Err(CmdError::Syntax),
    }
    let key = args[1];
    let now = ctx.now;
    let (db, rng, _) = parts(ctx);
    let (popped, emptied) = match db.write::<Set>(key, now)? {
        None => {
            ctx.out().nil();
            return Ok(());
        }
        Some(s) => (s.pop_random(rng), s.is_empty()),
    };
    if emptied {
        db.remove(key);
    }
    ctx.key_modified(key);
    ctx.notify(notify::SET, "spop", key);
    if let Some(m) = &popped {
        // Propagated as SREM: replay must remove this member, not a random one.
        m.as_member()
            .with_bytes(|b| ctx.propagate(&[b"SREM", key, b]));
    }
    match popped {
        Some(m) => write_member(&mut ctx.out(), m.as_member()),
        None => ctx.out().nil(),
    }
    // Redis replies between spop and the del of the emptied set.
    if emptied {
        ctx.notify(notify::GENERIC, "del", key);
    }
    Ok(())
}

/// SPOP key count: Redis's spopWithCountCommand and its three strategies.
fn spop_with_count(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let key = args[1];
    let count = parse_int(args[2]).map_err(|_| out_of_range_positive())?;
    let count = u64::try_from(count).map_err(|_| out_of_range_positive())?;
    let now = ctx.now;
    let size = match ctx.db().get_as::<Set>(key, now)? {
        None => {
            ctx.out().set_len(0);
            return Ok(());
        }
        Some(s) => s.len() as u64,
    };
    if count == 0 {
        ctx.out().set_len(0);
        return Ok(());
    }
    ctx.notify(notify::SET, "spop", key);
    // CASE 1: everything goes; the reply is the union of the one set.
    if count >= size {
        sunion_diff_generic(ctx, &args[1..2], None, SetOp::Union)?;
        ctx.db().remove(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.key_modified(key);
        ctx.propagate(&[b"DEL", key]);
        return Ok(());
    }
    let ctx_propagating = ctx.srv.persist.propagate;
    let (db, rng, max) = parts(ctx);
    let Some(Value::Set(set)) = db.keys.get_mut(key) else {
        return Err(CmdError::WrongType);
    };
    let mut buf = Vec::new();
    let mut w = ReplyWriter::new(&mut buf, false);
    let remaining = size - count;
    // What the AOF records: the members actually popped.
    let mut popped: Option<Vec<Vec<u8>>> = ctx_propagating.then(Vec::new);
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        // CASE 2: pop `count` random members one by one.
        for _ in 0..count {
            if let Some(m) = set.pop_random(rng) {
                write_member(&mut w, m.as_member());
                if let Some(p) = &mut popped {
                    p.push(m.as_member().to_vec());
                }
            }
        }
    } else {
        // CASE 3: move the `remaining` survivors into a new set (which starts small again,
        // as Redis's setTypeCreate does) and reply with what is left of the old one.
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            if let Some(m) = set.pop_random(rng) {
                let m = m.as_member();
                let new = match &mut kept {
                    Some(k) => k,
                    None => kept.insert(m.with_bytes(|b| Set::for_first_member(b, rng))),
                };
                new.add_member(m, max, rng);
            }
        }
        for m in set.iter() {
            write_member(&mut w, m);
            if let Some(p) = &mut popped {
                p.push(m.to_vec());
            }
        }
        if let Some(k) = kept {
            **set = k;
        }
    }
    ctx.key_modified(key);
    // One SREM per member, as 7.0.15's spopWithCountCommand propagates them (wrapped in
    // MULTI/EXEC when there are several; 7.2 batches them by 1024).
    for m in popped.unwrap_or_default() {
        ctx.propagate(&[b"SREM", key, &m]);
    }
    let mut w = ctx.out();
    w.set_len(count as usize);
    w.out.extend_from_slice(&buf);
    Ok(())
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match args.len() {
        2 => {}
        3 => return srandmember_with_count(ctx, args),
        _ => return Err(CmdError::Syntax),
    }
    let key = args[1];
    if ctx.read::<Set>(key)?.0.is_none() {
        ctx.out().nil();
        return Ok(());
    }
    let (db, rng, _) = parts(ctx);
    let m = match db.keys.get_mut(key) {
        Some(Value::Set(s)) => s.random_member(rng),
        _ => None,
    };
    match m {
        Some(m) => write_member(&mut ctx.out(), m.as_member()),
        None => ctx.out().nil(),
    }
    Ok(())
}

/// SRANDMEMBER key count: Redis's srandmemberWithCountCommand. The reply is an array (not
/// a set) even in RESP3; a negative count allows repeats.
fn srandmember_with_count(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let key = args[1];
    let l = parse_int(args[2])?;
    if l == i64::MIN {
        return Err(CmdError::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let size = match ctx.read::<Set>(key)?.0 {
        None => {
            ctx.out().array_len(0);
            return Ok(());
        }
        Some(s) => s.len() as u64,
    };
    if count == 0 {
        ctx.out().array_len(0);
        return Ok(());
    }
    let i = ctx.clients[ctx.handle.0].db;
    let client = &mut ctx.clients[ctx.handle.0];
    let srv = &mut *ctx.srv;
    let rng = &mut srv.rng;
    let Some(Value::Set(set)) = srv.dbs[i].keys.get_mut(key) else {
        return Err(CmdError::WrongType);
    };
    let mut w = ReplyWriter::new(&mut client.out, client.resp3);

    // CASE 1: repeats allowed (or a single member): sample the whole set every time.
    if !uniq || count == 1 {
        w.array_len(count as usize);
        for _ in 0..count {
            if let Some(m) = set.random_member(rng) {
                write_member(&mut w, m.as_member());
            }
            if w.out.len() > REPLY_GUARD_BYTES {
                client.close_asap = true;
                break;
            }
        }
        return Ok(());
    }
    // CASE 2: the whole set, in its own order.
    if count >= size {
        w.array_len(size as usize);
        for m in set.iter() {
            write_member(&mut w, m);
        }
        return Ok(());
    }
    // CASE 3 and 4 collect distinct members in a scratch table, then reply in its order.
    let mut picked: Dict<()> = Dict::new(rng.next_u64());
    if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // CASE 3: copy everything, then drop random members down to `count`.
        for m in set.iter() {
            m.with_bytes(|b| picked.insert(b, ()));
        }
        while picked.len() as u64 > count {
            let Some(k) = picked.random_entry(rng).map(|(k, _)| k.clone()) else {
                break;
            };
            picked.remove(k.as_bytes());
        }
    } else {
        // CASE 4: sample until `count` distinct members were seen.
        while (picked.len() as u64) < count {
            let Some(m) = set.random_member(rng) else {
                break;
            };
            m.as_member().with_bytes(|b| picked.insert(b, ()));
        }
    }
    w.array_len(picked.len());
    for (k, _) in picked.iter() {
        w.bulk(k.as_bytes());
    }
    Ok(())
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sinter_generic(ctx, &args[1..], None, false, 0)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let numkeys_err = || CmdError::err("numkeys should be greater than 0");
    let numkeys = parse_int(args[1]).map_err(|_| numkeys_err())?;
    if numkeys < 1 {
        return Err(numkeys_err());
    }
    let available = args.len() - 2;
    let numkeys = match usize::try_from(numkeys) {
        Ok(n) if n <= available => n,
        _ => {
            return Err(CmdError::err(
                "Number of keys can't be greater than number of args",
            ))
        }
    };
    let mut limit: u64 = 0;
    let mut j = 2 + numkeys;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "limit") && more > 0 {
            j += 1;
            let negative = || CmdError::err("LIMIT can't be negative");
            let l = parse_int(args[j]).map_err(|_| negative())?;
            limit = u64::try_from(l).map_err(|_| negative())?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    sinter_generic(ctx, &args[2..2 + numkeys], None, true, limit)
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sinter_generic(ctx, &args[2..], Some(args[1]), false, 0)
}

/// Stores `result` at `dst` (Redis's setKey: any old value and its TTL go) or, when it is
/// empty, deletes `dst`; replies with the result's size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let n = result.len();
    let db = ctx.db();
    // Redis replies first, then notifies.
    let event = if n > 0 {
        db.set(dst, Value::Set(Box::new(result)), false);
        Some((notify::SET, event))
    } else if db.remove(dst).is_some() {
        Some((notify::GENERIC, "del"))
    } else {
        None
    };
    ctx.out().int(n as i64);
    if let Some((class, event)) = event {
        ctx.key_modified(dst);
        ctx.notify(class, event, dst);
    }
}

/// Looks every key up (read lookups, as Redis 7.0 does even for the STORE forms), failing on
/// the first one that is not a set. Returns which keys exist.
fn lookup_sets(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<bool>, CmdError> {
    keys.iter()
        .map(|k| ctx.read::<Set>(k).map(|(s, _)| s.is_some()))
        .collect()
}

/// The sets of `keys` (after `lookup_sets`); None for missing keys.
fn sets_of<'a>(db: &'a Db, keys: &[&[u8]]) -> Vec<Option<&'a Set>> {
    keys.iter()
        .map(|k| db.keys.get(k).and_then(Set::of))
        .collect()
}

/// Redis's sinterGenericCommand: SINTER / SMEMBERS (reply), SINTERCARD (`card_only`, stop at
/// `limit` unless 0) and SINTERSTORE (`dst`).
fn sinter_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
    card_only: bool,
    limit: u64,
) -> Result<(), CmdError> {
    let exists = lookup_sets(ctx, keys)?;
    if exists.contains(&false) {
        // An intersection with an empty set is empty.
        match dst {
            Some(dst) => store_result(ctx, dst, Set::new_intset(), "sinterstore"),
            None if card_only => ctx.out().int(0),
            None => ctx.out().set_len(0),
        }
        return Ok(());
    }
    let i = ctx.clients[ctx.handle.0].db;
    let srv = &mut *ctx.srv;
    let (db, rng, max) = (&srv.dbs[i], &mut srv.rng, srv.config.set_max_intset_entries);
    let mut sets: Vec<&Set> = sets_of(db, keys).into_iter().flatten().collect();
    if sets.is_empty() {
        return Err(CmdError::WrongType);
    }
    // Smallest first (stable, like glibc's merge-sort qsort).
    sets.sort_by_key(|s| s.len());
    let (first, rest) = (sets[0], &sets[1..]);
    let in_all = |m: Member<'_>| {
        rest.iter()
            .all(|s| std::ptr::eq(*s, first) || s.contains_member(m))
    };

    if card_only {
        let mut n: u64 = 0;
        for m in first.iter() {
            if in_all(m) {
                n += 1;
                if limit != 0 && n >= limit {
                    break;
                }
            }
        }
        ctx.out().int(n as i64);
        return Ok(());
    }
    if let Some(dst) = dst {
        let mut result = Set::new_intset();
        for m in first.iter() {
            if in_all(m) {
                result.add_member(m, max, rng);
            }
        }
        store_result(ctx, dst, result, "sinterstore");
        return Ok(());
    }
    let mut buf = Vec::new();
    let mut w = ReplyWriter::new(&mut buf, false);
    let mut n = 0;
    for m in first.iter() {
        if in_all(m) {
            write_member(&mut w, m);
            n += 1;
        }
    }
    let mut w = ctx.out();
    w.set_len(n);
    w.out.extend_from_slice(&buf);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sunion_diff_generic(ctx, &args[1..], None, SetOp::Union)
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sunion_diff_generic(ctx, &args[2..], Some(args[1]), SetOp::Union)
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sunion_diff_generic(ctx, &args[1..], None, SetOp::Diff)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sunion_diff_generic(ctx, &args[2..], Some(args[1]), SetOp::Diff)
}

/// Redis's sunionDiffGenericCommand. The result is built in a fresh intset that converts as
/// members arrive; its iteration order is the reply's order. SDIFF picks between Redis's
/// two algorithms the way Redis does, because the choice decides the result's encoding.
fn sunion_diff_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
    op: SetOp,
) -> Result<(), CmdError> {
    lookup_sets(ctx, keys)?;
    let i = ctx.clients[ctx.handle.0].db;
    let srv = &mut *ctx.srv;
    let (db, rng, max) = (&srv.dbs[i], &mut srv.rng, srv.config.set_max_intset_entries);
    let mut sets = sets_of(db, keys);
    let same = |a: Option<&Set>, b: Option<&Set>| matches!((a, b), (Some(a), Some(b)) if std::ptr::eq(a, b));
    let sameset = sets.iter().skip(1).any(|s| same(sets[0], *s));
    let mut result = Set::new_intset();

    match op {
        SetOp::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    result.add_member(m, max, rng);
                }
            }
        }
        SetOp::Diff if sameset => {} // A set minus itself is empty.
        SetOp::Diff => {
            if let Some(first) = sets[0] {
                let first_len = first.len() as u64;
                let (mut one, mut two) = (0u64, 0u64);
                for s in sets.iter().flatten() {
                    one = one.saturating_add(first_len);
                    two = two.saturating_add(s.len() as u64);
                }
                // Algorithm 1 has better constants: give it some advantage.
                if one / 2 <= two {
                    // Algorithm 1: keep members of the first set found in no other set,
                    // checking the bigger sets first.
                    sets[1..].sort_by_key(|s| std::cmp::Reverse(s.map_or(0, Set::len)));
                    for m in first.iter() {
                        if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                            result.add_member(m, max, rng);
                        }
                    }
                } else {
                    // Algorithm 2: add the first set, remove every other.
                    for m in first.iter() {
                        result.add_member(m, max, rng);
                    }
                    for s in sets[1..].iter().flatten() {
                        if result.is_empty() {
                            break;
                        }
                        for m in s.iter() {
                            result.remove_member(m);
                        }
                    }
                }
            }
        }
    }

    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "sunionstore",
                SetOp::Diff => "sdiffstore",
            };
            store_result(ctx, dst, result, event)
        }
        None => {
            let mut w = ctx.out();
            w.set_len(result.len());
            for m in result.iter() {
                write_member(&mut w, m);
            }
        }
    }
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// Redis's scanGenericCommand on a set: the cursor is checked before the key, the options
/// after it (TYPE is SCAN's only); an intset comes back whole with cursor 0.
pub fn sscan(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut cursor = super::keys::scan_cursor(args[2])?;
    if ctx.read::<Set>(args[1])?.0.is_none() {
        super::keys::reply_scan_head(&mut ctx.out(), 0, 0);
        return Ok(());
    }
    let super::keys::ScanOptions { count, pattern, .. } =
        super::keys::ScanOptions::parse(&args[3..], false)?;
    let Some(Value::Set(set)) = ctx.db().keys.get(args[1]) else {
        return Err(CmdError::WrongType);
    };
    let mut found: Vec<Vec<u8>> = Vec::new();
    if set.is_intset() {
        found = set.members();
        cursor = 0;
    } else {
        cursor = super::keys::scan_buckets(cursor, count, |c| {
            let before = found.len();
            let next = set.scan(c, |m| found.push(m.to_vec())).unwrap_or(0);
            (next, found.len() - before)
        });
    }
    if let Some(p) = pattern {
        found.retain(|m| glob_match(p, m, false));
    }
    let mut w = ctx.out();
    super::keys::reply_scan_head(&mut w, cursor, found.len());
    for m in &found {
        w.bulk(m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::Reply;
    use std::collections::{HashMap, HashSet};

    type T = crate::testing::Session;

    fn fill(t: &mut T, key: &str, members: impl Iterator<Item = String>) {
        for m in members {
            t.int(&["SADD", key, &m]);
        }
    }

    fn ints(range: std::ops::Range<i64>) -> impl Iterator<Item = String> {
        range.map(|i| i.to_string())
    }

    /// A hash-table set holding only the integers 1..=10 (a non-integer member forces the
    /// encoding and then goes).
    fn hashtable_of_ints(t: &mut T, key: &str) {
        t.int(&["SADD", key, "a"]);
        fill(t, key, ints(1..11));
        t.int(&["SREM", key, "a"]);
        assert_eq!(t.encoding(key), "hashtable");
    }

    #[test]
    fn spop_with_count_both_strategies_and_encodings() {
        // (members, count): CASE 2 (few popped) and CASE 3 (most popped), on both encodings.
        for strings in [false, true] {
            for count in [3usize, 45, 49] {
                let mut t = T::new(7);
                let all: Vec<String> = (0..50)
                    .map(|i| {
                        if strings {
                            format!("m{i}")
                        } else {
                            i.to_string()
                        }
                    })
                    .collect();
                fill(&mut t, "s", all.iter().cloned());
                let popped = t.strings(&["SPOP", "s", &count.to_string()]);
                assert_eq!(popped.len(), count);
                let popped: HashSet<String> = popped.into_iter().collect();
                assert_eq!(popped.len(), count, "distinct");
                let rest: HashSet<String> = t.strings(&["SMEMBERS", "s"]).into_iter().collect();
                assert_eq!(rest.len(), 50 - count);
                assert!(popped.is_disjoint(&rest));
                let union: HashSet<String> = popped.union(&rest).cloned().collect();
                assert_eq!(union, all.into_iter().collect::<HashSet<_>>());
            }
        }
    }

    #[test]
    fn spop_keep_remainder_strategy_rebuilds_a_small_set() {
        // Like Redis: popping 9 of 10 builds the survivor set anew, so a hash table holding
        // only integers becomes an intset again (OBJECT ENCODING says "intset" in Redis too).
        let mut t = T::new(7);
        hashtable_of_ints(&mut t, "s");
        assert_eq!(t.strings(&["SPOP", "s", "9"]).len(), 9);
        assert_eq!(t.encoding("s"), "intset");
        assert_eq!(t.int(&["SCARD", "s"]), 1);
    }

    #[test]
    fn spop_single_empties_and_deletes() {
        let mut t = T::new(7);
        fill(&mut t, "s", ints(0..20));
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let Reply::Bulk(b) = t.cmd(&["SPOP", "s"]) else {
                panic!("bulk")
            };
            assert!(seen.insert(b));
        }
        assert_eq!(t.int(&["EXISTS", "s"]), 0);
    }

    #[test]
    fn srandmember_counts() {
        for strings in [false, true] {
            let mut t = T::new(7);
            let all: HashSet<String> = (0..40)
                .map(|i| {
                    if strings {
                        format!("m{i}")
                    } else {
                        i.to_string()
                    }
                })
                .collect();
            fill(&mut t, "s", all.iter().cloned());
            // Positive counts: distinct members (CASE 3 for 30, CASE 4 for 5).
            for count in [1usize, 5, 30, 39] {
                let got = t.strings(&["SRANDMEMBER", "s", &count.to_string()]);
                assert_eq!(got.len(), count);
                let set: HashSet<String> = got.into_iter().collect();
                assert_eq!(set.len(), count, "distinct");
                assert!(set.is_subset(&all));
            }
            // Negative counts repeat: 200 picks from 40 members must repeat.
            let got = t.strings(&["SRANDMEMBER", "s", "-200"]);
            assert_eq!(got.len(), 200);
            let distinct: HashSet<&String> = got.iter().collect();
            assert!(distinct.len() < 200 && distinct.iter().all(|m| all.contains(*m)));
            // Nothing was removed.
            assert_eq!(t.int(&["SCARD", "s"]), 40);
        }
    }

    #[test]
    fn srandmember_reaches_every_member_roughly_evenly() {
        for strings in [false, true] {
            let mut t = T::new(7);
            fill(
                &mut t,
                "s",
                (0..10).map(|i| {
                    if strings {
                        format!("m{i}")
                    } else {
                        i.to_string()
                    }
                }),
            );
            let mut hist: HashMap<String, usize> = HashMap::new();
            for m in t.strings(&["SRANDMEMBER", "s", "-10000"]) {
                *hist.entry(m).or_default() += 1;
            }
            assert_eq!(hist.len(), 10);
            // Expected 1000 each; a uniform sampler is nowhere near these bounds.
            assert!(hist.values().all(|&n| (700..1300).contains(&n)), "{hist:?}");
        }
    }

    #[test]
    fn srandmember_huge_negative_count_closes_the_client() {
        let mut t = T::new(7);
        t.int(&["SADD", "s", "x"]);
        let out = t.raw(&["SRANDMEMBER", "s", "-9223372036854775807"]);
        assert!(out.starts_with(b"*9223372036854775807\r\n$1\r\nx\r\n"));
        assert!(out.len() < 2 * super::REPLY_GUARD_BYTES);
        assert!(t.eng.should_close(t.id));
    }

    #[test]
    fn sscan_visits_every_member_of_a_table() {
        let mut t = T::new(7);
        let all: HashSet<String> = (0..1000).map(|i| format!("m{i}")).collect();
        fill(&mut t, "s", all.iter().cloned());
        let mut seen = HashSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let Reply::Array(parts) = t.cmd(&["SSCAN", "s", &cursor, "COUNT", "20"]) else {
                panic!("array")
            };
            let [Reply::Bulk(c), Reply::Array(items)] = &parts[..] else {
                panic!("[cursor, items]")
            };
            for i in items {
                let Reply::Bulk(b) = i else { panic!("bulk") };
                seen.insert(String::from_utf8(b.clone()).unwrap());
            }
            cursor = String::from_utf8(c.clone()).unwrap();
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen, all);
        assert!(calls > 10, "a table is scanned in steps");
        let Reply::Array(parts) = t.cmd(&["SSCAN", "s", "0", "MATCH", "m99*", "COUNT", "5000"])
        else {
            panic!("array")
        };
        let Reply::Array(items) = &parts[1] else {
            panic!("items")
        };
        assert_eq!(items.len(), 11); // m99, m990..m999
    }

    #[test]
    fn sdiff_algorithm_choice_decides_the_encoding_like_redis() {
        // Checked on redis 7.0.15: algorithm 2 copies the 600-member first set (so the
        // result turns into a hash table), algorithm 1 only adds the survivors.
        let mut t = T::new(7);
        fill(&mut t, "first", ints(1..601));
        fill(&mut t, "o1", ints(1..51));
        fill(&mut t, "o2", ints(51..101));
        fill(&mut t, "o3", ints(1..101));
        assert_eq!(t.int(&["SDIFFSTORE", "d", "first", "o1", "o2"]), 500);
        assert_eq!(t.encoding("d"), "hashtable");
        assert_eq!(t.int(&["SDIFFSTORE", "d2", "first", "o3"]), 500);
        assert_eq!(t.encoding("d2"), "intset");
        let d: HashSet<String> = t.strings(&["SMEMBERS", "d"]).into_iter().collect();
        let d2: Vec<String> = t.strings(&["SMEMBERS", "d2"]);
        assert_eq!(d2, ints(101..601).collect::<Vec<_>>(), "intset: ascending");
        assert_eq!(d, d2.into_iter().collect::<HashSet<_>>());
    }

    #[test]
    fn store_results_start_as_intsets() {
        let mut t = T::new(7);
        hashtable_of_ints(&mut t, "h");
        assert_eq!(t.int(&["SINTERSTORE", "i", "h", "h"]), 10);
        assert_eq!(t.encoding("i"), "intset");
        assert_eq!(t.int(&["SUNIONSTORE", "u", "h"]), 10);
        assert_eq!(t.encoding("u"), "intset");
        fill(&mut t, "big", ints(0..600));
        assert_eq!(t.int(&["SUNIONSTORE", "u", "big"]), 600);
        assert_eq!(t.encoding("u"), "hashtable");
    }

    #[test]
    fn intset_limit_follows_config() {
        let mut t = T::new(7);
        t.cmd(&["CONFIG", "SET", "set-max-intset-entries", "3"]);
        fill(&mut t, "s", ints(0..3));
        assert_eq!(t.encoding("s"), "intset");
        t.int(&["SADD", "s", "3"]);
        assert_eq!(t.encoding("s"), "hashtable");
        t.int(&["SADD", "n", "x"]);
        assert_eq!(t.encoding("n"), "hashtable");
    }

    #[test]
    fn smove_between_encodings() {
        let mut t = T::new(7);
        fill(&mut t, "a", ints(0..5));
        t.int(&["SADD", "b", "x"]);
        assert_eq!(t.int(&["SMOVE", "b", "a", "x"]), 1);
        assert_eq!(t.encoding("a"), "hashtable");
        assert_eq!(t.int(&["EXISTS", "b"]), 0);
        assert_eq!(t.int(&["SMOVE", "a", "c", "3"]), 1);
        assert_eq!(t.encoding("c"), "intset");
        assert_eq!(t.int(&["SISMEMBER", "a", "3"]), 0);
    }
}
