//! The operations behind the CLUSTER commands (clusterCommand's MEET, FORGET, RESET,
//! REPLICATE, FAILOVER, SETSLOT NODE, BUMPEPOCH, SET-CONFIG-EPOCH) and PUBLISH's propagation:
//! Redis's checks and error texts, then the protocol's own steps (state.rs, failover.rs).
//! state.rs re-exports them.

use super::bus::{self, Body, Message};
use super::failover;
use super::state::{
    blacklist_add, broadcast, broadcast_pong, build_header, close_all_slots, del_node, log,
    name_str, send_bytes, set_master, set_node_as_master, with, Clients,
};
use super::{flags, todo, Cluster, Node, NodeName, SLOTS};
use crate::engine::{Client, Server};
use crate::time::UnixMillis;

/// CLUSTER MEET ip port [cport]: starts a handshake (a node in HANDSHAKE|MEET state). Err:
/// Redis's reply text.
pub fn meet(
    srv: &mut Server,
    ip: &str,
    port: u16,
    cport: u16,
    now: UnixMillis,
) -> Result<(), String> {
    let invalid = || format!("ERR Invalid node address specified: {ip}:{port}");
    let Ok(addr) = ip.parse::<core::net::IpAddr>() else {
        return Err(invalid());
    };
    if port == 0 || cport == 0 {
        return Err(invalid());
    }
    let norm = addr.to_string();
    with(srv, |c, srv| {
        let busy = c.nodes.values().any(|n| {
            n.in_handshake()
                && n.ip.eq_ignore_ascii_case(&norm)
                && n.port == port
                && n.cport == cport
        });
        if busy {
            return Ok(());
        }
        let name = super::random_name(&mut srv.rng);
        let mut n = Node::new(name, flags::HANDSHAKE | flags::MEET, now.0);
        n.ip = norm;
        n.port = port;
        n.cport = cport;
        c.nodes.insert(name, n);
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// CLUSTER FORGET: drops the node and blacklists it for 60 s.
pub fn forget(srv: &mut Server, node: &NodeName, now: UnixMillis) -> Result<(), String> {
    with(srv, |c, srv| {
        if !c.nodes.contains_key(node) {
            return Err(format!("ERR Unknown node {}", name_str(node)));
        }
        if *node == c.myself {
            return Err("ERR I tried hard but I can't forget myself...".into());
        }
        if c.me().is_replica() && c.my_master() == Some(*node) {
            return Err("ERR Can't forget my master!".into());
        }
        blacklist_add(c, node, now.0);
        del_node(c, srv, node, now.0);
        c.todo(todo::UPDATE_STATE | todo::SAVE_CONFIG);
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// CLUSTER RESET [HARD|SOFT] (with its check that a master holds no keys).
pub fn reset(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    hard: bool,
    now: UnixMillis,
) -> Result<(), String> {
    with(srv, |c, srv| {
        if c.me().is_master() && srv.dbs.first().is_some_and(|d| !d.is_empty()) {
            return Err(
                "ERR CLUSTER RESET can't be called with master nodes containing keys".into(),
            );
        }
        cluster_reset(c, srv, clients, hard, now.0);
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// clusterReset.
pub(crate) fn cluster_reset(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    hard: bool,
    now: u64,
) {
    let myself = c.myself;
    if c.me().is_replica() {
        set_node_as_master(c, &myself);
        crate::repl::replica::unset_master(srv, clients);
        for db in &mut srv.dbs {
            db.flush();
        }
    }
    close_all_slots(c);
    failover::reset_manual_failover(c);
    for j in 0..SLOTS {
        c.del_slot(j as u16);
    }
    for n in c.sorted_names() {
        if n != myself {
            del_node(c, srv, &n, now);
        }
    }
    if hard {
        c.current_epoch = 0;
        c.last_vote_epoch = 0;
        c.me_mut().config_epoch = 0;
        log(srv, "configEpoch set to 0 via CLUSTER RESET HARD".into());
        let mut me = c.nodes.remove(&myself).expect("myself");
        let name = super::random_name(&mut srv.rng);
        me.name = name;
        c.myself = name;
        c.nodes.insert(name, me);
        log(srv, format!("Node hard reset, now I'm {}", name_str(&name)));
    }
    c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
}

/// CLUSTER REPLICATE: this node becomes a replica of `master` (clusterSetMaster: the
/// replication link follows).
pub fn replicate(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    master: &NodeName,
    now: UnixMillis,
) -> Result<(), String> {
    with(srv, |c, srv| {
        if !c.nodes.contains_key(master) {
            return Err(format!("ERR Unknown node {}", name_str(master)));
        }
        if *master == c.myself {
            return Err("ERR Can't replicate myself".into());
        }
        if c.is_replica(master) {
            return Err("ERR I can only replicate a master, not a replica.".into());
        }
        if c.me().is_master()
            && (c.me().numslots != 0 || srv.dbs.first().is_some_and(|d| !d.is_empty()))
        {
            return Err(
                "ERR To set a master the node must be empty and without assigned slots.".into(),
            );
        }
        set_master(c, srv, clients, master, now.0);
        c.todo(todo::UPDATE_STATE | todo::SAVE_CONFIG);
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverMode {
    Default,
    Force,
    Takeover,
}

pub fn manual_failover(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    mode: FailoverMode,
    now: UnixMillis,
) -> Result<(), String> {
    with(srv, |c, srv| {
        failover::cluster_failover_command(c, srv, clients, mode, now.0)
    })
    .unwrap_or(Ok(()))
}

/// CLUSTER SETSLOT slot NODE node, whole (Redis's checks and texts included): the slot moves;
/// migrating state cleared when no key is left, the epoch bumped when an import completes,
/// a master left without slots follows the new owner.
pub fn set_slot_node(
    srv: &mut Server,
    clients: &mut slab::Slab<Client>,
    slot: u16,
    node: &NodeName,
    now: UnixMillis,
) -> Result<(), String> {
    with(srv, |c, srv| {
        let myself = c.myself;
        let j = slot as usize;
        if !c.nodes.contains_key(node) {
            return Err(format!("ERR Unknown node {}", name_str(node)));
        }
        if c.is_replica(node) {
            return Err("ERR Target node is not a master".into());
        }
        let keys = crate::command::cluster::count_keys_in_slot(srv, slot);
        if c.slots[j] == Some(myself) && *node != myself && keys != 0 {
            return Err(format!(
                "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
            ));
        }
        if keys == 0 && c.migrating_slots_to[j].is_some() {
            c.migrating_slots_to[j] = None;
        }
        let was_mine = c.slots[j] == Some(myself);
        c.del_slot(slot);
        c.add_slot(node, slot);
        if was_mine
            && *node != myself
            && c.me().numslots == 0
            && srv.config.cluster_allow_replica_migration
        {
            log(
                srv,
                format!(
                    "Configuration change detected. Reconfiguring myself as a replica of {}",
                    name_str(node)
                ),
            );
            set_master(c, srv, clients, node, now.0);
            c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
        }
        if *node == myself && c.importing_slots_from[j].is_some() {
            if bump_epoch(c).0 {
                log(srv, format!("configEpoch updated after importing slot {slot}"));
            }
            c.importing_slots_from[j] = None;
            broadcast_pong(c, srv, false, now.0);
        }
        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE);
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// CLUSTER BUMPEPOCH: "BUMPED n" or "STILL n" (clusterBumpConfigEpochWithoutConsensus).
pub fn bump_epoch(cluster: &mut Cluster) -> (bool, u64) {
    let max = cluster.max_epoch();
    let me = cluster.me();
    if me.config_epoch == 0 || me.config_epoch != max {
        cluster.current_epoch += 1;
        let e = cluster.current_epoch;
        cluster.me_mut().config_epoch = e;
        cluster.todo(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
        (true, e)
    } else {
        (false, me.config_epoch)
    }
}

/// CLUSTER SET-CONFIG-EPOCH (the caller has refused a negative epoch: "ERR Invalid config
/// epoch specified: n").
pub fn set_config_epoch(cluster: &mut Cluster, epoch: u64) -> Result<(), String> {
    if cluster.nodes.len() > 1 {
        return Err("ERR The user can assign a config epoch only when the node does not know any other node.".into());
    }
    if cluster.me().config_epoch != 0 {
        return Err("ERR Node config epoch is already non-zero".into());
    }
    cluster.me_mut().config_epoch = epoch;
    if cluster.current_epoch < epoch {
        cluster.current_epoch = epoch;
    }
    cluster.todo(todo::UPDATE_STATE | todo::SAVE_CONFIG);
    Ok(())
}

/// PUBLISH / SPUBLISH in a cluster: the message goes to every node (or the shard's nodes)
/// over the bus (clusterPropagatePublish).
pub fn propagate_publish(srv: &mut Server, channel: &[u8], message: &[u8], sharded: bool) {
    with(srv, |c, srv| {
        let type_ = if sharded {
            bus::TYPE_PUBLISHSHARD
        } else {
            bus::TYPE_PUBLISH
        };
        let msg = Message {
            header: build_header(c, srv, type_),
            body: Body::Publish {
                channel: channel.to_vec(),
                message: message.to_vec(),
            },
        };
        if !sharded {
            broadcast(c, srv, &msg);
            return;
        }
        // clusterGetNodesServingMySlots: my master (or me) and its replicas.
        let primary = if c.me().is_master() {
            Some(c.myself)
        } else {
            c.my_master()
        };
        let Some(primary) = primary.filter(|p| c.nodes.contains_key(p)) else {
            return;
        };
        let mut targets = vec![primary];
        targets.extend(c.node(&primary).replicas.iter().copied());
        let bytes = bus::encode(&msg);
        for t in targets {
            let n = c.node(&t);
            if n.flags & (flags::MYSELF | flags::HANDSHAKE) != 0 {
                continue;
            }
            let link = n.link;
            send_bytes(c, srv, link, &bytes, type_);
        }
    });
}

/// removeChannelsInSlot for the slots `del_slot` found lost to this node's shard.
pub(crate) fn remove_lost_channels(
    c: &mut Cluster,
    srv: &mut crate::engine::Server,
    clients: &mut slab::Slab<crate::engine::Client>,
) {
    if c.lost_channel_slots.is_empty() {
        return;
    }
    let mut lost = vec![false; SLOTS];
    for s in c.lost_channel_slots.drain(..) {
        lost[s as usize] = true;
    }
    crate::command::pubsub::unsubscribe_shard_slots(srv, clients, |s| lost[s as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::bus;
    use crate::{Config, Engine, Event, UnixMillis};

    const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

    fn engine() -> Engine {
        let mut cfg = Config::default();
        cfg.set("cluster-enabled", b"yes").unwrap();
        Engine::new(cfg, 3)
    }

    fn myself(e: &Engine) -> NodeName {
        e.srv.cluster.as_ref().unwrap().myself
    }

    #[test]
    fn operations_refuse_with_redis_texts() {
        let mut e = engine();
        let me = myself(&e);
        let srv = &mut e.srv;
        assert_eq!(
            meet(srv, "not-an-ip", 7000, 17000, NOW),
            Err("ERR Invalid node address specified: not-an-ip:7000".into())
        );
        assert_eq!(
            forget(srv, &me, NOW),
            Err("ERR I tried hard but I can't forget myself...".into())
        );
        let other = [b'a'; 40];
        assert_eq!(
            forget(srv, &other, NOW),
            Err(format!("ERR Unknown node {}", "a".repeat(40)))
        );
        let c = srv.cluster.as_mut().unwrap();
        assert_eq!(bump_epoch(c), (true, 1));
        assert_eq!(bump_epoch(c), (false, 1));
        assert_eq!(
            set_config_epoch(c, 5),
            Err("ERR Node config epoch is already non-zero".into())
        );
        // A MEET adds a handshake node; a second one for the same address does not.
        assert_eq!(meet(srv, "127.0.0.1", 7001, 17001, NOW), Ok(()));
        assert_eq!(meet(srv, "127.0.0.1", 7001, 17001, NOW), Ok(()));
        let c = srv.cluster.as_mut().unwrap();
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(
            set_config_epoch(c, 5),
            Err("ERR The user can assign a config epoch only when the node does not know any other node.".into())
        );
        let Engine { srv, clients } = &mut e;
        assert_eq!(
            manual_failover(srv, clients, FailoverMode::Default, NOW),
            Err("ERR You should send CLUSTER FAILOVER to a replica".into())
        );
        assert_eq!(
            replicate(srv, clients, &me, NOW),
            Err("ERR Can't replicate myself".into())
        );
    }

    #[test]
    fn the_cron_connects_to_a_met_node_and_sends_a_meet() {
        let mut e = engine();
        meet(&mut e.srv, "127.0.0.1", 7001, 17001, NOW).unwrap();
        e.tick(NOW);
        let mut link = None;
        while let Some(ev) = e.poll_event() {
            if let Event::ConnectClusterNode { link: l, ip, port } = ev {
                assert_eq!((ip.as_str(), port), ("127.0.0.1", 17001));
                link = Some(l);
            }
        }
        let link = link.expect("a connection asked for");
        e.cluster_link_connected(NOW, link);
        let out = e.cluster_link_output(link);
        let msg = bus::decode(&out).expect("one whole message");
        assert_eq!(msg.header.type_, bus::TYPE_MEET);
        assert_eq!(msg.header.sender, myself(&e));
        // Garbage on a link frees it (and asks the host to close it).
        let inbound = e.cluster_link_accepted(NOW, "127.0.0.1".into());
        e.cluster_link_input(NOW, inbound, b"GET / HTTP/1.1\r\n");
        let closed = std::iter::from_fn(|| e.poll_event())
            .any(|ev| matches!(ev, Event::CloseClusterLink(l) if l == inbound));
        assert!(closed);
    }
}
