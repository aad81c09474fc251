"""Parse-time checks of the upstream modules' shared handlers, with nginx's wording.

proxy, fastcgi, uwsgi, scgi, grpc and memcached read these directives with the same
handlers (``ngx_http_upstream_bind_set_slot``, ``ngx_conf_set_access_slot``,
``ngx_conf_set_path_slot``, ``ngx_http_file_cache_set_slot``,
``ngx_http_file_cache_valid_set_slot``, the ``*_cache``/``*_store`` pair) and refuse a
bad value at the line, before anything later in the file is read. Doing it here, for
every prefix, keeps that order even where no module models the directive (the proxy
module's own checks at configure time come after and agree).
"""

from __future__ import annotations

import ipaddress

from ..ast import Directive
from .addresses import inet_addr
from .slots import nginx_int, nginx_size, nginx_time

__all__ = ["upstream_error", "parse_addr_port", "complex_value_error", "regex_error"]

_PREFIXES = ("proxy", "fastcgi", "uwsgi", "scgi", "grpc", "memcached")


def _split(name: str) -> tuple[str, str]:
    """("scgi", "_cache_path") for "scgi_cache_path"; ("", name) for other modules."""
    head, _, tail = name.partition("_")
    return (head, "_" + tail) if head in _PREFIXES else ("", name)


def upstream_error(d: Directive, earlier: set[str]) -> str | None:
    """The error the handler of ``d`` gives, or None. ``earlier`` holds the names of
    the directives already read in the same block (for ``*_cache``/``*_store``)."""
    prefix, kind = _split(d.name)
    if d.name == "dav_access" or (prefix and kind == "_store_access"):
        return _access(d.args)
    if d.name.endswith("_temp_path"):  # the client_body_* one too: the same slot
        return _path_levels(d)
    if not prefix:
        return None
    if kind == "_bind":
        return _bind(d.args)
    if kind in ("_cache_bypass", "_no_cache"):  # ngx_http_set_predicate_slot
        return next(filter(None, map(complex_value_error, d.args)), None)
    if kind == "_cache_valid":
        return _cache_valid(d.args)
    if kind == "_cache_path":
        return _cache_path(d)
    if kind == "_cache":
        if d.args[0] == "off":
            return None
        if f"{prefix}_store" in earlier:
            return f'"{d.name}" directive is incompatible with "{prefix}_store"'
        return complex_value_error(d.args[0])
    if kind == "_store" and f"{prefix}_cache" in earlier:
        return f'"{d.name}" directive is incompatible with "{prefix}_cache"'
    if d.name in ("proxy_cookie_path", "proxy_cookie_domain", "proxy_redirect"):
        first = d.args[0]
        if len(d.args) == 1:
            keywords = ("off", "default") if d.name == "proxy_redirect" else ("off",)
            return None if first in keywords else f'invalid parameter "{first}"'
        if first.startswith("~"):
            err = regex_error(first[2:] if first.startswith("~*") else first[1:])
        else:
            err = complex_value_error(first)
        return err or complex_value_error(d.args[1])
    return None


def complex_value_error(text: str) -> str | None:
    """``ngx_http_compile_complex_value``'s syntax errors (unknown variables are found
    later, when the whole configuration is read)."""
    from ...http.variables import split_value
    parts = split_value(text)
    return parts if isinstance(parts, str) else None


def regex_error(pattern: str) -> str | None:
    """``ngx_regex_compile``'s error for ``pattern`` (the engine's PCRE2 model)."""
    from ...http.regex import Regex, RegexError
    try:
        Regex(pattern, False)
    except RegexError as exc:
        return str(exc)
    return None


