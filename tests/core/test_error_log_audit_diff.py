"""An audit of the error log against real nginx, entry by entry and file by file:
ngx.log / print argument formatting and errors, every level, which ``error_log``
(http / server / location, several in one block, ``off``) takes a line from a location,
an internal redirect, a subrequest, a timer and init_worker_by_lua, the context suffix
(debug lines have none, log-phase lines say ``while logging request``), lines cut at
NGX_MAX_ERROR_STR (2048 bytes with the linefeed), and ``error_log``'s level arguments
through ``nginx -t``. Time stamps, pids and connection numbers aside."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from engine import Engine
from engine.conf import ConfigError
from tests.differential import Req
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

#: The levels 0 (stderr) to 8 (debug), one line each.
ALL = 'for i = 0, 8 do ngx.log(i, "L", i) end'

#: ngx.log / print calls, each in its own location under a debug-level server log.
LUA = {
    "nil_bool": 'ngx.log(ngx.ERR, nil, true, false)',
    "ints": 'local z = 0; ngx.log(ngx.ERR, 1, " ", -z, " ", 2^31, " ", -2^31 - 1, " ", 2^53)',
    "floats": 'ngx.log(ngx.ERR, 1.5, " ", 0.1, " ", 1e300, " ", 1e-300, " ", math.pi)',
    "nan_inf": 'ngx.log(ngx.ERR, 0/0, " ", -(0/0), " ", 1/0, " ", -1/0)',
    "null": 'ngx.log(ngx.ERR, ngx.null, "|", ngx.null)',
    "no_args": 'ngx.log(ngx.ERR)',
    "tostring": 'ngx.log(ngx.ERR, setmetatable({}, {__tostring = function() return "TS" end}))',
    "tostring_num": 'ngx.log(ngx.ERR, setmetatable({}, {__tostring = function() return 5 end}))',
    "tostring_table": 'ngx.log(ngx.ERR, "<", setmetatable({}, {__tostring = function() '
                      'return {} end}), ">")',
    "plain_table": 'ngx.log(ngx.ERR, "a", {})',
    "function": 'ngx.log(ngx.ERR, print)',
    "userdata": 'ngx.log(ngx.ERR, "x", io.stdout)',
    "level_9": 'ngx.log(9, "x")',
    "level_minus_1": 'ngx.log(-1, "x")',
    "level_string": 'ngx.log("4", "x")',
    "level_bad_string": 'ngx.log("abc", "x")',
    "level_nil": 'ngx.log(nil, "x")',
    "level_none": 'ngx.log()',
    "level_float": 'ngx.log(8.9, "dbg") ngx.log(-0.5, "cut to 0") ngx.log(2^32 + 4, "wraps")',
    "all_levels": ALL,
    "print": 'print(nil, 1, true, ngx.null, " ", 0.5)',
    "print_table": 'print("a", {})',
    "named_function": 'local function foo() ngx.log(ngx.ERR, "in foo") end foo()',
    "newlines": 'ngx.log(ngx.ERR, "a\\nb\\r\\nc\\0d\\255")',
    # lines past 2047 bytes: the message, the context, a traceback are cut alike
    "long_message": 'ngx.log(ngx.ERR, string.rep("a", 1990), "BCDEFGHIJ", string.rep("z", 99))',
    "long_error": 'error(string.rep("e", 1900) .. "\\nline2\\n" .. string.rep("f", 200))',
    "long_traceback": 'local function f() error(string.rep("e", 1700)) end f()',
    "near_limit": 'ngx.log(ngx.ERR, string.rep("s", 1800))',
}

_LOCATIONS = "\n".join(
    f"        location = /fmt/{name} {{ content_by_lua_block {{ {code} ngx.say('ok') }} }}"
    for name, code in LUA.items())

CONF = r"""
error_log logs/error.log debug;
events {}
http {
    access_log off;
    large_client_header_buffers 4 16k;
    error_log logs/http.log notice;
    init_worker_by_lua_block { %(ALL)s }
    server {
        listen 127.0.0.1:{port};
        server_name audit.test;
        error_log logs/server.log debug;
%(LOCATIONS)s
        location = /two { error_log logs/loc.log error; error_log logs/loc2.log info;
                          content_by_lua_block { %(ALL)s } }
        location /inherit { error_log logs/inherit.log warn;
                              location = /inherit/inner { content_by_lua_block { %(ALL)s } } }
        location = /redir { error_log logs/redir.log crit;
                            rewrite_by_lua_block { %(ALL)s ngx.exec("/two") } }
        location = /sub { error_log logs/sub.log alert;
                          content_by_lua_block { %(ALL)s ngx.location.capture("/two") } }
        location = /timer { error_log logs/timer.log error;
                            content_by_lua_block { ngx.timer.at(0, function() %(ALL)s end)
                                                   ngx.sleep(0.05) } }
        location = /off { error_log off; content_by_lua_block { %(ALL)s } }
        location = /phases {
            error_log logs/phases.log debug;
            set_by_lua_block $x { ngx.log(ngx.ERR, "set") return 1 }
            rewrite_by_lua_block { ngx.log(ngx.ERR, "rewrite") }
            access_by_lua_block { ngx.log(ngx.ERR, "access") }
            content_by_lua_block { ngx.log(ngx.ERR, "content") ngx.say("x") }
            header_filter_by_lua_block { ngx.log(ngx.ERR, "header") }
            body_filter_by_lua_block { ngx.log(ngx.ERR, "body") }
            log_by_lua_block { ngx.log(ngx.ERR, "log") ngx.log(ngx.DEBUG, "debug in log")
                               local t = nil; t.x = 1 }
        }
        location /req { error_log logs/req.log error; content_by_lua_block { ngx.log(ngx.ERR, "hi") } }
    }
}
""" % {"ALL": ALL, "LOCATIONS": _LOCATIONS}

#: Every log file the config names (relative to the prefix); "off" is a file too.
LOGS = ["logs/error.log", "logs/http.log", "logs/server.log", "logs/loc.log",
        "logs/loc2.log", "logs/inherit.log", "logs/redir.log", "logs/sub.log",
        "logs/timer.log", "logs/phases.log", "logs/req.log", "off"]

H = [("Host", "audit.test")]

CASES = [(f"lua {name}", Req("GET", f"/fmt/{name}", H)) for name in LUA] + [
    ("two error_logs in a location", Req("GET", "/two", H)),
    ("nested location inherits", Req("GET", "/inherit/inner", H)),
    ("internal redirect", Req("GET", "/redir", H)),
    ("subrequest writes to the parent's log", Req("GET", "/sub", H)),
    ("timer writes to its creator's log", Req("GET", "/timer", H)),
    ("error_log off is a file", Req("GET", "/off", H)),
    ("every phase", Req("GET", "/phases", H + [("Referer", "http://ref.test/")])),
    ("long request line", Req("GET", "/req" + "q" * 1950, H)),
    ("long host", Req("GET", "/req", [("Host", "h" * 2100)])),
    ("long referrer", Req("GET", "/req", H + [("Referer", "r" * 2100)])),
    ("http/1.0 without host", Req("GET", "/req?a=%20\"b\"", [], version="HTTP/1.0")),
]

_PREFIX = re.compile(rb"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w*)\] \d+#\d+: (\*\d+ )?", re.M)
#: NGX_MAX_ERROR_STR less the linefeed: the length of a line that was cut.
_CUT = 2047


def _entries(data: bytes, prefix: Path, lua_only: bool) -> list[tuple[str, bool, str, bool]]:
    """(level, has a connection number, message with its context and any traceback, was
    cut) per entry; nginx's own debug lines are left out (not modelled), and so is all
    but the Lua lines when ``lua_only`` (the main log also has start-up lines)."""
    out = []
    starts = list(_PREFIX.finditer(data))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() - 1 if i + 1 < len(starts) else len(data.rstrip(b"\n"))
        level = m.group(1).decode()
        body = data[m.end():end].decode("utf-8", "surrogateescape")
        internal = level == "debug" and not body.startswith("[lua]")
        if internal or (lua_only and "[lua]" not in body):
            continue
        body = body.replace(str(prefix).rstrip("/"), "{prefix}")
        out.append((level, m.group(2) is not None, body, end - m.start() == _CUT))
    return out


def _same(real: list, ours: list) -> bool:
    """Equal entry lists; a cut entry matches when both were cut and agree as far as the
    shorter goes (the pids' and connection numbers' digits move the cut)."""
    if len(real) != len(ours):
        return False
    for a, b in zip(real, ours):
        if a[3] and b[3]:
            n = min(len(a[2]), len(b[2]))
            if a[:2] != b[:2] or a[2][:n] != b[2][:n] or abs(len(a[2]) - len(b[2])) > 16:
                return False
        elif a != b:
            return False
    return True


def _fresh(pair, seen: dict) -> dict[str, tuple[list, list]]:  # type: ignore[no-untyped-def]
    """Per log file: the entries real nginx and the engine wrote since the last look."""
    out = {}
    for rel in LOGS:
        sides = []
        for root in (pair.real.prefix, pair.prefix):
            path = root / rel
            data = path.read_bytes() if path.exists() else b""
            new = data[seen.get(path, 0):]
            seen[path] = len(data)
            sides.append(_entries(new, root, rel == "logs/error.log"))
        out[rel] = (sides[0], sides[1])
    return out


def _assert_same(fresh: dict[str, tuple[list, list]]) -> None:
    for rel, (real, ours) in fresh.items():
        assert _same(real, ours), f"{rel}:\nreal: {real}\nours: {ours}"


@requires_nginx
def test_init_worker_writes_to_the_http_log(pair):
    time.sleep(0.2)  # the worker runs init_worker_by_lua after it starts listening
    fresh = _fresh(pair, pair.__dict__.setdefault("_seen", {}))
    assert len(fresh["logs/http.log"][0]) == 7  # stderr..notice: the http block's level
    # (server.log has the oracle's readiness probe: "client closed connection ...")
    _assert_same({rel: fresh[rel] for rel in ("logs/error.log", "logs/http.log")})


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_error_log_entries_as_nginx(pair, name, req):
    seen = pair.__dict__.setdefault("_seen", {})
    _fresh(pair, seen)
    pair.both(req)
    time.sleep(0.02)  # nginx writes log-phase lines before it closes, but be safe
    fresh = _fresh(pair, seen)
    assert any(real for real, _ in fresh.values()), "real nginx logged nothing"
    _assert_same(fresh)


E = "events {}\n"

CONF_CASES = [
    ("main-bad-level", E + "error_log logs/x.log bogus;\n"),
    ("http-bad-level", E + "http { error_log logs/x.log loud; }\n"),
    ("two-levels", E + "http { error_log logs/x.log warn error; }\n"),
    ("same-level-twice", E + "http { error_log logs/x.log warn warn; }\n"),
    ("debug-names", E + "http { error_log logs/x.log debug_http debug_core; }\n"),
    ("level-then-debug-name", E + "http { error_log logs/x.log info debug_http; }\n"),
    ("debug-name-then-level", E + "http { error_log logs/x.log debug_http warn; }\n"),
    ("stderr-is-no-level", E + "http { error_log logs/x.log stderr; }\n"),
    ("location-extra-arg", E + "http { server { location / { error_log x crit x; } } }\n"),
    ("no-args", E + "http { error_log; }\n"),
    ("off-with-level", E + "error_log off warn;\n"),
    ("stderr-target", E + "http { error_log stderr info; }\n"),
]


def _ours(prefix: Path) -> str | None:
    """Our load's [emerg], the main context's error_log included (checked by Engine)."""
    try:
        Engine.load(str(prefix / "conf" / "nginx.conf"), prefix=str(prefix) + "/")
    except ConfigError as exc:
        return str(exc).replace(str(prefix).rstrip("/"), "{prefix}")
    return None


@requires_nginx
@pytest.mark.parametrize("name,conf", CONF_CASES, ids=[c[0] for c in CONF_CASES])
def test_error_log_levels_like_nginx_t(tmp_path: Path, name: str, conf: str) -> None:
    write_prefix(tmp_path, conf, {})
    real = first_emerg(nginx_test(tmp_path).output)
    if real is not None:
        real = real.replace(str(tmp_path).rstrip("/"), "{prefix}")
    assert _ours(tmp_path) == real
