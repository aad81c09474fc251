"""ngx_http_geo_module: ``geo [$address] $variable { ... }``, a value by client address.

The source is the connection's address (after realip replaced it), or the value of a
variable (an address without port; not found or unparsable counts as 255.255.255.255).
With ``proxy`` entries, an address from a trusted proxy is replaced by the last one of
X-Forwarded-For (``proxy_recursive``: walked back past the trusted ones, as realip does).

By default entries are networks in nginx's radix trees (IPv4 and IPv6), the longest
prefix wins; ``ranges`` switches to IPv4 ``from-to`` ranges kept, like nginx, in lists
per /16 (that is what shapes its ``overlaps`` errors). Values are plain strings: no
variables are interpolated. ``default``, ``delete``, ``include`` and the duplicate/no
such network warnings follow nginx. Binary range bases (``include`` of a ``.bin`` file
nginx writes for huge range sets) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from .realip import Addr, Cidr, forwarded_addr, inet_addr, parse_addr, peer_addr, ptocidr

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_NONE = 0xFFFFFFFF  # INADDR_NONE: where a missing or bad address is looked up
_PREALLOC = 6  # ngx_radix_tree_create(-1) on amd64 preallocates six levels


class RadixTree:
    """``ngx_radix_tree_t``: nodes are [left, right, parent, value]; None is no value."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.root: list[Any] = [None, None, None, None]
        for depth in range(1, _PREALLOC + 1):  # the empty preallocated levels
            for key in range(1 << depth):
                self._walk(key << (width - depth), depth, create=True)

    def _walk(self, key: int, bits: int, create: bool) -> list[Any] | None:
        node = self.root
        for i in range(bits):
            side = key >> (self.width - 1 - i) & 1
            child = node[side]
            if child is None:
                if not create:
                    return None
                child = node[side] = [None, None, node, None]
            node = child
        return node

    def insert(self, key: int, bits: int, value: str) -> bool:
        """False when the network already has a value (nginx's NGX_BUSY)."""
        node = self._walk(key, bits, create=True)
        assert node is not None
        if node[3] is not None:
            return False
        node[3] = value
        return True

    def delete(self, key: int, bits: int) -> bool:
        """nginx's delete: an inner node loses its value, a leaf goes (even an empty
        preallocated one, without complaint), with the parents it leaves empty."""
        node = self._walk(key, bits, create=False)
        if node is None:
            return False
        if node[0] is not None or node[1] is not None:
            if node[3] is None:
                return False
            node[3] = None
            return True
        while node[2] is not None:
            parent = node[2]
            parent[0 if parent[0] is node else 1] = None
            node = parent
            if node[0] is not None or node[1] is not None or node[3] is not None:
                break
        return True

    def find(self, key: int) -> str | None:
        """The value of the longest network holding ``key``."""
        value = None
        node: list[Any] | None = self.root
        i = 0
        while node is not None:
            if node[3] is not None:
                value = node[3]
            node = node[key >> (self.width - 1 - i) & 1] if i < self.width else None
            i += 1
        return value


@dataclass
class GeoTable:
    name: str
    source: str | None  # a variable name; None: the connection's address
    ranges: bool = False
    proxies: list[Cidr] = field(default_factory=list)
    proxy_recursive: bool = False
    tree: RadixTree | None = None
    tree6: RadixTree | None = None
    #: ranges mode: per /16 (the high 16 bits), [start, end, value] of the low 16 bits
    low: dict[int, list[list[Any]]] = field(default_factory=dict)
    default: str | None = None

    def address(self, r: Request) -> Addr | None:
        if self.source is None:
            addr: Addr | None = peer_addr(r.conn.client_addr)
        else:
            value = r.var(self.source)
            addr = parse_addr(value) if value is not None else None
        if addr is not None and self.proxies:
            xff = r.headers_in.get_all("x-forwarded-for")
            if xff:
                addr = forwarded_addr(addr, xff, self.proxies, self.proxy_recursive)[1]
        return addr

    def lookup(self, r: Request) -> str:
        addr = self.address(r)
        v4: int = _NONE
        if addr is not None and addr[0] == 4:
            v4 = addr[1]
        elif addr is not None and addr[0] == 6 and addr[1] >> 32 == 0xFFFF:
            v4 = addr[1] & 0xFFFFFFFF
        elif addr is not None and addr[0] == 6 and not self.ranges:
            assert self.tree6 is not None
            return self.tree6.find(addr[1]) or ""
        if self.ranges:
            for start, end, value in self.low.get(v4 >> 16, ()):
                if start <= v4 & 0xFFFF <= end:
                    return value
            return self.default or ""
        assert self.tree is not None
        return self.tree.find(v4) or ""


