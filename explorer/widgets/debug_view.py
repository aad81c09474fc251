"""The Debug pane: a paused Lua handler, seen from the UI while the engine waits.

It shows where and why the handler stopped (request, phase, chunk), the call stack, the
selected frame's locals and upvalues with ``ngx.ctx``, and takes Lua to evaluate in that
frame. It holds copies only: the app reads the paused VM on the engine's thread
(``explorer.debugging``) and hands the results down; the pane reports the user's picks up
with messages.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, RichLog, Static, Tree
from textual.widgets.option_list import Option

from engine.lua.debugger import PauseInfo

_REASONS = {"breakpoint": "breakpoint", "step": "step", "run_to": "run to cursor",
            "error": "error"}


class DebugView(Vertical):
    """The paused handler: where, why, its stack, the frame's variables, Lua to evaluate.

    | Key | Action |
    |-----|--------|
    | c | continue |
    | n | step over (the next line, running calls) |
    | s | step into (the next line of Lua, inside a call) |
    | o | step out (the next line of the caller) |
    | r (in the source pane) | run to the cursor line |
    | b (in the source pane) | set / delete a breakpoint on the cursor line |
    | up/down in the stack | select a frame: its variables, and its line in the source pane |
    | enter in the Lua field | evaluate in the selected frame (`x = 5` assigns, `$uri` shows a variable) |

    The keys work wherever focus is not in a text field. While a handler is paused the
    engine waits (a single-worker nginx stopped in gdb): other requests, from the composer
    or the listener, wait too, and the status line counts them.
    """

    DEFAULT_CSS = """
    DebugView { height: 1fr; background: $surface; }
    DebugView > #debug-status { height: auto; max-height: 3; padding: 0 1; }
    DebugView > #debug-body { height: 1fr; min-height: 3; }
    DebugView #debug-stack { width: 2fr; border: none; background: $surface; }
    DebugView #debug-vars { width: 3fr; background: $surface; }
    DebugView > #debug-eval { height: 1; border: none; padding: 0 1; }
    DebugView > #debug-output { height: 3; background: $surface; }
    """

    class FrameSelected(Message):
        """The user picked a frame of the stack (``on_debug_view_frame_selected``)."""

        def __init__(self, view: DebugView, index: int) -> None:
            super().__init__()
            self.view = view
            self.index = index

        @property
        def control(self) -> DebugView:
            return self.view

    class EvalRequested(Message):
        """Evaluate ``source`` in frame ``frame`` (``on_debug_view_eval_requested``)."""

        def __init__(self, view: DebugView, source: str, frame: int) -> None:
            super().__init__()
            self.view = view
            self.source = source
            self.frame = frame

        @property
        def control(self) -> DebugView:
            return self.view

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.info: PauseInfo | None = None
        self._frame = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("Not paused. Set a breakpoint with b on a line of Lua in the "
                          "source pane (or :break FILE:LINE in the Lua console), then send "
                          "a request.", style="dim"), id="debug-status")
        with Horizontal(id="debug-body"):
            yield OptionList(id="debug-stack")
            tree: Tree[None] = Tree("variables", id="debug-vars")
            tree.show_root = False
            yield tree
        yield Input(placeholder="Lua in the selected frame (enter evaluates; x = 5 assigns; "
                    "$uri shows a variable)", id="debug-eval", compact=True, disabled=True)
        yield RichLog(id="debug-output", wrap=True, markup=False, max_lines=500)

    # -- data down ----------------------------------------------------------------------

    def show_pause(self, info: PauseInfo, waiting: str) -> None:
        """A new pause: status, stack (frame 0 selected) and the top frame's variables."""
        self.info = info
        self.show_status(waiting)
        stack = self.query_one("#debug-stack", OptionList)
        self._frame = 0
        stack.clear_options()
        stack.add_options([Option(Text.assemble((f"#{f.index} ", "dim"), (f.function, "bold"),
                                                f"  {f.where}")) for f in info.frames])
        if info.frames:
            stack.highlighted = 0
        self.show_variables(list(info.locals), list(info.upvalues), list(info.ctx))
        self.query_one("#debug-eval", Input).disabled = False

    def show_status(self, waiting: str) -> None:
        """The status line: why and where it stopped, and what the rest of the engine does."""
        info = self.info
        if info is None:
            return
        reason = _REASONS.get(info.reason, info.reason)
        text = Text.assemble((f"⏸ {reason}", "bold reverse"), " ", (info.where, "bold"))
        text.append(f"\nphase {info.phase or '?'} · chunk {info.chunk or '?'}", style="dim")
        if info.method:
            text.append(f" · request {info.method} {info.uri}", style="dim")
        if info.error:
            text.append(f"\nerror: {info.error}", style="bold red")
            text.append("  (only continue goes on from an error)", style="dim")
        if info.note:
            text.append(f"\n{info.note}", style="yellow")
        if waiting:
            text.append(f"\n{waiting}", style="bold yellow")
        self._update_status(text)

    def show_variables(self, locals_: Sequence[tuple[str, str]],
                       upvalues: Sequence[tuple[str, str]],
                       ctx: Sequence[tuple[str, str]]) -> None:
        """The selected frame's locals and upvalues, and the request's ngx.ctx."""
        tree = self.query_one("#debug-vars", Tree)
        tree.clear()
        for title, pairs in (("locals", locals_), ("upvalues", upvalues), ("ngx.ctx", ctx)):
            node = tree.root.add(Text(f"{title} ({len(pairs)})", style="bold"), expand=True)
            for name, value in pairs:
                node.add_leaf(Text.assemble((name, "bold"), " = ", value))
        tree.root.expand()

    def show_result(self, source: str, ok: bool, text: str) -> None:
        out = self.query_one("#debug-output", RichLog)
        out.write(Text(f"> {source}", style="bold"))
        out.write(Text(text if text else "(no value)", style="" if ok else "bold red"))

    def show_running(self, text: str) -> None:
        """The handler went on (a step ends in a new pause, shown then)."""
        self.info = None
        self._update_status(Text(text, style="dim"))
        for field in self.query("#debug-eval").results(Input):
            field.disabled = True

    def _update_status(self, text: Text) -> None:
        """Quitting while paused, a late tick finds the view emptied: nothing to show."""
        for status in self.query("#debug-status").results(Static):
            status.update(text)

    # -- events up ----------------------------------------------------------------------

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.info is not None and event.option_index != self._frame:
            self._frame = event.option_index
            self.post_message(self.FrameSelected(self, event.option_index))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        source = event.value.strip()
        if not source or self.info is None:
            return
        event.input.value = ""
        self.post_message(self.EvalRequested(self, source, self._frame))
