"""ngx.thread.spawn / wait / kill: light threads inside one request.

A spawned thread runs at once until it first yields, then goes on as its own asyncio
task; ``wait`` returns the first of the given threads to finish (``true, values...`` or
``false, err``). The entry thread's phase ends only when its light threads have finished,
unless it exits first, which aborts them — as ngx_lua schedules them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .thread import Driver

if TYPE_CHECKING:
    from .runtime import LuaRequest
    from .service import LuaService


class LightThread:
    def __init__(self, co: Any) -> None:
        self.co = co  # the coroutine's number in runtime.lua
        self.task: asyncio.Task[Any] | None = None
        self.result: tuple[Any, ...] | None = None
        self.waited = False


def _find(lr: LuaRequest, co: int) -> LightThread | None:
    for t in lr.threads:
        if t.co == co:
            return t
    return None


async def spawn(service: LuaService, lr: LuaRequest, co: Any, args: Any) -> Any:
    thread = LightThread(co)
    lr.threads.append(thread)
    n = int(args[b"n"] or 0)
    values = [args[i] for i in range(1, n + 1)]

    async def body() -> tuple[Any, ...]:
        outcome = await Driver(service, lr).run(co, *values)
        if outcome.kind == "error":
            lr.r.log("error", f"lua user thread aborted: runtime error: {outcome.message}")
            if outcome.values:  # error(v): v, then the message (what the thread's stack holds)
                return (False, outcome.values[0], outcome.message.encode())
            return (False, outcome.message.encode())
        if outcome.kind != "done":
            return (False, f"thread exited with {outcome.kind}".encode())
        return (True, *outcome.values)

    thread.task = asyncio.ensure_future(body())
    await asyncio.sleep(0)  # let it run up to its first yield
    return co


async def wait(service: LuaService, lr: LuaRequest, threads: Any) -> tuple[Any, ...]:
    n = int(threads[b"n"] or 0)
    wanted = [_find(lr, threads[i]) for i in range(1, n + 1)]
    tasks = [t.task for t in wanted if t is not None and t.task is not None]
    if not tasks:
        return (None, b"already waited or killed")
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in wanted:
        if t is not None and t.task in done:
            lr.threads.remove(t)
            return t.task.result()
    return (None, b"no thread finished")


def kill(lr: LuaRequest, co: Any) -> Any:
    t = _find(lr, co)
    if t is None:
        return (None, b"already waited or killed")
    if t.task is not None:
        t.task.cancel()
    lr.threads.remove(t)
    return (1,)


async def join_all(lr: LuaRequest) -> None:
    tasks = [t.task for t in lr.threads if t.task is not None]
    lr.threads.clear()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


def abort_all(lr: LuaRequest) -> None:
    for t in lr.threads:
        if t.task is not None:
            t.task.cancel()
    lr.threads.clear()
