"""ngx_http_fastcgi_module, and the peer side of uwsgi, scgi, grpc and memcached.

``fastcgi_pass`` is a content handler like ``proxy_pass``: it picks a peer of the group
(an ``upstream`` block, the implicit group of ``host:port``, a ``unix:`` socket, or an
address with variables evaluated per request), connects, writes the FastCGI request
(:mod:`engine.modules.fastcgi_proto`) and passes the CGI response on. The params are
``fastcgi_param`` (all-or-nothing inheritance, ``if_not_empty`` skips an empty value),
then one ``HTTP_*`` param per request header not already named by an ``HTTP_`` param.
The response header decides the status (``Status:``, a ``Location:`` gives 302) and is
copied minus ``Status`` and ``X-Accel-*`` (``fastcgi_hide_header``/``_pass_header``).

The other four modules share the peer choice, the connect and its failures (502 with
``upstream: "uwsgi://127.0.0.1:9"``), timeouts and ``*_next_upstream``; the engine does
not speak their protocols, so a peer that accepts the connection gets a 502 and an
``[error]`` line saying so (docs/proxy.md).
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from ..conf.errors import ConfigError
from ..http.api import wire_bytes
from ..http.phases import DONE, HttpModule
from ..http.regex import Regex
from ..http.request_body import read_request_body
from ..http.variables import ComplexValue
from . import fastcgi_proto as proto
from .fastcgi_conf import SCHEMAS, PassConf, address_of, compile_pass, compile_target, \
    pass_directive
from .proxy_transport import CONNECTING, READING_BODY, READING_HEADER, SENDING, \
    SENDING_TO_CLIENT, AttemptFailure
from .upstream import Peer, PeerList, UpstreamGroup, UpstreamInfo, UpstreamState, \
    Upstreams, URLError, line_of, literal_ip, may_retry, next_upstream, parse_url, \
    peer_name, upstream_states
from .upstream_balancers import PeerSelection, chooser_for, no_peer
from .upstream_connect import ConnectFailure, open_stream
from .upstream_response import HOP_BY_HOP, accel_redirect, find_header, has_error_page

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

KEY = "ngx_http_fastcgi_module"
_NEXT_STATUS = {500: "http_500", 503: "http_503", 403: "http_403", 404: "http_404",
                429: "http_429"}


class FastcgiModule(HttpModule):
    name = KEY
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset(
        [f"{k}_{s}" for k in SCHEMAS for s in (
            "pass", "connect_timeout", "read_timeout", "next_upstream",
            "next_upstream_tries", "next_upstream_timeout")]
        + [f"{k}_intercept_errors" for k in SCHEMAS if k != "memcached"]
        + ["fastcgi_param", "fastcgi_index", "fastcgi_split_path_info", "fastcgi_keep_conn",
           "fastcgi_hide_header", "fastcgi_pass_header", "fastcgi_pass_request_headers",
           "fastcgi_pass_request_body", "fastcgi_buffer_size", "fastcgi_buffering"])

    def init(self, engine: HttpEngine) -> None:
        engine.variables.add("fastcgi_script_name", lambda r: _split(r)[0])
        engine.variables.add("fastcgi_path_info", lambda r: _split(r)[1])

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        ups: Upstreams = engine.services["upstream"]
        compiled: dict[int, tuple[UpstreamGroup | None, ComplexValue | None]] = {}
        for block in cfg.blocks:
            d = block.first("fastcgi_split_path_info")
            if d is not None:
                split = Regex.for_directive(d.args[0], False, d.file, line_of(d))
                if split.groups != 2:  # the script name and the path info
                    raise ConfigError(f'pattern "{d.args[0]}" must have 2 captures', d.file,
                                      line_of(d))
                block.mod["fastcgi_split"] = split
            for kind in ("fastcgi", "uwsgi", "scgi"):
                for p in block.own.get(f"{kind}_param", ()):
                    if len(p.args) == 3 and p.args[2] != "if_not_empty":
                        raise ConfigError(f'invalid parameter "{p.args[2]}"', p.file,
                                          line_of(p))
            for kind in SCHEMAS:
                found = pass_directive(block, kind + "_pass")
                if found is None:
                    continue
                if id(found) not in compiled:
                    compiled[id(found)] = compile_target(engine, ups, kind, found)
                conf = compile_pass(engine, block, kind, found, *compiled[id(found)])
                block.mod[KEY] = conf
                if "content_handler" not in block.mod:
                    block.mod["content_handler"] = self._handler_for(conf)

    def _handler_for(self, conf: PassConf) -> Callable[[Request], Awaitable[int]]:
        async def upstream_pass(r: Request) -> int:
            try:
                return await self.handle(r, r.loc.mod.get(KEY) or conf)
            finally:
                r.main.log_action = SENDING_TO_CLIENT  # ngx_http_upstream_finalize_request
        upstream_pass.label = f"{conf.kind}_pass {conf.directive.args[0]}"  # type: ignore[attr-defined]
        return upstream_pass

    # -- the handler -----------------------------------------------------------------------

    async def handle(self, r: Request, conf: PassConf) -> int:
        read_request_body(r, f"{conf.kind}_pass")  # the whole body, before connecting
        group = conf.group or await _runtime_group(r, conf)
        if isinstance(group, int):
            return group
        if conf.kind == "memcached":
            was_set = "memcached_key" in r.variables
            r.engine.variables.get(r, "memcached_key")  # warns when set elsewhere only
            if not was_set:
                r.log("error", 'the "$memcached_key" variable is not set')
                return 500
        payload = self._request(r, conf) if conf.kind == "fastcgi" else b""
        states = upstream_states(r)
        if states:
            states.append(None)  # " : " between this request's upstreams
        sel = PeerSelection(group, r.conn.client_addr, chooser_for(r.engine, group), r)
        if conf.tries and sel.tries > conf.tries:
            sel.tries = conf.tries
        started = time.monotonic()
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
                state.peer, state.status, state.response_time = group.name, 502, 0.0
                r.upstream_name = conf.schema + group.name  # type: ignore[attr-defined]
                r.trace.add("upstream", upstream=group.name, peer=None, attempt=attempt,
                            reason="no live upstreams: every peer is down, already tried "
                                   "or failed within fail_timeout")
                r.log("error", "no live upstreams while connecting to upstream")
                return 502
            state.peer = peer.name
            r.upstream_name = conf.schema + peer.name + (":" if peer.unix else "")  # type: ignore[attr-defined]
            r.trace.add("upstream", upstream=group.name, peer=peer.name, reason=sel.reason,
                        attempt=attempt, tries_left=sel.tries, via=conf.kind)
            r.engine.next_connection()  # the connection to the peer takes a number
            try:
                rc = await self._attempt(r, conf, sel, peer, payload, state, started)
            except AttemptFailure as f:
                state.response_time = time.monotonic() - t0
                if f.kind != "timeout":
                    level = f.level if isinstance(f, ConnectFailure) else "error"
                    r.log(level, f"{f.message} while {f.action}")
                r.trace.add("upstream_response", peer=peer.name, error=f.message,
                            action=f.action)
                status = 504 if f.kind == "timeout" else 502
                rc = self._next(r, conf, sel, state, f.kind, status, f.request_sent, started,
                                f.action)
                if rc is None:
                    continue
                return rc
            if rc is None:  # a status listed in *_next_upstream, with tries left
                continue
            if sel.current is not None:
                sel.free(failed=False)
                sel.current = None
            return rc

    def _request(self, r: Request, conf: PassConf) -> bytes:
        """ngx_http_fastcgi_create_request: the params, then the request headers."""
        params: list[tuple[bytes, bytes]] = []
        for name, cv, if_not_empty in conf.params:
            value = cv.evaluate(r)
            if value or not if_not_empty:
                params.append((wire_bytes(name), wire_bytes(value)))
        if conf.pass_headers:
            for name, value in r.headers_in:
                if name.lower().replace("-", "_") in conf.skip_headers:
                    continue
                key = "HTTP_" + "".join("_" if c == "-" else c.upper() if "a" <= c <= "z"
                                        else c for c in name)
                params.append((wire_bytes(key), wire_bytes(value)))
        r.trace.add("upstream_request", protocol="fastcgi",
                    params=[(k.decode("utf-8", "surrogateescape"),
                             v.decode("utf-8", "surrogateescape")) for k, v in params])
        body = (r.body or b"") if conf.pass_body else b""
        return proto.encode_request(params, body, conf.keep_conn)

    async def _attempt(self, r: Request, conf: PassConf, sel: PeerSelection, peer: Peer,
                       payload: bytes, state: UpstreamState, started: float) -> int | None:
        """One peer: connect, send, read the header; the response's status, or None to
        try the next peer. Failures raise AttemptFailure."""
        t0 = time.monotonic()
        reader, writer = await open_stream(peer, conf.connect_timeout)
        try:
            state.connect_time = time.monotonic() - t0
            if conf.kind != "fastcgi":
                r.log("error", f"the engine does not speak the {conf.kind} protocol "
                               f"while {CONNECTING}")
                state.status = 502
                state.response_time = time.monotonic() - t0
                return 502
            try:
                writer.write(payload)
                await writer.drain()
            except OSError as exc:
                code = exc.errno or errno.EPIPE
                raise AttemptFailure("error", f"writev() failed ({code}: "
                                              f"{os.strerror(code)})", SENDING, True) from None
            state.bytes_sent = len(payload)
            records = proto.RecordReader(reader, conf.read_timeout)

            def stderr(content: bytes, action: str) -> None:
                r.log("error", f'FastCGI sent in stderr: "{proto.stderr_text(content)}" '
                               f"while {action}")

            headers, first = await proto.read_head(records, conf.buffer_size, stderr)
            status, status_line = proto.status_of(headers)
            state.status = status
            state.header_time = time.monotonic() - t0
            ft = _NEXT_STATUS.get(status)
            if ft is not None and sel.tries > 1 and _may_retry(r, conf, ft, True, started):
                state.response_time = time.monotonic() - t0
                r.trace.add("upstream_response", peer=peer.name, status=status,
                            verdict=f"{conf.kind}_next_upstream {ft}: try the next peer")
                return self._next(r, conf, sel, state, ft, status, True, started, READING_HEADER)
            return await self._respond(r, conf, state, t0, status, status_line, headers,
                                       first, records, stderr)
        finally:
            writer.close()

    async def _respond(self, r: Request, conf: PassConf, state: UpstreamState, t0: float,
                       status: int, status_line: str, headers: list[tuple[str, str]],
                       first: bytes, records: proto.RecordReader,
                       stderr: Callable[[bytes, str], None]) -> int:
        r.upstream = UpstreamInfo(list(headers))
        if status >= 300 and conf.intercept and has_error_page(r, status):
            state.response_time = time.monotonic() - t0
            r.trace.add("upstream_response", peer=state.peer, status=status,
                        verdict="fastcgi_intercept_errors: error_page takes over")
            auth = find_header(headers, "www-authenticate")
            if status == 401 and auth is not None:
                r.out.headers.add("WWW-Authenticate", auth)
            return status
        redirect = find_header(headers, "x-accel-redirect")
        if redirect:
            state.response_time = time.monotonic() - t0
            r.trace.add("upstream_response", peer=state.peer, status=status,
                        verdict=f"X-Accel-Redirect to {redirect}")
            return await accel_redirect(r, redirect, headers)
        out = r.out
        for name, value in headers:
            low = name.lower()
            if low in conf.hide or low in HOP_BY_HOP:
                continue
            if low == "content-type":
                out.content_type = value
            elif low == "content-length":
                out.content_length = int(value) if value.isdigit() else None
            else:
                out.headers.add(name, value)
        r.ctx["disable_not_modified"] = True  # nothing cached: nginx's !u->cacheable
        out.status = status
        out.status_line = status_line
        r.trace.add("upstream_response", peer=state.peer, status=status,
                    verdict="passed to the client")
        r.main.log_action = READING_HEADER  # the header filters run while it is read
        await r.engine.send_header(r)
        r.main.log_action = SENDING_TO_CLIENT
        no_body = r.method == "HEAD" or status in (204, 304) or status < 200
        # With buffering, the body goes on in whole buffers and at the end: what waits in
        # a partly filled one is lost when the peer fails. Without, each piece at once.
        accel = (find_header(headers, "x-accel-buffering") or "").lower()
        buffering = accel == "yes" if accel in ("yes", "no") else conf.buffering
        held: list[bytes] = []
        received = 0
        piece = first
        while True:
            received += len(piece)
            if piece and not no_body:
                held.append(piece)
                if not buffering or sum(map(len, held)) >= conf.buffer_size:
                    await r.engine.output(r, b"".join(held), False)
                    held = []
            try:
                piece = await proto.body_piece(records, stderr)
            except AttemptFailure as f:
                closed = f.message.startswith("upstream prematurely")
                if closed and not conf.keep_conn:
                    break  # without keep_conn, the peer's close ends the response
                r.log("error", f"{f.message} while {READING_BODY}")
                if closed and held:  # an end, not an error: the buffers go out
                    await r.engine.output(r, b"".join(held), False)
                state.response_time = time.monotonic() - t0
                flush = r.engine.services.get("flush_output")
                if flush is not None:
                    await flush(r)
                r.engine.abort(r)
                return DONE
            if not piece:
                break
        if held:
            await r.engine.output(r, b"".join(held), False)
        state.response_length = received
        state.response_time = time.monotonic() - t0
        await r.engine.output(r, b"", True)
        return DONE

    def _next(self, r: Request, conf: PassConf, sel: PeerSelection, state: UpstreamState,
              ft: str, status: int, request_sent: bool, started: float,
              action: str) -> int | None:
        return next_upstream(r, sel, state, ft, status, action,
                             _may_retry(r, conf, ft, request_sent, started))


# --- helpers -------------------------------------------------------------------------------


def _may_retry(r: Request, conf: PassConf, ft: str, request_sent: bool,
               started: float) -> bool:
    return may_retry(r, conf.next_upstream, conf.next_timeout, ft, request_sent, started)


async def _runtime_group(r: Request, conf: PassConf) -> UpstreamGroup | int:
    """ngx_http_fastcgi_eval + ngx_http_upstream_init_request for an address with
    variables: a group of that name, an IP literal or socket, or a name to resolve."""
    assert conf.address is not None
    text = address_of(conf.kind, conf.address.evaluate(r))[1]
    try:
        url = parse_url(text, 0, uri_part=False)
    except URLError as exc:
        r.log("error", f'{exc} in upstream "{text}"')
        return 500
    ups: Upstreams = r.engine.services["upstream"]
    group = ups.find_runtime(url.host, url.port, url.no_port)
    if group is not None:
        return group
    if url.unix:
        peers = [Peer(f"unix:{url.host}", url.host, 0, url.host, unix=True)]
    elif (ip := literal_ip(url.host)) is not None:
        peers = [Peer(peer_name(ip, url.port), ip, url.port, url.host)]
    elif r.loc.first("resolver") is None:
        r.log("error", f"no resolver defined to resolve {url.host}")
        return 502
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(url.host, url.port)
        except (OSError, UnicodeError):
            r.log("error", f"{url.host} could not be resolved (3: Host not found)")
            return 502
        addrs = list(dict.fromkeys(i[4][0] for i in infos))
        peers = [Peer(peer_name(a, url.port), a, url.port, url.host) for a in addrs]
    return UpstreamGroup(url.host, PeerList(url.host, peers, single=len(peers) == 1), True,
                         None)


def _split(r: Request) -> tuple[str, str]:
    """($fastcgi_script_name, $fastcgi_path_info): ``fastcgi_split_path_info``'s two
    captures when its regex matches the URI, else the URI and ""; ``fastcgi_index``
    appended to a URI that ends with a slash."""
    uri, info = r.uri, ""
    split: Regex | None = r.loc.mod.get("fastcgi_split")
    if split is not None:
        caps = split.exec(uri)
        if caps is not None and len(caps) > 2:
            uri, info = caps[1] or "", caps[2] or ""
    if uri.endswith("/"):
        uri += r.loc.value("fastcgi_index", "") or ""
    return uri, info
