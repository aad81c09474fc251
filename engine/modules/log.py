"""ngx_http_log_module: ``log_format`` and ``access_log``, written in the log phase.

The predefined ``combined`` format, ``escape=default|json|none``, "-" for a variable
that is not found, several logs per block, ``off``, ``if=`` conditions, and paths
relative to the prefix (``buffer``, ``flush`` and ``gzip`` are accepted and ignored).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.log import LogFiles, LogRecord
from ..http.phases import HttpModule, Phase
from ..http.variables import VarRef, compile_value

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')


def escape_default(value: str) -> str:
    out = []
    for ch in value.encode("utf-8", "surrogateescape"):
        if ch in (0x22, 0x5C) or ch < 0x20 or ch >= 0x7F:
            out.append(f"\\x{ch:02X}")
        else:
            out.append(chr(ch))
    return "".join(out)


def escape_json(value: str) -> str:
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def compile_format(text: str, engine: HttpEngine, file: str, line: int) -> list:
    """``ngx_http_log_compile_format``: ``$name`` or ``${name}`` (``$1`` is a variable
    named "1" here, not a capture); a bad ``$`` is ``invalid parameter "<rest>"``."""
    parts: list = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "$":
            j = text.find("$", i)
            j = n if j < 0 else j
            parts.append(text[i:j])
            i = j
            continue
        start = i
        i += 1
        bracket = i < n and text[i] == "{"
        i += bracket
        if i >= n:
            raise ConfigError(f'invalid parameter "{text[start:]}"', file, line)
        begin = i
        while i < n and text[i] in _NAME:
            i += 1
        name = text[begin:i]
        if bracket:
            if i >= n or text[i] != "}":
                raise ConfigError(f'the closing bracket in "{name}" variable is missing',
                                  file, line)
            i += 1
        if not name:
            raise ConfigError(f'invalid parameter "{text[start:]}"', file, line)
        if not engine.variables.known(name.lower()):
            raise ConfigError(f'unknown "{name.lower()}" variable')
        parts.append(VarRef(name.lower()))
    return parts


#: Variables nginx caches in r->variables at their first read (not NOCACHEABLE) whose
#: value may differ between a subrequest and its main request; the cache is shared, so a
#: subrequest logged first (``log_subrequest``) fixes what the main request logs.
_CACHEABLE = ("sent_http_", "request_completion")
_CACHE = "keep:log_variables"


def _value(r: Request, name: str) -> str | None:
    """``$name`` as a log format reads it (an indexed variable: see ``_CACHEABLE``)."""
    if not name.startswith(_CACHEABLE):
        return r.engine_vars.get(r, name)
    cache = r.main.ctx.setdefault(_CACHE, {})
    if name not in cache:
        cache[name] = r.engine_vars.get(r, name)
    return cache[name]


class LogFormat:
    def __init__(self, name: str, parts, escape: str) -> None:  # type: ignore[no-untyped-def]
        self.name = name
        self.parts = parts
        self.escape = escape

    def render(self, r: Request) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _value(r, part.name)
            if value is None:
                out.append("-" if self.escape == "default" else "")
            elif self.escape == "default":
                out.append(escape_default(value))
            elif self.escape == "json":
                out.append(escape_json(value))
            else:
                out.append(value)
        return "".join(out)


class LogModule(HttpModule):
    name = "ngx_http_log_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "access_log", "log_format",
    })

    def __init__(self) -> None:
        self.formats: dict[str, LogFormat] = {}
        self.files = LogFiles()

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add(Phase.LOG, "access_log", self.handler,
                          active=lambda block: bool(self._logs(block)))
        engine.services["access_log_listeners"] = []

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        self.formats["combined"] = LogFormat(
            "combined", compile_format(COMBINED, engine, "", 0), "default")
        if cfg.http is not None:
            for d in cfg.http.own.get("log_format", []):
                args = list(d.args)
                name = args.pop(0)
                escape = "default"
                if args and args[0].startswith("escape="):
                    escape = args.pop(0)[7:]
                    if escape not in ("default", "json", "none"):
                        raise ConfigError(f'unknown log format escaping "{escape}"', d.file, d.line)
                if name in self.formats:
                    raise ConfigError(f'duplicate "log_format" name "{name}"', d.file, d.line)
                # each argument is compiled on its own: a variable's name ends with it
                parts = [p for a in args for p in compile_format(a, engine, d.file, d.line)]
                self.formats[name] = LogFormat(name, parts, escape)
        for block in cfg.blocks:
            logs = []
            for d in block.get("access_log"):
                if d.args[0] == "off":
                    logs = []
                    break
                fmt_name = d.args[1] if len(d.args) > 1 and "=" not in d.args[1] else "combined"
                fmt = self.formats.get(fmt_name)
                if fmt is None:
                    raise ConfigError(f'unknown log format "{fmt_name}"', d.file, d.line)
                path: str | object = d.args[0]
                if not d.args[0].startswith(("/", "syslog:")) and path != "stderr":
                    path = os.path.join(cfg.prefix, d.args[0])
                if "$" in d.args[0]:  # a file per request, named by variables
                    path = compile_value(str(path), engine.variables, d.file, d.line)
                cond = next((compile_value(a[3:], engine.variables, d.file, d.line)
                             for a in d.args[1:] if a.startswith("if=")), None)
                logs.append((path, fmt, cond))
            if not block.get("access_log") and block.kind == "http":
                logs = [(os.path.join(cfg.prefix, "logs/access.log"), self.formats["combined"],
                         None)]
            block.mod[self.name] = logs if block.get("access_log") or block.kind == "http" \
                else None

    def _logs(self, block: Block) -> list | None:
        for b in block.ancestors():
            logs = b.mod.get(self.name)
            if logs is not None:
                return logs
        return None

    async def handler(self, r: Request) -> int:
        for path, fmt, cond in self._logs(r.loc) or []:
            if cond is not None and cond.evaluate(r) in ("", "0"):
                continue  # "if=": an empty or "0" condition skips this log
            line = fmt.render(r)
            record = LogRecord("info", time.time(), line, r.conn.number, log="access")
            r.records.append(record)  # type: ignore[attr-defined]
            for listener in r.engine.services["access_log_listeners"]:
                listener(record)
            self.files.write(path if isinstance(path, str) else path.evaluate(r), line)
        return 0

    async def stop(self, engine: HttpEngine, graceful: bool) -> None:
        self.files.close()
