"""Realistic configurations side by side with real nginx over sockets (see realistic.py):
sites — static site, reverse proxy with cache, Lua API gateway, redirects, maintenance
page and admin area."""

from __future__ import annotations

import pytest

from tests.conformance.realistic import LAST_MODIFIED, LOG_FORMAT, Scenario, keepalive, req, run
from tests.oracle import HAVE_NGINX

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")

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

SCENARIOS = [STATIC_SITE, REVERSE_PROXY, API_GATEWAY, REDIRECTS, MAINTENANCE_ADMIN]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"realistic:{s.name}" for s in SCENARIOS])
def test_realistic(scenario: Scenario) -> None:
    diffs = run(scenario)
    assert not diffs, "\n".join(diffs)
