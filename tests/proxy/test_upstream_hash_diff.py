"""``hash`` and ``random`` balancers against real nginx.

``hash`` is deterministic, so the same key must reach the same backend on both servers:
100 keys per group, plain and ``consistent``, with weights, with a server down, and
with a server that refuses connections (the request moves on, and later requests avoid
the disabled server: both servers go through the same sequence of requests, so their
failure accounting matches). ``random`` is compared where chance plays no part (one
usable server, none at all) and checked on our side for its weighted distribution.

Backends: {port1}, {port2}, {port3} answer with their name; nobody listens on {port4}.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from engine.modules.upstream import Peer, PeerList, UpstreamGroup
from engine.modules.upstream_balancers import PeerSelection
from engine.modules.upstream_hash import build_ring
from engine.modules.upstream_random import RandomConf, get_random2_peer, get_random_peer
from tests.differential import Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix
from tests.proxy.harness import ProxyPair

CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    upstream h { hash $arg_k; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream hw { hash $arg_k; server 127.0.0.1:{port1} weight=3; server 127.0.0.1:{port2}; server 127.0.0.1:{port3} weight=2; }
    upstream hdown { hash $arg_k; server 127.0.0.1:{port1}; server 127.0.0.1:{port2} down; server 127.0.0.1:{port3}; }
    upstream hdead { hash $arg_k; server 127.0.0.1:{port1}; server 127.0.0.1:{port4}; server 127.0.0.1:{port2}; }
    upstream hkey { hash "$arg_a-$arg_b"; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; }
    upstream hone { hash $arg_k; server 127.0.0.1:{port2}; }
    upstream hbk { server 127.0.0.1:{port4} backup; server 127.0.0.1:{port1} down; server 127.0.0.1:{port2} down; hash $arg_k; }
    upstream c { hash $arg_k consistent; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream cw { hash $arg_k consistent; server 127.0.0.1:{port1} weight=4; server 127.0.0.1:{port2}; server 127.0.0.1:{port3} weight=2; }
    upstream cdown { hash $arg_k consistent; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; server 127.0.0.1:{port3} down; }
    upstream cdead { hash $arg_k consistent; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; server 127.0.0.1:{port4}; }
    upstream r1 { random; server 127.0.0.1:{port1} down; server 127.0.0.1:{port2}; server 127.0.0.1:{port3} down; }
    upstream r2 { random two least_conn; server 127.0.0.1:{port1} down; server 127.0.0.1:{port3}; }
    upstream rdown { random two; server 127.0.0.1:{port1} down; server 127.0.0.1:{port2} down; }
    upstream rone { random; server 127.0.0.1:{port3}; }

    server {
        listen 127.0.0.1:{port0};
        add_header X-Up "$upstream_addr|$upstream_status" always;
        location ~ ^/(\w+)/ { proxy_pass http://$1/; }
    }
    server { listen 127.0.0.1:{port1}; location / { return 200 "one\n"; } }
    server { listen 127.0.0.1:{port2}; location / { return 200 "two\n"; } }
    server { listen 127.0.0.1:{port3}; location / { return 200 "three\n"; } }
}
"""


@pytest.fixture(scope="module")
def pair():
    with ProxyPair(CONF, extra_ports=4) as p:
        yield p


def _picks(pair: ProxyPair, group: str, targets: list[str]) -> tuple[list, list]:
    """Who answered (and who was tried) for each target, on both servers, in order."""
    real, ours = [], []
    for t in targets:
        a, b = pair.both(Req("GET", f"/{group}/{t}"))
        real.append((t, a.status, a.body, a.header("X-Up")))
        ours.append((t, b.status, b.body, b.header("X-Up")))
    return real, ours


KEYS = [f"?k={i}" for i in range(100)]


@requires_nginx
@pytest.mark.parametrize("group", ["h", "hw", "hdown", "c", "cw", "cdown"])
def test_same_peer_for_every_key(pair, group):
    real, ours = _picks(pair, group, KEYS)
    assert ours == real
    assert len({body for _, _, body, _ in real}) > 1  # the keys do spread


@requires_nginx
@pytest.mark.parametrize("group", ["hdead", "cdead"])
def test_refused_peer_moves_on_and_is_then_avoided(pair, group):
    real, ours = _picks(pair, group, KEYS[:40])
    assert ours == real
    # some key first hit the dead server, then went on: "dead, live" in $upstream_addr
    assert any(", " in up for *_, up in real)
    refused = [line for line in pair.real_errors("error") if "refused" in line]
    assert refused and sorted(pair.engine_errors("error")) == sorted(pair.real_errors("error"))


