//! The stream command group (Redis 7.0's t_stream.c): XADD, XRANGE, XREVRANGE, XLEN, XDEL,
//! XTRIM and XREAD. The data structure is `types::stream`; docs/design/streams.md has the
//! design and what comes next (consumer groups, blocking reads).
//!
//! Propagation follows Redis's argument rewrites so an AOF replays to the same stream: XADD's
//! `*` / `ms-*` ID becomes the ID made, and an approximate trim (`MAXLEN ~ n`, `MINID ~ id`,
//! XADD's or XTRIM's) becomes the exact one that leaves the same entries (`MAXLEN = <length>`,
//! `MINID = <first id, tombstones included>`).

use super::{c_str, is, notify, parse_int, CmdError, Ctx};
use crate::cnum::{parse_i64, string2ull};
use crate::resp::ReplyWriter;
use crate::types::stream::{
    AddError, Consumer, Entry, Group, IdSpec, Nack, NodeLimits, Stream, StreamId, Trim,
    INVALID_ENTRIES_READ,
};
use crate::types::Value;

fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
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
    let propagating = ctx.srv.persist.propagate;
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
    let trimmed = match a.trim {
        Some(how) => s.trim(how, a.approx, a.limit) > 0,
        None => false,
    };
    let mut argv: Vec<Vec<u8>> = Vec::new();
    // The rewritten command is only built when something takes it (AOF, replicas: what
    // `Ctx::propagate` checks).
    let rewrite = (a.approx || !matches!(a.id, Some((_, true)))) && propagating;
    let mut idbuf = [0u8; 41];
    let id_text = id.write_text(&mut idbuf);
    if rewrite {
        argv = args.iter().map(|x| x.to_vec()).collect();
        if a.trim.is_some() && a.approx {
            rewrite_trim(&mut argv, &a, s);
        }
        if !matches!(a.id, Some((_, true))) {
            argv[idpos] = id_text.to_vec();
        }
    }
    if created {
        // A trim to MAXLEN 0 leaves the new stream empty: Redis keeps the empty key.
        ctx.db().insert_new(key, Value::Stream(Box::new(fresh)));
    } else {
        // New data for clients blocked in XREAD / XREADGROUP.
        ctx.db().signal_ready(key);
    }
    ctx.out().bulk(id_text);
    ctx.key_modified(key);
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    if rewrite {
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        ctx.propagate(&refs);
    }
    Ok(())
}

/// Writes entries as XRANGE replies them: [id, [field, value, ...]].
fn write_entry(out: &mut ReplyWriter<'_>, e: &Entry<'_>) {
    out.array_len(2);
    out.bulk(e.id.write_text(&mut [0; 41]));
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
        ctx.notify(notify::STREAM, "xdel", args[1]);
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
        ctx.notify(notify::STREAM, "xtrim", args[1]);
        if a.approx {
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            ctx.propagate(&refs);
        }
    }
    ctx.out().int(deleted as i64);
    Ok(())
}

/// XREAD's and XREADGROUP's options (Redis parses both in one xreadCommand).
struct ReadOptions<'a> {
    /// BLOCK: the deadline (0 = forever).
    timeout: Option<u64>,
    count: i64,
    /// The index of the first key after STREAMS.
    streams_arg: usize,
    noack: bool,
    /// GROUP group consumer.
    group: Option<(&'a [u8], &'a [u8])>,
}

impl ReadOptions<'_> {
    /// The COUNT a blocked read is served with.
    fn blocked_count(&self) -> usize {
        if self.count == 0 {
            XREAD_BLOCKED_DEFAULT_COUNT
        } else {
            self.count as usize
        }
    }
}

