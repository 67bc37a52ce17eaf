//! The node list as CLUSTER NODES prints it (clusterGenNodesDescription): one line per node,
//! `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
//! <link-state> <slot> <slot-range> ... [<slot>->-<node>] [<slot>-<-<node>]`. nodes.conf
//! stores the same lines.

use super::{flags, Cluster, Node, SLOTS};
use std::fmt::Write;

/// Who the text is for: CLUSTER NODES (as a client sees it) or nodes.conf (Redis writes the
/// same lines there but leaves out nodes still in handshake; the migrating/importing brackets
/// appear only for `myself`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Client,
    /// A plaintext client of a tls-cluster node: each node's plaintext port where it has one
    /// (clusterGenNodesDescription's use_pport).
    PlainClient,
    Config,
}

/// redisNodeFlagsTable, in its order.
const FLAG_NAMES: &[(u16, &str)] = &[
    (flags::MYSELF, "myself"),
    (flags::MASTER, "master"),
    (flags::SLAVE, "slave"),
    (flags::PFAIL, "fail?"),
    (flags::FAIL, "fail"),
    (flags::HANDSHAKE, "handshake"),
    (flags::NOADDR, "noaddr"),
    (flags::NOFAILOVER, "nofailover"),
];

/// representClusterNodeFlags: the comma-separated flag names, "noflags" when none.
pub fn flag_names(f: u16) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "noflags".into()
    } else {
        names.join(",")
    }
}

fn name(n: &[u8; super::NAMELEN]) -> &str {
    std::str::from_utf8(n).unwrap_or("")
}

/// clusterGenNodeDescription: one node's line (no newline), as CLUSTER NODES, CLUSTER REPLICAS
/// and nodes.conf print it.
pub fn node_line(c: &Cluster, node: &Node) -> String {
    node_line_ports(c, node, false)
}

/// `node_line` with the plaintext port (pport) where the node has one, when `use_pport`.
pub fn node_line_ports(c: &Cluster, node: &Node, use_pport: bool) -> String {
    let mut s = String::with_capacity(128);
    s.push_str(name(&node.name));
    let port = if use_pport && node.pport != 0 {
        node.pport
    } else {
        node.port
    };
    let _ = write!(s, " {}:{}@{}", node.ip, port, node.cport);
    if !node.hostname.is_empty() {
        let _ = write!(s, ",{}", node.hostname);
    }
    s.push(' ');
    s.push_str(&flag_names(node.flags));
    s.push(' ');
    match node.replicaof {
        Some(m) => s.push_str(name(&m)),
        None => s.push('-'),
    }
    // A replica shows its master's config epoch.
    let epoch = match node.replicaof.and_then(|m| c.nodes.get(&m)) {
        Some(m) if node.is_replica() => m.config_epoch,
        _ => node.config_epoch,
    };
    let connected = node.link.is_some() || node.flags & flags::MYSELF != 0;
    let _ = write!(
        s,
        " {} {} {} {}",
        node.ping_sent,
        node.pong_received,
        epoch,
        if connected {
            "connected"
        } else {
            "disconnected"
        }
    );
    // The slots it serves, as single slots and start-end runs, from its own bitmap.
    for (st, end) in slot_runs(&node.slots) {
        if st == end {
            let _ = write!(s, " {st}");
        } else {
            let _ = write!(s, " {st}-{end}");
        }
    }
    if node.flags & flags::MYSELF != 0 {
        for j in 0..SLOTS {
            if let Some(to) = &c.migrating_slots_to[j] {
                let _ = write!(s, " [{j}->-{}]", name(to));
            } else if let Some(from) = &c.importing_slots_from[j] {
                let _ = write!(s, " [{j}-<-{}]", name(from));
            }
        }
    }
    s
}

