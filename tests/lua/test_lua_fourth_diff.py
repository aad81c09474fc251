"""Lua against real OpenResty, fourth batch: ngx.resp.get_headers, captures of
subrequests that end in a special response (empty body, ``truncated``, the status given
to finalize), what ngx.thread.wait returns for a thread that raised an error, and small
API facts (send_headers twice, ngx.config.debug, a negative timer delay, start_time).
The timer and init_worker log lines are compared line by line at the end."""

from __future__ import annotations

import time

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, log_entries, lua, point, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]
CAP = ('local r = ngx.location.capture("%s") ngx.say(r.status, " [", r.body, "] ", '
       'tostring(r.truncated), " ", tostring(r.header["Content-Type"]), " ", '
       'tostring(r.header["Location"]))')
WAIT = 'local t = ngx.thread.spawn(function() %s end) ngx.say(select(2, ngx.thread.wait(t)))'

CASES = [
 ("resp headers", lua('ngx.header["X-Multi"] = {"a", "b"} ngx.header.content_type = "text/x" '
                      'local h = ngx.resp.get_headers() '
                      'ngx.say(h["x-multi"][1], h["x-multi"][2], " ", h["content-type"], " ", '
                      'h.content_type, " ", tostring(h["content-length"]))')),
 ("resp headers length raw", lua('ngx.header.content_length = 3 ngx.header["X-Case"] = "v" '
                                 'local h = ngx.resp.get_headers(0, true) '
                                 'ngx.print(h["content-length"], h["X-Case"], tostring(h["x-case"]))')),
 ("resp headers truncated", lua('ngx.header.A = 1 ngx.header.B = 2 ngx.header.C = 3 '
                                'local h, err = ngx.resp.get_headers(2) ngx.say(tostring(err))')),
 ("capture missing", lua(CAP % "/nonexistent")),
 ("capture missing html", lua(CAP % "/nope.html")),
 ("capture return 404", lua(CAP % "/t404")),
 ("capture return 404 text", lua(CAP % "/t404text")),
 ("capture lua exit 404", lua(CAP % "/texit404")),
 ("capture lua error", lua(CAP % "/terror")),
 ("capture 301", lua(CAP % "/t301")),
 ("capture error_page", lua(CAP % "/tpage")),
 ("capture exit 204", lua(CAP % "/t204")),
 ("capture status then exit", lua(CAP % "/tstatus")),
 ("capture output then exit 503", lua(CAP % "/tlate")),
 ("capture default_type", lua(CAP % "/tdefault")),
 ("t404", "return 404;"),
 ("t404text", 'return 404 "gone\\n";'),
 ("texit404", lua("ngx.exit(404)")),
 ("terror", lua('error("x")')),
 ("t301", "return 301 /elsewhere;"),
 ("tpage", "error_page 404 /tpage_target; return 404;"),
 ("tpage_target", 'return 200 "custom page\\n";'),
 ("t204", lua("ngx.exit(204)")),
 ("tstatus", lua("ngx.status = 202 ngx.exit(404)")),
 ("tlate", lua('ngx.say("p1") ngx.exit(503)')),
 ("tdefault", "default_type application/json; return 403;"),
 ("thread error string", lua(WAIT % 'error("boom")')),
 ("thread error level 0", lua(WAIT % 'error("boom", 0)')),
 ("thread error number", lua('local t = ngx.thread.spawn(function() error(42) end) '
                             'local ok, e = ngx.thread.wait(t) ngx.say(type(e), " ", tostring(e))')),
 ("thread error nested", lua('local function inner() error("deep") end ' + WAIT % "inner()")),
 ("thread error after sleep", lua(WAIT % 'ngx.sleep(0.001) error("late")')),
 ("thread error pcall inside", lua(WAIT % 'local ok, e = pcall(error, "inner") return e')),
 ("send_headers twice", lua('ngx.send_headers() local ok, err = ngx.send_headers() '
                            'ngx.say(tostring(ok), " ", tostring(err))')),
 ("config debug", lua("ngx.say(tostring(ngx.config.debug))")),
 ("timer negative delay", lua('local ok, err = ngx.timer.at(-1, function() end) '
                              'ngx.say(tostring(ok), " ", tostring(err))')),
 ("start_time before now", lua('ngx.say(ngx.now() >= ngx.req.start_time(), " ", '
                               'ngx.req.start_time() * 1000 % 1 == 0)')),
 # filters that run while the content handler waits in ngx.flush leave its context as it
 # was, and the flush buffer itself goes through body_filter_by_lua
 ("filters around a flush", 'header_filter_by_lua_block { ngx.ctx.n = 0 } '
                            'body_filter_by_lua_block { ngx.ctx.n = ngx.ctx.n + 1 if ngx.arg[2] then '
                            'ngx.arg[1] = "chunks=" .. ngx.ctx.n .. "\\n" end } '
                            'content_by_lua_block { ngx.say("a") ngx.flush() ngx.say("b") }'),
 ("content_type set to nil", lua('ngx.header.content_type = nil ngx.say("x")')),
 # ngx_lua has sent the header by the first ngx.say: response-side variables say so
 ("response variables after output", lua('ngx.say(ngx.var.status, " ", tostring(ngx.var.sent_http_content_type)) '
                                         'ngx.say(ngx.var.status)')),
 ("response variables before output", lua('local s = ngx.var.status ngx.say(s)')),
 ("variables ngx.var cannot find", lua('ngx.say(tostring(ngx.var.proxy_add_x_forwarded_for), " ", '
                                       'ngx.var.realip_remote_addr)'), Req("GET", "/", H + [("X-Forwarded-For", "9.9.9.9")])),
 # the two directives that change what ngx_lua does to a response's header
 ("lua_use_default_type off", lua('ngx.say(1)', "lua_use_default_type off;")),
 ("lua_use_default_type off, type set", lua('ngx.header.content_type = "a/b" ngx.say(1)',
                                            "lua_use_default_type off;")),
 ("lua_use_default_type off, ngx.exit", lua('ngx.exit(404)', "lua_use_default_type off;")),
 ("lua_use_default_type off, rewrite phase",
  "lua_use_default_type off; rewrite_by_lua_block { ngx.say(1) ngx.exit(200) }"),
 ("underscores kept", lua('ngx.header.X_Foo = "1" ngx.say(ngx.header.X_Foo, " ", tostring(ngx.header["X-Foo"]))',
                          "lua_transform_underscores_in_response_headers off;")),
 ("underscores transformed", lua('ngx.header.X_Foo = "1" ngx.say(ngx.header.X_Foo, " ", ngx.header["X-Foo"])')),
 # ngx.flush flushes only once body output went out
 ("flush before any output", lua('local ok, err = ngx.flush() ngx.header["X-After"] = "1" '
                                 'ngx.say(tostring(ok), " ", tostring(err))')),
 ("flush(true) before any output", lua('local ok, err = ngx.flush(true) '
                                       'ngx.say(tostring(ok), " ", tostring(err))')),
 ("flush after send_headers", lua('ngx.send_headers() local ok, err = ngx.flush() '
                                  'ngx.say(tostring(ok), " ", tostring(err))')),
 ("flush after an empty print", lua('ngx.print("") local ok, err = ngx.flush() '
                                    'ngx.say(tostring(ok), " ", tostring(err))')),
 ("flush after output", lua('ngx.say("a") local ok, err = ngx.flush() ngx.flush() '
                            'ngx.say(tostring(ok), " ", tostring(err))')),
 ("flush errors", lua('ngx.say(select(2, pcall(ngx.flush, 1))) ngx.say(select(2, pcall(ngx.flush, true, 1)))')),
 ("flush under HTTP/1.0 buffering", lua('ngx.say("a") ngx.say(select(2, ngx.flush()))'),
  Req("GET", "/", H, version="HTTP/1.0")),
 # Server is nginx's own line unless Lua sets it (nil: no line); add_header only adds one
 ("Server cleared", lua('ngx.header.Server = nil ngx.say(1)')),
 ("Server set", lua('ngx.header.Server = "MyServer/1.0" ngx.say(1)')),
 ("Server cleared in a header filter", 'return 200 ok; header_filter_by_lua_block { ngx.header["Server"] = nil }'),
 ("add_header Server", 'add_header Server "Custom"; return 200 ok;'),
 ("add_header Server and Lua's", 'add_header Server "Custom"; content_by_lua_block { ngx.header.Server = "L" ngx.say(1) }'),
 ("add_header Server, Lua clears", 'add_header Server "Custom"; content_by_lua_block { ngx.header.Server = nil ngx.say(1) }'),
 ("underscores kept, cleared and listed",
  lua('ngx.header.X_Foo = "1" ngx.header.X_Foo = nil ngx.header.Y_Z = {"a", "b"} '
      'ngx.say(ngx.resp.get_headers()["y_z"][2])', "lua_transform_underscores_in_response_headers off;")),
]

