"""ngx.timer.at / ngx.timer.every: callbacks run later in their own fake request.

As in ngx_lua, a timer has no request; it runs on a fake connection that takes a number
from the connection counter when it fires and keeps the client address and listening
socket of the request that created it, which its log lines show. Its callback gets
``premature`` first (true when the worker is shutting down or reloading) and the extra
arguments. Errors are logged as ``lua entry thread aborted: runtime error: ...,
context: ngx.timer``.
Pending and running counts are limited by ``lua_max_pending_timers`` and
``lua_max_running_timers``. Each timer's events are appended to the trace of the request
that created it (the explorer shows them in a lane of their own).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..http.trace import Trace
from .runtime import LuaRequest
from .thread import Driver
from .traceback import ngx_traceback

if TYPE_CHECKING:
    from .runtime import LuaWorker
    from .service import LuaService

_ids = itertools.count(1)


@dataclass(eq=False)
class Timer:
    id: int
    worker: LuaWorker
    delay: float
    #: The callback's number in core.lua (the function and its arguments stay in Lua).
    lua_id: int
    every: bool
    where: str
    trace: Trace | None
    #: What the error log shows after ``context: ngx.timer`` (the creator's connection).
    context: str = ", context: ngx.timer"
    #: The block whose error_log the timer writes to: its creator's location (the
    #: http block from init_worker_by_lua), as ngx_lua's timer handler sets it.
    block: Any = None
    handle: asyncio.TimerHandle | None = None
    task: asyncio.Task[None] | None = None
    created: float = field(default_factory=time.time)


class _TimerContext:
    """Stands in for a request in a timer (ngx_lua's fake request)."""


class Timers:
    def __init__(self, service: LuaService) -> None:
        self.service = service
        self.max_pending = 1024
        self.max_running = 256
        self.pending_timers: dict[int, Timer] = {}
        self.running = 0

    @property
    def pending(self) -> int:
        return len(self.pending_timers)

    def schedule(self, worker: LuaWorker, creator: LuaRequest | None, delay: float,
                 lua_id: int, every: bool, where: str) -> Any:
        if self.service.exiting:
            return (None, b"process exiting")
        if self.pending >= self.max_pending:
            return (None, b"too many pending timers")
        trace = creator.r.trace if creator is not None else None
        timer = Timer(next(_ids), worker, delay, lua_id, every, where, trace)
        if isinstance(creator.r if creator is not None else None, _TimerRequest):
            timer.context = creator.r.context  # type: ignore[union-attr]
            timer.block = creator.r.block  # type: ignore[union-attr]
        elif creator is not None and creator.r is not None:
            timer.context += _connection_context(creator.r)
            timer.block = creator.r.loc
        else:
            timer.block = self.service.engine.cfg.http
        self.pending_timers[timer.id] = timer
        if trace is not None:
            trace.add("timer", op="scheduled", timer=timer.id, delay=delay, every=every,
                      where=where)
        self._arm(timer)
        return (1,)

    def _arm(self, timer: Timer) -> None:
        if timer.delay < 0:
            return  # a delay nginx's timer tree keeps for ever (core.lua's msec)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (init_by_lua): nginx would refuse too
        timer.handle = loop.call_later(timer.delay, self._fire, timer, False)

    def _fire(self, timer: Timer, premature: bool) -> None:
        if self.running >= self.max_running:
            self.service.engine.log_global(
                "alert", f"{self.max_running} lua_max_running_timers are not enough")
            self.pending_timers.pop(timer.id, None)
            return
        if not timer.every:
            self.pending_timers.pop(timer.id, None)
        timer.task = asyncio.ensure_future(self._run(timer, premature))

    async def _run(self, timer: Timer, premature: bool) -> None:
        service = self.service
        service.clock.update()
        worker = timer.worker
        state = worker.new_state(None, "timer")
        lr = LuaRequest(None, worker, state)  # type: ignore[arg-type]
        fake = _TimerRequest(service, timer)
        lr.r = fake  # type: ignore[assignment]
        self.running += 1
        t0 = time.perf_counter()
        if timer.trace is not None:
            timer.trace.add("timer", op="fired", timer=timer.id, premature=premature,
                            late_ms=round((time.time() - timer.created - timer.delay) * 1000, 3))
        try:
            last = premature or service.exiting
            started = worker.rt[b"timer_start"](timer.lua_id, last)
            if not isinstance(started, tuple) or started[0] is None:
                return
            co, args = started
            n = int(args[b"n"] or 0) if args is not None else 0
            values = [args[i] for i in range(1, n + 1)] if n else []
            outcome = await Driver(service, lr).run(co, premature, *values)
            if outcome.kind == "error":
                tb = ngx_traceback(outcome.traceback, main=False)
                fake.log("error", "lua entry thread aborted: runtime error: "
                         f"{outcome.message}" + ("\n" + tb if tb else ""), traced=False)
            if timer.trace is not None:
                timer.trace.add("timer", op="error" if outcome.kind == "error" else "done",
                                timer=timer.id, message=outcome.message,
                                duration_ms=(time.perf_counter() - t0) * 1000)
        finally:
            self.running -= 1
            worker.sockets.release(fake)
        if timer.every and not premature and not service.exiting:
            self._arm(timer)

    async def shutdown(self) -> None:
        """Fire every pending timer with premature = true, and wait for them (reload/stop)."""
        pending = list(self.pending_timers.values())
        self.pending_timers.clear()
        tasks = []
        for timer in pending:
            if timer.handle is not None:
                timer.handle.cancel()
            timer.every = False
            tasks.append(asyncio.ensure_future(self._run(timer, True)))
        running = [t.task for t in pending if t.task is not None and not t.task.done()]
        if tasks or running:
            await asyncio.wait(tasks + running, timeout=5)  # type: ignore[arg-type]


class _TimerRequest:
    """The fake request a timer runs in: enough of Request for the Lua API to refuse."""

    def __init__(self, service: LuaService, timer: Timer) -> None:
        self.engine = service.engine
        self.number = service.engine.next_connection()
        self.context = timer.context
        self.block = timer.block
        self.trace = timer.trace or Trace(enabled=False)
        self.header_sent = True
        self.phase_name = "timer"
        self.parent = None
        self.ctx: dict[str, Any] = {}
        self.captures = None
        self.body_read = False
        self.body = b""

    def log(self, level: str, message: str, traced: bool = True) -> None:
        self.engine.log_global(level, message, self.number, self.context, self.block)
        if traced:
            self.trace.add("log", level=level, message=message, kept=True)


def _connection_context(r: Any) -> str:
    """``, client: ..., server: ...`` of the request's connection: its client address and
    the listening socket's address text (``0.0.0.0:80`` for a wildcard listen)."""
    conn = r.main.conn
    port = conn.server_port
    addr = conn.server_addr if (conn.server_addr, port) in r.engine.cfg.addresses else "0.0.0.0"
    return f", client: {conn.client_addr}, server: {addr}:{port}"
