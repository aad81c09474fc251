"""nginx's special responses: ``error_page``, or the built-in page of a status.

``ngx_http_special_response_handler``: an ``error_page`` for the status sends the request
to a URI (an internal redirect), a named location or elsewhere (a redirect); otherwise
nginx answers with its own short HTML page (:func:`.response.error_page_body`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .response import client_status, error_page_body

if TYPE_CHECKING:
    from .engine import HttpEngine
    from .request import Request


#: Special response codes whose error pages drop keep-alive (ngx_http_special_response_handler).
_CLOSE_ON = {400, 413, 414, 494, 495, 496, 497, 500, 501}


async def special_response(engine: HttpEngine, r: Request, status: int) -> None:
    """ngx_http_special_response_handler: ``error_page`` if one applies, else nginx's page."""
    r.err_status = status  # type: ignore[attr-defined]
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
    body = error_page_body(status, r.loc.value("server_tokens", "on") or "on")
    r.out.status = client_status(status)
    if body is not None:
        r.out.content_type = "text/html"
        r.out.content_length = len(body)
    else:
        r.out.content_length = 0
    if r.trace.enabled:
        r.trace.add("finalize", status=status, reason="special response")
    await engine.send_header(r)
    await engine.output(r, body or b"", True)


async def send_error_page(engine: HttpEngine, r: Request, status: int, page: Any) -> None:
    """Where an ``error_page`` sends the request: a URI, a named location, a redirect."""
    overwrite = page.overwrite
    if overwrite is not None and overwrite >= 0:
        r.err_status = overwrite  # type: ignore[attr-defined]
    uri = page.uri.evaluate(r)
    r.trace.add("hop", hop="error_page", uri=uri, args="", status=status,
                ctx_reset=uri.startswith("/"))
    if uri.startswith("/"):
        path, _, args = uri.partition("?")
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
    await engine.send_header(r)
    await engine.output(r, body or b"", True)
