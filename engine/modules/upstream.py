"""ngx_http_upstream_module: ``upstream`` groups, their peers, and the ``$upstream_*`` variables.

nginx keeps one peer list per upstream group (``ngx_http_upstream_rr_peers_t``): the
primary servers, and the backup servers as a second list. A ``proxy_pass`` to a plain
``host:port`` makes an *implicit* group for that address (shared by every ``proxy_pass``
naming the same host and port, so failures counted by one are seen by the others).
The peer state (weights, fails, active connections) lives as long as the loaded
configuration, like a worker's memory without a ``zone``.

The balancers (round robin here, ``least_conn`` and ``ip_hash`` in
:mod:`engine.modules.upstream_balancers`) choose peers through a per-request
:class:`~engine.modules.upstream_balancers.PeerSelection`. This module is also where a
request's upstream attempts are recorded (:class:`UpstreamState`) for ``$upstream_addr``,
``$upstream_status`` and friends, which survive internal redirects as in nginx.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..conf.values import parse_time
from ..http.phases import HttpModule

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: ``server`` parameters each balancer accepts (nginx's NGX_HTTP_UPSTREAM_* flags).
ALL_PARAMS = frozenset({"weight", "max_conns", "max_fails", "fail_timeout", "down", "backup"})


class URLError(ValueError):
    """ngx_parse_url's ``u->err``: "invalid port", "no host", "host not found"..."""


def line_of(d: Directive) -> int:
    """nginx reports a directive's errors at the line of its ``;`` or ``{``."""
    return d.head_line or d.line


# --- URLs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedURL:
    """What ngx_parse_url makes of ``host[:port][/uri]`` (or ``unix:/path[:/uri]``)."""

    host: str  # as written: "127.0.0.1", "backend", "[::1]", or the socket path
    port: int
    port_text: str
    no_port: bool
    uri: str
    unix: bool = False


def parse_url(text: str, default_port: int, uri_part: bool) -> ParsedURL:
    """Split an upstream address the way nginx does, raising URLError with its wording."""
    if text[:5].lower() == "unix:":
        path = text[5:]
        uri = ""
        if uri_part:
            colon = path.find(":")
            if colon >= 0:
                path, uri = path[:colon], path[colon + 1:]
        if not path:
            raise URLError("no path in the unix domain socket")
        return ParsedURL(path, 0, "", True, uri, unix=True)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise URLError("invalid host")
        host, rest = text[: end + 1], text[end + 1:]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise URLError("invalid IPv6 address") from None
        uri = ""
        cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0], default=-1)
        if cut >= 0:
            if not uri_part:
                raise URLError("invalid host")
            rest, uri = rest[:cut], rest[cut:]
        if rest.startswith(":"):
            port = _port(rest[1:])
            return ParsedURL(host, port, rest[1:], False, uri)
        if rest:
            raise URLError("invalid host")
        return ParsedURL(host, default_port, "", True, uri)
    cut = min([i for i in (text.find("/"), text.find("?")) if i >= 0], default=-1)
    uri = ""
    host = text
    if cut >= 0:
        if not uri_part:
            raise URLError("invalid host")
        host, uri = text[:cut], text[cut:]
        if cut == 0:
            raise URLError("no host")
    colon = host.find(":")
    if colon >= 0:
        port_text = host[colon + 1:]
        port = _port(port_text)
        host = host[:colon]
        no_port = False
    else:
        port, port_text, no_port = default_port, "", True
    if not host:
        raise URLError("no host")
    return ParsedURL(host, port, port_text, no_port, uri)


def _port(text: str) -> int:
    n = int(text) if text.isdigit() else -1
    if not 1 <= n <= 65535:
        raise URLError("invalid port")
    return n


def literal_ip(host: str) -> str | None:
    """The address when ``host`` is an IP literal (``[::1]`` too), else None."""
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(h))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[tuple[str, int]]:
    """ngx_inet_resolve_host: IPv4 addresses first, then IPv6; URLError("host not found")."""
    ip = literal_ip(host)
    if ip is not None:
        return [(ip, port)]
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise URLError("host not found") from None
    v4 = [i[4][0] for i in infos if i[0] == socket.AF_INET]
    v6 = [i[4][0] for i in infos if i[0] == socket.AF_INET6]
    out: list[tuple[str, int]] = []
    for addr in v4 + v6:
        if (addr, port) not in out:
            out.append((addr, port))
    if not out:
        raise URLError("host not found")
    return out


