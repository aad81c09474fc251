"""``listen``: the address and parameter checks of ``ngx_http_core_listen`` and the
per-address checks of ``ngx_http_add_addresses`` (duplicates, options, default servers,
which default server needs an ssl certificate), with nginx's wording."""

from __future__ import annotations

import ipaddress

from .addresses import resolves
from .slots import nginx_int, nginx_time

__all__ = ["listen_error", "listen_text", "ListenTable"]


_LISTEN_FLAGS = frozenset({"default_server", "default", "ssl", "http2", "proxy_protocol",
                           "deferred", "bind", "reuseport"})


def listen_error(args: list[str]) -> str | None:
    """The error for a listen's address or parameters, or None."""
    addr = args[0]
    err = _listen_addr(addr)
    if err:
        return f'{err} in "{addr}" of the "listen" directive'
    for p in args[1:]:
        key, eq, value = p.partition("=")
        if not eq and p in _LISTEN_FLAGS:
            continue
        if key == "ipv6only" and value in ("on", "off"):
            continue
        if key in ("backlog", "fastopen") and eq:
            if not value.isdigit() or (key == "backlog" and int(value) == 0):
                return f'invalid {key} "{p}"'
            continue
        if key in ("rcvbuf", "sndbuf") and eq:
            if not _is_size(value):
                return f'invalid {key} "{p}"'
            continue
        if key == "so_keepalive" and eq:
            if not _so_keepalive_ok(value):
                return f'invalid so_keepalive value: "{value}"'
            continue
        return f'invalid parameter "{p}"'
    return None


def _so_keepalive_ok(value: str) -> bool:
    """``on``, ``off`` or ``[idle]:[interval]:[count]`` (times in seconds, a number)."""
    if value in ("on", "off"):
        return True
    idle, intvl, cnt = (value.split(":", 2) + ["", ""])[:3]
    if not (idle or intvl or cnt):
        return False
    return ((not idle or bool(nginx_time(idle, True))) and
            (not intvl or bool(nginx_time(intvl, True))) and
            (not cnt or bool(nginx_int(cnt))))


def _is_size(v: str) -> bool:
    """``ngx_parse_size``: digits with an optional k/K/m/M suffix."""
    if v[-1:] in ("k", "K", "m", "M"):
        v = v[:-1]
    return v.isdigit()


def _port_ok(port: str) -> bool:
    return port.isdigit() and 1 <= int(port) <= 65535


def _listen_addr(addr: str) -> str | None:
    """The subset of ``ngx_parse_url`` that listen uses; returns its ``u.err``."""
    if addr[:5].lower() == "unix:":
        return "no path in the unix domain socket" if len(addr) == 5 else None
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            return "invalid host"
        rest = addr[end + 1:]
        if rest and not rest.startswith(":"):
            return "invalid host"
        if rest and not _port_ok(rest[1:]):
            return "invalid port"
        try:
            ipaddress.IPv6Address(addr[1:end])
        except ValueError:
            return "invalid IPv6 address"
        return None
    host, colon, port = addr.partition(":")
    if colon:
        if not _port_ok(port):
            return "invalid port"
        if not host:
            return "no host"
        return _host_error(host)
    if addr.isdigit():
        return None if _port_ok(addr) else "invalid port"
    return _host_error(addr)


def _host_error(host: str) -> str | None:
    """``ngx_parse_inet_url``: ``*`` or an address, else a name the resolver must find."""
    return None if host == "*" or resolves(host) else "host not found"


#: listen parameters that set ``lsopt.set``: a second ``listen`` of the address with
#: any of them is "duplicate listen options"
_SOCKET_OPTS = ("backlog=", "rcvbuf=", "sndbuf=", "fastopen=", "ipv6only=", "so_keepalive=",
                "accept_filter=", "setfib=", "bind", "reuseport", "deferred")


def listen_text(addr: str) -> str | None:
    """The address as nginx prints it in listen errors (``0.0.0.0:80``, ``[::1]:80``,
    ``unix:/x``); None for a host name we do not resolve."""
    if addr[:5].lower() == "unix:":
        return "unix:" + addr[5:]
    if addr.startswith("["):
        end = addr.find("]")
        port = addr[end + 2:] or "80"
        return f"[{ipaddress.IPv6Address(addr[1:end]).compressed}]:{port}"
    host, colon, port = addr.rpartition(":")
    if not colon:
        host, port = ("", addr) if addr.isdigit() else (addr, "80")
    if host in ("", "*"):
        host = "0.0.0.0"
    elif host == "localhost":
        host = "127.0.0.1"
    try:
        return f"{ipaddress.IPv4Address(host)}:{int(port)}"
    except ValueError:
        return None


class ListenTable:
    """``ngx_http_add_addresses``' checks as each ``listen`` is read: the same address
    twice in one server, socket options given for an address twice, two default
    servers for one address."""

    def __init__(self) -> None:
        #: address text -> [servers (by id), options set, default server, ssl]
        self.addrs: dict[str, list] = {}

    def add(self, server: object, args: list[str]) -> str | None:
        text = listen_text(args[0])
        if text is None:
            return None
        entry = self.addrs.setdefault(text, [[], False, None, False])
        if any(s is server for s in entry[0]):
            return f"a duplicate listen {text}"
        entry[0].append(server)
        params = args[1:]
        entry[3] |= "ssl" in params
        if any(p == o or (o.endswith("=") and p.startswith(o)) for p in params
               for o in _SOCKET_OPTS):
            if entry[1]:
                return f"duplicate listen options for {text}"
            entry[1] = True
        if "default_server" in params or "default" in params:
            if entry[2] is not None:
                return f"a duplicate default server for {text}"
            entry[2] = server
        return None

    def ssl_defaults(self) -> list:
        """The default server of each address some ``listen ... ssl`` names: the one
        ngx_http_ssl_init requires a certificate of."""
        return [e[2] if e[2] is not None else e[0][0] for e in self.addrs.values() if e[3]]

