"""Realistic configurations, the way people write them, served side by side by real
nginx + ngx_lua and by ``ngx-explore serve``'s listener over real sockets.

Each scenario is a complete nginx.conf with its files and the requests a browser, curl or
an API client would send (HEAD, conditional and Range requests, gzip, keep-alive
sequences, odd methods and paths). Both servers get the same bytes; the replies are
compared whole (status line, every header but Date, body) with the ports normalised, and
at the end of the scenario so are the access log and the error log (levels and messages).
The served files get one fixed mtime on both sides so ETag and Last-Modified agree and
conditional requests can be tested.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.core.conftest import with_mime_types
from tests.oracle import HAVE_NGINX, RealNginx, free_ports
from tests.server.harness import Served, parse_replies, wait_for

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")

#: The mtime every served file gets on both sides (Tue, 14 Nov 2023 22:13:20 GMT).
MTIME = 1700000000
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"

#: An access-log format without times or connection numbers, so both sides can agree.
LOG_FORMAT = (
    "log_format t '$remote_addr \"$request\" $status $body_bytes_sent \"$http_referer\" "
    "\"$http_user_agent\" \"$sent_http_content_type\" $uri $args';"
)


def req(target: str = "/", *headers: str, method: str = "GET", body: bytes = b"",
        host: str | None = "localhost", version: str = "HTTP/1.1", close: bool = True) -> bytes:
    """One request's bytes: ``headers`` as ``"Name: value"`` lines."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += list(headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def keepalive(*requests: bytes) -> bytes:
    """Several requests on one connection (pipelined); all but the last are built with
    ``close=False``, the last one closes."""
    return b"".join(requests)


@dataclass
class Scenario:
    name: str
    conf: str
    files: dict[str, str | bytes]
    requests: list[bytes]
    #: Headers whose values depend on the clock (compared by presence only).
    timed: set[str] = field(default_factory=set)


def _norm(raw: bytes, ports: list[int], prefix: Path) -> bytes:
    raw = raw.replace(str(prefix).encode(), b"{prefix}")
    for i, p in enumerate(ports):
        raw = raw.replace(str(p).encode(), b"{port%d}" % i)
    return raw


def _comparable(raw: bytes, timed: set[str]) -> list:
    out = []
    for reply in parse_replies(raw):
        heads = [(k, "<timed>" if k.lower() in timed else v) for k, v in reply.headers
                 if k.lower() != "date"]
        out.append((reply.status_line, heads, reply.body))
    return out


_ELOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")


_STARTUP = re.compile(r"using the |nginx/|OS: |getrlimit|start (worker|cache)")


