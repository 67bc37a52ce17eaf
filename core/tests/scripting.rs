//! Scripting on an in-process Engine with oxidis-lua installed: what the golden transcripts
//! cannot show (script effects in the AOF stream, the busy-reply-threshold guard, an engine
//! without a VM).

use oxidis_core::resp::encode_request;
use oxidis_core::script::{BusyGate, ScriptEnv};
use oxidis_core::{ClientHandle, Config, ConnInfo, Engine, UnixMillis};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

fn engine() -> Engine {
    let mut eng = Engine::new(Config::default(), 1);
    eng.set_script_vm_factory(Box::new(oxidis_lua::LuaVmFactory));
    eng
}

fn run(eng: &mut Engine, id: oxidis_core::ClientHandle, args: &[&str]) -> String {
    eng.feed(NOW, id, &encode_request(args));
    let mut out = Vec::new();
    eng.drain_output(id, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn propagated(eng: &mut Engine) -> String {
    let mut out = Vec::new();
    eng.take_propagated(&mut out);
    // One command per line, arguments separated by spaces (the RESP framing dropped).
    let text = String::from_utf8_lossy(&out).into_owned();
    let mut lines = Vec::new();
    let mut it = text.split("\r\n").peekable();
    while let Some(l) = it.next() {
        if let Some(n) = l.strip_prefix('*') {
            let n: usize = n.parse().unwrap();
            let mut args = Vec::new();
            for _ in 0..n {
                it.next();
                args.push(it.next().unwrap().to_string());
            }
            lines.push(args.join(" "));
        }
    }
    lines.join(" | ")
}

#[test]
fn script_effects_reach_the_aof_bare_or_wrapped_as_redis_7_0() {
    let mut eng = engine();
    eng.set_propagation(true);
    let id = eng.connect(NOW, ConnInfo::default());
    run(&mut eng, id, &["EVAL", "redis.call('SET','a','1')", "0"]);
    assert_eq!(propagated(&mut eng), "SELECT 0 | SET a 1");
    run(
        &mut eng,
        id,
        &[
            "EVAL",
            "redis.call('SET','b','1') redis.call('INCR','b')",
            "0",
        ],
    );
    assert_eq!(propagated(&mut eng), "MULTI | SET b 1 | INCR b | EXEC");
    run(&mut eng, id, &["EVAL", "return redis.call('GET','a')", "0"]);
    assert_eq!(propagated(&mut eng), "");
    run(
        &mut eng,
        id,
        &[
            "EVAL",
            "redis.set_repl(redis.REPL_NONE) redis.call('SET','d','1') \
             redis.set_repl(redis.REPL_ALL) redis.call('SET','e','1')",
            "0",
        ],
    );
    assert_eq!(propagated(&mut eng), "SET e 1");
    run(
        &mut eng,
        id,
        &[
            "EVAL",
            "redis.call('SELECT', 1) redis.call('SET','x','1') redis.call('SET','y','1')",
            "0",
        ],
    );
    assert_eq!(
        propagated(&mut eng),
        "SELECT 1 | MULTI | SET x 1 | SET y 1 | EXEC"
    );
    // In a transaction, the transaction's MULTI/EXEC wraps everything once, SELECT first
    // as Redis writes it.
    for req in [
        &["MULTI"][..],
        &[
            "EVAL",
            "redis.call('SET','p','1') redis.call('SET','q','1')",
            "0",
        ],
        &["SET", "r", "1"],
        &["EXEC"],
    ] {
        run(&mut eng, id, req);
    }
    assert_eq!(
        propagated(&mut eng),
        "SELECT 0 | MULTI | SET p 1 | SET q 1 | SET r 1 | EXEC"
    );
    // SELECT in a script does not move its caller (Redis 7.0).
    assert_eq!(run(&mut eng, id, &["GET", "x"]), "$-1\r\n");
}

#[test]
fn a_script_past_busy_reply_threshold_is_stopped_and_the_server_goes_on() {
    let mut eng = engine();
    // A host clock that moves a second each time it is read.
    let t = Rc::new(Cell::new(NOW.0));
    let clock = t.clone();
    eng.set_script_clock(Box::new(move || {
        clock.set(clock.get() + 1000);
        UnixMillis(clock.get())
    }));
    let id = eng.connect(NOW, ConnInfo::default());
    let stopped = "-BUSY Script ran past busy-reply-threshold and was stopped: this host cannot serve other clients while a script runs.";
    let r = run(&mut eng, id, &["EVAL", "while true do end", "0"]);
    assert!(r.starts_with(stopped), "{r}");
    // pcall cannot keep it alive: the hook fires again on the next line.
    let r = run(
        &mut eng,
        id,
        &[
            "EVAL",
            "while true do\n pcall(function() while true do end end)\nend",
            "0",
        ],
    );
    assert!(r.starts_with(stopped), "{r}");
    assert_eq!(run(&mut eng, id, &["PING"]), "+PONG\r\n");
    assert_eq!(run(&mut eng, id, &["EVAL", "return 7", "0"]), ":7\r\n");
    assert_eq!(
        run(&mut eng, id, &["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    // With busy-reply-threshold 0 nothing is watched.
    run(
        &mut eng,
        id,
        &["CONFIG", "SET", "busy-reply-threshold", "0"],
    );
    let before = t.get();
    assert_eq!(
        run(
            &mut eng,
            id,
            &["EVAL", "for i = 1, 300000 do end return 1", "0"]
        ),
        ":1\r\n"
    );
    assert!(t.get() - before <= 1000);
}

#[test]
fn without_a_vm_eval_answers_an_error() {
    let mut eng = Engine::new(Config::default(), 1);
    let id = eng.connect(NOW, ConnInfo::default());
    let no_vm = "-ERR scripting is not available: this Oxidis host installed no Lua VM\r\n";
    assert_eq!(run(&mut eng, id, &["EVAL", "return 1", "0"]), no_vm);
    assert_eq!(run(&mut eng, id, &["SCRIPT", "LOAD", "return 1"]), no_vm);
    assert_eq!(
        run(&mut eng, id, &["EVAL", "return 1", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

/// A host that, once the script is busy, sends `requests` from another client (one per hook
/// call) and keeps what that client is answered.
struct TestEnv {
    t: u64,
    other: ClientHandle,
    requests: Vec<Vec<u8>>,
    answers: Rc<RefCell<Vec<u8>>>,
}

impl ScriptEnv for TestEnv {
    fn now(&mut self) -> UnixMillis {
        self.t += 1000;
        UnixMillis(self.t)
    }

    fn serve_while_busy(&mut self, gate: &mut BusyGate<'_>) -> bool {
        assert_ne!(gate.caller(), self.other);
        if !self.requests.is_empty() {
            let req = self.requests.remove(0);
            gate.feed(self.other, &req);
        }
        let mut out = Vec::new();
        gate.drain_output(self.other, &mut out);
        // The host could send only part: the rest goes out after the script.
        let keep = out.len().min(3);
        gate.unsend(self.other, &out[keep..]);
        self.answers.borrow_mut().extend_from_slice(&out[..keep]);
        true
    }
}

fn busy_engine(requests: &[&[&str]]) -> (Engine, ClientHandle, ClientHandle, Rc<RefCell<Vec<u8>>>) {
    let mut eng = engine();
    let a = eng.connect(NOW, ConnInfo::default());
    let b = eng.connect(NOW, ConnInfo::default());
    let answers = Rc::new(RefCell::new(Vec::new()));
    eng.set_script_env(Box::new(TestEnv {
        t: NOW.0,
        other: b,
        requests: requests.iter().map(|r| encode_request(r)).collect(),
        answers: answers.clone(),
    }));
    (eng, a, b, answers)
}

fn rest(eng: &mut Engine, id: ClientHandle, answers: &Rc<RefCell<Vec<u8>>>) -> String {
    let mut out = std::mem::take(&mut *answers.borrow_mut());
    eng.drain_output(id, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn busy_script_answers_others_busy_and_script_kill_stops_it() {
    let (mut eng, a, b, answers) = busy_engine(&[
        &["PING"],
        &["SET", "k", "v"],
        &["SHUTDOWN"],
        &["SCRIPT", "KILL"],
    ]);
    let r = run(
        &mut eng,
        a,
        &["EVAL", "local i = 0 while true do i = i + 1 end", "0"],
    );
    assert!(
        r.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{r}"
    );
    let busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(
        rest(&mut eng, b, &answers),
        format!("{busy}{busy}{busy}+OK\r\n")
    );
    // Nothing ran: the server is as it was, and answers normally.
    assert_eq!(run(&mut eng, b, &["GET", "k"]), "$-1\r\n");
    assert_eq!(
        run(&mut eng, b, &["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
}

#[test]
fn a_script_that_wrote_is_unkillable_but_shutdown_nosave_stops_it() {
    let (mut eng, a, b, answers) = busy_engine(&[&["SCRIPT", "KILL"], &["SHUTDOWN", "NOSAVE"]]);
    let r = run(
        &mut eng,
        a,
        &["EVAL", "redis.call('SET', 'w', 1) while true do end", "0"],
    );
    assert!(
        r.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{r}"
    );
    assert_eq!(
        rest(&mut eng, b, &answers),
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. \
         You can either wait the script termination or kill the server in a hard way using the \
         SHUTDOWN NOSAVE command.\r\n"
    );
    let mut shutdown = false;
    while let Some(ev) = eng.poll_event() {
        shutdown |= matches!(ev, oxidis_core::Event::Shutdown);
    }
    assert!(shutdown);
}

#[test]
fn info_counts_cached_scripts_and_the_lua_state() {
    let mut eng = engine();
    let id = eng.connect(NOW, ConnInfo::default());
    let info = run(&mut eng, id, &["INFO", "memory"]);
    assert!(info.contains("number_of_cached_scripts:0\r\n"), "{info}");
    assert!(info.contains("used_memory_lua:0\r\n"), "{info}");
    run(&mut eng, id, &["SCRIPT", "LOAD", "return 1"]);
    run(&mut eng, id, &["EVAL", "return 2", "0"]);
    let info = run(&mut eng, id, &["INFO", "memory"]);
    assert!(info.contains("number_of_cached_scripts:2\r\n"), "{info}");
    assert!(!info.contains("used_memory_lua:0\r\n"), "{info}");
    run(&mut eng, id, &["SCRIPT", "FLUSH"]);
    let info = run(&mut eng, id, &["INFO", "memory"]);
    assert!(info.contains("number_of_cached_scripts:0\r\n"), "{info}");
}

#[test]
fn a_deeply_nested_return_value_ends_in_an_error_not_a_stack_overflow() {
    // Redis puts `reached lua stack limit` where its Lua stack is full (about 8000 levels);
    // here it comes at depth 1000 (convert.rs MAX_REPLY_DEPTH): 8000 overflowed the stack.
    let mut eng = engine();
    let id = eng.connect(NOW, ConnInfo::default());
    let nest = |n: usize| format!("local t = {{}} for i = 1, {n} do t = {{t}} end return t");
    let shallow = run(&mut eng, id, &["EVAL", &nest(999), "0"]);
    assert_eq!(shallow, format!("{}*0\r\n", "*1\r\n".repeat(999)));
    for n in [1000, 20_000] {
        let deep = run(&mut eng, id, &["EVAL", &nest(n), "0"]);
        assert_eq!(
            deep,
            format!("{}-ERR reached lua stack limit\r\n", "*1\r\n".repeat(1000))
        );
    }
    assert_eq!(run(&mut eng, id, &["PING"]), "+PONG\r\n");
}

#[test]
fn cjson_and_cmsgpack_survive_nesting_past_the_defaults_without_overflowing_the_rust_stack() {
    // Redis recurses until its Lua stack is full (about 8000 levels); cjson here stops at 1000
    // whatever the configured limit, and cmsgpack decodes with an explicit stack.
    let mut eng = engine();
    let id = eng.connect(NOW, ConnInfo::default());
    let enc = "local j=cjson.new() j.encode_max_depth(100000) local t={} t[1]=t return j.encode(t)";
    assert!(run(&mut eng, id, &["EVAL", enc, "0"])
        .contains("Cannot serialise, excessive nesting (1001)"));
    let dec =
        "local j=cjson.new() j.decode_max_depth(100000) return j.decode(string.rep('[', 100000))";
    assert!(run(&mut eng, id, &["EVAL", dec, "0"])
        .contains("Found too many nested data structures (1001) at character 1001"));
    let mp = "return cmsgpack.unpack(string.rep('\\145', 100000) .. '\\1')";
    assert!(run(&mut eng, id, &["EVAL", mp, "0"])
        .contains("stack overflow (in function mp_decode_to_lua_array)"));
}

/// A library whose code LZF compresses (as redis-server's DUMP showed).
const LIB: &str = "#!lua name=mylib\nredis.register_function{function_name='myfunc', callback=function(keys, args) return 'hello' end, flags={'no-writes'}, description='says hello, says hello, says hello'}";

#[test]
fn function_list_withcode_and_dump_are_byte_for_byte_redis_s() {
    // Transcripts cannot show a bulk string with a newline (the code) or binary (DUMP): these
    // are the bytes redis-server 7.0.15 answered for the same requests.
    let mut eng = engine();
    let id = eng.connect(NOW, ConnInfo::default());
    assert_eq!(
        run(&mut eng, id, &["FUNCTION", "LOAD", LIB]),
        "$5\r\nmylib\r\n"
    );
    let code = format!("$185\r\n{LIB}\r\n");
    assert_eq!(
        run(&mut eng, id, &["FUNCTION", "LIST", "WITHCODE"]),
        format!("*1\r\n*8\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$6\r\nmyfunc\r\n$11\r\ndescription\r\n$34\r\nsays hello, says hello, says hello\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n$12\r\nlibrary_code\r\n{code}")
    );
    eng.feed(NOW, id, &encode_request(&["FUNCTION", "DUMP"]));
    let mut dump = Vec::new();
    eng.drain_output(id, &mut dump);
    let redis: &[u8] = b"$172\r\n\xf5\xc3@\x9c@\xb9\x1f#!lua name=mylib\nredis.register_\x08function{\xc0\x08\x00_`+\x02'my@\x10\x0b', callback=@\x0f@)\x1f(keys, args) return 'hello' end,\x1c flags={'no-writes'}, descrip@@\x06='says `2\x01, \xe0\r\x0b\x01'}\n\x00\xd8\x11o\xcd\xf08J.\r\n";
    assert_eq!(dump, redis);
    run(&mut eng, id, &["HELLO", "3"]);
    assert_eq!(
        run(&mut eng, id, &["FUNCTION", "LIST", "WITHCODE"]),
        format!("*1\r\n%4\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n%3\r\n$4\r\nname\r\n$6\r\nmyfunc\r\n$11\r\ndescription\r\n$34\r\nsays hello, says hello, says hello\r\n$5\r\nflags\r\n~1\r\n+no-writes\r\n$12\r\nlibrary_code\r\n{code}")
    );
    // Redis's payload restores here.
    let payload = &redis[6..redis.len() - 2];
    let mut other = engine();
    let id2 = other.connect(NOW, ConnInfo::default());
    let mut req = encode_request(&["FUNCTION", "RESTORE"]);
    req[1] = b'3';
    req.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
    req.extend_from_slice(payload);
    req.extend_from_slice(b"\r\n");
    other.feed(NOW, id2, &req);
    let mut out = Vec::new();
    other.drain_output(id2, &mut out);
    assert_eq!(out, b"+OK\r\n");
    assert_eq!(
        run(&mut other, id2, &["FCALL_RO", "myfunc", "0"]),
        "$5\r\nhello\r\n"
    );
}

#[test]
fn function_load_stops_library_code_past_500_ms() {
    let mut eng = engine();
    let t = Rc::new(Cell::new(NOW.0));
    let clock = t.clone();
    eng.set_script_clock(Box::new(move || {
        clock.set(clock.get() + 100);
        UnixMillis(clock.get())
    }));
    let id = eng.connect(NOW, ConnInfo::default());
    // pcall cannot hold it: the hook fires again on the next line.
    for code in [
        "#!lua name=t\nwhile true do end",
        "#!lua name=t\nlocal f = function() while true do end end\nwhile true do\nlocal x = 1\nend",
    ] {
        assert_eq!(
            run(&mut eng, id, &["FUNCTION", "LOAD", code]),
            "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n"
        );
    }
    // A library that loads in time is fine, and its function is not bound by the load limit.
    let lib = "#!lua name=t\nredis.register_function('spin', function() for i = 1, 2000000 do end return 1 end)";
    assert_eq!(run(&mut eng, id, &["FUNCTION", "LOAD", lib]), "$1\r\nt\r\n");
    run(
        &mut eng,
        id,
        &["CONFIG", "SET", "busy-reply-threshold", "100000"],
    );
    assert_eq!(run(&mut eng, id, &["FCALL", "spin", "0"]), ":1\r\n");
}

#[test]
fn busy_function_answers_function_busy_texts_and_function_kill_stops_it() {
    let (mut eng, a, b, answers) = busy_engine(&[
        &["PING"],
        &["SCRIPT", "KILL"],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "KILL"],
    ]);
    let lib = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)";
    // The env is installed: FUNCTION LOAD runs with its timeout, and this loads in time.
    assert_eq!(
        run(&mut eng, a, &["FUNCTION", "LOAD", lib]),
        "$4\r\nspin\r\n"
    );
    let r = run(&mut eng, a, &["FCALL", "spin", "1", "k", "arg"]);
    assert_eq!(
        r,
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
    let busy = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    let got = rest(&mut eng, b, &answers);
    let stats = got
        .strip_prefix(&format!("{busy}{busy}"))
        .and_then(|s| s.strip_suffix("+OK\r\n"))
        .unwrap_or_else(|| panic!("{got}"));
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n1\r\n$1\r\nk\r\n$3\r\narg\r\n$11\r\nduration_ms\r\n:"),
        "{stats}"
    );
    assert!(stats.ends_with("$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"), "{stats}");
    assert_eq!(
        run(&mut eng, b, &["FUNCTION", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
}

#[test]
fn a_busy_eval_is_not_killed_by_function_kill() {
    let (mut eng, a, b, answers) = busy_engine(&[
        &["FUNCTION", "KILL"],
        &["FUNCTION", "STATS"],
        &["SCRIPT", "KILL"],
    ]);
    let r = run(&mut eng, a, &["EVAL", "while true do end", "0"]);
    assert!(r.starts_with("-ERR Script killed by user"), "{r}");
    let busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(rest(&mut eng, b, &answers), format!("{busy}{busy}+OK\r\n"));
}

#[test]
fn function_commands_reach_the_aof_and_fcall_its_effects() {
    let mut eng = engine();
    eng.set_propagation(true);
    let id = eng.connect(NOW, ConnInfo::default());
    let lib = "#!lua name=l\nredis.register_function('inc', function(keys) return redis.call('INCR', keys[1]) end)";
    run(&mut eng, id, &["FUNCTION", "LOAD", lib]);
    run(&mut eng, id, &["FCALL", "inc", "1", "cnt"]);
    run(&mut eng, id, &["FCALL_RO", "inc", "1", "cnt"]);
    run(&mut eng, id, &["FUNCTION", "LOAD", lib]);
    run(&mut eng, id, &["FUNCTION", "DELETE", "l"]);
    run(&mut eng, id, &["FUNCTION", "DELETE", "l"]);
    run(&mut eng, id, &["FUNCTION", "FLUSH"]);
    assert_eq!(
        propagated(&mut eng),
        format!("SELECT 0 | FUNCTION LOAD {lib} | INCR cnt | FUNCTION DELETE l | FUNCTION FLUSH")
    );
    // The AOF replays into the same libraries (without the load timeout).
    let mut aof = Vec::new();
    for req in [
        &["FUNCTION", "LOAD", lib][..],
        &["FCALL", "inc", "1", "cnt"],
        &["FCALL", "inc", "1", "cnt"],
    ] {
        aof.extend(encode_request(req));
    }
    let mut fresh = engine();
    fresh.replay_aof(NOW, &aof).unwrap();
    let id = fresh.connect(NOW, ConnInfo::default());
    assert_eq!(run(&mut fresh, id, &["GET", "cnt"]), "$1\r\n2\r\n");
    assert_eq!(run(&mut fresh, id, &["FCALL", "inc", "1", "cnt"]), ":3\r\n");
}

#[test]
fn functions_survive_an_rdb_round_trip_and_an_import_replaces_them() {
    let mut eng = engine();
    let id = eng.connect(NOW, ConnInfo::default());
    run(&mut eng, id, &["FUNCTION", "LOAD", LIB]);
    run(&mut eng, id, &["SET", "k", "v"]);
    let rdb = eng.export_rdb(NOW);
    let mut fresh = engine();
    let info = fresh.import_rdb(&rdb, NOW).unwrap();
    assert_eq!(info.functions, vec![LIB.as_bytes().to_vec()]);
    let id2 = fresh.connect(NOW, ConnInfo::default());
    assert_eq!(
        run(&mut fresh, id2, &["FCALL", "myfunc", "0"]),
        "$5\r\nhello\r\n"
    );
    assert_eq!(run(&mut fresh, id2, &["GET", "k"]), "$1\r\nv\r\n");
    // Importing again replaces the dataset, functions included (no "already exists").
    fresh.import_rdb(&rdb, NOW).unwrap();
    assert!(run(&mut fresh, id2, &["FUNCTION", "STATS"]).contains("libraries_count\r\n:1\r\n"));
    let info = run(&mut fresh, id2, &["INFO", "memory"]);
    assert!(
        info.contains("number_of_functions:1\r\nnumber_of_libraries:1\r\n"),
        "{info}"
    );
    assert!(!info.contains("used_memory_vm_functions:0\r\n"), "{info}");
    // Without a VM the file cannot load its libraries: an error, nothing dropped silently.
    let mut bare = Engine::new(Config::default(), 1);
    let e = bare.import_rdb(&rdb, NOW).unwrap_err();
    assert!(e.contains("no Lua VM"), "{e}");
}

#[test]
fn lua_memory_limit_ends_a_runaway_allocation_with_an_error_and_the_state_goes_on() {
    let mut eng = engine();
    let id = eng.connect(NOW, ConnInfo::default());
    // Oxidis's own parameter: an exact CONFIG GET finds it, a pattern does not (CONFIG GET *
    // stays as redis-server's).
    assert_eq!(
        run(&mut eng, id, &["CONFIG", "GET", "lua-memory-limit"]),
        "*2\r\n$16\r\nlua-memory-limit\r\n$10\r\n1073741824\r\n"
    );
    assert!(!run(&mut eng, id, &["CONFIG", "GET", "*"]).contains("lua-memory-limit"));
    assert_eq!(
        run(&mut eng, id, &["CONFIG", "SET", "lua-memory-limit", "8mb"]),
        "+OK\r\n"
    );
    let big = "return #string.rep('x', 64 * 1024 * 1024)";
    let reply = run(&mut eng, id, &["EVAL", big, "0"]);
    assert!(
        reply.starts_with("-ERR Error running script ") && reply.contains("not enough memory"),
        "{reply:?}"
    );
    // The state is usable and keeps its data; the same limit holds for functions.
    assert_eq!(run(&mut eng, id, &["EVAL", "return 1 + 1", "0"]), ":2\r\n");
    let lib = "#!lua name=big\nredis.register_function('big', function() return #string.rep('x', 64 * 1024 * 1024) end)";
    assert_eq!(
        run(&mut eng, id, &["FUNCTION", "LOAD", lib]),
        "$3\r\nbig\r\n"
    );
    let fcall = run(&mut eng, id, &["FCALL", "big", "0"]);
    assert!(fcall.contains("not enough memory"), "{fcall:?}");
    // 0 lifts the limit.
    run(&mut eng, id, &["CONFIG", "SET", "lua-memory-limit", "0"]);
    assert_eq!(run(&mut eng, id, &["EVAL", big, "0"]), ":67108864\r\n");
}

#[test]
fn publish_in_a_script_goes_to_the_replicas_with_its_effects() {
    let mut cfg = Config::default();
    cfg.set("repl-diskless-sync-delay", b"0").unwrap();
    let mut eng = Engine::new(cfg, 7);
    eng.set_script_vm_factory(Box::new(oxidis_lua::LuaVmFactory));
    eng.tick(NOW);
    eng.set_propagation(true); // as with appendonly yes
    let w = eng.connect(NOW, ConnInfo::default());
    // A replica's handshake (as redis-server 7.0 sends it), then its first ACK.
    let r = eng.connect(NOW, ConnInfo::default());
    run(&mut eng, r, &["REPLCONF", "capa", "eof", "capa", "psync2"]);
    assert!(run(&mut eng, r, &["PSYNC", "?", "-1"]).starts_with("+FULLRESYNC"));
    eng.feed(NOW, r, &req(&["REPLCONF", "ACK", "0"]));
    assert_eq!(out(&mut eng, r), b"");
    // Alone: bare, to the replicas only.
    run(
        &mut eng,
        w,
        &["EVAL", "return redis.call('publish','ch','a')", "0"],
    );
    let mut want = req(&["SELECT", "0"]);
    want.extend(req(&["publish", "ch", "a"]));
    assert_eq!(out(&mut eng, r), want);
    // Propagated as the script called them (lowercase). With a write: MULTI/EXEC around both, in the script's order; the AOF gets the write.
    let s = "redis.call('set','k','v') redis.call('publish','ch','b') return 1";
    run(&mut eng, w, &["EVAL", s, "0"]);
    let mut want = req(&["MULTI"]);
    want.extend(req(&["set", "k", "v"]));
    want.extend(req(&["publish", "ch", "b"]));
    want.extend(req(&["EXEC"]));
    assert_eq!(out(&mut eng, r), want);
    // redis.set_repl(redis.REPL_AOF): not to the replicas; REPL_REPLICA: only to them.
    let s = "redis.set_repl(redis.REPL_AOF) redis.call('publish','ch','c') \
             redis.call('set','a','1') redis.set_repl(redis.REPL_REPLICA) \
             redis.call('set','b','2') redis.call('publish','ch','d') return 1";
    run(&mut eng, w, &["EVAL", s, "0"]);
    let mut want = req(&["MULTI"]);
    want.extend(req(&["set", "b", "2"]));
    want.extend(req(&["publish", "ch", "d"]));
    want.extend(req(&["EXEC"]));
    assert_eq!(out(&mut eng, r), want);
    let mut aof = Vec::new();
    eng.take_propagated(&mut aof);
    let mut want = req(&["SELECT", "0"]);
    want.extend(req(&["MULTI"]));
    want.extend(req(&["set", "k", "v"]));
    want.extend(req(&["EXEC"]));
    want.extend(req(&["MULTI"]));
    want.extend(req(&["set", "a", "1"]));
    want.extend(req(&["EXEC"]));
    assert_eq!(aof, want);
}

fn req(args: &[&str]) -> Vec<u8> {
    encode_request(args)
}

fn out(eng: &mut Engine, id: ClientHandle) -> Vec<u8> {
    let mut o = Vec::new();
    eng.drain_output(id, &mut o);
    o
}
