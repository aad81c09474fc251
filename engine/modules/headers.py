"""ngx_http_headers_module: ``add_header`` (and ``always``) and ``expires``.

``add_header`` is the classic inheritance trap: a block with any ``add_header`` of its own
inherits none from outer blocks. Headers are added only for 200, 201, 204, 206, 301, 302,
303, 304, 307 and 308 unless ``always`` is given, and an empty value adds nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..conf.values import parse_time
from ..http.phases import HttpModule
from ..http.response import http_date
from ..http.variables import compile_value

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_OK_STATUSES = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})


class HeadersModule(HttpModule):
    name = "ngx_http_headers_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "add_header", "expires",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add_header_filter("headers", self.filter, order=500,
                                        active=self._active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            compiled = []
            for d in block.get("add_header"):
                always = len(d.args) > 2 and d.args[2] == "always"
                compiled.append((d.args[0], compile_value(d.args[1], engine.variables,
                                                          d.file, d.line), always, d))
            expires = block.first("expires")
            block.mod[self.name] = (compiled, expires)

    def _active(self, block: Block) -> bool:
        conf = block.mod.get(self.name)
        return conf is not None and (bool(conf[0]) or conf[1] is not None)

    def filter(self, r: Request) -> None:
        conf = r.loc.mod.get(self.name)
        if conf is not None and r is r.main:
            compiled, expires = conf
            status = r.out.status
            ok = status in _OK_STATUSES
            if expires is not None and ok:
                self._expires(r, expires.args[-1])
            for name, value, always, d in compiled:
                if not (ok or always):
                    continue
                text = value.evaluate(r)
                if text:
                    r.out.headers.add(name, text)
                    r.trace.add("header", op="add", name=name, value=text,
                                file=d.file, line=d.line)

    def _expires(self, r: Request, arg: str) -> None:
        if arg == "off":
            return
        now = time.time()
        if arg == "epoch":
            r.out.headers.set("Expires", "Thu, 01 Jan 1970 00:00:01 GMT")
            r.out.headers.set("Cache-Control", "no-cache")
            return
        if arg == "max":
            r.out.headers.set("Expires", "Thu, 31 Dec 2037 23:55:55 GMT")
            r.out.headers.set("Cache-Control", "max-age=315360000")
            return
        negative = arg.startswith("-")
        seconds = parse_time(arg.lstrip("+-")) or 0
        if negative:
            seconds = -seconds
        r.out.headers.set("Expires", http_date(now + seconds))
        r.out.headers.set("Cache-Control", "no-cache" if seconds <= 0 else
                          f"max-age={int(seconds)}")
