"""nginx's rules for a request head: buffer limits, syntax verdicts and header checks.

httptools (llhttp) parses well-formed heads quickly, but llhttp and nginx disagree at the
edges: llhttp refuses methods it does not know, header names with ``@`` and ``HTTP/0.9``
that nginx takes, and it has no notion of nginx's header buffers. So the listener frames
the head itself, asks :func:`check_size` whether nginx's buffers would overflow, lets
httptools parse, and when httptools refuses asks :func:`classify` what nginx would do:
answer 400/414/494/505 with its log line, or accept the head after all (then the listener
uses the :class:`Head` parsed here). :func:`check_headers` holds the checks nginx makes
once all headers are in (``ngx_http_process_request_header``), which llhttp does not.

Only the error path and oversized heads run this Python code; the hot path is httptools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..http.request import SIMPLE
from ..http.servers import valid_host

#: ngx_http_parse_request_line: a method is upper-case letters, "_" and "-".
_METHOD = re.compile(rb"[A-Z_-]+")
_VERSION = re.compile(rb"HTTP/(\d{1,3})\.(\d{1,3})")
#: NGX_MAX_ERROR_STR - 300: how much of a too long header line nginx logs.
_LOG_LINE_MAX = 1748
READING_LINE = " while reading client request line"
_READING_HEADERS = " while reading client request headers"


@dataclass
class Verdict:
    """nginx refuses the head: the status, the error-log message and ``request: "..."``."""

    status: int
    message: str
    request_line: str = ""
    #: The method/target/version nginx had parsed (for the access log), if any.
    method: str = ""
    target: str = ""
    version: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: The bytes nginx had counted in ``$request_length`` when it stopped: the request
    #: line once parsed, then each header line parsed (0: the request line failed).
    length: int = 0
    #: For a refusal of :func:`check_headers` made at a header line (as nginx makes it
    #: while parsing): that header's index in the list; None when made after the head.
    at: int | None = None


@dataclass
class Head:
    """A head nginx accepts, parsed by nginx's rules (used when llhttp refused it)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    #: Lines nginx ignored (``ignore_invalid_headers``), logged at info.
    ignored: list[str] = field(default_factory=list)


def simple_line_end(buf: bytes | bytearray) -> int:
    """Offset just past the request line when it is a whole HTTP/0.9 one (a method
    and a URI, no version: nginx reads no header after it), else -1."""
    nl = buf.find(b"\n")
    if nl < 0 or buf.find(b" HTTP/", 0, nl) >= 0:
        return -1
    line = bytes(buf[:nl]).rstrip(b"\r")
    return nl + 1 if len([p for p in line.split(b" ") if p]) == 2 else -1


def find_head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """Offset just past the empty line ending the head, or -1 (CRLF or bare LF lines)."""
    a = buf.find(b"\n\r\n", start)
    b = buf.find(b"\n\n", start)
    if a < 0:
        return b + 2 if b >= 0 else -1
    if b < 0 or a < b:
        return a + 3
    return b + 2


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _lines(raw: bytes) -> list[bytes]:
    """Lines with their terminators; the last one may be incomplete. Only LF ends a
    line for nginx: a bare CR stays inside it (``splitlines`` would cut there)."""
    out = [line + b"\n" for line in raw.split(b"\n")]
    last = out.pop()[:-1]
    if last:
        out.append(last)
    return out


def check_size(raw: bytes, small: int, large: int, num: int) -> Verdict | None:
    """Would the head overflow ``client_header_buffer_size``/``large_client_header_buffers``?

    nginx reads into the small buffer; a line that does not fit in what is left is moved
    whole to a free large buffer (``ngx_http_alloc_large_header_buffer``). A line longer
    than a large buffer is refused: 414 for the request line, 494 for a header; so is a
    line when all ``num`` large buffers are busy.
    """
    cap, used, busy = small, 0, 0
    for i, line in enumerate(_lines(raw)):
        n = len(line)
        if used + n <= cap:
            used += n
            continue
        if n > large or busy == num:
            if i == 0:  # $request is the full large buffer; the error log cuts it
                return Verdict(414, "client sent too long URI" + READING_LINE,
                               _text(line[:large]).rstrip("\r\n"))
            shown = _text(line[: min(_LOG_LINE_MAX, cap - used if busy == num else n)])
            first = _lines(raw)[0]
            method, target, version = _split_line(first)
            # the header lines nginx had parsed before this one (its log shows host: "...")
            seen = []
            for prior in _lines(raw)[1:i]:
                name, sep, value = _text(prior).partition(":")
                if sep:
                    seen.append((name.strip(), value.strip()))
            return Verdict(494, f'client sent too long header line: "{shown.rstrip()}..."'
                           + _READING_HEADERS, _text(first).rstrip("\r\n"),
                           method, target, version, seen, sum(map(len, _lines(raw)[:i])))
        busy += 1
        cap, used = large, n
    return None


