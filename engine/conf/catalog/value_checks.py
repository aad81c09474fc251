"""Parse-time value checks of handlers whose modules the engine models only in part (or
checks late), with nginx's wording, plus the two checks nginx makes after the whole
file is read: variables no module defines, and what the cycle needs (connections for
the listening sockets, a size for every shared zone).

A handler refuses a bad value at its line, before later lines are read: doing it here
keeps that order even where a module's own configure() (which runs once everything is
read) checks the same value again and agrees.
"""

from __future__ import annotations

from typing import Iterable

from ..ast import Directive
from ..errors import ConfigError
from .addresses import cidr, resolves
from .slots import nginx_int, nginx_size, nginx_time
from .upstream_checks import complex_value_error, regex_error

__all__ = ["value_error", "value_warnings", "unknown_variable",
           "cycle_error"]

_PAGE = 4096
#: The ngx_lua phases whose handlers refuse an empty code string or path.
_RUNNABLE = ("rewrite_", "access_", "content_", "log_", "header_filter_", "body_filter_")

#: Arguments compiled as complex values by handlers no module models (index -> all
#: from there on): their variables must exist once the configuration is read.
_COMPLEX_ARGS = {"add_trailer": 1, "fastcgi_cache_bypass": 0, "fastcgi_no_cache": 0,
                 "uwsgi_cache_bypass": 0, "uwsgi_no_cache": 0, "scgi_cache_bypass": 0,
                 "scgi_no_cache": 0, "proxy_ssl_certificate": 0,
                 "proxy_ssl_certificate_key": 0, "uwsgi_ssl_certificate": 0,
                 "uwsgi_ssl_certificate_key": 0, "grpc_ssl_certificate": 0,
                 "grpc_ssl_certificate_key": 0, "proxy_cookie_flags": 0,
                 "uwsgi_param": 1, "scgi_param": 1, "fastcgi_bind": 0, "uwsgi_bind": 0,
                 "scgi_bind": 0, "grpc_bind": 0, "memcached_bind": 0, "proxy_bind": 0,
                 "proxy_store": 0, "fastcgi_store": 0, "uwsgi_store": 0, "scgi_store": 0}


def value_error(d: Directive) -> str | None:
    """The error the handler of ``d`` gives at its line, or None (raises the one ngx_lua
    logs at another level)."""
    name, args = d.name, d.args
    if name == "expires":
        return _expires(args)
    if name == "set":  # ngx_http_rewrite_set
        if len(args[0]) < 2 or args[0][0] != "$":
            return f'invalid variable name "{args[0]}"'
        return complex_value_error(args[1])
    if name == "userid_expires":
        ok = args[0] in ("max", "off") or nginx_time(args[0], True) is not None
        return None if ok else '"userid_expires" directive invalid value'
    if name == "open_file_cache":
        return _open_file_cache(args)
    if name == "add_trailer":
        err = complex_value_error(args[1]) if args[1] else None
        if err is None and len(args) == 3 and args[2] != "always":
            err = f'invalid parameter "{args[2]}"'
        return err
    if name == "http2_push" or name.endswith("_cache_key"):
        return None if args[0] == "off" else complex_value_error(args[0])
    if name == "proxy_cookie_flags":
        return _cookie_flags(args)
    if name.endswith(("_ssl_certificate", "_ssl_certificate_key")) and \
            name in _COMPLEX_ARGS:  # ngx_http_set_complex_value_zero_slot
        return complex_value_error(args[0])
    if name.startswith(_RUNNABLE) and name.endswith(("_by_lua", "_by_lua_file")) \
            and not args[0]:  # ngx_lua logs it at [error], then fails the directive
        raise ConfigError("invalid location config: no runnable Lua code", d.file,
                          d.end_line, level="error")
    if name.endswith("_by_lua_file") and not name.startswith(("ssl_", "init", "exit", "bal")):
        return complex_value_error(args[0])  # a path with variables, found per request
    if name in ("fastcgi_param", "scgi_param", "uwsgi_param") and len(args) == 3 \
            and args[2] != "if_not_empty":
        return f'invalid parameter "{args[2]}"'
    if name in ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass"):
        err = complex_value_error(args[0])  # a value with variables, resolved per request
        if err:
            return err
    if name == "proxy_pass" and "$" not in args[0] and \
            not args[0].lower().startswith(("http://", "https://")):
        return "invalid URL prefix"
    if name == "debug_connection":
        return _debug_connection(args[0])
    if name == "use" and args[0] != "epoll":  # the only event module of Linux builds
        return f'invalid event type "{args[0]}"'
    if name == "zone":
        return _upstream_zone(args)
    if name == "lua_shared_dict":
        if not args[0]:
            return 'invalid lua shared dict name ""'
        size = nginx_size(args[1])
        return None if size is not None and size >= 8192 else \
            f'invalid lua shared dict size "{args[1]}"'
    return None


def value_warnings(d: Directive) -> list[str]:
    """The ``[warn]`` lines these handlers log for an accepted value."""
    if d.name == "debug_connection" and cidr(d.args[0]) is False:
        return [f"low address bits of {d.args[0]} are meaningless"]
    return []


