//! The lazy-free worker (Redis's BIO_LAZY_FREE thread): the engine sets big dropped values
//! aside (UNLINK, FLUSH* ASYNC, the lazyfree-lazy-* options; see core/src/lazyfree.rs), the
//! event loop takes them after every turn and sends them here, and this thread drops them, so
//! freeing a million-member set never stalls the clients.
//!
//! Counters for INFO (lazyfree_pending_objects, lazyfreed_objects) are process-wide atomics,
//! read by the engine through `HostInfo`'s function pointers.

use oxidis_core::Garbage;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

static PENDING: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

/// Objects handed to the worker and not freed yet.
pub fn pending() -> usize {
    PENDING.load(Relaxed)
}

/// Objects the worker has freed since start.
pub fn freed() -> usize {
    FREED.load(Relaxed)
}

pub struct Worker {
    tx: Option<Sender<Garbage>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread. If it cannot start, everything is freed inline instead.
    pub fn start() -> Worker {
        let (tx, rx) = channel::<Garbage>();
        let thread = std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for g in rx {
                    let n = g.objects();
                    drop(g);
                    FREED.fetch_add(n, Relaxed);
                    PENDING.fetch_sub(n, Relaxed);
                }
            });
        match thread {
            Ok(t) => Worker {
                tx: Some(tx),
                thread: Some(t),
            },
            Err(_) => Worker {
                tx: None,
                thread: None,
            },
        }
    }

    /// Hands `g` to the thread (or drops it here if the thread is gone).
    pub fn free(&self, g: Garbage) {
        let Some(tx) = &self.tx else {
            return;
        };
        let n = g.objects();
        PENDING.fetch_add(n, Relaxed);
        if let Err(back) = tx.send(g) {
            PENDING.fetch_sub(n, Relaxed);
            drop(back.0);
        }
    }
}

impl Drop for Worker {
    /// Lets the thread finish what it was given, then joins it.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidis_core::resp::encode_request;
    use oxidis_core::{Config, ConnInfo, Engine, HostInfo, UnixMillis};

    #[test]
    fn frees_everything_it_is_given() {
        // Big sets UNLINKed by an engine whose host frees lazily: the engine's garbage.
        let now = UnixMillis(1);
        let mut eng = Engine::new(Config::default(), 1);
        let host = HostInfo {
            frees_lazily: true,
            ..HostInfo::default()
        };
        eng.set_host_info(now, host);
        let id = eng.connect(now, ConnInfo::default());
        let members: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        for i in 0..10 {
            let key = format!("k{i}");
            let mut sadd = vec!["SADD", key.as_str()];
            sadd.extend(members.iter().map(String::as_str));
            eng.feed(now, id, &encode_request(&sadd));
            eng.feed(now, id, &encode_request(&["UNLINK", key.as_str()]));
        }
        let garbage = eng.take_lazyfree();
        assert_eq!(garbage.len(), 10);
        let before = freed();
        let w = Worker::start();
        for g in garbage {
            w.free(g);
        }
        drop(w); // joins after the queue is drained
        assert!(freed() >= before + 10);
    }
}
