//! Redis 7.0's geohash arithmetic (geohash.c, geohash_helper.c), operation for operation so
//! scores, decoded coordinates and distances are the same doubles redis-server computes:
//!
//! - a point is a 52-bit score: latitude and longitude each scaled to 26 bits over
//!   [-85.05112878, 85.05112878] x [-180, 180] and interleaved (latitude in the even bits);
//! - decoding gives the centre of the cell, clamped to the limits;
//! - a search covers the centre cell and its 8 neighbours at a step estimated from the
//!   radius (`areas_by_shape`), then filters each candidate by haversine distance;
//! - distances use Redis's earth radius, 6372797.560856 m.

use std::f64::consts::PI;

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = PI / 180.0;

/// A geohash of `step` bits per coordinate. `bits == 0 && step == 0` is "no area".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = xlo as u64;
    let mut y = ylo as u64;
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// C's conversion of a non-negative double to an unsigned integer (truncation); values in
/// the range geohashEncode produces.
fn c_to_u32(d: f64) -> u32 {
    (d as u64) as u32
}

/// geohashEncode: `None` where Redis returns 0 (outside the limits or the ranges).
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Bits> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(Bits {
        bits: interleave64(c_to_u32(lat_offset), c_to_u32(long_offset)),
        step,
    })
}

/// geohashEncodeWGS84.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<Bits> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/// geohashDecode.
pub fn decode(long_range: Range, lat_range: Range, hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let step = hash.step;
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << step) as f64;
    Some(Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 / div) * lat_scale,
            max: lat_range.min + ((ilato as u64 + 1) as f64 / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 / div) * long_scale,
            max: long_range.min + ((ilono as u64 + 1) as f64 / div) * long_scale,
        },
    })
}

/// C's `(uint64_t)` cast of a double as gcc compiles it on x86-64 (scores that are not
/// geohashes still decode to something, as in Redis).
fn c_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    if d < TWO63 {
        (d as i64) as u64
    } else {
        let y = d - TWO63;
        if y < TWO63 {
            ((y as i64) as u64) ^ (1 << 63)
        } else {
            0
        }
    }
}

/// decodeGeohash: a score to [longitude, latitude], the centre of its cell, clamped.
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = Bits {
        bits: c_to_u64(score),
        step: STEP_MAX,
    };
    let area = decode(WGS84_LONG, WGS84_LAT, hash)?;
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some([lon, lat])
}

/// geohashAlign52Bits.
pub fn align52(hash: Bits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// The score GEOADD stores for a validated coordinate pair.
pub fn score_of(longitude: f64, latitude: f64) -> u64 {
    encode_wgs84(longitude, latitude, STEP_MAX).map_or(0, align52)
}

/// GEOHASH's 11-character standard geohash (re-encoded over [-90, 90] latitude).
pub fn standard_geohash(xy: [f64; 2]) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let r_long = Range {
        min: -180.0,
        max: 180.0,
    };
    let r_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(r_long, r_lat, xy[0], xy[1], 26).map_or(0, |h| h.bits);
    let mut buf = [0u8; 11];
    for (i, b) in buf.iter_mut().enumerate() {
        let idx = if i == 10 {
            0
        } else {
            (bits >> (52 - (i + 1) * 5)) & 0x1f
        };
        *b = ALPHABET[idx as usize];
    }
    buf
}

fn move_x(hash: &mut Bits, d: i8) {
    move_axis(hash, d, 0xaaaaaaaaaaaaaaaa);
}

fn move_y(hash: &mut Bits, d: i8) {
    move_axis(hash, d, 0x5555555555555555);
}

/// geohash_move_x / geohash_move_y: steps the interleaved bits selected by `axis` (longitude's
/// odd bits or latitude's even bits) by `d` cells, leaving the other axis's bits alone.
fn move_axis(hash: &mut Bits, d: i8, axis: u64) {
    if d == 0 {
        return;
    }
    let shift = 64 - hash.step as u32 * 2;
    let mut moved = hash.bits & axis;
    let kept = hash.bits & !axis;
    let zz = !axis >> shift;
    if d > 0 {
        moved = moved.wrapping_add(zz + 1);
    } else {
        moved |= zz;
        moved = moved.wrapping_sub(zz + 1);
    }
    moved &= axis >> shift;
    hash.bits = moved | kept;
}

fn moved(hash: Bits, dx: i8, dy: i8) -> Bits {
    let mut h = hash;
    move_x(&mut h, dx);
    move_y(&mut h, dy);
    h
}

/// The search shape (Redis's GeoShape): a centre, and a radius or a width x height box, in
/// the unit `conversion` converts to metres.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub xy: [f64; 2],
    pub conversion: f64,
    pub kind: ShapeKind,
}

#[derive(Clone, Copy, Debug)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// geohashEstimateStepsByRadius.
pub fn estimate_steps_by_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// geohashBoundingBox: [min lon, min lat, max lon, max lat].
fn bounding_box(shape: &Shape) -> [f64; 4] {
    let [longitude, latitude] = shape.xy;
    let (h, w) = match shape.kind {
        ShapeKind::Radius(r) => (r, r),
        ShapeKind::Box { width, height } => (height / 2.0, width / 2.0),
    };
    let height = shape.conversion * h;
    let width = shape.conversion * w;
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
    let southern = latitude < 0.0;
    [
        if southern {
            longitude - long_delta_bottom
        } else {
            longitude - long_delta_top
        },
        latitude - lat_delta,
        if southern {
            longitude + long_delta_bottom
        } else {
            longitude + long_delta_top
        },
        latitude + lat_delta,
    ]
}

