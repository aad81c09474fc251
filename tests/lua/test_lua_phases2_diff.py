"""How ngx_lua's phases meet the nginx core, against real OpenResty (second audit): the
order of rewrite/set/if and rewrite_by_lua (server_rewrite_by_lua too), allow/deny,
auth_basic and access_by_lua under ``satisfy``, which content handler wins in a location
(content_by_lua, return, proxy_pass, static files, nested locations and ``if``),
try_files and error_page around Lua locations, ngx.ctx across internal redirects and
subrequests as the filters and log_by_lua see it, Lua errors in every phase (status,
error-log lines with tracebacks), the log phase's variables, header and body filters on
static, error and proxied responses (a second server of the same config is the
upstream), Lua files and module paths, ``lua_code_cache off`` and the ``*_no_postpone``
switches. Each case compares the response and the error-log lines it writes."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.differential import Pair, Req
from tests.lua.cases import build_conf, mark_logs, new_log_lines, point, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]
S2 = [("Host", "srv2")]
LOGV = ('log_by_lua_block { ngx.log(ngx.ERR, "log st=", ngx.var.status, " ctx=", '
        'tostring(ngx.ctx.v), " uri=", ngx.var.uri) }')
HF_CTX = 'header_filter_by_lua_block { ngx.header["X-Ctx"] = tostring(ngx.ctx.v) }'
BF_COUNT = ('body_filter_by_lua_block { local c = ngx.ctx.n or 0 '
            'if ngx.arg[1] ~= "" then c = c + 1 end ngx.ctx.n = c '
            'if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "[chunks " .. c .. "]\\n" end }')

CASES = [
 # -- ordering inside the rewrite phase -------------------------------------------------
 ("set around rewrite_by_lua", 'set $a 1; rewrite_by_lua_block { ngx.var.a = ngx.var.a .. "L" } '
  'set $a "${a}2"; content_by_lua_block { ngx.say(ngx.var.a) }'),
 ("if return before rewrite_by_lua", 'rewrite_by_lua_block { ngx.log(ngx.ERR, "lua ran") } '
  'if ($arg_x) { return 403; } content_by_lua_block { ngx.say("c") }', Req("GET", "?x=1")),
 ("if false then rewrite_by_lua", 'rewrite_by_lua_block { ngx.log(ngx.ERR, "lua ran") } '
  'if ($arg_x) { return 403; } content_by_lua_block { ngx.say("c") }'),
 ("rewrite break then rewrite_by_lua", 'rewrite ^ /other break; rewrite_by_lua_block { '
  'ngx.log(ngx.ERR, "uri ", ngx.var.uri) } content_by_lua_block { ngx.say(ngx.var.uri) }'),
 ("rewrite redirect then lua", 'rewrite ^ /elsewhere redirect; rewrite_by_lua_block { '
  'ngx.log(ngx.ERR, "no") }'),
 ("server rewrite directive", 'content_by_lua_block { ngx.say("srv var ", ngx.var.srvset) }'),
 ("location rewrite_by_lua overrides server's", 'return 200;', Req("GET", "/own", S2)),
 ("server rewrite_by_lua inherited", 'return 200;', Req("GET", "/inherit", S2)),
 ("server rewrite_by_lua then set_uri jump ctx", 'return 200;', Req("GET", "/jump", S2)),
 ("server rewrite_by_lua exec named ctx", 'return 200;', Req("GET", "/named", S2)),
 ("server_rewrite_by_lua order", 'return 200;', Req("GET", "/order", S2)),
 ("server_rewrite_by_lua phase and log", 'return 200;', Req("GET", "/phase?log=1", S2)),
 ("server_rewrite_by_lua exit", 'return 200;', Req("GET", "/any?exit=403", S2)),
 ("server_rewrite_by_lua say", 'return 200;', Req("GET", "/inherit?say=1", S2)),
 ("server_rewrite_by_lua error", 'return 200;', Req("GET", "/inherit?err=1", S2)),
 ("server_rewrite_by_lua exec", 'return 200;', Req("GET", "/x?exec=1", S2)),
 ("set_by_lua between sets", 'set $a x; set_by_lua_block $b { return ngx.var.a .. "y" } '
  'set $c "${b}z"; rewrite_by_lua_block { ngx.var.c = ngx.var.c .. "!" } '
  'content_by_lua_block { ngx.say(ngx.var.c) }'),
 ("set_by_lua in if", 'if ($arg_a) { set_by_lua_block $v { return "in-if" } } '
  'content_by_lua_block { ngx.say(tostring(ngx.var.v)) }', Req("GET", "?a=1")),
 # -- access ----------------------------------------------------------------------------
 ("satisfy any allow skips lua", 'satisfy any; allow 127.0.0.1; deny all; '
  'access_by_lua_block { ngx.log(ngx.ERR, "lua access") ngx.exit(403) } '
  'content_by_lua_block { ngx.say("in") }'),
 ("satisfy any deny then lua ok", 'satisfy any; deny all; access_by_lua_block { '
  'ngx.log(ngx.ERR, "lua access") } content_by_lua_block { ngx.say("in") }'),
 ("satisfy any deny then lua 403", 'satisfy any; deny all; access_by_lua_block { '
  'ngx.exit(403) } content_by_lua_block { ngx.say("in") }'),
 ("satisfy any auth_basic no creds lua ok", 'satisfy any; auth_basic "r"; '
  'auth_basic_user_file htpasswd; access_by_lua_block { ngx.log(ngx.ERR, "lua access") } '
  'content_by_lua_block { ngx.say("in") }'),
 ("satisfy any auth_basic lua 403", 'satisfy any; auth_basic "r"; '
  'auth_basic_user_file htpasswd; access_by_lua_block { ngx.exit(403) } '
  'content_by_lua_block { ngx.say("in") }'),
 ("satisfy all auth_basic before lua", 'auth_basic "r"; auth_basic_user_file htpasswd; '
  'access_by_lua_block { ngx.log(ngx.ERR, "lua access") } content_by_lua_block { ngx.say("in") }'),
 ("satisfy all auth ok then lua", 'auth_basic "r"; auth_basic_user_file htpasswd; '
  'access_by_lua_block { ngx.log(ngx.ERR, "user ", ngx.var.remote_user) } '
  'content_by_lua_block { ngx.say("in ", ngx.var.remote_user) }',
  Req("GET", "/", H + [("Authorization", "Basic dTpw")])),
 ("satisfy any deny then lua exit OK", 'satisfy any; deny all; access_by_lua_block { ngx.exit(ngx.OK) } '
  'content_by_lua_block { ngx.say("in") }'),
 ("satisfy all allow then lua exit 401", 'allow all; access_by_lua_block { ngx.exit(401) } '
  'content_by_lua_block { ngx.say("in") }'),
 ("access exit 200 skips content", 'access_by_lua_block { ngx.say("from access") ngx.exit(200) } '
  'content_by_lua_block { ngx.say("no") }'),
 ("access exit OK after output", 'access_by_lua_block { ngx.say("from access") ngx.exit(ngx.OK) } '
  'content_by_lua_block { ngx.say("content") }'),
 ("rewrite exit OK after output", 'rewrite_by_lua_block { ngx.say("from rewrite") ngx.exit(ngx.OK) } '
  'content_by_lua_block { ngx.say("content") }'),
 ("access output then log", 'access_by_lua_block { ngx.print("a") } ' + LOGV + ' content_by_lua_block { ngx.say("content") }'),
 ("access_by_lua output without exit", 'access_by_lua_block { ngx.say("from access") } '
  'content_by_lua_block { ngx.say("content") }'),
 ("rewrite output without exit", 'rewrite_by_lua_block { ngx.say("from rewrite") } '
  'content_by_lua_block { ngx.say("content") }'),
 # -- content handler precedence ----------------------------------------------------------
 ("return beats content_by_lua", 'return 200 "return\\n"; content_by_lua_block { ngx.say("lua") }'),
 ("content_by_lua then proxy_pass", 'content_by_lua_block { ngx.say("lua") } '
  'proxy_pass http://127.0.0.1:{port1}/up/plain;'),
 ("proxy_pass then content_by_lua", 'proxy_pass http://127.0.0.1:{port1}/up/plain; '
  'content_by_lua_block { ngx.say("lua") }'),
 ("content_by_lua with root", 'root html; content_by_lua_block { ngx.say("lua not file") }',
  Req("GET", "/static.txt")),
 ("nested location not inheriting content", 'content_by_lua_block { ngx.say("outer") }\n'
  'location ~ \\.txt$ { root html; }', Req("GET", "/x.txt")),
 ("nested location own lua", 'content_by_lua_block { ngx.say("outer") }\n'
  'location ~ /inner$ { content_by_lua_block { ngx.say("inner") } }', Req("GET", "/inner")),
 ("if inherits content_by_lua", 'if ($arg_a) { add_header X-If 1; } '
  'content_by_lua_block { ngx.say("lua") }', Req("GET", "?a=1")),
 ("if own content_by_lua", 'if ($arg_a) { content_by_lua_block { ngx.say("if lua") } } '
  'content_by_lua_block { ngx.say("loc lua") }', Req("GET", "?a=1")),
 ("if own rewrite_by_lua", 'rewrite_by_lua_block { ngx.ctx.v = "loc" } '
  'if ($arg_a) { rewrite_by_lua_block { ngx.ctx.v = "if" } } '
  'content_by_lua_block { ngx.say(ngx.ctx.v) }', Req("GET", "?a=1")),
 ("if return in lua location", 'if ($arg_a) { return 202 "if\\n"; } '
  'content_by_lua_block { ngx.say("lua") }', Req("GET", "?a=1")),
 # -- try_files -------------------------------------------------------------------------
 ("try_files found then lua", 'root html; try_files $uri /T_fallback; '
  'content_by_lua_block { ngx.say("lua uri ", ngx.var.uri) }', Req("GET", "/static.txt")),
 ("try_files fallback", 'root html; try_files $uri /T_fallback; '
  'content_by_lua_block { ngx.say("lua uri ", ngx.var.uri) }', Req("GET", "/missing")),
 ("try_files =404 before lua", 'root html; try_files $uri =404; '
  'content_by_lua_block { ngx.say("lua") }', Req("GET", "/missing")),
 ("try_files named lua", 'root html; try_files $uri @lua;', Req("GET", "/missing")),
 ("fallback", 'content_by_lua_block { ngx.say("fallback ", ngx.var.uri, " ", '
  'tostring(ngx.req.is_internal())) }'),
 ("access_by_lua before try_files", 'root html; access_by_lua_block { ngx.log(ngx.ERR, '
  '"access uri ", ngx.var.uri) } try_files $uri /T_fallback;', Req("GET", "/missing")),
 # -- error_page -----------------------------------------------------------------------
 ("exit 404 in content to error_page", 'error_page 404 /T_errpage; '
  'content_by_lua_block { ngx.ctx.v = "c" ngx.exit(404) }'),
 ("exit 404 in rewrite to error_page", 'error_page 404 /T_errpage; '
  'rewrite_by_lua_block { ngx.exit(404) }'),
 ("exit 404 in access to error_page", 'error_page 404 /T_errpage; '
  'access_by_lua_block { ngx.exit(404) } content_by_lua_block { ngx.say("no") }'),
 ("static 404 to lua error_page", 'root html; error_page 404 /T_errpage;', Req("GET", "/nofile")),
 ("error_page = status from return", 'error_page 404 = /T_errpage; return 404;'),
 ("error_page = status from lua", 'error_page 404 = /T_errpage; '
  'content_by_lua_block { ngx.exit(404) }'),
 ("error_page =200 lua", 'error_page 404 =200 /T_errpage; '
  'content_by_lua_block { ngx.exit(404) }'),
 ("runtime error to error_page 500", 'error_page 500 /T_errpage; '
  'content_by_lua_block { local t = nil t.x = 1 }'),
 ("error_page to named lua", 'error_page 403 @err; access_by_lua_block { ngx.exit(403) }'),
 ("errpage", 'internal; ' + HF_CTX + ' ' + LOGV + ' content_by_lua_block { ngx.say("errpage ", '
  'ngx.status, " ", ngx.var.status, " ", ngx.var.uri, " ", ngx.var.request_uri, " ", '
  'tostring(ngx.ctx.v)) }'),
 ("internal lua location direct", 'internal; content_by_lua_block { ngx.say("no") }'),
 ("exec to internal lua location", 'content_by_lua_block { ngx.exec("/T_errpage") }'),
 ("error_page status lua sets", 'error_page 404 = /T_setstatus; content_by_lua_block { ngx.exit(404) }'),
 ("setstatus", 'internal; content_by_lua_block { ngx.status = 202 ngx.say("set") }'),
 ("error_page chain 404 to lua 500", 'error_page 404 /T_fail; '
  'content_by_lua_block { ngx.exit(404) }'),
 ("fail", 'internal; content_by_lua_block { error("in error page") }'),
 # -- ngx.ctx across hops ----------------------------------------------------------------
 ("ctx after rewrite last", 'rewrite_by_lua_block { ngx.ctx.v = "r" } '
  'rewrite ^ /T_showctx last;'),
 ("ctx after set_uri jump", 'rewrite_by_lua_block { if not ngx.ctx.v then ngx.ctx.v = "j" '
  'ngx.req.set_uri("/T_showctx", true) end }'),
 ("showctx", HF_CTX + ' ' + LOGV + ' content_by_lua_block { ngx.say("show ", tostring(ngx.ctx.v), '
  '" ", ngx.var.uri) }'),
 ("ctx after exec seen by filters", 'rewrite_by_lua_block { ngx.ctx.v = "before" '
  'ngx.exec("/T_showctx") }'),
 ("ctx after exec named", 'access_by_lua_block { ngx.ctx.v = "n" ngx.exec("@showctx") }'),
 ("ctx set in content seen by filters", HF_CTX + ' ' + LOGV + ' content_by_lua_block { '
  'ngx.ctx.v = "content" ngx.say("x") }'),
 ("ctx set in header filter seen by log", 'header_filter_by_lua_block { ngx.ctx.v = "hf" } '
  + LOGV + ' return 200 "x\\n";'),
 ("ctx set in body filter seen by log", 'body_filter_by_lua_block { ngx.ctx.v = "bf" } '
  + LOGV + ' return 200 "x\\n";'),
 ("ctx subrequest shared", 'content_by_lua_block { ngx.ctx.v = "parent" local r = '
  'ngx.location.capture("/T_showctx", {ctx = ngx.ctx}) ngx.print(r.body, r.header["X-Ctx"]) '
  'ngx.say(" ", ngx.ctx.v) }'),
 ("ctx subrequest own", 'content_by_lua_block { ngx.ctx.v = "parent" local r = '
  'ngx.location.capture("/T_showctx") ngx.print(r.body, r.header["X-Ctx"]) ngx.say() }'),
 ("ctx error_page named", 'error_page 404 @showctx; rewrite_by_lua_block { ngx.ctx.v = "e" } '
  'content_by_lua_block { ngx.exit(404) }'),
 # -- errors in every phase ---------------------------------------------------------------
 ("error in access", 'access_by_lua_block { local a = {} a.b.c = 1 } ' + LOGV +
  ' content_by_lua_block { ngx.say("no") }'),
 ("error table in rewrite", 'rewrite_by_lua_block { error({code = 7}) } ' + LOGV + ' return 200;'),
 ("error in required module", 'content_by_lua_block { require("bad").go() }'),
 ("error at require time", 'content_by_lua_block { require("broken") }'),
 ("require missing module", 'content_by_lua_block { require("no.such.mod") }'),
 ("error after flush", 'content_by_lua_block { ngx.say("part") ngx.flush(true) error("late") } '
  + LOGV),
 ("exit ERROR after output", 'content_by_lua_block { ngx.say("part") ngx.exit(ngx.ERROR) } '
  + LOGV),
 ("exit 500 after flush", 'content_by_lua_block { ngx.say("part") ngx.flush(true) ngx.exit(500) } '
  + LOGV),
 ("exit ERROR before output", 'content_by_lua_block { ngx.exit(ngx.ERROR) } ' + LOGV),
 ("exit 444 log status", 'content_by_lua_block { ngx.exit(444) } ' + LOGV),
 ("exit ERROR in access", 'access_by_lua_block { ngx.exit(ngx.ERROR) } ' + LOGV + ' return 200;'),
 ("exit 500 before output log", 'content_by_lua_block { ngx.exit(500) } ' + LOGV),
 ("error in header filter on lua", 'header_filter_by_lua_block { error("hf") } ' + LOGV +
  ' content_by_lua_block { ngx.say("body") }'),
 ("error in body filter later chunk", 'body_filter_by_lua_block { if ngx.arg[2] then '
  'error("at eof") end } content_by_lua_block { ngx.say("a") ngx.flush(true) ngx.say("b") }'),
 ("error in log phase keeps response", 'log_by_lua_block { local x = nil .. "a" } '
  'content_by_lua_block { ngx.say("fine") }'),
 ("error in set_by_lua with log", 'set_by_lua_block $x { error("st") } ' + LOGV + ' return 200 "$x";'),
 ("error string with level 0", 'content_by_lua_block { error("plain", 0) }'),
 ("error number", 'content_by_lua_block { error(42) }'),
 ("pcall error then exit", 'content_by_lua_block { local ok, e = pcall(error, "x") '
  'ngx.say(ok, " ", e) ngx.exit(201) }'),
 ("global set by one request", 'content_by_lua_block { local function f() g_shared = "kept" end f() ngx.say("set") }'),
 ("global seen by the next", 'content_by_lua_block { ngx.say(tostring(g_shared), " ", tostring(rawget(_G, "g_shared"))) '
  'g_shared = "again" }'),
 ("global written in set_by_lua", 'set_by_lua_block $g { g_set = 1 return "x" } return 200 "$g\n";'),
 # -- Lua files ------------------------------------------------------------------------
 ("content_by_lua_file relative", 'content_by_lua_file lua/hello.lua;'),
 ("content_by_lua_file variable", 'content_by_lua_file lua/$arg_f.lua;', Req("GET", "?f=hello")),
 ("content_by_lua_file missing", 'content_by_lua_file lua/$arg_f.lua;', Req("GET", "?f=nope")),
 ("content_by_lua_file syntax error", 'content_by_lua_file lua/syntax.lua;'),
 ("rewrite_by_lua_file", 'rewrite_by_lua_file lua/rw.lua; content_by_lua_block { ngx.say(ngx.ctx.v) }'),
 ("access_by_lua_file error", 'access_by_lua_file lua/err.lua; content_by_lua_block { ngx.say("no") }'),
 ("set_by_lua_file", 'set_by_lua_file $r lua/set.lua a $arg_b; return 200 "[$r]\\n";',
  Req("GET", "?b=B")),
 ("header_filter_by_lua_file", 'header_filter_by_lua_file lua/hf.lua; return 200 "x\\n";'),
 ("log_by_lua_file", 'log_by_lua_file lua/log.lua; return 200 "x\\n";'),
 ("package path prefix", 'content_by_lua_block { local p = ngx.config.prefix() '
  'local function strip(s) local i, j = s:find(p, 1, true) return s:sub(1, i - 1) .. "P/" .. s:sub(j + 1) end '
  'ngx.say(strip(package.path)) ngx.say(strip(package.cpath)) }'),
 ("require module from prefix", 'content_by_lua_block { ngx.say(require("mymod").hello()) }'),
 # -- log phase -------------------------------------------------------------------------
 ("log vars after lua", 'log_by_lua_block { ngx.log(ngx.ERR, "st=", ngx.var.status, " bs=", '
  'ngx.var.bytes_sent, " bbs=", ngx.var.body_bytes_sent, " rt=", ngx.var.request_time:match("^%d+%.%d%d%d$") '
  'and "ok" or ngx.var.request_time, " urt=", tostring(ngx.var.upstream_response_time)) } '
  'content_by_lua_block { ngx.say("hello") }'),
 ("log vars after proxy", 'log_by_lua_block { ngx.log(ngx.ERR, "st=", ngx.var.status, '
  '" ust=", ngx.var.upstream_status, " urt=", ngx.var.upstream_response_time:match("^%d+%.%d%d%d$") '
  'and "ok" or "bad", " bbs=", ngx.var.body_bytes_sent) } '
  'proxy_pass http://127.0.0.1:{port1}/up/plain;'),
 ("log vars after 404", 'log_by_lua_block { ngx.log(ngx.ERR, "st=", ngx.var.status, " ", ngx.status, '
  '" bbs=", ngx.var.body_bytes_sent) } root html;', Req("GET", "/nofile")),
 ("log timer", 'log_by_lua_block { ngx.timer.at(0, function() ngx.log(ngx.ERR, "timer from log") end) } '
  'return 200 "x\\n";'),
 ("log resp header and status", 'log_by_lua_block { ngx.log(ngx.WARN, "h=", tostring(ngx.header["X-A"]), '
  '" s=", ngx.status) } add_header X-A a; return 201 "x\\n";'),
 ("log var set in log", 'set $v ""; log_by_lua_block { ngx.var.v = "late" ngx.log(ngx.ERR, ngx.var.v) } '
  'return 200 "x\\n";'),
 ("log after exit 204", 'log_by_lua_block { ngx.log(ngx.ERR, "st=", ngx.var.status, " bbs=", '
  'ngx.var.body_bytes_sent) } content_by_lua_block { ngx.exit(204) }'),
 ("log request body var", 'log_by_lua_block { ngx.log(ngx.ERR, "rb=", tostring(ngx.var.request_body)) } '
  'content_by_lua_block { ngx.req.read_body() ngx.say("x") }', Req("POST", "/", H, b"abc")),
 # -- header filter ------------------------------------------------------------------------
 ("hf status change on lua", 'header_filter_by_lua_block { ngx.status = 201 } '
  'content_by_lua_block { ngx.say("x") }'),
 ("hf clear content-length static", 'root html; header_filter_by_lua_block { '
  'ngx.header.content_length = nil } body_filter_by_lua_block { ngx.arg[1] = ngx.arg[1]:upper() }',
  Req("GET", "/static.txt")),
 ("hf keeps content-length, body grows", 'root html; body_filter_by_lua_block { '
  'if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "more" end }', Req("GET", "/static.txt")),
 ("hf on 404 page", 'root html; header_filter_by_lua_block { ngx.header["X-S"] = ngx.status '
  'ngx.header["X-CT"] = ngx.header.content_type }', Req("GET", "/nofile")),
 ("hf on lua exit 403", 'header_filter_by_lua_block { ngx.header["X-S"] = ngx.status } '
  'content_by_lua_block { ngx.exit(403) }'),
 ("hf on error_page target", 'error_page 404 /T_errpage; header_filter_by_lua_block { '
  'ngx.header["X-Loc"] = "outer" } content_by_lua_block { ngx.exit(404) }'),
 ("hf on proxied", 'header_filter_by_lua_block { ngx.header["X-Up"] = "was " .. '
  'tostring(ngx.header["X-Up"]) ngx.header["X-Server"] = ngx.header.server ngx.header.Foo = nil } '
  'proxy_pass http://127.0.0.1:{port1}/up/hdr;'),
 ("hf status on proxied 404", 'header_filter_by_lua_block { ngx.header["X-S"] = ngx.status '
  'ngx.status = 200 } proxy_pass http://127.0.0.1:{port1}/up/404;'),
 ("hf proxied intercept errors", 'proxy_intercept_errors on; error_page 404 /T_errpage; '
  'header_filter_by_lua_block { ngx.header["X-S"] = ngx.status } '
  'proxy_pass http://127.0.0.1:{port1}/up/404;'),
 ("hf redirect location", 'header_filter_by_lua_block { ngx.header["X-L"] = ngx.header.location } '
  'return 302 /target;'),
 ("hf on HEAD", 'header_filter_by_lua_block { ngx.header["X-M"] = ngx.req.get_method() } '
  'content_by_lua_block { ngx.say("body") }', Req("HEAD", "/")),
 # -- body filter ---------------------------------------------------------------------------
 ("bf many chunks", BF_COUNT + ' content_by_lua_block { for i = 1, 5 do ngx.say("line", i) '
  'ngx.flush(true) end }'),
 ("bf chunks no flush", BF_COUNT + ' content_by_lua_block { for i = 1, 5 do ngx.say("line", i) end }'),
 ("bf static file", BF_COUNT + ' root html;', Req("GET", "/static.txt")),
 ("bf big static file", 'root html; body_filter_by_lua_block { if ngx.arg[1] ~= "" then '
  'ngx.arg[1] = #ngx.arg[1] .. (ngx.arg[2] and "!" or ",") else ngx.arg[1] = '
  '(ngx.arg[2] and "eof" or "empty") end }', Req("GET", "/big.txt")),
 ("bf proxied chunks", BF_COUNT + ' proxy_buffering off; proxy_pass http://127.0.0.1:{port1}/up/plain;'),
 ("bf proxied upper", 'body_filter_by_lua_block { ngx.arg[1] = ngx.arg[1]:upper() } '
  'proxy_pass http://127.0.0.1:{port1}/up/plain;'),
 ("bf truncate at second chunk", 'body_filter_by_lua_block { local n = (ngx.ctx.n or 0) + 1 '
  'ngx.ctx.n = n if n == 2 then ngx.arg[1] = "cut\\n" ngx.arg[2] = true elseif n > 2 then '
  'ngx.arg[1] = "" end } content_by_lua_block { for i = 1, 4 do ngx.say(i) ngx.flush(true) end }'),
 ("bf drop all", 'body_filter_by_lua_block { ngx.arg[1] = "" } return 200 "gone\\n";'),
 ("bf eof only chunk", 'body_filter_by_lua_block { if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "<eof>" '
  'end } content_by_lua_block { ngx.print("a") ngx.flush(true) ngx.print("b") ngx.eof() }'),
 ("bf on error page", 'body_filter_by_lua_block { ngx.arg[1] = ngx.arg[1]:gsub("nginx", "NGX") } '
  'content_by_lua_block { ngx.exit(404) }'),
 ("bf on subrequest", 'content_by_lua_block { local r = ngx.location.capture("/T_bfsub") ngx.print(r.body) }'),
 ("bfsub", 'body_filter_by_lua_block { ngx.arg[1] = ngx.arg[1]:upper() } '
  'content_by_lua_block { ngx.say("sub body") }'),
 ("bf ctx to log", 'body_filter_by_lua_block { ngx.ctx.v = (ngx.ctx.v or "") .. (ngx.arg[2] and "E" or "c") } '
  + LOGV + ' content_by_lua_block { ngx.say(1) ngx.flush(true) ngx.say(2) }'),
]

CASES = point(CASES, {"/T_fallback": "fallback", "/T_errpage": "errpage",
                      "/T_setstatus": "setstatus", "/T_fail": "fail", "/T_showctx": "showctx",
                      "/T_bfsub": "bfsub"})

FILES = {
    "html/static.txt": "static file\n",
    "html/big.txt": "x" * 100000,
    "conf/htpasswd": "u:{PLAIN}p\n",
    "lua/hello.lua": 'ngx.say("hello from file ", ngx.var.uri)\n',
    "lua/syntax.lua": 'ngx.say("x"\n',
    "lua/rw.lua": 'ngx.ctx.v = "rewrite file"\n',
    "lua/err.lua": 'local function f()\n  error("from file")\nend\nf()\n',
    "lua/set.lua": 'return ngx.arg[1] .. ngx.arg[2] .. #ngx.arg\n',
    "lua/hf.lua": 'ngx.header["X-File"] = "hf"\n',
    "lua/log.lua": 'ngx.log(ngx.ERR, "log file ", ngx.var.status)\n',
    "lua/mymod.lua": 'local M = {}\nfunction M.hello() return "mod hello" end\nreturn M\n',
    "lua/bad.lua": 'local M = {}\nfunction M.go()\n  local t = nil\n  return t.field\nend\nreturn M\n',
    "lua/broken.lua": 'error("broken at load")\n',
}

HTTP = """
error_log logs/error.log info;
lua_package_path "$prefix/lua/?.lua;;";
lua_package_cpath "$prefix/clib/?.so;;";
server {
    listen 127.0.0.1:{port1};
    location /up/plain { return 200 "upstream body\\n"; }
    location /up/404 { return 404; }
    location /up/hdr { add_header X-Up 1; add_header Foo bar; return 200 "h\\n"; }
}
server {
    listen 127.0.0.1:{port};
    server_name srv2;
    set $order "set";
    server_rewrite_by_lua_block {
        ngx.ctx.srl = "srl" ngx.var.order = ngx.var.order .. ",srl"
        local a = ngx.req.get_uri_args()
        if a.log then ngx.log(ngx.ERR, "phase ", ngx.get_phase(), " ", ngx.var.uri) end
        if a.exit then ngx.exit(tonumber(a.exit)) end
        if a.say then ngx.say("from server rewrite") end
        if a.err then error("srl failed") end
        if a.exec then ngx.exec("/inherit") end
    }
    rewrite_by_lua_block { ngx.ctx.srv = (ngx.ctx.srv or 0) + 1 ngx.var.order = ngx.var.order .. ",rbl" }
    location ~ /own$ {
        rewrite_by_lua_block { ngx.ctx.v = "loc" }
        content_by_lua_block { ngx.say(tostring(ngx.ctx.v), " ", tostring(ngx.ctx.srv), " ", tostring(ngx.ctx.srl)) }
    }
    location ~ /inherit$ {
        content_by_lua_block { ngx.say(tostring(ngx.ctx.srv), " ", tostring(ngx.ctx.srl)) }
    }
    location ~ /jump$ {
        rewrite_by_lua_block { ngx.ctx.v = "j" ngx.req.set_uri("/inherit", true) }
    }
    location ~ /named$ {
        content_by_lua_block { ngx.ctx.v = "n" ngx.exec("@n") }
    }
    location @n { content_by_lua_block { ngx.say(tostring(ngx.ctx.v), " ", tostring(ngx.ctx.srv), " ", tostring(ngx.ctx.srl)) } }
    location ~ /phase$ {
        content_by_lua_block { ngx.say(ngx.get_phase(), " ", tostring(ngx.ctx.srl)) }
    }
    location ~ /order$ {
        set $order "${order},loc";
        rewrite_by_lua_block { ngx.var.order = ngx.var.order .. ",locrbl" }
        content_by_lua_block { ngx.say(ngx.var.order) }
    }
}
"""
SERVER = """
        set $srvset "server-level";
        location @lua { content_by_lua_block { ngx.say("named lua ", ngx.var.uri) } }
        location @err { content_by_lua_block { ngx.say("named err ", ngx.status) } }
        location @showctx { """ + HF_CTX + """ content_by_lua_block {
            ngx.say("named show ", tostring(ngx.ctx.v), " ", ngx.status) } }
