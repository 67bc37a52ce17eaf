//! ACL rules, differentially: random ACL SETUSER rule lists sent to oxidis-server and
//! redis-server, then the replies, ACL GETUSER, ACL LIST and ACL DRYRUN of assorted commands
//! compared. This is what checks acl.c's describe compaction (which categories, in which
//! order) over many more rule sets than the golden transcripts hold.
//!
//! One normalisation: redis-server lists the single commands after the categories in its
//! command dict's order, which is random per process (a hash seed); Oxidis lists them by name.
//! The single-command tail of each description is therefore compared as a set.

use crate::suite::Suite;
use oxidis_core::resp::Reply;
use oxidis_testkit::Conn;

/// Redis's categories (core's list: the ACL CAT replies are compared with redis-server's), and
/// two more names rules may use: "all" and an unknown one.
fn categories() -> Vec<&'static str> {
    (oxidis_core::acl::CATEGORIES.iter().copied())
        .chain(["all", "nosuch"])
        .collect()
}

/// Commands and subcommands, implemented by Oxidis or not (ACL rules may name any).
const COMMANDS: &[&str] = &[
    "get",
    "set",
    "del",
    "mget",
    "client",
    "client|id",
    "client|kill",
    "config",
    "config|get",
    "config|set",
    "debug",
    "select",
    "migrate",
    "cluster|info",
    "memory|usage",
    "acl|whoami",
    "acl",
    "flushall",
    "keys",
    "sort",
    "eval",
    "publish",
    "subscribe",
    "xadd",
    "hset",
    "zadd",
    "nosuchcommand",
    "object",
    "object|encoding",
];

const OTHER_RULES: &[&str] = &[
    "+select|0",
    "+select|1",
    "+debug|sleep",
    "+config|nosuch",
    "+client|id|x",
    "+select|",
    "~k*",
    "%R~r*",
    "%W~w*",
    "%RW~rw*",
    "%X~bad",
    "~*",
    "allkeys",
    "resetkeys",
    "&c*",
    "&*",
    "allchannels",
    "resetchannels",
    "on",
    "off",
    "nopass",
    "resetpass",
    ">pw",
    "<pw",
    "<nosuch",
    "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "(~s* +get)",
    "(+@read %R~x* -@hash)",
    "(+@all -@dangerous &c*)",
    "clearselectors",
    "allcommands",
    "nocommands",
    "reset",
    "sanitize-payload",
    "skip-sanitize-payload",
    "bogus",
];

/// Commands DRYRUN asks about (all implemented by Oxidis: DRYRUN looks the command up).
const PROBES: &[&[&str]] = &[
    &["GET", "k1"],
    &["GET", "r1"],
    &["GET", "w1"],
    &["SET", "w1", "v"],
    &["SET", "r1", "v"],
    &["SET", "rw1", "v", "GET"],
    &["MGET", "k1", "r1"],
    &["CLIENT", "ID"],
    &["CLIENT", "KILL", "ID", "1"],
    &["CONFIG", "GET", "maxmemory"],
    &["SELECT", "0"],
    &["SELECT", "1"],
    &["DEBUG", "SLEEP", "0"],
    &["PUBLISH", "c1", "x"],
    &["PUBLISH", "d1", "x"],
    &["SUBSCRIBE", "c1", "d1"],
    &["PSUBSCRIBE", "c*"],
    &["SORT", "k1", "STORE", "w1"],
    &["EVAL", "return 1", "1", "s1"],
    &["HSET", "k1", "f", "v"],
    &["ZADD", "x1", "1", "a"],
    &["XADD", "k1", "*", "a", "b"],
    &["OBJECT", "ENCODING", "k1"],
    &["FLUSHALL"],
    &["ACL", "WHOAMI"],
    &["PING"],
];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn random_rule(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("{}@{}", if rng.below(2) == 0 { "+" } else { "-" }, {
            let cats = categories();
            cats[rng.below(cats.len())]
        }),
        1 => format!(
            "{}{}",
            if rng.below(2) == 0 { "+" } else { "-" },
            COMMANDS[rng.below(COMMANDS.len())]
        ),
        _ => OTHER_RULES[rng.below(OTHER_RULES.len())].to_string(),
    }
}

