"""Addresses in directive arguments, read as nginx's parsers read them (ngx_inet_addr,
inet_aton, ngx_ptocidr) or looked up as nginx looks names up at load (getaddrinfo)."""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["inet_addr", "inet_aton", "cidr", "resolves"]


def inet_addr(text: str) -> bool:
    """``ngx_inet_addr``: four dotted decimal octets (empty ones count as 0)."""
    octet, dots = 0, 0
    for ch in text:
        if "0" <= ch <= "9":
            octet = octet * 10 + ord(ch) - 48
            if octet > 255:
                return False
        elif ch == "." and octet < 256:
            octet, dots = 0, dots + 1
        else:
            return False
    return dots == 3 and bool(text)


def inet_aton(text: str) -> bool:
    """``inet_aton``: 1 to 4 numbers (decimal, octal or hex), the last filling the rest."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return False
    values = []
    for part in parts:
        try:
            values.append(int(part, 0) if not part.startswith("0") or part == "0"
                          or part[1:2] in "xX" else int(part, 8))
        except ValueError:
            return False
    return all(v < 256 for v in values[:-1]) and \
        values[-1] < 256 ** (5 - len(values))


def cidr(text: str) -> bool | None:
    """``ngx_ptocidr``: None if ``text`` is no address[/bits], False if bits are set
    past the mask (accepted; the module's configure() gives the warning), else True.
    IPv4 as ``ngx_inet_addr`` reads it (leading zeros are decimal)."""
    addr, slash, bits = text.partition("/")
    if inet_addr(addr):
        value, width = sum(int(o or 0) << (24 - 8 * i)
                           for i, o in enumerate(addr.split("."))), 32
    else:
        try:
            value, width = int(ipaddress.IPv6Address(addr)), 128
        except ValueError:
            return None
    if not slash:
        return True
    if not bits.isdigit() or int(bits) > width:
        return None
    return value & ((1 << (width - int(bits))) - 1) == 0


def resolves(host: str) -> bool:
    """Whether ``getaddrinfo`` finds ``host``, as nginx asks at load (the machine's own
    resolver: the verdict is this machine's, like nginx's)."""
    if inet_aton(host):
        return True
    if not host or any(c in host for c in "=~($/ {}"):
        return False
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return True
