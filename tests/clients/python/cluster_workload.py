"""redis-py's RedisCluster against a Redis Cluster, for the cluster suite (xtask/src/cluster.rs).

    python3 cluster_workload.py workload HOST:PORT [TAG]
        A bounded workload: strings, hashes with hash tags, MULTI/EXEC on one slot (a
        transaction on the node owning the slot), PUBLISH received by a subscriber on another
        node (the bus carries it), SPUBLISH received through SSUBSCRIBE. TAG keeps runs apart.
        Prints `ok NAME` / `FAILED NAME: error` per check.

    python3 cluster_workload.py writer HOST:PORT ACKS_FILE STOP_FILE
        Writes `rw:<i>` = i until STOP_FILE exists (or 300 s), appending each acknowledged
        write's i to ACKS_FILE. Errors (a slot moving: redis-py follows MOVED/ASK itself) are
        counted and retried. Then reads every acknowledged key back and prints
        `ok writer: N acknowledged writes, all readable (E errors retried)` or `FAILED ...`.
"""

import os
import sys
import time

import redis
from redis.cluster import ClusterNode, RedisCluster

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check  # noqa: E402


def connect(addr):
    host, port = addr.rsplit(":", 1)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, int(port))],
        decode_responses=True,
        socket_timeout=5,
        cluster_error_retry_attempts=10,
    )


def wait_message(p, want, kind="message", timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = (
            p.get_sharded_message(timeout=0.2)
            if kind in ("smessage", "ssubscribe")
            else p.get_message(timeout=0.2)
        )
        if m and m["type"] == kind:
            if m["data"] != want:
                raise AssertionError(f"got {m!r}, want {want!r}")
            return
    raise AssertionError(f"no {kind} {want!r} within {timeout}s")


def workload(addr, tag):
    rc = connect(addr)

    @check("strings")
    def _():
        for i in range(300):
            rc.set(f"{tag}:s:{i}", f"v{i}")
        for i in range(300):
            assert rc.get(f"{tag}:s:{i}") == f"v{i}", i
        assert rc.incrby(f"{tag}:counter", 5) == 5
        assert rc.append(f"{tag}:s:0", "x") == 3
        assert rc.delete(f"{tag}:s:1") == 1
        assert rc.get(f"{tag}:s:1") is None

    @check("hashes with hash tags, multi-key commands on one slot")
    def _():
        for u in range(50):
            t = f"{{{tag}:user:{u}}}"
            rc.hset(f"{t}:profile", mapping={"name": f"n{u}", "age": u})
            rc.set(f"{t}:visits", u)
            assert rc.keyslot(f"{t}:profile") == rc.keyslot(f"{t}:visits")
            # MSET/MGET across two keys of one slot: one node serves both.
            rc.execute_command("MSET", f"{t}:a", "1", f"{t}:b", "2")
            assert rc.execute_command("MGET", f"{t}:a", f"{t}:b") == ["1", "2"]
        for u in range(50):
            t = f"{{{tag}:user:{u}}}"
            assert rc.hgetall(f"{t}:profile") == {"name": f"n{u}", "age": str(u)}
            assert rc.hincrby(f"{t}:profile", "age", 1) == u + 1

    @check("MULTI/EXEC on one slot")
    def _():
        key = f"{{{tag}:tx}}:a"
        node = rc.get_node_from_key(key)
        r = rc.get_redis_connection(node)
        with r.pipeline(transaction=True) as p:
            p.set(key, "1")
            p.incr(key)
            p.hset(f"{{{tag}:tx}}:h", "f", "v")
            p.get(key)
            res = p.execute()
        assert res == [True, 2, 1, "2"], res
        assert rc.get(key) == "2"

    @check("CROSSSLOT refused by the server")
    def _():
        node = rc.get_node_from_key(f"{tag}:x")
        r = rc.get_redis_connection(node)
        try:
            r.execute_command("MSET", f"{tag}:x", "1", f"{tag}:y", "2", f"{tag}:z", "3")
        except redis.exceptions.ClusterCrossSlotError:
            pass  # -CROSSSLOT Keys in request don't hash to the same slot
        except redis.exceptions.ResponseError as e:
            assert "MOVED" in str(e), e
        else:
            raise AssertionError("MSET over three slots was accepted")

    @check("PUBLISH reaches a subscriber on another node (over the bus)")
    def _():
        nodes = rc.get_nodes()
        sub_node, pub_node = nodes[0], nodes[-1]
        sub = redis.Redis(host=sub_node.host, port=sub_node.port, decode_responses=True)
        pub = redis.Redis(host=pub_node.host, port=pub_node.port, decode_responses=True)
        p = sub.pubsub()
        p.subscribe(f"{tag}:news")
        wait_message(p, 1, kind="subscribe")
        # The subscriber is on another node: the bus carries the message; retry a few
        # times in case the subscription raced the first publish.
        deadline = time.time() + 10
        got = False
        while not got and time.time() < deadline:
            pub.publish(f"{tag}:news", "hello")
            try:
                wait_message(p, "hello", timeout=1.0)
                got = True
            except AssertionError:
                pass
        assert got, f"no message from {pub_node.name} on {sub_node.name}"
        p.close()
        sub.close()
        pub.close()

    @check("SPUBLISH / SSUBSCRIBE")
    def _():
        ch = f"{tag}:shard-news"
        p = rc.pubsub()
        p.ssubscribe(ch)
        wait_message(p, 1, kind="ssubscribe")
        assert rc.spublish(ch, "s-hello") >= 1
        wait_message(p, "s-hello", kind="smessage")
        p.close()

    rc.close()


def writer(addr, acks_path, stop_path):
    rc = connect(addr)
    writes = errors = 0
    acked = []
    deadline = time.time() + 300
    i = 0
    with open(acks_path, "a", buffering=1) as acks:
        while not os.path.exists(stop_path) and time.time() < deadline:
            i += 1
            try:
                rc.set(f"rw:{i}", str(i))
                writes += 1
                acked.append(i)
                acks.write(f"{i}\n")
            except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException):
                errors += 1
                time.sleep(0.05)
    lost = []
    for i in acked:
        for attempt in range(5):
            try:
                v = rc.get(f"rw:{i}")
                break
            except redis.exceptions.RedisError:
                time.sleep(0.2)
        else:
            v = None
        if v != str(i):
            lost.append(i)
    if lost:
        print(f"FAILED writer: {len(lost)} of {len(acked)} acknowledged writes lost "
              f"(first rw:{lost[0]})", flush=True)
    elif not acked:
        print("FAILED writer: no write acknowledged", flush=True)
    else:
        print(f"ok writer: {len(acked)} acknowledged writes, all readable "
              f"({errors} errors retried)", flush=True)
    rc.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "workload":
        workload(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "py")
    elif mode == "writer":
        writer(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown mode {mode}")
