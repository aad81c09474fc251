"""The export dialog: the selected request as JSON, curl or a Test::Nginx block.

The text is shown first (users want to see what they copy), then copied to the
clipboard or saved next to the config, named after the request number.
"""

from __future__ import annotations

import os

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, TextArea
from textual.widgets.option_list import Option

_EXT = {"json": "json", "curl": "sh", "test-nginx": "t"}


class ExportScreen(ModalScreen[None]):
    """Show an export; c copies, s saves to a file, escape closes."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("c", "copy", "Copy"),
        Binding("s", "save", "Save"),
    ]

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 90%; height: 85%; border: thick $primary; background: $surface;
    }
    ExportScreen TextArea { height: 1fr; }
    ExportScreen #export-buttons { height: 3; align-horizontal: right; }
    """

    def __init__(self, kind: str, text: str, basename: str, directory: str) -> None:
        super().__init__()
        self.kind = kind
        self.text = text
        self.basename = basename
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f" Export as {self.kind}  (c copy, s save, escape close)")
            yield TextArea(self.text, read_only=True, id="export-text",
                           language="json" if self.kind == "json" else None)
            with Horizontal(id="export-buttons"):
                yield Button("Copy", id="copy", variant="primary")
                yield Button("Save", id="save")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        {"copy": self.action_copy, "save": self.action_save,
         "close": self.action_close}[event.button.id or "close"]()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify("copied to the clipboard", title=f"Export {self.kind}")

    def action_save(self) -> None:
        path = os.path.join(self.directory, f"{self.basename}.{_EXT.get(self.kind, 'txt')}")
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(self.text)
        except OSError as e:
            self.notify(f"cannot write {path}: {e.strerror}", severity="error")
            return
        self.notify(path, title="Saved")

    def action_close(self) -> None:
        self.dismiss(None)


class ExportChooser(ModalScreen[str | None]):
    """Which export: JSON trace, curl, Test::Nginx (ctrl+o)."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    DEFAULT_CSS = """
    ExportChooser { align: center middle; }
    ExportChooser > OptionList { width: 40; height: auto; border: thick $primary; }
    """

    def compose(self) -> ComposeResult:
        yield OptionList(Option("JSON trace", id="json"), Option("curl command", id="curl"),
                         Option("Test::Nginx block", id="test-nginx"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
