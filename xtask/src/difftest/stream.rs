//! The stream family of the differential stream: XADD (IDs, ms-*, MAXLEN/MINID =/~, LIMIT,
//! NOMKSTREAM), XRANGE/XREVRANGE, XLEN, XDEL, XTRIM, XREAD, the consumer-group commands and
//! XINFO/XSETID, on a few stream keys that share names with the other families' keys.
//!
//! Determinism: IDs are always explicit (`*` would take each server's clock): a per-run
//! counter moves the millisecond part forward, with stale and invalid IDs mixed in for the
//! errors. Replies that carry times (XPENDING's extended form, XINFO CONSUMERS, XINFO STREAM
//! FULL) are not generated; XCLAIM/XAUTOCLAIM use a min-idle-time of 0.

use super::{Cmd, Gen, Item, MISSING_KEYS};

/// The stream keys: two of their own and one list key (WRONGTYPE both ways).
const STREAM_HOME: &[&[u8]] = &[b"st1", b"st{2}", b"st1", b"list1"];
const GROUPS: &[&[u8]] = &[b"g1", b"g2", b"G1"];
const CONSUMERS: &[&[u8]] = &[b"alice", b"bob", b"c"];
const FIELDS: &[&[u8]] = &[b"f", b"g", b"field", b"12"];

impl Gen {
    /// One stream command.
    pub(super) fn stream_cmd(&mut self) -> Item {
        let k = self.skey();
        let c = match self.rng.below(100) {
            0..=29 => self.xadd(k),
            30..=39 => {
                let rev = self.rng.chance(30);
                let (a, b) = (self.bound(), self.bound());
                let mut c = vec![self.word(if rev { "XREVRANGE" } else { "XRANGE" }), k, a, b];
                if self.rng.chance(40) {
                    c.push(self.word("COUNT"));
                    c.push(self.small_count());
                }
                c
            }
            40..=44 => vec![self.word("XLEN"), k],
            45..=50 => {
                let mut c = vec![self.word("XDEL"), k];
                for _ in 0..=self.rng.below(3) {
                    c.push(self.sid());
                }
                c
            }
            51..=56 => {
                let mut c = vec![self.word("XTRIM"), k];
                self.trim_args(&mut c);
                c
            }
            57..=63 => {
                let mut c = vec![self.word("XREAD")];
                if self.rng.chance(50) {
                    c.push(self.word("COUNT"));
                    c.push(self.small_count());
                }
                c.push(self.word("STREAMS"));
                let n = 1 + self.rng.below(2) as usize;
                let keys: Vec<Cmd> = (0..n).map(|_| vec![self.skey()]).collect();
                for k in &keys {
                    c.push(k[0].clone());
                }
                for _ in 0..n {
                    let id = if self.rng.chance(25) {
                        b"$".to_vec()
                    } else {
                        self.sid()
                    };
                    c.push(id);
                }
                c
            }
            64..=71 => self.xgroup(k),
            72..=79 => {
                let mut c = vec![
                    self.word("XREADGROUP"),
                    self.word("GROUP"),
                    self.rng.pick(GROUPS).to_vec(),
                    self.rng.pick(CONSUMERS).to_vec(),
                ];
                if self.rng.chance(50) {
                    c.push(self.word("COUNT"));
                    c.push(self.small_count());
                }
                if self.rng.chance(20) {
                    c.push(self.word("NOACK"));
                }
                c.push(self.word("STREAMS"));
                c.push(k);
                c.push(if self.rng.chance(70) {
                    b">".to_vec()
                } else {
                    self.sid()
                });
                c
            }
            80..=84 => {
                let mut c = vec![self.word("XACK"), k, self.rng.pick(GROUPS).to_vec()];
                for _ in 0..=self.rng.below(3) {
                    c.push(self.sid());
                }
                c
            }
            85..=87 => vec![self.word("XPENDING"), k, self.rng.pick(GROUPS).to_vec()],
            88..=90 => {
                let mut c = vec![
                    self.word("XCLAIM"),
                    k,
                    self.rng.pick(GROUPS).to_vec(),
                    self.rng.pick(CONSUMERS).to_vec(),
                    b"0".to_vec(),
                ];
                for _ in 0..=self.rng.below(2) {
                    c.push(self.sid());
                }
                if self.rng.chance(50) {
                    c.push(self.word("JUSTID"));
                }
                if self.rng.chance(20) {
                    c.push(self.word("FORCE"));
                }
                c
            }
            91..=93 => {
                let mut c = vec![
                    self.word("XAUTOCLAIM"),
                    k,
                    self.rng.pick(GROUPS).to_vec(),
                    self.rng.pick(CONSUMERS).to_vec(),
                    b"0".to_vec(),
                    self.bound(),
                ];
                if self.rng.chance(50) {
                    c.push(self.word("COUNT"));
                    c.push(self.small_count());
                }
                if self.rng.chance(50) {
                    c.push(self.word("JUSTID"));
                }
                c
            }
            94..=97 => {
                if self.rng.chance(50) {
                    vec![self.word("XINFO"), self.word("GROUPS"), k]
                } else {
                    vec![self.word("XINFO"), self.word("STREAM"), k]
                }
            }
            _ => {
                let mut c = vec![self.word("XSETID"), k, self.sid()];
                if self.rng.chance(30) {
                    c.push(self.word("ENTRIESADDED"));
                    c.push(self.small_count());
                }
                c
            }
        };
        Item::exact(c)
    }

