//! Access control lists: users, their selectors and the permission checks of Redis 7.0's
//! acl.c, in the core so that every host (native, wasm) enforces the same rules.
//!
//! A user has flags (on/off, nopass, sanitize-payload), SHA-256 password hashes and a list of
//! selectors, the first being the root selector (the rules outside parentheses). A selector
//! allows commands (a bitmap over Redis's whole command table, implemented or not, plus
//! allowed first arguments), key patterns with read/write permissions and channel patterns.
//! A command runs if any selector allows it all. The ACL commands live in command/acl.rs.

use crate::command::{self, flags, is, CommandSpec};
use crate::resp::Reply;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Redis's ACLCommandCategories, in its order (ACL CAT, and the order the describe loop tries).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Why a command was refused (Redis's ACL_DENIED_*, in its numeric order: a check over several
/// selectors reports the greatest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Cmd = 1,
    Key = 2,
    Auth = 3,
    Channel = 4,
}

/// Where a denial happened (ACL LOG's context).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogContext {
    Toplevel,
    Lua,
    Multi,
}

const READ: u8 = 1;
const WRITE: u8 = 2;

/// Every command and subcommand of Redis 7.0 with its categories: the table's rows plus the
/// commands Oxidis does not implement (table::ACL_OTHER_COMMANDS). Indexes are ACL command ids.
pub struct Universe {
    names: Vec<&'static str>,
    cats: Vec<u32>,
    /// Top-level commands, in name order, each with its subcommands' ids.
    tops: Vec<(usize, Vec<usize>)>,
    /// By id: the subcommands' ids (empty but for containers).
    subs: Vec<Vec<usize>>,
    parent: Vec<Option<usize>>,
    index: HashMap<&'static str, usize>,
}

fn category_bits(cats: &[&str]) -> u32 {
    cats.iter()
        .filter_map(|c| {
            let c = c.strip_prefix('@').unwrap_or(c);
            CATEGORIES.iter().position(|k| *k == c)
        })
        .fold(0, |m, i| m | 1 << i)
}

/// Table rows Redis 7.0 does not have (tools/gen_command_table.py's EXTRA_INFO: 7.2's CLIENT
/// SETINFO, which clients send on connect). They are outside the ACL universe, so ACL CAT and
/// the describe compaction count what redis-server counts; a check of one uses its parent's
/// permission (`+client` allows it).
const NOT_IN_REDIS_7_0: &[&str] = &["client|setinfo"];

pub fn universe() -> &'static Universe {
    static U: OnceLock<Universe> = OnceLock::new();
    U.get_or_init(|| {
        let mut all: Vec<(&'static str, u32)> = command::all_commands()
            .filter(|c| !NOT_IN_REDIS_7_0.contains(&c.name))
            .map(|c| (c.name, category_bits(c.acl_categories)))
            .chain(
                command::table::ACL_OTHER_COMMANDS
                    .iter()
                    .map(|(n, c)| (*n, category_bits(c))),
            )
            .collect();
        all.sort_by_key(|(n, _)| *n);
        all.dedup_by_key(|(n, _)| *n);
        let names: Vec<&'static str> = all.iter().map(|(n, _)| *n).collect();
        let cats = all.iter().map(|(_, c)| *c).collect();
        let index: HashMap<&'static str, usize> =
            names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut parent = vec![None; names.len()];
        let mut tops: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut top_of: HashMap<usize, usize> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if let Some((p, _)) = n.split_once('|') {
                if let Some(&pi) = index.get(p) {
                    parent[i] = Some(pi);
                    if let Some(&t) = top_of.get(&pi) {
                        tops[t].1.push(i);
                    }
                }
            } else {
                top_of.insert(i, tops.len());
                tops.push((i, Vec::new()));
            }
        }
        let mut subs = vec![Vec::new(); names.len()];
        for (t, s) in &tops {
            subs[*t] = s.clone();
        }
        Universe {
            names,
            cats,
            tops,
            subs,
            parent,
            index,
        }
    })
}

impl Universe {
    fn len(&self) -> usize {
        self.names.len()
    }

    /// Redis's lookupCommandBySdsLogic on the original table: "cmd" or "cmd|sub", any case.
    fn lookup(&self, name: &[u8]) -> Option<usize> {
        let name = command::c_str(name);
        let lower = String::from_utf8(name.to_ascii_lowercase()).ok()?;
        if lower.matches('|').count() > 1 {
            return None;
        }
        let i = *self.index.get(lower.as_str())?;
        if lower.contains('|') && self.parent[i].is_none() {
            return None;
        }
        Some(i)
    }

    fn subs_of(&self, id: usize) -> &[usize] {
        &self.subs[id]
    }

    fn has_subs(&self, id: usize) -> bool {
        !self.subs_of(id).is_empty()
    }

    /// The ACL id of a table row (an Oxidis extra: its parent's).
    pub fn id_of(&self, cmd: &CommandSpec) -> usize {
        match self.index.get(cmd.name) {
            Some(&i) => i,
            None => self.index[cmd.name.split('|').next().unwrap_or(cmd.name)],
        }
    }

    /// The commands (fullnames) in a category, for ACL CAT.
    pub fn in_category(&self, cat: usize) -> impl Iterator<Item = &'static str> + '_ {
        self.tops
            .iter()
            .flat_map(|(t, subs)| std::iter::once(*t).chain(subs.iter().copied()))
            .filter(move |&i| self.cats[i] & (1 << cat) != 0)
            .map(|i| self.names[i])
    }
}

