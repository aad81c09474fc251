"""ngx_http_limit_req_module: the leaky bucket of ``limit_req_zone``/``limit_req``.

Every key of a zone has a node holding its *excess* (requests over the rate, in
thousandths) and the millisecond it was last accounted. A request drains the bucket by
``rate * elapsed_ms / 1000`` and adds 1000; above ``burst`` it is rejected, above
``delay`` it waits until the excess would have drained. The arithmetic is nginx's,
integer for integer, so that the same requests give the same verdicts and the same
``excess: 1.000`` in the error log. The check runs once per main request (internal
redirects and subrequests are not limited again) in the preaccess phase.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, HttpModule, Phase
from .limit_conn import (MAX_INT, LimitParse, ShmZone, atoi, line_of, log_level, parse_limits,
                         register_parsers, status_code, zone_key, zone_param)

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from ..http.variables import ComplexValue

#: ``$limit_req_status`` values, as nginx names them.
PASSED, DELAYED, REJECTED = "PASSED", "DELAYED", "REJECTED"
DELAYED_DRY_RUN, REJECTED_DRY_RUN = "DELAYED_DRY_RUN", "REJECTED_DRY_RUN"
#: The main request's state; "keep:" survives internal redirects, as r->main's field does.
STATUS_KEY = "keep:limit_req_status"
#: The level delays are logged at, one below ``limit_req_log_level`` (info stays info).
_DELAY_LEVEL = {"info": "info", "notice": "info", "warn": "notice", "error": "warn"}

# lookup results, as nginx's return codes
_OK, _AGAIN, _BUSY, _NONE = "OK", "AGAIN", "BUSY", "DECLINED"


def now_ms() -> int:
    """``ngx_current_msec``: a monotonic clock in milliseconds."""
    return int(time.monotonic() * 1000)


# --- the leaky bucket --------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    """A key's bucket: excess in thousandths of a request, last accounting, users."""

    excess: int = 0
    last: int = 0
    #: Requests that looked the node up and have not accounted yet (not expired then).
    count: int = 0


