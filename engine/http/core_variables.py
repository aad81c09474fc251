"""The variables of ngx_http_core_module (and the few other always-present ones).

Each getter reads the request as nginx's ``ngx_http_variable_*`` does; names and
formats follow nginx's documentation (``$msec`` = ``1700000000.123``, ``$time_local`` =
``27/Nov/2026:09:14:32 +0000``, ``$status`` = ``000`` before a response exists...).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from typing import TYPE_CHECKING

from ..conf.values import parse_size
from .api import wire_bytes
from .limit_rate import STORED, limit_rate
from .request_body import body_data, body_file, discarded
from .response import NGINX_VERSION, http_date

if TYPE_CHECKING:
    from .request import Request
    from .variables import VariableTable

HOSTNAME = socket.gethostname()


#: The request headers nginx 1.22 joins from all their lines (sep + " "); every other
#: ``$http_NAME`` is the first line of that name.
_JOINED_IN = {"cookie": "; ", "x_forwarded_for": ", "}
#: Likewise the response headers (``headers_out.cache_control``, ``.link``).
_JOINED_OUT = {"cache_control": ", ", "link": ", "}


def _header_values(items: list[tuple[str, str]], name: str) -> list[str]:
    """The values of the lines whose name, lowercased with "-" as "_", is ``name``:
    nginx's ngx_http_variable_unknown_header compares that way, so a header sent as
    ``X_Foo`` (underscores_in_headers on) is ``$http_x_foo`` too."""
    return [v for k, v in items if k.lower().replace("-", "_") == name]


def _header(r: Request, name: str) -> str | None:
    """``$http_NAME``: cookies joined with "; ", X-Forwarded-For with ", ", else the first."""
    values = _header_values(r.headers_in.items, name)
    if not values:
        return None
    sep = _JOINED_IN.get(name)
    return sep.join(values) if sep else values[0]


def _arg(r: Request, name: str) -> str | None:
    return find_arg(r.args, name)


def find_arg(args: str, name: str) -> str | None:
    """nginx's ngx_http_arg: the first ``name=value``, name compared case-insensitively
    (a bare ``name`` without "=" is not that argument). ``$arg_`` (an empty name) is
    never found: nginx's search for it finds nothing, whatever the query."""
    if not args or not name:
        return None
    low = name.lower()
    for part in args.split("&"):
        key, eq, value = part.partition("=")
        if eq and key.lower() == low:
            return value
    return None


def _cookie(r: Request, name: str) -> str | None:
    return find_cookie(r.headers_in.get_all("cookie"), name)


def find_cookie(lines: list[str], name: str) -> str | None:
    """nginx 1.22's ngx_http_parse_multi_header_lines over the Cookie lines: the name
    (caseless) at the start of a line or after ";"/"," and spaces, spaces, "=", spaces;
    the value runs to the next ";" (a "," does not end it). A name followed by anything
    but "=" makes the scan skip past the next separator, as nginx's does."""
    n = len(name)
    low = name.lower()
    for line in lines:
        end = len(line)
        if n > end:
            continue
        start = 0
        while start < end:
            if line[start:start + n].lower() == low:
                start += n
                while start < end and line[start] == " ":
                    start += 1
                if start < end:
                    start += 1
                    if line[start - 1] == "=":
                        while start < end and line[start] == " ":
                            start += 1
                        last = line.find(";", start)
                        return line[start:last if last >= 0 else end]
            while start < end:
                start += 1
                if line[start - 1] in ";,":
                    break
            while start < end and line[start] == " ":
                start += 1
    return None


def _sent_http(r: Request, name: str) -> str | None:
    """``$sent_http_NAME``: the response header as nginx keeps it so far (the fields
    the header filter turns into lines are read from the response, not the list)."""
    out = r.out
    if name == "content_type":
        # nginx caches this indexed variable at its first read (it is not flagged
        # NOCACHEABLE, and internal redirects keep r->variables): a map read by add_header
        # fixes it before the charset filter, and the access log then shows that value
        cached = r.ctx.get("keep:sent_content_type", False)
        if cached is False:
            cached = r.ctx["keep:sent_content_type"] = out.content_type or None
        return cached
    if name == "content_length":
        return str(out.content_length) if out.content_length is not None else None
    if name == "location" and out.location:
        return out.location
    if name == "last_modified" and out.last_modified is not None:
        return http_date(out.last_modified)
    if name == "connection":  # decided before the header filters run: always found
        if out.status == 101:
            return "upgrade"
        return "keep-alive" if _keepalive(r) else "close"
    if name == "keep_alive":
        timeout = r.loc.mod.get("core", {}).get("keepalive_header") if r.loc else None
        return f"timeout={int(timeout)}" if _keepalive(r) and timeout else None
    if name == "transfer_encoding":
        return "chunked" if r.chunked else None
    values = _header_values(out.headers.items, name)
    if not values:
        return None
    sep = _JOINED_OUT.get(name)
    return sep.join(values) if sep else values[0]


