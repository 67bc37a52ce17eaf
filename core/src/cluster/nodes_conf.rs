//! nodes.conf (cluster.c's clusterSaveConfig / clusterLoadConfig): the node list as CLUSTER
//! NODES prints it (`describe::nodes`), then `vars currentEpoch N lastVoteEpoch M`. The host
//! writes the text the core hands it and gives it back at startup.

use super::Cluster;

/// The file's text for the current state.
pub fn to_text(cluster: &Cluster) -> String {
    let mut s = super::describe::nodes(cluster, super::describe::Filter::Config);
    s.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        cluster.current_epoch, cluster.last_vote_epoch
    ));
    s
}

/// A nodes.conf's text → the state it describes (myself from the `myself` flag), or Redis's
/// "Unrecoverable error: corrupted cluster config file" reason. Filled in by the nodes.conf
/// work.
pub fn load(_text: &str, _now: u64) -> Result<Cluster, String> {
    Err("Unrecoverable error: corrupted cluster config file.".into())
}
