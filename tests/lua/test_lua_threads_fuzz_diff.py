"""Seeded randomized differential test of ngx_lua's concurrency: timers, light threads,
ngx.sleep, coroutines and ngx.semaphore against real OpenResty.

One real nginx serves ``SERVERS`` generated servers (``server_name tN.thr``), each with
locations ``/tN/l0``... whose content (or rewrite/access) handler runs a random program:
ngx.timer.at with delays 0 / 0.001 / 0.01 and callbacks that record what they see
(``premature``, their arguments, ngx.worker.id(), what ngx.var / ngx.req / ngx.say
answer there) in a lua_shared_dict or fail (``context: ngx.timer`` log lines),
ngx.timer.every whose callbacks record only their first two runs, the timer counts,
ngx.thread.spawn of threads that sleep, yield, print, fail, exit or return values,
ngx.thread.wait / kill (running, finished, killed, the entry thread), ngx.sleep(0)
interleaving, coroutines that sleep inside, and semaphores shared by the threads. Every
step prints its pcall'd results, so the body is the program's trace; the last step
sleeps 0.05 s and prints what the timers recorded.

Determinism: the only timed events of a request are the light threads' sleeps (or
semaphore timeouts), each thread at most one, in distinct slots 20 ms apart, and all
threads with a timed step are spawned before the entry thread first yields (so their
wake-ups are 20 ms apart whatever the machine does meanwhile); everything else orders
by ngx.sleep(0) rounds. Timers write only to their own keys, so their firing order does
not matter, and the timer counts are read before the entry thread first yields.

Status, headers, body and the error-log lines (level info, tracebacks included; sorted,
as timers and threads log concurrently) must be the same. A divergence prints the seed
and the server block, so it can be replayed; set LUA_THREADS_FUZZ_SEED to explore other
seeds. ``KEPT`` holds the cases found so far whatever the seed. Bad
``lua_max_pending_timers`` / ``lua_max_running_timers`` values go through ``nginx -t``
and our loader.

Left out of the generator, where ngx_lua 0.10.23 reads freed or stale memory (its
answers vary from run to run, or it logs garbage): a timer callback reading its
creator's locals after it spawned a thread (the upvalue reads a number, nil or a
boolean); a light thread killed, or the request ended (ngx.exit, an error in the entry
thread), while a thread sleeps inside a user coroutine or still runs ("http finalize
non-active request: <garbage>" alerts, thread errors logged "while closing request");
ngx.thread.wait on a killed thread together with a live one (a timer created before
never runs); what wait returns for a thread that failed with a runtime error after it
had run (stale stack values); a user coroutine of the entry thread that sleeps while
light threads run (a finished thread's values come out of the coroutine's resume);
a thread of another request waited for or killed (the answer depends on freed memory);
a thread killed after it spawned a child that a semaphore wait then ran past (the
worker dies: ``local s = require("ngx.semaphore").new(0) local t1 =
ngx.thread.spawn(function() local c = ngx.thread.spawn(function() coroutine.yield() end)
coroutine.yield() end) ngx.thread.spawn(function() s:wait(1) end) ngx.thread.kill(t1)
s:post(1) ngx.sleep(0.05)`` closes the connection), so a thread that spawns is never
killed.
Threads are scheduled as ngx_lua does it (engine/lua/thread.py, timer_turns.py): a
thread that calls coroutine.yield(), or spawns a child (which runs at once), is posted
behind the request's other posted threads, which run as soon as the running one
hands back control; a thread that ends wakes its waiting parent at once; a chain of
ngx.sleep(0) runs through in the event loop's timer phase, before the threads a
semaphore post woke (posted events, run after the timers). ``KEPT`` /ya.. /s3 hold those
cases (/yk: a
thread killed while posted never runs again, its child goes on).
"""

from __future__ import annotations

import asyncio
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest

from tests.differential import Pair, Reply, Req
from tests.fuzzing import (assert_case_count, assert_group_as_nginx, config_verdicts,
                           generated, http_conf, pair_fixture)
from tests.oracle import requires_nginx

SEED = int(os.environ.get("LUA_THREADS_FUZZ_SEED", "20261127"))
SERVERS = 6
LOCATIONS = 5

