"""Every request of the tour (samples/tour.json) on real nginx + ngx_lua and on the engine.

The sample config listens on fixed ports (8080-8092); the test copies the samples to a
temporary prefix with each port mapped to a free one, starts real nginx there, loads the
engine from an identical copy, and compares what a client gets.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from engine import Engine
from tests.differential import Reply, Req, parse_reply
from tests.oracle import LOAD_MODULES, NGINX, free_ports, requires_nginx

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PORTS = (8080, 8081, 8082, 8091, 8092)

#: Responses whose bodies carry per-process values (pids, client ports, clocks):
#: compared on status and headers only.
VOLATILE_BODIES = {"/vars", "/time"}


def _tour() -> list[tuple[str, dict]]:
    import json
    data = json.loads((SAMPLES / "tour.json").read_text())
    out = []
    for s in data["samples"]:
        for i, r in enumerate(s["requests"]):
            out.append((f"{s['concept']}.{i + 1} {r['method']} {urlsplit(r['url']).path}", r))
    return out


CASES = _tour()


def _copy(dest: Path, mapping: dict[int, int]) -> None:
    shutil.copytree(SAMPLES, dest, copy_function=shutil.copy2)
    for conf in (dest / "conf").rglob("*.conf"):
        text = conf.read_text()
        for old, new in mapping.items():
            text = re.sub(rf"(?<=:){old}\b", str(new), text)
        conf.write_text(text)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (dest / "logs").mkdir(exist_ok=True)
    (dest / "logs").chmod(0o777)


class Tour:
    def __init__(self, tmp: Path) -> None:
        self.mapping = dict(zip(PORTS, free_ports(len(PORTS))))
        self.real_prefix = tmp / "real"
        self.engine_prefix = tmp / "engine"
        _copy(self.real_prefix, self.mapping)
        _copy(self.engine_prefix, self.mapping)
        self.proc = subprocess.Popen(
            [NGINX, "-p", f"{self.real_prefix}/", "-c", "conf/nginx.conf",
             "-g", LOAD_MODULES + " daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait()
        self.loop = asyncio.new_event_loop()
        self.engine = Engine.load(str(self.engine_prefix / "conf/nginx.conf"),
                                  prefix=f"{self.engine_prefix}/")
        self.loop.run_until_complete(self.engine.start())

    def _wait(self) -> None:
        import socket
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode())  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.mapping[8080]), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("nginx did not start")

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.stop())
        self.loop.close()
        self.proc.terminate()
        self.proc.wait(5)

    def req(self, spec: dict) -> Req:
        url = urlsplit(spec["url"])
        target = url.path + (f"?{url.query}" if url.query else "")
        headers = [("Host", "localhost")] + [tuple(h) for h in spec["headers"]]
        return Req(spec["method"], target, headers, spec["body"].encode())

    def real(self, spec: dict) -> Reply:
        import socket
        with socket.create_connection(("127.0.0.1", self.mapping[8080]), timeout=5) as s:
            s.sendall(self.req(spec).raw())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return parse_reply(data)

    def ours(self, spec: dict) -> Reply:
        ex = self.loop.run_until_complete(
            self.engine.request(self.req(spec).engine_request(self.mapping[8080])))
        r = ex.response
        return Reply(r.status, r.reason, list(r.headers), r.body)


@pytest.fixture(scope="module")
def tour():
    import tempfile
    with tempfile.TemporaryDirectory(prefix="ngx-tour-") as tmp:
        Path(tmp).chmod(0o755)  # nginx's workers (user nobody) must reach the prefix
        t = Tour(Path(tmp))
        yield t
        t.close()


def _needs(spec: dict) -> list:
    from engine.modules import BUILTIN_MODULES
    if spec.get("socket_only"):
        return [pytest.mark.skip(reason="a listener limit: checked over a socket in "
                                        "tests/conformance/test_tour_conformance.py")]
    path = urlsplit(spec["url"]).path
    if path.startswith(("/realip", "/lb/")) and not any("proxy" in m for m in BUILTIN_MODULES):
        return [pytest.mark.skip(reason="needs the proxy module (engine/modules/proxy.py)")]
    return []


@requires_nginx
@pytest.mark.parametrize("name,spec", [pytest.param(n, s, marks=_needs(s)) for n, s in CASES],
                         ids=[c[0] for c in CASES])
def test_tour_request_same_as_nginx(tour, name, spec):
    real, ours = tour.real(spec), tour.ours(spec)
    path = urlsplit(spec["url"]).path
    a, b = real.comparable(), ours.comparable()
    if path in VOLATILE_BODIES:
        a.pop("body"), b.pop("body")
        assert real.body.count(b"\n") == ours.body.count(b"\n")
    assert b == a


def test_every_concept_has_a_request():
    import json
    data = json.loads((SAMPLES / "tour.json").read_text())
    assert [s["concept"] for s in data["samples"]] == list(range(1, 16))
    assert all(s["requests"] for s in data["samples"])
