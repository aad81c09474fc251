"""ngx.location.capture / capture_multi: subrequests through the whole request engine.

The Lua side (capture.lua) checks the options as ngx_lua does and hands over one spec per
subrequest: the decoded path, the final args (the URI's, then the ``args`` option's), the
numeric method, the body, the variables. Here each is issued as ``ngx_http_lua_subrequest``
and ``ngx_http_lua_adjust_subrequest`` do: the nesting limit is per level (a subrequest
may issue one fewer level than its parent, however many captures run one after the
other), then the method must be one ngx_lua names, the body is the option's or the
parent's (forwarded for PUT and POST, or with ``always_forward_body``), the variables are
fresh unless ``copy_all_vars``/``share_all_vars`` says otherwise and the ``vars`` option
assigns only variables that can be. A subrequest starts at the server-rewrite phase with
the parent's headers, its output is captured in memory and its trace nests inside the
parent's as a ``subrequest`` hop. The subrequests run in the order nginx posts them
(after those posted before, a capture_multi's later items before an earlier one's own
captures). ngx_lua's post_subrequest takes over a special response or an NGX_ERROR:
no error_page runs for the subrequest and the main request goes on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..http.phases import ERROR, OK, Phase
from ..http.request import Request
from ..http.response import http_date
from ..http.trace import Trace
from .constants import METHODS
from .runtime import LuaRequest
from .thread import text

if TYPE_CHECKING:
    from .service import LuaService

#: Statuses with which a subrequest closes the connection: nginx terminates the request.
_CLOSE = (444, 499)
#: ngx_lua keeps a subrequest's Last-Modified only with these statuses.
_LAST_MODIFIED_OK = (200, 204, 206, 304)


class _Refused(Exception):
    """A subrequest ngx_lua would not issue: the message its capture raises."""


async def capture(service: LuaService, lr: LuaRequest, specs: Any) -> Any:
    """Run the specs' subrequests (at once for capture_multi) and give the Lua table of
    their results; a string (the error capture raises) when one cannot be issued, True
    when the Lua side found a bad item after these (it raises that error), or the status
    when one closed the connection (the handler then ends with it)."""
    parent = lr.r
    try:
        children = [_issue(service, parent, specs[i]) for i in range(1, len(specs) + 1)]
    except _Refused as exc:
        return str(exc).encode("utf-8", "surrogateescape")
    if specs[b"pending"]:
        # a later item was bad: capture raises its error (nginx then runs the ones issued
        # with no handler to resume, and the request hangs; that is not modelled)
        return True
    if len(children) == 1:  # ngx.location.capture: no task of its own is needed
        results = [await _run(parent, *children[0])]
    else:
        results = await asyncio.gather(*(_run(parent, *c) for c in children))
    for child, _ in children:
        code = child.status_for_log
        if code in _CLOSE and not child.header_sent:
            return code
    lua = lr.worker.lua
    out = lua.table()
    for i, (status, headers, nlist, body, truncated) in enumerate(results, 1):
        flat = []
        for k, v in headers:
            flat.append(k.encode("utf-8", "surrogateescape"))
            flat.append(v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v)
        out[i] = lua.table_from({b"status": status, b"headers": lua.table_from(flat),
                                 b"nlist": 2 * nlist, b"body": body, b"truncated": truncated})
    return out


def _issue(service: LuaService, parent: Request, spec: Any) -> tuple[Request, Any]:
    """Make the subrequest of one spec, or raise :class:`_Refused` with ngx_lua's error."""
    engine = parent.engine
    path = text(spec[b"uri"])
    args = text(spec[b"args"])
    if parent.subrequests <= 0:
        parent.log("error", f'lua subrequests cycle while processing "{path}"')
        raise _Refused("failed to issue subrequest: -1")
    code = int(spec[b"method"])
    method = METHODS.get(code)
    if method is None:
        parent.log("error", f"unsupported HTTP method: {code % 2 ** 64}")
        raise _Refused("failed to adjust the subrequest: -1")
    body = spec[b"body"]
    forward = method in ("PUT", "POST") or bool(spec[b"always_forward_body"])
    if body is None and forward:
        body = parent.body if parent.body_read else None
    trace = Trace(enabled=parent.trace.enabled, t0=parent.trace.t0)
    child = Request(engine, parent.conn, method, path, parent.main.protocol,
                    list(parent.headers_in.items), body, trace, parent=parent)
    child.subrequests = parent.subrequests - 1
    if spec[b"share_all_vars"]:
        child.variables = parent.variables
    elif spec[b"copy_all_vars"]:
        child.variables = dict(parent.variables)
    else:
        child.variables = {}
    child.body_read = body is not None
    if spec[b"body"] is not None:
        child.headers_in.set("Content-Length", str(len(body)))
    elif not forward and _content_length(parent) > 0:
        # ngx_lua: the parent's body is not the subrequest's (a "Content-Length: 0" is
        # copied as it is, like the other headers)
        child.headers_in.set("Content-Length", None)
    child.sink = parent.sink  # type: ignore[attr-defined]
    child.records = parent.main.records  # type: ignore[attr-defined]
    child.server = parent.server
    child.loc = parent.server
    child.host = parent.main.host
    child.set_uri(path)
    child.args = args
    vars_ = spec[b"vars"]
    if vars_ is not None:
        flat = [text(v) for v in vars_.values()]
        for name, value in zip(flat[::2], flat[1::2]):
            _assign(parent, child, name.lower(), value)
    ctx = spec[b"ctx"]
    if ctx is not None:
        service.lua_request(child).state[b"ctx"] = ctx
    return child, ctx


