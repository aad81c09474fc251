"""The shared memory zones a configuration declares, checked as ``ngx_shared_memory_add``
checks them while the file is read.

Every module that uses a zone adds it by name, with a size (0 when it only refers to
one: ``limit_req zone=x``, ``proxy_cache x``, an upstream ``zone x``) and its own tag.
A name is one zone for the whole configuration: a second use by another module is
"already declared for a different use", another non-zero size a size conflict.
"""

from __future__ import annotations

from ..ast import Directive
from .slots import nginx_size

__all__ = ["ShmZones"]

_CACHE_PATHS = {"proxy_cache_path": "proxy", "fastcgi_cache_path": "fastcgi",
                "uwsgi_cache_path": "uwsgi", "scgi_cache_path": "scgi"}
_CACHES = {"proxy_cache": "proxy", "fastcgi_cache": "fastcgi", "uwsgi_cache": "uwsgi",
           "scgi_cache": "scgi"}


def _declared(d: Directive) -> tuple[str, int, str] | None:
    """(name, size, module tag) of the zone ``d`` adds, if any (its values are checked
    already)."""
    name, args = d.name, d.args
    if name == "lua_shared_dict":
        return args[0], nginx_size(args[1]) or 0, "lua"
    if name in ("limit_req_zone", "limit_conn_zone", "limit_req") or name in _CACHE_PATHS:
        key = "keys_zone=" if name in _CACHE_PATHS else "zone="
        for arg in args:
            if arg.startswith(key):
                zone, _, size = arg[len(key):].partition(":")
                tag = _CACHE_PATHS.get(name) or name.removesuffix("_zone")
                return zone, (nginx_size(size) or 0) if size else 0, tag
        return None
    if name == "limit_conn":
        return args[0], 0, "limit_conn"
    if name in _CACHES:
        if args[0] == "off" or "$" in args[0]:
            return None
        return args[0], 0, _CACHES[name]
    if name == "ssl_session_cache":
        for arg in args:
            if arg.startswith("shared:"):
                zone, _, size = arg[len("shared:"):].partition(":")
                return zone, nginx_size(size) or 0, "ssl"
        return None
    if name == "zone" and len(args) >= 1:  # (the upstream block's)
        return args[0], (nginx_size(args[1]) or 0) if len(args) > 1 else 0, "upstream"
    return None


class ShmZones:
    """The zones declared so far (cycle->shared_memory): name -> [size, tag]."""

    def __init__(self) -> None:
        self.zones: dict[str, list] = {}

    def add(self, d: Directive) -> str | None:
        """Add the zone ``d`` declares or names; nginx's error, or None."""
        found = _declared(d)
        if found is None:
            return None
        name, size, tag = found
        zone = self.zones.get(name)
        if zone is None:
            self.zones[name] = [size, tag]
            return None
        if zone[1] != tag:
            return f'the shared memory zone "{name}" is already declared for a different use'
        if zone[0] == 0:
            zone[0] = size
        if size and size != zone[0]:
            return (f'the size {size} of shared memory zone "{name}" conflicts with '
                    f'already declared size {zone[0]}')
        return None