def _parse_addr(text: str) -> bool:
    """``ngx_parse_addr``: an IPv4 or a bare IPv6 address, no port, no name."""
    if inet_addr(text):
        return True
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def parse_addr_port(text: str) -> bool:
    """``ngx_parse_addr_port``: an address, or ``addr:port`` / ``[v6]:port`` with a port
    in 1..65535; names are not resolved (False is nginx's NGX_DECLINED)."""
    if _parse_addr(text):
        return True
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or end == len(text) - 1 or text[end + 1] != ":":
            return False
        host, port = text[1:end], text[end + 2:]
    else:
        host, colon, port = text.partition(":")
        if not colon:
            return False
    number = nginx_int(port)
    return number is not None and 1 <= number <= 65535 and _parse_addr(host)


def _bind(args: list[str]) -> str | None:
    """``*_bind address [transparent] | off``: a literal address must parse; a value
    with variables is checked only for its syntax."""
    if args == ["off"]:
        return None
    first = args[0]
    err = complex_value_error(first)
    if err:
        return err
    if "$" not in first and not parse_addr_port(first):
        return f'invalid address "{first}"'
    if len(args) > 1 and args[1] != "transparent":
        return f'invalid parameter "{args[1]}"'
    return None


def _access(args: list[str]) -> str | None:
    """``ngx_conf_set_access_slot``: ``user:``/``group:``/``all:`` then ``r`` or ``rw``."""
    for arg in args:
        who, colon, what = arg.partition(":")
        if not colon or who not in ("user", "group", "all") or what not in ("r", "rw"):
            return f'invalid value "{arg}"'
    return None


def _path_levels(d: Directive) -> str | None:
    """``ngx_conf_set_path_slot``: each level a number other than 0."""
    for level in d.args[1:]:
        if not nginx_int(level):
            return f'"{d.name}" directive invalid value'
    return None


def _cache_valid(args: list[str]) -> str | None:
    """``ngx_http_file_cache_valid_set_slot``: the time (seconds) last, checked first;
    then each status ``any`` or 100..599."""
    if nginx_time(args[-1], True) is None:
        return f'invalid time value "{args[-1]}"'
    for code in args[:-1]:
        number = nginx_int(code)
        if code != "any" and (number is None or not 100 <= number <= 599):
            return f'invalid status "{code}"'
    return None


#: ngx_http_file_cache_set_slot's key=value parameters and how each value is read.
_CACHE_PARAMS = {"inactive": "sec", "max_size": "offset", "min_free": "offset",
                 "loader_files": "num", "loader_sleep": "msec", "loader_threshold": "msec",
                 "manager_files": "num", "manager_sleep": "msec",
                 "manager_threshold": "msec"}


def _param_ok(kind: str, value: str) -> bool:
    if kind == "num":
        return nginx_int(value) is not None
    if kind == "offset":
        return nginx_size(value, True) is not None
    return nginx_time(value, kind == "sec") is not None


def _levels_ok(value: str) -> bool:
    parts = value.split(":") if value else []
    return len(parts) <= 3 and all(p in ("1", "2") for p in parts)


def _cache_path(d: Directive) -> str | None:
    """``ngx_http_file_cache_set_slot``: parameters in order, then ``keys_zone`` needed."""
    zone = False
    for arg in d.args[1:]:
        key, eq, value = arg.partition("=")
        if not eq:
            return f'invalid parameter "{arg}"'
        if key == "levels":
            if not _levels_ok(value):
                return f'invalid "levels" "{arg}"'
        elif key == "use_temp_path":
            if value not in ("on", "off"):
                return f'invalid use_temp_path value "{arg}", it must be "on" or "off"'
        elif key == "keys_zone":
            name, colon, text = value.partition(":")
            size = nginx_size(text) if colon else None
            if size is None:
                return f'invalid keys zone size "{arg}"'
            if size < 8192:
                return f'keys zone "{arg}" is too small'
            zone = bool(name)
        elif key in _CACHE_PARAMS:
            if not _param_ok(_CACHE_PARAMS[key], value):
                return f'invalid {key} value "{arg}"'
        else:
            return f'invalid parameter "{arg}"'
    return None if zone else f'"{d.name}" must have "keys_zone" parameter'
