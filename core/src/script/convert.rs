//! Redis <-> Lua conversions, as script_lua.c's redisProtocolToLuaType (a command's reply
//! inside a script) and luaReplyToRedisReply (a script's return value), and the final error
//! text of a failed script (luaCallFunction).

use super::vm::{LuaStack, LuaType};
use crate::resp::Reply;

/// C's addReplyErrorFormat/sdsmapchars: CR and LF become spaces.
fn no_newlines(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// Pushes `r` (a command's reply, in the script's protocol) as Lua values.
pub(crate) fn reply_to_lua(st: &mut dyn LuaStack, r: &Reply, resp3: bool) {
    st.check_stack(4);
    match r {
        Reply::Int(n) => st.push_number(*n as f64),
        Reply::Bulk(b) => st.push_bytes(b),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                st.push_nil()
            } else {
                st.push_boolean(false)
            }
        }
        Reply::Simple(s) => field_table(st, b"ok", |st| st.push_bytes(s)),
        Reply::Error(e) => {
            field_table(st, b"err", |st| st.push_bytes(e));
            // Redis's redisProtocolToLuaType_Error: the command counted this error already,
            // so a script that returns it does not count it again (INFO errorstats).
            st.push_boolean(true);
            st.raw_set_field(-2, b"ignore_error_stats_update");
        }
        Reply::Array(items) | Reply::Push(items) => {
            // lua_newtable, not presized, as Redis: the table's layout decides what `#` says of
            // an array with holes (RESP3 nulls are nil), and the order of pairs().
            st.new_table(0, 0);
            for (i, it) in items.iter().enumerate() {
                reply_to_lua(st, it, resp3);
                st.raw_set_i(-2, i as i32 + 1);
            }
        }
        Reply::Map(pairs) => field_table(st, b"map", |st| {
            st.new_table(0, 0);
            for (k, v) in pairs {
                reply_to_lua(st, k, resp3);
                reply_to_lua(st, v, resp3);
                st.raw_set(-3);
            }
        }),
        Reply::Set(items) => field_table(st, b"set", |st| {
            st.new_table(0, 0);
            for it in items {
                reply_to_lua(st, it, resp3);
                st.push_boolean(true);
                st.raw_set(-3);
            }
        }),
        Reply::Bool(b) => st.push_boolean(*b),
        Reply::Double(d) => field_table(st, b"double", |st| st.push_number(*d)),
        Reply::BigNumber(n) => field_table(st, b"big_number", |st| st.push_bytes(n)),
        Reply::Verbatim(f, s) => field_table(st, b"verbatim_string", |st| {
            st.new_table(0, 2);
            st.push_bytes(f.as_bytes());
            st.raw_set_field(-2, b"format");
            st.push_bytes(s);
            st.raw_set_field(-2, b"string");
        }),
    }
}

/// `{name = <value pushed by f>}`.
fn field_table(st: &mut dyn LuaStack, name: &[u8], f: impl FnOnce(&mut dyn LuaStack)) {
    st.new_table(0, 1);
    f(st);
    st.raw_set_field(-2, name);
}

/// The string at `t[name]`, if it is one (without metamethods, without converting numbers).
fn string_field(st: &mut dyn LuaStack, name: &[u8]) -> Option<Vec<u8>> {
    st.raw_get_field(-1, name);
    let v =
        (st.type_of(-1) == LuaType::String).then(|| st.to_bytes(-1).unwrap_or_default().to_vec());
    st.pop(1);
    v
}

/// The script's return value on top of the stack as a reply (luaReplyToRedisReply).
/// `script_resp3` is the script's protocol (redis.setresp), which decides booleans.
/// Whether the value at the top is an error table from a command's reply (marked by
/// `reply_to_lua`): returned or raised by the script, it is not counted a second time.
pub(crate) fn ignores_error_stats(st: &mut dyn LuaStack) -> bool {
    if st.type_of(-1) != LuaType::Table {
        return false;
    }
    st.raw_get_field(-1, b"ignore_error_stats_update");
    let yes = st.type_of(-1) == LuaType::Boolean && st.to_boolean(-1);
    st.pop(1);
    yes
}

pub(crate) fn lua_to_reply(st: &mut dyn LuaStack, script_resp3: bool) -> Reply {
    to_reply(st, script_resp3, 0)
}

/// How deep a script's return value is walked. Redis recurses until its Lua stack is full
/// (about 8000 nested tables) and puts `ERR reached lua stack limit` in place of what is
/// deeper; here the same error comes at this depth, which keeps the recursion (this one, the
/// reply's writer, its drop) well inside the host's stack: 8000 levels overflowed the native
/// server's 8 MB main stack in a debug build, and the wasm build has 1 MB. (cjson's MAX_DEPTH
/// is the same bound.)
const MAX_REPLY_DEPTH: usize = 1000;

