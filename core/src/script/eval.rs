//! EVAL and its script cache, as Redis 7.0's eval.c: the EVAL Lua state and its setup
//! (`scriptingInit`: libraries, the `redis` table, the error handler, readonly globals with the
//! nonexistent-global error), `luaCreateFunction` (SHA1 names, `f_<sha>` in the registry,
//! shebang flags) and `evalGenericCommand` (KEYS/ARGV, the run, the reply or error text).

use super::api::{self, RunCtx};
use super::convert;
use super::vm::{ApiFn, ApiResult, ScriptHost, REGISTRY_INDEX};
use super::vm::{HookMode, LuaStack, LuaType, ScriptVm, ScriptVmFactory, GLOBALS_INDEX};
use crate::command::CmdError;
use crate::engine::{Client, ClientHandle, Server};
use crate::resp::ReplyWriter;
use crate::time::UnixMillis;
use std::collections::HashMap;

/// The registry key of the error handler (eval.c's REGISTRY_ERROR_HANDLER_NAME).
pub(crate) const ERR_HANDLER: &[u8] = b"__ERROR_HANDLER__";

/// The body of eval.c's (and function_lua.c's) error handler: it turns a string error into
/// `{err='ERR ...'}` and adds where it happened (the caller when the error came from a C
/// function such as redis.call).
macro_rules! err_handler_body {
    () => {
        concat!(
            "  local i = dbg.getinfo(2,'nSl')\n",
            "  if i and i.what == 'C' then\n",
            "    i = dbg.getinfo(3,'nSl')\n",
            "  end\n",
            "  if type(err) ~= 'table' then\n",
            "    err = {err='ERR ' .. tostring(err)}",
            "  end",
            "  if i then\n",
            "    err['source'] = i.source\n",
            "    err['line'] = i.currentline\n",
            "  end",
            "  return err\n",
            "end\n",
        )
    };
}

/// script_lua.c's luaRedisPcall, in Lua (the VM interface has no nested pcall): an error
/// table with a string `err` reaches the script as that string. Both Lua states have it.
macro_rules! pcall_override {
    () => {
        concat!(
            "local raw_pcall = pcall\n",
            "local function pcall_result(ok, ...)\n",
            "  if ok then return ok, ... end\n",
            "  local e = ...\n",
            "  if type(e) == 'table' then\n",
            "    local m = e.err\n",
            "    if type(m) == 'string' or type(m) == 'number' then e = m end\n",
            "  end\n",
            "  return false, e\n",
            "end\n",
            "pcall = function(...) return pcall_result(raw_pcall(...)) end\n",
        )
    };
}

/// eval.c's error handler, verbatim (a global, `__redis__err__handler`), and the pcall override.
const ERR_HANDLER_SRC: &str = concat!(
    "local dbg = debug\n",
    "debug = nil\n",
    "function __redis__err__handler(err)\n",
    err_handler_body!(),
    pcall_override!(),
);

/// function_lua.c's error handler (a local the chunk returns), and the pcall override.
pub(crate) const FUNCTION_ERR_HANDLER_SRC: &str = concat!(
    "local dbg = debug\n",
    "debug = nil\n",
    "local error_handler = function (err)\n",
    err_handler_body!(),
    pcall_override!(),
    "return error_handler",
);

/// Script flags from a `#!lua flags=...` shebang (eval.c's SCRIPT_FLAG_*).
pub(crate) mod sflags {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const EVAL_COMPAT_MODE: u32 = 1 << 4;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;

    /// Redis's scripts_flags_def, in its order (FUNCTION LIST lists flags in this order).
    pub const NAMES: &[(&str, u32)] = &[
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
    ];
}

/// One cached script.
pub(crate) struct Script {
    pub flags: u32,
}

