//! The interface between the core and a Lua 5.1 VM: what the core calls (`ScriptVm`, and
//! `LuaStack` for values), what the VM calls back (`ScriptHost`: API functions such as
//! `redis.call`, and the instruction-count hook), and how a host makes fresh states
//! (`ScriptVmFactory`). No Lua and no C here: the host's crate implements these traits.
//!
//! The shape mirrors the subset of the Lua C API that Redis's own scripting code (script_lua.c,
//! eval.c, function_lua.c) uses, so the core's rules can follow Redis's C line by line and an
//! implementation is one C call per method. Indexes are Lua stack indexes as in C: 1 is the
//! bottom, negative counts from the top, and the pseudo-indexes [`REGISTRY_INDEX`] and
//! [`GLOBALS_INDEX`] name the registry and the globals table.
//!
//! No method raises a Lua error into the caller: a C `lua_error` must never cross Rust frames.
//! Where the C function would raise (a readonly table, an error in the hook or in an API
//! function) the method reports it and the caller returns [`ApiResult::Raise`]; the VM raises
//! only after the Rust frame is gone. Allocations made while the host is running (pushes from an
//! API function) are never refused by the memory limit for the same reason: the next allocation
//! by Lua code fails instead.

/// Lua's registry pseudo-index (`LUA_REGISTRYINDEX`).
pub const REGISTRY_INDEX: i32 = -10000;
/// Lua 5.1's globals pseudo-index (`LUA_GLOBALSINDEX`).
pub const GLOBALS_INDEX: i32 = -10002;

/// The type of a stack slot (`lua_type`); `None` is an index past the top.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LuaType {
    None,
    Nil,
    Boolean,
    LightUserdata,
    Number,
    String,
    Table,
    Function,
    Userdata,
    Thread,
}

impl LuaType {
    /// The C API's type code (`LUA_TNONE` = -1 ... `LUA_TTHREAD` = 8) to a type.
    pub fn from_code(code: i32) -> LuaType {
        match code {
            0 => LuaType::Nil,
            1 => LuaType::Boolean,
            2 => LuaType::LightUserdata,
            3 => LuaType::Number,
            4 => LuaType::String,
            5 => LuaType::Table,
            6 => LuaType::Function,
            7 => LuaType::Userdata,
            8 => LuaType::Thread,
            _ => LuaType::None,
        }
    }

    /// `lua_typename`: what `type()` returns in a script (light userdata is "userdata").
    pub fn name(self) -> &'static str {
        match self {
            LuaType::None => "no value",
            LuaType::Nil => "nil",
            LuaType::Boolean => "boolean",
            LuaType::LightUserdata | LuaType::Userdata => "userdata",
            LuaType::Number => "number",
            LuaType::String => "string",
            LuaType::Table => "table",
            LuaType::Function => "function",
            LuaType::Thread => "thread",
        }
    }
}

/// A function the core implements and scripts call (`redis.call`, `cjson.encode`, ...): the
/// number is the core's own, handed back to [`ScriptHost::api`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct ApiFn(pub u16);

/// What an API function or the hook asks the VM to do once the Rust frame is gone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApiResult {
    /// `n` values are on top of the stack: return them (the hook ignores `n` and continues).
    Return(i32),
    /// The error object is on top of the stack: the VM raises it (`lua_error`).
    Raise,
}

