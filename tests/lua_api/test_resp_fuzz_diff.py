"""Seeded randomized differential test of ngx_lua's response header and status API against
real OpenResty (ngx_lua 0.10.23 + resty.core).

One real nginx serves ``SERVERS`` generated servers (``server_name gN.resp``), each with
``LOCATIONS`` locations whose rewrite/access/content_by_lua_block and
header_filter_by_lua_block run a short random sequence of ``ngx.header`` writes (common
and custom names in odd case, underscores, numbers; strings, numbers, booleans, tables,
nil, "", CR/LF) and reads, ``ngx.resp.get_headers`` (max, raw), ``ngx.status`` reads and
writes (good and bad codes, strings, after output), ``ngx.headers_sent``,
``ngx.send_headers``, output, ``ngx.exit`` and ``ngx.redirect`` (odd URIs, every status).
Each call runs under ``pcall`` (the ending ones sometimes bare) and ``P`` logs what it
returned, so every read is compared through the error log (level info). The locations
also carry ``add_header`` (``always``), ``expires``, ``default_type``, ``charset`` and
``error_page`` at random. Random GET/HEAD requests (some HTTP/1.0) go to both sides; the
status line, the body, the whole header list (names as sent, order, repeats; Date values
and time-based Expires values masked) and the error-log lines must match. A divergence
prints the seed, the server block and the request; set RESP_FUZZ_SEED to explore other
seeds. The ``fixed`` server keeps the divergences found so far whatever the seed.
"""

from __future__ import annotations

import os
import random
import re

import pytest

from tests.differential import Reply, Req
from tests.fuzzing import (assert_case_count, generated, http_conf, pair_fixture,
                           settled_logs)
from tests.lua.cases import mark_logs
from tests.lua_api.harness import ENC_LUA
from tests.oracle import requires_nginx

#: Fixed, so every run checks the same cases.
SEED = int(os.environ.get("RESP_FUZZ_SEED", "20261127"))
SERVERS = 12
LOCATIONS = 4

#: Defined once for every request: ``P(label, ...)`` logs a call's results, tables with
#: their keys sorted (pairs order is not comparable).
INIT = r"""
    init_by_lua_block {""" + ENC_LUA + r"""
        function P(label, ...)
            local out = { label }
            for i = 1, select("#", ...) do out[#out + 1] = enc((select(i, ...))) end
            ngx.log(ngx.INFO, table.concat(out, " "))
        end
    }
"""

NAMES = ['"Content-Type"', '"content-type"', '"Content-Length"', '"Location"',
         '"Cache-Control"', '"Set-Cookie"', '"Server"', '"Date"', '"Last-Modified"', '"ETag"',
         '"Content-Encoding"', '"Transfer-Encoding"', '"Connection"', '"Keep-Alive"',
         '"Link"', '"X-Foo"', '"x-FOO"', '"X_Bar"', '"x-bar"', '"X-Multi"', "12", "1.5",
         '"Expires"', '"X-Foo"', '"x-multi"']
#: ngx.header.NAME spellings (underscores become dashes).
DOT_NAMES = ["x_foo", "content_type", "cache_control", "X_Multi", "set_cookie", "location",
             "content_length", "server"]
VALUES = ['"v"', '"a b"', '"text/html"', '"/loc"', '"http://h.test/x"', '"no-cache"',
          '"k=v"', "12", "-3", "1.5", "0", "true", "false", "{}", '{"a"}', '{"a", "b"}',
          '{1, 2.5}', '{"a", true}', "nil", '""', '"a\\r\\nb"', '"a\\nb"', '"x\\r"',
          '"Thu, 01 Jan 1970 00:16:40 GMT"', '"W/\\"e\\""', '"5"', '"0"']
STATUSES = ["100", "199", "200", "201", "204", "299", "302", "304", "404", "444", "500",
            "599", "600", "999", "1000", "0", "-1", '"201"', '"abc"', "2.5", "nil"]
EXITS = ["200", "201", "204", "301", "302", "304", "400", "403", "404", "444", "500",
         "503", "0", "ngx.OK", "ngx.ERROR", "599"]
URIS = ['"/a"', '"http://x.test/b?c=1"', '"rel"', '""', '"/a b"', '"//x"', '"/a\\nb"',
        '"/%0a"', "12", '"https://x.test"']
REDIRECT_STATUSES = [None, "301", "302", "303", "307", "308", "200", "404", '"302"',
                     '"x"', "nil", "302.7"]
