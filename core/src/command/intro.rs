//! Introspection: what operators watch the server through. INFO commandstats / errorstats /
//! latencystats (the counters call() keeps), SLOWLOG, LATENCY (the latency monitor and the
//! per-command histograms), MONITOR, COMMAND GETKEYS, MODULE (Oxidis loads none) and LOLWUT.
//!
//! Time: the core reads no clock. A command's duration comes from the host's monotonic
//! microsecond clock (`HostInfo::monotonic_us`, native: `Instant`; wasm: `performance.now()`);
//! without one every duration is 0 (tests with a virtual clock), so nothing is ever slow.
//! MONITOR's timestamps come from `HostInfo::wall_us` (else the feed's `now`, in whole ms).

use super::connection::reply_help;
use super::{flags, is, CmdError, CommandSpec, Ctx};
use crate::engine::{Client, ClientHandle, Server};
use crate::time::UnixMillis;
use std::collections::{BTreeMap, HashMap, VecDeque};

// ---------------------------------------------------------------------------------------------
// Instantaneous metrics: INFO's instantaneous_ops_per_sec and _kbps

/// Redis's STATS_METRIC_SAMPLES.
const INST_SAMPLES: usize = 16;
/// serverCron's run_with_period(100).
pub(crate) const INST_PERIOD_MS: u64 = 100;

/// Redis's inst_metric[] for the three readings Oxidis has (commands, input bytes, output
/// bytes; the replication ones are 0): every 100 ms serverCron turns each reading's growth
/// into a per-second rate (trackInstantaneousMetric) and INFO shows the mean of the last 16
/// (getInstantaneousMetric). Part of `Stats`, so CONFIG RESETSTAT clears it.
///
/// The engine's tick samples when 100 ms have passed (the native host ticks at least that
/// often); a gap of several periods with no tick (an idle engine asks for none; INFO catches
/// up too) gets one sample per period, each the gap's average rate, so the rates still fall
/// to 0 after 1.6 s without traffic, as Redis's do, with no timer for it.
#[derive(Clone, Debug, Default)]
pub struct InstMetrics {
    samples: [[u64; INST_SAMPLES]; 3],
    idx: usize,
    last_time: u64,
    last_count: [u64; 3],
}

impl InstMetrics {
    pub(crate) const OPS: usize = 0;
    pub(crate) const NET_INPUT: usize = 1;
    pub(crate) const NET_OUTPUT: usize = 2;

    /// Samples when 100 ms have passed since the last sample (see the type's comment).
    pub(crate) fn tick(st: &mut crate::engine::Stats, now: UnixMillis) {
        let m = &mut st.inst;
        let t = now.0.saturating_sub(m.last_time);
        if t < INST_PERIOD_MS {
            return;
        }
        let readings = [
            st.commands_processed,
            st.net_input_bytes,
            st.net_output_bytes,
        ];
        let periods = (t / INST_PERIOD_MS).min(INST_SAMPLES as u64);
        let rates = std::array::from_fn::<u64, 3, _>(|i| {
            readings[i].saturating_sub(m.last_count[i]) * 1000 / t
        });
        for _ in 0..periods {
            for (i, rate) in rates.iter().enumerate() {
                m.samples[i][m.idx] = *rate;
            }
            m.idx = (m.idx + 1) % INST_SAMPLES;
        }
        m.last_time = now.0;
        m.last_count = readings;
    }

    /// getInstantaneousMetric: the mean of the samples (integer division, as Redis).
    pub(crate) fn get(&self, metric: usize) -> u64 {
        self.samples[metric].iter().sum::<u64>() / INST_SAMPLES as u64
    }
}

// ---------------------------------------------------------------------------------------------
// Counters: commandstats, errorstats

/// One command's INFO commandstats line, and its latency histogram (latencystats).
#[derive(Clone, Debug, Default)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    pub hist: Option<Box<Histogram>>,
}

/// The counters CONFIG RESETSTAT clears (Redis's resetCommandTableStats and
/// resetErrorTableStats), kept in `Stats`.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub(crate) commands: CommandCounters,
    /// errorstat_<PREFIX>:count=N, in Redis's rax order (bytewise).
    pub(crate) errors: BTreeMap<Vec<u8>, u64>,
    /// Redis's static prev_err_count in incrCommandStatsOnError.
    prev_err_count: u64,
    /// An error reply that was not counted (afterErrorReply's NO_STATS_UPDATE case): the
    /// running command fails all the same.
    failed_silently: bool,
    /// The monotonic clock the embedder read just before this request (Engine::call_args_at):
    /// taken by the next call()'s timer instead of a read of its own. Cleared after the request.
    pub(crate) clock_hint: Option<u64>,
    /// The clock read that ended the last timed call (Engine::take_clock_us).
    pub(crate) clock_last: Option<u64>,
}

/// Each command's `CmdStat`: top-level commands by their row in the command table (a
/// subtraction, where a map hashed the name on every call: ~4% of a GET on wasm), subcommands
/// (and test-made specs) by name. Redis keeps the counters in the command's own struct.
#[derive(Clone, Debug, Default)]
pub struct CommandCounters {
    /// Indexed like `table::COMMANDS`; empty until the first command counts.
    top: Vec<CmdStat>,
    others: HashMap<&'static str, CmdStat, super::NameHash>,
}

impl CommandCounters {
    /// `cmd`'s row in `table::COMMANDS`, if it is one of its entries.
    #[inline]
    fn row(cmd: &'static CommandSpec) -> Option<usize> {
        let table = super::table::COMMANDS;
        let size = std::mem::size_of::<CommandSpec>();
        let off = (cmd as *const CommandSpec as usize).wrapping_sub(table.as_ptr() as usize);
        let i = off / size;
        (off.is_multiple_of(size) && i < table.len()).then_some(i)
    }

    pub(crate) fn get(&self, cmd: &'static CommandSpec) -> Option<&CmdStat> {
        match Self::row(cmd) {
            Some(i) => self.top.get(i),
            None => self.others.get(cmd.name),
        }
    }

    /// `cmd`'s counters, made on first use.
    #[inline]
    pub(crate) fn entry(&mut self, cmd: &'static CommandSpec) -> &mut CmdStat {
        match Self::row(cmd) {
            Some(i) => {
                if self.top.is_empty() {
                    self.top
                        .resize_with(super::table::COMMANDS.len(), Default::default);
                }
                &mut self.top[i]
            }
            None => self.others.entry(cmd.name).or_default(),
        }
    }
}

/// Redis's afterErrorReply: counts an error reply under its prefix (the text before the first
/// space within 32 bytes; "ERR" when there is none). `text` is without the leading '-'.
pub(crate) fn count_error(srv: &mut Server, text: &[u8]) {
    srv.stats.error_replies += 1;
    let window = &text[..text.len().min(31)];
    let prefix = match memchr::memchr(b' ', window) {
        Some(i) => &text[..i],
        None => b"ERR".as_slice(),
    };
    let errors = &mut srv.stats.counters.errors;
    match errors.get_mut(prefix) {
        Some(n) => *n += 1,
        None => {
            errors.insert(prefix.to_vec(), 1);
        }
    }
}

/// A script's error reply: `counted` when it is a command's error the script passes on
/// (ERR_REPLY_FLAG_NO_STATS_UPDATE: the script's command still counts as failed).
pub(crate) fn count_script_error(srv: &mut Server, text: &[u8], counted: bool) {
    if counted {
        srv.stats.counters.failed_silently = true;
    } else {
        count_error(srv, text);
    }
}

/// rejectCommand's `c->cmd->rejected_calls++`.
pub(crate) fn count_rejected(srv: &mut Server, cmd: &'static CommandSpec) {
    srv.stats.counters.commands.entry(cmd).rejected += 1;
}

/// What call() notes before running a handler.
pub(crate) struct CallStart {
    clock_us: Option<u64>,
}

/// call()'s prologue: `incrCommandStatsOnError(NULL, 0)` and the start of the timer.
pub(crate) fn call_start(srv: &mut Server) -> CallStart {
    srv.stats.counters.prev_err_count = srv.stats.error_replies;
    let hint = srv.stats.counters.clock_hint.take();
    CallStart {
        clock_us: srv.host.monotonic_us.map(|f| hint.unwrap_or_else(f)),
    }
}

/// call()'s epilogue after the handler: failed_calls, the latency monitor, the slow log,
/// MONITOR and the command's calls/usec/histogram, in Redis's order.
pub(crate) fn call_end(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
    start: CallStart,
) {
    let duration = match (start.clock_us, srv.host.monotonic_us) {
        (Some(t0), Some(f)) => {
            let t1 = f();
            srv.stats.counters.clock_last = Some(t1);
            t1.saturating_sub(t0)
        }
        _ => 0,
    };
    let errs = srv.stats.error_replies;
    let failed = errs > srv.stats.counters.prev_err_count
        || std::mem::take(&mut srv.stats.counters.failed_silently);
    srv.stats.counters.prev_err_count = errs;
    let event = if cmd.has(flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    latency_add_sample_if_needed(srv, now, event, duration / 1000);
    let blocked = clients.get(id.0).is_some_and(|c| c.blocked.is_some());
    if !blocked && !cmd.has(flags::SKIP_SLOWLOG) {
        if let Some(c) = clients.get(id.0) {
            slowlog_push(srv, now, c, cmd, args, duration);
        }
    }
    if !srv.intro.monitors.is_empty() && !cmd.has(flags::SKIP_MONITOR | flags::ADMIN) {
        if let Some(c) = clients.get(id.0) {
            let line = monitor_line(srv, now, c, cmd, args);
            feed_monitors(now, srv, clients, id, &line);
        }
    }
    // The peak after each command, as Redis's call() records stat_peak_memory.
    if srv.host.used_memory.is_some() {
        srv.evict.peak_used = srv.evict.peak_used.max(srv.used_memory());
    }
    let tracking = srv.config.latency_tracking;
    let st = srv.stats.counters.commands.entry(cmd);
    if failed {
        st.failed += 1;
    }
    st.calls += 1;
    st.usec += duration;
    if tracking && !blocked {
        st.hist
            .get_or_insert_with(Default::default)
            .record(duration.saturating_mul(1000));
    }
    if blocked {
        if let Some(c) = clients.get_mut(id.0) {
            super::blocking::note_call(c, args, duration);
        }
    }
}

/// Redis 7.0's updateStatsOnUnblock, when a blocked client is served (not when it times out
/// or is unblocked by CLIENT UNBLOCK: 7.0.15 adds nothing then): the command's usec gets the
/// blocking call's duration again plus the serving's (`total_us`; calls was counted when it
/// blocked), failed_calls if the serving replied an error, the latency histogram and the
/// slow log get the total, and the serving alone is the `command-unblocking` latency event.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_stats_on_unblock(
    now: UnixMillis,
    srv: &mut Server,
    c: &Client,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
    total_us: u64,
    reply_us: u64,
    had_errors: bool,
) {
    let tracking = srv.config.latency_tracking;
    let st = srv.stats.counters.commands.entry(cmd);
    st.usec += total_us;
    if had_errors {
        st.failed += 1;
    }
    if tracking {
        st.hist
            .get_or_insert_with(Default::default)
            .record(total_us.saturating_mul(1000));
    }
    if !cmd.has(flags::SKIP_SLOWLOG) && !args.is_empty() {
        slowlog_push(srv, now, c, cmd, args, total_us);
    }
    latency_add_sample_if_needed(srv, now, "command-unblocking", reply_us / 1000);
}

