//! The append-only file in Redis 7.0's multi-part layout: `<dir>/<appenddirname>/` holds a
//! base file (an RDB, `aof-use-rdb-preamble`), incremental files of RESP commands, and the
//! manifest `<appendfilename>.manifest` naming them:
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! The core produces the commands to append (`Engine::take_propagated`); this file writes
//! them with the `appendfsync` policy. BGREWRITEAOF opens a new incr file first, forks a
//! child that writes the new base, and on success installs base + manifest and deletes what
//! they replace (so no rewrite buffer is needed: Redis 7.0's design).

use crate::log;
use crate::persistence::{fsync_dir, Shared};
use oxidis_core::AppendFsync;
use oxidis_core::{Engine, UnixMillis};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct Aof {
    pub dir: PathBuf,
    pub name: String,
    /// Appending (appendonly yes) or only rewriting on demand.
    pub enabled: bool,
    pub base_seq: u64,
    pub base: Option<String>,
    pub incrs: Vec<(u64, String)>,
    file: Option<File>,
    pub fsync_policy: AppendFsync,
    last_fsync: Option<Instant>,
    unsynced: bool,
    pub base_size: u64,
    pub incr_size: u64,
    /// Effects not yet in the file: a write failed (a full disk), so they are kept and
    /// written again on the next flush, as Redis keeps its aof_buf.
    retry: Vec<u8>,
}

fn manifest_line(file: &str, seq: u64, kind: char) -> String {
    format!("file {file} seq {seq} type {kind}\n")
}

