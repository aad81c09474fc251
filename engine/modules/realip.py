"""ngx_http_realip_module: the client address taken from a header sent by a trusted proxy.

``set_real_ip_from`` lists the trusted peers (addresses, CIDRs, host names resolved at
load time, ``unix:``); ``real_ip_header`` names where the address is (X-Real-IP by
default, X-Forwarded-For, any header: the first of that name); ``real_ip_recursive``
walks X-Forwarded-For from the right past every trusted address. Like nginx the handler
runs twice: in the post-read phase with the server's configuration, and in the preaccess
phase with the location's, unless the address was already replaced for the request (so
a ``return`` in the location still sees the peer). nginx rewrites ``c->sockaddr`` and
puts it back when the request ends; here each request has its own :class:`Connection`
view, so the replaced address (``$remote_addr``, ``$binary_remote_addr``,
``$remote_port``, allow/deny, ``client:`` in the error log) never reaches the next
request on a keep-alive connection, while ``$realip_remote_addr``/``_port`` keep the peer.

``real_ip_header proxy_protocol`` is accepted but not modelled: the engine has no PROXY
protocol listener, so it never finds an address there (nginx also declines then).

The address parsing helpers (``ngx_inet_addr``, ``ngx_inet6_addr``, ``ngx_ptocidr``,
``ngx_http_get_forwarded_addr``, ``ngx_inet6_ntop``) are shared with the geo module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, HttpModule, Phase
from .upstream import URLError, resolve

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: An address: (family 4, 6 or 0 for unix, the address as an integer, port or 0).
Addr = tuple[int, int, int]
#: A trusted network: (family, address, mask) as integers (family 0: ``unix:``).
Cidr = tuple[int, int, int]

_KEY = "keep:realip"


def inet_addr(text: str) -> int | None:
    """``ngx_inet_addr``: dotted IPv4 (empty or leading-zero octets allowed), None when
    invalid; 255.255.255.255 is INADDR_NONE there, so it is refused too."""
    addr = octet = dots = 0
    for c in text:
        if "0" <= c <= "9":
            octet = octet * 10 + ord(c) - 48
            if octet > 255:
                return None
        elif c == ".":
            addr, octet, dots = (addr << 8) + octet, 0, dots + 1
        else:
            return None
    if dots != 3:
        return None
    addr = (addr << 8) + octet
    return None if addr == 0xFFFFFFFF else addr


def inet6_addr(text: str) -> int | None:
    """``ngx_inet6_addr``: one leading ':' is skipped, at most one '::', an IPv4 tail."""
    if not text:
        return None
    if text[0] == ":":
        text = text[1:]
    words: list[int] = []
    zero_at: int | None = None
    word = nibbles = 0
    last_group = 0  # where the group being read starts (for an IPv4 tail)
    for i, c in enumerate(text):
        if c == ":":
            if nibbles:
                words.append(word)
                if len(words) == 8:
                    return None
                word = nibbles = 0
                last_group = i + 1
                continue
            if zero_at is None:
                zero_at = len(words)
                last_group = i + 1
                continue
            return None
        if c == "." and nibbles:
            if len(words) > 6 or (zero_at is None and not words):  # no ':' seen
                return None
            v4 = inet_addr(text[last_group:])
            if v4 is None:
                return None
            words += [v4 >> 16, v4 & 0xFFFF]
            nibbles = -1  # the tail holds the last two words
            break
        nibbles += 1
        if nibbles > 4 or c.lower() not in "0123456789abcdef":
            return None
        word = word * 16 + int(c, 16)
    if nibbles == 0 and zero_at is None:
        return None
    if nibbles >= 0:
        words.append(word)
    if zero_at is not None:
        if len(words) >= 8:
            return None
        words[zero_at:zero_at] = [0] * (8 - len(words))
    elif len(words) != 8:
        return None
    value = 0
    for w in words:
        value = (value << 16) | w
    return value


def _digits(text: str) -> bool:
    """What ``ngx_atoi`` accepts: one or more ASCII digits."""
    return bool(text) and all("0" <= c <= "9" for c in text)


def parse_addr(text: str) -> Addr | None:
    """``ngx_parse_addr``: an IPv4 or IPv6 address, no port."""
    v4 = inet_addr(text)
    if v4 is not None:
        return (4, v4, 0)
    v6 = inet6_addr(text)
    return (6, v6, 0) if v6 is not None else None


def parse_addr_port(text: str) -> Addr | None:
    """``ngx_parse_addr_port``: an address, ``a.b.c.d:port`` or ``[v6]:port``."""
    addr = parse_addr(text)
    if addr is not None:
        return addr
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or end == len(text) - 1 or text[end + 1] != ":":
            return None
        host, port = text[1:end], text[end + 2:]
    else:
        host, sep, port = text.partition(":")
        if not sep:
            return None
    if not _digits(port) or not 1 <= int(port) <= 65535:
        return None
    addr = parse_addr(host)
    return (addr[0], addr[1], int(port)) if addr is not None else None


def ptocidr(text: str) -> tuple[Cidr, bool] | None:
    """``ngx_ptocidr``: (network, host bits were set) or None when invalid."""
    host, slash, bits = text.partition("/")
    v4 = inet_addr(host)
    family, addr = (4, v4) if v4 is not None else (6, inet6_addr(host))
    if addr is None:
        return None
    width = 32 if family == 4 else 128
    if not slash:
        return (family, addr, (1 << width) - 1), False
    if not _digits(bits) or int(bits) > width:
        return None
    mask = ((1 << width) - 1) ^ ((1 << (width - int(bits))) - 1)
    return (family, addr & mask, mask), addr & mask != addr


def cidr_match(addr: Addr, cidrs: list[Cidr]) -> bool:
    """``ngx_cidr_match``: an IPv4-mapped IPv6 address is compared as IPv4."""
    family, value = addr[0], addr[1]
    if family == 6 and value >> 32 == 0xFFFF:
        family, value = 4, value & 0xFFFFFFFF
    return any(f == family and (f == 0 or value & mask == net) for f, net, mask in cidrs)


def _from_list(addr: Addr, xff: str, cidrs: list[Cidr], recursive: bool) -> tuple[str, Addr]:
    """One header value, from its right end (``ngx_http_get_forwarded_addr_internal``):
    "declined" (untrusted peer or nothing parsable), "done" (stopped at an untrusted
    or unparsable element), or "ok"."""
    found = "declined"
    while True:
        if not cidr_match(addr, cidrs):
            return found, addr
        end = len(xff)
        while end > 1 and xff[end - 1] in " ,":
            end -= 1
        start = end - 1
        while start > 0 and xff[start] not in " ,":
            start -= 1
        if start > 0:
            start += 1
        parsed = parse_addr_port(xff[start:end]) if end > 0 else None
        if parsed is None:
            return found, addr
        addr = parsed
        if not recursive or start == 0:
            return "ok", addr
        xff, found = xff[:start - 1], "done"


def forwarded_addr(addr: Addr, values: list[str], cidrs: list[Cidr],
                   recursive: bool) -> tuple[str, Addr]:
    """``ngx_http_get_forwarded_addr`` over every header of the name, last one first."""
    status = "declined"
    for i, value in enumerate(reversed(values)):
        status, addr = _from_list(addr, value, cidrs, recursive)
        if not recursive:
            break
        if status == "declined" and i:
            return "done", addr
        if status != "ok":
            break
    return status, addr


def ntop(addr: Addr) -> str:
    """``ngx_sock_ntop``: nginx's IPv6 text (longest zero run of two or more words
    compressed, IPv4-compatible and -mapped forms written dotted)."""
    family, value, _ = addr
    if family == 4:
        return ".".join(str(value >> s & 0xFF) for s in (24, 16, 8, 0))
    if family == 0:
        return "unix:"
    words = [value >> (112 - 16 * i) & 0xFFFF for i in range(8)]
    zero, best, run = -1, 1, 0
    for i, w in enumerate(words + [1]):
        if w == 0:
            run += 1
            continue
        if run > best:
            zero, best = i - run, run
        run = 0
    count = 8
    out = ""
    if zero == 0:
        low = value & 0xFFFFFFFF
        if (best == 5 and words[5] == 0xFFFF) or best == 6 or (
                best == 7 and low >> 8 & 0xFF != 0 and low & 0xFF != 1):
            count = 6
        out = ":"
    i = 0
    while i < count:
        if i == zero:
            out += ":"
            i += best
            continue
        out += f"{words[i]:x}" + (":" if i < 7 else "")
        i += 1
    if count == 6:
        out += ".".join(str(value >> s & 0xFF) for s in (24, 16, 8, 0))
    return out


def peer_addr(text: str) -> Addr:
    """The connection's own address as an Addr (a unix socket peer is ``unix:``)."""
    return parse_addr(text) or (0, 0, 0)