/// A description with each single-command tail sorted (see the module comment).
fn canonical(text: &str) -> String {
    let mut out = Vec::new();
    for (i, part) in text.split(['(', ')']).enumerate() {
        let mut tokens: Vec<&str> = part.split(' ').collect();
        if let Some(start) = tokens.iter().position(|t| *t == "+@all" || *t == "-@all") {
            let singles = tokens[start + 1..]
                .iter()
                .position(|t| !t.starts_with("+@") && !t.starts_with("-@"))
                .map_or(tokens.len(), |p| start + 1 + p);
            tokens[singles..].sort_unstable();
        }
        out.push(format!("{i}:{}", tokens.join(" ")));
    }
    out.join("|")
}

fn show(r: &Reply) -> String {
    match r {
        Reply::Simple(b) => format!("+{}", String::from_utf8_lossy(b)),
        Reply::Error(b) => format!("-{}", String::from_utf8_lossy(b)),
        Reply::Bulk(b) => canonical(&String::from_utf8_lossy(b)),
        Reply::Array(items) | Reply::Set(items) => {
            let inner: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", inner.join(", "))
        }
        Reply::Map(pairs) => {
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", show(k), show(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn both(ox: &mut Conn, rs: &mut Conn, args: &[&str]) -> Result<(String, String), String> {
    Ok((show(&ox.call(args)?), show(&rs.call(args)?)))
}

/// `trials` random users on both servers.
pub fn run(oxidis: &str, redis: &str) -> Result<Suite, String> {
    let mut s = Suite::new("acl rules");
    let mut ox = Conn::connect(oxidis)?;
    let mut rs = Conn::connect(redis)?;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let trials = 600;
    let (mut accepted, mut refused_cmds) = (0, 0);
    for trial in 0..trials {
        let rules: Vec<String> = (0..1 + rng.below(8))
            .map(|_| random_rule(&mut rng))
            .collect();
        let mut args = vec!["ACL", "SETUSER", "fz", "reset"];
        args.extend(rules.iter().map(String::as_str));
        let mut checks: Vec<(String, (String, String))> =
            vec![(format!("{args:?}"), both(&mut ox, &mut rs, &args)?)];
        checks.push((
            "ACL GETUSER fz".into(),
            both(&mut ox, &mut rs, &["ACL", "GETUSER", "fz"])?,
        ));
        checks.push(("ACL LIST".into(), both(&mut ox, &mut rs, &["ACL", "LIST"])?));
        for _ in 0..4 {
            let probe = PROBES[rng.below(PROBES.len())];
            let mut dry = vec!["ACL", "DRYRUN", "fz"];
            dry.extend_from_slice(probe);
            checks.push((format!("{dry:?}"), both(&mut ox, &mut rs, &dry)?));
        }
        accepted += usize::from(checks[0].1 .1 == "+OK");
        refused_cmds += checks[3..]
            .iter()
            .filter(|(_, (_, r))| r.contains("This user"))
            .count();
        let mut bad = None;
        for (what, (o, r)) in &checks {
            if o != r {
                bad = Some(format!(
                    "trial {trial}, rules {rules:?}: {what}\n  oxidis-server: {o}\n  redis-server:  {r}"
                ));
                break;
            }
        }
        match bad {
            Some(b) => s.fail(b),
            None => s.passed += 1,
        }
    }
    both(&mut ox, &mut rs, &["ACL", "DELUSER", "fz"])?;
    keys_of_every_command(&mut ox, &mut rs, &mut rng, &mut s)?;
    // ACL CAT <category>: Redis lists a category's commands in its dict's order; as sets.
    for cat in categories() {
        let (mut o, mut r) = (cat_members(&mut ox, cat)?, cat_members(&mut rs, cat)?);
        o.sort();
        r.sort();
        if o == r {
            s.passed += 1;
        } else {
            s.fail(format!(
                "ACL CAT {cat}\n  oxidis-server: {o:?}\n  redis-server:  {r:?}"
            ));
        }
    }
    s.info.push(format!(
        "{trials} random rule sets ({accepted} accepted), each with GETUSER, LIST and 4 DRYRUNs \
         compared ({refused_cmds} DRYRUNs refused)"
    ));
    Ok(s)
}

/// The arguments DRYRUN gets: keys the user may read (r*), write (w*), both (k*) or neither
/// (x*), numbers (key counts, counts), and keywords that start key ranges.
const ARGS: &[&str] = &[
    "r1", "w1", "k1", "x1", "r2", "w2", "1", "2", "0", "GET", "STORE", "STREAMS", "BY", "c1", "d1",
];

/// Every command and subcommand both servers have, with arguments drawn from ARGS, through
/// DRYRUN for a user with read-only, write-only and read-write key patterns: the keys a
/// command names and the access each needs come from the key specs (and from SET's, BITFIELD's
/// and SORT's own getkeys), as in Redis.
fn keys_of_every_command(
    ox: &mut Conn,
    rs: &mut Conn,
    rng: &mut Rng,
    s: &mut Suite,
) -> Result<(), String> {
    let setup = [
        "ACL", "SETUSER", "kd", "reset", "on", "nopass", "+@all", "%R~r*", "%W~w*", "~k*", "&c*",
    ];
    both(ox, rs, &setup)?;
    let Reply::Array(all) = rs.call(&["COMMAND"])? else {
        return Err("COMMAND did not answer an array".into());
    };
    let mut names: Vec<(String, i64)> = Vec::new();
    let info = |r: &Reply| -> Option<(String, i64, Vec<Reply>)> {
        let Reply::Array(f) = r else { return None };
        let name = match f.first()? {
            Reply::Bulk(b) | Reply::Simple(b) => String::from_utf8_lossy(b).to_string(),
            _ => return None,
        };
        let arity = match f.get(1)? {
            Reply::Int(n) => *n,
            _ => return None,
        };
        let subs = match f.get(9) {
            Some(Reply::Array(s)) => s.clone(),
            _ => Vec::new(),
        };
        Some((name, arity, subs))
    };
    for c in &all {
        let Some((name, arity, subs)) = info(c) else {
            continue;
        };
        if subs.is_empty() {
            names.push((name, arity));
        }
        for sub in &subs {
            if let Some((n, a, _)) = info(sub) {
                names.push((n, a));
            }
        }
    }
    let mut compared = 0;
    for (name, arity) in names {
        let words: Vec<&str> = name.split('|').collect();
        // Only what Oxidis implements: DRYRUN looks the command up.
        let probe: Vec<&str> = [&["ACL", "DRYRUN", "kd"][..], &words].concat();
        if ox.call(&probe).map(|r| show(&r).contains("not found"))? {
            continue;
        }
        let base = arity.unsigned_abs() as usize;
        for variant in 0..6 {
            let len = if arity < 0 {
                base + variant % 3 * 2
            } else {
                base
            };
            let mut argv: Vec<String> = vec!["ACL".into(), "DRYRUN".into(), "kd".into()];
            argv.extend(words.iter().map(|w| w.to_string()));
            while argv.len() - 3 < len.max(words.len()) {
                argv.push(ARGS[rng.below(ARGS.len())].to_string());
            }
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let (o, r) = both(ox, rs, &args)?;
            compared += 1;
            if o != r {
                s.fail(format!(
                    "{args:?}\n  oxidis-server: {o}\n  redis-server:  {r}"
                ));
            } else {
                s.passed += 1;
            }
        }
    }
    both(ox, rs, &["ACL", "DELUSER", "kd"])?;
    s.info.push(format!(
        "{compared} DRYRUNs of every command with random keys and counts compared"
    ));
    Ok(())
}

fn cat_members(c: &mut Conn, cat: &str) -> Result<Vec<String>, String> {
    Ok(match c.call(&["ACL", "CAT", cat])? {
        Reply::Array(items) => items
            .iter()
            .map(|i| match i {
                Reply::Bulk(b) => String::from_utf8_lossy(b).to_string(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => vec![show(&other)],
    })
}
