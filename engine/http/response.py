"""What nginx writes itself: status lines, its built-in error pages, the response header.

``ngx_http_special_response_handler`` answers errors and redirects with the short HTML
pages every nginx user has seen, and ``ngx_http_header_filter`` writes Server, Date,
Content-Type, Content-Length, Last-Modified, Location, Transfer-Encoding and Connection
before the header list. Both are reproduced here byte for byte. The header tests the
body filters share (content types, weak ETags) live here too.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request import Request

NGINX_VERSION = "1.22.1"
NGINX_VER = f"nginx/{NGINX_VERSION}"

REASONS: dict[int, str] = {
    101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Moved Temporarily", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Not Allowed", 406: "Not Acceptable", 408: "Request Time-out",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Large",
    415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
    421: "Misdirected Request", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
    505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}

#: nginx's page titles, where they differ from the status line (1.22: "302 Found") and
#: its 4xx codes that have pages of their own but are shown as 400 to the client.
_ERROR_TITLES: dict[int, str] = {
    302: "302 Found",
    401: "401 Authorization Required",
    494: "400 Request Header Or Cookie Too Large",
    495: "400 The SSL certificate error",
    496: "400 No required SSL certificate was sent",
    497: "400 The plain HTTP request was sent to HTTPS port",
}


def status_line(status: int) -> str:
    """``200 OK``; an unknown code gets nginx's ``"%03d "`` (note the trailing space)."""
    reason = REASONS.get(status)
    return f"{status} {reason}" if reason else f"{status:03d} "


_last_date: list = [None, ""]


def http_date(t: float) -> str:
    """``Thu, 01 Jan 1970 00:00:01 GMT``; the text of the current second is kept, as
    nginx keeps ``ngx_cached_http_time``."""
    second = int(t // 1)
    cached = _last_date
    if cached[0] != second:
        cached[1] = formatdate(second, usegmt=True)
        cached[0] = second
    return cached[1]


def error_page_body(status: int, server_tokens: str = "on") -> bytes | None:
    """The built-in page for a special response, or None when nginx sends none."""
    if 494 <= status <= 497:
        # nginx's own 400 pages: the title names the cause, the heading says 400
        cause = _ERROR_TITLES[status][4:]
        head = (f"<html>\r\n<head><title>400 {cause}</title></head>\r\n<body>\r\n"
                f"<center><h1>400 Bad Request</h1></center>\r\n<center>{cause}</center>\r\n")
        return (head + _tail(server_tokens) + "</body>\r\n</html>\r\n").encode()
    if status in _ERROR_TITLES:
        title = _ERROR_TITLES[status]
    elif status in REASONS and (status >= 400 or 301 <= status <= 308) and status != 304:
        title = f"{status} {REASONS[status]}"
    else:
        return None
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n{_tail(server_tokens)}"
            "</body>\r\n</html>\r\n").encode()


def _tail(server_tokens: str) -> str:
    name = "nginx" if server_tokens == "off" else NGINX_VER
    return f"<hr><center>{name}</center>\r\n"


def client_status(status: int) -> int:
    """nginx's internal codes map to what the client sees (494..497 → 400, 499 → 499)."""
    return 400 if 494 <= status <= 497 else status


#: r.ctx key of the type as first tested (headers_out.content_type_lowcase).
CTYPE_TESTED = "keep:ctype_tested"


def content_type_matches(types: frozenset[str] | None, ctype: str | None, r: Request) -> bool:
    """ngx_http_test_content_type, on the part of the type nginx compares
    (``content_type_len``): a type ngx_lua set is cut at its first ``;``; a proxied type,
    and one the charset filter completed, lose only their ``; charset=...``. ``types``
    None is ``*`` (any response, even one without a type)."""
    if types is None:
        return True
    if not ctype:
        return False
    low = ctype.lower()
    if r.ctx.get("keep:lua_mime_set"):
        low = low.split(";", 1)[0]
    else:
        cut = low.find(";")
        while cut != -1:
            if low[cut + 1:].lstrip(" ").startswith("charset="):
                low = low[:cut]
                break
            cut = low.find(";", cut + 1)
    # nginx lowercases the type once per response (content_type_lowcase): an error page
    # after a 416 is tested as the file's type was (special.py starts a fresh response)
    cached = r.ctx.get(CTYPE_TESTED)
    if cached is None:
        r.ctx[CTYPE_TESTED] = low
        return low in types
    return len(cached) == len(low) and cached in types


def weak_etag(r: Request) -> None:
    """ngx_http_weak_etag, for filters that change the body: ``"x"`` becomes ``W/"x"``,
    a weak one stays, one that is not a quoted string is dropped."""
    headers = r.out.headers
    etag = headers.get("etag")
    if etag is None or (len(etag) > 2 and etag.startswith("W/")):
        return
    headers.set("ETag", f"W/{etag}" if etag.startswith('"') else None)
