"""The request body as nginx keeps it: ngx_http_read_client_request_body and
ngx_http_discard_request_body, which every reader (ngx_lua, proxy_pass, fastcgi_pass,
mirror...) calls, so that the body's place (memory or a temporary file) is decided, and
the "buffered to a temporary file" line written, in one place.

The listener has the body's bytes before the phases run (it frames the body itself);
"reading" here decides what nginx would have done with them:

* no Content-Length and no chunked body: nginx allocates its body structure but keeps no
  buffer ($request_body not found, no file);
* ``client_body_in_file_only on|clean``: always a file, even an empty body, logged at
  [notice] (not at all when ngx.req.read_body reads it, see read_request_body);
* otherwise the body stays in memory while what is not in the header buffer fits the
  buffer nginx allocates for it (see _over_buffer); beyond that it goes to a file and
  nginx logs
  ``[warn] a client request body is buffered to a temporary file PATH``.

Temporary files are named like nginx's: ``client_body_temp_path`` (relative to the
prefix, with its levels) and a ten-digit number that counts up from 0000000001 for the
whole server (nginx's ngx_temp_number). Without the directive the directory is
``<prefix>/client_body_temp``, stock nginx's compiled default: Debian's build uses
/var/lib/nginx/body, which an explorer must not write to, so that path differs from
Debian's unless the configuration names one. nginx unlinks a non-persistent file at once
(proxy_pass, mirror); ngx_lua's reads make it persistent until the request ends, and
``client_body_in_file_only on`` keeps it; only the files that exist in nginx are written.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..conf.values import parse_size
from .api import CONTINUE_LINE
from .header_checks import http11

if TYPE_CHECKING:
    from .block import Block
    from .request import Request

#: main.ctx key: where the read body is, "memory" or "file" (absent: no body structure).
STATE = "keep:request_body"
#: main.ctx key: the temporary (or set_body_file's) file holding the body.
FILE = "keep:body_file"
_DISCARDED = "discarded"
_NO_BUFFER = "no buffer"
_GONE = "keep:body_discarded"
_QUIET = "keep:body_file_log_off"
#: main.ctx key: ngx_lua's init_body(0) set request_body_in_file_only.
LUA_FILE_ONLY = "keep:lua_body_file_only"
_WARN = "a client request body is buffered to a temporary file"


def read_request_body(r: Request, reader: str, persistent: bool = False,
                      quiet: bool = False) -> None:
    """ngx_http_read_client_request_body for ``reader`` (named in the trace). A
    subrequest has its parent's body or its own, already decided; a second read changes
    nothing, but a read after a discard finds an empty body. ``persistent``: the reader
    (ngx_lua) keeps a temporary file until the request ends; ``quiet``: it turned off
    the [notice] nginx writes for a ``client_body_in_file_only`` file (ngx.req.read_body
    sets request_body_file_log_level to 0, lua_need_request_body does not)."""
    main = r.main
    if quiet and in_file_only(main):
        main.ctx[_QUIET] = True
    if r.body_read and (r is not main or main.ctx.get(STATE) != _DISCARDED):
        return
    r.body_read = True
    if r is not main:
        return
    test_expect(main)
    if main.ctx.get(STATE) == _DISCARDED:  # read anew: what was discarded is gone
        del main.ctx[STATE]
    if "content-length" not in main.headers_in and "transfer-encoding" not in main.headers_in:
        r.trace.add("script", op="read_body", bytes=0, reason=f"{reader}: no body")
        return
    body = main.body or b""
    if in_file_only(main):
        mode = main.loc.value("client_body_in_file_only") if main.loc is not None else None
        to_file(main, body, keep=persistent or mode != "clean",
                clean=persistent or mode == "clean")
    elif body and _over_buffer(main, len(body)):
        to_file(main, body, keep=persistent, clean=True)
    else:
        main.ctx[STATE] = "memory"
    r.trace.add("script", op="read_body", bytes=len(body),
                reason=f"{reader}: {main.ctx[STATE]}")


def discard_request_body(r: Request) -> None:
    """ngx_http_discard_request_body: the body is dropped unread (a read one stays)."""
    main = r.main
    if main.body_read or r is not main:
        return
    test_expect(main)
    main.body_read = True
    main.body = None
    # ngx_http_discard_request_body_filter allocates a body structure (with no buffer)
    # only for a chunked body: ngx_lua's set_body_data... then work, $request_body is
    # not found; after any other discard there is none until a read makes an empty one
    main.ctx[STATE] = _NO_BUFFER if "transfer-encoding" in main.headers_in else _DISCARDED
    main.ctx[_GONE] = True


def discarded(r: Request) -> bool:
    """Whether the body was discarded: $request_length does not count it, and nginx's
    content_length_n is 0 from then on (what proxy_pass sends as the Content-Length)
    until ngx_lua sets a new body."""
    return bool(r.main.ctx.get(_GONE))


def has_body(r: Request) -> bool:
    """Whether nginx has a body structure for ``r`` (r->request_body), which ngx_lua's
    body calls want: a read made one, a discard only of a chunked body."""
    return bool(r.body_read) and not (r is r.main and r.main.ctx.get(STATE) == _DISCARDED)


def test_expect(r: Request) -> None:
    """ngx_http_test_expect: the first read or discard of the body answers ``Expect:
    100-continue`` (the first Expect line, any case, HTTP/1.1 or a later minor) with
    ``HTTP/1.1 100 Continue``, counted in $bytes_sent as nginx's c->sent does. A request
    read without a body sends it too. The listener (``send_continue``) writes it; a
    request built in-process has no wire and sends nothing."""
    if r.expect_tested:
        return
    r.expect_tested = True
    send = r.send_continue
    if send is None or not http11(r.protocol):
        return
    value = r.headers_in.get("expect")
    if value is not None and value.lower() == "100-continue":
        send()
        r.body_sent += len(CONTINUE_LINE)


def to_file(main: Request, body: bytes, keep: bool = True, clean: bool = True) -> str:
    """Put the body in a new temporary file (ngx_create_temp_file), as nginx names it,
    and log it (see file_log_level); ``keep``: the file exists for the request (else
    nginx unlinks it at once and only its name is left); ``clean``: removed at the end."""
    path = _temp_name(main)
    level = file_log_level(main)
    if level is not None:
        main.log(level, f"{_WARN} {path}")
    if keep:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(body)
        if clean:
            main.add_cleanup(lambda: _unlink(path))
    main.ctx[STATE] = "file"
    main.ctx[FILE] = path
    return path


def _loc_in_file_only(main: Request) -> bool:
    loc = main.loc
    return loc is not None and loc.value("client_body_in_file_only") in ("on", "clean")


def in_file_only(main: Request) -> bool:
    """nginx's request_body_in_file_only: ``client_body_in_file_only``, or ngx_lua's
    ``init_body(0)`` (for the rest of the request)."""
    return _loc_in_file_only(main) or bool(main.ctx.get(LUA_FILE_ONLY))


def file_log_level(main: Request) -> str | None:
    """nginx's request_body_file_log_level: the "buffered to a temporary file" line is
    a [warn], a [notice] under ``client_body_in_file_only``, and none once
    ngx.req.read_body ran while the body was to go to a file only."""
    if main.ctx.get(_QUIET):
        return None
    return "notice" if _loc_in_file_only(main) else "warn"


def in_file(r: Request) -> bool:
    """Whether the body ``r`` sees is in a file (a subrequest's own body never is)."""
    main = r.main
    return main.ctx.get(STATE) == "file" and (r is main or r.body is main.body)


def body_file(r: Request) -> str | None:
    """The file holding the body (``$request_body_file``, ngx.req.get_body_file())."""
    return r.main.ctx.get(FILE) if in_file(r) else None


def body_data(r: Request) -> str | None:
    """``$request_body``: the body in memory, "" for a body structure without data; not
    found unread, without a body, or in a file."""
    main = r.main
    if not r.body_read or in_file(r):
        return None
    if r is not main:  # a subrequest's body is one it was given (an empty one has no buffer)
        return r.body.decode("utf-8", "surrogateescape") if r.body else None
    if main.ctx.get(STATE) != "memory":
        return None
    return (r.body or b"").decode("utf-8", "surrogateescape")


#: client_body_buffer_size's default: two memory pages, 8k on x86-64.
BODY_BUFFER = 8192


def body_size_limit(block: Block | None, name: str, index: int, default: int) -> int:
    """A size argument of a directive as ``block`` has it, else nginx's default."""
    d = block.first(name) if block is not None else None
    size = parse_size(d.args[index]) if d is not None and len(d.args) > index else None
    return size or default


def _over_buffer(main: Request, size: int) -> bool:
    """What came with the head stays in the header buffer (``client_header_buffer_size``,
    a large buffer for a longer head). For the rest of a body of known length nginx
    allocates one buffer of its size when it is under 1.25 × ``client_body_buffer_size``
    (``size += size >> 2``); otherwise, and for a chunked body, the buffer is
    ``client_body_buffer_size`` and what overflows it goes to a file."""
    from .core_variables import head_length
    srv = main.server
    head = head_length(main)
    hbuf = body_size_limit(srv, "client_header_buffer_size", 0, 1024)
    if head > hbuf:
        hbuf = body_size_limit(srv, "large_client_header_buffers", 1, 8192)
    rest = size - max(0, hbuf - head)
    limit = body_size_limit(main.loc, "client_body_buffer_size", 0, BODY_BUFFER)
    if "content-length" in main.headers_in:
        return rest >= limit + (limit >> 2)
    return rest > limit


def _temp_name(main: Request) -> str:
    """The next temporary file's path: client_body_temp_path's directory and levels."""
    services = main.engine.services
    number = services.get("temp_file_number", 0) + 1
    services["temp_file_number"] = number
    name = f"{number:010d}"
    d = main.loc.first("client_body_temp_path") if main.loc is not None else None
    directory, levels = "client_body_temp", []
    if d is not None:
        directory, levels = d.args[0], [int(a) for a in d.args[1:] if a.isdigit()]
    if not os.path.isabs(directory):
        directory = os.path.join(main.engine.cfg.prefix, directory)
    end = len(name)
    parts = [directory.rstrip("/")]
    for level in levels:
        parts.append(name[end - level:end])
        end -= level
    return "/".join(parts + [name])


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
