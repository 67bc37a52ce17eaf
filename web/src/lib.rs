//! wasm-bindgen bindings over the oxidis-core [`Engine`]: the low-level half of the npm package.
//!
//! JavaScript apps use the hand-written wrapper in `web/js/` (`Engine`, `Client`, `Redis`),
//! which calls the `RawEngine` exported here. This layer only translates: a call's arguments,
//! which the wrapper writes into an arena in linear memory, to `Engine::call_args` (the direct
//! call path: no RESP between them; the reply is left in an output buffer the wrapper reads,
//! with a control block that saves further crossings), raw bytes to `Engine::feed` (`send`),
//! reply bytes to JS values where the wrapper does not read them itself, engine events to a
//! queue the wrapper drains, and the clock (virtual, or `Date.now()`). Redis semantics live in
//! oxidis-core.
//!
//! Nothing here may panic (a panic is a trap on wasm32 that leaves the engine unusable): inputs
//! are validated, allocations for request bytes use `try_reserve`, and the wrapper checks
//! argument types before they get here.

use js_sys::{Array, Function, Map, Object, Reflect, Uint8Array};
use oxidis_core::golden;
use oxidis_core::resp::annotate::{annotate, Node, Status};
use oxidis_core::resp::render::render_replies;
use oxidis_core::resp::{decode_reply, split_args, Reply};
use oxidis_core::{all_commands, ClientHandle, Config, ConnInfo, Engine, Event, UnixMillis};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

mod cluster;

/// A map keyed by small integers (client handles, slab slots), looked up on every call: std's
/// SipHash cost about 8% of a GET on the direct path, foldhash's 128-bit multiply is slow on
/// wasm32; one 64-bit multiply spreads sequential keys well enough (hashbrown takes its tag from
/// the top bits).
type IntMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IntHasher>>;

#[derive(Default)]
struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n.into());
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Memory on wasm32: the core's counting global allocator (`oxidis_core::alloc`, over dlmalloc
/// here, as the native server installs it over glibc) feeds INFO's `used_memory`, which
/// `maxmemory` is checked against; `used_memory_rss` is the size of the linear memory, which
/// only grows. Lua states allocate through the same allocator (the core may leave them out of
/// its figure, as Redis leaves Lua's memory out of used_memory).
#[cfg(target_arch = "wasm32")]
mod memory {
    pub use oxidis_core::alloc::allocated;

    #[global_allocator]
    static GLOBAL: oxidis_core::alloc::Counting = oxidis_core::alloc::Counting;

    /// The linear memory's size in bytes (what the page "holds", like RSS).
    pub fn linear() -> usize {
        core::arch::wasm32::memory_size(0) * 65536
    }
}

/// Redis's rule for 32-bit builds (wasm32 is one): without a `maxmemory`, 3 GB with
/// `noeviction`, so a growing data set is refused with OOM errors before the 4 GiB address
/// space runs out (a failed allocation is a trap that kills the engine).
const DEFAULT_MAXMEMORY_32BIT: &[u8] = b"3gb";

thread_local! {
    /// The wrapper's `ReplyError` constructor (see `set_reply_error_factory`).
    static ERROR_FACTORY: RefCell<Option<Function>> = const { RefCell::new(None) };
    /// The last panic's message, for the wrapper's "engine crashed" error.
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs the panic hook (records the message; a panic is a bug) once the module loads.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|p| *p.borrow_mut() = info.to_string());
    }));
}

/// The message of the panic that trapped the engine, if any.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> String {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// `f(message)` builds the JS error thrown for a Redis error reply (the wrapper's ReplyError).
#[wasm_bindgen(js_name = setReplyErrorFactory)]
pub fn set_reply_error_factory(f: Function) {
    ERROR_FACTORY.with(|e| *e.borrow_mut() = Some(f));
}

fn reply_error(msg: &[u8]) -> JsValue {
    let text = String::from_utf8_lossy(msg);
    ERROR_FACTORY.with(|f| match &*f.borrow() {
        Some(f) => f
            .call1(&JsValue::NULL, &JsValue::from_str(&text))
            .unwrap_or_else(|e| e),
        None => js_sys::Error::new(&text).into(),
    })
}

fn type_error(msg: &str) -> JsValue {
    js_sys::TypeError::new(msg).into()
}

fn range_error(msg: &str) -> JsValue {
    js_sys::RangeError::new(msg).into()
}

/// How bulk strings become JS values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Binary {
    /// Always a string (invalid UTF-8 becomes U+FFFD, as TextDecoder does).
    Lossy,
    /// A string if valid UTF-8, else a Uint8Array.
    Auto,
    /// Always a Uint8Array.
    Bytes,
}

impl Binary {
    fn from_u8(m: u8) -> Binary {
        match m {
            1 => Binary::Auto,
            2 => Binary::Bytes,
            _ => Binary::Lossy,
        }
    }
}

fn bytes_value(b: &[u8], mode: Binary) -> JsValue {
    match mode {
        Binary::Bytes => Uint8Array::from(b).into(),
        Binary::Auto => match std::str::from_utf8(b) {
            Ok(s) => JsValue::from_str(s),
            Err(_) => Uint8Array::from(b).into(),
        },
        Binary::Lossy => JsValue::from_str(&String::from_utf8_lossy(b)),
    }
}

/// Numbers beyond 2^53 become BigInt, so no integer reply silently loses precision.
fn int_value(n: i64) -> JsValue {
    const SAFE: i64 = (1 << 53) - 1;
    if (-SAFE..=SAFE).contains(&n) {
        JsValue::from_f64(n as f64)
    } else {
        js_sys::BigInt::from(n).into()
    }
}

/// A decoded reply as a JS value. Errors nested in arrays (EXEC) are ReplyError objects.
fn reply_value(r: &Reply, mode: Binary) -> JsValue {
    match r {
        Reply::Simple(s) => JsValue::from_str(&String::from_utf8_lossy(s)),
        Reply::Error(e) => reply_error(e),
        Reply::Int(n) => int_value(*n),
        Reply::Bulk(b) => bytes_value(b, mode),
        Reply::Nil | Reply::NilArray => JsValue::NULL,
        Reply::Array(items) | Reply::Push(items) => items
            .iter()
            .map(|i| reply_value(i, mode))
            .collect::<Array>()
            .into(),
        Reply::Set(items) => {
            let set = js_sys::Set::new(&JsValue::UNDEFINED);
            for i in items {
                set.add(&reply_value(i, mode));
            }
            set.into()
        }
        Reply::Map(pairs) => {
            let map = Map::new();
            for (k, v) in pairs {
                map.set(&reply_value(k, mode), &reply_value(v, mode));
            }
            map.into()
        }
        Reply::Double(d) => JsValue::from_f64(*d),
        Reply::Bool(b) => JsValue::from_bool(*b),
        Reply::Verbatim(_, t) => bytes_value(t, mode),
        Reply::BigNumber(n) => {
            let text = String::from_utf8_lossy(n);
            js_sys::BigInt::new(&JsValue::from_str(&text))
                .map(JsValue::from)
                .unwrap_or_else(|_| JsValue::from_str(&text))
        }
    }
}

