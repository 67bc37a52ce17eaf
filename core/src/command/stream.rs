//! The stream command group (Redis 7.0's t_stream.c): XADD, XRANGE, XREVRANGE, XLEN, XDEL,
//! XTRIM and XREAD. The data structure is `types::stream`; docs/design/streams.md has the
//! design and what comes next (consumer groups, blocking reads).
//!
//! Propagation follows Redis's argument rewrites so an AOF replays to the same stream: XADD's
//! `*` / `ms-*` ID becomes the ID made, and an approximate trim (`MAXLEN ~ n`, `MINID ~ id`,
//! XADD's or XTRIM's) becomes the exact one that leaves the same entries (`MAXLEN = <length>`,
//! `MINID = <first id, tombstones included>`).

use super::{c_str, is, parse_int, CmdError, Ctx};
use crate::cnum::{is_c_space, parse_i64};
use crate::resp::ReplyWriter;
use crate::types::stream::{AddError, Entry, IdSpec, NodeLimits, Stream, StreamId, Trim};
use crate::types::Value;

fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
}

/// C's strtoull in base 10 as string2ull uses it: leading spaces, a sign (a minus negates,
/// modulo 2^64), at least one digit, nothing after; None on overflow.
fn strtoull(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
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
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's string2ull: a canonical long long (not negative), else strtoull.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    strtoull(s)
}

/// streamGenericParseIDOrReply: `ms-seq`, `ms` (seq = `missing_seq`), `-` / `+` unless
/// `strict`, and `ms-*` when `seq_star` (then the bool is false: no sequence given).
fn parse_id(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // Redis copies the argument into a C string: it ends at the first NUL.
    let b = c_str(arg);
    if b == b"-" || b == b"+" {
        if strict {
            return Err(invalid_id());
        }
        return Ok((
            if b == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms_part, seq_part) = match memchr::memchr(b'-', b) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid_id)?;
    let (seq, given) = match seq_part {
        Some(b"*") if seq_star => (0, false),
        Some(s) => (string2ull(s).ok_or_else(invalid_id)?, true),
        None => (missing_seq, true),
    };
    Ok((StreamId::new(ms, seq), given))
}

/// A strict ID (no `-` / `+`).
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    Ok(parse_id(arg, 0, true, false)?.0)
}

/// streamParseIntervalIDOrReply: a range bound, exclusive with a `(` prefix.
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id(arg, missing_seq, false, false)?.0, false))
    }
}

fn node_limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        max_bytes: ctx.srv.config.stream_node_max_bytes,
        max_entries: ctx.srv.config.stream_node_max_entries,
    }
}

/// streamAddTrimArgs: XADD's and XTRIM's options.
#[derive(Default)]
struct AddTrimArgs {
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// Index of the MAXLEN/MINID argument (the count or ID), for the rewrite.
    trim_arg: usize,
    approx: bool,
    limit: u64,
}

