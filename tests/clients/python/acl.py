"""ACL users with redis-py against a server: python3 acl.py HOST:PORT

An ACL user that may only read `app:*` keys (`%R~app:*`, read commands) connects with
redis-py's `username=`/`password=` (HELLO/AUTH with a user): its reads of `app:*` work, and
everything else — other keys, writes, a blocked command — raises redis-py's
NoPermissionError with Redis's NOPERM text. A wrong password raises AuthenticationError and is
in ACL LOG. Prints "ok NAME" / "FAILED NAME: why" per check; exits non-zero if one failed.
"""

import sys

import redis

from checks import check, results

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)


admin = redis.Redis(host=HOST, port=PORT, decode_responses=True)
admin.acl_deluser("pyreader")
admin.acl_log_reset()
admin.acl_setuser(
    "pyreader",
    enabled=True,
    passwords=["+readerpw"],
    keys=["%R~app:*"],
    commands=["+@read", "+@connection", "+acl|whoami"],
)
admin.set("app:greeting", "hello")
admin.set("secret", "x")
reader = redis.Redis(
    host=HOST, port=PORT, username="pyreader", password="readerpw", decode_responses=True
)


def refused(f, text):
    try:
        f()
    except redis.exceptions.NoPermissionError as e:
        assert str(e) == text, f"message {str(e)!r}"
        return
    raise AssertionError("not refused")


@check("the reader is who it says, and reads app:* keys")
def _():
    assert reader.acl_whoami() == "pyreader"
    assert reader.get("app:greeting") == "hello"
    assert reader.mget("app:greeting", "app:none") == ["hello", None]


@check("other keys are refused with NOPERM")
def _():
    text = "this user has no permissions to access one of the keys used as arguments"
    refused(lambda: reader.get("secret"), text)
    refused(lambda: reader.mget("app:greeting", "secret"), text)


@check("writes are refused, even to app:* keys")
def _():
    refused(
        lambda: reader.set("app:greeting", "bye"),
        "this user has no permissions to run the 'set' command",
    )
    assert admin.get("app:greeting") == "hello"


@check("a wrong password is refused and logged")
def _():
    bad = redis.Redis(host=HOST, port=PORT, username="pyreader", password="nope")
    try:
        bad.ping()
        raise AssertionError("authenticated with a wrong password")
    except redis.exceptions.AuthenticationError:
        pass
    entries = admin.acl_log()
    assert any(
        e["reason"] == "auth" and e["username"] == "pyreader" for e in entries
    ), entries
    assert any(
        e["reason"] == "key" and e["object"] == "secret" for e in entries
    ), entries


reader.close()
admin.acl_deluser("pyreader")
admin.delete("app:greeting", "secret")
admin.close()
sys.exit(1 if any(e for _, e in results) else 0)