/// Splits output bytes into decoded replies (the engine writes whole replies).
fn frames(out: &[u8]) -> Vec<Reply> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos < out.len() {
        match decode_reply(&out[pos..]) {
            Ok(Some((r, n))) if n > 0 => {
                v.push(r);
                pos += n;
            }
            _ => break,
        }
    }
    v
}

/// The direct path's control block (f64 slots the wrapper reads through a Float64Array):
/// the output's address and length in linear memory, whether events wait (the wrapper then
/// pumps them), the engine's next deadline (-1: none), and where `callBatch`'s bounds are.
const CTRL_OUT_PTR: usize = 0;
const CTRL_OUT_LEN: usize = 1;
const CTRL_EVENTS: usize = 2;
const CTRL_DEADLINE: usize = 3;
const CTRL_BOUNDS_PTR: usize = 4;
/// 1 if the client's reply is still to come (blocked, paused), 0 if it has none (CLIENT REPLY
/// OFF/SKIP silenced it).
const CTRL_AWAITS: usize = 5;
/// 1 if every byte of the output is ASCII: the wrapper then makes short bulk strings without
/// checking their bytes itself (a word-at-a-time scan here costs less than a byte loop in JS).
const CTRL_ASCII: usize = 6;
/// 1 if `callDirect`'s output is an array reply byte for byte equal to the array reply of the
/// engine's previous `callDirect` (see `last_array`): the wrapper may return a copy of the
/// value it read then instead of reading the same bytes again.
const CTRL_SAME: usize = 7;
const CTRL_LEN: usize = 8;

/// The largest array reply `last_array` keeps (bigger ones are read every time: comparing and
/// copying them would cost more than it saves when they change).
const MEMO_MAX: usize = 4096;

/// Event kinds in the queue the wrapper drains (`nextEvent`).
const EV_OUTPUT: u32 = 1;
const EV_CLOSE: u32 = 2;

/// What `callDirect` and `callBatch` return for a client that is closed.
const NO_CLIENT: i32 = -2;

/// One engine with its clients, its clock and its event queue.
#[wasm_bindgen]
pub struct RawEngine {
    eng: Engine,
    manual: bool,
    /// The manual clock; with the real clock, the last time used (kept monotonic).
    now: u64,
    /// The real clock between two reads of `Date.now()`: `Date.now()` minus `performance.now()`
    /// when last read (ms), and that `performance.now()`. A call reads `performance.now()` once,
    /// for its time and its command's timer; the wall clock is re-read every 100 ms.
    wall_offset: f64,
    wall_read_at: f64,
    handles: IntMap<u32, ClientHandle>,
    by_slot: IntMap<usize, u32>,
    next_handle: u32,
    /// Frames that belong to a client but were not the reply of its call (pushes, the second
    /// confirmation of SUBSCRIBE a b ...), delivered through the event queue.
    /// Raw bytes, so `send` still returns exactly what the server wrote.
    stash: IntMap<u32, Vec<u8>>,
    events: VecDeque<(u32, u32)>,
    /// The engine's last `Event::ConnectMaster` (host, port, attempt) nobody answered yet.
    connect_master: Option<(String, u16, u64)>,
    /// Cluster bus events for the page's ClusterNetwork (cluster.rs).
    bus: cluster::BusEvents,
    out: Vec<u8>,
    /// The direct call path's argument arena, written by the wrapper (see `arena`).
    arena: Vec<u8>,
    /// Where the direct path tells the wrapper what it needs after a call without another
    /// crossing: see `CTRL_*`.
    ctrl: Box<[f64; CTRL_LEN]>,
    /// The end of each command's output in `out` after `callBatch`.
    bounds: Vec<u32>,
    /// The output of the last `callDirect` if it was an array reply of at most `MEMO_MAX`
    /// bytes, else empty (`CTRL_SAME`).
    last_array: Vec<u8>,
}

#[wasm_bindgen]
impl RawEngine {
    /// `config` holds (name, value) pairs for CONFIG SET-style parameters.
    #[wasm_bindgen(constructor)]
    pub fn new(
        seed: f64,
        manual: bool,
        start: f64,
        config: Vec<String>,
    ) -> Result<RawEngine, JsValue> {
        let mut cfg = Config::default();
        for pair in config.chunks(2) {
            if let [name, value] = pair {
                cfg.set(name, value.as_bytes())
                    .map_err(|e| range_error(&format!("oxidis: config {name}: {e}")))?;
            }
        }
        if cfg.maxmemory == 0 {
            for (name, value) in [
                ("maxmemory", DEFAULT_MAXMEMORY_32BIT),
                ("maxmemory-policy", b"noeviction".as_slice()),
            ] {
                cfg.set(name, value)
                    .map_err(|e| range_error(&format!("oxidis: config {name}: {e}")))?;
            }
        }
        let seed = if seed.is_finite() && seed >= 0.0 {
            seed as u64
        } else {
            return Err(range_error("oxidis: seed must be a non-negative number"));
        };
        let now = if manual {
            if !(start.is_finite() && start >= 0.0) {
                return Err(range_error("oxidis: time must be a non-negative number"));
            }
            start as u64
        } else {
            js_sys::Date::now() as u64
        };
        let mut eng = Engine::new(cfg, seed);
        eng.set_script_vm_factory(Box::new(oxidis_lua::LuaVmFactory));
        eng.set_acl_host(Box::new(WebAclHost));
        if !manual {
            // A script past busy-reply-threshold is stopped by wall time (with a manual clock,
            // as in tests, time stands still and nothing is stopped).
            eng.set_script_clock(Box::new(|| UnixMillis(js_sys::Date::now() as u64)));
        }
        eng.set_host_info(
            UnixMillis(now),
            oxidis_core::HostInfo {
                os: "WebAssembly".into(),
                arch_bits: 32,
                multiplexing_api: "wasm".into(),
                #[cfg(target_arch = "wasm32")]
                used_memory: Some(memory::allocated),
                #[cfg(target_arch = "wasm32")]
                used_memory_rss: Some(memory::linear),
                // Commands are timed by performance.now() (and MONITOR stamped by Date.now())
                // unless the clock is manual: then time stands still and every command takes
                // 0 µs, as in tests.
                monotonic_us: (!manual).then_some(performance_now_us as fn() -> u64),
                wall_us: (!manual).then_some(date_now_us as fn() -> u64),
                ..Default::default()
            },
        );
        Ok(RawEngine {
            eng,
            manual,
            now,
            wall_offset: 0.0,
            wall_read_at: f64::NEG_INFINITY,
            handles: IntMap::default(),
            by_slot: IntMap::default(),
            next_handle: 1,
            stash: IntMap::default(),
            events: VecDeque::new(),
            connect_master: None,
            bus: cluster::BusEvents::default(),
            out: Vec::new(),
            arena: Vec::new(),
            ctrl: Box::new([0.0; CTRL_LEN]),
            bounds: Vec::new(),
            last_array: Vec::new(),
        })
    }

