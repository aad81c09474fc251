"""The FastCGI wire format, as ngx_http_fastcgi_module writes and reads it.

The request: a BEGIN_REQUEST record (role RESPONDER, flag KEEP_CONN with
``fastcgi_keep_conn on``), one PARAMS record with every name-value pair, an empty PARAMS
record, the body as STDIN records of at most 32k, and an empty STDIN record; every
record is padded to a multiple of 8 bytes, request id 1.

The response: STDOUT records carry a CGI header block (ended by an empty line) and then
the body, STDERR records carry text nginx logs, END_REQUEST ends it. nginx's wording for
what goes wrong while reading the header is kept here (``upstream sent unexpected
FastCGI record: 3``, ``upstream prematurely closed FastCGI stdout``, ``upstream sent
invalid status "abc"``), all ``invalid_header`` failures for ``fastcgi_next_upstream``.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Callable

from .proxy_transport import READING_BODY, READING_HEADER, AttemptFailure
from .upstream_connect import read_exactly

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
_STDIN_MAX = 32768


def _record(kind: int, content: bytes) -> bytes:
    padding = -len(content) % 8
    return struct.pack(">BBHHBB", 1, kind, 1, len(content), padding, 0) + content + \
        b"\0" * padding


def _length(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_request(params: list[tuple[bytes, bytes]], body: bytes, keep_conn: bool) -> bytes:
    """The whole request as nginx writes it."""
    pairs = b"".join(_length(len(k)) + _length(len(v)) + k + v for k, v in params)
    out = [_record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 1 if keep_conn else 0))]
    if pairs:
        out.append(_record(PARAMS, pairs))
    out.append(_record(PARAMS, b""))
    for i in range(0, len(body), _STDIN_MAX):
        out.append(_record(STDIN, body[i:i + _STDIN_MAX]))
    out.append(_record(STDIN, b""))
    return b"".join(out)


def stderr_text(content: bytes) -> str:
    """What nginx logs of a STDERR record: trailing CR, LF, dots and spaces dropped."""
    return content.rstrip(b"\r\n. ").decode("utf-8", "surrogateescape")


def invalid(message: str) -> AttemptFailure:
    return AttemptFailure("invalid_header", message, READING_HEADER, True)


class RecordReader:
    """Reads a peer's records, each within the read timeout; notes END_REQUEST."""

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self.reader = reader
        self.timeout = timeout
        self.ended = False

    async def next(self, action: str) -> tuple[int, bytes]:
        head = await read_exactly(self.reader, 8, self.timeout, action)
        _, kind, _, length, padding, _ = struct.unpack(">BBHHBB", head)
        content = await read_exactly(self.reader, length + padding, self.timeout, action)
        if kind == END_REQUEST:
            self.ended = True
        return kind, content[:length]


def parse_head(data: bytes) -> tuple[list[tuple[str, str]], bytes] | None:
    """The CGI header lines and what follows the empty line, or None when incomplete."""
    headers: list[tuple[str, str]] = []
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return None
        line = data[pos:nl].rstrip(b"\r")
        pos = nl + 1
        if not line:
            return headers, data[pos:]
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise invalid("upstream sent invalid header")
        headers.append((name.strip().decode("latin-1"),
                        value.strip(b" \t").decode("utf-8", "surrogateescape")))


StderrLog = Callable[[bytes, str], None]


async def read_head(records: RecordReader, buffer_size: int,
                    log_stderr: StderrLog) -> tuple[list[tuple[str, str]], bytes]:
    """Read records until the header block is complete: (headers, start of the body)."""
    buf = b""
    while True:
        kind, content = await records.next(READING_HEADER)
        if kind == STDERR:
            log_stderr(content, READING_HEADER)
            continue
        if kind != STDOUT:
            raise invalid(f"upstream sent unexpected FastCGI record: {kind}")
        if not content:
            raise invalid("upstream prematurely closed FastCGI stdout")
        buf += content
        parsed = parse_head(buf)
        if parsed is not None:
            return parsed
        if len(buf) > buffer_size:
            raise invalid("upstream sent too big header")


def status_of(headers: list[tuple[str, str]]) -> tuple[int, str]:
    """The response status: ``Status:``, else 302 for a ``Location:``, else 200."""
    location = False
    for name, value in headers:
        low = name.lower()
        if low == "status":
            code = value[:3]
            if len(code) < 3 or not code.isdigit():
                raise invalid(f'upstream sent invalid status "{value}"')
            return int(code), value
        location = location or low == "location"
    return (302, "302 Moved Temporarily") if location else (200, "200 OK")


async def body_piece(records: RecordReader, log_stderr: StderrLog) -> bytes:
    """The next piece of the body, b"" once END_REQUEST (or an empty STDOUT) came."""
    while not records.ended:
        kind, content = await records.next(READING_BODY)
        if kind == STDOUT and content:
            return content
        if kind == STDERR:
            log_stderr(content, READING_BODY)
    return b""