def _split_line(line: bytes) -> tuple[str, str, str]:
    parts = line.strip().split(b" ")
    parts = [p for p in parts if p]
    method = _text(parts[0]) if parts else ""
    target = _text(parts[1]) if len(parts) > 1 else ""
    version = _text(parts[2]) if len(parts) > 2 else ""
    return method, target, version


def classify(raw: bytes) -> Verdict | Head:
    """nginx's verdict on a complete head (request line + headers + empty line)."""
    lines = _lines(raw.lstrip(b"\r\n"))
    if not lines:
        return Verdict(400, "client sent invalid request" + READING_LINE)
    first = lines[0]
    shown = _text(first).rstrip("\r\n")
    verdict = _check_request_line(first.rstrip(b"\r\n"), shown)
    if isinstance(verdict, Verdict):
        return verdict
    method, target, version = verdict
    headers: list[tuple[str, str]] = []
    ignored: list[str] = []
    counted = len(first)
    for line in lines[1:]:
        body = line.rstrip(b"\n").rstrip(b"\r")  # nginx takes CR CR LF as a line end
        if not body:
            break
        bad = _check_header_line(body)
        if bad is not None:
            return Verdict(400, f'client sent invalid header line: "{bad}..."' + _READING_HEADERS,
                           shown, method, target, version, headers, counted)
        counted += len(line)
        name, sep, value = body.partition(b":")
        if not _valid_name(name):
            ignored.append(_text(body))
            continue
        headers.append((_text(name), _text(value.strip(b" \t"))))
    return Head(method, target, version, headers, ignored)


def _check_request_line(line: bytes, shown: str) -> Verdict | tuple[str, str, str]:
    sp = line.find(b" ")
    method = line[:sp] if sp > 0 else line
    if sp <= 0 or not _METHOD.fullmatch(method):
        return Verdict(400, "client sent invalid method" + READING_LINE, shown)
    rest = line[sp:].lstrip(b" ") if sp > 0 else b""
    target, _, tail = rest.partition(b" ")
    bad = Verdict(400, "client sent invalid request" + READING_LINE, shown, _text(method))
    if not target or not (target.startswith(b"/") or b"://" in target) or \
            any(c < 0x21 or c == 0x7F for c in target):
        return bad
    tail = tail.strip(b" ")
    if not tail:
        # HTTP/0.9 ("GET /"): a GET only, answered with a bare body
        if method != b"GET":
            return Verdict(400, "client sent invalid method in HTTP/0.9 request" + READING_LINE,
                           shown, _text(method), _text(target), SIMPLE)
        return _text(method), _text(target), SIMPLE
    m = _VERSION.fullmatch(tail)
    if not m or m.group(1) == b"0":  # "HTTP/0.9" spelled out is refused
        return bad
    if int(m.group(1)) > 1:
        return Verdict(505, "client sent invalid version" + READING_LINE, shown,
                       _text(method), _text(target), _text(tail))
    return _text(method), _text(target), _text(tail)


def refused_line(buf: bytes | bytearray) -> Verdict | None:
    """nginx parses the request line as soon as it is in: a line it refuses is answered
    then, before any header arrives. None while the line is incomplete or acceptable."""
    nl = buf.find(b"\n")
    if nl < 0:
        return None
    line = bytes(buf[:nl]).rstrip(b"\r")
    verdict = _check_request_line(line, _text(line))
    return verdict if isinstance(verdict, Verdict) else None


def unfinished(raw: bytes, status: int, cause: str) -> Verdict:
    """What nginx had of a head that never completed (a timeout, a hang-up): the complete
    lines, whose headers it knows and counts in ``$request_length``, or the request line
    so far; ``cause`` gets the ``while reading ...`` of whichever it was reading."""
    complete = raw[:raw.rfind(b"\n") + 1]
    if not complete:
        line = _text(raw)
        parts = line.split(" ")
        return Verdict(status, cause + READING_LINE, line,
                       *(parts[:2] if len(parts) >= 2 else ()))
    line = _text(complete.split(b"\n", 1)[0]).rstrip("\r")
    message = cause + _READING_HEADERS
    parsed = classify(complete + b"\r\n")
    if isinstance(parsed, Head):
        return Verdict(status, message, line, parsed.method, parsed.target, parsed.version,
                       parsed.headers, len(complete))
    parts = line.split(" ")
    return Verdict(status, message, line, *(parts if len(parts) == 3 else ()),
                   length=len(complete))


