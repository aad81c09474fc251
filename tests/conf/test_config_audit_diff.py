"""``ngx-explore -t``/``-T``/``-q`` against real ``nginx -t``: the whole output (every
line of stderr and stdout, timestamps and pids aside) and the exit status.

Covers value slots (sizes, offsets, times, numbers, enums, bitmasks and their duplicate
warnings), ``listen`` parameters and duplicates, ``ssl`` without a certificate,
``server_name`` forms, ``location`` forms across includes, ``types`` duplicates,
variables, ``log_format``/``access_log``/``open_log_file_cache`` errors, ``error_page``,
``return``, ``if``, ``map``/``geo``, ``-g`` directives, includes (globs, relative paths,
duplicates across files), Lua code that nginx -t does not run, and the ``-T`` dump.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from explorer.commands.check import run_test
from tests.oracle import LOAD_MODULES, NGINX, requires_nginx, write_prefix

E = "events {}\n"
H = E + "http {\n"


def S(body: str) -> str:
    """``body`` inside a server of an http block."""
    return H + "server {\n" + body + "\n}\n}\n"


def L(body: str) -> str:
    """``body`` inside ``location /``."""
    return H + "server {\nlocation / {\n" + body + "\n}\n}\n}\n"


# (id, nginx.conf, extra files, {"flags": (...), "g": "..."})
CASES: list[tuple] = [
 ("err-q", E + "foo;\n", {}, {"flags": ("-t", "-q")}),
 ("T-includes", H + "include a/*.conf;\ninclude b.conf;\n}\n", {"conf/a/2.conf": "gzip on;\n", "conf/a/1.conf": "include b.conf;\n", "conf/b.conf": "#b\n"}, {"flags": ("-T",)}),
 ("T-fail", H + "foo;\n}\n", {}, {"flags": ("-T",)}),
 ("Tq", H + "}\n", {}, {"flags": ("-T", "-q")}),
 ("cmbs-10x", H + "client_max_body_size 10x;\n}\n"),
 ("cmbs-10m", H + "client_max_body_size 10M;\n}\n"),
 ("cmbs-neg", H + "client_max_body_size -1;\n}\n"),
 ("keepalive-2", H + "keepalive_timeout 75s 60s;\n}\n"),
 ("keepalive-bad", H + "keepalive_timeout 75x;\n}\n"),
 ("keepalive-bad2", H + "keepalive_timeout 75s 6q;\n}\n"),
 ("wp-auto", "worker_processes auto;\n" + E),
 ("wp-bad", "worker_processes many;\n" + E),
 ("wp-zero", "worker_processes 0;\n" + E),
 ("wc-bad", "events { worker_connections x; }\n"),
 ("send-timeout-ms", H + "send_timeout 500ms;\n}\n"),
 ("send-timeout-combo", H + "send_timeout 1m30s;\n}\n"),
 ("send-timeout-bad", H + "send_timeout 1h2;\n}\n"),
 ("cbbs-bad", H + "client_body_buffer_size 1g2;\n}\n"),
 ("lcb-bad", H + "large_client_header_buffers 4 8q;\n}\n"),
 ("lcb-num-bad", H + "large_client_header_buffers x 8k;\n}\n"),
 ("listen-default", S("listen 80 default_server;\nlisten 81 default;")),
 ("listen-dup-default", H + "server { listen 8080 default_server; }\nserver { listen 8080 default_server; }\n}\n"),
 ("listen-reuseport", S("listen 80 reuseport;")),
 ("listen-backlog-ok", S("listen 80 backlog=100;")),
 ("listen-backlog-zero", S("listen 80 backlog=0;")),
 ("listen-ipv6only-v4", S("listen 80 ipv6only=on;")),
 ("listen-ipv6", S("listen [::]:80 ipv6only=on;")),
 ("listen-dup", S("listen 80;\nlisten 80;")),
 ("listen-dup-opts", H + "server { listen 80 backlog=10; }\nserver { listen 80 backlog=20; }\n}\n"),
 ("listen-http2", S("listen 80 http2;")),
 ("listen-ssl", S("listen 443 ssl;")),
 ("listen-so-keepalive", S("listen 80 so_keepalive=on;")),
 ("listen-so-keepalive-bad", S("listen 80 so_keepalive=x;")),
 ("listen-so-keepalive-tr", S("listen 80 so_keepalive=30m::10;")),
 ("listen-bind", S("listen 127.0.0.1:80 bind;")),
 ("listen-deferred", S("listen 80 deferred;")),
 ("listen-fastopen", S("listen 80 fastopen=x;")),
 ("listen-host", S("listen localhost:80;")),
 ("listen-port-0", S("listen 0;")),
 ("listen-star", S("listen *:80;")),
 ("listen-ipv6-noport", S("listen [::1];")),
 ("listen-setfib", S("listen 80 setfib=1;")),
 ("listen-proxy-protocol", S("listen 80 proxy_protocol;")),
 ("ssl-nocert", S("listen 443 ssl;")),
 ("ssl-reject", S("listen 443 ssl;\nssl_reject_handshake on;")),
 ("ssl-two", H + "server {\nlisten 443;\n}\nserver {\nlisten 443 ssl;\n}\n}\n"),
 ("ssl-then-err", S("listen 443 ssl;") + "foo;\n"),
 ("listen-dup-host", S("listen localhost:80;\nlisten 127.0.0.1:80;")),
 ("listen-dup-v6", S("listen [::]:80;\nlisten [0::0]:80;")),
 ("listen-dup-unix", S("listen unix:/tmp/a.sock;\nlisten unix:/tmp/a.sock;")),
 ("listen-bind-dup", H + "server { listen 127.0.0.1:80 bind; }\nserver { listen 127.0.0.1:80 reuseport; }\n}\n"),
 ("listen-opt-once", H + "server { listen 80 backlog=5; }\nserver { listen 80 default_server; }\n}\n"),
 ("listen-default-then-dup", H + "server { listen 80 default; }\nserver { listen 80; listen 80 default_server; }\n}\n"),
 ("g-ok", E, {}, {"g": "worker_processes 2;"}),
 ("g-dup", "worker_processes 1;\n" + E, {}, {"g": "worker_processes 2;"}),
 ("g-unknown", E, {}, {"g": "foo bar;"}),
 ("g-noterm", E, {}, {"g": "daemon off"}),
 ("g-block", E, {}, {"g": "http { }"}),
 ("g-badvalue", E, {}, {"g": "worker_processes x;"}),
 ("g-events", E, {}, {"g": "events {}"}),
 ("inc-rel-nested", H + "include sub/a.conf;\n}\n", {"conf/sub/a.conf": "include sub/b.conf;\n", "conf/sub/b.conf": "bogus;\n"}),
 ("inc-rel-wrong", H + "include sub/a.conf;\n}\n", {"conf/sub/a.conf": "include b.conf;\n", "conf/sub/b.conf": "gzip on;\n"}),
 ("inc-glob-dup", H + "include s/*.conf;\n}\n", {"conf/s/a.conf": "server { location = /a {} }\n", "conf/s/b.conf": "gzip on;\ngzip off;\n"}),
 ("inc-dup-across", H + "gzip on;\ninclude g.conf;\n}\n", {"conf/g.conf": "\ngzip off;\n"}),
 ("inc-loc-dup-across", H + "server {\nlocation = /a {}\ninclude l.conf;\n}\n}\n", {"conf/l.conf": "location = /a {}\n"}),
 ("inc-abs-missing", H + "include /nonexistent/x.conf;\n}\n"),
 ("types-dup", H + "types { text/html html; text/plain HTML; }\n}\n"),
 ("types-two-blocks", H + "types { text/html html; }\ntypes { text/plain txt; }\n}\n"),
 ("sn-bad-regex", S("server_name ~^(a;")),
 ("sn-star-middle", S("server_name a.*.b;")),
 ("sn-star-end", S("server_name www.*;")),
 ("sn-double-dot", S("server_name ..a;")),
 ("sn-empty", S('server_name "";')),
 ("sn-regex-named", S("server_name ~^(?<x>.+)\\.e$;")),
 ("sn-star-only", S("server_name *;")),
 ("sn-dotstar", S("server_name .*.a;")),
 ("loc-bad-regex", S("location ~ ^/(a {}")),
 ("loc-noregex-regex", S("location ^~ ~/a {}")),
 ("loc-named-in-server-twice-inc", S("location @a {}\ninclude n.conf;"), {"conf/n.conf": "location @a {}\n"}),
 ("loc-regex-icase", S("location ~* [ {}")),
 ("loc-empty-named", S("location @ {}")),
 ("loc-regex-in-named", S("location @x { location ~ a {} }")),
 ("loc-exact-empty", S("location = {}")),
 ("var-unknown", L("return 200 $nosuch;")),
 ("var-unknown-set", L("set $a $nosuch;")),
 ("var-invalid-name", L("return 200 $;")),
 ("var-invalid-brace", L("return 200 ${a;")),
 ("var-invalid-brace2", L("return 200 ${};")),
 ("var-set-bad", L("set a 1;")),
 ("var-unknown-if", L("if ($nosuch) { return 200; }")),
 ("var-unknown-logformat", H + "log_format x '$nosuch';\n}\n"),
 ("var-unknown-access-log-path", H + "access_log logs/$nosuch.log;\n}\n"),
 ("var-unknown-in-map", H + "map $nosuch $x { default 1; }\n}\n"),
 ("var-map-builtin", H + "map $host $uri { default 1; }\n}\n"),
 ("var-set-builtin", L("set $uri x;")),
 ("var-prefix-ok", L("return 200 $http_x$arg_y$cookie_z$sent_http_a$upstream_http_b;")),
 ("logfmt-empty", H + "log_format x;\n}\n"),
 ("logfmt-escape-bad", H + "log_format x escape=foo '$uri';\n}\n"),
 ("logfmt-escape-only", H + "log_format x escape=json;\n}\n"),
 ("logfmt-dup-combined", H + "log_format combined '$uri';\n}\n"),
 ("logfmt-in-server", S("log_format x '$uri';")),
 ("logfmt-bad-var", H + "log_format x '$';\n}\n"),
 ("ep-range", H + "error_page 299 /x;\n}\n"),
 ("ep-600", H + "error_page 600 /x;\n}\n"),
 ("ep-eq-bad", H + "error_page 404 =abc /x;\n}\n"),
 ("ep-eq-ok", H + "error_page 404 =200 /x;\n}\n"),
 ("ep-eq-only", H + "error_page 404 = /x;\n}\n"),
 ("ep-eq-999", H + "error_page 404 =999 /x;\n}\n"),
 ("ep-499", H + "error_page 499 /x;\n}\n"),
 ("ret-bad-code", L("return 1000;")),
 ("ret-text-code", L("return abc;")),
 ("ret-999", L("return 999;")),
 ("ret-three", L("return 200 a b;")),
 ("ret-302-text", L("return 302 /x;")),
 ("ret-neg", L("return -1;")),
 ("if-empty", L("if () { return 200; }")),
 ("if-bad-regex", L("if ($uri ~ \"(a\") { return 200; }")),
 ("if-no-paren", L("if $uri { return 200; }")),
 ("if-file-op-bad", L("if (-z $uri) { return 200; }")),
 ("rewrite-bad-regex", L("rewrite ( /x;")),
 ("rewrite-bad-flag", L("rewrite ^ /x foo;")),
 ("map-no-default-ok", H + "map $host $x { a 1; }\n}\n"),
 ("map-dup-key", H + "map $host $x { a 1; a 2; }\n}\n"),
 ("map-bad-regex", H + "map $host $x { ~(a 1; }\n}\n"),
 ("map-dup-default", H + "map $host $x { default 1; default 2; }\n}\n"),
 ("map-bad-var", H + "map host $x { default 1; }\n}\n"),
 ("geo-bad-net", H + "geo $x { 10.0.0.300/8 1; }\n}\n"),
 ("geo-dup-default", H + "geo $x { default 1; default 2; }\n}\n"),
 ("geo-bad-mask", H + "geo $x { 10.0.0.0/33 1; }\n}\n"),
 ("split-empty", H + "split_clients $host $x { }\n}\n"),
 ("types-dup-2blocks", H + "types { text/html html; }\ntypes { text/plain html; }\n}\n"),
 ("types-dup-then-err", H + "types { text/html html htm; text/plain html; }\nfoo;\n}\n"),
 ("sn-dot", S("server_name .;")),
 ("sn-tilde", S("server_name ~;")),
 ("sn-slash", S("server_name a/b;")),
 ("sn-star-x", S("server_name *x;")),
 ("loc-named-dup", S("location @a {}\nlocation @a {}")),
 ("bitmask-dup", H + "ssl_protocols TLSv1.2 tlsv1.2;\n}\n"),
 ("bitmask-dup-err", H + "gzip_proxied any ANY;\nfoo;\n}\n"),
 ("warn-then-post", "http {\ngzip_proxied any ANY;\n}\n"),
 ("lua-syntax-block", L("content_by_lua_block {\n local x = \n}")),
 ("lua-syntax-file", L("content_by_lua_file lua/a.lua;"), {"lua/a.lua": "local x = \n"}),
 ("lua-missing-file", L("content_by_lua_file lua/none.lua;")),
 ("lua-syntax-inline", L("content_by_lua 'local x =';")),
 ("lf-path-var", H + "access_log logs/$nosuch.log;\n}\n"),
 ("lf-bad-dollar", H + "log_format x 'a$';\n}\n"),
 ("lf-bad-brace", H + "log_format x '${}';\n}\n"),
 ("lf-digit", H + "log_format x '$1';\n}\n"),
 ("lf-open-brace", H + "log_format x '${a';\n}\n"),
 ("al-bad-param", H + "access_log logs/a.log combined foo=1;\n}\n"),
 ("al-buffer-bad", H + "access_log logs/a.log combined buffer=x;\n}\n"),
 ("al-flush-nobuf", H + "access_log logs/a.log combined flush=5s;\n}\n"),
 ("al-gzip-bad", H + "access_log logs/a.log combined gzip=12;\n}\n"),
 ("al-if-bad", H + "access_log logs/a.log combined if=$nosuch;\n}\n"),
 ("olfc-ok", H + "open_log_file_cache max=10 inactive=20s min_uses=2 valid=1m;\n}\n"),
 ("olfc-bad", H + "open_log_file_cache max=0;\n}\n"),
 ("olfc-max-x", H + "open_log_file_cache max=x;\n}\n"),
 ("al-flush-x", H + "access_log logs/a.log combined buffer=32k flush=x;\n}\n"),
 ("al-buf-var", H + "access_log logs/$host.log combined buffer=1k;\n}\n"),
 ("al-syslog-buf", H + "access_log syslog:server=127.0.0.1 combined buffer=1k;\n}\n"),
 ("al-gzip-ok", H + "access_log logs/a.log combined gzip flush=1m;\n}\n"),
 ("olfc-off", H + "open_log_file_cache off;\n}\n"),
]

#: value slots: (directive line, where) -> compared like the cases above
SLOT_LINES = [
    "client_body_buffer_size 1g", "client_max_body_size 1g", "client_max_body_size 1G",
    "client_body_buffer_size 9007199254740992k", "client_body_buffer_size 9223372036854775807",
    "send_timeout 1y", "send_timeout 1M", "send_timeout 1s1m", "send_timeout 1m1s",
    "send_timeout 1h2", "send_timeout '2 s'", "send_timeout '1m 1s'", "send_timeout ' 1s'",
    "send_timeout 1s500ms", "send_timeout 500ms1s", "send_timeout 1S",
    "ssl_session_timeout 1y", "ssl_session_timeout 1ms", "ssl_session_timeout 1d",
    "keepalive_requests -1", "keepalive_requests 1k", "types_hash_max_size 2048",
    "server_tokens build", "server_tokens OFF", "server_tokens maybe", "satisfy none",
    "proxy_http_version 2.0", "gzip_proxied any expired foo", "gzip_proxied off",
    "proxy_next_upstream error timeout http_418", "proxy_next_upstream error http_429",
    "ssl_protocols TLSv1.2 TLSv1.3", "ssl_protocols TLSv1.4", "autoindex_format yaml",
    "if_modified_since later", "keepalive_disable MSIE6", "large_client_header_buffers 0 8k",
    "large_client_header_buffers 4 0", "output_buffers 2 32k", "proxy_buffers 8 4q",
    "limit_rate 1m", "limit_rate 1g", "directio off", "directio 4m", "lingering_close sometimes",
    "resolver_timeout 30ms", "open_file_cache_valid 500ms", "max_ranges x",
    "proxy_cache_methods GET PUT", "proxy_ignore_headers Vary X-Foo",
]
CASES += [(f"slot {line}", H + line + ";\n}\n", {}, {}) for line in SLOT_LINES]

#: handler checks found by test_conf_fuzz_diff (each in location /; the second line of
#: a pair shows which error wins): binds, access, paths, caches, ssl caches, merge checks
HANDLER_LINES = [
    "proxy_bind off x", "proxy_bind localhost", "proxy_bind [::1]", "proxy_bind 1...2",
    "proxy_bind 127.0.0.1:0", "proxy_bind $host x", "proxy_bind ${x",
    "uwsgi_bind 1d;\nuwsgi_bind 1d", "fastcgi_bind 1k localhost;\nlimit_rate_after 1.5",
    "proxy_store_access user:rx", "dav_access 1k 301 $uri", "proxy_store_access all:rw all:r",
    "scgi_temp_path x 1 0", "scgi_temp_path x 01", "uwsgi_cache_valid gzip 1.5 x=1",
    "uwsgi_cache_valid 200 x 10m", "uwsgi_cache_valid 600 1m", "scgi_cache $",
    "scgi_store on;\nscgi_cache x", "scgi_cache x;\nscgi_store on",
    "proxy_redirect 1d;\nssl_session_tickets ON", "proxy_cookie_path ~*( x",
    "proxy_cookie_domain x ${y", "uwsgi_modifier2 65536", "mp4;\nmp4", "flv;\nflv",
    "aio on", "aio ON", "aio threads", "disable_symlinks on off", "disable_symlinks main",
    "disable_symlinks off from=x", "disable_symlinks from=x", "userid_mark -",
    "userid_mark =", "proxy_busy_buffers_size 0", "scgi_buffers 1 4k",
    "scgi_busy_buffers_size 64k", "scgi_temp_file_write_size 1k",
    "scgi_max_temp_file_size 1k", "uwsgi_buffers 16 16k;\nuwsgi_busy_buffers_size 64k",
]
HTTP_LINES = [
    "scgi_cache_path x levels=1:2:2:2 keys_zone=a:1m", "scgi_cache_path x keys_zone=a:1k",
    "scgi_cache_path x keys_zone=a", "scgi_cache_path x inactive=1ms keys_zone=a:1m",
    "scgi_cache_path 1m30s a\\b $host", "scgi_cache_path x keys_zone=:1m",
    "ssl_session_cache builtin:", "ssl_session_cache shared:a:1k",
    "ssl_session_cache off builtin:10 shared:a:1m", "ssl_ocsp_cache builtin",
    "ssl_ocsp_cache shared:a:x", "http2_recv_timeout yes;\nhttp2_recv_timeout yes",
    "http2_max_header_size main", "lua_load_resty_core yes;\nlua_load_resty_core on",
    "lua_malloc_trim -1", "lua_capture_error_log 1k;\nsub_filter_once 1",
    "limit_conn_zone =404 localhost;\nssl_verify_client 1k",
]
CASES += [(f"handler {line}", L(line + ";"), {}, {}) for line in HANDLER_LINES]
CASES += [(f"handler {line}", H + line + ";\n}\n", {}, {}) for line in HTTP_LINES]

#: Found by the config fuzzer's second round (tests/conf/test_conf_fuzz_diff.py): values
#: refused at their line (before a later bad line), variables nobody defines, the ssl
#: context ngx_lua's ssl phases need, and what the cycle checks after reading.
ROUND2 = [
    ("expires-first", L("expires x=1;\nclient_header_timeout utf-8 HIGH;")),
    ("expires-modified-daily", L("expires modified @1h;\nexpires 1h;")),
    ("userid-expires", H + "userid_expires epoch;\nuserid_expires epoch;\n}\n"),
    ("ofc-param", H + "open_file_cache max=0;\nopen_file_cache max=0;\n}\n"),
    ("ofc-no-max", H + "open_file_cache inactive=1s;\n}\n"),
    ("add-trailer", L("add_trailer a b 1d;")),
    ("add-trailer-var", L("add_trailer a $nosuch_var;")),
    ("cookie-flags-one", L("proxy_cookie_flags =;")),
    ("cookie-flags-regex", L("proxy_cookie_flags ~( secure;")),
    ("cookie-flags-var", L("proxy_cookie_flags a $nosuch_var;")),
    ("ssl-cert-var-name", S("grpc_ssl_certificate_key ~^(a)$;")),
    ("ssl-cert-unknown", S("uwsgi_ssl_certificate $nosuch_var;")),
    ("no-cache-unknown", L("scgi_no_cache $nosuch_var;\nfastcgi_cache_bypass $x;")),
    ("set-name", L("set burst=5 1d;\nkeepalive_timeout 1.5;")),
    ("fastcgi-param-3", L("fastcgi_param a b c;\nssl_buffer_size 1.5;")),
    ("lua-file-var", L("rewrite_by_lua_file $;\nproxy_busy_buffers_size 1;")),
    ("proxy-pass-prefix", L("proxy_pass -1;\nsecure_link_secret x;")),
    ("ssl-cert-by-lua", S("ssl_certificate_by_lua_block { }")),
    ("ssl-hello-by-lua-http", H + "ssl_client_hello_by_lua_file x;\nserver {}\n}\n"),
    ("ssl-by-lua-reject", S("ssl_reject_handshake on;\nssl_certificate_by_lua_file x;")),
    ("upstream-zone", H + "upstream u {\nserver 127.0.0.1;\nzone z 1k;\n}\n}\n"),
    ("upstream-zone-size", H + "upstream u {\nserver 127.0.0.1;\nzone z $host;\n}\n}\n"),
    ("upstream-zone-twice", H + "upstream u {\nserver 127.0.0.1;\nzone z 64k;\nzone z;\n}\n}\n"),
    ("upstream-zone-zero", H + "upstream u {\nserver 127.0.0.1;\nzone z;\n}\n}\n"),
    ("wc-not-enough", "events { worker_connections 1; }\nhttp { server { listen 127.0.0.1:8080; } }\n"),
    ("wc-not-enough-q", "events { worker_connections 0; }\n", {}, {"flags": ("-t", "-q")}),
    ("use-type", "events { use poll; }\n"),
    ("debug-conn", "events { debug_connection 127.0.0.1:80; }\n"),
    ("debug-conn-bits", "events { debug_connection 10.0.0.1/8; }\n"),
    ("listen-host", S("listen combined main;")),
    ("h2-recv-buffer", H + "http2_recv_buffer_size 32;\nhttp2_recv_buffer_size 32;\n}\n"),
    ("send-lowat-warn", H + "send_lowat 2;\nsend_lowat 2;\n}\n"),
    ("lua-dict-first", H + "lua_shared_dict a 1g;\nlua_shared_dict b 1h2;\n}\n"),
    ("lua-dict-name", H + 'lua_shared_dict "" 8k;\n}\n'),
    ("lua-dict-again", H + "lua_shared_dict a 1m;\nlua_shared_dict a 1m;\n}\n"),
    ("lua-dict-other-size", H + "lua_shared_dict a 1m;\nlua_shared_dict a 2m;\n}\n"),
    # one name is one shared memory zone, whichever module declares or names it
    *[(f"shm-zone-{i}", H + body + "\n}\n") for i, body in enumerate([
        "proxy_cache_path c keys_zone=a:1m;\nlua_shared_dict a 1m;",
        "lua_shared_dict a 1m;\nserver { location / { proxy_cache a; } }",
        "server { location / { limit_req zone=a; } }\nlua_shared_dict a 1m;",
        "ssl_session_cache shared:a:1m;\nlua_shared_dict a 1m;",
        "lua_shared_dict a 1m;\nupstream u { zone a; server 127.0.0.1; }",
        "proxy_cache_path c keys_zone=a:1m;\nfastcgi_cache_path d keys_zone=a:1m;",
        "proxy_cache_path c keys_zone=a:1m;\nproxy_cache_path d keys_zone=a:2m;",
        "limit_req_zone $uri zone=a:1m rate=1r/s;\nserver { location / { limit_conn a 1; } }",
        "upstream u { zone a 64k; server 127.0.0.1; }\nupstream v { zone a; server 127.0.0.1; }",
    ])],
    # the *_store path's variables must exist
    *[(f"store-unknown-var-{p}", H + f"{p}_store /tmp/$nosuch_var;\n}}\n")
      for p in ("proxy", "fastcgi", "uwsgi", "scgi")],
    ("h2-chunk-zero", H + "http2_chunk_size 0;\n}\n"),
    ("h2-pool", H + "http2_pool_size 404;\nhttp2_pool_size 404;\n}\n"),
    ("h2-index-pow2", H + "http2_streams_index_size 301;\n}\n"),
    ("empty-gif-twice", L("empty_gif;\nempty_gif;")),
    ("random-param", H + "upstream u {\nserver 127.0.0.1;\nrandom error;\nx;\n}\n}\n"),
    ("add-header-param", L("add_header a b x=1;\nssl_certificate x;")),
    ("store-var", L("proxy_store ~^(a)$;")),
    ("rewrite-flag", L("rewrite 1.5 HIGH 200;\nx;")),
    ("return-code", L("return =;\nx;")),
    ("try-files-var", L("try_files $ a;\ntry_files $ a;")),
    ("allow-param", L("allow http://backend;\nx;")),
    ("realip-host", L("set_real_ip_from logs/x.log;\nx;")),
    ("set-by-lua-name", L("set_by_lua_file 'a b' x;\nx;")),
    ("ssl-on-no-cert", H + "ssl on;\nproxy_buffers 1 4k;\nserver {}\n}\n"),
    ("ssl-on-no-key", S("ssl on;\nssl_certificate a;\nssl_certificate b;\nssl_certificate_key k;")),
    ("param-var-merge", L("uwsgi_param $uri ~^(a)$;")),
    ("header-var-merge", L("proxy_set_header a ${x;\nproxy_buffers 2 4k;")),
    ("param-unknown", L("scgi_param a $nosuch_var;")),
    ("lua-no-code", L('access_by_lua "";\nx;')),
    ("lua-no-code-file", L('header_filter_by_lua_file "";')),
    ("grpc-pass-var", L("grpc_pass ${x;\nadd_header a b ON;")),
    ("deny-zeros", L("deny 010.000.000.001;\nallow 010.0.0.1/8;")),
    ("rewrite-empty", S('rewrite a "" x;')),
    ("lowat-warns", L("proxy_send_lowat 1;\nfastcgi_send_lowat 0;\nlua_socket_send_lowat 1;")),
    ("keepalive-value", H + "upstream u {\nserver 127.0.0.1;\nkeepalive 0;\nkeepalive 0;\n}\n}\n"),
    ("hash-param", H + "upstream u {\nserver 127.0.0.1;\nhash a b;\nx;\n}\n}\n"),
    ("auth-request-set-name", L("auth_request_set logs/x.log none;\nx;")),
    ("pool-vs-large-buffers", S("connection_pool_size 10m;")),
    ("limit-req-param", L("limit_req http://backend;\nx;")),
    ("limit-req-zero-zone", L("limit_req zone=z;")),
    ("set-body-merge", L("proxy_set_body ~^(a)$;")),
    ("bind-unknown", L("fastcgi_bind $nosuch_var;")),
    ("gzip-window", H + "gzip_window 10m;\ngzip_window 10m;\n}\n"),
    ("gzip-hash", H + "gzip_hash 1000;\n}\n"),
    ("limit-rate-var", L("limit_rate ${x;")),
    ("cache-key-var", L("fastcgi_cache_key ~^(a)$;\nclient_body_in_file_only a;")),
    ("http2-push-var", L("http2_push $;")),
    ("proxy-cache-var", L("proxy_cache $nosuch_var;")),
    ("split-path-captures", H + "fastcgi_split_path_info a;\nfastcgi_split_path_info a;\n}\n"),
]
CASES += [(name, conf, *rest) for name, conf, *rest in ROUND2]

_STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: ", re.M)


def _norm(text: str, prefix: Path) -> str:
    """Debian's nginx logs to stderr with a timestamp and pid; ngx-explore prints
    ``nginx: [level]`` as nginx does with a file error log: compare the rest."""
    return _STAMP.sub(r"nginx: [\1] ", text).replace(str(prefix), "{P}")


@requires_nginx
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_output_as_nginx_t(tmp_path: Path, case: tuple) -> None:
    _, conf, *rest = case
    files = rest[0] if rest else {}
    opts = rest[1] if len(rest) > 1 else {}
    write_prefix(tmp_path, conf, files)
    g = LOAD_MODULES + (" " + opts["g"] if opts.get("g") else "")
    args = [*opts.get("flags", ("-t",)), "-p", str(tmp_path), "-c", "conf/nginx.conf",
            "-g", g]
    proc = subprocess.run([str(NGINX), *args], capture_output=True, timeout=30)
    out, err = io.StringIO(), io.StringIO()
    rc = run_test(args, out=out, err=err)
    real = (proc.returncode, _norm(proc.stdout.decode("utf-8", "replace"), tmp_path),
            _norm(proc.stderr.decode("utf-8", "replace"), tmp_path))
    assert (rc, _norm(out.getvalue(), tmp_path), _norm(err.getvalue(), tmp_path)) == real


def test_enough_cases() -> None:
    assert len(CASES) >= 150
