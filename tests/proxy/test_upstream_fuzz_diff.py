"""Seeded randomized differential test of upstream failover and the ``$upstream_*`` variables.

One real nginx serves ``GROUPS_COUNT`` generated ``upstream`` blocks (``uN``), each with
its own locations ``/gN/...`` proxying to it, so peer state (round-robin position,
fails, disabled peers) never leaks from one group to another. A group's peers are a mix
of working Python backends (:class:`~tests.proxy.test_proxy_fuzz_diff.Backend`, one
per behaviour: 200, 403, 404, 429, 500, 502, 503, 504, a header line holding a NUL),
one closing without a response (:class:`~tests.proxy.test_proxy_faults.RawServer`), one
that never answers (a socket listening but never accepting: ``proxy_read_timeout``),
refused ports (a bound socket that never listens), with
random ``weight``, ``max_fails``, ``fail_timeout`` (long: the state stays put within a
run), ``down`` and ``backup``, under round robin, ``least_conn``, ``ip_hash``, ``hash
$arg_k`` (consistent or not) or ``random`` (with one live peer: its choice is random).
Locations pick ``proxy_next_upstream`` conditions, ``_tries``, ``proxy_intercept_errors``
with ``error_page``, and show ``$upstream_addr``, ``$upstream_status`` and
``$upstream_response_length``, ``$upstream_bytes_sent`` and ``$upstream_http_x_peer`` in
``add_header ... always``. Both sides talk to the
same backends; each group's requests (GET, HEAD, POST with a body: not idempotent) go
in the same order to both, which keep their own peer state. Replies and error-log lines
(level info) must be the same; a divergence prints the seed, the group's blocks and the
request. Set UPSTREAM_FUZZ_SEED to explore other seeds.

Left out: a peer answering with no status line (nginx relays its bytes as an HTTP/0.9
reply; the engine answers 502, see tests/proxy/test_proxy_faults.py), and
``$upstream_bytes_received`` (nginx counts what its first recv() got, the body's start
too: it depends on how the peer's bytes arrive).
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

import pytest

from tests.differential import Pair, Reply, Req
from tests.fuzzing import assert_case_count, assert_group_as_nginx, config_verdicts
from tests.oracle import requires_nginx
from tests.proxy.test_proxy_faults import RawServer
from tests.proxy.test_proxy_fuzz_diff import Backend

SEED = int(os.environ.get("UPSTREAM_FUZZ_SEED", "20261127"))
GROUPS_COUNT = 40
REQUESTS_PER_GROUP = 9

#: The peers a group may hold: working backends answering a status (several 200 ones, so
#: a group can have more than one), one sending a header with a NUL, one closing without
#: a response, one never answering, and refused ports.
STATUSES = {"ok0": 200, "ok1": 200, "ok2": 200, "ok3": 200, "s403": 403, "s404": 404,
            "s429": 429, "s500": 500, "s502": 502, "s503": 503, "s504": 504}
KINDS = list(STATUSES) + ["nul", "close", "hang", "refused0", "refused1", "refused2"]
NEXT = ["error", "timeout", "invalid_header", "http_500", "http_502", "http_503", "http_504",
        "http_403", "http_404", "http_429", "non_idempotent"]
BALANCERS = ["", "", "", "least_conn;", "ip_hash;", "hash $arg_k;", "hash $arg_k consistent;",
             "random;"]
ERROR_PAGES = ["error_page 500 502 503 504 /ep/err;", "error_page 404 = @fb;",
               "error_page 502 =200 /ep/ok;", "error_page 500 504 = @fb;",
               "error_page 404 502 503 /ep/err;"]


def _spec(status: int, extra: list[tuple[str, str]] | None = None) -> list[dict]:
    """A one-spec :class:`Backend` answer: the status, and its own address as a header."""
    return [{"status": status, "headers": [("X-Peer", "{B}")] + (extra or []),
             "framing": "length", "close": False, "extra": b""}]


def _server_line(rng: random.Random, kind: str, balancer: str, live: bool) -> str:
    """``server {kind} params;`` with parameters the balancer accepts; a ``live`` one is
    neither down nor a backup (a group needs a primary server)."""
    params = []
    if rng.random() < 0.3:
        params.append(f"weight={rng.randint(1, 3)}")
    if rng.random() < 0.4:
        params.append(f"max_fails={rng.randint(0, 3)}")
    params.append(rng.choice(["fail_timeout=300s", "fail_timeout=600s"]))  # never ends here
    if not live and rng.random() < 0.25:
        params.append("down")
    elif not live and balancer in ("", "least_conn;") and rng.random() < 0.15:
        params.append("backup")
    return " ".join(["server", "{" + kind + "}"] + params) + ";"


def gen_group(rng: random.Random, n: int) -> tuple[str, str, list[Req]]:
    """``upstream uN``, its locations, and the requests sent to them."""
    balancer = rng.choice(BALANCERS)
    kinds = rng.sample(KINDS, rng.randint(1, 4))
    if balancer == "random;":  # one usable peer: the others down
        servers = [f"server {{{kinds[0]}}};"] + [f"server {{{k}}} down;" for k in kinds[1:]]
    else:
        servers = [_server_line(rng, k, balancer, i == 0) for i, k in enumerate(kinds)]
        rng.shuffle(servers)
    upstream = f"upstream u{n} {{ {balancer} {' '.join(servers)} }}".replace("  ", " ")
    locations = []
    for i in range(2):
        body = ['add_header X-U "$upstream_addr|$upstream_status|'
                '$upstream_response_length" always;', 'add_header X-V "$upstream_bytes_sent|$upstream_http_x_peer" always;', "proxy_connect_timeout 1s;",
                "proxy_read_timeout 100ms;"]
        if rng.random() < 0.7:
            picked = rng.sample(NEXT, rng.randint(1, 4))
            body.append("proxy_next_upstream " + (" ".join(picked) if rng.random() < 0.9
                                                  else "off") + ";")
        if rng.random() < 0.3:
            body.append(f"proxy_next_upstream_tries {rng.randint(0, 3)};")
        if rng.random() < 0.4:
            body.append("proxy_intercept_errors on;")
            body += rng.sample(ERROR_PAGES, rng.randint(1, 2))
        elif rng.random() < 0.2:
            body.append(rng.choice(ERROR_PAGES))
        body.append(f"proxy_pass http://u{n};")
        locations.append(f"location /g{n}/l{i}/ {{ {' '.join(body)} }}")
    reqs = []
    for _ in range(REQUESTS_PER_GROUP):
        method = rng.choice(["GET", "GET", "GET", "POST", "HEAD"])
        target = f"/g{n}/l{rng.randrange(2)}/x?k={rng.randrange(6)}"
        body = b"data=1" if method == "POST" else b""
        reqs.append(Req(method, target, [("Host", "localhost")], body))
    return upstream, "\n        ".join(locations), reqs


_SHOWN = ('add_header X-U "$upstream_addr|$upstream_status|$upstream_response_length" always; '
          'add_header X-V "$upstream_bytes_sent|$upstream_http_x_peer" always;')
#: Divergences the generator found once, kept whatever the seed: ``$upstream_bytes_sent``
#: of a failed attempt that got the request (not of a refused one), and
#: ``$upstream_http_*`` holding the last peer's header lines (a retried status's, or those
#: read before an invalid one) until another peer is tried.
KEPT = (f"upstream u{GROUPS_COUNT} {{ server {{s403}} max_fails=1 fail_timeout=300s; "
        "server {nul} max_fails=0; server {refused0} max_fails=0; }",
        f"location /g{GROUPS_COUNT}/a/ {{ {_SHOWN} proxy_next_upstream error http_403; "
        f"proxy_pass http://u{GROUPS_COUNT}; }}\n"
        f"        location /g{GROUPS_COUNT}/b/ {{ {_SHOWN} proxy_next_upstream error "
        f"invalid_header; proxy_pass http://u{GROUPS_COUNT}; }}",
        [Req(m, f"/g{GROUPS_COUNT}/{loc}/x", [("Host", "localhost")], b"d" if m == "POST" else b"")
         for m, loc in [("GET", "a"), ("GET", "b"), ("POST", "b"), ("GET", "a"), ("GET", "b"),
                        ("POST", "a"), ("GET", "b")]])


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config template (``{kind}``: a peer's address) and the groups of cases
    (label, the group's upstream and locations, requests)."""
    rng = random.Random(SEED)
    made = [gen_group(rng, n) for n in range(GROUPS_COUNT)]
    conf = ("error_log logs/error.log info;\nevents {}\nhttp {\n    access_log off;\n"
            + "".join(f"    {m[0]}\n" for m in made + [KEPT])
            + "    server {\n        listen 127.0.0.1:{port};\n        server_name localhost;\n"
            '        location /ep/ { return 200 "ep $uri $status $upstream_status\\n"; }\n'
            '        location @fb { return 200 "fb $status $upstream_addr\\n"; }\n'
            + "".join(f"        {m[1]}\n" for m in made + [KEPT]) + "    }\n}\n")
    made.append(KEPT)  # its own label: u{GROUPS_COUNT}
    return conf, [(f"u{n}", f"{m[0]}\n{m[1]}", m[2]) for n, m in enumerate(made)]


