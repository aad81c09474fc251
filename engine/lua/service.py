"""The Lua service of one loaded configuration: workers, entry threads, output, threads.

What ngx_lua keeps in its main conf and request ctx lives here: the worker VMs (one per
``worker_processes``; a connection is served by worker ``connection_number %
worker_processes``, so a user can predict where module state lives), the shared dicts,
the cached clock, the code cache switch, and the per-request Lua state. It runs entry
threads (rewrite/access/content), the handlers that may not yield (set, header_filter,
body_filter, log), and sends the output they produce down the request engine's chains.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ..conf.values import parse_size
from ..conf.errors import ConfigError
from ..http.phases import ERROR, OK
from .headers_out import LUA_CL_FIELD
from .constants import LAST_LOST, SEEN_LAST
from .handlers import LuaHandler, compile_handler
from .runtime import LuaCompileError, LuaRequest, LuaWorker
from .shdict import SharedDictZone, SharedDicts
from .subrequest import capture
from .thread import Driver, Outcome, lua_error_text, text
from .time import Clock
from .timer import Timers
from .traceback import ngx_traceback

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_CTX_KEY = "ngx_lua"
#: Where the module keeps the Lua handlers that apply in a block (its own and inherited).
EFFECTIVE_KEY = "ngx_http_lua_module.effective"
#: Where a block keeps its lua_code_cache, read once.
_CODE_CACHE_KEY = "ngx_http_lua_module.code_cache"
#: Context names as the Lua side takes them.
_CONTEXTS = {name: name.encode() for name in (
    "rewrite", "access", "content", "header_filter", "body_filter", "log", "set",
    "server_rewrite", "balancer")}


def _worker_environment(directives: list) -> dict[str, str]:
    """What a worker's os.getenv sees: nginx keeps only TZ and what ``env`` names."""
    keep = {"TZ": os.environ["TZ"]} if "TZ" in os.environ else {}
    for d in directives:
        name, eq, value = d.args[0].partition("=")
        if eq:
            keep[name] = value
        elif name in os.environ:
            keep[name] = os.environ[name]
    return keep


