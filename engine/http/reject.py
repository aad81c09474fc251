"""Requests nginx refuses before the phase engine runs: bad input, timeouts, hang-ups.

When nginx cannot parse a request (a malformed request line, a header line too long,
an invalid chunked body) or the client stalls or leaves, it never reaches the phases:
``ngx_http_finalize_request`` goes straight to the special response, or closes the
connection with nothing sent. Either way the error log gets a line with the request's
context and the access log gets the request with its status (400, 408, 414, 494...).

The listener detects these conditions (the engine is sans-IO and never sees bytes);
:func:`reject` lets the engine answer them the way nginx does, so that the error page,
``server_tokens``, the log context and the access log all come from the configuration.
"""

from __future__ import annotations

import time

from .api import CollectingSink, Exchange, HttpRequest, Response, ResponseSink
from .api import TeeSink
from .core_variables import REFUSED
from .engine import HttpEngine
from .request_head import read_target
from .servers import valid_host
from .request import Connection, Request
from .trace import Trace


async def reject(http: HttpEngine, req: HttpRequest, status: int, message: str,
                 level: str = "info", send: bool = True, request_line: str | None = None,
                 sink: ResponseSink | None = None) -> Exchange:
    """Finish ``req`` with ``status`` without running the phases.

    ``message`` is the error-log line (nginx's wording, ``while ...`` included), logged at
    ``level`` unless empty. ``send=False`` models nginx closing the connection with no
    response (header/body timeouts, premature close): the access log still records
    ``status``. ``request_line`` is what nginx shows as ``request: "..."`` when the line
    could not be parsed (nginx prints the bytes it has).
    """
    sink = sink or CollectingSink()
    collector = sink if isinstance(sink, CollectingSink) else TeeSink(sink)
    number = req.connection or http.next_connection()
    conn = Connection(number, req.client_addr, req.client_port, req.server_addr,
                      req.server_port, req.connection_requests, req.connection_start,
                      req.pipelined, req.tls)
    tr = Trace(enabled=http.trace_enabled)
    r = Request(http, conn, req.method, req.target, req.version, req.headers, req.body, tr)
    if request_line is not None:
        r.request_line = request_line
    elif req.raw_line is not None:
        r.request_line = req.raw_line
    r.head_bytes = req.head_length
    r.sink = collector  # type: ignore[attr-defined]
    r.records = []  # type: ignore[attr-defined]
    r.keepalive = False
    r.ctx[REFUSED] = True  # no body was discarded: $content_length
    started = time.time()
    tr.add("request", method=req.method, uri=req.target, protocol=req.version,
           client=f"{req.client_addr}:{req.client_port}")
    host = r.headers_in.get("host")
    r.host = valid_host(host) if host is not None else None  # $host, as nginx had read it
    http._pick_server(r, r.host)
    if request_line is None and r.head_bytes:  # refused in the headers: the line parsed
        read_target(r)
    else:
        r.set_uri(req.target.split("?", 1)[0] if req.target.startswith("/") else "/")
    stats = http.services.get("connection_stats")  # stub_status's counters
    if stats is not None:
        stats.request_started(not req.connection)
    if message:
        r.log(level, message)
    if send:
        await http.finalize(r, status)
    else:
        tr.add("finalize", status=status, reason="connection closed without response")
        r.status_for_log = status
        r.response_done = True
    await http.log_phase(r)
    if stats is not None:
        stats.request_finished(not req.connection)
    out = collector.result() if isinstance(collector, TeeSink) else collector
    response = Response(out.status or status, out.reason, out.headers, b"".join(out.chunks),
                        sent=out.headers_sent)
    return Exchange(req, response, tr.events, r.records, started=started,
                    duration_ms=(time.time() - started) * 1000, final_loc=None,
                    final_server=r.server)
