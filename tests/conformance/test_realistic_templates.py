"""Realistic configurations side by side with real nginx over sockets (see realistic.py):
the shapes of well-known published templates — Debian's default site, an
HTML5-boilerplate static server, WordPress, a Django app, a Rails app, Nextcloud,
phpMyAdmin under an alias and a caching reverse proxy — written anew, each with the
requests browsers and crawlers send (robots.txt, favicon, assets with query strings,
HEAD, conditional and Range requests, bad paths, encoded characters, long URIs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.realistic import LAST_MODIFIED, LOG_FORMAT, Scenario, keepalive, req, run
from tests.differential import engine_load_error
from tests.oracle import HAVE_NGINX, first_emerg, nginx_test, write_prefix

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")

_ETC = Path("/etc/nginx")


def _params(name: str) -> str:
    """Debian's shipped parameter file (fastcgi_params, uwsgi_params), as the templates
    ``include`` it; empty where nginx is not installed (the tests are skipped then)."""
    path = _ETC / name
    return path.read_text() if path.exists() else ""


def _conf(text: str) -> str:
    return text.replace("LOG_FORMAT", LOG_FORMAT)


#: The browser requests every site gets.
_CRAWLER = [
    req("/robots.txt", "User-Agent: Googlebot/2.1"),
    req("/favicon.ico", "User-Agent: Mozilla/5.0"),
    req("/apple-touch-icon.png"),
]

DEBIAN_DEFAULT = Scenario("debian-default", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    gzip on;
    server {
        listen 127.0.0.1:{port} default_server;
        root html/www;
        index index.html index.htm index.nginx-debian.html;
        server_name _;
        location / {
            # First attempt to serve request as file, then as directory, then 404.
            try_files $uri $uri/ =404;
        }
        location ~ \\.php$ {
            include snippets/fastcgi-php.conf;
            fastcgi_pass 127.0.0.1:{port2};
        }
        location ~ /\\.ht {
            deny all;
        }
    }
}
"""), {
    "html/www/index.nginx-debian.html": "<!DOCTYPE html>\n<title>Welcome to nginx!</title>\n",
    "html/www/docs/index.htm": "<p>docs in htm</p>\n",
    "html/www/docs/page.html": "<p>page</p>\n",
    "html/www/.htaccess": "Deny from all\n",
    "html/www/info.php": "<?php phpinfo();\n",
    "html/www/robots.txt": "User-agent: *\nDisallow:\n",
    "conf/snippets/fastcgi-php.conf":
        "fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n"
        "try_files $fastcgi_script_name =404;\n"
        "set $path_info $fastcgi_path_info;\n"
        "fastcgi_param PATH_INFO $path_info;\n"
        "fastcgi_index index.php;\n"
        "include fastcgi.conf;\n",
    "conf/fastcgi.conf": _params("fastcgi.conf"),
}, [
    *_CRAWLER,
    req("/"),
    req("/", method="HEAD"),
    req("/index.nginx-debian.html", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/docs"),
    req("/docs/"),
    req("/docs/page.html?utm_source=x"),
    req("/docs/missing.html"),
    req("/.htaccess"),
    req("/info.php"),
    req("/info.php/extra/path?x=1"),
    req("/nothing.php"),
    req("/%69ndex.nginx-debian.html"),
    req("/docs/../index.nginx-debian.html"),
    req("/../../etc/passwd"),
    req("/" + "a" * 3000),
    req("/" + "b" * 9000),
    req("/docs/%"),
    req("/docs/page%00.html"),
    req("/docs//page.html"),
    req("/docs/page.html%3Fx=1"),
    req("http://localhost/docs/page.html"),
    req("/docs/page.html", "If-None-Match: *"),
    req("/docs/page.html", f"If-Modified-Since: {LAST_MODIFIED}", method="HEAD"),
    req("/docs/page.html", "If-Modified-Since: not a date"),
    req("/docs/page.html", "Range: bytes=5-2"),
    req("/docs/page.html", "Range: bytes=0-1,3-4,6-"),
    req("/docs/page.html", "Range: pages=1"),
    req("*", method="OPTIONS"),
    req("example.com:443", method="CONNECT"),
    req("/docs/page.html", method="CONNECT"),
    req("/docs/page.html", method="TRACE"),
    req("/docs/page.html", method="get"),
    req("/", host="", version="HTTP/1.1"),
    req("/", host="bad host name"),
    req("/", method="PUT", body=b"x"),
    req("/", "Range: bytes=0-4"),
], timed={"expires"})