impl Aof {
    pub fn new(dir: PathBuf, name: String) -> Aof {
        Aof {
            dir,
            name,
            enabled: false,
            base_seq: 0,
            base: None,
            incrs: Vec::new(),
            file: None,
            fsync_policy: AppendFsync::EverySec,
            last_fsync: None,
            unsynced: false,
            base_size: 0,
            incr_size: 0,
            retry: Vec::new(),
        }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.name))
    }

    /// Writes the manifest atomically (temp file, fsync, rename, fsync of the directory).
    pub fn persist_manifest(&self) -> io::Result<()> {
        let mut text = String::new();
        if let Some(b) = &self.base {
            text.push_str(&manifest_line(b, self.base_seq, 'b'));
        }
        for (seq, f) in &self.incrs {
            text.push_str(&manifest_line(f, *seq, 'i'));
        }
        let tmp = self.dir.join(format!("temp-{}.manifest", self.name));
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, self.manifest_path())?;
        fsync_dir(&self.dir)
    }

    /// Opens a new incr file for appending and records it in the manifest.
    fn open_new_incr(&mut self) -> io::Result<()> {
        let seq = self.incrs.last().map_or(1, |(s, _)| s + 1);
        let name = format!("{}.{seq}.incr.aof", self.name);
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(&name))?;
        self.incrs.push((seq, name));
        self.persist_manifest()?;
        self.file = Some(f);
        self.incr_size = 0;
        Ok(())
    }

    /// Appends propagated commands (dropped while no incr file is open: the base a pending
    /// rewrite writes will contain them).
    /// Appends `bytes` after anything a failed write left to retry. On an error (ENOSPC...)
    /// the partial write is truncated away, as Redis's flushAppendOnlyFile does, and all of
    /// it stays for the next attempt.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let pending: &[u8] = if self.retry.is_empty() {
            bytes
        } else {
            self.retry.extend_from_slice(bytes);
            &self.retry
        };
        if pending.is_empty() {
            return Ok(());
        }
        let mut done = 0;
        let mut failed = None;
        while done < pending.len() {
            match f.write(&pending[done..]) {
                Ok(0) => failed = Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => failed = Some(e),
            }
            if failed.is_some() {
                break;
            }
        }
        if done > 0 && failed.is_some() {
            let truncated = f
                .metadata()
                .and_then(|m| f.set_len(m.len().saturating_sub(done as u64)));
            if truncated.is_ok() {
                done = 0;
            }
        }
        self.incr_size += done as u64;
        if done > 0 {
            self.unsynced = true;
        }
        match failed {
            None => {
                self.retry.clear();
                Ok(())
            }
            Some(e) => {
                let rest = pending[done..].to_vec();
                self.retry = rest;
                Err(e)
            }
        }
    }

    /// Whether a failed write left effects to write again.
    pub fn retry_pending(&self) -> bool {
        !self.retry.is_empty()
    }

    pub fn fsync(&mut self) -> io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            if self.unsynced {
                f.sync_data()?;
                self.unsynced = false;
            }
        }
        self.last_fsync = Some(Instant::now());
        Ok(())
    }

    /// The appendfsync policy after a write: always -> now; everysec -> if a second passed.
    pub fn maybe_fsync(&mut self) -> io::Result<()> {
        match self.fsync_policy {
            AppendFsync::Always => self.fsync(),
            AppendFsync::EverySec if self.unsynced => {
                let due = self
                    .last_fsync
                    .is_none_or(|t| t.elapsed().as_millis() >= 1000);
                if due {
                    self.fsync()
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Whether an everysec fsync is still owed (the loop wakes up for it).
    pub fn fsync_pending(&self) -> bool {
        self.unsynced && self.fsync_policy == AppendFsync::EverySec
    }

    /// BGREWRITEAOF, in the parent before the fork: new writes go to a new incr file.
    pub fn start_rewrite(&mut self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        if self.enabled {
            self.fsync()?;
            self.open_new_incr()?;
        }
        Ok(())
    }

    /// The child wrote `tmp`: it becomes base `seq`; older incr files go.
    pub fn finish_rewrite(&mut self, tmp: &Path, seq: u64) -> io::Result<()> {
        let name = format!("{}.{seq}.base.rdb", self.name);
        fs::rename(tmp, self.dir.join(&name))?;
        let old_base = self.base.replace(name.clone());
        self.base_seq = seq;
        let keep = if self.enabled {
            self.incrs.last().cloned()
        } else {
            None
        };
        let old_incrs: Vec<(u64, String)> = std::mem::take(&mut self.incrs)
            .into_iter()
            .filter(|i| Some(i) != keep.as_ref())
            .collect();
        self.incrs.extend(keep);
        self.persist_manifest()?;
        for f in old_base
            .into_iter()
            .filter(|b| *b != name)
            .chain(old_incrs.into_iter().map(|(_, f)| f))
        {
            let _ = fs::remove_file(self.dir.join(f));
        }
        self.base_size = fs::metadata(self.dir.join(&name)).map_or(0, |m| m.len());
        Ok(())
    }
}

/// The manifest's (base, incrs).
/// (sequence, file name) of one AOF file.
type AofFile = (u64, String);

fn parse_manifest(text: &str) -> Result<(Option<AofFile>, Vec<AofFile>), String> {
    let mut base = None;
    let mut incrs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let w: Vec<&str> = line.split_ascii_whitespace().collect();
        let mut file = None;
        let mut seq = None;
        let mut kind = None;
        for kv in w.chunks(2) {
            if let [k, v] = kv {
                match *k {
                    "file" => file = Some(v.to_string()),
                    "seq" => seq = v.parse::<u64>().ok(),
                    "type" => kind = Some(v.to_string()),
                    _ => {}
                }
            }
        }
        let (Some(file), Some(seq), Some(kind)) = (file, seq, kind) else {
            return Err(format!("Invalid AOF manifest line: {line}"));
        };
        match kind.as_str() {
            "b" => base = Some((seq, file)),
            "i" => incrs.push((seq, file)),
            "h" => {}
            _ => return Err(format!("Unknown AOF file type in manifest: {line}")),
        }
    }
    incrs.sort();
    Ok((base, incrs))
}

/// DEBUG LOADAOF: the files the manifest names (base, then incrs in order) and, at the end
/// of the last, what a failed write left to retry.
pub fn read_all(shared: &Shared) -> Result<oxidis_core::rdb::AofFiles, String> {
    let st = shared.borrow();
    let dir = st.dir.join(&st.aof_dirname);
    let manifest = dir.join(format!("{}.manifest", st.aof_name));
    let read = |f: &str| {
        fs::read(dir.join(f)).map_err(|e| {
            format!(
                "Can't open the append-only file {f}: {}",
                crate::log::strerror(&e)
            )
        })
    };
    let text = fs::read_to_string(&manifest).map_err(|e| {
        format!(
            "Can't open the AOF manifest {}: {}",
            manifest.display(),
            crate::log::strerror(&e)
        )
    })?;
    let (base, incrs) = parse_manifest(&text)?;
    let base = base.map(|(_, f)| read(&f)).transpose()?;
    let mut files = incrs
        .iter()
        .map(|(_, f)| read(f))
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(aof), Some(last)) = (st.aof.as_ref(), files.last_mut()) {
        last.extend_from_slice(&aof.retry);
    }
    Ok((base, files))
}

/// Startup with appendonly yes: load base + incr files (aof-load-truncated decides about a
/// torn last command), or create a fresh AOF set.
pub fn load_or_create(shared: &Shared, eng: &mut Engine, now: UnixMillis) -> Result<(), String> {
    let (dir, name) = {
        let st = shared.borrow();
        (st.dir.join(&st.aof_dirname), st.aof_name.clone())
    };
    let mut aof = Aof::new(dir.clone(), name.clone());
    aof.enabled = true;
    aof.fsync_policy = eng.config().appendfsync;
    let manifest = dir.join(format!("{name}.manifest"));
    let truncated_ok = eng.config().aof_load_truncated;
    match fs::read_to_string(&manifest) {
        Ok(text) => {
            let (base, incrs) = parse_manifest(&text)?;
            eng.loading_started();
            let started = Instant::now();
            if let Some((seq, f)) = &base {
                let bytes = fs::read(dir.join(f)).map_err(|e| {
                    format!(
                        "Can't open the append-only file {f}: {}",
                        crate::log::strerror(&e)
                    )
                })?;
                let mut rest: &[u8] = &bytes;
                if bytes.starts_with(b"REDIS") {
                    let n = eng.load_aof_preamble(&bytes).map_err(|e| {
                        format!("Bad file format reading the append only file {f}: {e}")
                    })?;
                    rest = &bytes[n..];
                }
                if !rest.is_empty() {
                    let r = eng.replay_aof(now, rest).map_err(|e| format!("{e} {f}"))?;
                    if r.truncated {
                        return Err(format!(
                            "Unexpected end of file reading the append only file {f}"
                        ));
                    }
                }
                aof.base = Some(f.clone());
                aof.base_seq = *seq;
                aof.base_size = bytes.len() as u64;
            }
            let n = incrs.len();
            for (i, (seq, f)) in incrs.iter().enumerate() {
                let path = dir.join(f);
                let bytes = match fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::NotFound && i + 1 == n => Vec::new(),
                    Err(e) => {
                        return Err(format!(
                            "Can't open the append-only file {f}: {}",
                            crate::log::strerror(&e)
                        ))
                    }
                };
                let r = eng.replay_aof(now, &bytes).map_err(|e| {
                    format!("{e} {f}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
                })?;
                if r.truncated {
                    if i + 1 != n || !truncated_ok {
                        return Err(format!(
                            "Unexpected end of file reading the append only file {f}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                        ));
                    }
                    log::warning(&format!(
                        "!!! Warning: short read while loading the AOF file {f}!!!"
                    ));
                    log::warning(&format!(
                        "!!! Truncating the AOF {f} at offset {} !!!",
                        r.valid_len
                    ));
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| crate::log::strerror(&e))?;
                    file.set_len(r.valid_len as u64)
                        .map_err(|e| crate::log::strerror(&e))?;
                    file.sync_all().map_err(|e| crate::log::strerror(&e))?;
                    log::warning("AOF loaded anyway because aof-load-truncated is enabled");
                }
                aof.incrs.push((*seq, f.clone()));
                if i + 1 == n {
                    aof.incr_size = r.valid_len.min(bytes.len()) as u64;
                }
            }
            eng.loading_finished();
            log::notice(&format!(
                "DB loaded from append only file: {:.3} seconds",
                started.elapsed().as_secs_f64()
            ));
            // Append to the last incr file (a new one if there is none).
            match aof.incrs.last() {
                Some((_, f)) => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join(f))
                        .map_err(|e| {
                            format!(
                                "Can't open the append-only file {f}: {}",
                                crate::log::strerror(&e)
                            )
                        })?;
                    aof.file = Some(file);
                }
                None => aof.open_new_incr().map_err(|e| crate::log::strerror(&e))?,
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A fresh AOF: base from the current (empty) dataset, then an empty incr file.
            fs::create_dir_all(&dir).map_err(|e| {
                format!(
                    "Can't create the AOF directory: {}",
                    crate::log::strerror(&e)
                )
            })?;
            let base = format!("{name}.1.base.rdb");
            let opts = eng.aof_base_options(now);
            let tmp = dir.join(format!("temp-{base}"));
            crate::persistence::write_rdb_atomically(eng.dbs(), &opts, &tmp, &dir.join(&base))
                .map_err(|e| format!("Can't write the AOF base: {}", crate::log::strerror(&e)))?;
            aof.base_size = fs::metadata(dir.join(&base)).map_or(0, |m| m.len());
            aof.base = Some(base);
            aof.base_seq = 1;
            aof.open_new_incr().map_err(|e| crate::log::strerror(&e))?;
            log::notice("Creating AOF base file and incr file on server start");
        }
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest: {}",
                crate::log::strerror(&e)
            ))
        }
    }
    eng.aof_opened(aof.base_size, aof.base_size + aof.incr_size);
    shared.borrow_mut().aof = Some(aof);
    Ok(())
}

