"""ngx_http_map_module: ``map $source $variable { ... }``.

The new variable is computed when first used in a request (then kept for the request,
unless ``volatile``): the source value is compared with the exact keys
case-insensitively, then with ``*.example.com``/``www.example.*`` keys when
``hostnames`` is given, then with the regular expressions in order (``~``, ``~*``; their
captures can be used in the value), else ``default`` (empty when not given). Values may
hold variables.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.regex import Regex
from ..http.variables import ComplexValue, compile_value

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
        self.head: list[tuple[str, ComplexValue]] = []  # ".example.com" suffixes
        self.tail: list[tuple[str, ComplexValue]] = []  # "www.example." prefixes
        self.regexes: list[tuple[Regex, ComplexValue]] = []
        self.default: ComplexValue | None = None
        self.hostnames = False
        self.volatile = False

    def lookup(self, r: Request) -> str:
        key = self.source.evaluate(r)
        low = key.lower()
        if self.hostnames and low.endswith("."):
            low = low[:-1]
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
                        engine.variables.declare(capture.lower())

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for d, name in self.maps:
            table = self._compile(engine, d, name)
            engine.variables.vars[name].get = _getter(table)

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
            elif table.hostnames and key.startswith("*."):
                table.head.append((key[1:].lower(), value))
            elif table.hostnames and key.startswith("."):
                table.exact.setdefault(key[1:].lower(), value)
                table.head.append((key.lower(), value))
            elif table.hostnames and key.endswith(".*"):
                table.tail.append((key[:-1].lower(), value))
            else:
                low = key.lower()
                if low in table.exact:
                    raise ConfigError(f'conflicting parameter "{key}"', entry.file, entry.line)
                table.exact[low] = value
        return table


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
