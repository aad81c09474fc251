"""The engine's front door: load a configuration, answer requests, start and stop.

An :class:`Engine` is what one ``nginx`` master holds between two reloads: the parsed
configuration, the http core with its modules, the error log, and the modules' running
parts (Lua workers, timers, upstream pools). Tests, the CLI, the listener and the TUI
all use this same object.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable

from .conf.ast import ParsedConfig
from .conf.directives import DirectiveTable
from .conf.errors import ConfigError
from .http.api import Exchange, HttpRequest, ResponseSink
from .http.config import HttpConfig
from .http.engine import HttpEngine
from .http.header_checks import check_headers
from .http.log import ErrorLog, LogRecord, parse_levels
from .http.phases import HttpModule
from .modules import BUILTIN_MODULES


def load_modules(names: list[str] | None = None) -> list[HttpModule]:
    modules = []
    for spec in names or BUILTIN_MODULES:
        mod_name, _, cls_name = spec.partition(":")
        cls = getattr(importlib.import_module(mod_name), cls_name)
        modules.append(cls())
    return modules


def default_table() -> DirectiveTable:
    try:
        from .conf.catalog import build_table
    except ImportError:  # pragma: no cover - the catalogue is part of the package
        return DirectiveTable()
    return build_table()


class Engine:
    """A loaded configuration, ready to answer requests."""

    def __init__(self, parsed: ParsedConfig, table: DirectiveTable | None = None,
                 trace: bool = True, modules: list[str] | None = None,
                 options: dict[str, Any] | None = None) -> None:
        """``options``: ``lua_watchdog`` (CPU seconds a Lua handler may run without
        yielding, default 5, 0 = off as in nginx), ``lua_memory_mb`` (default 1024) and
        ``test_config`` (``nginx -t``: init_by_lua* is not run, so its failure, a
        ConfigError at level ``error`` otherwise, is not reported)."""
        self.parsed = parsed
        self.table = table or default_table()
        self.error_log = ErrorLog()
        self.config = HttpConfig(parsed, self.table)
        self._configure_error_log()
        self.http = HttpEngine(self.config, load_modules(modules), self.error_log, trace,
                               options)

    @classmethod
    def load(cls, conf_path: str, prefix: str | None = None,
             global_directives: str | None = None, trace: bool = True,
             options: dict[str, Any] | None = None) -> Engine:
        """Parse and validate ``conf_path`` like ``nginx -t``; raises ConfigError."""
        from .conf import load
        table = default_table()
        parsed = load(conf_path, prefix=prefix, global_directives=global_directives,
                      table=table)
        return cls(parsed, table, trace, options=options)

    def _configure_error_log(self) -> None:
        prefix = self.parsed.prefix
        found = self.config.main.own.get("error_log", [])
        for d in found:
            path = d.args[0]
            level = parse_levels(d.args[1:])
            if isinstance(level, str):
                raise ConfigError(level, d.file, d.line)
            if path not in ("stderr",) and not path.startswith(("/", "syslog:", "memory:")):
                path = os.path.join(prefix, path)
            if not path.startswith(("syslog:", "memory:")):
                self.error_log.add_file(path, level)
        if not found:
            self.error_log.add_file(os.path.join(prefix, "logs/error.log"), "error")

    @property
    def warnings(self) -> list[str]:
        """The ``[warn]`` lines nginx prints while it reads this configuration: the
        parser's and the modules' (``services["config_warnings"]``, (message, file,
        line)) in file order, as ``msg in file:line``, then those nginx gives when the
        http block ends (conflicting server names), which name no place."""
        located = self.parsed.warnings + self.http.services.get("config_warnings", [])
        read_order = {path: i for i, path in enumerate(self.parsed.files)}
        located.sort(key=lambda w: (read_order.get(w[1], -1), w[2]))
        return [f"{msg} in {file}:{line}" for msg, file, line in located] + \
            [msg for msg, _, _ in self.config.warnings]

    # -- serving ---------------------------------------------------------------------

    async def request(self, req: HttpRequest, sink: ResponseSink | None = None,
                      trace: bool | None = None, keep: bool = True) -> Exchange:
        """Answer ``req``; ``keep=False`` when the response only streams to ``sink`` and
        the Exchange need not hold a copy of it (see HttpEngine.handle).

        A request built in-process (no ``head_length``: the listener did not read it)
        first gets the header checks the listener makes on every head it reads."""
        if req.head_length is None:
            # (an absolute-form target names the server: its Host line is the engine's)
            refusal = check_headers(req.version, req.method, req.headers,
                                    req.target[:1] == "/")[0]
            if refusal is not None and not refusal.defer:
                return await self.reject(req, refusal.status, refusal.message, sink=sink)
        return await self.http.handle(req, sink, trace, keep)

    async def start(self) -> None:
        for warning in self.warnings:  # where nginx's own start-up puts them too
            self.http.log_global("warn", warning)
        for m in self.http.modules:
            await m.start(self.http)

    async def stop(self, graceful: bool = True) -> None:
        for m in self.http.modules:
            await m.stop(self.http, graceful)
        self.error_log.close()

    def on_log(self, listener: Callable[[LogRecord], None]) -> None:
        """Receive every error-log and access-log record as it is written."""
        self.error_log.listeners.append(listener)
        self.http.services.setdefault("access_log_listeners", []).append(listener)

    def lua_eval(self, source: str, worker: int = 0) -> tuple[bool, str]:
        """Evaluate Lua in a worker's VM (the explorer's console): (ok, printed result)."""
        lua = self.http.services.get("lua")
        if lua is None:
            return False, "the Lua module is not loaded"
        return lua.eval(source, worker)

    @property
    def debugger(self) -> Any:
        """The attached :class:`engine.lua.debugger.Debugger`, or None. Setting one attaches
        it (re-resolving its breakpoints against this configuration); None detaches."""
        lua = self.http.services.get("lua")
        return lua.debugger if lua is not None else None

    @debugger.setter
    def debugger(self, debugger: Any) -> None:
        current = self.debugger
        if current is not None and current is not debugger:
            current.detach()
        if debugger is not None:
            debugger.attach(self)

    def is_modelled(self, directive: str) -> bool:
        """Whether some loaded module acts on ``directive`` (others are checked, shown,
        and otherwise ignored, like ``gzip`` or ``ssl_*``)."""
        return any(directive in m.directives for m in self.http.modules)

    def default_listen(self) -> tuple[str, int] | None:
        """Where a request with no port goes: a ``default_server`` address, else the first."""
        entries = list(self.config.addresses.values())
        for entry in entries:
            if entry.listen.default_server:
                return entry.listen.key
        return entries[0].listen.key if entries else None

    def ssl_ports(self) -> list[int]:
        """The ports of ``listen ... ssl`` addresses, where requests come over TLS."""
        return sorted({port for (_, port), e in self.config.addresses.items() if e.ssl})

    def listens(self) -> list[tuple[str, int]]:
        return [key for key in self.config.addresses]

    @property
    def prefix(self) -> str:
        return self.parsed.prefix

    @property
    def conf_path(self) -> str:
        return self.parsed.conf_path

    async def reject(self, req: HttpRequest, status: int, message: str, level: str = "info",
                     send: bool = True, request_line: str | None = None,
                     sink: ResponseSink | None = None) -> Exchange:
        """Answer a request nginx refuses before its phases (bad input, timeouts, hang-ups).

        See :mod:`engine.http.reject`; the listener calls this for what only it can see.
        """
        from .http.reject import reject
        return await reject(self.http, req, status, message, level, send, request_line, sink)
