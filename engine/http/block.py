"""A configuration block and the effective value of each directive in it.

nginx merges every module's configuration down the tree (main → http → server →
location → if). Here a :class:`Block` answers "what is in force here, and where was it
set?" for any directive, with the merge rule taken from the directive table: scalars
inherit the nearest outer value, array-like directives (``add_header``,
``proxy_set_header``, ``error_page``...) are inherited only when the inner block has none
of its own, and handlers (``return``, ``rewrite``, ``*_by_lua``) are not inherited.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..conf.ast import Directive
from ..conf.directives import DirectiveTable, Merge


class Block:
    """One block of the configuration (http, server, location, if, upstream...)."""

    __slots__ = ("kind", "directive", "parent", "items", "own", "mod", "table", "_cache")

    def __init__(self, kind: str, directive: Directive | None, parent: Block | None,
                 items: list[Directive], table: DirectiveTable) -> None:
        self.kind = kind
        self.directive = directive
        self.parent = parent
        #: The block's directives in order, ``include`` expanded.
        self.items = items
        self.table = table
        self.own: dict[str, list[Directive]] = {}
        for d in items:
            self.own.setdefault(d.name, []).append(d)
        #: Per-module compiled configuration (the module's loc_conf), by module name.
        self.mod: dict[str, Any] = {}
        self._cache: dict[str, tuple[list[Directive], Block | None]] = {}

    def _merge_rule(self, name: str) -> Merge:
        specs = self.table.lookup(name)
        return specs[0].merge if specs else Merge.INHERIT

    def lookup(self, name: str) -> tuple[list[Directive], Block | None]:
        """The directives in force for ``name`` and the block that set them."""
        hit = self._cache.get(name)
        if hit is not None:
            return hit
        own = self.own.get(name)
        if own:
            result: tuple[list[Directive], Block | None] = (own, self)
        elif self.parent is not None and self._merge_rule(name) is not Merge.NONE:
            result = self.parent.lookup(name)
        else:
            result = ([], None)
        self._cache[name] = result
        return result

    def get(self, name: str) -> list[Directive]:
        return self.lookup(name)[0]

    def first(self, name: str) -> Directive | None:
        found = self.lookup(name)[0]
        return found[0] if found else None

    def value(self, name: str, default: str | None = None) -> str | None:
        d = self.first(name)
        return d.args[0] if d is not None and d.args else default

    def flag(self, name: str, default: bool) -> bool:
        v = self.value(name)
        return default if v is None else v.lower() == "on"

    def ancestors(self) -> Iterator[Block]:
        b: Block | None = self
        while b is not None:
            yield b
            b = b.parent

    def label(self) -> str:
        """How the UI names this block: ``server``, ``location /x``, ``if ($a)``."""
        if self.directive is None:
            return self.kind
        args = " ".join(self.directive.args)
        return f"{self.directive.name} {args}".strip()

    def __repr__(self) -> str:
        return f"<Block {self.label()}>"
