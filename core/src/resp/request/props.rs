//! Long-running property tests of the request decoder: pipelines of many requests (tens to
//! hundreds of KB), multibulk and inline mixed, arguments of many KB, hostile declared lengths
//! and counts, cut into pieces at random points. Whatever the split: no panic, the same
//! requests (or the same protocol error) as when the stream arrives whole, exactly the requests
//! the generator wrote, and the decoder's own memory bounded by what arrived, never by what a
//! header declared.
//!
//! `DECODER_CASES=N` runs N cases per property (CI runs the default, 24); each case is one
//! stream of up to a few hundred KB.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::Config as PropConfig;

fn cases() -> u32 {
    std::env::var("DECODER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// One piece of a generated stream and what the decoder must make of it.
#[derive(Clone, Debug)]
enum Piece {
    /// A well-formed multibulk request.
    Multibulk(Vec<Vec<u8>>),
    /// A well-formed inline request: its text and the arguments it splits into.
    Inline(Vec<u8>, Vec<Vec<u8>>),
    /// Bytes that hold no request (an empty or blank line, `*0`, `*-1`).
    Nothing(Vec<u8>),
    /// Bytes the decoder must refuse (nothing after them is read): which error depends on
    /// the limits (see `refusal`).
    Bad(Vec<u8>),
    /// A request cut short (a header that declares more than follows): the stream ends
    /// waiting for the rest, unless the limits refuse what arrived.
    Unfinished(Vec<u8>),
}

/// How the decoder is set up for a case.
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_bulk_len: u64,
    unauthenticated: bool,
}

/// `len` bytes: pseudo-random ones from a seed (CR and LF included: multibulk is binary
/// safe), or a run of one byte. Cheap to make in bulk, unlike a vector of `any::<u8>()`.
fn bytes_of(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), len, any::<bool>()).prop_map(|(seed, n, run)| {
        if run {
            return vec![seed as u8; n];
        }
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    })
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => bytes_of(0..24),
        2 => bytes_of(24..2048),
        1 => bytes_of(2048..20_000),
    ]
}

/// An inline argument as written on the line and as it decodes.
fn inline_arg() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let plain = proptest::string::string_regex("[A-Za-z0-9_:.+-]{1,12}")
        .expect("regex")
        .prop_map(|s| (s.clone().into_bytes(), s.into_bytes()));
    let dquoted = proptest::collection::vec(
        prop_oneof![
            proptest::string::string_regex("[a-z ]{1,4}")
                .expect("regex")
                .prop_map(|s| (s.clone().into_bytes(), s.into_bytes())),
            Just((b"\\n".to_vec(), b"\n".to_vec())),
            Just((b"\\r".to_vec(), b"\r".to_vec())),
            Just((b"\\\"".to_vec(), b"\"".to_vec())),
            Just((b"\\\\".to_vec(), b"\\".to_vec())),
            any::<u8>().prop_map(|b| (format!("\\x{b:02x}").into_bytes(), vec![b])),
        ],
        0..6,
    )
    .prop_map(|parts| {
        let mut text = b"\"".to_vec();
        let mut value = Vec::new();
        for (t, v) in parts {
            text.extend(t);
            value.extend(v);
        }
        text.push(b'"');
        (text, value)
    });
    let squoted = proptest::string::string_regex("[a-z \"]{0,8}")
        .expect("regex")
        .prop_map(|s| {
            (
                [b"'".as_slice(), s.as_bytes(), b"\\''"].concat(),
                [s.as_bytes(), b"'"].concat(),
            )
        });
    prop_oneof![6 => plain, 2 => dquoted, 1 => squoted]
}

