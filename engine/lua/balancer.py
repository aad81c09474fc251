"""``balancer_by_lua*`` and ``ngx.balancer``: an upstream whose peers Lua code chooses.

ngx_lua replaces the group's peer selection (``init_upstream``): each time the proxy
needs a peer (the first attempt and every retry) the handler runs, synchronously (no
yielding: ``ngx.sleep``, ``ngx.say``... are "disabled in the context of
balancer_by_lua*"), in the request's Lua state (``ngx.ctx`` is the request's), with the
connection's log action "connecting to upstream". What it did decides the attempt:

* ``set_current_peer(addr, port)`` chose a peer: that attempt goes there, and
  ``set_more_tries(n)`` adds ``n`` tries for the retries that may follow; freeing such a
  peer only notes how it went (for ``get_last_failure``) and counts a try down;
* no peer set: the group's own servers, by round robin (once any run of the group set
  a peer, a group of one server is no longer "single": its failures count);
* a Lua error (logged as ``failed to run balancer_by_lua*: ...``) or ``ngx.exit`` with
  NGX_ERROR or any positive code (200, 404, 503...: this build has no status patch):
  500, with no peer tried;
* ``ngx.exit(-3)`` (NGX_BUSY): "no live upstreams" and 502, the attempt naming no peer;
* ``ngx.exit(ngx.DECLINED)``: nginx's worker loops forever (100% CPU) and the client
  never gets an answer; the engine closes the connection without a response instead
  (444), and the trace says why (NGX_AGAIN and NGX_DONE are refused by ngx.exit: a Lua
  error, so 500);
* any other code (0, -10...) and whatever the chunk returns: as if it ended normally.

``set_timeouts`` changes the timeouts of this attempt and of every later one of the
request (ngx_lua clones the upstream conf); a timeout left out keeps what it was.

The balancer is registered with the upstream module like ``least_conn``; its chooser is
a coroutine, which the proxy awaits (``PeerSelection.choose``).
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http.phases import DECLINED, ERROR, OK
from ..http.variables import ComplexValue
from ..modules.upstream import ALL_PARAMS, Peer, URLError, literal_ip, parse_url, \
    peer_name, upstream_states
from ..modules.upstream_balancers import PeerSelection, get_round_robin
from ._loader import load_chunk
from .handlers import LuaHandler

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from .runtime import LuaWorker
    from .service import LuaService
    from ..modules.upstream import UpstreamGroup
    from ..modules.proxy_transport import Timeouts

#: The directives, as the upstream module knows balancers.
DIRECTIVES = ("balancer_by_lua_block", "balancer_by_lua_file")
#: The server parameters a group with balancer_by_lua* accepts (after it): ngx_lua's
#: flags leave ``backup`` and ``max_conns`` out.
PARAMS = ALL_PARAMS - {"backup", "max_conns"}
#: Where a request keeps the running balancer's state (``r.ctx``).
_RUNNING = "lua_balancer"
_CONNECTING = "connecting to upstream"
_NO_UPSTREAM = b"no upstream found"
#: ngx.exit(-3) passes NGX_BUSY on as the balancer's result (see the module docstring).
_BUSY = -3


@dataclass
class BalancerData:
    """ngx_http_lua_balancer_peer_data_t: one request's balancer state."""

    #: The peer set_current_peer chose in the current run (None: fall back to the group).
    peer: Peer | None = None
    more_tries: int = 0
    #: The peer being tried is the handler's (freeing it is the balancer's own business).
    lua_peer: bool = False
    #: How the last Lua-chosen peer went: None, "failed" or "next".
    last_state: str | None = None
    #: Runs so far, the tries left when this one began, and *_next_upstream_tries
    #: (0: no limit): what set_more_tries is limited by.
    total_tries: int = 0
    tries_now: int = 0
    max_tries: int = 0
    #: The request's upstream timeouts (the caller's), which set_timeouts changes.
    timeouts: Timeouts | None = None


