//! OBJECT: what the keyspace knows about a value's representation and use (Redis's object.c).
//! Its lookups leave the key's LRU/LFU field alone (LOOKUP_NOTOUCH) but count hits/misses.

use super::connection::reply_help;
use super::{CmdError, Ctx};
use crate::types::Value;

/// Redis shares the integer objects 0..=9999 (OBJ_SHARED_INTEGERS), reported with refcount
/// INT_MAX, unless a maxmemory limit with an LRU/LFU policy needs per-object access data.
const SHARED_INTEGERS: i64 = 10_000;

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    match ctx
        .db()
        .lookup_read_nonotify(args[2], now)
        .map(|(v, _)| v.encoding())
    {
        Some(enc) => ctx.out().bulk(enc.as_bytes()),
        None => ctx.out().nil(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
pub fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    // tryObjectEncoding shares them unless a maxmemory limit with an LRU/LFU policy needs
    // per-object access data (Redis decides when the value is made; here, when asked).
    let cfg = &ctx.srv.config;
    let shares_integers = cfg.maxmemory == 0 || !cfg.maxmemory_policy.tracks_access();
    let refcount = match ctx.db().lookup_read_nonotify(args[2], now).map(|(v, _)| v) {
        None => {
            ctx.out().nil();
            return Ok(());
        }
        Some(Value::Int(n)) if shares_integers && (0..SHARED_INTEGERS).contains(n) => {
            i32::MAX as i64
        }
        Some(_) => 1,
    };
    ctx.out().int(refcount);
    Ok(())
}

/// OBJECT IDLETIME key — seconds since the last access (LRU-style policies only).
pub fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let Some((_, field)) = ctx.db().lookup_read_nonotify(args[2], now) else {
        ctx.out().nil();
        return Ok(());
    };
    let access = ctx.srv.access(now);
    if access.lfu {
        return Err(CmdError::Msg(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that \
             when switching between policies at runtime LRU and LFU data will take some time to \
             adjust."
                .into(),
        ));
    }
    ctx.out().int((access.idle_ms(field) / 1000) as i64);
    Ok(())
}

/// OBJECT FREQ key — the logarithmic access counter, decayed to now (LFU policies only).
pub fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let Some((_, field)) = ctx.db().lookup_read_nonotify(args[2], now) else {
        ctx.out().nil();
        return Ok(());
    };
    let access = ctx.srv.access(now);
    if !access.lfu {
        return Err(CmdError::Msg(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please \
             note that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust."
                .into(),
        ));
    }
    ctx.out().int(i64::from(access.lfu_decr_and_return(field)));
    Ok(())
}

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, OBJECT_HELP);
    Ok(())
}
