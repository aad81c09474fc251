"""ngx_http_try_files_module: test files in order in the precontent phase; the last
argument is the fallback (a URI, a named location or ``=code``)."""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from ..conf.catalog.modelled_checks import try_files_code
from ..conf.errors import ConfigError
from ..http.location import LocationConf
from ..http.phases import DECLINED, HttpModule, Phase
from ..http.variables import compile_value
from .static import os_error_text, worker_denied

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
            tests = [
                (compile_value(a[:-1] if a.endswith("/") else a, engine.variables,
                               d0.file, d0.line), a.endswith("/"))
                for a in d0.args[:-1]]
            last = d0.args[-1]
            fallback = compile_value(last, engine.variables, d0.file, d0.line)
            block.mod[self.name] = (tests, fallback, try_files_code(last, d0.file, d0.line))

    async def handler(self, r: Request) -> int:
        conf = r.loc.mod.get(self.name)
        if conf is None:
            return DECLINED
        tests, fallback, code = conf
        loc = r.loc
        alias = loc.first("alias") if isinstance(loc, LocationConf) else None
        mapper = r.engine.services["map_uri_to_path"]
        saved = r.uri
        if alias is not None and mapper(r) is None:  # an alias after a rewrite
            return 500
        for cv, test_dir in tests:
            name = cv.evaluate(r)
            if alias is None:
                r.uri = name
                path = mapper(r)
            elif loc.regex is not None:  # the whole name goes after the regex's alias
                path = mapper(r) + name
            else:
                # ngx_http_try_files_handler: a name starting with the location's prefix
                # has it replaced by the alias, any other is appended to the alias (and
                # to the prefix, for the URI)
                head = saved[:len(loc.name)]
                r.uri = head
                if not name.startswith(head):
                    name = head + name
                path = mapper(r) + name[len(head):]
            r.uri = saved
            exists = _exists(r, path, test_dir)
            r.trace.add("try_files", candidate=name, path=path, exists=exists)
            if not exists:
                continue
            if alias is not None and loc.regex is not None:
                if not test_dir:  # r->add_uri_to_alias: the file is the alias + URI
                    r.set_uri(name)
                    r.ctx["add_uri_to_alias"] = True
                return DECLINED
            uri, _, args = name.partition("?")
            r.set_uri(uri)
            if args:
                r.args = args
            return DECLINED
        last = fallback.evaluate(r)
        r.trace.add("try_files", candidate=last, path="", exists=None)
        if code:
            return code
        if last.startswith("@"):
            return await r.engine.named_location(r, last, "try_files")
        uri, _, args = last.partition("?")
        # ngx_http_split_args: the fallback's own arguments, empty (but found) without "?"
        r.has_args = True
        return await r.engine.internal_redirect(r, uri, args, "try_files")


def _exists(r: Request, path: str, test_dir: bool) -> bool:
    """A stat() as nginx's worker makes it: anything but a directory (or, for ``name/``,
    a directory); an error other than a missing name is logged at crit, the name
    skipped."""
    try:
        st = os.stat(path)
        err = errno.EACCES if worker_denied(r, path) else 0
    except OSError as exc:
        err = errno.EACCES if worker_denied(r, path) else exc.errno or errno.ENOENT
    if err:
        if err not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            r.log("crit", f'stat() "{path}" failed {os_error_text(err)}')
        return False
    return stat.S_ISDIR(st.st_mode) == test_dir