    /// The engine's current time (ms since the epoch).
    pub fn now(&mut self) -> f64 {
        self.clock().0 as f64
    }

    /// The engine's time from `p`, the wrapper's `performance.now()` just before the call (ms;
    /// NaN with a manual clock), and `p` in µs, which starts the command's timer. The wrapper
    /// reads it: a read from here costs a crossing back to JS and its wrapper on top.
    fn clock_us(&mut self, p: f64) -> (UnixMillis, Option<u64>) {
        if self.manual || !p.is_finite() || p < 0.0 {
            return (self.clock(), None);
        }
        let fresh = p >= self.wall_read_at && p - self.wall_read_at < 100.0;
        if !fresh {
            self.wall_offset = js_sys::Date::now() - p;
            self.wall_read_at = p;
        }
        let t = self.wall_offset + p;
        if t.is_finite() && t >= 0.0 {
            self.now = self.now.max(t as u64);
        }
        (UnixMillis(self.now), Some((p * 1000.0) as u64))
    }

    fn clock(&mut self) -> UnixMillis {
        if !self.manual {
            let t = js_sys::Date::now();
            if t.is_finite() && t >= 0.0 {
                self.now = self.now.max(t as u64);
            }
        }
        UnixMillis(self.now)
    }

    /// Moves the manual clock forward and runs the periodic work due by then.
    pub fn advance(&mut self, ms: f64) -> Result<(), JsValue> {
        let ms = self.manual_ms("advance", ms)?;
        self.now = self.now.saturating_add(ms);
        self.run_due();
        Ok(())
    }

    /// Sets the manual clock (it may go backwards, like a wall clock can).
    #[wasm_bindgen(js_name = setTime)]
    pub fn set_time(&mut self, ms: f64) -> Result<(), JsValue> {
        self.now = self.manual_ms("setTime", ms)?;
        self.run_due();
        Ok(())
    }

