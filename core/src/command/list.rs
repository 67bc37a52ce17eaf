//! The list command group (Redis 7.0's t_list.c).
//!
//! The pushing, popping and moving is done by `push`, `pop`, `mpop` and `lmove_generic`, which
//! work on a `Db` and return what happened without writing a reply, so the blocking variants
//! (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH) can serve a woken client with the same code.
//! A list that becomes empty is deleted, as Redis never keeps empty lists.

use super::{is, notify, parse_int, CmdError, Ctx};
use crate::cnum::parse_i64;
use crate::keyspace::Db;
use crate::resp::ReplyWriter;
use crate::time::UnixMillis;
use crate::types::{List, Value};

/// Which end of a list (Redis's LIST_HEAD / LIST_TAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// Redis's `getListPositionFromObjectOrReply`: LEFT or RIGHT, else a syntax error.
pub fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "right") {
        Ok(End::Right)
    } else if is(arg, "left") {
        Ok(End::Left)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Redis's `getRangeLongFromObjectOrReply` with a custom message, which Redis also uses when
/// the argument is not a number at all.
fn parse_range(arg: &[u8], min: i64, msg: &str) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(CmdError::err(msg)),
    }
}

fn push_one(l: &mut List, end: End, v: &[u8]) {
    match end {
        End::Left => l.push_front(v),
        End::Right => l.push_back(v),
    }
}

fn pop_one(l: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => l.pop_front(),
        End::Right => l.pop_back(),
    }
}

/// Redis's `pushGenericCommand` minus the reply: pushes `values` one by one at `end`,
/// creating the list unless `only_existing` (LPUSHX/RPUSHX). Returns the new length, 0 when
/// nothing was pushed because the key is missing.
pub fn push(
    db: &mut Db,
    key: &[u8],
    now: UnixMillis,
    end: End,
    values: &[&[u8]],
    only_existing: bool,
) -> Result<usize, CmdError> {
    if let Some(l) = db.write::<List>(key, now)? {
        for v in values {
            push_one(l, end, v);
        }
        return Ok(l.len());
    }
    if only_existing {
        return Ok(0);
    }
    let mut l = List::new();
    for v in values {
        push_one(&mut l, end, v);
    }
    let n = l.len();
    db.insert_new(key, Value::List(Box::new(l)));
    Ok(n)
}

/// Pops up to `count` elements from `end` (in pop order), deleting the key if the list
/// empties. None when the key is missing.
pub fn pop(
    db: &mut Db,
    key: &[u8],
    now: UnixMillis,
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, CmdError> {
    let Some(l) = db.write::<List>(key, now)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(v) = pop_one(l, end) {
            out.push(v);
        }
    }
    if l.is_empty() {
        db.remove(key);
    }
    Ok(Some(out))
}

/// What `mpop` popped: (index into the keys, elements in pop order).
pub type KeyElements = (usize, Vec<Vec<u8>>);

/// Redis's `mpopGenericCommand` minus the reply: pops up to `count` elements from the first
/// key holding a non-empty list. Missing keys are skipped; a key of another type met before
/// that is WRONGTYPE. Returns (index into `keys`, elements popped).
pub fn mpop(
    db: &mut Db,
    keys: &[&[u8]],
    now: UnixMillis,
    end: End,
    count: usize,
) -> Result<Option<KeyElements>, CmdError> {
    for (i, key) in keys.iter().enumerate() {
        if let Some(elems) = pop(db, key, now, end, count)? {
            if !elems.is_empty() {
                return Ok(Some((i, elems)));
            }
        }
    }
    Ok(None)
}

