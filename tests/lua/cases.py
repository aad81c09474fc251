"""Helpers to turn a list of (name, location body, request) into one config whose
locations are /c0, /c1, ... so one real nginx serves a whole family of cases."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.differential import Req
from tests.oracle import spell_port


def build_conf(cases: list[tuple], http_extra: str = "", server_extra: str = "") -> str:
    locations = []
    for i, case in enumerate(cases):
        body = case[1]
        locations.append(f"        location /c{i} {{\n{body}\n        }}")
    return (
        "events {}\nhttp {\n" + http_extra + "\n"
        "    server {\n        listen 127.0.0.1:{port};\n        server_name localhost;\n"
        + server_extra + "\n" + "\n".join(locations) + "\n    }\n}\n"
    )


def request_for(i: int, case: tuple) -> Req:
    req: Req = case[2] if len(case) > 2 and case[2] is not None else Req()
    suffix = req.target if req.target != "/" else ""
    return Req(req.method, f"/c{i}{suffix}", req.headers, req.body, req.version)


def lua(code: str, extra: str = "") -> str:
    """A location body: ``extra`` directives, then ``code`` as its content_by_lua_block."""
    return f"{extra}\ncontent_by_lua_block {{\n{code}\n}}"


def point(cases: list[tuple], targets: dict[str, str]) -> list[tuple]:
    """Replace placeholder URIs (``"/c18"``) with the /cN of the case named in ``targets``,
    so cases can refer to each other whatever their order."""
    names = [c[0] for c in cases]
    resolved = {ph: f"/c{names.index(name)}" for ph, name in targets.items()}
    out = []
    for name, body, *rest in cases:
        for placeholder, uri in resolved.items():
            body = body.replace(placeholder + '"', uri + '"').replace(placeholder + ";",
                                                                        uri + ";")
        out.append((name, body, *rest))
    return out


_LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w*)\] \d+#\d+: (\*\d+ )?(.*)$")


def log_entries(text: str, port: int) -> list[tuple[str, bool, str]]:
    """(level, has a connection number, message) per error-log entry, a traceback kept
    with its entry, the port spelled {port}."""
    out: list[tuple[str, bool, str]] = []
    for line in spell_port(text, port, "{port}").splitlines():
        m = _LOG_LINE.match(line)
        if m:
            out.append((m.group(1), m.group(2) is not None, m.group(3)))
        elif out:
            level, numbered, message = out[-1]
            out[-1] = (level, numbered, message + "\n" + line)
    return out


def mark_logs(pair: Any) -> None:
    """Start reading both sides' error logs from here (see :func:`new_log_lines`)."""
    pair.seen = {"real": len(pair.real.error_log()), "ours": len(pair.engine_errors())}


def new_log_lines(pair: Any, side: str, drop: tuple[str, ...] = (),
                  numbered: bool = False) -> list[tuple]:
    """The entries ``side`` ("real" or "ours") wrote since the last look: (level,
    message), or (level, has a connection number, message) when ``numbered``; the
    prefixes spelled {prefix}, the extra ports {port1}...; the readiness probe's
    "closed connection" lines and those containing any of ``drop`` left out."""
    text = pair.real.error_log() if side == "real" else pair.engine_errors()
    fresh = text[pair.seen[side]:]
    pair.seen[side] = len(text)
    for prefix in (str(pair.real.prefix), str(pair.prefix)):
        fresh = fresh.replace(prefix, "{prefix}")
    for i, port in enumerate(pair.ports[1:], 1):
        fresh = spell_port(fresh, port, f"{{port{i}}}")
    return [entry if numbered else (entry[0], entry[2])
            for entry in log_entries(fresh, pair.port)
            if "closed connection" not in entry[2] and not any(d in entry[2] for d in drop)]


def assert_case_as_openresty(pair: Any, cases: list[tuple], index: int,
                             drop: tuple[str, ...] = ()) -> None:
    """Case ``index`` on both sides: the same reply, and the same error-log entries
    (see :func:`new_log_lines`, ``drop`` too)."""
    real, ours = pair.both(request_for(index, cases[index]))
    real_log = new_log_lines(pair, "real", drop)
    ours_log = new_log_lines(pair, "ours", drop)
    if ours_log != real_log:  # nginx may write its log-phase lines after the reply
        time.sleep(0.3)
        real_log += new_log_lines(pair, "real", drop)
    assert ours.comparable() == real.comparable()
    assert ours_log == real_log
