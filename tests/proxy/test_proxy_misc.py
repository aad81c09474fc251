"""Proxying in less common positions: a loop back to the same server, subrequests."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx
from tests.proxy.harness import ProxyPair

CONF = r"""
error_log logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    lua_http10_buffering off;
    server {
        listen 127.0.0.1:{port0};
        location /loop { proxy_pass http://127.0.0.1:{port0}; }
        location /cap {
            content_by_lua_block {
                local res = ngx.location.capture("/sub/x?y=1")
                ngx.print(res.status, " ", res.header["X-B"] or "-", " ", res.body)
            }
        }
        location /sub/ { proxy_pass http://127.0.0.1:{port1}/; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { add_header X-B b; content_by_lua_block { ngx.print(ngx.req.raw_header()) } }
    }
}
"""


@pytest.fixture(scope="module")
def pair():
    with ProxyPair(CONF, extra_ports=1) as p:
        yield p


@requires_nginx
def test_proxy_loop_runs_out_of_connections(pair):
    real, ours = pair.both(Req("GET", "/loop"))
    assert ours.comparable() == real.comparable()
    assert real.status == 500
    alert = "64 worker_connections are not enough while connecting to upstream"
    assert any(alert in line for line in pair.real_errors("alert"))
    assert any(alert in line for line in pair.engine_errors("alert"))


@requires_nginx
def test_subrequest_to_a_proxied_location(pair):
    real, ours = pair.both(Req("GET", "/cap", [("Host", "localhost"), ("X-A", "1")]))
    assert ours.comparable() == real.comparable()
    assert real.body.startswith(b"200 b GET /x?y=1 HTTP/1.0\r\n")
