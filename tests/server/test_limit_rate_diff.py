"""``limit_rate`` paces responses as nginx's write filter does: the same bytes arrive
over the same number of whole seconds as from real nginx (each case is sent to both at
once, so the suite waits about a second per case). See engine/http/limit_rate.py for
the arithmetic; e.g. 3000 bytes at 2k a second go out in two sends, one second apart.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.oracle import RealNginx, requires_nginx
from tests.server.harness import Served, read_all

CONF = r"""
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /rate/ { limit_rate 2k; }
        location /after/ { limit_rate 1k; limit_rate_after 2k; }
        location /var/ { set $limit_rate 2k; }
        location /fast/ { limit_rate 4k; }
        location /none/ { }
        location /lua {
            content_by_lua_block {
                ngx.var.limit_rate = 2048
                ngx.print(string.rep("y", 3000))
            }
        }
        location /luaset { limit_rate 1k; content_by_lua_block { ngx.print(string.rep("z", 1500)) } }
    }
}
"""
FILES = {f"html/{d}/f": "x" * 3000 for d in ("rate", "after", "var", "fast", "none")}
#: path → whole seconds the response takes (what real nginx is checked against too)
CASES = {"/rate/f": 1, "/after/f": 1, "/var/f": 1, "/fast/f": 0, "/none/f": 0, "/lua": 1,
         "/luaset": 1}


def _timed(port: int, path: str) -> tuple[float, bytes]:
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = read_all(s)
    return time.monotonic() - t0, data.split(b"\r\n\r\n", 1)[1]


@pytest.fixture(scope="module")
def servers():  # type: ignore[no-untyped-def]
    with RealNginx(CONF, FILES) as real, Served(CONF, FILES) as ours:
        yield real, ours


@requires_nginx
@pytest.mark.parametrize("path", list(CASES))
def test_paced_as_nginx(servers, path: str) -> None:  # type: ignore[no-untyped-def]
    real, ours = servers
    with ThreadPoolExecutor(2) as pool:
        want_f, got_f = pool.submit(_timed, real.port, path), pool.submit(_timed, ours.port, path)
        (want_t, want), (got_t, got) = want_f.result(), got_f.result()
    assert got == want
    assert abs(want_t - CASES[path]) < 0.4, want_t  # the oracle agrees with the table
    assert abs(got_t - want_t) < 0.4, (got_t, want_t)
