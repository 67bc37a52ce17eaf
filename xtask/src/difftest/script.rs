//! The scripting family of the differential stream: small Lua scripts built from templates and
//! sent with EVAL / EVAL_RO / EVALSHA (after SCRIPT LOAD) / EVALSHA_RO, some by a RESP3 caller
//! (HELLO 3 ... HELLO 2 in one group; HELLO's replies are compared without the client id). They `redis.call` and
//! `redis.pcall` commands drawn from the rest of the stream (strings, keyspace, lists, hashes,
//! sets, sorted sets) on the same key pool, with their arguments inline or through KEYS/ARGV,
//! and return random Lua values: integers, floats to truncate, strings, booleans, nil, nested
//! tables with nil holes, `{ok=}`, `{err=}`, `error()` of strings and tables, `pcall` of failing
//! calls, cjson and cmsgpack round trips, `string.format`, `tonumber`/`tostring` edge cases and
//! `math.random` after `math.randomseed`.
//!
//! What the templates avoid, because it legitimately differs between two correct servers:
//! - inner commands whose reply is not compared byte for byte in the main stream (KEYS,
//!   SMEMBERS, HGETALL ..., the random picks, the TTL family, SORT, OBJECT ENCODING, SCAN) and
//!   groups (their members only make sense together);
//! - `pairs()` over tables with a hash part, and cjson/cmsgpack encodings of tables with more
//!   than one non-array key (hash-part iteration order is the VM's business); only arrays are
//!   iterated (`ipairs`), objects and maps have one key;
//! - `tostring` of tables and functions (addresses), memory figures, `table.sort` of strings
//!   (`strcoll`, locale-dependent): only numbers are sorted;
//! - `error({})` and other error tables without a string `err`: redis-server 7.0.15 crashes on
//!   them (NULL message in luaCallFunction);
//! - numbers that overflow strtod (`tonumber('1e400')`, JSON `1e400`): they leave ERANGE in
//!   redis-server's errno, which a later numeric SORT ... STORE in the same batch takes for its
//!   own (see `stale_errno_sort`; with STORE the two servers' data would then differ).

use super::{sets_past_expiry, Check, Cmd, Gen, Item};

/// A Lua string literal for arbitrary bytes (decimal escapes for anything not plain ASCII).
pub(super) fn lua_str(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\{c:03}")),
        }
    }
    s.push('"');
    s
}

/// Inner commands whose replies the main stream does not compare byte for byte.
const INEXACT: &[&str] = &[
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "KEYS",
    "SORT",
    "SORT_RO",
    "OBJECT",
];

const INT_LITS: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "2^31",
    "-2^31",
    "2^53",
    "-2^53",
    "1e15",
    "123456789012",
    "0x10",
    "1e3",
];

const FLOAT_LITS: &[&str] = &[
    "3.99", "-0.5", "0.5", "-3.7", "1e10+0.5", "2^62", "1e18", "-1e18", "0.1", "1/3", "-2/3",
    "2^63", "-2^63", "1e20", "1/0", "-1/0", "0/0", "-(0/0)", "-0.0", "2.5e-3", "9.99e15",
];

const WORD_LITS: &[&str] = &[
    "",
    "a",
    "ok",
    "OK",
    "hello world",
    "ERR",
    "-ERR x",
    "+x",
    "x\r\ny",
    "\u{e9}t\u{e9}",
    "1",
    "3.0",
    "nil",
];

const JSON_TEXTS: &[&str] = &[
    "[1,2,3]",
    "[]",
    "{}",
    "[1,[2,[3,[4]]]]",
    "[1.5,-0,0.1,1e2,1E-2,-1e300,123456789012345678]",
    "[\"a\",\"\\u00e9\",\"\\n\\t\\\"\\\\\\/\",\"\\ud83d\\ude00\"]",
    "[true,false,null]",
    "{\"a\":1}",
    "{\"a\":[1,2,{\"b\":null}]}",
    "{\"k\":{\"k\":{\"k\":\"v\"}}}",
    "\"str\"",
    "12",
    "-0.5",
    "null",
    "true",
    "[1,2,",
    "{\"a\":}",
    "[1 2]",
    "",
    "   [ 1 , 2 ]   ",
    "[1e300, -1e-300]",
    "[0x10]",
    "[\"\\u12\"]",
    "{\"a\":1,}",
    "[1,]",
    "nan",
    "[01]",
    "[-]",
    "\"\\x\"",
];

/// Raw msgpack inputs for cmsgpack.unpack, valid and broken.
const MSGPACK_BYTES: &[&[u8]] = &[
    b"\x93\x01\x02\x03",
    b"\xc0",
    b"\xc2\xc3",
    b"\x92\x01",
    b"\xa3abc",
    b"\xa3ab",
    b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
    b"\xca\x3f\xc0\x00\x00",
    b"\xcd\x01",
    b"\xcd\x01\x00",
    b"\xce\xff\xff\xff\xff",
    b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
    b"\xd3\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xd0\x80",
    b"\xd1\x80\x00",
    b"\xd2\x80\x00\x00\x00",
    b"\xff\xe0\x7f",
    b"\xc1",
    b"\x81\xa1k\x01",
    b"\x91\x81\xa1k\x92\x01\x02",
    b"\xdc\x00\x02\x01\x02",
    b"\xdd\x00\x00\x00\x01\xa0",
    b"\xd9\x03xyz",
    b"\xda\x00\x01z",
    b"\xc4\x02ab",
    b"\x01\x02\x03",
    b"",
];

