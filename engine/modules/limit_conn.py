"""ngx_http_limit_conn_module: how many requests of one key may be in progress at once.

``limit_conn_zone key zone=name:size`` counts, per key, the requests that hold it;
``limit_conn zone N`` rejects a request when N already do. A request takes its counts
in the preaccess phase (once per main request: internal redirects and subrequests do
not count again) and gives them back when it is freed — nginx does it in a cleanup of
the request's pool, here at the end of the log phase — so sequential requests always
see a count of 1, and only overlapping ones can be limited.

This file also holds what both limit modules share: the registry of named shared
memory zones (``cycle->shared_memory``) and the walk that reads their directives in
file order, so that the first error nginx would meet is the one reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..conf.errors import ConfigError
from ..conf.loader import PostParseError
from ..http.phases import DECLINED, HttpModule, Phase
from ..http.variables import compile_value, split_value

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from ..http.variables import ComplexValue

#: Log levels the ``*_log_level`` directives accept.
LOG_LEVELS = ("info", "notice", "warn", "error")
MAX_INT = 2 ** 63 - 1
_MIN_ZONE = 8 * 4096  # 8 * ngx_pagesize
#: ``$limit_conn_status`` (kept across internal redirects, as r->main's field is).
STATUS_KEY = "keep:limit_conn_status"
#: The (zone, key) pairs the main request holds, released when it is freed.
HELD_KEY = "keep:limit_conn_held"


# --- shared memory zones and the directive walk (shared with limit_req) ------------------


@dataclass
class ShmZone:
    """One ``ngx_shm_zone_t``: a name, a size (0 until a ``*_zone`` directive gives one),
    the module that owns it and that module's data (None until bound to a key)."""

    name: str
    size: int
    tag: str
    data: Any = None


@dataclass
class LimitParse:
    """The state of one walk over the configuration: zones, and each directive's value."""

    zones: dict[str, ShmZone] = field(default_factory=dict)
    #: id(directive) -> what its parser returned.
    values: dict[int, Any] = field(default_factory=dict)

    def add_zone(self, name: str, size: int, tag: str, d: Directive) -> ShmZone:
        """``ngx_shared_memory_add``: a zone is declared once per use, with one size."""
        zone = self.zones.get(name)
        if zone is None:
            zone = self.zones[name] = ShmZone(name, size, tag)
            return zone
        if zone.tag != tag:
            raise ConfigError(f'the shared memory zone "{name}" is already declared for a '
                              'different use', d.file, line_of(d))
        if zone.size == 0:
            zone.size = size
        if size and size != zone.size:
            raise ConfigError(f'the size {size} of shared memory zone "{name}" conflicts '
                              f'with already declared size {zone.size}', d.file, line_of(d))
        return zone


#: A directive parser: (directive, the block it is in, the walk) -> its value.
Parser = Callable[["Directive", "Block", LimitParse], Any]


def register_parsers(engine: HttpEngine, parsers: dict[str, Parser]) -> None:
    """Called from a module's init(): its directives are read in the shared walk."""
    engine.services.setdefault("limit_parsers", {}).update(parsers)


def parse_limits(engine: HttpEngine, cfg: HttpConfig) -> LimitParse:
    """Read every limit directive in file order (once per configuration), then compile
    the zone keys (unknown variables are found when ``http`` ends) and check that every
    zone used got a size (nginx's last check, when the cycle is initialised)."""
    done = engine.services.get("limit_parse")
    if done is not None:
        return done
    walk = engine.services["limit_parse"] = LimitParse()
    parsers: dict[str, Parser] = engine.services.get("limit_parsers", {})
    opened = {id(b.directive): b for b in cfg.blocks if b.directive is not None}

    def visit(block: Block) -> None:
        for d in block.items:
            inner = opened.get(id(d))
            if inner is not None:
                visit(inner)
            elif d.name in parsers:
                walk.values[id(d)] = parsers[d.name](d, block, walk)

    if cfg.http is not None:
        visit(cfg.http)
    for zone in walk.zones.values():
        if zone.data is not None:
            zone.data.key = compile_value(zone.data.key_source, engine.variables)
    for zone in walk.zones.values():
        if zone.size == 0:
            raise PostParseError(f'zero size shared memory zone "{zone.name}"')
    return walk