/// Redis's `lmoveGenericCommand` minus the reply: pops from `src`'s `from` end and pushes the
/// element at `dst`'s `to` end (creating `dst`; the same key rotates the list). None when
/// `src` is missing; WRONGTYPE (nothing changed) when either key holds another type.
pub fn lmove_generic(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    now: UnixMillis,
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CmdError> {
    if src == dst {
        let Some(l) = db.write::<List>(src, now)? else {
            return Ok(None);
        };
        let Some(v) = pop_one(l, from) else {
            return Ok(None);
        };
        push_one(l, to, &v);
        return Ok(Some(v));
    }
    if db.write::<List>(src, now)?.is_none() {
        return Ok(None);
    }
    db.get_as::<List>(dst, now)?;
    let Some(v) = pop(db, src, now, from, 1)?.and_then(|mut e| e.pop()) else {
        return Ok(None);
    };
    push(db, dst, now, to, &[&v], false)?;
    Ok(Some(v))
}

/// The reply of LMPOP/BLMPOP: [key, [elements...]].
pub fn write_key_elements(out: &mut ReplyWriter, key: &[u8], elems: &[Vec<u8>]) {
    out.array_len(2);
    out.bulk(key);
    out.array_len(elems.len());
    for e in elems {
        out.bulk(e);
    }
}

/// LPUSH / RPUSH / LPUSHX / RPUSHX.
fn push_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    end: End,
    only_existing: bool,
) -> Result<(), CmdError> {
    let now = ctx.now;
    let len = push(ctx.db(), args[1], now, end, &args[2..], only_existing)?;
    ctx.out().int(len as i64);
    if len > 0 {
        ctx.key_modified(args[1]);
        ctx.notify(notify::LIST, push_event(end), args[1]);
    }
    Ok(())
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    push_generic(ctx, args, End::Left, false)
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    push_generic(ctx, args, End::Right, false)
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    push_generic(ctx, args, End::Left, true)
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    push_generic(ctx, args, End::Right, true)
}

/// LPOP / RPOP: Redis's `popGenericCommand`. Without a count the reply is one bulk (nil for
/// a missing key); with one it is an array (a nil array for a missing key, an empty one for
/// count 0 on an existing list).
fn pop_generic(ctx: &mut Ctx, args: &[&[u8]], end: End) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    let count = match args.get(2) {
        Some(a) => Some(parse_range(
            a,
            0,
            "value is out of range, must be positive",
        )?),
        None => None,
    };
    let now = ctx.now;
    let key = args[1];
    let (db, mut out) = ctx.db_out();
    let popped = match count {
        // Redis looks the key up (and checks its type) before the count-0 fast exit.
        Some(0) => db.write::<List>(key, now)?.map(|_| Vec::new()),
        Some(n) => pop(db, key, now, end, usize::try_from(n).unwrap_or(usize::MAX))?,
        None => pop(db, key, now, end, 1)?,
    };
    let Some(elems) = popped else {
        match count {
            None => out.nil(),
            Some(_) => out.nil_array(),
        }
        return Ok(());
    };
    if count.is_some() {
        out.array_len(elems.len());
        for e in &elems {
            out.bulk(e);
        }
    } else if let Some(e) = elems.first() {
        out.bulk(e);
    }
    if !elems.is_empty() {
        ctx.key_modified(key);
        ctx.notify_removal(notify::LIST, pop_event(end), key);
    }
    Ok(())
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    pop_generic(ctx, args, End::Left)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    pop_generic(ctx, args, End::Right)
}

/// LLEN key
pub fn llen(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (l, mut out) = ctx.read::<List>(args[1])?;
    let n = l.map_or(0, |l| l.len());
    out.int(n as i64);
    Ok(())
}

/// LINDEX key index (the key is looked up before the index is parsed: a missing key answers
/// nil whatever the index)
pub fn lindex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (l, mut out) = ctx.read::<List>(args[1])?;
    let Some(l) = l else {
        out.nil();
        return Ok(());
    };
    let index = parse_int(args[2])?;
    match l.resolve_index(index).and_then(|i| l.get(i)) {
        Some(e) => out.bulk(e),
        None => out.nil(),
    }
    Ok(())
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let l = ctx
        .db()
        .write::<List>(args[1], now)?
        .ok_or(CmdError::NoSuchKey)?;
    let index = parse_int(args[2])?;
    let i = l.resolve_index(index).ok_or(CmdError::OutOfRange)?;
    l.set(i, args[3]);
    ctx.key_modified(args[1]);
    ctx.out().ok();
    ctx.notify(notify::LIST, "lset", args[1]);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the pivot is absent, 0
