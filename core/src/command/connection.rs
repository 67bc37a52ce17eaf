//! The connection command group: PING, ECHO, SELECT, QUIT, HELLO and CLIENT's
//! per-connection subcommands (Redis's networking.c / server.c).

use super::{is, parse_int, CmdError, Ctx};
use crate::config::REDIS_VERSION;

/// PING [message]
pub fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 2 {
        // The table's arity is -1: Redis checks the upper bound itself.
        return Err(CmdError::err(
            "wrong number of arguments for 'ping' command",
        ));
    }
    let mut out = ctx.out();
    match args.get(1) {
        Some(msg) => out.bulk(msg),
        None => out.simple("PONG"),
    }
    Ok(())
}

/// ECHO message
pub fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out().bulk(args[1]);
    Ok(())
}

/// SELECT index
pub fn select(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    // getIntFromObjectOrReply: a long long first, then the int range.
    let id = parse_int(args[1])?;
    let id = i32::try_from(id).map_err(|_| {
        CmdError::err("value is out of range, value must between -2147483648 and 2147483647")
    })?;
    let db = usize::try_from(id)
        .ok()
        .filter(|&i| i < ctx.srv.dbs.len())
        .ok_or_else(|| CmdError::err("DB index is out of range"))?;
    ctx.client().db = db;
    ctx.out().ok();
    Ok(())
}

/// QUIT: answered by dispatch before lookup (as Redis 7.0 does); kept for the table.
pub fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out().ok();
    ctx.client().close_after_reply = true;
    Ok(())
}

/// networking.c validateClientName: printable ASCII without spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

const BAD_NAME: &str = "Client names cannot contain spaces, newlines or special characters.";

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut ver = None;
    let mut next = 1;
    if let Some(v) = args.get(1) {
        let v = super::parse_i64(v)
            .ok_or_else(|| CmdError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Msg(
                b"NOPROTO unsupported protocol version".to_vec(),
            ));
        }
        ver = Some(v);
        next = 2;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "AUTH") && more >= 2 {
            auth = Some((args[j + 1], args[j + 2]));
            j += 3;
        } else if is(args[j], "SETNAME") && more >= 1 {
            name = Some(args[j + 1]);
            j += 2;
        } else {
            let mut m = b"ERR Syntax error in HELLO option '".to_vec();
            m.extend_from_slice(args[j]);
            m.push(b'\'');
            return Err(CmdError::Msg(m));
        }
    }
    if let Some((user, pass)) = auth {
        // Without ACLs there is one user, "default": no password needed unless
        // requirepass is set (Redis's nopass default user accepts any password).
        let ok = user == b"default"
            && ctx
                .srv
                .config
                .requirepass
                .as_deref()
                .is_none_or(|p| p == pass);
        if !ok {
            return Err(CmdError::Msg(
                b"WRONGPASS invalid username-password pair or user is disabled.".to_vec(),
            ));
        }
    }
    if let Some(name) = name {
        if !valid_client_name(name) {
            return Err(CmdError::err(BAD_NAME));
        }
    }
    let c = ctx.client();
    if let Some(name) = name {
        c.name = (!name.is_empty()).then(|| name.to_vec());
    }
    if let Some(v) = ver {
        c.resp3 = v == 3;
    }
    let (id, proto) = (c.id as i64, if c.resp3 { 3 } else { 2 });
    let mut out = ctx.out();
    out.map_len(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(id);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array_len(0);
    Ok(())
}

/// CLIENT ID
pub fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let id = ctx.client_ref().id as i64;
    ctx.out().int(id);
    Ok(())
}

/// CLIENT SETNAME connection-name ("" removes the name)
pub fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if !valid_client_name(args[2]) {
        return Err(CmdError::err(BAD_NAME));
    }
    ctx.client().name = (!args[2].is_empty()).then(|| args[2].to_vec());
    ctx.out().ok();
    Ok(())
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let name = ctx.client_ref().name.clone();
    let mut out = ctx.out();
    match name {
        Some(n) => out.bulk(&n),
        None => out.nil(),
    }
    Ok(())
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver> (Redis 7.2's, which clients send on
/// connect; answered with 7.2's checks and texts).
pub fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() != 4 {
        // 7.2's arity is exactly 4.
        return Err(CmdError::err(
            "wrong number of arguments for 'client|setinfo' command",
        ));
    }
    let (attr, val) = (args[2], args[3]);
    let lib_name = if is(attr, "lib-name") {
        true
    } else if is(attr, "lib-ver") {
        false
    } else {
        let mut m = b"ERR Unrecognized option '".to_vec();
        m.extend_from_slice(attr);
        m.push(b'\'');
        return Err(CmdError::Msg(m));
    };
    if !valid_client_name(val) {
        let mut m = b"ERR ".to_vec();
        m.extend_from_slice(attr);
        m.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
        return Err(CmdError::Msg(m));
    }
    let v = (!val.is_empty()).then(|| val.to_vec());
    let c = ctx.client();
    if lib_name {
        c.lib_name = v;
    } else {
        c.lib_ver = v;
    }
    ctx.out().ok();
    Ok(())
}

