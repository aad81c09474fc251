"""Ten OpenResty applications written the way their users write them, side by side with
real nginx + ngx_lua over sockets (see realistic.py): a Lua router, a JSON REST API over
a shared dict, a Lua rate limiter, resty.lrucache loaded from init_by_lua, an A/B test
on cookies, signed URLs, an HTML rewriting body filter, background timers, a
capture_multi fan-out and Lua auth with named locations and JSON error pages. Lua lives
in ``*_by_lua_block`` and in modules under ``lua_package_path``; key order is fixed in
the Lua itself (``pairs()`` and cjson orders differ between processes)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tests.conformance.realistic import LOG_FORMAT, Scenario, keepalive, req, run
from tests.oracle import HAVE_NGINX

pytestmark = pytest.mark.skipif(not HAVE_NGINX, reason="real nginx is not installed")

JSON = "Content-Type: application/json"

#: The top of every scenario's config: logs both sides can agree on, Lua modules in lua/.
HEAD = """
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    LOG_FORMAT
    access_log logs/access.log t;
    lua_package_path "$prefix/lua/?.lua;;";
""".replace("LOG_FORMAT", LOG_FORMAT)


ROUTER = Scenario("lua-router", HEAD + """
    server {
        listen 127.0.0.1:{port};
        server_name api.example.com;
        location / {
            default_type application/json;
            content_by_lua_block {
                require("router").dispatch()
            }
        }
        location = /favicon.ico { access_log off; return 204; }
    }
}
""", {
    "lua/router.lua": r'''
local cjson = require "cjson.safe"

local _M = {}

local function json(status, body)
    ngx.status = status
    ngx.say(cjson.encode(body))
    return ngx.exit(status)
end

local function show_user(m)
    local id = tonumber(m[1])
    if id > 1000 then
        return json(404, { error = "no such user" })
    end
    return json(200, { id = id })
end

local function list_posts(m)
    local page = tonumber(ngx.var.arg_page or "1")
    if not page then
        return json(400, { error = "bad page" })
    end
    ngx.say('{"user":"', m.user, '","page":', page, ',"posts":[]}')
end

local function create_user()
    ngx.req.read_body()
    local data = cjson.decode(ngx.req.get_body_data() or "")
    if type(data) ~= "table" or type(data.name) ~= "string" then
        return json(422, { error = "name is required" })
    end
    ngx.header["Location"] = "/users/7"
    return json(201, { name = data.name })
end

local function search()
    local args, err = ngx.req.get_uri_args(5)
    if err then
        ngx.header["X-Args"] = err
    end
    local tags = args.tag
    if type(tags) ~= "table" then tags = { tags } end
    local names = {}
    for i, t in ipairs(tags) do names[i] = tostring(t) end
    table.sort(names)
    local q = args.q
    ngx.say(cjson.encode({ q = q }))
    ngx.say("tags=", table.concat(names, "|"), " escaped=", ngx.escape_uri(tostring(q)))
    if type(q) == "string" then
        for m in ngx.re.gmatch(q, [[(\w+)(?:=(\d+))?]], "jo") do
            ngx.say("word ", m[1], " ", tostring(m[2]))
        end
        local from, to = ngx.re.find(q, [[\d+]], "jo")
        ngx.say("digits at ", tostring(from), "-", tostring(to))
    end
end

local routes = {
    { "GET",    [[^/search$]], search },
    { "GET",    [[^/users/(\d+)$]], show_user },
    { "DELETE", [[^/users/(\d+)$]], function() return json(204, {}) end },
    { "POST",   [[^/users/?$]], create_user },
    { "GET",    [[^/users/(?<user>[a-z]+)/posts$]], list_posts },
    { "GET",    [[^/health$]], function() ngx.say('{"ok":true}') end },
    -- two bugs as they get written: a redirect with 200, a hash table printed
    { "GET",    [[^/old/users/(\d+)$]], function(m)
        return ngx.redirect("/users/" .. m[1], ngx.HTTP_OK)
    end },
    { "GET",    [[^/debug$]], function() ngx.say({ user = ngx.var.remote_user or "-" }) end },
}

function _M.dispatch()
    local method, uri = ngx.req.get_method(), ngx.var.uri
    local allowed = {}
    for _, route in ipairs(routes) do
        local m, err = ngx.re.match(uri, route[2], "jo")
        if err then
            ngx.log(ngx.ERR, "route ", route[2], ": ", err)
        elseif m then
            if route[1] == method or (method == "HEAD" and route[1] == "GET") then
                return route[3](m)
            end
            allowed[#allowed + 1] = route[1]
        end
    end
    if #allowed > 0 then
        ngx.header["Allow"] = table.concat(allowed, ", ")
        return json(405, { error = "method not allowed" })
    end
    ngx.log(ngx.INFO, "no route for ", method, " ", uri)
    return json(404, { error = "not found", path = nil })
end

return _M
'''}, [
    req("/health", "Accept: application/json"),
    req("/users/42"),
    req("/users/4242"),
    req("/users/42", method="DELETE"),
    req("/users/42", method="PUT", body=b"{}"),
    req("/users", JSON, method="POST", body=b'{"name":"ada"}'),
    req("/users/", JSON, method="POST", body=b'{"nom":"ada"}'),
    req("/users", JSON, method="POST", body=b'{"name":'),
    req("/users/bob/posts?page=3"),
    req("/users/bob/posts?page=x"),
    req("/users/Bob/posts"),
    req("/users/42", method="HEAD"),
    req("/nope/../users/1"),
    req("/users/%34%32"),
    req("/missing"),
    req("/search?q=red+shoes%20size=42&tag=b&tag=a&tag"),
    req("/search?q&tag=x"),
    req("/search?a=1&b=2&c=3&d=4&e=5&f=6&q=late"),
    req("/search?q=%E2%9C%93%2F%3F&tag=%zz"),
    req("/users/42", "Accept: text/html", method="OPTIONS"),
    req("/old/users/42"),
    req("/debug"),
])


REST = Scenario("lua-rest-shdict", HEAD + """
    lua_shared_dict items 1m;
    client_body_buffer_size 1k;
    client_max_body_size 4k;
    server {
        listen 127.0.0.1:{port};
        location /api/items {
            default_type application/json;
            content_by_lua_block {
                require("items").handle()
            }
        }
        location / { return 404 '{"error":"not found"}\\n'; }
    }
}
""", {
    "lua/items.lua": r'''
local cjson = require "cjson"
local items = ngx.shared.items

local _M = {}

local function reply(status, text)
    ngx.status = status
    ngx.say(text)
    return ngx.exit(ngx.HTTP_OK)
end

local function read_json()
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body then
        if ngx.req.get_body_file() then
            return nil, "body too large"
        end
        return nil, "empty body"
    end
    local ok, data = pcall(cjson.decode, body)
    if not ok or type(data) ~= "table" then
        return nil, "invalid json"
    end
    if type(data.name) ~= "string" or #data.name == 0 then
        return nil, "name must be a non-empty string"
    end
    if data.price ~= nil and type(data.price) ~= "number" then
        return nil, "price must be a number"
    end
    return data
end

local function encode(id, data)
    return cjson.encode({ id = id }):sub(1, -2) .. ',"name":' .. cjson.encode(data.name)
        .. ',"price":' .. cjson.encode(data.price or 0) .. "}"
end

function _M.handle()
    local method = ngx.req.get_method()
    local id = ngx.var.uri:match("^/api/items/(%d+)$")
    if ngx.var.uri == "/api/items" then
        if method == "GET" then
            local keys = items:get_keys(0)
            local ids = {}
            for _, k in ipairs(keys) do
                if k ~= "next_id" then ids[#ids + 1] = tonumber(k) end
            end
            table.sort(ids)
            return reply(200, cjson.encode({ count = #ids }):sub(1, -2)
                .. ',"ids":[' .. table.concat(ids, ",") .. "]}")
        elseif method == "POST" then
            local data, err = read_json()
            if not data then
                ngx.log(ngx.WARN, "rejected item: ", err)
                return reply(422, cjson.encode({ error = err }))
            end
            local new_id = items:incr("next_id", 1, 0)
            items:set(tostring(new_id), cjson.encode({ name = data.name, price = data.price }))
            ngx.header["Location"] = "/api/items/" .. new_id
            return reply(201, encode(new_id, data))
        end
        ngx.header["Allow"] = "GET, POST"
        return reply(405, '{"error":"method not allowed"}')
    end
    if not id then
        return reply(400, '{"error":"bad item id"}')
    end
    local stored = items:get(id)
    if not stored then
        return reply(404, '{"error":"no item ' .. id .. '"}')
    end
    if method == "GET" then
        return reply(200, encode(tonumber(id), cjson.decode(stored)))
    elseif method == "PUT" then
        local data, err = read_json()
        if not data then return reply(422, cjson.encode({ error = err })) end
        items:set(id, cjson.encode({ name = data.name, price = data.price }))
        return reply(200, encode(tonumber(id), data))
    elseif method == "DELETE" then
        items:delete(id)
        ngx.status = 204
        return ngx.exit(204)
    end
    ngx.header["Allow"] = "GET, PUT, DELETE"
    return reply(405, '{"error":"method not allowed"}')
end

return _M
'''}, [
    req("/api/items"),
    req("/api/items", JSON, method="POST", body=b'{"name":"pen","price":2.5}'),
    req("/api/items", JSON, method="POST", body=b'{"name":"ink"}'),
    req("/api/items", JSON, method="POST", body=b'{"name":"a/b \\"q\\" \\u00e9\\u2713\\n","price":0.1}'),
    req("/api/items", JSON, method="POST", body=b'{"name":"huge","price":1e21}'),
    req("/api/items", JSON, method="POST", body=b'{"name":"third","price":3.0000000000000004}'),
    req("/api/items", JSON, method="POST", body=b'{"name":"neg","price":-0.0,"tags":[1,null,{}]}'),
    req("/api/items", JSON, method="POST", body=b'[1,2]'),
    req("/api/items", JSON, method="POST", body=b'{"name":""}'),
    req("/api/items", JSON, method="POST", body=b'{"name":"x","price":"free"}'),
    req("/api/items", JSON, method="POST", body=b"not json"),
    req("/api/items", JSON, method="POST"),
    req("/api/items", JSON, method="POST",
        body=b'{"name":"big","note":"' + b"n" * 500 + b'"}'),
    # (no body buffered to a temporary file: nginx logs "a client request body is
    # buffered to a temporary file /var/lib/nginx/body/..." at warn, which the engine
    # does not yet write; the request-body code is being reworked elsewhere)
    req("/api/items", JSON, method="POST", body=b"x" * 5000),
    req("/api/items"),
    req("/api/items/1"),
    req("/api/items/2", JSON, method="PUT", body=b'{"name":"blue ink","price":3}'),
    req("/api/items/2"),
    req("/api/items/3"),
    req("/api/items/4"),
    req("/api/items/5"),
    req("/api/items/6"),
    req("/api/items/1", method="DELETE"),
    req("/api/items/1"),
    req("/api/items/abc"),
    req("/api/items", method="PATCH", body=b"{}"),
    req("/api/items"),
])


RATE_LIMIT = Scenario("lua-rate-limit", HEAD + """
    lua_shared_dict limits 1m;
    lua_shared_dict stats 1m;
    server {
        listen 127.0.0.1:{port};
        location /api/ {
            access_by_lua_block {
                local key = ngx.var.http_x_api_key
                if not key or key == "" then
                    key = "ip:" .. ngx.var.remote_addr
                end
                local n, err = ngx.shared.limits:incr(key, 1, 0, 60)
                if not n then
                    ngx.log(ngx.ERR, "incr failed: ", err)
                    return ngx.exit(500)
                end
                ngx.header["X-RateLimit-Limit"] = 3
                ngx.header["X-RateLimit-Remaining"] = math.max(0, 3 - n)
                if n > 3 then
                    ngx.log(ngx.WARN, "rate limit exceeded for ", key, " (", n, ")")
                    ngx.header["Retry-After"] = 60
                    return ngx.exit(429)
                end
            }
            log_by_lua_block {
                ngx.shared.stats:incr("status:" .. ngx.var.status, 1, 0)
            }
            content_by_lua_block {
                ngx.say("hello ", ngx.var.http_x_api_key or "anonymous",
                        " on ", ngx.var.uri, " args=", ngx.var.args or "")
            }
        }
        location = /stats {
            content_by_lua_block {
                local stats = ngx.shared.stats
                for _, code in ipairs({ 200, 429, 500 }) do
                    ngx.say(code, " ", stats:get("status:" .. code) or 0)
                end
                stats:set("label", "text")
                local v, err = stats:incr("label", 1)
                ngx.say("incr on text: ", tostring(v), " ", err)
                v, err = stats:incr("absent", 1)
                ngx.say("incr on absent: ", tostring(v), " ", err)
                v, err = ngx.shared.limits:get("k1")
                ngx.say("k1 = ", v)
            }
        }
        error_page 429 /429.json;
        location = /429.json { internal; default_type application/json;
                               return 429 '{"error":"too many requests"}\\n'; }
    }
}
""", {}, [
    req("/api/a", "X-Api-Key: k1"),
    req("/api/b?x=1", "X-Api-Key: k1"),
    req("/api/c", "X-Api-Key: k1"),
    req("/api/d", "X-Api-Key: k1"),
    req("/api/e", "X-Api-Key: k1", method="HEAD"),
    req("/api/a", "X-Api-Key: k2"),
    req("/api/a"),
    req("/api/a", "X-Api-Key: "),
    keepalive(req("/api/x", close=False), req("/api/y", close=False), req("/api/z")),
    req("/stats"),
])


LRU = Scenario("lua-lrucache", HEAD + """
    init_by_lua_block {
        require "resty.core"
        cache = require "lru_cache"
        local ok, err = cache.init(3)
        if not ok then
            ngx.log(ngx.ERR, "cache init: ", err)
        end
    }
    server {
        listen 127.0.0.1:{port};
        location /product/ {
            default_type text/plain;
            content_by_lua_block {
                local id = ngx.var.uri:match("^/product/(%w+)$")
                if not id then return ngx.exit(404) end
                local value, source = cache.fetch(id)
                ngx.header["X-Cache"] = source
                ngx.say(value)
            }
        }
        location = /cache {
            default_type text/plain;
            content_by_lua_block {
                local c = cache.lru
                ngx.say("count ", c:count(), " capacity ", c:capacity())
                for _, k in ipairs({ "a", "b", "c", "d", "e" }) do
                    local v, stale = c:get(k)
                    ngx.say(k, " ", tostring(v), " ", tostring(stale))
                end
                if ngx.var.arg_flush then
                    c:flush_all()
                    ngx.say("flushed, count ", c:count())
                end
                if ngx.var.arg_del then
                    c:delete(ngx.var.arg_del)
                    ngx.say("deleted ", ngx.var.arg_del)
                end
            }
        }
        location = /bad {
            content_by_lua_block {
                local lrucache = require "resty.lrucache"
                local c, err = lrucache.new(0)
                ngx.say(tostring(c), " ", tostring(err))
                local ok, e = pcall(lrucache.new, "x")
                ngx.say(ok, " ", e ~= nil)
            }
        }
    }
}
""", {
    "lua/lru_cache.lua": r'''
local lrucache = require "resty.lrucache"

local _M = { loads = 0 }

function _M.init(size)
    local c, err = lrucache.new(size)
    if not c then
        return nil, err
    end
    _M.lru = c
    return true
end

function _M.fetch(id)
    local v = _M.lru:get(id)
    if v then
        return v, "HIT"
    end
    _M.loads = _M.loads + 1
    v = "product " .. id .. " (load #" .. _M.loads .. ")"
    _M.lru:set(id, v, 3600)
    return v, "MISS"
end

return _M
'''}, [
    req("/product/a"),
    req("/product/a"),
    req("/product/b"),
    req("/product/c"),
    req("/product/a"),
    req("/product/d"),
    req("/cache"),
    req("/product/b"),
    req("/cache?del=a"),
    req("/product/a"),
    req("/product/!!"),
    req("/cache?flush=1"),
    req("/bad"),
])


AB_TEST = Scenario("lua-ab-test", HEAD + """
    server {
        listen 127.0.0.1:{port};
        root site;
        index index.html;
        set $bucket "";
        rewrite_by_lua_block {
            local bucket = ngx.var.cookie_ab
            if bucket ~= "a" and bucket ~= "b" then
                if ngx.var.arg_force == "a" or ngx.var.arg_force == "b" then
                    bucket = ngx.var.arg_force
                else
                    local ua = ngx.var.http_user_agent or ""
                    bucket = (ngx.crc32_short(ua) % 2 == 0) and "a" or "b"
                end
                ngx.header["Set-Cookie"] = {
                    "ab=" .. bucket .. "; Path=/; Expires=" .. ngx.cookie_time(4102444800)
                        .. "; HttpOnly",
                    "ab_new=1; Path=/",
                }
            end
            ngx.var.bucket = bucket
        }
        location = / {
            add_header X-Variant $bucket;
            add_header Set-Cookie "seen=$bucket; Path=/";
            add_header Vary Cookie;
            rewrite ^ /variants/$bucket/index.html break;
        }
        location /variants/ { internal; }
        location = /whoami {
            default_type text/plain;
            content_by_lua_block {
                ngx.say("bucket=", ngx.var.bucket, " cookie=", ngx.var.cookie_ab or "-",
                        " raw=", ngx.var.http_cookie or "-")
                local sc = ngx.header["Set-Cookie"]
                ngx.say("set-cookie: ", type(sc) == "table" and table.concat(sc, " | ")
                        or tostring(sc))
            }
        }
        location /static/ { }
    }
}
""", {
    "site/variants/a/index.html": "<h1>Variant A</h1>\n",
    "site/variants/b/index.html": "<h1>Variant B: new checkout</h1>\n",
    "site/static/app.css": "body{}\n",
}, [
    req("/", "User-Agent: curl/8.4.0"),
    req("/", "User-Agent: Mozilla/5.0"),
    req("/", "Cookie: ab=b"),
    req("/", "Cookie: ab=a; theme=dark"),
    req("/", "Cookie: theme=dark; ab=zz"),
    req("/?force=b", "User-Agent: curl/8.4.0"),
    req("/whoami", "Cookie: ab=a"),
    req("/whoami?force=a"),
    req("/static/app.css", "Cookie: ab=b"),
    req("/variants/a/index.html", "Cookie: ab=a"),
    req("/", "Cookie: ab=b", method="HEAD"),
    req("/", "Cookie: ab=", "Cookie: ab=b", "User-Agent: x"),
])


SECRET = "s3cr3t-k3y"


def _signature(path: str, expires: int) -> str:
    """What the Lua below computes: url-safe base64 of HMAC-SHA1(secret, path..expires)."""
    mac = hmac.new(SECRET.encode(), f"{path}{expires}".encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode().replace("+", "-").replace("/", "_").rstrip("=")


FUTURE, PAST = 4102444800, 1000000000

SIGNED_URLS = Scenario("lua-signed-urls", HEAD + """
    server {
        listen 127.0.0.1:{port};
        root media;
        location /media/ {
            access_by_lua_block {
                local sign = require "sign"
                local ok, why = sign.verify(ngx.var.uri, ngx.var.arg_e, ngx.var.arg_s)
                if not ok then
                    ngx.log(ngx.NOTICE, "signed url refused: ", why)
                    ngx.header["X-Reason"] = why
                    return ngx.exit(why == "missing" and 401 or 403)
                end
            }
            alias media/;
        }
        location = /sign {
            allow 127.0.0.1;
            deny all;
            default_type text/plain;
            content_by_lua_block {
                local sign = require "sign"
                local path, e = ngx.var.arg_path, tonumber(ngx.var.arg_e)
                if not path or not e then
                    ngx.status = 400
                    return ngx.say("path and e are required")
                end
                ngx.say(path, "?e=", e, "&s=", sign.sign(path, e))
            }
        }
    }
}
""".replace("SECRET", SECRET), {
    "lua/sign.lua": r'''
local _M = {}
local SECRET = "SECRET"

function _M.sign(path, expires)
    local mac = ngx.encode_base64(ngx.hmac_sha1(SECRET, path .. expires))
    return (mac:gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

function _M.verify(path, e, s)
    if not e or not s then
        return false, "missing"
    end
    local expires = tonumber(e)
    if not expires then
        return false, "bad expiry"
    end
    if expires < ngx.time() then
        return false, "expired"
    end
    if _M.sign(path, e) ~= s then
        return false, "bad signature"
    end
    return true
end

return _M
'''.replace("SECRET", SECRET),
    "media/video.mp4": b"\0\0\0\x18ftypmp42" + b"\0" * 8,
    "media/doc.txt": "confidential\n",
}, [
    req(f"/sign?path=/media/doc.txt&e={FUTURE}"),
    req("/sign?path=/media/doc.txt"),
    req(f"/media/doc.txt?e={FUTURE}&s={_signature('/media/doc.txt', FUTURE)}"),
    req(f"/media/video.mp4?e={FUTURE}&s={_signature('/media/video.mp4', FUTURE)}",
        "Range: bytes=0-3"),
    req(f"/media/doc.txt?e={PAST}&s={_signature('/media/doc.txt', PAST)}"),
    req(f"/media/doc.txt?e={FUTURE}&s={_signature('/media/video.mp4', FUTURE)}"),
    req(f"/media/doc.txt?e=tomorrow&s={_signature('/media/doc.txt', FUTURE)}"),
    req("/media/doc.txt"),
    req(f"/media/doc.txt?e={FUTURE}"),
    req(f"/media/gone.txt?e={FUTURE}&s={_signature('/media/gone.txt', FUTURE)}"),
    req(f"/media/doc.txt?e={FUTURE}&s={_signature('/media/doc.txt', FUTURE)}",
        method="HEAD"),
])


HTML_REWRITE = Scenario("lua-html-rewrite", HEAD + """
    gzip on;
    gzip_min_length 64;
    gzip_types text/plain;
    server {
        listen 127.0.0.1:{port};
        root www;
        location / {
            header_filter_by_lua_block {
                local ct = ngx.header.content_type or ""
                if ct:find("text/html", 1, true) then
                    ngx.header.content_length = nil
                    ngx.header["X-Rewritten"] = "1"
                    ngx.ctx.rewrite = true
                end
            }
            body_filter_by_lua_block {
                if not ngx.ctx.rewrite then return end
                local chunk, eof = ngx.arg[1], ngx.arg[2]
                local buf = ngx.ctx.buf or {}
                buf[#buf + 1] = chunk
                ngx.ctx.buf = buf
                if not eof then
                    ngx.arg[1] = nil
                    return
                end
                local html = table.concat(buf)
                local n
                html, n = ngx.re.gsub(html, [[http://cdn\\.old\\.example\\.com/]], "/cdn/", "jo")
                html = ngx.re.sub(html, "</body>",
                                  "<script src=\\"/rum.js\\"></script></body>", "ijo")
                ngx.arg[1] = html .. "<!-- rewrote " .. n .. " links -->\\n"
            }
        }
        location /generated/ {
            default_type text/html;
            header_filter_by_lua_block {
                ngx.header.content_length = nil
            }
            body_filter_by_lua_block {
                ngx.arg[1] = ngx.re.gsub(ngx.arg[1], "(?i)secret", "******")
            }
            content_by_lua_block {
                ngx.say("<p>line one has a Secret</p>")
                ngx.flush(true)
                ngx.print("<p>SECRET two</p>")
            }
        }
    }
}
""", {
    "www/index.html": "<html><head><link href=\"http://cdn.old.example.com/app.css\">"
                      "</head>\n<BODY><img src=\"http://cdn.old.example.com/logo.png\">"
                      "<a href=\"http://cdn.old.example.com/\">cdn</a></BODY></html>\n",
    "www/plain.txt": "http://cdn.old.example.com/ stays\n",
    "www/about.html": "<p>no links</p>\n",
}, [
    req("/"),
    req("/index.html", "Accept-Encoding: gzip"),
    req("/about.html", "Accept-Encoding: gzip, deflate"),
    req("/plain.txt", "Accept-Encoding: gzip"),
    req("/index.html", method="HEAD"),
    req("/index.html", "Range: bytes=0-9"),
    req("/about.html"),
    req("/plain.txt"),
    req("/missing.html"),
    req("/generated/x"),
    req("/generated/x", version="HTTP/1.0"),
    req("/index.html", "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT"),
])


TIMERS = Scenario("lua-timers", HEAD + """
    lua_shared_dict jobs 1m;
    server {
        listen 127.0.0.1:{port};
        default_type text/plain;
        location = /jobs {
            content_by_lua_block {
                local name = ngx.var.arg_name
                if not name or not name:match("^%w+$") then
                    ngx.status = 400
                    return ngx.say("bad job name")
                end
                local jobs = ngx.shared.jobs
                local ok, err = jobs:add("job:" .. name, "queued")
                if not ok then
                    ngx.status = 409
                    return ngx.say("job ", name, ": ", err)
                end
                local started, terr = ngx.timer.at(0, function(premature, job, n)
                    if premature then return end
                    local sum = 0
                    for i = 1, n do sum = sum + i end
                    ngx.log(ngx.INFO, "job ", job, " done: ", sum)
                    jobs:set("job:" .. job, "done " .. sum)
                end, name, tonumber(ngx.var.arg_n) or 10)
                if not started then
                    ngx.log(ngx.ERR, "failed to start job: ", terr)
                    return ngx.exit(500)
                end
                ngx.status = 202
                ngx.header["Location"] = "/jobs/" .. name
                ngx.say("queued ", name)
            }
        }
        location ~ ^/jobs/(?<job>\\w+)$ {
            content_by_lua_block {
                local jobs = ngx.shared.jobs
                local state
                for _ = 1, 50 do
                    state = jobs:get("job:" .. ngx.var.job)
                    if state ~= "queued" then break end
                    ngx.sleep(0.02)
                end
                if not state then
                    ngx.status = 404
                    return ngx.say("no job ", ngx.var.job)
                end
                ngx.say(ngx.var.job, ": ", state)
            }
        }
        location = /bad-timer {
            content_by_lua_block {
                local ok, err = pcall(ngx.timer.at, "soon", function() end)
                ngx.say(ok, " ", err)
                ok, err = pcall(ngx.timer.at, 1)
                ngx.say(ok, " ", err)
                ngx.say("pending ", ngx.timer.pending_count() >= 0)
            }
        }
        location = /crash {
            content_by_lua_block {
                ngx.timer.at(0, function() error("boom in timer") end)
                ngx.say("started")
            }
        }
    }
}
""", {}, [
    req("/jobs?name=sum1&n=100", method="POST"),
    req("/jobs/sum1"),
    req("/jobs?name=sum1", method="POST"),
    req("/jobs?name=sum2"),
    req("/jobs/sum2"),
    req("/jobs?name=no%20way"),
    req("/jobs"),
    req("/jobs/unknown"),
    req("/bad-timer"),
    req("/crash"),
    req("/jobs/sum1"),
])


FAN_OUT = Scenario("lua-capture-multi", HEAD + """
    server {
        listen 127.0.0.1:{port};
        location = /dashboard {
            default_type application/json;
            content_by_lua_block {
                local user = ngx.var.arg_user or "guest"
                local profile, orders, stats = ngx.location.capture_multi({
                    { "/internal/profile", { args = { user = user } } },
                    { "/internal/orders", { args = "user=" .. user .. "&limit=2" } },
                    { "/internal/stats", { method = ngx.HTTP_POST, body = "user=" .. user } },
                })
                local parts = {}
                for i, item in ipairs({ { "profile", profile }, { "orders", orders },
                                        { "stats", stats } }) do
                    local res = item[2]
                    local body = res.status == 200 and res.body:gsub("%s+$", "") or "null"
                    parts[i] = string.format('"%s":{"status":%d,"data":%s}',
                                             item[1], res.status, body)
                end
                ngx.say("{", table.concat(parts, ","), "}")
            }
        }
        location /internal/ {
            internal;
            default_type application/json;
            location = /internal/profile {
                content_by_lua_block {
                    if ngx.var.arg_user == "nobody" then return ngx.exit(404) end
                    ngx.say('{"name":"', ngx.var.arg_user, '"}')
                }
            }
            location = /internal/orders {
                return 200 '[{"id":1,"user":"$arg_user"},{"id":2,"limit":"$arg_limit"}]';
            }
            location = /internal/stats {
                content_by_lua_block {
                    ngx.req.read_body()
                    ngx.say('{"method":"', ngx.req.get_method(), '","body":"',
                            ngx.req.get_body_data() or "", '"}')
                }
            }
        }
    }
}
""", {}, [
    req("/dashboard?user=ada"),
    req("/dashboard"),
    req("/dashboard?user=nobody"),
    req("/dashboard?user=ada", method="HEAD"),
    req("/internal/profile?user=ada"),
    req("/dashboard?user=ada", method="POST", body=b"ignored"),
])


AUTH = Scenario("lua-auth-named", HEAD + """
    lua_shared_dict tokens 1m;
    init_by_lua_block {
        local tokens = ngx.shared.tokens
        tokens:set("t-admin", "admin")
        tokens:set("t-user", "user")
    }
    server {
        listen 127.0.0.1:{port};
        error_page 403 /errors/403.json;
        error_page 404 /errors/404.json;
        location /errors/ {
            internal;
            default_type application/json;
            root errors;
            rewrite ^/errors/(\\d+)\\.json$ /$1.json break;
        }
        location /admin/ {
            access_by_lua_block {
                local auth = ngx.var.http_authorization
                if not auth then
                    return ngx.exec("@login")
                end
                local token = auth:match("^Bearer%s+(%S+)$")
                local role = token and ngx.shared.tokens:get(token)
                if not role then
                    ngx.log(ngx.WARN, "bad token for ", ngx.var.uri)
                    return ngx.exec("@login", "reason=bad_token")
                end
                if role ~= "admin" then
                    return ngx.exit(ngx.HTTP_FORBIDDEN)
                end
                ngx.req.set_header("X-User-Role", role)
            }
            content_by_lua_block {
                ngx.say("welcome ", ngx.var.http_x_user_role, " to ", ngx.var.uri)
            }
        }
        location /reports/ {
            auth_request /_check;
            auth_request_set $role $upstream_http_x_role;
            add_header X-Role $role always;
            root data;
        }
        location = /_check {
            internal;
            content_by_lua_block {
                local auth = ngx.var.http_authorization or ""
                local role = ngx.shared.tokens:get((auth:gsub("^Bearer%s+", "")))
                if not role then return ngx.exit(401) end
                if role ~= "admin" then return ngx.exit(403) end
                ngx.header["X-Role"] = role
                ngx.exit(200)
            }
        }
        location @login {
            default_type application/json;
            content_by_lua_block {
                ngx.status = 401
                ngx.header["WWW-Authenticate"] = 'Bearer realm="admin"'
                ngx.say('{"error":"login required","reason":"',
                        ngx.var.arg_reason or "no_token", '","uri":"', ngx.var.uri, '"}')
            }
        }
    }
}
""", {
    "errors/403.json": '{"error":"forbidden"}\n',
    "errors/404.json": '{"error":"not found"}\n',
    "data/reports/q1.csv": "quarter,revenue\nq1,100\n",
}, [
    req("/admin/users"),
    req("/admin/users", "Authorization: Bearer t-admin"),
    req("/admin/users", "Authorization: Bearer t-user"),
    req("/admin/users", "Authorization: Bearer nope"),
    req("/admin/users", "Authorization: Basic YWRtaW46YWRtaW4="),
    req("/reports/q1.csv", "Authorization: Bearer t-admin"),
    req("/reports/q1.csv", "Authorization: Bearer t-user"),
    req("/reports/q1.csv"),
    req("/reports/q9.csv", "Authorization: Bearer t-admin"),
    req("/errors/403.json"),
    req("/nothing"),
    req("/admin/x", "Authorization: Bearer t-admin", method="HEAD"),
])

SCENARIOS = [ROUTER, REST, RATE_LIMIT, LRU, AB_TEST, SIGNED_URLS, HTML_REWRITE, TIMERS,
             FAN_OUT, AUTH]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"openresty:{s.name}" for s in SCENARIOS])
def test_realistic_openresty(scenario: Scenario) -> None:
    diffs = run(scenario)
    assert not diffs, "\n".join(diffs)
