"""ngx_http_realip_module and ngx_http_geo_module against real nginx.

realip: the trusted peer (127.0.0.1 here) sends X-Real-IP, X-Forwarded-For (recursive or
not, several headers) or another header; the server-level configuration applies in the
post-read phase, the location's in preaccess (after ``return``), once per request; odd
values (ports, IPv6 forms, garbage, empty elements) are taken or ignored as nginx does;
the new address reaches $remote_addr, $remote_port, $binary_remote_addr, allow/deny, the
error log's ``client:``, the access log and geo, and not the next keep-alive request.
geo: longest prefix, IPv6, a variable as source, ranges, proxy/proxy_recursive, include,
delete, literal values; bad entries give nginx -t's errors and warnings.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from engine import ConfigError, Engine, HttpRequest
from tests.differential import Req
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    log_format ra '$remote_addr $realip_remote_addr "$http_x_real_ip" $g';
    access_log logs/access.log ra;
    root html;
    # the peer's own port differs between the two servers: only its kind is shown
    map $remote_port $rp { "" none; 8080 8080; 99 99; 77 77; default peer; }
    geo $g {
        default    dflt;
        127.0.0.0/8 lo8;
        127.0.0.1  lo32;
        10.0.0.0/8 ten;
        10.1.0.0/16 ten-one;
        10.1.2.0/24 gone;
        ::1        v6lo;
        2001:db8::/32 doc;
        1.2.3.4    "$remote_addr";
        include    geo.inc;
        delete     10.1.2.0/24;
    }
    geo $arg_ip $ga {
        10.0.0.0/8 ten;
        2001:db8::/32 doc;
        255.255.255.255 none;
    }
    geo $arg_ip $gnd {
        10.0.0.0/8 ten;
    }
    geo $arg_ip $gr {
        ranges;
        default rdflt;
        10.0.0.0-10.0.255.255 a;
        10.0.3.0-10.0.3.255 b;
        10.0.3.0-10.0.3.200 c;
        10.1.0.10-10.2.0.5 d;
        10.3.0.0-10.3.0.9 e;
        delete 10.3.0.0-10.3.0.9;
    }
    geo $gp {
        proxy 127.0.0.1;
        proxy 10.0.0.0/8;
        default no;
        9.9.9.9 nine;
        10.1.1.1 ten;
        ::1 v6;
    }
    geo $gpr {
        proxy 127.0.0.1;
        proxy 10.0.0.0/8;
        proxy_recursive;
        default no;
        9.9.9.9 nine;
        10.1.1.1 ten;
    }
    geo $gs { default a; }
    server {
        listen 127.0.0.1:{port};
        server_name real.test;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from unix:;
        location / {
            return 200 "ra=$remote_addr rp=$rp rra=$realip_remote_addr g=$g gp=$gp\n";
        }
        # bytes from 0x80 up would test how the engine writes a variable's bytes
        location /bin { return 200 "$binary_remote_addr"; }
        location /deny { deny 1.2.3.4; }
        location /missing { }
        location /xff {
            real_ip_header X-Forwarded-For;
            add_header X-A "$remote_addr:$rp" always;
        }
        location /ep { real_ip_header X-Forwarded-For; error_page 404 = /final; }
        location /final { real_ip_header X-Other; return 200 "final ra=$remote_addr\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name loc.test;
        location / { set_real_ip_from 127.0.0.1; return 200 "ra=$remote_addr\n"; }
        location /s {
            set_real_ip_from 127.0.0.1;
            add_header X-A "$remote_addr:$rp:$realip_remote_addr:$g" always;
        }
        location /r {
            set_real_ip_from 127.0.0.1;
            set_real_ip_from 10.0.0.0/8;
            real_ip_recursive on;
            real_ip_header X-Forwarded-For;
            add_header X-A "$remote_addr:$rp" always;
        }
        location /x {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            add_header X-A "$remote_addr" always;
        }
        location /c {
            set_real_ip_from localhost;
            real_ip_header X-Client;
            add_header X-A "$remote_addr" always;
        }
        location /untrusted {
            set_real_ip_from 10.0.0.0/8;
            add_header X-A "$remote_addr" always;
        }
    }
    server {
        listen 127.0.0.1:{port};
        server_name geo.test;
        location / { return 200 "ga=$ga gnd=[$gnd] gr=$gr\n"; }
        location /p { return 200 "gp=$gp gpr=$gpr\n"; }
        location /set { set $gs changed; return 200 "gs=$gs\n"; }
    }
}
"""

