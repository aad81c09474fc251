"""ngx_lua's request/response header and argument APIs against real OpenResty (header
audit): ngx.req.get_headers (max, truncation, raw, repeats, case, underscores),
set_header/clear_header (what $http_*, ngx.var, raw_header, a capture and a proxied
upstream see; Host, Content-Length, Cookie, User-Agent; tables, nil, numbers),
get_uri_args/get_post_args (limits, odd pairs, decoding), set_uri_args,
ngx.encode_args/decode_args, ngx.header reads and writes, ngx.resp.get_headers,
methods, http_version, raw_header, start_time, is_internal and ngx.status. Each case
compares the response and the error-log lines it writes."""

from __future__ import annotations

import pytest

from tests.differential import Pair, Req
from tests.lua.cases import assert_case_as_openresty, build_conf, lua, mark_logs, point
from tests.oracle import requires_nginx

H = [("Host", "localhost")]
FORM = H + [("Content-Type", "application/x-www-form-urlencoded")]
#: Prints a table's keys and values sorted (pairs order is not comparable).
DUMP = ('local function dump(t) local k = {} for n, v in pairs(t) do '
        'if type(v) == "table" then v = "{" .. table.concat(v, ",") .. "}" end '
        'k[#k+1] = tostring(n) .. "=" .. tostring(v) end table.sort(k) '
        'return table.concat(k, " ") end ')
COUNT = 'local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end '
ALLB = 'local s = {} for i = 1, 255 do s[#s+1] = string.char(i) end s = table.concat(s) '
#: ngx.http_time(1000) as a Last-Modified set from Lua, and the same date in a request.
LM = 'ngx.header["Last-Modified"] = ngx.http_time(1000) '
IMS = "Thu, 01 Jan 1970 00:16:40 GMT"
MANYH = H + [(f"X-H{i}", str(i)) for i in range(104)]
MANYA = "?" + "&".join(f"k{i}=1" for i in range(105))
ECHO = 'proxy_pass http://127.0.0.1:{port1}/up/echo;'
SUB = 'local r = ngx.location.capture("/hsub") ngx.print(r.body)'

