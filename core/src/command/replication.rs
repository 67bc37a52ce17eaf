//! Replication commands (Redis's replication.c commands): the master side's REPLCONF, SYNC,
//! PSYNC, WAIT and ROLE; the replica side's REPLICAOF / SLAVEOF. The state machines live in
//! `crate::repl`; these handlers parse, check and reply.

// master side (repl/master.rs)

// replica side (repl/replica.rs)
