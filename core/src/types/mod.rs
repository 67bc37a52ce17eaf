//! Data structures only: the values keys hold (`Value` and one file per type) and `Dict`, the
//! incrementally rehashing hash table under both the collections and the keyspace. No RESP,
//! no command semantics, no keyspace: only the leaf modules (cnum, rng) are used here.

pub mod bytes;
pub mod dict;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod key;
pub mod list;
pub mod listpack;
pub mod longdouble;
pub mod set;
pub mod stream;
pub mod zset;

pub use bytes::CompactBytes;
pub use dict::Dict;
pub use hash::Hash;
pub use key::Key;
pub use list::List;
pub use set::Set;
pub use stream::Stream;
pub use zset::ZSet;

/// A collection type a key can hold, as found inside a `Value`: what Redis's checkType
/// checks. `Db::read` / `Db::write` look a key up and check its type in one step with it.
pub trait Kind: Sized {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! kind {
    ($t:ident) => {
        impl Kind for $t {
            #[inline]
            fn of(v: &Value) -> Option<&$t> {
                match v {
                    Value::$t(x) => Some(x),
                    _ => None,
                }
            }

            #[inline]
            fn of_mut(v: &mut Value) -> Option<&mut $t> {
                match v {
                    Value::$t(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}

kind!(List);
kind!(Hash);
kind!(Set);
kind!(ZSet);
kind!(Stream);

/// What a key holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, kept as Redis's "int" encoding when it is a canonical i64 (INCR works in place).
    Int(i64),
    Str(CompactBytes),
    // Collections are boxed so a `Value` stays 24 bytes (memory per key is a headline figure).
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

/// objectComputeSize's sampling: the average of the first `samples` sizes (0: all of them)
/// times `len`.
pub(crate) fn extrapolate(sizes: impl Iterator<Item = usize>, samples: usize, len: usize) -> usize {
    let samples = if samples == 0 { usize::MAX } else { samples };
    let (mut sum, mut n) = (0usize, 0usize);
    for s in sizes.take(samples) {
        sum += s;
        n += 1;
    }
    sum.checked_div(n).map_or(0, |avg| avg * len)
}

impl Value {
    /// MEMORY USAGE's value part: the value's own bytes and the heap it owns, with nested
    /// elements sampled `samples` at a time (0: all).
    pub fn memory_usage(&self, samples: usize) -> usize {
        let own = std::mem::size_of::<Value>();
        own + match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of_val(&**l) + l.heap_size(),
            Value::Hash(h) => std::mem::size_of_val(&**h) + h.memory_usage(samples),
            Value::Set(s) => std::mem::size_of_val(&**s) + s.memory_usage(samples),
            Value::ZSet(z) => std::mem::size_of_val(&**z) + z.memory_usage(samples),
            Value::Stream(s) => std::mem::size_of_val(&**s) + s.allocated(),
        }
    }

    /// A string value from bytes, int-encoded when Redis would (canonical decimal within i64).
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(n) = crate::cnum::parse_i64(b) {
                return Value::Int(n);
            }
        }
        Value::Str(CompactBytes::new(b))
    }

    pub fn string_from_vec(v: Vec<u8>) -> Value {
        if v.len() <= 20 {
            if let Some(n) = crate::cnum::parse_i64(&v) {
                return Value::Int(n);
            }
        }
        Value::Str(CompactBytes::from_vec(v))
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_))
    }

    /// The string's bytes (an int-encoded value is formatted into `buf`); None for other types.
    pub fn string_bytes<'a>(&'a self, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            Value::Int(n) => Some(buf.format(*n).as_bytes()),
            Value::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            // Strings the bit commands wrote are raw, as in Redis. Redis's embstr limit;
            // APPEND/SETRANGE results are "raw" in Redis even when short (not tracked here).
            Value::Str(s) if s.is_raw() => "raw",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}
