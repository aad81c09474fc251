"""``balancer_by_lua*`` and ``ngx.balancer``: an upstream whose peers Lua code chooses.

ngx_lua replaces the group's peer selection (``init_upstream``): each time the proxy
needs a peer (the first attempt and every retry) the handler runs, synchronously (no
yielding: ``ngx.sleep``, ``ngx.say``... are "disabled in the context of
balancer_by_lua*"), in the request's Lua state (``ngx.ctx`` is the request's), with the
connection's log action "connecting to upstream". What it did decides the attempt:

* ``set_current_peer(addr, port)`` chose a peer: that attempt goes there, and
  ``set_more_tries(n)`` adds ``n`` tries for the retries that may follow; freeing such a
  peer only notes how it went (for ``get_last_failure``) and counts a try down;
* no peer set: the group's own servers, by round robin;
* a Lua error (logged as ``failed to run balancer_by_lua*: ...``) or ``ngx.exit`` with
  NGX_ERROR or a status: 500, with no peer tried.

The balancer is registered with the upstream module like ``least_conn``; its chooser is
a coroutine, which the proxy awaits (``PeerSelection.choose``). ``set_timeouts`` checks
its arguments and is accepted, but the attempt keeps the location's timeouts.
"""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http.phases import ERROR, OK
from ..modules.upstream import ALL_PARAMS, Peer, URLError, literal_ip, parse_url, \
    peer_name, upstream_states
from ..modules.upstream_balancers import PeerSelection, get_round_robin
from . import runtime, service as lua_service  # (both import this module: used late)
from ._loader import load_chunk
from .handlers import LuaHandler
from .thread import Driver

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from .runtime import LuaWorker
    from .service import LuaService
    from ..modules.upstream import UpstreamGroup

#: The directives, as the upstream module knows balancers.
DIRECTIVES = ("balancer_by_lua_block", "balancer_by_lua_file")
#: The server parameters a group with balancer_by_lua* accepts (after it): ngx_lua's
#: flags leave ``backup`` and ``max_conns`` out.
PARAMS = ALL_PARAMS - {"backup", "max_conns"}
#: Where a request keeps the running balancer's state (``r.ctx``).
_RUNNING = "lua_balancer"
_CONNECTING = "connecting to upstream"
_NO_UPSTREAM = b"no upstream found"


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
    #: set_timeouts (milliseconds; 0 keeps the location's): accepted, not applied.
    timeouts: tuple[float, float, float] = (0.0, 0.0, 0.0)


class LuaBalancer:
    """The balancer registered for ``balancer_by_lua*``; handlers are compiled per group
    on first use (inline Lua is loaded at run time in ngx_lua as well)."""

    def __init__(self, service: LuaService) -> None:
        self.service = service
        #: Each group's handler and, for balancer_by_lua_file, its absolute path.
        self.handlers: weakref.WeakKeyDictionary[UpstreamGroup,
                                                 tuple[LuaHandler, str | None]] = \
            weakref.WeakKeyDictionary()

    def handler_of(self, group: UpstreamGroup) -> tuple[LuaHandler, str | None]:
        """The group's handler; a file is named literally (no variables, unlike
        content_by_lua_file), relative to the prefix."""
        found = self.handlers.get(group)
        if found is None:
            assert group.directive is not None
            d = next(x for x in group.directive.children() if x.name in DIRECTIVES)
            chunk = f"=balancer_by_lua({os.path.basename(d.file)}:{d.line})".encode()
            path = None
            source = b""
            if d.name.endswith("_file"):
                path = os.path.join(self.service.prefix, d.args[0])
            else:
                source = (d.lua_source or "").encode("utf-8", "surrogateescape")
            found = self.handlers[group] = (
                LuaHandler("balancer_by_lua", d, source, None, chunk), path)
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
        handler, path = self.handler_of(sel.group)
        action, r.main.log_action = r.main.log_action, _CONNECTING
        r.ctx[_RUNNING] = data
        try:
            rc = await self._run(r, handler, path)
        finally:
            r.ctx.pop(_RUNNING, None)
            r.main.log_action = action
        if rc is not None and (rc == ERROR or rc > OK):
            r.trace.add("upstream", upstream=sel.group.name, peer=None,
                        reason="balancer_by_lua* failed: the request ends with 500")
            return 500
        peer = data.peer
        if peer is None:
            found = get_round_robin(sel)
            if found is not None:
                sel.reason = "balancer_by_lua* set no peer: the group's " + sel.reason
            return found
        sel.current = peer
        data.lua_peer = True
        sel.tries += data.more_tries
        sel.reason = f"balancer_by_lua*: ngx.balancer.set_current_peer({peer.name})"
        return peer

    async def _run(self, r: Request, handler: LuaHandler, path: str | None) -> int | None:
        """Run the handler to its end: NGX_OK, NGX_ERROR (it failed), or what it gave
        ngx.exit (which only notes the code here, as in a header filter). None: a file
        that cannot be opened (logged; ngx_lua's 404, which its balancer does not take
        for a failure: the group's own servers are used)."""
        service = self.service
        lr = service.lua_request(r)
        tracing = r.trace.enabled
        if tracing:
            d = handler.directive
            r.trace.add("phase", phase="balancer", handler=handler.label, file=d.file,
                        line=d.line)
        t0 = time.perf_counter()
        cache = service.code_cache(r)
        try:
            factory = lr.worker.compile_file(path, cache) if path is not None else \
                lr.worker.compile(handler.source or b"", handler.chunkname, cache)
        except runtime.LuaCompileError as exc:
            r.log("error", handler.load_error(exc))
            return None if exc.missing else ERROR
        outcome = await Driver(service, lr, yieldable=False).start(b"balancer", factory)
        code = lr.state[b"exit_code"]
        lr.state[b"exit_code"] = None
        rc = OK
        if outcome.kind == "error":
            if "API disabled in the context of" in outcome.message:
                r.trace.add("api_refused", phase="balancer", message=outcome.message)
            raw = outcome.raw
            if isinstance(raw, (bytes, int, float)) and not isinstance(raw, bool):
                r.log("error", lua_service._failed(handler.base, outcome))
            else:  # ngx_lua's traceback handler adds nothing to a non-string error
                r.log("error", f"failed to run balancer_by_lua*: {outcome.message}")
            rc = ERROR
        elif code is not None:
            rc = int(code)
        if tracing:
            r.trace.add("phase_done", phase="balancer", handler=handler.label,
                        rc="done" if rc == OK else "error" if rc == ERROR
                        else f"ngx.exit({rc})",
                        duration_ms=(time.perf_counter() - t0) * 1000)
        return rc


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
        r, data = running()
        if data is None:
            return False, refusal(r)
        data.timeouts = (connect, send, read)
        return (True,)

    py = worker.lua.table_from({
        b"set_current_peer": set_current_peer, b"set_more_tries": set_more_tries,
        b"get_last_failure": get_last_failure, b"set_timeouts": set_timeouts,
    })
    rt[b"balancer"] = load_chunk(worker.lua, "balancer")(rt, py)
