"""Every request served, newest first: from the composer and from the live listener.

Rows are added in batches (one refresh per frame, however many requests arrived) and
the list keeps the newest ``limit`` exchanges, since each holds a full trace; the total
served is counted separately so nothing silently disappears from the numbers.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text

from .line_list import LineList
from .response_view import status_style


class RequestsList(LineList):
    """Served requests, newest first.

    | Key | Action |
    |-----|--------|
    | up/down | highlight a request (shows its response and trace) |
    | enter | show it and focus the trace |
    | home | newest |
    """

    def __init__(self, *, limit: int = 1000, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.limit = limit
        #: Newest first.
        self.exchanges: list[Any] = []
        self._origins: dict[int, str] = {}
        self._numbers: dict[int, int] = {}
        self.total = 0
        self._pending: list[tuple[Any, str]] = []
        #: Hide clock times and durations so snapshots are stable.
        self.stable = False

    def on_mount(self) -> None:
        self.set_interval(1 / 20, self.flush)

    def add(self, exchange: Any, origin: str = "composer") -> None:
        """Queue an exchange; it appears at the next flush (at most ~20 per second)."""
        self.total += 1
        self._numbers[id(exchange)] = self.total
        self._origins[id(exchange)] = origin
        self._pending.append((exchange, origin))

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        selected = self.selected
        new = [ex for ex, _ in reversed(batch)]
        self.exchanges[:0] = new
        if len(self.exchanges) > self.limit:
            for ex in self.exchanges[self.limit:]:
                self._origins.pop(id(ex), None)
                self._numbers.pop(id(ex), None)
            del self.exchanges[self.limit:]
        if selected is not None and self.cursor >= 0:
            try:
                self.set_reactive(RequestsList.cursor, self.exchanges.index(selected))
            except ValueError:
                self.set_reactive(RequestsList.cursor, -1)
        self.rows_changed(widest=120)
        self._update_title()

    def _update_title(self) -> None:
        parent = self.parent
        if parent is not None:
            shown = len(self.exchanges)
            extra = f", newest {shown} kept" if self.total > shown else ""
            parent.border_subtitle = f"{self.total} served{extra}"

    @property
    def selected(self) -> Any | None:
        if 0 <= self.cursor < len(self.exchanges):
            return self.exchanges[self.cursor]
        return None

    def row_count(self) -> int:
        return len(self.exchanges)

    def row_text(self, index: int) -> Text:
        ex = self.exchanges[index]
        resp = ex.response
        number = self._numbers.get(id(ex), 0)
        origin = self._origins.get(id(ex), "")
        clock = "--:--:--" if self.stable else time.strftime(
            "%H:%M:%S", time.localtime(ex.started or time.time()))
        ms = "" if self.stable else f"{ex.duration_ms:6.1f}ms"
        target = ex.request.target
        if len(target) > 28:
            target = target[:27] + "…"
        return Text.assemble(
            (f"{number:>4} ", "dim"), (f"{ex.request.method:<6} ", "bold"),
            (f"{resp.status:>3} ", status_style(resp.status)),
            (f"{target:<28} ", ""), (f"{ex.location or '-':<16} ", "green"),
            (f"{ms} ", "dim"), (clock, "dim"),
            (" ⇄" if origin == "listener" else "", "magenta"),
        )

    def clear(self) -> None:
        self.exchanges.clear()
        self._origins.clear()
        self._numbers.clear()
        self.cursor = -1
        self.rows_changed()
