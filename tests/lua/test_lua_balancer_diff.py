"""balancer_by_lua* and ngx.balancer against real OpenResty: the peer the handler sets
(and $upstream_addr/$upstream_status), the group's own server when it sets none, a
retry on a second run with get_last_failure, the 500 of a failing handler or ngx.exit,
APIs refused in the balancer, ngx.balancer outside it, ngx.ctx/ngx.var/ngx.log inside it
(with the " while connecting to upstream" context), and nginx -t for the directive.

One real nginx serves a backend on {port1}; both sides proxy to it (ours in-process).
Port 9 (discard) refuses connections: a peer that fails at once, on both sides; a
missing ``unix:`` socket fails at once too (at [crit]).

ngx.exit's codes: NGX_ERROR and every positive one (no status patch in this build) give
500, -3 (NGX_BUSY) "no live upstreams" and 502, NGX_AGAIN and NGX_DONE a Lua error
(500), others (0, -10) change nothing. NGX_DECLINED makes nginx's worker loop forever
(no answer, 100% CPU): ours closes the connection without one (test_exit_declined, on
its own nginx).
set_timeouts is checked against a listening socket that never accepts (test_timeouts).
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.differential import Pair, Req, engine_load_error, parse_reply
from tests.fuzzing import assert_case_count, assert_group_as_nginx, pair_fixture
from tests.lua.cases import mark_logs, new_log_lines
from tests.oracle import nginx_test, requires_nginx, write_prefix

#: mode (the ?mode= argument) -> the balancer's Lua for it
MODES: dict[str, str] = {
    "ok": 'log("set: ", tostring(b.set_current_peer("127.0.0.1", {port1})))',
    "hostport": 'log("hp: ", tostring(b.set_current_peer("127.0.0.1:{port1}")))',
    "none": "",
    "badaddr": 'log("set: ", tostring(select(2, b.set_current_peer("not-an-ip", 80))))',
    "badport": 'log("bp: ", tostring(select(2, b.set_current_peer("127.0.0.1:abc"))))',
    "niladdr": 'log("at: ", tostring(select(2, pcall(b.set_current_peer, nil, 80))))',
    "err": 'error("boom")',
    "errtable": 'error({})',
    "sleep": "ngx.sleep(0.01)",
    "say": 'ngx.say("x")',
    "refused": 'b.set_current_peer("127.0.0.1", 9)',
    "retry": """ctx.tries = (ctx.tries or 0) + 1
        if ctx.tries == 1 then
            b.set_more_tries(1)
            b.set_current_peer("127.0.0.1", 9)
        else
            local state, code = b.get_last_failure()
            log("last failure: ", tostring(state), " ", tostring(code))
            b.set_current_peer("127.0.0.1", {port1})
        end""",
    "timeouts": """log("t: ", tostring(select(2, pcall(b.set_timeouts, -1, 1, 1))),
            " ", tostring(select(2, pcall(b.set_timeouts, 1, 0))),
            " ", tostring(select(2, pcall(b.set_timeouts, 1, 1, "x"))),
            " ", tostring(b.set_timeouts(1, 2, 3)), " ", tostring(b.set_timeouts()))
        b.set_current_peer("127.0.0.1", {port1})""",
    "exit403": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(403) log("after exit")',
    "exiterr": "ngx.exit(ngx.ERROR)",
    "exitok": 'ngx.exit(ngx.OK) log("after exit ok")',
    "phase": 'log("phase: ", ngx.get_phase(), " ua=", ngx.req.get_headers()["user-agent"], '
             '" m=", ngx.req.get_method())',
    # failing on the retry: "127.0.0.1:9 : |502 : " (see KEPT below)
    "retry_exit": """ctx.tries = (ctx.tries or 0) + 1
        if ctx.tries == 1 then b.set_more_tries(1) b.set_current_peer("127.0.0.1", 9)
        else ngx.exit(403) end""",
    "twice": 'b.set_current_peer("127.0.0.1", 9) b.set_current_peer("127.0.0.1", {port1})',
    "strport": 'log("s: ", tostring(b.set_current_peer("127.0.0.1", "{port1}")))',
    "ip6": 'log("6: ", tostring(select(2, b.set_current_peer("::1", 9))))',
    "ip6b": 'log("6: ", tostring(b.set_current_peer("[::1]:9")))',
    "numaddr": 'log("n: ", tostring(select(2, pcall(b.set_current_peer, 5, 80))))',
    "empty": 'log("e: ", tostring(select(2, b.set_current_peer("", 80))))',
    "more_neg": 'log("mn: ", tostring(b.set_more_tries(-1)), " ", '
                'tostring(select(2, pcall(b.set_more_tries, "x"))))',
    # the response header, ngx.status (overridden by the upstream's) and ngx.var
    "header": 'ngx.header["X-B"] = "1" ngx.status = 404 ngx.var.foo = "set"',
    # more tries than proxy_next_upstream_tries allows (3 in /lim): reduced
    "busy": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(-3)',
    # NGX_BUSY on the retry: 502 under the previous attempt's peer name (u->peer.name)
    "busy_retry": """if not ctx.b then ctx.b = 1 b.set_more_tries(1) b.set_current_peer("127.0.0.1", 9)
        else ngx.exit(-3) end""",
    "exit0": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(0) log("after 0")',
    "exit200": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(200)',
    "exit503": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(503)',
    "exit404": "ngx.exit(404)",
    "exit1": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(1)',
    "exitm10": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(-10)',
    "ret503": 'b.set_current_peer("127.0.0.1", {port1}) do return 503 end',
    "reterr": 'b.set_current_peer("127.0.0.1", {port1}) do return ngx.ERROR end',
    "errafter": 'b.set_current_peer("127.0.0.1", {port1}) error("late")',
    # ngx.exit refuses them in the balancer: a Lua error (500)
    "again": 'b.set_current_peer("127.0.0.1", {port1}) ngx.exit(ngx.AGAIN)',
    "done": "ngx.exit(-4)",
    "unix": 'log("u: ", tostring(b.set_current_peer("unix:/no/such.sock")))',
    "limit": """ctx.tries = (ctx.tries or 0) + 1
        if ctx.tries == 1 then
            log("more: ", tostring(b.set_more_tries(5)), " ", tostring(select(2, b.set_more_tries(5))))
        end
        b.set_current_peer("127.0.0.1", 9)""",
}

_CHAIN = "\n        ".join(
    f'{"if" if i == 0 else "elseif"} mode == "{name}" then\n            {code}'
    for i, (name, code) in enumerate(MODES.items())) + "\n        end"

CONF = """
error_log logs/error.log info;
events {}
http { default_type text/plain; access_log off;
upstream dyn {
    server 127.0.0.1:{port1};
    balancer_by_lua_block {
        local b = require "ngx.balancer"
        local ctx, log = ngx.ctx, function(...) ngx.log(ngx.INFO, ...) end
        local mode = ngx.var.arg_mode
        log("balancer run mode=", mode, " ctx.n=", tostring(ctx.n), " last=",
            tostring((b.get_last_failure())))
        CHAIN
    }
}
upstream syntax { server 127.0.0.1:{port1}; balancer_by_lua_block { local x = } }
upstream file_ok { server 127.0.0.1:{port1}; balancer_by_lua_file lua/ok.lua; }
upstream file_error { server 127.0.0.1:{port1}; balancer_by_lua_file lua/bad.lua; }
upstream file_missing { server 127.0.0.1:{port1}; balancer_by_lua_file lua/$arg_f.lua; }
server { listen 127.0.0.1:{port1};
  location / { return 200 "backend $request_uri\\n"; }
}
server { listen 127.0.0.1:{port0};
  set $foo "";
  location / {
    access_by_lua_block { ngx.ctx.n = 7 }
    proxy_pass http://dyn;
    add_header X-U "$upstream_addr|$upstream_status|$foo" always;
  }
  location /limit { proxy_next_upstream_tries 3; proxy_pass http://dyn;
    add_header X-U "$upstream_addr|$upstream_status" always; }
  location /syntax { proxy_pass http://syntax; }
  location /file_ok { proxy_pass http://file_ok; }
  location /file_error { proxy_pass http://file_error; }
  location /file_missing { proxy_pass http://file_missing; }
  location /outside { content_by_lua_block {
    local b = require "ngx.balancer"
    ngx.say(pcall(b.set_current_peer, "127.0.0.1", 80))
    ngx.say(pcall(b.get_last_failure))
    ngx.say(b.set_more_tries(1))
    ngx.say(pcall(b.set_timeouts, 1, 1, 1))
  } }
  location /logphase {
    proxy_pass http://dyn;
    log_by_lua_block {
      local b = require "ngx.balancer"
      ngx.log(ngx.INFO, "logphase: ", tostring(select(2, b.set_current_peer("127.0.0.1", 80))),
              " ", tostring(select(3, b.get_last_failure())))
    }
  }
}}
""".replace("CHAIN", _CHAIN)


FILES = {"lua/ok.lua": 'require("ngx.balancer").set_current_peer("127.0.0.1", 9)\n',
         "lua/bad.lua": "error('fileboom')\n"}


@pytest.fixture(scope="module")
def pair():
    with Pair(CONF, FILES, extra_ports=1) as p:
        mark_logs(p)
        yield p


def _req(target: str) -> Req:
    return Req("GET", target, [("Host", "a"), ("User-Agent", "UA1")])


def _same(pair: Pair, target: str) -> None:
    real, ours = pair.both(_req(target))
    port = str(pair.ports[1])
    assert ours.comparable() == real.comparable()
    # (the X-U header names the backend's port: compared as it is, both use {port1})
    assert dict(ours.headers).get("X-U") == dict(real.headers).get("X-U")
    real_log = new_log_lines(pair, "real")
    ours_log = new_log_lines(pair, "ours")
    assert ours_log == real_log, (target, port)


@requires_nginx
@pytest.mark.parametrize("mode", list(MODES))
def test_balancer_as_openresty(pair: Pair, mode: str) -> None:
    _same(pair, f"/x?mode={mode}")


@requires_nginx
@pytest.mark.parametrize("target", ["/outside", "/logphase?mode=ok", "/logphase?mode=err",
                                    "/limit?mode=limit", "/syntax", "/file_ok", "/file_error",
                                    "/file_missing?f=ok"])
def test_other_locations(pair: Pair, target: str) -> None:
    _same(pair, target)


@requires_nginx
def test_retry_addresses(pair: Pair) -> None:
    """The retry's two attempts, as nginx lists them (the named minimal case)."""
    real, ours = pair.both(_req("/x?mode=retry"))
    new_log_lines(pair, "real")
    new_log_lines(pair, "ours")
    want = f"127.0.0.1:9, 127.0.0.1:{pair.ports[1]}|502, 200|"
    assert dict(real.headers).get("X-U") == want
    assert dict(ours.headers).get("X-U") == want
    assert ours.status == real.status == 200


# --- set_timeouts and ngx.exit(ngx.DECLINED) -------------------------------------------------
#
# A listening socket that never accepts: a peer whose answer never comes. The location
# waits 3s for it; the balancer's set_timeouts(..., 0.2) must cut that to 0.2s, for the
# attempt and the retries after it (ngx_lua changes the request's upstream conf).

TIMEOUT_MODES = {
    "read": 'b.set_timeouts(1, 1, 0.2) b.set_current_peer("127.0.0.1", HOLE)',
    "nil": 'b.set_timeouts(nil, nil, 0.2) b.set_current_peer("127.0.0.1", HOLE)',
    # a later call leaving the read timeout out keeps 0.2
    "keep": 'b.set_timeouts(1, 1, 0.2) b.set_timeouts() b.set_timeouts(5) '
            'b.set_current_peer("127.0.0.1", HOLE)',
    # set on the first run, it holds for the retry
    "sticks": """if ngx.ctx.k == 1 then b.set_timeouts(1, 1, 0.2) b.set_more_tries(1)
            b.set_current_peer("127.0.0.1", 9)
        else b.set_current_peer("127.0.0.1", HOLE) end""",
    "second": """if ngx.ctx.k == 1 then b.set_more_tries(1) b.set_current_peer("127.0.0.1", 9)
        else b.set_timeouts(1, 1, 0.3) b.set_current_peer("127.0.0.1", HOLE) end""",
    # no peer set: the group's own server (the hole) gets the timeouts too
    "group": "b.set_timeouts(1, 1, 0.2)",
}
TIMEOUT_CONF = """
error_log logs/error.log info;
events {}
http { default_type text/plain; access_log off;
upstream dyn { server 127.0.0.1:HOLE;
  balancer_by_lua_block {
    local b = require "ngx.balancer"
    ngx.ctx.k = (ngx.ctx.k or 0) + 1
    local mode = ngx.var.arg_mode
    CHAIN
  }
}
upstream stall { server 127.0.0.1:STALL;
  balancer_by_lua_block { require("ngx.balancer").set_timeouts(1, 1, 0.2) }
}
upstream one { server 127.0.0.1:9;
  balancer_by_lua_block {
    if ngx.var.arg_lua then require("ngx.balancer").set_current_peer("127.0.0.1", 9) end
  }
}
server { listen 127.0.0.1:{port};
  location /stall { proxy_read_timeout 3s; proxy_pass http://stall; }
  location /stall_nb { proxy_buffering off; proxy_read_timeout 3s; proxy_pass http://stall; }
  location /one { proxy_pass http://one;
    add_header X-U "$upstream_addr|$upstream_status" always; }
  location / { proxy_read_timeout 3s; proxy_pass http://dyn;
    add_header X-U "$upstream_addr|$upstream_status" always; }
}}
""".replace("CHAIN", "\n    ".join(
    f'{"if" if i == 0 else "elseif"} mode == "{name}" then {code}'
    for i, (name, code) in enumerate(TIMEOUT_MODES.items())) + " end")


def _stall(listener: socket.socket, held: list[socket.socket]) -> None:
    """A peer that sends its header and 3 of 10 body bytes, then nothing more."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        held.append(conn)


@pytest.fixture(scope="module")
def hole_pair():  # type: ignore[no-untyped-def]
    held: list[socket.socket] = []
    with socket.socket() as hole, socket.socket() as stall:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        stall.bind(("127.0.0.1", 0))
        stall.listen(64)
        threading.Thread(target=_stall, args=(stall, held), daemon=True).start()
        port = hole.getsockname()[1]
        conf = TIMEOUT_CONF.replace("HOLE", str(port))
        with Pair(conf.replace("STALL", str(stall.getsockname()[1]))) as p:
            mark_logs(p)
            yield p, port
        stall.shutdown(socket.SHUT_RDWR)
    for conn in held:
        conn.close()


def _timed(ask, req: Req):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    reply = ask(req)
    return reply, time.monotonic() - t0


@requires_nginx
@pytest.mark.parametrize("mode", list(TIMEOUT_MODES))
def test_timeouts(hole_pair, mode: str) -> None:  # type: ignore[no-untyped-def]
    pair, port = hole_pair
    req = _req(f"/x?mode={mode}")
    real, real_took = _timed(pair.ask_real, req)
    ours, took = _timed(pair.ask_engine, req)
    assert ours.comparable() == real.comparable()
    assert ours.header("X-U") == real.header("X-U")
    assert real.status == 504 and real_took < 1.5  # (the case means it)
    assert took < 1.5, f"the location's 3s, not set_timeouts' ({took:.2f}s)"
    real_log, ours_log = new_log_lines(pair, "real"), new_log_lines(pair, "ours")
    assert ours_log == real_log
    assert "upstream timed out (110: Connection timed out) while reading response header " \
           f'from upstream, client: 127.0.0.1, server: , request: "GET /x?mode={mode} ' \
           f'HTTP/1.1", upstream: "http://127.0.0.1:{port}/x?mode={mode}"' in real_log[-1][1]


@requires_nginx
@pytest.mark.parametrize("target", ["/stall", "/stall_nb"])
def test_body_read_timeout(hole_pair, target: str) -> None:  # type: ignore[no-untyped-def]
    """The body is read with the balancer's read timeout as well (the location's 3s
    else); unbuffered, the 3 bytes that came are passed on."""
    pair, _ = hole_pair
    real, real_took = _timed(pair.ask_real, _req(target))
    ours, took = _timed(pair.ask_engine, _req(target))
    assert ours.comparable() == real.comparable()
    assert real_took < 1.5 and took < 1.5, (real_took, took)
    real_log, ours_log = new_log_lines(pair, "real"), new_log_lines(pair, "ours")
    assert ours_log == real_log
    assert real_log[-1][1].startswith("upstream timed out (110: Connection timed out) while "
                                      "reading upstream")


@requires_nginx
def test_single_server_no_longer_single(hole_pair) -> None:  # type: ignore[no-untyped-def]
    """Once the balancer set a peer, the group's only server is no longer "single"
    (ngx_lua clears the flag): its next failure disables it, then no live upstreams."""
    pair, _ = hole_pair
    seen = []
    for target in ("/one", "/one?lua=1", "/one", "/one"):
        real, ours = pair.both(_req(target))
        assert ours.comparable() == real.comparable()
        assert ours.header("X-U") == real.header("X-U")
        real_log, ours_log = new_log_lines(pair, "real"), new_log_lines(pair, "ours")
        assert ours_log == real_log
        seen.append([(level, text.split(" while ")[0]) for level, text in real_log])
    refused = ("error", "connect() failed (111: Connection refused)")
    assert seen == [[refused], [refused], [refused, ("warn", "upstream server temporarily "
                                                     "disabled")],
                    [("error", "no live upstreams")]]


@requires_nginx
def test_exit_declined() -> None:
    """ngx.exit(ngx.DECLINED): nginx's worker spins and never answers (its own nginx,
    which it leaves useless); ours closes the connection without a response."""
    conf = """events {}
http { upstream u { server 127.0.0.1:9; balancer_by_lua_block { ngx.exit(ngx.DECLINED) } }
server { listen 127.0.0.1:{port}; location / { proxy_pass http://u; } } }"""
    with Pair(conf) as pair:
        req = _req("/")
        real = parse_reply(pair.real.request(req.raw(), timeout=0.5))
        ours = pair.ask_engine(req)
    assert real.status == ours.status == 0


# --- nginx -t ------------------------------------------------------------------------------

_UP = "events {}\nhttp {\nupstream u {\n%s\n}\nserver { location / { proxy_pass http://u; } }\n}\n"
CONF_CASES = [
    ("valid", _UP % "server 127.0.0.1:81;\nbalancer_by_lua_block { return }"),
    ("valid-file", _UP % "server 127.0.0.1:81;\nbalancer_by_lua_file lua/b.lua;"),
    ("backup-after", _UP % "balancer_by_lua_block { return }\nserver 127.0.0.1:81 backup;"),
    ("max-conns-after", _UP % "balancer_by_lua_block { return }\nserver 127.0.0.1:81 max_conns=2;"),
    ("weight-after", _UP % "balancer_by_lua_block { return }\nserver 127.0.0.1:81 weight=2 max_fails=3 fail_timeout=5s down;"),
    ("duplicate", _UP % "server 127.0.0.1:81;\nbalancer_by_lua_block { return }\nbalancer_by_lua_block { return }"),
    ("in-server", "events {}\nhttp {\nserver { balancer_by_lua_block { return } }\n}\n"),
    ("file-no-arg", _UP % "server 127.0.0.1:81;\nbalancer_by_lua_file;"),
    ("file-two-args", _UP % "server 127.0.0.1:81;\nbalancer_by_lua_file a b;"),
]


def _nginx_error(output: str) -> str | None:
    """The first ``[emerg]`` message of ``nginx -t`` (ngx_lua's own "is duplicate" too)."""
    m = re.search(r"\[emerg\] \d+#\d+: (.*)", output)
    return m.group(1) if m else None


@requires_nginx
@pytest.mark.parametrize("name,conf", CONF_CASES, ids=[c[0] for c in CONF_CASES])
def test_nginx_t(tmp_path: Path, name: str, conf: str) -> None:
    write_prefix(tmp_path, conf, {"lua/b.lua": "return\n"})
    real = _nginx_error(nginx_test(tmp_path).output)
    ours = engine_load_error(tmp_path)
    assert ours == (f"[emerg] {real}" if real else None)
    assert (real is None) == name.startswith(("valid", "weight"))  # (the case means it)


# --- seeded fuzzing ------------------------------------------------------------------------
#
# Each generated upstream runs a plan: run k of its balancer (a request's first attempt,
# then each retry) does the plan's k-th action (the last one again after the end), after
# logging get_last_failure. The group's own servers (the fallback) work or refuse; the
# location may limit the tries. Every request goes to its own front (one real nginx that
# proxies to itself, and our engine in-process). Set LUA_BALANCER_FUZZ_SEED to explore.

SEED = int(os.environ.get("LUA_BALANCER_FUZZ_SEED", "20261127"))
ACTIONS = {
    "ok": 'b.set_current_peer("127.0.0.1", {port})',
    "refused": 'b.set_current_peer("127.0.0.1", 9)',
    "none": "",
    "error": 'error("e")',
    "exit403": "ngx.exit(403)",
    "exitok": 'ngx.exit(ngx.OK) b.set_current_peer("127.0.0.1", {port})',
    "more1": 'b.set_more_tries(1) b.set_current_peer("127.0.0.1", 9)',
    "more3": 'log("m ", tostring(select(2, b.set_more_tries(3)))) b.set_current_peer("127.0.0.1", 9)',
    "sleep": "ngx.sleep(0)",
}
FALLBACKS = ["server 127.0.0.1:{port};", "server 127.0.0.1:9;",
             "server 127.0.0.1:9; server 127.0.0.1:{port};"]


def _upstream(i: int, plan: list[str], fallback: str) -> str:
    steps = "\n".join(f'        {"if" if k == 0 else "elseif"} k == {k + 1} then {ACTIONS[a]}'
                      for k, a in enumerate(plan[:-1]))
    last = ("        else " if steps else "        ") + ACTIONS[plan[-1]]
    return f"""upstream u{i} {{ {fallback}
    balancer_by_lua_block {{
        local b = require "ngx.balancer"
        local log = function(...) ngx.log(ngx.INFO, ...) end
        ngx.ctx.k = (ngx.ctx.k or 0) + 1
        local k = ngx.ctx.k
        local state, code = b.get_last_failure()
        log("run ", k, " ", tostring(state), " ", tostring(code))
{steps}
{last}{" end" if steps else ""}
    }}
}}"""


#: Cases the generator found, kept whatever the seed: (plan, fallback, tries).
KEPT = [
    # a balancer that fails on the retry: its state has no peer, which nginx's
    # $upstream_* variables take for the " : " of a new upstream ("127.0.0.1:9 : ")
    (["more1", "exit403"], FALLBACKS[0], ""),
]


def _generate() -> list[tuple[str, str, list[Req]]]:
    rng = random.Random(SEED)
    groups = []
    for i in range(14 + len(KEPT)):
        plan = [rng.choice(list(ACTIONS)) for _ in range(rng.randint(1, 4))]
        if plan[-1].startswith("more"):  # repeated, it would add tries forever
            plan[-1] = rng.choice(["ok", "refused"])
        fallback = rng.choice(FALLBACKS)
        tries = rng.choice(["", "proxy_next_upstream_tries 2;", "proxy_next_upstream_tries 4;"])
        if i >= 14:
            plan, fallback, tries = KEPT[i - 14]
        block = _upstream(i, plan, fallback) + f"""
location /g{i} {{ {tries} proxy_pass http://u{i}/be;
    add_header X-U "$upstream_addr|$upstream_status|" always; }}"""
        groups.append((f"u{i} {plan} {fallback} {tries}", block,
                       [Req("GET", f"/g{i}?n={n}", [("Host", "a")]) for n in range(2)]))
    return groups


GROUPS = _generate()
FUZZ_CONF = """
error_log logs/error.log info;
events {}
http { default_type text/plain; access_log off;
UPSTREAMS
server { listen 127.0.0.1:{port};
  location /be { return 200 "be $request_uri\\n"; }
LOCATIONS
}}
""".replace("UPSTREAMS", "\n".join(g[1].split("\nlocation ")[0] for g in GROUPS)).replace(
    "LOCATIONS", "\n".join("location " + g[1].split("\nlocation ")[1] for g in GROUPS))
fuzz_pair = pair_fixture(FUZZ_CONF)


def test_enough_fuzz_cases() -> None:
    assert_case_count(GROUPS, 20, 60)
    assert all(g[0].startswith(f"u{14 + i} {plan}") for i, (plan, _, _) in
               enumerate(KEPT) for g in [GROUPS[14 + i]])


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0].split()[0] for g in GROUPS])
def test_fuzz_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs,
                          shown=lambda r: f"{r.status} X-U: {r.header('x-u')}")
