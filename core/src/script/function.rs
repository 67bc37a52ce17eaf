//! Redis 7.0 functions (functions.c and function_lua.c): libraries loaded with FUNCTION LOAD
//! from code that starts with `#!lua name=<library>`, whose top level registers functions with
//! `redis.register_function`; FCALL/FCALL_RO run them with their keys and arguments as two
//! tables. The function engine has its own Lua state, set up as luaEngineInitEngine does: the
//! real globals are reached through the `__index` of an empty, readonly globals table, which
//! points at a restricted API (register_function, log, the version) while library code loads
//! and at the full globals while functions run.
//!
//! Libraries are kept in load order (Redis keeps them in a dict, so its order with two or more
//! is arbitrary); function names are looked up without regard to case, as Redis's dict does.

use super::api::{self, push_error};
use super::eval::{self, protect_recursively, set_error_metatable, sflags, Run};
use super::vm::{ApiFn, ApiResult, HookMode, LuaStack, LuaType, ScriptHost, ScriptVm};
use super::vm::{ScriptVmFactory, GLOBALS_INDEX, REGISTRY_INDEX};
use super::ScriptEnv;
use crate::command::CmdError;
use crate::engine::{Client, ClientHandle, Server};
use crate::time::UnixMillis;

/// FUNCTION LOAD's time limit for running the library code (functions.c LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT_MS: u64 = 500;
/// Registry keys (function_lua.c's, and ours for the registered callbacks).
const LIBRARY_API: &[u8] = b"__LIBRARY_API__";
const GLOBALS_API: &[u8] = b"__GLOBALS_API__";
const CALLBACKS: &[u8] = b"__OXIDIS_FUNCTIONS__";

/// One registered function.
pub(crate) struct Function {
    pub name: Vec<u8>,
    pub desc: Option<Vec<u8>>,
    pub flags: u32,
    /// Index of its callback in the registry's callbacks table.
    cb: i32,
}

/// One library: its name, its whole code (shebang included: what LIST WITHCODE, DUMP and the
/// RDB show) and its functions in registration order.
pub(crate) struct Library {
    pub name: Vec<u8>,
    pub code: Vec<u8>,
    pub functions: Vec<Function>,
}

/// The libraries and the function engine's Lua state (made on first use).
#[derive(Default)]
pub(crate) struct Functions {
    vm: Option<Box<dyn ScriptVm>>,
    pub libs: Vec<Library>,
    next_cb: i32,
}

impl Functions {
    /// The function of that name, in any library (case-insensitive).
    pub fn find(&self, name: &[u8]) -> Option<&Function> {
        self.libs
            .iter()
            .flat_map(|l| l.functions.iter())
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The function engine's Lua state's bytes (0 before its first use).
    pub fn used_memory(&self) -> usize {
        self.vm.as_ref().map_or(0, |vm| vm.used_memory())
    }

    pub fn functions_count(&self) -> usize {
        self.libs.iter().map(|l| l.functions.len()).sum()
    }

    /// Library codes, for the RDB and FUNCTION DUMP.
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.libs.iter().map(|l| l.code.clone()).collect()
    }

    fn take_vm(&mut self, factory: Option<&dyn ScriptVmFactory>) -> Option<Box<dyn ScriptVm>> {
        if let Some(vm) = self.vm.take() {
            return Some(vm);
        }
        Some(new_vm(factory?))
    }

    /// Frees libraries' callbacks in the Lua state (lua_unref).
    fn release(&mut self, libs: Vec<Library>) {
        if let Some(vm) = self.vm.as_mut() {
            drop_callbacks(vm.stack(), &libs);
        }
    }

    /// FUNCTION FLUSH.
    pub fn flush(&mut self) {
        let libs = std::mem::take(&mut self.libs);
        self.release(libs);
    }

    /// FUNCTION DELETE: false when there is no such library.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        let Some(i) = self.libs.iter().position(|l| l.name == name) else {
            return false;
        };
        let lib = self.libs.remove(i);
        self.release(vec![lib]);
        true
    }
}

/// Frees the callbacks of `libs` in the Lua state.
fn drop_callbacks(st: &mut dyn LuaStack, libs: &[Library]) {
    st.raw_get_field(REGISTRY_INDEX, CALLBACKS);
    for f in libs.iter().flat_map(|l| l.functions.iter()) {
        st.push_nil();
        st.raw_set_i(-2, f.cb);
    }
    st.pop(1);
}

