//! MIGRATE and RESTORE-ASKING (cluster.c's migrateCommand), sans-I/O. Redis's MIGRATE blocks
//! the whole server on a synchronous socket; here only the calling client waits: the engine
//! asks the host for an outgoing connection (`Event::ConnectMigrate`, answered with
//! `Engine::migrate_link_connected` / `migrate_link_failed`), writes AUTH, SELECT and the
//! RESTORE(-ASKING) commands with DUMP payloads pipelined on it, reads one reply line each,
//! then answers the caller (+OK, an error) and deletes the moved keys unless COPY. The
//! connection is kept per host:port and closed after 10 s unused, as Redis's
//! migrateCachedSocket (a cached link remembers the database it selected).

use super::{is, CmdError, Ctx};
use crate::engine::{Client, ClientHandle, ConnInfo, Engine, Event, Server};
use crate::time::UnixMillis;

/// MIGRATE_SOCKET_CACHE_TTL: an idle cached connection is closed after this.
const CACHE_TTL_MS: u64 = 10_000;

/// The server's MIGRATE connections.
#[derive(Debug, Default)]
pub struct Migrations {
    links: Vec<Link>,
    next_token: u64,
    /// The host's blocking exchange, for a MIGRATE whose caller cannot wait.
    sync: Option<SyncHost>,
}

/// Why a blocking MIGRATE exchange failed (migrateCommand's three IOERR texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrateIoError {
    Connect,
    Write,
    Read,
}

impl MigrateIoError {
    fn text(self) -> &'static [u8] {
        match self {
            MigrateIoError::Connect => b"IOERR error or timeout connecting to the client",
            MigrateIoError::Write => b"IOERR error or timeout writing to target instance",
            MigrateIoError::Read => b"IOERR error or timeout reading to target instance",
        }
    }
}

/// MIGRATE inside MULTI/EXEC or a script, where its caller cannot wait for the event loop:
/// the host runs the exchange synchronously, as Redis's migrateCommand always does (it blocks
/// the whole server for at most the timeout per step). Without one (the wasm engine) the
/// command answers as Redis does when the target cannot be reached.
pub trait MigrateHost {
    /// Connects to host:port within `timeout_ms`, writes `request` and reads `lines` reply
    /// lines (without their CRLF), each step within `timeout_ms`.
    fn exchange(
        &mut self,
        host: &str,
        port: u16,
        request: &[u8],
        lines: usize,
        timeout_ms: u64,
    ) -> Result<Vec<Vec<u8>>, MigrateIoError>;
}

struct SyncHost(Box<dyn MigrateHost>);

impl std::fmt::Debug for SyncHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MigrateHost")
    }
}

#[derive(Debug)]
struct Link {
    /// The target as MIGRATE named it ("host:port" of its arguments).
    target: Vec<u8>,
    token: u64,
    /// The outgoing client once the host connected it.
    client: Option<usize>,
    /// The database selected on it (-1: unknown, SELECT next time).
    last_dbid: i64,
    last_use: u64,
    job: Option<Job>,
}

#[derive(Debug)]
struct Job {
    caller: usize,
    caller_id: u64,
    db: usize,
    dbid: i64,
    keys: Vec<Vec<u8>>,
    copy: bool,
    auth: bool,
    select: bool,
    request: Vec<u8>,
    /// The bytes of the AUTH request at its start.
    auth_len: usize,
    /// The reply lines expected (AUTH, SELECT, one per key) and those read so far.
    expect: usize,
    lines: Vec<Vec<u8>>,
    deadline: u64,
    /// Not sent yet (waiting for the connection).
    sent: bool,
    retried: bool,
}

impl Migrations {
    fn link_of_client(&self, slot: usize) -> Option<usize> {
        self.links.iter().position(|l| l.client == Some(slot))
    }

    /// Whether the client is one of MIGRATE's outgoing connections (its input is replies).
    pub(crate) fn is_link(&self, slot: usize) -> bool {
        self.link_of_client(slot).is_some()
    }

    pub(crate) fn wants_tick(&self) -> bool {
        !self.links.is_empty()
    }
}

