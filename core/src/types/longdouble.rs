//! An exact software model of C's x87 `long double` (80-bit extended precision: 64-bit
//! mantissa with an explicit integer bit, 15-bit exponent), just enough for INCRBYFLOAT.
//!
//! Redis parses with `strtold`, adds in `long double` and prints with `"%.17Lf"` (then strips
//! trailing zeros). Doing that in `f64` gives different text ("10.59999999999999964" instead
//! of "10.6"), and wasm has no 80-bit type, so this module does it in integers: correctly
//! rounded decimal and hex-float parsing, round-to-nearest-even addition with subnormals and
//! overflow, and an exact decimal expansion for printing. A tiny unsigned big integer (u32
//! limbs) carries the exact intermediate values.

use crate::cnum::is_c_space;
use std::cmp::Ordering;

/// Exponent of the least significant mantissa bit of the smallest subnormal (2^-16445).
const EXP_MIN: i32 = -16445;
/// Largest exponent of the least significant mantissa bit (max finite < 2^16384).
const EXP_MAX: i32 = 16320;
/// Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses inputs this long or longer.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    Zero,
    /// `mant * 2^exp`; `mant >= 2^63` unless `exp == EXP_MIN` (a subnormal).
    Finite {
        mant: u64,
        exp: i32,
    },
    Inf,
    Nan,
}

