//! oxidis-lua's checks on the native target, one `#[test]` per case of tests/cases (the wasm32
//! check runs the same cases in Node: tests/wasm.test.mjs).

#[macro_use]
mod cases;

fn run(name: &str) {
    let (_, f) = cases::CASES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    if let Err(e) = f() {
        panic!("{name}: {e}");
    }
}

macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { run(stringify!($name)) })*
    };
}

with_cases!(tests);
