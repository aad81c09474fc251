"""ngx_http_sub_filter_module: ``sub_filter`` replaces strings in response bodies.

Which responses: main-request responses of a block with ``sub_filter`` whose
Content-Type is in ``sub_filter_types`` (``text/html`` always; ``*`` means every
response, even one with no type) and whose Content-Length is not 0. The type compared
is the part nginx keeps in ``content_type_len``: without the ``; charset=`` of a
proxied type or of the charset filter, and up to the first ``;`` for a type ngx_lua
set. The status does not matter: nginx's own error pages are filtered too, and so is a
HEAD response's header. The header filter removes Content-Length (the body goes out
chunked, or with ``Connection: close`` to an HTTP/1.0 client), and either removes
Last-Modified and ETag or, with ``sub_filter_last_modified on``, keeps Last-Modified and
makes the ETag weak (``W/"..."``; an ETag that is not a quoted string is removed).
Subrequests are left alone: the engine's are ngx.location.capture's, whose capture
filters sit at the top of nginx's chains so that no other filter sees their response,
and auth_request's, whose body is discarded.

How matching works, as nginx 1.22 does it (ngx_http_sub_parse), since the result
depends on it: search strings are lowercased at configuration time (a search string
with variables is evaluated, lowercased, and dropped when empty, per request) and body
bytes are lowercased (ASCII only) before comparing. The scan looks for the leftmost
position where a pattern starts, with a Horspool skip table built on the shortest
pattern; at one position the candidates are the patterns whose byte at index
``shortest - 1`` is the byte found there, tried in the order of that byte (equal bytes:
configuration order), and the first that matches wins, not the longest. A candidate
that matches up to the end of the data received so far makes the filter wait for more;
if the response ends there, the held bytes are sent unchanged even when a shorter
pattern would have matched them. The last ``shortest - 1`` bytes of each body part are
held back until the next part arrives (a match may span parts: two ``ngx.print``
calls, the buffers of a proxied or static body). ``sub_filter_once on`` (the default)
applies each pattern at most once; once every pattern has been applied the rest of the
body passes through untouched. A replacement with variables is evaluated when its
pattern first matches, then reused.

Not modelled: the early release of held bytes when a body buffer is marked "flush" or
"recycled" (it changes when bytes reach the client, not which bytes), and a
``default_type`` that itself carries ``; charset=`` (nginx would then compare the whole
string with the types).

Filter order: nginx's header chain runs the headers filter (``add_header``), then
sub, then charset, gzip, range and the header writer; the body chain runs the Lua body
filter before sub and gzip, then the writer. Here the headers filter is 500, range 900,
the Lua filters 100 and the core writer 1000, so both sub filters take 600: after
``add_header`` (an ETag it adds is weakened or removed, as in nginx) and
``body_filter_by_lua`` (Lua sees the original text), before range (which finds no
Content-Length and so no ranges) and the writer. The charset filter (620) runs after
it, as in nginx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.response import content_type_matches, weak_etag
from ..http.variables import ComplexValue, compile_value

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

ORDER = 600
_CTX = "sub_filter"
_MAX_PATTERNS = 255
_AGAIN, _DECLINED, _OK = 0, 1, 2
#: ngx_tolower/ngx_strlow: ASCII letters only, for bytes and for configuration text.
_LOWER = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))
_LOWER_TEXT = {c: c + 32 for c in range(65, 91)}


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@dataclass(slots=True)
class Tables:
    """ngx_http_sub_tables_t, with the patterns in their sorted order."""

    patterns: list[bytes]
    #: The replacement of each pattern (same order).
    values: list[ComplexValue]
    min_len: int
    #: shift[c]: how far the scan may jump on byte c (0: c ends a possible match).
    shift: list[int]
    #: Patterns index[c] .. index[c + 1] - 1 have byte c at position ``min_len - 1``.
    index: list[int]


def build_tables(pairs: list[tuple[bytes, ComplexValue]]) -> Tables:
    """ngx_http_sub_init_tables: sort by the byte at ``min_len - 1`` (stable, as
    nginx's insertion sort), then the skip table and the per-byte pattern ranges."""
    min_len = min(len(m) for m, _ in pairs)
    last = min_len - 1
    pairs = sorted(pairs, key=lambda p: p[0][last])
    window = min(min_len, 255)
    shift = [window] * 256
    index = [0] * 257
    ch = 0
    for i, (m, _) in enumerate(pairs):
        for j in range(window):
            c = m[last - j]
            shift[c] = min(shift[c], j)
        while ch <= m[last]:
            index[ch] = i
            ch += 1
    while ch < 257:
        index[ch] = len(pairs)
        ch += 1
    return Tables([m for m, _ in pairs], [v for _, v in pairs], min_len, shift, index)


@dataclass(slots=True)
class SubConf:
    """A block's compiled configuration (nginx's merged loc conf)."""

    #: (search, replacement) in configuration order; a search with variables is kept
    #: as a ComplexValue (evaluated per request), a static one as lowercased bytes.
    pairs: list[tuple[bytes | ComplexValue, ComplexValue]]
    #: The tables when no search string has variables.
    tables: Tables | None
    once: bool
    last_modified: bool
    #: Lowercased MIME types, or None for ``*``.
    types: frozenset[str] | None


class Stream:
    """One response's matching state (ngx_http_sub_ctx_t)."""

    __slots__ = ("t", "once_conf", "offset", "index", "looked", "once", "applied", "subs",
                 "counts")

    def __init__(self, tables: Tables, once: bool) -> None:
        self.t = tables
        self.once_conf = once
        self.offset = tables.min_len - 1
        self.index = 0
        #: Bytes received but not yet sent: a possible match in progress.
        self.looked = b""
        #: Every pattern has been applied under sub_filter_once: pass the rest on.
        self.once = False
        self.applied = 0
        #: The evaluated replacement of each pattern that matched, by sorted index.
        self.subs: dict[int, bytes] = {}
        self.counts: dict[int, int] = {}

    def feed(self, r: Request, data: bytes, last: bool) -> bytes:
        """The body filter for one body part: what goes on to the next filter."""
        if self.once:
            return data
        out: list[bytes] = []
        pos = 0
        while pos < len(data):
            rc, pos, saved, copy = self._parse(data, pos)
            if saved:
                out.append(saved)
            if copy:
                out.append(copy)
            if rc != _OK:
                continue
            i = self.index
            sub = self.subs.get(i)
            if sub is None:
                sub = self.subs[i] = _b(self.t.values[i].evaluate(r))
            out.append(sub)
            self.counts[i] = self.counts.get(i, 0) + 1
            self.index = 0
            self.applied += 1
            self.once = self.once_conf and self.applied == len(self.t.patterns)
        if last and self.looked:
            out.append(self.looked)
            self.looked = b""
        return b"".join(out)

    def _parse(self, data: bytes, pos: int) -> tuple[int, int, bytes, bytes]:
        """ngx_http_sub_parse from ``pos``: (rc, new pos, held bytes to send, bytes of
        ``data`` to send); on _OK, ``self.index`` is the pattern that matched."""
        t = self.t
        looked = self.looked
        min_len = t.min_len
        offset = self.offset
        end = len(data) - pos
        rc = _AGAIN
        if self.once:
            offset = end + min_len - 1
        else:
            skip = self.once_conf
            while offset < end:
                c = _LOWER[looked[len(looked) + offset] if offset < 0 else data[pos + offset]]
                shift = t.shift[c]
                if shift:
                    offset += shift
                    continue
                start = offset - min_len + 1
                found = _DECLINED
                i = max(t.index[c], self.index)
                for i in range(i, t.index[c + 1]):
                    if not (skip and i in self.subs):
                        found = self._match(data, pos, start, t.patterns[i])
                        if found != _DECLINED:
                            break
                if found != _DECLINED:
                    # a match, or one that needs more data: stop at this position
                    self.index = i
                    rc = found
                    break
                offset += 1
                self.index = 0
        start = offset - min_len + 1
        if rc == _OK:
            size = len(t.patterns[self.index])
            self.offset = offset + size
            nxt = start + size
            end = max(nxt, 0)
        else:
            self.offset = offset
            nxt = start
        saved = looked[:len(looked) + min(start, 0)]
        copy = data[pos:pos + max(start, 0)]
        kept = looked[len(looked) + nxt:] if nxt < 0 else b""
        self.looked = kept + data[pos + max(nxt, 0):pos + end]
        self.offset -= end
        return rc, pos + end, saved, copy

    def _match(self, data: bytes, pos: int, start: int, m: bytes) -> int:
        """ngx_http_sub_match: does ``m`` match at ``start`` (negative: in the held
        bytes)? _AGAIN when the data ends before the pattern does."""
        k = 0
        if start < 0:
            held = self.looked[len(self.looked) + start:][:len(m)]
            if held.translate(_LOWER) != m[:len(held)]:
                return _DECLINED
            k = len(held)
            p = pos
        else:
            p = pos + start
        piece = data[p:p + len(m) - k]
        if piece.translate(_LOWER) != m[k:k + len(piece)]:
            return _DECLINED
        return _OK if k + len(piece) == len(m) else _AGAIN


class SubFilterModule(HttpModule):
    name = "ngx_http_sub_filter_module"
    directives = frozenset({"sub_filter", "sub_filter_types", "sub_filter_once",
                            "sub_filter_last_modified"})

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add_header_filter("sub_filter", self.header_filter, order=ORDER,
                                        active=self._active)
        engine.phases.add_body_filter("sub_filter", self.body_filter, order=ORDER,
                                      active=self._active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        compiled: dict[int, tuple[list, Tables | None]] = {}
        for block in cfg.blocks:
            found = block.get("sub_filter")
            if not found:
                continue
            key = id(found[0])
            if key not in compiled:
                compiled[key] = self._compile_pairs(engine, found)
            pairs, tables = compiled[key]
            block.mod[self.name] = SubConf(
                pairs, tables, block.flag("sub_filter_once", True),
                block.flag("sub_filter_last_modified", False), self._types(block))

    @staticmethod
    def _compile_pairs(engine: HttpEngine, found: list[Directive]
                       ) -> tuple[list, Tables | None]:
        """ngx_http_sub_filter for each directive, then the tables when all searches
        are static (nginx's merge builds them once; dynamic ones are per request)."""
        pairs: list[tuple[bytes | ComplexValue, ComplexValue]] = []
        for n, d in enumerate(found):
            if not d.args[0]:
                raise ConfigError("empty search pattern", d.file, d.line)
            if n == _MAX_PATTERNS:
                raise ConfigError(f"number of search patterns exceeds {_MAX_PATTERNS}",
                                  d.file, d.line)
            # nginx lowercases the argument before compiling it ($HOST is $host)
            match = compile_value(d.args[0].translate(_LOWER_TEXT), engine.variables,
                                  d.file, d.line)
            value = compile_value(d.args[1], engine.variables, d.file, d.line)
            pairs.append((match if match.has_variables else _b(match.source), value))
        static = [(m, v) for m, v in pairs if isinstance(m, bytes)]
        tables = build_tables(static) if len(static) == len(pairs) else None
        return pairs, tables

    @staticmethod
    def _types(block: Block) -> frozenset[str] | None:
        """ngx_http_types_slot: text/html plus the listed types, ``*`` for all."""
        types = {"text/html"}
        for d in block.get("sub_filter_types"):
            for arg in d.args:
                if arg == "*":
                    return None
                types.add(arg.translate(_LOWER_TEXT))
        return frozenset(types)

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    def header_filter(self, r: Request) -> None:
        """ngx_http_sub_header_filter: decide, and fix the header of a changed body."""
        conf: SubConf | None = r.loc.mod.get(self.name)
        out = r.out
        if conf is None or r.captured or out.content_length == 0 \
                or not content_type_matches(conf.types, out.content_type, r):
            return
        tables = conf.tables
        if tables is None:
            tables = _request_tables(r, conf)
            if tables is None:
                r.trace.add("sub_filter", decision="off: every search string is empty")
                return
        r.ctx[_CTX] = Stream(tables, conf.once)
        out.content_length = None
        out.headers.remove("content-length")
        if conf.last_modified:
            weak_etag(r)
        else:
            out.last_modified = None
            out.headers.remove("last-modified")
            out.headers.remove("etag")
        r.trace.add("sub_filter", decision="on", patterns=[p.decode("latin-1")
                                                           for p in tables.patterns],
                    once=conf.once, last_modified=conf.last_modified)

    def body_filter(self, r: Request, data: bytes, last: bool) -> tuple[bytes, bool]:
        stream: Stream | None = r.ctx.get(_CTX)
        if stream is None:
            return data, last
        data = stream.feed(r, data, last)
        if last and r.trace.enabled:
            t = stream.t
            r.trace.add("sub_filter", decision="done", replaced={
                t.patterns[i].decode("latin-1"): n for i, n in sorted(stream.counts.items())})
        return data, last



def _request_tables(r: Request, conf: SubConf) -> Tables | None:
    """Search strings with variables: evaluated and lowercased; empty ones dropped."""
    pairs: list[tuple[bytes, ComplexValue]] = []
    for match, value in conf.pairs:
        if isinstance(match, ComplexValue):
            text = _b(match.evaluate(r)).translate(_LOWER)
            if not text:
                continue
            match = text
        pairs.append((match, value))
    return build_tables(pairs) if pairs else None