/// INFO commandstats's lines, parents before their subcommands.
pub(crate) fn info_commandstats(srv: &Server, s: &mut String) {
    use std::fmt::Write;
    for c in super::all_commands() {
        let Some(st) = srv.stats.counters.commands.get(c) else {
            continue;
        };
        if st.calls == 0 && st.failed == 0 && st.rejected == 0 {
            continue;
        }
        let per_call = if st.calls == 0 {
            0.0
        } else {
            st.usec as f32 / st.calls as f32
        };
        let _ = write!(
            s,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            safe_info(c.name),
            st.calls,
            st.usec,
            per_call,
            st.rejected,
            st.failed
        );
    }
}

/// INFO errorstats's lines.
pub(crate) fn info_errorstats(srv: &Server, s: &mut String) {
    use std::fmt::Write;
    for (prefix, n) in &srv.stats.counters.errors {
        let _ = write!(
            s,
            "errorstat_{}:count={n}\r\n",
            safe_info(&String::from_utf8_lossy(prefix))
        );
    }
}

/// INFO latencystats's lines (latency_percentiles_usec_<cmd>:p50=...,p99=...).
pub(crate) fn info_latencystats(srv: &Server, s: &mut String) {
    use std::fmt::Write;
    if !srv.config.latency_tracking {
        return;
    }
    let pcts = &srv.config.latency_tracking_info_percentiles.0;
    for c in super::all_commands() {
        let Some(h) = srv
            .stats
            .counters
            .commands
            .get(c)
            .and_then(|st| st.hist.as_deref())
        else {
            continue;
        };
        let _ = write!(s, "latency_percentiles_usec_{}:", safe_info(c.name));
        for (i, p) in pcts.iter().enumerate() {
            let v = h.value_at_percentile(*p) as f64 / 1000.0;
            let _ = write!(s, "p{}={v:.3}", crate::config::format_percentile(*p));
            if i + 1 != pcts.len() {
                s.push(',');
            }
        }
        s.push_str("\r\n");
    }
}

/// getSafeInfoString: '#', ':', '\n' and '\r' become '_'.
fn safe_info(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['#', ':', '\n', '\r']) {
        s.replace(['#', ':', '\n', '\r'], "_").into()
    } else {
        s.into()
    }
}

// ---------------------------------------------------------------------------------------------
// The latency histogram: HdrHistogram's layout with Redis's parameters (1 ns .. 1 s, 2
// significant digits), so percentiles and LATENCY HISTOGRAM's buckets round as Redis's do.

const SUB_BUCKET_HALF_MAG: u32 = 7; // sub_bucket_count 256 for 2 significant digits
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAG;
const SUB_BUCKET_MASK: u64 = (1 << (SUB_BUCKET_HALF_MAG + 1)) - 1;
const HIST_MIN: u64 = 1;
const HIST_MAX: u64 = 1_000_000_000;

/// Counts per HdrHistogram index, dense up to the highest index seen (Redis allocates all
/// of them; a command's durations stay low, so this holds a few hundred): recording is an
/// index, where a sparse map cost a tree walk per command.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

fn bucket_index(v: u64) -> u32 {
    let pow2ceiling = 64 - (v | SUB_BUCKET_MASK).leading_zeros();
    pow2ceiling - (SUB_BUCKET_HALF_MAG + 1)
}

fn counts_index(v: u64) -> u32 {
    let b = bucket_index(v);
    let sub = (v >> b) as u32;
    ((b + 1) << SUB_BUCKET_HALF_MAG) + sub - SUB_BUCKET_HALF as u32
}

fn value_at_index(idx: u32) -> u64 {
    let mut b = (idx >> SUB_BUCKET_HALF_MAG) as i64 - 1;
    let mut sub = u64::from(idx & (SUB_BUCKET_HALF as u32 - 1)) + SUB_BUCKET_HALF;
    if b < 0 {
        sub -= SUB_BUCKET_HALF;
        b = 0;
    }
    sub << b
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    (v >> b) << b
}

fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    let sub = v >> b;
    let adjusted = if sub >= 2 * SUB_BUCKET_HALF { b + 1 } else { b };
    lowest_equivalent(v) + (1u64 << adjusted) - 1
}

impl Histogram {
    /// Records a duration in nanoseconds (clamped to 1 ns .. 1 s, as Redis does).
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(HIST_MIN, HIST_MAX);
        let i = counts_index(v) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// hdr_value_at_percentile.
    pub fn value_at_percentile(&self, p: f64) -> u64 {
        let p = p.min(100.0);
        let want = ((p / 100.0 * self.total as f64 + 0.5) as u64).max(1);
        let mut seen = 0;
        let mut value = 0;
        for (idx, &n) in self.counts.iter().enumerate() {
            seen += n;
            if n > 0 && seen >= want {
                value = value_at_index(idx as u32);
                break;
            }
        }
        if p == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }

