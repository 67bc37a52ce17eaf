//! An annotated RESP decoder for tools (the playground's byte inspector, the wasm package's
//! `decodeAnnotated`): every frame of a buffer as a tree of nodes with their offsets (type byte,
//! header line, payload, each CRLF), and what went wrong where the bytes stop making sense.
//!
//! Unlike [`decode_reply`](super::decode_reply) it never fails: incomplete input gives nodes
//! marked [`Status::Incomplete`] (with what was read so far), invalid input a node marked
//! [`Status::Invalid`] with a message, and decoding stops there. It accepts RESP2 and RESP3,
//! replies and multibulk requests (an inline request is reported as [`Kind::Inline`]).
//! Hostile input is bounded: nesting deeper than [`MAX_DEPTH`] and more than [`MAX_NODES`]
//! nodes are reported as invalid rather than followed, and declared lengths never allocate.

use crate::cnum::parse_i64;
use memchr::memchr;

/// Nesting deeper than this is reported as invalid (the decoder recurses).
pub const MAX_DEPTH: usize = 128;
/// At most this many nodes are decoded; the rest of the buffer is left undecoded.
pub const MAX_NODES: usize = 100_000;

/// What a node is, from its type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
    Null,
    Boolean,
    Double,
    BigNumber,
    BulkError,
    VerbatimString,
    Map,
    Set,
    Attribute,
    Push,
    /// A line that does not start with a type byte: an inline request (requests only).
    Inline,
    /// An unknown type byte.
    Unknown,
}

impl Kind {
    pub fn from_byte(b: u8) -> Kind {
        match b {
            b'+' => Kind::SimpleString,
            b'-' => Kind::Error,
            b':' => Kind::Integer,
            b'$' => Kind::BulkString,
            b'*' => Kind::Array,
            b'_' => Kind::Null,
            b'#' => Kind::Boolean,
            b',' => Kind::Double,
            b'(' => Kind::BigNumber,
            b'!' => Kind::BulkError,
            b'=' => Kind::VerbatimString,
            b'%' => Kind::Map,
            b'~' => Kind::Set,
            b'|' => Kind::Attribute,
            b'>' => Kind::Push,
            b if b.is_ascii_alphabetic() => Kind::Inline,
            _ => Kind::Unknown,
        }
    }

    /// The type byte (None for inline requests and unknown bytes).
    pub fn byte(self) -> Option<u8> {
        Some(match self {
            Kind::SimpleString => b'+',
            Kind::Error => b'-',
            Kind::Integer => b':',
            Kind::BulkString => b'$',
            Kind::Array => b'*',
            Kind::Null => b'_',
            Kind::Boolean => b'#',
            Kind::Double => b',',
            Kind::BigNumber => b'(',
            Kind::BulkError => b'!',
            Kind::VerbatimString => b'=',
            Kind::Map => b'%',
            Kind::Set => b'~',
            Kind::Attribute => b'|',
            Kind::Push => b'>',
            Kind::Inline | Kind::Unknown => return None,
        })
    }

    /// A short lowercase name ("bulk-string", "push" ...), for display.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SimpleString => "simple-string",
            Kind::Error => "error",
            Kind::Integer => "integer",
            Kind::BulkString => "bulk-string",
            Kind::Array => "array",
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Double => "double",
            Kind::BigNumber => "big-number",
            Kind::BulkError => "bulk-error",
            Kind::VerbatimString => "verbatim-string",
            Kind::Map => "map",
            Kind::Set => "set",
            Kind::Attribute => "attribute",
            Kind::Push => "push",
            Kind::Inline => "inline",
            Kind::Unknown => "unknown",
        }
    }

    /// Whether the header's number counts children (`*`, `%` ...) rather than bytes (`$` ...).
    fn is_aggregate(self) -> bool {
        matches!(
            self,
            Kind::Array | Kind::Map | Kind::Set | Kind::Attribute | Kind::Push
        )
    }

    fn is_blob(self) -> bool {
        matches!(
            self,
            Kind::BulkString | Kind::BulkError | Kind::VerbatimString
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Complete,
    /// The buffer ends inside this node.
    Incomplete,
    /// The bytes are not RESP here; decoding stops.
    Invalid(String),
}

/// One decoded element. Offsets are byte offsets into the buffer; ranges are half-open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Offset of the type byte (the node's first byte).
    pub start: usize,
    /// Offset just past the node (its last CRLF, or its children's end); where decoding
    /// stopped for an incomplete or invalid node.
    pub end: usize,
    /// The declared length (`$`, `=`, `!`: bytes; `*`, `~`, `>`: elements; `%`, `|`: pairs),
    /// -1 for RESP2 nulls.
    pub length: Option<i64>,
    /// The header line's text after the type byte (a simple value, or the length digits).
    pub line: (usize, usize),
    /// The payload: the line's value for simple types, the body for bulk types.
    pub payload: Option<(usize, usize)>,
    /// Offsets of the CRLFs that belong to this node itself (the '\r' of each).
    pub crlf: Vec<usize>,
    /// Elements of an aggregate (for maps and attributes: key, value, key, value ...).
    pub children: Vec<Node>,
    pub status: Status,
}

