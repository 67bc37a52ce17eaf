//! Replication commands (Redis's replication.c commands): the master side's REPLCONF, SYNC,
//! PSYNC, WAIT and ROLE; the replica side's REPLICAOF / SLAVEOF. The state machines live in
//! `crate::repl`; these handlers parse, check and reply.

// master side (repl/master.rs)

// replica side (repl/replica.rs)

use super::{is, CmdError, Ctx};

/// REPLICAOF host port | NO ONE (Redis's replicaofCommand).
pub fn replicaof(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if is(args[1], "no") && is(args[2], "one") {
        crate::repl::replica::unset_master(ctx.srv, ctx.clients);
        ctx.out().ok();
        return Ok(());
    }
    let port = match super::parse_int(args[2]) {
        Ok(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Err(CmdError::err("Invalid master port")),
    };
    let host = String::from_utf8_lossy(args[1]).into_owned();
    let r = &ctx.srv.repl.replica;
    if r.master_host
        .as_deref()
        .is_some_and(|h| h.eq_ignore_ascii_case(&host))
        && r.master_port == port
    {
        ctx.out()
            .raw(b"+OK Already connected to specified master\r\n");
        return Ok(());
    }
    crate::repl::replica::set_master(ctx.srv, ctx.clients, &host, port);
    ctx.out().ok();
    Ok(())
}

/// SLAVEOF host port | NO ONE: REPLICAOF's old name.
pub fn slaveof(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    replicaof(ctx, args)
}
