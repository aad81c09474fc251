"""An upstream's response header on its way to the client, as the proxy and fastcgi
modules pass it on (ngx_http_upstream_process_headers and friends): which lines are
hop-by-hop, the ``error_page`` test of ``*_intercept_errors``, and the proxy's copy of the
header with ``proxy_hide_header``/``proxy_pass_header`` and ``proxy_redirect``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..http.request import Request
    from .proxy_conf import ProxyConf

#: Lines of the upstream's that describe its own connection, never passed on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})


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


def copy_headers(r: Request, conf: ProxyConf, headers: list[tuple[str, str]]) -> None:
    """The proxy module's pass-on of an upstream header: hidden and hop-by-hop lines
    dropped, Content-Type and Content-Length into their fields (a chunked upstream's
    length is not believed), Location through ``proxy_redirect``."""
    out = r.out
    chunked = find_header(headers, "transfer-encoding") is not None
    for name, value in headers:
        low = name.lower()
        if low in conf.hide or low in HOP_BY_HOP:
            continue
        if low == "content-type":
            out.content_type = value
        elif low == "content-length":
            if chunked:
                continue
            v = value.strip()
            out.content_length = int(v) if v.isdigit() else None
        elif low == "location" and value:
            _redirect(r, conf, name, value)
        else:
            out.headers.add(name, value)


def _redirect(r: Request, conf: ProxyConf, name: str, value: str) -> None:
    """``proxy_redirect``: a rewritten relative Location goes through the header filter
    (absolute_redirect makes it absolute); anything else keeps its place."""
    for rule in conf.redirects:
        new = rule.apply(r, value)
        if new is None:
            continue
        r.trace.add("header", op="set", name=name, value=new,
                    phase="proxy_redirect: rewritten from " + value)
        if new.startswith("/"):
            r.out.location = new
        else:
            r.out.headers.add(name, new)
        return
    r.out.headers.add(name, value)
