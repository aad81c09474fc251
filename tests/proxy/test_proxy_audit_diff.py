"""An audit of proxying against real nginx: request headers, response headers, redirects,
intercepted errors, X-Accel-*, conditionals, odd upstream replies and broken upstreams.

Two configurations: a front with in-process Lua/`return` backends ({port1} echoes the
request it received, {port2} answers with chosen headers, {port3} is a second peer,
nobody listens on {port4}); and a front before a raw TCP server that writes canned
replies byte for byte (what no nginx backend would send), which the engine reaches over
httpx. Replies and error-log lines are compared.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from engine import ConfigError, Engine
from tests.differential import Req
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix
from tests.proxy.harness import ProxyPair, read_head

ECHO = ('content_by_lua_block { ngx.req.read_body() '
        'ngx.print(ngx.req.raw_header(), ngx.req.get_body_data() or "") }')
LM = "Mon, 01 Jan 2001 00:00:00 GMT"

CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    lua_http10_buffering off;
    proxy_set_header X-Http-Level h;
    upstream two { server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream bad2 { server 127.0.0.1:{port4}; server 127.0.0.1:{port2}; }
    server {
        listen 127.0.0.1:{port0};
        server_name localhost;
        proxy_set_header X-Srv s;
        location /inh/ { proxy_pass http://127.0.0.1:{port1}; }
        location /inh2/ { location /inh2/in/ { proxy_pass http://127.0.0.1:{port1}; } }
        location /ovr/ { proxy_set_header Host ""; proxy_set_header Connection "";
                         proxy_set_header X-E ""; proxy_pass http://127.0.0.1:{port1}; }
        location /dup/ { proxy_set_header X-D 1; proxy_set_header X-D 2; proxy_set_header x-d 3;
                         proxy_pass http://127.0.0.1:{port1}; }
        location /var/ { proxy_set_header X-V "$request_method|$arg_a|$http_x_in";
                         proxy_pass http://127.0.0.1:{port1}; }
        location /cl/ { proxy_set_header Content-Length 3; proxy_pass http://127.0.0.1:{port1}; }
        location /hide/ { proxy_hide_header X-Custom; proxy_hide_header Content-Type;
                          proxy_pass http://127.0.0.1:{port2}/r/; }
        location /passdate/ { proxy_pass_header Date; proxy_pass_header X-Accel-Foo;
                              proxy_pass_header X-Pad; proxy_pass http://127.0.0.1:{port2}/r/; }
        location /rd1/ { proxy_pass http://127.0.0.1:{port2}/; }
        location /rd2/ { proxy_redirect http://127.0.0.1:{port2}/ /new/; proxy_pass http://127.0.0.1:{port2}/; }
        location /rd3/ { proxy_redirect ~^http://[^/]+/(.*)$ http://re.example/$1?x;
                         proxy_pass http://127.0.0.1:{port2}/; }
        location /rd4/ { proxy_redirect ~*^HTTP://127 http://ci.example; proxy_pass http://127.0.0.1:{port2}/; }
        location /rd5/ { proxy_redirect http://127.0.0.1:{port2}/ http://$host:$server_port/v/;
                         proxy_pass http://127.0.0.1:{port2}/; }
        location /rd6/ { proxy_pass http://127.0.0.1:{port2}/; proxy_redirect default; proxy_redirect / /slash/; }
        location /rd7/ { proxy_redirect http://127.0.0.1:{port2}/ /z/; proxy_pass http://127.0.0.1:{port2}/; }
        location /ie/ { proxy_intercept_errors on; error_page 500 502 /err; proxy_pass http://127.0.0.1:{port2}/; }
        location /ie404/ { proxy_intercept_errors on; proxy_pass http://127.0.0.1:{port2}/; }
        location /ie401/ { proxy_intercept_errors on; error_page 401 /err; proxy_pass http://127.0.0.1:{port2}/; }
        location /ie302/ { proxy_intercept_errors on; error_page 302 =200 /err; proxy_pass http://127.0.0.1:{port2}/; }
        location /err { return 200 "err page $status\n"; }
        location /xa/ { proxy_pass http://127.0.0.1:{port2}/; }
        location /xai/ { proxy_ignore_headers X-Accel-Redirect; proxy_pass http://127.0.0.1:{port2}/; }
        location /internal/ { internal; return 200 "internal $uri $args $request_method\n"; }
        location @named { return 200 "named\n"; }
        location /meth/ { proxy_method $arg_m; proxy_pass http://127.0.0.1:{port1}; }
        location /setbody/ { proxy_set_body "b=$arg_b"; proxy_pass http://127.0.0.1:{port1}; }
        location /nobody/ { proxy_pass_request_body off; proxy_set_header Content-Length "";
                            proxy_pass http://127.0.0.1:{port1}; }
        location /tries/ { add_header X-U "$upstream_addr|$upstream_status|$upstream_response_length";
                           proxy_pass http://bad2/; }
        location /two/ { add_header X-U "$upstream_addr|$upstream_status";
                         proxy_next_upstream error http_404; proxy_pass http://two/; }
        location /chain/ { proxy_intercept_errors on; error_page 404 = /two/s404;
                           add_header X-U "$upstream_addr|$upstream_status" always;
                           proxy_pass http://127.0.0.1:{port2}/; }
        location /v11/ { proxy_http_version 1.1; proxy_pass http://127.0.0.1:{port2}/; }
        location /hdrs/ { proxy_pass http://127.0.0.1:{port2}/; }
        location /nb/ { proxy_buffering off; proxy_pass http://127.0.0.1:{port2}/; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { ECHO }
    }
    server {
        listen 127.0.0.1:{port2};
        location /r/ { add_header X-Custom 1; add_header X-Accel-Foo 2; add_header X-Pad 3; return 200 "r\n"; }
        location /loc { return 302 http://127.0.0.1:{port2}/abs/x; }
        location /locrel { return 302 /rel/y; }
        location /locnone { add_header Location http://other.example/q; return 200 "x"; }
        location /s500 { return 500; }
        location /s502 { return 502 "backend 502\n"; }
        location /s404 { return 404; }
        location /s401 { add_header WWW-Authenticate "Basic realm=x"; return 401; }
        location /s302 { return 302 /rel; }
        location /xaccel { add_header X-Accel-Redirect /internal/p?q=1; add_header X-Other o;
                           return 200 "xaccel body"; }
        location /xnamed { add_header X-Accel-Redirect @named; return 200 "xa"; }
        location /xlimit { add_header X-Accel-Limit-Rate 100; add_header X-Accel-Buffering no;
                           add_header Content-Type text/html; return 200 "x"; }
        location /chunk { content_by_lua_block { ngx.print("a") ngx.flush(true) ngx.print("b") } }
        location /s204 { return 204; }
        location /s304 { return 304; }
        location /multi { add_header Set-Cookie a=1; add_header Set-Cookie b=2; add_header Vary A;
                          add_header Vary B; add_header Link "<x>"; add_header Cache-Control no-cache;
                          return 200 "m"; }
        location /ctype { default_type "text/x-odd; charset=koi8-r"; return 200 "c"; }
        location /etag { add_header ETag '"e1"'; add_header Last-Modified "LM"; return 200 "etag\n"; }
        location /range { add_header Accept-Ranges bytes; return 200 "0123456789"; }
        location /big { content_by_lua_block { ngx.print(string.rep("b", 300000)) } }
    }
    server {
        listen 127.0.0.1:{port3};
        location / { return 200 "three $uri\n"; }
        location /s404 { return 200 "three found\n"; }
    }
}
""".replace("ECHO", ECHO).replace("LM", LM)

