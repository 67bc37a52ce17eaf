//! Replies: the `Reply` value, the encoder that writes RESP2 or RESP3, and a decoder of reply
//! bytes (for tests, tools and the playground). Only [`ReplyWriter`] knows RESP2 from RESP3.

use crate::cnum::parse_i64;
use memchr::memchr;

/// One reply, as a value. Handlers usually write straight into a `ReplyWriter`; this type is
/// for replies built up front, for queued replies and for decoding.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(Vec<u8>),
    /// The whole error line without '-', e.g. `ERR syntax error`.
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2 `$-1`, RESP3 `_`.
    Nil,
    /// RESP2 `*-1`, RESP3 `_`.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; RESP2 flattens it to an array of 2n elements.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 push; an array in RESP2.
    Push(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean; 1 or 0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string (`txt`, `mkd`); a bulk string in RESP2.
    Verbatim(&'static str, Vec<u8>),
    BigNumber(Vec<u8>),
}

impl Reply {
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(s.as_bytes().to_vec())
    }
    pub fn error(s: &str) -> Reply {
        Reply::Error(s.as_bytes().to_vec())
    }
    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(b.to_vec())
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Appends replies to an output buffer in the client's protocol.
pub struct ReplyWriter<'a> {
    pub out: &'a mut Vec<u8>,
    pub resp3: bool,
}

