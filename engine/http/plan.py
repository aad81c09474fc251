"""What can act in one configuration block: the phase steps, filters and log handlers.

nginx walks one phase handler array for every request and each handler looks at its
location's configuration to see whether it has anything to do; most decline at once.
Here each registered handler and filter may say, with ``active(block)``, that it can do
nothing in a block (no ``rewrite`` script, no ``allow``/``deny``, no Lua handler for
its phase...), and a :class:`BlockPlan`, computed once per block on first use, lets the
engine step straight over those. The walk is otherwise nginx's: the plan is looked up
again from ``r.loc`` before every step, so a step that changes the configuration (an
``if`` block, a new location after ``find config``) is followed at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .phases import Phase

if TYPE_CHECKING:
    from .phases import PhaseTable


class BlockPlan:
    """The steps of the phase engine, the filter chains and the log handlers of a block."""

    __slots__ = ("next", "header", "body", "log")

    def __init__(self, table: PhaseTable, block: Any) -> None:
        handlers = table.handlers
        n = len(handlers)
        #: next[i]: the first handler at or after ``i`` that may act in this block.
        self.next: list[int] = [n] * (n + 1)
        following = n
        for i in range(n - 1, -1, -1):
            if _active(handlers[i].active, block):
                following = i
            self.next[i] = following
        #: (filter function, is a coroutine function), in chain order.
        self.header: tuple[tuple[Any, bool], ...] = tuple(
            (f.fn, f.is_async) for f in table.header_filters if _active(f.active, block))
        self.body: tuple[tuple[Any, bool], ...] = tuple(
            (f.fn, f.is_async) for f in table.body_filters if _active(f.active, block))
        self.log = tuple(h for h in handlers
                         if h.phase == Phase.LOG and _active(h.active, block))


def _active(pred: Any, block: Any) -> bool:
    """A block of None (a request without configuration) runs everything, as before."""
    return pred is None or block is None or bool(pred(block))