def peer_name(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# --- peers and groups ------------------------------------------------------------------


@dataclass(eq=False)
class Peer:
    """One address of a group (``ngx_http_upstream_rr_peer_t``), with its live state."""

    name: str  # "127.0.0.1:8081", "[::1]:80", "unix:/tmp/s"
    addr: str  # the IP (or socket path for unix peers)
    port: int
    server: str  # the "server" argument it came from
    weight: int = 1
    max_fails: int = 1
    fail_timeout: int = 10
    max_conns: int = 0
    down: bool = False
    unix: bool = False
    current_weight: int = 0
    effective_weight: int = 1
    fails: int = 0
    accessed: int = 0
    checked: int = 0
    conns: int = 0

    def __post_init__(self) -> None:
        self.effective_weight = self.weight


@dataclass(eq=False)
class PeerList:
    """``ngx_http_upstream_rr_peers_t``: the primary list, or the backups in ``next``."""

    name: str
    peers: list[Peer]
    single: bool = False
    next: PeerList | None = None

    @property
    def total_weight(self) -> int:
        return sum(p.weight for p in self.peers)


@dataclass(eq=False)
class UpstreamGroup:
    """An ``upstream`` block, or the implicit group of a ``proxy_pass host:port``."""

    name: str
    primary: PeerList
    implicit: bool
    directive: Directive | None
    balancer: str = "round_robin"
    keepalive: int = 0
    #: For implicit groups: the port they were declared with (they match by host+port).
    port: int = 0
    no_port: bool = True

    @property
    def tries(self) -> int:
        """ngx_http_upstream_tries: every primary and backup peer not ``down`` may be
        tried once (nginx's ``peers->tries`` leaves the down ones out)."""
        backup = self.primary.next
        peers = self.primary.peers + (backup.peers if backup else [])
        return sum(1 for p in peers if not p.down)


@dataclass
class UpstreamState:
    """One attempt (``ngx_http_upstream_state_t``); ``peer`` None separates redirects."""

    peer: str | None
    status: int = 0
    response_time: float = -1.0
    connect_time: float = -1.0
    header_time: float = -1.0
    response_length: int = 0
    #: The request as written to the peer, and the response's head and body as read
    #: (for a chunked response, the body without its chunk framing).
    bytes_sent: int = 0
    bytes_received: int = 0


@dataclass
class UpstreamInfo:
    """``r->upstream`` as the variables see it: the last response's header lines."""

    headers: list[tuple[str, str]] = field(default_factory=list)


# --- the module --------------------------------------------------------------------------


class Upstreams:
    """The configuration's groups, published as ``engine.services["upstream"]``."""

    def __init__(self) -> None:
        self.groups: dict[str, UpstreamGroup] = {}
        self.implicit: dict[tuple[str, int], UpstreamGroup] = {}

    def explicit(self, host: str) -> UpstreamGroup | None:
        return self.groups.get(host.lower())

    def implicit_group(self, url: ParsedURL, d: Directive) -> UpstreamGroup:
        """The group of a ``proxy_pass http://host:port``, resolved now (nginx: at init)."""
        key = (url.host.lower(), url.port)
        group = self.implicit.get(key)
        if group is not None:
            return group
        if url.unix:
            peers = [Peer(f"unix:{url.host}", url.host, 0, f"unix:{url.host}", unix=True)]
        else:
            try:
                addrs = resolve(url.host, url.port)
            except URLError as exc:
                raise ConfigError(f'{exc} in upstream "{url.host}"', d.file, line_of(d)) from None
            peers = [Peer(peer_name(ip, port), ip, port, url.host) for ip, port in addrs]
        # nginx names the group (and "no live upstreams" shows it) by the host as written
        group = UpstreamGroup(url.host, PeerList(url.host, peers, single=len(peers) == 1),
                              True, d, port=url.port, no_port=url.no_port)
        self.implicit[key] = group
        return group

    def find_runtime(self, host: str, port: int, no_port: bool) -> UpstreamGroup | None:
        """ngx_http_upstream_init_request: a variable URL may name a group (any kind)."""
        group = self.groups.get(host.lower())
        if group is not None and no_port:
            return group
        return self.implicit.get((host.lower(), port))


class UpstreamModule(HttpModule):
    """Parses ``upstream`` blocks into groups and provides the ``$upstream_*`` variables."""

    name = "ngx_http_upstream_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "keepalive", "server", "upstream",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.services["upstream"] = Upstreams()
        #: Balancer modules register {"name": (get_function, params_allowed)} here.
        engine.services.setdefault("upstream_balancers", {})
        add = engine.variables.add
        add("upstream_addr", lambda r: _states_var(
            r, lambda s: "-" if s.peer is None else s.peer))
        add("upstream_status", lambda r: _states_var(
            r, lambda s: str(s.status) if s.status else "-"))
        add("upstream_response_time", lambda r: _states_var(r, lambda s: _msec(s.response_time)))
        add("upstream_connect_time", lambda r: _states_var(r, lambda s: _msec(s.connect_time)))
        add("upstream_header_time", lambda r: _states_var(r, lambda s: _msec(s.header_time)))
        add("upstream_response_length", lambda r: _states_var(
            r, lambda s: str(s.response_length)))
        add("upstream_bytes_sent", lambda r: _states_var(r, lambda s: str(s.bytes_sent)))
        add("upstream_bytes_received", lambda r: _states_var(
            r, lambda s: str(s.bytes_received)))
        # set by the proxy_cache module: MISS, HIT, EXPIRED, BYPASS, STALE, UPDATING...
        add("upstream_cache_status", lambda r: r.ctx.get("keep:upstream_cache_status"))
        engine.variables.add_prefix("upstream_trailer_", lambda r, name: None)
        engine.variables.add_prefix("upstream_http_", _upstream_header)
        engine.variables.add_prefix("upstream_cookie_", _upstream_cookie)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        ups: Upstreams = engine.services["upstream"]
        balancers: dict[str, Any] = engine.services["upstream_balancers"]
        for name, block in cfg.upstreams.items():
            ups.groups[name.lower()] = self._group(engine, name, block.directive, block.items,
                                                   balancers)

    def _group(self, engine: HttpEngine, name: str, d: Directive | None,
               items: list[Directive], balancers: dict[str, Any]) -> UpstreamGroup:
        assert d is not None
        balancer = "round_robin"
        allowed = ALL_PARAMS
        keepalive = 0
        primary: list[Peer] = []
        backup: list[Peer] = []
        servers = 0
        for item in items:
            if item.name in balancers:
                if balancer != "round_robin" or keepalive:
                    engine.services.setdefault("config_warnings", []).append(
                        ("load balancing method redefined", item.file, line_of(item)))
                balancer = item.name
                allowed = balancers[item.name][1]
            elif item.name == "keepalive":
                value = item.args[0]
                if not value.isdigit() or int(value) == 0:
                    raise ConfigError(f'invalid value "{value}" in "keepalive" directive',
                                      item.file, line_of(item))
                keepalive = int(value)
            elif item.name == "server":
                servers += 1
                is_backup, peers = _server(item, allowed)
                (backup if is_backup else primary).extend(peers)
        if servers == 0:
            raise ConfigError("no servers are inside upstream", d.file, d.end_line or d.line)
        if not primary:
            raise ConfigError(f'no servers in upstream "{name}" in {d.file}:{line_of(d)}')
        backups = PeerList(name, backup) if backup else None
        plist = PeerList(name, primary, single=len(primary) == 1 and backups is None,
                         next=backups)
        return UpstreamGroup(name, plist, False, d, balancer, keepalive)


def _server(d: Directive, allowed: frozenset[str]) -> tuple[bool, list[Peer]]:
    """ngx_http_upstream_server: parameters first, then the address."""
    weight, max_fails, fail_timeout, max_conns = 1, 1, 10, 0
    down = backup = False
    for arg in d.args[1:]:
        key, eq, value = arg.partition("=")
        param = key if eq else arg
        if param not in ALL_PARAMS or (eq and param in ("down", "backup")) or \
                (not eq and param not in ("down", "backup")):
            raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
        if param not in allowed:
            raise ConfigError(f'balancing method does not support parameter "{arg}"',
                              d.file, line_of(d))
        if param == "weight":
            weight = int(value) if value.isdigit() else 0
            if weight == 0:
                raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
        elif param in ("max_fails", "max_conns"):
            if not value.isdigit():
                raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
            if param == "max_fails":
                max_fails = int(value)
            else:
                max_conns = int(value)
        elif param == "fail_timeout":
            t = parse_time(value) if not value.endswith("ms") else None
            if t is None:
                raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
            fail_timeout = int(t)
        elif param == "down":
            down = True
        else:
            backup = True
    text = d.args[0]
    try:
        url = parse_url(text, 80, uri_part=False)
        if url.unix:
            addrs = [(url.host, 0)]
        else:
            addrs = resolve(url.host, url.port)
    except URLError as exc:
        raise ConfigError(f'{exc} in upstream "{text}"', d.file, line_of(d)) from None
    peers = []
    for ip, port in addrs:
        name = f"unix:{ip}" if url.unix else peer_name(ip, port)
        peers.append(Peer(name, ip, port, text, weight, max_fails, fail_timeout, max_conns,
                          down, unix=url.unix))
    return backup, peers


# --- variables ---------------------------------------------------------------------------


def upstream_states(r: Request) -> list[UpstreamState | None]:
    """The request's attempts; kept across internal redirects like ``r->upstream_states``."""
    states = r.ctx.get("keep:upstream_states")
    if states is None:
        states = r.ctx["keep:upstream_states"] = []
    return states


def _states_var(r: Request, fmt: Any) -> str | None:
    states = r.ctx.get("keep:upstream_states")
    if not states:
        return None
    out: list[str] = []
    for s in states:
        if s is None:
            if out:
                out[-1] = out[-1][:-2] + " : "
            continue
        out.append(fmt(s) + ", ")
    text = "".join(out)
    return text[:-2] if text.endswith(", ") else text


def _msec(seconds: float) -> str:
    if seconds < 0:
        return "-"
    ms = int(seconds * 1000)
    return f"{ms // 1000}.{ms % 1000:03d}"


def _upstream_header(r: Request, name: str) -> str | None:
    info = r.upstream
    if not isinstance(info, UpstreamInfo):
        return None
    want = name.replace("_", "-").lower()
    for k, v in info.headers:
        if k.lower() == want:
            return v
    return None


def _upstream_cookie(r: Request, name: str) -> str | None:
    info = r.upstream
    if not isinstance(info, UpstreamInfo):
        return None
    for k, v in info.headers:
        if k.lower() == "set-cookie":
            key, eq, value = v.split(";", 1)[0].strip().partition("=")
            if eq and key == name:
                return value
    return None


# --- ngx_http_upstream_next ------------------------------------------------------------------

#: Methods *_next_upstream does not repeat once the request went out (unless
#: ``non_idempotent`` is listed).
NON_IDEMPOTENT = frozenset({"POST", "LOCK", "PATCH"})


def may_retry(r: Request, allowed: frozenset[str] | set[str], timeout: float, ft: str,
              request_sent: bool, started: float) -> bool:
    """``*_next_upstream``: is ``ft`` listed, and may this request go again (method,
    ``*_next_upstream_timeout``)?"""
    if ft not in allowed:
        return False
    if request_sent and r.method in NON_IDEMPOTENT and "non_idempotent" not in allowed:
        return False
    return not (timeout and time.monotonic() - started >= timeout)


def next_upstream(r: Request, sel: Any, state: UpstreamState, ft: str, status: int,
                  action: str, retry: bool) -> int | None:
    """ngx_http_upstream_next: mark the peer, log, then give up (the status to finalize
    with) or go on to the next peer (None)."""
    warning = sel.free(failed=ft not in ("http_403", "http_404"))
    sel.current = None
    if warning:
        r.log("warn", f"{warning} while {action}")
    if ft == "timeout":
        r.log("error", f"upstream timed out (110: Connection timed out) while {action}")
    state.status = status
    if sel.tries == 0 or not retry:
        return status
    return None
