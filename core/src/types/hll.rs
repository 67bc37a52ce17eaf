//! HyperLogLog on strings, in Redis 7.0's exact representation (hyperloglog.c), so the bytes a
//! key holds, and the counts, are redis-server's.
//!
//! The string is a 16-byte header followed by the registers:
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached cardinality (8 bytes, little
//! endian; its top bit set = the cache is invalid)
//! ```
//!
//! Dense: 16384 registers of 6 bits, packed from each byte's least significant bit (12288
//! bytes). Sparse: run-length opcodes, `00xxxxxx` ZERO (1-64 zero registers), `01xxxxxx
//! xxxxxxxx` XZERO (1-16384 zero registers), `1vvvvvxx` VAL (1-4 registers of value 1-32).
//! A sparse HLL becomes dense when a register needs a value above 32 or when it would grow
//! past `hll-sparse-max-bytes`.
//!
//! Every reader here treats the string as untrusted: a value can come from SET, RESTORE or an
//! RDB file. Where Redis's C reads one byte past the end (the SDS terminator, always 0 there),
//! the readers here read a 0.

/// Header bytes.
pub const HDR: usize = 16;
/// Redis's HLL_P: 2^14 registers.
pub const P: u32 = 14;
/// 64 - P: the hash bits whose trailing zeros are counted.
const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register.
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// A dense HLL's exact length.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The hash seed Redis uses.
const SEED: u64 = 0xadc8_3b19;

/// The stored form is corrupted (Redis's `-INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash2, 64-bit version (MurmurHash64A), endian-neutral as Redis modified it.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    // C: `seed ^ (len * m)` with an int len promoted to uint64_t.
    let mut h = seed ^ (key.len() as i32 as i64 as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Redis's `hllPatLen`: the register an element falls in and the length of its hash's
/// `000..1` pattern (1 to Q + 1).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Redis's `isHLLObjectOrReply` on a string's bytes: the magic, a known encoding, and a dense
/// HLL's exact length. Nothing else is checked until the registers are read.
pub fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// A new, empty HLL: sparse, one XZERO opcode covering every register, cache valid at 0.
pub fn new_sparse() -> Vec<u8> {
    let mut s = vec![0u8; HDR];
    s[..4].copy_from_slice(b"HYLL");
    s[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        s.extend_from_slice(&xzero(n));
        left -= n;
    }
    s
}

/// The cached cardinality, if the cache is valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(s[8..16].try_into().unwrap());
    (card >> 63 == 0).then_some(card)
}

pub fn set_cache(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

// ---- dense registers ----

/// Register `i` of a dense register array (a byte past the end reads as 0, the SDS terminator).
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

#[inline]
pub fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = val as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Every register of a dense array, in order: 4 registers from each 3 bytes (what Redis's
/// unrolled `hllDenseRegHisto` does), for the loops that read them all.
fn dense_each(regs: &[u8], mut f: impl FnMut(usize, u8)) {
    for (j, c) in regs[..REGISTERS * BITS / 8].chunks_exact(3).enumerate() {
        let (b0, b1, b2) = (c[0], c[1], c[2]);
        let i = j * 4;
        f(i, b0 & 63);
        f(i + 1, (b0 >> 6 | b1 << 2) & 63);
        f(i + 2, (b1 >> 4 | b2 << 4) & 63);
        f(i + 3, b2 >> 2);
    }
}

/// Redis's `hllDenseSet`: raises register `i` to `count`; true if it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

// ---- sparse opcodes ----

#[derive(Clone, Copy)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

/// The opcode at `p` (`p < s.len()`) and its length in bytes.
#[inline]
fn op_at(s: &[u8], p: usize) -> (Op, usize) {
    let b = s[p];
    if b & 0xc0 == 0 {
        (Op::Zero((b & 0x3f) as usize + 1), 1)
    } else if b & 0x80 != 0 {
        (Op::Val(((b >> 2) & 0x1f) + 1, (b & 0x3) as usize + 1), 1)
    } else {
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        (Op::XZero(((((b & 0x3f) as usize) << 8) | lo) + 1), 2)
    }
}

fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2 | (len as u8 - 1)) | 0x80
}

fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [(l >> 8) as u8 | 0x40, (l & 0xff) as u8]
}

