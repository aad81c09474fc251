"""The peer choosers: round robin, ``least_conn`` and ``ip_hash``, as nginx 1.22 runs them.

The order of peers a client sees is the point of modelling these exactly:

* round robin is nginx's *smooth* weighted round robin: each eligible peer's
  ``current_weight`` grows by its ``effective_weight``, the highest wins and pays back
  the total. Weights 5,1,1 give ``a a b a c a a``, not ``a a a a a b c``. A failed peer's
  effective weight drops by ``weight / max_fails`` and climbs back by one per pick.
* ``least_conn`` takes the peer with the fewest active connections relative to its
  weight; ties are broken by the same smooth round robin among the tied peers.
* ``ip_hash`` hashes the first three octets of an IPv4 client (all 16 bytes of IPv6),
  ``hash = (hash * 113 + byte) % 6271`` from 89, and walks the weights; an unusable peer
  rehashes from the last hash, and after 20 tries it falls back to round robin.

A peer is unusable while ``down``, while it has ``max_fails`` failures younger than
``fail_timeout``, or at ``max_conns``. When no primary peer is usable the backups are
tried; when none is, the caller logs ``no live upstreams``. Time is nginx's cached
seconds (``ngx_time()``), which is why ``fail_timeout`` has whole-second steps.
"""

from __future__ import annotations

import socket
import time
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, Callable

from ..http.phases import HttpModule
from .proxy_transport import Timeouts
from .upstream import ALL_PARAMS, Peer, PeerList, UpstreamGroup, UpstreamState

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: ip_hash gives up hashing after this many unusable picks and uses round robin.
_IP_HASH_MAX_TRIES = 20


def _now() -> int:
    return int(time.time())


def peer_at(peers: PeerList, w: int) -> tuple[int, Peer]:
    """The peer a hash lands on: ``w`` (below the total weight) walked down the weights,
    as ip_hash and hash do."""
    index = 0
    peer = peers.peers[0]
    while w >= peer.weight:
        w -= peer.weight
        index += 1
        peer = peers.peers[index]
    return index, peer


class PeerSelection:
    """One request's walk over a group (``ngx_http_upstream_rr_peer_data_t`` + ip_hash data).

    ``get()`` returns the next peer or None (nginx's NGX_BUSY); ``free()`` reports how the
    attempt went. ``reason`` says why the last peer was chosen, for the trace.
    ``request`` is the request being proxied (a ``hash`` key is evaluated for it) and
    ``data`` a balancer's own per-request state (nginx's peer data extending ``rrp``).
    """

    def __init__(self, group: UpstreamGroup, client_addr: str,
                 chooser: Callable[[PeerSelection], Peer | None] | None = None,
                 request: Request | None = None) -> None:
        self.group = group
        self.request = request
        self.data: Any = None
        self.peers: PeerList = group.primary
        self.tried: set[int] = set()
        self.current: Peer | None = None
        self.tries = group.tries
        #: *_next_upstream_tries (0: no limit), for a balancer that adds tries.
        self.max_tries = 0
        self.reason = ""
        self.chooser = chooser or get_round_robin
        #: A balancer's own free (balancer_by_lua*): True when it dealt with the peer.
        self.on_free: Callable[[PeerSelection, bool], bool] | None = None
        #: The attempts' timeouts (the proxy puts its location's here; other callers keep
        #: their own): a balancer may change them for the rest of the request
        #: (ngx.balancer.set_timeouts clones u->conf).
        self.timeouts = Timeouts()
        # ip_hash state
        self.hash = 89
        self.hash_tries = 0
        self.addr = _hash_bytes(client_addr)

    def get(self) -> Peer | None:
        return self.chooser(self)

    async def choose(self) -> Peer | None | int:
        """get() for a caller that can wait: a chooser may be a coroutine (Lua code
        runs for balancer_by_lua*) and may answer a status to finalize with (500)."""
        found: Any = self.chooser(self)
        return await found if isawaitable(found) else found

    def usable(self, index: int, peer: Peer, now: int) -> bool:
        if index in self.tried or peer.down:
            return False
        if peer.max_fails and peer.fails >= peer.max_fails and \
                now - peer.checked <= peer.fail_timeout:
            return False
        return not (peer.max_conns and peer.conns >= peer.max_conns)

    def take(self, peer: Peer, index: int, reason: str) -> Peer:
        self.current = peer
        self.tried.add(index)
        peer.conns += 1
        if self.peers is not self.group.primary:
            reason = "backup: " + reason
        self.reason = reason
        return peer

    def to_backups(self) -> bool:
        """Switch to the backup list (and forget what was tried) when there is one."""
        if self.peers.next is None:
            return False
        self.peers = self.peers.next
        self.tried = set()
        return True

    def free(self, failed: bool) -> str | None:
        """ngx_http_upstream_free_round_robin_peer; returns a warning to log, if any."""
        peer = self.current
        if peer is None or (self.on_free is not None and self.on_free(self, failed)):
            return None
        warning = None
        if self.peers.single:
            peer.conns -= 1
            self.tries = 0
            return None
        if failed:
            now = _now()
            peer.fails += 1
            peer.accessed = now
            peer.checked = now
            if peer.max_fails:
                peer.effective_weight -= peer.weight // peer.max_fails
                if peer.fails >= peer.max_fails:
                    warning = "upstream server temporarily disabled"
            if peer.effective_weight < 0:
                peer.effective_weight = 0
        elif peer.accessed < peer.checked:
            peer.fails = 0
        peer.conns -= 1
        if self.tries:
            self.tries -= 1
        return warning


