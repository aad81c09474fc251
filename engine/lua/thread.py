"""Driving Lua threads: ngx_lua's ``ngx_http_lua_run_thread`` on asyncio.

A handler runs in a coroutine; when it yields an operation (``sleep``, ``flush``,
``eof``, ``exit``, ``exec``, ``redirect``, ``capture``, ``spawn``...) the driver carries it
out with the request engine or the event loop and resumes it. Output the handler
buffered with ``ngx.say`` arrives with each resume and goes down the output chain.
Errors become ngx_lua's ``lua entry thread aborted: runtime error: ...`` log line.

All the Lua threads of a request are scheduled as ngx_lua does: a thread that spawns
or calls coroutine.yield() is posted behind the request's posted threads, which run
as soon as the running one hands back control; a spawned child, a thread woken by a
timer (ngx.sleep) or a posted event (a semaphore post, timer_turns.py), a parent whose
child ended run at once where they were woken (``inline``) up to where they hand back
control: the Future their owner (the task that carries out their waits) goes on from.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http.request_body import read_request_body
from .socket_tcp_io import carry_out as socket_op
from .timer_turns import Job, sleep, turns

if TYPE_CHECKING:
    from .module import LuaService
    from .runtime import LuaRequest


@dataclass
class Outcome:
    """How a thread left: ``done`` (values), ``exit`` (status), ``exec`` (uri, args),
    ``redirect`` (uri, status), ``jump`` (set_uri with jump), ``error`` (message)."""

    kind: str
    #: what the thread returned (done), the status (exit), the uri... (exec, redirect);
    #: for an error raised by error(v), v as given
    values: tuple[Any, ...] = ()
    message: str = ""
    traceback: str = ""
    #: the status a failed handler answers: 500, or 404 for a *_by_lua_file not found
    status: int = 500
    #: for an error, the error value itself (what ngx.thread.wait may hand back)
    raw: Any = None


#: A request whose light thread ended it (ngx.exit, ngx.exec... in a thread): the
#: outcome every driver of that request returns at once.
thread_exits: weakref.WeakKeyDictionary[LuaRequest, Outcome] = weakref.WeakKeyDictionary()
#: The tasks of a request's drivers that are waiting on an operation (to cut short).
_waiting: weakref.WeakKeyDictionary[LuaRequest, set[asyncio.Task[Any]]] = \
    weakref.WeakKeyDictionary()


def end_request(lr: LuaRequest, outcome: Outcome) -> None:
    """A light thread ended the request: the other drivers stop waiting and return
    ``outcome`` (the first one given wins)."""
    if lr in thread_exits:
        return
    thread_exits[lr] = outcome
    me = asyncio.current_task()
    for task in list(_waiting.get(lr, ())):
        if task is not me:
            task.cancel()


#: Operations that end or go on without waiting: no light thread can cut them short.
AT_ONCE = frozenset(("exit", "exec", "redirect", "set_uri_jump", "abort"))
#: Operations a thread carries out without handing back control.
INSTANT = frozenset(("output", "flush", "eof", "send_headers", "read_body", "kill"))
#: Each request's posted threads (ngx_lua's ctx->posted_threads), first to run first:
#: (coroutine, its driver, the future its owner waits on for what it handed back).
_posted: weakref.WeakKeyDictionary[LuaRequest, deque[tuple[Any, Driver, asyncio.Future[Any]]]] \
    = weakref.WeakKeyDictionary()


@dataclass
class Finished:
    """Handed back by a light thread that ended where another thread ran it: what
    ngx.thread.wait gets from it (it is finished already)."""

    values: tuple[Any, ...]


def _ended(status: bytes, vals: list[Any]) -> Outcome:
    """The Outcome of a thread that returned (``done``) or failed (``error``)."""
    if status == b"done":
        return Outcome("done", tuple(vals))
    msg = vals[0] if vals else None
    tb = vals[1] if len(vals) > 1 else b""
    raised = vals[2] if len(vals) > 2 else None
    return Outcome("error", (raised,) if raised is not None else (),
                   message=lua_error_text(msg), traceback=text(tb) if tb else "", raw=msg)


def _ends(handed: Any) -> bool:
    """Whether a handed-back result ends its thread (or the request)."""
    if not isinstance(handed, tuple):
        return False
    return handed[0] != b"yield" or (len(handed) > 2 and isinstance(handed[2], bytes)
                                     and text(handed[2]) in AT_ONCE)


async def _handed(fut: asyncio.Future[Any]) -> tuple[Any, None]:
    return await fut, None


def forget_posted(lr: LuaRequest) -> None:
    """The request's light threads are gone: so is its queue of posted threads."""
    _posted.pop(lr, None)


