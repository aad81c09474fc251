"""Variables of modules the engine does not model, and the rarer core and upstream
ones, against real nginx: a config naming them loads, and they read what nginx gives
on a plain HTTP/1.1 request (found or not found, as a complex value and in ngx.var).
Also ``$upstream_bytes_sent``/``_received`` of a proxied request."""

from __future__ import annotations

import time

import pytest

from tests.differential import Pair, Req
from tests.oracle import requires_nginx

NAMES = ("pipe proxy_protocol_addr proxy_protocol_port proxy_protocol_server_addr "
         "proxy_protocol_server_port sent_trailer_x ancient_browser modern_browser msie "
         "upstream_bytes_received upstream_bytes_sent upstream_cache_status upstream_trailer_x "
         "uid_got uid_reset uid_set fastcgi_path_info fastcgi_script_name ssl_protocol "
         "ssl_cipher ssl_server_name ssl_client_verify ssl_session_reused ssl_client_s_dn "
         "http2 slice_range").split()

RETURN = 'return 200 "' + " ".join(f"{n}=[${n}]" for n in NAMES) + '\\n";'
LUA = ("content_by_lua_block { for _, n in ipairs{" + ", ".join(f'"{n}"' for n in NAMES)
       + "} do local v = ngx.var[n] ngx.say(n, '=', v == nil and 'nil' or '[' .. v .. ']') "
       "end }")
LOG_BYTES = ('log_by_lua_block { ngx.log(ngx.ERR, "bytes ", ngx.var.upstream_bytes_sent, " ", '
             'ngx.var.upstream_bytes_received) }')

CONF = r"""
error_log logs/error.log info;
events {}
http {
    server {
        listen 127.0.0.1:{port0};
        location /return { %(return)s }
        location /lua { %(lua)s }
        location /php {
            fastcgi_index index.php;
            fastcgi_split_path_info ^(.+\.php)(/.*)$;
            return 200 "[$fastcgi_script_name] [$fastcgi_path_info]\n";
        }
        location /dir/ { fastcgi_index index.php; return 200 "[$fastcgi_script_name]\n"; }
        location /proxied { proxy_pass http://127.0.0.1:{port1}/x; %(log)s }
        location /headers {
            proxy_pass http://127.0.0.1:{port1}/x;
            proxy_set_header X-Long aaaaaaaaaaaaaaaaaaaaaaa;
            %(log)s
        }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { return 200 "backend $request_uri"; }
    }
}
""" % {"return": RETURN, "lua": LUA, "log": LOG_BYTES}

H = [("Host", "localhost")]
CASES = [
    ("as complex values", Req("GET", "/return", H)),
    ("through ngx.var", Req("GET", "/lua", H)),
    ("fastcgi_split_path_info", Req("GET", "/php/x.php/extra/", H)),
    ("fastcgi_split_path_info, no match", Req("GET", "/php/y", H)),
    ("fastcgi_index", Req("GET", "/dir/", H)),
]
PROXIED = [
    ("proxied GET", Req("GET", "/proxied", H)),
    ("proxied POST", Req("POST", "/proxied", H, b"hello")),
    ("proxied, more headers and args", Req("GET", "/headers?a=1", H)),
]


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(CONF, extra_ports=1) as p:
        yield p


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()


def _bytes_lines(text: str) -> list[str]:
    return [line.split("bytes ", 1)[1].split(" while")[0] for line in text.splitlines()
            if "[lua]" in line and " bytes " in line]


@requires_nginx
def test_upstream_bytes_as_nginx_counts_them(pair):
    for _, req in PROXIED:
        real, ours = pair.both(req)
        assert ours.comparable() == real.comparable()
    time.sleep(0.05)  # nginx writes the log phase's line after the response
    assert _bytes_lines(pair.engine_errors()) == _bytes_lines(pair.real.error_log())
    assert len(_bytes_lines(pair.real.error_log())) == len(PROXIED)
