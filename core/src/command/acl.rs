//! The ACL command (Redis 7.0's aclCommand) and the ACL checks dispatch, EXEC and scripts make
//! (processCommand's ACLCheckAllPerm with its ACL LOG entry). The model is core/src/acl.rs.

use super::{is, CmdError, CommandSpec, Ctx};
use crate::acl::{self, Denied, LogContext};
use crate::engine::{Client, ClientHandle, Event, Server};
use crate::time::UnixMillis;

/// The user a client is authenticated as (Redis's c->user), by name.
pub(crate) fn user_of<'a>(srv: &'a Server, c: &Client) -> Option<&'a acl::User> {
    srv.acl.users.get(&c.user[..])
}

fn pubsub_all(srv: &Server) -> bool {
    srv.config.acl_pubsub_default.0 == 1
}

/// Redis's ACLCheckAllPerm for `c` running `cmd args`: Ok, or the reason and the argument.
pub(crate) fn check(
    srv: &Server,
    c: &Client,
    cmd: &CommandSpec,
    args: &[&[u8]],
) -> Result<(), (Denied, usize)> {
    match user_of(srv, c) {
        Some(u) => u.check(cmd, args),
        // A deleted user's clients are closed and made "default" at once: never reached.
        None => Err((Denied::Cmd, 0)),
    }
}

/// Redis's addACLLogEntry for a denied command of client `slot`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_denied(
    now: UnixMillis,
    srv: &mut Server,
    clients: &slab::Slab<Client>,
    slot: usize,
    cmd: &CommandSpec,
    args: &[&[u8]],
    why: Denied,
    pos: usize,
    context: LogContext,
) {
    let object = match why {
        Denied::Cmd => cmd.name.as_bytes().to_vec(),
        Denied::Key | Denied::Channel => args.get(pos).map_or(Vec::new(), |a| a.to_vec()),
        Denied::Auth => args[0].to_vec(),
    };
    let username = clients[slot].user.to_vec();
    add_log(now, srv, clients, slot, why, context, object, username);
}

#[allow(clippy::too_many_arguments)]
fn add_log(
    now: UnixMillis,
    srv: &mut Server,
    clients: &slab::Slab<Client>,
    slot: usize,
    why: Denied,
    context: LogContext,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let mut info = Vec::new();
    let monitor = srv.intro.monitors.contains(&slot);
    super::connection::client_info_line(&mut info, slot, &clients[slot], now, 0, monitor);
    let max = usize::try_from(srv.config.acllog_max_len).unwrap_or(usize::MAX);
    srv.acl
        .log(why, context, object, username, now.0, info, max);
}

/// Redis's processCommand text for a refused command.
pub(crate) fn noperm_text(why: Denied, cmd: &CommandSpec) -> Vec<u8> {
    match why {
        Denied::Cmd => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            cmd.name
        )
        .into_bytes(),
        Denied::Key => {
            b"NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_vec()
        }
        Denied::Channel => {
            b"NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_vec()
        }
        Denied::Auth => b"ERR no permission".to_vec(),
    }
}

/// EXEC's text when the rules changed after the command was queued (multi.c).
pub(crate) fn exec_noperm_text(why: Denied) -> Vec<u8> {
    let reason = match why {
        Denied::Cmd => "no permission to execute the command or subcommand",
        Denied::Key => "no permission to touch the specified keys",
        Denied::Channel => "no permission to access one of the channels used as arguments",
        Denied::Auth => "no permission",
    };
    format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}").into_bytes()
}

/// A script's redis.call refused (script.c's scriptVerifyACL + getAclErrorMessage).
pub(crate) fn script_noperm_text(why: Denied) -> String {
    let m = match why {
        Denied::Cmd => "can't run this command or subcommand",
        Denied::Key => "can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel => "can't publish to the channel mentioned in the command",
        Denied::Auth => "lacking the permissions for the command",
    };
    format!("The user executing the script {m}")
}

