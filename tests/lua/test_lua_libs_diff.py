"""Lua libraries and environment against real OpenResty: lua-resty-lrucache,
table.new/clear, ngx.timer.every, shared-dict counters, ngx.semaphore between light
threads, os.getenv under nginx's cleared environment, cjson null, user coroutines."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, lua, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]

CASES = [
 ("lrucache", lua('local lrucache = require "resty.lrucache" local c = lrucache.new(2) c:set("a", 1) c:set("b", 2) c:set("c", 3) ngx.say(tostring(c:get("a")), " ", c:get("c"))')),
 ("table.new clear", lua('local new = require "table.new" local clear = require "table.clear" local t = new(4, 0) t[1] = 1 clear(t) ngx.say(#t)')),
 ("timer every", lua('local n = 0 local ok = ngx.timer.every(0.01, function() n = n + 1 end) ngx.sleep(0.05) ngx.say(ok, " ", n >= 2)')),
 ("ngx.shared incr limiter", lua('local d = ngx.shared.lim local v = d:incr("k", 1, 0, 10) ngx.say(v)', )),
 ("remote addr deny", 'access_by_lua_block { if ngx.var.remote_addr == "127.0.0.1" then ngx.exit(ngx.HTTP_FORBIDDEN) end } return 200 "x\\n";'),
 ("user agent header", lua('ngx.say(ngx.req.get_headers()["user-agent"])'), Req("GET","/",H+[("User-Agent","probe/1")])),
 ("ngx.var.cookie", lua('ngx.say(ngx.var.cookie_sid)'), Req("GET","/",H+[("Cookie","a=1; sid=xyz")])),
 ("os.getenv", lua('ngx.say(type(os.getenv("PATH")))')),
 ("jit version", lua('ngx.say(jit and jit.version_num and "jit" or "nojit")')),
 ("string.format %q", lua('ngx.say(string.format("%q", "a\\nb"))')),
 ("unescape", lua('ngx.say(ngx.unescape_uri("%E4%BD%A0%E5%A5%BD"))')),
 ("ngx.re.match named", lua('local m = ngx.re.match("2026-11", [[(?<y>\\d+)-(?<m>\\d+)]]) ngx.say(m.y, m.m, m[1])')),
 ("cjson decode array", lua('local cjson = require "cjson" local t = cjson.decode("[1,2,{\\"a\\":null}]") ngx.say(#t, " ", tostring(t[3].a == cjson.null))')),
 ("semaphore module loads", lua('local ok = pcall(require, "ngx.semaphore") ngx.say(ok)')),
 ("print table tostring", lua('ngx.say(type(tostring({})))')),
 ("semaphore between threads", lua('local sema = require("ngx.semaphore").new(0) local t = ngx.thread.spawn(function() ngx.sleep(0.01) sema:post(1) return "posted" end) local ok, err = sema:wait(1) local ok2, v = ngx.thread.wait(t) ngx.say(ok, " ", tostring(err), " ", v, " ", sema:count())')),
 ("semaphore timeout", lua('local sema = require("ngx.semaphore").new(0) local ok, err = sema:wait(0.01) ngx.say(tostring(ok), " ", err, " ", sema:count())')),
 ("semaphore count", lua('local sema = require("ngx.semaphore").new(2) sema:wait(0) ngx.say(sema:count()) sema:post(3) ngx.say(sema:count())')),
 ("coroutine user", lua('local co = coroutine.wrap(function() coroutine.yield(1) coroutine.yield(2) end) ngx.say(co(), co())')),
]


def _conf() -> str:
    return build_conf(CASES, http_extra="lua_shared_dict lim 1m;")


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
