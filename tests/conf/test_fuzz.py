"""Property tests: whatever the input, the reader parses it or raises a positioned
ConfigError, never another exception (truncation, dropped braces/semicolons/quotes,
random bytes, deep nesting, huge files)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.conf import ConfigError, load_text

BASE = r'''
user www-data;
worker_processes auto;
events { worker_connections 768; }
http {
    sendfile on;
    log_format main '$remote_addr - "$request" $status';
    access_log logs/access.log main;
    lua_shared_dict cache 1m;
    map $host $backend { default a; hostnames; *.example.com b; }
    upstream app { server 127.0.0.1:8080; keepalive 8; }
    init_by_lua_block { local cjson = require "cjson" --[[ } ]] }
    server {
        listen 80 default_server;
        server_name example.com "*.example.org";
        if ($request_method = POST) { return 405; }
        location = / { return 200 "hello \"world\"\n"; }
        location ~ ^/api/(\w+)$ {
            set $x $1;
            proxy_set_header Host $host;
            proxy_pass http://app;
        }
        location /lua {
            default_type text/plain;
            content_by_lua_block {
                local t = { "}", '{', [==[ ]] } ]==] }
                -- } comment
                ngx.say(table.concat(t))
            }
        }
        error_page 500 502 /50x.html;
    }
}
'''

FILE = "/fuzz/conf/nginx.conf"
NO_LINE = ('no "events" section in configuration',)


def check(text: str) -> None:
    try:
        load_text(text, FILE)
    except ConfigError as e:
        if e.message not in NO_LINE:
            assert e.file == FILE and isinstance(e.line, int) and e.line >= 1, str(e)
            assert e.line <= text.count("\n") + 1


def test_base_is_valid() -> None:
    load_text(BASE, FILE)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.integers(0, len(BASE)))
def test_truncated(n: int) -> None:
    check(BASE[:n])


@FAST
@given(st.lists(st.integers(0, len(BASE) - 1), min_size=1, max_size=4))
def test_dropped_characters(positions: list[int]) -> None:
    text = BASE
    for p in sorted(set(positions), reverse=True):
        if p < len(text):
            text = text[:p] + text[p + 1:]
    check(text)


@FAST
@given(st.sampled_from(list('{};"\'#\\$()')), st.data())
def test_dropped_or_duplicated_syntax(ch: str, data: st.DataObject) -> None:
    idx = [i for i, c in enumerate(BASE) if c == ch]
    if not idx:
        return
    i = data.draw(st.sampled_from(idx))
    check(BASE[:i] + BASE[i + 1:])
    check(BASE[:i] + ch + BASE[i:])


@FAST
@given(st.integers(0, len(BASE)), st.binary(min_size=1, max_size=40))
def test_random_bytes(pos: int, junk: bytes) -> None:
    check(BASE[:pos] + junk.decode("utf-8", "surrogateescape") + BASE[pos:])


@FAST
@given(st.text(alphabet=st.sampled_from(list('ab ;{}"\'#\\$\n\t()[]=-')), max_size=200))
def test_token_soup(text: str) -> None:
    check("events {}\n" + text)
    check("events {}\nhttp { server { location / { content_by_lua_block {" + text)


def test_deep_nesting() -> None:
    depth = 3000
    text = "events {}\nhttp { server {\n" + "location /a {\n" * depth + "}\n" * depth + "} }\n"
    load_text(text, FILE)
    check("events {}\n" + "http {" * depth)
    check("events {}\n" + "if ($a) {" * depth)


def test_huge_file() -> None:
    servers = "".join(f"server {{ listen {8000 + i % 1000}; server_name s{i}; "
                      f"location /{i} {{ return 200; }} }}\n" for i in range(5000))
    load_text("events {}\nhttp {\n" + servers + "}\n", FILE)
    check("events {}\nhttp {\n" + servers)
