//! The bitmap family of the differential stream: SETBIT, GETBIT, BITCOUNT and BITPOS (BYTE and
//! BIT ranges, negative and extreme indexes), BITOP (AND/OR/XOR/NOT over 1-4 sources, missing
//! keys among them), BITFIELD (GET/SET/INCRBY with every width i1..i64 / u1..u63, `#` offsets,
//! OVERFLOW WRAP/SAT/FAIL, values at and around each width's limits) and BITFIELD_RO, with GET
//! and STRLEN to compare whole values, on the strings' key pool (int-encoded, binary and long
//! values, other types for WRONGTYPE).
//!
//! Sizes stay bounded: a written bit is below 80,000 (10 KB strings) and writes never target
//! the LCS keys (see [`Gen::big_key`]); offsets at and past the 512 MB bound appear only where
//! they are refused or only read (GETBIT, BITFIELD GET), never allocated.

use super::{Cmd, Gen, Item};

/// Offsets that are refused everywhere (the bound is bit 2^32 with the default 512 MB).
const BAD_OFFSETS: &[&str] = &[
    "-1",
    "x",
    "",
    "1.5",
    " 1",
    "01",
    "+1",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
];

/// Offsets only ever read: valid but far past any value's end.
const FAR_READS: &[&str] = &["4294967295", "4294967232", "4000000000", "100000000"];

const BAD_TYPES: &[&str] = &[
    "u64", "i65", "i0", "u0", "x8", "I8", "U8", "", "i", "u", "i08", "i-1", "i 8", "i1000",
];

const BAD_INTS: &[&str] = &[
    "x",
    "1.5",
    "",
    "9223372036854775808",
    "-9223372036854775809",
    " 1",
];

impl Gen {
    /// One bitmap command.
    pub(super) fn bits_cmd(&mut self) -> Item {
        let c = match self.rng.below(100) {
            0..=19 => {
                let bit = match self.rng.below(20) {
                    0 => self.bad_int(),
                    1 => self.rng.pick(&["2", "-1", "01", "10"]).as_bytes().to_vec(),
                    n => (n % 2).to_string().into_bytes(),
                };
                vec![
                    self.word("SETBIT"),
                    self.big_key(),
                    self.bit_offset(true),
                    bit,
                ]
            }
            20..=29 => vec![self.word("GETBIT"), self.key(), self.bit_offset(false)],
            30..=41 => {
                let mut c = vec![self.word("BITCOUNT"), self.key()];
                if self.rng.chance(75) {
                    c.push(self.range_index());
                    c.push(self.range_index());
                    if self.rng.chance(60) {
                        c.push(self.range_unit());
                    }
                }
                c
            }
            42..=55 => {
                let bit = match self.rng.below(30) {
                    0 => b"2".to_vec(),
                    1 => self.bad_int(),
                    n => (n % 2).to_string().into_bytes(),
                };
                let mut c = vec![self.word("BITPOS"), self.key(), bit];
                let n = self.rng.below(4);
                if n >= 1 {
                    c.push(self.range_index());
                }
                if n >= 2 {
                    c.push(self.range_index());
                }
                if n >= 3 {
                    c.push(self.range_unit());
                }
                c
            }
            56..=67 => {
                let op = match self.rng.below(40) {
                    0 => self.rng.pick(&["NAND", "", "ANDX"]).as_bytes().to_vec(),
                    n => self.word(["AND", "OR", "XOR", "NOT"][n as usize % 4]),
                };
                let mut c = vec![self.word("BITOP"), op, self.big_key()];
                let n = if c[1].eq_ignore_ascii_case(b"NOT") && self.rng.chance(90) {
                    1
                } else {
                    1 + self.rng.below(4)
                };
                self.keys_n(&mut c, n, n);
                c
            }
            68..=87 => self.bitfield(false),
            88..=92 => self.bitfield(true),
            93..=97 => vec![self.word("GET"), self.key()],
            _ => vec![self.word("STRLEN"), self.key()],
        };
        Item::exact(c)
    }

    fn bad_int(&mut self) -> Vec<u8> {
        self.rng.pick(BAD_INTS).as_bytes().to_vec()
    }

