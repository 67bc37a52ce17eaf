//! nodes.conf (cluster.c's clusterSaveConfig / clusterLoadConfig): the node list as CLUSTER
//! NODES prints it (`describe::nodes`), then `vars currentEpoch N lastVoteEpoch M`. The host
//! writes the text the core hands it and gives it back at startup.

use super::{flags, Cluster, Node, NodeName, NAMELEN, PORT_INCR, SLOTS};

/// The file's text for the current state.
pub fn to_text(cluster: &Cluster) -> String {
    let mut s = super::describe::nodes(cluster, super::describe::Filter::Config);
    s.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        cluster.current_epoch, cluster.last_vote_epoch
    ));
    s
}

/// What Redis logs before exiting on a file it cannot read (clusterLoadConfig's `fmterr`).
pub const CORRUPTED: &str = "Unrecoverable error: corrupted cluster config file.";
/// serverPanic's log line for a flag it does not know (then Redis crashes).
pub const UNKNOWN_FLAG: &str =
    "Guru Meditation: Unknown flag in redis cluster config file #cluster.c:292";
/// A second `myself` line: serverAssert's two log lines (then Redis crashes).
pub const TWO_MYSELVES: &str =
    "=== ASSERTION FAILED ===\n==> cluster.c:271 'server.cluster->myself == NULL' is not true";

