"""ngx_http_proxy_module: ``proxy_pass`` as a location's content handler.

What nginx does for a proxied request, in its order:

1. find the target: a group (``upstream`` block or the implicit group of ``host:port``),
   or, when the URL has variables, evaluate it now (a group name, an IP literal, or a
   name for the ``resolver``; without one nginx answers 502 ``no resolver defined``);
2. build the request (``create_request``): method, the URI by nginx's rules (below),
   ``HTTP/1.0`` unless ``proxy_http_version 1.1``, the ``proxy_set_header`` list with
   nginx's defaults behind it, then the client's headers not named there, then the body;
3. ask the balancer for a peer and try it; on an error or timeout, or a status listed in
   ``proxy_next_upstream``, mark it and try the next while tries remain (never after a
   non-idempotent request was sent, unless ``non_idempotent``); log as nginx does;
4. pass the response on: the upstream's status line, its headers minus the hidden ones
   (``Date``, ``Server``, ``X-Pad``, ``X-Accel-*``), ``Location`` rewritten by
   ``proxy_redirect``, and the body through the engine's filter chains (so
   ``add_header``, Lua header/body filters and chunking apply) — or, with
   ``proxy_intercept_errors`` and an ``error_page`` for the status, nginx's error page.

The URI: a ``proxy_pass`` with a URI part replaces the matched location prefix with it
(``location /a/ { proxy_pass http://b/x/; }``: ``/a/1`` → ``/x/1``); without one the
client's URI goes as it came, unless rewrite changed it, then the new ``$uri`` goes
(escaped); after ``rewrite ... break`` the URI part is dropped and the whole new URI goes;
with variables the URI part is used as written.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..http.location import LocationConf, build_location_tree
from ..http.phases import DECLINED, DONE, HttpModule, Phase
from ..http.request_body import discarded, read_request_body
from ..http.uri import InvalidURI, parse_target
from .proxy_cookie import check_directives
from .proxy_conf import ProxyConf, check_block, compile_conf, compile_target, escape_uri, \
    pass_directive, proxy_vars
from .proxy_transport import READING_BODY, READING_HEADER, SENDING_TO_CLIENT, AttemptFailure, \
    HttpxEdge, Timeouts, UpstreamRequest, UpstreamResponse, open_in_process, serves_itself, \
    wire_length
from .upstream import Peer, PeerList, UpstreamGroup, UpstreamInfo, UpstreamState, \
    Upstreams, URLError, literal_ip, may_retry, next_upstream, parse_url, peer_name, \
    upstream_states
from .upstream_balancers import PeerSelection, chooser_for, no_peer
from .upstream_http import open_http
from .upstream_response import accel_headers, accel_redirect, buffering_for, copy_headers, \
    find_header, has_error_page, override_charset

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

KEY = "ngx_http_proxy_module"
#: The directives (and how many of their arguments) that name charsets.
_CHARSET_NAMES = (("charset", 1), ("source_charset", 1), ("charset_map", 2))
#: proxy_next_upstream http_XXX: the status nginx answers when it gives up on them.
_NEXT_STATUS = {500: "http_500", 502: "http_502", 503: "http_503", 504: "http_504",
                403: "http_403", 404: "http_404", 429: "http_429"}


@dataclass
class ProxyCtx:
    """The request's proxy variables (nginx's ``ctx->vars``), for ``$proxy_host``..."""

    schema: str
    host_header: str
    port: str
    uri: str
    body_length: int | None = None


class ProxyModule(HttpModule):
    name = KEY
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "proxy_connect_timeout", "proxy_cookie_domain", "proxy_cookie_path", "proxy_hide_header", "proxy_http_version",
        "proxy_ignore_headers", "proxy_intercept_errors", "proxy_next_upstream",
        "proxy_next_upstream_timeout", "proxy_next_upstream_tries", "proxy_pass",
        "proxy_pass_header", "proxy_pass_request_body", "proxy_pass_request_headers",
        "proxy_read_timeout", "proxy_redirect", "proxy_send_timeout", "proxy_set_header",
    })

    def __init__(self) -> None:
        self.edge = HttpxEdge()
        #: In-process backend requests still running after their front gave up on them.
        self.tasks: set[asyncio.Task] = set()  # type: ignore[type-arg]
        #: In-process hops in flight: each holds two of nginx's connections (the
        #: upstream one and the accepted one), which is what stops a proxy loop.
        self.hops = 0
        self.worker_connections = 512
        self.listeners = 1
        #: Some block has proxy_pass (else nothing reads what the phase handlers keep).
        self.used = False
        #: The charsets the configuration names, lowercase (what X-Accel-Charset may say).
        self.charsets: frozenset[str] = frozenset()

    # -- configuration ---------------------------------------------------------------------

    def init(self, engine: HttpEngine) -> None:
        add = engine.variables.add
        add("proxy_host", lambda r: _ctx_attr(r, "host_header"))
        add("proxy_port", lambda r: _ctx_attr(r, "port"))
        add("proxy_internal_body_length", _body_length)
        add("proxy_internal_chunked", lambda r: None)
        # Where the request started, and the URI when its location was chosen: nginx's
        # r->valid_unparsed_uri and r->valid_location, which decide the URI sent upstream.
        engine.phases.add(Phase.POST_READ, "proxy", _remember_request, order=-100,
                          active=lambda block: self.used)
        engine.phases.add(Phase.REWRITE, "proxy", _remember_location, order=-100,
                          active=lambda block: self.used)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        ups: Upstreams = engine.services["upstream"]
        wc = cfg.events.value("worker_connections") if cfg.events is not None else None
        self.worker_connections = int(wc) if wc and wc.isdigit() else 512
        self.listeners = max(1, len(cfg.addresses))
        targets: dict[int, tuple[Any, Any, str]] = {}
        self.charsets = frozenset(
            a.lower() for block in cfg.blocks for name, count in _CHARSET_NAMES
            for d in block.own.get(name) or () for a in d.args[:count] if a != "off")
        rebuild: list[LocationConf] = []
        for block in cfg.blocks:
            check_directives(block, "proxy_cookie_domain")
            check_directives(block, "proxy_cookie_path")
            check_block(engine, block)
            found = pass_directive(block)
            if found is None:
                continue
            d, declaring = found
            self.used = True
            if id(d) not in targets:
                targets[id(d)] = compile_target(engine, ups, d, declaring)
                if isinstance(declaring, LocationConf) and declaring.kind == "location" \
                        and declaring.name.endswith("/") and not declaring.auto_redirect:
                    declaring.auto_redirect = True
                    parent = declaring.parent
                    if isinstance(parent, LocationConf) and parent not in rebuild:
                        rebuild.append(parent)
            target, url_value, location = targets[id(d)]
            conf = compile_conf(engine, block, d, target, url_value, location)
            block.mod[KEY] = conf
            if "content_handler" not in block.mod:
                block.mod["content_handler"] = self._handler_for(conf)
        for parent in rebuild:
            # The location tree was built before modules configured; build this level
            # again so "/x" answers 301 to "/x/" (nginx's clcf->auto_redirect).
            parent.named = {}
            parent.regex_locations = []
            build_location_tree(parent, parent.nested)

    def _handler_for(self, conf: ProxyConf) -> Callable[[Request], Awaitable[int]]:
        async def proxy_pass(r: Request) -> int:
            return await self.handle(r, r.loc.mod.get(KEY) or conf)
        proxy_pass.label = f"proxy_pass {conf.directive.args[0]}"  # type: ignore[attr-defined]
        return proxy_pass

    async def stop(self, engine: HttpEngine, graceful: bool) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.edge.close()

    # -- the handler -----------------------------------------------------------------------

    async def handle(self, r: Request, conf: ProxyConf) -> int:
        read_request_body(r, "proxy_pass")  # the whole body, before connecting
        found = await self._target(r, conf)
        if isinstance(found, int):
            return found
        group, ctx, ssl = found
        r.ctx["proxy"] = ctx
        cache = self._cache(r, conf, ctx)
        try:
            if cache is not None and (rc := await cache.open(r)) is not None:
                return rc
            ureq = self._create_request(r, conf, ctx, ssl)
            return await self._run(r, conf, group, ctx, ureq)
        finally:
            r.main.log_action = SENDING_TO_CLIENT  # ngx_http_upstream_finalize_request
            if cache is not None:
                cache.finish()

    def _cache(self, r: Request, conf: ProxyConf, ctx: ProxyCtx) -> Any:
        """The proxy_cache module's CacheRun for this request (see proxy_cache.py), or None."""
        begin = r.engine.services.get("proxy_cache")
        if begin is None:
            return None
        return begin(r, ctx.schema + ctx.host_header + self._uri(r, conf, ctx),
                     lambda headers: copy_headers(r, conf, headers))

    async def _target(self, r: Request, conf: ProxyConf
                      ) -> int | tuple[UpstreamGroup, ProxyCtx, bool]:
        t = conf.target
        if t is not None:
            return t.group, ProxyCtx(t.schema, t.host_header, t.port, t.uri), t.ssl
        assert conf.url_value is not None
        text = conf.url_value.evaluate(r)
        low = text[:8].lower()
        if len(text) > 7 and low.startswith("http://"):
            schema, default_port, ssl = text[:7], 80, False
        elif len(text) > 8 and low.startswith("https://"):
            schema, default_port, ssl = text[:8], 443, True
        else:
            r.log("error", f'invalid URL prefix in "{text}"')
            return 500
        try:
            url = parse_url(text[len(schema):], default_port, uri_part=True)
        except URLError as exc:
            r.log("error", f'{exc} in upstream "{text[len(schema):]}"')
            return 500
        uri = "/" + url.uri if url.uri.startswith("?") else url.uri
        host_header, port = proxy_vars(url, default_port)
        ctx = ProxyCtx(schema, host_header, port, uri)
        ups: Upstreams = r.engine.services["upstream"]
        group = ups.find_runtime(url.host, url.port, url.no_port)
        if group is None:
            group = await self._resolve(r, url.host, url.port, url.unix)
            if isinstance(group, int):
                return group
        return group, ctx, ssl

    async def _resolve(self, r: Request, host: str, port: int,
                       unix: bool) -> UpstreamGroup | int:
        """A group for one request (ngx_http_upstream_create_round_robin_peer)."""
        if unix:
            peers = [Peer(f"unix:{host}", host, 0, host, unix=True)]
        elif (ip := literal_ip(host)) is not None:
            peers = [Peer(peer_name(ip, port), ip, port, host)]
        elif r.loc.first("resolver") is None:
            r.log("error", f"no resolver defined to resolve {host}")
            return 502
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port)
            except (OSError, UnicodeError):
                r.log("error", f"{host} could not be resolved (3: Host not found)")
                return 502
            addrs = list(dict.fromkeys(i[4][0] for i in infos))
            peers = [Peer(peer_name(a, port), a, port, host) for a in addrs]
        return UpstreamGroup(host, PeerList(host, peers, single=len(peers) == 1), True, None)

    def _create_request(self, r: Request, conf: ProxyConf, ctx: ProxyCtx,
                        ssl: bool) -> UpstreamRequest:
        """ngx_http_proxy_create_request."""
        cache = r.ctx.get("proxy_cache")
        method = conf.method.evaluate(r) if conf.method is not None else r.method
        if cache is not None and cache.method:
            method = cache.method  # proxy_cache_convert_head
        body: bytes | None = None
        if conf.set_body is not None:
            body = conf.set_body.evaluate(r).encode("utf-8", "surrogateescape")
            ctx.body_length = len(body)
        else:
            cl = r.headers_in.get("content-length")
            if cl is not None and cl.strip().isdigit():
                # a discarded body's length is 0 (until Lua sets a new body)
                gone = discarded(r) and r.main.body is None
                ctx.body_length = 0 if gone else int(cl.strip())
            elif "chunked" in (r.headers_in.get("transfer-encoding") or "").lower():
                # the whole body was read (or discarded): nginx sends its length, 0 included
                ctx.body_length = len(r.body or b"")
            if conf.pass_request_body and r.body:
                body = r.body
        headers: list[tuple[str, str]] = []
        pairs, names = (cache.request_headers() if cache is not None else None) or \
            (conf.headers, conf.header_names)
        for name, cv in pairs:
            value = cv.evaluate(r)
            if value:
                headers.append((name, value))
        if conf.pass_request_headers:
            for name, value in r.headers_in:
                if name.lower() not in names:
                    headers.append((name, value))
        return UpstreamRequest(method, self._uri(r, conf, ctx), conf.http_version, headers,
                               body, ssl)

    def _uri(self, r: Request, conf: ProxyConf, ctx: ProxyCtx) -> str:
        if conf.target is None and ctx.uri:
            return ctx.uri
        orig = r.ctx.get("keep:proxy_orig")
        unchanged = orig == (r.uri, r.args)
        if not ctx.uri and unchanged and not r.internal:
            return _unparsed(r.main.unparsed_uri)
        valid_location = r.ctx.get("proxy:loc_uri", r.uri) == r.uri
        loc_len = len(conf.location) if valid_location and ctx.uri else 0
        rest = r.uri[loc_len:] if r.uri.startswith(conf.location[:loc_len]) else r.uri
        path = r.main.unparsed_uri.split("?", 1)[0]
        if "%" in path or r.internal or not unchanged:
            rest = escape_uri(rest)
        uri = (ctx.uri if valid_location else "") + rest
        return uri + ("?" + r.args if r.args else "")

    # -- attempts --------------------------------------------------------------------------

    async def _run(self, r: Request, conf: ProxyConf, group: UpstreamGroup, ctx: ProxyCtx,
                   ureq: UpstreamRequest) -> int:
        states = upstream_states(r)
        if states:
            states.append(None)  # " : " between this request's upstreams
        sel = PeerSelection(group, r.conn.client_addr, chooser_for(r.engine, group), r)
        sel.max_tries = conf.next_upstream_tries
        if conf.next_upstream_tries and sel.tries > conf.next_upstream_tries:
            sel.tries = conf.next_upstream_tries
        started = time.monotonic()
        # (the balancer may change them for the rest of the request: set_timeouts)
        timeouts = sel.timeouts = Timeouts(conf.connect_timeout, conf.send_timeout,
                                           conf.read_timeout)
        attempt = 0
        while True:
            attempt += 1
            state = UpstreamState(None)
            states.append(state)
            t0 = time.monotonic()
            peer = await sel.choose()
            if isinstance(peer, int):  # the balancer failed (balancer_by_lua*)
                no_peer(states, state)
                return peer
            if peer is None:
                state.peer = group.name
                state.status = 502
                state.response_time = 0.0
                r.upstream_name = f"{ctx.schema}{group.name}{ureq.target}"  # type: ignore[attr-defined]
                r.trace.add("upstream", upstream=group.name, peer=None, attempt=attempt,
                            reason="no live upstreams: every peer is down, busy, already "
                                   "tried or failed within fail_timeout")
                r.log("error", "no live upstreams while connecting to upstream")
                return await self._stale(r, "noliv", 502)
            state.peer = peer.name
            r.upstream = None  # ngx_http_upstream_reinit: a new peer's headers_in
            sep = ":" if peer.unix else ""
            r.upstream_name = f"{ctx.schema}{peer.name}{sep}{ureq.target}"  # type: ignore[attr-defined]
            in_process = serves_itself(r.engine, peer)
            r.trace.add("upstream", upstream=group.name, peer=peer.name, reason=sel.reason,
                        attempt=attempt, tries_left=sel.tries,
                        via="in-process (this engine listens there)" if in_process
                        else "httpx" if peer.unix or ureq.ssl else "tcp")
            if in_process and self.listeners + 1 + 2 * self.hops + 1 > self.worker_connections:
                sel.free(failed=False)
                state.response_time = 0.0
                r.log("alert", f"{self.worker_connections} worker_connections are not "
                               f"enough while connecting to upstream")
                return 500
            r.engine.next_connection()  # the connection to the peer takes a number too
            try:
                if in_process:
                    self.hops += 1
                    try:
                        resp = await open_in_process(r.engine, peer, ureq, timeouts,
                                                     self.tasks)
                    finally:
                        self.hops -= 1
                elif peer.unix or ureq.ssl:
                    resp = await self.edge.open(peer, ureq, timeouts)
                else:  # nginx's own bytes on the wire: see upstream_http
                    resp = await open_http(peer, ureq, timeouts)
            except AttemptFailure as f:
                state.response_time = time.monotonic() - t0
                if f.request_sent:  # ngx_http_upstream_next counts what the peer was sent
                    state.bytes_sent = wire_length(ureq)
                if f.headers:
                    r.upstream = UpstreamInfo(list(f.headers))
                if f.kind != "timeout":
                    r.log(f.level, f"{f.message} while {f.action}")
                r.trace.add("upstream_response", peer=peer.name, error=f.message,
                            action=f.action)
                rc = self._next(r, conf, sel, state, f.kind, 504 if f.kind == "timeout"
                                else 502, f.request_sent, started, f.action)
                if rc is None:
                    continue
                return await self._stale(r, f.kind, rc)
            state.status = resp.status
            state.connect_time = 0.0
            state.header_time = time.monotonic() - t0
            # nginx counts what it sent when the upstream request ends, what it read as
            # it reads
            resp.extra["bytes_sent"] = wire_length(ureq)
            state.bytes_received = len(f"HTTP/1.1 {resp.status_line}\r\n\r\n") + sum(
                len(k) + len(v) + 4 for k, v in resp.headers)
            if state.bytes_received > conf.buffer_size:
                # the whole header must fit in proxy_buffer_size
                await resp.close()
                state.response_time = time.monotonic() - t0
                r.log("error", f"upstream sent too big header while {READING_HEADER}")
                r.trace.add("upstream_response", peer=peer.name, error="too big header",
                            action=READING_HEADER)
                rc = self._next(r, conf, sel, state, "invalid_header", 502, True, started,
                                READING_HEADER)
                if rc is None:
                    continue
                return await self._stale(r, "invalid_header", rc)
            ft = _NEXT_STATUS.get(resp.status)
            if ft is not None and sel.tries > 1 and \
                    self._may_retry(r, conf, ft, True, started):
                await resp.close()
                state.response_time = time.monotonic() - t0
                state.bytes_sent = resp.extra["bytes_sent"]
                r.upstream = UpstreamInfo(list(resp.headers))  # kept if no peer is left
                r.trace.add("upstream_response", peer=peer.name, status=resp.status,
                            verdict=f"proxy_next_upstream {ft}: try the next peer")
                self._next(r, conf, sel, state, ft, resp.status, True, started,
                           "reading response header from upstream")
                continue
            cache = r.ctx.get("proxy_cache")
            if cache is not None and ((ft is not None and cache.use_stale(ft))
                                      or cache.revalidates(resp.status)):
                await resp.close()
                self._done(r, sel, state, t0, resp)
                if resp.status == 304:
                    return await cache.revalidated(r, resp.headers)
                return await self._stale(r, ft or "", resp.status)
            return await self._respond(r, conf, sel, state, resp, t0)

    async def _stale(self, r: Request, ft: str, status: int) -> int:
        """proxy_cache_use_stale: an expired cached response instead of the failure."""
        cache = r.ctx.get("proxy_cache")
        if cache is not None and cache.use_stale(ft):
            return await cache.send(r, cache.entry, "STALE", f"proxy_cache_use_stale {ft}")
        return status

    @staticmethod
    def _may_retry(r: Request, conf: ProxyConf, ft: str, request_sent: bool,
                   started: float) -> bool:
        return may_retry(r, conf.next_upstream, conf.next_upstream_timeout, ft,
                         request_sent, started)

    def _next(self, r: Request, conf: ProxyConf, sel: PeerSelection, state: UpstreamState,
              ft: str, status: int, request_sent: bool, started: float,
              action: str) -> int | None:
        return next_upstream(r, sel, state, ft, status, action,
                             self._may_retry(r, conf, ft, request_sent, started))

    # -- the response ------------------------------------------------------------------------

    async def _respond(self, r: Request, conf: ProxyConf, sel: PeerSelection,
                       state: UpstreamState, resp: UpstreamResponse, t0: float) -> int:
        r.upstream = UpstreamInfo(list(resp.headers))
        status = resp.status
        charset = accel_headers(r, conf.ignore_headers, resp.headers)
        if status >= 300 and conf.intercept_errors and has_error_page(r, status):
            await resp.close()
            self._done(r, sel, state, t0, resp)
            r.trace.add("upstream_response", peer=state.peer, status=status,
                        verdict="proxy_intercept_errors: error_page takes over")
            if status == 401:
                auth = find_header(resp.headers, "www-authenticate")
                if auth is not None:
                    r.out.headers.add("WWW-Authenticate", auth)
            return status
        redirect = find_header(resp.headers, "x-accel-redirect")
        if redirect and "x-accel-redirect" not in conf.ignore_headers:
            await resp.close()
            self._done(r, sel, state, t0, resp)
            r.trace.add("upstream_response", peer=state.peer, status=status,
                        verdict=f"X-Accel-Redirect to {redirect}")
            return await accel_redirect(r, redirect, resp.headers, conf)
        cache = r.ctx.get("proxy_cache")
        if cache is not None:
            cache.response(r, status, resp.headers)  # copies the headers too
        else:
            copy_headers(r, conf, resp.headers)
        if charset is not None:
            override_charset(r, charset, self.charsets)
        # nginx's "r->disable_not_modified = !u->cacheable": an ETag or Last-Modified
        # passed through gives no 304/412 unless the cache may store the response
        r.ctx["disable_not_modified"] = cache is None or not cache.cacheable
        r.out.status = status
        r.out.status_line = resp.status_line
        r.trace.add("upstream_response", peer=state.peer, status=status,
                    verdict="passed to the client")
        r.main.log_action = READING_HEADER  # the header filters run while it is read
        await r.engine.send_header(r)
        r.main.log_action = SENDING_TO_CLIENT
        expected = r.out.content_length
        received = 0
        # a HEAD converted to GET for the cache reads the body into the cache only
        storing = cache is not None and cache.new is not None
        no_body = (r.method == "HEAD" and not storing) or status in (204, 304) or status < 200
        # With buffering, nginx passes the body on in whole buffers (the first one shares
        # proxy_buffer_size with the header) and at the end; what waits in a partly
        # filled buffer is lost when the upstream fails. Without, each piece goes at once.
        buffering = buffering_for(conf, resp.headers)
        boundary = conf.buffer_size - state.bytes_received if buffering else 0
        held: list[bytes] = []
        while not no_body:
            try:
                chunk = await resp.read(sel.timeouts.read)
            except AttemptFailure as f:
                message = f.message
                if buffering and message.startswith("recv() "):
                    message = "readv() " + message[7:]  # ngx_readv_chain
                r.log("error", f"{message} while {READING_BODY}")
                if held and message.startswith("upstream prematurely closed"):
                    await r.engine.output(r, b"".join(held), False)  # an end, not an error
                return await self._broken(r, sel, state, t0, resp)
            if not chunk:
                break
            received += len(chunk)
            if storing:
                cache.feed(chunk)
            if r.method == "HEAD":
                continue
            if not buffering:
                await r.engine.output(r, chunk, False)
                continue
            held.append(chunk)
            if received >= boundary:
                data = b"".join(held)
                cut = len(data) - (received - boundary) % conf.buffers_size
                held = [data[cut:]] if cut < len(data) else []
                boundary = received - len(data) + cut + conf.buffers_size
                await r.engine.output(r, data[:cut], False)
        if not no_body and expected is not None and received < expected:
            r.log("error", f"upstream prematurely closed connection while {READING_BODY}")
            if held:  # the upstream's end (not an error) flushes the buffers
                await r.engine.output(r, b"".join(held), False)
            return await self._broken(r, sel, state, t0, resp)
        if held:
            await r.engine.output(r, b"".join(held), False)
        state.response_length = received
        state.bytes_received += received
        state.bytes_sent = resp.extra.get("bytes_sent", 0)
        if storing:
            cache.store(resp.status_line)
        await resp.close()
        self._done(r, sel, state, t0, resp)
        await self._nest(r, resp)
        await r.engine.output(r, b"", True)
        return DONE

    async def _broken(self, r: Request, sel: PeerSelection, state: UpstreamState, t0: float,
                      resp: UpstreamResponse) -> int:
        """The body broke off: nginx sends what it has and closes the connection."""
        await resp.close()
        self._done(r, sel, state, t0, resp)
        flush = r.engine.services.get("flush_output")
        if flush is not None:
            await flush(r)
        r.engine.abort(r)
        return DONE

    def _done(self, r: Request, sel: PeerSelection, state: UpstreamState, t0: float,
              resp: UpstreamResponse) -> None:
        if sel.current is not None:
            sel.free(failed=False)
            sel.current = None
        state.response_time = time.monotonic() - t0
        state.bytes_sent = resp.extra.get("bytes_sent", 0)  # as finalize_request does

    async def _nest(self, r: Request, resp: UpstreamResponse) -> None:
        """Show the backend's own trace inside the front request's, for in-process peers."""
        task = resp.extra.get("task")
        if task is None or not r.trace.enabled:
            return
        try:
            exchange = await asyncio.wait_for(asyncio.shield(task), 1.0)
        except (asyncio.TimeoutError, Exception):
            return
        r.trace.nest("upstream_trace", exchange.trace, server=exchange.server,
                     location=exchange.location, status=exchange.response.status)


# --- helpers -------------------------------------------------------------------------------


async def _remember_request(r: Request) -> int:
    if r.parent is None and "keep:proxy_orig" not in r.ctx:
        r.ctx["keep:proxy_orig"] = (r.uri, r.args)
    return DECLINED


async def _remember_location(r: Request) -> int:
    r.ctx["proxy:loc_uri"] = r.uri
    return DECLINED


def _unparsed(target: str) -> str:
    """``r->unparsed_uri``: the target as received, without an absolute form's host."""
    if target.startswith("/"):
        return target
    try:
        parse_target(target)
    except InvalidURI:
        return target
    rest = target.split("://", 1)[-1]
    cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0], default=len(rest))
    path = rest[cut:] or "/"
    return "/" + path if path.startswith("?") else path


def _ctx_attr(r: Request, attr: str) -> str | None:
    ctx = r.ctx.get("proxy")
    return getattr(ctx, attr) if isinstance(ctx, ProxyCtx) else None


def _body_length(r: Request) -> str | None:
    ctx = r.ctx.get("proxy")
    if not isinstance(ctx, ProxyCtx) or ctx.body_length is None:
        return None
    return str(ctx.body_length)
