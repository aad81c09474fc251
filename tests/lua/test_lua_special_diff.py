"""Special responses from Lua against real OpenResty: ngx.exit with headers set before
(kept in the error page's response), error_page into Lua, add_header always, the page
titles nginx uses (401 "Authorization Required"), codes without a page."""

from __future__ import annotations

import pytest

from tests.lua.cases import build_conf, lua, point, request_for
from tests.oracle import requires_nginx

CASES = [
 ("401 with header", lua('ngx.header["WWW-Authenticate"] = "Basic realm=x" ngx.exit(401)')),
 ("404 with custom header", lua('ngx.header["X-Why"] = "gone" ngx.exit(404)')),
 ("error_page keeps header?", lua('ngx.header["X-Why"] = "gone" ngx.exit(404)', "error_page 404 /c3;")),
 ("error target", lua('ngx.say("custom 404 page")')),
 ("status 404 with body", lua('ngx.status = 404 ngx.header["X-A"] = "1" ngx.say("nope")')),
 ("return 500 with add_header always", 'add_header X-Always 1 always; add_header X-Not 2; return 500;'),
 ("content-type from header then exit 403", lua('ngx.header.content_type = "application/json" ngx.exit(403)')),
 ("redirect keeps headers", lua('ngx.header["X-Before"] = "1" ngx.redirect("/x")')),
 ("say then 404 status", lua('ngx.say("x") ngx.status = 404')),
 ("exit 400", lua('ngx.exit(400)')),
 ("exit 413", lua('ngx.exit(413)')),
 ("exit 429", lua('ngx.exit(ngx.HTTP_TOO_MANY_REQUESTS)')),
 ("exit 502", lua('ngx.exit(502)')),
 ("exit 599", lua('ngx.exit(599)')),
]
# the error_page case names its target
CASES = point(CASES, {"/c3": "error target"})


def _conf() -> str:
    return build_conf(CASES)


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
