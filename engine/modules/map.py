"""ngx_http_map_module: ``map $source $variable { ... }``.

The new variable is computed when first used in a request (then kept for the request,
unless ``volatile``): the source value is compared with the exact keys
case-insensitively, then with ``*.example.com``/``www.example.*`` keys when
``hostnames`` is given, then with the regular expressions in order (``~``, ``~*``; their
captures can be used in the value), else ``default`` (empty when not given). Values may
hold variables. A key starting with "\\" is the rest taken literally (``\\default``).
At load, the exact names and the wildcards' labels go through nginx's hash sizing
(``map_hash_max_size``, ``map_hash_bucket_size``): its errors and its warning.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.api import wire_bytes
from ..http.block import Block
from ..http.phases import HttpModule
from ..http.regex import Regex
from ..http.variables import ComplexValue, compile_value
from .rewrite_vars import capture_sites

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request


_CAPTURE_NAME = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


class MapTable:
    def __init__(self, source: ComplexValue, name: str) -> None:
        self.source = source
        self.name = name
        self.exact: dict[str, ComplexValue] = {}
        #: the exact names ".example.com" keys brought (not in nginx's exact hash)
        self.dot: set[str] = set()
        self.head: list[tuple[str, ComplexValue]] = []  # ".example.com" suffixes
        self.tail: list[tuple[str, ComplexValue]] = []  # "www.example." prefixes
        self.regexes: list[tuple[Regex, ComplexValue]] = []
        self.default: ComplexValue | None = None
        self.hostnames = False
        self.volatile = False

    def lookup(self, r: Request) -> str:
        key = self.source.evaluate(r)
        if self.hostnames and key.endswith("."):  # for the regexes too, as nginx's
            key = key[:-1]
        low = ascii_lower(key)
        value = self.exact.get(low)
        if value is None and self.hostnames:
            value = _longest(low, self.head, suffix=True) or _longest(low, self.tail,
                                                                       suffix=False)
        if value is None and key:  # ngx_http_map_find tries no regex on an empty value
            for regex, candidate in self.regexes:
                caps = regex.exec(key)
                if caps is not None:
                    r.captures = caps
                    for name, v in regex.named(caps).items():
                        r.variables[name] = v
                    value = candidate
                    break
        if value is None:
            value = self.default
        return value.evaluate(r) if value is not None else ""


def _longest(host: str, entries: list[tuple[str, ComplexValue]],
             suffix: bool) -> ComplexValue | None:
    best: tuple[int, ComplexValue] | None = None
    for part, value in entries:
        hit = host.endswith(part) if suffix else host.startswith(part)
        if hit and (best is None or len(part) > best[0]):
            best = (len(part), value)
    return best[1] if best else None


class MapModule(HttpModule):
    name = "ngx_http_map_module"
    directives = frozenset({"map"})

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        self.maps: list[tuple[Directive, str]] = []
        if cfg.http is None:
            return
        for d in cfg.http.own.get("map", []):
            if len(d.args) != 2 or not d.args[1].startswith("$"):
                raise ConfigError(f'invalid variable name "{d.args[1]}"', d.file, d.line)
            name = d.args[1][1:].lower()
            var = engine.variables.vars.get(name)
            # nginx adds it as changeable: "set" may assign it, and a later map (or geo,
            # split_clients) of the same name takes it over; a built-in one is refused
            if var is not None and not (var.changeable or var.stored):
                raise ConfigError(f'the duplicate "{name}" variable', d.file, d.line)
            engine.variables.add(name, None, changeable=True)  # the getter: configure()
            self.maps.append((d, name))
            for entry in d.children():  # named captures of the regexes are variables too
                if entry.name.startswith("~"):
                    for capture in _CAPTURE_NAME.findall(entry.name):
                        known = engine.variables.vars.get(capture.lower())
                        if known is not None and not (known.changeable or known.stored):
                            raise ConfigError(f'the duplicate "{capture}" variable',
                                              entry.file, entry.line)
                        engine.variables.declare(capture.lower())

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        if not self.maps:
            return
        assert cfg.http is not None
        max_size, bucket = _hash_sizes(cfg.http, self.maps[0][0])
        order = {id(d): i for i, d in enumerate(cfg.http.items)}
        captures = capture_sites(cfg)
        for d, name in self.maps:
            table = self._compile(engine, d, name)
            check_hash(table, max_size, bucket, cfg.warnings)
            # a regex with a named capture of this name, met at or after the map, leaves
            # nginx's variable with the capture's getter: not found until it matches
            clobbered = captures.get(name, -1) >= order[id(d)]
            engine.variables.vars[name].get = None if clobbered else _getter(table)

    def _compile(self, engine: HttpEngine, d: Directive, name: str) -> MapTable:
        table = MapTable(compile_value(d.args[0], engine.variables, d.file, d.line), name)
        for entry in d.children():
            key, args = entry.name, entry.args
            if key == "hostnames" and not args:
                table.hostnames = True
                continue
            if key == "volatile" and not args:
                table.volatile = True
                continue
            if len(args) != 1:
                raise ConfigError("invalid number of the map parameters", entry.file,
                                  entry.line)
            value = compile_value(args[0], engine.variables, entry.file, entry.line)
            if key == "default":
                if table.default is not None:
                    raise ConfigError('duplicate default map parameter', entry.file,
                                      entry.line)
                table.default = value
            elif key.startswith("~"):
                caseless = key.startswith("~*")
                pattern = key[2:] if caseless else key[1:]
                table.regexes.append((Regex.for_directive(pattern, caseless, entry.file,
                                                          entry.line), value))
            else:
                _add_key(table, key[1:] if key.startswith("\\") else key, value, entry)
        return table


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """ngx_tolower: only ASCII letters change (a UTF-8 key is compared byte for byte)."""
    return text.translate(_ASCII_LOWER)


def _hostname_form(key: str) -> tuple[str, str] | None:
    """What ngx_hash_add_key makes of a key of a ``hostnames`` map: ("dot", "a.b") for
    ".a.b", ("head", "a.b") for "*.a.b", ("tail", "www.a") for "www.a.*", ("exact", key)
    for a plain name; None for a malformed one (two "*", "..", a "*" elsewhere)."""
    if key.count("*") > 1 or ".." in key:
        return None
    if len(key) > 1 and key[0] == ".":
        return "dot", key[1:]
    if len(key) > 2 and key.startswith("*."):
        return "head", key[2:]
    if len(key) > 2 and key.endswith(".*"):
        return "tail", key[:-2]
    return None if "*" in key else ("exact", key)


def _add_key(table: MapTable, key: str, value: ComplexValue, entry: Directive) -> None:
    """ngx_hash_add_key: a key is kept in lower case, a second one of the same name
    (".a.b" also takes "a.b" and the "*.a.b" place) is refused with its lowered text."""
    form = _hostname_form(key) if table.hostnames else ("exact", key)
    if form is None:
        raise ConfigError(f'invalid hostname or wildcard "{key}"', entry.file, entry.line)
    kind, name = form
    low = ascii_lower(name)
    conflict = ConfigError(f'conflicting parameter "{ascii_lower(key)}"', entry.file,
                           entry.line)
    if kind in ("exact", "dot") and low in table.exact:
        raise conflict
    if kind == "exact":
        table.exact[low] = value
        return
    if kind == "dot":
        table.exact[low] = value
        table.dot.add(low)
    entries = table.tail if kind == "tail" else table.head
    suffix = low + "." if kind == "tail" else "." + low
    if any(part == suffix for part, _ in entries):
        raise conflict
    entries.append((suffix, value))


def _hash_sizes(http: Block, first_map: Directive) -> tuple[int, int]:
    """map_hash_max_size and map_hash_bucket_size (rounded up to the cache line). The
    first map fixes them, so either directive after it is a duplicate for nginx."""
    order = {id(d): i for i, d in enumerate(http.items)}
    for name in ("map_hash_max_size", "map_hash_bucket_size"):
        for d in http.own.get(name, []):
            if order.get(id(d), -1) > order.get(id(first_map), -1):
                raise ConfigError(f'"{name}" directive is duplicate', d.file, d.line)
    max_size = int(http.value("map_hash_max_size") or 2048)
    bucket = int(http.value("map_hash_bucket_size") or _CACHELINE)
    return max_size, -(-bucket // _CACHELINE) * _CACHELINE


#: ngx_cacheline_size on this machine: nginx rounds map_hash_bucket_size up to it.
_CACHELINE = 64
_POINTER = 8


def check_hash(table: MapTable, max_size: int, bucket: int,
               warnings: list[tuple[str, str | None, int]]) -> None:
    """ngx_hash_init's verdict on a map's exact names and on each level of labels of its
    wildcard names: a zero max size, a too large bucket or a name that does not fit in
    one bucket stop the load; no table size up to the max size fitting the names is
    only a warning. The messages name no place, as nginx's do."""
    exact = [k for k in table.exact if k not in table.dot]
    if exact:
        _hash_init(exact, max_size, bucket, warnings)
    # "*.example.com" is hashed as "com.example.", ".example.com" as "com.example"
    head = sorted(".".join(reversed(p[1:].split("."))) + ("" if p[1:] in table.dot else ".")
                  for p, _ in table.head)
    for names in (head, sorted(p[:-1] for p, _ in table.tail)):
        if names:
            _wildcard_init(names, max_size, bucket, warnings)