/// A `long double` value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    class: Class,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble {
        neg: false,
        class: Class::Zero,
    };

    /// Exact: every i64 fits in a 64-bit mantissa.
    pub fn from_i64(n: i64) -> LongDouble {
        let neg = n < 0;
        let m = n.unsigned_abs();
        if m == 0 {
            return LongDouble::ZERO;
        }
        round(neg, m as u128, 0, false).0
    }

    pub fn is_finite(&self) -> bool {
        matches!(self.class, Class::Zero | Class::Finite { .. })
    }

    /// Redis's `string2ld`: `strtold` on the whole string, refusing empty or over-long input,
    /// leading white space, trailing bytes, NaN, and results that overflow or underflow to zero.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS || is_c_space(s[0]) {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble {
                neg,
                class: Class::Inf,
            });
        }
        let v = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            // strtold reads "0x" without hex digits as "0" followed by garbage: refused.
            parse_hex(neg, &body[2..])?
        } else {
            parse_decimal(neg, body)?
        };
        v.is_finite().then_some(v)
    }

    /// IEEE addition, rounding to nearest even.
    pub fn sum(self, other: LongDouble) -> LongDouble {
        use Class::*;
        let nan = LongDouble {
            neg: false,
            class: Nan,
        };
        match (self.class, other.class) {
            (Nan, _) | (_, Nan) => nan,
            (Inf, Inf) if self.neg != other.neg => nan,
            (Inf, _) => self,
            (_, Inf) => other,
            (Zero, Zero) => LongDouble {
                neg: self.neg && other.neg,
                class: Zero,
            },
            (Zero, _) => other,
            (_, Zero) => self,
            (Finite { mant: ma, exp: ea }, Finite { mant: mb, exp: eb }) => {
                // Let `a` be the one with the larger exponent.
                let ((na, ma, ea), (nb, mb, eb)) = if ea >= eb {
                    ((self.neg, ma, ea), (other.neg, mb, eb))
                } else {
                    ((other.neg, mb, eb), (self.neg, ma, ea))
                };
                let d = (ea - eb) as u32;
                // Both in units of 2^exp; `sticky` means a nonzero remainder below b's last bit.
                let (a, b, exp, sticky) = if d <= 62 {
                    ((ma as u128) << d, mb as u128, eb, false)
                } else {
                    // `a` is normal here (a subnormal's exponent is the minimum), so 62 guard
                    // bits and a sticky bit round exactly.
                    let sh = d - 62;
                    let (b, lost) = if sh >= 64 {
                        (0, mb != 0)
                    } else {
                        (mb >> sh, mb & ((1u64 << sh) - 1) != 0)
                    };
                    ((ma as u128) << 62, b as u128, ea - 62, lost)
                };
                if na == nb {
                    round(na, a + b, exp, sticky).0
                } else {
                    match a.cmp(&b) {
                        Ordering::Equal => LongDouble::ZERO,
                        Ordering::Greater => {
                            // a - (b + e) with 0 < e < 1 is (a - b - 1) + (1 - e).
                            let m = a - b - sticky as u128;
                            round(na, m, exp, sticky).0
                        }
                        // Only reachable with d <= 62 (exact, sticky is false).
                        Ordering::Less => round(nb, b - a, exp, false).0,
                    }
                }
            }
        }
    }

    /// Redis's `ld2string(..., LD_STR_HUMAN)`: `"%.17Lf"`, trailing zeros (and a bare '.')
    /// removed, and "-0" written as "0". Infinities are written "inf"/"-inf"; NaN "nan".
    pub fn to_human_string(self) -> String {
        let mant_exp = match self.class {
            Class::Nan => return "nan".into(),
            Class::Inf => return if self.neg { "-inf" } else { "inf" }.into(),
            Class::Zero => return "0".into(),
            Class::Finite { mant, exp } => (mant, exp),
        };
        let (mant, exp) = mant_exp;
        let digits = if exp >= 0 {
            // An integer: no fraction digits to round.
            let mut n = Big::from_u64(mant);
            n.shl(exp as u32);
            n.to_decimal()
        } else {
            // round(mant * 10^17 / 2^s), ties to even (glibc printf is exact).
            let s = (-exp) as u32;
            let x = mant as u128 * 100_000_000_000_000_000u128;
            let q = if s >= 127 {
                0
            } else {
                let q = x >> s;
                let r = x & ((1u128 << s) - 1);
                let half = 1u128 << (s - 1);
                if r > half || (r == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            };
            if q == 0 {
                return "0".into();
            }
            let mut t = q.to_string();
            if t.len() < 18 {
                t = format!("{}{}", "0".repeat(18 - t.len()), t);
            }
            t.insert(t.len() - 17, '.');
            let t = t.trim_end_matches('0').trim_end_matches('.');
            t.to_string()
        };
        if self.neg {
            format!("-{digits}")
        } else {
            digits
        }
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;
    fn add(self, other: LongDouble) -> LongDouble {
        self.sum(other)
    }
}

/// Rounds `(m + e) * 2^exp` (0 < e < 1 when `sticky`) to a long double, nearest-even, with
/// subnormals and overflow to infinity. `m` must be nonzero, and carry at least 66 bits when
/// `sticky` is set. The flag is true when a nonzero value rounded to zero (C's ERANGE).
fn round(neg: bool, m: u128, exp: i32, sticky: bool) -> (LongDouble, bool) {
    let bits = 128 - m.leading_zeros() as i32;
    let mut shift = bits - 64;
    let mut e = exp.saturating_add(shift);
    if e < EXP_MIN {
        shift = shift.saturating_add(EXP_MIN - e);
        e = EXP_MIN;
    }
    let mut kept: u128 = if shift > 0 {
        if shift >= 128 {
            // Everything rounds away: up to the smallest subnormal only past half of it.
            let h = 1u128 << 127;
            (shift == 128 && (m > h || (m == h && sticky))) as u128
        } else {
            let s = shift as u32;
            let (kept, rem, h) = (m >> s, m & ((1u128 << s) - 1), 1u128 << (s - 1));
            let up = rem > h || (rem == h && (sticky || kept & 1 == 1));
            kept + up as u128
        }
    } else {
        m << (-shift) as u32
    };
    if kept == 1u128 << 64 {
        kept >>= 1;
        e += 1;
    }
    if kept == 0 {
        return (
            LongDouble {
                neg,
                class: Class::Zero,
            },
            true,
        );
    }
    if e > EXP_MAX {
        return (
            LongDouble {
                neg,
                class: Class::Inf,
            },
            false,
        );
    }
    (
        LongDouble {
            neg,
            class: Class::Finite {
                mant: kept as u64,
                exp: e,
            },
        },
        false,
    )
}

/// Rounds the exact value `n * 2^exp` (`n` nonzero).
fn round_big(neg: bool, n: &Big, exp: i64) -> (LongDouble, bool) {
    let bits = n.bit_len();
    let (m, sticky, exp) = if bits <= 127 {
        (n.low_u128(), false, exp)
    } else {
        let drop = bits - 127;
        let mut top = n.clone();
        let sticky = top.shr_sticky(drop);
        (top.low_u128(), sticky, exp + drop as i64)
    };
    let exp = exp.clamp(-1_000_000, 1_000_000) as i32;
    round(neg, m, exp, sticky)
}

/// What follows the mantissa: nothing (0), or `marker` (either case) and an exponent that
/// ends the text; None for anything else.
fn exponent_suffix(rest: &[u8], marker: u8) -> Option<i64> {
    let Some((&m, tail)) = rest.split_first() else {
        return Some(0);
    };
    if m | 0x20 != marker {
        return None;
    }
    let (e, used) = parse_exp(tail)?;
    (used == tail.len()).then_some(e)
}

/// A decimal exponent ("e-12") with saturation: glibc treats huge exponents as over/underflow.
fn parse_exp(s: &[u8]) -> Option<(i64, usize)> {
    let (neg, mut i) = crate::cnum::c_sign(s, 0);
    let start = i;
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + (s[i] - b'0') as i64).min(1_000_000_000);
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((if neg { -v } else { v }, i))
}

