"""When nginx's event loop wakes a Lua thread: the order of its timers and posted events.

Each turn of ngx_process_events_and_timers handles the I/O that is ready, then runs the
expired timers (ngx_event_expire_timers: a 0 ms timer one of them sets is expired as
well, so a chain of ``ngx.sleep(0)`` runs through in the same turn), then the posted
events (ngx_event_process_posted; a semaphore post wakes its waiters through one). So a
thread woken by ``ngx.sleep(0)`` runs before one woken by a post made earlier in the
same turn, and counting asyncio turns cannot give that order: :class:`Turns` keeps the
two queues and runs them in nginx's order, each job (a thread resumed up to where it
hands back control, see thread.py) to its end before the next. A handler that still
runs where nginx would not have left it (its output going down the filters) holds the
turn (:meth:`Turns.hold`): nginx runs the handler to its wait before any timer.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from .thread import Driver

#: A wake-up: resumes a thread (see thread.py's ``Driver.wake``).
Job = Callable[[], Awaitable[None]]


class Turns:
    """One event loop's expired timers and posted events, run in nginx's order."""

    def __init__(self) -> None:
        self.timers: deque[Job] = deque()
        self.posted: deque[Job] = deque()
        self.task: asyncio.Future[None] | None = None
        #: handlers between a resume and their wait (see :meth:`hold`)
        self.busy = 0
        self.free: asyncio.Future[None] | None = None

    def hold(self) -> None:
        """A handler goes on without waiting (nginx would not run a timer meanwhile)
        until :meth:`release`."""
        self.busy += 1

    def release(self) -> None:
        self.busy -= 1
        if not self.busy and self.free is not None:
            if not self.free.done():
                self.free.set_result(None)
            self.free = None

    def expire(self, job: Job) -> None:
        """A timer that is due now (``ngx.sleep``, a semaphore wait's timeout)."""
        self.timers.append(job)
        self._start()

    def post(self, job: Job) -> None:
        """An event posted to ngx_posted_events (a semaphore post)."""
        self.posted.append(job)
        self._start()

    def _start(self) -> None:
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while self.timers or self.posted:
                # the turn's I/O first: what the tasks that are ready do now
                await asyncio.sleep(0)
                while self.busy:
                    if self.free is None:
                        self.free = asyncio.get_running_loop().create_future()
                    await self.free
                while self.timers:
                    await self.timers.popleft()()
                while self.posted:
                    await self.posted.popleft()()
        finally:
            self.task = None


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = \
    weakref.WeakKeyDictionary()


def turns() -> Turns:
    """The running event loop's :class:`Turns`."""
    global _last
    loop = asyncio.get_running_loop()
    if _last is not None and _last[0] is loop:
        return _last[1]
    found = _turns.get(loop)
    if found is None:
        found = _turns[loop] = Turns()
    _last = (loop, found)
    return found


#: the last loop asked about and its Turns (one loop runs them all, but for tests)
_last: tuple[asyncio.AbstractEventLoop, Turns] | None = None


def sleep(driver: Driver, co: Any, seconds: Any) -> asyncio.Future[Any]:
    """ngx.sleep in ``co``: a timer (of 0 ms too: it waits for the loop's timer phase);
    the Future its owner waits on."""
    driver.lr.r.trace.add("script", op="sleep", seconds=seconds)
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    job = driver.wake(co, fut, ())
    delay = float(seconds)
    if delay <= 0:
        turns().expire(job)
    else:  # (a wait cut short leaves the timer: its job finds the thread gone)
        # due from nginx's cached time, as ngx_add_timer counts: threads that sleep in
        # one turn of the loop wake in the order of their delays, however long the code
        # between their calls took (on the loop's clock, a time already past still
        # comes after the ones before it)
        clock = driver.service.clock
        lag = max(clock.source() - clock.now(), 0.0)
        loop.call_at(loop.time() - lag + delay, lambda: turns().expire(job))
    return fut