FILES = {"conf/geo.inc": "10.2.0.0/16 inc;\n", "html/s": "s\n", "html/r": "r\n",
         "html/x": "x\n", "html/c": "c\n", "html/untrusted": "u\n", "html/xff": "xff\n",
         "html/deny": "no\n"}


def req(host: str, target: str, *headers: tuple[str, str]) -> Req:
    return Req("GET", target, [("Host", host), *headers])


def real(target: str, *headers: tuple[str, str]) -> Req:
    return req("real.test", target, *headers)


def loc(target: str, *headers: tuple[str, str]) -> Req:
    return req("loc.test", target, *headers)


def geo(target: str, *headers: tuple[str, str]) -> Req:
    return req("geo.test", target, *headers)


XRI = "X-Real-IP"
XFF = "X-Forwarded-For"

CASES = [
    ("x-real-ip", real("/", (XRI, "1.2.3.4"))),
    ("x-real-ip with port", real("/", (XRI, "1.2.3.4:8080"))),
    ("x-real-ip port 0 ignored", real("/", (XRI, "1.2.3.4:0"))),
    ("x-real-ip leading zero octet", real("/", (XRI, "01.2.3.4"))),
    ("x-real-ip list: last element", real("/", (XRI, "1.2.3.4, 5.6.7.8"))),
    ("two x-real-ip: the first", real("/", (XRI, "1.2.3.4"), (XRI, "5.6.7.8"))),
    ("x-real-ip ipv6", real("/", (XRI, "2001:DB8:0:0:1:0:0:1"))),
    ("x-real-ip ipv6 bracketed with port", real("/", (XRI, "[::1]:99"))),
    ("x-real-ip v4-mapped", real("/", (XRI, "::ffff:1.2.3.4"))),
    ("x-real-ip v4-compatible", real("/", (XRI, "::ffff:a"))),
    ("x-real-ip zone id ignored", real("/", (XRI, "fe80::1%eth0"))),
    ("x-real-ip garbage ignored", real("/", (XRI, "garbage"))),
    ("x-real-ip broadcast ignored", real("/", (XRI, "255.255.255.255"))),
    ("x-real-ip comma only", real("/", (XRI, ","))),
    ("x-real-ip semicolon", real("/", (XRI, "1.2.3.4;"))),
    ("no header", real("/")),
    ("binary address", real("/bin", (XRI, "1.2.3.4"))),
    ("binary address ipv6", real("/bin", (XRI, "::1"))),
    ("binary address unchanged", real("/bin")),
    ("geo sees the new address", real("/", (XRI, "10.1.1.1"))),
    ("geo literal value", real("/", (XRI, "1.2.3.4"), (XFF, "9.9.9.9"))),
    ("geo include", real("/", (XRI, "10.2.3.4"))),
    ("geo deleted network", real("/", (XRI, "10.1.2.3"))),
    ("geo ipv6", real("/", (XRI, "::1"))),
    ("deny sees the new address", real("/deny", (XRI, "1.2.3.4"))),
    ("deny: other address", real("/deny", (XRI, "1.2.3.5"))),
    ("server x-real-ip wins over location xff", real("/xff", (XFF, "5.5.5.5"), (XRI, "6.6.6.6"))),
    ("location xff in preaccess", real("/xff", (XFF, "5.5.5.5"))),
    ("not redone after error_page", real("/ep", (XFF, "7.7.7.7"), ("X-Other", "8.8.8.8"))),
    ("error_page target does its own", real("/ep", ("X-Other", "8.8.8.8"))),
    ("return runs before preaccess", loc("/", (XRI, "1.2.3.4"))),
    ("location realip", loc("/s", (XRI, "1.2.3.4"))),
    ("xff non-recursive: last", loc("/x", (XFF, "9.9.9.9, 10.1.1.1, 1.2.3.4"))),
    ("xff several headers: last", loc("/x", (XFF, "9.9.9.9, 10.1.1.1"), (XFF, "1.1.1.1"))),
    ("xff with port", loc("/x", (XFF, "1.2.3.4:77"))),
    ("xff recursive", loc("/r", (XFF, "9.9.9.9, 10.1.1.1, 10.2.2.2"))),
    ("xff recursive over headers", loc("/r", (XFF, "9.9.9.9, 10.1.1.1"), (XFF, "10.2.2.2"))),
    ("xff recursive all trusted", loc("/r", (XFF, "10.0.0.1, 10.1.1.1"))),
    ("xff recursive stops at garbage", loc("/r", (XFF, "junk, 10.1.1.1"))),
    ("xff recursive empty elements", loc("/r", (XFF, "9.9.9.9,, ,10.1.1.1,  "))),
    ("xff leading comma", loc("/r", (XFF, ",9.9.9.9"))),
    ("xff recursive v4-mapped trusted", loc("/r", (XFF, "9.9.9.9, ::ffff:10.1.1.1"))),
    ("xff recursive port kept", loc("/r", (XFF, "1.2.3.4:8080, 10.0.0.1"))),
    ("custom header, first of them", loc("/c", ("x-client", "1.2.3.4"), ("X-Client", "5.5.5.5"))),
    ("peer not trusted", loc("/untrusted", (XRI, "1.2.3.4"))),
    ("geo source: no arg", geo("/")),
    ("geo source: network", geo("/?ip=10.5.5.5")),
    ("geo source: ipv6", geo("/?ip=2001:db8::5")),
    ("geo source: ipv6 no match", geo("/?ip=::1")),
    ("geo source: v4-mapped", geo("/?ip=::ffff:10.0.0.1")),
    ("geo source: garbage", geo("/?ip=garbage")),
    ("geo source: port not allowed", geo("/?ip=10.0.0.1:80")),
    ("geo source: empty", geo("/?ip=")),
    ("geo ranges split", geo("/?ip=10.0.3.100")),
    ("geo ranges split tail", geo("/?ip=10.0.3.250")),
    ("geo ranges over two /16", geo("/?ip=10.1.9.9")),
    ("geo ranges second /16", geo("/?ip=10.2.0.5")),
    ("geo ranges second /16 start", geo("/?ip=10.2.0.0")),
    ("geo ranges past the end", geo("/?ip=10.2.0.6")),
    ("geo ranges deleted", geo("/?ip=10.3.0.1")),
    ("geo proxy: no header", geo("/p")),
    ("geo proxy", geo("/p", (XFF, "9.9.9.9, 10.1.1.1"))),
    ("geo proxy recursive", geo("/p", (XFF, "8.8.8.8, 9.9.9.9, 10.2.2.2"))),
    ("geo proxy ipv6", geo("/p", (XFF, "::1"))),
    ("geo proxy garbage", geo("/p", (XFF, "junk"))),
    ("geo variable is changeable", geo("/set")),
]


