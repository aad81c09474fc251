"""ngx_http_addition_filter_module: the output of subrequests before and after a body.

``add_before_body uri`` and ``add_after_body uri`` (plain URIs: no variables, a ``?``
stays part of the subrequest's ``$uri`` and its arguments are empty) act on a main
request's ``200`` response whose type is in ``addition_types`` (``text/html`` always,
``*`` for any). The header filter then drops ``Content-Length`` (the response goes
chunked, or to the connection's end for HTTP/1.0), drops ``Accept-Ranges`` and turns
off range requests (a ``Range`` gets the whole response), and makes a strong ``ETag``
weak; ``Last-Modified`` stays. A HEAD request gets that header and no subrequest.

The body filter starts the ``before`` subrequest with the first part of the body and
the ``after`` one once the last part has gone down the chain. A subrequest's body,
whatever its status (a missing file gives nginx's 404 page, its ``open()`` error
logged with ``subrequest: "/uri"``), joins the main response where nginx's postpone
filter puts it: below the filters that rewrite a body (sub_filter, ssi), above gzip and
the writer, which see one stream. The subrequest's own location decides its own
filters.

Not modelled: ngx_lua writes its output past the postpone filter (it makes its request
the connection's active one for the call), and nginx runs a subrequest only when the
main request's handler returns; so with ``content_by_lua`` targets, or a Lua main
request that outputs more than once, nginx's order is not before/body/after (e.g.
``m1 m2 BEFORE AFTER``). Here the order is always the one the directives name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http.phases import HttpModule
from ..http.response import content_type_matches, weak_etag
from ..http.subrequest import run_subrequest

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: The header filter: below add_header (500), whose ETag it weakens, and before the
#: range filter (900) that it turns off.
HEADER_ORDER = 550
#: The body filter sits where nginx's postpone filter is, which is where the output of
#: subrequests joins the main response: below the filters that rewrite a body
#: (sub_filter at 600, ssi), so that they neither see the subrequests' output nor hold
#: back the end of the main request's own body, and above gzip (700) and the writer.
BODY_ORDER = 690
_CTX = "addition"


@dataclass(frozen=True, slots=True)
class AdditionConf:
    """A block's merged configuration: the two URIs ("" is none) and the types."""

    before: str
    after: str
    #: None: any type (``addition_types *``).
    types: frozenset[str] | None


class AdditionModule(HttpModule):
    name = "ngx_http_addition_filter_module"
    #: The directives whose behaviour this module models.
    directives = frozenset({"add_before_body", "add_after_body", "addition_types"})

    def init(self, engine: HttpEngine) -> None:
        self._engine = engine
        self._below: dict[Any, tuple[tuple[Any, bool], ...]] = {}
        engine.phases.add_header_filter("addition", self.header_filter, order=HEADER_ORDER,
                                        active=self._active)
        engine.phases.add_body_filter("addition", self.body_filter, order=BODY_ORDER,
                                      active=self._active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            before = block.value("add_before_body", "") or ""
            after = block.value("add_after_body", "") or ""
            if before or after:
                block.mod[self.name] = AdditionConf(before, after, _types(block))

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    def header_filter(self, r: Request) -> None:
        """ngx_http_addition_header_filter: decide, and fix the header of a longer body."""
        conf: AdditionConf | None = r.loc.mod.get(self.name)
        out = r.out
        if conf is None or r is not r.main or out.status != 200 \
                or not content_type_matches(conf.types, out.content_type, r):
            return
        r.ctx[_CTX] = (conf, False)  # the before subrequest is not started yet
        out.content_length = None
        out.headers.remove("content-length")
        r.ctx.pop("keep:allow_ranges", None)  # ngx_http_clear_accept_ranges
        out.headers.remove("accept-ranges")
        weak_etag(r)
        r.trace.add("addition", decision="on", before=conf.before, after=conf.after)

    async def body_filter(self, r: Request, data: bytes,
                          last: bool) -> tuple[bytes, bool] | None:
        """ngx_http_addition_body_filter: subrequests around the main request's body."""
        state: tuple[AdditionConf, bool] | None = r.ctx.get(_CTX)
        if state is None or r.header_only or (not data and not last):
            return data, last
        conf, started = state
        if not started:
            r.ctx[_CTX] = (conf, True)
            if conf.before and not await self._insert(r, conf.before, "add_before_body"):
                return None
        if not conf.after:
            del r.ctx[_CTX]
            return data, last
        if not last:
            return data, last
        # the end of the body goes down the chain first, then the after subrequest's
        # output, then the end of the response (ngx_http_send_special); an empty
        # non-last buffer would be a flush, which nginx's last_in_chain buffer is not
        if data:
            await self._down(r, data, False)
        del r.ctx[_CTX]
        if await self._insert(r, conf.after, "add_after_body"):
            await self._down(r, b"", True)
        return None

    async def _insert(self, r: Request, uri: str, by: str) -> bool:
        """Run a subrequest and send its body into the main response; False when it
        ended the main request (a subrequest finalized with 444)."""
        child = await run_subrequest(r, uri, by=by)
        if r.main.response_done:
            return False
        body = b"".join(child.ctx.pop("keep:subrequest_body", ()))
        if body:
            await self._down(r, body, False)
        return not r.main.response_done

    async def _down(self, r: Request, data: bytes, last: bool) -> None:
        """Pass ``data`` through the main request's body filters below this one (what
        nginx's ngx_http_next_body_filter does), once per block worked out."""
        chain = self._below.get(r.loc)
        if chain is None:
            chain = self._below[r.loc] = tuple(
                (f.fn, f.is_async) for f in self._engine.phases.body_filters
                if f.order > BODY_ORDER and (f.active is None or f.active(r.loc)))
        for fn, is_async in chain:
            passed = await fn(r, data, last) if is_async else fn(r, data, last)
            if passed is None:
                return
            data, last = passed


def _types(block: Block) -> frozenset[str] | None:
    """ngx_http_types_slot: text/html plus the listed types (lowercased), ``*`` for any."""
    types = {"text/html"}
    for d in block.get("addition_types"):
        for arg in d.args:
            if arg == "*":
                return None
            types.add(arg.lower())
    return frozenset(types)
