"""A titled pane: the unit the one-key-per-pane focus, F1 help and F10 maximise act on."""

from __future__ import annotations

from textual.containers import Vertical


class Pane(Vertical):
    """A bordered container whose title names the pane and its focus key."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    Pane {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        height: 1fr;
        &:focus-within {
            border: round $primary;
            border-title-color: $primary;
            border-title-style: bold;
        }
    }
    """

    def __init__(self, title: str, key: str, *, help_class: type | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = f"{title} · {key}"
        self.title = title
        self.key = key
        #: Whose docstring F1 shows for this pane.
        self.help_class = help_class