@requires_nginx
def test_key_with_several_variables_and_empty_key(pair):
    targets = ["", "?a=1", "?b=1", "?a=x&b=y", "?a=y&b=x"]
    targets += [f"?a={i}&b={i * 7}" for i in range(30)]
    real, ours = _picks(pair, "hkey", targets)
    assert ours == real


@requires_nginx
@pytest.mark.parametrize("group", ["hone", "hbk", "r1", "r2", "rone", "rdown"])
def test_comparable_cases(pair, group):
    """One server (round robin at once), every primary unusable (round robin takes the
    backup), a single usable server for random, and no live upstreams at all (502)."""
    real, ours = _picks(pair, group, KEYS[:8])
    assert ours == real
    if group == "rdown":
        assert {status for _, status, _, _ in real} == {502}


def test_random_distribution_follows_weights():
    """Ours only: nginx's draws are its own, but the shares must follow the weights."""
    peers = [Peer(f"p{i}", "10.0.0.1", 1000 + i, f"p{i}", weight=w)
             for i, w in enumerate((1, 3))]
    group = UpstreamGroup("g", PeerList("g", peers), False, None, "random")
    conf = RandomConf(False, [0, 1], 4)
    rng = random.Random(7)
    seen: Counter[str] = Counter()
    for _ in range(4000):
        sel = PeerSelection(group, "127.0.0.1")
        peer = get_random_peer(sel, conf, rng)
        assert peer is not None
        seen[peer.name] += 1
        sel.free(failed=False)
    assert 0.70 < seen["p1"] / 4000 < 0.80
    # two: with p1 busy, p0 wins whenever both are drawn
    peers[1].conns = 5
    conf.two = True
    seen.clear()
    for _ in range(200):
        sel = PeerSelection(group, "127.0.0.1")
        peer = get_random2_peer(sel, conf, rng)
        assert peer is not None and sel.reason.startswith("random two least_conn")
        seen[peer.name] += 1
        sel.free(failed=False)
    assert seen == {"p0": 200}


def test_ring_points():
    """160 points per weight unit; a unix server hashes its path with no port."""
    hashes, servers = build_ring([Peer("a", "127.0.0.1", 81, "127.0.0.1:81", weight=2),
                                  Peer("u", "/s", 0, "unix:/s", unix=True)])
    assert len(hashes) == 480 and hashes == sorted(hashes)
    assert Counter(servers) == {"127.0.0.1:81": 320, "unix:/s": 160}


# --- nginx -t --------------------------------------------------------------------------

U = ("events {}\nhttp {\nupstream u {\n%s\n}\n"
     "server { listen 8999; location / { proxy_pass http://u; } }\n}\n")
CONF_CASES = [
    ("hash-backup", "hash $arg_k;\nserver 127.0.0.1:81 backup;"),
    ("consistent-backup",
     "hash $arg_k consistent;\nserver 127.0.0.1:82;\nserver 127.0.0.1:81 backup;"),
    ("backup-before-hash", "server 127.0.0.1:81 backup;\nserver 127.0.0.1:82;\nhash $arg_k;"),
    ("bad-parameter", "hash $arg_k foo;\nserver 127.0.0.1:81;"),
    ("parameter-case", "hash $arg_k Consistent;\nserver 127.0.0.1:81;"),
    ("bad-parameter-first", "hash $arg_k foo;\nserver 127.0.0.1:81 backup;"),
    ("bracket", "hash ${arg_k;\nserver 127.0.0.1:81;"),
    ("unknown-variable", "hash $nope;\nserver 127.0.0.1:81;"),
    ("bare-dollar", "hash $;\nserver 127.0.0.1:81;"),
    ("no-key", "hash;\nserver 127.0.0.1:81;"),
    ("three-args", "hash a b c;\nserver 127.0.0.1:81;"),
    ("hash-down-weight",
     "hash $arg_k;\nserver 127.0.0.1:81 weight=2 max_conns=3 max_fails=0 down;"),
    ("random-backup", "random;\nserver 127.0.0.1:81 backup;"),
    ("random-param", "random foo;\nserver 127.0.0.1:81;"),
    ("random-two-param", "random two foo;\nserver 127.0.0.1:81;"),
    ("random-least-time", "random two least_time=header;\nserver 127.0.0.1:81;"),
    ("random-three-args", "random two least_conn x;\nserver 127.0.0.1:81;"),
    ("random-case", "random Two;\nserver 127.0.0.1:81;"),
    ("random-ok", "random two least_conn;\nserver 127.0.0.1:81 weight=2 max_conns=3 down;"),
    ("random-in-server", None),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_config_errors_as_nginx(tmp_path: Path, body: str | None) -> None:
    conf = U % body if body is not None else \
        "events {}\nhttp {\nserver { random; }\n}\n"
    write_prefix(tmp_path, conf)
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