impl Node {
    fn new(kind: Kind, start: usize) -> Node {
        Node {
            kind,
            start,
            end: start,
            length: None,
            line: (start, start),
            payload: None,
            crlf: Vec::new(),
            children: Vec::new(),
            status: Status::Complete,
        }
    }

    /// True if this node and all its children decoded completely.
    pub fn is_complete(&self) -> bool {
        self.status == Status::Complete
    }
}

/// Every frame in `buf`, in order. Decoding stops after the first frame that is incomplete or
/// invalid (it is the last node), or after [`MAX_NODES`] nodes.
pub fn annotate(buf: &[u8]) -> Vec<Node> {
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut budget = MAX_NODES;
    while pos < buf.len() {
        if budget == 0 {
            let mut n = Node::new(Kind::Unknown, pos);
            n.end = buf.len();
            n.status = Status::Invalid(format!("more than {MAX_NODES} nodes: not decoded"));
            frames.push(n);
            break;
        }
        let node = node_at(buf, pos, 0, &mut budget);
        pos = node.end;
        let stop = !node.is_complete();
        frames.push(node);
        if stop {
            break;
        }
    }
    frames
}

/// Finds the CRLF ending the line that starts at `from`: Ok(offset of '\r'), Err(None) if the
/// buffer ends first, Err(Some(offset)) for a bare LF.
fn find_crlf(buf: &[u8], from: usize) -> Result<usize, Option<usize>> {
    let rest = buf.get(from..).unwrap_or_default();
    match memchr(b'\n', rest) {
        None => Err(None),
        Some(0) => Err(Some(from)),
        Some(i) if rest[i - 1] != b'\r' => Err(Some(from + i)),
        Some(i) => Ok(from + i - 1),
    }
}

fn node_at(buf: &[u8], start: usize, depth: usize, budget: &mut usize) -> Node {
    *budget = budget.saturating_sub(1);
    let Some(&type_byte) = buf.get(start) else {
        let mut n = Node::new(Kind::Unknown, start);
        n.status = Status::Incomplete;
        return n;
    };
    let kind = Kind::from_byte(type_byte);
    let mut n = Node::new(kind, start);
    if kind == Kind::Unknown {
        n.end = start + 1;
        n.status = Status::Invalid(format!(
            "unknown type byte {:?} (0x{type_byte:02x})",
            type_byte as char
        ));
        return n;
    }
    let line_start = if kind == Kind::Inline {
        start
    } else {
        start + 1
    };
    let cr = match find_crlf(buf, line_start) {
        Ok(cr) => cr,
        Err(None) => {
            n.line = (line_start, buf.len());
            n.end = buf.len();
            n.status = Status::Incomplete;
            return n;
        }
        Err(Some(lf)) => {
            n.line = (line_start, lf);
            n.end = lf + 1;
            n.status = Status::Invalid(format!("LF without CR at offset {lf}"));
            return n;
        }
    };
    n.line = (line_start, cr);
    n.crlf.push(cr);
    n.end = cr + 2;
    let line = &buf[line_start..cr];
    let invalid = |n: &mut Node, msg: String| n.status = Status::Invalid(msg);
    match kind {
        Kind::SimpleString | Kind::Error | Kind::BigNumber | Kind::Inline => {
            n.payload = Some(n.line);
        }
        Kind::Integer => {
            n.payload = Some(n.line);
            if parse_i64(line).is_none() {
                invalid(&mut n, format!("bad integer {:?}", lossy(line)));
            }
        }
        Kind::Null => {
            if !line.is_empty() {
                invalid(&mut n, format!("null with data {:?}", lossy(line)));
            }
        }
        Kind::Boolean => {
            n.payload = Some(n.line);
            if line != b"t" && line != b"f" {
                invalid(&mut n, format!("bad boolean {:?}", lossy(line)));
            }
        }
        Kind::Double => {
            n.payload = Some(n.line);
            let ok = std::str::from_utf8(line)
                .is_ok_and(|s| matches!(s, "inf" | "-inf" | "nan") || s.parse::<f64>().is_ok());
            if !ok {
                invalid(&mut n, format!("bad double {:?}", lossy(line)));
            }
        }
        _ => {
            let Some(len) = parse_i64(line) else {
                invalid(&mut n, format!("bad length {:?}", lossy(line)));
                return n;
            };
            n.length = Some(len);
            if len < 0 {
                // RESP2's $-1 and *-1; nothing else is negative.
                if len != -1 || !matches!(kind, Kind::BulkString | Kind::Array) {
                    invalid(&mut n, format!("negative length {len}"));
                }
                return n;
            }
            if kind.is_blob() {
                blob(buf, &mut n, len);
            } else if kind.is_aggregate() {
                aggregate(buf, &mut n, len, depth, budget);
            }
        }
    }
    n
}

