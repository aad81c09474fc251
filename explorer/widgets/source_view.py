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
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
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


def highlight_source(text: str, first: int, last: int, lua: list[Any],
                     theme: Any, mark: int | None = None) -> Text:
    """Lines ``first..last`` of a file, numbered, nginx-highlighted with Lua bodies as Lua."""
    lines = text.splitlines(keepends=True)
    first = max(first, 1)
    last = min(last or len(lines), len(lines))
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    lo, hi = starts[first - 1], starts[last]
    spans: list[tuple[int, int]] = []
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
    numbered = Text()
    width = len(str(last))
    for n, line in enumerate(out.split("\n", allow_blank=True), start=first):
        if n > last:
            break
        gutter_style = "bold reverse" if n == mark else "dim"
        numbered.append(f"{n:>{width}} ", style=gutter_style)
        if n == mark:
            line.stylize("bold underline")
        numbered.append_text(line)
        numbered.append("\n")
    numbered.rstrip()
    return numbered


def effective_table(block: Any, short: Any) -> Table:
    """The directives in force in ``block``, each with where its value comes from."""
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


class SourceView(VerticalScroll, can_focus=True):
    """Source of the selected block, then its effective directives.

    | Key | Action |
    |-----|--------|
    | up/down, pageup/pagedown | scroll |
    """

    DEFAULT_CSS = """
    SourceView { background: $surface; overflow-x: auto; }
    SourceView > Static { width: auto; min-width: 100%; }
    SourceView > #source-title { text-style: bold; color: $primary; }
    SourceView > #effective { margin-top: 1; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.syntax_theme: Any = "monokai"
        self._root = ""
        self._last: tuple[Any, ...] | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="source-title")
        yield Static("Select a block in the config tree.", id="source")
        yield Static(id="effective")

    def _short(self, path: str) -> str:
        if self._root and path.startswith(self._root + os.sep):
            return os.path.relpath(path, self._root)
        return path

    def show_node(self, node: ConfigNode, parsed: Any, mark: int | None = None) -> None:
        """Show a tree node: its lines of source and, for blocks, what is in force."""
        self._last = (node, parsed, mark)
        self._root = os.path.dirname(parsed.conf_path)
        file = node.directive.file if node.directive is not None else node.file
        cf = parsed.files.get(file)
        title = self.query_one("#source-title", Static)
        src = self.query_one("#source", Static)
        eff = self.query_one("#effective", Static)
        if cf is None:
            title.update(self._short(file) or "")
            src.update(Text("(source not available)", style="dim"))
            eff.update("")
            return
        if node.directive is not None:
            first, last = node.line_range
            lua = _lua_directives([node.directive], file)
        else:
            first, last = 1, cf.text.count("\n") + 1
            lua = _lua_directives(parsed.directives, file)
        title.update(f"{self._short(file)}:{first}-{last}")
        src.update(highlight_source(cf.text, first, last, lua, self.syntax_theme, mark))
        block = node.block
        if block is not None:
            eff.update(Group(Text("effective directives", style="bold"),
                             effective_table(block, self._short)))
        else:
            eff.update("")
        if mark is not None:
            self.call_after_refresh(self._scroll_to_line, mark - first)
        else:
            self.scroll_home(animate=False)

    def rerender(self) -> None:
        """Show the same node again (the syntax theme changed)."""
        if self._last is not None:
            self.show_node(*self._last)

    def _scroll_to_line(self, offset: int) -> None:
        self.scroll_to(y=max(offset - 3, 0), animate=False)

    def show_error(self, error: Any, text: str | None, conf_path: str,
                   shown: str | None = None) -> None:
        """A config error as ``nginx -t`` prints it, with the offending line shown.

        ``shown`` replaces ``str(error)`` (snapshots hide absolute paths).
        """
        self._last = None
        file = getattr(error, "file", None)
        line = getattr(error, "line", None)
        self._root = os.path.dirname(conf_path)
        lines: list[RenderableType] = [
            Text(f"nginx: {shown or error}", style="bold red"),
            Text(f"nginx: configuration file "
                 f"{self._short(conf_path) if shown else conf_path} test failed",
                 style="red"),
        ]
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
        self.query_one("#source-title", Static).update("")
        self.query_one("#source", Static).update(renderable)
        self.query_one("#effective", Static).update("")
