//! The collection half of the differential stream: lists, hashes, sets and sorted sets, and
//! TYPE / OBJECT ENCODING / SORT / SCAN over every type. The determinism rules this generator
//! keeps (which commands are grouped, which keys lex ranges may read, which SORT forms are
//! avoided) are listed in the parent module's docs.

use super::{Check, Cmd, Gen, Item, KEYS, MISSING_KEYS, PATTERNS};

/// The keys each type uses most often: two of its own (the string stream rarely writes them)
/// and one of the shared pool. Other pool keys and other types' keys give WRONGTYPE collisions.
const LIST_HOME: &[&[u8]] = &[b"list1", b"list:\x002", b"k1"];
const HASH_HOME: &[&[u8]] = &[b"hash1", b"hash 2", b"k2"];
const SET_HOME: &[&[u8]] = &[b"set1", b"set{2}", b"k3"];
const ZSET_HOME: &[&[u8]] = &[b"zset1", b"zset*2", b"{u}1"];
const HOMES: &[&[&[u8]]] = &[LIST_HOME, HASH_HOME, SET_HOME, ZSET_HOME];

/// Any type's home key.
pub(super) fn home_key(rng: &mut super::Rng) -> &'static [u8] {
    let home = *rng.pick(HOMES);
    let key = *rng.pick(home);
    key
}

/// Zsets whose scores are always 0: the only keys lex-range commands read. Nothing ever adds a
/// non-zero score here: ZADD uses score 0, they are never a store destination, and the string
/// stream (RENAME, COPY, MOVE ...) only draws from the shared pool.
const LEX_KEYS: &[&[u8]] = &[b"zlex1", b"zlex2"];

/// Integer-like members: intset widths (16/32/64 bits), limits, and strings that look like
/// integers but are not canonical (so they are not intset-encodable).
const INT_MEMBERS: &[&str] = &[
    "-1",
    "-100",
    "65536",
    "-32769",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775808",
    "4611686018427387904",
    "12345678901234567890",
    "007",
    "+1",
    "1.0",
    " 1",
    "0x10",
    "-0",
];

const WORDS: &[&str] = &[
    "a", "b", "c", "d", "x", "y", "hello", "foo bar", "member", "f", "1", "2", "3", "A",
];

/// Binary members. Exactly one contains NUL, and its prefix before the NUL ("nul") is no other
/// member: SORT ALPHA compares with strcoll(), which stops at NUL, and a tie between two
/// different members would be ordered by the sort algorithm.
const BIN_MEMBERS: &[&[u8]] = &[
    b"nul\0x\r\n",
    b"\r\n",
    b"\xff\xfe",
    b"\xc3\xa9t\xc3\xa9",
    b"$3\r\nfoo",
    b"*1\r\n",
    b"a b",
    b"-",
    b"+",
    b"[a",
    b"(a",
];

const FLOAT_MEMBERS: &[&str] = &["1.5", "inf", "-inf", "nan", "3.0e3", "0.1", "-2.5"];

const SCORE_WORDS: &[&str] = &[
    "inf",
    "-inf",
    "+inf",
    "1e3",
    "-0",
    "0x10",
    "1e308",
    "-1e308",
    "5e-324",
    ".5",
    "3.0e3",
    "1.7976931348623157e308",
    "0.1",
    "1e-10",
    "Infinity",
    "-2.5",
];

const BAD_SCORES: &[&str] = &["nan", "NaN", "abc", "", " 1", "1 ", "(1", "1e", "--1"];

const COUNTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "100",
    "-1",
    "abc",
    "",
    "9223372036854775807",
    "-9223372036854775808",
];

const SCAN_PATTERNS: &[&[u8]] = &[
    b"*",
    b"m*",
    b"f*",
    b"*1*",
    b"?",
    b"1?",
    b"field:1*",
    b"member:2*",
    b"[a-c]*",
    b"*\xa9*",
    b"nul*",
    b"[",
];

#[derive(Clone, Copy)]
enum Kind {
    List,
    Hash,
    Set,
    ZSet,
}

