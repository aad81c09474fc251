"""ngx.thread.spawn / wait / kill: light threads inside one request.

A spawned thread runs at once until it first hands back control, then its own asyncio
task carries out its waits (see thread.py for the posted threads and who runs what). As
in ngx_lua (ngx_http_lua_uthread.c) a thread is running, a zombie (finished, its
results kept until its parent waits for it or kills it) or dead (waited or killed); only
its parent may wait for it or kill it. The entry thread's phase ends only when its light
threads have finished, unless it exits first, which aborts them; a light thread that
calls ngx.exit (or ngx.exec...) ends the whole request the same way (thread.py's
``thread_exits``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .thread import Driver, Finished, Outcome, end_request, forget_posted, run_posted, \
    thread_exits
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
        #: its semaphore wait (cancelled with the thread)
        self.queued: asyncio.Future[bool] | None = None
        #: what wait gets from it once it ended
        self.values: tuple[Any, ...] = ()
        #: the wait of its parent on it: (future, the parent's driver and coroutine, the
        #: threads of that wait)
        self.waited: tuple[Any, ...] | None = None


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


async def spawn(service: LuaService, lr: LuaRequest, co: int, args: Any, parent: int) -> None:
    """Start thread ``co``: as ngx_lua, it runs at once up to where it first hands back
    control (its parent is posted meanwhile, see thread.py); its owner task carries on
    from there. A thread that ends the request at once leaves its outcome in
    ``thread_exits``."""
    thread = LightThread(co, parent)
    lr.threads.append(thread)
    n = int(args[b"n"] or 0)
    driver = Driver(service, lr)
    driver.thread = thread
    handed = await driver.step_inline(co, *[args[i] for i in range(1, n + 1)])
    if isinstance(handed, Finished) or thread.status == "dead":  # (killed meanwhile)
        done: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        done.set_result(handed.values if isinstance(handed, Finished) else ())
        thread.task = done
        return
    thread.task = asyncio.ensure_future(_own(driver, co, thread, handed))


async def _own(driver: Driver, co: int, thread: LightThread, handed: Any) -> tuple[Any, ...]:
    """A light thread's task: on from what it handed back to its end."""
    lr = driver.lr
    outcome = await driver.carry_on(co, handed)
    if isinstance(outcome, Finished):  # another thread ran it to its end
        return outcome.values
    values = await finish(lr, thread, outcome)
    await run_posted(lr)
    return values


async def finish(lr: LuaRequest, thread: LightThread, outcome: Outcome) -> tuple[Any, ...]:
    """What ngx.thread.wait gets from a thread that ended with ``outcome``; its error
    logged, the request ended by its ngx.exit; a parent waiting on it resumes at once
    (ngx_lua's run_thread goes on with it)."""
    _set_status(lr, thread, "zombie")
    if outcome.kind == "error":
        lr.r.log("error", _error_log(lr, thread.co, outcome))
        values = _error_values(outcome)
    elif outcome.kind in _ENDING:
        end_request(lr, outcome)
        return (False, b"exited")
    else:
        values = (True, *outcome.values)
    thread.values = values
    waited, thread.waited = thread.waited, None
    if waited is not None and not waited[0].done():
        fut, parent, parent_co, group = waited
        for t in group:
            t.waited = None
        _set_status(lr, thread, "dead")
        fut.set_result(await parent.step_inline(parent_co, *values))
    return values


def wait(lr: LuaRequest, threads: Any, waiter: int, driver: Driver, co: Any
         ) -> tuple[Any, ...] | asyncio.Future[Any]:
    """ngx_http_lua_uthread_wait: the arguments in order; a zombie answers at once, a
    dead one is skipped unless it is the last; else the parent waits (the future its
    owner waits on) for the first running one to end, which resumes it."""
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
    if not running:
        return (None, b"already waited or killed")
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    for t in running:
        t.waited = (fut, driver, co, running)
    return fut


def _set_status(lr: LuaRequest, t: LightThread, status: str) -> None:
    """``t`` is now running, a zombie or dead; coroutine.status tells zombies apart."""
    if (t.status == "zombie") != (status == "zombie"):
        lr.worker.rt[b"uthread_zombie"](t.co, status == "zombie")
    t.status = status


def _reap(lr: LuaRequest, t: LightThread) -> tuple[Any, ...]:
    _set_status(lr, t, "dead")
    return t.values


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
    forget_posted(lr)
