"""ngx_http_copy_filter_module: a file's body reaches the later body filters in pieces.

nginx does not hand a static file to the body filters whole: the copy filter reads it
into ``output_buffers`` buffers (2 × 32k by default) and passes each on as it is
filled, so a ``body_filter_by_lua`` on a 65000-byte file runs twice (32768 bytes, then
32232 with ``ngx.arg[2]`` true) and gzip flushes between them. It sits after the range
filter, which has already cut the file to a single range, and before Lua's filter.
Memory buffers (``return``, Lua output, error pages) pass as they are, however large.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conf.values import parse_size
from ..http.phases import HttpModule

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: r.ctx key a content handler sets when the body it outputs was read from a file.
FILE = "copy:file"
#: output_buffers' default buffer size (``output_buffers 2 32k``).
DEFAULT_SIZE = 32768


class CopyFilterModule(HttpModule):
    name = "ngx_http_copy_filter_module"
    directives = frozenset({"output_buffers"})

    def init(self, engine: HttpEngine) -> None:
        # after the range filter (50), before Lua's body filter (100)
        engine.phases.add_body_filter("copy", self.body_filter, order=75)

    async def body_filter(self, r: Request, data: bytes, last: bool) -> tuple[bytes, bool]:
        if not r.ctx.get(FILE):
            return data, last
        d = r.loc.first("output_buffers")
        size = (parse_size(d.args[1]) if d is not None else None) or DEFAULT_SIZE
        if len(data) <= size:
            return data, last
        tail = (len(data) - 1) // size * size
        for start in range(0, tail, size):
            await r.engine.next_body_filter(r, self.body_filter, data[start:start + size], False)
        return data[tail:], last