"""
#: Cases whose log lines come after the response (a timer): both servers get a moment.
_LATER = {"log timer"}
#: A core (not Lua) line left out of the comparison.
_NOT_LUA = "a client request body is buffered to a temporary file"


def _conf() -> str:
    return build_conf(CASES, http_extra=HTTP, server_extra=SERVER)


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(_conf(), FILES, extra_ports=1) as p:
        mark_logs(p)
        yield p


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    if CASES[index][0] in _LATER:
        pair.loop.run_until_complete(asyncio.sleep(0.05))
        time.sleep(0.05)
    time.sleep(0.01)
    real_log = new_log_lines(pair, "real", (_NOT_LUA,))
    ours_log = new_log_lines(pair, "ours", (_NOT_LUA,))
    assert ours.comparable() == real.comparable()
    assert ours_log == real_log


# -- a second http block: handlers not postponed, no lua_package_path, no code cache ------

SECOND = [
 ("default package paths", 'content_by_lua_block { ngx.say(package.path) ngx.say(package.cpath) }'),
 ("require missing, default paths", 'content_by_lua_block { local ok, e = pcall(require, "zz.nope") ngx.say(e) }'),
 ("rewrite_by_lua before set", 'set $a 1; rewrite_by_lua_block { ngx.var.a = ngx.var.a .. "L" } '
  'set $a "${a}2"; content_by_lua_block { ngx.say(ngx.var.a) }'),
 ("rewrite_by_lua before rewrite last", 'rewrite_by_lua_block { ngx.log(ngx.ERR, "lua rw ", ngx.var.uri) } '
  'rewrite ^ /T_ret last;'),
 ("ret", 'rewrite_by_lua_block { ngx.log(ngx.ERR, "lua rw") } return 200 "ret\\n";'),
 ("access_by_lua before deny", 'deny all; access_by_lua_block { ngx.log(ngx.ERR, "lua access") }'),
 ("access_by_lua exit before auth_basic", 'auth_basic "r"; auth_basic_user_file htpasswd; '
  'access_by_lua_block { ngx.exit(ngx.HTTP_GONE) }'),
 ("module state per request", 'content_by_lua_block { package.path = ngx.config.prefix() .. "lua/?.lua;" '
  '.. package.path local m = require "counter" ngx.say(m.inc(), " ", tostring(g_count)) '
  'g_count = (g_count or 0) + 1 }'),
 ("module state again", 'content_by_lua_block { package.path = ngx.config.prefix() .. "lua/?.lua;" '
  '.. package.path local m = require "counter" ngx.say(m.inc(), " ", tostring(g_count)) }'),
 ("file before edit", 'content_by_lua_file lua/edit.lua;'),
 ("file after edit", 'content_by_lua_file lua/edit.lua;'),
 ("init_worker global", 'content_by_lua_block { ngx.say(tostring(iw)) }'),
]
SECOND = point(SECOND, {"/T_ret": "ret"})
SECOND_HTTP = """
error_log logs/error.log info;
rewrite_by_lua_no_postpone on;
access_by_lua_no_postpone on;
lua_code_cache off;
init_worker_by_lua_block { iw = "set" local x = nil; x.y = 1 }
"""
SECOND_FILES = {
    "conf/htpasswd": "u:{PLAIN}p\n",
    "lua/counter.lua": "local n = 0 return {inc = function() n = n + 1 return n end}\n",
    "lua/edit.lua": 'ngx.say("version 1")\n',
}


@pytest.fixture(scope="module")
def second():  # type: ignore[no-untyped-def]
    conf = "error_log logs/error.log info;\n" + build_conf(SECOND, http_extra=SECOND_HTTP)
    with Pair(conf, SECOND_FILES) as p:
        time.sleep(0.2)
        p.seen = {"real": 0, "ours": 0}
        yield p


@requires_nginx
def test_second_block_as_openresty(second):  # type: ignore[no-untyped-def]
    """The startup lines (the failing init_worker_by_lua), then each case in turn."""
    differ = []
    startup = {side: [e for e in new_log_lines(second, side, (_NOT_LUA,)) if "lua" in e[1]]
               for side in ("real", "ours")}
    if startup["real"] != startup["ours"]:
        differ.append(("startup", startup["real"], startup["ours"]))
    for i, case in enumerate(SECOND):
        if case[0] == "file after edit":
            for prefix in (second.real.prefix, second.prefix):
                (prefix / "lua/edit.lua").write_text('ngx.say("version 2")\n')
        real, ours = second.both(request_for(i, case))
        time.sleep(0.01)
        got = [(ours.comparable(), new_log_lines(second, "ours", (_NOT_LUA,))),
               (real.comparable(), new_log_lines(second, "real", (_NOT_LUA,)))]
        if got[0] != got[1]:
            differ.append((case[0], got[1], got[0]))
    assert not differ, "\n\n".join(f"{n}:\n real {r}\n ours {o}" for n, r, o in differ)
