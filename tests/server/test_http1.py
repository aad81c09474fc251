"""The listener over real sockets: connection handling nginx shows only with time or hang-ups.

The differential suite covers what a single burst of bytes gets back; these tests cover
what needs a client that waits, stalls or leaves: timeouts, ``Expect: 100-continue`` with
a client that waits for the 100, keep-alive across requests, reloads and stops.
"""

from __future__ import annotations

import socket
import time

import pytest

from engine import Engine
from tests.server.harness import Served, parse_replies, read_all, wait_for

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log logs/access.log;
    client_header_timeout 1s;
    client_body_timeout 1s;
    keepalive_timeout 1s;
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        location / { return 200 "hello\n"; }
        location /small { client_max_body_size 10; return 200 "small\n"; }
        location /smallread {
            client_max_body_size 10;
            content_by_lua_block { ngx.req.read_body() ngx.say("read") }
        }
    }
}
"""


@pytest.fixture
def served():
    with Served(CONF) as s:
        yield s


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def test_keepalive_serves_several_requests_on_one_connection(served: Served) -> None:
    """Requests sent one after the other, each after the previous answer, share a connection."""
    with _connect(served.port) as s:
        for i in range(3):
            s.sendall(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
            data = s.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Connection: keep-alive" in data
    assert wait_for(lambda: len(served.exchanges) == 3)
    assert [x.request.connection_requests for x in served.exchanges] == [1, 2, 3]
    assert len({x.request.connection for x in served.exchanges}) == 1


def test_keepalive_timeout_closes_an_idle_connection(served: Served) -> None:
    with _connect(served.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        t0 = time.monotonic()
        data = read_all(s)
        assert 0.8 < time.monotonic() - t0 < 3
    assert parse_replies(data)[0].status == 200


def test_header_timeout_closes_without_a_response(served: Served) -> None:
    """A client that sends half a header and stalls: nginx logs, sends nothing, closes."""
    with _connect(served.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHo")
        t0 = time.monotonic()
        assert read_all(s) == b""
        assert 0.8 < time.monotonic() - t0 < 3
    assert wait_for(lambda: "while reading client request headers" in served.error_log())
    assert ("client timed out (110: Connection timed out) while reading client request "
            'headers, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1"'
            in served.error_log())
    assert wait_for(lambda: '"GET / HTTP/1.1" 408 0' in _access(served))


def test_silent_client_times_out_while_waiting(served: Served) -> None:
    with _connect(served.port) as s:
        assert read_all(s) == b""
    assert wait_for(lambda: "client timed out (110: Connection timed out) while waiting for "
                            "request" in served.error_log())
    time.sleep(0.1)  # nginx closes after that line and writes no other for the connection
    assert "closed connection" not in served.error_log()


def test_body_timeout_closes_and_logs_408(served: Served) -> None:
    with _connect(served.port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
        assert read_all(s) == b""
    assert wait_for(lambda: '"POST / HTTP/1.1" 408 0' in _access(served))


def test_client_leaving_mid_body_is_logged_and_others_are_served(served: Served) -> None:
    s = _connect(served.port)
    s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhel")
    time.sleep(0.1)
    s.close()
    assert wait_for(lambda: "client prematurely closed connection, client: 127.0.0.1"
                    in served.error_log())
    assert wait_for(lambda: '"POST / HTTP/1.1" 400 0' in _access(served))
    reply = parse_replies(served.request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    assert reply[0].body == b"hello\n"


def test_client_leaving_mid_header_is_logged(served: Served) -> None:
    s = _connect(served.port)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    time.sleep(0.1)
    s.close()
    assert wait_for(lambda: "client prematurely closed connection while reading client "
                            "request headers" in served.error_log())


def test_expect_continue_is_answered_before_the_body_is_sent(served: Served) -> None:
    """The client waits for ``100 Continue`` before sending its body, as curl does."""
    with _connect(served.port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        replies = parse_replies(read_all(s))
    assert [r.status for r in replies] == [200]


def test_expect_continue_is_not_sent_for_a_body_that_is_too_large(served: Served) -> None:
    raw = (b"POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n"
           b"Expect: 100-continue\r\n\r\n")
    replies = parse_replies(served.request(raw, timeout=3))
    assert [r.status for r in replies] == [413]


def test_huge_content_length_is_refused_without_reading_the_body(served: Served) -> None:
    """413 comes back at once although the client has sent none of its 10 GB."""
    with _connect(served.port) as s:
        s.sendall(b"POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000000\r\n\r\n")
        head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
    assert "client intended to send too large body: 10000000000 bytes" in served.error_log()


def test_chunked_body_over_the_limit_is_refused_as_it_arrives(served: Served) -> None:
    """When the location reads the body (a `return` would discard it unchecked)."""
    with _connect(served.port) as s:
        s.sendall(b"POST /smallread HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n")
        time.sleep(0.1)
        s.sendall(b"64\r\n")  # a 100-byte chunk announced: over the limit of 10
        replies = parse_replies(read_all(s))
    assert [r.status for r in replies] == [413]
    assert "client intended to send too large chunked body: 5+100 bytes" in served.error_log()


def test_invalid_chunked_body_is_a_400(served: Served) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    replies = parse_replies(served.request(raw, timeout=3))
    assert [r.status for r in replies] == [400]
    assert "[error]" in served.error_log()
    assert "client sent invalid chunked body" in served.error_log()


def test_request_body_reaches_the_engine(served: Served) -> None:
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
           b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert [r.status for r in parse_replies(served.request(raw))] == [200, 200]
    assert wait_for(lambda: len(served.exchanges) == 2)
    assert [x.request.body for x in served.exchanges] == [b"hello world", b"abc"]


def test_exchanges_carry_real_addresses(served: Served) -> None:
    with _connect(served.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        local_port = s.getsockname()[1]
        read_all(s)
    assert wait_for(lambda: len(served.exchanges) == 1)
    req = served.exchanges[0].request
    assert (req.client_addr, req.client_port) == ("127.0.0.1", local_port)
    assert (req.server_addr, req.server_port) == ("127.0.0.1", served.port)
    assert req.connection >= 1


def test_reload_keeps_old_keepalive_connection_until_its_request_ends(served: Served) -> None:
    new_conf = CONF.replace('"hello\\n"', '"reloaded\\n"').replace("{port}", str(served.port))
    path = served.prefix / "conf" / "new.conf"
    path.write_text(new_conf)
    with _connect(served.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert parse_replies(s.recv(65536))[0].body == b"hello\n"
        engine = Engine.load(str(path), prefix=str(served.prefix))
        served.call(served.server.reload(engine))
        assert read_all(s) == b""  # the idle connection of the old engine is closed
    reply = parse_replies(served.request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    assert reply[0].body == b"reloaded\n"


def test_graceful_stop_finishes_the_request_in_progress(served: Served) -> None:
    with _connect(served.port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe")
        time.sleep(0.1)
        fut = __import__("asyncio").run_coroutine_threadsafe(served.server.stop(True),
                                                             served.loop)
        time.sleep(0.1)
        s.sendall(b"llo")
        replies = parse_replies(read_all(s))
        fut.result(5)
    assert [r.status for r in replies] == [200]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=1).close()


def _access(served: Served) -> str:
    path = served.prefix / "logs" / "access.log"
    return path.read_text() if path.exists() else ""
