//! The expiry commands (Redis's expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with
//! NX | XX | GT | LT; TTL, PTTL, EXPIRETIME, PEXPIRETIME; PERSIST.

use super::{is, CmdError, Ctx};

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Redis's `parseExtendedExpireArgumentsOrReply`: any number of NX/XX/GT/LT (repeats are
/// fine), then the compatibility checks.
fn parse_expire_flags(args: &[&[u8]]) -> Result<u8, CmdError> {
    let mut flags = 0;
    for opt in args {
        flags |= if is(opt, "nx") {
            EXPIRE_NX
        } else if is(opt, "xx") {
            EXPIRE_XX
        } else if is(opt, "gt") {
            EXPIRE_GT
        } else if is(opt, "lt") {
            EXPIRE_LT
        } else {
            // "%s" of a C string: the text stops at a NUL byte.
            let shown = opt.split(|&b| b == 0).next().unwrap_or(&[]);
            let mut msg = b"Unsupported option ".to_vec();
            msg.extend_from_slice(shown);
            return Err(CmdError::err(msg));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT (Redis's expireGenericCommand). `basetime` is added
/// to the argument (now for the relative forms, 0 for the absolute ones); `seconds` scales it.
/// A time at or before now deletes the key (and replies 1).
fn expire_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    basetime: i64,
    seconds: bool,
) -> Result<(), CmdError> {
    let flags = parse_expire_flags(&args[3..])?;
    let mut when = super::parse_int(args[2])?;
    let invalid = || {
        CmdError::err(format!(
            "invalid expire time in '{}' command",
            ctx.cmd.name
        ))
    };
    // Negative times are allowed (they delete); only overflow is an error.
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    when = when.checked_add(basetime).ok_or_else(invalid)?;

    let key = args[1];
    let now = ctx.now;
    let db = ctx.db();
    if db.get(key, now).is_none() {
        ctx.out().int(0);
        return Ok(());
    }
    if flags != 0 {
        // No TTL counts as an infinite one.
        let current = db.expire_at(key).map(|at| i64::try_from(at).unwrap_or(i64::MAX));
        let refused = (flags & EXPIRE_NX != 0 && current.is_some())
            || (flags & EXPIRE_XX != 0 && current.is_none())
            || (flags & EXPIRE_GT != 0 && current.is_none_or(|c| when <= c))
            || (flags & EXPIRE_LT != 0 && current.is_some_and(|c| when >= c));
        if refused {
            ctx.out().int(0);
            return Ok(());
        }
    }
    match u64::try_from(when) {
        Ok(at) if at > now.0 => db.set_expire(key, at),
        _ => {
            db.remove(key);
        }
    }
    ctx.out().int(1);
    Ok(())
}

fn now_ms(ctx: &Ctx) -> i64 {
    i64::try_from(ctx.now.0).unwrap_or(i64::MAX)
}

/// EXPIRE key seconds [NX | XX | GT | LT]
pub fn expire(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let base = now_ms(ctx);
    expire_generic(ctx, args, base, true)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let base = now_ms(ctx);
    expire_generic(ctx, args, base, false)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
pub fn expireat(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    expire_generic(ctx, args, 0, true)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
pub fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    expire_generic(ctx, args, 0, false)
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME (Redis's ttlGenericCommand): -2 for a missing key, -1
/// without a TTL; seconds are rounded as Redis does, (ms + 500) / 1000.
fn ttl_generic(ctx: &mut Ctx, args: &[&[u8]], millis: bool, absolute: bool) -> Result<(), CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    let reply = if db.lookup_read(args[1], now).is_none() {
        -2
    } else {
        match db.expire_at(args[1]) {
            None => -1,
            Some(at) => {
                let at = i64::try_from(at).unwrap_or(i64::MAX);
                let ttl = if absolute {
                    at
                } else {
                    at.saturating_sub(i64::try_from(now.0).unwrap_or(i64::MAX))
                }
                .max(0);
                if millis {
                    ttl
                } else {
                    // In u64: Redis's (ttl+500)/1000 yields the exact quotient even for a
                    // TTL near LLONG_MAX (EXPIRETIME after PEXPIREAT k 9223372036854775807).
                    ((ttl as u64 + 500) / 1000) as i64
                }
            }
        }
    };
    ctx.out().int(reply);
    Ok(())
}

/// TTL key
pub fn ttl(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    ttl_generic(ctx, args, false, false)
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    ttl_generic(ctx, args, true, false)
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    ttl_generic(ctx, args, false, true)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    ttl_generic(ctx, args, true, true)
}

/// PERSIST key — 1 if a TTL was removed.
pub fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    let removed = db.get(args[1], now).is_some() && db.persist(args[1]);
    ctx.out().int(i64::from(removed));
    Ok(())
}
