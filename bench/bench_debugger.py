"""What the debugger costs a request: in-process requests per second, with and without it.

Why: the debugger must cost nothing until a breakpoint exists (no hook, JIT untouched),
and its price once armed (a line hook in every Lua function, the JIT off) should be known.
Each case serves the same ``content_by_lua`` handler sequentially through
``Engine.request`` (no sockets) and reports the median of 5 runs:

* ``none``: no debugger attached
* ``attached``: a debugger attached, no breakpoint (should equal ``none``)
* ``armed``: one breakpoint armed in another location's handler (never hit)

for a hello-world handler and for a busier one (a loop of 200 Lua calls), with the
default watchdog (its count hook already turns the JIT off) and with the watchdog off.

    python3 bench/bench_debugger.py [REQUESTS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine, HttpRequest  # noqa: E402
from engine.lua.debugger import Debugger  # noqa: E402

CONF = """\
events {}
http {
    server {
        listen 8080;
        location /hello {
            content_by_lua_block {
                ngx.say("hello")
            }
        }
        location /busy {
            content_by_lua_block {
                local function sq(x) return x * x end
                local total = 0
                for i = 1, 200 do
                    total = total + sq(i)
                end
                ngx.say(total)
            }
        }
        location /elsewhere {
            content_by_lua_block {
                local never = "reached"
                ngx.say(never)
            }
        }
    }
}
"""
ELSEWHERE_LINE = CONF.splitlines().index('                local never = "reached"') + 1


async def serve(engine: Engine, uri: str, n: int) -> float:
    req = HttpRequest("GET", uri, headers=[("Host", "x")])
    for _ in range(50):  # warm-up: code cache, first-run costs
        await engine.request(req, trace=False)
    t0 = time.perf_counter()
    for _ in range(n):
        await engine.request(req, trace=False)
    return n / (time.perf_counter() - t0)


def run_once(conf: str, prefix: str, uri: str, mode: str, watchdog: bool, n: int) -> float:
    options = None if watchdog else {"lua_watchdog": 0, "lua_memory_mb": 0}
    engine = Engine.load(conf, prefix=prefix, trace=False, options=options)
    if mode != "none":
        debugger = Debugger()
        engine.debugger = debugger
        if mode == "armed":
            bp = debugger.add_breakpoint("nginx.conf", ELSEWHERE_LINE)
            assert bp.verified, bp.message
    return asyncio.run(serve(engine, uri, n))


def measure(conf: str, prefix: str, uri: str, watchdog: bool, n: int) -> dict[str, float]:
    """Median rate per mode; the modes take turns, so drifting machine load hits all."""
    modes = ("none", "attached", "armed")
    runs: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(5):
        for m in modes:
            runs[m].append(run_once(conf, prefix, uri, m, watchdog, n))
    return {m: statistics.median(r) for m, r in runs.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "conf").mkdir()
        (Path(root) / "logs").mkdir()
        conf = Path(root) / "conf" / "nginx.conf"
        conf.write_text(CONF)
        print(f"{'handler':8} {'watchdog':9} {'none':>10} {'attached':>10} {'armed':>10}"
              f" {'armed cost':>11}")
        for uri in ("/hello", "/busy"):
            for watchdog in (True, False):
                rates = measure(str(conf), root, uri, watchdog, n)
                cost = 1 - rates["armed"] / rates["none"]
                print(f"{uri[1:]:8} {'on' if watchdog else 'off':9} "
                      + " ".join(f"{rates[m]:10.0f}" for m in ("none", "attached", "armed"))
                      + f" {cost:10.1%}")
        print("(requests per second, in-process, sequential; median of 5 runs of "
              f"{n} requests)")


if __name__ == "__main__":
    main()
