//! Replication (Redis's replication.c), sans-I/O: the state every node keeps whatever its role
//! (the replication ID pair and the offset), the master side in `master.rs` (replicas attached
//! by SYNC/PSYNC, the backlog, the stream fed to replicas, WAIT, min-replicas) and the replica
//! side in `replica.rs` (the link to a master: handshake, loading its RDB, applying and acking
//! its stream, partial resync). The host only moves bytes, opens the connection to a master
//! and forks for the RDB; the core decides everything else, so two engines can replicate in
//! one process (tests, the wasm playground).

pub mod master;
pub mod replica;

/// Redis's server.replid / replid2 / master_repl_offset / second_replid_offset.
// The skeleton the replication work fills in: some parts are not read yet.
#[allow(dead_code)]
pub struct Repl {
    /// The current replication ID: 40 hex digits.
    pub replid: String,
    /// The previous ID, valid up to `second_replid_offset` (after a promotion: PSYNC with the
    /// old master's ID still continues). 40 zeros when none.
    pub replid2: String,
    /// Bytes of replication stream produced (master) or applied (replica) so far.
    pub master_repl_offset: i64,
    /// -1 when `replid2` is not valid.
    pub second_replid_offset: i64,
    pub master: master::MasterSide,
    pub replica: replica::ReplicaSide,
    /// A coordinated FAILOVER (Redis's failover_state and its companions).
    pub failover: Failover,
}

/// Redis's failover_state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailoverState {
    #[default]
    None,
    /// Writes paused, waiting for the target (or any replica) to ack the master's offset.
    WaitForSync,
    /// This node became a replica of the target and sends it `PSYNC ... FAILOVER`.
    InProgress,
}

/// FAILOVER's state: the target, the deadline (0: none), FORCE.
#[derive(Clone, Debug, Default)]
pub struct Failover {
    pub state: FailoverState,
    pub end: u64,
    pub force: bool,
    pub target: Option<(String, u16)>,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// Writes are paused by a shutdown waiting for replicas or a FAILOVER (PAUSE_DURING_SHUTDOWN,
/// PAUSE_DURING_FAILOVER), beside CLIENT PAUSE.
pub fn writes_paused(srv: &crate::engine::Server) -> bool {
    srv.repl.master.shutdown.is_some()
        || srv.repl.failover.state != FailoverState::None
        || srv
            .cluster
            .as_deref()
            .is_some_and(crate::cluster::failover::paused)
}

#[allow(dead_code)]
impl Repl {
    pub fn new(replid: String) -> Repl {
        Repl {
            replid,
            replid2: "0".repeat(40),
            master_repl_offset: 0,
            second_replid_offset: -1,
            master: Default::default(),
            replica: Default::default(),
            failover: Default::default(),
        }
    }

    /// Redis's changeReplicationId: a fresh ID (the caller draws it from the seeded RNG).
    pub fn change_replid(&mut self, replid: String) {
        self.replid = replid;
    }

    /// Redis's shiftReplicationId: the current ID becomes the previous one, valid up to the
    /// current offset + 1, and a fresh ID replaces it (on promotion).
    pub fn shift_replid(&mut self, replid: String) {
        self.replid2 = std::mem::replace(&mut self.replid, replid);
        self.second_replid_offset = self.master_repl_offset + 1;
    }

    /// Redis's clearReplicationId2.
    pub fn clear_replid2(&mut self) {
        self.replid2 = "0".repeat(40);
        self.second_replid_offset = -1;
    }
}

/// A fresh 40-hex-digit replication ID drawn from the server's seeded RNG.
pub fn random_replid(rng: &mut crate::rng::Rng) -> String {
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(40);
    s
}

/// INFO's Replication section body, in genRedisInfoString's order: role; the replica's link
/// fields (replica.rs); connected_slaves and the slaveN lines (master.rs);
/// master_failover_state; the ID pair, offsets and backlog fields.
pub fn info_section(
    srv: &crate::engine::Server,
    clients: &slab::Slab<crate::engine::Client>,
    s: &mut String,
) {
    use std::fmt::Write;
    let repl = &srv.repl;
    let _ = write!(
        s,
        "role:{}\r\n",
        if repl.replica.is_replica() {
            "slave"
        } else {
            "master"
        }
    );
    replica::info_fields(srv, s);
    master::info_fields(srv, clients, s);
    let _ = write!(
        s,
        "master_failover_state:{}\r\n",
        repl.failover.state.name()
    );
    let _ = write!(s, "master_replid:{}\r\n", repl.replid);
    let _ = write!(s, "master_replid2:{}\r\n", repl.replid2);
    let _ = write!(s, "master_repl_offset:{}\r\n", repl.master_repl_offset);
    let _ = write!(s, "second_repl_offset:{}\r\n", repl.second_replid_offset);
    master::info_backlog_fields(srv, s);
}
