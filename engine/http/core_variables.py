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

from .api import wire_bytes
from .response import NGINX_VERSION

if TYPE_CHECKING:
    from .request import Request
    from .variables import VariableTable

HOSTNAME = socket.gethostname()


def _header(r: Request, name: str) -> str | None:
    """``$http_NAME``: cookies joined with "; ", other repeated headers with ", "."""
    header = name.replace("_", "-")
    values = r.main.headers_in.get_all(header) if r.parent is None else r.headers_in.get_all(header)
    if not values:
        return None
    if header == "cookie":
        return "; ".join(values)
    if header in ("x-forwarded-for",):
        return ", ".join(values)
    return values[0]


def _arg(r: Request, name: str) -> str | None:
    return find_arg(r.args, name)


def find_arg(args: str, name: str) -> str | None:
    """nginx's ngx_http_arg: the first ``name=value``, name compared case-insensitively."""
    if not args:
        return None
    low = name.lower()
    for part in args.split("&"):
        key, eq, value = part.partition("=")
        if key.lower() == low:
            return value if eq else ""
    return None


def _cookie(r: Request, name: str) -> str | None:
    for header in r.headers_in.get_all("cookie"):
        for part in header.split(";"):
            key, eq, value = part.strip().partition("=")
            if eq and key.lower() == name:  # nginx compares cookie names caselessly
                return value
    return None


def _sent_http(r: Request, name: str) -> str | None:
    header = name.replace("_", "-")
    out = r.out
    if header == "content-type":
        return out.content_type
    if header == "content-length":
        return str(out.content_length) if out.content_length is not None else None
    if header == "location":
        return out.location
    if header == "last-modified":
        from .response import http_date
        return http_date(out.last_modified) if out.last_modified is not None else None
    if header == "connection":
        return ("keep-alive" if r.keepalive else "close") if r.header_sent else None
    if header == "transfer-encoding":
        return "chunked" if getattr(r, "chunked", False) else None
    values = out.headers.get_all(header)
    return ", ".join(values) if values else None


def _uri(r: Request) -> str | None:
    """``$uri``: not found ("-" in a log) when the request line never parsed, as nginx
    then has no URI at all; an internal redirect (error_page) gives it one."""
    return None if r.main.head_bytes == 0 and not r.internal else r.uri


def _request_length(r: Request) -> str:
    """The head's bytes as the listener read them up to where nginx stopped (rebuilt for
    an in-process request), plus the body once read (a body nginx discards is not
    counted)."""
    main = r.main
    head = main.head_bytes
    if head is None:
        head = len(wire_bytes(main.request_line)) + 2 + sum(
            len(k) + len(wire_bytes(v)) + 4 for k, v in main.headers_in) + 2
    return str(head + (len(main.body or b"") if main.body_read else 0))


def _status(r: Request) -> str:
    status = r.status_for_log or (getattr(r, "err_status", 0) or r.out.status)
    return f"{status:03d}"


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


def body_in_file(r: Request) -> bool:
    """A read body larger than ``client_body_buffer_size`` (16k by default) is kept in a
    temporary file by nginx, not in memory (``client_body_in_file_only`` forces it)."""
    from ..conf.values import parse_size
    main = r.main
    if not main.body_read or not main.body:
        return False
    if main.loc is not None and main.loc.flag("client_body_in_file_only", False):
        return True
    d = main.loc.first("client_body_buffer_size") if main.loc is not None else None
    limit = (parse_size(d.args[0]) if d is not None else None) or 16384
    return len(main.body) > limit


def body_file(r: Request) -> str | None:
    """The temporary file holding the body, written once (client_body_temp/0000000001)."""
    import os
    main = r.main
    if not body_in_file(r):
        return None
    path = main.ctx.get("keep:body_file")
    if path is None:
        directory = os.path.join(main.engine.cfg.prefix, "client_body_temp")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{main.conn.number:010d}")
        with open(path, "wb") as fh:
            fh.write(main.body or b"")
        main.ctx["keep:body_file"] = path
    return path


def _request_body(r: Request) -> str | None:
    if r.body is None or not getattr(r, "body_read", False) or body_in_file(r):
        return None
    return r.body.decode("utf-8", "surrogateescape")


def _request_id(r: Request) -> str:
    rid = r.main.ctx.get("keep:request_id")
    if rid is None:
        rid = r.main.ctx["keep:request_id"] = secrets.token_hex(16)
    return rid


def register_core_variables(table: VariableTable, services: dict) -> None:
    def path_var(kind: str):  # type: ignore[no-untyped-def]
        def get(r: Request) -> str | None:
            mapper = services.get("map_uri_to_path")
            if mapper is None:
                return None
            return mapper(r, kind)
        return get

    add = table.add
    add("uri", _uri)
    add("document_uri", _uri)
    # empty only for a request line whose URI nginx refused (400): not found
    add("request_uri", lambda r: r.main.unparsed_uri or None)
    add("args", _args, _set_args, changeable=True)
    add("query_string", _args, _set_args, changeable=True)
    add("is_args", lambda r: "?" if r.args else "")
    add("request", lambda r: r.main.request_line)
    add("request_method", lambda r: r.main.method)
    add("server_protocol", lambda r: r.main.protocol)
    add("scheme", lambda r: "http")
    add("https", lambda r: "")
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
    add("content_length", lambda r: r.headers_in.get("content-length"))
    add("content_type", lambda r: r.headers_in.get("content-type"))
    add("document_root", path_var("document_root"))
    add("realpath_root", path_var("realpath_root"))
    add("request_filename", path_var("request_filename"))
    add("request_body", _request_body)
    add("request_body_file", body_file)
    add("request_completion", lambda r: "OK" if r.main.response_done else "")
    add("request_length", _request_length)
    add("request_time", lambda r: f"{max(0.0, time.time() - r.main.start):.3f}")
    add("request_id", _request_id)
    add("status", _status)
    add("body_bytes_sent", lambda r: str(r.main.body_sent))
    add("bytes_sent", lambda r: str(r.main.body_sent + getattr(r.main, "header_bytes", 0)))
    add("limit_rate", lambda r: r.main.ctx.get("keep:limit_rate", "0"),
        lambda r, v: r.main.ctx.__setitem__("keep:limit_rate", v), changeable=True)
    add("connection", lambda r: str(r.conn.number))
    add("connection_requests", lambda r: str(r.conn.requests))
    add("connection_time", lambda r: f"{max(0.0, time.time() - (r.conn.start or r.main.start)):.3f}")
    add("pipe", lambda r: "p" if r.conn.pipelined else ".")
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