fn to_reply(st: &mut dyn LuaStack, script_resp3: bool, depth: usize) -> Reply {
    if depth >= MAX_REPLY_DEPTH || !st.check_stack(4) {
        return Reply::Error(b"ERR reached lua stack limit".to_vec());
    }
    match st.type_of(-1) {
        LuaType::String => Reply::Bulk(st.to_bytes(-1).unwrap_or_default().to_vec()),
        LuaType::Boolean => {
            let b = st.to_boolean(-1);
            if script_resp3 {
                Reply::Bool(b)
            } else if b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        // Redis's `(long long)` cast: on x86-64 an out-of-range number (2^64, inf) or NaN
        // becomes i64::MIN, where Rust's `as` would saturate.
        LuaType::Number => Reply::Int(super::lib::f64_to_i64(st.to_number(-1))),
        LuaType::Table => {
            if let Some(e) = string_field(st, b"err") {
                return Reply::Error(no_newlines(&e));
            }
            if let Some(s) = string_field(st, b"ok") {
                return Reply::Simple(no_newlines(&s));
            }
            st.raw_get_field(-1, b"double");
            if st.type_of(-1) == LuaType::Number {
                let d = st.to_number(-1);
                st.pop(1);
                return Reply::Double(d);
            }
            st.pop(1);
            if let Some(s) = string_field(st, b"big_number") {
                return Reply::BigNumber(no_newlines(&s));
            }
            st.raw_get_field(-1, b"verbatim_string");
            if st.type_of(-1) == LuaType::Table {
                let format = string_field(st, b"format");
                let text = string_field(st, b"string");
                if let (Some(f), Some(t)) = (format, text) {
                    st.pop(1);
                    // Reply's formats are static: Redis's two (any other is sent as txt).
                    let f = if f.starts_with(b"mkd") { "mkd" } else { "txt" };
                    return Reply::Verbatim(f, t);
                }
            }
            st.pop(1);
            st.raw_get_field(-1, b"map");
            if st.type_of(-1) == LuaType::Table {
                let mut pairs = Vec::new();
                st.push_nil();
                while st.next(-2) {
                    // key at -2, value at -1: convert the value, then a copy of the key.
                    let v = to_reply(st, script_resp3, depth + 1);
                    st.push_value(-2);
                    let k = to_reply(st, script_resp3, depth + 1);
                    st.pop(2);
                    pairs.push((k, v));
                }
                st.pop(1);
                return Reply::Map(pairs);
            }
            st.pop(1);
            st.raw_get_field(-1, b"set");
            if st.type_of(-1) == LuaType::Table {
                let mut items = Vec::new();
                st.push_nil();
                while st.next(-2) {
                    st.pop(1);
                    st.push_value(-1);
                    items.push(to_reply(st, script_resp3, depth + 1));
                    st.pop(1);
                }
                st.pop(1);
                return Reply::Set(items);
            }
            st.pop(1);
            let mut items = Vec::new();
            let mut j = 1;
            loop {
                st.raw_get_i(-1, j);
                if st.type_of(-1) == LuaType::Nil {
                    st.pop(1);
                    break;
                }
                items.push(to_reply(st, script_resp3, depth + 1));
                st.pop(1);
                j += 1;
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// The error reply of a failed script (luaCallFunction), without the leading '-': the error
/// table's `err`, then ` script: <sha>, on <source>:<line>.` when it says where.
pub(crate) fn error_text(st: &mut dyn LuaStack, sha: &[u8]) -> Vec<u8> {
    if st.type_of(-1) != LuaType::Table {
        let msg = match st.type_of(-1) {
            LuaType::String | LuaType::Number => st.to_bytes(-1).unwrap_or_default().to_vec(),
            _ => b"execution failure".to_vec(),
        };
        let mut m = b"ERR Error running script ".to_vec();
        m.extend_from_slice(sha);
        m.extend_from_slice(b", ");
        m.extend_from_slice(&msg[..msg.len().min(100)]);
        return no_newlines(&m);
    }
    // luaExtractErrorInformation: `err` is taken when lua_isstring, so a number too.
    st.raw_get_field(-1, b"err");
    let err = match st.type_of(-1) {
        LuaType::String | LuaType::Number => st.to_bytes(-1).unwrap_or_default().to_vec(),
        _ => Vec::new(),
    };
    st.pop(1);
    let source = string_field(st, b"source");
    st.raw_get_field(-1, b"line");
    let line = (st.type_of(-1) == LuaType::Number).then(|| st.to_number(-1) as i64);
    st.pop(1);
    let mut m = err;
    if let (Some(src), Some(line)) = (source, line) {
        m.extend_from_slice(b" script: ");
        m.extend_from_slice(sha);
        m.extend_from_slice(b", on ");
        m.extend_from_slice(&src);
        m.push(b':');
        m.extend_from_slice(line.to_string().as_bytes());
        m.push(b'.');
    }
    no_newlines(&m)
}