/// Redis's `hllSparseToDense`: the dense form of a sparse HLL (header kept, cache included);
/// `Corrupt` unless its opcodes cover exactly 16384 registers (`walk`). None for a dense HLL.
pub fn to_dense(s: &[u8]) -> Result<Option<Vec<u8>>, Corrupt> {
    if s[4] == DENSE {
        return Ok(None);
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    walk(s, |first, val, run| {
        for r in first..first + run {
            dense_set(regs, r, val);
        }
    })?;
    Ok(Some(dense))
}

/// Reads a sparse HLL's opcodes in order, calling `f(first register, value, run)` for each
/// VAL. `Corrupt` unless they cover exactly 16384 registers: an opcode that would pass the last
/// register stops the walk (the check Redis added for CVE-2025-32023, which Debian's 7.0.15
/// carries, in hllSparseToDense, hllMerge and hllSparseRegHisto alike).
fn walk(s: &[u8], mut f: impl FnMut(usize, u8, usize)) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let (op, n) = op_at(s, p);
        let run = match op {
            Op::Zero(r) | Op::XZero(r) | Op::Val(_, r) => r,
        };
        if run + idx > REGISTERS {
            return Err(Corrupt);
        }
        if let Op::Val(v, _) = op {
            f(idx, v, run);
        }
        idx += run;
        p += n;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Redis's `hllSparseSet` on a sparse HLL: raises register `index` to `count`, splitting and
/// re-merging opcodes exactly as Redis does so the bytes match, or promotes `s` to dense when
/// the value does not fit a VAL opcode or the string would grow past `max_bytes`. True if a
/// register changed; the cache is invalidated then.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: the opcode covering `index`.
    let end = s.len();
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found = None;
    while p < end {
        let (op, n) = op_at(s, p);
        let span = match op {
            Op::Zero(r) | Op::XZero(r) | Op::Val(_, r) => r,
        };
        if index < first + span {
            found = Some((op, n, span));
            break;
        }
        prev = Some(p);
        p += n;
        first += span;
    }
    let Some((op, oldlen, span)) = found else {
        return Err(Corrupt);
    };
    // Step 2: the trivial cases in place, else the split sequence.
    let updated_in_place = match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            s[p] = val_op(count, 1);
            true
        }
        _ => false,
    };
    if !updated_in_place {
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                let zeros = |seq: &mut Vec<u8>, len: usize| {
                    if len > SPARSE_ZERO_MAX_LEN {
                        seq.extend_from_slice(&xzero(len));
                    } else {
                        seq.push(zero_op(len));
                    }
                };
                if index != first {
                    zeros(&mut seq, index - first);
                }
                seq.push(val_op(count, 1));
                if index != last {
                    zeros(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_op(cur, index - first));
                }
                seq.push(val_op(count, 1));
                if index != last {
                    seq.push(val_op(cur, last - index));
                }
            }
        }
        // Step 3: substitute the sequence for the opcode. An XZERO cut by the end of the
        // string (its second byte was the terminator) leaves the result one byte shorter, as
        // Redis's length arithmetic does.
        let delta = seq.len() as i64 - oldlen as i64;
        if delta > 0 && s.len() as u64 + delta as u64 > max_bytes {
            return promote(s, index, count);
        }
        let new_len = (s.len() as i64 + delta) as usize;
        let tail_from = (p + oldlen).min(s.len());
        s.splice(p..tail_from, seq);
        s.truncate(new_len);
    }
    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from the
    // one before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        } else if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && s[p + 1] & 0x80 != 0 {
            let (Op::Val(v1, l1), _) = op_at(s, p) else {
                unreachable!()
            };
            let (Op::Val(v2, l2), _) = op_at(s, p + 1) else {
                unreachable!()
            };
            if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                s[p + 1] = val_op(v1, l1 + l2);
                s.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

/// The promotion step of `hllSparseSet`: to dense, then the register set there.
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if let Some(dense) = to_dense(s)? {
        *s = dense;
    }
    // Redis asserts this is 1; a value that got here through a corrupted sparse form is not
    // worth a crash.
    Ok(dense_raise(&mut s[HDR..], index, count))
}

/// Redis's `hllAdd`: adds an element to a valid-looking HLL (`is_hll`); true if a register
/// changed. The cache is not touched here for a dense HLL (PFADD invalidates it).
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: u64) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    set_register(s, index, count, max_bytes)
}

