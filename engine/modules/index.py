"""ngx_http_index_module: for a URI ending in "/", the first existing ``index`` file wins,
reached by an internal redirect (so its own location applies)."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from ..http.phases import DECLINED, HttpModule, Phase
from .static import os_error_text

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request


class IndexModule(HttpModule):
    name = "ngx_http_index_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "index",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.CONTENT, "index", self.handler, order=10)

    async def handler(self, r: Request) -> int:
        if not r.uri.endswith("/") or r.method not in ("GET", "HEAD", "POST"):
            return DECLINED
        names = [a for d in r.loc.get("index") for a in d.args] or ["index.html"]
        mapper = r.engine.services["map_uri_to_path"]
        directory = mapper(r)
        for name in names:
            if name.startswith("/"):
                return await r.engine.internal_redirect(r, name, r.args, "index")
            path = directory + name
            r.trace.add("static", path=path, result="index candidate")
            if os.path.isfile(path) or (os.path.exists(path) and not os.path.isdir(path)):
                return await r.engine.internal_redirect(r, r.uri + name, r.args, "index")
        if not os.path.isdir(directory):
            err = errno.ENOENT if not os.path.exists(directory) else errno.ENOTDIR
            r.log("error", f'"{directory}{names[0]}" is not found {os_error_text(err)}')
            return 404
        return DECLINED
