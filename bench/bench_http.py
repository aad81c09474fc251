"""wrk against ``ngx-explore serve`` and against real nginx + ngx_lua, same configs, one run.

    python3 bench/bench_http.py [--duration 5] [--connections 50] [--soak SECONDS]

Cases (the targets in PERF.md are relative to single-worker OpenResty):
``return 200``, ``content_by_lua`` hello, rewrite+access+content passing ``ngx.ctx``,
an ``ngx.location.capture`` of a sibling, and a proxied request. Prints requests/s,
p99 latency and the ratio to nginx per case.

``--soak N`` then runs wrk for N seconds at 100 connections against ``serve`` on the Lua
hello case, sampling the server's resident memory, and checks that every request wrk
completed is in the access log. The machines are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.oracle import HAVE_NGINX, RealNginx, free_ports, write_prefix  # noqa: E402

CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log %(access_log)s;
    server {
        listen 127.0.0.1:{port};
        location = /return { return 200 "hello\n"; }
        location = /lua { content_by_lua_block { ngx.say("hello") } }
        location = /ctx {
            rewrite_by_lua_block { ngx.ctx.n = 76 }
            access_by_lua_block { ngx.ctx.n = ngx.ctx.n + 3 }
            content_by_lua_block { ngx.say(ngx.ctx.n) }
        }
        location = /capture {
            content_by_lua_block { local res = ngx.location.capture("/lua") ngx.print(res.body) }
        }
        location = /proxy { proxy_pass http://127.0.0.1:{port1}/; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { return 200 "backend\n"; }
    }
}
"""

CASES = ["/return", "/lua", "/ctx", "/capture", "/proxy"]


def conf(access_log: str = "off") -> str:
    return CONF % {"access_log": access_log}


def wrk(port: int, path: str, duration: int, connections: int) -> tuple[float, str, int]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
         f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        print(f"  ({path}: {bad.group(0)})")
    return rps, p99.group(1) if p99 else "?", total


def _wait(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


class Serve:
    """``ngx-explore serve`` in a subprocess on a temporary prefix."""

    def __init__(self, text: str) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="ngx-bench-")
        self.prefix = Path(self.tmp.name)
        self.port, self.port1 = free_ports(2)
        write_prefix(self.prefix, text.replace("{port}", str(self.port))
                     .replace("{port1}", str(self.port1)))

    def __enter__(self) -> Serve:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.cli", "serve", "-p", str(self.prefix), "-c",
             "conf/nginx.conf"], cwd=ROOT, stderr=subprocess.DEVNULL)
        _wait(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.tmp.cleanup()

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def compare(duration: int, connections: int) -> None:
    rows: dict[str, dict[str, tuple[float, str, int]]] = {}
    if HAVE_NGINX:
        with RealNginx(conf(), extra_ports=1) as n:
            for path in CASES:
                rows.setdefault(path, {})["nginx"] = wrk(n.port, path, duration, connections)
    with Serve(conf()) as s:
        for path in CASES:
            rows.setdefault(path, {})["serve"] = wrk(s.port, path, duration, connections)
    print(f"\nwrk -t1 -c{connections} -d{duration}s")
    print(f"{'case':<12}{'nginx req/s':>13}{'p99':>10}{'serve req/s':>13}{'p99':>10}{'ratio':>9}")
    for path, r in rows.items():
        n = r.get("nginx")
        s = r["serve"]
        ratio = f"{s[0] / n[0] * 100:.1f} %" if n else "-"
        print(f"{path:<12}{(n[0] if n else 0):>13,.0f}{(n[1] if n else '-'):>10}"
              f"{s[0]:>13,.0f}{s[1]:>10}{ratio:>9}")


def soak(seconds: int) -> None:
    with Serve(conf("logs/access.log")) as s:
        wrk(s.port, "/lua", 2, 100)  # warm up
        log = s.prefix / "logs" / "access.log"
        before = sum(1 for _ in log.open()) if log.exists() else 0
        samples = [s.rss_kib()]
        proc = subprocess.Popen(["wrk", "-t1", "-c100", f"-d{seconds}s",
                                 f"http://127.0.0.1:{s.port}/lua"],
                                stdout=subprocess.PIPE, text=True)
        while proc.poll() is None:
            time.sleep(max(1, seconds / 10))
            samples.append(s.rss_kib())
        out = proc.stdout.read() if proc.stdout else ""
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        time.sleep(1)
        logged = sum(1 for _ in log.open()) - before
    print(f"\nsoak: wrk -c100 -d{seconds}s on /lua: {total} requests, {logged} access-log lines")
    print("RSS (MiB) every tenth: " + " ".join(f"{kib / 1024:.0f}" for kib in samples))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--soak", type=int, default=0, help="seconds of sustained load")
    a = ap.parse_args()
    compare(a.duration, a.connections)
    if a.soak:
        soak(a.soak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