impl Gen {
    /// One scripting command (or a SCRIPT LOAD / EVALSHA group).
    pub(super) fn script(&mut self) -> Item {
        match self.rng.below(100) {
            0..=11 => self.evalsha_group(),
            12..=15 => self.script_misc(),
            16..=19 => self.eval_arg_errors(),
            20..=27 => self.resp3_caller(),
            _ => {
                let (body, keys, args) = self.script_body();
                let name = if self.rng.chance(10) {
                    "EVAL_RO"
                } else {
                    "EVAL"
                };
                let mut c = vec![self.word(name), body.into_bytes()];
                c.push(keys.len().to_string().into_bytes());
                c.extend(keys);
                c.extend(args);
                Item::with(c, Check::Exact)
            }
        }
    }

    /// EVAL for a RESP3 caller: HELLO 3, one to three scripts, HELLO 2, all in one group (so
    /// the connection is back to RESP2 before anything else is sent).
    fn resp3_caller(&mut self) -> Item {
        let mut items = vec![Item::fixed(
            vec![self.word("HELLO"), b"3".to_vec()],
            Check::Hello,
        )];
        let n = 1 + self.rng.below(3);
        for _ in 0..n {
            let (body, keys, args) = self.script_body();
            let mut c = vec![self.word("EVAL"), body.into_bytes()];
            c.push(keys.len().to_string().into_bytes());
            c.extend(keys);
            c.extend(args);
            items.push(Item::fixed(c, Check::Exact));
        }
        items.push(Item::fixed(
            vec![self.word("HELLO"), b"2".to_vec()],
            Check::Hello,
        ));
        self.group(items)
    }

    /// A script body and its KEYS and ARGV.
    fn script_body(&mut self) -> (String, Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut s = Script::default();
        let body = match self.rng.below(100) {
            0..=29 => self.call_template(&mut s),
            30..=41 => format!("return {}", self.lua_value(&mut s, 2)),
            42..=49 => self.error_template(&mut s),
            50..=57 => self.cjson_template(&mut s),
            58..=65 => self.cmsgpack_template(&mut s),
            66..=71 => self.format_template(),
            72..=76 => self.number_template(),
            77..=80 => self.random_template(),
            81..=86 => self.iterate_template(&mut s),
            87..=90 => {
                // KEYS and ARGV as the script sees them.
                let nk = self.rng.below(3);
                for _ in 0..nk {
                    let k = self.key();
                    s.keys.push(k);
                }
                let na = self.rng.below(3);
                for _ in 0..na {
                    let v = self.value();
                    s.args.push(v);
                }
                "return {#KEYS, #ARGV, KEYS[1], ARGV[1], KEYS[2] or 'none', ARGV[2]}".to_string()
            }
            91..=94 => self.multi_call_template(&mut s),
            _ => self.compile_error(),
        };
        let body = if self.rng.chance(4) {
            let flags = *self.rng.pick(&[
                "#!lua\n",
                "#!lua flags=no-writes\n",
                "#!lua flags=no-writes,allow-oom\n",
                "#!lua name=x\n",
                "#!lua flags=bogus\n",
                "#!python\n",
            ]);
            format!("{flags}{body}")
        } else {
            body
        };
        (body, s.keys, s.args)
    }

    /// A command from the rest of the stream whose reply is compared exactly there.
    fn inner_cmd(&mut self) -> Cmd {
        loop {
            let saved = self.pending.len();
            let it = if self.collections && self.rng.chance(55) {
                self.collection()
            } else {
                Item::exact(self.base())
            };
            let grouped = self.pending.len() > saved;
            self.pending.truncate(saved);
            if grouped || it.check != Check::Exact || sets_past_expiry(&it.cmd) {
                continue;
            }
            let name = String::from_utf8_lossy(&it.cmd[0]).to_ascii_uppercase();
            if INEXACT.contains(&name.as_str()) || it.cmd.len() > 40 {
                continue;
            }
            return it.cmd;
        }
    }

