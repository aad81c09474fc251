"""The Python side of the ngx API: the few calls that need the request engine.

Lua wrappers (output.lua, request.lua, core.lua) check arguments and contexts and call
these plain functions (bytes in, bytes out) for what lives in the request: variables,
headers, status, body, the error log, timers. ``worker.current`` is the request whose Lua
code is running: the driver sets it around every resume, and only one coroutine runs at
a time on the event loop.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

from ..http import request_body
from ..http.servers import valid_host
from .constants import HEADER_FAILED, LEVEL_NAMES, METHODS
from .headers_out import HeadersOut, as_bytes, as_str

if TYPE_CHECKING:
    from ..http.request import Request
    from .runtime import LuaRequest, LuaWorker

#: Variables nginx keeps out of its hash (NGX_HTTP_VAR_NOHASH): ngx.var cannot find them.
_NOHASH = {"proxy_add_x_forwarded_for", "proxy_internal_body_length",
           "proxy_internal_chunked", "fastcgi_script_name", "fastcgi_path_info"}


class Bridge(HeadersOut):
    def __init__(self, worker: LuaWorker) -> None:
        self.worker = worker
        self.current: LuaRequest | None = None

    def table(self) -> Any:
        names = [n for n in dir(self) if n.startswith("py_")]
        return self.worker.lua.table_from({n[3:].encode(): getattr(self, n) for n in names})

    @property
    def r(self):  # type: ignore[no-untyped-def]
        cur = self.current
        return cur.r if cur is not None else None

    # -- logging -----------------------------------------------------------------------

    def py_log(self, level: int, message: bytes) -> None:
        name = LEVEL_NAMES[level] if 0 <= level < len(LEVEL_NAMES) else "error"
        text = as_str(message)
        r = self.r
        if r is not None:
            r.log(name, text)
        else:
            self.worker.service.log_without_request(name, text)

    def py_log_error(self, message: bytes) -> None:
        self.py_log(4, message)

    # -- response ----------------------------------------------------------------------

    def py_http10_buffering(self, start: bool) -> bool:
        """Whether the request's output is held for HTTP/1.0 (lua_http10_buffering), so
        its header is not sent yet; ``start``: asked by an output call, which starts
        holding it when it may."""
        lr = self.current
        if lr is None:
            return False
        return lr.worker.service.http10_buffering(lr) if start else lr.http10 is not None

    def py_headers_sent(self) -> bool:
        r = self.r
        return bool(r is not None and r.header_sent)

    def py_header_failed(self) -> bool:
        """A Lua header filter failed on the header an ngx.say sent (see module.py)."""
        r = self.r
        return bool(r is not None and r.ctx.get(HEADER_FAILED))

    def py_status_get(self) -> int:
        r = self.r
        if r is None:
            return 0
        # ngx_lua reads the error page's status (error_page =code) before the header's;
        # a request closed without a response (444...) has that code (terminate_request);
        # the FFI returns it as a C int (a negative code was stored unsigned)
        status = r.status_for_log or getattr(r, "err_status", 0) or r.out.status or 0
        return status if status < 2 ** 31 else (status + 2 ** 31) % 2 ** 32 - 2 ** 31

    def py_status_unsigned(self, status: int) -> bytes:
        """``status`` (a C int, as ngx.status reads it) as nginx prints its code in
        messages (%ui): the unsigned code stored, when that code reads as ``status``."""
        r = self.r
        stored = r.out.status if r is not None else None
        if stored is not None and (stored + 2 ** 31) % 2 ** 32 - 2 ** 31 == status:
            return str(stored).encode()
        return str(status).encode()

    def py_status_set(self, value: int) -> None:
        r = self.r
        if r is not None:
            # nginx keeps the code unsigned: -1 is 18446744073709551615 on the status line
            r.out.status = int(value) % 2 ** 64
            r.out.status_line = None
            r.err_status = 0  # type: ignore[attr-defined]

    # -- variables -----------------------------------------------------------------------

    def py_var_get(self, name: bytes, output_started: bool = False) -> bytes | None:
        """``output_started``: the handler printed, so ngx_lua would have sent the header
        already (the output waits on the Lua side here): $status and $sent_http_* must
        read as after LuaService.prepare_headers."""
        r = self.r
        if r is None:
            return None
        key = as_str(name)
        if key in _NOHASH:
            return None
        if output_started and not r.header_sent \
                and (key == "status" or key.startswith("sent_http_")):
            self.worker.service.prepare_headers(r)
        return as_bytes(r.engine_vars.get(r, key))

    def py_var_set(self, name: bytes, value: bytes | None) -> bytes | None:
        r = self.r
        if r is None:
            return b"no request found"
        key = as_str(name).lower()
        table = r.engine_vars
        var = table.vars.get(key)
        if var is None:
            return (f'variable "{key}" not found for writing; maybe it is a built-in '
                    f'variable that is not changeable or you forgot to use "set ${key} '
                    f"'';\" in the config file to define it first").encode()
        if not var.changeable:
            return f'variable "{key}" not changeable'.encode()
        # the trace's old value, read without a getter's side effects (a "set" variable
        # not set yet would log nginx's "using uninitialized" warning)
        old = r.variables.get(key) if var.stored else table.get(r, key)
        if value is None:  # nil: the variable is "not found" from now on
            if var.stored:
                r.variables[key] = None  # type: ignore[assignment]
            else:
                table.set(r, key, "")
                if key == "args":
                    r.has_args = False
            r.trace.add("var", name=f"${key}", old=old, new="")
            return None
        new = as_str(value)
        table.set(r, key, new)
        r.trace.add("var", name=f"${key}", old=old, new=new)
        return None

    def py_capture_get(self, index: int) -> bytes | None:
        r = self.r
        caps = r.captures if r is not None else None
        if caps is None or not 0 <= index < len(caps):
            return None
        return as_bytes(caps[index])

    # -- request -------------------------------------------------------------------------

    def py_get_method(self) -> bytes:
        return self.r.method.encode()

    def py_method_name(self, code: Any) -> bytes | None:
        if isinstance(code, (int, float)) and int(code) in METHODS:
            return METHODS[int(code)].encode()
        return None

    def py_set_method(self, name: bytes) -> None:
        self.r.method = as_str(name)

    def py_http_version(self) -> float | None:
        r = self.r
        return {9: 0.9, 1000: 1.0, 1001: 1.1, 2000: 2.0}.get(r.main.http_version) if r else None

    def py_start_time(self) -> float:
        r = self.r
        # nginx's cached time when the request was created, in whole milliseconds
        return int((r.main.start if r else time.time()) * 1000) / 1000

    def py_is_internal(self) -> bool:
        return bool(self.r.internal)

    def py_is_subrequest(self) -> bool:
        r = self.r
        return bool(r is not None and r.parent is not None)

    def py_raw_header(self, no_request_line: bool) -> bytes:
        m = self.r.main
        if m.raw_head is not None:
            head = _as_parsed(m.raw_head)
            return head[head.find(b"\n") + 1:] if no_request_line else head
        lines = [] if no_request_line else [m.request_line]
        lines += [f"{k}: {v}" for k, v in m.ctx.get("keep:lua_raw_header", m.headers_in)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")

    def py_set_args(self, args: bytes) -> None:
        self.r.args = as_str(args)

    def py_set_uri(self, uri: bytes, jump: bool) -> None:
        r = self.r
        old = r.uri
        r.set_uri(as_str(uri))
        r.trace.add("var", name="$uri", old=old, new=r.uri)
        r.internal = True  # ngx_lua marks the request internal, jump or not
        if jump:
            r.uri_changed = True
        else:  # as a rewrite "break": an alias no longer maps the URI
            r.valid_location = False

    def py_get_headers(self) -> Any:
        flat: list[bytes] = []
        for k, v in self.r.headers_in:
            flat.append(as_bytes(k))  # type: ignore[arg-type]
            flat.append(as_bytes(v))  # type: ignore[arg-type]
        return self.worker.lua.table_from(flat)

    def py_set_req_header(self, name: bytes, value: Any, add: bool = False) -> bytes | None:
        """ngx_lua's set_input_header: the name as given (no "_" to "-"); the first
        header of that name takes the (first) value and keeps its spelling, later ones
        go, further values of a table are appended; ``add`` (no override) appends every
        value, empty ones too. A header nginx keeps one of is replaced either way. An
        error message when a Host value is not a valid host name."""
        r = self.r
        _keep_raw_header(r)
        header = as_str(name)
        values = [as_str(value)] if isinstance(value, bytes) else \
            [] if value is None else [as_str(v) for v in value.values()]
        if header.lower() in _SINGLE_IN and values:
            return self._set_single(header, values)
        if add:
            for v in values:
                r.headers_in.add(header, v)
            return None
        # an empty first value removes the header as nil does; the others are added,
        # even empty ones
        r.headers_in.set(header, values[0] if values and values[0] else None, respell=False)
        for v in values[1:]:
            r.headers_in.add(header, v)
        return None

    def _set_single(self, header: str, values: list[str]) -> bytes | None:
        """A header nginx keeps one of: each value replaces the one before. A Host or
        Content-Length value nginx would refuse stops there (the ones before it stay)
        with ngx_lua's error; Host also changes the server name $host reports."""
        r = self.r
        low = header.lower()
        for v in values:
            if low == "host" and v:
                # ngx_lua's own copy of the host check lets spaces and tabs through
                host = valid_host(v.replace(" ", "x").replace("\t", "x"))
                if host is None:
                    return b"failed to set header"
                r.main.host = "".join(o if o in " \t" else c for c, o in zip(host, v))
            elif low == "content-length" and v and not (
                    v.isascii() and v.isdigit() and int(v) < 2 ** 63):
                return b"failed to set header"
            r.headers_in.set(header, v or None, respell=False)
        return None

    def py_body_read(self) -> bool:
        return request_body.has_body(self.r)

    def py_body_in_file(self) -> bool:
        return request_body.in_file(self.r)

    def py_get_body_data(self) -> bytes | None:
        data = request_body.body_data(self.r)
        return as_bytes(data) if data else None

    def py_get_body_file(self) -> bytes | None:
        path = request_body.body_file(self.r)
        return as_bytes(path)

    def py_discard_body(self) -> None:
        request_body.discard_request_body(self.r)

    def py_set_body(self, data: bytes) -> None:
        """set_body_data: a new body in memory, whatever held the old one."""
        r = self.r
        _drop_auto_clean(r)
        _set_body(r, data, "memory")

    def py_init_body(self, size: int) -> None:
        """init_body: an empty body in memory and a buffer of ``size`` bytes (none
        given, -1: the location's client_body_buffer_size) for what append_body adds;
        size 0 sets ngx_lua's request_body_in_file_only: all of it goes to a file."""
        r = self.r
        _drop_auto_clean(r)
        r.ctx["keep:lua_body_buffer"] = size if size >= 0 else request_body.body_size_limit(
            r.loc, "client_body_buffer_size", 0, request_body.BODY_BUFFER)
        if size == 0:
            r.main.ctx[request_body.LUA_FILE_ONLY] = True
        r.body = b""
        r.main.ctx[request_body.STATE] = "memory"

    def py_append_body(self, data: bytes) -> None:
        """append_body: into the buffer while it fits, else (and with
        client_body_in_file_only) into a temporary file, as ngx_lua writes it."""
        r = self.r
        main = r.main
        r.body = (r.body or b"") + data
        if main.ctx.get(request_body.STATE) == "file":
            with open(main.ctx[request_body.FILE], "ab") as fh:
                fh.write(data)
            return
        if request_body.in_file_only(main) or len(r.body) > r.ctx.get(
                "keep:lua_body_buffer", 0):
            request_body.to_file(main, r.body)

    def py_finish_body(self) -> None:
        r = self.r
        _keep_raw_header(r)
        r.headers_in.set("Content-Length", str(len(r.body or b"")))

    def py_set_body_file(self, path: bytes, auto_clean: bool) -> bytes | None:
        """set_body_file: the file's bytes become the body; an error message when the
        file cannot be read (ngx_lua's stat() first: an old auto-clean file is gone)."""
        r = self.r
        _drop_auto_clean(r)
        name = as_str(path)
        try:
            with open(name, "rb") as fh:
                data = fh.read()
        except OSError:
            # ngx_lua made the new (zeroed) temp-file record before its stat() failed
            if r is r.main:
                r.main.ctx[request_body.STATE] = "file"
                r.main.ctx[request_body.FILE] = ""
            return as_bytes(f'stat() "{name}" failed')
        _set_body(r, data, "file")
        r.main.ctx[request_body.FILE] = name
        if auto_clean:
            r.main.ctx["keep:lua_body_auto_clean"] = name
            r.add_cleanup(lambda: _drop_auto_clean(r))
        return None

    def py_check_client_abort(self) -> bool:
        r = self.r
        return bool(r is not None and r.loc.flag("lua_check_client_abort", False))

    # -- timers and threads (carried out by the service) --------------------------------

    def py_timer_at(self, delay: float, timer_id: int, every: bool, where: bytes) -> Any:
        return self.worker.service.timers.schedule(self.worker, self.current, float(delay),
                                                   int(timer_id), every, as_str(where))

    def py_timer_counts(self, running: bool) -> int:
        t = self.worker.service.timers
        return t.running if running else t.pending

    # -- worker --------------------------------------------------------------------------

    def py_worker_id(self) -> int:
        return self.worker.id

    def py_worker_count(self) -> int:
        return self.worker.service.worker_count

    def py_worker_pid(self) -> int:
        return os.getpid()

    def py_worker_exiting(self) -> bool:
        return self.worker.service.exiting


