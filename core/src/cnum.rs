//! C's number parsing as Redis relies on it, a leaf every layer may use (`resp`, `types`,
//! `config`, `command`, `rdb`): C's `isspace`, Redis's `string2ll` ([`parse_i64`]), glibc's
//! `strtod` (decimal and hex floats, inf/infinity/nan, ERANGE on overflow and underflow) and
//! Redis's `string2d`, which wraps it. (`string2ld` is `LongDouble::parse`, beside its type in
//! types/longdouble.rs.)

/// C's `isspace` in the "C" locale: space, \t, \n, \v, \f, \r.
pub fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Redis's `string2ll`: an optional '-', digits without leading zeros, within i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [] => return None,
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// C's strtod (glibc) over `s`: the value, how many bytes it took (0: no conversion), and
/// whether it set ERANGE.
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return (sign(f64::INFINITY), i + 8, false);
    }
    if starts(b"inf") {
        return (sign(f64::INFINITY), i + 3, false);
    }
    if starts(b"nan") {
        let mut end = i + 3;
        if s.get(end) == Some(&b'(') {
            let mut j = end + 1;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
                j += 1;
            }
            if s.get(j) == Some(&b')') {
                end = j + 1;
            }
        }
        return (f64::NAN, end, false);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, used, erange)) = parse_hex(&rest[2..]) {
            return (sign(v), i + 2 + used, erange);
        }
        // "0x" without hex digits: just the "0".
        return (sign(0.0), i + 1, false);
    }
    // Decimal: digits [. digits] [e [sign] digits].
    let mut j = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        j += 1;
        digits += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    // Rust's parser is correctly rounded like glibc's; a trailing '.' is fine for it.
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange =
        v.is_infinite() || (v == 0.0 && nonzero) || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
    (sign(v), i + j, erange)
}

/// A hex float's digits after "0x": value, bytes used, ERANGE. None without any hex digit.
fn parse_hex(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut j = 0;
    let mut seen_dot = false;
    while j < s.len() {
        let c = s[j];
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_dot => {
                seen_dot = true;
                j += 1;
                continue;
            }
            _ => break,
        };
        any = true;
        if mant >> 60 == 0 {
            mant = mant << 4 | u64::from(d);
            if seen_dot {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                exp += 4;
            }
        }
        j += 1;
    }
    if !any {
        return None;
    }
    if j < s.len() && (s[j] | 0x20) == b'p' {
        let mut k = j + 1;
        let mut eneg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            eneg = s[k] == b'-';
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + i64::from(s[k] - b'0')).min(100_000);
                k += 1;
            }
            exp += if eneg { -e } else { e };
            j = k;
        }
    }
    if mant == 0 {
        return Some((0.0, j, false));
    }
    if sticky {
        mant |= 1;
    }
    // Exact while the result is normal; scaling in steps avoids intermediate overflow.
    let mut v = mant as f64;
    let mut e = exp;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    let erange = v.is_infinite() || v == 0.0 || v.abs() < f64::MIN_POSITIVE;
    Some((v, j, erange))
}

/// Redis's string2d (getDoubleFromObject): the whole argument must be a number.
pub fn string2d(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let (v, used, erange) = strtod(arg);
    if used != arg.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// An optional `+`/`-` at `s[i]`: (negative, the index after it).
pub(crate) fn c_sign(s: &[u8], i: usize) -> (bool, usize) {
    match s.get(i) {
        Some(b'-') => (true, i + 1),
        Some(b'+') => (false, i + 1),
        _ => (false, i),
    }
}

/// C's strtoll(s, &end, base) == whole string: leading whitespace, a sign, digits (none is 0).
/// Saturates on overflow as strtoll does; None if anything follows the digits.
pub(crate) fn strtoll(s: &[u8], base: u32) -> Option<i64> {
    let (neg, mut i) = c_sign(s, s.iter().take_while(|&&c| is_c_space(c)).count());
    let start = i;
    let mut v: i128 = 0;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        v = (v * i128::from(base) + i128::from(d)).min(i128::from(u64::MAX));
        i += 1;
    }
    if i == start {
        // No digits: strtoll converts nothing and points end at the start of the string.
        return s.is_empty().then_some(0);
    }
    if i != s.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// C's strtoull in base 10 as string2ull uses it: leading spaces, a sign (a minus negates,
/// modulo 2^64), at least one digit, nothing after; None on overflow.
pub(crate) fn strtoull(s: &[u8]) -> Option<u64> {
    let (neg, i) = c_sign(s, s.iter().take_while(|&&c| is_c_space(c)).count());
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
pub(crate) fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    strtoull(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_is_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"-0",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn c_space_is_the_c_locale_set() {
        let spaces: Vec<u8> = (0..=255u8).filter(|&c| is_c_space(c)).collect();
        assert_eq!(spaces, b"\t\n\x0b\x0c\r ");
    }

    #[test]
    fn strtod_like_glibc() {
        let t = |s: &str| {
            let (v, n, e) = strtod(s.as_bytes());
            (v, n, e)
        };
        assert_eq!(t("1.5"), (1.5, 3, false));
        assert_eq!(t("  -2e3x"), (-2000.0, 6, false));
        assert_eq!(t("1e"), (1.0, 1, false));
        assert_eq!(t("1e+"), (1.0, 1, false));
        assert_eq!(t(".5"), (0.5, 2, false));
        assert_eq!(t("5."), (5.0, 2, false));
        assert_eq!(t("."), (0.0, 0, false));
        assert_eq!(t(""), (0.0, 0, false));
        assert_eq!(t("+inf"), (f64::INFINITY, 4, false));
        assert_eq!(t("-Infinity"), (f64::NEG_INFINITY, 9, false));
        assert_eq!(t("infin"), (f64::INFINITY, 3, false));
        assert_eq!(t("0x10"), (16.0, 4, false));
        assert_eq!(t("0x1p-2"), (0.25, 6, false));
        assert_eq!(t("0x.8"), (0.5, 4, false));
        assert_eq!(t("0xg"), (0.0, 1, false));
        assert_eq!(t("1e400"), (f64::INFINITY, 5, true));
        assert_eq!(t("1e-400"), (0.0, 6, true));
        assert!(t("nan").0.is_nan());
        assert_eq!(t("nan(abc)x").1, 8);
    }
    #[test]
    fn string2d_like_redis() {
        assert_eq!(string2d(b"1.5"), Some(1.5));
        assert_eq!(string2d(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(string2d(b"0x10"), Some(16.0));
        assert_eq!(string2d(b"5e-324"), Some(5e-324));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1\x00",
            b"--1",
        ] {
            assert_eq!(string2d(bad), None, "{bad:?}");
        }
    }
}