    /// `redis.call(...)`'s argument list for `cmd`: each argument inline (a string, or a
    /// number when it is a plain integer) or through KEYS / ARGV.
    fn call_args(&mut self, s: &mut Script, cmd: &Cmd) -> String {
        let mut parts = Vec::with_capacity(cmd.len());
        for (i, a) in cmd.iter().enumerate() {
            let r = self.rng.below(100);
            let p = if i == 1 && r < 50 {
                s.keys.push(a.clone());
                format!("KEYS[{}]", s.keys.len())
            } else if i > 0 && r < 30 {
                s.args.push(a.clone());
                format!("ARGV[{}]", s.args.len())
            } else if i > 0
                && r < 45
                && std::str::from_utf8(a)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_some_and(|n| n.unsigned_abs() < 1 << 53 && n.to_string().as_bytes() == a)
            {
                String::from_utf8_lossy(a).into_owned()
            } else {
                lua_str(a)
            };
            parts.push(p);
        }
        // Now and then an argument Redis converts (a float: "%.17g") or refuses (a table).
        if self.rng.chance(3) {
            parts.push(
                self.rng
                    .pick(&["0.1", "1.5", "{}", "true", "-0.0", "1e300"])
                    .to_string(),
            );
        }
        parts.join(", ")
    }

    fn call_template(&mut self, s: &mut Script) -> String {
        let cmd = self.inner_cmd();
        let args = self.call_args(s, &cmd);
        let resp3 = if self.rng.chance(12) {
            "redis.setresp(3) "
        } else {
            ""
        };
        let t = match self.rng.below(10) {
            0..=3 => format!("return redis.call({args})"),
            4 | 5 => format!("return redis.pcall({args})"),
            6 => format!(
                "local r = redis.pcall({args})\nif type(r) == 'table' and r.err then return {{'E', r.err}} end\nreturn {{'V', r}}"
            ),
            7 => format!(
                "local ok, e = pcall(redis.call, {args})\nif ok then return {{1, e}} end\nreturn {{0, type(e), type(e) == 'table' and (e.err or 'noerr') or e}}"
            ),
            8 => format!(
                "local r = redis.call({args})\nif type(r) == 'table' then return {{'T', #r, r[1], r[2]}} end\nreturn {{type(r), r}}"
            ),
            _ => format!("local r = redis.call({args})\nreturn {{r, {}}}", {
                self.lua_value(s, 1)
            }),
        };
        format!("{resp3}{t}")
    }

    fn multi_call_template(&mut self, s: &mut Script) -> String {
        let n = 2 + self.rng.below(3);
        let mut body = String::from("local out = {}\n");
        for i in 0..n {
            let cmd = self.inner_cmd();
            let args = self.call_args(s, &cmd);
            let f = if self.rng.chance(50) {
                "redis.call"
            } else {
                "redis.pcall"
            };
            body.push_str(&format!("out[{}] = {f}({args})\n", i + 1));
        }
        body.push_str("return out");
        body
    }

    /// A random Lua value expression (`depth` > 0 allows tables).
    fn lua_value(&mut self, s: &mut Script, depth: u32) -> String {
        let n = if depth > 0 { 15 } else { 11 };
        match self.rng.below(n) {
            0 => self.rng.pick(INT_LITS).to_string(),
            1 | 2 => self.rng.pick(FLOAT_LITS).to_string(),
            3 => {
                let v = self.value();
                lua_str(&v)
            }
            4 => lua_str(self.rng.pick(WORD_LITS).as_bytes()),
            5 => self.rng.pick(&["true", "false"]).to_string(),
            6 => "nil".to_string(),
            7 => {
                let w = lua_str(self.rng.pick(WORD_LITS).as_bytes());
                if self.rng.chance(50) {
                    format!("{{ok={w}}}")
                } else {
                    format!("redis.status_reply({w})")
                }
            }
            8 => {
                let w = lua_str(self.rng.pick(WORD_LITS).as_bytes());
                match self.rng.below(4) {
                    0 => format!("{{err={w}}}"),
                    1 => format!("redis.error_reply({w})"),
                    2 => "{err=5}".to_string(),
                    _ => format!("{{err={w}, ok='x'}}"),
                }
            }
            9 => {
                // ARGV / KEYS references, present or not.
                if self.rng.chance(50) {
                    let v = self.value();
                    s.args.push(v);
                    format!("ARGV[{}]", s.args.len())
                } else {
                    self.rng
                        .pick(&["#KEYS", "#ARGV", "KEYS[9]", "ARGV[9]"])
                        .to_string()
                }
            }
            10 => self
                .rng
                .pick(&[
                    "string.rep('ab', 3)",
                    "('x'):upper()",
                    "#'hello'",
                    "redis.sha1hex('')",
                    "redis.sha1hex('abc')",
                    "string.len(string.rep('z', 70))",
                    "string.sub('abcdef', -3)",
                    "string.byte('A')",
                    "string.char(72, 105, 0, 255)",
                    "table.concat({1, 2, 'x'}, '-')",
                    "select('#', 1, nil, 3)",
                    "math.floor(-3.5)",
                    "math.max(1, 7.5, 3)",
                    "math.fmod(7, 3)",
                    "math.huge",
                    "-math.huge",
                    "math.pi",
                    "10 % 3",
                    "-7 % 3",
                    "7 / 2",
                    "2^0.5",
                    "bit.band(0xff, 0x0f)",
                    "bit.tohex(255)",
                    "bit.lshift(1, 31)",
                    "struct.pack('>I2', 258)",
                    "redis.REDIS_VERSION",
                    "redis.REDIS_VERSION_NUM",
                    "type(cjson.null)",
                    "type(nil)",
                    "unpack({1, 2, 3})",
                    "redis.replicate_commands()",
                    "redis.breakpoint()",
                    "redis.log(redis.LOG_DEBUG, 'difftest')",
                    "redis.set_repl(redis.REPL_ALL)",
                    "redis.setresp(2)",
                    "redis.sha1hex(string.rep('x', 100))",
                    "bit.bxor(-1, 0x7fffffff)",
                    "bit.arshift(-256, 4)",
                    "bit.tobit(2^32 + 5)",
                    "struct.unpack('<i4', struct.pack('<i4', -2))",
                    "struct.pack('>d', 1.5)",
                    "string.format('%5.1f|%-4d|%s', 3.14159, 7, 'x')",
                    "select(2, 'a', 'b', 'c')",
                    "rawequal('a', 'a')",
                    "#{n = 1}",
                ])
                .to_string(),
            11 => {
                // The RESP3 reply tables (one key in maps and sets: their order is the VM's).
                let w = lua_str(self.rng.pick(WORD_LITS).as_bytes());
                match self.rng.below(6) {
                    0 | 1 => format!("{{double={}}}", self.rng.pick(FLOAT_LITS)),
                    2 => format!("{{map={{[{w}] = {}}}}}", self.lua_value(s, depth - 1)),
                    3 => format!("{{set={{[{w}] = true}}}}"),
                    4 => format!("{{big_number={w}}}"),
                    _ => format!("{{verbatim_string={{format='txt', string={w}}}}}"),
                }
            }
            _ => {
                // An array, possibly with nil holes, nested tables, a stray hash key.
                let len = self.rng.below(5);
                let mut parts = Vec::new();
                for _ in 0..len {
                    let v = self.lua_value(s, depth - 1);
                    parts.push(v);
                }
                if self.rng.chance(15) {
                    parts.push("x = 1".to_string());
                }
                format!("{{{}}}", parts.join(", "))
            }
        }
    }