#: The request headers ngx_lua 0.10.23 sets through nginx's own pointer (headers_in.c):
#: one of each, a table's later values replacing the earlier (probed one by one).
_SINGLE_IN = frozenset({
    "host", "connection", "if-modified-since", "if-none-match", "if-range", "user-agent",
    "referer", "content-length", "content-type", "range", "transfer-encoding", "expect",
    "upgrade", "accept-encoding", "via", "authorization", "keep-alive", "x-real-ip",
    "depth", "destination", "overwrite", "date"})


_TRAILING_SPACES = re.compile(rb"(?<=[^ :])( +)(\r?\n)")


def _as_parsed(head: bytes) -> bytes:
    """The head as nginx's header parser leaves its buffer: it ends each value with a NUL
    at the value's end, which ngx_lua's raw_header turns back into CR before an LF and
    into LF elsewhere; so a value's first trailing space reads as one of those."""
    def restore(m: re.Match[bytes]) -> bytes:
        spaces, end = m.group(1), m.group(2)
        after = spaces[1:2] or end[:1]
        return (b"\r" if after == b"\n" else b"\n") + spaces[1:] + end
    line_end = head.find(b"\n") + 1
    return head[:line_end] + _TRAILING_SPACES.sub(restore, head[line_end:])


def _keep_raw_header(r: Request) -> None:
    """ngx.req.raw_header reads the header as received (nginx's buffer), whatever Lua
    changed in the request's header list since: keep a copy before the first change."""
    m = r.main
    if "keep:lua_raw_header" not in m.ctx:
        m.ctx["keep:lua_raw_header"] = list(m.headers_in)


def _set_body(r: Request, data: bytes, where: str) -> None:
    """The body Lua gave, in memory or a file, and the Content-Length of its size."""
    _keep_raw_header(r)
    r.body = data
    r.body_read = True
    if r is r.main:  # an empty body has no buffer ($request_body not found), a file has
        r.main.ctx[request_body.STATE] = where if data or where == "file" else None
    r.headers_in.set("Content-Length", str(len(data)))


def _drop_auto_clean(r: Request) -> None:
    """set_body_file's ``auto_clean``: the file goes once the body changes again."""
    path = r.main.ctx.pop("keep:lua_body_auto_clean", None)
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass
