"""The httpx edge: the engine proxies to a backend it does not serve itself.

A real nginx runs the backend; the same front configuration runs on real nginx and in the
engine, whose proxy must then go over the network (httpx). The responses must agree,
except where httpcore differs by design: it writes ``HTTP/1.1`` on the request line.
"""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import RealNginx, requires_nginx
from tests.proxy.harness import ProxyPair

BACKEND = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    lua_http10_buffering off;
    server {
        listen 127.0.0.1:{port};
        location / { return 200 "backend $uri\n"; }
        location /echo { content_by_lua_block { ngx.req.read_body()
            ngx.print(ngx.req.raw_header(), ngx.req.get_body_data() or "") } }
        location /big { content_by_lua_block { for i = 1, 50 do ngx.print(string.rep("x", 1999), "\n") ngx.flush(true) end } }
        location /slow { content_by_lua_block { ngx.sleep(1) ngx.say("slow") } }
        location /stall { content_by_lua_block { ngx.print("part") ngx.flush(true) ngx.sleep(1) ngx.say("rest") } }
        location /gz { add_header Content-Encoding gzip; return 200 "not really gzip"; }
        location /r { return 302 http://127.0.0.1:{port}/r/next; }
    }
}
"""

FRONT = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port0};
        server_name localhost;
        add_header X-Up "$upstream_status" always;
        location / { proxy_pass http://127.0.0.1:BACKEND; }
        location /p/ { proxy_pass http://127.0.0.1:BACKEND/; }
        location /slow { proxy_read_timeout 200ms; proxy_pass http://127.0.0.1:BACKEND; }
        location /stall { proxy_read_timeout 300ms; proxy_pass http://127.0.0.1:BACKEND; }
    }
}
"""


@pytest.fixture(scope="module")
def pair():
    with RealNginx(BACKEND) as backend:
        with ProxyPair(FRONT.replace("BACKEND", str(backend.port)), extra_ports=0) as p:
            yield p


CASES = [
    ("simple", Req("GET", "/a?b=1")),
    ("URI part", Req("GET", "/p/x")),
    ("large streamed body", Req("GET", "/big")),
    ("raw body, no decoding", Req("GET", "/gz")),
    ("redirect rewritten", Req("GET", "/p/r")),
    ("read timeout over the network", Req("GET", "/slow")),
    ("HEAD", Req("HEAD", "/a")),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx_over_httpx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()


@requires_nginx
def test_request_sent_over_tcp(pair):
    """The request line (nginx's HTTP/1.0) and the headers, in the same order."""
    req = Req("POST", "/echo?q", [("Host", "localhost"), ("User-Agent", "ua"),
                                  ("X-Forwarded-For", "9.9.9.9")], body=b"payload")
    real, ours = pair.both(req)
    assert real.body.startswith(b"POST /echo?q HTTP/1.0\r\n")
    assert ours.body == real.body


@requires_nginx
def test_body_timeout_truncates(pair):
    """A stall after the header: the client gets what arrived, then the connection closes."""
    real, ours = pair.both(Req("GET", "/stall"))
    assert real.status == ours.status == 200
    assert b"rest" not in ours.body
    lines = [ln for ln in pair.engine_errors("error") if "while reading upstream" in ln]
    assert lines and "upstream timed out (110: Connection timed out)" in lines[-1]
