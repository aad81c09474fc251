"""The phase table and the filter chains that modules plug into.

nginx runs a request through eleven phases; modules add handlers to the phases they care
about (``ngx_http_handler_pt`` in ``cmcf->phases[]``) and filters to the header and body
chains. The core below runs the table and knows no module: rewrite, access, static, log,
proxy and Lua register here, in module order, like ``ngx_modules[]``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from .config import HttpConfig
    from .engine import HttpEngine
    from .request import Request

# Handler return codes, as nginx's.
OK = 0
ERROR = -1
AGAIN = -2
DONE = -4
DECLINED = -5


class Phase(IntEnum):
    POST_READ = 0
    SERVER_REWRITE = 1
    FIND_CONFIG = 2
    REWRITE = 3
    POST_REWRITE = 4
    PREACCESS = 5
    ACCESS = 6
    POST_ACCESS = 7
    PRECONTENT = 8
    CONTENT = 9
    LOG = 10

    @property
    def label(self) -> str:
        """nginx's debug-log wording: ``rewrite``, ``post rewrite``, ``server rewrite``..."""
        return self.name.lower().replace("_", " ")


Handler = Callable[["Request"], Awaitable[int]]
#: A header filter works on ``r.out`` and returns None to pass the header on, False to
#: stop the chain (what nginx's filters do by not calling the next one). Plain or async.
HeaderFilter = Callable[["Request"], Any]
#: A body filter gets ``(r, data, last)`` and returns the ``(data, last)`` it passes on,
#: or None when the chain stops there (the write filter). Plain or async.
BodyFilter = Callable[["Request", bytes, bool], Any]
#: ``active(block)`` is False when the handler or filter can do nothing for a request
#: whose configuration is ``block`` (it would decline, or pass the response on
#: untouched, with no side effect): the engine then skips it, as if nginx had built a
#: phase handler array per location.
Active = Callable[[Any], bool]


@dataclass(slots=True)
class PhaseHandler:
    phase: Phase
    name: str
    handler: Handler
    #: Position inside the phase: lower runs first. Modules that must run after every
    #: other handler of the phase (ngx_lua postpones its rewrite and access handlers to
    #: the end of their phases) use a high order.
    order: int = 0
    #: The handler records its own trace events (phase entered/left, with chunk names).
    traced: bool = False
    #: See :data:`Active`; None: the handler may act in every block.
    active: Active | None = None


@dataclass(slots=True)
class Filter:
    name: str
    fn: Any
    order: int
    active: Active | None = None
    #: The filter is a coroutine function (awaited) rather than a plain one (called).
    is_async: bool = False


class HttpModule:
    """Base for an http module: directives, configuration, handlers, filters, variables."""

    #: The module's name as nginx names it (``ngx_http_rewrite_module``).
    name = ""
    #: The directives whose behaviour the module models; the explorer marks the others
    #: (known to the directive table, validated, shown) as not modelled.
    directives: frozenset[str] = frozenset()

    def init(self, engine: HttpEngine) -> None:
        """Register variables, phase handlers and filters (once per loaded configuration)."""

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """Declare variables that directives create (``set``, regex captures)."""

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """Compile this module's directives into ``Block.mod[self.name]``; raise ConfigError."""

    async def start(self, engine: HttpEngine) -> None:
        """Runs when the engine starts serving (workers, timers)."""

    async def stop(self, engine: HttpEngine, graceful: bool) -> None:
        """Runs when the engine stops or reloads."""


class PhaseTable:
    def __init__(self) -> None:
        self.handlers: list[PhaseHandler] = []
        self.header_filters: list[Filter] = []
        self.body_filters: list[Filter] = []

    def add(self, phase: Phase, name: str, handler: Handler, order: int = 0,
            traced: bool = False, active: Active | None = None) -> None:
        self.handlers.append(PhaseHandler(phase, name, handler, order, traced, active))
        self.handlers.sort(key=lambda h: (h.phase, h.order))

    def add_header_filter(self, name: str, fn: HeaderFilter, order: int,
                          active: Active | None = None) -> None:
        """Header filters run from low ``order`` to high; the core writer is last."""
        self.header_filters.append(Filter(name, fn, order, active, _is_async(fn)))
        self.header_filters.sort(key=lambda f: f.order)

    def add_body_filter(self, name: str, fn: BodyFilter, order: int,
                        active: Active | None = None) -> None:
        self.body_filters.append(Filter(name, fn, order, active, _is_async(fn)))
        self.body_filters.sort(key=lambda f: f.order)

    def index_of(self, phase: Phase) -> int:
        """The first handler of a phase (nginx's ``*_index`` in the phase engine)."""
        for i, h in enumerate(self.handlers):
            if h.phase >= phase:
                return i
        return len(self.handlers)

    def for_phase(self, phase: Phase) -> list[PhaseHandler]:
        return [h for h in self.handlers if h.phase == phase]


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn)
