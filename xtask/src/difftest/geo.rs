//! The geo family of the differential stream: GEOADD (NX/XX/CH), GEODIST, GEOHASH, GEOPOS,
//! GEOSEARCH/GEOSEARCHSTORE (FROMMEMBER/FROMLONLAT, BYRADIUS/BYBOX, ASC/DESC, COUNT [ANY],
//! WITH*, STOREDIST) and GEORADIUS[_RO]/GEORADIUSBYMEMBER[_RO] (STORE/STOREDIST), on two geo
//! keys of their own plus a sorted set of the collection family (scores that are not
//! geohashes) and the shared pool (WRONGTYPE).
//!
//! Coordinates cluster around a few spots (Sicily, both poles' limits, the antimeridian, the
//! exact limits, the equator) so searches find points, with uniform points anywhere, points
//! just outside the limits and non-numbers for the errors. A few fixed spots are reused for
//! different members, so equal distances (ties) are frequent: Redis's order for them is its
//! stable qsort, or its partial quicksort under COUNT, and both are compared byte for byte.
//! Every reply is deterministic, so every check is exact.

use super::{Cmd, Gen, Item, KEYS, MISSING_KEYS};

const GEO_HOME: &[&[u8]] = &[
    b"geo1", b"geo{2}", b"geo1", b"geo{2}", b"geo1", b"geo{2}", b"geodst", b"zset1",
];
/// Store destinations: one is also read as a source, one is a shared pool key.
const GEO_DST: &[&[u8]] = &[b"geodst", b"geodst", b"k1", b"geodst2"];

/// Centres points cluster around: (longitude, latitude, spread in degrees).
const SPOTS: &[(f64, f64, f64)] = &[
    (13.361389, 38.115556, 1.0),
    (15.087269, 37.502669, 0.05),
    (0.0, 85.05112878, 0.5),
    (120.0, -85.05112878, 0.5),
    (179.99, 0.0, 0.05),
    (-179.99, 0.5, 0.05),
    (180.0, 85.05112878, 0.01),
    (-180.0, -85.05112878, 0.01),
    (0.0, 0.0, 0.001),
    (-73.98, 40.75, 2.0),
];

/// Exact coordinates shared by many members (ties).
const FIXED: &[(&str, &str)] = &[
    ("13.5", "38.5"),
    ("13.361389", "38.115556"),
    ("180", "0"),
    ("-180", "0"),
    ("0", "85.05112878"),
    ("0", "-85.05112878"),
    ("0", "0"),
    ("179.9999", "-0.0001"),
];

const BAD_COORDS: &[(&str, &str)] = &[
    ("180.0000001", "0"),
    ("-180.0000001", "0"),
    ("0", "85.05112879"),
    ("0", "-85.0511288"),
    ("0", "90"),
    ("1000", "-1000"),
    ("inf", "0"),
    ("0", "-inf"),
    ("nan", "0"),
    ("abc", "1"),
    ("1", ""),
    (" 1", "1"),
];

const UNITS: &[&str] = &["m", "km", "ft", "mi", "KM", "Mi", "M", "furlong", ""];

impl Gen {
    /// One geo command.
    pub(super) fn geo_cmd(&mut self) -> Item {
        let c = match self.rng.below(100) {
            0..=24 => self.geoadd(),
            25..=32 => {
                let mut c = vec![
                    self.word("GEODIST"),
                    self.gkey(),
                    self.gmember(),
                    self.gmember(),
                ];
                if self.rng.chance(60) {
                    c.push(self.dist_unit());
                }
                c
            }
            33..=37 => {
                let mut c = vec![self.word("GEOHASH"), self.gkey()];
                for _ in 0..self.rng.below(4) {
                    c.push(self.gmember());
                }
                c
            }
            38..=44 => {
                let mut c = vec![self.word("GEOPOS"), self.gkey()];
                for _ in 0..self.rng.below(4) {
                    c.push(self.gmember());
                }
                c
            }
            45..=64 => self.geosearch(false),
            65..=71 => self.geosearch(true),
            72..=79 => self.georadius(false, false),
            80..=82 => self.georadius(false, true),
            83..=89 => self.georadius(true, false),
            90..=92 => self.georadius(true, true),
            93..=95 => vec![
                self.word("ZRANGE"),
                self.gkey(),
                b"0".to_vec(),
                b"-1".to_vec(),
                self.word("WITHSCORES"),
            ],
            96..=97 => vec![self.word("ZREM"), self.gkey(), self.gmember()],
            98 => vec![self.word("ZCARD"), self.gkey()],
            _ if self.rng.chance(50) => vec![self.word("DEL"), self.gkey()],
            _ => vec![self.word("ZCARD"), self.gkey()],
        };
        Item::exact(c)
    }

