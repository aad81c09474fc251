"""Differential tests of proxy_pass: real nginx and the engine, same config, same requests.

One configuration holds a front server ({port0}) and its backends: {port1} echoes the
request it received (request line, headers, body) so every test sees exactly what the
proxy sent; {port2} and {port3} answer with their name; nobody listens on {port4}.
"""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx
from tests.proxy.harness import ProxyPair

ECHO = ('content_by_lua_block { ngx.req.read_body() '
        'ngx.print(ngx.req.raw_header(), ngx.req.get_body_data() or "") }')

CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    lua_http10_buffering off;  # the engine's Lua does not model the HTTP/1.0 buffering
    upstream grp_a { server 127.0.0.1:{port1}; }
    upstream rr { server 127.0.0.1:{port1} weight=5; server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream rr_even { server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream rr_w { server 127.0.0.1:{port2} weight=2; server 127.0.0.1:{port3} weight=3; }
    upstream with_backup { server 127.0.0.1:{port4}; server 127.0.0.1:{port2} backup; }
    upstream with_down { server 127.0.0.1:{port1} down; server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream all_down { server 127.0.0.1:{port2} down; }
    upstream dead { server 127.0.0.1:{port4}; server 127.0.0.2:{port4}; }
    upstream half_dead { server 127.0.0.1:{port4}; server 127.0.0.1:{port3}; }
    upstream nu503 { server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream nu502 { server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream nu502post { server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream kept { server 127.0.0.1:{port2}; keepalive 8; }
    upstream iph { ip_hash; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream iph_down { ip_hash; server 127.0.0.1:{port1}; server 127.0.0.1:{port2}; server 127.0.0.1:{port3} down; }
    upstream iph_w { ip_hash; server 127.0.0.1:{port2} weight=3; server 127.0.0.1:{port3}; }
    upstream lc { least_conn; server 127.0.0.1:{port2}; server 127.0.0.1:{port3}; }
    upstream lc_seq { least_conn; server 127.0.0.1:{port2}; server 127.0.0.1:{port3} weight=2; }

    server {
        listen 127.0.0.1:{port0};
        server_name localhost;
        add_header X-Up "$upstream_addr|$upstream_status" always;
        proxy_set_header X-Server-Level on;

        location /uri/ { proxy_pass http://127.0.0.1:{port1}/target/; }
        location /nouri/ { proxy_pass http://127.0.0.1:{port1}; }
        location /short { proxy_pass http://127.0.0.1:{port1}/t; }
        location = /exact { proxy_pass http://127.0.0.1:{port1}/e; }
        location ~ ^/regex/ { proxy_pass http://127.0.0.1:{port1}; }
        location /rwb/ { rewrite ^/rwb/(.*)$ /new/$1 break; proxy_pass http://127.0.0.1:{port1}/ignored/; }
        location /rwsp/ { rewrite ^/rwsp/(.*)$ "/new two/$1" break; proxy_pass http://127.0.0.1:{port1}; }
        location /setargs/ { set $args "x=1"; proxy_pass http://127.0.0.1:{port1}; }
        location /var/ { proxy_pass http://127.0.0.1:{port1}$request_uri; }
        location /varnouri/ { set $b 127.0.0.1:{port1}; proxy_pass http://$b; }
        location /vargroup/ { set $u grp_a; proxy_pass http://$u; }
        location /varhost/ { proxy_pass http://localhost:{port1}$request_uri; }
        location /varbad/ { set $x "ftp://x"; proxy_pass $x; }
        location /tf/ { try_files /nonexistent @named; }
        location @named { proxy_pass http://127.0.0.1:{port1}; }
        location /ep { error_page 404 /uri/from-error; return 404; }
        location /method/ { proxy_method PUT; proxy_set_body "new body"; proxy_pass http://127.0.0.1:{port1}; }
        location /nohdrs/ { proxy_pass_request_headers off; proxy_pass http://127.0.0.1:{port1}; }
        location /nobody/ { proxy_pass_request_body off; proxy_pass http://127.0.0.1:{port1}; }

        location /ifset/ { proxy_pass http://127.0.0.1:{port1}; if ($arg_x) { add_header X-If 1; } }
        location /ifpass/ { if ($arg_b) { proxy_pass http://127.0.0.1:{port2}; } proxy_pass http://127.0.0.1:{port3}; }
        location /inherit/ { proxy_pass http://127.0.0.1:{port1}; }
        location /trap/ { proxy_set_header X-Loc l; proxy_pass http://127.0.0.1:{port1}; }
        location /noua/ { proxy_set_header User-Agent ""; proxy_pass http://127.0.0.1:{port1}; }
        location /host/ { proxy_set_header Host $host; proxy_set_header X-PH "$proxy_host $proxy_port"; proxy_pass http://127.0.0.1:{port1}; }
        location /v11/ { proxy_http_version 1.1; proxy_pass http://127.0.0.1:{port1}; }
        location /grp/ { proxy_set_header X-PH "$proxy_host $proxy_port"; proxy_pass http://grp_a; }
        location /hop1/ {
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_pass http://127.0.0.1:{port2}/hop2/;
        }

        location /resp/ { proxy_pass http://127.0.0.1:{port2}; }
        location /hide/ { proxy_hide_header X-Custom; proxy_pass_header Server; proxy_pass http://127.0.0.1:{port2}/resp/; }
        location /redir/ { proxy_pass http://127.0.0.1:{port2}/b/; }
        location /redir_off/ { proxy_redirect off; proxy_pass http://127.0.0.1:{port2}/b/; }
        location /redir_custom/ { proxy_redirect http://127.0.0.1:{port2}/b/ http://front.example/; proxy_pass http://127.0.0.1:{port2}/b/; }
        location /ie/ { proxy_intercept_errors on; error_page 404 = /fallback; proxy_pass http://127.0.0.1:{port2}/missing/; }
        location /nie/ { error_page 404 = /fallback; proxy_pass http://127.0.0.1:{port2}/missing/; }
        location /ie2/ { proxy_intercept_errors on; error_page 404 = /uri/again; proxy_pass http://127.0.0.1:{port2}/missing/; }
        location /fallback { return 200 "fallback\n"; }
        location /slow/ { proxy_read_timeout 200ms; proxy_pass http://127.0.0.1:{port2}; }
        location /uphdr/ { add_header X-Got "$upstream_http_x_custom"; proxy_pass http://127.0.0.1:{port2}/resp/; }

        location /refused { proxy_pass http://127.0.0.1:{port4}; }
        location /rr/ { proxy_pass http://rr/; }
        location /rr_even/ { proxy_pass http://rr_even/; }
        location /rr_w/ { proxy_pass http://rr_w/; }
        location /backup/ { proxy_pass http://with_backup/; }
        location /down/ { proxy_pass http://with_down/; }
        location /all_down/ { proxy_pass http://all_down/; }
        location /dead/ { proxy_pass http://dead/; }
        location /half_dead/ { proxy_pass http://half_dead/; }
        location /nu503/ { proxy_next_upstream error http_503; proxy_pass http://nu503/s503; }
        location /nu502/ { proxy_next_upstream error http_502; proxy_pass http://nu502/s502; }
        location /nu502post/ { proxy_next_upstream error http_502; proxy_pass http://nu502post/s502; }
        location /nu503off/ { proxy_next_upstream off; proxy_pass http://nu503/s503; }
        location /kept/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://kept/; }
        location /iph/ { proxy_pass http://iph/; }
        location /iph_down/ { proxy_pass http://iph_down/; }
        location /iph_w/ { proxy_pass http://iph_w/; }
        location /lc/ { proxy_pass http://lc/; }
        location /lc_seq/ { proxy_pass http://lc_seq/; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { ECHO }
        # nginx still sends Content-Length without the body: reading it would hang
        location /nobody/ { content_by_lua_block { ngx.print(ngx.req.raw_header()) } }
    }
    server {
        listen 127.0.0.1:{port2};
        location / { return 200 "two\n"; }
        location /hop2/ { proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_pass http://127.0.0.1:{port3}/end/; }
        location /resp/ {
            add_header X-Custom 1; add_header X-Accel-Foo 2; add_header X-Pad 3;
            add_header Set-Cookie a=b; add_header Location /loc;
            return 200 "body\n";
        }
        location /b/redir { return 302 http://127.0.0.1:{port2}/b/target; }
        location /b/rel { return 301 /b/elsewhere; }
        location /b/odd { content_by_lua_block { ngx.status = 299 ngx.print("odd\n") } }
        location /missing/ { return 404 "backend 404\n"; }
        location /slow/ { content_by_lua_block { ngx.sleep(1) ngx.say("slow") } }
        location /s503 { return 503; }
        location /s502 { return 502; }
        location /lcslow { content_by_lua_block { ngx.sleep(0.6) ngx.print("two\n") } }
    }
    server {
        listen 127.0.0.1:{port3};
        location / { return 200 "three\n"; }
        location /end/ { return 200 "$http_x_forwarded_for|$http_x_real_ip|$remote_addr\n"; }
        location /s503 { return 200 "three ok\n"; }
        location /s502 { return 200 "three ok\n"; }
        location /lcslow { content_by_lua_block { ngx.sleep(0.6) ngx.print("three\n") } }
    }
}
""".replace("ECHO", ECHO)

H = [("Host", "localhost")]

CASES = [
    # URI rules
    ("URI part replaces the location prefix", Req("GET", "/uri/x?a=1")),
    ("URI part, escaped request", Req("GET", "/uri/a%20b")),
    ("no URI part: request URI as received", Req("GET", "/nouri//a/../b%20c?q")),
    ("prefix without slash", Req("GET", "/short/x")),
    ("exact location", Req("GET", "/exact?z")),
    ("regex location passes the URI", Req("GET", "/regex/x?y")),
    ("rewrite break drops the URI part", Req("GET", "/rwb/k?a=1")),
    ("rewrite break URI is escaped", Req("GET", "/rwsp/k")),
    ("set $args changes the args sent", Req("GET", "/setargs/y?a=2")),
    ("variables: URI as written", Req("GET", "/var/a%41?b")),
    ("variables without URI part", Req("GET", "/varnouri/x%20y?q")),
    ("variables naming an upstream group", Req("GET", "/vargroup/x")),
    ("variables with a host name need a resolver", Req("GET", "/varhost/x")),
    ("variables giving a bad URL", Req("GET", "/varbad/x")),
    ("named location via try_files", Req("GET", "/tf/x?k")),
    ("error_page into a proxied location", Req("GET", "/ep")),
    ("auto redirect adds the slash", Req("GET", "/uri?x=1")),
    ("HEAD is passed", Req("HEAD", "/nouri/h")),
    ("POST body and length", Req("POST", "/nouri/p", body=b"hello")),
    ("proxy_method and proxy_set_body", Req("POST", "/method/m", body=b"old")),
    ("proxy_pass_request_headers off", Req("GET", "/nohdrs/x", H + [("X-A", "1")])),
    ("proxy_pass_request_body off keeps the length", Req("POST", "/nobody/x", body=b"abc")),
    # request headers
    ("default headers and dropped hop-by-hop headers", Req("GET", "/inherit/x", H + [
        ("User-Agent", "t"), ("TE", "trailers"),
        ("Keep-Alive", "300"), ("Upgrade", "x"), ("X-Forwarded-For", "1.2.3.4")])),
    ("proxy_set_header inheritance trap", Req("GET", "/trap/x")),
    ("if block inherits proxy_pass", Req("GET", "/ifset/a?x=1")),
    ("if block without a match", Req("GET", "/ifset/a")),
    ("proxy_pass inside if", Req("GET", "/ifpass/a?b=1")),
    ("proxy_pass beside if", Req("GET", "/ifpass/a")),
    ("empty value removes the header", Req("GET", "/noua/x", H + [("User-Agent", "ua")])),
    ("Host $host and $proxy_host/$proxy_port", Req("GET", "/host/x", [("Host", "Example.COM:81")])),
    ("group name as Host", Req("GET", "/grp/x")),
    ("proxy_http_version 1.1 and a chunked backend", Req("GET", "/v11/z")),
    ("HTTP/1.0 client", Req("GET", "/v11/z", H, version="HTTP/1.0")),
    ("GET with Content-Length: 0", Req("GET", "/nouri/z", H + [("Content-Length", "0")])),
    ("X-Forwarded-For through two hops", Req("GET", "/hop1/x", H + [
        ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "5.6.7.8")])),
    ("X-Forwarded-For started by the proxy", Req("GET", "/hop1/y")),
    # the response
    ("hidden and passed response headers", Req("GET", "/resp/x")),
    ("proxy_hide_header and proxy_pass_header", Req("GET", "/hide/x")),
    ("$upstream_http_NAME", Req("GET", "/uphdr/x")),
    ("proxy_redirect default, absolute", Req("GET", "/redir/redir")),
    ("proxy_redirect default, relative", Req("GET", "/redir/rel")),
    ("proxy_redirect off", Req("GET", "/redir_off/redir")),
    ("proxy_redirect custom", Req("GET", "/redir_custom/redir")),
    ("upstream status line kept", Req("GET", "/redir/odd")),
    ("intercept_errors with error_page", Req("GET", "/ie/x")),
    ("without intercept_errors the 404 passes", Req("GET", "/nie/x")),
    # failures
    ("connection refused gives 502", Req("GET", "/refused?a=1")),
    ("read timeout gives 504", Req("GET", "/slow/x")),
    ("single server down: no live upstreams", Req("GET", "/all_down/x")),
    ("next upstream on http_503", Req("GET", "/nu503/x")),
    ("next upstream off", Req("GET", "/nu503off/x")),
    ("GET is retried on http_502", Req("GET", "/nu502/x")),
    ("POST is not retried on http_502", Req("POST", "/nu502post/x", body=b"p")),
    ("upstreams of two locations separated by ' : '", Req("GET", "/ie2/x")),
    ("keepalive upstream accepted", Req("GET", "/kept/x")),
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


def _bodies(pair, target: str, n: int, source: str | None = None) -> tuple[list, list]:
    real = [pair.ask_real(Req("GET", target), source) for _ in range(n)]
    ours = [pair.ask_engine(Req("GET", target), source) for _ in range(n)]
    return ([(r.status, r.body, r.header("X-Up")) for r in real],
            [(r.status, r.body, r.header("X-Up")) for r in ours])


@requires_nginx
@pytest.mark.parametrize("target", ["/rr/", "/rr_even/", "/rr_w/", "/down/", "/lc_seq/"])
def test_round_robin_order(pair, target):
    real, ours = _bodies(pair, target, 12)
    assert ours == real


@requires_nginx
def test_weighted_order_is_smooth(pair):
    """Weights 5,1,1: nginx interleaves the light peers, it does not send 5 in a row."""
    _, ours = _bodies(pair, "/rr/", 7)
    names = [b.decode().split(" ")[0].strip() for _, b, _ in ours]
    assert names[2] != names[0] or names[4] != names[0]


@requires_nginx
def test_backup_takes_over(pair):
    real, ours = _bodies(pair, "/backup/", 3)
    assert ours == real
    assert real[0][2].split("|")[1] == "502, 200"  # the refused primary, then the backup


@requires_nginx
def test_all_peers_refused_then_no_live(pair):
    real, ours = _bodies(pair, "/dead/", 2)
    assert ours == real
    assert real[1][2] == "dead|502"


@requires_nginx
def test_failed_peer_is_skipped(pair):
    real, ours = _bodies(pair, "/half_dead/", 4)
    assert ours == real


@requires_nginx
@pytest.mark.parametrize("target", ["/iph/", "/iph_down/", "/iph_w/"])
def test_ip_hash(pair, target):
    for source in ("127.0.0.1", "127.1.2.3", "127.9.9.9", "127.200.1.1", "127.44.0.7"):
        real, ours = _bodies(pair, target, 2, source)
        assert ours == real, source


@requires_nginx
def test_least_conn_avoids_the_busy_peer(pair):
    plan = [(0.0, Req("GET", "/lc/lcslow")), (0.2, Req("GET", "/lc/")), (0.3, Req("GET", "/lc/"))]
    real = pair.ask_real_concurrently(plan)
    ours = pair.ask_engine_concurrently(plan)
    assert [(r.status, r.body) for r in ours] == [(r.status, r.body) for r in real]
    assert real[1].body == real[2].body  # both went to the idle peer


@requires_nginx
def test_error_log_lines(pair):
    """The failures above logged the same lines (time, pid and connection stripped)."""
    real = [line for line in pair.real_errors("error")]
    ours = [line for line in pair.engine_errors("error")]
    assert sorted(ours) == sorted(real)
    assert any("connect() failed (111: Connection refused) while connecting to upstream"
               in line for line in ours)
    assert any("upstream timed out (110: Connection timed out) while reading response "
               "header from upstream" in line for line in ours)
    assert any("no live upstreams while connecting to upstream" in line for line in ours)
