"""ngx_http_access_module: ``allow``/``deny`` rules, first match wins.

As in nginx, the rules are kept per address family: an IPv4 client is checked against
the IPv4 rules only, an IPv6 one against the IPv6 rules (an IPv4-mapped address against
the IPv4 rules when there are any), a unix-socket one against ``unix:`` rules; ``all``
is in every list. A family without rules declines, whatever the other lists say. The
addresses are parsed as ``ngx_ptocidr`` does (shared with the realip module), so odd
forms nginx takes (leading zeros) or refuses (netmasks, scopes) agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, OK, HttpModule, Phase
from .realip import Cidr, peer_addr, ptocidr

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: One rule: (allow, the network as (family, address, mask), the directive).
Rule = tuple[bool, Cidr, "Directive"]
#: Address families, as realip's Addr spells them (0: unix socket).
_FAMILIES = (4, 6, 0)


class AccessModule(HttpModule):
    name = "ngx_http_access_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "allow", "deny",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.ACCESS, "access", self.handler, order=0,
                          active=lambda block: self._rules(block) is not None)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            rules: dict[int, list[Rule]] = {}
            for d in block.items:
                if d.name not in ("allow", "deny"):
                    continue
                allow = d.name == "allow"
                for net in _networks(engine, d):
                    rules.setdefault(net[0], []).append((allow, net, d))
            if rules:
                block.mod[self.name] = rules

    def _rules(self, block: Block) -> dict[int, list[Rule]] | None:
        """The rules in force in ``block`` (the nearest block with any, up to http)."""
        for b in block.ancestors():
            rules = b.mod.get(self.name)
            if rules is not None or b.kind == "http":
                return rules
        return None

    async def handler(self, r: Request) -> int:
        rules = self._rules(r.loc)
        if not rules:
            return DECLINED
        family, value, _ = peer_addr(r.conn.client_addr)
        if family == 6 and value >> 32 == 0xFFFF and 4 in rules:
            family, value = 4, value & 0xFFFFFFFF
        for allow, (_, net, mask), d in rules.get(family, ()):
            if value & mask == net:
                r.trace.add("access", rule=f"{d.name} {d.args[0]}", addr=r.conn.client_addr,
                            verdict="allow" if allow else "deny", file=d.file, line=d.line)
                if allow:
                    return OK
                if r.loc.value("satisfy", "all") == "all":
                    r.log("error", "access forbidden by rule")
                return 403
        if r.trace.enabled:
            r.trace.add("access", rule="allow/deny", addr=r.conn.client_addr,
                        verdict="declined", reason="no rule for the address matches")
        return DECLINED


def _networks(engine: HttpEngine, d: Directive) -> list[Cidr]:
    """The networks one ``allow``/``deny`` adds: ``all`` goes to every family's list;
    host bits set in a CIDR give nginx's warning."""
    arg = d.args[0]
    if arg == "all":
        return [(family, 0, 0) for family in _FAMILIES]
    if arg == "unix:":
        return [(0, 0, 0)]
    parsed = ptocidr(arg)
    if parsed is None:
        raise ConfigError(f'invalid parameter "{arg}"', d.file, d.line)
    if parsed[1]:
        engine.services.setdefault("config_warnings", []).append(
            (f"low address bits of {arg} are meaningless", d.file, d.line))
    return [parsed[0]]