def _limit_rate(r: Request) -> str:
    """``$limit_rate``: what ``set $limit_rate`` stored, else 0 until the response
    header is written: nginx's write filter only then takes the location's
    ``limit_rate`` (a size, variables allowed) into r->limit_rate."""
    main = r.main
    if STORED not in main.ctx and not main.header_sent:
        return "0"
    return str(limit_rate(main))


def _set_limit_rate(r: Request, value: str) -> None:
    """nginx's setter parses a size ("1k" is 1024); one that does not parse is logged
    and ignored."""
    size = parse_size(value)
    if size is None:
        r.log("error", f'invalid $limit_rate "{value}"')
    else:
        r.main.ctx[STORED] = str(size)


def _uri(r: Request) -> str | None:
    """``$uri``: not found ("-" in a log) when the request line never parsed, as nginx
    then has no URI at all; an internal redirect (error_page) gives it one."""
    return None if r.main.head_bytes == 0 and not r.internal else r.uri


#: main.ctx key set on a request refused before the phases (http/reject.py): nginx never
#: discarded its body, so a chunked one has no ``$content_length``.
REFUSED = "keep:refused"


def _content_length(r: Request) -> str | None:
    """The Content-Length header; for a chunked body nginx gives the size it read (0
    once it discarded one: by the end of the request), not found before that."""
    value = r.headers_in.get("content-length")
    if value is not None or "transfer-encoding" not in r.headers_in:
        return value
    main = r.main
    if main.body_read:
        return str(len(main.body or b""))
    # closed without a response (444) or refused: nginx never discarded the body
    discarded = main.response_done and not main.status_for_log and not main.ctx.get(REFUSED)
    return "0" if discarded else None


def head_length(main: Request) -> int:
    """The head's bytes as the listener read them up to where nginx stopped (rebuilt for
    an in-process request)."""
    head = main.head_bytes
    if head is None:
        head = len(wire_bytes(main.request_line)) + 2 + sum(
            len(k) + len(wire_bytes(v)) + 4 for k, v in main.headers_in) + 2
    return head


def _request_length(r: Request) -> str:
    """The head, plus the body once read (a body nginx discards is not counted); 0 in a
    subrequest, which read nothing itself."""
    main = r.main
    if r is not main:
        return "0"
    if not main.body_read or discarded(main):
        return str(head_length(main))
    body = main.body_length if main.body_length is not None else len(main.body or b"")
    return str(head_length(main) + body)


def _status(r: Request) -> str:
    """``$status``: an error page's code first (``error_page 404 /x`` then ``return 444``
    logs 404), then the code the connection was closed with, then the header's; an
    HTTP/0.9 request with none logs "009"."""
    status = getattr(r, "err_status", 0) or r.status_for_log or r.out.status
    if not status and r.http_version == 9:
        status = 9
    return f"{status:03d}"


def _request_completion(r: Request) -> str:
    """``$request_completion``: "OK" only when nginx finished the request normally; a
    connection closed without a response (444, 499, a timeout) or aborted is not."""
    main = r.main
    return "OK" if main.response_done and not main.status_for_log and not main.aborted else ""


def _keepalive(r: Request) -> bool:
    """nginx's r->keepalive as ``$sent_http_connection`` reads it: cleared before the log
    phase of a kept-alive request (ngx_http_set_keepalive), but left as it was by a
    connection closed without a response (444, 499: see HttpEngine.finalize)."""
    if r.logged:
        return bool(r.ctx.get("keep:closed_keepalive"))
    return r.keepalive


def _on_wire(r: Request) -> int:
    """A subrequest's ``$bytes_sent`` and ``$body_bytes_sent`` (logged with
    ``log_subrequest``): what the connection has written so far (``c->sent``), its
    header size being 0. Output the write filter still holds is not written yet."""
    main = r.main
    wire = main.wire
    if wire is None or wire.head is not None:
        return 0
    held = sum(len(c) + (len(f"{len(c):x}") + 4 if main.chunked else 0) for c in wire.body)
    return max(0, getattr(main, "header_bytes", 0) + main.body_sent - held)


def _request_method(r: Request) -> str | None:
    """``$request_method``: not found when nginx refused the request line (a bad
    method, an unsupported version): it never kept the method."""
    main = r.main
    return None if main.head_bytes == 0 else main.method


def _server_protocol(r: Request) -> str | None:
    """``$server_protocol``: none for HTTP/0.9 or a line refused before its version ("-"
    in the access log); empty for a refused version (505: nginx had found where it is)."""
    main = r.main
    if main.head_bytes == 0 and main.protocol:
        return ""
    return main.protocol or None


def _request_uri(r: Request) -> str | None:
    """``$request_uri``: not found when the request line never parsed (like ``$uri``)."""
    main = r.main
    if main.head_bytes == 0 and not r.internal:
        return None
    return main.unparsed_uri or None


def _binary_addr(r: Request) -> str:
    try:
        return socket.inet_aton(r.conn.client_addr).decode("utf-8", "surrogateescape")
    except OSError:
        try:
            return socket.inet_pton(socket.AF_INET6, r.conn.client_addr).decode("utf-8", "surrogateescape")
        except OSError:
            return ""