/// `[digits][.digits][(e|E)[+-]digits]`, the whole of `s`, at least one digit.
fn parse_decimal(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut digits: Vec<u8> = Vec::new();
    let mut exp10: i64 = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() {
            seen_digit = true;
            if !(digits.is_empty() && c == b'0') {
                digits.push(c - b'0');
            }
            if seen_dot {
                exp10 -= 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    exp10 += exponent_suffix(&s[i..], b'e')?;
    if digits.is_empty() {
        return Some(LongDouble {
            neg,
            class: Class::Zero,
        });
    }
    // Trailing zeros of the digit string only scale.
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    // The value lies in [10^(mag-1), 10^mag).
    let mag = exp10 + digits.len() as i64;
    if mag > 4934 {
        return None; // overflow: ERANGE with HUGE_VALL
    }
    if mag < -4952 {
        return None; // underflow to zero: ERANGE
    }
    let mut num = Big::from_decimal(&digits);
    let mut den = Big::from_u64(1);
    if exp10 >= 0 {
        num.mul_pow10(exp10 as u32);
    } else {
        den.mul_pow10((-exp10) as u32);
    }
    // Scale so the quotient has 68..=70 bits, then divide.
    let k = 69 + den.bit_len() as i64 - num.bit_len() as i64;
    if k >= 0 {
        num.shl(k as u32);
    } else {
        den.shl((-k) as u32);
    }
    let (q, exact) = num.div_small_quotient(&den, 71);
    let (v, underflow) = round(neg, q, (-k).clamp(-1_000_000, 1_000_000) as i32, !exact);
    if underflow {
        return None;
    }
    Some(v)
}

/// After "0x": `[hexdigits][.hexdigits][(p|P)[+-]digits]`, the whole of `s`, at least one digit.
fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut n = Big::from_u64(0);
    let mut exp2: i64 = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if let Some(d) = (c as char).to_digit(16) {
            seen_digit = true;
            if !n.is_zero() || d != 0 {
                n.mul_small(16);
                n.add_small(d);
                if seen_dot {
                    exp2 -= 4;
                }
            } else if seen_dot {
                exp2 -= 4;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    exp2 += exponent_suffix(&s[i..], b'p')?;
    if n.is_zero() {
        return Some(LongDouble {
            neg,
            class: Class::Zero,
        });
    }
    let (v, underflow) = round_big(neg, &n, exp2);
    if underflow {
        return None;
    }
    Some(v)
}

/// A minimal unsigned big integer: little-endian u32 limbs, no trailing zero limbs.
#[derive(Clone, Debug, PartialEq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn from_decimal(digits: &[u8]) -> Big {
        let mut b = Big(Vec::new());
        for chunk in digits.chunks(9) {
            let mut v = 0u32;
            for &d in chunk {
                v = v * 10 + d as u32;
            }
            b.mul_small(10u32.pow(chunk.len() as u32));
            b.add_small(v);
        }
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as u64 * 32 - top.leading_zeros() as u64,
        }
    }

    fn low_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .enumerate()
            .fold(0u128, |acc, (i, &l)| acc | (l as u128) << (32 * i))
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in self.0.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for l in self.0.iter_mut() {
            if carry == 0 {
                break;
            }
            let v = *l as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut e: u32) {
        while e >= 9 {
            self.mul_small(1_000_000_000);
            e -= 9;
        }
        self.mul_small(10u32.pow(e));
    }

    fn shl(&mut self, bits: u32) {
        if self.is_zero() {
            return;
        }
        let limbs = (bits / 32) as usize;
        let r = bits % 32;
        if r != 0 {
            let mut carry = 0u32;
            for l in self.0.iter_mut() {
                let v = (*l << r) | carry;
                carry = *l >> (32 - r);
                *l = v;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs > 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    /// Shifts right by `bits`; true if any 1 bit was shifted out.
    fn shr_sticky(&mut self, bits: u64) -> bool {
        let limbs = (bits / 32) as usize;
        let r = (bits % 32) as u32;
        if limbs >= self.0.len() {
            let lost = !self.is_zero();
            self.0.clear();
            return lost;
        }
        let mut lost = self.0[..limbs].iter().any(|&l| l != 0);
        self.0.drain(..limbs);
        if r != 0 {
            lost |= self.0[0] & ((1u32 << r) - 1) != 0;
            let n = self.0.len();
            for i in 0..n {
                let hi = if i + 1 < n {
                    self.0[i + 1] << (32 - r)
                } else {
                    0
                };
                self.0[i] = (self.0[i] >> r) | hi;
            }
        }
        self.trim();
        lost
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    /// `self -= o`; requires `self >= o`.
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            if v < 0 {
                self.0[i] = (v + (1i64 << 32)) as u32;
                borrow = 1;
            } else {
                self.0[i] = v as u32;
                borrow = 0;
            }
        }
        self.trim();
    }

    /// `(self / den, remainder == 0)` for a quotient known to fit in `qbits` bits (<= 127).
    fn div_small_quotient(&self, den: &Big, qbits: u32) -> (u128, bool) {
        let mut rem = self.clone();
        let mut d = den.clone();
        d.shl(qbits - 1);
        let mut q = 0u128;
        for i in (0..qbits).rev() {
            if rem.cmp(&d) != Ordering::Less {
                rem.sub(&d);
                q |= 1u128 << i;
            }
            d.shr_sticky(1);
        }
        (q, rem.is_zero())
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.0.clone();
        let mut chunks = Vec::new();
        while !n.is_empty() {
            let mut rem = 0u64;
            for l in n.iter_mut().rev() {
                let v = (rem << 32) | *l as u64;
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while n.last() == Some(&0) {
                n.pop();
            }
            chunks.push(rem as u32);
        }
        let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let (Some(x), Some(y)) = (
            LongDouble::parse(a.as_bytes()),
            LongDouble::parse(b.as_bytes()),
        ) else {
            return "ERR float".into();
        };
        let r = x + y;
        if !r.is_finite() {
            return "ERR nan/inf".into();
        }
        r.to_human_string()
    }

    #[test]
    fn big_integer_basics() {
        let mut b = Big::from_decimal(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
        assert_eq!(b.to_decimal(), "123456789012");
        b.shl(100);
        assert_eq!(b.bit_len(), 37 + 100);
        assert!(!b.shr_sticky(100));
        assert_eq!(b.to_decimal(), "123456789012");
        assert!(!b.shr_sticky(1));
        assert_eq!(b.to_decimal(), "61728394506");
        b.add_small(1);
        assert!(b.shr_sticky(1));
        assert_eq!(b.to_decimal(), "30864197253");
    }

    /// Replies recorded from redis-server 7.0.15 (x86-64) for SET k A; INCRBYFLOAT k B.
    #[test]
    fn matches_recorded_redis_replies() {
        let cases = [
            ("10.50", "0.1", "10.6"),
            ("10.6", "5.0e3", "5010.60000000000000009"),
            ("0", "0.000003814697265625", "0.00000381469726562"),
            (
                "0.00000381469726562",
                "0.000003814697265625",
                "0.00000762939453125",
            ),
            ("2", "0x1p3", "10"),
            ("1", "1", "2"),
        ];
        for (a, b, want) in cases {
            assert_eq!(incr(a, b), want, "{a} + {b}");
        }
    }

    #[test]
    fn string2ld_refusals() {
        for bad in [
            "",
            " 1",
            "1 ",
            "1e",
            "0x",
            "0x1p",
            "nan",
            "-nan",
            "nan(1)",
            "1e5000",
            "-1e5000",
            "1e-5000",
            "0x1p-16446",
            "1.2.3",
            ".",
            "e5",
            "+",
            "infin",
            "1\x002",
        ] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        for good in [
            "0",
            "-0",
            "+1",
            ".5",
            "5.",
            "1e5",
            "1E+5",
            "0x1p-16445",
            "0X1.8P1",
            "0x.8",
            "inf",
            "-Infinity",
            "0e99999999999999999999",
            "1e-4950",
        ] {
            assert!(LongDouble::parse(good.as_bytes()).is_some(), "{good:?}");
        }
        assert!(LongDouble::parse(&vec![b'1'; MAX_LONG_DOUBLE_CHARS]).is_none());
        assert!(LongDouble::parse(&vec![b'1'; MAX_LONG_DOUBLE_CHARS - 1]).is_none()); // overflow
        let mut long = vec![b'0'; MAX_LONG_DOUBLE_CHARS - 1];
        long[0] = b'1';
        long[1] = b'.';
        assert_eq!(
            LongDouble::parse(&long).map(|v| v.to_human_string()),
            Some("1".into())
        );
    }

    /// Cases generated at random and answered by glibc on x86-64 (the platform Redis runs on):
    /// Redis's own string2ld / `+=` / ld2string(LD_STR_HUMAN) compiled as a small C program.
    #[test]
    fn matches_glibc_long_double() {
        let mut bad = Vec::new();
        let mut n = 0;
        for line in include_str!("longdouble_cases.tsv").lines() {
            let mut f = line.split('\t');
            let (Some(a), Some(b), Some(want)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            n += 1;
            let got = incr(a, b);
            if got != want {
                bad.push(format!("{a:?} + {b:?}: got {got}, want {want}"));
            }
        }
        assert!(n > 2000);
        assert!(
            bad.is_empty(),
            "{} mismatches:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}
