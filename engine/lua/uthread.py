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

from .semaphore import until
from .thread import AT_ONCE, Driver, Outcome, end_request, text, thread_exits
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
        self.task: asyncio.Future[tuple[Any, ...]] | None = None
        #: its semaphore wait queued at spawn (cancelled with the thread)
        self.queued: asyncio.Future[bool] | None = None


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


#: Operations a thread carries out without waiting: spawn goes on through them at once.
_INSTANT = frozenset(("output", "flush", "eof", "send_headers", "read_body", "spawn", "kill"))


async def spawn(service: LuaService, lr: LuaRequest, co: int, args: Any,
                parent: int) -> Outcome | None:
    """Start thread ``co``: as ngx_lua, it runs at once (its output, ngx.eof, its own
    spawns...) up to its first wait, before its parent goes on; the rest is an asyncio
    task. Returns the outcome that ends the request when the thread ended it (ngx.exit
    before its first wait), else None."""
    thread = LightThread(co, parent)
    lr.threads.append(thread)
    n = int(args[b"n"] or 0)
    driver = Driver(service, lr)
    result = driver.step(co, *[args[i] for i in range(1, n + 1)])
    while True:
        status, out, *vals = result
        op = None if status != b"yield" else (
            text(vals[0]) if vals and isinstance(vals[0], bytes) else "")
        if op is None or op in AT_ONCE:  # it ended (or ended the request) at once
            done = asyncio.get_running_loop().create_future()
            done.set_result(_finish(lr, thread, await driver.carry_on(co, result)))
            thread.task = done
            return thread_exits.get(lr)
        if out:
            await service.emit(lr, out)
        if op not in _INSTANT:
            break
        send, outcome = await driver.carry_out(op, vals[1:])
        if outcome is not None:
            return outcome
        result = driver.step(co, *send)
    # a bare coroutine.yield() or ngx.sleep(0): the task's first turn is its wake-up, so
    # it comes before whatever its parent queues after the spawn (ngx_lua's timer order)
    turn = op == "" or op == "sleep" and float(vals[1]) == 0
    # a semaphore wait queues the thread at once: a post before its task runs wakes it
    if op == "sema_wait":
        thread.queued = lr.worker.semaphores.queue(int(vals[1]))

    async def rest() -> tuple[Any, ...]:
        if lr in thread_exits:  # another thread ended the request before this turn
            return _finish(lr, thread, thread_exits[lr])
        first = (status, None, *vals)
        if turn:
            service.clock.update()
            first = driver.step(co)
        elif thread.queued is not None:
            first = driver.step(co, *await until(thread.queued, float(vals[2])))
        return _finish(lr, thread, await driver.carry_on(co, first))

    thread.task = asyncio.ensure_future(rest())
    return None


def _finish(lr: LuaRequest, thread: LightThread, outcome: Outcome) -> tuple[Any, ...]:
    """What ngx.thread.wait gets from a thread that ended with ``outcome``; its error
    logged, the request ended by its ngx.exit."""
    _set_status(lr, thread, "zombie")
    if outcome.kind == "error":
        lr.r.log("error", _error_log(lr, thread.co, outcome))
        return _error_values(outcome)
    if outcome.kind in _ENDING:
        end_request(lr, outcome)
        return (False, b"exited")
    return (True, *outcome.values)


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
            return _reap(lr, t)
        if t.status == "dead":
            if i == n:
                return (None, b"already waited or killed")
            continue
        running.append(t)
    tasks = [t.task for t in running if t.task is not None]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in running:
        if t.task in done:
            return _reap(lr, t)
    return (None, b"already waited or killed")


def _set_status(lr: LuaRequest, t: LightThread, status: str) -> None:
    """``t`` is now running, a zombie or dead; coroutine.status tells zombies apart."""
    if (t.status == "zombie") != (status == "zombie"):
        lr.worker.rt[b"uthread_zombie"](t.co, status == "zombie")
    t.status = status


def _reap(lr: LuaRequest, t: LightThread) -> tuple[Any, ...]:
    _set_status(lr, t, "dead")
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
        _set_status(lr, t, "dead")
        return (None, b"already terminated")
    if t.status == "dead":
        return (None, b"already waited or killed")
    _set_status(lr, t, "dead")
    _cancel(t)
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


def _cancel(t: LightThread) -> None:
    for fut in (t.task, t.queued):
        if fut is not None:
            fut.cancel()


def abort_all(lr: LuaRequest) -> None:
    for t in lr.threads:
        _cancel(t)
        _set_status(lr, t, "dead")
    lr.threads.clear()
    thread_exits.pop(lr, None)
