"""ngx.thread.spawn / wait / kill: light threads inside one request.

A spawned thread runs at once until it first yields, then goes on as its own asyncio
task. As in ngx_lua (ngx_http_lua_uthread.c) a thread is running, a zombie (finished,
its results kept until its parent waits for it or kills it) or dead (waited or
killed); only its parent may wait for it or kill it. The entry thread's phase ends only
when its light threads have finished, unless it exits first, which aborts them; a light
thread that calls ngx.exit (or ngx.exec...) ends the whole request the same way
(thread.py's ``thread_exits``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .thread import Driver, Outcome, end_request, thread_exits
from .traceback import ngx_traceback

if TYPE_CHECKING:
    from .runtime import LuaRequest
    from .service import LuaService

#: What core.lua's thread.wait raises instead of returning (see WAIT_ERROR there).
_WAIT_ERROR = b"\0wait error"
_ENDING = ("exit", "exec", "redirect", "jump")


class LightThread:
    def __init__(self, co: int, parent: int) -> None:
        self.co = co  # the coroutine's number in runtime.lua
        self.parent = parent  # the number of the coroutine that spawned it
        self.status = "running"  # then "zombie" (finished, not waited) or "dead"
        self.task: asyncio.Task[tuple[Any, ...]] | None = None


def _find(lr: LuaRequest, co: int) -> LightThread | None:
    for t in lr.threads:
        if t.co == co:
            return t
    return None


def _error_values(outcome: Outcome) -> tuple[Any, ...]:
    """What wait returns for a thread that failed: what its dead stack holds. error(v)
    with a string or number v and a level leaves v and the message; error(v) otherwise
    v alone; a runtime error nothing."""
    if outcome.values:
        return (False, outcome.values[0], outcome.raw)
    frames = outcome.traceback.split("\n")
    if len(frames) > 1 and frames[1] == "\t[C]: in function 'error'":
        return (False, outcome.raw)
    return (False,)


def _error_log(lr: LuaRequest, co: int, outcome: Outcome) -> str:
    """``lua user thread aborted: ...`` with the thread's traceback (coroutine 0) and
    those of its parent chain (coroutine 1, 2...), as ngx_lua logs it."""
    lines = [f"lua user thread aborted: runtime error: {outcome.message}"]
    tb = ngx_traceback(outcome.traceback, main=False)
    if tb:
        lines.append(tb)
        parents = list(lr.worker.rt[b"uthread_parents"](co).values())
        in_timer = getattr(lr.r, "phase_name", "") == "timer"
        for i, ptb in enumerate(parents, 1):
            root = i == len(parents) and not in_timer
            text = ngx_traceback(ptb.decode("utf-8", "surrogateescape"), main=root,
                                 coroutine=False)
            frames = text.split("\n")[1:]
            if frames:
                lines.append(f"coroutine {i}:\n" + "\n".join(frames))
    return "\n".join(lines)


async def spawn(service: LuaService, lr: LuaRequest, co: int, args: Any,
                parent: int) -> Outcome | None:
    """Start thread ``co``; returns the outcome that ends the request when the thread
    exits before its first yield, else None."""
    thread = LightThread(co, parent)
    lr.threads.append(thread)
    n = int(args[b"n"] or 0)
    values = [args[i] for i in range(1, n + 1)]

    async def body() -> tuple[Any, ...]:
        outcome = await Driver(service, lr).run(co, *values)
        thread.status = "zombie"
        if outcome.kind == "error":
            lr.r.log("error", _error_log(lr, co, outcome))
            return _error_values(outcome)
        if outcome.kind in _ENDING:
            end_request(lr, outcome)
            return (False, b"exited")
        return (True, *outcome.values)

    thread.task = asyncio.ensure_future(body())
    await asyncio.sleep(0)  # let it run up to its first yield
    return thread_exits.get(lr)


async def wait(lr: LuaRequest, threads: Any, waiter: int) -> tuple[Any, ...]:
    """ngx_http_lua_uthread_wait: the arguments in order; a zombie answers at once, a
    dead one is skipped unless it is the last; else the first running one to end."""
    n = int(threads[b"n"] or 0)
    running: list[LightThread] = []
    for i in range(1, n + 1):
        t = _find(lr, threads[i])
        if t is None:
            return (_WAIT_ERROR, b"attempt to wait on a coroutine that is not a user thread")
        if t.parent != waiter:
            return (_WAIT_ERROR, b"only the parent coroutine can wait on the thread")
        if t.status == "zombie":
            return _reap(t)
        if t.status == "dead":
            if i == n:
                return (None, b"already waited or killed")
            continue
        running.append(t)
    tasks = [t.task for t in running if t.task is not None]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in running:
        if t.task in done:
            return _reap(t)
    return (None, b"already waited or killed")


def _reap(t: LightThread) -> tuple[Any, ...]:
    t.status = "dead"
    assert t.task is not None
    return t.task.result()


def kill(lr: LuaRequest, co: int, killer: int) -> tuple[Any, ...]:
    """ngx_http_lua_uthread_kill's answers."""
    t = _find(lr, co)
    if t is None:
        return (None, b"not user thread")
    if t.parent != killer:
        return (None, b"killer not parent")
    if t.status == "zombie":
        t.status = "dead"
        return (None, b"already terminated")
    if t.status == "dead":
        return (None, b"already waited or killed")
    t.status = "dead"
    if t.task is not None:
        t.task.cancel()
    return (1,)


async def join_all(lr: LuaRequest) -> Outcome | None:
    """The entry thread is done: wait for its light threads; the outcome of one that
    ended the request (ngx.exit...), which aborts the others, else None."""
    tasks = [t.task for t in lr.threads if t.task is not None and not t.task.done()]
    while tasks and lr not in thread_exits:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        tasks = [t for t in tasks if not t.done()]
    ended = thread_exits.get(lr)
    abort_all(lr)
    return ended


def abort_all(lr: LuaRequest) -> None:
    for t in lr.threads:
        if t.task is not None:
            t.task.cancel()
    lr.threads.clear()
    thread_exits.pop(lr, None)