def line_of(d: Directive) -> int:
    """nginx reports a directive's errors at the line of its ``;``."""
    return d.head_line or d.line


def atoi(text: str) -> int:
    """``ngx_atoi``: decimal digits only, -1 (NGX_ERROR) for anything else or overflow."""
    if not text or not text.isascii() or not text.isdigit():
        return -1
    value = int(text)
    return value if value <= MAX_INT else -1


def zone_param(d: Directive, arg: str) -> tuple[str, int]:
    """``zone=name:size`` of the ``*_zone`` directives: the name and the size in bytes."""
    name, colon, size_text = arg[5:].partition(":")
    if not colon:
        raise ConfigError(f'invalid zone size "{arg}"', d.file, line_of(d))
    unit = size_text[-1:]
    scale = {"k": 1024, "K": 1024, "m": 1024 ** 2, "M": 1024 ** 2}.get(unit, 1)
    number = atoi(size_text[:-1] if scale > 1 else size_text)
    if number < 0 or number > MAX_INT // scale:
        raise ConfigError(f'invalid zone size "{arg}"', d.file, line_of(d))
    if number * scale < _MIN_ZONE:
        raise ConfigError(f'zone "{arg}" is too small', d.file, line_of(d))
    return name, number * scale


def zone_key(d: Directive) -> str:
    """The key argument; its syntax is checked now, its variables when ``http`` ends."""
    parts = split_value(d.args[0])
    if isinstance(parts, str):
        raise ConfigError(parts, d.file, line_of(d))
    return d.args[0]


def status_code(d: Directive) -> int:
    """``limit_req_status``/``limit_conn_status``: a number from 400 to 599."""
    value = atoi(d.args[0])
    if value < 0:
        raise ConfigError(f'"{d.name}" directive invalid number', d.file, line_of(d))
    if not 400 <= value <= 599:
        raise ConfigError("value must be between 400 and 599", d.file, line_of(d))
    return value


def log_level(d: Directive) -> str:
    """``*_log_level``: one of info, notice, warn, error."""
    if d.args[0] not in LOG_LEVELS:
        raise ConfigError(f'invalid value "{d.args[0]}"', d.file, line_of(d))
    return d.args[0]


# --- limit_conn ----------------------------------------------------------------------------


class ConnZone:
    """A ``limit_conn_zone``: its key and the count of requests per key value."""

    def __init__(self, key_source: str) -> None:
        self.key_source = key_source
        self.key: ComplexValue | None = None
        self.counts: dict[str, int] = {}

    def release(self, key: str) -> None:
        """One request of ``key`` is done; a key nobody holds leaves the zone."""
        left = self.counts[key] - 1
        if left:
            self.counts[key] = left
        else:
            del self.counts[key]


@dataclass(slots=True)
class ConnLimit:
    """One ``limit_conn zone N``."""

    zone: ShmZone
    conn: int
    directive: Directive


@dataclass(slots=True)
class ConnConf:
    """What is in force in a block (nginx's merged loc conf)."""

    limits: list[ConnLimit]
    status: int
    level: str
    dry_run: bool


def _parse_zone(d: Directive, block: Block, walk: LimitParse) -> None:
    key = zone_key(d)
    name, size = "", 0
    for arg in d.args[1:]:
        if not arg.startswith("zone="):
            raise ConfigError(f'invalid parameter "{arg}"', d.file, line_of(d))
        name, size = zone_param(d, arg)
    if not name:
        raise ConfigError(f'"{d.name}" must have "zone" parameter', d.file, line_of(d))
    zone = walk.add_zone(name, size, "limit_conn", d)
    if zone.data is not None:
        raise ConfigError(f'{d.name} "{name}" is already bound to key '
                          f'"{zone.data.key_source}"', d.file, line_of(d))
    zone.data = ConnZone(key)


