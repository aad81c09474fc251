"""ngx_http_gzip_filter_module: gzip-compressed responses, byte for byte as nginx 1.22.

The header filter decides as ``ngx_http_gzip_header_filter`` and ``ngx_http_gzip_ok``:
status 200/403/404, not already encoded, not shorter than ``gzip_min_length`` (when the
length is known), a type in ``gzip_types`` (text/html always; ``*`` any, even none);
then the client: nginx's Accept-Encoding parser (q=0 refuses), ``gzip_disable`` (msie6,
caseless regexes on User-Agent), ``gzip_http_version``, and ``gzip_proxied`` when the
request has a Via header. A compressed response loses Content-Length and Accept-Ranges
(so the range filter leaves it alone), gets ``Content-Encoding: gzip`` and a weak ETag;
``gzip_vary`` adds ``Vary: Accept-Encoding`` once the response itself qualifies.

The body filter streams through one zlib compressobj per request with nginx's
deflateInit2 parameters (level; window bits and memLevel from ``gzip_window`` and
``gzip_hash``, shrunk when a known length fits a smaller window; zlib's own gzip
wrapper, as nginx 1.21.1+): a flush buffer is Z_SYNC_FLUSH, the last one Z_FINISH.
Python links the same zlib, so the bytes are nginx's. ``gzip_buffers``,
``postpone_gzipping`` and ``gzip_no_buffer`` are only checked: they change how nginx
cuts its output into buffers, not the bytes.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from ..conf.errors import ConfigError
from ..conf.values import parse_size
from ..http.phases import HttpModule
from ..http.response import content_type_matches, weak_etag
from ..http.regex import Regex

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_CTX = "gzip"  # per-request state; cleared with the other module contexts on a redirect
_TESTED = "keep:gzip_tested"  # r->gzip_tested: the first ngx_http_gzip_ok answer

# gzip_proxied bits (ngx_http_core_module's NGX_HTTP_GZIP_PROXIED_*)
_OFF, _EXPIRED, _NO_CACHE, _NO_STORE, _PRIVATE, _NO_LM, _NO_ETAG, _AUTH, _ANY = (
    1 << i for i in range(9))
_PROXIED = {"off": _OFF, "expired": _EXPIRED, "no-cache": _NO_CACHE, "no-store": _NO_STORE,
            "private": _PRIVATE, "no_last_modified": _NO_LM, "no_etag": _NO_ETAG,
            "auth": _AUTH, "any": _ANY}
_CACHE_TOKENS = ((_NO_CACHE, "no-cache"), (_NO_STORE, "no-store"), (_PRIVATE, "private"))

_STATUSES = frozenset({200, 403, 404})
_WINDOWS = {512 << i: 9 + i for i in range(7)}  # gzip_window size -> window bits
_HASHES = {512 << i: 1 + i for i in range(9)}   # gzip_hash size -> memLevel


@dataclass(frozen=True, slots=True)
class GzipConf:
    """One block's compiled gzip settings (the filter's and the core's parts)."""

    types: frozenset[str] | None  # None: ``gzip_types *``
    min_length: int
    level: int
    wbits: int
    memlevel: int
    http_version: int
    proxied: int
    disable: tuple[Regex, ...]
    msie6: bool
    vary: bool


_BUFFER = 4096  # gzip_buffers 32 4k, Debian's default on x86_64


@dataclass(slots=True)
class GzipStream:
    """A response being compressed: the zlib stream and nginx's zin/zout counters."""

    z: Any
    zin: int = 0
    zout: int = 0
    done: bool = False
    #: Compressed bytes not passed on yet: nginx fills its gzip_buffers (4k each here)
    #: and passes a buffer on when it is full, on a flush, or at the end.
    held: bytes = b""


