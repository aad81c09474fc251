"""Lua's error-log lines against real OpenResty, request by request: ngx.log and print
at every level (the function name ngx_lua puts after the position), the levels a
server-wide error_log lets through, " while logging request" in the log phase, and the
lines of failing handlers and filters with their stack tracebacks as ngx_lua prints them
(the ngx API functions as C frames, the handler's chunk as "main chunk")."""

from __future__ import annotations

import time


from tests.lua.cases import build_conf, log_entries, lua, request_for
from tests.oracle import requires_nginx

CASES = [
 ("values of every type", lua('ngx.log(ngx.ERR, "s", 1, 2.5, nil, true, false) ngx.say("ok")')),
 ("every level", lua('ngx.log(ngx.WARN, "w") ngx.log(ngx.NOTICE, "n") ngx.log(ngx.INFO, "i") '
                     'ngx.log(ngx.DEBUG, "d") ngx.log(ngx.CRIT, "c") ngx.log(ngx.ALERT, "a") '
                     'ngx.log(ngx.EMERG, "e") ngx.log(ngx.STDERR, "s") ngx.say("ok")')),
 ("print", lua('print("p", 1, nil) ngx.say("ok")')),
 ("in named functions", lua('local function f() ngx.log(ngx.ERR, "in f") end f() '
                            'local M = {} function M.go() ngx.log(ngx.ERR, "m") end M.go() '
                            'local t = {} function t:meth() ngx.log(ngx.ERR, "self") end t:meth() '
                            '(function() ngx.log(ngx.ERR, "anonymous") end)()')),
 ("in the log phase", 'log_by_lua_block { ngx.log(ngx.ERR, "in log") } return 200 "x\\n";'),
 ("error with a table", lua("error({code = 1})")),
 ("error with nothing", lua("error()")),
 ("runtime error in rewrite", "rewrite_by_lua_block { local x = nil; x.y = 1 } return 200;"),
 ("error in header filter", 'header_filter_by_lua_block { error("hf") } return 200 "x\\n";'),
 ("error in body filter", 'body_filter_by_lua_block { error("bf") } return 200 "x\\n";'),
 ("error in log", 'log_by_lua_block { error("lg") } return 200 "x\\n";'),
 ("error in set", 'set_by_lua_block $x { error("st") } return 200 "$x\\n";'),
 ("API refused in a filter", 'header_filter_by_lua_block { ngx.say("no") } return 200 "x\\n";'),
 ("sleep refused in a filter", 'header_filter_by_lua_block { ngx.sleep(1) } return 200 "x\\n";'),
 ("exec after output", lua('ngx.say("x") ngx.exec("/elsewhere")')),
 ("redirect after output", lua('ngx.say("x") ngx.redirect("/y")')),
 ("status after output", lua('ngx.say("x") ngx.status = 500')),
 ("header after output", lua('ngx.say("x") ngx.header["X-Late"] = 1')),
 ("exit 500 after output", lua('ngx.say("x") ngx.exit(500)')),
 ("capture of itself", lua('local r = ngx.location.capture(ngx.var.uri) ngx.print(r.status)')),
]

def _lines(text: str, port: int) -> list[tuple[str, str]]:
    """(level, message with its traceback) per entry, hang-ups left out."""
    return [(level, msg) for level, _, msg in log_entries(text, port)
            if "closed connection" not in msg]


def _conf() -> str:
    return build_conf(CASES, http_extra="error_log logs/error.log info;")


@requires_nginx
def test_error_log_lines_as_openresty_writes_them(pair):
    seen = {"real": 0, "ours": 0}
    differ = []
    for i, case in enumerate(CASES):
        pair.both(request_for(i, case))
        time.sleep(0.02)
        texts = {"real": pair.real.error_log(), "ours": pair.engine_errors()}
        got = {}
        for side, text in texts.items():
            got[side] = _lines(text[seen[side]:], pair.port)
            seen[side] = len(text)
        if got["ours"] != got["real"]:
            differ.append((case[0], got["real"], got["ours"]))
    assert not differ, "\n\n".join(f"{name}:\n real {r}\n ours {o}" for name, r, o in differ)
