//! The playground's request trace (core/src/resp/trace.rs) agrees with the engine's own
//! parser: a corpus of valid, malformed and split requests, cut at every byte, gets the
//! replies and closes the trace predicts. (An integration test: `resp` may not use the
//! engine.)
use oxidis_core::resp::trace::*;
use oxidis_core::resp::{encode_request, ProtocolError};
use oxidis_core::{Config, ConnInfo, Engine, UnixMillis};

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

fn engine() -> (Engine, oxidis_core::ClientHandle) {
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
