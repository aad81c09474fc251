"""F1: help for the focused pane, built from that pane's own docstring.

Each pane documents its keys as a markdown table in its class docstring (the Textual
widget convention), so the help cannot drift from the bindings it describes.
"""

from __future__ import annotations

import inspect

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

GLOBAL_KEYS = """\
## Everywhere

| Key | Action |
|-----|--------|
| F2 … F9 | focus config, source, composer, requests, response, trace, logs, Lua |
| F12 | focus the Debug pane |
| b (source pane) | set / delete a breakpoint on the cursor line |
| c / n / s / o | while a Lua handler is paused: continue, step over, step into, step out |
| F10 | maximise / restore the focused pane (escape restores too) |
| ctrl+s | send the composer's request (in the Lua console: run) |
| ctrl+r | reload the configuration (also automatic when a file changes) |
| ctrl+o | export the selected request (JSON, curl, Test::Nginx) |
| ctrl+p | command palette: reload, theme, export, clear logs, focus a pane |
| F1 | this help |
| ctrl+q | quit |
"""


class HelpScreen(ModalScreen[None]):
    """Help for one pane plus the global keys; escape or F1 closes it."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80%; max-width: 100; height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, title: str, widget_class: type | None) -> None:
        super().__init__()
        self.title_text = title
        self.widget_class = widget_class

    def compose(self) -> ComposeResult:
        doc = inspect.getdoc(self.widget_class) if self.widget_class else ""
        body = f"# {self.title_text}\n\n{doc or ''}\n\n{GLOBAL_KEYS}"
        with VerticalScroll():
            yield Markdown(body)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