@dataclass(slots=True)
class RealipConf:
    cidrs: list[Cidr]
    #: "X-Real-IP", "X-Forwarded-For", "proxy_protocol" or another header's name
    header: str
    recursive: bool


class RealipModule(HttpModule):
    name = "ngx_http_realip_module"
    directives = frozenset({"set_real_ip_from", "real_ip_header", "real_ip_recursive"})

    def init(self, engine: HttpEngine) -> None:
        def active(block: Block) -> bool:
            return self.name in block.mod
        engine.phases.add(Phase.POST_READ, "realip", self.handler, order=0, active=active)
        # before limit_conn/limit_req: nginx runs a phase's handlers in reverse module
        # order, and realip comes after them in ngx_modules[]
        engine.phases.add(Phase.PREACCESS, "realip", self.handler, order=-10,
                          active=active)
        engine.variables.add("realip_remote_addr", _original_addr)
        engine.variables.add("realip_remote_port", _original_port)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        compiled: dict[int, list[Cidr]] = {}
        for block in cfg.blocks:
            for d in block.own.get("set_real_ip_from", []):
                compiled[id(d)] = _trusted(engine, d)
        for block in cfg.blocks:
            froms = block.get("set_real_ip_from")
            if froms:
                block.mod[self.name] = RealipConf(
                    [c for d in froms for c in compiled[id(d)]],
                    block.value("real_ip_header", "X-Real-IP") or "X-Real-IP",
                    block.flag("real_ip_recursive", False))

    async def handler(self, r: Request) -> int:
        conf: RealipConf | None = r.loc.mod.get(self.name)
        if conf is None or _KEY in r.main.ctx:
            return DECLINED
        if conf.header == "X-Forwarded-For":
            values = r.headers_in.get_all("x-forwarded-for")
        elif conf.header == "proxy_protocol":
            return DECLINED
        else:
            value = r.headers_in.get(conf.header)
            values = [value] if value is not None else []
        if not values:
            return DECLINED
        conn = r.conn
        status, addr = forwarded_addr(peer_addr(conn.client_addr), values, conf.cidrs,
                                      conf.recursive)
        if status == "declined":
            return DECLINED
        r.main.ctx[_KEY] = (conn.client_addr, conn.client_port)
        r.trace.add("realip", addr=ntop(addr), port=addr[2], header=conf.header,
                    peer=f"{conn.client_addr}:{conn.client_port}",
                    recursive=conf.recursive)
        conn.client_addr, conn.client_port = ntop(addr), addr[2]
        return DECLINED


def _trusted(engine: HttpEngine, d: Directive) -> list[Cidr]:
    """``set_real_ip_from``: ``unix:``, a network, else a host name resolved now."""
    arg = d.args[0]
    if arg == "unix:":
        return [(0, 0, 0)]
    net = ptocidr(arg)
    if net is not None:
        if net[1]:
            engine.services.setdefault("config_warnings", []).append(
                (f"low address bits of {arg} are meaningless", d.file, d.line))
        return [net[0]]
    try:
        hosts = resolve(arg, 0)
    except URLError as exc:
        raise ConfigError(f'{exc} in set_real_ip_from "{arg}"', d.file, d.line) from None
    out: list[Cidr] = []
    for host, _ in hosts:
        addr = parse_addr(host)
        if addr is not None:
            out.append((addr[0], addr[1], (1 << (32 if addr[0] == 4 else 128)) - 1))
    return out


def _original_addr(r: Request) -> str:
    saved = r.main.ctx.get(_KEY)
    return saved[0] if saved else r.conn.client_addr


def _original_port(r: Request) -> str:
    saved = r.main.ctx.get(_KEY)
    port = saved[1] if saved else r.conn.client_port
    return str(port) if port else ""
