"""ngx_http_core_module: what every request needs whatever other modules are loaded.

It places the core's own steps in the phase table (find config, post rewrite, post
access, content), compiles the core directives of each block (limits, keep-alive,
``error_page``, ``types``/``default_type``, ``root``/``alias``, ``error_log``), maps a URI
to a file path, and owns the last header and body filters, which write the response
out as nginx's header filter and write filter do.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..conf.values import parse_size, parse_time
from .api import wire_bytes
from .block import Block
from .core_variables import register_core_variables
from .limit_rate import STORED, pace_for
from .location import LocationConf
from .log import parse_levels
from .phases import DECLINED, HttpModule, Phase
from .response import NGINX_VER, http_date, status_line
from .variables import ComplexValue, compile_value

if TYPE_CHECKING:
    from .config import HttpConfig
    from .engine import HttpEngine
    from .request import Request

_NONE: frozenset[str] = frozenset()

#: Extensions nginx knows without a mime.types (its built-in ``types`` default).
_BUILTIN_TYPES = {"html": "text/html", "gif": "image/gif", "jpg": "image/jpeg"}


@dataclass(slots=True)
class ErrorPage:
    codes: frozenset[int]
    uri: ComplexValue
    #: None: keep the original status; 0: ``=`` (the target decides); N: ``=N``.
    overwrite: int | None


async def _placeholder(r: Request) -> int:  # the core's checkers do the work
    return DECLINED


def _builtin_set(r: Request, present: frozenset[str] | set[str], name: str) -> bool:
    """Whether ``headers_out.server``/``.date`` is set, so nginx writes no default line:
    by Lua (a value, or nil: no line at all) or by a proxied response's copied header.
    An ``add_header`` of that name is just another line: it does not count."""
    ctx = r.ctx
    if ctx.get("keep:cleared_" + name):
        return True
    if name not in present:
        return False
    added = ctx.get("keep:add_header_" + name, 0)
    return not added or sum(1 for k, _ in r.out.headers.items if k.lower() == name) > added


class CoreModule(HttpModule):
    name = "ngx_http_core_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "absolute_redirect", "alias", "chunked_transfer_encoding",
        "client_body_buffer_size", "client_body_timeout", "client_header_buffer_size",
        "client_header_timeout", "client_max_body_size", "default_type", "error_log",
        "error_page", "etag", "events", "http", "if_modified_since",
        "ignore_invalid_headers", "include", "internal", "keepalive_disable",
        "keepalive_requests", "keepalive_timeout", "large_client_header_buffers",
        "limit_rate", "limit_rate_after", "listen",
        "location", "log_not_found", "merge_slashes", "msie_padding", "msie_refresh", "pid",
        "port_in_redirect", "postpone_output", "recursive_error_pages", "root", "satisfy",
        "server", "server_name", "server_name_in_redirect", "server_tokens", "types",
        "underscores_in_headers", "worker_processes",
    })

    def init(self, engine: HttpEngine) -> None:
        register_core_variables(engine.variables, engine.services)
        for phase in (Phase.FIND_CONFIG, Phase.POST_REWRITE, Phase.POST_ACCESS, Phase.CONTENT):
            engine.phases.add(phase, "core", _placeholder, order=1000)
        engine.phases.add_header_filter("header_filter", self.header_filter, order=1000)
        engine.phases.add_body_filter("write_filter", self.write_filter, order=1000)
        engine.services["map_uri_to_path"] = map_uri_to_path
        engine.services["set_content_type"] = set_content_type
        engine.services["flush_output"] = flush_wire

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """Named captures of location and server_name regexes are variables."""
        for block in cfg.blocks:
            if isinstance(block, LocationConf) and block.regex is not None:
                for name in block.regex.names:
                    engine.variables.declare(name.lower())
        for entry in cfg.addresses.values():
            for regex, _srv, _pattern in entry.regex:
                for name in regex.names:
                    engine.variables.declare(name.lower())

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            block.mod["core"] = self._compile(engine, block)

    def _compile(self, engine: HttpEngine, b: Block) -> dict:
        core: dict = {}
        d = b.first("client_max_body_size")
        core["client_max_body_size"] = _size(d) if d else 1024 * 1024
        d = b.first("keepalive_timeout")
        core["keepalive_timeout"] = _time(d) if d else 75.0
        core["keepalive_header"] = _time(d, 1) if d and len(d.args) > 1 else None
        d = b.first("keepalive_requests")
        core["keepalive_requests"] = int(d.args[0]) if d and d.args[0].isdigit() else 1000
        d = b.first("keepalive_disable")
        core["keepalive_disable"] = ("msie6",) if d is None else tuple(d.args)
        pages = []
        for d in b.get("error_page"):
            pages.append(_error_page(engine, d))
        core["error_pages"] = pages
        # the error logs in force here (the nearest block that names some), with levels;
        # None: the main context's (Engine's) logs
        logs = [(_log_path(engine, d.args[0]), _level(d)) for d in b.get("error_log")]
        core["error_logs"] = logs or None
        core["error_log_level"] = max(lvl for _, lvl in logs) if logs else None
        core["types"] = _types(b)
        core["default_type"] = b.value("default_type", "text/plain")
        # what the header and write filters read for every response
        core["server_header"] = NGINX_VER if b.value("server_tokens", "on") != "off" \
            else "nginx"
        core["chunked_transfer_encoding"] = b.flag("chunked_transfer_encoding", True)
        d = b.first("postpone_output")
        size = parse_size(d.args[0]) if d is not None else None
        core["postpone_output"] = 1460 if size is None else size
        core["limit_rate"] = b.first("limit_rate") is not None
        return core

    def header_filter(self, r: Request) -> None:
        """ngx_http_header_filter + the chunked filter's header part."""
        if r is not r.main:
            return
        out = r.out
        status = out.status
        if r.http_version < 1000:  # HTTP/0.9: the body goes alone (a HEAD's too)
            if r.trace.enabled:
                r.trace.add("header", op="send", status=status, headers=[])
            return
        core = r.loc.mod.get("core") or self._compile(r.engine, r.loc)
        head = r.method == "HEAD"
        if status == 204:
            head = True
            if out.status_line is None:  # nginx skips this for a proxied status line
                out.content_type = None
                out.content_length = None
                out.last_modified = None
        elif status == 304:
            head = True
        if out.last_modified is not None and status not in (200, 206, 304):
            out.last_modified = None
        r.header_only = head
        chunked = False
        if out.content_length is None and status >= 200 and status not in (204, 304) \
                and not head:
            if r.http_version >= 1001 and core["chunked_transfer_encoding"]:
                chunked = True
            else:
                r.keepalive = False
        r.chunked = chunked
        items = out.headers.items
        # the names the header list already has (most responses: none)
        present = {k.lower() for k, _ in items} if items else _NONE
        headers: list[tuple[str, str]] = []
        if not _builtin_set(r, present, "server"):
            headers.append(("Server", core["server_header"]))
        if not _builtin_set(r, present, "date"):
            headers.append(("Date", http_date(time.time())))
        if out.content_type:
            headers.append(("Content-Type", out.content_type))
        if out.content_length is not None and "content-length" not in present \
                and not r.ctx.get("keep:cleared_content-length"):  # (Lua emptied its line)
            headers.append(("Content-Length", str(out.content_length)))
        if out.last_modified is not None and "last-modified" not in present:
            headers.append(("Last-Modified", http_date(out.last_modified)))
        # nginx rewrites a relative Location in place of its own header line only when
        # absolute_redirect is on; otherwise the line stays in the list
        # (an empty one too: "return 301;" sends "Location: " from the list)
        relative_kept = out.location is not None and (
            not out.location.startswith("/") or not r.loc.flag("absolute_redirect", True))
        if out.location and not relative_kept:
            # nginx updates the Location it made absolute "for possible logging"
            out.location = _absolute(r, out.location)
            headers.append(("Location", out.location))
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        if status == 101:
            headers.append(("Connection", "upgrade"))
        elif r.keepalive:
            headers.append(("Connection", "keep-alive"))
            if core.get("keepalive_header"):
                headers.append(("Keep-Alive", f"timeout={int(core['keepalive_header'])}"))
        else:
            headers.append(("Connection", "close"))
        if relative_kept:
            headers.append(("Location", out.location))
        headers.extend(items)
        line = out.status_line or status_line(status)
        code, _, reason = line.partition(" ")
        size = len(line) + 13 + 4 * len(headers)
        for k, v in headers:
            size += len(k) + (len(v) if v.isascii() else len(wire_bytes(v)))
        r.header_bytes = size
        if r.trace.enabled:
            r.trace.add("header", op="send", status=status, headers=list(headers))
        wire = r.wire or _wire(r)
        wire.head = (int(code), reason, headers, chunked)
        wire.size += size

    async def write_filter(self, r: Request, data: bytes, last: bool) -> None:
        if r is not r.main:
            buf = r.ctx.setdefault("keep:subrequest_body", [])
            buf.append(data)
            return
        wire = r.wire or _wire(r)
        if data and not r.header_only:
            # $body_bytes_sent counts what goes on the wire, chunk framing included
            r.body_sent += len(data) + (len(f"{len(data):x}") + 4 if r.chunked else 0)
            wire.body.append(data)
            wire.size += len(data)
        if last and r.chunked and not r.header_only:
            r.body_sent += 5  # the last chunk, "0\r\n\r\n"
        if last or wire.size >= wire.postpone:
            await flush_wire(r, last)


