"""More handlers side by side with real OpenResty: output of odd values, exits after
output, HEAD, error_page into Lua, request bodies and args, expires, and the rewrite
module's flagless rewrite; same config and requests on both, same responses."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, lua, point, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]



CASES = [
 ("if with add_header and return", 'if ($arg_x) { add_header X-If 1; return 200 "in if\\n"; } return 200 "outside\\n";', Req("GET","?x=1")),
 ("rewrite no flag then return", 'rewrite ^/c1/(.*)$ /new/$1; return 200 "uri=$uri\\n";', Req("GET","/abc")),
 ("return request_uri", 'return 200 "$request_uri|$uri|$args|$is_args\\n";', Req("GET","/a%20b?x=%20y")),
 ("default_type json", lua('ngx.say("{}")', "default_type application/json;")),
 ("HEAD to lua", lua('ngx.say("body")'), Req("HEAD","/")),
 ("HEAD to return", 'return 200 "text\\n";', Req("HEAD","/")),
 ("expires", 'expires 1h; return 200 "e\\n";'),
 ("expires epoch", 'expires epoch; return 200 "e\\n";'),
 ("request_body var", lua('ngx.req.read_body() ngx.say(ngx.var.request_body)'), Req("POST","/",H,b"a=1&b=2")),
 ("uri args repeated empty", lua('local a = ngx.req.get_uri_args() ngx.say(type(a.x), " ", tostring(a.y), " ", tostring(a[""]), " ", tostring(a.z))'), Req("GET","?x=1&x=&y&=v&z=")),
 ("print nil", lua('ngx.print(nil) ngx.print(false)')),
 ("say with nested nil", lua('ngx.say({"a", nil, "b"})')),
 ("ngx.status 0 read", lua('ngx.say(ngx.status)')),
 ("exit 200 in access with output", 'access_by_lua_block { ngx.say("from access") ngx.exit(200) } content_by_lua_block { ngx.say("content") }'),
 ("exit 201", lua('ngx.exit(201)')),
 ("ngx.exit 304", lua('ngx.exit(304)')),
 ("ngx.status 500 then say", lua('ngx.status = 500 ngx.say("err body")')),
 ("error_page to lua", 'error_page 404 /c18; return 404;'),
 ("error page target lua", lua('ngx.say("error handler, status=", ngx.status, " uri=", ngx.var.uri)')),
 ("header table then read", lua('ngx.header["Set-Cookie"] = {"a=1", "b=2"} local v = ngx.header["Set-Cookie"] ngx.say(type(v), " ", v[1], v[2])')),
 ("header content_length nil", lua('ngx.header.content_length = nil ngx.say("x")')),
 ("ngx.var.status in content", lua('ngx.say(ngx.var.status)')),
 ("arg with plus", lua('ngx.say(ngx.var.arg_q, " ", ngx.unescape_uri(ngx.var.arg_q))'), Req("GET","?q=a+b%2Bc")),
 ("uri args plus decoding", lua('ngx.say(ngx.req.get_uri_args().q)'), Req("GET","?q=a+b%2Bc")),
 ("set then lua var", 'set $x "a b"; content_by_lua_block { ngx.say(ngx.var.x) }'),
 ("location capture with method PUT", lua('local r = ngx.location.capture("/c26", {method = ngx.HTTP_PUT, body="zz"}) ngx.print(r.status, " ", r.body)')),
 ("capture target echo method", lua('ngx.req.read_body() ngx.say(ngx.req.get_method(), " ", tostring(ngx.req.get_body_data()), " ", tostring(ngx.var.content_length))')),
 ("ngx.time types", lua('ngx.say(math.floor(ngx.now()) == ngx.time())')),
 ("ngx.re.gsub in handler", lua('local s, n = ngx.re.gsub("hello world", "o", "0") ngx.say(s, " ", n)')),
 ("json roundtrip", lua('local cjson = require "cjson" ngx.say(cjson.encode({a = {1,2,3}}))')),
 ("exit after eof", lua('ngx.say("a") ngx.eof() ngx.exit(500)')),
]


# the error_page and capture cases name their targets
CASES = point(CASES, {"/c18": "error page target lua", "/c26": "capture target echo method"})


def _conf() -> str:
    return build_conf(CASES, http_extra="lua_http10_buffering off;")



@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
