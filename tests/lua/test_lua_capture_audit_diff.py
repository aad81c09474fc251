"""ngx.location.capture / capture_multi, ngx.exec and ngx.redirect against real OpenResty
(capture audit): every capture option (method with each ngx.HTTP_* constant, body, args
as a string and as a table, vars, copy_all_vars, share_all_vars, ctx,
always_forward_body) and the errors bad ones raise, what the subrequest sees, the result
table (status, body, header, truncated) for ordinary, error_page, redirecting, 404, 444,
internal and proxied-to-a-dead-backend locations, nested and multi captures, captures
from rewrite/access phases; ngx.exec (args, named locations, after output) and
ngx.redirect (statuses, URLs, after headers). Each case compares the response and the
error-log lines it writes."""

from __future__ import annotations

import pytest

from tests.differential import Pair, Req
from tests.lua.cases import assert_case_as_openresty, build_conf, lua, mark_logs, point
from tests.oracle import requires_nginx

H = [("Host", "localhost")]
#: Prints a table's keys and values sorted, with the values' types (pairs order is not
#: comparable; a captured Content-Length is a number).
DUMP = ('local function dump(t) local k = {} for n, v in pairs(t) do '
        'if type(v) == "table" then v = "{" .. table.concat(v, ",") .. "}" '
        'else v = type(v) .. ":" .. tostring(v) end '
        'k[#k+1] = tostring(n) .. "=" .. v end table.sort(k) '
        'return table.concat(k, " ") end ')
#: Prints a capture's whole result.
SHOW = (DUMP + 'local function show(r) ngx.say(r.status, " ", tostring(r.truncated), " [", '
        'r.body, "] ", dump(r.header)) end ')
CAP = SHOW + 'show(ngx.location.capture("/sub"'
ECHO = ('ngx.req.read_body() local h = ngx.req.get_headers() '
        'ngx.say(ngx.req.get_method(), " ", ngx.var.request_method, " [", tostring(ngx.var.args), '
        '"] ", ngx.var.uri, " ", ngx.var.request_uri, " body=", tostring(ngx.req.get_body_data()), '
        '" rb=", tostring(ngx.var.request_body), " cl=", tostring(h["content-length"]), '
        '" ct=", tostring(h["content-type"]), " x=", tostring(h["x-h"]), '
        '" int=", tostring(ngx.req.is_internal()))')
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "MKCOL", "COPY", "MOVE",
           "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE")
POST = Req("POST", "/", H + [("Content-Type", "text/plain"), ("X-H", "1")], b"hello")


def _method_case(names: tuple[str, ...]) -> str:
    calls = " ".join(f'ngx.print(ngx.location.capture("/sub", {{method = ngx.HTTP_{m}}}).status, '
                     f'" ", ngx.location.capture("/sub", {{method = ngx.HTTP_{m}}}).body, "|\\n")'
                     for m in names)
    return lua(calls)