def _parse_limit(d: Directive, block: Block, walk: LimitParse) -> ConnLimit:
    zone = walk.add_zone(d.args[0], 0, "limit_conn", d)
    for other in block.own.get(d.name, []):
        if other is d:
            break
        if walk.values[id(other)].zone is zone:
            raise ConfigError(f'"{d.name}" directive is duplicate', d.file, line_of(d))
    n = atoi(d.args[1])
    if n <= 0:
        raise ConfigError(f'invalid number of connections "{d.args[1]}"', d.file,
                          line_of(d))
    if n > 65535:
        raise ConfigError("connection limit must be less 65536", d.file, line_of(d))
    return ConnLimit(zone, n, d)


class LimitConnModule(HttpModule):
    name = "ngx_http_limit_conn_module"
    directives = frozenset({
        "limit_conn_zone", "limit_conn", "limit_conn_status", "limit_conn_log_level",
        "limit_conn_dry_run",
    })

    def init(self, engine: HttpEngine) -> None:
        self.used = False
        register_parsers(engine, {
            "limit_conn_zone": _parse_zone, "limit_conn": _parse_limit,
            "limit_conn_status": lambda d, b, w: status_code(d),
            "limit_conn_log_level": lambda d, b, w: log_level(d),
        })
        # preaccess order in nginx: realip, limit_req, limit_conn
        engine.phases.add(Phase.PREACCESS, "limit_conn", self.handler, order=30,
                          active=lambda block: self.name in block.mod)
        # after the access log, which may still read $limit_conn_status
        engine.phases.add(Phase.LOG, "limit_conn_cleanup", self.release, order=100,
                          active=lambda block: self.used)
        engine.variables.add("limit_conn_status", lambda r: r.main.ctx.get(STATUS_KEY))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        walk = parse_limits(engine, cfg)
        for block in cfg.blocks:
            limits = [walk.values[id(d)] for d in block.get("limit_conn")]
            if not limits:
                continue
            self.used = True
            status = block.first("limit_conn_status")
            level = block.first("limit_conn_log_level")
            block.mod[self.name] = ConnConf(
                limits, walk.values[id(status)] if status is not None else 503,
                walk.values[id(level)] if level is not None else "error",
                block.flag("limit_conn_dry_run", False))

    async def handler(self, r: Request) -> int:
        main_ctx = r.main.ctx
        conf: ConnConf | None = r.loc.mod.get(self.name)
        if conf is None or STATUS_KEY in main_ctx:
            return DECLINED
        held: list[tuple[ConnZone, str]] = main_ctx.setdefault(HELD_KEY, [])
        for limit in conf.limits:
            zone: ConnZone = limit.zone.data
            assert zone.key is not None
            key = zone.key.evaluate(r)
            if not key:
                continue
            if len(key) > 255:
                r.log("error", f'the value of the "{zone.key_source}" key is more than '
                               f'255 bytes: "{key}"')
                continue
            main_ctx[STATUS_KEY] = "PASSED"
            count = zone.counts.get(key, 0)
            if count >= limit.conn:
                dry = ", dry run," if conf.dry_run else ""
                r.log(conf.level, f'limiting connections{dry} by zone "{limit.zone.name}"')
                self._release_all(held)
                verdict = "REJECTED_DRY_RUN" if conf.dry_run else "REJECTED"
                self._decide(r, main_ctx, verdict, limit, key, count)
                return DECLINED if conf.dry_run else conf.status
            zone.counts[key] = count + 1
            held.append((zone, key))
            self._decide(r, main_ctx, "PASSED", limit, key, count + 1)
        return DECLINED

    async def release(self, r: Request) -> int:
        """The request is freed: give back what it holds (nginx's pool cleanup)."""
        if r.parent is None:
            held = r.ctx.get(HELD_KEY)
            if held:
                self._release_all(held)
        return DECLINED

    @staticmethod
    def _release_all(held: list[tuple[ConnZone, str]]) -> None:
        for zone, key in held:
            zone.release(key)
        held.clear()

    @staticmethod
    def _decide(r: Request, main_ctx: dict[str, Any], status: str, limit: ConnLimit,
                key: str, count: int) -> None:
        """Record the verdict for ``$limit_conn_status`` and in the trace."""
        main_ctx[STATUS_KEY] = status
        if r.trace.enabled:
            d = limit.directive
            r.trace.add("limit_conn", zone=limit.zone.name, key=key, verdict=status,
                        count=count, limit=limit.conn, file=d.file, line=d.line)
