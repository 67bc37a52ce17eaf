"""Network safety against both servers: python3 netsafety.py OXIDIS_BIN [REDIS_BIN] [--idle N]

Starts Debian's redis-server (the reference) and oxidis-server with the same flags on free
loopback ports, in a scratch directory with a test CA, server and client certificates made by
the openssl CLI, and checks, on each server, that:

- protected mode (7.0: no password for the default user) refuses a client connecting from
  127.0.0.2, which Redis's islocalClient does not count as loopback, with the DENIED text,
  byte for byte the same as redis-server's, while 127.0.0.1 and the unix socket are served; a
  password or `protected-mode no` lets 127.0.0.2 in; INFO rejected_connections counts it;
- maxclients refuses the connection past the limit with `-ERR max number of clients reached`
  (same bytes), and under a hard `ulimit -n 200` both reduce maxclients to 168 and refuse
  CONFIG SET maxclients 500 with the same error;
- unixsocket/unixsocketperm: the socket file has the mode asked for, redis-cli -s works, and
  CLIENT LIST shows flags=U and addr=<path>:0;
- tcp-keepalive: the server's side of a connection has a keepalive timer (ss -o) with the
  default 300, and none after CONFIG SET tcp-keepalive 0;
- TLS on tls-port next to the plain port: redis-cli --tls with the client certificate,
  redis-py ssl=True (a 2 MB value, a 1000-command pipeline), a client without a certificate
  refused under tls-auth-clients yes; a second pair with tls-auth-clients optional, the CA from
  tls-ca-cert-dir, tls-protocols TLSv1.3 (a TLS 1.2-only client refused) and
  tls-ciphersuites TLS_CHACHA20_POLY1305_SHA256 (the suite negotiated);
- rename-command (config file and command line) renames and deletes as redis-server does,
  COMMAND's views included (a renamed command listed under its own name, a deleted one not);
- CONFIG SET port / bind / tls-port move the listeners at runtime: the new port serves and the
  old one refuses, new bind addresses replace the old, and a port or address already in use
  gives redis-server's error while the old listener keeps serving;
- N (default 10000) idle connections are all held (connected_clients, a PING on the first and
  the last), and the RSS each costs is reported for both servers ("figure" lines), fresh and
  again after each has sent one PING; both must stay under 32 kB per connection.

One line per check ("ok NAME" / "FAILED NAME: why"); exits non-zero if any failed.
"""

import os
import resource
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time

import redis

from checks import check, results

OXIDIS = sys.argv[1]
REDIS = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else "redis-server"
IDLE = int(sys.argv[sys.argv.index("--idle") + 1]) if "--idle" in sys.argv else 10000
WORK = tempfile.mkdtemp(prefix="oxidis-netsafety-")
servers = []


def eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


