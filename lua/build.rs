//! Builds vendor/lua-5.1.5 (the parts Redis's scripting uses) and glue.c into a static
//! library: with the host's C compiler natively, and with clang-19 + wasi-libc's headers for
//! wasm32-unknown-unknown, where setjmp/longjmp become wasm exception handling
//! (`-mllvm -wasm-enable-sjlj`, runtime in wasm-rt/) and stdio is stubbed (wasm-rt/nostdio.c)
//! so the module imports nothing from WASI. See docs/design/scripting.md §3.1.

use std::path::Path;

/// Lua's core and the libraries Redis loads (no io, os, package, linit).
const LUA_FILES: &[&str] = &[
    "lapi", "lcode", "ldebug", "ldo", "ldump", "lfunc", "lgc", "llex", "lmem", "lobject",
    "lopcodes", "lparser", "lstate", "lstring", "ltable", "ltm", "lundump", "lvm", "lzio",
    "lauxlib", "lbaselib", "ldblib", "lmathlib", "lstrlib", "ltablib",
];

/// wasi-libc's libc.a (Debian's `wasi-libc` package): snprintf, strtod, math for Lua.
const WASI_LIB: &str = "/usr/lib/wasm32-wasi";

const APT_HINT: &str =
    "apt-get install clang-19 wasi-libc (Debian 12; `cargo xtask test` installs them)";

fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo:rerun-if-changed=vendor");
    println!("cargo:rerun-if-changed=wasm-rt");
    println!("cargo:rerun-if-changed=glue.c");
    println!("cargo:rerun-if-env-changed=OXIDIS_WASM_CC");
    println!("cargo:rerun-if-env-changed=AR_wasm32_unknown_unknown");
    let mut b = cc::Build::new();
    b.include("vendor/lua-5.1.5")
        .files(LUA_FILES.iter().map(|f| format!("vendor/lua-5.1.5/{f}.c")))
        .file("glue.c")
        // Lua as Redis compiles it (deps/Makefile: -DLUA_ANSI), optimised in every profile:
        // nobody steps through the VM, and the tests' loops run faster.
        .define("LUA_ANSI", None)
        .opt_level(2)
        .warnings(false)
        .extra_warnings(false);
    let wasm = target == "wasm32-unknown-unknown";
    if wasm {
        wasm32(&mut b);
    }
    b.compile("oxidis_lua51");
    if wasm {
        // After our library, so that nostdio.c's stand-ins come before libc.a's stdio (which
        // would import WASI's fd_write, path_open, proc_exit ...).
        println!("cargo:rustc-link-search=native={WASI_LIB}");
        println!("cargo:rustc-link-lib=static=c");
    }
}

fn wasm32(b: &mut cc::Build) {
    let cc = std::env::var("OXIDIS_WASM_CC").unwrap_or_else(|_| "clang-19".to_string());
    let wasi_inc = Path::new("/usr/include/wasm32-wasi");
    let wasi_lib = Path::new(WASI_LIB);
    let found_cc = std::process::Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found_cc {
        panic!("oxidis-lua for wasm32 needs {cc} (to compile Lua's C to wasm): {APT_HINT}");
    }
    if !wasi_inc.join("string.h").exists() || !wasi_lib.join("libc.a").exists() {
        panic!(
            "oxidis-lua for wasm32 needs wasi-libc ({} and {}/libc.a): {APT_HINT}",
            wasi_inc.display(),
            wasi_lib.display()
        );
    }
    // The wasi triple gives wasi-libc's headers; the objects link unchanged into a
    // wasm32-unknown-unknown module (rust-lld). clang-19 emits the legacy EH instructions that
    // Node 20 runs (it has no exnref); a clang >= 20 would need `-mllvm -wasm-use-legacy-eh`.
    b.compiler(&cc)
        .no_default_flags(true)
        .flag("--target=wasm32-wasi")
        .flag("-O2")
        .flag("-ffunction-sections")
        .flag("-fdata-sections")
        .flag("-mexception-handling")
        .flag("-mllvm")
        .flag("-wasm-enable-sjlj")
        .include("wasm-rt")
        // binutils' ar (a dependency of clang-19) archives wasm objects well enough for
        // rust-lld; cc would look for an llvm-ar that Debian's clang-19 does not bring.
        .archiver(std::env::var("AR_wasm32_unknown_unknown").unwrap_or_else(|_| "ar".into()))
        .files([
            "wasm-rt/rt_sjlj.c",
            "wasm-rt/nostdio.c",
            "wasm-rt/c_longjmp.S",
        ]);
}