pub fn category_index(name: &[u8]) -> Option<usize> {
    CATEGORIES.iter().position(|c| is(name, c))
}

/// One selector: the root one (rules outside parentheses) or a `(...)` one.
#[derive(Clone, Debug, PartialEq)]
struct Selector {
    allkeys: bool,
    allchannels: bool,
    allcommands: bool,
    /// The reserved bit +@all sets: the user may run commands added later. Only +@all sets it
    /// and only -@all clears it, so ACL LIST starts from "+@all" or "-@all".
    future: bool,
    bits: Vec<u64>,
    /// Allowed first arguments of otherwise blocked commands (`+select|0`), by command id.
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    /// Key patterns with their READ|WRITE permissions, in the order added.
    keys: Vec<(Vec<u8>, u8)>,
    channels: Vec<Vec<u8>>,
}

/// Why a rule was refused (Redis's errno values in ACLSetUser).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    NoEnt,
    Inval,
    Exist,
    IsDir,
    NoDev,
    BadMsg,
    Child,
}

impl RuleError {
    /// Redis's EALREADY text (a user defined twice in config files).
    fn text_duplicate() -> &'static str {
        "Duplicate user found. A user can only be defined once in config files"
    }

    /// Redis's ACLSetUserStringError.
    pub fn text(self) -> &'static str {
        match self {
            RuleError::NoEnt => "Unknown command or category name in ACL",
            RuleError::Inval => "Syntax error",
            RuleError::Exist => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::IsDir => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoDev => "The password you are trying to remove from the user does not exist",
            RuleError::BadMsg => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::Child => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// Redis's ACLStringHasSpaces: whitespace (isspace) or NUL.
fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || c == b' ' || (b'\t'..=b'\r').contains(&c))
}

