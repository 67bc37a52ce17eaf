//! clusterCron (every 100 ms: links to open, PINGs, PFAIL, orphaned masters, elections) and
//! clusterBeforeSleep (the work the handlers postponed). state.rs re-exports `cron` and
//! `before_sleep`, which the engine's tick calls.

use super::bus;
use super::failover;
use super::state::{
    count_non_failing_replicas, create_link, del_node, free_link, log, name_str, node_timeout,
    send_ping, update_myself, update_state, with, Clients, CRON_PERIOD_MS,
};
use super::{flags, todo, Cluster, Health, Link, NodeName};
use crate::engine::{Client, Event, Server};
use crate::time::UnixMillis;
/// clusterCron: every 100 ms (the host's tick): handshakes timing out, links to open, PINGs
/// (a random node each second, and any whose PONG is older than node-timeout/2), PFAIL,
/// orphaned masters and replica migration, elections.
pub fn cron(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis) {
    with(srv, |c, srv| {
        if c.cron_last != 0 && now.0 < c.cron_last + CRON_PERIOD_MS {
            return;
        }
        c.cron_last = now.0.max(1);
        cluster_cron(c, srv, clients, now.0);
    });
}

fn cluster_cron(c: &mut Cluster, srv: &mut Server, clients: &mut Clients, now: u64) {
    c.cron_iteration += 1;
    update_myself(c, srv);
    let timeout = node_timeout(srv);
    let handshake_timeout = timeout.max(1000);
    c.stats_pfail_nodes = 0;
    c.stat_cluster_links_memory = 0;
    let limit = srv.config.cluster_link_sendbuf_limit.max(0) as usize;
    for name in c.sorted_names() {
        let Some(node) = c.nodes.get(&name) else {
            continue;
        };
        // clusterNodeCronResizeBuffers: a buffer using under a fifth of its allocation is
        // trimmed to its length (sdsRemoveFreeSpace).
        for h in [node.link, node.inbound_link].into_iter().flatten() {
            if let Some(l) = c.links.get_mut(h.0) {
                let used = l.sndbuf.len() + l.unsent;
                if l.sndbuf_alloc.saturating_sub(used) / 4 > used {
                    l.sndbuf_alloc = used;
                }
            }
        }
        // clusterNodeCronFreeLinkOnBufferLimitReached: on the allocation (sdsalloc).
        if limit != 0 {
            for h in [node.link, node.inbound_link].into_iter().flatten() {
                if c.links.get(h.0).is_some_and(|l| l.sndbuf_alloc > limit) {
                    let line = format!(
                        "Freeing cluster link({} node {}, used memory: {}) due to exceeding send buffer memory limit.",
                        if c.links[h.0].inbound { "from" } else { "to" },
                        name_str(&name),
                        c.links[h.0].sndbuf_alloc
                    );
                    log(srv, line);
                    free_link(c, srv, h, true);
                    c.stat_cluster_links_buffer_limit_exceeded += 1;
                }
            }
        }
        // clusterNodeCronUpdateClusterLinksMemUsage.
        let node = c.node(&name);
        for h in [node.link, node.inbound_link].into_iter().flatten() {
            c.stat_cluster_links_memory += c.links.get(h.0).map_or(0, Link::mem_usage);
        }
        // clusterNodeCronHandleReconnect.
        let node = c.node(&name);
        let (nflags, ctime) = (node.flags, node.ctime);
        if nflags & (flags::MYSELF | flags::NOADDR) != 0 {
            continue;
        }
        if nflags & flags::PFAIL != 0 {
            c.stats_pfail_nodes += 1;
        }
        let node = c.node(&name);
        if node.in_handshake() && now.saturating_sub(ctime) > handshake_timeout {
            del_node(c, srv, &name, now);
            continue;
        }
        if node.link.is_none() {
            let (ip, cport) = (node.ip.clone(), node.cport);
            let h = create_link(c, Some(name), now, ip.clone());
            srv.events.push_back(Event::ConnectClusterNode {
                link: h,
                ip,
                port: cport,
            });
        }
    }

    // A random node among five sampled, each second.
    if c.cron_iteration.is_multiple_of(10) {
        let names = c.sorted_names();
        let mut min: Option<(NodeName, u64)> = None;
        for _ in 0..5 {
            let pick = names[srv.rng.below(names.len() as u64) as usize];
            let n = c.node(&pick);
            if n.link.is_none() || n.ping_sent != 0 {
                continue;
            }
            if n.flags & (flags::MYSELF | flags::HANDSHAKE) != 0 {
                continue;
            }
            if min.is_none_or(|(_, p)| p > n.pong_received) {
                min = Some((pick, n.pong_received));
            }
        }
        if let Some((n, _)) = min {
            let link = c.node(&n).link.expect("checked");
            send_ping(c, srv, link, bus::TYPE_PING, now);
        }
    }

    let mut orphaned_masters = 0;
    let mut max_replicas = 0;
    let mut this_replicas = 0;
    let mut update = false;
    let me_replica = c.me().is_replica();
    let my_master = c.my_master();
    for name in c.sorted_names() {
        let Some(node) = c.nodes.get(&name) else {
            continue;
        };
        if node.flags & (flags::MYSELF | flags::NOADDR | flags::HANDSHAKE) != 0 {
            continue;
        }
        if me_replica && node.is_master() && !node.failed() {
            let ok = count_non_failing_replicas(c, &name);
            if ok == 0 && node.numslots > 0 && node.flags & flags::MIGRATE_TO != 0 {
                orphaned_masters += 1;
            }
            max_replicas = max_replicas.max(ok);
            if my_master == Some(name) {
                this_replicas = ok;
            }
        }
        let node = c.node(&name);
        let ping_delay = now.saturating_sub(node.ping_sent);
        let data_delay = now.saturating_sub(node.data_received);
        if let Some(l) = node.link {
            if now.saturating_sub(c.links[l.0].ctime) > timeout
                && node.ping_sent != 0
                && ping_delay > timeout / 2
                && data_delay > timeout / 2
            {
                free_link(c, srv, l, true);
            }
        }
        let node = c.node(&name);
        if let Some(l) = node.link {
            if node.ping_sent == 0 && now.saturating_sub(node.pong_received) > timeout / 2 {
                send_ping(c, srv, l, bus::TYPE_PING, now);
                continue;
            }
            if c.mf_end != 0 && c.me().is_master() && c.mf_replica == Some(name) {
                send_ping(c, srv, l, bus::TYPE_PING, now);
                continue;
            }
        }
        let node = c.node_mut(&name);
        if node.ping_sent == 0 {
            continue;
        }
        let node_delay = ping_delay.min(data_delay);
        if node_delay > timeout && node.flags & (flags::PFAIL | flags::FAIL) == 0 {
            node.flags |= flags::PFAIL;
            update = true;
        }
    }

    // A replica whose replication is off follows its master again.
    if c.me().is_replica() && !srv.repl.replica.is_replica() {
        if let Some(m) = c.my_master().and_then(|m| c.nodes.get(&m)) {
            if m.flags & flags::NOADDR == 0 {
                let (ip, port) = (m.ip.clone(), m.port);
                crate::repl::replica::set_master(srv, clients, &ip, port);
            }
        }
    }

    failover::manual_failover_check_timeout(c, srv, now);
    if c.me().is_replica() {
        failover::handle_manual_failover(c, srv, now);
        failover::handle_replica_failover(c, srv, clients, now);
        if orphaned_masters > 0
            && max_replicas >= 2
            && this_replicas == max_replicas
            && srv.config.cluster_allow_replica_migration
        {
            failover::handle_replica_migration(c, srv, clients, max_replicas, now);
        }
    }
    if update || c.state == Health::Fail {
        update_state(c, srv, now);
    }
}

/// clusterBeforeSleep: the work the handlers postponed (`Cluster::todo_before_sleep`):
/// manual failover and failover steps, the cluster state update, nodes.conf saving.
pub fn before_sleep(srv: &mut Server, clients: &mut slab::Slab<Client>, now: UnixMillis) {
    with(srv, |c, srv| cluster_before_sleep(c, srv, clients, now.0));
}

pub(crate) fn cluster_before_sleep(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    now: u64,
) {
    super::ops::remove_lost_channels(c, srv, clients);
    let f = std::mem::take(&mut c.todo_before_sleep);
    if f & todo::HANDLE_MANUALFAILOVER != 0 {
        if c.me().is_replica() {
            failover::handle_manual_failover(c, srv, now);
            failover::handle_replica_failover(c, srv, clients, now);
        }
    } else if f & todo::HANDLE_FAILOVER != 0 {
        failover::handle_replica_failover(c, srv, clients, now);
    }
    if f & todo::UPDATE_STATE != 0 {
        update_state(c, srv, now);
    }
    if f & todo::SAVE_CONFIG != 0 {
        c.config_dirty = true;
        if f & todo::FSYNC_CONFIG != 0 {
            c.config_fsync = true;
        }
    }
}
