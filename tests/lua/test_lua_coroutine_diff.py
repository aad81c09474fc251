"""User coroutines against real OpenResty: ngx_lua's coroutine.* let a coroutine call
the ngx APIs that wait (ngx.sleep, captures...) while its own yields still go back to its
resumer; an error in a coroutine.wrap function ends the whole entry thread."""

from __future__ import annotations

import pytest

from tests.lua.cases import build_conf, lua, point, request_for
from tests.oracle import requires_nginx

CASES = [
 ("sleep inside", lua('local co = coroutine.create(function() ngx.sleep(0.01) return "slept" end) '
                      'ngx.say(coroutine.resume(co))')),
 ("own yields and sleeps", lua(
     'local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) ngx.sleep(0.001) '
     'local c = coroutine.yield(b * 2) return c .. "!" end) '
     'ngx.say(select(2, coroutine.resume(co, 1))) ngx.say(select(2, coroutine.resume(co, 5))) '
     'ngx.say(select(2, coroutine.resume(co, "end"))) ngx.say(coroutine.status(co)) '
     'ngx.say(coroutine.resume(co))')),
 ("generator that sleeps", lua('local gen = coroutine.wrap(function() for i = 1, 3 do '
                               'ngx.sleep(0.001) coroutine.yield(i) end end) '
                               'ngx.say(gen(), gen(), gen())')),
 ("capture inside", lua('local co = coroutine.wrap(function() '
                        'return ngx.location.capture("/target").body end) ngx.print(co())')),
 ("target", 'return 200 "captured\\n";'),
 ("nested", lua('local outer = coroutine.wrap(function() local inner = coroutine.wrap(function() '
                'ngx.sleep(0.001) coroutine.yield("in") end) coroutine.yield(inner()) '
                'ngx.sleep(0.001) coroutine.yield("out") end) ngx.say(outer(), outer())')),
 ("error after sleep", lua('local co = coroutine.create(function() ngx.sleep(0.001) error("cerr") end) '
                           'local ok, e = coroutine.resume(co) ngx.say(tostring(ok), " ", e)')),
 ("resume dead", lua('local co = coroutine.create(function() end) coroutine.resume(co) '
                     'ngx.say(coroutine.resume(co))')),
 ("yield in the entry thread", lua('local ok, e = pcall(coroutine.yield, 1) '
                                   'ngx.say("after ", tostring(ok), " ", tostring(e))')),
 # what the entry thread or a light thread yields is dropped (and it gets nothing back)
 ("yield values in the entry thread", lua('ngx.say("a") local r = {coroutine.yield("exit", 200)} '
                                          'ngx.say("b ", #r) coroutine.yield("sleep", 1) '
                                          'coroutine.yield("foo") ngx.say("c")')),
 ("yield values in a light thread", lua('ngx.thread.spawn(function() ngx.say("t1") '
                                        'coroutine.yield("exit", 1) ngx.say("t2") end) '
                                        'ngx.say("m") coroutine.yield("bar") ngx.say("m2")')),
 ("running", lua('local co = coroutine.create(function() return coroutine.running() end) '
                 'local ok, c = coroutine.resume(co) ngx.say(c == co, " ", type(coroutine.running()))')),
 ("output and flush inside", lua('local co = coroutine.wrap(function() ngx.say("from co") ngx.flush() '
                                 'ngx.say("after flush") end) co() ngx.say("main")')),
 ("exit inside", lua('local co = coroutine.wrap(function() ngx.say("x") ngx.exit(200) end) co() '
                     'ngx.say("not reached")')),
 ("the table's names", lua('local ks = {} for k in pairs(coroutine) do ks[#ks+1] = k end '
                           'table.sort(ks) ngx.say(table.concat(ks, ","))')),
 ("wrap error under pcall", lua('local f = coroutine.wrap(function() error("werr") end) '
                                'local ok, e = pcall(f) ngx.say(tostring(ok), " ", e)')),
 ("wrap error after sleep", lua('local f = coroutine.wrap(function() ngx.sleep(0.001) error("late") end) '
                                'pcall(f) ngx.say("not reached")')),
 ("wrap of a dead coroutine", lua('local f = coroutine.wrap(function() end) f() '
                                  'local ok, e = pcall(f) ngx.say(tostring(ok), " ", tostring(e))')),
 ("bad arguments", lua('local a = select(2, pcall(coroutine.resume, 1)) '
                       'local b = select(2, pcall(coroutine.create, 1)) '
                       'local c = select(2, pcall(coroutine.wrap, 1)) '
                       'local d = select(2, pcall(coroutine.status, 1)) ngx.say(a, "|", b, "|", c, "|", d)')),
 ("C functions refused", lua('ngx.say(select(2, pcall(coroutine.create, print))) '
                             'ngx.say(select(2, pcall(coroutine.wrap, ngx.say)))')),
 ("bad arguments named as called", lua(
     'ngx.say(select(2, pcall(function() local c = coroutine.create(print) return 1 end))) '
     'ngx.say(select(2, pcall(function() local c = coroutine.resume(1) return 1 end))) '
     'ngx.say(select(2, pcall(function() local c = coroutine.wrap(1) return 1 end)))')),
]

CASES = point(CASES, {"/target": "target"})


def _conf() -> str:
    return build_conf(CASES)


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    assert ours.comparable() == real.comparable()
