"""proxy_cache's configuration: ``proxy_cache_path`` zones and the per-block settings.

nginx checks these values as it reads each directive (``ngx_http_file_cache_set_slot``,
``ngx_http_file_cache_valid_set_slot``, the bitmask and predicate slots); the engine
checks them when the modules configure, with the same ``[emerg]`` wording. A zone is
kept in memory: the path, ``levels`` and the size limits are checked, not used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..conf.values import parse_size, parse_time
from ..http.variables import ComplexValue, compile_value
from .proxy_conf import DEFAULT_HEADERS, NEXT_UPSTREAM_VALUES
from .upstream import line_of

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine

#: ngx_http_proxy_cache_headers: with a cache, the client's conditional and range headers
#: do not go upstream; revalidation sends the cached validators instead.
CACHE_HEADERS = DEFAULT_HEADERS + [
    ("If-Modified-Since", "$upstream_cache_last_modified"), ("If-Unmodified-Since", ""),
    ("If-None-Match", "$upstream_cache_etag"), ("If-Match", ""), ("Range", ""),
    ("If-Range", ""),
]
_IGNORABLE = frozenset({"x-accel-redirect", "x-accel-expires", "x-accel-limit-rate",
                        "x-accel-buffering", "x-accel-charset", "expires", "cache-control",
                        "set-cookie", "vary"})
#: proxy_cache_valid with a time only.
_DEFAULT_CODES = (200, 301, 302)
_PATH_PARAMS = {"inactive": "time", "max_size": "size", "min_free": "size",
                "loader_files": "num", "loader_sleep": "msec", "loader_threshold": "msec",
                "manager_files": "num", "manager_sleep": "msec", "manager_threshold": "msec"}
CHECKED = ("proxy_cache_valid", "proxy_cache_methods", "proxy_cache_use_stale",
            "proxy_ignore_headers", "proxy_cache_min_uses", "proxy_cache_lock_timeout",
            "proxy_cache_key", "proxy_cache_bypass", "proxy_no_cache")


@dataclass(eq=False)
class Zone:
    """One ``keys_zone``: the nodes by key (a dict instead of the shared rbtree)."""

    name: str
    path: str
    inactive: int = 600
    #: key -> proxy_cache.Node
    nodes: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class CacheConf:
    """The cache settings in force in one block where proxy_cache names a zone."""

    zone: Zone
    key: ComplexValue | None
    valid: list[tuple[int, int]]  # (status, seconds); status 0 is "any"
    methods: frozenset[str]
    min_uses: int
    bypass: list[ComplexValue]
    no_cache: list[ComplexValue]
    use_stale: frozenset[str]
    lock: bool
    lock_timeout: float
    revalidate: bool
    convert_head: bool
    ignore: frozenset[str]
    headers: list[tuple[str, ComplexValue]]
    header_names: frozenset[str]

    def valid_for(self, status: int) -> int:
        """ngx_http_file_cache_valid: the first matching proxy_cache_valid."""
        for code, seconds in self.valid:
            if code in (0, status):
                return seconds
        return 0



def load_zones(cfg: HttpConfig) -> dict[str, Zone]:
    """The ``proxy_cache_path`` zones of the http block, by name."""
    zones: dict[str, Zone] = {}
    paths: dict[str, Directive] = {}
    assert cfg.http is not None
    for d in cfg.http.own.get("proxy_cache_path", []):
        zone = _cache_path(d, cfg.prefix)
        if zone.path in paths:
            first = paths[zone.path]
            raise ConfigError(f'the same path name "{zone.path}" used in {first.file}:'
                              f'{line_of(first)} and in {d.file}:{line_of(d)}')
        if zone.name in zones:
            raise ConfigError(f'duplicate zone "{zone.name}"', d.file, line_of(d))
        paths[zone.path] = d
        zones[zone.name] = zone
    return zones


def _cache_path(d: Directive, prefix: str) -> Zone:
    """ngx_http_file_cache_set_slot's checks, in its order."""
    path = os.path.normpath(os.path.join(prefix, d.args[0]))
    name, size, inactive = "", 0, 600
    where = (d.file, line_of(d))
    for arg in d.args[1:]:
        key, _, value = arg.partition("=")
        if key == "levels" and "=" in arg:
            parts = value.split(":") if value else []
            if len(parts) > 3 or any(p not in ("1", "2") for p in parts):
                raise ConfigError(f'invalid "levels" "{arg}"', *where)
        elif key == "use_temp_path" and "=" in arg:
            if value not in ("on", "off"):
                raise ConfigError(f'invalid use_temp_path value "{arg}", it must be "on" or '
                                  f'"off"', *where)
        elif key == "keys_zone" and "=" in arg:
            name, colon, text = value.partition(":")
            got = parse_size(text) if colon else None
            if got is None:
                raise ConfigError(f'invalid keys zone size "{arg}"', *where)
            if got < 8192:
                raise ConfigError(f'keys zone "{arg}" is too small', *where)
            size = got
        elif key in _PATH_PARAMS and "=" in arg:
            kind = _PATH_PARAMS[key]
            ok = {"time": lambda v: "ms" not in v and parse_time(v) is not None,
                  "size": lambda v: parse_size(v) is not None, "num": str.isdigit,
                  "msec": lambda v: parse_time(v) is not None}[kind](value)
            if not ok:
                raise ConfigError(f'invalid {key} value "{arg}"', *where)
            if key == "inactive":
                inactive = int(parse_time(value) or 0)
        else:
            raise ConfigError(f'invalid parameter "{arg}"', *where)
    if not name or not size:
        raise ConfigError('"proxy_cache_path" must have "keys_zone" parameter', *where)
    return Zone(name, path, inactive)


