"""Ten more realistic configurations side by side with real nginx over sockets (see
realistic.py): a PHP front controller, a single-page app, CORS, maintenance mode,
canonical host and trailing-slash redirects, a websocket-ready proxy, a Lua API gateway,
a Lua response cache, a download area behind X-Accel-Redirect and a multi-tenant host
map. Each comes with the requests browsers and API clients send, bad ones included."""

from __future__ import annotations

import pytest

from tests.conformance.realistic import LAST_MODIFIED, LOG_FORMAT, Scenario, keepalive, req, run
from tests.differential import engine_load_error
from tests.oracle import HAVE_NGINX, first_emerg, nginx_test, write_prefix

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")

#: What a desktop browser sends with a page navigation.
BROWSER = ("User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
           "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
           "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br")

FASTCGI_PARAMS = """fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  REQUEST_METHOD     $request_method;
fastcgi_param  CONTENT_TYPE       $content_type;
fastcgi_param  CONTENT_LENGTH     $content_length;
fastcgi_param  SCRIPT_NAME        $fastcgi_script_name;
fastcgi_param  REQUEST_URI        $request_uri;
fastcgi_param  DOCUMENT_URI       $document_uri;
fastcgi_param  DOCUMENT_ROOT      $document_root;
fastcgi_param  SERVER_PROTOCOL    $server_protocol;
fastcgi_param  GATEWAY_INTERFACE  CGI/1.1;
fastcgi_param  REMOTE_ADDR        $remote_addr;
fastcgi_param  SERVER_NAME        $server_name;
fastcgi_param  REDIRECT_STATUS    200;
"""

