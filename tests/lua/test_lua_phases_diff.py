"""The phases as ngx_lua runs them, on real OpenResty and on the engine: order and
interleaving with the rewrite/access modules, ngx.ctx across phases, exec/capture hops,
header and body filters, log_by_lua, set_by_lua, timers and light threads."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import build_conf, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]

CASES = [
    ("ctx across rewrite access content", """
        rewrite_by_lua_block { ngx.ctx.foo = 76 }
        access_by_lua_block { ngx.ctx.foo = ngx.ctx.foo + 3 }
        content_by_lua_block { ngx.say(ngx.ctx.foo) }"""),
    ("globals shared across phases of one request", """
        rewrite_by_lua_block { g_value = "from rewrite" }
        content_by_lua_block { ngx.say(g_value) }"""),
    ("rewrite module runs before rewrite_by_lua", """
        set $v "set-directive";
        rewrite_by_lua_block { ngx.var.v = ngx.var.v .. "+lua" }
        content_by_lua_block { ngx.say(ngx.var.v) }"""),
    ("deny runs before access_by_lua", """
        deny all;
        access_by_lua_block { ngx.log(ngx.ERR, "should not run") }
        content_by_lua_block { ngx.say("no") }"""),
    ("access_by_lua exit 403", """
        access_by_lua_block { ngx.exit(ngx.HTTP_FORBIDDEN) }
        content_by_lua_block { ngx.say("no") }"""),
    ("rewrite_by_lua exit 200 with output", """
        rewrite_by_lua_block { ngx.say("early") ngx.exit(200) }
        content_by_lua_block { ngx.say("late") }"""),
    ("access_by_lua exit OK goes on", """
        access_by_lua_block { ngx.exit(ngx.OK) }
        content_by_lua_block { ngx.say("content ran") }"""),
    ("rewrite_by_lua exec resets ctx", """
        rewrite_by_lua_block { ngx.ctx.x = 1 ngx.exec("/c{target}") }
        content_by_lua_block { ngx.say("no") }"""),
    ("exec target shows ctx", """
        content_by_lua_block { ngx.say("ctx.x=", tostring(ngx.ctx.x), " uri=", ngx.var.uri) }"""),
    ("rewrite last skips rewrite_by_lua", """
        rewrite ^ /c{target} last;
        rewrite_by_lua_block { ngx.log(ngx.ERR, "not reached") }"""),
    ("set_by_lua with args", """
        set_by_lua $sum 'return tonumber(ngx.arg[1]) + tonumber(ngx.arg[2])' 3 4;
        content_by_lua_block { ngx.say(ngx.var.sum) }"""),
    ("set_by_lua string form", """
        set_by_lua $r 'return "x" .. ngx.arg[1]' $arg_a;
        content_by_lua_block { ngx.say(ngx.var.r) }""", Req("GET", "?a=5")),
    ("set_by_lua ordered with set", """
        set $a 1;
        set_by_lua_block $b { return ngx.var.a .. "2" }
        set $c "${b}3";
        content_by_lua_block { ngx.say(ngx.var.c) }"""),
    ("set_by_lua error", """
        set_by_lua_block $x { error("in set") }
        content_by_lua_block { ngx.say("no") }"""),
    ("header_filter adds header", """
        header_filter_by_lua_block { ngx.header["X-Filter"] = "hf" }
        content_by_lua_block { ngx.say("body") }"""),
    ("header_filter sees status", """
        header_filter_by_lua_block { ngx.header["X-Status"] = ngx.status }
        content_by_lua_block { ngx.exit(404) }"""),
    ("header_filter with return directive", """
        header_filter_by_lua_block { ngx.header["X-HF"] = "1" }
        return 200 "from return\\n";"""),
    ("header_filter say is disabled", """
        header_filter_by_lua_block { ngx.say("x") }
        content_by_lua_block { ngx.say("body") }"""),
    ("body_filter uppercases", """
        body_filter_by_lua_block { ngx.arg[1] = string.upper(ngx.arg[1]) }
        content_by_lua_block { ngx.say("hello") ngx.say("world") }"""),
    ("body_filter on static return", """
        body_filter_by_lua_block { ngx.arg[1] = string.gsub(ngx.arg[1], "a", "b") }
        return 200 "banana\\n";"""),
    ("body_filter truncates with eof", """
        body_filter_by_lua_block { if ngx.arg[1] ~= "" then ngx.arg[1] = "only" ngx.arg[2] = true end }
        content_by_lua_block { ngx.say("one") ngx.flush() ngx.say("two") }"""),
    ("add_header and header_filter", """
        add_header X-Add a;
        header_filter_by_lua_block { ngx.header["X-Seen"] = tostring(ngx.header["X-Add"]) }
        content_by_lua_block { ngx.say("x") }"""),
    ("log_by_lua runs", """
        log_by_lua_block { ngx.log(ngx.ERR, "in log phase ", ngx.status) }
        content_by_lua_block { ngx.say("logged") }"""),
    ("log_by_lua cannot sleep", """
        log_by_lua_block { ngx.sleep(1) }
        content_by_lua_block { ngx.say("x") }"""),
    ("capture a sibling", """
        content_by_lua_block {
            local res = ngx.location.capture("/c{target}")
            ngx.say(res.status, " [", res.body, "]")
        }"""),
    ("capture with args and method", """
        content_by_lua_block {
            local res = ngx.location.capture("/c{echo}", { args = { a = 1 }, method = ngx.HTTP_POST, body = "B" })
            ngx.print(res.body)
        }"""),
    ("capture echo target", """
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_method(), " ", ngx.var.args, " ", tostring(ngx.req.get_body_data()), " sub=", tostring(ngx.is_subrequest))
        }"""),
    ("capture 404", """
        content_by_lua_block {
            local res = ngx.location.capture("/nowhere-at-all")
            ngx.say(res.status)
        }"""),
    ("capture_multi", """
        content_by_lua_block {
            local a, b = ngx.location.capture_multi({ { "/c{target}" }, { "/c{echo}", { args = "x=1" } } })
            ngx.say(a.status, " ", b.status)
            ngx.print(b.body)
        }"""),
    ("capture with ctx", """
        content_by_lua_block {
            local ctx = {}
            ngx.location.capture("/c{setctx}", { ctx = ctx })
            ngx.say(ctx.from_sub)
        }"""),
    ("capture target sets ctx", """
        content_by_lua_block { ngx.ctx.from_sub = "yes" ngx.say("sub") }"""),
    ("capture headers", """
        content_by_lua_block {
            local res = ngx.location.capture("/c{hdrs}")
            ngx.say(res.header["X-Sub"], " ", res.header["Content-Type"])
        }"""),
    ("capture target with header", """
        content_by_lua_block { ngx.header["X-Sub"] = "s" ngx.header.content_type = "text/x" ngx.say("h") }"""),
    ("capture vars", """
        content_by_lua_block {
            local res = ngx.location.capture("/c{showvar}", { vars = { dog = "hi" } })
            ngx.print(res.body)
        }"""),
    ("capture vars target", """
        set $dog "";
        content_by_lua_block { ngx.say("dog=", ngx.var.dog) }"""),
    ("timer runs after response", """
        content_by_lua_block {
            local ok, err = ngx.timer.at(0, function(premature) ngx.log(ngx.ERR, "timer fired ", tostring(premature)) end)
            ngx.say(ok, " ", tostring(err))
        }"""),
    ("timer bad callback", """
        content_by_lua_block { ngx.timer.at(0, "nope") }"""),
    ("timer counts", """
        content_by_lua_block {
            ngx.timer.at(10, function() end)
            ngx.say(ngx.timer.pending_count() >= 1)
        }"""),
    ("light threads", """
        content_by_lua_block {
            local t1 = ngx.thread.spawn(function() ngx.sleep(0.01) return "a" end)
            local t2 = ngx.thread.spawn(function() return "b" end)
            local ok1, v1 = ngx.thread.wait(t1)
            local ok2, v2 = ngx.thread.wait(t2)
            ngx.say(ok1, v1, ok2, v2)
        }"""),
    ("sleep then say", """
        content_by_lua_block { ngx.sleep(0.01) ngx.say("after sleep") }"""),
    ("eof then sleep", """
        content_by_lua_block { ngx.say("fast") ngx.eof() ngx.sleep(0.01) }"""),
    ("rewrite_by_lua in server inherited", """
        content_by_lua_block { ngx.say("server rewrite value: ", tostring(ngx.ctx.srv)) }"""),
    ("error_page after lua exit", """
        error_page 404 /c{target};
        content_by_lua_block { ngx.exit(404) }"""),
    ("on_abort registers", """
        content_by_lua_block { local ok, err = ngx.on_abort(function() end) ngx.say(tostring(ok), " ", tostring(err)) }"""),
    ("var in log phase", """
        log_by_lua_block { ngx.log(ngx.ERR, "status=", ngx.var.status, " sent=", ngx.var.body_bytes_sent) }
        content_by_lua_block { ngx.say("12345") }"""),
    ("api disabled: sleep in header filter", """
        header_filter_by_lua_block { ngx.sleep(0) }
        content_by_lua_block { ngx.say("x") }"""),
    ("exec to named location", """
        content_by_lua_block { ngx.ctx.k = 1 ngx.exec("@named") }"""),
]

NAMED = """        location @named { content_by_lua_block { ngx.say("named, ctx.k=", tostring(ngx.ctx.k)) } }
        rewrite_by_lua_block { ngx.ctx.srv = "s" }"""


def _index(name: str) -> int:
    return [c[0] for c in CASES].index(name)


TARGETS = {
    "target": _index("exec target shows ctx"),
    "echo": _index("capture echo target"),
    "setctx": _index("capture target sets ctx"),
    "hdrs": _index("capture target with header"),
    "showvar": _index("capture vars target"),
}
CASES = [(c[0], c[1].replace("{", "{{").replace("}", "}}")
          .replace("{{target}}", "{target}").replace("{{echo}}", "{echo}")
          .replace("{{setctx}}", "{setctx}").replace("{{hdrs}}", "{hdrs}")
          .replace("{{showvar}}", "{showvar}").format(**TARGETS)) + tuple(c[2:])
         for c in CASES]


def _conf() -> str:
    return build_conf(CASES, server_extra=NAMED)



@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    req = request_for(index, CASES[index])
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