class GzipModule(HttpModule):
    name = "ngx_http_gzip_filter_module"
    directives = frozenset({
        "gzip", "gzip_types", "gzip_min_length", "gzip_comp_level", "gzip_window",
        "gzip_hash", "gzip_http_version", "gzip_proxied", "gzip_disable", "gzip_vary",
    })

    def init(self, engine: HttpEngine) -> None:
        # after headers (500) and charset (620), before range (900) and the writer (1000)
        engine.phases.add_header_filter("gzip", self.header_filter, order=700,
                                        active=self._active)
        engine.phases.add_body_filter("gzip", self.body_filter, order=700,
                                      active=self._active)
        engine.variables.add("gzip_ratio", gzip_ratio)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        regexes: dict[int, tuple[tuple[Regex, ...], bool]] = {}
        for block in cfg.blocks:
            for name in _CHECKS:
                for d in block.own.get(name, ()):
                    _CHECKS[name](d)
            for d in block.own.get("gzip_disable", ()):
                regexes[id(d)] = _disable(d)
        for block in cfg.blocks:
            if block.flag("gzip", False):
                block.mod[self.name] = _compile(block, regexes)

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    def header_filter(self, r: Request) -> None:
        conf: GzipConf | None = r.loc.mod.get(self.name)
        out = r.out
        if conf is None or out.status not in _STATUSES or r.header_only \
                or out.headers.get("content-encoding") \
                or (out.content_length is not None and out.content_length < conf.min_length) \
                or not content_type_matches(conf.types, out.content_type, r):
            return
        if conf.vary and r is r.main:
            # nginx writes it after Connection/Keep-Alive, before the header list
            out.headers.items.insert(0, ("Vary", "Accept-Encoding"))
        refusal = _refusal(r, conf)
        if refusal:
            r.trace.add("gzip", verdict="not compressed", reason=refusal)
            return
        wbits, memlevel = conf.wbits, conf.memlevel
        if out.content_length:
            # as nginx: zlib's usable window is 262 bytes smaller than its size
            while out.content_length < (1 << (wbits - 1)) - 262:
                wbits -= 1
                memlevel -= 1
            memlevel = max(memlevel, 1)
        r.ctx[_CTX] = GzipStream(zlib.compressobj(conf.level, zlib.DEFLATED, wbits + 16,
                                                   memlevel))
        out.headers.add("Content-Encoding", "gzip")
        out.content_length = None
        out.headers.remove("content-length")
        out.headers.remove("accept-ranges")
        r.ctx.pop("keep:allow_ranges", None)
        weak_etag(r)
        r.trace.add("gzip", verdict="compressed", level=conf.level, wbits=wbits,
                    memlevel=memlevel)

    def body_filter(self, r: Request, data: bytes, last: bool) -> tuple[bytes, bool]:
        """Compress as the data comes; an empty non-last buffer is a flush."""
        gz: GzipStream | None = r.ctx.get(_CTX)
        if gz is None or gz.done or r.header_only:
            return data, last
        z = gz.z
        held = gz.held
        if data:
            gz.zin += len(data)
            held += z.compress(data)
        if last:
            held += z.flush(zlib.Z_FINISH)
            gz.done = True
        elif not data:
            held += z.flush(zlib.Z_SYNC_FLUSH)
        else:  # pass on the full buffers only
            full = len(held) - len(held) % _BUFFER
            gz.held = held[full:]
            gz.zout += full
            return held[:full], last
        gz.held = b""
        gz.zout += len(held)
        return held, last


def gzip_ratio(r: Request) -> str | None:
    """``$gzip_ratio``: input over output bytes with two rounded decimals, as nginx
    computes it in integers; not found until the compressed stream has ended."""
    gz: GzipStream | None = r.ctx.get(_CTX)
    if gz is None or not gz.done or not gz.zout:
        return None
    zin, zout = gz.zin, gz.zout
    whole, frac = zin // zout, zin * 100 // zout % 100
    if zin * 1000 // zout % 10 > 4:
        frac += 1
        if frac > 99:
            whole, frac = whole + 1, 0
    return f"{whole}.{frac:02d}"


# -- the decision ---------------------------------------------------------------------



