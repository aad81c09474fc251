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
        dir_tested = False
        for name in names:
            if name.startswith("/"):
                return await r.engine.internal_redirect(r, name, r.args, "index")
            path = directory + name
            r.trace.add("static", path=path, result="index candidate")
            try:
                os.stat(path)  # anything that opens wins, a directory too
            except OSError as exc:
                err = exc.errno or errno.ENOENT
                if err in (errno.ENOTDIR, errno.EINVAL, errno.EACCES):
                    return _index_error(r, path, err)
                if not dir_tested:  # ngx_http_index_test_dir, at the first miss
                    try:
                        os.stat(directory)
                    except OSError as dir_exc:
                        return _index_error(r, path, dir_exc.errno or errno.ENOENT)
                    dir_tested = True
                continue
            return await r.engine.internal_redirect(r, r.uri + name, r.args, "index")
        return DECLINED


def _index_error(r: Request, path: str, err: int) -> int:
    """ngx_http_index_error: 403 "is forbidden", else 404 "is not found" (when
    ``log_not_found``); the path shown is the index file's."""
    if err == errno.EACCES:
        r.log("error", f'"{path}" is forbidden {os_error_text(err)}')
        return 403
    if r.loc.flag("log_not_found", True):
        r.log("error", f'"{path}" is not found {os_error_text(err)}')
    return 404
