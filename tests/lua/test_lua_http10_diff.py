"""lua_http10_buffering against real OpenResty: an HTTP/1.0 request's Lua output is held
until the end so the response carries a Content-Length; flush does not break it, eof
ends it, a Content-Length set by Lua or the directive turned off disables it."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, lua, request_for
from tests.oracle import requires_nginx

CASES = [
 ("http10 say", lua('ngx.say("a") ngx.say("b")'), Req("GET", "/", [], version="HTTP/1.0")),
 ("http10 keepalive", lua('ngx.say("a")'), Req("GET", "/", [("Connection", "keep-alive")], version="HTTP/1.0")),
 ("http10 flush", lua('ngx.say("a") ngx.flush(true) ngx.say("b")'), Req("GET", "/", [], version="HTTP/1.0")),
 ("http10 content-length set", lua('ngx.header.content_length = 2 ngx.say("a")'), Req("GET", "/", [], version="HTTP/1.0")),
 ("http10 exit 404", lua('ngx.exit(404)'), Req("GET", "/", [], version="HTTP/1.0")),
 ("http10 eof", lua('ngx.say("a") ngx.eof() ngx.sleep(0.01)'), Req("GET", "/", [], version="HTTP/1.0")),
 # nothing printed: Content-Length 0; an empty print sends the header without one; a
 # HEAD's header goes out without the buffered length
 ("http10 no output", lua(''), Req("GET", "/", [], version="HTTP/1.0")),
 ("http10 empty print", lua('ngx.print("")'), Req("GET", "/", [], version="HTTP/1.0")),
 ("http10 head", lua('ngx.say("x")'), Req("HEAD", "/", [], version="HTTP/1.0")),
 ("http10 off", lua('ngx.say("a")', "lua_http10_buffering off;"), Req("GET", "/", [], version="HTTP/1.0")),
]


def _conf() -> str:
    return build_conf(CASES)


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
