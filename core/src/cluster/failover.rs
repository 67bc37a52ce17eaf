//! Replica elections and promotion (clusterHandleSlaveFailover, clusterSendFailoverAuthIfNeeded,
//! clusterFailoverReplaceYourMaster), manual failover (CLUSTER FAILOVER, MFSTART) and replica
//! migration (clusterHandleSlaveMigration), as cluster.c does them.

use super::bus::{self, Header};
use super::state::{
    self, bit, broadcast_message, broadcast_pong, count_non_failing_replicas, empty_message,
    name_str, node_timeout, send_to_node, set_node_as_master, update_state, Clients, FailoverMode,
};
use super::{flags, todo, CantFailover, Cluster, Health, NodeName, SLOTS};
use crate::engine::{Event, Server};

/// CLUSTER_MF_TIMEOUT and CLUSTER_MF_PAUSE_MULT (the master's write pause lasts while the
/// manual failover does: `paused`).
pub const MF_TIMEOUT: u64 = 5000;
/// CLUSTER_SLAVE_MIGRATION_DELAY.
const MIGRATION_DELAY: u64 = 5000;
/// CLUSTER_CANT_FAILOVER_RELOG_PERIOD (seconds).
const CANT_FAILOVER_RELOG_PERIOD: u64 = 10;

fn log(srv: &mut Server, line: String) {
    srv.events.push_back(Event::Log(line));
}

/// Whether this master has paused writes for a replica's manual failover (MFSTART): the
/// pause ends with the manual failover (resetManualFailover unpauses).
pub fn paused(c: &Cluster) -> bool {
    c.mf_end != 0 && c.mf_replica.is_some()
}

/// resetManualFailover.
pub(crate) fn reset_manual_failover(c: &mut Cluster) {
    c.mf_end = 0;
    c.mf_can_start = false;
    c.mf_replica = None;
    c.mf_master_offset = -1;
}

/// manualFailoverCheckTimeout.
pub(crate) fn manual_failover_check_timeout(c: &mut Cluster, srv: &mut Server, now: u64) {
    if c.mf_end != 0 && c.mf_end < now {
        log(srv, "Manual failover timed out.".into());
        reset_manual_failover(c);
    }
}

/// clusterHandleManualFailover: once the paused master's offset is reached, the election
/// may start.
pub(crate) fn handle_manual_failover(c: &mut Cluster, srv: &mut Server, _now: u64) {
    if c.mf_end == 0 || c.mf_can_start || c.mf_master_offset == -1 {
        return;
    }
    if c.mf_master_offset == crate::repl::replica::slave_offset(srv) {
        c.mf_can_start = true;
        log(
            srv,
            "All master replication stream processed, manual failover can start.".into(),
        );
        c.todo(todo::HANDLE_FAILOVER);
        return;
    }
    c.todo(todo::HANDLE_MANUALFAILOVER);
}

