"""Embedded variables against real nginx 1.22: request-line and argument variables,
cookies and request headers (which lines are joined), ``$sent_http_*`` both while the
header filters run (add_header) and in the access log, paths with root/alias, captures,
``$limit_rate``, ``merge_slashes off``, keep-alive variables over a socket, and the
config errors and warnings variables give. Bodies and log lines are compared with each
side's prefix directory written as ``{P}``; ``$connection`` (the oracle's readiness probe
takes *1), ``$remote_port`` and ``$tcpinfo_*`` (kernel figures) are left out."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.differential import Pair, Req, engine_load_error
from tests.oracle import RealNginx, first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    log_format v '$uri|$status|$request_length|'
                 '$sent_http_content_type|$sent_http_location|$sent_http_connection|'
                 '$sent_http_keep_alive|$sent_http_transfer_encoding|'
                 '$sent_http_cache_control|$sent_http_link|$sent_http_x_a|'
                 '$limit_rate|$request_body|$content_length|'
                 '$args|$is_args|$request_filename|$server_port|$cookie_a|'
                 '$binary_remote_addr|$hostname|$nginx_version|'
                 '$body_bytes_sent|$bytes_sent|$sent_http_content_length|$msec|$request_time|'
                 '$time_local|$time_iso8601|$pid';
    access_log logs/v.log v;
    server {
        listen 127.0.0.1:{port};
        server_name vars.test other.test;
        root html;
        location /a {
            return 200 "args=[$args] qs=[$query_string] is_args=[$is_args] a=[$arg_a] A=[$arg_A] a_b=[$arg_a_b] dash=[$arg_a-b] x=[$arg_x]\n";
        }
        location /c { return 200 "a=[$cookie_a] b=[$cookie_b] a_b=[$cookie_a_b] hc=[$http_cookie]\n"; }
        location /h {
            return 200 "xff=[$http_x_forwarded_for] foo=[$http_x_foo] d=[$http_x_dash_ed] ua=[$http_user_agent] cc=[$http_cache_control] cl=[$content_length] ct=[$content_type]\n";
        }
        location /host {
            return 200 "host=[$host] hh=[$http_host] sn=[$server_name] sp=[$server_port] sa=[$server_addr] ra=[$remote_addr] ru=[$request_uri] r=[$request]\n";
        }
        location /req {
            return 200 "request=[$request] m=[$request_method] ru=[$request_uri] uri=[$uri] du=[$document_uri] scheme=[$scheme] https=[$https] proto=[$server_protocol] st=[$status] lr=[$limit_rate] rb=[$request_body]\n";
        }
        location /files/ { return 200 "dr=[$document_root] rr=[$realpath_root] rf=[$request_filename]\n"; }
        location /al/ {
            alias html/sub/;
            return 200 "dr=[$document_root] rr=[$realpath_root] rf=[$request_filename]\n";
        }
        location ~ ^/re/(\w+)/(.*)$ {
            alias html/sub/$2;
            return 200 "dr=[$document_root] rf=[$request_filename] 1=[$1] 2=[$2]\n";
        }
        location /rw { rewrite ^/rw(.*)$ /req$1 last; }
        location /rwb {
            rewrite ^/rwb(.*)$ /x$1 break;
            return 200 "uri=[$uri] ru=[$request_uri] args=[$args]\n";
        }
        location /st { expires 1h; }
        location /sent {
            expires epoch;
            add_header Cache-Control private;
            add_header Link "<a>";
            add_header Link "<b>";
            add_header X-A 1;
            add_header X-A 2;
            add_header X-T "ct=[$sent_http_content_type] cl=[$sent_http_content_length] conn=[$sent_http_connection] ka=[$sent_http_keep_alive] te=[$sent_http_transfer_encoding] cc=[$sent_http_cache_control] l=[$sent_http_link] xa=[$sent_http_x_a]";
            return 200 "z";
        }
        location /redir { return 301 /else; }
        location /lua {
            content_by_lua_block { ngx.header["Cache-Control"] = {"a", "b"} ngx.header["X-A"] = {"1", "2"} ngx.say("hi") }
        }
        location /readbody {
            client_body_buffer_size 64k;
            content_by_lua_block { ngx.req.read_body() ngx.say(ngx.var.request_body, " ", ngx.var.content_length) }
        }
        location /bodyfile {
            client_body_buffer_size 64;
            content_by_lua_block {
                ngx.req.read_body()
                ngx.say(#tostring(ngx.var.request_body), " ", ngx.req.get_body_file() ~= nil)
            }
        }
        location /lr { set $limit_rate 1k; return 200 "lr=[$limit_rate]\n"; }
        location /lrbad { set $limit_rate abc; return 200 "lr=[$limit_rate]\n"; }
        location /lrdir { set $r 3k; limit_rate $r; return 200 "lr=[$limit_rate]\n"; }
        location /lrlua { limit_rate 5k; content_by_lua_block { ngx.say(ngx.var.limit_rate) } }
        location ~ ^/cap/(?<num>\d+)/(\w+) {
            if ($uri ~ ^/cap/(\d)) { return 200 "after if: 1=[$1] 2=[$2] num=[$num]\n"; }
            return 200 "1=[$1] 2=[$2] num=[$num]\n";
        }
        location ~ ^/loc/(\d+)/(\w+) { return 200 "1=[$1] 2=[$2] 3=[$3]\n"; }
        location /bin {
            set $b $binary_remote_addr;
            if ($b ~ ^....$) { return 200 "four bytes\n"; }
            return 200 "other\n";
        }
        location /uninit { return 200 "u=[$later] y=[$later-x]\n"; }
        location /setter { set $later 1; }
    }
}
"""

