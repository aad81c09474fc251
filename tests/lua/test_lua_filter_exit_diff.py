"""``ngx.exit`` in ``header_filter_by_lua*`` against real nginx, over a real socket.

ngx_lua hands any status but ``ngx.OK`` to ``ngx_http_filter_finalize_request``: the
response being sent is replaced by the special response of that status (its error_page,
nginx's page, or an empty body for a code without one), the filter does not run again
for it, and the connection is closed afterwards although the header says keep-alive.
Each case sends a second, pipelined request that must go unanswered, as on nginx.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.oracle import RealNginx, requires_nginx
from tests.server.harness import Served

pytestmark = requires_nginx

CONF = r"""
error_log logs/error.log info;
events {}
http {
    log_format t "$request|$status|$bytes_sent|$body_bytes_sent";
    access_log logs/access.log t;
    server {
        listen 127.0.0.1:{port};
        location /forbid {
            return 200 "body\n";
            header_filter_by_lua_block {
                ngx.header["X-N"] = tonumber(ngx.header["X-N"] or 0) + 1
                ngx.exit(403)
            }
        }
        location /created {
            return 200 "body\n";
            add_header X-Add 1;
            header_filter_by_lua_block { ngx.exit(201) }
        }
        location /lua204 {
            content_by_lua_block { ngx.say("x") }
            header_filter_by_lua_block { ngx.exit(204) }
        }
        location /moved {
            content_by_lua_block { ngx.say("x") }
            header_filter_by_lua_block { ngx.header.Location = "/y" ngx.exit(301) }
        }
        location /page {
            error_page 403 /target;
            return 200 "body\n";
            header_filter_by_lua_block { if ngx.status == 200 then ngx.exit(403) end }
        }
        location /target { return 200 "target\n"; }
        location /status_changed { return 404; header_filter_by_lua_block { ngx.exit(502) } }
        location /http_ok { return 200 "b"; header_filter_by_lua_block { ngx.exit(ngx.HTTP_OK) } }
        location /close { return 200 "b"; header_filter_by_lua_block { ngx.exit(444) } }
        location /low { return 200 "b"; header_filter_by_lua_block { ngx.exit(100) } }
        location /ok { return 200 "b\n"; header_filter_by_lua_block { ngx.exit(ngx.OK) } }
        location /error { return 200 "b\n"; header_filter_by_lua_block { ngx.exit(ngx.ERROR) } }
    }
}
"""

PATHS = ["/forbid", "/created", "/lua204", "/moved", "/page", "/status_changed", "/http_ok",
         "/close", "/low", "/ok", "/error"]
_DATE = re.compile(rb"Date: [^\r]*\r\n")


def _pipelined(path: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /target HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()


@pytest.fixture(scope="module")
def answers() -> list[tuple[list[bytes], list[str]]]:
    out = []
    with RealNginx(CONF) as real, Served(CONF) as ours:
        for server in (real, ours):
            replies = [_DATE.sub(b"", server.request(_pipelined(p), timeout=3)) for p in PATHS]
            time.sleep(0.1)
            out.append((replies, (server.prefix / "logs" / "access.log").read_text()
                        .splitlines()))
    return out


@pytest.mark.parametrize("index,path", list(enumerate(PATHS)), ids=PATHS)
def test_reply_as_nginx(answers, index: int, path: str) -> None:
    (real, _), (ours, _) = answers
    assert ours[index] == real[index]


def test_access_log_as_nginx(answers) -> None:
    (_, real), (_, ours) = answers
    assert ours == real
    assert real[0] == "GET /forbid HTTP/1.1|403|316|153"  # the page replaced the body
