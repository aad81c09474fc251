"""``limit_rate`` and ``limit_rate_after``: the pacing in ngx_http_write_filter.

nginx takes the rate when the response starts going out (``set $limit_rate`` or a
proxied ``X-Accel-Limit-Rate`` first, else the location's ``limit_rate``, a size with
variables). Then, before each send, it allows what the rate gives for the whole seconds
since the request started, plus one second (``rate * (now - start + 1)``), less what
the connection has sent beyond ``limit_rate_after`` (header and chunk framing count);
after a send it waits as long as the rate takes for those bytes before sending more.
A 3000-byte file at ``limit_rate 1k`` therefore goes out in four sends a second apart.

The arithmetic is here (:class:`Pace`); the waiting is the listener's, which writes the
bytes (engine/server/sink.py). In-process requests are not paced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.values import parse_size
from .variables import compile_value

if TYPE_CHECKING:
    from .request import Request

#: main.ctx key: the rate ``set $limit_rate`` or X-Accel-Limit-Rate stored (digits).
STORED = "keep:limit_rate"


@dataclass
class Pace:
    """One response's limit: bytes a second, the free bytes, the request's start second,
    and what the connection has sent for it so far."""

    rate: int
    after: int
    start: int
    sent: int = 0

    def allowed(self, now: float) -> int:
        """What the next send may write (nothing before the wait, when <= 0)."""
        return self.rate * (int(now) - self.start + 1) - (self.sent - self.after)

    def wait(self, allowed: int) -> float:
        """How long to wait when nothing is allowed (nginx's timer, +1 ms)."""
        return -allowed / self.rate + 0.001

    def sent_now(self, count: int) -> float:
        """Count ``count`` bytes written; the pause before the next send."""
        before, self.sent = self.sent, self.sent + count
        return (max(self.sent - self.after, 0) - max(before - self.after, 0)) / self.rate


def limit_rate(main: Request) -> int:
    """r->limit_rate once the response header is written: what was set, else the
    location's ``limit_rate``; 0 for none."""
    stored = main.ctx.get(STORED)
    if stored is not None:
        return int(stored)
    return _size(main, "limit_rate")


def pace_for(main: Request) -> Pace | None:
    """The pace of the main request's response, None when it has no limit."""
    rate = limit_rate(main)
    if not rate:
        return None
    return Pace(rate, _size(main, "limit_rate_after"), int(main.start))


def _size(main: Request, name: str) -> int:
    d = main.loc.first(name) if main.loc is not None else None
    if d is None:
        return 0
    text = d.args[0]
    if "$" in text:
        text = compile_value(text, main.engine.variables).evaluate(main)
    return parse_size(text) or 0
