"""Seeded randomized differential test of ngx_lua phase handlers against real OpenResty.

One real nginx serves ``SERVERS`` generated servers (told apart by ``server_name
gN.lua``). Each has locations ``/gN/l0``... whose phases (``set_by_lua_block``,
``rewrite_by_lua_block``, ``access_by_lua_block``, ``content_by_lua_block`` or a static
file, ``header_filter_by_lua_block``, ``body_filter_by_lua_block``, ``log_by_lua_block``)
each hold a short random sequence of ngx_lua API calls: ngx.ctx and ngx.var passed
between phases, request rewriting (headers, URI, args, method), response headers and
status, output, ngx.exit / ngx.exec / ngx.redirect, errors (strings, tables, runtime),
pcall, ngx.log, and calls the phase forbids. Some servers have an ``error_page`` to a Lua
or a static location. Random GET/HEAD/POST requests (args, headers, small bodies) go to
both sides; the status, headers, body and the error-log lines (level info) must match. A
divergence prints the seed, the server block and the request, so it can be replayed; set
LUA_FUZZ_SEED to explore other seeds. The ``fixed`` server keeps the divergences found
so far whatever the seed; broken Lua directives go through ``nginx -t`` and our loader.

Left out of the generator (see _location): what nginx does after a header filter failed
on Lua output (it goes on without a header and may write a bare body), Lua filters over
static files (nginx logs "while sending response to client" there), and
``lua_code_cache off`` (ngx_lua then runs chunks by stale registry references).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.differential import Reply, Req
from tests.fuzzing import (assert_case_count, config_verdicts, generated, http_conf,
                           pair_fixture, settled_logs)
from tests.lua.cases import mark_logs
from tests.oracle import requires_nginx

#: Fixed, so every run checks the same cases.
SEED = int(os.environ.get("LUA_FUZZ_SEED", "20261127"))
SERVERS = 14
LOCATIONS = 4

#: Statements any of rewrite/access/content may run; ``{g}`` is the server's prefix.
COMMON = [
    "ngx.ctx.n = (ngx.ctx.n or 0) + 1",
    'ngx.ctx.s = (ngx.ctx.s or "") .. ngx.get_phase() .. ","',
    'ngx.var.v = "{p}"',
    'ngx.var.v = ngx.var.v .. "+" .. tostring(ngx.var.arg_a)',
    'ngx.req.set_header("X-A", "{p}")',
    'ngx.req.set_header("X-M", {{"1", "2"}})',
    'ngx.req.clear_header("X-B")',
    'local b = ngx.req.get_headers()["x-b"] '
    'ngx.ctx.h = type(b) == "table" and table.concat(b, "+") or tostring(b)',
    'local h = ngx.req.get_headers() ngx.ctx.h = type(h["x-a"]) .. ":" .. tostring(h.host)',
    'ngx.req.set_uri_args("a=set&b=2")',
    'ngx.req.set_uri_args({{c = {{1, "t"}}}})',
    # (the keys sorted: the order of pairs() differs between LuaJIT builds)
    'local ks = {{}} for k in pairs(ngx.req.get_uri_args()) do ks[#ks + 1] = k end '
    'table.sort(ks) ngx.ctx.args = table.concat(ks, ",")',
    'ngx.ctx.m = ngx.req.get_method()',
    'ngx.req.set_method(ngx.HTTP_POST)',
    'ngx.req.set_method(ngx.HTTP_PUT)',
    'ngx.req.set_uri("{g}/l0/new")',
    'ngx.header["X-H"] = "{p}"',
    'ngx.header["X-N"] = 12',
    'ngx.header["X-T"] = {{"a", "b"}}',
    'ngx.header["X-H"] = nil',
    'ngx.header.content_type = "text/x-fuzz"',
    "ngx.status = 201",
    "ngx.status = 404",
    'ngx.log(ngx.INFO, "{p} info ", 1, " ", true)',
    'ngx.log(ngx.WARN, "{p} warn ", nil)',
    'ngx.log(ngx.ERR, "{p} err")',
    'ngx.log(ngx.NOTICE, "{p} v=", ngx.var.v)',
    'local ok, e = pcall(error, "x") ngx.ctx.e = tostring(ok) .. tostring(e)',
    'local ok, e = pcall(function() local t t.x = 1 end) ngx.ctx.e = tostring(ok)',
    'local ok = pcall(error, {{}}) ngx.ctx.e = tostring(ok)',
    'if ngx.var.arg_x == "1" then ngx.ctx.x = "one" end',
]
#: Statements that end or divert the request (used at most once, last, in a handler).
ENDING = [
    "ngx.exit(200)", "ngx.exit(204)", "ngx.exit(301)", "ngx.exit(403)", "ngx.exit(404)",
    "ngx.exit(444)", "ngx.exit(500)", "ngx.exit(503)", "ngx.exit(ngx.OK)",
    "ngx.exit(ngx.ERROR)", "ngx.exit(ngx.HTTP_FORBIDDEN)", "ngx.exit(ngx.HTTP_NOT_FOUND)",
    'ngx.exec("{g}/echo", "e=1")', 'ngx.exec("{g}/echo?q=2", {{r = 3}})', 'ngx.exec("{g}/echo")',
    'ngx.redirect("/moved", 302)', 'ngx.redirect("http://ex.test/y?z=1", 301)',
    'ngx.redirect("{g}/r", 307)', 'ngx.redirect("rel", 308)', 'ngx.redirect("/d")',
    'error("boom")', "error({{}})", "local t = nil t.x = 1", 'error("nolevel", 0)',
    "if ngx.var.arg_x then ngx.exit(403) end",
    'if ngx.var.arg_x == "1" then error("argx") end',
]
#: Output statements (rewrite/access/content).
OUTPUT = [
    'ngx.say("{p} say")', 'ngx.print("{p} ", 1, " ", nil, " ", true, "\\n")',
    'ngx.say({{"a", {{"b", 2}}, "c"}})', "ngx.say(1.5, false)", "ngx.flush()",
    'ngx.say("{p} ctx=", tostring(ngx.ctx.n))',
]
HEADER_FILTER = [
    'ngx.header["X-F"] = tostring(ngx.ctx.n)', 'ngx.header["X-S"] = ngx.ctx.s',
    "ngx.header.content_length = nil", 'ngx.header["X-St"] = ngx.status', "ngx.status = 202",
    'ngx.header["Cache-Control"] = "no-store"', 'ngx.say("hf")', 'error("hf boom")',
    "ngx.exit(ngx.ERROR)", 'ngx.log(ngx.WARN, "hf ", ngx.status)', "local t t.x = 1",
    'ngx.req.set_header("X-Z", "1")', 'ngx.redirect("/hf")', 'ngx.exec("/x")',
    'ngx.header["X-V"] = ngx.var.v', 'ngx.header["X-Ctx"] = tostring(ngx.ctx.e)',
]
#: Header-filter statements that fail (NGX_ERROR from the filter).
FAILS = ("ngx.say", "error(", "t.x", "ngx.req.set_header", "ngx.redirect", "ngx.exec",
         "ngx.ERROR")
BODY_FILTER = [
    "ngx.arg[1] = string.upper(ngx.arg[1])",
    'if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "tail\\n" end',
    'ngx.arg[1] = ""', 'ngx.arg[1] = "[" .. ngx.arg[1] .. "]"', "ngx.arg[2] = true",
    "ngx.arg[1] = nil", 'ngx.ctx.b = (ngx.ctx.b or 0) + #ngx.arg[1]',
    'if ngx.arg[2] then ngx.arg[1] = "len=" .. tostring(ngx.ctx.b) .. "\\n" end',
    'ngx.say("bf")', 'error("bf boom")', 'ngx.log(ngx.INFO, "bf eof=", ngx.arg[2])',
    "ngx.arg[1] = {{\"x\", \"y\"}}", "ngx.exit(200)", 'ngx.header["X-Late"] = "1"',
]
LOG = [
    'ngx.log(ngx.INFO, "log n=", ngx.ctx.n, " st=", ngx.status, " v=", ngx.var.v)',
    'ngx.log(ngx.WARN, "log uri=", ngx.var.uri, " args=", ngx.var.args)',
    "ngx.exit(200)", 'ngx.req.set_header("X-L", "1")', 'ngx.say("in log")',
    'error("log boom")', 'ngx.log(ngx.ERR, "log s=", ngx.ctx.s, " e=", ngx.ctx.e)',
    'ngx.log(ngx.NOTICE, "log m=", ngx.req.get_method(), " h=", ngx.ctx.h)',
    'ngx.var.v = "in-log"', "local t t.x = 1",
]
SET_BY = [
    "return ngx.var.arg_a", 'return "s" .. tostring(ngx.var.arg_a)', "return 1 + 2",
    'return ngx.var.v .. "!"', 'error("set boom")', "return nil", "return true",
    "return ngx.var.uri", 'return ngx.req.get_headers()["x-b"] or "none"',
    'ngx.exit(403) return "x"',
]
#: The end of a content handler: what the phases before left behind.
REPORT = ('ngx.say("{p} uri=", ngx.var.uri, " args=", tostring(ngx.var.args), " m=", '
          'ngx.req.get_method(), " v=", ngx.var.v, " s=", tostring(ngx.var.s), " ctx=", '
          'tostring(ngx.ctx.n), ",", tostring(ngx.ctx.s), ",", tostring(ngx.ctx.h), ",", '
          'tostring(ngx.ctx.e), ",", tostring(ngx.ctx.args), ",", tostring(ngx.ctx.m), '
          '" xa=", tostring(ngx.var.http_x_a), " xb=", tostring(ngx.var.http_x_b))')


def _block(rng: random.Random, pool: list[str], g: str, p: str, most: int = 3,
           ending: bool = True, output: list[str] | None = None) -> str:
    """A handler body: one to ``most`` statements from ``pool`` (with a statement of
    ``output`` and an ending statement mixed in where asked)."""
    stmts = [rng.choice(pool) for _ in range(rng.randint(1, most))]
    if output and rng.random() < 0.3:
        stmts.insert(rng.randint(0, len(stmts)), rng.choice(output))
    if ending and rng.random() < 0.35:
        stmts.append(rng.choice(ENDING))
    return " ".join(stmts).format(g=g, p=p)


def _location(rng: random.Random, g: str, i: int) -> str:
    """Location ``{g}/l{i}`` with random Lua handlers in random phases."""
    path = f"{g}/l{i}"
    lines = [f"    location {path} {{", "        set $v init;"]
    lua_content = rng.random() < 0.8
    # (nginx's static handler logs "while sending response to client" after it opened
    # the file, which the engine does not model yet: no Lua filters over static files)
    header_filter = None
    if lua_content and rng.random() < 0.5:
        header_filter = _block(rng, HEADER_FILTER, g, "hf", 2, ending=False)
    # after a header filter failed on Lua output nginx goes on without a response
    # header: output before the content phase leads to the content phase, a flush or
    # more output after the failed one goes to the client without a header; the
    # generator leaves these out (one output call at most in the content phase, no
    # body filter that could add some at the end)
    fails = header_filter is not None and any(f in header_filter for f in FAILS)
    output = [o for o in OUTPUT if not (fails and o == "ngx.flush()")]
    if rng.random() < 0.3:
        lines.append("        set_by_lua_block $s { " + rng.choice(SET_BY) + " }")
    for phase, p in (("rewrite", "rw"), ("access", "ac")):
        if rng.random() < 0.6:
            body = _block(rng, COMMON, g, p, output=None if fails else output)
            lines.append(f"        {phase}_by_lua_block {{ {body} }}")
    if lua_content:
        body = _block(rng, COMMON, g, "co", 2, output=output)
        tail = "" if fails or rng.random() < 0.15 else " " + REPORT.format(p="co")
        lines.append(f"        content_by_lua_block {{ {body}{tail} }}")
    if header_filter is not None:
        lines.append(f"        header_filter_by_lua_block {{ {header_filter} }}")
    if lua_content and not fails and rng.random() < 0.5:
        lines.append("        body_filter_by_lua_block { "
                     + _block(rng, BODY_FILTER, g, "bf", 2, ending=False) + " }")
    if rng.random() < 0.5:
        lines.append("        log_by_lua_block { " + _block(rng, LOG, g, "lg", 2, ending=False)
                     + " }")
    lines.append("    }")
    return "\n".join(lines)


def gen_server(rng: random.Random, n: int) -> tuple[str, list[Req]]:
    """A server ``gN.lua`` with generated locations, its helper locations, and requests."""
    g = f"/g{n}"
    lines = [f"server {{\n    listen 127.0.0.1:{{port}};\n    server_name g{n}.lua;"]
    choice = rng.random()
    if choice < 0.25:
        lines.append(f"    error_page 403 404 500 503 {g}/ep_lua;")
    elif choice < 0.45:
        lines.append(f"    error_page 403 404 500 =200 {g}/ep_static;")
    lines.append(f"    location {g}/ep_lua {{ content_by_lua_block {{ ngx.say(\"ep \", "
                 f"ngx.status, \" \", ngx.var.uri, \" ctx=\", tostring(ngx.ctx.n)) }} }}")
    lines.append(f"    location {g}/ep_static {{ }}")
    lines.append(f"    location {g}/echo {{ set $v echo; content_by_lua_block {{ "
                 + REPORT.format(p="echo") + " } }")
    for i in range(LOCATIONS):
        lines.append(_location(rng, g, i))
    lines.append("}\n")
    host = [("Host", f"g{n}.lua")]
    reqs = []
    for i in range(LOCATIONS):
        for _ in range(3):
            target = f"{g}/l{i}" + rng.choice(["", "/x", "/new"]) + rng.choice(
                ["", "?a=1", "?x=1", "?x=2&a=%20b", "?a=1&a=2", "?x"])
            heads = host + rng.choice([[], [("X-B", "bee")], [("X-A", "a"), ("X-B", "b1")],
                                       [("X-B", "1"), ("X-B", "2")]])
            method = rng.choice(["GET", "GET", "GET", "HEAD", "POST"])
            body = rng.choice([b"", b"k=v&k2=v2", b"hello"]) if method == "POST" else b""
            reqs.append(Req(method, target, heads, body))
    return "\n".join(lines), reqs


#: Divergences the generator found once, kept whatever the seed (each location one of
#: them): $arg_x of a bare "?x" is not found; a set_by_lua variable read where it was
#: not set (empty, with a warning); ngx.exit refused in set_by_lua (resty.core's frame in
#: the traceback); a body filter that fails runs again for each later buffer; a HEAD's
#: header, sent by ngx.say, stays sent when the handler fails (or exits NGX_ERROR); ngx.exit(204) after the
#: header (or 408/444/499) closes the connection, and ngx.status reads 444 then; a failing body filter that set
#: ngx.arg[2] still ends the body, one that marks the end after emptying the buffer
#: loses the response (before: an empty end); no body filter for a HEAD; a table set as ngx.arg[1]
#: (flattened, or refused); ngx.say's header goes out before ngx.req.set_method; ngx.exit
#: in a header filter goes on; a type set before an error_page redirect to Lua is no
#: longer Lua's (the default type); a header filter failing on ngx.say (nil for the say,
#: no ngx.status complaint, the last buffer through the body filter); a body filter's
#: lines come between the handler's.
FIXED = r"""server {
    listen 127.0.0.1:{port};
    server_name fixed.lua;
    error_page 500 /ep;
    location /ep { content_by_lua_block { ngx.say("ep ", ngx.status) } }
    location /static/ {
        root html/fixed;
        header_filter_by_lua_block { ngx.log(ngx.ERR, "hf") }
        body_filter_by_lua_block { ngx.log(ngx.ERR, "bf ", ngx.arg[2]) }
    }
    location /arg { content_by_lua_block { ngx.say(tostring(ngx.var.arg_x), ",", tostring(ngx.var.arg_y)) } }
    location /setvar { set_by_lua_block $fv { return "set" } return 200 "$fv"; }
    location /unset { content_by_lua_block { ngx.say("[", ngx.var.fv, "]") } }
    location /setexit { set_by_lua_block $fw { ngx.exit(403) return "x" } return 200 "$fw"; }
    location /bferr { content_by_lua_block { ngx.say("a") ngx.say("b") } body_filter_by_lua_block { error("bf") } }
    location /headerr { access_by_lua_block { ngx.say("x") ngx.redirect("/y", 301) } }
    location /say204 { rewrite_by_lua_block { ngx.say("x") ngx.exit(204) } }
    location /say444 { content_by_lua_block { ngx.say("x") ngx.exit(444) } }
    location /headerror { content_by_lua_block { ngx.say("x") ngx.exit(ngx.ERROR) } }
    location /st444 { content_by_lua_block { ngx.status = 201 ngx.exit(444) } log_by_lua_block { ngx.log(ngx.ERR, "st ", ngx.status) } }
    location /bfempty { content_by_lua_block { ngx.say("x") } body_filter_by_lua_block { ngx.arg[1] = "" ngx.arg[2] = true } }
    location /bforder { content_by_lua_block { ngx.say("x") } body_filter_by_lua_block { ngx.arg[2] = true ngx.arg[1] = "" } }
    location /bfend { rewrite_by_lua_block { ngx.say("x") } body_filter_by_lua_block { ngx.arg[2] = true error("bf") } }
    location /headbf { content_by_lua_block { ngx.say("x") } body_filter_by_lua_block { ngx.log(ngx.ERR, "bf ", ngx.arg[2]) } }
    location /argtab { return 200 "x"; body_filter_by_lua_block { ngx.arg[1] = {"a", {"b", 1}, 2.0} } }
    location /argbad { return 200 "x"; body_filter_by_lua_block { ngx.arg[1] = {"a", true} } }
    location /argmap { return 200 "x"; body_filter_by_lua_block { ngx.arg[1] = {k = 1} } }
    location /method { rewrite_by_lua_block { ngx.say("x") ngx.req.set_method(ngx.HTTP_POST) ngx.exit(204) } }
    location /hfexit { return 200 "x"; header_filter_by_lua_block { ngx.exit(ngx.ERROR) ngx.exec("/x") } }
    location /ctype { content_by_lua_block { ngx.header.content_type = "text/x-a" error("x") } }
    location /hffail {
        content_by_lua_block { local ok, err = ngx.say("x") ngx.log(ngx.ERR, "say ", tostring(ok), " ", err) ngx.status = 404 ngx.exit(403) }
        header_filter_by_lua_block { error("hf") }
        body_filter_by_lua_block { ngx.log(ngx.ERR, "bf ", ngx.arg[2]) }
    }
    location /order { content_by_lua_block { ngx.say("a") ngx.log(ngx.ERR, "after a") ngx.say("b") } body_filter_by_lua_block { ngx.log(ngx.ERR, "bf ", ngx.arg[1]) } }
}
"""
FIXED_REQUESTS = [("GET", "/static/f"), ("GET", "/static/nosuch"), ("POST", "/static/f"),
                  ("GET", "/arg?x"), ("GET", "/arg?x&x=2&y"), ("GET", "/setvar"), ("GET", "/unset"),
                  ("GET", "/setexit"), ("GET", "/bferr"), ("HEAD", "/headerr"),
                  ("GET", "/say204"), ("HEAD", "/say204"), ("GET", "/say444"), ("GET", "/bfend"),
                  ("GET", "/bfempty"), ("GET", "/bforder"), ("HEAD", "/headerror"),
                  ("GET", "/st444"), ("HEAD", "/headbf"),
                  ("GET", "/argtab"), ("GET", "/argbad"), ("GET", "/argmap"), ("HEAD", "/method"),
                  ("GET", "/hfexit"), ("GET", "/ctype"), ("GET", "/hffail"), ("GET", "/order")]


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block text, requests)."""
    groups = generated(SEED, SERVERS, gen_server)
    groups.append(("fixed", FIXED, [Req(m, t, [("Host", "fixed.lua")]) for m, t in FIXED_REQUESTS]))
    return http_conf(groups), groups


