"""ngx_http_stub_status_module against real nginx.

The counters are compared over real sockets, each test with a fresh nginx and a fresh
listener of ours (tests/server/harness.py ``Served``) so that the counts start at zero.
The oracle's readiness probe connects to nginx once (and sends nothing) before a test
talks to it: we make the same empty connection to our listener first, so both servers
have accepted one connection more than the test made, then let both see it closed.

The page's format, headers and method handling are compared in-process too (``Pair``),
with the numbers masked: there each request is a connection of its own.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from tests.differential import Pair, Req, engine_load_error
from tests.oracle import RealNginx, first_emerg, nginx_test, requires_nginx, write_prefix
from tests.server.harness import Served, read_all

CONF = r"""
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port};
        location = /status { stub_status; }
        location = /old { stub_status on; }
        location /kept { stub_status; if ($arg_x) { add_header X-If 1; } }
        location /limited { stub_status; limit_except GET { deny all; } }
        location = /v { return 200 "a=$connections_active r=$connections_reading w=$connections_writing k=$connections_waiting\n"; }
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name srv;
        charset utf-8;
        stub_status whatever;
        location /x { return 200 "x\n"; }
    }
}
"""


def _get(port: int, target: str, method: str = "GET", extra: str = "") -> bytes:
    raw = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(raw.encode())
        return read_all(s)


def _masked(raw: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"", raw)


class _Both:
    """A fresh real nginx and a fresh listener of ours, probed alike."""

    def __enter__(self) -> _Both:
        self.real = RealNginx(CONF).__enter__()  # its readiness probe: one empty connection
        self.ours = Served(CONF).__enter__()
        socket.create_connection(("127.0.0.1", self.ours.port)).close()  # the same for ours
        time.sleep(0.1)  # both have seen the probe's connection close
        return self

    def __exit__(self, *exc: object) -> None:
        self.ours.__exit__(*exc)
        self.real.__exit__(*exc)

    def get(self, target: str, method: str = "GET", extra: str = "") -> tuple[bytes, bytes]:
        return (_masked(_get(self.real.port, target, method, extra)),
                _masked(_get(self.ours.port, target, method, extra)))

    def connect(self, data: bytes = b"") -> list[socket.socket]:
        """The same idle (or half-sent) connection to both."""
        out = []
        for port in (self.real.port, self.ours.port):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if data:
                s.sendall(data)
            out.append(s)
        time.sleep(0.1)
        return out


@requires_nginx
def test_first_request_of_a_fresh_server():
    with _Both() as both:
        real, ours = both.get("/status")
        assert real.endswith(b"\r\n\r\nActive connections: 1 \nserver accepts handled requests\n"
                             b" 2 2 1 \nReading: 0 Writing: 1 Waiting: 0 \n")
        assert ours == real


@requires_nginx
def test_counts_after_requests_and_open_connections():
    with _Both() as both:
        for target, method in (("/", "GET"), ("/status", "HEAD"), ("/status", "POST"),
                               ("/old", "PUT"), ("/nothing", "GET")):
            real, ours = both.get(target, method)
            assert ours == real, (target, method)
        idle = both.connect()
        half = both.connect(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a head not finished
        try:
            real, ours = both.get("/status")
            assert b"Active connections: 3 \n" in real
            assert b"Reading: 1 Writing: 1 Waiting: 1 \n" in real
            assert ours == real
            real, ours = both.get("/v")
            assert real.endswith(b"a=3 r=1 w=1 k=1\n")
            assert ours == real
        finally:
            for s in idle + half:
                s.close()
        time.sleep(0.1)
        real, ours = both.get("/status")
        assert b"Active connections: 1 \n" in real and ours == real


@requires_nginx
def test_keepalive_connection_counts_once():
    with _Both() as both:
        raw = (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        outs = []
        for port in (both.real.port, both.ours.port):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(raw)
                outs.append(_masked(read_all(s)))
        assert b" 2 2 2 \n" in outs[0]
        assert outs[1] == outs[0]


# --- the page, in-process ------------------------------------------------------------


@pytest.fixture(scope="module")
def pair():
    with Pair(CONF) as p:
        yield p


def _shape(reply) -> dict:  # type: ignore[no-untyped-def]
    c = reply.comparable()
    c["body"] = re.sub(rb"\d+", b"N", c["body"])
    c["headers"] = [(k, v) for k, v in c["headers"] if k != "content-length"]
    return c


@requires_nginx
@pytest.mark.parametrize("req", [
    Req("GET", "/status"),
    Req("GET", "/old?a=1"),
    Req("HEAD", "/status"),
    Req("POST", "/status", body=b"abc"),
    Req("DELETE", "/old"),
    Req("GET", "/status", headers=[("Host", "localhost"), ("Range", "bytes=0-3")]),
    Req("GET", "/status", headers=[("Host", "localhost"),
                                   ("If-Modified-Since", "Thu, 01 Jan 2037 00:00:00 GMT")]),
    Req("GET", "/kept?x=1"),
    Req("GET", "/limited"),
    Req("POST", "/limited"),
    Req("GET", "/nowhere", headers=[("Host", "srv")]),
    Req("GET", "/x", headers=[("Host", "srv")]),
    Req("GET", "/v"),
], ids=lambda r: f"{r.method} {r.target} {r.headers[-1][0]}")
def test_page_as_nginx(pair, req):
    real, ours = pair.both(req)
    assert _shape(ours) == _shape(real)


# --- nginx -t ---------------------------------------------------------------------------

H = "events {}\nhttp {\n"
CONF_CASES = [
    ("two-args", H + "server { location / { stub_status a b; } }\n}\n"),
    ("in-if", H + "server { location / { if ($host) { stub_status; } } }\n}\n"),
    ("in-http", H + "stub_status;\nserver { }\n}\n"),
    ("twice", H + "server { location / { stub_status; stub_status off; } }\n}\n"),
    ("variables", H + "server { return 200 $connections_active$connections_waiting; }\n}\n"),
]


@requires_nginx
@pytest.mark.parametrize("conf", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_config_errors_as_nginx(tmp_path: Path, conf: str) -> None:
    write_prefix(tmp_path, conf)
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