/// A nodes.conf's text → the state it describes (clusterLoadConfig, 7.0.15), or the line Redis
/// logs before exiting. An empty file is Ok(None): a fresh node (Redis keeps the random name
/// it made and writes the file).
///
/// As Redis: lines split as sdssplitargs does, blank lines skipped; `vars` takes
/// currentEpoch / lastVoteEpoch (other names skipped); a node line has at least 8 fields:
/// `id ip:port[@cport][,hostname] flags master|- ping-sent pong-recv configEpoch link-state
/// slot...`. Nodes named as a master or in a migrating/importing bracket are created (flags
/// none) if they have no line (yet). ping-sent / pong-received are only "now if not 0"; a
/// replica with a known master gets config epoch 0; `fail` sets fail_time to now; slots are
/// single, `a-b` ranges (a slot already served stays with its first owner) or
/// `[slot->-id]` (migrating to) / `[slot-<-id]` (importing from), taken on any line (Redis
/// writes them only on myself's). The link-state field is ignored. Numbers are read as atoi
/// and strtoull do (leniently). No `myself` line is a corrupted file. currentEpoch is raised
/// to the largest config epoch found.
pub fn load(text: &str, now: u64) -> Result<Option<Cluster>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let corrupted = || CORRUPTED.to_string();
    let mut c = Cluster::new([0; NAMELEN], now);
    c.nodes.clear();
    let mut myself: Option<NodeName> = None;
    for line in text.as_bytes().split_inclusive(|&b| b == b'\n') {
        if line.is_empty() || line[0] == b'\n' || line[0] == 0 {
            continue;
        }
        let mut argv = Vec::new();
        if !crate::resp::request::split_args(line, &mut argv) || argv.is_empty() {
            return Err(corrupted());
        }
        if argv[0].eq_ignore_ascii_case(b"vars") {
            if argv.len() % 2 == 0 {
                return Err(corrupted());
            }
            for pair in argv[1..].chunks(2) {
                if pair[0].eq_ignore_ascii_case(b"currentEpoch") {
                    c.current_epoch = strtoull(&pair[1]);
                } else if pair[0].eq_ignore_ascii_case(b"lastVoteEpoch") {
                    c.last_vote_epoch = strtoull(&pair[1]);
                }
                // Redis: "Skipping unknown cluster config variable '%s'".
            }
            continue;
        }
        if argv.len() < 8 {
            return Err(corrupted());
        }
        let name = node_id(&argv[0]).ok_or_else(corrupted)?;
        ensure_node(&mut c, name, now);

        // ip:port[@cport][,hostname]
        let mut addr: &[u8] = &argv[1];
        let hostname = match addr.iter().position(|&b| b == b',') {
            Some(i) => {
                let h = String::from_utf8_lossy(&addr[i + 1..]).into_owned();
                addr = &addr[..i];
                h
            }
            None => String::new(),
        };
        let colon = addr
            .iter()
            .rposition(|&b| b == b':')
            .ok_or_else(corrupted)?;
        let ip = String::from_utf8_lossy(&addr[..colon]).into_owned();
        let ports = &addr[colon + 1..];
        let (port, cport) = match ports.iter().position(|&b| b == b'@') {
            Some(i) => (atoi(&ports[..i]), Some(atoi(&ports[i + 1..]))),
            None => (atoi(ports), None),
        };
        {
            let n = c.nodes.get_mut(&name).expect("created above");
            n.hostname = hostname;
            n.ip = ip;
            n.port = port as u16;
            n.cport = match cport {
                Some(p) => p as u16,
                None => (port as u16).wrapping_add(PORT_INCR),
            };
        }

        // Flags.
        for f in argv[2].split(|&b| b == b',') {
            let n = c.nodes.get_mut(&name).expect("created above");
            let lower = f.to_ascii_lowercase();
            match &lower[..] {
                b"myself" => {
                    if myself.is_some() {
                        return Err(TWO_MYSELVES.into());
                    }
                    myself = Some(name);
                    n.flags |= flags::MYSELF;
                }
                b"master" => n.flags |= flags::MASTER,
                b"slave" => n.flags |= flags::SLAVE,
                b"fail?" => n.flags |= flags::PFAIL,
                b"fail" => {
                    n.flags |= flags::FAIL;
                    n.fail_time = now;
                }
                b"handshake" => n.flags |= flags::HANDSHAKE,
                b"noaddr" => n.flags |= flags::NOADDR,
                b"nofailover" => n.flags |= flags::NOFAILOVER,
                b"noflags" => {}
                _ => return Err(UNKNOWN_FLAG.into()),
            }
        }

        // Its master, if any.
        if argv[3].first() != Some(&b'-') {
            let master = node_id(&argv[3]).ok_or_else(corrupted)?;
            ensure_node(&mut c, master, now);
            c.nodes.get_mut(&name).expect("created above").replicaof = Some(master);
            let m = c.nodes.get_mut(&master).expect("created above");
            if !m.replicas.contains(&name) {
                m.replicas.push(name);
            }
        }

        {
            let n = c.nodes.get_mut(&name).expect("created above");
            if atoi(&argv[4]) != 0 {
                n.ping_sent = now;
            }
            if atoi(&argv[5]) != 0 {
                n.pong_received = now;
            }
            n.config_epoch = if n.is_replica() && n.replicaof.is_some() {
                0
            } else {
                strtoull(&argv[6])
            };
        }

        // Slots.
        for arg in &argv[8..] {
            let (start, stop) = if arg.first() == Some(&b'[') {
                // [slot->-id] or [slot-<-id]
                let dash = arg.iter().position(|&b| b == b'-').ok_or_else(corrupted)?;
                let direction = arg.get(dash + 1).copied().unwrap_or(0);
                let slot = atoi(&arg[1..dash]);
                if !(0..SLOTS as i64).contains(&slot) {
                    return Err(corrupted());
                }
                let rest = arg.get(dash + 3..).unwrap_or(&[]);
                let close = rest.iter().position(|&b| b == b']').ok_or_else(corrupted)?;
                let other = node_id(&rest[..close]).ok_or_else(corrupted)?;
                ensure_node(&mut c, other, now);
                if direction == b'>' {
                    c.migrating_slots_to[slot as usize] = Some(other);
                } else {
                    c.importing_slots_from[slot as usize] = Some(other);
                }
                continue;
            } else if let Some(dash) = arg.iter().position(|&b| b == b'-') {
                (atoi(&arg[..dash]), atoi(&arg[dash + 1..]))
            } else {
                (atoi(arg), atoi(arg))
            };
            let range = 0..SLOTS as i64;
            if !range.contains(&start) || !range.contains(&stop) {
                return Err(corrupted());
            }
            for slot in start..=stop {
                c.add_slot(&name, slot as u16);
            }
        }
    }
    let Some(me) = myself else {
        return Err(corrupted());
    };
    c.myself = me;
    let max_epoch = c.nodes.values().map(|n| n.config_epoch).max().unwrap_or(0);
    c.current_epoch = c.current_epoch.max(max_epoch);
    // Loaded, so nothing to write yet (clusterInit saves only a fresh node's file).
    c.config_dirty = false;
    c.config_fsync = false;
    Ok(Some(c))
}