MAXES = ["", "1", "2", "0", "-1", "nil, true", "3, true", '"x"', "2.5"]


def _name(rng: random.Random) -> str:
    """An ``ngx.header`` index: bracketed or dotted."""
    if rng.random() < 0.25:
        return "ngx.header." + rng.choice(DOT_NAMES)
    return f"ngx.header[{rng.choice(NAMES)}]"


def _set(rng: random.Random) -> str:
    return f"{_name(rng)} = {rng.choice(VALUES)}"


def _reads(rng: random.Random, label: str) -> str:
    """A read whose results P logs."""
    r = rng.random()
    if r < 0.4:
        return f'P("{label}", pcall(function() return {_name(rng)} end))'
    if r < 0.65:
        args = rng.choice(MAXES)
        return f'P("{label}", pcall(ngx.resp.get_headers{", " if args else ""}{args}))'
    if r < 0.85:
        return f'P("{label}", pcall(function() return ngx.status end))'
    return f'P("{label}", ngx.headers_sent)'


def _statement(rng: random.Random, label: str) -> str:
    """A header/status change or a read, under pcall."""
    r = rng.random()
    if r < 0.45:
        return f'P("{label}", pcall(function() {_set(rng)} end))'
    if r < 0.6:
        return f'P("{label}", pcall(function() ngx.status = {rng.choice(STATUSES)} end))'
    return _reads(rng, label)


def _ending(rng: random.Random, label: str) -> str:
    """ngx.exit or ngx.redirect, under pcall or bare."""
    if rng.random() < 0.55:
        call = f"ngx.exit({rng.choice(EXITS)})"
    else:
        status = rng.choice(REDIRECT_STATUSES)
        uri = rng.choice(URIS)
        call = f"ngx.redirect({uri})" if status is None else f"ngx.redirect({uri}, {status})"
    if rng.random() < 0.6:
        return f'P("{label}", pcall(function() {call} end))'
    return call


OUTPUT = ['ngx.say("body")', 'ngx.print("")', 'P("sh", ngx.send_headers())',
          'P("sh", pcall(ngx.send_headers))', 'P("fl", ngx.flush())', 'ngx.print("a", 1)']


def _handler(rng: random.Random, label: str, most: int, output: bool, ending: bool) -> str:
    """A handler body: statements, perhaps output among them, perhaps an ending."""
    stmts = [_statement(rng, f"{label}{i}") for i in range(rng.randint(1, most))]
    if output and rng.random() < 0.5:
        at = rng.randint(0, len(stmts))
        stmts.insert(at, rng.choice(OUTPUT))
    if ending and rng.random() < 0.3:
        stmts.append(_ending(rng, label + "e"))
    return " ".join(stmts)


#: Location directives mixed in (each with its own chance).
DIRECTIVES = [
    ("add_header X-Add a;", 0.25), ("add_header X-Always b always;", 0.2),
    ("add_header Cache-Control private;", 0.1), ("expires {expires};", 0.25),
    ("default_type text/x-d;", 0.2),
    ("charset utf-8;", 0.2), ("error_page 404 500 {g}/ep;", 0.15),
    ("error_page 404 =200 {g}/eps;", 0.1), ("error_page 403 503 {g}/eps;", 0.1),
]


def _location(rng: random.Random, g: str, i: int) -> str:
    """Location ``{g}/l{i}``: random directives and Lua handlers."""
    lines = [f"    location {g}/l{i} {{"]
    for text, chance in DIRECTIVES:
        if rng.random() < chance:
            expires = rng.choice(["epoch", "max", "1h", "off"])
            lines.append("        " + text.format(g=g, expires=expires))
    for phase, p in (("rewrite", "rw"), ("access", "ac")):
        if rng.random() < 0.35:
            body = _handler(rng, p, 2, output=False, ending=True)
            lines.append(f"        {phase}_by_lua_block {{ {body} }}")
    kind = rng.random()
    if kind < 0.8:
        body = _handler(rng, "co", 4, output=True, ending=True)
        tail = rng.choice(['ngx.say("end")', 'ngx.print("end")', "", 'ngx.say("end")'])
        lines.append(f"        content_by_lua_block {{ {body} {tail} }}")
    elif kind < 0.9:
        lines.append('        return 200 "ret";')
    # else: the static file html/gN/lI (or a 404)
    if rng.random() < 0.4:
        body = " ".join(_statement(rng, f"hf{n}") for n in range(rng.randint(1, 3)))
        lines.append(f"        header_filter_by_lua_block {{ {body} }}")
    lines.append("    }")
    return "\n".join(lines)


