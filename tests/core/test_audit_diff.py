"""An audit of the request core against real nginx, case by case: the edges a user who
knows nginx tries. Absolute-form targets and $request_uri, rewrite splitting its result
at the replacement's own "?", named captures of rewrite regexes, If-Match and
If-Unmodified-Since (412), an empty Location, charset_types, the automatic 301 of
fastcgi/uwsgi/scgi/grpc/memcached locations, index and autoindex (json, jsonp, xml,
escaping), Host validation and server_name "", error-log lines and access_log ``if=``.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.core.conftest import with_mime_types
from tests.differential import Pair, Req
from tests.oracle import requires_nginx

H = [("Host", "localhost")]


def h(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return H + list(pairs)


PAST = "Thu, 01 Jan 1970 00:00:00 GMT"
FUTURE = "Thu, 01 Jan 2037 00:00:00 GMT"

CONF = r"""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    map $status $loggable { ~^[23] 0; default 1; }
    log_format audit '$status|$request|$request_uri|$uri|$args|$document_uri|'
                     '$request_filename|$sent_http_location';
    log_format errors escape=json '$request|$http_x|$args';
    access_log logs/audit.log audit;
    access_log logs/errors.log errors if=$loggable;
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html;

        location /enc/ { return 200 "uri=[$uri] req=[$request_uri] args=[$args]\n"; }
        location /tf_fallback { try_files /nothing/here /args_seen; }
        location /tf_fallback_q { try_files /nothing/here /args_seen?b=2; }
        location = /args_seen {
            content_by_lua_block { ngx.say(type(ngx.var.args), " [", tostring(ngx.var.args), "]") }
        }

        location /rw_q { rewrite ^/rw_q/(?<n>.*)$ /enc/$n?n=$n last; }
        location /rw_named { rewrite ^/rw_named/(?<first>[a-z]+)/(?<rest>.*)$ /enc/$rest-$first; }
        location /rw_ru { rewrite ^ $request_uri redirect; }
        location /rw_ru_q { rewrite ^ $request_uri?extra=1 redirect; }
        location /rw_args { rewrite ^/rw_args(.*)$ /enc$1?a=$args last; }
        location /ret301 { return 301; }
        location /ret302empty { return 302 ""; }
        location /ret307 { return 307 /enc/x; }

        location /cond/ { }
        location /ep412/ { error_page 412 /enc/precondition; }

        location /cs_css { charset utf-8; charset_types text/css; }
        location /cs_png { charset utf-8; charset_types image/png; }

        location /fcgi/ { fastcgi_pass 127.0.0.1:9; }
        location /uwsgi/ { uwsgi_pass 127.0.0.1:9; }
        location /scgi/ { scgi_pass 127.0.0.1:9; }
        location /grpc/ { grpc_pass 127.0.0.1:9; }
        location ~ ^/rx/ { fastcgi_pass 127.0.0.1:9; }
        location /plain/ { return 200 "plain\n"; }

        location /ix_dir/ { index idx.html; }
        location /ix_quiet/ { log_not_found off; }
        location /ix_abs/ { index missing.html /enc/fallback; }

        location /ai_json/ { autoindex on; autoindex_format json; }
        location /ai_jsonp/ { autoindex on; autoindex_format jsonp; }
        location /ai_xml/ { autoindex on; autoindex_format xml; }
        location /ai_html/ { autoindex on; }
        location /ai_utf8/ { autoindex on; charset utf-8; }
        location /ai_empty/ { autoindex on; autoindex_format json; }

        location /cyc { rewrite ^/cyc(\d*)$ /cyc$1x last; }
        location /ten { rewrite ^ /t1 last; }
        location /t1 { rewrite ^ /t2 last; } location /t2 { rewrite ^ /t3 last; }
        location /t3 { rewrite ^ /t4 last; } location /t4 { rewrite ^ /t5 last; }
        location /t5 { rewrite ^ /t6 last; } location /t6 { rewrite ^ /t7 last; }
        location /t7 { rewrite ^ /t8 last; } location /t8 { rewrite ^ /t9 last; }
        location /t9 { rewrite ^ /t10 last; } location /t10 { return 200 "t10 reached\n"; }
        location /many { rewrite ^ /m1; rewrite ^ /m2; rewrite ^ /m3; rewrite ^ /m4;
                         rewrite ^ /m5; rewrite ^ /m6; rewrite ^ /m7; rewrite ^ /m8;
                         rewrite ^ /m9; rewrite ^ /m10; rewrite ^ /m11; rewrite ^ /m12; }
        location /m12 { return 200 "m12 $uri\n"; }
        location /ep_named { error_page 404 = @n1; return 404; }
        location @n1 { error_page 404 = @n2; return 404; }
        location @n2 { return 200 "n2 $uri\n"; }
        location /ep_status { error_page 404 = /enc/st; return 404; }
        location /set_if { set $x a; if ($x = a) { set $x b; } if ($x = b) { return 200 "x=$x\n"; } }
    }
}
"""

FILES: dict[str, str] = {
    "html/file.txt": "a static file\n",
    "html/cond/f.txt": "0123456789",
    "html/ep412/f.txt": "x",
    "html/cs_css/a.css": "c", "html/cs_css/a.html": "h", "html/cs_css/a.txt": "t",
    "html/cs_png/a.png": "p", "html/cs_png/a.html": "h",
    "html/ix_dir/idx.html/.keep": "",
    "html/ai_json/a\"b\\c.txt": "ab", "html/ai_json/dir/x": "x",
    "html/ai_json/z.txt": "1234567", "html/ai_json/.hidden": "h",
    "html/ai_jsonp/f.txt": "f",
    "html/ai_xml/<t>&.txt": "t", "html/ai_xml/d/x": "",
    "html/ai_html/a\"b'c<d>&.txt": "q", "html/ai_html/a:b": "c",
    "html/ai_html/sp ace[]{}^|`?;=+$,!~*()@.txt": "s",
    "html/ai_html/é.txt": "e", "html/ai_html/" + "é" * 30: "e",
    "html/ai_html/" + "a" * 49 + "/x": "", "html/ai_html/" + "b" * 50 + "/x": "",
    "html/ai_html/" + "c" * 51: "", "html/ai_html/q\"d/x": "",
    "html/ai_utf8/é.txt": "e", "html/ai_utf8/" + "é" * 30: "e",
    "html/ai_empty/.keep": "",
}

CASES = [
    # absolute-form targets: $request_uri loses the scheme and host
    ("absolute form", Req("GET", "http://localhost/enc/x?y=1")),
    ("absolute form with port", Req("GET", "http://localhost:99/enc/x")),
    ("absolute form https", Req("GET", "https://other/enc/a%20b")),
    ("absolute form query only", Req("GET", "http://localhost?x=1")),
    ("absolute form bare", Req("GET", "http://localhost")),
    ("odd URIs: %2F", Req("GET", "/enc/a%2Fb")),
    ("odd URIs: encoded dots", Req("GET", "/enc/a/%2E%2E/b")),
    ("odd URIs: semicolon", Req("GET", "/enc/a;b=c/d")),
    ("odd URIs: trailing ..", Req("GET", "/enc/a/b/..")),
    ("odd URIs: above root", Req("GET", "/a/../../x")),
    # rewrite
    ("rewrite splits at its own ?", Req("GET", "/rw_q/x%3Fy")),
    ("rewrite named captures", Req("GET", "/rw_named/abc/d/e")),
    ("rewrite $request_uri redirect", Req("GET", "/rw_ru/x?y=1")),
    ("rewrite redirect with ? adds &", Req("GET", "/rw_ru_q/x?y=1")),
    ("rewrite $args in replacement", Req("GET", "/rw_args/a?b=c")),
    ("return 301 without URL", Req("GET", "/ret301")),
    ("return 302 empty URL", Req("GET", "/ret302empty")),
    ("return 307", Req("GET", "/ret307")),
    # conditional requests on a static file
    ("If-Unmodified-Since past", Req("GET", "/cond/f.txt", h(("If-Unmodified-Since", PAST)))),
    ("If-Unmodified-Since future", Req("GET", "/cond/f.txt",
                                       h(("If-Unmodified-Since", FUTURE)))),
    ("If-Unmodified-Since garbage", Req("GET", "/cond/f.txt",
                                        h(("If-Unmodified-Since", "garbage")))),
    ("If-Match star", Req("GET", "/cond/f.txt", h(("If-Match", "*")))),
    ("If-Match other", Req("GET", "/cond/f.txt", h(("If-Match", '"nope"')))),
    ("If-Match other with Range", Req("GET", "/cond/f.txt",
                                      h(("If-Match", '"nope"'), ("Range", "bytes=0-1")))),
    ("If-Unmodified-Since past with Range", Req("GET", "/cond/f.txt", h(
        ("Range", "bytes=0-1"), ("If-Unmodified-Since", PAST)))),
    ("If-Match other, HEAD", Req("HEAD", "/cond/f.txt", h(("If-Match", '"nope"')))),
    ("If-None-Match W/ list with star", Req("GET", "/cond/f.txt",
                                            h(("If-None-Match", 'W/"x", *')))),
    ("412 to error_page", Req("GET", "/ep412/f.txt", h(("If-Match", '"nope"')))),
    ("If-Range mismatch", Req("GET", "/cond/f.txt", h(("Range", "bytes=0-1"),
                                                      ("If-Range", '"x"')))),
    ("multiple ranges", Req("GET", "/cond/f.txt", h(("Range", "bytes=0-1,3-4")))),
    # charset_types always has text/html
    ("charset_types css: css", Req("GET", "/cs_css/a.css")),
    ("charset_types css: html", Req("GET", "/cs_css/a.html")),
    ("charset_types css: txt", Req("GET", "/cs_css/a.txt")),
    ("charset_types png: html", Req("GET", "/cs_png/a.html")),
    # the automatic 301 of locations served by (unmodelled) upstream modules
    ("fastcgi_pass auto redirect", Req("GET", "/fcgi")),
    ("fastcgi_pass auto redirect keeps args", Req("GET", "/fcgi?x=1")),
    ("fastcgi_pass auto redirect, HEAD", Req("HEAD", "/fcgi")),
    ("fastcgi_pass auto redirect, POST", Req("POST", "/fcgi", body=b"x")),
    ("uwsgi_pass auto redirect", Req("GET", "/uwsgi")),
    ("scgi_pass auto redirect", Req("GET", "/scgi")),
    ("grpc_pass auto redirect", Req("GET", "/grpc")),
    ("regex location: no auto redirect", Req("GET", "/rx")),
    ("return location: no auto redirect", Req("GET", "/plain")),
    # index
    ("index names a directory", Req("GET", "/ix_dir/")),
    ("index under a file", Req("GET", "/file.txt/")),
    ("index, missing dir, log_not_found off", Req("GET", "/ix_quiet/")),
    ("index, missing dir before an absolute one", Req("GET", "/ix_abs/")),
    # autoindex
    ("autoindex json", Req("GET", "/ai_json/")),
    ("autoindex json HEAD", Req("HEAD", "/ai_json/")),
    ("autoindex jsonp without callback", Req("GET", "/ai_jsonp/")),
    ("autoindex jsonp callback", Req("GET", "/ai_jsonp/?callback=my.cb_1")),
    ("autoindex jsonp bad callback", Req("GET", "/ai_jsonp/?callback=a-b")),
    ("autoindex jsonp long callback", Req("GET", "/ai_jsonp/?callback=" + "a" * 200)),
    ("autoindex jsonp encoded callback", Req("GET", "/ai_jsonp/?callback=a%2Eb")),
    ("autoindex xml", Req("GET", "/ai_xml/")),
    ("autoindex html escaping and widths", Req("GET", "/ai_html/")),
    ("autoindex html utf-8 widths", Req("GET", "/ai_utf8/")),
    ("autoindex json empty", Req("GET", "/ai_empty/")),
    # rewrite and internal redirection limits
    ("rewrite cycle", Req("GET", "/cyc")),
    ("ten internal redirects", Req("GET", "/ten")),
    ("twelve rewrites in one location", Req("GET", "/many")),
    ("error_page named twice", Req("GET", "/ep_named")),
    ("error_page = keeps the request", Req("GET", "/ep_status?a=1")),
    ("set inside if", Req("GET", "/set_if")),
    # requests refused before the location search
    ("bad escape", Req("GET", "/a%zz", h(("X", "bad")))),
    ("NUL escape", Req("GET", "/enc/a%00b")),
    # a try_files fallback takes its own arguments: empty (yet found) without "?"
    ("try_files fallback drops the args", Req("GET", "/tf_fallback?a=1")),
    ("try_files fallback, no args at all", Req("GET", "/tf_fallback")),
    ("try_files fallback with its own args", Req("GET", "/tf_fallback_q?a=1")),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):  # type: ignore[no-untyped-def]
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()


# --- the logs: error-log lines and access-log lines, for a batch of requests ------------

LOG_CASES = [
    Req("GET", "/a%zz", h(("X", "bad"))),
    Req("GET", "/a/../../x"),
    Req("GET", "http://a..b/", H),
    Req("GET", "http://localhost/", [("Host", "a..b")]),
    Req("GET", "/enc/x", H + H),
    Req("GET", "/file.txt/"),
    Req("GET", "/ix_quiet/"),
    Req("GET", "/ai_jsonp/?callback=a-b"),
    Req("GET", "/ai_jsonp/?callback=" + "a" * 200),
    Req("GET", "/rw_ru/x?y=1", h(("X", 'q" b\\ t\t é'))),
    Req("GET", "/missing?z=%22", h(("X", 'q" b\\ t\t é'))),
    Req("GET", "/cond/f.txt", h(("If-Match", '"nope"'))),
]

_ERROR_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def _fresh(path, seen: dict, prefix) -> list[str]:  # type: ignore[no-untyped-def]
    """Lines written since the last look, the prefix directory spelled {prefix}."""
    text = path.read_text(errors="surrogateescape") if path.exists() else ""
    new = text[seen.get(path, 0):]
    seen[path] = len(text)
    return new.replace(str(prefix).rstrip("/"), "{prefix}").splitlines()


def _errors(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        m = _ERROR_PREFIX.match(line)
        if m and m.group(1) != "notice" and "waiting for request" not in line:
            out.append(f"[{m.group(1)}] {line[m.end():]}")
    return out


@requires_nginx
def test_same_logs_as_nginx(pair):  # type: ignore[no-untyped-def]
    seen: dict = {}
    logs = ("error.log", "audit.log", "errors.log")
    for log in logs:
        _fresh(pair.real.prefix / "logs" / log, seen, pair.real.prefix)
        _fresh(pair.prefix / "logs" / log, seen, pair.prefix)
    for req in LOG_CASES:
        pair.both(req)
    time.sleep(0.2)  # nginx writes its log lines after the response
    for log in logs:
        real = _fresh(pair.real.prefix / "logs" / log, seen, pair.real.prefix)
        ours = _fresh(pair.prefix / "logs" / log, seen, pair.prefix)
        if log == "error.log":
            real, ours = _errors(real), _errors(ours)
        assert ours == real, log


# --- virtual servers: Host validation, server_name "", regex names -----------------------

SERVERS_CONF = r"""
events {}
http {
    default_type text/plain;
    server {
        listen 127.0.0.1:{port};
        server_name a.test;
        location / { return 200 "a host=[$host] http_host=[$http_host]\n"; }
        location /mc/ { set $memcached_key k; memcached_pass 127.0.0.1:9; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name b.test;
        port_in_redirect off;
        location /fcgi/ { fastcgi_pass 127.0.0.1:9; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name c.test alias.c.test;
        server_name_in_redirect on;
        location /fcgi/ { fastcgi_pass 127.0.0.1:9; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name d.test;
        absolute_redirect off;
        location /fcgi/ { fastcgi_pass 127.0.0.1:9; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name ~^(?<first>[a-z]+)\.(?<second>[a-z]+)\.re$ ~^(www)\.(.+)\.num$;
        location / { return 200 "first=$first second=$second 1=$1 2=$2\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name "" empty.test;
        location / { return 200 "empty-name server host=[$host]\n"; }
    }
}
"""


def host(name: str) -> list[tuple[str, str]]:
    return [("Host", name)]


SERVER_CASES = [
    ("memcached_pass auto redirect", Req("GET", "/mc", host("a.test"))),
    ("auto redirect, port_in_redirect off", Req("GET", "/fcgi", host("b.test"))),
    ("auto redirect, server_name_in_redirect", Req("GET", "/fcgi", host("alias.c.test"))),
    ("auto redirect, absolute_redirect off", Req("GET", "/fcgi", host("d.test"))),
    ("regex name with named captures", Req("GET", "/", host("abc.def.re"))),
    ("second regex name: no named captures", Req("GET", "/", host("www.foo.num"))),
    ("no Host: server_name \"\"", Req("GET", "/", [], version="HTTP/1.0")),
    ("Host with a leading dot", Req("GET", "/", host(".a.test"))),
    ("Host with a backslash", Req("GET", "/", host("a\\b"))),
    ("Host with a tab", Req("GET", "/", host("a\tb"))),
    ("Host with a space", Req("GET", "/", host("a b"))),
    ("Host with DEL", Req("GET", "/", host("a\x7fb"))),
    ("Host with an unclosed [", Req("GET", "/", host("[::1"))),
    ("Host with only a port", Req("GET", "/", host(":80"))),
    ("Host of a dot", Req("GET", "/", host("."))),
    ("Host with a slash in the port", Req("GET", "/", host("a.test:8/0"))),
    ("Host with a dot after the port", Req("GET", "/", host("a.test:80."))),
    ("Host in UTF-8", Req("GET", "/", host("é.test"))),
    ("two Host headers", Req("GET", "/", host("a.test") + host("b.test"))),
    ("invalid host in the request line", Req("GET", "http://a..b/", host("a.test"))),
    ("invalid Host beside an absolute URI", Req("GET", "http://a.test/", host("a..b"))),
    ("absolute URI host with a trailing dot", Req("GET", "http://A.TEST./", host("x"))),
]


@pytest.fixture(scope="module")
def servers():  # type: ignore[no-untyped-def]
    with Pair(SERVERS_CONF, with_mime_types({})) as p:
        yield p


@requires_nginx
@pytest.mark.parametrize("name,req", SERVER_CASES, ids=[c[0] for c in SERVER_CASES])
def test_servers_same_as_nginx(servers, name, req):  # type: ignore[no-untyped-def]
    real, ours = servers.both(req)
    assert ours.comparable() == real.comparable()


# --- over a real socket: what a filter's finalization does to the connection -------------

SOCKET_CONF = r"""
events {}
http {
    default_type text/plain;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /ok { return 200 "ok\n"; }
        location /cond/ { }
        location /ep/ { error_page 412 /ok; }
    }
}
"""

SOCKET_FILES = {"html/cond/f.txt": "0123456789", "html/ep/f.txt": "e"}

_NEXT = b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

SOCKET_CASES = [
    # the 412 page goes out with "Connection: keep-alive", then nginx closes
    ("412 closes the connection",
     b'GET /cond/f.txt HTTP/1.1\r\nHost: x\r\nIf-Match: "n"\r\n\r\n' + _NEXT),
    ("412 through error_page, headers of the file dropped",
     b'GET /ep/f.txt HTTP/1.1\r\nHost: x\r\nIf-Match: "n"\r\n\r\n' + _NEXT),
    ("416 keeps the connection",
     b"GET /cond/f.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=50-\r\n\r\n" + _NEXT),
    ("304 keeps the connection",
     b"GET /cond/f.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n" + _NEXT),
]

_VOLATILE = re.compile(rb"(Date|ETag|Last-Modified): [^\r]*\r\n")


@pytest.fixture(scope="module")
def sockets():  # type: ignore[no-untyped-def]
    from tests.oracle import RealNginx
    from tests.server.harness import Served
    with RealNginx(SOCKET_CONF, SOCKET_FILES) as real, Served(SOCKET_CONF, SOCKET_FILES) as ours:
        yield real, ours


@requires_nginx
@pytest.mark.parametrize("name,raw", SOCKET_CASES, ids=[c[0] for c in SOCKET_CASES])
def test_socket_same_as_nginx(sockets, name, raw):  # type: ignore[no-untyped-def]
    real, ours = sockets
    expected = _VOLATILE.sub(b"", real.request(raw, timeout=2))
    assert _VOLATILE.sub(b"", ours.request(raw, timeout=2)) == expected
