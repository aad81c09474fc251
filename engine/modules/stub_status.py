"""ngx_http_stub_status_module: ``stub_status`` and the ``$connections_*`` variables.

nginx keeps seven counters for the whole server (``ngx_stat_*``, in shared memory, so
they survive reloads): connections accepted and handled (always equal here: nginx only
differs when it runs out of ``worker_connections``), active connections, requests since
start, and how many requests are reading their head, how many are being answered
("writing": from the end of the head until the request is freed, after its log phase),
and how many connections wait for a request (idle keep-alive, or nothing sent yet).

Who counts what here (:class:`ConnectionStats`, published as
``engine.services["connection_stats"]``):

* the listener (engine/server) counts the connections it accepts and closes, and asks
  its connections which are in the middle of a request head ("reading");
* the engine counts every request it answers (``HttpEngine.handle``, and the refusals of
  :mod:`engine.http.reject`) and holds it as "writing" until it is done. A request given
  to the in-process API without a listener connection (``HttpRequest.connection`` 0) is
  a connection of its own: accepted, active while it runs, then closed.

"Waiting" is what is left of the active connections, so a connection in lingering close
counts as waiting here where nginx counts it in none of the three.

The content handler answers GET and HEAD (other methods: 405) with nginx's text as
``text/plain`` with a Content-Length, no Last-Modified, no ETag, no ranges. ``stub_status``
takes any one argument (the old ``stub_status on;`` form; ``off`` turns nothing off). Set
at server level it answers the requests that match no location; an ``if`` inside a
location keeps it, a ``limit_except`` block does not (as for every content handler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..http.phases import DONE, HttpModule

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request


class ConnectionStats:
    """nginx's ``ngx_stat_*`` counters for one server (kept across reloads)."""

    __slots__ = ("accepted", "handled", "active", "requests", "writing", "reading_now")

    def __init__(self) -> None:
        self.accepted = 0
        self.handled = 0
        self.active = 0
        self.requests = 0
        self.writing = 0
        #: Set by the listener: how many of its connections are reading a request head.
        self.reading_now: Callable[[], int] | None = None

    def connection_opened(self) -> None:
        """ngx_event_accept: a connection was accepted and is handled."""
        self.accepted += 1
        self.handled += 1
        self.active += 1

    def connection_closed(self) -> None:
        """ngx_http_close_connection."""
        self.active -= 1

    def request_started(self, own_connection: bool) -> None:
        """A request's head is read (ngx_http_create_request, ngx_http_process_request).

        ``own_connection``: no listener connection carries it (the in-process API)."""
        if own_connection:
            self.connection_opened()
        self.requests += 1
        self.writing += 1

    def request_finished(self, own_connection: bool) -> None:
        """ngx_http_free_request (and, for an own connection, its close)."""
        self.writing -= 1
        if own_connection:
            self.connection_closed()

    @property
    def reading(self) -> int:
        return self.reading_now() if self.reading_now is not None else 0

    @property
    def waiting(self) -> int:
        return max(0, self.active - self.reading - self.writing)

    def report(self) -> str:
        """The page ngx_http_stub_status_handler writes (its spaces before newlines too).

        nginx counts a request from its first byte: the heads being read count too."""
        reading = self.reading
        return (f"Active connections: {self.active} \n"
                f"server accepts handled requests\n"
                f" {self.accepted} {self.handled} {self.requests + reading} \n"
                f"Reading: {reading} Writing: {self.writing} "
                f"Waiting: {max(0, self.active - reading - self.writing)} \n")


def _stats(r: Request) -> ConnectionStats:
    return r.engine.services["connection_stats"]


async def stub_status(r: Request) -> int:
    """ngx_http_stub_status_handler."""
    if r.method not in ("GET", "HEAD"):
        return 405
    body = _stats(r).report().encode()
    out = r.out
    out.status = 200
    out.content_type = "text/plain"
    out.content_length = len(body)
    await r.engine.send_header(r)
    await r.engine.output(r, body, True)
    return DONE


stub_status.label = "stub_status"  # type: ignore[attr-defined]


class StubStatusModule(HttpModule):
    """The counters (always kept: Lua may read the variables anywhere) and the page."""

    name = "ngx_http_stub_status_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({"stub_status"})

    def init(self, engine: HttpEngine) -> None:
        engine.services["connection_stats"] = ConnectionStats()
        add = engine.variables.add
        add("connections_active", lambda r: str(_stats(r).active))
        add("connections_reading", lambda r: str(_stats(r).reading))
        add("connections_writing", lambda r: str(_stats(r).writing))
        add("connections_waiting", lambda r: str(_stats(r).waiting))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            if "content_handler" in block.mod:
                continue
            if block.own.get("stub_status"):
                block.mod["content_handler"] = stub_status
            elif block.kind == "if" and block.parent is not None \
                    and block.parent.mod.get("content_handler") is stub_status:
                block.mod["content_handler"] = stub_status
