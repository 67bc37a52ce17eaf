"""Smoke test of redis-py against a server: python3 smoke.py HOST:PORT

Connects over RESP3 (protocol=3) and RESP2, then checks pub/sub between two connections, a
pipeline, a MULTI/EXEC transaction with WATCH, a blocking pop woken by another connection,
redis-py's Lock (its Lua scripts through EVALSHA, with the NOSCRIPT -> EVAL fallback), and a
keyspace-notification listener seeing keys expire untouched. Prints one line per check ("ok NAME" / "FAILED NAME: why") and exits non-zero if
any failed.
"""

import sys
import threading
import time

import redis

from checks import check, results

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)


def client(protocol=2, **kw):
    return redis.Redis(host=HOST, port=PORT, protocol=protocol, socket_timeout=10, **kw)


@check("connect with HELLO 3 (protocol=3)")
def _():
    r = client(3, decode_responses=True)
    assert r.ping() is True
    r.flushall()
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == "hello"
    # A RESP3 map comes back as a dict.
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hgetall("h") == {"a": "1", "b": "2"}
    info = r.execute_command("HELLO", "3")
    assert info["proto"] == 3, info


def messages(p, n):
    """Up to `n` messages from the pubsub object `p`, waiting at most 5 s."""
    got = []
    deadline = time.time() + 5
    while len(got) < n and time.time() < deadline:
        m = p.get_message(timeout=1)
        if m:
            got.append(m)
    return got


@check("pub/sub between two connections (RESP2)")
def _():
    sub_conn = client(decode_responses=True)
    p = sub_conn.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    got = messages(p, 2)
    assert [m["type"] for m in got] == ["subscribe", "psubscribe"], got
    assert client().publish("news", "hello") == 2
    msgs = messages(p, 2)
    assert msgs[0] == {"type": "message", "pattern": None, "channel": "news", "data": "hello"}, msgs
    assert msgs[1] == {"type": "pmessage", "pattern": "n*", "channel": "news", "data": "hello"}, msgs
    p.close()


@check("pub/sub with RESP3 push messages")
def _():
    sub_conn = client(3, decode_responses=True)
    p = sub_conn.pubsub()
    p.subscribe("ch3")
    first = p.get_message(timeout=2)
    assert first and first["type"] == "subscribe", first
    assert client(3).publish("ch3", "pushed") == 1
    m = messages(p, 1)
    assert m == [{"type": "message", "pattern": None, "channel": "ch3", "data": "pushed"}], m
    p.close()


@check("pipeline")
def _():
    r = client(decode_responses=True)
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.rpush("plist", i)
    pipe.lrange("plist", 0, 2)
    pipe.llen("plist")
    out = pipe.execute()
    assert out[:3] == [1, 2, 3]
    assert out[-2:] == [["0", "1", "2"], 100], out[-2:]


@check("transaction (MULTI/EXEC with WATCH)")
def _():
    r = client(decode_responses=True)
    r.set("counter", 1)
    with r.pipeline() as pipe:
        pipe.watch("counter")
        v = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", v + 1)
        pipe.incr("counter")
        assert pipe.execute() == [True, 3]
    # A write from another connection between WATCH and EXEC aborts the transaction.
    with r.pipeline() as pipe:
        pipe.watch("counter")
        client().set("counter", 100)
        pipe.multi()
        pipe.incr("counter")
        try:
            pipe.execute()
            raise AssertionError("EXEC should have been aborted")
        except redis.WatchError:
            pass
    assert r.get("counter") == "100"


@check("blocking pop woken by another connection")
def _():
    r = client(decode_responses=True)
    r.delete("jobs")
    out = {}

    def waiter():
        out["v"] = client(decode_responses=True).blpop(["jobs"], timeout=10)

    t = threading.Thread(target=waiter)
    t.start()
    # Push once the waiter is blocked (INFO counts it).
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] < 1 and time.time() < deadline:
        time.sleep(0.01)
    assert r.lpush("jobs", "job-1") == 1
    t.join(10)
    assert tuple(out.get("v") or ()) == ("jobs", "job-1"), out
    # And a timeout returns None.
    assert r.blpop(["nothing"], timeout=0.1) is None


@check("Lock: acquire, contend, extend, reacquire, release (Lua scripts via EVALSHA)")
def _():
    r = client(decode_responses=True)
    r.delete("lock:res")
    # Empty the script cache first: Lock's scripts then go through redis-py's NOSCRIPT -> EVAL
    # fallback once, and EVALSHA afterwards.
    r.script_flush()
    a = r.lock("lock:res", timeout=5, blocking_timeout=0.2)
    b = client(decode_responses=True).lock("lock:res", timeout=5, blocking_timeout=0.2)
    assert a.acquire() is True
    assert b.acquire() is False, "a second holder must not get the lock"
    assert a.owned() is True and b.owned() is False
    assert a.extend(5) is True
    assert 5000 < r.pttl("lock:res") <= 10000, r.pttl("lock:res")
    assert a.reacquire() is True
    assert 0 < r.pttl("lock:res") <= 5000, r.pttl("lock:res")
    a.release()
    assert r.exists("lock:res") == 0
    try:
        a.release()
        raise AssertionError("releasing a released lock must fail")
    except redis.exceptions.LockError:
        pass
    assert b.acquire() is True
    b.release()


@check("keyspace notifications: expired events for keys that expire untouched (Ex)")
def _():
    # What Spring Session and job schedulers do: listen on __keyevent@0__:expired and let
    # keys expire on their own. Nothing reads the keys, so only the active expiry cycle can
    # find them; both a RESP2 and a RESP3 listener get every one.
    r = client(decode_responses=True)
    r.config_set("notify-keyspace-events", "Ex")
    try:
        listeners = []
        for protocol in (2, 3):
            p = client(protocol, decode_responses=True).pubsub()
            p.subscribe("__keyevent@0__:expired")
            assert [m["type"] for m in messages(p, 1)] == ["subscribe"]
            listeners.append(p)
        keys = {f"session:{i}" for i in range(5)}
        for k in keys:
            r.set(k, "v", px=100)
        r.set("session:forever", "v")
        for p in listeners:
            got = messages(p, len(keys))
            assert {m["channel"] for m in got} == {"__keyevent@0__:expired"}, got
            assert {m["data"] for m in got} == keys, got
            p.close()
        assert r.exists("session:forever") == 1
    finally:
        r.config_set("notify-keyspace-events", "")


failed = [n for n, e in results if e is not None]
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