class LuaBalancer:
    """The balancer registered for ``balancer_by_lua*``; handlers are compiled per group
    on first use (inline Lua is loaded at run time in ngx_lua as well)."""

    def __init__(self, service: LuaService) -> None:
        self.service = service
        #: Each group's handler.
        self.handlers: weakref.WeakKeyDictionary[UpstreamGroup, LuaHandler] = \
            weakref.WeakKeyDictionary()

    def handler_of(self, group: UpstreamGroup) -> LuaHandler:
        """The group's handler; a file is named literally (no variables, unlike
        content_by_lua_file), relative to the prefix."""
        found = self.handlers.get(group)
        if found is None:
            assert group.directive is not None
            d = next(x for x in group.directive.children() if x.name in DIRECTIVES)
            chunk = f"=balancer_by_lua({os.path.basename(d.file)}:{d.line})".encode()
            if d.name.endswith("_file"):
                found = LuaHandler("balancer_by_lua", d, None,
                                   ComplexValue(d.args[0], [d.args[0]]), chunk)
            else:
                source = (d.lua_source or "").encode("utf-8", "surrogateescape")
                found = LuaHandler("balancer_by_lua", d, source, None, chunk)
            self.handlers[group] = found
        return found

    async def choose(self, sel: PeerSelection) -> Peer | None | int:
        """ngx_http_lua_balancer_get_peer: run the handler, then take its peer, or the
        group's round robin, or give the status to finalize with (500)."""
        r = sel.request
        assert r is not None
        data = sel.data
        if not isinstance(data, BalancerData):
            data = sel.data = BalancerData()
            sel.on_free = _free
        data.peer = None
        data.more_tries = 0
        data.total_tries += 1
        data.tries_now = sel.tries
        data.max_tries = sel.max_tries
        data.timeouts = sel.timeouts
        handler = self.handler_of(sel.group)
        action, r.main.log_action = r.main.log_action, _CONNECTING
        r.ctx[_RUNNING] = data
        try:
            rc = await self.service.run_sync(r, "balancer", handler, missing=None)
        finally:
            r.ctx.pop(_RUNNING, None)
            r.main.log_action = action
        if rc is not None and rc != OK:
            status = _exit_status(r, sel, rc)
            if status is not None:
                return status
        peer = data.peer
        if peer is None:
            found = get_round_robin(sel)
            if found is not None:
                sel.reason = "balancer_by_lua* set no peer: the group's " + sel.reason
            return found
        sel.current = peer
        data.lua_peer = True
        # ngx_lua clears the group's "single" flag for good: from now on a failure of
        # the group's only server counts (max_fails, "temporarily disabled")
        sel.peers.single = False
        sel.tries += data.more_tries
        sel.reason = f"balancer_by_lua*: ngx.balancer.set_current_peer({peer.name})"
        return peer


def _exit_status(r: Request, sel: PeerSelection, rc: int) -> int | None:
    """What the handler's failure or ngx.exit code makes of the request: the status to
    finalize with, or None when nginx goes on as if the handler ended normally."""
    name = sel.group.name
    if rc == ERROR or rc > OK:
        r.trace.add("upstream", upstream=name, peer=None,
                    reason="balancer_by_lua* failed: the request ends with 500")
        return 500
    if rc == _BUSY:  # ngx_http_upstream_connect: NGX_BUSY, and no peer name
        r.trace.add("upstream", upstream=name, peer=None,
                    reason="balancer_by_lua* ngx.exit(-3) (NGX_BUSY): no live upstreams")
        r.log("error", "no live upstreams while connecting to upstream")
        states = upstream_states(r)
        state, prev = states[-1], states[-2] if len(states) > 1 else None
        if state is not None:  # (u->peer.name is still the previous attempt's)
            state.status = 502
            state.peer = prev.peer if prev is not None else ""
            state.response_time = 0.0
        return 502
    if rc == DECLINED:
        r.trace.add("upstream", upstream=name, peer=None,
                    reason=f"balancer_by_lua* ngx.exit({rc}): nginx's worker loops forever "
                           f"here and never answers; the engine closes the connection")
        return 444
    return None