H5BP_STATIC = Scenario("h5bp-static", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    server_tokens off;
    charset utf-8;
    charset_types text/css text/plain text/vnd.wap.wml text/javascript text/markdown
                  text/calendar text/x-component text/vcard text/cache-manifest
                  text/vtt application/json application/manifest+json;
    gzip on;
    gzip_comp_level 5;
    gzip_min_length 256;
    gzip_proxied any;
    gzip_vary on;
    gzip_types application/atom+xml application/javascript application/json
               application/ld+json application/manifest+json application/rss+xml
               application/xhtml+xml application/xml font/otf image/svg+xml
               image/x-icon text/cache-manifest text/css text/javascript text/plain
               text/markdown text/vcard text/xml;
    map $sent_http_content_type $x_frame {
        ~*text/html DENY;
    }
    map $sent_http_content_type $cache_policy {
        default    "no-store";
        text/html  "no-cache";
        text/plain "public, max-age=3600";
        text/css   "public, max-age=31536000";
    }
    server {
        listen 127.0.0.1:{port};
        server_name www.example.com;
        return 301 $scheme://example.com$request_uri;
    }
    server {
        listen 127.0.0.1:{port} default_server;
        server_name example.com;
        root html/public;
        index index.html;
        add_header X-Frame-Options $x_frame always;
        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy "strict-origin-when-cross-origin" always;
        add_header X-Policy $cache_policy;
        error_page 404 /404.html;
        location ~* \\.(?:manifest|appcache|html?|xml|json)$ {
            expires -1;
            add_header X-Content-Type-Options nosniff always;
        }
        location ~* \\.(?:rss|atom)$ {
            expires 1h;
        }
        location ~* \\.(?:jpg|jpeg|gif|png|ico|cur|gz|svg|mp4|ogg|ogv|webm|htc)$ {
            access_log off;
            expires 1M;
            add_header Cache-Control "public";
        }
        location ~* \\.(?:css|js)$ {
            expires 1y;
            access_log off;
            add_header Cache-Control "public, immutable";
        }
        location ~* \\.(?:ttf|ttc|otf|eot|woff|woff2)$ {
            expires 1M;
            access_log off;
            add_header Access-Control-Allow-Origin "*";
        }
        location ~* /\\.(?!well-known\\/) {
            deny all;
        }
        location ~* (?:#.*#|\\.(?:bak|conf|dist|fla|in[ci]|log|orig|psd|sh|sql|sw[op])|~)$ {
            deny all;
        }
    }
}
"""), {
    "html/public/index.html": "<!doctype html><html><body>" + "<p>boilerplate</p>" * 30 + "</body></html>\n",
    "html/public/404.html": "<!doctype html><title>Page Not Found</title>\n",
    "html/public/css/style.css": "html { color: #222; font-size: 1em; line-height: 1.4; }\n" * 10,
    "html/public/js/main.js": "window.ga = function () { ga.q.push(arguments); };\n" * 10,
    "html/public/img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'>" + "<g/>" * 100 + "</svg>\n",
    "html/public/favicon.ico": b"\x00\x00\x01\x00" + bytes(300),
    "html/public/robots.txt": "# www.robotstxt.org/\nUser-agent: *\nDisallow:\n" * 10,
    "html/public/site.webmanifest": '{"name": "app", "icons": []}\n',
    "html/public/feed.rss": "<rss version='2.0'></rss>\n",
    "html/public/fonts/a.woff2": bytes(64),
    "html/public/.env": "KEY=1\n",
    "html/public/.well-known/security.txt": "Contact: mailto:sec@example.com\n",
    "html/public/backup.sql": "DROP TABLE x;\n",
    "html/public/index.html~": "old\n",
}, [
    *_CRAWLER,
    req("/"),
    req("/", host="www.example.com"),
    req("/path?q=1", host="www.example.com"),
    req("/", "Accept-Encoding: gzip, deflate, br"),
    req("/", method="HEAD", host="example.com"),
    req("/css/style.css?v=1.2.3"),
    req("/css/style.css?v=1.2.3", "Accept-Encoding: gzip"),
    req("/css/style.css", 'If-None-Match: "6553f100-244"'),
    req("/js/main.js", "Range: bytes=0-15"),
    req("/img/logo.svg", "Accept-Encoding: gzip"),
    req("/site.webmanifest"),
    req("/feed.rss"),
    req("/fonts/a.woff2", "Origin: https://other.example"),
    req("/.env"),
    req("/.well-known/security.txt"),
    req("/.well-known/missing"),
    req("/backup.sql"),
    req("/index.html~"),
    req("/missing.css"),
    req("/missing/page"),
    req("/%2Eenv"),
    req("/css/style%2Ecss"),
    req("/css//style.css"),
], timed={"expires"})

WORDPRESS = Scenario("wordpress", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    client_max_body_size 64m;
    upstream php {
        server 127.0.0.1:{port2};
    }
    server {
        listen 127.0.0.1:{port};
        server_name blog.example.com localhost;
        root html/wordpress;
        index index.php;
        location = /favicon.ico {
            log_not_found off;
            access_log off;
        }
        location = /robots.txt {
            allow all;
            log_not_found off;
            access_log off;
        }
        location / {
            try_files $uri $uri/ /index.php?$args;
        }
        location ~ \\.php$ {
            include fastcgi_params;
            fastcgi_intercept_errors on;
            fastcgi_pass php;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        }
        location ~* \\.(js|css|png|jpg|jpeg|gif|ico)$ {
            expires max;
            log_not_found off;
        }
        location ~* /(?:uploads|files)/.*\\.php$ {
            deny all;
        }
    }
}
"""), {
    "html/wordpress/index.php": "<?php require 'wp-blog-header.php';\n",
    "html/wordpress/wp-content/themes/t/style.css": "body{}\n",
    "html/wordpress/wp-content/uploads/2023/pic.jpg": bytes(100),
    "html/wordpress/wp-content/uploads/evil.php": "<?php\n",
    "conf/fastcgi_params": _params("fastcgi_params"),
}, [
    *_CRAWLER,
    req("/"),
    req("/2023/11/hello-world/"),
    req("/?p=123"),
    req("/wp-login.php", method="POST", body=b"log=admin&pwd=x"),
    req("/wp-admin/"),
    req("/wp-content/themes/t/style.css?ver=6.4"),
    req("/wp-content/themes/t/style.css", method="HEAD"),
    req("/wp-content/themes/t/missing.css"),
    req("/wp-content/uploads/2023/pic.jpg", "Range: bytes=10-19"),
    req("/wp-content/uploads/evil.php"),
    req("/xmlrpc.php", method="POST", body=b"<methodCall/>"),
    req("/wp-json/wp/v2/posts"),
    req("/%3Cscript%3E.php"),
], timed={"expires"})

