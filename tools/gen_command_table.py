#!/usr/bin/env python3
"""Writes core/src/command/table.rs from a running Redis 7.0 (Debian's redis-server).

The command table is the one source of names, arities, flags, key positions and docs for
dispatch, COMMAND and the playground. Rather than copy Redis's metadata by hand, this asks the
reference server (COMMAND INFO / COMMAND DOCS, over RESP3) and writes the rows of the commands
Oxidis implements. Edit IMPLEMENTED below and rerun:

    redis-server --port 7777 --save '' --appendonly no --daemonize yes
    python3 tools/gen_command_table.py 7777 && cargo fmt
"""
import socket
import sys

# command -> module (core/src/command/<module>.rs). Subcommands as "parent|sub".
IMPLEMENTED = {
    "connection": "ping echo select quit hello client|id client|setname client|getname client|setinfo "
                  "client|help auth reset client|list client|info client|kill client|pause client|unpause "
                  "client|reply client|no-evict",
    "tracking": "client|tracking client|caching client|getredir client|trackinginfo",
    "tx": "multi exec discard watch unwatch",
    "pubsub": "subscribe unsubscribe psubscribe punsubscribe publish pubsub|channels pubsub|numsub "
              "pubsub|numpat pubsub|shardchannels pubsub|shardnumsub pubsub|help ssubscribe spublish "
              "sunsubscribe",
    "blocking": "blpop brpop blmove brpoplpush blmpop bzpopmin bzpopmax bzmpop client|unblock",
    "persistence": "save bgsave bgrewriteaof lastsave shutdown dump restore",
    "debug": "debug",
    "migrate": "migrate restore-asking",
    "cluster": "cluster|help cluster|info cluster|myid cluster|nodes cluster|slots cluster|shards "
               "cluster|links cluster|keyslot cluster|countkeysinslot cluster|getkeysinslot cluster|meet "
               "cluster|forget cluster|reset cluster|addslots cluster|addslotsrange cluster|delslots "
               "cluster|delslotsrange cluster|flushslots cluster|setslot cluster|replicate "
               "cluster|replicas cluster|slaves cluster|failover cluster|count-failure-reports "
               "cluster|set-config-epoch cluster|bumpepoch cluster|saveconfig asking readonly readwrite",
    "server": "command|count command|info command|docs command|list command|help "
              "info dbsize flushdb flushall time config|get config|set config|resetstat config|help "
              "swapdb",
    "replication": "replconf sync psync wait role replicaof slaveof failover",
    "bitops": "setbit getbit bitcount bitpos bitop bitfield bitfield_ro",
    "string": "set get getset getdel getex setnx setex psetex mset msetnx mget append strlen incr decr "
              "incrby decrby incrbyfloat setrange getrange substr lcs",
    "keys": "del unlink exists type keys scan rename renamenx copy move randomkey touch",
    "object": "object|encoding object|refcount object|freq object|idletime object|help",
    "sort": "sort sort_ro",
    "list": "lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset linsert lrem ltrim lpos lmove "
            "rpoplpush lmpop",
    "hash": "hset hsetnx hget hmget hmset hdel hlen hexists hgetall hkeys hvals hincrby hincrbyfloat "
            "hstrlen hrandfield hscan",
    "set": "sadd srem sismember smismember scard smembers spop srandmember smove sinter sintercard "
           "sunion sdiff sinterstore sunionstore sdiffstore sscan",
    "zset": "zadd zincrby zrem zscore zmscore zcard zcount zlexcount zrank zrevrank zrange zrangestore "
            "zrangebyscore zrevrangebyscore zrangebylex zrevrangebylex zrevrange zpopmin zpopmax zmpop "
            "zrandmember zremrangebyrank zremrangebyscore zremrangebylex zunionstore zinterstore "
            "zdiffstore zunion zinter zdiff zintercard zscan",
    "geo": "geoadd geodist geohash geopos georadius georadius_ro georadiusbymember "
           "georadiusbymember_ro geosearch geosearchstore",
    "expire": "expire pexpire expireat pexpireat ttl pttl expiretime pexpiretime persist",
    "stream": "xadd xrange xrevrange xlen xdel xtrim xread xreadgroup xack xpending xclaim xautoclaim "
              "xsetid xgroup|create xgroup|setid xgroup|destroy xgroup|createconsumer xgroup|delconsumer "
              "xgroup|help xinfo|stream xinfo|groups xinfo|consumers xinfo|help",
    "intro": "slowlog|get slowlog|len slowlog|reset slowlog|help latency|latest latency|history "
             "latency|reset latency|graph latency|doctor latency|histogram latency|help monitor "
             "module|list module|load module|unload module|loadex module|help command|getkeys "
             "command|getkeysandflags memory|usage memory|stats memory|doctor memory|malloc-stats "
             "memory|purge memory|help lolwut config|rewrite",
    "hll": "pfadd pfcount pfmerge pfdebug pfselftest",
    "acl": "acl|setuser acl|getuser acl|deluser acl|list acl|users acl|whoami acl|cat acl|genpass "
           "acl|log acl|dryrun acl|load acl|save acl|help",
    "scripting": "eval evalsha eval_ro evalsha_ro script|load script|exists script|flush script|help "
                 "script|kill fcall fcall_ro function|load function|delete function|list function|dump "
                 "function|restore function|flush function|kill function|stats function|help",
}
# CLIENT SETINFO is Redis 7.2's, but clients (redis-py, node-redis) send it on connect: Oxidis
# answers it as 7.2 does, with 7.2's metadata, written here as the nodes the server would send.
def _s(x):
    return (b"$", x.encode())
