"""The header checks nginx makes once a head is parsed, on requests built in-process
(the engine API, the TUI's composer): the same refusals as over a socket (where the
listener makes them), with nginx's status, page and error-log line."""

from __future__ import annotations

import pytest

from tests.differential import Pair, Req
from tests.lua.cases import mark_logs, new_log_lines
from tests.oracle import requires_nginx

CONF = """
error_log logs/error.log info;
events {}
http {
    server { listen 127.0.0.1:{port}; location / { return 200 "ok $http_if_match\\n"; } }
}
"""
H = [("Host", "localhost")]
CASES = {
    "two If-Modified-Since": Req("GET", "/", H + [("If-Modified-Since", "a")] * 2),
    "two If-Match, other case": Req("GET", "/", H + [("If-Match", "a"), ("if-match", "b")]),
    "two Authorization": Req("GET", "/", H + [("Authorization", "a"), ("Authorization", "b")]),
    "two Content-Length": Req("POST", "/", H + [("Content-Length", "1")] * 2, b"x"),
    "two Transfer-Encoding": Req("GET", "/", H + [("Transfer-Encoding", "chunked")] * 2),
    "two Expect": Req("GET", "/", H + [("Expect", "100-continue")] * 2),
    "two Hosts": Req("GET", "/", H + [("Host", "b")]),
    "invalid Content-Length": Req("POST", "/", H + [("Content-Length", "1x")]),
    "unknown Transfer-Encoding": Req("POST", "/", H + [("Transfer-Encoding", "gzip")]),
    "Transfer-Encoding with HTTP/1.0": Req("POST", "/", H + [("Transfer-Encoding", "chunked")],
                                           version="HTTP/1.0"),
    "Content-Length and Transfer-Encoding": Req(
        "POST", "/", H + [("Content-Length", "0"), ("Transfer-Encoding", "chunked")]),
    "TRACE": Req("TRACE", "/", H),
    "two User-Agent are fine": Req("GET", "/", H + [("User-Agent", "a"), ("User-Agent", "b")]),
    "one of each is fine": Req("GET", "/", H + [("If-Match", "x"), ("If-None-Match", "y")]),
}


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(CONF) as p:
        yield p


@requires_nginx
@pytest.mark.parametrize("name", list(CASES))
def test_refused_as_nginx(pair, name: str) -> None:  # type: ignore[no-untyped-def]
    mark_logs(pair)
    real, ours = pair.both(CASES[name])
    assert ours.comparable() == real.comparable()
    assert new_log_lines(pair, "ours") == new_log_lines(pair, "real")