class Server:
    """One server process on a free port; `args` are extra redis-server flags."""

    def __init__(self, kind, args, limit=None):
        self.kind = kind
        self.port = free_port()
        self.dir = os.path.join(WORK, f"{kind}-{self.port}")
        os.makedirs(self.dir)
        self.log = os.path.join(self.dir, "log")
        binary = OXIDIS if kind == "oxidis" else REDIS
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", self.dir, *[a.replace("@DIR", self.dir) for a in args]]

        def pre():
            if limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     preexec_fn=pre)
        servers.append(self)
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{kind} did not start: {open(self.log).read()[-2000:]}")
                time.sleep(0.05)

    def r(self, **kw):
        return redis.Redis(port=self.port, socket_timeout=20, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pair(args, limit=None):
    """redis-server and oxidis-server with the same flags: [(name, Server)]."""
    return [("redis-server", Server("redis", args, limit)), ("oxidis-server", Server("oxidis", args, limit))]


def stop(p):
    for _, s in p:
        s.stop()


def read_all(sock, timeout=10):
    """What the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        data += d
    return data


def connect_from(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def info_field(r, section, field):
    return r.info(section)[field]


# ---- certificates: a CA, a server certificate for 127.0.0.1/localhost, a client certificate
CERTS = os.path.join(WORK, "certs")
os.makedirs(CERTS)


def cert_path(name):
    return os.path.join(CERTS, name)


def make_certs():
    def openssl(*a):
        sh("openssl", *a, cwd=CERTS)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=Oxidis Test CA")
    with open(cert_path("server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    with open(cert_path("client.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=clientAuth\n")
    for who in ["server", "client"]:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}.key", "-out", f"{who}.csr",
                "-subj", f"/CN={who}")
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{who}.crt", "-days", "2", "-extfile", f"{who}.ext")
    # An OpenSSL CApath: the CA under its subject hash.
    cadir = cert_path("cadir")
    os.makedirs(cadir)
    h = sh("openssl", "x509", "-hash", "-noout", "-in", cert_path("ca.crt")).strip()
    shutil.copy(cert_path("ca.crt"), os.path.join(cadir, f"{h}.0"))


def redis_cli(*args, input=None):
    p = subprocess.run(["redis-cli", *args], capture_output=True, text=True, input=input, timeout=30)
    return p.returncode, p.stdout + p.stderr


DENIED_START = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."


def protected_mode():
    p = pair(["--unixsocket", "@DIR/redis.sock"])
    denied = {}
    try:
        for name, s in p:
            @check(f"protected mode: 127.0.0.2 refused with the DENIED text ({name})")
            def _():
                data = read_all(connect_from("127.0.0.2", s.port))
                assert data.startswith(DENIED_START) and data.endswith(b"\r\n"), data[:200]
                denied[name] = data

            @check(f"protected mode: 127.0.0.1 and the unix socket served ({name})")
            def _():
                c = connect_from("127.0.0.1", s.port)
                c.sendall(b"PING\r\n")
                eq(c.recv(100), b"+PONG\r\n")
                u = socket.socket(socket.AF_UNIX)
                u.connect(os.path.join(s.dir, "redis.sock"))
                u.sendall(b"PING\r\n")
                eq(u.recv(100), b"+PONG\r\n")

            @check(f"protected mode: INFO rejected_connections counts the refusal ({name})")
            def _():
                eq(info_field(s.r(), "stats", "rejected_connections"), 1)

            @check(f"protected mode: a password or protected-mode no lets 127.0.0.2 in ({name})")
            def _():
                r = s.r()
                r.config_set("requirepass", "sesame")
                c = connect_from("127.0.0.2", s.port)
                c.sendall(b"AUTH sesame\r\nPING\r\n")
                time.sleep(0.2)
                eq(c.recv(100), b"+OK\r\n+PONG\r\n")
                r2 = redis.Redis(port=s.port, password="sesame")
                r2.config_set("requirepass", "")
                r2.config_set("protected-mode", "no")
                c = connect_from("127.0.0.2", s.port)
                c.sendall(b"PING\r\n")
                eq(c.recv(100), b"+PONG\r\n")

        @check("protected mode: the DENIED bytes are redis-server's")
        def _():
            eq(denied.get("oxidis-server"), denied.get("redis-server"))
    finally:
        stop(p)


def maxclients():
    p = pair([])
    refusals = {}
    try:
        for name, s in p:
            @check(f"maxclients: the connection past the limit is refused ({name})")
            def _():
                r = s.r()
                r.ping()
                r.config_set("maxclients", 3)
                held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
                for h in held:
                    h.sendall(b"PING\r\n")
                    eq(h.recv(100), b"+PONG\r\n")
                refusals[name] = read_all(socket.create_connection(("127.0.0.1", s.port)))
                eq(refusals[name], b"-ERR max number of clients reached\r\n")
                eq(info_field(r, "stats", "rejected_connections"), 1)
                r.config_set("maxclients", 10000)
                c = socket.create_connection(("127.0.0.1", s.port))
                c.sendall(b"PING\r\n")
                eq(c.recv(100), b"+PONG\r\n")
    finally:
        stop(p)

    p = pair([], limit=200)
    errors = {}
    try:
        for name, s in p:
            @check(f"maxclients: reduced to fit ulimit -n 200, CONFIG SET past it refused ({name})")
            def _():
                r = s.r(decode_responses=True)
                eq(r.config_get("maxclients")["maxclients"], "168")
                try:
                    r.config_set("maxclients", 500)
                    raise AssertionError("CONFIG SET maxclients 500 accepted")
                except redis.ResponseError as e:
                    errors[name] = str(e)
                eq(r.config_get("maxclients")["maxclients"], "168")
                r.config_set("maxclients", 100)
                eq(r.config_get("maxclients")["maxclients"], "100")
                log = open(s.log).read()
                assert "maxclients has been reduced to 168 to compensate for low ulimit" in log, log[-1500:]

        @check("maxclients: the CONFIG SET error is redis-server's")
        def _():
            eq(errors.get("oxidis-server"), errors.get("redis-server"))
            assert "try with 168" in errors["redis-server"]
    finally:
        stop(p)


def unix_and_keepalive():
    p = pair(["--unixsocket", "@DIR/x.sock", "--unixsocketperm", "700"])
    try:
        for name, s in p:
            path = os.path.join(s.dir, "x.sock")

            @check(f"unixsocket: mode 0700, redis-cli -s, CLIENT LIST flags=U addr=path:0 ({name})")
            def _():
                st = os.stat(path)
                assert stat.S_ISSOCK(st.st_mode)
                eq(oct(st.st_mode & 0o777), oct(0o700), "mode")
                eq(redis_cli("-s", path, "PING"), (0, "PONG\n"))
                _, out = redis_cli("-s", path, "CLIENT", "LIST")
                assert f"addr={path}:0 laddr={path}:0 " in out and " flags=U " in out, out
                r = redis.Redis(unix_socket_path=path)
                r.set("via-unix", "1")
                eq(r.get("via-unix"), b"1")

            @check(f"tcp-keepalive: a keepalive timer with 300, none with 0 ({name})")
            def _():
                def timers():
                    out = sh("ss", "-tnoH", "state", "established", f"( sport = :{s.port} )")
                    return out

                c = socket.create_connection(("127.0.0.1", s.port))
                c.sendall(b"PING\r\n")
                c.recv(100)
                t = timers()
                assert "keepalive" in t, t
                s.r().config_set("tcp-keepalive", 0)
                for _ in range(3):  # the server side of a fresh connection only
                    c2 = socket.create_connection(("127.0.0.1", s.port))
                    c2.sendall(b"PING\r\n")
                    c2.recv(100)
                lport = c2.getsockname()[1]
                line = [ln for ln in timers().splitlines() if f"127.0.0.1:{lport} " in ln + " "]
                assert line and "keepalive" not in line[0], (lport, timers())
    finally:
        stop(p)


def tls():
    base = ["--tls-cert-file", cert_path("server.crt"), "--tls-key-file", cert_path("server.key")]
    tport = {}
    p = []
    for kind in ["redis", "oxidis"]:
        port = free_port()
        tport[kind] = port
        s = Server(kind, ["--tls-port", str(port), *base, "--tls-ca-cert-file", cert_path("ca.crt")])
        p.append(("redis-server" if kind == "redis" else "oxidis-server", s))
    outputs = {}
    tls_errors = {}
    cli_tls = ["--tls", "--cacert", cert_path("ca.crt")]
    mine = ["--cert", cert_path("client.crt"), "--key", cert_path("client.key")]
    try:
        for name, s in p:
            port = str(tport[s.kind])

            @check(f"TLS: redis-cli --tls with a client certificate ({name})")
            def _():
                outs = []
                for cmd in (["SET", "k", "v"], ["GET", "k"], ["INCR", "n"], ["PING"]):
                    rc, out = redis_cli("-p", port, *cli_tls, *mine, *cmd)
                    eq(rc, 0, out)
                    outs.append(out)
                eq(outs, ["OK\n", "v\n", "1\n", "PONG\n"])
                outputs[name] = outs

            @check(f"TLS: tls-auth-clients yes refuses a client without a certificate ({name})")
            def _():
                rc, out = redis_cli("-p", port, *cli_tls, "PING")
                assert rc != 0 and "PONG" not in out, (rc, out)
                r = redis.Redis(port=int(port), ssl=True, ssl_ca_certs=cert_path("ca.crt"), socket_timeout=10)
                try:
                    r.ping()
                    raise AssertionError("served without a client certificate")
                except (redis.ConnectionError, ssl.SSLError, OSError):
                    pass

            @check(f"TLS: redis-py ssl=True, a 2 MB value and a 1000-command pipeline ({name})")
            def _():
                r = redis.Redis(port=int(port), ssl=True, ssl_ca_certs=cert_path("ca.crt"),
                                ssl_certfile=cert_path("client.crt"), ssl_keyfile=cert_path("client.key"),
                                socket_timeout=20)
                big = os.urandom(2 << 20)
                r.set("big", big)
                eq(r.get("big") == big, True, "2 MB round trip")
                pipe = r.pipeline(transaction=False)
                for i in range(1000):
                    pipe.rpush("l", i)
                res = pipe.execute()
                eq(res[-1], 1000)
                eq(r.lrange("l", 998, -1), [b"998", b"999"])

            @check(f"TLS: protected mode refuses 127.0.0.2 over TLS after the handshake ({name})")
            def _():
                s.r().config_set("protected-mode", "yes")
                ctx = ssl.create_default_context(cafile=cert_path("ca.crt"))
                ctx.load_cert_chain(cert_path("client.crt"), cert_path("client.key"))
                t = ctx.wrap_socket(connect_from("127.0.0.2", int(port)), server_hostname="localhost")
                data = b""
                try:
                    while True:
                        d = t.recv(65536)
                        if not d:
                            break
                        data += d
                except (ssl.SSLError, ConnectionResetError):
                    pass
                assert data.startswith(DENIED_START), data[:200]

            @check(f"TLS: CONFIG SET tls-* applies to new connections, a bad file is refused ({name})")
            def _():
                r = s.r(decode_responses=True)
                try:
                    r.config_set("tls-cert-file", os.path.join(WORK, "missing.crt"))
                    raise AssertionError("a missing certificate file accepted")
                except redis.ResponseError as e:
                    tls_errors[name] = str(e)
                eq(r.config_get("tls-cert-file")["tls-cert-file"], cert_path("server.crt"))
                r.config_set("tls-auth-clients", "no")
                eq(redis_cli("-p", port, *cli_tls, "PING"), (0, "PONG\n"))
                r.config_set("tls-auth-clients", "yes")
                rc, out = redis_cli("-p", port, *cli_tls, "PING")
                assert rc != 0, out

            @check(f"TLS: the plain port serves at the same time ({name})")
            def _():
                r = s.r()
                eq(r.get("k"), b"v")
                eq(r.strlen("big"), 2 << 20)

            @check(f"TLS: CONFIG SET tls-port moves the TLS listener, the plain port stays ({name})")
            def _():
                r = s.r()
                new = free_port()
                eq(r.config_set("tls-port", new), True)
                eq(redis_cli("-p", str(new), *cli_tls, *mine, "PING"), (0, "PONG\n"))
                assert refused("127.0.0.1", int(port)), "the old TLS port still accepts"
                eq(ping_at("127.0.0.1", s.port), b"+PONG\r\n")
        @check("TLS: the CONFIG SET error is redis-server's")
        def _():
            eq(tls_errors.get("oxidis-server"), tls_errors.get("redis-server"))
    finally:
        stop(p)

    # tls-auth-clients optional, CA from a directory, TLS 1.3 only, one cipher suite.
    p = []
    for kind in ["redis", "oxidis"]:
        port = free_port()
        tport[kind] = port
        s = Server(kind, ["--tls-port", str(port), *base, "--tls-ca-cert-dir", cert_path("cadir"),
                          "--tls-auth-clients", "optional", "--tls-protocols", "TLSv1.3",
                          "--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"])
        p.append(("redis-server" if kind == "redis" else "oxidis-server", s))
    try:
        for name, s in p:
            port = tport[s.kind]

            def handshake(cert=True, max12=False):
                ctx = ssl.create_default_context(cafile=cert_path("ca.crt"))
                if cert:
                    ctx.load_cert_chain(cert_path("client.crt"), cert_path("client.key"))
                if max12:
                    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                raw = socket.create_connection(("127.0.0.1", port), timeout=10)
                t = ctx.wrap_socket(raw, server_hostname="localhost")
                t.sendall(b"PING\r\n")
                eq(t.recv(100), b"+PONG\r\n")
                return t

            @check(f"TLS: tls-auth-clients optional serves with and without a certificate ({name})")
            def _():
                handshake(cert=True)
                handshake(cert=False)

            @check(f"TLS: tls-protocols TLSv1.3 refuses a TLS 1.2 client ({name})")
            def _():
                try:
                    handshake(max12=True)
                    raise AssertionError("TLS 1.2 accepted")
                except (ssl.SSLError, OSError):
                    pass
                eq(handshake().version(), "TLSv1.3")

            @check(f"TLS: tls-ciphersuites picks the suite ({name})")
            def _():
                eq(handshake().cipher()[0], "TLS_CHACHA20_POLY1305_SHA256")
    finally:
        stop(p)


def rename_command():
    conf = os.path.join(WORK, "rename.conf")
    with open(conf, "w") as f:
        f.write('rename-command get fetch\nrename-command FLUSHALL ""\n')
    outs = {}
    p = []
    try:
        for kind in ["redis", "oxidis"]:
            port = free_port()
            d = os.path.join(WORK, f"ren-{kind}")
            os.makedirs(d)
            binary = OXIDIS if kind == "oxidis" else REDIS
            proc = subprocess.Popen([binary, conf, "--port", str(port), "--save", "", "--dir", d,
                                     "--rename-command", "fetch", "get2"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p.append(proc)
            deadline = time.time() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise RuntimeError(f"{kind} did not start with rename-command")
                    time.sleep(0.05)
            out = []
            for cmd in (["SET", "k", "v"], ["GET", "k"], ["fetch", "k"], ["GET2", "k"], ["FLUSHALL"],
                        ["COMMAND", "INFO", "get2"], ["MULTI"]):
                out.append(redis_cli("-p", str(port), *cmd))
            out.append(redis_cli("-p", str(port), input="MULTI\nget2 k\nEXEC\n"))
            out.append(redis_cli("-p", str(port), "EVAL", "return redis.call('get2','k')", "0"))
            # The command table's views: a renamed command keeps its own name in COMMAND,
            # COMMAND INFO/DOCS/LIST and GETKEYS find it by the new one; a deleted one is gone.
            for cmd in (["COMMAND", "INFO", "get", "flushall"], ["COMMAND", "DOCS", "get2"],
                        ["COMMAND", "GETKEYS", "get2", "k"], ["COMMAND", "GETKEYS", "get", "k"],
                        ["COMMAND", "LIST", "FILTERBY", "PATTERN", "flush*"],
                        ["COMMAND", "LIST", "FILTERBY", "PATTERN", "get"]):
                out.append(redis_cli("-p", str(port), *cmd))
            for cmd in (["COMMAND"], ["COMMAND", "INFO"], ["COMMAND", "LIST"], ["COMMAND", "DOCS"]):
                words = redis_cli("-p", str(port), *cmd)[1].split()
                out.append((cmd, "flushall" in words, "get" in words, "get2" in words))
            outs[kind] = out

        @check("rename-command: renames and deletes as redis-server does")
        def _():
            assert "unknown command" in outs["redis"][1][1], outs["redis"]
            eq(outs["oxidis"], outs["redis"])
    finally:
        for proc in p:
            proc.terminate()
            proc.wait()


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


def ping_at(host, port):
    c = socket.socket()
    c.bind(("127.0.0.1", 0))  # from 127.0.0.1: protected mode serves it
    c.settimeout(10)
    c.connect((host, port))
    c.sendall(b"PING\r\n")
    got = c.recv(100)
    c.close()
    return got


def listeners_move():
    p = pair([])
    errors = {}
    try:
        for name, s in p:
            @check(f"CONFIG SET port: the new port serves, the old refuses ({name})")
            def _():
                old, new = s.port, free_port()
                eq(s.r().config_set("port", new), True)
                s.port = new
                eq(ping_at("127.0.0.1", new), b"+PONG\r\n")
                assert refused("127.0.0.1", old), f"old port {old} still accepts"
                eq(info_field(s.r(), "server", "tcp_port"), new)

            @check(f"CONFIG SET port to a port in use: refused, the old one serves ({name})")
            def _():
                busy = socket.socket()
                busy.bind(("127.0.0.1", 0))
                busy.listen()
                r = s.r(decode_responses=True)
                try:
                    r.config_set("port", busy.getsockname()[1])
                    raise AssertionError("a port in use accepted")
                except redis.ResponseError as e:
                    errors[("port", name)] = str(e)
                finally:
                    busy.close()
                eq(r.config_get("port")["port"], str(s.port))
                eq(ping_at("127.0.0.1", s.port), b"+PONG\r\n")

            @check(f"CONFIG SET bind: new addresses replace the old ({name})")
            def _():
                r = s.r(decode_responses=True)
                eq(r.config_set("bind", "127.0.0.1 127.0.0.3"), True)
                eq(ping_at("127.0.0.3", s.port), b"+PONG\r\n")
                eq(ping_at("127.0.0.1", s.port), b"+PONG\r\n")
                r = redis.Redis(host="127.0.0.3", port=s.port, decode_responses=True)
                eq(r.config_set("bind", "127.0.0.3"), True)
                assert refused("127.0.0.1", s.port), "127.0.0.1 still accepts"
                eq(ping_at("127.0.0.3", s.port), b"+PONG\r\n")
                eq(r.config_set("bind", "127.0.0.1"), True)
                assert refused("127.0.0.3", s.port), "127.0.0.3 still accepts"

            @check(f"CONFIG SET bind to an address in use: refused, the old one serves ({name})")
            def _():
                busy = socket.socket()
                busy.bind(("127.0.0.4", s.port))
                busy.listen()
                r = s.r(decode_responses=True)
                try:
                    r.config_set("bind", "127.0.0.1 127.0.0.4")
                    raise AssertionError("an address in use accepted")
                except redis.ResponseError as e:
                    errors[("bind", name)] = str(e)
                finally:
                    busy.close()
                eq(r.config_get("bind")["bind"], "127.0.0.1")
                eq(ping_at("127.0.0.1", s.port), b"+PONG\r\n")
                assert refused("127.0.0.4", s.port), "127.0.0.4 accepts"

        @check("CONFIG SET port/bind: the errors are redis-server's")
        def _():
            for what in ("port", "bind"):
                eq(errors.get((what, "oxidis-server")), errors.get((what, "redis-server")), what)
            assert "Unable to listen on this port" in errors[("port", "redis-server")], errors
    finally:
        stop(p)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def idle_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = min(IDLE, soft - 64)
    if n < IDLE:
        print(f"note: ulimit -n {soft} lets this process hold {n} connections, not {IDLE}", flush=True)
    p = pair(["--maxclients", str(n + 100)])
    try:
        for name, s in p:
            @check(f"{n} idle connections held, memory per connection reported ({name})")
            def _():
                r = s.r()
                r.ping()
                before = rss_kb(s.proc.pid)
                conns = []
                for _ in range(n):
                    c = socket.socket()
                    c.connect(("127.0.0.1", s.port))
                    conns.append(c)
                deadline = time.time() + 60
                while info_field(r, "clients", "connected_clients") < n + 1:
                    if time.time() > deadline:
                        raise AssertionError(f"connected_clients {info_field(r, 'clients', 'connected_clients')}")
                    time.sleep(0.1)
                for c in (conns[0], conns[-1]):
                    c.sendall(b"PING\r\n")
                    c.settimeout(10)
                    eq(c.recv(100), b"+PONG\r\n")
                after = rss_kb(s.proc.pid)
                per = (after - before) * 1024 / n
                print(f"figure idle-connections {name}: {n} connections, RSS {before} kB -> {after} kB, "
                      f"{per:.0f} bytes per connection", flush=True)
                # Then each sends one command and goes idle again: what buffers stay behind.
                for c in conns:
                    c.sendall(b"PING\r\n")
                for c in conns:
                    c.settimeout(10)
                    eq(c.recv(100), b"+PONG\r\n")
                used = rss_kb(s.proc.pid)
                per_used = (used - before) * 1024 / n
                print(f"figure idle-connections {name}: after one PING each, RSS {used} kB, "
                      f"{per_used:.0f} bytes per connection", flush=True)
                # Bounded: an idle connection must not keep buffers of its own worth tens of kB.
                assert per < 32 * 1024, f"{per:.0f} bytes per idle connection"
                assert per_used < 32 * 1024, f"{per_used:.0f} bytes per connection after a PING"
                for c in conns:
                    c.close()
    finally:
        stop(p)


@check("test certificates made with openssl")
def _():
    make_certs()


try:
    protected_mode()
    maxclients()
    unix_and_keepalive()
    tls()
    rename_command()
    listeners_move()
    idle_connections()
finally:
    for s in servers:
        s.stop()
    shutil.rmtree(WORK, ignore_errors=True)

failed = [n for n, e in results if e]
print(f"{len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
sys.exit(1 if failed else 0)
