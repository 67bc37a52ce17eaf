//! Replication commands (Redis's replication.c commands): the master side's REPLCONF, SYNC,
//! PSYNC, WAIT and ROLE; the replica side's REPLICAOF / SLAVEOF. The state machines live in
//! `crate::repl`; these handlers parse, check and reply.

use super::{is, CmdError, Ctx};
use crate::repl::master;

// master side (repl/master.rs)

/// REPLCONF option value [option value ...]: a replica's listening-port, ip-address and
/// capabilities before SYNC/PSYNC, then its ACKs (which get no reply).
pub fn replconf(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match master::replconf(ctx.srv, ctx.clients, ctx.handle, ctx.now, args) {
        Ok(true) => ctx.out().ok(),
        Ok(false) => {}
        Err(e) => return Err(CmdError::Msg(e)),
    }
    Ok(())
}

/// SYNC: the old full synchronisation (no +FULLRESYNC line).
pub fn sync(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    master::sync_command(ctx.srv, ctx.clients, ctx.handle, ctx.now, args).map_err(CmdError::Msg)
}

/// PSYNC replicationid offset: +CONTINUE when the backlog covers it, else +FULLRESYNC.
pub fn psync(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    sync(ctx, args)
}

/// WAIT numreplicas timeout: blocks until `numreplicas` replicas acknowledged this client's
/// last write (or the timeout, in ms, 0 forever); replies how many did.
pub fn wait(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.srv.repl.replica.is_replica() {
        return Err(CmdError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let numreplicas = super::parse_int(args[1])?;
    let ms = super::parse_i64(args[2])
        .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let offset = ctx.client_ref().woff;
    let acks = master::count_acks(ctx.srv, ctx.clients, offset);
    // Inside MULTI or a script (CLIENT_DENY_BLOCKING) it answers at once.
    let c = ctx.client_ref();
    if acks >= numreplicas || c.tx.in_exec || c.script {
        ctx.out().int(acks);
        return Ok(());
    }
    let deadline = if ms == 0 {
        0
    } else {
        ctx.now.0.saturating_add(ms as u64)
    };
    super::blocking::block_wait(ctx, deadline, offset, numreplicas);
    ctx.srv.repl.master.waiting.push(ctx.handle.0);
    ctx.srv.repl.master.get_ack = true;
    Ok(())
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (Redis's failoverCommand): pauses
/// writes until the target (or any replica) caught up, then hands it the master role.
pub fn failover(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() == 2 && is(args[1], "abort") {
        if ctx.srv.repl.failover.state == crate::repl::FailoverState::None {
            return Err(CmdError::err("No failover in progress."));
        }
        master::abort_failover(ctx.srv, ctx.clients, "Failover manually aborted");
        ctx.out().ok();
        return Ok(());
    }
    let (mut timeout, mut force, mut to) = (0i64, false, None);
    let mut j = 1;
    while j < args.len() {
        if is(args[j], "timeout") && j + 1 < args.len() && timeout == 0 {
            timeout = super::parse_i64(args[j + 1]).ok_or(CmdError::NotInteger)?;
            if timeout <= 0 {
                return Err(CmdError::err("FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(args[j], "to") && j + 2 < args.len() && to.is_none() {
            let port = super::parse_i64(args[j + 2]).ok_or(CmdError::NotInteger)?;
            to = Some((String::from_utf8_lossy(args[j + 1]).into_owned(), port));
            j += 3;
        } else if is(args[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    master::failover_start(ctx.srv, ctx.clients, ctx.now, to, force, timeout)
        .map_err(CmdError::err)?;
    ctx.out().ok();
    Ok(())
}

/// ROLE: this node's role and its replication state.
pub fn role(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    // The replica side answers for a replica (replica.rs). The master's reply is built from
    // the other clients' state, so into a buffer first.
    let resp3 = ctx.client_ref().resp3;
    let mut buf = Vec::new();
    if ctx.srv.repl.replica.is_replica() {
        crate::repl::replica::role_reply(
            ctx.srv,
            &mut crate::resp::ReplyWriter::new(&mut buf, resp3),
        );
        ctx.out();
        ctx.client().out.extend_from_slice(&buf);
        return Ok(());
    }
    master::role(
        ctx.srv,
        ctx.clients,
        &mut crate::resp::ReplyWriter::new(&mut buf, resp3),
    );
    ctx.out();
    ctx.client().out.extend_from_slice(&buf);
    Ok(())
}

// replica side (repl/replica.rs)

/// REPLICAOF host port | NO ONE (Redis's replicaofCommand).
pub fn replicaof(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if ctx.srv.repl.failover.state != crate::repl::FailoverState::None {
        return Err(CmdError::err("REPLICAOF not allowed while failing over."));
    }
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