/// One Lua thread's stack: the main state's, or that of the coroutine an API function was
/// called from. Each method is the C API function named in its doc.
pub trait LuaStack {
    /// `lua_gettop`.
    fn top(&self) -> i32;
    /// `lua_settop`.
    fn set_top(&mut self, idx: i32);
    /// `lua_checkstack`: room for `n` more slots.
    fn check_stack(&mut self, n: i32) -> bool;
    /// `lua_pushvalue`.
    fn push_value(&mut self, idx: i32);
    /// `lua_insert`.
    fn insert(&mut self, idx: i32);
    /// `lua_remove`.
    fn remove(&mut self, idx: i32);
    /// `lua_replace`.
    fn replace(&mut self, idx: i32);
    /// `lua_type`.
    fn type_of(&self, idx: i32) -> LuaType;
    /// `lua_tonumber` (0 when not convertible).
    fn to_number(&self, idx: i32) -> f64;
    /// `lua_toboolean`.
    fn to_boolean(&self, idx: i32) -> bool;
    /// `lua_tolstring`: a number is converted in place, as in C (Redis relies on it); None for
    /// other non-strings.
    fn to_bytes(&mut self, idx: i32) -> Option<&[u8]>;
    /// `lua_isnumber` (true for convertible strings too).
    fn is_number(&self, idx: i32) -> bool;
    /// `lua_isstring` (true for numbers too).
    fn is_string(&self, idx: i32) -> bool;
    /// `lua_objlen`: a string's length, a table's border.
    fn obj_len(&self, idx: i32) -> usize;
    /// `lua_pushnil`.
    fn push_nil(&mut self);
    /// `lua_pushboolean`.
    fn push_boolean(&mut self, b: bool);
    /// `lua_pushnumber`.
    fn push_number(&mut self, n: f64);
    /// `lua_pushlstring`.
    fn push_bytes(&mut self, s: &[u8]);
    /// `lua_pushlightuserdata(L, NULL)`: cjson's `null`.
    fn push_light_userdata_null(&mut self);
    /// A C closure that calls [`ScriptHost::api`] with `f`, taking `upvalues` values from the
    /// top of the stack as its upvalues (see [`LuaStack::upvalue_index`]).
    fn push_api_fn(&mut self, f: ApiFn, upvalues: i32);
    /// The pseudo-index of the running API function's upvalue `n` (1-based).
    fn upvalue_index(&self, n: i32) -> i32;
    /// `lua_createtable`.
    fn new_table(&mut self, narr: i32, nrec: i32);
    /// `lua_rawget`.
    fn raw_get(&mut self, idx: i32);
    /// `lua_rawset`. False when the table is readonly: nothing is set, the key and value are
    /// popped, and the caller raises `Attempt to modify a readonly table` if it wants Redis's
    /// behaviour.
    fn raw_set(&mut self, idx: i32) -> bool;
    /// `lua_rawgeti`.
    fn raw_get_i(&mut self, idx: i32, n: i32);
    /// `lua_rawseti`; false (value popped, nothing set) on a readonly table.
    fn raw_set_i(&mut self, idx: i32, n: i32) -> bool;
    /// `lua_next`: pops a key, pushes the next key and value; false (nothing pushed) at the
    /// end. The key must be one `next` returned (or nil), as in C.
    fn next(&mut self, idx: i32) -> bool;
    /// `lua_getmetatable`: pushes it and returns true, or pushes nothing.
    fn get_metatable(&mut self, idx: i32) -> bool;
    /// `lua_setmetatable` (pops the table or nil); false (popped, unchanged) when the target is
    /// a readonly table.
    fn set_metatable(&mut self, idx: i32) -> bool;
    /// Redis's `lua_enablereadonlytable`.
    fn set_readonly(&mut self, idx: i32, on: bool);
    /// Redis's `lua_isreadonlytable`.
    fn is_readonly(&self, idx: i32) -> bool;
    /// `luaL_where(L, level)`: the `chunk:line:` prefix of the function at `level` (1 = the
    /// function that called the running API function), empty when it is not Lua code.
    fn where_(&mut self, level: i32) -> Vec<u8>;
    /// `lua_sethook` on this thread: how often the VM calls [`ScriptHost::hook`]. The hook may
    /// re-arm itself through the stack it is given (Redis switches to `EveryLine` on a kill).
    fn set_hook(&mut self, mode: HookMode);

    /// `lua_pop`.
    fn pop(&mut self, n: i32) {
        self.set_top(-n - 1);
    }

    /// `idx` as an absolute index (pseudo-indexes unchanged), valid after pushes.
    fn abs_index(&self, idx: i32) -> i32 {
        if idx < 0 && idx > REGISTRY_INDEX {
            self.top() + idx + 1
        } else {
            idx
        }
    }

    /// `t[k]` without metamethods: pushes the value (a raw `lua_getfield`).
    fn raw_get_field(&mut self, idx: i32, k: &[u8]) {
        let t = self.abs_index(idx);
        self.push_bytes(k);
        self.raw_get(t);
    }