/// Scripting state kept in the server: the host's VM factory, the EVAL state, the cache.
#[derive(Default)]
pub struct ScriptState {
    pub(crate) factory: Option<Box<dyn ScriptVmFactory>>,
    pub(crate) vm: Option<Box<dyn ScriptVm>>,
    /// Lowercase SHA1 hex -> script.
    pub(crate) cache: HashMap<Vec<u8>, Script>,
    /// The host's live clock and, natively, its way to serve other clients while a script is
    /// busy (None: scripts are never busy).
    pub(crate) env: Option<Box<dyn ScriptEnv>>,
    /// A script runs past busy-reply-threshold: other clients get BUSY.
    pub(crate) busy: bool,
    /// SCRIPT KILL (or SHUTDOWN NOSAVE) asked the busy script to stop.
    pub(crate) kill_requested: bool,
    /// The running script called a write command (SCRIPT KILL answers UNKILLABLE).
    pub(crate) wrote: bool,
    /// redisLrand48's state (rand.c), shared by every script and never reset, as in 7.0.
    pub(crate) rand48: Option<u64>,
    /// The script running now (set for the length of a run).
    pub(crate) running: Option<Running>,
    /// FUNCTION libraries and the function engine's Lua state (script/function.rs).
    pub(crate) functions: super::function::Functions,
    /// A `redis.call`'s arguments, end to end, and where each ends: buffers kept from call
    /// to call so that converting the arguments allocates nothing (script/api.rs).
    pub(crate) arg_bytes: Vec<u8>,
    pub(crate) arg_ends: Vec<usize>,
}

/// The script that runs now, as SCRIPT KILL, FUNCTION KILL/STATS and the BUSY reply see it.
pub(crate) struct Running {
    /// FCALL: (function name, the command's arguments); None for EVAL.
    pub function: Option<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Host wall time at the start and at the latest hook (None: no host clock).
    pub start: Option<UnixMillis>,
    pub last_now: Option<UnixMillis>,
}

/// What a host provides while a script runs (design §5.2): live wall time (the feed's `now`
/// stays frozen for the script's semantics) and, once the script is past
/// busy-reply-threshold, a chance to serve other clients through the gate, at most every
/// 100,000 VM instructions.
pub trait ScriptEnv {
    fn now(&mut self) -> UnixMillis;
    /// Poll I/O without blocking: feed what other clients sent to `gate`, write what it has for
    /// them; leave the caller (`gate.caller()`) alone. False when the host cannot serve others
    /// (the wasm engine): the script is then stopped at the threshold.
    fn serve_while_busy(&mut self, gate: &mut BusyGate<'_>) -> bool {
        let _ = gate;
        false
    }
}

/// A host clock alone (`Engine::set_script_clock`): no gate.
pub(crate) struct ClockEnv(pub Box<dyn FnMut() -> UnixMillis>);

impl ScriptEnv for ClockEnv {
    fn now(&mut self) -> UnixMillis {
        (self.0)()
    }
}

/// Other clients while a script is busy: their commands run through the ordinary dispatch,
/// which answers BUSY to all but the `allow-busy` ones (SCRIPT KILL, SHUTDOWN NOSAVE ...).
/// Nothing here touches the keyspace, and the hook never fires inside `redis.call`.
pub struct BusyGate<'a> {
    pub(crate) srv: &'a mut Server,
    pub(crate) clients: &'a mut slab::Slab<Client>,
    pub(crate) caller: ClientHandle,
    pub(crate) now: UnixMillis,
}

impl BusyGate<'_> {
    /// The client running the script: its input waits until the script ends.
    pub fn caller(&self) -> ClientHandle {
        self.caller
    }

    /// maxclients admission for a connection accepted while the script is busy, as
    /// `Engine::refuse_connection`.
    pub fn refuse_connection(&mut self) -> Option<&'static [u8]> {
        crate::engine::refuse_connection(self.srv, self.clients)
    }

    /// A connection accepted while the script is busy.
    pub fn connect(&mut self, info: crate::engine::ConnInfo) -> ClientHandle {
        crate::engine::connect(self.srv, self.clients, self.now, info)
    }

    /// Bytes from a client (not the caller): executed now.
    pub fn feed(&mut self, id: ClientHandle, bytes: &[u8]) {
        if id == self.caller {
            return;
        }
        // A blocked client's input waits in process_input, as on the ordinary path.
        if crate::engine::receive(self.srv, self.clients, self.now, id, bytes) {
            crate::engine::process_input(self.srv, self.clients, self.now, id);
        }
        if self.clients.get(id.0).is_some_and(|c| !c.out.is_empty()) {
            // Whatever the host cannot write now goes out after the script.
            self.srv.events.push_back(crate::engine::Event::Output(id));
        }
    }

    /// Moves the client's pending output into `out`.
    pub fn drain_output(&mut self, id: ClientHandle, out: &mut Vec<u8>) {
        if let Some(c) = self.clients.get_mut(id.0) {
            self.srv.stats.net_output_bytes += c.out.len() as u64;
            out.append(&mut c.out);
        }
    }

    /// Output the host could not send now: back to the front of the client's buffer.
    pub fn unsend(&mut self, id: ClientHandle, bytes: &[u8]) {
        if let Some(c) = self.clients.get_mut(id.0) {
            self.srv.stats.net_output_bytes -= bytes.len() as u64;
            c.out.splice(0..0, bytes.iter().copied());
        }
    }
}

