//! oxidis-core: the Oxidis engine, sans-I/O. Bytes in, bytes out; time and randomness come
//! from the host. The same core runs in the native server (native/) and in WebAssembly (web/).
//!
//! # The public API (what native/, web/, xtask/ and core's tests and benches use)
//!
//! - [`Engine`] and what it is driven with: [`Config`], [`UnixMillis`], [`ClientHandle`],
//!   [`ConnInfo`], [`HostInfo`], [`Event`]; [`KeyView`], a key as `Engine::keys_matching`
//!   shows it to a key browser; [`Garbage`], the big values a host frees on its own thread
//!   (`Engine::take_lazyfree`); [`Db`], opaque, what [`rdb::encode`] writes; [`AppendFsync`],
//!   the typed `appendfsync` a host applies; [`REDIS_VERSION`]. Hosts change or read engine
//!   state only through `Engine`'s methods (persistence reports such as `loading_started`,
//!   `aof_write_ok`, client accessors such as `closes_at_once`): no shell touches core's
//!   structs.
//! - [`resp`]: the RESP codec: request decoding (multibulk, inline) and encoding, [`Reply`] and
//!   its decoder, redis-cli-style rendering (`resp::render`), byte-level annotation for the
//!   playground (`resp::annotate`).
//! - [`rdb`]: RDB snapshots for hosts that keep files: [`rdb::encode`], [`rdb::SaveOptions`],
//!   the [`rdb::PersistHost`] hooks (the `Engine`'s import/export/AOF methods are in
//!   rdb/engine_api.rs).
//! - [`golden`]: the golden-transcript parser and runner, shared by every driver.
//! - [`script`]: the interface to a Lua 5.1 VM that a host installs for scripting (`ScriptVm`,
//!   `LuaStack`, `ScriptHost`, `ScriptVmFactory`); `oxidis-lua` implements it. Redis's
//!   scripting rules will live here too (docs/design/scripting.md).
//! - [`all_commands`] / [`lookup`] / [`CommandSpec`] / [`flags`]: the command table, read-only
//!   (the fuzz test models dispatch with it); [`glob_match`]; [`Rng`], the seeded PRNG.
//! - `internals` (feature `internals`, hidden): `Dict` and `ZSet` for core's own benches and
//!   examples; not an API.
//!
//! # Crate-private modules
//!
//! - `engine`: clients and server state; `feed` / `tick` / `next_deadline` / `poll_event`
//! - `command`: the command table (generated from Redis's metadata), dispatch, handlers by group
//! - `keyspace`: databases (`Db`): keys and TTLs over `types::Dict`, lazy and active expiry
//! - `types`: data structures only: the values keys hold, and `Dict`, the incrementally
//!   rehashing hash table both they and the keyspace use
//! - `config`: Redis's parameters
//! - `lazyfree`: which dropped values go to the host's worker (Redis's lazyfree.c)
//! - `evict`: maxmemory (Redis's evict.c): the per-key LRU/LFU field's clock and counter,
//!   eviction before commands and from the tick, used memory as eviction counts it
//! - `repl`: replication (Redis's replication.c): the ID pair and offset, the master side
//!   (replicas, backlog, WAIT) and the replica side (the link to a master)
//! - `glob`: Redis's pattern matching (KEYS, SCAN MATCH, CONFIG GET)
//! - `cnum`: C's number parsing as Redis uses it (isspace, string2ll, strtod, string2d)
//! - `rng`: the seeded PRNG; `time`: `UnixMillis`, the host's clock passed in
//! - `testing` (tests only): the command tests' engine-and-client harness
//!
//! # Boundaries (enforced by xtask/tests/tidy.rs)
//!
//! - The core does no I/O: no `std::{fs, net, thread, time, process, env}`, no clock, no mio,
//!   no wasm-bindgen, nothing from native/ or web/.
//! - `cnum`, `glob`, `rng` and `time` are leaves: they use nothing of the crate.
//! - `types` (data structures) and `resp` (the codec) use only the leaves: `types` knows
//!   neither `resp`, `command` nor `keyspace`; `resp` knows neither `command` nor `keyspace`.
//!   (`keyspace` holding `types::Value`s is the allowed direction.)
//! - Every module starts with a `//!` doc saying what it owns.

pub mod acl;
pub mod alloc;
mod cluster;
mod cnum;
mod command;
mod config;
mod engine;
mod evict;
mod glob;
pub mod golden;
mod keyspace;
mod lazyfree;
pub mod rdb;
mod repl;
pub mod resp;
mod rng;
pub mod script;
#[cfg(test)]
mod testing;
mod time;
mod types;

/// The cluster bus codec, for the host-side tests against redis-server (native/tests).
pub use cluster::bus as cluster_bus;
pub use cluster::{ClusterConfigHost, LinkHandle};
pub use command::migrate::{MigrateHost, MigrateIoError};
pub use command::{all_commands, flags, lookup, CommandSpec};
pub use config::{AppendFsync, Config, REDIS_VERSION};
pub use engine::{
    ClientHandle, ConfigStore, ConnInfo, Engine, Event, HostInfo, KeyView, ListenerHost, LoopTurn,
    TurnCounters, KEEP_BUFFER,
};
pub use glob::glob_match;
pub use keyspace::Db;
pub use lazyfree::Garbage;
pub use resp::Reply;
pub use rng::Rng;
pub use time::UnixMillis;

/// The data structures themselves, for core's own benches and examples (feature `internals`,
/// which only core's dev-dependency on itself turns on). Not an API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::types::zset::{Limits, ZSet};
    pub use crate::types::Dict;
}
