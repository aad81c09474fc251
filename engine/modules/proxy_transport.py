"""The edge of the proxy module: how an upstream request actually travels.

The core never opens sockets; this module is where the engine meets the network, and it
has two ways to reach a peer:

* **in-process**: when the peer is an address this very engine listens on (a
  ``listen`` of the loaded configuration, on 127.0.0.1/localhost or ``*``), the
  request is handed to ``engine.handle`` directly, as a new connection from
  127.0.0.1. A configuration that proxies between its own servers (the usual
  test and teaching setup: a front server and backends on other ports) therefore works
  without a listener, and the backend's trace nests inside the front request's.
* **httpx**: ``https://`` and unix-socket peers go out through one pooled
  ``httpx.AsyncClient`` per engine (plain ``http://`` peers elsewhere get nginx's own
  bytes from :mod:`.upstream_http`).
  The request target is sent exactly as nginx computed it (httpcore's ``target``
  extension) and the body is read raw (no decompression), in the pieces the peer sends.
  httpcore always writes ``HTTP/1.1`` on the request line (documented in docs/proxy.md).

Both raise :class:`AttemptFailure` with nginx's error-log wording, so the caller can log
``connect() failed (111: Connection refused) while connecting to upstream`` or
``upstream timed out (110: Connection timed out) while reading response header from
upstream`` and decide about the next upstream.
"""

from __future__ import annotations

import ast
import asyncio
import errno
import itertools
import os
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ..http.api import HttpRequest

if TYPE_CHECKING:
    from ..http.api import Exchange
    from ..http.engine import HttpEngine
    from .upstream import Peer

#: nginx's actions, appended to error-log lines as "while <action>".
CONNECTING = "connecting to upstream"
SENDING = "sending request to upstream"
READING_HEADER = "reading response header from upstream"
READING_BODY = "reading upstream"
HANDSHAKING = "SSL handshaking to upstream"
#: The action an upstream leaves on the connection when it is finalized (Request.log_action).
SENDING_TO_CLIENT = "sending to client"

_LOOPBACK = {"127.0.0.1", "::1"}
_client_ports = itertools.count(40001)


class AttemptFailure(Exception):
    """One attempt failed: ``kind`` is nginx's next-upstream type ("error", "timeout",
    "invalid_header"), ``message`` the log text, ``action`` what nginx was doing."""

    def __init__(self, kind: str, message: str, action: str, request_sent: bool,
                 headers: list[tuple[str, str]] | None = None, level: str = "error") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.action = action
        self.request_sent = request_sent
        #: The error-log level nginx writes the failure at.
        self.level = level
        # the header lines parsed before the failure: nginx keeps them in u->headers_in
        # ($upstream_http_*) unless another peer is tried
        self.headers = headers


#: ngx_event_connect_peer: connect() errors logged at [error]; any other is [crit].
_EXPECTED_CONNECT = frozenset({errno.ECONNREFUSED, errno.EAGAIN, errno.ECONNRESET,
                               errno.ENETDOWN, errno.ENETUNREACH, errno.EHOSTDOWN,
                               errno.EHOSTUNREACH})


def connect_level(code: int) -> str:
    """The level of a connect() that fails at once (a unix socket; a TCP refusal comes
    later, through ngx_http_upstream_test_connect, always at [error]): nginx keeps
    [error] for the failures a peer may cause and writes [crit] for the others (no
    such file, permission denied...), which usually mean a broken configuration."""
    return "error" if code in _EXPECTED_CONNECT else "crit"


def timed_out(action: str, request_sent: bool) -> AttemptFailure:
    return AttemptFailure("timeout", "upstream timed out (110: Connection timed out)", action,
                          request_sent)


@dataclass
class UpstreamRequest:
    """The request nginx's ``create_request`` built for the peer."""

    method: str
    target: str
    version: str  # "HTTP/1.0" or "HTTP/1.1"
    headers: list[tuple[str, str]]
    body: bytes | None
    ssl: bool = False


def wire_length(req: UpstreamRequest) -> int:
    """The bytes nginx writes for ``req`` ($upstream_bytes_sent)."""
    text = f"{req.method} {req.target} {req.version}\r\n\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in req.headers)
    return len(text.encode("utf-8", "surrogateescape")) + len(req.body or b"")


@dataclass
class Timeouts:
    connect: float = 60.0
    send: float = 60.0
    read: float = 60.0


@dataclass
class UpstreamResponse:
    """A response whose header arrived; ``read()`` yields body pieces, b"" at the end."""

    status: int
    status_line: str  # "200 OK", as the peer wrote it after the version
    headers: list[tuple[str, str]]
    reader: Any
    in_process: bool = False
    #: For in-process peers: the backend's Exchange, once it is complete.
    exchange: Exchange | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def read(self, timeout: float) -> bytes:
        return await self.reader.read(timeout)

    async def close(self) -> None:
        await self.reader.close()


# --- in-process ----------------------------------------------------------------------------