async def run_posted(lr: LuaRequest, until_: asyncio.Future[Any] | None = None) -> bool:
    """ngx_http_lua_run_posted_threads: run the posted threads in turn, each up to where
    it hands back control, until ``until_``'s turn comes (True: its owner goes on itself)
    or none is left. An entry thread that fails or ends the request stops the run."""
    queue = _posted.get(lr)
    while queue and lr not in thread_exits:
        co, driver, fut = queue.popleft()
        if fut is until_:
            return True
        if driver.gone(fut):
            continue
        if await driver.hand(fut, await driver.step_inline(co)):
            break
    return False


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


class Driver:
    """Runs one coroutine of one request to its end, carrying out what it yields."""

    def __init__(self, service: LuaService, lr: LuaRequest, yieldable: bool = True) -> None:
        self.service = service
        self.lr = lr
        self.yieldable = yieldable
        #: the light thread it runs (uthread.LightThread), None for an entry thread
        self.thread: Any = None

    async def run(self, co: Any, *args: Any) -> Outcome:
        """Resume thread ``co`` with ``args`` and carry on until it ends."""
        return await self._drive(co, self._resume(co, args))

    async def carry_on(self, co: Any, handed: Any) -> Any:
        """Carry thread ``co`` on from what it handed back (:meth:`step_inline`) to its
        end: its Outcome, or :class:`Finished` when another thread ran it to its end."""
        return await self._drive(co, handed)

    async def start(self, context: bytes, factory: Any) -> Outcome:
        """Start an entry thread of ``factory`` in ``context`` (one crossing into Lua for
        the context, the thread and its first run) and carry on until it ends."""
        lr = self.lr
        bridge = lr.worker.bridge
        # a filter runs inside another handler's wait (ngx.flush, ngx.send_headers...):
        # that handler must find its own context again when it goes on
        outer = None if self.yieldable else lr.state[b"context"]
        bridge.current = lr
        try:
            result = lr.worker.start(lr.state, context, factory)
        finally:
            bridge.current = None
        rest = result[1:]
        if len(rest) < 2:
            rest = (rest[0] if rest else None, None)
        try:
            return await self._drive(result[0], rest)
        finally:
            if outer is not None:
                lr.state[b"context"] = outer

    def _resume(self, co: Any, args: tuple[Any, ...]) -> Any:
        lr = self.lr
        bridge = lr.worker.bridge
        bridge.current = lr
        try:
            return lr.worker.resume(lr.state, co, *args)
        finally:
            bridge.current = None

    async def step_inline(self, co: Any, *args: Any) -> Any:
        """Resume ``co`` and run it here up to where it hands back control (ngx_lua runs a
        spawned, posted or woken thread at once, inside the loop of whoever woke it): what
        its owner goes on from; a light thread that ended is finished here (its waiting
        parent woken at once) and gives :class:`Finished`."""
        handed = await self._drive(co, self._resume(co, args), inline=True)
        if self.thread is not None and _ends(handed):
            from .uthread import finish
            handed = Finished(await finish(self.lr, self.thread, await self._outcome(handed)))
        return handed

    async def _outcome(self, result: tuple[Any, ...]) -> Outcome:
        """How a thread that handed back an end (or ngx.exit...) left."""
        status, _out, *vals = result
        if status == b"yield":
            outcome = (await self.carry_out(text(vals[0]), vals[1:]))[1]
            assert outcome is not None
            return outcome
        return _ended(status, vals)

    async def _drive(self, co: Any, result: Any, inline: bool = False) -> Any:
        """The thread's loop (ngx_http_lua_run_thread). Its owner (``inline`` false) carries
        out what it waits on and returns its Outcome; ``inline`` returns what it handed
        back at its first wait (an operation, a Future its owner waits on, Finished)."""
        lr = self.lr
        while True:
            if type(result) is not tuple:  # (the common case, an operation, is a tuple)
                if isinstance(result, asyncio.Future):  # it waits: on whatever resumes it
                    if inline:
                        return result
                    result, outcome = await self._cut_short(_handed(result))
                    if outcome is not None:
                        return outcome
                    continue
                if isinstance(result, Finished):
                    return result
                result = (result, None)
            status, out, *vals = result
            if out and inline:
                await self.service.emit(lr, out)
            elif out:
                held = turns()
                held.hold()
                try:
                    await self.service.emit(lr, out)
                finally:
                    held.release()
            if status != b"yield":
                if inline:
                    return (status, None, *vals)
                if status == b"done" and lr.threads and self.thread is None:
                    await run_posted(lr)  # the entry thread ended: the others go on
                return _ended(status, vals)
            op = text(vals[0]) if vals and isinstance(vals[0], bytes) else ""
            if not self.yieldable:
                return Outcome("error", message="attempt to yield across C-call boundary")
            if op == "":  # a bare coroutine.yield(): posted behind the others, if any
                queue = _posted.get(lr)
                if not queue:
                    result = self._resume(co, ())
                    continue
                fut = self._post(co)
                if inline:
                    return fut
                result = await self._go_on(co, fut)
                continue
            if op == "spawn":  # the parent is posted; the child runs at once
                fut = self._post(co)
                from . import uthread
                await uthread.spawn(self.service, lr, int(vals[1]), vals[2], int(vals[3]))
                if lr in thread_exits:
                    return fut if inline else thread_exits[lr]
                result = await self._go_on(co, fut)
                continue
            if op == "wait":
                from . import uthread
                result = uthread.wait(lr, vals[1], int(vals[2]), self, co)
                if isinstance(result, tuple):
                    result = self._resume(co, result)
                elif not inline:
                    await run_posted(lr)
                continue
            if op == "sleep" or op == "sema_wait":  # woken by a timer or a posted event
                result = sleep(self, co, vals[1]) if op == "sleep" else \
                    lr.worker.semaphores.wait(self, co, int(vals[1]), float(vals[2]))
                if not inline:
                    await run_posted(lr)
                continue
            if inline and op not in INSTANT:
                return (status, None, *vals)
            if op not in INSTANT and op not in AT_ONCE:
                await run_posted(lr)
            if lr.threads and op not in AT_ONCE and not inline:
                send, outcome = await self._cut_short(self.carry_out(op, vals[1:]))
            else:
                send, outcome = await self.carry_out(op, vals[1:])
            if outcome is not None:
                return outcome
            if op not in INSTANT:  # it waited on the event loop, which updates the time
                self.service.clock.update()
            result = self._resume(co, send)

    async def _go_on(self, co: Any, fut: asyncio.Future[Any]) -> Any:
        """The posted threads run up to ``co``'s turn (posted, waiting on ``fut``), which
        then goes on here, unless it was killed meanwhile."""
        return self._resume(co, ()) if await run_posted(self.lr, fut) and not self.gone(fut) \
            else fut

    def gone(self, fut: asyncio.Future[Any]) -> bool:
        """Whether the wait ``fut`` of this driver's thread is over without it: cut short
        (the request ended, its owner was cancelled) or the thread killed."""
        return fut.done() or self.lr in thread_exits or \
            self.thread is not None and self.thread.status == "dead"

    def wake(self, co: Any, fut: asyncio.Future[Any], send: tuple[Any, ...]) -> Job:
        """The job that resumes ``co`` (waiting on ``fut``) with ``send`` when nginx's
        event loop gets to it (timer_turns.py): it runs up to where it hands back control,
        which its owner goes on from, then the request's posted threads run, as
        ngx_http_lua_sleep_resume / sema_resume do."""
        async def job() -> None:
            if self.gone(fut):
                return
            self.service.clock.update()  # (nginx's, each turn of its loop)
            try:
                handed = await self.step_inline(co, *send)
            except Exception as exc:  # the owner fails with it, as if it ran the thread
                if not fut.done():
                    fut.set_exception(exc)
                return
            if not await self.hand(fut, handed):
                await run_posted(self.lr)
        return job

    async def hand(self, fut: asyncio.Future[Any], handed: Any) -> bool:
        """Give what the thread handed back to its owner (waiting on ``fut``); an entry
        thread that ends the request where another ran it (ngx.exit, an error) ends it at
        once, its light threads with it, as ngx_lua does. Whether it did."""
        if self.thread is None and _ends(handed) and handed[0] != b"done":
            end_request(self.lr, await self._outcome(handed))
            return True
        if not fut.done():
            fut.set_result(handed)
        return False

    def _post(self, co: Any) -> asyncio.Future[Any]:
        """Queue ``co`` behind the posted threads (ngx_http_lua_post_thread)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        _posted.setdefault(self.lr, deque()).append((co, self, fut))
        return fut

    async def _cut_short(self, waiting: Any) -> tuple[tuple[Any, ...], Outcome | None]:
        """Await ``waiting`` (a (send, outcome) pair), cut short when a light thread of
        the request ends it meanwhile (end_request cancels the wait)."""
        lr = self.lr
        if lr in thread_exits:
            waiting.close()
            return (), thread_exits[lr]
        task = asyncio.current_task()
        if task is None:
            # the listener steps a response by hand until it first waits (see
            # engine/server/suspended.py): one turn of the loop puts it in its task,
            # which a thread that ends the request can then cancel
            try:
                await asyncio.sleep(0)
            except BaseException:
                waiting.close()
                raise
            task = asyncio.current_task()
            assert task is not None
        waiters = _waiting.setdefault(lr, set())
        waiters.add(task)
        try:
            return await waiting
        except asyncio.CancelledError:
            if lr not in thread_exits:
                raise
            task.uncancel()
            return (), thread_exits[lr]
        finally:
            waiters.discard(task)

    async def carry_out(self, op: str, args: list[Any]) -> tuple[tuple[Any, ...], Outcome | None]:
        lr = self.lr
        r = lr.r
        service = self.service
        if op == "exit":
            return (), Outcome("exit", (int(args[0]),))
        if op == "exec":
            return (), Outcome("exec", (text(args[0]), text(args[1]) if len(args) > 1
                                        and args[1] is not None else None))
        if op == "redirect":
            return (), Outcome("redirect", (text(args[0]), int(args[1])))
        if op == "set_uri_jump":
            return (), Outcome("jump")
        if op == "abort":  # an error in a coroutine.wrap function ends the entry thread
            tb = args[1] if len(args) > 1 else b""
            return (), Outcome("error", message=lua_error_text(args[0]),
                               traceback=text(tb) if tb else "")
        if op == "output":  # (the output went down the filters before this op)
            if not r.header_sent:  # an empty ngx.print sends the header all the same
                await service.emit(lr, b"")
            failed, lr.output_failed = lr.output_failed, False
            return ((None, b"nginx output filter error") if failed else (1,)), None
        if op == "flush":
            return await service.flush(lr, bool(args[0])), None
        if op == "eof":
            await service.eof(lr)
            failed, lr.output_failed = lr.output_failed, False
            return ((None, b"nginx output filter error") if failed else (1,)), None
        if op == "send_headers":
            await service.send_headers(lr, output=False)
            return (1,), None
        if op == "read_body":
            read_request_body(r, "ngx.req.read_body", persistent=True, quiet=True)
            return (), None
        if op == "capture":
            results = await service.capture(lr, args[0])
            return (results,), None
        if op == "kill":
            from . import uthread
            return uthread.kill(lr, int(args[0]), int(args[1])), None
        if op == "socket":
            return await socket_op(lr, args), None
        raise ValueError(f"unknown Lua operation {op!r}")


def lua_error_text(msg: Any) -> str:
    """ngx_lua's text for an error value: a string or a number as Lua prints it, anything
    else (a table, a boolean, nil) "unknown reason"."""
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "surrogateescape")
    if isinstance(msg, (int, float)) and not isinstance(msg, bool):
        return f"{msg:.14g}"  # LUAI_NUMFMT
    return "unknown reason"