/// when the key is.
pub fn linsert(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let after = if is(args[2], "after") {
        true
    } else if is(args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let now = ctx.now;
    let Some(l) = ctx.db().write::<List>(args[1], now)? else {
        ctx.out().int(0);
        return Ok(());
    };
    let Some(pos) = l.iter().position(|e| e == args[3]) else {
        ctx.out().int(-1);
        return Ok(());
    };
    l.insert(pos + after as usize, args[4]);
    let n = l.len();
    ctx.key_modified(args[1]);
    ctx.notify(notify::LIST, "linsert", args[1]);
    ctx.out().int(n as i64);
    Ok(())
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let start = parse_int(args[2])?;
    let end = parse_int(args[3])?;
    let (l, mut out) = ctx.read::<List>(args[1])?;
    let Some(l) = l else {
        out.array_len(0);
        return Ok(());
    };
    match super::clamp_index_range(start, end, l.len()) {
        None => out.array_len(0),
        Some((s, e)) => {
            out.array_len(e - s + 1);
            for item in l.range(s, e - s + 1) {
                out.bulk(item);
            }
        }
    }
    Ok(())
}

/// LTRIM key start stop (an existing key counts as modified even when nothing is trimmed,
/// as in Redis)
pub fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let start = parse_int(args[2])?;
    let end = parse_int(args[3])?;
    let now = ctx.now;
    let db = ctx.db();
    let Some(l) = db.write::<List>(args[1], now)? else {
        ctx.out().ok();
        return Ok(());
    };
    let len = l.len();
    let (ltrim, rtrim) = match super::clamp_index_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.drop_front(ltrim);
    l.drop_back(rtrim);
    if l.is_empty() {
        db.remove(args[1]);
    }
    ctx.key_modified(args[1]);
    ctx.notify_removal(notify::LIST, "ltrim", args[1]);
    ctx.out().ok();
    Ok(())
}

/// LREM key count element: count > 0 removes from the head, < 0 from the tail, 0 all.
pub fn lrem(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let count = parse_int(args[2])?;
    let now = ctx.now;
    let db = ctx.db();
    let Some(l) = db.write::<List>(args[1], now)? else {
        ctx.out().int(0);
        return Ok(());
    };
    // Redis 7.0 negates the count in a C long: -(i64::MIN) stays negative, so that limit is
    // never reached and every match goes (from the tail), as with the 2^63 limit here.
    let from_back = count < 0;
    let limit = (count != 0).then(|| usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX));
    let removed = l.remove_matching(args[3], limit, from_back);
    if removed > 0 {
        if l.is_empty() {
            db.remove(args[1]);
        }
        ctx.key_modified(args[1]);
        ctx.notify_removal(notify::LIST, "lrem", args[1]);
    }
    ctx.out().int(removed as i64);
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
///
/// Redis 7.0 quirks kept: RANK i64::MIN negates to itself (in a C long), so it acts as "from
/// the tail, first match on", and with COUNT its stop test never fires.
pub fn lpos(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut rank: i64 = 1;
    let mut count: i64 = -1; // -1: no COUNT option
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(args[j], "RANK") && more {
            j += 1;
            rank = parse_int(args[j])?;
            if rank == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                ));
            }
        } else if is(args[j], "COUNT") && more {
            j += 1;
            count = parse_range(args[j], 0, "COUNT can't be negative")?;
        } else if is(args[j], "MAXLEN") && more {
            j += 1;
            maxlen = parse_range(args[j], 0, "MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let (l, mut out) = ctx.read::<List>(args[1])?;
    let Some(l) = l else {
        if count != -1 {
            out.array_len(0);
        } else {
            out.nil();
        }
        return Ok(());
    };
    let llen = l.len() as i64;
    let elem = args[2];
    let mut found: Vec<i64> = Vec::new();
    let mut matchindex: i64 = -1;
    let mut matches: i64 = 0;
    let items: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    for (index, e) in items.enumerate() {
        let index = index as i64;
        if maxlen != 0 && index >= maxlen {
            break;
        }
        if e == elem {
            matches += 1;
            matchindex = if from_tail { llen - index - 1 } else { index };
            if matches >= rank {
                if count == -1 {
                    break;
                }
                found.push(matchindex);
                if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                    break;
                }
            }
        }
        matchindex = -1;
    }
    if count != -1 {
        out.array_len(found.len());
        for i in found {
            out.int(i);
        }
    } else if matchindex != -1 {
        out.int(matchindex);
    } else {
        out.nil();
    }
    Ok(())
}

