//! The cluster protocol (cluster.c's clusterProcessPacket, clusterCron, clusterBeforeSleep and
//! their helpers), sans-I/O: bus bytes in through `Engine::cluster_link_input`, bytes out
//! through the links' send buffers, connections requested with `Event::ConnectClusterNode`,
//! time from the host. The operations the CLUSTER commands need (MEET, FORGET, RESET,
//! REPLICATE, FAILOVER, SETSLOT NODE, epochs) are here too, so the commands only parse and
//! reply.

use super::{Cluster, LinkHandle, NodeName};
use crate::engine::{Client, Engine, Server};
use crate::time::UnixMillis;

/// clusterCron: every 100 ms (the host's tick): handshakes timing out, links to open, PINGs
/// (a random node each second, and any whose PONG is older than node-timeout/2), PFAIL,
/// orphaned masters and replica migration, elections. Filled in by the protocol work.
pub fn cron(_srv: &mut Server, _clients: &mut slab::Slab<Client>, _now: UnixMillis) {}

/// clusterBeforeSleep: the work the handlers postponed (`Cluster::todo_before_sleep`):
/// manual failover and failover steps, the cluster state update, nodes.conf saving.
pub fn before_sleep(_srv: &mut Server, _clients: &mut slab::Slab<Client>, _now: UnixMillis) {}

/// CLUSTER MEET ip port [cport]: starts a handshake (a node in HANDSHAKE|MEET state). Err:
/// Redis's reply text.
pub fn meet(
    _srv: &mut Server,
    _ip: &str,
    _port: u16,
    _cport: u16,
    _now: UnixMillis,
) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// CLUSTER FORGET: drops the node and blacklists it for 60 s.
pub fn forget(_srv: &mut Server, _node: &NodeName, _now: UnixMillis) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// CLUSTER RESET [HARD|SOFT].
pub fn reset(
    _srv: &mut Server,
    _clients: &mut slab::Slab<Client>,
    _hard: bool,
    _now: UnixMillis,
) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// CLUSTER REPLICATE: this node becomes a replica of `master` (clusterSetMaster: the
/// replication link follows).
pub fn replicate(
    _srv: &mut Server,
    _clients: &mut slab::Slab<Client>,
    _master: &NodeName,
    _now: UnixMillis,
) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverMode {
    Default,
    Force,
    Takeover,
}

pub fn manual_failover(
    _srv: &mut Server,
    _clients: &mut slab::Slab<Client>,
    _mode: FailoverMode,
    _now: UnixMillis,
) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// CLUSTER SETSLOT slot NODE node (the part beyond moving the bit: clearing
/// migrating/importing, bumping the epoch when an import completes, the replica that lost its
/// last slot following the new owner).
pub fn set_slot_node(
    _srv: &mut Server,
    _clients: &mut slab::Slab<Client>,
    _slot: u16,
    _node: &NodeName,
    _now: UnixMillis,
) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// CLUSTER BUMPEPOCH: "BUMPED n" or "STILL n" (clusterBumpConfigEpochWithoutConsensus).
pub fn bump_epoch(_cluster: &mut Cluster) -> (bool, u64) {
    (false, 0)
}

/// CLUSTER SET-CONFIG-EPOCH.
pub fn set_config_epoch(_cluster: &mut Cluster, _epoch: u64) -> Result<(), String> {
    Err("ERR not implemented yet".into())
}

/// PUBLISH / SPUBLISH in a cluster: the message goes to every node (or the shard's nodes)
/// over the bus (clusterPropagatePublish).
pub fn propagate_publish(_srv: &mut Server, _channel: &[u8], _message: &[u8], _sharded: bool) {}

impl Engine {
    /// The host accepted a connection on the bus port: a new inbound link.
    pub fn cluster_link_accepted(&mut self, _now: UnixMillis, peer_ip: String) -> LinkHandle {
        let Some(c) = self.srv.cluster.as_mut() else {
            return LinkHandle(usize::MAX);
        };
        LinkHandle(c.links.insert(super::Link {
            ctime: 0,
            node: None,
            inbound: true,
            rcvbuf: Vec::new(),
            sndbuf: Vec::new(),
            connecting: false,
            peer_ip,
        }))
    }

    /// The connection asked for by `Event::ConnectClusterNode { link }` is up.
    pub fn cluster_link_connected(&mut self, _now: UnixMillis, _link: LinkHandle) {}

    /// It could not be opened: the link is freed (the cron tries again).
    pub fn cluster_link_failed(&mut self, _now: UnixMillis, _link: LinkHandle) {}

    /// Bytes read from a link. Whole messages are processed at once; a bad one frees the link
    /// (`Event::CloseClusterLink`).
    pub fn cluster_link_input(&mut self, _now: UnixMillis, _link: LinkHandle, _bytes: &[u8]) {}

    /// The bytes to write on a link (taken: the host keeps what the socket did not accept).
    pub fn cluster_link_output(&mut self, link: LinkHandle) -> Vec<u8> {
        self.srv
            .cluster
            .as_mut()
            .and_then(|c| c.links.get_mut(link.0))
            .map(|l| std::mem::take(&mut l.sndbuf))
            .unwrap_or_default()
    }

    /// The host saw the connection close (or closed it): the link is freed.
    pub fn cluster_link_closed(&mut self, _now: UnixMillis, link: LinkHandle) {
        if let Some(c) = self.srv.cluster.as_mut() {
            if c.links.contains(link.0) {
                c.links.remove(link.0);
            }
        }
    }

    /// nodes.conf to write, if it changed: (text, fsync). The host writes it atomically.
    pub fn cluster_config_to_save(&mut self) -> Option<(String, bool)> {
        let c = self.srv.cluster.as_mut()?;
        if !c.config_dirty {
            return None;
        }
        c.config_dirty = false;
        let fsync = std::mem::take(&mut c.config_fsync);
        Some((super::nodes_conf::to_text(c), fsync))
    }

    /// At startup, before serving: the nodes.conf the host found (cluster-config-file). Err:
    /// the line Redis logs before exiting.
    pub fn cluster_load_config(&mut self, text: &str, now: UnixMillis) -> Result<(), String> {
        if self.srv.cluster.is_none() {
            return Ok(());
        }
        // None: an empty file, a fresh node (the one made at startup stays).
        if let Some(loaded) = super::nodes_conf::load(text, now.0)? {
            self.srv.cluster = Some(Box::new(loaded));
        }
        Ok(())
    }
}
