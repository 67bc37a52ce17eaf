//! The replica side of replication: REPLICAOF's link to a master (the handshake: PING, AUTH,
//! REPLCONF listening-port/capa, PSYNC), receiving and loading the master's RDB, applying its
//! command stream as the master client, acking offsets, partial resync after a cut or a
//! restart, read-only and stale-data rules.

/// The replica-side state (Redis's server.masterhost, repl_state, master client, ...).
#[derive(Default)]
pub struct ReplicaSide {}

impl ReplicaSide {
    /// Whether this node follows a master (REPLICAOF host port in force).
    pub fn is_replica(&self) -> bool {
        false
    }
}

/// INFO replication: master_host ... replica_announced, only on a replica.
pub fn info_fields(srv: &crate::engine::Server, s: &mut String) {
    let _ = (srv, s);
}
