"""Virtual servers: ``listen`` and ``server_name``, and choosing the server for a request.

nginx first picks the listening socket's address:port (a server listening on a specific
address takes connections to that address; ``*:port`` servers take the rest), then looks
the Host name up in that address's names: exact, then leading wildcard (``*.example.com``,
``.example.com``), then trailing wildcard (``www.example.*``), then regexes in the order
they appear; when nothing matches, the address's default server answers.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from .block import Block
from .location import LocationConf
from .regex import Regex

if TYPE_CHECKING:
    from .request import Request


@dataclass(frozen=True, slots=True)
class Listen:
    addr: str  # "*" for the wildcard, "127.0.0.1", "[::1]"
    port: int
    default_server: bool = False
    directive: Directive | None = None
    #: ``listen ... ssl``: connections on the address speak TLS
    ssl: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.addr, self.port)

    def __str__(self) -> str:
        """As nginx prints a listening address (the wildcard is 0.0.0.0)."""
        return f"{'0.0.0.0' if self.addr == '*' else self.addr}:{self.port}"


def parse_listen(d: Directive) -> Listen:
    """``listen 8080``, ``listen 127.0.0.1:8080 default_server``, ``listen [::]:80``..."""
    text = d.args[0]
    addr, port_s = "*", ""
    if text.startswith("unix:"):
        raise ConfigError(f'unix domain sockets are not modelled: "{text}"', d.file, d.line)
    if text.startswith("["):
        end = text.find("]")
        addr = text[: end + 1]
        port_s = text[end + 2:] if text[end + 1: end + 2] == ":" else "80"
    elif ":" in text:
        addr, port_s = text.rsplit(":", 1)
    elif text.isdigit():
        port_s = text
    else:
        addr, port_s = text, "80"
    if addr in ("*", "0.0.0.0"):
        addr = "*"
    elif addr == "localhost":
        addr = "127.0.0.1"
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ConfigError(f'invalid port in "{text}" of the "listen" directive', d.file, d.line)
    flags = set(d.args[1:])
    return Listen(addr, int(port_s), "default_server" in flags or "default" in flags, d,
                  "ssl" in flags)


class ServerConf(LocationConf):
    """A ``server`` block; it is also the implicit location that applies when none matches."""

    __slots__ = ("listens", "names", "index")

    def __init__(self, directive: Directive, parent: Block, items: list[Directive],
                 table, index: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(directive, parent, items, table)
        self.kind = "server"
        self.index = index
        self.listens = [parse_listen(d) for d in self.own.get("listen", [])] or [
            Listen("*", 80, False, None)]
        self.names: list[str] = [_stored_name(a) for d in self.own.get("server_name", [])
                                 for a in d.args]

    @property
    def server_name(self) -> str:
        """``$server_name`` (and the host of server_name_in_redirect): the first name as
        stored, a regex with its "~", a ".example.org" without its dot."""
        name = self.names[0] if self.names else ""
        return name[1:] if name.startswith(".") else name

    def label(self) -> str:
        names = " ".join(self.names) or '""'
        return f"server {names} ({', '.join(str(l) for l in self.listens)})"


def _stored_name(name: str) -> str:
    """A ``server_name`` argument as nginx keeps it: ``$hostname`` becomes the machine's
    name, other names are lowercased; regexes stay as written."""
    if name.lower() == "$hostname":
        return socket.gethostname().lower()
    return name if name.startswith("~") else ascii_lower(name)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """ngx_strlow: only ASCII letters change ("É" stays as it is)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


@dataclass
class AddressServers:
    """The servers reachable through one listening address:port."""

    listen: Listen
    servers: list[ServerConf] = field(default_factory=list)
    default: ServerConf | None = None
    exact: dict[str, ServerConf] = field(default_factory=dict)
    head: list[tuple[str, ServerConf, str]] = field(default_factory=list)  # (suffix, srv, pattern)
    tail: list[tuple[str, ServerConf, str]] = field(default_factory=list)  # (prefix, srv, pattern)
    regex: list[tuple[Regex, ServerConf, str]] = field(default_factory=list)
    #: nginx looks names up only where the address has several servers or its default
    #: server's last regex name has captures; else the default server takes everything.
    hashed: bool = True
    #: The default server's ``merge_slashes``: nginx parses the URI with it, before the
    #: Host header has chosen the virtual server.
    merge_slashes: bool = True
    #: One ``listen ... ssl`` of the address makes all its connections TLS ones.
    ssl: bool = False


