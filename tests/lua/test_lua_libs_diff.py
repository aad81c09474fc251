"""Lua libraries and environment against real OpenResty: lua-resty-lrucache,
table.new/clear and OpenResty's LuaJIT modules, ngx.req.add_header, ndk, ngx.timer.every, shared-dict counters, ngx.semaphore between light
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
 # OpenResty's LuaJIT modules (required, not fields of table)
 ("luajit2 table modules", lua('ngx.say(type(table.nkeys), type(table.clone)) local nkeys, clone, isarray, isempty = require "table.nkeys", require "table.clone", require "table.isarray", require "table.isempty" local t = {1, 2, x = {3}} local c = clone(t) ngx.say(nkeys({1, 2, nil, x = 1}), nkeys({}), tostring(isarray({1, 2})), tostring(isarray({1, nil, 3})), tostring(isarray({x = 1})), tostring(isarray({})), tostring(isempty({})), tostring(isempty({nil})), tostring(isempty(t)), tostring(c ~= t), tostring(c.x == t.x), #c)')),
 ("luajit2 bad arguments", lua('for _, name in ipairs({"table.nkeys", "table.clone", "table.isarray", "table.isempty", "thread.exdata"}) do ngx.say(pcall(require(name), 1)) end local exdata = require "thread.exdata" ngx.say(type(exdata()))')),
 ("ngx.req add_header", lua('local req = require "ngx.req" local function show(n) local h = ngx.req.get_headers()[n] ngx.say(n, "=", type(h) == "table" and table.concat(h, "|") or tostring(h)) end req.add_header("X-A", "") req.add_header("X-A", "v") show("x-a") req.add_header("User-Agent", "ua2") show("user-agent") req.add_header("Cookie", "c=2") show("cookie") ngx.say(ngx.var.http_cookie) req.add_header(12, {1, true}) show("12") ngx.say(pcall(req.add_header, "Host", "bad/host")) ngx.say(pcall(req.add_header, "X-B", {})) ngx.say(pcall(req.add_header, nil, "x")) ngx.say(pcall(req.add_header, "X-B")) ngx.say(ngx.req.raw_header())'), Req("GET", "/", H + [("User-Agent", "ua1"), ("Cookie", "c=1")])),
 ("ndk and ngx.pipe refused", lua('ngx.say(type(ndk), type(ndk.set_var)) ngx.say(pcall(function() return ndk.set_var.set_quote_sql_str end)) ngx.say(pcall(require, "ngx.pipe"))')),
]


def _conf() -> str:
    return build_conf(CASES, http_extra="lua_shared_dict lim 1m;")


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
