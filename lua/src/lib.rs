//! oxidis-lua: PUC-Rio Lua 5.1.5 with Redis's patches (vendor/PATCHES.md), built from C for the
//! native server and for wasm32-unknown-unknown, behind oxidis-core's script VM interface
//! (`oxidis_core::script`). [`LuaVm`] is one `lua_State`; [`LuaVmFactory`] makes them.
//!
//! What this crate owns, and nothing Redis-specific beyond the C patches:
//! - the allocator: every byte the state holds is counted (`used_memory`), and allocations made
//!   by Lua code inside `load`/`pcall` past the limit fail (`not enough memory`, the state
//!   stays usable). Allocations made while a host callback runs are never refused, so no Lua
//!   error is ever raised across a Rust frame; the next allocation by Lua code fails instead.
//! - API functions and the hook: C trampolines (glue.c) call into Rust, which returns a status;
//!   `lua_error` runs in C after the Rust frame has returned. A Rust panic in a callback is
//!   caught and becomes a Lua error (on wasm32 a panic aborts, as everywhere there).
//! - the readonly-table and raising C functions are wrapped so that the interface's methods
//!   report instead of raising (`raw_set` returns false on a readonly table).
//! - the garbage collector steps only while Lua code runs inside `load`/`pcall` with no host
//!   callback running (glue.c `oxl_gc_hold`): a `__gc` finalizer may raise, and that raise must
//!   neither cross a Rust frame nor happen outside a protected call. `gc_collect` is protected.

mod ffi;

