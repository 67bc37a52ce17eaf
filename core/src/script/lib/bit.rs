//! `bit`: LuaBitOp 1.0.2 as Redis bundles it (deps/lua/src/lua_bit.c), with Debian's
//! CVE-2024-31449 fix to `tohex`. Numbers are normalised to 32 bits the way the C does on
//! doubles: add 2^52 + 2^51 and keep the low word of the sum's bits, so fractions round to
//! nearest even and values past 2^32 wrap; results are signed 32-bit.
//!
//! Ported from Lua BitOp, Copyright (C) 2008-2012 Mike Pall. All rights reserved. MIT license:
//! Permission is hereby granted, free of charge, to any person obtaining a copy of this software
//! and associated documentation files (the "Software"), to deal in the Software without
//! restriction, including without limitation the rights to use, copy, modify, merge, publish,
//! distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
//! Software is furnished to do so, subject to the following conditions: The above copyright
//! notice and this permission notice shall be included in all copies or substantial portions of
//! the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.

use super::{fn_name, type_error, Check};
use crate::script::vm::{ApiFn, ApiResult, LuaStack, LuaType};

const TOBIT: ApiFn = ApiFn(100);
const BNOT: ApiFn = ApiFn(101);
const BAND: ApiFn = ApiFn(102);
const BOR: ApiFn = ApiFn(103);
const BXOR: ApiFn = ApiFn(104);
const LSHIFT: ApiFn = ApiFn(105);
const RSHIFT: ApiFn = ApiFn(106);
const ARSHIFT: ApiFn = ApiFn(107);
const ROL: ApiFn = ApiFn(108);
const ROR: ApiFn = ApiFn(109);
const BSWAP: ApiFn = ApiFn(110);
const TOHEX: ApiFn = ApiFn(111);

/// The functions in lua_bit.c's `bit_funcs` order.
pub(super) const FUNCS: &[(&[u8], ApiFn)] = &[
    (b"tobit", TOBIT),
    (b"bnot", BNOT),
    (b"band", BAND),
    (b"bor", BOR),
    (b"bxor", BXOR),
    (b"lshift", LSHIFT),
    (b"rshift", RSHIFT),
    (b"arshift", ARSHIFT),
    (b"rol", ROL),
    (b"ror", ROR),
    (b"bswap", BSWAP),
    (b"tohex", TOHEX),
];

/// `barg`: argument `idx` as 32 bits. A non-number counts as 0 (`lua_tonumber`), and is an
/// error only when its bits come out 0, exactly as in the C.
fn barg(st: &mut dyn LuaStack, idx: i32, name: &[u8]) -> Check<u32> {
    let n = st.to_number(idx) + 6_755_399_441_055_744.0;
    let b = n.to_bits() as u32;
    if b == 0 && !st.is_number(idx) {
        return Err(type_error(st, idx, name, "number"));
    }
    Ok(b)
}

/// Runs `f` if it is a `bit` function.
pub(super) fn call(f: ApiFn, st: &mut dyn LuaStack) -> Option<ApiResult> {
    if !(TOBIT.0..=TOHEX.0).contains(&f.0) {
        return None;
    }
    let name = fn_name(FUNCS, f);
    Some(match run(f, st, name) {
        Ok(r) => r,
        Err(r) => r,
    })
}

fn run(f: ApiFn, st: &mut dyn LuaStack, name: &[u8]) -> Check<ApiResult> {
    let b = barg(st, 1, name)?;
    let r = match f {
        TOBIT => b,
        BNOT => !b,
        BAND | BOR | BXOR => {
            let mut r = b;
            let mut i = st.top();
            while i > 1 {
                let x = barg(st, i, name)?;
                match f {
                    BAND => r &= x,
                    BOR => r |= x,
                    _ => r ^= x,
                }
                i -= 1;
            }
            r
        }
        LSHIFT | RSHIFT | ARSHIFT | ROL | ROR => {
            let n = barg(st, 2, name)? & 31;
            match f {
                LSHIFT => b << n,
                RSHIFT => b >> n,
                ARSHIFT => ((b as i32) >> n) as u32,
                ROL => b.rotate_left(n),
                _ => b.rotate_right(n),
            }
        }
        BSWAP => b.swap_bytes(),
        _ => {
            // TOHEX
            let mut n = if st.type_of(2) == LuaType::None {
                8
            } else {
                barg(st, 2, name)? as i32
            };
            let mut digits = b"0123456789abcdef";
            // CVE-2024-31449: -INT32_MIN overflows, so it is clamped first.
            if n == i32::MIN {
                n = i32::MIN + 1;
            }
            if n < 0 {
                n = -n;
                digits = b"0123456789ABCDEF";
            }
            let n = n.min(8) as usize;
            let mut buf = [0u8; 8];
            let mut v = b;
            for i in (0..n).rev() {
                buf[i] = digits[(v & 15) as usize];
                v >>= 4;
            }
            st.push_bytes(&buf[..n]);
            return Ok(ApiResult::Return(1));
        }
    };
    st.push_number(r as i32 as f64);
    Ok(ApiResult::Return(1))
}