CASES = [
 # -- ngx.req.get_headers ----------------------------------------------------------------
 ("get_headers default max", lua(COUNT + 'local h, e = ngx.req.get_headers() ngx.say(count(h), " ", tostring(e))'), Req("GET", "/", MANYH)),
 ("get_headers max 0", lua(COUNT + 'local h, e = ngx.req.get_headers(0) ngx.say(count(h), " ", tostring(e))'), Req("GET", "/", MANYH)),
 ("get_headers max negative", lua(COUNT + 'local h, e = ngx.req.get_headers(-1) ngx.say(count(h), " ", tostring(e))'), Req("GET", "/", MANYH)),
 ("get_headers max float", lua(DUMP + 'local h, e = ngx.req.get_headers(2.9) ngx.say(dump(h), " ", tostring(e))'), Req("GET", "/", H + [("A", "1"), ("B", "2")])),
 ("get_headers max exact", lua(DUMP + 'local h, e = ngx.req.get_headers(3) ngx.say(dump(h), " ", tostring(e))'), Req("GET", "/", H + [("A", "1"), ("B", "2")])),
 ("get_headers repeats count once", lua(DUMP + 'local h, e = ngx.req.get_headers(2) ngx.say(dump(h), " ", tostring(e))'), Req("GET", "/", H + [("A", "1"), ("A", "2"), ("B", "3")])),
 ("get_headers raw case", lua(DUMP + 'local h = ngx.req.get_headers(nil, true) ngx.say(dump(h))'), Req("GET", "/", H + [("X-Mixed-Case", "1"), ("x-mixed-case", "2"), ("ALLCAPS", "3")])),
 ("get_headers three repeats", lua(DUMP + 'ngx.say(dump(ngx.req.get_headers()))'), Req("GET", "/", H + [("R", "1"), ("r", "2"), ("R", "3")])),
 ("get_headers result count", lua('ngx.say(select("#", ngx.req.get_headers()), select("#", ngx.req.get_headers(1)), select("#", ngx.resp.get_headers()), select("#", ngx.req.get_uri_args()))'), Req("GET", "/?a=1", H + [("A", "1")])),
 ("get_headers lookups", lua('local h = ngx.req.get_headers() ngx.say(tostring(h["FOO-BAR"]), " ", tostring(h.Foo_Bar), " ", tostring(h.foo_bar), " ", tostring(h[1]))'), Req("GET", "/", H + [("Foo-Bar", "v")])),
 ("get_headers modify table", lua('local h = ngx.req.get_headers() h.host = "x" ngx.say(ngx.req.get_headers().host)')),
 ("get_headers bool max", lua(COUNT + 'local h, e = ngx.req.get_headers(true) local g, f = ngx.req.get_headers(false) ngx.say(count(h), " ", tostring(e), " ", count(g), " ", tostring(f))'), Req("GET", "/", H + [("A", "1")])),
 ("get_headers string max", lua('ngx.say(pcall(ngx.req.get_headers, "3"))')),
 # -- set_header / clear_header ----------------------------------------------------------
 ("set_header underscore name", lua(DUMP + 'ngx.req.set_header("X_U", "1") ngx.say(dump(ngx.req.get_headers()), " ", tostring(ngx.var.http_x_u))')),
 ("set_header number name", lua(DUMP + 'ngx.req.set_header(12, "v") ngx.say(dump(ngx.req.get_headers()))')),
 ("set_header float value", lua('ngx.req.set_header("X-F", 1.5) ngx.say(ngx.var.http_x_f)')),
 ("set_header table numbers", lua('ngx.req.set_header("X-T", {1, 2.5}) local h = ngx.req.get_headers() ngx.say(h["x-t"][1], h["x-t"][2], " ", ngx.var.http_x_t)')),
 ("set_header empty table", lua('ngx.req.set_header("X-T", {}) ngx.say(tostring(ngx.req.get_headers()["x-t"]))'), Req("GET", "/", H + [("X-T", "o")])),
 ("set_header table with bool", lua('ngx.say(pcall(ngx.req.set_header, "X-T", {"a", true}))')),
 ("set_header table value in table", lua('ngx.say(pcall(ngx.req.set_header, "X-T", {"a", {}}))')),
 ("set_header host", lua('ngx.req.set_header("Host", "other.example") ngx.say(ngx.var.host, " ", ngx.var.http_host, " ", ngx.req.get_headers().host)')),
 ("set_header host with port", lua('ngx.req.set_header("Host", "Other.Example:81") ngx.say(ngx.var.host, " ", ngx.var.http_host)')),
 ("clear_header host", lua('ngx.req.clear_header("Host") ngx.say(ngx.var.host, " ", tostring(ngx.var.http_host))')),
 ("set_header content-length", lua('ngx.req.set_header("Content-Length", "5") ngx.say(ngx.var.content_length, " ", ngx.var.http_content_length)')),
 ("clear_header content-length", lua('ngx.req.clear_header("Content-Length") ngx.say(tostring(ngx.var.content_length), " ", tostring(ngx.var.http_content_length))'), Req("POST", "/", H, b"abc")),
 ("set_header content-type", lua('ngx.req.set_header("Content-Type", "text/x") ngx.say(ngx.var.content_type)')),
 ("set_header cookie table", lua('ngx.req.set_header("Cookie", {"a=1", "b=2"}) ngx.say(ngx.var.http_cookie, " ", ngx.var.cookie_b)')),
 ("repeated cookie header", lua('ngx.say(ngx.var.http_cookie, " ", ngx.var.cookie_b)'), Req("GET", "/", H + [("Cookie", "a=1"), ("Cookie", "b=2")])),
 ("clear_header cookie", lua('ngx.req.clear_header("Cookie") ngx.say(tostring(ngx.var.http_cookie), " ", tostring(ngx.var.cookie_a))'), Req("GET", "/", H + [("Cookie", "a=1")])),
 ("set_header xff table", lua('ngx.req.set_header("X-Forwarded-For", {"1.1.1.1", "2.2.2.2"}) ngx.say(ngx.var.http_x_forwarded_for)')),
 ("set_header other table var", lua('ngx.req.set_header("X-O", {"1", "2"}) ngx.say(ngx.var.http_x_o)')),
 ("repeated other header var", lua('ngx.say(ngx.var.http_x_o)'), Req("GET", "/", H + [("X-O", "1"), ("X-O", "2")])),
 ("set_header user-agent add", lua('ngx.req.set_header("User-Agent", "ua") ngx.say(ngx.var.http_user_agent, " ", ngx.req.get_headers()["user-agent"])')),
 ("set_header case replace", lua(DUMP + 'ngx.req.set_header("x-a", "new") ngx.say(dump(ngx.req.get_headers(0, true)))'), Req("GET", "/", H + [("X-A", "old")])),
 ("set_header raw order", lua('ngx.req.set_header("Z-New", "z") ngx.req.set_header("A", "2") local h = ngx.req.get_headers(0, true) local k = {} for n in pairs(h) do k[#k+1] = n end table.sort(k) ngx.say(table.concat(k, ","))'), Req("GET", "/", H + [("A", "1")])),
 ("set_header nil name", lua('ngx.say(pcall(ngx.req.set_header))')),
 ("clear_header nil", lua('ngx.say(pcall(ngx.req.clear_header))')),
 ("clear_header number", lua('ngx.req.clear_header(12) ngx.say("ok")')),
 ("set_header bool value", lua('ngx.say(pcall(ngx.req.set_header, "X-B", false))')),
 ("set_header crlf value", lua('ngx.req.set_header("X-C", "a\\r\\nb") ngx.say(ngx.var.http_x_c)')),
 ("set_header seen by capture", lua('ngx.req.set_header("X-S", "v") ngx.req.clear_header("X-Gone") ngx.req.set_header("Host", "h2") ' + SUB), Req("GET", "/", H + [("X-Gone", "1")])),
 ("hsub", lua(DUMP + 'ngx.say(dump(ngx.req.get_headers()), " ", ngx.var.host)')),
 ("set_header seen by proxy", 'rewrite_by_lua_block { ngx.req.set_header("X-S", {"v1", "v2"}) ngx.req.clear_header("X-Gone") ngx.req.set_header("User-Agent", "ua2") } ' + ECHO, Req("GET", "/", H + [("X-Gone", "1"), ("User-Agent", "ua1")])),
 ("set_header host proxy", 'rewrite_by_lua_block { ngx.req.set_header("Host", "h3") } proxy_set_header Host $host; ' + ECHO),
 ("set_header cookie proxy", 'rewrite_by_lua_block { ngx.req.set_header("Cookie", {"a=1", "b=2"}) } ' + ECHO),
 ("set_header in header_filter", 'header_filter_by_lua_block { ngx.req.set_header("X-H", "1") ngx.header["X-R"] = ngx.var.http_x_h } return 200 "x\\n";'),
 ("clear_header in log", 'log_by_lua_block { ngx.req.clear_header("X") ngx.log(ngx.ERR, "x ", tostring(ngx.var.http_x)) } return 200 "x\\n";', Req("GET", "/", H + [("X", "1")])),
 ("set_header in log", 'log_by_lua_block { ngx.log(ngx.ERR, select(2, pcall(ngx.req.set_header, "X", "1"))) } return 200 "x\\n";'),
 # -- get_uri_args / get_post_args --------------------------------------------------------
 ("get_uri_args odd pairs", lua(DUMP + 'ngx.say(dump(ngx.req.get_uri_args()))'), Req("GET", "/?a&a=1&=x&b=")),
 ("get_uri_args plus and percent", lua(DUMP + 'ngx.say(dump(ngx.req.get_uri_args()))'), Req("GET", "/?a=x+y%2Bz&b%3D=%41%zz%4&c=1=2")),
 ("get_uri_args repeats", lua(DUMP + 'ngx.say(dump(ngx.req.get_uri_args()))'), Req("GET", "/?k=1&k=2&k&k=")),
 ("get_uri_args empties", lua(DUMP + 'ngx.say("[", dump(ngx.req.get_uri_args()), "]")'), Req("GET", "/?&&=&")),
 ("get_uri_args max truncated", lua(DUMP + 'local a, e = ngx.req.get_uri_args(2) ngx.say(dump(a), " ", tostring(e))'), Req("GET", "/?a=1&b=2&c=3")),
 ("get_uri_args max exact", lua(DUMP + 'local a, e = ngx.req.get_uri_args(3) ngx.say(dump(a), " ", tostring(e))'), Req("GET", "/?a=1&b=2&c=3")),
 ("get_uri_args repeats count", lua(DUMP + 'local a, e = ngx.req.get_uri_args(2) ngx.say(dump(a), " ", tostring(e))'), Req("GET", "/?a=1&a=2&b=3")),
 ("get_uri_args default truncated", lua(COUNT + 'local a, e = ngx.req.get_uri_args() ngx.say(count(a), " ", tostring(e))'), Req("GET", MANYA)),
 ("get_uri_args negative", lua(COUNT + 'local a, e = ngx.req.get_uri_args(-5) ngx.say(count(a), " ", tostring(e))'), Req("GET", MANYA)),
 ("get_uri_args bool max", lua(DUMP + 'local a, e = ngx.req.get_uri_args(true) ngx.say(dump(a), " ", tostring(e))'), Req("GET", "/?a=1&b=2")),
 ("get_uri_args string max", lua('ngx.say(pcall(ngx.req.get_uri_args, "1"))'), Req("GET", "/?a=1&b=2")),
 ("get_uri_args no query", lua(DUMP + 'local a, e = ngx.req.get_uri_args() ngx.say("[", dump(a), "] ", tostring(e))')),
 ("get_uri_args tab reused", lua(DUMP + 'local t = {old = 1} local a = ngx.req.get_uri_args(nil, t) ngx.say(dump(a), " ", a == t)'), Req("GET", "/?n=1")),
 ("get_uri_args after set_uri_args", lua(DUMP + 'ngx.req.set_uri_args({x = "1 2"}) ngx.say(dump(ngx.req.get_uri_args()))'), Req("GET", "/?a=1")),
 ("get_post_args body not read", lua('ngx.say(pcall(ngx.req.get_post_args))'), Req("POST", "/", FORM, b"a=1")),
 ("get_post_args odd pairs", lua(DUMP + 'ngx.req.read_body() ngx.say(dump(ngx.req.get_post_args()))'), Req("POST", "/", FORM, b"a&a=1&=x&b=&c=%41+b")),
 ("get_post_args default truncated", lua(COUNT + 'ngx.req.read_body() local a, e = ngx.req.get_post_args() ngx.say(count(a), " ", tostring(e))'), Req("POST", "/", FORM, MANYA[1:].encode())),
 ("get_post_args zero", lua(COUNT + 'ngx.req.read_body() local a, e = ngx.req.get_post_args(0) ngx.say(count(a), " ", tostring(e))'), Req("POST", "/", FORM, MANYA[1:].encode())),
 ("get_post_args string max", lua(DUMP + 'ngx.req.read_body() local a, e = ngx.req.get_post_args("1") ngx.say(dump(a), " ", tostring(e))'), Req("POST", "/", FORM, b"a=1&b=2")),
 ("get_post_args float max", lua(DUMP + 'ngx.req.read_body() local a, e = ngx.req.get_post_args(1.5) ngx.say(dump(a), " ", tostring(e))'), Req("POST", "/", FORM, b"a=1&b=2")),
 ("get_post_args bool max", lua('ngx.req.read_body() ngx.say(pcall(ngx.req.get_post_args, true))'), Req("POST", "/", FORM, b"a=1")),
 ("get_post_args bad max", lua('ngx.req.read_body() ngx.say(pcall(ngx.req.get_post_args, "x"))'), Req("POST", "/", FORM, b"a=1")),
 ("get_post_args lua_need_request_body", lua(DUMP + 'ngx.say(dump(ngx.req.get_post_args()))', 'lua_need_request_body on;'), Req("POST", "/", FORM, b"a=1")),
 ("get_post_args content-type case", lua(DUMP + 'ngx.req.read_body() ngx.say(dump(ngx.req.get_post_args()))'), Req("POST", "/", H + [("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=utf-8")], b"a=1")),
 # -- set_uri_args ------------------------------------------------------------------------
 ("set_uri_args nested table", lua('ngx.say(pcall(ngx.req.set_uri_args, {a = {{}}}))')),
 ("set_uri_args table value types", lua('ngx.say(pcall(ngx.req.set_uri_args, {a = function() end}))')),
 ("set_uri_args numbers", lua('ngx.req.set_uri_args({n = 1.5, m = {3, true}}) local a = ngx.var.args ngx.say(#a, " ", ngx.var.arg_n, " ", ngx.var.arg_m)')),
 ("set_uri_args bool", lua('ngx.say(pcall(ngx.req.set_uri_args, true))')),
 ("set_uri_args string raw", lua('ngx.req.set_uri_args("a b=c&d") ngx.say(ngx.var.args, " ", ngx.var.request_uri)')),
 ("set_uri_args every byte", lua(ALLB + 'ngx.req.set_uri_args(s .. "\\0") ngx.say(ngx.var.args)')),
 ("set_uri_args in header_filter", 'header_filter_by_lua_block { ngx.req.set_uri_args("a=1 2") ngx.header["X-A"] = ngx.var.args } return 200 "x\\n";'),
 ("set_uri_args in log", 'log_by_lua_block { ngx.req.set_uri_args({z = "1"}) ngx.log(ngx.ERR, "args ", ngx.var.args) } return 200 "x\\n";'),
 ("exec args number key", lua('ngx.exec("/hsub", {[1] = "x"})')),
 ("set_uri_args number key", lua('ngx.req.set_uri_args({[1] = "x", b = "y"}) ngx.say(ngx.var.args)')),
 ("set_uri_args empty table", lua('ngx.req.set_uri_args({}) ngx.say("[", tostring(ngx.var.args), "] [", ngx.var.is_args, "]")'), Req("GET", "/?q=1")),
 # -- encode_args / decode_args -----------------------------------------------------------
 ("encode_args special", lua('ngx.say(ngx.encode_args({["a/b"] = "c~d*e\'f(g)h!i é ü"}))')),
 ("encode_args every byte", lua(ALLB + 'ngx.say(ngx.encode_args({k = s}))')),
 ("encode_args bools and arrays", lua('local s = ngx.encode_args({t = true, f = false, a = {"1", true, false, 2}}) local p = {} for x in s:gmatch("[^&]+") do p[#p+1] = x end table.sort(p) ngx.say(table.concat(p, "&"))')),
 ("encode_args nested", lua('ngx.say(pcall(ngx.encode_args, {a = {{}}}))')),
 ("encode_args bad value", lua('ngx.say(pcall(ngx.encode_args, {a = ngx.null}))')),
 ("encode_args bad key", lua('ngx.say(pcall(ngx.encode_args, {[true] = 1}))')),
 ("encode_args number key", lua('ngx.say(ngx.encode_args({[1] = "a", [2.5] = "b"}))')),
 ("encode_args not table", lua('ngx.say(pcall(ngx.encode_args, "a"))')),
 ("encode_args empty", lua('ngx.say("[", ngx.encode_args({}), "]")')),
 ("decode_args", lua(DUMP + 'ngx.say(dump(ngx.decode_args("a=1&a=2&b&c=%41+%2B&=x&d=")))')),
 ("decode_args max", lua(DUMP + 'local t, e = ngx.decode_args("a=1&b=2&c=3", 2) ngx.say(dump(t), " ", tostring(e))')),
 ("decode_args max zero", lua(COUNT + 'local s = {} for i = 1, 150 do s[i] = "k" .. i .. "=1" end local t, e = ngx.decode_args(table.concat(s, "&"), 0) ngx.say(count(t), " ", tostring(e))')),
 ("decode_args default max", lua(COUNT + 'local s = {} for i = 1, 150 do s[i] = "k" .. i .. "=1" end local t, e = ngx.decode_args(table.concat(s, "&")) ngx.say(count(t), " ", tostring(e))')),
 ("decode_args bad", lua('ngx.say(pcall(ngx.decode_args, nil))')),
 ("decode_args number", lua(DUMP + 'ngx.say(dump(ngx.decode_args(12)))')),
 # -- ngx.header --------------------------------------------------------------------------
 ("header multi read", lua('ngx.header["X-M"] = {"a", "b"} local v = ngx.header.x_m ngx.say(type(v), " ", v[1], v[2])')),
 ("header content-type forms", lua('ngx.header["Content-Type"] = "text/a" ngx.say(ngx.header.content_type, " ", ngx.header["content-type"], " ", ngx.header.Content_Type)')),
 ("header content_type write", lua('ngx.header.content_type = "text/b" ngx.say(ngx.header["Content-Type"])')),
 ("header content-type table", lua('ngx.header["Content-Type"] = {"text/a", "text/b"} ngx.say(ngx.header.content_type, " ", type(ngx.header["Content-Type"]))')),
 ("header content-length table", lua('ngx.header["Content-Length"] = {"1", "2"} ngx.say(tostring(ngx.header.content_length))')),
 ("header server table", lua('ngx.header["Server"] = {"a", "b"} ngx.header.ETag = {"1", "2"} ngx.say(ngx.header.server, ngx.header.etag)')),
 ("header location table relative", lua('ngx.header["Location"] = {"/a", "/b"} ngx.status = 302 ngx.say(type(ngx.header.location))')),
 ("header location table absolute", lua('ngx.header["Location"] = {"http://h/a", "http://h/b"} ngx.status = 302 ngx.say(ngx.header.location)')),
 ("header location absolute read", lua('ngx.header.Location = "http://x/y" ngx.say(ngx.header.location)')),
 ("header table keeps place", lua('ngx.header["X-A"] = "1" ngx.header["X-B"] = "2" ngx.header["x-a"] = {"3", "4"} local h = ngx.resp.get_headers(0, true) ngx.say(tostring(h["X-A"][1]), h["X-A"][2], h["X-B"])')),
 ("header content_type table", lua('ngx.header.content_type = {"text/a", "text/b"} ngx.say(tostring(ngx.header.content_type))')),
 ("header set after sent", lua('ngx.say("x") ngx.header["X-Late"] = "1" ngx.say(tostring(ngx.header["X-Late"]))')),
 ("header set after send_headers", lua('ngx.send_headers() ngx.header["X-Late"] = "1" ngx.say("x")')),
 ("header set-cookie table", lua('ngx.header["Set-Cookie"] = {"a=1; Path=/", "b=2"} local v = ngx.header["Set-Cookie"] ngx.say(type(v), " ", #v)')),
 ("header set-cookie string then nil", lua('ngx.header["Set-Cookie"] = "a=1" ngx.header["Set-Cookie"] = nil ngx.say(tostring(ngx.header["Set-Cookie"]))')),
 ("header nil clears", lua('ngx.header["X-A"] = "1" ngx.header["X-A"] = nil ngx.say(tostring(ngx.header["X-A"]))')),
 ("header empty table clears", lua('ngx.header["X-A"] = {} ngx.say(tostring(ngx.header["X-A"]))')),
 ("header content-length number", lua('ngx.header["Content-Length"] = 3 ngx.print("abc")')),
 ("header content-length string read", lua('ngx.header.content_length = "3" ngx.print(type(ngx.header.content_length))')),
 ("header content-length nil", lua('ngx.header.content_length = 5 ngx.header.content_length = nil ngx.say(tostring(ngx.header.content_length))')),
 ("header content-length float", lua('ngx.say(pcall(function() ngx.header.content_length = 1.5 end))')),
 ("header content-length negative", lua('ngx.say(pcall(function() ngx.header.content_length = -1 end))')),
 ("header boolean false", lua('ngx.say(pcall(function() ngx.header["X-B"] = false end)) ngx.say(tostring(ngx.header["X-B"]))')),
 ("header table with bool", lua('ngx.say(pcall(function() ngx.header["X-B"] = {"a", true} end))')),
 ("header table with table", lua('local ok = pcall(function() ngx.header["X-B"] = {"a", {}} end) local v = ngx.header["X-B"] ngx.header["X-B"] = nil ngx.say(ok, " ", v[1], " ", v[2]:sub(1, 6))')),
 ("header function value", lua('local ok = pcall(function() ngx.header["X-B"] = print end) local v = ngx.header["X-B"] ngx.header["X-B"] = nil ngx.say(ok, " ", v:sub(1, 9))')),
 ("header table key", lua('local t = {} ngx.header[t] = "x" local h = ngx.resp.get_headers(0, true) local n = {} for k in pairs(h) do if k:find("^table") then n[#n+1] = k:sub(1, 11) end end ngx.header[t] = nil ngx.say(table.concat(n, ","))')),
 ("header underscore off", lua('ngx.header.X_U = "1" ngx.say(tostring(ngx.header["X-U"]), " ", tostring(ngx.header.X_U))', 'lua_transform_underscores_in_response_headers off;')),
 ("header read builtin", lua('ngx.say(tostring(ngx.header.server), " ", tostring(ngx.header.date), " ", tostring(ngx.header.connection))')),
 ("header location relative", lua('ngx.header.Location = "/rel" ngx.status = 301 ngx.say(ngx.header.location)')),
 ("header last-modified", lua('ngx.header["Last-Modified"] = "Thu, 01 Jan 1970 00:00:00 GMT" ngx.say(ngx.header["Last-Modified"])')),
 ("header multi content-type", lua('ngx.header["X-A"] = {"1", "2"} ngx.header["X-A"] = "3" ngx.say(ngx.header["X-A"])')),
 ("header pairs", lua('ngx.header["X-A"] = "1" local n = 0 for _ in pairs(ngx.header) do n = n + 1 end ngx.say(n)')),
 ("header in log phase", 'log_by_lua_block { ngx.header["X-L"] = "1" ngx.log(ngx.ERR, "after ", tostring(ngx.header["X-L"])) } return 200 "x\\n";'),
 ("header cache-control string", lua('ngx.header["Cache-Control"] = "max-age=1" ngx.say(ngx.header.cache_control)')),
 # -- ngx.resp.get_headers ----------------------------------------------------------------
 ("resp headers before output", lua(DUMP + 'ngx.say(dump(ngx.resp.get_headers()))')),
 ("resp headers with content_type", lua(DUMP + 'ngx.header.content_type = "text/x" ngx.header.content_length = 30 ngx.say(dump(ngx.resp.get_headers()))')),
 ("resp headers max", lua(DUMP + 'ngx.header["X-A"] = "1" ngx.header["X-B"] = "2" local h, e = ngx.resp.get_headers(1) ngx.say(dump(h), " ", tostring(e))')),
 ("resp headers raw", lua(DUMP + 'ngx.header["X-Aa"] = {"1", "2"} ngx.say(dump(ngx.resp.get_headers(0, true)))')),
 ("resp headers max with fields", lua(DUMP + 'ngx.header.content_type = "a/b" ngx.header.content_length = 5 ngx.header["X-A"] = "1" ngx.header["X-B"] = "2" local h, e = ngx.resp.get_headers(2) ngx.print(dump(h), " ", tostring(e))')),
 ("resp headers max under fields", lua(DUMP + 'ngx.header.content_type = "a/b" ngx.header["X-A"] = "1" ngx.header["X-B"] = "2" local h, e = ngx.resp.get_headers(1) ngx.say(dump(h), " ", tostring(e))')),
 ("resp headers string max", lua(DUMP + 'ngx.header["X-A"] = "1" ngx.header["X-B"] = "2" local h, e = ngx.resp.get_headers("1") ngx.say(dump(h), " ", tostring(e))')),
 ("resp headers float and negative max", lua(DUMP + 'ngx.header["X-A"] = "1" ngx.header["X-B"] = "2" local h, e = ngx.resp.get_headers(1.7) local g, f = ngx.resp.get_headers(-1) ngx.say(dump(h), " ", tostring(e), " ", dump(g), " ", tostring(f))')),
 ("resp headers bool max", lua('ngx.say(pcall(ngx.resp.get_headers, true))')),
 ("resp headers bad max", lua('ngx.say(pcall(ngx.resp.get_headers, "x"))')),
 ("resp headers lookups", lua('ngx.header["X-Aa"] = "1" local h = ngx.resp.get_headers() ngx.say(h.X_Aa, h["X-AA"])')),
 ("resp headers in header_filter", 'header_filter_by_lua_block { local k = {} for n, v in pairs(ngx.resp.get_headers()) do k[#k+1] = n .. "=" .. tostring(v) end table.sort(k) ngx.header["X-All"] = table.concat(k, ";") } add_header X-Add a; expires 1h; return 200 "x\\n";'),
 ("resp headers after say", lua(DUMP + 'ngx.say("x") ngx.flush(true) ngx.say(dump(ngx.resp.get_headers()))')),
 # -- method, version, raw_header, start_time, is_internal ---------------------------------
 ("get_method names", lua('ngx.say(ngx.req.get_method())'), Req("PATCH", "/")),
 ("set_method all constants", lua('local out = {} for _, m in ipairs({ngx.HTTP_GET, ngx.HTTP_POST, ngx.HTTP_PUT}) do ngx.req.set_method(m) out[#out+1] = ngx.req.get_method() end ngx.say(table.concat(out, " "), " ", ngx.var.request_method)')),
 ("set_method zero", lua('ngx.say(pcall(ngx.req.set_method, 0))')),
 ("set_method nil", lua('ngx.say(pcall(ngx.req.set_method))')),
 ("set_method float", lua('ngx.say(pcall(ngx.req.set_method, 2.5))')),
 ("set_method combo", lua('ngx.say(pcall(ngx.req.set_method, ngx.HTTP_GET + ngx.HTTP_POST))')),
 ("set_method in header_filter applies", 'header_filter_by_lua_block { ngx.req.set_method(ngx.HTTP_PUT) ngx.header["X-M"] = ngx.req.get_method() } return 200 "x\\n";'),
 ("set_method in log", 'log_by_lua_block { ngx.req.set_method(ngx.HTTP_POST) ngx.log(ngx.ERR, "m ", ngx.req.get_method(), " ", select(2, pcall(ngx.req.set_method, 999))) } return 200 "x\\n";'),
 ("set_method in body_filter", 'body_filter_by_lua_block { local ok, e = pcall(ngx.req.set_method, ngx.HTTP_POST) if ngx.arg[1] ~= "" then ngx.arg[1] = tostring(ok) .. ngx.req.get_method() .. "\\n" end } return 200 "x\\n";'),
 ("set_method in header_filter", 'header_filter_by_lua_block { ngx.header["X-E"] = select(2, pcall(ngx.req.set_method, ngx.HTTP_POST)) } return 200 "x\\n";'),
 ("method constants", lua('ngx.say(ngx.HTTP_GET, " ", ngx.HTTP_HEAD, " ", ngx.HTTP_POST, " ", ngx.HTTP_PUT, " ", ngx.HTTP_DELETE, " ", ngx.HTTP_MKCOL, " ", ngx.HTTP_COPY, " ", ngx.HTTP_MOVE, " ", ngx.HTTP_OPTIONS, " ", ngx.HTTP_PROPFIND, " ", ngx.HTTP_PROPPATCH, " ", ngx.HTTP_LOCK, " ", ngx.HTTP_UNLOCK, " ", ngx.HTTP_PATCH, " ", ngx.HTTP_TRACE)')),
 ("http_version 1.1", lua('ngx.say(ngx.req.http_version(), " ", type(ngx.req.http_version()))')),
 ("raw_header bool arg", lua('ngx.print(ngx.req.raw_header(false))'), Req("GET", "/", H + [("X", "y")])),
 ("raw_header in subrequest", lua('ngx.print(ngx.location.capture("/rawsub").body)'), Req("GET", "/", H + [("X", "y")])),
 ("rawsub", lua('ngx.print(ngx.req.raw_header(true))')),
 ("raw_header in body_filter", 'body_filter_by_lua_block { if ngx.arg[1] ~= "" then ngx.arg[1] = ngx.req.raw_header(true) end } return 200 "x\\n";', Req("GET", "/", H + [("X", "y")])),
 ("raw_header in set_by_lua", 'set_by_lua_block $m { return #ngx.req.raw_header() } return 200 "$m\\n";'),
 ("raw_header in header_filter", 'header_filter_by_lua_block { ngx.header["X-E"] = select(2, pcall(ngx.req.raw_header)) } return 200 "x\\n";'),
 ("start_time bounds", lua('local s = ngx.req.start_time() ngx.say(s <= ngx.now(), " ", ngx.now() - s < 5, " ", s * 1000 % 1 == 0)')),
 ("is_internal main", lua('ngx.say(tostring(ngx.req.is_internal()))')),
 ("is_internal error_page", 'error_page 404 = /isint; return 404;'),
 ("isint", lua('ngx.say(tostring(ngx.req.is_internal()), " ", ngx.status)')),
 # -- ngx.status --------------------------------------------------------------------------
 ("status read initial", lua('ngx.say(ngx.status)')),
 ("status read in rewrite", 'rewrite_by_lua_block { ngx.ctx.s = ngx.status } content_by_lua_block { ngx.say(ngx.ctx.s, " ", ngx.status) }'),
 ("status set after sent", lua('ngx.say("x") ngx.status = 404 ngx.say(ngx.status)')),
 ("status set after flush", lua('ngx.say("x") ngx.flush(true) ngx.status = 404 ngx.say(ngx.status)')),
 ("status 600", lua('ngx.status = 600 ngx.say("x")')),
 ("status table", lua('ngx.say(pcall(function() ngx.status = {} end))')),
 ("status read after exit in log", 'log_by_lua_block { ngx.log(ngx.ERR, "st ", ngx.status) } content_by_lua_block { ngx.status = 202 ngx.say("x") }'),
 # a Last-Modified set from Lua is nginx's last_modified_time too: 304s (which drop
 # Content-Encoding), none for a bad date, a 404 or once cleared
 ("last-modified 304", lua('ngx.header["Last-Modified"] = ngx.http_time(1000) ngx.header["Content-Encoding"] = "br" ngx.say("x")'), Req("GET", "/", H + [("If-Modified-Since", IMS)])),
 ("last-modified older", lua(LM + 'ngx.say("x")'), Req("GET", "/", H + [("If-Modified-Since", "Thu, 01 Jan 1970 00:16:39 GMT")])),
 ("last-modified bad", lua('ngx.header["Last-Modified"] = "garbage" ngx.say("x")'), Req("GET", "/", H + [("If-Modified-Since", "garbage")])),
 ("last-modified 404", lua('ngx.status = 404 ' + LM + 'ngx.say("x")'), Req("GET", "/", H + [("If-Modified-Since", IMS)])),
 ("last-modified cleared", lua(LM + 'ngx.header["Last-Modified"] = nil ngx.say("x")'), Req("GET", "/", H + [("If-Modified-Since", IMS)])),
 ("etag if-none-match", lua(LM + 'ngx.header["ETag"] = [["abc"]] ngx.say("x")'), Req("GET", "/", H + [("If-None-Match", '"abc"')])),
 # ngx_lua's headers_set goes with its context: after an internal redirect the new
 # location's first output clears a Content-Length set before (its line too)
 ("content-length before exec", lua('ngx.header["Content-Length"] = 3 ngx.exec("/hello")')),
 ("content-length before error_page", 'error_page 404 /hello; content_by_lua_block { '
                                      'ngx.header["Content-Length"] = 3 ngx.exit(404) }'),
 ("content-length from rewrite", 'rewrite_by_lua_block { ngx.header["Content-Length"] = 3 } '
                                 'content_by_lua_block { ngx.say("hello world") }'),
 ("hello", lua('ngx.say("hello world")')),
]

CASES = point(CASES, {"/hsub": "hsub", "/rawsub": "rawsub", "/isint": "isint",
                      "/hello": "hello"})

HTTP = """
error_log logs/error.log info;
server {
    listen 127.0.0.1:{port1};
    location /up/echo { content_by_lua_block { ngx.print(ngx.req.raw_header()) } }
}
"""


def _conf() -> str:
    return build_conf(CASES, http_extra=HTTP)


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(_conf(), extra_ports=1) as p:
        mark_logs(p)
        yield p


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    assert_case_as_openresty(pair, CASES, index)