H = [("Host", "localhost")]

CASES = [
    # proxy_set_header: inheritance, empty values, several of one name, variables
    ("server-level headers replace the http level", Req("GET", "/inh/x")),
    ("nested location inherits", Req("GET", "/inh2/in/x")),
    ("empty values drop Host, Connection and the client's header",
     Req("GET", "/ovr/x", H + [("X-E", "client")])),
    ("one name set three times", Req("GET", "/dup/x", H + [("X-D", "c")])),
    ("variables in a value", Req("GET", "/var/x?a=5", H + [("X-In", "i")])),
    ("a Content-Length set by hand cuts the body", Req("POST", "/cl/x", body=b"hello")),
    # response headers
    ("proxy_hide_header, Content-Type too", Req("GET", "/hide/x")),
    ("proxy_pass_header Date, X-Accel-Foo, X-Pad", Req("GET", "/passdate/x")),
    ("repeated response headers kept in order", Req("GET", "/hdrs/multi")),
    ("HEAD of repeated headers", Req("HEAD", "/hdrs/multi")),
    ("content type with a charset", Req("GET", "/hdrs/ctype")),
    ("204 from the upstream", Req("GET", "/hdrs/s204")),
    ("304 from the upstream", Req("GET", "/hdrs/s304")),
    ("chunked upstream to HTTP/1.0 client", Req("GET", "/hdrs/chunk", version="HTTP/1.0")),
    ("chunked upstream over HTTP/1.1", Req("GET", "/v11/chunk")),
    ("large body", Req("GET", "/hdrs/big")),
    ("large body unbuffered", Req("GET", "/nb/big")),
    # conditionals: no 304/412 for what is not cached
    ("If-None-Match matching a proxied ETag", Req("GET", "/hdrs/etag", H + [("If-None-Match", '"e1"')])),
    ("If-None-Match: *", Req("GET", "/hdrs/etag", H + [("If-None-Match", "*")])),
    ("If-Modified-Since equal to Last-Modified", Req("GET", "/hdrs/etag", H + [("If-Modified-Since", LM)])),
    ("If-Match not matching", Req("GET", "/hdrs/etag", H + [("If-Match", '"zz"')])),
    ("If-Unmodified-Since in the past", Req("GET", "/hdrs/etag",
                                           H + [("If-Unmodified-Since", "Mon, 01 Jan 1990 00:00:00 GMT")])),
    ("Range on a proxied response", Req("GET", "/hdrs/range", H + [("Range", "bytes=0-3")])),
    # proxy_redirect
    ("default rewrites an absolute Location", Req("GET", "/rd1/loc")),
    ("relative Location", Req("GET", "/rd1/locrel")),
    ("Location on a 200", Req("GET", "/rd1/locnone")),
    ("explicit to a relative replacement", Req("GET", "/rd2/loc")),
    ("regex with a capture", Req("GET", "/rd3/loc")),
    ("case-insensitive regex", Req("GET", "/rd4/loc")),
    ("replacement with variables", Req("GET", "/rd5/loc")),
    ("default plus a rule, absolute", Req("GET", "/rd6/loc")),
    ("default plus a rule, relative", Req("GET", "/rd6/locrel")),
    ("explicit rule only", Req("GET", "/rd7/loc")),
    # proxy_intercept_errors
    ("500 intercepted", Req("GET", "/ie/s500")),
    ("502 with a body intercepted", Req("GET", "/ie/s502")),
    ("404 without error_page passes", Req("GET", "/ie404/s404")),
    ("401 keeps WWW-Authenticate", Req("GET", "/ie401/s401")),
    ("302 intercepted with =200", Req("GET", "/ie302/s302")),
    # X-Accel-*
    ("X-Accel-Redirect to an internal location", Req("GET", "/xa/xaccel")),
    ("X-Accel-Redirect of a POST becomes GET", Req("POST", "/xa/xaccel", body=b"p")),
    ("X-Accel-Redirect of a HEAD", Req("HEAD", "/xa/xaccel")),
    ("X-Accel-Redirect to a named location", Req("GET", "/xa/xnamed")),
    ("X-Accel-Redirect ignored", Req("GET", "/xai/xaccel")),
    ("X-Accel-Limit-Rate and -Buffering hidden", Req("GET", "/xa/xlimit")),
    # the request sent
    ("proxy_method from a variable", Req("GET", "/meth/x?m=DELETE")),
    ("proxy_set_body with variables", Req("POST", "/setbody/x?b=zz", body=b"orig")),
    ("proxy_pass_request_body off without a length", Req("POST", "/nobody/x", body=b"abc")),
    # several attempts
    ("refused then next peer: ', ' in $upstream_*", Req("GET", "/tries/r/x")),
    ("next upstream on http_404", Req("GET", "/two/s404")),
    ("intercepted into another proxied location: ' : '", Req("GET", "/chain/s404")),
]


