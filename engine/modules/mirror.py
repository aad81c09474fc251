"""ngx_http_mirror_module: copies of the request sent to other locations, answers ignored.

``mirror uri`` (several per block; ``off`` clears what an outer block set) makes the
precontent phase of a main request start one background subrequest per URI: the main
request's method and arguments, its headers, and its body when
``mirror_request_body`` is on (the default: the body is then read before the content
handler, so that ``ngx.req.get_body_data()`` finds it without ``ngx.req.read_body()``).
The URI is taken as written (a ``?`` in it stays in the subrequest's ``$uri``).

The mirror's response goes nowhere (a header-only subrequest) and the main request does
not wait for it: nginx posts the subrequest, so it runs once the main request's handler
gives the event loop back, i.e. after a content handler that does not yield, and
meanwhile if it does (``ngx.sleep``). Here it is an asyncio task, which runs at the main
request's first real wait. The main request is not over until its mirrors are: its log
phase (access log, ``$request_time``, ``log_by_lua``) and the end of the connection wait
for them, which a client sees as a connection that stays open.

Only what happens in the mirror's location is observable: its side effects and its
error-log lines (context ``subrequest: "/uri"``). Subrequests are not access-logged.
``return`` and ``rewrite`` answer in the rewrite phase, before mirroring; ``try_files``
runs first in the precontent phase (nginx walks a phase's handlers in reverse module
order), so a fallback to another location mirrors as that location says.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, HttpModule, Phase
from ..http.request_body import read_request_body
from ..http.subrequest import run_subrequest

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: The main request's pending mirror subrequests (kept across internal redirects).
_PENDING = "keep:mirror"


@dataclass(frozen=True, slots=True)
class MirrorConf:
    """What is in force in one block: the URIs, and whether the body goes along."""

    uris: tuple[str, ...]
    request_body: bool


class MirrorModule(HttpModule):
    name = "ngx_http_mirror_module"
    #: The directives whose behaviour this module models.
    directives = frozenset({"mirror", "mirror_request_body"})

    def init(self, engine: HttpEngine) -> None:
        self._used = False
        # before try_files (order 0), which nginx's reversed phase array runs first:
        # keep this one after it
        engine.phases.add(Phase.PRECONTENT, "mirror", self.handler, order=10,
                          active=lambda block: self._conf(block) is not None)
        # first in the log phase: the main request ends only when its mirrors have
        engine.phases.add(Phase.LOG, "mirror_wait", self.wait, order=-100,
                          active=lambda block: self._used)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """``mirror off`` may not share a block with another ``mirror`` (nginx's
        "is duplicate", at the second of them); URIs may repeat."""
        for block in cfg.blocks:
            seen: str | None = None  # None, "off" or "uri"
            for d in block.own.get("mirror", ()):
                kind = "off" if d.args[0] == "off" else "uri"
                if seen is not None and (kind == "off" or seen == "off"):
                    raise ConfigError('"mirror" directive is duplicate', d.file, d.line)
                seen = kind
                if kind == "uri":
                    self._used = True

    def _conf(self, block: Block) -> MirrorConf | None:
        """The configuration in force in ``block`` (None: no mirroring), once per
        block: the nearest block with ``mirror`` directives gives the whole list."""
        try:
            return block.mod[self.name]
        except KeyError:
            pass
        found = block.get("mirror")
        conf = None
        if found and found[0].args[0] != "off":
            conf = MirrorConf(tuple(d.args[0] for d in found),
                              block.flag("mirror_request_body", True))
        block.mod[self.name] = conf
        return conf

    async def handler(self, r: Request) -> int:
        """Start the mirrors of a main request and let it go on (NGX_DECLINED)."""
        conf = self._conf(r.loc)
        if conf is None or r is not r.main:
            return DECLINED
        body = None
        if conf.request_body:
            read_request_body(r, "mirror")  # the whole body, before mirroring
            body = r.body
        r.trace.add("mirror", uris=list(conf.uris), request_body=conf.request_body,
                    method=r.method, args=r.args)
        pending = r.ctx.setdefault(_PENDING, [])
        for uri in conf.uris:
            pending.append(asyncio.ensure_future(self._mirror(r, uri, body)))
        return DECLINED

    @staticmethod
    async def _mirror(r: Request, uri: str, body: bytes | None) -> None:
        try:
            await run_subrequest(r, uri, r.args, header_only=True, method=r.method,
                                 body=body, by="mirror")
        except Exception as exc:  # a module's bug must not take the server down
            r.log("alert", f"engine error in a mirror subrequest: "
                           f"{type(exc).__name__}: {exc}")

    async def wait(self, r: Request) -> None:
        """The log phase of a main request with mirrors waits for them to finish."""
        pending = r.ctx.pop(_PENDING, None)
        if pending:
            await asyncio.gather(*pending)