fn inline() -> impl Strategy<Value = Piece> {
    (
        proptest::collection::vec(inline_arg(), 1..8),
        prop_oneof![Just(" "), Just("  "), Just("\t"), Just(" \t ")],
        prop_oneof![Just("\r\n"), Just("\n")],
        prop_oneof![Just(""), Just("  ")],
    )
        .prop_map(|(args, sep, end, lead)| {
            let mut text = lead.as_bytes().to_vec();
            let mut want = Vec::new();
            for (i, (t, v)) in args.into_iter().enumerate() {
                if i > 0 {
                    text.extend_from_slice(sep.as_bytes());
                }
                text.extend(t);
                want.push(v);
            }
            text.extend_from_slice(end.as_bytes());
            Piece::Inline(text, want)
        })
}

fn bad() -> impl Strategy<Value = Piece> {
    prop_oneof![
        Just(b"*abc\r\n".to_vec()),
        Just(b"*2147483648\r\n".to_vec()),
        Just(b"*99999999999999999999\r\n".to_vec()),
        Just(b"*1\r\n$536870913\r\n".to_vec()),
        Just(b"*1\r\n$-1\r\n".to_vec()),
        Just(b"*2\r\n$1\r\na\r\n:1\r\n".to_vec()),
        Just(b"set \"a b\n".to_vec()),
        Just(b"set 'a'b\r\n".to_vec()),
        // Lines and headers past the 64 KB inline limit, with or without an end.
        Just(vec![b'a'; PROTO_INLINE_MAX_SIZE + 1]),
        Just([&[b'a'; PROTO_INLINE_MAX_SIZE + 5000][..], b"\r\n"].concat()),
        Just([b"*".as_slice(), &[b'1'; PROTO_INLINE_MAX_SIZE + 10]].concat()),
        Just([b"*1\r\n$".as_slice(), &[b'1'; PROTO_INLINE_MAX_SIZE + 10]].concat()),
    ]
    .prop_map(Piece::Bad)
}

fn unfinished() -> impl Strategy<Value = Piece> {
    prop_oneof![
        // Huge declared counts and lengths within the limits: the decoder waits, and must not
        // allocate for them.
        Just(b"*2147483647\r\n$3\r\nSET\r\n".to_vec()),
        Just(b"*3\r\n$3\r\nSET\r\n$536870912\r\nabc".to_vec()),
        Just(b"*1\r\n$100000\r\n".to_vec()),
        Just(b"PING".to_vec()),
        Just(b"*2\r\n$1\r\na\r\n".to_vec()),
        Just(b"*1\r".to_vec()),
        Just(vec![b'x'; 60_000]),
    ]
    .prop_map(Piece::Unfinished)
}

/// The error the decoder must give for a `Bad` or `Unfinished` piece under `limits`, in the
/// order Redis checks: the count, then each bulk length against proto-max-bulk-len, then the
/// unauthenticated limits.
fn refusal(piece: &[u8], limits: Limits) -> Option<ProtocolError> {
    use ProtocolError::*;
    let over_max = |len: u64| len > limits.max_bulk_len;
    let unauth_len = |len: u64| limits.unauthenticated && len > 16384;
    match piece {
        b"*abc\r\n" | b"*2147483648\r\n" | b"*99999999999999999999\r\n" => {
            Some(InvalidMultibulkLength)
        }
        b"*1\r\n$536870913\r\n" | b"*1\r\n$-1\r\n" => Some(InvalidBulkLength),
        b"*2\r\n$1\r\na\r\n:1\r\n" if over_max(1) => Some(InvalidBulkLength),
        b"*2\r\n$1\r\na\r\n:1\r\n" => Some(ExpectedDollar(b':')),
        b"set \"a b\n" | b"set 'a'b\r\n" => Some(UnbalancedQuotes),
        b"*2147483647\r\n$3\r\nSET\r\n" if limits.unauthenticated => {
            Some(UnauthenticatedMultibulkLength)
        }
        b"*2147483647\r\n$3\r\nSET\r\n" if over_max(3) => Some(InvalidBulkLength),
        b"*3\r\n$3\r\nSET\r\n$536870912\r\nabc" if over_max(536_870_912) => Some(InvalidBulkLength),
        b"*3\r\n$3\r\nSET\r\n$536870912\r\nabc" if unauth_len(536_870_912) => {
            Some(UnauthenticatedBulkLength)
        }
        b"*1\r\n$100000\r\n" if over_max(100_000) => Some(InvalidBulkLength),
        b"*1\r\n$100000\r\n" if unauth_len(100_000) => Some(UnauthenticatedBulkLength),
        b"*2\r\n$1\r\na\r\n" if over_max(1) => Some(InvalidBulkLength),
        [b'*', b'1', b'\r', b'\n', b'$', ..] if piece.len() > PROTO_INLINE_MAX_SIZE => {
            Some(TooBigBulkCount)
        }
        [b'*', ..] if piece.len() > PROTO_INLINE_MAX_SIZE => Some(TooBigMbulkCount),
        [b'a', ..] if piece.len() > PROTO_INLINE_MAX_SIZE => Some(TooBigInline),
        _ => None,
    }
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        12 => proptest::collection::vec(arg(), 1..12).prop_map(Piece::Multibulk),
        // Many arguments in one request.
        1 => proptest::collection::vec(bytes_of(0..4), 100..2000).prop_map(Piece::Multibulk),
        8 => inline(),
        2 => prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"   \t \r\n".to_vec()),
            Just(b"*0\r\n".to_vec()),
            Just(b"*-1\r\n".to_vec()),
            Just(b"*-7\r\n".to_vec()),
        ]
        .prop_map(Piece::Nothing),
    ]
}

/// A stream: many pieces, possibly ending in a bad or unfinished one.
fn stream() -> impl Strategy<Value = (Vec<Piece>, Limits)> {
    let tail = prop_oneof![
        4 => Just(None),
        2 => bad().prop_map(Some),
        1 => unfinished().prop_map(Some),
    ];
    let limits = prop_oneof![
        6 => Just(Limits { max_bulk_len: 512 * 1024 * 1024, unauthenticated: false }),
        1 => Just(Limits { max_bulk_len: 512 * 1024 * 1024, unauthenticated: true }),
        1 => (0u64..5000).prop_map(|max_bulk_len| Limits { max_bulk_len, unauthenticated: false }),
    ];
    (proptest::collection::vec(piece(), 1..200), tail, limits).prop_map(
        |(mut pieces, tail, limits)| {
            pieces.extend(tail);
            (pieces, limits)
        },
    )
}

/// What the decoder must produce from `pieces`: the requests up to the first error, and it.
type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

fn expected(pieces: &[Piece], limits: Limits) -> (Vec<u8>, Outcome) {
    let mut bytes = Vec::new();
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Multibulk(args) => {
                append_request(&mut bytes, args);
                if limits.unauthenticated && args.len() > 10 {
                    let e = ProtocolError::UnauthenticatedMultibulkLength;
                    return (bytes, (out, Some(e)));
                }
                for a in args {
                    let len = a.len() as u64;
                    if len > limits.max_bulk_len {
                        return (bytes, (out, Some(ProtocolError::InvalidBulkLength)));
                    }
                    if limits.unauthenticated && len > 16384 {
                        return (bytes, (out, Some(ProtocolError::UnauthenticatedBulkLength)));
                    }
                }
                out.push(args.clone());
            }
            Piece::Inline(text, args) => {
                bytes.extend_from_slice(text);
                out.push(args.clone());
            }
            Piece::Nothing(b) => bytes.extend_from_slice(b),
            Piece::Bad(b) | Piece::Unfinished(b) => {
                bytes.extend_from_slice(b);
                let e = refusal(b, limits);
                assert!(
                    e.is_some() || matches!(p, Piece::Unfinished(_)),
                    "a bad piece must be refused: {:?}",
                    String::from_utf8_lossy(&b[..b.len().min(40)])
                );
                return (bytes, (out, e));
            }
        }
    }
    (bytes, (out, None))
}

/// What feeding `stream` cut at `cuts` gives, checking the decoder's invariants after every
/// call: it consumes no more than it was given, and its own allocations stay within what
/// arrived (a declared count or length allocates nothing up front).
fn decode_checked(stream: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    let mut d = RequestDecoder::new();
    d.max_bulk_len = limits.max_bulk_len;
    d.unauthenticated = limits.unauthenticated;
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut last = 0;
    // The most arguments any request so far had: `ranges` may keep that capacity for reuse.
    let mut most_args = 0usize;
    let mut cuts: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c <= stream.len())
        .collect();
    cuts.sort_unstable();
    cuts.push(stream.len());
    for cut in cuts {
        pending.extend_from_slice(&stream[last..cut]);
        last = cut;
        loop {
            let r = d.decode(&pending);
            // At most 1024 slots reserved from a declared count; beyond that, amortized
            // growth over arguments that arrived.
            assert!(
                d.ranges.capacity() <= 2 * most_args.max(d.ranges.len()).max(1024),
                "ranges capacity {} for {} arguments (most so far {most_args})",
                d.ranges.capacity(),
                d.ranges.len()
            );
            // Inline arguments are copies of one line, which is at most 64 KB.
            let inline_bytes: usize = d.inline.iter().map(Vec::capacity).sum();
            assert!(
                inline_bytes <= 2 * PROTO_INLINE_MAX_SIZE,
                "inline copies: {inline_bytes}"
            );
            match r {
                Ok(Decoded::Request { consumed }) => {
                    assert!(consumed > 0 && consumed <= pending.len());
                    assert!(!d.in_progress());
                    let args: Vec<Vec<u8>> = match d.args() {
                        Args::Ranges(r) => {
                            most_args = most_args.max(r.len());
                            r.iter().map(|r| pending[r.clone()].to_vec()).collect()
                        }
                        Args::Owned(o) => o.to_vec(),
                    };
                    out.push(args);
                    pending.drain(..consumed);
                }
                Ok(Decoded::Empty { consumed }) => {
                    assert!(consumed > 0 && consumed <= pending.len());
                    pending.drain(..consumed);
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn cut_points() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        // A few cuts anywhere.
        proptest::collection::vec(any::<usize>(), 0..8),
        // Many cuts: small reads.
        proptest::collection::vec(any::<usize>(), 50..400),
    ]
}

proptest! {
    #![proptest_config(PropConfig { cases: cases(), ..PropConfig::default() })]

    /// Generated pipelines decode to exactly the generated requests (or the generated
    /// error), however they are cut.
    #[test]
    fn pipelines_decode_as_written_however_split(
        (pieces, limits) in stream(),
        cuts in cut_points(),
    ) {
        let (bytes, want) = expected(&pieces, limits);
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        let whole = decode_checked(&bytes, &[], limits);
        prop_assert_eq!(&whole, &want);
        prop_assert_eq!(decode_checked(&bytes, &cuts, limits), whole);
    }

    /// Arbitrary bytes (fragments of requests, RESP punctuation, noise), many KB of them:
    /// no panic, bounded memory, and the same outcome however the stream is cut.
    #[test]
    fn arbitrary_streams_decode_the_same_however_split(
        fragments in proptest::collection::vec(
            prop_oneof![
                4 => proptest::collection::vec(
                    proptest::sample::select(b"*$\r\n0123456789-+ab \"'\\x:".to_vec()),
                    0..64,
                ),
                2 => bytes_of(0..3000),
                2 => piece().prop_map(|p| match p {
                    Piece::Multibulk(args) => encode_request(&args),
                    Piece::Inline(t, _) | Piece::Nothing(t) | Piece::Bad(t)
                    | Piece::Unfinished(t) => t,
                }),
            ],
            1..200,
        ),
        cuts in cut_points(),
        unauthenticated in any::<bool>(),
    ) {
        let bytes = fragments.concat();
        let limits = Limits { max_bulk_len: 512 * 1024 * 1024, unauthenticated };
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        let whole = decode_checked(&bytes, &[], limits);
        prop_assert_eq!(decode_checked(&bytes, &cuts, limits), whole);
    }
}