CONF, GROUPS = build()
#: Static files: the locations without a content handler serve these, as do ep_static.
FILES = {f"html/g{n}/{name}": f"static g{n} {name}\n" for n in range(SERVERS)
         for name in ("ep_static", "l1", "l2", "l3/x", "l0/new")}
FILES["html/fixed/static/f"] = "a file\n"  # its filters log "while sending response"


fuzz_pair = pair_fixture(CONF, FILES)


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 100, 400)


def _show(reply: Reply) -> str:
    return f"{reply.status} {reply.comparable()['headers']} {reply.body!r}"


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    diffs = []
    for req in reqs:
        mark_logs(fuzz_pair)
        where = f"  {req.method} {req.target} {req.headers[1:]} {req.body!r}\n"
        try:
            real, ours = fuzz_pair.both(req)
        except ValueError as exc:  # a body without a status line (see _location)
            diffs.append(where + f"    unreadable reply: {exc}")
            continue
        our_log, real_log = settled_logs(fuzz_pair, 0.2)
        if ours.comparable() != real.comparable():
            diffs.append(where + f"    nginx: {_show(real)}\n    ours:  {_show(ours)}")
        elif our_log != real_log:
            diffs.append(where + f"    nginx log: {real_log}\n    our log:   {our_log}")
    assert not diffs, (f"seed {SEED}, {label}: {len(diffs)} of {len(reqs)} differ\n{block}\n"
                       + "\n".join(diffs))


