//! oxidis-core: the Oxidis engine, sans-I/O. Bytes in, bytes out; time and randomness come
//! from the host. The same core runs in the native server (native/) and in WebAssembly (web/).
//!
//! - [`resp`]: request decoding (multibulk, inline), reply encoding (RESP2/RESP3), reply decoding
//! - [`engine`]: clients and server state; `feed` / `tick` / `next_deadline` / `poll_event`
//! - [`command`]: the command table (generated from Redis's metadata), dispatch, handlers by group
//! - [`keyspace`]: databases over an incrementally rehashing `Dict`, TTLs, expiry
//! - [`types`]: the values keys hold
//! - [`config`]: Redis's parameters
//! - [`glob`]: Redis's pattern matching (KEYS, SCAN MATCH, CONFIG GET)

mod cnum;
pub mod command;
pub mod config;
pub mod engine;
pub mod glob;
pub mod golden;
pub mod keyspace;
pub mod lazyfree;
pub mod rdb;
pub mod resp;
pub mod rng;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
pub mod types;

pub use config::Config;
pub use engine::{ClientId, ConnInfo, Engine, Event, HostInfo};
pub use resp::Reply;
pub use time::UnixMillis;
