"""ngx_http_upstream_hash_module: ``hash key [consistent];`` as nginx 1.22 runs it.

The key is a complex value evaluated once per proxied request (nginx's
``init_hash_peer``). Both variants pick among the *primary* servers only; once they give
up they hand over to round robin, which may go on to backup servers (a ``backup``
server is refused after ``hash``, but one written before it is accepted).

* Plain ``hash`` (compatible with Cache::Memcached): each step adds
  ``(crc32([rehash] key) >> 16) & 0x7fff`` to a running hash (the rehash number, in
  decimal, prefixes the key from the second step on) and walks the peers by weight with
  ``hash % total_weight``. A peer that is down, failed within ``fail_timeout``, at
  ``max_conns`` or already tried costs a step; after 20 such steps nginx falls back to
  round robin. A group of one server goes straight to round robin.
* ``consistent`` (ketama, compatible with Cache::Memcached::Fast): every server gets
  ``160 * weight`` points on a ring, point *j* being ``crc32(host "\\0" port prev)``
  where ``prev`` is point *j-1* as 4 little-endian bytes (0 at first) and host/port come
  from the ``server`` argument as written. The request starts at the first point at or
  after ``crc32(key)`` and takes a usable peer of that point's server (peers sharing a
  server name, such as the addresses of one host name, are balanced by smooth round
  robin); a point with no usable peer moves it to the next point, 20 times at most.
"""

from __future__ import annotations

import bisect
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.variables import ComplexValue, compile_value, split_value
from .upstream import ALL_PARAMS, Peer, UpstreamGroup, Upstreams, line_of
from .upstream_balancers import PeerSelection, get_round_robin, peer_at

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine

#: Both variants give up after this many unusable picks and use round robin.
_MAX_TRIES = 20
#: Points per weight unit on the consistent-hash ring.
_POINTS_PER_WEIGHT = 160


@dataclass
class HashConf:
    """One group's ``hash`` (ngx_http_upstream_hash_srv_conf_t)."""

    key: ComplexValue
    consistent: bool
    #: The ring (consistent only): sorted point hashes and each point's server name.
    hashes: list[int] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)


@dataclass
class HashState:
    """One request's walk (ngx_http_upstream_hash_peer_data_t)."""

    key: bytes
    hash: int = 0
    rehash: int = 0
    tries: int = 0


def build_ring(peers: list[Peer]) -> tuple[list[int], list[str]]:
    """ngx_http_upstream_init_chash: the sorted, deduplicated points of the ring."""
    points: list[tuple[int, int, str]] = []
    for peer in peers:
        server = peer.server
        if server[:5].lower() == "unix:":
            host, port = server[5:], ""
        else:
            digits = len(server) - len(server.rstrip("0123456789"))
            cut = len(server) - digits - 1
            if cut >= 0 and server[cut] == ":":
                host, port = server[:cut], server[cut + 1:]
            else:
                host, port = server, ""
        base = zlib.crc32(_bytes(host) + b"\0" + _bytes(port))
        prev = 0
        for _ in range(peer.weight * _POINTS_PER_WEIGHT):
            prev = zlib.crc32(prev.to_bytes(4, "little"), base)
            points.append((prev, len(points), server))
    points.sort()  # equal hashes: the first written wins, as far as it matters
    hashes: list[int] = []
    servers: list[str] = []
    for h, _, server in points:
        if not hashes or hashes[-1] != h:
            hashes.append(h)
            servers.append(server)
    return hashes, servers


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _state(sel: PeerSelection, conf: HashConf) -> HashState:
    """The key, evaluated for the request on the first pick (nginx: at peer init)."""
    st = sel.data
    if st is None:
        r = sel.request
        key = _bytes(conf.key.evaluate(r)) if r is not None else b""
        st = sel.data = HashState(key)
        if conf.consistent:
            st.hash = bisect.bisect_left(conf.hashes, zlib.crc32(key))
    return st