# --- bad configurations --------------------------------------------------------------------

BAD = [
    "set_by_lua_block { return 1 }", "set_by_lua_block x { return 1 }",
    "set_by_lua_block $uri { return 1 }", "set_by_lua_block $a $b { return 1 }",
    "content_by_lua_block { ngx.say(1) } content_by_lua_block { ngx.say(2) }",
    "rewrite_by_lua_block x { }", "access_by_lua_block { } access_by_lua_block { }",
    "header_filter_by_lua_block a b { }", "body_filter_by_lua_block;", "log_by_lua_block;",
    "lua_code_cache maybe;", "lua_code_cache on off;", "content_by_lua;",
    "content_by_lua_block { ngx.say('x') ", "set_by_lua_block $ { return 1 }",
    "content_by_lua_block { ngx.say(\"}\") }", "content_by_lua_block { ngx.say([[ } ]]) }",
    "if ($arg_a) { content_by_lua_block { ngx.say(1) } }",
    "if ($arg_a) { set_by_lua_block $v { return 1 } }",
    "if ($arg_a) { rewrite_by_lua_block { } }", "lua_need_request_body x;",
    "set_by_lua $v;", "set_by_lua $v 'return 1' $arg_a;", "content_by_lua 'a' 'b';",
]


@requires_nginx
@pytest.mark.parametrize("body", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_same_config_verdict_as_nginx(tmp_path: Path, body: str) -> None:
    conf = "events {}\nhttp {\nserver {\nlocation / {\n" + body + "\n}\n}\n}\n"
    ours, real = config_verdicts(tmp_path, conf)
    assert ours == real, conf
