//! Scripting (EVAL, FUNCTION): Redis's rules for Lua scripts, written against the VM interface
//! in `vm`, which each host implements with a real Lua 5.1 (the `oxidis-lua` crate for both the
//! native server and the wasm engine). The rules (script cache, sandbox, conversions,
//! `redis.*`, BUSY, functions) are here, as docs/design/scripting.md describes them.

mod api;
mod convert;
pub(crate) mod eval;
/// FUNCTION libraries and FCALL (functions.c, function_lua.c).
pub(crate) mod function;
/// The libraries Redis bundles (cjson, struct, cmsgpack, bit), ported onto `LuaStack`.
mod lib;
mod vm;

pub use eval::{sha1hex, BusyGate, ScriptEnv, ScriptState};

use crate::command::{flags, CommandSpec};
use crate::engine::Server;

/// getCommandFlags: EVAL, EVALSHA and FCALL carry `may-replicate` (in the table, hidden from
/// COMMAND INFO), and a script with flags (a shebang, or any function) makes them what its
/// flags say instead: `write` unless `no-writes` (evalGetCommandFlags, fcallGetCommandFlags,
/// scriptFlagsToCmdFlags).
pub(crate) fn command_flags(srv: &Server, cmd: &CommandSpec, args: &[&[u8]]) -> u32 {
    let base = match cmd.name {
        "eval" | "evalsha" | "fcall" | "eval_ro" | "evalsha_ro" | "fcall_ro" => cmd.flags,
        _ => return cmd.flags,
    };
    let script_flags = match cmd.name {
        "fcall" | "fcall_ro" => srv.script.functions.find(args[1]).map(|f| f.flags),
        _ => eval::script_flags(srv, cmd.name.starts_with("evalsha"), args[1]),
    };
    match script_flags {
        Some(f) if f & eval::sflags::EVAL_COMPAT_MODE == 0 => {
            let mut c =
                base & !(flags::STALE | flags::DENYOOM | flags::WRITE | flags::MAY_REPLICATE);
            if f & (eval::sflags::ALLOW_OOM | eval::sflags::NO_WRITES) == 0 {
                c |= flags::DENYOOM;
            }
            if f & eval::sflags::NO_WRITES == 0 {
                c |= flags::WRITE;
            }
            if f & eval::sflags::ALLOW_STALE != 0 {
                c |= flags::STALE;
            }
            c
        }
        _ => base,
    }
}

pub use vm::{
    ApiFn, ApiResult, HookMode, LuaStack, LuaType, PcallError, ScriptHost, ScriptVm,
    ScriptVmFactory, GLOBALS_INDEX, REGISTRY_INDEX,
};
