"""``$request_length`` over real sockets: the bytes nginx read, not a rebuilt head.

nginx adds the request line once it parses, then each header line as parsed (as sent:
``X:a`` or ``X: a``, CRLF or bare LF, ignored names included), then the empty line. A
request refused early counts what was parsed so far: nothing for a bad request line
(and ``$uri`` is then not found), the line alone for a bad URI or request-line host,
the lines through a duplicate or invalid Host, not the invalid header line itself.
Each case goes to real nginx and to our listener on a fresh connection; the access
logs (``$request_length $uri $status``) must agree line for line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle import RealNginx, requires_nginx, write_prefix
from tests.server.harness import Served, wait_for

pytestmark = requires_nginx

CONF = r"""
error_log logs/error.log info;
events {}
http {
    log_format rl "$request_length $uri $status";
    access_log logs/access.log rl;
    client_header_timeout 2s;
    server {
        listen 127.0.0.1:{port};
        location / { return 200 "ok\n"; }
        location /read { content_by_lua_block { ngx.req.read_body() ngx.say("read") } }
    }
}
"""

CLOSE = b"Connection: close\r\n"
CASES: dict[str, bytes] = {
    "normal": b"GET / HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "no_space_after_colon": b"GET / HTTP/1.1\r\nHost:a\r\nX:b\r\n" + CLOSE + b"\r\n",
    "many_spaces": b"GET / HTTP/1.1\r\nHost:    a   \r\n" + CLOSE + b"\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
    "leading_empty_lines": b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "spaces_in_request_line": b"GET   /   HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "ignored_header_name": b"GET / HTTP/1.1\r\nHost: a\r\nX_y: z\r\n" + CLOSE + b"\r\n",
    "header_without_colon": b"GET / HTTP/1.1\r\nHost: a\r\nXyz\r\n" + CLOSE + b"\r\n",
    "tab_in_value": b"GET / HTTP/1.1\r\nHost: a\r\nX:\tz \r\n" + CLOSE + b"\r\n",
    "http10": b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
    "absolute_uri": b"GET http://a/x HTTP/1.1\r\nHost: b\r\n" + CLOSE + b"\r\n",
    "body_read": b"POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n" + CLOSE
                 + b"\r\nabc",
    "body_discarded": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n" + CLOSE
                      + b"\r\nabc",
    # a chunked body counts as read on the wire: sizes, extensions, CRLFs, trailer
    "chunked_read": b"POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                    + CLOSE + b"\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
    "chunked_discarded": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                         + CLOSE + b"\r\n3\r\nabc\r\n0\r\n\r\n",
    # refused before the headers: the request line did not parse
    "bad_uri": b"GET x HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "bad_method": b"get / HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "bad_version": b"GET / HTTP/2.0\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "bad_protocol": b"GET / HTXP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "too_long_uri": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    # the line parsed, its URI or host did not: the line alone
    "dot_dot_uri": b"GET /../x HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "bad_escape": b"GET /a%2 HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "escaped_nul": b"GET /a%00b HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "absolute_dot_dot": b"GET http://a/b/../../x HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "bad_line_host": b"GET http://a..b/x HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    # refused at a header line: the lines through it, no empty line
    "duplicate_host": b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nHost: b\r\n" + CLOSE + b"\r\n",
    "duplicate_host_no_space": b"GET / HTTP/1.1\r\nHost:a\r\nX_z: 1\r\nHost:b\r\n" + CLOSE
                               + b"\r\n",
    "invalid_host": b"GET / HTTP/1.1\r\nX: y\r\nHost: a/b\r\n" + CLOSE + b"\r\n",
    "duplicate_content_length": b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                                b"Content-Length: 1\r\n\r\nx",
    # an invalid header line: the lines before it
    "space_in_name": b"GET / HTTP/1.1\r\nHost: a\r\nX y: z\r\n" + CLOSE + b"\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n" + CLOSE + b"\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n" + CLOSE + b"\r\n",
    "control_in_name": b"GET / HTTP/1.1\r\nHost: a\r\nX\x01: z\r\n" + CLOSE + b"\r\n",
    "folded_line": b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n" + CLOSE + b"\r\n",
    # refused once the head is in: all of it
    "bad_content_length": b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n" + CLOSE
                          + b"\r\n",
    "http10_chunked": b"GET / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "trace": b"TRACE / HTTP/1.1\r\nHost: a\r\n" + CLOSE + b"\r\n",
    "no_host": b"GET / HTTP/1.1\r\n" + CLOSE + b"\r\n",
    "unknown_transfer_encoding": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                                 + CLOSE + b"\r\n",
}


def access_lines(server: RealNginx | Served, count: int) -> list[str]:
    path = Path(server.prefix) / "logs" / "access.log"

    def lines() -> list[str]:
        return path.read_text().splitlines() if path.exists() else []

    wait_for(lambda: len(lines()) >= count, 3.0)
    return lines()


def run_all(server: RealNginx | Served) -> list[str]:
    for raw in CASES.values():
        server.request(raw, timeout=2.0)
    return access_lines(server, len(CASES))


@pytest.fixture(scope="module")
def real_log() -> list[str]:
    with RealNginx(CONF) as real:
        return run_all(real)


@pytest.fixture(scope="module")
def our_log() -> list[str]:
    with Served(CONF) as ours:
        return run_all(ours)


@pytest.mark.parametrize("index,case", list(enumerate(CASES)), ids=list(CASES))
def test_request_length_as_nginx_counts(index: int, case: str, real_log: list[str],
                                        our_log: list[str]) -> None:
    assert len(our_log) == len(real_log) == len(CASES)
    assert our_log[index] == real_log[index]


def test_keepalive_requests_counted_each() -> None:
    """Two requests on one connection: each counts its own head (and the second's
    leading empty line is not counted)."""
    raw = (b"GET /a HTTP/1.1\r\nHost:x\r\n\r\n"
           b"\r\nGET /b HTTP/1.1\nHost: x\nConnection: close\n\n")
    logs = []
    for cls in (RealNginx, Served):
        with cls(CONF) as server:
            server.request(raw, timeout=2.0)
            logs.append(access_lines(server, 2))
    assert logs[1] == logs[0] and logs[0][0].startswith("27 ")


def test_in_process_request_still_rebuilt(tmp_path: Path) -> None:
    """A request built in-process (no listener) has no byte count: its head is rebuilt
    as ``Name: value`` lines ended by CRLF, and its URI is found."""
    import asyncio

    from engine import Engine, HttpRequest

    conf_path = write_prefix(tmp_path, CONF.replace("{port}", "1"))
    engine = Engine.load(str(conf_path), prefix=str(tmp_path))
    req = HttpRequest("GET", "/", "HTTP/1.1", [("Host", "a"), ("X", "y")])
    asyncio.run(engine.request(req))
    engine.error_log.close()
    # "GET / HTTP/1.1" CRLF, "Host: a" CRLF, "X: y" CRLF, CRLF
    assert (tmp_path / "logs" / "access.log").read_text() == "33 / 200\n"
