"""Where a breakpoint may go, when it stops (conditions, hit counts), and how breakpoints
survive a reload."""

from __future__ import annotations

import pytest

from engine.lua.debugger import Command, Debugger

from .conftest import Recorder, Site, get


def loop_i(dbg: Recorder) -> list[str]:
    return [p[1] for p in dbg.probed]


async def test_condition_sees_locals(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: s.eval("i"))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("loop"), condition="i % 2 == 0")
    ex = await get(engine, "/loop")
    assert ex.response.text == "15\n"
    assert loop_i(dbg) == ["2", "4"]


async def test_condition_sees_upvalues(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: (s.eval("count"), s.upvalues()))
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("bump"), condition="count == 10 and by == 1")
    await get(engine, "/up")
    assert dbg.probed == [((True, "10"), [("count", "10")])]


async def test_condition_error_pauses_with_a_note(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder()
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("loop"), condition="nothing.here > 1",
                       hit_condition="1")
    await get(engine, "/loop")
    assert len(dbg.pauses) == 1
    assert "attempt to index global 'nothing'" in dbg.pauses[0].note


@pytest.mark.parametrize("hit, expected", [("3", ["3"]), ("==2", ["2"]), (">=4", ["4", "5"]),
                                           (">3", ["4", "5"]), ("%2", ["2", "4"])])
async def test_hit_counts(site: Site, hit: str, expected: list[str]) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: s.eval("i"))
    engine.debugger = dbg
    bp = dbg.add_breakpoint("nginx.conf", site.line("loop"), hit_condition=hit)
    await get(engine, "/loop")
    assert loop_i(dbg) == expected
    assert bp.hits == 5


async def test_hits_count_only_when_the_condition_holds(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder(probe=lambda s: s.eval("i"))
    engine.debugger = dbg
    bp = dbg.add_breakpoint("nginx.conf", site.line("loop"), condition="i > 2",
                            hit_condition="2")
    await get(engine, "/loop")
    assert loop_i(dbg) == ["4"]
    assert bp.hits == 3


async def test_a_line_calling_a_function_stops_once(site: Site) -> None:
    # LuaJIT reports the line again when m.double returns with the assignment left to do
    engine = site.engine()
    dbg = Recorder()
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_call"))
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    await get(engine, "/t")
    assert [p.frames[0].file_line for p in dbg.pauses] == [site.line("t_call"),
                                                           site.line("t_say")]


async def test_disabled_breakpoint_does_not_stop(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder()
    engine.debugger = dbg
    bp = dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    dbg.set_enabled(bp, False)
    await get(engine, "/t")
    assert dbg.pauses == []
    dbg.set_enabled(bp, True)
    await get(engine, "/t")
    assert len(dbg.pauses) == 1


def test_lines_without_code_are_refused(site: Site) -> None:
    engine = site.engine()
    dbg = Debugger()
    engine.debugger = dbg
    blank = site.line("t_a") + 1
    bp = dbg.add_breakpoint("nginx.conf", blank)
    assert not bp.verified
    assert bp.message == (f"no Lua code at nginx.conf:{blank} (line 4 of "
                          f"content_by_lua(nginx.conf:{site.line('t_a') - 2})); lines with "
                          f"code nearby: {blank - 1}, {blank + 1}")
    outside = dbg.add_breakpoint("nginx.conf", site.find("listen 8080;"))
    assert "is not inside a *_by_lua_block" in outside.message
    empty_mod = dbg.add_breakpoint("mod.lua", 2)
    assert empty_mod.message.startswith("no Lua code at mod.lua:2 (")
    missing = dbg.add_breakpoint("nope.lua", 1)
    assert missing.message.startswith('unknown file "nope.lua"')
    assert [b.verified for b in dbg.breakpoints] == [False] * 4


def test_bad_conditions_and_hit_counts_are_refused(site: Site) -> None:
    dbg = Debugger()
    dbg.attach(site.engine())
    with pytest.raises(ValueError, match="bad condition: eval:1: unexpected symbol"):
        dbg.add_breakpoint("nginx.conf", site.line("loop"), condition="i >")
    with pytest.raises(ValueError, match="bad hit condition"):
        dbg.add_breakpoint("nginx.conf", site.line("loop"), hit_condition="often")
    assert dbg.breakpoints == []


def test_files_by_path_forms(site: Site) -> None:
    dbg = Debugger()
    dbg.attach(site.engine())
    line = site.line("double_y", "mod.lua")
    for name in ("mod.lua", "lua/mod.lua", str(site.root / "lua" / "mod.lua")):
        bp = dbg.resolve_location(name, line)
        assert bp.verified, bp.message
        assert bp.source == "@" + str((site.root / "lua" / "mod.lua").resolve())
    conf_line = site.line("t_a")
    for name in ("nginx.conf", "conf/nginx.conf", str(site.conf)):
        assert dbg.resolve_location(name, conf_line).verified


async def test_breakpoints_survive_a_reload(site: Site) -> None:
    dbg = Recorder()
    engine = site.engine()
    engine.debugger = dbg
    first = dbg.add_breakpoint("nginx.conf", site.line("t_a"))
    second = dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    site.conf.write_text(site.conf.read_text().replace('ngx.say("a=", a, " b=", b)',
                                                       'ngx.say("now a=", a, " b=", b)'))
    new = site.engine()
    assert dbg.attach(new) == []
    assert first.verified and second.verified and dbg.engine is new
    assert engine.debugger is None
    await get(engine, "/t")  # the old engine is no longer debugged
    assert dbg.pauses == []
    ex = await get(new, "/t")
    assert ex.response.text == "now a=1 b=2\n"
    assert [p.frames[0].file_line for p in dbg.pauses] == [first.line, second.line]


async def test_reload_with_a_line_that_lost_its_code(site: Site) -> None:
    dbg = Recorder()
    engine = site.engine()
    engine.debugger = dbg
    bp = dbg.add_breakpoint("nginx.conf", site.line("t_a"))
    site.conf.write_text(site.conf.read_text().replace("local a = 1  -- @t_a",
                                                       "-- a comment now\n local a = 1"))
    new = site.engine()
    new.debugger = dbg
    assert not bp.verified and bp.message.startswith("no Lua code at")
    assert engine.debugger is None


async def test_run_to(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder([Command.run_to("nginx.conf", site.line("t_say"))])
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_a"))
    await get(engine, "/t")
    assert [(p.reason, p.frames[0].file_line) for p in dbg.pauses] == [
        ("breakpoint", site.line("t_a")), ("run_to", site.line("t_say"))]
    await get(engine, "/t")  # the target was one-shot
    assert len(dbg.pauses) == 3


async def test_run_to_a_line_without_code_continues(site: Site) -> None:
    engine = site.engine()
    dbg = Recorder([Command.run_to("nginx.conf", 1)])
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_a"))
    assert (await get(engine, "/t")).response.status == 200
    assert len(dbg.pauses) == 1
    assert "is not inside" in dbg.last_error
