"""ThreadedDebugger: the engine in a worker thread, a "UI" in this one, talking through
the pauses callback and the commands queue; evaluations run on the paused thread."""

from __future__ import annotations

import asyncio
import queue
import threading

from engine.lua.debugger import Command, NotPaused, PauseInfo
from engine.lua.debugger_threads import ThreadedDebugger

from .conftest import Site, get


def test_ui_thread_drives_a_pause(site: Site) -> None:
    engine = site.engine()
    infos: queue.Queue[PauseInfo] = queue.Queue()
    dbg = ThreadedDebugger(infos.put)
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_call"))
    result: dict = {}

    def serve() -> None:
        result["exchange"] = asyncio.run(get(engine, "/t"))

    worker = threading.Thread(target=serve)
    worker.start()
    info = infos.get(timeout=10)
    assert info.where.startswith(f"paused at nginx.conf:{site.line('t_call')} ")
    assert dict(info.locals)["a"] == "1"
    assert worker.is_alive()  # the engine waits for the UI
    assert dbg.evaluate("a * 10").result(timeout=10) == (True, "10")
    assert dbg.evaluate("a = 5").result(timeout=10) == (True, "")
    frames = dbg.submit(lambda state: [f.function for f in state.frames]).result(timeout=10)
    assert frames == ["main chunk"]
    failing = dbg.submit(lambda state: state.eval("x", frame=7))
    assert isinstance(failing.exception(timeout=10), IndexError)
    dbg.resume(Command.step_in())
    info = infos.get(timeout=10)
    assert info.frames[0].function == "double"
    dbg.resume()
    worker.join(timeout=10)
    assert result["exchange"].response.text == "a=5 b=10\n"


def test_pause_state_refuses_other_threads_and_late_use(site: Site) -> None:
    engine = site.engine()
    kept: list = []
    dbg = ThreadedDebugger(lambda info: None)
    engine.debugger = dbg
    dbg.add_breakpoint("nginx.conf", site.line("t_say"))
    seen: queue.Queue = queue.Queue()

    def grab(state):
        kept.append(state)
        try:
            threading.Thread(target=lambda: seen.put(_try(state.locals))).start()
        finally:
            return None

    dbg.submit(grab)
    dbg.resume()
    asyncio.run(get(engine, "/t"))
    assert isinstance(seen.get(timeout=10), NotPaused)  # from another thread
    assert isinstance(_try(kept[0].locals), NotPaused)  # after the pause


def _try(fn):
    try:
        return fn()
    except Exception as exc:
        return exc
