//! Test support shared by the command modules' unit tests: one engine with one client at a
//! fixed time, and the few ways tests read its replies.

use crate::command::{CmdError, CommandSpec, Ctx};
use crate::keyspace::Db;
use crate::resp::{decode_reply, encode_request, Reply};
use crate::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};

/// A fixed, realistic "now" for tests (Nov 2023).
pub const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

pub struct Session {
    pub eng: Engine,
    pub id: ClientHandle,
}

impl Session {
    pub fn new(seed: u64) -> Session {
        let mut eng = Engine::new(Config::default(), seed);
        let id = eng.connect(NOW, ConnInfo::default());
        Session { eng, id }
    }

    /// Sends one request and returns every byte of output it produced.
    pub fn raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.eng.feed(NOW, self.id, &encode_request(args));
        let mut out = Vec::new();
        self.eng.drain_output(self.id, &mut out);
        out
    }

    /// Sends one request and decodes its one reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let out = self.raw(args);
        let (reply, used) = decode_reply(&out).expect("valid").expect("whole");
        assert_eq!(used, out.len(), "one reply");
        reply
    }

    /// The reply as an integer.
    pub fn int<A: AsRef<[u8]>>(&mut self, args: &[A]) -> i64 {
        match self.cmd(args) {
            Reply::Int(n) => n,
            other => panic!("integer expected, got {other:?}"),
        }
    }

    /// The reply as an array (or set) of bulk strings.
    pub fn strings<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<String> {
        match self.cmd(args) {
            Reply::Array(items) | Reply::Set(items) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => panic!("bulk expected, got {other:?}"),
                })
                .collect(),
            other => panic!("array expected, got {other:?}"),
        }
    }

    /// Runs `handler` as the command `name` (one the table does not have: a deliberately
    /// broken one, say) the way dispatch runs a command (call, then the CLIENT REPLY
    /// bookkeeping) and returns every byte of output.
    pub fn run_handler(
        &mut self,
        name: &'static str,
        handler: fn(&mut Ctx, &[&[u8]]) -> Result<(), CmdError>,
    ) -> Vec<u8> {
        let spec: &'static CommandSpec = Box::leak(Box::new(CommandSpec {
            name,
            arity: -1,
            flags: 0,
            first_key: 0,
            last_key: 0,
            key_step: 0,
            acl_categories: &[],
            group: "test",
            summary: "",
            since: "",
            complexity: "",
            tips_resp3: b"",
            key_specs_resp3: b"",
            doc_extra_count: 0,
            doc_extra_resp3: b"",
            handler: Some(handler),
            subcommands: &[],
        }));
        let (srv, clients) = self.eng.parts_mut();
        let c = &mut clients[self.id.0];
        crate::command::connection::before_command(c, c.out.len());
        crate::command::call(NOW, srv, clients, self.id, spec, &[name.as_bytes()]);
        crate::command::connection::after_command(&mut clients[self.id.0]);
        let mut out = Vec::new();
        self.eng.drain_output(self.id, &mut out);
        out
    }

    /// Database 0, for looking inside.
    pub fn db(&mut self) -> &mut Db {
        &mut self.eng.server_mut().dbs[0]
    }

    /// OBJECT ENCODING of a key of database 0 ("none" when it is missing).
    pub fn encoding(&mut self, key: &str) -> &'static str {
        self.db()
            .keys
            .get(key.as_bytes())
            .map_or("none", |v| v.encoding())
    }
}