    fn gkey(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=89 => self.rng.pick(GEO_HOME).to_vec(),
            90..=95 => self.rng.pick(KEYS).to_vec(),
            _ => self.rng.pick(MISSING_KEYS).to_vec(),
        }
    }

    fn gmember(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=69 => format!("p{}", self.rng.below(16)).into_bytes(),
            70..=84 => format!("p{}", self.rng.below(40)).into_bytes(),
            85..=89 => format!("t{}", self.rng.below(8)).into_bytes(),
            90..=93 => Vec::new(),
            94..=96 => b"a\x00b".to_vec(),
            // Members the collection family puts in zset1.
            _ => self.rng.below(31).to_string().into_bytes(),
        }
    }

    /// The centre of a BYMEMBER search: mostly a member that is usually there.
    fn center_member(&mut self) -> Vec<u8> {
        if self.rng.chance(85) {
            format!("p{}", self.rng.below(8)).into_bytes()
        } else {
            self.gmember()
        }
    }

    fn dist_unit(&mut self) -> Vec<u8> {
        if self.rng.chance(97) {
            self.rng.pick(&UNITS[..7]).as_bytes().to_vec()
        } else {
            self.rng.pick(UNITS).as_bytes().to_vec()
        }
    }

    /// A number printed with 0 to 9 decimals (and now and then in exponent form).
    fn num(&mut self, v: f64) -> Vec<u8> {
        if self.rng.chance(3) {
            return format!("{v:e}").into_bytes();
        }
        let prec = self.rng.below(10) as usize;
        format!("{v:.prec$}").into_bytes()
    }

    /// A longitude/latitude pair: mostly valid, clustered; sometimes invalid.
    fn lonlat(&mut self) -> (Vec<u8>, Vec<u8>) {
        match self.rng.below(100) {
            0..=59 => {
                let &(x, y, s) = self.rng.pick(SPOTS);
                let dx = (self.rng.below(2_000_001) as f64 / 1_000_000.0 - 1.0) * s;
                let dy = (self.rng.below(2_000_001) as f64 / 1_000_000.0 - 1.0) * s;
                let lon = (x + dx).clamp(-180.0, 180.0);
                let lat = (y + dy).clamp(-85.05112878, 85.05112878);
                (self.num(lon), self.num(lat))
            }
            60..=79 => {
                let &(x, y) = self.rng.pick(FIXED);
                (x.as_bytes().to_vec(), y.as_bytes().to_vec())
            }
            80..=96 => {
                let lon = self.rng.below(360_000_001) as f64 / 1_000_000.0 - 180.0;
                let lat = self.rng.below(170_102_258) as f64 / 1_000_000.0 - 85.051128;
                (self.num(lon), self.num(lat))
            }
            _ => {
                let &(x, y) = self.rng.pick(BAD_COORDS);
                (x.as_bytes().to_vec(), y.as_bytes().to_vec())
            }
        }
    }

    fn geoadd(&mut self) -> Cmd {
        let mut c = vec![self.word("GEOADD"), self.gkey()];
        if self.rng.chance(35) {
            for _ in 0..1 + self.rng.below(2) {
                let o = *self
                    .rng
                    .pick(&["NX", "XX", "CH", "CH", "CH", "NX", "XX", "GT"]);
                c.push(self.word(o));
            }
        }
        // Now and then enough members to pass zset-max-listpack-entries (128).
        let n = if self.rng.chance(2) {
            130 + self.rng.below(20)
        } else {
            1 + self.rng.below(6)
        };
        for i in 0..n {
            let (x, y) = self.lonlat();
            c.push(x);
            c.push(y);
            if n > 100 {
                c.push(format!("bulk{i}").into_bytes());
            } else {
                c.push(self.gmember());
            }
        }
        c
    }

    /// A search distance in `unit`-independent magnitude: 0, tiny, city, country, planet.
    fn dist_arg(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=2 => b"0".to_vec(),
            3..=4 => self
                .rng
                .pick(&["-1", "abc", "", "inf", "-0"])
                .as_bytes()
                .to_vec(),
            5..=24 => {
                let v = self.rng.below(10_000) as f64 / 100.0;
                self.num(v)
            }
            25..=69 => {
                let v = self.rng.below(1_000_000) as f64 / 10.0;
                self.num(v)
            }
            70..=89 => {
                let v = self.rng.below(5_000_000) as f64;
                self.num(v)
            }
            _ => {
                let v = self.rng.below(40_000_000) as f64;
                self.num(v)
            }
        }
    }

    /// WITHDIST/WITHHASH/WITHCOORD, ASC/DESC, COUNT n [ANY], in a random order.
    fn search_options(&mut self, c: &mut Cmd, with: bool) {
        let mut opts: Vec<Cmd> = Vec::new();
        if with {
            for w in ["WITHDIST", "WITHHASH", "WITHCOORD"] {
                if self.rng.chance(35) {
                    opts.push(vec![self.word(w)]);
                }
            }
        }
        if self.rng.chance(60) {
            let o = if self.rng.chance(50) { "ASC" } else { "DESC" };
            opts.push(vec![self.word(o)]);
        }
        if self.rng.chance(45) {
            let n = match self.rng.below(20) {
                0 => self.rng.pick(&["0", "-3", "x"]).as_bytes().to_vec(),
                1..=3 => (10 + self.rng.below(200)).to_string().into_bytes(),
                _ => (1 + self.rng.below(8)).to_string().into_bytes(),
            };
            opts.push(vec![self.word("COUNT"), n]);
            if self.rng.chance(30) {
                opts.push(vec![self.word("ANY")]);
            }
        } else if self.rng.chance(3) {
            opts.push(vec![self.word("ANY")]);
        }
        for _ in 0..opts.len() {
            let i = self.rng.below(opts.len() as u64) as usize;
            let j = self.rng.below(opts.len() as u64) as usize;
            opts.swap(i, j);
        }
        for o in opts {
            c.extend(o);
        }
    }

    fn geosearch(&mut self, store: bool) -> Cmd {
        let mut c = if store {
            let dst = self.rng.pick(GEO_DST).to_vec();
            vec![self.word("GEOSEARCHSTORE"), dst, self.gkey()]
        } else {
            vec![self.word("GEOSEARCH"), self.gkey()]
        };
        let mut parts: Vec<Cmd> = Vec::new();
        let from = self.rng.below(100);
        if from < 97 {
            if from < 40 {
                parts.push(vec![self.word("FROMMEMBER"), self.center_member()]);
            } else {
                let (x, y) = self.lonlat();
                parts.push(vec![self.word("FROMLONLAT"), x, y]);
            }
        }
        if from >= 95 {
            parts.push(vec![self.word("FROMMEMBER"), self.center_member()]);
        }
        let by = self.rng.below(100);
        if by < 97 {
            if by < 50 {
                parts.push(vec![
                    self.word("BYRADIUS"),
                    self.dist_arg(),
                    self.dist_unit(),
                ]);
            } else {
                parts.push(vec![
                    self.word("BYBOX"),
                    self.dist_arg(),
                    self.dist_arg(),
                    self.dist_unit(),
                ]);
            }
        }
        let mut rest = Vec::new();
        let with = !store || self.rng.chance(3);
        self.search_options(&mut rest, with);
        if store && self.rng.chance(40) {
            rest.push(self.word("STOREDIST"));
        }
        if !store && self.rng.chance(2) {
            rest.push(self.word("STOREDIST"));
        }
        if self.rng.chance(50) {
            for p in parts {
                c.extend(p);
            }
            c.extend(rest);
        } else {
            // Options before, between or after FROM/BY.
            let cut = self.rng.below(rest.len() as u64 + 1) as usize;
            c.extend(rest[..cut].iter().cloned());
            for p in parts {
                c.extend(p);
            }
            c.extend(rest[cut..].iter().cloned());
        }
        c
    }

    fn georadius(&mut self, by_member: bool, ro: bool) -> Cmd {
        let name = match (by_member, ro) {
            (false, false) => "GEORADIUS",
            (false, true) => "GEORADIUS_RO",
            (true, false) => "GEORADIUSBYMEMBER",
            (true, true) => "GEORADIUSBYMEMBER_RO",
        };
        let mut c = vec![self.word(name), self.gkey()];
        if by_member {
            c.push(self.center_member());
        } else {
            let (x, y) = self.lonlat();
            c.push(x);
            c.push(y);
        }
        c.push(self.dist_arg());
        c.push(self.dist_unit());
        let store = self.rng.chance(if ro { 5 } else { 30 });
        let with = !store || self.rng.chance(3);
        self.search_options(&mut c, with);
        if store {
            let o = if self.rng.chance(50) {
                "STORE"
            } else {
                "STOREDIST"
            };
            c.push(self.word(o));
            c.push(self.rng.pick(GEO_DST).to_vec());
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::super::Gen;

    #[test]
    fn geo_only_stream_covers_every_command_option_and_limit() {
        let mut g = Gen::new(7, true);
        g.scripts = 0;
        g.geo = 100;
        let cmds: Vec<Vec<Vec<u8>>> = (0..20_000).map(|_| g.next()).collect();
        let upper = |a: &[u8]| String::from_utf8_lossy(a).to_ascii_uppercase();
        let has = |word: &str| cmds.iter().any(|c| c.iter().any(|a| upper(a) == word));
        for w in [
            "GEOADD",
            "GEODIST",
            "GEOHASH",
            "GEOPOS",
            "GEOSEARCH",
            "GEOSEARCHSTORE",
            "GEORADIUS",
            "GEORADIUS_RO",
            "GEORADIUSBYMEMBER",
            "GEORADIUSBYMEMBER_RO",
            "NX",
            "XX",
            "CH",
            "FROMMEMBER",
            "FROMLONLAT",
            "BYRADIUS",
            "BYBOX",
            "ASC",
            "DESC",
            "COUNT",
            "ANY",
            "WITHDIST",
            "WITHHASH",
            "WITHCOORD",
            "STORE",
            "STOREDIST",
            "KM",
            "FT",
            "MI",
            "180",
            "-180",
            "85.05112878",
            "-85.05112878",
            "180.0000001",
        ] {
            assert!(has(w), "{w} never generated");
        }
        // Bulk GEOADDs cross the listpack limit (128 entries).
        assert!(cmds
            .iter()
            .any(|c| upper(&c[0]) == "GEOADD" && c.len() > 2 + 3 * 128));
    }
}
