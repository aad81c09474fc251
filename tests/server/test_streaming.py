"""Output that really streams: ngx.flush sends what the handler printed so far, and
ngx.eof ends the client's response while the handler goes on (issue: serving like nginx)."""

from __future__ import annotations

import socket
import time

from tests.server.harness import Served

CONF = """
events {}
http {
    server {
        listen 127.0.0.1:{port};
        location /eof {
            content_by_lua_block { ngx.say("early answer") ngx.eof() ngx.sleep(1) }
        }
        location /flush {
            content_by_lua_block {
                ngx.say("part one") ngx.flush(true) ngx.sleep(1) ngx.say("part two")
            }
        }
        location /nap { content_by_lua_block { ngx.sleep(0.2) ngx.say("nap ", ngx.var.uri) } }
        location /now { content_by_lua_block { ngx.say("now ", ngx.var.uri) } }
        location /echo {
            content_by_lua_block { ngx.req.read_body() ngx.say("echo ", ngx.req.get_body_data()) }
        }
    }
}
"""


def _read_until(s: socket.socket, marker: bytes, timeout: float) -> tuple[bytes, float]:
    s.settimeout(timeout)
    t0 = time.monotonic()
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - t0


def test_eof_ends_the_response_before_the_handler_ends() -> None:
    with Served(CONF) as srv, socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"GET /eof HTTP/1.1\r\nHost: x\r\n\r\n")
        data, took = _read_until(s, b"0\r\n\r\n", 3)
        assert b"early answer\n" in data and data.endswith(b"0\r\n\r\n")
        assert took < 0.8  # the handler still sleeps for a second


def test_flush_sends_what_was_printed_so_far() -> None:
    with Served(CONF) as srv, socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"GET /flush HTTP/1.1\r\nHost: x\r\n\r\n")
        first, took = _read_until(s, b"part one\n", 3)
        assert took < 0.8 and b"part two" not in first
        rest, _ = _read_until(s, b"0\r\n\r\n", 3)
        assert b"part two\n" in rest


def test_pipelined_answers_keep_their_order_when_one_handler_waits() -> None:
    """A request that waits (ngx.sleep) holds back the ones pipelined after it, even those
    answered without waiting, and a body sent in the same burst reaches its handler."""
    burst = (b"GET /now/1 HTTP/1.1\r\nHost: x\r\n\r\n"
             b"GET /nap/2 HTTP/1.1\r\nHost: x\r\n\r\n"
             b"GET /now/3 HTTP/1.1\r\nHost: x\r\n\r\n"
             b"POST /echo/4 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
             b"GET /now/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    with Served(CONF) as srv, socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(burst)
        data, _ = _read_until(s, b"now /now/5", 5)
    bodies = [line for line in data.split(b"\r\n") if line.startswith((b"now", b"nap", b"echo"))]
    assert bodies == [b"now /now/1\n", b"nap /nap/2\n", b"now /now/3\n", b"echo body\n",
                      b"now /now/5\n"]