fn append_request(out: &mut Vec<u8>, args: &[&[u8]]) {
    crate::resp::append_request(out, args);
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
/// [AUTH2 username password] [KEYS key [key ...]]
pub fn migrate(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let (mut copy, mut replace) = (false, false);
    let mut user: Option<&[u8]> = None;
    let mut pass: Option<&[u8]> = None;
    let (mut first_key, mut num_keys) = (3, 1);
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = args[j];
        if is(a, "copy") {
            copy = true;
        } else if is(a, "replace") {
            replace = true;
        } else if is(a, "auth") {
            if more == 0 {
                return Err(CmdError::Syntax);
            }
            j += 1;
            pass = Some(args[j]);
        } else if is(a, "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            user = Some(args[j + 1]);
            pass = Some(args[j + 2]);
            j += 2;
        } else if is(a, "keys") {
            if !args[3].is_empty() {
                return Err(CmdError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            first_key = j + 1;
            num_keys = args.len() - j - 1;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let mut timeout = super::parse_int(args[5])?;
    let dbid = super::parse_int(args[4])?;
    if timeout <= 0 {
        timeout = 1000;
    }
    let now = ctx.now;
    let db = ctx.client_ref().db;
    let cluster = ctx.srv.cluster.is_some();
    // The keys that are here (all missing: +NOKEY), their TTLs and DUMP payloads.
    let mut keys = Vec::new();
    let mut request = Vec::new();
    if let Some(p) = pass {
        let mut a: Vec<&[u8]> = vec![b"AUTH"];
        a.extend(user);
        a.push(p);
        append_request(&mut request, &a);
    }
    let auth_len = request.len();
    let mut restores = Vec::new();
    for key in &args[first_key..first_key + num_keys] {
        let d = &mut ctx.srv.dbs[db];
        let Some(v) = d.lookup_read(key, now) else {
            continue;
        };
        let payload = crate::rdb::dump_payload(v, &ctx.srv.config);
        let ttl = match ctx.srv.dbs[db].expire_at(key) {
            Some(at) => (at as i64 - now.0 as i64).max(1),
            None => 0,
        };
        keys.push(key.to_vec());
        restores.push((key.to_vec(), ttl.to_string(), payload));
    }
    if keys.is_empty() {
        ctx.out().simple("NOKEY");
        return Ok(());
    }
    if ctx.client_ref().tx.in_exec {
        return migrate_sync(
            ctx, args, request, restores, keys, dbid, copy, replace, timeout,
        );
    }
    let mut target = args[1].to_vec();
    target.push(b':');
    target.extend_from_slice(args[2]);
    let caller = ctx.handle.0;
    let caller_id = ctx.client_ref().client_id;
    let m = &mut ctx.srv.migrate;
    let at = match m.links.iter().position(|l| l.target == target) {
        Some(i) if m.links[i].job.is_none() => i,
        _ => {
            // A new connection (Redis connects within `timeout` or answers IOERR).
            let Some(port) = std::str::from_utf8(args[2])
                .ok()
                .and_then(|p| p.parse::<u16>().ok())
            else {
                return Err(CmdError::Msg(
                    b"IOERR error or timeout connecting to the client".to_vec(),
                ));
            };
            m.next_token += 1;
            let token = m.next_token;
            m.links.push(Link {
                target,
                token,
                client: None,
                last_dbid: -1,
                last_use: now.0,
                job: None,
            });
            ctx.srv.events.push_back(Event::ConnectMigrate {
                host: String::from_utf8_lossy(args[1]).into_owned(),
                port,
                token,
                timeout_ms: timeout as u64,
            });
            ctx.srv.migrate.links.len() - 1
        }
    };
    let link = &mut ctx.srv.migrate.links[at];
    let select = link.last_dbid != dbid;
    if select {
        append_request(&mut request, &[b"SELECT", dbid.to_string().as_bytes()]);
    }
    append_restores(&mut request, &restores, cluster, replace);
    let expect = usize::from(pass.is_some()) + usize::from(select) + keys.len();
    link.job = Some(Job {
        caller,
        caller_id,
        db,
        dbid,
        keys,
        copy,
        auth: pass.is_some(),
        select,
        request,
        auth_len,
        expect,
        lines: Vec::new(),
        deadline: now.0 + timeout as u64,
        sent: false,
        retried: false,
    });
    super::blocking::block_migrate(ctx);
    start_sending(ctx.srv, ctx.clients, at);
    Ok(())
}

/// One RESTORE per key (RESTORE-ASKING on a cluster node, which the target may be importing
/// the slot for), as migrateCommand writes them.
fn append_restores(
    request: &mut Vec<u8>,
    restores: &[(Vec<u8>, String, Vec<u8>)],
    cluster: bool,
    replace: bool,
) {
    let name: &[u8] = if cluster {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for (k, ttl, payload) in restores {
        let mut a: Vec<&[u8]> = vec![name, k, ttl.as_bytes(), payload];
        if replace {
            a.push(b"REPLACE");
        }
        append_request(request, &a);
    }
}

/// MIGRATE whose caller cannot wait (EXEC, a script): through the host's blocking exchange,
/// with SELECT always sent (no cached connection state is shared with the event loop's links).
#[allow(clippy::too_many_arguments)]
fn migrate_sync(
    ctx: &mut Ctx,
    args: &[&[u8]],
    mut request: Vec<u8>,
    restores: Vec<(Vec<u8>, String, Vec<u8>)>,
    keys: Vec<Vec<u8>>,
    dbid: i64,
    copy: bool,
    replace: bool,
    timeout: i64,
) -> Result<(), CmdError> {
    let auth = !request.is_empty();
    let port = std::str::from_utf8(args[2])
        .ok()
        .and_then(|p| p.parse::<u16>().ok());
    let (Some(port), Some(host)) = (port, ctx.srv.migrate.sync.as_mut()) else {
        return Err(CmdError::Msg(MigrateIoError::Connect.text().to_vec()));
    };
    append_request(&mut request, &[b"SELECT", dbid.to_string().as_bytes()]);
    append_restores(&mut request, &restores, ctx.srv.cluster.is_some(), replace);
    let expect = usize::from(auth) + 1 + keys.len();
    let lines = host
        .0
        .exchange(
            &String::from_utf8_lossy(args[1]),
            port,
            &request,
            expect,
            timeout as u64,
        )
        .map_err(|e| CmdError::Msg(e.text().to_vec()))?;
    let (reply, delete) = outcome(&lines, usize::from(auth) + 1, &keys);
    let db = ctx.client_ref().db;
    if !copy && !delete.is_empty() {
        for k in &delete {
            if ctx.srv.dbs[db].delete(k, crate::lazyfree::FreeReason::ServerDel) {
                ctx.key_modified_in(db, k);
                ctx.srv.dirty += 1;
                ctx.notify(crate::config::notify::GENERIC, "del", k);
            }
        }
        propagate_del(ctx.srv, db, &delete);
    }
    reply.map_err(CmdError::Msg)?;
    ctx.out().ok();
    Ok(())
}

/// The reply lines of AUTH/SELECT (`skip` of them) and one RESTORE per key → the caller's
/// reply (the first error, as "Target instance replied with error: ...") and the keys the
/// target took (none if AUTH or SELECT failed).
fn outcome(
    lines: &[Vec<u8>],
    skip: usize,
    keys: &[Vec<u8>],
) -> (Result<(), Vec<u8>>, Vec<Vec<u8>>) {
    let first_err = lines
        .iter()
        .find(|l| l.first() == Some(&b'-'))
        .map(|l| l[1..].to_vec());
    let mut delete = Vec::new();
    let header_failed = lines[..skip.min(lines.len())]
        .iter()
        .any(|l| l.first() == Some(&b'-'));
    for (k, l) in keys.iter().zip(lines.iter().skip(skip)) {
        if !header_failed && l.first() != Some(&b'-') {
            delete.push(k.clone());
        }
    }
    let reply = match first_err {
        Some(e) => {
            let mut m = b"ERR Target instance replied with error: ".to_vec();
            m.extend_from_slice(&e);
            Err(m)
        }
        None => Ok(()),
    };
    (reply, delete)
}

/// RESTORE-ASKING: RESTORE that an importing node accepts (the ASKING command flag).
pub fn restore_asking(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    super::persistence::restore(ctx, args)
}

/// Writes the job's requests once the link is connected.
fn start_sending(srv: &mut Server, clients: &mut slab::Slab<Client>, at: usize) {
    let link = &mut srv.migrate.links[at];
    let Some(slot) = link.client else {
        return;
    };
    let Some(job) = link.job.as_mut().filter(|j| !j.sent) else {
        return;
    };
    job.sent = true;
    if let Some(c) = clients.get_mut(slot) {
        c.out.extend_from_slice(&job.request);
        srv.events.push_back(Event::Output(ClientHandle(slot)));
    }
}

/// Ends the job on link `at`: the caller gets `reply` (raw RESP) and is unblocked; on
/// success the moved keys go (unless COPY) and are propagated as DEL.
fn finish(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    at: usize,
    close: bool,
    reply: Result<(), Vec<u8>>,
    delete: Vec<Vec<u8>>,
) {
    let link = &mut srv.migrate.links[at];
    let Some(job) = link.job.take() else {
        return;
    };
    link.last_use = now.0;
    if close {
        if let Some(slot) = link.client {
            srv.events.push_back(Event::Close(ClientHandle(slot)));
        }
        srv.migrate.links.remove(at);
    }
    let alive = clients
        .get(job.caller)
        .is_some_and(|c| c.client_id == job.caller_id);
    if !alive {
        // The caller left meanwhile: the keys the target took still move.
        if !job.copy {
            for k in &delete {
                srv.dbs[job.db].delete(k, crate::lazyfree::FreeReason::ServerDel);
            }
            propagate_del(srv, job.db, &delete);
        }
        return;
    }
    if !job.copy && !delete.is_empty() {
        let cmd = super::lookup(b"migrate").expect("in the table");
        let mut ctx = Ctx {
            now,
            srv,
            clients,
            handle: ClientHandle(job.caller),
            cmd,
        };
        for k in &delete {
            if ctx.srv.dbs[job.db].delete(k, crate::lazyfree::FreeReason::ServerDel) {
                ctx.key_modified_in(job.db, k);
                ctx.srv.dirty += 1;
                let saved = ctx.clients[job.caller].db;
                ctx.clients[job.caller].db = job.db;
                ctx.notify(crate::config::notify::GENERIC, "del", k);
                ctx.clients[job.caller].db = saved;
            }
        }
        propagate_del(srv, job.db, &delete);
        srv.collect_pending_free();
    }
    let text = match &reply {
        Ok(()) => b"+OK\r\n".to_vec(),
        Err(e) => {
            super::intro::count_error(srv, e);
            let mut t = b"-".to_vec();
            t.extend_from_slice(e);
            t.extend_from_slice(b"\r\n");
            t
        }
    };
    super::blocking::unblock_migrate(srv, clients, job.caller, &text);
}

/// MIGRATE is propagated as DEL of the keys the target took (replaceClientCommandVector).
fn propagate_del(srv: &mut Server, db: usize, keys: &[Vec<u8>]) {
    if srv.persist.propagate && !keys.is_empty() {
        let mut a: Vec<&[u8]> = vec![b"DEL"];
        a.extend(keys.iter().map(Vec::as_slice));
        srv.persist.emit(db, &a);
    }
}

/// The host's connection for `Event::ConnectMigrate { token }` is up.
fn connected(srv: &mut Server, clients: &mut slab::Slab<Client>, token: u64, slot: usize) -> bool {
    let Some(at) = srv.migrate.links.iter().position(|l| l.token == token) else {
        return false;
    };
    srv.migrate.links[at].client = Some(slot);
    clients[slot].authenticated = true;
    start_sending(srv, clients, at);
    true
}

/// Reply lines from a MIGRATE link (its input is replies, not commands).
pub(crate) fn link_input(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
) {
    let Some(at) = srv.migrate.link_of_client(id.0) else {
        return;
    };
    loop {
        let Some(job) = srv.migrate.links[at].job.as_mut() else {
            // Nothing expected: whatever came is dropped.
            clients[id.0].inbuf_mut().clear();
            return;
        };
        let buf = clients[id.0].inbuf_mut();
        let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
            return;
        };
        let line: Vec<u8> = buf.drain(..end + 2).take(end).collect();
        job.lines.push(line);
        if job.lines.len() == job.expect {
            break;
        }
    }
    let link = &mut srv.migrate.links[at];
    let job = link.job.as_ref().expect("job");
    let skip = usize::from(job.auth) + usize::from(job.select);
    // The first error of AUTH, SELECT or a RESTORE is the caller's reply.
    let (reply, delete) = outcome(&job.lines, skip, &job.keys);
    link.last_dbid = if reply.is_ok() { job.dbid } else { -1 };
    finish(now, srv, clients, at, false, reply, delete);
}

/// The link's connection closed (or was closed): its job fails, retried once on a new
/// connection when nothing was answered yet (Redis's may_retry).
pub(crate) fn link_gone(srv: &mut Server, clients: &mut slab::Slab<Client>, slot: usize) {
    let Some(at) = srv.migrate.link_of_client(slot) else {
        return;
    };
    let now = UnixMillis(srv.last_tick_ms());
    fail_or_retry(now, srv, clients, at, "reading");
}

fn fail_or_retry(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    at: usize,
    what: &str,
) {
    let link = &mut srv.migrate.links[at];
    link.client = None;
    if link.job.is_none() {
        // An idle cached connection went away.
        srv.migrate.links.remove(at);
        return;
    }
    let retry = link
        .job
        .as_ref()
        .is_some_and(|j| !j.retried && j.lines.is_empty() && j.deadline > now.0);
    if retry {
        // A stale cached connection: reconnect once, selecting again.
        let job = link.job.as_mut().expect("job");
        job.retried = true;
        job.sent = false;
        if !job.select {
            let mut req = Vec::new();
            if job.auth {
                // AUTH stays first: split it off the front.
                let end = job.auth_len;
                req.extend_from_slice(&job.request[..end]);
                append_request(&mut req, &[b"SELECT", job.dbid.to_string().as_bytes()]);
                req.extend_from_slice(&job.request[end..]);
            } else {
                append_request(&mut req, &[b"SELECT", job.dbid.to_string().as_bytes()]);
                req.extend_from_slice(&job.request);
            }
            job.request = req;
            job.select = true;
            job.expect += 1;
        }
        srv.migrate.next_token += 1;
        let token = srv.migrate.next_token;
        let link = &mut srv.migrate.links[at];
        link.token = token;
        link.last_dbid = -1;
        let target = String::from_utf8_lossy(&link.target).into_owned();
        let (host, port) = target.rsplit_once(':').unwrap_or((&target, "0"));
        let timeout_ms = link.job.as_ref().map_or(1000, |j| j.deadline - now.0);
        srv.events.push_back(Event::ConnectMigrate {
            host: host.to_string(),
            port: port.parse().unwrap_or(0),
            token,
            timeout_ms,
        });
        return;
    }
    let msg = format!("IOERR error or timeout {what} to target instance").into_bytes();
    finish(now, srv, clients, at, true, Err(msg), Vec::new());
}

/// The cron: jobs past their timeout answer IOERR (and their connection is closed); idle
/// cached connections close after 10 s (migrateCloseTimedoutSockets).
pub(crate) fn cron(now: UnixMillis, srv: &mut Server, clients: &mut slab::Slab<Client>) {
    let mut i = 0;
    while i < srv.migrate.links.len() {
        let l = &srv.migrate.links[i];
        match &l.job {
            Some(j) if j.deadline <= now.0 => {
                let what = if l.client.is_none() {
                    "connecting"
                } else {
                    "reading"
                };
                if what == "connecting" {
                    let msg = b"IOERR error or timeout connecting to the client".to_vec();
                    finish(now, srv, clients, i, true, Err(msg), Vec::new());
                } else {
                    let msg = b"IOERR error or timeout reading to target instance".to_vec();
                    finish(now, srv, clients, i, true, Err(msg), Vec::new());
                }
                continue;
            }
            None if now.0.saturating_sub(l.last_use) > CACHE_TTL_MS => {
                if let Some(slot) = l.client {
                    srv.events.push_back(Event::Close(ClientHandle(slot)));
                }
                srv.migrate.links.remove(i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

impl Engine {
    /// Installs the host's blocking MIGRATE exchange (MIGRATE inside MULTI/EXEC or a script).
    pub fn set_migrate_host(&mut self, host: Box<dyn MigrateHost>) {
        self.srv.migrate.sync = Some(SyncHost(host));
    }

    /// The connection asked for by `Event::ConnectMigrate { token }` is up: it becomes an
    /// outgoing client whose output the host writes and whose input it feeds as usual. None:
    /// no longer wanted (the host closes the socket).
    pub fn migrate_link_connected(
        &mut self,
        now: UnixMillis,
        token: u64,
        info: ConnInfo,
    ) -> Option<ClientHandle> {
        if !self.srv.migrate.links.iter().any(|l| l.token == token) {
            return None;
        }
        let id = crate::engine::connect_outgoing(&mut self.srv, &mut self.clients, now, info);
        if connected(&mut self.srv, &mut self.clients, token, id.0) {
            Some(id)
        } else {
            self.clients.remove(id.0);
            None
        }
    }

    /// The host could not connect for `token`: MIGRATE answers IOERR. `refused`: the address
    /// resolved and the peer refused (Redis's non-blocking connect succeeds then, and the
    /// first write fails: "writing"); otherwise it timed out or did not resolve
    /// ("connecting").
    pub fn migrate_link_failed(&mut self, now: UnixMillis, token: u64, refused: bool) {
        let Some(at) = self.srv.migrate.links.iter().position(|l| l.token == token) else {
            return;
        };
        let msg = if refused {
            b"IOERR error or timeout writing to target instance".to_vec()
        } else {
            b"IOERR error or timeout connecting to the client".to_vec()
        };
        finish(
            now,
            &mut self.srv,
            &mut self.clients,
            at,
            true,
            Err(msg),
            Vec::new(),
        );
        self.run_unblocked(now);
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{ClientHandle, ConnInfo, Engine, Event};
    use crate::resp::{decode_reply, Reply};
    use crate::{Config, UnixMillis};

    const T: UnixMillis = UnixMillis(1_000);

    fn call(eng: &mut Engine, id: ClientHandle, cmd: &str) -> Vec<u8> {
        let mut args = Vec::new();
        assert!(crate::resp::split_args(cmd.as_bytes(), &mut args));
        eng.feed(T, id, &crate::resp::encode_request(&args));
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        out
    }

    fn reply(bytes: &[u8]) -> Reply {
        decode_reply(bytes).unwrap().unwrap().0
    }

    /// The host's part: the connection MIGRATE asks for, if any.
    fn connect_request(eng: &mut Engine) -> Option<(u16, u64)> {
        let mut found = None;
        while let Some(ev) = eng.poll_event() {
            if let Event::ConnectMigrate { port, token, .. } = ev {
                found = Some((port, token));
            }
        }
        found
    }

    /// Moves bytes both ways between the source's link and the target's client until quiet.
    fn pump(src: &mut Engine, link: ClientHandle, dst: &mut Engine, peer: ClientHandle) {
        for _ in 0..10 {
            let mut out = Vec::new();
            src.drain_output(link, &mut out);
            if !out.is_empty() {
                dst.feed(T, peer, &out);
            }
            let mut back = Vec::new();
            dst.drain_output(peer, &mut back);
            if !back.is_empty() {
                src.feed(T, link, &back);
            }
            if out.is_empty() && back.is_empty() {
                break;
            }
        }
    }

    #[test]
    fn migrate_moves_keys_through_a_host_connection_and_reuses_it() {
        let mut src = Engine::new(Config::default(), 1);
        let mut dst = Engine::new(Config::default(), 2);
        let c = src.connect(T, ConnInfo::default());
        let d = dst.connect(T, ConnInfo::default());
        call(&mut src, c, "SET a 1");
        call(&mut src, c, "RPUSH l x y");
        assert_eq!(call(&mut src, c, "MIGRATE 127.0.0.1 7000 a 3 1000"), b"");
        let (port, token) = connect_request(&mut src).expect("a connection is asked for");
        assert_eq!(port, 7000);
        let link = src
            .migrate_link_connected(T, token, ConnInfo::default())
            .expect("wanted");
        let peer = dst.connect(T, ConnInfo::default());
        pump(&mut src, link, &mut dst, peer);
        let mut out = Vec::new();
        src.drain_output(c, &mut out);
        assert_eq!(out, b"+OK\r\n");
        assert_eq!(reply(&call(&mut src, c, "EXISTS a")), Reply::Int(0));
        call(&mut dst, d, "SELECT 3");
        assert_eq!(reply(&call(&mut dst, d, "GET a")), Reply::bulk(b"1"));
        // The cached connection is reused (no new connect), SELECT skipped; COPY keeps the key;
        // the target's error is the caller's.
        assert_eq!(
            call(&mut src, c, "MIGRATE 127.0.0.1 7000 l 3 1000 COPY"),
            b""
        );
        assert!(connect_request(&mut src).is_none());
        pump(&mut src, link, &mut dst, peer);
        out.clear();
        src.drain_output(c, &mut out);
        assert_eq!(out, b"+OK\r\n");
        assert_eq!(reply(&call(&mut src, c, "EXISTS l")), Reply::Int(1));
        call(&mut src, c, "MIGRATE 127.0.0.1 7000 l 3 1000");
        pump(&mut src, link, &mut dst, peer);
        out.clear();
        src.drain_output(c, &mut out);
        assert_eq!(
            reply(&out),
            Reply::error(
                "ERR Target instance replied with error: BUSYKEY Target key name already exists."
            )
        );
        assert_eq!(reply(&call(&mut src, c, "EXISTS l")), Reply::Int(1));
        // An unused connection closes after 10 s.
        src.tick(UnixMillis(T.0 + 11_000));
        let mut closed = false;
        while let Some(ev) = src.poll_event() {
            closed |= ev == Event::Close(link);
        }
        assert!(closed);
    }

    /// In EXEC (or a script) without the host's blocking exchange (the wasm engine) MIGRATE
    /// answers as Redis does when the target cannot be reached, and the key stays.
    #[test]
    fn migrate_in_exec_without_a_blocking_host_is_an_ioerr() {
        let mut eng = Engine::new(Config::default(), 1);
        let id = eng.connect(T, ConnInfo::default());
        call(&mut eng, id, "SET k v");
        call(&mut eng, id, "MULTI");
        call(&mut eng, id, "MIGRATE 127.0.0.1 7000 k 0 1000");
        assert_eq!(
            call(&mut eng, id, "EXEC"),
            b"*1\r\n-IOERR error or timeout connecting to the client\r\n"
        );
        assert_eq!(connect_request(&mut eng), None);
        assert_eq!(call(&mut eng, id, "EXISTS k"), b":1\r\n");
    }

    #[test]
    fn migrate_answers_ioerr_on_failure_and_timeout() {
        let mut src = Engine::new(Config::default(), 1);
        let c = src.connect(T, ConnInfo::default());
        call(&mut src, c, "SET a 1");
        assert_eq!(
            reply(&call(&mut src, c, "MIGRATE h 1 nokey 0 10")),
            Reply::simple("NOKEY")
        );
        call(&mut src, c, "MIGRATE h 1 a 0 10");
        let (_, token) = connect_request(&mut src).unwrap();
        src.migrate_link_failed(T, token, true);
        let mut out = Vec::new();
        src.drain_output(c, &mut out);
        assert_eq!(
            reply(&out),
            Reply::error("IOERR error or timeout writing to target instance")
        );
        // Connected, but the target never answers: the timeout (ms) ends it.
        call(&mut src, c, "MIGRATE h 1 a 0 10");
        let (_, token) = connect_request(&mut src).unwrap();
        src.migrate_link_connected(T, token, ConnInfo::default())
            .unwrap();
        src.tick(UnixMillis(T.0 + 11));
        out.clear();
        src.drain_output(c, &mut out);
        assert_eq!(
            reply(&out),
            Reply::error("IOERR error or timeout reading to target instance")
        );
        assert_eq!(reply(&call(&mut src, c, "GET a")), Reply::bulk(b"1"));
    }
}