fn b(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

impl Gen {
    /// One collection command (or a group of them).
    pub(super) fn collection(&mut self) -> Item {
        match self.rng.below(100) {
            0..=19 => self.list_cmd(),
            20..=37 => self.hash_cmd(),
            38..=55 => self.set_cmd(),
            56..=81 => self.zset_cmd(),
            82..=91 => self.stream_cmd(),
            _ => self.generic_cmd(),
        }
    }

    /// A key for a command of type `kind`: mostly its home keys, else any pool key (WRONGTYPE)
    /// or a missing one.
    fn tkey(&mut self, kind: Kind) -> Vec<u8> {
        let home = match kind {
            Kind::List => LIST_HOME,
            Kind::Hash => HASH_HOME,
            Kind::Set => SET_HOME,
            Kind::ZSet => ZSET_HOME,
        };
        match self.rng.below(100) {
            0..=79 => self.rng.pick(home).to_vec(),
            80..=91 => self.rng.pick(KEYS).to_vec(),
            92..=94 => home_key(&mut self.rng).to_vec(),
            _ => self.rng.pick(MISSING_KEYS).to_vec(),
        }
    }

    /// The destination of a *STORE command: half the time a shared pool key, so the results
    /// (often empty, which deletes the destination) do not wipe out the home keys too often.
    fn store_key(&mut self, kind: Kind) -> Vec<u8> {
        if self.rng.chance(50) {
            self.rng.pick(KEYS).to_vec()
        } else {
            self.tkey(kind)
        }
    }

    /// A zset key that is only read or shrunk: sometimes one of the lex keys.
    fn zread_key(&mut self) -> Vec<u8> {
        if self.rng.chance(15) {
            self.rng.pick(LEX_KEYS).to_vec()
        } else {
            self.tkey(Kind::ZSet)
        }
    }

    fn lex_key(&mut self) -> Vec<u8> {
        self.rng.pick(LEX_KEYS).to_vec()
    }

    /// A collection element: small integers (intset material), integer edge cases, words,
    /// binary strings, elements around the 64-byte listpack limit.
    fn member(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=29 => self.rng.below(31).to_string().into_bytes(),
            30..=35 => b(self.rng.pick(INT_MEMBERS)),
            36..=55 => b(self.rng.pick(WORDS)),
            56..=65 => format!("m{}", self.rng.below(60)).into_bytes(),
            // The bulk commands' members.
            66..=70 => format!("member:{}", self.rng.below(300)).into_bytes(),
            71..=73 => Vec::new(),
            74..=78 => self.rng.pick(BIN_MEMBERS).to_vec(),
            79..=82 => {
                // Random bytes without NUL (see BIN_MEMBERS).
                let n = 1 + self.rng.below(16);
                (0..n).map(|_| 1 + self.rng.below(255) as u8).collect()
            }
            83..=88 => self.long_member(),
            _ => b(self.rng.pick(FLOAT_MEMBERS)),
        }
    }

    /// An element just under, at or over the 64-byte listpack value limit, or far over it.
    fn long_member(&mut self) -> Vec<u8> {
        let len = *self.rng.pick(&[63usize, 64, 65, 66, 100, 300]);
        let c = *self.rng.pick(b"xyz");
        vec![c; len]
    }

    fn members(&mut self, c: &mut Cmd, min: u64, max: u64) {
        let n = min + self.rng.below(max - min + 1);
        for _ in 0..n {
            let m = self.member();
            c.push(m);
        }
    }

    fn field(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => b(self.rng.pick(&["f", "f1", "f2", "f3", "n1", "n2"])),
            4..=6 => format!("field:{}", self.rng.below(300)).into_bytes(),
            _ => self.member(),
        }
    }

    fn hvalue(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=2 => (self.rng.below(201) as i64 - 100).to_string().into_bytes(),
            3 => b(self.rng.pick(super::FLOATS)),
            _ => self.member(),
        }
    }

    fn score(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=44 => (self.rng.below(41) as i64 - 20).to_string().into_bytes(),
            45..=59 => {
                let sign = if self.rng.chance(40) { "-" } else { "" };
                let frac = *self.rng.pick(&["5", "25", "1", "75", "125", "333"]);
                format!("{sign}{}.{frac}", self.rng.below(11)).into_bytes()
            }
            60..=74 => b(self.rng.pick(SCORE_WORDS)),
            75..=79 => b(self.rng.pick(BAD_SCORES)),
            _ => self.rng.below(100).to_string().into_bytes(),
        }
    }

    /// A score range bound: numbers, exclusive "(" bounds, infinities, invalid bounds.
    fn score_bound(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=14 => b(self.rng.pick(&["-inf", "+inf", "inf", "-INF"])),
            15..=39 => {
                let mut v = b"(".to_vec();
                v.extend(self.score_num());
                v
            }
            40..=47 => b(self.rng.pick(&[
                "(inf", "(-inf", "(", "((1", "[1", "abc", "", "(nan", "nan", " 1",
            ])),
            _ => self.score_num(),
        }
    }

    fn score_num(&mut self) -> Vec<u8> {
        if self.rng.chance(75) {
            (self.rng.below(51) as i64 - 25).to_string().into_bytes()
        } else {
            format!("{}.5", self.rng.below(21) as i64 - 10).into_bytes()
        }
    }

    fn lex_member(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => {
                let n = 1 + self.rng.below(2);
                (0..n).map(|_| *self.rng.pick(b"abcdefgh")).collect()
            }
            6..=8 => format!("m{}", self.rng.below(300)).into_bytes(),
            _ => self
                .rng
                .pick(&[&b""[..], b"\xff", b"a\x01b", b"-", b"+"])
                .to_vec(),
        }
    }

    /// A lex range bound: "-", "+", "[x", "(x", invalid forms.
    fn lex_bound(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=19 => b(self.rng.pick(&["-", "+"])),
            20..=59 => {
                let mut v = b"[".to_vec();
                v.extend(self.lex_member());
                v
            }
            60..=89 => {
                let mut v = b"(".to_vec();
                v.extend(self.lex_member());
                v
            }
            _ => b(self.rng.pick(&["a", "", "[", "(", "-a", "+a", "x", "]a"])),
        }
    }

    /// Two score bounds, usually min <= max (swapped when `rev`, as the REV forms take them).
    fn score_range(&mut self, rev: bool) -> (Vec<u8>, Vec<u8>) {
        if self.rng.chance(25) {
            return (self.score_bound(), self.score_bound());
        }
        let mut x = self.rng.below(61) as f64 - 30.0;
        let mut y = self.rng.below(61) as f64 - 30.0;
        if self.rng.chance(20) {
            x += 0.5;
        }
        if x > y {
            std::mem::swap(&mut x, &mut y);
        }
        let mut lo = if self.rng.chance(25) {
            format!("({x}").into_bytes()
        } else {
            x.to_string().into_bytes()
        };
        let mut hi = if self.rng.chance(25) {
            format!("({y}").into_bytes()
        } else {
            y.to_string().into_bytes()
        };
        if self.rng.chance(12) {
            lo = b("-inf");
        }
        if self.rng.chance(12) {
            hi = b(self.rng.pick(&["+inf", "inf"]));
        }
        if rev {
            (hi, lo)
        } else {
            (lo, hi)
        }
    }

    /// Two lex bounds, usually min <= max (swapped when `rev`).
    fn lex_range(&mut self, rev: bool) -> (Vec<u8>, Vec<u8>) {
        if self.rng.chance(25) {
            return (self.lex_bound(), self.lex_bound());
        }
        let (mut x, mut y) = (self.lex_member(), self.lex_member());
        if x > y {
            std::mem::swap(&mut x, &mut y);
        }
        let deco = |g: &mut Gen, v: Vec<u8>, open: &str| -> Vec<u8> {
            if g.rng.chance(12) {
                return b(open);
            }
            let mut o = if g.rng.chance(40) { b("(") } else { b("[") };
            o.extend(v);
            o
        };
        let lo = deco(self, x, "-");
        let hi = deco(self, y, "+");
        if rev {
            (hi, lo)
        } else {
            (lo, hi)
        }
    }

    /// A member likely to be in a collection: small integers and the bulk commands' members.
    fn probe_member(&mut self) -> Vec<u8> {
        match self.rng.below(4) {
            0 => self.rng.below(31).to_string().into_bytes(),
            1 => format!("member:{}", self.rng.below(300)).into_bytes(),
            _ => self.member(),
        }
    }

    /// A list index: mostly small, sometimes far out, sometimes invalid.
    fn lidx(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=69 => (self.rng.below(25) as i64 - 12).to_string().into_bytes(),
            70..=84 => b(self
                .rng
                .pick(&["0", "-1", "100", "-100", "1000", "-1000", "600", "-600"])),
            _ => self.int_arg(),
        }
    }

    fn count_arg(&mut self) -> Vec<u8> {
        b(self.rng.pick(COUNTS))
    }

    /// `numkeys key...` for the multi-key commands (LMPOP, ZUNION, SINTERCARD ...): usually
    /// right, sometimes zero, negative, not a number, or more than the keys given.
    fn numkeys_keys(&mut self, c: &mut Cmd, kind: Kind, lex_too: bool) -> usize {
        let n = 1 + self.rng.below(3) as usize;
        let declared = match self.rng.below(100) {
            0..=89 => n.to_string(),
            90..=92 => "0".to_string(),
            93 | 94 => "-1".to_string(),
            95 | 96 => "abc".to_string(),
            _ => (n + 3).to_string(),
        };
        c.push(declared.into_bytes());
        for _ in 0..n {
            let k = if lex_too && self.rng.chance(15) {
                self.lex_key()
            } else if matches!(kind, Kind::ZSet) && self.rng.chance(15) {
                // Sets are valid inputs of the zset algebra (score 1).
                self.tkey(Kind::Set)
            } else {
                self.tkey(kind)
            };
            c.push(k);
        }
        n
    }

    /// The first item of `items`; the rest come next, in order, in the same batch.
    pub(super) fn group(&mut self, items: Vec<Item>) -> Item {
        let mut it = items.into_iter();
        let first = it.next().expect("a group has a first command");
        self.pending.extend(it);
        first
    }

    /// `OBJECT ENCODING key`, checked with the string encodings relaxed.
    fn encoding_of(&mut self, key: &[u8]) -> Item {
        Item::fixed(
            vec![self.word("OBJECT"), self.word("ENCODING"), key.to_vec()],
            Check::Encoding,
        )
    }

    /// A listing of a whole collection, then (in the same batch) the same listing after
    /// OBJECT ENCODING half of the time, so compact encodings must keep Redis's order.
    fn listing(&mut self, cmd: Cmd, pairs: bool) -> Item {
        if self.rng.chance(50) {
            let key = cmd[1].clone();
            let enc = self.encoding_of(&key);
            self.group(vec![enc, Item::fixed(cmd, Check::OrderIfCompact { pairs })])
        } else if pairs {
            Item::with(cmd, Check::PairMultiset)
        } else {
            Item::with(cmd, Check::Multiset)
        }
    }

    /// Grows a fresh collection to exactly `n` elements around an encoding threshold and asks
    /// for its encoding before and after one more element.
    fn threshold_probe(&mut self, kind: Kind) -> Item {
        let key = self.tkey(kind);
        let (name, n) = match kind {
            Kind::Hash => ("HSET", *self.rng.pick(&[127u64, 128, 129])),
            Kind::Set => ("SADD", *self.rng.pick(&[511u64, 512, 513])),
            Kind::ZSet => ("ZADD", *self.rng.pick(&[127u64, 128, 129])),
            Kind::List => ("RPUSH", *self.rng.pick(&[127u64, 128, 129])),
        };
        let elem = |i: u64| -> Vec<Vec<u8>> {
            match kind {
                Kind::Hash => vec![
                    format!("field:{i}").into_bytes(),
                    format!("value:{i}").into_bytes(),
                ],
                Kind::ZSet => vec![
                    i.to_string().into_bytes(),
                    format!("member:{i}").into_bytes(),
                ],
                Kind::Set | Kind::List => vec![i.to_string().into_bytes()],
            }
        };
        let mut fill = vec![self.word(name), key.clone()];
        for i in 0..n {
            fill.extend(elem(i));
        }
        let mut one_more = vec![self.word(name), key.clone()];
        one_more.extend(elem(n));
        let del = vec![self.word("DEL"), key.clone()];
        let enc1 = self.encoding_of(&key);
        let enc2 = self.encoding_of(&key);
        self.group(vec![
            Item::fixed(del, Check::Exact),
            Item::fixed(fill, Check::Exact),
            enc1,
            Item::fixed(one_more, Check::Exact),
            enc2,
        ])
    }

    // -----------------------------------------------------------------------------------------
    // Lists

    fn list_cmd(&mut self) -> Item {
        let k = self.tkey(Kind::List);
        let c: Cmd = match self.rng.below(100) {
            0 | 1 => {
                let name = *self.rng.pick(&["LPUSH", "RPUSH"]);
                let mut c = vec![self.word(name), k];
                let n = 100 + self.rng.below(900);
                self.members(&mut c, n, n);
                c
            }
            2..=13 => {
                let name = *self.rng.pick(&["LPUSH", "RPUSH"]);
                let mut c = vec![self.word(name), k];
                self.members(&mut c, 1, 4);
                c
            }
            14..=17 => {
                let name = *self.rng.pick(&["LPUSHX", "RPUSHX"]);
                let mut c = vec![self.word(name), k];
                self.members(&mut c, 1, 3);
                c
            }
            18..=25 => {
                let name = *self.rng.pick(&["LPOP", "RPOP"]);
                let mut c = vec![self.word(name), k];
                if self.rng.chance(50) {
                    c.push(self.count_arg());
                }
                c
            }
            26..=29 => vec![self.word("LLEN"), k],
            30..=39 => vec![self.word("LRANGE"), k, self.lidx(), self.lidx()],
            40..=44 => vec![self.word("LINDEX"), k, self.lidx()],
            45..=49 => vec![self.word("LSET"), k, self.lidx(), self.member()],
            50..=55 => {
                let wh = *self
                    .rng
                    .pick(&["BEFORE", "AFTER", "BEFORE", "AFTER", "MIDDLE"]);
                vec![
                    self.word("LINSERT"),
                    k,
                    self.word(wh),
                    self.member(),
                    self.member(),
                ]
            }
            56..=60 => {
                let n = (self.rng.below(7) as i64 - 3).to_string().into_bytes();
                vec![self.word("LREM"), k, n, self.member()]
            }
            61..=65 => vec![self.word("LTRIM"), k, self.lidx(), self.lidx()],
            66..=74 => self.lpos(k),
            75..=81 => {
                let dst = self.tkey(Kind::List);
                let d1 = *self.rng.pick(&["LEFT", "RIGHT", "LEFT", "RIGHT", "UP"]);
                let d2 = *self.rng.pick(&["LEFT", "RIGHT"]);
                vec![self.word("LMOVE"), k, dst, self.word(d1), self.word(d2)]
            }
            82..=85 => vec![self.word("RPOPLPUSH"), k, self.tkey(Kind::List)],
            86..=92 => {
                let mut c = vec![self.word("LMPOP")];
                self.numkeys_keys(&mut c, Kind::List, false);
                let dir = *self.rng.pick(&["LEFT", "RIGHT", "LEFT", "RIGHT", "MIN"]);
                c.push(self.word(dir));
                if self.rng.chance(50) {
                    c.push(self.word("COUNT"));
                    c.push(self.count_arg());
                }
                c
            }
            93 => return self.threshold_probe(Kind::List),
            94 => vec![self.word("LRANGE"), k, b("0"), b("-1")],
            _ => vec![self.word("DEL"), k],
        };
        Item::exact(c)
    }

    fn lpos(&mut self, k: Vec<u8>) -> Cmd {
        let mut c = vec![self.word("LPOS"), k, self.probe_member()];
        let n = *self.rng.pick(&[0, 0, 1, 1, 2, 3]);
        for _ in 0..n {
            match self.rng.below(7) {
                0 | 1 => {
                    c.push(self.word("RANK"));
                    c.push(b(self.rng.pick(&[
                        "1",
                        "2",
                        "-1",
                        "-2",
                        "3",
                        "0",
                        "abc",
                        "-9223372036854775808",
                        "9223372036854775807",
                    ])));
                }
                2 | 3 => {
                    c.push(self.word("COUNT"));
                    c.push(b(self.rng.pick(&["0", "1", "2", "5", "-1", "abc"])));
                }
                4 | 5 => {
                    c.push(self.word("MAXLEN"));
                    c.push(b(self.rng.pick(&["0", "1", "3", "100", "-1", "abc"])));
                }
                _ => c.push(b(self.rng.pick(&["FOO", "RANK"]))),
            }
        }
        c
    }

    // -----------------------------------------------------------------------------------------
    // Hashes

    fn hash_cmd(&mut self) -> Item {
        let k = self.tkey(Kind::Hash);
        let c: Cmd = match self.rng.below(100) {
            0 | 1 => {
                // Past (or around) the 128-field listpack limit.
                let mut c = vec![self.word("HSET"), k];
                let n = 120 + self.rng.below(81);
                for _ in 0..n {
                    let i = self.rng.below(300);
                    c.push(format!("field:{i}").into_bytes());
                    if self.rng.chance(2) {
                        c.push(self.long_member());
                    } else {
                        c.push(format!("value:{i}").into_bytes());
                    }
                }
                c
            }
            2..=15 => {
                let mut c = vec![self.word("HSET"), k];
                let n = 1 + self.rng.below(3);
                for _ in 0..n {
                    c.push(self.field());
                    c.push(self.hvalue());
                }
                c
            }
            16..=19 => vec![self.word("HSETNX"), k, self.field(), self.hvalue()],
            20..=27 => vec![self.word("HGET"), k, self.field()],
            28..=32 => {
                let mut c = vec![self.word("HMGET"), k];
                let n = 1 + self.rng.below(4);
                for _ in 0..n {
                    c.push(self.field());
                }
                c
            }
            33..=36 => {
                let mut c = vec![self.word("HMSET"), k];
                let n = 1 + self.rng.below(3);
                for _ in 0..n {
                    c.push(self.field());
                    c.push(self.hvalue());
                }
                c
            }
            37..=43 => {
                let mut c = vec![self.word("HDEL"), k];
                let n = 1 + self.rng.below(3);
                for _ in 0..n {
                    c.push(self.field());
                }
                c
            }
            44..=47 => vec![self.word("HLEN"), k],
            48..=51 => vec![self.word("HEXISTS"), k, self.field()],
            52..=55 => vec![self.word("HSTRLEN"), k, self.field()],
            56..=63 => {
                let name = *self.rng.pick(&["HGETALL", "HGETALL", "HKEYS", "HVALS"]);
                let pairs = name == "HGETALL";
                let c = vec![self.word(name), k];
                return self.listing(c, pairs);
            }
            64..=69 => {
                let f = b(self.rng.pick(&["n1", "n2", "f", "f1"]));
                vec![self.word("HINCRBY"), k, f, self.int_arg()]
            }
            70..=74 => {
                let f = b(self.rng.pick(&["n1", "n2", "f", "f1"]));
                vec![self.word("HINCRBYFLOAT"), k, f, self.float_arg()]
            }
            75..=82 => return self.random_pick(Kind::Hash, k),
            83..=85 => return self.scan_cmd("HSCAN", k, true),
            86 => return self.threshold_probe(Kind::Hash),
            87..=89 => vec![self.word("DEL"), k],
            _ => {
                let f = b(self.rng.pick(&["n1", "n2"]));
                let v = (self.rng.below(2001) as i64 - 1000)
                    .to_string()
                    .into_bytes();
                vec![self.word("HSET"), k, f, v]
            }
        };
        Item::exact(c)
    }

    /// SRANDMEMBER / HRANDFIELD / ZRANDMEMBER (and SPOP) after a full listing of the key.
    fn random_pick(&mut self, kind: Kind, k: Vec<u8>) -> Item {
        let (listing, ref_pairs, name, with): (Cmd, bool, &str, &str) = match kind {
            Kind::Hash => (
                vec![self.word("HGETALL"), k.clone()],
                true,
                "HRANDFIELD",
                "WITHVALUES",
            ),
            Kind::ZSet => (
                vec![
                    self.word("ZRANGE"),
                    k.clone(),
                    b("0"),
                    b("-1"),
                    self.word("WITHSCORES"),
                ],
                true,
                "ZRANDMEMBER",
                "WITHSCORES",
            ),
            Kind::Set | Kind::List => (
                vec![self.word("SMEMBERS"), k.clone()],
                false,
                "SRANDMEMBER",
                "",
            ),
        };
        let listing_check = match kind {
            Kind::Hash => Check::PairMultiset,
            Kind::ZSet => Check::Exact,
            Kind::Set | Kind::List => Check::Multiset,
        };
        let mut c = vec![self.word(name), k];
        let mut distinct = false;
        let mut pairs = false;
        if self.rng.chance(80) {
            // Negative counts repeat elements: keep them small (Redis builds the whole reply).
            let count = match self.rng.below(100) {
                0..=39 => (1 + self.rng.below(5)).to_string(),
                40..=49 => "1000".to_string(),
                50..=54 => "0".to_string(),
                55..=89 => format!("-{}", 1 + self.rng.below(20)),
                _ => self
                    .rng
                    .pick(&["abc", "-9223372036854775808", "1.5", ""])
                    .to_string(),
            };
            distinct = count.parse::<i64>().is_ok_and(|n| n > 0);
            c.push(count.into_bytes());
            if !with.is_empty() && self.rng.chance(50) {
                c.push(self.word(with));
                pairs = true;
            }
            if self.rng.chance(3) {
                c.push(b("FOO"));
            }
        }
        let check = Check::Sample {
            ref_pairs,
            pairs,
            distinct,
        };
        self.group(vec![
            Item::fixed(listing, listing_check),
            Item::fixed(c, check),
        ])
    }

    // -----------------------------------------------------------------------------------------
    // Sets

    fn set_cmd(&mut self) -> Item {
        let k = self.tkey(Kind::Set);
        let c: Cmd = match self.rng.below(100) {
            0 | 1 => {
                // Past (or around) the 512-member intset limit, or a big string set.
                let mut c = vec![self.word("SADD"), k];
                if self.rng.chance(70) {
                    let n = 450 + self.rng.below(300);
                    for _ in 0..n {
                        let v = self.rng.below(3000) as i64 - 100;
                        c.push(v.to_string().into_bytes());
                    }
                } else {
                    let n = 100 + self.rng.below(200);
                    for _ in 0..n {
                        c.push(format!("member:{}", self.rng.below(400)).into_bytes());
                    }
                }
                c
            }
            2..=15 => {
                let mut c = vec![self.word("SADD"), k];
                self.members(&mut c, 1, 4);
                c
            }
            16..=21 => {
                let mut c = vec![self.word("SREM"), k];
                self.members(&mut c, 1, 3);
                c
            }
            22..=26 => vec![self.word("SISMEMBER"), k, self.probe_member()],
            27..=30 => {
                let mut c = vec![self.word("SMISMEMBER"), k];
                self.members(&mut c, 1, 4);
                c
            }
            31..=35 => vec![self.word("SCARD"), k],
            36..=42 => {
                let c = vec![self.word("SMEMBERS"), k];
                return self.listing(c, false);
            }
            43..=47 => return self.spop(k),
            48..=54 => return self.random_pick(Kind::Set, k),
            55..=59 => vec![self.word("SMOVE"), k, self.tkey(Kind::Set), self.member()],
            60..=68 => {
                let name = *self.rng.pick(&["SINTER", "SUNION", "SDIFF"]);
                let mut c = vec![self.word(name), k];
                let n = self.rng.below(3);
                for _ in 0..n {
                    c.push(self.tkey(Kind::Set));
                }
                return Item::with(c, Check::Multiset);
            }
            69..=76 => {
                let name = *self.rng.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
                let dst = self.store_key(Kind::Set);
                let mut c = vec![self.word(name), dst, k];
                let n = self.rng.below(3);
                for _ in 0..n {
                    c.push(self.tkey(Kind::Set));
                }
                c
            }
            77..=80 => {
                let mut c = vec![self.word("SINTERCARD")];
                self.numkeys_keys(&mut c, Kind::Set, false);
                if self.rng.chance(40) {
                    c.push(self.word("LIMIT"));
                    c.push(b(self.rng.pick(&["0", "1", "2", "5", "-1", "abc"])));
                }
                c
            }
            81..=83 => return self.scan_cmd("SSCAN", k, false),
            84 => return self.threshold_probe(Kind::Set),
            85..=87 => vec![self.word("DEL"), k],
            _ => {
                let mut c = vec![self.word("SADD"), k];
                let n = 1 + self.rng.below(5);
                for _ in 0..n {
                    c.push(self.rng.below(40).to_string().into_bytes());
                }
                c
            }
        };
        Item::exact(c)
    }

    /// SPOP: either pops everything (a count above any set's size: deterministic up to
    /// order), or pops a random part between a listing and SCARD + DEL (so both servers hold
    /// the same data again).
    fn spop(&mut self, k: Vec<u8>) -> Item {
        if self.rng.chance(40) {
            let c = vec![self.word("SPOP"), k, b("100000")];
            return Item::fixed(c, Check::Multiset);
        }
        let mut c = vec![self.word("SPOP"), k.clone()];
        let mut distinct = false;
        if self.rng.chance(70) {
            let count = *self
                .rng
                .pick(&["1", "2", "3", "5", "0", "1000", "-1", "abc"]);
            distinct = count.parse::<i64>().is_ok_and(|n| n > 0);
            c.push(b(count));
        }
        let listing = vec![self.word("SMEMBERS"), k.clone()];
        let card = vec![self.word("SCARD"), k.clone()];
        let del = vec![self.word("DEL"), k];
        self.group(vec![
            Item::fixed(listing, Check::Multiset),
            Item::fixed(
                c,
                Check::Sample {
                    ref_pairs: false,
                    pairs: false,
                    distinct,
                },
            ),
            Item::fixed(card, Check::Exact),
            Item::fixed(del, Check::Exact),
        ])
    }

    // -----------------------------------------------------------------------------------------
    // Sorted sets

    fn zset_cmd(&mut self) -> Item {
        let c: Cmd = match self.rng.below(100) {
            0 | 1 => {
                // Past (or around) the 128-member listpack limit; few distinct scores (ties).
                let mut c = vec![self.word("ZADD"), self.tkey(Kind::ZSet)];
                let n = 120 + self.rng.below(81);
                for _ in 0..n {
                    c.push(self.rng.below(50).to_string().into_bytes());
                    if self.rng.chance(2) {
                        c.push(self.long_member());
                    } else {
                        c.push(format!("member:{}", self.rng.below(300)).into_bytes());
                    }
                }
                c
            }
            2 | 3 => {
                // The lex keys: score 0 only.
                let mut c = vec![self.word("ZADD"), self.lex_key()];
                if self.rng.chance(20) {
                    let o = *self.rng.pick(&["NX", "XX", "CH"]);
                    c.push(self.word(o));
                }
                let n = if self.rng.chance(25) {
                    120 + self.rng.below(81)
                } else {
                    1 + self.rng.below(4)
                };
                for _ in 0..n {
                    c.push(b("0"));
                    c.push(self.lex_member());
                }
                // Not mutated: nothing but score 0 ever goes into a lex key.
                return Item::fixed(c, Check::Exact);
            }
            4..=17 => self.zadd(),
            18..=21 => vec![
                self.word("ZINCRBY"),
                self.tkey(Kind::ZSet),
                self.score(),
                self.member(),
            ],
            22..=26 => {
                let mut c = vec![self.word("ZREM"), self.zread_key()];
                self.members(&mut c, 1, 3);
                c
            }
            27..=30 => vec![self.word("ZSCORE"), self.zread_key(), self.probe_member()],
            31..=33 => {
                let mut c = vec![self.word("ZMSCORE"), self.zread_key()];
                self.members(&mut c, 1, 4);
                c
            }
            34..=36 => vec![self.word("ZCARD"), self.zread_key()],
            37..=40 => {
                let k = self.zread_key();
                let (min, max) = self.score_range(false);
                vec![self.word("ZCOUNT"), k, min, max]
            }
            41..=44 => {
                let name = *self.rng.pick(&["ZRANK", "ZREVRANK"]);
                vec![self.word(name), self.zread_key(), self.probe_member()]
            }
            45..=52 => self.zrange(false),
            53..=55 => self.zrange(true),
            56..=59 => {
                let rev = self.rng.chance(40);
                let name = if rev {
                    "ZREVRANGEBYSCORE"
                } else {
                    "ZRANGEBYSCORE"
                };
                let k = self.zread_key();
                let (min, max) = self.score_range(rev);
                let mut c = vec![self.word(name), k, min, max];
                self.zrange_tail(&mut c, true, true);
                c
            }
            60..=63 => self.lex_cmd(),
            64..=66 => {
                let mut c = vec![
                    self.word("ZREVRANGE"),
                    self.zread_key(),
                    self.lidx(),
                    self.lidx(),
                ];
                if self.rng.chance(40) {
                    c.push(self.word("WITHSCORES"));
                }
                c
            }
            67..=70 => {
                let name = *self.rng.pick(&["ZPOPMIN", "ZPOPMAX"]);
                let mut c = vec![self.word(name), self.zread_key()];
                if self.rng.chance(50) {
                    c.push(self.count_arg());
                }
                c
            }
            71..=73 => {
                let mut c = vec![self.word("ZMPOP")];
                self.numkeys_keys(&mut c, Kind::ZSet, true);
                let dir = *self.rng.pick(&["MIN", "MAX", "MIN", "MAX", "LEFT"]);
                c.push(self.word(dir));
                if self.rng.chance(50) {
                    c.push(self.word("COUNT"));
                    c.push(self.count_arg());
                }
                c
            }
            74..=78 => {
                let k = self.zread_key();
                return self.random_pick(Kind::ZSet, k);
            }
            79..=81 => {
                if self.rng.chance(50) {
                    vec![
                        self.word("ZREMRANGEBYRANK"),
                        self.zread_key(),
                        self.lidx(),
                        self.lidx(),
                    ]
                } else {
                    let k = self.zread_key();
                    let (min, max) = self.score_range(false);
                    vec![self.word("ZREMRANGEBYSCORE"), k, min, max]
                }
            }
            82..=87 => self.zalgebra(true),
            88..=92 => self.zalgebra(false),
            93 | 94 => {
                let mut c = vec![self.word("ZINTERCARD")];
                self.numkeys_keys(&mut c, Kind::ZSet, true);
                if self.rng.chance(40) {
                    c.push(self.word("LIMIT"));
                    c.push(b(self.rng.pick(&["0", "1", "2", "5", "-1", "abc"])));
                }
                c
            }
            95 | 96 => {
                let k = self.zread_key();
                return self.scan_cmd("ZSCAN", k, true);
            }
            97 => return self.threshold_probe(Kind::ZSet),
            98 if self.rng.chance(50) => return self.nan_probe(),
            _ => {
                let k = if self.rng.chance(20) {
                    self.lex_key()
                } else {
                    self.tkey(Kind::ZSet)
                };
                vec![self.word("DEL"), k]
            }
        };
        Item::exact(c)
    }

    /// Scores that add up to NaN: inf + -inf through ZINCRBY and ZADD INCR (an error, the
    /// score unchanged), and through ZUNIONSTORE's SUM (Redis stores 0).
    fn nan_probe(&mut self) -> Item {
        let k = self.tkey(Kind::ZSet);
        let m = self.probe_member();
        let (inf, ninf) = if self.rng.chance(50) {
            ("inf", "-inf")
        } else {
            ("-inf", "+inf")
        };
        let dst = self.store_key(Kind::ZSet);
        let mut items = vec![
            vec![self.word("ZADD"), k.clone(), b(inf), m.clone()],
            vec![self.word("ZINCRBY"), k.clone(), b(ninf), m.clone()],
            vec![
                self.word("ZADD"),
                k.clone(),
                self.word("INCR"),
                b(ninf),
                m.clone(),
            ],
            vec![self.word("ZSCORE"), k.clone(), m.clone()],
        ];
        let name = *self.rng.pick(&["ZUNIONSTORE", "ZINTERSTORE"]);
        items.push(vec![
            self.word(name),
            dst.clone(),
            b("2"),
            k.clone(),
            k,
            self.word("WEIGHTS"),
            b("1"),
            b("-1"),
        ]);
        items.push(vec![self.word("ZSCORE"), dst, m]);
        let items = items
            .into_iter()
            .map(|c| Item::fixed(c, Check::Exact))
            .collect();
        self.group(items)
    }

    /// ZADD with random (valid, conflicting or misplaced) options and score/member pairs.
    fn zadd(&mut self) -> Cmd {
        let mut c = vec![self.word("ZADD"), self.tkey(Kind::ZSet)];
        let mut incr = false;
        for (opt, pct) in [
            ("NX", 10),
            ("XX", 10),
            ("GT", 10),
            ("LT", 8),
            ("CH", 15),
            ("INCR", 12),
        ] {
            if self.rng.chance(pct) {
                incr |= opt == "INCR";
                c.push(self.word(opt));
            }
        }
        // Options in any order.
        let opts = c.len() - 2;
        for i in (1..opts).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            c.swap(2 + i, 2 + j);
        }
        let n = if incr && self.rng.chance(85) {
            1
        } else {
            1 + self.rng.below(4)
        };
        for _ in 0..n {
            c.push(self.score());
            c.push(self.member());
        }
        if self.rng.chance(3) {
            // An odd number of arguments, or an option after the pairs.
            c.push(b(self.rng.pick(&["1", "NX", "CH"])));
        }
        c
    }

    /// ZRANGE (or ZRANGESTORE when `store`) by rank, score or lex, with REV/LIMIT/WITHSCORES.
    fn zrange(&mut self, store: bool) -> Cmd {
        let mode = self.rng.below(10);
        let rev = self.rng.chance(30);
        let (src, (min, max), by) = match mode {
            0..=3 => (self.zread_key(), (self.lidx(), self.lidx()), None),
            4..=7 => (self.zread_key(), self.score_range(rev), Some("BYSCORE")),
            _ => (self.lex_key(), self.lex_range(rev), Some("BYLEX")),
        };
        let mut c = if store {
            // Never into a lex key (it could get non-zero scores).
            vec![
                self.word("ZRANGESTORE"),
                self.store_key(Kind::ZSet),
                src,
                min,
                max,
            ]
        } else {
            vec![self.word("ZRANGE"), src, min, max]
        };
        let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
        if let Some(by) = by {
            opts.push(vec![self.word(by)]);
        } else if self.rng.chance(3) {
            opts.push(vec![self.word("BYLEX")]);
        }
        if rev {
            opts.push(vec![self.word("REV")]);
        }
        if self.rng.chance(if by.is_some() { 30 } else { 5 }) {
            opts.push(vec![
                self.word("LIMIT"),
                b(self.rng.pick(&["0", "1", "2", "5", "-1", "abc"])),
                b(self.rng.pick(&["0", "1", "2", "5", "-1", "100", "abc"])),
            ]);
        }
        let ws = if store {
            3
        } else if by == Some("BYLEX") {
            5
        } else {
            40
        };
        if self.rng.chance(ws) {
            opts.push(vec![self.word("WITHSCORES")]);
        }
        for i in (1..opts.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            opts.swap(i, j);
        }
        c.extend(opts.into_iter().flatten());
        c
    }

    /// The optional tail of ZRANGEBYSCORE / ZRANGEBYLEX: WITHSCORES (when allowed) and LIMIT.
    fn zrange_tail(&mut self, c: &mut Cmd, withscores: bool, limit: bool) {
        if withscores && self.rng.chance(40) {
            c.push(self.word("WITHSCORES"));
        }
        if limit && self.rng.chance(30) {
            c.push(self.word("LIMIT"));
            c.push(b(self.rng.pick(&["0", "1", "2", "5", "-1", "abc"])));
            if self.rng.chance(95) {
                c.push(b(self.rng.pick(&["0", "1", "2", "5", "-1", "100"])));
            }
        }
    }

    /// The lex-range commands, on the lex keys only.
    fn lex_cmd(&mut self) -> Cmd {
        let k = self.lex_key();
        match self.rng.below(4) {
            0 => {
                let (min, max) = self.lex_range(false);
                vec![self.word("ZLEXCOUNT"), k, min, max]
            }
            1 => {
                let (min, max) = self.lex_range(false);
                let mut c = vec![self.word("ZRANGEBYLEX"), k, min, max];
                self.zrange_tail(&mut c, false, true);
                c
            }
            2 => {
                let (max, min) = self.lex_range(true);
                let mut c = vec![self.word("ZREVRANGEBYLEX"), k, max, min];
                self.zrange_tail(&mut c, false, true);
                c
            }
            _ => {
                let (min, max) = self.lex_range(false);
                vec![self.word("ZREMRANGEBYLEX"), k, min, max]
            }
        }
    }

    /// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE (`store`) or ZUNION/ZINTER/ZDIFF, with WEIGHTS and
    /// AGGREGATE (invalid for the DIFF forms) and WITHSCORES.
    fn zalgebra(&mut self, store: bool) -> Cmd {
        let op = *self.rng.pick(&["UNION", "INTER", "DIFF"]);
        let mut c = if store {
            let name = format!("Z{op}STORE");
            vec![self.word(&name), self.store_key(Kind::ZSet)]
        } else {
            let name = format!("Z{op}");
            vec![self.word(&name)]
        };
        let n = self.numkeys_keys(&mut c, Kind::ZSet, true);
        let diff = op == "DIFF";
        if self.rng.chance(if diff { 5 } else { 35 }) {
            c.push(self.word("WEIGHTS"));
            let m = if self.rng.chance(90) {
                n
            } else {
                n.saturating_sub(1)
            };
            for _ in 0..m {
                let w = *self.rng.pick(&[
                    "1", "2", "0", "-1", "0.5", "1.5", "inf", "-inf", "nan", "abc", "3",
                ]);
                c.push(b(w));
            }
        }
        if self.rng.chance(if diff { 5 } else { 35 }) {
            c.push(self.word("AGGREGATE"));
            let a = *self
                .rng
                .pick(&["SUM", "MIN", "MAX", "SUM", "MIN", "MAX", "AVG"]);
            c.push(self.word(a));
        }
        if self.rng.chance(if store { 3 } else { 50 }) {
            c.push(self.word("WITHSCORES"));
        }
        c
    }

    // -----------------------------------------------------------------------------------------
    // TYPE, OBJECT ENCODING, SORT, SCAN

    fn any_key(&mut self) -> Vec<u8> {
        if self.rng.chance(10) {
            self.lex_key()
        } else {
            self.key()
        }
    }

    fn generic_cmd(&mut self) -> Item {
        match self.rng.below(100) {
            0..=19 => {
                let k = self.any_key();
                Item::exact(vec![self.word("TYPE"), k])
            }
            20..=44 => {
                let k = self.any_key();
                let mut it = self.encoding_of(&k);
                it.mutable = true;
                it
            }
            45..=74 => self.sort_cmd(),
            75..=81 => {
                // Whole collections moving around (never into a lex key).
                let home = *self.rng.pick(HOMES);
                let src = self.rng.pick(home).to_vec();
                let dst = if self.rng.chance(80) {
                    self.rng.pick(home).to_vec()
                } else {
                    home_key(&mut self.rng).to_vec()
                };
                let c = match self.rng.below(5) {
                    0 => vec![self.word("RENAME"), src, dst],
                    1 => vec![self.word("RENAMENX"), src, dst],
                    2 | 3 => {
                        let mut c = vec![self.word("COPY"), src, dst];
                        if self.rng.chance(50) {
                            c.push(self.word("REPLACE"));
                        }
                        if self.rng.chance(20) {
                            c.push(self.word("DB"));
                            c.push(b("1"));
                        }
                        c
                    }
                    _ => vec![self.word("MOVE"), src, b(self.rng.pick(&["1", "2"]))],
                };
                Item::exact(c)
            }
            _ => {
                let mut c = vec![self.word("SCAN"), self.cursor()];
                if self.rng.chance(40) {
                    c.push(self.word("MATCH"));
                    c.push(self.rng.pick(PATTERNS).to_vec());
                }
                if self.rng.chance(50) {
                    c.push(self.word("COUNT"));
                    c.push(self.scan_count());
                }
                if self.rng.chance(30) {
                    c.push(self.word("TYPE"));
                    let t = *self.rng.pick(&[
                        "string", "list", "hash", "set", "zset", "ZSET", "stream", "foo",
                    ]);
                    c.push(b(t));
                }
                Item::fixed(
                    c,
                    Check::Scan {
                        cursor_at: 1,
                        pairs: false,
                    },
                )
            }
        }
    }

    /// A starting cursor: 0, or an invalid one (an error on both). Never another valid cursor:
    /// where it lands in a hash table is each server's own business.
    fn cursor(&mut self) -> Vec<u8> {
        if self.rng.chance(92) {
            b("0")
        } else {
            b(self
                .rng
                .pick(&["abc", " 0", "0 ", "18446744073709551616", "1.5"]))
        }
    }

    fn scan_count(&mut self) -> Vec<u8> {
        // Small counts on big hash tables cost a round trip per few elements: keep them rare.
        if self.rng.chance(90) {
            b(self
                .rng
                .pick(&["1", "3", "20", "20", "100", "100", "1000", "1000"]))
        } else {
            b(self.rng.pick(&["0", "-1", "abc"]))
        }
    }

    fn scan_cmd(&mut self, name: &str, k: Vec<u8>, pairs: bool) -> Item {
        let mut c = vec![self.word(name), k, self.cursor()];
        if self.rng.chance(40) {
            c.push(self.word("MATCH"));
            c.push(self.rng.pick(SCAN_PATTERNS).to_vec());
        }
        if self.rng.chance(60) {
            c.push(self.word("COUNT"));
            c.push(self.scan_count());
        }
        Item::fixed(
            c,
            Check::Scan {
                cursor_at: 2,
                pairs,
            },
        )
    }

    /// SORT / SORT_RO with BY, GET, LIMIT, ASC/DESC, ALPHA, STORE. Patterns substitute the
    /// element into "k*", so elements 1, 2, 3, a, b look up the pool keys k1 ... kb.
    fn sort_cmd(&mut self) -> Item {
        let ro = self.rng.chance(25);
        let key = match self.rng.below(10) {
            0..=3 => self.tkey(Kind::List),
            4..=6 => self.tkey(Kind::Set),
            7 | 8 => self.zread_key(),
            _ => self.key(),
        };
        let mut c = vec![self.word(if ro { "SORT_RO" } else { "SORT" }), key];
        let alpha = self.rng.chance(35);
        let by = if self.rng.chance(40) {
            let p = *self
                .rng
                .pick(&["k*", "k*->f", "k*->n1", "nokey_*", "nosort", "w"]);
            // ALPHA with a real BY pattern: equal weights would be ordered by the sort
            // algorithm (Redis's pqsort), so that combination is never generated.
            (!(alpha && p.contains('*'))).then_some(p)
        } else {
            None
        };
        let nosort = by.is_some_and(|p| !p.contains('*'));
        let store = if ro {
            self.rng.chance(3)
        } else {
            self.rng.chance(20)
        };
        // BY nosort without STORE returns a set in its hash-table order: compared as a
        // multiset, so no LIMIT (which part is returned would depend on that order).
        let loose = nosort && !store;
        let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
        if let Some(p) = by {
            opts.push(vec![self.word("BY"), b(p)]);
        }
        let gets = *self.rng.pick(&[0, 0, 1, 1, 2]);
        for _ in 0..gets {
            let p = *self
                .rng
                .pick(&["#", "k*", "k*->f", "k*->n1", "nokey_*", "k*->"]);
            opts.push(vec![self.word("GET"), b(p)]);
        }
        if !loose && self.rng.chance(25) {
            opts.push(vec![
                self.word("LIMIT"),
                b(self.rng.pick(&["0", "1", "2", "5", "-1", "abc"])),
                b(self.rng.pick(&["0", "1", "3", "10", "-1", "abc"])),
            ]);
        }
        match self.rng.below(10) {
            0 | 1 => opts.push(vec![self.word("DESC")]),
            2 => opts.push(vec![self.word("ASC")]),
            _ => {}
        }
        if alpha {
            opts.push(vec![self.word("ALPHA")]);
        }
        if store {
            let dst = self.store_key(Kind::List);
            opts.push(vec![self.word("STORE"), dst]);
        }
        for i in (1..opts.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            opts.swap(i, j);
        }
        c.extend(opts.into_iter().flatten());
        if loose {
            Item::fixed(c, Check::Multiset)
        } else if store && !alpha {
            // Redis's numeric SORT trusts an ERANGE left in errno by an earlier command of the
            // same read (see `stale_errno_sort`); with STORE the servers' data would then
            // differ. A ZADD that parses a score first sets errno to 0 (getDoubleFromObject);
            // its key is never written (XX).
            let reset = vec![
                self.word("ZADD"),
                b("errno:reset"),
                self.word("XX"),
                b("0"),
                b("m"),
            ];
            self.group(vec![
                Item::fixed(reset, Check::Exact),
                Item::fixed(c, Check::Exact),
            ])
        } else if nosort {
            // Cutting STORE off would make it a loose one.
            Item::fixed(c, Check::Exact)
        } else {
            Item::exact(c)
        }
    }
}
