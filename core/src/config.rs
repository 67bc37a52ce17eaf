//! Server configuration: the parameters the engine reads, under Redis's names.
//! (Skeleton: the full parameter registry for CONFIG GET/SET and redis.conf parsing grows here.)

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: String,
    pub databases: usize,
    pub hz: u32,
    /// `timeout`: close a client idle this many seconds (0 = never).
    pub timeout_secs: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: usize,
    /// Parameters Oxidis has no use for: accepted, stored and reported as Redis does.
    pub other: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: 6379,
            bind: "127.0.0.1".into(),
            databases: 16,
            hz: 10,
            timeout_secs: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            other: BTreeMap::new(),
        }
    }
}
