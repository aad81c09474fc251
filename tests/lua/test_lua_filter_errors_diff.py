"""A Lua filter or handler that fails, against real OpenResty: what the output calls of
the content handler return afterwards, how often the failing body filter runs, and the
error-log line of an error that is not a string.

When a Lua header or body filter fails, the output call that sent the data through it
(``ngx.say``, ``ngx.print``, ``ngx.flush``, ``ngx.eof``) returns nil and "nginx output
filter error"; the handler goes on, and each later output meets the filter again. Output
held for HTTP/1.0 goes through the filters once, at the end, and no last buffer follows
it when that fails. ngx_lua's traceback handler leaves an error value that is not a
string alone: the line says "unknown reason" with no traceback.
"""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.lua.cases import assert_case_as_openresty, build_conf, lua, mark_logs
from tests.oracle import requires_nginx

#: Logs what each output call returned.
_OUTPUT = ('local ok, err = ngx.say("x") ngx.log(ngx.ERR, "say:", tostring(ok), " ", tostring(err))\n'
           'ok, err = ngx.say("y") ngx.log(ngx.ERR, "say2:", tostring(ok), " ", tostring(err))\n'
           'ok, err = ngx.flush() ngx.log(ngx.ERR, "flush:", tostring(ok), " ", tostring(err))')
_EOF = 'local ok, err = ngx.eof() ngx.log(ngx.ERR, "eof:", tostring(ok), " ", tostring(err))'
_BODY_FAILS = ('body_filter_by_lua_block { ngx.log(ngx.ERR, "bf:", tostring(ngx.arg[1]), '
               'tostring(ngx.arg[2])) error("boom") }')
_HEADER_FAILS = 'header_filter_by_lua_block { error("boom") }'
HTTP10 = Req("GET", "/", [], version="HTTP/1.0")

CASES = [
    ("body filter fails: output calls", lua(_OUTPUT, _BODY_FAILS)),
    ("body filter fails: output held for HTTP/1.0", lua(_OUTPUT, _BODY_FAILS), HTTP10),
    ("body filter fails: eof after output", lua('ngx.print("a") ' + _EOF, _BODY_FAILS)),
    ("body filter fails: eof alone", lua(_EOF, _BODY_FAILS)),
    ("header filter fails: eof", lua(_EOF, _HEADER_FAILS)),
    ("header filter fails: eof, HTTP/1.0", lua(_EOF, _HEADER_FAILS), HTTP10),
    ("header filter fails: say", lua('local ok, err = ngx.say("x") '
                                     'ngx.log(ngx.ERR, "say:", tostring(ok), " ", tostring(err))',
                                     _HEADER_FAILS)),
    *[(f"{where} raises {value}", body.replace("VALUE", value)) for value in ("{}", "nil", "true")
      for where, body in [
          ("header filter", lua('ngx.say("x")', "header_filter_by_lua_block { error(VALUE) }")),
          ("body filter", lua('ngx.say("x")', "body_filter_by_lua_block { error(VALUE) }")),
          ("log handler", lua('ngx.say("x")', "log_by_lua_block { error(VALUE) }")),
          ("set_by_lua", 'set_by_lua_block $a { error(VALUE) }\nreturn 200 "a=$a\\n";'),
      ]],
    # coroutine.yield() outside a coroutine: LuaJIT refuses it in the output filters,
    # ngx_lua elsewhere (pcall catches either)
    *[(f"{where} yields", body) for where, body in [
        ("header filter", lua('ngx.say("x")', "header_filter_by_lua_block { coroutine.yield() }")),
        ("body filter", lua('ngx.say("x")', "body_filter_by_lua_block { coroutine.yield(1) }")),
        ("log handler", lua('ngx.say("x")', "log_by_lua_block { coroutine.yield() }")),
        ("set_by_lua", 'set_by_lua_block $a { coroutine.yield() return "v" }\nreturn 200 "a=$a\\n";'),
        ("header filter, under pcall", lua('ngx.say("x")', 'header_filter_by_lua_block { '
                                           'ngx.log(ngx.ERR, "pcall: ", select(2, pcall(coroutine.yield))) }')),
        ("log handler, under pcall", lua('ngx.say("x")', 'log_by_lua_block { '
                                         'ngx.log(ngx.ERR, "pcall: ", select(2, pcall(coroutine.yield))) }')),
        ("header filter, in its own coroutine", lua('ngx.say("x")', 'header_filter_by_lua_block { '
            'local co = coroutine.wrap(function() coroutine.yield(5) return 6 end) '
            'ngx.log(ngx.ERR, "wrap: ", co(), co()) }')),
    ]],
    # a number is a string to Lua's traceback handler: the traceback follows
    ("header filter raises 42", lua('ngx.say("x")', "header_filter_by_lua_block { error(42) }")),
    ("balancer raises {}", "proxy_pass http://lua_balanced;"),
]


def _conf() -> str:
    return build_conf(CASES, http_extra="""
    error_log logs/error.log info;
    upstream lua_balanced {
        server 127.0.0.1:1;
        balancer_by_lua_block { error({}) }
    }""")


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    mark_logs(pair)
    assert_case_as_openresty(pair, CASES, index)
