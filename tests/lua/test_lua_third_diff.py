"""Lua against real OpenResty, third batch: set_uri jumps, satisfy any with
access_by_lua, header filters changing status and length, subrequest variables
(share/copy) and ctx, argument limits, ngx.exit in a header filter, big and flushed
output, error_log levels per location."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, lua, point, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]



CASES = [
 ("set_uri jump in rewrite", 'rewrite_by_lua_block { ngx.req.set_uri("/c1", true) } return 200 "no\\n";'),
 ("jump target", lua('ngx.say("jumped to ", ngx.var.uri)')),
 ("set_uri no jump", 'rewrite_by_lua_block { ngx.req.set_uri("/elsewhere") } content_by_lua_block { ngx.say(ngx.var.uri) }'),
 ("satisfy any lua ok", 'satisfy any; deny all; access_by_lua_block { ngx.exit(ngx.OK) } return 200 "granted\\n";'),
 ("satisfy any lua 403", 'satisfy any; deny all; access_by_lua_block { ngx.exit(403) } return 200 "granted\\n";'),
 ("header filter sets status", 'header_filter_by_lua_block { ngx.status = 201 } return 200 "x\\n";'),
 ("header filter clears content length", 'header_filter_by_lua_block { ngx.header.content_length = nil } body_filter_by_lua_block { ngx.arg[1] = ngx.arg[1] .. "!" } return 200 "x\\n";'),
 ("share_all_vars", lua('ngx.var.sv = "parent" local r = ngx.location.capture("/c8", {share_all_vars = true}) ngx.print(r.body, ngx.var.sv, "\\n")', 'set $sv "";')),
 ("share target", lua('ngx.say("child saw ", ngx.var.sv) ngx.var.sv = "child"', 'set $sv "";')),
 ("copy_all_vars", lua('ngx.var.sv = "parent" local r = ngx.location.capture("/c8", {copy_all_vars = true}) ngx.print(r.body, ngx.var.sv, "\\n")', 'set $sv "";')),
 ("redirect with args", lua('ngx.redirect("/target?a=1&b=2", 303)')),
 ("get_headers max", lua('local h, err = ngx.req.get_headers(2) local n = 0 for _ in pairs(h) do n = n + 1 end ngx.say(n, " ", tostring(err))'), Req("GET","/",H+[("A","1"),("B","2"),("C","3")])),
 ("uri args max", lua('local a, err = ngx.req.get_uri_args(2) ngx.say(tostring(err), " ", a.a, a.b, tostring(a.c))'), Req("GET","?a=1&b=2&c=3")),
 ("ctx in subrequest is separate", lua('ngx.ctx.p = 1 local r = ngx.location.capture("/c14") ngx.print(r.body)')),
 ("subrequest ctx target", lua('ngx.say("sub ctx.p=", tostring(ngx.ctx.p))')),
 ("post args repeated", lua('ngx.req.read_body() local a = ngx.req.get_post_args() ngx.say(type(a.k), " ", a.k[1], a.k[2], " ", tostring(a.e))'), Req("POST","/",H+[("Content-Type","application/x-www-form-urlencoded")],b"k=1&k=2&e")),
 ("escape uri", lua('ngx.say(ngx.escape_uri("a b/c?d"), " ", ngx.unescape_uri("a%20b+c"))')),
 ("encode args", lua('ngx.say(ngx.encode_args({a = "x y"}))')),
 ("md5 base64", lua('ngx.say(ngx.md5("abc"), " ", ngx.encode_base64("hello"))')),
 ("var request_method after set_method", lua('ngx.req.set_method(ngx.HTTP_PUT) ngx.say(ngx.var.request_method, " ", ngx.req.get_method())')),
 ("exit in header filter", 'header_filter_by_lua_block { ngx.exit(ngx.ERROR) } return 200 "x\\n";'),
 ("lua log level filtered", 'error_log logs/error.log crit; ' + lua('ngx.log(ngx.ERR, "hidden") ngx.say("ok")')),
 ("string.rep big say", lua('ngx.say(string.rep("x", 5000))')),
 ("flush then error", lua('ngx.say(string.rep("y", 2000)) ngx.flush(true) error("late")')),
]


# the jump, capture and subrequest cases name their targets
CASES = point(CASES, {"/c1": "jump target", "/c8": "share target",
                      "/c14": "subrequest ctx target"})


def _conf() -> str:
    return build_conf(CASES, http_extra="lua_http10_buffering off;")



@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
