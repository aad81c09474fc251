"""The request as nginx's core sees it (``ngx_http_request_t``), minus the sockets.

A :class:`Request` holds what was received, where it is in the phase engine, the
configuration in force (server and location), its variables and captures, the response
being built and the trace. Subrequests are Requests with a ``parent`` that share the
main request's connection, trace root and variables table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .location import LocationConf
from .trace import Trace

if TYPE_CHECKING:
    from .engine import HttpEngine
    from .servers import ServerConf
    from .variables import VariableTable

MAX_URI_CHANGES = 10
MAX_SUBREQUESTS = 50

#: What nginx's upstream code names as the connection's ``log->action``. A message that
#: already ends with one (the upstream modules write theirs out) is not given the
#: sticky action of Request.log_action a second time.
UPSTREAM_ACTIONS = tuple(" while " + a for a in (
    "connecting to upstream", "sending request to upstream", "SSL handshaking to upstream",
    "reading response header from upstream", "reading upstream", "sending to client"))
#: The version a request line without one is given (an HTTP/0.9 "simple request": nginx
#: reads no header after it and sends none back, its ``r->http_version`` is 9).
SIMPLE = "HTTP/0.9"
_HTTP_VERSIONS = {"HTTP/1.0": 1000, "HTTP/1.1": 1001, "HTTP/2.0": 2000, SIMPLE: 9}


@dataclass(slots=True)
class Connection:
    """The client connection a request came on."""

    number: int
    client_addr: str = "127.0.0.1"
    client_port: int = 0
    server_addr: str = "127.0.0.1"
    server_port: int = 80
    requests: int = 0  # requests served on this connection so far (keep-alive)
    start: float = 0.0  # when it was accepted (time.time()); 0: with the request
    pipelined: bool = False  # the request came pipelined behind the previous one
    tls: dict[str, str] | None = None  # the TLS facts of an ssl connection


class Headers:
    """An ordered multi-map with case-insensitive names, as nginx keeps header lists."""

    __slots__ = ("items", "_low", "_of")

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self.items: list[tuple[str, str]] = list(items or [])
        self._low: list[str] = []
        self._of: list[tuple[str, str]] | None = None

    def _names(self) -> list[str]:
        """The lower-cased names, made again only when ``items`` is another list or
        changed length: every change made to it (here or by a module) does one or the
        other, and a request looks its headers up far more often than it changes them."""
        items = self.items
        self._low = [k.lower() for k, _ in items]
        self._of = items
        return self._low

    def get(self, name: str) -> str | None:
        items = self.items
        low = self._low
        if self._of is not items or len(low) != len(items):
            low = self._names()
        name = name.lower()
        if name in low:
            return items[low.index(name)][1]
        return None

    def get_all(self, name: str) -> list[str]:
        items = self.items
        low = self._low
        if self._of is not items or len(low) != len(items):
            low = self._names()
        name = name.lower()
        if name not in low:
            return []
        return [items[i][1] for i, k in enumerate(low) if k == name]

    def set(self, name: str, value: str | None, respell: bool = True) -> None:
        """Replace every header of that name (value None removes them): the first one
        takes the value, spelled as ``name`` or, with ``respell`` False, as it was (what
        ngx_lua does to a header list)."""
        low = name.lower()
        out = []
        placed = False
        for k, v in self.items:
            if k.lower() == low:
                if not placed and value is not None:
                    out.append((name if respell else k, value))
                    placed = True
                continue
            out.append((k, v))
        if not placed and value is not None:
            out.append((name, value))
        self.items = out

    def add(self, name: str, value: str) -> None:
        self.items.append((name, value))

    def remove(self, name: str) -> None:
        self.set(name, None)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def copy(self) -> Headers:
        return Headers(self.items)


@dataclass
class ResponseHeaders:
    """``r->headers_out``: the fields nginx's header filter writes itself, then the list."""

    status: int = 0
    status_line: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    last_modified: float | None = None
    location: str | None = None
    headers: Headers = field(default_factory=Headers)