# C functions' argument errors: named as called ('?' through pcall), the caller's position
for _name, _call in [("flush", "ngx.flush(1)"), ("sleep", "ngx.sleep('x')"), ("log", "ngx.log('x')"),
                     ("capture_multi", "ngx.location.capture_multi(1)"),
                     ("timer.at", "ngx.timer.at('x', print)"), ("timer.at callback", "ngx.timer.at(1, 2)"),
                     ("timer.every", "ngx.timer.every('x', print)"),
                     ("timer.every zero", "ngx.timer.every(0.0001, print)"),
                     ("timer.every callback", "ngx.timer.every(1, 2)"),
                     ("thread.spawn", "ngx.thread.spawn(1)"), ("thread.kill", "ngx.thread.kill(1)"),
                     ("on_abort, check off", "ngx.on_abort(1)")]:
    _fn, _args = _call.split("(", 1)
    CASES.append((f"bad argument to {_name}",
                  lua(f"ngx.say(select(2, pcall(function() {_call} end))) "
                      f"ngx.say(select(2, pcall({_fn}, {_args[:-1]})))")))

CASES = point(CASES, {f"/{n}": n for n in ("t404", "t404text", "texit404", "terror", "t301",
                                            "tpage", "tpage_target", "t204", "tstatus",
                                            "tlate", "tdefault")})

