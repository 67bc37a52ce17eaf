"""A Sentinel-aware writer for the sentinel suite (xtask/src/sentinel.rs):

    python3 sentinel_writer.py ACKS_FILE STOP_FILE SENTINEL_PORT...

Connects through redis-py's Sentinel (service "mymaster"), then loops: SET w:<i> <i>, WAIT 1
2000; a write WAIT 1 acknowledged (a replica has it) is appended to ACKS_FILE as
"<i> <master host:port>" and flushed at once, so the suite can read which writes were
acknowledged before it killed the master. Connection errors (the master is gone, a replica
still read-only during the failover) are counted and retried after a short pause: the
Sentinel-backed pool asks the Sentinels for the master again. Stops when STOP_FILE exists
(or after 180 s) and prints one summary line: "writes N acked A errors E masters M".
"""

import os
import sys
import time

import redis
from redis.sentinel import Sentinel

acks_path, stop_path = sys.argv[1], sys.argv[2]
ports = [int(p) for p in sys.argv[3:]]

sentinel = Sentinel(
    [("127.0.0.1", p) for p in ports], socket_timeout=1.0, socket_connect_timeout=1.0
)
master = sentinel.master_for("mymaster", socket_timeout=3.0, socket_connect_timeout=1.0)

writes = acked = errors = 0
masters = set()
deadline = time.time() + 180
with open(acks_path, "a", buffering=1) as acks:
    i = 0
    while not os.path.exists(stop_path) and time.time() < deadline:
        i += 1
        try:
            addr = "%s:%d" % sentinel.discover_master("mymaster")
            master.set("w:%d" % i, str(i))
            writes += 1
            n = master.execute_command("WAIT", 1, 2000)
            if n >= 1:
                acked += 1
                masters.add(addr)
                acks.write("%d %s\n" % (i, addr))
                acks.flush()
                os.fsync(acks.fileno())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ReadOnlyError, redis.exceptions.ResponseError) as e:
            errors += 1
            time.sleep(0.1)

print("writes %d acked %d errors %d masters %d" % (writes, acked, errors, len(masters)))