class GeoModule(HttpModule):
    name = "ngx_http_geo_module"
    directives = frozenset({"geo"})

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        self.geos: list[tuple[Directive, str]] = []
        if cfg.http is None:
            return
        for d in cfg.http.own.get("geo", []):
            for arg in d.args:
                if not arg.startswith("$"):
                    raise ConfigError(f'invalid variable name "{arg}"', d.file, d.line)
            name = d.args[-1][1:].lower()
            var = engine.variables.vars.get(name)
            if var is not None and not var.changeable:
                raise ConfigError(f'the duplicate "{name}" variable', d.file, d.line)
            # changeable, like nginx's: "set" may assign it; a later geo replaces it
            engine.variables.add(name, None, changeable=True)
            self.geos.append((d, name))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        tables = [self._compile(engine, d, name) for d, name in self.geos]
        for table in tables:
            if table.source is not None and not engine.variables.known(table.source):
                raise ConfigError(f'unknown "{table.source}" variable')
            engine.variables.vars[table.name].get = _getter(table)

    def _compile(self, engine: HttpEngine, d: Directive, name: str) -> GeoTable:
        table = GeoTable(name, d.args[0][1:].lower() if len(d.args) == 2 else None)
        warnings = engine.services.setdefault("config_warnings", [])
        for entry in _entries(d.children()):
            _entry(table, entry, warnings)
        if not table.ranges:
            table.tree = table.tree or RadixTree(32)
            table.tree6 = table.tree6 or RadixTree(128)
            table.tree.insert(0, 0, "")  # busy when a default was given: fine
            table.tree6.insert(0, 0, "")
        return table


def _entries(items: list[Directive]) -> list[Directive]:
    """The block's entries with ``include`` files read in place."""
    out: list[Directive] = []
    for e in items:
        if e.name == "include" and len(e.args) == 1:
            out += _entries(e.block or [])
        else:
            out.append(e)
    return out


def _entry(table: GeoTable, e: Directive, warnings: list) -> None:
    def warn(message: str) -> None:
        warnings.append((message, e.file, e.line))

    if not e.args and e.name == "ranges":
        if table.tree is not None:
            raise ConfigError('the "ranges" directive must be the first directive inside '
                              '"geo" block', e.file, e.line)
        table.ranges = True
        return
    if not e.args and e.name == "proxy_recursive":
        table.proxy_recursive = True
        return
    if len(e.args) != 1:
        raise ConfigError("invalid number of the geo parameters", e.file, e.line)
    if e.name == "proxy":
        table.proxies.append(_network(e.args[0], e, warn))
    elif table.ranges:
        _range(table, e, warn)
    else:
        _cidr(table, e, warn)


def _network(text: str, e: Directive, warn: Any) -> Cidr:
    """``ngx_http_geo_cidr_value``: 255.255.255.255 is allowed here."""
    if text == "255.255.255.255":
        return (4, _NONE, _NONE)
    found = ptocidr(text)
    if found is None:
        raise ConfigError(f'invalid network "{text}"', e.file, e.line)
    if found[1]:
        warn(f"low address bits of {text} are meaningless")
    return found[0]


