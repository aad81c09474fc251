"""ngx.say/print/flush/exit/status/header/redirect/exec and ngx.req/ngx.var on real
OpenResty and on the engine: same config, same requests, same responses."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, lua, request_for
from tests.oracle import requires_nginx



H = [("Host", "localhost")]

CASES = [
    ("say strings and numbers", lua('ngx.say("a", 1, " ", 2.5, true, nil)')),
    ("print without newline", lua('ngx.print("x") ngx.print("y")')),
    ("say nested array table", lua('ngx.say({"a", {"b", 1}, "c"})')),
    ("say ngx.null", lua('ngx.say(ngx.null)')),
    ("say hash table is an error", lua('ngx.say({a = 1})')),
    ("say function is an error", lua('ngx.say(print)')),
    ("empty handler", lua('local x = 1')),
    ("status then say", lua('ngx.status = 201 ngx.say("created")')),
    ("exit 404 before output", lua('ngx.exit(404)')),
    ("exit 200 before output", lua('ngx.exit(200)')),
    ("exit ngx.OK after say", lua('ngx.say("a") ngx.exit(ngx.OK) ngx.say("b")')),
    ("exit 500 after say keeps 200", lua('ngx.say("partial") ngx.exit(500)')),
    ("exit 204", lua('ngx.exit(204)')),
    ("exit 302 with location header", lua('ngx.header.location = "/x" ngx.exit(302)')),
    ("exit 503", lua('ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)')),
    ("exit 444 closes", lua('ngx.exit(444)')),
    ("status 404 and say", lua('ngx.status = 404 ngx.say("nope")')),
    ("set header", lua('ngx.header["X-A"] = "1" ngx.header.x_b = "2" ngx.say("h")')),
    ("multi-value header", lua('ngx.header["X-M"] = {"1", "2"} ngx.say("m")')),
    ("content type header", lua('ngx.header.content_type = "application/json" ngx.say("{}")')),
    ("read header back", lua('ngx.header["X-A"] = "v" ngx.say(ngx.header["x-a"], ngx.header.X_A)')),
    ("clear header", lua('ngx.header["X-A"] = "v" ngx.header["X-A"] = nil ngx.say("c")')),
    ("header after output is refused", lua('ngx.say("a") ngx.header["X-Late"] = "1" ngx.say("b")')),
    ("status after output", lua('ngx.say("a") ngx.status = 500 ngx.say(ngx.status)')),
    # the header went out with 200; a header filter's 0 is what ngx.status reads after
    ("status 0 from the header filter", lua('ngx.say("a") ngx.say(ngx.status)',
                                            'header_filter_by_lua_block { ngx.status = 0 }')),
    ("headers_sent", lua('local a = ngx.headers_sent ngx.say("x") ngx.say(tostring(a), tostring(ngx.headers_sent))')),
    ("send_headers", lua('ngx.status = 202 ngx.send_headers() ngx.say(ngx.headers_sent)')),
    ("redirect default 302", lua('ngx.redirect("/elsewhere")')),
    ("redirect 301 absolute", lua('ngx.redirect("http://example.com/", 301)')),
    ("redirect 307", lua('ngx.redirect("/t", ngx.HTTP_TEMPORARY_REDIRECT)')),
    ("redirect bad status", lua('ngx.redirect("/t", 200)')),
    ("redirect after output", lua('ngx.say("x") ngx.redirect("/t")')),
    ("exec after output", lua('ngx.say("x") ngx.exec("/c0")')),
    ("exec to location", lua('ngx.exec("/c0")')),
    ("exec with args", lua('ngx.exec("/c55", "a=1&b=2")')),
    ("exec with table args", lua('ngx.exec("/c55", {a = "x y"})')),
    ("exec to named location", lua('ngx.exec("@named")')),
    ("flush", lua('ngx.say("1") ngx.flush() ngx.say("2")')),
    ("eof then more work", lua('ngx.say("done") ngx.eof() local x = 1 + 1')),
    ("runtime error", lua('local t = nil; ngx.say(t.x)')),
    ("error with table value", lua('error({code = 1})')),
    ("error after output", lua('ngx.say("start") error("boom")')),
    ("syntax error", lua('ngx.say("a"')),
    ("pcall catches error", lua('local ok, err = pcall(error, "x") ngx.say(ok, " ", err)')),
    ("ngx.exit inside pcall still exits", lua('pcall(ngx.exit, 403) ngx.say("not reached")')),
    ("var uri and args", lua('ngx.say(ngx.var.uri, " ", ngx.var.args, " ", ngx.var.arg_a)'), Req("GET", "/sub?a=1&b=2")),
    ("var unknown is nil", lua('ngx.say(tostring(ngx.var.no_such_var))')),
    ("var set declared", lua('ngx.var.foo = "bar" ngx.say(ngx.var.foo)', 'set $foo "";')),
    ("var set undeclared fails", lua('ngx.var.undeclared_x = "1"')),
    ("var set builtin fails", lua('ngx.var.uri = "/x"')),
    ("var args settable", lua('ngx.var.args = "z=9" ngx.say(ngx.var.args, " ", ngx.var.arg_z)'), Req("GET", "?a=1")),
    ("var http header", lua('ngx.say(ngx.var.http_x_foo, " ", ngx.var.http_host)'), Req("GET", "/", H + [("X-Foo", "bar")])),
    ("var captures", "        location ~ ^/c56/(\\d+)$ { content_by_lua_block { ngx.say(ngx.var[1]) } }\n"
     + lua('ngx.say("prefix")')),
    ("req get_method", lua('ngx.say(ngx.req.get_method())'), Req("PUT", "/", H, b"x")),
    ("req set_method", lua('ngx.req.set_method(ngx.HTTP_POST) ngx.say(ngx.req.get_method())')),
    ("req get_uri_args", lua('local a = ngx.req.get_uri_args() ngx.say(a.a, " ", a.b, " ", tostring(a.flag), " ", type(a.m), " ", a.m[1], a.m[2])'), Req("GET", "?a=1&b=%20x&flag&m=1&m=2")),
    ("req set_uri_args table", lua('ngx.req.set_uri_args({q = "1"}) ngx.say(ngx.var.args)')),
    ("req set_uri_args string", lua('ngx.req.set_uri_args("a=b") ngx.say(ngx.var.args)')),
    ("req get_headers", lua('local h = ngx.req.get_headers() ngx.say(h.host, " ", h["x-one"], " ", h.X_One)'), Req("GET", "/", H + [("X-One", "1")])),
    ("req get_headers repeated", lua('local h = ngx.req.get_headers() ngx.say(type(h.x), " ", h.x[1], h.x[2])'), Req("GET", "/", H + [("X", "1"), ("X", "2")])),
    ("req get_headers raw", lua('local h = ngx.req.get_headers(0, true) ngx.say(tostring(h["X-Up"]), " ", tostring(h["x-up"]))'), Req("GET", "/", H + [("X-Up", "u")])),
    ("req set_header visible to var", lua('ngx.req.set_header("X-New", "n") ngx.say(ngx.var.http_x_new)')),
    ("req clear_header", lua('ngx.req.clear_header("X-Old") ngx.say(tostring(ngx.var.http_x_old))'), Req("GET", "/", H + [("X-Old", "o")])),
    ("body nil without read", lua('ngx.say("hello ", ngx.req.get_body_data())'), Req("POST", "/", H, b"jack")),
    ("body after read_body", lua('ngx.req.read_body() ngx.say("hello ", ngx.req.get_body_data())'), Req("POST", "/", H, b"jack")),
    ("lua_need_request_body", lua('ngx.say("hello ", ngx.req.get_body_data())', "lua_need_request_body on;"), Req("POST", "/", H, b"jack")),
    ("get_post_args", lua('ngx.req.read_body() local a = ngx.req.get_post_args() ngx.say(a.x, a.y)'), Req("POST", "/", H + [("Content-Type", "application/x-www-form-urlencoded")], b"x=1&y=2")),
    ("get_post_args unread", lua('local ok, err = pcall(ngx.req.get_post_args) ngx.say(ok, " ", err)'), Req("POST", "/", H, b"x=1")),
    ("http_version", lua('ngx.say(ngx.req.http_version())')),
    ("is_internal", lua('ngx.say(tostring(ngx.req.is_internal()))')),
    ("raw_header", lua('ngx.print(ngx.req.raw_header())'), Req("GET", "/", H + [("X-R", "1")])),
    ("set_uri", lua('ngx.req.set_uri("/new/path") ngx.say(ngx.var.uri)')),
    ("set_uri jump in content is an error", lua('ngx.req.set_uri("/c0", true)')),
    ("ngx.ctx in one phase", lua('ngx.ctx.a = 1 ngx.ctx.a = ngx.ctx.a + 1 ngx.say(ngx.ctx.a)')),
    ("ngx.ctx replaced", lua('ngx.ctx = {z = 5} ngx.say(ngx.ctx.z)')),
    ("ngx.log levels", lua('ngx.log(ngx.ERR, "err line") ngx.log(ngx.INFO, "info line") ngx.say("logged")')),
    ("ngx.log bad level", lua('ngx.log("x", "y")')),
    ("print goes to log", lua('print("p") ngx.say("ok")')),
    ("is_subrequest", lua('ngx.say(tostring(ngx.is_subrequest))')),
    ("get_phase", lua('ngx.say(ngx.get_phase())')),
    ("worker id and count", lua('ngx.say(ngx.worker.id(), " ", ngx.worker.count())')),
    ("config", lua('ngx.say(ngx.config.subsystem, " ", ngx.config.ngx_lua_version, " ", ngx.config.nginx_version)')),
    ("constants", lua('ngx.say(ngx.OK, ngx.ERROR, ngx.AGAIN, ngx.DONE, ngx.DECLINED, ngx.HTTP_GET, ngx.HTTP_POST, ngx.HTTP_NOT_FOUND)')),
    ("sleep zero", lua('ngx.sleep(0) ngx.say("slept")')),
    ("sleep bad arg", lua('ngx.sleep("x")')),
    ("globals do not leak", lua('ngx.say(tostring(leaky)) leaky = 1')),
    ("require resty.core", lua('require "resty.core" ngx.say("ok")')),
    ("ngx.re in a handler", lua('local m = ngx.re.match(ngx.var.uri, "/c(\\\\d+)") ngx.say(m[1])')),
    ("string.format and os.time type", lua('ngx.say(string.format("%05.1f", 3.14159), " ", type(os.time()))')),
    ("exec target for args", lua('ngx.say("args=", ngx.var.args, " a=", ngx.var.arg_a)')),
    ("quote_sql_str", lua('ngx.say(ngx.quote_sql_str("it\'s"))')),
    ("content handler kept inside if", lua('ngx.say("lua in if")', "if ($arg_a) { set $b 1; }"),
     Req("GET", "?a=1")),
    ("content-length from ngx.header", lua('ngx.header["Content-Length"] = 3 ngx.print("abc")')),
]
# case 55 must stay the exec target above ("exec target for args"): keep its index fixed
_EXEC_TARGET = [i for i, c in enumerate(CASES) if c[0] == "exec target for args"][0]

NAMED = '        location @named { content_by_lua_block { ngx.say("in named ", ngx.var.uri) } }'


def _conf() -> str:
    return build_conf(CASES, server_extra=NAMED)



def _fix_targets() -> None:
    """Point the exec/capture cases at their targets' real indexes."""
    global CASES
    fixed = []
    for c in CASES:
        body = c[1].replace("/c55", f"/c{_EXEC_TARGET}")
        body = body.replace("location ~ ^/c56/", f"location ~ ^/c{len(fixed)}/")
        fixed.append((c[0], body) + tuple(c[2:]))
    CASES = fixed


_fix_targets()


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    req = request_for(index, CASES[index])
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