class ReqZone:
    """A ``limit_req_zone``: its key, its rate (requests per 1000 s) and the nodes,
    least recently used first (nginx's queue, read from its tail)."""

    def __init__(self, key_source: str, rate: int) -> None:
        self.key_source = key_source
        self.key: ComplexValue | None = None
        self.rate = rate
        self.nodes: OrderedDict[str, Node] = OrderedDict()

    def drained(self, node: Node, now: int) -> tuple[int, int]:
        """The node's excess after the time since its last accounting, plus this
        request; and that time (a clock gone back counts as 0 ms, or 1 if far back)."""
        ms = now - node.last
        if ms < -60000:
            ms = 1
        elif ms < 0:
            ms = 0
        return max(node.excess - self.rate * ms // 1000 + 1000, 0), ms

    def lookup(self, key: str, burst: int, now: int, account: bool) -> tuple[str, int, Node]:
        """``ngx_http_limit_req_lookup``: (result, excess, node) for one key."""
        node = self.nodes.get(key)
        if node is not None:
            self.nodes.move_to_end(key)
            excess, ms = self.drained(node, now)
            if excess > burst:
                return _BUSY, excess, node
            if account:
                if ms:
                    node.last = now
                node.excess = excess
                return _OK, excess, node
            node.count += 1
            return _AGAIN, excess, node
        self._expire(now)
        # a node not accounted yet starts at time 0, so that it drains completely
        node = self.nodes[key] = Node(0, now if account else 0, 0 if account else 1)
        return (_OK if account else _AGAIN), 0, node

    def _expire(self, now: int) -> None:
        """Before a new node: drop up to two idle ones, unused for a minute and empty."""
        for _ in range(2):
            if not self.nodes:
                return
            key, node = next(iter(self.nodes.items()))
            ms = abs(now - node.last)
            if node.count or ms < 60000 or node.excess - self.rate * ms // 1000 > 0:
                return
            del self.nodes[key]


@dataclass(slots=True)
class Limit:
    """One ``limit_req``: its zone, burst and delay thresholds in thousandths."""

    zone: ShmZone
    burst: int
    delay: int
    directive: Directive


@dataclass(slots=True)
class ReqConf:
    """What is in force in a block (nginx's merged loc conf)."""

    limits: list[Limit]
    status: int
    level: str
    delay_level: str
    dry_run: bool


def _parse_zone(d: Directive, block: Block, walk: LimitParse) -> None:
    key = zone_key(d)
    name, size, rate, scale = "", 0, 1, 1
    for arg in d.args[1:]:
        if arg.startswith("zone="):
            name, size = zone_param(d, arg)
        elif arg.startswith("rate="):
            body = arg  # a rate without a unit keeps the unit of an earlier one
            if arg.endswith("r/s"):
                body = arg[:-3]
                scale = 1
            elif arg.endswith("r/m"):
                body, scale = arg[:-3], 60
            rate = atoi(body[5:])
            if rate <= 0:
                raise ConfigError(f'invalid rate "{arg}"', d.file, line_of(d))
        else:
            raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
    if not name:
        raise ConfigError(f'"{d.name}" must have "zone" parameter', d.file, line_of(d))
    zone = walk.add_zone(name, size, "limit_req", d)
    if zone.data is not None:
        raise ConfigError(f'{d.name} "{name}" is already bound to key '
                          f'"{zone.data.key_source}"', d.file, line_of(d))
    zone.data = ReqZone(key, rate * 1000 // scale)


def _parse_limit(d: Directive, block: Block, walk: LimitParse) -> Limit:
    zone: ShmZone | None = None
    burst = delay = 0
    for arg in d.args:
        if arg.startswith("zone="):
            zone = walk.add_zone(arg[5:], 0, "limit_req", d)
        elif arg.startswith("burst="):
            burst = atoi(arg[6:])
            if burst <= 0:
                raise ConfigError(f'invalid burst value "{arg}"', d.file, line_of(d))
        elif arg.startswith("delay="):
            delay = atoi(arg[6:])
            if delay <= 0:
                raise ConfigError(f'invalid delay value "{arg}"', d.file, line_of(d))
        elif arg == "nodelay":
            delay = MAX_INT // 1000
        else:
            raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
    if zone is None:
        raise ConfigError(f'"{d.name}" must have "zone" parameter', d.file, line_of(d))
    for other in block.own.get(d.name, []):
        if other is d:
            break
        if walk.values[id(other)].zone is zone:
            raise ConfigError(f'"{d.name}" directive is duplicate', d.file, line_of(d))
    return Limit(zone, burst * 1000, delay * 1000, d)


class LimitReqModule(HttpModule):
    name = "ngx_http_limit_req_module"
    directives = frozenset({
        "limit_req_zone", "limit_req", "limit_req_status", "limit_req_log_level",
        "limit_req_dry_run",
    })

    def init(self, engine: HttpEngine) -> None:
        register_parsers(engine, {
            "limit_req_zone": _parse_zone, "limit_req": _parse_limit,
            "limit_req_status": lambda d, b, w: status_code(d),
            "limit_req_log_level": lambda d, b, w: log_level(d),
        })
        # preaccess order in nginx: realip, limit_req, limit_conn
        engine.phases.add(Phase.PREACCESS, "limit_req", self.handler, order=20,
                          active=lambda block: self.name in block.mod)
        engine.variables.add("limit_req_status", lambda r: r.main.ctx.get(STATUS_KEY))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        walk = parse_limits(engine, cfg)
        for block in cfg.blocks:
            limits = [walk.values[id(d)] for d in block.get("limit_req")]
            if not limits:
                continue
            status = block.first("limit_req_status")
            level = block.first("limit_req_log_level")
            lvl = walk.values[id(level)] if level is not None else "error"
            block.mod[self.name] = ReqConf(
                limits, walk.values[id(status)] if status is not None else 503, lvl,
                _DELAY_LEVEL[lvl], block.flag("limit_req_dry_run", False))

    async def handler(self, r: Request) -> int:
        main_ctx = r.main.ctx
        conf: ReqConf | None = r.loc.mod.get(self.name)
        if conf is None or STATUS_KEY in main_ctx:
            return DECLINED
        now = now_ms()
        rc, excess = _NONE, 0
        held: list[tuple[Limit, Node]] = []
        last = len(conf.limits) - 1
        limit = conf.limits[0]
        for i, limit in enumerate(conf.limits):
            zone: ReqZone = limit.zone.data
            assert zone.key is not None
            key = zone.key.evaluate(r)
            if not key:
                continue
            if len(key) > 65535:
                r.log("error", f'the value of the "{zone.key_source}" key is more than '
                               f'65535 bytes: "{key}"')
                continue
            rc, excess, node = zone.lookup(key, limit.burst, now, i == last)
            if rc == _AGAIN:
                held.append((limit, node))
            else:
                break
        if rc == _NONE:
            return DECLINED
        name = limit.zone.name
        dry = ", dry run" if conf.dry_run else ""
        if rc == _BUSY:
            r.log(conf.level, f'limiting requests{dry}, excess: {_thousandths(excess)} '
                              f'by zone "{name}"')
            for _, node in held:
                node.count -= 1
            status = REJECTED_DRY_RUN if conf.dry_run else REJECTED
            self._decide(r, main_ctx, status, limit, excess, 0)
            return DECLINED if conf.dry_run else conf.status
        delay, excess, limit = _account(held, now, 0 if rc == _AGAIN else excess, limit)
        if not delay:
            self._decide(r, main_ctx, PASSED, limit, excess, 0)
            return DECLINED
        r.log(conf.delay_level, f'delaying request{dry}, excess: {_thousandths(excess)}, '
                                f'by zone "{limit.zone.name}"')
        if conf.dry_run:
            self._decide(r, main_ctx, DELAYED_DRY_RUN, limit, excess, delay)
            return DECLINED
        self._decide(r, main_ctx, DELAYED, limit, excess, delay)
        await asyncio.sleep(delay / 1000)
        return DECLINED

    @staticmethod
    def _decide(r: Request, main_ctx: dict[str, Any], status: str, limit: Limit,
                excess: int, delay: int) -> None:
        """Record the verdict for ``$limit_req_status`` and in the trace."""
        main_ctx[STATUS_KEY] = status
        if r.trace.enabled:
            d = limit.directive
            r.trace.add("limit_req", zone=limit.zone.name, verdict=status,
                        excess=_thousandths(excess), burst=_thousandths(limit.burst),
                        delay_ms=delay, file=d.file, line=d.line)


def _account(held: list[tuple[Limit, Node]], now: int, excess: int,
             limit: Limit) -> tuple[int, int, Limit]:
    """``ngx_http_limit_req_account``: charge the nodes the earlier limits looked up and
    return the longest delay any of them asks for, with its excess and limit."""
    zone: ReqZone = limit.zone.data
    max_delay = 0 if excess <= limit.delay else (excess - limit.delay) * 1000 // zone.rate
    for held_limit, node in reversed(held):
        zone = held_limit.zone.data
        node_excess, ms = zone.drained(node, now)
        if ms:
            node.last = now
        node.excess = node_excess
        node.count -= 1
        if node_excess <= held_limit.delay:
            continue
        delay = (node_excess - held_limit.delay) * 1000 // zone.rate
        if delay > max_delay:
            max_delay, excess, limit = delay, node_excess, held_limit
    return max_delay, excess, limit


def _thousandths(value: int) -> str:
    """nginx's ``%ui.%03ui`` of a value in thousandths."""
    return f"{value // 1000}.{value % 1000:03d}"