    fn error_template(&mut self, s: &mut Script) -> String {
        let w = lua_str(self.rng.pick(WORD_LITS).as_bytes());
        match self.rng.below(16) {
            0 => format!("error({w})"),
            1 => format!("error({w}, 0)"),
            2 => format!("local function f() error({w}, 2) end\nf()"),
            3 => "error({err='ERR custom failure'})".to_string(),
            4 => "error({err='MYCODE my text'})".to_string(),
            5 => "error({err=5})".to_string(),
            6 => format!("error(redis.error_reply({w}))"),
            7 => self
                .rng
                .pick(&["error(nil)", "error(true)", "error(42)", "error(1.5)"])
                .to_string(),
            8 => self
                .rng
                .pick(&[
                    "local t = nil\nreturn t.x",
                    "return 1 + {}",
                    "return #nil",
                    "return ('x'):nosuch()",
                    "return 'a' < 1",
                    "return nosuchglobal",
                    "x = 1",
                    "return rawget(_G, 'nope')",
                    "return string.rep('x', -1)",
                    "return math.random(0)",
                    "return tostring()",
                    "local t = setmetatable({}, {__index = function() error('deep') end})\nreturn t.x",
                ])
                .to_string(),
            9 => format!(
                "local ok, e = pcall(error, {w})\nreturn {{tostring(ok), e}}"
            ),
            10 => "local ok, e = pcall(error, {err='E x'})\nreturn {tostring(ok), type(e), e.err}"
                .to_string(),
            11 => {
                let cmd = self.inner_cmd();
                let args = self.call_args(s, &cmd);
                format!("redis.call({args})\nerror({w})")
            }
            12 => "return redis.call('NOSUCHCMD')".to_string(),
            13 => "return redis.pcall('NOSUCHCMD', 1)".to_string(),
            14 => self
                .rng
                .pick(&[
                    "return redis.call('EVAL', 'return 1', 0)",
                    "return redis.call('MULTI')",
                    "return redis.call('BLPOP', 'list1', 0)",
                    "return redis.pcall('SUBSCRIBE', 'ch')",
                    "return redis.call('GET')",
                    "return redis.call('SET', 'k1')",
                    "return redis.call()",
                    "return redis.pcall({})",
                    "return redis.call('PING', {1})",
                    "return redis.call('ECHO', nil)",
                ])
                .to_string(),
            _ => {
                let cmd = self.inner_cmd();
                let args = self.call_args(s, &cmd);
                format!(
                    "local ok, e = pcall(function() return redis.call({args}) end)\nif ok then return {{'ok', e}} end\nreturn {{'failed', type(e) == 'table' and e.err or e}}"
                )
            }
        }
    }

    /// A value cjson can encode deterministically (arrays and one-key objects only).
    fn json_value(&mut self, depth: u32) -> String {
        let n = if depth > 0 { 12 } else { 9 };
        match self.rng.below(n) {
            0 => self.rng.pick(INT_LITS).to_string(),
            1 => self
                .rng
                .pick(&[
                    "0.1",
                    "1/3",
                    "3.0",
                    "-0.5",
                    "1e300",
                    "2^53",
                    "1e15",
                    "1e16",
                    "-1e-7",
                    "123456.789",
                    "1/0",
                    "0/0",
                ])
                .to_string(),
            2 | 3 => {
                let v = self.value();
                lua_str(&v)
            }
            4 => lua_str(self.rng.pick(WORD_LITS).as_bytes()),
            5 => lua_str(b"q\"b\\s/\x01\x1f\x7f\t\n"),
            6 => self.rng.pick(&["true", "false", "cjson.null"]).to_string(),
            7 => "{}".to_string(),
            8 => self
                .rng
                .pick(&["{[1]=1, [3]=3}", "{[1]=1, [20]=2}", "{[0]=1}", "{[-1]=1}"])
                .to_string(),
            9 => {
                let k = lua_str(self.rng.pick(WORD_LITS).as_bytes());
                let v = self.json_value(depth - 1);
                format!("{{[{k}] = {v}}}")
            }
            _ => {
                let len = 1 + self.rng.below(4);
                let parts: Vec<String> = (0..len).map(|_| self.json_value(depth - 1)).collect();
                format!("{{{}}}", parts.join(", "))
            }
        }
    }

    fn cjson_template(&mut self, _s: &mut Script) -> String {
        match self.rng.below(6) {
            0 | 1 => format!("return cjson.encode({})", self.json_value(3)),
            2 => format!(
                "return cjson.encode(cjson.decode({}))",
                lua_str(self.rng.pick(JSON_TEXTS).as_bytes())
            ),
            3 => format!(
                "return cjson.decode({})",
                lua_str(self.rng.pick(JSON_TEXTS).as_bytes())
            ),
            4 => format!(
                "local v = cjson.decode({})\nif type(v) == 'table' then return {{'table', #v, v[1]}} end\nreturn {{type(v), v}}",
                lua_str(self.rng.pick(JSON_TEXTS).as_bytes())
            ),
            _ => format!(
                "return cjson.encode(cjson.decode(cjson.encode({})))",
                self.json_value(2)
            ),
        }
    }

    /// A value cmsgpack packs deterministically (arrays and one-key maps only).
    fn msgpack_value(&mut self, depth: u32) -> String {
        let n = if depth > 0 { 10 } else { 8 };
        match self.rng.below(n) {
            0 | 1 => self
                .rng
                .pick(&[
                    "0", "1", "127", "128", "255", "256", "65535", "65536", "2^32-1", "2^32",
                    "2^53", "-1", "-32", "-33", "-128", "-129", "-32768", "-32769", "-2^31",
                    "-2^31-1", "-2^53",
                ])
                .to_string(),
            2 => self
                .rng
                .pick(&[
                    "0.5", "1.5", "-0.25", "1/3", "3.0", "1e300", "1/0", "0/0", "-0.0",
                ])
                .to_string(),
            3 => {
                let v = self.value();
                lua_str(&v)
            }
            4 => format!(
                "string.rep('s', {})",
                self.rng
                    .pick(&["0", "31", "32", "255", "256", "65535", "65536"])
            ),
            5 => self.rng.pick(&["true", "false", "nil"]).to_string(),
            6 => "{}".to_string(),
            7 => lua_str(self.rng.pick(WORD_LITS).as_bytes()),
            8 => {
                let k = self.msgpack_value(0);
                let k = if k == "nil" || k.contains("0/0") {
                    "'k'".to_string()
                } else {
                    k
                };
                let v = self.msgpack_value(depth - 1);
                format!("{{[{k}] = {v}}}")
            }
            _ => {
                let len = 1 + self.rng.below(5);
                let parts: Vec<String> = (0..len).map(|_| self.msgpack_value(depth - 1)).collect();
                format!("{{{}}}", parts.join(", "))
            }
        }
    }

