//! The libraries Redis bundles into its Lua (deps/lua/src/lua_*.c), ported onto [`LuaStack`] as
//! API functions: `cjson` (lua-cjson 2.1.0), `struct`, `cmsgpack` (lua-cmsgpack 0.4.0) and `bit`
//! (LuaBitOp) (docs/design/scripting.md §4.5). Each keeps its C original's rules, error texts
//! included, and is registered as a global table that the sandbox then makes readonly. Their
//! API function numbers: bit 100-111, struct 120-122, cjson 200-209, cmsgpack 220-223.

mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
#[path = "struct.rs"]
mod structlib;

use super::vm::{ApiFn, ApiResult, LuaStack, GLOBALS_INDEX};

/// A failed check: the error object is already on the stack, raise it.
type Check<T> = Result<T, ApiResult>;

/// Registers the libraries as globals in Redis's loading order (luaLoadLibraries: cjson,
/// struct, cmsgpack, bit), `struct` and `bit` each as `luaL_register` builds it: a table sized
/// for its functions, filled in the C array's order, so `pairs` walks it as Redis's does.
pub(crate) fn register(st: &mut dyn LuaStack) {
    let register_funcs = |st: &mut dyn LuaStack, lib: &[u8], funcs: &[(&[u8], ApiFn)]| {
        st.new_table(0, funcs.len() as i32);
        for (name, f) in funcs {
            st.push_api_fn(*f, 0);
            st.raw_set_field(-2, name);
        }
        st.raw_set_field(GLOBALS_INDEX, lib);
    };
    cjson::push_module(st);
    st.raw_set_field(GLOBALS_INDEX, b"cjson");
    register_funcs(st, b"struct", structlib::FUNCS);
    cmsgpack::push_module(st);
    st.raw_set_field(GLOBALS_INDEX, b"cmsgpack");
    register_funcs(st, b"bit", bit::FUNCS);
}

/// Runs library function `f`, or None when `f` is not one of the libraries'.
pub(crate) fn call(f: ApiFn, st: &mut dyn LuaStack) -> Option<ApiResult> {
    if cjson::owns(f) {
        return Some(cjson::call(f, st));
    }
    if cmsgpack::owns(f) {
        return Some(cmsgpack::call(f, st));
    }
    bit::call(f, st).or_else(|| structlib::call(f, st))
}

/// The name `luaL_argerror` reports for `f` (Lua takes it from the call site; scripts call
/// these as `lib.name(...)`, which names the field).
fn fn_name(funcs: &[(&'static [u8], ApiFn)], f: ApiFn) -> &'static [u8] {
    funcs
        .iter()
        .find(|(_, g)| *g == f)
        .map_or(&b"?"[..], |(n, _)| n)
}

/// `luaL_error`: "<chunk:line:>msg", raised as a string.
fn error(st: &mut dyn LuaStack, msg: &[u8]) -> ApiResult {
    let mut m = st.where_(1);
    m.extend_from_slice(msg);
    st.push_bytes(&m);
    ApiResult::Raise
}

/// `luaL_argerror`: "bad argument #n to 'name' (extra)".
fn arg_error(st: &mut dyn LuaStack, narg: i32, name: &[u8], extra: &[u8]) -> ApiResult {
    let mut m = format!("bad argument #{narg} to '").into_bytes();
    m.extend_from_slice(name);
    m.extend_from_slice(b"' (");
    m.extend_from_slice(extra);
    m.push(b')');
    error(st, &m)
}

/// `luaL_typerror`: "<tname> expected, got <type>".
fn type_error(st: &mut dyn LuaStack, narg: i32, name: &[u8], tname: &str) -> ApiResult {
    let got = st.type_of(narg).name();
    let extra = format!("{tname} expected, got {got}");
    arg_error(st, narg, name, extra.as_bytes())
}

/// `luaL_checknumber`.
fn check_number(st: &mut dyn LuaStack, narg: i32, name: &[u8]) -> Check<f64> {
    let d = st.to_number(narg);
    if d == 0.0 && !st.is_number(narg) {
        return Err(type_error(st, narg, name, "number"));
    }
    Ok(d)
}

/// `luaL_checklstring` (a number argument is converted in place, as in C).
fn check_bytes(st: &mut dyn LuaStack, narg: i32, name: &[u8]) -> Check<Vec<u8>> {
    match st.to_bytes(narg) {
        Some(b) => Ok(b.to_vec()),
        None => Err(type_error(st, narg, name, "string")),
    }
}

/// x86-64's `cvttsd2si`, which a C cast from double to a 64-bit integer compiles to: out of
/// range and NaN give the "integer indefinite" `i64::MIN`.
pub(crate) fn f64_to_i64(n: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO63..TWO63).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// gcc's x86-64 double-to-`unsigned long` cast: below 2^63 (or NaN) a signed conversion,
/// otherwise a signed conversion of `n - 2^63` with the top bit flipped.
fn f64_to_u64(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n >= TWO63 {
        (f64_to_i64(n - TWO63) as u64) ^ (1 << 63)
    } else {
        f64_to_i64(n) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_x86_64_where_c_leaves_them_undefined() {
        assert_eq!(f64_to_i64(-1.9), -1);
        assert_eq!(f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(f64_to_i64(-1e300), i64::MIN);
        assert_eq!(f64_to_u64(2f64.powi(63)), 1 << 63);
        assert_eq!(f64_to_u64(2f64.powi(64)), 0);
        assert_eq!(f64_to_u64(f64::INFINITY), 0);
        assert_eq!(f64_to_u64(f64::NAN), 1 << 63);
        assert_eq!(f64_to_u64(1.9), 1);
    }
}
