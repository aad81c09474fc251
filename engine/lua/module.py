"""ngx_http_lua_module: the ``*_by_lua*`` phase handlers and the Lua service behind them.

The module plugs into the core like any other: handlers in the rewrite and access phases
(postponed to the end of their phases, as ngx_lua does, so ``rewrite``/``set`` and
``allow``/``deny`` run first), a content handler, a header filter and a body filter ahead
of the other filters, a log-phase handler ahead of the access log, and ``set_by_lua*``
as a rewrite-script step (what NDK's set_var does). :class:`LuaService` holds the worker
VMs, the shared dicts, the clock and the timers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, DONE, ERROR, OK, HttpModule, Phase
from ..http.request_body import read_request_body
from .balancer import register as register_balancer
from .headers_out import point_location
from .constants import HEADER_FAILED, LAST_LOST, SEEN_LAST
from .handlers import LuaHandler, compile_handler, declare_set_variable, directive_base
from .service import EFFECTIVE_KEY as _EFFECTIVE, LuaService
from .socket_tcp import check_directives as check_socket_directives
from .thread import Outcome

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request
    from .runtime import LuaRequest

#: Directive bases whose handler inner blocks inherit from outer ones (ngx_lua's merge).
_INHERITED = ("server_rewrite_by_lua", "rewrite_by_lua", "access_by_lua", "header_filter_by_lua",
              "body_filter_by_lua", "log_by_lua")
_KEY = "ngx_http_lua_module"
#: ngx.exit codes that, once the header is out, close the connection (checked on the
#: oracle: 200, 201, 3xx, 4xx and 5xx others end the response as sent).
_CLOSE_AFTER_HEADER = frozenset({204, 408, 444, 499})
#: Where the service keeps a request's Lua state in ``r.ctx``.
_LUA_CTX = "ngx_lua"
#: ngx.exit in header_filter_by_lua* replaced the response: the filter is not run again
#: for the replacement (an internal redirect to an error_page clears this, as ctx).
_FILTER_FINALIZED = "lua_filter_finalized"


class LuaModule(HttpModule):
    name = _KEY
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "access_by_lua", "access_by_lua_block", "access_by_lua_file",
        "balancer_by_lua_block", "balancer_by_lua_file",
        "body_filter_by_lua", "body_filter_by_lua_block", "body_filter_by_lua_file",
        "content_by_lua", "content_by_lua_block", "content_by_lua_file",
        "header_filter_by_lua", "header_filter_by_lua_block",
        "header_filter_by_lua_file", "init_by_lua", "init_by_lua_block",
        "init_by_lua_file", "init_worker_by_lua", "init_worker_by_lua_block",
        "init_worker_by_lua_file", "log_by_lua", "log_by_lua_block", "log_by_lua_file",
        "lua_check_client_abort", "lua_code_cache", "lua_max_pending_timers",
        "lua_max_running_timers", "lua_need_request_body", "lua_package_cpath",
        "lua_package_path", "lua_shared_dict", "rewrite_by_lua", "rewrite_by_lua_block",
        "rewrite_by_lua_file", "set_by_lua", "set_by_lua_block", "set_by_lua_file",
        "lua_transform_underscores_in_response_headers", "lua_use_default_type",
        "lua_socket_connect_timeout", "lua_socket_send_timeout", "lua_socket_read_timeout",
        "lua_socket_keepalive_timeout", "lua_socket_pool_size", "lua_socket_log_errors",
        "lua_socket_buffer_size", "lua_socket_send_lowat",
        "server_rewrite_by_lua_block", "server_rewrite_by_lua_file",
        "rewrite_by_lua_no_postpone", "access_by_lua_no_postpone",
    })

    def init(self, engine: HttpEngine) -> None:
        self.engine = engine
        self.service = LuaService(engine)
        #: lua_need_request_body in force, by block.
        self._need_cache: dict[Any, bool] = {}
        engine.services["lua"] = self.service
        register_balancer(engine, self.service)
        phases = engine.phases
        #: rewrite_by_lua_no_postpone / access_by_lua_no_postpone: the handler runs first
        #: in its phase (a module loaded last comes first in nginx's phase engine)
        #: instead of being moved to the end of the phase.
        self.early = {"rewrite": False, "access": False}
        phases.add(Phase.SERVER_REWRITE, "server_rewrite_by_lua", self.server_rewrite,
                   order=-10, traced=True, active=_has("server_rewrite_by_lua"))
        for phase, name, fn in ((Phase.REWRITE, "rewrite", self.rewrite),
                                (Phase.ACCESS, "access", self.access)):
            for early, order in ((True, -10), (False, 900)):
                phases.add(phase, f"{name}_by_lua", fn, order=order, traced=True,
                           active=self._placed(name, early))
        phases.add(Phase.LOG, "log_by_lua", self.log, order=-10, active=_has("log_by_lua"))
        phases.add_header_filter("lua_header_filter", self.header_filter, order=100,
                                 active=_has("header_filter_by_lua"))
        phases.add_body_filter("lua_body_filter", self.body_filter, order=100,
                               active=_has("body_filter_by_lua"))
        rewrite = engine.services.get("rewrite")
        if rewrite is not None:
            for form in ("set_by_lua", "set_by_lua_block", "set_by_lua_file"):
                rewrite.register_script(form, self._compile_set)

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            for d in block.items:
                if d.name.startswith("set_by_lua") and d.args:
                    declare_set_variable(engine, d)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        _check_ssl_phases(cfg)
        self.service.configure(cfg)
        if cfg.http is not None:
            for name in self.early:
                self.early[name] = cfg.http.flag(f"{name}_by_lua_no_postpone", False)
        check_socket_directives(cfg.blocks)
        for block in cfg.blocks:
            handlers: dict[str, LuaHandler] = {}
            for d in block.items:
                base = directive_base(d.name)
                if base is None or base == "set_by_lua" or base.startswith(("init", "exit")):
                    continue
                if base in handlers:
                    raise ConfigError(f'"{d.name}" directive is duplicate', d.file, d.line)
                handlers[base] = compile_handler(engine, d)
            block.mod[_KEY] = handlers
            # what applies here: inherited handlers of outer blocks, then this block's own
            outer = block.parent.mod.get(_EFFECTIVE, {}) if block.parent is not None else {}
            effective = {k: v for k, v in outer.items()
                         if k in _INHERITED or (k == "content_by_lua"
                                                and block.kind in ("if", "limit_except"))}
            effective.update(handlers)
            block.mod[_EFFECTIVE] = effective
            content = handlers.get("content_by_lua")
            if content is not None and not _handler_after(block, content.directive):
                block.mod["content_handler"] = self._content_for(content)
            elif block.kind in ("if", "limit_except") and block.parent is not None:
                # ngx_lua's merge gives an "if" block its location's content handler
                inherited = block.parent.mod.get(_EFFECTIVE, {}).get("content_by_lua")
                if inherited is not None and "content_handler" not in block.mod:
                    block.mod["content_handler"] = block.parent.mod["content_handler"]
            if block.own.get("lua_need_request_body"):
                block.mod["lua_need_body"] = block.flag("lua_need_request_body", False)
        self.service.compile_init(cfg)

    async def start(self, engine: HttpEngine) -> None:
        await self.service.start()

    async def stop(self, engine: HttpEngine, graceful: bool) -> None:
        await self.service.stop(graceful)

    # -- handler lookup ------------------------------------------------------------------

    def _placed(self, name: str, early: bool) -> Callable[[Any], bool]:
        """``active`` for the early or the postponed registration of a phase's handler."""
        has = _has(f"{name}_by_lua")
        return lambda block: self.early[name] is early and has(block)

    def _handler(self, r: Request, base: str) -> LuaHandler | None:
        effective = r.loc.mod.get(_EFFECTIVE)
        return effective.get(base) if effective else None

    def _need_body(self, r: Request) -> None:
        loc = r.loc
        need = self._need_cache.get(loc)
        if need is None:
            need = self._need_cache[loc] = next(
                (b.mod["lua_need_body"] for b in loc.ancestors() if "lua_need_body" in b.mod),
                False)
        if need:
            read_request_body(r, "lua_need_request_body", persistent=True)

    # -- rewrite, access, content ----------------------------------------------------------

    async def server_rewrite(self, r: Request) -> int:
        handler = self._handler(r, "server_rewrite_by_lua")
        if handler is None:
            return DECLINED
        outcome = await self.service.run_entry(r, "server_rewrite", handler)
        return await self._after(r, outcome, "server_rewrite")

    async def rewrite(self, r: Request) -> int:
        handler = self._handler(r, "rewrite_by_lua")
        if handler is None or r.uri_changed:
            return DECLINED
        self._need_body(r)
        outcome = await self.service.run_entry(r, "rewrite", handler)
        return await self._after(r, outcome, "rewrite")

    async def access(self, r: Request) -> int:
        handler = self._handler(r, "access_by_lua")
        if handler is None:
            return DECLINED
        self._need_body(r)
        outcome = await self.service.run_entry(r, "access", handler)
        return await self._after(r, outcome, "access")

    def _content_for(self, handler: LuaHandler) -> Callable[[Request], Awaitable[int]]:
        async def content(r: Request) -> int:
            self._need_body(r)
            outcome = await self.service.run_entry(r, "content", handler)
            return await self._after(r, outcome, "content")
        content.label = handler.label  # type: ignore[attr-defined]
        content.traced = True  # type: ignore[attr-defined]
        return content

    async def _after(self, r: Request, outcome: Outcome, phase: str) -> int:
        """Turn how the entry thread ended into the phase handler's return code."""
        service = self.service
        lr = service.lua_request(r)
        kind = outcome.kind
        if kind == "error":
            if r.header_sent or lr.state[b"headers_sent"]:
                await _close(r)
                return DONE
            lr.http10 = None  # held HTTP/1.0 output goes: the error's page replaces it
            return outcome.status
        if kind == "jump":
            # ngx_lua re-initialises its request ctx on a set_uri jump: ngx.ctx is gone
            # and the new location's rewrite_by_lua* starts afresh
            r.ctx.pop(_LUA_CTX, None)
            return DECLINED
        if kind == "exec":
            uri, args = outcome.values  # ngx.exec split and decoded them already
            if uri.startswith("@"):
                if args:
                    r.log("warn", f"query strings {args} ignored when exec'ing named "
                                  f"location {uri}")
                r.ctx.pop(_LUA_CTX, None)  # ngx_lua drops its ctx on every ngx.exec
                return await r.engine.named_location(r, uri, "exec")
            r.has_args = args is not None  # "/x?" gives an empty $args, "/x" none
            return await r.engine.internal_redirect(r, uri, args or "", "exec")
        if kind == "redirect":
            uri, status = outcome.values
            r.out.headers.add("Location", uri)  # (a Lua-set location line stays)
            point_location(r)
            r.out.status = status  # (as ngx_lua sets it: what a capture of it reports)
            r.trace.add("hop", hop="redirect", uri=uri, status=status, ctx_reset=False)
            if lr.http10 is not None:  # held HTTP/1.0 output goes out under that header
                await service.finish_output(lr)
                await r.engine.output(r, b"", True)
                return DONE
            return status
        if kind == "exit":
            code = outcome.values[0]
            # NGX_ERROR, and codes nginx's finalize takes for neither a phase result nor
            # a response (1..199; NGX_DECLINED after the content phase began): the
            # connection is closed without a response
            if code == ERROR:  # the connection is closed; $status stays what was sent
                await _close(r)
                return DONE
            if 0 < code < 200 or (code == DECLINED and phase == "content"):
                r.keepalive = False
                return 444
            if lr.eof:
                return DONE
            if lr.http10 is not None and code not in (408, 444, 499):
                # output held for HTTP/1.0 (lua_http10_buffering): no header went out,
                # and ngx_lua ends the response with that output as it stands
                await service.finish_output(lr)
                await r.engine.output(r, b"", True)
                return DONE
            if r.header_sent and code in _CLOSE_AFTER_HEADER and not r.header_only:
                # nginx finalizes these by closing the connection (204: its special
                # response cannot send a second header): the output is never flushed
                r.engine.abort(r)
                return DONE
            if r.header_sent and code != OK:  # the response is under way: finish it
                await r.engine.output(r, b"", True)
                return DONE
            if code == OK:
                if phase == "content":
                    await service.finish_output(lr)  # (HTTP/1.0: held output, its length)
                    return OK
                return await self._phase_end(r, lr, phase)
            if 200 <= code < 300 and code != 204:
                if not r.out.status:
                    r.out.status = code
                await service.finish_output(lr)
                await r.engine.output(r, b"", True)
                return DONE
            if not r.header_sent and not r.out.status:  # an "error_page =" target reads it
                r.out.status = code
            return code
        # the handler returned normally
        if lr.eof:
            return DONE
        if phase != "content":
            return await self._phase_end(r, lr, phase)
        await service.finish_output(lr)
        return OK

    async def _phase_end(self, r: Request, lr: LuaRequest, phase: str) -> int:
        """A rewrite/access handler that ended (or ngx.exit(ngx.OK)) goes on to the next
        phases, unless it sent the header: later phases could answer again, so ngx_lua
        ends the response there. Access returns NGX_OK, which ``satisfy any`` takes as
        access granted."""
        if r.header_sent or lr.state[b"headers_sent"]:
            await self.service.send_headers(lr)
            await r.engine.output(r, b"", True)
            return DONE
        return OK if phase == "access" else DECLINED

    # -- filters and log -----------------------------------------------------------------

    async def header_filter(self, r: Request) -> bool:
        handler = self._handler(r, "header_filter_by_lua")
        if handler is None or r.ctx.get(_FILTER_FINALIZED):
            return True  # (the response that replaced ours goes through the chain again)
        rc = await self.service.run_sync(r, "header_filter", handler)
        if rc == ERROR:  # the header filter fails: nginx closes the connection
            lr = r.ctx.get(_LUA_CTX)
            if lr is not None:
                lr.output_failed = True  # the ngx.say or ngx.eof that sent it gets nil
            if lr is not None and lr.sending_header:
                r.ctx[HEADER_FAILED] = True
                if r.method != "HEAD":
                    # the handler goes on, and its later output (the last buffer too)
                    # still meets the body filters
                    r.main.aborted = True
                    r.main.keepalive = False
                    return False
            r.engine.abort(r)
            return False
        if rc > OK:  # ngx.exit(status): nginx's filter finalization with that status
            r.ctx[_FILTER_FINALIZED] = True
            await r.engine.filter_finalize(r, rc)
            return False
        return True

    async def body_filter(self, r: Request, data: bytes,
                          last: bool) -> tuple[bytes, bool] | None:
        handler = self._handler(r, "body_filter_by_lua")
        if handler is None or r.header_only:  # nginx sends no body for these: no filter
            return data, last
        seen = r.ctx.get(SEEN_LAST)
        if seen:  # the filter ended the body: later output is dropped
            # ngx_lua 0.10.23 sets its body-filter context for this output and does not
            # set it back when no buffer is left: the Lua code that printed it now finds
            # its next ngx.say/ngx.flush "disabled in the context of body_filter_by_lua*"
            lr = r.ctx.get(_LUA_CTX)
            if lr is not None:
                lr.worker.set_context(lr.state, b"body_filter")
            if last and seen == LAST_LOST:  # no buffer carried the end: it never comes
                r.engine.abort(r)
                return None
            return b"", last
        result = await self.service.run_body_filter(r, handler, data, last)
        if result is None:
            # NGX_ERROR: this output goes no further and the connection will be closed,
            # but the handler goes on (its ngx.say gets nil) and each later output, the
            # last one too, runs the filter again
            _output_failed(r)
            r.main.aborted = True
            r.main.keepalive = False
            return None
        out, eof = result
        if last and not eof:  # the last buffer lost its flag: the response never ends
            r.engine.abort(r)
            return b"", True
        if eof and not last:
            r.ctx[SEEN_LAST] = True
        return out, eof

    async def log(self, r: Request) -> int:
        handler = self._handler(r, "log_by_lua")
        if handler is not None:
            await self.service.run_sync(r, "log", handler)
        return OK

    # -- set_by_lua* as a rewrite-script step ----------------------------------------------

    def _compile_set(self, engine: HttpEngine, d: Any) -> Callable[[Request], Awaitable[int | None]]:
        handler = compile_handler(engine, d)

        async def step(r: Request) -> int | None:
            values = [cv.evaluate(r) for cv in handler.args or []]
            result = await self.service.run_set(r, handler, values)
            if result is None:
                return 500
            assert handler.variable is not None
            r.engine_vars.set(r, handler.variable, result)
            r.trace.add("script", op="set", variable=f"${handler.variable}", value=result,
                        handler=handler.label, file=d.file, line=d.line)
            return None
        return step