class Request:
    """One request or subrequest travelling through the phase engine."""

    # Fields whose initial value is immutable live on the class: an assignment gives the
    # request its own value, and __init__ sets only what differs from one request to the
    # next (it runs for every request and subrequest).
    #: ngx_lua: whether the body was read (``lua_need_request_body``/``ngx.req.read_body``).
    body_read = False
    #: ngx_http_test_expect ran (request_body.test_expect); the listener's writer of
    #: "100 Continue" (None: no wire, or it was sent before the request ran).
    expect_tested = False
    send_continue: Callable[[], None] | None = None
    uri = "/"
    args = ""
    exten = ""
    uri_changes = MAX_URI_CHANGES + 1
    server: ServerConf = None  # type: ignore[assignment]
    loc: LocationConf = None  # type: ignore[assignment]
    captures: list[str | None] | None = None
    header_sent = False
    response_done = False
    body_sent = 0
    phase_index = 0
    phase_name = ""
    uri_changed = False
    #: nginx's r->valid_location: cleared by a rewrite "break" of the URI, set again
    #: only by an internal redirect. An ``alias`` maps no URI while it is clear, nor
    #: while a rewrite's new URI has not found its location yet (``uri_changed``).
    valid_location = True
    #: Plain HTTP on a ``listen ... ssl`` address (answered 497, see HttpRequest).
    plain_on_https = False
    #: Set by "error_page": prevents a second redirect for the same request.
    error_page = False
    keepalive = True
    status_for_log = 0
    upstream: Any = None
    host: str | None = None
    #: The connection is closed without sending what is still buffered (a failure
    #: after the response header was produced): nginx's NGX_ERROR finalization.
    aborted = False
    has_args = False
    #: The connection's ``log->action`` that an upstream leaves behind (on the main
    #: request, as subrequests share the connection): "reading response header from
    #: upstream" while its header goes through the filters, "sending to client" from then
    #: on, including what the request logs after the upstream has finished (nginx's
    #: ngx_http_upstream_finalize_request). None: no " while ..." suffix.
    log_action: str | None = None
    err_status = 0
    #: What ``$request_length`` counts of the head (HttpRequest.head_length): None for a
    #: request built in-process, whose head is rebuilt; 0 when its line did not parse.
    head_bytes: int | None = None
    #: The request line's share of it (HttpRequest.line_length).
    line_bytes = 0
    #: The head as received (HttpRequest.raw_head); None: rebuilt when asked for.
    raw_head: bytes | None = None
    header_only = False
    #: The body's bytes as read on the wire (HttpRequest.body_length); None: len(body).
    body_length: int | None = None
    chunked = False
    header_bytes = 0
    logged = False
    content_handler: Any = None
    #: A subrequest's ``r->post_subrequest``: called with the status when the subrequest
    #: is finalized with a special response, before that response is made; when it
    #: answers OK (ngx_lua's does) the subrequest ends there, with no error page.
    post_subrequest: Any = None
    #: A subrequest whose output its parent takes in memory right after the Lua filters
    #: (ngx_lua's capture filter): the filters after those (sub_filter, SSI...) never
    #: see it.
    captured = False
    sink: Any = None
    #: The write filter's buffer (core_module._Wire), made with the first output.
    wire: Any = None

    def __init__(self, engine: HttpEngine, conn: Connection, method: str, target: str,
                 version: str, headers: list[tuple[str, str]], body: bytes | None,
                 trace: Trace, parent: Request | None = None) -> None:
        self.engine = engine
        self.engine_vars: VariableTable = engine.variables
        self.conn = conn
        self.parent = parent
        self.method = method
        self.unparsed_uri = target
        self.http_version = _HTTP_VERSIONS.get(version, 1001)
        self.protocol = "" if version == SIMPLE else version  # $server_protocol
        if parent is None:
            self.request_line = f"{method} {target} {self.protocol}".rstrip()
            self.subrequests = MAX_SUBREQUESTS + 1
            self.internal = False
            self.variables: dict[str, str] = {}
        else:
            self._main = parent.main
            self.request_line = parent.main.request_line
            self.subrequests = parent.main.subrequests
            self.internal = True
            self.variables = parent.variables
        self.headers_in = Headers(headers)
        self.body = body
        self.out = ResponseHeaders()
        self.trace = trace
        self.start = time.time()
        #: Per-module request state (nginx's r->ctx[module.ctx_index]).
        self.ctx: dict[str, Any] = {}
        self.records: list = []

    # -- convenience -----------------------------------------------------------------

    #: The main request of a subrequest; None for a main request, so that a request
    #: does not refer to itself: with no reference cycle its objects are freed as soon as
    #: it is answered, instead of waiting for the cyclic garbage collector.
    _main: Request | None = None
    #: See add_cleanup; None until a module adds one.
    cleanups: list[Callable[[], None]] | None = None

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        """ngx_http_cleanup_add: ``fn`` runs when the main request is done (after its log
        phase), for what a module holds for the request (Lua's cosockets)."""
        main = self.main
        if main.cleanups is None:
            main.cleanups = []
        main.cleanups.append(fn)

    @property
    def main(self) -> Request:
        """The main request (this one, for a main request)."""
        return self._main or self

    @property
    def is_main(self) -> bool:
        return self.parent is None

    def var(self, name: str) -> str | None:
        return self.engine_vars.get(self, name)

    def wants_keepalive(self) -> bool:
        """What the client asked: HTTP/1.1 keeps the connection unless the (last)
        Connection header says close; HTTP/1.0 only with keep-alive."""
        values = self.headers_in.get_all("connection")
        conn = values[-1].lower() if values else ""
        if self.http_version >= 1001:
            return "close" not in conn
        return "keep-alive" in conn

    def set_uri(self, uri: str) -> None:
        self.uri = uri
        dot = uri.rfind(".")
        slash = uri.rfind("/")
        self.exten = uri[dot + 1:] if dot > slash else ""

    def log(self, level: str, message: str) -> None:
        """An error-log line with this request's context, and a trace event."""
        self.engine.log_request(self, level, message)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"
