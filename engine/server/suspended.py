"""Handing a coroutine that was started by hand over to a task.

The listener runs each response's coroutine itself (``coro.send(None)``) so that a
response that never waits costs no task switch; one that does wait is given to a task
through :class:`Suspended`, which carries on from where it stopped.
"""

from __future__ import annotations

from typing import Any


class Suspended:
    """Awaiting this goes on with a coroutine that was started by hand and suspended on
    ``waiting`` (what it yielded): the task waits for that, then resumes the coroutine."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Any, waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self):  # type: ignore[no-untyped-def]
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation: the coroutine gets it
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as stop:
                    return stop.value