#: Helpers every program starts with: ``sh`` shows values (types for the ones printed
#: as addresses), ``S`` runs a step under pcall and prints its results.
PRELUDE = (
    'local d = ngx.shared.d local K = "{key}" local T = {{}} '
    'local SEM = require("ngx.semaphore").new(0) '
    "local function sh(...) local o = {{}} for i = 1, select('#', ...) do "
    "local v = select(i, ...) local ty = type(v) "
    'o[i] = (ty == "thread" or ty == "function" or ty == "table" or ty == "userdata") '
    'and ty or tostring(v) end return table.concat(o, " ") end '
    'local function S(l, f, ...) ngx.say(l, ": ", sh(pcall(f, ...))) end '
)

#: What a timer callback starts with: its own ``d`` and ``sh`` (see the module's
#: docstring: no upvalues of its creator).
TIMER_PRELUDE = (
    "local d = ngx.shared.d local function sh(...) local o = {{}} for i = 1, select('#', ...) do "
    'local v = select(i, ...) o[i] = type(v) == "table" and "table" or tostring(v) end '
    'return table.concat(o, " ") end '
)
#: Timer callbacks: ``{k}`` the key their record goes to.
TIMER_BODIES = [
    'd:set("{k}", sh(p, ...) .. " w" .. tostring(ngx.worker.id()))',
    'd:set("{k}", sh(pcall(function() return ngx.var.uri end)))',
    'd:set("{k}", sh(pcall(ngx.req.get_method)))',
    'd:set("{k}", sh(pcall(ngx.say, "x")))',
    'd:set("{k}", sh(p, ngx.get_phase())) error("timer {k} boom")',
    'd:set("{k}", "rt") local t = nil t.x = 1',
    'ngx.sleep(0.001) d:set("{k}", "slept " .. sh(p, ...))',
    'ngx.timer.at(0, function(p2, a) ngx.shared.d:set("{k}", "inner " .. tostring(p2) .. a) end, '
    '"in")',
    'local t = ngx.thread.spawn(function(a) ngx.sleep(0) return a, "tt" end, 7) '
    'd:set("{k}", sh(ngx.thread.wait(t)))',
    'd:set("{k}", sh(pcall(ngx.exit, 200)))',
    'd:set("{k}", "sp") ngx.thread.spawn(function() error("in timer thread {k}") end)',
]
TIMER_ARGS = ["", ", 1, nil, \"a\"", ", {}", ", true"]

#: Light-thread bodies without a timed step; ``{j}`` the thread's number.
QUICK = [
    'return {j}, "r"',
    'ngx.say("t{j} a") ngx.sleep(0) ngx.say("t{j} b") return "s0"',
    'ngx.sleep(0) ngx.sleep(0) ngx.say("t{j} two") return "s00"',
    'error("t{j} err")',
    'ngx.say("t{j} ex") ngx.exit({code})',
    'ngx.sleep(0) ngx.say("t{j} ex0") ngx.exit({code})',
    'ngx.say("t{j} eof") ngx.eof() ngx.say("t{j} after eof") return "eof"',
    'local co = coroutine.wrap(function() ngx.sleep(0) coroutine.yield("c1") ngx.sleep(0) '
    'return "c2" end) return co(), co()',
    'ngx.print("t{j} p\\n") ngx.sleep(0) ngx.print("t{j} q\\n") return nil, false',
    'local ok, e = SEM:wait(0) ngx.say("t{j} sem0 ", sh(ok, e)) return ok',
    'return sh(ngx.thread.kill(coroutine.running()))',
    'error({})',
    'ngx.say("t{j} y1") coroutine.yield() ngx.say("t{j} y2") return "y"',
    'coroutine.yield() ngx.sleep(0) coroutine.yield() ngx.say("t{j} ys") return "ys"',
    'local c = ngx.thread.spawn(function() ngx.say("t{j}c") coroutine.yield() '
    'ngx.say("t{j}c2") return "c" end) ngx.say("t{j} p") coroutine.yield() '
    'ngx.say("t{j} w ", sh(ngx.thread.wait(c))) return "sp"',
    'local f = coroutine.wrap(function() coroutine.yield("w1") ngx.say("t{j} in") '
    'return "w2" end) ngx.say("t{j} ", f()) coroutine.yield() ngx.say("t{j} ", f())',
]
#: Light-thread bodies with one timed step (``{s}`` its slot, seconds).
TIMED = [
    'ngx.say("t{j} a") ngx.sleep({s}) ngx.say("t{j} b") return "slept"',
    'ngx.sleep({s}) error("t{j} late")',
    'ngx.sleep({s}) ngx.say("t{j} x") ngx.exit({code})',
    'local ok, e = SEM:wait({s}) ngx.say("t{j} semt ", sh(ok, e)) return e',
    'local co = coroutine.create(function() ngx.sleep({s}) coroutine.yield("cy") return "cr" end) '
    'local a = {coroutine.resume(co)} local b = {coroutine.resume(co)} '
    'ngx.say("t{j} co ", sh(unpack(a)), " ", sh(unpack(b))) return coroutine.status(co)',
    'ngx.sleep({s}) ngx.eof() ngx.say("t{j} late eof")',
]
#: A thread woken by the entry thread's SEM:post (1 s: it never times out).
POSTED = ('ngx.say("t{j} waits") local ok, e = SEM:wait(1) ngx.say("t{j} got ", sh(ok, e)) '
          'return "p"')