PHP_FRONT_CONTROLLER = Scenario("php-front-controller", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    client_max_body_size 2k;
    server_tokens off;
    upstream php_fpm {
        # (nothing listens here: PHP-FPM is down)
        server 127.0.0.1:{port1};
    }
    server {
        listen 127.0.0.1:{port};
        server_name shop.example.com;
        root www/public;
        index index.php index.html;
        charset utf-8;

        location / {
            try_files $uri $uri/ /index.php?$args;
        }
        location ~ \\.php$ {
            try_files $uri =404;
            fastcgi_split_path_info ^(.+\\.php)(/.+)$;
            fastcgi_pass php_fpm;
            fastcgi_index index.php;
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_intercept_errors on;
        }
        location ~* \\.(?:css|js|png|jpe?g|gif|ico|svg|woff2?)$ {
            add_header Cache-Control "public, max-age=2592000";
            log_not_found off;
            access_log off;
        }
        location ^~ /uploads/ {
            location ~ \\.php$ { deny all; }
        }
        location ~ /\\.(?!well-known) { deny all; }
        error_page 502 503 504 /50x.html;
        location = /50x.html { internal; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "conf/fastcgi_params": FASTCGI_PARAMS,
    "www/public/index.php": "<?php require '../app.php';\n",
    "www/public/50x.html": "<h1>We'll be right back</h1>\n",
    "www/public/css/app.css": "body{margin:0}\n",
    "www/public/img/logo.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 16,
    "www/public/uploads/avatar.jpg": b"\xff\xd8\xff\xe0",
    "www/public/uploads/shell.php": "<?php system($_GET['c']);\n",
    "www/public/.htaccess": "Deny from all\n",
    "www/public/.well-known/security.txt": "Contact: mailto:sec@example.com\n",
    "www/public/about/index.html": "<p>about</p>\n",
}, [
    req("/", *BROWSER, host="shop.example.com"),
    req("/products/42?color=red&size=m", *BROWSER, "Cookie: PHPSESSID=abc123; cart=3"),
    req("/css/app.css", "Accept: text/css,*/*;q=0.1"),
    req("/img/logo.png", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/img/missing.png"),
    req("/index.php/api/items?page=2"),
    req("/info.php"),
    req("/uploads/avatar.jpg"),
    req("/uploads/shell.php?c=id"),
    req("/.htaccess"),
    req("/.well-known/security.txt"),
    req("/about/"),
    req("/about"),
    req("/cart/add", "Content-Type: application/x-www-form-urlencoded", method="POST",
        body=b"product=42&qty=1"),
    req("/upload", "Content-Type: application/octet-stream", method="POST",
        body=b"x" * 4096),
    keepalive(req("/css/app.css", close=False), req("/checkout", close=False),
              req("/img/logo.png", method="HEAD")),
])


SPA = Scenario("single-page-app", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    sendfile on;
    tcp_nopush on;
    gzip on;
    gzip_vary on;
    gzip_comp_level 6;
    gzip_min_length 256;
    gzip_types text/css application/javascript application/json image/svg+xml;
    server {
        listen 127.0.0.1:{port};
        server_name app.example.com;
        root dist;
        index index.html;
        etag on;

        location / {
            try_files $uri /index.html;
        }
        location = /index.html {
            add_header Cache-Control "no-cache, no-store, must-revalidate";
            expires -1;
        }
        location /assets/ {
            expires max;
            add_header X-Asset hashed;
            try_files $uri =404;
            access_log off;
        }
        location /api/ {
            proxy_pass http://127.0.0.1:{port1};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
        location = /healthz {
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type application/json;
        location /api/ { return 200 '{"path":"$uri","host":"$host","xff":"$http_x_forwarded_for"}'; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "dist/index.html": "<!doctype html><html><head><script src=/assets/app.3f9a1c.js>"
                       "</script></head><body><div id=root></div></body></html>\n",
    "dist/assets/app.3f9a1c.js": "(function(){var a=document.getElementById('root');"
                                 "a.textContent='hello, single page app';})();\n" * 8,
    "dist/assets/app.77b0e2.css": "#root{font:16px/1.4 system-ui,sans-serif;color:#222}\n" * 8,
    "dist/assets/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    "dist/manifest.json": '{"name":"App","start_url":"/"}\n',
}, [
    req("/", *BROWSER),
    req("/dashboard/settings?tab=profile", *BROWSER, "Cookie: session=eyJhbGciOi; _ga=GA1.1"),
    req("/index.html", 'If-None-Match: "6553f100-89"'),
    req("/assets/app.3f9a1c.js", "Accept: */*", "Accept-Encoding: gzip, deflate, br",
        "Referer: http://app.example.com/"),
    req("/assets/app.3f9a1c.js", 'If-None-Match: "6553f100-300"'),
    req("/assets/app.3f9a1c.js", 'If-None-Match: W/"6553f100-300"', "Accept-Encoding: gzip"),
    req("/assets/app.77b0e2.css", "Range: bytes=0-15"),
    req("/assets/logo.svg", "Accept-Encoding: gzip"),
    req("/assets/app.old.js"),
    req("/manifest.json", "Accept-Encoding: gzip"),
    req("/favicon.ico"),
    req("/api/me", "Accept: application/json", "X-Forwarded-For: 203.0.113.9"),
    req("/healthz"),
    req("/", method="HEAD"),
    req("/", method="POST", body=b"{}"),
    keepalive(req("/", *BROWSER, close=False), req("/assets/app.77b0e2.css", close=False),
              req("/settings")),
])


CORS = Scenario("cors", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    map $http_origin $cors_origin {
        default                              "";
        "~^https://(www\\.)?example\\.com$"   $http_origin;
        https://admin.example.org            $http_origin;
    }
    server {
        listen 127.0.0.1:{port};
        server_name api.example.com;
        root public;

        location /api/ {
            if ($request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin $cors_origin;
                add_header Access-Control-Allow-Methods "GET, POST, PUT, DELETE, OPTIONS";
                add_header Access-Control-Allow-Headers "Authorization, Content-Type, X-Requested-With";
                add_header Access-Control-Max-Age 1728000;
                add_header Content-Type "text/plain; charset=utf-8";
                add_header Content-Length 0;
                return 204;
            }
            add_header Access-Control-Allow-Origin $cors_origin always;
            add_header Access-Control-Allow-Credentials true always;
            add_header Access-Control-Expose-Headers "Content-Length, X-Request-Id" always;
            add_header Vary Origin always;
            proxy_pass http://127.0.0.1:{port1};
            proxy_set_header Origin "";
        }
        location /fonts/ {
            add_header Access-Control-Allow-Origin *;
            expires 1d;
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type application/json;
        location = /api/items { return 200 '[{"id":1},{"id":2}]\\n'; }
        location = /api/fail { return 500 '{"error":"db down"}\\n'; }
        location = /api/auth { return 401 '{"error":"login"}\\n'; }
        location / { return 404 '{"error":"not found"}\\n'; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "public/fonts/inter.woff2": b"wOF2" + b"\0" * 20,
}, [
    req("/api/items", "Origin: https://example.com", "Accept: application/json"),
    req("/api/items", "Origin: https://www.example.com", "Cookie: sid=1"),
    req("/api/items", "Origin: https://evil.example.net"),
    req("/api/items"),
    req("/api/items", "Origin: https://example.com", "Access-Control-Request-Method: PUT",
        "Access-Control-Request-Headers: authorization,content-type", method="OPTIONS"),
    req("/api/items", "Origin: https://admin.example.org", method="OPTIONS"),
    req("/api/fail", "Origin: https://example.com"),
    req("/api/auth", "Origin: https://example.com", "Authorization: Bearer x"),
    req("/api/unknown", "Origin: https://example.com"),
    req("/api/items", "Origin: https://example.com", "Content-Type: application/json",
        method="POST", body=b'{"name":"new"}'),
    req("/fonts/inter.woff2", "Origin: https://example.com"),
    req("/fonts/missing.woff2", "Origin: https://example.com"),
    req("/api/items", "Origin: https://example.com", method="DELETE"),
    keepalive(req("/api/items", "Origin: https://example.com", method="OPTIONS", close=False),
              req("/api/items", "Origin: https://example.com")),
], timed={"expires", "cache-control"})


MAINTENANCE = Scenario("maintenance-mode", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    geo $maint_bypass {
        default      0;
        127.0.0.2    1;
    }
    server {
        listen 127.0.0.1:{port};
        server_name www.example.com;
        root sites/www;
        index index.html;

        set $maintenance 0;
        if (-f $document_root/maintenance.html) {
            set $maintenance 1;
        }
        if ($maint_bypass) {
            set $maintenance 0;
        }
        if ($uri ~* ^/(maintenance\\.css|img/)) {
            set $maintenance 0;
        }
        if ($maintenance) {
            return 503;
        }
        error_page 503 @maintenance;
        location @maintenance {
            add_header Retry-After 600 always;
            rewrite ^ /maintenance.html break;
        }
        location / { try_files $uri $uri/ =404; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name blog.example.com;
        root sites/blog;
        error_page 503 /maintenance.html;
        location = /maintenance.html { internal; }
        location / {
            if (-f $document_root/maintenance.html) { return 503; }
            try_files $uri $uri/index.html =404;
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "sites/www/index.html": "<p>www</p>\n",
    "sites/www/maintenance.html": "<h1>Down for maintenance</h1>\n",
    "sites/www/maintenance.css": "h1{color:red}\n",
    "sites/www/img/wrench.png": b"\x89PNG\r\n\x1a\n",
    "sites/blog/index.html": "<p>blog</p>\n",
    "sites/blog/post/index.html": "<p>post</p>\n",
}, [
    req("/", *BROWSER, host="www.example.com"),
    req("/products?page=2", host="www.example.com"),
    req("/maintenance.css", host="www.example.com"),
    req("/img/wrench.png", host="www.example.com"),
    req("/img/nothing.png", host="www.example.com"),
    req("/api/orders", "Content-Type: application/json", method="POST", body=b"{}",
        host="www.example.com"),
    req("/", method="HEAD", host="www.example.com"),
    req("/maintenance.html", host="www.example.com"),
    req("/", host="blog.example.com"),
    req("/post/", host="blog.example.com"),
    req("/maintenance.html", host="blog.example.com"),
    keepalive(req("/", host="www.example.com", close=False),
              req("/post/", host="blog.example.com")),
])


CANONICAL = Scenario("canonical-redirects", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    server {
        listen 127.0.0.1:{port};
        server_name www.example.com example.net www.example.net;
        return 301 $scheme://example.com$request_uri;
    }
    server {
        listen 127.0.0.1:{port} default_server;
        server_name example.com;
        root html;
        index index.html;
        server_name_in_redirect off;

        # strip a trailing slash from everything but directories
        if (!-d $request_filename) {
            rewrite ^/(.+)/$ /$1 permanent;
        }
        # old URLs
        rewrite ^/index\\.html$ / permanent;
        rewrite "^/blog/(\\d{4})/(\\d\\d)/([\\w-]+)\\.html$" /posts/$3 permanent;
        location /posts/ {
            try_files $uri.html $uri/ =404;
        }
        location = /feed { return 302 /posts/feed.xml; }
        location / {
            try_files $uri $uri.html $uri/ =404;
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "html/index.html": "<p>home</p>\n",
    "html/about.html": "<p>about</p>\n",
    "html/docs/index.html": "<p>docs</p>\n",
    "html/posts/hello-world.html": "<p>hello</p>\n",
    "html/posts/feed.xml": "<rss/>\n",
}, [
    req("/", *BROWSER, host="www.example.com"),
    req("/pricing?plan=pro&utm_source=mail", host="www.example.com"),
    req("/", host="example.net"),
    req("/", host="www.example.net:8443"),
    req("/", host="example.com"),
    req("/index.html", host="example.com"),
    req("/about", host="example.com"),
    req("/about/", host="example.com"),
    req("/about/?ref=x", host="example.com"),
    req("/docs", host="example.com"),
    req("/docs/", host="example.com"),
    req("/blog/2021/03/hello-world.html", host="example.com"),
    req("/blog/2021/3/hello-world.html", host="example.com"),
    req("/posts/hello-world", host="example.com"),
    req("/feed", host="example.com"),
    req("/nothing/", host="example.com"),
    req("/", host=None, version="HTTP/1.0"),
    req("/%7Euser/", host="example.com"),
    keepalive(req("/", host="www.example.com", close=False),
              req("/about/", host="example.com", close=False), req("/", host="example.com")),
])


WEBSOCKET_PROXY = Scenario("websocket-proxy", """
error_log logs/error.log info;
events {}
http {
    LOG_FORMAT
    access_log logs/access.log t;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream app {
        server 127.0.0.1:{port1};
        keepalive 16;
    }
    server {
        listen 127.0.0.1:{port};
        server_name chat.example.com;

        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_buffering off;
            header_filter_by_lua_block {
                if ngx.var.http_upgrade then
                    ngx.log(ngx.INFO, "upgrade to ", ngx.var.http_upgrade, ": ", ngx.status)
                end
            }
        }
        location /socket.io/ {
            proxy_pass http://app/ws/;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
        location /down/ {
            proxy_pass http://127.0.0.1:{port2};
            proxy_connect_timeout 2s;
            header_filter_by_lua_block { ngx.log(ngx.WARN, "backend down: ", ngx.status) }
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type text/plain;
        location / {
            return 200 "$request_method $request_uri upgrade=[$http_upgrade] connection=[$http_connection] host=[$host] real=[$http_x_real_ip] xff=[$http_x_forwarded_for] proto=[$http_x_forwarded_proto]\\n";
        }
        location /slow-headers { add_header X-App chat; return 200 "h\\n"; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {}, [
    req("/", *BROWSER, host="chat.example.com"),
    req("/room/1", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        "Origin: https://chat.example.com", host="chat.example.com"),
    req("/socket.io/?EIO=4&transport=websocket", "Upgrade: websocket", "Connection: Upgrade"),
    req("/socket.io/?EIO=4&transport=polling&t=Oabc"),
    req("/live", "Upgrade: websocket", "Connection: keep-alive, Upgrade", *BROWSER),
    req("/x", "X-Forwarded-For: 10.1.2.3, 10.4.5.6"),
    req("/slow-headers"),
    req("/post", "Content-Type: text/plain", method="POST", body=b"hello"),
    req("/down/x"),
    req("/chunked", "Transfer-Encoding: chunked", method="POST",
        body=b"4\r\nabcd\r\n0\r\n\r\n"),
    keepalive(req("/a", close=False), req("/b", "Upgrade: websocket", close=False),
              req("/c")),
])


LUA_GATEWAY = Scenario("lua-bearer-gateway", """
error_log logs/error.log info;
events {}
http {
    LOG_FORMAT
    access_log logs/access.log t;
    lua_shared_dict api_keys 1m;
    limit_req_zone $http_authorization zone=per_token:1m rate=1r/m;
    limit_req_status 429;
    init_by_lua_block {
        local keys = ngx.shared.api_keys
        keys:set("tok-alice-123", '{"user":"alice","role":"admin"}')
        keys:set("tok-bob-456", '{"user":"bob","role":"reader"}')
    }
    server {
        listen 127.0.0.1:{port};
        server_name gateway.example.com;
        default_type application/json;

        location /v1/ {
            limit_req zone=per_token burst=2 nodelay;
            access_by_lua_block {
                local cjson = require "cjson"
                local auth = ngx.req.get_headers()["Authorization"]
                if type(auth) == "table" then auth = auth[1] end
                local token = auth and auth:match("^[Bb]earer%s+(%S+)$")
                if not token then
                    ngx.header["WWW-Authenticate"] = 'Bearer realm="gateway"'
                    ngx.status = ngx.HTTP_UNAUTHORIZED
                    ngx.say(cjson.encode({error = "unauthorized"}))
                    return ngx.exit(ngx.HTTP_UNAUTHORIZED)
                end
                local info = ngx.shared.api_keys:get(token)
                if not info then
                    ngx.log(ngx.ERR, "rejected token ", token)
                    return ngx.exit(401)
                end
                local who = cjson.decode(info)
                if ngx.req.get_method() ~= "GET" and who.role ~= "admin" then
                    ngx.status = 403
                    ngx.say(cjson.encode({error = "forbidden"}))
                    return ngx.exit(403)
                end
                ngx.req.set_header("X-User", who.user)
                ngx.req.clear_header("Authorization")
            }
            proxy_pass http://127.0.0.1:{port1};
        }
        location = /v1/token {
            content_by_lua_block {
                local cjson = require "cjson"
                ngx.req.read_body()
                local args, err = ngx.req.get_post_args()
                if not args or not args.user then
                    ngx.status = 400
                    ngx.say(cjson.encode({error = "user required"}))
                    return
                end
                local tok = "tok-" .. args.user .. "-" .. ngx.crc32_short(args.user)
                ngx.shared.api_keys:set(tok, cjson.encode({user = args.user}))
                ngx.status = 201
                ngx.say(cjson.encode({token = tok}))
            }
        }
        location /v1/admin/ {
            # (a typo: "end" is missing; nginx -t does not compile Lua code)
            access_by_lua_block { if ngx.var.http_x_admin ~= "1" then return ngx.exit(403) }
            proxy_pass http://127.0.0.1:{port1};
        }
        error_page 404 = @json404;
        location @json404 { return 404 '{"error":"not found"}\\n'; }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type application/json;
        location / {
            return 200 '{"user":"$http_x_user","auth":"$http_authorization","uri":"$request_uri"}\\n';
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {}, [
    req("/v1/orders"),
    req("/v1/orders", "Authorization: Basic YWxpY2U6cHc="),
    req("/v1/orders", "Authorization: Bearer nope"),
    req("/v1/orders?limit=5", "Authorization: Bearer tok-alice-123",
        "Accept: application/json"),
    req("/v1/orders", "Authorization: Bearer tok-bob-456", "Content-Type: application/json",
        method="POST", body=b'{"item":1}'),
    req("/v1/orders", "Authorization: bearer tok-bob-456"),
    req("/v1/orders", "Authorization: Bearer tok-bob-456"),
    req("/v1/orders", "Authorization: Bearer tok-bob-456"),
    req("/v1/token", "Content-Type: application/x-www-form-urlencoded", method="POST",
        body=b"user=carol"),
    req("/v1/token", method="POST", body=b"nobody"),
    req("/v1/orders", "Authorization: Bearer tok-bob-456"),
    req("/v2/whatever"),
    req("/v1/admin/users", "X-Admin: 1"),
    req("/v1/orders", "Authorization: Bearer tok-alice-123", method="DELETE"),
])


LUA_CACHE = Scenario("lua-response-cache", """
error_log logs/error.log info;
events {}
http {
    LOG_FORMAT
    access_log logs/access.log t;
    lua_shared_dict page_cache 1m;
    upstream origin { server 127.0.0.1:{port1}; }
    server {
        listen 127.0.0.1:{port};
        server_name news.example.com;
        default_type text/html;

        location /_origin/ {
            internal;
            rewrite ^/_origin/(.*)$ /$1 break;
            proxy_pass http://origin;
            proxy_set_header Host $host;
        }
        location / {
            content_by_lua_block {
                local cache = ngx.shared.page_cache
                local key = ngx.var.request_uri
                if ngx.req.get_method() ~= "GET" then
                    ngx.header["Allow"] = "GET"
                    return ngx.exit(405)
                end
                local body = cache:get(key)
                if body then
                    ngx.header["X-Cache"] = "HIT"
                    ngx.print(body)
                    return
                end
                local res = ngx.location.capture("/_origin" .. ngx.var.uri,
                                                 {args = ngx.var.args})
                if res.status ~= 200 then
                    ngx.log(ngx.WARN, "origin said ", res.status, " for ", key)
                    return ngx.exit(res.status)
                end
                if res.header["Cache-Control"] ~= "private" then
                    cache:set(key, res.body, 60)
                end
                ngx.header["X-Cache"] = "MISS"
                ngx.header["X-Origin-Type"] = res.header["Content-Type"]
                ngx.print(res.body)
            }
        }
        location = /purge {
            allow 127.0.0.1;
            deny all;
            content_by_lua_block {
                local uri = ngx.var.arg_uri
                if not uri then return ngx.exit(400) end
                ngx.shared.page_cache:delete(uri)
                ngx.say("purged ", uri)
            }
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type text/html;
        location / { return 200 "<p>article $uri args=$args</p>\\n"; }
        location /account { add_header Cache-Control private; return 200 "<p>yours</p>\\n"; }
        location /gone { return 410; }
        location /broken { return 500; }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {}, [
    req("/articles/1", *BROWSER),
    req("/articles/1", *BROWSER),
    req("/articles/1?page=2"),
    req("/articles/1?page=2"),
    req("/account"),
    req("/account"),
    req("/gone"),
    req("/broken"),
    req("/articles/1", method="POST", body=b"x"),
    req("/purge?uri=/articles/1"),
    req("/articles/1"),
    req("/purge"),
    req("/_origin/articles/1"),
    req("/articles/1", method="HEAD"),
])


DOWNLOADS = Scenario("download-area", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    server {
        listen 127.0.0.1:{port};
        server_name files.example.com;
        root data;

        location /protected/ {
            internal;
            alias data/files/;
            add_header Content-Disposition "attachment";
        }
        location /download/ {
            content_by_lua_block {
                local name = ngx.var.uri:match("^/download/([%w._-]+)$")
                if not name then return ngx.exit(400) end
                if ngx.var.cookie_session ~= "paid" then
                    return ngx.redirect("/login?next=" .. ngx.escape_uri(ngx.var.request_uri))
                end
                ngx.header["X-Accel-Redirect"] = "/protected/" .. name
                ngx.say("x-accel set for ", name)
            }
        }
        location /get/ {
            content_by_lua_block {
                local name = ngx.var.uri:sub(6)
                return ngx.exec("/protected/" .. name)
            }
        }
        location /fetch/ {
            proxy_pass http://127.0.0.1:{port1}/;
        }
        location = /login { return 200 "please log in\\n"; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / {
            add_header X-Accel-Redirect /protected$uri;
            add_header X-Accel-Buffering no;
            return 200 "backend body\\n";
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "data/files/report.pdf": b"%PDF-1.4 report\n",
    "data/files/notes.txt": "meeting notes\n",
}, [
    req("/protected/report.pdf"),
    req("/download/report.pdf"),
    req("/download/report.pdf", "Cookie: session=paid"),
    req("/download/../etc/passwd", "Cookie: session=paid"),
    req("/download/a%20b", "Cookie: session=paid"),
    req("/get/report.pdf"),
    req("/get/notes.txt", "Range: bytes=0-6"),
    req("/get/missing.bin"),
    req("/fetch/report.pdf"),
    req("/fetch/notes.txt", method="HEAD"),
    req("/fetch/missing.bin"),
])


MULTI_TENANT = Scenario("multi-tenant", """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    map $host $tenant {
        hostnames;
        default              "";
        acme.example.com     acme;
        *.globex.example.com globex;
        initech.test         initech;
        ~^(?<t>[a-z]+)\\.tenants\\.example\\.com$ $t;
    }
    server {
        listen 127.0.0.1:{port};
        server_name example.com *.example.com initech.test;
        root srv/$tenant;
        index index.html;

        if ($tenant = "") {
            return 404 "unknown tenant $host\\n";
        }
        location / {
            add_header X-Tenant $tenant;
            try_files $uri $uri/ /index.html;
        }
        location /static/ {
            root srv/shared;
        }
        location = /whoami {
            default_type text/plain;
            return 200 "tenant=$tenant uri=$uri host=$host\\n";
        }
    }
}
""".replace("LOG_FORMAT", LOG_FORMAT), {
    "srv/acme/index.html": "<p>ACME</p>\n",
    "srv/acme/pricing.html": "<p>ACME pricing</p>\n",
    "srv/globex/index.html": "<p>Globex</p>\n",
    "srv/initech/index.html": "<p>Initech</p>\n",
    "srv/hooli/index.html": "<p>Hooli</p>\n",
    "srv/shared/static/app.css": "body{}\n",
}, [
    req("/", *BROWSER, host="acme.example.com"),
    req("/pricing.html", host="acme.example.com"),
    req("/pricing.html", host="www.globex.example.com"),
    req("/", host="shop.globex.example.com"),
    req("/", host="INITECH.test"),
    req("/whoami", host="hooli.tenants.example.com"),
    # (no deep link here: a try_files fallback without "?" leaves nginx's args.data
    # uninitialised, so whether $args logs as "" or "-" after a regex map is the
    # stack's garbage)
    req("/", host="hooli.tenants.example.com"),
    req("/", host="nobody.tenants.example.com"),
    req("/", host="example.com"),
    req("/", host="stranger.test"),
    req("/static/app.css", host="acme.example.com"),
    req("/whoami", host="acme.example.com."),
    keepalive(req("/", host="acme.example.com", close=False),
              req("/", host="initech.test", close=False), req("/", host="x.example.com")),
])

SCENARIOS = [PHP_FRONT_CONTROLLER, SPA, CORS, MAINTENANCE, CANONICAL, WEBSOCKET_PROXY,
             LUA_GATEWAY, LUA_CACHE, DOWNLOADS, MULTI_TENANT]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"realistic:{s.name}" for s in SCENARIOS])
def test_realistic(scenario: Scenario) -> None:
    diffs = run(scenario)
    assert not diffs, "\n".join(diffs)


#: Mistakes made while writing configurations like the ones above, as ``nginx -t`` reports
#: them: (id, the http block's body).
MISTAKES = [
    ("unquoted-regex-braces", 'server { rewrite ^/blog/(\\d{4})/(.*)$ /posts/$2 permanent; }'),
    ("location-regex-braces", 'server { location ~ ^/a{2}$ { return 200; } }'),
    ("expires-typo", "server { location /assets/ { expires maxx; } }"),
    ("expires-epoch-modified", "server { location / { expires modified; } }"),
    ("add-header-no-value", "server { location / { add_header Access-Control-Allow-Origin; } }"),
    ("if-missing-semicolon",
     "server { location / { if ($request_method = OPTIONS) { add_header A b; return 204 } } }"),
    ("add-header-in-server-if", "server { if ($host) { add_header A b; } }"),
    ("try-files-one-arg", "server { location / { try_files $uri; } }"),
    ("map-missing-semicolon",
     "map $http_upgrade $connection_upgrade { default upgrade; '' close }"),
    ("map-hostnames-duplicate",
     "map $host $tenant { hostnames; *.example.com a; *.example.com b; }"),
    ("limit-req-no-zone", "server { location / { limit_req zone=per_token burst=2 nodelay; } }"),
    ("limit-req-burst-typo",
     "limit_req_zone $http_authorization zone=t:1m rate=1r/m;\n"
     "server { location / { limit_req zone=t burst=two; } }"),
    ("lua-shared-dict-tiny", "lua_shared_dict api_keys 1k;"),
    ("lua-shared-dict-no-size", "lua_shared_dict api_keys;"),
    ("valid-lua-syntax-error",  # ngx_lua compiles it at the first request
     "server { location / { access_by_lua_block { if not token then return ngx.exit(401) } } }"),
    ("return-bad-code", "server { location / { return 3001 /x; } }"),
    ("error-page-bad-code", "server { error_page 99 /x.html; }"),
    ("error-page-equals-bad", "server { error_page 404 =abc /x.html; }"),
    ("fastcgi-unknown-upstream", "server { location ~ \\.php$ { fastcgi_pass php_fpm; } }"),
    ("proxy-pass-no-scheme", "server { location / { proxy_pass app; } }"),
    ("root-and-alias", "server { location /protected/ { root data; alias data/files/; } }"),
    ("internal-with-arg", "server { location /protected/ { internal on; } }"),
    ("gzip-types-outside", "gzip_types;"),
    ("valid-variables-everywhere",
     "map $host $tenant { default x; }\nserver { root srv/$tenant; "
     "location / { try_files $uri /index.html; expires max; etag on; } }"),
]


@pytest.mark.parametrize("body", [m[1] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_config_mistakes_as_nginx(tmp_path, body: str) -> None:  # type: ignore[no-untyped-def]
    """``nginx -t`` on each mistake and our load give the same first [emerg] line."""
    write_prefix(tmp_path, "events {}\nhttp {\n" + body + "\n}\n")
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output)
