"""Driving Lua threads: ngx_lua's ``ngx_http_lua_run_thread`` on asyncio.

A handler runs in a coroutine; when it yields an operation (``sleep``, ``flush``,
``eof``, ``exit``, ``exec``, ``redirect``, ``capture``, ``spawn``...) the driver carries it
out with the request engine or the event loop and resumes it. Output the handler
buffered with ``ngx.say`` arrives with each resume and goes down the output chain.
Errors become ngx_lua's ``lua entry thread aborted: runtime error: ...`` log line.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http.request_body import read_request_body
from .socket_tcp_io import carry_out as socket_op

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

    async def run(self, co: Any, *args: Any) -> Outcome:
        """Resume thread ``co`` with ``args`` and carry on until it ends."""
        return await self._drive(co, self._resume(co, args))

    def step(self, co: Any, *args: Any) -> Any:
        """Resume thread ``co`` once, at once: what it yields (or how it ended)."""
        return self._resume(co, args)

    async def carry_on(self, co: Any, result: Any) -> Outcome:
        """Carry on thread ``co`` from ``result`` (what :meth:`step` gave) to its end."""
        return await self._drive(co, result)

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

    async def _drive(self, co: Any, result: Any) -> Outcome:
        lr = self.lr
        while True:
            status, out, *vals = result if isinstance(result, tuple) else (result, None)
            if out:
                await self.service.emit(lr, out)
            if status == b"done":
                return Outcome("done", tuple(vals))
            if status == b"error":
                msg = vals[0] if vals else None
                tb = vals[1] if len(vals) > 1 else b""
                raised = vals[2] if len(vals) > 2 else None
                return Outcome("error", (raised,) if raised is not None else (),
                               message=lua_error_text(msg), traceback=text(tb) if tb else "",
                               raw=msg)
            op = text(vals[0]) if vals and isinstance(vals[0], bytes) else ""
            if not self.yieldable:
                return Outcome("error", message="attempt to yield across C-call boundary")
            if lr.threads and op not in AT_ONCE:
                send, outcome = await self._carry_or_end(op, vals[1:])
            else:
                send, outcome = await self.carry_out(op, vals[1:])
            if outcome is not None:
                return outcome
            result = self._resume(co, send)

    async def _carry_or_end(self, op: str, args: list[Any]
                            ) -> tuple[tuple[Any, ...], Outcome | None]:
        """carry_out, cut short when a light thread of the request ends it meanwhile
        (end_request cancels the wait)."""
        lr = self.lr
        if lr in thread_exits:
            return (), thread_exits[lr]
        task = asyncio.current_task()
        if task is None:
            # the listener steps a response by hand until it first waits (see
            # engine/server/suspended.py): one turn of the loop puts it in its task,
            # which a thread that ends the request can then cancel
            await asyncio.sleep(0)
            task = asyncio.current_task()
            assert task is not None
        waiting = _waiting.setdefault(lr, set())
        waiting.add(task)
        try:
            return await self.carry_out(op, args)
        except asyncio.CancelledError:
            if lr not in thread_exits:
                raise
            task.uncancel()
            return (), thread_exits[lr]
        finally:
            waiting.discard(task)

    async def carry_out(self, op: str, args: list[Any]) -> tuple[tuple[Any, ...], Outcome | None]:
        lr = self.lr
        r = lr.r
        service = self.service
        if op == "sleep":
            r.trace.add("script", op="sleep", seconds=args[0])
            await asyncio.sleep(float(args[0]))
            service.clock.update()
            return (), None
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
            read_request_body(r, "ngx.req.read_body", persistent=True)
            return (), None
        if op == "capture":
            results = await service.capture(lr, args[0])
            return (results,), None
        if op in ("spawn", "wait", "kill"):
            from . import uthread  # uthread drives its threads with this module's Driver
            if op == "spawn":
                return (), await uthread.spawn(service, lr, int(args[0]), args[1],
                                               int(args[2]))
            if op == "wait":
                return await uthread.wait(lr, args[0], int(args[1])), None
            return uthread.kill(lr, int(args[0]), int(args[1])), None
        if op == "socket":
            return await socket_op(lr, args), None
        if op == "sema_wait":
            return await lr.worker.semaphores.wait(int(args[0]), float(args[1])), None
        # a bare coroutine.yield() in the entry thread: give the loop a turn, go on
        await asyncio.sleep(0)
        return (), None


def lua_error_text(msg: Any) -> str:
    """ngx_lua's text for an error value: a string or a number as Lua prints it, anything
    else (a table, a boolean, nil) "unknown reason"."""
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "surrogateescape")
    if isinstance(msg, (int, float)) and not isinstance(msg, bool):
        return f"{msg:.14g}"  # LUAI_NUMFMT
    return "unknown reason"
