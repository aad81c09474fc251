"""wrk against ``ngx-explore serve`` and against real nginx, same config, same run.

    python3 bench/bench_http.py [--duration 5] [--connections 50]

Prints requests/s and p99 latency for real nginx, for ``serve`` with tracing off (the
default) and with ``--trace``, and the ratio to nginx. The machines are noisy: compare
figures from one run, not across runs.
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

from tests.oracle import HAVE_NGINX, RealNginx, free_port, write_prefix  # noqa: E402

CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port};
        location / { return 200 "hello\n"; }
    }
}
"""


def wrk(port: int, duration: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
         f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        print(f"  (wrk reported: {errors.group(0)})")
    return rps, p99.group(1) if p99 else "?"


def _wait(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def bench_serve(duration: int, connections: int, trace: bool) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="ngx-bench-") as tmp:
        port = free_port()
        write_prefix(Path(tmp), CONF.replace("{port}", str(port)))
        args = [sys.executable, "-m", "explorer.cli", "serve", "-p", tmp, "-c",
                "conf/nginx.conf"] + (["--trace"] if trace else [])
        proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            _wait(port)
            return wrk(port, duration, connections)
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    a = ap.parse_args()
    rows: list[tuple[str, float, str]] = []
    if HAVE_NGINX:
        with RealNginx(CONF) as n:
            rows.append(("real nginx (1 worker)", *wrk(n.port, a.duration, a.connections)))
    rows.append(("ngx-explore serve", *bench_serve(a.duration, a.connections, False)))
    rows.append(("ngx-explore serve --trace", *bench_serve(a.duration, a.connections, True)))
    base = rows[0][1] if HAVE_NGINX else None
    print(f"wrk -t1 -c{a.connections} -d{a.duration}s, return 200 \"hello\\n\"")
    print(f"{'server':28} {'req/s':>10} {'p99':>10} {'vs nginx':>9}")
    for name, rps, p99 in rows:
        ratio = f"{rps / base * 100:.1f} %" if base else "-"
        print(f"{name:28} {rps:10.0f} {p99:>10} {ratio:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
