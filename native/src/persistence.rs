//! The native shell's persistence: RDB files (SAVE, BGSAVE by fork, load at startup), and the
//! AOF (aof.rs). Redis semantics (when to save, what to log in the AOF) come from the core;
//! this file only writes, renames, fsyncs and forks.
//!
//! BGSAVE and BGREWRITEAOF fork() the process, as Redis does: the child sees a copy-on-write
//! image of the dataset frozen at the fork and writes it while the parent keeps serving. fork
//! is the right tool here because the event loop is single-threaded (no locks can be held by
//! another thread at the fork) and glibc's fork keeps malloc usable in the child; the cost is
//! the page-table copy at fork time (a few ms per GB) and copied pages for keys written
//! during the save. A copy-on-write scheme inside the engine would avoid the page-table copy
//! but touch every data structure; fork needs none of that.

use crate::aof::Aof;
use crate::log;
use oxidis_core::rdb::{self, PersistHost, SaveOptions};
use oxidis_core::Db;
use oxidis_core::{Engine, UnixMillis};
use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A running child process.
pub struct Child {
    pub pid: libc::pid_t,
    pub tmp: PathBuf,
}

/// A child writing the RDB for replicas into a pipe, and the thread reading it.
pub struct ReplChild {
    pub pid: libc::pid_t,
    pub reader: std::thread::JoinHandle<io::Result<Vec<u8>>>,
}

/// State shared by the engine's host hooks and the event loop.
#[derive(Default)]
pub struct State {
    pub dir: PathBuf,
    pub dbfilename: String,
    /// appenddirname and appendfilename.
    pub aof_dirname: String,
    pub aof_name: String,
    pub rdb_child: Option<Child>,
    pub aof_child: Option<Child>,
    /// The full sync's child (replicas' RDB), apart from BGSAVE's.
    pub repl_child: Option<ReplChild>,
    pub aof: Option<Aof>,
    /// BGREWRITEAOF's bookkeeping: the base sequence the child is writing.
    pub rewrite_base_seq: u64,
    /// Disk-based full syncs: the RDB file opened for each replica being sent it (Redis's
    /// repldbfd), by handle.
    pub sync_files: std::collections::HashMap<u64, File>,
    pub next_sync_handle: u64,
    /// A replica's disk-mode full sync: the temp file the master's payload is written to.
    pub sync_tmp: Option<SyncTmp>,
}

/// Redis's repl_transfer_fd / repl_transfer_tmpfile / repl_transfer_last_fsync_off.
pub struct SyncTmp {
    file: File,
    path: PathBuf,
    written: u64,
    synced: u64,
}

/// REPL_MAX_WRITTEN_BEFORE_FSYNC: the received payload is flushed to disk every 8 MB.
const SYNC_TMP_FSYNC_EVERY: u64 = 8 << 20;

