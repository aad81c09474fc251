"""A plain-TCP HTTP/1.x upstream exchange that writes the request byte for byte as nginx.

httpx (the proxy's general edge) always writes ``HTTP/1.1`` and puts ``Host`` first; what
a backend receives from nginx is the request line with nginx's version (``HTTP/1.0``
unless ``proxy_http_version 1.1``) and the headers in ``create_request``'s order. For a
plain ``http://host:port`` peer the proxy therefore speaks HTTP itself: it writes the
request built by ``ngx_http_proxy_create_request`` as is, and reads the response the way
nginx's parser does (``ngx_http_parse_status_line``, ``ngx_http_parse_header_line`` with
its "upstream sent invalid header" wording, then the body by chunks, by
``Content-Length`` or up to the close; none after ``HEAD``, 204 or 304). One connection
per request: nginx closes it too unless an upstream ``keepalive`` pool keeps it, which a
client cannot see.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import TYPE_CHECKING

from .proxy_transport import READING_BODY, READING_HEADER, SENDING, AttemptFailure, \
    Timeouts, UpstreamRequest, UpstreamResponse, timed_out
from .upstream_connect import open_stream, read_from_peer

if TYPE_CHECKING:
    from .upstream import Peer

#: nginx's status-line parser refuses anything else as HTTP/1.x; nginx logs this.
_NO_HEADER = "upstream sent no valid HTTP/1.0 header"
#: The most header bytes read before giving up (the proxy checks proxy_buffer_size).
_HEADER_LIMIT = 1 << 20


def request_bytes(req: UpstreamRequest) -> bytes:
    """The request as nginx writes it: request line, headers in order, blank line, body."""
    text = f"{req.method} {req.target} {req.version}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in req.headers) + "\r\n"
    return text.encode("utf-8", "surrogateescape") + (req.body or b"")


async def open_http(peer: Peer, req: UpstreamRequest, timeouts: Timeouts) -> UpstreamResponse:
    """Connect, send ``req`` and read the response header; the body is read on demand."""
    reader, writer = await open_stream(peer, timeouts.connect)
    try:
        writer.write(request_bytes(req))
        try:
            await asyncio.wait_for(writer.drain(), timeouts.send or None)
        except asyncio.TimeoutError:
            raise timed_out(SENDING, True) from None
        except OSError as exc:
            code = exc.errno or errno.EPIPE
            raise AttemptFailure("error", f"writev() failed ({code}: {os.strerror(code)})",
                                 SENDING, True) from None
        status, line, headers = await _read_header(reader, timeouts.read)
    except BaseException:
        writer.close()
        raise
    body = _BodyReader(reader, writer, _framing(req.method, status, headers))
    return UpstreamResponse(status, line, headers, body)


async def _line(reader: asyncio.StreamReader, timeout: float, action: str) -> bytes:
    """One line without its CRLF or LF; an early close or a reset as nginx logs them."""
    data = (await read_from_peer(reader.readuntil(b"\n"), timeout, action))[:-1]
    return data[:-1] if data.endswith(b"\r") else data


def _status(line: bytes) -> tuple[int, str] | None:
    """ngx_http_parse_status_line: ``HTTP/d.d ddd[ reason]``; the status line nginx keeps
    runs from the code to the end of the line."""
    if not line.startswith(b"HTTP/"):
        return None
    version, _, rest = line[5:].partition(b" ")
    major, dot, minor = version.partition(b".")
    if not (dot and major.isdigit() and minor.isdigit()):
        return None
    rest = rest.lstrip(b" ")
    code = rest[:3]
    if len(code) < 3 or not code.isdigit() or (len(rest) > 3 and rest[3:4] != b" "):
        return None
    return int(code), rest.rstrip(b" ").decode("utf-8", "surrogateescape")


def _header_line(line: bytes) -> tuple[str, str]:
    """ngx_http_parse_header_line for an upstream (underscores allowed): a name up to
    ``:`` without control bytes or spaces, then the value with the blanks around it cut.
    A refused line is a 502 whose log names the line up to the refused byte."""
    name_end = line.find(b":")
    for i, ch in enumerate(line if name_end < 0 else line[:name_end]):
        if ch <= 0x20 or ch == 0x7F:
            head = line[:i].decode("utf-8", "surrogateescape")
            raise AttemptFailure("invalid_header", f'upstream sent invalid header: '
                                 f'"{head}\\x{ch:02x}..."', READING_HEADER, True)
    if name_end == 0:
        raise AttemptFailure("invalid_header", 'upstream sent invalid header: "\\x3a..."',
                             READING_HEADER, True)
    if name_end < 0:  # a name alone: a header with an empty value
        return line.decode("latin-1"), ""
    value = line[name_end + 1:].strip(b" \t")
    if b"\x00" in value:
        head = line[:line.find(b"\x00")].decode("utf-8", "surrogateescape")
        raise AttemptFailure("invalid_header", f'upstream sent invalid header: '
                             f'"{head}\\x00..."', READING_HEADER, True)
    return line[:name_end].decode("latin-1"), value.decode("utf-8", "surrogateescape")


async def _read_header(reader: asyncio.StreamReader, timeout: float
                       ) -> tuple[int, str, list[tuple[str, str]]]:
    first = await _line(reader, timeout, READING_HEADER)
    parsed = _status(first)
    if parsed is None:
        # nginx passes such a reply on as HTTP/0.9; the engine answers 502 (docs/proxy.md)
        raise AttemptFailure("invalid_header", _NO_HEADER, READING_HEADER, True)
    headers: list[tuple[str, str]] = []
    size = len(first)
    while True:
        line = await _line(reader, timeout, READING_HEADER)
        if not line:
            return parsed[0], parsed[1], headers
        size += len(line)
        if size > _HEADER_LIMIT:
            raise AttemptFailure("invalid_header", "upstream sent too big header",
                                 READING_HEADER, True, headers)
        try:
            headers.append(_header_line(line))
        except AttemptFailure as f:
            f.headers = headers
            raise


def _framing(method: str, status: int, headers: list[tuple[str, str]]) -> int | str:
    """How the body ends: 0 (none), a length, "chunked" or "close"."""
    if method == "HEAD" or status in (204, 304) or status < 200:
        return 0
    length: int | None = None
    for name, value in headers:
        low = name.lower()
        if low == "transfer-encoding" and "chunked" in value.lower():
            return "chunked"
        if low == "content-length":  # the last line counts; an invalid one means none
            length = int(value.strip()) if value.strip().isdigit() else None
    return "close" if length is None else length


class _BodyReader:
    """The body's pieces as they arrive, chunked encoding removed; b"" at its end."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 framing: int | str) -> None:
        self.reader = reader
        self.writer = writer
        self.left = framing if isinstance(framing, int) else -1
        self.chunked = framing == "chunked"
        self.done = framing == 0

    async def read(self, timeout: float) -> bytes:
        if self.done:
            return b""
        if self.chunked:
            return await self._chunk(timeout)
        want = 65536 if self.left < 0 else min(self.left, 65536)
        data = await self._recv(want, timeout)
        if not data:
            self.done = True
            if self.left > 0:
                raise AttemptFailure("error", "upstream prematurely closed connection",
                                     READING_BODY, True)
            return b""
        if self.left > 0:
            self.left -= len(data)
            self.done = self.left == 0
        return data

    async def _chunk(self, timeout: float) -> bytes:
        """The next piece of chunk data, passed on as it arrives (nginx sends on what it
        got of a chunk cut short, then logs the early close)."""
        if self.left <= 0:
            if self.left == 0:
                await _line(self.reader, timeout, READING_BODY)  # the CRLF after a chunk
            size_line = await _line(self.reader, timeout, READING_BODY)
            digits = size_line.split(b";", 1)[0].strip()
            try:
                self.left = int(digits, 16) if digits.isalnum() else -1
            except ValueError:
                self.left = -1
            if self.left < 0:
                raise AttemptFailure("error", "upstream sent invalid chunked response",
                                     READING_BODY, True)
            if self.left == 0:
                self.done = True
                return b""
        data = await self._recv(min(self.left, 65536), timeout)
        if not data:
            raise AttemptFailure("error", "upstream prematurely closed connection",
                                 READING_BODY, True)
        self.left -= len(data)
        return data

    async def _recv(self, size: int, timeout: float) -> bytes:
        return await read_from_peer(self.reader.read(size), timeout, READING_BODY)

    async def close(self) -> None:
        self.writer.close()
