"""Parse-time checks and warnings of single handlers nginx's build has no shared slot
for (ssl caches, ``aio``, ``disable_symlinks``, ``userid_mark``, a few ngx_lua ones),
with nginx's wording. Each is reported at its line, as the handler reads it.
"""

from __future__ import annotations

from ..ast import Directive
from .slots import nginx_int, nginx_size
from .upstream_checks import complex_value_error
from .value_checks import value_warnings

__all__ = ["misc_error", "misc_warnings"]

#: 8 * ngx_pagesize: the smallest shared zone an ssl cache takes.
_MIN_ZONE = 8 * 4096

#: ngx_http_v2_obsolete: still accepted (any value, any number of times), with a warning.
_HTTP2_OBSOLETE = {
    "http2_recv_timeout": "client_header_timeout", "http2_idle_timeout": "keepalive_timeout",
    "http2_max_requests": "keepalive_requests",
    "http2_max_field_size": "large_client_header_buffers",
    "http2_max_header_size": "large_client_header_buffers",
}


def misc_warnings(d: Directive) -> list[str]:
    """The ``[warn]`` lines a handler logs for an accepted directive."""
    if d.name in _HTTP2_OBSOLETE:
        return [f'the "{d.name}" directive is obsolete, use the '
                f'"{_HTTP2_OBSOLETE[d.name]}" directive instead']
    if d.name == "lua_load_resty_core":
        return ["lua_load_resty_core is deprecated (the lua-resty-core library is required "
                "since ngx_lua v0.10.16)"]
    return value_warnings(d)


def misc_error(d: Directive) -> str | None:
    """The error the handler of ``d`` gives, or None."""
    name, args = d.name, d.args
    if name == "ssl_session_cache":
        return _session_cache(args)
    if name == "ssl_ocsp_cache":
        if args[0] == "off":
            return None
        return _shared_zone(args[0], "OCSP cache") or None
    if name == "aio":
        if args[0] in ("off", "threads", "threads=default"):
            return None
        if args[0] == "on":
            return '"aio on" is unsupported on this platform'
        return '"aio" directive invalid value'
    if name == "disable_symlinks":
        return _disable_symlinks(args)
    if name == "userid_mark":
        mark = args[0]
        if mark == "off" or (len(mark) == 1 and (mark.isascii() and mark.isalnum()
                                                 or mark == "=")):
            return None
        return ('"userid_mark" directive value must be "off" or a single letter, digit '
                'or "="')
    if name == "lua_malloc_trim":
        if nginx_int(args[0]) is None:
            return '"lua_malloc_trim" directive invalid number in the 1st argument'
        return None
    if name == "limit_conn_zone":  # the zone itself is checked when modules configure
        bad = next((a for a in args[1:] if not a.startswith("zone=")), None)
        return complex_value_error(args[0]) or (
            f'invalid parameter "{bad}"' if bad is not None else None)
    if name == "lua_capture_error_log":  # Debian's nginx lacks the patch it needs
        return ('"lua_capture_error_log" directive not found: missing the capture error '
                "log patch for nginx")
    return None


def _shared_zone(value: str, what: str) -> str | None:
    """``shared:NAME:SIZE`` as the ssl cache handlers read it; "" when it is fine."""
    rest = value[len("shared:"):]
    name, colon, size_text = rest.partition(":")
    if not value.startswith("shared:") or not rest or not name:
        return f'invalid {what} "{value}"'
    size = nginx_size(size_text) if colon else None
    if size is None:
        return f'invalid {what} "{value}"'
    if size < _MIN_ZONE:
        return f'{what} "{value}" is too small'
    return ""


def _session_cache(args: list[str]) -> str | None:
    """``ngx_http_ssl_session_cache``: off, none, builtin[:N], shared:NAME:SIZE."""
    for arg in args:
        if arg in ("off", "none", "builtin"):
            continue
        if arg.startswith("builtin:") and len(arg) > len("builtin:"):
            if nginx_int(arg[len("builtin:"):]) is None:
                return f'invalid session cache "{arg}"'
            continue
        bad = _shared_zone(arg, "session cache")
        if bad:
            return bad
    return None


def _disable_symlinks(args: list[str]) -> str | None:
    """``ngx_http_disable_symlinks``: one of off/on/if_not_owner, and ``from=`` (a value
    with variables) only when not off."""
    mode = ""
    has_from = False
    for arg in args:
        if arg in ("off", "on", "if_not_owner"):
            if mode:
                return f'duplicate parameters "{mode} {arg}"'
            mode = arg
        elif arg.startswith("from="):
            err = complex_value_error(arg[len("from="):])
            if err:
                return err
            has_from = True
        else:
            return f'invalid parameter "{arg}"'
    if not mode:
        return '"disable_symlinks" must have "off", "on" or "if_not_owner" parameter'
    if has_from and mode == "off":
        return '"from=" cannot be used with "off" parameter'
    return None