/// The runs of set bits of a slot bitmap, (first, last) in order, found 64 slots at a time.
pub fn slot_runs(bits: &[u8; SLOTS / 8]) -> Vec<(usize, usize)> {
    let word = |w: usize| crate::cluster::state::word(bits, w);
    let words = SLOTS / 64;
    let mut runs = Vec::new();
    let mut w = 0;
    let mut done = 0u64; // bits of word w already covered
    while w < words {
        let v = word(w) & !done;
        if v == 0 {
            w += 1;
            done = 0;
            continue;
        }
        let start = w * 64 + v.trailing_zeros() as usize;
        // The run ends at the first clear bit at or after `start`.
        let (mut ew, mut from) = (w, start % 64);
        let end = loop {
            let clear = !word(ew) & (u64::MAX << from);
            if clear != 0 {
                break ew * 64 + clear.trailing_zeros() as usize;
            }
            ew += 1;
            from = 0;
            if ew == words {
                break SLOTS;
            }
        };
        runs.push((start, end - 1));
        w = end / 64;
        done = if end % 64 == 0 {
            0
        } else {
            u64::MAX >> (64 - end % 64)
        };
        if end == SLOTS {
            break;
        }
    }
    runs
}

/// Every node's line, each ending in a newline: myself first, then the others by name (Redis
/// lists its node dict's order, which no client relies on).
pub fn nodes(cluster: &Cluster, filter: Filter) -> String {
    let mut list: Vec<&Node> = cluster.nodes.values().collect();
    list.sort_by(|a, b| {
        (b.flags & flags::MYSELF != 0)
            .cmp(&(a.flags & flags::MYSELF != 0))
            .then(a.name.cmp(&b.name))
    });
    let mut out = String::new();
    for n in list {
        if filter == Filter::Config && n.flags & flags::HANDSHAKE != 0 {
            continue;
        }
        out.push_str(&node_line_ports(cluster, n, filter == Filter::PlainClient));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// slot_runs, word-wise, gives the runs a slot-by-slot scan finds.
    #[test]
    fn slot_runs_match_a_bit_by_bit_scan() {
        let mut seed = 7u64;
        for case in 0..300 {
            let mut bits = [0u8; SLOTS / 8];
            match case {
                0 => {}
                1 => bits = [0xff; SLOTS / 8],
                _ => {
                    for b in bits.iter_mut() {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let r = (seed >> 33) as u8;
                        *b = match case % 4 {
                            0 => r,
                            1 => {
                                if r < 200 {
                                    0
                                } else {
                                    r
                                }
                            }
                            2 => {
                                if r < 20 {
                                    r
                                } else {
                                    0xff
                                }
                            }
                            _ => {
                                if r < 128 {
                                    0
                                } else {
                                    0xff
                                }
                            }
                        };
                    }
                }
            }
            let mut naive = Vec::new();
            let mut start = None;
            for j in 0..=SLOTS {
                let set = j < SLOTS && bits[j >> 3] & (1 << (j & 7)) != 0;
                match (set, start) {
                    (true, None) => start = Some(j),
                    (false, Some(st)) => {
                        naive.push((st, j - 1));
                        start = None;
                    }
                    _ => {}
                }
            }
            assert_eq!(super::slot_runs(&bits), naive, "case {case}");
        }
    }

    #[test]
    fn lines_as_redis_prints_them() {
        let mut c = Cluster::new([b'a'; 40], 0);
        let me = c.myself;
        c.me_mut().port = 7000;
        c.me_mut().cport = 17000;
        c.me_mut().ip = "127.0.0.1".into();
        for s in [0u16, 2, 3, 4, 16383] {
            c.add_slot(&me, s);
        }
        let other = [b'b'; 40];
        let mut n = Node::new(other, flags::MASTER | flags::HANDSHAKE, 0);
        n.hostname = "h".into();
        c.nodes.insert(other, n);
        c.migrating_slots_to[2] = Some(other);
        c.importing_slots_from[9] = Some(other);
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        assert_eq!(
            nodes(&c, Filter::Client),
            format!(
                "{a} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected 0 2-4 16383 [2->-{b}] [9-<-{b}]\n\
                 {b} :0@0,h master,handshake - 0 0 0 disconnected\n"
            )
        );
        assert_eq!(nodes(&c, Filter::Config).lines().count(), 1);
        assert_eq!(flag_names(0), "noflags");
    }
}
