//! The node list as CLUSTER NODES prints it (clusterGenNodesDescription): one line per node,
//! `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
//! <link-state> <slot> <slot-range> ... [<slot>->-<node>] [<slot>-<-<node>]`. nodes.conf
//! stores the same lines.

use super::Cluster;

/// Who the text is for: CLUSTER NODES (as a client sees it) or nodes.conf (Redis writes the
/// same lines there; the migrating/importing brackets appear only for `myself`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Client,
    Config,
}

/// Every node's line, myself first as Redis does. Filled in by the commands work.
pub fn nodes(_cluster: &Cluster, _filter: Filter) -> String {
    String::new()
}
