//! Replies as redis-cli shows them: Redis 7.0's `cliFormatReplyTTY` (redis-cli in a terminal,
//! or with `--no-raw`): `OK`, `"hello"`, `(integer) 1`, `(nil)`, `(error) ERR ...`, numbered
//! and nested arrays (`1) 1) "a"`), and RESP3's maps (`1# "f" => "v"`), sets (`1~ "x"`),
//! doubles (`(double) 1.5`), booleans (`(true)`), verbatim strings (their text as is) and
//! empty aggregates (`(empty array)`, `(empty hash)`, `(empty set)`, `(empty push)`).
//!
//! Bulk strings are quoted like `sdscatrepr`: `\n`, `\r`, `\t`, `\a`, `\b`, `\\`, `\"`,
//! printable ASCII as is, every other byte as `\xhh`.
//!
//! Two RESP3 types redis-cli 7.0 cannot show (it exits with "Unknown reply type" for a big
//! number and "Protocol error" for an attribute): a big number renders as `(big number) N`
//! (what later redis-cli versions print) and an attribute is skipped, so the reply it annotates
//! is rendered, as RESP3 clients are told to do.
//!
//! The playground renders every reply with this (through the wasm package's `renderReply`), so
//! the console looks exactly like redis-cli.

use super::annotate::{annotate, Kind, Node, Status};
use crate::cnum::parse_i64;

/// Renders every complete reply in `buf`, each as redis-cli prints it (ending with '\n'),
/// with the number of bytes it took. Stops at the first incomplete or invalid frame.
pub fn render_replies(buf: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for node in annotate(buf) {
        if !node.is_complete() {
            break;
        }
        if node.kind == Kind::Attribute {
            continue;
        }
        let mut s = String::new();
        format(buf, &node, "", &mut s);
        out.push((s, node.end - node.start));
    }
    out
}

/// Renders the first reply in `buf` (attributes before it skipped): `None` if `buf` does not
/// start with a complete, valid reply.
pub fn render_reply(buf: &[u8]) -> Option<String> {
    let nodes = annotate(buf);
    let node = nodes
        .iter()
        .find(|n| n.kind != Kind::Attribute || !n.is_complete())?;
    if node.status != Status::Complete {
        return None;
    }
    let mut s = String::new();
    format(buf, node, "", &mut s);
    Some(s)
}

fn slice(buf: &[u8], r: Option<(usize, usize)>) -> &[u8] {
    r.and_then(|(a, b)| buf.get(a..b)).unwrap_or_default()
}

