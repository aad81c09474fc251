"""Checks nginx makes when it merges the http block's configurations (after the closing
``}`` of ``http``, so reported at that line), with nginx's wording.

The upstream modules' buffer settings (``ngx_http_proxy_merge_loc_conf`` and its
fastcgi/uwsgi/scgi twins) are checked at every level, whether anything is proxied or
not: the buffer count, then busy buffers, temp file write size and max temp file size
against the larger of ``*_buffer_size`` and one of ``*_buffers``.
"""

from __future__ import annotations

from ..ast import Directive
from .slots import nginx_int, nginx_size

__all__ = ["merge_error", "buffer_error", "param_error"]

_PAGE = 4096
#: Module order: the first module's error is the one reported.
_PREFIXES = ("proxy", "fastcgi", "uwsgi", "scgi")
_KEYS = ("buffer_size", "buffers", "busy_buffers_size", "temp_file_write_size",
         "max_temp_file_size")
#: The blocks whose loc_conf is merged with their parent's.
_CHILDREN = ("server", "location", "if", "limit_except")


def merge_error(http: Directive) -> str | None:
    """The first error of the merges modelled here, in module order (core, then the
    upstream modules' buffers, then their headers and params)."""
    return _pool_error(http) or buffer_error(http) or param_error(http)


def _pool_error(http: Directive) -> str | None:
    """``ngx_http_core_merge_srv_conf``: a large header buffer must hold the
    connection pool (256 bytes and 4 8k by default)."""
    top = _own_values(http, {})
    for server in _blocks(http, ("server",)):
        conf = _own_values(server, top)
        pool = nginx_size(conf["connection_pool_size"][0]) \
            if "connection_pool_size" in conf else 256
        large = conf.get("large_client_header_buffers")
        if (nginx_size(large[1]) if large else 8192) < (pool or 0):
            return 'the "large_client_header_buffers" size must be equal to or greater ' \
                   'than "connection_pool_size"'
    return None


def _own_values(block: Directive, parent: dict[str, list[str]]) -> dict[str, list[str]]:
    conf = dict(parent)
    for d in block.block or ():
        if isinstance(d, Directive) and d.name in ("connection_pool_size",
                                                   "large_client_header_buffers"):
            conf[d.name] = d.args
    return conf


def buffer_error(http: Directive) -> str | None:
    """The first merge error of the upstream buffer settings under ``http``, or None."""
    for prefix in _PREFIXES:
        top = _own(http, prefix, {})
        for server in _blocks(http, ("server",)):
            err = _walk(server, prefix, top)
            if err:
                return err
    return None


#: The directives whose values each module compiles when it merges a location (its
#: headers or params), in module order.
_PARAMS = (("proxy_set_header", 1), ("proxy_set_body", 0), ("fastcgi_param", 1),
           ("uwsgi_param", 1), ("scgi_param", 1))


def param_error(http: Directive) -> str | None:
    """The first syntax error in a header or param value under ``http``: compiled at
    every level when the module merges, whether anything is proxied or not."""
    from .upstream_checks import complex_value_error
    for name, index in _PARAMS:
        stack = [http]
        while stack:
            block = stack.pop()
            for d in block.block or ():
                if isinstance(d, Directive) and d.name == name and len(d.args) > index:
                    err = complex_value_error(d.args[index])
                    if err:
                        return err
            stack.extend(reversed(_blocks(block, _CHILDREN)))
    return None


def _blocks(block: Directive, names: tuple[str, ...]) -> list[Directive]:
    return [d for d in block.block or () if isinstance(d, Directive) and d.name in names
            and d.block is not None]


def _own(block: Directive, prefix: str, parent: dict[str, list[str]]) -> dict[str, list[str]]:
    """The settings in force in ``block``: its own, else its parent's."""
    conf = dict(parent)
    for d in block.block or ():
        if isinstance(d, Directive) and d.name.startswith(prefix + "_"):
            key = d.name[len(prefix) + 1:]
            if key in _KEYS:
                conf[key] = d.args
    return conf


def _walk(block: Directive, prefix: str, parent: dict[str, list[str]]) -> str | None:
    """Depth first, parents before children (nginx's merge order), with a stack so a
    deeply nested configuration cannot overflow."""
    stack = [(block, parent)]
    while stack:
        current, inherited = stack.pop()
        conf = _own(current, prefix, inherited)
        err = _check(prefix, conf)
        if err:
            return err
        stack.extend((child, conf) for child in reversed(_blocks(current, _CHILDREN[1:])))
    return None


def _size(conf: dict[str, list[str]], key: str) -> int | None:
    args = conf.get(key)
    return nginx_size(args[0], key == "max_temp_file_size") if args else None


def _check(p: str, conf: dict[str, list[str]]) -> str | None:
    set_size = _size(conf, "buffer_size")
    buffer_size = _PAGE if set_size is None else set_size
    bufs = conf.get("buffers")
    num, one = (nginx_int(bufs[0]) or 0, nginx_size(bufs[1]) or 0) if bufs else (8, _PAGE)
    if num < 2:
        return f'there must be at least 2 "{p}_buffers"'
    size = max(buffer_size, one)
    larger = f'the maximum of the value of "{p}_buffer_size" and one of the "{p}_buffers"'
    busy = _size(conf, "busy_buffers_size")
    busy = 2 * size if busy is None else busy
    if busy < size:
        return f'"{p}_busy_buffers_size" must be equal to or greater than {larger}'
    if busy > (num - 1) * one:
        return f'"{p}_busy_buffers_size" must be less than the size of all "{p}_buffers" ' \
               "minus one buffer"
    write = _size(conf, "temp_file_write_size")
    if (2 * size if write is None else write) < size:
        return f'"{p}_temp_file_write_size" must be equal to or greater than {larger}'
    most = _size(conf, "max_temp_file_size")
    if most is not None and most != 0 and most < size:
        return f'"{p}_max_temp_file_size" must be equal to zero to disable temporary ' \
               f"files usage or must be equal to or greater than {larger}"
    return None