def counted_through(head: bytes, index: int) -> int:
    """``$request_length`` of a head refused at its ``index``-th kept header (ignored
    lines, whose names nginx does not take, count but take no index): nginx adds each
    line as parsed, the refused one too, and never reaches the empty line."""
    lines = _lines(head)
    total = len(lines[0])
    for line in lines[1:]:
        total += len(line)
        if _valid_name(line.partition(b":")[0]):
            if index == 0:
                return total
            index -= 1
    return total


def _check_header_line(body: bytes) -> str | None:
    """The text nginx logs for an invalid header line, or None when it is acceptable.

    ``body`` is the line without its CR/LF ending. A line starting with ``:``, control
    characters and spaces in a name (or a line starting with one) are errors; so are NUL
    and a bare CR (one not followed by LF) in a value. nginx shows the line up to where
    its parser stood (``r->header_end``), then that byte as ``\\xnn``: for a bare CR
    after a value, the start of the spaces before it.
    """
    if body[:1] == b":":
        return "\\x3a"
    colon = body.find(b":")
    name = body if colon < 0 else body[:colon]
    for i, c in enumerate(name):
        if c <= 0x20 or c == 0x7F:
            return _shown(body, i)
    nul = body.find(b"\0", colon + 1)
    cr = body.find(b"\r", colon + 1)
    if cr >= 0 and (nul < 0 or cr < nul):
        start = colon + 1
        while start < cr and body[start] == 0x20:
            start += 1  # spaces before the value: the parser is still past them
        while cr > start and body[cr - 1] == 0x20:
            cr -= 1  # trailing spaces: header_end stayed at the first of them
        return _shown(body, cr)
    if nul >= 0:
        return _shown(body, nul)
    return None


def _shown(body: bytes, at: int) -> str:
    return _text(body[:at]) + f"\\x{body[at]:02x}"


def _valid_name(name: bytes) -> bool:
    """nginx's header-name characters (``underscores_in_headers off``): A-Z a-z 0-9 -."""
    return bool(name) and name.replace(b"-", b"").isalnum() and name.isascii()


#: Headers nginx takes once (ngx_http_process_unique_header_line): a second is a 400.
_UNIQUE = frozenset({"if-modified-since", "if-unmodified-since", "if-match", "if-none-match",
                     "content-length", "content-range", "if-range", "transfer-encoding",
                     "expect", "authorization"})


def check_headers(version: str, method: str, headers: list[tuple[str, str]],
                  check_host: bool = True) -> tuple[Verdict | None, int | None, bool]:
    """The checks of ``ngx_http_process_request_header``: (refusal, Content-Length, chunked).

    Host presence is left to the engine; the syntax of the first Host line is checked
    here, in line order with the other checks, as nginx does while parsing (not with
    ``check_host`` False: a request line's host comes first, and the engine checks both).
    """
    host = clen = te = None
    seen: dict[str, tuple[str, str]] = {}
    for i, (name, value) in enumerate(headers):
        low = name.lower()
        if low == "host":
            if host is not None:
                return (Verdict(400, f'client sent duplicate host header: "{name}: {value}", '
                                f'previous value: "{host[0]}: {host[1]}"' + _READING_HEADERS,
                                at=i), None, False)
            host = (name, value)
            if check_host and valid_host(value) is None:
                # ngx_http_process_host checks each Host line as it is parsed: a first
                # invalid one is refused before a second is seen
                return (Verdict(400, "client sent invalid host header" + _READING_HEADERS,
                                at=i), None, False)
            continue
        if low in _UNIQUE:
            first = seen.get(low)
            if first is not None:
                return (Verdict(400, f'client sent duplicate header line: "{name}: {value}", '
                                f'previous value: "{first[0]}: {first[1]}"' + _READING_HEADERS,
                                at=i), None, False)
            seen[low] = (name, value)
        if low == "content-length":
            clen = (name, value)
        elif low == "transfer-encoding":
            te = value
    length: int | None = None
    if clen is not None:
        if not clen[1].isdigit() or not clen[1].isascii() or len(clen[1]) > 18:
            return (Verdict(400, 'client sent invalid "Content-Length" header' + _READING_HEADERS),
                    None, False)
        length = int(clen[1])
    chunked = False
    if te is not None:
        if version == "HTTP/1.0":
            return (Verdict(400, 'client sent HTTP/1.0 request with "Transfer-Encoding" header'
                            + _READING_HEADERS), None, False)
        if te.lower() != "chunked":
            return (Verdict(501, f'client sent unknown "Transfer-Encoding": "{te}"'
                            + _READING_HEADERS), None, False)
        if clen is not None:
            return (Verdict(400, 'client sent "Content-Length" and "Transfer-Encoding" headers '
                            'at the same time' + _READING_HEADERS), None, False)
        chunked = True
    if method in ("CONNECT", "TRACE"):  # nginx 1.22 refuses both once the head is read
        return Verdict(405, f"client sent {method} method" + _READING_HEADERS), None, False
    return None, length, chunked