def _wildcard_init(names: list[str], max_size: int, bucket: int,
                   warnings: list[tuple[str, str | None, int]]) -> None:
    """ngx_hash_wildcard_init: one hash of the first labels, after one per group of
    names sharing a first label (for the labels that follow it)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        label, _, rest = name.partition(".")
        group = groups.setdefault(label, [])
        if rest:
            group.append(rest)
    for rest in groups.values():
        if rest:
            _wildcard_init(rest, max_size, bucket, warnings)
    _hash_init(list(groups), max_size, bucket, warnings)


def _hash_init(names: list[str], max_size: int, bucket: int,
               warnings: list[tuple[str, str | None, int]]) -> None:
    keys = [wire_bytes(name) for name in names]
    if max_size == 0:
        raise ConfigError("could not build map_hash, you should increase map_hash_max_size: 0")
    if bucket > 65536 - _CACHELINE:
        raise ConfigError(f"could not build map_hash, too large map_hash_bucket_size: {bucket}")
    sizes = [_POINTER + -(-(len(key) + 2) // _POINTER) * _POINTER for key in keys]
    if any(bucket < size + _POINTER for size in sizes):
        raise ConfigError(f"could not build map_hash, you should increase "
                          f"map_hash_bucket_size: {bucket}")
    hashes = [_hash_key(key) for key in keys]
    room = bucket - _POINTER
    start = max(len(keys) // (room // (2 * _POINTER)), 1)
    if max_size > 10000 and max_size // len(keys) < 100:
        start = max_size - 1000
    for size in range(start, max_size + 1):
        used = [0] * size
        for key_hash, elt in zip(hashes, sizes):
            slot = key_hash % size
            used[slot] += elt
            if used[slot] > room:
                break
        else:
            return
    warnings.append((f"could not build optimal map_hash, you should increase either "
                     f"map_hash_max_size: {max_size} or map_hash_bucket_size: {bucket}; "
                     f"ignoring map_hash_bucket_size", None, 0))


def _hash_key(key: bytes) -> int:
    """ngx_hash_key: h = h * 31 + byte, in a 64-bit unsigned word."""
    h = 0
    for byte in key:
        h = (h * 31 + byte) & 0xFFFFFFFFFFFFFFFF
    return h


def _getter(table: MapTable):  # type: ignore[no-untyped-def]
    key = "keep:map:" + table.name

    def get(r: Request) -> str:
        if table.volatile:
            return table.lookup(r)
        cache = r.main.ctx
        value = cache.get(key)
        if value is None:
            value = cache[key] = table.lookup(r)
        return value
    return get
