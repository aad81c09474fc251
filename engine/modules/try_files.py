"""ngx_http_try_files_module: test files in order in the precontent phase; the last
argument is the fallback (a URI, a named location or ``=code``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, HttpModule, Phase
from ..http.variables import compile_value

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request


class TryFilesModule(HttpModule):
    name = "ngx_http_try_files_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "try_files",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.PRECONTENT, "try_files", self.handler,
                          active=lambda block: self.name in block.mod)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            d = block.own.get("try_files")
            if not d:
                continue
            d0 = d[0]
            if len(d0.args) < 2:
                raise ConfigError('invalid number of arguments in "try_files" directive',
                                  d0.file, d0.line)
            # an argument written with a trailing "/" tests for a directory; nginx drops
            # the slash from the name it tests and from the URI it then uses
            block.mod[self.name] = [
                (compile_value(a[:-1] if a.endswith("/") and i < len(d0.args) - 1 else a,
                               engine.variables, d0.file, d0.line),
                 a.endswith("/") and i < len(d0.args) - 1)
                for i, a in enumerate(d0.args)]

    async def handler(self, r: Request) -> int:
        values = r.loc.mod.get(self.name)
        if values is None:
            return DECLINED
        mapper = r.engine.services["map_uri_to_path"]
        saved = r.uri
        for cv, test_dir in values[:-1]:
            name = cv.evaluate(r)
            r.uri = name
            path = mapper(r)
            r.uri = saved
            exists = os.path.isdir(path) if test_dir else os.path.isfile(path)
            r.trace.add("try_files", candidate=name, path=path, exists=exists)
            if exists:
                uri, _, args = name.partition("?")
                r.set_uri(uri)
                if args:
                    r.args = args
                return DECLINED
        last = values[-1][0].evaluate(r)
        r.trace.add("try_files", candidate=last, path="", exists=None)
        if last.startswith("="):
            code = last[1:]
            return int(code) if code.isdigit() else 500
        if last.startswith("@"):
            return await r.engine.named_location(r, last, "try_files")
        uri, _, args = last.partition("?")
        # ngx_http_split_args: the fallback's own arguments, empty (but found) without "?"
        r.has_args = True
        return await r.engine.internal_redirect(r, uri, args, "try_files")