/// luaEngineInitEngine: the function engine's Lua state.
fn new_vm(factory: &dyn ScriptVmFactory) -> Box<dyn ScriptVm> {
    let mut vm = eval::base_vm(factory, false);
    let st = vm.stack();
    st.new_table(0, 0);
    st.raw_set_field(REGISTRY_INDEX, CALLBACKS);
    // The globals library code sees while it loads: a `redis` table with register_function,
    // log and the version only; anything else is a nonexistent global.
    st.new_table(0, 1);
    st.new_table(0, 8);
    st.push_api_fn(api::REGISTER_FUNCTION, 0);
    st.raw_set_field(-2, b"register_function");
    api::register_log_and_version(st);
    set_error_metatable(st);
    st.raw_set_field(-2, b"redis");
    set_error_metatable(st);
    protect_recursively(st);
    st.raw_set_field(REGISTRY_INDEX, LIBRARY_API);
    eval::run_setup(&mut *vm, eval::FUNCTION_ERR_HANDLER_SRC, 1);
    let st = vm.stack();
    st.raw_set_field(REGISTRY_INDEX, eval::ERR_HANDLER);
    st.push_value(GLOBALS_INDEX);
    set_error_metatable(st);
    protect_recursively(st);
    st.pop(1);
    st.push_value(GLOBALS_INDEX);
    st.raw_set_field(REGISTRY_INDEX, GLOBALS_API);
    // New, empty globals whose metatable reaches the real ones.
    st.new_table(0, 0);
    st.new_table(0, 1);
    st.push_value(GLOBALS_INDEX);
    st.raw_set_field(-2, b"__index");
    st.set_readonly(-1, true);
    st.set_metatable(-2);
    st.set_readonly(-1, true);
    st.replace(GLOBALS_INDEX);
    vm
}

/// functionsVerifyName: `[a-zA-Z0-9_]+`.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

const BAD_NAME: &[u8] = b"Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

fn err(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A library's shebang, parsed: engine, library name, the code after the shebang line.
#[derive(Debug)]
struct Metadata<'a> {
    engine: Vec<u8>,
    name: Vec<u8>,
    body: &'a [u8],
}

/// functionExtractLibMetaData.
fn metadata(code: &[u8]) -> Result<Metadata<'_>, Vec<u8>> {
    if !code.starts_with(b"#!") {
        return Err(b"Missing library metadata".to_vec());
    }
    let Some(nl) = memchr::memchr(b'\n', code) else {
        return Err(b"Invalid library metadata".to_vec());
    };
    let mut parts = Vec::new();
    if !crate::resp::split_args(&code[..nl], &mut parts) || parts.is_empty() {
        return Err(b"Invalid library metadata".to_vec());
    }
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    b"Invalid metadata value, name argument was given multiple times".to_vec(),
                );
            }
            name = Some(p[5..].to_vec());
            continue;
        }
        return Err(err(&[b"Invalid metadata value given: ", p]));
    }
    let Some(name) = name else {
        return Err(b"Library name was not given".to_vec());
    };
    Ok(Metadata {
        engine,
        name,
        body: &code[nl..],
    })
}

/// register_function's arguments: name, description, callback, flags.
type FunctionArgs = (Vec<u8>, Option<Vec<u8>>, i32, u32);

/// What a library's top level reaches while it loads: register_function (into `functions`),
/// redis.log, the nonexistent-global error; the load timeout in the hook.
struct LoadCtx<'a> {
    functions: Vec<Function>,
    next_cb: &'a mut i32,
    env: Option<&'a mut Box<dyn ScriptEnv>>,
    start: Option<UnixMillis>,
}

