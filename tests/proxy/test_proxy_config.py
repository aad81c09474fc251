"""Bad proxy/upstream configuration: the engine refuses it with nginx -t's words and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import ConfigError, Engine
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix


def conf(location: str, upstream: str = "") -> str:
    return ("events {}\nhttp {\n    upstream up { server 127.0.0.1:1; }\n"
            f"    {upstream}\n    server {{\n        listen 127.0.0.1:8999;\n"
            f"        {location}\n    }}\n}}\n")


LOC = "location / { proxy_pass http://up2; }"

CASES = [
    ("invalid URL prefix", conf("location / { proxy_pass ftp://x; }")),
    ("empty port", conf("location / { proxy_pass http://x:; }")),
    ("port out of range", conf("location / { proxy_pass http://127.0.0.1:99999; }")),
    ("no host", conf("location / { proxy_pass http://; }")),
    ("host not found", conf("location / { proxy_pass http://nosuchhost.invalid; }")),
    ("URI part in a regex location", conf("location ~ /a { proxy_pass http://127.0.0.1:1/x; }")),
    ("URI part in a named location", conf("location @n { proxy_pass http://127.0.0.1:1/; }")),
    ("URI part inside if", conf("location / { if ($arg_a) { proxy_pass http://127.0.0.1:1/; } }")),
    ("upstream with a port", conf("location / { proxy_pass http://up:81; }")),
    ("unknown variable", conf("location / { proxy_pass http://$nosuch; }")),
    ("bad proxy_read_timeout", conf("location / { proxy_read_timeout abc; proxy_pass http://up; }")),
    ("bad proxy_http_version", conf("location / { proxy_http_version 2.0; proxy_pass http://up; }")),
    ("proxy_redirect default before proxy_pass",
     conf("location / { proxy_redirect default; proxy_pass http://up; }")),
    ("proxy_redirect bad parameter", conf("location / { proxy_pass http://up; proxy_redirect x; }")),
    ("bad proxy_next_upstream", conf("location / { proxy_next_upstream bogus; proxy_pass http://up; }")),
    ("duplicate proxy_pass", conf("location / { proxy_pass http://up; proxy_pass http://up; }")),
    ("weight=0", conf(LOC, "upstream up2 { server 127.0.0.1:1 weight=0; }")),
    ("unknown server parameter", conf(LOC, "upstream up2 { server 127.0.0.1:1 foo=1; }")),
    ("bad max_fails", conf(LOC, "upstream up2 { server 127.0.0.1:1 max_fails=x; }")),
    ("bad fail_timeout", conf(LOC, "upstream up2 { server 127.0.0.1:1 fail_timeout=x; }")),
    ("backup with ip_hash", conf(LOC, "upstream up2 { ip_hash; server 127.0.0.1:2 backup; }")),
    ("bad keepalive", conf(LOC, "upstream up2 { server 127.0.0.1:1; keepalive x; }")),
    ("scheme in a server address", conf(LOC, "upstream up2 { server http://127.0.0.1:1; }")),
    ("server host not found", conf(LOC, "upstream up2 { server nosuchhost.invalid; }")),
    ("only backup servers", conf(LOC, "upstream up2 { server 127.0.0.1:1 backup; }")),
    ("empty upstream", conf(LOC, "upstream up2 {\n    }")),
    ("URI in a server address", conf(LOC, "upstream up2 { server 127.0.0.1:1/x; }")),
    ("port 0", conf(LOC, "upstream up2 { server 127.0.0.1:0; }")),
    ("valid: everything accepted", conf(
        "location /a/ { proxy_pass http://up2/x/; proxy_redirect default; "
        "proxy_redirect http://a/ /; proxy_next_upstream error timeout http_502; "
        "proxy_buffering off; proxy_http_version 1.1; }\n"
        "        location ~ /r { proxy_pass http://$host; }\n"
        "        location /b/ { proxy_pass https://[::1]:8443; }",
        "upstream up2 { least_conn; server 127.0.0.1:1 weight=3 max_fails=0 fail_timeout=5s "
        "max_conns=2; server 127.0.0.1:2 backup; server 127.0.0.1:3 down; keepalive 4; }")),
]


def _ours(prefix: Path) -> str | None:
    try:
        Engine.load(str(prefix / "conf/nginx.conf"), prefix=str(prefix) + "/")
    except ConfigError as exc:
        return str(exc)
    return None


@requires_nginx
@pytest.mark.parametrize("text", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_same_error_as_nginx(tmp_path: Path, text: str) -> None:
    write_prefix(tmp_path, text)
    assert _ours(tmp_path) == first_emerg(nginx_test(tmp_path).output)


def test_bad_config_is_never_a_traceback(tmp_path: Path) -> None:
    """Whatever the proxy_pass argument, loading either works or raises ConfigError."""
    for arg in ("http://[::1", "http://[zz]:1", "http://a:b", "unix:", "http://unix:",
                "http://:80", "http://a?b", "https://", "HTTP://127.0.0.1:1/X", "http://a:1:2"):
        write_prefix(tmp_path, conf(f"location / {{ proxy_pass {arg}; }}"))
        try:
            Engine.load(str(tmp_path / "conf/nginx.conf"), prefix=str(tmp_path) + "/")
        except ConfigError:
            pass
