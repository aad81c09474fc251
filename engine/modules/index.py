"""ngx_http_index_module: for a URI ending in "/", the first existing ``index`` file wins,
reached by an internal redirect (so its own location applies)."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, ERROR, HttpModule, Phase
from ..http.variables import ComplexValue, compile_value
from .static import os_error_text, worker_denied

if TYPE_CHECKING:
    from ..http.config import HttpConfig
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

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """ngx_http_index_set_index: every ``index`` of a block, in order, compiled (a
        name may hold variables); an absolute name not last is only warned about."""
        for block in cfg.blocks:
            found = block.own.get("index")
            if not found:
                continue
            names: list[ComplexValue] = []
            for d in found:
                for i, arg in enumerate(d.args):
                    if arg.startswith("/") and i != len(d.args) - 1:
                        engine.services.setdefault("config_warnings", []).append((
                            'only the last index in "index" directive should be absolute',
                            d.file, d.line))
                    if not arg:  # nginx names the directive's first index, not this one
                        raise ConfigError(
                            f'index "{d.args[0]}" in "index" directive is invalid',
                            d.file, d.line)
                    names.append(compile_value(arg, engine.variables, d.file, d.line))
            block.mod[self.name] = names

    async def handler(self, r: Request) -> int:
        if not r.uri.endswith("/") or r.method not in ("GET", "HEAD", "POST"):
            return DECLINED
        owner = r.loc.lookup("index")[1]
        values = owner.mod[self.name] if owner is not None else None
        names = [v.evaluate(r) for v in values] if values else ["index.html"]
        mapper = r.engine.services["map_uri_to_path"]
        directory = mapper(r)
        if directory is None:
            return ERROR  # ngx_http_index_handler's NGX_ERROR: no response at all
        dir_tested = False
        for name in names:
            if name.startswith("/"):
                return await r.engine.internal_redirect(r, name, r.args, "index")
            path = directory + name
            r.trace.add("static", path=path, result="index candidate")
            try:
                os.stat(path)  # anything that opens wins, a directory too
                err = errno.EACCES if worker_denied(r, path) else 0
            except OSError as exc:
                err = errno.EACCES if worker_denied(r, path) else exc.errno or errno.ENOENT
            if err:
                if err in (errno.ENOTDIR, errno.ENAMETOOLONG, errno.EINVAL, errno.EACCES):
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