/// Lowercase SHA1 hex of `b` (Redis's sha1hex).
pub fn sha1hex(b: &[u8]) -> [u8; 40] {
    let hex = sha1_smol::Sha1::from(b).digest().to_string();
    let mut out = [0u8; 40];
    out.copy_from_slice(hex.as_bytes());
    out
}

/// A host with nothing to do: for setup code, which calls no API function.
struct NoHost;
impl ScriptHost for NoHost {
    fn api(&mut self, _f: ApiFn, st: &mut dyn LuaStack) -> ApiResult {
        st.push_bytes(b"not available during setup");
        ApiResult::Raise
    }
    fn hook(&mut self, _st: &mut dyn LuaStack) -> ApiResult {
        ApiResult::Return(0)
    }
}

/// What both Lua states share (script_lua.c's luaRegisterRedisAPI): the standard and bundled
/// libraries, the globals Debian leaves out, the `redis` table (`eval` adds EVAL's extras).
pub(crate) fn base_vm(factory: &dyn ScriptVmFactory, eval: bool) -> Box<dyn ScriptVm> {
    let mut vm = factory.create();
    vm.open_std_libs();
    let st = vm.stack();
    super::lib::register(st);
    // What Debian's 7.0.15 leaves out of the base library (its globals are an allow-list).
    for f in [
        &b"loadfile"[..],
        b"dofile",
        b"print",
        b"getfenv",
        b"setfenv",
        b"newproxy",
    ] {
        st.push_nil();
        st.raw_set_field(GLOBALS_INDEX, f);
    }
    api::register(st, eval);
    vm
}

/// Runs setup code (which calls no API function), leaving `nresults` values on the stack.
pub(crate) fn run_setup(vm: &mut dyn ScriptVm, src: &str, nresults: i32) {
    if vm.load(src.as_bytes(), "@err_handler_def").is_ok()
        && vm.pcall(0, nresults, 0, &mut NoHost).is_err()
    {
        vm.stack().pop(1);
    }
}

/// luaSetErrorMetatable: reading a missing key of the table on top raises Redis's
/// nonexistent-global error.
pub(crate) fn set_error_metatable(st: &mut dyn LuaStack) {
    st.new_table(0, 1);
    st.push_api_fn(api::GLOBAL_INDEX_ERR, 0);
    st.raw_set_field(-2, b"__index");
    st.set_metatable(-2);
}

/// scriptingInit: a fresh EVAL state set up as Redis's.
fn new_vm(factory: &dyn ScriptVmFactory) -> Box<dyn ScriptVm> {
    let mut vm = base_vm(factory, true);
    run_setup(&mut *vm, ERR_HANDLER_SRC, 0);
    let st = vm.stack();
    st.raw_get_field(GLOBALS_INDEX, b"__redis__err__handler");
    st.raw_set_field(REGISTRY_INDEX, ERR_HANDLER);
    // luaSetErrorMetatable + luaSetTableProtectionRecursively on _G.
    st.push_value(GLOBALS_INDEX);
    set_error_metatable(st);
    protect_recursively(st);
    st.pop(1);
    vm
}

pub(crate) fn protect_recursively(st: &mut dyn LuaStack) {
    if st.is_readonly(-1) {
        return;
    }
    st.set_readonly(-1, true);
    st.check_stack(2);
    st.push_nil();
    while st.next(-2) {
        if st.type_of(-1) == LuaType::Table {
            protect_recursively(st);
        }
        st.pop(1);
    }
    if st.get_metatable(-1) {
        protect_recursively(st);
        st.pop(1);
    }
}

