//! What the server's request parser makes of the bytes a client sent: every byte explained by
//! the engine's own [`RequestDecoder`] (the playground's raw mode and wire annotations).
//!
//! [`trace_requests`] runs a fresh decoder over the bytes still buffered plus a new write, as
//! the engine would, and reports each request it finds (complete, skipped, unfinished or
//! invalid), each part of it (type byte, length, line end, payload, the two bytes after a bulk)
//! with an explanation, how many bytes the server is done with, and what it waits for. Because
//! the boundaries, arguments and errors come from the decoder itself, the explanation cannot
//! disagree with the server: `*1\r\n$3\r\nPING\r\n` is the command `PIN`, then an empty line.

use super::request::{Args, Decoded, ProtocolError, RequestDecoder};
use memchr::memchr;
use std::fmt::Write as _;
use std::ops::Range;

/// What a part of the bytes is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartKind {
    /// `*` or `$`.
    Type,
    /// The digits of a count or length.
    Length,
    /// `\r` and the byte after it, which ends a header line (Redis does not check it is `\n`).
    LineEnd,
    /// An argument's bytes.
    Payload,
    /// The two bytes after a bulk payload (Redis skips them without looking).
    PayloadEnd,
    /// An inline command's line (without its line end).
    Inline,
    /// Bytes that hold no command (an empty line, `*0`): skipped.
    Empty,
    /// Bytes of a header read so far, its line not yet ended.
    Pending,
    /// The bytes from a protocol error on: the connection closes, they are never read.
    Invalid,
}