DJANGO = Scenario("django", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    upstream django {
        server 127.0.0.1:{port2};
    }
    server {
        listen 127.0.0.1:{port};
        server_name app.example.com localhost;
        charset utf-8;
        client_max_body_size 75M;
        location /media  {
            alias html/project/media;
        }
        location /static/ {
            alias html/project/collected/;
            expires 7d;
        }
        location /api/ {
            proxy_pass http://127.0.0.1:{port1};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_redirect off;
        }
        location / {
            uwsgi_pass django;
            include uwsgi_params;
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type application/json;
        location / { return 200 '{"path": "$request_uri", "host": "$host"}\\n'; }
        location /api/login { return 302 /accounts/login/?next=$uri; }
    }
}
"""), {
    "html/project/media/avatars/me.png": b"\x89PNG" + bytes(50),
    "html/project/collected/admin/css/base.css": "body { font: 13px sans-serif; }\n",
    "html/project/collected/app.js": "var a = 1;\n",
    "conf/uwsgi_params": _params("uwsgi_params"),
}, [
    *_CRAWLER,
    req("/"),
    req("/admin/login/?next=/admin/"),
    req("/static/admin/css/base.css"),
    req("/static/admin/css/base.css", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/static/app.js?v=3"),
    req("/static/missing.js"),
    req("/static"),
    req("/static/../settings.py"),
    req("/media/avatars/me.png"),
    req("/media/avatars/"),
    req("/mediafile"),
    req("/media"),
    req("/api/items?page=2", "X-Forwarded-For: 203.0.113.9"),
    req("/api/login"),
    req("/api/%E2%9C%93?q=%20"),
], timed={"expires"})

RAILS = Scenario("rails-puma", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    upstream puma {
        server 127.0.0.1:{port1} fail_timeout=0;
    }
    upstream dead {
        server 127.0.0.1:{port2};
    }
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html/app/public;
        try_files $uri/index.html $uri @app;
        location @app {
            proxy_pass http://puma;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Host $http_host;
            proxy_redirect off;
        }
        location ^~ /assets/ {
            gzip_static on;
            expires max;
            add_header Cache-Control public;
        }
        location /down/ {
            proxy_pass http://dead;
        }
        error_page 500 502 503 504 /500.html;
        client_max_body_size 4G;
        keepalive_timeout 10;
    }
    server {
        listen 127.0.0.1:{port1};
        default_type text/html;
        location / { return 200 "<p>rails $request_method $request_uri $http_x_forwarded_for</p>\\n"; }
        location /boom { return 500 "exception\\n"; }
        location /sessions { return 303 /dashboard; }
    }
}
"""), {
    "html/app/public/index.html": "<p>static home</p>\n",
    "html/app/public/500.html": "<h1>We're sorry, but something went wrong.</h1>\n",
    "html/app/public/404.html": "<h1>The page you were looking for doesn't exist.</h1>\n",
    "html/app/public/robots.txt": "User-agent: *\n",
    "html/app/public/assets/application-abc123.css": "body{color:#000}\n",
    "html/app/public/assets/application-abc123.css.gz": b"\x1f\x8b\x08\x00" + bytes(20),
    "html/app/public/help/index.html": "<p>help</p>\n",
}, [
    *_CRAWLER,
    req("/"),
    req("/help"),
    req("/help/"),
    req("/users/42"),
    req("/boom"),
    req("/sessions", method="POST", body=b"user=a"),
    req("/assets/application-abc123.css"),
    req("/assets/application-abc123.css", "Accept-Encoding: gzip, deflate, br"),
    req("/assets/application-abc123.css", "Range: bytes=0-3"),
    req("/assets/missing.css"),
    req("/down/x"),
    req("/500.html"),
    keepalive(req("/", close=False), req("/users", close=False), req("/robots.txt")),
], timed={"expires"})