    /// A SETBIT / GETBIT offset: mostly within a few KB, sometimes refused, and for reads
    /// sometimes far past the end.
    fn bit_offset(&mut self, write: bool) -> Vec<u8> {
        match self.rng.below(100) {
            0..=49 => self.rng.below(64).to_string().into_bytes(),
            50..=74 => self.rng.below(2048).to_string().into_bytes(),
            75..=89 => self.rng.below(80_000).to_string().into_bytes(),
            90..=94 if !write => self.rng.pick(FAR_READS).as_bytes().to_vec(),
            90..=94 => match self.rng.below(5) {
                0..=2 => format!("#{}", self.rng.below(10)).into_bytes(),
                _ => self.rng.below(2048).to_string().into_bytes(),
            },
            _ => self.rng.pick(BAD_OFFSETS).as_bytes().to_vec(),
        }
    }

    /// A BITCOUNT / BITPOS start or end: small (both signs), larger, extreme or invalid.
    fn range_index(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=59 => (self.rng.below(61) as i64 - 20).to_string().into_bytes(),
            60..=79 => (self.rng.below(4001) as i64 - 2000)
                .to_string()
                .into_bytes(),
            80..=89 => (self.rng.below(200_001) as i64 - 100_000)
                .to_string()
                .into_bytes(),
            90..=96 => self
                .rng
                .pick(&[
                    "9223372036854775807",
                    "-9223372036854775808",
                    "-9223372036854775807",
                    "1152921504606846975",
                    "-1152921504606846976",
                ])
                .as_bytes()
                .to_vec(),
            _ => self.bad_int(),
        }
    }

    fn range_unit(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => self.rng.pick(&["BITS", "", "byte\0"]).as_bytes().to_vec(),
            n if n % 2 == 0 => self.word("BIT"),
            _ => self.word("BYTE"),
        }
    }

    /// A bitfield type: any valid width (small ones more often), sometimes invalid. The width
    /// is returned too (0 for an invalid type).
    fn field_type(&mut self) -> (Vec<u8>, u32) {
        if self.rng.chance(2) {
            return (self.rng.pick(BAD_TYPES).as_bytes().to_vec(), 0);
        }
        let signed = self.rng.chance(50);
        let max = if signed { 64 } else { 63 };
        let bits = match self.rng.below(10) {
            0..=4 => 1 + self.rng.below(16),
            5 | 6 => max - self.rng.below(3),
            _ => 1 + self.rng.below(max),
        } as u32;
        let t = format!("{}{bits}", if signed { 'i' } else { 'u' });
        (t.into_bytes(), bits)
    }

    /// A BITFIELD offset for a field `bits` wide: plain or `#N`, sometimes refused, and for
    /// reads sometimes far past the end.
    fn field_offset(&mut self, bits: u32, write: bool) -> Vec<u8> {
        let w = bits.max(1) as u64;
        match self.rng.below(100) {
            0..=44 => self.rng.below(64).to_string().into_bytes(),
            45..=64 => self.rng.below(2048).to_string().into_bytes(),
            65..=69 => self.rng.below(80_000 - 64).to_string().into_bytes(),
            70..=92 => format!("#{}", self.rng.below(2048 / w + 1)).into_bytes(),
            93..=95 if !write => self.rng.pick(FAR_READS).as_bytes().to_vec(),
            93..=95 => format!("#{}", self.rng.below(8)).into_bytes(),
            // The first `#N` past the bound for this width (refused, never allocated).
            96 => format!("#{}", (1u64 << 32).div_ceil(w)).into_bytes(),
            97 | 98 => self
                .rng
                .pick(&[
                    "#-1",
                    "#",
                    "#x",
                    "##1",
                    "#1152921504606846976",
                    "#2305843009213693952",
                    "#9223372036854775807",
                ])
                .as_bytes()
                .to_vec(),
            _ => self.rng.pick(BAD_OFFSETS).as_bytes().to_vec(),
        }
    }

    /// A SET value or INCRBY increment: small, around the limits of a `bits`-wide field,
    /// extreme i64 values, random, or invalid.
    fn field_value(&mut self, bits: u32) -> Vec<u8> {
        let b = bits.clamp(1, 64);
        let near = |base: i128, d: i128| -> String {
            (base + d)
                .clamp(i64::MIN as i128, i64::MAX as i128)
                .to_string()
        };
        let d = self.rng.below(5) as i128 - 2;
        match self.rng.below(100) {
            0..=34 => (self.rng.below(601) as i64 - 300).to_string().into_bytes(),
            35..=44 => near(1i128 << (b - 1), d).into_bytes(),
            45..=54 => near(-(1i128 << (b - 1)), d).into_bytes(),
            55..=64 => near(1i128 << b, d).into_bytes(),
            65..=69 => near(-(1i128 << b), d).into_bytes(),
            70..=79 => self
                .rng
                .pick(&[
                    "9223372036854775807",
                    "-9223372036854775808",
                    "9223372036854775806",
                    "-9223372036854775807",
                    "0",
                    "-1",
                ])
                .as_bytes()
                .to_vec(),
            80..=97 => (self.rng.next_u64() as i64).to_string().into_bytes(),
            _ => self.bad_int(),
        }
    }

    /// BITFIELD (or BITFIELD_RO, mostly GETs then) with 0-5 operations and OVERFLOW changes.
    fn bitfield(&mut self, ro: bool) -> Cmd {
        let name = if ro { "BITFIELD_RO" } else { "BITFIELD" };
        let key = if ro { self.key() } else { self.big_key() };
        let mut c = vec![self.word(name), key];
        let n = self.rng.below(6);
        for _ in 0..n {
            let r = self.rng.below(100);
            if r < 12 {
                c.push(self.word("OVERFLOW"));
                c.push(match self.rng.below(20) {
                    0 => self.rng.pick(&["FOO", "", "SATX"]).as_bytes().to_vec(),
                    n => self.word(["WRAP", "SAT", "FAIL"][n as usize % 3]),
                });
                continue;
            }
            if r < 13 {
                let w = *self.rng.pick(&["FOO", "GETX", "SETT"]);
                c.push(self.word(w));
                continue;
            }
            let (t, bits) = self.field_type();
            let read = r < 45 || (ro && self.rng.chance(90));
            if read {
                c.push(self.word("GET"));
                c.push(t);
                c.push(self.field_offset(bits, false));
            } else {
                let op = if self.rng.chance(50) { "SET" } else { "INCRBY" };
                c.push(self.word(op));
                c.push(t);
                c.push(self.field_offset(bits, true));
                c.push(self.field_value(bits));
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Gen, LCS_KEYS};

    /// The family covers every command and option, and its writes stay small and off the LCS
    /// keys: a SETBIT or BITFIELD write never reaches past bit 80,000 unless it is refused.
    #[test]
    fn bits_family_covers_the_options_and_stays_small() {
        let mut g = Gen::new(11, true);
        g.bits = 100;
        g.scripts = 0;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20_000 {
            let c = g.next();
            let name = String::from_utf8_lossy(&c[0]).to_ascii_uppercase();
            for a in &c[1..] {
                let a = String::from_utf8_lossy(a).to_ascii_uppercase();
                if [
                    "BIT", "BYTE", "WRAP", "SAT", "FAIL", "GET", "SET", "INCRBY", "NOT", "XOR",
                ]
                .contains(&a.as_str())
                {
                    seen.insert(format!("{name} {a}"));
                }
            }
            seen.insert(name.clone());
            let writes = matches!(name.as_str(), "SETBIT" | "BITFIELD" | "BITOP");
            if writes {
                let k = if name == "BITOP" { c.get(2) } else { c.get(1) };
                assert!(!k.is_some_and(|k| LCS_KEYS.contains(&&k[..])), "{:?}", c);
            }
            if name == "SETBIT" && c.len() == 4 {
                if let Some(off) = std::str::from_utf8(&c[2])
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    assert!(!(80_000..1 << 32).contains(&off), "{c:?}");
                }
            }
        }
        for want in [
            "SETBIT",
            "GETBIT",
            "BITCOUNT BIT",
            "BITCOUNT BYTE",
            "BITPOS BIT",
            "BITPOS BYTE",
            "BITOP NOT",
            "BITOP XOR",
            "BITFIELD GET",
            "BITFIELD SET",
            "BITFIELD INCRBY",
            "BITFIELD WRAP",
            "BITFIELD SAT",
            "BITFIELD FAIL",
            "BITFIELD_RO GET",
            "GET",
            "STRLEN",
        ] {
            assert!(seen.contains(want), "{want}");
        }
    }
}