#: A thread still sleeping when the entry thread ends.
LONG = 'ngx.sleep(0.12) ngx.say("t{j} long") return "long"'
CODES = ["200", "201", "404", "500", "ngx.ERROR", "444"]
SLOTS = [0.02, 0.04, 0.06]
#: How long the engine's loop runs on after each request (its timers' last events).
SETTLE = 0.05


class Program:
    """One handler's random program: the steps so far and what the entry thread knows
    (its threads, whether it has yielded yet, the timers whose records it prints)."""

    def __init__(self, rng: random.Random, key: str) -> None:
        self.rng = rng
        self.key = key
        self.steps: list[str] = []
        self.threads = 0
        self.yielded = False
        self.slots = list(SLOTS)
        rng.shuffle(self.slots)
        self.timers = 0
        self.everies = 0
        self.posts_owed = 0
        #: threads waited for or killed already (or never to be killed)
        self.gone: set[int] = set()
        #: threads the entry thread may wait for (none that waits a turn)
        self.waitable: set[int] = set()
        #: whether light threads may sleep inside coroutines (then nothing ends the
        #: request early: no ngx.exit, no kill of those threads)
        self.nested = rng.random() < 0.5

    def spawn(self) -> None:
        rng = self.rng
        self.threads += 1
        j = self.threads
        if not self.yielded and self.slots and rng.random() < 0.45:
            body = rng.choice(TIMED).replace("{s}", str(self.slots.pop()))
        elif rng.random() < 0.12:
            body = POSTED
            self.posts_owed += 1
        elif not self.yielded and rng.random() < 0.06:
            body = LONG
        else:
            body = rng.choice(QUICK)
        nests = "coroutine.wrap" in body or "coroutine.create" in body
        if nests and not self.nested or "{code}" in body and self.nested:
            body = QUICK[0]  # (see the module's docstring)
        if nests or "ngx.thread.spawn" in body:
            self.gone.add(j)  # never killed
        if not nests and body != POSTED:
            self.waitable.add(j)  # (see the module's docstring)
        body = body.replace("{j}", str(j)).replace("{code}", rng.choice(CODES))
        args = rng.choice(["", ", 1, nil", ', "a"'])
        self.steps.append(f"T[{j}] = ngx.thread.spawn(function(...) {body} end{args}) "
                          f'ngx.say("spawned {j} ", coroutine.status(T[{j}]))')

    def timer(self) -> None:
        rng = self.rng
        self.timers += 1
        i = self.timers
        body = rng.choice(TIMER_BODIES).replace("{k}", f"{self.key}t{i}")
        delay = rng.choice(["0", "0.001", "0.01"])
        args = rng.choice(TIMER_ARGS)
        self.steps.append(f'S("at{i}", ngx.timer.at, {delay}, function(p, ...) '
                          f'{TIMER_PRELUDE.format()}{body} end{args})')

    def every(self) -> None:
        self.everies += 1
        k = f"{self.key}e{self.everies}"
        fail = f'if n == 1 then error("every {k} boom") end ' if self.rng.random() < 0.3 else ""
        self.steps.append(
            f'S("ev{self.everies}", ngx.timer.every, 0.01, function(p, a) '
            f'{TIMER_PRELUDE.format()}local n = d:incr("{k}n", 1, 0) '
            f'if n <= 2 then d:set("{k}", (d:get("{k}") or "") .. sh(n, p, a) .. ";") end '
            f'{fail}end, "ev")')

    def wait(self) -> None:
        rng = self.rng
        if not self.waitable:
            return
        picks = [rng.choice(sorted(self.waitable))]
        live = sorted(self.waitable - self.gone)
        if rng.random() < 0.35 and live:  # (see the module's docstring: live ones only)
            picks = [rng.choice(live) for _ in range(2)]
        self.gone.update(picks)
        self.steps.append(f'S("w{"".join(map(str, picks))}", ngx.thread.wait, '
                          + ", ".join(f"T[{p}]" for p in picks) + ")")
        self.yielded = True

    def step(self) -> None:
        """One random step."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.25 or self.threads == 0 and roll < 0.5:
            self.spawn()
        elif roll < 0.4:
            self.timer()
        elif roll < 0.45:
            self.every()
        elif roll < 0.6 and self.threads:
            self.wait()
        elif roll < 0.66 and self.threads:
            killable = [j for j in range(1, self.threads + 1) if j not in self.gone]
            if killable:
                j = rng.choice(killable)
                self.gone.add(j)
                self.steps.append(f'S("k", ngx.thread.kill, T[{j}])')
        elif roll < 0.74:
            self.steps.append(rng.choice(['ngx.sleep(0) ngx.say("main s0")',
                                          'coroutine.yield() ngx.say("main y")']))
            self.yielded = True
        elif roll < 0.78 and not self.yielded:
            self.steps.append('ngx.say("counts ", ngx.timer.running_count(), " ", '
                              'ngx.timer.pending_count())')
        elif roll < 0.84:
            self.steps.append(rng.choice([
                'S("sp", SEM.post, SEM, 1) ngx.say("sc ", SEM:count())',
                'S("sw0", SEM.wait, SEM, 0)',
                'S("kr", ngx.thread.kill, coroutine.running())',
                'S("wn", ngx.thread.wait, coroutine.create(function() end))',
                'S("spb", ngx.thread.spawn, 1)',
            ]))
        elif roll < 0.92 and not self.threads:  # (see the module's docstring)
            self.steps.append(rng.choice([
                'do local co = coroutine.create(function(a) ngx.sleep(0) local b = '
                'coroutine.yield(a + 1) return b .. "!" end) S("co1", coroutine.resume, co, 1) '
                'S("co2", coroutine.resume, co, "z") ngx.say("co ", coroutine.status(co)) end',
                'do local f = coroutine.wrap(function() ngx.sleep(0) coroutine.yield("g1") '
                'return "g2" end) S("g1", f) S("g2", f) S("g3", f) end',
            ]))
            self.yielded = True
        else:
            self.steps.append(rng.choice(['ngx.say("main say")', 'ngx.print("main print\\n")',
                                          'ngx.flush()']))

    def text(self) -> str:
        """The handler's Lua: the prelude, the steps, the posts owed, the final record."""
        rng = self.rng
        for _ in range(rng.randint(2, 8)):
            self.step()
        steps = list(self.steps)
        if self.posts_owed:
            steps.append(f'S("post", SEM.post, SEM, {self.posts_owed})')
        ending = rng.random()
        if ending < 0.15 and not self.threads:  # (see the module's docstring)
            steps.append(rng.choice([
                'error("main boom")', 'local t = nil t.x = 1',
                'do local f = coroutine.wrap(function() ngx.sleep(0) coroutine.yield("g1") '
                'error("gen err") end) S("g1", f) S("g2", f) end']))
        elif ending < 0.2 and not self.nested:
            steps.append(f"ngx.exit({rng.choice(CODES)})")
        final = ("ngx.sleep(0.05) "
                 f'for i = 1, {self.timers} do '
                 'ngx.say("rec t", i, " ", tostring(d:get(K .. "t" .. i))) end '
                 f'for i = 1, {self.everies} do '
                 'ngx.say("rec e", i, " ", tostring(d:get(K .. "e" .. i))) end')
        return (PRELUDE.format(key=self.key) + " ".join(steps) + " " + final)