def _refusal(r: Request, conf: GzipConf) -> str:
    """ngx_http_gzip_ok: why the client does not get gzip ("" when it does). The first
    answer stands for the request (r->gzip_tested): gzip_static asks before expires or
    add_header made the response lines gzip_proxied looks at, and the filter reuses it."""
    verdict = r.ctx.get(_TESTED)
    if verdict is None:
        verdict = r.ctx[_TESTED] = _gzip_ok(r, conf)
    return verdict


def _gzip_ok(r: Request, conf: GzipConf) -> str:
    if r is not r.main:
        return "subrequest"
    ae = r.headers_in.get("accept-encoding")
    if ae is None or len(ae) < 4 or not (ae.startswith("gzip,") or accepts_gzip(ae)):
        return "Accept-Encoding does not accept gzip"
    ua = r.headers_in.get("user-agent")
    if conf.msie6 and ua is not None and is_msie6(ua):
        return "gzip_disable msie6"
    if r.http_version < conf.http_version:
        return "gzip_http_version"
    if r.headers_in.get("via") is not None and not _proxied_ok(r, conf.proxied):
        return "gzip_proxied (the request has a Via header)"
    if ua is not None:
        for regex in conf.disable:
            if regex.exec(ua) is not None:
                return f'gzip_disable "{regex.pattern}"'
    return ""


def accepts_gzip(ae: str) -> bool:
    """ngx_http_gzip_accept_encoding: a "gzip" token (case-insensitive) at the start, after
    a comma or space, or right where the previous search stopped (nginx's quirk), then
    spaces and the end, a comma, or ``;q=`` with a quality that is not zero."""
    low = ae.lower()
    start = 0
    while True:
        p = low.find("gzip", start)
        if p < 0:
            return False
        if p == start or low[p - 1] in ", ":
            break
        start = p + 4
    rest = ae[p + 4:].lstrip(" ")
    if not rest or rest[0] == ",":
        return True
    if rest[0] != ";":
        return False
    rest = rest[1:].lstrip(" ")
    if not rest:
        return True
    if rest[0] not in "qQ":
        return False
    rest = rest[1:]
    return len(rest) >= 2 and rest[0] == "=" and _quality(rest[1:]) > 0


def _quality(text: str) -> int:
    """ngx_http_gzip_quantity: q in hundredths, 0 when invalid. nginx adds the decimal
    digits up instead of weighing them (q=0.5 is 5), which only matters against 0."""
    token = text.split(",", 1)[0].split(" ", 1)[0]
    if not token or token[0] not in "01":
        return 0
    q = (ord(token[0]) - 48) * 100
    if len(token) == 1:
        return q
    frac = token[2:]
    if token[1] != "." or any(not "0" <= c <= "9" for c in frac):
        return 0
    q += sum(ord(c) - 48 for c in frac)
    return 0 if q > 100 or len(frac) > 3 else q


def is_msie6(ua: str) -> bool:
    """nginx's ``msie6`` flag of a User-Agent: MSIE 4.x, 5.x, or 6.x without SV1."""
    i = ua.find("MSIE ")
    if i < 0 or i + 7 >= len(ua) or ua[i + 6] != ".":
        return False
    major = ua[i + 5]
    return major in "45" or (major == "6" and "SV1" not in ua[i + 8:])


def _proxied_ok(r: Request, p: int) -> bool:
    """gzip_proxied for a request with Via. Note nginx's fall-through: with none of
    the response headers it looks at, any setting but ``off`` compresses."""
    if p & _OFF:
        return False
    if p & _ANY or (p & _AUTH and r.headers_in.get("authorization") is not None):
        return True
    headers = r.out.headers
    expires = headers.get("expires")
    if expires is not None:
        if not p & _EXPIRED:
            return False
        exp = _http_time(expires)
        date_header = headers.get("date")
        date = int(time.time()) if date_header is None else _http_time(date_header)
        return exp is not None and date is not None and exp < date
    cache_control = headers.get_all("cache-control")
    if cache_control:
        return any(p & bit and _has_token(cache_control, token)
                   for bit, token in _CACHE_TOKENS)
    # a static file's Last-Modified is not a header line yet (nginx's
    # headers_out.last_modified is NULL for it): only a listed one counts
    if p & _NO_LM and "last-modified" in headers:
        return False
    return not (p & _NO_ETAG and "etag" in headers)