def _set(*xs):
    return (b"~", [(b"+", x.encode()) for x in xs])
EXTRA_INFO = {"client": {"client|setinfo": (b"*", [
    _s("client|setinfo"), (b":", b"-4"), _set("noscript", "loading", "stale"),
    (b":", b"0"), (b":", b"0"), (b":", b"0"), _set("@slow", "@connection"),
    (b"*", []), (b"*", []), (b"*", [])])}}
EXTRA_DOCS = {"client": {"client|setinfo": (b"%", [
    (_s("summary"), _s("Sets information specific to the client or connection.")),
    (_s("since"), _s("7.2.0")),
    (_s("group"), _s("connection")),
    (_s("complexity"), _s("O(1)")),
    (_s("arguments"), (b"*", [(b"%", [
        (_s("name"), _s("attr")), (_s("type"), _s("oneof")),
        (_s("arguments"), (b"*", [
            (b"%", [(_s("name"), _s("libname")), (_s("type"), _s("string")), (_s("token"), _s("LIB-NAME"))]),
            (b"%", [(_s("name"), _s("libver")), (_s("type"), _s("string")), (_s("token"), _s("LIB-VER"))]),
        ]))])]))])}}

# Containers whose bare name (with no subcommand) is itself a command in Redis: their handler
# serves the bare call (COMMAND lists every command's info).
BARE_CONTAINERS = {"command": "server"}
RUST_KEYWORDS = {"type", "move", "ref", "fn", "loop", "match", "where", "use"}

# Flags the table carries that COMMAND INFO does not show (addReplyCommandFlags leaves
# CMD_MAY_REPLICATE out), from src/commands/*.json at 7.0.15: CLIENT PAUSE WRITE holds these
# commands and read-only scripts refuse them.
HIDDEN_FLAGS = {
    "eval": ["may_replicate"],
    "evalsha": ["may_replicate"],
    "fcall": ["may_replicate"],
    "pfcount": ["may_replicate"],
    "publish": ["may_replicate"],
    "spublish": ["may_replicate"],
}

FLAG_BITS = [
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "may_replicate", "sentinel", "only_sentinel", "no_mandatory_keys", "protected",
    "module_getkeys", "module_no_cluster", "no_async_loading", "no_multi", "movablekeys",
    "allow_busy", "module_getchannels", "touches_arbitrary_keys",
]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def read(self):
        """Returns (type, value) trees so the RESP3 bytes can be re-encoded exactly."""
        l = self.line()
        t, rest = l[:1], l[1:]
        if t in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
            return (t, rest)
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            return (t, None if n < 0 else self.exact(n))
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return (t, [self.read() for _ in range(n)])
        if t == b"%":
            n = int(rest)
            return (t, [(self.read(), self.read()) for _ in range(n)])
        raise ValueError(l)


def encode(node):
    t, v = node
    if t in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
        return t + v + b"\r\n"
    if t in (b"$", b"=", b"!"):
        return t + b"%d\r\n" % len(v) + v + b"\r\n"
    if t in (b"*", b"~", b">"):
        return t + b"%d\r\n" % len(v) + b"".join(encode(x) for x in v)
    if t == b"%":
        return t + b"%d\r\n" % len(v) + b"".join(encode(k) + encode(x) for k, x in v)
    raise ValueError(t)


def rust_bytes(b):
    out = []
    for c in b:
        ch = chr(c)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif 32 <= c < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    return 'b"' + "".join(out) + '"'


def rust_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text(node):
    return node[1].decode()


