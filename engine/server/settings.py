"""The connection-level settings the listener needs, read from an Engine's configuration.

nginx reads a request head with the *default* server's settings of the address the
connection came on (``client_header_timeout``, ``client_header_buffer_size``,
``large_client_header_buffers``): the Host header is not known yet. The body is read
with the settings of the location the request goes to (``client_max_body_size``,
``client_body_timeout``), which the listener must know before reading the body so that it
never buffers what nginx would refuse.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.values import parse_size, parse_time
from ..http.block import Block
from ..http.servers import valid_host
from ..http.location import find_location
from ..http.servers import AddressServers, ServerConf, find_server
from ..http.uri import InvalidURI, parse_target
from .tls import address_context, conf_dir

if TYPE_CHECKING:
    from ..instance import Engine


@dataclass(frozen=True)
class AddressSettings:
    """What governs reading a request head on one listening address."""

    header_timeout: float = 60.0
    small_buffer: int = 1024
    large_buffer: int = 8192
    large_count: int = 4
    keepalive_timeout: float = 75.0
    #: The default server's name, shown as ``server:`` in connection-level log lines.
    server_name: str = ""
    #: ``listen ... ssl``: the context a handshake starts with (see .tls).
    tls: ssl.SSLContext | None = None


def _time(b: Block, name: str, default: float) -> float:
    v = b.value(name)
    t = parse_time(v) if v is not None else None
    return default if t is None else t


def _size(b: Block, name: str, default: int, arg: int = 0) -> int:
    d = b.first(name)
    if d is None or len(d.args) <= arg:
        return default
    s = parse_size(d.args[arg])
    return default if s is None else s


def _entry(engine: Engine, addr: str, port: int) -> AddressServers | None:
    addrs = engine.http.cfg.addresses
    return addrs.get((addr, port)) or addrs.get(("*", port)) or next(iter(addrs.values()), None)


def address_settings(engine: Engine, addr: str, port: int) -> AddressSettings:
    entry = _entry(engine, addr, port)
    srv = entry.default if entry else None
    if srv is None:
        return AddressSettings()
    large = srv.first("large_client_header_buffers")
    count = int(large.args[0]) if large is not None and large.args[0].isdigit() else 4
    return AddressSettings(
        header_timeout=_time(srv, "client_header_timeout", 60.0),
        small_buffer=_size(srv, "client_header_buffer_size", 1024),
        large_buffer=_size(srv, "large_client_header_buffers", 8192, 1),
        large_count=count,
        keepalive_timeout=_time(srv, "keepalive_timeout", 75.0),
        server_name=srv.server_name,
        tls=address_context(entry, conf_dir(engine)) if entry is not None and entry.ssl
        else None,
    )


def request_server(engine: Engine, addr: str, port: int, host: str | None) -> ServerConf | None:
    entry = _entry(engine, addr, port)
    if entry is None:
        return None
    name = valid_host(host) if host is not None else None
    return find_server(entry, name)[0]


def body_settings(engine: Engine, addr: str, port: int, host: str | None,
                  target: str) -> tuple[int, float, bool]:
    """(client_max_body_size, client_body_timeout, reads) of the location ``target`` goes to.

    The location is found before any rewrite, as nginx checks the limit when the body is
    first read; a rewrite to a location with another limit is caught by the engine's own
    Content-Length check. ``reads``: whether the location's handler reads the body
    (a module's content handler — proxy_pass, Lua... — and no ``return`` before it).
    nginx checks a chunked body against the limit only when a handler reads it; one
    that is discarded (``return``, static files) is never refused.
    """
    srv = request_server(engine, addr, port, host)
    if srv is None:
        return 1024 * 1024, 60.0, True
    block: Block = srv
    try:
        uri = parse_target(target).uri
    except InvalidURI:
        uri = None
    if uri is not None:
        def regex_test(loc):  # type: ignore[no-untyped-def]
            return loc.regex is not None and loc.regex.exec(uri) is not None

        _, loc = find_location(srv, uri, lambda *a: None, regex_test)
        if loc is not None:
            block = loc
    core = block.mod.get("core", {})
    limit = core.get("client_max_body_size")
    if limit is None:
        limit = _size(block, "client_max_body_size", 1024 * 1024)
    reads = "content_handler" in block.mod and "return" not in block.own \
        and "return" not in srv.own
    return int(limit), _time(block, "client_body_timeout", 60.0), reads
