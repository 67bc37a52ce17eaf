//! oxidis-server: the native shell over `oxidis_core::Engine`. Command line and config as
//! redis-server's (cli.rs), log lines in Redis's format (log.rs), one mio event loop
//! (server.rs, conn.rs), a counting allocator for INFO's used_memory (alloc.rs), and the
//! lazy-free worker thread (lazyfree.rs), TLS with rustls (tls.rs).
//!
//! Everything about Redis semantics lives in the core; this crate only moves bytes, keeps
//! time and reports host facts.

mod acl_host;
mod alloc;
mod aof;
mod cli;
mod cluster_bus;
mod conn;
mod daemon;
mod lazyfree;
mod log;
mod persistence;
mod script_env;
mod server;
mod tls;

use oxidis_core::REDIS_VERSION;
use oxidis_core::{Config, Engine, HostInfo};
use std::process::ExitCode;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv.first().map_or("oxidis-server", String::as_str);
    let run = match cli::parse(argv.get(1..).unwrap_or_default()) {
        cli::Cli::Version => {
            println!("Oxidis server v={VERSION} (redis {REDIS_VERSION} compatible)");
            return ExitCode::SUCCESS;
        }
        cli::Cli::Help => {
            // Like redis-server: usage on stderr, exit code 1.
            eprint!("{}", cli::usage(prog));
            return ExitCode::FAILURE;
        }
        cli::Cli::Run(run) => run,
    };

    let config_file = run.config_file.as_deref().map(absolute_path);
    let file_text = match &config_file {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => {
                log::warning(&format!(
                    "Fatal error, can't open config file '{path}': {}",
                    crate::log::strerror(&e)
                ));
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let stdin_text = if run.config_from_stdin {
        log::warning("Reading config from stdin");
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut s);
        Some(String::from_utf8_lossy(&s).into_owned())
    } else {
        None
    };
    let text = cli::config_text(file_text.as_deref(), stdin_text.as_deref(), &run.options);
    let mut config = Config::default();
    if let Err(e) = config.load_conf(&text) {
        let header = format!("*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n");
        if let Some(rest) = e.strip_prefix(&header) {
            // The core wrote Redis's whole block: only the header names Oxidis.
            eprint!("\n*** FATAL CONFIG FILE ERROR (Oxidis {VERSION}) ***\n{rest}\n");
        } else {
            eprint!(
                "{}",
                cli::fatal_config_error(&text, &e, &format!("Oxidis {VERSION}"))
            );
        }
        return ExitCode::FAILURE;
    }

    let lossy = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    log::set_level(config.loglevel.0);
    let logfile = lossy(&config.logfile);
    if !logfile.is_empty() {
        if let Err(e) = log::to_file(&logfile) {
            eprintln!("Can't open the log file: {}", crate::log::strerror(&e));
            return ExitCode::FAILURE;
        }
    }
    let daemonized = config.daemonize;
    if daemonized {
        if let Err(e) = daemon::daemonize() {
            log::warning(&format!("Can't daemonize: {}", crate::log::strerror(&e)));
            return ExitCode::FAILURE;
        }
    }
    let pidfile = daemon::pidfile_path(&lossy(&config.pidfile), daemonized);
    if let Some(path) = &pidfile {
        if daemon::write_pidfile(path).is_err() {
            log::warning(&format!("Failed to write PID file: {path}"));
        }
    }
    let pid = std::process::id();
    log::warning("oO0OoO0OoO0Oo Oxidis is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "Oxidis version={VERSION}, redis_version={REDIS_VERSION}, bits=64, pid={pid}, just started"
    ));
    if argv.len() == 1 {
        log::warning(&format!(
            "Warning: no config file specified, using the default config. In order to specify a config file use {prog} /path/to/redis.conf"
        ));
    } else {
        log::warning("Configuration loaded");
    }
    log::set_master();
    // As Redis's initServer: a closed terminal does not stop the server (SIGPIPE is already
    // ignored by Rust's runtime).
    // SAFETY: installing SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    // Redis's initServer: TLS is configured first, then the open files limit for maxclients.
    if tls::apply(&config).is_err() {
        log::warning("Failed to configure TLS. Check logs for more info.");
        return ExitCode::FAILURE;
    }
    match adjust_open_files_limit(config.maxclients) {
        Some(fits) => config.maxclients = fits,
        None => return ExitCode::FAILURE,
    }

    let port = config.port;
    let bind = config.bind.render();
    // Redis's ACLLoadUsersAtStartup: users from the config file or from the aclfile, not both.
    if !config.aclfile.is_empty() && !config.acl_users.is_empty() {
        log::warning("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.");
        return ExitCode::FAILURE;
    }
    let mut eng = Engine::new(config, seed());
    eng.set_script_vm_factory(Box::new(oxidis_lua::LuaVmFactory));
    eng.set_acl_host(Box::new(acl_host::NativeAclHost));
    eng.set_migrate_host(Box::new(cluster_bus::SyncMigrate));
    if let Err(e) = eng.load_acl_file() {
        log::warning(&format!(
            "Aborting Redis startup because of ACL errors: {e}"
        ));
        return ExitCode::FAILURE;
    }
    if let Some(path) = &config_file {
        eng.set_config_store(Box::new(ConfigFile(path.into())));
    }
    eng.set_host_info(
        server::now(),
        HostInfo {
            process_id: pid,
            tcp_port: port,
            executable: absolute_path(prog),
            config_file: config_file.unwrap_or_default(),
            os: os_name(),
            arch_bits: 64,
            multiplexing_api: "epoll".into(),
            used_memory: Some(alloc::allocated),
            used_memory_rss: Some(alloc::rss),
            frees_lazily: true,
            lazyfree_pending: Some(lazyfree::pending),
            lazyfreed: Some(lazyfree::freed),
            adjust_open_files: Some(|wanted| adjust_open_files_limit(wanted).unwrap_or(wanted)),
            configure_tls: Some(tls::apply),
            monotonic_us: Some(monotonic_us),
            wall_us: Some(wall_us),
            cpu_times: Some(cpu_times),
        },
    );
    // `dir` given explicitly: chdir there, as Redis does; either way CONFIG GET dir then
    // reports the absolute working directory.
    let dir_explicit = text.lines().any(|l| {
        let l = l.trim_start().to_ascii_lowercase();
        l.starts_with("dir ") || l.starts_with("dir\t")
    });
    let persist = match persistence::init(&mut eng, dir_explicit) {
        Ok(p) => p,
        Err(e) => {
            log::warning(&e);
            return ExitCode::FAILURE;
        }
    };
    let mut srv = match server::Server::new(eng, &bind, port) {
        Ok(s) => s,
        Err(server::StartError::NoListeners) => {
            log::warning("Configured to not listen anywhere, exiting.");
            return ExitCode::FAILURE;
        }
        Err(server::StartError::Listen(lines)) => {
            for l in lines {
                log::warning(&l);
            }
            return ExitCode::FAILURE;
        }
        Err(server::StartError::Io(e)) => {
            log::warning(&format!("Failed creating the event loop: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // As Redis: the TLS port when there is no plain one.
    let shown_port = if port != 0 {
        i64::from(port)
    } else {
        srv.engine().config().tls_port
    };
    // clusterInit runs in initServer, before the banner.
    if let Err(lines) = srv.start_cluster_bus(&bind, port) {
        for l in lines {
            log::warning(&l);
        }
        return ExitCode::FAILURE;
    }
    let cluster = srv.engine().config().cluster_enabled;
    let mode = if cluster { "cluster" } else { "standalone" };
    log::notice(&format!("Running mode={mode}, port={shown_port}."));
    log::notice("Server initialized");
    if let Err(e) = persistence::load_at_startup(&persist, srv.engine_mut(), server::now()) {
        log::warning(&e);
        return ExitCode::FAILURE;
    }
    srv.set_persistence(persist);
    if let Err(line) = srv.engine_mut().cluster_verify_config_with_data() {
        log::warning(&line);
        return ExitCode::FAILURE;
    }
    log::notice("Ready to accept connections");

    let code = match srv.run() {
        // The core logged "User requested shutdown..." when SHUTDOWN began (begin_shutdown).
        Ok("SHUTDOWN") => ExitCode::SUCCESS,
        Ok(signal) => {
            log::warning(&format!("Received {signal} scheduling shutdown..."));
            log::warning("User requested shutdown...");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::warning(&format!("Event loop failed: {}", crate::log::strerror(&e)));
            ExitCode::FAILURE
        }
    };
    srv.close_all();
    debug_assert_eq!(srv.engine().client_count(), 0);
    if let Some(path) = &pidfile {
        let _ = std::fs::remove_file(path);
    }
    log::warning("Oxidis is now ready to exit, bye bye...");
    code
}

/// Redis's getAbsolutePath: relative paths are taken from the working directory.
fn absolute_path(p: &str) -> String {
    if p.starts_with('/') {
        return p.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(p).display().to_string(),
        Err(_) => p.to_string(),
    }
}

/// Redis reserves this many descriptors beyond maxclients (CONFIG_MIN_RESERVED_FDS).
const MIN_RESERVED_FDS: u64 = 32;

/// Redis's adjustOpenFilesLimit: make RLIMIT_NOFILE fit `maxclients` + 32, stepping down by 16
/// from there until setrlimit succeeds; returns the maxclients that fits (the same if all of
/// it does), logging as Redis does. None: not even 32 descriptors, the server cannot start.
fn adjust_open_files_limit(maxclients: u64) -> Option<u64> {
    let maxfiles = maxclients + MIN_RESERVED_FDS;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write `rl`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        log::warning(&format!(
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            crate::log::strerror(&std::io::Error::last_os_error())
        ));
        return Some(1024 - MIN_RESERVED_FDS);
    }
    let old = rl.rlim_cur;
    if old >= maxfiles {
        return Some(maxclients);
    }
    let mut best = maxfiles;
    let mut err = 0;
    while best > old {
        rl.rlim_cur = best;
        rl.rlim_max = best;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } == 0 {
            break;
        }
        err = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if best < 16 {
            best = old;
            break;
        }
        best -= 16;
    }
    best = best.max(old);
    if best >= maxfiles {
        log::notice(&format!(
            "Increased maximum number of open files to {maxfiles} (it was originally set to {old})."
        ));
        return Some(maxclients);
    }
    if best <= MIN_RESERVED_FDS {
        log::warning(&format!(
            "Your current 'ulimit -n' of {old} is not enough for the server to start. Please increase your open file limit to at least {maxfiles}. Exiting."
        ));
        return None;
    }
    let fits = best - MIN_RESERVED_FDS;
    log::warning(&format!(
        "You requested maxclients of {maxclients} requiring at least {maxfiles} max file descriptors."
    ));
    log::warning(&format!(
        "Server can't set maximum open files to {maxfiles} because of OS error: {}.",
        crate::log::strerror(&std::io::Error::from_raw_os_error(err))
    ));
    log::warning(&format!(
        "Current maximum open files is {best}. maxclients has been reduced to {fits} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
    ));
    Some(fits)
}

/// The engine's seed: from the kernel's CSPRNG, else pid and time.
fn seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == 8 {
        return u64::from_le_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 32)
}