class LuaInitError(ConfigError):
    """init_by_lua* failed: nginx's start stops on ngx_lua's ``[error]`` line (empty for
    ``error(nil)``, which ngx_lua does not report), with no place and no ``[emerg]``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, level="error")


class LuaService:
    def __init__(self, engine: HttpEngine) -> None:
        self.engine = engine
        self.clock = Clock()
        self.shared = SharedDicts()
        self.prefix = engine.cfg.prefix
        self.package_path: str | None = None
        self.package_cpath: str | None = None
        self.worker_count = 1
        self.environment: dict[str, str] = {}
        self.exiting = False
        #: (connection number, context, block whose error_log applies: None for the
        #: main context's) for ngx.log outside requests and timers
        self._plain_log: tuple[int, str, Any] = (0, "", None)
        self.workers: list[LuaWorker] = []
        self.timers = Timers(self)
        options = engine.services.get("options", {})
        #: CPU seconds a handler may run without yielding before the watchdog stops it
        #: (0: off, as in real nginx, where such a handler hangs the worker).
        self.watchdog_seconds: float = options.get("lua_watchdog", 5.0)
        self.memory_mb: int = options.get("lua_memory_mb", 1024)
        #: ``nginx -t``: the code of init_by_lua* is neither loaded nor run
        self.test_config: bool = options.get("test_config", False)
        #: The attached engine.lua.debugger.Debugger, if any (arms new worker VMs).
        self.debugger: Any = None
        self.init_handler: LuaHandler | None = None
        self.init_worker_handler: LuaHandler | None = None

    # -- configuration -------------------------------------------------------------------

    def configure(self, cfg: HttpConfig) -> None:
        main, http = cfg.main, cfg.http
        wp = main.value("worker_processes", "1") or "1"
        self.worker_count = os.cpu_count() or 1 if wp == "auto" else max(1, int(wp)) \
            if wp.isdigit() else 1
        self.environment = _worker_environment(main.get("env"))
        if http is None:
            return
        self.package_path = http.value("lua_package_path")
        self.package_cpath = http.value("lua_package_cpath")
        for d in http.own.get("lua_shared_dict", []):
            size = parse_size(d.args[1]) if len(d.args) > 1 else None
            if size is None:
                raise ConfigError(f'invalid lua shared dict size "{d.args[1]}"', d.file, d.line)
            if size < 8192:
                raise ConfigError(f'invalid lua shared dict size "{d.args[1]}"', d.file, d.line)
            known = self.shared.get(d.args[0])
            if known is not None and known.size != size:  # (ngx_shared_memory_add's check)
                raise ConfigError(f'the size {size} of shared memory zone "{d.args[0]}" '
                                  f'conflicts with already declared size {known.size}',
                                  d.file, d.line)
            if known is not None:
                raise ConfigError(f'lua_shared_dict "{d.args[0]}" is already defined as '
                                  f'"{d.args[0]}"', d.file, d.line)
            self.shared.add(SharedDictZone(d.args[0], size))
        mp = http.value("lua_max_pending_timers")
        mr = http.value("lua_max_running_timers")
        self.timers.max_pending = int(mp) if mp and mp.isdigit() else 1024
        self.timers.max_running = int(mr) if mr and mr.isdigit() else 256

    def compile_init(self, cfg: HttpConfig) -> None:
        http = cfg.http
        if http is None:
            return
        for d in http.items:
            if d.name.startswith("init_by_lua"):
                self.init_handler = compile_handler(self.engine, d)
            elif d.name.startswith("init_worker_by_lua"):
                self.init_worker_handler = compile_handler(self.engine, d)
        self.workers = [LuaWorker(self, i) for i in range(self.worker_count)]
        if self.init_handler is not None and not self.test_config:
            for w in self.workers:  # init_by_lua runs in the master; each fork inherits it
                self._run_init(w, self.init_handler)

    def _run_init(self, worker: LuaWorker, handler: LuaHandler) -> None:
        """Run init_by_lua* as nginx does while it reads the http block at start-up.

        A failure is ngx_lua's ``[error] init_by_lua error: ...`` (the traceback added
        only when the error value is a string or a number) and nginx exits; raised as
        :class:`LuaInitError`, since ``nginx -t`` never runs this code and so never
        reports it."""
        prefix = f"{handler.base}_file" if handler.path is not None else handler.base
        try:
            factory = handler.factory(worker, None, True)
        except LuaCompileError as exc:
            raise LuaInitError(f"{prefix} error: {exc}") from None
        state = worker.new_state(None, "init")
        co = worker.rt[b"spawn_global"](factory)
        self._plain_log = (0, "", None)  # in the master before any log is open: no context
        status, _out, *vals = worker.rt[b"resume"](state, co)
        if status != b"error":
            return
        value = vals[0] if vals else None
        if value is None:  # error(nil): ngx_lua reports nothing, nginx still stops
            raise LuaInitError("")
        if not isinstance(value, (bytes, int, float)) or isinstance(value, bool):
            raise LuaInitError(f"{prefix} error: unknown error")
        message = lua_error_text(value)
        tb = ngx_traceback(text(vals[1]), main=True, coroutine=False, message=message) \
            if len(vals) > 1 and vals[1] else ""
        raise LuaInitError(f"{prefix} error: {message}" + ("\n" + tb if tb else ""))

    def _run_plain(self, worker: LuaWorker, handler: LuaHandler) -> str | None:
        """Run init_worker_by_lua* on its fake connection; the error text, or None."""
        try:
            factory = handler.factory(worker, None, True)
        except LuaCompileError as exc:
            return str(exc)
        state = worker.new_state(None, "init_worker")
        co = worker.rt[b"spawn_global"](factory)
        self._plain_log = (self.engine.next_connection(), ", context: init_worker_by_lua*",
                           self.engine.cfg.http)
        try:
            status, _out, *vals = worker.rt[b"resume"](state, co)
        finally:
            self._plain_log = (0, "", None)
        if status == b"error":
            message = lua_error_text(vals[0] if vals else None)
            tb = ngx_traceback(text(vals[1]), main=True, coroutine=False, message=message) \
                if len(vals) > 1 and vals[1] else ""
            return message + ("\n" + tb if tb else "")
        return None

    async def start(self) -> None:
        if self.init_worker_handler is None:
            return
        for w in self.workers:
            err = self._run_plain(w, self.init_worker_handler)
            if err:  # ngx_lua's report: on the cycle's log, no connection, no context
                self.engine.log_global("error", f"init_worker_by_lua error: {err}", 0, "")

    async def stop(self, graceful: bool) -> None:
        self.exiting = True
        await self.timers.shutdown()
        for w in self.workers:
            w.sockets.shutdown()

    # -- per request ---------------------------------------------------------------------

    @staticmethod
    def code_cache(r: Request) -> bool:
        """lua_code_cache of the request's location (ngx_lua's loc conf): off, each
        request has a VM of its own and compiles its code afresh."""
        mod = r.loc.mod
        flag = mod.get(_CODE_CACHE_KEY)
        if flag is None:
            flag = mod[_CODE_CACHE_KEY] = r.loc.flag("lua_code_cache", True)
        return flag

    def worker_for(self, r: Request) -> LuaWorker:
        if not self.code_cache(r):
            fresh = r.main.ctx.get("keep:lua_fresh_worker")
            if fresh is None:
                fresh = r.main.ctx["keep:lua_fresh_worker"] = LuaWorker(self, 0)
            return fresh
        return self.workers[r.conn.number % len(self.workers)]

    def lua_request(self, r: Request) -> LuaRequest:
        lr = r.ctx.get(_CTX_KEY)
        if lr is None:
            worker = self.worker_for(r)
            lr = LuaRequest(r, worker, worker.new_state(r, "rewrite"))
            if r.http_version < 1001 and r.parent is None:  # output may be held (below)
                lr.state[b"http10"] = True
            r.ctx[_CTX_KEY] = lr
        return lr

    async def run_entry(self, r: Request, context: str, handler: LuaHandler) -> Outcome:
        """Run a rewrite/access/content handler as the request's entry thread."""
        self.clock.update()
        lr = self.lua_request(r)
        worker = lr.worker
        filters = r.loc.mod.get(EFFECTIVE_KEY) or {}
        sync = bool(filters.get("header_filter_by_lua") or filters.get("body_filter_by_lua"))
        if sync != lr.sync_out:  # (told to the Lua side only when it changes)
            lr.sync_out = lr.state[b"sync_out"] = sync
        tracing = r.trace.enabled
        if tracing:
            t0 = time.perf_counter()
            d = handler.directive
            r.trace.add("phase", phase=context, handler=handler.label, file=d.file,
                        line=d.line)
            before = self._ctx_snapshot(lr)
        try:
            factory = handler.factory(worker, r, self.code_cache(r))
        except LuaCompileError as exc:
            r.log("error", handler.load_error(exc))
            outcome = Outcome("error", message=str(exc), status=404 if exc.missing else 500)
        else:
            outcome = await Driver(self, lr).start(_CONTEXTS[context], factory)
            if lr.threads and outcome.kind == "done":
                outcome = await self.join_threads(lr) or outcome
            elif lr.threads:
                self.abort_threads(lr)
            if outcome.kind == "error":
                self._log_abort(r, outcome)
        if tracing:
            self._trace_ctx(r, lr, context, before)
            r.trace.add("phase_done", phase=context, handler=handler.label,
                        rc=outcome.kind if outcome.kind != "exit" else
                        f"ngx.exit({outcome.values[0]})",
                        duration_ms=(time.perf_counter() - t0) * 1000)
        return outcome

    @staticmethod
    def _refused(r: Request, context: str, outcome: Outcome) -> None:
        """An API called where ngx_lua forbids it: flagged in the trace at its phase."""
        if "API disabled in the context of" in outcome.message:
            r.trace.add("api_refused", phase=context, message=outcome.message)

    def _log_abort(self, r: Request, outcome: Outcome) -> None:
        self._refused(r, r.phase_name or "content", outcome)
        tb = ngx_traceback(outcome.traceback, main=True)
        message = f"lua entry thread aborted: runtime error: {outcome.message}"
        if tb:
            message += "\n" + tb
        r.log("error", message)

    async def run_sync(self, r: Request, context: str, handler: LuaHandler,
                       missing: int | None = ERROR) -> int | None:
        """header_filter / log / balancer handlers: run to the end, no yielding. Returns
        NGX_OK, the code given to ngx.exit, or NGX_ERROR when the handler failed; a file
        that cannot be opened gives ``missing`` (ngx_lua's filters take it for NGX_ERROR,
        its balancer goes on to the group's own servers)."""
        lr = self.lua_request(r)
        worker = lr.worker
        if r.trace.enabled:
            r.trace.add("phase", phase=context, handler=handler.label,
                        file=handler.directive.file, line=handler.directive.line)
        before = self._ctx_snapshot(lr) if r.trace.enabled else None
        t0 = time.perf_counter()
        rc = OK
        try:
            factory = handler.factory(worker, r, self.code_cache(r))
            outcome = await Driver(self, lr, yieldable=False).start(_CONTEXTS[context], factory)
        except LuaCompileError as exc:
            r.log("error", handler.load_error(exc))
            return missing if exc.missing else ERROR
        code = lr.state[b"exit_code"]  # what ngx.exit noted (header_filter_by_lua*)
        if code is not None:
            lr.state[b"exit_code"] = None
        if outcome.kind == "error":
            self._refused(r, context, outcome)
            r.log("error", _failed(handler.base, outcome))
            rc = ERROR
        elif code is not None:
            rc = int(code)
        if r.trace.enabled:
            self._trace_ctx(r, lr, context, before)
            r.trace.add("phase_done", phase=context, handler=handler.label,
                        rc="done" if rc == OK else "error" if rc == ERROR else f"ngx.exit({rc})",
                        duration_ms=(time.perf_counter() - t0) * 1000)
        return rc

    async def run_body_filter(self, r: Request, handler: LuaHandler, data: bytes,
                              last: bool) -> tuple[bytes, bool] | None:
        lr = self.lua_request(r)
        worker = lr.worker
        arg = worker.lua.table_from([data, last])
        lr.state[b"arg"] = arg
        try:
            factory = handler.factory(worker, r, self.code_cache(r))
        except LuaCompileError as exc:
            r.log("error", handler.load_error(exc))
            return None
        before = self._ctx_snapshot(lr) if r.trace.enabled else None
        outcome = await Driver(self, lr, yieldable=False).start(b"body_filter", factory)
        if outcome.kind == "error":
            self._refused(r, "body_filter", outcome)
            r.log("error", _failed("body_filter_by_lua", outcome))
            if arg[2] and not last:  # ngx_lua's setter marked the end already
                r.ctx[SEEN_LAST] = True
            return None
        out = arg[1] or b""  # (ngx.arg's setter made a string of what was set)
        eof = bool(arg[2])
        if eof and arg[b"lost"]:  # the end was marked on no buffer (see core.lua)
            r.ctx[SEEN_LAST] = LAST_LOST
            eof = False
        if r.trace.enabled:
            self._trace_ctx(r, lr, "body_filter", before)
            r.trace.add("script", op="body_filter", handler=handler.label, bytes_in=len(data),
                        bytes_out=len(out), eof=eof)
        return out, eof

    async def run_set(self, r: Request, handler: LuaHandler, values: list[str]) -> str | None:
        lr = self.lua_request(r)
        worker = lr.worker
        lr.state[b"arg"] = worker.lua.table_from([v.encode("utf-8", "surrogateescape")
                                                  for v in values])
        try:
            factory = handler.factory(worker, r, self.code_cache(r))
        except LuaCompileError as exc:
            r.log("error", handler.load_error(exc))
            return None
        outcome = await Driver(self, lr, yieldable=False).start(b"set", factory)
        if outcome.kind == "error":
            self._refused(r, "set", outcome)
            r.log("error", _failed("set_by_lua", outcome))
            return None
        if not outcome.values or outcome.values[0] is None:
            return ""
        v = outcome.values[0]
        if isinstance(v, bool) or not isinstance(v, (bytes, str, int, float)):
            return ""  # ngx_lua takes strings and numbers only
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return text(v)

    # -- output --------------------------------------------------------------------------

    @staticmethod
    def prepare_headers(r: Request) -> None:
        """What ngx_lua sets before sending the header: status 200, the default type,
        no Content-Length unless Lua set headers. Also done when Lua reads a variable
        after its first output (ngx_lua has sent the header by then; the output here
        waits on the Lua side), so that $status and $sent_http_* read the same."""
        if not r.out.status:
            r.out.status = 200
        # (no default type for a 304, which has no body to type)
        if not r.out.content_type and not r.ctx.get("lua_mime_set") \
                and r.out.status != 304 and r.loc.flag("lua_use_default_type", True):
            r.engine.services["set_content_type"](r)
        if not r.ctx.get("lua_headers_set"):  # (set in this location's Lua context)
            r.out.content_length = None  # ngx_http_clear_content_length, its line too
            if r.out.headers.items:
                r.out.headers.remove("content-length")

    async def send_headers(self, lr: LuaRequest, output: bool = True) -> None:
        """The response header, unless sent. On the way to output (ngx_lua's
        send_chain_link, not ngx.send_headers()) a HEAD is marked header-only first, so
        the header filters already know no body follows (gzip leaves it alone). Output
        held for HTTP/1.0 follows as one chain (one call of the body filters)."""
        r = lr.r
        if output and r.method == "HEAD":
            r.header_only = True
        if r.header_sent:
            return
        held = lr.http10
        if held is not None:  # the end of an HTTP/1.0 response: now its length is known
            lr.http10 = None
            # (unless Lua made nginx's content_length field: cleared, it stays, unsized)
            if not r.ctx.get(LUA_CL_FIELD):
                r.out.content_length = sum(len(c) for c in held)
                r.ctx["lua_headers_set"] = True
        self.prepare_headers(r)
        await r.engine.send_header(r)
        if held:
            # ngx_lua writes the held chain whatever the status: a 204's or 304's too
            only, r.header_only = r.header_only, False
            try:
                await r.engine.output(r, b"".join(held), False)
            finally:
                r.header_only = only
            if lr.output_failed:  # a Lua filter refused it: no last buffer follows
                r.engine.abort(r)

    async def finish_output(self, lr: LuaRequest) -> None:
        """The handler ended: what it buffered for HTTP/1.0 goes with the header, as
        ngx_lua's last output does; a handler that printed nothing at all gets a
        Content-Length of 0 (an ngx.print("") sent its header without one)."""
        if not lr.state[b"headers_sent"]:
            self.http10_buffering(lr)
        await self.send_headers(lr)

    def http10_buffering(self, lr: LuaRequest) -> bool:
        """lua_http10_buffering (on by default): an HTTP/1.0 main request's output is
        held until the handler ends, unless Lua set a Content-Length itself or the
        request is a HEAD (output.lua asks only until the header is sent: an empty
        ngx.print sends it). Holding starts as
        sending would: status, default type and length are settled now (a status set
        later still goes out; ngx.status reads 200 from here on)."""
        if lr.http10 is not None:
            return True
        r = lr.r
        if r.header_sent or r is not r.main or r.http_version > 1000 \
                or r.method == "HEAD" or r.out.content_length is not None \
                or not r.loc.flag("lua_http10_buffering", True):
            return False
        lr.http10 = []
        self.prepare_headers(r)
        return True

    async def emit(self, lr: LuaRequest, data: Any) -> None:
        """Output printed by a handler: bytes for one call, a Lua table for several."""
        if lr.eof:
            return
        r = lr.r
        if lr.http10 is not None:  # (output.lua started holding it, or did not)
            lr.http10.extend([data] if isinstance(data, bytes) else list(data.values()))
            return
        if not r.header_sent:
            lr.sending_header = True
            try:
                await self.send_headers(lr)
            finally:
                lr.sending_header = False
            if lr.output_failed:  # the header filter failed: this call's output goes nowhere
                return
        if r.parent is not None and r.method == "HEAD":
            return  # a HEAD subrequest's capture has no body (ngx_lua sends none)
        # nothing printed sends no buffer (an empty one would read as a flush)
        if isinstance(data, bytes):
            if data:
                lr.seen_body = True
                await r.engine.output(r, data, False)
            return
        for chunk in data.values():
            if lr.eof or r.response_done:
                return
            if chunk:
                lr.seen_body = True
                await r.engine.output(r, chunk, False)

    async def flush(self, lr: LuaRequest, wait: bool) -> tuple:
        """ngx.flush's results: 1, or nil and why nothing was flushed."""
        r = lr.r
        if r.header_only:
            return None, b"header only"
        if lr.eof:
            return None, b"seen eof"
        if lr.http10 is not None:  # HTTP/1.0 buffering holds the output until the end
            return None, b"buffering"
        if not r.header_sent or (not lr.seen_body and not wait):
            return None, b"nothing to flush"
        # the flush buffer goes down the body filters (body_filter_by_lua sees it, empty)
        await r.engine.output(r, b"", False)
        if lr.output_failed:
            lr.output_failed = False
            return None, b"nginx output filter error"
        if r is r.main:
            await r.engine.services["flush_output"](r)
        return (1,)

    async def eof(self, lr: LuaRequest) -> None:
        r = lr.r
        if lr.eof:
            return
        await self.send_headers(lr)
        await r.engine.output(r, b"", True)
        lr.eof = True
        r.trace.add("eof", note="the client has the whole response; the handler goes on")
        if r is r.main:
            sink = r.sink  # type: ignore[attr-defined]
            if hasattr(sink, "client_done"):
                await sink.client_done(r.keepalive)

    # -- subrequests, threads, timers --------------------------------------------------

    async def capture(self, lr: LuaRequest, specs: Any) -> Any:
        return await capture(self, lr, specs)

    async def join_threads(self, lr: LuaRequest) -> Outcome | None:
        from .uthread import join_all
        return await join_all(lr)

    def abort_threads(self, lr: LuaRequest) -> None:
        from .uthread import abort_all
        abort_all(lr)

    def log_without_request(self, level: str, message: str) -> None:
        """ngx.log from init_by_lua / init_worker_by_lua (timers log as their fake request)."""
        self.engine.log_global(level, message, *self._plain_log)

    # -- ngx.ctx in the trace ------------------------------------------------------------

    def _ctx_snapshot(self, lr: LuaRequest) -> dict[str, str]:
        ctx = lr.state[b"ctx"]
        if ctx is None:
            return {}
        snap = lr.worker.rt[b"snapshot"](ctx)
        return {text(k): text(v) for k, v in snap.items()}

    def _trace_ctx(self, r: Request, lr: LuaRequest, phase: str,
                   before: dict[str, str] | None) -> None:
        after = self._ctx_snapshot(lr)
        before = before or {}
        added = {k: v for k, v in after.items() if k not in before}
        changed = {k: [before[k], v] for k, v in after.items() if k in before and before[k] != v}
        removed = [k for k in before if k not in after]
        if added or changed or removed:
            r.trace.add("ctx", phase=phase, added=added, changed=changed, removed=removed,
                        snapshot=after)

    # -- the console ---------------------------------------------------------------------

    def eval(self, source: str, worker: int = 0) -> tuple[bool, str]:
        """Run Lua in a worker VM (the explorer's console); returns (ok, text)."""
        if not self.workers:
            return False, "no Lua worker"
        w = self.workers[worker % len(self.workers)]
        return w.console(source)


def _failed(base: str, outcome: Outcome) -> str:
    """``failed to run header_filter_by_lua*: msg`` and the traceback (no coroutine
    number: filters do not run in a light thread). ngx_lua's traceback handler leaves
    an error that is not a string (a table, nil: "unknown reason") as it is."""
    line = f"failed to run {base}*: {outcome.message}"
    raw = outcome.raw
    if not isinstance(raw, (bytes, int, float)) or isinstance(raw, bool):
        return line
    tb = ngx_traceback(outcome.traceback, main=True, coroutine=False,
                       message=outcome.message)
    return line + ("\n" + tb if tb else "")