CONF, GROUPS = build()


class Peers:
    """The backends every group's peers are: one per kind, on ports both sides reach."""

    def __init__(self) -> None:
        self.servers: list = [Backend(_spec(s)) for s in STATUSES.values()]
        self.servers.append(Backend(_spec(200, [("X-Bad\x00Name", "v")])))
        self.servers.append(RawServer("close"))
        self.sockets = []
        for i in range(4):  # listening, never accepting: connected, never answered (hang);
            s = socket.socket()  # bound, never listening: connect() is refused
            s.bind(("127.0.0.1", 0))
            if i == 0:
                s.listen(64)
            self.sockets.append(s)
        ports = [s.port for s in self.servers] + [s.getsockname()[1] for s in self.sockets]
        self.addr = {k: f"127.0.0.1:{p}" for k, p in zip(KINDS, ports)}

    def fill(self, text: str) -> str:
        for kind, addr in self.addr.items():
            text = text.replace("{" + kind + "}", addr)
        return text

    def close(self) -> None:
        for s in self.servers + self.sockets:
            s.close()


@pytest.fixture(scope="module")
def fuzz_pair():  # type: ignore[no-untyped-def]
    peers = Peers()
    try:
        with Pair(peers.fill(CONF)) as p:
            p.peers = peers
            yield p
    finally:
        peers.close()


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 200, 500)


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, fuzz_pair.peers.fill(block), reqs,
                          shown=_show)