impl LoadCtx<'_> {
    /// Keeps the function at `idx` in the callbacks table; returns its index there.
    fn keep_callback(&mut self, st: &mut dyn LuaStack, idx: i32) -> i32 {
        let idx = st.abs_index(idx);
        *self.next_cb += 1;
        let cb = *self.next_cb;
        st.raw_get_field(REGISTRY_INDEX, CALLBACKS);
        st.push_value(idx);
        st.raw_set_i(-2, cb);
        st.pop(1);
        cb
    }

    fn drop_callback(st: &mut dyn LuaStack, cb: i32) {
        st.raw_get_field(REGISTRY_INDEX, CALLBACKS);
        st.push_nil();
        st.raw_set_i(-2, cb);
        st.pop(1);
    }

    /// A string argument as luaGetStringSds takes it (numbers too), without converting a
    /// table key in place (which would confuse `next`).
    fn string_at(st: &mut dyn LuaStack, idx: i32) -> Option<Vec<u8>> {
        if !st.is_string(idx) {
            return None;
        }
        st.push_value(idx);
        let s = st.to_bytes(-1).map(<[u8]>::to_vec);
        st.pop(1);
        s
    }

    /// luaRegisterFunctionReadFlags on the table on top.
    fn read_flags(st: &mut dyn LuaStack) -> Option<u32> {
        let mut flags = 0;
        let mut j = 1;
        loop {
            st.raw_get_i(-1, j);
            j += 1;
            if st.type_of(-1) == LuaType::Nil {
                st.pop(1);
                return Some(flags);
            }
            let f = Self::string_at(st, -1);
            st.pop(1);
            let f = f?;
            let (_, bit) = sflags::NAMES
                .iter()
                .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(&f))?;
            flags |= bit;
        }
    }

    /// luaRegisterFunctionReadNamedArgs: (name, description, callback, flags).
    fn named_args(&mut self, st: &mut dyn LuaStack) -> Result<FunctionArgs, &'static [u8]> {
        if st.type_of(1) != LuaType::Table {
            return Err(b"calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
        }
        let (mut name, mut desc, mut cb, mut flags) = (None, None, None, 0);
        let r = (|| {
            st.push_nil();
            while st.next(1) {
                let Some(key) = Self::string_at(st, -2) else {
                    return Err(
                        &b"named argument key given to redis.register_function is not a string"[..],
                    );
                };
                if key.eq_ignore_ascii_case(b"function_name") {
                    name = Some(Self::string_at(st, -1).ok_or(
                        &b"function_name argument given to redis.register_function must be a string"[..],
                    )?);
                } else if key.eq_ignore_ascii_case(b"description") {
                    desc = Some(Self::string_at(st, -1).ok_or(
                        &b"description argument given to redis.register_function must be a string"
                            [..],
                    )?);
                } else if key.eq_ignore_ascii_case(b"callback") {
                    if st.type_of(-1) != LuaType::Function {
                        return Err(&b"callback argument given to redis.register_function must be a function"[..]);
                    }
                    if let Some(old) = cb.replace(self.keep_callback(st, -1)) {
                        Self::drop_callback(st, old);
                    }
                } else if key.eq_ignore_ascii_case(b"flags") {
                    if st.type_of(-1) != LuaType::Table {
                        return Err(&b"flags argument to redis.register_function must be a table representing function flags"[..]);
                    }
                    flags = Self::read_flags(st).ok_or(&b"unknown flag given"[..])?;
                } else {
                    return Err(&b"unknown argument given to redis.register_function"[..]);
                }
                st.pop(1);
            }
            Ok(())
        })();
        let r = r.and_then(|()| {
            let name = name
                .take()
                .ok_or(&b"redis.register_function must get a function name argument"[..])?;
            let cb = cb
                .take()
                .ok_or(&b"redis.register_function must get a callback argument"[..])?;
            Ok((name, desc.take(), cb, flags))
        });
        if r.is_err() {
            if let Some(cb) = cb {
                Self::drop_callback(st, cb);
            }
        }
        r
    }

    /// luaRegisterFunction.
    fn register_function(&mut self, st: &mut dyn LuaStack) -> ApiResult {
        let argc = st.top();
        let args = match argc {
            1 => self.named_args(st),
            2 => match Self::string_at(st, 1) {
                None => Err(&b"first argument to redis.register_function must be a string"[..]),
                Some(_) if st.type_of(2) != LuaType::Function => {
                    Err(&b"second argument to redis.register_function must be a function"[..])
                }
                Some(name) => Ok((name, None, self.keep_callback(st, 2), 0)),
            },
            _ => Err(&b"wrong number of arguments to redis.register_function"[..]),
        };
        let (name, desc, cb, flags) = match args {
            Ok(a) => a,
            Err(m) => return api::raise_table(st, m),
        };
        // functionLibCreateFunction.
        let e: &[u8] = if !valid_name(&name) {
            BAD_NAME
        } else if self.functions.iter().any(|f| f.name == name) {
            b"Function already exists in the library"
        } else {
            self.functions.push(Function {
                name,
                desc,
                flags,
                cb,
            });
            return ApiResult::Return(0);
        };
        Self::drop_callback(st, cb);
        api::raise_table(st, e)
    }
}