impl PartKind {
    pub fn name(self) -> &'static str {
        match self {
            PartKind::Type => "type",
            PartKind::Length => "len",
            PartKind::LineEnd => "crlf",
            PartKind::Payload => "payload",
            PartKind::PayloadEnd => "crlf",
            PartKind::Inline => "inline",
            PartKind::Empty => "empty",
            PartKind::Pending => "pending",
            PartKind::Invalid => "invalid",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub start: usize,
    pub end: usize,
    pub kind: PartKind,
    /// The index of the request (in [`Trace::requests`]) the part belongs to.
    pub request: usize,
    pub why: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A whole request: the server runs it.
    Complete,
    /// Bytes that hold no command (an empty inline line, `*0`, `*-1`): skipped.
    Empty,
    /// The server waits for more bytes.
    Incomplete,
    /// A protocol error: the server replies `-ERR Protocol error: ...` and closes.
    Invalid(ProtocolError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub start: usize,
    pub end: usize,
    pub inline: bool,
    pub status: Status,
    /// The arguments read (all of them when complete).
    pub args: Vec<Vec<u8>>,
    /// A multibulk request's declared number of arguments, once its count line is read.
    pub count: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub requests: Vec<Request>,
    /// Every byte of the input in order, each in exactly one part.
    pub parts: Vec<Part>,
    /// Bytes the server is done with (complete and skipped requests; all of them after a
    /// protocol error). The rest is buffered, waiting for more.
    pub consumed: usize,
    /// "idle", "waiting" or "invalid".
    pub state: &'static str,
    /// What the parser does next, in words.
    pub explain: String,
}

/// Bytes as the playground shows them: printable ASCII, `\r`, `\n`, `\t`, `\\`, `\xHH`.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            32..=126 => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// A protocol error as the server's reply says it (the reply path maps CR and LF to spaces).
pub fn error_text(e: ProtocolError) -> String {
    e.to_string().replace(['\r', '\n'], " ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

struct Builder<'a> {
    buf: &'a [u8],
    t: Trace,
}

impl Builder<'_> {
    fn part(&mut self, start: usize, end: usize, kind: PartKind, why: String) {
        let end = end.min(self.buf.len());
        if end > start {
            let request = self.t.requests.len();
            self.t.parts.push(Part {
                start,
                end,
                kind,
                request,
                why,
            });
        }
    }

    fn line_end(&mut self, cr: usize, what: &str) {
        let why = match self.buf.get(cr + 1) {
            Some(b'\n') => format!("\\r\\n ends the {what} line"),
            Some(&b) => format!(
                "\\r and the byte after it ('{}') end the {what} line: Redis skips the byte after \\r without checking that it is \\n",
                show(&[b])
            ),
            None => format!("\\r of the {what} line: waiting for the byte after it (\\n)"),
        };
        self.part(cr, cr + 2, PartKind::LineEnd, why);
    }

    /// The parts of a multibulk request at `at` whose count line is read: the header, then the
    /// arguments in `ranges` (relative to `at`). Returns where the next unread header starts.
    fn multibulk_head(&mut self, at: usize, count: i64, ranges: &[Range<usize>]) -> usize {
        let buf = self.buf;
        let cr = at + 1 + memchr(b'\r', &buf[at + 1..]).unwrap_or(0);
        let what = if count <= 0 {
            "an array of no elements: no command, the server skips it".to_string()
        } else {
            format!(
                "an array of {}: the command and its arguments",
                plural(count as usize, "bulk string", "bulk strings")
            )
        };
        self.part(at, at + 1, PartKind::Type, format!("'*' type byte: {what}"));
        self.part(
            at + 1,
            cr,
            PartKind::Length,
            format!(
                "the count: {count} element{}",
                if count == 1 { "" } else { "s" }
            ),
        );
        self.line_end(cr, "count");
        let mut next = cr + 2;
        for (i, r) in ranges.iter().enumerate() {
            let (ps, pe) = (at + r.start, at + r.end);
            self.bulk_header(next, ps - 2, i, count);
            let word = if i == 0 {
                "the command name"
            } else {
                "an argument"
            };
            self.part(
                ps,
                pe,
                PartKind::Payload,
                format!(
                    "element {} of {count}, {word}: {} (binary safe, taken as is)",
                    i + 1,
                    plural(pe - ps, "byte", "bytes")
                ),
            );
            self.payload_end(pe, pe - ps);
            next = pe + 2;
        }
        next
    }

    /// The `$<len>\r` header of element `i` from `start`, its `\r` at `cr`.
    fn bulk_header(&mut self, start: usize, cr: usize, i: usize, count: i64) {
        self.part(
            start,
            start + 1,
            PartKind::Type,
            format!(
                "'$' type byte: element {} of {count} is a bulk string",
                i + 1
            ),
        );
        let len =
            String::from_utf8_lossy(&self.buf[start + 1..cr.min(self.buf.len())]).into_owned();
        self.part(
            start + 1,
            cr,
            PartKind::Length,
            format!("length: {len} bytes of payload follow"),
        );
        self.line_end(cr, "length");
    }

    fn payload_end(&mut self, pe: usize, len: usize) {
        let got = &self.buf[pe.min(self.buf.len())..(pe + 2).min(self.buf.len())];
        let why = if got == b"\r\n" {
            "\\r\\n after the payload (Redis skips these 2 bytes without looking at them)"
                .to_string()
        } else if got.len() < 2 {
            format!(
                "{} of the 2 bytes after the payload (\\r\\n): waiting for the rest",
                got.len()
            )
        } else {
            format!(
                "'{}' stands where \\r\\n should: Redis skips the 2 bytes after the {len}-byte payload without looking, so these bytes are lost and the argument is what the length said",
                show(got)
            )
        };
        self.part(pe, pe + 2, PartKind::PayloadEnd, why);
    }

    fn inline(&mut self, at: usize, consumed: usize, args: &[Vec<u8>]) {
        let nl = at + consumed - 1;
        let line_end = if nl > at && self.buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if args.is_empty() {
            self.part(
                at,
                nl + 1,
                PartKind::Empty,
                "an empty line (no words): the server skips it".into(),
            );
            return;
        }
        let words: Vec<String> = args.iter().map(|a| format!("\"{}\"", show(a))).collect();
        self.part(
            at,
            line_end,
            PartKind::Inline,
            format!(
                "an inline command (the first byte is not '*'): one line split into words as redis-cli does: {}",
                words.join(" ")
            ),
        );
        self.part(
            line_end,
            nl + 1,
            PartKind::LineEnd,
            "the line end: \\n (a \\r before it is dropped)".into(),
        );
    }
}

fn owned_args(buf: &[u8], dec: &RequestDecoder) -> Vec<Vec<u8>> {
    match dec.args() {
        Args::Ranges(r) => r.iter().map(|r| buf[r.clone()].to_vec()).collect(),
        Args::Owned(a) => a.to_vec(),
    }
}

fn ranges(dec: &RequestDecoder) -> Vec<Range<usize>> {
    match dec.args() {
        Args::Ranges(r) => r.to_vec(),
        Args::Owned(_) => Vec::new(),
    }
}

/// The count of the multibulk request at the start of `rest` (its line is read).
fn count_of(rest: &[u8]) -> i64 {
    let cr = memchr(b'\r', rest).unwrap_or(rest.len());
    crate::cnum::parse_i64(&rest[1..cr]).unwrap_or(0)
}

/// Runs the engine's request decoder over `buf` (the bytes a connection has buffered plus a new
/// write) and explains every byte. See the module documentation.
pub fn trace_requests(buf: &[u8]) -> Trace {
    let mut b = Builder {
        buf,
        t: Trace::default(),
    };
    let mut dec = RequestDecoder::new();
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.is_empty() {
            b.t.state = "idle";
            b.t.explain =
                "Idle: every byte sent has been read. The server waits for the next request."
                    .into();
            b.t.consumed = at;
            break;
        }
        let multibulk = rest[0] == b'*';
        match dec.decode(rest) {
            Ok(Decoded::Request { consumed }) => {
                let args = owned_args(rest, &dec);
                let count = multibulk.then(|| count_of(rest));
                if multibulk {
                    let r = ranges(&dec);
                    b.multibulk_head(at, count.unwrap_or(0), &r);
                } else {
                    b.inline(at, consumed, &args);
                }
                b.t.requests.push(Request {
                    start: at,
                    end: at + consumed,
                    inline: !multibulk,
                    status: Status::Complete,
                    args,
                    count,
                });
                at += consumed;
            }
            Ok(Decoded::Empty { consumed }) => {
                let count = multibulk.then(|| count_of(rest));
                if multibulk {
                    b.multibulk_head(at, count.unwrap_or(0), &[]);
                } else {
                    b.inline(at, consumed, &[]);
                }
                b.t.requests.push(Request {
                    start: at,
                    end: at + consumed,
                    inline: !multibulk,
                    status: Status::Empty,
                    args: Vec::new(),
                    count,
                });
                at += consumed;
            }
            Ok(Decoded::Incomplete) => {
                b.t.consumed = at;
                b.t.state = "waiting";
                let (remaining, pos, bulk_len) = dec.progress();
                let mut args = Vec::new();
                let mut count = None;
                if !multibulk {
                    b.part(at, buf.len(), PartKind::Inline, format!(
                        "an inline command (the first byte is not '*'), {} so far: waiting for \\n to end the line",
                        plural(rest.len(), "byte", "bytes")
                    ));
                    b.t.explain = format!(
                        "Reading an inline command (the first byte is not '*'): {} buffered, waiting for \\n to end the line.",
                        plural(rest.len(), "byte", "bytes")
                    );
                } else if remaining == 0 {
                    b.part(
                        at,
                        at + 1,
                        PartKind::Type,
                        "'*' type byte: an array, a multibulk request".into(),
                    );
                    b.part(
                        at + 1,
                        buf.len(),
                        PartKind::Pending,
                        "the count line so far: waiting for \\r and the byte after it".into(),
                    );
                    b.t.explain =
                        "Reading the array header (*<count>): waiting for the count and \\r\\n."
                            .into();
                } else {
                    let n = count_of(rest);
                    count = Some(n);
                    let r = ranges(&dec);
                    args = owned_args(rest, &dec);
                    let next = b.multibulk_head(at, n, &r);
                    let k = r.len() + 1;
                    match bulk_len {
                        None => {
                            let first = buf.get(next).copied();
                            if first.is_none() {
                            } else if first == Some(b'$') {
                                b.part(
                                    next,
                                    next + 1,
                                    PartKind::Type,
                                    format!("'$' type byte: element {k} of {n} is a bulk string"),
                                );
                                b.part(
                                    next + 1,
                                    buf.len(),
                                    PartKind::Pending,
                                    "the length so far: waiting for \\r and the byte after it"
                                        .into(),
                                );
                            } else {
                                b.part(next, buf.len(), PartKind::Pending, format!(
                                    "'{}' where '$' should start element {k}: once this line ends, the server replies with a protocol error",
                                    show(&buf[next..next + 1])
                                ));
                            }
                            b.t.explain = format!(
                                "Array of {n} elements: {} read, reading the header ($<length>\\r\\n) of element {k}.",
                                k - 1
                            );
                        }
                        Some(len) => {
                            let ps = at + pos;
                            b.bulk_header(next, ps - 2, k - 1, n);
                            let got = (buf.len() - ps).min(len);
                            b.part(
                                ps,
                                ps + got,
                                PartKind::Payload,
                                format!("element {k} of {n}: {got} of its {len} bytes so far"),
                            );
                            if got == len {
                                b.payload_end(ps + len, len);
                                b.t.explain = format!(
                                    "Element {k} of {n}: all {len} bytes read, waiting for the 2 bytes after the payload (\\r\\n)."
                                );
                            } else {
                                b.t.explain = format!(
                                    "Element {k} of {n}: a bulk string of {len} bytes, {got} received, waiting for {} more (then \\r\\n).",
                                    len - got
                                );
                            }
                        }
                    }
                }
                b.t.requests.push(Request {
                    start: at,
                    end: buf.len(),
                    inline: !multibulk,
                    status: Status::Incomplete,
                    args,
                    count,
                });
                break;
            }
            Err(err) => {
                let e = err;
                b.t.consumed = buf.len();
                b.t.state = "invalid";
                let mut count = None;
                let mut args = Vec::new();
                let bad = match e {
                    ProtocolError::TooBigInline | ProtocolError::UnbalancedQuotes => at,
                    ProtocolError::TooBigMbulkCount
                    | ProtocolError::InvalidMultibulkLength
                    | ProtocolError::UnauthenticatedMultibulkLength => {
                        b.part(
                            at,
                            at + 1,
                            PartKind::Type,
                            "'*' type byte: an array, a multibulk request".into(),
                        );
                        at + 1
                    }
                    _ => {
                        let (_, pos, _) = dec.progress();
                        let n = count_of(rest);
                        count = Some(n);
                        let r = ranges(&dec);
                        args = owned_args(rest, &dec);
                        b.multibulk_head(at, n, &r);
                        at + pos
                    }
                };
                let e = error_text(e);
                b.part(bad, buf.len(), PartKind::Invalid, format!(
                    "Protocol error: {e}. The server replies -ERR Protocol error: {e} and closes the connection: these bytes are never read"
                ));
                b.t.explain = format!(
                    "The server rejected these bytes: Protocol error: {e}. It replied with that error and closed the connection."
                );
                b.t.requests.push(Request {
                    start: at,
                    end: buf.len(),
                    inline: !multibulk,
                    status: Status::Invalid(err),
                    args,
                    count,
                });
                break;
            }
        }
    }
    b.t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::{ConnInfo, Engine};
    use crate::resp::encode_request;
    use crate::time::UnixMillis;

    #[test]
    fn the_issue_examples() {
        // $3 takes "PIN"; "G\r" are the two bytes skipped; "\n" is an empty inline line.
        let t = trace_requests(b"*1\r\n$3\r\nPING\r\n");
        assert_eq!(t.requests.len(), 2);
        assert_eq!(t.requests[0].args, vec![b"PIN".to_vec()]);
        assert_eq!(t.requests[0].status, Status::Complete);
        assert_eq!(t.requests[1].status, Status::Empty);
        assert_eq!(t.state, "idle");
        assert_eq!(t.consumed, 14);
        let skipped = t.parts.iter().find(|p| p.start == 11).unwrap();
        assert_eq!(skipped.kind, PartKind::PayloadEnd);
        assert!(skipped.why.contains("'G\\r'"), "{}", skipped.why);
        // A split request: the continuation is element 2, not an inline command.
        let t = trace_requests(b"*2\r\n$3\r\nGET\r\n$1\r\n");
        assert_eq!(t.state, "waiting");
        assert_eq!(t.consumed, 0);
        assert!(t.explain.contains("Element 2 of 2"), "{}", t.explain);
        assert!(t.parts.iter().all(|p| p.kind != PartKind::Inline));
        let t = trace_requests(b"*2\r\n$3\r\nGET\r\nx\r\n");
        assert_eq!(t.state, "invalid");
        assert_eq!(
            t.requests[0].status,
            Status::Invalid(ProtocolError::ExpectedDollar(b'x'))
        );
        assert_eq!(t.parts.last().unwrap().start, 13);
    }

    /// Every byte is in exactly one part, in order.
    fn check_parts(buf: &[u8], t: &Trace) {
        let mut at = 0;
        for p in &t.parts {
            assert_eq!(
                p.start,
                at,
                "{:?}: gap or overlap at {at} in {:?}",
                show(buf),
                t.parts
            );
            assert!(p.end > p.start);
            at = p.end;
        }
        assert_eq!(at, buf.len(), "{:?}: bytes not covered", show(buf));
    }

    fn engine() -> (Engine, crate::engine::ClientHandle) {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(1), ConnInfo::default());
        (eng, id)
    }

