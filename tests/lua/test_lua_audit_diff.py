"""ngx_lua API details against real OpenResty (audit round): ngx.req.* (headers in any
case and repeated, set_header/clear_header and what $http_*, raw_header and subrequests
see, URI and post args, the body APIs, methods, set_uri checks), ngx.header / ngx.resp
(escaping, empty values, Content-Length), ngx.status, ngx.exit codes, ngx.exec and
ngx.redirect argument handling, ngx.var names and values, ngx.get_phase, capture options,
set_by_lua results, ngx.arg in filters, the log phase, timers, init_by_lua with a module
file, semaphores and shared dicts. Each case compares the response and the error-log
lines it writes (the prefixes of the two servers spelled {prefix})."""

from __future__ import annotations

import pytest

from tests.differential import Pair, Req
from tests.lua.cases import assert_case_as_openresty, build_conf, lua, mark_logs, point
from tests.oracle import requires_nginx

H = [("Host", "localhost")]
FORM = H + [("Content-Type", "application/x-www-form-urlencoded")]
SK = ('local function keys(t) local k = {} for n in pairs(t) do k[#k+1] = n end '
      'table.sort(k) return table.concat(k, ",") end ')
PH = 'ngx.log(ngx.ERR, "phase ", ngx.get_phase())'
MANY = "?" + "&".join(f"k{i}=1" for i in range(120))

