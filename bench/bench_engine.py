"""In-process requests per second through the engine (no sockets), tracing on and off.

Cases: ``return 200``, a static file through ``try_files``, ``content_by_lua`` hello,
rewrite+access+content passing ``ngx.ctx``, and an ``ngx.location.capture``; plus the
memory held per request while many requests sit in ``ngx.sleep``.

    python bench/bench_engine.py [--seconds 2] [--sleepers 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine, HttpRequest  # noqa: E402

CONF = """
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:8080;
        root html;
        location = /return { return 200 "hello\\n"; }
        location /static/ { try_files $uri =404; }
        location = /lua { content_by_lua_block { ngx.say("hello") } }
        location = /ctx {
            rewrite_by_lua_block { ngx.ctx.n = 76 }
            access_by_lua_block { ngx.ctx.n = ngx.ctx.n + 3 }
            content_by_lua_block { ngx.say(ngx.ctx.n) }
        }
        location = /capture {
            content_by_lua_block { local res = ngx.location.capture("/lua") ngx.print(res.body) }
        }
        location = /sleep { content_by_lua_block { ngx.sleep(1) ngx.say("woke") } }
    }
}
"""

CASES = ["/return", "/static/file.txt", "/lua", "/ctx", "/capture"]


def make_engine(tmp: Path, trace: bool) -> Engine:
    (tmp / "conf").mkdir(exist_ok=True)
    (tmp / "html" / "static").mkdir(parents=True, exist_ok=True)
    (tmp / "html" / "static" / "file.txt").write_text("static file\n")
    (tmp / "conf" / "nginx.conf").write_text(CONF)
    return Engine.load(str(tmp / "conf" / "nginx.conf"), trace=trace,
                       options={"lua_watchdog": 0, "lua_memory_mb": 0})


async def rate(engine: Engine, uri: str, seconds: float) -> float:
    req = HttpRequest("GET", uri, headers=[("Host", "localhost")], server_port=8080)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            ex = await engine.request(req)
            assert ex.response.status == 200, (uri, ex.response.status)
        n += 100
    return n / (time.perf_counter() - t0)


async def sleepers(engine: Engine, count: int) -> float:
    """Bytes of Python heap per request while `count` requests sit in ngx.sleep(1)."""
    req = HttpRequest("GET", "/sleep", headers=[("Host", "localhost")], server_port=8080)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.ensure_future(engine.request(req)) for _ in range(count)]
    await asyncio.sleep(0.5)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    await asyncio.gather(*tasks)
    return held / count


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sleepers", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engines = {t: make_engine(Path(tmp), t) for t in (False, True)}
        for e in engines.values():
            await e.start()
        print(f"{'case':<20}{'trace off req/s':>18}{'trace on req/s':>18}")
        for uri in CASES:
            row = []
            for t in (False, True):
                runs = [await rate(engines[t], uri, args.seconds / args.runs)
                        for _ in range(args.runs)]
                row.append(statistics.median(runs))
            print(f"{uri:<20}{row[0]:>18,.0f}{row[1]:>18,.0f}")
        if args.sleepers:
            per = await sleepers(engines[False], args.sleepers)
            print(f"\nPython heap per request sleeping in ngx.sleep ({args.sleepers} at once): "
                  f"{per / 1024:.1f} KiB (ngx_lua claims about 2 KB)")
        for e in engines.values():
            await e.stop()


if __name__ == "__main__":
    asyncio.run(main())
