//! The `redis` table (script_lua.c's luaRegisterRedisAPI) and the run context a script's API
//! calls reach: `redis.call`/`pcall` re-enter the engine's dispatch on a script client, with
//! scriptCall's checks (script.c) first.

use super::convert;
use super::eval::sflags;
use super::vm::{ApiFn, ApiResult, HookMode, LuaStack, LuaType, ScriptHost, GLOBALS_INDEX};
use crate::command::{self, flags, CommandSpec};
use crate::engine::{Client, ClientHandle, Server};
use crate::time::UnixMillis;

pub(crate) const CALL: ApiFn = ApiFn(1);
pub(crate) const PCALL: ApiFn = ApiFn(2);
pub(crate) const GLOBAL_INDEX_ERR: ApiFn = ApiFn(3);
const SHA1HEX: ApiFn = ApiFn(4);
const ERROR_REPLY: ApiFn = ApiFn(5);
const STATUS_REPLY: ApiFn = ApiFn(6);
pub(crate) const LOG: ApiFn = ApiFn(7);
const SETRESP: ApiFn = ApiFn(8);
const SET_REPL: ApiFn = ApiFn(9);
const REPLICATE_COMMANDS: ApiFn = ApiFn(10);
const BREAKPOINT: ApiFn = ApiFn(11);
const DEBUG: ApiFn = ApiFn(12);
const MATH_RANDOM: ApiFn = ApiFn(13);
const MATH_RANDOMSEED: ApiFn = ApiFn(14);
const ACL_CHECK_CMD: ApiFn = ApiFn(15);
/// redis.register_function, in the function engine's load-time `redis` table.
pub(crate) const REGISTER_FUNCTION: ApiFn = ApiFn(16);

pub(crate) const REPL_ALL: i64 = 3;

/// Builds the `redis` global and replaces math.random/randomseed (Redis's own PRNG).
/// `eval`: EVAL's state also has replicate_commands, breakpoint and debug (eval.c adds them;
/// the function engine's state has not).
pub(crate) fn register(st: &mut dyn LuaStack, eval: bool) {
    st.new_table(0, 24);
    for (name, f) in [
        (&b"call"[..], CALL),
        (b"pcall", PCALL),
        (b"sha1hex", SHA1HEX),
        (b"error_reply", ERROR_REPLY),
        (b"status_reply", STATUS_REPLY),
        (b"setresp", SETRESP),
        (b"set_repl", SET_REPL),
        (b"acl_check_cmd", ACL_CHECK_CMD),
    ] {
        st.push_api_fn(f, 0);
        st.raw_set_field(-2, name);
    }
    if eval {
        for (name, f) in [
            (&b"replicate_commands"[..], REPLICATE_COMMANDS),
            (b"breakpoint", BREAKPOINT),
            (b"debug", DEBUG),
        ] {
            st.push_api_fn(f, 0);
            st.raw_set_field(-2, name);
        }
    }
    for (name, n) in [
        (&b"REPL_NONE"[..], 0.0),
        (b"REPL_AOF", 1.0),
        (b"REPL_SLAVE", 2.0),
        (b"REPL_REPLICA", 2.0),
        (b"REPL_ALL", 3.0),
    ] {
        st.push_number(n);
        st.raw_set_field(-2, name);
    }
    register_log_and_version(st);
    st.raw_set_field(GLOBALS_INDEX, b"redis");
    st.raw_get_field(GLOBALS_INDEX, b"math");
    st.push_api_fn(MATH_RANDOM, 0);
    st.raw_set_field(-2, b"random");
    st.push_api_fn(MATH_RANDOMSEED, 0);
    st.raw_set_field(-2, b"randomseed");
    st.pop(1);
}

