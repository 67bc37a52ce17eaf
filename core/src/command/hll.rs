//! The HyperLogLog command group (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG and
//! PFSELFTEST on string values holding `types::hll`'s representation, Redis 7.0's byte for
//! byte.
//!
//! A value is taken out of the keyspace as a `Vec<u8>`, changed and put back (a dense HLL's
//! boxed bytes move without a copy). As in Redis, a change made before a corrupted opcode is
//! found stays (PFADD with several elements), and PFCOUNT of one key writes the cardinality it
//! computed into the value's header.

use super::{c_str, CmdError, Ctx};
use crate::keyspace::Db;
use crate::time::UnixMillis;
use crate::types::hll::{self, Corrupt};
use crate::types::{CompactBytes, Value};

fn not_hll() -> CmdError {
    CmdError::Msg(b"WRONGTYPE Key is not a valid HyperLogLog string value.".to_vec())
}

fn invalid() -> CmdError {
    CmdError::Msg(b"INVALIDOBJ Corrupted HLL object detected".to_vec())
}

impl From<Corrupt> for CmdError {
    fn from(_: Corrupt) -> CmdError {
        invalid()
    }
}

/// Redis's `isHLLObjectOrReply`: the bytes of a value that looks like an HLL. Another type is
/// the usual WRONGTYPE; an int-encoded or malformed string is the HLL one.
fn hll_bytes(v: &Value) -> Result<&[u8], CmdError> {
    match v {
        Value::Str(s) if hll::is_hll(s) => Ok(s.as_bytes()),
        Value::Int(_) | Value::Str(_) => Err(not_hll()),
        _ => Err(CmdError::WrongType),
    }
}

/// The HLL at `key` taken out of its value for changing (put it back with `store`), after
/// the HLL check; None if the key is missing.
fn take_hll(db: &mut Db, key: &[u8], now: UnixMillis) -> Result<Option<Vec<u8>>, CmdError> {
    let Some(v) = db.get_mut(key, now) else {
        return Ok(None);
    };
    hll_bytes(v)?;
    let Value::Str(s) = v else { unreachable!() };
    Ok(Some(
        std::mem::replace(s, CompactBytes::new(b"")).into_vec(),
    ))
}

/// Puts an HLL's bytes (back) at `key`, keeping its TTL.
fn store(db: &mut Db, key: &[u8], now: UnixMillis, s: Vec<u8>) {
    match db.get_mut(key, now) {
        Some(v) => *v = Value::Str(CompactBytes::from_vec(s)),
        None => db.insert_new(key, Value::Str(CompactBytes::from_vec(s))),
    }
}

fn sparse_max_bytes(ctx: &Ctx) -> u64 {
    ctx.srv.config.hll_sparse_max_bytes.max(0) as u64
}

/// PFADD key [element [element ...]]
///
/// 1 if the key was created or a register changed, else 0.
pub fn pfadd(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let key = args[1];
    let max_bytes = sparse_max_bytes(ctx);
    let (db, _) = ctx.db_out();
    let (mut s, mut updated) = match take_hll(db, key, now)? {
        Some(s) => (s, 0u64),
        None => (hll::new_sparse(), 1),
    };
    let mut result: Result<(), CmdError> = Ok(());
    for ele in &args[2..] {
        match hll::add(&mut s, ele, max_bytes) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
    }
    if result.is_ok() && updated > 0 {
        hll::invalidate_cache(&mut s);
    }
    store(db, key, now, s);
    result?;
    if updated > 0 {
        // Redis counts every changed register as a change (dirty += updated).
        ctx.srv.dirty += updated - 1;
        ctx.key_modified(key);
    }
    ctx.db_out().1.int((updated > 0) as i64);
    Ok(())
}

/// PFCOUNT key [key ...]
///
/// One key: the cached cardinality, or the estimate, which is then cached in the value (a
/// change propagated as the PFCOUNT itself, as Redis does). Several keys: the estimate of
/// their union, computed on the fly.
pub fn pfcount(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    if args.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        let max: &mut [u8; hll::REGISTERS] = max.as_mut_slice().try_into().unwrap();
        let (db, mut out) = ctx.db_out();
        for key in &args[1..] {
            let Some(v) = db.lookup_read(key, now) else {
                continue;
            };
            hll::merge(max, hll_bytes(v)?)?;
        }
        out.int(hll::count_raw(max) as i64);
        return Ok(());
    }
    let key = args[1];
    let (db, mut out) = ctx.db_out();
    let Some(v) = db.lookup_read(key, now) else {
        out.int(0);
        return Ok(());
    };
    let s = hll_bytes(v)?;
    if let Some(card) = hll::cached(s) {
        out.int(card as i64);
        return Ok(());
    }
    let card = hll::count(s)?;
    let mut s = take_hll(db, key, now)?.expect("the key was just read");
    hll::set_cache(&mut s, card);
    store(db, key, now, s);
    out.int(card as i64);
    ctx.key_modified(key);
    ctx.propagate(args);
    Ok(())
}

