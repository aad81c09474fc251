"""A second audit of proxy_pass against real nginx: the headers sent and received,
X-Accel-*, proxy_redirect, proxy_cookie_*, $upstream_* variables and odd upstream replies.

The config's front ({port0}) proxies to two backends of the same config: {port1} echoes
the request it received (request line, headers, body) and {port2} answers with chosen
headers. A raw TCP server writes canned replies that no nginx backend would send (an
invalid header line, a 1xx, no status line), reached over the network.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.differential import Reply, Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix
from tests.proxy.harness import ProxyPair, read_head

ECHO = ('content_by_lua_block { ngx.req.read_body() '
        'ngx.print(ngx.req.raw_header(), ngx.req.get_body_data() or "") }')
P1 = "proxy_pass http://127.0.0.1:{port1}"
P2 = "proxy_pass http://127.0.0.1:{port2}"

CONF = r"""
error_log logs/error.log info;
events {}
http {
    log_format up '$request_uri $upstream_status $upstream_addr "$upstream_http_x_u" '
                  '"$upstream_cookie_sid" $limit_rate';
    access_log off;
    lua_http10_buffering off;
    proxy_set_header X-Http h;
    server {
        listen 127.0.0.1:{port0};
        server_name localhost;
        access_log logs/up.log up;
        location /d/ { P1; }
        location /own/ { proxy_set_header X-Own 1; P1; }
        location /empty/ { proxy_set_header X-Http ""; proxy_set_header User-Agent "";
                           proxy_set_header X-Arg $arg_a; P1; }
        location /noh/ { proxy_pass_request_headers off; P1; }
        location /nob/ { proxy_pass_request_body off; P2/hdr; }
        location /v11/ { proxy_http_version 1.1; P1; }
        location /meth/ { proxy_method PUT; P1; }
        location /host/ { proxy_set_header Host $host:$server_port; P1; }
        location /ph/ { proxy_pass_header Server; proxy_pass_header X-Accel-Expires;
                        proxy_pass_header X-Accel-Charset; P2; }
        location /hh/ { proxy_hide_header Set-Cookie; proxy_hide_header link; P2; }
        location /ig/ { proxy_ignore_headers X-Accel-Limit-Rate X-Accel-Charset Set-Cookie
                        Vary Expires Cache-Control X-Accel-Expires X-Accel-Buffering;
                        add_header X-LR $limit_rate; P2; }
        location /lr/ { add_header X-LR $limit_rate; P2; }
        location /cs/ { charset utf-8; P2; }
        location /xa/ { P2; }
        location /xai/ { proxy_ignore_headers X-Accel-Redirect; P2; }
        location /ie/ { proxy_intercept_errors on; error_page 404 /err; P2; }
        location /ien/ { proxy_intercept_errors on; error_page 500 /err; P2; }
        location /err { return 200 "err $status $upstream_status\n"; }
        location /internal/ { internal;
                              return 200 "internal $uri $args $request_method $http_x\n"; }
        location /internal302/ { internal; return 302 /elsewhere; }
        location @named { add_header X-Named "$args"; return 200 "named $uri $args\n"; }
        location /files/ { internal; root html; }
        location /rdd/ { P2/; proxy_redirect default; }
        location /rdo/ { proxy_redirect off; P2/; }
        location /rdx/ { proxy_redirect http://127.0.0.1:{port2}/a/ http://x.example/b/;
                         proxy_redirect ~^/rel/(.*)$ /R/$1;
                         proxy_redirect ~*^HTTP://(.+):\d+/ https://$1/; P2/; }
        location /rdv/ { proxy_redirect http://$proxy_host/ $scheme://$host/; P2/; }
        location /ck/ { proxy_cookie_domain back.example front.example;
                        proxy_cookie_domain ~\.(?<sub>[a-z]+)\.example$ .$sub.test;
                        proxy_cookie_domain .dot.example .dotted.test;
                        proxy_cookie_path /one/ /uno/; proxy_cookie_path ~*^/TWO(.*)$ /dos$1;
                        P2/; }
        location /cko/ { proxy_cookie_domain off; proxy_cookie_path off; P2/; }
        location /ckv/ { proxy_cookie_domain $arg_d $host; proxy_cookie_path $arg_p /v/; P2/; }
        location /up/ { add_header X-Up "$upstream_status|$upstream_http_x_u|$upstream_cookie_sid|$upstream_cookie_missing";
                        P2/; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { ECHO }
    }
    server {
        listen 127.0.0.1:{port2};
        location /hdr { return 200 "$request_method|$http_content_length|$http_transfer_encoding|$server_protocol|$http_host|$http_connection\n"; }
        location /ph/ { add_header X-Accel-Expires 10; add_header X-Accel-Charset utf-8;
                        return 200 "ph\n"; }
        location /hh/ { add_header Set-Cookie a=1; add_header Link "<l>"; add_header X-K k;
                        return 200 "hh\n"; }
        location /ig/ { add_header X-Accel-Limit-Rate 1000; add_header Set-Cookie s=1;
                        add_header Vary V; add_header Expires "Thu, 01 Jan 2037 00:00:00 GMT";
                        add_header Cache-Control max-age=5; add_header X-Accel-Expires 3;
                        return 200 "ig\n"; }
        location /lr/ { add_header X-Accel-Limit-Rate 2048; return 200 "lr\n"; }
        location /lr/off { add_header X-Accel-Limit-Rate off; return 200 "lr\n"; }
        location /lr/bad { add_header X-Accel-Limit-Rate 12x; return 200 "lr\n"; }
        location /cs/ { add_header X-Accel-Charset windows-1251; default_type text/html;
                        return 200 "cs\n"; }
        location /cs/unknown { add_header X-Accel-Charset nosuch; default_type text/html;
                               return 200 "cs\n"; }
        location /cs/plain { default_type text/html; return 200 "cs\n"; }
        location /xa/args { add_header X-Accel-Redirect "/internal/a?b=1&c=2"; return 200; }
        location /xa/hdrs { add_header X-Accel-Redirect /internal/h; add_header Set-Cookie c=1;
                            add_header Cache-Control no-store; add_header Expires x;
                            add_header Content-Disposition attachment;
                            add_header Accept-Ranges none; add_header X-Other o;
                            add_header Link "<l>"; add_header Vary V; add_header ETag '"t"';
                            add_header Last-Modified "Mon, 01 Jan 2001 00:00:00 GMT";
                            default_type text/x-up; return 200 "body"; }
        location /xa/file { add_header X-Accel-Redirect /files/f.txt; add_header X-Other o;
                            add_header Content-Disposition attachment; return 200; }
        location /xa/tofound { add_header X-Accel-Redirect /internal302/; add_header Set-Cookie r=1;
                               add_header Accept-Ranges bytes; add_header X-Accel-Limit-Rate 99;
                               return 200; }
        location /xa/typed { add_header X-Accel-Redirect /files/f.txt; default_type text/x-up;
                             return 200; }
        location /xa/named { add_header X-Accel-Redirect "@named"; return 200; }
        location /xa/unsafe { add_header X-Accel-Redirect "/internal/../x"; return 200; }
        location /xa/escaped { add_header X-Accel-Redirect "/internal/%41%20b?x=%41"; return 200; }
        location /xa/s404 { add_header X-Accel-Redirect "/internal/n"; return 404; }
        location /ie/ { return 404 "backend 404\n"; }
        location /ien/ { return 404 "backend 404\n"; }
        location /loc { add_header Location $arg_l; return 302; }
        location /ck { add_header Set-Cookie "a=1; Domain=back.example; Path=/one/x";
                       add_header Set-Cookie "b=2; path=/two/y; domain=.sub.example";
                       add_header Set-Cookie "c=3; Path=/two/z; Domain=.other.example; Secure";
                       add_header Set-Cookie "d=4;domain=BACK.example;path=/one/";
                       add_header Set-Cookie "e=5";
                       add_header Set-Cookie "f=6;  Domain = .dot.example ;path=/nomatch;";
                       return 200 "ck\n"; }
        location /up { add_header X-U u1; add_header Set-Cookie "sid=abc; Path=/";
                       add_header Set-Cookie "x=1"; return 200 "up\n"; }
        location /multi { add_header WWW-Authenticate "Basic realm=a";
                          add_header WWW-Authenticate "Bearer"; add_header Vary A;
                          add_header Vary B; add_header Link "<a>"; add_header Link "<b>";
                          add_header Set-Cookie a=1; add_header Set-Cookie b=2; return 401; }
    }
}
""".replace("ECHO", ECHO).replace("P1", P1).replace("P2", P2)

FILES = {"html/files/f.txt": "file\n"}
H = [("Host", "localhost")]

CASES = [
    # what the backend receives
    ("defaults: Host, Connection, the client's headers",
     Req("GET", "/d/x?q=1", H + [("User-Agent", "ua"), ("Connection", "keep-alive"),
                                   ("Keep-Alive", "300"), ("TE", "trailers"),
                                   ("Upgrade", "h2c"), ("X-Two", "1"), ("X-Two", "2")])),
    ("a body with Content-Length", Req("POST", "/d/x", H, b"hello")),
    ("a location's own proxy_set_header replaces http's", Req("GET", "/own/x")),
    ("empty values are not sent", Req("GET", "/empty/x?a=", H + [("User-Agent", "ua")])),
    ("a variable value sent when not empty", Req("GET", "/empty/x?a=7")),
    ("proxy_pass_request_headers off", Req("GET", "/noh/x", H + [("X-C", "c")])),
    ("proxy_pass_request_body off", Req("POST", "/nob/x", H, b"hello")),
    ("proxy_http_version 1.1", Req("GET", "/v11/x")),
    ("proxy_method", Req("GET", "/meth/x")),
    ("Host with variables", Req("GET", "/host/x")),
    ("an HTTP/1.0 client", Req("GET", "/d/x", [], version="HTTP/1.0")),
    # response headers
    ("proxy_pass_header X-Accel-Expires, X-Accel-Charset", Req("GET", "/ph/x")),
    ("proxy_hide_header", Req("GET", "/hh/x")),
    ("proxy_ignore_headers: headers still passed", Req("GET", "/ig/x")),
    ("X-Accel-Limit-Rate sets $limit_rate", Req("GET", "/lr/x")),
    ("X-Accel-Limit-Rate off", Req("GET", "/lr/off")),
    ("X-Accel-Limit-Rate invalid", Req("GET", "/lr/bad")),
    ("X-Accel-Charset with charset", Req("GET", "/cs/x")),
    ("X-Accel-Charset unknown", Req("GET", "/cs/unknown")),
    ("no X-Accel-Charset", Req("GET", "/cs/plain")),
    ("several WWW-Authenticate, Vary, Link, Set-Cookie", Req("GET", "/up/multi")),
    # X-Accel-Redirect
    ("with args", Req("GET", "/xa/args?orig=1", H + [("X", "hx")])),
    ("which upstream headers survive", Req("GET", "/xa/hdrs")),
    ("to a static file", Req("GET", "/xa/file")),
    ("to a 302: Accept-Ranges dropped, limit rate kept", Req("GET", "/xa/tofound")),
    ("a backend Content-Type wins over the file's", Req("GET", "/xa/typed")),
    ("to a named location", Req("GET", "/xa/named?n=1")),
    ("an unsafe URI", Req("GET", "/xa/unsafe")),
    ("an escaped URI", Req("GET", "/xa/escaped")),
    ("on a 404", Req("GET", "/xa/s404")),
    ("ignored", Req("GET", "/xai/args")),
    # proxy_intercept_errors
    ("404 with a matching error_page", Req("GET", "/ie/x")),
    ("404 without a matching error_page", Req("GET", "/ien/x")),
    # proxy_redirect
    ("default", Req("GET", "/rdd/loc?l=http://127.0.0.1:{port2}/z")),
    ("off", Req("GET", "/rdo/loc?l=http://127.0.0.1:{port2}/z")),
    ("explicit: first rule", Req("GET", "/rdx/loc?l=http://127.0.0.1:{port2}/a/q")),
    ("explicit: regex on a relative Location", Req("GET", "/rdx/loc?l=/rel/p")),
    ("explicit: case-insensitive regex", Req("GET", "/rdx/loc?l=http://127.0.0.1:{port2}/c")),
    ("explicit: no rule matches", Req("GET", "/rdx/loc?l=ftp://x/")),
    ("variables in both parts", Req("GET", "/rdv/loc?l=http://127.0.0.1:{port2}/y")),
    ("an empty Location", Req("GET", "/rdd/loc")),
    # proxy_cookie_*
    ("cookie domain and path rewritten", Req("GET", "/ck/ck")),
    ("cookie rewriting off", Req("GET", "/cko/ck")),
    ("cookie rules with variables", Req("GET", "/ckv/ck?d=back.example&p=/one/x")),
    # $upstream_* in add_header
    ("upstream variables", Req("GET", "/up/up")),
    ("an upstream cookie variable without Set-Cookie", Req("GET", "/up/hdr")),
]


@pytest.fixture(scope="module")
def pair():
    with ProxyPair(CONF, extra_ports=2, files=FILES) as p:
        yield p


def _fill(pair: ProxyPair, req: Req) -> Req:
    return Req(req.method, req.target.replace("{port2}", str(pair.ports[2])), req.headers,
               req.body, req.version)


def _same(real: Reply, ours: Reply) -> None:
    """The replies compared as a client reads them (the oracle's parser trims header
    values; the engine's are compared trimmed too)."""
    ours = Reply(ours.status, ours.reason, [(k, v.strip()) for k, v in ours.headers],
                 ours.body)
    assert ours.comparable() == real.comparable()


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(_fill(pair, req))
    _same(real, ours)


@requires_nginx
@pytest.mark.parametrize("chunks,body", [(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
                                         (b"0\r\n\r\n", b"")], ids=["some", "empty"])
def test_chunked_body_goes_with_its_length(pair, chunks, body):
    """A chunked body is read whole and sent with a Content-Length (0 too). The engine's
    listener hands the decoded body on, so the engine gets that."""
    heads = H + [("Transfer-Encoding", "chunked")]
    real = pair.ask_real(Req("POST", "/d/x", heads, chunks))
    ours = pair.ask_engine(Req("POST", "/d/x", heads, body))
    _same(real, ours)


@requires_nginx
def test_error_log_and_access_log(pair):
    for _, req in CASES:
        pair.both(_fill(pair, req))
    time.sleep(0.1)
    real = [ln.replace(str(pair.real.prefix), "PREFIX") for ln in pair.real_errors()
            if "[notice]" not in ln and "[info]" not in ln]
    ours = [ln.replace(str(pair.prefix), "PREFIX") for ln in pair.engine_errors()
            if "[notice]" not in ln and "[info]" not in ln]
    assert sorted(ours) == sorted(real)
    real_access = (pair.real.prefix / "logs/up.log").read_text().splitlines()
    ours_access = (pair.prefix / "logs/up.log").read_text().splitlines()
    assert sorted(ours_access) == sorted(real_access)


# --- configuration errors -------------------------------------------------------------------

def _conf(body: str) -> str:
    return ("events {}\nhttp {\n    server {\n        listen 127.0.0.1:8999;\n"
            f"        {body}\n    }}\n}}\n")


LOC = "location / { proxy_pass http://127.0.0.1:1; %s }"
CONF_CASES = [
    ("one argument", _conf(LOC % "proxy_cookie_domain x;")),
    ("off then a rule", _conf(LOC % "proxy_cookie_domain off; proxy_cookie_domain a b;")),
    ("a rule then off", _conf(LOC % "proxy_cookie_path a b; proxy_cookie_path off;")),
    ("off twice", _conf(LOC % "proxy_cookie_path off; proxy_cookie_path off;")),
    ("a bad regex", _conf(LOC % "proxy_cookie_domain ~( b;")),
    ("a bad caseless regex", _conf(LOC % "proxy_cookie_path ~*( b;")),
    ("an unknown variable", _conf(LOC % "proxy_cookie_path $nosuch b;")),
    ("three arguments", _conf(LOC % "proxy_cookie_path a b c;")),
    ("one argument outside a proxied location", _conf("proxy_cookie_path x;")),
    ("two rules of one pattern are fine", _conf(LOC % "proxy_cookie_domain a b; proxy_cookie_domain a c;")),
    ("proxy_redirect default before proxy_pass",
     _conf("location / { proxy_redirect default; proxy_pass http://127.0.0.1:1; }")),
]


@requires_nginx
@pytest.mark.parametrize("text", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_same_config_error_as_nginx(tmp_path: Path, text: str) -> None:
    write_prefix(tmp_path, text)
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output)


# --- header lines nginx's parser refuses --------------------------------------------------

BAD = {
    "badline": b"HTTP/1.1 200 OK\r\nX-Good: 1\r\nBad Line Here\r\nContent-Length: 2\r\n\r\nok",
    "badname": b"HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok",
    "colon": b"HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 2\r\n\r\nok",
}


def _serve_bad(sock: socket.socket) -> None:
    """Answer each request with BAD[its path], then close."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            data = read_head(conn)
            name = data.split(b" ")[1][1:].decode() if b" " in data else ""
            conn.sendall(BAD.get(name, b"HTTP/1.1 404 Not Found\r\n\r\n"))
            time.sleep(0.02)


@pytest.fixture(scope="module")
def bad_pair():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    threading.Thread(target=_serve_bad, args=(sock,), daemon=True).start()
    conf = ("error_log logs/error.log;\nevents {}\nhttp {\n access_log off;\n server {\n"
            " listen 127.0.0.1:{port0};\n server_name localhost;\n"
            f" location / {{ proxy_pass http://127.0.0.1:{sock.getsockname()[1]}; }}\n }}\n}}\n")
    with ProxyPair(conf, extra_ports=0) as p:
        yield p
    sock.close()


@requires_nginx
@pytest.mark.parametrize("name", sorted(BAD))
def test_invalid_header_line(bad_pair, name):
    """A 502, and nginx's log line naming the line up to the refused byte."""
    before_real, before_ours = len(bad_pair.real_errors()), len(bad_pair.engine_errors())
    real, ours = bad_pair.both(Req("GET", "/" + name))
    assert real.status == 502
    _same(real, ours)
    real_log = [ln for ln in bad_pair.real_errors()[before_real:] if "[notice]" not in ln]
    ours_log = [ln for ln in bad_pair.engine_errors()[before_ours:] if "[notice]" not in ln]
    assert ours_log == real_log and real_log
