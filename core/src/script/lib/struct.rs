//! `struct`: Roberto Ierusalimschy's struct library as Redis 7.0 bundles it
//! (deps/lua/src/lua_struct.c, with its CVE-2015-8080 and CVE-2020-14147 fixes): `pack`,
//! `unpack` and `size` over a format of `<` `>` `!n` (endianness, alignment), `x` (padding),
//! `b B h H l L T i[n] I[n]` (integers), `f d` (floats), `s` (zero-terminated) and `c[n]`
//! (fixed; `c0` is the whole string when packing, the previous number when unpacking).
//! Sizes are those of Debian's x86-64 build: short 2, int 4, long and size_t 8, alignment up
//! to 8; native order little-endian.
//!
//! Ported from struct.c, Copyright (C) 2010-2018 Lua.org, PUC-Rio. All rights reserved. MIT
//! license: Permission is hereby granted, free of charge, to any person obtaining a copy of this
//! software and associated documentation files (the "Software"), to deal in the Software without
//! restriction, including without limitation the rights to use, copy, modify, merge, publish,
//! distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
//! Software is furnished to do so, subject to the following conditions: The above copyright
//! notice and this permission notice shall be included in all copies or substantial portions of
//! the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.

use super::{
    arg_error, check_bytes, check_number, error, f64_to_i64, f64_to_u64, fn_name, type_error, Check,
};
use crate::script::vm::{ApiFn, ApiResult, LuaStack, LuaType};

const PACK: ApiFn = ApiFn(120);
const UNPACK: ApiFn = ApiFn(121);
const SIZE: ApiFn = ApiFn(122);

/// The functions in lua_struct.c's `thislib` order.
pub(super) const FUNCS: &[(&[u8], ApiFn)] =
    &[(b"pack", PACK), (b"unpack", UNPACK), (b"size", SIZE)];

/// The most bytes an `i`/`I` may take.
const MAXINTSIZE: i32 = 32;
/// The strictest alignment (a double's on x86-64).
const MAXALIGN: i32 = 8;

/// The format's state: big-endian (else little, the native order) and the alignment cap.
struct Header {
    big: bool,
    align: u64,
}

/// A cursor over the format (a C string: it ends at the first NUL).
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }
}

/// `getnum`: a decimal count, or `df`; "integral size overflow" past `INT_MAX`.
fn getnum(st: &mut dyn LuaStack, fmt: &mut Fmt<'_>, df: i32) -> Check<i32> {
    if !fmt.peek().is_ascii_digit() {
        return Ok(df);
    }
    let mut a: i32 = 0;
    while fmt.peek().is_ascii_digit() {
        let d = (fmt.peek() - b'0') as i32;
        if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
            return Err(error(st, b"integral size overflow"));
        }
        a = a * 10 + d;
        fmt.i += 1;
    }
    Ok(a)
}

/// `optsize`: the bytes option `opt` takes (0 for the control options).
fn optsize(st: &mut dyn LuaStack, opt: u8, fmt: &mut Fmt<'_>) -> Check<u64> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => getnum(st, fmt, 1)? as u64,
        b'i' | b'I' => {
            let sz = getnum(st, fmt, 4)?;
            if sz > MAXINTSIZE {
                let m = format!("integral size {sz} is larger than limit of {MAXINTSIZE}");
                return Err(error(st, m.as_bytes()));
            }
            sz as u64
        }
        _ => 0,
    })
}

