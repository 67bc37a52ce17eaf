//! oxidis-lua's checks on the native target, one `#[test]` per case of tests/cases (the wasm32
//! check runs the same cases in Node: tests/wasm.test.mjs).

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
        const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

tests!(
    runs_chunks_and_formats_numbers,
    ilp32_fixes_keep_64_bit_integers,
    hook_kills_an_infinite_loop,
    a_killed_script_cannot_pcall_its_way_out,
    coroutines_inherit_the_hook,
    memory_limit_stops_growth,
    bytecode_is_refused_as_redis_does,
    readonly_tables_refuse_writes,
    api_functions_reenter_the_host,
    errors_and_pcall_as_lua_5_1,
    rust_panics_become_lua_errors,
    std_libs_are_the_ones_redis_loads,
    long_string_keys_iterate_as_on_redis,
    stack_methods_match_the_c_api,
    factory_states_are_independent,
    finalizers_never_run_in_host_code,
    pattern_depth_is_capped,
    c_recursion_is_bounded_as_on_redis,
);

#[test]
fn every_case_has_a_test() {
    let cases: Vec<&str> = cases::CASES.iter().map(|(n, _)| *n).collect();
    assert_eq!(cases, NAMES);
}