CASES = [
 # -- the subrequest's request --------------------------------------------------------------
 ("sub", lua(ECHO)),
 ("methods 1", _method_case(METHODS[:5])),
 ("methods 2", _method_case(METHODS[5:10])),
 ("methods 3", _method_case(METHODS[10:])),
 ("method bad number", lua('ngx.say(pcall(ngx.location.capture, "/sub", {method = 3}))')),
 ("method zero", lua('ngx.say(pcall(ngx.location.capture, "/sub", {method = 0}))')),
 ("method string", lua('ngx.say(pcall(ngx.location.capture, "/sub", {method = "POST"}))')),
 ("method float", lua('ngx.print(ngx.location.capture("/sub", {method = 8.7}).body)')),
 ("method bool", lua('ngx.say(pcall(ngx.location.capture, "/sub", {method = true}))')),
 ("method bad then capture again", lua('pcall(ngx.location.capture, "/sub", {method = 3}) ngx.print(ngx.location.capture("/sub").body)')),
 ("method HEAD result", lua(CAP + ', {method = ngx.HTTP_HEAD}))')),
 ("body option GET", lua('ngx.print(ngx.location.capture("/sub", {body = "abc"}).body)')),
 ("body option number", lua('ngx.print(ngx.location.capture("/sub", {body = 12, method = ngx.HTTP_PUT}).body)')),
 ("body option empty", lua('ngx.print(ngx.location.capture("/sub", {body = "", method = ngx.HTTP_POST}).body)'), POST),
 ("body option table", lua('ngx.say(pcall(ngx.location.capture, "/sub", {body = {}}))')),
 ("body option bool", lua('ngx.say(pcall(ngx.location.capture, "/sub", {body = true}))')),
 ("parent body GET", lua('ngx.req.read_body() ngx.print(ngx.location.capture("/sub").body)'), POST),
 ("parent body POST", lua('ngx.req.read_body() ngx.print(ngx.location.capture("/sub", {method = ngx.HTTP_POST}).body)'), POST),
 ("parent body PUT unread", lua('ngx.print(ngx.location.capture("/sub", {method = ngx.HTTP_PUT}).body)'), POST),
 ("parent body always_forward", lua('ngx.req.read_body() ngx.print(ngx.location.capture("/sub", {always_forward_body = true}).body)'), POST),
 ("parent body always_forward number", lua('ngx.req.read_body() ngx.print(ngx.location.capture("/sub", {always_forward_body = 0}).body)'), POST),
 ("parent body with option body", lua('ngx.req.read_body() ngx.print(ngx.location.capture("/sub", {method = ngx.HTTP_POST, body = "xy"}).body)'), POST),
 ("need_request_body", lua('ngx.print(ngx.location.capture("/sub", {method = ngx.HTTP_POST}).body)', 'lua_need_request_body on;'), POST),
 ("parent headers", lua('ngx.req.set_header("X-H", "set") ngx.print(ngx.location.capture("/sub").body)'), Req("GET", "/?p=1", H + [("X-H", "orig")])),
 # -- args -----------------------------------------------------------------------------------
 ("args string", lua('ngx.print(ngx.location.capture("/sub", {args = "a=1&b=%20"}).body)')),
 ("args in uri", lua('ngx.print(ngx.location.capture("/sub" .. "?q=1&r").body)')),
 ("args in uri and option", lua('ngx.print(ngx.location.capture("/sub" .. "?q=1", {args = "z=2"}).body)')),
 ("args empty in uri", lua('ngx.print(ngx.location.capture("/sub" .. "?", {args = "z=2"}).body)')),
 ("args number", lua('ngx.print(ngx.location.capture("/sub", {args = 3.5}).body)')),
 ("args table bools", lua('ngx.print(ngx.location.capture("/sub", {args = {t = true}}).body) ngx.print(ngx.location.capture("/sub", {args = {f = false}}).body)')),
 ("args table numbers", lua('ngx.print(ngx.location.capture("/sub", {args = {n = 1.5}}).body)')),
 ("args table repeated", lua('ngx.print(ngx.location.capture("/sub", {args = {k = {"a b", "c&d", 3}}}).body)')),
 ("args table encoded", lua('ngx.print(ngx.location.capture("/sub", {args = {["a b"] = "x/y?z"}}).body)')),
 ("args table empty", lua('ngx.print(ngx.location.capture("/sub", {args = {}}).body)')),
 ("args table bad value", lua('ngx.say(pcall(ngx.location.capture, "/sub", {args = {a = {}}}))')),
 ("args table bad key", lua('ngx.say(pcall(ngx.location.capture, "/sub", {args = {[true] = 1}}))')),
 ("args table numeric key", lua('ngx.say(pcall(ngx.location.capture, "/sub", {args = {"x"}}))')),
 ("args bool", lua('ngx.say(pcall(ngx.location.capture, "/sub", {args = true}))')),
 ("args parent untouched", lua('ngx.location.capture("/sub", {args = "z=1"}) ngx.say(tostring(ngx.var.args))'), Req("GET", "/?p=1")),
 ("uri escaped", lua('ngx.print(ngx.location.capture("/sub" .. "%41?x=%41").body)')),
 ("uri unsafe", lua('ngx.say(pcall(ngx.location.capture, "/../etc"))')),
 ("uri unsafe nul", lua('ngx.say(pcall(ngx.location.capture, "/a\\0b"))')),
 ("uri empty", lua('ngx.say(pcall(ngx.location.capture, ""))')),
 ("uri relative", lua('ngx.say(ngx.location.capture("sub").status)')),
 ("uri number", lua('ngx.say(pcall(ngx.location.capture, 12))')),
 ("uri nil", lua('ngx.say(pcall(ngx.location.capture))')),
 ("uri nil arg", lua('ngx.say(pcall(ngx.location.capture, nil))')),
 ("uri nil with opts", lua('ngx.say(pcall(ngx.location.capture, nil, {}))')),
 ("uri bool direct", lua('ngx.location.capture(true)')),
 ("uri table direct", lua('ngx.location.capture({}, {})')),
 ("opts bad direct", lua('ngx.location.capture("/sub", 1)')),
 ("method bad direct", lua('ngx.location.capture("/sub", {method = "GET"})')),
 ("method negative", lua('ngx.say(pcall(ngx.location.capture, "/sub", {method = -1}))')),
 ("method huge", lua('ngx.say(pcall(ngx.location.capture, "/sub", {method = 2^32 + 2}))')),
 ("unsafe uri direct", lua('ngx.location.capture("/a/../../x")')),
 ("many sequential captures", lua('local n = 0 for i = 1, 60 do n = n + ngx.location.capture("/rettext").status end ngx.say(n)')),
 ("say bad table after output", lua('ngx.say(pcall(function() ngx.say("a", {x = 1}) end)) ngx.say("b")')),
 ("three arguments", lua('ngx.say(pcall(ngx.location.capture, "/sub", {}, 1))')),
 ("opts string", lua('ngx.say(pcall(ngx.location.capture, "/sub", "x"))')),
 ("opts nil", lua('ngx.say(pcall(ngx.location.capture, "/sub", nil))')),
 # -- variables --------------------------------------------------------------------------------
 ("varsub", lua('ngx.say(tostring(ngx.var.pv), " ", tostring(ngx.var.dog)) ngx.var.pv = "child"')),
 ("vars option", lua('ngx.print(ngx.location.capture("/varsub", {vars = {dog = "hi", pv = 3}}).body) ngx.say(ngx.var.pv, " ", tostring(ngx.var.dog))', 'set $dog ""; set $pv parent;')),
 ("vars unknown", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {vars = {nope = "1"}}))', 'set $dog ""; set $pv parent;')),
 ("vars not changeable", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {vars = {uri = "/x"}}))', 'set $dog ""; set $pv parent;')),
 ("vars settable builtin", lua('ngx.print(ngx.location.capture("/sub", {vars = {args = "w=1"}}).body)')),
 ("vars bad key", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {vars = {"x"}}))', 'set $dog ""; set $pv parent;')),
 ("vars bad value", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {vars = {dog = {}}}))', 'set $dog ""; set $pv parent;')),
 ("vars bad type", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {vars = "x"}))', 'set $dog ""; set $pv parent;')),
 ("copy_all_vars", lua('ngx.print(ngx.location.capture("/varsub", {copy_all_vars = true}).body) ngx.say(ngx.var.pv)', 'set $dog d; set $pv parent;')),
 ("share_all_vars", lua('ngx.print(ngx.location.capture("/varsub", {share_all_vars = true}).body) ngx.say(ngx.var.pv)', 'set $dog d; set $pv parent;')),
 ("no vars option", lua('ngx.print(ngx.location.capture("/varsub").body) ngx.say(ngx.var.pv)', 'set $dog d; set $pv parent;')),
 ("share_all_vars false", lua('ngx.print(ngx.location.capture("/varsub", {share_all_vars = false}).body) ngx.say(ngx.var.pv)', 'set $dog d; set $pv parent;')),
 ("share_all_vars bad", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {share_all_vars = 1}))', 'set $dog d; set $pv parent;')),
 ("copy_all_vars bad", lua('ngx.say(pcall(ngx.location.capture, "/varsub", {copy_all_vars = "yes"}))', 'set $dog d; set $pv parent;')),
 # -- ctx ----------------------------------------------------------------------------------------
 ("ctxsub", lua('ngx.say(tostring(ngx.ctx.foo)) ngx.ctx.bar = "fromsub"')),
 ("ctx option", lua('local c = {foo = 1} ngx.ctx.foo = "parent" ngx.print(ngx.location.capture("/ctxsub", {ctx = c}).body) ngx.say(c.bar, " ", ngx.ctx.foo, " ", tostring(ngx.ctx.bar))')),
 ("ctx option parent ctx", lua('ngx.ctx.foo = "p" ngx.print(ngx.location.capture("/ctxsub", {ctx = ngx.ctx}).body) ngx.say(tostring(ngx.ctx.bar))')),
 ("ctx none", lua('ngx.ctx.foo = "p" ngx.print(ngx.location.capture("/ctxsub").body) ngx.say(tostring(ngx.ctx.bar))')),
 ("ctx bad", lua('ngx.say(pcall(ngx.location.capture, "/ctxsub", {ctx = "x"}))')),
 # -- results ---------------------------------------------------------------------------------------
 ("hdrsub", lua('ngx.header["X-M"] = {"a", "b"} ngx.header["Set-Cookie"] = {"c=1", "d=2"} ngx.header.content_type = "text/x" ngx.header["X-One"] = "1" ngx.status = 201 ngx.say("hdr")', 'add_header X-Add added;')),
 ("result headers", lua(SHOW + 'local r = ngx.location.capture("/hdrsub") show(r) ngx.say(tostring(r.header["x-one"]), " ", tostring(r.header.X_One))')),
 ("result static", lua(CAP.replace('"/sub"', '"/static.txt"') + '))')),
 ("result static missing", lua(CAP.replace('"/sub"', '"/nofile.txt"') + '))')),
 ("result return text", lua(CAP.replace('"/sub"', '"/rettext"') + '))')),
 ("rettext", 'return 200 "ret\\n";'),
 ("result content length set", lua(CAP.replace('"/sub"', '"/clsub"') + '))')),
 ("clsub", lua('ngx.header.content_length = 4 ngx.print("abcd")')),
 ("result error_page", lua(CAP.replace('"/sub"', '"/epsub"') + '))')),
 ("epsub", 'error_page 404 /ep404; return 404;'),
 ("ep404", 'return 200 "page\\n";'),
 ("result error_page equals", lua(CAP.replace('"/sub"', '"/epeqsub"') + '))')),
 ("epeqsub", 'error_page 404 =299 /ep404; return 404;'),
 ("result 301", lua(CAP.replace('"/sub"', '"/r301sub"') + '))')),
 ("r301sub", 'return 301 /elsewhere;'),
 ("result 302 full", lua(CAP.replace('"/sub"', '"/r302sub"') + '))')),
 ("r302sub", 'return 302 http://example.com/x;'),
 ("result 404", lua(CAP.replace('"/sub"', '"/nfsub"') + '))')),
 ("nfsub", 'return 404;'),
 ("result 500 lua error", lua(CAP.replace('"/sub"', '"/errsub"') + '))')),
 ("errsub", lua('error("boom")')),
 ("result exit 403", lua(CAP.replace('"/sub"', '"/x403sub"') + '))')),
 ("x403sub", lua('ngx.exit(403)')),
 ("result exit after output", lua(CAP.replace('"/sub"', '"/xoutsub"') + '))')),
 ("xoutsub", lua('ngx.say("part") ngx.exit(503)')),
 ("result exit 204", lua(CAP.replace('"/sub"', '"/x204sub"') + '))')),
 ("x204sub", lua('ngx.exit(204)')),
 ("result 444", lua(CAP.replace('"/sub"', '"/closesub"') + ')) ngx.say("after")')),
 ("closesub", 'return 444;'),
 ("result internal", lua(CAP.replace('"/sub"', '"/intsub"') + '))')),
 ("direct internal", lua('ngx.say("no")')),
 ("result proxy down", lua(CAP.replace('"/sub"', '"/downsub"') + '))')),
 ("downsub", 'proxy_pass http://127.0.0.1:1/;'),
 ("result exec in sub", lua(CAP.replace('"/sub"', '"/execsub"') + '))')),
 ("execsub", lua('ngx.exec("/rettext")')),
 ("result redirect in sub", lua(CAP.replace('"/sub"', '"/redirsub"') + '))')),
 ("redirsub", lua('ngx.redirect("/there", 307)')),
 ("result 304 last-modified", lua(CAP.replace('"/sub"', '"/static.txt"') + ', {args = "x"}))'), Req("GET", "/", H + [("If-Modified-Since", "Fri, 27 Nov 2099 15:12:41 GMT")])),
 ("result HEAD static", lua(CAP.replace('"/sub"', '"/static.txt"') + ', {method = ngx.HTTP_HEAD}))')),
 ("result error_page static", lua(CAP.replace('"/sub"', '"/epstatic"') + '))')),
 ("epstatic", 'error_page 404 /static.txt; return 404;'),
 ("result empty body", lua(CAP.replace('"/sub"', '"/emptysub"') + '))')),
 ("emptysub", lua('ngx.status = 200')),
 ("result type checks", lua('local r = ngx.location.capture("/clsub") ngx.say(type(r.status), type(r.body), type(r.header), type(r.truncated), " ", tostring(getmetatable(r.header)))')),
 # -- nesting, multi, phases --------------------------------------------------------------------
 ("nestsub", lua('local r = ngx.location.capture("/sub") ngx.print("nested:", r.body)')),
 ("nested", lua('ngx.print(ngx.location.capture("/nestsub", {args = "o=1"}).body)')),
 ("recursive", lua('ngx.print(ngx.location.capture(ngx.var.uri).status)')),
 ("multi order", lua('local a, b, c = ngx.location.capture_multi({{"/sub", {args = "n=1"}}, {"/rettext"}, {"/nfsub"}}) ngx.print(a.body, b.body, c.status, "\\n")')),
 ("multi count", lua('ngx.say(select("#", ngx.location.capture_multi({{"/rettext"}, {"/rettext"}})))')),
 ("multi empty", lua('ngx.say(pcall(ngx.location.capture_multi, {}))')),
 ("multi not table", lua('ngx.say(pcall(ngx.location.capture_multi, "x"))')),
 ("multi item not table", lua('ngx.say(pcall(ngx.location.capture_multi, {"/sub"}))')),
 ("multi item empty", lua('ngx.say(pcall(ngx.location.capture_multi, {{}}))')),
 ("multi item three", lua('ngx.say(pcall(ngx.location.capture_multi, {{"/sub", {}, 1}}))')),
 ("multi opts bad", lua('ngx.say(pcall(ngx.location.capture_multi, {{"/sub", 5}, {"/sub"}}))')),
 ("multi uri bad", lua('ngx.say(pcall(ngx.location.capture_multi, {{true}, {"/sub"}}))')),
 ("multi two args", lua('ngx.say(pcall(ngx.location.capture_multi, {{"/sub"}}, 1))')),
 ("multi bad direct", lua('ngx.location.capture_multi({{false}, {"/sub"}})')),
 ("multi not table direct", lua('ngx.location.capture_multi(1)')),
 ("multi second fails", lua('ngx.say(select(2, pcall(ngx.location.capture_multi, {{"/sub", {method = 3}}, {"/sub"}})))')),
 ("multi hole", lua('ngx.say(pcall(ngx.location.capture_multi, {nil, {"/sub"}}))')),
 ("capture in rewrite", 'rewrite_by_lua_block { ngx.ctx.r = ngx.location.capture("/rettext").body } content_by_lua_block { ngx.print("rw:", ngx.ctx.r) }'),
 ("capture in access", 'access_by_lua_block { local r = ngx.location.capture("/nfsub") ngx.header["X-S"] = r.status } return 200 "acc\\n";'),
 ("capture in set_by_lua", 'set_by_lua_block $v { return tostring(pcall(ngx.location.capture, "/rettext")) } return 200 "$v\\n";'),
 ("capture in header_filter", 'header_filter_by_lua_block { ngx.header["X-E"] = select(2, pcall(ngx.location.capture, "/rettext")) } return 200 "x\\n";'),
 ("capture in log", 'log_by_lua_block { ngx.log(ngx.ERR, "log ", select(2, pcall(ngx.location.capture, "/rettext"))) } return 200 "x\\n";'),
 ("capture after output", lua('ngx.say("first") ngx.flush(true) ngx.print(ngx.location.capture("/rettext").body)')),
 ("capture in thread", lua('local t = ngx.thread.spawn(function() return ngx.location.capture("/rettext").body end) ngx.print(select(2, ngx.thread.wait(t)))')),
 ("vars upper name", lua('ngx.print(ngx.location.capture("/varsub", {vars = {DOG = "up"}}).body)', 'set $dog ""; set $pv parent;')),
 ("vars prefix var", lua('ngx.say(select(2, pcall(ngx.location.capture, "/varsub", {vars = {arg_x = "1"}})))', 'set $dog ""; set $pv parent;')),
 ("vars shared nested", lua('ngx.print(ngx.location.capture("/nestsub", {share_all_vars = true}).body)')),
 ("always_forward unread", lua('ngx.print(ngx.location.capture("/sub", {always_forward_body = true}).body)'), POST),
 ("parent HEAD", lua('local r = ngx.location.capture("/sub") ngx.header["X-B"] = #r.body'), Req("HEAD", "/")),
 ("parent HTTP/1.0", lua('ngx.print(ngx.location.capture("/sub").body)'), Req("GET", "/?z=9", H, b"", "HTTP/1.0")),
 ("body option with parent length", lua('ngx.print(ngx.location.capture("/sub", {body = "xyz"}).body)'), POST),
 ("put without body", lua('ngx.print(ngx.location.capture("/sub", {method = ngx.HTTP_PUT}).body)')),
 ("sub status 404 with body", lua(CAP.replace('"/sub"', '"/st404sub"') + '))')),
 ("st404sub", lua('ngx.status = 404 ngx.say("custom")')),
 ("result error_page named", lua(CAP.replace('"/sub"', '"/epnamedsub"') + '))')),
 ("epnamedsub", 'error_page 500 = @named; return 500;'),
 ("multi with failures", lua('local a, b = ngx.location.capture_multi({{"/epsub"}, {"/downsub"}}) ngx.say(a.status, " ", tostring(a.truncated), " ", b.status, " ", tostring(b.truncated))')),
 ("ctx with exec in sub", lua('local c = {foo = "given"} local r = ngx.location.capture("/ctxexecsub", {ctx = c}) ngx.print(r.body) ngx.say(tostring(c.bar))')),
 ("ctxexecsub", lua('ngx.ctx.bar = "before" ngx.exec("/ctxsub")')),
 ("uri args seen", lua('local r = ngx.location.capture("/argsub" .. "?a=1&a=2&b", {args = {c = "x y"}}) ngx.print(r.body)')),
 ("argsub", lua(DUMP + 'ngx.say(dump(ngx.req.get_uri_args()), " ", ngx.var.is_args, " ", ngx.var.arg_a)')),
 # -- ngx.exec -----------------------------------------------------------------------------------
 ("exec args in uri", lua('ngx.exec("/sub" .. "?a=1&b=2")')),
 ("exec args table", lua('ngx.exec("/sub", {b = {"x", 2, true, false}})')),
 ("exec args table bool", lua('ngx.exec("/sub", {c = true})')),
 ("exec args table false", lua('ngx.exec("/sub" .. "?a=1", {d = false})')),
 ("exec args table bad key", lua('ngx.say(pcall(ngx.exec, "/sub", {"x"}))')),
 ("exec args string and uri", lua('ngx.exec("/sub" .. "?a=1", "b=2")')),
 ("exec args number", lua('ngx.exec("/sub", 7)')),
 ("exec args bad", lua('ngx.say(pcall(ngx.exec, "/sub", true))')),
 ("exec escaped", lua('ngx.exec("/s%75b")')),
 ("exec unsafe", lua('ngx.say(pcall(ngx.exec, "/a/../../b"))')),
 ("exec empty", lua('ngx.say(pcall(ngx.exec, ""))')),
 ("exec no args", lua('ngx.say(pcall(ngx.exec))')),
 ("exec named", lua('ngx.exec("@named")')),
 ("exec named with query", lua('ngx.exec("@named?a=1")')),
 ("exec named with args", lua('ngx.exec("@named", "a=1")')),
 ("exec named missing", lua('ngx.exec("@nothere")')),
 ("exec named args table", lua('ngx.exec("@named", {a = 1})')),
 ("exec question only", lua('ngx.exec("/sub" .. "?")')),
 ("exec drops main args", lua('ngx.exec("/sub")'), Req("GET", "/?p=1")),
 ("exec absolute url", lua('ngx.exec("http://example.com/x")')),
 ("exec after output", lua('ngx.say("out") ngx.exec("/sub")')),
 ("exec after flush", lua('ngx.say("out") ngx.flush(true) ngx.say(pcall(ngx.exec, "/sub"))')),
 ("exec after send_headers", lua('ngx.send_headers() ngx.exec("/sub")')),
 ("exec post body", lua('ngx.req.read_body() ngx.exec("/sub")'), POST),
 ("exec in rewrite", 'rewrite_by_lua_block { ngx.exec("/sub", "from=rw") } return 200 "no\\n";'),
 ("exec in access", 'access_by_lua_block { ngx.exec("/rettext") } return 200 "no\\n";'),
 ("exec in header_filter", 'header_filter_by_lua_block { ngx.header["X-E"] = select(2, pcall(ngx.exec, "/sub")) } return 200 "x\\n";'),
 ("exec internal location", lua('ngx.exec("/intsub")')),
 ("exec keeps method", lua('ngx.exec("/sub")'), Req("PUT", "/", H + [("X-H", "p")], b"zz")),
 ("exec ctx reset", 'rewrite_by_lua_block { if ngx.var.uri ~= "/ctxsub" then ngx.ctx.foo = "x" ngx.exec("/ctxsub") end }'),
 ("exec in subrequest", lua(CAP.replace('"/sub"', '"/execsub2"') + '))')),
 ("execsub2", lua('ngx.exec("/sub", "in=sub")')),
 # -- ngx.redirect -----------------------------------------------------------------------------
 ("redirect default", lua('ngx.redirect("/there")')),
 ("redirect absolute", lua('ngx.redirect("http://example.com/a?b=c", 301)')),
 ("redirect 303", lua('ngx.redirect("/x", 303)')),
 ("redirect 307", lua('ngx.redirect("/x", ngx.HTTP_TEMPORARY_REDIRECT)')),
 ("redirect 308", lua('ngx.redirect("/x", 308)')),
 ("redirect refused", lua('for _, s in ipairs({200, 300, 304, 305, 306, 309, 404, 500, -1, 0}) do ngx.say(s, " ", select(2, pcall(ngx.redirect, "/x", s))) end')),
 ("redirect string status", lua('ngx.redirect("/x", "301")')),
 ("redirect float status", lua('ngx.redirect("/x", 301.9)')),
 ("redirect bad status type", lua('ngx.say(pcall(ngx.redirect, "/x", {}))')),
 ("redirect nil status", lua('ngx.say(pcall(ngx.redirect, "/x", nil))')),
 ("redirect no args", lua('ngx.say(pcall(ngx.redirect))')),
 ("redirect three args", lua('ngx.say(pcall(ngx.redirect, "/x", 301, 1))')),
 ("redirect relative", lua('ngx.redirect("there")')),
 ("redirect empty", lua('ngx.redirect("")')),
 ("redirect number uri", lua('ngx.redirect(12)')),
 ("redirect ctl byte", lua('ngx.say(pcall(ngx.redirect, "/a\\nb"))')),
 ("redirect fragment", lua('ngx.redirect("/x?a=1#frag", ngx.HTTP_MOVED_PERMANENTLY)')),
 ("redirect space", lua('ngx.redirect("/a b")')),
 ("redirect utf8", lua('ngx.redirect("/caf\195\169")')),
 ("redirect in subrequest status", lua(CAP.replace('"/sub"', '"/redir308sub"') + '))')),
 ("redir308sub", lua('ngx.redirect("http://example.com/", 308)')),
 ("redirect after output", lua('ngx.say("out") ngx.say(pcall(ngx.redirect, "/x"))')),
 ("redirect after flush", lua('ngx.say("out") ngx.flush(true) ngx.redirect("/x")')),
 ("redirect with header", lua('ngx.header["X-K"] = "kept" ngx.redirect("/x")')),
 ("redirect status set", lua('ngx.status = 404 ngx.redirect("/x", 301)')),
 ("redirect in rewrite", 'rewrite_by_lua_block { ngx.redirect("/rw") } return 200 "no\\n";'),
 ("redirect in access", 'access_by_lua_block { ngx.redirect("/ac", 301) } return 200 "no\\n";'),
 ("redirect in header_filter", 'header_filter_by_lua_block { ngx.header["X-E"] = select(2, pcall(ngx.redirect, "/x")) } return 200 "x\\n";'),
 ("redirect absolute_redirect off", lua('ngx.redirect("/x")', 'absolute_redirect off;')),
 ("redirect HEAD", lua('ngx.redirect("/x")'), Req("HEAD", "/")),
 ("redirect HTTP/1.0", lua('ngx.redirect("/x", 307)'), Req("GET", "/", H, b"", "HTTP/1.0")),
]

