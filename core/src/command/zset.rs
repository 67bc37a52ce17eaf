//! The zset command group (Redis's t_zset.c), one generic per family:
//! ZADD/ZINCRBY -> `zadd_generic`; ZRANGE, ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE,
//! Z[REV]RANGEBYLEX -> `zrange_generic`; ZREMRANGEBY{RANK,SCORE,LEX} -> `zremrange_generic`;
//! ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD -> `zsetop_generic`; ZPOPMIN/ZPOPMAX/ZMPOP ->
//! `zpop_generic` (reusable by the blocking variants).
//!
//! Scores are parsed like Redis: ZADD/ZINCRBY/WEIGHTS with `string2d` (strtod over the whole
//! argument, no leading space, no overflow, no NaN) and ranges with `zslParseRange` (plain
//! strtod on the C string, '(' for exclusive).

use super::{c_str, is, notify, parse_int, CmdError, Ctx};
use crate::cnum::{string2d, strtod};
use crate::glob::glob_match;
use crate::resp::ReplyWriter;
use crate::types::zset::ostree::cmp_entry;
use crate::types::zset::{Limits, ZSet};
use crate::types::{CompactBytes, Value};
use std::collections::HashMap;

fn limits(ctx: &mut Ctx) -> Limits {
    let cfg = &ctx.srv.config;
    Limits {
        max_entries: usize::try_from(cfg.zset_max_listpack_entries).unwrap_or(usize::MAX),
        max_value: usize::try_from(cfg.zset_max_listpack_value).unwrap_or(usize::MAX),
        seed: ctx.srv.rng.next_u64(),
    }
}

// ---------------------------------------------------------------------------------------
// Score and range parsing

/// A score interval (Redis's zrangespec).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub minex: bool,
    pub max: f64,
    pub maxex: bool,
}

impl ScoreRange {
    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of zslParseRange: strtod on the C string, '(' makes it exclusive.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let s = c_str(arg);
    let (ex, body) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let (v, used, _) = strtod(body);
    if used != body.len() || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let bad = || CmdError::err("min or max is not a float");
    let (min, minex) = parse_score_bound(min).ok_or_else(bad)?;
    let (max, maxex) = parse_score_bound(max).ok_or_else(bad)?;
    Ok(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound<'_>> {
    // Redis checks the byte after '+'/'-' as a C string: "+\0..." is still '+'.
    let alone = arg.len() == 1 || arg.get(1) == Some(&0);
    match arg.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(&arg[1..])),
        b'[' => Some(LexBound::Incl(&arg[1..])),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl LexRange<'_> {
    fn gte_min(&self, v: &[u8]) -> bool {
        match self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(m) => v >= m,
            LexBound::Excl(m) => v > m,
        }
    }
    fn lte_max(&self, v: &[u8]) -> bool {
        match self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(m) => v <= m,
            LexBound::Excl(m) => v < m,
        }
    }
}

fn parse_lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, CmdError> {
    let bad = || CmdError::err("min or max not valid string range item");
    Ok(LexRange {
        min: parse_lex_bound(min).ok_or_else(bad)?,
        max: parse_lex_bound(max).ok_or_else(bad)?,
    })
}

/// The ranks `lo..hi` of the members inside a score range.
fn score_span(z: &ZSet, r: &ScoreRange) -> (usize, usize) {
    let lo = z.partition_point(|s, _| !r.gte_min(s));
    let hi = z.partition_point(|s, _| r.lte_max(s));
    (lo, hi.max(lo))
}

/// The ranks `lo..hi` of the members inside a lex range (meaningful when all scores are
/// equal, as Redis documents).
fn lex_span(z: &ZSet, r: &LexRange) -> (usize, usize) {
    let lo = z.partition_point(|_, m| !r.gte_min(m));
    let hi = z.partition_point(|_, m| r.lte_max(m));
    (lo, hi.max(lo))
}

// ---------------------------------------------------------------------------------------
// ZADD / ZINCRBY

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zadd_generic(ctx, args, false)
}