def _show(reply: Reply) -> str:
    """A reply in a divergence report: status, the headers but Date and Server, body."""
    heads = [(k, v) for k, v in reply.headers if k.lower() not in ("date", "server")]
    return f"{reply.status} {heads} {reply.body!r}"


# --- bad configurations --------------------------------------------------------------------

#: (the upstream block's body, the location's directives): nginx -t and our loader agree.
BAD = [
    ("server 127.0.0.1:1 weight=0;", ""), ("server 127.0.0.1:1 weight=x;", ""),
    ("server 127.0.0.1:1 max_fails=-1;", ""), ("server 127.0.0.1:1 fail_timeout=abc;", ""),
    ("server 127.0.0.1:1 slow;", ""), ("ip_hash; server 127.0.0.1:1 backup;", ""),
    ("hash $arg_k; server 127.0.0.1:1 backup;", ""), ("random; server 127.0.0.1:1 backup;", ""),
    ("hash; server 127.0.0.1:1;", ""), ("hash $arg_k maybe; server 127.0.0.1:1;", ""),
    ("least_conn x; server 127.0.0.1:1;", ""), ("random two least_time=header; server 127.0.0.1:1;", ""),
    ("server 127.0.0.1:1 backup;", ""), ("", ""), ("server 127.0.0.1:1; ip_hash;", ""),
    ("server 127.0.0.1:1;", "proxy_next_upstream http_418;"),
    ("server 127.0.0.1:1;", "proxy_next_upstream off error;"),
    ("server 127.0.0.1:1;", "proxy_next_upstream_tries x;"),
    ("server 127.0.0.1:1;", "proxy_next_upstream_tries -1;"),
    ("server 127.0.0.1:1;", "proxy_connect_timeout 0x;"),
    ("server 127.0.0.1:1;", "proxy_intercept_errors maybe;"),
    ("server 127.0.0.1:1 down backup;", ""), ("server 127.0.0.1:1 weight=2 weight=3;", ""),
]


@requires_nginx
@pytest.mark.parametrize("upstream,location", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_same_config_verdict_as_nginx(tmp_path: Path, upstream: str, location: str) -> None:
    conf = ("events {}\nhttp {\nupstream u {\n" + upstream + "\n}\nserver {\n"
            "listen 127.0.0.1:8999;\nlocation / {\n" + location + "\nproxy_pass http://u;\n}\n}\n}\n")
    ours, real = config_verdicts(tmp_path, conf)
    assert ours == real, conf
