//! The `cmsgpack` global: a port onto [`LuaStack`] of lua-cmsgpack 0.4.0 as Redis 7.0 bundles
//! it (deps/lua/src/lua_cmsgpack.c): pack, unpack, unpack_one, unpack_limit.
//!
//! lua-cmsgpack is Copyright (C) 2012 Salvatore Sanfilippo, MIT licence: Permission is hereby
//! granted, free of charge, to any person obtaining a copy of this software and associated
//! documentation files, to deal in the Software without restriction, subject to this notice
//! being included in all copies or substantial portions. THE SOFTWARE IS PROVIDED "AS IS",
//! WITHOUT WARRANTY OF ANY KIND. This file is a rewrite in Rust, not a copy.

use crate::script::vm::{ApiFn, ApiResult, LuaStack, LuaType};

const PACK: ApiFn = ApiFn(220);
const UNPACK: ApiFn = ApiFn(221);
const UNPACK_ONE: ApiFn = ApiFn(222);
const UNPACK_LIMIT: ApiFn = ApiFn(223);

/// Tables nested deeper than this are packed as nil (LUACMSGPACK_MAX_NESTING).
const MAX_NESTING: i32 = 16;

/// Whether `f` is one of this library's functions.
pub(crate) fn owns(f: ApiFn) -> bool {
    (220..=223).contains(&f.0)
}

/// Builds the module table (luaopen_create) and leaves it on the stack.
pub(crate) fn push_module(st: &mut dyn LuaStack) {
    st.new_table(0, 0);
    for (name, f) in [
        (&b"pack"[..], PACK),
        (b"unpack", UNPACK),
        (b"unpack_one", UNPACK_ONE),
        (b"unpack_limit", UNPACK_LIMIT),
    ] {
        st.push_api_fn(f, 0);
        st.raw_set_field(-2, name);
    }
    for (name, v) in [
        (&b"_NAME"[..], &b"cmsgpack"[..]),
        (b"_VERSION", b"lua-cmsgpack 0.4.0"),
        (b"_COPYRIGHT", b"Copyright (C) 2012, Salvatore Sanfilippo"),
        (b"_DESCRIPTION", b"MessagePack C implementation for Lua"),
    ] {
        st.push_bytes(v);
        st.raw_set_field(-2, name);
    }
}

use super::error as raise;

/// luaL_argerror.
fn arg_error(st: &mut dyn LuaStack, narg: i32, fname: &str, extra: &str) -> ApiResult {
    super::arg_error(st, narg, fname.as_bytes(), extra.as_bytes())
}

/// Dispatches one of the library's functions.
pub(crate) fn call(f: ApiFn, st: &mut dyn LuaStack) -> ApiResult {
    match f {
        PACK => pack(st),
        UNPACK => unpack_full(st, 0, 0, "unpack"),
        UNPACK_ONE => {
            let offset = match opt_integer(st, 2, "unpack_one") {
                Ok(o) => o,
                Err(r) => return r,
            };
            st.set_top(1.min(st.top()));
            unpack_full(st, 1, offset, "unpack_one")
        }
        _ => {
            let limit = match check_integer(st, 2, "unpack_limit") {
                Ok(o) => o,
                Err(r) => return r,
            };
            let offset = match opt_integer(st, 3, "unpack_limit") {
                Ok(o) => o,
                Err(r) => return r,
            };
            st.set_top(1.min(st.top()));
            unpack_full(st, limit, offset, "unpack_limit")
        }
    }
}

/// luaL_checkinteger.
fn check_integer(st: &mut dyn LuaStack, idx: i32, fname: &str) -> Result<i64, ApiResult> {
    if !st.is_number(idx) {
        let got = st.type_of(idx).name();
        return Err(arg_error(
            st,
            idx,
            fname,
            &format!("number expected, got {got}"),
        ));
    }
    Ok(st.to_number(idx) as i64)
}

/// luaL_optinteger with default 0.
fn opt_integer(st: &mut dyn LuaStack, idx: i32, fname: &str) -> Result<i64, ApiResult> {
    if matches!(st.type_of(idx), LuaType::None | LuaType::Nil) {
        return Ok(0);
    }
    check_integer(st, idx, fname)
}