impl ScriptHost for LoadCtx<'_> {
    fn api(&mut self, f: ApiFn, st: &mut dyn LuaStack) -> ApiResult {
        match f {
            api::REGISTER_FUNCTION => self.register_function(st),
            api::LOG => api::log(st),
            api::GLOBAL_INDEX_ERR => api::global_index_err(st),
            _ => {
                st.push_bytes(b"not available while a library loads");
                ApiResult::Raise
            }
        }
    }

    /// luaEngineLoadHook: past the load timeout, the load fails (and cannot be caught).
    fn hook(&mut self, st: &mut dyn LuaStack) -> ApiResult {
        let (Some(env), Some(start)) = (self.env.as_mut(), self.start) else {
            return ApiResult::Return(0);
        };
        if env.now().0.saturating_sub(start.0) <= LOAD_TIMEOUT_MS {
            return ApiResult::Return(0);
        }
        st.set_hook(HookMode::EveryLine);
        push_error(st, b"FUNCTION LOAD timeout");
        ApiResult::Raise
    }
}

/// Points the globals' `__index` at the registry's `api` table (function_lua.c swaps it around
/// a load; like Redis, it re-protects the globals rather than their metatable).
fn set_globals_index(st: &mut dyn LuaStack, api: &[u8]) {
    st.get_metatable(GLOBALS_INDEX);
    st.set_readonly(-1, false);
    st.raw_get_field(REGISTRY_INDEX, api);
    st.raw_set_field(-2, b"__index");
    st.set_readonly(GLOBALS_INDEX, true);
    st.pop(1);
}

/// luaExtractErrorInformation's message, for an error without a handler.
fn load_error_text(st: &mut dyn LuaStack) -> Vec<u8> {
    if st.is_string(-1) {
        let m = st.to_bytes(-1).unwrap_or_default().to_vec();
        return err(&[b"ERR ", &m]);
    }
    if st.type_of(-1) == LuaType::Table {
        st.raw_get_field(-1, b"err");
        let m = st
            .is_string(-1)
            .then(|| st.to_bytes(-1).unwrap_or_default().to_vec());
        st.pop(1);
        if let Some(m) = m {
            return m;
        }
    }
    b"(null)".to_vec()
}

/// luaEngineCreate: compiles the code and runs it to register its functions.
fn engine_create(vm: &mut dyn ScriptVm, ctx: &mut LoadCtx<'_>, body: &[u8]) -> Result<(), Vec<u8>> {
    set_globals_index(vm.stack(), LIBRARY_API);
    let r = (|| {
        if let Err(m) = vm.load(body, "@user_function") {
            return Err(err(&[b"Error compiling function: ", &m]));
        }
        if ctx.env.is_some() && ctx.start.is_some() {
            vm.stack().set_hook(HookMode::EveryInstructions(100_000));
        }
        if vm.pcall(0, 0, 0, ctx).is_err() {
            let st = vm.stack();
            let m = load_error_text(st);
            st.pop(1);
            return Err(err(&[b"Error registering functions: ", &m]));
        }
        Ok(())
    })();
    let st = vm.stack();
    set_globals_index(st, GLOBALS_API);
    st.set_hook(HookMode::Off);
    r
}

/// Where a library is created: the function engine's state and the host clock (for the load
/// timeout; None while loading persisted data, as Redis has no timeout there).
struct Creator<'a> {
    vm: &'a mut dyn ScriptVm,
    next_cb: &'a mut i32,
    env: Option<&'a mut Box<dyn ScriptEnv>>,
}