def _check(d: Directive, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message, d.file, line_of(d))


def compile_cache_conf(engine: HttpEngine, block: Block, zone: Zone | None,
             own: bool = False) -> CacheConf:
    """The cache settings in force in ``block`` (``own``: only check its own directives)."""
    table = engine.variables

    def get(name: str) -> list[Directive]:
        return block.own.get(name, []) if own else block.get(name)

    def first(name: str) -> Directive | None:
        found = get(name)
        return found[0] if found else None

    def values(name: str) -> list[ComplexValue]:
        return [compile_value(a, table, d.file, line_of(d)) for d in get(name) for a in d.args]

    valid: list[tuple[int, int]] = []
    for d in get("proxy_cache_valid"):
        t = parse_time(d.args[-1])
        _check(d, t is not None and "ms" not in d.args[-1],
               f'invalid time value "{d.args[-1]}"')
        codes = d.args[:-1]
        for c in codes:
            _check(d, c == "any" or (c.isdigit() and 100 <= int(c) <= 599),
                   f'invalid status "{c}"')
        valid += [(0 if c == "any" else int(c), int(t or 0)) for c in codes] or \
                 [(c, int(t or 0)) for c in _DEFAULT_CODES]
    methods = {"GET", "HEAD"}
    for d in get("proxy_cache_methods"):
        for a in d.args:
            _check(d, a.upper() in ("GET", "HEAD", "POST"), f'invalid value "{a}"')
            methods.add(a.upper())
    stale: set[str] = set()
    for d in get("proxy_cache_use_stale"):
        for a in d.args:
            _check(d, a in NEXT_UPSTREAM_VALUES, f'invalid value "{a}"')
            stale.add(a)
    ignore: set[str] = set()
    for d in get("proxy_ignore_headers"):
        for a in d.args:
            _check(d, a.lower() in _IGNORABLE, f'invalid value "{a}"')
            ignore.add(a.lower())
    d = first("proxy_cache_min_uses")
    if d is not None:
        _check(d, d.args[0].isdigit(), '"proxy_cache_min_uses" directive invalid number')
    min_uses = int(d.args[0]) if d is not None else 1
    d = first("proxy_cache_lock_timeout")
    lock_timeout = parse_time(d.args[0]) if d is not None else 5.0
    if d is not None:
        _check(d, lock_timeout is not None, '"proxy_cache_lock_timeout" directive invalid value')
    key = first("proxy_cache_key")
    user = [(h.args[0], h.args[1], h) for h in get("proxy_set_header")]
    named = {n.lower() for n, _, _ in user}
    merged = user + [(n, v, None) for n, v in CACHE_HEADERS if n.lower() not in named]
    headers = [(n, compile_value(v, table, src.file if src else None,
                                 line_of(src) if src else None))
               for n, v, src in merged if v]
    return CacheConf(
        zone=zone,  # type: ignore[arg-type]  # None only when checking
        key=compile_value(key.args[0], table, key.file, line_of(key)) if key else None,
        valid=valid, methods=frozenset(methods), min_uses=max(min_uses, 1),
        bypass=values("proxy_cache_bypass"), no_cache=values("proxy_no_cache"),
        use_stale=frozenset() if "off" in stale else frozenset(
            stale | ({"noliv"} if "error" in stale else set())),
        lock=block.flag("proxy_cache_lock", False), lock_timeout=lock_timeout or 5.0,
        revalidate=block.flag("proxy_cache_revalidate", False),
        convert_head=block.flag("proxy_cache_convert_head", True),
        ignore=frozenset(ignore), headers=headers,
        header_names=frozenset(n.lower() for n, _, _ in merged))
