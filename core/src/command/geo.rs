//! The geo command group (Redis 7.0's geo.c) on sorted sets: a point is a member whose score
//! is its 52-bit geohash (types/geohash.rs). GEOADD rewrites itself into ZADD, as Redis does;
//! GEORADIUS[_RO], GEORADIUSBYMEMBER[_RO], GEOSEARCH and GEOSEARCHSTORE share
//! `georadius_generic` (Redis's georadiusGeneric: same parse order, same error texts, same
//! box scan, same sorts: a stable sort of all results, or Redis's pqsort when COUNT cuts).

use super::{is, notify, parse_int, CmdError, Ctx};
use crate::cnum::string2d;
use crate::resp::ReplyWriter;
use crate::types::geohash::{self, Shape, ShapeKind};
use crate::types::zset::ZSet;
use crate::types::CompactBytes;

/// getDoubleFromObjectOrReply with an optional custom message.
fn double_arg(arg: &[u8], msg: Option<&str>) -> Result<f64, CmdError> {
    string2d(arg).ok_or_else(|| match msg {
        Some(m) => CmdError::err(m),
        None => CmdError::NotFloat,
    })
}

/// extractLongLatOrReply.
fn long_lat(args: &[&[u8]]) -> Result<[f64; 2], CmdError> {
    let x = double_arg(args[0], None)?;
    let y = double_arg(args[1], None)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(CmdError::err(format!(
            "invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok([x, y])
}

/// extractUnitOrReply: metres per unit.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::err(
            "unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// extractDistanceOrReply: (radius, conversion).
fn distance_arg(args: &[&[u8]]) -> Result<(f64, f64), CmdError> {
    let d = double_arg(args[0], Some("need numeric radius"))?;
    if d < 0.0 {
        return Err(CmdError::err("radius cannot be negative"));
    }
    Ok((d, unit(args[1])?))
}

/// extractBoxOrReply: (width, height, conversion).
fn box_arg(args: &[&[u8]]) -> Result<(f64, f64, f64), CmdError> {
    let w = double_arg(args[0], Some("need numeric width"))?;
    let h = double_arg(args[1], Some("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::err("height or width cannot be negative"));
    }
    Ok((w, h, unit(args[2])?))
}

/// addReplyDoubleDistance: fixedpoint_d2string with 4 decimals (llrint, ties to even).
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let u = v.unsigned_abs();
    format!("{sign}{}.{:04}", u / 10000, u % 10000)
}

/// ld2string(LD_STR_HUMAN) of a double: "%.17Lf" with trailing zeros stripped.
fn human_text(d: f64) -> String {
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// addReplyHumanLongDouble.
fn reply_human(out: &mut ReplyWriter, d: f64) {
    out.double_text(human_text(d).as_bytes());
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
///
/// Validates every pair, then runs ZADD with the geohash scores (so ZADD's checks, the type
/// check included, come after the coordinate errors, as in Redis).
pub fn geoadd(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (mut nx, mut xx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let o = args[longidx];
        if is(o, "nx") {
            nx = true;
        } else if is(o, "xx") {
            xx = true;
        } else if !is(o, "ch") {
            break;
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    let elements = (args.len() - longidx) / 3;
    let mut scores = Vec::with_capacity(elements);
    for i in 0..elements {
        let xy = long_lat(&args[longidx + i * 3..])?;
        scores.push(geohash::score_of(xy[0], xy[1]).to_string());
    }
    let mut zargs: Vec<&[u8]> = Vec::with_capacity(longidx + elements * 2);
    zargs.push(b"zadd");
    zargs.extend_from_slice(&args[1..longidx]);
    for (i, s) in scores.iter().enumerate() {
        zargs.push(s.as_bytes());
        zargs.push(args[longidx + i * 3 + 2]);
    }
    super::zset::zadd(ctx, &zargs)
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub fn geodist(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut to_meter = 1.0;
    if args.len() == 5 {
        to_meter = unit(args[4])?;
    } else if args.len() > 5 {
        return Err(CmdError::Syntax);
    }
    let (z, mut out) = ctx.read::<ZSet>(args[1])?;
    let d = z.and_then(|z| {
        let a = geohash::decode_score(z.score(args[2])?)?;
        let b = geohash::decode_score(z.score(args[3])?)?;
        Some(geohash::distance(a[0], a[1], b[0], b[1]) / to_meter)
    });
    match d {
        Some(d) => out.bulk(distance_text(d).as_bytes()),
        None => out.nil(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
pub fn geohash(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (z, mut out) = ctx.read::<ZSet>(args[1])?;
    out.array_len(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)).and_then(geohash::decode_score) {
            Some(xy) => out.bulk(&geohash::standard_geohash(xy)),
            None => out.nil(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (z, mut out) = ctx.read::<ZSet>(args[1])?;
    out.array_len(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)).and_then(geohash::decode_score) {
            Some(xy) => {
                out.array_len(2);
                reply_human(&mut out, xy[0]);
                reply_human(&mut out, xy[1]);
            }
            None => out.nil_array(),
        }
    }
    Ok(())
}

/// GEORADIUS key longitude latitude radius unit [options]
pub fn georadius(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    georadius_generic(ctx, args, 1, RADIUS_COORDS)
}

/// GEORADIUSBYMEMBER key member radius unit [options]
pub fn georadiusbymember(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    georadius_generic(ctx, args, 1, RADIUS_MEMBER)
}

/// GEORADIUS_RO: no STORE/STOREDIST.
pub fn georadius_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    georadius_generic(ctx, args, 1, RADIUS_COORDS | RADIUS_NOSTORE)
}

/// GEORADIUSBYMEMBER_RO: no STORE/STOREDIST.
pub fn georadiusbymember_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    georadius_generic(ctx, args, 1, RADIUS_MEMBER | RADIUS_NOSTORE)
}

/// GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h unit [options]
pub fn geosearch(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    georadius_generic(ctx, args, 1, GEOSEARCH)
}

/// GEOSEARCHSTORE dst src ... [STOREDIST]
pub fn geosearchstore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    georadius_generic(ctx, args, 2, GEOSEARCH | GEOSEARCHSTORE)
}

const RADIUS_COORDS: u32 = 1;
const RADIUS_MEMBER: u32 = 2;
const RADIUS_NOSTORE: u32 = 4;
const GEOSEARCH: u32 = 8;
const GEOSEARCHSTORE: u32 = 16;

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One result (Redis's geoPoint).
struct Point {
    xy: [f64; 2],
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// longLatFromMember.
fn member_xy(z: &ZSet, member: &[u8]) -> Result<[f64; 2], CmdError> {
    z.score(member)
        .and_then(geohash::decode_score)
        .ok_or_else(|| CmdError::err("could not decode requested zset member"))
}

/// geoGetPointsInRange over the boxes of membersOfAllNeighbors; `limit` 0 is unlimited.
fn points_in_shape(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let boxes = geohash::areas_by_shape(shape);
    let mut ga: Vec<Point> = Vec::new();
    let mut last_processed = 0;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        if last_processed != 0 && *b == boxes[last_processed] {
            continue;
        }
        if !ga.is_empty() && limit != 0 && ga.len() >= limit {
            break;
        }
        let (min, max) = geohash::box_scores(*b);
        let start = z.partition_point(|s, _| s < min);
        for (m, s) in z.iter_from(start, false) {
            if s >= max {
                break;
            }
            if let Some((xy, dist)) = geohash::within_shape(shape, s) {
                ga.push(Point {
                    xy,
                    dist,
                    score: s,
                    member: m.to_vec(),
                });
            }
            if !ga.is_empty() && limit != 0 && ga.len() >= limit {
                break;
            }
        }
        last_processed = i;
    }
    ga
}

fn georadius_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    src: usize,
    flags: u32,
) -> Result<(), CmdError> {
    let now = ctx.now;
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;
    // lookupKeyRead + checkType first: WRONGTYPE comes before any argument error.
    let exists = ctx.db().read::<ZSet>(args[src], now)?.is_some();
    let mut center: Option<[f64; 2]> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut conversion = 1.0;
    let base_args;
    if flags & RADIUS_COORDS != 0 {
        base_args = 6;
        center = Some(long_lat(&args[2..4])?);
        let (r, c) = distance_arg(&args[4..6])?;
        kind = Some(ShapeKind::Radius(r));
        conversion = c;
    } else if flags & RADIUS_MEMBER != 0 {
        base_args = 5;
        if exists {
            let xy = {
                let z = ctx.db().read::<ZSet>(args[src], now)?.expect("exists");
                member_xy(z, args[2])?
            };
            center = Some(xy);
            let (r, c) = distance_arg(&args[3..5])?;
            kind = Some(ShapeKind::Radius(r));
            conversion = c;
        }
    } else {
        base_args = if flags & GEOSEARCHSTORE != 0 { 3 } else { 2 };
        if flags & GEOSEARCHSTORE != 0 {
            storekey = Some(args[1]);
        }
    }

    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = args.len().saturating_sub(base_args);
    let mut i = 0;
    while i < remaining {
        let arg = args[base_args + i];
        let next = |k: usize| args[base_args + i + k];
        if is(arg, "withdist") {
            withdist = true;
        } else if is(arg, "withhash") {
            withhash = true;
        } else if is(arg, "withcoord") {
            withcoords = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = Sort::Asc;
        } else if is(arg, "desc") {
            sort = Sort::Desc;
        } else if is(arg, "count") && i + 1 < remaining {
            count = parse_int(next(1))?;
            if count <= 0 {
                return Err(CmdError::err("COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist"))
            && i + 1 < remaining
            && flags & RADIUS_NOSTORE == 0
            && flags & GEOSEARCH == 0
        {
            storekey = Some(next(1));
            storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && flags & GEOSEARCH != 0 && flags & GEOSEARCHSTORE != 0 {
            storedist = true;
        } else if is(arg, "frommember") && i + 1 < remaining && flags & GEOSEARCH != 0 && !fromloc {
            if exists {
                let z = ctx.db().read::<ZSet>(args[src], now)?.expect("exists");
                center = Some(member_xy(z, next(1))?);
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat")
            && i + 2 < remaining
            && flags & GEOSEARCH != 0
            && !frommember
        {
            center = Some(long_lat(&args[base_args + i + 1..])?);
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && flags & GEOSEARCH != 0 && !bybox {
            let (r, c) = distance_arg(&args[base_args + i + 1..])?;
            kind = Some(ShapeKind::Radius(r));
            conversion = c;
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && flags & GEOSEARCH != 0 && !byradius {
            let (w, h, c) = box_arg(&args[base_args + i + 1..])?;
            kind = Some(ShapeKind::Box {
                width: w,
                height: h,
            });
            conversion = c;
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }

    if storekey.is_some() && (withdist || withhash || withcoords) {
        return Err(CmdError::err(format!(
            "{} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if flags & GEOSEARCHSTORE != 0 {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = String::from_utf8_lossy(super::c_str(args[0])).into_owned();
    if flags & GEOSEARCH != 0 && !(frommember || fromloc) {
        return Err(CmdError::err(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if flags & GEOSEARCH != 0 && !(byradius || bybox) {
        return Err(CmdError::err(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::err("the ANY argument requires COUNT argument"));
    }

    if !exists {
        match storekey {
            Some(dst) => {
                if ctx.db().remove(dst).is_some() {
                    ctx.key_modified(dst);
                    ctx.notify(notify::GENERIC, "del", dst);
                }
                ctx.out().int(0);
            }
            None => ctx.out().array_len(0),
        }
        return Ok(());
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let shape = Shape {
        xy: center.expect("a centre is parsed before the search"),
        conversion,
        kind: kind.expect("a shape is parsed before the search"),
    };
    let limit = if any { count as usize } else { 0 };
    let mut ga = {
        let z = ctx.db().read::<ZSet>(args[src], now)?.expect("exists");
        points_in_shape(z, &shape, limit)
    };
    if ga.is_empty() && storekey.is_none() {
        ctx.out().array_len(0);
        return Ok(());
    }
    let result_length = ga.len();
    let returned = if count == 0 || (result_length as i64) < count {
        result_length
    } else {
        count as usize
    };
    if sort != Sort::None {
        let asc = |a: &Point, b: &Point| {
            if a.dist > b.dist {
                1
            } else if a.dist == b.dist {
                0
            } else {
                -1
            }
        };
        let desc = |a: &Point, b: &Point| -asc(a, b);
        if returned == result_length {
            // glibc's qsort is a merge sort here: stable.
            if sort == Sort::Asc {
                ga.sort_by(|a, b| asc(a, b).cmp(&0));
            } else {
                ga.sort_by(|a, b| desc(a, b).cmp(&0));
            }
        } else if sort == Sort::Asc {
            geohash::pqsort(&mut ga, &asc, 0, returned - 1);
        } else {
            geohash::pqsort(&mut ga, &desc, 0, returned - 1);
        }
    }
    ga.truncate(returned);
    for gp in &mut ga {
        gp.dist /= conversion;
    }

    match storekey {
        None => {
            let options = withdist as usize + withcoords as usize + withhash as usize;
            let mut out = ctx.out();
            out.array_len(returned);
            for gp in &ga {
                if options > 0 {
                    out.array_len(options + 1);
                }
                out.bulk(&gp.member);
                if withdist {
                    out.bulk(distance_text(gp.dist).as_bytes());
                }
                if withhash {
                    out.int(gp.score as i64);
                }
                if withcoords {
                    out.array_len(2);
                    reply_human(&mut out, gp.xy[0]);
                    reply_human(&mut out, gp.xy[1]);
                }
            }
        }
        Some(dst) => {
            let mut pairs: Vec<(CompactBytes, f64)> = Vec::with_capacity(ga.len());
            let mut seen = std::collections::HashSet::new();
            for gp in &ga {
                if seen.insert(gp.member.as_slice()) {
                    let s = if storedist { gp.dist } else { gp.score };
                    pairs.push((CompactBytes::new(&gp.member), s));
                }
            }
            pairs.sort_by(|a, b| {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
            });
            let dst = dst.to_vec();
            let event = if flags & GEOSEARCH != 0 {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            super::zset::store_result(ctx, &dst, pairs, event);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_print_like_fixedpoint_d2string() {
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(166274.1515696004), "166274.1516");
    }

    #[test]
    fn coordinates_print_like_ld2string_human() {
        assert_eq!(human_text(13.361389338970184), "13.36138933897018433");
        assert_eq!(human_text(1.5), "1.5");
        assert_eq!(human_text(-0.0), "0");
    }
}
