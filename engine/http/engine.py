"""The request core: runs a request through the phase table, as ``ngx_http_core_run_phases``.

Everything module-specific happens in the handlers and filters that modules registered;
what lives here is what nginx's core does itself: choosing the server, the phase
checkers (find config, post rewrite, access/satisfy, post access, content), internal
redirects and named locations with their cycle limit, finalization with the special
responses and ``error_page``, subrequests and the log phase (the output chains are
:mod:`.output_chain`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .api import (CONTINUE_LINE, CollectingSink, Exchange, HttpRequest, Response, ResponseSink,
                  TeeSink)
from .find_config import find_config, update_location_config
from .output_chain import OutputChain
from .log import LEVEL_NUM, ErrorLog, LogRecord, request_context
from .phases import AGAIN, DECLINED, DONE, ERROR, OK, HttpModule, Phase, PhaseTable
from .plan import BlockPlan
from .request import UPSTREAM_ACTIONS, Connection, Request
from .request_head import check_host, read_target, reading_line
from .servers import select_server
from .special import special_response
from .trace import Trace
from .variables import ScriptError, VariableTable

if TYPE_CHECKING:
    from .block import Block
    from .config import HttpConfig

#: Phases whose steps the core's own checkers run (they never take the inline path).
_CORE_CHECKED = frozenset({Phase.FIND_CONFIG, Phase.POST_REWRITE, Phase.POST_ACCESS,
                           Phase.CONTENT, Phase.ACCESS})

_FIND_CONFIG, _POST_REWRITE, _POST_ACCESS, _CONTENT = (
    Phase.FIND_CONFIG, Phase.POST_REWRITE, Phase.POST_ACCESS, Phase.CONTENT)


class HttpEngine(OutputChain):
    """A loaded http configuration, ready to answer requests."""

    def __init__(self, cfg: HttpConfig, modules: list[HttpModule], error_log: ErrorLog,
                 trace_enabled: bool = True, options: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.modules = modules
        self.variables = VariableTable()
        self.phases = PhaseTable()
        self.error_log = error_log
        self.trace_enabled = trace_enabled
        self.connections = 0
        #: Shared objects modules publish (lua, rewrite...) and the engine's options.
        self.services: dict[str, Any] = {"options": options or {}}
        for m in modules:
            m.init(self)
        for m in modules:
            m.declare(self, cfg)
        for m in modules:
            m.configure(self, cfg)
        self._index = {ph: self.phases.index_of(ph) for ph in Phase}
        #: For the generic checker: where the phase after each one starts.
        self._next_index = {ph: self._index[Phase(ph + 1)] for ph in Phase if ph < Phase.LOG}
        self._log_start = self._index[Phase.LOG]
        self._plans: dict[Any, BlockPlan] = {}

    def plan(self, block: Any) -> BlockPlan:
        """The handlers and filters that may act in ``block`` (see :mod:`.plan`)."""
        found = self._plans.get(block)
        if found is None:
            found = self._plans[block] = BlockPlan(self.phases, block)
        return found

    # -- entry point ------------------------------------------------------------------

    async def handle(self, req: HttpRequest, sink: ResponseSink | None = None,
                     trace: bool | None = None, keep: bool = True) -> Exchange:
        """Answer one request; the response goes to ``sink`` and into the Exchange.

        ``keep=False`` (a listener nobody watches): the response only goes to ``sink``;
        the Exchange has its status but no copy of its headers and body."""
        if sink is None:
            sink = CollectingSink()
        streamed = not isinstance(sink, CollectingSink)
        collector = TeeSink(sink) if streamed and keep else sink
        number = req.connection or self.next_connection()
        conn = Connection(number, req.client_addr, req.client_port, req.server_addr,
                          req.server_port, req.connection_requests, req.connection_start,
                          req.pipelined, req.tls)
        tr = Trace(self.trace_enabled if trace is None else trace)
        r = Request(self, conn, req.method, req.target, req.version, req.headers,
                    req.body, tr)
        r.sink = collector
        r.head_bytes, r.line_bytes = req.head_length, req.line_length
        if req.raw_line is not None:
            r.request_line = req.raw_line
            r.raw_head = req.raw_head
        if req.body_length is not None:
            r.body_length = req.body_length
        if req.plain_on_https:
            r.plain_on_https = True
        if req.continue_sent:
            r.body_sent = len(CONTINUE_LINE)  # already on the wire, counted as nginx does
            r.expect_tested = True
        else:
            r.send_continue = req.send_continue
        started = r.start
        if tr.enabled:
            tr.add("request", method=req.method, uri=req.target, protocol=req.version,
                   client=f"{req.client_addr}:{req.client_port}")
        stats = None
        try:
            if not self.cfg.addresses:  # no http{} or no server{}: nothing listens
                r.response_done = r.aborted = True
                r.trace.add("finalize", status=0, reason="no server in the configuration")
                return Exchange(req, Response(0, "", [], b"", sent=False), tr.events, [],
                                started=started)
            stats = self.services.get("connection_stats")  # stub_status's counters
            if stats is not None:
                stats.request_started(not req.connection)
            await self._process(r)
        except ScriptError:  # a value nginx's script copy refused: logged, a 500
            if not r.header_sent and not r.response_done:
                await self.finalize(r, 500)
        except Exception as exc:  # an engine bug must not take the server down
            r.log("alert", f"engine error: {type(exc).__name__}: {exc}")
            if not r.header_sent:
                try:
                    await self.finalize(r, 500)
                except Exception:
                    r.response_done = True
        if not r.logged:
            await self.log_phase(r)
        # the request is over: its Lua state (which refers back to it) goes now, so that
        # the request's objects are freed at once rather than by the cycle collector
        r.ctx.pop("ngx_lua", None)
        if r.cleanups:
            self._run_cleanups(r)
        if stats is not None:
            stats.request_finished(not req.connection)
        if streamed and not keep:
            response = Response(r.out.status, "", [], b"", sent=r.header_sent)
        else:
            out = collector.result() if streamed else collector
            response = Response(out.status, out.reason, out.headers, b"".join(out.chunks),
                                sent=out.headers_sent)
        return Exchange(req, response, tr.events, r.records, started=started,
                        duration_ms=(time.time() - started) * 1000, final_loc=r.loc,
                        final_server=r.server)

    def _run_cleanups(self, r: Request) -> None:
        for fn in r.cleanups or ():
            try:
                fn()
            except Exception as exc:  # a module's bug must not take the server down
                r.log("alert", f"engine error in a cleanup: {type(exc).__name__}: {exc}")
        r.cleanups = None

    def next_connection(self) -> int:
        """nginx's connection counter (``*N`` in the error log): client connections and
        the fake connections ngx_lua makes for timers take their numbers from it."""
        self.connections += 1
        return self.connections

    async def _process(self, r: Request) -> None:
        target = read_target(r)
        if target is None:
            self._refused_line(r)
            self._pick_server(r, None)
            r.log("info", "client sent invalid request" + reading_line(r))
            await self.finalize(r, 400)
            return
        refusal, host_name = check_host(r, target)
        if refusal is not None:
            if refusal.endswith(" request line"):
                self._refused_line(r)
            self._pick_server(r, host_name)
            r.log("info", refusal)
            await self.finalize(r, 400)
            return
        r.host = host_name
        # no Host at all looks for a server named "" (server_name "")
        self._pick_server(r, host_name if host_name is not None else "")
        r.keepalive = r.wants_keepalive()
        if r.plain_on_https:  # ngx_http_process_request, before any phase
            r.log("info", "client sent plain HTTP request to HTTPS port")
            await self.finalize(r, 497)
            return
        await self.run_phases(r, 0)

    @staticmethod
    def _refused_line(r: Request) -> None:
        """The request line parsed but its URI or host did not: nginx had counted only
        that line in ``$request_length`` (ngx_http_process_request_uri runs before any
        header is read)."""
        if r.head_bytes is not None:
            r.head_bytes = r.line_bytes

    def _pick_server(self, r: Request, host: str | None) -> None:
        select_server(self.cfg.addresses, r, host)

    # -- the phase engine ---------------------------------------------------------------

    async def run_phases(self, r: Request, index: int) -> None:
        """Run handlers from ``index`` until one finalizes the request (returns).

        Handlers that cannot act in the request's current block are stepped over
        (:mod:`.plan`); the plan is taken from ``r.loc`` again before every step."""
        r.phase_index = index
        handlers = self.phases.handlers
        core = _CORE_CHECKED
        tracing = r.trace.enabled
        plans = self._plans
        end = self._log_start
        while True:
            plan = plans.get(r.loc) or self.plan(r.loc)
            i = plan.next[r.phase_index]
            if i >= end:
                break
            r.phase_index = i
            ph = handlers[i]
            phase = ph.phase
            if tracing and r.phase_name != phase.label:
                r.trace.phase = r.phase_name = phase.label
            # the core's checkers, their common outcomes without a coroutine each
            if phase == _FIND_CONFIG:
                status = find_config(r)
                if status is None:
                    continue
                await self.finalize(r, status)
                return
            if phase == _POST_REWRITE and not r.uri_changed:
                r.phase_index = i + 1
                continue
            if phase == _POST_ACCESS and "access_code" not in r.ctx:
                r.phase_index = i + 1
                continue
            if phase == _CONTENT and not tracing and r.content_handler is not None:
                await self.finalize(r, await r.content_handler(r))
                return
            if phase not in core and not tracing and r.parent is None:
                # the common case inline: a handler that declines moves on at no cost
                rc = await ph.handler(r)
                if rc == DECLINED:
                    r.phase_index += 1
                    continue
                go_on = await self._after(r, ph, rc)
            else:
                go_on = await self._check(r, ph)
            if not go_on:
                return
        # ran past the content phase: nothing produced a response
        await self.finalize(r, 404)

    async def _check(self, r: Request, ph: Any) -> bool:
        """One step of the phase engine: run a handler with its phase's checker.

        Returns False when the request left the phase engine (finalized or redirected).
        """
        phase = ph.phase
        if phase == Phase.FIND_CONFIG:
            status = find_config(r)
            if status is not None:
                await self.finalize(r, status)
            return status is None
        if phase == Phase.POST_REWRITE:
            return await self._post_rewrite(r)
        if phase == Phase.POST_ACCESS:
            return await self._post_access(r)
        if phase == Phase.CONTENT:
            return await self._content(r)
        if phase == Phase.ACCESS and r.parent is not None:
            r.phase_index = self._index[Phase.POST_ACCESS]
            return True
        return await self._after(r, ph, await self._run_handler(r, ph))

    async def _after(self, r: Request, ph: Any, rc: int) -> bool:
        """The phase checker's verdict on a handler's return code."""
        phase = ph.phase
        if rc == AGAIN:  # the handler moved the phase pointer (internal jump)
            return True
        if rc == DECLINED:
            r.phase_index += 1
            return True
        if phase in (Phase.SERVER_REWRITE, Phase.REWRITE):
            if rc == DONE:
                return False
            await self.finalize(r, rc)
            return False
        if phase == Phase.ACCESS:
            if rc == DONE:
                return False
            satisfy = r.loc.value("satisfy", "all")
            if satisfy == "all":
                if rc == OK:
                    r.phase_index += 1
                    return True
            else:
                if rc == OK:
                    r.ctx.pop("access_code", None)
                    _drop_challenge(r)
                    r.phase_index = self._index[Phase.POST_ACCESS]
                    return True
                if rc in (401, 403):
                    if r.ctx.get("access_code") != 401:
                        r.ctx["access_code"] = rc
                    r.phase_index += 1
                    return True
            await self.finalize(r, rc)
            return False
        # generic checker (post read, preaccess, precontent)
        if rc == OK:
            r.phase_index = self._next_index[phase]
            return True
        if rc == DONE:
            return False
        await self.finalize(r, rc)
        return False

    async def _run_handler(self, r: Request, ph: Any) -> int:
        if not r.trace.enabled or ph.traced:
            return await ph.handler(r)
        t0 = time.perf_counter()
        rc = await ph.handler(r)
        if rc != DECLINED:
            r.trace.add("phase_done", phase=ph.phase.label, handler=ph.name, rc=_rc_name(rc),
                        duration_ms=(time.perf_counter() - t0) * 1000)
        return rc

    async def _post_rewrite(self, r: Request) -> bool:
        if not r.uri_changed:
            r.phase_index += 1
            return True
        r.uri_changes -= 1
        if r.uri_changes == 0:
            r.log("error", f'rewrite or internal redirection cycle while processing "{r.uri}"')
            await self.finalize(r, 500)
            return False
        r.trace.add("hop", hop="rewrite_last", uri=r.uri, args=r.args, ctx_reset=False)
        r.phase_index = self._index[Phase.FIND_CONFIG]
        return True

    async def _post_access(self, r: Request) -> bool:
        code = r.ctx.pop("access_code", 0)
        if code:
            if code == 403:
                r.log("error", "access forbidden by rule")
            await self.finalize(r, code)
            return False
        r.phase_index += 1
        return True

    async def _content(self, r: Request) -> bool:
        handler = getattr(r, "content_handler", None)
        if handler is not None:
            if getattr(handler, "traced", False) or not r.trace.enabled:
                await self.finalize(r, await handler(r))
                return False
            label = getattr(handler, "label", "content")
            t0 = time.perf_counter()
            r.trace.add("phase", phase="content", handler=label)
            rc = await handler(r)
            r.trace.add("phase_done", phase="content", handler=label, rc=_rc_name(rc),
                        duration_ms=(time.perf_counter() - t0) * 1000)
            await self.finalize(r, rc)
            return False
        handlers = self.phases.handlers
        ph = handlers[r.phase_index]
        rc = await self._run_handler(r, ph)
        if rc != DECLINED:
            await self.finalize(r, rc)
            return False
        if r.phase_index + 1 < len(handlers) and handlers[r.phase_index + 1].phase == Phase.CONTENT:
            r.phase_index += 1
            return True
        if r.uri.endswith("/"):
            path = self.services["map_uri_to_path"](r) if "map_uri_to_path" in self.services \
                else r.uri
            if path is not None:
                r.log("error", f'directory index of "{path}" is forbidden')
            await self.finalize(r, 403)
        else:
            r.log("error", "no handler found")
            await self.finalize(r, 404)
        return False

    # -- redirects ----------------------------------------------------------------------

    async def internal_redirect(self, r: Request, uri: str, args: str, hop: str) -> int:
        """nginx's ngx_http_internal_redirect: new URI, module contexts cleared, phases again."""
        r.uri_changes -= 1
        if r.uri_changes == 0:
            r.log("error", f'rewrite or internal redirection cycle while internally '
                           f'redirecting to "{uri}"')
            await self.finalize(r, 500)
            return DONE
        r.set_uri(uri)
        r.args = args
        r.ctx = {k: v for k, v in r.ctx.items() if k.startswith("keep:")}
        r.loc = r.server
        r.internal = True
        r.valid_location = True  # ngx_http_handler
        r.trace.add("hop", hop=hop, uri=uri, args=args, ctx_reset=True)
        update_location_config(r)
        await self.run_phases(r, self._index[Phase.SERVER_REWRITE])
        return DONE

    async def named_location(self, r: Request, name: str, hop: str) -> int:
        loc = r.server.named.get(name)
        if loc is None:
            r.log("error", f'could not find named location "{name}"')
            await self.finalize(r, 500)
            return DONE
        r.uri_changes -= 1
        if r.uri_changes == 0:
            r.log("error", f'rewrite or internal redirection cycle while redirect to named '
                           f'location "{name}"')
            await self.finalize(r, 500)
            return DONE
        r.uri_changed = False
        r.loc = loc
        r.ctx = {k: v for k, v in r.ctx.items() if k.startswith("keep:")}  # as nginx does
        r.trace.add("hop", hop=hop, uri=name, args="", ctx_reset=True)
        r.trace.add("location", location=loc.display(), reason="named location",
                    outcome="named", file=loc.directive.file if loc.directive else "",
                    line=loc.directive.line if loc.directive else 0)
        update_location_config(r)
        await self.run_phases(r, self._index[Phase.REWRITE])
        return DONE

    # -- finalization -------------------------------------------------------------------

    async def finalize(self, r: Request, rc: int) -> None:
        """ngx_http_finalize_request: turn a handler's result into a finished response."""
        if rc == DONE or r.response_done:
            return
        if rc == DECLINED:
            rc = OK
        if rc == ERROR:
            rc = 500
        if rc == 444 or rc == 499:
            r.trace.add("finalize", status=rc, reason="connection closed without response")
            r.status_for_log = rc
            # ngx_http_terminate_request leaves r->keepalive as it was: the access log
            # shows it ($sent_http_connection)
            r.ctx["keep:closed_keepalive"] = r.keepalive
            r.keepalive = False
            r.response_done = True
            return
        if rc >= 300 or rc in (201, 204):
            if r.header_sent:
                r.trace.add("finalize", status=rc, reason="headers already sent")
                await self.output(r, b"", True)
                return
            if r.post_subrequest is not None and r.post_subrequest(r, rc) == OK:
                r.response_done = True  # it took the status over: no error page is sent
                return
            await self.special_response(r, rc)
            return
        if rc >= 200 and not r.header_sent:  # e.g. a handler returned 200 with nothing sent
            r.out.status = rc
            r.out.content_length = 0
            await self.send_header(r)
        if not r.response_done:
            await self.output(r, b"", True)
        if r.trace.enabled:
            r.trace.add("finalize", status=r.out.status, reason="done")

    async def filter_finalize(self, r: Request, status: int) -> None:
        """ngx_http_filter_finalize_request: a header filter gives up the response being
        sent for a special response of ``status`` (its error_page, nginx's page, or an
        empty body for a code that has none: 200, 444...). The output that was on its
        way is dropped, and the connection is closed after it (its header still says
        keep-alive: that was decided first)."""
        r.trace.add("finalize", status=status, reason="a header filter finalized the request")
        await self.special_response(r, status)
        r.response_done = True
        r.main.keepalive = False

    async def special_response(self, r: Request, status: int) -> None:
        """ngx_http_special_response_handler: an error page, or nginx's own (special.py)."""
        await special_response(self, r, status)

    # -- logging ------------------------------------------------------------------------

    def log_request(self, r: Request, level: str, message: str) -> None:
        """A request's line, on the error logs of the main request's location: only
        the main request sets the connection's log (ngx_http_update_location_config),
        so a subrequest writes where its parent's location does."""
        core = r.main.loc.mod.get("core", {}) if r.main.loc else {}
        threshold = core.get("error_log_level")
        if threshold is None:
            threshold = self.error_log.threshold
        action = r.main.log_action
        if action and r.phase_name != "log" and not message.endswith(UPSTREAM_ACTIONS):
            message += f" while {action}"
        kept = LEVEL_NUM.get(level, 4) <= threshold
        if r.trace.enabled:
            r.trace.add("log", level=level, message=message, kept=kept)
        if not kept:
            return
        record = LogRecord(level, time.time(), message, r.conn.number, self.log_context(r))
        r.main.records.append(record)  # type: ignore[attr-defined]
        self.error_log.emit(record, core.get("error_logs"))

    def log_context(self, r: Request) -> str:
        return request_context(r)

    def log_global(self, level: str, message: str, connection: int = 0,
                   context: str = "", block: Block | None = None) -> None:
        """A line with no request (start-up, reload; timers and init_worker_by_lua have
        a connection, and write to the error logs of ``block``: the http block, or the
        location that created the timer)."""
        core = block.mod.get("core", {}) if block is not None else {}
        threshold = core.get("error_log_level")
        if threshold is None:
            threshold = self.error_log.threshold
        if LEVEL_NUM.get(level, 4) <= threshold:
            self.error_log.emit(LogRecord(level, time.time(), message, connection, context),
                                core.get("error_logs"))

    async def log_phase(self, r: Request) -> None:
        await self.log_handlers(r)
        sink = r.sink
        if not sink.finished:
            await sink.finish(r.keepalive and not r.aborted)

    async def log_handlers(self, r: Request) -> None:
        """ngx_http_log_request: the log phase's handlers, for the main request at its end
        and for a subrequest that ``log_subrequest`` logs (http/subrequest.py)."""
        r.logged = True
        r.trace.phase = r.phase_name = "log"
        for ph in (self._plans.get(r.loc) or self.plan(r.loc)).log:
            try:
                await ph.handler(r)
            except Exception as exc:
                r.log("alert", f"log handler {ph.name} failed: {exc}")



def _rc_name(rc: int) -> str:
    return {OK: "OK", DECLINED: "DECLINED", DONE: "DONE", AGAIN: "AGAIN", ERROR: "ERROR"}.get(
        rc, str(rc))


def _drop_challenge(r: Request) -> None:
    """Under ``satisfy any`` a check that passes hides the challenge an earlier refusal
    added (nginx zeroes the hash of ``r->headers_out.www_authenticate``, the last one)."""
    items = r.out.headers.items
    for i in range(len(items) - 1, -1, -1):
        if items[i][0].lower() == "www-authenticate":
            del items[i]
            return
