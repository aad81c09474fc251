"""ngx_http_autoindex_module: ``autoindex on`` lists a directory whose URI ends in "/"
when no index file answered, in nginx's exact HTML (names padded to 50 columns,
``dd-Mon-yyyy hh:mm`` times in GMT unless ``autoindex_localtime``, sizes right-aligned,
directories first, dot files hidden)."""

from __future__ import annotations

import html
import os
import stat
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..http.phases import DECLINED, DONE, HttpModule, Phase
from .static import os_error_text

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

NAME_LEN = 50
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _size(n: int, exact: bool) -> str:
    """``autoindex_exact_size``: bytes; off: G above 1 GiB - 1, M above 1 MiB - 1, K
    above 9999 bytes, each rounded half up, as nginx prints them."""
    if exact:
        return f"{n:19d}"
    for unit, scale, floor in (("G", 1024 ** 3, 1024 ** 3 - 1), ("M", 1024 ** 2, 1024 ** 2 - 1),
                               ("K", 1024, 9999)):
        if n > floor:
            size = n // scale + (1 if n % scale > scale // 2 - 1 else 0)
            return f"{size:6d}{unit}"
    return f" {n:6d}"


def listing(uri: str, directory: str, exact: bool, localtime: bool) -> bytes:
    entries = []
    for name in os.listdir(directory):
        if name.startswith("."):
            continue
        try:
            st = os.stat(os.path.join(directory, name))
        except OSError:
            continue
        entries.append((not stat.S_ISDIR(st.st_mode), name.encode("utf-8", "surrogateescape"),
                        name, stat.S_ISDIR(st.st_mode), st.st_mtime, st.st_size))
    entries.sort()
    shown_uri = html.escape(uri, quote=False)
    out = [f"<html>\r\n<head><title>Index of {shown_uri}</title></head>\r\n<body>\r\n"
           f"<h1>Index of {shown_uri}</h1><hr><pre><a href=\"../\">../</a>\r\n"]
    for _, _, name, is_dir, mtime, size in entries:
        href = quote(name, safe="!$&'()*+,;=:@-._~") + ("/" if is_dir else "")
        shown = name if len(name) <= NAME_LEN else name[:NAME_LEN - 3] + "..>"
        length = len(shown)
        if is_dir and len(name) <= NAME_LEN:
            shown += "/"
            length += 1
        tm = time.localtime(mtime) if localtime else time.gmtime(mtime)
        stamp = (f"{tm.tm_mday:02d}-{_MONTHS[tm.tm_mon - 1]}-{tm.tm_year} "
                 f"{tm.tm_hour:02d}:{tm.tm_min:02d} ")
        pad = " " * (NAME_LEN - length) if length < NAME_LEN else ""
        sz = "                  -" if is_dir else _size(size, exact)
        if is_dir and not exact:
            sz = "      -"
        out.append(f"<a href=\"{href}\">{html.escape(shown, quote=False)}</a>{pad} {stamp}"
                   f"{sz}\r\n")
    out.append("</pre><hr></body>\r\n</html>\r\n")
    return "".join(out).encode("utf-8", "surrogateescape")


class AutoindexModule(HttpModule):
    name = "ngx_http_autoindex_module"
    directives = frozenset({"autoindex", "autoindex_exact_size", "autoindex_localtime"})

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.CONTENT, "autoindex", self.handler, order=20,
                          active=lambda block: block.flag("autoindex", False))

    async def handler(self, r: Request) -> int:
        if not r.uri.endswith("/") or not r.loc.flag("autoindex", False):
            return DECLINED
        if r.method not in ("GET", "HEAD"):
            return DECLINED
        directory = r.engine.services["map_uri_to_path"](r)
        try:
            body = listing(r.uri, directory, r.loc.flag("autoindex_exact_size", True),
                           r.loc.flag("autoindex_localtime", False))
        except OSError as exc:
            err = exc.errno or 2
            if err in (2, 20):
                r.log("error", f'opendir() "{directory}" failed {os_error_text(err)}')
                return 404
            r.log("error", f'opendir() "{directory}" failed {os_error_text(err)}')
            return 403 if err == 13 else 500
        r.trace.add("static", path=directory, result="autoindex listing")
        r.out.status = 200
        r.out.content_type = "text/html"
        await r.engine.send_header(r)
        await r.engine.output(r, body if r.method != "HEAD" else b"", True)
        return DONE