    /// `t[k] = <top>` without metamethods, popping the value (a raw `lua_setfield`); false on a
    /// readonly table.
    fn raw_set_field(&mut self, idx: i32, k: &[u8]) -> bool {
        let t = self.abs_index(idx);
        self.push_bytes(k);
        self.insert(-2);
        self.raw_set(t)
    }
}

/// How often the VM calls [`ScriptHost::hook`] (`lua_sethook`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HookMode {
    Off,
    /// Every `n` VM instructions (`LUA_MASKCOUNT`): Redis uses 100 000 for BUSY and KILL.
    EveryInstructions(u32),
    /// On every new line (`LUA_MASKLINE`): what Redis re-arms after a kill so that `pcall`
    /// cannot keep the script alive.
    EveryLine,
}

/// Why [`ScriptVm::pcall`] failed (`LUA_ERRRUN`, `LUA_ERRMEM`, `LUA_ERRERR`); the error object
/// is on top of the stack in every case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PcallError {
    /// A runtime error, after the error handler (if any) ran.
    Runtime,
    /// Out of memory (the memory limit): the error handler did not run; the state stays usable.
    Memory,
    /// The error handler itself failed.
    ErrorHandler,
}

/// One `lua_State` (Redis keeps two: EVAL's and the function engine's).
pub trait ScriptVm {
    /// The main thread's stack.
    fn stack(&mut self) -> &mut dyn LuaStack;
    /// Opens the standard libraries Redis loads, in its order: base, table, string, math,
    /// debug (not io, os, package).
    fn open_std_libs(&mut self);
    /// `luaL_loadbuffer` of a text chunk (binary chunks are refused by the patched parser):
    /// pushes the function, or returns the error message with nothing pushed.
    fn load(&mut self, body: &[u8], chunk_name: &str) -> Result<(), Vec<u8>>;
    /// `lua_pcall`: `host` receives every API function call and hook until it returns.
    /// `errfunc` is the stack index of the error handler, or 0 for none. Must not be called
    /// from inside `host` (Redis never nests: scripts cannot call EVAL).
    fn pcall(
        &mut self,
        nargs: i32,
        nresults: i32,
        errfunc: i32,
        host: &mut dyn ScriptHost,
    ) -> Result<(), PcallError>;
    /// Bytes the state holds now (the VM's allocator counts them).
    fn used_memory(&self) -> usize;
    /// The most the state may hold; allocations by Lua code past it fail with
    /// `not enough memory` ([`PcallError::Memory`]) and the state stays usable.
    fn set_memory_limit(&mut self, bytes: usize);
    /// `lua_gc(L, LUA_GCCOLLECT, 0)`: a full collection.
    fn gc_collect(&mut self);
}

/// The core's side, called by the VM from inside [`ScriptVm::pcall`].
pub trait ScriptHost {
    /// An API function was called; `stack` is the calling thread's stack (a coroutine's when
    /// called from one), with the arguments at 1..=top.
    fn api(&mut self, f: ApiFn, stack: &mut dyn LuaStack) -> ApiResult;
    /// The hook fired (see [`LuaStack::set_hook`]): `Raise` with an error object pushed stops
    /// the script.
    fn hook(&mut self, stack: &mut dyn LuaStack) -> ApiResult;
}

/// Installed by the host: makes fresh states (SCRIPT FLUSH closes the EVAL state and makes a
/// new one, as Redis does; FUNCTION FLUSH likewise for the function engine).
pub trait ScriptVmFactory {
    fn create(&self) -> Box<dyn ScriptVm>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_and_names_are_lua_5_1s() {
        let names: Vec<&str> = (-1..=8).map(|c| LuaType::from_code(c).name()).collect();
        assert_eq!(
            names,
            [
                "no value", "nil", "boolean", "userdata", "number", "string", "table", "function",
                "userdata", "thread"
            ]
        );
        assert_eq!(LuaType::from_code(2), LuaType::LightUserdata);
        assert_eq!(LuaType::from_code(9), LuaType::None);
    }
}
