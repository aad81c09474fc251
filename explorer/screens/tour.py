"""The tour picker: the samples' concepts with their explanation; enter sends the
concept's requests (they also land in the composer, to be changed and sent again)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..tour import Concept


class TourPicker(ModalScreen[Concept | None]):
    """One option per concept: its title, its explanation and the requests it sends."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    DEFAULT_CSS = """
    TourPicker { align: center middle; }
    TourPicker > OptionList { width: 90%; height: 85%; border: thick $primary; }
    """

    def __init__(self, concepts: list[Concept]) -> None:
        super().__init__()
        self.concepts = concepts

    def compose(self) -> ComposeResult:
        if not self.concepts:
            yield OptionList(Option("(the samples are not installed)", disabled=True))
            return
        options = []
        for i, c in enumerate(self.concepts):
            prompt = Text()
            prompt.append(f"{c.number:>2}. {c.title}\n", style="bold")
            prompt.append(c.explanation + "\n", style="dim")
            prompt.append("    " + "   ".join(e.summary for e in c.requests))
            options.append(Option(prompt, id=str(i)))
        yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.concepts[int(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
