//! Runs every golden transcript (testdata/golden) on the in-process Engine with a virtual clock.

use oxidis_core::golden::{self, Driver};
use oxidis_core::{ClientId, Config, ConnInfo, Engine, UnixMillis};
use std::path::{Path, PathBuf};

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

fn transcripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            transcripts(&p, out);
        } else if p.extension().is_some_and(|x| x == "resp") {
            out.push(p);
        }
    }
}

#[test]
fn golden_transcripts_on_the_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/golden");
    let mut files = Vec::new();
    transcripts(&root, &mut files);
    files.sort();
    let filter = std::env::var("GOLDEN").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in &files {
        let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        if !name.contains(&filter) {
            continue;
        }
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