/// CONFIG SET appendonly yes: propagate from now on and rewrite a base in the background
/// (the new incr file opens when the rewrite forks).
pub fn start_at_runtime(shared: &Shared, eng: &mut Engine) {
    let mut st = shared.borrow_mut();
    let (dir, name) = (st.dir.join(&st.aof_dirname), st.aof_name.clone());
    let aof = st.aof.get_or_insert_with(|| Aof::new(dir, name));
    aof.enabled = true;
    aof.fsync_policy = eng.config().appendfsync;
    drop(st);
    eng.aof_switched_on();
}

/// CONFIG SET appendonly no.
pub fn stop(shared: &Shared, eng: &mut Engine) {
    if let Some(mut aof) = shared.borrow_mut().aof.take() {
        let _ = aof.fsync();
    }
    eng.aof_switched_off();
}

/// After a batch (the loop calls it once per turn, for every client served in it): append
/// what the engine propagated with one write, then apply the fsync policy. It runs before any
/// reply of the batch is written, so with appendfsync always one fsync covers them all (group
/// commit) and nothing acknowledged is lost.
pub fn flush(shared: &Shared, eng: &mut Engine, buf: &mut Vec<u8>) {
    if !eng.aof_enabled() {
        return;
    }
    buf.clear();
    eng.take_propagated(buf);
    let mut st = shared.borrow_mut();
    let Some(aof) = st.aof.as_mut() else {
        return;
    };
    // flushAppendOnlyFile's latency events: the write, then an appendfsync-always fsync.
    let t0 = std::time::Instant::now();
    let mut res = aof.write(buf);
    let write_ms = t0.elapsed().as_millis() as u64;
    let t1 = std::time::Instant::now();
    let always = matches!(aof.fsync_policy, AppendFsync::Always);
    res = res.and_then(|()| aof.maybe_fsync());
    let fsync_ms = t1.elapsed().as_millis() as u64;
    let written = buf.len() as u64;
    let size = aof.base_size + aof.incr_size;
    drop(st);
    if !buf.is_empty() {
        let now = crate::server::now();
        eng.latency_sample(now, "aof-write-alone", write_ms);
        if always {
            eng.latency_sample(now, "aof-fsync-always", fsync_ms);
        }
    }
    match res {
        Ok(()) => {
            if !eng.aof_write_ok_was() {
                log::warning("AOF write error looks solved, Redis can write again.");
            }
            eng.aof_write_ok(size)
        }
        Err(e) => {
            let why = crate::log::strerror(&e);
            if eng.config().appendfsync == AppendFsync::Always {
                // Redis cannot keep its promise (a reply only once its write is on disk): it
                // exits rather than acknowledge what it may have lost.
                log::warning(&format!(
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({why})"
                ));
                std::process::exit(1);
            }
            if eng.aof_write_failed(&why) {
                log::warning(&format!(
                    "Error writing to the AOF file: {why} ({written} bytes)"
                ));
            }
        }
    }
}

/// Whether an everysec fsync is owed.
pub fn fsync_pending(shared: &Shared) -> bool {
    shared.borrow().aof.as_ref().is_some_and(Aof::fsync_pending)
}

/// Whether a failed write is waiting to be retried (the loop retries it at least every
/// 100 ms, as Redis's serverCron does, so writes are accepted again once the disk recovers).
pub fn retry_pending(shared: &Shared) -> bool {
    shared.borrow().aof.as_ref().is_some_and(Aof::retry_pending)
}
