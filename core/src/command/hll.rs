//! The HyperLogLog command group (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG and
//! PFSELFTEST on string values holding `types::hll`'s representation, Redis 7.0's byte for
//! byte.
//!
//! A value is taken out of the keyspace as a `Vec<u8>`, changed and put back (a dense HLL's
//! boxed bytes move without a copy). As in Redis, a change made before a corrupted opcode is
//! found stays (PFADD with several elements), and PFCOUNT of one key writes the cardinality it
//! computed into the value's header.

use super::{c_str, notify, CmdError, Ctx};
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

/// Puts an HLL's bytes (back) at `key`, keeping its TTL; raw-encoded, as Redis's
/// createHLLObject and dbUnshareStringValue leave them whatever their length.
fn store(db: &mut Db, key: &[u8], now: UnixMillis, s: Vec<u8>) {
    match db.get_mut(key, now) {
        Some(v) => *v = Value::Str(CompactBytes::raw(s)),
        None => db.insert_new(key, Value::Str(CompactBytes::raw(s))),
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
        ctx.notify(notify::STRING, "pfadd", key);
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
    let db = ctx.db();
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
    ctx.key_modified(dest);
    // Redis raises pfadd for a merge ("a mass-add of elements"), before its reply.
    ctx.notify(notify::STRING, "pfadd", dest);
    ctx.out().ok();
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

#[cfg(test)]
mod tests {
    use crate::resp::Reply;
    use crate::testing::Session;
    use proptest::prelude::*;

    /// A valid HLL made by PFADD of `n` elements (made dense when asked), read back with GET.
    fn valid_hll(s: &mut Session, n: usize, dense: bool) -> Vec<u8> {
        s.cmd(&["DEL", "src"]);
        let mut args = vec!["PFADD".to_string(), "src".to_string()];
        args.extend((0..n).map(|i| format!("e{i}")));
        s.cmd(&args);
        if dense {
            s.cmd(&["PFDEBUG", "TODENSE", "src"]);
        }
        match s.cmd(&["GET", "src"]) {
            Reply::Bulk(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Truncate(usize),
        Insert(usize, Vec<u8>),
        Remove(usize, usize),
        Append(Vec<u8>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
            1 => any::<usize>().prop_map(Mutation::Truncate),
            1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..6))
                .prop_map(|(i, b)| Mutation::Insert(i, b)),
            1 => (any::<usize>(), 1usize..6).prop_map(|(i, n)| Mutation::Remove(i, n)),
            1 => proptest::collection::vec(any::<u8>(), 1..6).prop_map(Mutation::Append),
        ]
    }

    /// Applies a mutation past the magic and encoding bytes (which only decide WRONGTYPE) most
    /// of the time, anywhere otherwise.
    fn apply(v: &mut Vec<u8>, m: &Mutation) {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match m {
            Mutation::Flip(i, b) => {
                if !v.is_empty() {
                    let i = at(*i, v.len());
                    v[i] ^= b | 1;
                }
            }
            Mutation::Truncate(i) => v.truncate(at(*i, v.len() + 1)),
            Mutation::Insert(i, b) => {
                let i = at(*i, v.len() + 1);
                v.splice(i..i, b.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let i = at(*i, v.len() + 1);
                let j = (i + n).min(v.len());
                v.drain(i..j);
            }
            Mutation::Append(b) => v.extend_from_slice(b),
        }
    }

    /// What a command on a corrupted HLL may answer: a reply, or one of Redis's HLL errors.
    fn check(reply: Reply) {
        if let Reply::Error(e) = reply {
            let e = String::from_utf8_lossy(&e).into_owned();
            assert!(
                e == "WRONGTYPE Key is not a valid HyperLogLog string value."
                    || e == "INVALIDOBJ Corrupted HLL object detected"
                    || e == "ERR HLL encoding is not sparse",
                "unexpected error {e}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// Corrupted sparse and dense HLLs (mutations of valid ones, with the magic and
        /// encoding kept most of the time so the register readers are reached) never crash the
        /// engine and only get Redis's HLL errors, from every command that reads them.
        #[test]
        fn corrupted_hlls_never_crash(
            n in 0usize..400,
            dense in proptest::bool::weighted(0.2),
            keep_header in proptest::bool::weighted(0.9),
            muts in proptest::collection::vec(mutation(), 1..6),
            elements in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..20),
        ) {
            let mut s = Session::new(7);
            let mut v = valid_hll(&mut s, n, dense);
            for m in &muts {
                apply(&mut v, m);
            }
            if keep_header && v.len() >= 5 {
                v[..4].copy_from_slice(b"HYLL");
                v[4] = if dense { 0 } else { 1 };
            }
            s.cmd(&[b"SET".as_slice(), b"k", &v]);
            s.cmd(&["PFADD", "other", "x", "y", "z"]);
            check(s.cmd(&["PFCOUNT", "k"]));
            check(s.cmd(&["PFCOUNT", "k", "other"]));
            check(s.cmd(&["PFMERGE", "d", "other", "k"]));
            check(s.cmd(&["PFMERGE", "k", "other"]));
            check(s.cmd(&["PFDEBUG", "ENCODING", "k"]));
            check(s.cmd(&["PFDEBUG", "DECODE", "k"]));
            let mut add: Vec<&[u8]> = vec![b"PFADD", b"k"];
            add.extend(elements.iter().map(Vec::as_slice));
            check(s.cmd(&add));
            check(s.cmd(&["PFCOUNT", "k"]));
            check(s.cmd(&["PFDEBUG", "TODENSE", "k"]));
            check(s.cmd(&["PFDEBUG", "GETREG", "k"]));
            check(s.cmd(&["PFCOUNT", "k"]));
            check(s.cmd(&["PFCOUNT", "d", "k"]));
        }
    }

    /// What reaches the AOF: PFADD and PFMERGE as sent, PFCOUNT only when it wrote the cache,
    /// PFDEBUG TODENSE when it converted; replayed elsewhere, the bytes are the same.
    #[test]
    fn changes_are_propagated_and_replay_to_the_same_bytes() {
        let mut s = Session::new(3);
        s.eng.set_propagation(true);
        s.cmd(&["PFADD", "h", "a", "b", "c"]);
        s.cmd(&["PFADD", "h", "a"]);
        s.cmd(&["PFCOUNT", "h"]);
        s.cmd(&["PFCOUNT", "h"]);
        s.cmd(&["PFCOUNT", "h", "nosuch"]);
        s.cmd(&["PFMERGE", "m", "h"]);
        s.cmd(&["PFDEBUG", "TODENSE", "m"]);
        s.cmd(&["PFDEBUG", "TODENSE", "m"]);
        let mut aof = Vec::new();
        s.eng.take_propagated(&mut aof);
        let text = String::from_utf8_lossy(&aof).into_owned();
        assert_eq!(text.matches("PFADD").count(), 1, "{text}");
        assert_eq!(text.matches("PFCOUNT").count(), 1, "{text}");
        assert_eq!(text.matches("PFMERGE").count(), 1, "{text}");
        assert_eq!(text.matches("TODENSE").count(), 1, "{text}");
        let mut other = Session::new(4);
        other.eng.replay_aof(crate::testing::NOW, &aof).unwrap();
        for k in ["h", "m"] {
            assert_eq!(other.cmd(&["GET", k]), s.cmd(&["GET", k]), "{k}");
        }
    }

    #[test]
    fn a_register_above_32_promotes_a_sparse_hll() {
        use crate::types::hll;
        let mut v = hll::new_sparse();
        assert_eq!(hll::set_register(&mut v, 5, 32, 3000), Ok(true));
        assert_eq!(v[4], hll::SPARSE);
        assert_eq!(hll::set_register(&mut v, 7, 33, 3000), Ok(true));
        assert_eq!(v[4], hll::DENSE);
        assert_eq!(v.len(), hll::DENSE_SIZE);
        assert_eq!(hll::dense_get(&v[hll::HDR..], 5), 32);
        assert_eq!(hll::dense_get(&v[hll::HDR..], 7), 33);
        assert_eq!(hll::count(&v), Ok(2));
    }
}