use ffi::LuaState;
use oxidis_core::script::{
    ApiFn, ApiResult, HookMode, LuaStack, LuaType, PcallError, ScriptHost, ScriptVm,
    ScriptVmFactory, GLOBALS_INDEX,
};
use std::alloc::Layout;
use std::ffi::{c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// State shared by the allocator and the callbacks of one `lua_State` (its allocator's `ud`).
struct Shared {
    used: usize,
    limit: usize,
    /// The limit applies: inside `load`/`pcall` while no host callback runs.
    enforce: bool,
    /// The host of the running `pcall`, lifetime erased: set only for its duration.
    host: Option<*mut (dyn ScriptHost + 'static)>,
}

/// Lua code runs: the limit applies and the collector may step again from the threshold
/// `held` that [`leave_lua`] returned (see the crate doc).
unsafe fn enter_lua(l: *mut LuaState, shared: *mut Shared, held: usize) {
    (*shared).enforce = true;
    ffi::oxl_gc_release(l, held);
}

/// Host code runs again: no limit, collector held; returns the collector's threshold.
unsafe fn leave_lua(l: *mut LuaState, shared: *mut Shared) -> usize {
    (*shared).enforce = false;
    ffi::oxl_gc_hold(l)
}

/// Lua's allocations are aligned as malloc's.
const ALIGN: usize = 16;

/// `lua_Alloc`: counts every byte and applies the limit (see the crate doc).
unsafe extern "C" fn lua_alloc(
    ud: *mut c_void,
    p: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    let s = &mut *(ud as *mut Shared);
    if nsize == 0 {
        if !p.is_null() {
            std::alloc::dealloc(p.cast(), Layout::from_size_align_unchecked(osize, ALIGN));
            s.used -= osize;
        }
        return ptr::null_mut();
    }
    let old = if p.is_null() { 0 } else { osize };
    if s.enforce && nsize > old && s.used - old + nsize > s.limit {
        return ptr::null_mut();
    }
    let Ok(layout) = Layout::from_size_align(nsize, ALIGN) else {
        return ptr::null_mut();
    };
    let q = if p.is_null() {
        std::alloc::alloc(layout)
    } else {
        std::alloc::realloc(
            p.cast(),
            Layout::from_size_align_unchecked(osize, ALIGN),
            nsize,
        )
    };
    if !q.is_null() {
        s.used = s.used - old + nsize;
    }
    q.cast()
}

unsafe fn shared_of(l: *mut LuaState) -> *mut Shared {
    let mut ud = ptr::null_mut();
    ffi::lua_getallocf(l, &mut ud);
    ud.cast()
}

/// Runs a host callback with the limit suspended and panics caught; -1 = raise the top.
unsafe fn call_host(
    l: *mut LuaState,
    f: impl FnOnce(&mut dyn ScriptHost, &mut dyn LuaStack) -> ApiResult,
) -> c_int {
    let shared = shared_of(l);
    let Some(host) = (*shared).host else {
        let msg = b"oxidis-lua: a host callback ran outside pcall";
        ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
        return -1;
    };
    let held = leave_lua(l, shared);
    let mut stack = Stack { l };
    let r = catch_unwind(AssertUnwindSafe(|| f(&mut *host, &mut stack)));
    enter_lua(l, shared, held);
    match r {
        Ok(ApiResult::Return(n)) => n,
        Ok(ApiResult::Raise) => -1,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            let msg = format!("ERR a bug in a script callback (Rust panic): {what}");
            ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
            -1
        }
    }
}

/// glue.c's trampoline for every API function.
#[no_mangle]
unsafe extern "C" fn oxl_rust_api(l: *mut LuaState, fn_id: c_int) -> c_int {
    call_host(l, |host, stack| host.api(ApiFn(fn_id as u16), stack))
}

/// glue.c's hook.
#[no_mangle]
unsafe extern "C" fn oxl_rust_hook(l: *mut LuaState) -> c_int {
    match call_host(l, |host, stack| host.hook(stack)) {
        n if n < 0 => -1,
        _ => 0,
    }
}

/// Lua's panic function: an error outside any protected call, which this crate never makes
/// (every entry that runs Lua code is `load` or `pcall`). A bug: abort with its message.
#[no_mangle]
unsafe extern "C" fn oxl_rust_panic(l: *mut LuaState) -> c_int {
    let msg = Stack { l }
        .to_bytes(-1)
        .map(|b| String::from_utf8_lossy(b).into_owned());
    panic!("oxidis-lua: Lua error outside a protected call: {msg:?}");
}

/// One Lua thread's stack, over its `lua_State`.
struct Stack {
    l: *mut LuaState,
}

impl LuaStack for Stack {
    fn top(&self) -> i32 {
        unsafe { ffi::lua_gettop(self.l) }
    }
    fn set_top(&mut self, idx: i32) {
        unsafe { ffi::lua_settop(self.l, idx) }
    }
    fn check_stack(&mut self, n: i32) -> bool {
        unsafe { ffi::lua_checkstack(self.l, n) != 0 }
    }
    fn push_value(&mut self, idx: i32) {
        unsafe { ffi::lua_pushvalue(self.l, idx) }
    }
    fn insert(&mut self, idx: i32) {
        unsafe { ffi::lua_insert(self.l, idx) }
    }
    fn remove(&mut self, idx: i32) {
        unsafe { ffi::lua_remove(self.l, idx) }
    }
    fn replace(&mut self, idx: i32) {
        unsafe { ffi::lua_replace(self.l, idx) }
    }
    fn type_of(&self, idx: i32) -> LuaType {
        LuaType::from_code(unsafe { ffi::lua_type(self.l, idx) })
    }
    fn to_number(&self, idx: i32) -> f64 {
        unsafe { ffi::lua_tonumber(self.l, idx) }
    }
    fn to_boolean(&self, idx: i32) -> bool {
        unsafe { ffi::lua_toboolean(self.l, idx) != 0 }
    }
    fn to_bytes(&mut self, idx: i32) -> Option<&[u8]> {
        let mut len = 0;
        let p = unsafe { ffi::lua_tolstring(self.l, idx, &mut len) };
        // The string lives in the Lua stack slot, which this borrow of the stack keeps.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
    }
    fn is_number(&self, idx: i32) -> bool {
        unsafe { ffi::lua_isnumber(self.l, idx) != 0 }
    }
    fn is_string(&self, idx: i32) -> bool {
        unsafe { ffi::lua_isstring(self.l, idx) != 0 }
    }
    fn obj_len(&self, idx: i32) -> usize {
        unsafe { ffi::lua_objlen(self.l, idx) }
    }
    fn push_nil(&mut self) {
        unsafe { ffi::lua_pushnil(self.l) }
    }
    fn push_boolean(&mut self, b: bool) {
        unsafe { ffi::lua_pushboolean(self.l, b as c_int) }
    }
    fn push_number(&mut self, n: f64) {
        unsafe { ffi::lua_pushnumber(self.l, n) }
    }
    fn push_bytes(&mut self, s: &[u8]) {
        unsafe { ffi::lua_pushlstring(self.l, s.as_ptr().cast(), s.len()) }
    }
    fn push_light_userdata_null(&mut self) {
        unsafe { ffi::lua_pushlightuserdata(self.l, ptr::null_mut()) }
    }
    fn push_api_fn(&mut self, f: ApiFn, upvalues: i32) {
        unsafe { ffi::oxl_push_api_fn(self.l, c_int::from(f.0), upvalues) }
    }
    fn upvalue_index(&self, n: i32) -> i32 {
        // Upvalue 1 of every trampoline is the function's number (glue.c).
        GLOBALS_INDEX - (n + 1)
    }
    fn new_table(&mut self, narr: i32, nrec: i32) {
        unsafe { ffi::lua_createtable(self.l, narr, nrec) }
    }
    fn raw_get(&mut self, idx: i32) {
        unsafe { ffi::lua_rawget(self.l, idx) }
    }
    fn raw_set(&mut self, idx: i32) -> bool {
        unsafe { ffi::oxl_rawset(self.l, idx) != 0 }
    }
    fn raw_get_i(&mut self, idx: i32, n: i32) {
        unsafe { ffi::lua_rawgeti(self.l, idx, n) }
    }
    fn raw_set_i(&mut self, idx: i32, n: i32) -> bool {
        unsafe { ffi::oxl_rawseti(self.l, idx, n) != 0 }
    }
    fn next(&mut self, idx: i32) -> bool {
        unsafe { ffi::lua_next(self.l, idx) != 0 }
    }
    fn get_metatable(&mut self, idx: i32) -> bool {
        unsafe { ffi::lua_getmetatable(self.l, idx) != 0 }
    }
    fn set_metatable(&mut self, idx: i32) -> bool {
        unsafe { ffi::oxl_setmetatable(self.l, idx) != 0 }
    }
    fn set_readonly(&mut self, idx: i32, on: bool) {
        if self.type_of(idx) == LuaType::Table {
            unsafe { ffi::lua_enablereadonlytable(self.l, idx, on as c_int) }
        }
    }
    fn is_readonly(&self, idx: i32) -> bool {
        self.type_of(idx) == LuaType::Table && unsafe { ffi::lua_isreadonlytable(self.l, idx) != 0 }
    }
    fn where_(&mut self, level: i32) -> Vec<u8> {
        unsafe { ffi::luaL_where(self.l, level) };
        let w = self.to_bytes(-1).unwrap_or_default().to_vec();
        self.pop(1);
        w
    }
    fn set_hook(&mut self, mode: HookMode) {
        let (m, count) = match mode {
            HookMode::Off => (0, 0),
            HookMode::EveryInstructions(n) => (1, n.clamp(1, i32::MAX as u32) as c_int),
            HookMode::EveryLine => (2, 0),
        };
        unsafe { ffi::oxl_sethook(self.l, m, count) }
    }
}

/// One `lua_State` with its allocator: the core's `ScriptVm`.
pub struct LuaVm {
    stack: Stack,
    shared: *mut Shared,
    /// The collector's threshold while host code holds it (`oxl_gc_hold`).
    gc_held: usize,
}

impl LuaVm {
    /// A fresh state with no library opened and no memory limit.
    pub fn new() -> LuaVm {
        let shared = Box::into_raw(Box::new(Shared {
            used: 0,
            limit: usize::MAX,
            enforce: false,
            host: None,
        }));
        let l = unsafe { ffi::lua_newstate(lua_alloc, shared.cast()) };
        assert!(!l.is_null(), "lua_newstate: out of memory");
        unsafe { ffi::oxl_atpanic(l) };
        let gc_held = unsafe { ffi::oxl_gc_hold(l) };
        LuaVm {
            stack: Stack { l },
            shared,
            gc_held,
        }
    }

    fn shared(&mut self) -> &mut Shared {
        // SAFETY: owned by this VM until drop; the C side uses it only inside our calls.
        unsafe { &mut *self.shared }
    }
}

impl Default for LuaVm {
    fn default() -> Self {
        LuaVm::new()
    }
}

impl Drop for LuaVm {
    fn drop(&mut self) {
        unsafe {
            ffi::lua_close(self.stack.l);
            drop(Box::from_raw(self.shared));
        }
    }
}

impl ScriptVm for LuaVm {
    fn stack(&mut self) -> &mut dyn LuaStack {
        &mut self.stack
    }

    fn open_std_libs(&mut self) {
        unsafe { ffi::oxl_open_libs(self.stack.l) }
    }

    fn load(&mut self, body: &[u8], chunk_name: &str) -> Result<(), Vec<u8>> {
        let name = CString::new(chunk_name.replace('\0', "")).expect("no NUL left");
        let l = self.stack.l;
        let status = unsafe {
            enter_lua(l, self.shared, self.gc_held);
            let status = ffi::luaL_loadbuffer(l, body.as_ptr().cast(), body.len(), name.as_ptr());
            self.gc_held = leave_lua(l, self.shared);
            status
        };
        if status == 0 {
            return Ok(());
        }
        let msg = self.stack.to_bytes(-1).unwrap_or_default().to_vec();
        self.stack.pop(1);
        Err(msg)
    }

    fn pcall(
        &mut self,
        nargs: i32,
        nresults: i32,
        errfunc: i32,
        host: &mut dyn ScriptHost,
    ) -> Result<(), PcallError> {
        let host: *mut (dyn ScriptHost + '_) = host;
        // SAFETY: the pointer is stored only until lua_pcall returns, inside this borrow.
        let host: *mut (dyn ScriptHost + 'static) = unsafe { std::mem::transmute(host) };
        let prev = self.shared().host.replace(host);
        let l = self.stack.l;
        let status = unsafe {
            enter_lua(l, self.shared, self.gc_held);
            let status = ffi::lua_pcall(l, nargs, nresults, errfunc);
            self.gc_held = leave_lua(l, self.shared);
            status
        };
        self.shared().host = prev;
        match status {
            0 => Ok(()),
            4 => Err(PcallError::Memory),
            5 => Err(PcallError::ErrorHandler),
            _ => Err(PcallError::Runtime),
        }
    }

    fn used_memory(&self) -> usize {
        unsafe { (*self.shared).used }
    }

    fn set_memory_limit(&mut self, bytes: usize) {
        self.shared().limit = bytes;
    }

    fn gc_collect(&mut self) {
        // Protected (finalizers may raise; their errors are dropped). A full collection
        // resets the threshold: hold the new one.
        let l = self.stack.l;
        unsafe {
            ffi::oxl_gc_release(l, self.gc_held);
            ffi::oxl_gc_collect(l);
            self.gc_held = ffi::oxl_gc_hold(l);
        }
    }
}

/// Makes [`LuaVm`]s: what a host installs in the engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct LuaVmFactory;

impl ScriptVmFactory for LuaVmFactory {
    fn create(&self) -> Box<dyn ScriptVm> {
        Box::new(LuaVm::new())
    }
}