def _content_length(r: Request) -> int:
    """``r->headers_in.content_length_n``: the request's Content-Length, -1 without one."""
    value = r.headers_in.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else -1


def _assign(parent: Request, child: Request, name: str, value: str) -> None:
    """One ``vars`` entry, as ngx_lua's subrequest_add_extra_vars assigns it."""
    table = child.engine.variables
    var = table.vars.get(name)
    if var is not None and not var.changeable:
        parent.log("error", f'variable "{name}" not changeable')
        raise _Refused("failed to adjust the subrequest: 500")
    if var is None or (var.set is None and not var.stored):
        parent.log("error", f'variable "{name}" cannot be assigned a value (maybe you '
                            "forgot to define it first?) ")
        raise _Refused("failed to adjust the subrequest: -1")
    table.set(child, name, value)


async def _run(parent: Request, child: Request, ctx: Any) -> tuple:
    engine = parent.engine
    trace = child.trace
    if trace.enabled:
        trace.add("request", method=child.method, uri=child.uri, protocol="subrequest",
                  client=parent.conn.client_addr)
    child.post_subrequest = _post_subrequest
    child.captured = True
    # nginx posts it at the end of the main request's queue: the subrequests posted
    # before it (a capture_multi's earlier items, their own captures) run first
    await asyncio.sleep(0)
    main = parent.main
    kept = main.aborted, main.keepalive
    # ngx_http_handler starts it without the connection's log action a handler left
    # (the static one's "sending response to client"); the action the subrequest's own
    # handler sets stays when the parent resumes
    main.log_action = None
    await engine.run_phases(child, engine._index[Phase.SERVER_REWRITE])
    if main.aborted and not kept[0]:
        # NGX_ERROR from the subrequest (a Lua error after its output, ngx.exit(ngx.ERROR)):
        # ngx_lua's post_subrequest makes it NGX_OK, the connection stays; the capture is
        # what was sent so far, with the status sent (500 when none was)
        main.aborted, main.keepalive = kept
        _post_subrequest(child, ERROR)
    result = child.ctx.pop("keep:subrequest_result", None) or _result(child, False)
    if child.loc is not None and child.loc.flag("log_subrequest", False):
        await engine.log_handlers(child)  # finalized: logged if its location says so
    child.ctx.pop("ngx_lua", None)  # done with it: no cycle left for the collector
    if parent.trace.enabled:
        parent.trace.nest("hop", trace.events, hop="subrequest", uri=child.uri,
                          args=child.args, method=child.method, status=result[0],
                          truncated=result[4], ctx_reset=ctx is None)
    return result


def _post_subrequest(child: Request, rc: int) -> int:
    """ngx_lua's post_subrequest handler, for a subrequest finalized with a special
    response: the capture is what it had so far, with ``truncated`` set and the status
    given to ngx_http_finalize_request. It answers NGX_OK, so nginx runs no error_page
    for the subrequest (nor sends its own page)."""
    if "keep:subrequest_result" not in child.ctx:
        # a special response's capture is typed as its page would be; NGX_ERROR's is not
        if not child.out.content_type and rc != ERROR:
            child.engine.services["set_content_type"](child)
        child.ctx["keep:subrequest_result"] = _result(child, True, 500 if rc == ERROR else rc)
    if rc > OK:  # as the special response would have set it ($status)
        child.err_status = rc  # type: ignore[attr-defined]
    return OK


def _result(child: Request, truncated: bool, rc: int = 200) -> tuple:
    """(status, headers, how many of them are the header list, body, truncated): the list
    as the subrequest left it, then the fields ngx_lua adds over it (Content-Type, the
    Content-Length as a number when no header line carries it, Location, Last-Modified).
    A HEAD subrequest sends its header only: its capture is empty and truncated."""
    out = child.out
    status = out.status or getattr(child, "err_status", 0) or rc
    headers: list[tuple[str, Any]] = list(out.headers.items)
    present = {k.lower() for k, _ in headers}
    nlist = len(headers)
    if out.content_type:
        headers.append(("Content-Type", out.content_type))
    if out.content_length is not None and "content-length" not in present:
        headers.append(("Content-Length", out.content_length))
    if out.location:
        headers.append(("Location", out.location))
    if out.last_modified is not None and "last-modified" not in present \
            and out.status in _LAST_MODIFIED_OK:
        headers.append(("Last-Modified", http_date(out.last_modified)))
    if child.method == "HEAD":
        return status, headers, nlist, b"", True
    body = b"".join(child.ctx.get("keep:subrequest_body", []))
    # ngx_lua's seen_last_eof: a subrequest that never sent its last buffer (a bodiless
    # ``return 200;``) is truncated too
    return status, headers, nlist, body, truncated or not child.response_done
