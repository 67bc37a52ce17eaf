//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (eval.c's commands), FCALL, FCALL_RO and
//! FUNCTION (functions.c's): parse, then script/.

use super::{is, parse_int, CmdError, Ctx};
use crate::script::eval::{self, Source};
use crate::script::function::{self, Policy};

/// A script's KEYS and ARGV.
type KeysArgs<'a> = (&'a [&'a [u8]], &'a [&'a [u8]]);

/// evalGenericCommand's numkeys checks: (keys, args).
fn split_keys<'a>(args: &'a [&'a [u8]]) -> Result<KeysArgs<'a>, CmdError> {
    let numkeys = parse_int(args[2])?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    Ok(args[3..].split_at(numkeys as usize))
}

fn eval_generic(ctx: &mut Ctx, args: &[&[u8]], sha: bool, ro: bool) -> Result<(), CmdError> {
    let (keys, argv) = split_keys(args)?;
    let src = if sha {
        Source::Sha(args[1])
    } else {
        Source::Body(args[1])
    };
    eval::eval(
        ctx.now,
        ctx.srv,
        ctx.clients,
        ctx.handle,
        src,
        keys,
        argv,
        ro,
    )
}

/// EVAL script numkeys [key ...] [arg ...]
pub fn eval(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // Fed to MONITOR before the script's commands (the table has it skip_monitor).
    super::intro::feed_monitors_now(ctx, args);
    eval_generic(ctx, args, false, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
pub fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // Fed to MONITOR before the script's commands (the table has it skip_monitor).
    super::intro::feed_monitors_now(ctx, args);
    eval_generic(ctx, args, false, true)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
pub fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // Fed to MONITOR before the script's commands (the table has it skip_monitor).
    super::intro::feed_monitors_now(ctx, args);
    eval_generic(ctx, args, true, false)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
pub fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // Fed to MONITOR before the script's commands (the table has it skip_monitor).
    super::intro::feed_monitors_now(ctx, args);
    eval_generic(ctx, args, true, true)
}

/// SCRIPT LOAD script
pub fn script_load(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let sha = eval::script_load(ctx.srv, args[2])?;
    ctx.out().bulk(&sha);
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
pub fn script_exists(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let found: Vec<bool> = args[2..]
        .iter()
        .map(|s| ctx.srv.script.cache.contains_key(&s.to_ascii_lowercase()))
        .collect();
    let mut out = ctx.out();
    out.array_len(found.len());
    for f in found {
        out.int(f as i64);
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC|SYNC]
pub fn script_flush(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match args.len() {
        2 => {}
        3 if is(args[2], "sync") || is(args[2], "async") => {}
        _ => return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option")),
    }
    ctx.srv.script.flush();
    ctx.out().ok();
    Ok(())
}

/// The BUSY reply while a function runs (shared.slowscripterr).
pub(crate) const BUSY_FUNCTION: &[u8] =
    b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// scriptKill: SCRIPT KILL stops only EVAL scripts, FUNCTION KILL only functions (only a
/// client served while a script is busy can see one running).
fn kill(ctx: &mut Ctx, is_eval: bool) -> Result<(), CmdError> {
    let st = &mut ctx.srv.script;
    if !st.busy {
        return Err(CmdError::Msg(
            b"NOTBUSY No scripts in execution right now.".to_vec(),
        ));
    }
    if st.wrote {
        return Err(CmdError::Msg(
            b"UNKILLABLE Sorry the script already executed write commands against the dataset. \
You can either wait the script termination or kill the server in a hard way using the SHUTDOWN \
NOSAVE command."
                .to_vec(),
        ));
    }
    let running_eval = st.running.as_ref().is_none_or(|r| r.function.is_none());
    if is_eval && !running_eval {
        return Err(CmdError::Msg(BUSY_FUNCTION.to_vec()));
    }
    if !is_eval && running_eval {
        return Err(CmdError::Msg(super::BUSY_SCRIPT.to_vec()));
    }
    st.kill_requested = true;
    ctx.out().ok();
    Ok(())
}

/// SCRIPT KILL
pub fn script_kill(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    kill(ctx, true)
}

/// SCRIPT HELP
pub fn script_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    super::connection::reply_help(ctx, LINES);
    Ok(())
}

/// FCALL function numkeys [key ...] [arg ...]
pub fn fcall(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    super::intro::feed_monitors_now(ctx, args);
    function::fcall(ctx.now, ctx.srv, ctx.clients, ctx.handle, args, false)
}

/// FCALL_RO function numkeys [key ...] [arg ...]
pub fn fcall_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    super::intro::feed_monitors_now(ctx, args);
    function::fcall(ctx.now, ctx.srv, ctx.clients, ctx.handle, args, true)
}

/// addReplySubcommandSyntaxError.
fn subcommand_syntax_error(args: &[&[u8]]) -> CmdError {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    m.extend_from_slice(super::truncated(args[1], 128));
    m.extend_from_slice(b"'. Try FUNCTION HELP.");
    CmdError::Msg(m)
}

/// FUNCTION LOAD [REPLACE] function-code
pub fn function_load(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut replace = false;
    let mut i = 2;
    while i < args.len() - 1 {
        if !is(args[i], "replace") {
            let mut m = b"Unknown option given: ".to_vec();
            m.extend_from_slice(super::truncated(args[i], usize::MAX));
            return Err(CmdError::err(m));
        }
        replace = true;
        i += 1;
    }
    // What the server must obey (the AOF it replays) has no load timeout.
    let timeout = !ctx.srv.persist.loading;
    let name = function::load(ctx.srv, args[i], replace, timeout)?;
    ctx.srv.dirty += 1;
    ctx.out().bulk(&name);
    Ok(())
}

/// FUNCTION DELETE library-name
pub fn function_delete(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if !ctx.srv.script.functions.delete(args[2]) {
        return Err(CmdError::err("Library not found"));
    }
    ctx.srv.dirty += 1;
    ctx.out().ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
pub fn function_list(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        if !with_code && is(args[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(args[i], "libraryname") {
            if i + 1 >= args.len() {
                return Err(CmdError::err("library name argument was not given"));
            }
            i += 1;
            pattern = Some(args[i]);
        } else {
            let mut m = b"Unknown argument ".to_vec();
            m.extend_from_slice(super::truncated(args[i], usize::MAX));
            return Err(CmdError::err(m));
        }
        i += 1;
    }
    let Ctx { srv, clients, .. } = ctx;
    let c = &mut clients[ctx.handle.0];
    let mut out = crate::resp::ReplyWriter::new(&mut c.out, c.resp3);
    let libs: Vec<_> = srv
        .script
        .functions
        .libs
        .iter()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, &l.name, true)))
        .collect();
    out.array_len(libs.len());
    for l in libs {
        out.map_len(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(&l.name);
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array_len(l.functions.len());
        for f in &l.functions {
            out.map_len(3);
            out.bulk(b"name");
            out.bulk(&f.name);
            out.bulk(b"description");
            match &f.desc {
                Some(d) => out.bulk(d),
                None => out.nil(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = function::flag_names(f.flags).collect();
            out.set_len(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&l.code);
        }
    }
    Ok(())
}

/// FUNCTION DUMP
pub fn function_dump(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let codes = ctx.srv.script.functions.codes();
    let payload = crate::rdb::function_dump_payload(&codes, &ctx.srv.config);
    ctx.out().bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
pub fn function_restore(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    let policy = match args.get(3) {
        None => Policy::Append,
        Some(p) if is(p, "append") => Policy::Append,
        Some(p) if is(p, "replace") => Policy::Replace,
        Some(p) if is(p, "flush") => Policy::Flush,
        Some(_) => {
            return Err(CmdError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    let srv = &mut *ctx.srv;
    let codes = {
        let crate::engine::Server { config, rng, .. } = &mut *srv;
        crate::rdb::function_restore_payload(args[2], config, rng).map_err(CmdError::err)?
    };
    let libs = function::create_all(srv, &codes)?;
    if let Some(e) = function::join_error(srv, &libs, policy) {
        function::discard(srv, libs);
        return Err(CmdError::err(e));
    }
    function::install(srv, libs, policy);
    srv.dirty += 1;
    ctx.out().ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC|SYNC]
pub fn function_flush(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match args.len() {
        2 => {}
        3 if is(args[2], "sync") || is(args[2], "async") => {}
        3 => {
            return Err(CmdError::err(
                "FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
        _ => return Err(subcommand_syntax_error(args)),
    }
    ctx.srv.script.functions.flush();
    ctx.srv.dirty += 1;
    ctx.out().ok();
    Ok(())
}

/// FUNCTION KILL
pub fn function_kill(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    kill(ctx, false)
}

/// FUNCTION STATS
pub fn function_stats(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let st = &ctx.srv.script;
    let running = st.running.as_ref().filter(|_| st.busy);
    if running.is_some_and(|r| r.function.is_none()) {
        return Err(CmdError::Msg(super::BUSY_SCRIPT.to_vec()));
    }
    let running = running.and_then(|r| {
        let (name, cmd) = r.function.clone()?;
        let ms = match (r.start, r.last_now) {
            (Some(s), Some(n)) => n.0.saturating_sub(s.0) as i64,
            _ => 0,
        };
        Some((name, cmd, ms))
    });
    let libs = st.functions.libs.len() as i64;
    let funcs = st.functions.functions_count() as i64;
    let mut out = ctx.out();
    out.map_len(2);
    out.bulk(b"running_script");
    match running {
        None => out.nil(),
        Some((name, cmd, ms)) => {
            out.map_len(3);
            out.bulk(b"name");
            out.bulk(&name);
            out.bulk(b"command");
            out.array_len(cmd.len());
            for a in &cmd {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(ms);
        }
    }
    out.bulk(b"engines");
    out.map_len(1);
    out.bulk(b"LUA");
    out.map_len(2);
    out.bulk(b"libraries_count");
    out.int(libs);
    out.bulk(b"functions_count");
    out.int(funcs);
    Ok(())
}

/// FUNCTION HELP
pub fn function_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    super::connection::reply_help(ctx, LINES);
    Ok(())
}
