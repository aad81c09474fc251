"""The samples' tour over sockets: real nginx on one set of ports, ``ngx-explore serve``'s
listener on another, every tour request to both (proxies, two-hop X-Forwarded-For and
load balancing included), replies compared with the ports mapped back."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from engine import Engine
from engine.server import Server
from tests.differential import parse_reply
from tests.oracle import HAVE_NGINX, LOAD_MODULES, NGINX, free_ports, spell_port
from tests.samples.test_samples import CASES, PORTS, VOLATILE_BODIES, _copy

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")


def _wait(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server did not start")


class TourServers:
    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="ngx-tour-conf-")
        base = Path(self.tmp.name)
        base.chmod(0o755)
        ports = free_ports(2 * len(PORTS))
        self.real_ports = dict(zip(PORTS, ports[:len(PORTS)]))
        self.our_ports = dict(zip(PORTS, ports[len(PORTS):]))
        _copy(base / "real", self.real_ports)
        _copy(base / "ours", self.our_ports)
        self.proc = subprocess.Popen(
            [NGINX, "-p", f"{base / 'real'}/", "-c", "conf/nginx.conf",
             "-g", LOAD_MODULES + " daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self.real_ports[8080])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        engine = Engine.load(str(base / "ours" / "conf" / "nginx.conf"),
                             prefix=f"{base / 'ours'}/", trace=False)
        self.server = Server()
        asyncio.run_coroutine_threadsafe(self.server.start(engine), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(False), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.proc.terminate()
        self.proc.wait(5)
        self.tmp.cleanup()


@pytest.fixture(scope="module")
def tour():
    t = TourServers()
    yield t
    t.close()


def _ask(port: int, spec: dict) -> bytes:
    url = urlsplit(spec["url"])
    target = url.path + (f"?{url.query}" if url.query else "")
    body = spec["body"].encode()
    head = [f"{spec['method']} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    head += [f"{k}: {v}" for k, v in spec["headers"]]
    if body:
        head.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def _canonical(raw: bytes, mapping: dict[int, int]) -> dict:
    for canonical, port in mapping.items():
        raw = spell_port(raw, port, str(canonical).encode())
    return parse_reply(raw).comparable()


@pytest.mark.parametrize("name,spec", CASES, ids=[f"tour:{c[0]}" for c in CASES])
def test_tour_over_sockets(tour, name: str, spec: dict) -> None:
    want = _canonical(_ask(tour.real_ports[8080], spec), tour.real_ports)
    got = _canonical(_ask(tour.our_ports[8080], spec), tour.our_ports)
    if urlsplit(spec["url"]).path in VOLATILE_BODIES:
        want.pop("body"), got.pop("body")
    assert got == want