impl Creator<'_> {
    /// functionsCreateWithLibraryCtx: loads `code` into `libs`; returns the library's name.
    /// On error `libs` is as it was. Replaced libraries are returned in `replaced`.
    fn create(
        &mut self,
        libs: &mut Vec<Library>,
        code: &[u8],
        replace: bool,
        replaced: &mut Vec<Library>,
    ) -> Result<Vec<u8>, Vec<u8>> {
        let Metadata { engine, name, body } = metadata(code)?;
        if !valid_name(&name) {
            return Err(BAD_NAME.to_vec());
        }
        if !engine.eq_ignore_ascii_case(b"lua") {
            return Err(err(&[b"Engine '", &engine, b"' not found"]));
        }
        let old = libs.iter().position(|l| l.name == name);
        if old.is_some() && !replace {
            return Err(err(&[b"Library '", &name, b"' already exists"]));
        }
        let old = old.map(|i| (i, libs.remove(i)));
        let start = self.env.as_mut().map(|e| e.now());
        let mut ctx = LoadCtx {
            functions: Vec::new(),
            next_cb: self.next_cb,
            env: self.env.as_deref_mut(),
            start,
        };
        let mut r = engine_create(self.vm, &mut ctx, body);
        let functions = ctx.functions;
        if r.is_ok() && functions.is_empty() {
            r = Err(b"No functions registered".to_vec());
        }
        if r.is_ok() {
            if let Some(f) = functions.iter().find(|f| {
                libs.iter()
                    .flat_map(|l| l.functions.iter())
                    .any(|g| g.name.eq_ignore_ascii_case(&f.name))
            }) {
                r = Err(err(&[b"Function ", &f.name, b" already exists"]));
            }
        }
        let new = Library {
            name: name.clone(),
            code: code.to_vec(),
            functions,
        };
        match r {
            Ok(()) => {
                libs.push(new);
                replaced.extend(old.map(|(_, l)| l));
                Ok(name)
            }
            Err(e) => {
                drop_callbacks(self.vm.stack(), std::slice::from_ref(&new));
                if let Some((i, l)) = old {
                    libs.insert(i, l);
                }
                Err(e)
            }
        }
    }
}

/// Runs `f` with a Creator over the server's function engine.
fn with_creator<R>(
    srv: &mut Server,
    timeout: bool,
    f: impl FnOnce(&mut Creator<'_>, &mut Vec<Library>) -> R,
) -> Result<R, CmdError> {
    let st = &mut srv.script;
    let mut vm = st
        .functions
        .take_vm(st.factory.as_deref())
        .ok_or_else(eval::no_vm_error)?;
    vm.set_memory_limit(eval::lua_memory_limit(&srv.config));
    let st = &mut srv.script;
    let mut libs = std::mem::take(&mut st.functions.libs);
    let mut c = Creator {
        vm: &mut *vm,
        next_cb: &mut st.functions.next_cb,
        env: if timeout { st.env.as_mut() } else { None },
    };
    let r = f(&mut c, &mut libs);
    st.functions.libs = libs;
    st.functions.vm = Some(vm);
    Ok(r)
}

/// FUNCTION LOAD [REPLACE] code: the library's name. `timeout` is false for what the server
/// must obey (the AOF), as Redis's mustObeyClient.
pub(crate) fn load(
    srv: &mut Server,
    code: &[u8],
    replace: bool,
    timeout: bool,
) -> Result<Vec<u8>, CmdError> {
    let mut replaced = Vec::new();
    let r = with_creator(srv, timeout, |c, libs| {
        c.create(libs, code, replace, &mut replaced)
    })?;
    srv.script.functions.release(replaced);
    r.map_err(CmdError::err)
}

/// How RESTORE and loading join new libraries with the current ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Flush,
    Append,
    Replace,
}

/// Creates libraries from their codes into a fresh set (rdbFunctionLoad into a new library
/// context): nothing changes on error.
pub(crate) fn create_all(srv: &mut Server, codes: &[Vec<u8>]) -> Result<Vec<Library>, CmdError> {
    let mut out = Vec::new();
    if codes.is_empty() {
        return Ok(out);
    }
    let mut replaced = Vec::new();
    let r: Result<(), Vec<u8>> = with_creator(srv, false, |c, _| {
        for code in codes {
            c.create(&mut out, code, false, &mut replaced)?;
        }
        Ok(())
    })?;
    if let Err(e) = r {
        srv.script.functions.release(out);
        return Err(CmdError::err(e));
    }
    Ok(out)
}