    fn skey(&mut self) -> Vec<u8> {
        if self.rng.chance(95) {
            self.rng.pick(STREAM_HOME).to_vec()
        } else {
            self.rng.pick(MISSING_KEYS).to_vec()
        }
    }

    fn small_count(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0 => b"-1".to_vec(),
            1 => b"x".to_vec(),
            _ => self.rng.below(6).to_string().into_bytes(),
        }
    }

    /// A stream ID: mostly near the run's current time, else old, incomplete or invalid.
    fn sid(&mut self) -> Vec<u8> {
        let ms = self.stream_ms;
        match self.rng.below(20) {
            0 => b"abc".to_vec(),
            1 => b"0-0".to_vec(),
            2 => b"18446744073709551615-18446744073709551615".to_vec(),
            3..=5 => format!("{}", ms.saturating_sub(self.rng.below(8))).into_bytes(),
            _ => format!(
                "{}-{}",
                ms.saturating_sub(self.rng.below(8)),
                self.rng.below(3)
            )
            .into_bytes(),
        }
    }

    /// A range bound: `-`, `+`, an ID, or an exclusive one.
    fn bound(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=1 => b"-".to_vec(),
            2..=3 => b"+".to_vec(),
            4..=5 => {
                let mut v = b"(".to_vec();
                v.extend(self.sid());
                v
            }
            _ => self.sid(),
        }
    }

    fn trim_args(&mut self, c: &mut Cmd) {
        let approx = self.rng.chance(40);
        if self.rng.chance(60) {
            c.push(self.word("MAXLEN"));
            if approx {
                c.push(b"~".to_vec());
            } else if self.rng.chance(30) {
                c.push(b"=".to_vec());
            }
            c.push(self.rng.below(12).to_string().into_bytes());
        } else {
            c.push(self.word("MINID"));
            if approx {
                c.push(b"~".to_vec());
            }
            c.push(self.sid());
        }
        if self.rng.chance(15) {
            c.push(self.word("LIMIT"));
            c.push(self.rng.below(4).to_string().into_bytes());
        }
    }

    fn xadd(&mut self, k: Vec<u8>) -> Cmd {
        let mut c = vec![self.word("XADD"), k];
        if self.rng.chance(10) {
            c.push(self.word("NOMKSTREAM"));
        }
        if self.rng.chance(25) {
            self.trim_args(&mut c);
        }
        // Time moves on: most XADDs succeed.
        self.stream_ms += self.rng.below(3);
        let id = match self.rng.below(10) {
            0..=4 => {
                self.stream_ms += 1;
                format!("{}-{}", self.stream_ms, self.rng.below(3)).into_bytes()
            }
            5..=6 => format!("{}-*", self.stream_ms).into_bytes(),
            7 => format!("{}", self.stream_ms).into_bytes(),
            _ => self.sid(),
        };
        c.push(id);
        let same = self.rng.chance(60);
        let n = 1 + self.rng.below(3);
        for i in 0..n {
            let f = if same {
                FIELDS[i as usize].to_vec()
            } else {
                self.rng.pick(FIELDS).to_vec()
            };
            c.push(f);
            let v = self.value();
            c.push(v);
        }
        c
    }

    fn xgroup(&mut self, k: Vec<u8>) -> Cmd {
        let g = self.rng.pick(GROUPS).to_vec();
        match self.rng.below(10) {
            0..=3 => {
                let id = if self.rng.chance(40) {
                    b"$".to_vec()
                } else {
                    self.sid()
                };
                let mut c = vec![self.word("XGROUP"), self.word("CREATE"), k, g, id];
                if self.rng.chance(40) {
                    c.push(self.word("MKSTREAM"));
                }
                c
            }
            4..=5 => {
                let id = if self.rng.chance(30) {
                    b"$".to_vec()
                } else {
                    self.sid()
                };
                vec![self.word("XGROUP"), self.word("SETID"), k, g, id]
            }
            6 => vec![self.word("XGROUP"), self.word("DESTROY"), k, g],
            7..=8 => vec![
                self.word("XGROUP"),
                self.word("CREATECONSUMER"),
                k,
                g,
                self.rng.pick(CONSUMERS).to_vec(),
            ],
            _ => vec![
                self.word("XGROUP"),
                self.word("DELCONSUMER"),
                k,
                g,
                self.rng.pick(CONSUMERS).to_vec(),
            ],
        }
    }
}