/// streamParseAddOrTrimArgsOrReply: the options and, for XADD, the index of the ID.
fn parse_add_trim(ctx: &Ctx, args: &[&[u8]], xadd: bool) -> Result<(AddTrimArgs, usize), CmdError> {
    let mut a = AddTrimArgs::default();
    let mut limit: Option<i64> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && c_str(opt) == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(CmdError::err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = c_str(args[i + 1]);
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if is(opt, "maxlen") {
                let n = parse_int(args[i + 1])?;
                if n < 0 {
                    return Err(CmdError::err("The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(args[i + 1])?));
            }
            i += 1;
            a.trim_arg = i;
        } else if is(opt, "limit") && more > 0 {
            let n = parse_int(args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            // The ID, or a syntax error reported as an invalid ID.
            a.id = Some(parse_id(opt, 0, true, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if limit.is_some_and(|l| l != 0) && a.trim.is_none() {
        return Err(CmdError::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(CmdError::err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    // mustObeyClient: what the AOF (later: a master) sends was rewritten to exact trims, and
    // LIMIT must not cut them short, so it is neither checked nor applied.
    if ctx.srv.persist.loading {
        a.limit = 0;
        return Ok((a, i));
    }
    match limit {
        Some(_) if !a.approx => {
            return Err(CmdError::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ))
        }
        Some(l) => a.limit = l as u64,
        // Without LIMIT, `~` does at most 100 nodes' worth of work.
        None if a.approx => {
            let l = ctx.srv.config.stream_node_max_entries.saturating_mul(100);
            a.limit = if l <= 0 {
                10000
            } else {
                l.min(1_000_000) as u64
            };
        }
        None => a.limit = 0,
    }
    Ok((a, i))
}

/// The arguments as propagated after an approximate trim: `~` becomes `=` and the count or
/// ID becomes what the trim left (streamRewriteApproxSpecifier + streamRewriteTrimArgument).
fn rewrite_trim(argv: &mut [Vec<u8>], a: &AddTrimArgs, s: &Stream) {
    argv[a.trim_arg - 1] = b"=".to_vec();
    argv[a.trim_arg] = match a.trim {
        Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
        _ => s
            .edge_id(true, true)
            .unwrap_or(StreamId::MAX)
            .to_string()
            .into_bytes(),
    };
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]
pub fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (a, idpos) = parse_add_trim(ctx, args, true)?;
    let field_pos = idpos + 1;
    let nargs = args.len().saturating_sub(field_pos);
    if field_pos > args.len() || nargs < 2 || nargs % 2 == 1 {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            ctx.cmd.name
        )));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(CmdError::err(
                "The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let now = ctx.now;
    let lim = node_limits(ctx);
    let key = args[1];
    let db = ctx.db();
    let created = match db.write::<Stream>(key, now)? {
        Some(_) => false,
        None if a.no_mkstream => {
            ctx.out().nil();
            return Ok(());
        }
        None => true,
    };
    let mut fresh = Stream::new();
    let s: &mut Stream = if created {
        &mut fresh
    } else {
        db.write::<Stream>(key, now)?.expect("looked up above")
    };
    if s.last_id() == StreamId::MAX {
        return Err(CmdError::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let spec = match a.id {
        None => IdSpec::Auto { now_ms: now.0 },
        Some((id, true)) => IdSpec::Exact(id),
        Some((id, false)) => IdSpec::Ms(id.ms),
    };
    let id = s
        .append(&args[field_pos..], spec, lim)
        .map_err(|e| match e {
            AddError::NotGreater => CmdError::err(
                "The ID specified in XADD is equal or smaller than the target stream top item",
            ),
            // Redis reports whatever errno held for the ms-* overflow (not EDOM).
            AddError::SeqExhausted | AddError::TooLarge => {
                CmdError::err("Elements are too large to be stored")
            }
        })?;
    if let Some(how) = a.trim {
        s.trim(how, a.approx, a.limit);
    }
    let mut argv: Vec<Vec<u8>> = Vec::new();
    let rewrite = a.approx || !matches!(a.id, Some((_, true)));
    if rewrite {
        argv = args.iter().map(|x| x.to_vec()).collect();
        if a.trim.is_some() && a.approx {
            rewrite_trim(&mut argv, &a, s);
        }
        if !matches!(a.id, Some((_, true))) {
            argv[idpos] = id.to_string().into_bytes();
        }
    }
    if created {
        // A trim to MAXLEN 0 leaves the new stream empty: Redis keeps the empty key.
        ctx.db().insert_new(key, Value::Stream(Box::new(fresh)));
    }
    ctx.out().bulk(id.to_string().as_bytes());
    ctx.key_modified(key);
    if rewrite {
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        ctx.propagate(&refs);
    }
    Ok(())
}

/// Writes entries as XRANGE replies them: [id, [field, value, ...]].
fn write_entry(out: &mut ReplyWriter<'_>, e: &Entry<'_>) {
    out.array_len(2);
    out.bulk(e.id.to_string().as_bytes());
    out.array_len(e.fields.len() * 2);
    let mut buf = itoa::Buffer::new();
    for (f, v) in &e.fields {
        out.bulk(f.bytes(&mut buf));
        out.bulk(v.bytes(&mut buf));
    }
}

/// streamReplyWithRange without a group: an array of entries in [start, end], at most
/// `count` (0 = all).
fn reply_range(
    out: &mut ReplyWriter<'_>,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) {
    let mut body = Vec::new();
    let mut w = ReplyWriter::new(&mut body, out.resp3);
    let mut n = 0;
    s.walk(start, end, rev, false, |e| {
        write_entry(&mut w, e);
        n += 1;
        count == 0 || n < count
    });
    out.array_len(n);
    out.out.extend_from_slice(&body);
}

/// XRANGE key start end [COUNT count]
pub fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    range_generic(ctx, args, false)
}

/// XREVRANGE key end start [COUNT count]
pub fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    range_generic(ctx, args, true)
}

fn range_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> Result<(), CmdError> {
    let (start_arg, end_arg) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let (mut start, startex) = parse_interval(start_arg, 0)?;
    if startex {
        start = start
            .incr()
            .ok_or_else(|| CmdError::err("invalid start ID for the interval"))?;
    }
    let (mut end, endex) = parse_interval(end_arg, u64::MAX)?;
    if endex {
        end = end
            .decr()
            .ok_or_else(|| CmdError::err("invalid end ID for the interval"))?;
    }
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(args[j], "count") && j + 1 < args.len() {
            count = parse_int(args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (s, mut out) = ctx.read::<Stream>(args[1])?;
    let Some(s) = s else {
        out.array_len(0);
        return Ok(());
    };
    if count == 0 {
        out.nil_array();
    } else {
        reply_range(&mut out, s, start, end, count.max(0) as usize, rev);
    }
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (s, mut out) = ctx.read::<Stream>(args[1])?;
    out.int(s.map_or(0, |s| s.len() as i64));
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    // The key comes first: a missing key answers 0 whatever the IDs.
    if ctx.db().write::<Stream>(args[1], now)?.is_none() {
        ctx.out().int(0);
        return Ok(());
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let s = ctx
        .db()
        .write::<Stream>(args[1], now)?
        .expect("looked up above");
    let deleted = s.delete_ids(&ids);
    if deleted > 0 {
        ctx.key_modified(args[1]);
        ctx.srv.dirty += deleted - 1;
    }
    ctx.out().int(deleted as i64);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (a, _) = parse_add_trim(ctx, args, false)?;
    let now = ctx.now;
    let Some(s) = ctx.db().write::<Stream>(args[1], now)? else {
        ctx.out().int(0);
        return Ok(());
    };
    let how = a.trim.expect("XTRIM has a strategy");
    let deleted = s.trim(how, a.approx, a.limit);
    let mut argv = Vec::new();
    if deleted > 0 && a.approx {
        argv = args.iter().map(|x| x.to_vec()).collect();
        rewrite_trim(&mut argv, &a, s);
    }
    if deleted > 0 {
        ctx.key_modified(args[1]);
        ctx.srv.dirty += deleted - 1;
        if a.approx {
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            ctx.propagate(&refs);
        }
    }
    ctx.out().int(deleted as i64);
    Ok(())
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut timeout: Option<u64> = None;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if is(o, "block") && more > 0 {
            i += 1;
            let t = parse_i64(args[i])
                .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(CmdError::err("timeout is negative"));
            }
            timeout = Some(if t > 0 {
                ctx.now.0.saturating_add(t as u64)
            } else {
                0
            });
        } else if is(o, "count") && more > 0 {
            i += 1;
            count = parse_int(args[i])?.max(0);
        } else if is(o, "streams") && more > 0 {
            streams_arg = i + 1;
            if !(args.len() - streams_arg).is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if is(o, "group") && more >= 2 {
            return Err(CmdError::err(
                "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
            ));
        } else if is(o, "noack") {
            return Err(CmdError::err(
                "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
            ));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(CmdError::Syntax);
    }
    let n = (args.len() - streams_arg) / 2;
    let keys = &args[streams_arg..streams_arg + n];
    let now = ctx.now;
    let mut ids = Vec::with_capacity(n);
    for (k, arg) in keys.iter().zip(&args[streams_arg + n..]) {
        let s = ctx.db().read::<Stream>(k, now)?;
        let id = match c_str(arg) {
            // Redis compares the whole argument here (strcmp on the C string).
            b"$" => s.map_or(StreamId::MIN, |s| s.last_id()),
            b">" => {
                return Err(CmdError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            _ => parse_strict_id(arg)?,
        };
        ids.push(id);
    }
    // Serve synchronously every stream with an entry past its ID.
    let resp3 = ctx.client_ref().resp3;
    let mut body = Vec::new();
    let mut served = 0;
    {
        let db = ctx.db();
        let mut w = ReplyWriter::new(&mut body, resp3);
        for (k, gt) in keys.iter().zip(&ids) {
            let Some(s) = db.read::<Stream>(k, now)? else {
                continue;
            };
            if s.is_empty() || s.edge_id(false, false).is_none_or(|max| max <= *gt) {
                continue;
            }
            served += 1;
            if !resp3 {
                w.array_len(2);
            }
            w.bulk(k);
            let start = gt.incr().unwrap_or(StreamId::MIN);
            reply_range(&mut w, s, start, StreamId::MAX, count as usize, false);
        }
    }
    if served > 0 {
        let mut out = ctx.out();
        if resp3 {
            out.map_len(served);
        } else {
            out.array_len(served);
        }
        out.out.extend_from_slice(&body);
        return Ok(());
    }
    if timeout.is_some() && !ctx.client_ref().tx.in_exec {
        // Blocking reads are the next piece (docs/design/streams.md §5): refuse loudly
        // rather than answer a timeout Redis would not give.
        return Err(CmdError::err(
            "XREAD BLOCK with no entries to return is not supported yet by Oxidis",
        ));
    }
    ctx.out().nil_array();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::{decode_reply, encode_request, Reply};
    use crate::{Config, ConnInfo, Engine, UnixMillis};

    fn run(eng: &mut Engine, now: u64, args: &[&str]) -> Reply {
        let id = eng.connect(UnixMillis(now), ConnInfo::default());
        eng.feed(UnixMillis(now), id, &encode_request(args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        eng.disconnect(id);
        decode_reply(&out).expect("valid").expect("whole").0
    }

    fn config() -> Config {
        let mut cfg = Config::default();
        cfg.set("stream-node-max-entries", b"3").unwrap();
        cfg
    }

    /// XADD `*` / `ms-*` and the approximate trims are propagated in the exact form, so an AOF
    /// replayed later (another clock) rebuilds the same stream, node for node.
    #[test]
    fn propagation_is_deterministic() {
        let mut eng = Engine::new(config(), 1);
        eng.set_propagation(true);
        let t = 1_000_000;
        for (i, c) in [
            &["XADD", "s", "*", "f", "v"][..],
            &["XADD", "s", "*", "f", "v"],
            &["XADD", "s", "7000000-*", "f", "v"],
            &["XADD", "s", "MAXLEN", "~", "2", "*", "f", "v"],
            &["XADD", "s", "*", "f", "v"],
            &["XADD", "s", "*", "f", "v"],
            &["XADD", "s", "*", "g", "w"],
            &[
                "XADD",
                "s",
                "MINID",
                "~",
                "7000000-1",
                "LIMIT",
                "10",
                "*",
                "f",
                "v",
            ],
            &["XTRIM", "s", "MAXLEN", "~", "1"],
            &["XTRIM", "s", "MAXLEN", "~", "100"],
            &["XDEL", "s", "7000000-5"],
            &["XDEL", "s", "1-1"],
            &["XADD", "n", "NOMKSTREAM", "*", "f", "v"],
        ]
        .into_iter()
        .enumerate()
        {
            let r = run(&mut eng, t + i as u64, c);
            assert!(!matches!(r, Reply::Error(_)), "{c:?}: {r:?}");
        }
        let mut aof = Vec::new();
        eng.take_propagated(&mut aof);
        let text = String::from_utf8_lossy(&aof).into_owned();
        assert!(!text.contains("*\r\n") && !text.contains("~"), "{text}");
        assert!(text.contains("$9\r\n1000000-0\r\n"), "{text}");
        assert!(text.contains("$9\r\n7000000-0\r\n"), "{text}");
        assert!(text.contains("MAXLEN\r\n$1\r\n=\r\n"), "{text}");
        assert!(text.contains("MINID\r\n$1\r\n=\r\n"), "{text}");
        // Changes nothing: not propagated.
        assert!(
            !text.contains("1-1") && !text.contains("NOMKSTREAM"),
            "{text}"
        );
        let mut other = Engine::new(config(), 2);
        let r = other.replay_aof(UnixMillis(t + 5_000_000), &aof).unwrap();
        assert_eq!(r.valid_len, aof.len());
        assert_eq!(
            eng.export_rdb(UnixMillis(0)),
            other.export_rdb(UnixMillis(0))
        );
        assert!(matches!(run(&mut other, t, &["XLEN", "s"]), Reply::Int(n) if n > 0));
    }
}