def serves_itself(engine: HttpEngine, peer: Peer) -> bool:
    """Is ``peer`` an address this engine listens on (so the engine answers itself)?"""
    if peer.unix or peer.addr not in _LOOPBACK:
        return False
    addrs = engine.cfg.addresses
    return (peer.addr, peer.port) in addrs or ("*", peer.port) in addrs or \
        ("localhost", peer.port) in addrs


class _QueueSink:
    """Receives the backend's response while it is produced, for the front to read."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.finished = False

    async def send_headers(self, status: int, reason: str, headers: list[tuple[str, str]],
                           chunked: bool) -> None:
        await self.queue.put(("headers", (status, reason, headers)))

    async def send_body(self, data: bytes) -> None:
        if data:
            await self.queue.put(("body", data))

    async def finish(self, keepalive: bool) -> None:
        self.finished = True
        await self.queue.put(("end", None))


class _InProcessReader:
    def __init__(self, sink: _QueueSink, task: asyncio.Task) -> None:  # type: ignore[type-arg]
        self.sink = sink
        self.task = task
        self.done = False

    async def read(self, timeout: float) -> bytes:
        if self.done:
            return b""
        try:
            kind, data = await asyncio.wait_for(self.sink.queue.get(), timeout or None)
        except asyncio.TimeoutError:
            raise timed_out(READING_BODY, True) from None
        if kind == "end":
            self.done = True
            return b""
        return data  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.done = True


async def open_in_process(engine: HttpEngine, peer: Peer, req: UpstreamRequest,
                          timeouts: Timeouts, tasks: set[asyncio.Task]  # type: ignore[type-arg]
                          ) -> UpstreamResponse:
    """Hand the request to this engine, as a new connection from 127.0.0.1."""
    sink = _QueueSink()
    body = req.body or b""
    sent_length = next((v for k, v in req.headers if k.lower() == "content-length"), None)
    if sent_length is not None and sent_length.strip().isdigit():
        # the backend reads what the Content-Length sent says (proxy_set_header may
        # have changed it), no more
        body = body[:int(sent_length.strip())]
    http_req = HttpRequest(req.method, req.target, req.version, list(req.headers),
                           body, "127.0.0.1", next(_client_ports), peer.addr, peer.port)
    task = asyncio.ensure_future(engine.handle(http_req, sink))
    tasks.add(task)  # a timed-out backend goes on, like a real one would
    task.add_done_callback(tasks.discard)
    getter = asyncio.ensure_future(sink.queue.get())
    done, _ = await asyncio.wait({getter, task}, timeout=timeouts.read or None,
                                 return_when=asyncio.FIRST_COMPLETED)
    if getter not in done:
        getter.cancel()
        if task in done:  # the backend ended without a word (an engine failure)
            raise AttemptFailure("error", "upstream prematurely closed connection",
                                 READING_HEADER, True)
        raise timed_out(READING_HEADER, True)
    kind, data = getter.result()
    if kind != "headers":
        raise AttemptFailure("error", "upstream prematurely closed connection",
                             READING_HEADER, True)
    status, reason, headers = data
    line = f"{status} {reason}"
    return UpstreamResponse(status, line, list(headers), _InProcessReader(sink, task),
                            in_process=True, extra={"task": task})


# --- httpx ---------------------------------------------------------------------------------


class HttpxEdge:
    """The pooled httpx clients of one engine (one more per unix socket path)."""

    def __init__(self) -> None:
        self.clients: dict[str, httpx.AsyncClient] = {}

    def client(self, unix_path: str | None) -> httpx.AsyncClient:
        key = unix_path or ""
        c = self.clients.get(key)
        if c is None:
            transport = httpx.AsyncHTTPTransport(uds=unix_path, verify=False) if unix_path \
                else httpx.AsyncHTTPTransport(verify=False, retries=0)
            c = self.clients[key] = httpx.AsyncClient(transport=transport, trust_env=False,
                                                      follow_redirects=False)
        return c

    async def close(self) -> None:
        clients, self.clients = list(self.clients.values()), {}
        for c in clients:
            try:
                await c.aclose()
            except Exception:  # closing a pool must not fail a reload
                pass

    async def open(self, peer: Peer, req: UpstreamRequest,
                   timeouts: Timeouts) -> UpstreamResponse:
        scheme = "https" if req.ssl else "http"
        host = "localhost" if peer.unix else (f"[{peer.addr}]" if ":" in peer.addr
                                             else peer.addr)
        port = "" if peer.unix else f":{peer.port}"
        url = f"{scheme}://{host}{port}/"
        headers = [(k.encode("latin-1", "replace"),
                    v.encode("utf-8", "surrogateescape")) for k, v in req.headers]
        ext = {"target": req.target.encode("utf-8", "surrogateescape"),
               "timeout": {"connect": timeouts.connect or None, "read": timeouts.read or None,
                           "write": timeouts.send or None, "pool": None}}
        if asyncio.current_task() is None:
            # the listener runs a response's first step by hand, outside any task; anyio
            # (under httpx) needs one: yielding once hands the coroutine over to a task
            await asyncio.sleep(0)
        try:
            request = httpx.Request(req.method, url, headers=headers,
                                    content=req.body if req.body else None, extensions=ext)
            client = self.client(peer.addr if peer.unix else None)
            resp = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _failure(exc, header=True, unix=peer.name if peer.unix else None) from None
        except (ValueError, TypeError, UnicodeError, OSError) as exc:
            # what httpx refuses before sending (a header value with a newline...)
            raise AttemptFailure("error", f"upstream request failed ({exc})", SENDING,
                                 False) from None
        status_line = f"{resp.status_code} {resp.reason_phrase}"
        raw = [(k.decode("latin-1"), v.decode("utf-8", "surrogateescape"))
               for k, v in resp.headers.raw]
        return UpstreamResponse(resp.status_code, status_line, raw, _HttpxReader(resp))


class _HttpxReader:
    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp
        self.it = resp.aiter_raw()

    async def read(self, timeout: float) -> bytes:
        try:
            return await self.it.__anext__()
        except StopAsyncIteration:
            return b""
        except httpx.HTTPError as exc:
            raise _failure(exc, header=False) from None
        except (ValueError, OSError) as exc:
            raise AttemptFailure("error", f"recv() failed ({exc})", READING_BODY,
                                 True) from None

    async def close(self) -> None:
        try:
            await self.resp.aclose()
        except Exception:  # a broken peer connection is already accounted for
            pass


def _os_error(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno:
            return e
        e = e.__cause__ or e.__context__
    return None


def _invalid_header(text: str) -> str:
    """nginx's words for a header line its parser refuses: the line up to the first
    byte a header name may not hold (a control byte or space), that byte in hex, and
    "..."; the line comes from h11's message ("illegal header line: bytearray(b'...')")."""
    start = text.find("bytearray(b")
    if start < 0:
        return "upstream sent invalid header"
    try:
        line = ast.literal_eval(text[start + 10:text.rfind(")")])
    except (ValueError, SyntaxError):
        return "upstream sent invalid header"
    for i, ch in enumerate(bytes(line)):
        if ch == 0x3A and i:
            break
        if ch <= 0x20 or ch == 0x7F or ch == 0x3A:
            head = bytes(line[:i]).decode("utf-8", "surrogateescape")
            return f'upstream sent invalid header: "{head}\\x{ch:02x}..."'
    return "upstream sent invalid header"


