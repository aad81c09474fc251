"""ngx_http_static_module: serve the file the URI maps to (root/alias), or redirect a directory.

Also the not_modified filter (``If-Modified-Since``/``If-None-Match`` → 304) and the
``ETag`` a static response carries; ranges are engine/modules/range.py's.
"""

from __future__ import annotations

import errno
import os
import stat
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from ..http.phases import DECLINED, DONE, HttpModule, Phase

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

_ALLOWED = ("GET", "HEAD", "POST")


def _modified(r: Request, ims: str) -> bool:
    """ngx_http_test_if_modified: True unless If-Modified-Since says the copy is fresh."""
    last = r.out.last_modified
    mode = r.loc.value("if_modified_since", "exact")
    if last is None or mode == "off":
        return True
    try:
        since = parsedate_to_datetime(ims).timestamp()
    except (TypeError, ValueError, IndexError):
        return True
    if since == last:
        return False
    return mode == "exact" or since < last


def _etag_matches(etag: str | None, header: str) -> bool:
    """ngx_http_test_if_match, weak comparison (If-None-Match): "*" matches anything."""
    if header.strip() == "*":
        return True
    if etag is None:
        return False
    strip = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        c = candidate.strip()
        if (c[2:] if c.startswith("W/") else c) == strip:
            return True
    return False


def os_error_text(err: int) -> str:
    """``(2: No such file or directory)`` as nginx appends it."""
    return f"({err}: {os.strerror(err)})"


class StaticModule(HttpModule):
    name = "ngx_http_static_module"

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.CONTENT, "static", self.handler, order=30)
        engine.phases.add_header_filter("not_modified", self.not_modified_filter, order=10)

    async def handler(self, r: Request) -> int:
        if r.method not in _ALLOWED:
            return 405
        if r.uri.endswith("/"):
            return DECLINED
        path = r.engine.services["map_uri_to_path"](r)
        r.trace.add("static", path=path, result="open")
        try:
            st = os.stat(path)
        except OSError as exc:
            return self._open_failed(r, path, exc.errno or errno.ENOENT)
        if stat.S_ISDIR(st.st_mode):
            location = r.uri + "/" + ("?" + r.args if r.args else "")
            r.out.location = location
            r.trace.add("static", path=path, result="directory: 301 to add the slash")
            return 301
        if not stat.S_ISREG(st.st_mode):
            r.log("crit", f'"{path}" is not a regular file')
            return 404
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return self._open_failed(r, path, exc.errno or errno.EACCES)
        if r.method == "POST":
            return 405
        r.out.status = 200
        r.out.content_length = len(data)
        r.out.last_modified = int(st.st_mtime)
        if r.loc.flag("etag", True):  # ngx_http_set_etag
            r.out.headers.add("ETag", f'"{int(st.st_mtime):x}-{len(data):x}"')
        r.ctx["keep:allow_ranges"] = True
        r.engine.services["set_content_type"](r)
        await r.engine.send_header(r)
        await r.engine.output(r, data, True)
        return DONE

    def _open_failed(self, r: Request, path: str, err: int) -> int:
        if err in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            status, level = 404, "error"
        elif err == errno.EACCES:
            status, level = 403, "error"
        else:
            status, level = 500, "crit"
        r.trace.add("static", path=path, result=os_error_text(err))
        if status != 404 or r.loc.flag("log_not_found", True):
            r.log(level, f'open() "{path}" failed {os_error_text(err)}')
        return status

    def not_modified_filter(self, r: Request) -> None:
        """ngx_http_not_modified_filter: any 200 of the main request may become a 304."""
        out = r.out
        if out.status != 200 or r is not r.main:
            return
        ims = r.headers_in.get("if-modified-since")
        inm = r.headers_in.get("if-none-match")
        if ims is None and inm is None:
            return
        if ims is not None and _modified(r, ims):
            return
        if inm is not None and not _etag_matches(out.headers.get("etag"), inm):
            return
        out.status = 304
        out.content_type = None
        out.content_length = None
        r.ctx.pop("keep:allow_ranges", None)
        if r.trace.enabled:
            r.trace.add("static", path="", result="304: not modified")

