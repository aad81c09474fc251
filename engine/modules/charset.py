"""ngx_http_charset_module, the part a config usually uses: ``charset utf-8;`` adds
``; charset=utf-8`` to the Content-Type of responses whose type is in ``charset_types``
(text/html, text/xml, text/plain, text/vnd.wap.wml, application/javascript and
application/rss+xml by default; text/html is in any list), error pages included. Recoding between charsets
(``source_charset``, ``charset_map``) is not modelled, but a block that would recode between
two charsets without a ``charset_map`` for them is refused as nginx refuses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.block import Block
from ..http.phases import HttpModule
from ..http.response import content_type_matches

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: r.ctx key of the charset added to the response (headers_out.charset).
_SENT = "keep:charset"
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
        self.anywhere = False

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        _check_recodes(cfg)
        for block in cfg.blocks:
            charset = block.value("charset", "off") or "off"
            if charset == "off":
                continue
            types = {a.lower() for d in block.get("charset_types") for a in d.args}
            # an explicit list always has text/html too (ngx_http_types_slot's default)
            block.mod[self.name] = (charset, None if "*" in types else
                                    frozenset(types | {"text/html"}) if types
                                    else DEFAULT_TYPES)
            self.anywhere = True

    def _active(self, block: Block) -> bool:
        # anywhere once a block has a charset: an error page in a block without one
        # still carries the charset the first response got (below)
        return self.anywhere

    def filter(self, r: Request) -> None:
        ctype = r.out.content_type
        # a subrequest's header is not sent: ngx_http_set_charset leaves it alone
        # nginx leaves a 301/302 without a charset (old browsers took it for the next page's)
        # the proxy's X-Accel-Charset named a charset nginx does not know: none is added
        if (not ctype or r is not r.main or "charset=" in ctype.lower()
                or r.out.status in (301, 302)
                or r.ctx.get("charset_declined")):
            return
        # headers_out.charset outlives an internal redirect to an error page: its new
        # type is sent with the charset the first response got
        charset = r.ctx.get(_SENT)
        if charset is None:
            conf = r.loc.mod.get(self.name)
            if conf is None or not content_type_matches(conf[1], ctype, r):
                return
            charset = r.ctx[_SENT] = conf[0]
        r.out.content_type = f"{ctype}; charset={charset}"


def _spellings(directives: list[Directive], names: dict[str, str],
               maps: set[frozenset[str]]) -> None:
    """Charset names as nginx registers them, in file order: the first spelling of a name
    (compared without case) is the one its messages show; and the charset_map pairs."""
    for d in directives:
        if d.name in ("charset", "source_charset", "charset_map"):
            for arg in d.args if d.name == "charset_map" else d.args[:1]:
                if arg != "off" and not arg.startswith("$"):
                    names.setdefault(arg.lower(), arg)
            if d.name == "charset_map" and len(d.args) == 2:
                maps.add(frozenset(a.lower() for a in d.args))
        if d.block:
            _spellings(list(d.children()), names, maps)


def _check_recodes(cfg: HttpConfig) -> None:
    """ngx_http_charset_postconfiguration: each block merged under a server (in merge
    order) whose source_charset and charset differ needs a charset_map between them;
    the http block alone is never merged, so its pair counts only through a server."""
    if cfg.http is None or cfg.http.directive is None:
        return
    names: dict[str, str] = {}
    maps: set[frozenset[str]] = set()
    _spellings(list(cfg.http.directive.children()), names, maps)
    for block in cfg.blocks:
        if block is cfg.http:
            continue
        dst, src = block.value("charset", "off") or "off", block.value("source_charset", "off")
        if "off" in (dst, src) or not src or "$" in (dst[0], src[0]):
            continue
        pair = frozenset((dst.lower(), src.lower()))
        if len(pair) == 2 and pair not in maps:
            raise ConfigError(f'no "charset_map" between the charsets "{names[src.lower()]}" '
                              f'and "{names[dst.lower()]}"')