    fn cmsgpack_template(&mut self, _s: &mut Script) -> String {
        let vals = |g: &mut Gen| -> String {
            let n = 1 + g.rng.below(3);
            (0..n)
                .map(|_| g.msgpack_value(2))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.rng.below(6) {
            0 | 1 => format!("return cmsgpack.pack({})", vals(self)),
            2 | 3 => format!("return {{cmsgpack.unpack(cmsgpack.pack({}))}}", vals(self)),
            4 => format!(
                "return {{cmsgpack.unpack({})}}",
                lua_str(self.rng.pick::<&[u8]>(MSGPACK_BYTES))
            ),
            _ => {
                let v = self.msgpack_value(2);
                format!(
                    "return cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack({v}))) == cmsgpack.pack({v})"
                )
            }
        }
    }

    fn format_template(&mut self) -> String {
        let num = |g: &mut Gen| -> String {
            if g.rng.chance(50) {
                g.rng.pick(INT_LITS).to_string()
            } else {
                g.rng.pick(FLOAT_LITS).to_string()
            }
        };
        let n = 1 + self.rng.below(3);
        let mut fmt = Vec::new();
        let mut args = Vec::new();
        for _ in 0..n {
            match self.rng.below(9) {
                0 => {
                    fmt.push("%d");
                    args.push(num(self));
                }
                1 => {
                    fmt.push("%g");
                    args.push(num(self));
                }
                2 => {
                    fmt.push("%.3f");
                    args.push(num(self));
                }
                3 => {
                    fmt.push("%q");
                    let v = self.value();
                    args.push(lua_str(&v));
                }
                4 => {
                    fmt.push(
                        *self
                            .rng
                            .pick(&["%5.2f", "%x", "%X", "%o", "%e", "%i", "%5d", "%-5d|"]),
                    );
                    args.push(num(self));
                }
                5 => {
                    fmt.push(*self.rng.pick(&["%s", "%10s", "%-3s|", "%.2s"]));
                    let v = self.rng.pick(WORD_LITS);
                    args.push(lua_str(v.as_bytes()));
                }
                6 => {
                    fmt.push("%c");
                    args.push(self.rng.pick(&["65", "0", "255"]).to_string());
                }
                7 => fmt.push("%%"),
                _ => {
                    // Type errors: a string where a number is expected, a missing argument.
                    fmt.push(*self.rng.pick(&["%d", "%z", "%"]));
                    if self.rng.chance(50) {
                        args.push("'abc'".to_string());
                    }
                }
            }
        }
        let mut all = vec![lua_str(fmt.join(" ").as_bytes())];
        all.extend(args);
        format!("return string.format({})", all.join(", "))
    }

    fn number_template(&mut self) -> String {
        let strs = [
            "'0x10'",
            "' 5 '",
            "'1e1'",
            "'abc'",
            "''",
            "'5.'",
            "'.5'",
            "'inf'",
            "'nan'",
            "'1e300'",
            "'0x'",
            "'-0'",
            "'  '",
            "'10'",
            "'1e'",
            "'0x1p4'",
            "'9007199254740993'",
            "'- 1'",
            "'1\\0'",
        ];
        let nums = [
            "1e15",
            "1e16",
            "0.1",
            "-0.0",
            "1/0",
            "-1/0",
            "2^53",
            "2^63",
            "123456789012",
            "1e100",
            "3.14159265358979",
            "1/3",
            "-1e-5",
            "100",
            "2^31",
        ];
        let n = 1 + self.rng.below(4);
        let mut parts = Vec::new();
        for _ in 0..n {
            let p = match self.rng.below(5) {
                0 | 1 => format!("tostring(tonumber({}))", self.rng.pick(&strs)),
                2 => format!("tostring({})", self.rng.pick(&nums)),
                3 => format!(
                    "tostring(tonumber({}, {}))",
                    self.rng
                        .pick(&["'ff'", "'z'", "'8'", "'-10'", "'1.5'", "'11'"]),
                    self.rng.pick(&["16", "36", "8", "2", "10"])
                ),
                _ => format!("{} .. ''", self.rng.pick(&nums)),
            };
            parts.push(p);
        }
        format!("return {{{}}}", parts.join(", "))
    }

    fn random_template(&mut self) -> String {
        let seed = self
            .rng
            .pick(&["0", "1", "42", "12345", "-7", "2^40", "0.5"]);
        let k = 1 + self.rng.below(6);
        let draw = *self.rng.pick(&[
            "math.random(10)",
            "math.random(5, 20)",
            "math.floor(math.random() * 1000000)",
            "math.random(1000000000)",
            "math.random(-3, 3)",
        ]);
        let tail = if self.rng.chance(10) {
            "\nt[#t + 1] = math.random(3, 1)"
        } else {
            ""
        };
        format!(
            "math.randomseed({seed})\nlocal t = {{}}\nfor i = 1, {k} do t[i] = {draw} end{tail}\nreturn t"
        )
    }

    fn iterate_template(&mut self, s: &mut Script) -> String {
        let list = self.tkey_list();
        s.keys.push(list);
        match self.rng.below(5) {
            0 => "local out = {}\nfor i, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do out[i] = i .. '=' .. v end\nreturn out".to_string(),
            1 => "return table.concat(redis.call('LRANGE', KEYS[1], 0, 10), ',')".to_string(),
            2 => "local r = redis.call('LRANGE', KEYS[1], 0, -1)\nreturn #r".to_string(),
            3 => {
                let n = 1 + self.rng.below(6);
                let nums: Vec<String> = (0..n)
                    .map(|_| self.rng.pick(FLOAT_LITS[..14].as_ref()).to_string())
                    .collect();
                let cmp = if self.rng.chance(50) {
                    ""
                } else {
                    ", function(a, b) return a > b end"
                };
                format!("local t = {{{}}}\ntable.sort(t{cmp})\nreturn t", nums.join(", "))
            }
            _ => "local n = 0\nfor _, v in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')) do n = n + #v end\nreturn n".to_string(),
        }
    }

    fn tkey_list(&mut self) -> Vec<u8> {
        self.rng
            .pick::<&[u8]>(&[b"list1", b"list:\x002", b"k1", b"zset1", b"nokey"])
            .to_vec()
    }

    fn compile_error(&mut self) -> String {
        self.rng
            .pick(&[
                "return 1 +",
                "retrun 1",
                "local = 5",
                "return 'unfinished",
                "for i = 1 do end",
                "\x1bLua",
                "return loadstring('\\27Lua')",
                "return (loadstring('return 1 + 1'))()",
                "end",
            ])
            .to_string()
    }

    /// SCRIPT LOAD of a script, then EVALSHA (and EVALSHA_RO) of its SHA1, an EVALSHA of an
    /// unknown SHA1 and SCRIPT EXISTS.
    fn evalsha_group(&mut self) -> Item {
        let (body, keys, args) = self.script_body();
        let sha =
            String::from_utf8_lossy(&oxidis_core::script::sha1hex(body.as_bytes())).into_owned();
        let mut items = vec![Item::fixed(
            vec![self.word("SCRIPT"), self.word("LOAD"), body.into_bytes()],
            Check::Exact,
        )];
        let evalsha = |g: &mut Gen, name: &str, sha: &str| -> Item {
            let mut c = vec![g.word(name), sha.as_bytes().to_vec()];
            c.push(keys.len().to_string().into_bytes());
            c.extend(keys.iter().cloned());
            c.extend(args.iter().cloned());
            Item::fixed(c, Check::Exact)
        };
        let n = 1 + self.rng.below(2);
        for _ in 0..n {
            let name = if self.rng.chance(15) {
                "EVALSHA_RO"
            } else {
                "EVALSHA"
            };
            let sha = if self.rng.chance(15) {
                sha.to_ascii_uppercase()
            } else {
                sha.clone()
            };
            items.push(evalsha(self, name, &sha));
        }
        if self.rng.chance(40) {
            let unknown = *self.rng.pick(&[
                "ffffffffffffffffffffffffffffffffffffffff",
                "0000000000000000000000000000000000000000",
                "abc",
                "",
                "da39a3ee5e6b4b0d3255bfef95601890afd80709x",
            ]);
            items.push(evalsha(self, "EVALSHA", unknown));
        }
        if self.rng.chance(30) {
            items.push(Item::fixed(
                vec![
                    self.word("SCRIPT"),
                    self.word("EXISTS"),
                    sha.into_bytes(),
                    b"ffffffffffffffffffffffffffffffffffffffff".to_vec(),
                ],
                Check::Exact,
            ));
        }
        self.group(items)
    }

    /// SCRIPT FLUSH (then an EVALSHA of a flushed script), SCRIPT EXISTS, bad subcommands.
    fn script_misc(&mut self) -> Item {
        match self.rng.below(4) {
            0 => {
                let body = "return 'flushed?'";
                let sha = String::from_utf8_lossy(&oxidis_core::script::sha1hex(body.as_bytes()))
                    .into_owned();
                let mode = self.rng.pick(&["", "ASYNC", "SYNC", "BAD"]).to_string();
                let mut flush = vec![self.word("SCRIPT"), self.word("FLUSH")];
                if !mode.is_empty() {
                    flush.push(self.word(&mode));
                }
                let items = vec![
                    Item::fixed(
                        vec![
                            self.word("SCRIPT"),
                            self.word("LOAD"),
                            body.as_bytes().to_vec(),
                        ],
                        Check::Exact,
                    ),
                    Item::fixed(flush, Check::Exact),
                    Item::fixed(
                        vec![self.word("EVALSHA"), sha.into_bytes(), b"0".to_vec()],
                        Check::Exact,
                    ),
                ];
                self.group(items)
            }
            1 => Item::with(
                vec![
                    self.word("SCRIPT"),
                    self.word("EXISTS"),
                    oxidis_core::script::sha1hex(b"return 1").to_vec(),
                    b"nope".to_vec(),
                ],
                Check::Exact,
            ),
            2 => Item::with(
                vec![
                    self.word("SCRIPT"),
                    self.word("LOAD"),
                    self.compile_error().into_bytes(),
                ],
                Check::Exact,
            ),
            _ => Item::with(
                vec![
                    self.word("SCRIPT"),
                    self.rng
                        .pick(&[&b"NOSUCH"[..], b"", b"KILL", b"EXISTS"])
                        .to_vec(),
                ],
                Check::Exact,
            ),
        }
    }

    /// EVAL with bad numkeys, too few arguments, a script that is not a string of Lua.
    fn eval_arg_errors(&mut self) -> Item {
        let name = *self.rng.pick(&["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"]);
        let body = if name.starts_with("EVALSHA") {
            String::from_utf8_lossy(&oxidis_core::script::sha1hex(b"return 1")).into_owned()
        } else {
            "return {KEYS[1], ARGV[1]}".to_string()
        };
        let numkeys = *self
            .rng
            .pick(&["abc", "-1", "3", "1.5", "", "9223372036854775808", "1"]);
        let mut c = vec![
            self.word(name),
            body.into_bytes(),
            numkeys.as_bytes().to_vec(),
        ];
        let extra = self.rng.below(3);
        for _ in 0..extra {
            let k = self.key();
            c.push(k);
        }
        Item::with(c, Check::Exact)
    }
}

/// KEYS and ARGV collected while a script body is built.
#[derive(Default)]
struct Script {
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::super::{Gen, Item, Options};
    use super::lua_str;
    use std::collections::HashMap;

