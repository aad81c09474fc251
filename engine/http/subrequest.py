"""Subrequests for modules: ``ngx_http_subrequest`` for a module's own use.

A subrequest is a :class:`Request` with a parent. As nginx makes it, it is a ``GET`` (the
parent's method shows only through ``$request_method``, which reads the main request),
its URI is taken as given (a ``?`` in it is not split off into the arguments), it has a
copy of the parent's request headers and shares the parent's variables, it is internal
(``internal`` locations accept it) and it starts at the server-rewrite phase with the
parent's server. It skips the access phase, and the log phase unless its location has
``log_subrequest on``.

Its response never reaches the client: the core's header filter writes nothing for a
request that is not the main one and its write filter collects the body in the child's
``keep:subrequest_body``; ``header_only`` subrequests (``sr->header_only``, what
auth_request asks for) have that body dropped. A subrequest finalized with 444 or 499
terminates the main request, as ``ngx_http_terminate_request`` does. The child's trace is
nested in the parent's as a ``subrequest`` hop.
"""

from __future__ import annotations

from typing import Any

from .phases import Phase
from .request import Request
from .trace import Trace

#: Codes with which nginx closes the connection instead of answering.
_CLOSE = (444, 499)


async def run_subrequest(parent: Request, uri: str, args: str = "", *,
                         header_only: bool = False, method: str = "GET",
                         body: bytes | None = None, **hop: Any) -> Request:
    """Run a subrequest of ``parent`` (a ``GET`` by default) to completion and return it.

    The finished child carries its status and response headers in ``child.out`` and can
    be the context in which variables are evaluated (``$sent_http_*``,
    ``$upstream_http_*``, ``$uri`` of the subrequest). ``hop`` adds fields to the trace's
    ``subrequest`` hop event (who issued it). When the child closed the connection, the
    main request is finalized with the same code and ``parent.main.response_done`` is set.
    ``method`` and ``body`` are for modules that change them after ngx_http_subrequest
    (mirror gives the subrequest the main request's method and, read, its body).
    """
    engine = parent.engine
    trace = Trace(enabled=parent.trace.enabled, t0=parent.trace.t0)
    child = Request(engine, parent.conn, method, uri, parent.main.protocol,
                    list(parent.headers_in.items), body, trace, parent=parent)
    # nginx gives the subrequest the body read so far, or none: nothing more is read
    child.body_read = True
    child.header_only = header_only
    child.sink = parent.sink
    child.records = parent.main.records
    child.server = parent.server
    child.loc = parent.server
    child.host = parent.main.host
    child.set_uri(uri)
    child.args = args
    if trace.enabled:
        trace.add("request", method=method, uri=uri, protocol="subrequest",
                  client=parent.conn.client_addr)
    # the subrequest runs when nginx's posted requests do: the connection's log action
    # left by the parent's handler (the static one's "sending response") is gone by then
    parent.main.log_action = None
    await engine.run_phases(child, engine._index[Phase.SERVER_REWRITE])
    if child.loc is not None and child.loc.flag("log_subrequest", False):
        await engine.log_handlers(child)  # finalized: logged if its location says so
    if header_only:
        child.ctx.pop("keep:subrequest_body", None)
    # done with its Lua state, which refers back to it: no cycle left for the collector
    child.ctx.pop("ngx_lua", None)
    if parent.trace.enabled:
        parent.trace.nest("hop", trace.events, hop="subrequest", uri=uri, args=args,
                          method=method, status=child.out.status, ctx_reset=True, **hop)
    if child.status_for_log in _CLOSE and not child.header_sent:
        await engine.finalize(parent.main, child.status_for_log)
    return child