@pytest.fixture(scope="module")
def pair():
    with ProxyPair(CONF, extra_ports=4) as p:
        yield p


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()


@requires_nginx
def test_not_modified_stays_off_for_proxied_responses(pair):
    """nginx's r->disable_not_modified: a matching ETag still gives the 200."""
    _, ours = pair.both(Req("GET", "/hdrs/etag", H + [("If-None-Match", '"e1"')]))
    assert ours.status == 200 and ours.body == b"etag\n"


@requires_nginx
def test_error_log_lines(pair):
    real = [ln for ln in pair.real_errors() if "[notice]" not in ln]
    ours = [ln for ln in pair.engine_errors() if "[notice]" not in ln]
    assert sorted(ours) == sorted(real)


# --- a raw upstream -------------------------------------------------------------------------

#: What the raw server writes for /<name>; ("reset", n): n body bytes, then a TCP reset.
CANNED: dict[str, bytes | int] = {
    "dupcl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close"
             b"\r\n\r\nhello",
    "noreason": b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    "noreason404": b"HTTP/1.1 404\r\nContent-Length: 2\r\n\r\nno",
    "http10": b"HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil close",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n"
               b"0\r\nT: 1\r\n\r\n",
    "clchunked": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"2\r\nok\r\n0\r\n\r\n",
    "s204body": b"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nbody",
    "s304body": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\nETag: \"x\"\r\n\r\nbody",
    "lfonly": b"HTTP/1.1 200 OK\nContent-Length: 2\nX-L: 1\n\nok",
    "status600": b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
    "lowcase": b"HTTP/1.1 200 OK\r\ncontent-type: text/x\r\nx-lower: v\r\ncontent-length: 2\r\n\r\nok",
    "emptyhdr": b"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Sp:   \r\nContent-Length: 2\r\n\r\nok",
    "keepalive": b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
                 b"Content-Length: 2\r\n\r\nok",
    "twoctype": b"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n"
                b"Content-Length: 2\r\n\r\nok",
    "longhdr": b"HTTP/1.1 200 OK\r\nX-Long: " + b"l" * 5000 + b"\r\nContent-Length: 2\r\n\r\nok",
    "partial_chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    "big": b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + b"z" * 300000,
    "reset7": 7,
    "reset5000": 5000,
    "reset10000": 10000,
}


