"""Realistic configurations side by side with real nginx over sockets (see realistic.py):
features and apps — SSI/mirror/sub_filter/secure_link, load balancing, virtual hosts, a
Lua app, error pages and caching headers, protection, HTTP clients."""

from __future__ import annotations

import pytest

from tests.conformance.realistic import LAST_MODIFIED, LOG_FORMAT, Scenario, keepalive, req, run
from tests.oracle import HAVE_NGINX

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")

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

SCENARIOS = [EDGE_FEATURES, LOAD_BALANCER, VIRTUAL_HOSTS, LUA_APP, ERRORS_AND_CACHING,
             PROTECTION, HTTP_CLIENTS]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"realistic:{s.name}" for s in SCENARIOS])
def test_realistic(scenario: Scenario) -> None:
    diffs = run(scenario)
    assert not diffs, "\n".join(diffs)
