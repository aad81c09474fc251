"""Location matching subtleties against real nginx: nested prefixes and regexes, ^~
inside a nested level, regexes in config order, = next to a prefix of the same name,
longest-prefix chains, server-level if and rewrite before the location search."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    server {
        listen 127.0.0.1:{port};
        if ($arg_srvif) { return 200 "server if\n"; }
        rewrite ^/old/(.*)$ /new/$1 last;
        location /new/ { return 200 "new: $uri\n"; }
        location / { return 200 "root prefix\n"; }
        location /a/ {
            location ~ \.x$ { return 200 "nested regex in /a/\n"; }
            location ^~ /a/b/ {
                location ~ \.x$ { return 200 "nested regex in /a/b/\n"; }
                return 200 "^~ /a/b/\n";
            }
            return 200 "/a/\n";
        }
        location ~ \.x$ { return 200 "top regex\n"; }
        location ~* ^/CASE { return 200 "caseless regex\n"; }
        location ~ ^/case { return 200 "case regex\n"; }
        location = /exact { return 200 "exact\n"; }
        location /exact { return 200 "prefix exact\n"; }
        location /exactly { return 200 "prefix exactly\n"; }
        location ~ ^/order/(a|b) { return 200 "first regex $1\n"; }
        location ~ ^/order/a { return 200 "second regex\n"; }
        location /order/ { return 200 "order prefix\n"; }
        location ^~ /stop { return 200 "stop ^~\n"; }
        location ~ stop { return 200 "stop regex\n"; }
        location /deep/er/est { return 200 "deepest\n"; }
        location /deep/er { return 200 "deeper\n"; }
        location /deep { return 200 "deep\n"; }
    }
}
"""
URIS = ["/", "/x.x", "/a/", "/a/f.x", "/a/b/", "/a/b/c.x", "/a/bb.x",
  "/CASE", "/case", "/Case", "/exact", "/exact/", "/exactly", "/exac", "/order/a", "/order/b", "/order/c",
  "/stop", "/stopper", "/x/stop", "/deep", "/deep/er", "/deep/er/est", "/deep/erest", "/deep/e",
  "/old/thing", "/?srvif=1", "/new/../a/"]
CASES = [(uri, Req("GET", uri)) for uri in URIS]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