/// luaRegisterLogFunction + luaRegisterVersion, into the table on top of the stack (also the
/// `redis` table FUNCTION LOAD's library code sees).
pub(crate) fn register_log_and_version(st: &mut dyn LuaStack) {
    st.push_api_fn(LOG, 0);
    st.raw_set_field(-2, b"log");
    for (name, n) in [
        (&b"LOG_DEBUG"[..], 0.0),
        (b"LOG_VERBOSE", 1.0),
        (b"LOG_NOTICE", 2.0),
        (b"LOG_WARNING", 3.0),
        (b"REDIS_VERSION_NUM", 0x07000f as f64),
    ] {
        st.push_number(n);
        st.raw_set_field(-2, name);
    }
    st.push_bytes(crate::config::REDIS_VERSION.as_bytes());
    st.raw_set_field(-2, b"REDIS_VERSION");
}

/// The `__index` of the globals' error metatable (luaSetErrorMetatable's function).
pub(crate) fn global_index_err(st: &mut dyn LuaStack) -> ApiResult {
    let name = st.to_bytes(2).map(<[u8]>::to_vec).unwrap_or_default();
    let mut m = b"Script attempted to access nonexistent global variable '".to_vec();
    m.extend_from_slice(&name);
    m.push(b'\'');
    raise_where(st, &m)
}

/// redis.log (luaLogCommand): checks its arguments; the engine keeps no log.
pub(crate) fn log(st: &mut dyn LuaStack) -> ApiResult {
    let argc = st.top();
    if argc < 2 {
        return raise_table(st, b"redis.log() requires two arguments or more.");
    }
    if st.type_of(1) != LuaType::Number {
        return raise_table(st, b"First argument must be a number (log level).");
    }
    let level = st.to_number(1) as i64;
    if !(0..=3).contains(&level) {
        return raise_table(st, b"Invalid debug level.");
    }
    ApiResult::Return(0)
}

/// One script run: what `redis.call` needs of the engine, and the run's own state.
pub(crate) struct RunCtx<'a> {
    pub now: UnixMillis,
    pub srv: &'a mut Server,
    pub clients: &'a mut slab::Slab<Client>,
    pub caller: ClientHandle,
    /// The script client's database (SELECT in a script does not move the caller in 7.0).
    pub db: usize,
    /// redis.setresp(3).
    pub resp3: bool,
    pub flags: u32,
    /// EVAL_RO / EVALSHA_RO.
    pub ro: bool,
    pub repl: i64,
    /// Host wall time at the start (None: the host gave no clock, the script is never busy).
    pub start: Option<UnixMillis>,
    pub threshold: u64,
    pub killed: bool,
    /// Cluster mode: the caller's `c->slot` as scriptVerifyClusterState keeps it (its declared
    /// keys' slot, inside EXEC the transaction's; when None, the first key touched sets it),
    /// written back to the caller when the script ends.
    pub slot: Option<u16>,
}

/// Pushes Redis's error table for `msg` (luaPushErrorBuff): "-CODE rest" keeps its code,
/// anything else gets "ERR ".
pub(crate) fn push_error(st: &mut dyn LuaStack, msg: &[u8]) {
    let text = if let Some(rest) = msg.strip_prefix(b"-") {
        match memchr::memchr(b' ', rest) {
            Some(_) => rest.to_vec(),
            None => [&b"ERR "[..], rest].concat(),
        }
    } else {
        [&b"ERR "[..], msg].concat()
    };
    let mut end = text.len();
    while end > 0 && matches!(text[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    st.new_table(0, 1);
    st.push_bytes(&text[..end]);
    st.raw_set_field(-2, b"err");
}

/// luaPushError + luaError: Redis's error table, raised.
pub(crate) fn raise_table(st: &mut dyn LuaStack, msg: &[u8]) -> ApiResult {
    push_error(st, msg);
    ApiResult::Raise
}

/// luaL_error: "<where>msg" as a string error.
pub(crate) fn raise_where(st: &mut dyn LuaStack, msg: &[u8]) -> ApiResult {
    let mut m = st.where_(1);
    m.extend_from_slice(msg);
    st.push_bytes(&m);
    ApiResult::Raise
}

/// luaArgsToRedisArgv: the arguments as strings, numbers as `%.17g`.
fn lua_args(st: &mut dyn LuaStack) -> Result<Vec<Vec<u8>>, &'static [u8]> {
    let (mut bytes, mut ends) = (Vec::new(), Vec::new());
    lua_args_into(st, &mut bytes, &mut ends)?;
    Ok(split_args(&bytes, &ends).map(<[u8]>::to_vec).collect())
}

/// The arguments on the stack appended to `bytes`, each one's end pushed on `ends`
/// (buffers reused from call to call: no allocation per argument).
fn lua_args_into(
    st: &mut dyn LuaStack,
    bytes: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), &'static [u8]> {
    let argc = st.top();
    if argc == 0 {
        return Err(b"Please specify at least one argument for this redis lib call");
    }
    for i in 1..=argc {
        match st.type_of(i) {
            LuaType::Number => {
                let n = st.to_number(i);
                bytes.extend_from_slice(crate::resp::format_double_g17(n).as_bytes());
            }
            LuaType::String => bytes.extend_from_slice(st.to_bytes(i).unwrap_or_default()),
            _ => return Err(b"Lua redis lib command arguments must be strings or integers"),
        }
        ends.push(bytes.len());
    }
    Ok(())
}