/// Raises register `index` to `count` in either encoding.
pub fn set_register(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: u64,
) -> Result<bool, Corrupt> {
    match s[4] {
        DENSE => Ok(dense_raise(&mut s[HDR..], index, count)),
        SPARSE => sparse_set(s, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// Redis's `hllMerge`: `max[i] = max(max[i], register i)`. `Corrupt` for a sparse form that
/// does not cover exactly 16384 registers (`walk`).
pub fn merge(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        dense_each(&s[HDR..], |i, v| {
            if v > max[i] {
                max[i] = v;
            }
        });
        return Ok(());
    }
    walk(s, |first, v, run| {
        for m in &mut max[first..first + run] {
            if v > *m {
                *m = v;
            }
        }
    })
}

/// Redis's `hllCount` on a stored HLL: the estimate from its registers (the cache is neither
/// read nor written). `Corrupt` for a sparse form that does not cover exactly 16384 registers
/// (`walk`).
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0i64; 64];
    if s[4] == DENSE {
        dense_each(&s[HDR..], |_, v| histo[v as usize] += 1);
    } else {
        let mut nonzero = 0;
        walk(s, |_, v, run| {
            histo[v as usize] += run as i64;
            nonzero += run as i64;
        })?;
        histo[0] = REGISTERS as i64 - nonzero;
    }
    Ok(estimate(&histo))
}

/// The estimate for one register per byte (PFCOUNT of many keys, Redis's HLL_RAW).
pub fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0i64; 64];
    for &r in regs.iter() {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284), as Redis 7.0 computes it, in the same order of operations.
fn estimate(histo: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    // llroundl: halves away from zero; a NaN or infinity cannot come out of valid histograms.
    let e = (ALPHA_INF * m * m / z).round();
    e as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    // Converges in under 64 rounds for x in [0, 1); the bound only guards odd inputs.
    for _ in 0..10_000 {
        x *= x;
        let z_prime = z;
        z += x * y;
        y += y;
        if z_prime == z {
            break;
        }
    }
    z
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    for _ in 0..10_000 {
        x = x.sqrt();
        let z_prime = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prime == z {
            break;
        }
    }
    z / 3.0
}

/// PFDEBUG DECODE's text for a sparse HLL: `z:N`, `Z:N` and `v:VALUE,N` separated by spaces.
pub fn decode(s: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut p = HDR;
    while p < s.len() {
        let (op, n) = op_at(s, p);
        match op {
            Op::Zero(r) => write!(out, "z:{r} "),
            Op::XZero(r) => write!(out, "Z:{r} "),
            Op::Val(v, r) => write!(out, "v:{v},{r} "),
        }
        .unwrap();
        p += n;
    }
    out.trim_end_matches(' ').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_hll_is_the_18_bytes_redis_creates() {
        let s = new_sparse();
        assert_eq!(s, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert!(is_hll(&s));
        assert_eq!(count(&s), Ok(0));
        assert_eq!(decode(&s), "Z:16384");
    }

    #[test]
    fn dense_registers_round_trip_without_touching_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        let mut expect = vec![0u8; REGISTERS];
        let mut x = 12345u64;
        for (i, e) in expect.iter_mut().enumerate() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = (x >> 58) as u8;
            *e = v;
            dense_set(&mut regs, i, v);
        }
        for (i, &v) in expect.iter().enumerate() {
            assert_eq!(dense_get(&regs, i), v, "register {i}");
        }
        let mut seen = 0;
        dense_each(&regs, |i, v| {
            assert_eq!(v, expect[i], "register {i}");
            seen += 1;
        });
        assert_eq!(seen, REGISTERS);
    }

    #[test]
    fn sparse_and_dense_agree_and_promotion_happens() {
        let mut sparse = new_sparse();
        let mut dense = to_dense(&sparse).unwrap().unwrap();
        for i in 0..5000u32 {
            let e = i.to_string();
            add(&mut sparse, e.as_bytes(), 3000).unwrap();
            add(&mut dense, e.as_bytes(), 3000).unwrap();
            if i % 250 == 0 {
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(sparse[4], DENSE);
        assert_eq!(sparse[HDR..], dense[HDR..]);
        let c = count(&dense).unwrap();
        assert!((4800..5200).contains(&c), "{c}");
    }
}