def gen_server(rng: random.Random, n: int) -> tuple[str, list[Req]]:
    """A server ``gN.resp`` with generated locations, its error pages, and requests."""
    g = f"/g{n}"
    lines = [f"server {{\n    listen 127.0.0.1:{{port}};\n    server_name g{n}.resp;",
             f'    location {g}/ep {{ content_by_lua_block {{ P("ep", ngx.status) '
             f'ngx.say("ep ", ngx.status) }} }}',
             f"    location {g}/eps {{ }}"]
    lines += [_location(rng, g, i) for i in range(LOCATIONS)]
    lines.append("}\n")
    host = [("Host", f"g{n}.resp")]
    reqs = []
    for i in range(LOCATIONS):
        for _ in range(3):
            method = rng.choice(["GET", "GET", "HEAD"])
            version = "HTTP/1.0" if rng.random() < 0.2 else "HTTP/1.1"
            reqs.append(Req(method, f"{g}/l{i}", host, b"", version))
    return "\n".join(lines), reqs


#: Divergences the generator found once, kept whatever the seed: a table for
#: Content-Length stops at its first value that is not all digits ("failed to set
#: header", resty.core's frame in the traceback), an empty value in a table adds no line
#: (and clears a single-valued header); no default type for a 304; ngx.headers_sent is
#: false in a header filter; a negative or huge status is nginx's unsigned code (a C
#: int for the FFI); an nginx error page drops a Content-Length line Lua set; an empty
#: ngx.print sends the header (Lua header filter runs) at once; ``expires`` writes into
#: a Cache-Control line Lua set (its spelling kept) and into none once Lua cleared it.
#: HTTP/1.0 held output: no computed length once Lua cleared Content-Length (nginx's
#: field stays), none after an empty print (it sent the header), a 204's or 304's body
#: still written, status and default type settled at the first output (ngx.status reads
#: 200 after an access handler's print), a HEAD holds nothing. ngx.redirect adds its
#: Location after a location line Lua set; Lua overwriting nginx's own Location (return)
#: keeps its place in the list, relative. A field nginx points to (Server, ETag...) takes
#: the name Lua spelled at each set, and once cleared, its emptied element keeps its
#: place for the next set; every element Lua empties (or pushes empty: clearing a header
#: there is none of, "" in a table) still counts against ngx.resp.get_headers' limit.
#: ngx.header["Last-Modified"] reads nginx's last_modified_time (a static file's mtime;
#: nil once Lua set a value that is no date). Location is such a field until Lua sets
#: a value starting with "/" (and from ngx.redirect on); Cache-Control's emptied line
#: keeps its spelling; ``expires`` writes into an Expires line Lua emptied (not sent) or
#: set (its spelling kept). ngx.exit's "after sending out the response status" prints
#: nginx's code unsigned. Content-Length emptied by Lua: nginx's pointer to it stays, so
#: a file's length is not sent (an error page's is); a Lua header filter reads the
#: header as prepared (no default type for a status it set).