    /// `ms` for the manual-clock method `method`: a TypeError without a manual clock, a
    /// RangeError unless `ms` is a non-negative number.
    fn manual_ms(&self, method: &str, ms: f64) -> Result<u64, JsValue> {
        if !self.manual {
            return Err(type_error(&format!(
                "oxidis: {method}() needs an engine created with clock: 'manual'"
            )));
        }
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(range_error(&format!(
                "oxidis: {method}(ms) takes a non-negative number"
            )));
        }
        Ok(ms as u64)
    }

    /// Runs the periodic work (active expiry, timeouts) if it is due.
    pub fn tick(&mut self) {
        self.run_due();
    }

    fn run_due(&mut self) {
        let now = self.clock();
        // One tick at the new time handles everything due by then (bounded work per call);
        // a few more if the engine asks again at once, never a loop per elapsed period.
        for _ in 0..4 {
            self.eng.tick(now);
            match self.eng.next_deadline() {
                Some(d) if d <= now => continue,
                _ => break,
            }
        }
        self.collect_events();
    }

    /// When `tick` should run next (ms since the epoch), or -1.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> f64 {
        self.eng.next_deadline().map_or(-1.0, |d| d.0 as f64)
    }

    pub fn connect(&mut self) -> u32 {
        self.connect_from("wasm:0")
    }

    /// A client whose peer address (CLIENT LIST's addr, INFO's slave ip) is `addr`, e.g. the
    /// replica engine of a page's replication link.
    #[wasm_bindgen(js_name = connectFrom)]
    pub fn connect_from(&mut self, addr: &str) -> u32 {
        let now = self.clock();
        let id = self.eng.connect(now, peer(addr));
        self.register(id)
    }

    /// A handle for the engine's client `id` (a connection, or a link the engine opened).
    fn register(&mut self, id: ClientHandle) -> u32 {
        let h = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        self.handles.insert(h, id);
        self.by_slot.insert(id.0, h);
        h
    }

    /// The master connection the engine (a replica after REPLICAOF) asks for, as
    /// `[host, port, attempt]`, once; `undefined` if none is pending.
    #[wasm_bindgen(js_name = takeConnectMaster)]
    pub fn take_connect_master(&mut self) -> Option<Array> {
        self.collect_events();
        let (host, port, attempt) = self.connect_master.take()?;
        let a = Array::new();
        a.push(&JsValue::from_str(&host));
        a.push(&JsValue::from_f64(port.into()));
        a.push(&JsValue::from_f64(attempt as f64));
        Some(a)
    }

    /// The page's link for `attempt` is up: returns the master link's client handle (its
    /// output, starting with PING, goes to the master; the master's bytes are fed with
    /// `send`), or 0 if the engine no longer wants that attempt.
    #[wasm_bindgen(js_name = masterLinkConnected)]
    pub fn master_link_connected(&mut self, attempt: f64, addr: &str) -> u32 {
        let now = self.clock();
        let Some(id) = self
            .eng
            .master_link_connected(now, attempt as u64, peer(addr))
        else {
            return 0;
        };
        let h = self.register(id);
        self.collect_events();
        h
    }

    /// The page could not link `attempt` (no such master, or the link is cut): the engine
    /// retries from its cron, as after a refused TCP connect.
    #[wasm_bindgen(js_name = masterLinkFailed)]
    pub fn master_link_failed(&mut self, attempt: f64) {
        let now = self.clock();
        self.eng.master_link_failed(now, attempt as u64);
        self.collect_events();
    }

    pub fn disconnect(&mut self, h: u32) {
        if let Some(id) = self.handles.remove(&h) {
            self.by_slot.remove(&id.0);
            self.stash.remove(&h);
            self.eng.disconnect(id);
            self.collect_events();
        }
    }

    fn id(&self, h: u32) -> Result<ClientHandle, JsValue> {
        self.handles
            .get(&h)
            .copied()
            .ok_or_else(|| type_error("oxidis: this client is closed"))
    }

    /// Moves the engine's events into the queue, as (kind, handle).
    fn collect_events(&mut self) {
        let mut migrate_failed = Vec::new();
        while let Some(ev) = self.eng.poll_event() {
            let (kind, id) = match ev {
                Event::Output(id) => (EV_OUTPUT, id),
                Event::Close(id) => (EV_CLOSE, id),
                // An embedded engine has no process to stop (SHUTDOWN's reply says what it did)
                // and no files to apply dir/appendonly to.
                Event::Shutdown | Event::ConfigChanged | Event::Log(_) => continue,
                // No sockets here: the page links engines itself (web/js/replication.js asks
                // `takeConnectMaster` and answers with masterLinkConnected/Failed). Only the
                // latest attempt matters: the engine ignores answers to older ones.
                Event::ConnectMaster {
                    host,
                    port,
                    attempt,
                } => {
                    self.connect_master = Some((host, port, attempt));
                    continue;
                }
                // Cluster bus links: the page links engines itself (web/js/cluster.js takes
                // them with `takeClusterEvents`, cluster.rs).
                Event::ConnectClusterNode { link, ip, port } => {
                    self.bus.connect(link, ip, port);
                    continue;
                }
                Event::ClusterOutput(link) => {
                    self.bus.output(link);
                    continue;
                }
                Event::CloseClusterLink(link) => {
                    self.bus.close(link);
                    continue;
                }
                // MIGRATE: no sockets in the page. A ClusterNetwork links it to the engine
                // registered at host:port (cluster.rs); without one its connection fails (IOERR).
                Event::ConnectMigrate {
                    host, port, token, ..
                } => {
                    if !self.bus.migrate(token, host, port) {
                        migrate_failed.push(token);
                    }
                    continue;
                }
            };
            if let Some(&h) = self.by_slot.get(&id.0) {
                self.events.push_back((kind, h));
            }
        }
        if !migrate_failed.is_empty() {
            let now = self.clock();
            for token in migrate_failed {
                self.eng.migrate_link_failed(now, token, false);
            }
            self.collect_events();
        }
    }

    /// The next event as `kind * 2^32 + handle` (kind 1: output for that client, 2: the
    /// engine closed it), or -1.
    #[wasm_bindgen(js_name = nextEvent)]
    pub fn next_event(&mut self) -> f64 {
        self.collect_events();
        match self.events.pop_front() {
            Some((k, h)) => k as f64 * 4294967296.0 + h as f64,
            None => -1.0,
        }
    }

    #[wasm_bindgen(js_name = hasEvents)]
    pub fn has_events(&mut self) -> bool {
        self.collect_events();
        !self.events.is_empty()
    }

    /// The address of the control block (`CTRL_*`, f64 slots), fixed for the engine's life.
    #[wasm_bindgen(js_name = ctrlPtr)]
    pub fn ctrl_ptr(&self) -> u32 {
        self.ctrl.as_ptr() as u32
    }

    /// The argument arena with room for at least `size` bytes: its address (it moves when it
    /// grows; the wrapper asks again only then). 0 if the memory is not available.
    pub fn arena(&mut self, size: u32) -> u32 {
        let size = size as usize;
        if size > self.arena.len() {
            let want = size.max(self.arena.len() * 2).max(4096);
            let extra = want - self.arena.len();
            if self.arena.try_reserve_exact(extra).is_err() {
                return 0;
            }
            self.arena.resize(want, 0);
        }
        self.arena.as_ptr() as u32
    }

    /// Runs one command whose arguments the wrapper wrote into the arena, at `at`:
    /// `argc: u32`, `argc` byte lengths (`u32`), then the arguments' bytes one after another
    /// (little endian, 4-byte aligned start). The engine runs it through the same dispatch as
    /// `feed` (`Engine::call_args`); its RESP reply is left in `out`, whose address and length
    /// are in the control block, for the wrapper to read as JS values (`replySlow` for the
    /// shapes it does not read itself). Returns the arena offset after the request, or -1 if
    /// the request does not fit the arena (a bug in the wrapper).
    /// -2 if the client is closed (a plain number: a `Result` costs the wrapper an array per
    /// call).
    #[wasm_bindgen(js_name = callDirect)]
    pub fn call_direct(&mut self, h: u32, clock: f64) -> i32 {
        let Some(&id) = self.handles.get(&h) else {
            return NO_CLIENT;
        };
        // Output that was waiting (pushes nobody took yet) is not this call's reply.
        if self.eng.has_output(id) {
            let stash = self.stash.entry(h).or_default();
            self.eng.drain_output(id, stash);
        }
        let (now, clock_us) = self.clock_us(clock);
        self.out.clear();
        let end = self.run_arena(now, clock_us, id, 0);
        self.answer_host_requests(id);
        self.eng.drain_output(id, &mut self.out);
        let array = self.out.first() == Some(&b'*') && self.out.len() <= MEMO_MAX;
        let same = array && self.out == self.last_array;
        if !same {
            self.last_array.clear();
            if array {
                self.last_array.extend_from_slice(&self.out);
            }
        }
        self.ctrl[CTRL_SAME] = if same { 1.0 } else { 0.0 };
        self.after_direct(h, id);
        end.map_or(-1, |e| e as i32)
    }

    /// Runs `n` commands written one after another in the arena (each as for `callDirect`,
    /// each starting 4-byte aligned), their replies one after another in `out`; the end of
    /// each command's output is in the bounds (a u32 array at the control block's bounds
    /// address). Stops after a command that wrote nothing (it blocked: the rest must queue
    /// behind it) or closed the client. Returns how many commands ran, or -1 if the arena
    /// does not hold `n` requests.
    /// -2 if the client is closed, as `callDirect`.
    #[wasm_bindgen(js_name = callBatch)]
    pub fn call_batch(&mut self, h: u32, n: u32, clock: f64) -> i32 {
        let Some(&id) = self.handles.get(&h) else {
            return NO_CLIENT;
        };
        if self.eng.has_output(id) {
            let stash = self.stash.entry(h).or_default();
            self.eng.drain_output(id, stash);
        }
        let (now, clock_us) = self.clock_us(clock);
        self.out.clear();
        self.bounds.clear();
        let mut at = 0;
        let mut ran = 0;
        self.eng.take_clock_us();
        while ran < n {
            // The next command's timer starts at the read that ended the one before.
            let start = if ran == 0 {
                clock_us
            } else {
                self.eng.take_clock_us()
            };
            let Some(end) = self.run_arena(now, start, id, at) else {
                return -1;
            };
            at = (end + 3) & !3;
            ran += 1;
            self.answer_host_requests(id);
            let before = self.out.len();
            self.eng.drain_output(id, &mut self.out);
            self.bounds.push(self.out.len() as u32);
            if self.out.len() == before || self.eng.should_close(id) {
                break;
            }
        }
        self.ctrl[CTRL_BOUNDS_PTR] = self.bounds.as_ptr() as u32 as f64;
        self.after_direct(h, id);
        ran as i32
    }

    /// Decodes the request at arena offset `at` and runs it; the offset after it, or None if
    /// it does not fit.
    fn run_arena(
        &mut self,
        now: UnixMillis,
        clock_us: Option<u64>,
        id: ClientHandle,
        at: usize,
    ) -> Option<usize> {
        let a = &self.arena;
        let word = |i: usize| -> Option<usize> {
            let b = a.get(i..i + 4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let argc = word(at)?;
        let mut pos = at.checked_add(4)?.checked_add(argc.checked_mul(4)?)?;
        if argc == 0 || pos > a.len() {
            return None;
        }
        let mut args: smallvec::SmallVec<[&[u8]; 16]> = smallvec::SmallVec::new();
        for i in 0..argc {
            let len = word(at + 4 + 4 * i)?;
            let end = pos.checked_add(len)?;
            args.push(a.get(pos..end)?);
            pos = end;
        }
        match clock_us.filter(|_| !self.manual) {
            Some(us) => self.eng.call_args_at(now, us, id, &args),
            None => self.eng.call_args(now, id, &args),
        }
        Some(pos)
    }

    /// A command that waits on the host (MIGRATE's connection) may be answered by it at once
    /// (no ClusterNetwork: the connection fails): handle the events now, so that answer is
    /// this call's reply rather than output nobody reads.
    fn answer_host_requests(&mut self, id: ClientHandle) {
        if self.eng.awaits_reply(id) {
            self.collect_events();
        }
    }

    /// After a direct call: events, a closed client, the control block.
    fn after_direct(&mut self, h: u32, id: ClientHandle) {
        self.collect_events();
        if self.eng.should_close(id) {
            self.events.push_back((EV_CLOSE, h));
        }
        self.ctrl[CTRL_OUT_PTR] = self.out.as_ptr() as u32 as f64;
        self.ctrl[CTRL_OUT_LEN] = self.out.len() as f64;
        self.ctrl[CTRL_ASCII] = if self.out.is_ascii() { 1.0 } else { 0.0 };
        self.ctrl[CTRL_EVENTS] = if self.events.is_empty() { 0.0 } else { 1.0 };
        self.ctrl[CTRL_DEADLINE] = self.next_deadline();
        self.ctrl[CTRL_AWAITS] = if self.eng.awaits_reply(id) { 1.0 } else { 0.0 };
    }

    /// The reply of the direct call's output `out[start..end]` as the RESP reader makes it
    /// (the first frame that is not a RESP3 push; other frames go to the stash and the event
    /// queue), for the shapes the wrapper does not read itself. Errors are thrown, or with
    /// `errors_as_values` returned as ReplyError objects (a batch's replies).
    #[wasm_bindgen(js_name = replySlow)]
    pub fn reply_slow(
        &mut self,
        h: u32,
        start: u32,
        end: u32,
        mode: u8,
        errors_as_values: bool,
    ) -> Result<JsValue, JsValue> {
        let out = std::mem::take(&mut self.out);
        let seg = out.get(start as usize..end as usize).unwrap_or_default();
        let r = self.select_reply(h, seg, Binary::from_u8(mode));
        self.out = out;
        self.ctrl[CTRL_EVENTS] = if self.events.is_empty() { 0.0 } else { 1.0 };
        match r {
            Err(e) if errors_as_values => Ok(e),
            r => r,
        }
    }

    /// The reply among a call's output frames: the first that is not a RESP3 push (a push
    /// before it is a message for this client, e.g. it published to its own channel); if all
    /// are pushes (RESP3 SUBSCRIBE), the first. Other frames wait in the stash, as raw bytes.
    /// `undefined` if there is none (the client blocked); an error is thrown.
    fn select_reply(&mut self, h: u32, out: &[u8], mode: Binary) -> Result<JsValue, JsValue> {
        let mut reply = None;
        let mut first_push = None;
        let mut pos = 0;
        while pos < out.len() {
            match decode_reply(&out[pos..]) {
                Ok(Some((r, n))) if n > 0 => {
                    if reply.is_none() && !matches!(r, Reply::Push(_)) {
                        reply = Some((r, pos, n));
                    } else if first_push.is_none() {
                        first_push = Some((r, pos, n));
                    }
                    pos += n;
                }
                _ => break,
            }
        }
        let reply = reply.or(first_push);
        let result = match &reply {
            None => Ok(JsValue::UNDEFINED),
            Some((Reply::Error(e), _, _)) => Err(reply_error(e)),
            Some((r, _, _)) => Ok(reply_value(r, mode)),
        };
        let (at, n) = reply.map_or((0, 0), |(_, at, n)| (at, n));
        if out.len() > n {
            let stash = self.stash.entry(h).or_default();
            stash.extend_from_slice(&out[..at]);
            stash.extend_from_slice(&out[at + n..]);
            self.events.push_back((EV_OUTPUT, h));
        }
        result
    }

    /// Frames waiting for a client (pushes, a blocked command's reply), as `[isPush, value]`
    /// pairs (a RESP3 push is never a blocked call's reply); errors are ReplyError objects,
    /// not thrown.
    #[wasm_bindgen(js_name = takeFrames)]
    pub fn take_frames(&mut self, h: u32, mode: u8) -> Array {
        let mut all = self.stash.remove(&h).unwrap_or_default();
        if let Some(&id) = self.handles.get(&h) {
            self.eng.drain_output(id, &mut all);
        }
        decode_frames(&all, mode)
    }

    /// Sends raw bytes as the client; returns every byte the engine wrote back (replies exactly
    /// as a server would send them, including pushes and protocol errors).
    pub fn send(&mut self, h: u32, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let id = self.id(h)?;
        let now = self.clock();
        if !bytes.is_empty() {
            self.eng.feed(now, id, bytes);
        }
        let mut out = self.stash.remove(&h).unwrap_or_default();
        self.eng.drain_output(id, &mut out);
        self.collect_events();
        if self.eng.should_close(id) {
            self.events.push_back((EV_CLOSE, h));
        }
        Ok(out)
    }

    /// The raw bytes waiting for a client (what `send` would return before its own replies).
    #[wasm_bindgen(js_name = takeOutput)]
    pub fn take_output(&mut self, h: u32) -> Vec<u8> {
        self.send(h, &[]).unwrap_or_default()
    }

    /// True once the engine has closed the client (QUIT, protocol error, CLIENT KILL ...).
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self, h: u32) -> bool {
        self.handles
            .get(&h)
            .is_none_or(|&id| self.eng.should_close(id))
    }

    /// Keys of database `db` matching the glob `pattern`, at most `limit`, each as
    /// `{ key, type, ttl }` (ttl in ms, -1 without one). Keys past their TTL are left out.
    pub fn keys(&mut self, db: u32, pattern: &str, limit: u32, mode: u8) -> Result<Array, JsValue> {
        let now = self.clock();
        let mode = Binary::from_u8(mode);
        let keys = self
            .eng
            .keys_matching(now, db as usize, pattern.as_bytes(), limit as usize);
        let Some(keys) = keys else {
            return Err(range_error(&format!(
                "oxidis: database {db} does not exist (0..{})",
                self.eng.db_count()
            )));
        };
        let out = Array::new();
        for k in keys {
            let o = Object::new();
            set(&o, "key", &bytes_value(k.key, mode));
            set(&o, "type", &JsValue::from_str(k.type_name));
            let ttl = k.ttl_ms.map_or(-1.0, |ms| ms as f64);
            set(&o, "ttl", &JsValue::from_f64(ttl));
            out.push(&o);
        }
        Ok(out)
    }

    /// Number of keys in database `db` (including ones past their TTL not yet removed).
    #[wasm_bindgen(js_name = dbSize)]
    pub fn db_size(&self, db: u32) -> f64 {
        self.eng.db_size(db as usize).map_or(0.0, |n| n as f64)
    }

    #[wasm_bindgen(js_name = clientCount)]
    pub fn client_count(&self) -> u32 {
        self.eng.client_count() as u32
    }

    /// The dataset as an RDB file (what SAVE would write at this moment).
    #[wasm_bindgen(js_name = exportRdb)]
    pub fn export_rdb(&mut self) -> Vec<u8> {
        let now = self.clock();
        self.eng.export_rdb(now)
    }

    /// Replaces the dataset with an RDB file's keys (expired ones dropped); returns how many
    /// keys were loaded. On error (not an RDB, corrupt) nothing changes.
    #[wasm_bindgen(js_name = importRdb)]
    pub fn import_rdb(&mut self, bytes: &[u8]) -> Result<f64, JsValue> {
        let now = self.clock();
        let info = self
            .eng
            .import_rdb(bytes, now)
            .map_err(|e| range_error(&format!("oxidis: importRdb: {e}")))?;
        self.collect_events();
        Ok(info.keys_loaded as f64)
    }
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn str_array<'a>(items: impl IntoIterator<Item = &'a str>) -> Array {
    items.into_iter().map(JsValue::from_str).collect()
}

