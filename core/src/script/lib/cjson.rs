//! The `cjson` global: a port onto [`LuaStack`] of lua-cjson 2.1.0 as Redis 7.0 bundles it
//! (deps/lua/src/lua_cjson.c, with fpconv.c's `%.14g` numbers and strtod parsing).
//!
//! lua-cjson is Copyright (c) 2010-2012 Mark Pulford <mark@kyne.com.au>, MIT licence:
//! Permission is hereby granted, free of charge, to any person obtaining a copy of this
//! software and associated documentation files, to deal in the Software without restriction,
//! subject to this notice being included in all copies or substantial portions. THE SOFTWARE IS
//! PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND. This file is a rewrite in Rust, not a copy.
//!
//! Each module table (`cjson` and every `cjson.new()`) has its own configuration, held as a
//! plain Lua table in upvalue 1 of its functions (the C code keeps a userdata there): it is not
//! reachable from `_G`, so the readonly sandbox leaves it writable, and it lives as long as the
//! Lua state (SCRIPT FLUSH resets it), as in Redis.

use crate::script::vm::{ApiFn, ApiResult, LuaStack, LuaType};

const ENCODE: ApiFn = ApiFn(200);
const DECODE: ApiFn = ApiFn(201);
const ENCODE_SPARSE_ARRAY: ApiFn = ApiFn(202);
const ENCODE_MAX_DEPTH: ApiFn = ApiFn(203);
const DECODE_MAX_DEPTH: ApiFn = ApiFn(204);
const ENCODE_NUMBER_PRECISION: ApiFn = ApiFn(205);
const ENCODE_KEEP_BUFFER: ApiFn = ApiFn(206);
const ENCODE_INVALID_NUMBERS: ApiFn = ApiFn(207);
const DECODE_INVALID_NUMBERS: ApiFn = ApiFn(208);
const NEW: ApiFn = ApiFn(209);

/// Whether `f` is one of this library's functions.
pub(crate) fn owns(f: ApiFn) -> bool {
    (200..=209).contains(&f.0)
}

// Slots of the configuration table (json_config_t's fields).
const SPARSE_CONVERT: i32 = 1;
const SPARSE_RATIO: i32 = 2;
const SPARSE_SAFE: i32 = 3;
const ENC_MAX_DEPTH: i32 = 4;
const DEC_MAX_DEPTH: i32 = 5;
const ENC_INVALID: i32 = 6;
const DEC_INVALID: i32 = 7;
const KEEP_BUFFER: i32 = 8;
const PRECISION: i32 = 9;
/// The deepest nesting this port walks whatever `encode_max_depth`/`decode_max_depth` say:
/// the C code recurses until the Lua stack is full (about 8000 levels), which would overflow
/// a Rust stack (a test thread's 2 MB, wasm's 1 MB). Past it the same "too deep" errors are
/// raised at this depth; only a script that raises a limit above the default sees the
/// difference.
const MAX_DEPTH: i64 = 1000;
/// json_create_config's defaults (DEFAULT_*), in slot order.
const DEFAULTS: [i64; 9] = [0, 2, 10, 1000, 1000, 0, 1, 1, 14];

#[derive(Clone, Copy)]
struct Cfg {
    sparse_convert: i64,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    encode_invalid: i64,
    decode_invalid: i64,
    precision: i64,
}

fn fetch_cfg(st: &mut dyn LuaStack) -> Cfg {
    let up = st.upvalue_index(1);
    let mut v = [0i64; 9];
    for (i, slot) in v.iter_mut().enumerate() {
        st.raw_get_i(up, i as i32 + 1);
        *slot = if st.type_of(-1) == LuaType::Number {
            st.to_number(-1) as i64
        } else {
            DEFAULTS[i]
        };
        st.pop(1);
    }
    Cfg {
        sparse_convert: v[0],
        sparse_ratio: v[1],
        sparse_safe: v[2],
        encode_max_depth: v[3],
        decode_max_depth: v[4],
        encode_invalid: v[5],
        decode_invalid: v[6],
        precision: v[8],
    }
}