HTTP = """
error_log logs/error.log info;
init_worker_by_lua_block {
    ngx.log(ngx.ERR, "from init_worker")
    ngx.timer.at(0, function() ngx.log(ngx.ERR, "worker timer") end)
}
"""


def _conf() -> str:
    return build_conf(CASES + LOG_CASES, http_extra=HTTP)


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()


# -- log lines of timers and init_worker_by_lua ------------------------------------------

LOG_CASES = [
    ("timer log", lua('ngx.timer.at(0, function(p) ngx.log(ngx.ERR, "timer ran ", tostring(p)) '
                      'end) ngx.sleep(0.05) ngx.say("ok")')),
    ("timer error", lua('ngx.timer.at(0, function() error("timer boom") end) '
                        'ngx.sleep(0.05) ngx.say("ok")')),
]

def _timer_lines(text: str, port: int) -> list[tuple[str, bool, str]]:
    """The entries about timers and init_worker_by_lua."""
    return [e for e in log_entries(text, port) if "init_worker" in e[2] or "timer" in e[2]]


@requires_nginx
def test_timer_and_init_worker_log_lines(pair):
    for i, case in enumerate(LOG_CASES, start=len(CASES)):
        pair.both(request_for(i, case))
    time.sleep(0.2)
    real = _timer_lines(pair.real.error_log(), pair.port)
    ours = _timer_lines(pair.engine_errors(), pair.port)
    assert real and ours == real
