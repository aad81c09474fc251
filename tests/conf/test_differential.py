"""Broken (and a few valid) configurations through real ``nginx -t`` and through ours.

Each case is a config written for this suite; the assertion is that the text after
``nginx: `` (``[emerg] message in file:line``) is identical, or that both accept it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.conf import ConfigError, load
from tests.oracle import nginx_test, requires_nginx, write_prefix

E = "events {}\n"
H = E + "http {\n"

# (id, nginx.conf text, extra files relative to the prefix)
CASES: list[tuple[str, str, dict[str, str | bytes]]] = [
    ("valid-minimal", E, {}),
    ("valid-lua-tricky", H + """server { location / { content_by_lua_block {
    local s = "}" .. '{' .. [[ } ]] .. [==[ ]] } ]==]
    -- } a comment with a brace
    --[[ long } comment ]]
    ngx.say(s, "\\"}")
} } }
}
""", {}),
    ("valid-if-forms", H + """server {
 if ($host) { return 200; }
 if ( $host ) { return 200; }
 if ($host = "a b") { return 200; }
 if ($host ~* "^x{2};$") { return 200; }
 if (!-f $request_filename) { return 404; }
}
}
""", {}),
    ("unknown-directive", H + "foo bar;\n}\n", {}),
    ("unknown-before-eof", E + "foo;\nhttp { server {\n", {}),
    ("not-allowed-here", H + "server { return 200; }\ncontent_by_lua_block { }\n}\n", {}),
    ("lua-in-server", H + "server {\n content_by_lua_block { ngx.say(1) }\n}\n}\n", {}),
    ("invalid-args", H + "server { location / { root; } }\n}\n", {}),
    ("invalid-args-location", H + "server { location a b c {} }\n}\n", {}),
    ("unexpected-brace", H + "server { location / { return 200 ab } }\n}\n", {}),
    ("unexpected-close-top", E + "}\n", {}),
    ("extra-close", H + "}\n}\n", {}),
    ("eof-expecting-brace", H + "server {\n", {}),
    ("eof-expecting-semicolon", H + "server { listen 80\n", {}),
    ("not-terminated", H + "server { location / { root a { } } }\n}\n", {}),
    ("no-opening", H + "server ;\n}\n", {}),
    ("duplicate-root", H + "server {\n root a;\n root b;\n}\n}\n", {}),
    ("duplicate-alias-root", H + "server { location / {\n alias /a/;\n root /b;\n} }\n}\n", {}),
    ("duplicate-events", E + "events {}\n", {}),
    ("duplicate-http", E + "http {}\nhttp {}\n", {}),
    ("no-events", "http {}\n", {}),
    ("duplicate-location", H + "server {\n location / {\n }\n location /a {}\n location / {\n }\n}\n}\n", {}),
    ("duplicate-location-exact", H + "server {\n location = /x {}\n location = /x {}\n}\n}\n", {}),
    ("duplicate-location-vs-unknown", H + "server {\n location / {}\n location / {}\n}\nfoo;\n}\n", {}),
    ("duplicate-location-nested", H + "server { location /a {\n location /a/b {}\n location /a/b {}\n} }\n}\n", {}),
    ("duplicate-location-noregex", H + "server {\n location /x {}\n location ^~ /x {}\n}\n}\n", {}),
    ("location-modifier", H + "server { location ~~ / {} }\n}\n", {}),
    ("location-in-named", H + "server { location @a { location /x {} } }\n}\n", {}),
    ("location-outside", H + "server { location /a { location /b {} } }\n}\n", {}),
    ("location-in-exact", H + "server { location = /a { location /a {} } }\n}\n", {}),
    ("named-nested", H + "server { location /a { location @b {} } }\n}\n", {}),
    ("listen-port", H + "server { listen foo:bar:baz; }\n}\n", {}),
    ("listen-param", H + "server { listen 80 foo; }\n}\n", {}),
    ("listen-port-range", H + "server { listen 70000; }\n}\n", {}),
    ("flag-value", H + "sendfile maybe;\n}\n", {}),
    ("flag-case", H + "sendfile ON;\ntcp_nopush Off;\n}\n", {}),
    ("unknown-log-format", H + "access_log logs/a.log nope;\n}\n", {}),
    ("log-format-later", H + "access_log logs/a.log main;\nlog_format main '$remote_addr';\n}\n", {}),
    ("access-log-off-extra", H + "access_log off x;\n}\n", {}),
    ("error-page-range", H + "error_page 200 /x;\n}\n", {}),
    ("map-params", H + "map $host $x {\n default 1;\n a 2 3;\n}\n}\n", {}),
    ("map-brace", H + "map $host $x {\n a { }\n}\n}\n", {}),
    ("types-entry-ok", H + "types { text/html; text/plain txt; }\n}\n", {}),
    ("geo-params", H + "geo $x {\n default 0;\n 10.0.0.0/8 1 2;\n}\n}\n", {}),
    ("split-clients", H + "split_clients $host $x {\n 50% a;\n foo b;\n}\n}\n", {}),
    ("split-clients-extra-args", H + "split_clients $host $x {\n 50% a b;\n 40%;\n}\nfoo;\n}\n", {}),
    ("split-clients-total", H + "split_clients $host $x {\n 50% a;\n 60.5% b;\n}\n}\n", {}),
    ("listen-backlog", H + "server { listen 80 backlog=x; }\n}\n", {}),
    ("listen-rcvbuf", H + "server { listen 80 rcvbuf=1x; }\n}\n", {}),
    ("listen-ipv6only", H + "server { listen [::1]:80 ipv6only=x; }\n}\n", {}),
    ("listen-ipv6-bad", H + "server { listen [zz]:80; }\n}\n", {}),
    ("listen-unix-empty", H + "server { listen unix:; }\n}\n", {}),
    ("named-location-twice", H + "server { location @a {} location @a {} }\nfoo;\n}\n", {}),
    ("regex-parent-static-child", H + "server { location ~ /a { location /b {} } }\n}\n", {}),
    ("charset-map-params", H + "charset_map a b {\n C0 D0B0 x;\n}\n}\n", {}),
    ("types-include-args", H + "types {\n include;\n}\n}\n", {}),
    ("init-by-lua-dup", H + "init_by_lua_block { a = 1 }\ninit_by_lua_block {\n b = 1\n}\n}\n", {}),
    ("error-page-invalid", H + "error_page 404 x /y;\n}\n", {}),
    ("unexpected-char-after-quote", H + 'server { location / { return 200 "ab"c; } }\n}\n', {}),
    ("quote-then-brace", H + 'server { location / { return 200 "ab"} }\n}\n', {}),
    ("unclosed-quote", H + 'server { location / { return 200 "ab;\n}\n}\n}\n', {}),
    ("unclosed-quote-long", H + 'server { location / { return 200 "ab;\n' + ("x" * 5000) + "\n", {}),
    ("too-long-word", H + "server_name " + "a" * 5000 + ";\n}\n", {}),
    ("unexpected-semicolon", H + "server { ; }\n}\n", {}),
    ("unexpected-open", H + "server { { } }\n}\n", {}),
    ("escapes", H + 'server { return 200 "a\\"b\\\\c\\td\\q"; }\n}\n', {}),
    ("if-invalid-condition", H + "server { if ($a ~ x{2}) { return 200; } }\n}\n", {}),
    ("if-invalid-condition-2", H + 'server { if ($a ~ "x{2};" { return 200; } }\n}\n', {}),
    ("if-unexpected-op", H + "server { if ($host x y) { return 200; } }\n}\n", {}),
    ("if-nested", H + "server { if ($host) { if ($host) { } } }\n}\n", {}),
    ("lua-missing-brace", H + "server { location / { content_by_lua_block {\n ngx.say('x')\n", {}),
    ("lua-missing-brace-later-line", H + "server { location / {\ncontent_by_lua_block\n\n {\n x = 1\n", {}),
    ("lua-long-bracket", H + "server { location / { content_by_lua_block {\n local s = [==[ }\n]]\n", {}),
    ("lua-long-comment", H + "server { location / { content_by_lua_block { --[[ }\n", {}),
    ("lua-unterminated-string", H + 'server { location / { content_by_lua_block {\n local s = " }\n\nx\n', {}),
    ("lua-duplicate", H + "server { location / {\ncontent_by_lua_block { ngx.say(1) }\ncontent_by_lua_block {\n ngx.say(2)\n}\n} }\n}\n", {}),
    ("lua-duplicate-file-form", H + "server { location / {\ncontent_by_lua_block { ngx.say(1) }\ncontent_by_lua_file x.lua;\n} }\n}\n", {}),
    ("lua-args", H + "server { location / { content_by_lua_block x { } } }\n}\n", {}),
    ("lua-semicolon", H + "server { location / { content_by_lua_block ; } }\n}\n", {}),
    ("set-by-lua-block-noargs", H + "server { location / { set_by_lua_block { return 1 } } }\n}\n", {}),
    ("lua-package-path-dup", H + "lua_package_path 'a';\nlua_package_path 'b';\n}\n", {}),
    ("include-missing", H + "include missing.conf;\n}\n", {}),
    ("include-glob-empty", H + "include nope/*.conf;\ninclude /nonexistent/*.conf;\n}\n", {}),
    ("include-error-inside", H + "include sites/*.conf;\n}\n",
     {"conf/sites/a.conf": "server { listen 80; }\n", "conf/sites/b.conf": "server {\n bogus;\n}\n"}),
    ("include-unbalanced", H + "include x.conf;\n}\n", {"conf/x.conf": "server {\n"}),
    ("include-extra-close", H + "include x.conf;\n}\n", {"conf/x.conf": "server { }\n}\n"}),
    ("include-context", H + "server { include loc.conf; }\n}\n", {"conf/loc.conf": "location / {\n  worker_processes 2;\n}\n"}),
    ("include-args", H + "include a.conf b.conf;\n}\n", {}),
    ("include-directory", H + "include d;\n}\n", {"conf/d/x.conf": "\n"}),
    ("multiline-directive-line", H + "root\n  /a\n  /b;\n}\n", {}),
    ("binary-garbage", "\x00\xff events {}\n", {}),
    ("crlf-file", "events {}\r\nhttp {\r\n foo;\r\n}\r\n", {}),
    ("comment-hash-in-word", H + "server { server_name a#b; }\nbogus#x; # a comment\n}\n", {}),
    ("variable-braces", H + "server { location / { return 200 ${host}x; } }\nfoo;\n}\n", {}),
    ("upstream-server", H + "upstream u { server 127.0.0.1; keepalive 2; keepalive 3; }\n}\n", {}),
    ("limit-except-context", H + "server { location / { limit_except GET { root /x; } } }\n}\n", {}),
    ("worker-dup", "worker_processes 1;\nworker_processes 2;\n" + E, {}),
    ("valid-map-twice", H + "map $uri $v { default a; }\nmap $args $v { default b; }\n}\n", {}),
    ("valid-geo-then-map", H + "geo $v { default a; }\nmap $args $v { default b; }\n}\n", {}),
]


def _nginx_first_error(output: str) -> str | None:
    for line in output.splitlines():
        m = re.match(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: (.*)$", line)
        if m and m.group(1) in ("[emerg]", "[crit]", "[alert]"):
            return f"{m.group(1)} {m.group(2)}"
    return None


def _ours(prefix: Path) -> str | None:
    try:
        load("conf/nginx.conf", prefix=str(prefix))
    except ConfigError as e:
        return str(e)
    return None


@requires_nginx
@pytest.mark.parametrize("conf,files", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_error_as_nginx(tmp_path: Path, conf: str, files: dict[str, str | bytes]) -> None:
    if "\x00" in conf or "\xff" in conf:
        files = dict(files)
        write_prefix(tmp_path, "")
        (tmp_path / "conf" / "nginx.conf").write_bytes(conf.encode("latin-1"))
        for rel, content in files.items():
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content) if isinstance(content, str) else p.write_bytes(content)
    else:
        write_prefix(tmp_path, conf, files)
    real = _nginx_first_error(nginx_test(tmp_path).output)
    assert _ours(tmp_path) == real


def test_enough_cases() -> None:
    broken = [c for c in CASES if not c[0].startswith("valid")]
    assert len(broken) >= 40