def build_addresses(servers: list[ServerConf], warnings: list | None = None
                    ) -> dict[tuple[str, int], AddressServers]:
    """The servers of each listen address with their names indexed; ``warnings`` gets
    nginx's ``conflicting server name`` lines (message, None, 0)."""
    table: dict[tuple[str, int], AddressServers] = {}
    for srv in servers:
        for lst in srv.listens:
            entry = table.get(lst.key)
            if entry is None:
                entry = table[lst.key] = AddressServers(lst)
            if lst.default_server:
                if entry.default is not None and entry.listen.default_server:
                    d = lst.directive
                    raise ConfigError(f'a duplicate default server for {lst}',
                                      d.file if d else None, d.line if d else None)
                entry.default = srv
                entry.listen = lst
            if srv not in entry.servers:
                entry.servers.append(srv)
            entry.ssl = entry.ssl or lst.ssl
    for entry in table.values():
        if entry.default is None:
            entry.default = entry.servers[0]
        # "ssl on" (deprecated) in the default server makes the address a TLS one
        entry.ssl = entry.ssl or entry.default.flag("ssl", False)
        entry.hashed = len(entry.servers) > 1 or _captures(entry.default)
        entry.merge_slashes = entry.default.flag("merge_slashes", True)
        taken: set[tuple[str, str]] | None = set() if entry.hashed else None
        for srv in entry.servers:
            for name in srv.names or [""]:  # no server_name is server_name ""
                if taken is not None and _taken(taken, name):
                    if warnings is not None:
                        warnings.append((f'conflicting server name "{name}" on '
                                         f'{entry.listen}, ignored', None, 0))
                    continue
                _add_name(entry, name, srv)
    return table


def _captures(srv: ServerConf) -> bool:
    """nginx's ``cscf->captures``: whether the server's last regex name has captures
    (each regex name overwrites the flag)."""
    regexes = [name for name in srv.names if name.startswith("~")]
    return bool(regexes) and _compile(regexes[-1], srv).groups > 0


def _compile(name: str, srv: ServerConf) -> Regex:
    """A regex server name compiled as nginx does: caseless when the pattern has an
    uppercase ASCII letter (the host is lowercase already)."""
    d = srv.directive
    pattern = name[1:]
    caseless = any("A" <= ch <= "Z" for ch in pattern)
    return Regex.for_directive(pattern, caseless, d.file if d else "", d.line if d else 0)


def _taken(taken: set[tuple[str, str]], name: str) -> bool:
    """Whether ``name`` is already in the address's hash (nginx's ngx_hash_add_key says
    "busy": the name is ignored, even within one server), else take it. ``.x`` takes
    both ``x`` and ``*.x``; regexes are not hashed."""
    if name.startswith("~"):
        return False
    if name.startswith("*."):
        keys = [("head", name[2:])]
    elif name.startswith("."):
        keys = [("exact", name[1:]), ("head", name[1:])]
    elif name.endswith(".*"):
        keys = [("tail", name[:-2])]
    else:
        keys = [("exact", name)]
    if any(key in taken for key in keys):
        return True
    taken.update(keys)
    return False


def _add_name(entry: AddressServers, name: str, srv: ServerConf) -> None:
    if name.startswith("~"):
        entry.regex.append((_compile(name, srv), srv, name))
    elif name.startswith("*."):
        entry.head.append((name[1:], srv, name))
    elif name.startswith("."):
        entry.exact.setdefault(name[1:], srv)
        entry.head.append((name, srv, name))
    elif name.endswith(".*"):
        entry.tail.append((name[:-1], srv, name))
    else:
        entry.exact.setdefault(name, srv)


