"""Source and effective directives of the selected config block.

The source is the file text itself (never re-printed), highlighted with pygments' nginx
lexer, except ``*_by_lua_block`` bodies, which get the Lua lexer: the nginx lexer
would read Lua braces as blocks. Below it, every directive in force in the block,
marked "set here" or "inherited from ... at file:line"; for array-like directives
(``add_header``, ``proxy_set_header``...) the outer ones that a local definition
silently drops are listed as NOT inherited, which is the trap users hit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from .config_tree import ConfigNode

#: Block directives and structure that are not "values in force".
_STRUCTURAL = {"location", "server", "if", "include", "events", "http", "upstream",
               "limit_except", "types", "map", "geo", "split_clients", "stream", "mail"}


def _lua_directives(directives: list[Any], file: str) -> list[Any]:
    out = []
    for d in directives:
        if getattr(d, "lua_source", None) is not None and d.file == file:
            out.append(d)
        if d.block:
            out.extend(_lua_directives(d.block, file))
    return out


def highlight_lines(text: str, first: int, last: int, lua: list[Any], theme: Any,
                    all_lua: bool = False) -> tuple[list[Text], int, int]:
    """Lines ``first..last`` of a file, nginx-highlighted with Lua bodies as Lua (or all
    of it as Lua: a ``.lua`` file); returns the lines and the clamped range."""
    lines = text.splitlines(keepends=True)
    first = max(first, 1)
    last = min(last or len(lines), len(lines))
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    lo, hi = starts[first - 1], starts[last]
    spans: list[tuple[int, int]] = [(lo, hi)] if all_lua else []
    for d in lua:
        at = text.find(d.lua_source, starts[max(d.line - 1, 0)]) if d.lua_source else -1
        if at >= 0 and lo <= at and at + len(d.lua_source) <= hi:
            spans.append((at, at + len(d.lua_source)))
    spans.sort()
    out = Text()
    pos = lo
    nginx = Syntax("", "nginx", theme=theme)
    luasyn = Syntax("", "lua", theme=theme)
    for a, b in spans + [(hi, hi)]:
        for chunk, syn in ((text[pos:a], nginx), (text[a:b], luasyn)):
            if chunk:
                piece = syn.highlight(chunk)
                piece.rstrip()
                if chunk.endswith("\n"):
                    piece.append("\n")
                out.append_text(piece)
        pos = b
    return out.split("\n", allow_blank=True)[:max(last - first + 1, 0)], first, last


def number_lines(lines: list[Text], first: int, last: int, mark: int | None = None,
                 cursor: int | None = None, paused: int | None = None,
                 breakpoints: dict[int, bool] | None = None) -> Text:
    """Highlighted lines with a gutter: the number, then a marker (``●`` breakpoint, ``○``
    one that does not resolve, ``▶`` where a handler is paused); ``mark`` is a line shown
    from elsewhere (trace, logs), ``cursor`` the line ``b``/``r`` act on."""
    breakpoints = breakpoints or {}
    numbered = Text()
    width = len(str(last))
    for n, src in enumerate(lines, start=first):
        line = src.copy()
        marker, marker_style = " ", ""
        if n in breakpoints:
            marker, marker_style = ("●", "bold red") if breakpoints[n] else ("○", "red")
        if n == paused:
            marker, marker_style = "▶", "bold black on yellow"
        gutter_style = "bold reverse" if n in (mark, cursor) else "dim"
        if marker == " ":
            numbered.append(f"{n:>{width}} ", style=gutter_style)
        else:
            numbered.append(f"{n:>{width}}", style=gutter_style)
            numbered.append(marker, style=marker_style)
        if n == paused:
            line.stylize("bold reverse")
        elif n == mark:
            line.stylize("bold underline")
        numbered.append_text(line)
        numbered.append("\n")
    numbered.rstrip()
    return numbered


def highlight_source(text: str, first: int, last: int, lua: list[Any],
                     theme: Any, mark: int | None = None) -> Text:
    """Lines ``first..last`` of a file, numbered, nginx-highlighted with Lua bodies as Lua."""
    lines, first, last = highlight_lines(text, first, last, lua, theme)
    return number_lines(lines, first, last, mark)


def effective_table(block: Any, short: Any,
                    modelled: Callable[[str], bool] | None = None) -> Table:
    """The directives in force in ``block``, each with where its value comes from; those
    no engine module acts on (``gzip``, ``ssl_*``...) are marked "not modelled"."""
    table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
    table.add_column("directive", ratio=3, overflow="fold")
    table.add_column("where from", ratio=2, overflow="fold")
    names: list[str] = []
    for b in block.ancestors():
        for name in b.own:
            if name in _STRUCTURAL or name in names:
                continue
            specs = b.table.lookup(name)
            merge = specs[0].merge.value if specs else "inherit"
            if b is not block and merge == "none":
                continue
            names.append(name)
    for name in names:
        found, origin = block.lookup(name)
        for d in found:
            text = Text(f"{d.name} {' '.join(d.args)};".replace(" ;", ";"))
            if getattr(d, "lua_source", None) is not None:
                text = Text(f"{d.name} {{ … }}")
            if modelled is not None and not modelled(d.name):
                text.append("  (not modelled)", style="italic yellow")
            if origin is block:
                where = Text("set here", style="green")
            else:
                where = Text(f"inherited from {_kind(origin)} at {short(d.file)}:{d.line}",
                             style="dim")
            table.add_row(text, where)
        specs = block.table.lookup(name)
        if not specs or specs[0].merge.value != "array" or origin is None:
            continue
        for outer in origin.ancestors():
            if outer is origin:
                continue
            for d in outer.own.get(name, []):
                table.add_row(
                    Text(f"{d.name} {' '.join(d.args)};", style="strike red"),
                    Text(f"NOT inherited from {_kind(outer)} at {short(d.file)}:{d.line}: "
                         f"{_kind(origin)} has its own {name}", style="bold red"))
    if not names:
        table.add_row(Text("(no directives)", style="dim"), "")
    return table


def _kind(block: Any) -> str:
    if block is None:
        return "?"
    if block.kind in ("location", "if") and block.directive is not None:
        return block.label()
    return block.kind


@dataclass
class _Shown:
    """The file lines on screen, highlighted once (cursor moves only redo the gutter)."""

    file: str
    first: int
    last: int
    lines: list[Text]


class SourceView(VerticalScroll, can_focus=True):
    """Source of the selected block, then its effective directives.

    | Key | Action |
    |-----|--------|
    | up/down, pageup/pagedown, home/end | move the line cursor |
    | b | set / delete a breakpoint on the cursor line (Lua code only) |
    | r | while a handler is paused: run to the cursor line |

    In the gutter, ``●`` marks a breakpoint, ``○`` one that no longer resolves (after a
    reload), ``▶`` the line a paused handler stopped at.
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-20)", "Page up", show=False),
        Binding("pagedown", "cursor(20)", "Page down", show=False),
        Binding("home", "cursor(-1000000)", "First line", show=False),
        Binding("end", "cursor(1000000)", "Last line", show=False),
        Binding("b", "toggle_breakpoint", "Breakpoint"),
        Binding("r", "run_to_cursor", "Run to line", show=False),
    ]

    DEFAULT_CSS = """
    SourceView { background: $surface; overflow-x: auto; }
    SourceView > Static { width: auto; min-width: 100%; }
    SourceView > #source-title { text-style: bold; color: $primary; }
    SourceView > #effective { margin-top: 1; }
    """

    class BreakpointToggled(Message):
        """``b`` on ``file:line`` (``on_source_view_breakpoint_toggled``)."""

        def __init__(self, view: SourceView, file: str, line: int) -> None:
            super().__init__()
            self.view = view
            self.file = file
            self.line = line

        @property
        def control(self) -> SourceView:
            return self.view

    class RunToRequested(BreakpointToggled):
        """``r`` on ``file:line`` while paused (``on_source_view_run_to_requested``)."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.syntax_theme: Any = "monokai"
        self._root = ""
        self._prefix = ""
        self._last: tuple[Any, ...] | None = None
        self._shown: _Shown | None = None
        self._mark: int | None = None
        self.cursor: int | None = None
        #: absolute path → {line: resolved?}, from the app's breakpoints (data down).
        self.breakpoints: dict[str, dict[int, bool]] = {}
        #: (absolute path, line) where a handler is paused, if any.
        self.paused_at: tuple[str, int] | None = None
        #: Whether the engine acts on a directive (set by the app: Engine.is_modelled).
        self.modelled: Callable[[str], bool] | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="source-title")
        yield Static("Select a block in the config tree.", id="source")
        yield Static(id="effective")

    @property
    def file(self) -> str | None:
        """The file whose lines are shown (None for a message or an error)."""
        return self._shown.file if self._shown is not None else None

    def _short(self, path: str) -> str:
        for root in (self._root, self._prefix):
            if root and path.startswith(root + os.sep):
                return os.path.relpath(path, root)
        return path

    def show_node(self, node: ConfigNode, parsed: Any, mark: int | None = None) -> None:
        """Show a tree node: its lines of source and, for blocks, what is in force; a
        ``*_by_lua_file`` handler shows its Lua file."""
        self._last = (node, parsed, mark)
        self._root = os.path.dirname(parsed.conf_path)
        self._prefix = parsed.prefix
        d = node.directive
        if d is not None and d.name.endswith("_by_lua_file") and d.args:
            path = d.args[-1]
            path = os.path.realpath(path if os.path.isabs(path)
                                    else os.path.join(parsed.prefix, path))
            if os.path.isfile(path):
                self.show_lua_file(path, mark, f" ({d.name} at {self._short(d.file)}:{d.line})")
                return
        file = d.file if d is not None else node.file
        cf = parsed.files.get(file)
        title = self.query_one("#source-title", Static)
        eff = self.query_one("#effective", Static)
        if cf is None:
            self._shown = None
            title.update(self._short(file) or "")
            self.query_one("#source", Static).update(Text("(source not available)",
                                                          style="dim"))
            eff.update("")
            return
        if d is not None:
            first, last = node.line_range
            lua = _lua_directives([d], file)
        else:
            first, last = 1, cf.text.count("\n") + 1
            lua = _lua_directives(parsed.directives, file)
        title.update(f"{self._short(file)}:{first}-{last}")
        lines, first, last = highlight_lines(cf.text, first, last, lua, self.syntax_theme)
        block = node.block
        if block is not None:
            eff.update(Group(Text("effective directives", style="bold"),
                             effective_table(block, self._short, self.modelled)))
        else:
            eff.update("")
        self._show_lines(_Shown(file, first, last, lines), mark)

    def show_lua_file(self, path: str, mark: int | None = None, note: str = "") -> None:
        """A Lua file (a ``*_by_lua_file`` handler, a module a paused handler is in)."""
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as e:
            self.show_message(Text(f"cannot read {path}: {e.strerror}", style="red"))
            return
        self._last = ("lua", path, mark, note)
        lines, first, last = highlight_lines(text, 1, text.count("\n") + 1, [],
                                             self.syntax_theme, all_lua=True)
        self.query_one("#source-title", Static).update(f"{self._short(path)}{note}")
        self.query_one("#effective", Static).update("")
        self._show_lines(_Shown(path, first, last, lines), mark)

    def _show_lines(self, shown: _Shown, mark: int | None) -> None:
        self._shown = shown
        self._mark = mark
        paused = self._paused_line()
        target = mark if mark is not None else paused
        self.cursor = target if target is not None else shown.first
        self._render_lines()
        if target is not None:
            self.call_after_refresh(self._scroll_to_line, target - shown.first)
        else:
            self.scroll_home(animate=False)

    def _paused_line(self) -> int | None:
        shown = self._shown
        if shown is None or self.paused_at is None or self.paused_at[0] != shown.file:
            return None
        line = self.paused_at[1]
        return line if shown.first <= line <= shown.last else None

    def _render_lines(self) -> None:
        shown = self._shown
        if shown is None:
            return
        self.query_one("#source", Static).update(number_lines(
            shown.lines, shown.first, shown.last, self._mark,
            self.cursor if self.has_focus else None, self._paused_line(),
            self.breakpoints.get(shown.file)))

    def set_debug_marks(self, breakpoints: dict[str, dict[int, bool]],
                        paused_at: tuple[str, int] | None) -> None:
        """Data down: breakpoint markers and the paused line (redraws only the gutter)."""
        moved = paused_at is not None and paused_at != self.paused_at
        self.breakpoints = breakpoints
        self.paused_at = paused_at
        self._render_lines()
        line = self._paused_line()
        if moved and line is not None and self._shown is not None:
            self.cursor = line
            self._render_lines()
            self.call_after_refresh(self._scroll_to_line, line - self._shown.first)

    def rerender(self) -> None:
        """Show the same node again (the syntax theme changed)."""
        if self._last is None:
            return
        if self._last[0] == "lua":
            self.show_lua_file(*self._last[1:])
        else:
            self.show_node(*self._last)

    def _scroll_to_line(self, offset: int) -> None:
        self.scroll_to(y=max(offset - 3, 0), animate=False)

    # -- the line cursor -------------------------------------------------------------------

    def on_focus(self) -> None:
        self._render_lines()

    def on_blur(self) -> None:
        self._render_lines()

    def action_cursor(self, delta: int) -> None:
        shown = self._shown
        if shown is None:
            self.scroll_relative(y=max(min(delta, 20), -20), animate=False)
            return
        current = self.cursor if self.cursor is not None else shown.first
        self.cursor = min(max(current + delta, shown.first), shown.last)
        self._render_lines()
        row = 1 + self.cursor - shown.first  # the title takes the first row
        height = self.scrollable_content_region.height
        if row < self.scroll_y + 1:
            self.scroll_to(y=max(row - 1, 0), animate=False)
        elif row >= self.scroll_y + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_toggle_breakpoint(self) -> None:
        if self._shown is not None and self.cursor is not None:
            self.post_message(self.BreakpointToggled(self, self._shown.file, self.cursor))

    def action_run_to_cursor(self) -> None:
        if self._shown is not None and self.cursor is not None:
            self.post_message(self.RunToRequested(self, self._shown.file, self.cursor))

    def show_error(self, error: Any, text: str | None, conf_path: str,
                   shown: str | None = None) -> None:
        """A config error as ``nginx -t`` prints it, with the offending line shown.

        ``shown`` replaces ``str(error)`` (snapshots hide absolute paths).
        """
        self._last = None
        self._shown = None
        file = getattr(error, "file", None)
        line = getattr(error, "line", None)
        self._root = os.path.dirname(conf_path)
        lines: list[RenderableType] = [Text(f"nginx: {shown or error}", style="bold red")]
        if getattr(error, "level", "emerg") != "error":  # not init_by_lua: -t fails too
            lines.append(Text(f"nginx: configuration file "
                              f"{self._short(conf_path) if shown else conf_path} test failed",
                              style="red"))
        self.query_one("#source-title", Static).update(
            f"{self._short(file)}:{line}" if file and line else "configuration error")
        if text is not None and line:
            first = max(line - 5, 1)
            last = line + 5
            lines.append(Text(""))
            lines.append(highlight_source(text, first, last, [], self.syntax_theme, line))
        self.query_one("#source", Static).update(Group(*lines))
        self.query_one("#effective", Static).update("")

    def show_message(self, renderable: RenderableType) -> None:
        self._shown = None
        self.query_one("#source-title", Static).update("")
        self.query_one("#source", Static).update(renderable)
        self.query_one("#effective", Static).update("")