def get_hash_peer(sel: PeerSelection, conf: HashConf) -> Peer | None:
    """ngx_http_upstream_get_hash_peer."""
    st = _state(sel, conf)
    peers = sel.peers
    if st.tries > _MAX_TRIES or peers.single:
        return get_round_robin(sel)
    now = int(time.time())  # ngx_time()
    total = peers.total_weight
    while True:
        prefix = str(st.rehash).encode() if st.rehash else b""
        step = (zlib.crc32(st.key, zlib.crc32(prefix)) >> 16) & 0x7FFF
        st.hash = (st.hash + step) & 0xFFFFFFFF
        st.rehash += 1
        index, peer = peer_at(peers, st.hash % total)
        if sel.usable(index, peer, now):
            break
        st.tries += 1
        if st.tries > _MAX_TRIES:
            return get_round_robin(sel)
    if now - peer.checked > peer.fail_timeout:
        peer.checked = now
    return sel.take(peer, index, f"hash: key \"{_text(st.key)}\" hashes to {st.hash}, "
                                 f"which picks peer #{index + 1}"
                                 + (f" (rehash {st.rehash - 1})" if st.rehash > 1 else ""))


def get_chash_peer(sel: PeerSelection, conf: HashConf) -> Peer | None:
    """ngx_http_upstream_get_chash_peer."""
    st = _state(sel, conf)
    peers = sel.peers
    if st.tries > _MAX_TRIES or peers.single:
        return get_round_robin(sel)
    now = int(time.time())  # ngx_time()
    count = len(conf.hashes)
    while True:
        server = conf.servers[st.hash % count]
        best: Peer | None = None
        best_i = -1
        total = 0
        for i, peer in enumerate(peers.peers):
            if peer.server != server or not sel.usable(i, peer, now):
                continue
            peer.current_weight += peer.effective_weight
            total += peer.effective_weight
            if peer.effective_weight < peer.weight:
                peer.effective_weight += 1
            if best is None or peer.current_weight > best.current_weight:
                best, best_i = peer, i
        if best is not None:
            best.current_weight -= total
            break
        st.hash += 1
        st.tries += 1
        if st.tries > _MAX_TRIES:
            return get_round_robin(sel)
    if now - best.checked > best.fail_timeout:
        best.checked = now
    return sel.take(best, best_i, f"consistent hash: key \"{_text(st.key)}\" lands on ring "
                                  f"point {st.hash % count} of {count}, server "
                                  f"\"{server}\"")


def _text(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


class UpstreamHashModule(HttpModule):
    """Registers the ``hash`` balancer; its servers cannot be ``backup``."""

    name = "ngx_http_upstream_hash_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({"hash"})

    def __init__(self) -> None:
        self.confs: dict[UpstreamGroup, HashConf] = {}

    def init(self, engine: HttpEngine) -> None:
        engine.services.setdefault("upstream_balancers", {})["hash"] = (
            self.get_peer, ALL_PARAMS - {"backup"})

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """The checks nginx makes while reading ``hash`` (before later directives)."""
        for block in cfg.upstreams.values():
            for d in block.items:
                if d.name != "hash":
                    continue
                parts = split_value(d.args[0])
                if isinstance(parts, str):
                    raise ConfigError(parts, d.file, line_of(d))
                if len(d.args) > 1 and d.args[1] != "consistent":
                    raise ConfigError(f'invalid parameter "{d.args[1]}"', d.file, line_of(d))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        ups: Upstreams = engine.services["upstream"]
        for name, block in cfg.upstreams.items():
            group = ups.explicit(name)
            if group is None or group.balancer != "hash":
                continue
            d = [item for item in block.items if item.name == "hash"][-1]
            conf = HashConf(compile_value(d.args[0], engine.variables, d.file, line_of(d)),
                            len(d.args) > 1)
            if conf.consistent:
                conf.hashes, conf.servers = build_ring(group.primary.peers)
            self.confs[group] = conf

    def get_peer(self, sel: PeerSelection) -> Peer | None:
        conf = self.confs.get(sel.group)
        if conf is None:
            return get_round_robin(sel)
        if conf.consistent:
            return get_chash_peer(sel, conf)
        return get_hash_peer(sel, conf)
