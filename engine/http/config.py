"""The http configuration model built from the parsed directives.

``HttpConfig`` is what nginx holds after ``ngx_http_block``: the main and http blocks,
every server with its location tree (nested and named locations, ``if`` blocks as the
nameless locations nginx makes of them), the upstream blocks, and the listening
addresses with their virtual servers. Modules compile their own per-block data into
``Block.mod`` afterwards.
"""

from __future__ import annotations

from ..conf.ast import Directive, ParsedConfig, iter_directives
from ..conf.directives import DirectiveTable
from ..conf.errors import ConfigError
from .block import Block
from .location import LocationConf, build_location_tree, parse_location_args
from .regex import Regex
from .servers import AddressServers, ServerConf, build_addresses


class HttpConfig:
    """The whole configuration as the request engine uses it."""

    def __init__(self, parsed: ParsedConfig, table: DirectiveTable) -> None:
        self.parsed = parsed
        self.table = table
        self.prefix = parsed.prefix
        self.conf_path = parsed.conf_path
        top = list(iter_directives(parsed.directives))
        self.main = Block("main", None, None, top, table)
        events = self.main.own.get("events")
        self.events = Block("events", events[0], self.main, list(events[0].children()), table) \
            if events else None
        http = self.main.own.get("http")
        self.http: Block | None = None
        self.servers: list[ServerConf] = []
        self.upstreams: dict[str, Block] = {}
        #: Every block with locations semantics (servers, locations, ifs), for modules.
        self.blocks: list[Block] = []
        if http:
            self.http = Block("http", http[0], self.main, list(http[0].children()), table)
            self.blocks.append(self.http)
            for d in self.http.items:
                if d.name == "server":
                    self._add_server(d)
                elif d.name == "upstream":
                    self._add_upstream(d)
        #: nginx's [warn] lines when the http block ends: (message, None, 0)
        self.warnings: list[tuple[str, str | None, int]] = []
        self.addresses: dict[tuple[str, int], AddressServers] = build_addresses(
            self.servers, self.warnings)

    def _add_server(self, d: Directive) -> None:
        assert self.http is not None
        srv = ServerConf(d, self.http, list(d.children()), self.table, len(self.servers))
        self.servers.append(srv)
        self.blocks.append(srv)
        self._add_locations(srv)

    def _add_upstream(self, d: Directive) -> None:
        assert self.http is not None
        name = d.args[0] if d.args else ""
        if name in self.upstreams:
            raise ConfigError(f'duplicate upstream "{name}"', d.file, d.line)
        self.upstreams[name] = Block("upstream", d, self.http, list(d.children()), self.table)

    def _add_locations(self, parent: LocationConf) -> None:
        nested: list[LocationConf] = []
        for d in parent.items:
            if d.name == "location":
                nested.append(self._make_location(d, parent))
            elif d.name in ("if", "limit_except"):
                self._make_nameless(d, parent)
        parent.nested = nested
        build_location_tree(parent, nested)

    def _make_location(self, d: Directive, parent: LocationConf) -> LocationConf:
        modifier, name = parse_location_args(d)
        if modifier == "@" and parent.kind != "server":
            raise ConfigError(f'location "{name}" could not be inside location '
                              f'"{parent.name}"', d.file, d.line)
        if isinstance(parent, LocationConf) and parent.kind == "location":
            if parent.exact:
                raise ConfigError(f'location "{name}" could not be inside the exact location '
                                  f'"{parent.name}"', d.file, d.line)
            if parent.modifier == "@":
                raise ConfigError(f'location "{name}" could not be inside the named location '
                                  f'"{parent.name}"', d.file, d.line)
            if modifier not in ("~", "~*") and parent.modifier not in ("~", "~*") \
                    and not name.startswith(parent.name):
                raise ConfigError(f'location "{name}" is outside location "{parent.name}"',
                                  d.file, d.line)
        loc = LocationConf(d, parent, list(d.children()), self.table, modifier, name)
        if modifier in ("~", "~*"):
            loc.regex = Regex.for_directive(name, modifier == "~*", d.file, d.line)
        self.blocks.append(loc)
        self._add_locations(loc)
        return loc

    def _make_nameless(self, d: Directive, parent: LocationConf) -> LocationConf:
        loc = LocationConf(d, parent, list(d.children()), self.table, d.name, parent.name)
        loc.kind = d.name
        parent.nameless.append(loc)
        self.blocks.append(loc)
        self._add_locations(loc)
        return loc

    def listens(self) -> list[AddressServers]:
        return list(self.addresses.values())