def gen_server(rng: random.Random, n: int) -> tuple[str, list[Req]]:
    """A server ``tN.thr`` with generated locations and one request for each."""
    g = f"/t{n}"
    lines = [f"server {{\n    listen 127.0.0.1:{{port}};\n    server_name t{n}.thr;"]
    reqs = []
    for i in range(LOCATIONS):
        program = Program(rng, f"t{n}l{i}").text()
        phase = rng.choice(["content", "content", "content", "rewrite", "access"])
        lines.append(f"    location {g}/l{i} {{")
        lines.append(f"        {phase}_by_lua_block {{ {program} }}")
        if phase != "content":
            lines.append('        content_by_lua_block { ngx.say("content") }')
        lines.append("    }")
        reqs.append(Req(rng.choice(["GET", "GET", "GET", "HEAD"]), f"{g}/l{i}",
                        [("Host", f"t{n}.thr")]))
    lines.append("}\n")
    return "\n".join(lines), reqs


#: Cases the generator found, kept whatever the seed (each location one): a light
#: thread that ended, not yet waited for, is a "zombie"; one whose coroutine waits is
#: "normal"; a spawned thread runs up to its first wait before its parent goes on (its
#: ngx.sleep(0) comes before its parent's, its ngx.exit before the others' next turn,
#: its semaphore wait is queued before its parent posts); ngx.say after ngx.eof logs
#: nothing; an error in a coroutine.wrap function logs the caller's stack as coroutine 1.
KEPT = r"""server {
    listen 127.0.0.1:{port};
    server_name kept.thr;
    location /zombie { content_by_lua_block { local a = ngx.thread.spawn(function() return 1 end) local b = ngx.thread.spawn(function() error("z") end) ngx.say(coroutine.status(a), " ", coroutine.status(b)) ngx.thread.wait(a) ngx.thread.kill(b) ngx.say(coroutine.status(a), " ", coroutine.status(b)) } }
    location /normal { content_by_lua_block { local t = ngx.thread.spawn(function() local f = coroutine.wrap(function() ngx.sleep(0.01) return "w" end) return f() end) ngx.say(coroutine.status(t)) ngx.say(ngx.thread.wait(t)) ngx.say(coroutine.status(t)) } }
    location /order { content_by_lua_block { ngx.thread.spawn(function() ngx.sleep(0) ngx.sleep(0) ngx.say("t1") end) ngx.sleep(0) ngx.say("main") ngx.thread.spawn(function() ngx.say("t2") end) ngx.say("after") } }
    location /exit { content_by_lua_block { ngx.thread.spawn(function() ngx.print("p\n") ngx.sleep(0) ngx.print("q\n") end) ngx.thread.spawn(function() ngx.say("ex") ngx.exit(500) end) ngx.say("not reached") } }
    location /sema { content_by_lua_block { local s = require("ngx.semaphore").new(0) for i = 1, 2 do ngx.thread.spawn(function() ngx.say(i, " waits") ngx.say(i, " got ", s:wait(1)) end) end s:post(1) ngx.say("count ", s:count()) s:post(1) ngx.say("count ", s:count()) } }
    location /eof { content_by_lua_block { ngx.thread.spawn(function() ngx.say("t") ngx.eof() ngx.say("t after") end) ngx.say("main ", tostring(select(2, ngx.say("x")))) } }
    location /wrap { content_by_lua_block { local f = coroutine.wrap(function() ngx.sleep(0) error("werr") end) local function g() return pcall(f) end g() } }
    location /ya { content_by_lua_block { local t = ngx.thread.spawn(function() coroutine.yield() ngx.say("t2 y") end) ngx.say("a") ngx.thread.spawn(function() ngx.say("t3") end) ngx.say("b") } }
    location /yc { content_by_lua_block { local a = ngx.thread.spawn(function() ngx.say("a1") coroutine.yield() ngx.say("a2") coroutine.yield() ngx.say("a3") return "ra" end) local b = ngx.thread.spawn(function() ngx.say("b1") coroutine.yield() ngx.say("b2") return "rb" end) ngx.say("w ", ngx.thread.wait(a, b)) ngx.say("after") ngx.say("w2 ", ngx.thread.wait(a, b)) } }
    location /yg { content_by_lua_block { local t1 = ngx.thread.spawn(function() ngx.sleep(0) ngx.say("t1") end) local t2 = ngx.thread.spawn(function() coroutine.yield() ngx.say("t2") ngx.sleep(0) ngx.say("t2b") end) ngx.thread.wait(t1) ngx.say("m") } }
    location /yh { content_by_lua_block { local t = ngx.thread.spawn(function() ngx.thread.spawn(function() ngx.say("g1") coroutine.yield() ngx.say("g2") end) ngx.say("c1") coroutine.yield() ngx.say("c2") end) ngx.say("p1") coroutine.yield() ngx.say("p2") coroutine.yield() ngx.say("p3") } }
    location /s1 { content_by_lua_block { local s = require("ngx.semaphore").new(0) ngx.thread.spawn(function() ngx.say("t1 waits") ngx.say("t1 got ", s:wait(1)) end) ngx.thread.spawn(function() ngx.sleep(0) ngx.sleep(0) ngx.say("t2 two") end) s:post(1) ngx.say("posted") } }
    location /s2 { content_by_lua_block { local s = require("ngx.semaphore").new(0) ngx.thread.spawn(function() ngx.say("t1 waits") ngx.say("t1 got ", s:wait(1)) ngx.sleep(0) ngx.say("t1 s0") end) ngx.thread.spawn(function() ngx.sleep(0) s:post(1) ngx.sleep(0) ngx.say("t2") ngx.sleep(0) ngx.say("t2b") end) ngx.thread.spawn(function() ngx.sleep(0) ngx.sleep(0) ngx.say("t3") ngx.sleep(0) ngx.say("t3b") end) ngx.sleep(0) ngx.say("main") ngx.sleep(0) ngx.say("main2") } }
    location /s3 { content_by_lua_block { local s = require("ngx.semaphore").new(0) ngx.thread.spawn(function() ngx.say("t1 waits") ngx.say("t1 got ", s:wait(1)) coroutine.yield() ngx.say("t1 y") end) ngx.thread.spawn(function() ngx.say("t2 waits") ngx.say("t2 got ", s:wait(1)) ngx.say("t2 c ", s:count()) end) s:post(2) ngx.say("c ", s:count(), " ", tostring(s:wait(0))) ngx.sleep(0) ngx.say("main") } }
    location /yk { content_by_lua_block { local t1 = ngx.thread.spawn(function() local c = ngx.thread.spawn(function() ngx.say("t1c") coroutine.yield() ngx.say("t1c2") return "c" end) ngx.say("t1 p") coroutine.yield() ngx.say("t1 w ", ngx.thread.wait(c)) end) ngx.say("spawned") ngx.thread.kill(t1) ngx.print("main print\n") ngx.sleep(0.01) ngx.say("end") } }
    location /wrapped { content_by_lua_block { local f = coroutine.wrap(function() error("direct") end) local x = f() } }
}
"""
KEPT_REQUESTS = [("GET", "/zombie"), ("GET", "/normal"), ("GET", "/order"), ("GET", "/exit"),
                 ("GET", "/sema"), ("GET", "/eof"), ("HEAD", "/eof"), ("GET", "/wrap"),
                 ("GET", "/wrapped"),
                 ("GET", "/ya"), ("GET", "/yc"), ("GET", "/yg"), ("GET", "/yh"),
                 ("GET", "/s1"), ("GET", "/s2"), ("GET", "/s3"), ("GET", "/yk")]


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block text, requests)."""
    groups = generated(SEED, SERVERS, gen_server)
    groups.append(("kept", KEPT, [Req(m, t, [("Host", "kept.thr")]) for m, t in KEPT_REQUESTS]))
    return http_conf(groups, "    access_log off;\n    lua_shared_dict d 1m;\n"), groups


CONF, GROUPS = build()

fuzz_pair = pair_fixture(CONF)


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 20, 80)


def _asker(pair: Pair) -> Callable[[Req], tuple[Reply, Reply]]:
    """Both replies (asked at the same time); then the engine's event loop runs on a
    moment, as nginx's does by itself, so the timers a request left behind fire before
    the next one."""
    def ask(req: Req) -> tuple[Reply, Reply]:
        with ThreadPoolExecutor(1) as pool:  # both sides sleep at once
            real = pool.submit(pair.ask_real, req)
            ours = pair.ask_engine(req)
            pair.loop.run_until_complete(asyncio.sleep(SETTLE))
            return real.result(), ours
    return ask


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs, ask=_asker(fuzz_pair),
                          logs=sorted)


# --- bad configurations --------------------------------------------------------------------

BAD = ["lua_max_pending_timers abc;", "lua_max_pending_timers -1;", "lua_max_pending_timers 0;",
       "lua_max_pending_timers 1 2;", "lua_max_pending_timers;", "lua_max_running_timers x;",
       "lua_max_running_timers 0;", "lua_max_running_timers 10k;", "lua_max_running_timers 5;",
       "server { lua_max_pending_timers 10; }", "lua_max_pending_timers 1;"
       " lua_max_pending_timers 2;"]


@requires_nginx
@pytest.mark.parametrize("body", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_same_config_verdict_as_nginx(tmp_path: Path, body: str) -> None:
    conf = "events {}\nhttp {\n" + body + "\n}\n"
    ours, real = config_verdicts(tmp_path, conf)
    assert ours == real, conf
