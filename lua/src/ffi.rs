//! The Lua 5.1 C API functions oxidis-lua calls (lua.h, lauxlib.h, the readonly-table patch)
//! and glue.c's helpers. Declarations only; src/lib.rs wraps them.

use std::ffi::{c_char, c_int, c_void};

/// `lua_State`, opaque.
#[repr(C)]
pub struct LuaState {
    _private: [u8; 0],
}

pub type LuaAlloc = unsafe extern "C" fn(
    ud: *mut c_void,
    ptr: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void;

extern "C" {
    pub fn lua_newstate(f: LuaAlloc, ud: *mut c_void) -> *mut LuaState;
    pub fn lua_close(l: *mut LuaState);
    pub fn lua_getallocf(l: *mut LuaState, ud: *mut *mut c_void) -> LuaAlloc;

    pub fn lua_gettop(l: *mut LuaState) -> c_int;
    pub fn lua_settop(l: *mut LuaState, idx: c_int);
    pub fn lua_pushvalue(l: *mut LuaState, idx: c_int);
    pub fn lua_remove(l: *mut LuaState, idx: c_int);
    pub fn lua_insert(l: *mut LuaState, idx: c_int);
    pub fn lua_replace(l: *mut LuaState, idx: c_int);
    pub fn lua_checkstack(l: *mut LuaState, sz: c_int) -> c_int;

    pub fn lua_isnumber(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn lua_isstring(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn lua_type(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn lua_tonumber(l: *mut LuaState, idx: c_int) -> f64;
    pub fn lua_toboolean(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn lua_tolstring(l: *mut LuaState, idx: c_int, len: *mut usize) -> *const c_char;
    pub fn lua_objlen(l: *mut LuaState, idx: c_int) -> usize;

    pub fn lua_pushnil(l: *mut LuaState);
    pub fn lua_pushnumber(l: *mut LuaState, n: f64);
    pub fn lua_pushlstring(l: *mut LuaState, s: *const c_char, len: usize);
    pub fn lua_pushboolean(l: *mut LuaState, b: c_int);
    pub fn lua_pushlightuserdata(l: *mut LuaState, p: *mut c_void);

    pub fn lua_rawget(l: *mut LuaState, idx: c_int);
    pub fn lua_rawgeti(l: *mut LuaState, idx: c_int, n: c_int);
    pub fn lua_createtable(l: *mut LuaState, narr: c_int, nrec: c_int);
    pub fn lua_getmetatable(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn lua_next(l: *mut LuaState, idx: c_int) -> c_int;

    pub fn lua_pcall(l: *mut LuaState, nargs: c_int, nresults: c_int, errfunc: c_int) -> c_int;

    // Redis's readonly-table patch (vendor/PATCHES.md).
    pub fn lua_enablereadonlytable(l: *mut LuaState, idx: c_int, enabled: c_int);
    pub fn lua_isreadonlytable(l: *mut LuaState, idx: c_int) -> c_int;

    pub fn luaL_loadbuffer(
        l: *mut LuaState,
        buff: *const c_char,
        sz: usize,
        name: *const c_char,
    ) -> c_int;
    pub fn luaL_where(l: *mut LuaState, lvl: c_int);

    // glue.c
    pub fn oxl_push_api_fn(l: *mut LuaState, fn_id: c_int, nup: c_int);
    pub fn oxl_sethook(l: *mut LuaState, mode: c_int, count: c_int);
    pub fn oxl_rawset(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn oxl_rawseti(l: *mut LuaState, idx: c_int, n: c_int) -> c_int;
    pub fn oxl_setmetatable(l: *mut LuaState, idx: c_int) -> c_int;
    pub fn oxl_open_libs(l: *mut LuaState);
    pub fn oxl_atpanic(l: *mut LuaState);
    pub fn oxl_gc_hold(l: *mut LuaState) -> usize;
    pub fn oxl_gc_release(l: *mut LuaState, threshold: usize);
    pub fn oxl_gc_collect(l: *mut LuaState) -> c_int;
}
