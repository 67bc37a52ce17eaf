//! The bitmap commands on strings (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD and BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of byte 0. Reads see an int-encoded value as its decimal
//! digits; writes turn the value into a "raw" string (`CompactBytes::raw_mut`), grown with
//! zero bytes as far as the highest bit written, as Redis's lookupStringForBitCommand does.

use super::{c_str, is, notify, parse_int, CmdError, Ctx};
use crate::cnum::parse_i64;
use crate::lazyfree::FreeReason;
use crate::types::{CompactBytes, Value};

const BIT_OFFSET_ERR: &str = "bit offset is not an integer or out of range";
const BIT_VALUE_ERR: &str = "bit is not an integer or out of range";
const BITFIELD_TYPE_ERR: &str =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Redis's `getBitOffsetFromArgument`: a bit offset, or with `hash_bits` (BITFIELD) also the
/// `#N` form, meaning N * bits. Negative, or a byte beyond proto-max-bulk-len, is refused.
fn bit_offset(ctx: &Ctx, arg: &[u8], hash_bits: u32) -> Result<u64, CmdError> {
    let err = || CmdError::err(BIT_OFFSET_ERR);
    let hash = hash_bits > 0 && arg.first() == Some(&b'#');
    let mut off = parse_i64(&arg[hash as usize..]).ok_or_else(err)?;
    if hash {
        // C's signed overflow wraps here; a wrapped (negative) offset is refused below.
        off = off.wrapping_mul(hash_bits as i64);
    }
    // mustObeyClient: what the AOF replays was accepted once, so the size bound is not
    // applied to it (as for streams, `loading` stands for the AOF client).
    let bounded = !ctx.srv.persist.loading;
    if off < 0 || (bounded && (off >> 3) as u64 >= ctx.srv.config.proto_max_bulk_len) {
        return Err(err());
    }
    Ok(off as u64)
}

/// The string at `key` for reading (int-encoded values formatted into `buf`), None if missing;
/// WRONGTYPE for other types. Counts a keyspace hit or miss (lookupKeyRead).
fn read_string<'a>(
    db: &'a mut crate::keyspace::Db,
    key: &[u8],
    now: crate::UnixMillis,
    buf: &'a mut itoa::Buffer,
) -> Result<Option<&'a [u8]>, CmdError> {
    match db.lookup_read(key, now) {
        None => Ok(None),
        Some(v) => v.string_bytes(buf).map(Some).ok_or(CmdError::WrongType),
    }
}

/// Redis's `lookupStringForBitCommand`: the string at `key`, created or grown (zero-padded) to
/// hold bit `max_bit`, made raw, writable in place; true in the second field when the key was
/// created or its length changed. WRONGTYPE for other types.
fn string_for_bits<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    max_bit: u64,
) -> Result<(&'a mut [u8], bool), CmdError> {
    let now = ctx.now;
    let len = (max_bit >> 3) as usize + 1;
    let (db, _) = ctx.db_out();
    if db.get(key, now).is_none() {
        db.insert_new(key, Value::Str(CompactBytes::raw(vec![0; len])));
        let Some(Value::Str(s)) = db.get_mut(key, now) else {
            unreachable!("just inserted")
        };
        return Ok((s.raw_mut(len).0, true));
    }
    let v = db.get_mut(key, now).expect("looked up above");
    if let Value::Int(n) = v {
        *v = Value::Str(CompactBytes::new(itoa::Buffer::new().format(*n).as_bytes()));
    }
    match v {
        Value::Str(s) => Ok(s.raw_mut(len)),
        _ => Err(CmdError::WrongType),
    }
}

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let key = args[1];
    let offset = bit_offset(ctx, args[2], 0)?;
    let on = parse_i64(args[3]).ok_or_else(|| CmdError::err(BIT_VALUE_ERR))?;
    if on & !1 != 0 {
        return Err(CmdError::err(BIT_VALUE_ERR));
    }
    let (s, dirty) = string_for_bits(ctx, key, offset)?;
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let old = s[byte] & mask != 0;
    let changed = dirty || old != (on == 1);
    if changed {
        s[byte] = (s[byte] & !mask) | if on == 1 { mask } else { 0 };
    }
    if changed {
        ctx.key_modified(key);
        ctx.notify(notify::STRING, "setbit", key);
    }
    ctx.db_out().1.int(old as i64);
    Ok(())
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let offset = bit_offset(ctx, args[2], 0)?;
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let mut buf = itoa::Buffer::new();
    let s = read_string(db, args[1], now, &mut buf)?.unwrap_or(b"");
    let byte = (offset >> 3) as usize;
    let bit = s
        .get(byte)
        .is_some_and(|b| b & (1 << (7 - (offset & 7))) != 0);
    out.int(bit as i64);
    Ok(())
}

