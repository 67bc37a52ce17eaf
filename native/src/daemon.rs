//! redis-server's process-level options: `daemonize` (fork into the background, stdio to
//! /dev/null) and `pidfile`. Process setup is the shell's business, not the engine's.

use std::io;

/// Forks into the background as Redis's daemonize(): the parent exits, the child starts a new
/// session and points stdin, stdout and stderr at /dev/null. Must run before any thread starts.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: no other thread exists yet, so the child inherits a consistent process.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain syscalls on this process's own descriptors.
    unsafe {
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            for std_fd in 0..3 {
                libc::dup2(fd, std_fd);
            }
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

/// The pid file to write: `pidfile` if set, else Redis's default when daemonized.
pub fn pidfile_path(pidfile: &str, daemonized: bool) -> Option<String> {
    if !pidfile.is_empty() {
        Some(pidfile.to_string())
    } else if daemonized {
        Some("/var/run/redis.pid".to_string())
    } else {
        None
    }
}

/// Writes this process's id, as Redis's createPidFile (a failure is only a warning).
pub fn write_pidfile(path: &str) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_defaults_like_redis() {
        assert_eq!(pidfile_path("", false), None);
        assert_eq!(
            pidfile_path("", true).as_deref(),
            Some("/var/run/redis.pid")
        );
        assert_eq!(
            pidfile_path("/tmp/x.pid", false).as_deref(),
            Some("/tmp/x.pid")
        );
    }
}
