"""Stepping over, into and out of functions; evaluating and assigning in a paused frame;
breaking on errors; paused time hidden from the watchdog and the event loop."""

from __future__ import annotations

import asyncio
import time

from engine.lua.debugger import Command

from .conftest import Recorder, Site, get

over, into, out = Command.step_over(), Command.step_in(), Command.step_out()


def wheres(dbg: Recorder) -> list[str]:
    return [p.frames[0].where for p in dbg.pauses]


async def test_step_over_stays_in_the_function(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder([over, over, over])
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_a"))
    ex = await get(engine, "/t")
    assert ex.response.text == "a=1 b=2\n"
    end = site.line("t_say") + 1  # the handler returns at its closing line
    assert wheres(dbg) == [f"nginx.conf:{n}" for n in
                           (site.line("t_a"), site.line("t_call"), site.line("t_say"), end)]
    assert all(p.reason == "step" for p in dbg.pauses[1:])


async def test_step_into_and_out_of_a_module_function(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder([into, over, out], probe=lambda s: [f.function for f in s.frames])
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_call"))
    await get(engine, "/t")
    assert wheres(dbg) == [f"nginx.conf:{site.line('t_call')}",
                           f"lua/mod.lua:{site.line('double_y', 'mod.lua')}",
                           f"lua/mod.lua:{site.line('double_ret', 'mod.lua')}",
                           f"nginx.conf:{site.line('t_say')}"]  # back in the caller
    assert dbg.probed[1] == ["double", "main chunk"]


async def test_step_into_library_code_is_stepped_over(site: Site) -> None:
    # ngx.say is Lua inside the engine: stepping into it lands on the next user line
    engine = site.engine()
    dbg = Recorder([into])
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("content"))
    await get(engine, "/phases")
    assert wheres(dbg)[1] == f"nginx.conf:{site.line('content') + 1}"


async def test_step_over_a_loop_line(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder([over, over, over], probe=lambda s: s.eval("i")[1])
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("loop"), hit_condition="1")
    await get(engine, "/loop")
    loop = site.line("loop")
    assert wheres(dbg) == [f"nginx.conf:{n}" for n in (loop, loop - 1, loop, loop - 1)]
    assert dbg.probed == ["1", "nil", "2", "nil"]  # the loop's "i" is out of scope on "for"


async def test_stepping_ends_with_the_handler(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder([over] * 10)
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    await get(engine, "/t")
    await get(engine, "/loop")  # no stop left over in another request
    assert len(dbg.pauses) == 2  # t_say, then the handler's closing line


async def test_eval_and_assign_locals_upvalues_and_globals(site: Site) -> None:
    engine = site.engine()

    def probe(state):
        return [state.eval("a = 41"), state.eval("a + 1"), state.eval("m.double(a)"),
                state.eval("new_global = 'g'"), state.eval("new_global"),
                state.eval("ngx.var.request_method, ngx.ctx"), state.eval("a.b.c"),
                state.eval("1 +"), state.locals(), state.eval("a = = 1")]

    dbg = Recorder(probe=probe)
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_call"))
    ex = await get(engine, "/t")
    assert ex.response.text == "a=41 b=82\n"
    assert dbg.probed[0][:6] == [(True, ""), (True, "42"), (True, "82"), (True, ""),
                                 (True, '"g"'), (True, '"GET", {}')]
    assert dbg.probed[0][6] == (False, "eval:1: attempt to index local 'a' (a number value)") \
        or dbg.probed[0][6][0] is False
    assert dbg.probed[0][7] == (False, "eval:1: unexpected symbol near '<eof>'")
    assert dbg.probed[0][9] == (False, "eval:1: unexpected symbol near '='")
    assert [(n, v) for n, v in dbg.probed[0][8] if n != "m"] == [("a", "41")]


async def test_assign_an_upvalue(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: s.eval("count = 100"))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("bump"))
    assert (await get(engine, "/up")).response.text == "101\n"


async def test_frames_evaluate_in_the_caller(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.eval("x", 0), s.eval("a", 1), s.locals(1)[-1]))
    engine.debugger = dbg
    dbg.add_breakpoint("mod.lua", site.line("double_y", "mod.lua"))
    await get(engine, "/t")
    assert dbg.probed == [((True, "1"), (True, "1"), ("a", "1"))]


async def test_break_on_error(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.eval("where"), s.request.header_sent), break_on_error=True)
    engine.debugger = dbg
    ex = await get(engine, "/err")
    assert ex.response.status == 500
    (pause,) = dbg.pauses
    assert pause.reason == "error"
    assert pause.error.endswith("attempt to index local 't' (a nil value)")
    assert pause.frames[0].where == f"nginx.conf:{site.line('err')}"
    assert pause.where.startswith(f"paused on error at nginx.conf:{site.line('err')} in "
                                  "content_by_lua(")
    assert dbg.probed == [((True, '"before"'), False)]  # before the 500 went out


async def test_errors_caught_by_pcall_do_not_stop(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(break_on_error=True)
    engine.debugger = dbg
    assert (await get(engine, "/caught")).response.text == "false\n"
    assert dbg.pauses == []


async def test_break_on_error_in_a_module(site: Site) -> None:
    (site.root / "lua" / "mod.lua").write_text("return { double = function(x) return x .. {} end }\n")
    engine = site.engine()
    dbg = Recorder(break_on_error=True)
    engine.debugger = dbg
    await get(engine, "/t")
    assert [f.where for f in dbg.pauses[0].frames] == [
        "lua/mod.lua:1", f"nginx.conf:{site.line('t_call')}"]


async def test_pause_does_not_trip_the_watchdog(site: Site) -> None:
    engine = site.engine(lua_watchdog=0.2)

    def burn(state):
        t0 = time.process_time()
        while time.process_time() - t0 < 0.4:  # a UI using CPU while the handler waits
            pass

    dbg = Recorder(probe=burn)
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_call"))
    ex = await get(engine, "/t")
    assert ex.response.text == "a=1 b=2\n"
    assert not [r for r in ex.logs if "watchdog" in r.message]


async def test_paused_time_is_hidden_from_loop_timers(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: time.sleep(0.3))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_call"))
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    handle = loop.call_later(0.2, lambda: fired.append(loop.time()))
    before = handle.when()
    await get(engine, "/t")
    assert handle.when() >= before + 0.3
    assert fired == []
    handle.cancel()


async def test_watchdog_still_stops_a_runaway_loop_while_armed(site: Site) -> None:
    text = site.conf.read_text().replace(
        "location /caught {", "location /spin { content_by_lua_block { while true do end } }\n"
        "        location /caught {")
    site.conf.write_text(text)
    engine = site.engine(lua_watchdog=0.2)
    dbg = Recorder()
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    ex = await get(engine, "/spin")
    assert ex.response.status == 500
    assert any("ngx-explore watchdog" in r.message for r in ex.logs)