/// Converts COMMAND DOCS's RESP3 pairs (maps become plain objects) to JS.
fn doc_value(r: &Reply) -> JsValue {
    match r {
        Reply::Map(pairs) => {
            let o = Object::new();
            for (k, v) in pairs {
                let key = match k {
                    Reply::Simple(s) | Reply::Bulk(s) => String::from_utf8_lossy(s).into_owned(),
                    _ => continue,
                };
                set(&o, &key, &doc_value(v));
            }
            o.into()
        }
        Reply::Array(items) | Reply::Set(items) => {
            items.iter().map(doc_value).collect::<Array>().into()
        }
        other => reply_value(other, Binary::Lossy),
    }
}

/// The command table (oxidis_core::all_commands): one object per command and
/// subcommand, with Redis's metadata and COMMAND DOCS's extra fields (arguments, history ...).
#[wasm_bindgen]
pub fn commands() -> Array {
    let out = Array::new();
    for c in all_commands() {
        let o = Object::new();
        set(&o, "name", &JsValue::from_str(c.name));
        set(&o, "arity", &JsValue::from_f64(c.arity.into()));
        set(&o, "flags", &str_array(c.flag_names()).into());
        set(&o, "firstKey", &JsValue::from_f64(c.first_key.into()));
        set(&o, "lastKey", &JsValue::from_f64(c.last_key.into()));
        set(&o, "keyStep", &JsValue::from_f64(c.key_step.into()));
        set(
            &o,
            "aclCategories",
            &str_array(c.acl_categories.iter().copied()).into(),
        );
        set(&o, "group", &JsValue::from_str(c.group));
        set(&o, "summary", &JsValue::from_str(c.summary));
        set(&o, "since", &JsValue::from_str(c.since));
        set(&o, "complexity", &JsValue::from_str(c.complexity));
        set(&o, "container", &JsValue::from_bool(c.is_container()));
        let subs = str_array(c.subcommands.iter().map(|s| s.name));
        set(&o, "subcommands", &subs.into());
        let docs = Object::new();
        for (k, v) in c.doc_extra() {
            set(&docs, &String::from_utf8_lossy(&k), &doc_value(&v));
        }
        set(&o, "docs", &docs.into());
        out.push(&o);
    }
    out
}

