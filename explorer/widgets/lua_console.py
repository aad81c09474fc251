"""A Lua REPL against the running engine (``engine.lua_eval``).

Multi-line input, because OpenResty snippets rarely fit one line; results and errors
are shown exactly as the engine's Lua reports them (``[string "..."]:1: ...``), never as
a Python traceback. The console only asks: the app owns the engine and answers with
:meth:`LuaConsole.show_result`.

Lines starting with ``:`` are debugger commands (``:break nginx.conf:22``, ``:breaks``,
``:delete N``, ``:break-on-error on``, ``:help``), posted as :class:`LuaConsole.CommandRequested`.
While a handler is paused, Lua runs in its selected frame instead of the worker's globals.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RichLog, TextArea


class LuaConsole(Vertical):
    """Evaluate Lua in the engine.

    | Key | Action |
    |-----|--------|
    | ctrl+s | run the input |
    | ctrl+up / ctrl+down | previous / next input from history |
    | ctrl+l | clear the output |

    Debugger commands: `:break FILE:LINE [hit N] [if EXPR]`, `:delete N` (or `all`),
    `:breaks`, `:break-on-error on|off`, `:help`.
    """

    BINDINGS = [
        Binding("ctrl+s", "run", "Run Lua", priority=True),
        Binding("ctrl+up", "history(-1)", "Older"),
        Binding("ctrl+down", "history(1)", "Newer", show=False),
        Binding("ctrl+l", "clear", "Clear output", show=False),
    ]

    DEFAULT_CSS = """
    LuaConsole { height: 1fr; }
    LuaConsole RichLog { height: 1fr; background: $surface; }
    LuaConsole TextArea { height: 5; }
    """

    class _Submitted(Message):
        """Something typed in the console: ``source`` is the text."""

        def __init__(self, console: LuaConsole, source: str) -> None:
            super().__init__()
            self.console = console
            self.source = source

        @property
        def control(self) -> LuaConsole:
            return self.console

    class EvalRequested(_Submitted):
        """Run ``source`` (handled by the app as ``on_lua_console_eval_requested``)."""

    class CommandRequested(_Submitted):
        """A ``:command`` line (``on_lua_console_command_requested``); ``source`` is the line."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.history: list[str] = []
        self._pos: int | None = None

    def compose(self) -> ComposeResult:
        yield RichLog(id="lua-output", wrap=True, markup=False, max_lines=2000)
        yield TextArea("", id="lua-input", language=None, soft_wrap=True,
                       placeholder="return ngx.md5(\"hello\")   (ctrl+s runs)")

    def action_run(self) -> None:
        area = self.query_one("#lua-input", TextArea)
        source = area.text.strip()
        if not source:
            return
        if not self.history or self.history[-1] != source:
            self.history.append(source)
        self._pos = None
        out = self.query_one("#lua-output", RichLog)
        for i, line in enumerate(source.splitlines()):
            out.write(Text(("> " if i == 0 else "  ") + line, style="bold"))
        area.text = ""
        if source.startswith(":"):
            self.post_message(self.CommandRequested(self, source))
        else:
            self.post_message(self.EvalRequested(self, source))

    def show_result(self, ok: bool, text: str) -> None:
        """Data down from the app: what the engine's Lua answered."""
        out = self.query_one("#lua-output", RichLog)
        out.write(Text(text if text else "(no value)", style="" if ok else "bold red"))

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        pos = len(self.history) if self._pos is None else self._pos
        pos = min(max(pos + delta, 0), len(self.history) - 1)
        self._pos = pos
        self.query_one("#lua-input", TextArea).text = self.history[pos]

    def action_clear(self) -> None:
        self.query_one("#lua-output", RichLog).clear()