impl ScriptState {
    /// The EVAL state, made on first use; None without a factory.
    fn take_vm(&mut self) -> Option<Box<dyn ScriptVm>> {
        if let Some(vm) = self.vm.take() {
            return Some(vm);
        }
        Some(new_vm(self.factory.as_deref()?))
    }

    /// SCRIPT FLUSH: the cache and the state go (a fresh one is made on next use).
    pub(crate) fn flush(&mut self) {
        self.cache.clear();
        self.vm = None;
    }
}

/// The error EVAL answers when the host installed no Lua VM.
pub(crate) fn no_vm_error() -> CmdError {
    CmdError::err("scripting is not available: this Oxidis host installed no Lua VM")
}

/// evalExtractShebangFlags: (flags, shebang length up to its newline).
fn shebang_flags(body: &[u8]) -> Result<(u32, usize), CmdError> {
    if !body.starts_with(b"#!") {
        return Ok((sflags::EVAL_COMPAT_MODE, 0));
    }
    let Some(nl) = memchr::memchr(b'\n', body) else {
        return Err(CmdError::err("Invalid script shebang"));
    };
    let line = &body[2..nl];
    let mut parts = line
        .split(|&c| c == b' ')
        .filter(|p| !p.is_empty())
        .peekable();
    let engine = parts.next().unwrap_or_default();
    if engine != b"lua" {
        let mut m = b"Unexpected engine in script shebang: ".to_vec();
        m.extend_from_slice(&body[..nl]);
        return Err(CmdError::err(m));
    }
    let mut flags = 0;
    for p in parts {
        let Some(list) = p.strip_prefix(b"flags=") else {
            let mut m = b"Unknown lua shebang option: ".to_vec();
            m.extend_from_slice(p);
            return Err(CmdError::err(m));
        };
        for f in list.split(|&c| c == b',').filter(|f| !f.is_empty()) {
            let Some((_, bit)) = sflags::NAMES.iter().find(|(n, _)| n.as_bytes() == f) else {
                let mut m = b"Unexpected flag in script shebang: ".to_vec();
                m.extend_from_slice(f);
                return Err(CmdError::err(m));
            };
            flags |= bit;
        }
    }
    Ok((flags, nl))
}

/// evalGetCommandFlags' lookup: the flags of a cached script (by SHA, or by the body's SHA),
/// or those of an uncached body's shebang; None when unknown or the shebang is bad.
pub(crate) fn script_flags(srv: &Server, sha: bool, arg: &[u8]) -> Option<u32> {
    if sha {
        if arg.len() != 40 {
            return None;
        }
        return srv
            .script
            .cache
            .get(&arg.to_ascii_lowercase())
            .map(|s| s.flags);
    }
    match srv.script.cache.get(&sha1hex(arg)[..]) {
        Some(s) => Some(s.flags),
        None => shebang_flags(arg).ok().map(|(f, _)| f),
    }
}

/// luaCreateFunction: compiles `body` into the registry as `f_<sha>` and caches it. Returns
/// the SHA. Nothing is cached on a compile error.
fn create_function(
    vm: &mut dyn ScriptVm,
    st: &mut ScriptState,
    body: &[u8],
) -> Result<[u8; 40], CmdError> {
    let sha = sha1hex(body);
    if st.cache.contains_key(&sha[..]) {
        return Ok(sha);
    }
    let (flags, shebang_len) = shebang_flags(body)?;
    if let Err(msg) = vm.load(&body[shebang_len..], "@user_script") {
        let mut m = b"Error compiling script (new function): ".to_vec();
        m.extend_from_slice(&msg);
        return Err(CmdError::err(m));
    }
    let mut key = b"f_".to_vec();
    key.extend_from_slice(&sha);
    vm.stack().raw_set_field(REGISTRY_INDEX, &key);
    st.cache.insert(sha.to_vec(), Script { flags });
    Ok(sha)
}

/// SCRIPT LOAD: compiles and caches, returns the SHA.
pub(crate) fn script_load(srv: &mut Server, body: &[u8]) -> Result<[u8; 40], CmdError> {
    let mut vm = srv.script.take_vm().ok_or_else(no_vm_error)?;
    let r = create_function(&mut *vm, &mut srv.script, body);
    srv.script.vm = Some(vm);
    r
}

/// What EVAL/EVALSHA run.
pub(crate) enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

