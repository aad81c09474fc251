"""The ``*_by_lua*`` directives compiled into handlers, with ngx_lua's chunk names.

``content_by_lua_block`` at ``conf/nginx.conf:22`` runs as chunk
``=content_by_lua(nginx.conf:22)``, so errors read ``content_by_lua(nginx.conf:22):3:
...`` as in ngx_lua; ``*_by_lua_file`` chunks are named by their path (``@/abs/x.lua``),
relative paths resolving against the prefix, and the path may hold variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..modules.rewrite_vars import _prefix_getter, _uninitialized
from ..http.variables import ComplexValue, compile_value

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from .runtime import LuaCompileError, LuaWorker

#: The handler directives, by phase, in each of their three forms.
PHASE_DIRECTIVES = ("set_by_lua", "server_rewrite_by_lua", "rewrite_by_lua", "access_by_lua", "content_by_lua",
                    "header_filter_by_lua", "body_filter_by_lua", "log_by_lua",
                    "init_by_lua", "init_worker_by_lua", "exit_worker_by_lua")


def directive_base(name: str) -> str | None:
    """``content_by_lua_block`` → ``content_by_lua``; None when not a handler directive."""
    for suffix in ("_block", "_file", ""):
        if name.endswith(suffix):
            base = name[: len(name) - len(suffix)] if suffix else name
            if base in PHASE_DIRECTIVES:
                return base
    return None


@dataclass(eq=False)
class LuaHandler:
    base: str  # "content_by_lua"
    directive: Directive
    source: bytes | None  # inline code (block and string forms)
    path: ComplexValue | None  # *_by_lua_file
    chunkname: bytes
    #: For set_by_lua*: the variable and the argument values ($arg...).
    variable: str | None = None
    args: list[ComplexValue] | None = None

    @property
    def label(self) -> str:
        """What the trace calls this handler: the chunk name, as in Lua's messages."""
        if self.path is not None:
            return f"{self.base}_file {self.path.source}"
        return self.chunkname.decode()[1:]

    def factory(self, worker: LuaWorker, r: Request | None, cache: bool) -> Any:
        if self.path is None:
            assert self.source is not None
            return worker.compile(self.source, self.chunkname, cache)
        path = self.path.evaluate(r) if r is not None else self.path.source
        if not os.path.isabs(path):
            path = os.path.join(worker.service.prefix, path)
        return worker.compile_file(path, cache)

    @staticmethod
    def load_error(exc: LuaCompileError) -> str:
        """ngx_lua's line for code that does not load (a file named as it was opened)."""
        if exc.path is not None:
            return f'failed to load external Lua file "{exc.path}": {exc}'
        return f"failed to load inlined Lua code: {exc}"


def compile_handler(engine: HttpEngine, d: Directive) -> LuaHandler:
    base = directive_base(d.name)
    assert base is not None
    args = list(d.args)
    variable = None
    if base == "set_by_lua":
        variable = args.pop(0)[1:].lower()
    chunk = f"={base}({os.path.basename(d.file)}:{d.line})".encode()
    source: bytes | None = None
    path: ComplexValue | None = None
    if d.name.endswith("_block"):
        source = (d.lua_source or "").encode("utf-8", "surrogateescape")
    elif d.name.endswith("_file"):
        path = compile_value(args.pop(0), engine.variables, d.file, d.line)
    else:
        source = args.pop(0).encode("utf-8", "surrogateescape")
    handler = LuaHandler(base, d, source, path, chunk, variable)
    if base == "set_by_lua":
        handler.args = [compile_value(a, engine.variables, d.file, d.line) for a in args]
    return handler


def declare_set_variable(engine: HttpEngine, d: Directive) -> None:
    """NDK's set_var: the name must be a ``$variable`` nginx lets change; one no module
    defines reads, until this request sets it, as empty with nginx's "using
    uninitialized" warning (ndk_http_rewrite_var); only the http_/sent_http_/
    upstream_http_ prefixes keep their own getter."""
    arg = d.args[0]
    if not arg.startswith("$") or arg == "$":
        raise ConfigError(f'invalid variable name "{arg}"', d.file, d.line)
    name = arg[1:].lower()
    known = engine.variables.vars.get(name)
    if known is not None and not known.changeable and not known.stored:
        raise ConfigError(f'the duplicate "{arg[1:]}" variable', d.file, d.line)
    var = engine.variables.declare(name)
    if var.get is None:
        if name.startswith(("http_", "sent_http_", "upstream_http_")):
            var.get = _prefix_getter(engine, name) or _uninitialized(name)
        else:
            var.get = _uninitialized(name)
