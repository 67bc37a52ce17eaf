//! What the native server gives the core while a script runs (the core's `ScriptEnv`): the
//! wall clock, and, once the script is past busy-reply-threshold, a look at the other clients'
//! sockets so they get their BUSY replies and may SCRIPT KILL it (design §5.3).
//!
//! The event loop is blocked inside `Engine::feed` meanwhile, so this reads and writes the
//! connections' sockets through their descriptors, kept in `Socks` by the loop (borrowed, not
//! duplicated: a client costs one descriptor, as maxclients + 32 assumes; the loop removes an
//! entry before it closes the socket).
//! It reads every other connection until WouldBlock (a FIN is left for the loop, whose epoll
//! edge is still pending) and writes replies only to a connection with nothing unsent in the
//! loop's own buffer, so bytes never go out of order; what it cannot write stays in the engine,
//! which the loop writes after the script. New connections are accepted through duplicates of
//! the listeners and served at once; the loop adopts them (`Accepted`) when the script ends.

use oxidis_core::script::{BusyGate, ScriptEnv};
use oxidis_core::{ClientHandle, ConnInfo, UnixMillis};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::rc::Rc;

pub struct Sock {
    /// The connection's socket, owned by the loop's `Conn` (or by `Accepted`).
    pub fd: std::os::fd::RawFd,
    pub id: ClientHandle,
    /// The loop's buffer for this connection is empty (nothing of an older reply is unsent).
    pub clean: bool,
}

impl Sock {
    /// The socket as a stream that does not close it when dropped.
    fn stream(&self) -> std::mem::ManuallyDrop<std::net::TcpStream> {
        use std::os::fd::FromRawFd;
        // SAFETY: the descriptor is open while the entry exists (see the module comment), and
        // ManuallyDrop never closes it.
        std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(self.fd) })
    }
}

/// Connection slot -> its socket.
pub type Socks = Rc<RefCell<HashMap<usize, Sock>>>;

/// Connections accepted while a script was busy, for the loop to register.
pub type Accepted = Rc<RefCell<Vec<(std::net::TcpStream, ClientHandle)>>>;

pub struct NativeScriptEnv {
    pub socks: Socks,
    /// Duplicates of the loop's plain TCP listeners (replaced when CONFIG SET moves them).
    pub listeners: Rc<RefCell<Vec<std::net::TcpListener>>>,
    pub accepted: Accepted,
    pub buf: Vec<u8>,
}

impl NativeScriptEnv {
    fn accept(&mut self, gate: &mut BusyGate<'_>) {
        let listeners = self.listeners.clone();
        for l in listeners.borrow().iter() {
            while let Ok((mut stream, peer)) = l.accept() {
                if let Some(err) = gate.refuse_connection() {
                    let _ = stream.write(err);
                    continue;
                }
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let laddr = stream
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let id = gate.connect(ConnInfo {
                    addr: peer.to_string(),
                    laddr,
                    fd: Some(std::os::fd::AsRawFd::as_raw_fd(&stream)),
                    ..Default::default()
                });
                let sock = Sock {
                    fd: std::os::fd::AsRawFd::as_raw_fd(&stream),
                    id,
                    clean: true,
                };
                self.socks.borrow_mut().insert(id.0, sock);
                self.accepted.borrow_mut().push((stream, id));
            }
        }
    }
}

impl ScriptEnv for NativeScriptEnv {
    fn now(&mut self) -> UnixMillis {
        crate::server::now()
    }

    fn serve_while_busy(&mut self, gate: &mut BusyGate<'_>) -> bool {
        self.accept(gate);
        let mut socks = self.socks.borrow_mut();
        for s in socks.values_mut() {
            if s.id == gate.caller() {
                continue;
            }
            loop {
                match s.stream().read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(n) => gate.feed(s.id, &self.buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if !s.clean {
                continue;
            }
            let mut out = Vec::new();
            gate.drain_output(s.id, &mut out);
            let mut sent = 0;
            while sent < out.len() {
                match s.stream().write(&out[sent..]) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if sent < out.len() {
                gate.unsend(s.id, &out[sent..]);
                s.clean = false;
            }
        }
        true
    }
}