/// libraryJoin's checks: the error text when `new` cannot join the current libraries.
pub(crate) fn join_error(srv: &Server, new: &[Library], policy: Policy) -> Option<Vec<u8>> {
    if policy == Policy::Flush {
        return None;
    }
    let cur = &srv.script.functions.libs;
    if policy == Policy::Append {
        if let Some(l) = new.iter().find(|l| cur.iter().any(|c| c.name == l.name)) {
            return Some(err(&[b"Library ", &l.name, b" already exists"]));
        }
    }
    let kept = cur.iter().filter(|c| !new.iter().any(|l| l.name == c.name));
    for f in new.iter().flat_map(|l| l.functions.iter()) {
        if kept
            .clone()
            .flat_map(|l| l.functions.iter())
            .any(|g| g.name.eq_ignore_ascii_case(&f.name))
        {
            return Some(err(&[b"Function ", &f.name, b" already exists"]));
        }
    }
    None
}

/// Installs libraries that passed `join_error`.
pub(crate) fn install(srv: &mut Server, new: Vec<Library>, policy: Policy) {
    let fs = &mut srv.script.functions;
    let old = if policy == Policy::Flush {
        std::mem::take(&mut fs.libs)
    } else {
        let (gone, kept) = std::mem::take(&mut fs.libs)
            .into_iter()
            .partition(|c| new.iter().any(|l| l.name == c.name));
        fs.libs = kept;
        gone
    };
    fs.libs.extend(new);
    fs.release(old);
}

/// Drops libraries that were created but not installed.
pub(crate) fn discard(srv: &mut Server, libs: Vec<Library>) {
    srv.script.functions.release(libs);
}

/// fcallCommandGeneric: FCALL / FCALL_RO function numkeys [key ...] [arg ...].
pub(crate) fn fcall(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    args: &[&[u8]],
    ro: bool,
) -> Result<(), CmdError> {
    let Some(f) = srv.script.functions.find(args[1]) else {
        return Err(CmdError::err("Function not found"));
    };
    let (name, flags, cb) = (f.name.clone(), f.flags, f.cb);
    let numkeys = crate::command::parse_int(args[2])
        .map_err(|_| CmdError::err("Bad number of keys provided"))?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    eval::check_ro(flags, ro)?;
    eval::check_oom(srv, flags)?;
    let st = &mut srv.script;
    let mut vm = st
        .functions
        .take_vm(st.factory.as_deref())
        .ok_or_else(eval::no_vm_error)?;
    {
        let st = vm.stack();
        st.raw_get_field(REGISTRY_INDEX, eval::ERR_HANDLER);
        st.raw_get_field(REGISTRY_INDEX, CALLBACKS);
        st.raw_get_i(-1, cb);
        st.remove(-2);
        for items in [keys, argv] {
            st.new_table(items.len() as i32, 0);
            for (i, a) in items.iter().enumerate() {
                st.push_bytes(a);
                st.raw_set_i(-2, i as i32 + 1);
            }
        }
    }
    let run = Run {
        name: &name,
        flags,
        ro,
        nargs: 2,
        function: Some(args.iter().map(|a| a.to_vec()).collect()),
    };
    eval::run_pushed(now, srv, clients, caller, &mut *vm, run);
    srv.script.functions.vm = Some(vm);
    Ok(())
}

/// FUNCTION LIST's flag names for `flags`, in Redis's order.
pub(crate) fn flag_names(flags: u32) -> impl Iterator<Item = &'static str> {
    sflags::NAMES
        .iter()
        .filter(move |(_, b)| flags & b != 0)
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parses_as_functions_c() {
        let m = metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!(
            (&m.engine[..], &m.name[..], m.body),
            (&b"lua"[..], &b"mylib"[..], &b"\nreturn 1"[..])
        );
        assert_eq!(
            metadata(b"return 1").unwrap_err(),
            b"Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua name=x").unwrap_err(),
            b"Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua foo=bar\n").unwrap_err(),
            b"Invalid metadata value given: foo=bar"
        );
        assert!(valid_name(b"lib_9") && !valid_name(b"") && !valid_name(b"a-b"));
    }
}
