"""Access-log audit against real nginx: every commonly logged variable, escaping of
quotes/backslashes/control bytes/UTF-8 in default, json and none formats, access_log
inheritance and ``off``, several logs, ``if=``, accepted ``buffer``/``flush``/``gzip``,
internal redirects (one line, the final location's log), subrequests and variables in
the log's file name. Time-dependent fields are compared by shape, not value."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    log_format vars '$remote_addr|$remote_user|$request|$status|$body_bytes_sent|'
                    '$bytes_sent|$request_length|$http_referer|$http_user_agent|'
                    '$http_x_forwarded_for|$host|$server_name|$connection_requests|'
                    '$pipe|$request_method|$uri|$args|$sent_http_content_type|'
                    '$cookie_a|$gzip_ratio|$upstream_addr|$upstream_status|$msec|'
                    '$time_iso8601|$time_local|$request_time|$request_id|$connection';
    log_format js escape=json '{"ua":"$http_user_agent","x":"$http_x_odd","c":"$cookie_a","n":"$arg_none"}';
    log_format raw escape=none '[$http_x_odd][$arg_none]';
    log_format dflt '[$http_x_odd][$arg_none][$http_empty]';
    log_format loc 'loc $uri $status';
    access_log logs/vars.log vars;
    access_log logs/js.log js;
    access_log logs/raw.log raw if=$arg_log;
    access_log logs/dflt.log dflt;
    open_log_file_cache max=10 inactive=20s;
    server {
        listen 127.0.0.1:{port};
        server_name audit.test;
        root html;
        location /ok { return 200 "hello\n"; }
        location /inherit { return 204; }
        location /own {
            access_log logs/own.log loc;
            access_log logs/gz.log loc buffer=1k flush=1m gzip=5;  # accepted, not read
            return 200 "own\n";
        }
        location /off { access_log off; return 200; }
        location /redir { error_page 404 = /final; return 404; }
        location /final { access_log logs/final.log loc; return 200 "final\n"; }
        location /rw { rewrite ^ /own last; }
        location /perhost { access_log logs/host-$host.log loc; return 200; }
        location /sub { ssi on; log_subrequest on; access_log logs/sub.log loc; }
        location /inc { access_log logs/sub.log loc; return 200 "inc\n"; }
        location /lua { content_by_lua_block { ngx.say("x") } }
    }
}
"""

FILES = {"html/sub/page.html": 'a<!--# include virtual="/inc" -->b\n'}

ODD = 'q" b\\ t\t nl\x01 bs\x08 ff\x0c esc\x1b del\x7f é'

CASES = [
    ("plain", Req("GET", "/ok", [("Host", "localhost"), ("User-Agent", "curl/8")])),
    ("odd header", Req("GET", "/ok?log=1", [("Host", "localhost"), ("X-Odd", ODD),
                                          ("User-Agent", 'a"b\\c')])),
    ("referer xff cookie", Req("GET", "/ok", [("Host", "audit.test"), ("Referer", "http://r/"),
                                             ("X-Forwarded-For", "1.2.3.4"),
                                             ("Cookie", 'a="x\\y"; b=2')])),
    ("basic auth user", Req("GET", "/ok", [("Host", "localhost"),
                                          ("Authorization", "Basic dXNlcjpwYXNz")])),
    ("utf8 user agent", Req("GET", "/ok", [("Host", "localhost"), ("User-Agent", "é\x1b[31m")])),
    ("empty header", Req("GET", "/ok", [("Host", "localhost"), ("Empty", "")])),
    ("inherited", Req("GET", "/inherit", [("Host", "localhost")])),
    ("own log", Req("GET", "/own", [("Host", "localhost")])),
    ("off", Req("GET", "/off", [("Host", "localhost")])),
    ("internal redirect", Req("GET", "/redir", [("Host", "localhost")])),
    ("rewrite last", Req("GET", "/rw", [("Host", "localhost")])),
    ("per-host file", Req("GET", "/perhost", [("Host", "h1.test")])),
    ("subrequest", Req("GET", "/sub/page.html", [("Host", "localhost")])),
    ("404 static", Req("GET", "/nope", [("Host", "localhost")])),
    ("HEAD", Req("HEAD", "/ok", [("Host", "localhost")])),
    ("POST body", Req("POST", "/ok?log=0", [("Host", "localhost")], b"a=1&b=2")),
    ("lua", Req("GET", "/lua", [("Host", "localhost")])),
    ("HTTP/1.0", Req("GET", "/ok", [], version="HTTP/1.0")),
    ("escaped request line", Req("GET", '/ok?q="x"%20y', [("Host", "localhost")])),
]