#: Directives that, like content_by_lua*, make their module the location's content
#: handler (each sets clcf->handler, so the last one in the block wins).
_HANDLER_DIRECTIVES = frozenset({
    "proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass",
    "empty_gif", "stub_status", "flv", "mp4"})


def _handler_after(block: Any, d: Any) -> bool:
    """Another module's content handler comes from a directive after ``d`` in the block."""
    if "content_handler" not in block.mod:
        return False
    items = block.items
    later = items[next(i for i, x in enumerate(items) if x is d) + 1:]
    return any(x.name in _HANDLER_DIRECTIVES for x in later)


async def _close(r: Request) -> None:
    """NGX_ERROR from a handler: the connection is closed and the output it holds is
    lost, except a HEAD's header, which went out with its last buffer."""
    if r.header_only and r.header_sent:
        r.keepalive = False
        await r.engine.output(r, b"", True)
    else:
        r.engine.abort(r)


def _output_failed(r: Request) -> None:
    """A Lua filter returned NGX_ERROR: the ngx.say/ngx.print whose output it was
    returns nil and "nginx output filter error"."""
    lr = r.ctx.get(_LUA_CTX)
    if lr is not None:
        lr.output_failed = True


def _has(base: str) -> Callable[[Any], bool]:
    """``active`` for a phase handler or filter: the block has (or inherits) ``base``."""
    def active(block: Any) -> bool:
        return bool((block.mod.get(_EFFECTIVE) or {}).get(base))
    return active


_SSL_PHASES = tuple(f"{phase}_by_lua{form}" for phase in ("ssl_certificate", "ssl_client_hello")
                    for form in ("", "_block", "_file"))


def _check_ssl_phases(cfg: HttpConfig) -> None:
    """ngx_lua's server merge: an ssl_certificate/ssl_client_hello handler needs the
    server's ssl context, which only a certificate or ``ssl_reject_handshake on``
    creates (nginx reports it without a line)."""
    for block in cfg.blocks:
        if block.kind != "server" or not any(
                block.own.get(n) or (cfg.http and cfg.http.own.get(n)) for n in _SSL_PHASES):
            continue
        if not (block.get("ssl_certificate") or block.flag("ssl_reject_handshake", False)):
            raise ConfigError("no ssl configured for the server")