@requires_nginx
@pytest.mark.parametrize("name,request_", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, request_):
    real_reply, ours = pair.both(request_)
    assert ours.comparable() == real_reply.comparable()


_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def _new_lines(path: Path, seen: dict, prefix: Path) -> list[str]:
    text = path.read_text() if path.exists() else ""
    fresh, seen[path] = text[seen.get(path, 0):], len(text)
    fresh = fresh.replace(str(prefix).rstrip("/"), "{prefix}")
    return [_PREFIX.sub(lambda m: f"[{m.group(1)}] ", line) for line in fresh.splitlines()
            if "client closed connection while waiting" not in line]


LOGGED = [
    ("deny", real("/deny", (XRI, "1.2.3.4"))),
    ("missing file", real("/missing", (XRI, "::ffff:1.2.3.4"))),
    ("missing file, location realip", loc("/nothere/s", (XRI, "1.2.3.4"))),
    ("unchanged", real("/missing")),
    ("recursive", loc("/r/x", (XFF, "9.9.9.9, 10.1.1.1"))),
]


@requires_nginx
@pytest.mark.parametrize("name,request_", LOGGED, ids=[c[0] for c in LOGGED])
def test_same_logs_as_nginx(pair, name, request_):
    """Error log ``client:`` and the access log's $remote_addr/$realip_remote_addr."""
    seen = pair.__dict__.setdefault("_seen", {})
    logs = [(pair.real.prefix / "logs" / n, pair.prefix / "logs" / n)
            for n in ("error.log", "access.log")]
    for theirs, ours in logs:
        _new_lines(theirs, seen, pair.real.prefix), _new_lines(ours, seen, pair.prefix)
    pair.both(request_)
    time.sleep(0.05)  # nginx writes its log lines after the response
    for theirs, ours in logs:
        assert _new_lines(ours, seen, pair.prefix) == _new_lines(theirs, seen,
                                                                 pair.real.prefix)


