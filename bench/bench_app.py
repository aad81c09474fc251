"""How fast the explorer starts, and whether it keeps up with live traffic.

1. Start-up: a fresh process imports the app, runs it headless on the sample config and
   reports when the first frame was composed and when the engine's tree was shown,
   measured from the process's own start (``/proc/self/stat``), median of N runs.
2. Throughput: the app runs headless with its live listener on a free port while a
   separate client process sends a steady rate of keep-alive requests (a Lua handler
   with ngx.ctx plus an access log line each) for DURATION seconds. We check that every
   request was counted in the requests pane, and report the event loop's lag (p50/p95),
   the log lines received and the process's memory before and after.

    python bench/bench_app.py [--runs 5] [--rate 400] [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _process_start() -> float:
    """Wall-clock time this process started (Linux), else now."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- 1. start-up ----------------------------------------------------------------------

def startup_child(conf: str) -> None:
    t0 = _process_start()
    from explorer.app import NgxExploreApp

    t_import = time.time()

    async def run() -> dict[str, float]:
        app = NgxExploreApp(conf, listen=False, watch=False)
        async with app.run_test(size=(160, 50)) as pilot:
            t_frame = time.time()
            while app.engine is None:
                await pilot.pause(0.005)
            await pilot.pause()
            t_tree = time.time()
        return {"import": t_import - t0, "first_frame": t_frame - t0, "tree": t_tree - t0}

    print(json.dumps(asyncio.run(run())))


def bench_startup(conf: str, runs: int) -> dict[str, float]:
    results = []
    env = dict(os.environ, NGX_EXPLORE_STATE_DIR=tempfile.mkdtemp())
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--startup-child", conf],
                             capture_output=True, text=True, env=env, timeout=120)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


# -- 2. throughput --------------------------------------------------------------------

CLIENT = textwrap.dedent("""
    import asyncio, sys, time, httpx
    port, rate, duration, conns = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), 8
    async def main():
        sent = ok = 0
        limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=10) as client:
            start = time.perf_counter()
            async def worker(i):
                nonlocal sent, ok
                n = 0
                while True:
                    due = start + (n * conns + i) / rate
                    now = time.perf_counter()
                    if due - start > duration:
                        return
                    if due > now:
                        await asyncio.sleep(due - now)
                    sent += 1
                    r = await client.get(f"/bench?n={n}", headers={"Host": "bench"})
                    ok += r.status_code == 200
                    n += 1
            await asyncio.gather(*(worker(i) for i in range(conns)))
            print(sent, ok, round(time.perf_counter() - start, 2))
    asyncio.run(main())
""")

BENCH_CONF = """\
events {}
http {
    access_log logs/access.log;
    server {
        listen 127.0.0.1:%d;
        server_name bench;
        location /bench {
            access_by_lua_block { ngx.ctx.user = ngx.var.arg_n }
            content_by_lua_block { ngx.say("hello ", ngx.ctx.user) }
        }
    }
}
"""


async def bench_throughput(rate: float, duration: float) -> dict[str, float]:
    from explorer.app import NgxExploreApp
    from explorer.widgets.log_view import LogView
    from explorer.widgets.requests_list import RequestsList

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp())
    (tmp / "logs").mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(BENCH_CONF % port)
    app = NgxExploreApp(str(conf), str(tmp), listen=True, watch=False)
    lags: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while app.engine is None:
            await pilot.pause(0.01)
        await pilot.press("f8")  # the logs pane visible and rendering
        rss_before = _rss_mib()
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT, str(port), str(rate), str(duration),
            stdout=asyncio.subprocess.PIPE)
        loop = asyncio.get_running_loop()
        done = asyncio.ensure_future(client.communicate())
        while not done.done():
            t = loop.time()
            await asyncio.sleep(0.05)
            lags.append((loop.time() - t - 0.05) * 1000)
        out, _ = done.result()
        sent, ok, elapsed = out.decode().split()
        await pilot.pause(0.3)
        requests = app.main.query_one(RequestsList)
        logs = app.main.query_one(LogView)
        requests.flush()
        logs.flush()
        rss_after = _rss_mib()
        lags.sort()
        return {
            "port": port, "sent": int(sent), "ok": int(ok), "seconds": float(elapsed),
            "rate": int(sent) / float(elapsed), "counted": requests.total,
            "kept_rows": len(requests.exchanges), "log_lines_received": logs.received,
            "log_ring": len(logs.ring), "lag_p50_ms": lags[len(lags) // 2],
            "lag_p95_ms": lags[int(len(lags) * 0.95)], "lag_max_ms": lags[-1],
            "rss_before_mib": rss_before, "rss_after_mib": rss_after,
        }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rate", type=float, default=400)
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--conf", default=str(ROOT / "samples" / "conf" / "nginx.conf"))
    p.add_argument("--startup-child", metavar="CONF")
    p.add_argument("--skip-startup", action="store_true")
    args = p.parse_args()
    if args.startup_child:
        startup_child(args.startup_child)
        return 0
    os.environ.setdefault("NGX_EXPLORE_STATE_DIR", tempfile.mkdtemp())
    conf = args.conf if Path(args.conf).exists() else str(ROOT / "explorer/demo/nginx.conf")
    if not args.skip_startup:
        s = bench_startup(conf, args.runs)
        print(f"start-up ({Path(conf).name}, median of {args.runs}): "
              f"imports {s['import'] * 1000:.0f} ms, first frame {s['first_frame'] * 1000:.0f} ms, "
              f"config tree shown {s['tree'] * 1000:.0f} ms")
    t = asyncio.run(bench_throughput(args.rate, args.duration))
    print(f"throughput: {t['sent']} requests in {t['seconds']:.1f} s ({t['rate']:.0f}/s), "
          f"{t['ok']} ok, {t['counted']} counted by the requests pane "
          f"({t['kept_rows']} rows kept), {t['log_lines_received']} log lines "
          f"({t['log_ring']} in the ring)")
    print(f"event loop lag: p50 {t['lag_p50_ms']:.1f} ms, p95 {t['lag_p95_ms']:.1f} ms, "
          f"max {t['lag_max_ms']:.1f} ms; RSS {t['rss_before_mib']:.0f} MiB -> "
          f"{t['rss_after_mib']:.0f} MiB")
    return 0 if t["counted"] == t["sent"] == t["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
