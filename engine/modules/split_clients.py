"""ngx_http_split_clients_module: ``split_clients "$string" $variable { 0.5% a; * b; }``.

The new variable hashes the evaluated string with MurmurHash2 (nginx's
``ngx_murmur_hash2``, 32 bits) and takes the value of the first share whose cumulative
bound is above the hash; a ``*`` share takes the rest. Shares are hundredths of a percent
and each bound adds ``share * 0xffffffff / 10000`` (integer division, as nginx does), so
the split of hash space is exactly nginx's. The value is computed once per request.
The shares themselves are checked by the loader (``catalog.checks``) while it reads the
block, as nginx does while parsing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..conf.ast import Directive
from ..conf.catalog.checks import split_clients_percent
from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.variables import ComplexValue, compile_value, split_value

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur_hash2(data: bytes) -> int:
    """nginx's ``ngx_murmur_hash2``: MurmurHash2, seed 0, little-endian 4-byte blocks."""
    n = len(data)
    h = n & _MASK
    end = n - n % 4
    for i in range(0, end, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = n - end
    if rest:
        if rest == 3:
            h ^= data[end + 2] << 16
        if rest >= 2:
            h ^= data[end + 1] << 8
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


class SplitTable:
    """One ``split_clients`` block: the source string and the (bound, value) shares."""

    __slots__ = ("source", "name", "parts", "directive")

    def __init__(self, source: ComplexValue, name: str, directive: Directive) -> None:
        self.source = source
        self.name = name
        self.directive = directive
        #: (upper bound of the hash, value); bound 0 is ``*``: everything left.
        self.parts: list[tuple[int, str]] = []
        last = 0
        for entry in directive.children():
            share = 0 if entry.name == "*" else (split_clients_percent(entry.name) or 0)
            if share:
                last = (last + share * _MASK // 10000) & _MASK
            # "50%;" is accepted by nginx (the value is then undefined memory): empty here
            self.parts.append((last if share else 0, entry.args[0] if entry.args else ""))

    def lookup(self, r: Request) -> str:
        key = self.source.evaluate(r)
        h = murmur_hash2(key.encode("utf-8", "surrogateescape"))
        for bound, value in self.parts:
            if h < bound or bound == 0:
                break
        else:
            value = ""
        if r.trace.enabled:
            r.trace.add("variable", name=self.name, value=value,
                        why=f"split_clients: murmur2({key!r}) = {h}",
                        file=self.directive.file, line=self.directive.line)
        return value


class SplitClientsModule(HttpModule):
    name = "ngx_http_split_clients_module"
    directives = frozenset({"split_clients"})

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        self.splits: list[tuple[Directive, str]] = []
        if cfg.http is None:
            return
        for d in cfg.http.own.get("split_clients", []):
            line = d.head_line or d.line
            # nginx compiles the string before it looks at the variable's name (unknown
            # variables are only found at the end, once `set` has declared its own)
            parts = split_value(d.args[0])
            if isinstance(parts, str):
                raise ConfigError(parts, d.file, line)
            target = d.args[1]
            if not target.startswith("$"):
                raise ConfigError(f'invalid variable name "{target}"', d.file, line)
            name = target[1:].lower()
            if not name:
                raise ConfigError('invalid variable name "$"', d.file, line)
            var = engine.variables.vars.get(name)
            # map variables have no getter yet here; nginx adds them as changeable too
            if var is not None and not (var.changeable or var.stored or var.get is None):
                raise ConfigError(f'the duplicate "{name}" variable', d.file, line)
            engine.variables.add(name, None, changeable=True)
            self.splits.append((d, name))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for d, name in self.splits:
            source = compile_value(d.args[0], engine.variables, d.file, d.line)
            engine.variables.vars[name].get = _getter(SplitTable(source, name, d))


def _getter(table: SplitTable) -> Callable[[Request], str]:
    """Cached for the whole request (internal redirects too), like nginx's indexed value."""
    key = "keep:split_clients:" + table.name

    def get(r: Request) -> str:
        cache = r.main.ctx
        value = cache.get(key)
        if value is None:
            value = cache[key] = table.lookup(r)
        return value
    return get