fn get_slot(st: &mut dyn LuaStack, slot: i32) -> i64 {
    let up = st.upvalue_index(1);
    st.raw_get_i(up, slot);
    let v = if st.type_of(-1) == LuaType::Number {
        st.to_number(-1) as i64
    } else {
        DEFAULTS[slot as usize - 1]
    };
    st.pop(1);
    v
}

fn set_slot(st: &mut dyn LuaStack, slot: i32, v: i64) {
    let up = st.upvalue_index(1);
    st.push_number(v as f64);
    st.raw_set_i(up, slot);
}

/// Builds a module table (lua_cjson_new) and leaves it on the stack.
pub(crate) fn push_module(st: &mut dyn LuaStack) {
    st.check_stack(4);
    st.new_table(0, 0);
    st.new_table(0, 0); // the configuration (upvalue 1)
    for (i, d) in DEFAULTS.iter().enumerate() {
        st.push_number(*d as f64);
        st.raw_set_i(-2, i as i32 + 1);
    }
    for (name, f) in [
        (&b"encode"[..], ENCODE),
        (b"decode", DECODE),
        (b"encode_sparse_array", ENCODE_SPARSE_ARRAY),
        (b"encode_max_depth", ENCODE_MAX_DEPTH),
        (b"decode_max_depth", DECODE_MAX_DEPTH),
        (b"encode_number_precision", ENCODE_NUMBER_PRECISION),
        (b"encode_keep_buffer", ENCODE_KEEP_BUFFER),
        (b"encode_invalid_numbers", ENCODE_INVALID_NUMBERS),
        (b"decode_invalid_numbers", DECODE_INVALID_NUMBERS),
        (b"new", NEW),
    ] {
        st.push_value(-1);
        st.push_api_fn(f, 1);
        st.raw_set_field(-3, name);
    }
    st.pop(1);
    st.push_light_userdata_null();
    st.raw_set_field(-2, b"null");
    st.push_bytes(b"cjson");
    st.raw_set_field(-2, b"_NAME");
    st.push_bytes(b"2.1.0");
    st.raw_set_field(-2, b"_VERSION");
}

use super::error as raise;

/// luaL_argerror (the function's name as `cjson.<name>(...)` calls report it).
fn arg_error(st: &mut dyn LuaStack, narg: i32, fname: &str, extra: &str) -> ApiResult {
    super::arg_error(st, narg, fname.as_bytes(), extra.as_bytes())
}

fn type_error(st: &mut dyn LuaStack, narg: i32, fname: &str, expected: &str) -> ApiResult {
    let got = st.type_of(narg).name();
    arg_error(st, narg, fname, &format!("{expected} expected, got {got}"))
}

/// Dispatches one of the library's functions.
pub(crate) fn call(f: ApiFn, st: &mut dyn LuaStack) -> ApiResult {
    match f {
        ENCODE => encode(st),
        DECODE => decode(st),
        ENCODE_SPARSE_ARRAY => {
            if let Some(r) = arg_init(st, 3, "encode_sparse_array") {
                return r;
            }
            if let Err(r) = enum_option(st, 1, SPARSE_CONVERT, None, "encode_sparse_array") {
                return r;
            }
            for (i, slot) in [(2, SPARSE_RATIO), (3, SPARSE_SAFE)] {
                if let Err(r) = int_option(st, i, slot, 0, i32::MAX as i64, "encode_sparse_array") {
                    return r;
                }
            }
            ApiResult::Return(3)
        }
        ENCODE_MAX_DEPTH => int_cfg(st, ENC_MAX_DEPTH, 1, i32::MAX as i64, "encode_max_depth"),
        DECODE_MAX_DEPTH => int_cfg(st, DEC_MAX_DEPTH, 1, i32::MAX as i64, "decode_max_depth"),
        ENCODE_NUMBER_PRECISION => int_cfg(st, PRECISION, 1, 14, "encode_number_precision"),
        ENCODE_KEEP_BUFFER => enum_cfg(st, KEEP_BUFFER, None, "encode_keep_buffer"),
        ENCODE_INVALID_NUMBERS => enum_cfg(
            st,
            ENC_INVALID,
            Some(&["off", "on", "null"]),
            "encode_invalid_numbers",
        ),
        DECODE_INVALID_NUMBERS => enum_cfg(st, DEC_INVALID, None, "decode_invalid_numbers"),
        _ => {
            push_module(st);
            ApiResult::Return(1)
        }
    }
}

