"""Micro-benchmark of the request-free ngx_lua API families, timed inside one VM.

Why inside Lua: what matters is the cost a handler pays per call, including the
Lua->Python crossing, so each figure is a Lua loop of N calls timed with os.clock()
(CPU time), reported in microseconds per call (median of 5 runs).

    python3 bench/bench_lua_api.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lupa.luajit21  # noqa: E402

from engine.lua import cjson, regex, shdict, string, time as ltime  # noqa: E402

N = 100_000

CASES = {
    "ngx.re.match (2 captures, 'jo')":
        'local m = ngx.re.match("hello 1234-5678 world", "(\\\\d+)-(\\\\d+)", "jo")',
    "ngx.re.find ('jo')": 'local a, b = ngx.re.find("hello 1234-5678 world", "\\\\d+", "jo")',
    "ngx.re.gsub template (3 matches)":
        'local s = ngx.re.gsub("a1b2c3", "(\\\\d)", "<$1>", "jo")',
    "cjson.encode (small object)":
        'local s = cjson.encode(obj)',
    "cjson.decode (small object)":
        'local t = cjson.decode(json)',
    "shdict:set": 'dict:set("key", "value")',
    "shdict:get": 'local v = dict:get("key")',
    "ngx.md5": 'local h = ngx.md5("hello world")',
    "ngx.escape_uri": 'local e = ngx.escape_uri("a b&c=d/é")',
    "ngx.now": 'local t = ngx.now()',
}


def main() -> None:
    lua = lupa.luajit21.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                   register_eval=False)
    ngx = lua.table()
    lua.globals().ngx = ngx
    clock = ltime.Clock()
    ltime.install(lua, ngx, clock)
    regex.install(lua, ngx)
    cjson.install(lua, ngx)
    string.install(lua, ngx)
    zones = shdict.SharedDicts()
    zones.add(shdict.SharedDictZone("bench", 10 * 1024 * 1024))
    shdict.install(lua, ngx, zones, clock)
    lua.execute(b'''
        cjson = require "cjson"
        obj = {id = 12345, name = "ngx-explore", tags = {"a", "b", "c"}, ok = true,
               nested = {x = 1.5, y = "z"}}
        json = cjson.encode(obj)
        dict = ngx.shared.bench
        dict:set("key", "value")
    ''')
    print(f"{'operation':40s} {'us/call':>8s}")
    for name, body in CASES.items():
        fn = lua.execute((
            "return function(n) local c = os.clock() for i = 1, n do %s end "
            "return os.clock() - c end" % body).encode())
        fn(N // 10)  # warm-up (JIT, caches)
        runs = [fn(N) / N * 1e6 for _ in range(5)]
        print(f"{name:40s} {statistics.median(runs):8.3f}")


if __name__ == "__main__":
    main()
