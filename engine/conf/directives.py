"""The directive table: what nginx knows about each directive before it runs its handler.

Modules register :class:`DirectiveSpec` entries here; the loader validates every parsed
directive against the table (context, arity, block or not) exactly in the order nginx's
``ngx_conf_handler`` does, so the first error reported is the one nginx reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntFlag
from typing import Callable, Iterable

from .ast import Directive


class Ctx(IntFlag):
    """Where a directive may appear (nginx's ``NGX_*_CONF`` bits)."""

    MAIN = 1
    EVENTS = 2
    HTTP = 4
    SRV = 8
    LOC = 16
    UPS = 32
    SIF = 64  # "if" inside server
    LIF = 128  # "if" inside location
    LMT = 256  # limit_except
    TYPES = 512  # inside "types { }"
    MAP = 1024  # inside map/geo/split_clients/... (free-form content)
    STREAM = 2048
    MAIL = 4096
    ANY_HTTP = HTTP | SRV | LOC


class Merge(Enum):
    """How a directive's value reaches inner blocks (nginx's merge_loc_conf rules)."""

    #: Inner blocks inherit the nearest outer value (``root``, ``default_type``...).
    INHERIT = "inherit"
    #: Array-like: inherited only when the inner block defines none of its own
    #: (``add_header``, ``proxy_set_header``, ``error_page``...). The famous trap.
    ARRAY = "array"
    #: Never inherited (``location``, ``return``, ``rewrite``, ``if``, handlers...).
    NONE = "none"


#: nginx's NGX_CONF_TAKE* flags as (min, max) argument counts; max None = unbounded.
NOARGS = (0, 0)
TAKE1 = (1, 1)
TAKE2 = (2, 2)
TAKE3 = (3, 3)
TAKE12 = (1, 2)
TAKE13 = (1, 3)
TAKE23 = (2, 3)
TAKE123 = (1, 3)
TAKE1234 = (1, 4)
ONEMORE = (1, None)
TWOMORE = (2, None)
ANY = (0, None)
FLAG = "flag"


@dataclass(frozen=True, slots=True)
class DirectiveSpec:
    """One entry of the directive table."""

    name: str
    contexts: Ctx
    #: Allowed argument counts: a (min, max) pair, ``FLAG`` (on|off), or a frozenset of
    #: exact counts for nginx's discontinuous forms such as TAKE13.
    arity: tuple[int, int | None] | str | frozenset[int]
    block: bool = False
    merge: Merge = Merge.INHERIT
    #: The module that owns it, as nginx names it (``ngx_http_rewrite_module``).
    module: str = ""
    #: False where the engine accepts and shows the directive but does not act on it.
    modelled: bool = True
    #: May appear more than once in the same block (otherwise "is duplicate").
    multi: bool = False
    #: Optional handler run at load time to validate and pre-compile the arguments;
    #: it raises ConfigError with nginx's wording for invalid values.
    check: Callable[[Directive], None] | None = None

    def accepts(self, nargs: int) -> bool:
        if self.arity == FLAG:
            return nargs == 1
        if isinstance(self.arity, frozenset):
            return nargs in self.arity
        lo, hi = self.arity  # type: ignore[misc]
        return nargs >= lo and (hi is None or nargs <= hi)


class DirectiveTable:
    """name -> spec; several specs may share a name in different contexts (``if``, ``types``)."""

    def __init__(self) -> None:
        self._specs: dict[str, list[DirectiveSpec]] = {}

    def register(self, *specs: DirectiveSpec) -> None:
        for spec in specs:
            self._specs.setdefault(spec.name, []).append(spec)

    def register_all(self, specs: Iterable[DirectiveSpec]) -> None:
        self.register(*specs)

    def lookup(self, name: str) -> list[DirectiveSpec]:
        return self._specs.get(name, [])

    def get(self, name: str, ctx: Ctx) -> DirectiveSpec | None:
        for spec in self._specs.get(name, ()):
            if spec.contexts & ctx:
                return spec
        return None

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)
