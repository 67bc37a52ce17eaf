//! Runs every golden transcript (testdata/golden) on the in-process Engine with a virtual clock,
//! fails if any transcript present did not run, and checks that every command of the table
//! appears in some transcript.

use oxidis_core::golden::{self, Driver};
use oxidis_core::resp::{Args, Decoded, RequestDecoder};
use oxidis_core::{all_commands, ClientHandle, Config, ConnInfo, Engine, UnixMillis};
use std::collections::BTreeSet;

struct EngineDriver {
    eng: Engine,
    now: UnixMillis,
    clients: Vec<ClientHandle>,
}

impl EngineDriver {
    fn client(&mut self, n: usize) -> ClientHandle {
        while self.clients.len() <= n {
            let id = self.eng.connect(self.now, ConnInfo::default());
            self.clients.push(id);
        }
        self.clients[n]
    }
}

impl Driver for EngineDriver {
    fn send(&mut self, client: usize, bytes: &[u8], _expect: usize) -> Result<Vec<u8>, String> {
        let id = self.client(client);
        self.eng.feed(self.now, id, bytes);
        // Output for other clients stays in their buffers until an @read.
        while self.eng.poll_event().is_some() {}
        let mut out = Vec::new();
        self.eng.drain_output(id, &mut out);
        Ok(out)
    }

    fn advance(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
        self.eng.tick(self.now);
        while self.eng.poll_event().is_some() {}
    }

    fn read(&mut self, client: usize, _expect: usize) -> Result<Vec<u8>, String> {
        let id = self.client(client);
        let mut out = Vec::new();
        self.eng.drain_output(id, &mut out);
        Ok(out)
    }

    fn is_closed(&mut self, client: usize) -> bool {
        let id = self.client(client);
        self.eng.should_close(id)
    }
}

// The one walk of testdata/golden (testkit's; core cannot depend on testkit, which depends on
// core, so the file is included by path).
#[path = "../../testkit/src/transcripts.rs"]
mod transcripts;

#[test]
fn golden_transcripts_on_the_engine() {
    let root = transcripts::golden_dir();
    let filter = std::env::var("GOLDEN").unwrap_or_default();
    let wanted = transcripts::transcripts(&root, &filter);
    assert!(
        !wanted.is_empty(),
        "no transcript under {} matches {filter:?}: a golden run that runs nothing must fail",
        root.display()
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, f) in &wanted {
        let text = std::fs::read_to_string(f).expect("read transcript");
        let steps = match golden::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if !steps.iter().any(|s| matches!(s, golden::Step::Send { .. })) {
            failures.push(format!("{name}: no request in it: it tests nothing"));
            continue;
        }
        // A fixed, realistic start time so EXPIREAT-style transcripts behave.
        let now = UnixMillis(1_700_000_000_000);
        // DEBUG allowed, as every golden runner (and Redis's own test suite) starts its server.
        let mut cfg = Config::default();
        cfg.set("enable-debug-command", b"yes")
            .expect("enable-debug-command");
        if golden::needs_cluster(name) {
            cfg.set("cluster-enabled", b"yes").expect("cluster-enabled");
        }
        let mut eng = Engine::new(cfg, 1);
        eng.set_script_vm_factory(Box::new(oxidis_lua::LuaVmFactory));
        eng.set_acl_host(Box::new(TestAclHost(0x9e37_79b9_7f4a_7c15)));
        // The host's used-memory figure: a constant like an empty redis-server's (~1 MB), so
        // `CONFIG SET maxmemory 1` puts both servers over the limit.
        let host = oxidis_core::HostInfo {
            used_memory: Some(|| 1 << 20),
            ..Default::default()
        };
        eng.set_host_info(now, host);
        let mut d = EngineDriver {
            eng,
            now,
            clients: Vec::new(),
        };
        failures.extend(golden::run(name, &steps, &mut d));
        ran += 1;
    }
    eprintln!("{ran} of {} transcripts run on the engine", wanted.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        ran,
        wanted.len(),
        "every transcript present must run: {ran} ran of {} files",
        wanted.len()
    );
}

/// Commands of the table that no transcript can show, each with the reason. Everything else
/// must appear in a transcript (in a safe form where its real effect cannot run there: an
/// arity or syntax error, a refusal, inside a transaction).
const NOT_IN_TRANSCRIPTS: &[(&str, &str)] = &[(
    "client|setinfo",
    "Redis 7.2's command, kept because clients send it on connect; the reference redis-server \
     7.0.15 answers `unknown subcommand`, so no transcript can record it (connection.rs unit \
     tests and the real-clients suite cover it)",
)];

/// The command names a request names: "get", and "client|list" for a subcommand.
fn requested_commands(bytes: &[u8], out: &mut BTreeSet<String>) {
    let mut d = RequestDecoder::new();
    let mut rest = bytes;
    loop {
        match d.decode(rest) {
            Ok(Decoded::Request { consumed }) => {
                let args: Vec<Vec<u8>> = match d.args() {
                    Args::Ranges(r) => r.iter().map(|r| rest[r.clone()].to_vec()).collect(),
                    Args::Owned(o) => o.to_vec(),
                };
                let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
                if let Some(sub) = args.get(1) {
                    out.insert(format!(
                        "{name}|{}",
                        String::from_utf8_lossy(sub).to_ascii_lowercase()
                    ));
                }
                out.insert(name);
                rest = &rest[consumed..];
            }
            Ok(Decoded::Empty { consumed }) => rest = &rest[consumed..],
            Ok(Decoded::Incomplete) | Err(_) => return,
        }
    }
}

/// Every command in the table appears in at least one transcript, so a new command cannot
/// land untested (subcommands as "parent|sub", e.g. `client|list`).
#[test]
fn every_command_in_the_table_has_a_transcript() {
    let root = transcripts::golden_dir();
    let mut seen = BTreeSet::new();
    for (_, f) in transcripts::transcripts(&root, "") {
        let text = std::fs::read_to_string(&f).expect("read transcript");
        let steps = golden::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for s in steps {
            if let golden::Step::Send { bytes, .. } = s {
                requested_commands(&bytes, &mut seen);
            }
        }
    }
    let exempt: BTreeSet<&str> = NOT_IN_TRANSCRIPTS.iter().map(|(n, _)| *n).collect();
    let names: BTreeSet<&str> = all_commands().map(|c| c.name).collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !seen.contains(*n) && !exempt.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "commands in the table that no transcript under {} sends: {missing:?}\n\
         add a transcript (cargo xtask golden --record ADDR FILE), or an exemption with its reason",
        root.display()
    );
    // An exemption for a command that is gone, or that a transcript now shows, is stale.
    let stale: Vec<&str> = exempt
        .iter()
        .copied()
        .filter(|n| !names.contains(n) || seen.contains(*n))
        .collect();
    assert!(stale.is_empty(), "stale exemptions: {stale:?}");
}

/// A test host: no files, and seeded (not secret) random bytes for ACL GENPASS.
struct TestAclHost(u64);

impl oxidis_core::acl::AclHost for TestAclHost {
    fn read_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {path} in tests"))
    }

    fn write_file(&mut self, path: &str, _data: &[u8]) -> Result<(), String> {
        Err(format!("no file {path} in tests"))
    }

    fn random_bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
        for b in buf {
            // xorshift64
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        Ok(())
    }
}