fn node_value(n: &Node) -> JsValue {
    let o = Object::new();
    set(&o, "type", &JsValue::from_str(n.kind.name()));
    if let Some(t) = n.kind.byte() {
        set(&o, "typeByte", &JsValue::from_str(&(t as char).to_string()));
    }
    set(&o, "start", &JsValue::from_f64(n.start as f64));
    set(&o, "end", &JsValue::from_f64(n.end as f64));
    if let Some(l) = n.length {
        set(&o, "length", &JsValue::from_f64(l as f64));
    }
    let range = |(a, b): (usize, usize)| -> JsValue {
        let r = Object::new();
        set(&r, "start", &JsValue::from_f64(a as f64));
        set(&r, "end", &JsValue::from_f64(b as f64));
        r.into()
    };
    set(&o, "line", &range(n.line));
    if let Some(p) = n.payload {
        set(&o, "payload", &range(p));
    }
    let crlf: Array = n
        .crlf
        .iter()
        .map(|&c| JsValue::from_f64(c as f64))
        .collect();
    set(&o, "crlf", &crlf.into());
    let children: Array = n.children.iter().map(node_value).collect();
    set(&o, "children", &children.into());
    let (status, error) = match &n.status {
        Status::Complete => ("complete", None),
        Status::Incomplete => ("incomplete", None),
        Status::Invalid(m) => ("invalid", Some(m.as_str())),
    };
    set(&o, "status", &JsValue::from_str(status));
    if let Some(e) = error {
        set(&o, "error", &JsValue::from_str(e));
    }
    o.into()
}

