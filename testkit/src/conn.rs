//! [`Conn`]: the one blocking RESP connection every test and tool uses to talk to a server
//! (oxidis-server or Debian's redis-server). Requests are written with core's encoder
//! (`resp::append_request`), replies are cut and decoded with core's decoder
//! (`resp::decode_reply`), so the test side never has a RESP codec of its own.
//!
//! Received bytes wait in one buffer until a method takes them, so whole-reply reads
//! (`call`, `read_reply`, `read_replies`, `exchange`) and raw-byte reads (`read_exact`,
//! `read_some`, `read_to_close`) can be mixed on one connection. Every wait has a deadline
//! (`set_timeout`, 20 s by default); nothing sleeps.

use oxidis_core::resp::{append_request, decode_reply, Reply};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Bytes asked of the socket per read: from `MIN_READ`, doubled up to `MAX_READ` while reads
/// fill it (a test with thousands of connections stays small, a bulk reader gets big reads).
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 256 * 1024;

/// A blocking RESP connection with a read buffer.
pub struct Conn {
    stream: TcpStream,
    /// Received bytes; those before `pos` were already taken.
    buf: Vec<u8>,
    pos: usize,
    /// How long a read waits for a reply (or bytes) before it fails.
    timeout: Duration,
    /// The socket's read timeout as last set (a setsockopt per read would cost the loaders).
    sock_timeout: Option<Duration>,
    read_size: usize,
}

/// What one read from the socket brought.
#[derive(Debug, PartialEq)]
enum Got {
    Data,
    /// End of stream (or a reset, which a peer closing with unread input causes).
    Eof,
    /// Nothing within the wait.
    Quiet,
}

impl Conn {
    /// The default deadline of a read.
    pub const TIMEOUT: Duration = Duration::from_secs(20);

