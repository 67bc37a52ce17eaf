//! Data structures only: the values keys hold. No RESP and no command semantics here.

pub mod bytes;
pub mod longdouble;

pub use bytes::CompactBytes;

/// What a key holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, kept as Redis's "int" encoding when it is a canonical i64 (INCR works in place).
    Int(i64),
    Str(CompactBytes),
}

impl Value {
    /// A string value from bytes, int-encoded when Redis would (canonical decimal within i64).
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(n) = crate::resp::parse_i64(b) {
                return Value::Int(n);
            }
        }
        Value::Str(CompactBytes::new(b))
    }

    pub fn string_from_vec(v: Vec<u8>) -> Value {
        if v.len() <= 20 {
            if let Some(n) = crate::resp::parse_i64(&v) {
                return Value::Int(n);
            }
        }
        Value::Str(CompactBytes::from_vec(v))
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
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
        }
    }

    /// How many elements the value has, for lazy-free decisions (strings count as one).
    pub fn element_count(&self) -> usize {
        1
    }
}
