"""An upstream's response header on its way to the client, as the proxy and fastcgi
modules pass it on (ngx_http_upstream_process_headers and friends): which lines are
hop-by-hop, the ``error_page`` test of ``*_intercept_errors``, and the proxy's copy of the
header with ``proxy_hide_header``/``proxy_pass_header``, ``proxy_redirect`` and
``proxy_cookie_*``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.limit_rate import STORED as LIMIT_RATE
from .proxy_cookie import rewrite_cookie
from .ssi_parser import split_unsafe

if TYPE_CHECKING:
    from ..http.request import Request
    from .proxy_conf import ProxyConf

#: Lines of the upstream's that describe its own connection, never passed on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})
#: ngx_http_upstream_headers_in entries marked "redirect": the upstream's lines that
#: an X-Accel-Redirect carries over to the response of the redirect's target.
REDIRECT_KEPT = frozenset({"content-type", "set-cookie", "content-disposition",
                           "cache-control", "expires", "accept-ranges"})


def find_header(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of ``name`` (lowercase) in an upstream header list."""
    return next((v for k, v in headers if k.lower() == name), None)


def has_error_page(r: Request, status: int) -> bool:
    """Whether an ``error_page`` of the location takes ``status`` (intercept_errors)."""
    pages = r.loc.mod.get("core", {}).get("error_pages") or []
    return any(status in p.codes for p in pages)


def buffering_for(conf: ProxyConf, headers: list[tuple[str, str]]) -> bool:
    """proxy_buffering, unless the upstream's X-Accel-Buffering says yes or no."""
    if "x-accel-buffering" not in conf.ignore_headers:
        value = (find_header(headers, "x-accel-buffering") or "").lower()
        if value in ("yes", "no"):
            return value == "yes"
    return conf.buffering


def accel_headers(r: Request, ignore: frozenset[str],
                  headers: list[tuple[str, str]]) -> str | None:
    """What nginx does with X-Accel-Limit-Rate and X-Accel-Charset as it parses the
    header (so before an X-Accel-Redirect or an intercepted error): the first sets
    ``$limit_rate`` (digits only, else ignored), the second is the charset the
    response's Content-Type gets. Returns that charset (validated later, when the
    Content-Type is known: see :func:`override_charset`)."""
    charset = None
    for name, value in headers:
        low = name.lower()
        if low == "x-accel-limit-rate" and low not in ignore:
            if value.isdigit() and r.parent is None:
                r.ctx[LIMIT_RATE] = str(int(value))
        elif low == "x-accel-charset" and low not in ignore:
            charset = value
    return charset


def override_charset(r: Request, charset: str, charsets: frozenset[str]) -> None:
    """ngx_http_charset_module's override: a charset the configuration names (in
    ``charset``, ``source_charset`` or ``charset_map``) goes into a Content-Type without
    one, whatever the location's ``charset``; an unknown one is logged, and then the
    charset module adds none (``r.ctx["charset_declined"]``)."""
    ctype = r.out.content_type
    if not charset or not ctype or r.parent is not None:
        return
    if charset.lower() not in charsets:
        r.log("error", f'unknown charset "{charset}" to override while reading response '
                       f'header from upstream')
        r.ctx["charset_declined"] = True
    elif "charset=" not in ctype.lower():
        r.out.content_type = f"{ctype}; charset={charset}"


async def accel_redirect(r: Request, uri: str, headers: list[tuple[str, str]],
                         conf: ProxyConf | None = None) -> int:
    """X-Accel-Redirect: the upstream lines nginx keeps (a Set-Cookie through the
    proxy's ``proxy_cookie_*`` too), then an internal redirect (GET unless HEAD) to the
    URI (%XX decoded, args split off; an unsafe one is a 404) or to a named location."""
    charset = ""
    for name, value in headers:
        low = name.lower()
        if low == "content-type":
            charset = _charset(value) or charset
            r.out.content_type = value
        elif low == "set-cookie" and conf is not None and (conf.cookie_domains
                                                           or conf.cookie_paths):
            r.out.headers.add(name, rewrite_cookie(r, value, conf.cookie_domains,
                                                   conf.cookie_paths))
        elif low in REDIRECT_KEPT:
            r.out.headers.add(name, value)
    _keep_charset(r, charset)
    if uri.startswith("@"):
        return await r.engine.named_location(r, uri, "x_accel_redirect")
    path, args = split_unsafe(uri)
    if path is None:
        r.log("error", f'unsafe URI "{args}" was detected while reading response header '
                       f'from upstream')
        return 404
    if r.method != "HEAD":
        r.method = "GET"
    return await r.engine.internal_redirect(r, path, args, "x_accel_redirect")