    /// What the engine answers when the trace's requests are sent one by one as well-formed
    /// multibulk, plus the protocol error the trace found: what the raw bytes must produce.
    fn expected(t: &Trace) -> (Vec<u8>, bool) {
        let (mut eng, id) = engine();
        let mut out = Vec::new();
        let mut closes = false;
        for r in &t.requests {
            match r.status {
                Status::Complete => {
                    eng.feed(UnixMillis(1), id, &encode_request(&r.args));
                    eng.drain_output(id, &mut out);
                }
                Status::Invalid(e) => {
                    out.extend_from_slice(
                        format!("-ERR Protocol error: {}\r\n", error_text(e)).as_bytes(),
                    );
                    closes = true;
                }
                _ => {}
            }
        }
        (out, closes)
    }

    fn corpus() -> Vec<Vec<u8>> {
        let valid: Vec<&[u8]> = vec![
            b"*1\r\n$4\r\nPING\r\n",
            b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\nx\r\n",
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
            b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
            b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n",
            b"*2\r\n$4\r\nECHO\r\n$3\r\n\x00\xff\x01\r\n",
            b"*1\r\n$3\r\nPING\r\n",
            b"*1\n$4\r\nPING\r\n",
            b"*1\r\n$4\nPING\r\n",
            b"*1\r\n$4\r\nPINGxx",
            b"*+1\r\n$4\r\nPING\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"*-5\r\n",
            b"PING\r\n",
            b"PING\n",
            b"ECHO \"a b\" 'c d'\r\n",
            b"ECHO \"\\x41\\n\"\n",
            b"   \r\n",
            b"\n",
            b"\r\n",
            b"$3\r\nfoo\r\n",
            b"SET k \"v w\"\r\nGET k\r\n",
            b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n",
            b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n",
            b"*3\r\n$4\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n",
            b"*1\r\n$7\r\nUNKNOWN\r\n",
            b"*2\r\n$3\r\nGET\r\n",
            b"*2\r\n$4\r\nECHO\r\n$10\r\nabc",
            b"*",
            b"*1",
            b"*1\r",
            b"ECHO partial",
        ];
        let malformed: Vec<&[u8]> = vec![
            b"*x\r\n",
            b"*1x\r\n$4\r\nPING\r\n",
            b"*2147483648\r\n",
            b"*2\r\n$3\r\nGET\r\nx\r\n",
            b"*1\r\n:1\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$abc\r\n",
            b"*1\r\n$1x\r\nP\r\n",
            b"*1\r\n$4 \r\nPING\r\n",
            b"ECHO \"abc\r\n",
            b"ECHO 'a'b\r\n",
            b"*1\r\n$536870913\r\n",
        ];
        let mut out: Vec<Vec<u8>> = Vec::new();
        for a in valid.iter().chain(&malformed) {
            out.push(a.to_vec());
        }
        // Pairs: a request followed by another (valid or not), in one stream.
        for a in &valid {
            for b in valid.iter().chain(&malformed) {
                out.push([*a, *b].concat());
            }
        }
        out
    }