/// PFMERGE destkey [sourcekey [sourcekey ...]]
///
/// The destination (itself one of the sources) gets the registers' maxima; it is made dense
/// first if any source is dense, else the registers are raised one by one in its sparse form
/// (which may promote it), as Redis does, so the bytes match.
pub fn pfmerge(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let max_bytes = sparse_max_bytes(ctx);
    let mut max = vec![0u8; hll::REGISTERS];
    let maxa: &mut [u8; hll::REGISTERS] = max.as_mut_slice().try_into().unwrap();
    let mut use_dense = false;
    let (db, mut out) = ctx.db_out();
    for key in &args[1..] {
        let Some(v) = db.lookup_read(key, now) else {
            continue;
        };
        let s = hll_bytes(v)?;
        use_dense |= s[4] == hll::DENSE;
        hll::merge(maxa, s)?;
    }
    let dest = args[1];
    let mut s = take_hll(db, dest, now)?.unwrap_or_else(hll::new_sparse);
    if use_dense {
        match hll::to_dense(&s) {
            Ok(Some(d)) => s = d,
            Ok(None) => {}
            Err(e) => {
                store(db, dest, now, s);
                return Err(e.into());
            }
        }
    }
    for (j, &m) in max.iter().enumerate() {
        if m != 0 {
            // Redis ignores a failure here: the destination was checked as a source.
            let _ = hll::set_register(&mut s, j, m, max_bytes);
        }
    }
    hll::invalidate_cache(&mut s);
    store(db, dest, now, s);
    out.ok();
    ctx.key_modified(dest);
    Ok(())
}

/// PFDEBUG subcommand key
///
/// GETREG (the 16384 registers; makes the HLL dense), DECODE (a sparse HLL's opcodes),
/// ENCODING, TODENSE. The key and its value are checked before the subcommand's name.
pub fn pfdebug(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let sub = args[1];
    let key = args[2];
    let (db, mut out) = ctx.db_out();
    let Some(v) = db.get(key, now) else {
        return Err(CmdError::err("The specified key does not exist"));
    };
    let s = hll_bytes(v)?;
    let sparse = s[4] == hll::SPARSE;
    if super::is(sub, "getreg") || super::is(sub, "todense") {
        let mut converted = false;
        if sparse {
            let dense = hll::to_dense(s)?.expect("a sparse HLL");
            store(db, key, now, dense);
            converted = true;
        }
        let (db, mut out) = ctx.db_out();
        if super::is(sub, "getreg") {
            let s = hll_bytes(db.get(key, now).expect("present"))?;
            out.array_len(hll::REGISTERS);
            for i in 0..hll::REGISTERS {
                out.int(hll::dense_get(&s[hll::HDR..], i) as i64);
            }
        } else {
            out.int(converted as i64);
        }
        if converted {
            // Redis forces propagation of the encoding change.
            ctx.srv.dirty += 1;
        }
    } else if super::is(sub, "decode") {
        if !sparse {
            return Err(CmdError::err("HLL encoding is not sparse"));
        }
        out.bulk(hll::decode(s).as_bytes());
    } else if super::is(sub, "encoding") {
        out.simple(if sparse { "sparse" } else { "dense" });
    } else {
        let mut msg = b"Unknown PFDEBUG subcommand '".to_vec();
        msg.extend_from_slice(c_str(sub));
        msg.push(b'\'');
        return Err(CmdError::err(msg));
    }
    Ok(())
}

/// PFSELFTEST
///
/// Redis's self-test: dense registers keep their values without touching their neighbours,
/// and sparse and dense HLLs fed the same elements agree, with the estimate within 6 standard
/// errors at each power of ten. Deviation: 10 register rounds (Redis: 1000) and elements up
/// to 100,000 (Redis: 10,000,000), so the engine is not held for seconds.
pub fn pfselftest(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let max_bytes = sparse_max_bytes(ctx);
    let rng = &mut ctx.srv.rng;
    let failed = |m: String| Err(CmdError::err(format!("TESTFAILED {m}")));
    let mut regs = vec![0u8; hll::DENSE_SIZE - hll::HDR];
    let mut bytes = vec![0u8; hll::REGISTERS];
    for _ in 0..10 {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = (rng.next_u64() & 63) as u8;
            *b = r;
            hll::dense_set(&mut regs, i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = hll::dense_get(&regs, i);
            if v != b {
                return failed(format!("Register {i} should be {b} but is {v}"));
            }
        }
    }
    let mut dense = hll::to_dense(&hll::new_sparse())
        .expect("a new HLL")
        .expect("sparse");
    let mut sparse = hll::new_sparse();
    let relerr = 1.04 / (hll::REGISTERS as f64).sqrt();
    let seed = rng.next_u64();
    let mut checkpoint = 1u64;
    for j in 1..=100_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let _ = hll::add(&mut dense, &ele, max_bytes);
        let _ = hll::add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < max_bytes / 2 && sparse[4] != hll::SPARSE {
            return failed("sparse encoding not used".into());
        }
        let card = hll::count(&dense).unwrap_or(0);
        if hll::count(&sparse).ok() != Some(card) {
            return failed("dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return failed(format!("Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    ctx.out().ok();
    Ok(())
}
