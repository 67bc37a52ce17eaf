//! A TCP forwarding proxy that can cut its links on demand: a network partition between a
//! replica and its master, for the replication suites. Thread-based: one accept thread, two
//! copying threads per connection. `cut()` shuts down both sockets of every live link (each
//! side sees the connection close); `hold(true)` refuses new connections (accepted and
//! closed at once) until `hold(false)`, so the partition lasts as long as the test wants;
//! `stall(true)` keeps the links up but forwards nothing until `stall(false)` (a replica
//! that lags).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct CutProxy {
    port: u16,
    links: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
    holding: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub fn start(target: &str) -> Result<CutProxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("proxy bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("proxy addr: {e}"))?
            .port();
        let proxy = CutProxy {
            port,
            links: Arc::default(),
            holding: Arc::default(),
            stalled: Arc::default(),
            stop: Arc::default(),
            accepted: Arc::default(),
        };
        let (links, holding, stop, accepted) = (
            proxy.links.clone(),
            proxy.holding.clone(),
            proxy.stop.clone(),
            proxy.accepted.clone(),
        );
        let stalled = proxy.stalled.clone();
        let target = target.to_string();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                if holding.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) {
                    links.lock().expect("proxy lock").push((c3, s3));
                }
                let (st1, st2) = (stalled.clone(), stalled.clone());
                thread::spawn(move || pump(client, s2, &st1));
                thread::spawn(move || pump(server, c2, &st2));
            }
        });
        Ok(proxy)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections forwarded so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Drops every live link (both sides see the connection close).
    pub fn cut(&self) {
        for (a, b) in self.links.lock().expect("proxy lock").drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }

    /// While on, new connections are closed as soon as they are accepted.
    pub fn hold(&self, on: bool) {
        self.holding.store(on, Ordering::SeqCst);
    }

    /// While on, the links stay up but nothing is forwarded (what was read waits).
    pub fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to` until either side closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, stalled: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                while stalled.load(Ordering::SeqCst) {
                    thread::sleep(std::time::Duration::from_millis(5));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
