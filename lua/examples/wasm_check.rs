//! The wasm32 check: tests/cases compiled into a cdylib with a tiny C-ABI surface, which
//! tests/wasm.test.mjs instantiates in Node (no wasm-bindgen: the module must import nothing)
//! and runs case by case. Built by `cargo xtask test` (suite "oxidis-lua on wasm32 (node)").

#[path = "../tests/cases/mod.rs"]
mod cases;

use std::cell::RefCell;

thread_local! {
    /// The last name or failure message, read by the JS side through `out_ptr`.
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn set_out(bytes: &[u8]) -> u32 {
    OUT.with(|o| {
        let mut o = o.borrow_mut();
        o.clear();
        o.extend_from_slice(bytes);
        o.len() as u32
    })
}

/// How many cases there are.
#[no_mangle]
pub extern "C" fn case_count() -> u32 {
    cases::CASES.len() as u32
}

/// Puts case `i`'s name in the output buffer; returns its length.
#[no_mangle]
pub extern "C" fn case_name(i: u32) -> u32 {
    set_out(cases::CASES[i as usize].0.as_bytes())
}

/// Runs case `i`: 0 if it passed, else the length of the failure message in the buffer.
#[no_mangle]
pub extern "C" fn case_run(i: u32) -> u32 {
    match (cases::CASES[i as usize].1)() {
        Ok(()) => 0,
        Err(e) => set_out(e.as_bytes()).max(1),
    }
}

/// The output buffer.
#[no_mangle]
pub extern "C" fn out_ptr() -> *const u8 {
    OUT.with(|o| o.borrow().as_ptr())
}