@requires_nginx
def test_keepalive_next_request_sees_the_peer(pair):
    """nginx restores the connection's address when the request ends."""
    raw = (b"GET / HTTP/1.1\r\nHost: real.test\r\nX-Real-IP: 1.2.3.4\r\n\r\n"
           b"GET / HTTP/1.1\r\nHost: real.test\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", pair.port), timeout=5) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    theirs = re.findall(rb"^ra=(\S+)", data, re.M)
    ours = []
    for n, headers in enumerate([[("X-Real-IP", "1.2.3.4")], [("Connection", "close")]]):
        http = HttpRequest("GET", "/", "HTTP/1.1", [("Host", "real.test"), *headers],
                           b"", "127.0.0.1", 40000, "127.0.0.1", pair.port,
                           connection=999, connection_requests=n + 1)
        ex = pair.loop.run_until_complete(pair.engine.request(http))
        ours += re.findall(rb"^ra=(\S+)", ex.response.body, re.M)
    assert theirs == ours == [b"1.2.3.4", b"127.0.0.1"]


@requires_nginx
def test_trace_names_the_header(pair):
    http = HttpRequest("GET", "/r", "HTTP/1.1", [("Host", "loc.test"),
                                                  (XFF, "9.9.9.9, 10.1.1.1")])
    ex = pair.loop.run_until_complete(pair.engine.request(http))
    events = [e.data for e in ex.trace if e.kind == "realip"]
    assert events == [{"addr": "9.9.9.9", "port": 0, "header": "X-Forwarded-For",
                       "peer": "127.0.0.1:51000", "recursive": True}]


H = "events {}\nhttp {\n%s\n}\n"
G = "geo $g {\n%s\n}"

BAD = [
    ("realip host not found", "set_real_ip_from garbage;"),
    ("realip mask too long", "set_real_ip_from 1.2.3.4/33;"),
    ("realip all", "set_real_ip_from all;"),
    ("realip ipv6 mask", "set_real_ip_from ::1/129;"),
    ("realip port", "set_real_ip_from 1.2.3.4:80;"),
    ("realip empty mask", "set_real_ip_from 1.2.3.4/;"),
    ("realip unix path", "set_real_ip_from unix:/tmp/x;"),
    ("realip recursive value", "real_ip_recursive maybe;"),
    ("realip header arguments", "real_ip_header;"),
    ("realip header duplicate", "server { real_ip_header X-Forwarded-For; real_ip_header A; }"),
    ("geo entry arguments", G % "10.0.0.0/8 a b;"),
    ("geo invalid network", G % "garbage a;"),
    ("geo network mask", G % "10.0.0.0/33 a;"),
    ("geo short address", G % "1.2.3 a;"),
    ("geo ranges not first", G % "default a;\nranges;"),
    ("geo range overlaps", G % "ranges;\n10.0.0.1-10.0.0.9 a;\n10.0.0.5-10.0.0.20 b;"),
    ("geo range overlaps a /16", G % "ranges;\n10.0.0.0-10.0.255.255 a;\n"
                                     "10.0.3.0-10.0.3.255 b;\n10.0.0.10-10.2.0.5 d;"),
    ("geo range reversed", G % "ranges;\n10.0.0.9-10.0.0.1 a;"),
    ("geo range is a cidr", G % "ranges;\n10.0.0.0/8 a;"),
    ("geo range broadcast", G % "ranges;\n255.255.255.0-255.255.255.255 a;"),
    ("geo proxy invalid", G % "proxy garbage;"),
    ("geo proxy_recursive argument", G % "proxy_recursive x;"),
    ("geo ranges argument", G % "ranges x;"),
    ("geo ranges proxy_recursive argument", G % "ranges;\nproxy_recursive x;"),
    ("geo include missing", G % "include nothere;"),
    ("geo delete arguments", G % "delete 10.0.0.0/8 x;"),
    ("geo variable name", "geo g { }"),
    ("geo source name", "geo a $g { }"),
    ("geo unknown source", "geo $nonexist $g { }"),
    ("geo too many arguments", "geo $a $b $c { }"),
    ("geo no block", "geo $g;"),
    ("geo duplicate core variable", "geo $remote_addr { }"),
    ("valid: realip", "set_real_ip_from localhost; set_real_ip_from unix:; set_real_ip_from "
                      "255.255.255.255; set_real_ip_from 0.0.0.0/0; set_real_ip_from 1.2.3;"),
    ("valid: geo twice", "geo $g { }\ngeo $g { }\ngeo $arg_x $h { 255.255.255.255 a; }"),
]