class _Wire:
    """What the write filter holds back: nginx sends small output only when
    ``postpone_output`` bytes (1460) have gathered, on a flush, or at the end. A request
    aborted before that (a Lua error after ngx.say) therefore sends nothing at all."""

    __slots__ = ("head", "body", "size", "postpone", "paced")

    def __init__(self, postpone: int) -> None:
        self.head: tuple | None = None
        self.body: list[bytes] = []
        self.size = 0
        self.postpone = postpone
        #: limit_rate was handed to the sink (when the header went out)
        self.paced = False


def _wire(r: Request) -> _Wire:
    """The main request's write buffer, made with the first output (``r.wire``)."""
    core = r.loc.mod.get("core")
    if core is not None:
        size = core["postpone_output"]
    else:
        d = r.loc.first("postpone_output")
        size = parse_size(d.args[0]) if d is not None else None
    wire = r.wire = _Wire(1460 if size is None else size)
    return wire


async def flush_wire(r: Request, last: bool = False) -> None:
    """Write what the write filter holds to the client (ngx.flush, or enough output).

    At the end of the response the sink may keep it for one write with the rest."""
    wire = r.main.wire
    if wire is None or r.main.aborted:
        return
    main = r.main
    sink = main.sink  # type: ignore[attr-defined]
    if wire.head is not None:
        await sink.send_headers(*wire.head)
        wire.head = None
    if not wire.paced:  # r->limit_rate is taken as the response starts going out
        wire.paced = True
        core = main.loc.mod.get("core")
        if STORED in main.ctx or core is None or core["limit_rate"]:
            pace = getattr(sink, "pace", None)
            if pace is not None:
                pace(pace_for(main))
    for chunk in wire.body:
        await sink.send_body(chunk)
    wire.body.clear()
    wire.size = 0
    if not last:
        flush = getattr(sink, "flush", None)
        if flush is not None:
            await flush()