/// The arguments `lua_args_into` wrote.
fn split_args<'a>(bytes: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    let starts = std::iter::once(0).chain(ends.iter().copied());
    starts.zip(ends.iter().copied()).map(|(a, b)| &bytes[a..b])
}

/// lookupCommand on script arguments: the command, or the subcommand of a container.
fn lookup_args<A: AsRef<[u8]>>(srv: &Server, args: &[A]) -> Option<&'static CommandSpec> {
    let cmd = command::lookup_in(srv, args[0].as_ref())?;
    if !cmd.subcommands.is_empty() && args.len() >= 2 {
        return cmd.subcommand(args[1].as_ref());
    }
    Some(cmd)
}

impl RunCtx<'_> {
    /// luaRedisGenericCommand.
    fn call(&mut self, st: &mut dyn LuaStack, raise: bool) -> ApiResult {
        let mut bytes = std::mem::take(&mut self.srv.script.arg_bytes);
        let mut ends = std::mem::take(&mut self.srv.script.arg_ends);
        bytes.clear();
        ends.clear();
        let r = self.call_with(st, raise, &mut bytes, &mut ends);
        // Kept for the next call unless a big argument grew them.
        if bytes.capacity() <= 64 * 1024 {
            self.srv.script.arg_bytes = bytes;
        }
        if ends.capacity() <= 1024 {
            self.srv.script.arg_ends = ends;
        }
        r
    }

    fn call_with(
        &mut self,
        st: &mut dyn LuaStack,
        raise: bool,
        bytes: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> ApiResult {
        let fail = |st: &mut dyn LuaStack, msg: &[u8]| {
            push_error(st, msg);
            if raise {
                ApiResult::Raise
            } else {
                ApiResult::Return(1)
            }
        };
        if let Err(msg) = lua_args_into(st, bytes, ends) {
            return fail(st, msg);
        }
        let args: Vec<&[u8]> = split_args(bytes, ends).collect();
        // scriptCall's checks.
        let Some(cmd) = lookup_args(self.srv, &args) else {
            return fail(st, b"Unknown Redis command called from script");
        };
        if !cmd.arity_ok(args.len()) {
            return fail(
                st,
                b"Wrong number of args calling Redis command from script",
            );
        }
        if cmd.has(flags::NOSCRIPT) {
            return fail(st, b"This Redis command is not allowed from script");
        }
        // scriptVerifyACL: the command runs as the calling client's user.
        if let Err((why, pos)) =
            command::acl::check(self.srv, &self.clients[self.caller.0], cmd, &args)
        {
            let ctx = crate::acl::LogContext::Lua;
            let slot = self.caller.0;
            command::acl::log_denied(
                self.now,
                self.srv,
                self.clients,
                slot,
                cmd,
                &args,
                why,
                pos,
                ctx,
            );
            let msg = command::acl::script_noperm_text(why);
            return fail(st, msg.as_bytes());
        }
        // scriptVerifyWriteCommandAllow: a read-only script refuses may-replicate commands
        // (PFCOUNT, PUBLISH, SPUBLISH) too.
        if cmd.has(flags::WRITE | flags::MAY_REPLICATE)
            && (self.ro || self.flags & sflags::NO_WRITES != 0)
        {
            return fail(
                st,
                b"Write commands are not allowed from read-only scripts.",
            );
        }
        // scriptVerifyOOM: while memory was over maxmemory when the script's command began,
        // its first deny-oom command fails (not later ones: a script is not stopped half
        // way), unless the script says allow-oom.
        let allow_oom =
            self.flags & sflags::EVAL_COMPAT_MODE == 0 && self.flags & sflags::ALLOW_OOM != 0;
        if !allow_oom
            && self.srv.config.maxmemory > 0
            && !self.srv.persist.loading
            && !self.srv.script.wrote
            && self.srv.evict.pre_command_oom
            && cmd.has(flags::DENYOOM)
        {
            return fail(st, &[b"-", command::OOM_ERROR].concat());
        }
        if cmd.has(flags::WRITE) {
            // A script that has not written yet is refused while the disk is failing; once
            // it has, it must be allowed to finish (scriptVerifyWriteCommandAllow).
            if !self.srv.script.wrote {
                // A read-only replica's scripts may not write (but its master's may).
                if crate::repl::replica::script_write_denied(self.srv, self.caller.0) {
                    let msg = crate::repl::replica::READONLY_ERROR;
                    return fail(st, &[&b"-"[..], msg].concat());
                }
                if let Some(msg) = crate::command::persistence::disk_error(self.srv) {
                    // With its '-', as writeCommandsGetDiskErrorMessage: MISCONF is its code.
                    return fail(st, &[&b"-"[..], &msg].concat());
                }
            }
            // scriptCall's SCRIPT_WRITE_DIRTY: SCRIPT KILL can no longer stop this script.
            self.srv.script.wrote = true;
        }
        if self.srv.cluster.is_some() {
            if let Err(msg) = self.verify_cluster_state(cmd, &args) {
                return fail(st, msg);
            }
        }
        let reply = self.run_command(cmd, &args);
        let is_err = reply.is_error();
        convert::reply_to_lua(st, &reply, self.resp3);
        if raise && is_err {
            ApiResult::Raise
        } else {
            ApiResult::Return(1)
        }
    }

    /// scriptVerifyClusterState: in cluster mode a script's command must be served here, as
    /// getNodeByQuery decides with the caller's READONLY / ASKING (a replica's READONLY
    /// client may read its master's slots, never write), and a script that did not declare
    /// `allow-cross-slot-keys` (eval scripts without a shebang may) keeps to one slot. The
    /// master link and the AOF being loaded are obeyed (mustObeyClient).
    fn verify_cluster_state(
        &mut self,
        cmd: &'static CommandSpec,
        args: &[&[u8]],
    ) -> Result<(), &'static [u8]> {
        use crate::command::cluster::Redirect;
        let caller = self.caller.0;
        if self.srv.persist.loading
            || self.clients[caller].repl_master
            || crate::repl::replica::is_master_client(self.srv, caller)
        {
            return Ok(());
        }
        let c = &self.clients[caller];
        let hashslot = match crate::command::cluster::route(self.srv, c, cmd, args, self.now) {
            Ok(slot) => slot,
            Err(Redirect::DownRoState) => {
                return Err(b"Script attempted to execute a write command while the cluster is down and readonly")
            }
            Err(Redirect::DownState) => {
                return Err(b"Script attempted to execute a command while the cluster is down")
            }
            Err(_) => return Err(b"Script attempted to access a non local key in a cluster node"),
        };
        let cross_ok = self.flags & (sflags::EVAL_COMPAT_MODE | sflags::ALLOW_CROSS_SLOT) != 0;
        if let Some(slot) = hashslot {
            if !cross_ok {
                match self.slot {
                    None => self.slot = Some(slot),
                    Some(s) if s != slot => {
                        return Err(
                            b"Script attempted to access keys that do not hash to the same slot",
                        )
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Runs a checked command on a script client (its database, the script's protocol) and
    /// returns its reply.
    fn run_command(&mut self, cmd: &'static CommandSpec, args: &[&[u8]]) -> crate::resp::Reply {
        let id =
            crate::engine::script_client(self.srv, self.clients, self.now, self.db, self.resp3);
        // scriptCall: the fake client runs as the caller's user.
        self.clients[id.0].user = self.clients[self.caller.0].user.clone();
        let propagate = self.srv.persist.propagate;
        // redis.set_repl: the flags mask call()'s propagation targets (REPL_NONE: none).
        if self.repl & REPL_ALL == 0 {
            self.srv.persist.propagate = false;
        }
        self.srv.persist.script_targets = (self.repl & REPL_ALL) as u8;
        command::call(self.now, self.srv, self.clients, id, cmd, args);
        self.srv.persist.propagate = propagate;
        let c = self.clients.remove(id.0);
        self.db = c.db;
        match crate::resp::decode_reply(&c.out) {
            Ok(Some((r, _))) => r,
            _ => crate::resp::Reply::Nil,
        }
    }

    fn redis_api(&mut self, f: ApiFn, st: &mut dyn LuaStack) -> ApiResult {
        let argc = st.top();
        match f {
            CALL => self.call(st, true),
            PCALL => self.call(st, false),
            GLOBAL_INDEX_ERR => global_index_err(st),
            SHA1HEX => {
                if argc != 1 {
                    return raise_table(st, b"wrong number of arguments");
                }
                let s = st.to_bytes(1).map(<[u8]>::to_vec).unwrap_or_default();
                st.push_bytes(&super::eval::sha1hex(&s));
                ApiResult::Return(1)
            }
            ERROR_REPLY => {
                if argc != 1 || st.type_of(-1) != LuaType::String {
                    push_error(st, b"wrong number or type of arguments");
                    return ApiResult::Return(1);
                }
                let e = st.to_bytes(-1).unwrap_or_default().to_vec();
                let e = if e.starts_with(b"-") {
                    e
                } else {
                    [&b"-"[..], &e].concat()
                };
                push_error(st, &e);
                ApiResult::Return(1)
            }
            STATUS_REPLY => {
                if argc != 1 || st.type_of(-1) != LuaType::String {
                    push_error(st, b"wrong number or type of arguments");
                    return ApiResult::Return(1);
                }
                st.new_table(0, 1);
                st.push_value(-2);
                st.raw_set_field(-2, b"ok");
                ApiResult::Return(1)
            }
            LOG => log(st),
            SETRESP => {
                if argc != 1 {
                    return raise_table(st, b"redis.setresp() requires one argument.");
                }
                let v = st.to_number(-1) as i64;
                if v != 2 && v != 3 {
                    return raise_table(st, b"RESP version must be 2 or 3.");
                }
                self.resp3 = v == 3;
                ApiResult::Return(0)
            }
            SET_REPL => {
                if argc != 1 {
                    return raise_table(st, b"redis.set_repl() requires one argument.");
                }
                let v = st.to_number(-1) as i64;
                if v & !REPL_ALL != 0 {
                    return raise_table(
                        st,
                        b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    );
                }
                self.repl = v;
                ApiResult::Return(0)
            }
            REPLICATE_COMMANDS => {
                st.push_boolean(true);
                ApiResult::Return(1)
            }
            BREAKPOINT => {
                st.push_boolean(false);
                ApiResult::Return(1)
            }
            DEBUG => ApiResult::Return(0),
            // ACLCheckAllUserCommandPerm for the calling client's user (no arity check, as
            // Redis: key specs that do not fit the arguments find no keys).
            ACL_CHECK_CMD => match lua_args(st) {
                Err(msg) => raise_table(st, msg),
                Ok(args) => match lookup_args(self.srv, &args) {
                    None => raise_table(st, b"Invalid command passed to redis.acl_check_cmd()"),
                    Some(cmd) => {
                        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                        let caller = &self.clients[self.caller.0];
                        let ok = command::acl::check(self.srv, caller, cmd, &argv).is_ok();
                        st.push_boolean(ok);
                        ApiResult::Return(1)
                    }
                },
            },
            MATH_RANDOM => self.math_random(st, argc),
            MATH_RANDOMSEED => {
                let seed = st.to_number(1) as i64 as i32;
                self.srv.script.rand48 = Some(((seed as u32 as u64) << 16) | 0x330E);
                ApiResult::Return(0)
            }
            _ => match super::lib::call(f, st) {
                Some(r) => r,
                None => {
                    st.push_bytes(b"unknown API function");
                    ApiResult::Raise
                }
            },
        }
    }

    /// redis_math_random over redisLrand48 (rand.c: the 48-bit LCG of lrand48).
    fn math_random(&mut self, st: &mut dyn LuaStack, argc: i32) -> ApiResult {
        let x = self.srv.script.rand48.unwrap_or(0x1234_ABCD_330E);
        let x = (x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        self.srv.script.rand48 = Some(x);
        let v = (x >> 17) as i32;
        const MAX: i32 = i32::MAX;
        let r = (v % MAX) as f64 / MAX as f64;
        match argc {
            0 => st.push_number(r),
            1 => {
                let u = st.to_number(1) as i32;
                if u < 1 {
                    return raise_where(st, b"bad argument #1 to 'random' (interval is empty)");
                }
                st.push_number((r * u as f64).floor() + 1.0);
            }
            2 => {
                let l = st.to_number(1) as i32;
                let u = st.to_number(2) as i32;
                if l > u {
                    return raise_where(st, b"bad argument #2 to 'random' (interval is empty)");
                }
                st.push_number((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64);
            }
            _ => return raise_where(st, b"wrong number of arguments"),
        }
        ApiResult::Return(1)
    }
}

impl ScriptHost for RunCtx<'_> {
    fn api(&mut self, f: ApiFn, st: &mut dyn LuaStack) -> ApiResult {
        self.redis_api(f, st)
    }

    /// scriptInterrupt: past busy-reply-threshold the script is busy and the host serves
    /// other clients through the gate (they may SCRIPT KILL it); a host that cannot (wasm)
    /// gets the script stopped instead. A kill re-arms the hook on every line, as Redis's, so
    /// pcall cannot hold the script.
    fn hook(&mut self, st: &mut dyn LuaStack) -> ApiResult {
        if !self.killed && !self.srv.script.kill_requested {
            let Some(start) = self.start else {
                return ApiResult::Return(0);
            };
            let Some(mut env) = self.srv.script.env.take() else {
                return ApiResult::Return(0);
            };
            let t = env.now();
            if let Some(r) = self.srv.script.running.as_mut() {
                r.last_now = Some(t);
            }
            if t.0.saturating_sub(start.0) >= self.threshold {
                self.srv.script.busy = true;
                let mut gate = super::eval::BusyGate {
                    srv: self.srv,
                    clients: self.clients,
                    caller: self.caller,
                    now: self.now,
                };
                if !env.serve_while_busy(&mut gate) {
                    self.killed = true;
                }
            }
            self.srv.script.env = Some(env);
            if !self.killed && !self.srv.script.kill_requested {
                return ApiResult::Return(0);
            }
        }
        st.set_hook(HookMode::EveryLine);
        if !self.killed {
            push_error(st, b"Script killed by user with SCRIPT KILL...");
            return ApiResult::Raise;
        }
        push_error(
            st,
            b"-BUSY Script ran past busy-reply-threshold and was stopped: this host cannot serve other clients while a script runs.",
        );
        ApiResult::Raise
    }
}