def _failure(exc: httpx.HTTPError, header: bool, unix: str | None = None) -> AttemptFailure:
    """Word an httpx failure as nginx logs the same event (``unix``: the peer's name
    when it is a unix socket, whose connect() fails synchronously)."""
    read_action = READING_HEADER if header else READING_BODY
    if isinstance(exc, httpx.ConnectTimeout):
        return timed_out(CONNECTING, False)
    if isinstance(exc, httpx.WriteTimeout):
        return timed_out(SENDING, True)
    if isinstance(exc, (httpx.ReadTimeout, httpx.PoolTimeout)):
        return timed_out(read_action, True)
    err = _os_error(exc)
    if isinstance(err, ssl.SSLError):
        if isinstance(err, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            text = "peer closed connection in SSL handshake"
        else:
            text = f"SSL_do_handshake() failed (SSL: {err.reason or err})"
        return AttemptFailure("error", text, HANDSHAKING, False)
    if isinstance(exc, httpx.ConnectError):
        code = err.errno if err else errno.ECONNREFUSED
        text = f"({code}: {os.strerror(code)})"
        if unix is not None:
            return AttemptFailure("error", f"connect() to {unix} failed {text}", CONNECTING,
                                  False, level=connect_level(code))
        return AttemptFailure("error", f"connect() failed {text}", CONNECTING, False)
    if isinstance(exc, httpx.WriteError):
        code = err.errno if err else errno.EPIPE
        return AttemptFailure("error", f"writev() failed ({code}: {os.strerror(code)})",
                              SENDING, True)
    if isinstance(exc, httpx.ReadError) and err is not None:
        return AttemptFailure("error", f"recv() failed ({err.errno}: "
                                       f"{os.strerror(err.errno)})", read_action, True)
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc).lower()
        if "disconnect" in text or "closed" in text or "incomplete" in text:
            return AttemptFailure("error", "upstream prematurely closed connection",
                                  read_action, True)
        if header and "status line" in text:
            # nginx would pass such a reply on as an HTTP/0.9 response; the engine
            # answers 502 (docs/proxy.md) but logs nginx's line
            return AttemptFailure("invalid_header", "upstream sent no valid HTTP/1.0 header",
                                  read_action, True)
        if header:
            return AttemptFailure("invalid_header", _invalid_header(str(exc)), read_action,
                                  True)
    return AttemptFailure("error", f"upstream connection failed ({type(exc).__name__}: "
                                   f"{exc})", read_action, True)
