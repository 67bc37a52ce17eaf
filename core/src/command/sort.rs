//! SORT and SORT_RO (Redis's sort.c): sort a list, set or sorted set numerically or
//! lexicographically, optionally by external keys (`BY weight_*`, `BY h_*->field`), fetch
//! external keys (`GET obj_*`, `GET #`), page with LIMIT, and STORE the result as a list.

use super::{c_str, is, notify, parse_int, CmdError, Ctx};
use crate::cnum::strtod;
use crate::keyspace::Db;
use crate::time::UnixMillis;
use crate::types::{List, Value};
use std::cmp::Ordering;

struct SortOptions<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY without '*': keep the collection's own order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse_options<'a>(
    args: &[&'a [u8]],
    readonly: bool,
    full_key_access: bool,
) -> Result<SortOptions<'a>, CmdError> {
    let mut o = SortOptions {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit_start = parse_int(args[j + 1])?;
            o.limit_count = parse_int(args[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            o.by = Some(args[j + 1]);
            o.dontsort = !c_str(args[j + 1]).contains(&b'*');
            // A real BY pattern reads keys the ACL cannot see: it needs read access to all.
            if !o.dontsort && !full_key_access {
                return Err(CmdError::err(
                    "BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if !full_key_access {
                return Err(CmdError::err(
                    "GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(args[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Redis's lookupKeyByPattern: `#` is the element itself; the first `*` is replaced by the
/// element; `->field` after it reads a hash field. Only strings (or hash fields) are found.
fn lookup_by_pattern(db: &mut Db, now: UnixMillis, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    let pattern = c_str(pattern);
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = memchr::memchr(b'*', pattern)?;
    let after = &pattern[star + 1..];
    let (postfix, field) = match memchr::memmem::find(after, b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    let value = db.lookup_read(&key, now)?;
    match (field, value) {
        (Some(f), Value::Hash(h)) => h.get(f).map(<[u8]>::to_vec),
        (None, v) => {
            let mut buf = itoa::Buffer::new();
            v.string_bytes(&mut buf).map(<[u8]>::to_vec)
        }
        _ => None,
    }
}

/// C's strtod as SORT uses it: leading blanks allowed, the whole (NUL-terminated) text must be
/// consumed, and ERANGE (overflow, underflow) and NaN are refused.
fn sort_score(text: &[u8]) -> Option<f64> {
    let t = c_str(text);
    let (v, used, erange) = strtod(t);
    (used == t.len() && !erange && !v.is_nan()).then_some(v)
}

struct Item {
    elem: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA sorts (None when the BY key is missing).
    cmp: Option<Vec<u8>>,
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]
pub fn sort(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sort_generic(ctx, args, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]
pub fn sort_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx, args: &[&[u8]], readonly: bool) -> Result<(), CmdError> {
    // Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess(..., CMD_KEY_ACCESS).
    let full_key_access = super::acl::user_of(ctx.srv, ctx.client_ref())
        .is_none_or(|u| u.unrestricted_read(ctx.cmd, args));
    let mut o = parse_options(args, readonly, full_key_access)?;
    let now = ctx.now;
    let seed = ctx.srv.rng.next_u64();
    let db = ctx.db();
    // Redis converts a sorted set to the skiplist encoding for SORT, for good (OBJECT ENCODING
    // shows it afterwards).
    if let Some(Value::ZSet(z)) = db.get_mut(args[1], now) {
        z.convert_to_skiplist(seed);
    }
    // Load the elements, in the collection's own order.
    let (elems, is_set): (Vec<Vec<u8>>, bool) = match db.lookup_read(args[1], now) {
        None => (Vec::new(), false),
        Some(Value::List(l)) => (l.iter().map(<[u8]>::to_vec).collect(), false),
        Some(Value::Set(s)) => (s.members(), true),
        Some(Value::ZSet(z)) => (z.iter().map(|(m, _)| m.to_vec()).collect(), false),
        Some(_) => return Err(CmdError::WrongType),
    };
    // An unsorted set would come out in hash order: STORE sorts it so the result is stable.
    if o.dontsort && is_set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let mut start = o.limit_start.max(0);
    let mut end = if o.limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(o.limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    // Lists and sorted sets keep their own order when not sorting; DESC reverses it.
    if o.dontsort && !is_set && o.desc {
        items.reverse();
    }
    if !o.dontsort {
        let mut bad_score = false;
        for it in items.iter_mut() {
            let byval = match o.by {
                Some(p) => match lookup_by_pattern(db, now, p, &it.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match sort_score(&byval) {
                    Some(s) => it.score = s,
                    None => bad_score = true,
                }
            }
        }
        if bad_score {
            return Err(CmdError::err(
                "One or more scores can't be converted into double",
            ));
        }
        let storing = o.store.is_some();
        let by = o.by.is_some();
        let (alpha, desc) = (o.alpha, o.desc);
        items.sort_by(|a, b| {
            let ord = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    // Redis compares binary-safely when storing, with strcoll (C locale:
                    // up to a NUL) when replying.
                    (Some(x), Some(y)) if storing => x.cmp(y),
                    (Some(x), Some(y)) => c_str(x).cmp(c_str(y)),
                }
            } else if storing {
                a.elem.cmp(&b.elem)
            } else {
                c_str(&a.elem).cmp(c_str(&b.elem))
            };
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    let range = if start < 0 || end < start {
        &items[0..0]
    } else {
        &items[start as usize..=end as usize]
    };
    // Each output row: the element, or one entry per GET pattern (None = missing).
    let mut rows: Vec<Option<Vec<u8>>> = Vec::with_capacity(range.len() * o.gets.len().max(1));
    for it in range {
        if o.gets.is_empty() {
            rows.push(Some(it.elem.clone()));
        }
        for g in &o.gets {
            rows.push(lookup_by_pattern(db, now, g, &it.elem));
        }
    }
    match o.store {
        None => {
            let mut out = ctx.out();
            out.array_len(rows.len());
            for r in &rows {
                match r {
                    Some(b) => out.bulk(b),
                    None => out.nil(),
                }
            }
        }
        Some(dest) => {
            let n = rows.len();
            if n > 0 {
                let list = List::from_items(rows.into_iter().map(Option::unwrap_or_default));
                db.set(dest, Value::List(Box::new(list)), false);
                ctx.key_modified(dest);
                ctx.notify(notify::LIST, "sortstore", dest);
            } else if db.remove(dest).is_some() {
                ctx.key_modified(dest);
                ctx.notify(notify::GENERIC, "del", dest);
            }
            ctx.out().int(n as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(sort_score(b"1.5"), Some(1.5));
        assert_eq!(sort_score(b"  -2"), Some(-2.0));
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"\r\n"), None);
        assert_eq!(sort_score(b" "), None);
        assert_eq!(sort_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(sort_score(b"12\0junk"), Some(12.0));
        assert_eq!(sort_score(b"1e400"), None);
        assert_eq!(sort_score(b"1e-400"), None);
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1x"), None);
        assert_eq!(sort_score(b"0.0"), Some(0.0));
        assert_eq!(sort_score(b"0x10"), Some(16.0));
    }
}
