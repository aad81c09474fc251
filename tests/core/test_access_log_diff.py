"""The access log against real nginx: the combined format, custom formats with
escape=default/json/none, several logs, "-" for variables that are not found, and what
$status, $body_bytes_sent, $bytes_sent and $request_length record."""

from __future__ import annotations

import re
import time

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    log_format custom '$request_method $uri|$args|$status|$body_bytes_sent|$bytes_sent|'
                      '$request_length|$http_x_odd|$remote_user|$sent_http_content_type';
    log_format js escape=json '{"uri":"$uri","odd":"$http_x_odd","ua":"$http_user_agent"}';
    log_format raw escape=none '$http_x_odd';
    access_log logs/combined.log;
    access_log logs/custom.log custom;
    access_log logs/json.log js;
    access_log logs/raw.log raw;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /ok { return 200 "hello\n"; }
        location /redir { return 302 /ok; }
        location /lua { content_by_lua_block { ngx.say("from lua") } }
        location /off { access_log off; return 204; }
    }
}
"""

FILES = {"html/file.txt": "a static file\n"}

ODD = 'quote" backslash\\ tab\t utf8 é'

CASES = [
    ("plain", Req("GET", "/ok", [("Host", "localhost"), ("User-Agent", "curl/8")])),
    ("args and odd header", Req("GET", "/ok?a=1&b=%20", [("Host", "localhost"),
                                                       ("X-Odd", ODD)])),
    ("redirect", Req("GET", "/redir", [("Host", "localhost"), ("Referer", "http://r/")])),
    ("static file", Req("GET", "/file.txt", [("Host", "localhost")])),
    ("not found", Req("GET", "/missing", [("Host", "localhost")])),
    ("lua chunked", Req("GET", "/lua", [("Host", "localhost")])),
    ("POST body", Req("POST", "/ok", [("Host", "localhost")], b"x=1")),
    ("access_log off", Req("GET", "/off", [("Host", "localhost")])),
]

_TIME = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
LOGS = ("combined.log", "custom.log", "json.log", "raw.log")


def _new(path, seen: dict) -> list[str]:  # type: ignore[no-untyped-def]
    data = path.read_bytes() if path.exists() else b""
    fresh = data[seen.get(path, 0):]
    seen[path] = len(data)
    return [_TIME.sub("[TIME]", line) for line in fresh.decode("utf-8", "replace").splitlines()]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_access_log_lines(pair, name, req):
    seen = pair.__dict__.setdefault("_seen_access", {})
    for log in LOGS:
        _new(pair.real.prefix / "logs" / log, seen), _new(pair.prefix / "logs" / log, seen)
    pair.both(req)
    time.sleep(0.05)
    for log in LOGS:
        real = _new(pair.real.prefix / "logs" / log, seen)
        ours = _new(pair.prefix / "logs" / log, seen)
        assert ours == real, log