/// Redis's ACLAuthenticateUser: on success the client is that user; a failure is logged.
/// `cmd_name` is the command's name as sent (the log's object).
pub(crate) fn authenticate(
    ctx: &mut Ctx,
    cmd_name: &[u8],
    user: &[u8],
    pass: &[u8],
) -> Result<(), CmdError> {
    if ctx.srv.acl.credentials_ok(user, pass) {
        let c = ctx.client();
        c.authenticated = true;
        c.user = user.into();
        return Ok(());
    }
    let context = if ctx.client_ref().tx.active {
        LogContext::Multi
    } else {
        LogContext::Toplevel
    };
    let object = cmd_name.to_vec();
    add_log(
        ctx.now,
        ctx.srv,
        ctx.clients,
        ctx.handle.0,
        Denied::Auth,
        context,
        object,
        user.to_vec(),
    );
    Err(CmdError::Msg(
        b"WRONGPASS invalid username-password pair or user is disabled.".to_vec(),
    ))
}

/// Closes every client authenticated as `name` (Redis's ACLFreeUserAndKillClients): the
/// caller after its reply, the others at once.
fn kill_clients_of(ctx: &mut Ctx, name: &[u8]) {
    let me = ctx.handle.0;
    for (slot, c) in ctx.clients.iter_mut() {
        if &c.user[..] != name {
            continue;
        }
        c.user = b"default"[..].into();
        c.authenticated = false;
        if slot == me {
            c.close_after_reply = true;
        } else {
            c.close_asap = true;
            ctx.srv.events.push_back(Event::Close(ClientHandle(slot)));
        }
    }
}

/// ACLKillPubsubClientsIfNeeded's last step: subscribers of `name` whose channels the new
/// patterns no longer allow are closed.
fn kill_pubsub_clients(ctx: &mut Ctx, name: &[u8], upcoming: &[Vec<u8>]) {
    for (slot, c) in ctx.clients.iter_mut() {
        if &c.user[..] != name || !super::pubsub::is_pubsub(c) {
            continue;
        }
        let (channels, patterns) = super::pubsub::subscriptions(c);
        let kill = patterns.iter().any(|p| !acl::channel_in(upcoming, p, true))
            || channels
                .iter()
                .any(|ch| !acl::channel_in(upcoming, ch, false));
        if kill {
            c.close_asap = true;
            ctx.srv.events.push_back(Event::Close(ClientHandle(slot)));
        }
    }
}

