"""limit_req and limit_conn against real nginx: verdicts, status codes, the
``$limit_req_status``/``$limit_conn_status`` variables, error-log lines (level and text),
delays, dry runs, several limits in one block, inheritance, internal redirects and
subrequests (limited once per main request), concurrent requests for limit_conn, and
``nginx -t`` errors for bad directives.

Determinism: each test has its own zone or its own key values, and the rates are low
(1r/m) so that the second request in a row is rejected on both servers; the one rate
that lets a delay happen (10r/s) has its excess digits normalised in the log.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import pytest

from tests.differential import Pair, Reply, Req, engine_load_error, parse_reply
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    limit_req_zone $arg_k zone=rm:1m rate=1r/m;
    limit_req_zone $arg_k zone=st:1m rate=1r/m;
    limit_req_zone $arg_k zone=rs:1m rate=10r/s;
    limit_req_zone $arg_k zone=nd:1m rate=1r/m;
    limit_req_zone $arg_k zone=dry:1m rate=1r/m;
    limit_req_zone $arg_a zone=za:1m rate=1r/m;
    limit_req_zone $arg_b zone=zb:1m rate=1r/m;
    limit_req_zone $arg_k zone=e1:1m rate=1r/m;
    limit_req_zone $arg_k zone=e2:1m rate=1r/m;
    limit_req_zone $arg_k zone=lv:1m rate=1r/m;
    limit_req_zone $arg_s zone=srv:1m rate=1r/m;
    limit_req_zone $arg_k zone=own:1m rate=1r/m;
    limit_req_zone $arg_k zone=sub:1m rate=1r/m;
    limit_req_zone $arg_k zone=ddry:1m rate=10r/s;
    limit_conn_zone $arg_k zone=c:1m;
    limit_conn_zone $arg_k zone=cd:1m;
    limit_conn_zone $arg_k zone=cl:1m;
    limit_conn_zone $arg_k zone=cs:1m;
    server {
        listen 127.0.0.1:{port};
        server_name lim.test;
        add_header X-LR "[$limit_req_status]" always;
        add_header X-LC "[$limit_conn_status]" always;
        limit_req zone=srv;
        location /rm {
            limit_req zone=rm;
            content_by_lua_block { ngx.say("rm ", ngx.var.limit_req_status) }
        }
        location /st { limit_req zone=st; limit_req_status 429; }
        location /rs {
            limit_req zone=rs burst=5;
            content_by_lua_block { ngx.say("rs ", ngx.var.limit_req_status) }
        }
        location /nd {
            limit_req zone=nd burst=3 nodelay;
            content_by_lua_block { ngx.say("nd ", ngx.var.limit_req_status) }
        }
        location /dry {
            limit_req zone=dry;
            limit_req_dry_run on;
            content_by_lua_block { ngx.say("dry ", ngx.var.limit_req_status) }
        }
        location /ddry {
            limit_req zone=ddry burst=5;
            limit_req_dry_run on;
            content_by_lua_block { ngx.say("ddry ", ngx.var.limit_req_status) }
        }
        location /two {
            limit_req zone=za;
            limit_req zone=zb;
            content_by_lua_block { ngx.say("two ", ngx.var.limit_req_status) }
        }
        location /e1 { limit_req zone=e1; error_page 404 = /e2?k=$arg_k; }
        location /e2 {
            limit_req zone=e2;
            content_by_lua_block { ngx.say("e2 ", ngx.var.limit_req_status) }
        }
        location /lvw { limit_req zone=lv; limit_req_log_level warn; limit_req_status 429; }
        location /lvi { limit_req zone=lv; limit_req_log_level info; }
        location /inherit { content_by_lua_block { ngx.say("srv") } }
        location /own {
            limit_req zone=own;
            content_by_lua_block { ngx.say("own") }
        }
        location /cap {
            content_by_lua_block {
                local a = ngx.location.capture("/sub?k=" .. ngx.var.arg_k)
                local b = ngx.location.capture("/sub?k=" .. ngx.var.arg_k)
                ngx.say(a.status, " ", b.status, " ", ngx.var.limit_req_status)
            }
        }
        location /sub { limit_req zone=sub; content_by_lua_block { ngx.say("sub") } }
        location /slow {
            limit_conn c 1;
            content_by_lua_block { ngx.sleep(0.2) ngx.say("slow ", ngx.var.limit_conn_status) }
        }
        location /slowd {
            limit_conn cd 1;
            limit_conn_dry_run on;
            limit_conn_log_level warn;
            content_by_lua_block { ngx.sleep(0.2) ngx.say("slowd ", ngx.var.limit_conn_status) }
        }
        location /conn {
            limit_conn cl 1;
            limit_conn_status 429;
            content_by_lua_block { ngx.say("conn ", ngx.var.limit_conn_status) }
        }
        location /connerr {
            limit_conn cs 1;
            content_by_lua_block { ngx.say("connerr ", ngx.var.limit_conn_status) }
        }
        location /slowerr {
            limit_conn cs 1;
            error_page 503 = /connerr?k=$arg_k;
            content_by_lua_block { ngx.sleep(0.2) ngx.say("slowerr") }
        }
    }
}
"""

