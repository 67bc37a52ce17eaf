//! `cargo xtask <task>`: the project's commands (run, test, golden, ...).

mod clients;
mod difftest;
mod golden_tcp;

use std::path::PathBuf;
use std::process::ExitCode;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("golden") => {
            // cargo xtask golden --against HOST:PORT [FILTER]
            let addr = match (args.get(1).map(String::as_str), args.get(2)) {
                (Some("--against"), Some(a)) => a.clone(),
                _ => {
                    eprintln!("usage: cargo xtask golden --against HOST:PORT [FILTER]");
                    return ExitCode::from(2);
                }
            };
            let filter = args.get(3).cloned().unwrap_or_default();
            let root = repo_root().join("testdata/golden");
            let (ran, failures) = golden_tcp::run_against(&addr, &root, &filter);
            for f in &failures {
                eprintln!("{f}");
            }
            println!(
                "golden against {addr}: {ran} transcripts, {} failures",
                failures.len()
            );
            if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some("difftest") => difftest::cli(&args[1..]),
        Some("clients") => clients::cli(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask golden --against HOST:PORT [FILTER]");
            ExitCode::from(2)
        }
    }
}
