"""nginx's rules for a request head: buffer limits, syntax verdicts and header checks.

httptools (llhttp) parses well-formed heads quickly, but llhttp and nginx disagree at the
edges: llhttp refuses methods it does not know, header names with ``@`` and ``HTTP/0.9``
that nginx takes, and it has no notion of nginx's header buffers. So the listener frames
the head itself, asks :func:`check_size` whether nginx's buffers would overflow, lets
httptools parse, and when httptools refuses asks :func:`classify` what nginx would do:
answer 400/414/494/505 with its log line, or accept the head after all (then the listener
uses the :class:`Head` parsed here). The checks nginx makes on the header lines
once parsed (engine/http/header_checks.py) are shared with in-process requests.

Only the error path and oversized heads run this Python code; the hot path is httptools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..http.header_checks import READING_HEADERS as _READING_HEADERS
from ..http.header_checks import line_refusal
from ..http.request import SIMPLE
from ..http.servers import valid_host
from ..http.uri import InvalidURI, parse_target, split_absolute

#: ngx_http_parse_request_line: a method is upper-case letters, "_" and "-".
_METHOD = re.compile(rb"[A-Z_-]+")
#: The versions nginx 1.22 takes: major 1 (no leading zero), a minor of 1 to 3 digits.
_VERSION = re.compile(rb"HTTP/1\.\d{1,3}")
_MAJOR = re.compile(rb"HTTP/([1-9]\d?)")
#: NGX_MAX_ERROR_STR - 300: how much of a too long header line nginx logs.
_LOG_LINE_MAX = 1748
READING_LINE = " while reading client request line"


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
    #: Lines nginx ignored before it refused (``ignore_invalid_headers``), logged first,
    #: each with the headers before it (their Host and Referer are in the log context).
    ignored: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    #: The request line is refused for its target: the engine answers it (its variables
    #: are those of the line), and no header is read.
    defer: bool = False


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
        if verdict.defer:
            verdict.length = len(first)
        return verdict
    method, target, version = verdict
    headers: list[tuple[str, str]] = []
    ignored: list[str] = []
    counted = len(first)
    ends: list[int] = []  # $request_length through each kept header
    # ignored lines: the headers before each, and how many
    skipped: list[tuple[str, list[tuple[str, str]], int]] = []
    for line in lines[1:]:
        body = line.rstrip(b"\n").rstrip(b"\r")  # nginx takes CR CR LF as a line end
        if not body:
            break
        bad = _check_header_line(body)
        if bad is not None:
            early = line_refusal(headers)
            last = len(headers) + 1 if early is None or early.at is None else early.at + 1
            logged = [(text, seen) for text, seen, before in skipped if before < last]
            if early is not None:
                return Verdict(400, early.message, shown, method, target, version,
                               headers[:last], ends[last - 1], ignored=logged)
            return Verdict(400, f'client sent invalid header line: "{bad}..."' + _READING_HEADERS,
                           shown, method, target, version, headers, counted, ignored=logged)
        counted += len(line)
        name, sep, value = body.partition(b":")
        if not _valid_name(name):
            ignored.append(_text(body))
            skipped.append((_text(body), headers[:], len(headers)))
            continue
        headers.append((_text(name), _text(value.strip(b" "))))  # nginx trims spaces only
        ends.append(counted)
    return Head(method, target, version, headers, ignored)


def _check_request_line(line: bytes, shown: str) -> Verdict | tuple[str, str, str]:
    sp = line.find(b" ")
    method = line[:sp] if sp > 0 else line
    if sp <= 0 or not _METHOD.fullmatch(method):
        return Verdict(400, "client sent invalid method" + READING_LINE, shown)
    rest = line[sp:].lstrip(b" ") if sp > 0 else b""
    target, spaced, tail = rest.partition(b" ")
    bad = Verdict(400, "client sent invalid request" + READING_LINE, shown, _text(method))
    if not target or not (target.startswith(b"/") or b"://" in target) or \
            any(c < 0x21 or c == 0x7F for c in target):
        return bad
    if not spaced and target[:1] != b"/" and not any(c in b"/?" for c in
                                                target[target.find(b"://") + 3:]):
        return bad  # "GET http://host" and the line's end: the parser wants a space first
    tail = tail.strip(b" ")
    if not tail:
        if _bad_absolute(_text(target)):
            return bad  # refused as the parser reaches it, before the line is HTTP/0.9
        # HTTP/0.9 ("GET /"): a GET only, answered with a bare body
        if method != b"GET":
            return Verdict(400, "client sent invalid method in HTTP/0.9 request" + READING_LINE,
                           shown, _text(method), _text(target), SIMPLE)
        return target_refusal(_text(method), _text(target), SIMPLE, shown) or \
            (_text(method), _text(target), SIMPLE)
    if _VERSION.fullmatch(tail):
        return target_refusal(_text(method), _text(target), _text(tail), shown) or \
            (_text(method), _text(target), _text(tail))
    major = _MAJOR.match(tail)
    if major and major.group(1) != b"1" and not _bad_absolute(_text(target)):
        # nginx refuses a major version over 1 at the digit that makes it so, whatever
        # follows ("HTTP/2x", "HTTP/10.1"); a leading zero or "HTTP/0.9" is a 400
        return Verdict(505, "client sent invalid version" + READING_LINE, shown,
                       _text(method), _text(target), _text(tail))
    if tail[:1] == b"H" and _text(tail) != SIMPLE:
        # the parser had found where the version starts: $server_protocol is "" (a
        # spelled-out "HTTP/0.9" would read as a simple request here: left as "-")
        return Verdict(400, bad.message, shown, _text(method), "", _text(tail))
    return bad


def target_refusal(method: str, target: str, version: str, shown: str) -> Verdict | None:
    """Whether nginx refuses an accepted request line for its target, before reading any
    header line: a URI its parser refuses (bad ``%`` escapes, ``%00``, ``..`` above the
    root, a bad absolute form) or an invalid host in an absolute form. The engine answers
    it (``defer``); the listener reads no further."""
    try:
        parsed = parse_target(target)
    except InvalidURI:
        parsed = None
    if parsed is None or parsed.host is not None and valid_host(parsed.host) is None:
        return Verdict(400, "client sent invalid request" + READING_LINE, shown, method,
                       target, version, defer=True)
    return None


def _bad_absolute(target: str) -> bool:
    """An absolute form's scheme or host characters: the request line parser refuses
    them as it reaches them, before the version."""
    if target.startswith("/"):
        return False
    try:
        split_absolute(target)
    except InvalidURI:
        return True
    return False


def refused_line(buf: bytes | bytearray) -> Verdict | None:
    """nginx parses the request line as soon as it is in: a line it refuses is answered
    then, before any header arrives (a bad method even before the line ends). None
    while the line is incomplete or acceptable."""
    nl = buf.find(b"\n")
    if nl < 0:
        # nginx refuses a method at its first wrong byte, the line unfinished
        sp = buf.find(b" ")
        method = bytes(buf[:sp] if sp >= 0 else buf)
        if sp == 0 or not _METHOD.fullmatch(method):
            return Verdict(400, "client sent invalid method" + READING_LINE, _text(bytes(buf)))
        return None
    line = bytes(buf[:nl]).rstrip(b"\r")
    verdict = _check_request_line(line, _text(line))
    if not isinstance(verdict, Verdict):
        return None
    if verdict.defer:
        verdict.length = nl + 1
    return verdict


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
        if _valid_name(line.rstrip(b"\r\n").partition(b":")[0]):  # "NoColon" is a header
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


def headers_before(head: bytes, at: int) -> list[tuple[str, str]]:
    """The header lines of ``head`` before offset ``at`` as (name, value): what nginx had
    parsed when it logged the line there (its Host and Referer are in the log context)."""
    out = []
    for raw in head[:at].split(b"\n")[1:]:
        name, _, value = raw.rstrip(b"\r").partition(b":")
        out.append((name.decode("utf-8", "surrogateescape"),
                    value.strip(b" ").decode("utf-8", "surrogateescape")))
    return out
