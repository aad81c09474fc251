"""nginx's special responses: ``error_page``, or the built-in page of a status.

``ngx_http_special_response_handler``: an ``error_page`` for the status sends the request
to a URI (an internal redirect), a named location or elsewhere (a redirect); otherwise
nginx answers with its own short HTML page (:func:`.response.error_page_body`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .response import CTYPE_TESTED, client_status, error_page_body
from .uri import escape_bytes
from .user_agent import browser

if TYPE_CHECKING:
    from .engine import HttpEngine
    from .request import Request


#: Special response codes whose error pages drop keep-alive (ngx_http_special_response_handler;
#: 494 is not among them, a refused head closes for its own reasons).
_CLOSE_ON = {400, 413, 414, 495, 496, 497, 500, 501}

#: Appended to nginx's own 4xx/5xx pages for MSIE and Chrome (``msie_padding``, on by
#: default): without 512 bytes of body these browsers show their own "friendly" page.
MSIE_PADDING = (b"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" * 6)

_REFRESH_HEAD = b'<html><head><meta http-equiv="Refresh" content="0; URL='
_REFRESH_TAIL = b'"></head><body></body></html>\r\n'
#: ngx_escape_uri(NGX_ESCAPE_REFRESH): controls, space, ``"``, ``'`` and 8-bit.
_ESCAPE_REFRESH = frozenset([*range(0x21), 0x22, 0x27, *range(0x7F, 0x100)])


def _padded(r: Request) -> bool:
    if r.http_version < 1000 or not r.loc.flag("msie_padding", True):
        return False
    agent = browser(r.main.headers_in.get("user-agent"))
    return agent.msie or agent.chrome


def _clear_validators(r: Request) -> None:
    """ngx_http_send_special_response drops what described the replaced response (a
    static file's ETag when a filter finalizes it with 412, a Lua-set Last-Modified):
    the one line each of headers_out's pointers names, the last set. An earlier one
    stays: a file's ETag before a 416 whose error_page met a 416 again."""
    r.out.last_modified = None
    r.ctx.pop(CTYPE_TESTED, None)  # and its type is tested afresh
    headers = r.out.headers
    for name in ("accept-ranges", "last-modified", "etag"):
        for i in range(len(headers.items) - 1, -1, -1):
            if headers.items[i][0].lower() == name:
                headers.items = headers.items[:i] + headers.items[i + 1:]
                break


async def _send_refresh(engine: HttpEngine, r: Request) -> None:
    """``msie_refresh on``: MSIE gets a 301/302 as a 200 page that refreshes to the
    Location (ngx_http_send_refresh)."""
    raw = (r.out.location or "").encode("utf-8", "surrogateescape")
    url = escape_bytes(raw, _ESCAPE_REFRESH)
    body = _REFRESH_HEAD + url + _REFRESH_TAIL
    r.err_status = 200  # type: ignore[attr-defined]
    r.out.status = 200
    r.out.location = None
    r.out.content_type = "text/html"
    r.out.content_length = len(body)
    _clear_validators(r)
    if r.trace.enabled:
        r.trace.add("finalize", status=200, reason="msie_refresh")
    await engine.send_header(r)
    await engine.output(r, body, True)


async def special_response(engine: HttpEngine, r: Request, status: int) -> None:
    """ngx_http_special_response_handler: ``error_page`` if one applies, else nginx's page."""
    r.err_status = client_status(status)  # type: ignore[attr-defined]  # $status: 494 → 400
    if status in _CLOSE_ON:
        r.keepalive = False
    r.out.content_type = None
    pages = r.loc.mod.get("core", {}).get("error_pages")
    if not r.error_page and pages and r.uri_changes != 0:
        if not r.loc.flag("recursive_error_pages", False):
            r.error_page = True
        for page in pages:
            if status in page.codes:
                await send_error_page(engine, r, status, page)
                return
    r.main.expect_tested = True  # nginx's own page: no "100 Continue" (r->expect_tested)
    if status in (301, 302) and r.out.location and r.loc.flag("msie_refresh", False) \
            and browser(r.main.headers_in.get("user-agent")).msie:
        await _send_refresh(engine, r)
        return
    body = error_page_body(status, r.loc.value("server_tokens", "on") or "on")
    r.out.status = client_status(status)
    if body is not None and status >= 400 and _padded(r):
        body += MSIE_PADDING
    if body is not None:
        r.out.content_type = "text/html"
        r.out.content_length = len(body)
    else:
        r.out.content_length = 0
    if r.out.headers.items:  # a Content-Length line set before (Lua) goes too
        r.out.headers.remove("content-length")
    r.ctx.pop("keep:cleared_content-length", None)  # (so does one Lua emptied)
    _clear_validators(r)
    if r.trace.enabled:
        r.trace.add("finalize", status=status, reason="special response")
    await engine.send_header(r)
    await engine.output(r, body or b"", True)


async def send_error_page(engine: HttpEngine, r: Request, status: int, page: Any) -> None:
    """Where an ``error_page`` sends the request: a URI, a named location, a redirect."""
    overwrite = page.overwrite
    if overwrite is None or overwrite not in (0, 200):
        r.main.expect_tested = True  # the error stays: no "100 Continue" (probed)
    if overwrite is not None and overwrite >= 0:
        r.err_status = overwrite  # type: ignore[attr-defined]
    uri = page.uri.evaluate(r)
    r.trace.add("hop", hop="error_page", uri=uri, args="", status=status,
                ctx_reset=uri.startswith(("/", "@")))  # both clear the module contexts
    if uri.startswith("/"):
        path, sep, args = uri.partition("?")
        # an error page's own arguments replace the request's. Without "?" a constant
        # URI has none ($args "not found", "-" in a log: nginx keeps a null
        # err_page->args); one with variables goes through ngx_http_split_args, which
        # leaves empty but found arguments ("" in a log)
        r.has_args = bool(sep) or page.uri.has_variables
        if r.method != "HEAD":
            r.method = "GET"
        await engine.internal_redirect(r, path, args, "error_page")
        return
    if uri.startswith("@"):
        await engine.named_location(r, uri, "error_page")
        return
    code = overwrite if overwrite in (301, 302, 303, 307, 308) else 302
    r.err_status = code  # type: ignore[attr-defined]
    r.out.location = uri
    body = error_page_body(code, r.loc.value("server_tokens", "on") or "on")
    r.out.status = code
    r.out.content_type = "text/html"
    r.out.content_length = len(body or b"")
    r.ctx.pop(CTYPE_TESTED, None)
    await engine.send_header(r)
    await engine.output(r, body or b"", True)
