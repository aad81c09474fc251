"""ngx_http_autoindex_module: ``autoindex on`` lists a directory whose URI ends in "/"
when no index file answered, in nginx's exact HTML (names padded to 50 columns,
``dd-Mon-yyyy hh:mm`` times in GMT unless ``autoindex_localtime``, sizes right-aligned,
directories first, dot files hidden), or as ``autoindex_format`` json, jsonp (wrapped in
the ``callback`` argument) or xml, whose times are always GMT."""

from __future__ import annotations

import errno
import html
import os
import stat
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..http.core_variables import find_arg
from ..http.phases import DECLINED, DONE, HttpModule, Phase
from ..http.response import http_date
from .static import os_error_text, worker_denied

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


#: One listed entry: (sort key: files after directories, then the name's bytes), name,
#: is a directory, mtime, size.
Entry = tuple[tuple[bool, bytes], str, bool, float, int]


def _entries(directory: str) -> list[Entry]:
    entries = []
    for name in os.listdir(directory):
        if name.startswith("."):
            continue
        try:
            st = os.stat(os.path.join(directory, name))
        except OSError:
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        entries.append(((not is_dir, name.encode("utf-8", "surrogateescape")), name, is_dir,
                        st.st_mtime, st.st_size))
    entries.sort()
    return entries


def _escape_html(text: str) -> str:
    """ngx_escape_html: ``<``, ``>``, ``&`` and ``"`` (not ``'``)."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def _json_escape(name: str) -> str:
    """ngx_escape_json: backslash before ``"`` and ``\\``, control bytes escaped."""
    short = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f"}
    out = []
    for ch in name:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch < " ":
            out.append("\\" + short.get(ch, f"u{ord(ch):04x}"))
        else:
            out.append(ch)
    return "".join(out)


def json_listing(entries: list[Entry]) -> str:
    items = []
    for _, name, is_dir, mtime, size in entries:
        kind = "directory" if is_dir else "file"
        item = f'{{ "name":"{_json_escape(name)}", "type":"{kind}", "mtime":"{http_date(mtime)}"'
        items.append(item + (" }" if is_dir else f', "size":{size} }}'))
    return "[\r\n" + ",\r\n".join(items) + ("\r\n" if items else "") + "]"


def xml_listing(entries: list[Entry]) -> str:
    out = ['<?xml version="1.0"?>\r\n<list>\r\n']
    for _, name, is_dir, mtime, size in entries:
        kind = "directory" if is_dir else "file"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
        extra = "" if is_dir else f' size="{size}"'
        out.append(f'<{kind} mtime="{stamp}"{extra}>{_escape_html(name)}</{kind}>\r\n')
    out.append("</list>\r\n")
    return "".join(out)


def _shown(name: str, utf8: bool) -> tuple[str, int]:
    """The name as listed, cut to 50 columns, and its length: counted in characters when
    the response is utf-8 (nginx's r->utf8, from ``charset utf-8``), else in bytes."""
    if utf8:
        return (name, len(name)) if len(name) <= NAME_LEN else (name[:NAME_LEN - 3] + "..>",
                                                                NAME_LEN)
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > NAME_LEN:
        return raw[:NAME_LEN - 3].decode("utf-8", "surrogateescape") + "..>", NAME_LEN
    return name, len(raw)


def listing(uri: str, directory: str, exact: bool, localtime: bool, utf8: bool = False
            ) -> bytes:
    entries = _entries(directory)
    shown_uri = _escape_html(uri)
    out = [f"<html>\r\n<head><title>Index of {shown_uri}</title></head>\r\n<body>\r\n"
           f"<h1>Index of {shown_uri}</h1><hr><pre><a href=\"../\">../</a>\r\n"]
    for _, name, is_dir, mtime, size in entries:
        # ngx_escape_uri(NGX_ESCAPE_URI_COMPONENT): all but letters, digits and "-._~"
        href = quote(name.encode("utf-8", "surrogateescape"), safe="") + ("/" if is_dir else "")
        shown, length = _shown(name, utf8)
        if is_dir and length < NAME_LEN:
            shown += "/"
            length += 1
        tm = time.localtime(mtime) if localtime else time.gmtime(mtime)
        stamp = (f"{tm.tm_mday:02d}-{_MONTHS[tm.tm_mon - 1]}-{tm.tm_year} "
                 f"{tm.tm_hour:02d}:{tm.tm_min:02d} ")
        pad = " " * (NAME_LEN - length) if length < NAME_LEN else ""
        sz = "                  -" if is_dir else _size(size, exact)
        if is_dir and not exact:
            sz = "      -"
        out.append(f"<a href=\"{href}\">{_escape_html(shown)}</a>{pad} {stamp}"
                   f"{sz}\r\n")
    out.append("</pre><hr></body>\r\n</html>\r\n")
    return "".join(out).encode("utf-8", "surrogateescape")


