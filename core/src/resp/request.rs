//! The request decoder: Redis's `processMultibulkBuffer` and `processInlineBuffer`, incremental.
//!
//! The decoder is handed the bytes of the current request (from its first byte on) each time
//! more arrive, and remembers how far it got, so no byte is scanned twice however a pipelined
//! stream is split. Limits and error texts are Redis's; the caller replies
//! `-ERR Protocol error: <text>` and closes the connection.

use crate::cnum::{is_c_space, parse_i64};
use memchr::memchr;
use std::ops::Range;

/// Redis's PROTO_INLINE_MAX_SIZE: the longest inline request and the longest `*`/`$` header line.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Redis rejects multibulk counts above INT_MAX.
const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;

/// Why a request stream is invalid; `Display` is the text after "Protocol error: ".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMbulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigMbulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            // Redis prints the byte with %c; the reply path maps CR and LF to spaces.
            ProtocolError::ExpectedDollar(b) => {
                write!(f, "expected '$', got '{}'", char::from(*b))
            }
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

/// What one call to [`RequestDecoder::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole request of `consumed` bytes; its arguments are in [`RequestDecoder::args`].
    Request { consumed: usize },
    /// `consumed` bytes that hold no command (an empty inline line, `*0`, `*-1`): skip them.
    Empty { consumed: usize },
    /// More bytes are needed.
    Incomplete,
}

/// The arguments of the last decoded request.
pub enum Args<'a> {
    /// Multibulk: ranges into the buffer given to `decode`.
    Ranges(&'a [Range<usize>]),
    /// Inline: unquoted copies.
    Owned(&'a [Vec<u8>]),
}

#[derive(Debug, Default)]
pub struct RequestDecoder {
    /// Arguments still to read of the current multibulk request; 0 when between requests.
    remaining: usize,
    /// Where the next unread header or bulk starts, relative to the request's first byte.
    pos: usize,
    /// The length of the bulk being waited for, once its `$` line is read.
    bulk_len: Option<usize>,
    ranges: Vec<Range<usize>>,
    inline: Vec<Vec<u8>>,
    is_inline: bool,
    /// Redis's `proto-max-bulk-len`.
    pub max_bulk_len: u64,
    /// Redis refuses long headers from clients that must still authenticate.
    pub unauthenticated: bool,
}

impl RequestDecoder {
    pub fn new() -> RequestDecoder {
        RequestDecoder {
            max_bulk_len: 512 * 1024 * 1024,
            ..Default::default()
        }
    }

    /// True while part of a request has been read and the rest is awaited.
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// Where an unfinished multibulk request stands, after `decode` answered `Incomplete`:
    /// (arguments still to read, offset of the next unread header or bulk, the length of the
    /// bulk being waited for once its `$` line is read). For tools that explain the parser.
    pub fn progress(&self) -> (usize, usize, Option<usize>) {
        (self.remaining, self.pos, self.bulk_len)
    }

    pub fn args(&self) -> Args<'_> {
        if self.is_inline {
            Args::Owned(&self.inline)
        } else {
            Args::Ranges(&self.ranges)
        }
    }

    /// Decodes the request at the start of `buf`. After `Incomplete`, call again with the same
    /// bytes plus more; after anything else, call with the bytes that follow `consumed`.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Decoded, ProtocolError> {
        if self.remaining == 0 {
            match buf.first() {
                None => return Ok(Decoded::Incomplete),
                Some(b'*') => {}
                Some(_) => return self.decode_inline(buf),
            }
            self.is_inline = false;
            self.ranges.clear();
            let window = &buf[1..buf.len().min(PROTO_INLINE_MAX_SIZE + 1)];
            let Some(cr) = memchr(b'\r', window).map(|i| i + 1) else {
                if buf.len() > PROTO_INLINE_MAX_SIZE {
                    return Err(ProtocolError::TooBigMbulkCount);
                }
                return Ok(Decoded::Incomplete);
            };
            // Redis wants the byte after '\r' to be present but does not check it is '\n'.
            if cr + 1 >= buf.len() {
                return Ok(Decoded::Incomplete);
            }
            let count = match parse_i64(&buf[1..cr]) {
                Some(n) if n <= MAX_MULTIBULK_LEN => n,
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            };
            if count > 10 && self.unauthenticated {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            if count <= 0 {
                return Ok(Decoded::Empty { consumed: cr + 2 });
            }
            self.remaining = count as usize;
            self.pos = cr + 2;
            self.bulk_len = None;
            // A hostile count must not allocate: grow as arguments actually arrive.
            self.ranges.reserve(self.remaining.min(1024));
        }
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let rest = &buf[self.pos.min(buf.len())..];
                    let Some(cr) =
                        memchr(b'\r', &rest[..rest.len().min(PROTO_INLINE_MAX_SIZE + 1)])
                    else {
                        if rest.len() > PROTO_INLINE_MAX_SIZE {
                            self.remaining = 0;
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(Decoded::Incomplete);
                    };
                    if cr + 1 >= rest.len() {
                        return Ok(Decoded::Incomplete);
                    }
                    if rest[0] != b'$' {
                        self.remaining = 0;
                        return Err(ProtocolError::ExpectedDollar(rest[0]));
                    }
                    let len = match parse_i64(&rest[1..cr]) {
                        Some(n) if n >= 0 && (n as u64) <= self.max_bulk_len => n as usize,
                        _ => {
                            self.remaining = 0;
                            return Err(ProtocolError::InvalidBulkLength);
                        }
                    };
                    if len > 16384 && self.unauthenticated {
                        self.remaining = 0;
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.pos += cr + 2;
                    self.bulk_len = Some(len);
                    len
                }
            };
            // The bulk and the two bytes after it (Redis skips them without looking).
            if buf.len() < self.pos + len + 2 {
                return Ok(Decoded::Incomplete);
            }
            self.ranges.push(self.pos..self.pos + len);
            self.pos += len + 2;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        Ok(Decoded::Request { consumed: self.pos })
    }

    fn decode_inline(&mut self, buf: &[u8]) -> Result<Decoded, ProtocolError> {
        // Redis checks the limit whenever a read leaves no newline in the buffer; reads are
        // chunked, so in effect any inline line longer than the limit is refused. Checking the
        // line itself makes that independent of how the host chunks its reads.
        let Some(nl) = memchr(b'\n', &buf[..buf.len().min(PROTO_INLINE_MAX_SIZE + 1)]) else {
            if buf.len() > PROTO_INLINE_MAX_SIZE {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(Decoded::Incomplete);
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        self.is_inline = true;
        self.inline.clear();
        if !split_args(&buf[..line_end], &mut self.inline) {
            return Err(ProtocolError::UnbalancedQuotes);
        }
        if self.inline.is_empty() {
            return Ok(Decoded::Empty { consumed: nl + 1 });
        }
        Ok(Decoded::Request { consumed: nl + 1 })
    }
}

/// Encodes arguments as a RESP multibulk request (what clients send).
pub fn encode_request<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    append_request(&mut out, args);
    out
}

/// Appends one multibulk request to `out` (for pipelines).
pub fn append_request<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    append_request_len(out, args.len());
    for a in args {
        append_request_arg(out, a.as_ref());
    }
}

