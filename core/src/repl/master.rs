//! The master side of replication: replicas attached by SYNC/PSYNC (REPLCONF options, their
//! state and acknowledged offsets), the circular replication backlog, the command stream
//! they are fed (the effects propagation the AOF uses, with its own SELECT tracking), full and
//! partial resynchronisation, WAIT and min-replicas-to-write.

/// The master-side state (Redis's server.slaves, repl_backlog, slaveseldb, ...).
#[derive(Default)]
pub struct MasterSide {}

/// INFO replication: connected_slaves, min_slaves_good_slaves, slaveN lines.
pub fn info_fields(srv: &crate::engine::Server, s: &mut String) {
    let _ = srv;
    s.push_str("connected_slaves:0\r\n");
}

/// INFO replication: repl_backlog_active ... repl_backlog_histlen.
pub fn info_backlog_fields(srv: &crate::engine::Server, s: &mut String) {
    use std::fmt::Write;
    let _ = write!(s, "repl_backlog_active:0\r\n");
    let _ = write!(s, "repl_backlog_size:{}\r\n", srv.config.repl_backlog_size);
    let _ = write!(s, "repl_backlog_first_byte_offset:0\r\n");
    let _ = write!(s, "repl_backlog_histlen:0\r\n");
}