#: r.ctx key: the response is an XML listing (its charset is added by the filter).
_XML = "autoindex_xml"


class AutoindexModule(HttpModule):
    name = "ngx_http_autoindex_module"
    directives = frozenset({"autoindex", "autoindex_exact_size", "autoindex_format",
                            "autoindex_localtime"})

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.CONTENT, "autoindex", self.handler, order=20,
                          active=lambda block: block.flag("autoindex", False))
        # just before the charset filter (620), after add_header (500)
        engine.phases.add_header_filter("autoindex_charset", self.charset_filter, order=619,
                                        active=lambda block: block.flag("autoindex", False))

    @staticmethod
    def charset_filter(r: Request) -> None:
        """An XML listing's charset is nginx's headers_out.charset, not part of its
        type: ``$sent_http_content_type`` (add_header) reads "text/xml"; the header
        line has "; charset=utf-8", which a ``charset`` directive does not change."""
        if r.ctx.get(_XML) and r.out.content_type == "text/xml":
            r.out.content_type = "text/xml; charset=utf-8"

    async def handler(self, r: Request) -> int:
        if not r.uri.endswith("/") or not r.loc.flag("autoindex", False):
            return DECLINED
        if r.method not in ("GET", "HEAD"):
            return DECLINED
        directory = r.engine.services["map_uri_to_path"](r)
        if directory is None:
            return 500
        fmt = r.loc.value("autoindex_format", "html") or "html"
        try:
            if worker_denied(r, directory, os.stat(directory)):
                return _opendir_failed(r, directory, errno.EACCES)
            if fmt == "html":
                utf8 = (r.loc.value("charset", "off") or "off").lower() == "utf-8"
                body = listing(r.uri, directory, r.loc.flag("autoindex_exact_size", True),
                               r.loc.flag("autoindex_localtime", False), utf8)
                ctype = "text/html"
            else:
                entries = _entries(directory)
        except OSError as exc:
            return _opendir_failed(r, directory, exc.errno or errno.ENOENT)
        if fmt != "html":
            made = self._formatted(r, fmt, entries)
            if made is None:
                return 400
            ctype, body = made
        r.trace.add("static", path=directory, result=f"autoindex listing ({fmt})")
        r.out.status = 200
        r.out.content_type = ctype
        await r.engine.send_header(r)
        await r.engine.output(r, body if r.method != "HEAD" else b"", True)
        return DONE

    @staticmethod
    def _formatted(r: Request, fmt: str, entries: list[Entry]) -> tuple[str, bytes] | None:
        """(content type, body) of a json, jsonp or xml listing; None for a jsonp
        ``callback`` nginx refuses (400)."""
        if fmt == "xml":
            r.ctx[_XML] = True
            return "text/xml", xml_listing(entries).encode("utf-8", "surrogateescape")
        body = json_listing(entries)
        callback = find_arg(r.args, "callback") if fmt == "jsonp" else None
        if callback:
            if len(callback) > 128:
                r.log("info", f'client sent too long callback name: "{callback}"')
                return None
            if not all(c.isascii() and (c.isalnum() or c in "_.") for c in callback):
                r.log("info", f'client sent invalid callback name: "{callback}"')
                return None
            return "application/javascript", \
                f"/* callback */\r\n{callback}({body});".encode("utf-8", "surrogateescape")
        return "application/json", body.encode("utf-8", "surrogateescape")


def _opendir_failed(r: Request, directory: str, err: int) -> int:
    """ngx_http_autoindex_handler's opendir() failure: 404 or 403 logged at error,
    anything else 500 at crit; the path is shown without its trailing slash."""
    path = directory[:-1] if len(directory) > 1 and directory.endswith("/") else directory
    if err in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
        level, status = "error", 404
    elif err == errno.EACCES:
        level, status = "error", 403
    else:
        level, status = "crit", 500
    r.log(level, f'opendir() "{path}" failed {os_error_text(err)}')
    return status
