"""The request composer: method, URL, headers (one ``Name: value`` per line), body.

Bad input is marked on the field it belongs to and nothing is sent; what was typed stays
as typed. Pasting a ``curl`` command into the URL field fills the whole form instead
(Input would otherwise keep only its first line). Up/down in the URL field walk the
history of sent requests, which only refills the form: sending is always explicit.
"""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static, TextArea

from ..curl import CurlError, RequestForm, build_form, looks_like_curl, parse_curl, to_curl
from ..history import History, HistoryEntry

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


class UrlInput(Input):
    """The URL field: a pasted curl command is handed to the composer whole."""

    BINDINGS = [
        Binding("up", "history(-1)", "Older", show=False),
        Binding("down", "history(1)", "Newer", show=False),
    ]

    class CurlPasted(Message):
        """A curl command was pasted or typed; handled as ``on_url_input_curl_pasted``."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class HistoryStep(Message):
        def __init__(self, delta: int) -> None:
            super().__init__()
            self.delta = delta

    def _on_paste(self, event: events.Paste) -> None:
        if looks_like_curl(event.text):
            event.stop()
            self.post_message(self.CurlPasted(event.text))
            return
        super()._on_paste(event)

    def action_history(self, delta: int) -> None:
        self.post_message(self.HistoryStep(delta))


class Composer(Vertical):
    """Compose and send a request.

    | Key | Action |
    |-----|--------|
    | ctrl+s | send the request |
    | ctrl+t | copy the request as a curl command |
    | up/down (URL field) | previous / next request from history |
    | paste `curl ...` in the URL field | fill the form from the command |
    """

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("ctrl+t", "copy_curl", "Copy as curl"),
    ]

    DEFAULT_CSS = """
    Composer { height: auto; }
    Composer #request-line { height: 3; }
    Composer #method { width: 12; }
    Composer #url { width: 1fr; }
    Composer #send { min-width: 8; width: 8; }
    Composer TextArea { height: 5; }
    Composer #body { height: 4; }
    Composer .field-label { color: $text-muted; height: 1; }
    Composer .-invalid { border: tall $error; }
    Composer #problem { color: $error; height: auto; }
    """

    class SendRequested(Message):
        """The form is valid and the user asked to send it (``on_composer_send_requested``)."""

        def __init__(self, composer: Composer, form: RequestForm, entry: HistoryEntry) -> None:
            super().__init__()
            self.composer = composer
            self.form = form
            self.entry = entry

        @property
        def control(self) -> Composer:
            return self.composer

    def __init__(self, *, history: History | None = None, default_url: str = "/",
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.history = history or History()
        self.default_url = default_url
        self._history_pos: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="request-line"):
            yield Input("GET", id="method", suggester=SuggestFromList(METHODS,
                                                                       case_sensitive=False))
            yield UrlInput(self.default_url, id="url", placeholder="http://host/path?args")
            yield Button("Send", id="send", variant="primary")
        yield Label("headers (Name: value per line)", classes="field-label")
        yield TextArea("", id="headers", soft_wrap=False)
        yield Label("body", classes="field-label")
        yield TextArea("", id="body")
        yield Static("", id="problem")

    # -- reading and filling the form ---------------------------------------------------

    def values(self) -> HistoryEntry:
        """The form as typed (the history keeps this, not the normalised request)."""
        return HistoryEntry(self.query_one("#method", Input).value.strip() or "GET",
                            self.query_one("#url", Input).value,
                            self.query_one("#headers", TextArea).text,
                            self.query_one("#body", TextArea).text)

    def fill(self, entry: HistoryEntry) -> None:
        """Put a request in the form (history, pasted curl); never sends it."""
        self.query_one("#method", Input).value = entry.method
        self.query_one("#url", Input).value = entry.url
        self.query_one("#headers", TextArea).text = entry.headers
        self.query_one("#body", TextArea).text = entry.body
        self._clear_problem()

    def _clear_problem(self) -> None:
        for w in self.query(".-invalid"):
            w.remove_class("-invalid")
        self.query_one("#problem", Static).update("")

    def _mark(self, field: str, message: str) -> None:
        self.query_one(f"#{field}").add_class("-invalid")
        self.query_one("#problem", Static).update(message)

    def validate(self) -> RequestForm | None:
        """The request to send, or None after marking the faulty field."""
        self._clear_problem()
        v = self.values()
        try:
            return build_form(v.method, v.url, v.headers, v.body)
        except CurlError as e:
            msg = str(e)
            field = msg.split(":", 1)[0] if msg.startswith(("method:", "headers:")) else "url"
            self._mark(field, msg if field != "url" else f"url: {msg}")
            return None

    # -- actions ------------------------------------------------------------------------

    def action_send(self) -> None:
        form = self.validate()
        if form is None:
            return
        entry = self.values()
        self.history.add(entry)
        self._history_pos = None
        self.post_message(self.SendRequested(self, form, entry))

    def as_curl(self) -> str | None:
        form = self.validate()
        if form is None:
            return None
        host = dict((k.lower(), v) for k, v in form.headers).get("host", "localhost")
        headers = [(k, v) for k, v in form.headers
                   if k.lower() not in ("host", "content-length")]
        return to_curl(form.method, f"http://{host}{form.target}", headers, form.body)

    def action_copy_curl(self) -> None:
        text = self.as_curl()
        if text is not None:
            self.app.copy_to_clipboard(text)
            self.notify(text, title="Copied as curl")

    @on(Button.Pressed, "#send")
    def _send_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_send()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "url" and looks_like_curl(event.value):
            self._load_curl(event.value)
        else:
            self.action_send()

    @on(UrlInput.CurlPasted)
    def _curl_pasted(self, event: UrlInput.CurlPasted) -> None:
        event.stop()
        self._load_curl(event.text)

    def _load_curl(self, text: str) -> None:
        try:
            req = parse_curl(text)
        except CurlError as e:
            self._mark("url", f"curl: {e}")
            return
        self.fill(HistoryEntry(req.method, req.url,
                               "\n".join(f"{k}: {v}" for k, v in req.headers), req.body))
        self.notify(f"{req.method} {req.url}", title="Filled from curl")

    @on(UrlInput.HistoryStep)
    def _history_step(self, event: UrlInput.HistoryStep) -> None:
        event.stop()
        entries = self.history.entries
        if not entries:
            return
        pos = len(entries) if self._history_pos is None else self._history_pos
        pos = min(max(pos + event.delta, 0), len(entries) - 1)
        self._history_pos = pos
        self.fill(entries[pos])
