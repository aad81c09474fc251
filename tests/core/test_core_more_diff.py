"""More of the request core against real nginx: server-level set, if + break,
error_page loops and internal locations, rewrite arguments, alias with captures,
absolute index, limit_except, $status, conditional requests (304), HEAD, ranges."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

H = [("Host", "localhost")]

CONF = r"""
events {}
http {
    include mime.types;
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html;
        set $srv "server-level";
        location /s { return 200 "$srv\n"; }
        location /ifbreak { set $a 1; if ($a) { set $b 2; break; } set $c 3; return 200 "a=$a b=$b c=$c\n"; }
        location /ifbreak2 { if ($arg_x) { break; } return 200 "no break\n"; }
        location /ep_loop { error_page 404 /ep_loop; return 404; }
        location /ep_rec { recursive_error_pages on; error_page 404 /missing_too; return 404; }
        location = /internal_only { internal; return 200 "internal\n"; }
        location /to_internal { error_page 404 /internal_only; return 404; }
        location /rw_args { rewrite ^ /final?x=$arg_y last; }
        location /final { return 200 "final args=$args\n"; }
        location /rw_dollar { rewrite ^/rw_dollar/(.*)$ /final/$1?orig=$1 redirect; }
        location /static/ { alias html/; }
        location ~ ^/re/(.+)$ { alias html/$1; }
        location /idx/ { index /abs.html; }
        location = /abs.html { return 200 "absolute index target\n"; }
        location /head_ret { return 302 /x; }
        location /ret_text_301 { return 301 "http://a.test/"; }
        location /empty_add { add_header X-Empty ""; add_header X-Var $arg_v; return 200 "e\n"; }
        location /cl { return 200 "$content_length|$content_type\n"; }
        location /method { limit_except GET { deny all; } return 200 "m\n"; }
        location /trailing { return 200 "t\n"; }
        location /status_var { return 200 "$status\n"; }
        location /encoded { return 200 "$uri\n"; }
        location ~* \.TXT$ { return 200 "case-insensitive txt\n"; }
    }
}
"""
FILES: dict[str, str] = {"html/index.html": "<h1>i</h1>\n", "html/a.txt": "a file\n", "html/idx/x": "x"}
CASES = [
 ("set at server level", Req("GET","/s")),
 ("if with break", Req("GET","/ifbreak")),
 ("if break no arg", Req("GET","/ifbreak2")),
 ("if break with arg", Req("GET","/ifbreak2?x=1")),
 ("error_page loop", Req("GET","/ep_loop")),
 ("recursive error pages", Req("GET","/ep_rec")),
 ("internal location direct", Req("GET","/internal_only")),
 ("internal via error_page", Req("GET","/to_internal")),
 ("rewrite with args var", Req("GET","/rw_args?y=5")),
 ("rewrite redirect with capture args", Req("GET","/rw_dollar/abc?q=1")),
 ("alias prefix", Req("GET","/static/a.txt")),
 ("alias regex capture", Req("GET","/re/a.txt")),
 ("absolute index", Req("GET","/idx/")),
 ("HEAD redirect", Req("HEAD","/head_ret")),
 ("return 301 quoted url", Req("GET","/ret_text_301")),
 ("empty add_header", Req("GET","/empty_add")),
 ("add_header with var", Req("GET","/empty_add?v=7")),
 ("content_length var", Req("POST","/cl",H+[("Content-Type","text/x")],b"abc")),
 ("limit_except deny POST", Req("POST","/method",H,b"x")),
 ("limit_except GET ok", Req("GET","/method")),
 ("HEAD allowed by limit_except GET", Req("HEAD","/method")),
 ("status var before response", Req("GET","/status_var")),
 ("encoded uri", Req("GET","/encoded%2Fa%3Fb")),
 ("regex case-insensitive", Req("GET","/x/Y.txt")),
 ("query in HEAD", Req("HEAD","/a.txt?x")),
 ("range request", Req("GET","/a.txt",H+[("Range","bytes=0-2")])),
 ("if-none-match star", Req("GET","/a.txt",H+[("If-None-Match","*")])),
 ("OPTIONS static", Req("OPTIONS","/a.txt")),
]



@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
