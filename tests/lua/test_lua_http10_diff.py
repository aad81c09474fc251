"""lua_http10_buffering against real OpenResty: an HTTP/1.0 request's Lua output is held
until the end so the response carries a Content-Length; flush does not break it, eof
ends it, a Content-Length set by Lua or the directive turned off disables it. While it is
held, no header has been sent: status, headers, exit, redirect, exec and errors after the
output act as before any output."""

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
 # the held output has sent no header: what comes after it still changes the response
 # (exit and redirect end it with that output as it stands; an error's or exec's answer
 # replaces it; a rewrite/access handler's output is followed by the content phase's)
 *[(f"http10 after output: {name}", body, Req("GET", "/", [], version="HTTP/1.0")) for name, body in [
   ("exit 404", lua('ngx.print("a1") ngx.exit(404)')),
   ("exit 204", lua('ngx.print("a1") ngx.exit(204)')),
   ("exit 444", lua('ngx.print("a1") ngx.exit(444)')),
   ("status then exit 500", lua('ngx.print("a1") ngx.status = 201 ngx.exit(500)')),
   ("status", lua('ngx.print("a1") ngx.status = 404 ngx.say("b")')),
   ("header", lua('ngx.print("a1") ngx.header.x = 1 ngx.say(" sent=", tostring(ngx.headers_sent))')),
   ("send_headers", lua('ngx.print("a1") ngx.send_headers() ngx.header.y = 2')),
   ("redirect", lua('ngx.print("a1") ngx.redirect("/x")')),
   ("error", lua('ngx.print("a1") error("boom")')),
   ("exec", lua('ngx.print("a1") ngx.exec("/c0")')),
   ("rewrite, then content", 'rewrite_by_lua_block { ngx.say("rw") }\n' + lua('ngx.say("content")')),
   ("rewrite exit(OK)", 'rewrite_by_lua_block { ngx.say("rw") ngx.exit(ngx.OK) }\n' + lua('ngx.say("content")')),
   ("access, then content", 'access_by_lua_block { ngx.print("acc") }\n' + lua('ngx.say("content")')),
   ("header filter sees it", 'header_filter_by_lua_block { ngx.header.w = ngx.header.z }\n' + lua('ngx.print("a1") ngx.header.z = 3')),
 ]],
]


def _conf() -> str:
    return build_conf(CASES)


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