/// createClusterNode(name, 0) + clusterAddNode when the name is new.
fn ensure_node(c: &mut Cluster, name: NodeName, now: u64) {
    c.nodes
        .entry(name)
        .or_insert_with(|| Node::new(name, 0, now));
}

/// verifyClusterNodeId: 40 characters, each a-z or 0-9.
fn node_id(s: &[u8]) -> Option<NodeName> {
    if s.len() != NAMELEN
        || !s
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return None;
    }
    let mut n = [0u8; NAMELEN];
    n.copy_from_slice(s);
    Some(n)
}

/// C's atoi (strtol, then the int it returns): leading blanks, a sign, digits; 0 if none.
fn atoi(s: &[u8]) -> i64 {
    let (neg, digits) = sign_and_digits(s);
    let mut v: i64 = 0;
    for &d in digits {
        v = v.saturating_mul(10).saturating_add((d - b'0') as i64);
    }
    let v = if neg { v.saturating_neg() } else { v };
    v as i32 as i64
}

/// C's strtoull(s, NULL, 10): as atoi, saturating at u64::MAX, a '-' negating modulo 2^64.
fn strtoull(s: &[u8]) -> u64 {
    let (neg, digits) = sign_and_digits(s);
    let mut v: u64 = 0;
    for &d in digits {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add((d - b'0') as u64))
        {
            Some(x) => v = x,
            None => return u64::MAX,
        }
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

fn sign_and_digits(s: &[u8]) -> (bool, &[u8]) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let end = s[i..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(s.len(), |p| i + p);
    (neg, &s[i..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const ID1: &str = "da414b7049e2d126bb6779be7223cff22db53867";
    const ID2: &str = "e80a95d029b83e26afad6db3376912afb112fa73";
    const ID3: &str = "b6e59cce1ff8f9b0ba96270f66d2012955baa210";

    /// Recorded from a 3-node redis-server 7.0.15 cluster (testdata/cluster/README.md).
    const FILES: [(&str, &str); 6] = [
        (
            "master-migrating",
            include_str!("../../../testdata/cluster/master-migrating.conf"),
        ),
        (
            "master-importing",
            include_str!("../../../testdata/cluster/master-importing.conf"),
        ),
        (
            "replica",
            include_str!("../../../testdata/cluster/replica.conf"),
        ),
        (
            "after-failover-old-master",
            include_str!("../../../testdata/cluster/after-failover-old-master.conf"),
        ),
        (
            "after-failover-other-master",
            include_str!("../../../testdata/cluster/after-failover-other-master.conf"),
        ),
        (
            "after-failover-new-master",
            include_str!("../../../testdata/cluster/after-failover-new-master.conf"),
        ),
    ];

    fn id(s: &str) -> NodeName {
        s.as_bytes().try_into().unwrap()
    }
    fn file(name: &str) -> &'static str {
        FILES.iter().find(|f| f.0 == name).unwrap().1
    }
    fn loaded(name: &str) -> Cluster {
        load(file(name), NOW).unwrap().unwrap()
    }
    fn owners(c: &Cluster, node: &str) -> Vec<u16> {
        (0..SLOTS as u16)
            .filter(|&s| c.slots[s as usize] == Some(id(node)))
            .collect()
    }

    /// A minimal clusterGenNodeDescription for the tests (describe.rs is the real one): the
    /// fields load keeps, with ping/pong as 0 or "some" and no link state.
    fn describe(c: &Cluster, n: &Node) -> String {
        let f = super::super::describe::flag_names(n.flags);
        let mut line = format!(
            "{} {}:{}@{}{}{} {} {} {} {} {}",
            std::str::from_utf8(&n.name).unwrap(),
            n.ip,
            n.port,
            n.cport,
            if n.hostname.is_empty() { "" } else { "," },
            n.hostname,
            f,
            n.replicaof
                .map_or("-".to_string(), |m| String::from_utf8(m.to_vec()).unwrap()),
            (n.ping_sent != 0) as u8,
            (n.pong_received != 0) as u8,
            // A replica shows its master's epoch.
            n.replicaof
                .and_then(|m| c.nodes.get(&m))
                .map_or(n.config_epoch, |m| m.config_epoch),
        );
        let mut slot = 0;
        while slot < SLOTS {
            if !n.has_slot(slot as u16) {
                slot += 1;
                continue;
            }
            let start = slot;
            while slot + 1 < SLOTS && n.has_slot(slot as u16 + 1) {
                slot += 1;
            }
            if start == slot {
                line += &format!(" {start}");
            } else {
                line += &format!(" {start}-{slot}");
            }
            slot += 1;
        }
        if n.flags & flags::MYSELF != 0 {
            for s in 0..SLOTS {
                if let Some(to) = c.migrating_slots_to[s] {
                    line += &format!(" [{s}->-{}]", std::str::from_utf8(&to).unwrap());
                }
                if let Some(from) = c.importing_slots_from[s] {
                    line += &format!(" [{s}-<-{}]", std::str::from_utf8(&from).unwrap());
                }
            }
        }
        line
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    /// Every recorded file loads into a state that describes back to the file's lines (but
    /// for ping/pong values and link states, which load does not keep).
    #[test]
    fn recorded_files_describe_back() {
        for (name, text) in FILES {
            let c = load(text, NOW).unwrap().unwrap();
            let want: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with("vars"))
                .map(|l| {
                    let mut f: Vec<String> = l.split(' ').map(String::from).collect();
                    for i in [4, 5] {
                        f[i] = ((f[i] != "0") as u8).to_string();
                    }
                    f.remove(7);
                    f.join(" ")
                })
                .collect();
            let got: Vec<String> = c.nodes.values().map(|n| describe(&c, n)).collect();
            assert_eq!(sorted(got), sorted(want), "{name}");
            let vars = text.lines().last().unwrap();
            assert_eq!(
                vars,
                format!(
                    "vars currentEpoch {} lastVoteEpoch {}",
                    c.current_epoch, c.last_vote_epoch
                ),
                "{name}"
            );
            assert!(!c.config_dirty);
        }
    }

    #[test]
    fn master_with_migrating_slots_and_a_failed_replica() {
        let c = loaded("master-migrating");
        assert_eq!(c.myself, id(ID1));
        assert_eq!((c.current_epoch, c.last_vote_epoch), (2, 0));
        let me = c.me();
        // MIGRATE_TO as in Redis: a master with a replica (clusterNodeAddSlave), and one
        // getting its first slot while masters have replicas (clusterNodeSetSlotBit).
        assert_eq!(me.flags, flags::MYSELF | flags::MASTER | flags::MIGRATE_TO);
        assert_eq!(
            (me.ip.as_str(), me.port, me.cport),
            ("127.0.0.1", 23001, 33001)
        );
        assert_eq!(me.config_epoch, 1);
        assert_eq!(me.numslots, 8192);
        assert_eq!(owners(&c, ID1), (0..8192).collect::<Vec<u16>>());
        assert_eq!(me.replicas, vec![id(ID3)]);
        for s in 0..SLOTS {
            let want = (s == 100 || s == 200).then(|| id(ID2));
            assert_eq!(c.migrating_slots_to[s], want, "slot {s}");
            assert_eq!(c.importing_slots_from[s], None);
        }
        let two = &c.nodes[&id(ID2)];
        assert_eq!(two.flags, flags::MASTER | flags::MIGRATE_TO);
        assert_eq!(two.hostname, "node-two.example");
        assert_eq!((two.port, two.cport, two.config_epoch), (23002, 33002, 2));
        assert_eq!(two.numslots, 8192);
        assert_eq!((two.ping_sent, two.pong_received), (0, NOW));
        let three = &c.nodes[&id(ID3)];
        assert_eq!(three.flags, flags::SLAVE | flags::FAIL);
        assert_eq!(three.replicaof, Some(id(ID1)));
        assert_eq!(
            (three.fail_time, three.ping_sent, three.pong_received),
            (NOW, NOW, NOW)
        );
        assert_eq!(three.config_epoch, 0, "a replica's own epoch is not loaded");
        assert_eq!(three.numslots, 0);
    }

    #[test]
    fn master_with_importing_slot_and_holes() {
        let c = loaded("master-importing");
        assert_eq!(c.myself, id(ID2));
        let mine: Vec<u16> = (8192..9000).chain([9007]).chain(9011..16384).collect();
        assert_eq!(owners(&c, ID2), mine);
        assert_eq!(c.me().numslots as usize, mine.len());
        assert_eq!(c.slots[9000], None);
        assert_eq!(c.importing_slots_from[100], Some(id(ID1)));
        assert_eq!(c.importing_slots_from.iter().flatten().count(), 1);
        assert_eq!(c.migrating_slots_to.iter().flatten().count(), 0);
    }

    #[test]
    fn replica_and_failover_files() {
        let c = loaded("replica");
        assert_eq!(c.myself, id(ID3));
        assert_eq!(c.me().flags, flags::MYSELF | flags::SLAVE);
        assert_eq!(c.me().replicaof, Some(id(ID1)));
        assert_eq!(c.nodes[&id(ID1)].replicas, vec![id(ID3)]);

        let c = loaded("after-failover-old-master");
        assert_eq!(c.me().flags, flags::MYSELF | flags::SLAVE);
        assert_eq!(c.me().replicaof, Some(id(ID3)));
        assert_eq!((c.current_epoch, c.last_vote_epoch), (3, 3));
        assert_eq!(c.nodes[&id(ID3)].config_epoch, 3);
        assert_eq!(owners(&c, ID3), (0..8192).collect::<Vec<u16>>());

        // The other master had slot 100 importing, so the new master's claim skipped it.
        let c = loaded("after-failover-other-master");
        let want: Vec<u16> = (0..100).chain(101..8192).collect();
        assert_eq!(owners(&c, ID3), want);
        assert_eq!(c.slots[100], None);
    }

    #[test]
    fn empty_file_is_a_fresh_node() {
        // clusterLoadConfig's C_ERR for a zero-length file: clusterInit keeps its new node.
        assert!(load("", NOW).unwrap().is_none());
    }

    #[test]
    fn lenient_parts_as_redis() {
        let line = format!("{ID1} 10.0.0.1:7000 MYSELF,Master - 0 0 7 connected 5 10-12 x\n");
        // Blank lines skipped, old address without @cport (cport = port + 10000), flags in
        // any case, atoi's "x" is slot 0, vars in any case and unknown ones skipped,
        // currentEpoch raised to the largest config epoch.
        let text = format!("\n{line}\nVARS currentepoch 3 lastVoteEpoch 2 futureVar 9\n");
        let c = load(&text, NOW).unwrap().unwrap();
        assert_eq!((c.me().port, c.me().cport), (7000, 17000));
        assert_eq!(owners(&c, ID1), vec![0, 5, 10, 11, 12]);
        assert_eq!((c.current_epoch, c.last_vote_epoch), (7, 2));
        // A node only named as a master exists, with no flags.
        let text = format!("{ID1} :0@0 myself,slave {ID2} 0 0 0 connected\n");
        let c = load(&text, NOW).unwrap().unwrap();
        assert_eq!(c.nodes[&id(ID2)].flags, 0);
        assert_eq!(c.nodes[&id(ID2)].replicas, vec![id(ID1)]);
        assert_eq!(c.me().ip, "");
        // "-1" is the range atoi("")..=1; "9-5" is empty.
        let text = format!("{ID1} :0@0 myself,master - 0 0 0 connected -1 9-5\n");
        let c = load(&text, NOW).unwrap().unwrap();
        assert_eq!(owners(&c, ID1), vec![0, 1]);
        // Redis's own file, noflags and nofailover.
        let text = format!(
            "{ID1} 127.0.0.1:1@2 myself,master,nofailover - 0 0 0 connected\n\
             {ID2} 127.0.0.1:3@4 noflags - 0 0 0 disconnected\n"
        );
        let c = load(&text, NOW).unwrap().unwrap();
        assert_eq!(
            c.me().flags,
            flags::MYSELF | flags::MASTER | flags::NOFAILOVER
        );
        assert_eq!(c.nodes[&id(ID2)].flags, 0);
    }

    #[test]
    fn corrupted_files_fail_with_redis_s_log_line() {
        let ok = format!("{ID1} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected");
        let cases: Vec<(String, &str)> = vec![
            // Only blank lines: no myself.
            ("\n\n".into(), CORRUPTED),
            // No myself line.
            (
                format!("{ID2} 127.0.0.1:7000@17000 master - 0 0 1 connected\n"),
                CORRUPTED,
            ),
            // Fewer than 8 fields.
            (
                format!("{ID1} 127.0.0.1:7000@17000 myself,master - 0 0\n"),
                CORRUPTED,
            ),
            // A name that is not 40 [a-z0-9].
            (ok.replace("da41", "DA41"), CORRUPTED),
            (ok.replacen("da41", "da4", 1), CORRUPTED),
            // An address without ':'.
            (ok.replace("127.0.0.1:7000@17000", "localhost"), CORRUPTED),
            // A bad master id.
            (ok.replace(" - ", " xyz "), CORRUPTED),
            // Slots out of range.
            (format!("{ok} 16384\n"), CORRUPTED),
            (format!("{ok} 0-16384\n"), CORRUPTED),
            (format!("{ok} 0--1\n"), CORRUPTED),
            (format!("{ok} [16384->-{ID2}]\n"), CORRUPTED),
            // A bracket without its node, or without ']'.
            (format!("{ok} [5->-]\n"), CORRUPTED),
            (format!("{ok} [5->-{ID2}\n"), CORRUPTED),
            (format!("{ok} [5]\n"), CORRUPTED),
            // vars with an odd count of words.
            (format!("{ok}\nvars currentEpoch\n"), CORRUPTED),
            // Unbalanced quotes (sdssplitargs fails).
            (format!("{ok} \"5\n"), CORRUPTED),
            // A flag Redis does not know; two myselves.
            (ok.replace("myself,master", "myself,bogus"), UNKNOWN_FLAG),
            (format!("{ok}\n{}\n", ok.replace(ID1, ID2)), TWO_MYSELVES),
        ];
        for (text, want) in cases {
            assert_eq!(load(&text, NOW).err().as_deref(), Some(want), "{text:?}");
        }
        // The good line alone loads.
        assert!(load(&ok, NOW).unwrap().is_some());
    }

    #[test]
    fn c_number_parsing() {
        assert_eq!(atoi(b" 42x"), 42);
        assert_eq!(atoi(b"-7"), -7);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b"99999999999999999999"), -1);
        assert_eq!(strtoull(b"18446744073709551615"), u64::MAX);
        assert_eq!(strtoull(b"18446744073709551616"), u64::MAX);
        assert_eq!(strtoull(b"-1"), u64::MAX);
        assert_eq!(strtoull(b"12abc"), 12);
    }
}
