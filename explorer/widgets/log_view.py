"""Live access and error logs, in nginx's own line format, filtered by level and text.

Records arrive from ``engine.on_log`` at request speed; they are queued and moved into
a bounded ring (``limit`` lines) once per frame, so a burst of traffic costs one
refresh, not one per line (PERF.md: RichLog stays responsive to ~8.5 k lines/s only
when batched). Filtering re-scans only the ring, never the files.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Select

from .line_list import LineList

#: nginx's levels, most severe first (ngx.STDERR .. ngx.DEBUG).
LEVELS = ["stderr", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"]
LEVEL_NUM = {name: i for i, name in enumerate(LEVELS)}
_STYLE = {"stderr": "bold red", "emerg": "bold red", "alert": "bold red", "crit": "bold red",
          "error": "red", "warn": "yellow", "notice": "cyan", "info": "", "debug": "dim"}


@dataclass(slots=True)
class LogEntry:
    seq: int
    level: int
    access: bool
    line: str
    folded: str


class LogLines(LineList):
    """The filtered lines (a view over the ring kept by :class:`LogView`)."""

    def __init__(self, view: LogView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view

    def row_count(self) -> int:
        return len(self.view.shown)

    def row_text(self, index: int) -> Text:
        e = self.view.shown[index]
        if e.access:
            return Text(e.line, style="#8FBF6F")
        return Text(e.line, style=_STYLE.get(LEVELS[e.level], ""))


class LogView(Vertical):
    """Access and error logs, live.

    | Key | Action |
    |-----|--------|
    | / | search (case-insensitive text) |
    | l / L | show fewer / more levels (emerg … debug) |
    | s | source: all, error log, access log |
    | f | follow the newest line on/off |
    | c | copy the highlighted line |
    | x | clear |
    """

    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("l", "level(-1)", "Fewer levels"),
        Binding("L", "level(1)", "More levels", show=False),
        Binding("s", "cycle_source", "Source", show=False),
        Binding("f", "toggle_follow", "Follow"),
        Binding("c", "copy_line", "Copy line"),
        Binding("x", "clear", "Clear", show=False),
    ]

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView #log-bar { height: 1; }
    LogView #log-bar Select { width: 18; }
    LogView #log-bar Input { width: 1fr; }
    LogView #log-bar Label { width: auto; padding: 0 1; }
    LogView Select > SelectCurrent, LogView #log-bar Input { border: none; height: 1; padding: 0 1; }
    LogView LogLines { height: 1fr; }
    """

    level: reactive[int] = reactive(LEVEL_NUM["debug"])
    """The least severe error-log level shown."""
    source: reactive[str] = reactive("all")
    """Which log: "all", "error" or "access"."""
    search: reactive[str] = reactive("")
    """Case-insensitive text a line must contain."""
    follow: reactive[bool] = reactive(True)
    """Keep the newest line in view."""

    def __init__(self, *, limit: int = 5000, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.limit = limit
        self.ring: list[LogEntry] = []
        self.shown: list[LogEntry] = []
        self._pending: list[tuple[str, bool, str]] = []
        self._seq = 0
        self.received = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Select([("all logs", "all"), ("error log", "error"), ("access log", "access")],
                         value="all", allow_blank=False, id="log-source", compact=True)
            yield Select([(f"≤ {name}", LEVEL_NUM[name]) for name in LEVELS[1:]],
                         value=LEVEL_NUM["debug"], allow_blank=False, id="log-level",
                         compact=True)
            yield Input(placeholder="search logs", id="log-search", compact=True)
            yield Label("following", id="log-follow")
        yield LogLines(self, id="log-lines")

    def on_mount(self) -> None:
        self.set_interval(1 / 20, self.flush)

    # -- input ----------------------------------------------------------------------------

    def add_record(self, record: object) -> None:
        """Queue one LogRecord (engine callback; cheap, no rendering here)."""
        self.received += 1
        self._pending.append((getattr(record, "level", "error"),
                              getattr(record, "log", "error") == "access",
                              getattr(record, "line", str(record))))

    def add_line(self, level: str, line: str, access: bool = False) -> None:
        self.received += 1
        self._pending.append((level, access, line))

    def _matches(self, e: LogEntry) -> bool:
        if e.access:
            if self.source == "error":
                return False
        elif self.source == "access" or e.level > self.level:
            return False
        return not self.search or self.search in e.folded

    def flush(self) -> None:
        """Move queued lines into the ring and the view: one refresh per batch."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if len(batch) > self.limit:
            batch = batch[-self.limit:]
        widest = 0
        for level, access, line in batch:
            self._seq += 1
            e = LogEntry(self._seq, LEVEL_NUM.get(level, 4), access, line, line.lower())
            self.ring.append(e)
            if self._matches(e):
                self.shown.append(e)
                widest = max(widest, len(line))
        if len(self.ring) > self.limit:
            del self.ring[: len(self.ring) - self.limit]
            oldest = self.ring[0].seq
            drop = 0
            while drop < len(self.shown) and self.shown[drop].seq < oldest:
                drop += 1
            if drop:
                del self.shown[:drop]
                lines = self.query_one(LogLines)
                if lines.cursor >= 0:
                    lines.set_reactive(LineList.cursor, max(lines.cursor - drop, 0))
        self._after_change(widest)

    def _after_change(self, widest: int | None = None) -> None:
        lines = self.query_one(LogLines)
        lines.rows_changed(widest)
        if self.follow and self.shown:
            lines.set_reactive(LineList.cursor, len(self.shown) - 1)
            lines.scroll_end(animate=False, immediate=True)
        total = len(self.ring)
        self.border_subtitle = f"{len(self.shown)} shown / {total} kept"

    def refilter(self) -> None:
        self.shown = [e for e in self.ring if self._matches(e)]
        lines = self.query_one(LogLines)
        lines.reset_width()
        lines.set_reactive(LineList.cursor, len(self.shown) - 1 if self.follow else -1)
        self._after_change(max((len(e.line) for e in self.shown), default=0))

    # -- filters --------------------------------------------------------------------------

    def watch_level(self) -> None:
        if self.is_mounted:
            self.query_one("#log-level", Select).value = self.level
            self.refilter()

    def watch_source(self) -> None:
        if self.is_mounted:
            self.query_one("#log-source", Select).value = self.source
            self.refilter()

    def watch_search(self) -> None:
        if self.is_mounted:
            self.refilter()

    def watch_follow(self, follow: bool) -> None:
        if self.is_mounted:
            self.query_one("#log-follow", Label).update("following" if follow else "paused")
            if follow:
                self._after_change()

    @on(Select.Changed, "#log-level")
    def _level_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, int):
            self.level = event.value

    @on(Select.Changed, "#log-source")
    def _source_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.source = event.value

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value.strip().lower()

    @on(Input.Submitted, "#log-search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(LogLines).focus()

    @on(LineList.Highlighted)
    def _moved(self, event: LineList.Highlighted) -> None:
        event.stop()
        lines = self.query_one(LogLines)
        if self.follow and event.index != len(self.shown) - 1 and lines.has_focus:
            self.follow = False

    # -- actions --------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#log-search", Input).focus()

    def action_level(self, delta: int) -> None:
        self.level = min(max(self.level + delta, LEVEL_NUM["emerg"]), LEVEL_NUM["debug"])

    def action_cycle_source(self) -> None:
        order = ["all", "error", "access"]
        self.source = order[(order.index(self.source) + 1) % len(order)]

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_copy_line(self) -> None:
        lines = self.query_one(LogLines)
        if 0 <= lines.cursor < len(self.shown):
            text = self.shown[lines.cursor].line
            self.app.copy_to_clipboard(text)
            self.notify(text[:200], title="Copied log line")

    def action_clear(self) -> None:
        self.ring.clear()
        self.shown.clear()
        lines = self.query_one(LogLines)
        lines.reset_width()
        lines.set_reactive(LineList.cursor, -1)
        self._after_change(0)