/// ZINCRBY key increment member
///
/// Redis runs it through ZADD's parser with INCR set, so "ZINCRBY k nx m" is a syntax error.
pub fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx, args: &[&[u8]], mut incr: bool) -> Result<(), CmdError> {
    let key = args[1];
    let (mut nx, mut xx, mut ch, mut gt, mut lt) = (false, false, false, false, false);
    let mut idx = 2;
    while idx < args.len() {
        let o = args[idx];
        if is(o, "nx") {
            nx = true;
        } else if is(o, "xx") {
            xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            incr = true;
        } else if is(o, "gt") {
            gt = true;
        } else if is(o, "lt") {
            lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(CmdError::Syntax);
    }
    let elements = elements / 2;
    if nx && xx {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && elements > 1 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(string2d(args[idx + 2 * j]).ok_or(CmdError::NotFloat)?);
    }

    let now = ctx.now;
    let lim = limits(ctx);
    let db = ctx.db();
    let exists = db.write::<ZSet>(key, now)?.is_some();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut nan = false;
    if exists || !xx {
        let mut fresh = None;
        let z: &mut ZSet = match db.write::<ZSet>(key, now)? {
            Some(z) => z,
            None => fresh.insert(ZSet::for_first_member(args[idx + 1].len(), &lim)),
        };
        for (j, &score) in scores.iter().enumerate() {
            let member = args[idx + 1 + 2 * j];
            let mut score = score;
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    if incr {
                        score += cur;
                        if score.is_nan() {
                            nan = true;
                            break;
                        }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    if score != cur {
                        z.insert(member, score, &lim);
                        updated += 1;
                    }
                }
                None => {
                    if xx {
                        continue;
                    }
                    z.insert(member, score, &lim);
                    added += 1;
                }
            }
            processed += 1;
            last = score;
        }
        if let Some(z) = fresh {
            if !z.is_empty() {
                db.insert_new(key, Value::ZSet(Box::new(z)));
            }
        }
    }
    let changed = added > 0 || updated > 0;
    let event = if incr { "zincr" } else { "zadd" };
    if changed {
        ctx.key_modified(key);
    }
    if nan {
        if changed {
            ctx.notify(notify::ZSET, event, key);
        }
        return Err(CmdError::err("resulting score is not a number (NaN)"));
    }
    let mut out = ctx.out();
    if incr {
        if processed > 0 {
            out.double(last);
        } else {
            out.nil();
        }
    } else {
        out.int(if ch { added + updated } else { added });
    }
    // Redis replies, then notifies.
    if changed {
        ctx.notify(notify::ZSET, event, key);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Simple reads and ZREM

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let key = args[1];
    let now = ctx.now;
    let db = ctx.db();
    let mut deleted = 0;
    if let Some(z) = db.write::<ZSet>(key, now)? {
        for m in &args[2..] {
            if z.remove(m).is_some() {
                deleted += 1;
            }
            if z.is_empty() {
                db.remove(key);
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.key_modified(key);
        ctx.notify_removal(notify::ZSET, "zrem", key);
    }
    ctx.out().int(deleted);
    Ok(())
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let n = ctx.db().read::<ZSet>(args[1], now)?.map_or(0, |z| z.len());
    ctx.out().int(n as i64);
    Ok(())
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let s = ctx
        .db()
        .read::<ZSet>(args[1], now)?
        .and_then(|z| z.score(args[2]));
    let mut out = ctx.out();
    match s {
        Some(s) => out.double(s),
        None => out.nil(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let z = db.read::<ZSet>(args[1], now)?;
    out.array_len(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.nil(),
        }
    }
    Ok(())
}

/// ZRANK key member
pub fn zrank(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrank_generic(ctx, args, false)
}

/// ZREVRANK key member
pub fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrank_generic(ctx, args, true)
}

fn zrank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> Result<(), CmdError> {
    let now = ctx.now;
    let rank = ctx.db().read::<ZSet>(args[1], now)?.and_then(|z| {
        z.rank(args[2])
            .map(|r| if rev { z.len() - 1 - r } else { r })
    });
    let mut out = ctx.out();
    match rank {
        Some(r) => out.int(r as i64),
        None => out.nil(),
    }
    Ok(())
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let range = parse_score_range(args[2], args[3])?;
    let now = ctx.now;
    let n = ctx.db().read::<ZSet>(args[1], now)?.map_or(0, |z| {
        let (lo, hi) = score_span(z, &range);
        hi - lo
    });
    ctx.out().int(n as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let range = parse_lex_range(args[2], args[3])?;
    let now = ctx.now;
    let n = ctx.db().read::<ZSet>(args[1], now)?.map_or(0, |z| {
        let (lo, hi) = lex_span(z, &range);
        hi - lo
    });
    ctx.out().int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The ZRANGE family

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, Direction::Auto)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(
        ctx,
        args,
        2,
        Some(args[1]),
        RangeType::Auto,
        Direction::Auto,
    )
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Direction::Reverse)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Direction::Forward)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Direction::Reverse)
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Direction::Forward)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Direction::Reverse)
}