def no_peer(states: list[UpstreamState | None], state: UpstreamState) -> None:
    """The balancer failed (balancer_by_lua*): the attempt's state has no peer. nginx's
    $upstream_* variables print nothing of it as the request's first state (its status
    "-"), and take it for the " : " between upstreams after others. A state the
    balancer gave a status (NGX_BUSY: 502, and the previous attempt's peer name) stays."""
    if state.status:
        return
    if len(states) > 1 and states[-1] is state:
        states[-1] = None
    else:
        state.peer, state.response_time = "", 0.0


def _hash_bytes(addr: str) -> bytes:
    try:
        return socket.inet_aton(addr)[:3] if ":" not in addr else \
            socket.inet_pton(socket.AF_INET6, addr)
    except OSError:
        return b"\0\0\0"  # nginx's pseudo address for unix-socket clients


# --- round robin ---------------------------------------------------------------------------


def get_round_robin(sel: PeerSelection) -> Peer | None:
    """ngx_http_upstream_get_round_robin_peer."""
    peers = sel.peers
    if peers.single:
        peer = peers.peers[0]
        if not peer.down and not (peer.max_conns and peer.conns >= peer.max_conns):
            sel.current = peer
            peer.conns += 1
            sel.reason = "the only server of the group"
            return peer
    else:
        found = _smooth_pick(sel, peers)
        if found is not None:
            return found
    if sel.to_backups():
        return get_round_robin(sel)
    return None


def _smooth_pick(sel: PeerSelection, peers: PeerList) -> Peer | None:
    """ngx_http_upstream_get_peer: the smooth weighted round robin step."""
    now = _now()
    best: Peer | None = None
    best_i = -1
    total = 0
    for i, peer in enumerate(peers.peers):
        if not sel.usable(i, peer, now):
            continue
        peer.current_weight += peer.effective_weight
        total += peer.effective_weight
        if peer.effective_weight < peer.weight:
            peer.effective_weight += 1
        if best is None or peer.current_weight > best.current_weight:
            best, best_i = peer, i
    if best is None:
        return None
    reason = (f"round robin: highest current weight {best.current_weight} "
              f"(weight {best.weight}, total {total})")
    best.current_weight -= total
    if now - best.checked > best.fail_timeout:
        best.checked = now
    return sel.take(best, best_i, reason)


# --- least_conn ----------------------------------------------------------------------------


def get_least_conn(sel: PeerSelection) -> Peer | None:
    """ngx_http_upstream_get_least_conn_peer."""
    peers = sel.peers
    if peers.single:
        return get_round_robin(sel)
    now = _now()
    best: Peer | None = None
    best_i = -1
    many = False
    for i, peer in enumerate(peers.peers):
        if not sel.usable(i, peer, now):
            continue
        if best is None or peer.conns * best.weight < best.conns * peer.weight:
            best, best_i, many = peer, i, False
        elif peer.conns * best.weight == best.conns * peer.weight:
            many = True
    if best is None:
        if sel.to_backups():
            return get_least_conn(sel)
        return None
    conns = best.conns
    total = 0
    if many:
        for i in range(best_i, len(peers.peers)):
            peer = peers.peers[i]
            if not sel.usable(i, peer, now):
                continue
            if peer.conns * best.weight != best.conns * peer.weight:
                continue
            peer.current_weight += peer.effective_weight
            total += peer.effective_weight
            if peer.effective_weight < peer.weight:
                peer.effective_weight += 1
            if peer.current_weight > best.current_weight:
                best, best_i = peer, i
    best.current_weight -= total
    if now - best.checked > best.fail_timeout:
        best.checked = now
    how = "ties broken by round robin" if many else "the only one"
    return sel.take(best, best_i, f"least_conn: fewest active connections ({conns}), {how}")


# --- ip_hash -------------------------------------------------------------------------------


def get_ip_hash(sel: PeerSelection) -> Peer | None:
    """ngx_http_upstream_get_ip_hash_peer."""
    peers = sel.peers
    if sel.hash_tries > _IP_HASH_MAX_TRIES or peers.single:
        return get_round_robin(sel)
    now = _now()
    h = sel.hash
    total = peers.total_weight
    while True:
        for byte in sel.addr:
            h = (h * 113 + byte) % 6271
        index, peer = peer_at(peers, h % total)
        if sel.usable(index, peer, now):
            break
        sel.hash_tries += 1
        if sel.hash_tries > _IP_HASH_MAX_TRIES:
            return get_round_robin(sel)
    if now - peer.checked > peer.fail_timeout:
        peer.checked = now
    sel.hash = h
    return sel.take(peer, index, f"ip_hash: hash {h} of the client's address "
                                 f"picks peer #{index + 1}")


# --- the balancer modules ------------------------------------------------------------------


class LeastConnModule(HttpModule):
    """ngx_http_upstream_least_conn_module: registers ``least_conn`` with the upstream module."""

    name = "ngx_http_upstream_least_conn_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "least_conn",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.services.setdefault("upstream_balancers", {})["least_conn"] = (
            get_least_conn, ALL_PARAMS)


class IpHashModule(HttpModule):
    """ngx_http_upstream_ip_hash_module: ``ip_hash``; its servers cannot be ``backup``."""

    name = "ngx_http_upstream_ip_hash_module"
    directives = frozenset({"ip_hash"})

    def init(self, engine: HttpEngine) -> None:
        engine.services.setdefault("upstream_balancers", {})["ip_hash"] = (
            get_ip_hash, ALL_PARAMS - {"backup"})


def chooser_for(engine: HttpEngine, group: UpstreamGroup) -> Callable[[PeerSelection],
                                                                      Peer | None]:
    entry = engine.services.get("upstream_balancers", {}).get(group.balancer)
    return entry[0] if entry else get_round_robin