def find_server(entry: AddressServers, host: str | None, explain: bool = True
                ) -> tuple[ServerConf, str, list[str | None]]:
    """The server for ``host`` on this address: (server, why, regex captures).

    ``explain=False``: the common outcomes come without their wording (nothing traces)."""
    srv, why, caps = _lookup(entry, host, explain)
    # not hashed: the only server answers without a regex run, so without captures
    return (srv, why, caps) if entry.hashed else (srv, why, [])


def _lookup(entry: AddressServers, host: str | None, explain: bool
            ) -> tuple[ServerConf, str, list[str | None]]:
    assert entry.default is not None
    if not host:
        if host == "" and "" in entry.exact:  # a request without Host, server_name ""
            return entry.exact[""], 'empty name ""' if explain else "", []
        return entry.default, "no host: default server", []
    if host in entry.exact:
        return entry.exact[host], f'exact name "{host}"' if explain else "", []
    best: tuple[int, ServerConf, str] | None = None
    for suffix, srv, pattern in entry.head:
        if host.endswith(suffix) and (best is None or len(suffix) > best[0]):
            best = (len(suffix), srv, pattern)
    if best:
        return best[1], f'leading wildcard "{best[2]}"', []
    for prefix, srv, pattern in entry.tail:
        if host.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), srv, pattern)
    if best:
        return best[1], f'trailing wildcard "{best[2]}"', []
    for regex, srv, pattern in entry.regex:
        caps = regex.exec(host)
        if caps is not None:
            return srv, f'regex "{pattern}"', caps
    if not explain:
        return entry.default, "", []
    return entry.default, f'no name matched "{host}": default server of {entry.listen}', []


@lru_cache(maxsize=1024)
def valid_host(host: str) -> str | None:
    """ngx_http_validate_host: the name without its port and one trailing dot, lowercased;
    None (a 400) for two dots in a row, "/", a control byte, space or DEL anywhere, or
    nothing left. A leading dot, a backslash or an unclosed "[" are accepted."""
    h = host.strip()
    end = len(h)
    dot = -2
    literal = False
    in_name = True
    for i, ch in enumerate(h):
        if ch == ".":
            if dot == i - 1:
                return None
            dot = i
        elif ch == ":":
            if in_name and not literal:
                end, in_name = i, False
        elif ch == "[":
            literal = literal or i == 0
        elif ch == "]":
            if literal and in_name:
                end, in_name, literal = i + 1, False, False
        elif ch == "/" or ch <= " " or ch == "\x7f":
            return None
    if dot == end - 1:
        end -= 1
    if end <= 0:
        return None
    return ascii_lower(h[:end])


def select_server(addresses: dict[tuple[str, int], AddressServers], r: Request,
                  host: str | None) -> None:
    """Give the request its server: the listening address first, then the name."""
    conn = r.conn
    entry = addresses.get((conn.server_addr, conn.server_port)) or \
        addresses.get(("*", conn.server_port))
    if entry is None:
        # an in-process request to a port nobody listens on (the composer without a
        # port): the address of a default_server if there is one, else the first
        entry = next((e for e in addresses.values() if e.listen.default_server), None) \
            or next(iter(addresses.values()), None)
    if entry is None:
        raise RuntimeError("no server in the configuration")
    srv, why, caps = find_server(entry, host, r.trace.enabled)
    r.server = srv
    r.loc = srv
    if caps:
        r.captures = caps
        for regex, owner, _pattern in entry.regex:  # named captures become variables
            # the server's first regex that matches is the one find_server chose
            if owner is srv and host and regex.exec(host) is not None:
                for name, value in regex.named(caps).items():
                    r.variables[name] = value
                break
    if r.trace.enabled:
        r.trace.add("server", server=srv.label(), name=srv.server_name,
                    listen=str(entry.listen), reason=why,
                    file=srv.directive.file if srv.directive else "",
                    line=srv.directive.line if srv.directive else 0)
