//! One suite's result, the summary table, running a command while counting what it reports, and
//! polling a condition until a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one suite did: how many individual tests or checks passed and failed, and a readable
/// line for each failure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suite {
    pub name: String,
    pub passed: usize,
    pub failed: usize,
    pub details: Vec<String>,
    /// Figures worth printing with the result (benchmark numbers, settings).
    pub info: Vec<String>,
    pub elapsed: Duration,
}

impl Suite {
    pub fn new(name: &str) -> Suite {
        Suite {
            name: name.to_string(),
            ..Suite::default()
        }
    }

    /// A suite that could not run at all (a server did not start, a tool is missing): one failure.
    pub fn error(name: &str, msg: impl Into<String>) -> Suite {
        let mut s = Suite::new(name);
        s.fail(msg);
        s
    }

    /// A single pass/fail check (rustfmt, clippy, a build).
    pub fn check(name: &str, result: Result<(), String>) -> Suite {
        let mut s = Suite::new(name);
        match result {
            Ok(()) => s.passed = 1,
            Err(e) => s.fail(e),
        }
        s
    }

    pub fn fail(&mut self, msg: impl Into<String>) {
        self.failed += 1;
        self.details.push(msg.into());
    }

    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The line printed when the suite ends.
    pub fn report(&self) -> String {
        let mut out = format!(
            "<== {}: {} passed, {} failed ({:.1}s)",
            self.name,
            self.passed,
            self.failed,
            self.elapsed.as_secs_f64()
        );
        for line in &self.info {
            out.push_str("\n    ");
            out.push_str(line);
        }
        for d in &self.details {
            for (i, line) in d.lines().enumerate() {
                out.push_str(if i == 0 {
                    "\n    FAILED "
                } else {
                    "\n           "
                });
                out.push_str(line);
            }
        }
        out
    }
}

/// The table printed at the very end, closed by the line CI reads: `N passed, M failed`.
pub fn summary(suites: &[Suite]) -> String {
    let width = suites
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max("suite".len());
    let mut out = format!(
        "{:<width$}  {:>7}  {:>7}  {:>8}  result\n",
        "suite", "passed", "failed", "time"
    );
    let (mut passed, mut failed) = (0, 0);
    for s in suites {
        passed += s.passed;
        failed += s.failed;
        out.push_str(&format!(
            "{:<width$}  {:>7}  {:>7}  {:>7.1}s  {}\n",
            s.name,
            s.passed,
            s.failed,
            s.elapsed.as_secs_f64(),
            if s.ok() { "ok" } else { "FAILED" }
        ));
    }
    out.push_str(&format!("{passed} passed, {failed} failed"));
    out
}

/// What `cargo test` reported on stdout.
#[derive(Debug, Default, PartialEq)]
pub struct CargoTestCounts {
    pub passed: usize,
    pub failed: usize,
    /// "test a::b ... FAILED" lines: the names of failed tests.
    pub failed_tests: Vec<String>,
    /// How many "test result:" lines there were (one per test binary and doc-test run).
    pub results: usize,
}

impl CargoTestCounts {
    /// Reads one line of `cargo test` output.
    pub fn line(&mut self, line: &str) {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("test result: ") {
            // "test result: ok. 5 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; ..."
            self.results += 1;
            for part in rest.split(['.', ';']) {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(what)) = (words.next(), words.next()) {
                    let Ok(n) = n.parse::<usize>() else { continue };
                    match what {
                        "passed" => self.passed += n,
                        "failed" => self.failed += n,
                        _ => {}
                    }
                }
            }
        } else if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            self.failed_tests.push(name.to_string());
        }
    }
}

/// Runs `cmd` with its stdout read line by line (echoed, and handed to `on_line`); stderr goes
/// straight to ours. Returns whether it exited successfully, or a description of how it did not.
pub fn run_streaming(mut cmd: Command, mut on_line: impl FnMut(&str)) -> Result<(), String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let shown = describe(&cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line);
            println!("{line}");
            on_line(&line);
        }
    }
    let status = child.wait().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown}: {status}"))
    }
}

/// Runs `cmd` with inherited output; Ok if it exited successfully.
pub fn run_status(mut cmd: Command) -> Result<(), String> {
    cmd.stdin(Stdio::null());
    let shown = describe(&cmd);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown}: {status}"))
    }
}

/// "prog arg arg" for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Polls `f` until it gives a value or `limit` passes.
pub fn poll<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    let mut last_err = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = e,
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out ({}s) waiting for {what}{}",
                limit.as_secs(),
                if last_err.is_empty() {
                    String::new()
                } else {
                    format!(" (last error: {last_err})")
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_test_output() {
        let out = "\
running 3 tests
test a::one ... ok
test a::two ... FAILED
test a::three ... ok

failures:
    a::two

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

running 12 tests
test result: ok. 12 passed; 0 failed; 3 ignored; 0 measured; 0 filtered out; finished in 1.50s
   Doc-tests oxidis_core
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        let mut c = CargoTestCounts::default();
        for l in out.lines() {
            c.line(l);
        }
        assert_eq!(c.passed, 14);
        assert_eq!(c.failed, 1);
        assert_eq!(c.results, 3);
        assert_eq!(c.failed_tests, vec!["a::two".to_string()]);
    }

    #[test]
    fn summary_sums_suites_and_ends_with_the_ci_line() {
        let mut a = Suite::check("rustfmt", Ok(()));
        a.elapsed = Duration::from_millis(1500);
        let mut b = Suite::new("cargo test");
        b.passed = 40;
        b.fail("x::y");
        b.fail("x::z");
        let c = Suite::error("golden (redis-server)", "redis-server did not start");
        let t = summary(&[a, b, c]);
        assert!(t.ends_with("\n41 passed, 3 failed"), "{t}");
        assert!(t.contains("rustfmt"), "{t}");
        assert!(t.lines().nth(1).unwrap().ends_with("1.5s  ok"), "{t}");
        assert!(t.lines().nth(2).unwrap().ends_with("FAILED"), "{t}");
    }

    #[test]
    fn report_lists_each_failure() {
        let mut s = Suite::new("golden");
        s.passed = 2;
        s.fail("a.resp:3: > GET k\n  expected [\"$-1\"]");
        let r = s.report();
        assert!(r.starts_with("<== golden: 2 passed, 1 failed"), "{r}");
        assert!(
            r.contains("\n    FAILED a.resp:3: > GET k\n             expected"),
            "{r}"
        );
    }
}