CASES = point(CASES, {"/sub": "sub", "/varsub": "varsub", "/ctxsub": "ctxsub",
                      "/hdrsub": "hdrsub", "/rettext": "rettext", "/clsub": "clsub",
                      "/epsub": "epsub", "/epstatic": "epstatic", "/ep404": "ep404", "/epeqsub": "epeqsub",
                      "/r301sub": "r301sub", "/r302sub": "r302sub", "/nfsub": "nfsub",
                      "/errsub": "errsub", "/x403sub": "x403sub", "/xoutsub": "xoutsub",
                      "/x204sub": "x204sub", "/closesub": "closesub",
                      "/intsub": "direct internal", "/downsub": "downsub",
                      "/execsub": "execsub", "/redirsub": "redirsub",
                      "/emptysub": "emptysub", "/nestsub": "nestsub",
                      "/execsub2": "execsub2", "/st404sub": "st404sub",
                      "/epnamedsub": "epnamedsub", "/ctxexecsub": "ctxexecsub",
                      "/argsub": "argsub", "/redir308sub": "redir308sub"})

SERVER = """
        location = /static.txt { root html; }
        location = /nofile.txt { root html; }
        location @named { content_by_lua_block { ngx.say("named ", ngx.var.uri, " [", tostring(ngx.var.args), "]") } }
"""
HTTP = "error_log logs/error.log info;"


def _conf() -> str:
    conf = build_conf(CASES, http_extra=HTTP, server_extra=SERVER)
    # the case named "direct internal" is the internal location the captures reach
    i = [c[0] for c in CASES].index("direct internal")
    return conf.replace(f"location /c{i} {{\n", f"location /c{i} {{\ninternal;\n")


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(_conf(), {"html/static.txt": "static\n"}) as p:
        mark_logs(p)
        yield p


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    assert_case_as_openresty(pair, CASES, index)
