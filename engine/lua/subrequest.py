"""ngx.location.capture / capture_multi: subrequests through the whole request engine.

A subrequest is a Request with a parent: it starts at the server-rewrite phase with the
parent's headers, takes the method, args and body the options give (the parent's body is
forwarded for PUT and POST, or with ``always_forward_body``), gets fresh variables unless
``copy_all_vars``/``share_all_vars`` says otherwise, and its output is captured in
memory. Its trace nests inside the parent's as a ``subrequest`` hop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..http.phases import Phase
from ..http.request import Request
from ..http.trace import Trace
from .constants import METHODS
from .runtime import LuaRequest
from .thread import text

if TYPE_CHECKING:
    from .service import LuaService


async def capture(service: LuaService, lr: LuaRequest, specs: Any) -> Any:
    parent = lr.r
    worker = lr.worker
    lua = worker.lua
    items = [specs[i] for i in range(1, len(specs) + 1)]
    if parent.main.subrequests - len(items) <= 0:
        parent.log("error", f'lua subrequests cycle while processing "{text(items[0][b"uri"])}"')
        return b"failed to issue subrequest: -1"  # capture() raises it at the caller
    parent.main.subrequests -= len(items)
    if len(items) == 1:  # ngx.location.capture: no task of its own is needed
        results = [await run_one(service, lr, items[0])]
    else:
        results = await asyncio.gather(*(run_one(service, lr, spec) for spec in items))
    out = lua.table()
    for i, (status, headers, body, truncated) in enumerate(results, 1):
        flat = []
        for k, v in headers:
            flat.append(k.encode("utf-8", "surrogateescape"))
            flat.append(v.encode("utf-8", "surrogateescape"))
        out[i] = lua.table_from({b"status": status, b"headers": lua.table_from(flat),
                                 b"body": body, b"truncated": truncated})
    return out


async def run_one(service: LuaService, lr: LuaRequest, spec: Any) -> tuple:
    parent = lr.r
    engine = parent.engine
    uri = text(spec[b"uri"])
    path, _, inline_args = uri.partition("?")
    args = spec[b"args"]
    args = text(args) if args is not None else inline_args
    method_code = spec[b"method"]
    method = METHODS.get(int(method_code), "GET") if method_code is not None else "GET"
    body = spec[b"body"]
    forward = method in ("PUT", "POST") or bool(spec[b"always_forward_body"])
    if body is None and forward:
        body = parent.body if parent.body_read else None
    trace = Trace(enabled=parent.trace.enabled, t0=parent.trace.t0)
    child = Request(engine, parent.conn, method, uri, parent.main.protocol,
                    list(parent.headers_in.items), body, trace, parent=parent)
    if spec[b"share_all_vars"]:
        child.variables = parent.variables
    elif spec[b"copy_all_vars"]:
        child.variables = dict(parent.variables)
    else:
        child.variables = {}
    vars_ = spec[b"vars"]
    if vars_ is not None:
        flat = [text(v) for v in vars_.values()]
        for k, v in zip(flat[::2], flat[1::2]):
            engine.variables.set(child, k, v)
    child.body_read = body is not None
    if body is not None:
        child.headers_in.set("Content-Length", str(len(body)))
    elif not forward:  # ngx_lua: the parent's body is not the subrequest's
        child.headers_in.set("Content-Length", None)
    child.sink = parent.sink  # type: ignore[attr-defined]
    child.records = parent.main.records  # type: ignore[attr-defined]
    child.server = parent.server
    child.loc = parent.server
    child.host = parent.main.host
    child.set_uri(path)
    child.args = args
    ctx = spec[b"ctx"]
    if ctx is not None:
        child_lr = service.lua_request(child)
        child_lr.state[b"ctx"] = ctx
    if trace.enabled:
        trace.add("request", method=method, uri=uri, protocol="subrequest",
                  client=parent.conn.client_addr)
    child.post_subrequest = _post_subrequest
    await engine.run_phases(child, engine._index[Phase.SERVER_REWRITE])
    result = child.ctx.pop("keep:subrequest_result", None) or _result(child, False)
    child.ctx.pop("ngx_lua", None)  # done with it: no cycle left for the collector
    if parent.trace.enabled:
        parent.trace.nest("hop", trace.events, hop="subrequest", uri=path, args=args,
                          method=method, status=result[0], ctx_reset=ctx is None)
    return result


def _post_subrequest(child: Request, rc: int) -> None:
    """ngx_lua's post_subrequest handler, for a subrequest finalized with a special
    response: the capture is what it had so far (the error page is not part of it), with
    ``truncated`` set and the status given to ngx_http_finalize_request."""
    if "keep:subrequest_result" in child.ctx:
        return
    if not child.out.content_type:
        child.engine.services["set_content_type"](child)
    child.ctx["keep:subrequest_result"] = _result(child, True, rc)


def _result(child: Request, truncated: bool, rc: int = 200) -> tuple:
    out = child.out
    status = out.status or getattr(child, "err_status", 0) or rc
    headers = []
    if out.content_type:
        headers.append(("Content-Type", out.content_type))
    if out.content_length is not None:
        headers.append(("Content-Length", str(out.content_length)))
    if out.location:
        headers.append(("Location", out.location))
    headers.extend(out.headers.items)
    body = b"".join(child.ctx.get("keep:subrequest_body", []))
    return status, headers, body, truncated
