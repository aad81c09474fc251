"""``Expect: 100-continue`` over real sockets: our listener against real nginx 1.22.

nginx answers ``HTTP/1.1 100 Continue`` only when something reads or discards the body
(ngx_http_test_expect): ``return`` with a text or a redirect, a static file, ngx_lua's
content and body reads; never for its own error pages (a bare ``return 404``, a missing
file, 413 over client_max_body_size, an ``error_page`` that keeps the error status),
never for HTTP/1.0, and only for the first Expect line equal to "100-continue" in any
case. Each case is one raw exchange (head and body in one write, a second pipelined
request after it); the bytes on the wire and the access log lines must be nginx's.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.oracle import RealNginx, requires_nginx
from tests.server.harness import Served

pytestmark = requires_nginx

CONF = r"""
error_log logs/error.log info;
events {}
http {
    log_format t "$request|$status|$bytes_sent|$body_bytes_sent|$request_length";
    access_log logs/access.log t;
    server {
        listen 127.0.0.1:{port};
        client_max_body_size 10;
        location = /r200 { return 200 "hi\n"; }
        location = /r200b { return 200; }
        location = /r404 { return 404; }
        location = /r404t { return 404 "nf\n"; }
        location = /r301 { return 301 /x; }
        location = /f.txt { }
        location = /lua { content_by_lua_block { ngx.say("l") } }
        location = /luar { content_by_lua_block { ngx.req.read_body() ngx.say("l") } }
        location = /luarx { content_by_lua_block { ngx.req.read_body() ngx.exit(404) } }
        location = /luan { lua_need_request_body on; content_by_lua_block { ngx.say("l") } }
        location = /luarw { rewrite_by_lua_block { ngx.exit(403) } }
        location = /ep { error_page 404 /r200; }
        location = /ep2 { error_page 404 = /r200; }
        location = /ep3 { error_page 404 =302 /r200; }
        location = /big { client_max_body_size 1; return 200 "x"; }
        location = /bigep { client_max_body_size 1; error_page 413 /r200; return 200 "x"; }
    }
}
"""
FILES = {"html/f.txt": "file\n", "html/d/x": "x"}
PATHS = ["/r200", "/r200b", "/r404", "/r404t", "/r301", "/f.txt", "/nf", "/d", "/lua", "/luar",
         "/luarx", "/luan", "/luarw", "/ep", "/ep2", "/ep3", "/big", "/bigep"]
BODIES = {
    "none": b"",
    "length": b"Content-Length: 3\r\n\r\nabc",
    "chunked": b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
}
EXPECTS = [b"100-continue", b"100-CONTINUE", b"100-continue\r\nExpect: x",
           b"x\r\nExpect: 100-continue", b"200-ok", b"100-continuex"]


def _raw(method: str, path: str, version: bytes, expect: bytes, body: str) -> bytes:
    head = f"{method} {path} ".encode() + version + b"\r\nHost: a\r\nExpect: " + expect + b"\r\n"
    framing = BODIES[body] or b"\r\n"
    return head + framing + b"GET /r200 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


CASES = [(p, b"HTTP/1.1", b"100-continue", b) for p in PATHS for b in BODIES] + \
    [(p, v, e, "length") for p in ("/r200", "/luar") for v in (b"HTTP/1.1", b"HTTP/1.0")
     for e in EXPECTS]


@pytest.fixture(scope="module")
def pair():
    with RealNginx(CONF, files=FILES) as real, Served(CONF, files=FILES) as ours:
        yield real, ours


def _norm(data: bytes) -> bytes:
    data = re.sub(rb"Date: [^\r]*", b"Date: -", data)
    return re.sub(rb"http://a:\d+/", b"http://a/", data)


@pytest.mark.parametrize("path,version,expect,body", CASES,
                         ids=[f"{c[0]}-{c[1].decode()}-{c[2]!r}-{c[3]}" for c in CASES])
def test_expect_as_nginx(pair, path: str, version: bytes, expect: bytes, body: str) -> None:
    real, ours = pair
    method = "GET" if path in ("/f.txt", "/d") else "POST"  # POST to a file is a 405
    raw = _raw(method, path, version, expect, body)
    a, b = real.request(raw), ours.request(raw)
    assert _norm(b) == _norm(a), raw


def _access(server) -> list[str]:
    f = server.prefix / "logs/access.log"
    return f.read_text().splitlines() if f.exists() else []


def test_bytes_sent_count_the_continue_line(pair) -> None:
    """$bytes_sent/$body_bytes_sent include the 100 line only when it was sent."""
    real, ours = pair
    before = len(_access(real)), len(_access(ours))
    for path in ("/r200", "/r404", "/luar", "/ep"):
        raw = _raw("POST", path, b"HTTP/1.1", b"100-continue", "length")
        real.request(raw), ours.request(raw)
    time.sleep(0.2)
    assert _access(ours)[before[1]:] == _access(real)[before[0]:]


@pytest.mark.parametrize("path", ["/luar", "/r200"])
def test_client_waiting_for_continue_gets_it(pair, path: str) -> None:
    """A client that sends its body only after "100 Continue" (as curl does) is not
    stalled: where nginx reads or discards the body, both answer 100 first."""
    for server in pair:
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n".encode()
                      + b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
            assert s.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
            s.sendall(b"abc")
            rest = b""
            while chunk := s.recv(4096):
                rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
