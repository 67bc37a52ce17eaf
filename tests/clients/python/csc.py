"""Client-side caching with redis-py against a server: python3 csc.py HOST:PORT

redis-py's client-side cache (`protocol=3, cache_config=CacheConfig()`: CLIENT TRACKING ON on
every pooled connection, RESP3 `invalidate` pushes) must serve repeated reads from its cache,
without asking the server (proved with the server's own count, INFO's
total_commands_processed, read from another connection), and must drop a key when another
client writes it, and everything on FLUSHALL.

redis-py 5.2.1 refuses to cache against servers older than "7.4" (a product gate in
CacheProxyConnection.connect: the protocol it uses, CLIENT TRACKING and RESP3 pushes, is Redis
6's); the gate is lowered to 7.0 here so the same client runs against redis-server 7.0.15 and
oxidis-server. Prints "ok NAME" / "FAILED NAME: why" per check; exits non-zero if one failed.
"""

import sys
import time

import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

from checks import check, results

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)
CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"


other = redis.Redis(host=HOST, port=PORT, socket_timeout=10, decode_responses=True)
other.flushall()
cached = redis.Redis(
    host=HOST,
    port=PORT,
    protocol=3,
    cache_config=CacheConfig(),
    socket_timeout=10,
    decode_responses=True,
)


def processed():
    """The server's count of commands run (this INFO included or not: the same on each call)."""
    return int(other.info("stats")["total_commands_processed"])


def wait_for(what, cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@check("the first read goes to the server and turns tracking on")
def _():
    other.set("csc:a", "v1")
    assert cached.get("csc:a") == "v1"
    assert int(other.info("clients")["tracking_clients"]) >= 1
    assert cached.get_cache().size >= 1


@check("repeated reads are served from the client's cache")
def _():
    before = processed()
    for _ in range(200):
        assert cached.get("csc:a") == "v1"
    after = processed()
    # Only the INFO between the two counts ran on the server.
    assert after - before == 1, (before, after)


@check("another client's write invalidates the cached key")
def _():
    other.set("csc:a", "v2")
    wait_for("the invalidation", lambda: cached.get("csc:a") == "v2")
    # Cached again: reads stay local.
    before = processed()
    for _ in range(50):
        assert cached.get("csc:a") == "v2"
    assert processed() - before == 1


@check("a key expiring on the server is invalidated")
def _():
    other.set("csc:ttl", "x", px=100)
    assert cached.get("csc:ttl") == "x"
    wait_for("the expiry invalidation", lambda: cached.get("csc:ttl") is None)


@check("FLUSHALL empties the client's cache (a null invalidation)")
def _():
    other.set("csc:b", "1")
    assert cached.get("csc:b") == "1"
    assert cached.get("csc:a") == "v2"
    other.flushall()
    wait_for("the null invalidation", lambda: cached.get("csc:b") is None)
    assert cached.get("csc:a") is None


@check("hashes and multi-key reads are cached and invalidated per key")
def _():
    other.hset("csc:h", mapping={"f": "1"})
    other.set("csc:m1", "1")
    other.set("csc:m2", "2")
    assert cached.hgetall("csc:h") == {"f": "1"}
    assert cached.mget("csc:m1", "csc:m2") == ["1", "2"]
    before = processed()
    for _ in range(20):
        assert cached.hgetall("csc:h") == {"f": "1"}
        assert cached.mget("csc:m1", "csc:m2") == ["1", "2"]
    assert processed() - before == 1
    other.set("csc:m2", "3")
    wait_for("the MGET invalidation", lambda: cached.mget("csc:m1", "csc:m2") == ["1", "3"])
    assert cached.hgetall("csc:h") == {"f": "1"}


cached.close()
other.close()
sys.exit(1 if any(e for _, e in results) else 0)
