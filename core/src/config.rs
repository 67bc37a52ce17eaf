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

impl Config {
    /// Sets one parameter by its Redis name (CONFIG SET, redis.conf, `--name value` flags).
    /// The error is Redis's reason text. (Skeleton: only the typed fields so far.)
    pub fn set(&mut self, name: &str, value: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(value).into_owned();
        let int = || {
            text.parse::<u64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())
        };
        match name.to_ascii_lowercase().as_str() {
            "port" => self.port = int()? as u16,
            "bind" => self.bind = text.clone(),
            "databases" => self.databases = int()? as usize,
            "hz" => self.hz = int()? as u32,
            "timeout" => self.timeout_secs = int()?,
            other => {
                self.other.insert(other.to_string(), text);
            }
        }
        Ok(())
    }

    /// Applies a redis.conf text (one `name value...` directive per line, `#` comments).
    pub fn load_conf(&mut self, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut args = Vec::new();
            if !crate::resp::split_args(line.as_bytes(), &mut args) || args.len() < 2 {
                return Err(format!(
                    "line {}: Bad directive or wrong number of arguments",
                    i + 1
                ));
            }
            let name = String::from_utf8_lossy(&args[0]).into_owned();
            let value = args[1..].join(&b' ');
            self.set(&name, &value)
                .map_err(|e| format!("line {}: {e}", i + 1))?;
        }
        Ok(())
    }
}