/// evalGenericCommand after the numkeys checks: finds or compiles the script, runs it on the
/// caller's behalf and writes its reply (or error) to the caller.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eval(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    src: Source<'_>,
    keys: &[&[u8]],
    argv: &[&[u8]],
    ro: bool,
) -> Result<(), CmdError> {
    let mut vm = srv.script.take_vm().ok_or_else(no_vm_error)?;
    let sha = match src {
        Source::Body(body) => create_function(&mut *vm, &mut srv.script, body),
        Source::Sha(s) => {
            // Lowercased on the stack: no allocation per call.
            let mut sha = [0u8; 40];
            if s.len() == 40 && {
                sha.copy_from_slice(s);
                sha.make_ascii_lowercase();
                srv.script.cache.contains_key(&sha[..])
            } {
                Ok(sha)
            } else {
                Err(CmdError::Msg(
                    b"NOSCRIPT No matching script. Please use EVAL.".to_vec(),
                ))
            }
        }
    };
    let sha = match sha {
        Ok(s) => s,
        Err(e) => {
            srv.script.vm = Some(vm);
            return Err(e);
        }
    };
    let flags = srv.script.cache[&sha[..]].flags;
    // scriptPrepareForRun: a script with a shebang may write unless it says no-writes, which
    // the *_RO commands refuse before running it.
    if ro && flags & (sflags::EVAL_COMPAT_MODE | sflags::NO_WRITES) == 0 {
        srv.script.vm = Some(vm);
        return Err(CmdError::Msg(
            b"ERR Can not execute a script with write flag using *_ro command.".to_vec(),
        ));
    }
    if let Err(e) = check_oom(srv, flags) {
        srv.script.vm = Some(vm);
        return Err(e);
    }
    let res = run(
        now, srv, clients, caller, &mut *vm, &sha, flags, keys, argv, ro,
    );
    srv.script.vm = Some(vm);
    res
}

fn set_global_array(st: &mut dyn LuaStack, name: &[u8], items: &[&[u8]]) {
    st.new_table(items.len() as i32, 0);
    for (i, a) in items.iter().enumerate() {
        st.push_bytes(a);
        st.raw_set_i(-2, i as i32 + 1);
    }
    st.set_readonly(GLOBALS_INDEX, false);
    st.raw_set_field(GLOBALS_INDEX, name);
    st.set_readonly(GLOBALS_INDEX, true);
}

/// scriptPrepareForRun's refusal of a script that may write under EVAL_RO/EVALSHA_RO/FCALL_RO
/// (a script with a shebang and without `no-writes`, or any function without it).
pub(crate) fn check_ro(flags: u32, ro: bool) -> Result<(), CmdError> {
    if ro && flags & (sflags::EVAL_COMPAT_MODE | sflags::NO_WRITES) == 0 {
        return Err(CmdError::err(
            "Can not execute a script with write flag using *_ro command.",
        ));
    }
    Ok(())
}

