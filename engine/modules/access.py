"""ngx_http_access_module: ``allow``/``deny`` rules, first match wins."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, OK, HttpModule, Phase

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request


class AccessModule(HttpModule):
    name = "ngx_http_access_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "allow", "deny",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.ACCESS, "access", self.handler, order=0,
                          active=lambda block: bool(self._rules(block)))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            rules = []
            for d in block.items:
                if d.name not in ("allow", "deny"):
                    continue
                arg = d.args[0]
                if arg == "all":
                    net = None
                else:
                    try:
                        net = ipaddress.ip_network(arg, strict=False)
                    except ValueError:
                        raise ConfigError(f'invalid parameter "{arg}"', d.file, d.line) from None
                    if "/" in arg and ipaddress.ip_network(arg, strict=False).network_address \
                            != ipaddress.ip_address(arg.split("/")[0]):
                        engine.services.setdefault("config_warnings", []).append(
                            (f'low address bits of {arg} are meaningless', d.file, d.line))
                rules.append((d.name == "allow", net, d))
            if rules:
                block.mod[self.name] = rules

    def _rules(self, block: Block) -> list | None:
        """The rules in force in ``block`` (the nearest block with any, up to http)."""
        rules = None
        for b in block.ancestors():
            rules = b.mod.get(self.name)
            if rules is not None or b.kind == "http":
                break
        return rules

    async def handler(self, r: Request) -> int:
        rules = self._rules(r.loc)
        if not rules:
            return DECLINED
        try:
            addr = ipaddress.ip_address(r.conn.client_addr)
        except ValueError:
            return DECLINED
        for allow, net, d in rules:
            if net is None or (addr.version == net.version and addr in net):
                r.trace.add("access", rule=f"{d.name} {d.args[0]}", addr=str(addr),
                            verdict="allow" if allow else "deny", file=d.file, line=d.line)
                if allow:
                    return OK
                if r.loc.value("satisfy", "all") == "all":
                    r.log("error", "access forbidden by rule")
                return 403
        return DECLINED
