"""What nginx decides from a request's head before the phases run (ngx_http_request.c's
share of the work): the target parsed into ``$uri``/``$args``, the Host rules in nginx's
order, and whether the connection may be kept alive.

Each check answers with the error-log line of a 400 (nginx's wording, ``while reading
...`` included) or None, so the engine only has to log it and finalize.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .servers import valid_host
from .uri import InvalidURI, ParsedTarget, parse_target
from .user_agent import browser

if TYPE_CHECKING:
    from .request import Request

_READING = " while reading client request headers"


def read_target(r: Request) -> ParsedTarget | None:
    """The request line's target as ``$uri``, ``$args`` and ``$request_uri``; None for
    one nginx refuses (then nothing was kept: ``$request_uri`` is "-", ``$uri`` "")."""
    try:
        target = parse_target(r.unparsed_uri, _merge_slashes(r))
    except InvalidURI:
        r.headers_in.items = []  # nginx has not read the headers yet
        r.unparsed_uri = ""
        r.set_uri("")
        return None
    r.unparsed_uri = target.unparsed
    r.set_uri(target.uri)
    args = target.args
    found = bool(args)
    if "#" in target.unparsed:
        # nginx's target ends at a "#": "/a?b#c" has the args "b", "/a#b?c" none
        found = found and "#" not in target.unparsed.partition("?")[0]
        args = args.partition("#")[0] if found else ""
    r.args = args
    # nginx keeps no args for "/a?" (nothing after the "?"): $args is not found; for
    # "/a?#b" they are found, empty
    r.has_args = found
    return target


def _merge_slashes(r: Request) -> bool:
    """``merge_slashes`` as the address's default server has it: nginx parses the URI
    before the Host header has chosen the virtual server."""
    conn = r.conn
    addresses = r.engine.cfg.addresses
    entry = addresses.get((conn.server_addr, conn.server_port)) or \
        addresses.get(("*", conn.server_port))
    return entry is None or entry.merge_slashes


def reading_line(r: Request) -> str:
    """nginx's log action for a refused request line: a pipelined one (in the buffer when
    the request before it ended) says so."""
    if r.conn.pipelined:
        return " while reading client pipelined request line"
    return " while reading client request line"


def check_host(r: Request, target: ParsedTarget) -> tuple[str | None, str | None]:
    """nginx's Host checks in its order: the request line's host, then each Host header
    (validated even when the line named the host; a second one is refused), then a
    missing Host in HTTP/1.1. Returns (the error-log message of a 400 or None, the host
    name that chooses the server)."""
    line_host = valid_host(target.host) if target.host is not None else None
    if target.host is not None and line_host is None:
        r.headers_in.items = []  # nginx has not read the headers yet
        return "client sent invalid host in request line" + reading_line(r), None
    lines = [(k, v) for k, v in r.headers_in.items if k.lower() == "host"]
    header_host = valid_host(lines[0][1]) if lines else None
    if lines and header_host is None:
        return "client sent invalid host header" + _READING, line_host
    host = line_host or header_host
    if len(lines) > 1:  # the listener refuses these first; in-process requests too
        (k0, v0), (k1, v1) = lines[:2]
        return (f'client sent duplicate host header: "{k1}: {v1}", previous value: '
                f'"{k0}: {v0}"' + _READING), host
    if not lines and r.http_version >= 1001:
        # nginx has chosen the server first, by the empty name: server_name "" if any
        return ('client sent HTTP/1.1 request without "Host" header' + _READING,
                "" if host is None else host)
    return None, host


def keepalive_disabled(r: Request, core: dict) -> bool:
    """``keepalive_disable`` (msie6 by default): no keep-alive for POSTs from old MSIE,
    nor (with ``safari``) for Safari on macOS."""
    disable = core.get("keepalive_disable", ("msie6",))
    agent = browser(r.headers_in.get("user-agent"))
    return (agent.msie6 and r.method == "POST" and "msie6" in disable) \
        or (agent.safari and "safari" in disable)