/// scriptPrepareForRun's OOM check: a script with a shebang that may write (neither
/// `no-writes` nor `allow-oom`) does not start while memory was over `maxmemory` when the
/// command began. (Dispatch refuses such EVALs first by their deny-oom flag; this catches
/// the ones that got past it, as in Redis.)
pub(crate) fn check_oom(srv: &Server, flags: u32) -> Result<(), CmdError> {
    if flags & sflags::EVAL_COMPAT_MODE == 0
        && srv.evict.pre_command_oom
        && srv.config.maxmemory > 0
        && flags & (sflags::ALLOW_OOM | sflags::NO_WRITES) == 0
    {
        return Err(CmdError::Msg(
            b"OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
                .to_vec(),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    vm: &mut dyn ScriptVm,
    sha: &[u8; 40],
    flags: u32,
    keys: &[&[u8]],
    argv: &[&[u8]],
    ro: bool,
) -> Result<(), CmdError> {
    check_ro(flags, ro)?;
    {
        let st = vm.stack();
        st.raw_get_field(REGISTRY_INDEX, ERR_HANDLER);
        let mut key = [0u8; 42];
        key[..2].copy_from_slice(b"f_");
        key[2..].copy_from_slice(sha);
        st.raw_get_field(REGISTRY_INDEX, &key);
        set_global_array(st, b"KEYS", keys);
        set_global_array(st, b"ARGV", argv);
    }
    let run = Run {
        name: sha,
        flags,
        ro,
        nargs: 0,
        function: None,
    };
    run_pushed(now, srv, clients, caller, vm, run);
    Ok(())
}

/// What `run_pushed` runs: the error handler, the function and its `nargs` arguments are on the
/// stack.
pub(crate) struct Run<'a> {
    /// The SHA or the function name, for error texts.
    pub name: &'a [u8],
    pub flags: u32,
    pub ro: bool,
    pub nargs: i32,
    /// FCALL: the function's name and the command (FUNCTION STATS shows them; KILL and BUSY
    /// texts name FUNCTION rather than SCRIPT).
    pub function: Option<Vec<Vec<u8>>>,
}

/// luaCallFunction: runs what is on the stack on the caller's behalf (hook, run context,
/// effects propagation) and writes its reply or error to the caller.
/// `lua-memory-limit` as the VM takes it (0 = none).
pub(crate) fn lua_memory_limit(config: &crate::config::Config) -> usize {
    match config.lua_memory_limit {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

pub(crate) fn run_pushed(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    vm: &mut dyn ScriptVm,
    run: Run<'_>,
) {
    let caller_resp3 = clients[caller.0].resp3;
    vm.set_memory_limit(lua_memory_limit(&srv.config));
    let threshold = srv.config.busy_reply_threshold;
    let start = srv.script.env.as_mut().map(|e| e.now());
    vm.stack().set_hook(if threshold > 0 && start.is_some() {
        HookMode::EveryInstructions(100_000)
    } else {
        HookMode::Off
    });
    srv.script.running = Some(Running {
        function: run.function.map(|cmd| (run.name.to_vec(), cmd)),
        start,
        last_now: start,
    });
    let db = clients[caller.0].db;
    // The caller's c->slot: its declared keys' (dispatch checked they share one), or inside
    // EXEC the transaction's, or what an earlier script of it touched.
    let slot = clients[caller.0].slot;
    let mut ctx = RunCtx {
        now,
        srv,
        clients,
        caller,
        db,
        resp3: false,
        flags: run.flags,
        ro: run.ro,
        repl: api::REPL_ALL,
        start,
        threshold: threshold.max(0) as u64,
        killed: false,
        slot,
    };
    ctx.srv.persist.begin_script();
    ctx.srv.script.wrote = false;
    let r = vm.pcall(run.nargs, 1, -(run.nargs + 2), &mut ctx);
    ctx.srv.script.busy = false;
    ctx.srv.script.kill_requested = false;
    ctx.srv.script.running = None;
    ctx.srv.persist.end_script();
    let slot = ctx.slot;
    ctx.clients[caller.0].slot = slot;
    let st = vm.stack();
    st.set_hook(HookMode::Off);
    match r {
        Ok(()) => {
            let counted = convert::ignores_error_stats(st);
            let reply = convert::lua_to_reply(st, ctx.resp3);
            if let crate::resp::Reply::Error(e) = &reply {
                crate::command::intro::count_script_error(ctx.srv, e, counted);
            }
            let c = &mut ctx.clients[caller.0];
            ReplyWriter::new(&mut c.out, caller_resp3).reply(&reply);
        }
        Err(_) => {
            let counted = convert::ignores_error_stats(st);
            let msg = convert::error_text(st, run.name);
            crate::command::intro::count_script_error(ctx.srv, &msg, counted);
            let c = &mut ctx.clients[caller.0];
            ReplyWriter::new(&mut c.out, caller_resp3).error(&msg);
        }
    }
    // The result (or error) and the error handler.
    st.set_top(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_empty_is_redis_sha1hex() {
        assert_eq!(&sha1hex(b""), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn shebang_flags_parse_as_redis() {
        assert_eq!(
            shebang_flags(b"return 1").unwrap(),
            (sflags::EVAL_COMPAT_MODE, 0)
        );
        assert_eq!(
            shebang_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(),
            (sflags::NO_WRITES | sflags::ALLOW_OOM, 31)
        );
        assert_eq!(
            shebang_flags(b"#!lua").unwrap_err().to_string(),
            "ERR Invalid script shebang"
        );
        assert_eq!(
            shebang_flags(b"#!js\n").unwrap_err().to_string(),
            "ERR Unexpected engine in script shebang: #!js"
        );
    }
}