class CannedServer:
    """Answers each request with CANNED[last path segment], then closes (or resets)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    @staticmethod
    def _one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(3)
            try:
                data = read_head(conn)
                if b"\r\n\r\n" not in data:
                    return
                name = data.split(b" ")[1].rsplit(b"/", 1)[-1].decode()
                reply = CANNED[name]
                if isinstance(reply, int):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
                                 + b"p" * reply)
                    time.sleep(0.1)  # the bytes arrive; then an RST (SO_LINGER 0)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return
                conn.sendall(reply)
                time.sleep(0.05)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


RAW_CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port0};
        server_name localhost;
        add_header X-U "$upstream_status|$upstream_response_length" always;
        location / { proxy_pass http://127.0.0.1:RAW; }
        location /v11/ { proxy_http_version 1.1; proxy_pass http://127.0.0.1:RAW; }
        location /nb/ { proxy_buffering off; proxy_pass http://127.0.0.1:RAW/; }
    }
}
"""

RAW_CASES = sorted(CANNED) + ["v11/chunked", "v11/http10", "v11/keepalive", "nb/reset7",
                              "nb/reset5000", "nb/reset10000"]


@pytest.fixture(scope="module")
def raw_pair():
    server = CannedServer()
    with ProxyPair(RAW_CONF.replace("RAW", str(server.port)), extra_ports=0) as p:
        yield p
    server.close()


@requires_nginx
@pytest.mark.parametrize("name", RAW_CASES)
def test_odd_upstream_reply(raw_pair, name):
    """Same reply, and the same error-log lines (a reset, a too big header...)."""
    before_real, before_ours = len(raw_pair.real_errors()), len(raw_pair.engine_errors())
    real, ours = raw_pair.both(Req("GET", "/" + name))
    assert ours.comparable() == real.comparable()
    # nginx warns about the body of a 204 (httpx never reads it): replies only
    if name != "s204body":
        real_log = [ln for ln in raw_pair.real_errors()[before_real:] if "[notice]" not in ln]
        ours_log = [ln for ln in raw_pair.engine_errors()[before_ours:] if "[notice]" not in ln]
        assert ours_log == real_log


# --- configuration errors -------------------------------------------------------------------

def _conf(location: str) -> str:
    return ("events {}\nhttp {\n    server {\n        listen 127.0.0.1:8999;\n"
            f"        {location}\n    }}\n}}\n")


CONF_CASES = [
    ("proxy_redirect off then a rule",
     _conf("location / { proxy_pass http://127.0.0.1:1; proxy_redirect off; proxy_redirect / /x/; }")),
    ("proxy_redirect default then a rule is fine",
     _conf("location / { proxy_pass http://127.0.0.1:1; proxy_redirect default; proxy_redirect / /x/; }")),
    ("proxy_buffering bad value", _conf("location / { proxy_buffering maybe; proxy_pass http://127.0.0.1:1; }")),
    ("proxy_buffer_size bad value", _conf("location / { proxy_buffer_size x; proxy_pass http://127.0.0.1:1; }")),
    ("proxy_buffer_size 0", _conf("location / { proxy_buffer_size 0; proxy_pass http://127.0.0.1:1; }")),
    ("proxy_buffers bad size", _conf("location / { proxy_buffers 8 x; proxy_pass http://127.0.0.1:1; }")),
    ("proxy_buffers bad number", _conf("location / { proxy_buffers x 4k; proxy_pass http://127.0.0.1:1; }")),
    ("proxy_buffers 0", _conf("location / { proxy_buffers 0 4k; proxy_pass http://127.0.0.1:1; }")),
    ("proxy_redirect off twice", _conf("location / { proxy_pass http://127.0.0.1:1; proxy_redirect off; proxy_redirect off; }")),
    ("proxy_redirect a rule then off", _conf("location / { proxy_pass http://127.0.0.1:1; proxy_redirect / /x/; proxy_redirect off; }")),
]


def _ours(prefix: Path) -> str | None:
    try:
        Engine.load(str(prefix / "conf/nginx.conf"), prefix=str(prefix) + "/")
    except ConfigError as exc:
        return str(exc)
    return None


@requires_nginx
@pytest.mark.parametrize("text", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_same_config_error_as_nginx(tmp_path: Path, text: str) -> None:
    write_prefix(tmp_path, text)
    assert _ours(tmp_path) == first_emerg(nginx_test(tmp_path).output)