    /// LATENCY HISTOGRAM's buckets: (upper bound in µs, cumulative count) at 1024 ns, 2048 ns
    /// ... (hdr_iter_log_init(1024, 2)), the ones where the count grew.
    pub fn cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut level = 1024u64;
        let mut prev = 0;
        while prev < self.total {
            let top = highest_equivalent(level);
            let upto = counts_index(lowest_equivalent(level));
            let upto = (upto as usize + 1).min(self.counts.len());
            let cum: u64 = self.counts[..upto].iter().sum();
            if cum > prev {
                out.push((top / 1000, cum));
                prev = cum;
            }
            level *= 2;
            if level > HIST_MAX * 4 {
                break;
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// State: slow log, latency events, monitors

/// One SLOWLOG entry (slowlogEntry).
#[derive(Clone, Debug)]
struct SlowEntry {
    id: u64,
    time: u64,
    duration: u64,
    args: Vec<Vec<u8>>,
    peer: String,
    name: Vec<u8>,
}

/// LATENCY_TS_LEN: samples kept per event.
const LATENCY_TS_LEN: usize = 160;

/// latencyTimeSeries.
#[derive(Clone, Debug)]
struct TimeSeries {
    idx: usize,
    max: u64,
    samples: Vec<(u64, u64)>,
}

/// The introspection state that outlives CONFIG RESETSTAT.
#[derive(Default)]
pub struct Intro {
    slowlog: VecDeque<SlowEntry>,
    slowlog_next_id: u64,
    /// Latency events by name (created on their first sample, as Redis's dict).
    latency: Vec<(&'static str, TimeSeries)>,
    /// Slots of clients in MONITOR mode, in the order they entered it.
    pub(crate) monitors: Vec<usize>,
    /// The host's event-loop turns (see [`LoopTurn`]): the longest since the last reset, with
    /// its time (unix seconds), how many turns were reported, and how many took at least 1, 2
    /// and 5 ms.
    worst_turn: Option<(u64, LoopTurn)>,
    /// The turn that used the most CPU (when the host measures it): on a shared machine the
    /// longest turn by wall time is often one the OS did not run, this one did the most work.
    worst_cpu_turn: Option<(u64, LoopTurn)>,
    turns: u64,
    slow_turns: [u64; 3],
}

const SLOWLOG_ENTRY_MAX_ARGC: usize = 32;
const SLOWLOG_ENTRY_MAX_STRING: usize = 128;

/// The arguments Redis shows in place of secrets (redactClientCommandArgument): AUTH's,
/// HELLO's AUTH pair, CONFIG SET of a sensitive parameter.
fn redacted(cmd: &CommandSpec, args: &[&[u8]]) -> Vec<bool> {
    let mut r = vec![false; args.len()];
    match cmd.name {
        "auth" if args.len() <= 3 => r.iter_mut().skip(1).for_each(|x| *x = true),
        "hello" if args.len() >= 2 => {
            let mut j = 2;
            while j < args.len() {
                let more = args.len() - 1 - j;
                if is(args[j], "auth") && more >= 2 {
                    r[j + 1] = true;
                    r[j + 2] = true;
                    j += 3;
                } else if is(args[j], "setname") && more >= 1 {
                    j += 2;
                } else {
                    break;
                }
            }
        }
        "config|set" => {
            for (i, pair) in args[2..].chunks(2).enumerate() {
                if pair.len() == 2 && (is(pair[0], "requirepass") || is(pair[0], "masterauth")) {
                    r[2 + i * 2 + 1] = true;
                }
            }
        }
        _ => {}
    }
    r
}

const REDACTED: &[u8] = b"(redacted)";

/// getClientPeerId as CLIENT LIST's addr.
fn peer_id(c: &Client) -> String {
    c.info.addr.clone()
}

/// slowlogPushCurrentCommand + slowlogPushEntryIfNeeded.
fn slowlog_push(
    srv: &mut Server,
    now: UnixMillis,
    c: &Client,
    cmd: &CommandSpec,
    args: &[&[u8]],
    duration: u64,
) {
    let slower = srv.config.slowlog_log_slower_than;
    if slower < 0 {
        return;
    }
    if duration >= slower as u64 {
        let red = redacted(cmd, args);
        let n = args.len().min(SLOWLOG_ENTRY_MAX_ARGC);
        let mut v = Vec::with_capacity(n);
        for (j, a) in args.iter().take(n).enumerate() {
            if n != args.len() && j == n - 1 {
                v.push(format!("... ({} more arguments)", args.len() - n + 1).into_bytes());
            } else if red[j] {
                v.push(REDACTED.to_vec());
            } else if a.len() > SLOWLOG_ENTRY_MAX_STRING {
                let mut s = a[..SLOWLOG_ENTRY_MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - SLOWLOG_ENTRY_MAX_STRING).as_bytes(),
                );
                v.push(s);
            } else {
                v.push(a.to_vec());
            }
        }
        let id = srv.intro.slowlog_next_id;
        srv.intro.slowlog_next_id += 1;
        srv.intro.slowlog.push_front(SlowEntry {
            id,
            time: now.as_secs(),
            duration,
            args: v,
            peer: peer_id(c),
            name: c.name.clone().unwrap_or_default(),
        });
    }
    while srv.intro.slowlog.len() as u64 > srv.config.slowlog_max_len {
        srv.intro.slowlog.pop_back();
    }
}

/// latencyAddSampleIfNeeded: `ms` is recorded when latency-monitor-threshold is set and reached.
pub(crate) fn latency_add_sample_if_needed(
    srv: &mut Server,
    now: UnixMillis,
    event: &'static str,
    ms: u64,
) {
    let threshold = srv.config.latency_monitor_threshold;
    if threshold > 0 && ms >= threshold as u64 {
        latency_add_sample(&mut srv.intro, now.as_secs(), event, ms);
    }
}

/// latencyAddSample.
fn latency_add_sample(intro: &mut Intro, now: u64, event: &'static str, ms: u64) {
    let i = match intro.latency.iter().position(|(e, _)| *e == event) {
        Some(i) => i,
        None => {
            intro.latency.push((
                event,
                TimeSeries {
                    idx: 0,
                    max: 0,
                    samples: vec![(0, 0); LATENCY_TS_LEN],
                },
            ));
            intro.latency.len() - 1
        }
    };
    let ts = &mut intro.latency[i].1;
    ts.max = ts.max.max(ms);
    let prev = (ts.idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if ts.samples[prev].0 == now {
        if ms > ts.samples[prev].1 {
            ts.samples[prev].1 = ms;
        }
        return;
    }
    ts.samples[ts.idx] = (now, ms);
    ts.idx = (ts.idx + 1) % LATENCY_TS_LEN;
}

/// A host fork (BGSAVE, BGREWRITEAOF) timed from before the call: Redis's stat_fork_time,
/// total_forks and the "fork" latency event.
pub(crate) fn fork_done(srv: &mut Server, now: UnixMillis, t0: Option<u64>, ok: bool) {
    if !ok {
        return;
    }
    srv.stats.total_forks += 1;
    if let (Some(t0), Some(f)) = (t0, srv.host.monotonic_us) {
        let us = f().saturating_sub(t0);
        srv.stats.latest_fork_us = us;
        latency_add_sample_if_needed(srv, now, "fork", us / 1000);
    }
}

// ---------------------------------------------------------------------------------------------
// Event-loop turns (Oxidis's own report: Redis has no equivalent)

/// What one turn of the host's event loop did, from poll's return to the next poll: the host
/// measures time, socket I/O and the process's page faults; the engine fills in its own
/// counters (`Engine::end_turn`). The longest turn's figures answer `DEBUG LOOP-TURN`; a turn
/// of `latency-monitor-threshold` ms or more is a `loop-turn` LATENCY event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopTurn {
    /// Wall time of the turn, µs.
    pub us: u64,
    /// CPU time of the loop's thread during the turn, µs (measured only while
    /// latency-monitor-threshold is set): far below `us` when the OS did not run the thread.
    pub cpu_us: u64,
    /// Of which in the engine's tick (expiry, rehash, eviction, cron), µs.
    pub tick_us: u64,
    /// Commands executed.
    pub commands: u64,
    /// Socket reads and writes, and their bytes.
    pub reads: u64,
    pub read_bytes: u64,
    pub writes: u64,
    pub written_bytes: u64,
    /// Buckets moved by incremental rehashing (every dict).
    pub rehashed_buckets: u64,
    /// Keys expired (lazily or actively) and evicted.
    pub expired: u64,
    pub evicted: u64,
    /// Values handed to the host's lazy-free worker.
    pub lazyfree: u64,
    /// Bytes allocated and freed in blocks of at least 1 MB (`alloc::BIG_BLOCK`): a table's
    /// new bucket array, the old one freed when a rehash completes, big buffers.
    pub big_alloc_bytes: u64,
    pub big_free_bytes: u64,
    /// Page faults (minor, major) and involuntary context switches of the loop's thread
    /// during the turn (getrusage; measured only while latency-monitor-threshold is set).
    pub minor_faults: u64,
    pub major_faults: u64,
    pub preempted: u64,
}

impl LoopTurn {
    /// The figures by name, in DEBUG LOOP-TURN's order.
    pub fn fields(&self) -> [(&'static str, u64); 17] {
        [
            ("us", self.us),
            ("cpu_us", self.cpu_us),
            ("tick_us", self.tick_us),
            ("commands", self.commands),
            ("reads", self.reads),
            ("read_bytes", self.read_bytes),
            ("writes", self.writes),
            ("written_bytes", self.written_bytes),
            ("rehashed_buckets", self.rehashed_buckets),
            ("expired", self.expired),
            ("evicted", self.evicted),
            ("lazyfree", self.lazyfree),
            ("big_alloc_bytes", self.big_alloc_bytes),
            ("big_free_bytes", self.big_free_bytes),
            ("minor_faults", self.minor_faults),
            ("major_faults", self.major_faults),
            ("preempted", self.preempted),
        ]
    }
}

/// Records a finished turn: the worst one, the slow-turn counts, the `loop-turn` event.
pub(crate) fn record_turn(srv: &mut Server, now: UnixMillis, turn: LoopTurn) {
    let intro = &mut srv.intro;
    intro.turns += 1;
    for (i, ms) in [1, 2, 5].into_iter().enumerate() {
        if turn.us >= ms * 1000 {
            intro.slow_turns[i] += 1;
        }
    }
    if intro.worst_turn.is_none_or(|(_, w)| turn.us > w.us) {
        intro.worst_turn = Some((now.as_secs(), turn));
    }
    if turn.cpu_us > 0
        && intro
            .worst_cpu_turn
            .is_none_or(|(_, w)| turn.cpu_us > w.cpu_us)
    {
        intro.worst_cpu_turn = Some((now.as_secs(), turn));
    }
    latency_add_sample_if_needed(srv, now, "loop-turn", turn.us / 1000);
}

fn reset_turns(intro: &mut Intro) {
    intro.worst_turn = None;
    intro.worst_cpu_turn = None;
    intro.turns = 0;
    intro.slow_turns = [0; 3];
}

/// DEBUG LOOP-TURN [RESET]: turns reported since the last reset and how many took at least 1,
/// 2 and 5 ms, then `longest` (by wall time) and `busiest` (by CPU time) turns, each a flat
/// array of `time` (unix seconds) and its figures: name, integer pairs throughout. RESET
/// (also done by LATENCY RESET without arguments) starts over.
pub(crate) fn debug_loop_turn(ctx: &mut Ctx, reset: bool) {
    let intro = &mut ctx.srv.intro;
    if reset {
        reset_turns(intro);
        ctx.out().ok();
        return;
    }
    let counts = [
        ("turns", intro.turns),
        ("turns_1ms", intro.slow_turns[0]),
        ("turns_2ms", intro.slow_turns[1]),
        ("turns_5ms", intro.slow_turns[2]),
    ];
    let turns = [
        ("longest", intro.worst_turn.unwrap_or_default()),
        ("busiest", intro.worst_cpu_turn.unwrap_or_default()),
    ];
    let mut out = ctx.out();
    out.array_len((counts.len() + turns.len()) * 2);
    for (k, v) in counts {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    }
    for (k, (time, t)) in turns {
        out.bulk(k.as_bytes());
        let f = t.fields();
        out.array_len(2 + f.len() * 2);
        out.bulk(b"time");
        out.int(time as i64);
        for (k, v) in f {
            out.bulk(k.as_bytes());
            out.int(v as i64);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MONITOR

/// The line replicationFeedMonitors sends: `+<sec>.<usec> [<db> <addr>] "arg" ...\r\n`.
fn monitor_line(
    srv: &Server,
    now: UnixMillis,
    c: &Client,
    cmd: &CommandSpec,
    args: &[&[u8]],
) -> Vec<u8> {
    let us = srv
        .host
        .wall_us
        .map_or(now.as_millis().saturating_mul(1000), |f| f());
    let mut s = format!("+{}.{:06} ", us / 1_000_000, us % 1_000_000).into_bytes();
    if c.script {
        s.extend_from_slice(format!("[{} lua] ", c.db).as_bytes());
    } else {
        s.extend_from_slice(format!("[{} {}] ", c.db, peer_id(c)).as_bytes());
    }
    let red = redacted(cmd, args);
    for (j, a) in args.iter().enumerate() {
        let mut r = String::new();
        crate::resp::render::repr(if red[j] { REDACTED } else { a }, &mut r);
        s.extend_from_slice(r.as_bytes());
        if j + 1 != args.len() {
            s.push(b' ');
        }
    }
    s.extend_from_slice(b"\r\n");
    s
}

fn feed_monitors(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    caller: ClientHandle,
    line: &[u8],
) {
    let Server {
        intro,
        config,
        events,
        ..
    } = srv;
    for &slot in &intro.monitors {
        super::pubsub::deliver_push(now, config, events, Some(caller.0), clients, slot, |w| {
            w.out.extend_from_slice(line)
        });
    }
}

/// replicationFeedMonitors called by a handler itself: EVAL, EVALSHA and FCALL (skip_monitor in
/// the table) show before the commands their script runs.
pub(crate) fn feed_monitors_now(ctx: &mut Ctx, args: &[&[u8]]) {
    if ctx.srv.intro.monitors.is_empty() {
        return;
    }
    let line = monitor_line(ctx.srv, ctx.now, ctx.client_ref(), ctx.cmd, args);
    feed_monitors(ctx.now, ctx.srv, ctx.clients, ctx.handle, &line);
}

/// execCommandAbort shows the refused EXEC to monitors, so they see the transaction end.
pub(crate) fn feed_monitors_exec_abort(
    now: UnixMillis,
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    id: ClientHandle,
    cmd: &'static CommandSpec,
    args: &[&[u8]],
) {
    if srv.intro.monitors.is_empty() {
        return;
    }
    if let Some(c) = clients.get(id.0) {
        let line = monitor_line(srv, now, c, cmd, args);
        feed_monitors(now, srv, clients, id, &line);
    }
}

/// A client leaves MONITOR mode (disconnect, RESET).
pub(crate) fn forget_monitor(srv: &mut Server, slot: usize) {
    srv.intro.monitors.retain(|&s| s != slot);
}

/// processCommand's check for replicas (a monitor is one): no keyspace access.
pub(crate) fn monitor_rejects(srv: &Server, slot: usize, cmd_flags: u32) -> bool {
    !srv.intro.monitors.is_empty()
        && srv.intro.monitors.contains(&slot)
        && cmd_flags & (flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) != 0
}

/// MONITOR
pub fn monitor(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    // CLIENT_DENY_BLOCKING: inside MULTI (and scripts, which the table refuses).
    if ctx.client_ref().tx.in_exec {
        return Err(CmdError::err(
            "MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    let slot = ctx.handle.0;
    if ctx.srv.intro.monitors.contains(&slot) {
        return Ok(());
    }
    ctx.srv.intro.monitors.push(slot);
    ctx.out().ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SLOWLOG

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// SLOWLOG HELP
pub fn slowlog_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, SLOWLOG_HELP);
    Ok(())
}

/// SLOWLOG RESET
pub fn slowlog_reset(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.srv.intro.slowlog.clear();
    ctx.out().ok();
    Ok(())
}

/// SLOWLOG LEN
pub fn slowlog_len(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let n = ctx.srv.intro.slowlog.len() as i64;
    ctx.out().int(n);
    Ok(())
}

/// SLOWLOG GET [count]
pub fn slowlog_get(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    if args.len() > 3 {
        let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        m.extend_from_slice(super::truncated(args[1], 128));
        m.extend_from_slice(b"'. Try SLOWLOG HELP.");
        return Err(CmdError::Msg(m));
    }
    let mut count = 10usize;
    if let Some(a) = args.get(2) {
        let n = crate::cnum::parse_i64(a)
            .filter(|n| *n >= -1)
            .ok_or_else(|| CmdError::err("count should be greater than or equal to -1"))?;
        count = if n == -1 { usize::MAX } else { n as usize };
    }
    let entries: Vec<SlowEntry> = ctx.srv.intro.slowlog.iter().take(count).cloned().collect();
    let mut out = ctx.out();
    out.array_len(entries.len());
    for e in entries {
        out.array_len(6);
        out.int(e.id as i64);
        out.int(e.time as i64);
        out.int(e.duration as i64);
        out.array_len(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.peer.as_bytes());
        out.bulk(&e.name);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LATENCY

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// LATENCY HELP
pub fn latency_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, LATENCY_HELP);
    Ok(())
}

fn find_event<'a>(intro: &'a Intro, name: &[u8]) -> Option<&'a (&'static str, TimeSeries)> {
    intro
        .latency
        .iter()
        .find(|(e, _)| e.as_bytes() == super::c_str(name))
}

/// LATENCY HISTORY event
pub fn latency_history(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let samples: Vec<(u64, u64)> = match find_event(&ctx.srv.intro, args[2]) {
        None => Vec::new(),
        Some((_, ts)) => (0..LATENCY_TS_LEN)
            .map(|j| ts.samples[(ts.idx + j) % LATENCY_TS_LEN])
            .filter(|s| s.0 != 0)
            .collect(),
    };
    let mut out = ctx.out();
    out.array_len(samples.len());
    for (t, l) in samples {
        out.array_len(2);
        out.int(t as i64);
        out.int(l as i64);
    }
    Ok(())
}

/// LATENCY LATEST
pub fn latency_latest(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let rows: Vec<(&'static str, u64, u64, u64)> = ctx
        .srv
        .intro
        .latency
        .iter()
        .map(|(e, ts)| {
            let last = ts.samples[(ts.idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
            (*e, last.0, last.1, ts.max)
        })
        .collect();
    let mut out = ctx.out();
    out.array_len(rows.len());
    for (e, t, l, m) in rows {
        out.array_len(4);
        out.bulk(e.as_bytes());
        out.int(t as i64);
        out.int(l as i64);
        out.int(m as i64);
    }
    Ok(())
}

/// LATENCY RESET [event ...]
pub fn latency_reset(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let ev = &mut ctx.srv.intro.latency;
    let before = ev.len();
    if args.len() == 2 {
        ev.clear();
        reset_turns(&mut ctx.srv.intro);
    } else {
        for a in &args[2..] {
            ev.retain(|(e, _)| !super::c_str(a).eq_ignore_ascii_case(e.as_bytes()));
        }
    }
    let n = (before - ctx.srv.intro.latency.len()) as i64;
    ctx.out().int(n);
    Ok(())
}

/// LATENCY GRAPH event
pub fn latency_graph(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let now = ctx.now.as_secs();
    let Some((event, ts)) = find_event(&ctx.srv.intro, args[2]) else {
        let mut m = b"ERR No samples available for event '".to_vec();
        m.extend_from_slice(super::c_str(args[2]));
        m.push(b'\'');
        return Err(CmdError::Msg(m));
    };
    let graph = sparkline_graph(event, ts, now);
    ctx.out().verbatim("txt", graph.as_bytes());
    Ok(())
}

/// latencyCommandGenSparkeline with sparkline.c's rendering (80 columns, 4 rows, filled).
fn sparkline_graph(event: &str, ts: &TimeSeries, now: u64) -> String {
    let mut seq: Vec<(u64, String)> = Vec::new();
    let (mut min, mut max) = (0u64, 0u64);
    for j in 0..LATENCY_TS_LEN {
        let (t, l) = ts.samples[(ts.idx + j) % LATENCY_TS_LEN];
        if t == 0 {
            continue;
        }
        if seq.is_empty() {
            min = l;
            max = l;
        } else {
            max = max.max(l);
            min = min.min(l);
        }
        let elapsed = now.saturating_sub(t);
        let label = if elapsed < 60 {
            format!("{elapsed}s")
        } else if elapsed < 3600 {
            format!("{}m", elapsed / 60)
        } else if elapsed < 86400 {
            format!("{}h", elapsed / 3600)
        } else {
            format!("{}d", elapsed / 86400)
        };
        seq.push((l, label));
    }
    let mut g = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        ts.max
    );
    g.push_str(&"-".repeat(80));
    g.push('\n');
    sparkline_render(&mut g, &seq, 80, 4);
    g
}

/// sparkline.c's sparklineRender with SPARKLINE_FILL: chunks of `columns` samples, scaled on
/// the whole sequence's min and max, then the labels written vertically under a blank line.
fn sparkline_render(out: &mut String, seq: &[(u64, String)], columns: usize, rows: usize) {
    let (mut min, mut max) = (0.0f64, 0.0f64);
    for (i, (v, _)) in seq.iter().enumerate() {
        let v = *v as f64;
        if i == 0 {
            min = v;
            max = v;
        } else if v < min {
            min = v;
        } else if v > max {
            max = v;
        }
    }
    let mut j = 0;
    while j < seq.len() {
        let sublen = (seq.len() - j).min(columns);
        if j != 0 {
            out.push('\n');
        }
        render_range(out, &seq[j..j + sublen], rows, min, max);
        j += columns;
    }
}

/// sparklineRenderRange.
fn render_range(out: &mut String, seq: &[(u64, String)], rows: usize, min: f64, max: f64) {
    const FILL: &[u8] = b"_o#";
    let charset_len = FILL.len() as i64;
    let mut relmax = max - min;
    if relmax == 0.0 {
        relmax = 1.0;
    }
    let steps = charset_len * rows as i64;
    let labels = seq.iter().any(|s| !s.1.is_empty());
    let mut row = 0usize;
    loop {
        let mut more = false;
        let mut chars = vec![b' '; seq.len()];
        for (j, (v, label)) in seq.iter().enumerate() {
            let relval = *v as f64 - min;
            let step =
                ((((relval * steps as f64) as i64) as f64 / relmax) as i64).clamp(0, steps - 1);
            if row < rows {
                let idx = step - (rows - row - 1) as i64 * charset_len;
                more = true;
                if (0..charset_len).contains(&idx) {
                    chars[j] = FILL[idx as usize];
                } else if idx >= charset_len {
                    chars[j] = b'|';
                }
            } else {
                if labels && row - rows < 1 {
                    more = true;
                    break;
                }
                let at = row - rows - 1;
                if let Some(&b) = label.as_bytes().get(at) {
                    more = true;
                    chars[j] = b;
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&chars));
        out.push('\n');
    }
}

/// LATENCY DOCTOR
pub fn latency_doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let report = latency_report(ctx.srv, ctx.now.as_secs());
    ctx.out().verbatim("txt", report.as_bytes());
    Ok(())
}

/// createLatencyReport: the events with their statistics, then the advice they call for. (The
/// host-only advice, fork rate and transparent huge pages, is left out: Oxidis records no
/// fork event.)
fn latency_report(srv: &Server, now: u64) -> String {
    use std::fmt::Write;
    let cfg = &srv.config;
    if srv.intro.latency.is_empty() && cfg.latency_monitor_threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let mut r = String::new();
    let mut advices = 0;
    let mut advise = std::collections::BTreeSet::new();
    for (n, (event, ts)) in srv.intro.latency.iter().enumerate() {
        if n == 0 {
            r.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        // analyzeLatencyForEvent
        let samples: Vec<(u64, u64)> = ts.samples.iter().copied().filter(|s| s.0 != 0).collect();
        let count = samples.len() as u64;
        let (mut avg, mut mad, mut period) = (0u64, 0u64, 0u64);
        if let Some(a) = samples.iter().map(|s| s.1).sum::<u64>().checked_div(count) {
            avg = a;
            let oldest = samples.iter().map(|s| s.0).min().unwrap_or(now);
            period = now.saturating_sub(oldest).max(1);
            mad = samples.iter().map(|s| avg.abs_diff(s.1)).sum::<u64>() / count;
        }
        let _ = write!(
            r,
            "{}. {event}: {count} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            period as f64 / count.max(1) as f64,
            ts.max
        );
        let mut add = |what: &[&'static str]| {
            advices += what.len();
            advise.extend(what.iter().copied());
        };
        match *event {
            "command" => {
                if cfg.slowlog_log_slower_than < 0 {
                    add(&["slowlog_enabled"]);
                } else if cfg.slowlog_log_slower_than / 1000 > cfg.latency_monitor_threshold {
                    add(&["slowlog_tuning"]);
                }
                add(&["slowlog_inspect", "large_objects"]);
            }
            "fast-command" => add(&["scheduler"]),
            "aof-write-pending-fsync" => {
                add(&["local_disk", "disk_contention", "ssd", "data_writeback"])
            }
            "aof-write-active-child" => add(&["no_appendfsync", "data_writeback", "ssd"]),
            "aof-write-alone" => add(&["local_disk", "data_writeback", "ssd"]),
            "aof-fsync-always" => add(&["relax_fsync_policy"]),
            "aof-fstat" | "rdb-unlink-temp-file" => add(&["disk_contention", "local_disk"]),
            "aof-rewrite-diff-write" | "aof-rename" => {
                add(&["write_load_info", "data_writeback", "ssd", "local_disk"])
            }
            "expire-cycle" => add(&["hz", "large_objects"]),
            "eviction-del" => add(&["large_objects"]),
            "eviction-cycle" => add(&["mass_eviction"]),
            _ => {}
        }
        r.push('\n');
    }
    let events = srv.intro.latency.len();
    if events == 0 && advices == 0 {
        r.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return r;
    }
    if advices == 0 {
        r.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return r;
    }
    r.push_str("\nI have a few advices for you:\n\n");
    let has = |a: &str| advise.contains(a);
    let threshold_us = (cfg.latency_monitor_threshold as u64).saturating_mul(1000);
    if has("slowlog_enabled") {
        let _ = writeln!(r, "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.");
    }
    if has("slowlog_tuning") {
        let _ = writeln!(r, "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'.");
    }
    if has("slowlog_inspect") {
        r.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if has("scheduler") {
        r.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if has("local_disk") {
        r.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
    }
    if has("ssd") {
        r.push_str("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
    }
    if has("data_writeback") {
        r.push_str("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
    }
    if has("disk_contention") {
        r.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
    }
    if has("no_appendfsync") {
        r.push_str("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
    }
    if has("relax_fsync_policy") && cfg.appendfsync.name() == "always" {
        r.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if has("write_load_info") {
        r.push_str("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
    }
    if has("hz") && cfg.hz < 100 {
        r.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if has("large_objects") {
        r.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if has("mass_eviction") {
        r.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    r
}

/// A histogram's (µs, cumulative count) buckets.
type Cdf = Vec<(u64, u64)>;

/// LATENCY HISTOGRAM [command ...]
pub fn latency_histogram(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let stats = &ctx.srv.stats.counters.commands;
    let mut rows: Vec<(&'static str, u64, Cdf)> = Vec::new();
    let mut add = |c: &'static CommandSpec| {
        if let Some(h) = stats.get(c).and_then(|s| s.hist.as_deref()) {
            rows.push((c.name, h.total(), h.cdf()));
        }
    };
    if args.len() == 2 {
        super::all_commands().for_each(&mut add);
    } else {
        for a in &args[2..] {
            let Some(c) = lookup_full(a) else { continue };
            add(c);
            c.subcommands.iter().for_each(&mut add);
        }
    }
    let mut out = ctx.out();
    out.map_len(rows.len());
    for (name, calls, cdf) in rows {
        out.bulk(name.as_bytes());
        out.map_len(2);
        out.bulk(b"calls");
        out.int(calls as i64);
        out.bulk(b"histogram_usec");
        out.map_len(cdf.len());
        for (us, n) in cdf {
            out.int(us as i64);
            out.int(n as i64);
        }
    }
    Ok(())
}

/// lookupCommandBySds: "name" or "container|sub".
fn lookup_full(name: &[u8]) -> Option<&'static CommandSpec> {
    let name = super::c_str(name);
    match name.iter().position(|&b| b == b'|') {
        None => super::lookup(name),
        Some(i) => super::lookup(&name[..i])?.subcommand(&name[i + 1..]),
    }
}

// ---------------------------------------------------------------------------------------------
// MEMORY

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// MEMORY HELP
pub fn memory_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, MEMORY_HELP);
    Ok(())
}

/// The bytes a key costs in the keyspace beyond its value: its name and its table node.
fn key_overhead(key: &[u8]) -> usize {
    let name = crate::types::CompactBytes::from(key).heap_size();
    name + std::mem::size_of::<crate::types::CompactBytes>() + std::mem::size_of::<usize>()
}

/// MEMORY USAGE key [SAMPLES count]
pub fn memory_usage(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut samples = 5usize;
    let mut j = 3;
    while j < args.len() {
        if is(args[j], "samples") && j + 1 < args.len() {
            let n = super::parse_int(args[j + 1])?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            samples = n as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // dictFind: a key past its TTL but not yet deleted still counts.
    let usage = ctx
        .db()
        .keys
        .get(args[2])
        .map(|v| v.memory_usage(samples) + key_overhead(args[2]));
    let mut out = ctx.out();
    match usage {
        Some(n) => out.int(n as i64),
        None => out.nil(),
    }
    Ok(())
}

/// MEMORY STATS
pub fn memory_stats(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let repl = crate::repl::master::buffer_memory(ctx.srv, ctx.clients);
    let m = ctx.srv.overhead_with(repl);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut out = ctx.out();
    out.map_len(27 + m.dbs.len());
    let kv = |out: &mut crate::resp::ReplyWriter, k: &str, v: u64| {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    };
    kv(&mut out, "peak.allocated", m.peak);
    kv(&mut out, "total.allocated", m.used);
    kv(&mut out, "startup.allocated", m.startup);
    kv(&mut out, "replication.backlog", m.repl_backlog);
    kv(&mut out, "clients.slaves", m.clients_slaves);
    kv(&mut out, "clients.normal", m.clients_normal);
    kv(&mut out, "cluster.links", m.cluster_links);
    kv(&mut out, "aof.buffer", m.aof_buffer);
    kv(&mut out, "lua.caches", m.lua_caches);
    kv(&mut out, "functions.caches", 0);
    for (i, main, expires) in &m.dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map_len(3);
        kv(&mut out, "overhead.hashtable.main", *main);
        kv(&mut out, "overhead.hashtable.expires", *expires);
        kv(&mut out, "overhead.hashtable.slot-to-keys", 0);
    }
    kv(&mut out, "overhead.total", m.total);
    kv(&mut out, "keys.count", m.keys);
    kv(&mut out, "keys.bytes-per-key", m.bytes_per_key);
    kv(&mut out, "dataset.bytes", m.dataset);
    out.bulk(b"dataset.percentage");
    out.double(m.dataset_perc);
    out.bulk(b"peak.percentage");
    out.double(ratio(m.used, m.peak) * 100.0);
    // No allocator statistics beyond the host's count: the allocator's figures are the
    // process's, and its fragmentation is all of the RSS overhead.
    kv(&mut out, "allocator.allocated", m.used);
    kv(&mut out, "allocator.active", m.used);
    kv(&mut out, "allocator.resident", m.rss);
    out.bulk(b"allocator-fragmentation.ratio");
    out.double(1.0);
    kv(&mut out, "allocator-fragmentation.bytes", 0);
    out.bulk(b"allocator-rss.ratio");
    out.double(ratio(m.rss, m.used));
    out.bulk(b"allocator-rss.bytes");
    out.int(m.rss as i64 - m.used as i64);
    out.bulk(b"rss-overhead.ratio");
    out.double(1.0);
    kv(&mut out, "rss-overhead.bytes", 0);
    out.bulk(b"fragmentation");
    out.double(ratio(m.rss, m.used));
    out.bulk(b"fragmentation.bytes");
    out.int(m.rss as i64 - m.used as i64);
    Ok(())
}

/// MEMORY DOCTOR: getMemoryDoctorReport's checks on Oxidis's figures.
pub fn memory_doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let m = ctx.srv.overhead();
    let mut reports = Vec::new();
    let empty = m.used < 5 * 1024 * 1024;
    if !empty {
        if m.peak as f32 / m.used as f32 > 1.5 {
            reports.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n".to_string());
        }
        if m.rss as f64 / m.used as f64 > 1.4 && m.rss.saturating_sub(m.used) > 10 << 20 {
            reports.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n".to_string());
        }
        let normal_clients = ctx
            .clients
            .len()
            .saturating_sub(ctx.srv.intro.monitors.len())
            .max(1) as u64;
        if m.clients_normal / normal_clients > 1024 * 200 {
            reports.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n".to_string());
        }
        if ctx.srv.script.cache.len() > 1000 {
            reports.push(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n".to_string());
        }
    }
    let text = if empty {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else if reports.is_empty() {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
    } else {
        let mut s =
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n".to_string();
        for r in reports {
            s.push_str(&r);
        }
        s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
        s
    };
    ctx.out().verbatim("txt", text.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS: what Redis 7.0.15 built with libc malloc answers (object.c's
/// `#else` branch; Debian's, built with jemalloc, prints jemalloc's report instead).
pub fn memory_malloc_stats(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out()
        .bulk(b"Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: nothing to purge (Redis without jemalloc answers OK too).
pub fn memory_purge(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out().ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CONFIG REWRITE

/// CONFIG REWRITE
pub fn config_rewrite(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    let Some(store) = ctx.srv.config_store.as_mut() else {
        return Err(CmdError::err("The server is running without a config file"));
    };
    let failed = |e: String| CmdError::err(format!("Rewriting config file: {e}"));
    let old = store.read().map_err(failed)?;
    let users = ctx.srv.acl.list_lines();
    let new = ctx.srv.config.rewrite_conf(&old, &users);
    let store = ctx.srv.config_store.as_mut().expect("checked above");
    store.write(&new).map_err(failed)?;
    ctx.out().ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LOLWUT

/// LOLWUT [VERSION version] [arg ...]: Redis 7.0.15's own answer is its version line; VERSION 5
/// draws Georg Nees's Schotter (lolwut5.c), its randomness from the engine's generator.
pub fn lolwut(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    let mut version = None;
    let mut rest = &args[1..];
    if args.len() >= 3 && is(args[1], "version") {
        // getLongFromObjectOrReply, then "%u.0.0" of it as an unsigned int.
        let v = super::parse_int(args[2])?;
        version = Some(format!("{}.0.0", v as u32));
        rest = &args[3..];
    }
    // lolwutCommand's prefix tests: 5.x (and 4.9) draws Schotter, 6.x (and 5.9) the skyline,
    // anything else (7.0.15's own version) lolwutUnstableCommand's one line.
    let v = version
        .as_deref()
        .unwrap_or(crate::config::REDIS_VERSION)
        .as_bytes();
    let major = |m: u8, nine: bool| {
        v[0] == m && v.get(1) == Some(&b'.') && (v.get(2) == Some(&b'9')) == nine
    };
    let version = if major(b'5', false) || major(b'4', true) {
        Some(5)
    } else if major(b'6', false) || major(b'5', true) {
        Some(6)
    } else {
        None
    };
    let text = match version {
        Some(6) => {
            let mut nums = [80i64, 20];
            for (i, a) in rest.iter().take(2).enumerate() {
                nums[i] = super::parse_int(a)?;
            }
            let cols = nums[0].clamp(1, 1000) as i32;
            let rows = nums[1].clamp(1, 1000) as i32;
            let mut t = skyline(&mut ctx.srv.rng, cols, rows);
            t.push_str("\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. ");
            t.push_str(crate::config::REDIS_VERSION);
            t.push('\n');
            t
        }
        Some(5) => {
            let mut nums = [66i64, 8, 12];
            for (i, a) in rest.iter().take(3).enumerate() {
                nums[i] = super::parse_int(a)?;
            }
            let cols = nums[0].clamp(1, 1000) as usize;
            let per_row = nums[1].clamp(1, 200) as usize;
            let per_col = nums[2].clamp(1, 200) as usize;
            let canvas = schotter(&mut ctx.srv.rng, cols, per_row, per_col);
            let mut t = canvas.render();
            t.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
            t.push_str(crate::config::REDIS_VERSION);
            t.push('\n');
            t
        }
        _ => format!("Redis ver. {}\n", crate::config::REDIS_VERSION),
    };
    ctx.out().verbatim("txt", text.as_bytes());
    Ok(())
}

/// lolwut6.c: a city skyline in four shades (0 black .. 3 white) on a white canvas: two
/// passes of windowless grey skyscrapers behind, then black ones with windows; C's rand() is
/// the engine's generator (31 bits), as for Schotter. Returns renderCanvas's text.
fn skyline(rng: &mut crate::rng::Rng, width: i32, height: i32) -> String {
    let mut rand = || (rng.next_u64() >> 33) as i32;
    let mut px = vec![3u8; (width * height) as usize];
    let get = |px: &[u8], x: i32, y: i32| {
        if x < 0 || x >= width || y < 0 || y >= height {
            0
        } else {
            px[(x + y * width) as usize]
        }
    };
    // generateSkyscraper.
    let building = |px: &mut Vec<u8>,
                    rand: &mut dyn FnMut() -> i32,
                    xoff: i32,
                    w: i32,
                    h: i32,
                    windows: bool,
                    base: u8| {
        let starty = height - 1;
        let endy = starty - h + 1;
        for y in (endy..=starty).rev() {
            for x in xoff..xoff + w {
                // The roof is four pixels less wide.
                if y == endy && (x <= xoff + 1 || x >= xoff + w - 2) {
                    continue;
                }
                let mut color = base;
                if windows && x > xoff + 1 && x < xoff + w - 2 && y > endy + 1 && y < starty - 1 {
                    let relx = x - (xoff + 1);
                    let rely = y - (endy + 1);
                    // Windows two pixels wide, one tall.
                    if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                        loop {
                            color = (1 + rand() % 2) as u8;
                            if color != base {
                                break;
                            }
                        }
                        if relx % 2 != 0 {
                            color = get(px, x - 1, y);
                        }
                    }
                }
                if x >= 0 && x < width && y >= 0 && y < height {
                    px[(x + y * width) as usize] = color;
                }
            }
        }
    };
    // generateSkyline: the lighter grey first, so it stays behind.
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < width {
            offset += rand() % 8;
            let w = 10 + rand() % 9;
            let h = if color == 2 {
                height / 2 + rand() % height / 2
            } else {
                height / 2 + rand() % height / 3
            };
            building(&mut px, &mut rand, offset, w, h, false, color);
            offset += if color == 2 { w / 2 } else { w + 1 };
        }
    }
    let mut offset = -10;
    while offset < width {
        offset += rand() % 8;
        let mut w = 5 + rand() % 14;
        if w % 4 != 0 {
            w += w % 3;
        }
        let h = height / 3 + rand() % height / 2;
        building(&mut px, &mut rand, offset, w, h, true, 0);
        offset += w + 5;
    }
    // renderCanvas: foreground and background set for each pixel.
    let mut text = String::new();
    for y in 0..height {
        for x in 0..width {
            let ce = match get(&px, x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str("\x1b[");
            text.push_str(ce);
            text.push_str(" \x1b[0m");
        }
        if y != height - 1 {
            text.push('\n');
        }
    }
    text
}

/// lolwut.c's canvas: one byte per pixel.
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![0; (width.max(0) as usize) * (height.max(0) as usize)],
        }
    }

    fn set(&mut self, x: i32, y: i32) {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize] = 1;
        }
    }

    fn get(&self, x: i32, y: i32) -> bool {
        x >= 0
            && x < self.width
            && y >= 0
            && y < self.height
            && self.pixels[(x + y * self.width) as usize] != 0
    }

    /// lwDrawLine: Bresenham.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// lwDrawSquare, with C's float arithmetic.
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32) {
        // Redis's literal, divided in double precision as C does with `float /= double`.
        #[allow(clippy::approx_constant)]
        let size = ((f64::from(size) / 1.414_213_562_3) as f32).round();
        let mut px = [0i32; 4];
        let mut py = [0i32; 4];
        let mut k = std::f32::consts::PI / 4.0 + angle;
        for j in 0..4 {
            px[j] = (f64::from(k).sin() * f64::from(size) + f64::from(x)).round() as i32;
            py[j] = (f64::from(k).cos() * f64::from(size) + f64::from(y)).round() as i32;
            k += std::f32::consts::PI / 2.0;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4]);
        }
    }

    /// renderCanvas: 2x4 pixels per Braille character.
    fn render(&self) -> String {
        let mut text = String::new();
        let mut y = 0;
        while y < self.height {
            let mut x = 0;
            while x < self.width {
                let mut byte = 0u32;
                let bits = [
                    (0, 0, 0),
                    (0, 1, 1),
                    (0, 2, 2),
                    (1, 0, 3),
                    (1, 1, 4),
                    (1, 2, 5),
                    (0, 3, 6),
                    (1, 3, 7),
                ];
                for (dx, dy, bit) in bits {
                    if self.get(x + dx, y + dy) {
                        byte |= 1 << bit;
                    }
                }
                text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
                x += 2;
            }
            if y != self.height - 1 {
                text.push('\n');
            }
            y += 4;
        }
        text
    }
}

/// lwDrawSchotter; C's rand() is the engine's generator (31 bits, RAND_MAX 2^31-1).
fn schotter(rng: &mut crate::rng::Rng, cols: usize, per_row: usize, per_col: usize) -> Canvas {
    const RAND_MAX: f32 = 2_147_483_647.0;
    let mut rand = || (rng.next_u64() >> 33) as u32;
    let width = (cols * 2) as i32;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in &mut r {
                    *v = rand() as f32 / RAND_MAX / per_col as f32 * y as f32;
                }
                for v in &mut r {
                    if rand() % 2 == 1 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx = (sx as f32 + r[1] * side / 3.0) as i32;
                sy = (sy as f32 + r[2] * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle);
        }
    }
    canvas
}

// ---------------------------------------------------------------------------------------------
// MODULE: Oxidis loads no modules.

const MODULE_HELP: &[&str] = &[
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
    "HELP",
    "    Prints this help.",
];

/// MODULE HELP
pub fn module_help(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    reply_help(ctx, MODULE_HELP);
    Ok(())
}

/// MODULE LIST
pub fn module_list(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    ctx.out().array_len(0);
    Ok(())
}

/// processCommand's protected-command check for MODULE (enable-module-command, "no" by
/// default), made by the handlers: Redis's text.
fn module_allowed(ctx: &Ctx) -> Result<(), CmdError> {
    let local = super::connection::is_local(&ctx.client_ref().info);
    if ctx.srv.config.enable_module_command.allows(local) {
        Ok(())
    } else {
        Err(CmdError::err(
            "MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ))
    }
}

/// What Redis answers when the library cannot be loaded: Oxidis loads none.
fn load_failed() -> CmdError {
    CmdError::err("Error loading the extension. Please check the server logs.")
}

/// MODULE LOAD path [arg ...]
pub fn module_load(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    module_allowed(ctx)?;
    Err(load_failed())
}

/// MODULE LOADEX path [CONFIG name value ...] [ARGS ...]
pub fn module_loadex(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    module_allowed(ctx)?;
    // moduleLoadex's parsing comes first: CONFIG needs two values, anything else is ARGS.
    let mut i = 3;
    while i < args.len() {
        if is(args[i], "config") {
            if i + 2 >= args.len() {
                return Err(CmdError::Syntax);
            }
            i += 3;
        } else if is(args[i], "args") {
            break;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Err(load_failed())
}

/// MODULE UNLOAD name
pub fn module_unload(ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    module_allowed(ctx)?;
    Err(CmdError::err(
        "Error unloading module: no such module with that name",
    ))
}

// ---------------------------------------------------------------------------------------------
// COMMAND GETKEYS / GETKEYSANDFLAGS

/// COMMAND GETKEYS command [arg ...]
pub fn command_getkeys(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    getkeys(ctx, args, false)
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
pub fn command_getkeysandflags(ctx: &mut Ctx, args: &[&[u8]]) -> Result<(), CmdError> {
    getkeys(ctx, args, true)
}

fn getkeys(ctx: &mut Ctx, args: &[&[u8]], with_flags: bool) -> Result<(), CmdError> {
    let cmd_args = &args[2..];
    // lookupCommand: a container with a subcommand argument is looked up to the subcommand.
    let cmd = match super::lookup_in(ctx.srv, cmd_args[0]) {
        Some(c) if !c.subcommands.is_empty() && cmd_args.len() >= 2 => c.subcommand(cmd_args[1]),
        c => c,
    };
    let Some(cmd) = cmd else {
        return Err(CmdError::err("Invalid command specified"));
    };
    let specs = key_specs(cmd);
    if specs.iter().all(|s| s.flags.iter().any(|f| f == "not_key")) {
        return Err(CmdError::err("The command has no key arguments"));
    }
    if !cmd.arity_ok(cmd_args.len()) {
        return Err(CmdError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    // An invalid or incomplete spec: Redis falls back to the command's getkeys procedure.
    let keys = keys_by_specs(&specs, cmd, cmd_args)
        .map(|k| {
            k.into_iter()
                .map(|(i, spec)| (i, specs[spec].flags.iter().map(String::as_str).collect()))
                .collect()
        })
        .or_else(|| getkeys_proc(cmd, cmd_args))
        .unwrap_or_default();
    if keys.is_empty() {
        if cmd.has(flags::NO_MANDATORY_KEYS) {
            ctx.out().array_len(0);
            return Ok(());
        }
        return Err(CmdError::err("Invalid arguments specified for command"));
    }
    let mut out = ctx.out();
    out.array_len(keys.len());
    for (i, flags) in keys {
        if !with_flags {
            out.bulk(cmd_args[i]);
            continue;
        }
        out.array_len(2);
        out.bulk(cmd_args[i]);
        let fl: Vec<&str> = if flags.contains(&"variable_flags") {
            variable_key_flags(cmd, cmd_args)
        } else {
            flags
        };
        out.array_len(fl.len());
        for f in fl {
            out.simple(f);
        }
    }
    Ok(())
}

/// (argument index, flags) of each key.
type KeyRefs<'a> = Vec<(usize, Vec<&'a str>)>;

/// The getkeys procedures Redis falls back to (sortGetKeys).
fn getkeys_proc(cmd: &CommandSpec, argv: &[&[u8]]) -> Option<KeyRefs<'static>> {
    match cmd.name {
        "sort" | "sort_ro" => {
            let mut keys = vec![(1, vec!["RO", "access"])];
            let mut store = None;
            let mut i = 2;
            while i < argv.len() {
                if is(argv[i], "limit") {
                    i += 2;
                } else if is(argv[i], "get") || is(argv[i], "by") {
                    i += 1;
                } else if is(argv[i], "store") && i + 1 < argv.len() {
                    // The last STORE counts (sortGetKeys keeps overwriting its slot).
                    store = Some(i + 1);
                }
                i += 1;
            }
            if let Some(s) = store {
                keys.push((s, vec!["OW", "update"]));
            }
            Some(keys)
        }
        _ => None,
    }
}

/// The flags the getkeys procedures of the commands with VARIABLE_FLAGS key specs give
/// (setGetKeys, bitfieldGetKeys).
fn variable_key_flags(cmd: &CommandSpec, argv: &[&[u8]]) -> Vec<&'static str> {
    const RW_UPDATE: [&str; 3] = ["RW", "access", "update"];
    match cmd.name {
        "set" => {
            if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
                RW_UPDATE.to_vec()
            } else {
                vec!["OW", "update"]
            }
        }
        "bitfield" => {
            let mut i = 2;
            while i < argv.len() {
                let rem = argv.len() - i - 1;
                if is(argv[i], "get") && rem >= 2 {
                    i += 3;
                } else if is(argv[i], "overflow") && rem >= 1 {
                    i += 2;
                } else {
                    return RW_UPDATE.to_vec();
                }
            }
            vec!["RO", "access"]
        }
        _ => RW_UPDATE.to_vec(),
    }
}

/// One key spec of the table (COMMAND INFO's), decoded.
#[derive(Debug, Default)]
struct KeySpec {
    flags: Vec<String>,
    /// begin_search: Ok(index) or Err((keyword, startfrom)); None: unknown.
    begin: Option<Result<i64, (Vec<u8>, i64)>>,
    /// find_keys: range (lastkey, keystep, limit) or keynum (keynumidx, firstkey, keystep).
    range: Option<(i64, i64, i64)>,
    keynum: Option<(i64, i64, i64)>,
}

fn key_specs(cmd: &CommandSpec) -> Vec<KeySpec> {
    use crate::resp::Reply;
    fn field<'a>(m: &'a Reply, name: &str) -> Option<&'a Reply> {
        let Reply::Map(kv) = m else { return None };
        kv.iter().find_map(|(k, v)| match k {
            Reply::Bulk(b) | Reply::Simple(b) if b == name.as_bytes() => Some(v),
            _ => None,
        })
    }
    fn int(m: &Reply, name: &str) -> i64 {
        match field(m, name) {
            Some(Reply::Int(n)) => *n,
            _ => 0,
        }
    }
    fn text(r: Option<&Reply>) -> Vec<u8> {
        match r {
            Some(Reply::Bulk(b) | Reply::Simple(b)) => b.clone(),
            _ => Vec::new(),
        }
    }
    let Ok(Some((Reply::Set(specs) | Reply::Array(specs), _))) =
        crate::resp::decode_reply(cmd.key_specs_resp3)
    else {
        return Vec::new();
    };
    specs
        .iter()
        .map(|s| {
            let mut k = KeySpec::default();
            if let Some(Reply::Set(fl) | Reply::Array(fl)) = field(s, "flags") {
                k.flags = fl
                    .iter()
                    .map(|f| String::from_utf8_lossy(&text(Some(f))).into_owned())
                    .collect();
            }
            if let Some(bs) = field(s, "begin_search") {
                let spec = field(bs, "spec");
                match (text(field(bs, "type")).as_slice(), spec) {
                    (b"index", Some(sp)) => k.begin = Some(Ok(int(sp, "index"))),
                    (b"keyword", Some(sp)) => {
                        k.begin = Some(Err((text(field(sp, "keyword")), int(sp, "startfrom"))))
                    }
                    _ => {}
                }
            }
            if let Some(fk) = field(s, "find_keys") {
                let spec = field(fk, "spec");
                match (text(field(fk, "type")).as_slice(), spec) {
                    (b"range", Some(sp)) => {
                        k.range = Some((int(sp, "lastkey"), int(sp, "keystep"), int(sp, "limit")))
                    }
                    (b"keynum", Some(sp)) => {
                        k.keynum = Some((
                            int(sp, "keynumidx"),
                            int(sp, "firstkey"),
                            int(sp, "keystep"),
                        ))
                    }
                    _ => {}
                }
            }
            k
        })
        .collect()
}

/// getKeysUsingKeySpecs: (argument index, spec index) of each key; None for an invalid spec
/// (Redis then falls back to the command's getkeys procedure).
fn keys_by_specs(
    specs: &[KeySpec],
    cmd: &CommandSpec,
    argv: &[&[u8]],
) -> Option<Vec<(usize, usize)>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for (j, spec) in specs.iter().enumerate() {
        let mut first = match spec.begin.as_ref()? {
            Ok(pos) => *pos,
            Err((kw, startfrom)) => {
                let start = if *startfrom > 0 {
                    *startfrom
                } else {
                    argc + startfrom
                };
                let end = if *startfrom > 0 { argc - 1 } else { 0 };
                let mut i = start;
                let mut found = 0;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if super::c_str(argv[i as usize]).eq_ignore_ascii_case(kw) {
                        found = i + 1;
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
        };
        let (last, step) = if let Some((lastkey, keystep, limit)) = spec.range {
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit + lastkey)
            };
            (last, keystep)
        } else if let Some((keynumidx, firstkey, keystep)) = spec.keynum {
            if keynumidx >= argc || first + keynumidx >= argc {
                return None;
            }
            let n =
                crate::cnum::parse_i64(argv[(first + keynumidx) as usize]).filter(|n| *n >= 0)?;
            first += firstkey;
            (first + n - 1, keystep)
        } else {
            return None;
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            if i < argc && (cmd.arity >= 0 || i >= first) {
                out.push((i as usize, j));
            }
            i += step.max(1);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_rounds_as_hdr() {
        // 2 significant digits: values up to 255 are exact, then buckets double.
        assert_eq!(highest_equivalent(100), 100);
        assert_eq!(highest_equivalent(1024), 1031);
        assert_eq!(lowest_equivalent(1031), 1024);
        assert_eq!(value_at_index(counts_index(5000)), 4992);
        let mut h = Histogram::default();
        for us in [1u64, 2, 3, 100] {
            h.record(us * 1000);
        }
        assert_eq!(h.value_at_percentile(50.0), 2007);
        assert_eq!(h.value_at_percentile(100.0), 100351);
        assert_eq!(h.cdf(), vec![(1, 1), (2, 2), (4, 3), (132, 4)]);
        // Recorded from redis-server: DEBUG SLEEP 0.13 lands in the 135266 µs bucket.
        assert_eq!(highest_equivalent(1 << 27) / 1000, 135266);
    }

    #[test]
    fn slowlog_trims_long_commands() {
        let mut s = crate::testing::Session::new(1);
        s.raw(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        let long = "x".repeat(130);
        let mut req: Vec<&str> = vec!["RPUSH", "l", &long];
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        req.extend(many.iter().map(String::as_str));
        s.raw(&req);
        let out = String::from_utf8(s.raw(&["SLOWLOG", "GET", "1"])).unwrap();
        assert!(out.contains("... (2 more bytes)"), "{out}");
        assert!(out.contains("... (12 more arguments)"), "{out}");
        assert!(out.contains("*32\r\n"), "{out}");
    }

    /// A host clock where every reading is 150 ms after the previous one: each command takes
    /// 150 ms.
    fn slow_clock() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static T: AtomicU64 = AtomicU64::new(0);
        T.fetch_add(150_000, Ordering::SeqCst)
    }

    fn wall() -> u64 {
        1_339_518_083_107_412
    }

    /// A session whose host has a wall clock and, if `slow`, the 150 ms clock (one test only
    /// uses it: the readings are shared).
    fn session_with_clock(slow: bool) -> crate::testing::Session {
        let mut s = crate::testing::Session::new(1);
        s.eng.set_host_info(
            crate::testing::NOW,
            crate::HostInfo {
                monotonic_us: slow.then_some(slow_clock as fn() -> u64),
                wall_us: Some(wall),
                ..Default::default()
            },
        );
        s
    }

    #[test]
    fn slow_commands_reach_the_latency_monitor_slowlog_and_histograms() {
        let mut s = session_with_clock(true);
        s.raw(&["CONFIG", "SET", "latency-monitor-threshold", "100"]);
        s.raw(&["SET", "k", "v"]);
        s.raw(&["GET", "k"]);
        let t = crate::testing::NOW.as_secs() as i64;
        use crate::resp::Reply::{Array, Bulk, Int};
        let latest = s.cmd(&["LATENCY", "LATEST"]);
        assert_eq!(
            latest,
            Array(vec![
                Array(vec![Bulk(b"command".to_vec()), Int(t), Int(150), Int(150)]),
                Array(vec![
                    Bulk(b"fast-command".to_vec()),
                    Int(t),
                    Int(150),
                    Int(150)
                ]),
            ])
        );
        assert_eq!(
            s.cmd(&["LATENCY", "HISTORY", "fast-command"]),
            Array(vec![Array(vec![Int(t), Int(150)])])
        );
        let doctor = String::from_utf8(s.raw(&["LATENCY", "DOCTOR"])).unwrap();
        assert!(
            doctor.contains("1. command: 1 latency spikes (average 150ms, mean deviation 0ms, period 1.00 sec). Worst all time event 150ms."),
            "{doctor}"
        );
        let graph = String::from_utf8(s.raw(&["LATENCY", "GRAPH", "command"])).unwrap();
        assert!(
            graph.contains("command - high 150 ms, low 150 ms (all time high 150 ms)\n"),
            "{graph}"
        );
        // SLOWLOG: 150 ms is past the default 10 ms.
        assert!(s.int(&["SLOWLOG", "LEN"]) >= 3);
        let info = String::from_utf8(s.raw(&["INFO", "commandstats"])).unwrap();
        assert!(info.contains("cmdstat_set:calls=1,usec=150000,usec_per_call=150000.00,rejected_calls=0,failed_calls=0"), "{info}");
        let lat = String::from_utf8(s.raw(&["INFO", "latencystats"])).unwrap();
        assert!(
            lat.contains(
                "latency_percentiles_usec_set:p50=150994.943,p99=150994.943,p99.9=150994.943"
            ),
            "{lat}"
        );
        assert_eq!(s.int(&["LATENCY", "RESET", "command", "nosuch"]), 1);
        // fast-command, and command again (LATENCY RESET took 150 ms itself).
        assert_eq!(s.int(&["LATENCY", "RESET"]), 2);
    }

    #[test]
    fn latency_doctor_texts_without_events() {
        let mut s = crate::testing::Session::new(1);
        let off = String::from_utf8(s.raw(&["LATENCY", "DOCTOR"])).unwrap();
        assert!(
            off.starts_with("$288\r\nI'm sorry, Dave, I can't do that."),
            "{off}"
        );
        s.raw(&["CONFIG", "SET", "latency-monitor-threshold", "100"]);
        let on = String::from_utf8(s.raw(&["LATENCY", "DOCTOR"])).unwrap();
        assert!(
            on.ends_with("take a stress pill, and think things over.\n\r\n"),
            "{on}"
        );
    }

    #[test]
    fn monitor_lines_as_redis_writes_them() {
        let mut s = session_with_clock(false);
        let other = s.eng.connect(
            crate::testing::NOW,
            crate::ConnInfo {
                addr: "127.0.0.1:60866".into(),
                laddr: "127.0.0.1:6379".into(),
                fd: None,
                unix_socket: false,
                tls: false,
            },
        );
        assert_eq!(s.raw(&["MONITOR"]), b"+OK\r\n");
        let feed = |s: &mut crate::testing::Session, req: &[&str]| {
            s.eng.feed(
                crate::testing::NOW,
                other,
                &crate::resp::encode_request(req),
            );
            let mut out = Vec::new();
            s.eng.drain_output(other, &mut out);
        };
        feed(&mut s, &["keys", "*"]);
        feed(&mut s, &["AUTH", "user", "secret"]);
        feed(&mut s, &["SET", "k", "a\"b\n\x01"]);
        feed(&mut s, &["EVAL", "redis.call('get', KEYS[1])", "1", "k"]);
        feed(&mut s, &["CONFIG", "GET", "port"]);
        let out = String::from_utf8(s.raw(&["GET", "k"])).unwrap();
        assert_eq!(
            out,
            "+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n\
             +1339518083.107412 [0 127.0.0.1:60866] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n\
             +1339518083.107412 [0 127.0.0.1:60866] \"SET\" \"k\" \"a\\\"b\\n\\x01\"\r\n\
             +1339518083.107412 [0 127.0.0.1:60866] \"EVAL\" \"redis.call('get', KEYS[1])\" \"1\" \"k\"\r\n\
             -ERR Replica can't interact with the keyspace\r\n"
        );
        // RESET leaves monitor mode.
        s.raw(&["RESET"]);
        feed(&mut s, &["PING"]);
        assert_eq!(s.raw(&["PING"]), b"+PONG\r\n");
    }

    #[test]
    fn graph_and_doctor_as_redis_renders_them() {
        // Recorded from redis-server: DEBUG SLEEP 0.005, a second later DEBUG SLEEP 0.003,
        // with latency-monitor-threshold 1, read 2 s after the first.
        let mut s = crate::testing::Session::new(1);
        s.raw(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
        let now = crate::testing::NOW.as_secs();
        latency_add_sample(&mut s.eng.server_mut().intro, now - 2, "command", 5);
        latency_add_sample(&mut s.eng.server_mut().intro, now, "command", 3);
        let (_, ts) = &s.eng.server().intro.latency[0];
        assert_eq!(
            sparkline_graph("command", ts, now),
            format!(
                "command - high 5 ms, low 3 ms (all time high 5 ms)\n{}\n# \n| \n| \n|_\n  \n20\nss\n",
                "-".repeat(80)
            )
        );
        assert_eq!(
            latency_report(s.eng.server(), now),
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n\
             1. command: 2 latency spikes (average 4ms, mean deviation 1ms, period 1.00 sec). Worst all time event 5ms.\n\n\
             I have a few advices for you:\n\n\
             - Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than 1000'.\n\
             - Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n\
             - Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n"
        );
    }

    #[test]
    fn schotter_without_random_rows_is_redis_s() {
        // redis-cli LOLWUT VERSION 5 20 3 2 (two rows: no randomness).
        let expect = "\
⠀⡤⠤⠤⠤⠤⠤⡤⠤⠤⠤⠤⠤⡤⠤⠤⠤⠤⠤⡄
⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇
⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇
⠀⡧⠤⠤⠤⠤⠤⡧⠤⠤⠤⠤⠤⡧⠤⠤⠤⠤⠤⡇
⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇
⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇⠀⠀⠀⠀⠀⡇
⠀⠧⠤⠤⠤⠤⠤⠧⠤⠤⠤⠤⠤⠧⠤⠤⠤⠤⠤⠇
";
        let mut s = crate::testing::Session::new(1);
        let out = String::from_utf8(s.raw(&["LOLWUT", "VERSION", "5", "20", "3", "2"])).unwrap();
        let body = out.split_once("\r\n").unwrap().1;
        assert_eq!(
            body,
            format!(
                "{expect}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n\r\n"
            )
        );
        // The default, and versions that are neither 5 nor 6 (6 is the skyline).
        for req in [
            &["LOLWUT"][..],
            &["LOLWUT", "VERSION", "7"],
            &["LOLWUT", "VERSION", "99999999999"],
        ] {
            assert_eq!(s.raw(req), b"$18\r\nRedis ver. 7.0.15\n\r\n");
        }
        assert!(String::from_utf8(s.raw(&["LOLWUT", "VERSION", "4"]))
            .unwrap()
            .contains("7.0.15"));
        // 66 columns, 8 x 12 squares: 49 lines of art (each ends in LF: Redis's height-1 test
        // never matches), random from the third row of squares; as redis-cli shows it, 51
        // lines with the blank one and the caption.
        let art = String::from_utf8(s.raw(&["LOLWUT", "VERSION", "5"])).unwrap();
        assert_eq!(art.matches('\n').count(), 1 + 49 + 1 + 1 + 1, "{art}");
        assert!(art.starts_with("$9817\r\n"), "{art}");
    }

    #[test]
    fn client_list_counts_the_running_command_and_shows_monitors() {
        let mut s = crate::testing::Session::new(1);
        let other = s
            .eng
            .connect(crate::testing::NOW, crate::ConnInfo::default());
        s.eng.feed(crate::testing::NOW, other, b"MONITOR\r\n");
        let list = String::from_utf8(s.raw(&["CLIENT", "LIST"])).unwrap();
        // "*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n" is in the query buffer while it runs.
        assert!(
            list.contains(" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 "),
            "{list}"
        );
        assert!(list.contains(" flags=O "), "{list}");
        // Between requests the buffer is empty again.
        s.raw(&["PING"]);
        let info = String::from_utf8(s.raw(&["CLIENT", "INFO"])).unwrap();
        assert!(info.contains(" qbuf=26 "), "{info}");
    }

    /// Each reading 2 ms after the previous one (this test's own clock).
    fn two_ms_clock() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static T: AtomicU64 = AtomicU64::new(0);
        T.fetch_add(2_000, Ordering::SeqCst)
    }

    #[test]
    fn a_slow_expire_cycle_is_a_latency_event() {
        let mut s = crate::testing::Session::new(1);
        s.eng.set_host_info(
            crate::testing::NOW,
            crate::HostInfo {
                monotonic_us: Some(two_ms_clock),
                ..Default::default()
            },
        );
        s.raw(&["CONFIG", "SET", "latency-monitor-threshold", "2"]);
        s.raw(&["LATENCY", "RESET"]);
        s.eng.tick(crate::testing::NOW);
        let latest = String::from_utf8(s.raw(&["LATENCY", "LATEST"])).unwrap();
        assert!(latest.contains("expire-cycle"), "{latest}");
        let info = String::from_utf8(s.raw(&["INFO", "stats"])).unwrap();
        assert!(
            info.contains("expire_cycle_cpu_milliseconds:2\r\n"),
            "{info}"
        );
    }

    type Moves = std::rc::Rc<std::cell::RefCell<Vec<(String, u16, u16)>>>;

    struct FakeListeners(Moves);

    impl crate::ListenerHost for FakeListeners {
        fn rebind(&mut self, bind: &str, port: u16, tls_port: u16) -> Result<(), String> {
            if port == 1 || tls_port == 1 || bind.contains("192.0.2.1") {
                return Err("cannot listen".into());
            }
            self.0.borrow_mut().push((bind.to_string(), port, tls_port));
            Ok(())
        }
    }

    #[test]
    fn config_set_port_and_bind_move_the_listeners_or_roll_back() {
        let mut s = crate::testing::Session::new(1);
        let moves = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        s.eng
            .set_listener_host(Box::new(FakeListeners(moves.clone())));
        assert_eq!(
            s.raw(&["CONFIG", "SET", "hz", "50", "PORT", "1"]),
            b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
        );
        assert_eq!(s.eng.config().hz, 10, "rolled back");
        assert_eq!(
            s.raw(&["CONFIG", "SET", "BIND", "192.0.2.1", "port", "7001"]),
            b"-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"
        );
        assert_eq!(s.eng.config().port, 6379, "rolled back");
        assert_eq!(
            s.raw(&["CONFIG", "SET", "tls-port", "1"]),
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this port. Check server logs.\r\n"
        );
        // Unchanged values move nothing.
        assert_eq!(s.raw(&["CONFIG", "SET", "port", "6379"]), b"+OK\r\n");
        assert_eq!(s.raw(&["CONFIG", "SET", "port", "7000"]), b"+OK\r\n");
        assert_eq!(s.raw(&["CONFIG", "SET", "hz", "20"]), b"+OK\r\n");
        assert_eq!(s.raw(&["CONFIG", "SET", "tls-port", "7002"]), b"+OK\r\n");
        assert_eq!(
            *moves.borrow(),
            vec![
                ("* -::*".to_string(), 7000, 0),
                ("* -::*".to_string(), 7000, 7002)
            ]
        );
        let info = String::from_utf8(s.raw(&["INFO", "server"])).unwrap();
        assert!(info.contains("tcp_port:7000\r\n"), "{info}");
    }

    fn info_field(s: &mut crate::testing::Session, field: &str) -> String {
        let info = String::from_utf8(s.raw(&["INFO", "stats"])).unwrap();
        let at = info.find(&format!("{field}:")).expect(field) + field.len() + 1;
        info[at..].split("\r\n").next().unwrap().to_string()
    }

    #[test]
    fn instantaneous_metrics_sample_every_100ms_and_average_16() {
        let mut s = crate::testing::Session::new(1);
        let t0 = crate::testing::NOW.0;
        s.eng.tick(UnixMillis(t0));
        for _ in 0..10 {
            s.raw(&["PING"]);
        }
        // Sampling asks for no tick of its own.
        assert_eq!(s.eng.next_deadline(), None);
        s.eng.tick(UnixMillis(t0 + 50));
        let inst = |s: &crate::testing::Session| s.eng.server().stats.inst.get(InstMetrics::OPS);
        assert_eq!(inst(&s), 0);
        s.eng.tick(UnixMillis(t0 + 100));
        // 10 commands in 100 ms = 100/s, one sample of 16: 100 / 16 = 6.
        assert_eq!(inst(&s), 6);
        assert_eq!(info_field(&mut s, "instantaneous_ops_per_sec"), "6");
        assert_ne!(info_field(&mut s, "instantaneous_input_kbps"), "0.00");
        assert_ne!(info_field(&mut s, "instantaneous_output_kbps"), "0.00");
        assert_eq!(info_field(&mut s, "instantaneous_input_repl_kbps"), "0.00");
        assert_eq!(info_field(&mut s, "instantaneous_output_repl_kbps"), "0.00");
        // 16 commands over the next 400 ms with no tick between: four samples of 40/s (INFO
        // samples before it counts itself; the 4 INFOs above were at t0 + 100).
        for _ in 0..12 {
            s.raw(&["PING"]);
        }
        s.eng.tick(UnixMillis(t0 + 500));
        assert_eq!(inst(&s), (100 + 4 * 40) / 16);
        // Idle for 1.6 s: every sample is 0 again, found by INFO alone.
        s.eng.feed(UnixMillis(t0 + 2100), s.id, b"INFO stats\r\n");
        let mut out = Vec::new();
        s.eng.drain_output(s.id, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("instantaneous_ops_per_sec:0\r\n"), "{text}");
    }

    #[test]
    fn client_list_flags_blocked_and_paused_clients_b() {
        use crate::{ConnInfo, Engine};
        let mut eng = Engine::new(crate::Config::default(), 1);
        let now = UnixMillis(1000);
        let ids: Vec<_> = (0..3)
            .map(|_| eng.connect(now, ConnInfo::default()))
            .collect();
        let run = |eng: &mut Engine, id, cmd: &str| {
            eng.feed(now, id, format!("{cmd}\r\n").as_bytes());
            let mut out = Vec::new();
            eng.drain_output(id, &mut out);
            String::from_utf8(out).unwrap()
        };
        run(&mut eng, ids[1], "CLIENT SETNAME waiter");
        run(&mut eng, ids[2], "CLIENT SETNAME held");
        run(&mut eng, ids[1], "BLPOP q 0");
        run(&mut eng, ids[0], "CLIENT PAUSE 100000 WRITE");
        run(&mut eng, ids[2], "SET k v");
        let list = run(&mut eng, ids[0], "CLIENT LIST");
        for name in ["waiter", "held"] {
            let line = list.lines().find(|l| l.contains(&format!(" name={name} ")));
            assert!(line.is_some_and(|l| l.contains(" flags=b ")), "{list}");
        }
        let info = run(&mut eng, ids[0], "INFO clients");
        assert!(info.contains("blocked_clients:2\r\n"), "{info}");
    }

    struct FakeConfigFile(std::rc::Rc<std::cell::RefCell<String>>);

    impl crate::ConfigStore for FakeConfigFile {
        fn read(&mut self) -> Result<String, String> {
            Ok(self.0.borrow().clone())
        }
        fn write(&mut self, text: &str) -> Result<(), String> {
            *self.0.borrow_mut() = text.to_string();
            Ok(())
        }
    }

    /// Recorded from redis-server 7.0.15: this file, ACL SETUSER bob on nopass %R~cache:*
    /// +@read -keys, ACL DELUSER carol, CONFIG REWRITE. The users take the `user` lines in
    /// name order, the one left over (default) is appended last; rename-command stays.
    #[test]
    fn config_rewrite_writes_the_acl_users_and_keeps_rename_command() {
        let old = "# users\nuser alice on >pw ~app:* +get\nrename-command get fetch\nport 23003\nuser carol off\n";
        let mut cfg = crate::Config::default();
        cfg.load_conf(old).unwrap();
        let mut eng = crate::Engine::new(cfg, 1);
        let file = std::rc::Rc::new(std::cell::RefCell::new(old.to_string()));
        eng.set_config_store(Box::new(FakeConfigFile(file.clone())));
        let id = eng.connect(UnixMillis(1000), crate::ConnInfo::default());
        for cmd in [
            "ACL SETUSER bob on nopass %R~cache:* +@read -keys",
            "ACL DELUSER carol",
            "CONFIG REWRITE",
        ] {
            eng.feed(UnixMillis(1000), id, format!("{cmd}\r\n").as_bytes());
        }
        let mut out = Vec::new();
        eng.drain_output(id, &mut out);
        assert_eq!(out, b"+OK\r\n:1\r\n+OK\r\n");
        let new = file.borrow().clone();
        let (kept, tail) = new.split_once("# Generated by CONFIG REWRITE\n").unwrap();
        assert_eq!(
            kept,
            "# users\n\
             user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~app:* resetchannels -@all +get\n\
             rename-command get fetch\nport 23003\n\
             user bob on nopass %R~cache:* resetchannels -@all +@read -keys\n\n"
        );
        assert!(
            tail.ends_with("\nuser default on nopass ~* &* +@all\n"),
            "{new}"
        );
        // With an aclfile the users live there: the file's user lines go.
        let mut cfg = crate::Config::default();
        cfg.load_conf("user alice on\nport 7000\n").unwrap();
        cfg.aclfile = b"users.acl".to_vec();
        let new = cfg.rewrite_conf("user alice on\nport 7000\n", &[b"user x on".to_vec()]);
        assert!(new.starts_with("\nport 7000\n"), "{new}");
        assert!(!new.contains("user "), "{new}");
    }

    fn fake_used() -> usize {
        12_345_678
    }

    /// INFO memory and MEMORY STATS read one breakdown (Server::overhead): the same used,
    /// peak, startup and dataset figures, and the same overhead but for the asking client's
    /// own memory, which its previous command changed.
    #[test]
    fn info_memory_and_memory_stats_agree() {
        let mut s = crate::testing::Session::new(1);
        s.eng.set_host_info(
            crate::testing::NOW,
            crate::HostInfo {
                used_memory: Some(fake_used),
                ..Default::default()
            },
        );
        s.raw(&["SET", "k", "v"]);
        s.raw(&["SET", "t", "v", "EX", "100"]);
        let info = String::from_utf8(s.raw(&["INFO", "memory"])).unwrap();
        let info = |f: &str| -> i64 {
            let at = info.find(&format!("\r\n{f}:")).expect(f) + f.len() + 3;
            info[at..].split("\r\n").next().unwrap().parse().unwrap()
        };
        let raw = s.raw(&["MEMORY", "STATS"]);
        let Ok(Some((crate::resp::Reply::Array(items), _))) = crate::resp::decode_reply(&raw)
        else {
            panic!("{raw:?}");
        };
        let stat = |k: &str| -> i64 {
            let i = items
                .iter()
                .position(|r| *r == crate::resp::Reply::Bulk(k.as_bytes().to_vec()))
                .expect(k);
            match &items[i + 1] {
                crate::resp::Reply::Int(n) => *n,
                other => panic!("{k}: {other:?}"),
            }
        };
        assert_eq!(info("used_memory"), stat("total.allocated"));
        assert_eq!(info("used_memory"), fake_used() as i64);
        assert_eq!(info("used_memory_peak"), stat("peak.allocated"));
        assert_eq!(info("used_memory_startup"), stat("startup.allocated"));
        assert_eq!(
            info("used_memory_overhead") - info("mem_clients_normal"),
            stat("overhead.total") - stat("clients.normal")
        );
        // (The fake's startup figure is all of used memory: the dataset is 0, not negative.)
        assert_eq!(
            (info("used_memory") - info("used_memory_overhead")).max(0),
            info("used_memory_dataset")
        );
        assert_eq!(
            (stat("total.allocated") - stat("overhead.total")).max(0),
            stat("dataset.bytes")
        );
        assert_eq!(stat("keys.count"), 2);
    }

    #[test]
    fn memory_malloc_stats_and_purge_answer_as_a_libc_malloc_build() {
        let mut s = crate::testing::Session::new(1);
        assert_eq!(
            s.raw(&["MEMORY", "MALLOC-STATS"]),
            b"$45\r\nStats not supported for the current allocator\r\n"
        );
        assert_eq!(s.raw(&["MEMORY", "PURGE"]), b"+OK\r\n");
    }
}
