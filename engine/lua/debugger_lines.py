"""Where breakpoints go: a user's ``file:line`` as a Lua chunk and a line with code in it.

Why a map: the user thinks in configuration lines (``nginx.conf:23``) and Lua files, while
LuaJIT reports chunk sources (``=content_by_lua(nginx.conf:22)``, ``@/abs/mod.lua``) and
chunk lines. An inline handler's chunk line 1 is the line its Lua code starts on (the
``{`` of a ``*_by_lua_block``, the directive's line otherwise), so config line L is chunk
line L - start + 1. A breakpoint is accepted only on a line where the compiled chunk has
code (its prototypes' line info, nested functions included); the chunk is compiled in a
private VM and never run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator

import lupa.luajit21 as luajit

from ._loader import load_chunk
from .handlers import directive_base
from .thread import text

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..instance import Engine


@dataclass(frozen=True)
class Resolution:
    """What ``file:line`` resolved to: a chunk source and line, or why it did not."""

    source: str = ""  # "=content_by_lua(nginx.conf:22)" or "@/abs/mod.lua"; "" if refused
    chunk_line: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.source)


@dataclass(frozen=True)
class InlineChunk:
    """An inline handler's code: chunk line 1 is line ``start`` of ``file``."""

    chunkname: str
    file: str
    start: int
    end: int
    source: bytes
    directive: Directive


@lru_cache(maxsize=1)
def scratch() -> Any:
    """debugger.lua's functions in a private VM (compiling, never running, user code)."""
    lua = luajit.LuaRuntime(encoding=None, unpack_returned_tuples=True, register_eval=False)
    return load_chunk(lua, "debugger")(None, None, None)


def check_expression(source: str, expression_only: bool = False) -> str | None:
    """None when ``source`` compiles as a Lua expression (or statement), else Lua's error."""
    ok, err = scratch()[b"check_expression"](source.encode("utf-8", "surrogateescape"),
                                             expression_only)
    return None if ok else text(err)


def canonical(source: str) -> str:
    """A chunk source as breakpoints key it: files by their real path."""
    return "@" + os.path.realpath(source[1:]) if source.startswith("@") else source


class SourceMap:
    """One loaded configuration's inline handlers and Lua search places."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.chunks: dict[str, InlineChunk] = {}
        for d in _walk(engine.parsed.directives):
            base = directive_base(d.name)
            if base is None or d.name.endswith("_file"):
                continue
            if d.name.endswith("_block"):
                source, start = d.lua_source or "", d.head_line or d.line
            else:
                args = d.args[1:] if base == "set_by_lua" else d.args
                if not args:
                    continue
                source, start = args[0], d.line
            name = f"={base}({os.path.basename(d.file)}:{d.line})"
            self.chunks[name] = InlineChunk(name, d.file, start, d.end_line or d.line,
                                            source.encode("utf-8", "surrogateescape"), d)

    def resolve(self, file: str, line: int) -> Resolution:
        where = f"{file}:{line}"
        conf = self._conf_file(file)
        if conf is not None and conf.startswith("!"):
            return Resolution(message=conf[1:])
        if conf is not None:
            chunk = next((c for c in self.chunks.values()
                          if c.file == conf and c.start <= line <= c.end), None)
            if chunk is None:
                return Resolution(message=f"{where} is not inside a *_by_lua_block (or "
                                          "*_by_lua) directive's Lua code")
            source, src, chunk_line = chunk.chunkname, chunk.source, line - chunk.start + 1
            what = f"line {chunk_line} of {chunk.chunkname[1:]}"
        else:
            path = self._lua_file(file)
            if path is None:
                return Resolution(message=f'unknown file "{file}": neither a configuration '
                                  "file nor a Lua file found as given, under the prefix, the "
                                  "configuration directory or lua_package_path")
            try:
                with open(path, "rb") as fh:
                    src = fh.read()
            except OSError as exc:
                return Resolution(message=f"cannot read {path}: {exc.strerror}")
            source, chunk_line, what = "@" + path, line, path
        lines, err = scratch()[b"active_lines"](src, source.encode("utf-8", "surrogateescape"))
        if lines is None:
            return Resolution(message=f"{what} does not compile: {text(err)}")
        active = sorted(int(v) for v in lines.values())
        if chunk_line not in active:
            offset = line - chunk_line
            near = [str(n + offset) for n in ([n for n in active if n < chunk_line][-1:]
                                              + [n for n in active if n > chunk_line][:1])]
            return Resolution(message=f"no Lua code at {where} ({what})"
                              + (f"; lines with code nearby: {', '.join(near)}" if near else ""))
        return Resolution(source, chunk_line)

    def display(self, source: str, line: int) -> tuple[str, int]:
        """A chunk position as the user's file (short) and line."""
        chunk = self.chunks.get(source)
        if chunk is not None:
            # the handler's last line ("end", runtime.lua adds it) is the block's "}"
            return self.short(chunk.file), min(chunk.start + line - 1, chunk.end)
        if source.startswith("@"):
            return self.short(source[1:]), line
        return source.lstrip("="), line

    def short(self, path: str) -> str:
        for root in (os.path.dirname(self.engine.conf_path), self.engine.prefix):
            rel = os.path.relpath(path, root)
            if not rel.startswith(".."):
                return rel
        return path

    def _conf_file(self, file: str) -> str | None:
        """The configuration file ``file`` names (full path, or a trailing part of one);
        a message starting with "!" when that is ambiguous."""
        files = list(self.engine.parsed.files)
        real = os.path.realpath(file)
        exact = [f for f in files if os.path.realpath(f) == real]
        if exact:
            return exact[0]
        if file.endswith(".lua"):
            return None
        tail = [f for f in files if f.endswith(os.sep + file.lstrip(os.sep))]
        if len(tail) > 1:
            return f'!"{file}" names several configuration files: ' + ", ".join(tail)
        return tail[0] if tail else None

    def _lua_file(self, file: str) -> str | None:
        engine = self.engine
        candidates = [file] if os.path.isabs(file) else [
            file, os.path.join(engine.prefix, file),
            os.path.join(os.path.dirname(engine.conf_path), file)]
        service = engine.http.services.get("lua")
        if service is not None and service.workers and not os.path.isabs(file):
            path = text(service.workers[0].lua.globals()[b"package"][b"path"])
            for template in path.split(";"):
                if "?" in template:
                    folder = os.path.dirname(template.split("?")[0]) or "."
                    candidates.append(os.path.join(folder, file))
        for c in candidates:
            if os.path.isfile(c):
                return os.path.realpath(c)
        return None


def _walk(directives: list[Directive]) -> Iterator[Directive]:
    for d in directives:
        yield d
        if d.block:
            yield from _walk(d.block)