LOGS = ("vars.log", "js.log", "raw.log", "dflt.log", "own.log", "final.log", "sub.log",
        "host-h1.test.log")

#: Fields whose values depend on time or on the server instance: compared by shape.
SHAPES = [
    (re.compile(r"\|\d{10}\.\d{3}\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\|"
                r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\|\d+\.\d{3}\|[0-9a-f]{32}\|\d+$"),
     "|MSEC|ISO|LOCAL|RT|ID|CONN"),
]


def _new(path, seen: dict) -> list[str]:  # type: ignore[no-untyped-def]
    data = path.read_bytes() if path.exists() else b""
    fresh = data[seen.get(path, 0):]
    seen[path] = len(data)
    lines = fresh.decode("utf-8", "surrogateescape").splitlines()
    for rx, repl in SHAPES:
        lines = [rx.sub(repl, line) for line in lines]
    return lines


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_access_log_lines(pair, name, req):  # type: ignore[no-untyped-def]
    seen = pair.__dict__.setdefault("_seen_audit", {})
    # the workers (nobody) create the per-host log: let them write there
    os.chmod(pair.real.prefix / "logs", 0o777)
    for log in LOGS:
        _new(pair.real.prefix / "logs" / log, seen), _new(pair.prefix / "logs" / log, seen)
    pair.both(req)
    time.sleep(0.05)
    for log in LOGS:
        real = _new(pair.real.prefix / "logs" / log, seen)
        ours = _new(pair.prefix / "logs" / log, seen)
        assert ours == real, log


SOCKET_CONF = r"""
events {}
http {
    log_format s '$request|$status|$connection_requests|$pipe|$body_bytes_sent|$server_name';
    access_log logs/http.log s;
    server {
        listen 127.0.0.1:{port};
        server_name first.test;
        access_log logs/first.log s;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name second.test;
        access_log logs/second.log s;
        location / { return 200 "two\n"; }
    }
}
"""

SOCKET_CASES = [
    ("keep-alive", b"GET /a HTTP/1.1\r\nHost: second.test\r\n\r\n"
                   b"GET /b HTTP/1.1\r\nHost: first.test\r\nConnection: close\r\n\r\n"),
    ("pipelined", b"GET /p1 HTTP/1.1\r\nHost: first.test\r\n\r\nGET /p2 HTTP/1.1\r\n"
                  b"Host: first.test\r\n\r\nGET /p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ("bad request line", b"GARBAGE\r\n\r\n"),
    ("bad host", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
    ("no host 1.1", b"GET / HTTP/1.1\r\n\r\n"),
]


@requires_nginx
@pytest.mark.parametrize("name,raw", SOCKET_CASES, ids=[c[0] for c in SOCKET_CASES])
def test_access_log_over_sockets(name: str, raw: bytes) -> None:
    from tests.oracle import RealNginx
    from tests.server.harness import Served
    logs = ("http.log", "first.log", "second.log")
    with RealNginx(SOCKET_CONF) as real:
        real.request(raw)
        time.sleep(0.1)
        expect = {log: _new(real.prefix / "logs" / log, {}) for log in logs}
    with Served(SOCKET_CONF) as ours:
        ours.request(raw)
        time.sleep(0.1)
        got = {log: _new(ours.prefix / "logs" / log, {}) for log in logs}
    assert got == expect