fn blob(buf: &[u8], n: &mut Node, len: i64) {
    let body = n.end;
    let Some(body_end) = usize::try_from(len).ok().and_then(|l| body.checked_add(l)) else {
        n.status = Status::Invalid(format!("length {len} is too large"));
        return;
    };
    if body_end > buf.len() {
        n.payload = Some((body, buf.len()));
        n.end = buf.len();
        n.status = Status::Incomplete;
        return;
    }
    n.payload = Some((body, body_end));
    match buf.get(body_end..body_end.saturating_add(2)) {
        Some(b"\r\n") => {
            n.crlf.push(body_end);
            n.end = body_end + 2;
            if n.kind == Kind::VerbatimString && (len < 4 || buf.get(body + 3) != Some(&b':')) {
                n.status =
                    Status::Invalid("verbatim string without a 3-byte format and ':'".into());
            }
        }
        Some(_) => {
            n.end = body_end;
            n.status = Status::Invalid(format!(
                "expected CRLF after {len} bytes at offset {body_end}"
            ));
        }
        None => {
            // One byte short of the CRLF, or just the CR: incomplete unless the byte is wrong.
            n.end = buf.len();
            n.status = if buf.get(body_end).is_none_or(|&b| b == b'\r') {
                Status::Incomplete
            } else {
                Status::Invalid(format!(
                    "expected CRLF after {len} bytes at offset {body_end}"
                ))
            };
        }
    }
}