/// `gettoalign`: padding before an item of `size` bytes at offset `len`.
fn gettoalign(len: u64, h: &Header, opt: u8, size: u64) -> u64 {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// `controloptions`: space, `<`, `>`, `!n`; anything else is an invalid option.
fn controloptions(
    st: &mut dyn LuaStack,
    opt: u8,
    fmt: &mut Fmt<'_>,
    h: &mut Header,
    name: &[u8],
) -> Check<()> {
    match opt {
        b' ' => {}
        b'>' => h.big = true,
        b'<' => h.big = false,
        b'!' => {
            let a = getnum(st, fmt, MAXALIGN)?;
            if a <= 0 || a & (a - 1) != 0 {
                let m = format!("alignment {a} is not a power of 2");
                return Err(error(st, m.as_bytes()));
            }
            h.align = a as u64;
        }
        _ => {
            let mut m = b"invalid format option '".to_vec();
            m.push(opt);
            m.push(b'\'');
            return Err(arg_error(st, 1, name, &m));
        }
    }
    Ok(())
}

/// Runs `f` if it is a `struct` function.
pub(super) fn call(f: ApiFn, st: &mut dyn LuaStack) -> Option<ApiResult> {
    let run = match f {
        PACK => pack,
        UNPACK => unpack,
        SIZE => size,
        _ => return None,
    };
    let name = fn_name(FUNCS, f);
    Some(run(st, name).unwrap_or_else(|r| r))
}

/// `luaL_checkstring(L, 1)` as the C sees it: up to the first NUL.
fn format_arg(st: &mut dyn LuaStack, name: &[u8]) -> Check<Vec<u8>> {
    let mut f = check_bytes(st, 1, name)?;
    if let Some(z) = memchr::memchr(0, &f) {
        f.truncate(z);
    }
    Ok(f)
}

/// struct.pack(fmt, ...)
fn pack(st: &mut dyn LuaStack, name: &[u8]) -> Check<ApiResult> {
    let f = format_arg(st, name)?;
    // The C's "mark to separate arguments from string buffer": a missing first argument is
    // reported as nil, not "no value".
    st.push_nil();
    let mut fmt = Fmt { s: &f, i: 0 };
    let mut h = Header {
        big: false,
        align: 1,
    };
    let mut arg = 2;
    let mut total: u64 = 0;
    let mut out = Vec::new();
    while fmt.i < fmt.s.len() {
        let opt = fmt.s[fmt.i];
        fmt.i += 1;
        let mut size = optsize(st, opt, &mut fmt)?;
        let toalign = gettoalign(total, &h, opt, size);
        total = total.wrapping_add(toalign);
        out.resize(out.len() + toalign as usize, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(st, arg, name)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    f64_to_i64(n) as u64
                } else {
                    f64_to_u64(n)
                };
                let size = size as usize;
                let mut buf = vec![0u8; size];
                for k in 0..size {
                    let at = if h.big { size - 1 - k } else { k };
                    buf[at] = value as u8;
                    value >>= 8;
                }
                out.extend_from_slice(&buf);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = check_number(st, arg, name)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            b'd' => {
                let v = check_number(st, arg, name)?;
                arg += 1;
                out.extend_from_slice(&if h.big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_bytes(st, arg, name)?;
                arg += 1;
                if size == 0 {
                    size = s.len() as u64;
                }
                if (s.len() as u64) < size {
                    // The C reports the argument after the string (`arg` was already moved on).
                    return Err(arg_error(st, arg, name, b"string too short"));
                }
                out.extend_from_slice(&s[..size as usize]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => controloptions(st, opt, &mut fmt, &mut h, name)?,
        }
        total = total.wrapping_add(size);
    }
    st.push_bytes(&out);
    Ok(ApiResult::Return(1))
}

/// `getinteger`: `size` bytes as an unsigned or sign-extended number (x86-64 masks the shift).
fn getinteger(buf: &[u8], big: bool, signed: bool) -> f64 {
    let size = buf.len();
    let mut l: u64 = 0;
    for k in 0..size {
        let b = if big { buf[k] } else { buf[size - 1 - k] };
        l = (l << 8) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    let mask = (!0u64).wrapping_shl((size as i32 * 8 - 1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// struct.unpack(fmt, data [, pos])
fn unpack(st: &mut dyn LuaStack, name: &[u8]) -> Check<ApiResult> {
    let f = format_arg(st, name)?;
    let data = check_bytes(st, 2, name)?;
    let ld = data.len() as u64;
    let mut pos = match st.type_of(3) {
        LuaType::None | LuaType::Nil => 1,
        _ => {
            let d = f64_to_i64(st.to_number(3));
            if d == 0 && !st.is_number(3) {
                return Err(type_error(st, 3, name, "number"));
            }
            d as u64
        }
    };
    if pos == 0 {
        return Err(arg_error(st, 3, name, b"offset must be 1 or greater"));
    }
    pos -= 1;
    let mut fmt = Fmt { s: &f, i: 0 };
    let mut h = Header {
        big: false,
        align: 1,
    };
    let mut n = 0;
    let fits = |pos: u64, size: u64| size <= ld && pos <= ld - size;
    while fmt.i < fmt.s.len() {
        let opt = fmt.s[fmt.i];
        fmt.i += 1;
        let mut size = optsize(st, opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !fits(pos, size) {
            return Err(arg_error(st, 2, name, b"data string too short"));
        }
        if !st.check_stack(2) {
            return Err(error(st, b"stack overflow (too many results)"));
        }
        // In range: `fits` held, so pos + size <= the data's length.
        let p = pos as usize;
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = getinteger(&data[p..p + size as usize], h.big, opt.is_ascii_lowercase());
                st.push_number(v);
                n += 1;
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[p..p + 4].try_into().unwrap_or_default();
                let v = if h.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                st.push_number(v as f64);
                n += 1;
            }
            b'd' => {
                let b: [u8; 8] = data[p..p + 8].try_into().unwrap_or_default();
                let v = if h.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                st.push_number(v);
                n += 1;
            }
            b'c' => {
                if size == 0 {
                    if n == 0 || !st.is_number(-1) {
                        return Err(error(st, b"format 'c0' needs a previous size"));
                    }
                    size = f64_to_u64(st.to_number(-1));
                    st.pop(1);
                    n -= 1;
                    if !fits(pos, size) {
                        return Err(arg_error(st, 2, name, b"data string too short"));
                    }
                }
                st.push_bytes(&data[p..p + size as usize]);
                n += 1;
            }
            b's' => {
                let Some(z) = memchr::memchr(0, &data[p..]) else {
                    return Err(error(st, b"unfinished string in data"));
                };
                st.push_bytes(&data[p..p + z]);
                size = z as u64 + 1;
                n += 1;
            }
            _ => controloptions(st, opt, &mut fmt, &mut h, name)?,
        }
        pos = pos.wrapping_add(size);
    }
    st.push_number(pos.wrapping_add(1) as i64 as f64);
    Ok(ApiResult::Return(n + 1))
}

/// struct.size(fmt): the packed size of a format of fixed-size items.
fn size(st: &mut dyn LuaStack, name: &[u8]) -> Check<ApiResult> {
    let f = format_arg(st, name)?;
    let mut fmt = Fmt { s: &f, i: 0 };
    let mut h = Header {
        big: false,
        align: 1,
    };
    let mut pos: u64 = 0;
    while fmt.i < fmt.s.len() {
        let opt = fmt.s[fmt.i];
        fmt.i += 1;
        let size = optsize(st, opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(st, 1, name, b"option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(st, 1, name, b"option 'c0' has no fixed size"));
        }
        // Unknown letters and digits are silently 0 bytes here (the C checks only non-alnum).
        if !opt.is_ascii_alphanumeric() {
            controloptions(st, opt, &mut fmt, &mut h, name)?;
        }
        pos = pos.wrapping_add(size);
    }
    st.push_number(pos as i64 as f64);
    Ok(ApiResult::Return(1))
}
