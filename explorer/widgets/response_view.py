"""The response of the selected request: status line, headers, body, size and time.

The status line is coloured by class (2xx/3xx/4xx/5xx) the way users scan access logs;
the body is highlighted by its Content-Type, and binary bodies are summarised rather
than dumped into the terminal.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

_LEXERS = {"json": "json", "html": "html", "xml": "xml", "javascript": "javascript",
           "css": "css", "lua": "lua", "yaml": "yaml"}
_MAX_BODY = 64 * 1024


def status_style(status: int) -> str:
    """The colour a status class is shown in everywhere (list, response, trace)."""
    if status >= 500:
        return "bold red"
    if status >= 400:
        return "bold yellow"
    if status >= 300:
        return "bold cyan"
    if status >= 200:
        return "bold green"
    return "bold"


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def _lexer_for(content_type: str) -> str | None:
    ct = content_type.lower()
    for key, lexer in _LEXERS.items():
        if key in ct:
            return lexer
    return None


class ResponseView(VerticalScroll, can_focus=True):
    """Status line, headers and body of the selected exchange.

    | Key | Action |
    |-----|--------|
    | up/down, pageup/pagedown | scroll |
    """

    DEFAULT_CSS = """
    ResponseView { background: $surface; }
    ResponseView > #status { text-style: bold; }
    ResponseView > #resp-headers { margin-bottom: 1; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.syntax_theme: Any = "monokai"
        #: Hide volatile values (times, Date) so snapshots are stable.
        self.stable = False

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("No request yet: compose one and press ctrl+s.", id="status")
        yield Static(id="resp-headers")
        yield Static(id="resp-body")

    def show(self, exchange: Any) -> None:
        resp = exchange.response
        status = Text(f"HTTP/1.1 {resp.status} {resp.reason}", style=status_style(resp.status))
        ms = "- ms" if self.stable else f"{exchange.duration_ms:.2f} ms"
        status.append(f"   {human_size(len(resp.body))}  {ms}", style="dim")
        if not resp.sent:
            status.append("   connection closed without a response", style="bold red")
        self.query_one("#status", Static).update(status)
        headers = Text()
        for k, v in resp.headers:
            if self.stable and k.lower() in ("date", "last-modified", "etag"):
                v = "…"
            headers.append(f"{k}", style="bold cyan")
            headers.append(f": {v}\n")
        headers.rstrip()
        self.query_one("#resp-headers", Static).update(headers)
        self.query_one("#resp-body", Static).update(self._body(resp))
        self.scroll_home(animate=False)

    def _body(self, resp: Any) -> Any:
        body: bytes = resp.body
        if not body:
            return Text("(empty body)", style="dim italic")
        ctype = resp.header("Content-Type") or ""
        try:
            text = body[:_MAX_BODY].decode("utf-8")
        except UnicodeDecodeError:
            return Text(f"({human_size(len(body))} of binary {ctype or 'data'})",
                        style="dim italic")
        more = Text(f"\n… {human_size(len(body) - _MAX_BODY)} more", style="dim") \
            if len(body) > _MAX_BODY else Text("")
        lexer = _lexer_for(ctype)
        if lexer == "json":
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        if lexer is None:
            return Group(Text(text), more)
        return Group(Syntax(text, lexer, theme=self.syntax_theme, word_wrap=True,
                            background_color="default"), more)

    def clear(self) -> None:
        self.query_one("#status", Static).update("")
        self.query_one("#resp-headers", Static).update("")
        self.query_one("#resp-body", Static).update("")
