"""ngx_http_static_module: serve the file the URI maps to (root/alias), or redirect a directory.

Also the not_modified filter (``If-Modified-Since``/``If-None-Match`` → 304) and the
``ETag`` a static response carries; ranges are engine/modules/range.py's.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from typing import TYPE_CHECKING, NamedTuple

from ..http.phases import DECLINED, DONE, HttpModule, Phase
from ..http.request import ResponseHeaders
from ..http.response import CTYPE_TESTED
from ..http.parse_time import parse_http_time as _parse_http_time
from . import copy_filter

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_ALLOWED = ("GET", "HEAD", "POST")


def parse_http_time(value: str) -> int | None:
    """ngx_parse_http_time on a header value: nginx's own lenient parser (a month known
    by a letter or two, whatever follows the time ignored, day 0 accepted), so that
    conditional requests agree with nginx where a general date parser would not."""
    return _parse_http_time(value.encode("utf-8", "surrogateescape"))


def _modified(r: Request, ims: str) -> bool:
    """ngx_http_test_if_modified: True unless If-Modified-Since says the copy is fresh
    (a malformed date is nginx's -1: modified, unless ``before`` and -1 is not older)."""
    last = r.out.last_modified
    mode = r.loc.value("if_modified_since", "exact")
    if last is None or mode == "off":
        return True
    since = parse_http_time(ims)
    since = -1 if since is None else since
    if since == last:
        return False
    return mode == "exact" or since < last


def _unmodified(r: Request, ius: str) -> bool:
    """ngx_http_test_if_unmodified: no Last-Modified or a bad date fail the test."""
    last = r.out.last_modified
    if last is None:
        return False
    since = parse_http_time(ius)
    return (-1 if since is None else since) >= last


def _etag_matches(etag: str | None, header: str, weak: bool = True) -> bool:
    """ngx_http_test_if_match: "*" matches anything; If-None-Match compares weakly
    (a ``W/`` prefix on either side is ignored), If-Match strongly."""
    if header.strip() == "*":
        return True
    if etag is None:
        return False
    if weak and etag.startswith("W/"):
        etag = etag[2:]
    for candidate in header.split(","):
        c = candidate.strip()
        if (c[2:] if weak and c.startswith("W/") else c) == etag:
            return True
    return False


def os_error_text(err: int) -> str:
    """``(2: No such file or directory)`` as nginx appends it."""
    return f"({err}: {os.strerror(err)})"


class Worker(NamedTuple):
    """Who nginx's workers are when the master runs as root, and the prefix."""

    uid: int
    gids: frozenset[int]
    #: The prefix directory with its trailing "/": it and the directories above it are
    #: taken as reachable (the engine's copy of a prefix may sit in a private 0700
    #: temporary directory that nginx's own prefix would not).
    prefix: str


def worker_identity(cfg: HttpConfig) -> Worker | None:
    """The worker nginx would run (the ``user`` directive, else nobody/nogroup) when the
    engine runs as root; None when it does not, or the workers would be root too: then
    the OS's own checks already match nginx's."""
    if os.geteuid() != 0:
        return None
    d = cfg.main.own.get("user")
    # one argument names the group too (Debian builds nginx with nobody/nogroup)
    user, group = (d[0].args[0], d[0].args[-1]) if d else ("nobody", "nogroup")
    try:
        uid = pwd.getpwnam(user).pw_uid
        gid = grp.getgrnam(group).gr_gid
        gids = frozenset(os.getgrouplist(user, gid))
    except (KeyError, OSError):
        return None
    if uid == 0:
        return None
    return Worker(uid, gids, os.path.abspath(cfg.prefix or ".").rstrip("/") + "/")


def _permits(st: os.stat_result, who: Worker, bit: int) -> bool:
    """The owner, group or other permission ``bit`` (4 read, 1 search) for ``who``."""
    shift = 6 if st.st_uid == who.uid else 3 if st.st_gid in who.gids else 0
    return bool((st.st_mode >> shift) & bit)


def worker_denied(r: Request, path: str, st: os.stat_result | None = None) -> bool:
    """Would nginx's worker get EACCES here though the engine (root) does not? Every
    directory on the way needs search permission, and with ``st`` (the path exists and
    is to be opened) the path itself read permission. Tests run as root, whom chmod
    does not stop, while nginx's workers run as nobody."""
    who: Worker | None = r.engine.services.get("static.worker")
    if who is None:
        return False
    if st is not None and not _permits(st, who, 4):
        return True
    end = path.rfind("/")
    cut = path.find("/", len(who.prefix) if path.startswith(who.prefix) else 1)
    while 0 < cut <= end:
        try:
            dir_st = os.stat(path[:cut])
        except OSError:
            return False  # the path does not resolve: the OS error stands
        if not stat.S_ISDIR(dir_st.st_mode):
            return False  # ENOTDIR stands
        if not _permits(dir_st, who, 1):
            return True
        cut = path.find("/", cut + 1)
    return False


def set_file_validators(r: Request, st: os.stat_result, size: int) -> None:
    """A file's Content-Length, Last-Modified and, unless ``etag off``, the ETag nginx
    makes of them (ngx_http_set_etag: mtime and size in hex)."""
    out = r.out
    out.content_length = size
    out.last_modified = int(st.st_mtime)
    if r.loc.flag("etag", True):
        out.headers.add("ETag", f'"{int(st.st_mtime):x}-{size:x}"')


class StaticModule(HttpModule):
    name = "ngx_http_static_module"

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.CONTENT, "static", self.handler, order=30)
        engine.phases.add_header_filter("not_modified", self.not_modified_filter, order=10)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        engine.services["static.worker"] = worker_identity(cfg)

    async def handler(self, r: Request) -> int:
        if r.method not in _ALLOWED:
            return 405
        if r.uri.endswith("/"):
            return DECLINED
        path = r.engine.services["map_uri_to_path"](r)
        if path is None:
            return 500
        if r.ctx.get("add_uri_to_alias"):  # try_files found it under a regex's alias
            path += r.uri
        r.trace.add("static", path=path, result="open")
        try:
            st = os.stat(path)
        except OSError as exc:
            err = exc.errno or errno.ENOENT
            return self._open_failed(r, path, errno.EACCES if worker_denied(r, path) else err)
        if worker_denied(r, path, st):
            return self._open_failed(r, path, errno.EACCES)
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
        # the connection's log action from here on (filters, error pages, subrequests)
        r.main.log_action = "sending response to client"
        r.out.status = 200
        set_file_validators(r, st, len(data))
        r.ctx["keep:allow_ranges"] = True
        r.engine.services["set_content_type"](r)
        await r.engine.send_header(r)
        r.ctx[copy_filter.FILE] = True
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

    async def not_modified_filter(self, r: Request) -> bool | None:
        """ngx_http_not_modified_filter: any 200 of the main request may become a 304,
        or a 412 when If-Unmodified-Since or If-Match fails (a filter finalization: the
        412 page, or its error_page, replaces the response)."""
        out = r.out
        # r->disable_not_modified: the proxy sets it for a response it may not cache
        if out.status != 200 or r is not r.main or r.ctx.get("disable_not_modified"):
            return None
        ius = r.headers_in.get("if-unmodified-since")
        im = r.headers_in.get("if-match")
        if (ius is not None and not _unmodified(r, ius)) or \
                (im is not None and not _etag_matches(out.headers.get("etag"), im, False)):
            r.trace.add("static", path="", result="412: precondition failed")
            r.ctx.pop("keep:allow_ranges", None)
            r.out = ResponseHeaders()  # ngx_http_clean_header: nothing of the 200 stays
            r.ctx.pop(CTYPE_TESTED, None)
            r.ctx.pop("keep:charset", None)  # headers_out.charset is cleaned too
            await r.engine.special_response(r, 412)
            # ngx_http_filter_finalize_request ends in NGX_ERROR: the connection closes
            # after the page, though its header said keep-alive
            r.keepalive = False
            return False
        ims = r.headers_in.get("if-modified-since")
        inm = r.headers_in.get("if-none-match")
        if ims is None and inm is None:
            return None
        if ims is not None and _modified(r, ims):
            return None
        if inm is not None and not _etag_matches(out.headers.get("etag"), inm):
            return None
        out.status = 304
        out.status_line = None  # a proxied "200 OK" line goes too
        out.content_type = None
        out.content_length = None
        out.headers.remove("content-encoding")  # nginx drops headers_out.content_encoding
        r.ctx.pop("keep:allow_ranges", None)
        if r.trace.enabled:
            r.trace.add("static", path="", result="304: not modified")
        return None