CASES = [
 ("get_headers mixed case repeats", lua(SK + 'local h = ngx.req.get_headers() ngx.say(keys(h), " ", type(h.foo), " ", h.foo[1], h.foo[2])'), Req("GET","/",H+[("Foo","a"),("foo","b")])),
 ("get_headers raw repeats", lua(SK + 'local h = ngx.req.get_headers(0, true) ngx.say(keys(h))'), Req("GET","/",H+[("Foo","a"),("foo","b"),("X-Y","1")])),
 ("get_headers underscore lookup", lua('local h = ngx.req.get_headers() ngx.say(h.X_FOO, " ", h["X-FOO"], " ", tostring(h.x_foo))'), Req("GET","/",H+[("X-Foo","v")])),
 ("get_headers raw no metatable", lua('local h = ngx.req.get_headers(0, true) ngx.say(tostring(h.x_foo), " ", tostring(h["x-foo"]), " ", tostring(getmetatable(h)))'), Req("GET","/",H+[("X-Foo","v")])),
 ("get_headers truncated 1", lua(SK + 'local h, e = ngx.req.get_headers(1) ngx.say(keys(h), " ", tostring(e))'), Req("GET","/",H+[("A","1")])),
 ("get_headers bad max", lua('ngx.say(pcall(ngx.req.get_headers, "x"))')),
 ("get_headers empty value", lua('local h = ngx.req.get_headers() ngx.say("[", h.e, "]")'), Req("GET","/",H+[("E","")])),
 ("set_header table", lua('ngx.req.set_header("X-T", {"a", "b"}) local h = ngx.req.get_headers() ngx.say(type(h["x-t"]), " ", ngx.var.http_x_t)')),
 ("set_header empty string", lua('ngx.req.set_header("X-E", "") local h = ngx.req.get_headers() ngx.say(tostring(h["x-e"]), " ", tostring(ngx.var.http_x_e))'), Req("GET","/",H+[("X-E","orig")])),
 ("set_header nil clears", lua('ngx.req.set_header("X-E", nil) ngx.say(tostring(ngx.req.get_headers()["x-e"]))'), Req("GET","/",H+[("X-E","orig")])),
 ("set_header number", lua('ngx.req.set_header("X-N", 12) ngx.say(ngx.var.http_x_n, " ", type(ngx.req.get_headers()["x-n"]))')),
 ("set_header bool", lua('ngx.say(pcall(ngx.req.set_header, "X-B", true))')),
 ("set_header replaces all", lua('ngx.req.set_header("X", "n") local h = ngx.req.get_headers() ngx.say(type(h.x), " ", tostring(h.x))'), Req("GET","/",H+[("X","1"),("X","2")])),
 ("set_header user-agent var", lua('ngx.req.set_header("User-Agent", "ua2") ngx.say(ngx.var.http_user_agent)'), Req("GET","/",H+[("User-Agent","ua1")])),
 ("clear_header user-agent var", lua('ngx.req.clear_header("User-Agent") ngx.say(tostring(ngx.var.http_user_agent))'), Req("GET","/",H+[("User-Agent","ua1")])),
 ("set_header cookie var", lua('ngx.req.set_header("Cookie", "a=9") ngx.say(ngx.var.cookie_a, " ", ngx.var.http_cookie)'), Req("GET","/",H+[("Cookie","a=1")])),
 ("set_header seen by capture", lua('ngx.req.set_header("X-P", "parent") local r = ngx.location.capture("/hdrsub") ngx.print(r.body)')),
 ("hdrsub", lua('ngx.say("sub sees ", tostring(ngx.var.http_x_p), " ", tostring(ngx.req.get_headers()["x-p"]))')),
 ("set_header bad name", lua('ngx.say(pcall(ngx.req.set_header, nil, "x"))')),
 ("clear_header twice and raw_header", lua('ngx.req.clear_header("X-A") ngx.req.clear_header("X-A") ngx.print(ngx.req.raw_header())'), Req("GET","/",H+[("X-A","1")])),
 ("set_uri_args booleans", lua('ngx.req.set_uri_args({a = true, b = false}) ngx.say(ngx.var.args)')),
 ("set_uri_args array", lua('ngx.req.set_uri_args({a = {1, 2}}) ngx.say(ngx.var.args, " ", ngx.var.arg_a)')),
 ("set_uri_args escaping", lua('ngx.req.set_uri_args({["a b"] = "c&d=é"}) ngx.say(ngx.var.args)')),
 ("set_uri_args vars", lua('ngx.req.set_uri_args("x=1") ngx.say(ngx.var.is_args, " ", ngx.var.request_uri, " ", ngx.var.arg_x, " ", ngx.var.query_string)'), Req("GET","?old=1")),
 ("set_uri_args empty", lua('ngx.req.set_uri_args("") ngx.say("[", ngx.var.args, "] [", ngx.var.is_args, "]")'), Req("GET","?old=1")),
 ("set_uri_args number", lua('ngx.req.set_uri_args(12) ngx.say(ngx.var.args)')),
 ("set_uri_args bad", lua('ngx.say(pcall(ngx.req.set_uri_args, nil))')),
 ("get_uri_args escaped key", lua(SK + 'local a = ngx.req.get_uri_args() ngx.say(keys(a), " ", a["a b"], " ", a["c+d"] or a["c d"])'), Req("GET","?a%20b=1&c+d=2")),
 ("get_uri_args unlimited", lua('local s = {} local t = ngx.req.get_uri_args(0) local n = 0 for _ in pairs(t) do n = n + 1 end ngx.say(n)'), Req("GET", MANY)),
 ("get_uri_args default 100", lua('local t, e = ngx.req.get_uri_args() local n = 0 for _ in pairs(t) do n = n + 1 end ngx.say(n, " ", tostring(e))'), Req("GET", MANY)),
 ("get_uri_args after var args set", lua('ngx.var.args = "z=5" ngx.say(ngx.req.get_uri_args().z)'), Req("GET","?a=1")),
 ("get_uri_args bad max", lua('ngx.say(pcall(ngx.req.get_uri_args, "x"))')),
 ("get_post_args plus percent", lua('ngx.req.read_body() local a = ngx.req.get_post_args() ngx.say(a.a, "|", a.b, "|", tostring(a.c))'), Req("POST","/",FORM,b"a=x+y%2Bz&b=%zz&c")),
 ("get_post_args max", lua('ngx.req.read_body() local a, e = ngx.req.get_post_args(1) ngx.say(a.a, " ", tostring(a.b), " ", tostring(e))'), Req("POST","/",FORM,b"a=1&b=2")),
 ("get_post_args no body", lua(SK + 'ngx.req.read_body() local a, e = ngx.req.get_post_args() ngx.say("[", keys(a), "] ", tostring(e))')),
 ("get_post_args non-form type", lua('ngx.req.read_body() local a = ngx.req.get_post_args() ngx.say(tostring(a.a))'), Req("POST","/",H+[("Content-Type","text/plain")],b"a=1")),
 ("get_post_args big body in file", lua('ngx.req.read_body() local a, e = ngx.req.get_post_args() ngx.say(tostring(a), " ", tostring(e))'), Req("POST","/",FORM,b"a=" + b"x" * 20000)),
 ("get_body_data GET", lua('ngx.req.read_body() ngx.say(tostring(ngx.req.get_body_data()), " ", tostring(ngx.req.get_body_file()))')),
 ("discard_body then data", lua('ngx.req.discard_body() ngx.say(tostring(ngx.req.get_body_data()), " ", tostring(ngx.var.request_body))'), Req("POST","/",H,b"abc")),
 ("read_body twice", lua('ngx.req.read_body() ngx.req.read_body() ngx.say(ngx.req.get_body_data())'), Req("POST","/",H,b"abc")),
 ("set_body_data", lua('ngx.req.read_body() ngx.req.set_body_data("new body") ngx.say(ngx.req.get_body_data(), " ", ngx.var.content_length, " ", ngx.req.get_headers()["content-length"], " ", ngx.var.request_body)'), Req("POST","/",H,b"abc")),
 ("set_body_data unread", lua('ngx.say(pcall(ngx.req.set_body_data, "x"))'), Req("POST","/",H,b"abc")),
 ("init append finish", lua('ngx.req.read_body() ngx.req.init_body() ngx.req.append_body("ab") ngx.req.append_body("cd") ngx.req.finish_body() ngx.say(tostring(ngx.req.get_body_data()), " ", ngx.var.content_length)'), Req("POST","/",H,b"xyz")),
 ("append without init", lua('ngx.req.read_body() ngx.say(pcall(ngx.req.append_body, "x"))'), Req("POST","/",H,b"xyz")),
 ("set_body_data forwarded to capture", lua('ngx.req.read_body() ngx.req.set_body_data("fwd") local r = ngx.location.capture("/bodysub", {method = ngx.HTTP_POST}) ngx.print(r.body)'), Req("POST","/",H,b"orig")),
 ("bodysub", lua('ngx.req.read_body() ngx.say("sub body ", tostring(ngx.req.get_body_data()), " ", tostring(ngx.var.content_length))')),
 ("get_method HEAD", lua('ngx.header["X-M"] = ngx.req.get_method()'), Req("HEAD","/")),
 ("set_method bad", lua('ngx.say(pcall(ngx.req.set_method, 12345))')),
 ("set_method string", lua('ngx.say(pcall(ngx.req.set_method, "POST"))')),
 ("set_method all", lua('local out = {} for _, m in ipairs({ngx.HTTP_HEAD, ngx.HTTP_DELETE, ngx.HTTP_OPTIONS, ngx.HTTP_MKCOL, ngx.HTTP_COPY, ngx.HTTP_MOVE, ngx.HTTP_PROPFIND, ngx.HTTP_PROPPATCH, ngx.HTTP_LOCK, ngx.HTTP_UNLOCK, ngx.HTTP_PATCH, ngx.HTTP_TRACE}) do ngx.req.set_method(m) out[#out+1] = ngx.req.get_method() end ngx.say(table.concat(out, " "))')),
 ("http_version 1.0", lua('ngx.say(ngx.req.http_version())'), Req("GET","/",H,version="HTTP/1.0")),
 ("raw_header no request line", lua('ngx.print(ngx.req.raw_header(true))'), Req("GET","/",H+[("X-R","1")])),
 ("raw_header http10", lua('ngx.print(ngx.req.raw_header())'), Req("GET","/?a=1",H,version="HTTP/1.0")),
 ("set_uri with question mark", lua('ngx.req.set_uri("/a?b=1") ngx.say(ngx.var.uri, " ", tostring(ngx.var.args))')),
 ("set_uri empty", lua('ngx.say(pcall(ngx.req.set_uri, ""))')),
 ("set_uri bad arg", lua('ngx.say(pcall(ngx.req.set_uri, nil))')),
 ("set_uri binary", lua('ngx.req.set_uri("/a b\\n") ngx.say(#ngx.var.uri)')),
 ("is_internal after exec", 'rewrite_by_lua_block { if not ngx.ctx.x and ngx.var.uri ~= "/intl" then ngx.exec("/intl") end } return 200;'),
 ("intl", lua('ngx.say(tostring(ngx.req.is_internal()), " ", ngx.var.uri)')),
 ("start_time type", lua('ngx.say(type(ngx.req.start_time()))')),
 ("set_uri unsafe msg", lua('local ok, e = pcall(ngx.req.set_uri, "/a\\1b\\127\\n") ngx.say(e) ngx.log(ngx.ERR, "x\\ny")')),
 ("set_uri unsafe msg2", lua('local ok, e = pcall(ngx.req.set_uri, "/a\\t\\255\\"\\\\\\31 ") ngx.say(e)')),
 ("set_uri binary ok", lua('ngx.req.set_uri("/a\\nb", false, true) ngx.say(#ngx.var.uri)')),
 ("error with newline", lua('error("a\\nb")')),
 ("header empty string", lua('ngx.header["X-E"] = "" ngx.say(tostring(ngx.header["X-E"]))')),
 ("header empty table", lua('ngx.header["X-E"] = "1" ngx.header["X-E"] = {} ngx.say(tostring(ngx.header["X-E"]))')),
 ("header boolean", lua('ngx.header["X-B"] = true ngx.say(tostring(ngx.header["X-B"]))')),
 ("header number", lua('ngx.header["X-N"] = 1.5 ngx.say(ngx.header["X-N"])')),
 ("header table single", lua('ngx.header["X-T"] = {"only"} ngx.say(type(ngx.header["X-T"]))')),
 ("set-cookie table add", lua('ngx.header["Set-Cookie"] = "a=1" local c = ngx.header["Set-Cookie"] ngx.header["Set-Cookie"] = {c, "b=2"} ngx.say("ok")')),
 ("cache-control multi", lua('ngx.header["Cache-Control"] = {"no-cache", "no-store"} ngx.say("ok")')),
 ("content_length number read", lua('ngx.header.content_length = 2 ngx.say(type(ngx.header.content_length), ngx.header["Content-Length"])')),
 ("content_type empty", lua('ngx.header.content_type = "" ngx.say("x")')),
 ("content_type read default", lua('ngx.say(tostring(ngx.header.content_type))')),
 ("server header override", lua('ngx.header.Server = "mine" ngx.say("x")')),
 ("date header override", lua('ngx.header.Date = "yesterday" ngx.say(ngx.header.Date)')),
 ("header case kept", lua('ngx.header["x-lower"] = "1" ngx.header["X-UPPER"] = "2" ngx.say("ok")')),
 ("header set twice diff case", lua('ngx.header["X-A"] = "1" ngx.header["x-a"] = "2" ngx.say("ok")')),
 ("header non-string key", lua('ngx.header[12] = "v" ngx.say(tostring(ngx.header[12]))')),
 ("header value with newline", lua('ngx.header["X-NL"] = "a\\nb" ngx.say("ok")')),
 ("header name with space", lua('ngx.header["X Y"] = "v" ngx.say("ok")')),
 ("resp get_headers multi", lua(SK + 'ngx.header["X-A"] = {"1","2"} ngx.header.X_B = "3" local h = ngx.resp.get_headers() ngx.say(keys(h), " ", h.x_b)')),
 ("resp get_headers raw", lua(SK + 'ngx.header["X-A"] = "1" local h = ngx.resp.get_headers(0, true) ngx.say(keys(h))')),
 ("status string", lua('ngx.status = "201" ngx.say(ngx.status)')),
 ("status weird", lua('ngx.status = 299 ngx.say(ngx.status)')),
 ("status 1000", lua('ngx.say(pcall(function() ngx.status = 1000 end))')),
 ("status nil", lua('ngx.say(pcall(function() ngx.status = nil end)) ngx.say(ngx.status)')),
 ("status float", lua('ngx.status = 201.7 ngx.say(ngx.status)')),
 # below 200 the chunked filter stands aside; 101 has its reason and "Connection: upgrade"
 ("status 99 not chunked", lua('ngx.status = 99 ngx.say("x")')),
 ("status 101", lua('ngx.status = 101 ngx.say("x")')),
 ("status 150 not chunked", lua('ngx.status = 150 ngx.say("x")')),
 ("exit 444 rewrite", 'rewrite_by_lua_block { ngx.exit(444) } return 200;'),
 ("exit 499", lua('ngx.exit(499)')),
 ("exit 1", lua('ngx.exit(1)')),
 ("exit -5", lua('ngx.exit(-5)')),
 ("exit declined", lua('ngx.exit(ngx.DECLINED)')),
 ("exit ngx.OK no output", lua('ngx.exit(ngx.OK)')),
 ("exit 200 in rewrite no output", 'rewrite_by_lua_block { ngx.exit(200) } return 201 "r\\n";'),
 ("exit ngx.OK in rewrite", 'rewrite_by_lua_block { ngx.exit(ngx.OK) } return 201 "r\\n";'),
 ("exit in header filter OK", 'header_filter_by_lua_block { ngx.exit(ngx.OK) } return 200 "x\\n";'),
 ("redirect 300", lua('ngx.redirect("/x", 300)')),
 ("redirect 304", lua('ngx.redirect("/x", 304)')),
 ("redirect 303", lua('ngx.redirect("/x", 303)')),
 ("redirect relative no slash", lua('ngx.redirect("foo/bar")')),
 ("redirect full url", lua('ngx.redirect("https://example.com/a?b")')),
 ("redirect crlf", lua('ngx.redirect("/a\\r\\nX-Evil: 1")')),
 ("redirect space", lua('ngx.redirect("/a b")')),
 ("redirect empty", lua('ngx.redirect("")')),
 ("redirect number", lua('ngx.redirect(12)')),
 ("redirect string status", lua('ngx.redirect("/x", "301")')),
 ("redirect in rewrite", 'rewrite_by_lua_block { ngx.redirect("/r", 301) } return 200;'),
 ("redirect absolute_redirect off", lua('ngx.redirect("/x")', 'absolute_redirect off;')),
 ("exec query in uri", lua('ngx.exec("/exectarget?a=1")')),
 ("exec query and args", lua('ngx.exec("/exectarget?a=1", "b=2")')),
 ("exec args table bools", lua('ngx.exec("/exectarget", {c = {1, true, false, "x y"}})')),
 ("exec args number", lua('ngx.exec("/exectarget", 5)')),
 ("exec args bad", lua('ngx.exec("/exectarget", true)')),
 ("exec named with args", lua('ngx.exec("@named", "a=1")')),
 ("exec empty", lua('ngx.exec("")')),
 ("exec unsafe", lua('ngx.exec("/a\\nb")')),
 ("exec with encoded", lua('ngx.exec("/exectarget%20x")')),
 ("exec missing named", lua('ngx.exec("@nope")')),
 ("exec in access", 'access_by_lua_block { ngx.exec("/exectarget", "from=access") } return 200;'),
 ("exec keeps method", lua('ngx.exec("/exectarget")'), Req("POST","/",H,b"x")),
 ("exectarget", lua('ngx.say(ngx.var.uri, " [", tostring(ngx.var.args), "] ", ngx.req.get_method(), " ", tostring(ngx.req.is_internal()))')),
 ("exit 100", lua('ngx.exit(100)')),
 ("exit 1 in rewrite", 'rewrite_by_lua_block { ngx.exit(1) } return 200 "r\\n";'),
 ("exit declined in rewrite", 'rewrite_by_lua_block { ngx.exit(ngx.DECLINED) } return 200 "r\\n";'),
 ("exit declined in access", 'access_by_lua_block { ngx.exit(ngx.DECLINED) } return 200 "r\\n";'),
 ("exit float", lua('ngx.exit(404.9)')),
 ("exit string pcall", lua('ngx.say(pcall(ngx.exit, "404"))')),
 ("exec dotdot", lua('ngx.say(pcall(ngx.exec, "/a/../b"))')),
 ("exec dotdot end", lua('ngx.say(pcall(ngx.exec, "/a/.."))')),
 ("exec leading dotdot", lua('ngx.say(pcall(ngx.exec, "../a"))')),
 ("exec encoded dotdot", lua('ngx.say(pcall(ngx.exec, "/a/%2e%2e/b"))')),
 ("exec encoded question", lua('ngx.exec("/exectarget%3Fx=1")')),
 ("exec no args", lua('ngx.say(pcall(ngx.exec))')),
 ("exec three args", lua('ngx.say(pcall(ngx.exec, "/a", "b", "c"))')),
 ("exec table uri", lua('ngx.say(pcall(ngx.exec, {}))')),
 ("exec empty args", lua('ngx.exec("/exectarget", "")')),
 ("exec number uri", lua('ngx.say(pcall(ngx.exec, 12))')),
 ("redirect nil status", lua('ngx.say(pcall(ngx.redirect, "/x", nil))')),
 ("redirect bad status string", lua('ngx.say(pcall(ngx.redirect, "/x", "abc"))')),
 ("redirect no args", lua('ngx.say(pcall(ngx.redirect))')),
 ("redirect float", lua('ngx.redirect("/x", 301.5)')),
 ("status nil pcall", lua('ngx.say(pcall(function() ngx.status = "abc" end))')),
 ("var unknown set", lua('ngx.say(pcall(function() ngx.var.nope = "1" end))')),
 ("var builtin set", lua('ngx.say(pcall(function() ngx.var.remote_addr = "1" end))')),
 ("var bad value", lua('ngx.say(pcall(function() ngx.var.x = true end))', 'set $x "";')),
 ("var set nil", lua('ngx.var.x = nil ngx.say("[", tostring(ngx.var.x), "]")', 'set $x "a";')),
 ("var set number", lua('ngx.var.x = 12.5 ngx.say(ngx.var.x)', 'set $x "a";')),
 ("var uppercase", lua('ngx.say(ngx.var.URI, " ", ngx.var.Request_Method)')),
 ("var http case", lua('ngx.say(ngx.var.http_X_Foo, " ", ngx.var.HTTP_X_FOO)'), Req("GET","/",H+[("X-Foo","v")])),
 ("var arg case", lua('ngx.say(tostring(ngx.var.arg_A), " ", tostring(ngx.var.arg_a))'), Req("GET","?A=1")),
 ("var cookie case", lua('ngx.say(tostring(ngx.var.cookie_SID), " ", tostring(ngx.var.cookie_sid))'), Req("GET","/",H+[("Cookie","SID=1")])),
 ("var index 0 no regex", lua('ngx.say(tostring(ngx.var[0]), " ", tostring(ngx.var[1]))')),
 ("var limit_rate", lua('ngx.var.limit_rate = 1000 ngx.say(ngx.var.limit_rate)')),
 ("var args nil", lua('ngx.var.args = nil ngx.say("[", tostring(ngx.var.args), "] ", ngx.var.is_args)'), Req("GET","?a=1")),
 ("var request_uri", lua('ngx.say(pcall(function() ngx.var.request_uri = "/x" end))')),
 ("var table key", lua('ngx.say(pcall(function() return ngx.var[{}] end))')),
 ("var float key", lua('ngx.say(tostring(ngx.var[1.5]))')),
 ("var binary_remote_addr", lua('ngx.say(#ngx.var.binary_remote_addr)')),
 ("var content_length none", lua('ngx.say(tostring(ngx.var.content_length), " ", tostring(ngx.var.content_type))')),
 ("var captures named", "        location ~ ^/c38/(?<word>[a-z]+)$ { content_by_lua_block { ngx.say(ngx.var.word, ngx.var[1], tostring(ngx.var[2])) } }\n" + lua('ngx.say("p")'), Req("GET","/abc")),
 ("phase rewrite access content", 'rewrite_by_lua_block { ' + PH + ' } access_by_lua_block { ' + PH + ' } content_by_lua_block { ' + PH + ' ngx.say("ok") }'),
 ("phase filters log", 'header_filter_by_lua_block { ' + PH + ' } body_filter_by_lua_block { ' + PH + ' } log_by_lua_block { ' + PH + ' } return 200 "x\\n";'),
 ("phase set", 'set_by_lua_block $p { return ngx.get_phase() } return 200 "$p\\n";'),
 ("phase timer", lua('ngx.timer.at(0, function() ngx.log(ngx.ERR, "timer phase ", ngx.get_phase()) end) ngx.sleep(0.02) ngx.say("ok")')),
 ("is_subrequest in sub", lua('local r = ngx.location.capture("/subinfo") ngx.print(r.body)')),
 ("subinfo", lua('ngx.say(tostring(ngx.is_subrequest), " ", ngx.var.request_uri, " ", ngx.var.uri, " ", tostring(ngx.var.args), " ", ngx.req.get_method(), " ", tostring(ngx.req.is_internal()))')),
 ("capture HEAD", lua('local r = ngx.location.capture("/subinfo", {method = ngx.HTTP_HEAD}) ngx.say(r.status, " [", r.body, "]")')),
 ("capture DELETE", lua('local r = ngx.location.capture("/subinfo", {method = ngx.HTTP_DELETE}) ngx.print(r.body)')),
 ("capture OPTIONS", lua('local r = ngx.location.capture("/subinfo", {method = ngx.HTTP_OPTIONS}) ngx.print(r.body)')),
 ("capture bad method", lua('ngx.say(pcall(ngx.location.capture, "/subinfo", {method = 12345}))')),
 ("capture args and query", lua('local r = ngx.location.capture("/subinfo?x=1", {args = "y=2"}) ngx.print(r.body)')),
 ("capture args number", lua('local r = ngx.location.capture("/subinfo", {args = 5}) ngx.print(r.body)')),
 ("capture args bad", lua('ngx.say(pcall(ngx.location.capture, "/subinfo", {args = true}))')),
 ("capture body", lua('local r = ngx.location.capture("/subbody", {method = ngx.HTTP_POST, body = "hello"}) ngx.print(r.body)')),
 ("subbody", lua('ngx.req.read_body() ngx.say(ngx.req.get_method(), " ", tostring(ngx.req.get_body_data()), " ", tostring(ngx.var.content_length), " ", tostring(ngx.req.get_headers()["content-length"]))')),
 ("capture forwards parent body", lua('ngx.req.read_body() local r = ngx.location.capture("/subbody", {method = ngx.HTTP_POST}) ngx.print(r.body)'), Req("POST","/",H,b"parentbody")),
 ("capture GET no body forward", lua('ngx.req.read_body() local r = ngx.location.capture("/subbody") ngx.print(r.body)'), Req("POST","/",H,b"parentbody")),
 ("capture always_forward_body", lua('ngx.req.read_body() local r = ngx.location.capture("/subbody", {always_forward_body = true}) ngx.print(r.body)'), Req("POST","/",H,b"parentbody")),
 ("capture bad option", lua('ngx.say(pcall(ngx.location.capture, "/subinfo", {vars = "x"}))')),
 ("capture ctx bad", lua('ngx.say(pcall(ngx.location.capture, "/subinfo", {ctx = "x"}))')),
 ("capture unknown option", lua('local r = ngx.location.capture("/subinfo", {nope = 1}) ngx.say(r.status)')),
 ("capture multi value header", lua('local r = ngx.location.capture("/subhdr") ngx.say(type(r.header["X-M"]), " ", r.header["X-M"][1], " ", r.header["Set-Cookie"][2])')),
 ("subhdr", lua('ngx.header["X-M"] = {"1","2"} ngx.header["Set-Cookie"] = {"a=1","b=2"} ngx.say("h")')),
 ("capture_multi bad", lua('ngx.say(pcall(ngx.location.capture_multi, {}))')),
 ("capture_multi three", lua('local a, b, c = ngx.location.capture_multi({{"/subinfo"}, {"/subinfo", {args = "q=2"}}, {"/nowhere"}}) ngx.say(a.status, b.status, c.status) ngx.print(b.body)')),
 ("capture in rewrite", 'rewrite_by_lua_block { local r = ngx.location.capture("/subinfo") ngx.ctx.b = r.body } content_by_lua_block { ngx.print(ngx.ctx.b) }'),
 ("capture header_filter refused", 'header_filter_by_lua_block { local ok, e = pcall(ngx.location.capture, "/subinfo") ngx.header["X-E"] = e } return 200 "x\\n";'),
 ("capture HEAD return", lua('local r = ngx.location.capture("/subret", {method = ngx.HTTP_HEAD}) ngx.say(r.status, " [", r.body, "]")')),
 ("subret", 'return 200 "ret body\\n";'),
 ("set_by_lua no args", 'set_by_lua_block $n { return select("#", ...) .. " " .. tostring(ngx.arg[1]) } return 200 "$n\\n";'),
 ("set_by_lua returns nil", 'set_by_lua_block $n { return nil } return 200 "[$n]\\n";'),
 ("set_by_lua returns number", 'set_by_lua_block $n { return 1.5 } return 200 "[$n]\\n";'),
 ("set_by_lua returns bool", 'set_by_lua_block $n { return true } return 200 "[$n]\\n";'),
 ("set_by_lua returns table", 'set_by_lua_block $n { return {} } return 200 "[$n]\\n";'),
 ("set_by_lua many args", 'set_by_lua $n \'return #ngx.arg .. ngx.arg[3]\' a b c; return 200 "[$n]\\n";'),
 ("set_by_lua var read", 'set $a "x"; set_by_lua_block $n { return ngx.var.a .. ngx.var.uri } return 200 "[$n]\\n";'),
 ("set_by_lua say refused", 'set_by_lua_block $n { local ok, e = pcall(ngx.say, "x") return e } return 200 "[$n]\\n";'),
 ("body_filter nil arg", 'body_filter_by_lua_block { ngx.arg[1] = nil } return 200 "body\\n";'),
 ("body_filter table arg", 'body_filter_by_lua_block { if ngx.arg[1] ~= "" then ngx.arg[1] = {"a", "b", 1} end } return 200 "body\\n";'),
 ("body_filter number arg", 'body_filter_by_lua_block { if ngx.arg[1] ~= "" then ngx.arg[1] = 42 end } return 200 "body\\n";'),
 ("body_filter bool arg", 'body_filter_by_lua_block { if ngx.arg[1] ~= "" then ngx.arg[1] = true end } return 200 "body\\n";'),
 ("body_filter eof read", 'body_filter_by_lua_block { ngx.arg[1] = ngx.arg[1] .. "[" .. tostring(ngx.arg[2]) .. "]" } content_by_lua_block { ngx.say("a") ngx.say("b") }'),
 ("body_filter eof false", 'body_filter_by_lua_block { ngx.arg[2] = false } return 200 "x\\n";'),
 ("body_filter arg 3", 'body_filter_by_lua_block { local ok, e = pcall(function() ngx.arg[3] = "x" end) if ngx.arg[1] ~= "" then ngx.arg[1] = tostring(e) .. "\\n" end } return 200 "x\\n";'),
 ("body_filter read arg 3", 'body_filter_by_lua_block { if ngx.arg[1] ~= "" then ngx.arg[1] = tostring(ngx.arg[3]) .. "\\n" end } return 200 "x\\n";'),
 ("header_filter status 404 on return", 'header_filter_by_lua_block { ngx.status = 404 } return 200 "x\\n";'),
 ("header_filter content_type", 'header_filter_by_lua_block { ngx.header.content_type = "text/x" } return 200 "x\\n";'),
 ("header_filter read req header", 'header_filter_by_lua_block { ngx.header["X-UA"] = ngx.req.get_headers()["user-agent"] } return 200 "x\\n";', Req("GET","/",H+[("User-Agent","u")])),
 ("header_filter on 404", 'header_filter_by_lua_block { ngx.header["X-S"] = ngx.status } return 404;'),
 ("header_filter var status", 'header_filter_by_lua_block { ngx.header["X-S"] = ngx.var.status } return 201 "x\\n";'),
 ("log phase vars", 'log_by_lua_block { ngx.log(ngx.ERR, "st=", ngx.var.status, " ua=", tostring(ngx.var.upstream_addr), " rt=", type(ngx.var.request_time), " bbs=", ngx.var.body_bytes_sent, " bs=", type(ngx.var.bytes_sent)) } return 200 "hello\\n";'),
 ("log phase status after exit", 'log_by_lua_block { ngx.log(ngx.ERR, "status ", ngx.status) } content_by_lua_block { ngx.exit(403) }'),
 ("log phase headers", 'log_by_lua_block { local h = ngx.resp.get_headers() ngx.log(ngx.ERR, "ct=", h["content-type"], " x=", h["x-a"]) } content_by_lua_block { ngx.header["X-A"] = "1" ngx.say("x") }'),
 ("log phase ctx", 'log_by_lua_block { ngx.log(ngx.ERR, "ctx ", ngx.ctx.v) } content_by_lua_block { ngx.ctx.v = "kept" ngx.say("x") }'),
 ("log phase req body", 'log_by_lua_block { ngx.log(ngx.ERR, "body ", tostring(ngx.req.get_body_data())) } content_by_lua_block { ngx.req.read_body() ngx.say("x") }', Req("POST","/",H,b"pb")),
 ("worker functions", lua('ngx.say(type(ngx.worker.pid()), " ", tostring(ngx.worker.exiting()), " ", ngx.worker.id(), " ", ngx.worker.count())')),
 ("config values", lua('ngx.say(ngx.config.subsystem, " ", ngx.config.nginx_version, " ", ngx.config.ngx_lua_version, " ", tostring(ngx.config.debug), " ", type(ngx.config.prefix()), " ", ngx.config.prefix():sub(-1))')),
 ("config nginx_configure", lua('ngx.say(type(ngx.config.nginx_configure()))')),
 ("timer args", lua('ngx.timer.at(0, function(p, a, b) ngx.log(ngx.ERR, "timer ", tostring(p), " ", a, " ", b) end, "x", 2) ngx.sleep(0.02) ngx.say("ok")')),
 ("timer every args", lua('local n = 0 local ok = ngx.timer.every(0.01, function(p, a) n = n + 1 end, "x") ngx.sleep(0.035) ngx.say(tostring(ok), " ", n >= 2)')),
 ("timer req api refused", lua('ngx.timer.at(0, function() local ok, e = pcall(ngx.req.get_headers) ngx.log(ngx.ERR, "t ", e) end) ngx.sleep(0.02) ngx.say("ok")')),
 ("timer var refused", lua('ngx.timer.at(0, function() local ok, e = pcall(function() return ngx.var.uri end) ngx.log(ngx.ERR, "t ", e) end) ngx.sleep(0.02) ngx.say("ok")')),
 ("init globals", lua('ngx.say(init_value, " ", tostring(mymod.name), " ", mymod.hello("w"))')),
 ("require twice same", lua('local a = require "mymod" local b = require "mymod" ngx.say(a == b, " ", a.counter())')),
 ("require missing", lua('local ok, e = pcall(require, "nope_mod") ngx.say(ok, " ", (e:gsub("\\n.*", "")))')),
 ("package path", lua('ngx.say(package.path:find("lua/%?.lua", 1, true) ~= nil)')),
 ("semaphore post wait", lua('local s = require("ngx.semaphore").new() s:post() ngx.say(s:wait(0), " ", s:count())')),
 ("semaphore bad", lua('local sema = require("ngx.semaphore") ngx.say(pcall(sema.new, -1))')),
 ("shared incr init_ttl", lua('local d = ngx.shared.d d:flush_all() local v, e, f = d:incr("k", 1, 0, 100) ngx.say(v, " ", tostring(e), " ", tostring(f), " ", d:ttl("k") > 0)')),
 ("shared bool flags", lua('local d = ngx.shared.d d:set("b", false, 0, 3) local v, fl = d:get("b") ngx.say(tostring(v), " ", fl)')),
 ("shared get_keys sorted", lua(SK + 'local d = ngx.shared.d d:flush_all() d:set("x", 1) d:set("y", 2) local k = d:get_keys() table.sort(k) ngx.say(table.concat(k, ","))')),
 ("shared list not a number", lua('local d = ngx.shared.d d:flush_all() d:lpush("l", 1) ngx.say(d:incr("l", 1))')),
 ("shared value not list", lua('local d = ngx.shared.d d:flush_all() d:set("s", 1) ngx.say(d:rpush("s", 1))')),
 ("update_time", lua('ngx.update_time() ngx.say(type(ngx.now()))')),
 ("re split", lua('local re = require "ngx.re" local t = re.split("a1b2c", "\\\\d") ngx.say(#t, t[3])')),
 ("re match jo", lua('local m = ngx.re.match("Hello", "h(e)", "ijo") ngx.say(m[0], m[1])')),
 ("re gsub bad regex", lua('local s, n, e = ngx.re.gsub("a", "(", "x") ngx.say(tostring(s), " ", tostring(n), " ", e)')),

 ("set_uri jump in access", 'access_by_lua_block { ngx.req.set_uri("/x", true) } return 200 "no\\n";'),
 ("header_filter set cookie append", 'header_filter_by_lua_block { local c = ngx.header["Set-Cookie"] ngx.header["Set-Cookie"] = {c, "b=2"} } add_header Set-Cookie a=1; return 200 "x\\n";'),
 ("content_length not digits", lua('ngx.say(pcall(function() ngx.header.content_length = "12a" end)) ngx.say(tostring(ngx.header.content_length))')),
 ("exit refused in body filter", 'body_filter_by_lua_block { local ok, e = pcall(ngx.exit, ngx.ERROR) if ngx.arg[1] ~= "" then ngx.arg[1] = tostring(e) .. "\\n" end } return 200 "x\\n";'),
 ("exit refused in log", 'log_by_lua_block { ngx.log(ngx.ERR, select(2, pcall(ngx.exit, 500))) } return 200 "x\\n";'),
 # a missing key is a single nil
 ("shdict get of a missing key", lua('local d = ngx.shared.d ngx.say(select("#", d:get("nope")), " ", '
                                     'select("#", d:get_stale("nope")))')),
 ("shdict get of an expired key", lua('local d = ngx.shared.d d:set("gone", 1, 0.001) ngx.sleep(0.01) '
                                      'ngx.say(select("#", d:get("gone")), " ", select("#", d:get_stale("gone")))')),
]