/// Where a range starts (in the iteration's direction) and how many members it has.
fn range_selection(
    z: &ZSet,
    span: (usize, usize),
    rev: bool,
    offset: i64,
    limit: i64,
) -> (usize, usize) {
    let (lo, hi) = span;
    // A negative offset walks off the end in Redis's `while (ln && offset--)`.
    if offset < 0 {
        return (0, 0);
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let avail = (hi - lo).saturating_sub(offset);
    let n = if limit < 0 {
        avail
    } else {
        avail.min(usize::try_from(limit).unwrap_or(usize::MAX))
    };
    let start = if rev {
        (z.len() - hi).saturating_add(offset)
    } else {
        lo.saturating_add(offset)
    };
    (start, n)
}

/// Redis's zrangeGenericCommand: options, conflicts, the range, then the key.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    src_idx: usize,
    store: Option<&[u8]>,
    mut rangetype: RangeType,
    mut direction: Direction,
) -> Result<(), CmdError> {
    let key = args[src_idx];
    let (mut minidx, mut maxidx) = (src_idx + 1, src_idx + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src_idx + 3;
    while j < args.len() {
        let leftargs = args.len() - j - 1;
        let a = args[j];
        if store.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && leftargs >= 2 {
            offset = parse_int(args[j + 1])?;
            limit = parse_int(args[j + 2])?;
            j += 2;
        } else if direction == Direction::Auto && is(a, "rev") {
            direction = Direction::Reverse;
        } else if rangetype == RangeType::Auto && is(a, "bylex") {
            rangetype = RangeType::Lex;
        } else if rangetype == RangeType::Auto && is(a, "byscore") {
            rangetype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if direction == Direction::Auto {
        direction = Direction::Forward;
    }
    if rangetype == RangeType::Auto {
        rangetype = RangeType::Rank;
    }
    if limit != -1 && rangetype == RangeType::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rangetype == RangeType::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let rev = direction == Direction::Reverse;
    if rev && rangetype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let mut ranks = (0, 0);
    let mut score_range = None;
    let mut lex_range = None;
    match rangetype {
        RangeType::Score => score_range = Some(parse_score_range(args[minidx], args[maxidx])?),
        RangeType::Lex => lex_range = Some(parse_lex_range(args[minidx], args[maxidx])?),
        _ => ranks = (parse_int(args[minidx])?, parse_int(args[maxidx])?),
    }

    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let Some(z) = db.read::<ZSet>(key, now)? else {
        match store {
            Some(dst) => {
                let existed = db.remove(dst).is_some();
                out.int(0);
                if existed {
                    ctx.key_modified(dst);
                    ctx.notify(notify::GENERIC, "del", dst);
                }
            }
            None => out.array_len(0),
        }
        return Ok(());
    };
    let (start, n) = if let Some(r) = &score_range {
        range_selection(z, score_span(z, r), rev, offset, limit)
    } else if let Some(r) = &lex_range {
        range_selection(z, lex_span(z, r), rev, offset, limit)
    } else {
        match super::clamp_index_range(ranks.0, ranks.1, z.len()) {
            Some((s, e)) => (s, e - s + 1),
            None => (0, 0),
        }
    };
    let items = z.iter_from(start, rev).take(n);

    let Some(dst) = store else {
        let pair = withscores && out.resp3;
        out.array_len(if withscores && !out.resp3 { 2 * n } else { n });
        for (m, s) in items {
            if pair {
                out.array_len(2);
            }
            out.bulk(m);
            if withscores {
                out.double(s);
            }
        }
        return Ok(());
    };
    let mut pairs: Vec<(CompactBytes, f64)> =
        items.map(|(m, s)| (CompactBytes::new(m), s)).collect();
    if rev {
        pairs.reverse();
    }
    store_result(ctx, dst, pairs, "zrangestore");
    Ok(())
}

/// Stores a sorted result at `dst` (replacing it, TTL dropped) and replies its size; an empty
/// result deletes `dst` instead (Redis's zrangeResultFinalizeStore / zunionInterDiff...).
pub(crate) fn store_result(
    ctx: &mut Ctx,
    dst: &[u8],
    pairs: Vec<(CompactBytes, f64)>,
    event: &str,
) {
    let n = pairs.len();
    let event = if n > 0 {
        let lim = limits(ctx);
        let z = ZSet::from_sorted(pairs, &lim);
        ctx.db().set(dst, Value::ZSet(Box::new(z)), false);
        Some((notify::ZSET, event))
    } else if ctx.db().remove(dst).is_some() {
        Some((notify::GENERIC, "del"))
    } else {
        None
    };
    // The geo STORE forms notify before replying, the sorted-set ones after.
    let geo = event.is_some_and(|(_, e)| e.starts_with("geo"));
    if let Some((class, event)) = event {
        ctx.key_modified(dst);
        if geo {
            ctx.notify(class, event, dst);
        }
    }
    ctx.out().int(n as i64);
    if let Some((class, event)) = event {
        if !geo {
            ctx.notify(class, event, dst);
        }
    }
}

// ---------------------------------------------------------------------------------------
// ZREMRANGEBY*

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zremrange_generic(ctx, args, RangeType::Rank)
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zremrange_generic(ctx, args, RangeType::Score)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zremrange_generic(ctx, args, RangeType::Lex)
}

fn zremrange_generic(ctx: &mut Ctx, args: &[&[u8]], rt: RangeType) -> Result<(), CmdError> {
    let key = args[1];
    let mut ranks = (0, 0);
    let mut score_range = None;
    let mut lex_range = None;
    match rt {
        RangeType::Score => score_range = Some(parse_score_range(args[2], args[3])?),
        RangeType::Lex => lex_range = Some(parse_lex_range(args[2], args[3])?),
        _ => ranks = (parse_int(args[2])?, parse_int(args[3])?),
    }
    let now = ctx.now;
    let db = ctx.db();
    let mut deleted = 0;
    if let Some(z) = db.write::<ZSet>(key, now)? {
        let (lo, hi) = if let Some(r) = &score_range {
            score_span(z, r)
        } else if let Some(r) = &lex_range {
            lex_span(z, r)
        } else {
            super::clamp_index_range(ranks.0, ranks.1, z.len()).map_or((0, 0), |(s, e)| (s, e + 1))
        };
        deleted = z.remove_rank_range(lo, hi);
        if z.is_empty() {
            db.remove(key);
        }
    }
    if deleted > 0 {
        ctx.key_modified(key);
        let event = match rt {
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify_removal(notify::ZSET, event, key);
    }
    ctx.out().int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// ZPOPMIN / ZPOPMAX / ZMPOP

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zpop_minmax(ctx, args, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zpop_minmax(ctx, args, true)
}

/// Redis's getPositiveLongFromObjectOrReply / getRangeLongFromObjectOrReply(1..) texts.
fn parse_positive(arg: &[u8], msg: &str, min: i64) -> Result<i64, CmdError> {
    match super::parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(CmdError::err(msg)),
    }
}

fn zpop_minmax(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let mut count = -1;
    if args.len() == 3 {
        count = parse_positive(args[2], "value is out of range, must be positive", 0)?;
    }
    let nested = ctx.client_ref().resp3 && count != -1;
    zpop_generic(ctx, &args[1..2], max, false, count, nested, false)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (keys, max, count) = parse_zmpop(args, 1)?;
    zpop_generic(ctx, keys, max, true, count, true, true)
}

/// ZMPOP/BZMPOP's arguments after `numkeys_idx`: the keys, MAX?, the count.
pub fn parse_zmpop<'a>(
    args: &'a [&'a [u8]],
    numkeys_idx: usize,
) -> Result<(&'a [&'a [u8]], bool, i64), CmdError> {
    let numkeys = parse_positive(args[numkeys_idx], "numkeys should be greater than 0", 1)?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= args.len() {
        return Err(CmdError::Syntax);
    }
    let max = if is(args[where_idx], "min") {
        false
    } else if is(args[where_idx], "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && is(args[j], "count") && more > 0 {
            j += 1;
            count = parse_positive(args[j], "count should be greater than 0", 1)?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    Ok((&args[numkeys_idx + 1..where_idx], max, count))
}

/// Redis's genericZpopCommand: pops from the first existing key among `keys`. `count` -1 is
/// a plain single pop; `emit_key` prefixes the key (ZMPOP, BZPOP*); `nested` replies
/// [member, score] pairs (RESP3 with a count, ZMPOP); `nil_when_empty` replies a null
/// array when no key exists (ZMPOP) instead of an empty one. With `emit_key` (BZPOP*,
/// ZMPOP, BZMPOP, at once or woken) the pop propagates as `ZPOPMIN|ZPOPMAX key`, with the
/// count served for the counted forms, as Redis rewrites them.
pub fn zpop_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    emit_key: bool,
    count: i64,
    nested: bool,
    nil_when_empty: bool,
) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let mut found = None;
    for &k in keys {
        if db.write::<ZSet>(k, now)?.is_some() {
            found = Some(k);
            break;
        }
    }
    let Some(key) = found else {
        if nil_when_empty {
            out.nil_array();
        } else {
            out.array_len(0);
        }
        return Ok(());
    };
    if count == 0 {
        out.array_len(0);
        return Ok(());
    }
    let count = if count == -1 { 1 } else { count };
    let Some(Value::ZSet(z)) = db.keys.get_mut(key) else {
        return Ok(());
    };
    let n = z.len().min(usize::try_from(count).unwrap_or(usize::MAX));
    let mut out = ctx.out();
    match (nested, emit_key) {
        (false, false) => out.array_len(2 * n),
        (true, false) => out.array_len(n),
        (false, true) => {
            out.array_len(2 * n + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array_len(2);
            out.bulk(key);
            out.array_len(n);
        }
    }
    // Redis notifies at the first element popped, after the reply's headers.
    ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    let (db, mut out) = ctx.db_out();
    let Some(Value::ZSet(z)) = db.keys.get_mut(key) else {
        return Ok(());
    };
    for _ in 0..n {
        let Some((m, s)) = z.pop(max) else { break };
        if nested {
            out.array_len(2);
        }
        out.bulk(&m);
        out.double(s);
    }
    if z.is_empty() {
        db.remove(key);
    }
    ctx.key_modified(key);
    if !ctx.db().exists(key) {
        ctx.notify(notify::GENERIC, "del", key);
    }
    if emit_key {
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        if nested {
            ctx.propagate(&[name, key, itoa::Buffer::new().format(n).as_bytes()]);
        } else {
            ctx.propagate(&[name, key]);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    if args.len() >= 3 {
        let l = parse_int(args[2])?;
        if l == i64::MIN {
            return Err(CmdError::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        let withscores = if args.len() > 4 || (args.len() == 4 && !is(args[3], "withscores")) {
            return Err(CmdError::Syntax);
        } else {
            args.len() == 4
        };
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::err("value is out of range"));
        }
        return zrandmember_count(ctx, args[1], l, withscores);
    }
    let ctxid = ctx.handle.0;
    let srv = &mut *ctx.srv;
    let db = &mut srv.dbs[ctx.clients[ctxid].db];
    let c = &mut ctx.clients[ctxid];
    let mut out = ReplyWriter::new(&mut c.out, c.resp3);
    match db.read::<ZSet>(args[1], now)? {
        None => out.nil(),
        Some(z) => {
            let r = srv.rng.below(z.len() as u64) as usize;
            if let Some((m, _)) = z.get_by_rank(r) {
                out.bulk(m);
            }
        }
    }
    Ok(())
}

const MAX_RANDOM_REPEATS: usize = i32::MAX as usize;

/// Redis's zrandmemberWithCountCommand. Only the choices differ from Redis (our PRNG); the
/// cases and reply shapes are the same, including "count >= size" returning the whole set
/// in reverse rank order (Redis 7.0 iterates zsets from the tail).
fn zrandmember_count(ctx: &mut Ctx, key: &[u8], l: i64, withscores: bool) -> Result<(), CmdError> {
    let now = ctx.now;
    let ctxid = ctx.handle.0;
    let srv = &mut *ctx.srv;
    let db = &mut srv.dbs[ctx.clients[ctxid].db];
    let c = &mut ctx.clients[ctxid];
    let mut out = ReplyWriter::new(&mut c.out, c.resp3);
    let Some(z) = db.read::<ZSet>(key, now)? else {
        out.array_len(0);
        return Ok(());
    };
    let size = z.len();
    let uniq = l >= 0;
    let count = usize::try_from(l.unsigned_abs()).unwrap_or(usize::MAX);
    // Deliberate deviation: Redis would try to build a reply of 2^63 members (and run out of
    // memory); an engine that must never hang refuses repeats past 2^31.
    if !uniq && count > MAX_RANDOM_REPEATS {
        return Err(CmdError::err("value is out of range"));
    }
    if count == 0 {
        out.array_len(0);
        return Ok(());
    }
    let resp3 = out.resp3;
    let emit = |out: &mut ReplyWriter, m: &[u8], s: f64| {
        if withscores && resp3 {
            out.array_len(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    };
    let header = |out: &mut ReplyWriter, n: usize| {
        out.array_len(if withscores && !resp3 { 2 * n } else { n });
    };
    // CASE 1: negative count (repeats allowed) or a single member.
    if !uniq || count == 1 {
        header(&mut out, count);
        for _ in 0..count {
            let r = srv.rng.below(size as u64) as usize;
            if let Some((m, s)) = z.get_by_rank(r) {
                emit(&mut out, m, s);
            }
        }
        return Ok(());
    }
    // CASE 2: the whole set, from the tail.
    if count >= size {
        header(&mut out, size);
        for (m, s) in z.iter_from(0, true) {
            emit(&mut out, m, s);
        }
        return Ok(());
    }
    // CASES 3 and 4: `count` distinct ranks, by a partial Fisher-Yates shuffle.
    header(&mut out, count);
    let mut picked: HashMap<usize, usize> = HashMap::new();
    for i in 0..count {
        let j = i + srv.rng.below((size - i) as u64) as usize;
        let vj = *picked.get(&j).unwrap_or(&j);
        let vi = *picked.get(&i).unwrap_or(&i);
        picked.insert(j, vi);
        if let Some((m, s)) = z.get_by_rank(vj) {
            emit(&mut out, m, s);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF [STORE], ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's zunionInterAggregate: an inf + -inf sum is 0, not NaN.
fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, Some(args[1]), 2, SetOp::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, Some(args[1]), 2, SetOp::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, Some(args[1]), 2, SetOp::Diff, false)
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, None, 1, SetOp::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, None, 1, SetOp::Inter, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, None, 1, SetOp::Inter, true)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    zsetop_generic(ctx, args, None, 1, SetOp::Diff, false)
}

/// An input of a set operation: a sorted set, a plain set (every score 1) or nothing.
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a crate::types::Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }
    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
    /// Every (member, score), in Redis's zuiNext order (zsets from the tail).
    fn for_each(&self, mut f: impl FnMut(&[u8], f64) -> bool) {
        match self {
            Src::Missing => {}
            Src::Z(z) => {
                for (m, s) in z.iter_from(0, true) {
                    if !f(m, s) {
                        return;
                    }
                }
            }
            Src::S(s) => {
                for m in s.members() {
                    if !f(&m, 1.0) {
                        return;
                    }
                }
            }
        }
    }
}

/// Redis's zunionInterDiffGenericCommand.
fn zsetop_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    cardinality_only: bool,
) -> Result<(), CmdError> {
    let setnum = parse_int(args[numkeys_idx])?;
    if setnum < 1 {
        return Err(CmdError::err(format!(
            "at least 1 input key is needed for '{}' command",
            ctx.cmd.name
        )));
    }
    let first = numkeys_idx + 1;
    if setnum > (args.len() - first) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[first..first + setnum];
    // Look every input up first (expiry, stats, WRONGTYPE), as Redis does before options.
    let now = ctx.now;
    {
        let db = ctx.db();
        for k in keys {
            match db.lookup_read(k, now) {
                None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
                Some(_) => return Err(CmdError::WrongType),
            }
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: i64 = 0;
    let mut j = first + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != SetOp::Diff && !cardinality_only && remaining > setnum && is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = string2d(args[j]).ok_or(CmdError::err("weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !cardinality_only && remaining >= 2 && is(a, "aggregate") {
            let v = args[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !cardinality_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if cardinality_only && remaining >= 2 && is(a, "limit") {
            limit = parse_positive(args[j + 1], "LIMIT can't be negative", 0)?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }

    let db = ctx.db();
    let mut srcs: Vec<(Src, f64, usize)> = keys
        .iter()
        .zip(&weights)
        .enumerate()
        .map(|(i, (k, &w))| {
            let src = match db.keys.get(k) {
                Some(Value::ZSet(z)) => Src::Z(z),
                Some(Value::Set(s)) => Src::S(s),
                _ => Src::Missing,
            };
            (src, w, i)
        })
        .collect();
    if op != SetOp::Diff {
        // Smallest first (glibc's qsort is a stable merge sort for these sizes).
        srcs.sort_by_key(|(s, _, _)| s.len());
    }

    let mut result: Vec<(CompactBytes, f64)> = Vec::new();
    let mut cardinality = 0i64;
    match op {
        SetOp::Inter => {
            if srcs[0].0.len() > 0 {
                let (first, rest) = srcs.split_first().unwrap_or_else(|| unreachable!());
                first.0.for_each(|m, s| {
                    let mut score = first.1 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (src, w, _) in rest {
                        match src.find(m) {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => return true,
                        }
                    }
                    if cardinality_only {
                        cardinality += 1;
                        return !(limit > 0 && cardinality >= limit);
                    }
                    result.push((CompactBytes::new(m), score));
                    true
                });
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for (src, w, _) in &srcs {
                src.for_each(|m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                    true
                });
            }
            result = acc
                .into_iter()
                .map(|(m, s)| (CompactBytes::from_vec(m), s))
                .collect();
        }
        SetOp::Diff => {
            let (first, rest) = srcs.split_first().unwrap_or_else(|| unreachable!());
            first.0.for_each(|m, s| {
                if rest.iter().all(|(src, _, _)| src.find(m).is_none()) {
                    result.push((CompactBytes::new(m), s));
                }
                true
            });
        }
    }
    drop(srcs);
    if cardinality_only {
        ctx.out().int(cardinality);
        return Ok(());
    }
    result.sort_by(|a, b| cmp_entry(a.1, a.0.as_bytes(), b.1, b.0.as_bytes()));
    if let Some(dst) = dst {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(ctx, dst, result, event);
        return Ok(());
    }
    let mut out = ctx.out();
    let resp3 = out.resp3;
    out.array_len(if withscores && !resp3 {
        2 * result.len()
    } else {
        result.len()
    });
    for (m, s) in &result {
        if withscores && resp3 {
            out.array_len(2);
        }
        out.bulk(m.as_bytes());
        if withscores {
            out.double(*s);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// ZSCAN

/// How a listpack holds a score (Redis's d2string, whose integers listpack stores as
/// integers): what ZSCAN shows for a small set.
fn listpack_score_text(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let lim = (i64::MAX / 2) as f64;
    if (-lim..=lim).contains(&v) && v.fract() == 0.0 {
        return (v as i64).to_string();
    }
    crate::resp::format_double_g17(v)
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// Redis parses the cursor, looks the key up, and only then parses the options (so a missing
/// key answers an empty scan whatever follows). A listpack comes back whole with cursor 0.
pub fn zscan(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut cursor = super::keys::scan_cursor(args[2])?;
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let Some(z) = db.read::<ZSet>(args[1], now)? else {
        super::keys::reply_scan_head(&mut out, 0, 0);
        return Ok(());
    };
    let super::keys::ScanOptions { count, pattern, .. } =
        super::keys::ScanOptions::parse(&args[3..], false)?;
    let mut found: Vec<(Vec<u8>, String)> = Vec::new();
    if z.is_listpack() {
        z.scan(0, |m, s| found.push((m.to_vec(), listpack_score_text(s))));
        cursor = 0;
    } else {
        cursor = super::keys::scan_buckets(cursor, count, |c| {
            let before = found.len();
            let next = z.scan(c, |m, s| {
                found.push((m.to_vec(), crate::resp::format_double_g17(s)))
            });
            // Redis counts the list of members and scores: two entries per member.
            (next, (found.len() - before) * 2)
        });
    }
    if let Some(p) = pattern {
        found.retain(|(m, _)| glob_match(p, m, false));
    }
    super::keys::reply_scan_head(&mut out, cursor, found.len() * 2);
    for (m, s) in &found {
        out.bulk(m);
        out.bulk(s.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_are_c_strings() {
        assert_eq!(parse_score_bound(b"(1.5"), Some((1.5, true)));
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b""), Some((0.0, false)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"1\x00junk"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_score_bound(b"nan"), None);
        assert_eq!(parse_score_bound(b"1x"), None);
        assert_eq!(parse_score_bound(b"((1"), None);
    }

    #[test]
    fn lex_bounds() {
        assert_eq!(parse_lex_bound(b"+"), Some(LexBound::Max));
        assert_eq!(parse_lex_bound(b"-\x00x"), Some(LexBound::Min));
        assert_eq!(parse_lex_bound(b"+a"), None);
        assert_eq!(parse_lex_bound(b"[a"), Some(LexBound::Incl(b"a")));
        assert_eq!(parse_lex_bound(b"("), Some(LexBound::Excl(b"")));
        assert_eq!(parse_lex_bound(b"a"), None);
        assert_eq!(parse_lex_bound(b""), None);
    }

    #[test]
    fn listpack_scores_print_like_d2string() {
        assert_eq!(listpack_score_text(1.0), "1");
        assert_eq!(listpack_score_text(-0.0), "-0");
        assert_eq!(listpack_score_text(1e17), "100000000000000000");
        assert_eq!(
            listpack_score_text(4611686018427387904.0),
            "4611686018427387904"
        );
        assert_eq!(
            listpack_score_text(9223372036854775808.0),
            "9.2233720368547758e+18"
        );
        assert_eq!(listpack_score_text(0.1), "0.10000000000000001");
        assert_eq!(listpack_score_text(f64::NEG_INFINITY), "-inf");
    }

    mod engine {
        use crate::resp::Reply;
        use crate::types::Value;
        use std::collections::{HashMap, HashSet};

        type T = crate::testing::Session;

        /// A zset `k` of members m0..m{n-1} with score i.
        fn fill(t: &mut T, k: &str, n: usize) {
            let mut args = vec!["ZADD".to_string(), k.to_string()];
            for i in 0..n {
                args.push(i.to_string());
                args.push(format!("m{i}"));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_eq!(t.cmd(&refs), Reply::Int(n as i64));
        }

        proptest::proptest! {
            #![proptest_config(proptest::test_runner::Config::with_cases(48))]
            /// Random zset commands over a small vocabulary never panic, always produce one
            /// well-formed reply, and leave every sorted set consistent and non-empty.
            #[test]
            fn random_commands_keep_sets_consistent(
                cmds in proptest::collection::vec(
                    (0usize..CMDS.len(), proptest::collection::vec(0usize..TOKENS.len(), 0..9)),
                    1..60,
                ),
                small in proptest::bool::ANY,
            ) {
                let mut t = T::new(11);
                if small {
                    t.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "3"]);
                }
                t.cmd(&["SET", "str", "x"]);
                for (c, toks) in cmds {
                    let mut args: Vec<&str> = CMDS[c].split(' ').collect();
                    args.extend(toks.iter().map(|&i| TOKENS[i]));
                    t.cmd(&args);
                    let db = &t.eng.server_mut().dbs[0];
                    for (k, v) in db.keys.iter() {
                        if let Value::ZSet(z) = v {
                            proptest::prop_assert!(!z.is_empty(), "{:?} kept empty", k.as_bytes());
                            z.check().map_err(proptest::test_runner::TestCaseError::fail)?;
                        }
                    }
                }
            }
        }

        const CMDS: &[&str] = &[
            "ZADD a",
            "ZADD b",
            "ZADD a NX",
            "ZADD a XX CH",
            "ZADD a GT INCR",
            "ZINCRBY a",
            "ZREM a",
            "ZRANGE a",
            "ZRANGE b",
            "ZRANGESTORE c a",
            "ZRANGESTORE a b",
            "ZRANGEBYSCORE a",
            "ZREVRANGEBYSCORE a",
            "ZRANGEBYLEX a",
            "ZREVRANGEBYLEX a",
            "ZREVRANGE a",
            "ZCOUNT a",
            "ZLEXCOUNT a",
            "ZREMRANGEBYRANK a",
            "ZREMRANGEBYSCORE a",
            "ZREMRANGEBYLEX a",
            "ZPOPMIN a",
            "ZPOPMAX b",
            "ZMPOP",
            "ZRANDMEMBER a",
            "ZUNION",
            "ZINTER",
            "ZDIFF",
            "ZUNIONSTORE c",
            "ZINTERSTORE a",
            "ZDIFFSTORE b",
            "ZINTERCARD",
            "ZSCAN a",
            "ZSCORE a",
            "ZMSCORE a",
            "ZRANK a",
            "ZREVRANK b",
            "ZCARD a",
        ];

        const TOKENS: &[&str] = &[
            "0",
            "1",
            "2",
            "-1",
            "-2",
            "3",
            "1.5",
            "(1",
            "(2",
            "-inf",
            "+inf",
            "inf",
            "nan",
            "a",
            "b",
            "c",
            "str",
            "x",
            "y",
            "[a",
            "(b",
            "-",
            "+",
            "[",
            "LIMIT",
            "WITHSCORES",
            "REV",
            "BYSCORE",
            "BYLEX",
            "WEIGHTS",
            "AGGREGATE",
            "MIN",
            "MAX",
            "SUM",
            "COUNT",
            "MATCH",
            "*",
            "NX",
            "XX",
            "GT",
            "LT",
            "CH",
            "INCR",
            "9223372036854775807",
            "-9223372036854775808",
            "",
            "1e308",
            "-1e308",
            "0x10",
        ];

        #[test]
        fn randmember_positive_count_is_unique_and_covers_the_set() {
            for (n, count) in [(10, 3), (10, 9), (200, 5), (200, 150)] {
                let mut t = T::new(11);
                fill(&mut t, "z", n);
                let mut seen = HashSet::new();
                for _ in 0..1000 {
                    let got = t.strings(&["ZRANDMEMBER", "z", &count.to_string()]);
                    assert_eq!(got.len(), count);
                    let uniq: HashSet<_> = got.iter().cloned().collect();
                    assert_eq!(uniq.len(), count, "distinct members");
                    seen.extend(uniq);
                }
                assert_eq!(seen.len(), n, "every member comes up");
            }
        }

        #[test]
        fn randmember_negative_count_repeats_with_a_fair_spread() {
            for n in [5, 300] {
                let mut t = T::new(11);
                fill(&mut t, "z", n);
                let got = t.strings(&["ZRANDMEMBER", "z", "-6000", "WITHSCORES"]);
                assert_eq!(got.len(), 12000);
                let mut hist: HashMap<String, usize> = HashMap::new();
                for pair in got.chunks(2) {
                    // Each member comes with its own score.
                    assert_eq!(pair[0], format!("m{}", pair[1]));
                    *hist.entry(pair[0].clone()).or_default() += 1;
                }
                if n == 5 {
                    assert_eq!(hist.len(), 5);
                    // 1200 expected per member; a fair die is never this far off.
                    assert!(hist.values().all(|&c| (900..1500).contains(&c)), "{hist:?}");
                } else {
                    assert!(hist.values().any(|&c| c > 1), "repeats happen");
                }
            }
        }

        #[test]
        fn randmember_single_is_a_member() {
            let mut t = T::new(11);
            fill(&mut t, "z", 300);
            let mut seen = HashSet::new();
            for _ in 0..2000 {
                let Reply::Bulk(m) = t.cmd(&["ZRANDMEMBER", "z"]) else {
                    panic!("bulk")
                };
                seen.insert(m);
            }
            assert!(seen.len() > 250, "spread over the set: {}", seen.len());
        }

        #[test]
        fn zscan_returns_every_member_of_a_skiplist_across_changes() {
            let mut t = T::new(11);
            fill(&mut t, "z", 1000);
            assert_eq!(t.encoding("z"), "skiplist");
            let mut seen = HashSet::new();
            let mut cursor = "0".to_string();
            let mut calls = 0;
            loop {
                let Reply::Array(parts) = t.cmd(&["ZSCAN", "z", &cursor, "COUNT", "20"]) else {
                    panic!("array")
                };
                let [Reply::Bulk(cur), Reply::Array(items)] = &parts[..] else {
                    panic!("[cursor, items]")
                };
                for pair in items.chunks(2) {
                    let (Reply::Bulk(m), Reply::Bulk(s)) = (&pair[0], &pair[1]) else {
                        panic!("bulks")
                    };
                    let m = String::from_utf8(m.clone()).unwrap();
                    assert_eq!(format!("m{}", String::from_utf8_lossy(s)), m);
                    seen.insert(m);
                }
                // Grow the set while scanning: the table resizes under the cursor.
                if calls == 3 {
                    let mut args = vec!["ZADD".to_string(), "z".to_string()];
                    for i in 1000..3000 {
                        args.push(i.to_string());
                        args.push(format!("m{i}"));
                    }
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    t.cmd(&refs);
                }
                calls += 1;
                cursor = String::from_utf8(cur.clone()).unwrap();
                if cursor == "0" {
                    break;
                }
                assert!(calls < 10_000);
            }
            for i in 0..1000 {
                assert!(seen.contains(&format!("m{i}")), "m{i} present all along");
            }
        }

        #[test]
        fn conversion_thresholds_and_one_way() {
            let mut t = T::new(11);
            fill(&mut t, "z", 128);
            assert_eq!(t.encoding("z"), "listpack");
            t.cmd(&["ZADD", "z", "1", "extra"]);
            assert_eq!(t.encoding("z"), "skiplist");
            t.cmd(&["ZREMRANGEBYRANK", "z", "0", "-2"]);
            assert_eq!(t.encoding("z"), "skiplist");
            let long = "x".repeat(65);
            t.cmd(&["ZADD", "y", "1", &"x".repeat(64)]);
            assert_eq!(t.encoding("y"), "listpack");
            t.cmd(&["ZADD", "y", "1", &long]);
            assert_eq!(t.encoding("y"), "skiplist");
            // Stored results are encoded by their size.
            t.cmd(&["ZRANGESTORE", "d", "z", "0", "-1"]);
            assert_eq!(t.encoding("d"), "listpack");
            fill(&mut t, "big", 200);
            t.cmd(&["ZUNIONSTORE", "u", "1", "big"]);
            assert_eq!(t.encoding("u"), "skiplist");
            // d holds z's last member, m127.
            assert_eq!(t.cmd(&["ZINTERSTORE", "u", "2", "big", "d"]), Reply::Int(1));
            assert_eq!(t.encoding("u"), "listpack");
            assert_eq!(t.cmd(&["ZINTERSTORE", "u", "2", "big", "y"]), Reply::Int(0));
            assert_eq!(t.encoding("u"), "none");
            t.cmd(&["ZRANGESTORE", "u", "big", "0", "9"]);
            assert_eq!(t.encoding("u"), "listpack");
            // Ranges agree across encodings.
            let a = t.strings(&["ZRANGE", "big", "10", "20", "WITHSCORES"]);
            let b = t.strings(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]);
            assert_eq!(a.len(), 22);
            assert_eq!(b.len(), 20);
            assert_eq!(
                t.strings(&["ZRANGE", "big", "195", "+inf", "BYSCORE"])
                    .len(),
                5
            );
            assert_eq!(t.cmd(&["ZRANK", "big", "m150"]), Reply::Int(150));
            assert_eq!(t.cmd(&["ZREVRANK", "big", "m150"]), Reply::Int(49));
        }
    }

    #[test]
    fn rank_spans() {
        assert_eq!(crate::command::clamp_index_range(0, -1, 5), Some((0, 4)));
        assert_eq!(
            crate::command::clamp_index_range(-100, 100, 5),
            Some((0, 4))
        );
        assert_eq!(crate::command::clamp_index_range(3, 2, 5), None);
        assert_eq!(crate::command::clamp_index_range(5, 10, 5), None);
        assert_eq!(
            crate::command::clamp_index_range(i64::MIN, i64::MAX, 5),
            Some((0, 4))
        );
        assert_eq!(crate::command::clamp_index_range(0, -1, 0), None);
    }
}