impl<'a> ReplyWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>, resp3: bool) -> ReplyWriter<'a> {
        ReplyWriter { out, resp3 }
    }

    fn line(&mut self, prefix: u8, n: i64) {
        self.out.push(prefix);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.simple_bytes(s.as_bytes());
    }

    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.out.push(b'+');
        self.out.extend_from_slice(s);
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error line, made one line as Redis's addReplyErrorFormat does: CR and LF at the end
    /// are trimmed, the others become spaces.
    pub fn error(&mut self, msg: &[u8]) {
        let end = msg
            .iter()
            .rposition(|&b| b != b'\r' && b != b'\n')
            .map_or(0, |i| i + 1);
        let msg = &msg[..end];
        self.out.push(b'-');
        self.out.extend(
            msg.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub fn bulk(&mut self, b: &[u8]) {
        if b.len() < 10 {
            // A short value (members, fields, small strings: most bulks of an array reply):
            // its header is 4 bytes, written at once.
            self.out.reserve(b.len() + 6);
            self.out
                .extend_from_slice(&[b'$', b'0' + b.len() as u8, b'\r', b'\n']);
        } else {
            self.line(b'$', b.len() as i64);
        }
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding a number's decimal text.
    pub fn bulk_i64(&mut self, n: i64) {
        self.bulk(itoa::Buffer::new().format(n).as_bytes());
    }

    pub fn nil(&mut self) {
        self.out
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    pub fn nil_array(&mut self) {
        self.out
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    pub fn array_len(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }

    /// A map of `n` pairs (RESP2: an array of 2n elements).
    pub fn map_len(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'%', n as i64);
        } else {
            self.line(b'*', 2 * n as i64);
        }
    }

    pub fn set_len(&mut self, n: usize) {
        self.line(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    pub fn push_len(&mut self, n: usize) {
        self.line(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// Redis 7.0's `addReplyDouble`: "%.17g", and inf/-inf spelled out.
    pub fn double(&mut self, d: f64) {
        // A whole number below 2^53 (a typical score) has at most 16 digits: "%.17g" prints
        // exactly its integer, which itoa writes without the exact-decimal formatting (a
        // bignum algorithm, ~1 µs a score on wasm). -0 keeps the general path ("-0").
        if d.fract() == 0.0
            && d.abs() < 9_007_199_254_740_992.0
            && !(d == 0.0 && d.is_sign_negative())
        {
            let mut buf = itoa::Buffer::new();
            self.double_text(buf.format(d as i64).as_bytes());
            return;
        }
        self.double_text(format_double_g17(d).as_bytes());
    }

    /// A double already printed (e.g. addReplyHumanLongDouble's form): a RESP3 double, or a
    /// RESP2 bulk string of the same text.
    pub fn double_text(&mut self, text: &[u8]) {
        if self.resp3 {
            self.out.push(b',');
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A RESP3 attribute of `n` pairs (addReplyAttributeLen); RESP3 only: Redis writes none to
    /// a RESP2 client, and callers check.
    pub fn attribute_len(&mut self, n: usize) {
        self.line(b'|', n as i64);
    }

    /// A big number (addReplyBigNum): RESP3 `(`, RESP2 a bulk string of its digits.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.out.push(b'(');
            self.out.extend_from_slice(digits);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// Bytes already in RESP form (DEBUG ERROR's line as the caller gave it).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub fn bool(&mut self, b: bool) {
        if self.resp3 {
            self.out
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3 {
            self.line(b'=', (text.len() + 4) as i64);
            self.out.extend_from_slice(format.as_bytes());
            self.out.push(b':');
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn reply(&mut self, r: &Reply) {
        match r {
            Reply::Simple(s) => self.simple_bytes(s),
            Reply::Error(e) => self.error(e),
            Reply::Int(n) => self.int(*n),
            Reply::Bulk(b) => self.bulk(b),
            Reply::Nil => self.nil(),
            Reply::NilArray => self.nil_array(),
            Reply::Array(items) => {
                self.array_len(items.len());
                items.iter().for_each(|i| self.reply(i));
            }
            Reply::Map(pairs) => {
                self.map_len(pairs.len());
                for (k, v) in pairs {
                    self.reply(k);
                    self.reply(v);
                }
            }
            Reply::Set(items) => {
                self.set_len(items.len());
                items.iter().for_each(|i| self.reply(i));
            }
            Reply::Push(items) => {
                self.push_len(items.len());
                items.iter().for_each(|i| self.reply(i));
            }
            Reply::Double(d) => self.double(*d),
            Reply::Bool(b) => self.bool(*b),
            Reply::Verbatim(f, t) => self.verbatim(f, t),
            Reply::BigNumber(n) => {
                if self.resp3 {
                    self.out.push(b'(');
                    self.out.extend_from_slice(n);
                    self.out.extend_from_slice(b"\r\n");
                } else {
                    self.bulk(n);
                }
            }
        }
    }
}

/// C's `printf("%.17g", d)`, which Redis 7.0 uses for doubles in replies.
pub fn format_double_g17(d: f64) -> String {
    format_double_g(d, 17)
}

/// C's `%.<precision>g` for finite values; "inf", "-inf" and "nan" otherwise (Redis's spelling;
/// a NaN with the sign bit set is "-nan", as glibc's printf writes it: only scripts make one).
pub fn format_double_g(d: f64, precision: usize) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let p = precision.max(1);
    // Rust's `{:e}` is exact decimal rounding, as glibc's printf.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= p as i32 {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_fraction_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Decodes one reply from the start of `buf`: `Ok(None)` when incomplete, else the reply and
/// the bytes it took. Accepts RESP2 and RESP3 (attributes are skipped).
pub fn decode_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let mut pos = 0;
    match decode_at(buf, &mut pos)? {
        Some(r) => Ok(Some((r, pos))),
        None => Ok(None),
    }
}

fn read_line<'b>(buf: &'b [u8], pos: &mut usize) -> Option<&'b [u8]> {
    let rest = &buf[*pos..];
    let nl = memchr(b'\n', rest)?;
    if nl == 0 || rest[nl - 1] != b'\r' {
        // A bare LF is not RESP; report it through the caller as a malformed line.
        *pos += nl + 1;
        return Some(&rest[..nl]);
    }
    *pos += nl + 1;
    Some(&rest[..nl - 1])
}

fn decode_at(buf: &[u8], pos: &mut usize) -> Result<Option<Reply>, String> {
    if *pos >= buf.len() {
        return Ok(None);
    }
    let kind = buf[*pos];
    let start = *pos;
    *pos += 1;
    let Some(line) = read_line(buf, pos) else {
        *pos = start;
        return Ok(None);
    };
    let int = |l: &[u8]| {
        parse_i64(l).ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(l)))
    };
    let reply = match kind {
        b'+' => Reply::Simple(line.to_vec()),
        b'-' => Reply::Error(line.to_vec()),
        b':' => Reply::Int(int(line)?),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(line == b"t"),
        b',' => Reply::Double(
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("bad double")?,
        ),
        b'(' => Reply::BigNumber(line.to_vec()),
        b'$' | b'=' | b'!' => {
            let n = int(line)?;
            if n < 0 {
                return Ok(Some(Reply::Nil));
            }
            let n = n as usize;
            if buf.len() < *pos + n + 2 {
                *pos = start;
                return Ok(None);
            }
            let body = buf[*pos..*pos + n].to_vec();
            *pos += n + 2;
            match kind {
                b'$' => Reply::Bulk(body),
                b'!' => Reply::Error(body),
                _ => {
                    let fmt = match body.get(..4) {
                        Some(b"mkd:") => "mkd",
                        _ => "txt",
                    };
                    Reply::Verbatim(fmt, body.get(4..).unwrap_or_default().to_vec())
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = int(line)?;
            if n < 0 {
                return Ok(Some(Reply::NilArray));
            }
            let count = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            } as usize;
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                match decode_at(buf, pos)? {
                    Some(r) => items.push(r),
                    None => {
                        *pos = start;
                        return Ok(None);
                    }
                }
            }
            match kind {
                b'*' => Reply::Array(items),
                b'~' => Reply::Set(items),
                b'>' => Reply::Push(items),
                b'|' => return decode_at(buf, pos),
                _ => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Reply::Map(pairs)
                }
            }
        }
        other => return Err(format!("unknown reply type byte {:?}", other as char)),
    };
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp3: bool) -> Vec<u8> {
        let mut out = Vec::new();
        ReplyWriter::new(&mut out, resp3).reply(r);
        out
    }

    #[test]
    fn whole_doubles_take_the_integer_path_with_printfs_text() {
        let mut cases = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            99.0,
            1e15,
            -1e15,
            9_007_199_254_740_991.0,
        ];
        cases.extend([
            9_007_199_254_740_992.0,
            1e17,
            1e22,
            0.5,
            -2.5,
            f64::INFINITY,
        ]);
        for d in cases {
            let mut out = Vec::new();
            ReplyWriter::new(&mut out, true).double(d);
            let want = format!(",{}\r\n", format_double_g17(d));
            assert_eq!(String::from_utf8_lossy(&out), want, "{d}");
        }
    }

    #[test]
    fn g17_matches_printf() {
        let cases = [
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1e17, "1e+17"),
            (1.5e16, "15000000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (123456789.0, "123456789"),
            (1e300, "1.0000000000000001e+300"),
        ];
        for (d, want) in cases {
            assert_eq!(format_double_g17(d), want, "{d}");
        }
    }

    #[test]
    fn resp2_and_resp3_round_trip() {
        let r = Reply::Array(vec![
            Reply::Int(-3),
            Reply::bulk(b"a\r\nb"),
            Reply::Nil,
            Reply::Map(vec![(Reply::simple("k"), Reply::Double(1.5))]),
            Reply::Set(vec![Reply::Bool(true)]),
            Reply::error("ERR x"),
        ]);
        let three = enc(&r, true);
        assert_eq!(
            decode_reply(&three).unwrap(),
            Some((r.clone(), three.len()))
        );
        let two = enc(&r, false);
        assert_eq!(
            two,
            b"*6\r\n:-3\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n+k\r\n$3\r\n1.5\r\n*1\r\n:1\r\n-ERR x\r\n"
        );
        for i in 0..three.len() {
            assert_eq!(decode_reply(&three[..i]).unwrap(), None);
        }
    }
}
