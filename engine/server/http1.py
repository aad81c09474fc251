"""One HTTP/1.x client connection: read requests, hand them to the Engine, write answers.

The engine is sans-IO; this is the part of ``ngx_http_request.c`` it leaves out: reading
the request head under nginx's buffer limits and timeouts, reading the body (Content-Length
or chunked, ``Expect: 100-continue``), keep-alive and pipelining (answers in request
order), and closing the way nginx does (lingering close after an error, silent close on a
timeout). Every refusal goes through :meth:`Engine.reject`, so error pages, log lines and
the access log come from the configuration exactly as for ordinary requests.

Framing is done here, parsing in :mod:`.head_parser`: the listener must know where each
head and body ends to enforce nginx's limits and to attribute an error to the right
pipelined request; httptools parses the head (the hot path) and :mod:`.head` gives
nginx's verdict when httptools refuses one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ..http.api import CONTINUE_LINE, Exchange, HttpRequest
from ..http.header_checks import check_headers, http11
from ..http.log import LogRecord, head_context
from .chunked import ChunkedDecoder, ChunkError, TooLarge
from .head import READING_LINE, Verdict, check_size, counted_through, find_head_end, \
    headers_before, refused_line, simple_line_end, target_refusal, unfinished
from .head_parser import HeadParser
from .lazy_timer import LazyTimer
from .pending import Pending
from .settings import AddressSettings, body_settings, request_server
from .sink import WireSink
from .suspended import Suspended

if TYPE_CHECKING:
    from ..instance import Engine
    from .listener import Endpoint

_READ, _BODY, _LINGER, _CLOSED = range(4)
#: Pipelined requests parsed ahead of the one being answered before reading pauses.
_MAX_QUEUED = 32
_LINGERING_TIMEOUT = 5.0
_READING_PIPELINED = " while reading client pipelined request line"


class HttpConnection(asyncio.Protocol):
    """asyncio protocol for one accepted connection."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.engine: Engine = endpoint.server.engine
        self.settings: AddressSettings = AddressSettings()
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.state = _READ
        self.queue: deque[Pending] = deque()
        self.current: Pending | None = None  # the request whose body is being read
        self.requests = 0
        self.number = 0
        self.client = ("", 0)
        self.accepted = 0.0
        self.local = ("", 0)
        self.head_parser = HeadParser()
        self.timer = LazyTimer(self.loop)
        #: The task finishing a request that had to wait (None while answering inline).
        self.worker: asyncio.Task[None] | None = None
        self.busy = False  # a request is being answered
        self.dispatching = False  # _next is running: requests queued meanwhile wait for it
        self.parsing = False  # _parse is running (answers given inline must not re-enter it)
        self.draining = False  # reload/quit: close after the current request
        self.write_ok: asyncio.Future[None] | None = None
        self.head_started = False
        #: Empty-line bytes skipped before the current head (they took buffer space).
        self.head_skipped = 0
        #: The request line of the head being read was checked (see head.refused_line).
        self.line_checked = False
        #: $pipe: reads counted, the read in which the last request's bytes ended and the
        #: read in which the next head began; a head that began in the read that ended
        #: the request before it was pipelined (nginx had it in its buffer already).
        self.reads = 0
        self.read_done_at = -1
        self.head_began_at = 0
        #: stub_status's counters (engine.services["connection_stats"]), when loaded.
        self.stats: Any = None
        #: On an ssl address (see .tls): the TLS facts once handshaken, or plain HTTP.
        self.tls: dict[str, str] | None = None
        self.plain_on_https = False

    @property
    def reading_head(self) -> bool:
        """A request head has begun and is not complete (stub_status's "Reading")."""
        return self.head_started and self.state == _READ and not self.busy and not self.queue

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.client, self.local = (peer[0], peer[1]), (sock[0], sock[1])
        self.settings = self.endpoint.settings_for(self.engine, self.local[0])
        self.number = self.endpoint.server.next_connection()
        self.accepted = time.time()
        self.stats = self.engine.http.services.get("connection_stats")
        if self.stats is not None:
            self.stats.connection_opened()
        self.endpoint.server.connections.add(self)
        self._arm(self.settings.header_timeout, self._on_wait_timeout)

    def data_received(self, data: bytes) -> None:
        if self.state == _LINGER or self.state == _CLOSED:
            return
        self.buf += data
        self.reads += 1
        try:
            self._parse()
        except Exception as exc:  # a listener bug must not kill the loop
            self._log("alert", f"listener error: {type(exc).__name__}: {exc}")
            self._abort()

    def eof_received(self) -> bool | None:
        return False  # close our side too, like nginx

    def connection_lost(self, exc: Exception | None) -> None:
        previous = self.state
        self.state = _CLOSED
        self._drop_timer()
        self.endpoint.server.connections.discard(self)
        if self.stats is not None:
            self.stats.connection_closed()
        if self.write_ok is not None and not self.write_ok.done():
            self.write_ok.set_result(None)
        if previous == _LINGER or previous == _CLOSED:
            pass  # closed by us, after the line that said why
        elif self.current is not None and not self.current.complete:
            self._fail(self.current, 400, "client prematurely closed connection", "info", False)
        elif (self.buf.strip(b"\r\n") or self.head_started and previous == _READ
              and not self.queue) and not self.busy:
            self._reject_head(400, "client prematurely closed connection", False)
        elif self.requests == 0 and not self.buf and not self.busy and not self.queue:
            self._conn_log("info", "client closed connection while waiting for request")
        elif previous == _READ and self.requests and not self.buf and not self.busy \
                and not self.queue:
            # ngx_http_keepalive_handler reads EOF; the connection's log has no handler
            # then, so the line carries no client/server context
            elog = self.engine.error_log
            if elog.wants("info"):
                elog.emit(LogRecord("info", time.time(), f"client {self.client[0]} closed "
                                    "keepalive connection", self.number, ""))
        self._next()

    def pause_writing(self) -> None:
        if self.write_ok is None or self.write_ok.done():
            self.write_ok = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.write_ok is not None and not self.write_ok.done():
            self.write_ok.set_result(None)

    # -- framing -------------------------------------------------------------------------

    def _parse(self) -> None:
        self.parsing = True
        try:
            self._parse_buffer()
        finally:
            self.parsing = False

    def _parse_buffer(self) -> None:
        buf = self.buf
        while buf and self.state != _CLOSED:
            p = self.current
            if p is not None:
                if not self._read_body(p):
                    return
                continue
            if len(self.queue) >= _MAX_QUEUED:
                self.transport.pause_reading()  # type: ignore[union-attr]
                return
            if not self.head_started:
                # any byte, an empty line too, starts a request (pipelined when it was in
                # the buffer before the last request ended)
                self.head_started = True
                self.head_skipped = 0
                self.line_checked = False
                self.head_began_at = self.reads
                if self.requests:  # keep-alive: the header timer starts with the first byte
                    self._arm(self.settings.header_timeout, self._on_header_timeout)
            if buf[0] in (13, 10):  # nginx skips empty lines before a request line
                stripped = buf.lstrip(b"\r\n")
                self.head_skipped += len(buf) - len(stripped)
                del buf[: len(buf) - len(stripped)]
                continue
            simple = simple_line_end(buf)
            end = find_head_end(buf) if simple < 0 else simple
            s = self.settings
            if end < 0:
                if not self.line_checked:
                    self.line_checked = buf.find(b"\n") >= 0
                    v = refused_line(buf)
                    if v is not None:
                        self._refuse_head(v)
                        return
                if len(buf) > s.small_buffer:
                    v = check_size(bytes(buf), s.small_buffer, s.large_buffer, s.large_count)
                    if v is not None:
                        self._refuse_head(v)
                return
            head = bytes(buf[:end])
            del buf[:end]
            self.head_started = False
            if end > s.small_buffer:
                v = check_size(head, s.small_buffer, s.large_buffer, s.large_count)
                if v is not None:
                    self._refuse_head(v)
                    return
            self._on_head(head, simple > 0)

    def _on_head(self, head: bytes, simple: bool = False) -> None:
        parsed = self.head_parser.parse_simple(head) if simple else self.head_parser.parse(head)
        if isinstance(parsed, Verdict):
            self._refuse_head(parsed)
            return
        method, target, version, headers, ignored = parsed
        refusal, length, chunked = check_headers(version, method, headers,
                                                 target[:1] == "/")
        early = None
        if refusal is not None or ignored or target[:1] != "/":
            # nginx reads the headers only after the target passed (rare path)
            early = target_refusal(method, target, version, "")
        self.requests += 1
        nl = head.find(b"\n")
        req = HttpRequest(method, target, version, headers, b"", self.client[0], self.client[1],
                          self.local[0], self.endpoint.port, self.number, self.requests,
                          self.accepted, self.head_began_at == self.read_done_at,
                          head_length=len(head), line_length=nl + 1,
                          raw_line=head[:nl].rstrip(b"\r").decode("utf-8", "surrogateescape"),
                          raw_head=head)
        # the engine writes "100 Continue" through it when it reads or discards the
        # body (request_body.test_expect), as nginx does
        req.send_continue = self._write_continue
        p = Pending(req)
        if early is not None:  # the engine refuses the line; no header was read
            self._enqueue(p, complete=True, linger=True)
            return
        if refusal is not None and refusal.at is not None:
            req.head_length = counted_through(head, refusal.at)
            req.headers = headers[:refusal.at + 1]  # nginx stopped there (log context)
        at = 0
        for line in ignored:
            # logged as parsed (the headers after it are not in its context yet), up to
            # the line nginx refused
            at = head.find(line.encode("utf-8", "surrogateescape"), at + 1)
            if at < req.head_length:
                self._conn_log("info", f'client sent invalid header line: "{line}" while '
                                       "reading client request headers", req,
                               headers_before(head, at))
        if refusal is not None and refusal.defer:  # the engine refuses the Host header
            self._enqueue(p, complete=True, linger=True)
            return
        if refusal is not None:
            p.error = (refusal.status, refusal.message, "info", True)
            self._enqueue(p, complete=True, linger=True)
            return
        if not length and not chunked:
            self._enqueue(p, complete=True)
            return
        host = next((v for k, v in headers if k.lower() == "host"), None)
        p.limit, p.timeout, reads = body_settings(self.engine, self.local[0],
                                                  self.endpoint.port, host, target)
        if length and p.limit and length > p.limit:
            p.discard = True  # the engine answers 413 from Content-Length; drop the body
        elif version == "HTTP/1.1" or http11(version):
            p.expect = any(k.lower() == "expect" and v.lower() == "100-continue"
                           for k, v in headers)
        if chunked:
            p.decoder = ChunkedDecoder(p.limit, discard=not reads)
        else:
            p.left = length or 0
        self.head_parser.reset()  # llhttp now expects a body we frame ourselves
        self.current = p
        self.state = _BODY
        self._arm(p.timeout, self._on_body_timeout)
        self._enqueue(p, complete=p.discard)  # a refused body is not waited for

    def _read_body(self, p: Pending) -> bool:
        """Move body bytes from the buffer into ``p``; False when more are needed."""
        buf = self.buf
        p.begun = True
        if p.decoder is not None:
            try:
                pos = p.decoder.feed(bytes(buf))
            except TooLarge as exc:
                del buf[:]
                self._continue_before_error(p)
                self._fail(p, 413, f"client intended to send too large chunked body: "
                                   f"{exc.received}+{exc.size} bytes", "error", True)
                return False
            except ChunkError:
                del buf[:]
                self._continue_before_error(p)
                self._fail(p, 400, "client sent invalid chunked body", "error", True)
                return False
            del buf[:pos]
            if not p.decoder.done:
                self._arm(p.timeout, self._on_body_timeout)
                return False
            if not p.discard and not p.decoder.over:
                p.req.body = p.decoder.body()
                p.req.body_length = p.decoder.wire
        else:
            take = min(p.left, len(buf))
            if not p.discard:
                p.parts.append(bytes(buf[:take]))
            del buf[:take]
            p.left -= take
            if p.left:
                self._arm(p.timeout, self._on_body_timeout)
                return False
            if not p.discard:
                p.req.body = b"".join(p.parts)
        self.current = None
        self.state = _READ
        self._cancel_timer()
        p.complete = True
        self.read_done_at = self.reads
        self._next()
        return True

    def _enqueue(self, p: Pending, complete: bool, linger: bool = False) -> None:
        p.req.tls, p.req.plain_on_https = self.tls, self.plain_on_https
        if complete:
            self.read_done_at = self.reads
            p.complete = True
            if linger:
                self.state = _LINGER  # nginx stops reading after a refused head
                del self.buf[:]
        self.queue.append(p)
        if complete and not self.busy and self.state != _LINGER:
            self._cancel_timer()
        self._next()

    def _fail(self, p: Pending, status: int, message: str, level: str, send: bool) -> None:
        p.error = (status, message, level, send)
        self.current = None
        if self.state != _CLOSED:
            self.state = _LINGER if send else _CLOSED
        p.complete = True
        self._next()

    def _refuse_head(self, v: Verdict) -> None:
        self.requests += 1
        if v.defer:  # a target nginx refuses: the engine answers with the line's variables
            req = HttpRequest(v.method, v.target, v.version, [], b"", self.client[0],
                              self.client[1], self.local[0], self.endpoint.port, self.number,
                              self.requests, self.accepted,
                              self.head_began_at == self.read_done_at, head_length=v.length,
                              line_length=v.length, raw_line=v.request_line)
            del self.buf[:]
            self._enqueue(Pending(req), complete=True, linger=True)
            return
        req = HttpRequest(v.method, v.target or "/", v.version, v.headers, b"", self.client[0],
                          self.client[1], self.local[0], self.endpoint.port, self.number,
                          self.requests, head_length=v.length)
        p = Pending(req)
        message = v.message
        if self.requests > 1 and self.head_began_at == self.read_done_at \
                and message.endswith(READING_LINE):
            # nginx's log action for a head already in the buffer after the last request
            message = message[:-len(READING_LINE)] + _READING_PIPELINED
        p.error = (v.status, message, "info", True)
        p.req_line = v.request_line
        for line, host in v.ignored:
            self._conn_log("info", f'client sent invalid header line: "{line}" while reading '
                                   "client request headers", req, host, v.request_line)
        small = self.settings.small_buffer - self.head_skipped
        if message.startswith("client sent invalid method while") \
                and v.request_line is not None and len(v.request_line) > small:
            # refused in nginx's first read: it shows what of the line that buffer holds
            # (after the empty lines before it)
            p.req_line = v.request_line.encode("utf-8", "surrogateescape")[:small] \
                .decode("utf-8", "surrogateescape")
        del self.buf[:]
        self._enqueue(p, complete=True, linger=True)

    def _reject_head(self, status: int, cause: str, send: bool) -> None:
        """The head never completed (timeout, hang-up): what nginx shows of it."""
        v = unfinished(bytes(self.buf.lstrip(b"\r\n")), status, cause)
        if self.requests and self.head_began_at == self.read_done_at \
                and v.message.endswith(READING_LINE):
            v.message = v.message[:-len(READING_LINE)] + _READING_PIPELINED
        req = HttpRequest(v.method, v.target or "/", v.version, v.headers, b"", self.client[0],
                          self.client[1], self.local[0], self.endpoint.port, self.number,
                          self.requests + 1, head_length=v.length)
        p = Pending(req)
        p.error = (v.status, v.message, "info", send)
        p.req_line = v.request_line
        del self.buf[:]
        self._enqueue(p, complete=True)

    # -- answering ---------------------------------------------------------------------

    def _next(self) -> None:
        """Answer queued requests one at a time, in order (HTTP/1.1 pipelining).

        A request that needs nothing to wait for (most of them) is answered inline, from
        the callback that completed it, with no task switch; one that waits (ngx.sleep, an
        upstream, a slow client) goes on in a task, which calls this again when done."""
        if self.dispatching:
            return  # the loop below is already running further up the stack
        self.dispatching = True
        try:
            while self.queue and not self.busy:
                p = self.queue[0]
                if not p.complete:
                    if p.expect and not p.continue_sent and not p.begun and not self.buf:
                        # a client waiting for "100 Continue" before its body: the engine
                        # runs once the body is here, so the listener answers first
                        self._send_continue(p)
                    return
                self.queue.popleft()
                if self.state == _CLOSED and p.error is None:
                    self.queue.clear()  # the client left: nobody to answer
                    return
                self.busy = True
                coro = self._respond(p)
                try:
                    waiting = coro.send(None)
                except StopIteration:
                    continue
                self.worker = self.loop.create_task(self._resume(coro, waiting))
        finally:
            self.dispatching = False

    async def _resume(self, coro: Any, waiting: Any) -> None:
        """Drive a response that suspended in :meth:`_next` to its end, then the next."""
        await Suspended(coro, waiting)
        if self.worker is asyncio.current_task():
            self.worker = None
        self._next()

    async def _respond(self, p: Pending) -> None:
        try:
            sink = WireSink(self)
            exchange = await self._answer(p, sink)
            self.busy = False
            if exchange is not None:
                self.endpoint.server.emit(exchange)
            if self.state == _CLOSED:  # refused without a response, or the client left
                self._abort()
                return
            keep = sink.keepalive and not self.draining and self.state == _READ \
                and p.error is None
            if not keep:
                self._close(linger=bool(self.buf) or self.state in (_BODY, _LINGER))
                return
            self._after_response()
        except Exception as exc:  # never let a bug reach the client as a traceback
            self.busy = False
            self._log("alert", f"listener error: {type(exc).__name__}: {exc}")
            self._abort()

    async def _answer(self, p: Pending, sink: Any) -> Exchange | None:
        engine = self.engine
        try:
            if p.error is not None:
                status, message, level, send = p.error
                return await engine.reject(p.req, status, message, level, send and
                                           self.state != _CLOSED,
                                           p.req_line, sink=sink)
            if p.discard:
                p.req.body = b""
            # the Exchange keeps a copy of the response only for those who watch
            return await engine.request(p.req, sink=sink,
                                        keep=bool(self.endpoint.server.exchange_listeners))
        except Exception as exc:
            self._log("alert", f"engine error: {type(exc).__name__}: {exc}")
            if not sink.started:
                await engine.reject(p.req, 500, "", sink=sink)
            sink.keepalive = False
            return None

    def _after_response(self) -> None:
        if self.queue or self.buf:
            if self.state == _READ and self.buf and not self.current:
                self.transport.resume_reading()  # type: ignore[union-attr]
                if not self.parsing:  # else the parse loop up the stack goes on
                    self._parse()
            return
        self.transport.resume_reading()  # type: ignore[union-attr]
        ka = self.settings.keepalive_timeout
        if ka <= 0:
            self._close(linger=False)
            return
        self._arm(ka, self._on_keepalive_timeout)

    def _send_continue(self, p: Pending) -> None:
        p.continue_sent = p.req.continue_sent = True
        self._write_continue()

    def _continue_before_error(self, p: Pending) -> None:
        """A body error is found by the handler reading it, which tested Expect first."""
        if p.expect and not p.continue_sent:
            self._send_continue(p)

    def _write_continue(self) -> None:
        if self.state != _CLOSED:
            self.transport.write(CONTINUE_LINE)  # type: ignore[union-attr]

    # -- timers and closing ------------------------------------------------------------

    def _arm(self, delay: float, cb: Any) -> None:
        self.timer.arm(delay, cb, self.settings.header_timeout)

    def _cancel_timer(self) -> None:
        self.timer.cancel()

    def _drop_timer(self) -> None:
        self.timer.drop()

    def _on_wait_timeout(self) -> None:
        if self.buf.strip(b"\r\n"):
            self._on_header_timeout()
            return
        self._conn_log("info", "client timed out (110: Connection timed out) while waiting "
                               "for request")
        self._abort()

    def _on_header_timeout(self) -> None:
        if self.busy or self.queue:  # answering earlier requests: the head waits its turn
            self._arm(self.settings.header_timeout, self._on_header_timeout)
            return
        self._reject_head(408, "client timed out (110: Connection timed out)", False)
        self.state = _CLOSED

    def _on_body_timeout(self) -> None:
        p = self.current
        if p is not None:
            self._fail(p, 408, "", "info", False)

    def _on_keepalive_timeout(self) -> None:
        if not self.busy and not self.queue and not self.buf:
            self._abort()

    def _on_linger_timeout(self) -> None:
        self._abort()

    def _close(self, linger: bool) -> None:
        """Close after the last response; linger to drain what the client still sends."""
        t = self.transport
        if t is None or self.state == _CLOSED:
            return
        if linger and t.can_write_eof():
            self.state = _LINGER
            del self.buf[:]
            t.write_eof()
            t.resume_reading()
            self._arm(_LINGERING_TIMEOUT, self._on_linger_timeout)
            return
        self.state = _CLOSED
        self._drop_timer()
        t.close()

    def _abort(self) -> None:
        """Close at once (a fast stop, a listener fault): a response still waiting in its
        task ends too, as nginx's workers drop theirs."""
        self.state = _CLOSED
        self._drop_timer()
        worker = self.worker
        if worker is not None and not worker.done() and worker is not asyncio.current_task():
            worker.cancel()
        if self.transport is not None:
            self.transport.close()

    def close_with(self, level: str, message: str) -> None:
        """Log a connection's last line and close it at once (a failed TLS handshake)."""
        self._log(level, message)
        self._abort()

    def drain(self) -> None:
        """Graceful stop or reload: idle connections close now, busy ones after answering."""
        self.draining = True
        if not self.busy and not self.queue and not self.current and not self.head_started:
            self._abort()

    # -- logging -------------------------------------------------------------------------

    def _log(self, level: str, message: str) -> None:
        self._conn_log(level, message)

    def _conn_log(self, level: str, message: str, req: HttpRequest | None = None,
                  seen: list[tuple[str, str]] | None = None, line: str | None = None) -> None:
        """A line nginx writes with connection context (no phase handler involved);
        ``seen``: the headers nginx had parsed when it wrote it (default: all);
        ``line``: the request line as received, when the request has none."""
        elog = self.engine.error_log
        if not elog.wants(level):
            return
        if req is None:
            ctx = f", client: {self.client[0]}, server: {self.endpoint.addr_text}"
        else:
            seen = req.headers if seen is None else seen
            # a Host line nginx parsed already chose the virtual server the context names
            host = next((v for k, v in seen if k.lower() == "host"), None)
            srv = request_server(self.engine, self.local[0], self.endpoint.port, host) \
                if host else None
            ctx = head_context(self.client[0],
                               srv.server_name if srv else self.settings.server_name,
                               line or req.raw_line or req.request_line, seen)
        elog.emit(LogRecord(level, time.time(), message, self.number, ctx))
