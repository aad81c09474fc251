"""Seeded randomized differential test of ``ngx.shared.DICT`` against real OpenResty
(ngx_lua 0.10.23 + resty.core).

``SESSIONS`` random sessions are generated from a fixed seed. A session is a few requests
(snippets) on three zones of different sizes (``dogs`` 1m, ``cats`` 512k, ``mice`` 32k);
the first request flushes every zone, the later ones see what the earlier ones left, so
persistence between requests is checked too. Each request runs a random sequence of
operations -- get/get_stale/set/safe_set/add/safe_add/replace/delete/incr/lpush/rpush/
lpop/rpop/llen/ttl/expire/flush_all/flush_expired/get_keys/capacity -- with random keys
(good, empty, nil, numbers, booleans, NUL and non-UTF-8 bytes, 65535/65536 bytes long),
values of every type, odd exptimes/flags/init/init_ttl, missing and extra arguments and
bad zones. Every call runs under ``pcall`` and its results (number of values, each value
with its type; ``-0``, NaN and keys lists normalized, ``get_keys`` compared as a sorted
set, ``ttl`` rounded up because later requests run at a later time) are printed and
compared with real OpenResty's. Nothing here waits for an entry to expire, so expiry
itself and ``free_space`` (nginx's slab fragmentation) are left to tests/lua_api/
test_shdict_diff.py. A divergence prints the seed, the session and both outputs, so it
can be replayed; set SHDICT_FUZZ_SEED to explore other seeds.
"""

from __future__ import annotations

import os
import random

import pytest

from engine.lua import shdict
from tests.lua_api.harness import VM, Oracle, normalize, oracle_conf
from tests.oracle import HAVE_NGINX, RealNginx, requires_nginx

#: Fixed, so every run checks the same cases.
SEED = int(os.environ.get("SHDICT_FUZZ_SEED", "20261127"))
SESSIONS = 60
ZONES = ["dogs", "cats", "mice"]

#: Prelude of every snippet: ``P(...)`` records one call's results in a printable form.
PRELUDE = r"""local D = ngx.shared
local R = {}
local function enc(v)
    local t = type(v)
    if t == "number" then
        if v ~= v then return "n:nan" end
        if v == 0 and 1 / v < 0 then return "n:-0" end
        return "n:" .. string.format("%.17g", v)
    end
    if t == "string" then
        if #v > 1000 then  -- long keys: ends and length (keeps the output short)
            v = v:sub(1, 24) .. "~" .. #v .. "~" .. v:sub(-24)
        end
        return string.format("%q", v)
    end
    if t == "table" then
        local keys = {}
        for i, k in ipairs(v) do keys[i] = enc(k) end
        table.sort(keys)
        return "{" .. table.concat(keys, ",") .. "}"
    end
    return tostring(v)
end
local function P(...)
    local n = select("#", ...)
    local out = { tostring(n) }
    for i = 1, n do out[#out + 1] = enc((select(i, ...))) end
    R[#R + 1] = table.concat(out, " ")
end
local function K(...) return ... end
local function TTL(ok, v, ...)
    if ok and type(v) == "number" and v > 0 then v = math.ceil(v) end
    if ok and type(v) == "number" and v < 0 then v = "expired" end
    return ok, v, ...
end
"""

KEYS = ['"a"', '"b"', '"c"', '"a"', '"b"', '"l"', '"l"', '"n"', '"n"', '"s"', '"k\\0z"',
        '"\\255\\254"', '"é"', "12", "1.5", "-0", "true", "false", "2^53", '"12"', '""',
        "nil", 'string.rep("k", 65535)', 'string.rep("k", 65536)', '"  "']
VALUES = ["nil", "true", "false", "0", "-0", "1", "-1", "1.5", "-2.25", "2^53", "2^53 + 1",
          "1e308", "1e-300", "1/0", "-1/0", "0/0", '"x"', '""', '"a\\0b"', '"\\255\\128"',
          '"12"', '" 7 "', '"0x10"', '"1e2"', '"é"', 'string.rep("v", 300)', "{}", "{1}",
          "ngx.null", "print", "2^31", "-2^63"]
