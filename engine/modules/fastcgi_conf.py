"""The configuration of the ``*_pass`` modules (fastcgi, uwsgi, scgi, grpc, memcached).

Compiled once per block where a ``*_pass`` is in force (its location, and the ``if`` and
``limit_except`` blocks inside, which inherit it). ``fastcgi_param``,
``fastcgi_hide_header`` and ``fastcgi_pass_header`` are all-or-nothing arrays (a block
with one of its own inherits none); the rest inherit one by one. The address is checked
as nginx's ``ngx_http_upstream_add`` does at load: no port is an error unless it names an
``upstream`` block, which may not be given one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..conf.values import parse_size, parse_time
from ..http.block import Block
from ..http.variables import ComplexValue, compile_value
from .upstream import UpstreamGroup, Upstreams, URLError, line_of, parse_url

if TYPE_CHECKING:
    from ..http.engine import HttpEngine

#: The modules handled here and the schema nginx shows in ``upstream: "..."``.
SCHEMAS = {"fastcgi": "fastcgi://", "uwsgi": "uwsgi://", "scgi": "scgi://",
           "grpc": "grpc://", "memcached": "memcached://"}
#: Prefixes the address may carry (ngx_http_uwsgi_pass, ngx_http_grpc_pass).
PREFIXES = {"uwsgi": ("uwsgi://", "suwsgi://"), "grpc": ("grpc://", "grpcs://")}
HIDE = frozenset({"status", "x-accel-expires", "x-accel-redirect", "x-accel-limit-rate",
                   "x-accel-buffering", "x-accel-charset"})
NEXT = frozenset({"error", "timeout", "invalid_header", "http_500", "http_503", "http_403",
                   "http_404", "http_429", "non_idempotent", "updating", "off"})

@dataclass(eq=False)
class PassConf:
    """One block's ``*_pass`` and the settings that go with it."""

    kind: str  # "fastcgi", "uwsgi"...
    schema: str  # "fastcgi://"
    directive: Directive
    group: UpstreamGroup | None  # None when the address has variables
    address: ComplexValue | None
    params: list[tuple[str, ComplexValue, bool]]  # name, value, if_not_empty
    skip_headers: frozenset[str]  # request headers an HTTP_ param already names
    hide: frozenset[str]
    pass_headers: bool
    pass_body: bool
    intercept: bool
    keep_conn: bool
    connect_timeout: float
    read_timeout: float
    next_upstream: frozenset[str]
    tries: int
    next_timeout: float
    buffer_size: int
    buffering: bool


def pass_directive(block: Block, name: str) -> Directive | None:
    """The ``*_pass`` in force: a location's own, inherited by its ``if`` and
    ``limit_except`` blocks only."""
    b: Block | None = block
    while b is not None:
        own = b.own.get(name)
        if own:
            return own[0]
        if b.kind not in ("if", "limit_except"):
            return None
        b = b.parent
    return None


def address_of(kind: str, text: str) -> tuple[str, str]:
    """(schema, address): the prefix uwsgi_pass and grpc_pass may carry taken off."""
    for prefix in PREFIXES.get(kind, ()):
        if text[:len(prefix)].lower() == prefix:
            return text[:len(prefix)], text[len(prefix):]
    return SCHEMAS[kind], text


def compile_target(engine: HttpEngine, ups: Upstreams, kind: str,
            d: Directive) -> tuple[UpstreamGroup | None, ComplexValue | None]:
    """ngx_http_fastcgi_pass: the group, or the address to evaluate per request."""
    cv = compile_value(d.args[0], engine.variables, d.file, line_of(d))
    if cv.has_variables:
        return None, cv
    text = address_of(kind, d.args[0])[1]
    try:
        url = parse_url(text, 0, uri_part=False)
    except URLError as exc:
        raise ConfigError(f'{exc} in upstream "{text}"', d.file, line_of(d)) from None
    group = ups.explicit(url.host)
    if group is not None:
        if not url.no_port:
            raise ConfigError(f'upstream "{url.host}" may not have port {url.port}', d.file,
                              line_of(d))
        return group, None
    if url.no_port and not url.unix:
        raise ConfigError(f'no port in upstream "{text}"', d.file, line_of(d))
    return ups.implicit_group(url, d), None


def compile_pass(engine: HttpEngine, block: Block, kind: str, d: Directive,
             group: UpstreamGroup | None, address: ComplexValue | None) -> PassConf:
    table = engine.variables
    params: list[tuple[str, ComplexValue, bool]] = []
    for p in block.get(f"{kind}_param"):
        params.append((p.args[0], compile_value(p.args[1], table, p.file, line_of(p)),
                       len(p.args) == 3))
    skip = frozenset(n[5:].lower() for n, _, _ in params
                     if len(n) > 5 and n[:5].upper() == "HTTP_")
    hide = (HIDE | {h.args[0].lower() for h in block.get(f"{kind}_hide_header")}) - \
        {h.args[0].lower() for h in block.get(f"{kind}_pass_header")}
    nu = block.first(f"{kind}_next_upstream")
    next_upstream = frozenset({"error", "timeout"})
    if nu is not None:
        for a in nu.args:
            if a not in NEXT:
                raise ConfigError(f'invalid value "{a}"', nu.file, line_of(nu))
        next_upstream = frozenset() if "off" in nu.args else frozenset(nu.args)
    tries = block.first(f"{kind}_next_upstream_tries")
    if tries is not None and not tries.args[0].isdigit():
        raise ConfigError(f'invalid number "{tries.args[0]}"', tries.file, line_of(tries))
    size = block.first(f"{kind}_buffer_size")
    buffer_size = parse_size(size.args[0]) if size is not None else 4096
    if buffer_size is None:
        assert size is not None
        raise ConfigError(f'"{size.name}" directive invalid value', size.file, line_of(size))
    return PassConf(
        kind, address_of(kind, d.args[0])[0] if address is None else SCHEMAS[kind], d, group,
        address, params, skip, frozenset(hide),
        block.flag(f"{kind}_pass_request_headers", True),
        block.flag(f"{kind}_pass_request_body", True),
        block.flag(f"{kind}_intercept_errors", False), block.flag("fastcgi_keep_conn", False),
        _time(block, f"{kind}_connect_timeout", 60.0), _time(block, f"{kind}_read_timeout", 60.0),
        next_upstream, int(tries.args[0]) if tries is not None else 0,
        _time(block, f"{kind}_next_upstream_timeout", 0.0), buffer_size or 4096,
        block.flag(f"{kind}_buffering", True))


def _time(block: Block, name: str, default: float) -> float:
    d = block.first(name)
    if d is None:
        return default
    t = parse_time(d.args[0])
    if t is None:
        raise ConfigError(f'"{name}" directive invalid value', d.file, line_of(d))
    return t
