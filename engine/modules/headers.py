"""ngx_http_headers_module: ``add_header`` (and ``always``) and ``expires``.

``add_header`` is the classic inheritance trap: a block with any ``add_header`` of its own
inherits none from outer blocks. Headers are added only for 200, 201, 204, 206, 301, 302,
303, 304, 307 and 308 unless ``always`` is given, and an empty value adds nothing.

``expires [modified] time|@daily|epoch|max|off`` sets Expires and replaces any
Cache-Control; a value with variables is read per request (a bad one sets nothing).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..conf.values import parse_time
from ..http.phases import HttpModule
from ..http.response import http_date
from ..http.variables import ComplexValue, compile_value
from .static import parse_http_time

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: ngx_http_set_response_header / ngx_http_set_last_modified: these replace the
#: response's own line (an empty value removes it) instead of adding one.
_REPLACED = frozenset({"etag", "last-modified"})
_OK_STATUSES = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})
_EPOCH = "Thu, 01 Jan 1970 00:00:01 GMT"
_MAX = "Thu, 31 Dec 2037 23:55:55 GMT"
_DAY = 24 * 60 * 60


def parse_expires(value: str, modified: bool = False) -> tuple[str, float] | str:
    """ngx_http_parse_expires: (kind, seconds) with kind "epoch", "max", "off", "daily"
    or "access", or nginx's error message. After ``modified`` the words are times like
    any other, and an ``@`` is refused before the time after it is read."""
    if not modified and value in ("epoch", "max", "off"):
        return value, 0.0
    kind, sign = "access", 1
    if value.startswith("@"):
        if modified:
            return 'daily time cannot be used with "modified" parameter'
        kind, value = "daily", value[1:]
    elif value.startswith(("+", "-")):
        sign, value = (-1 if value[0] == "-" else 1), value[1:]
    seconds = parse_time(value) if "ms" not in value else None
    if seconds is None:
        return "invalid value"
    if kind == "daily" and seconds > _DAY:
        return "daily time value must be less than 24 hours"
    return kind, sign * seconds


def _next_time(when: float, now: float) -> float:
    """ngx_next_time: today at ``when`` seconds after local midnight, or tomorrow."""
    t = time.localtime(now)
    at = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1)) + when
    return at if at > now else at + _DAY


class Expires:
    """One ``expires`` directive, compiled."""

    __slots__ = ("modified", "kind", "seconds", "value")

    def __init__(self, engine: HttpEngine, d: Directive) -> None:
        args = d.args
        if len(args) == 2 and args[0] != "modified":
            raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)
        self.modified = len(args) == 2
        cv = compile_value(args[-1], engine.variables, d.file, d.line)
        self.value: ComplexValue | None = cv if cv.has_variables else None
        self.kind, self.seconds = "access", 0.0
        if self.value is None:
            parsed = parse_expires(args[-1], self.modified)
            if isinstance(parsed, str):
                raise ConfigError(f'"{d.name}" directive {parsed}', d.file, d.line)
            self.kind, self.seconds = parsed

    def apply(self, r: Request) -> None:
        """ngx_http_set_expires."""
        kind, seconds = self.kind, self.seconds
        if self.value is not None:
            parsed = parse_expires(self.value.evaluate(r), self.modified)
            if isinstance(parsed, str):
                return
            kind, seconds = parsed
        if kind == "off":
            return
        if kind == "epoch":
            _expires(r, _EPOCH)
            _cache_control(r, "no-cache")
            return
        if kind == "max":
            _expires(r, _MAX)
            _cache_control(r, "max-age=315360000")
            return
        now = float(int(time.time()))
        last = r.out.last_modified
        if kind == "daily":
            at = _next_time(seconds, now)
            max_age = at - now
        elif not self.modified or last is None:
            max_age, at = seconds, now + seconds
        else:
            at = last + seconds
            max_age = at - now
        _expires(r, http_date(at))
        _cache_control(r, "no-cache" if seconds < 0 or max_age < 0
                       else f"max-age={int(max_age)}")


#: r.ctx key: ngx.header touched Cache-Control, so nginx's array of its lines exists.
CACHE_CONTROL_ARRAY = "cache_control_array"
#: r.ctx key: ngx.header emptied the Expires line nginx points to (it stays in the list).
EXPIRES_EMPTIED = "keep:expires_emptied"


def _expires(r: Request, value: str) -> None:
    """ngx_http_set_expires writes into the Expires line nginx points to (its name as
    spelled there; not sent when ngx.header emptied it), else adds one."""
    if not r.ctx.get(EXPIRES_EMPTIED):
        r.out.headers.set("Expires", value, respell=False)


def _cache_control(r: Request, value: str) -> None:
    """ngx_http_set_expires writes into the first Cache-Control line nginx knows (its
    name as spelled there, the others dropped), else adds one. Once ngx.header touched
    Cache-Control, nginx's array of lines exists: a line Lua cleared is still its first,
    so the value goes to a line that is not sent."""
    headers = r.out.headers
    if r.ctx.get(CACHE_CONTROL_ARRAY) and headers.get("cache-control") is None:
        return
    headers.set("Cache-Control", value, respell=False)


def _replace(r: Request, name: str, text: str) -> None:
    """``add_header ETag|Last-Modified``: the value takes the place of the file's (a
    Last-Modified also becomes the time If-Range and If-Modified-Since compare)."""
    r.out.headers.set(name, text or None)
    if name.lower() == "last-modified":
        r.out.last_modified = parse_http_time(text) if text else None


class HeadersModule(HttpModule):
    name = "ngx_http_headers_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "add_header", "expires",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.phases.add_header_filter("headers", self.filter, order=500,
                                        active=self._active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            compiled = []
            for d in block.get("add_header"):
                value = compile_value(d.args[1], engine.variables, d.file, d.line)
                if len(d.args) > 2 and d.args[2] != "always":  # nginx checks it last
                    raise ConfigError(f'invalid parameter "{d.args[2]}"', d.file, d.line)
                compiled.append((d.args[0], value, len(d.args) > 2, d))
            d = block.first("expires")
            expires = Expires(engine, d) if d is not None else None
            block.mod[self.name] = (compiled, expires)

    def _active(self, block: Block) -> bool:
        conf = block.mod.get(self.name)
        return conf is not None and (bool(conf[0]) or conf[1] is not None)

    def filter(self, r: Request) -> None:
        conf = r.loc.mod.get(self.name)
        if conf is not None and r is r.main:
            compiled, expires = conf
            status = r.out.status
            ok = status in _OK_STATUSES
            if expires is not None and ok:
                expires.apply(r)
            for name, value, always, d in compiled:
                if not (ok or always):
                    continue
                text = value.evaluate(r)
                low = name.lower()
                if low in _REPLACED:
                    _replace(r, name, text)
                    r.trace.add("header", op="set", name=name, value=text,
                                file=d.file, line=d.line)
                elif text:
                    r.out.headers.add(name, text)
                    if low in ("server", "date"):  # a line of its own, not nginx's
                        key = "keep:add_header_" + low
                        r.ctx[key] = r.ctx.get(key, 0) + 1
                    r.trace.add("header", op="add", name=name, value=text,
                                file=d.file, line=d.line)
