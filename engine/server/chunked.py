"""An incremental decoder for chunked request bodies, with nginx's accounting.

The listener frames requests itself (see :mod:`engine.server.head`), so it must know
exactly where a chunked body ends to find the next pipelined request; it must also see
each chunk's declared size before its data, because nginx refuses a body that goes over
``client_max_body_size`` as soon as a chunk header says so ("client intended to send too
large chunked body: 0+100 bytes"), without buffering the data.
"""

from __future__ import annotations

import re

_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
MAX_LINE = 4096


class ChunkError(Exception):
    """The body is not valid chunked encoding (nginx: "client sent invalid chunked body")."""


class TooLarge(Exception):
    """A chunk would take the body over the limit; ``received`` and ``size`` for the log."""

    def __init__(self, received: int, size: int) -> None:
        super().__init__(f"{received}+{size}")
        self.received = received
        self.size = size


class ChunkedDecoder:
    """Feed bytes; collects the decoded body and says where the encoding ended."""

    __slots__ = ("limit", "received", "wire", "parts", "done", "discard", "over", "_state",
                 "_left")

    def __init__(self, limit: int = 0, discard: bool = False) -> None:
        #: 0 means unlimited, as ``client_max_body_size 0``.
        self.limit = limit
        #: Over the limit, drop the data instead of raising TooLarge: a body nobody reads
        #: is discarded by nginx without a size check, but must not fill our memory.
        self.discard = discard
        #: The body went over the limit in discard mode (``parts`` no longer kept).
        self.over = False
        self.received = 0
        #: The bytes consumed, framing and trailer included: what ``$request_length``
        #: counts of a chunked body nginx read.
        self.wire = 0
        self.parts: list[bytes] = []
        self.done = False
        self._state = "size"  # size | data | data_end | trailer
        self._left = 0

    def feed(self, buf: bytes, pos: int = 0) -> int:
        """Consume from ``buf[pos:]``; returns the offset reached (the end when done)."""
        end = self._feed(buf, pos)
        self.wire += end - pos
        return end

    def _feed(self, buf: bytes, pos: int) -> int:
        n = len(buf)
        while pos < n and not self.done:
            st = self._state
            if st == "data":
                take = min(self._left, n - pos)
                if not self.over:
                    self.parts.append(buf[pos:pos + take])
                self.received += take
                self._left -= take
                pos += take
                if self._left == 0:
                    self._state = "data_end"
            elif st == "size":
                m = _SIZE.match(buf, pos)
                if m is None:
                    if buf.find(b"\n", pos) >= 0 or n - pos > MAX_LINE:
                        raise ChunkError
                    return pos
                size = int(m.group(1), 16)
                if self.limit and self.received + size > self.limit and not self.over:
                    if not self.discard:
                        raise TooLarge(self.received, size)
                    self.over = True
                    self.parts = []
                pos = m.end()
                if size == 0:
                    self._state = "trailer"
                else:
                    self._left = size
                    self._state = "data"
            elif st == "data_end":
                if buf.startswith(b"\r\n", pos):
                    pos += 2
                elif buf.startswith(b"\n", pos):
                    pos += 1
                elif n - pos < 2 and buf[pos:pos + 1] == b"\r":
                    return pos
                else:
                    raise ChunkError
                self._state = "size"
            else:  # trailer lines until an empty one
                eol = buf.find(b"\n", pos)
                if eol < 0:
                    if n - pos > MAX_LINE:
                        raise ChunkError
                    return pos
                line = buf[pos:eol].rstrip(b"\r")
                pos = eol + 1
                if not line:
                    self.done = True
        return pos

    def body(self) -> bytes:
        return b"".join(self.parts)
