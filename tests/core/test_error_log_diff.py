"""The error log, line for line, against real nginx: the same requests must write the
same messages at the same levels with the same request context (client, server,
request, host), time stamps, pids and connection numbers aside."""

from __future__ import annotations

import re
import time

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port};
        server_name logs.test;
        root html;
        location /deny { deny all; }
        location /loop { rewrite ^ /loop last; }
        location /dir/ { }
        location /small { client_max_body_size 4; return 200; }
        location /lua_err { content_by_lua_block { local t = nil; return t.x } }
        location /lua_log {
            content_by_lua_block {
                ngx.log(ngx.WARN, "warned ", 42)
                ngx.log(ngx.DEBUG, "dropped at info level")
                print("printed")
                ngx.say("ok")
            }
        }
        location /lua_exec_after { content_by_lua_block { ngx.say("x") ngx.exec("/y") } }
        location /hdr_late { content_by_lua_block { ngx.say("a") ngx.header["X"] = "1" } }
    }
}
"""

FILES = {"html/dir/.keep": ""}

H = [("Host", "logs.test"), ("Referer", "http://ref.test/")]

CASES = [
    ("missing file", Req("GET", "/nope.html", H)),
    ("access forbidden", Req("GET", "/deny", H)),
    ("rewrite cycle", Req("GET", "/loop", H)),
    ("directory index forbidden", Req("GET", "/dir/", H)),
    ("too large body", Req("POST", "/small", H, b"123456789")),
    ("lua runtime error", Req("GET", "/lua_err", H)),
    ("ngx.log and print", Req("GET", "/lua_log", H)),
    ("exec after output", Req("GET", "/lua_exec_after", H)),
    ("header after output", Req("GET", "/hdr_late", H)),
]

_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def _lines(text: str) -> list[tuple[str, str]]:
    """(level, message) per entry; a Lua stack traceback is cut to its first line."""
    out = []
    for line in text.splitlines():
        m = _PREFIX.match(line)
        if m:
            out.append((m.group(1), line[m.end():]))
    return out



def _new(path, seen: dict, prefix) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Lines written since the last look, with the prefix directory spelled {prefix}."""
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):]
    seen[path] = len(text)
    return _lines(fresh.replace(str(prefix).rstrip("/"), "{prefix}"))


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_error_log_as_nginx(pair, name, req):
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new(real_log, seen, pair.real.prefix), _new(our_log, seen, pair.prefix)
    pair.both(req)
    time.sleep(0.05)  # nginx writes its log line after the response
    assert _new(our_log, seen, pair.prefix) == _new(real_log, seen, pair.real.prefix)