/// The annotated RESP tree of `bytes` (oxidis_core::resp::annotate): one node per frame.
#[wasm_bindgen(js_name = decodeAnnotated)]
pub fn decode_annotated(bytes: &[u8]) -> Array {
    annotate(bytes).iter().map(node_value).collect()
}

/// Splits a line into arguments as redis-cli and inline commands do (Redis's sdssplitargs:
/// quotes, \xHH and other escapes), each as bytes; `undefined` for unbalanced quotes.
#[wasm_bindgen(js_name = splitArgs)]
pub fn split_args_js(line: &[u8]) -> Option<Array> {
    let mut args = Vec::new();
    if !split_args(line, &mut args) {
        return None;
    }
    Some(
        args.iter()
            .map(|a| JsValue::from(Uint8Array::from(a.as_slice())))
            .collect(),
    )
}

/// SHA1 of `bytes` as 40 lowercase hex digits: the name EVALSHA gives a script (the core's
/// own, so the facade's defineCommand names scripts exactly as the engine's cache does).
#[wasm_bindgen(js_name = sha1hex)]
pub fn sha1hex_js(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&oxidis_core::script::sha1hex(bytes)).into_owned()
}

/// Every complete reply in `bytes` as redis-cli shows it (oxidis_core::resp::render), each as
/// `[text, byteLength]`; stops at the first incomplete or invalid frame.
#[wasm_bindgen(js_name = renderReplies)]
pub fn render_replies_js(bytes: &[u8]) -> Array {
    render_replies(bytes)
        .into_iter()
        .map(|(text, n)| -> JsValue {
            let pair = Array::new();
            pair.push(&JsValue::from_str(&text));
            pair.push(&JsValue::from_f64(n as f64));
            pair.into()
        })
        .collect()
}

/// Every complete reply in `bytes` as `[isPush, value]` (values as the RESP path makes them:
/// errors are ReplyError objects): the reference the direct path is tested against.
#[wasm_bindgen(js_name = decodeFrames)]
pub fn decode_frames(bytes: &[u8], mode: u8) -> Array {
    let mode = Binary::from_u8(mode);
    frames(bytes)
        .iter()
        .map(|r| -> JsValue {
            let pair = Array::new();
            pair.push(&JsValue::from_bool(matches!(r, Reply::Push(_))));
            pair.push(&reply_value(r, mode));
            pair.into()
        })
        .collect()
}

/// A golden-transcript driver whose methods are JS callbacks (the wrapper's Engine/Client).
struct JsDriver {
    send: Function,
    advance: Function,
    is_closed: Function,
    read: Function,
    /// A topology's node selection (`[n2]` steps) and `${name}` values: web/tests/
    /// golden-topology.test.mjs; None on one engine.
    select_node: Option<Function>,
    vars: Vec<(String, String)>,
}

impl golden::Driver for JsDriver {
    fn select_node(&mut self, node: usize) -> Result<(), String> {
        match &self.select_node {
            None if node == 0 => Ok(()),
            None => Err(format!("one engine: there is no node n{}", node + 1)),
            Some(f) => f
                .call1(&JsValue::NULL, &JsValue::from_f64(node as f64))
                .map(|_| ())
                .map_err(|e| format!("selectNode threw: {e:?}")),
        }
    }

    fn vars(&self) -> Vec<(String, String)> {
        self.vars.clone()
    }

    fn send(&mut self, client: usize, bytes: &[u8], n: usize) -> Result<Vec<u8>, String> {
        let r = self
            .send
            .call3(
                &JsValue::NULL,
                &JsValue::from_f64(client as f64),
                &Uint8Array::from(bytes).into(),
                &JsValue::from_f64(n as f64),
            )
            .map_err(|e| format!("send threw: {e:?}"))?;
        r.dyn_into::<Uint8Array>()
            .map(|a| a.to_vec())
            .map_err(|_| "send must return a Uint8Array".to_string())
    }

    fn advance(&mut self, ms: u64) {
        let _ = self
            .advance
            .call1(&JsValue::NULL, &JsValue::from_f64(ms as f64));
    }

    fn is_closed(&mut self, client: usize) -> bool {
        self.is_closed
            .call1(&JsValue::NULL, &JsValue::from_f64(client as f64))
            .is_ok_and(|v| v.is_truthy())
    }

    fn read(&mut self, client: usize, n: usize) -> Result<Vec<u8>, String> {
        let r = self
            .read
            .call2(
                &JsValue::NULL,
                &JsValue::from_f64(client as f64),
                &JsValue::from_f64(n as f64),
            )
            .map_err(|e| format!("read threw: {e:?}"))?;
        r.dyn_into::<Uint8Array>()
            .map(|a| a.to_vec())
            .map_err(|_| "read must return a Uint8Array".to_string())
    }
}

