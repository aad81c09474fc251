"""A virtual list of one-line rows with a cursor: the base of the logs and requests panes.

Both panes may hold thousands of rows that change many times a second. Rendering only
the visible lines through the line API (``render_line``) keeps each refresh's cost
proportional to the screen height, not to the number of rows, which is what keeps
the UI responsive under heavy traffic (PERF.md: batch per frame, never one widget
per row).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineList(ScrollView, can_focus=True):
    """Rows rendered on demand by :meth:`row_text`; subclasses own the data.

    | Key | Action |
    |-----|--------|
    | up/down, pageup/pagedown | move the cursor |
    | home/end | first / last row |
    | enter | choose the row |
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "choose", "Choose", show=False),
    ]

    DEFAULT_CSS = """
    LineList {
        background: $surface;
        scrollbar-size-vertical: 1;
        & > .line-list--cursor { background: $accent 30%; }
        &:focus > .line-list--cursor { background: $accent 60%; text-style: bold; }
    }
    """

    COMPONENT_CLASSES = {"line-list--cursor"}

    cursor: reactive[int] = reactive(-1, always_update=True)
    """Index of the highlighted row (-1: none)."""

    class Highlighted(Message):
        """The cursor moved; handled as ``on_line_list_highlighted``."""

        def __init__(self, line_list: LineList, index: int) -> None:
            super().__init__()
            self.line_list = line_list
            self.index = index

        @property
        def control(self) -> LineList:
            return self.line_list

    class Chosen(Highlighted):
        """Enter (or a click) on a row; handled as ``on_line_list_chosen``."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._width = 0

    # -- subclass interface ------------------------------------------------------------

    def row_count(self) -> int:
        return 0

    def row_text(self, index: int) -> Text:
        return Text()

    # -- data changed -------------------------------------------------------------------

    def rows_changed(self, widest: int | None = None) -> None:
        """Call after the rows changed: resizes the virtual area and repaints."""
        if widest is not None:
            self._width = max(self._width, widest)
        self.virtual_size = Size(max(self._width, 1), self.row_count())
        self.refresh()

    def reset_width(self) -> None:
        self._width = 0

    # -- rendering ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= self.row_count():
            return Strip.blank(width, base)
        text = self.row_text(index)
        segments = list(text.render(self.app.console))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        if index == self.cursor:
            cursor_style = self.get_component_rich_style("line-list--cursor")
            strip = strip.extend_cell_length(width).apply_style(cursor_style)
        return strip.extend_cell_length(width, base).apply_style(base)

    # -- cursor ---------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        if new < 0:
            self.refresh()
            return
        self.scroll_to_region_y(new)
        self.refresh()
        if old != new:
            self.post_message(self.Highlighted(self, new))

    def scroll_to_region_y(self, index: int) -> None:
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height or 1
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        count = self.row_count()
        if count:
            self.cursor = min(max(self.cursor + delta, 0), count - 1)

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.scrollable_content_region.height - 1, 1))

    def action_jump(self, where: int) -> None:
        count = self.row_count()
        if count:
            self.cursor = count - 1 if where < 0 else 0

    def action_choose(self) -> None:
        if 0 <= self.cursor < self.row_count():
            self.post_message(self.Chosen(self, self.cursor))

    async def _on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < self.row_count():
            self.cursor = index
            self.post_message(self.Chosen(self, index))

