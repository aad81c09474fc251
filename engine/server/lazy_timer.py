"""One timer per connection, moved lazily.

Arming sets a deadline; the asyncio handle (never later than the deadline) is replaced
only when the new deadline is earlier, and when it fires before a deadline that moved
later it waits again. Arming and disarming per request (header, keep-alive) then costs
no heap operations.
"""

from __future__ import annotations

import asyncio
from typing import Callable


class LazyTimer:
    __slots__ = ("loop", "handle", "when", "deadline", "callback")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.handle: asyncio.TimerHandle | None = None
        self.when = 0.0
        self.deadline: float | None = None
        self.callback: Callable[[], None] | None = None

    def arm(self, delay: float, callback: Callable[[], None], horizon: float) -> None:
        """Call ``callback`` in ``delay`` seconds (replacing what was armed); the handle
        wakes no later than ``horizon`` seconds from now, the next deadline likely armed."""
        now = self.loop.time()
        deadline = now + delay
        self.deadline = deadline
        self.callback = callback
        if self.handle is None or self.when > deadline:
            if self.handle is not None:
                self.handle.cancel()
            self.when = min(deadline, now + horizon)
            self.handle = self.loop.call_at(self.when, self._fire)

    def _fire(self) -> None:
        self.handle = None
        deadline = self.deadline
        if deadline is None:
            return
        if deadline > self.when:  # re-armed for later since the handle was set
            self.when = deadline
            self.handle = self.loop.call_at(deadline, self._fire)
            return
        self.deadline = None
        assert self.callback is not None
        self.callback()

    def cancel(self) -> None:
        self.deadline = None

    def drop(self) -> None:
        """The connection is done: release the handle too."""
        self.deadline = None
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