def _load(prefix: Path) -> Engine:
    return Engine.load(str(prefix / "conf/nginx.conf"), prefix=str(prefix) + "/")


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_same_config_error_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, H % body, {"conf/inc.conf": "10.0.0.0/8 inc;\n"})
    try:
        _load(tmp_path)
        ours = None
    except ConfigError as exc:
        ours = str(exc)
    assert ours == first_emerg(nginx_test(tmp_path).output)


WARNED = [
    ("realip low bits", "set_real_ip_from 10.1.2.3/8; set_real_ip_from 2001:db8::1/32;"),
    ("geo low bits", G % "10.1.0.0/8 a;\nproxy 10.0.0.1/8;"),
    ("geo duplicate network", G % "10.0.0.0/8 a;\n10.0.0.0/8 b;"),
    ("geo duplicate: longest old value", G % "10.0.0.0/8 a;\n10.0.0.0/16 b;\n10.0.0.0/8 c;"),
    ("geo duplicate default", G % "default a;\ndefault b;"),
    ("geo duplicate ipv6", G % "::1/128 a;\n::1 b;"),
    ("geo delete missing", G % "delete 10.0.0.0/8;\ndelete 0.0.0.0/2;\ndelete ::/0;"),
    ("geo delete preallocated", G % "delete 4.0.0.0/6;\ndelete 8.0.0.0/7;\n"
                                         "10.0.0.0/8 a;\ndelete 10.0.0.0/8;"),
    ("geo duplicate range", G % "ranges;\n10.0.0.1-10.0.0.9 a;\n10.0.0.1-10.0.0.9 b;"),
    ("geo duplicate range over a /16", G % "ranges;\n10.0.0.0-10.0.255.255 a;\n"
                                           "10.0.0.0-10.1.0.5 b;"),
    ("geo duplicate range default", G % "ranges;\ndefault a;\ndefault b;"),
    ("geo delete missing range", G % "ranges;\n10.0.0.1-10.0.0.9 a;\n"
                                     "delete 10.0.0.1-10.0.0.8;\ndelete 10.0.0.1-10.0.0.9;"),
    ("geo include", G % "include inc.conf;\n10.0.0.0/8 b;"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in WARNED], ids=[c[0] for c in WARNED])
def test_same_config_warnings_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, H % body, {"conf/inc.conf": "10.0.0.0/8 inc;\n"})
    output = nginx_test(tmp_path).output.replace(str(tmp_path), "{prefix}")
    theirs = re.findall(r"\[warn\] \d+#\d+: (.*)", output)
    warnings = _load(tmp_path).http.services.get("config_warnings", [])
    ours = [f"{msg} in {file}:{line}".replace(str(tmp_path), "{prefix}")
            for msg, file, line in warnings]
    assert theirs and ours == theirs
