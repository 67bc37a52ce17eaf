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

pub use vm::{
    ApiFn, ApiResult, HookMode, LuaStack, LuaType, PcallError, ScriptHost, ScriptVm,
    ScriptVmFactory, GLOBALS_INDEX, REGISTRY_INDEX,
};