FILES = {"html/sub/f.txt": "x", "html/files/f": "y", "html/st/f.txt": "hello"}


def H(*extra: tuple[str, str], host: str = "vars.test") -> list[tuple[str, str]]:
    return [("Host", host), *extra]


def get(target: str, *extra: tuple[str, str]) -> Req:
    return Req("GET", target, H(*extra))


CASES = [
    ("args repeated, case", get("/a?a=1&A=2&a=3")),
    ("arg in capitals", get("/a?A=1")),
    ("empty value, bare name", get("/a?a=&x")),
    ("plus and %XX kept, dash names", get("/a?a=b+c%20d&a_b=u&a-b=v")),
    ("lone question mark", get("/a?")),
    ("no args", get("/a")),
    ("leading ampersand", get("/a?&a=2")),
    ("prefix names do not match", get("/a?aa=1;a=2&ba=3")),
    ("two Cookie lines, quoted, spaced", get("/c", ("Cookie", "a=1; b=2"),
                                            ("Cookie", 'q="x y"; a_b = 3'))),
    ("cookie: comma does not end a value", get("/c", ("Cookie", "b=1,a=2"))),
    ("cookie: name without = skips the next", get("/c", ("Cookie", "a;a=5; b=1"))),
    ("cookie: spaces around =", get("/c", ("Cookie", "a= 1 ; b =2"))),
    ("cookie: empty value, tab", get("/c", ("Cookie", "a=;\tb=3"))),
    ("cookie: caseless names", get("/c", ("Cookie", "A=up; B=Z"))),
    ("cookie: quoted value with ;", get("/c", ("Cookie", 'a="q;r"; b'))),
    ("repeated headers", get("/h", ("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "2.2.2.2"),
                             ("X-Foo", "a"), ("X-Foo", "b"), ("X-Dash-Ed", "d"),
                             ("User-Agent", "a"), ("User-Agent", "b"),
                             ("Cache-Control", "a"), ("Cache-Control", "b"))),
    ("content length and type", Req("POST", "/h", H(("Content-Type", "text/x")), b"abc")),
    ("host with port, capitals", Req("GET", "/host", [("Host", "VARS.test:8080")])),
    ("host with a trailing dot", Req("GET", "/host", [("Host", "Other.Test.")])),
    ("absolute-form target", Req("GET", "http://Abs.Test:99/host?q", [("Host", "vars.test")])),
    ("HTTP/1.0 without Host", Req("GET", "/host", [], version="HTTP/1.0")),
    ("IPv6 host", Req("GET", "/host", [("Host", "[::1]:80")])),
    ("dot segments, %2F, double slashes", get("/req//a/../b/./c%2Fd?x")),
    ("unread body", Req("POST", "/req", H(), b"hello")),
    ("HEAD", Req("HEAD", "/req", H())),
    ("HTTP/1.0", Req("GET", "/req", H(), version="HTTP/1.0")),
    ("rewrite last", get("/rw/z?k=v")),
    ("rewrite break", get("/rwb/z?k=v")),
    ("root paths", get("/files/f")),
    ("alias paths", get("/al/f.txt")),
    ("regex alias paths", get("/re/abc/f.txt")),
    ("static file with expires", get("/st/f.txt")),
    ("sent headers during add_header", get("/sent")),
    ("sent headers, HTTP/1.0", Req("GET", "/sent", H(), version="HTTP/1.0")),
    ("redirect location", get("/redir")),
    ("lua multi-value headers", get("/lua")),
    ("body read by lua", Req("POST", "/readbody?x", H(), b"bodydata")),
    ("small body stays in the header buffer", Req("POST", "/bodyfile", H(), b"y" * 16)),
    ("body rest fits the body buffer", Req("POST", "/bodyfile", H(), b"y" * 1000)),
    ("set $limit_rate", get("/lr")),
    ("set $limit_rate, bad size", get("/lrbad")),
    ("limit_rate with a variable", get("/lrdir")),
    ("limit_rate read after the header", get("/lrlua")),
    ("captures after if", get("/cap/12/ab")),
    ("location captures", get("/loc/34/cd")),
    ("binary_remote_addr length", get("/bin")),
    ("uninitialized variable", get("/uninit")),
    ("missing file", get("/nope")),
]

#: Log fields that depend on the clock or the process: compared by shape.
SHAPES = [(re.compile(r"\|\d{10}\.\d{3}\|\d+\.\d{3}\|\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\|"
                      r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\|\d+$"),
           "|MSEC|RT|LOCAL|ISO|PID")]

#: $body_bytes_sent, $bytes_sent and $sent_http_content_length, before the time fields.
_SIZES = re.compile(r"\|\d+\|\d+\|\d+\|(?=MSEC)")
_LOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")


def _tail(path, seen: dict, prefix) -> list[str]:  # type: ignore[no-untyped-def]
    """Lines appended since the last look, the prefix written {P}, shapes applied."""
    data = path.read_bytes() if path.exists() else b""
    fresh = data[seen.get(path, 0):].decode("utf-8", "surrogateescape")
    seen[path] = len(data)
    lines = fresh.replace(str(prefix).rstrip("/"), "{P}").splitlines()
    for rx, repl in SHAPES:
        lines = [rx.sub(repl, line) for line in lines]
    return lines


def _errors(lines: list[str]) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in map(_LOG.match, lines)
            if m and m.group(1) not in ("notice",) and "waiting for request" not in m.group(2)]


def _body(reply, prefix) -> dict:  # type: ignore[no-untyped-def]
    """The reply with the prefix written {P} (and then no Content-Length: the two
    prefixes differ in length); Expires is compared by the log's Cache-Control."""
    out = reply.comparable()
    path = str(prefix).rstrip("/").encode()
    skip = {"expires", "content-length"} if path in out["body"] else {"expires"}
    out["body"] = out["body"].replace(path, b"{P}")
    out["headers"] = [(k, v) for k, v in out["headers"] if k not in skip]
    return out


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):  # type: ignore[no-untyped-def]
    """The response (variables in bodies and add_header), the access-log line and the
    error-log lines of each request."""
    seen = pair.__dict__.setdefault("_seen_vars", {})
    os.chmod(pair.real.prefix / "logs", 0o777)
    logs = [(pair.real.prefix, pair.prefix, name) for name in ("v.log", "error.log")]
    for real_prefix, our_prefix, log in logs:
        _tail(real_prefix / "logs" / log, seen, real_prefix)
        _tail(our_prefix / "logs" / log, seen, our_prefix)
    real, ours = pair.both(req)
    assert _body(ours, pair.prefix) == _body(real, pair.real.prefix)
    time.sleep(0.05)
    real_access = _tail(pair.real.prefix / "logs" / "v.log", seen, pair.real.prefix)
    our_access = _tail(pair.prefix / "logs" / "v.log", seen, pair.prefix)
    if str(pair.real.prefix).encode() in real.body:  # the sizes depend on the prefix
        real_access = [_SIZES.sub("|SIZES|", line) for line in real_access]
        our_access = [_SIZES.sub("|SIZES|", line) for line in our_access]
    assert our_access == real_access
    real_errors = _tail(pair.real.prefix / "logs" / "error.log", seen, pair.real.prefix)
    our_errors = _tail(pair.prefix / "logs" / "error.log", seen, pair.prefix)
    assert _errors(our_errors) == _errors(real_errors)