def _expires(args: list[str]) -> str | None:
    """``expires [modified] time|@time|epoch|max|off``: the headers module's parser."""
    from ...modules.headers import parse_expires
    if len(args) == 2 and args[0] != "modified":
        return '"expires" directive invalid value'
    err = complex_value_error(args[-1])
    if err or "$" in args[-1]:
        return err
    parsed = parse_expires(args[-1], len(args) == 2)
    return f'"expires" directive {parsed}' if isinstance(parsed, str) else None


def _open_file_cache(args: list[str]) -> str | None:
    """``ngx_http_core_open_file_cache``: max=N (N > 0), inactive=time, off."""
    has_max = off = False
    for p in args:
        key, eq, value = p.partition("=")
        if key == "max" and eq and nginx_int(value):
            has_max = True
        elif key == "inactive" and eq and nginx_time(value, True) is not None:
            pass
        elif p == "off":
            off = True
        else:
            return f'invalid "open_file_cache" parameter "{p}"'
    if off or has_max:
        return None
    return '"open_file_cache" must have the "max" parameter'


def _cookie_flags(args: list[str]) -> str | None:
    """``proxy_cookie_flags off | cookie flag...``: the cookie a regex or a complex
    value, each flag a complex value (checked when a response comes)."""
    if len(args) == 1:
        return None if args[0] == "off" else f'invalid parameter "{args[0]}"'
    first = args[0]
    if first.startswith("~"):
        err = regex_error(first[2:] if first.startswith("~*") else first[1:])
    else:
        err = complex_value_error(first)
    return err or next(filter(None, map(complex_value_error, args[1:])), None)


def _debug_connection(addr: str) -> str | None:
    """``ngx_event_debug_connection``: unix:, an address or CIDR, else a host name."""
    if addr == "unix:" or cidr(addr) is not None:
        return None
    return None if resolves(addr) else f'host not found in debug_connection "{addr}"'


def _upstream_zone(args: list[str]) -> str | None:
    """``ngx_http_upstream_zone``: a name, and a size of at least 8 pages."""
    if not args[0]:
        return f'invalid zone name "{args[0]}"'
    if len(args) == 1:
        return None
    size = nginx_size(args[1])
    if size is None:
        return f'invalid zone size "{args[1]}"'
    return None if size >= 8 * _PAGE else f'zone "{args[0]}" is too small'


def unknown_variable(items: Iterable[Directive], known: object,
                     modelled: frozenset[str]) -> str | None:
    """The first variable no module defines, in directives that compile complex values
    but that no module models (``known(name)``: the engine's variable table)."""
    from ...http.variables import VarRef, split_value
    for d in items:
        start = _COMPLEX_ARGS.get(d.name)
        if start is None or d.name in modelled:
            continue
        for arg in d.args[start:]:
            parts = split_value(arg)
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, VarRef) and not known(part.name):  # type: ignore[operator]
                    return f'unknown "{part.name}" variable'
    return None


def cycle_error(top: list[Directive]) -> str | None:
    """What ``ngx_init_cycle`` refuses once the file is read: fewer connections than
    listening sockets + 1 (events), then an upstream zone given no size anywhere."""
    events = _first(top, "events")
    http = _first(top, "http")
    wc = _first(events.block or [], "worker_connections") if events else None
    connections = nginx_int(wc.args[0]) if wc else 512
    sockets = _listening(http) if http else 0
    if connections is not None and connections < sockets + 1:
        return f"{connections} worker_connections are not enough for {sockets} " \
               "listening sockets"
    sized: set[str] = set()
    unsized: list[str] = []
    for ups in _children(http, "upstream") if http else ():
        for z in _children(ups, "zone", blocks=False):
            if len(z.args) > 1:
                sized.add(z.args[0])
            else:
                unsized.append(z.args[0])
    missing = next((n for n in unsized if n not in sized), None)
    return None if missing is None else f'zero size shared memory zone "{missing}"'


def _first(items: list, name: str) -> Directive | None:
    return next((d for d in items if isinstance(d, Directive) and d.name == name), None)


def _children(block: Directive, name: str, blocks: bool = True) -> list[Directive]:
    return [d for d in block.block or () if isinstance(d, Directive) and d.name == name
            and (d.block is not None) == blocks]


def _listening(http: Directive) -> int:
    """The sockets nginx opens for the http servers: one per port with a wildcard
    address (specific ones merge into it unless bound), else one per address."""
    from .listen import listen_text
    addrs: set[tuple[str, str, bool]] = set()
    for server in _children(http, "server"):
        listens = _children(server, "listen", blocks=False)
        if not listens:
            addrs.add(("0.0.0.0", "80", False))
        for d in listens:
            text = listen_text(d.args[0]) or d.args[0]
            host, _, port = text.rpartition(":")
            addrs.add((host, port, "bind" in d.args))
    wild = {p for h, p, _ in addrs if h == "0.0.0.0"}
    return len({(h, p) for h, p, bound in addrs
                if h == "0.0.0.0" or p not in wild or bound or h.startswith("[")})
