"""The ResponseSink that writes the engine's response to the socket.

The engine decides the status line, every header (Connection, Transfer-Encoding...) and
whether the connection stays open; this sink only encodes: the head, chunk framing when
the engine said ``chunked``, and the terminating ``0\\r\\n\\r\\n``. The head is held back
until the first body bytes (or the end) so that a small response leaves in one write.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..http.limit_rate import Pace
    from .http1 import HttpConnection


class WireSink:
    __slots__ = ("conn", "head", "chunked", "keepalive", "started", "finished", "broken",
                 "pending", "pacer")

    def __init__(self, conn: HttpConnection) -> None:
        self.conn = conn
        self.head: bytes | None = None
        self.chunked = False
        self.keepalive = False
        self.started = False
        self.finished = False
        self.broken = False
        #: Body parts held until the end of the response or a flush: one write each.
        self.pending: list[bytes] = []
        #: limit_rate's pace for what is written (see engine/http/limit_rate.py)
        self.pacer: Pace | None = None

    def pace(self, pacer: Pace | None) -> None:
        """The engine's write filter hands over the response's limit_rate."""
        self.pacer = pacer

    async def send_headers(self, status: int, reason: str, headers: list[tuple[str, str]],
                           chunked: bool) -> None:
        self.started = True
        self.chunked = chunked
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append("\r\n")
        self.head = "\r\n".join(lines).encode("utf-8", "surrogateescape")

    async def send_body(self, data: bytes) -> None:
        if not data:
            return
        if self.chunked:
            parts = [f"{len(data):x}\r\n".encode(), data, b"\r\n"]
        else:
            parts = [data]
        if self.head is not None:
            parts.insert(0, self.head)
            self.head = None
        self.pending.extend(parts)

    async def flush(self) -> None:
        """The engine streams (ngx.flush, enough output): write what is held now."""
        parts = self.pending
        if self.head is not None:
            parts.insert(0, self.head)
            self.head = None
        if parts:
            self.pending = []
            await self._write(parts)

    async def client_done(self, keepalive: bool) -> None:
        """ngx.eof: the client gets the end of the response now, the handler goes on
        (the connection is not reused until the request really ends, as in nginx)."""
        await self._end()

    async def finish(self, keepalive: bool) -> None:
        self.finished = True
        self.keepalive = keepalive
        await self._end()

    async def _end(self) -> None:
        parts = self.pending
        self.pending = []
        if self.head is not None:
            parts.insert(0, self.head)
            self.head = None
        if self.chunked:
            parts.append(b"0\r\n\r\n")
            self.chunked = False  # the terminator goes out once
        if parts:
            await self._write(parts)

    async def _write(self, parts: list[bytes]) -> None:
        conn = self.conn
        t = conn.transport
        if t is None or t.is_closing():
            if not self.broken:
                self.broken = True
                conn._log("info", "writev() failed (32: Broken pipe) while sending to client")
            self.keepalive = False
            return
        if self.pacer is not None:
            await self._write_paced(b"".join(parts))
            return
        t.writelines(parts)
        waiter = conn.write_ok
        if waiter is not None and not waiter.done():
            await waiter  # the client reads slowly: wait for the buffer to drain

    async def _write_paced(self, data: bytes) -> None:
        """Write in the sends limit_rate allows, waiting as nginx's write timer does."""
        pacer = self.pacer
        assert pacer is not None
        while data:
            allowed = pacer.allowed(time.time())
            if allowed <= 0:
                await asyncio.sleep(pacer.wait(allowed))
                continue
            piece, data = data[:allowed], data[allowed:]
            t = self.conn.transport
            if t is None or t.is_closing():
                self.keepalive = False
                return
            t.write(piece)
            await self._drained()
            pause = pacer.sent_now(len(piece))
            if data and pause > 0:
                await asyncio.sleep(pause)

    async def _drained(self) -> None:
        waiter = self.conn.write_ok
        if waiter is not None and not waiter.done():
            await waiter  # the client reads slowly: wait for the buffer to drain