/// clusterSendFailoverAuthIfNeeded: a master serving slots votes once per epoch, for a
/// replica whose master failed (or any, for a manual failover), not twice for the same master
/// within 2 × node-timeout, and only when the replica's config is not older than the slots'.
pub(crate) fn send_failover_auth_if_needed(
    c: &mut Cluster,
    srv: &mut Server,
    node: &NodeName,
    request: &Header,
    now: u64,
) {
    let me = c.me();
    if me.is_replica() || me.numslots == 0 {
        return;
    }
    let name = name_str(node);
    if request.current_epoch < c.current_epoch {
        let line = format!(
            "Failover auth denied to {name}: reqEpoch ({}) < curEpoch({})",
            request.current_epoch, c.current_epoch
        );
        log(srv, line);
        return;
    }
    if c.last_vote_epoch == c.current_epoch {
        let line = format!(
            "Failover auth denied to {name}: already voted for epoch {}",
            c.current_epoch
        );
        log(srv, line);
        return;
    }
    let force_ack = request.mflags[0] & bus::FLAG0_FORCEACK != 0;
    let n = &c.nodes[node];
    let master = n.replicaof.filter(|m| c.nodes.contains_key(m));
    if n.is_master() {
        log(
            srv,
            format!("Failover auth denied to {name}: it is a master node"),
        );
        return;
    }
    let Some(master) = master else {
        log(
            srv,
            format!("Failover auth denied to {name}: I don't know its master"),
        );
        return;
    };
    if !c.nodes[&master].failed() && !force_ack {
        log(
            srv,
            format!("Failover auth denied to {name}: its master is up"),
        );
        return;
    }
    let timeout = node_timeout(srv);
    let since = now.saturating_sub(c.nodes[&master].voted_time);
    if since < timeout * 2 {
        log(
            srv,
            format!(
                "Failover auth denied to {name}: can't vote about this master before {} milliseconds",
                timeout * 2 - since
            ),
        );
        return;
    }
    for j in 0..SLOTS {
        if !bit(&request.myslots, j) || c.slot_unclaimed(j) {
            continue;
        }
        let owner = c.slots[j].expect("claimed");
        let e = c.nodes[&owner].config_epoch;
        if e <= request.config_epoch {
            continue;
        }
        log(
            srv,
            format!(
                "Failover auth denied to {name}: slot {j} epoch ({e}) > reqEpoch ({})",
                request.config_epoch
            ),
        );
        return;
    }
    c.last_vote_epoch = c.current_epoch;
    c.nodes.get_mut(&master).expect("known").voted_time = now;
    c.todo(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
    let ack = empty_message(c, srv, bus::TYPE_FAILOVER_AUTH_ACK);
    send_to_node(c, srv, node, &ack);
    let line = format!(
        "Failover auth granted to {name} for epoch {}",
        c.current_epoch
    );
    log(srv, line);
}

/// clusterGetSlaveRank: how many replicas of our master (that may fail over) have a
/// greater offset than ours.
fn replica_rank(c: &Cluster, srv: &Server) -> u32 {
    let Some(master) = c.my_master().and_then(|m| c.nodes.get(&m)) else {
        return 0;
    };
    let myoffset = crate::repl::replica::slave_offset(srv);
    master
        .replicas
        .iter()
        .filter(|r| **r != c.myself)
        .filter_map(|r| c.nodes.get(r))
        .filter(|r| r.flags & flags::NOFAILOVER == 0 && r.repl_offset > myoffset)
        .count() as u32
}

/// clusterLogCantFailover.
fn log_cant_failover(c: &mut Cluster, srv: &mut Server, reason: CantFailover, now: u64) {
    if reason == c.cant_failover_reason
        && (now / 1000).saturating_sub(c.cant_failover_logged / 1000) < CANT_FAILOVER_RELOG_PERIOD
    {
        return;
    }
    c.cant_failover_reason = reason;
    let nolog = node_timeout(srv) + 5000;
    if let Some(m) = c.my_master().and_then(|m| c.nodes.get(&m)) {
        if m.failed() && now.saturating_sub(m.fail_time) < nolog {
            return;
        }
    }
    let msg = match reason {
        CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
        CantFailover::Expired => "Failover attempt expired.",
        CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
        CantFailover::None => "Unknown reason code.",
    };
    c.cant_failover_logged = now;
    log(srv, format!("Currently unable to failover: {msg}"));
}

/// clusterFailoverReplaceYourMaster: this replica becomes a master (REPLICAOF NO ONE's path,
/// the old history kept as replid2), takes its master's slots and tells everyone.
pub(crate) fn replace_your_master(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    now: u64,
) {
    let myself = c.myself;
    let Some(old) = c.my_master().filter(|m| c.nodes.contains_key(m)) else {
        return;
    };
    if c.me().is_master() {
        return;
    }
    set_node_as_master(c, &myself);
    crate::repl::replica::unset_master(srv, clients);
    for j in 0..SLOTS {
        if c.nodes[&old].has_slot(j as u16) {
            c.del_slot(j as u16);
            c.add_slot(&myself, j as u16);
        }
    }
    update_state(c, srv, now);
    c.config_dirty = true;
    c.config_fsync = true;
    broadcast_pong(c, srv, false, now);
    reset_manual_failover(c);
}

/// clusterHandleSlaveFailover: a replica of a failed master (or in a manual failover) with
/// recent enough data waits its rank's delay, asks the masters for votes in a new epoch and,
/// with a majority, replaces its master.
pub(crate) fn handle_replica_failover(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    now: u64,
) {
    let auth_age = now.saturating_sub(c.failover_auth_time);
    let needed_quorum = c.size / 2 + 1;
    let manual = c.mf_end != 0 && c.mf_can_start;
    c.todo_before_sleep &= !todo::HANDLE_FAILOVER;
    let timeout = node_timeout(srv);
    let auth_timeout = (timeout * 2).max(2000);
    let auth_retry_time = auth_timeout * 2;

    let me = c.me();
    let master = me.replicaof.and_then(|m| c.nodes.get(&m));
    let Some(master) = master.filter(|_| me.is_replica()) else {
        c.cant_failover_reason = CantFailover::None;
        return;
    };
    if (!manual && (!master.failed() || srv.config.cluster_replica_no_failover))
        || master.numslots == 0
    {
        c.cant_failover_reason = CantFailover::None;
        return;
    }
    let mut data_age = crate::repl::replica::data_age_ms(srv, now);
    if data_age > timeout {
        data_age -= timeout;
    }
    let factor = srv.config.cluster_replica_validity_factor.max(0) as u64;
    let ping_period = srv.config.repl_ping_replica_period.max(0) as u64;
    if factor != 0 && data_age > ping_period * 1000 + timeout * factor && !manual {
        log_cant_failover(c, srv, CantFailover::DataAge, now);
        return;
    }
    if auth_age > auth_retry_time {
        c.failover_auth_time = now + 500 + srv.rng.below(500);
        c.failover_auth_count = 0;
        c.failover_auth_sent = false;
        c.failover_auth_rank = replica_rank(c, srv);
        c.failover_auth_time += u64::from(c.failover_auth_rank) * 1000;
        if c.mf_end != 0 {
            c.failover_auth_time = now;
            c.failover_auth_rank = 0;
            c.todo(todo::HANDLE_FAILOVER);
        }
        let line = format!(
            "Start of election delayed for {} milliseconds (rank #{}, offset {}).",
            c.failover_auth_time.saturating_sub(now),
            c.failover_auth_rank,
            crate::repl::replica::slave_offset(srv)
        );
        log(srv, line);
        broadcast_pong(c, srv, true, now);
        return;
    }
    if !c.failover_auth_sent && c.mf_end == 0 {
        let newrank = replica_rank(c, srv);
        if newrank > c.failover_auth_rank {
            let added = u64::from(newrank - c.failover_auth_rank) * 1000;
            c.failover_auth_time += added;
            c.failover_auth_rank = newrank;
            log(
                srv,
                format!("Replica rank updated to #{newrank}, added {added} milliseconds of delay."),
            );
        }
    }
    if now < c.failover_auth_time {
        log_cant_failover(c, srv, CantFailover::WaitingDelay, now);
        return;
    }
    if auth_age > auth_timeout {
        log_cant_failover(c, srv, CantFailover::Expired, now);
        return;
    }
    if !c.failover_auth_sent {
        c.current_epoch += 1;
        c.failover_auth_epoch = c.current_epoch;
        log(
            srv,
            format!(
                "Starting a failover election for epoch {}.",
                c.current_epoch
            ),
        );
        // clusterRequestFailoverAuth: FORCEACK during a manual failover.
        let mut req = empty_message(c, srv, bus::TYPE_FAILOVER_AUTH_REQUEST);
        if c.mf_end != 0 {
            req.header.mflags[0] |= bus::FLAG0_FORCEACK;
        }
        broadcast_message(c, srv, &req);
        c.failover_auth_sent = true;
        c.todo(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
        return;
    }
    if c.failover_auth_count >= needed_quorum {
        log(srv, "Failover election won: I'm the new master.".into());
        if c.me().config_epoch < c.failover_auth_epoch {
            let e = c.failover_auth_epoch;
            c.me_mut().config_epoch = e;
            log(
                srv,
                format!("configEpoch set to {e} after successful failover"),
            );
        }
        replace_your_master(c, srv, clients, now);
    } else {
        log_cant_failover(c, srv, CantFailover::WaitingVotes, now);
    }
}

/// clusterHandleSlaveMigration: a replica of a master with the most working replicas (the
/// one with the smallest name) moves to an orphaned master after a delay, when its own master
/// keeps more than cluster-migration-barrier replicas.
pub(crate) fn handle_replica_migration(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    max_replicas: usize,
    now: u64,
) {
    if c.state != Health::Ok {
        return;
    }
    let Some(mymaster) = c.my_master().filter(|m| c.nodes.contains_key(m)) else {
        return;
    };
    let okslaves = c.nodes[&mymaster]
        .replicas
        .iter()
        .filter_map(|r| c.nodes.get(r))
        .filter(|r| !r.failed() && !r.timed_out())
        .count();
    if okslaves as i64 <= srv.config.cluster_migration_barrier {
        return;
    }
    let mut candidate = c.myself;
    let mut target: Option<NodeName> = None;
    for name in c.sorted_names() {
        let n = &c.nodes[&name];
        let mut orphaned = !(n.is_replica() || n.failed()) && n.flags & flags::MIGRATE_TO != 0;
        let ok = if n.is_master() {
            count_non_failing_replicas(c, &name)
        } else {
            0
        };
        if ok > 0 {
            orphaned = false;
        }
        if orphaned {
            if target.is_none() && n.numslots > 0 {
                target = Some(name);
            }
            let n = c.nodes.get_mut(&name).expect("known");
            if n.orphaned_time == 0 {
                n.orphaned_time = now;
            }
        } else {
            c.nodes.get_mut(&name).expect("known").orphaned_time = 0;
        }
        if ok == max_replicas {
            for r in &c.nodes[&name].replicas {
                if *r < candidate {
                    candidate = *r;
                }
            }
        }
    }
    if let Some(t) = target {
        if candidate == c.myself && now.saturating_sub(c.nodes[&t].orphaned_time) > MIGRATION_DELAY
        {
            log(
                srv,
                format!("Migrating to orphaned master {}", name_str(&t)),
            );
            state::set_master(c, srv, clients, &t, now);
        }
    }
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] (the checks and replies of clusterCommand).
pub(crate) fn cluster_failover_command(
    c: &mut Cluster,
    srv: &mut Server,
    clients: &mut Clients,
    mode: FailoverMode,
    now: u64,
) -> Result<(), String> {
    let force = mode != FailoverMode::Default;
    let me = c.me();
    if me.is_master() {
        return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
    }
    let Some(master) = me.replicaof.filter(|m| c.nodes.contains_key(m)) else {
        return Err("ERR I'm a replica but my master is unknown to me".into());
    };
    let m = &c.nodes[&master];
    if !force && (m.failed() || m.link.is_none()) {
        return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
    }
    reset_manual_failover(c);
    c.mf_end = now + MF_TIMEOUT;
    match mode {
        FailoverMode::Takeover => {
            log(srv, "Taking over the master (user request).".into());
            state::bump_epoch(c);
            replace_your_master(c, srv, clients, now);
        }
        FailoverMode::Force => {
            log(srv, "Forced failover user request accepted.".into());
            c.mf_can_start = true;
        }
        FailoverMode::Default => {
            log(srv, "Manual failover user request accepted.".into());
            let msg = empty_message(c, srv, bus::TYPE_MFSTART);
            send_to_node(c, srv, &master, &msg);
        }
    }
    Ok(())
}