    /// The agreement test: for every stream of the corpus, at every split point, the trace of the
    /// bytes sent so far predicts exactly what the engine answers (each request it says is
    /// complete run with the arguments it says, the protocol error it says) and when it closes.
    #[test]
    fn the_trace_agrees_with_the_engine_on_every_byte() {
        let streams = corpus();
        assert!(streams.len() >= 500, "{} streams", streams.len());
        let mut requests = 0;
        let mut prefixes = 0;
        for s in &streams {
            let full = trace_requests(s);
            check_parts(s, &full);
            requests += full.requests.len();
            let (want, closes) = expected(&full);
            for k in 0..=s.len() {
                let t = trace_requests(&s[..k]);
                check_parts(&s[..k], &t);
                let (want_k, closes_k) = expected(&t);
                let (mut eng, id) = engine();
                let mut out = Vec::new();
                eng.feed(UnixMillis(1), id, &s[..k]);
                eng.drain_output(id, &mut out);
                assert_eq!(
                    show(&out),
                    show(&want_k),
                    "{:?} cut at {k}: the engine answered differently from the trace",
                    show(s)
                );
                assert_eq!(
                    eng.should_close(id),
                    closes_k,
                    "{:?} cut at {k}: closing",
                    show(s)
                );
                if !closes_k {
                    eng.feed(UnixMillis(1), id, &s[k..]);
                    eng.drain_output(id, &mut out);
                    assert_eq!(show(&out), show(&want), "{:?} split at {k}", show(s));
                    assert_eq!(
                        eng.should_close(id),
                        closes,
                        "{:?} split at {k}: closing",
                        show(s)
                    );
                }
                prefixes += 1;
            }
        }
        eprintln!(
            "{} streams, {requests} requests, {prefixes} split points agree",
            streams.len()
        );
        assert!(requests >= 500, "{requests} requests");
        assert!(prefixes >= streams.len() * 10, "{prefixes} prefixes");
    }

    #[test]
    fn limits_are_the_parsers() {
        let mut big = b"ECHO ".to_vec();
        big.resize(70_000, b'a');
        let t = trace_requests(&big);
        assert_eq!(
            t.requests[0].status,
            Status::Invalid(ProtocolError::TooBigInline)
        );
        let (want, closes) = expected(&t);
        let (mut eng, id) = engine();
        let mut out = Vec::new();
        eng.feed(UnixMillis(1), id, &big);
        eng.drain_output(id, &mut out);
        assert_eq!(out, want);
        assert!(closes && eng.should_close(id));
    }
}
