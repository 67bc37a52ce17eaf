//! Log lines in Redis's format, to stderr: `pid:R DD Mon YYYY HH:MM:SS.mmm L message`, where R is
//! the role ('C' until the server is initialised, as in Redis, then 'M') and L the level
//! ('.' debug, '-' verbose, '*' notice, '#' warning).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

static ROLE: AtomicU8 = AtomicU8::new(b'C');
/// `loglevel`: 0 debug, 1 verbose, 2 notice, 3 warning (the core's order); lines below it go.
static LEVEL: AtomicU8 = AtomicU8::new(2);

/// Sets `loglevel` (at start and on CONFIG SET).
pub fn set_level(level: i32) {
    LEVEL.store(level.clamp(0, 3) as u8, Relaxed);
}

/// Whether lines of `level` are written (Redis's `server.verbosity <= level`), for callers
/// that would build a costly message.
pub fn enabled(level: u8) -> bool {
    level >= LEVEL.load(Relaxed)
}

pub const VERBOSE: u8 = 1;
/// `logfile`: where lines go instead of stderr, when set.
static FILE: std::sync::OnceLock<std::sync::Mutex<std::fs::File>> = std::sync::OnceLock::new();

/// Sends log lines to `path` (appended), as Redis's `logfile`.
pub fn to_file(path: &str) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let _ = FILE.set(std::sync::Mutex::new(f));
    Ok(())
}

/// From now on log lines say 'M' (master), as Redis's do once the server is initialised.
pub fn set_master() {
    ROLE.store(b'M', Relaxed);
}

/// An I/O error as C's strerror() words it (std adds " (os error N)"), for Redis-style messages.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub fn verbose(msg: &str) {
    log(VERBOSE, msg);
}

pub fn notice(msg: &str) {
    log(2, msg);
}

pub fn warning(msg: &str) {
    log(3, msg);
}

fn log(level_n: u8, msg: &str) {
    if !enabled(level_n) {
        return;
    }
    // '.' debug (Oxidis writes no debug lines), '-' verbose, '*' notice, '#' warning.
    let level = ['.', '-', '*', '#'][usize::from(level_n.min(3))];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Relaxed) as char,
        timestamp(now.as_secs() as i64, now.subsec_millis()),
        level,
        msg
    );
    // One write per line so concurrent writers do not interleave; errors are ignored, as Redis does.
    match FILE.get() {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `%d %b %Y %H:%M:%S.mmm` in local time.
fn timestamp(secs: i64, millis: u32) -> String {
    // SAFETY: localtime_r writes only into `tm`; an all-zero tm is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t = secs as libc::time_t;
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return format!("@{secs}.{millis:03}");
    }
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???"),
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        millis
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_shape() {
        let s = super::timestamp(1_700_000_000, 7);
        // "14 Nov 2023 22:13:20.007" in UTC; the hour depends on the local zone.
        assert_eq!(s.len(), "14 Nov 2023 22:13:20.007".len(), "{s}");
        assert!(s.ends_with(".007"), "{s}");
        assert!(s.contains(" Nov 2023 ") || s.contains(" 2023 "), "{s}");
    }
}