/// Redis 7.0's CLIENT HELP text (all of it, as Redis prints it).
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
];

/// Writes a help text as Redis's addReplyHelp does: status lines in an array.
pub(crate) fn reply_help(ctx: &mut Ctx, lines: &[&str]) {
    let mut out = ctx.out();
    out.array_len(lines.len());
    for l in lines {
        out.simple(l);
    }
}

/// CLIENT HELP
pub fn client_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, CLIENT_HELP);
    Ok(())
}

pub fn client_caching(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_getredir(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_info(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_kill(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_list(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_no_evict(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_pause(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_reply(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_tracking(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_trackinginfo(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_unpause(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn auth(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn reset(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

#[cfg(test)]
mod tests {
    use crate::resp::{decode_reply, Reply};
    use crate::{Config, ConnInfo, Engine, UnixMillis};

    fn run(eng: &mut Engine, id: crate::ClientId, cmd: &str) -> Reply {
        let mut args = Vec::new();
        assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
        eng.feed(UnixMillis(1000), id, &crate::golden::encode_request(&args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        let (r, n) = decode_reply(&out).unwrap().unwrap();
        assert_eq!(n, out.len(), "one reply");
        r
    }

    fn b(s: &str) -> Reply {
        Reply::bulk(s.as_bytes())
    }

    #[test]
    fn hello_full_reply() {
        let mut eng = Engine::new(Config::default(), 1);
        let _ = eng.connect(UnixMillis(0), ConnInfo::default());
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        let want = |proto| {
            Reply::Map(vec![
                (b("server"), b("redis")),
                (b("version"), b("7.0.15")),
                (b("proto"), Reply::Int(proto)),
                (b("id"), Reply::Int(2)),
                (b("mode"), b("standalone")),
                (b("role"), b("master")),
                (b("modules"), Reply::Array(vec![])),
            ])
        };
        // RESP2 flattens the map.
        let Reply::Array(flat) = run(&mut eng, id, "HELLO") else {
            panic!("array")
        };
        assert_eq!(flat.len(), 14);
        assert_eq!(flat[5], Reply::Int(2));
        assert_eq!(run(&mut eng, id, "HELLO 3 SETNAME app"), want(3));
        assert_eq!(run(&mut eng, id, "CLIENT GETNAME"), b("app"));
        assert_eq!(run(&mut eng, id, "HELLO 3 AUTH default anything"), want(3));
        assert_eq!(
            run(&mut eng, id, "HELLO 3 AUTH bob x"),
            Reply::error("WRONGPASS invalid username-password pair or user is disabled.")
        );
        assert_eq!(run(&mut eng, id, "CLIENT ID"), Reply::Int(2));
        assert_eq!(run(&mut eng, id, "CLIENT GETNAME"), b("app"));
        eng.server_mut().config.requirepass = Some(b"pw".to_vec());
        assert!(run(&mut eng, id, "HELLO 2 AUTH default x").is_error());
        let Reply::Array(flat) = run(&mut eng, id, "HELLO 2 AUTH default pw") else {
            panic!("array")
        };
        assert_eq!(flat[5], Reply::Int(2));
    }

    #[test]
    fn setinfo_and_names() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(UnixMillis(0), ConnInfo::default());
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO LIB-NAME redis-py"),
            Reply::simple("OK")
        );
        assert_eq!(
            eng.client(id).unwrap().lib_name.as_deref(),
            Some(&b"redis-py"[..])
        );
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO lib-ver \"1 2\""),
            Reply::error("ERR lib-ver cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO foo x"),
            Reply::error("ERR Unrecognized option 'foo'")
        );
        assert_eq!(
            run(&mut eng, id, "CLIENT SETINFO lib-ver x y"),
            Reply::error("ERR wrong number of arguments for 'client|setinfo' command")
        );
        assert_eq!(run(&mut eng, id, "CLIENT SETNAME x"), Reply::simple("OK"));
        assert_eq!(
            run(&mut eng, id, "CLIENT SETNAME \"\""),
            Reply::simple("OK")
        );
        assert_eq!(run(&mut eng, id, "CLIENT GETNAME"), Reply::Nil);
    }
}
