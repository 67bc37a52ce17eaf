//! No input makes the engine panic: random sequences of every command in the table (and
//! unknown ones), with arguments drawn from a vocabulary of edge cases, on two clients, with
//! the clock moving and ticks in between. A panic fails the test; nothing else is asserted
//! about the replies (the golden and differential tests check those).

use oxidis_core::all_commands;
use oxidis_core::resp::encode_request;
use oxidis_core::{Config, ConnInfo, Engine, UnixMillis};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "k",
    "k2",
    "list",
    "h",
    "s",
    "z",
    "",
    "0",
    "1",
    "-1",
    "2",
    "10",
    "100",
    "1000000",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1.5",
    "-0.5",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "0x10",
    "(1",
    "[a",
    "(a",
    "+",
    "-",
    "*",
    "?",
    "[",
    "\\",
    "a*b",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "LIMIT",
    "COUNT",
    "MATCH",
    "TYPE",
    "WITHSCORES",
    "BYSCORE",
    "BYLEX",
    "REV",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "ALPHA",
    "DESC",
    "ASC",
    "BY",
    "STORE",
    "REPLACE",
    "ABSTTL",
    "DB",
    "ASYNC",
    "SYNC",
    "ON",
    "OFF",
    "SKIP",
    "ID",
    "ADDR",
    "USER",
    "SKIPME",
    "yes",
    "no",
    "WRITE",
    "ALL",
    "TIMEOUT",
    "ERROR",
    "AUTH",
    "SETNAME",
    "default",
    "3",
    "2",
    "hz",
    "maxmemory",
    "save",
    "timeout",
    "LIB-NAME",
    "\x00",
    "a\r\nb",
    "\u{e9}",
    "nosort",
    "w_*",
    "h_*->f",
    "#",
    "FILTERBY",
    "ACLCAT",
    "PATTERN",
    "NOSAVE",
    "ABORT",
    "RELOAD",
    "HELP",
    "WITHVALUES",
    "0.001",
];

fn names() -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = all_commands()
        .map(|c| c.name.split('|').map(str::to_string).collect())
        .collect();
    out.push(vec!["nosuchcommand".into()]);
    out
}

proptest! {
    // FUZZ_CASES=N runs more (CI runs 400).
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
    ))]
    #[test]
    fn random_commands_never_panic(
        steps in proptest::collection::vec(
            (0usize..1000, proptest::collection::vec(0usize..TOKENS.len(), 0..7), 0u8..3, 0u64..2000),
            1..60,
        )
    ) {
        let names = names();
        let mut now = 1_700_000_000_000u64;
        let mut eng = Engine::new(Config::default(), 3);
        eng.set_host_info(UnixMillis(now), Default::default());
        let mut clients = [
            eng.connect(UnixMillis(now), ConnInfo::default()),
            eng.connect(UnixMillis(now), ConnInfo::default()),
        ];
        for (name, args, who, advance) in steps {
            let mut argv: Vec<Vec<u8>> = names[name % names.len()]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect();
            argv.extend(args.iter().map(|&t| TOKENS[t].as_bytes().to_vec()));
            let slot = (who % 2) as usize;
            let id = clients[slot];
            eng.feed(UnixMillis(now), id, &encode_request(&argv));
            let mut out = Vec::new();
            eng.drain_output(id, &mut out);
            // A client the server closed (QUIT, CLIENT KILL, a protocol error) reconnects.
            for c in clients.iter_mut() {
                if eng.should_close(*c) {
                    eng.disconnect(*c);
                    *c = eng.connect(UnixMillis(now), ConnInfo::default());
                }
            }
            if who == 2 {
                now += advance;
                eng.tick(UnixMillis(now));
            }
            while eng.poll_event().is_some() {}
        }
    }
}
