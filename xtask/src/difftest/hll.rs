//! The HyperLogLog family of the differential stream: random element streams into PFADD (small
//! universes for repeats, bulk adds that push a key past `hll-sparse-max-bytes` into the dense
//! encoding), PFCOUNT of one key (the cached cardinality) and of several, PFMERGE, PFDEBUG, and
//! GET of the HLL's bytes, so the sparse opcodes, the dense registers and the cached
//! cardinality in the header are compared byte for byte. Also: HLLs built by the generator and
//! stored with SET (valid, and with opcodes that cover the wrong number of registers), dense
//! ones with random registers, SETRANGE into a live HLL, a few `hll-sparse-max-bytes` values,
//! and string and collection keys for the WRONGTYPE errors.
//!
//! Deterministic as it stands: an HLL depends only on the elements added, in order.

use super::{Cmd, Gen, Item};

/// The HLL keys, and keys the other families fill (strings, lists: WRONGTYPE both ways). Not
/// the LCS keys: a dense HLL there would make LCS's table huge.
const HLL_HOME: &[&[u8]] = &[b"hll1", b"hll2", b"hll{3}", b"hllbig"];
const FOREIGN: &[&[u8]] = &[b"k1", b"k2", b"ka", b"list1", b"st1"];
/// Usually missing (the other families' missing keys are left alone: PFADD creates keys).
const HLL_MISSING: &[&[u8]] = &[b"hll0", b"hll5"];
const SPARSE_MAX: &[&str] = &["3000", "3000", "3000", "200", "50", "0", "12000"];

impl Gen {
    /// One HyperLogLog command.
    pub(super) fn hll_cmd(&mut self) -> Item {
        let c = match self.rng.below(100) {
            0..=34 => {
                let mut c = vec![self.word("PFADD"), self.hkey()];
                for _ in 0..self.rng.below(8) {
                    let e = self.hll_element();
                    c.push(e);
                }
                c
            }
            35..=37 => self.hll_bulk_add(),
            38..=51 => vec![self.word("PFCOUNT"), self.hkey()],
            52..=59 => {
                let mut c = vec![self.word("PFCOUNT")];
                for _ in 0..2 + self.rng.below(3) {
                    c.push(self.hkey());
                }
                c
            }
            60..=67 => {
                let mut c = vec![self.word("PFMERGE"), self.hkey()];
                for _ in 0..self.rng.below(4) {
                    c.push(self.hkey());
                }
                c
            }
            68..=79 => vec![self.word("GET"), self.hkey()],
            80..=85 => {
                let sub = *self.rng.pick(&[
                    "ENCODING", "ENCODING", "DECODE", "DECODE", "TODENSE", "GETREG",
                ]);
                vec![self.word("PFDEBUG"), self.word(sub), self.hkey()]
            }
            86..=90 => {
                let v = self.crafted_sparse();
                vec![self.word("SET"), self.hkey(), v]
            }
            91 => {
                let v = self.crafted_dense();
                vec![self.word("SET"), self.hkey(), v]
            }
            92..=93 => {
                // A byte of a live HLL changed: its header, its first opcodes or registers.
                let off = 4 + self.rng.below(40);
                let byte = vec![self.rng.below(256) as u8];
                vec![
                    self.word("SETRANGE"),
                    self.hkey(),
                    off.to_string().into_bytes(),
                    byte,
                ]
            }
            94 => vec![
                self.word("CONFIG"),
                self.word("SET"),
                b"hll-sparse-max-bytes".to_vec(),
                self.rng.pick(SPARSE_MAX).as_bytes().to_vec(),
            ],
            95..=96 => vec![self.word("DEL"), self.hkey()],
            97..=98 => vec![self.word("STRLEN"), self.hkey()],
            // PFSELFTEST holds redis-server for a second: rarely.
            _ if self.rng.chance(5) => vec![self.word("PFSELFTEST")],
            _ => vec![self.word("PFCOUNT"), self.hkey()],
        };
        Item::exact(c)
    }

    /// Mostly an HLL key, sometimes a key of another type or a missing one.
    fn hkey(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=84 => self.rng.pick(HLL_HOME).to_vec(),
            85..=94 => self.rng.pick(FOREIGN).to_vec(),
            _ => self.rng.pick(HLL_MISSING).to_vec(),
        }
    }

    /// An element: from small universes (repeats leave registers alone), a large one, or
    /// binary and empty strings.
    fn hll_element(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => format!("e{}", self.rng.below(50)).into_bytes(),
            4..=7 => format!("u{}", self.rng.below(1_000_000)).into_bytes(),
            8 => self.rng.below(100_000).to_string().into_bytes(),
            _ => {
                let n = self.rng.below(12) as usize;
                (0..n).map(|_| self.rng.below(256) as u8).collect()
            }
        }
    }

    /// PFADD of 50 to 1500 elements: sparse HLLs grow until they turn dense.
    fn hll_bulk_add(&mut self) -> Cmd {
        let key = if self.rng.chance(70) {
            b"hllbig".to_vec()
        } else {
            self.hkey()
        };
        let mut c = vec![self.word("PFADD"), key];
        let n = 50 + self.rng.below(1451);
        let base = self.rng.below(1_000_000);
        for i in 0..n {
            c.push(format!("b{}", base + i).into_bytes());
        }
        c
    }

    /// The 16-byte header: "HYLL", the encoding, 3 unused bytes, a cache that is valid (a small
    /// cardinality) a third of the time, else invalid.
    fn hll_header(&mut self, encoding: u8) -> Vec<u8> {
        let mut h = b"HYLL".to_vec();
        h.push(encoding);
        h.extend_from_slice(&[0, 0, 0]);
        let card = if self.rng.chance(33) {
            self.rng.below(100_000)
        } else {
            (self.rng.below(1000)) | (1 << 63)
        };
        h.extend_from_slice(&card.to_le_bytes());
        h
    }

    /// A sparse HLL made of random opcodes; their spans add up to 16384 registers four times
    /// in five (a valid HLL), else to a few more or fewer (a corrupted one).
    fn crafted_sparse(&mut self) -> Vec<u8> {
        let mut v = self.hll_header(1);
        let target: i64 = if self.rng.chance(80) {
            16384
        } else {
            16384 + self.rng.below(200) as i64 - 100
        };
        let mut left = target;
        while left > 0 {
            match self.rng.below(10) {
                0..=3 => {
                    let n = (1 + self.rng.below(64) as i64).min(left);
                    v.push((n - 1) as u8);
                    left -= n;
                }
                4..=5 => {
                    let n = (1 + self.rng.below(3000) as i64).min(left);
                    let l = n - 1;
                    v.push((l >> 8) as u8 | 0x40);
                    v.push((l & 0xff) as u8);
                    left -= n;
                }
                _ => {
                    let n = (1 + self.rng.below(4) as i64).min(left);
                    let val = 1 + self.rng.below(32) as u8;
                    v.push(((val - 1) << 2 | (n as u8 - 1)) | 0x80);
                    left -= n;
                }
            }
        }
        v
    }

    /// A dense HLL whose registers are random (values to 63, past the estimator's 51).
    fn crafted_dense(&mut self) -> Vec<u8> {
        let mut v = self.hll_header(0);
        let mostly_zero = self.rng.chance(50);
        for _ in 0..12288 {
            let b = if mostly_zero && !self.rng.chance(3) {
                0
            } else {
                self.rng.below(256) as u8
            };
            v.push(b);
        }
        v
    }
}