// ===== Packing =====

/// `(int64_t)x == x` as x86-64 computes it (out-of-range casts give INT64_MIN).
fn int64_equivalent(x: f64) -> bool {
    !x.is_infinite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&x) && {
        (x as i64) as f64 == x
    }
}

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(buf: &mut Vec<u8>, n: usize, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 65535 {
        buf.push(b16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(b32);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_number(buf: &mut Vec<u8>, n: f64) {
    if int64_equivalent(n) {
        encode_int(buf, n as i64);
    } else {
        let f = n as f32;
        if n == f as f64 {
            buf.push(0xca);
            buf.extend_from_slice(&f.to_be_bytes());
        } else {
            buf.push(0xcb);
            buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// table_is_an_array: every key a positive integer (as a C int) and as many as the largest.
fn table_is_an_array(st: &mut dyn LuaStack) -> bool {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    st.check_stack(2);
    st.push_nil();
    while st.next(-2) {
        st.pop(1);
        let n = st.to_number(-1);
        let int_eq = (-2_147_483_648.0..2_147_483_648.0).contains(&n) && (n as i32) as f64 == n;
        if st.type_of(-1) != LuaType::Number || n <= 0.0 || !int_eq {
            st.pop(1);
            return false;
        }
        max = max.max(n as i64);
        count += 1;
    }
    max == count
}

/// mp_encode_lua_type: encodes and pops the value at the top.
fn encode_type(st: &mut dyn LuaStack, buf: &mut Vec<u8>, level: i32) {
    let mut t = st.type_of(-1);
    if t == LuaType::Table && level == MAX_NESTING {
        t = LuaType::Nil;
    }
    match t {
        LuaType::String => {
            let s = st.to_bytes(-1).unwrap_or_default().to_vec();
            encode_bytes(buf, &s);
        }
        LuaType::Boolean => buf.push(if st.to_boolean(-1) { 0xc3 } else { 0xc2 }),
        LuaType::Number => encode_number(buf, st.to_number(-1)),
        LuaType::Table => {
            if table_is_an_array(st) {
                let len = st.obj_len(-1);
                encode_len(buf, len, 0x90, 0xdc, 0xdd);
                st.check_stack(1);
                for j in 1..=len {
                    st.raw_get_i(-1, j as i32);
                    encode_type(st, buf, level + 1);
                }
            } else {
                st.check_stack(3);
                let mut len = 0;
                st.push_nil();
                while st.next(-2) {
                    st.pop(1);
                    len += 1;
                }
                encode_len(buf, len, 0x80, 0xde, 0xdf);
                st.push_nil();
                while st.next(-2) {
                    st.push_value(-2);
                    encode_type(st, buf, level + 1);
                    encode_type(st, buf, level + 1);
                }
            }
        }
        _ => buf.push(0xc0),
    }
    st.pop(1);
}

fn pack(st: &mut dyn LuaStack) -> ApiResult {
    let nargs = st.top();
    if nargs == 0 {
        return arg_error(st, 0, "pack", "MessagePack pack needs input.");
    }
    if !st.check_stack(nargs) {
        return arg_error(st, 0, "pack", "Too many arguments for MessagePack pack.");
    }
    let mut buf = Vec::new();
    for i in 1..=nargs {
        st.check_stack(2);
        st.push_value(i);
        encode_type(st, &mut buf, 0);
    }
    st.push_bytes(&buf);
    ApiResult::Return(1)
}

// ===== Unpacking =====

enum DecErr {
    Eof,
    BadFmt,
    /// A Lua error is on the stack.
    Raised(ApiResult),
}

struct Cur<'a> {
    p: &'a [u8],
}

impl Cur<'_> {
    fn need(&self, n: usize) -> Result<(), DecErr> {
        if self.p.len() < n {
            Err(DecErr::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        self.p[from..from + n]
            .iter()
            .fold(0u64, |a, &b| (a << 8) | b as u64)
    }
}

/// lua_pushunsigned on a 64-bit build: lua_pushinteger of the value as a ptrdiff_t.
fn push_unsigned(st: &mut dyn LuaStack, v: u64) {
    st.push_number(v as i64 as f64);
}

/// A container being filled by [`decode_type`]: the C code recurses, this keeps an explicit
/// stack so that deep input cannot overflow the Rust stack (wasm's is small); the Lua stack
/// operations and checks are the C code's, in its order, so the same input fails the same way.
struct Frame {
    array: bool,
    remaining: usize,
    index: i64,
    have_key: bool,
}

fn stack_overflow(st: &mut dyn LuaStack, what: &str) -> DecErr {
    DecErr::Raised(raise(st, format!("stack overflow ({what})").as_bytes()))
}

/// mp_decode_to_lua_type: decodes one value at the cursor and pushes it.
fn decode_type(st: &mut dyn LuaStack, c: &mut Cur<'_>) -> Result<(), DecErr> {
    let mut frames: Vec<Frame> = Vec::new();
    loop {
        if let Some(f) = frames.last_mut() {
            if f.array {
                // mp_decode_to_lua_array pushes the index before the value.
                st.push_number(f.index as f64);
                f.index += 1;
            }
        }
        c.need(1)?;
        if !st.check_stack(1) {
            return Err(stack_overflow(
                st,
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        // Some((is_array, len)) when a container starts.
        let container = decode_header(st, c)?;
        if let Some((array, len)) = container {
            st.new_table(0, 0);
            if array && !st.check_stack(1) {
                return Err(stack_overflow(st, "in function mp_decode_to_lua_array"));
            }
            if len > 0 {
                frames.push(Frame {
                    array,
                    remaining: len,
                    index: 1,
                    have_key: false,
                });
                continue;
            }
        }
        // A complete value is on top: store it into its parents, closing the full ones.
        loop {
            let Some(f) = frames.last_mut() else {
                return Ok(());
            };
            if !f.array && !f.have_key {
                f.have_key = true;
                break;
            }
            if !f.array {
                // lua_settable raises on a nil or NaN key (luaG_runerror: no position in C).
                match st.type_of(-2) {
                    LuaType::Nil => {
                        st.push_bytes(b"table index is nil");
                        return Err(DecErr::Raised(ApiResult::Raise));
                    }
                    LuaType::Number if st.to_number(-2).is_nan() => {
                        st.push_bytes(b"table index is NaN");
                        return Err(DecErr::Raised(ApiResult::Raise));
                    }
                    _ => {}
                }
                f.have_key = false;
            }
            st.raw_set(-3);
            f.remaining -= 1;
            if f.remaining > 0 {
                break;
            }
            frames.pop();
        }
    }
}

/// Decodes a scalar (pushed) or a container header (returned, not pushed) at the cursor.
fn decode_header(st: &mut dyn LuaStack, c: &mut Cur<'_>) -> Result<Option<(bool, usize)>, DecErr> {
    let b0 = c.p[0];
    let consume = |c: &mut Cur<'_>, n: usize| c.p = &c.p[n..];
    match b0 {
        0xcc => {
            c.need(2)?;
            push_unsigned(st, c.p[1] as u64);
            consume(c, 2);
        }
        0xd0 => {
            c.need(2)?;
            st.push_number(c.p[1] as i8 as f64);
            consume(c, 2);
        }
        0xcd => {
            c.need(3)?;
            push_unsigned(st, c.be(1, 2));
            consume(c, 3);
        }
        0xd1 => {
            c.need(3)?;
            st.push_number(c.be(1, 2) as u16 as i16 as f64);
            consume(c, 3);
        }
        0xce => {
            c.need(5)?;
            push_unsigned(st, c.be(1, 4));
            consume(c, 5);
        }
        0xd2 => {
            c.need(5)?;
            st.push_number(c.be(1, 4) as u32 as i32 as f64);
            consume(c, 5);
        }
        0xcf => {
            c.need(9)?;
            push_unsigned(st, c.be(1, 8));
            consume(c, 9);
        }
        0xd3 => {
            c.need(9)?;
            st.push_number(c.be(1, 8) as i64 as f64);
            consume(c, 9);
        }
        0xc0 => {
            st.push_nil();
            consume(c, 1);
        }
        0xc3 => {
            st.push_boolean(true);
            consume(c, 1);
        }
        0xc2 => {
            st.push_boolean(false);
            consume(c, 1);
        }
        0xca => {
            c.need(5)?;
            st.push_number(f32::from_bits(c.be(1, 4) as u32) as f64);
            consume(c, 5);
        }
        0xcb => {
            c.need(9)?;
            st.push_number(f64::from_bits(c.be(1, 8)));
            consume(c, 9);
        }
        0xd9..=0xdb => {
            let hl = match b0 {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + hl)?;
            let l = c.be(1, hl) as usize;
            consume(c, 1 + hl);
            c.need(l)?;
            st.push_bytes(&c.p[..l]);
            consume(c, l);
        }
        0xdc..=0xdf => {
            let hl = if b0 == 0xdc || b0 == 0xde { 2 } else { 4 };
            c.need(1 + hl)?;
            let l = c.be(1, hl) as usize;
            consume(c, 1 + hl);
            return Ok(Some((b0 <= 0xdd, l)));
        }
        _ if b0 & 0x80 == 0 => {
            push_unsigned(st, b0 as u64);
            consume(c, 1);
        }
        _ if b0 & 0xe0 == 0xe0 => {
            st.push_number(b0 as i8 as f64);
            consume(c, 1);
        }
        _ if b0 & 0xe0 == 0xa0 => {
            let l = (b0 & 0x1f) as usize;
            c.need(1 + l)?;
            st.push_bytes(&c.p[1..1 + l]);
            consume(c, 1 + l);
        }
        _ if b0 & 0xf0 == 0x90 => {
            consume(c, 1);
            return Ok(Some((true, (b0 & 0xf) as usize)));
        }
        _ if b0 & 0xf0 == 0x80 => {
            consume(c, 1);
            return Ok(Some((false, (b0 & 0xf) as usize)));
        }
        _ => return Err(DecErr::BadFmt),
    }
    Ok(None)
}

fn unpack_full(st: &mut dyn LuaStack, limit: i64, offset: i64, fname: &str) -> ApiResult {
    let decode_all = limit == 0 && offset == 0;
    let Some(s) = st.to_bytes(1).map(<[u8]>::to_vec) else {
        let got = st.type_of(1).name();
        return arg_error(st, 1, fname, &format!("string expected, got {got}"));
    };
    let len = s.len();
    if offset < 0 || limit < 0 {
        // Redis's text prints the input length where it says "limit".
        let msg = format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        );
        return raise(st, msg.as_bytes());
    } else if offset as u64 > len as u64 {
        let msg = format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        );
        return raise(st, msg.as_bytes());
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cur {
        p: &s[offset as usize..],
    };
    let mut cnt: i64 = 0;
    while !c.p.is_empty() && cnt < limit {
        match decode_type(st, &mut c) {
            Ok(()) => {}
            Err(DecErr::Eof) => return raise(st, b"Missing bytes in input."),
            Err(DecErr::BadFmt) => return raise(st, b"Bad data format in input."),
            Err(DecErr::Raised(r)) => return r,
        }
        cnt += 1;
    }
    if !decode_all {
        let left = c.p.len();
        st.check_stack(1);
        st.push_number(if left == 0 { -1.0 } else { (len - left) as f64 });
        st.insert(2);
        cnt += 1;
    }
    ApiResult::Return(cnt as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_pack_by_size_class() {
        let enc = |n: f64| {
            let mut b = Vec::new();
            encode_number(&mut b, n);
            b
        };
        assert_eq!(enc(1.0), [0x01]);
        assert_eq!(enc(-1.0), [0xff]);
        assert_eq!(enc(200.0), [0xcc, 200]);
        assert_eq!(enc(-200.0), [0xd1, 0xff, 0x38]);
        assert_eq!(enc(1.5), [0xca, 0x3f, 0xc0, 0, 0]);
        assert_eq!(enc(0.1)[0], 0xcb);
        assert_eq!(enc(9.223_372_036_854_776e18)[0], 0xca);
    }
}