def _cidr(table: GeoTable, e: Directive, warn: Any) -> None:
    tree = table.tree = table.tree or RadixTree(32)
    tree6 = table.tree6 = table.tree6 or RadixTree(128)
    value = e.args[0]
    if e.name == "default":
        nets: list[tuple[RadixTree, int, int]] = [(tree, 0, 0), (tree6, 0, 0)]
        net_text = "default"
    else:
        net_text = e.args[0] if e.name == "delete" else e.name
        family, addr, mask = _network(net_text, e, warn)
        nets = [(tree if family == 4 else tree6, addr, bin(mask).count("1"))]
        if e.name == "delete":
            if not nets[0][0].delete(addr, nets[0][2]):
                warn(f'no network "{net_text}" to delete')
            return
    for t, addr, bits in nets:
        if not t.insert(addr, bits, value):
            warn(f'duplicate network "{net_text}", value: "{value}", '
                 f'old value: "{t.find(addr)}"')
            t.delete(addr, bits)
            t.insert(addr, bits, value)


def _range(table: GeoTable, e: Directive, warn: Any) -> None:
    if e.name == "default":
        if table.default is not None:
            warn(f'duplicate default geo range value: "{e.args[0]}", '
                 f'old value: "{table.default}"')
        table.default = e.args[0]
        return
    net = e.args[0] if e.name == "delete" else e.name
    first, dash, last = net.partition("-")
    start = inet_addr(first) if dash else None
    end = inet_addr(last) if start is not None else None
    if start is None or end is None or start > end:
        raise ConfigError(f'invalid range "{net}"', e.file, e.line)
    n = start
    missing = False
    while n <= end:  # one /16 at a time, as ngx_http_geo_add_range/delete_range
        high, s = n >> 16, n & 0xFFFF if n == start else 0
        stop = end & 0xFFFF if (n | 0xFFFF) > end else 0xFFFF
        chunk = table.low.setdefault(high, [])
        if e.name == "delete":
            hit = next((x for x in chunk if x[0] == s and x[1] == stop), None)
            if hit is None:
                missing = True
            else:
                chunk.remove(hit)
        else:
            _add_range(chunk, s, stop, high, net, e, warn)
        n = (n + 0x10000) & 0xFFFF0000
        if high == 0xFFFF:
            break
    if missing:
        warn(f'no address range "{net}" to delete')


def _add_range(chunk: list[list[Any]], s: int, e_: int, high: int, net: str,
               e: Directive, warn: Any) -> None:
    """Insert [s, e_] into one /16's sorted list: splitting or trimming the range it
    falls inside, replacing an identical one, refusing a partial overlap."""
    value = e.args[0]
    for i in range(len(chunk) - 1, -1, -1):
        start, end, old = chunk[i]
        if e_ < start:
            continue
        if s > end:
            chunk.insert(i + 1, [s, e_, value])
        elif s == start and e_ == end:
            warn(f'duplicate range "{net}", value: "{value}", old value: "{old}"')
            chunk[i][2] = value
        elif s > start and e_ < end:
            chunk[i:i + 1] = [[start, s - 1, old], [s, e_, value], [e_ + 1, end, old]]
        elif s == start and e_ < end:
            chunk[i:i + 1] = [[s, e_, value], [e_ + 1, end, old]]
        elif s > start and e_ == end:
            chunk[i:i + 1] = [[start, s - 1, old], [s, e_, value]]
        else:
            h = f"{high >> 8}.{high & 0xFF}"
            raise ConfigError(f'range "{net}" overlaps "{h}.{start >> 8}.{start & 0xFF}-'
                              f'{h}.{end >> 8}.{end & 0xFF}"', e.file, e.line)
        return
    chunk.insert(0, [s, e_, value])


def _getter(table: GeoTable):  # type: ignore[no-untyped-def]
    """Computed once per request (nginx caches the variable), like map's."""
    key = "keep:geo:" + table.name

    def get(r: Request) -> str:
        cache = r.main.ctx
        value = cache.get(key)
        if value is None:
            value = cache[key] = table.lookup(r)
            if r.trace.enabled:
                r.trace.add("variable", name=table.name, value=value, why="geo")
        return value
    return get
