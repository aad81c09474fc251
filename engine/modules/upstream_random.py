"""ngx_http_upstream_random_module: ``random [two [least_conn]];`` as nginx 1.22 runs it.

``random`` picks a primary server at random, weighted: a number below the total weight
falls into one server's range (the ranges are the weights laid end to end). A pick that
is down, failed within ``fail_timeout``, at ``max_conns`` or already tried costs a try;
after 20 nginx falls back to round robin (which may go on to backup servers: ``backup``
is refused after ``random``, but one written before it is accepted). A group of fewer
than two primary servers goes straight to round robin.

``random two`` (``least_conn`` is its only method, and the default) draws until it has
two different usable servers (each draw counting a try) and takes the one with fewer
active connections relative to its weight, the first one on a tie.

The draws are not nginx's (``ngx_random()``), so a given request may go elsewhere than
in nginx; what is modelled exactly is which servers can be chosen and how often.
"""

from __future__ import annotations

import bisect
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from .upstream import ALL_PARAMS, Peer, UpstreamGroup, Upstreams, line_of
from .upstream_balancers import PeerSelection, get_round_robin

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine

_MAX_TRIES = 20


@dataclass
class RandomConf:
    """One group's ``random`` (ngx_http_upstream_random_srv_conf_t)."""

    two: bool
    #: Where each primary server's range starts (``ranges[i].range``) and the total.
    starts: list[int]
    total: int


class _Tries:
    """The per-request try count (ngx_http_upstream_random_peer_data_t.tries)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


def _peek(conf: RandomConf, rng: random.Random) -> int:
    """ngx_http_upstream_peek_random_peer: the server whose range holds a random number."""
    return bisect.bisect_right(conf.starts, rng.randrange(conf.total)) - 1


def get_random_peer(sel: PeerSelection, conf: RandomConf, rng: random.Random) -> Peer | None:
    """ngx_http_upstream_get_random_peer."""
    tries: _Tries = sel.data or _Tries()
    sel.data = tries
    peers = sel.peers
    if tries.n > _MAX_TRIES or len(peers.peers) < 2:
        return get_round_robin(sel)
    now = int(time.time())
    while True:
        i = _peek(conf, rng)
        peer = peers.peers[i]
        if sel.usable(i, peer, now):
            break
        tries.n += 1
        if tries.n > _MAX_TRIES:
            return get_round_robin(sel)
    if now - peer.checked > peer.fail_timeout:
        peer.checked = now
    return sel.take(peer, i, f"random: drew peer #{i + 1} (weight {peer.weight} of "
                             f"{conf.total})")


def get_random2_peer(sel: PeerSelection, conf: RandomConf, rng: random.Random) -> Peer | None:
    """ngx_http_upstream_get_random2_peer."""
    tries: _Tries = sel.data or _Tries()
    sel.data = tries
    peers = sel.peers
    if tries.n > _MAX_TRIES or len(peers.peers) < 2:
        return get_round_robin(sel)
    now = int(time.time())
    prev: Peer | None = None
    prev_i = -1
    while True:
        i = _peek(conf, rng)
        peer = peers.peers[i]
        if peer is not prev and sel.usable(i, peer, now):
            if prev is not None:
                reason = (f"random two least_conn: drew #{prev_i + 1} ({prev.conns} active) "
                          f"and #{i + 1} ({peer.conns} active)")
                if peer.conns * prev.weight > prev.conns * peer.weight:
                    peer, i = prev, prev_i
                break
            prev, prev_i = peer, i
        tries.n += 1
        if tries.n > _MAX_TRIES:
            return get_round_robin(sel)
    if now - peer.checked > peer.fail_timeout:
        peer.checked = now
    return sel.take(peer, i, f"{reason}, took #{i + 1}")


class UpstreamRandomModule(HttpModule):
    """Registers the ``random`` balancer; its servers cannot be ``backup``."""

    name = "ngx_http_upstream_random_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({"random"})

    def __init__(self) -> None:
        self.confs: dict[UpstreamGroup, RandomConf] = {}
        self.rng = random.Random()

    def init(self, engine: HttpEngine) -> None:
        engine.services.setdefault("upstream_balancers", {})["random"] = (
            self.get_peer, ALL_PARAMS - {"backup"})

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """The checks nginx makes while reading ``random`` (before later directives)."""
        for block in cfg.upstreams.values():
            for d in block.items:
                if d.name != "random":
                    continue
                for arg, want in zip(d.args, ("two", "least_conn")):
                    if arg != want:
                        raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        ups: Upstreams = engine.services["upstream"]
        for name, block in cfg.upstreams.items():
            group = ups.explicit(name)
            if group is None or group.balancer != "random":
                continue
            # nginx's conf->two is only ever set: a later plain "random" keeps it
            two = any(item.name == "random" and item.args for item in block.items)
            starts: list[int] = []
            total = 0
            for peer in group.primary.peers:
                starts.append(total)
                total += peer.weight
            self.confs[group] = RandomConf(two, starts, total)

    def get_peer(self, sel: PeerSelection) -> Peer | None:
        conf = self.confs.get(sel.group)
        if conf is None:
            return get_round_robin(sel)
        if conf.two:
            return get_random2_peer(sel, conf, self.rng)
        return get_random_peer(sel, conf, self.rng)
