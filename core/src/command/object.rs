//! OBJECT: what the keyspace knows about a value's representation (Redis's object.c).
//!
//! IDLETIME and FREQ are not offered: Oxidis keeps no per-key access clock or LFU counter
//! yet, and a made-up answer would be worse than Redis's "unknown subcommand".

use super::connection::reply_help;
use super::{CmdError, Ctx};
use crate::types::Value;

/// Redis shares the integer objects 0..=9999 (OBJ_SHARED_INTEGERS), reported with refcount
/// INT_MAX, unless a maxmemory LRU/LFU policy needs per-object access data.
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
        .map(Value::encoding)
    {
        Some(enc) => ctx.out().bulk(enc.as_bytes()),
        None => ctx.out().nil(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
pub fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now;
    let shares_integers = !ctx.srv.config.maxmemory_policy.tracks_access();
    let refcount = match ctx.db().lookup_read_nonotify(args[2], now) {
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

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, OBJECT_HELP);
    Ok(())
}
