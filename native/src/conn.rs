//! One client connection: its socket, the engine's id for it, and the bytes taken from the
//! engine that the socket has not accepted yet.

use mio::net::TcpStream;
use oxidis_core::{ClientHandle, Engine, KEEP_BUFFER};
use std::io::{self, Write};

pub struct Conn {
    pub stream: TcpStream,
    pub id: ClientHandle,
    /// Output taken from the engine; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    /// WRITABLE interest is registered (only while output is pending).
    pub writable: bool,
    /// Queued to read again: the read budget ran out before the socket would block.
    pub read_again: bool,
    /// Queued to write at the end of the turn (after the AOF write).
    pub write_queued: bool,
}

impl Conn {
    pub fn new(stream: TcpStream, id: ClientHandle) -> Conn {
        Conn {
            stream,
            id,
            out: Vec::new(),
            sent: 0,
            writable: false,
            read_again: false,
            write_queued: false,
        }
    }

    /// Writes the engine's output until all of it is sent (`Ok(true)`) or the socket would
    /// block (`Ok(false)`). The output is moved out of the engine once and written from an
    /// offset, so a slow reader of a big reply costs O(size), not a memmove per partial write.
    pub fn flush(&mut self, eng: &mut Engine) -> io::Result<bool> {
        let res = self.write_out(eng);
        // The engine's output-buffer limits must see what is still queued here too.
        let unsent = self.out.len() - self.sent;
        if eng.reported_unsent(self.id).is_some_and(|n| n != unsent) {
            eng.report_unsent(crate::server::now(), self.id, unsent);
        }
        res
    }

    fn write_out(&mut self, eng: &mut Engine) -> io::Result<bool> {
        loop {
            if self.sent == self.out.len() {
                self.sent = 0;
                self.out.clear();
                if self.out.capacity() > KEEP_BUFFER {
                    self.out = Vec::new();
                }
                if !eng.has_output(self.id) {
                    return Ok(true);
                }
                eng.drain_output(self.id, &mut self.out);
                continue;
            }
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