    /// Connects to `addr` ("127.0.0.1:6379", "[::1]:6379"), with TCP_NODELAY.
    pub fn connect(addr: &str) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).ok();
        Ok(Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            timeout: Conn::TIMEOUT,
            sock_timeout: None,
            read_size: MIN_READ,
        })
    }

    /// Sets how long a read waits before failing.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The socket, for what this type does not do (e.g. `try_clone` for a writer thread).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    // -----------------------------------------------------------------------------------------
    // Writing

    /// Sends one request (a RESP multibulk of `args`).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), String> {
        let mut req = Vec::new();
        append_request(&mut req, args);
        self.send_raw(&req)
    }

    /// Writes `bytes` as they are (pipelines, inline commands, broken protocol).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    // -----------------------------------------------------------------------------------------
    // Whole replies

    /// Sends one request and reads its reply (an error reply is an `Ok(Reply::Error)`).
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, String> {
        self.send(args)?;
        self.read_reply()
    }

    /// Like [`Conn::call`], but an error reply is an `Err` naming the command.
    pub fn call_ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, String> {
        match self.call(args)? {
            Reply::Error(e) => Err(format!(
                "{}: error reply: {}",
                String::from_utf8_lossy(args.first().map_or(&[][..], |a| a.as_ref())),
                String::from_utf8_lossy(&e)
            )),
            r => Ok(r),
        }
    }

    /// The next whole reply, decoded.
    pub fn read_reply(&mut self) -> Result<Reply, String> {
        let (reply, used) = self.next_reply()?;
        self.pos += used;
        Ok(reply)
    }

    /// The next whole reply's bytes, as the server sent them.
    pub fn read_reply_bytes(&mut self) -> Result<Vec<u8>, String> {
        let (_, used) = self.next_reply()?;
        let out = self.pending()[..used].to_vec();
        self.pos += used;
        Ok(out)
    }

    /// Reads `n` replies, failing on the first error reply.
    pub fn read_ok(&mut self, n: usize) -> Result<(), String> {
        for _ in 0..n {
            if let Reply::Error(e) = self.read_reply()? {
                return Err(format!("error reply: {}", String::from_utf8_lossy(&e)));
            }
        }
        Ok(())
    }

    /// Reads until at least `n` whole replies have arrived and no partial one is pending.
    /// Returns every whole reply received (possibly more than `n`) and the end offset of
    /// each in the returned bytes.
    pub fn read_replies(&mut self, n: usize) -> Result<(Vec<u8>, Vec<usize>), String> {
        let deadline = Instant::now() + self.timeout;
        let mut ends = Vec::with_capacity(n);
        // Bytes of whole replies from `pos` on (relative: the buffer may be compacted).
        let mut whole = 0;
        loop {
            loop {
                match decode_reply(&self.pending()[whole..]) {
                    Ok(Some((_, used))) => {
                        whole += used;
                        ends.push(whole);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(format!(
                            "malformed reply after {} of {n} replies: {e}: {}",
                            ends.len(),
                            show(&self.pending()[whole..], 200)
                        ))
                    }
                }
            }
            if ends.len() >= n && whole == self.pending().len() {
                let out = self.pending().to_vec();
                self.pos = self.buf.len();
                return Ok((out, ends));
            }
            let got = ends.len();
            self.wait_more(deadline, || format!("{got} of {n} replies"))?;
        }
    }

    /// Writes `req` (from a second thread, so a server that answers before it has read
    /// everything cannot deadlock us) and reads exactly `n` replies: their bytes and the end
    /// offset of each. More replies than `n` is an error.
    pub fn exchange(&mut self, req: &[u8], n: usize) -> Result<(Vec<u8>, Vec<usize>), String> {
        let mut w = self.stream.try_clone().map_err(|e| format!("clone: {e}"))?;
        let (got, written) = std::thread::scope(|sc| {
            let writer = sc.spawn(move || w.write_all(req));
            let got = self.read_replies(n);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
            (got, written)
        });
        let (buf, ends) = got?;
        written.map_err(|e| format!("write: {e}"))?;
        if ends.len() > n {
            let extra = n.checked_sub(1).map_or(0, |last| ends[last]);
            return Err(format!(
                "unexpected bytes after the {n} replies: {}",
                show(&buf[extra..], 200)
            ));
        }
        Ok((buf, ends))
    }

    /// Sends `cmds` pipelined and reads their replies; the first error reply is an `Err`
    /// naming its command.
    pub fn pipeline_ok<C: AsRef<[A]>, A: AsRef<[u8]>>(&mut self, cmds: &[C]) -> Result<(), String> {
        let mut req = Vec::new();
        for c in cmds {
            append_request(&mut req, c.as_ref());
        }
        let (buf, ends) = self.exchange(&req, cmds.len())?;
        let mut start = 0;
        for (c, end) in cmds.iter().zip(ends) {
            if let Ok(Some((Reply::Error(e), _))) = decode_reply(&buf[start..end]) {
                let name = c.as_ref().first().map_or(&[][..], |a| a.as_ref());
                return Err(format!(
                    "{} -> {}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(&e)
                ));
            }
            start = end;
        }
        Ok(())
    }

    /// Reads whatever arrives when the number of replies is not known (recording a
    /// transcript, a request that may block): waits up to `first` for the first bytes, then
    /// until the bytes are whole replies and nothing more comes for `quiet` (at most the
    /// connection's timeout in all). Returns the bytes, possibly none.
    pub fn read_quiet(&mut self, first: Duration, quiet: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let wait = if self.pending().is_empty() {
                first
            } else {
                quiet
            };
            match self.fill(wait)? {
                Got::Data => {}
                Got::Eof => break,
                Got::Quiet => {
                    if whole_replies(self.pending()) || Instant::now() > deadline {
                        break;
                    }
                }
            }
        }
        Ok(self.take_all())
    }

    /// True if nothing arrives within `wait` (a client that must stay blocked); what does
    /// arrive stays buffered for the next read.
    pub fn quiet_for(&mut self, wait: Duration) -> Result<bool, String> {
        if !self.pending().is_empty() {
            return Ok(false);
        }
        Ok(self.fill(wait)? == Got::Quiet)
    }

    /// One field of an INFO section, as text.
    pub fn info_field(&mut self, section: &str, field: &str) -> Result<String, String> {
        let text = match self.call_ok(&["INFO", section])? {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
            other => return Err(format!("INFO {section}: not a bulk reply: {other:?}")),
        };
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .map(|v| v.trim_end().to_string())
            .ok_or_else(|| format!("INFO {section} has no {field}"))
    }

    // -----------------------------------------------------------------------------------------
    // Raw bytes

    /// Exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + self.timeout;
        while self.pending().len() < n {
            let have = self.pending().len();
            self.wait_more(deadline, || format!("{n} bytes (have {have})"))?;
        }
        let out = self.pending()[..n].to_vec();
        self.pos += n;
        Ok(out)
    }

    /// Some bytes into `out` (buffered ones first, else one read): 0 at end of stream.
    pub fn read_some(&mut self, out: &mut [u8]) -> Result<usize, String> {
        if self.pending().is_empty() {
            match self.fill(self.timeout)? {
                Got::Data => {}
                Got::Eof => return Ok(0),
                Got::Quiet => return Err(format!("no bytes within {:?}", self.timeout)),
            }
        }
        let n = out.len().min(self.pending().len());
        out[..n].copy_from_slice(&self.pending()[..n]);
        self.pos += n;
        Ok(n)
    }

    /// Reads until the server closes the connection or `limit` passes. Returns everything
    /// received and whether the connection ended (false: still open at the limit).
    pub fn read_to_close(&mut self, limit: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + limit;
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            match self.fill(left) {
                Ok(Got::Data) => {}
                Ok(Got::Eof) => break true,
                Ok(Got::Quiet) | Err(_) => break false,
            }
        };
        (self.take_all(), closed)
    }

    /// True if the server closes the connection within `limit` without sending anything more.
    pub fn is_closed(&mut self, limit: Duration) -> bool {
        let (rest, closed) = self.read_to_close(limit);
        closed && rest.is_empty()
    }

    // -----------------------------------------------------------------------------------------
    // The buffer

    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn take_all(&mut self) -> Vec<u8> {
        let out = self.pending().to_vec();
        self.pos = self.buf.len();
        out
    }

    /// The next whole reply and its length, reading as needed.
    fn next_reply(&mut self) -> Result<(Reply, usize), String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match decode_reply(self.pending()) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "malformed reply: {e}: {}",
                        show(self.pending(), 200)
                    ))
                }
            }
            self.wait_more(deadline, || "a reply".to_string())?;
        }
    }

    /// Reads more bytes before `deadline`, or fails saying what was awaited.
    fn wait_more(&mut self, deadline: Instant, what: impl Fn() -> String) -> Result<(), String> {
        loop {
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {:?} waiting for {} (pending: {})",
                    self.timeout,
                    what(),
                    show(self.pending(), 200)
                ));
            }
            match self.fill(self.timeout)? {
                Got::Data => return Ok(()),
                Got::Eof => {
                    return Err(format!(
                        "connection closed while waiting for {} (pending: {})",
                        what(),
                        show(self.pending(), 200)
                    ))
                }
                Got::Quiet => {}
            }
        }
    }

    /// One read from the socket into the buffer, waiting at most `wait`.
    fn fill(&mut self, wait: Duration) -> Result<Got, String> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= MAX_READ && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        // A zero timeout is an error for setsockopt; a millisecond is "nearly nothing".
        let wait = wait.max(Duration::from_millis(1));
        if self.sock_timeout != Some(wait) {
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(|e| format!("set_read_timeout: {e}"))?;
            self.sock_timeout = Some(wait);
        }
        let old = self.buf.len();
        self.buf.resize(old + self.read_size, 0);
        let got = loop {
            match self.stream.read(&mut self.buf[old..]) {
                Ok(0) => break Ok((Got::Eof, 0)),
                Ok(n) => break Ok((Got::Data, n)),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break Ok((Got::Quiet, 0))
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break Ok((Got::Eof, 0)),
                Err(e) => break Err(format!("read: {e}")),
            }
        };
        match got {
            Ok((g, n)) => {
                if n == self.read_size {
                    self.read_size = (n * 2).min(MAX_READ);
                }
                self.buf.truncate(old + n);
                Ok(g)
            }
            Err(e) => {
                self.buf.truncate(old);
                Err(e)
            }
        }
    }
}