CASES = point(CASES, {"/hdrsub": "hdrsub", "/bodysub": "bodysub", "/intl": "intl",
                      "/exectarget": "exectarget", "/subinfo": "subinfo",
                      "/subbody": "subbody", "/subhdr": "subhdr", "/subret": "subret"})
# the regex location of "var captures named" takes its case's number
CASES = [(c[0], c[1].replace("location ~ ^/c38/", f"location ~ ^/c{i}/")) + tuple(c[2:])
         for i, c in enumerate(CASES)]

FILES = {"lua/mymod.lua": 'local M = {name = "mymod"} local c = 0 '
                          'function M.hello(x) return "hi " .. x end '
                          'function M.counter() c = c + 1 return c end return M\n'}
HTTP = """
error_log logs/error.log info;
lua_shared_dict d 1m;
lua_package_path "$prefix/lua/?.lua;;";
init_by_lua_block { init_value = "from init" mymod = require "mymod" }
"""
NAMED = ('        location @named { content_by_lua_block { '
         'ngx.say("named ", ngx.var.uri, " ", tostring(ngx.var.args)) } }')
#: A core (not Lua) line the engine does not write yet: nginx's warning when a body
#: goes to a temporary file.
_NOT_LUA = "a client request body is buffered to a temporary file"


def _conf() -> str:
    return build_conf(CASES, http_extra=HTTP, server_extra=NAMED)


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(_conf(), FILES) as p:
        mark_logs(p)
        yield p


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    assert_case_as_openresty(pair, CASES, index, (_NOT_LUA,))