#: No exptime that could pass during a session (expiry is not deterministic here);
#: 0.0004 is below a millisecond, which nginx treats as "never".
EXPTIMES = ["nil", "0", "100", "1000.5", "0.0004", "-1", '"5"', '"x"', "true", "{}", "1/0",
            "-0"]
FLAGS = ["nil", "0", "1", "7", "-1", "2^31", "2^32 + 5", "1.7", "-1.7", '"3"', "true", "0/0"]
INCRS = ["1", "-1", "0", "2.5", "-0.5", '"2"', '"x"', "nil", "true", "1e308", "1/0", "0/0",
         "{}", '" 3 "']
INITS = ["nil", "0", "10", "-3", "1.5", '"4"', '"x"', "false", "true", "{}", "-0"]
COUNTS = ["nil", "0", "1", "2", "3", "-1", "1.9", '"2"', '"x"', "true", "1e10"]
BAD_ZONES = ["nil", '"dogs"', "{}", "1", "D.nope", "{ D.dogs[1] }"]


class Gen:
    """Random operations; each returns one Lua statement that records a call's results."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def key(self) -> str:
        return self.rng.choice(KEYS)

    def args(self, *pools: list[str]) -> list[str]:
        """Arguments from ``pools``; trailing ones are often left out, sometimes one more
        is added (ignored by the API, but it must not change the result)."""
        out = [self.rng.choice(pool) for pool in pools]
        r = self.rng.random()
        if r < 0.5:
            out = out[:self.rng.randint(0, len(out))]
            while out and out[-1] == "nil" and self.rng.random() < 0.7:
                out.pop()
        elif r < 0.55:
            out.append('"extra"')
        return out

    def call(self, name: str, args: list[str]) -> str:
        """A call of method ``name`` of a zone; usually ``d:name(...)`` inside a closure
        (so errors point into the snippet), sometimes ``pcall(d.name, d, ...)`` or not as
        a tail call (so the C functions' argument errors name the method), rarely
        with a bad zone argument."""
        zone = f"D.{self.rng.choice(ZONES)}"
        r = self.rng.random()
        if r < 0.04:
            bad = self.rng.choice(BAD_ZONES)
            return f"P(pcall({zone}.{name}, {', '.join([bad, *args])}))"
        if r < 0.3:
            return f"P(pcall({zone}.{name}, {', '.join([zone, *args])}))"
        if r < 0.45:  # not a tail call: errors of the C functions name the method
            return f"P(pcall(function() return K({zone}:{name}({', '.join(args)})) end))"
        return f"P(pcall(function() return {zone}:{name}({', '.join(args)}) end))"

    def store(self) -> str:
        name = self.rng.choice(["set", "set", "set", "safe_set", "add", "safe_add", "replace"])
        value = self.rng.choice(VALUES) if self.rng.random() < 0.4 else self.rng.choice(
            ['"v"', "1", "2", "-0", "1.5", "true", "false", '"s"', "nil"])
        args = self.args([self.key()], [value], EXPTIMES, FLAGS)
        if len(args) > 2 and self.rng.random() < 0.5:  # mostly good exptime/flags
            args[2] = self.rng.choice(["0", "100", "nil"])
        return self.call(name, args)

    def incr(self) -> str:
        args = self.args([self.key()], INCRS, INITS, ["nil", "0", "100", "-1", '"5"', '"x"'])
        return self.call("incr", args)

    def list_op(self) -> str:
        name = self.rng.choice(["lpush", "rpush", "lpush", "rpush", "lpop", "rpop", "llen"])
        key = self.rng.choice(['"l"', '"l"', '"m"', self.key()])
        if name.endswith("push"):
            value = self.rng.choice(['"v"', "1", "2.5", "-0", '"\\0"', '""', *VALUES])
            args = [key, value]
        else:
            args = [key]
        if self.rng.random() < 0.1:  # wrong argument counts (C functions check them)
            args = args[:-1] if self.rng.random() < 0.7 else [*args, "1"]
        return self.call(name, args)

    def read(self) -> str:
        name = self.rng.choice(["get", "get", "get", "get_stale", "delete", "llen"])
        return self.call(name, self.args([self.key()]))

    def ttl(self) -> str:
        zone = f"D.{self.rng.choice(ZONES)}"
        if self.rng.random() < 0.5:
            return f"P(TTL(pcall({zone}.ttl, {zone}, {self.key()})))"
        args = self.args([self.key()], EXPTIMES)
        return self.call("expire", args)

    def bulk(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.call("get_keys", self.args(COUNTS))
        if r < 0.7:
            return self.call("flush_expired", self.args(COUNTS))
        if r < 0.85:
            return self.call("capacity", [])
        return self.call("flush_all", [])

    def op(self) -> str:
        kind = self.rng.choices(
            [self.store, self.read, self.incr, self.list_op, self.ttl, self.bulk],
            weights=[30, 20, 14, 18, 8, 5])[0]
        return kind()

    def request(self, first: bool) -> str:
        """One snippet: the prelude, ``OPS`` operations (one per line), the results."""
        lines = [PRELUDE]
        if first:
            lines.append(" ".join(f"D.{z}:flush_all()" for z in ZONES))
        lines += [self.op() for _ in range(self.rng.randint(8, 30))]
        lines.append('return table.concat(R, "\\n")')
        return "\n".join(lines)


def sessions(seed: int) -> list[list[str]]:
    """The snippets of every session, from ``seed``."""
    rng = random.Random(seed)
    gen = Gen(rng)
    return [[gen.request(i == 0) for i in range(rng.randint(1, 3))] for _ in range(SESSIONS)]


class ZonesOracle(Oracle):
    """The harness's oracle with a third, small zone."""

    def __init__(self) -> None:
        super().__init__()
        conf = oracle_conf().replace("lua_shared_dict cats 512k;",
                                     "lua_shared_dict cats 512k;\n    lua_shared_dict mice 32k;")
        self.nginx = RealNginx(conf)


def zones_vm() -> VM:
    """The harness's VM with the same three zones as :class:`ZonesOracle`."""
    vm = VM()
    vm.zones.add(shdict.SharedDictZone("mice", 32 * 1024))
    shdict.install(vm.lua, vm.ngx, vm.zones, vm.clock)
    return vm


@pytest.fixture(scope="module")
def zoracle():
    if not HAVE_NGINX:
        pytest.skip("real nginx with the Lua module is not installed")
    with ZonesOracle() as o:
        yield o


def diff_lines(expected: str, got: str) -> str:
    """The recorded results side by side, marking the first differing call."""
    exp, ours = expected.split("\\\n"), got.split("\\\n")
    out = []
    for i in range(max(len(exp), len(ours))):
        a = exp[i] if i < len(exp) else "<none>"
        b = ours[i] if i < len(ours) else "<none>"
        out.append(f"  {'  ' if a == b else '>>'} op {i + 1}: nginx {a[:200]}"
                   + ("" if a == b else f"\n           ours  {b[:200]}"))
    return "\n".join(out)


@requires_nginx
def test_shdict_fuzz(zoracle) -> None:
    vm = zones_vm()
    failures = []
    for s, session in enumerate(sessions(SEED)):
        for n, code in enumerate(session):
            expected = normalize(zoracle.run(code))
            got = normalize(vm.run(code))
            if got != expected:
                body = code[len(PRELUDE):]
                failures.append(f"seed {SEED}, session {s}, request {n + 1}:\n{body}\n"
                                + diff_lines(expected, got))
                break
        if len(failures) >= 3:
            break
    assert not failures, "\n\n".join(failures)
