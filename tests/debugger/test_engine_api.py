"""The debugger through the Engine API: arming costs nothing until a breakpoint exists,
and a breakpoint stops every kind of Lua code (each phase, files, modules, subrequests,
timers) with the request, phase and chunk it belongs to."""

from __future__ import annotations

import pytest

from engine.lua.debugger import Debugger

from .conftest import Recorder, Site, get, settle


def hook_of(engine) -> tuple:
    """(hook set?, hook mask, JIT on?) of worker 0's VM."""
    lua = engine.http.services["lua"].workers[0].lua
    return tuple(lua.execute(b"local f, mask = debug.gethook() "
                             b"return f ~= nil, mask, (jit.status())"))


async def test_no_hook_and_jit_untouched_without_breakpoints(site: Site) -> None:
    engine = site.engine(lua_watchdog=0, lua_memory_mb=0)
    assert hook_of(engine) == (False, b"", True)
    dbg = Recorder(break_on_error=True)
    engine.debugger = dbg
    assert (await get(engine, "/t")).response.text == "a=1 b=2\n"
    assert hook_of(engine) == (False, b"", True)
    bp = dbg.add_breakpoint("nginx.conf", site.line("loop"))
    assert bp.verified
    assert hook_of(engine)[2] is False  # JIT off while a breakpoint is armed
    await get(engine, "/t")
    assert hook_of(engine)[:2] == (True, b"rl")
    dbg.remove_breakpoint(bp)
    assert hook_of(engine) == (False, b"", True)
    await get(engine, "/t")
    assert hook_of(engine) == (False, b"", True)
    assert dbg.pauses == []


async def test_watchdog_hook_kept_and_restored(site: Site) -> None:
    engine = site.engine()  # the default watchdog: a count hook, JIT already off
    await get(engine, "/t")
    assert hook_of(engine) == (True, b"", False)
    dbg = Recorder()
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    await get(engine, "/t")
    assert len(dbg.pauses) == 1
    dbg.clear()
    assert hook_of(engine) == (True, b"", False)  # the watchdog's own hook is back


@pytest.mark.parametrize("phase", ["set", "rewrite", "access", "content", "header_filter",
                                   "body_filter", "log"])
async def test_breakpoint_in_every_phase(site: Site, phase: str) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.phase, s.method, s.uri, s.var("uri")))
    engine.debugger = dbg
    line = site.line(phase)
    assert dbg.add_breakpoint("nginx.conf", line).verified
    ex = await get(engine, "/phases")
    assert ex.response.text == "hello set\n"
    assert ex.response.header("X-Filtered") == "yes"
    hits = 2 if phase == "body_filter" else 1  # the body, then the last (empty) buffer
    assert len(dbg.pauses) == hits
    pause = dbg.pauses[0]
    context = "set" if phase == "set" else phase
    assert dbg.probed[0] == (context, "GET", "/phases", "/phases")
    assert pause.where.startswith(f"paused at nginx.conf:{line} in {phase}_by_lua(nginx.conf:")
    assert pause.where.endswith(" GET /phases")
    assert pause.frames[0].file_line == line


async def test_pause_shows_ctx_and_variables(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.ctx(), s.var("$from_set"), s.var("no_such_var")))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("access"))
    await get(engine, "/phases")
    ctx, from_set, missing = dbg.probed[0]
    assert ctx == [("seen", '{[1] = "rewrite"}')]
    assert from_set == "set"
    assert missing is None


async def test_required_module_and_file_handler(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: [f.where for f in s.frames])
    engine.debugger = dbg
    assert dbg.add_breakpoint("mod.lua", site.line("double_y", "mod.lua")).verified
    assert dbg.add_breakpoint("lua/handler.lua", site.line("file", "handler.lua")).verified
    await get(engine, "/t")
    await get(engine, "/file")
    assert dbg.probed == [[f"lua/mod.lua:{site.line('double_y', 'mod.lua')}",
                           f"nginx.conf:{site.line('t_call')}"],
                          [f"lua/handler.lua:{site.line('file', 'handler.lua')}"]]
    assert dbg.pauses[1].chunk == str(site.root / "lua" / "handler.lua")


async def test_subrequest(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.is_subrequest, s.eval("x")))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("sub"))
    ex = await get(engine, "/cap")
    assert ex.response.text == "sub said 1\n"
    assert dbg.probed == [(True, (True, "nil"))]  # x is not assigned yet on its own line
    assert dbg.pauses[0].where.endswith("GET /sub (subrequest of GET /cap)")


async def test_timer_callback(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.is_timer, s.phase, s.eval("v"), s.eval("premature")))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("timer"))
    await engine.start()
    assert (await get(engine, "/timer")).response.text == "scheduled\n"
    await settle(engine)
    await engine.stop()
    assert dbg.probed == [(True, "timer", (True, "42"), (True, "false"))]
    assert " in content_by_lua(nginx.conf:" in dbg.pauses[0].where
    assert dbg.pauses[0].where.endswith(" ngx.timer")


async def test_code_cache_off_arms_new_vms(site: Site) -> None:
    text = site.conf.read_text().replace("    server {", "    lua_code_cache off;\n    server {", 1)
    site.conf.write_text(text)
    engine = site.engine()
    dbg = Recorder()
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    await get(engine, "/t")
    await get(engine, "/t")
    assert len(dbg.pauses) == 2


async def test_detach_disarms(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder()
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    engine.debugger = None
    assert engine.debugger is None
    await get(engine, "/t")
    assert dbg.pauses == []


async def test_a_failing_on_pause_does_not_fail_the_request(site: Site) -> None:
    engine = site.engine()

    def boom(state):
        raise RuntimeError("ui crashed")

    dbg = Debugger(boom)
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    ex = await get(engine, "/t")
    assert ex.response.text == "a=1 b=2\n"
    assert "ui crashed" in dbg.last_error


async def test_light_thread_and_init_worker(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.phase, s.locals()))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("init_worker"))
    dbg.add_breakpoint("nginx.conf", site.line("thread"))
    await engine.start()
    assert (await get(engine, "/spawn")).response.text == "42\n"
    await engine.stop()
    assert dbg.pauses[0].where.startswith(
        f"paused at nginx.conf:{site.line('init_worker')} in init_worker_by_lua(nginx.conf:")
    assert dbg.pauses[0].where.endswith("(no request)")
    assert dbg.probed[0] == ("init_worker", [])
    assert dbg.probed[1] == ("content", [("n", "21")])
    assert dbg.pauses[1].where.endswith(" GET /spawn")