/// ACL SETUSER username [rule ...]
pub fn acl_setuser(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let name = args[2];
    if name
        .iter()
        .any(|&c| c == 0 || c.is_ascii_whitespace() || c == 0x0b)
    {
        return Err(CmdError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let all = pubsub_all(ctx.srv);
    let shrunk = ctx
        .srv
        .acl
        .set_user(name, &args[3..], all)
        .map_err(CmdError::err)?;
    if let Some(upcoming) = shrunk {
        kill_pubsub_clients(ctx, name, &upcoming);
    }
    ctx.out().ok();
    Ok(())
}

/// ACL DELUSER username [username ...]
pub fn acl_deluser(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args[2..].iter().any(|u| super::c_str(u) == b"default") {
        return Err(CmdError::err("The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for name in &args[2..] {
        if ctx.srv.acl.users.remove(*name).is_some() {
            kill_clients_of(ctx, name);
            deleted += 1;
        }
    }
    ctx.out().int(deleted);
    Ok(())
}

/// ACL GETUSER username
pub fn acl_getuser(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match ctx.srv.acl.users.get(args[2]).map(|u| u.getuser()) {
        Some(r) => ctx.out().reply(&r),
        None => ctx.out().nil(),
    }
    Ok(())
}

/// ACL LIST
pub fn acl_list(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let lines = ctx.srv.acl.list_lines();
    let mut out = ctx.out();
    out.array_len(lines.len());
    for l in &lines {
        out.bulk(l);
    }
    Ok(())
}

/// ACL USERS
pub fn acl_users(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let names: Vec<Vec<u8>> = ctx.srv.acl.users.keys().cloned().collect();
    let mut out = ctx.out();
    out.array_len(names.len());
    for n in &names {
        out.bulk(n);
    }
    Ok(())
}

/// ACL WHOAMI
pub fn acl_whoami(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let name = ctx.client_ref().user.clone();
    ctx.out().bulk(&name);
    Ok(())
}

/// ACL CAT [category]
pub fn acl_cat(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    match args.len() {
        2 => {
            let mut out = ctx.out();
            out.array_len(acl::CATEGORIES.len());
            for c in acl::CATEGORIES {
                out.bulk(c.as_bytes());
            }
        }
        3 => {
            let Some(cat) = acl::category_index(args[2]) else {
                let mut m = b"ERR Unknown category '".to_vec();
                m.extend_from_slice(super::truncated(args[2], 128));
                m.push(b'\'');
                return Err(CmdError::Msg(m));
            };
            let names: Vec<&str> = acl::universe().in_category(cat).collect();
            let mut out = ctx.out();
            out.array_len(names.len());
            for n in names {
                out.bulk(n.as_bytes());
            }
        }
        _ => return Err(subcommand_syntax(args)),
    }
    Ok(())
}

/// Redis's addReplySubcommandSyntaxError.
fn subcommand_syntax(args: &[&[u8]]) -> CmdError {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    m.extend_from_slice(super::truncated(args[1], 128));
    m.extend_from_slice(b"'. Try ACL HELP.");
    CmdError::Msg(m)
}

/// ACL GENPASS [bits]
pub fn acl_genpass(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let mut bits = 256;
    if let Some(b) = args.get(2) {
        bits = super::parse_int(b)?;
    }
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::err("ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    let Some(host) = ctx.srv.acl_host.as_mut() else {
        return Err(CmdError::err(
            "ACL GENPASS needs random bytes from the host: this Oxidis host provides none",
        ));
    };
    host.random_bytes(&mut bytes)
        .map_err(|e| CmdError::err(format!("ACL GENPASS could not read random bytes: {e}")))?;
    let mut hex = Vec::with_capacity(chars + 1);
    for b in bytes {
        hex.push(b"0123456789abcdef"[(b >> 4) as usize]);
        hex.push(b"0123456789abcdef"[(b & 15) as usize]);
    }
    hex.truncate(chars);
    ctx.out().bulk(&hex);
    Ok(())
}

/// ACL LOG [count | RESET]
pub fn acl_log(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 3 {
        return Err(subcommand_syntax(args));
    }
    let mut count: i64 = 10;
    if let Some(a) = args.get(2) {
        if is(a, "reset") {
            ctx.srv.acl.log.clear();
            ctx.out().ok();
            return Ok(());
        }
        count = super::parse_int(a)?.max(0);
    }
    let now = ctx.now.0;
    let entries: Vec<acl::LogEntry> = ctx
        .srv
        .acl
        .log
        .iter()
        .take(count as usize)
        .cloned()
        .collect();
    let mut out = ctx.out();
    out.array_len(entries.len());
    for e in &entries {
        out.map_len(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(match e.reason {
            Denied::Cmd => b"command".as_slice(),
            Denied::Key => b"key",
            Denied::Channel => b"channel",
            Denied::Auth => b"auth",
        });
        out.bulk(b"context");
        out.bulk(match e.context {
            LogContext::Toplevel => b"toplevel".as_slice(),
            LogContext::Multi => b"multi",
            LogContext::Lua => b"lua",
        });
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double(now.saturating_sub(e.ctime) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(&e.client_info);
    }
    Ok(())
}

/// ACL DRYRUN username command [arg ...]
pub fn acl_dryrun(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let Some(user) = ctx.srv.acl.users.get(args[2]) else {
        let mut m = b"ERR User '".to_vec();
        m.extend_from_slice(super::c_str(args[2]));
        m.extend_from_slice(b"' not found");
        return Err(CmdError::Msg(m));
    };
    let argv = &args[3..];
    // lookupCommand: a container alone is itself (then refused by its arity).
    let mut cmd = super::lookup(argv[0]);
    if let Some(c) = cmd {
        if !c.subcommands.is_empty() && argv.len() >= 2 {
            cmd = c.subcommand(argv[1]);
        }
    }
    let Some(cmd) = cmd else {
        let mut m = b"ERR Command '".to_vec();
        m.extend_from_slice(super::c_str(argv[0]));
        m.extend_from_slice(b"' not found");
        return Err(CmdError::Msg(m));
    };
    if !cmd.arity_ok(argv.len()) {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{}' command",
            cmd.name
        )));
    }
    match user.check(cmd, argv) {
        Ok(()) => ctx.out().ok(),
        Err((why, idx)) => {
            let mut m = Vec::new();
            match why {
                Denied::Key | Denied::Channel => {
                    m.extend_from_slice(b"This user has no permissions to access the '");
                    m.extend_from_slice(super::c_str(argv[idx]));
                    m.extend_from_slice(if why == Denied::Key {
                        b"' key".as_slice()
                    } else {
                        b"' channel"
                    });
                }
                _ => m.extend_from_slice(
                    format!(
                        "This user has no permissions to run the '{}' command",
                        cmd.name
                    )
                    .as_bytes(),
                ),
            }
            ctx.out().bulk(&m);
        }
    }
    Ok(())
}

const NO_ACLFILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL LOAD
pub fn acl_load(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let file = String::from_utf8_lossy(&ctx.srv.config.aclfile).to_string();
    if file.is_empty() {
        return Err(CmdError::err(NO_ACLFILE));
    }
    load_file(ctx.srv, ctx.clients, &file, Some(ctx.handle.0)).map_err(CmdError::err)?;
    ctx.out().ok();
    Ok(())
}

/// Reads and applies the ACL file through the host. As in Redis (the old users are freed), every
/// client authenticated as a user other than "default" is closed: `caller` after its reply.
pub(crate) fn load_file(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    file: &str,
    caller: Option<usize>,
) -> Result<(), Vec<u8>> {
    let text = match srv.acl_host.as_mut().map(|h| h.read_file(file)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return Err(format!("Error loading ACLs, opening file '{file}': {e}").into_bytes())
        }
        None => {
            return Err(format!(
                "Error loading ACLs, opening file '{file}': this Oxidis host has no files"
            )
            .into_bytes())
        }
    };
    let all = pubsub_all(srv);
    srv.acl.load_text(file, &text, all)?;
    for (slot, c) in clients.iter_mut() {
        if &c.user[..] != b"default" {
            c.user = b"default"[..].into();
            c.authenticated = false;
            if Some(slot) == caller {
                c.close_after_reply = true;
            } else {
                c.close_asap = true;
                srv.events.push_back(Event::Close(ClientHandle(slot)));
            }
        }
    }
    Ok(())
}

/// ACL SAVE
pub fn acl_save(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let file = String::from_utf8_lossy(&ctx.srv.config.aclfile).to_string();
    if file.is_empty() {
        return Err(CmdError::err(NO_ACLFILE));
    }
    let mut text = Vec::new();
    for l in ctx.srv.acl.list_lines() {
        text.extend_from_slice(&l);
        text.push(b'\n');
    }
    let ok = ctx
        .srv
        .acl_host
        .as_mut()
        .is_some_and(|h| h.write_file(&file, &text).is_ok());
    if !ok {
        return Err(CmdError::err("There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.out().ok();
    Ok(())
}

const ACL_HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

/// ACL HELP
pub fn acl_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    super::connection::reply_help(ctx, ACL_HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::resp::Reply;
    use crate::testing::Session;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    type Files = Rc<RefCell<HashMap<String, Vec<u8>>>>;

    /// Files in memory; seeded bytes (tests only: real hosts give secret ones).
    struct MemHost(Files, u8);

    impl crate::acl::AclHost for MemHost {
        fn read_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
            self.0
                .borrow()
                .get(path)
                .cloned()
                .ok_or_else(|| "No such file or directory".to_string())
        }
        fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
            self.0.borrow_mut().insert(path.to_string(), data.to_vec());
            Ok(())
        }
        fn random_bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
            for b in buf {
                self.1 = self.1.wrapping_mul(31).wrapping_add(7);
                *b = self.1;
            }
            Ok(())
        }
    }

    fn session(files: &Files) -> Session {
        let cfg = crate::Config {
            aclfile: b"/acl/users.acl".to_vec(),
            ..Default::default()
        };
        let mut s = Session::new(1);
        s.eng = crate::Engine::new(cfg, 1);
        s.eng.set_acl_host(Box::new(MemHost(files.clone(), 1)));
        s.id = s.eng.connect(crate::testing::NOW, Default::default());
        s
    }

    // The texts below are redis-server 7.0.15's (started with --aclfile).
    #[test]
    fn acl_save_then_load_round_trips_the_users() {
        let files = Files::default();
        let mut s = session(&files);
        s.cmd(&["ACL", "SETUSER", "u1", "on", ">pw", "~k:*", "+get"]);
        s.cmd(&["ACL", "SETUSER", "u2", "on", ">x", "%R~a*", "(+set ~b)"]);
        assert_eq!(s.cmd(&["ACL", "SAVE"]), Reply::simple("OK"));
        let saved = files.borrow()["/acl/users.acl"].clone();
        assert_eq!(
            String::from_utf8(saved).unwrap(),
            "user default on nopass ~* &* +@all\n\
             user u1 on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k:* resetchannels -@all +get\n\
             user u2 on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 %R~a* resetchannels -@all (~b resetchannels -@all +set)\n"
        );
        s.cmd(&["ACL", "DELUSER", "u1", "u2"]);
        assert_eq!(s.cmd(&["ACL", "LOAD"]), Reply::simple("OK"));
        assert_eq!(s.strings(&["ACL", "USERS"]), ["default", "u1", "u2"]);
    }

    #[test]
    fn acl_load_reports_every_error_and_changes_nothing() {
        let files = Files::default();
        let mut s = session(&files);
        files.borrow_mut().insert(
            "/acl/users.acl".into(),
            b"user u1 on +nosuch +get\nbogus line\nuser u2 on %X~k\nuser u2\nuser u3 (+get\n"
                .to_vec(),
        );
        assert_eq!(
            s.cmd(&["ACL", "LOAD"]),
            Reply::Error(b"ERR /acl/users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. /acl/users.acl:2 should start with user keyword followed by the username. /acl/users.acl:3: Syntax error. WARNING: Duplicate user 'u2' found on line 4. /acl/users.acl:5: Unmatched parenthesis in selector definition.WARNING: ACL errors detected, no change to the previously active ACL rules was performed".to_vec())
        );
        assert_eq!(s.strings(&["ACL", "USERS"]), ["default"]);
        files.borrow_mut().insert(
            "/acl/users.acl".into(),
            b"user default on nopass ~* &* +@all\n\n  user u9 on >pw ~k:* +get  \n".to_vec(),
        );
        assert_eq!(s.cmd(&["ACL", "LOAD"]), Reply::simple("OK"));
        assert_eq!(s.strings(&["ACL", "USERS"]), ["default", "u9"]);
    }

    #[test]
    fn acl_load_closes_the_clients_of_other_users() {
        let files = Files::default();
        let mut s = session(&files);
        s.cmd(&["ACL", "SETUSER", "u1", "on", "nopass", "+@all", "~*"]);
        s.cmd(&["ACL", "SAVE"]);
        let other = s.eng.connect(crate::testing::NOW, Default::default());
        s.eng.feed(crate::testing::NOW, other, b"AUTH u1 x\r\n");
        assert!(!s.eng.should_close(other));
        assert_eq!(s.cmd(&["ACL", "LOAD"]), Reply::simple("OK"));
        assert!(s.eng.should_close(other));
        assert!(!s.eng.should_close(s.id));
    }

    #[test]
    fn genpass_takes_the_hosts_bytes_as_hex() {
        let files = Files::default();
        let mut s = session(&files);
        let Reply::Bulk(p) = s.cmd(&["ACL", "GENPASS", "10"]) else {
            panic!("not a bulk")
        };
        // bits 10 -> 3 hex characters of the host's bytes 0x26 0xa1.
        assert_eq!(p, b"26a");
        let mut bare = Session::new(1);
        assert!(bare.cmd(&["ACL", "GENPASS"]).is_error());
    }

    #[test]
    fn user_lines_of_the_config_file_make_users() {
        let mut cfg = crate::Config::default();
        cfg.load_conf("user u1 on >pw +get ~k*\nuser default on nopass ~* &* +@all -flushall\n")
            .unwrap();
        let mut s = Session::new(1);
        s.eng = crate::Engine::new(cfg, 1);
        s.id = s.eng.connect(crate::testing::NOW, Default::default());
        assert_eq!(
            s.strings(&["ACL", "LIST"]),
            [
                "user default on nopass sanitize-payload ~* &* +@all -flushall",
                "user u1 on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k* resetchannels -@all +get",
            ]
        );
    }

    // The texts are redis-server 7.0.15's for the same config files.
    #[test]
    fn bad_user_lines_are_fatal_config_errors() {
        let err = |text: &str| crate::Config::default().load_conf(text).unwrap_err();
        assert!(
            err("port 1\nuser u1 on >pw +get ~k*\nuser u2 on %X~k\n").ends_with(
                "at line 3\n>>> 'user u2 on %X~k'\nError in user declaration 'u2': Syntax error"
            )
        );
        assert!(err("user u1 on >pw +get ~k*\nuser u1 on\n").ends_with(
            "Error in user declaration 'u1': Duplicate user found. A user can only be defined once in config files"
        ));
        assert!(err("user u1 on >pw +nosuchcmd\n").ends_with(
            "Error loading ACL rule '+nosuchcmd' for the user named 'u1': Unknown command or category name in ACL"
        ));
    }
}