def _error_entries(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _ELOG.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
    return out


def _fix_mtimes(prefix: Path) -> None:
    for root, dirs, names in os.walk(prefix):
        rel = Path(root).relative_to(prefix)
        if rel.parts[:1] in (("conf",), ("logs",)):
            continue
        for name in names + dirs:
            os.utime(os.path.join(root, name), (MTIME, MTIME))


class Side:
    """One server (real or ours) of a scenario, its own ports substituted."""

    def __init__(self, server_cls: type, conf: str, files: dict) -> None:
        self.extra = free_ports(4)
        for i, p in enumerate(self.extra, start=1):
            conf = conf.replace("{port%d}" % i, str(p))
        self.server = server_cls(conf, files)
        _fix_mtimes(self.server.prefix)

    def __enter__(self) -> "Side":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def ports(self) -> list[int]:
        return [self.server.port, *self.extra]

    def ask(self, raw: bytes) -> bytes:
        return _norm(self.server.request(raw), self.ports, self.server.prefix)

    def logs(self) -> tuple[list[str], list[tuple[str, str]]]:
        prefix = self.server.prefix / "logs"
        access = prefix / "access.log"
        lines = access.read_text().splitlines() if access.exists() else []
        errors = (prefix / "error.log")
        text = errors.read_text() if errors.exists() else ""
        return ([_norm(x.encode(), self.ports, self.server.prefix).decode() for x in lines],
                _error_entries(_norm(text.encode(), self.ports, self.server.prefix).decode()))


def run(s: Scenario) -> list[str]:
    """Every request of the scenario to both servers: the differences found."""
    files = with_mime_types(s.files)
    diffs: list[str] = []
    with Side(RealNginx, s.conf, files) as real, Side(Served, s.conf, files) as ours:
        for raw in s.requests:
            want = _comparable(real.ask(raw), s.timed)
            got = _comparable(ours.ask(raw), s.timed)
            if got != want:
                diffs.append(f"{raw!r}\n  nginx: {want}\n  ours:  {got}")
        want_logs = real.logs()
        wait_for(lambda: len(ours.logs()[0]) >= len(want_logs[0]), 2)
        got_logs = ours.logs()
        # the oracle's readiness probe (a connection closed before any request) and the
        # master's start-up notices
        want_errors = [e for e in want_logs[1]
                       if "client closed connection while waiting for request" not in e[1]
                       and not (e[0] == "notice" and _STARTUP.match(e[1]))]
        if got_logs[0] != want_logs[0]:
            diffs.append(f"access log\n  nginx: {want_logs[0]}\n  ours:  {got_logs[0]}")
        if got_logs[1] != want_errors:
            diffs.append(f"error log\n  nginx: {want_errors}\n  ours:  {got_logs[1]}")
    return diffs


# --------------------------------------------------------------------------- scenarios

SCENARIOS: list[Scenario] = []

STATIC_SITE = Scenario("static-site", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    sendfile on;
    keepalive_timeout 65;
    gzip on;
    gzip_types text/css application/javascript application/json image/svg+xml;
    gzip_min_length 64;
    gzip_vary on;
    gzip_proxied any;
    server {
        listen 127.0.0.1:{port};
        server_name localhost example.com;
        root html;
        index index.html index.htm;
        charset utf-8;
        error_page 404 /404.html;
        location = /404.html { internal; }
        location / {
            try_files $uri $uri/ /index.html;
        }
        location ~* \\.(?:css|js|png|jpg|svg|woff2?)$ {
            expires 30d;
            add_header Cache-Control "public";
            access_log off;
            try_files $uri =404;
        }
        location = /favicon.ico { log_not_found off; access_log off; }
        location = /robots.txt  { log_not_found off; access_log off; }
        location ~ /\\. { deny all; }
        location /docs/ {
            try_files $uri $uri/ =404;
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/index.html": "<!doctype html><html><body><div id=app>SPA shell</div></body></html>\n",
    "html/404.html": "<h1>Not here</h1>\n",
    "html/css/site.css": "body { margin: 0; padding: 0; font-family: sans-serif; color: #333; }\n" * 8,
    "html/js/app.js": "console.log('hello from the app, a line long enough to be gzipped');\n" * 6,
    "html/img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(200)),
    "html/.env": "SECRET=1\n",
    "html/.git/config": "[core]\n",
    "html/docs/index.html": "<p>docs</p>\n",
    "html/docs/guide.html": "<p>guide</p>\n",
}, [
    req("/"),
    req("/", method="HEAD"),
    req("/index.html"),
    req("/about"),
    req("/app/settings/profile?tab=2"),
    req("/css/site.css"),
    req("/css/site.css", "Accept-Encoding: gzip, deflate, br"),
    req("/css/site.css", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/css/site.css", 'If-None-Match: "6553f100-228"'),
    req("/css/site.css", "If-Modified-Since: Mon, 13 Nov 2023 22:13:20 GMT"),
    req("/js/app.js", "Range: bytes=0-9"),
    req("/js/app.js", "Range: bytes=-5"),
    req("/js/app.js", "Range: bytes=0-3,10-12"),
    req("/js/app.js", "Range: bytes=9999-"),
    req("/js/app.js", "Range: bytes=0-9", f"If-Range: {LAST_MODIFIED}"),
    req("/js/app.js", "Range: bytes=0-9", "Accept-Encoding: gzip"),
    req("/img/logo.png"),
    req("/img/missing.png"),
    req("/css/missing.css", "Accept-Encoding: gzip"),
    req("/favicon.ico"),
    req("/robots.txt"),
    req("/.env"),
    req("/.git/config"),
    req("/docs"),
    req("/docs/"),
    req("/docs/guide.html"),
    req("/docs/nothing.html"),
    req("/", method="POST", body=b"a=1"),
    req("/css/site.css", method="POST", body=b"a=1"),
    req("/", method="DELETE"),
    req("/index.html", method="OPTIONS"),
    req("/%2e%2e/etc/passwd"),
    req("/../etc/passwd"),
    req("/css/../index.html"),
    req("/", host="example.com", version="HTTP/1.0", close=False),
    req("/", host=None, version="HTTP/1.0"),
    keepalive(req("/", close=False), req("/css/site.css", "Accept-Encoding: gzip", close=False),
              req("/missing", method="HEAD", close=False), req("/docs/")),
], timed={"expires"})
SCENARIOS.append(STATIC_SITE)


REVERSE_PROXY = Scenario("reverse-proxy", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=app_cache:1m max_size=10m inactive=60m;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream app {
        server 127.0.0.1:{port1};
        keepalive 8;
    }
    server {
        listen 127.0.0.1:{port};
        server_name app.example.com localhost;
        client_max_body_size 1k;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_redirect http://127.0.0.1:{port1}/ /;
            proxy_read_timeout 30s;
        }
        location /static/ {
            proxy_pass http://app;
            proxy_cache app_cache;
            proxy_cache_valid 200 302 10m;
            proxy_cache_valid 404 1m;
            proxy_cache_key $scheme$proxy_host$request_uri;
            add_header X-Cache-Status $upstream_cache_status always;
        }
        location /ws/ {
            proxy_pass http://127.0.0.1:{port1}/socket/;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
        }
        location /api/ {
            proxy_pass http://127.0.0.1:{port1}/v1/;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_hide_header X-Powered-By;
            proxy_intercept_errors on;
            error_page 500 502 503 504 /50x.html;
        }
        location = /50x.html { root html; }
        location /down/ {
            proxy_pass http://127.0.0.1:{port2};
            proxy_connect_timeout 1s;
            error_page 502 /50x.html;
        }
    }
    server {
        listen 127.0.0.1:{port1};
        server_name backend;
        default_type text/plain;
        location / {
            return 200 "backend $request_method $request_uri host=$host xrip=$http_x_real_ip xff=$http_x_forwarded_for proto=$http_x_forwarded_proto conn=$http_connection\\n";
        }
        location /login-redirect { return 302 http://127.0.0.1:{port1}/login?next=/app; }
        location /static/ {
            add_header Cache-Control "public, max-age=60";
            root html/backend;
        }
        location /socket/ {
            keepalive_timeout 0;
            return 200 "socket $request_uri upgrade=$http_upgrade conn=$http_connection\\n";
        }
        location /v1/ {
            add_header X-Powered-By "php/7";
            return 200 "v1 $request_uri xff=$http_x_forwarded_for\\n";
        }
        location /v1/broken { return 500 "stack trace\\n"; }
        location /v1/teapot { return 418 "short and stout\\n"; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/50x.html": "<h1>Sorry, something went wrong.</h1>\n",
    "html/backend/static/app.css": "body{color:red}\n",
}, [
    req("/"),
    req("/users?id=7&sort=asc", "X-Forwarded-For: 10.0.0.1", "User-Agent: curl/8.0"),
    req("/", host="app.example.com"),
    req("/login-redirect"),
    req("/form", "Content-Type: application/x-www-form-urlencoded", method="POST",
        body=b"name=x&value=y"),
    req("/upload", method="POST", body=b"x" * 2000),
    req("/", method="HEAD"),
    req("/static/app.css"),
    req("/static/app.css"),
    req("/static/app.css", method="HEAD"),
    req("/static/app.css", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/static/missing.css"),
    req("/static/missing.css"),
    req("/static/app.css", "Range: bytes=0-3"),
    keepalive(req("/ws/chat?room=1", "Upgrade: websocket", "Connection: Upgrade",
                  "Sec-WebSocket-Version: 13", close=False), req("/ws/chat?room=2")),
    req("/api/users"),
    req("/api/users", "X-Forwarded-For: 192.0.2.1, 198.51.100.2"),
    req("/api/broken"),
    req("/api/teapot"),
    req("/down/x"),
    keepalive(req("/a", close=False), req("/static/app.css", close=False),
              req("/api/x", close=False), req("/b")),
])
SCENARIOS.append(REVERSE_PROXY)

API_GATEWAY = Scenario("api-gateway", """
error_log logs/error.log info;
events {}
http {
    LOG_FORMAT
    access_log logs/access.log t;
    lua_shared_dict tokens 1m;
    lua_shared_dict metrics 1m;
    limit_req_zone $binary_remote_addr zone=api:1m rate=100r/s;
    init_by_lua_block {
        cjson = require "cjson.safe"
    }
    init_worker_by_lua_block {
        local t = ngx.shared.tokens
        t:set("secret-1", "alice")
        t:set("secret-2", "bob")
    }
    server {
        listen 127.0.0.1:{port};
        server_name api.example.com;
        default_type application/json;

        location /api/ {
            if ($request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin $http_origin always;
                add_header Access-Control-Allow-Methods "GET, POST, OPTIONS" always;
                add_header Access-Control-Allow-Headers "Authorization, Content-Type" always;
                add_header Access-Control-Max-Age 86400 always;
                return 204;
            }
            add_header Access-Control-Allow-Origin $http_origin always;
            add_header Vary Origin always;
            limit_req zone=api burst=20 nodelay;
            access_by_lua_block {
                local auth = ngx.var.http_authorization
                if not auth then
                    ngx.status = 401
                    ngx.header["WWW-Authenticate"] = 'Bearer realm="api"'
                    ngx.say(cjson.encode({error = "missing token"}))
                    return ngx.exit(401)
                end
                local token = auth:match("^Bearer%s+(.+)$")
                local user = token and ngx.shared.tokens:get(token)
                if not user then
                    ngx.log(ngx.WARN, "bad token: ", token or auth)
                    return ngx.exit(ngx.HTTP_FORBIDDEN)
                end
                ngx.ctx.user = user
                ngx.req.set_header("X-User", user)
            }
            log_by_lua_block {
                local m = ngx.shared.metrics
                m:incr("requests", 1, 0)
                m:incr("status_" .. ngx.status, 1, 0)
            }
            content_by_lua_block {
                local path = ngx.var.uri:sub(6)
                if path == "me" then
                    ngx.say(cjson.encode({user = ngx.ctx.user}))
                elseif path == "echo" then
                    ngx.req.read_body()
                    local data = ngx.req.get_body_data()
                    local obj, err = cjson.decode(data or "")
                    if not obj then
                        ngx.status = 400
                        ngx.say(cjson.encode({error = "invalid json"}))
                        return
                    end
                    -- (one key per object: cjson's key order is LuaJIT's hash order)
                    ngx.header["X-User"] = ngx.ctx.user
                    ngx.say(cjson.encode(obj))
                elseif path == "profile" then
                    local res = ngx.location.capture("/internal/profile",
                                                     {args = {user = ngx.ctx.user}})
                    ngx.status = res.status
                    ngx.print(res.body)
                elseif path == "both" then
                    local a, b = ngx.location.capture_multi({
                        {"/internal/profile", {args = "user=a"}},
                        {"/internal/missing"},
                    })
                    ngx.say(a.status, " ", b.status, " ", #a.body)
                elseif path == "crash" then
                    error("boom")
                else
                    ngx.status = 404
                    ngx.say(cjson.encode({error = "no such endpoint: " .. path}))
                end
            }
        }
        location /internal/ {
            internal;
            content_by_lua_block {
                ngx.say('{"name":"', ngx.var.arg_user or "?", '","plan":"pro"}')
            }
        }
        location = /metrics {
            allow 127.0.0.1;
            deny all;
            default_type text/plain;
            content_by_lua_block {
                local m = ngx.shared.metrics
                local keys = m:get_keys()
                table.sort(keys)
                for _, k in ipairs(keys) do ngx.say(k, " ", m:get(k)) end
            }
        }
        location = /health { access_log off; return 200 '{"status":"ok"}'; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {}, [
    req("/health"),
    req("/api/me"),
    req("/api/me", "Authorization: Bearer nope"),
    req("/api/me", "Authorization: Basic Zm9vOmJhcg=="),
    req("/api/me", "Authorization: Bearer secret-1", "Origin: https://app.example.com"),
    req("/api/me", "Origin: https://app.example.com", "Access-Control-Request-Method: POST",
        method="OPTIONS"),
    req("/api/echo", "Authorization: Bearer secret-2", "Content-Type: application/json",
        method="POST", body=b'{"a":[1,2,3]}'),
    req("/api/echo", "Authorization: Bearer secret-2", method="POST", body=b"not json"),
    req("/api/profile", "Authorization: Bearer secret-1"),
    req("/api/both", "Authorization: Bearer secret-1"),
    req("/api/nothing", "Authorization: Bearer secret-1"),
    req("/api/crash", "Authorization: Bearer secret-1"),
    req("/api/me", "Authorization: Bearer secret-1", method="HEAD"),
    req("/internal/profile?user=x"),
    keepalive(req("/api/me", "Authorization: Bearer secret-1", close=False),
              req("/api/me", close=False), req("/api/x", method="OPTIONS", close=False),
              req("/metrics")),
])
SCENARIOS.append(API_GATEWAY)

REDIRECTS = Scenario("redirects", """
error_log logs/error.log notice;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    rewrite_log on;
    map $uri $new_uri {
        default          "";
        /old-page        /new-page;
        /blog/2019/hello /posts/hello;
        ~^/wiki/(?<w>.+)$ /docs/$w;
    }
    server {
        listen 127.0.0.1:{port};
        server_name ~^www\\.(?<domain>.+)$;
        return 301 $scheme://$domain$request_uri;
    }
    server {
        listen 127.0.0.1:{port};
        server_name example.com localhost;
        root html;
        if ($new_uri) {
            return 301 $new_uri;
        }
        location = /http-only { return 301 https://$host$request_uri; }
        rewrite ^/old/(.*)$ /new/$1 permanent;
        rewrite ^/temp/(.*)$ /new/$1 redirect;
        rewrite ^/shop/item/(\\d+)$ /shop/item.html?id=$1 last;
        rewrite ^/user/(?<name>[a-z]+)/?$ /profile.html?u=$name? break;
        location /new/ { return 200 "new: $uri args=$args\\n"; }
        location = /shop/item.html { return 200 "item $arg_id\\n"; }
        location ~ ^/([^.]*[^/])$ {
            # trailing slash for directory-like paths
            if (-d $request_filename) { rewrite ^(.*)$ $1/ permanent; }
            try_files $uri =404;
        }
        location / { index index.html; }
        location /moved { return 302 /elsewhere; }
        location /see-other { return 303 http://other.example.com/; }
        location /temporary { return 307 /x; }
        location /permanent { return 308 /y; }
        location /gone { return 410; }
        location /text { return 200 "plain text at $request_uri\\n"; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/index.html": "<p>home</p>\n",
    "html/profile.html": "<p>profile</p>\n",
    "html/docs/index.html": "<p>docs index</p>\n",
    "html/docs/page.html": "<p>docs page</p>\n",
}, [
    req("/", host="www.example.com"),
    req("/path/to?x=1&y=2", host="www.example.com"),
    req("/", host="www.example.com:8080"),
    req("/", host="example.com"),
    req("/http-only?q=1"),
    req("/old/page.html"),
    req("/old/a/b?keep=1"),
    req("/temp/z"),
    req("/shop/item/42"),
    req("/shop/item/42?ref=mail"),
    req("/user/alice"),
    req("/user/alice/?x=1"),
    req("/user/Alice"),
    req("/old-page"),
    req("/old-page?x=1"),
    req("/blog/2019/hello"),
    req("/wiki/Main_Page"),
    req("/docs"),
    req("/docs?x=1"),
    req("/docs/"),
    req("/docs/page.html"),
    req("/nothing"),
    req("/moved"),
    req("/see-other"),
    req("/temporary", method="POST", body=b"a=1"),
    req("/permanent"),
    req("/gone"),
    req("/text?a=%20b"),
    req("/moved", host=None, version="HTTP/1.0"),
    req("/moved", method="HEAD"),
    keepalive(req("/old/x", close=False), req("/", host="www.example.com", close=False),
              req("/gone")),
])
SCENARIOS.append(REDIRECTS)

MAINTENANCE_ADMIN = Scenario("maintenance-admin", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    geo $arg_ip $blocked_net {
        default        0;
        192.0.2.0/24   1;
        198.51.100.7   1;
    }
    map $http_user_agent $bad_bot {
        default              0;
        ~*(sqlmap|nikto)     1;
        "~*^$"               1;
    }
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html;
        error_page 503 @maintenance;
        location @maintenance {
            rewrite ^ /maintenance.html break;
        }
        location / {
            if ($blocked_net) { return 403; }
            if ($bad_bot) { return 444; }
            index index.html;
        }
        location /shop/ {
            if (-f $document_root/shop/maintenance.html) {
                return 503;
            }
            try_files $uri $uri/index.html =404;
        }
        location /admin/ {
            satisfy any;
            allow 10.0.0.0/8;
            deny all;
            auth_basic "Admin area";
            auth_basic_user_file conf/htpasswd;
            try_files $uri $uri/index.html =404;
        }
        location /ops/ {
            satisfy all;
            allow 127.0.0.1;
            deny all;
            auth_basic "Ops";
            auth_basic_user_file conf/htpasswd;
            alias html/admin/;
        }
        location /public/ {
            auth_basic off;
            alias html/pub/;
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "conf/htpasswd": "# users\nadmin:$apr1$abcdefgh$M2T3erDstkD7SsE2QQnfH0\n"
                     "ops:$1$xyz$xcS29QcMhtqHlljKPiTTE.\nplain:{PLAIN}letmein\n",
    "html/index.html": "<p>home</p>\n",
    "html/maintenance.html": "<h1>Back soon</h1>\n",
    "html/shop/maintenance.html": "flag\n",
    "html/shop/index.html": "<p>shop</p>\n",
    "html/admin/index.html": "<p>admin</p>\n",
    "html/admin/users.html": "<p>users</p>\n",
    "html/pub/readme.txt": "public\n",
}, [
    req("/", "User-Agent: Mozilla/5.0"),
    req("/", "User-Agent: sqlmap/1.5"),
    req("/"),
    req("/?ip=192.0.2.44", "User-Agent: curl/8"),
    req("/?ip=198.51.100.7", "User-Agent: curl/8"),
    req("/?ip=198.51.100.8", "User-Agent: curl/8"),
    req("/shop/", "User-Agent: curl/8"),
    req("/shop/cart", "User-Agent: curl/8"),
    req("/shop/", "User-Agent: curl/8", method="HEAD"),
    req("/admin/"),
    req("/admin/", "Authorization: Basic YWRtaW46czNjcmV0"),
    req("/admin/users.html", "Authorization: Basic YWRtaW46czNjcmV0"),
    req("/admin/", "Authorization: Basic YWRtaW46d3Jvbmc="),
    req("/admin/", "Authorization: Basic b3BzOnBhc3My"),
    req("/admin/", "Authorization: Basic cGxhaW46bGV0bWVpbg=="),
    req("/admin/", "Authorization: Basic bm9ib2R5OngK"),
    req("/admin/", "Authorization: Basic !!!"),
    req("/admin/", "Authorization: Bearer abc"),
    req("/ops/", "Authorization: Basic b3BzOnBhc3My"),
    req("/ops/users.html"),
    req("/public/readme.txt"),
    req("/public/", "User-Agent: x"),
    keepalive(req("/admin/", close=False),
              req("/admin/", "Authorization: Basic YWRtaW46czNjcmV0", close=False),
              req("/shop/")),
])
SCENARIOS.append(MAINTENANCE_ADMIN)


EDGE_FEATURES = Scenario("edge-features", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    split_clients "${remote_addr}AAA" $split_variant {
        50%     a;
        *       b;
    }
    map $cookie_ab $variant {
        default  $cookie_ab;
        ""       $split_variant;
    }
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html;
        ssi on;
        location = / {
            add_header Set-Cookie "ab=$variant; Path=/; Max-Age=86400";
            try_files /index-$variant.html =404;
        }
        location /files/ {
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri topsecret";
            if ($secure_link = "") { return 403; }
            if ($secure_link = "0") { return 410; }
            add_header Content-Disposition "attachment";
        }
        location /news/ {
            sub_filter '</body>' '<div class="banner">Sale!</div></body>';
            sub_filter '<title>' '<title>[beta] ';
            sub_filter_once off;
            sub_filter_last_modified on;
        }
        location = /nginx_status {
            stub_status;
            allow 127.0.0.1;
            deny all;
        }
        location /api/ {
            mirror /mirror;
            mirror_request_body on;
            proxy_pass http://127.0.0.1:{port1};
        }
        location = /mirror {
            internal;
            proxy_pass http://127.0.0.1:{port1}/mirrored$request_uri;
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type text/plain;
        location / { return 200 "backend $request_method $request_uri\\n"; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/index-a.html": "<p>variant A</p>\n<!--# include virtual=\"/footer.html\" -->\n",
    "html/index-b.html": "<p>variant B</p>\n<!--# include virtual=\"/footer.html\" -->\n",
    "html/footer.html": "<footer>(c) <!--# echo var=\"host\" --></footer>\n",
    "html/ssi.html": "<!--# set var=\"who\" value=\"world\" -->hello <!--# echo var=\"who\" -->"
                     "<!--# if expr=\"$arg_x\" --> x=<!--# echo var=\"arg_x\" --><!--# else -->"
                     " no x<!--# endif -->\n<!--# include virtual=\"/missing.html\" -->"
                     "<!--# include file=\"footer.html\" -->",
    "html/files/report.pdf": b"%PDF-1.4 fake\n",
    "html/news/index.html": "<html><head><title>News</title></head><body><p>today</p></body>"
                            "</html>\n",
    "html/news/plain.txt": "</body> stays\n",
}, [
    req("/"),
    req("/", "Cookie: ab=a"),
    req("/", "Cookie: ab=b; other=1"),
    req("/", "Cookie: ab=zzz"),
    req("/ssi.html"),
    req("/ssi.html?x=42"),
    req("/files/report.pdf"),
    req("/files/report.pdf?md5=NZGAdGyHObknf-HPkT4Onw&expires=2000000000"),
    req("/files/report.pdf?md5=_m4zdJKhejsnF8lWGlKybg&expires=1000000000"),
    req("/files/report.pdf?md5=NZGAdGyHObknf-HPkT4Onw&expires=2000000001"),
    req("/files/report.pdf?md5=NZGAdGyHObknf-HPkT4Onw&expires=2000000000",
        "Range: bytes=0-3"),
    req("/news/"),
    req("/news/index.html", "Accept-Encoding: gzip"),
    req("/news/index.html", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/news/plain.txt"),
    req("/api/orders?page=2"),
    req("/api/orders", "Content-Type: application/json", method="POST", body=b'{"id":1}'),
    req("/mirror"),
    keepalive(req("/ssi.html", close=False), req("/news/", close=False), req("/")),
])
SCENARIOS.append(EDGE_FEATURES)

LOAD_BALANCER = Scenario("load-balancer", """
error_log logs/error.log info;
events {}
http {
    LOG_FORMAT
    access_log logs/access.log t;
    upstream by_user {
        # (not "consistent": ketama points hash the peers' names, whose ports differ
        # between the two servers under test)
        hash $arg_user;
        server 127.0.0.1:{port1};
        server 127.0.0.1:{port2};
        server 127.0.0.1:{port3};
    }
    upstream with_backup {
        server 127.0.0.1:{port4} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{port1} backup;
    }
    upstream weighted {
        server 127.0.0.1:{port1} weight=3;
        server 127.0.0.1:{port2};
    }
    server {
        listen 127.0.0.1:{port};
        proxy_set_header Host $host;
        add_header X-Upstream $upstream_addr always;
        add_header X-Upstream-Status $upstream_status always;
        location /user/ { proxy_pass http://by_user; }
        location /ha/ { proxy_pass http://with_backup; proxy_next_upstream error timeout; }
        location /w/ { proxy_pass http://weighted; }
        location /retry/ {
            proxy_pass http://by_user;
            proxy_intercept_errors on;
            error_page 404 = @fallback;
        }
        location @fallback { return 200 "fallback for $uri\\n"; }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type text/plain;
        location / { return 200 "one $request_uri\\n"; }
        location /retry/ { return 404; }
    }
    server {
        listen 127.0.0.1:{port2};
        default_type text/plain;
        location / { return 200 "two $request_uri\\n"; }
        location /retry/ { return 404; }
    }
    server {
        listen 127.0.0.1:{port3};
        default_type text/plain;
        location / { return 200 "three $request_uri\\n"; }
        location /retry/ { return 404; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {}, [
    *(req(f"/user/profile?user={u}") for u in ("alice", "bob", "carol", "dave", "erin",
                                                 "alice", "")),
    req("/ha/a"),
    req("/ha/b"),
    req("/ha/c", method="POST", body=b"x=1"),
    *(req(f"/w/{i}") for i in range(6)),
    req("/retry/x?user=bob"),
    keepalive(req("/w/a", close=False), req("/user/x?user=zed", close=False), req("/ha/z")),
])
SCENARIOS.append(LOAD_BALANCER)


VIRTUAL_HOSTS = Scenario("virtual-hosts", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    server {
        listen 127.0.0.1:{port} default_server;
        server_name _;
        return 444;
    }
    server {
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{port1};
        server_name example.com *.example.com;
        root sites/example;
        location / { try_files $uri $uri/ =404; }
        location = /whoami { return 200 "$host $server_name $server_port $hostname\\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name ~^(?<sub>[a-z0-9-]+)\\.apps\\.test$;
        root sites/apps;
        location / {
            default_type text/plain;
            return 200 "app=$sub uri=$uri\\n";
        }
    }
    server {
        listen 127.0.0.1:{port};
        server_name static.test;
        root sites/static;
        autoindex on;
        location /images/ { autoindex_exact_size off; }
        location = /empty.gif { empty_gif; }
        location /pics/ { alias sites/static/images/; }
        location ^~ /downloads/ { internal; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT).replace("$hostname", "x"), {
    "sites/example/index.html": "<p>example</p>\n",
    "sites/example/about/index.html": "<p>about</p>\n",
    "sites/static/images/a.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 30,
    "sites/static/images/b.jpg": b"\xff\xd8\xff" + b"\0" * 3000,
    "sites/static/downloads/file.zip": b"PK\x03\x04",
    "sites/static/notes.txt": "notes\n",
}, [
    req("/", host="unknown.test"),
    req("/", host=None, version="HTTP/1.0"),
    req("/", host="example.com"),
    req("/", host="EXAMPLE.com."),
    req("/about", host="www.example.com"),
    req("/about/", host="www.example.com"),
    req("/whoami", host="a.b.example.com"),
    req("/whoami", host="example.com:8080"),
    req("/x/y?z=1", host="shop.apps.test"),
    req("/", host="UPPER.apps.test"),
    req("/", host="static.test"),
    req("/images/", host="static.test"),
    req("/images", host="static.test"),
    req("/pics/a.png", host="static.test"),
    req("/empty.gif", host="static.test"),
    req("/downloads/file.zip", host="static.test"),
    req("/notes.txt", "Range: bytes=1-2", host="static.test"),
    req("http://example.com/whoami", host="static.test"),
    keepalive(req("/", host="static.test", close=False), req("/whoami", host="example.com",
                                                             close=False),
              req("/", host="nope.test")),
])
SCENARIOS.append(VIRTUAL_HOSTS)


LUA_APP = Scenario("lua-app", """
error_log logs/error.log info;
events {}
http {
    LOG_FORMAT
    access_log logs/access.log t;
    lua_shared_dict sessions 1m;
    server {
        listen 127.0.0.1:{port};
        default_type text/plain;
        location = /login {
            content_by_lua_block {
                if ngx.req.get_method() ~= "POST" then
                    ngx.header["Allow"] = "POST"
                    return ngx.exit(405)
                end
                ngx.req.read_body()
                local args = ngx.req.get_post_args()
                if args.user == "alice" and args.password == "pw" then
                    ngx.shared.sessions:set("sid-alice", "alice", 60)
                    ngx.header["Set-Cookie"] = {"sid=sid-alice; Path=/; HttpOnly",
                                                "seen=1; Path=/"}
                    return ngx.redirect("/home", 303)
                end
                ngx.status = 401
                ngx.say("bad credentials for ", args.user or "nobody")
            }
        }
        location = /home {
            access_by_lua_block {
                local sid = ngx.var.cookie_sid
                if not sid or not ngx.shared.sessions:get(sid) then
                    return ngx.redirect("/login?next=" .. ngx.escape_uri(ngx.var.request_uri))
                end
            }
            content_by_lua_block {
                local user = ngx.shared.sessions:get(ngx.var.cookie_sid)
                ngx.say("welcome ", user)
                local args = ngx.req.get_uri_args()
                local keys = {}
                for k in pairs(args) do keys[#keys + 1] = k end
                table.sort(keys)
                for _, k in ipairs(keys) do
                    local v = args[k]
                    if type(v) == "table" then v = table.concat(v, ",") end
                    ngx.say(k, "=", tostring(v))
                end
            }
        }
        location /legacy/ {
            rewrite_by_lua_block {
                local new = ngx.re.sub(ngx.var.uri, "^/legacy/(\\\\w+)", "/v2/$1", "jo")
                return ngx.exec(new, ngx.var.args)
            }
        }
        location /v2/ {
            header_filter_by_lua_block {
                ngx.header["X-Version"] = "2"
                ngx.header.content_length = nil
            }
            body_filter_by_lua_block {
                ngx.arg[1] = string.upper(ngx.arg[1])
            }
            content_by_lua_block { ngx.say("v2 ", ngx.var.uri, " ", ngx.var.args or "") }
        }
        location = /time-safe {
            content_by_lua_block {
                ngx.say(ngx.http_time(1700000000))
                ngx.say(ngx.cookie_time(1700000000))
                ngx.say(ngx.md5("abc"), " ", ngx.encode_base64("hello"))
                ngx.say(ngx.unescape_uri("a%20b+c"), " ", ngx.quote_sql_str("it's"))
            }
        }
        location = /fail { content_by_lua_block { local x = nil; return x.field } }
        location = /exit500 { content_by_lua_block { ngx.exit(500) } }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {}, [
    req("/login"),
    req("/login", "Content-Type: application/x-www-form-urlencoded", method="POST",
        body=b"user=alice&password=nope"),
    req("/login", "Content-Type: application/x-www-form-urlencoded", method="POST",
        body=b"user=alice&password=pw"),
    req("/home?b=2&a=1&a=3"),
    req("/home?b=2&a=1&a=3&flag", "Cookie: sid=sid-alice; theme=dark"),
    req("/home", "Cookie: sid=forged"),
    req("/legacy/items?page=3"),
    req("/legacy/items", method="HEAD"),
    req("/v2/direct"),
    req("/time-safe"),
    req("/fail"),
    req("/exit500"),
    keepalive(req("/home", "Cookie: sid=sid-alice", close=False), req("/v2/x?y", close=False),
              req("/fail")),
])
SCENARIOS.append(LUA_APP)

ERRORS_AND_CACHING = Scenario("errors-caching", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    server_tokens off;
    map $sent_http_content_type $cache_policy {
        default                   "no-cache";
        ~^text/css                "public, max-age=31536000, immutable";
        ~^image/                  "public, max-age=604800";
    }
    server {
        listen 127.0.0.1:{port};
        root html;
        add_header Cache-Control $cache_policy;
        add_header X-Frame-Options SAMEORIGIN;
        add_header X-Content-Type-Options nosniff always;
        etag off;
        error_page 404 /errors/404.html;
        error_page 500 502 503 504 /errors/50x.html;
        error_page 403 =404 /errors/404.html;
        error_page 418 =200 @teapot;
        location /errors/ { internal; }
        location @teapot { default_type text/plain; return 200 "teapot handled\\n"; }
        location /private/ { deny all; }
        location = /brew { return 418; }
        location = /boom { return 500; }
        location = /empty.gif { empty_gif; add_header Cache-Control "max-age=60"; }
        location /nested/ {
            add_header X-Nested yes;
            location /nested/inner/ { add_header X-Inner yes; }
        }
        location /big/ { client_max_body_size 10; client_body_buffer_size 8k; return 200 ok; }
        if_modified_since before;
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/index.html": "<p>home</p>\n",
    "html/site.css": "body{}\n",
    "html/logo.png": b"\x89PNG\r\n\x1a\n",
    "html/errors/404.html": "<h1>404</h1>\n",
    "html/errors/50x.html": "<h1>50x</h1>\n",
    "html/private/secret.txt": "s\n",
    "html/nested/a.txt": "a\n",
    "html/nested/inner/b.txt": "b\n",
}, [
    req("/"),
    req("/site.css"),
    req("/logo.png"),
    req("/logo.png", "If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT"),
    req("/logo.png", "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT"),
    req("/logo.png", "If-Modified-Since: garbage"),
    req("/site.css", 'If-None-Match: "x"'),
    req("/missing"),
    req("/errors/404.html"),
    req("/private/secret.txt"),
    req("/brew"),
    req("/boom"),
    req("/empty.gif"),
    req("/nested/a.txt"),
    req("/nested/inner/b.txt"),
    req("/big/", method="POST", body=b"0123456789abcdef"),
    req("/big/", method="POST", body=b"0123"),
    req("/big/", "Transfer-Encoding: chunked", method="POST",
        body=b"3\r\nabc\r\n0\r\n\r\n"),
    req("/", method="PUT", body=b"x"),
    keepalive(req("/missing", close=False), req("/boom", close=False), req("/site.css")),
])
SCENARIOS.append(ERRORS_AND_CACHING)


PROTECTION = Scenario("protection", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    limit_req_zone $binary_remote_addr zone=login:1m rate=1r/m;
    limit_req_zone $arg_key zone=bykey:1m rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=perip:1m;
    limit_req_status 429;
    server {
        listen 127.0.0.1:{port};
        root html;
        location = /login {
            limit_req zone=login;
            return 200 "login form\\n";
        }
        location = /search {
            limit_req zone=bykey burst=1 nodelay;
            limit_req_log_level warn;
            return 200 "results for $arg_key\\n";
        }
        location /downloads/ {
            limit_conn perip 2;
            limit_rate 1m;
        }
        location /img/ {
            valid_referers none blocked server_names example.com *.example.org ~\\.google\\.;
            if ($invalid_referer) { return 403; }
        }
        location /ua/ {
            if ($http_user_agent ~* "(curl|wget)") { return 403 "no bots\\n"; }
            if ($request_method !~ ^(GET|HEAD)$) { return 405; }
            return 200 "hello $http_user_agent\\n";
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/downloads/f.bin": b"\0" * 100,
    "html/img/pic.png": b"\x89PNG\r\n\x1a\n",
}, [
    req("/login"),
    req("/login"),
    req("/search?key=a"),
    req("/search?key=a"),
    req("/search?key=a"),
    req("/search?key=b"),
    req("/search"),
    req("/downloads/f.bin"),
    req("/img/pic.png"),
    req("/img/pic.png", "Referer: http://example.com/page"),
    req("/img/pic.png", "Referer: https://www.example.org/x"),
    req("/img/pic.png", "Referer: https://www.google.com/search"),
    req("/img/pic.png", "Referer: http://evil.test/"),
    req("/img/pic.png", "Referer: no-scheme"),
    req("/ua/", "User-Agent: Mozilla/5.0"),
    req("/ua/", "User-Agent: curl/8.1"),
    req("/ua/", "User-Agent: Mozilla/5.0", method="POST", body=b"x"),
    req("/ua/", "User-Agent: Mozilla/5.0", method="HEAD"),
])
SCENARIOS.append(PROTECTION)


HTTP_CLIENTS = Scenario("http-clients", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    gzip on;
    gzip_types text/plain application/json;
    gzip_min_length 20;
    gzip_comp_level 5;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /echo {
            default_type text/plain;
            return 200 "$request_method $request_uri ct=$content_type cl=$content_length body_len=$request_length\\n";
        }
        location /lua-echo {
            default_type text/plain;
            content_by_lua_block {
                ngx.req.read_body()
                local body = ngx.req.get_body_data() or ""
                ngx.say(ngx.req.get_method(), " ", #body, " ", ngx.var.http_transfer_encoding or "-")
                ngx.say(body)
            }
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/data.json": '{"items": [' + ", ".join(f'{{"id": {i}}}' for i in range(300)) + "]}\n",
    "html/small.txt": "tiny\n",
}, [
    req("/data.json", "Accept-Encoding: gzip"),
    req("/data.json", "Accept-Encoding: gzip;q=0"),
    req("/data.json", "Accept-Encoding: deflate, br"),
    req("/data.json", "Accept-Encoding: gzip", version="HTTP/1.0"),
    req("/data.json", "Accept-Encoding: gzip", "Range: bytes=0-10"),
    req("/data.json", "Accept-Encoding: gzip", method="HEAD"),
    req("/small.txt", "Accept-Encoding: gzip"),
    req("/lua-echo", "Content-Type: application/json", "Accept-Encoding: gzip", method="POST",
        body=b'{"name": "value", "list": [1, 2, 3]}'),
    req("/lua-echo", "Transfer-Encoding: chunked", method="PUT",
        body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
    req("/lua-echo", "Expect: 100-continue", method="POST", body=b"abc"),
    req("/echo?a=1&b=%20", "Content-Type: text/plain", method="PATCH", body=b"patch"),
    req("/echo", "Connection: keep-alive", version="HTTP/1.0", close=True),
    req("http://localhost/echo?abs=1", host=None),
    req("//echo//x/../y"),
    req("/echo%3Fnot-a-query"),
    req("/echo", "X-Long: " + "v" * 3000),
    req("/echo", "Cookie: a=1", "Cookie: b=2"),
    keepalive(req("/small.txt", version="HTTP/1.0", close=False) .replace(
        b"\r\n\r\n", b"\r\nConnection: keep-alive\r\n\r\n"), req("/data.json", close=False),
              req("/echo", method="OPTIONS")),
])
SCENARIOS.append(HTTP_CLIENTS)

@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"realistic:{s.name}" for s in SCENARIOS])
def test_realistic(scenario: Scenario) -> None:
    diffs = run(scenario)
    assert not diffs, "\n".join(diffs)