def _has_token(values: list[str], name: str) -> bool:
    """ngx_http_parse_multi_header_lines without a value: an item (split at ``,`` and
    ``;``) that is ``name``, case-insensitively, followed by spaces and a comma or end."""
    size = len(name)
    for v in values:
        s, end = 0, len(v)
        while s < end:
            if v[s:s + size].lower() == name:
                s += size
                while s < end and v[s] == " ":
                    s += 1
                if s == end or v[s] == ",":
                    return True
            while s < end:
                s += 1
                if v[s - 1] in ";,":
                    break
            while s < end and v[s] == " ":
                s += 1
    return False


def _http_time(text: str) -> int | None:
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None



# -- configuration --------------------------------------------------------------------


def _compile(block: Block, regexes: dict[int, tuple[tuple[Regex, ...], bool]]) -> GzipConf:
    listed = [a.lower() for d in block.get("gzip_types") for a in d.args]
    types = None if "*" in listed else frozenset(listed + ["text/html"])
    d = block.first("gzip_min_length")
    min_length = parse_size(d.args[0]) or 0 if d else 20
    d = block.first("gzip_comp_level")
    level = int(d.args[0]) if d else 1
    d = block.first("gzip_window")
    wbits = _WINDOWS[parse_size(d.args[0]) or 0] if d else 15
    d = block.first("gzip_hash")
    memlevel = _HASHES[parse_size(d.args[0]) or 0] if d else 8
    version = 1000 if block.value("gzip_http_version", "1.1") == "1.0" else 1001
    proxied = 0
    for d in block.get("gzip_proxied"):
        for a in d.args:
            proxied |= _PROXIED[a.lower()]
    disable: list[Regex] = []
    msie6 = False
    for d in block.get("gzip_disable"):
        found, with_msie6 = regexes[id(d)]
        disable.extend(found)
        msie6 = msie6 or with_msie6
    return GzipConf(types, min_length, level, wbits, memlevel, version, proxied or _OFF,
                    tuple(disable), msie6, block.flag("gzip_vary", False))


def _disable(d: Directive) -> tuple[tuple[Regex, ...], bool]:
    """gzip_disable: ``msie6`` (written exactly so) or caseless regexes."""
    found = tuple(Regex.for_directive(a, True, d.file, d.line) for a in d.args
                  if a != "msie6")
    return found, "msie6" in d.args


def _size(d: Directive, table: dict[int, int] | None = None, allowed: str = "") -> None:
    value = parse_size(d.args[0])
    if value is None:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)
    if table is not None and value not in table:
        raise ConfigError(f'"{d.name}" directive must be {allowed}', d.file, d.line)


def _comp_level(d: Directive) -> None:
    if not d.args[0].isdigit():
        raise ConfigError(f'"{d.name}" directive invalid number', d.file, d.line)
    if not 1 <= int(d.args[0]) <= 9:
        raise ConfigError("value must be between 1 and 9", d.file, d.line)


def _buffers(d: Directive) -> None:
    size = parse_size(d.args[1])
    if not d.args[0].isdigit() or int(d.args[0]) == 0 or not size:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)


def _one_of(values: Collection[str]) -> Callable[[Directive], None]:
    """ngx_conf_set_enum_slot / bitmask_slot: every argument a known word (any case)."""
    def check(d: Directive) -> None:
        for a in d.args:
            if a.lower() not in values:
                raise ConfigError(f'invalid value "{a}"', d.file, d.line)
    return check


_CHECKS = {
    "gzip_comp_level": _comp_level,
    "gzip_window": lambda d: _size(d, _WINDOWS, "512, 1k, 2k, 4k, 8k, 16k, or 32k"),
    "gzip_hash": lambda d: _size(d, _HASHES, "512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k"),
    "gzip_min_length": _size,
    "postpone_gzipping": _size,
    "gzip_buffers": _buffers,
    "gzip_http_version": _one_of(("1.0", "1.1")),
    "gzip_proxied": _one_of(_PROXIED),
}