/// `sdscatrepr`: the quoted, escaped form redis-cli prints for bulk strings.
pub fn repr(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &c in bytes {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
}

/// Whether `cliFormatReplyTTY` renders `n` on several lines (a map's multi-line value goes on
/// its own line after `=>`).
fn multiline(n: &Node) -> bool {
    let kids: Vec<&Node> = elements(n);
    match n.kind {
        Kind::Array | Kind::Set | Kind::Push => match kids.len() {
            0 => false,
            1 => multiline(kids[0]),
            _ => true,
        },
        Kind::Map => match kids.len() {
            0 => false,
            2 => multiline(kids[1]),
            _ => true,
        },
        _ => false,
    }
}

/// An aggregate's elements, without attributes (which annotate the element after them).
fn elements(n: &Node) -> Vec<&Node> {
    n.children
        .iter()
        .filter(|c| c.kind != Kind::Attribute)
        .collect()
}

fn format(buf: &[u8], n: &Node, prefix: &str, out: &mut String) {
    let payload = slice(buf, n.payload);
    let text = || String::from_utf8_lossy(payload);
    match n.kind {
        Kind::Error | Kind::BulkError => {
            out.push_str("(error) ");
            out.push_str(&text());
            out.push('\n');
        }
        Kind::SimpleString | Kind::Inline | Kind::Unknown | Kind::Attribute => {
            out.push_str(&text());
            out.push('\n');
        }
        Kind::Integer => {
            out.push_str(&format!("(integer) {}\n", parse_i64(payload).unwrap_or(0)));
        }
        Kind::Double => {
            out.push_str(&format!("(double) {}\n", text()));
        }
        Kind::BigNumber => {
            out.push_str(&format!("(big number) {}\n", text()));
        }
        Kind::BulkString if n.length == Some(-1) => out.push_str("(nil)\n"),
        Kind::BulkString => {
            repr(payload, out);
            out.push('\n');
        }
        Kind::VerbatimString => {
            // hiredis drops the "txt:" format prefix; redis-cli prints the text unquoted.
            out.push_str(&String::from_utf8_lossy(
                payload.get(4..).unwrap_or_default(),
            ));
            out.push('\n');
        }
        Kind::Null => out.push_str("(nil)\n"),
        Kind::Boolean => out.push_str(if payload == b"t" {
            "(true)\n"
        } else {
            "(false)\n"
        }),
        Kind::Array if n.length == Some(-1) => out.push_str("(nil)\n"),
        Kind::Array | Kind::Set | Kind::Push | Kind::Map => {
            let kids = elements(n);
            if kids.is_empty() {
                out.push_str(match n.kind {
                    Kind::Array => "(empty array)\n",
                    Kind::Map => "(empty hash)\n",
                    Kind::Set => "(empty set)\n",
                    _ => "(empty push)\n",
                });
                return;
            }
            let is_map = n.kind == Kind::Map;
            let count = if is_map { kids.len() / 2 } else { kids.len() };
            let idxlen = count.max(1).to_string().len();
            let child_prefix = format!("{prefix}{}", " ".repeat(idxlen + 2));
            let sep = match n.kind {
                Kind::Set => '~',
                Kind::Map => '#',
                _ => ')',
            };
            let mut i = 0;
            while i < kids.len() {
                let human = if is_map { i / 2 } else { i } + 1;
                // The first element's prefix was written by the caller (after its index).
                if i > 0 {
                    out.push_str(prefix);
                }
                out.push_str(&format!("{human:>idxlen$}{sep} "));
                format(buf, kids[i], &child_prefix, out);
                if is_map {
                    i += 1;
                    out.pop();
                    out.push_str(" => ");
                    if let Some(v) = kids.get(i) {
                        if multiline(v) {
                            out.push('\n');
                            out.push_str(&child_prefix);
                        }
                        format(buf, v, &child_prefix, out);
                    } else {
                        out.push('\n');
                    }
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (reply bytes from Redis 7.0.15, what `redis-cli --no-raw` 7.0.15 printed for them),
    /// captured from Debian's redis-server and redis-cli (RESP3 ones with `redis-cli -3`).
    const CAPTURED: &[(&[u8], &str)] = &[
    // SET k v
    (b"+OK\r\n", "OK\n"),
    // GET k
    (b"$1\r\nv\r\n", "\"v\"\n"),
    // GET nosuch
    (b"$-1\r\n", "(nil)\n"),
    // LRANGE nosuch 0 -1
    (b"*0\r\n", "(empty array)\n"),
    // LRANGE l 0 -1
    (b"*24\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n$1\r\nl\r\n", " 1) \"a\"\n 2) \"b\"\n 3) \"c\"\n 4) \"d\"\n 5) \"e\"\n 6) \"f\"\n 7) \"g\"\n 8) \"h\"\n 9) \"i\"\n10) \"j\"\n11) \"k\"\n12) \"l\"\n13) \"a\"\n14) \"b\"\n15) \"c\"\n16) \"d\"\n17) \"e\"\n18) \"f\"\n19) \"g\"\n20) \"h\"\n21) \"i\"\n22) \"j\"\n23) \"k\"\n24) \"l\"\n"),
    // FOO
    (b"-ERR unknown command 'FOO', with args beginning with: \r\n", "(error) ERR unknown command 'FOO', with args beginning with: \n"),
    // SET b a\x00\n\r\t"\\\x7f\xe9z
    (b"+OK\r\n", "OK\n"),
    // GET b
    (b"$10\r\na\x00\n\r\t\"\\\x7f\xe9z\r\n", "\"a\\x00\\n\\r\\t\\\"\\\\\\x7f\\xe9z\"\n"),
    // SET e
    (b"+OK\r\n", "OK\n"),
    // GET e
    (b"$0\r\n\r\n", "\"\"\n"),
    // DEBUG PROTOCOL array
    (b"*3\r\n:0\r\n:1\r\n:2\r\n", "1) (integer) 0\n2) (integer) 1\n3) (integer) 2\n"),
    // DEBUG PROTOCOL map
    (b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n", "1) (integer) 0\n2) (integer) 0\n3) (integer) 1\n4) (integer) 1\n5) (integer) 2\n6) (integer) 0\n"),
    // DEBUG PROTOCOL set
    (b"*3\r\n:0\r\n:1\r\n:2\r\n", "1) (integer) 0\n2) (integer) 1\n3) (integer) 2\n"),
    // DEBUG PROTOCOL double
    (b"$5\r\n3.141\r\n", "\"3.141\"\n"),
    // DEBUG PROTOCOL true
    (b":1\r\n", "(integer) 1\n"),
    // DEBUG PROTOCOL null
    (b"$-1\r\n", "(nil)\n"),
    // RESP3 DEBUG PROTOCOL map
    (b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n", "1# (integer) 0 => (false)\n2# (integer) 1 => (true)\n3# (integer) 2 => (false)\n"),
    // RESP3 DEBUG PROTOCOL set
    (b"~3\r\n:0\r\n:1\r\n:2\r\n", "1~ (integer) 0\n2~ (integer) 1\n3~ (integer) 2\n"),
    // RESP3 DEBUG PROTOCOL double
    (b",3.141\r\n", "(double) 3.141\n"),
    // RESP3 DEBUG PROTOCOL null
    (b"_\r\n", "(nil)\n"),
    // RESP3 DEBUG PROTOCOL true
    (b"#t\r\n", "(true)\n"),
    // RESP3 DEBUG PROTOCOL false
    (b"#f\r\n", "(false)\n"),
    // RESP3 DEBUG PROTOCOL verbatim
    (b"=29\r\ntxt:This is a verbatim\nstring\r\n", "This is a verbatim\nstring\n"),
    // RESP3 DEBUG PROTOCOL array
    (b"*3\r\n:0\r\n:1\r\n:2\r\n", "1) (integer) 0\n2) (integer) 1\n3) (integer) 2\n"),
    // RESP3 GET nosuch
    (b"_\r\n", "(nil)\n"),
    // RESP3 HGETALL h
    (b"%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n", "1# \"f1\" => \"v1\"\n2# \"f2\" => \"v2\"\n"),
    // RESP3 HGETALL nosuch
    (b"%0\r\n", "(empty hash)\n"),
    // RESP3 SMEMBERS nosuch
    (b"~0\r\n", "(empty set)\n"),
    // RESP3 SMEMBERS s
    (b"~1\r\n$1\r\nx\r\n", "1~ \"x\"\n"),
    // RESP3 ZRANGE z 0 -1 WITHSCORES
    (b"*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n", "1) 1) \"a\"\n   2) (double) 1.5\n2) 1) \"b\"\n   2) (double) 2\n"),
    // ZRANGE z 0 -1 WITHSCORES
    (b"*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n", "1) \"a\"\n2) \"1.5\"\n3) \"b\"\n4) \"2\"\n"),
    // RESP3 ZSCORE z a
    (b",1.5\r\n", "(double) 1.5\n"),
    // XRANGE st - +
    (b"*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n", "1) 1) \"1-1\"\n   2) 1) \"f\"\n      2) \"v\"\n      3) \"g\"\n      4) \"w\"\n"),
    // RESP3 XRANGE st - +
    (b"*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n", "1) 1) \"1-1\"\n   2) 1) \"f\"\n      2) \"v\"\n      3) \"g\"\n      4) \"w\"\n"),
    // RESP3 XINFO STREAM st
    (b"%10\r\n$6\r\nlength\r\n:1\r\n$15\r\nradix-tree-keys\r\n:1\r\n$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n$3\r\n1-1\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n0-0\r\n$13\r\nentries-added\r\n:1\r\n$23\r\nrecorded-first-entry-id\r\n$3\r\n1-1\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n$10\r\nlast-entry\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n", " 1# \"length\" => (integer) 1\n 2# \"radix-tree-keys\" => (integer) 1\n 3# \"radix-tree-nodes\" => (integer) 2\n 4# \"last-generated-id\" => \"1-1\"\n 5# \"max-deleted-entry-id\" => \"0-0\"\n 6# \"entries-added\" => (integer) 1\n 7# \"recorded-first-entry-id\" => \"1-1\"\n 8# \"groups\" => (integer) 0\n 9# \"first-entry\" => \n    1) \"1-1\"\n    2) 1) \"f\"\n       2) \"v\"\n       3) \"g\"\n       4) \"w\"\n10# \"last-entry\" => \n    1) \"1-1\"\n    2) 1) \"f\"\n       2) \"v\"\n       3) \"g\"\n       4) \"w\"\n"),
    // CONFIG GET maxmemory*
    (b"*10\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n$27\r\nmaxmemory-eviction-tenacity\r\n$2\r\n10\r\n$17\r\nmaxmemory-clients\r\n$1\r\n0\r\n", " 1) \"maxmemory-policy\"\n 2) \"noeviction\"\n 3) \"maxmemory\"\n 4) \"0\"\n 5) \"maxmemory-samples\"\n 6) \"5\"\n 7) \"maxmemory-eviction-tenacity\"\n 8) \"10\"\n 9) \"maxmemory-clients\"\n10) \"0\"\n"),
    // RESP3 CONFIG GET maxmemory*
    (b"%5\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n$27\r\nmaxmemory-eviction-tenacity\r\n$2\r\n10\r\n$17\r\nmaxmemory-clients\r\n$1\r\n0\r\n", "1# \"maxmemory-policy\" => \"noeviction\"\n2# \"maxmemory\" => \"0\"\n3# \"maxmemory-samples\" => \"5\"\n4# \"maxmemory-eviction-tenacity\" => \"10\"\n5# \"maxmemory-clients\" => \"0\"\n"),
    // COMMAND INFO get
    (b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n", "1)  1) \"get\"\n    2) (integer) 2\n    3) 1) readonly\n       2) fast\n    4) (integer) 1\n    5) (integer) 1\n    6) (integer) 1\n    7) 1) @read\n       2) @string\n       3) @fast\n    8) (empty array)\n    9) 1) 1) \"flags\"\n          2) 1) RO\n             2) access\n          3) \"begin_search\"\n          4) 1) \"type\"\n             2) \"index\"\n             3) \"spec\"\n             4) 1) \"index\"\n                2) (integer) 1\n          5) \"find_keys\"\n          6) 1) \"type\"\n             2) \"range\"\n             3) \"spec\"\n             4) 1) \"lastkey\"\n                2) (integer) 0\n                3) \"keystep\"\n                4) (integer) 1\n                5) \"limit\"\n                6) (integer) 0\n   10) (empty array)\n"),
    ];

    #[test]
    fn matches_redis_cli_7_0() {
        for (bytes, expected) in CAPTURED {
            let got = render_reply(bytes).expect("complete reply");
            assert_eq!(
                &got,
                expected,
                "rendering {:?}",
                String::from_utf8_lossy(bytes)
            );
            let all = render_replies(bytes);
            assert_eq!(all, vec![(got, bytes.len())]);
        }
    }

    #[test]
    fn pushes_render_as_numbered_lists() {
        // redis-cli's push handler formats pushes with the same TTY code (')' numbers).
        assert_eq!(
            render_reply(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n").unwrap(),
            "1) \"message\"\n2) \"ch\"\n3) \"hi\"\n"
        );
        assert_eq!(render_reply(b">0\r\n").unwrap(), "(empty push)\n");
    }

    #[test]
    fn types_redis_cli_7_0_cannot_show() {
        assert_eq!(
            render_reply(b"(1234567999999999999999999999999999999\r\n").unwrap(),
            "(big number) 1234567999999999999999999999999999999\n"
        );
        // The attribute is skipped: the reply after it is what is shown.
        let attrib = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$4\r\nreal\r\n";
        assert_eq!(render_reply(attrib).unwrap(), "\"real\"\n");
        assert_eq!(render_replies(attrib).len(), 1);
        assert_eq!(
            render_reply(b"!9\r\nERR oops!\r\n").unwrap(),
            "(error) ERR oops!\n"
        );
        assert_eq!(render_reply(b"*-1\r\n").unwrap(), "(nil)\n");
    }

    #[test]
    fn pipelines_incomplete_and_invalid_input() {
        let r = render_replies(b"+OK\r\n:1\r\n$3\r\nab");
        assert_eq!(
            r,
            vec![("OK\n".to_string(), 5), ("(integer) 1\n".to_string(), 4)]
        );
        assert_eq!(render_reply(b"$3\r\nab"), None);
        assert_eq!(render_reply(b"?x\r\n"), None);
        assert_eq!(render_reply(b""), None);
    }

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut s = String::new();
        repr(b"a\x00\x07\x08\"\\\x7f\xff ~", &mut s);
        assert_eq!(s, "\"a\\x00\\a\\b\\\"\\\\\\x7f\\xff ~\"");
    }
}
