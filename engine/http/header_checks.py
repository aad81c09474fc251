"""The checks nginx makes on a request's header lines once they are parsed
(ngx_http_process_request_headers' unique lines and Host, then
ngx_http_process_request_header): a second If-Modified-Since or Content-Length, an
invalid Host, a Content-Length that is no number, Transfer-Encoding with HTTP/1.0...

The listener runs them on every head it reads (engine/server/head.py); the engine runs
them on a request built in-process (the TUI's composer, the API), so that both refuse
what nginx refuses, with nginx's status and error-log line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .request import SIMPLE
from .servers import valid_host

READING_HEADERS = " while reading client request headers"


@dataclass
class Refusal:
    """nginx refuses the head: the status and the error-log message."""

    status: int
    message: str
    #: The index of the header line nginx refused at (None: after the whole head).
    at: int | None = None
    #: An invalid Host the engine refuses itself (an absolute-form target named the
    #: server, so the Host line's syntax is not the listener's to judge).
    defer: bool = False


#: Headers nginx takes once (ngx_http_process_unique_header_line): a second is a 400.
_UNIQUE = frozenset({"if-modified-since", "if-unmodified-since", "if-match", "if-none-match",
                     "content-length", "content-range", "if-range", "transfer-encoding",
                     "expect", "authorization"})


def line_refusal(headers: list[tuple[str, str]], check_host: bool = True) -> Refusal | None:
    """The checks nginx makes on each header line as it parses it (a Host's syntax, a
    second Host or unique header): they come before any later line's syntax error and
    before the checks made once all headers are in. Without ``check_host`` (an absolute
    form named the server) an invalid Host is the engine's to refuse (``defer``)."""
    host = None
    seen: dict[str, tuple[str, str]] = {}
    for i, (name, value) in enumerate(headers):
        low = name.lower()
        if low == "host":
            if host is not None:
                return Refusal(400, f'client sent duplicate host header: "{name}: {value}", '
                               f'previous value: "{host[0]}: {host[1]}"' + READING_HEADERS,
                               at=i)
            host = (name, value)
            if valid_host(value) is None:
                # ngx_http_process_host checks each Host line as it is parsed: a first
                # invalid one is refused before a second is seen
                return Refusal(400, "client sent invalid host header" + READING_HEADERS, at=i,
                               defer=not check_host)
            continue
        if low in _UNIQUE:
            first = seen.get(low)
            if first is not None:
                return Refusal(400, f'client sent duplicate header line: "{name}: {value}", '
                               f'previous value: "{first[0]}: {first[1]}"' + READING_HEADERS,
                               at=i)
            seen[low] = (name, value)
    return None


def http11(version: str) -> bool:
    """HTTP/1.1 or a later minor ("HTTP/1.10", "HTTP/1.01" too): nginx compares numbers."""
    return version != SIMPLE and version.rpartition(".")[2].strip("0") != ""


def host_missing(version: str, headers: list[tuple[str, str]]) -> bool:
    """An HTTP/1.1 (or later minor) request without a Host line, which nginx refuses."""
    return http11(version) and not any(k.lower() == "host" for k, _ in headers)


def check_headers(version: str, method: str, headers: list[tuple[str, str]],
                  check_host: bool = True) -> tuple[Refusal | None, int | None, bool]:
    """The checks of ``ngx_http_process_request_header``: (refusal, Content-Length, chunked).

    The syntax of the first Host line is checked here, in line order with the other
    checks, as nginx does while parsing (an absolute-form target's host, checked before
    any header, is the caller's: :func:`target_refusal`; then ``check_host`` is False).
    A missing Host is left to the engine unless a later check would refuse first.
    """
    refusal = line_refusal(headers, check_host)
    if refusal is not None:
        return refusal, None, False
    clen = te = None
    for name, value in headers:
        low = name.lower()
        if low == "content-length":
            clen = (name, value)
        elif low == "transfer-encoding":
            te = value
    if (clen is not None or te is not None or method in ("CONNECT", "TRACE")) \
            and host_missing(version, headers):
        # nginx checks the Host first; the engine refuses a request without one itself
        return (Refusal(400, 'client sent HTTP/1.1 request without "Host" header'
                        + READING_HEADERS), None, False)
    length: int | None = None
    if clen is not None:
        if not clen[1].isdigit() or not clen[1].isascii() or len(clen[1]) > 18:
            return (Refusal(400, 'client sent invalid "Content-Length" header' + READING_HEADERS),
                    None, False)
        length = int(clen[1])
    chunked = False
    if te is not None:
        if version == "HTTP/1.0":
            return (Refusal(400, 'client sent HTTP/1.0 request with "Transfer-Encoding" header'
                            + READING_HEADERS), None, False)
        if te.lower() != "chunked":
            return (Refusal(501, f'client sent unknown "Transfer-Encoding": "{te}"'
                            + READING_HEADERS), None, False)
        if clen is not None:
            return (Refusal(400, 'client sent "Content-Length" and "Transfer-Encoding" headers '
                            'at the same time' + READING_HEADERS), None, False)
        chunked = True
    if method in ("CONNECT", "TRACE"):  # nginx 1.22 refuses both once the head is read
        return Refusal(405, f"client sent {method} method" + READING_HEADERS), None, False
    return None, length, chunked