impl Selector {
    fn new(allchannels: bool) -> Selector {
        Selector {
            allkeys: false,
            allchannels,
            allcommands: false,
            future: false,
            bits: vec![0; universe().len().div_ceil(64)],
            firstargs: BTreeMap::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.bits[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// ACLChangeSelectorPerm: the command and all its subcommands.
    fn change_perm(&mut self, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        for &s in universe().subs_of(id) {
            self.set_bit(s, allow);
        }
    }

    fn set_category(&mut self, cat: usize, allow: bool) {
        let u = universe();
        for (top, subs) in &u.tops {
            if u.cats[*top] & (1 << cat) != 0 {
                self.change_perm(*top, allow);
            }
            for &s in subs {
                if u.cats[s] & (1 << cat) != 0 {
                    self.change_perm(s, allow);
                }
            }
        }
    }

    fn count_category(&self, cat: usize) -> (usize, usize) {
        let u = universe();
        let (mut on, mut off) = (0, 0);
        for i in 0..u.len() {
            if u.cats[i] & (1 << cat) != 0 {
                if self.bit(i) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Redis's ACLSetSelector.
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let u = universe();
        let at = |i: usize| op.get(i).copied().unwrap_or(0);
        if is(op, "allkeys") || is(op, "~*") {
            self.allkeys = true;
            self.keys.clear();
        } else if is(op, "resetkeys") {
            self.allkeys = false;
            self.keys.clear();
        } else if is(op, "allchannels") || is(op, "&*") {
            self.allchannels = true;
            self.channels.clear();
        } else if is(op, "resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is(op, "allcommands") || is(op, "+@all") {
            self.bits.iter_mut().for_each(|w| *w = u64::MAX);
            self.allcommands = true;
            self.future = true;
            self.firstargs.clear();
        } else if is(op, "nocommands") || is(op, "-@all") {
            self.bits.iter_mut().for_each(|w| *w = 0);
            self.allcommands = false;
            self.future = false;
            self.firstargs.clear();
        } else if at(0) == b'~' || at(0) == b'%' {
            if self.allkeys {
                return Err(RuleError::Exist);
            }
            let mut perm = 0;
            let mut offset = 1;
            if at(0) == b'%' {
                while offset < op.len() {
                    let c = op[offset].to_ascii_uppercase();
                    if c == b'R' && perm & READ == 0 {
                        perm |= READ;
                    } else if c == b'W' && perm & WRITE == 0 {
                        perm |= WRITE;
                    } else if op[offset] == b'~' {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Inval);
                    }
                    offset += 1;
                }
            } else {
                perm = READ | WRITE;
            }
            let pat = &op[offset.min(op.len())..];
            if has_spaces(pat) {
                return Err(RuleError::Inval);
            }
            match self.keys.iter_mut().find(|(p, _)| p == pat) {
                Some((_, f)) => *f |= perm,
                None => self.keys.push((pat.to_vec(), perm)),
            }
            self.allkeys = false;
        } else if at(0) == b'&' {
            if self.allchannels {
                return Err(RuleError::IsDir);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Inval);
            }
            if !self.channels.iter().any(|p| p == pat) {
                self.channels.push(pat.to_vec());
            }
            self.allchannels = false;
        } else if at(0) == b'+' && at(1) != b'@' {
            let name = command::c_str(&op[1..]);
            match memchr::memrchr(b'|', name) {
                None => {
                    let id = u.lookup(name).ok_or(RuleError::NoEnt)?;
                    self.change_perm(id, true);
                }
                Some(bar) => {
                    let id = u.lookup(&name[..bar]).ok_or(RuleError::NoEnt)?;
                    if u.parent[id].is_some() {
                        return Err(RuleError::Child);
                    }
                    let sub = &name[bar + 1..];
                    if sub.is_empty() {
                        return Err(RuleError::Inval);
                    }
                    if u.has_subs(id) {
                        let id = u.lookup(name).ok_or(RuleError::NoEnt)?;
                        self.change_perm(id, true);
                    } else {
                        let list = self.firstargs.entry(id).or_default();
                        if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                            list.push(sub.to_vec());
                        }
                    }
                }
            }
        } else if at(0) == b'-' && at(1) != b'@' {
            let id = u.lookup(&op[1..]).ok_or(RuleError::NoEnt)?;
            self.change_perm(id, false);
        } else if (at(0) == b'+' || at(0) == b'-') && at(1) == b'@' {
            let cat = category_index(&op[2..]).ok_or(RuleError::NoEnt)?;
            self.set_category(cat, at(0) == b'+');
        } else {
            return Err(RuleError::Inval);
        }
        Ok(())
    }

    /// Redis's ACLDescribeSelectorCommandRules: "+@all" or "-@all", then the categories that
    /// fit best (greedily), then single commands and first-args to make the bitmap exact.
    fn describe_commands(&self) -> String {
        let u = universe();
        let additive = !self.future;
        let mut rules = String::new();
        let mut fake = Selector::new(false);
        if additive {
            rules.push_str("-@all ");
            fake.apply(b"-@all").ok();
        } else {
            rules.push_str("+@all ");
            fake.apply(b"+@all").ok();
        }
        let mut temp = self.clone();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (on, off) = temp.count_category(j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(best) = best else { break };
            fake.set_category(best, additive);
            temp.set_category(best, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(CATEGORIES[best]);
            rules.push(' ');
            applied[best] = true;
        }
        for (top, subs) in &u.tops {
            for &id in std::iter::once(top).chain(subs) {
                let userbit = self.bit(id);
                if userbit != fake.bit(id) {
                    rules.push(if userbit { '+' } else { '-' });
                    rules.push_str(u.names[id]);
                    rules.push(' ');
                    fake.change_perm(id, userbit);
                }
            }
            if !self.bit(*top) {
                for arg in self.firstargs.get(top).into_iter().flatten() {
                    rules.push('+');
                    rules.push_str(u.names[*top]);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(arg));
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        rules
    }

    fn key_pattern(out: &mut Vec<u8>, pat: &[u8], perm: u8) {
        out.extend_from_slice(match perm {
            READ => b"%R~".as_slice(),
            WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(pat);
    }

    /// Redis's ACLDescribeSelector: keys, channels, commands.
    fn describe(&self, out: &mut Vec<u8>) {
        if self.allkeys {
            out.extend_from_slice(b"~* ");
        } else {
            for (p, f) in &self.keys {
                Selector::key_pattern(out, p, *f);
                out.push(b' ');
            }
        }
        if self.allchannels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
    }

    /// ACL GETUSER's commands/keys/channels fields.
    fn getuser_fields(&self) -> Vec<(Reply, Reply)> {
        let keys = if self.allkeys {
            b"~*".to_vec()
        } else {
            let mut k = Vec::new();
            for (i, (p, f)) in self.keys.iter().enumerate() {
                if i > 0 {
                    k.push(b' ');
                }
                Selector::key_pattern(&mut k, p, *f);
            }
            k
        };
        let channels = if self.allchannels {
            b"&*".to_vec()
        } else {
            let mut k = Vec::new();
            for (i, c) in self.channels.iter().enumerate() {
                if i > 0 {
                    k.push(b' ');
                }
                k.push(b'&');
                k.extend_from_slice(c);
            }
            k
        };
        vec![
            (
                Reply::bulk(b"commands"),
                Reply::Bulk(self.describe_commands().into_bytes()),
            ),
            (Reply::bulk(b"keys"), Reply::Bulk(keys)),
            (Reply::bulk(b"channels"), Reply::Bulk(channels)),
        ]
    }

    fn check_key(&self, key: &[u8], perm: u8) -> bool {
        self.allkeys
            || self
                .keys
                .iter()
                .any(|(p, f)| f & perm == perm && crate::glob::glob_match(p, key, false))
    }

    /// Redis's ACLSelectorCheckCmd: Ok, or why and at which argument.
    fn check_cmd(
        &self,
        id: usize,
        cmd: &CommandSpec,
        args: &[&[u8]],
    ) -> Result<(), (Denied, usize)> {
        if !self.allcommands && !cmd.has(flags::NO_AUTH) && !self.bit(id) {
            let ok = args.len() >= 2
                && self.firstargs.get(&id).is_some_and(|list| {
                    let idx = if cmd.name.contains('|') { 2 } else { 1 };
                    args.get(idx).is_some_and(|a| {
                        list.iter()
                            .any(|f| command::c_str(a).eq_ignore_ascii_case(f))
                    })
                });
            if !ok {
                return Err((Denied::Cmd, 0));
            }
        }
        if !self.allkeys {
            for (pos, perm) in command_keys(cmd, args) {
                if !self.check_key(args[pos], perm) {
                    return Err((Denied::Key, pos));
                }
            }
        }
        if !self.allchannels {
            if let Some((first, count, pattern)) = channel_args(cmd) {
                let end = if count < 0 {
                    args.len()
                } else {
                    (first + count as usize).min(args.len())
                };
                for (pos, ch) in args.iter().enumerate().take(end).skip(first) {
                    if !channel_allowed(&self.channels, ch, pattern) {
                        return Err((Denied::Channel, pos));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Redis's ACLCheckChannelAgainstList: a channel matches the patterns as a glob; a PSUBSCRIBE
/// pattern only literally.
fn channel_allowed(list: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|p| {
        if is_pattern {
            command::c_str(p) == command::c_str(channel)
        } else {
            crate::glob::glob_match(p, channel, false)
        }
    })
}

/// Redis's commands_with_channels, only the publish and subscribe ones (the ones ACLs check):
/// (first channel, count or -1 for the rest, the arguments are patterns).
fn channel_args(cmd: &CommandSpec) -> Option<(usize, i32, bool)> {
    match cmd.name {
        "subscribe" | "ssubscribe" => Some((1, -1, false)),
        "psubscribe" => Some((1, -1, true)),
        "publish" | "spublish" => Some((1, 1, false)),
        _ => None,
    }
}

/// One key spec of the table, parsed from COMMAND INFO's form.
#[derive(Debug)]
struct KeySpec {
    perm: u8,
    not_key: bool,
    incomplete: bool,
    begin: Begin,
    find: Find,
}

#[derive(Debug)]
enum Begin {
    Index(usize),
    Keyword(Vec<u8>, i64),
    Unknown,
}

#[derive(Debug)]
enum Find {
    Range { last: i64, step: i64, limit: i64 },
    Keynum { idx: i64, first: i64, step: i64 },
    Unknown,
}

fn field<'a>(m: &'a [(Reply, Reply)], name: &str) -> Option<&'a Reply> {
    m.iter().find_map(|(k, v)| match k {
        Reply::Bulk(k) | Reply::Simple(k) if k == name.as_bytes() => Some(v),
        _ => None,
    })
}

fn int_field(m: &[(Reply, Reply)], name: &str) -> i64 {
    match field(m, name) {
        Some(Reply::Int(n)) => *n,
        _ => 0,
    }
}

fn parse_specs(resp3: &[u8]) -> Vec<KeySpec> {
    let Ok(Some((Reply::Set(specs) | Reply::Array(specs), _))) = crate::resp::decode_reply(resp3)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in specs {
        let Reply::Map(m) = s else { continue };
        let mut names = Vec::new();
        if let Some(Reply::Set(fl) | Reply::Array(fl)) = field(&m, "flags") {
            for f in fl {
                if let Reply::Simple(n) | Reply::Bulk(n) = f {
                    names.push(String::from_utf8_lossy(n).to_string());
                }
            }
        }
        let has = |n: &str| names.iter().any(|x| x == n);
        let mut perm = 0;
        if has("access") {
            perm |= READ;
        }
        if has("insert") || has("delete") || has("update") {
            perm |= WRITE;
        }
        let kind = |m: &[(Reply, Reply)]| match field(m, "type") {
            Some(Reply::Bulk(t) | Reply::Simple(t)) => String::from_utf8_lossy(t).to_string(),
            _ => String::new(),
        };
        let spec_of = |r: Option<&Reply>| match r {
            Some(Reply::Map(x)) => match field(x, "spec") {
                Some(Reply::Map(s)) => (kind(x), s.clone()),
                _ => (kind(x), Vec::new()),
            },
            _ => (String::new(), Vec::new()),
        };
        let (bt, bs) = spec_of(field(&m, "begin_search"));
        let begin = match bt.as_str() {
            "index" => Begin::Index(int_field(&bs, "index") as usize),
            "keyword" => match field(&bs, "keyword") {
                Some(Reply::Bulk(k) | Reply::Simple(k)) => {
                    Begin::Keyword(k.clone(), int_field(&bs, "startfrom"))
                }
                _ => Begin::Unknown,
            },
            _ => Begin::Unknown,
        };
        let (ft, fs) = spec_of(field(&m, "find_keys"));
        let find = match ft.as_str() {
            "range" => Find::Range {
                last: int_field(&fs, "lastkey"),
                step: int_field(&fs, "keystep"),
                limit: int_field(&fs, "limit"),
            },
            "keynum" => Find::Keynum {
                idx: int_field(&fs, "keynumidx"),
                first: int_field(&fs, "firstkey"),
                step: int_field(&fs, "keystep"),
            },
            _ => Find::Unknown,
        };
        out.push(KeySpec {
            perm,
            not_key: has("not_key"),
            incomplete: has("incomplete"),
            begin,
            find,
        });
    }
    out
}

fn specs_of(cmd: &CommandSpec) -> &'static [KeySpec] {
    static SPECS: OnceLock<HashMap<&'static str, Vec<KeySpec>>> = OnceLock::new();
    SPECS
        .get_or_init(|| {
            command::all_commands()
                .map(|c| (c.name, parse_specs(c.key_specs_resp3)))
                .collect()
        })
        .get(cmd.name)
        .map_or(&[], |v| v.as_slice())
}

/// Redis's getKeysUsingKeySpecs: None on an invalid or incomplete spec.
fn keys_by_specs(specs: &[KeySpec], args: &[&[u8]]) -> Option<Vec<(usize, u8)>> {
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.not_key {
            continue;
        }
        let mut first: i64 = match &spec.begin {
            Begin::Index(i) => *i as i64,
            Begin::Keyword(kw, startfrom) => {
                let start = if *startfrom > 0 {
                    *startfrom
                } else {
                    argc + startfrom
                };
                let end = if *startfrom > 0 { argc - 1 } else { 1 };
                let mut i = start;
                let mut found = 0;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if command::c_str(args[i as usize]).eq_ignore_ascii_case(kw) {
                        found = i + 1;
                        break;
                    }
                    i = if start <= end { i + 1 } else { i - 1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match spec.find {
            Find::Range { last, step, limit } => {
                let l = if last >= 0 {
                    first + last
                } else if limit == 0 {
                    argc + last
                } else {
                    first + ((argc - first) / limit + last)
                };
                (l, step)
            }
            Find::Keynum {
                idx,
                first: fk,
                step,
            } => {
                let at = first + idx;
                if idx >= argc || at >= argc {
                    return None;
                }
                let n = crate::cnum::parse_i64(args[at as usize]).filter(|n| *n >= 0)?;
                first += fk;
                (first + n - 1, step)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, spec.perm));
            i += step.max(1);
        }
        if spec.incomplete {
            return None;
        }
    }
    Some(keys)
}

/// The keys a command names and the permission each needs (Redis's
/// getKeysFromCommandWithSpecs, with the native getkeys of SET, BITFIELD and SORT).
pub(crate) fn command_keys(cmd: &CommandSpec, args: &[&[u8]]) -> Vec<(usize, u8)> {
    match cmd.name {
        "set" => {
            let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            return vec![(1, if get { READ | WRITE } else { WRITE })];
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < args.len() {
                let rem = args.len() - i - 1;
                if is(args[i], "get") && rem >= 2 {
                    i += 2;
                } else if (is(args[i], "set") || is(args[i], "incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if is(args[i], "overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            return vec![(1, if readonly { READ } else { READ | WRITE })];
        }
        "sort_ro" => return vec![(1, READ)],
        "sort" => {
            let mut keys = vec![(1, READ)];
            let mut store = None;
            let mut i = 2;
            while i < args.len() {
                if is(args[i], "limit") {
                    i += 2;
                } else if is(args[i], "get") || is(args[i], "by") {
                    i += 1;
                } else if is(args[i], "store") && i + 1 < args.len() {
                    store = Some(i + 1);
                }
                i += 1;
            }
            keys.extend(store.map(|p| (p, WRITE)));
            return keys;
        }
        _ => {}
    }
    let specs = specs_of(cmd);
    if specs.iter().all(|s| s.not_key) {
        return Vec::new();
    }
    keys_by_specs(specs, args).unwrap_or_default()
}

/// A user (Redis's `user`).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    /// None, Some(true) sanitize-payload, Some(false) skip-sanitize-payload.
    sanitize: Option<bool>,
    /// SHA-256 hashes as lowercase hex.
    passwords: Vec<Vec<u8>>,
    /// The root selector first.
    selectors: Vec<Selector>,
}

/// SHA-256 as lowercase hex (Redis's ACLHashPassword).
pub fn hash_password(pass: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(pass);
    let mut hex = Vec::with_capacity(64);
    for b in digest {
        hex.push(b"0123456789abcdef"[(b >> 4) as usize]);
        hex.push(b"0123456789abcdef"[(b & 15) as usize]);
    }
    hex
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares without an early exit (Redis's time_independent_strcmp over the hashes).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

impl User {
    fn new(name: &[u8], pubsub_all: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(pubsub_all)],
        }
    }

    /// Redis's ACLSetUser: one rule.
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let first = op[0];
        if is(op, "on") {
            self.enabled = true;
        } else if is(op, "off") {
            self.enabled = false;
        } else if is(op, "skip-sanitize-payload") {
            self.sanitize = Some(false);
        } else if is(op, "sanitize-payload") {
            self.sanitize = Some(true);
        } else if is(op, "nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is(op, "resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if first == b'>' || first == b'#' {
            let hash = if first == b'>' {
                hash_password(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadMsg);
                }
                op[1..].to_vec()
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if first == b'<' || first == b'!' {
            let hash = if first == b'<' {
                hash_password(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadMsg);
                }
                op[1..].to_vec()
            };
            let at = self.passwords.iter().position(|p| *p == hash);
            self.passwords.remove(at.ok_or(RuleError::NoDev)?);
        } else if first == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new(pubsub_all);
            let mut parts = Vec::new();
            // sdssplitargs: unbalanced quotes give no rules at all.
            if !crate::resp::split_args(&op[1..op.len() - 1], &mut parts) {
                parts.clear();
            }
            for p in &parts {
                s.apply(p)?;
            }
            self.selectors.push(s);
        } else if is(op, "clearselectors") {
            self.selectors.truncate(1);
        } else if is(op, "reset") {
            self.nopass = false;
            self.passwords.clear();
            let root = &mut self.selectors[0];
            root.allkeys = false;
            root.keys.clear();
            root.allchannels = pubsub_all;
            root.channels.clear();
            self.enabled = false;
            self.sanitize = Some(true);
            self.selectors.truncate(1);
            self.selectors[0].apply(b"-@all")?;
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Redis's ACLDescribeUser (ACL LIST without "user <name> ").
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if self.enabled { b"on " } else { b"off " });
        if self.nopass {
            out.extend_from_slice(b"nopass ");
        }
        match self.sanitize {
            Some(false) => out.extend_from_slice(b"skip-sanitize-payload "),
            Some(true) => out.extend_from_slice(b"sanitize-payload "),
            None => {}
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p);
            out.push(b' ');
        }
        for (i, s) in self.selectors.iter().enumerate() {
            if i == 0 {
                s.describe(&mut out);
            } else {
                out.extend_from_slice(b" (");
                s.describe(&mut out);
                out.push(b')');
            }
        }
        out
    }

    /// ACL GETUSER's reply.
    pub fn getuser(&self) -> Reply {
        let mut flags = vec![Reply::bulk(if self.enabled { b"on" } else { b"off" })];
        if self.nopass {
            flags.push(Reply::bulk(b"nopass"));
        }
        match self.sanitize {
            Some(false) => flags.push(Reply::bulk(b"skip-sanitize-payload")),
            Some(true) => flags.push(Reply::bulk(b"sanitize-payload")),
            None => {}
        }
        let mut m = vec![
            (Reply::bulk(b"flags"), Reply::Set(flags)),
            (
                Reply::bulk(b"passwords"),
                Reply::Array(self.passwords.iter().map(|p| Reply::bulk(p)).collect()),
            ),
        ];
        m.extend(self.selectors[0].getuser_fields());
        m.push((
            Reply::bulk(b"selectors"),
            Reply::Array(
                self.selectors[1..]
                    .iter()
                    .map(|s| Reply::Map(s.getuser_fields()))
                    .collect(),
            ),
        ));
        Reply::Map(m)
    }

    /// Redis's ACLCheckUserCredentials for an existing user.
    fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = hash_password(pass);
        // Every hash is compared, so the time does not tell which one matched.
        self.passwords
            .iter()
            .fold(false, |ok, p| constant_time_eq(&hashed, p) | ok)
    }

    /// True when no check can refuse anything (the default user's usual rules).
    fn unrestricted(&self) -> bool {
        let s = &self.selectors[0];
        s.allcommands && s.allkeys && s.allchannels
    }

    /// Redis's ACLCheckAllUserCommandPerm: Ok, or the reason and the argument to log.
    pub fn check(&self, cmd: &CommandSpec, args: &[&[u8]]) -> Result<(), (Denied, usize)> {
        if self.unrestricted() {
            return Ok(());
        }
        let id = universe().id_of(cmd);
        let mut relevant = (Denied::Cmd, 0);
        for s in &self.selectors {
            match s.check_cmd(id, cmd, args) {
                Ok(()) => return Ok(()),
                Err((why, idx)) => {
                    if why > relevant.0 || (why == relevant.0 && idx > relevant.1) {
                        relevant = (why, idx);
                    }
                }
            }
        }
        Err(relevant)
    }

    /// Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess with CMD_KEY_ACCESS (SORT BY/GET).
    pub fn unrestricted_read(&self, cmd: &CommandSpec, args: &[&[u8]]) -> bool {
        if self.unrestricted() {
            return true;
        }
        let id = universe().id_of(cmd);
        self.selectors.iter().any(|s| {
            s.check_cmd(id, cmd, args).is_ok()
                && (s.allkeys || s.keys.iter().any(|(p, f)| f & READ != 0 && p == b"*"))
        })
    }

    /// Whether the channel (a pattern when `is_pattern`) is allowed by any selector.
    pub fn channel_ok(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.selectors
            .iter()
            .any(|s| s.allchannels || channel_allowed(&s.channels, channel, is_pattern))
    }

    fn all_channel_patterns(&self) -> Option<Vec<Vec<u8>>> {
        if self.selectors.iter().any(|s| s.allchannels) {
            return None;
        }
        Some(
            self.selectors
                .iter()
                .flat_map(|s| s.channels.iter().cloned())
                .collect(),
        )
    }
}

/// What the core asks of its host for ACLs: the aclfile (ACL LOAD, ACL SAVE, startup) and
/// random bytes for ACL GENPASS (the engine's seeded PRNG makes guessable passwords).
pub trait AclHost {
    fn read_file(&mut self, path: &str) -> Result<Vec<u8>, String>;
    /// Replaces the file atomically (a temporary file renamed over it, as Redis does).
    fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), String>;
    fn random_bytes(&mut self, buf: &mut [u8]) -> Result<(), String>;
}

/// One ACL LOG entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub count: u64,
    pub reason: Denied,
    pub context: LogContext,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub ctime: u64,
    pub client_info: Vec<u8>,
}

/// The ACL state of a server.
#[derive(Clone, Debug)]
pub struct Acl {
    /// By name, in name order (Redis's rax).
    pub users: BTreeMap<Vec<u8>, User>,
    /// Newest first.
    pub log: Vec<LogEntry>,
}

impl Acl {
    /// Redis's ACLInit: the default user ("on nopass ~* &* +@all"), with requirepass as its
    /// password when set.
    pub fn new(requirepass: Option<&[u8]>) -> Acl {
        let mut d = User::new(b"default", false);
        for op in [&b"+@all"[..], b"~*", b"&*", b"on", b"nopass"] {
            d.apply(op, false).ok();
        }
        let mut acl = Acl {
            users: BTreeMap::new(),
            log: Vec::new(),
        };
        acl.users.insert(b"default".to_vec(), d);
        acl.set_default_password(requirepass);
        acl
    }

    /// Redis's ACLUpdateDefaultUserPassword (CONFIG SET requirepass).
    pub fn set_default_password(&mut self, pass: Option<&[u8]>) {
        let d = self.users.get_mut(&b"default"[..]).expect("default user");
        d.apply(b"resetpass", false).ok();
        match pass {
            Some(p) => {
                let mut op = b">".to_vec();
                op.extend_from_slice(p);
                d.apply(&op, false).ok();
            }
            None => {
                d.apply(b"nopass", false).ok();
            }
        }
    }

    pub fn default_user(&self) -> &User {
        &self.users[&b"default"[..]]
    }

    /// AUTH <password> is refused when the default user has `nopass`.
    pub fn default_user_nopass(&self) -> bool {
        self.default_user().nopass
    }

    /// The default user has no password (Redis's `DefaultUser->flags & USER_FLAG_NOPASS`:
    /// protected mode's test).
    pub fn default_nopass(&self) -> bool {
        self.default_user().nopass
    }

    /// Redis's authRequired: the default user needs a password or is off.
    pub fn auth_required(&self) -> bool {
        let d = self.default_user();
        !d.nopass || !d.enabled
    }

    /// Redis's ACLCheckUserCredentials.
    pub fn credentials_ok(&self, user: &[u8], pass: &[u8]) -> bool {
        self.users.get(user).is_some_and(|u| u.password_ok(pass))
    }

    /// Redis's ACLStringSetUser: applies the rules to a copy; all or nothing. Returns the
    /// changed user's old channel permissions when they shrank (None: no client to check).
    pub fn set_user(
        &mut self,
        name: &[u8],
        rules: &[&[u8]],
        pubsub_all: bool,
    ) -> Result<Option<Vec<Vec<u8>>>, Vec<u8>> {
        let merged = merge_selector_args(rules).map_err(|bad| {
            let mut m = b"Unmatched parenthesis in acl selector starting at '".to_vec();
            m.extend_from_slice(command::c_str(bad));
            m.extend_from_slice(b"'.");
            m
        })?;
        let existing = self.users.get(name);
        let mut u = existing
            .cloned()
            .unwrap_or_else(|| User::new(name, pubsub_all));
        for op in &merged {
            if let Err(e) = u.apply(op, pubsub_all) {
                let mut m = b"Error in ACL SETUSER modifier '".to_vec();
                m.extend_from_slice(command::c_str(op));
                m.extend_from_slice(b"': ");
                m.extend_from_slice(e.text().as_bytes());
                return Err(m);
            }
        }
        let shrunk = existing.and_then(|old| channels_shrunk(old, &u));
        self.users.insert(name.to_vec(), u);
        Ok(shrunk)
    }

    /// Redis's addACLLogEntry (the grouping of similar entries within 60 s included).
    #[allow(clippy::too_many_arguments)]
    pub fn log(
        &mut self,
        reason: Denied,
        context: LogContext,
        object: Vec<u8>,
        username: Vec<u8>,
        now: u64,
        client_info: Vec<u8>,
        max_len: usize,
    ) {
        let matches = |e: &LogEntry| {
            e.reason == reason
                && e.context == context
                && e.ctime.abs_diff(now) <= 60000
                && e.object == object
                && e.username == username
        };
        if let Some(i) = self.log.iter().take(10).position(matches) {
            let mut e = self.log.remove(i);
            e.client_info = client_info;
            e.ctime = now;
            e.count += 1;
            self.log.insert(0, e);
            return;
        }
        self.log.insert(
            0,
            LogEntry {
                count: 1,
                reason,
                context,
                object,
                username,
                ctime: now,
                client_info,
            },
        );
        self.log.truncate(max_len);
    }

    /// A `user <name> rules...` line of the config file (words after `user`): the user is
    /// created (the default user is reset first) and the rules applied in order.
    pub fn config_user(&mut self, words: &[&[u8]], pubsub_all: bool) -> Result<(), String> {
        let Some((name, rules)) = words.split_first() else {
            return Err("wrong number of arguments".to_string());
        };
        if has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".to_string());
        }
        let merged = merge_selector_args(rules)
            .map_err(|_| "Unmatched parenthesis in acl selector".to_string())?;
        let mut u = match self.users.get(*name) {
            Some(d) if *name == b"default" => {
                let mut d = d.clone();
                d.apply(b"reset", pubsub_all).ok();
                d
            }
            Some(_) => {
                return Err(RuleError::text_duplicate().to_string());
            }
            None => User::new(name, pubsub_all),
        };
        for (j, op) in merged.iter().enumerate() {
            u.apply(op, pubsub_all).map_err(|e| {
                if e == RuleError::NoEnt {
                    // Found at startup in Redis (ACLLoadConfiguredUsers), which then exits.
                    format!(
                        "Error loading ACL rule '{}' for the user named '{}': {}",
                        String::from_utf8_lossy(op),
                        String::from_utf8_lossy(name),
                        e.text()
                    )
                } else {
                    // config.c prints argv[j] of the whole line ("user", name, rules...),
                    // j being the rule's index: Redis's quirk, kept.
                    let shown = [b"user".as_slice(), name]
                        .into_iter()
                        .chain(rules.iter().copied())
                        .nth(j)
                        .unwrap_or_default();
                    format!(
                        "Error in user declaration '{}': {}",
                        String::from_utf8_lossy(shown),
                        e.text()
                    )
                }
            })?;
        }
        self.users.insert(name.to_vec(), u);
        Ok(())
    }

    /// ACL LIST / ACL SAVE lines.
    pub fn list_lines(&self) -> Vec<Vec<u8>> {
        self.users
            .values()
            .map(|u| {
                let mut line = b"user ".to_vec();
                line.extend_from_slice(&u.name);
                line.push(b' ');
                line.extend_from_slice(&u.describe());
                line
            })
            .collect()
    }

    /// Redis's ACLLoadFromFile on the file's text: the new users, or the errors (one line,
    /// as Redis reports them) and nothing changed.
    pub fn load_text(
        &mut self,
        filename: &str,
        text: &[u8],
        pubsub_all: bool,
    ) -> Result<(), Vec<u8>> {
        let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
        let mut errors = String::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let linenum = i + 1;
            let line = trim(line, b" \t\r\n");
            if line.is_empty() {
                continue;
            }
            let argv: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|a| !a.is_empty())
                .collect();
            if argv.is_empty() {
                continue;
            }
            if argv[0] != b"user" || argv.len() < 2 {
                errors.push_str(&format!(
                    "{filename}:{linenum} should start with user keyword followed by the username. "
                ));
                continue;
            }
            if has_spaces(argv[1]) {
                errors.push_str(&format!(
                    "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                    String::from_utf8_lossy(argv[1])
                ));
                continue;
            }
            if users.contains_key(argv[1]) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{}' found on line {linenum}. ",
                    String::from_utf8_lossy(argv[1])
                ));
                continue;
            }
            let mut u = User::new(argv[1], pubsub_all);
            let merged = match merge_selector_args(&argv[2..]) {
                Ok(m) => m,
                Err(_) => {
                    errors.push_str(&format!(
                        "{filename}:{linenum}: Unmatched parenthesis in selector definition."
                    ));
                    Vec::new()
                }
            };
            let mut syntax_error = false;
            for op in &merged {
                let op = trim(op, b"\t\r\n");
                if let Err(e) = u.apply(op, pubsub_all) {
                    if e == RuleError::NoEnt {
                        errors.push_str(&format!(
                            "{filename}:{linenum}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(op),
                            e.text()
                        ));
                    } else if !syntax_error {
                        errors.push_str(&format!("{filename}:{linenum}: {}. ", e.text()));
                        syntax_error = true;
                    }
                }
            }
            users.insert(argv[1].to_vec(), u);
        }
        if !errors.is_empty() {
            errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
            return Err(errors.into_bytes());
        }
        if !users.contains_key(&b"default"[..]) {
            users.insert(b"default".to_vec(), Acl::new(None).default_user().clone());
        }
        self.users = users;
        Ok(())
    }
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let Some((f, rest)) = s.split_first() {
        if !set.contains(f) {
            break;
        }
        s = rest;
    }
    while let Some((l, rest)) = s.split_last() {
        if !set.contains(l) {
            break;
        }
        s = rest;
    }
    s
}

/// Redis's ACLMergeSelectorArguments: a `(` argument without its `)` is joined with the next
/// ones, with spaces. Err: the argument whose parenthesis is not closed.
fn merge_selector_args<'a>(args: &[&'a [u8]]) -> Result<Vec<Vec<u8>>, &'a [u8]> {
    let mut out = Vec::new();
    let mut open: Option<(Vec<u8>, &'a [u8])> = None;
    for &a in args {
        let last = a.last().copied();
        if a.first() == Some(&b'(') && last != Some(b')') {
            open = Some((a.to_vec(), a));
            continue;
        }
        if let Some((sel, _)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(a);
            if last == Some(b')') {
                out.push(open.take().expect("open").0);
            }
            continue;
        }
        out.push(a.to_vec());
    }
    match open {
        Some((_, start)) => Err(start),
        None => Ok(out),
    }
}

