"""The error log: nginx's levels, its line format, and where lines go.

A line looks exactly like nginx's::

    2026/11/27 09:10:19 [error] 2812#2812: *3 open() "/x" failed (2: No such file or
    directory), client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", host: "h"

Every line is also kept as a structured :class:`LogRecord` (level, time, connection
number, message) for the trace and the explorer's log pane.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable

#: nginx's levels; the numbers are ngx_lua's ngx.STDERR .. ngx.DEBUG.
LEVELS = ["stderr", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"]
LEVEL_NUM = {name: i for i, name in enumerate(LEVELS)}
PID = os.getpid()


def nginx_time(t: float | None = None) -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(t if t is not None else time.time()))


@dataclass(slots=True)
class LogRecord:
    level: str
    time: float
    message: str
    #: The connection number (nginx's ``*N``), 0 when no connection is involved.
    connection: int = 0
    #: The request context nginx appends: ``, client: ..., server: ..., request: "..."``.
    context: str = ""
    #: Where it came from: "error" log or "access" log.
    log: str = "error"

    @property
    def line(self) -> str:
        if self.log == "access":
            return self.message
        conn = f"*{self.connection} " if self.connection else ""
        level = "" if self.level == "stderr" else self.level  # NGX_LOG_STDERR has no name
        return f"{nginx_time(self.time)} [{level}] {PID}#{PID}: {conn}{self.message}{self.context}"


Sink = Callable[[LogRecord], None]


class LogFiles:
    """Open log files by path, appended to line by line (error and access logs alike).

    nginx keeps writing when a log cannot be opened or written; so does this.
    """

    def __init__(self) -> None:
        self._handles: dict[str, object] = {}

    def write(self, path: str, line: str) -> None:
        if path.startswith(("syslog:", "memory:")):
            return
        try:
            if path == "stderr":
                os.write(2, line.encode("utf-8", "surrogateescape") + b"\n")
                return
            fh = self._handles.get(path)
            if fh is None:
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                fh = self._handles[path] = open(path, "ab", buffering=0)
            fh.write(line.encode("utf-8", "surrogateescape") + b"\n")  # type: ignore[attr-defined]
        except OSError:
            pass

    def close(self) -> None:
        for fh in self._handles.values():
            try:
                fh.close()  # type: ignore[attr-defined]
            except OSError:
                pass
        self._handles.clear()


class ErrorLog:
    """Where error-log lines go: files at a level threshold, plus in-process listeners."""

    def __init__(self) -> None:
        self.files: list[tuple[str, int]] = []  # (path or "stderr", max level number)
        self.listeners: list[Sink] = []
        self.writer = LogFiles()

    def add_file(self, path: str, level: str = "error") -> None:
        self.files.append((path, LEVEL_NUM.get(level, 4)))

    @property
    def threshold(self) -> int:
        """The most verbose level any destination keeps (what is worth formatting)."""
        return max((lvl for _, lvl in self.files), default=LEVEL_NUM["error"])

    def wants(self, level: str) -> bool:
        return LEVEL_NUM[level] <= self.threshold or bool(self.listeners)

    def emit(self, record: LogRecord, files: list[tuple[str, int]] | None = None) -> None:
        """Write to ``files`` (a request's error logs) or the main context's."""
        num = LEVEL_NUM.get(record.level, 4)
        for path, lvl in self.files if files is None else files:
            if num <= lvl:
                self.writer.write(path, record.line)
        for listener in self.listeners:
            listener(record)

    def close(self) -> None:
        self.writer.close()


def request_context(r: Any) -> str:
    """What nginx appends to a request's error-log line: client, server, request..."""
    parts = [f", client: {r.conn.client_addr}",
             f", server: {r.server.server_name if r.server else ''}"]
    main = r.main
    if main.request_line:
        parts.append(f', request: "{main.request_line}"')
    if r is not main:
        parts.append(f', subrequest: "{r.uri}"')
    upstream = getattr(r, "upstream_name", None)
    if upstream:
        parts.append(f', upstream: "{upstream}"')
    host = main.headers_in.get("host")
    if host is not None:
        parts.append(f', host: "{host}"')
    referer = main.headers_in.get("referer")
    if referer is not None:
        parts.append(f', referrer: "{referer}"')
    return "".join(parts)