def _free(sel: PeerSelection, failed: bool) -> bool:
    """ngx_http_lua_balancer_free_peer: a peer the handler chose is only noted (and a
    try counted down); the group's own peers are freed by round robin (False)."""
    data = sel.data
    if not isinstance(data, BalancerData) or not data.lua_peer:
        return False
    data.lua_peer = False
    data.last_state = "failed" if failed else "next"
    if sel.tries:
        sel.tries -= 1
    return True


def register(engine: HttpEngine, service: LuaService) -> None:
    """Make ``balancer_by_lua*`` a balancer the upstream module knows."""
    balancer = LuaBalancer(service)
    balancers = engine.services.setdefault("upstream_balancers", {})
    for name in DIRECTIVES:
        balancers[name] = (balancer.choose, PARAMS)


# --- the Lua side ------------------------------------------------------------------------


def install(rt: Any, worker: LuaWorker) -> None:
    """Load balancer.lua into a worker; ``rt.balancer`` is the ``ngx.balancer`` module."""
    bridge = worker.bridge

    def running() -> tuple[Request | None, BalancerData | None]:
        lr = bridge.current
        if lr is None:
            return None, None
        return lr.r, lr.r.ctx.get(_RUNNING)

    def refusal(r: Request | None) -> bytes:
        """Why the API does nothing here: no upstream yet, or not its balancer."""
        if r is not None and r.ctx.get("keep:upstream_states"):
            return b"API disabled in the current context"
        return _NO_UPSTREAM

    def set_current_peer(addr: bytes, port: float) -> tuple[Any, ...]:
        r, data = running()
        if data is None:
            return None, refusal(r)
        text = addr.decode("utf-8", "surrogateescape")
        try:
            url = parse_url(text, int(port), uri_part=False)
        except URLError as exc:
            return None, str(exc).encode()
        if url.unix:
            data.peer = Peer(f"unix:{url.host}", url.host, 0, text, unix=True)
            return (True,)
        ip = literal_ip(url.host)
        if ip is None:  # (ngx_parse_url with no_resolve: no address for a name)
            return None, b"no host allowed"
        data.peer = Peer(peer_name(ip, url.port), ip, url.port, text)
        return (True,)

    def set_more_tries(count: float) -> tuple[Any, ...]:
        r, data = running()
        if data is None:
            return None, refusal(r)
        count = int(count)  # (a negative count takes tries away, as in ngx_lua)
        total = data.total_tries + data.tries_now - 1
        if data.max_tries and total + count > data.max_tries:
            data.more_tries = data.max_tries - total
            return True, b"reduced tries due to limit"
        data.more_tries = count
        return (True,)

    def get_last_failure() -> tuple[Any, ...]:
        r, data = running()
        if data is None:
            return None, None, refusal(r)
        assert r is not None
        if data.last_state is None:
            return None, None
        states = upstream_states(r)
        prev = states[-2] if len(states) > 1 else None
        return data.last_state.encode(), prev.status if prev is not None else 0

    def set_timeouts(connect: float, send: float, read: float) -> tuple[Any, ...]:
        """Milliseconds, truncated as ngx_msec_t; 0 (a timeout left out) keeps it."""
        r, data = running()
        if data is None:
            return False, refusal(r)
        for name, ms in (("connect", connect), ("send", send), ("read", read)):
            if int(ms) > 0 and data.timeouts is not None:
                setattr(data.timeouts, name, int(ms) / 1000)
        return (True,)

    py = worker.lua.table_from({
        b"set_current_peer": set_current_peer, b"set_more_tries": set_more_tries,
        b"get_last_failure": get_last_failure, b"set_timeouts": set_timeouts,
    })
    rt[b"balancer"] = load_chunk(worker.lua, "balancer")(rt, py)
