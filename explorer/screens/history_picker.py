"""Pick a request from the composer's history; it fills the form, it is never sent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..history import HistoryEntry


class HistoryPicker(ModalScreen[HistoryEntry | None]):
    """Sent requests, newest first; enter loads one into the composer."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    DEFAULT_CSS = """
    HistoryPicker { align: center middle; }
    HistoryPicker > OptionList { width: 80%; height: 70%; border: thick $primary; }
    """

    def __init__(self, entries: list[HistoryEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        options = [Option(e.summary, id=str(i)) for i, e in enumerate(self.entries)]
        yield OptionList(*options) if options else OptionList(Option("(no history yet)",
                                                                     disabled=True))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.entries[int(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