/// Redis's ACLKillPubsubClientsIfNeeded's first steps: None when every channel the old
/// rules allowed is still allowed; else the new patterns (the subscribers to check).
fn channels_shrunk(old: &User, new: &User) -> Option<Vec<Vec<u8>>> {
    let upcoming = new.all_channel_patterns()?;
    if old.selectors.iter().any(|s| s.allchannels) {
        return Some(upcoming);
    }
    let kept = old
        .selectors
        .iter()
        .all(|s| s.channels.iter().all(|c| upcoming.contains(c)));
    (!kept).then_some(upcoming)
}

/// Whether a subscriber's channel (or pattern) is allowed by the new patterns.
pub fn channel_in(upcoming: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    channel_allowed(upcoming, channel, is_pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"u", false);
        for r in rules {
            u.apply(r.as_bytes(), false).unwrap();
        }
        u
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            String::from_utf8(hash_password(b"")).unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn describe_compacts_categories() {
        assert_eq!(
            user(&["on", "nopass", "~*", "&*", "+@all"]).describe(),
            b"on nopass ~* &* +@all"
        );
        assert_eq!(
            user(&["+@read"]).describe(),
            b"off resetchannels -@all +@read"
        );
        assert_eq!(
            user(&["+@all", "-@dangerous"]).describe(),
            b"off resetchannels +@all -@dangerous"
        );
    }

    #[test]
    fn every_table_row_has_an_acl_id() {
        let u = universe();
        for c in command::all_commands() {
            let id = u.id_of(c);
            assert!(
                c.name.starts_with(u.names[id]),
                "{} -> {}",
                c.name,
                u.names[id]
            );
        }
        // 7.0.15's COMMAND COUNT is 240 top-level commands; with subcommands, 7.0's table.
        assert_eq!(u.tops.len(), 240);
    }

    #[test]
    fn keys_are_checked_by_spec_flags() {
        let u = user(&["+@all", "%R~r:*", "%W~w:*"]);
        let get = command::lookup(b"get").unwrap();
        let set = command::lookup(b"set").unwrap();
        assert!(u.check(get, &[b"get", b"r:1"]).is_ok());
        assert_eq!(u.check(get, &[b"get", b"w:1"]), Err((Denied::Key, 1)));
        assert!(u.check(set, &[b"set", b"w:1", b"v"]).is_ok());
        assert_eq!(u.check(set, &[b"set", b"r:1", b"v"]), Err((Denied::Key, 1)));
    }
}