/// rdb_fsync_range: on Linux, sync_file_range(WAIT_BEFORE | WRITE) (starts writeback of the
/// range, waiting for the previous one); elsewhere fsync.
fn fsync_range(f: &File, off: u64, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: a plain syscall on an open descriptor.
        let r = unsafe {
            libc::sync_file_range(
                f.as_raw_fd(),
                off as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        if r == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (off, len);
        f.sync_data()
    }
}

pub type Shared = Rc<RefCell<State>>;

/// fsync of a directory, so a rename in it is durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes the snapshot to `tmp`, fsyncs it and renames it over `dst` (then fsyncs the dir).
pub fn write_rdb_atomically(
    dbs: &[Db],
    opts: &SaveOptions,
    tmp: &Path,
    dst: &Path,
) -> io::Result<()> {
    let res = (|| {
        let f = File::create(tmp)?;
        let w = rdb::encode(BufWriter::with_capacity(1 << 16, f), dbs, opts)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(tmp, dst)?;
        if let Some(dir) = dst.parent() {
            fsync_dir(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })?;
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(tmp);
    }
    res
}

/// A child's save options with rdb-key-save-delay's sleep installed (Redis's debugDelay; a
/// negative value, which Redis turns into 1 µs every -n keys on average, sleeps 1 µs).
fn with_key_delay(opts: &SaveOptions) -> SaveOptions {
    fn sleep(us: i64) {
        std::thread::sleep(std::time::Duration::from_micros(us.max(1) as u64));
    }
    SaveOptions {
        sleep: Some(sleep),
        ..opts.clone()
    }
}

/// fork(): Ok(0) in the child, Ok(pid) in the parent.
fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: the process is single-threaded; the child only writes a file and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}

fn child_exit(ok: bool) -> ! {
    // SAFETY: _exit skips destructors and atexit handlers the parent still owns.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// The PersistHost the engine calls.
pub struct Host {
    pub shared: Shared,
}

impl State {
    pub fn rdb_path(&self) -> PathBuf {
        self.dir.join(&self.dbfilename)
    }
}

impl PersistHost for Host {
    fn save(&mut self, dbs: &[Db], opts: &SaveOptions) -> Result<(), String> {
        let st = self.shared.borrow();
        let tmp = st.dir.join(format!("temp-{}.rdb", std::process::id()));
        let dst = st.rdb_path();
        match write_rdb_atomically(dbs, opts, &tmp, &dst) {
            Ok(()) => {
                log::notice("DB saved on disk");
                Ok(())
            }
            Err(e) => {
                let msg = format!("Failed saving the DB: {}", crate::log::strerror(&e));
                log::warning(&msg);
                Err(msg)
            }
        }
    }

    fn bgsave(&mut self, dbs: &[Db], opts: &SaveOptions) -> Result<(), String> {
        let mut st = self.shared.borrow_mut();
        if st.rdb_child.is_some() {
            return Err("Background save already in progress".into());
        }
        let dst = st.rdb_path();
        let dir = st.dir.clone();
        match fork() {
            Ok(0) => {
                let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
                let opts = &with_key_delay(opts);
                let ok = write_rdb_atomically(dbs, opts, &tmp, &dst).is_ok();
                child_exit(ok);
            }
            Ok(pid) => {
                log::notice(&format!("Background saving started by pid {pid}"));
                st.rdb_child = Some(Child {
                    pid,
                    tmp: dir.join(format!("temp-{pid}.rdb")),
                });
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Can't save in background: fork: {}",
                    crate::log::strerror(&e)
                );
                log::warning(&msg);
                Err(msg)
            }
        }
    }

    fn bgrewriteaof(
        &mut self,
        dbs: &[Db],
        opts: &SaveOptions,
        pending: &[u8],
    ) -> Result<(), String> {
        let mut st = self.shared.borrow_mut();
        if st.aof_child.is_some() {
            return Err("rewrite already in progress".into());
        }
        let aofdir;
        let base_seq;
        {
            let (dir, name) = (st.dir.join(&st.aof_dirname), st.aof_name.clone());
            let aof = st.aof.get_or_insert_with(|| Aof::new(dir, name));
            if let Err(e) = aof.write(pending).and_then(|()| aof.fsync()) {
                let m = format!(
                    "Error writing the AOF before a rewrite: {}",
                    crate::log::strerror(&e)
                );
                log::warning(&m);
                return Err(m);
            }
            // New writes go to a fresh incr file from now on; the child's base covers
            // everything before it.
            aof.start_rewrite().map_err(|e| {
                let m = format!(
                    "Can't rotate the AOF for a rewrite: {}",
                    crate::log::strerror(&e)
                );
                log::warning(&m);
                m
            })?;
            aofdir = aof.dir.clone();
            base_seq = aof.base_seq + 1;
        }
        match fork() {
            Ok(0) => {
                let tmp = aofdir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
                let res = (|| -> io::Result<()> {
                    let f = File::create(&tmp)?;
                    let w = rdb::encode(BufWriter::with_capacity(1 << 16, f), dbs, opts)?;
                    let f = w.into_inner().map_err(|e| e.into_error())?;
                    f.sync_all()
                })();
                child_exit(res.is_ok());
            }
            Ok(pid) => {
                log::notice(&format!(
                    "Background append only file rewriting started by pid {pid}"
                ));
                st.rewrite_base_seq = base_seq;
                st.aof_child = Some(Child {
                    pid,
                    tmp: aofdir.join(format!("temp-rewriteaof-bg-{pid}.aof")),
                });
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Can't rewrite append only file in background: fork: {}",
                    crate::log::strerror(&e)
                );
                log::warning(&msg);
                Err(msg)
            }
        }
    }

    /// A full sync: a forked child writes the snapshot into a pipe (Redis's diskless
    /// rdbSaveToSlavesSockets); a thread of the parent reads it whole, and the event loop hands
    /// it to the engine when the child has exited (`check_children`).
    fn repl_rdb(&mut self, dbs: &[Db], opts: &SaveOptions) -> Result<bool, String> {
        let mut st = self.shared.borrow_mut();
        if st.repl_child.is_some() {
            return Err("a replication RDB is already being produced".into());
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe() with a valid two-int array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            let e = io::Error::last_os_error();
            return Err(format!("pipe: {}", crate::log::strerror(&e)));
        }
        let (rd, wr) = (fds[0], fds[1]);
        match fork() {
            Ok(0) => {
                use std::os::fd::FromRawFd;
                // SAFETY: in the child, the read end is not ours to use; the write end is
                // owned by this File from here on.
                unsafe { libc::close(rd) };
                let f = unsafe { File::from_raw_fd(wr) };
                let opts = &with_key_delay(opts);
                let res = rdb::encode(BufWriter::with_capacity(1 << 16, f), dbs, opts)
                    .and_then(|w| w.into_inner().map_err(|e| e.into_error()).map(drop));
                child_exit(res.is_ok());
            }
            Ok(pid) => {
                use std::io::Read;
                use std::os::fd::FromRawFd;
                // SAFETY: the parent keeps only the read end, owned by this File.
                unsafe { libc::close(wr) };
                let mut f = unsafe { File::from_raw_fd(rd) };
                let reader = std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    f.read_to_end(&mut buf).map(|_| buf)
                });
                log::notice(&format!(
                    "Starting BGSAVE for SYNC with target: replicas sockets (pid {pid})"
                ));
                st.repl_child = Some(ReplChild { pid, reader });
                Ok(true)
            }
            Err(e) => {
                // SAFETY: closing the pipe we made.
                unsafe {
                    libc::close(rd);
                    libc::close(wr);
                }
                let msg = format!(
                    "Can't save in background: fork: {}",
                    crate::log::strerror(&e)
                );
                log::warning(&msg);
                Err(msg)
            }
        }
    }

    /// readSyncBulkPayload's disk path: `temp-<unixtime>.<pid>.rdb` in `dir`, created
    /// exclusively.
    fn create_sync_tmp(&mut self) -> Result<bool, String> {
        let mut st = self.shared.borrow_mut();
        if let Some(old) = st.sync_tmp.take() {
            let _ = fs::remove_file(&old.path);
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let path = st
            .dir
            .join(format!("temp-{secs}.{}.rdb", std::process::id()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| crate::log::strerror(&e))?;
        st.sync_tmp = Some(SyncTmp {
            file,
            path,
            written: 0,
            synced: 0,
        });
        Ok(true)
    }

    /// write() per chunk received; sync_file_range every 8 MB written.
    fn write_sync_tmp(&mut self, bytes: &[u8]) -> Result<(), String> {
        use std::io::Write;
        let mut st = self.shared.borrow_mut();
        let t = st.sync_tmp.as_mut().ok_or("no temp file")?;
        t.file
            .write_all(bytes)
            .map_err(|e| crate::log::strerror(&e))?;
        t.written += bytes.len() as u64;
        if t.written >= t.synced + SYNC_TMP_FSYNC_EVERY {
            let len = t.written - t.synced;
            // Redis ignores this call's result too: the final fsync reports.
            let _ = fsync_range(&t.file, t.synced, len);
            t.synced += len;
        }
        Ok(())
    }

    /// fsync, rename over dbfilename (the old file, if any, closed off the loop: Redis's
    /// bioCreateCloseJob, so the unlink of a big file does not block), fsync the dir.
    fn commit_sync_tmp(&mut self) -> Result<(), String> {
        let mut st = self.shared.borrow_mut();
        let t = st.sync_tmp.take().ok_or("no temp file")?;
        let dst = st.rdb_path();
        let name = st.dbfilename.clone();
        let fail = |what: &str, e: &io::Error| {
            format!(
                "Failed trying to {what} in MASTER <-> REPLICA synchronization: {}",
                crate::log::strerror(e)
            )
        };
        if let Err(e) = t.file.sync_all() {
            let _ = fs::remove_file(&t.path);
            return Err(fail("sync the temp DB to disk", &e));
        }
        drop(t.file);
        let old = File::open(&dst).ok();
        if let Err(e) = fs::rename(&t.path, &dst) {
            let _ = fs::remove_file(&t.path);
            return Err(fail(&format!("rename the temp DB into {name}"), &e));
        }
        if let Some(old) = old {
            std::thread::spawn(move || drop(old));
        }
        let dir = match dst.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fsync_dir(&dir).map_err(|e| fail(&format!("sync DB directory {name}"), &e))
    }

    fn discard_sync_tmp(&mut self) {
        if let Some(t) = self.shared.borrow_mut().sync_tmp.take() {
            drop(t.file);
            let _ = fs::remove_file(&t.path);
        }
    }

    fn open_sync_rdb(&mut self) -> Result<Option<(u64, u64)>, String> {
        let mut st = self.shared.borrow_mut();
        let p = st.rdb_path();
        let f = File::open(&p).map_err(|e| crate::log::strerror(&e))?;
        let size = f.metadata().map_err(|e| crate::log::strerror(&e))?.len();
        st.next_sync_handle += 1;
        let h = st.next_sync_handle;
        st.sync_files.insert(h, f);
        Ok(Some((h, size)))
    }

    fn read_sync_rdb(&mut self, handle: u64, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        use std::os::unix::fs::FileExt;
        let st = self.shared.borrow();
        let f = st.sync_files.get(&handle).ok_or("no such file")?;
        let mut buf = vec![0; len];
        let n = loop {
            match f.read_at(&mut buf, offset) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(crate::log::strerror(&e)),
            }
        };
        buf.truncate(n);
        Ok(buf)
    }

    fn remove_rdb(&mut self) -> bool {
        let p = self.shared.borrow().rdb_path();
        fs::remove_file(p).is_ok()
    }

    fn close_sync_rdb(&mut self, handle: u64) {
        self.shared.borrow_mut().sync_files.remove(&handle);
    }

    fn read_rdb(&mut self) -> Result<Vec<u8>, String> {
        let p = self.shared.borrow().rdb_path();
        fs::read(&p).map_err(|e| format!("{}: {}", p.display(), crate::log::strerror(&e)))
    }

    fn read_aof(&mut self) -> Result<oxidis_core::rdb::AofFiles, String> {
        crate::aof::read_all(&self.shared)
    }

    fn prepare_shutdown(&mut self) -> Result<(), String> {
        let mut st = self.shared.borrow_mut();
        for child in [st.rdb_child.take(), st.aof_child.take()]
            .into_iter()
            .flatten()
        {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(child.pid, libc::SIGKILL);
                libc::waitpid(child.pid, std::ptr::null_mut(), 0);
            }
            let _ = fs::remove_file(&child.tmp);
        }
        if let Some(child) = st.repl_child.take() {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(child.pid, libc::SIGKILL);
                libc::waitpid(child.pid, std::ptr::null_mut(), 0);
            }
            let _ = child.reader.join();
        }
        if let Some(aof) = st.aof.as_mut() {
            aof.fsync().map_err(|e| {
                let m = format!(
                    "Error flushing the AOF at shutdown: {}",
                    crate::log::strerror(&e)
                );
                log::warning(&m);
                m
            })?;
        }
        Ok(())
    }
}