/// geohashCalculateAreasByShapeWGS84: the boxes to scan, in Redis's order (centre, north,
/// south, east, west, north-east, north-west, south-east, south-west); zero ones are skipped.
pub fn areas_by_shape(shape: &Shape) -> [Bits; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let [longitude, latitude] = shape.xy;
    let radius_meters = match shape.kind {
        ShapeKind::Radius(r) => r,
        ShapeKind::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * shape.conversion;
    let mut steps = estimate_steps_by_radius(radius_meters, latitude);
    let at = |steps: u8| {
        let hash = encode(WGS84_LONG, WGS84_LAT, longitude, latitude, steps).unwrap_or(Bits {
            bits: 0,
            step: steps,
        });
        let area = decode(WGS84_LONG, WGS84_LAT, hash).unwrap_or_default();
        (hash, area)
    };
    let (mut hash, mut area) = at(steps);
    let dec = |h: Bits| decode(WGS84_LONG, WGS84_LAT, h).unwrap_or_default();
    let north = dec(moved(hash, 0, 1));
    let south = dec(moved(hash, 0, -1));
    let east = dec(moved(hash, 1, 0));
    let west = dec(moved(hash, -1, 0));
    let decrease = north.latitude.max < max_lat
        || south.latitude.min > min_lat
        || east.longitude.max < max_lon
        || west.longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        (hash, area) = at(steps);
    }
    // Order: centre, N, S, E, W, NE, NW, SE, SW.
    let mut n = [
        hash,
        moved(hash, 0, 1),
        moved(hash, 0, -1),
        moved(hash, 1, 0),
        moved(hash, -1, 0),
        moved(hash, 1, 1),
        moved(hash, -1, 1),
        moved(hash, 1, -1),
        moved(hash, -1, -1),
    ];
    let zero = Bits::default();
    if steps >= 2 {
        if area.latitude.min < min_lat {
            n[2] = zero;
            n[8] = zero;
            n[7] = zero;
        }
        if area.latitude.max > max_lat {
            n[1] = zero;
            n[5] = zero;
            n[6] = zero;
        }
        if area.longitude.min < min_lon {
            n[4] = zero;
            n[8] = zero;
            n[6] = zero;
        }
        if area.longitude.max > max_lon {
            n[3] = zero;
            n[7] = zero;
            n[5] = zero;
        }
    }
    n
}

/// scoresOfGeoHashBox: the score range [min, max) of the points in a box.
pub fn box_scores(hash: Bits) -> (f64, f64) {
    let min = align52(hash);
    let max = align52(Bits {
        bits: hash.bits.wrapping_add(1),
        step: hash.step,
    });
    (min as f64, max as f64)
}

/// geohashGetLatDistance.
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// geohashGetDistance: haversine, in metres.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// geoWithinShape: the decoded point and its distance from the centre, if inside.
pub fn within_shape(shape: &Shape, score: f64) -> Option<([f64; 2], f64)> {
    let xy = decode_score(score)?;
    let [x1, y1] = shape.xy;
    let [x2, y2] = xy;
    match shape.kind {
        ShapeKind::Radius(r) => {
            let d = distance(x1, y1, x2, y2);
            (d <= r * shape.conversion).then_some((xy, d))
        }
        ShapeKind::Box { width, height } => {
            let (w, h) = (width * shape.conversion, height * shape.conversion);
            if lat_distance(y2, y1) > h / 2.0 {
                return None;
            }
            if distance(x2, y2, x1, y2) > w / 2.0 {
                return None;
            }
            Some((xy, distance(x1, y1, x2, y2)))
        }
    }
}

/// Redis's pqsort (Bentley & McIlroy's quicksort that only sorts the parts overlapping
/// ranks `lrange..=rrange`): used when COUNT cuts the result, so ties come out as in Redis.
pub fn pqsort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32, lrange: usize, rrange: usize) {
    let n = v.len();
    pq(v, 0, n, cmp, lrange, rrange);
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> i32) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

fn pq<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &impl Fn(&T, &T) -> i32,
    lr: usize,
    rr: usize,
) {
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) > 0 {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c > 0 {
                    break;
                }
                if c == 0 {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c < 0 {
                    break;
                }
                if c == 0 {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let overlaps = |lo: usize, len: usize| !(rr < lo || lr >= lo + len);
        let r = pb - pa;
        if r > 1 && overlaps(a, r) {
            pq(v, a, r, cmp, lr, rr);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if overlaps(a, n) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_decoding_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" -> ZSCORE 3479099956230698.
        assert_eq!(score_of(13.361389, 38.115556), 3479099956230698);
        let xy = decode_score(3479099956230698.0).unwrap();
        assert_eq!(format!("{:.17}", xy[0]), "13.36138933897018433");
        assert_eq!(&standard_geohash(xy), b"sqc8b49rny0");
    }

    #[test]
    fn pqsort_sorts_the_requested_prefix() {
        let mut v: Vec<i32> = (0..100).map(|i| (i * 37) % 101).collect();
        pqsort(&mut v, &|a: &i32, b: &i32| a.cmp(b) as i32, 0, 9);
        let mut s: Vec<i32> = (0..100).map(|i| (i * 37) % 101).collect();
        s.sort();
        assert_eq!(&v[..10], &s[..10]);
    }
}