def copy_headers(r: Request, conf: ProxyConf, headers: list[tuple[str, str]]) -> None:
    """The proxy module's pass-on of an upstream header: hidden and hop-by-hop lines
    dropped, Content-Type and Content-Length into their fields (a chunked upstream's
    length is not believed), Location through ``proxy_redirect``. Every Location line
    keeps its place; the last one a rule rewrote becomes ``headers_out.location`` (made
    absolute by the header filter when relative); Refresh's ``url=`` is rewritten too.
    A passed Server or Date the upstream did not send is nginx's empty placeholder:
    then no such line at all."""
    out = r.out
    chunked = find_header(headers, "transfer-encoding") is not None
    moved: tuple[str, str] | None = None
    charset = ""
    for name, value in headers:
        low = name.lower()
        if low in conf.hide or low in HOP_BY_HOP:
            continue
        if low == "content-type":
            charset = _charset(value) or charset
            out.content_type = value
        elif low == "content-length":
            if chunked:
                continue
            v = value.strip()
            out.content_length = int(v) if v.isdigit() else None
        elif low == "refresh":
            # proxy_redirect rewrites what follows "url=" (without case)
            at = value.lower().find("url=") + 4
            new = _redirect(r, conf, name, value[at:]) if at >= 4 else None
            out.headers.add(name, value if new is None else value[:at] + new)
        elif low == "location" and value:
            new = _redirect(r, conf, name, value)
            if new is not None:
                moved = (name, new)
            out.headers.add(name, value if new is None else new)
        elif low == "set-cookie" and (conf.cookie_domains or conf.cookie_paths):
            out.headers.add(name, rewrite_cookie(r, value, conf.cookie_domains,
                                                 conf.cookie_paths))
        else:
            out.headers.add(name, value)
    _keep_charset(r, charset)
    if moved is not None and moved[1].startswith("/"):
        items = out.headers.items
        items.reverse()  # the last line holding that value is the one nginx moves
        items.remove(moved)
        items.reverse()
        out.location = moved[1]
    for name in ("server", "date"):
        if name not in conf.hide and find_header(headers, name) is None:
            r.ctx["keep:cleared_" + name] = True


def _keep_charset(r: Request, charset: str) -> None:
    """headers_out.charset stays from an earlier Content-Type line that had one: the
    header filter adds it to a last line without one."""
    if charset and r.out.content_type and not _charset(r.out.content_type):
        r.out.content_type += "; charset=" + charset


def _charset(ctype: str) -> str:
    """ngx_http_upstream_copy_content_type: what follows the first ``; charset=`` (no
    case) up to the end of the line, quotes dropped; "" when none."""
    at = ctype.find(";")
    while at >= 0:
        rest = ctype[at + 1:].lstrip(" ")
        if rest[:8].lower() == "charset=":
            value = rest[8:]
            value = value[1:] if value.startswith('"') else value
            return value[:-1] if value.endswith('"') else value
        at = ctype.find(";", at + 1)
    return ""


def _redirect(r: Request, conf: ProxyConf, name: str, value: str) -> str | None:
    """``proxy_redirect``: the first rule that matches rewrites the value (None: none
    did)."""
    for rule in conf.redirects:
        new = rule.apply(r, value)
        if new is None:
            continue
        r.trace.add("header", op="set", name=name, value=new,
                    phase="proxy_redirect: rewritten from " + value)
        return new
    return None