/// Reaps finished children and tells the engine. Cheap (waitpid WNOHANG); called every turn
/// of the loop while a child runs.
pub fn check_children(shared: &Shared, eng: &mut Engine, now: UnixMillis) {
    let mut st = shared.borrow_mut();
    if let Some(c) = &st.rdb_child {
        if let Some(ok) = reap(c.pid) {
            let tmp = c.tmp.clone();
            st.rdb_child = None;
            if ok {
                log::notice("Background saving terminated with success");
            } else {
                let _ = fs::remove_file(tmp);
                log::warning("Background saving error");
            }
            // The engine may read the file back (a disk-based full sync): no borrow held.
            drop(st);
            eng.bgsave_done(now, ok);
            st = shared.borrow_mut();
        }
    }
    if let Some(c) = &st.repl_child {
        if let Some(ok) = reap(c.pid) {
            let child = st.repl_child.take().expect("checked above");
            let read = child.reader.join();
            let res = match (ok, read) {
                (true, Ok(Ok(bytes))) => {
                    log::notice("Background RDB transfer terminated with success");
                    Ok(bytes)
                }
                _ => {
                    log::warning("Background transfer error");
                    Err("the replication RDB child failed".to_string())
                }
            };
            drop(st);
            eng.repl_rdb_done(now, res);
            st = shared.borrow_mut();
        }
    }
    if let Some(c) = &st.aof_child {
        if let Some(ok) = reap(c.pid) {
            let tmp = c.tmp.clone();
            st.aof_child = None;
            let seq = st.rewrite_base_seq;
            let ok = ok
                && match st.aof.as_mut().map(|a| a.finish_rewrite(&tmp, seq)) {
                    Some(Ok(())) => true,
                    Some(Err(e)) => {
                        log::warning(&format!(
                            "Error trying to install the rewritten AOF: {}",
                            crate::log::strerror(&e)
                        ));
                        false
                    }
                    None => false,
                };
            let _ = fs::remove_file(&tmp);
            if ok {
                log::notice("Background AOF rewrite terminated with success");
                if let Some(a) = &st.aof {
                    eng.aof_sizes(a.base_size, a.base_size + a.incr_size);
                }
            } else {
                log::warning("Background AOF rewrite failed");
            }
            eng.aof_rewrite_done(now, ok);
        }
    }
}