/// Runs a golden transcript (oxidis_core::golden, the one runner) through JS callbacks:
/// `send(client, bytes, expectedReplies) -> Uint8Array`, `advance(ms)`, `isClosed(client)`,
/// `read(client) -> Uint8Array` (what the client has been sent since, for `@read`).
/// Returns the failures (empty when the transcript passes).
#[wasm_bindgen(js_name = runGolden)]
#[allow(clippy::too_many_arguments)]
pub fn run_golden(
    name: &str,
    text: &str,
    send: Function,
    advance: Function,
    is_closed: Function,
    read: Function,
    select_node: Option<Function>,
    vars: Option<Array>,
) -> Array {
    let steps = match golden::parse(text) {
        Ok(s) => s,
        Err(e) => return str_array([format!("{name}: {e}").as_str()]),
    };
    // vars: [[name, value], ...] (a topology's `${n2.port}` ...).
    let vars = vars
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let p: Array = p.dyn_into().ok()?;
                    Some((p.get(0).as_string()?, p.get(1).as_string()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut d = JsDriver {
        send,
        advance,
        is_closed,
        read,
        select_node,
        vars,
    };
    golden::run(name, &steps, &mut d)
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect()
}

/// The topology a golden transcript runs on (oxidis_core::golden::Topology, its path under
/// testdata/golden): null outside topology/, else `{ name, nodes, cluster, slots: [[from,
/// to] | null, ...], masterOf: [index | null, ...] }`; throws for an unknown topology.
#[wasm_bindgen(js_name = goldenTopology)]
pub fn golden_topology(name: &str) -> Result<JsValue, JsValue> {
    let Some(top) = golden::Topology::of(name).map_err(|e| JsValue::from_str(&e))? else {
        return Ok(JsValue::NULL);
    };
    let o = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&o, &k.into(), v).map(|_| ());
    let n = top.nodes();
    set("name", &format!("{top:?}").into())?;
    set("nodes", &JsValue::from_f64(n as f64))?;
    set("cluster", &JsValue::from_bool(top.cluster()))?;
    let slots: Array = (0..n)
        .map(|i| match top.slots(i) {
            Some((a, b)) => {
                let r = Array::new();
                r.push(&JsValue::from_f64(f64::from(a)));
                r.push(&JsValue::from_f64(f64::from(b)));
                r.into()
            }
            None => JsValue::NULL,
        })
        .collect();
    set("slots", &slots)?;
    let masters: Array = (0..n)
        .map(|i| {
            top.master_of(i)
                .map_or(JsValue::NULL, |m| JsValue::from_f64(m as f64))
        })
        .collect();
    set("masterOf", &masters)?;
    Ok(o.into())
}

/// The wasm host's ACL capabilities: random bytes from Web Crypto (`crypto.getRandomValues`,
/// in browsers and Node 20+) for ACL GENPASS; no files, so ACL LOAD/SAVE report an error.
struct WebAclHost;

impl oxidis_core::acl::AclHost for WebAclHost {
    fn read_file(&mut self, _path: &str) -> Result<Vec<u8>, String> {
        Err("the wasm engine has no files".to_string())
    }

    fn write_file(&mut self, _path: &str, _data: &[u8]) -> Result<(), String> {
        Err("the wasm engine has no files".to_string())
    }

    fn random_bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
        let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
            .map_err(|_| "no crypto object".to_string())?;
        let get = js_sys::Reflect::get(&crypto, &"getRandomValues".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| "no crypto.getRandomValues".to_string())?;
        let arr = js_sys::Uint8Array::new_with_length(buf.len() as u32);
        get.call1(&crypto, &arr)
            .map_err(|_| "crypto.getRandomValues failed".to_string())?;
        arr.copy_to(buf);
        Ok(())
    }
}

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`, imported once: looking it up on the global object at every call
    /// cost four crossings and two string conversions, twice per command. (Node 20+ and
    /// browsers have it; without `catch`, whose wrapper cost as much as the call.)
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// `performance.now()` in microseconds.
fn performance_now_us() -> u64 {
    (performance_now() * 1000.0) as u64
}

/// `Date.now()` in microseconds (MONITOR's timestamps, millisecond precision).
fn date_now_us() -> u64 {
    (js_sys::Date::now() * 1000.0) as u64
}

/// What the server's request parser makes of `bytes` (a connection's buffered bytes plus a new
/// write), from the engine's own decoder (oxidis_core::resp::trace): `{ requests, parts,
/// consumed, state, explain }`, every byte in one part with its explanation.
#[wasm_bindgen(js_name = requestTrace)]
pub fn request_trace_js(bytes: &[u8]) -> JsValue {
    use oxidis_core::resp::trace::{error_text, trace_requests, Status as St};
    let t = trace_requests(bytes);
    let num = |n: usize| JsValue::from_f64(n as f64);
    let requests: Array = t
        .requests
        .iter()
        .map(|r| -> JsValue {
            let o = Object::new();
            set(&o, "start", &num(r.start));
            set(&o, "end", &num(r.end));
            set(&o, "inline", &JsValue::from_bool(r.inline));
            let status = match r.status {
                St::Complete => "complete",
                St::Empty => "empty",
                St::Incomplete => "incomplete",
                St::Invalid(e) => {
                    set(&o, "error", &JsValue::from_str(&error_text(e)));
                    "invalid"
                }
            };
            set(&o, "status", &JsValue::from_str(status));
            let args: Array = r
                .args
                .iter()
                .map(|a| JsValue::from(Uint8Array::from(a.as_slice())))
                .collect();
            set(&o, "args", &args.into());
            if let Some(c) = r.count {
                set(&o, "count", &JsValue::from_f64(c as f64));
            }
            o.into()
        })
        .collect();
    let parts: Array = t
        .parts
        .iter()
        .map(|p| -> JsValue {
            let o = Object::new();
            set(&o, "start", &num(p.start));
            set(&o, "end", &num(p.end));
            set(&o, "kind", &JsValue::from_str(p.kind.name()));
            set(&o, "request", &num(p.request));
            set(&o, "why", &JsValue::from_str(&p.why));
            o.into()
        })
        .collect();
    let o = Object::new();
    set(&o, "requests", &requests.into());
    set(&o, "parts", &parts.into());
    set(&o, "consumed", &num(t.consumed));
    set(&o, "state", &JsValue::from_str(t.state));
    set(&o, "explain", &JsValue::from_str(&t.explain));
    o.into()
}

/// A connection's addresses as the page shows them: the peer's `addr`, the engine's "wasm:0".
pub(crate) fn peer(addr: &str) -> ConnInfo {
    ConnInfo {
        addr: addr.into(),
        laddr: "wasm:0".into(),
        ..Default::default()
    }
}
