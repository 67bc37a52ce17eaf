//! The expiry commands (Redis's expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with
//! NX | XX | GT | LT; TTL, PTTL, EXPIRETIME, PEXPIRETIME; PERSIST.

use super::{is, notify, CmdError, Ctx};

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
    let invalid = || CmdError::err(format!("invalid expire time in '{}' command", ctx.cmd.name));
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
        let current = db
            .expire_at(key)
            .map(|at| i64::try_from(at).unwrap_or(i64::MAX));
        let refused = (flags & EXPIRE_NX != 0 && current.is_some())
            || (flags & EXPIRE_XX != 0 && current.is_none())
            || (flags & EXPIRE_GT != 0 && current.is_none_or(|c| when <= c))
            || (flags & EXPIRE_LT != 0 && current.is_some_and(|c| when >= c));
        if refused {
            ctx.out().int(0);
            return Ok(());
        }
    }
    let event = match u64::try_from(when) {
        Ok(at) if at > now.0 => {
            db.set_expire(key, at);
            // EXPIRE/PEXPIRE/EXPIREAT propagate as PEXPIREAT (time-independent replay).
            let at = at.to_string();
            ctx.propagate(&[b"PEXPIREAT", key, at.as_bytes()]);
            "expire"
        }
        _ => {
            db.remove(key);
            let lazy = ctx.srv.config.lazyfree_lazy_expire;
            ctx.propagate(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
            "del"
        }
    };
    ctx.key_modified(key);
    // Redis notifies a deletion before its reply, a new TTL after it.
    if event == "del" {
        ctx.notify(notify::GENERIC, event, key);
        ctx.out().int(1);
    } else {
        ctx.out().int(1);
        ctx.notify(notify::GENERIC, event, key);
    }
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
fn ttl_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    millis: bool,
    absolute: bool,
) -> Result<(), CmdError> {
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
    if removed {
        ctx.key_modified(args[1]);
        ctx.notify(notify::GENERIC, "persist", args[1]);
    }
    ctx.out().int(i64::from(removed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::encode_request;
    use crate::resp::{decode_reply, Reply};
    use crate::types::Value;
    use crate::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};

    const T0: u64 = 1_700_000_000_000;

    struct T {
        eng: Engine,
        id: ClientHandle,
        now: u64,
    }

    impl T {
        fn new() -> T {
            let mut eng = Engine::new(Config::default(), 3);
            let id = eng.connect(UnixMillis(T0), ConnInfo::default());
            eng.server_mut().dbs[0].set(b"k", Value::Int(1), false);
            T { eng, id, now: T0 }
        }

        fn cmd(&mut self, args: &[&str]) -> Reply {
            let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            self.eng
                .feed(UnixMillis(self.now), self.id, &encode_request(&args));
            let mut out = Vec::new();
            self.eng.drain_output(self.id, &mut out);
            decode_reply(&out).expect("valid").expect("whole").0
        }

        fn int(&mut self, args: &[&str]) -> i64 {
            match self.cmd(args) {
                Reply::Int(n) => n,
                r => panic!("{args:?}: {r:?}"),
            }
        }
    }

    #[test]
    fn ttl_counts_down_and_rounds_half_up() {
        let mut t = T::new();
        assert_eq!(t.int(&["PEXPIRE", "k", "1500"]), 1);
        assert_eq!(t.int(&["PTTL", "k"]), 1500);
        assert_eq!(t.int(&["TTL", "k"]), 2);
        t.now += 1;
        assert_eq!(t.int(&["PTTL", "k"]), 1499);
        assert_eq!(t.int(&["TTL", "k"]), 1);
        t.now += 999;
        assert_eq!(t.int(&["PTTL", "k"]), 500);
        assert_eq!(t.int(&["TTL", "k"]), 1);
        t.now += 1;
        assert_eq!(t.int(&["PTTL", "k"]), 499);
        assert_eq!(t.int(&["TTL", "k"]), 0);
        assert_eq!(t.int(&["PEXPIRETIME", "k"]), (T0 + 1500) as i64);
        assert_eq!(t.int(&["EXPIRETIME", "k"]), (T0 + 1500 + 500) as i64 / 1000);
        t.now = T0 + 1500;
        assert_eq!(t.int(&["PTTL", "k"]), -2);
    }

    #[test]
    fn a_time_equal_to_now_deletes() {
        let mut t = T::new();
        assert_eq!(t.int(&["PEXPIREAT", "k", &T0.to_string()]), 1);
        assert_eq!(t.int(&["EXISTS", "k"]), 0);
        let mut t = T::new();
        assert_eq!(t.int(&["PEXPIREAT", "k", &(T0 + 1).to_string()]), 1);
        assert_eq!(t.int(&["PTTL", "k"]), 1);
    }

    #[test]
    fn overflow_boundary_depends_on_now() {
        let mut t = T::new();
        let max = i64::MAX - T0 as i64;
        assert_eq!(
            t.cmd(&["PEXPIRE", "k", &(max + 1).to_string()]),
            Reply::Error("ERR invalid expire time in 'pexpire' command".into())
        );
        assert_eq!(t.int(&["PEXPIRE", "k", &max.to_string()]), 1);
        assert_eq!(t.int(&["PEXPIRETIME", "k"]), i64::MAX);
        assert_eq!(t.int(&["EXPIRETIME", "k"]), 9_223_372_036_854_776);
        assert_eq!(t.int(&["PTTL", "k"]), max);
        let secs = max / 1000;
        assert_eq!(t.int(&["EXPIRE", "k", &secs.to_string()]), 1);
        assert_eq!(
            t.cmd(&["EXPIRE", "k", &(secs + 1).to_string()]),
            Reply::Error("ERR invalid expire time in 'expire' command".into())
        );
    }

    #[test]
    fn lt_with_a_past_time_deletes_a_volatile_key() {
        let mut t = T::new();
        assert_eq!(t.int(&["EXPIRE", "k", "100"]), 1);
        assert_eq!(t.int(&["EXPIRE", "k", "-1", "GT"]), 0);
        assert_eq!(t.int(&["EXPIRE", "k", "-1", "LT"]), 1);
        assert_eq!(t.int(&["EXISTS", "k"]), 0);
    }

    #[test]
    fn expire_on_an_expired_key_is_a_miss() {
        let mut t = T::new();
        assert_eq!(t.int(&["PEXPIRE", "k", "10"]), 1);
        t.now += 10;
        assert_eq!(t.int(&["EXPIRE", "k", "100"]), 0);
        assert_eq!(t.int(&["PERSIST", "k"]), 0);
        assert_eq!(t.eng.server().dbs[0].expired_count, 1);
    }
}