/// LMOVE / RPOPLPUSH: the moved element, or nil when the source is missing.
pub(crate) fn lmove_command(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<(), CmdError> {
    let now = ctx.now;
    match lmove_generic(ctx.db(), src, dst, now, from, to)? {
        Some(v) => {
            ctx.key_modified(dst);
            ctx.key_modified(src);
            // lmoveHandlePush notifies the push and replies; the pop's events follow.
            ctx.notify(notify::LIST, push_event(to), dst);
            ctx.out().bulk(&v);
            ctx.notify_removal(notify::LIST, pop_event(from), src);
        }
        None => ctx.out().nil(),
    }
    Ok(())
}

/// The events of a push at `end`, a pop from it.
pub(crate) fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

pub(crate) fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let from = parse_end(args[3])?;
    let to = parse_end(args[4])?;
    lmove_command(ctx, args[1], args[2], from, to)
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    lmove_command(ctx, args[1], args[2], End::Right, End::Left)
}

/// The parsed arguments of LMPOP/BLMPOP from `numkeys` on: (keys, end, count).
pub fn parse_mpop<'a>(
    args: &[&'a [u8]],
    numkeys_idx: usize,
) -> Result<(Vec<&'a [u8]>, End, usize), CmdError> {
    let numkeys = parse_range(args[numkeys_idx], 1, "numkeys should be greater than 0")?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_idx + 1))
        .filter(|&w| w < args.len())
        .ok_or(CmdError::Syntax)?;
    let end = parse_end(args[where_idx])?;
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count == -1 && is(args[j], "COUNT") && j + 1 < args.len() {
            j += 1;
            count = parse_range(args[j], 1, "count should be greater than 0")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let count = if count == -1 { 1 } else { count };
    let keys = args[numkeys_idx + 1..where_idx].to_vec();
    Ok((keys, end, usize::try_from(count).unwrap_or(usize::MAX)))
}