NEXTCLOUD = Scenario("nextcloud", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    upstream php-handler {
        server 127.0.0.1:{port2};
    }
    map $arg_v $asset_immutable {
        "" "";
        default ", immutable";
    }
    server {
        listen 127.0.0.1:{port};
        server_name cloud.example.com localhost;
        root html/nextcloud;
        client_max_body_size 512M;
        fastcgi_buffers 64 4K;
        add_header Referrer-Policy "no-referrer" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Robots-Tag "noindex, nofollow" always;
        fastcgi_hide_header X-Powered-By;
        index index.php index.html /index.php$request_uri;
        location = / {
            if ( $http_user_agent ~ ^DavClnt ) {
                return 302 /remote.php/webdav/$is_args$args;
            }
        }
        location = /robots.txt {
            allow all;
            log_not_found off;
            access_log off;
        }
        location ^~ /.well-known {
            location = /.well-known/carddav { return 301 /remote.php/dav/; }
            location = /.well-known/caldav  { return 301 /remote.php/dav/; }
            location /.well-known/acme-challenge    { try_files $uri $uri/ =404; }
            location /.well-known/pki-validation    { try_files $uri $uri/ =404; }
            return 301 /index.php$request_uri;
        }
        rewrite ^/.well-known/webfinger /index.php/.well-known/webfinger last;
        location ~ ^/(?:build|tests|config|lib|3rdparty|templates|data)(?:$|/)  { return 404; }
        location ~ ^/(?:\\.|autotest|occ|issue|indie|db_|console)                { return 404; }
        location ~ \\.php(?:$|/) {
            rewrite ^/(?!index|remote|public|cron|core\\/ajax\\/update|status|ocs\\/v[12]|updater\\/.+|ocs-provider\\/.+|.+\\/richdocumentscode\\/proxy) /index.php$request_uri;
            fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
            set $path_info $fastcgi_path_info;
            try_files $fastcgi_script_name =404;
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $path_info;
            fastcgi_pass php-handler;
            fastcgi_intercept_errors on;
        }
        location ~ \\.(?:css|js|svg|gif|png|jpg|ico|wasm|tflite|map)$ {
            try_files $uri /index.php$request_uri;
            add_header Cache-Control "public, max-age=15778463$asset_immutable";
            access_log off;
        }
        location ~ \\.woff2?$ {
            try_files $uri /index.php$request_uri;
            expires 7d;
            access_log off;
        }
        location /remote {
            return 301 /remote.php$request_uri;
        }
        location / {
            try_files $uri $uri/ /index.php$request_uri;
        }
    }
}
"""), {
    "html/nextcloud/index.php": "<?php\n",
    "html/nextcloud/remote.php": "<?php\n",
    "html/nextcloud/status.php": "<?php\n",
    "html/nextcloud/core/css/server.css": "body{}\n",
    "html/nextcloud/core/js/main.js": "1;\n",
    "html/nextcloud/config/config.php": "<?php $CONFIG = [];\n",
    "html/nextcloud/data/admin/files/secret.txt": "secret\n",
    "html/nextcloud/.htaccess": "x\n",
    "html/nextcloud/.well-known/acme-challenge/token123": "token123.key\n",
    "conf/fastcgi_params": _params("fastcgi_params"),
}, [
    *_CRAWLER,
    req("/"),
    req("/", "User-Agent: DavClnt"),
    req("/?x=1", "User-Agent: DavClnt"),
    req("/.well-known/carddav"),
    req("/.well-known/caldav"),
    req("/.well-known/webfinger?resource=acct:a"),
    req("/.well-known/nodeinfo"),
    req("/.well-known/acme-challenge/token123"),
    req("/.well-known/acme-challenge/missing"),
    req("/config/config.php"),
    req("/data/admin/files/secret.txt"),
    req("/data"),
    req("/database"),
    req("/.htaccess"),
    req("/occ"),
    req("/console.php"),
    req("/status.php"),
    req("/apps/files/"),
    req("/core/css/server.css?v=abc"),
    req("/core/css/server.css"),
    req("/core/js/missing.js"),
    req("/core/fonts/x.woff2"),
    req("/remote/dav"),
    req("/remote.php/dav/files/admin/", method="PROPFIND"),
    req("/ocs/v2.php/cloud/capabilities", "OCS-APIRequest: true"),
    req("/index.php/apps/files/?dir=/Photos"),
    req("/%2Ehtaccess"),
    req("/Config/config.php"),
    req("/core/img/logo%2Esvg"),
    req("/" + "x/" * 1500),
], timed={"expires"})

PHPMYADMIN = Scenario("phpmyadmin", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html/www;
        index index.html;
        location /pma {
            alias html/phpmyadmin/;
            index index.php;
            location ~ ^/pma/(.+\\.php)$ {
                alias html/phpmyadmin/$1;
                fastcgi_pass 127.0.0.1:{port2};
                fastcgi_index index.php;
                include fastcgi_params;
                fastcgi_param SCRIPT_FILENAME $request_filename;
            }
            location ~* ^/pma/(.+\\.(jpg|jpeg|gif|css|png|js|ico|html|xml|txt))$ {
                alias html/phpmyadmin/$1;
            }
        }
        location /phpmyadmin {
            return 301 /pma/;
        }
        location ~ /(libraries|setup/frames|setup/libs) {
            deny all;
            return 404;
        }
    }
}
"""), {
    "html/www/index.html": "<p>home</p>\n",
    "html/phpmyadmin/index.php": "<?php\n",
    "html/phpmyadmin/themes/pmahomme/css/theme.css": "td{padding:0}\n",
    "html/phpmyadmin/js/messages.js": "var PMA_messages = {};\n",
    "html/phpmyadmin/favicon.ico": bytes(40),
    "html/phpmyadmin/doc/readme.txt": "read me\n",
    "html/phpmyadmin/libraries/config.default.php": "<?php\n",
    "conf/fastcgi_params": _params("fastcgi_params"),
}, [
    *_CRAWLER,
    req("/"),
    req("/pma"),
    req("/pma/"),
    req("/pma/index.php"),
    req("/pma/index.php?route=/server/databases"),
    req("/pma/themes/pmahomme/css/theme.css?v=5.2.1"),
    req("/pma/js/messages.js", "Range: bytes=4-10"),
    req("/pma/favicon.ico"),
    req("/pma/doc/readme.txt", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/pma/doc/"),
    req("/pma/missing.css"),
    req("/pma/libraries/config.default.php"),
    req("/phpmyadmin"),
    req("/phpmyadmin/index.php"),
    req("/pmaextra/x"),
    req("/pma/../www/index.html"),
    req("/pma/%69ndex.php"),
    req("/pma/doc/read%20me.txt"),
    req("/pma/js/messages.js?v=1&lang=en"),
    req("/PMA/index.php"),
    req("/pma/setup/frames/index.inc.php"),
], timed={"expires"})