fn aggregate(buf: &[u8], n: &mut Node, len: i64, depth: usize, budget: &mut usize) {
    if depth >= MAX_DEPTH {
        n.status = Status::Invalid(format!("nested deeper than {MAX_DEPTH} levels"));
        return;
    }
    let count = if matches!(n.kind, Kind::Map | Kind::Attribute) {
        len.checked_mul(2)
    } else {
        Some(len)
    };
    let Some(count) = count else {
        n.status = Status::Invalid(format!("length {len} is too large"));
        return;
    };
    let mut pos = n.end;
    let mut i = 0;
    while i < count {
        if pos >= buf.len() {
            n.status = Status::Incomplete;
            break;
        }
        if *budget == 0 {
            n.status = Status::Invalid(format!("more than {MAX_NODES} nodes: not decoded"));
            break;
        }
        let child = node_at(buf, pos, depth + 1, budget);
        pos = child.end;
        let status = child.status.clone();
        n.children.push(child);
        if status != Status::Complete {
            n.status = match status {
                Status::Invalid(_) => Status::Invalid("invalid element".into()),
                other => other,
            };
            break;
        }
        i += 1;
    }
    n.end = pos;
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> Node {
        let v = annotate(buf);
        assert_eq!(v.len(), 1, "{v:?}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn simple_types_and_offsets() {
        let n = one(b"+OK\r\n");
        assert_eq!(
            (n.kind, n.start, n.end, n.payload, n.crlf.clone()),
            (Kind::SimpleString, 0, 5, Some((1, 3)), vec![3])
        );
        assert!(n.is_complete());
        let v = annotate(b":12\r\n-ERR x\r\n_\r\n#t\r\n,1.5\r\n(123\r\n");
        let kinds: Vec<Kind> = v.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Integer,
                Kind::Error,
                Kind::Null,
                Kind::Boolean,
                Kind::Double,
                Kind::BigNumber
            ]
        );
        assert!(v.iter().all(Node::is_complete));
        assert_eq!(v[1].payload, Some((6, 11)));
    }

    #[test]
    fn bulk_and_nested_aggregates() {
        let buf = b"*2\r\n$3\r\nfoo\r\n%1\r\n+k\r\n:1\r\n";
        let n = one(buf);
        assert_eq!((n.kind, n.length, n.end), (Kind::Array, Some(2), buf.len()));
        assert_eq!(n.crlf, vec![2]);
        let bulk = &n.children[0];
        assert_eq!(
            (bulk.kind, bulk.length, bulk.payload, bulk.crlf.clone()),
            (Kind::BulkString, Some(3), Some((8, 11)), vec![6, 11])
        );
        let map = &n.children[1];
        assert_eq!(
            (map.kind, map.length, map.children.len()),
            (Kind::Map, Some(1), 2)
        );
        assert!(n.is_complete());
        // Binary-safe bodies: CRLF inside the payload is data.
        let n = one(b"$4\r\na\r\nb\r\n");
        assert_eq!((n.payload, n.end), (Some((4, 8)), 10));
        let n = one(b"=8\r\ntxt:abcd\r\n");
        assert!(n.is_complete());
    }

    #[test]
    fn nulls_resp2_and_resp3() {
        assert_eq!(one(b"$-1\r\n").length, Some(-1));
        assert!(one(b"*-1\r\n").is_complete());
        assert!(matches!(one(b"$-2\r\n").status, Status::Invalid(_)));
        assert!(matches!(one(b"%-1\r\n").status, Status::Invalid(_)));
    }

    #[test]
    fn every_prefix_is_incomplete_not_invalid() {
        let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n%1\r\n+a\r\n=6\r\ntxt:xy\r\n";
        for i in 1..buf.len() {
            let v = annotate(&buf[..i]);
            let last = v.last().unwrap();
            assert_eq!(last.status, Status::Incomplete, "prefix {i}: {v:?}");
            assert!(last.end <= i);
        }
        assert!(one(buf).is_complete());
        assert!(annotate(b"").is_empty());
    }

    #[test]
    fn invalid_input_is_reported_and_stops() {
        let v = annotate(b"+OK\r\n?x\r\n+NO\r\n");
        assert_eq!(v.len(), 2);
        assert!(matches!(&v[1].status, Status::Invalid(m) if m.contains("unknown type byte")));
        assert!(matches!(one(b":x1\r\n").status, Status::Invalid(_)));
        assert!(matches!(one(b"$x\r\n").status, Status::Invalid(_)));
        assert!(matches!(one(b"+OK\n").status, Status::Invalid(_)));
        assert!(matches!(one(b"$3\r\nfooXY").status, Status::Invalid(_)));
        assert!(matches!(one(b"$3\r\nfooX").status, Status::Invalid(_)));
        assert!(matches!(one(b"#x\r\n").status, Status::Invalid(_)));
        assert!(matches!(one(b",abc\r\n").status, Status::Invalid(_)));
        // The bad element makes its parent invalid too.
        let n = one(b"*2\r\n:1\r\n:zz\r\n");
        assert!(matches!(n.status, Status::Invalid(_)));
        assert_eq!(n.children.len(), 2);
    }

    #[test]
    fn hostile_lengths_and_depth_are_bounded() {
        let n = one(b"$9223372036854775807\r\nab");
        assert!(!n.is_complete());
        let n = one(b"*9223372036854775807\r\n:1\r\n");
        assert_eq!(
            (n.status.clone(), n.children.len()),
            (Status::Incomplete, 1)
        );
        assert!(matches!(
            one(b"%9223372036854775807\r\n").status,
            Status::Invalid(_)
        ));
        let deep = b"*1\r\n".repeat(10_000);
        let n = one(&deep);
        assert!(matches!(n.status, Status::Invalid(_)));
        let many = b":1\r\n".repeat(MAX_NODES + 10);
        let v = annotate(&many);
        assert_eq!(v.len(), MAX_NODES + 1);
        assert!(matches!(v.last().unwrap().status, Status::Invalid(_)));
    }

    #[test]
    fn kind_bytes_round_trip() {
        for b in b"+-:$*_#,(!=%~|>" {
            assert_eq!(Kind::from_byte(*b).byte(), Some(*b));
        }
        assert_eq!(Kind::from_byte(b'P').byte(), None);
    }

    #[test]
    fn inline_requests() {
        let n = one(b"PING hello\r\n");
        assert_eq!((n.kind, n.payload), (Kind::Inline, Some((0, 10))));
        assert!(n.is_complete());
    }
}
