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
#: NGX_MAX_ERROR_STR: ngx_log_error_core formats a line into a buffer this big, the
#: linefeed included, so a longer line (its time, message, context suffix, and any
#: newlines of a traceback alike) is cut after 2047 bytes, mid-quote or mid-character.
MAX_ERROR_STR = 2048


#: error_log's debug_* names (NGX_LOG_DEBUG_CORE..STREAM): any of them logs every level
DEBUG_NAMES = ("debug_core", "debug_alloc", "debug_mutex", "debug_event", "debug_http",
               "debug_mail", "debug_stream")


def parse_levels(names: list[str]) -> str | int:
    """ngx_log_set_levels: ``error_log``'s arguments after the file, to a level number
    (``error`` when none is given), or the ``[emerg]`` text nginx refuses them with: one
    level at most, and a level and debug_* names do not mix. A debug_* set lets every
    level through (nginx's bit mask compares above NGX_LOG_DEBUG)."""
    level = 0
    debug = False
    for name in names:
        if name in LEVEL_NUM and name != "stderr":
            if level or debug:
                return f'duplicate log level "{name}"'
            level = LEVEL_NUM[name]
        elif name in DEBUG_NAMES and not level:
            debug = True
        else:
            return f'invalid log level "{name}"'
    if debug:
        return LEVEL_NUM["debug"]
    return level or LEVEL_NUM["error"]


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
        """The line as nginx writes it (without the linefeed). The context comes from the
        log handler, which ngx_log_error_core does not call for a debug line."""
        if self.log == "access":
            return self.message
        conn = f"*{self.connection} " if self.connection else ""
        level = "" if self.level == "stderr" else self.level  # NGX_LOG_STDERR has no name
        context = "" if self.level == "debug" else self.context
        text = f"{nginx_time(self.time)} [{level}] {PID}#{PID}: {conn}{self.message}{context}"
        if len(text) * 4 < MAX_ERROR_STR:  # too short to be cut, even in 4-byte characters
            return text
        raw = text.encode("utf-8", "surrogateescape")
        if len(raw) < MAX_ERROR_STR:
            return text
        return raw[:MAX_ERROR_STR - 1].decode("utf-8", "surrogateescape")


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

    def add_file(self, path: str, level: str | int = "error") -> None:
        """A destination at a level (its name, or number as parse_levels gives)."""
        self.files.append((path, level if isinstance(level, int) else LEVEL_NUM[level]))

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
    """What nginx's log handler appends to a request's error-log line: the action
    (``while logging request`` in the log phase), client, server, request..."""
    parts = [" while logging request" if r.phase_name == "log" else "",
             f", client: {r.conn.client_addr}",
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


def head_context(client: str, server: str, request_line: str,
                 headers: list[tuple[str, str]]) -> str:
    """The context of a line the listener writes about a head before any phase runs:
    client, server, the request line, and the Host and Referer nginx had parsed."""
    host = next((v for k, v in headers if k.lower() == "host"), None)
    referer = next((v for k, v in headers if k.lower() == "referer"), None)
    return (f', client: {client}, server: {server}, request: "{request_line}"'
            + (f', host: "{host}"' if host else "")
            + (f', referrer: "{referer}"' if referer else ""))