FILES = {"html/st": "st\n", "html/lvw": "lvw\n", "html/lvi": "lvi\n"}
H = [("Host", "lim.test")]
_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")
_EXCESS = re.compile(r"excess: (\d+\.\d{3})")


def get(target: str) -> Req:
    return Req("GET", target, list(H))


def _log_lines(path: Path, seen: dict, normalise: bool) -> list[tuple[str, str]]:
    """(level, message) of the request lines written since the last look, the prefix
    directory spelled {prefix}; ``normalise``: the excess digits left out."""
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):].replace(str(path.parents[1]), "{prefix}")
    seen[path] = len(text)
    out = []
    for line in fresh.splitlines():
        m = _PREFIX.match(line)
        if m and "while waiting for request" not in line and m.group(1) != "notice":
            message = line[m.end():]
            out.append((m.group(1), _EXCESS.sub(_approximate if not normalise
                                                else "excess: N", message)))
    return out


def _approximate(m: re.Match) -> str:
    """At 1r/m a bucket drains 0.001 every 63 ms: a slow moment between two requests
    changes the last digit, never the whole number of requests in excess."""
    return f"excess: ~{round(float(m.group(1)))}"


class Logs:
    """The error-log lines each side wrote since the last call."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.seen: dict = {}
        self.take()

    def take(self, normalise: bool = False) -> tuple[list, list]:
        time.sleep(0.03)  # nginx writes its log line after the response
        real = _log_lines(self.pair.real.prefix / "logs" / "error.log", self.seen, normalise)
        ours = _log_lines(self.pair.prefix / "logs" / "error.log", self.seen, normalise)
        return real, ours


@pytest.fixture(scope="module")
def logs(pair):  # type: ignore[no-untyped-def]
    return Logs(pair)


def run_sequence(pair: Pair, logs: Logs, targets: list[str], normalise: bool = False):
    """Each target on real nginx and on the engine in turn; replies and log lines agree."""
    statuses = []
    for target in targets:
        real, ours = pair.both(get(target))
        assert ours.comparable() == real.comparable(), target
        real_log, our_log = logs.take(normalise)
        assert our_log == real_log, target
        statuses.append(real.status)
    return statuses


# --- limit_req -----------------------------------------------------------------------------

# (name, targets in order, the statuses real nginx answers: a test that cannot fail
# would pass with a limit that never applies)
SEQUENCES = [
    ("second request rejected", ["/rm?k=a", "/rm?k=a", "/rm?k=b", "/rm?k=a"],
     [200, 503, 200, 503]),
    ("empty key is not accounted", ["/rm", "/rm", "/rm?k="], [200, 200, 200]),
    ("limit_req_status", ["/st?k=a", "/st?k=a"], [200, 429]),
    ("burst with nodelay", ["/nd?k=a"] * 6, [200, 200, 200, 200, 503, 503]),
    ("dry run", ["/dry?k=a", "/dry?k=a", "/dry?k=a"], [200, 200, 200]),
    ("two limits: the second rejects, the first is not charged",
     ["/two?a=1&b=1", "/two?a=2&b=1", "/two?a=2&b=3", "/two?a=2&b=4"],
     [200, 503, 200, 503]),
    ("two limits: the first rejects", ["/two?a=5", "/two?a=5&b=9", "/two?b=9"],
     [200, 503, 200]),
    ("log level warn", ["/lvw?k=w", "/lvw?k=w"], [200, 429]),
    ("log level info", ["/lvi?k=i", "/lvi?k=i"], [200, 503]),
    ("server limit inherited", ["/inherit?s=s", "/inherit?s=s"], [200, 503]),
    ("own limit replaces the server's",
     ["/own?k=o&s=o", "/own?k=o&s=o", "/own?k=p&s=o", "/inherit?s=o"], [200, 503, 200, 200]),
    ("error_page redirect is not limited again", ["/e2?k=r", "/e1?k=r", "/e1?k=r"],
     [200, 200, 503]),
    ("subrequests limited once per main request", ["/cap?k=c", "/cap?k=c"], [200, 200]),
    ("odd key bytes", ["/rm?k=%00%ff", "/rm?k=%00%ff"], [200, 503]),
]


@requires_nginx
@pytest.mark.parametrize("name,targets,statuses", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_limit_req_same_as_nginx(pair, logs, name, targets, statuses):
    assert run_sequence(pair, logs, targets) == statuses


@requires_nginx
def test_rejected_text_and_variable(pair, logs):
    assert run_sequence(pair, logs, ["/rm?k=text", "/rm?k=text"]) == [200, 503]
    pair.ask_engine(get("/rm?k=text2"))
    pair.ask_engine(get("/rm?k=text2"))
    _, our_log = logs.take()
    assert our_log[-1] == ("error", 'limiting requests, excess: ~1 by zone "rm", client: '
                           '127.0.0.1, server: lim.test, request: "GET /rm?k=text2 HTTP/1.1", '
                           'host: "lim.test"')
    ex = pair.loop.run_until_complete(pair.engine.request(get("/rm?k=text2").engine_request(
        pair.port)))
    assert [(e.data["message"], e.data["level"]) for e in ex.trace if e.kind == "log"] == [
        ('limiting requests, excess: 1.000 by zone "rm"', "error")]
    logs.take()  # that line is the engine's alone


def _timed_pair(pair: Pair, target: str) -> tuple[list, list]:
    """The same request twice in a row on real nginx, then twice on the engine (the
    second one must come soon after the first): (reply, seconds, events) of each."""
    real = []
    for _ in range(2):
        t0 = time.monotonic()
        real.append((pair.ask_real(get(target)), time.monotonic() - t0, []))
    ours = []
    for _ in range(2):
        t0 = time.monotonic()
        ex = pair.loop.run_until_complete(pair.engine.request(
            get(target).engine_request(pair.port)))
        r = ex.response
        ours.append((Reply(r.status, r.reason, list(r.headers), r.body),
                     time.monotonic() - t0, ex.trace))
    return real, ours


@requires_nginx
def test_delayed_request(pair, logs):
    """10r/s, burst 5: the second request waits about 100 ms on both servers."""
    real, ours = _timed_pair(pair, "/rs?k=d")
    assert [o[0].comparable() for o in ours] == [r[0].comparable() for r in real]
    assert ours[1][0].body == b"rs DELAYED\n"
    assert real[1][1] > 0.07 and ours[1][1] > 0.07 and ours[0][1] < 0.05
    events = [e.data for e in ours[1][2] if e.kind == "limit_req"]
    assert events and events[0]["verdict"] == "DELAYED" and 80 <= events[0]["delay_ms"] <= 100
    real_log, our_log = logs.take(normalise=True)
    assert our_log == real_log
    assert real_log[0][0] == "warn" and real_log[0][1].startswith(
        'delaying request, excess: N, by zone "rs"')


@requires_nginx
def test_delay_dry_run(pair, logs):
    real, ours = _timed_pair(pair, "/ddry?k=x")
    assert [o[0].comparable() for o in ours] == [r[0].comparable() for r in real]
    assert ours[1][0].body == b"ddry DELAYED_DRY_RUN\n" and ours[1][1] < 0.05
    real_log, our_log = logs.take(normalise=True)
    assert our_log == real_log and len(real_log) == 1


# --- limit_conn ----------------------------------------------------------------------------


def _concurrent(pair: Pair, targets: list[str]) -> tuple[list[Reply], list[Reply]]:
    """Start the requests 50 ms apart on real nginx (threads) and, at the same time, on
    the engine (tasks): a request that holds a count waits 200 ms in its content."""
    real: list[Reply | None] = [None] * len(targets)

    def one(i: int, target: str) -> None:
        time.sleep(0.05 * i)
        real[i] = parse_reply(pair.real.request(get(target).raw()))

    async def one_engine(i: int, target: str) -> Reply:
        await asyncio.sleep(0.05 * i)
        r = (await pair.engine.request(get(target).engine_request(pair.port))).response
        return Reply(r.status, r.reason, list(r.headers), r.body)

    async def engine_side() -> list[Reply]:
        return list(await asyncio.gather(*(one_engine(i, t) for i, t in enumerate(targets))))

    threads = [threading.Thread(target=one, args=(i, t)) for i, t in enumerate(targets)]
    for th in threads:
        th.start()
    ours = pair.loop.run_until_complete(engine_side())
    for th in threads:
        th.join()
    return real, ours  # type: ignore[return-value]


CONCURRENT = [
    ("second concurrent request rejected", ["/slow?k=1", "/slow?k=1"], [200, 503]),
    ("other key not limited", ["/slow?k=2", "/slow?k=3"], [200, 200]),
    ("dry run", ["/slowd?k=1", "/slowd?k=1"], [200, 200]),
    ("rejection redirected by error_page, not limited again",
     ["/slowerr?k=1", "/slowerr?k=1"], [200, 200]),
    ("empty key not counted", ["/slow", "/slow"], [200, 200]),
]


@requires_nginx
@pytest.mark.parametrize("name,targets,statuses", CONCURRENT, ids=[c[0] for c in CONCURRENT])
def test_limit_conn_concurrent(pair, logs, name, targets, statuses):
    real, ours = _concurrent(pair, targets)
    assert [o.comparable() for o in ours] == [r.comparable() for r in real]
    assert [r.status for r in real] == statuses
    real_log, our_log = logs.take()
    assert our_log == real_log


@requires_nginx
def test_limit_conn_released(pair, logs):
    """After a rejection, and after the request ends, the count is back to 0."""
    _concurrent(pair, ["/slow?k=9", "/slow?k=9"])
    logs.take()
    assert run_sequence(pair, logs, ["/slow?k=9", "/conn?k=9", "/conn?k=9"]) == [200] * 3
    zones = pair.engine.http.services["limit_parse"].zones
    assert not any(z.data.counts for z in zones.values() if z.tag == "limit_conn")


@requires_nginx
def test_limit_conn_key_too_long(pair, logs):
    """A key over 255 bytes is logged and not counted, so no status either."""
    real, ours = pair.both(get("/conn?k=" + "x" * 300))
    assert ours.comparable() == real.comparable()
    assert real.body == b"conn nil\n"
    real_log, our_log = logs.take()
    assert our_log == real_log
    assert real_log[0][1].startswith('the value of the "$arg_k" key is more than 255 bytes')


# --- configuration errors ------------------------------------------------------------------

Z = "limit_req_zone $uri zone=one:10m rate=1r/s;\n"
C = "limit_conn_zone $uri zone=c:10m;\n"
CONFIG_CASES = [
    ("valid", Z + "server { limit_req zone=one burst=5 delay=2; limit_req_dry_run on; }"),
    ("valid rate without unit", "limit_req_zone $uri zone=one:10m rate=5;"),
    ("valid zone declared later", "server { limit_req zone=two; }\n"
     "limit_req_zone $uri zone=two:32k rate=1r/m;"),
    ("valid nodelay and delay", Z + "server { limit_req zone=one nodelay delay=3; }"),
    ("zone without size", "limit_req_zone $uri zone=one rate=1r/s;"),
    ("zone bad size", "limit_req_zone $uri zone=one:abc rate=1r/s;"),
    ("zone empty size", "limit_req_zone $uri zone=one: rate=1r/s;"),
    ("zone size in g", "limit_req_zone $uri zone=one:1g rate=1r/s;"),
    ("zone too small", "limit_req_zone $uri zone=one:31k rate=1r/s;"),
    ("zone without name", "limit_req_zone $uri zone=:32k rate=1r/s;"),
    ("no zone", "limit_req_zone $uri rate=1r/s rate=2r/s;"),
    ("rate zero", "limit_req_zone $uri zone=one:10m rate=0r/s;"),
    ("rate per hour", "limit_req_zone $uri zone=one:10m rate=1r/h;"),
    ("rate empty", "limit_req_zone $uri zone=one:10m rate=;"),
    ("rate overflow", "limit_req_zone $uri zone=one:10m rate=99999999999999999999r/s;"),
    ("unknown parameter", "limit_req_zone $uri zone=one:10m foo;"),
    ("sync is not in the open source build", "limit_req_zone $uri zone=one:10m rate=1r/s sync;"),
    ("unknown variable", "limit_req_zone $nope zone=one:10m rate=1r/s;"),
    ("bad rate before unknown variable", "limit_req_zone $nope zone=one:10m rate=0r/s;"),
    ("bad key syntax", 'limit_req_zone "${uri" zone=one:10m rate=1r/s;'),
    ("zone bound twice", Z + "limit_req_zone $host zone=one:10m rate=1r/s;"),
    ("zone size conflict", Z + "limit_req_zone $host zone=one:20m rate=1r/s;"),
    ("zone used by both modules", Z + "limit_conn_zone $uri zone=one:10m;"),
    ("limit_req on a limit_conn zone", C + "server { limit_req zone=c; }"),
    ("unknown zone", Z + "server { limit_req zone=two; }"),
    ("zone names are case-sensitive", "limit_req_zone $uri zone=ONE:10m rate=1r/s;\n"
     "server { limit_req zone=one; }"),
    ("empty zone name", Z + "server { limit_req zone=; }"),
    ("second zone parameter unknown", Z + "server { limit_req zone=one zone=two; }"),
    ("burst zero", Z + "server { limit_req zone=one burst=0; }"),
    ("burst not a number", Z + "server { limit_req zone=one burst=x; }"),
    ("delay zero", Z + "server { limit_req zone=one burst=5 delay=0; }"),
    ("limit_req parameter", Z + "server { limit_req zone=one foo; }"),
    ("limit_req without zone", Z + "server { limit_req burst=3; }"),
    ("limit_req duplicate", Z + "server {\n limit_req zone=one;\n limit_req zone=one;\n}"),
    ("limit_req in if", Z + "server { location / { if ($uri) { limit_req zone=one; } } }"),
    ("status too low", Z + "server { limit_req_status 399; }"),
    ("status too high", Z + "server { limit_req_status 600; }"),
    ("status not a number", Z + "server { limit_req_status abc; }"),
    ("status duplicate", Z + "server { limit_req_status 429; limit_req_status 430; }"),
    ("log level debug", Z + "server { limit_req_log_level debug; }"),
    ("dry run value", Z + "server { limit_req_dry_run yes; }"),
    ("zone in server", "server { limit_req_zone $uri zone=x:10m rate=1r/s; }"),
    ("errors in file order", Z + "server {\n limit_req_status 9;\n"
     " limit_req zone=one burst=0;\n}"),
    ("conn zone without size", "limit_conn_zone $uri zone=c;"),
    ("conn zone parameter", "limit_conn_zone $uri foo=1;"),
    ("conn zone too small", "limit_conn_zone $uri zone=c:1;"),
    ("conn zone without name", C + "limit_conn_zone $uri zone=:10m;"),
    ("conn zone bound twice", C + "limit_conn_zone $host zone=c:10m;"),
    ("conn zero", C + "server { limit_conn c 0; }"),
    ("conn not a number", C + "server { limit_conn c x; }"),
    ("conn too many", C + "server { limit_conn c 65536; }"),
    ("conn max", C + "server { limit_conn c 65535; }"),
    ("conn duplicate", C + "server { limit_conn c 1; limit_conn c 2; }"),
    ("conn unknown zone", C + "server { limit_conn d 1; }"),
    ("conn on a limit_req zone", Z + "server { limit_conn one 1; }"),
    ("conn status", C + "server { limit_conn_status 600; }"),
    ("conn log level", C + "server { limit_conn_log_level foo; }"),
    ("conn arity", "limit_conn_zone $uri zone=c:10m foo;"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_config_errors_same_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, "events {}\nhttp {\n" + body + "\n}\n")
    real = first_emerg(nginx_test(tmp_path).output)
    ours = engine_load_error(tmp_path)
    assert ours == real