/// json_arg_init: at most `args` arguments, padded with nils.
fn arg_init(st: &mut dyn LuaStack, args: i32, fname: &str) -> Option<ApiResult> {
    if st.top() > args {
        return Some(arg_error(st, args + 1, fname, "found too many arguments"));
    }
    st.check_stack(args + 3);
    while st.top() < args {
        st.push_nil();
    }
    None
}

fn int_cfg(st: &mut dyn LuaStack, slot: i32, min: i64, max: i64, fname: &str) -> ApiResult {
    if let Some(r) = arg_init(st, 1, fname) {
        return r;
    }
    match int_option(st, 1, slot, min, max, fname) {
        Ok(()) => ApiResult::Return(1),
        Err(r) => r,
    }
}

fn enum_cfg(st: &mut dyn LuaStack, slot: i32, options: Option<&[&str]>, fname: &str) -> ApiResult {
    if let Some(r) = arg_init(st, 1, fname) {
        return r;
    }
    match enum_option(st, 1, slot, options, fname) {
        Ok(()) => ApiResult::Return(1),
        Err(r) => r,
    }
}

/// json_integer_option: sets the slot from a non-nil argument, pushes the setting.
fn int_option(
    st: &mut dyn LuaStack,
    idx: i32,
    slot: i32,
    min: i64,
    max: i64,
    fname: &str,
) -> Result<(), ApiResult> {
    if st.type_of(idx) != LuaType::Nil {
        if !st.is_number(idx) {
            return Err(type_error(st, idx, fname, "number"));
        }
        // luaL_checkinteger: lua_Integer (truncated), then stored in a C int.
        let value = st.to_number(idx) as i64 as i32 as i64;
        if !(min <= value && value <= max) {
            return Err(arg_error(
                st,
                1,
                fname,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        set_slot(st, slot, value);
    }
    let v = get_slot(st, slot);
    st.push_number(v as f64);
    Ok(())
}

/// json_enum_option: booleans, or one of `options` ("off"/"on" by default); pushes the setting
/// as a boolean when it is 0 or 1, else as its option name.
fn enum_option(
    st: &mut dyn LuaStack,
    idx: i32,
    slot: i32,
    options: Option<&[&str]>,
    fname: &str,
) -> Result<(), ApiResult> {
    let options = options.unwrap_or(&["off", "on"]);
    if st.type_of(idx) != LuaType::Nil {
        let v = if st.type_of(idx) == LuaType::Boolean {
            st.to_boolean(idx) as i64
        } else {
            // luaL_checkoption with no default.
            let Some(s) = st.to_bytes(idx).map(<[u8]>::to_vec) else {
                return Err(type_error(st, idx, fname, "string"));
            };
            match options.iter().position(|o| o.as_bytes() == s) {
                Some(i) => i as i64,
                None => {
                    let msg = format!("invalid option '{}'", String::from_utf8_lossy(&s));
                    return Err(arg_error(st, idx, fname, &msg));
                }
            }
        };
        set_slot(st, slot, v);
    }
    let v = get_slot(st, slot);
    if v == 0 || v == 1 {
        st.push_boolean(v == 1);
    } else {
        st.push_bytes(options[v as usize].as_bytes());
    }
    Ok(())
}

// ===== Encoding =====

fn escape(c: u8) -> Option<&'static [u8]> {
    Some(match c {
        b'\x08' => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        b'\x0c' => b"\\f",
        b'\r' => b"\\r",
        b'"' => b"\\\"",
        b'/' => b"\\/",
        b'\\' => b"\\\\",
        _ => return None,
    })
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        if let Some(e) = escape(c) {
            out.extend_from_slice(e);
        } else if c < 0x20 || c == 0x7f {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out.push(b'"');
}

/// "Cannot serialise <type>: <reason>" for the value at `idx`.
fn encode_exception(st: &mut dyn LuaStack, idx: i32, reason: &str) -> ApiResult {
    let msg = format!("Cannot serialise {}: {reason}", st.type_of(idx).name());
    raise(st, msg.as_bytes())
}

fn append_number(
    st: &mut dyn LuaStack,
    cfg: &Cfg,
    out: &mut Vec<u8>,
    idx: i32,
) -> Result<(), ApiResult> {
    let num = st.to_number(idx);
    match cfg.encode_invalid {
        0 => {
            if !num.is_finite() {
                return Err(encode_exception(st, idx, "must not be NaN or Inf"));
            }
        }
        1 => {
            if num.is_nan() {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if !num.is_finite() {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    let s = crate::resp::format_double_g(num, cfg.precision.clamp(1, 14) as usize);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// lua_array_length on the table at the top: Some(max index) for an array, None for an object.
fn array_length(st: &mut dyn LuaStack, cfg: &Cfg) -> Result<Option<i64>, ApiResult> {
    let mut max: i64 = 0;
    let mut items: i64 = 0;
    st.push_nil();
    while st.next(-2) {
        if st.type_of(-2) == LuaType::Number {
            let k = st.to_number(-2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                // The C code keeps the maximum in an int.
                let ki = if k > i32::MAX as f64 {
                    i32::MIN as i64
                } else {
                    k as i64
                };
                if ki > max {
                    max = ki;
                }
                items += 1;
                st.pop(1);
                continue;
            }
        }
        st.pop(2);
        return Ok(None);
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            return Err(encode_exception(st, -1, "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn append_data(
    st: &mut dyn LuaStack,
    cfg: &Cfg,
    depth: i64,
    out: &mut Vec<u8>,
) -> Result<(), ApiResult> {
    match st.type_of(-1) {
        LuaType::String => {
            let s = st.to_bytes(-1).unwrap_or_default().to_vec();
            append_string(out, &s);
        }
        LuaType::Number => append_number(st, cfg, out, -1)?,
        LuaType::Boolean => {
            if st.to_boolean(-1) {
                out.extend_from_slice(b"true");
            } else {
                out.extend_from_slice(b"false");
            }
        }
        LuaType::Table => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth.min(MAX_DEPTH) || !st.check_stack(3) {
                let msg = format!("Cannot serialise, excessive nesting ({depth})");
                return Err(raise(st, msg.as_bytes()));
            }
            match array_length(st, cfg)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        st.raw_get_i(-1, i as i32);
                        append_data(st, cfg, depth, out)?;
                        st.pop(1);
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut comma = false;
                    st.push_nil();
                    while st.next(-2) {
                        if comma {
                            out.push(b',');
                        }
                        comma = true;
                        match st.type_of(-2) {
                            LuaType::Number => {
                                out.push(b'"');
                                append_number(st, cfg, out, -2)?;
                                out.extend_from_slice(b"\":");
                            }
                            LuaType::String => {
                                let s = st.to_bytes(-2).unwrap_or_default().to_vec();
                                append_string(out, &s);
                                out.push(b':');
                            }
                            _ => {
                                return Err(encode_exception(
                                    st,
                                    -2,
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        append_data(st, cfg, depth, out)?;
                        st.pop(1);
                    }
                    out.push(b'}');
                }
            }
        }
        LuaType::Nil => out.extend_from_slice(b"null"),
        // Only NULL light userdata (cjson.null) reach Lua scripts.
        LuaType::LightUserdata => out.extend_from_slice(b"null"),
        _ => return Err(encode_exception(st, -1, "type not supported")),
    }
    Ok(())
}

fn encode(st: &mut dyn LuaStack) -> ApiResult {
    if st.top() != 1 {
        return arg_error(st, 1, "encode", "expected 1 argument");
    }
    let cfg = fetch_cfg(st);
    let mut out = Vec::new();
    if let Err(r) = append_data(st, &cfg, 0, &mut out) {
        return r;
    }
    st.push_bytes(&out);
    ApiResult::Return(1)
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

fn tok_name(t: Tok) -> &'static str {
    match t {
        Tok::ObjBegin => "T_OBJ_BEGIN",
        Tok::ObjEnd => "T_OBJ_END",
        Tok::ArrBegin => "T_ARR_BEGIN",
        Tok::ArrEnd => "T_ARR_END",
        Tok::Str => "T_STRING",
        Tok::Num => "T_NUMBER",
        Tok::Bool => "T_BOOLEAN",
        Tok::Null => "T_NULL",
        Tok::Colon => "T_COLON",
        Tok::Comma => "T_COMMA",
        Tok::End => "T_END",
        Tok::Error => "T_ERROR",
    }
}

struct Token {
    ty: Tok,
    index: usize,
    err: &'static str,
    s: Vec<u8>,
    num: f64,
    b: bool,
}

struct Parser<'a> {
    data: &'a [u8],
    ptr: usize,
    depth: i64,
    cfg: Cfg,
}

impl Parser<'_> {
    /// The byte at `i`, NUL past the end (the C string's terminator).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn set_error(&self, t: &mut Token, err: &'static str) {
        t.ty = Tok::Error;
        t.index = self.ptr;
        t.err = err;
    }

    fn next_token(&mut self) -> Token {
        let mut t = Token {
            ty: Tok::End,
            index: 0,
            err: "",
            s: Vec::new(),
            num: 0.0,
            b: false,
        };
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        t.index = self.ptr;
        let ch = self.at(self.ptr);
        let simple = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => {
                t.ty = Tok::End;
                return t;
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9' => None,
            _ => {
                self.set_error(&mut t, "invalid token");
                return t;
            }
        };
        if let Some(ty) = simple {
            t.ty = ty;
            self.ptr += 1;
            return t;
        }
        let data = self.data;
        let rest = &data[self.ptr..];
        if ch == b'"' {
            self.string_token(&mut t);
        } else if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid == 0 && self.is_invalid_number() {
                self.set_error(&mut t, "invalid token");
                t.err = "invalid number";
                return t;
            }
            self.number_token(&mut t);
        } else if rest.starts_with(b"true") {
            t.ty = Tok::Bool;
            t.b = true;
            self.ptr += 4;
        } else if rest.starts_with(b"false") {
            t.ty = Tok::Bool;
            self.ptr += 5;
        } else if rest.starts_with(b"null") {
            t.ty = Tok::Null;
            self.ptr += 4;
        } else if self.cfg.decode_invalid != 0 && self.is_invalid_number() {
            self.number_token(&mut t);
        } else {
            self.set_error(&mut t, "invalid token");
        }
        t
    }

    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        if self.at(p) == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if self.at(p) <= b'9' {
            return false;
        }
        let w = &self.data[p.min(self.data.len())..];
        let w = &w[..w.len().min(3)];
        w.eq_ignore_ascii_case(b"inf") || w.eq_ignore_ascii_case(b"nan")
    }

    fn number_token(&mut self, t: &mut Token) {
        t.ty = Tok::Num;
        match strtod(&self.data[self.ptr..]) {
            Some((n, len)) => {
                t.num = n;
                self.ptr += len;
            }
            None => self.set_error(t, "invalid number"),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// json_append_unicode_escape at `\u`: false on an invalid escape.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        if cp <= 0x7F {
            out.push(cp as u8);
        } else if cp <= 0x7FF {
            out.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
        } else if cp <= 0xFFFF {
            out.extend_from_slice(&[
                (cp >> 12) as u8 | 0xE0,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        } else {
            out.extend_from_slice(&[
                (cp >> 18) as u8 | 0xF0,
                ((cp >> 12) & 0x3F) as u8 | 0x80,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        }
        self.ptr += len;
        true
    }

    fn string_token(&mut self, t: &mut Token) {
        self.ptr += 1;
        let mut s = Vec::new();
        loop {
            let mut ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                self.set_error(t, "unexpected end of string");
                return;
            }
            if ch == b'\\' {
                ch = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut s) {
                            continue;
                        }
                        self.set_error(t, "invalid unicode escape code");
                        return;
                    }
                    _ => {
                        self.set_error(t, "invalid escape code");
                        return;
                    }
                };
                self.ptr += 1;
            }
            s.push(ch);
            self.ptr += 1;
        }
        self.ptr += 1;
        t.ty = Tok::Str;
        t.s = s;
    }

    fn parse_error(&self, st: &mut dyn LuaStack, exp: &str, t: &Token) -> ApiResult {
        let found = if t.ty == Tok::Error {
            t.err
        } else {
            tok_name(t.ty)
        };
        let msg = format!(
            "Expected {exp} but found {found} at character {}",
            t.index + 1
        );
        raise(st, msg.as_bytes())
    }

    fn descend(&mut self, st: &mut dyn LuaStack, slots: i32) -> Result<(), ApiResult> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth.min(MAX_DEPTH) && st.check_stack(slots) {
            return Ok(());
        }
        let msg = format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.ptr
        );
        Err(raise(st, msg.as_bytes()))
    }

    fn object(&mut self, st: &mut dyn LuaStack) -> Result<(), ApiResult> {
        self.descend(st, 3)?;
        st.new_table(0, 0);
        let mut t = self.next_token();
        if t.ty == Tok::ObjEnd {
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if t.ty != Tok::Str {
                return Err(self.parse_error(st, "object key string", &t));
            }
            st.push_bytes(&t.s);
            t = self.next_token();
            if t.ty != Tok::Colon {
                return Err(self.parse_error(st, "colon", &t));
            }
            t = self.next_token();
            self.value(st, &t)?;
            st.raw_set(-3);
            t = self.next_token();
            if t.ty == Tok::ObjEnd {
                self.depth -= 1;
                return Ok(());
            }
            if t.ty != Tok::Comma {
                return Err(self.parse_error(st, "comma or object end", &t));
            }
            t = self.next_token();
        }
    }

    fn array(&mut self, st: &mut dyn LuaStack) -> Result<(), ApiResult> {
        self.descend(st, 2)?;
        st.new_table(0, 0);
        let mut t = self.next_token();
        if t.ty == Tok::ArrEnd {
            self.depth -= 1;
            return Ok(());
        }
        let mut i: i32 = 1;
        loop {
            self.value(st, &t)?;
            st.raw_set_i(-2, i);
            t = self.next_token();
            if t.ty == Tok::ArrEnd {
                self.depth -= 1;
                return Ok(());
            }
            if t.ty != Tok::Comma {
                return Err(self.parse_error(st, "comma or array end", &t));
            }
            t = self.next_token();
            i = i.wrapping_add(1);
        }
    }

    fn value(&mut self, st: &mut dyn LuaStack, t: &Token) -> Result<(), ApiResult> {
        match t.ty {
            Tok::Str => st.push_bytes(&t.s),
            Tok::Num => st.push_number(t.num),
            Tok::Bool => st.push_boolean(t.b),
            Tok::ObjBegin => self.object(st)?,
            Tok::ArrBegin => self.array(st)?,
            Tok::Null => st.push_light_userdata_null(),
            _ => return Err(self.parse_error(st, "value", t)),
        }
        Ok(())
    }
}

/// C's strtod at the start of `s` (glibc: decimal, hex, inf/infinity, nan[(chars)]): the value
/// and the bytes it used, None when no number starts there.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let neg = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let lower =
        |j: usize, w: &[u8]| s.len() >= j + w.len() && s[j..j + w.len()].eq_ignore_ascii_case(w);
    if lower(i, b"inf") {
        let n = if lower(i, b"infinity") { 8 } else { 3 };
        return Some((sign * f64::INFINITY, i + n));
    }
    if lower(i, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((f64::NAN.copysign(sign), end));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        let mut j = i + 2;
        let mut mant = 0f64;
        let mut digits = 0;
        while let Some(d) = (at(j) as char).to_digit(16) {
            mant = mant * 16.0 + d as f64;
            digits += 1;
            j += 1;
        }
        let mut scale = 0i32;
        if at(j) == b'.' {
            let mut k = j + 1;
            while let Some(d) = (at(k) as char).to_digit(16) {
                mant = mant * 16.0 + d as f64;
                scale -= 4;
                digits += 1;
                k += 1;
            }
            if digits > 0 {
                j = k;
            }
        }
        if digits == 0 {
            // "0x" alone: strtod reads the "0".
            return Some((sign * 0.0, i + 1));
        }
        if (at(j) | 0x20) == b'p' {
            let mut k = j + 1;
            let eneg = match at(k) {
                b'-' => {
                    k += 1;
                    true
                }
                b'+' => {
                    k += 1;
                    false
                }
                _ => false,
            };
            if at(k).is_ascii_digit() {
                let mut e: i32 = 0;
                while at(k).is_ascii_digit() {
                    e = e.saturating_mul(10).saturating_add((at(k) - b'0') as i32);
                    k += 1;
                }
                scale = scale.saturating_add(if eneg { -e } else { e });
                j = k;
            }
        }
        return Some((sign * mant * 2f64.powi(scale), j));
    }
    let start = i;
    let mut j = i;
    while at(j).is_ascii_digit() {
        j += 1;
    }
    let mut digits = j - start;
    if at(j) == b'.' {
        let mut k = j + 1;
        while at(k).is_ascii_digit() {
            k += 1;
        }
        digits += k - j - 1;
        if digits > 0 {
            j = k;
        }
    }
    if digits == 0 {
        return None;
    }
    if (at(j) | 0x20) == b'e' {
        let mut k = j + 1;
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).ok()?;
    let text = if let Some(t) = text.strip_suffix('.') {
        t
    } else {
        text
    };
    let v: f64 = text.parse().ok()?;
    Some((sign * v, j))
}

fn decode(st: &mut dyn LuaStack) -> ApiResult {
    if st.top() != 1 {
        return arg_error(st, 1, "decode", "expected 1 argument");
    }
    let cfg = fetch_cfg(st);
    let Some(data) = st.to_bytes(1).map(<[u8]>::to_vec) else {
        return type_error(st, 1, "decode", "string");
    };
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return raise(st, b"JSON parser does not support UTF-16 or UTF-32");
    }
    let mut p = Parser {
        data: &data,
        ptr: 0,
        depth: 0,
        cfg,
    };
    let t = p.next_token();
    if let Err(r) = p.value(st, &t) {
        return r;
    }
    let t = p.next_token();
    if t.ty != Tok::End {
        return p.parse_error(st, "the end", &t);
    }
    ApiResult::Return(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_reads_as_glibc() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"1."), Some((1.0, 2)));
        assert_eq!(strtod(b".5"), Some((0.5, 2)));
        assert_eq!(strtod(b"0x1F"), Some((31.0, 4)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"Infinity"), Some((f64::INFINITY, 8)));
        assert!(strtod(b"nan").unwrap().0.is_nan());
    }

    #[test]
    fn strings_escape_as_lua_cjson() {
        let mut out = Vec::new();
        append_string(&mut out, b"a/\"\\\x01\x7f\n\xc3\xa9");
        assert_eq!(out, b"\"a\\/\\\"\\\\\\u0001\\u007f\\n\xc3\xa9\"");
    }
}