fn read_options<'a>(
    ctx: &Ctx,
    args: &[&'a [u8]],
    xreadgroup: bool,
) -> Result<ReadOptions<'a>, CmdError> {
    let mut o = ReadOptions {
        timeout: None,
        count: 0,
        streams_arg: 0,
        noack: false,
        group: None,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = args[i];
        if is(opt, "block") && more > 0 {
            if ctx.srv.persist.in_script() {
                return Err(quoted_error(&[
                    b"ERR ",
                    args[0],
                    b" command is not allowed with BLOCK option from scripts",
                ]));
            }
            i += 1;
            let t = parse_i64(args[i])
                .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(CmdError::err("timeout is negative"));
            }
            o.timeout = Some(if t > 0 {
                ctx.now.0.saturating_add(t as u64)
            } else {
                0
            });
        } else if is(opt, "count") && more > 0 {
            i += 1;
            o.count = parse_int(args[i])?.max(0);
        } else if is(opt, "streams") && more > 0 {
            o.streams_arg = i + 1;
            if !(args.len() - o.streams_arg).is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if is(opt, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            o.group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if is(opt, "noack") {
            if !xreadgroup {
                return Err(CmdError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            o.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if o.streams_arg == 0 {
        return Err(CmdError::Syntax);
    }
    Ok(o)
}

/// The end of XREAD and XREADGROUP: the streams served now (a map of them in RESP3), or a
/// blocked client, or a null array.
fn finish_read(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    served: usize,
    body: &[u8],
    deadline: Option<u64>,
    blocked: impl FnOnce() -> Blocked,
) {
    if served > 0 {
        let resp3 = ctx.client_ref().resp3;
        let mut out = ctx.out();
        if resp3 {
            out.map_len(served);
        } else {
            out.array_len(served);
        }
        out.out.extend_from_slice(body);
    } else if let Some(deadline) = deadline {
        super::blocking::block_xread(ctx, keys, deadline, blocked());
    } else {
        ctx.out().nil_array();
    }
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
pub fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let opts = read_options(ctx, args, false)?;
    let (count, streams_arg) = (opts.count, opts.streams_arg);
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
    finish_read(ctx, keys, served, &body, opts.timeout, || Blocked {
        ids: keys.iter().map(|k| k.to_vec()).zip(ids).collect(),
        count: opts.blocked_count(),
        group: None,
    });
    Ok(())
}

/// XREAD_BLOCKED_DEFAULT_COUNT: a blocked read without COUNT gets at most this many.
const XREAD_BLOCKED_DEFAULT_COUNT: usize = 1000;

/// What a client blocked in XREAD / XREADGROUP waits for (Redis's bpop stream fields).
#[derive(Clone, Debug, PartialEq)]
pub struct Blocked {
    /// Per key, the ID to read after (`$` resolved when it blocked; unused for a group).
    ids: Vec<(Vec<u8>, StreamId)>,
    count: usize,
    /// XREADGROUP: group, consumer, NOACK.
    group: Option<(Vec<u8>, Vec<u8>, bool)>,
}

/// Whether the client blocked with `x` is served now that `key` (a stream) is ready: it has
/// entries past the client's ID (past the group's last ID), or the group is gone (an error).
pub(crate) fn blocked_ready(s: &Stream, key: &[u8], x: &Blocked) -> bool {
    match &x.group {
        Some((g, _, _)) => s.group(g).is_none_or(|g| s.last_id() > g.last_id),
        None => x
            .ids
            .iter()
            .find(|(k, _)| k == key)
            .is_some_and(|(_, gt)| s.last_id() > *gt),
    }
}

/// Serves a blocked XREAD / XREADGROUP from `key`: a one-stream reply (RESP2 `[[key,
/// entries]]`, RESP3 `{key: entries}`), delivering to the group as XREADGROUP does.
pub(crate) fn serve_blocked(ctx: &mut Ctx, key: &[u8], x: &Blocked) -> Result<(), CmdError> {
    let now = ctx.now;
    let resp3 = ctx.client_ref().resp3;
    let mut body = Vec::new();
    let mut w = ReplyWriter::new(&mut body, resp3);
    if resp3 {
        w.map_len(1);
    } else {
        w.array_len(1);
        w.array_len(2);
    }
    w.bulk(key);
    let propagating = ctx.srv.persist.propagate;
    let Some(s) = ctx.db().write::<Stream>(key, now)? else {
        return Ok(());
    };
    match &x.group {
        None => {
            let gt = x
                .ids
                .iter()
                .find(|(k, _)| k == key)
                .map_or(StreamId::MAX, |e| e.1);
            let start = gt.incr().unwrap_or(StreamId::MIN);
            reply_range(&mut w, s, start, StreamId::MAX, x.count, false);
        }
        Some((gname, cname, noack)) => {
            let Some(g) = s.group_mut(gname) else {
                return Err(CmdError::Msg(
                    b"NOGROUP the consumer group this client was blocked on no longer exists"
                        .to_vec(),
                ));
            };
            let created = g.see_consumer(cname, now.0);
            let start = g.last_id.incr().unwrap_or(StreamId::MIN);
            let mut entries = Vec::new();
            let mut inner = ReplyWriter::new(&mut entries, resp3);
            let mut delivered = Vec::new();
            let moved = s.deliver((gname, cname), start, x.count, *noack, now.0, |e| {
                write_entry(&mut inner, e);
                delivered.push(e.id);
            });
            w.array_len(delivered.len());
            w.out.extend_from_slice(&entries);
            // The XCLAIMs are only built when something takes them (AOF, replicas).
            let claims_wanted = !*noack && propagating;
            let (claims, group_id) = delivered_effects(s, gname, &delivered, !claims_wanted);
            if created {
                ctx.srv.dirty += 1;
                ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
                if *noack {
                    ctx.propagate(&[b"XGROUP", b"CREATECONSUMER", key, gname, cname]);
                }
            }
            for (id, nack) in &claims {
                propagate_xclaim(ctx, key, gname, id.to_string().as_bytes(), nack, *id);
            }
            if *noack && moved {
                propagate_group_id(ctx, key, gname, group_id);
            }
        }
    }
    ctx.out().out.extend_from_slice(&body);
    Ok(())
}

// ---------------------------------------------------------------- consumer groups

/// Redis's addReplySubcommandSyntaxError.
fn subcommand_syntax_error(args: &[&[u8]]) -> CmdError {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    m.extend_from_slice(super::truncated(args[1], 128));
    m.extend_from_slice(b"'. Try ");
    m.extend(c_str(args[0]).iter().map(u8::to_ascii_uppercase));
    m.extend_from_slice(b" HELP.");
    CmdError::Msg(m)
}

/// An error whose text quotes C strings (Redis's `%s`: up to the first NUL).
fn quoted_error(parts: &[&[u8]]) -> CmdError {
    let mut m = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        m.extend_from_slice(if i % 2 == 1 { c_str(p) } else { p });
    }
    CmdError::Msg(m)
}

/// preventCommandPropagation: the command's effects, if any, were propagated in another form
/// (or not at all).
fn prevent_propagation(ctx: &mut Ctx) {
    ctx.srv.persist.rewrite.get_or_insert_with(Vec::new);
}

/// streamPropagateXCLAIM: `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID
/// LASTID last`, which recreates the pending entry whatever the replica holds.
fn propagate_xclaim(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    id: &[u8],
    nack: &Nack,
    last: StreamId,
) {
    let time = nack.delivery_time.to_string();
    let count = nack.delivery_count.to_string();
    let last = last.to_string();
    ctx.propagate(&[
        b"XCLAIM",
        key,
        group,
        &nack.consumer,
        b"0",
        id,
        b"TIME",
        time.as_bytes(),
        b"RETRYCOUNT",
        count.as_bytes(),
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        last.as_bytes(),
    ]);
}

/// Moves group `name` (which exists) out of `s`, leaving an empty one in its place until the
/// caller writes it back with `*s.group_mut(name) = g`.
fn take_group(s: &mut Stream, name: &[u8]) -> Group {
    std::mem::replace(
        s.group_mut(name).expect("exists"),
        Group::new(StreamId::MIN, -1),
    )
}

/// What a group read of `delivered` (the new entries, `>`) propagates: an XCLAIM per entry
/// with its pending entry (unless NOACK) and the group's (last ID, entries read) for NOACK's
/// XGROUP SETID. Each XCLAIM's LASTID is the entry's own ID: the group's last ID as it was
/// once that entry was delivered (Redis propagates inside its delivery loop). Copies only
/// these pending entries: cloning the group made every read O(pending entries).
fn delivered_effects(
    s: &Stream,
    gname: &[u8],
    delivered: &[StreamId],
    no_claims: bool,
) -> (Vec<(StreamId, Nack)>, (StreamId, i64)) {
    let g = s.group(gname).expect("checked");
    let claims = if no_claims {
        Vec::new()
    } else {
        delivered
            .iter()
            .map(|id| (*id, g.pel[id].clone()))
            .collect()
    };
    (claims, (g.last_id, g.entries_read))
}

/// streamPropagateGroupID: `XGROUP SETID key group last ENTRIESREAD n`, for a group's
/// (last ID, entries read).
fn propagate_group_id(ctx: &mut Ctx, key: &[u8], group: &[u8], (last, read): (StreamId, i64)) {
    let last = last.to_string();
    let read = read.to_string();
    ctx.propagate(&[
        b"XGROUP",
        b"SETID",
        key,
        group,
        last.as_bytes(),
        b"ENTRIESREAD",
        read.as_bytes(),
    ]);
}

fn no_such_key_or_group(key: &[u8], group: &[u8], tail: &[u8]) -> CmdError {
    quoted_error(&[
        b"NOGROUP No such key '",
        key,
        b"' or consumer group '",
        group,
        tail,
    ])
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]
pub fn xgroup_create(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    xgroup(ctx, args)
}

/// XGROUP SETID key group id|$ [ENTRIESREAD entries-read]
pub fn xgroup_setid(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    xgroup(ctx, args)
}

/// XGROUP DESTROY key group
pub fn xgroup_destroy(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    xgroup(ctx, args)
}

/// XGROUP CREATECONSUMER key group consumer
pub fn xgroup_createconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    xgroup(ctx, args)
}

/// XGROUP DELCONSUMER key group consumer
pub fn xgroup_delconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    xgroup(ctx, args)
}

/// XGROUP HELP
pub fn xgroup_help(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    xgroup(ctx, args)
}

/// xgroupCommand: every subcommand, checked in Redis's order.
fn xgroup(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let opt = args[1];
    let now = ctx.now;
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut exists = false;
    if args.len() >= 4 {
        let create = is(opt, "create");
        let setid = is(opt, "setid");
        let mut i = 5;
        while i < args.len() {
            if create && is(args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if (create || setid) && is(args[i], "entriesread") && i + 1 < args.len() {
                entries_read = parse_int(args[i + 1])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(CmdError::err(
                        "value for ENTRIESREAD must be positive or -1",
                    ));
                }
                i += 2;
            } else {
                return Err(subcommand_syntax_error(args));
            }
        }
        exists = ctx.db().write::<Stream>(args[2], now)?.is_some();
    }
    let (key, group) = (
        args.get(2).copied().unwrap_or_default(),
        args.get(3).copied().unwrap_or_default(),
    );
    if args.len() >= 4 && !mkstream {
        if !exists {
            return Err(CmdError::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        if s.group(group).is_none()
            && (is(opt, "setid") || is(opt, "createconsumer") || is(opt, "delconsumer"))
        {
            return Err(quoted_error(&[
                b"NOGROUP No such consumer group '",
                group,
                b"' for key name '",
                key,
                b"'",
            ]));
        }
    }
    let n = args.len();
    if n == 2 && is(opt, "help") {
        super::connection::reply_help(ctx, XGROUP_HELP);
    } else if is(opt, "create") && (5..=8).contains(&n) {
        let id = if c_str(args[4]) == b"$" && args[4].len() == 1 {
            ctx.db()
                .write::<Stream>(key, now)?
                .map_or(StreamId::MIN, |s| s.last_id())
        } else {
            parse_strict_id(args[4])?
        };
        if !exists {
            ctx.db()
                .insert_new(key, Value::Stream(Box::new(Stream::new())));
            let db = ctx.client_ref().db;
            ctx.key_modified_in(db, key);
        }
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        if s.create_group(group, id, entries_read) {
            ctx.out().ok();
            ctx.srv.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-create", key);
        } else {
            ctx.out()
                .error(b"BUSYGROUP Consumer Group name already exists");
            super::intro::count_error(ctx.srv, b"BUSYGROUP Consumer");
        }
    } else if is(opt, "setid") && (n == 5 || n == 7) {
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        let id = if c_str(args[4]) == b"$" && args[4].len() == 1 {
            s.last_id()
        } else {
            parse_id(args[4], 0, false, false)?.0
        };
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        let g = s.group_mut(group).expect("checked");
        g.last_id = id;
        g.entries_read = entries_read;
        ctx.out().ok();
        ctx.srv.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-setid", key);
    } else if is(opt, "destroy") && n == 4 {
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        if s.destroy_group(group) {
            ctx.out().int(1);
            ctx.srv.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-destroy", key);
            // Its blocked XREADGROUP clients get -NOGROUP.
            ctx.db().signal_ready(key);
        } else {
            ctx.out().int(0);
        }
    } else if is(opt, "createconsumer") && n == 5 {
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        let g = s.group_mut(group).expect("checked");
        let created = !g.consumers.contains_key(args[4]);
        if created {
            g.consumers.insert(Box::from(args[4]), Consumer::new(now.0));
            ctx.srv.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
        }
        ctx.out().int(i64::from(created));
    } else if is(opt, "delconsumer") && n == 5 {
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        let g = s.group_mut(group).expect("checked");
        let pending = g.delete_consumer(args[4]);
        if pending.is_some() {
            ctx.srv.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-delconsumer", key);
        }
        ctx.out().int(pending.unwrap_or(0) as i64);
    } else {
        return Err(subcommand_syntax_error(args));
    }
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let id = parse_strict_id(args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "entriesadded") && more > 0 {
            entries_added = parse_int(args[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::err("entries_added must be positive"));
            }
            i += 2;
        } else if is(args[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(args[i + 1])?;
            if id < max_xdel {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now;
    let Some(s) = ctx.db().write::<Stream>(args[1], now)? else {
        return Err(CmdError::NoSuchKey);
    };
    if !s.is_empty() {
        let max = s.edge_id(false, false).unwrap_or(StreamId::MIN);
        if id < max {
            return Err(CmdError::err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return Err(CmdError::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.set_last_id(id);
    if entries_added != -1 {
        s.set_entries_added(entries_added as u64);
    }
    if !max_xdel.is_zero() {
        s.set_max_deleted_id(max_xdel);
    }
    ctx.out().ok();
    // Redis counts the change but does not signal the key (WATCH is not touched).
    ctx.srv.dirty += 1;
    ctx.notify(notify::STREAM, "xsetid", args[1]);
    Ok(())
}

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let has_group = ctx
        .db()
        .read::<Stream>(args[1], now)?
        .is_some_and(|s| s.group(args[2]).is_some());
    if !has_group {
        ctx.out().int(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let s = ctx.db().write::<Stream>(args[1], now)?.expect("exists");
    let g = s.group_mut(args[2]).expect("exists");
    let acked = ids.iter().filter(|&&id| g.ack(id)).count();
    ctx.srv.dirty += acked as u64;
    ctx.out().int(acked as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let n = args.len();
    let justinfo = n == 3;
    if n != 3 && !(6..=9).contains(&n) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    let mut minidle: i64 = 0;
    let mut consumer: Option<&[u8]> = None;
    if n >= 6 {
        let mut startidx = 3;
        if is(args[3], "idle") {
            minidle = parse_int(args[4])?;
            if n < 8 {
                return Err(CmdError::Syntax);
            }
            startidx += 2;
        }
        let count = parse_int(args[startidx + 2])?.max(0);
        let (mut start, startex) = parse_interval(args[startidx], 0)?;
        if startex {
            start = start
                .incr()
                .ok_or_else(|| CmdError::err("invalid start ID for the interval"))?;
        }
        let (mut end, endex) = parse_interval(args[startidx + 1], u64::MAX)?;
        if endex {
            end = end
                .decr()
                .ok_or_else(|| CmdError::err("invalid end ID for the interval"))?;
        }
        if startidx + 3 < n {
            consumer = Some(args[startidx + 3]);
        }
        range = Some((start, end, count));
    }
    let now = ctx.now;
    let (s, mut out) = ctx.read::<Stream>(args[1])?;
    let Some(g) = s.and_then(|s| s.group(args[2])) else {
        return Err(no_such_key_or_group(args[1], args[2], b"'"));
    };
    if justinfo {
        out.array_len(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                out.bulk(first.to_string().as_bytes());
                out.bulk(last.to_string().as_bytes());
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array_len(owners.len());
                for (name, c) in owners {
                    out.array_len(2);
                    out.bulk(name);
                    out.bulk_i64(c.pel.len() as i64);
                }
            }
            _ => {
                out.nil();
                out.nil();
                out.nil_array();
            }
        }
        return Ok(());
    }
    let (start, end, mut count) = range.expect("extended form");
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pel.iter().copied().filter(|id| *id >= start).collect(),
            None => {
                out.array_len(0);
                return Ok(());
            }
        },
        None => g.pel.keys().copied().filter(|id| *id >= start).collect(),
    };
    let mut body = Vec::new();
    let mut w = ReplyWriter::new(&mut body, out.resp3);
    let mut len = 0;
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        let idle = now.0 as i64 - nack.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        len += 1;
        count -= 1;
        w.array_len(4);
        w.bulk(id.to_string().as_bytes());
        w.bulk(&nack.consumer);
        w.int(idle.max(0));
        w.int(nack.delivery_count as i64);
    }
    out.array_len(len);
    out.out.extend_from_slice(&body);
    Ok(())
}

/// One entry as XRANGE replies it, looked up by ID (streamReplyWithRange RAWENTRIES).
fn write_entry_by_id(w: &mut ReplyWriter<'_>, s: &Stream, id: StreamId) -> bool {
    let mut found = false;
    s.walk(id, id, false, false, |e| {
        write_entry(w, e);
        found = true;
        false
    });
    found
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let has_group = ctx
        .db()
        .read::<Stream>(args[1], now)?
        .is_some_and(|s| s.group(args[2]).is_some());
    if !has_group {
        return Err(no_such_key_or_group(args[1], args[2], b"'"));
    }
    let minidle = parse_i64(args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(args[j]) {
            Ok(id) => ids.push((id, args[j])),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut last_id = StreamId::MIN;
    let nowms = now.0 as i64;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        let int_opt = |a: &[u8], what: &str| {
            parse_i64(a)
                .ok_or_else(|| CmdError::err(format!("Invalid {what} option argument for XCLAIM")))
        };
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            deliverytime = nowms.wrapping_sub(int_opt(args[j], "IDLE")?);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            deliverytime = int_opt(args[j], "TIME")?;
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = int_opt(args[j], "RETRYCOUNT")?;
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args[j])?;
        } else {
            return Err(quoted_error(&[
                b"ERR Unrecognized XCLAIM option '",
                opt,
                b"'",
            ]));
        }
        j += 1;
    }
    if deliverytime == -1 || deliverytime < 0 || deliverytime > nowms {
        deliverytime = nowms;
    }
    let (key, group, name) = (args[1], args[2], args[3]);
    let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
    let mut propagate_last_id = false;
    {
        let g = s.group_mut(group).expect("exists");
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let resp3 = ctx.client_ref().resp3;
    let mut body = Vec::new();
    let mut w = ReplyWriter::new(&mut body, resp3);
    let mut len = 0;
    let mut extra_dirty = 0;
    let mut changes: Vec<(Vec<u8>, Nack)> = Vec::new();
    let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
    // Taken out while entries are read from `s`, put back below (no early return between):
    // cloning it made every call O(pending entries).
    let mut g = take_group(s, group);
    for (id, raw) in ids {
        if !s.contains(id) {
            // Gone from the stream: its pending entry goes too.
            if let Some(nack) = g.pel.get(&id).cloned() {
                changes.push((raw.to_vec(), nack));
                propagate_last_id = false;
                g.ack(id);
            }
            continue;
        }
        let existing = g.pel.get(&id);
        if existing.is_none() && !force {
            continue;
        }
        if let Some(nack) = existing {
            if minidle != 0 && nowms - (nack.delivery_time as i64) < minidle {
                continue;
            }
        }
        let was_new = existing.is_none();
        if g.see_consumer(name, now.0) {
            extra_dirty += 1;
        }
        let nack = g.assign(id, name, now.0);
        if was_new {
            // FORCE made it: Redis's new NACK starts at count 1 before the update below.
            nack.delivery_count = 1;
        }
        nack.delivery_time = deliverytime as u64;
        if retrycount >= 0 {
            nack.delivery_count = retrycount as u64;
        } else if !justid {
            nack.delivery_count += 1;
        }
        changes.push((raw.to_vec(), nack.clone()));
        if justid {
            w.bulk(id.to_string().as_bytes());
        } else {
            write_entry_by_id(&mut w, s, id);
        }
        len += 1;
        propagate_last_id = false;
    }
    let g_last = g.last_id;
    *s.group_mut(group).expect("exists") = g;
    ctx.srv.dirty += changes.len() as u64 + extra_dirty;
    if extra_dirty > 0 {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    let mut out = ctx.out();
    out.array_len(len);
    out.out.extend_from_slice(&body);
    prevent_propagation(ctx);
    for (raw, nack) in &changes {
        propagate_xclaim(ctx, key, group, raw, nack, g_last);
    }
    if propagate_last_id {
        let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
        let g = s.group(group).expect("exists");
        let group_id = (g.last_id, g.entries_read);
        propagate_group_id(ctx, key, group, group_id);
        ctx.srv.dirty += 1;
    }
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let minidle = parse_i64(args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let (mut start, startex) = parse_interval(args[5], 0)?;
    if startex {
        start = start
            .incr()
            .ok_or_else(|| CmdError::err("invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "count") && more > 0 {
            // getRangeLongFromObjectOrReply(1, LONG_MAX / 16).
            count = match parse_i64(args[j + 1]) {
                Some(c) if (1..=i64::MAX / 16).contains(&c) => c,
                _ => return Err(CmdError::err("COUNT must be > 0")),
            };
            j += 1;
        } else if is(args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let now = ctx.now;
    let has_group = ctx
        .db()
        .read::<Stream>(args[1], now)?
        .is_some_and(|s| s.group(args[2]).is_some());
    if !has_group {
        return Err(no_such_key_or_group(args[1], args[2], b"'"));
    }
    // Redis allocates COUNT stream IDs up front (ztrymalloc) and fails when it cannot; a
    // request above 64 GB of them is what fails on any machine Redis runs on.
    if count > 1 << 32 {
        return Err(CmdError::err(
            "Insufficient memory, failed allocating transient memory, COUNT too high.",
        ));
    }
    let (key, group, name) = (args[1], args[2], args[3]);
    let nowms = now.0 as i64;
    let resp3 = ctx.client_ref().resp3;
    let mut extra_dirty = 0;
    let s = ctx.db().write::<Stream>(key, now)?.expect("exists");
    // Taken out while entries are read from `s`, put back below (no early return between).
    let mut g = take_group(s, group);
    let mut attempts = count * 10;
    let mut body = Vec::new();
    let mut w = ReplyWriter::new(&mut body, resp3);
    let mut len = 0;
    let mut deleted = Vec::new();
    let mut changes: Vec<(StreamId, Nack)> = Vec::new();
    let mut next_from = Some(start);
    let mut eof = false;
    loop {
        if attempts == 0 {
            break;
        }
        attempts -= 1;
        if count == 0 {
            break;
        }
        let Some(id) = next_from.and_then(|f| g.pel.range(f..).next().map(|(k, _)| *k)) else {
            eof = true;
            break;
        };
        next_from = id.incr();
        if !s.contains(id) {
            let nack = g.pel.get(&id).cloned().expect("in the PEL");
            changes.push((id, nack));
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let nack = g.pel.get(&id).expect("in the PEL");
        if minidle != 0 && nowms - (nack.delivery_time as i64) < minidle {
            continue;
        }
        if g.see_consumer(name, now.0) {
            extra_dirty += 1;
        }
        let nack = g.assign(id, name, now.0);
        nack.delivery_time = now.0;
        if !justid {
            nack.delivery_count += 1;
        }
        changes.push((id, nack.clone()));
        if justid {
            w.bulk(id.to_string().as_bytes());
        } else {
            write_entry_by_id(&mut w, s, id);
        }
        len += 1;
        count -= 1;
    }
    let cursor = if eof {
        StreamId::MIN
    } else {
        next_from
            .and_then(|f| g.pel.range(f..).next().map(|(k, _)| *k))
            .unwrap_or(StreamId::MIN)
    };
    let g_last = g.last_id;
    *s.group_mut(group).expect("exists") = g;
    ctx.srv.dirty += changes.len() as u64 + extra_dirty;
    if extra_dirty > 0 {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    let mut out = ctx.out();
    out.array_len(3);
    out.bulk(cursor.to_string().as_bytes());
    out.array_len(len);
    out.out.extend_from_slice(&body);
    out.array_len(deleted.len());
    for id in &deleted {
        out.bulk(id.to_string().as_bytes());
    }
    prevent_propagation(ctx);
    for (id, nack) in &changes {
        propagate_xclaim(ctx, key, group, id.to_string().as_bytes(), nack, g_last);
    }
    Ok(())
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
pub fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let opts = read_options(ctx, args, true)?;
    let (count, streams_arg, noack) = (opts.count, opts.streams_arg, opts.noack);
    let Some((gname, cname)) = opts.group else {
        return Err(CmdError::err("Missing GROUP option for XREADGROUP"));
    };
    let n = (args.len() - streams_arg) / 2;
    let keys = &args[streams_arg..streams_arg + n];
    let now = ctx.now;
    // None: `>` (new entries); Some(id): the consumer's history after id.
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(n);
    for (k, arg) in keys.iter().zip(&args[streams_arg + n..]) {
        let s = ctx.db().read::<Stream>(k, now)?;
        if s.is_none_or(|s| s.group(gname).is_none()) {
            return Err(quoted_error(&[
                b"NOGROUP No such key '",
                k,
                b"' or consumer group '",
                gname,
                b"' in XREADGROUP with GROUP option",
            ]));
        }
        ids.push(match c_str(arg) {
            b"$" => {
                return Err(CmdError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            b">" => None,
            // Redis marks `>` with the largest ID, so that ID given explicitly means `>` too.
            _ => Some(parse_strict_id(arg)?).filter(|id| *id != StreamId::MAX),
        });
    }
    let resp3 = ctx.client_ref().resp3;
    let mut body = Vec::new();
    let mut served = 0;
    prevent_propagation(ctx);
    for (k, id) in keys.iter().zip(&ids) {
        let s = ctx.db().write::<Stream>(k, now)?.expect("checked");
        let g = s.group(gname).expect("checked");
        let from = match id {
            Some(id) => Some(*id),
            None => {
                if s.is_empty() || s.edge_id(false, false).is_none_or(|max| max <= g.last_id) {
                    continue;
                }
                None
            }
        };
        served += 1;
        let mut w = ReplyWriter::new(&mut body, resp3);
        if !resp3 {
            w.array_len(2);
        }
        w.bulk(k);
        // The consumer: seen now, created if new (with NOACK, XREADGROUP propagates no
        // XCLAIM that would create it, so it is propagated by itself).
        let g = s.group_mut(gname).expect("checked");
        if g.see_consumer(cname, now.0) {
            ctx.srv.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-createconsumer", k);
            if noack {
                ctx.propagate(&[b"XGROUP", b"CREATECONSUMER", k, gname, cname]);
            }
        }
        let propagating = ctx.srv.persist.propagate;
        let s = ctx.db().write::<Stream>(k, now)?.expect("checked");
        match from {
            Some(after) => {
                // History: the consumer's own pending entries after `after`.
                let start = after.incr().unwrap_or(StreamId::MIN);
                let pel: Vec<StreamId> = s.group(gname).expect("checked").consumers[cname]
                    .pel
                    .range(start..)
                    .copied()
                    .take(if count == 0 {
                        usize::MAX
                    } else {
                        count as usize
                    })
                    .collect();
                let mut entries = Vec::new();
                let mut inner = ReplyWriter::new(&mut entries, resp3);
                for id in &pel {
                    if !write_entry_by_id(&mut inner, s, *id) {
                        inner.array_len(2);
                        inner.bulk(id.to_string().as_bytes());
                        inner.nil_array();
                    } else if let Some(nack) = s.group_mut(gname).expect("checked").pel.get_mut(id)
                    {
                        nack.delivery_time = now.0;
                        nack.delivery_count += 1;
                    }
                }
                w.array_len(pel.len());
                w.out.extend_from_slice(&entries);
            }
            None => {
                let last = s.group(gname).expect("checked").last_id;
                let start = last.incr().unwrap_or(StreamId::MIN);
                let mut entries = Vec::new();
                let mut inner = ReplyWriter::new(&mut entries, resp3);
                let mut delivered = Vec::new();
                let moved = s.deliver((gname, cname), start, count as usize, noack, now.0, |e| {
                    write_entry(&mut inner, e);
                    delivered.push(e.id);
                });
                w.array_len(delivered.len());
                w.out.extend_from_slice(&entries);
                let claims_wanted = !noack && propagating;
                let (claims, group_id) = delivered_effects(s, gname, &delivered, !claims_wanted);
                for (id, nack) in &claims {
                    propagate_xclaim(ctx, k, gname, id.to_string().as_bytes(), nack, *id);
                }
                if noack && moved {
                    propagate_group_id(ctx, k, gname, group_id);
                }
            }
        }
        ctx.srv.dirty += 1;
    }
    finish_read(ctx, keys, served, &body, opts.timeout, || Blocked {
        ids: Vec::new(),
        count: opts.blocked_count(),
        group: Some((gname.to_vec(), cname.to_vec(), noack)),
    });
    Ok(())
}

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

/// XINFO HELP
pub fn xinfo_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    super::connection::reply_help(ctx, XINFO_HELP);
    Ok(())
}

fn write_lag(w: &mut ReplyWriter<'_>, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(l) => w.int(l),
        None => w.nil(),
    }
}

fn write_entries_read(w: &mut ReplyWriter<'_>, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        w.int(g.entries_read);
    } else {
        w.nil();
    }
}

/// XINFO CONSUMERS key group
pub fn xinfo_consumers(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (s, mut out) = ctx.read::<Stream>(args[2])?;
    let s = s.ok_or(CmdError::NoSuchKey)?;
    let Some(g) = s.group(args[3]) else {
        return Err(quoted_error(&[
            b"NOGROUP No such consumer group '",
            args[3],
            b"' for key name '",
            args[2],
            b"'",
        ]));
    };
    out.array_len(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map_len(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now.0 as i64 - c.seen_time as i64).max(0));
    }
    Ok(())
}

/// XINFO GROUPS key
pub fn xinfo_groups(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (s, mut out) = ctx.read::<Stream>(args[2])?;
    let s = s.ok_or(CmdError::NoSuchKey)?;
    out.array_len(s.groups().len());
    for (name, g) in s.groups() {
        out.map_len(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        out.bulk(g.last_id.to_string().as_bytes());
        out.bulk(b"entries-read");
        write_entries_read(&mut out, g);
        out.bulk(b"lag");
        write_lag(&mut out, s, g);
    }
    Ok(())
}

/// XINFO STREAM key [FULL [COUNT count]]
pub fn xinfo_stream(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (s, mut out) = ctx.read::<Stream>(args[2])?;
    let s = s.ok_or(CmdError::NoSuchKey)?;
    let opts = &args[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !is(opts[0], "full") {
            return Err(subcommand_syntax_error(args));
        }
        full = true;
        if opts.len() == 3 {
            if !is(opts[1], "count") {
                return Err(subcommand_syntax_error(args));
            }
            count = parse_int(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let count = count as usize;
    out.map_len(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.nodes().len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    out.bulk(s.last_id().to_string().as_bytes());
    out.bulk(b"max-deleted-entry-id");
    out.bulk(s.max_deleted_id().to_string().as_bytes());
    out.bulk(b"entries-added");
    out.int(s.entries_added() as i64);
    out.bulk(b"recorded-first-entry-id");
    out.bulk(s.first_id().to_string().as_bytes());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups().len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            let mut found = false;
            s.walk(StreamId::MIN, StreamId::MAX, rev, false, |e| {
                write_entry(&mut out, e);
                found = true;
                false
            });
            if !found {
                out.nil();
            }
        }
        return Ok(());
    }
    out.bulk(b"entries");
    reply_range(&mut out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array_len(s.groups().len());
    let limit = if count == 0 { usize::MAX } else { count };
    for (name, g) in s.groups() {
        out.map_len(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        out.bulk(g.last_id.to_string().as_bytes());
        out.bulk(b"entries-read");
        write_entries_read(&mut out, g);
        out.bulk(b"lag");
        write_lag(&mut out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array_len(g.pel.len().min(limit));
        for (id, nack) in g.pel.iter().take(limit) {
            out.array_len(4);
            out.bulk(id.to_string().as_bytes());
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time as i64);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array_len(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map_len(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array_len(c.pel.len().min(limit));
            for id in c.pel.iter().take(limit) {
                let nack = &g.pel[id];
                out.array_len(3);
                out.bulk(id.to_string().as_bytes());
                out.int(nack.delivery_time as i64);
                out.int(nack.delivery_count as i64);
            }
        }
    }
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

    /// The groups as replay must rebuild them: consumers' seen-time is local, and a group's
    /// entries-read is not carried by XCLAIM ... LASTID (Redis's replicas and AOF reloads
    /// lose it the same way: XINFO's lag may then be null).
    fn groups_of(eng: &Engine, key: &[u8]) -> String {
        let v = eng.server().dbs[0].keys.get(key).expect("key");
        let crate::types::Value::Stream(s) = v else {
            panic!("not a stream")
        };
        let mut out = format!("len {} last {} ", s.len(), s.last_id());
        for (name, g) in s.groups() {
            out += &format!(
                "[{} {} pel {:?} consumers {:?}]",
                String::from_utf8_lossy(name),
                g.last_id,
                g.pel,
                g.consumers
                    .iter()
                    .map(|(n, c)| (n.clone(), c.pel.clone()))
                    .collect::<Vec<_>>()
            );
        }
        out
    }

    /// XREADGROUP, XCLAIM and XAUTOCLAIM are propagated as Redis does (XCLAIM ... FORCE JUSTID
    /// LASTID, XGROUP SETID for NOACK reads, XGROUP CREATECONSUMER), so the groups replay.
    #[test]
    fn group_propagation_replays() {
        let mut eng = Engine::new(Config::default(), 1);
        eng.set_propagation(true);
        let t = 1_000_000;
        for (i, c) in [
            &["XADD", "s", "1-1", "f", "v"][..],
            &["XADD", "s", "1-2", "f", "v"],
            &["XADD", "s", "1-3", "f", "v"],
            &["XADD", "s", "1-4", "f", "v"],
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XGROUP", "CREATE", "s", "h", "0"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
            &[
                "XREADGROUP",
                "GROUP",
                "h",
                "nobody",
                "NOACK",
                "COUNT",
                "3",
                "STREAMS",
                "s",
                ">",
            ],
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
            &["XACK", "s", "g", "1-1"],
            &["XCLAIM", "s", "g", "carol", "0", "1-2", "RETRYCOUNT", "5"],
            &["XDEL", "s", "1-4"],
            &["XAUTOCLAIM", "s", "g", "dave", "0", "0"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "erin"],
            &["XGROUP", "DELCONSUMER", "s", "g", "carol"],
            &["XSETID", "s", "9-9", "ENTRIESADDED", "12"],
        ]
        .into_iter()
        .enumerate()
        {
            let r = run(&mut eng, t + 10 * i as u64, c);
            assert!(!matches!(r, Reply::Error(_)), "{c:?}: {r:?}");
        }
        let mut aof = Vec::new();
        eng.take_propagated(&mut aof);
        let text = String::from_utf8_lossy(&aof).into_owned();
        assert!(
            !text.contains("XREADGROUP") && !text.contains("XAUTOCLAIM"),
            "{text}"
        );
        assert!(
            text.contains("FORCE\r\n$6\r\nJUSTID\r\n$6\r\nLASTID"),
            "{text}"
        );
        assert!(text.contains("ENTRIESREAD"), "{text}");
        let mut other = Engine::new(Config::default(), 2);
        other.replay_aof(UnixMillis(t + 1_000_000), &aof).unwrap();
        assert_eq!(groups_of(&eng, b"s"), groups_of(&other, b"s"));
        // dave (100, 97, 118, 101) got the claimed entries.
        assert!(groups_of(&eng, b"s").contains("[100, 97, 118, 101]"));
    }
}
