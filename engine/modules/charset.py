"""ngx_http_charset_module, the part a config usually uses: ``charset utf-8;`` adds
``; charset=utf-8`` to the Content-Type of responses whose type is in ``charset_types``
(text/html, text/xml, text/plain, text/vnd.wap.wml, application/javascript and
application/rss+xml by default; text/html is in any list), error pages included. Recoding between charsets
(``source_charset``, ``charset_map``) is not modelled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.block import Block
from ..http.phases import HttpModule

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

DEFAULT_TYPES = frozenset({"text/html", "text/xml", "text/plain", "text/vnd.wap.wml",
                           "application/javascript", "application/rss+xml"})


class CharsetModule(HttpModule):
    name = "ngx_http_charset_module"
    directives = frozenset({"charset", "charset_types"})

    def init(self, engine: HttpEngine) -> None:
        # nginx's header chain: add_header (500), addition (550), sub (600), then
        # charset, ssi (650), gzip: add_header's $sent_http_content_type has no charset yet
        engine.phases.add_header_filter("charset", self.filter, order=620,
                                        active=self._active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            charset = block.value("charset", "off") or "off"
            if charset == "off":
                continue
            types = {a.lower() for d in block.get("charset_types") for a in d.args}
            # an explicit list always has text/html too (ngx_http_types_slot's default)
            block.mod[self.name] = (charset, frozenset(types | {"text/html"}) if types
                                    else DEFAULT_TYPES)

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    def filter(self, r: Request) -> None:
        conf = r.loc.mod.get(self.name)
        ctype = r.out.content_type
        # nginx leaves a 301/302 without a charset (old browsers took it for the next page's)
        # the proxy's X-Accel-Charset named a charset nginx does not know: none is added
        if (conf is None or not ctype or "charset=" in ctype.lower()
                or r.out.status in (301, 302) or r.ctx.get("charset_declined")):
            return
        charset, types = conf
        if "*" in types or ctype.split(";", 1)[0].strip().lower() in types:
            r.out.content_type = f"{ctype}; charset={charset}"
