"""``charset`` against real nginx: added to the types of charset_types only, to error
pages too, never twice, and not where it is off."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    include mime.types;
    charset utf-8;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /text { return 200 "plain\n"; }
        location /json { default_type application/json; return 200 "{}\n"; }
        location /off { charset off; return 200 "no charset\n"; }
        location /lua { content_by_lua_block { ngx.header.content_type = "text/html; charset=latin1" ngx.say("x") } }
        location /css { charset_types text/css; }
    }
}
"""

FILES = {"html/page.html": "<p>page</p>\n", "html/css/a.css": "p {}\n",
         "html/data.json": "{}\n"}

CASES = [
    ("text/plain from return", Req("GET", "/text")),
    ("json is not a charset type", Req("GET", "/json")),
    ("charset off", Req("GET", "/off")),
    ("static html", Req("GET", "/page.html")),
    ("static json", Req("GET", "/data.json")),
    ("error page", Req("GET", "/missing")),
    ("charset already in the type", Req("GET", "/lua")),
    ("charset_types replaces the list", Req("GET", "/css/a.css")),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