/// Some(success) once the child has exited.
fn reap(pid: libc::pid_t) -> Option<bool> {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == pid {
        Some(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
    } else if r < 0 {
        Some(false)
    } else {
        None
    }
}

/// Whether a child is running (the loop polls more often then).
pub fn has_child(shared: &Shared) -> bool {
    let st = shared.borrow();
    st.rdb_child.is_some() || st.aof_child.is_some() || st.repl_child.is_some()
}

/// Startup: load the AOF (appendonly yes) or the RDB file. Err: exit with this message.
pub fn load_at_startup(shared: &Shared, eng: &mut Engine, now: UnixMillis) -> Result<(), String> {
    if eng.config().appendonly {
        return crate::aof::load_or_create(shared, eng, now);
    }
    let path = shared.borrow().rdb_path();
    match fs::read(&path) {
        Ok(bytes) => {
            let started = std::time::Instant::now();
            eng.loading_started();
            let res = eng.import_rdb(&bytes, now);
            eng.loading_finished();
            match res {
                Ok(info) => {
                    log::notice(&format!(
                        "DB loaded from disk: {:.3} seconds",
                        started.elapsed().as_secs_f64()
                    ));
                    if info.keys_expired > 0 {
                        log::notice(&format!(
                            "Done loading RDB, keys loaded: {}, keys expired: {}.",
                            info.keys_loaded, info.keys_expired
                        ));
                    }
                    Ok(())
                }
                Err(e) => Err(format!("Fatal error loading the DB: {e}. Exiting.")),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!(
            "Fatal error loading the DB: {}. Exiting.",
            crate::log::strerror(&e)
        )),
    }
}

/// Resolves `dir` (Redis chdirs into it; CONFIG GET dir then shows the absolute path).
pub fn init(eng: &mut Engine, dir_explicit: bool) -> Result<Shared, String> {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let dir_cfg = text(&eng.config().dir);
    if dir_explicit {
        std::env::set_current_dir(&dir_cfg)
            .map_err(|e| format!("Can't chdir to '{dir_cfg}': {}", crate::log::strerror(&e)))?;
    }
    let cwd = std::env::current_dir().map_err(|e| crate::log::strerror(&e))?;
    let _ = eng.set_config("dir", cwd.display().to_string().as_bytes());
    let cfg = eng.config();
    let shared: Shared = Rc::new(RefCell::new(State {
        dir: cwd,
        dbfilename: text(&cfg.dbfilename),
        aof_dirname: text(&cfg.appenddirname),
        aof_name: text(&cfg.appendfilename),
        ..State::default()
    }));
    eng.set_persist_host(Box::new(Host {
        shared: shared.clone(),
    }));
    Ok(shared)
}

/// Applies CONFIG SET dir / dbfilename / appendonly / appendfsync (on
/// `Event::ConfigChanged`).
pub fn sync_config(shared: &Shared, eng: &mut Engine) {
    let cfg = eng.config();
    let dir = PathBuf::from(String::from_utf8_lossy(&cfg.dir).into_owned());
    let dbf = String::from_utf8_lossy(&cfg.dbfilename).into_owned();
    let aof_on = cfg.appendonly;
    let fsync = cfg.appendfsync;
    {
        let mut st = shared.borrow_mut();
        if st.dir != dir {
            st.dir = dir;
        }
        if st.dbfilename != dbf {
            st.dbfilename = dbf;
        }
        if let Some(a) = st.aof.as_mut() {
            a.fsync_policy = fsync;
        }
    }
    let was = eng.aof_enabled();
    if aof_on != was {
        if aof_on {
            crate::aof::start_at_runtime(shared, eng);
        } else {
            crate::aof::stop(shared, eng);
        }
    }
}