/// Appends a request's header, `*<argc>\r\n`: for callers that produce the arguments one by
/// one (then [`append_request_arg`] for each).
pub fn append_request_len(out: &mut Vec<u8>, argc: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(argc).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The length of a request's RESP multibulk encoding (`*<argc>\r\n` and one `$<len>\r\n..\r\n`
/// per argument), without building it.
pub fn request_len(args: &[&[u8]]) -> usize {
    let digits = |mut n: usize| {
        let mut d = 1;
        while n >= 10 {
            n /= 10;
            d += 1;
        }
        d
    };
    args.iter().fold(3 + digits(args.len()), |n, a| {
        n + 5 + digits(a.len()) + a.len()
    })
}

/// Appends one argument as a bulk string, `$<len>\r\n<bytes>\r\n` (at most `arg.len() + 25`
/// bytes).
pub fn append_request_arg(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Redis's `sdssplitargs`, the inline-command and redis-cli argument splitter: blanks separate
/// arguments, "double quotes" take \xHH, \n, \r, \t, \b, \a and \<any> escapes, 'single quotes'
/// take only \'. A closing quote must be followed by a blank or the end. As in C, a NUL byte
/// ends the line. Returns false for unbalanced quotes.
pub fn split_args(line: &[u8], out: &mut Vec<Vec<u8>>) -> bool {
    let line = match memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return true;
        }
        let (mut inq, mut insq) = (false, false);
        let mut current = Vec::new();
        loop {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return false;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return false;
                } else {
                    current.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return false;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return false;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => current.push(c),
                }
            }
            p += 1;
        }
        out.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(d: &RequestDecoder, buf: &[u8]) -> Vec<Vec<u8>> {
        match d.args() {
            Args::Ranges(r) => r.iter().map(|r| buf[r.clone()].to_vec()).collect(),
            Args::Owned(o) => o.to_vec(),
        }
    }

    /// Feeds `stream` split at `split`, returning every request's arguments or the error.
    fn decode_all(stream: &[u8], splits: &[usize]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut d = RequestDecoder::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut last = 0;
        let mut cuts: Vec<usize> = splits.to_vec();
        cuts.push(stream.len());
        for cut in cuts {
            pending.extend_from_slice(&stream[last..cut]);
            last = cut;
            loop {
                match d.decode(&pending) {
                    Ok(Decoded::Request { consumed }) => {
                        out.push(args_of(&d, &pending));
                        pending.drain(..consumed);
                    }
                    Ok(Decoded::Empty { consumed }) => {
                        pending.drain(..consumed);
                    }
                    Ok(Decoded::Incomplete) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn pipeline_split_at_every_byte() {
        let stream = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\r\no\r\nPING\r\n*0\r\n*1\r\n$4\r\nPING\r\nset a \"b c\"\n";
        let want = vec![
            v(&["SET", "k", "he\r\no"]),
            v(&["PING"]),
            v(&["PING"]),
            v(&["set", "a", "b c"]),
        ];
        assert_eq!(decode_all(stream, &[]), (want.clone(), None));
        for i in 0..stream.len() {
            assert_eq!(
                decode_all(stream, &[i]),
                (want.clone(), None),
                "split at {i}"
            );
        }
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(decode_all(stream, &every), (want, None));
    }

    #[test]
    fn protocol_errors() {
        let e = |s: &[u8]| decode_all(s, &[]).1;
        assert_eq!(e(b"*abc\r\n"), Some(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            e(b"*999999999999\r\n"),
            Some(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            e(b"*1\r\n$600000000\r\n"),
            Some(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(e(b"*1\r\n$-1\r\n"), Some(ProtocolError::InvalidBulkLength));
        assert_eq!(
            e(b"*1\r\n:1\r\n"),
            Some(ProtocolError::ExpectedDollar(b':'))
        );
        assert_eq!(e(b"set \"a\n"), Some(ProtocolError::UnbalancedQuotes));
        assert_eq!(e(&vec![b'a'; 70_000]), Some(ProtocolError::TooBigInline));
        let mut long_line = vec![b'a'; 2 * 1024 * 1024];
        long_line.extend_from_slice(b"\r\n");
        assert_eq!(e(&long_line), Some(ProtocolError::TooBigInline));
        let mut big = b"*1\r\n".to_vec();
        big.extend(vec![b'1'; 70_000]);
        assert_eq!(e(&big), Some(ProtocolError::TooBigBulkCount));
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; 70_000]);
        assert_eq!(e(&big), Some(ProtocolError::TooBigMbulkCount));
        // Below the limits, these only wait for more bytes.
        assert_eq!(decode_all(&vec![b'a'; 60_000], &[]), (vec![], None));
    }

    #[test]
    fn a_huge_count_allocates_nothing_up_front() {
        let mut d = RequestDecoder::new();
        assert_eq!(d.decode(b"*2147483647\r\n").unwrap(), Decoded::Incomplete);
        assert!(d.ranges.capacity() <= 1024);
    }

    #[test]
    fn split_args_matches_sdssplitargs() {
        let split = |s: &str| {
            let mut out = Vec::new();
            split_args(s.as_bytes(), &mut out).then_some(out)
        };
        assert_eq!(split("  a  b\tc "), Some(v(&["a", "b", "c"])));
        assert_eq!(split(r#""a\x41\n" 'it\'s'"#), Some(v(&["aA\n", "it's"])));
        assert_eq!(split(r#"a"b c"d"#), None);
        assert_eq!(split(r#"x"b c""#), Some(v(&["xb c"])));
        assert_eq!(split(r#""unterminated"#), None);
        assert_eq!(split(r#"'a'b"#), None);
        assert_eq!(split(r#""\z\"""#), Some(v(&["z\""])));
        assert_eq!(split(""), Some(vec![]));
    }

    proptest::proptest! {
        /// Any bytes, split anywhere: no panic, and the same requests as when sent whole.
        #[test]
        fn any_split_decodes_the_same(
            stream in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= stream.len()).collect();
            cuts.sort_unstable();
            proptest::prop_assert_eq!(decode_all(&stream, &cuts), decode_all(&stream, &[]));
        }

        /// Well-formed multibulk requests round-trip through any split.
        #[test]
        fn multibulk_round_trips(
            args in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20), 1..6),
            cut in 0usize..200,
        ) {
            let mut stream = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                stream.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                stream.extend_from_slice(a);
                stream.extend_from_slice(b"\r\n");
            }
            let cut = cut.min(stream.len());
            proptest::prop_assert_eq!(decode_all(&stream, &[cut]), (vec![args], None));
        }
    }
}

#[cfg(test)]
mod props;