FIXED = r"""server {
    listen 127.0.0.1:{port};
    server_name fixed.resp;
    location /cl { content_by_lua_block { P("cl", pcall(function() ngx.header.content_length = {1, 2.5} end)) ngx.say("x") } }
    location /cl2 { content_by_lua_block { ngx.header.content_length = {"2.5", 1} } }
    location /empty { content_by_lua_block { ngx.header["X-A"] = {"a", ""} ngx.header["X-B"] = {"", "b"} ngx.header["Server"] = {"s", ""} ngx.say("x") } }
    location /304 { content_by_lua_block { ngx.status = 304 ngx.say("x") } }
    location /hfsent { content_by_lua_block { ngx.say("x") } header_filter_by_lua_block { P("hf", ngx.headers_sent) } }
    location /neg { content_by_lua_block { ngx.status = -1 P("st", ngx.status) ngx.say("x") } }
    location /huge { content_by_lua_block { ngx.status = 2^32 + 5 P("st", ngx.status) ngx.say("x") } }
    location /clerr { content_by_lua_block { ngx.header.content_length = 5 error("x") } }
    location /print { content_by_lua_block { ngx.print("") P("co") } header_filter_by_lua_block { P("hf") } }
    location /readafter { content_by_lua_block { ngx.say("x") P("ct", ngx.header.content_type) P("cl", ngx.header.content_length) } }
    location /respmax { content_by_lua_block { ngx.say("x") } header_filter_by_lua_block { P("hf", pcall(ngx.resp.get_headers, 1)) } }
    location /printexit { content_by_lua_block { ngx.print("") P("ct", ngx.header["content-type"]) ngx.exit(301) } }
    location /cc { expires epoch; content_by_lua_block { ngx.header["cache-control"] = {"a", "b"} ngx.say("x") } }
    location /ccnil { expires max; content_by_lua_block { ngx.header["Cache-Control"] = nil ngx.say("x") } }
    location /h10cl { content_by_lua_block { ngx.header.content_length = nil P("cl", pcall(function() ngx.header.content_length = 1.5 end)) ngx.print("end") } }
    location /h10empty { content_by_lua_block { ngx.print("") ngx.print("end") } }
    location /h10204 { content_by_lua_block { ngx.print("a", 1) ngx.status = 204 } }
    location /h10304 { content_by_lua_block { ngx.print("a", 1) ngx.status = 304 } }
    location /h10st { access_by_lua_block { ngx.print("a") } content_by_lua_block { P("st", ngx.status) ngx.print("b") } }
    location /h10head { content_by_lua_block { ngx.print("a") P("st", pcall(function() ngx.status = 204 end)) } }
    location /redir { rewrite_by_lua_block { ngx.header.location = "a" ngx.header.x = 1 ngx.redirect("/r") } }
    location /retloc { return 302 /z; header_filter_by_lua_block { ngx.header.transfer_encoding = "q" ngx.header.location = {"/b", "/c"} } }
    location /retnil { return 302 /z; header_filter_by_lua_block { ngx.header.x = "q" ngx.header.location = nil } }
    location /respell { content_by_lua_block { ngx.header["Server"] = "a" ngx.header.ETag = {1, 2} ngx.say("x") } header_filter_by_lua_block { ngx.header.server = {1, 2.5} ngx.header.etag = 3 } }
    location /slot { content_by_lua_block { ngx.header.server = "a" ngx.header.x = "1" ngx.header.ETag = "e" ngx.header.server = nil ngx.header.etag = nil P("n", pcall(ngx.resp.get_headers, 3)) ngx.header.server = nil ngx.header.ETAG = "f" ngx.header.server = "b" ngx.say("x") } }
    location /hidden { content_by_lua_block { ngx.header.x = nil P("a", pcall(ngx.resp.get_headers, 1)) ngx.header.y = {} ngx.header.z = {"a", "", "b"} P("b", pcall(ngx.resp.get_headers, 4)) ngx.header.Z = {"", "q"} ngx.header.content_length = nil P("c", pcall(ngx.resp.get_headers, 8)) P("d", pcall(ngx.resp.get_headers, 9)) ngx.say("x") } }
    location /lm { header_filter_by_lua_block { P("lm", ngx.header["Last-Modified"], ngx.header.etag, ngx.header.date) P("h", ngx.resp.get_headers()) } }
    location /locptr { rewrite_by_lua_block { ngx.header["Location"] = true } content_by_lua_block { ngx.status = 302 ngx.header.location = "W/x" ngx.header.x = 1 ngx.header.LOCATION = "/y" ngx.header.Location = "z" } }
    location /ccslot { content_by_lua_block { ngx.header.x = 1 ngx.header["Cache-Control"] = "" ngx.say("x") } header_filter_by_lua_block { ngx.header.content_length = "" ngx.header.cache_control = true ngx.header["Content-Length"] = "5" } }
    location /exitneg { content_by_lua_block { ngx.status = -1 ngx.send_headers() ngx.exit(403) } }
    location /exphf { expires epoch; content_by_lua_block { ngx.say("x") } header_filter_by_lua_block { ngx.header.expires = nil } }
    location /expset { expires max; content_by_lua_block { ngx.header.expires = {"a", ""} ngx.header.EXPIRES = "b" ngx.header.y = 1 ngx.say("x") } }
    location /redirloc { content_by_lua_block { ngx.redirect("http://x.test/b", 308) } header_filter_by_lua_block { ngx.header.location = "/c" } }
    location /clstatic { rewrite_by_lua_block { ngx.header.content_length = "" } }
    location /clexit { rewrite_by_lua_block { ngx.header.content_length = nil ngx.exit(404) } }
    location /hf304 { content_by_lua_block { ngx.status = 304 ngx.say("end") } header_filter_by_lua_block { ngx.status = 599 P("hf", ngx.resp.get_headers(), ngx.header.content_type) } }
    location /lmbad { content_by_lua_block { ngx.header.last_modified = "x" P("lm", ngx.header.last_modified) ngx.header.last_modified = "Thu, 01 Jan 1970 00:16:40 GMT" P("lm", ngx.header.last_modified) ngx.say("x") } }
}
"""
FIXED_REQUESTS = [("GET", "/readafter"), ("GET", "/respmax"), ("GET", "/printexit"), ("GET", "/cl"), ("GET", "/cl2"), ("GET", "/empty"), ("GET", "/304"),
                  ("GET", "/hfsent"), ("GET", "/neg"), ("HEAD", "/huge"), ("GET", "/clerr"),
                  ("GET", "/print"), ("GET", "/cc"), ("GET", "/ccnil"),
                  ("GET", "/h10cl", "HTTP/1.0"), ("GET", "/h10empty", "HTTP/1.0"),
                  ("GET", "/h10204", "HTTP/1.0"), ("GET", "/h10304", "HTTP/1.0"),
                  ("GET", "/h10st", "HTTP/1.0"), ("HEAD", "/h10head", "HTTP/1.0"),
                  ("GET", "/redir"), ("GET", "/retloc"), ("GET", "/retnil"),
                  ("GET", "/respell"), ("GET", "/slot"), ("GET", "/hidden"), ("GET", "/lm"),
                  ("HEAD", "/lmbad"), ("GET", "/locptr"), ("GET", "/ccslot"), ("GET", "/exitneg"),
                  ("GET", "/exphf"), ("GET", "/expset"), ("HEAD", "/redirloc"),
                  ("GET", "/clstatic"), ("GET", "/clexit"), ("GET", "/hf304")]


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block text, requests)."""
    groups = generated(SEED, SERVERS, gen_server)
    groups.append(("fixed", FIXED, [Req(m, t, [("Host", "fixed.resp")], b"", *v)
                                    for m, t, *v in FIXED_REQUESTS]))
    return http_conf(groups, "    access_log off;\n" + INIT), groups


CONF, GROUPS = build()
FILES = {f"html/g{n}/{name}": f"static g{n} {name}\n" for n in range(SERVERS)
         for name in ("eps", "l1", "l2")} | {"html/lm": "lm\n", "html/clstatic": "cl\n"}

fuzz_pair = pair_fixture(CONF, FILES, mtime=1_000_000)

#: Dates that do not depend on the clock: the expires directive's epoch and max, the
#: files' mtime and the values Lua sets (all in 1970).
_FIXED_DATES = {"Thu, 01 Jan 1970 00:00:01 GMT", "Thu, 31 Dec 2037 23:55:55 GMT"}
_DATE = re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT")


def _clock(m: re.Match[str]) -> str:
    """A date that depends on the clock (nginx's Date, ``expires 1h``) as ``<time>``."""
    v = m.group(0)
    return v if v in _FIXED_DATES or " 1970 " in v else "<time>"


def seen(reply: Reply) -> tuple:
    """What the client sees: the status line, the header list as sent (dates that
    depend on the clock masked, in Date and Expires lines as in any other), the body."""
    heads = [(k, _DATE.sub(_clock, v)) for k, v in reply.headers]
    return reply.status, reply.reason, heads, reply.body


def masked(log: list) -> list:
    """Error-log lines, their clock-dependent dates masked as seen() masks them."""
    return [(level, _DATE.sub(_clock, text)) for level, text in log]


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 100, 300)


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    diffs = []
    for req in reqs:
        mark_logs(fuzz_pair)
        where = f"  {req.method} {req.target} {req.version}\n"
        real, ours = fuzz_pair.both(req)
        our_log, real_log = map(masked, settled_logs(fuzz_pair, 0.2))
        if seen(ours) != seen(real):
            diffs.append(where + f"    nginx: {seen(real)}\n    ours:  {seen(ours)}")
        elif our_log != real_log:
            diffs.append(where + f"    nginx log: {real_log}\n    our log:   {our_log}")
    assert not diffs, (f"seed {SEED}, {label}: {len(diffs)} of {len(reqs)} differ\n{block}\n"
                       + "\n".join(diffs))