def handler_name(fullname):
    n = fullname.replace("|", "_").replace("-", "_")
    return n + "_" if n in RUST_KEYWORDS else n


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7777
    c = Conn(port)
    c.call("HELLO", "3")
    wanted = {}
    for module, names in IMPLEMENTED.items():
        for n in names.split():
            wanted[n] = module
    parents = sorted({n.split("|")[0] for n in wanted})
    infos = {}
    docs = {}
    for p in parents:
        (_, [info]) = c.call("COMMAND", "INFO", p)
        infos[p] = info
        (_, pairs) = c.call("COMMAND", "DOCS", p)
        docs[p] = pairs[0][1]

    def doc_fields(d):
        d = dict((text(k), v) for k, v in d[1])
        extra = [(k, v) for k, v in d.items()
                 if k not in ("summary", "since", "group", "complexity", "subcommands")]
        extra_bytes = b"".join(encode((b"+", k.encode())) + encode(v) for k, v in extra)
        return d, len(extra), extra_bytes, d.get("subcommands")

    def row(info, docmap, module, fullname, subrows):
        (_, fields) = info
        name = text(fields[0])
        arity = int(fields[1][1])
        flags = [text(f) for f in fields[2][1]]
        flags += HIDDEN_FLAGS.get(fullname, [])
        first, last, step = (int(fields[i][1]) for i in (3, 4, 5))
        acl = [text(f) for f in fields[6][1]]
        tips = encode(fields[7])
        keyspecs = encode(fields[8])
        d, nextra, extra, _ = doc_fields(docmap)
        unknown = [f for f in flags if f not in FLAG_BITS]
        assert not unknown, unknown
        flag_expr = " | ".join("flags::" + f.upper() for f in flags) or "0"
        complexity = rust_str(text(d['complexity'])) if 'complexity' in d else '""'
        handler = "Some(%s::%s)" % (module, handler_name(fullname)) if module else "None"
        return (
            "    CommandSpec {\n"
            f"        name: {rust_str(name)},\n"
            f"        arity: {arity},\n"
            f"        flags: {flag_expr},\n"
            f"        first_key: {first},\n"
            f"        last_key: {last},\n"
            f"        key_step: {step},\n"
            f"        acl_categories: &[{', '.join(rust_str(a) for a in acl)}],\n"
            f"        group: {rust_str(text(d['group']))},\n"
            f"        summary: {rust_str(text(d['summary']))},\n"
            f"        since: {rust_str(text(d['since']))},\n"
            f"        complexity: {complexity},\n"
            f"        tips_resp3: {rust_bytes(tips)},\n"
            f"        key_specs_resp3: {rust_bytes(keyspecs)},\n"
            f"        doc_extra_count: {nextra},\n"
            f"        doc_extra_resp3: {rust_bytes(extra)},\n"
            f"        handler: {handler},\n"
            f"        subcommands: {subrows},\n"
            "    },\n"
        )

    out = [
        "//! THE command table, generated by tools/gen_command_table.py from Debian's redis-server\n"
        "//! 7.0 (COMMAND INFO and COMMAND DOCS), so names, arities, flags, key positions and docs\n"
        "//! are Redis's own. Dispatch, COMMAND and the playground's autocomplete all read it.\n"
        "//! Do not edit by hand: change IMPLEMENTED in the script and rerun it.\n\n"
        "use super::{\n    " + ", ".join(sorted(set(IMPLEMENTED) | {"flags"})) + ", CommandSpec,\n};\n\n"
    ]
    subtables = []
    top = []
    for p in parents:
        info = infos[p]
        subs = [n for n in wanted if n.startswith(p + "|")]
        if subs:
            subinfo = {text(s[1][0]): s for s in info[1][9][1]}
            subinfo.update(EXTRA_INFO.get(p, {}))
            subdocs = dict((text(k), v) for k, v in dict((text(k), v) for k, v in docs[p][1])["subcommands"][1])
            const = p.upper().replace("-", "_") + "_SUBCOMMANDS"
            subdocs.update(EXTRA_DOCS.get(p, {}))
            rows = "".join(row(subinfo[s], subdocs[s], wanted[s], s, "&[]") for s in sorted(subs))
            subtables.append(f"static {const}: &[CommandSpec] = &[\n{rows}];\n\n")
            top.append(row(info, docs[p], BARE_CONTAINERS.get(p), p, const))
        else:
            top.append(row(info, docs[p], wanted[p], p, "&[]"))
    out.extend(subtables)
    out.append("pub static COMMANDS: &[CommandSpec] = &[\n" + "".join(top) + "];\n")
    # ACL rules and ACL CAT range over Redis's whole command table, implemented or not, so that
    # `+migrate` is accepted and ACL LIST compacts categories as redis-server does.
    (_, allinfo) = c.call("COMMAND")
    others = []
    for info in allinfo:
        fields = info[1]
        name = text(fields[0])
        if name not in wanted and name not in parents:
            others.append((name, [text(a) for a in fields[6][1]]))
        for sub in fields[9][1]:
            sname = text(sub[1][0])
            if sname not in wanted:
                others.append((sname, [text(a) for a in sub[1][6][1]]))
    others.sort()
    out.append(
        "\n/// Redis's commands and subcommands Oxidis does not implement, with their ACL categories:\n"
        "/// ACL rules may name them and ACL CAT lists them, as redis-server does.\n"
        "pub static ACL_OTHER_COMMANDS: &[(&str, &[&str])] = &[\n"
        + "".join(f"    ({rust_str(n)}, &[{', '.join(rust_str(a) for a in acl)}]),\n" for n, acl in others)
        + "];\n")
    with open("core/src/command/table.rs", "w") as f:
        f.write("".join(out))
    print(f"{len(wanted)} commands and subcommands written")


main()