/// Whether `bytes` are whole replies (none at all counts).
fn whole_replies(mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match decode_reply(bytes) {
            Ok(Some((_, used))) => bytes = &bytes[used..],
            _ => return false,
        }
    }
    true
}

/// Bytes escaped as Redis's `sdscatrepr` does (core's `resp::render::repr`, without the
/// quotes), cut after about `max` characters, for messages.
pub fn show(bytes: &[u8], max: usize) -> String {
    let mut quoted = String::new();
    oxidis_core::resp::render::repr(bytes, &mut quoted);
    let mut s = quoted[1..quoted.len() - 1].to_string();
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connection to a scripted peer: `peer` runs on the accepted socket in a thread.
    fn pair(peer: impl FnOnce(TcpStream) + Send + 'static) -> Conn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            peer(s);
        });
        Conn::connect(&addr).unwrap()
    }

    /// Reads `n` bytes from the peer's side.
    fn take(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut b = vec![0; n];
        s.read_exact(&mut b).unwrap();
        b
    }

    #[test]
    fn call_encodes_with_core_and_decodes_a_reply_split_across_writes() {
        let mut c = pair(|mut s| {
            assert_eq!(take(&mut s, 22), b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n");
            s.write_all(b"$2\r").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(b"\nhi\r\n:7\r\n").unwrap();
        });
        assert_eq!(c.call(&["ECHO", "hi"]), Ok(Reply::Bulk(b"hi".to_vec())));
        // The next reply was buffered with the first.
        assert_eq!(c.read_reply_bytes().unwrap(), b":7\r\n");
    }

    #[test]
    fn call_ok_turns_an_error_reply_into_err() {
        let mut c = pair(|mut s| {
            take(&mut s, 14);
            s.write_all(b"-ERR no\r\n").unwrap();
        });
        assert_eq!(
            c.call_ok(&["PING"]),
            Err("PING: error reply: ERR no".to_string())
        );
    }

    #[test]
    fn exchange_reads_exactly_n_replies_and_reports_extra_ones() {
        let mut c = pair(|mut s| {
            take(&mut s, 28);
            s.write_all(b"+PONG\r\n+PONG\r\n").unwrap();
            take(&mut s, 14);
            s.write_all(b"+PONG\r\n:1\r\n").unwrap();
        });
        let ping = b"*1\r\n$4\r\nPING\r\n";
        let (buf, ends) = c.exchange(&ping.repeat(2), 2).unwrap();
        assert_eq!((&buf[..], ends), (&b"+PONG\r\n+PONG\r\n"[..], vec![7, 14]));
        let err = c.exchange(ping, 1).unwrap_err();
        assert!(
            err.contains("unexpected bytes after the 1 replies"),
            "{err}"
        );
    }

    #[test]
    fn a_timeout_says_what_was_awaited_and_what_is_pending() {
        let mut c = pair(|mut s| {
            s.write_all(b"$5\r\nab").unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        c.set_timeout(Duration::from_millis(100));
        let err = c.read_reply().unwrap_err();
        assert!(err.contains("waiting for a reply"), "{err}");
        assert!(err.contains("(pending: $5\\r\\nab)"), "{err}");
    }

    #[test]
    fn raw_reads_and_replies_share_the_buffer_until_the_close() {
        let mut c = pair(|mut s| {
            s.write_all(b"+OK\r\nabcdef").unwrap();
        });
        assert_eq!(c.read_reply(), Ok(Reply::Simple(b"OK".to_vec())));
        assert_eq!(c.read_exact(2).unwrap(), b"ab");
        let mut out = [0u8; 3];
        assert_eq!(c.read_some(&mut out), Ok(3));
        assert_eq!(&out, b"cde");
        assert_eq!(
            c.read_to_close(Duration::from_secs(5)),
            (b"f".to_vec(), true)
        );
    }

    #[test]
    fn is_closed_needs_an_end_without_more_bytes() {
        let mut quiet = pair(drop);
        assert!(quiet.is_closed(Duration::from_secs(5)));
        let mut chatty = pair(|mut s| s.write_all(b"+late\r\n").unwrap());
        assert!(!chatty.is_closed(Duration::from_secs(5)));
        let mut open = pair(|_s| std::thread::sleep(Duration::from_secs(2)));
        assert!(!open.is_closed(Duration::from_millis(50)));
    }

    #[test]
    fn read_quiet_waits_for_whole_replies() {
        let mut c = pair(|mut s| {
            s.write_all(b"*2\r\n:1\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(80));
            s.write_all(b":2\r\n").unwrap();
            std::thread::sleep(Duration::from_secs(1));
        });
        let got = c
            .read_quiet(Duration::from_secs(5), Duration::from_millis(20))
            .unwrap();
        assert_eq!(got, b"*2\r\n:1\r\n:2\r\n");
        assert_eq!(c.quiet_for(Duration::from_millis(20)), Ok(true));
    }

    #[test]
    fn pipeline_ok_names_the_failing_command() {
        let mut c = pair(|mut s| {
            take(&mut s, 14 + 20);
            s.write_all(b"+PONG\r\n-ERR bad\r\n").unwrap();
        });
        let err = c
            .pipeline_ok(&[vec!["PING"], vec!["GET", "k"]])
            .unwrap_err();
        assert_eq!(err, "GET -> ERR bad");
    }

    #[test]
    fn show_escapes_like_sdscatrepr_and_cuts() {
        assert_eq!(show(b"a\"\r\n\x07\xff", 100), "a\\\"\\r\\n\\a\\xff");
        assert_eq!(show(&[b'x'; 50], 10), "xxxxxxxxxx... (50 bytes)");
    }
}
