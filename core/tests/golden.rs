//! Runs every golden transcript (testdata/golden) on the in-process Engine with a virtual clock.

use oxidis_core::golden::{self, Driver};
use oxidis_core::{ClientId, Config, ConnInfo, Engine, UnixMillis};

struct EngineDriver {
    eng: Engine,
    now: UnixMillis,
    clients: Vec<ClientId>,
}

impl EngineDriver {
    fn client(&mut self, n: usize) -> ClientId {
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
    let filter = std::env::var("GOLDEN").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, f) in transcripts::transcripts(&transcripts::golden_dir(), &filter) {
        let text = std::fs::read_to_string(f).expect("read transcript");
        let steps = match golden::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        // A fixed, realistic start time so EXPIREAT-style transcripts behave.
        let now = UnixMillis(1_700_000_000_000);
        let mut eng = Engine::new(Config::default(), 1);
        eng.set_host_info(now, Default::default());
        let mut d = EngineDriver {
            eng,
            now,
            clients: Vec::new(),
        };
        failures.extend(golden::run(&name, &steps, &mut d));
        ran += 1;
    }
    eprintln!("{ran} transcripts run on the engine");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