MERGE_CONF = r"""
events {}
http {
    merge_slashes off;
    server {
        listen 127.0.0.1:{port};
        location / { return 200 "uri=[$uri] du=[$document_uri] ru=[$request_uri]\n"; }
    }
}
"""

MERGE_CASES = ["//ms//a/./b/../c%2F%2e%2e/d", "/a//..//b", "//", "/x/%2F%2Fy?a=//"]


@requires_nginx
def test_merge_slashes_off() -> None:
    """``$uri`` keeps empty segments: dot segments still resolve, %2F decodes."""
    with Pair(MERGE_CONF) as pair:
        for target in MERGE_CASES:
            real, ours = pair.both(Req("GET", target))
            assert ours.comparable() == real.comparable(), target


KEEPALIVE_CONF = r"""
events {}
http {
    keepalive_timeout 30 25;
    server {
        listen 127.0.0.1:{port};
        location / {
            add_header X-C "c=[$sent_http_connection] k=[$sent_http_keep_alive] n=[$connection_requests]";
            return 200 "ok";
        }
        location /lua {
            content_by_lua_block { ngx.say(ngx.var.sent_http_connection, " ", ngx.var.sent_http_keep_alive) }
        }
    }
}
"""

KEEPALIVE_RAW = (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /lua HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                 b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


@requires_nginx
def test_keepalive_variables_over_a_socket() -> None:
    """``$sent_http_connection``/``keep_alive`` and ``$connection_requests`` on a kept
    connection, as the header filters and Lua see them."""
    from tests.server.harness import Served

    def norm(raw: bytes) -> bytes:
        return re.sub(rb"Date: [^\r]*", b"Date: D", raw)
    with RealNginx(KEEPALIVE_CONF) as real:
        expect = norm(real.request(KEEPALIVE_RAW, timeout=2))
    with Served(KEEPALIVE_CONF) as ours:
        got = norm(ours.request(KEEPALIVE_RAW, timeout=2))
    assert b"k=[timeout=25] n=[3]" in expect
    assert got == expect


CHUNKED_CONF = r"""
events {}
http {
    log_format v '$content_length|$request_body';
    access_log logs/v.log v;
    server {
        listen 127.0.0.1:{port};
        client_body_buffer_size 64k;
        location /read {
            content_by_lua_block {
                ngx.say(ngx.var.content_length)
                ngx.req.read_body()
                ngx.say(ngx.var.content_length, " [", ngx.var.request_body, "]")
            }
        }
        location /unread { content_by_lua_block { ngx.say(ngx.var.content_length) } }
    }
}
"""

CHUNKED_RAW = (b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
               b"POST /unread HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")


@requires_nginx
def test_content_length_of_a_chunked_body() -> None:
    """Not found before the body is read, then its size; 0 once it was discarded."""
    from tests.server.harness import Served

    def norm(raw: bytes) -> bytes:
        return re.sub(rb"Date: [^\r]*", b"Date: D", raw)
    with RealNginx(CHUNKED_CONF) as real:
        expect = norm(real.request(CHUNKED_RAW, timeout=2))
        time.sleep(0.1)
        expect_log = (real.prefix / "logs" / "v.log").read_text()
    with Served(CHUNKED_CONF) as ours:
        got = norm(ours.request(CHUNKED_RAW, timeout=2))
        time.sleep(0.1)
        got_log = (ours.prefix / "logs" / "v.log").read_text()
    assert expect_log == "7|abcdefg\n0|-\n"
    assert (got, got_log) == (expect, expect_log)


CONFIGS = [
    ("unknown variable", 'location / { return 200 "$nothere"; }'),
    ("$0 is a variable name", 'location / { return 200 "$0"; }'),
    ("capture in a log format", "", "log_format f '$1';"),
    ("unknown variable in set", "set $a $nothere;"),
    ("unclosed bracket", 'location / { return 200 "${uri"; }'),
    ("lone dollar", 'location / { return 200 "a$"; }'),
    ("empty bracket", 'location / { return 200 "${}"; }'),
    ("limit_rate with a variable", "set $x 1; limit_rate $x; limit_rate_after ${x}k;"),
    ("limit_rate invalid size", "limit_rate 1q;"),
    ("limit_rate_after empty", 'limit_rate_after "";'),
    ("set a built-in variable", "set $uri /x;"),
    ("set $args", "set $args a=1;"),
    ("unknown prefix-like name", 'location / { return 200 "$http"; }'),
]


@requires_nginx
@pytest.mark.parametrize("case", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_config_as_nginx(tmp_path, case) -> None:  # type: ignore[no-untyped-def]
    server, http = case[1], case[2] if len(case) > 2 else ""
    write_prefix(tmp_path, "events {}\nhttp {\n" + http + "\nserver {\n" + server + "\n}\n}\n")
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output)
