//! Replays every golden transcript (testdata/golden) on the real binary over TCP, with the
//! same driver `cargo xtask golden --against` uses on Debian's redis-server.
//! `GOLDEN=substring` filters the transcripts, as in core's engine runner.

mod common;

use oxidis_testkit::{golden_tcp, transcripts};

#[test]
fn golden_transcripts_over_tcp() {
    // DEBUG allowed, as every golden runner (and Redis's own test suite) starts its server.
    let srv = common::start(&["--enable-debug-command", "yes"]);
    let filter = std::env::var("GOLDEN").unwrap_or_default();
    let (ran, mut failures) =
        golden_tcp::run_against(&srv.addr(), &transcripts::golden_dir(), &filter);
    // The transcripts under cluster/ run on a cluster node (golden::needs_cluster), its
    // nodes.conf in the server's fresh directory.
    let cluster = common::start(&["--enable-debug-command", "yes", "--cluster-enabled", "yes"]);
    let (ran_cluster, f) =
        golden_tcp::run_against(&cluster.addr(), &transcripts::golden_dir(), &filter);
    failures.extend(f);
    let ran = ran + ran_cluster;
    eprintln!("{ran} transcripts run over TCP");
    assert!(ran > 0 || !filter.is_empty(), "no transcripts found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
