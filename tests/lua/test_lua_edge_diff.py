"""Lua edge cases against real OpenResty: numbers as ngx.say prints them, Host changed
by set_header, bodies kept in a temp file past client_body_buffer_size, URIs and args
with escapes, ngx.exec and the variables of its target, repeated headers."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, lua, point, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]

CASES = [
 ("ngx.var.request_uri after exec", 'content_by_lua_block { ngx.exec("/c1", "z=1") }'),
 ("exec target vars", lua('ngx.say(ngx.var.request_uri, " ", ngx.var.uri, " ", ngx.var.args)')),
 ("header get multiple", lua('ngx.say(ngx.var.http_x_m)'), Req("GET","/",H+[("X-M","1"),("X-M","2")])),
 ("header get_headers all", lua('local h = ngx.req.get_headers() ngx.say(type(h["x-m"]))'), Req("GET","/",H+[("X-M","1"),("X-M","2")])),
 ("ngx.print number formats", lua('ngx.say(1/3, " ", 1e20, " ", 2^53, " ", -0.0, " ", 100)')),
 ("tostring inf nan", lua('ngx.say(math.huge, " ", -math.huge)')),
 ("set_header host", lua('ngx.req.set_header("Host", "other.test") ngx.say(ngx.var.host, " ", ngx.var.http_host)')),
 ("ngx.var.host default", lua('ngx.say(ngx.var.host)'), Req("GET","/",[("Host","MiXeD.Test:81")])),
 ("body > buffer", lua('ngx.req.read_body() local d = ngx.req.get_body_data() ngx.say(d and #d or "nil")'), Req("POST","/",H,b"x"*20000)),
 ("body file", lua('ngx.req.read_body() local f = ngx.req.get_body_file() local fh = io.open(f) local n = #fh:read("*a") fh:close() ngx.say(n, " ", tostring(ngx.var.request_body))'), Req("POST","/",H,b"y"*20000)),
 ("body in memory var", lua('ngx.req.read_body() ngx.say(ngx.var.request_body, " ", tostring(ngx.req.get_body_file()))'), Req("POST","/",H,b"small")),
 ("status in log phase var", 'log_by_lua_block { ngx.log(ngx.ERR, "st=", ngx.status) } return 404;'),
 ("exit 500 content", lua('ngx.exit(500)')),
 ("ngx.redirect 308", lua('ngx.redirect("/x", 308)')),
 ("say huge table", lua('local t = {} for i = 1, 100 do t[i] = i end ngx.say(t)')),
 ("uri with encoded slash var", lua('ngx.say(ngx.var.uri, " ", ngx.var.request_uri)'), Req("GET","/a%2Fb%20c")),
 ("args with unicode", lua('ngx.say(ngx.var.arg_n, " ", ngx.unescape_uri(ngx.var.arg_n))'), Req("GET","?n=%E4%BD%A0")),
]

# the exec case names its target
CASES = point(CASES, {"/c1": "exec target vars"})


def _conf() -> str:
    return build_conf(CASES)


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
