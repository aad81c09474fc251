"""The balancers on their own: orders, failure accounting, and what the trace says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import Engine, HttpRequest
from engine.modules import upstream_balancers as ub
from engine.modules.upstream import Peer, PeerList, UpstreamGroup


def group(*weights: int, backup: int = 0, balancer: str = "round_robin") -> UpstreamGroup:
    peers = [Peer(f"p{i}", "10.0.0.1", 1000 + i, f"p{i}", weight=w) for i, w in enumerate(weights)]
    backups = PeerList("g", [Peer(f"b{i}", "10.0.0.2", 2000 + i, f"b{i}")
                             for i in range(backup)]) if backup else None
    return UpstreamGroup("g", PeerList("g", peers, single=len(peers) == 1 and not backups,
                                       next=backups), False, None, balancer)


def pick(g: UpstreamGroup, chooser=ub.get_round_robin, client: str = "127.0.0.1") -> str | None:
    sel = ub.PeerSelection(g, client, chooser)
    peer = sel.get()
    if peer is not None:
        sel.free(failed=False)
    return peer.name if peer else None


def test_smooth_weighted_round_robin():
    g = group(5, 1, 1)
    assert [pick(g) for _ in range(7)] == ["p0", "p0", "p1", "p0", "p2", "p0", "p0"]


def test_equal_weights_alternate():
    g = group(1, 1, 1)
    assert [pick(g) for _ in range(6)] == ["p0", "p1", "p2"] * 2


def test_failure_lowers_the_effective_weight_and_disables():
    g = group(4, 1)
    for p in g.primary.peers:
        p.max_fails = 2
    sel = ub.PeerSelection(g, "127.0.0.1")
    first = sel.get()
    assert first is not None and first.name == "p0"
    assert sel.free(failed=True) is None  # 1 of 2 fails: not yet disabled
    assert first.effective_weight == 2  # 4 - 4 // 2
    second = sel.get()  # the same request moves on to the other peer
    assert second is not None and second.name == "p1"
    sel.free(failed=False)
    sel2 = ub.PeerSelection(g, "127.0.0.1")
    sel2.get()
    assert sel2.free(failed=True) in (None, "upstream server temporarily disabled")


def test_disabled_peer_comes_back_after_fail_timeout(monkeypatch):
    now = [1000]
    monkeypatch.setattr(ub, "_now", lambda: now[0])
    g = group(1, 1)
    g.primary.peers[0].fail_timeout = 10
    sel = ub.PeerSelection(g, "127.0.0.1")
    assert sel.get().name == "p0"
    assert sel.free(failed=True) == "upstream server temporarily disabled"
    assert [pick(g) for _ in range(3)] == ["p1"] * 3
    now[0] += 11
    # back in the rotation, but from effective weight 0: nginx's slow start
    assert [pick(g) for _ in range(3)] == ["p1", "p1", "p0"]


def test_backup_only_when_primaries_are_unusable():
    g = group(1, 1, backup=1)
    assert pick(g) == "p0"
    for p in g.primary.peers:
        p.down = True
    sel = ub.PeerSelection(g, "127.0.0.1")
    peer = sel.get()
    assert peer is not None and peer.name == "b0"
    assert sel.reason.startswith("backup:")


def test_no_live_upstreams():
    g = group(1)
    g.primary.peers[0].down = True
    assert pick(g) is None


def test_ip_hash_first_three_octets():
    g = group(1, 1, 1, balancer="ip_hash")
    # hash(127.0.0) = 4040 -> 4040 % 3 = 2, as real nginx picks for 127.0.0.1
    assert pick(g, ub.get_ip_hash, "127.0.0.1") == "p2"
    assert pick(g, ub.get_ip_hash, "127.0.0.200") == "p2"  # the last octet is ignored
    assert {pick(g, ub.get_ip_hash, f"10.{i}.0.1") for i in range(20)} == {"p0", "p1", "p2"}


def test_ip_hash_rehashes_around_a_down_peer():
    g = group(1, 1, 1, balancer="ip_hash")
    g.primary.peers[2].down = True
    assert pick(g, ub.get_ip_hash, "127.0.0.1") in ("p0", "p1")


def test_least_conn_prefers_idle_peers():
    g = group(1, 1, balancer="least_conn")
    busy = ub.PeerSelection(g, "127.0.0.1", ub.get_least_conn)
    first = busy.get()
    assert first is not None
    others = {pick(g, ub.get_least_conn) for _ in range(3)}
    assert others == {"p1" if first.name == "p0" else "p0"}


CONF = """
events {}
http {
    upstream back { server 127.0.0.1:18082 weight=2; server 127.0.0.1:18083; }
    upstream gone { server 127.0.0.1:18082 down; }
    server { listen 127.0.0.1:18080; server_name localhost;
             location /up/ { proxy_pass http://back/; }
             location /gone { proxy_pass http://gone; }
             location /ie/ { proxy_intercept_errors on; error_page 404 = /up/again;
                             add_header X-T "$upstream_addr|$upstream_status|$upstream_response_time";
                             proxy_pass http://127.0.0.1:18082/missing; } }
    server { listen 127.0.0.1:18082; location / { return 200 "b2\\n"; } location /missing { return 404; } }
    server { listen 127.0.0.1:18083; location / { return 200 "b3\\n"; } }
}
"""


@pytest.fixture
def engine(tmp_path: Path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "conf/nginx.conf").write_text(CONF)
    return Engine.load(str(tmp_path / "conf/nginx.conf"), prefix=str(tmp_path) + "/")


def ask(engine: Engine, target: str):
    return asyncio.run(engine.request(HttpRequest("GET", target, headers=[("Host", "localhost")],
                                                  server_port=18080)))


def test_trace_names_peer_reason_and_attempt(engine):
    ex = ask(engine, "/up/x")
    assert ex.response.text == "b2\n"
    ups = [e for e in ex.trace if e.kind == "upstream"]
    assert len(ups) == 1
    d = ups[0].data
    assert d["peer"] == "127.0.0.1:18082" and d["attempt"] == 1 and d["upstream"] == "back"
    assert "round robin" in d["reason"] and "in-process" in d["via"]
    nested = [e for e in ex.trace if e.kind == "upstream_trace"]
    assert nested and nested[0].children  # the backend's own trace, nested


def test_no_live_upstreams_is_logged(engine):
    ex = ask(engine, "/gone")
    assert ex.response.status == 502
    errors = [r for r in ex.logs if r.level == "error"]
    assert [r.message for r in errors] == ["no live upstreams while connecting to upstream"]
    assert 'upstream: "http://gone/gone"' in errors[0].line


def test_upstream_variables_across_an_internal_redirect(engine):
    ex = ask(engine, "/ie/x")
    assert ex.response.status == 200
    # after error_page the /up/ location answers: no X-T there, so check the variables
    states = [e for e in ex.trace if e.kind == "upstream"]
    assert [s.data["peer"] for s in states] == ["127.0.0.1:18082", "127.0.0.1:18082"]
