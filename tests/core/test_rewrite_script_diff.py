"""The rewrite module's script engine against real nginx: ``rewrite_log`` lines, how
regex captures are escaped again when the request's path was percent-encoded (or had a
``+``), how a redirect's replacement is unescaped, a rewrite to an empty URI, and the
warning for a ``set`` variable read before it was set."""

from __future__ import annotations

import time

import pytest

from tests.core.test_error_log_diff import _new
from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
error_log logs/error.log notice;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port};
        server_name rw.test;
        rewrite ^(/srv_rw.*)$ $1;
        location = /show/A { return 200 "[$uri] [$args]\n"; }
        location /show { return 200 "[$uri] [$args]\n"; }
        location /log_last { rewrite_log on; rewrite ^/log_last(.*)$ /show$1 last; }
        location /log_break {
            rewrite_log on;
            rewrite ^/nothing /show last;
            rewrite ^/log_break/(.*)$ /show?a=$1 break;
            return 200 "[$uri] [$args]\n";
        }
        location /log_if {
            rewrite_log on;
            if ($uri ~* ^/LOG_IF/(\d+)) { return 200 "digits $1\n"; }
            if ($uri !~ ^/zz) { return 200 "no zz\n"; }
        }
        location /log_redirect { rewrite_log on; rewrite ^ http://example.com/x? redirect; }
        location /log_set { rewrite_log on; set $x 1; if ($x = 1) { return 200 "eq\n"; } }
        location /quiet { rewrite ^/quiet(.*)$ /show$1 last; }
        location /redir/ { rewrite ^/redir/(.*)$ /show/$1 redirect; }
        location /to_args/ { rewrite ^/to_args/(.*)$ /show?x=$1 last; }
        location /to_path/ { rewrite ^/to_path/(.*)$ /show/$1 last; }
        location /literal { rewrite ^ /x%3By%20z%zz redirect; }
        location /literal_q { rewrite ^ /x?a=%3B%20 redirect; }
        location /empty { rewrite ^/empty(.*)$ $1 last; }
        location /set_cap {
            if ($http_x ~ (.*)) { set $c $1; }
            return 200 "[$c]\n";
        }
        location /set_after {
            rewrite ^(.*)$ $1;
            if ($http_x ~ (.*)) { set $c $1; }
            return 200 "[$c]\n";
        }
        location /srv_rw { if ($http_x ~ (.*)) { set $c $1; } return 200 "[$c]\n"; }
        location /ret_cap { if ($http_x ~ (.*)) { return 200 "[$1]\n"; } }
        location /uninit { if ($arg_q) { set $u 1; } return 200 "[$u]\n"; }
        location /uninit_if { if ($arg_q) { set $u 1; } if ($u) { return 200 "yes\n"; } }
        location /uninit_quiet {
            uninitialized_variable_warn off;
            if ($arg_q) { set $u 1; }
            return 200 "[$u]\n";
        }
        location /uninit_lua {
            if ($arg_q) { set $u 1; }
            content_by_lua_block { ngx.say(type(ngx.var.u), "[", ngx.var.u, "]") }
        }
        location /capture_unset { if ($uri ~ ^/(?<nm>zz)) { } return 200 "[$nm]\n"; }
    }
}
"""

H = [("Host", "rw.test")]
X = H + [("X", "a;b c&d")]

CASES = [
    ("rewrite_log: last", Req("GET", "/log_last/p", H)),
    ("rewrite_log: no match, then break with args", Req("GET", "/log_break/v", H)),
    ("rewrite_log: if regexes", Req("GET", "/log_if/42", H)),
    ("rewrite_log: negated regex", Req("GET", "/log_if/x", H)),
    ("rewrite_log: redirect", Req("GET", "/log_redirect?q=1", H)),
    ("rewrite_log: string test logs nothing", Req("GET", "/log_set", H)),
    ("rewrite_log off", Req("GET", "/quiet/p", H)),
    ("redirect capture of an encoded path", Req("GET", "/redir/a%20b", H)),
    ("redirect capture with + and %3F", Req("GET", "/redir/a+b%3F", H)),
    ("redirect capture of a plain path", Req("GET", "/redir/a;b", H)),
    ("capture after ? of an encoded path", Req("GET", "/to_args/a%26b%20c", H)),
    ("capture after ? of a plain path", Req("GET", "/to_args/a&b", H)),
    ("capture in an internal path", Req("GET", "/to_path/a%20b", H)),
    ("redirect unescapes its literal text", Req("GET", "/literal", H)),
    ("redirect keeps escapes after ?", Req("GET", "/literal_q", H)),
    ("rewrite to an empty URI", Req("GET", "/empty", H)),
    ("set capture, encoded path", Req("GET", "/set_cap/a%20b", X)),
    ("set capture, plain path", Req("GET", "/set_cap/ab", X)),
    ("set capture after a matched rewrite", Req("GET", "/set_after/a%20b", X)),
    ("a server-level rewrite does not reach the location's run", Req("GET", "/srv_rw%20x", X)),
    ("return of a capture is not escaped", Req("GET", "/ret_cap/a%20b", X)),
    ("uninitialized set variable", Req("GET", "/uninit", H)),
    ("initialized set variable", Req("GET", "/uninit?q=1", H)),
    ("uninitialized variable in an if", Req("GET", "/uninit_if", H)),
    ("uninitialized_variable_warn off", Req("GET", "/uninit_quiet", H)),
    ("uninitialized variable read by Lua", Req("GET", "/uninit_lua", H)),
    ("unset named capture does not warn", Req("GET", "/capture_unset", H)),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new(real_log, seen, pair.real.prefix), _new(our_log, seen, pair.prefix)
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
    time.sleep(0.05)  # nginx writes its log line after the response
    assert _new(our_log, seen, pair.prefix) == _new(real_log, seen, pair.real.prefix)
