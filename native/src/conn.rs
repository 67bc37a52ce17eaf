//! One client connection: its socket (TCP, unix or TLS over TCP), the engine's id for it, and
//! the bytes taken from the engine that the socket has not accepted yet.

use crate::tls::TlsStream;
use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use oxidis_core::{ClientHandle, Engine, LoopTurn, KEEP_BUFFER};
use std::io::{self, Read, Write};

/// The transports: every one feeds the engine through the same read/write path.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// TLS records queued that the socket has not taken (WRITABLE is still wanted).
    pub fn records_pending(&mut self) -> io::Result<bool> {
        match self {
            // Plaintext written during the handshake (a protected-mode refusal) is sent only
            // once it completes: not all sent before then.
            Stream::Tls(t) => {
                t.push_records()?;
                Ok(t.wants_write() || t.handshaking())
            }
            _ => Ok(false),
        }
    }

    /// Reads and drops what the peer sent and nobody will read (a refused client's first
    /// command), so closing does not answer it with a reset that could destroy the reply
    /// still in flight. Bounded: a peer that keeps sending gets its reset.
    pub fn discard_input(&mut self) {
        let mut buf = [0u8; 4096];
        for _ in 0..16 {
            let r = match self {
                Stream::Tcp(s) => s.read(&mut buf),
                Stream::Unix(s) => s.read(&mut buf),
                Stream::Tls(s) => s.sock.read(&mut buf),
            };
            if !matches!(r, Ok(n) if n > 0) {
                return;
            }
        }
    }

    /// A TLS handshake is under way (it needs reads even from a client that is closing).
    pub fn handshaking(&self) -> bool {
        matches!(self, Stream::Tls(t) if t.handshaking())
    }

    /// Tells a TLS peer the stream ends here (close_notify), best effort, before the close.
    pub fn close_notify(&mut self) {
        if let Stream::Tls(t) = self {
            t.close_notify();
        }
    }

    /// A short read does not mean the socket is empty: TLS hands out one record at a time.
    pub fn reads_records(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The TCP socket under it, plain or TLS.
    pub fn socket(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Tls(t) => Some(&t.sock),
            Stream::Unix(_) => None,
        }
    }

    /// The plain TCP socket (for the script environment's duplicates), if this is one.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            _ => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tls(s) => s.sock.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tls(s) => s.sock.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Tls(s) => s.sock.deregister(r),
        }
    }
}

pub struct Conn {
    pub stream: Stream,
    pub id: ClientHandle,
    /// Output taken from the engine; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    /// WRITABLE interest is registered (only while output is pending).
    pub writable: bool,
    /// Queued to read again: the read budget ran out before the socket would block.
    pub read_again: bool,
    /// The loop turn that last read this connection: a queued read-again is put off to the
    /// next turn when an event already read it in this one (one budget per turn).
    pub read_turn: u64,
    /// Queued to write at the end of the turn (after the AOF write).
    pub write_queued: bool,
}

impl Conn {
    pub fn new(stream: Stream, id: ClientHandle) -> Conn {
        Conn {
            stream,
            id,
            out: Vec::new(),
            sent: 0,
            writable: false,
            read_again: false,
            read_turn: 0,
            write_queued: false,
        }
    }

    /// Writes the engine's output until all of it is sent (`Ok(true)`) or the socket would
    /// block (`Ok(false)`). The output is moved out of the engine once and written from an
    /// offset, so a slow reader of a big reply costs O(size), not a memmove per partial write.
    /// The writes and their bytes are counted in `turn`.
    pub fn flush(&mut self, eng: &mut Engine, turn: &mut LoopTurn) -> io::Result<bool> {
        let res = self.write_out(eng, turn);
        // The engine's output-buffer limits must see what is still queued here too.
        let unsent = self.out.len() - self.sent;
        if eng.reported_unsent(self.id).is_some_and(|n| n != unsent) {
            eng.report_unsent(crate::server::now(), self.id, unsent);
        }
        res
    }

    fn write_out(&mut self, eng: &mut Engine, turn: &mut LoopTurn) -> io::Result<bool> {
        loop {
            if self.sent == self.out.len() {
                self.sent = 0;
                self.out.clear();
                if self.out.capacity() > KEEP_BUFFER {
                    self.out = Vec::new();
                }
                if !eng.has_output(self.id) {
                    return Ok(!self.stream.records_pending()?);
                }
                eng.drain_output(self.id, &mut self.out);
                continue;
            }
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    turn.writes += 1;
                    turn.written_bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
