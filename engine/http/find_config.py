"""nginx's find-config phase (ngx_http_core_find_config_phase): choosing the location
of a request's URI, with the trace of every comparison, then what the chosen location
decides (``internal``, ``limit_except``, keep-alive, the body size limit, the slash
redirect). The tree walk itself is :mod:`.location`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .location import DONE as LOC_DONE
from .location import LocationConf, find_location, no_test, test_recorder, trace_location
from .request_head import keepalive_disabled
from .uri import escape_uri

if TYPE_CHECKING:
    from .request import Request


def find_config(r: Request) -> int | None:
    """The find-config phase: choose the location; None, or the status to finalize
    the request with (an internal location, a body too large, the slash redirect)."""
    r.uri_changed = False
    r.content_handler = None
    tr = r.trace

    def regex_test(loc: LocationConf) -> bool:
        assert loc.regex is not None
        caps = loc.regex.exec(r.uri)
        if tr.enabled:
            tr.add("location_test", location=loc.display(), node=loc.name,
                   verdict="regex matches" if caps is not None else "regex does not match",
                   file=loc.directive.file if loc.directive else "",
                   line=loc.directive.line if loc.directive else 0)
        if caps is not None:
            r.captures = caps
            for name, value in loc.regex.named(caps).items():
                r.variables[name] = value
        return caps is not None

    rc, loc = find_location(r.server, r.uri, test_recorder(tr) if tr.enabled else no_test,
                            regex_test)
    r.loc = loc or r.server
    if tr.enabled:
        trace_location(tr, rc, loc, r.loc)
    if not r.internal and r.loc.first("internal") is not None:
        return 404
    _limit_except(r)
    update_location_config(r)
    cl = r.headers_in.get("content-length")
    if cl is not None and cl.isdigit() and r.is_main and \
            int(cl) > _max_body(r) > 0:
        r.log("error", f"client intended to send too large body: {int(cl)} bytes")
        r.keepalive = False
        return 413
    if rc == LOC_DONE:
        target = escape_uri(r.loc.name) + ("?" + r.args if r.args else "")
        r.out.location = target
        return 301
    r.phase_index += 1
    return None


def _limit_except(r: Request) -> None:
    """A method that ``limit_except`` does not list gets the block's configuration."""
    for block in getattr(r.loc, "nameless", ()):
        if block.kind != "limit_except" or block.directive is None:
            continue
        allowed = {m.upper() for m in block.directive.args}
        if "GET" in allowed:
            allowed.add("HEAD")
        if r.method not in allowed:
            r.loc = block
            if r.trace.enabled:
                r.trace.add("location", location=f"limit_except {' '.join(sorted(allowed))}",
                            reason=f"{r.method} is not listed", outcome="limit_except",
                            file=block.directive.file, line=block.directive.line)
        return


def _max_body(r: Request) -> int:
    return r.loc.mod.get("core", {}).get("client_max_body_size", 1024 * 1024)


def update_location_config(r: Request) -> None:
    """ngx_http_update_location_config: what the location decides for the request once
    it is chosen (keep-alive, the content handler); again after each redirect."""
    core = r.loc.mod.get("core", {})
    if r.keepalive:
        ka = core.get("keepalive_timeout", 75.0)
        if not ka:
            r.keepalive = False
        elif r.conn.requests >= core.get("keepalive_requests", 1000):
            r.keepalive = False
        elif "user-agent" in r.headers_in and keepalive_disabled(r, core):
            r.keepalive = False
    r.content_handler = r.loc.mod.get("content_handler")  # type: ignore[attr-defined]