def _size(d) -> int:  # type: ignore[no-untyped-def]
    v = parse_size(d.args[0])
    if v is None:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)
    return v


def _time(d, i: int = 0) -> float:  # type: ignore[no-untyped-def]
    v = parse_time(d.args[i])
    if v is None:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)
    return v


def _level(d) -> int:  # type: ignore[no-untyped-def]
    level = parse_levels(d.args[1:])
    if isinstance(level, str):
        raise ConfigError(level, d.file, d.line)
    return level


def _log_path(engine: HttpEngine, path: str) -> str:
    if path == "stderr" or path.startswith(("/", "syslog:", "memory:")):
        return path
    return os.path.join(engine.cfg.prefix, path)


def _error_page(engine: HttpEngine, d) -> ErrorPage:  # type: ignore[no-untyped-def]
    args = list(d.args)
    uri = args.pop()
    overwrite: int | None = None
    if args and args[-1].startswith("="):
        flag = args.pop()
        if flag == "=":
            overwrite = 0
        elif flag[1:].isdigit():
            overwrite = int(flag[1:])
        else:
            raise ConfigError(f'invalid value "{flag}"', d.file, d.line)
    if not args:
        raise ConfigError('invalid number of arguments in "error_page" directive', d.file, d.line)
    codes = set()
    for a in args:
        if not a.isdigit() or not 300 <= int(a) <= 599:
            raise ConfigError(f'value "{a}" must be between 300 and 599', d.file, d.line)
        if int(a) == 499:
            raise ConfigError(f'value "{a}" must be between 300 and 599', d.file, d.line)
        codes.add(int(a))
    return ErrorPage(frozenset(codes), compile_value(uri, engine.variables, d.file, d.line),
                     overwrite)


