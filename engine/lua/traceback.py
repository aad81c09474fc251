"""Stack tracebacks as ngx_lua logs them.

LuaJIT's ``debug.traceback`` of a handler's coroutine shows two things real nginx does
not: the ngx API functions that ngx-explore writes in Lua (``engine/lua/output.lua:124:
in function 'exec'``, often under ``[C]: in function 'error'``), where nginx shows the C
function (``[C]: in function 'exec'``); and the closure a handler's code runs in, where
nginx shows the chunk itself (``in main chunk``).
"""

from __future__ import annotations

import re

_INTERNAL = "\tengine/lua/"
_RESTY_EXIT = "/usr/share/lua/5.1/resty/core/exit.lua:60"
#: resty.core's ngx.header setter raises "failed to set header" with error() there.
_RESTY_HEADER = "/usr/share/lua/5.1/resty/core/response.lua:175"
_HEADER_SETTER = "\tengine/lua/output.lua:"
_NAMED = re.compile(r"in function '([^']*)'")
_LINELESS = re.compile(r"^\t(.+?): in (.*)$")
_MAIN = re.compile(r"^(\t(.+?):\d*:? in )function <\2:1>$")


def ngx_traceback(tb: str, main: bool, coroutine: bool = True, message: str = "") -> str:
    """``tb`` (``stack traceback:`` and frame lines) as ngx_lua prints it.

    ``main``: the bottom frame is a handler's chunk (not a timer callback or a function);
    ``coroutine``: entry threads number their coroutine (``coroutine 0:``), filters not.
    A filter's traceback is taken while its failing frame is still live, so that frame
    shows its line (``message``, the error, says which) where a dead entry thread's
    does not."""
    if not tb:
        return ""
    head, *frames = tb.split("\n")
    if not coroutine and frames:
        top = _LINELESS.match(frames[0])
        at = top and re.match(re.escape(top.group(1)) + r":(\d+):", message)
        if top and at:
            frames[0] = f"\t{top.group(1)}:{at.group(1)}: in {top.group(2)}"
    out: list[str] = []
    internal: str | None = None  # the API function being collapsed, outermost so far
    header = False  # it is ngx.header's setter
    raised = False  # the collapsed API raised its error with error()
    for line in frames:
        if line.startswith(_INTERNAL):
            if internal is None and out and out[-1].startswith("\t[C]:"):
                raised = out.pop() == "\t[C]: in function 'error'"  # the API's own call
            m = _NAMED.search(line)
            internal = m.group(1) if m else internal or ""
            header = internal == "__newindex" and line.startswith(_HEADER_SETTER)
            continue
        if internal is not None:
            out += _api_frames(internal, raised, header)
            internal, raised = None, False
        out.append(line)
    if internal is not None:
        out += _api_frames(internal, raised, header)
    if main and out:
        out[-1] = _MAIN.sub(r"\1main chunk", out[-1])
    lines = [head] + (["coroutine 0:"] if coroutine else []) + out
    return "\n".join(lines)


def _api_frames(name: str, raised: bool, header: bool = False) -> list[str]:
    """The frames an API function shows: ngx.exit and the ngx.header setter (``header``)
    are Lua code in resty.core (their FFI calls' refusals, "API disabled..." and "failed
    to set header", are raised by error() there); the others are C functions."""
    if name == "exit" and raised:
        return ["\t[C]: in function 'error'", f"\t{_RESTY_EXIT}: in function 'exit'"]
    if header and raised:
        return ["\t[C]: in function 'error'", f"\t{_RESTY_HEADER}: in function '__newindex'"]
    return [_c_frame(name)]


def _c_frame(name: str) -> str:
    """An API function's frame as LuaJIT prints a C function: by the name it was called
    by, or ``[C]: ?`` when the call has none (a tail call: ``return ngx.redirect(...)``)."""
    return f"\t[C]: in function '{name}'" if name else "\t[C]: ?"
