//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (eval.c's commands): parse, then script/.

use super::{is, parse_int, CmdError, Ctx};
use crate::script::eval::{self, Source};

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
    eval_generic(ctx, args, false, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
pub fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    eval_generic(ctx, args, false, true)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
pub fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    eval_generic(ctx, args, true, false)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
pub fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
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

/// SCRIPT KILL (only a client served while a script is busy can see one running)
pub fn script_kill(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
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
    st.kill_requested = true;
    ctx.out().ok();
    Ok(())
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
    let mut out = ctx.out();
    out.array_len(LINES.len());
    for l in LINES {
        out.simple(l);
    }
    Ok(())
}
