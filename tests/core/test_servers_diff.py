"""Differential tests of virtual-server selection and of the redirect-related switches:
server_name exact / wildcards / regex / default_server, odd Host headers, and
absolute_redirect, port_in_redirect, server_name_in_redirect, merge_slashes."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    server {
        listen 127.0.0.1:{port};
        server_name first.test;
        return 200 "first (the implicit default)\n";
    }
    server {
        listen 127.0.0.1:{port} default_server;
        server_name _;
        location / { return 200 "default_server for $host\n"; }
        location /redir { return 301 /elsewhere; }
        location /dir/ { }
    }
    server {
        listen 127.0.0.1:{port};
        server_name exact.test www.exact.test;
        location / { return 200 "exact: $server_name / $host\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name *.wild.test;
        location / { return 200 "leading wildcard: $host\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name .dot.test;
        location / { return 200 "dot wildcard: $host\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name www.tail.*;
        location / { return 200 "trailing wildcard: $host\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name ~^(?<sub>\w+)\.regex\.test$;
        location / { return 200 "regex: sub=$sub\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name switches.test;
        absolute_redirect off;
        location /rel { return 301 /target; }
        location /dir/ { }
        merge_slashes off;
        location /ms { return 200 "uri=$uri\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name noport.test;
        port_in_redirect off;
        server_name_in_redirect on;
        location /r { return 302 /t; }
    }
}
"""

FILES = {"html/dir/index.html": "dir index\n"}


def host(name: str | None) -> list[tuple[str, str]]:
    return [("Host", name)] if name is not None else []


CASES = [
    ("exact name", Req("GET", "/", host("exact.test"))),
    ("second exact name", Req("GET", "/", host("www.exact.test"))),
    ("host is case-insensitive", Req("GET", "/", host("EXACT.Test"))),
    ("host with port", Req("GET", "/", host("exact.test:8080"))),
    ("host with trailing dot", Req("GET", "/", host("exact.test."))),
    ("leading wildcard", Req("GET", "/", host("a.b.wild.test"))),
    ("leading wildcard needs a label", Req("GET", "/", host("wild.test"))),
    ("dot wildcard, bare name", Req("GET", "/", host("dot.test"))),
    ("dot wildcard, sub name", Req("GET", "/", host("x.dot.test"))),
    ("trailing wildcard", Req("GET", "/", host("www.tail.org"))),
    ("regex name with capture", Req("GET", "/", host("api.regex.test"))),
    ("unknown name goes to default_server", Req("GET", "/", host("nobody.test"))),
    ("HTTP/1.0 without Host", Req("GET", "/", [], version="HTTP/1.0")),
    ("empty Host", Req("GET", "/", host(""))),
    ("invalid Host", Req("GET", "/", host("a/b"))),
    ("Host with two dots", Req("GET", "/", host("a..b"))),
    ("absolute URI in request line", Req("GET", "http://exact.test/x", host("other.test"))),
    ("relative redirect made absolute", Req("GET", "/redir", host("nobody.test"))),
    ("absolute_redirect off", Req("GET", "/rel", host("switches.test"))),
    ("directory redirect, absolute_redirect off", Req("GET", "/dir", host("switches.test"))),
    ("directory redirect", Req("GET", "/dir", host("nobody.test"))),
    ("merge_slashes off", Req("GET", "//ms//a", host("switches.test"))),
    ("port_in_redirect off + server_name_in_redirect", Req("GET", "/r", host("noport.test"))),
]



@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