    #[test]
    fn lua_literals_escape_every_byte_that_is_not_plain_ascii() {
        assert_eq!(lua_str(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(lua_str(b"\0\r\n\xff1"), r#""\000\013\010\2551""#);
    }

    fn stream(scripts: u64, n: usize) -> Vec<Item> {
        let mut g = Gen::new(Options::default().seed, true);
        g.scripts = scripts;
        (0..n).map(|_| g.next_item()).collect()
    }

    fn name(it: &Item) -> String {
        String::from_utf8_lossy(&it.cmd[0]).to_ascii_uppercase()
    }

    #[test]
    fn the_default_stream_runs_scripts_every_way() {
        let items = stream(Options::default().scripts.unwrap_or(6), 60_000);
        let mut names: HashMap<String, usize> = HashMap::new();
        for it in &items {
            *names.entry(name(it)).or_default() += 1;
        }
        for n in ["EVAL", "EVAL_RO", "EVALSHA", "EVALSHA_RO", "SCRIPT"] {
            assert!(names.get(n).copied().unwrap_or(0) >= 20, "{n}: {names:?}");
        }
        let bodies: Vec<String> = items
            .iter()
            .filter(|it| (name(it) == "EVAL" || name(it) == "EVAL_RO") && it.cmd.len() > 1)
            .map(|it| String::from_utf8_lossy(&it.cmd[1]).into_owned())
            .collect();
        for needle in [
            "redis.call(",
            "redis.pcall(",
            "pcall(redis.call",
            "KEYS[1]",
            "ARGV[1]",
            "{ok=",
            "{err=",
            "error(",
            "nil",
            "3.99",
            "cjson.encode(",
            "cjson.decode(",
            "cmsgpack.pack(",
            "cmsgpack.unpack(",
            "string.format(",
            "%q",
            "%.3f",
            "%g",
            "%d",
            "tonumber(",
            "tostring(",
            "math.randomseed(",
            "ipairs(",
            "redis.setresp(3)",
            "#!lua",
        ] {
            assert!(
                bodies.iter().filter(|b| b.contains(needle)).count() >= 5,
                "{needle}"
            );
        }
        // Nothing that legitimately differs: hash-part iteration, table addresses, the error
        // table redis-server crashes on, strtod overflows.
        for b in &bodies {
            assert!(!b.replace("ipairs(", "").contains("pairs("), "{b}");
            assert!(!b.contains("next("), "{b}");
            assert!(!b.contains("error({})"), "{b}");
            assert!(!b.contains("'1e400'") && !b.contains("[1e400]"), "{b}");
        }
    }

    #[test]
    fn evalsha_follows_a_script_load_of_its_body_in_the_same_group() {
        let mut g = Gen::new(3, true);
        g.scripts = 100;
        let mut loaded = None;
        let mut checked = 0;
        for _ in 0..5000 {
            let in_group = g.in_group();
            let it = g.next_item();
            let n = name(&it);
            if n == "SCRIPT" && it.cmd.len() > 2 && it.cmd[1].eq_ignore_ascii_case(b"LOAD") {
                loaded = Some(oxidis_core::script::sha1hex(&it.cmd[2]));
            } else if (n == "EVALSHA" || n == "EVALSHA_RO")
                && in_group
                && it.cmd.get(1).is_some_and(|s| s.len() == 40)
            {
                let sha = it.cmd[1].to_ascii_lowercase();
                if sha.iter().all(|&c| c == b'f' || c == b'0') {
                    continue;
                }
                assert_eq!(Some(sha.as_slice()), loaded.as_ref().map(|s| &s[..]));
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn a_resp3_caller_goes_back_to_resp2_within_its_group() {
        let mut g = Gen::new(4, true);
        g.scripts = 100;
        let (mut resp3, mut groups) = (false, 0);
        for _ in 0..5000 {
            let in_group = g.in_group();
            let it = g.next_item();
            let hello = name(&it) == "HELLO";
            if resp3 {
                assert!(in_group, "{:?}", it.cmd);
                if hello {
                    assert_eq!(it.cmd[1], b"2");
                    resp3 = false;
                    groups += 1;
                } else {
                    assert_eq!(name(&it), "EVAL");
                }
            } else if hello {
                assert_eq!(it.cmd[1], b"3");
                resp3 = true;
            }
        }
        assert!(groups > 100, "{groups}");
    }

    #[test]
    fn strings_only_has_no_scripts_and_scripts_only_is_all_scripts() {
        let mut g = Gen::new(1, false);
        assert!((0..5000).all(|_| !name(&g.next_item()).contains("EVAL")));
        for it in stream(100, 3000) {
            assert!(
                name(&it).starts_with("EVAL") || name(&it) == "SCRIPT" || name(&it) == "HELLO",
                "{:?}",
                it.cmd
            );
        }
    }
}
