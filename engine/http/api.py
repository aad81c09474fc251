"""The engine's public request/response types: what goes in, what comes out.

An :class:`HttpRequest` is what a client sent (no sockets: the listener, the TUI and the
tests build one); an :class:`Exchange` is what came back: the response as the client saw
it, the trace of how nginx produced it, and the log records it wrote. A
:class:`ResponseSink` receives the response while it is produced, for a real listener
that must stream (``ngx.flush``, ``ngx.eof``).

nginx handles bytes; the engine handles text that stands for them: everywhere (the
request as received, the configuration, Lua strings, log lines) a string is the bytes
decoded as UTF-8 with ``surrogateescape``, and :func:`wire_bytes` gives the bytes back,
so a byte that came in goes out unchanged wherever it travels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .log import LogRecord
from .trace import Event

_ids = itertools.count(1)


def wire_bytes(text: str) -> bytes:
    """The bytes ``text`` stands for (see the module's docstring)."""
    return text.encode("utf-8", "surrogateescape")


#: The interim response the listener sends for ``Expect: 100-continue``.
CONTINUE_LINE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass
class HttpRequest:
    method: str = "GET"
    target: str = "/"
    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    client_addr: str = "127.0.0.1"
    client_port: int = 51000
    server_addr: str = "127.0.0.1"
    server_port: int = 80
    #: The connection's number (nginx's ``*N``); the listener sets it, tests may leave 0.
    connection: int = 0
    #: Requests already served on this connection (keep-alive), for ``$connection_requests``.
    connection_requests: int = 1
    #: When the connection was accepted (``time.time()``), for ``$connection_time``;
    #: 0: the connection starts with this request.
    connection_start: float = 0.0
    #: The request was already read when the one before it ended (``$pipe`` is "p").
    pipelined: bool = False
    #: The listener answered ``Expect: 100-continue`` on the connection before this
    #: request's response: those bytes count in ``$body_bytes_sent`` (nginx's c->sent).
    continue_sent: bool = False
    #: Writes "100 Continue" to the client when the engine tests Expect (the listener's).
    send_continue: Callable[[], None] | None = None
    #: The bytes of the head as the listener read them, from the request line up to
    #: where nginx stopped parsing (``$request_length`` counts those, not a rebuilt
    #: head); None for a request built in-process, whose head is rebuilt instead.
    head_length: int | None = None
    #: The request line's bytes, line end included: all nginx counts when the line
    #: parses but its URI or host is then refused.
    line_length: int = 0
    #: The request line as received, spaces and all (nginx's ``$request`` and the
    #: error log's ``request: "..."`` show it so); None: rebuilt from the parts.
    raw_line: str | None = None
    #: The head as received, from the request line to the empty line (what
    #: ``ngx.req.raw_header`` returns); None: rebuilt from the parts.
    raw_head: bytes | None = None
    #: The body's bytes as read (a chunked body's framing included), which
    #: ``$request_length`` counts; None: ``len(body)``.
    body_length: int | None = None
    #: The connection's TLS facts (``$ssl_protocol``... see engine/server/tls.py);
    #: None on a plain connection.
    tls: dict[str, str] | None = None
    #: Plain HTTP came to a ``listen ... ssl`` address: nginx answers 497.
    plain_on_https: bool = False

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.target} {self.version}"


class ResponseSink(Protocol):
    async def send_headers(self, status: int, reason: str, headers: list[tuple[str, str]],
                           chunked: bool) -> None: ...

    async def send_body(self, data: bytes) -> None: ...

    async def finish(self, keepalive: bool) -> None: ...


class CollectingSink:
    """Collects the response in memory: the default for in-process requests."""

    def __init__(self) -> None:
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.chunked = False
        self.finished = False
        self.keepalive = True
        self.headers_sent = False

    async def send_headers(self, status: int, reason: str, headers: list[tuple[str, str]],
                           chunked: bool) -> None:
        self.status, self.reason, self.headers, self.chunked = status, reason, headers, chunked
        self.headers_sent = True

    async def send_body(self, data: bytes) -> None:
        self.chunks.append(data)

    async def finish(self, keepalive: bool) -> None:
        self.finished = True
        self.keepalive = keepalive


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    #: False for nginx's 444 and other cases where the connection closed with no response.
    sent: bool = True

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Exchange:
    """One request and everything the engine can say about it."""

    request: HttpRequest
    response: Response
    trace: list[Event]
    logs: list[LogRecord]
    id: int = field(default_factory=lambda: next(_ids))
    started: float = 0.0
    duration_ms: float = 0.0
    #: The configuration that produced the response (the last one used).
    final_loc: Any = None
    final_server: Any = None

    @property
    def location(self) -> str:
        """The location that produced the response, as nginx's debug log quotes it."""
        loc = self.final_loc
        if loc is None:
            return ""
        if getattr(loc, "kind", "") == "location":
            return loc.display()
        if getattr(loc, "kind", "") == "server":
            return "(server)"
        return loc.label()

    @property
    def server(self) -> str:
        return self.final_server.label() if self.final_server is not None else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request": {"method": self.request.method, "target": self.request.target,
                        "version": self.request.version,
                        "headers": [list(h) for h in self.request.headers],
                        "body": self.request.body.decode("utf-8", "replace")},
            "status": self.response.status,
            "reason": self.response.reason,
            "headers": [list(h) for h in self.response.headers],
            "body": self.response.text,
            "location": self.location,
            "server": self.server,
            "duration_ms": round(self.duration_ms, 3),
            "trace": [e.to_dict() for e in self.trace],
            "logs": [{"level": r.level, "time": r.time, "message": r.message,
                      "connection": r.connection, "line": r.line, "log": r.log}
                     for r in self.logs],
        }


class TeeSink:
    """Streams to an outside sink while keeping a copy for the Exchange."""

    def __init__(self, sink: ResponseSink) -> None:
        self.sink = sink
        self.copy = CollectingSink()
        self.finished = False

    async def send_headers(self, status: int, reason: str, headers: list[tuple[str, str]],
                           chunked: bool) -> None:
        await self.copy.send_headers(status, reason, headers, chunked)
        await self.sink.send_headers(status, reason, headers, chunked)

    async def send_body(self, data: bytes) -> None:
        await self.copy.send_body(data)
        await self.sink.send_body(data)

    async def flush(self) -> None:
        flush = getattr(self.sink, "flush", None)
        if flush is not None:
            await flush()

    def pace(self, pacer: Any) -> None:
        pace = getattr(self.sink, "pace", None)
        if pace is not None:
            pace(pacer)

    async def client_done(self, keepalive: bool) -> None:
        done = getattr(self.sink, "client_done", None)
        if done is not None:
            await done(keepalive)

    async def finish(self, keepalive: bool) -> None:
        self.finished = True
        await self.copy.finish(keepalive)
        await self.sink.finish(keepalive)

    def result(self) -> CollectingSink:
        return self.copy
