"""ngx_http_gzip_static_module: serve ``name.gz`` in place of ``name``, already compressed.

A content handler that runs before the static module (nginx registers it after static,
and a phase's handlers run last-registered first). As ``ngx_http_gzip_static_handler``
it declines for methods other than GET/HEAD, for URIs ending in "/", with
``gzip_static off``, and when the ``.gz`` file is missing; with ``on`` the client must
pass ``ngx_http_gzip_ok`` (Accept-Encoding, ``gzip_http_version``, ``gzip_proxied`` and
``gzip_disable``: core settings, so they apply whether ``gzip`` is on or not); ``always``
serves the file to anyone. The response has the ``.gz`` file's length, Last-Modified
and ETag, the Content-Type of the original name, ``Content-Encoding: gzip`` (so the
gzip filter leaves it alone) and no Accept-Ranges: nginx does not set allow_ranges here,
so a Range request gets the whole file.

With ``on``, finding the ``.gz`` file marks the request (nginx's ``r->gzip_vary``, which
outlives internal redirects) even when the client does not get it: ``gzip_vary on`` in
the location that finally answers then adds ``Vary: Accept-Encoding`` to whatever is
served, the plain file too.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from ..http.phases import DECLINED, DONE, HttpModule, Phase
from . import copy_filter
from .gzip import GzipConf, _compile, _disable, _refusal
from .static import os_error_text, set_file_validators, worker_denied

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from ..http.regex import Regex

#: r->gzip_vary: set on the main request, kept across internal redirects.
_VARY = "keep:gzip_vary"
#: Errors after which nginx declines without a word (the plain file is tried next).
_QUIET = (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG)
_ALLOWED = ("GET", "HEAD")


class GzipStaticModule(HttpModule):
    name = "ngx_http_gzip_static_module"
    directives = frozenset({"gzip_static"})

    def init(self, engine: HttpEngine) -> None:
        # before static (30), after index (10) and autoindex (20), as in nginx
        engine.phases.add(Phase.CONTENT, "gzip_static", self.handler, order=25,
                          active=self._active)
        # after not_modified (10) and the gzip filter (700), which may have added the
        # same Vary already
        engine.phases.add_header_filter("gzip_static", self.header_filter, order=705,
                                        active=self._filter_active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """``gzip_static``'s value is checked by the directive table (an enum slot); a
        block that enables it gets its mode and the client checks of ngx_http_gzip_ok,
        compiled with the gzip module's own helpers."""
        regexes: dict[int, tuple[tuple[Regex, ...], bool]] = {}
        for block in cfg.blocks:
            for d in block.own.get("gzip_disable", ()):
                regexes[id(d)] = _disable(d)
        for block in cfg.blocks:
            mode = (block.value("gzip_static", "off") or "off").lower()
            if mode != "off":
                block.mod[self.name] = (mode, _compile(block, regexes))

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    def _filter_active(self, block: Block) -> bool:
        """Where a .gz is served, or the answering location's ``gzip_vary`` may add
        the Vary line a gzip_static decision asked for."""
        return self.name in block.mod or block.flag("gzip_vary", False)

    async def handler(self, r: Request) -> int:
        """ngx_http_gzip_static_handler."""
        conf: tuple[str, GzipConf] | None = r.loc.mod.get(self.name)
        if conf is None or r.method not in _ALLOWED or r.uri.endswith("/"):
            return DECLINED
        mode, gzconf = conf
        refusal = _refusal(r, gzconf) if mode == "on" else ""
        if refusal and not r.loc.flag("gzip_vary", False):
            r.trace.add("static", path="", result=f"gzip_static declined: {refusal}")
            return DECLINED
        path = r.engine.services["map_uri_to_path"](r)
        if path is None:
            return 500
        if r.ctx.get("add_uri_to_alias"):  # try_files found it under a regex's alias
            path += r.uri
        path += ".gz"
        try:
            st = os.stat(path)
            err = errno.EACCES if worker_denied(r, path, st) else 0
        except OSError as exc:
            st = None
            err = errno.EACCES if worker_denied(r, path) else exc.errno or errno.ENOENT
        if err:
            return _open_failed(r, path, err)
        assert st is not None
        if mode == "on":
            r.ctx[_VARY] = True
            if refusal:
                r.trace.add("static", path=path, result=f"gzip_static declined: {refusal}")
                return DECLINED
        if stat.S_ISDIR(st.st_mode):
            r.trace.add("static", path=path, result="gzip_static declined: a directory")
            return DECLINED
        if not stat.S_ISREG(st.st_mode):
            r.log("crit", f'"{path}" is not a regular file')
            return 404
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return _open_failed(r, path, exc.errno or errno.EIO)
        r.trace.add("static", path=path, result="gzip_static: sent the .gz file")
        out = r.out
        out.status = 200
        set_file_validators(r, st, len(data))  # the .gz file's
        r.engine.services["set_content_type"](r)
        out.headers.add("Content-Encoding", "gzip")
        await r.engine.send_header(r)
        r.ctx[copy_filter.FILE] = True
        await r.engine.output(r, data, True)
        return DONE

    def header_filter(self, r: Request) -> None:
        """ngx_http_header_filter's ``Vary: Accept-Encoding`` for r->gzip_vary, once
        (the gzip filter puts the same line first when it set the flag itself)."""
        out = r.out
        if r.ctx.get(_VARY) and r is r.main and r.loc.flag("gzip_vary", False):
            items = out.headers.items
            if items[:1] != [("Vary", "Accept-Encoding")]:
                items.insert(0, ("Vary", "Accept-Encoding"))


def _open_failed(r: Request, path: str, err: int) -> int:
    """A ``.gz`` that cannot be opened: declined (the plain file is tried), logged
    unless it is simply not there."""
    r.trace.add("static", path=path, result=f"gzip_static: {os_error_text(err)}")
    if err not in _QUIET:
        r.log("error" if err == errno.EACCES else "crit",
              f'open() "{path}" failed {os_error_text(err)}')
    return DECLINED