/// INFO's `os`: uname's sysname, release and machine, as Redis prints them.
fn os_name() -> String {
    // SAFETY: uname fills the struct; all-zero is a valid initial value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// The host's monotonic clock for command timing (INFO commandstats, SLOWLOG, LATENCY), in
/// microseconds since its first reading.
fn monotonic_us() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros() as u64
}

/// The wall clock in microseconds since the epoch (MONITOR's timestamps).
fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The configuration file CONFIG REWRITE rewrites (rewriteConfigOverwriteFile: a temporary file
/// beside it, synced, made 0644 less the umask, renamed over it, the directory synced).
struct ConfigFile(std::path::PathBuf);

/// An I/O error as strerror() words it ("Permission denied", without Rust's "(os error 13)").
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl oxidis_core::ConfigStore for ConfigFile {
    fn read(&mut self) -> Result<String, String> {
        match std::fs::read(&self.0) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(strerror(&e)),
        }
    }

    fn write(&mut self, text: &str) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let mut tmp = self.0.clone().into_os_string();
        tmp.push(format!(".{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            // SAFETY: umask only reads and sets the process's mask.
            let mask = unsafe {
                let m = libc::umask(0);
                libc::umask(m);
                m
            };
            f.set_permissions(std::fs::Permissions::from_mode(0o644 & !mask))?;
            std::fs::rename(&tmp, &self.0)?;
            if let Some(dir) = self.0.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        result.map_err(|e: std::io::Error| {
            let _ = std::fs::remove_file(&tmp);
            strerror(&e)
        })
    }
}

/// getrusage of the process and of its reaped children (BGSAVE, BGREWRITEAOF): (sys, user,
/// children's sys, children's user) in seconds, as INFO's used_cpu_* report them.
fn cpu_times() -> [f64; 4] {
    fn usage(who: libc::c_int) -> (f64, f64) {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return (0.0, 0.0);
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (secs(ru.ru_stime), secs(ru.ru_utime))
    }
    let (sys, user) = usage(libc::RUSAGE_SELF);
    let (csys, cuser) = usage(libc::RUSAGE_CHILDREN);
    [sys, user, csys, cuser]
}