def _types(b: Block) -> dict[str, str]:
    for blk in b.ancestors():
        found = blk.own.get("types")
        if found:
            table: dict[str, str] = {}
            for t in found:
                for entry in t.children():
                    for ext in entry.args:
                        table[ext.lower()] = entry.name
            return table
    return dict(_BUILTIN_TYPES)


def set_content_type(r: Request) -> None:
    """ngx_http_set_content_type: by the URI's extension, else ``default_type``."""
    if r.out.content_type:
        return
    core = r.loc.mod.get("core", {})
    ext = r.exten.lower()
    ctype = core.get("types", {}).get(ext) if ext else None
    r.out.content_type = ctype or core.get("default_type", "text/plain")


def map_uri_to_path(r: Request, kind: str = "request_filename") -> str | None:
    """ngx_http_map_uri_to_path: ``root`` + URI, or ``alias`` replacing the location
    prefix. None: an alias cannot map a URI rewritten in its location (nginx's alert);
    the callers then fail as nginx's do."""
    loc = r.loc
    prefix = r.engine.cfg.prefix
    alias_d = loc.first("alias") if loc.kind == "location" else None
    if alias_d is not None:
        if (not r.valid_location or r.uri_changed) and kind == "request_filename":
            r.log("alert", f'"alias" cannot be used in location "{loc.name}" '
                           "where URI was rewritten")
            return None
        alias = _eval(r, alias_d.args[0])
        root = alias if os.path.isabs(alias) else os.path.join(prefix, alias)
        if kind in ("document_root", "realpath_root"):
            return os.path.realpath(root) if kind == "realpath_root" else root
        if isinstance(loc, LocationConf) and loc.regex is not None:
            return root
        name = loc.name if isinstance(loc, LocationConf) else ""
        return root + r.uri[len(name):]
    root_v = loc.value("root", "html") or "html"
    if root_v.endswith("/"):  # ngx_http_core_root drops one trailing slash
        root_v = root_v[:-1]
    root = _eval(r, root_v)
    if not os.path.isabs(root):
        root = os.path.join(prefix, root)
    if kind == "document_root":
        return root
    if kind == "realpath_root":
        return os.path.realpath(root)
    return root + r.uri


def _eval(r: Request, text: str) -> str:
    if "$" not in text:
        return text
    cache = r.engine.services.setdefault("core.path_values", {})
    cv = cache.get(text)
    if cv is None:
        cv = cache[text] = compile_value(text, r.engine.variables)
    return cv.evaluate(r)


def _absolute(r: Request, location: str) -> str:
    """``absolute_redirect``: nginx turns ``/x`` into ``http://host[:port]/x``."""
    if not location.startswith("/") or not r.loc.flag("absolute_redirect", True):
        return location
    if r.loc.flag("server_name_in_redirect", False):
        host = r.server.server_name
    else:  # the Host, else the address the request came to
        host = r.main.host or r.conn.server_addr
    port = r.conn.server_port
    tls = r.conn.tls is not None
    default = 443 if tls else 80
    suffix = f":{port}" if r.loc.flag("port_in_redirect", True) and port != default else ""
    return f"{'https' if tls else 'http'}://{host}{suffix}{location}"