def _set_args(r: Request, value: str) -> None:
    r.args = value
    r.has_args = True


def _args(r: Request) -> str | None:
    """``$args`` is "not found" (nil in Lua, "-" in logs) when the request had no "?"."""
    if not r.args and not r.has_args:
        return None
    return r.args


def _time_local(r: Request) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime())


def _time_iso(r: Request) -> str:
    t = time.localtime()
    z = time.strftime("%z", t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + z[:3] + ":" + z[3:]


#: r.ctx key: $request_filename failed to map (see path_var).
_UNMAPPED = "keep:request_filename_unmapped"


def _request_id(r: Request) -> str:
    rid = r.main.ctx.get("keep:request_id")
    if rid is None:
        rid = r.main.ctx["keep:request_id"] = secrets.token_hex(16)
    return rid


def register_core_variables(table: VariableTable, services: dict) -> None:
    def path_var(kind: str):  # type: ignore[no-untyped-def]
        def get(r: Request) -> str | None:
            mapper = services.get("map_uri_to_path")
            if mapper is None or r.ctx.get(_UNMAPPED):
                return None
            path = mapper(r, kind)
            if path is None:
                # the getter's NGX_ERROR leaves the value "not found" and cached, so
                # that later reads give "-" without a second alert
                r.ctx[_UNMAPPED] = True
            return path
        return get

    add = table.add
    add("uri", _uri)
    add("document_uri", _uri)
    # empty only for a request line whose URI nginx refused (400): not found
    add("request_uri", _request_uri)
    add("args", _args, _set_args, changeable=True)
    add("query_string", _args)  # read-only: nginx gives $query_string no set handler
    add("is_args", lambda r: "?" if r.args else "")
    add("request", lambda r: r.main.request_line)
    add("request_method", _request_method)
    add("server_protocol", _server_protocol)
    add("scheme", lambda r: "http" if r.conn.tls is None else "https")
    add("https", lambda r: "" if r.conn.tls is None else "on")
    add("host", lambda r: r.main.host or (r.server.server_name if r.server else ""))
    add("hostname", lambda r: HOSTNAME)
    add("nginx_version", lambda r: NGINX_VERSION)
    add("pid", lambda r: str(os.getpid()))
    add("remote_addr", lambda r: r.conn.client_addr)
    # no port (0: an address set by the realip module without one) is an empty value
    add("remote_port", lambda r: str(r.conn.client_port) if r.conn.client_port else "")
    add("binary_remote_addr", _binary_addr)
    add("remote_user", lambda r: r.main.ctx.get("keep:remote_user"))
    add("server_addr", lambda r: r.conn.server_addr)
    add("server_port", lambda r: str(r.conn.server_port))
    add("server_name", lambda r: r.server.server_name if r.server else "")
    add("content_length", _content_length)
    add("content_type", lambda r: r.headers_in.get("content-type"))
    add("document_root", path_var("document_root"))
    add("realpath_root", path_var("realpath_root"))
    add("request_filename", path_var("request_filename"))
    add("request_body", body_data)
    add("request_body_file", body_file)
    add("request_completion", _request_completion)
    add("request_length", _request_length)
    add("request_time", lambda r: f"{max(0.0, time.time() - r.main.start):.3f}")
    add("request_id", _request_id)
    add("status", _status)
    add("body_bytes_sent", lambda r: str(r.main.body_sent if r is r.main else _on_wire(r)))
    add("bytes_sent", lambda r: str(r.main.body_sent + getattr(r.main, "header_bytes", 0)
                                    if r is r.main else _on_wire(r)))
    add("limit_rate", _limit_rate, _set_limit_rate, changeable=True)
    add("connection", lambda r: str(r.conn.number))
    add("connection_requests", lambda r: str(r.conn.requests))
    add("connection_time", lambda r: f"{max(0.0, time.time() - (r.conn.start or r.main.start)):.3f}")
    # r->pipeline is the main request's: a subrequest's is never set
    add("pipe", lambda r: "p" if r.conn.pipelined and r is r.main else ".")
    add("msec", lambda r: f"{time.time():.3f}")
    add("time_local", _time_local)
    add("time_iso8601", _time_iso)
    add("proxy_add_x_forwarded_for", lambda r: (
        f"{xff}, {r.conn.client_addr}" if (xff := _header(r, "x_forwarded_for"))
        else r.conn.client_addr))
    table.add_prefix("http_", _header)
    table.add_prefix("arg_", _arg)
    table.add_prefix("cookie_", _cookie)
    table.add_prefix("sent_http_", _sent_http)
    table.add_prefix("sent_trailer_", lambda r, name: None)  # add_trailer: not modelled
    # the listener speaks neither the PROXY protocol nor asks the kernel for TCP_INFO:
    # not found, and zeros where nginx would have the socket's figures
    for name in ("addr", "port", "server_addr", "server_port"):
        add(f"proxy_protocol_{name}", lambda r: None)
    for name in ("rtt", "rttvar", "snd_cwnd", "rcv_space"):
        add(f"tcpinfo_{name}", lambda r: "0")
