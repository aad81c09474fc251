"""The parsed form of an nginx configuration: directives, as nginx's own parser sees them.

The parser keeps every directive's file and line, the verbatim source of Lua blocks and the
comments, because the explorer shows them; it keeps ``include`` as a node that owns the
directives it brought in, so the tree can show included files as sub-trees while modules
walk a flat list through :func:`iter_directives`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


@dataclass(slots=True, eq=False)
class Directive:
    """One directive: ``name arg... ;`` or ``name arg... { block }``."""

    name: str
    args: list[str]
    file: str
    line: int
    #: Children for block directives (``http``, ``server``, ``location``, ``if``...);
    #: for ``include``, the directives of the included files, in order. ``None`` otherwise.
    block: list[Directive] | None = None
    #: Whether each argument was written quoted (``if ($a = "")`` needs to know).
    quoted: list[bool] = field(default_factory=list)
    #: For ``*_by_lua_block``: the Lua source between the braces, verbatim.
    lua_source: str | None = None
    #: Line of the closing ``}`` or ``;`` (the UI shows the directive's whole source).
    end_line: int = 0
    #: For ``include``: the files it expanded to (absolute paths), in order.
    included: list[str] | None = None
    #: Line of the ``;`` or ``{`` that ends the name and arguments: nginx reports a
    #: directive's errors at this line (``cf->conf_file->line`` when the handler runs).
    head_line: int = 0

    @property
    def is_block(self) -> bool:
        return self.block is not None and self.name != "include"

    @property
    def where(self) -> str:
        """``FILE:LINE`` as nginx prints it after ``in``."""
        return f"{self.file}:{self.line}"

    def children(self) -> Iterator[Directive]:
        """The directives of this block with ``include`` expanded in place."""
        return iter_directives(self.block or [])


def iter_directives(directives: list[Directive]) -> Iterator[Directive]:
    """Walk one block level, expanding ``include`` nodes in place, as nginx does."""
    for d in directives:
        if d.name == "include" and d.block is not None:
            yield from iter_directives(d.block)
        else:
            yield d


@dataclass(slots=True)
class Comment:
    file: str
    line: int
    text: str


@dataclass(slots=True)
class ConfigFile:
    """One file read while parsing (the main file or an included one)."""

    path: str
    text: str


@dataclass(slots=True)
class ParsedConfig:
    """The result of parsing: the main file's directives and every file that was read."""

    conf_path: str
    prefix: str
    directives: list[Directive]
    files: dict[str, ConfigFile] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    #: nginx's parse-time ``[warn]`` lines: (message, file, line)
    warnings: list[tuple[str, str | None, int]] = field(default_factory=list)