/// LMPOP and BLMPOP (at once or woken) propagate as `LPOP|RPOP key n`, n the count served
/// (Redis's rewrite: replayed, the pop takes the same elements whatever COUNT said).
pub(crate) fn propagate_mpop(ctx: &mut Ctx, key: &[u8], end: End, n: usize) {
    let name: &[u8] = match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    };
    ctx.propagate(&[name, key, itoa::Buffer::new().format(n).as_bytes()]);
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (keys, end, count) = parse_mpop(args, 1)?;
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    match mpop(db, &keys, now, end, count)? {
        Some((i, elems)) => {
            write_key_elements(&mut out, keys[i], &elems);
            ctx.key_modified(keys[i]);
            ctx.notify_removal(notify::LIST, pop_event(end), keys[i]);
            propagate_mpop(ctx, keys[i], end, elems.len());
        }
        None => out.nil_array(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `cmd` on a fresh client and returns (reply, change in server.dirty).
    fn run(eng: &mut crate::Engine, cmd: &str) -> (String, u64) {
        use crate::engine::ConnInfo;
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let args: Vec<Vec<u8>> = cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        let before = eng.server().dirty;
        eng.feed(UnixMillis(0), id, &crate::resp::encode_request(&args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        eng.disconnect(id);
        (
            String::from_utf8_lossy(&out).into_owned(),
            eng.server().dirty - before,
        )
    }

    /// Which commands count as changing the key (WATCH and save rules hang off this): only
    /// real changes, except LTRIM, which Redis always signals on an existing list.
    #[test]
    fn modifications_are_signalled_like_redis() {
        let mut eng = crate::Engine::new(crate::Config::default(), 7);
        let cases = [
            ("RPUSH l a b c", true),
            ("LPUSHX nokey a", false),
            ("LPOP nokey", false),
            ("LPOP nokey 2", false),
            ("LPOP l 0", false),
            ("LPOP l 1", true),
            ("LREM l 0 zz", false),
            ("LINSERT l BEFORE zz x", false),
            ("LINSERT l BEFORE b x", true),
            ("LSET l 0 y", true),
            ("LTRIM l 0 -1", true),
            ("LTRIM nokey 0 -1", false),
            ("LMOVE nokey l LEFT LEFT", false),
            ("LMOVE l l LEFT LEFT", true),
            ("LMPOP 1 nokey LEFT", false),
            ("LMPOP 1 l LEFT", true),
            ("LRANGE l 0 -1", false),
        ];
        for (cmd, modifies) in cases {
            let (reply, dirty) = run(&mut eng, cmd);
            assert_eq!(dirty > 0, modifies, "{cmd} -> {reply}");
        }
    }

    /// LLEN/LINDEX/LRANGE/LPOS count keyspace hits and misses; write commands do not.
    #[test]
    fn reads_count_hits_and_misses() {
        let mut eng = crate::Engine::new(crate::Config::default(), 7);
        run(&mut eng, "RPUSH l a");
        run(&mut eng, "LPOP nokey");
        let stats = |e: &crate::Engine| (e.server().dbs[0].hits, e.server().dbs[0].misses);
        assert_eq!(stats(&eng), (0, 0));
        for cmd in ["LLEN l", "LINDEX l 0", "LRANGE l 0 -1", "LPOS l a"] {
            run(&mut eng, cmd);
        }
        assert_eq!(stats(&eng), (4, 0));
        for cmd in ["LLEN x", "LINDEX x 0", "LRANGE x 0 -1", "LPOS x a"] {
            run(&mut eng, cmd);
        }
        assert_eq!(stats(&eng), (4, 4));
    }

    #[test]
    fn clamp_range_matches_redis() {
        assert_eq!(crate::command::clamp_index_range(0, -1, 3), Some((0, 2)));
        assert_eq!(
            crate::command::clamp_index_range(-100, 100, 3),
            Some((0, 2))
        );
        assert_eq!(crate::command::clamp_index_range(2, 1, 3), None);
        assert_eq!(crate::command::clamp_index_range(3, 5, 3), None);
        assert_eq!(
            crate::command::clamp_index_range(i64::MIN, i64::MAX, 3),
            Some((0, 2))
        );
        assert_eq!(
            crate::command::clamp_index_range(i64::MAX, i64::MIN, 3),
            None
        );
        assert_eq!(crate::command::clamp_index_range(0, -1, 0), None);
    }

    #[test]
    fn parse_mpop_edges() {
        let a: Vec<&[u8]> = vec![b"lmpop", b"2", b"a", b"b", b"left", b"count", b"3"];
        let (keys, end, count) = parse_mpop(&a, 1).unwrap();
        assert_eq!(keys, vec![&b"a"[..], &b"b"[..]]);
        assert_eq!((end, count), (End::Left, 3));
        let huge: Vec<&[u8]> = vec![b"lmpop", b"9223372036854775807", b"a", b"left"];
        assert_eq!(parse_mpop(&huge, 1), Err(CmdError::Syntax));
        let nul: Vec<&[u8]> = vec![b"lmpop", b"1", b"a", b"RIGHT\0x"];
        assert_eq!(parse_mpop(&nul, 1).unwrap().1, End::Right);
    }

    #[test]
    fn pop_and_move_helpers_delete_emptied_lists() {
        let now = UnixMillis(0);
        let mut db = Db::new(1);
        assert_eq!(
            push(&mut db, b"l", now, End::Right, &[b"a", b"b"], false),
            Ok(2)
        );
        assert_eq!(push(&mut db, b"x", now, End::Right, &[b"a"], true), Ok(0));
        assert!(db.get(b"x", now).is_none());
        assert_eq!(
            lmove_generic(&mut db, b"l", b"m", now, End::Left, End::Right),
            Ok(Some(b"a".to_vec()))
        );
        assert_eq!(
            mpop(&mut db, &[b"nope", b"l"], now, End::Left, 5),
            Ok(Some((1, vec![b"b".to_vec()])))
        );
        assert!(db.get(b"l", now).is_none());
        db.set(b"s", Value::string(b"str"), false);
        assert_eq!(
            lmove_generic(&mut db, b"m", b"s", now, End::Left, End::Right),
            Err(CmdError::WrongType)
        );
        // Nothing moved on WRONGTYPE.
        assert_eq!(
            pop(&mut db, b"m", now, End::Left, 9),
            Ok(Some(vec![b"a".to_vec()]))
        );
        assert!(db.get(b"m", now).is_none());
    }
}