CACHING_PROXY = Scenario("caching-proxy", _conf("""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    LOG_FORMAT
    access_log logs/access.log t;
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=STATIC:10m inactive=24h max_size=1g;
    upstream origin {
        server 127.0.0.1:{port1};
    }
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        location / {
            proxy_pass http://origin;
            proxy_set_header Host $host;
            proxy_buffering on;
            proxy_cache STATIC;
            proxy_cache_valid 200 1d;
            proxy_cache_valid 404 1m;
            proxy_cache_use_stale error timeout invalid_header updating http_500 http_502 http_503 http_504;
            proxy_cache_bypass $http_x_nocache;
            proxy_no_cache $http_x_nocache;
            add_header X-Cache-Status $upstream_cache_status;
        }
        location /private/ {
            proxy_pass http://origin;
            proxy_cache STATIC;
            proxy_cache_valid any 1m;
            proxy_cache_methods GET;
            add_header X-Cache-Status $upstream_cache_status always;
        }
        location /dead/ {
            proxy_pass http://127.0.0.1:{port2};
            proxy_cache STATIC;
            proxy_cache_use_stale error timeout;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }
    server {
        listen 127.0.0.1:{port1};
        default_type text/plain;
        root html/origin;
        location /api/ { return 200 "api $request_uri\\n"; }
        location /private/ {
            add_header Cache-Control "private";
            add_header Set-Cookie "sid=1";
            return 200 "private $request_uri\\n";
        }
        location /err { return 503 "busy\\n"; }
    }
}
"""), {
    "html/origin/page.html": "<p>origin page</p>\n",
    "html/origin/style.css": "a{b:c}\n",
}, [
    *_CRAWLER,
    req("/page.html"),
    req("/page.html"),
    req("/page.html", method="HEAD"),
    req("/page.html", f"If-Modified-Since: {LAST_MODIFIED}"),
    req("/page.html", "X-Nocache: 1"),
    req("/style.css?v=1"),
    req("/style.css?v=1"),
    req("/style.css?v=2", "Range: bytes=0-2"),
    req("/missing"),
    req("/missing"),
    req("/api/list?x=1"),
    req("/api/list?x=1"),
    req("/api/list", method="POST", body=b"a=b"),
    req("/err"),
    req("/private/me"),
    req("/private/me"),
    req("/dead/x"),
], timed={"expires"})