/// Redis's `redisPopcount`: the set bits in `s`, eight bytes at a time.
pub fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        n += u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// BYTE or BIT after a range (any case; C's strcasecmp stops at a NUL); else a syntax error.
fn range_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// The negative-index conversion and clamping BITCOUNT and BITPOS share: the inclusive byte
/// range and, for BIT units, masks of the bits of the first and last byte outside the range.
fn clamp_bit_range(start: i64, end: i64, len: usize, isbit: bool) -> (i64, i64, u8, u8) {
    let totlen = if isbit { (len as i64) << 3 } else { len as i64 };
    let mut start = if start < 0 { totlen + start } else { start };
    let mut end = if end < 0 { totlen + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= totlen {
        end = totlen - 1;
    }
    let (mut first, mut last) = (0u8, 0u8);
    if isbit && start <= end {
        first = !((1u32 << (8 - (start & 7))) - 1) as u8;
        last = ((1u32 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    (start, end, first, last)
}

/// BITCOUNT key [start end [BYTE | BIT]]
pub fn bitcount(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let mut buf = itoa::Buffer::new();
    let Some(s) = read_string(db, args[1], now, &mut buf)? else {
        out.int(0);
        return Ok(());
    };
    let (start, end, first, last) = match args.len() {
        2 => (0, s.len() as i64 - 1, 0, 0),
        4 | 5 => {
            let start = parse_int(args[2])?;
            let end = parse_int(args[3])?;
            if start < 0 && end < 0 && start > end {
                out.int(0);
                return Ok(());
            }
            let isbit = match args.get(4) {
                Some(u) => range_unit(u)?,
                None => false,
            };
            clamp_bit_range(start, end, s.len(), isbit)
        }
        _ => return Err(CmdError::Syntax),
    };
    if start > end {
        out.int(0);
        return Ok(());
    }
    let (a, b) = (start as usize, end as usize);
    let mut n = popcount(&s[a..=b]);
    n -= (s[a] & first).count_ones() as u64 + (s[b] & last).count_ones() as u64;
    out.int(n as i64);
    Ok(())
}

/// Redis's `redisBitpos`: the position of the first `bit` in `s`; for 1 not found, -1; for 0
/// not found, the bit just past the end (the string counts as zero-padded on the right).
fn first_bit(s: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0u8 } else { 0xff };
    let mut words = s.chunks_exact(8);
    let mut pos = 0i64;
    let wskip = if bit { 0u64 } else { u64::MAX };
    for w in &mut words {
        if u64::from_ne_bytes(w.try_into().expect("8 bytes")) != wskip {
            break;
        }
        pos += 64;
    }
    for &b in &s[(pos >> 3) as usize..] {
        if b != skip {
            let lead = if bit {
                b.leading_zeros()
            } else {
                (!b).leading_zeros()
            };
            return pos + lead as i64;
        }
        pos += 8;
    }
    if bit {
        -1
    } else {
        pos
    }
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
pub fn bitpos(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let bit = parse_int(args[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::err("The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let now = ctx.now;
    let (db, mut out) = ctx.db_out();
    let mut buf = itoa::Buffer::new();
    let Some(p) = read_string(db, args[1], now, &mut buf)? else {
        // A missing key is an infinite string of zeros.
        out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut end_given = false;
    let (mut start, end, first, last) = match args.len() {
        3 => (0, p.len() as i64 - 1, 0, 0),
        4..=6 => {
            let start = parse_int(args[3])?;
            let isbit = match args.get(5) {
                Some(u) => range_unit(u)?,
                None => false,
            };
            let end = match args.get(4) {
                Some(e) => {
                    end_given = true;
                    parse_int(e)?
                }
                // Clamped to the last bit or byte below.
                None => i64::MAX,
            };
            clamp_bit_range(start, end, p.len(), isbit)
        }
        _ => return Err(CmdError::Syntax),
    };
    if start > end {
        out.int(-1);
        return Ok(());
    }
    let mut bytes = end - start + 1;
    let pos = 'found: {
        if first != 0 {
            let mut c = if bit {
                p[start as usize] & !first
            } else {
                p[start as usize] | first
            };
            if last != 0 && bytes == 1 {
                c = if bit { c & !last } else { c | last };
            }
            let pos = first_bit(&[c], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let cur = bytes - (last != 0) as i64;
        if cur > 0 {
            let a = start as usize;
            let pos = first_bit(&p[a..a + cur as usize], bit);
            if bytes == cur || (pos != -1 && pos != cur << 3) {
                break 'found pos;
            }
            start += cur;
            bytes -= cur;
        }
        let c = if bit {
            p[end as usize] & !last
        } else {
            p[end as usize] | last
        };
        first_bit(&[c], bit)
    };
    // Not found; or looking for a 0 in an explicit range that holds none (Redis 7.0).
    if pos == -1 || (end_given && !bit && pos == bytes << 3) {
        out.int(-1);
    } else {
        out.int(pos + (start << 3));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Applies `op` to `acc` word by word (Redis's fast path): `acc op= src` over `src`'s length
/// for AND/OR/XOR (`acc` at least as long), `acc = !acc` for NOT (`src` unused).
fn bitop_words(op: BitOp, acc: &mut [u8], src: &[u8]) {
    let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().expect("8 bytes"));
    if op == BitOp::Not {
        let mut a = acc.chunks_exact_mut(8);
        for x in &mut a {
            let v = !word(x);
            x.copy_from_slice(&v.to_ne_bytes());
        }
        for x in a.into_remainder() {
            *x = !*x;
        }
        return;
    }
    let acc = &mut acc[..src.len()];
    let mut a = acc.chunks_exact_mut(8);
    let mut b = src.chunks_exact(8);
    for (x, y) in (&mut a).zip(&mut b) {
        let (l, r) = (word(x), word(y));
        let v = match op {
            BitOp::And => l & r,
            BitOp::Or => l | r,
            _ => l ^ r,
        };
        x.copy_from_slice(&v.to_ne_bytes());
    }
    for (x, y) in a.into_remainder().iter_mut().zip(b.remainder()) {
        *x = match op {
            BitOp::And => *x & y,
            BitOp::Or => *x | y,
            _ => *x ^ y,
        };
    }
}

/// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
pub fn bitop(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let op = match args[1] {
        o if is(o, "and") => BitOp::And,
        o if is(o, "or") => BitOp::Or,
        o if is(o, "xor") => BitOp::Xor,
        o if is(o, "not") => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let now = ctx.now;
    let dest = args[2];
    let (db, _) = ctx.db_out();
    // Every source looked up first (hits, misses, expiry), WRONGTYPE before any change.
    for key in &args[3..] {
        read_string(db, key, now, &mut itoa::Buffer::new())?;
    }
    // Then read in place, without copying (a missing key is an empty string).
    let srcs: Vec<std::borrow::Cow<[u8]>> = args[3..]
        .iter()
        .map(|key| match db.keys.get(key) {
            Some(Value::Str(s)) => std::borrow::Cow::Borrowed(s.as_bytes()),
            Some(Value::Int(n)) => itoa::Buffer::new().format(*n).as_bytes().to_vec().into(),
            _ => std::borrow::Cow::Borrowed(&b""[..]),
        })
        .collect();
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    res[..srcs[0].len()].copy_from_slice(&srcs[0]);
    if op == BitOp::Not {
        bitop_words(op, &mut res, &[]);
    }
    for s in &srcs[1..] {
        let n = s.len();
        bitop_words(op, &mut res, s);
        // Bytes past a shorter source meet zeros.
        if op == BitOp::And {
            res[n..].fill(0);
        }
    }
    drop(srcs);
    let changed = if maxlen > 0 {
        db.set(dest, Value::Str(CompactBytes::raw(res)), false);
        true
    } else {
        db.delete(dest, FreeReason::ServerDel)
    };
    if changed {
        ctx.key_modified(dest);
        ctx.notify_store(notify::STRING, "set", dest);
    }
    ctx.db_out().1.int(maxlen as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Redis's `getBitfieldTypeFromArgument`: i1..i64 or u1..u63.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || CmdError::err(BITFIELD_TYPE_ERR);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    // The width is read as a C string (up to a NUL).
    let bits = parse_i64(c_str(&arg[1..])).ok_or_else(err)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Redis's `getUnsignedBitfield`: `bits` bits from bit `offset`, most significant first.
/// Bytes past the end of `p` read as zeros.
fn get_field(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        let o = offset + j;
        let byte = p.get((o >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (o & 7))) & 1) as u64;
    }
    v
}

/// Redis's `getSignedBitfield`: `get_field`, sign-extended.
fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_field(p, offset, bits) as i64;
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        v | (-1i64 << bits)
    } else {
        v
    }
}

/// Redis's `setUnsignedBitfield`: the low `bits` bits of `v` at bit `offset`.
fn set_field(p: &mut [u8], offset: u64, bits: u32, v: u64) {
    for j in 0..bits as u64 {
        let bit = (v >> (bits as u64 - 1 - j)) & 1;
        let o = offset + j;
        let byte = &mut p[(o >> 3) as usize];
        let shift = 7 - (o & 7);
        *byte = (*byte & !(1 << shift)) | ((bit as u8) << shift);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: whether `value + incr` leaves the `bits`-bit
/// unsigned range, and the value WRAP or SAT turns it into (None for FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = 0u64.wrapping_sub(value) as i64;
    let wrapped = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Sat { max } else { wrapped() })
    } else if incr < 0 && incr < minincr {
        (true, if ow == Overflow::Sat { 0 } else { wrapped() })
    } else {
        (false, 0)
    }
}

/// Redis's `checkSignedBitfieldOverflow`, likewise for the `bits`-bit signed range.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            c as i64
        } else if c & (1 << (bits - 1)) != 0 {
            (c | (u64::MAX << bits)) as i64
        } else {
            (c & !(u64::MAX << bits)) as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Sat { max } else { wrapped() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        (true, if ow == Overflow::Sat { min } else { wrapped() })
    } else {
        (false, 0)
    }
}

/// Parses BITFIELD's operations (every error before anything runs, as Redis does).
fn parse_fields(ctx: &Ctx, args: &[&[u8]]) -> Result<Vec<Field>, CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = args[j];
        let op = if is(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if is(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if is(sub, "incrby") && rem >= 3 {
            FieldOp::IncrBy
        } else if is(sub, "overflow") && rem >= 1 {
            let t = args[j + 1];
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args[j + 1])?;
        let offset = bit_offset(ctx, args[j + 2], bits)?;
        let value = if op == FieldOp::Get {
            0
        } else {
            parse_int(args[j + 3])?
        };
        fields.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(fields)
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP | SAT | FAIL] SET type offset value |
/// INCRBY type offset increment ...]
pub fn bitfield(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset ...]
pub fn bitfield_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx, args: &[&[u8]], read_only: bool) -> Result<(), CmdError> {
    let key = args[1];
    let fields = parse_fields(ctx, args)?;
    let writes = fields.iter().filter(|f| f.op != FieldOp::Get);
    let Some(max_bit) = writes.map(|f| f.offset + f.bits as u64 - 1).max() else {
        // Only GETs: a read, a missing key reading as zeros.
        let now = ctx.now;
        let (db, mut out) = ctx.db_out();
        let mut buf = itoa::Buffer::new();
        let p = read_string(db, key, now, &mut buf)?.unwrap_or(b"");
        out.array_len(fields.len());
        for f in &fields {
            if f.signed {
                out.int(get_signed(p, f.offset, f.bits));
            } else {
                out.int(get_field(p, f.offset, f.bits) as i64);
            }
        }
        return Ok(());
    };
    if read_only {
        return Err(CmdError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    // Replies are collected first: the string stays borrowed while the fields run.
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(fields.len());
    let mut changes = 0u64;
    let (p, dirty) = string_for_bits(ctx, key, max_bit)?;
    for f in &fields {
        let (off, bits) = (f.offset, f.bits);
        if f.op == FieldOp::Get {
            replies.push(Some(if f.signed {
                get_signed(p, off, bits)
            } else {
                get_field(p, off, bits) as i64
            }));
            continue;
        }
        let (old, new, reply, overflow) = if f.signed {
            let old = get_signed(p, off, bits);
            if f.op == FieldOp::IncrBy {
                let (o, w) = signed_overflow(old, f.value, bits, f.overflow);
                let new = if o { w } else { old.wrapping_add(f.value) };
                (old as u64, new as u64, new, o)
            } else {
                let (o, w) = signed_overflow(f.value, 0, bits, f.overflow);
                let new = if o { w } else { f.value };
                (old as u64, new as u64, old, o)
            }
        } else {
            let old = get_field(p, off, bits);
            if f.op == FieldOp::IncrBy {
                let (o, w) = unsigned_overflow(old, f.value, bits, f.overflow);
                let new = if o {
                    w
                } else {
                    old.wrapping_add(f.value as u64)
                };
                (old, new, new as i64, o)
            } else {
                let (o, w) = unsigned_overflow(f.value as u64, 0, bits, f.overflow);
                let new = if o { w } else { f.value as u64 };
                (old, new, old as i64, o)
            }
        };
        if overflow && f.overflow == Overflow::Fail {
            replies.push(None);
            continue;
        }
        replies.push(Some(reply));
        set_field(p, off, bits, new);
        if dirty || old != new {
            changes += 1;
        }
    }
    let mut out = ctx.db_out().1;
    out.array_len(replies.len());
    for r in replies {
        match r {
            Some(n) => out.int(n),
            None => out.nil(),
        }
    }
    if changes > 0 {
        ctx.srv.dirty += changes - 1;
        ctx.key_modified(key);
        ctx.notify(notify::STRING, "setbit", key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcount_and_first_bit() {
        let s: Vec<u8> = (0..100u8).collect();
        let slow: u64 = s.iter().map(|b| b.count_ones() as u64).sum();
        assert_eq!(popcount(&s), slow);
        assert_eq!(first_bit(&[0; 20], true), -1);
        assert_eq!(first_bit(&[0xff; 20], false), 160);
        let mut z = vec![0u8; 20];
        z[17] = 0x10;
        assert_eq!(first_bit(&z, true), 17 * 8 + 3);
        assert_eq!(first_bit(&[0xff, 0xfe], false), 15);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), (true, -128));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), (true, 127));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), (true, -128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (true, i64::MIN)
        );
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), (true, 0));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), (true, 0));
        assert_eq!(
            unsigned_overflow(u64::MAX, 0, 8, Overflow::Sat),
            (true, 255)
        );
        assert_eq!(unsigned_overflow(3, 4, 8, Overflow::Sat), (false, 0));
    }

    const NOW: crate::UnixMillis = crate::UnixMillis(1_700_000_000_000);

    fn run(eng: &mut crate::Engine, id: crate::ClientHandle, args: &[&str]) -> String {
        eng.feed(NOW, id, &crate::resp::encode_request(args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Redis's server.dirty and propagation: a write counts only when it changed something
    /// (BITFIELD counts each field that did), and only counted writes reach the AOF.
    #[test]
    fn dirty_count_and_propagation_follow_redis() {
        let mut eng = crate::Engine::new(crate::Config::default(), 1);
        eng.set_propagation(true);
        let id = eng.connect(NOW, Default::default());
        let step = |eng: &mut crate::Engine, args: &[&str], reply: &str, dirty: u64| {
            let before = eng.dirty();
            assert_eq!(run(eng, id, args), reply, "{args:?}");
            assert_eq!(eng.dirty() - before, dirty, "{args:?}");
        };
        step(&mut eng, &["SETBIT", "k", "3", "1"], ":0\r\n", 1);
        step(&mut eng, &["SETBIT", "k", "3", "1"], ":1\r\n", 0);
        step(&mut eng, &["SETBIT", "k", "4", "0"], ":0\r\n", 0);
        // Growing the string counts even when the bit written is a 0.
        step(&mut eng, &["SETBIT", "k", "20", "0"], ":0\r\n", 1);
        step(
            &mut eng,
            &[
                "BITFIELD", "k", "SET", "u8", "0", "16", "SET", "u4", "8", "3", "GET", "u8", "0",
            ],
            "*3\r\n:16\r\n:0\r\n:16\r\n",
            1,
        );
        step(
            &mut eng,
            &[
                "BITFIELD", "k", "INCRBY", "u8", "0", "1", "INCRBY", "u8", "8", "1",
            ],
            "*2\r\n:17\r\n:49\r\n",
            2,
        );
        // A new key whose only write fails: created, yet not a change (as in Redis).
        step(
            &mut eng,
            &[
                "BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "256",
            ],
            "*1\r\n$-1\r\n",
            0,
        );
        step(&mut eng, &["STRLEN", "f"], ":1\r\n", 0);
        step(&mut eng, &["BITOP", "NOT", "d", "k"], ":3\r\n", 1);
        step(&mut eng, &["BITOP", "AND", "d", "none"], ":0\r\n", 1);
        step(&mut eng, &["BITOP", "AND", "d", "none"], ":0\r\n", 0);
        let mut aof = Vec::new();
        eng.take_propagated(&mut aof);
        let aof = String::from_utf8_lossy(&aof).replace("\r\n", " ");
        let cmds: Vec<&str> = aof
            .split('*')
            .filter(|c| !c.is_empty())
            .map(|c| c.split(' ').nth(2).unwrap_or(""))
            .collect();
        assert_eq!(
            cmds,
            ["SELECT", "SETBIT", "SETBIT", "BITFIELD", "BITFIELD", "BITOP", "BITOP"],
            "{aof}"
        );
        // Bit commands leave raw strings behind, short or not.
        let enc =
            |eng: &crate::Engine, k: &[u8]| eng.server().dbs[0].keys.get(k).map(|v| v.encoding());
        assert_eq!(enc(&eng, b"k"), Some("raw"));
        assert_eq!(enc(&eng, b"f"), Some("raw"));
    }

    /// The size bound is the client's: an AOF replays past it (Redis's mustObeyClient).
    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn offset_bound_follows_proto_max_bulk_len_but_not_for_the_aof() {
        let mut cfg = crate::Config::default();
        cfg.proto_max_bulk_len = 20;
        let mut eng = crate::Engine::new(cfg, 1);
        let id = eng.connect(NOW, Default::default());
        let err = "-ERR bit offset is not an integer or out of range\r\n";
        assert_eq!(run(&mut eng, id, &["SETBIT", "k", "160", "1"]), err);
        assert_eq!(
            run(&mut eng, id, &["BITFIELD", "k", "GET", "u8", "#20"]),
            err
        );
        assert_eq!(run(&mut eng, id, &["SETBIT", "k", "159", "1"]), ":0\r\n");
        let aof = crate::resp::encode_request(&["SETBIT", "a", "200", "1"]);
        eng.replay_aof(NOW, &aof).unwrap();
        assert_eq!(run(&mut eng, id, &["STRLEN", "a"]), ":26\r\n");
        assert_eq!(run(&mut eng, id, &["SETBIT", "a", "200", "0"]), err);
    }

    #[test]
    fn fields_round_trip() {
        let mut p = vec![0u8; 10];
        set_field(&mut p, 3, 13, 0x1abc);
        assert_eq!(get_field(&p, 3, 13), 0x1abc);
        assert_eq!(get_signed(&p, 3, 13), 0x1abc - (1 << 13));
        set_field(&mut p, 5, 64, u64::MAX - 5);
        assert_eq!(get_signed(&p, 5, 64), -6);
    }
}
