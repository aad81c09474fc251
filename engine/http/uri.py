"""The request target: ``$request_uri`` → ``$uri`` and ``$args``, as nginx normalises it.

nginx (ngx_http_parse_complex_uri) percent-decodes the path, merges slashes when
``merge_slashes`` is on, resolves ``.`` and ``..`` segments and rejects a path that climbs
above the root, a bad ``%`` escape or a decoded NUL with 400. The query string is kept
raw: ``$args`` is never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_HEX = "0123456789abcdefABCDEF"


class InvalidURI(ValueError):
    """The target cannot be a request URI; nginx answers 400."""


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    uri: str
    args: str
    has_args: bool
    host: str | None  # from an absolute-form target ("GET http://h/x")
    #: ``r->unparsed_uri`` (``$request_uri``): an absolute form's target without its
    #: scheme and host ("/x?y", "?y", or "/" for a bare "http://h").
    unparsed: str


def percent_decode(path: str) -> str:
    if "%" not in path:
        return path
    raw = path.encode("utf-8", "surrogateescape")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # %
            if i + 2 >= n:
                raise InvalidURI("bad escape")
            h = raw[i + 1:i + 3].decode("latin-1")
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise InvalidURI("bad escape")
            byte = int(h, 16)
            if byte == 0:
                raise InvalidURI("decoded NUL")
            out.append(byte)
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "surrogateescape")


def normalize_path(path: str, merge_slashes: bool = True) -> str:
    """Merge slashes and resolve dot segments; InvalidURI when ``..`` leaves the root."""
    if merge_slashes:
        while "//" in path:
            path = path.replace("//", "/")
    if "/." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for i, seg in enumerate(segments[1:], 1):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
            continue
        if seg == "..":
            if not out:
                raise InvalidURI("above root")
            out.pop()
            if last:
                out.append("")
            continue
        out.append(seg)
    return "/" + "/".join(out)


_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_HOST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
#: An IP literal's characters: unreserved and sub-delims of RFC 3986, and ":".
_LITERAL = _HOST | frozenset("_~!$&'()*+,;=:")


def split_absolute(target: str) -> tuple[str, str]:
    """An absolute-form target as ngx_http_parse_request_line reads it: (host with its
    port, the rest: "/x?y", "?y" or "/"). Any scheme of letters, digits, "+-." that
    starts with a letter; a host of letters, digits, "." and "-" (or a ``[...]``
    literal); a port of digits. Anything else is an invalid request (InvalidURI)."""
    colon = target.find("://")
    if colon <= 0 or not target[0].isascii() or not target[0].isalpha() \
            or not _SCHEME.issuperset(target[:colon]):
        raise InvalidURI("bad scheme")
    rest = target[colon + 3:]
    end = len(rest)
    for i, ch in enumerate(rest):
        if ch in "/?":
            end = i
            break
    authority = rest[:end]
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise InvalidURI("unclosed IP literal")
        name, port = authority[1:close], authority[close + 1:]
        if not _LITERAL.issuperset(name) or (port and port[0] != ":"):
            raise InvalidURI("bad host")
    else:
        name, colon_sep, port = authority.partition(":")
        port = colon_sep + port
        if not _HOST.issuperset(name):
            raise InvalidURI("bad host")
    if port != ":" and port and not (port[1:].isascii() and port[1:].isdigit()):
        raise InvalidURI("bad port")
    return authority, rest[end:] or "/"


@lru_cache(maxsize=4096)
def parse_target(target: str, merge_slashes: bool = True) -> ParsedTarget:
    """The request target split and normalised (cached: clients repeat their URIs)."""
    host = None
    unparsed = target
    if not target.startswith("/"):
        host, target = split_absolute(target)
        unparsed = target
        if target.startswith("?"):
            target = "/" + target
    path, sep, args = target.partition("?")
    if "#" in path:
        path = path.split("#", 1)[0]
    uri = normalize_path(percent_decode(path), merge_slashes)
    return ParsedTarget(uri, args, bool(sep), host, unparsed)


#: ngx_escape_uri(NGX_ESCAPE_ARGS) of nginx 1.22: control bytes, space, ``"#%&+;<>?\^`{|}``,
#: DEL and 8-bit (probed: a capture copied after a rewrite's "?").
_ESCAPE_ARGS = frozenset([*range(0x21), 0x22, 0x23, 0x25, 0x26, 0x2B, 0x3B, 0x3C, 0x3E, 0x3F,
                          0x5C, 0x5E, 0x60, 0x7B, 0x7C, 0x7D, *range(0x7F, 0x100)])


#: ngx_escape_uri(NGX_ESCAPE_URI) of nginx 1.22: control bytes, space, ``"#%<>?\^`{|}``,
#: DEL and 8-bit (probed: the Location of a location's trailing-slash redirect).
_ESCAPE_URI = frozenset([*range(0x21), 0x22, 0x23, 0x25, 0x3C, 0x3E, 0x3F, 0x5C, 0x5E, 0x60,
                         0x7B, 0x7C, 0x7D, *range(0x7F, 0x100)])


def escape_uri(value: str) -> str:
    """A path as nginx escapes it for a URI (a location's ``escaped_name``)."""
    return escape_text(value, _ESCAPE_URI)


def escape_bytes(raw: bytes, table: frozenset[int]) -> bytes:
    """ngx_escape_uri: every byte in ``table`` (one of nginx's escape types) as ``%XX``."""
    return b"".join(b"%%%02X" % c if c in table else bytes((c,)) for c in raw)


def escape_text(value: str, table: frozenset[int]) -> str:
    """:func:`escape_bytes` on the bytes ``value`` stands for."""
    raw = value.encode("utf-8", "surrogateescape")
    if not any(b in table for b in raw):
        return value
    return escape_bytes(raw, table).decode("utf-8", "surrogateescape")


def escape_args(value: str) -> str:
    """What nginx applies to a regex capture copied into a redirect or after the ``?`` of
    a rewrite's replacement, when the request's path had ``%`` escapes or a ``+``: the
    decoded capture goes back into a URI."""
    return escape_text(value, _ESCAPE_ARGS)


def quoted_path(unparsed_uri: str) -> bool:
    """nginx's ``quoted_uri || plus_in_uri``: the request line's path has a ``%`` escape
    or a ``+``."""
    path = unparsed_uri.partition("?")[0]
    return "%" in path or "+" in path


def unescape_redirect(value: str) -> str:
    """ngx_unescape_uri(NGX_UNESCAPE_REDIRECT), what a rewrite's redirect goes through:
    up to the first ``?`` (literal or ``%3F``), ``%XX`` escapes of printable characters
    above ``%`` are decoded and the others kept; a ``%`` not followed by two hex digits
    is dropped, as nginx's decoder drops it."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "?":
            out.append(value[i:])
            break
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        hi = value[i + 1:i + 2]
        if not hi or hi not in _HEX:
            i += 1  # the "%" is gone; the next character is taken as it is
            continue
        lo = value[i + 2:i + 3]
        if not lo or lo not in _HEX:
            i += 2  # "%X" is gone, as in nginx
            continue
        code = int(hi + lo, 16)
        if code == 0x3F:  # a decoded "?" ends the decoding too: the rest stays as it is
            out.append("?" + value[i + 3:])
            break
        out.append(chr(code) if 0x25 < code < 0x7F else value[i:i + 3])
        i += 3
    return "".join(out)
