"""ngx_http_range_filter_module: ``Range: bytes=...`` on responses that allow ranges
(static files): one range gives 206 with Content-Range, several a
multipart/byteranges body, an unsatisfiable one 416 with ``Content-Range: bytes */N``
(nginx's page or the ``error_page`` for 416, the file's header lines kept);
otherwise the 200 carries ``Accept-Ranges: bytes``. ``If-Range`` must match the ETag or
the Last-Modified date for the range to apply, and ``max_ranges`` caps the count."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from ..http.phases import HttpModule
from .static import parse_http_time

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

_KEY = "keep:range"
NOT_SATISFIABLE = "not satisfiable"


#: NGX_MAX_OFF_T_VALUE: a longer number in a range makes it unsatisfiable.
_MAX_OFF = 2 ** 63 - 1


def parse_ranges(spec: str, size: int, max_ranges: int | None
                 ) -> list[tuple[int, int]] | str | None:
    """nginx's ngx_http_range_parse: [(start, end)) pairs, NOT_SATISFIABLE, or None
    (serve the whole response: a range starting at 0 that is empty, more ranges than
    ``max_ranges``, or ranges adding up to more than the file)."""
    p, n = 6, len(spec)  # after "bytes="

    def at(i: int) -> str:
        return spec[i] if i < n else "\0"  # nginx's header values end in a NUL

    def number(i: int) -> tuple[int, int]:
        j = i
        while "0" <= at(j) <= "9":
            j += 1
        return int(spec[i:j]), j

    ranges: list[tuple[int, int]] = []
    total = 0
    while True:
        while at(p) == " ":
            p += 1
        suffix = False
        start = end = 0
        open_ended = False
        if at(p) != "-":
            if not "0" <= at(p) <= "9":
                return NOT_SATISFIABLE
            start, p = number(p)
            if start > _MAX_OFF:
                return NOT_SATISFIABLE
            while at(p) == " ":
                p += 1
            if at(p) != "-":
                return NOT_SATISFIABLE
            p += 1
            while at(p) == " ":
                p += 1
            open_ended = at(p) in (",", "\0")
            end = size
        else:
            suffix = True
            p += 1
        if not open_ended:
            if not "0" <= at(p) <= "9":
                return NOT_SATISFIABLE
            end, p = number(p)
            if end > _MAX_OFF:
                return NOT_SATISFIABLE
            while at(p) == " ":
                p += 1
            if at(p) not in (",", "\0"):
                return NOT_SATISFIABLE
            if suffix:
                start = size - end if end < size else 0
                end = size - 1
            end = size if end >= size else end + 1
        if start < end:
            ranges.append((start, end))
            total += end - start
            if max_ranges is not None and len(ranges) > max_ranges:
                return None
        elif start == 0:
            return None
        if at(p) != ",":
            break
        p += 1
    if not ranges:
        return NOT_SATISFIABLE
    if total > size:
        return None
    return ranges


class RangeModule(HttpModule):
    name = "ngx_http_range_filter_module"
    directives = frozenset({"max_ranges"})

    def init(self, engine: HttpEngine) -> None:
        self.boundaries = itertools.count(1)
        engine.phases.add_header_filter("range", self.header_filter, order=900)
        engine.phases.add_body_filter("range", self.body_filter, order=50)

    async def header_filter(self, r: Request) -> bool | None:
        out = r.out
        if (r.http_version < 1000 or out.status != 200 or r is not r.main
                or out.content_length is None or not r.ctx.get("keep:allow_ranges")):
            return None
        d = r.loc.first("max_ranges")
        max_ranges = int(d.args[0]) if d is not None else None
        if max_ranges == 0:  # ranges are off: not even Accept-Ranges
            return None
        spec = r.headers_in.get("range")
        if spec is None or len(spec) < 7 or spec[:6].lower() != "bytes=" or \
                not self._if_range(r):
            out.headers.add("Accept-Ranges", "bytes")
            return None
        size = out.content_length
        ranges = parse_ranges(spec, size, max_ranges)
        if ranges is None:
            out.headers.add("Accept-Ranges", "bytes")
            return None
        if ranges == NOT_SATISFIABLE:
            # ngx_http_range_not_satisfiable: the header list is kept (a file's ETag,
            # what add_header added) and the handler finalizes with 416: nginx's page or
            # an error_page for 416, which meets the Content-Range too
            out.status = 416
            out.status_line = None
            out.content_length = None
            out.headers.add("Content-Range", f"bytes */{size}")
            r.trace.add("static", path="", result="416: range not satisfiable")
            await r.engine.special_response(r, 416)
            r.response_done = True
            return False
        out.status = 206
        out.status_line = None  # a proxied "200 OK" line goes too
        if len(ranges) == 1:
            start, end = ranges[0]
            out.headers.add("Content-Range", f"bytes {start}-{end - 1}/{size}")
            out.content_length = end - start
            r.ctx[_KEY] = ("single", start, end)
            return None
        boundary = f"{next(self.boundaries):020d}"
        parts = []
        ctype = out.content_type
        for start, end in ranges:
            head = f"\r\n--{boundary}\r\n"
            if ctype:
                head += f"Content-Type: {ctype}\r\n"
            head += f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            parts.append((head, start, end))
        tail = f"\r\n--{boundary}--\r\n"
        out.content_type = f"multipart/byteranges; boundary={boundary}"
        out.content_length = sum(len(h) + e - s for h, s, e in parts) + len(tail)
        r.ctx[_KEY] = ("multi", parts, tail)

    def _if_range(self, r: Request) -> bool:
        """If-Range: the range applies only when the validator still matches; a value
        ending in a quote is an entity tag compared byte for byte, else a date
        (nginx's parser) that must equal Last-Modified."""
        value = r.headers_in.get("if-range")
        if value is None:
            return True
        if len(value) >= 2 and value.endswith('"'):
            return r.out.headers.get("etag") == value
        if r.out.last_modified is None:
            return False
        return parse_http_time(value) == r.out.last_modified

    def body_filter(self, r: Request, data: bytes, last: bool) -> tuple[bytes, bool] | None:
        plan = r.ctx.get(_KEY)
        if plan is None:
            return data, last
        buf = r.ctx.setdefault("keep:range_buf", [])
        buf.append(data)
        if not last:
            return b"", False
        whole = b"".join(buf)
        kind = plan[0]
        if kind == "single":
            return whole[plan[1]:plan[2]], True
        parts, tail = plan[1], plan[2]
        body = b"".join(h.encode("latin-1") + whole[s:e] for h, s, e in parts)
        return body + tail.encode(), True
