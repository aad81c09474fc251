"""ngx_http_empty_gif_module: ``empty_gif`` answers with a 1x1 transparent GIF.

The location's content handler (nginx's ``clcf->handler``) sends nginx's 43-byte image
through ``ngx_http_send_response``: ``Content-Type: image/gif``, a Content-Length and a
fixed Last-Modified (nginx sets ``last_modified_time = 23349600``, which is
``Mon, 28 Sep 1970 06:00:00 GMT``), no ETag and no Accept-Ranges. Being a 200 with a
Last-Modified, it can turn into a 304 in the not-modified filter when If-Modified-Since
names that date. Methods other than GET and HEAD get 405.

An ``if`` block inside the location keeps the handler: nginx's ``if`` leaves the
request's content handler as its location set it. A ``limit_except`` block does not:
nginx looks the handler up again in that block, finds none, and the request falls to
the static module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.phases import DONE, HttpModule

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: ngx_empty_gif[]: a GIF89a, 1x1, two-color palette, color #1 transparent.
EMPTY_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x01\x00\x00\x00\x00\xff\xff\xff"
             b"!\xf9\x04\x01\x00\x00\x01\x00"
             b",\x00\x00\x00\x00\x01\x00\x01\x00\x00"
             b"\x02\x02L\x01\x00;")
#: r->headers_out.last_modified_time as the module sets it.
LAST_MODIFIED = 23349600


async def empty_gif(r: Request) -> int:
    """ngx_http_empty_gif_handler."""
    if r.method not in ("GET", "HEAD"):
        return 405
    out = r.out
    out.status = 200
    out.content_type = "image/gif"
    out.content_length = len(EMPTY_GIF)
    out.last_modified = LAST_MODIFIED
    await r.engine.send_header(r)
    await r.engine.output(r, EMPTY_GIF, True)
    return DONE


empty_gif.label = "empty_gif"  # type: ignore[attr-defined]


class EmptyGifModule(HttpModule):
    name = "ngx_http_empty_gif_module"
    directives = frozenset({"empty_gif"})

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            if "content_handler" in block.mod:
                continue
            if block.own.get("empty_gif"):
                block.mod["content_handler"] = empty_gif
            elif block.kind == "if" and block.parent is not None \
                    and block.parent.mod.get("content_handler") is empty_gif:
                block.mod["content_handler"] = empty_gif