SCENARIOS = [DEBIAN_DEFAULT, H5BP_STATIC, WORDPRESS, DJANGO, RAILS, NEXTCLOUD, PHPMYADMIN,
             CACHING_PROXY]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"templates:{s.name}" for s in SCENARIOS])
def test_realistic(scenario: Scenario) -> None:
    diffs = run(scenario)
    assert not diffs, "\n".join(diffs)


# -- the mistakes people make while adapting the templates: `nginx -t` against ours ----

_H = "events {}\nhttp {\n"
_S = _H + "server {\n listen 8080;\n"

#: (id, nginx.conf): each is one template line gone wrong.
CONFIG_MISTAKES = [
    ("try-files-one-arg", _S + " location / { try_files =404; }\n}\n}\n"),
    ("expires-bad-time", _S + " location ~* \\.css$ { expires soon; }\n}\n}\n"),
    ("expires-bad-daily", _S + " location / { expires @25:00; }\n}\n}\n"),
    ("expires-three-args", _S + " location / { expires modified 1d 2; }\n}\n}\n"),
    ("gzip-comp-level", _H + "gzip on;\ngzip_comp_level 10;\n}\n"),
    ("gzip-proxied-bad", _H + "gzip_proxied sometimes;\n}\n"),
    ("charset-types-empty", _H + "charset_types;\n}\n"),
    ("add-header-one-arg", _S + " add_header X-Frame-Options;\n}\n}\n"),
    ("add-header-not-always", _S + " add_header X-A b sometimes;\n}\n}\n"),
    ("error-page-alone", _S + " error_page 404;\n}\n}\n"),
    ("error-page-bad-status", _S + " error_page 404 =abc /x.html;\n}\n}\n"),
    ("error-page-named-middle", _S + " error_page 500 502 @app x;\n}\n}\n"),
    ("error-page-bad-code", _S + " error_page 99 /50x.html;\n}\n}\n"),
    ("rewrite-bad-flag", _S + " rewrite ^/.well-known/carddav /remote.php/dav/ permanently;\n}\n}\n"),
    ("regex-unbalanced", _S + " location ~ ^/(?:build|tests { return 404; }\n}\n}\n"),
    ("split-path-info-unbalanced", _S + " location ~ \\.php$ {\n"
     "  fastcgi_split_path_info ^(.+?\\.php)(/.*$;\n }\n}\n}\n"),
    ("split-path-info-no-captures", _S + " location ~ \\.php$ {\n"
     "  fastcgi_split_path_info ^.+\\.php$;\n }\n}\n}\n"),
    ("upstream-unknown", _S + " location / { proxy_pass http://django_app; }\n}\n}\n"),
    ("fastcgi-pass-empty", _S + " location ~ \\.php$ { fastcgi_pass; }\n}\n}\n"),
    ("fastcgi-buffers-one", _S + " fastcgi_buffers 64;\n}\n}\n"),
    ("body-size-unit", _S + " client_max_body_size 64mb;\n}\n}\n"),
    ("keepalive-bad", _H + "keepalive_timeout 65 abc;\n}\n"),
    ("server-tokens-bad", _H + "server_tokens maybe;\n}\n"),
    ("log-not-found-bad", _S + " location = /favicon.ico { log_not_found of; }\n}\n}\n"),
    ("cache-zone-unknown", _S + " location / { proxy_pass http://127.0.0.1:9;"
     " proxy_cache STATIC; }\n}\n}\n"),
    ("cache-path-no-zone", _H + "proxy_cache_path /tmp/ngx-explore-cache levels=1:2;\n}\n"),
    ("cache-path-bad-levels", _H + "proxy_cache_path /tmp/ngx-explore-cache levels=1:2:3:4"
     " keys_zone=z:1m;\n}\n"),
    ("cache-valid-bad-time", _S + " location / { proxy_pass http://127.0.0.1:9;"
     " proxy_cache_valid 200 1dd; }\n}\n}\n"),
    ("use-stale-bad", _S + " location / { proxy_cache_use_stale error sometimes; }\n}\n}\n"),
    ("alias-in-named", _S + " location @app { alias /srv/; }\n}\n}\n"),
    ("index-empty-name", _S + ' index index.php "";\n}\n}\n'),
    ("listen-dup-default", _H + "server { listen 8080 default_server; }\n"
     "server { listen 8080 default_server; }\n}\n"),
]


@pytest.mark.parametrize("conf", [c[1] for c in CONFIG_MISTAKES],
                         ids=[f"templates:{c[0]}" for c in CONFIG_MISTAKES])
def test_config_mistake(tmp_path: Path, conf: str) -> None:
    write_prefix(tmp_path, conf)
    real = first_emerg(nginx_test(tmp_path).output)
    assert real is not None, "nginx accepted it: the case tests nothing"
    assert engine_load_error(tmp_path) == real
