"""Seeded randomized differential test of ngx_lua's request API against real OpenResty
(ngx_lua 0.10.23 + resty.core).

One real nginx serves ``SERVERS`` generated servers (``server_name gN.req``), each with
``LOCATIONS`` prefix locations ``/gN/lI`` and a regex location ``/gN/rDIGITS/REST`` (for
``$1``/``$2``), whose rewrite/access/content_by_lua_block run a random sequence of request
API calls, each under ``pcall``: ``ngx.req.get_headers`` (max, raw, the metatable's
``h.foo_bar`` / ``h["Foo-Bar"]``), ``set_header`` / ``clear_header`` (odd names and
values: numbers, booleans, tables, nil, CR/LF, Host, Content-Length, Cookie...),
``get_uri_args`` / ``set_uri_args``, ``read_body`` / ``get_post_args`` / ``get_body_data``,
``get_method`` / ``set_method``, ``http_version``, ``raw_header``, ``is_internal``,
``start_time``, ``set_uri`` (with and without jump), and ``ngx.var`` reads and writes
(unknown, captures, ``arg_*``, ``http_*``, ``cookie_*``, ``sent_http_*``, a ``set``
variable, non-changeable ones, ``$args``, ``$limit_rate``). ``P`` records each call's
results (count, types, values; tables with their keys sorted) in ``ngx.ctx``, and the
content handler says them all, so the body compares them. Random GET/POST/HEAD requests
(odd query strings, duplicate / odd-case / underscored / empty / over a hundred headers,
small form and other bodies) go to both sides: status, body, the headers that matter and
the error-log lines (level info) must match. A divergence prints the seed, the server
block and the request; set REQ_FUZZ_SEED to explore other seeds. ``KEPT`` holds the
divergences found so far, checked whatever the seed.

Both sides are asked over a socket (see :class:`SocketPair`), so the underscored header
nginx ignores goes through our parser too. Left out: a server whose handlers read
``ngx.req.raw_header()`` gets no underscored header, because nginx's raw header keeps the
line it ignored and our listener does not pass the raw head on (repro: ``X_Under: u`` then
``ngx.say(ngx.req.raw_header())``: nginx shows the line, we do not).
"""

from __future__ import annotations

import os
import random

import pytest

from tests.differential import Reply, Req, parse_reply
from tests.fuzzing import assert_case_count, assert_group_as_nginx
from tests.lua_api.harness import ENC_LUA
from tests.oracle import RealNginx, requires_nginx, spell_port
from tests.server.harness import Served

#: Fixed, so every run checks the same cases.
SEED = int(os.environ.get("REQ_FUZZ_SEED", "20261127"))
SERVERS = 10
LOCATIONS = 3

#: ``P(label, ...)`` keeps a call's results for ``OUT()``, which the content handlers
#: end with; tables are shown with their keys sorted (pairs order is not comparable).
INIT = r"""
    init_by_lua_block {""" + ENC_LUA + r"""
        function P(label, ...)
            local n = select("#", ...)
            local out = { label, n }
            for i = 1, n do out[#out + 1] = enc((select(i, ...))) end
            local ctx = ngx.ctx
            ctx.lines = ctx.lines or {}
            ctx.lines[#ctx.lines + 1] = table.concat(out, " ")
        end
        function OUT()
            ngx.say(table.concat(ngx.ctx.lines or {}, "\n"))
        end
    }
"""

HEADER_NAMES = ['"X-Foo"', '"x_foo"', '"Foo-Bar"', '"Host"', '"Content-Length"', '"Cookie"',
                '"User-Agent"', '"If-Modified-Since"', '"Content-Type"', "12", "true", "nil",
                '"X-Dup"', '"a\\r\\nb"', '""', '"Referer"', '"X-Forwarded-For"', '"FOO-bar"',
                '"Accept-Encoding"', '"Connection"']
HEADER_VALUES = ['"v"', '"a b"', "12", "1.5", "true", "false", "{}", '{"a"}', '{"a", "b"}',
                 "{1, true}", "nil", '""', '"a\\r\\nb"', '"x\\n"', '"a=1; b=2"', '"h.test"',
                 '"Thu, 01 Jan 1970 00:00:01 GMT"', '"5"', '"-1"', '"bad host/x"', '{"x.y", "z"}',
                 '{"", "z"}', '{"z", ""}', '"99999999999999999999"']
#: get_headers(...) / get_uri_args(...) argument lists
MAXES = ["", "1", "2", "0", "-1", "nil, true", "3, true", '"x"', "2.5", "true", "200",
         "1, true"]
HDR_INDEX = ["foo_bar", "x_foo", '["Foo-Bar"]', '["X-FOO"]', "x_dup", "cookie", "host",
             "x_under", '["x_under"]', "x_empty", '[1]', "user_agent"]
VAR_READS = ["http_x_foo", "http_foo_bar", "http_x_dup", "http_cookie", "http_user_agent",
             "http_host", "host", "cookie_a", "cookie_b", "cookie_c", "content_length",
             "content_type", "http_x_under", "http_x_empty", "args", "arg_a", "arg_b",
             "arg_A", "arg_", "is_args", "request_uri", "query_string", "uri", "x", "X",
             "nope", "request_method", "sent_http_content_type", "http_if_modified_since",
             "limit_rate", "request_body", "[1]", "[2]", "[0]", "[3]", "[-1]", "[true]",
             '["1"]', "document_uri"]
VAR_WRITES = ["x", "X", "uri", "host", "args", "limit_rate", "nope", "request_uri",
              "[1]", "http_x_foo", "query_string", "arg_a", "is_args"]
#: (numbers large enough that a write to $limit_rate does not pace the reply for seconds)
VAR_VALUES = ['"v"', "120000", "nil", "true", "1.5", '""', '"100k"', '"a=1&b"', '"abc"', '"-5"']
#: (tables of one key: the order of several keys is pairs()'s, which LuaJIT's hash seed
#: decides per VM)
URI_ARGS = ['"a=1&b=2"', '"a b"', '"x=%20"', "12", '""', "{a=1}", "{a=true}", "{a=false}",
            "{a={1,2}}", "{a={}}", "{a={b=1}}", "{[1]=2}", "nil", "true",
            '{a="x y&="}', '{a={true, "x"}}', '"?a=1"', '"a\\nb"', "{a=1.5}"]
METHODS = ["ngx.HTTP_GET", "ngx.HTTP_POST", "ngx.HTTP_HEAD", "ngx.HTTP_PUT",
           "ngx.HTTP_DELETE", "ngx.HTTP_OPTIONS", "ngx.HTTP_PATCH", "ngx.HTTP_TRACE", "3",
           "0", "-1", "1e10", '"GET"', "nil", "2.5", "ngx.HTTP_MKCOL"]
URIS = ['""', '"a"', '"/a%20b"', '"/a b"', '"/x?y=1"', '"/\\0z"', '"/\\255"', "12", "nil",
        '"{g}/l1"', '"{g}/r5/z"', '"{g}/nowhere"', '"/a\\nb"', '"{g}/l0?q"']
JUMPS = ["", ", true", ", false", ", nil", ", false, true", ", true, true"]


def _call(rng: random.Random, g: str) -> str:
    """One request API call (an expression whose values P records, or a statement)."""
    r = rng.random()
    if r < 0.1:
        return f"return ngx.req.get_headers({rng.choice(MAXES)})"
    if r < 0.17:
        return f"return ngx.req.get_headers().{rng.choice(HDR_INDEX)}".replace(".[", "[")
    if r < 0.27:
        return (f"ngx.req.set_header({rng.choice(HEADER_NAMES)}, "
                f"{rng.choice(HEADER_VALUES)})")
    if r < 0.31:
        return f"ngx.req.clear_header({rng.choice(HEADER_NAMES)})"
    if r < 0.47:
        name = rng.choice(VAR_READS)
        return f"return ngx.var{'' if name.startswith('[') else '.'}{name}"
    if r < 0.55:
        name = rng.choice(VAR_WRITES)
        return (f"ngx.var{'' if name.startswith('[') else '.'}{name} = "
                f"{rng.choice(VAR_VALUES)}")
    if r < 0.62:
        return f"return ngx.req.get_uri_args({rng.choice(MAXES)})"
    if r < 0.68:
        return f"ngx.req.set_uri_args({rng.choice(URI_ARGS)})"
    if r < 0.72:
        return "return ngx.req.read_body()"
    if r < 0.77:
        return f"return ngx.req.get_post_args({rng.choice(MAXES[:5] + ['-1'])})"
    if r < 0.79:
        return "return ngx.req.get_body_data()"
    if r < 0.82:
        return "return ngx.req.get_method()"
    if r < 0.85:
        return f"return ngx.req.set_method({rng.choice(METHODS)})"
    if r < 0.89:
        return f"return ngx.req.raw_header({rng.choice(['', 'true', 'false', '1'])})"
    if r < 0.92:
        return rng.choice(["return ngx.req.http_version()", "return ngx.req.is_internal()",
                           "return type(ngx.req.start_time())"])
    uri = rng.choice(URIS).replace("{g}", g)
    return f"return ngx.req.set_uri({uri}{rng.choice(JUMPS)})"


def _handler(rng: random.Random, g: str, label: str, most: int) -> str:
    """A handler body: calls under pcall, P recording each one's results."""
    return " ".join(f'P("{label}{i}", pcall(function() {_call(rng, g)} end))'
                    for i in range(rng.randint(1, most)))


def _location(rng: random.Random, g: str, head: str) -> str:
    """A location: maybe ``set $x``, ``lua_need_request_body``, rewrite and access
    handlers, and a content handler that says what P kept."""
    lines = [f"    location {head} {{"]
    if rng.random() < 0.4:
        lines.append('        set $x "init";')
    if rng.random() < 0.15:
        lines.append("        lua_need_request_body on;")
    for phase, p in (("rewrite", "rw"), ("access", "ac")):
        if rng.random() < 0.35:
            lines.append(f"        {phase}_by_lua_block {{ {_handler(rng, g, p, 3)} }}")
    lines.append(f"        content_by_lua_block {{ {_handler(rng, g, 'co', 5)} OUT() }}")
    lines.append("    }")
    return "\n".join(lines)


QUERIES = ["", "?a=1&b=2", "?a=1&a=2&a", "?=b&a=&&b", "?a+b=c+d&%20=%41", "?a=%zz&%=1",
           "?a;b=1;c", "?&&&", "?A=1&a=2", "?a=%2", "?" + "&".join(f"k{i}=v" for i in range(105)),
           "?arg_a=1&b=%E9", "?a=1?b=2", "?a"]
#: (name, value) headers requests pick from; the underscored one nginx ignores (and logs).
HEADERS = [("X-Foo", "a"), ("x-foo", "b"), ("X_Under", "u"), ("Foo-Bar", "fb"),
           ("FOO-BAR", "fb2"), ("X-Empty", ""), ("Cookie", "a=1; b=2"), ("Cookie", "c=3"),
           ("User-Agent", "ua/1"), ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:01 GMT"),
           ("Referer", "http://r.test/"), ("X-Dup", "1"), ("X-Dup", "2"),
           ("Content-Type", "text/plain")]
BODIES = [b"a=1&b=2", b"a&b=&=c&&d=%20x+y", b"%zz=1&a=%41", b"a=1;b=2", b"x", b"a=1&a=2&a=3",
          "&".join(f"p{i}=1" for i in range(105)).encode()]
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def _request(rng: random.Random, n: int, path: str, raw: bool) -> Req:
    """A random request to ``path``: method, query, headers, maybe a body. ``raw``: the
    server's locations read raw_header, which would show the underscored line nginx
    ignored (our listener does not keep it: see the module docstring), so none is sent."""
    method = rng.choice(["GET", "GET", "POST", "POST", "HEAD"])
    heads = [("Host", f"g{n}.req")]
    heads += [h for h in rng.sample(HEADERS, rng.randint(0, 6)) if not raw or "_" not in h[0]]
    if rng.random() < 0.08:
        heads += [(f"X-H{i}", str(i)) for i in range(105)]
    body = b""
    if method == "POST" or rng.random() < 0.1:
        body = rng.choice(BODIES + [b""])
        if rng.random() < 0.7:
            heads = [h for h in heads if h[0] != "Content-Type"] + [FORM]
    version = "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1"
    return Req(method, path + rng.choice(QUERIES), heads, body, version)


def gen_server(rng: random.Random, n: int) -> tuple[str, list[Req]]:
    """A server ``gN.req`` with generated locations and requests to them."""
    g = f"/g{n}"
    lines = [f"server {{\n    listen 127.0.0.1:{{port}};\n    server_name g{n}.req;",
             "    location / { content_by_lua_block { P(\"fallback\", ngx.var.uri) OUT() } }"]
    locs = [_location(rng, g, f"{g}/l{i}") for i in range(LOCATIONS)]
    locs.append(_location(rng, g, f"~ ^{g}/r(\\d*)/(.*)$"))
    lines += locs + ["}\n"]
    paths = [f"{g}/l{i}" for i in range(LOCATIONS)] + [f"{g}/r12/x%20y", f"{g}/r/"]
    raw = any("raw_header" in loc for loc in locs)  # set_uri may jump to any of them
    reqs = [_request(rng, n, rng.choice(paths), raw) for _ in range(14)]
    return "\n".join(lines), reqs


def _kept(path: str, *calls: str, phase: str = "content") -> str:
    """A location of the kept server whose handler makes ``calls`` (content says them)."""
    body = " ".join(f'P("{n}", pcall(function() {c} end))' for n, c in enumerate(calls))
    if phase == "content":
        return f"    location {path} {{ content_by_lua_block {{ {body} OUT() }} }}"
    return (f"    location {path} {{ {phase}_by_lua_block {{ {body} }} "
            "content_by_lua_block { OUT() } }")


#: Divergences the generator found once, kept whatever the seed: set_uri's argument
#: checks and their order, is_internal after it; get_uri_args' table argument and its
#: count (empty keys); set_header tables (an empty first value, one-of-a-kind headers),
#: Host and Content-Length values refused; $query_string read-only; ngx.var[0]; writing
#: an unset "set" variable (no warning); the server named in the log line about an
#: ignored header line.
KEPT = "\n".join([
    "server {\n    listen 127.0.0.1:{port};\n    server_name kept.req;",
    '    location / { content_by_lua_block { OUT() } }',
    _kept("/k/uri", 'return ngx.req.set_uri("/x", nil)', 'return ngx.req.set_uri("/x", 1)',
          'return ngx.req.set_uri("/x", false, nil)', 'return ngx.req.set_uri("/x", 1, 1)',
          'return ngx.req.set_uri("/a\\nb", nil)', 'return ngx.req.set_uri("/a\\nb", true, 1)',
          'return ngx.req.set_uri("/x", false, false, 1)', 'return ngx.req.set_uri(12.5)',
          'return ngx.req.set_uri("/a\\nb", true)', 'return ngx.req.set_uri("/y", true)',
          "return ngx.var.uri, ngx.req.is_internal()"),
    _kept("/k/jump", 'return ngx.req.set_uri("/a b", nil)',
          'return ngx.req.set_uri("/k/args", true)', phase="access"),
    _kept("/k/args", "return ngx.req.get_uri_args(nil, true)",
          'return ngx.req.get_uri_args(3, "x")', "return ngx.req.get_uri_args(0, {z=1})",
          "return ngx.req.get_uri_args(1)", "return ngx.req.get_uri_args(2)",
          "return ngx.req.get_uri_args(false, false)"),
    _kept("/k/hdr", 'ngx.req.set_header("Foo-Bar", {"", "z", ""})',
          'ngx.req.set_header("User-Agent", {"a", "b"})',
          'ngx.req.set_header("Cookie", {"a", "b"})', 'ngx.req.set_header("Host", "a..b")',
          'ngx.req.set_header("Host", {"X.y:80", "bad/"})', 'ngx.req.set_header("Host", "a b")',
          'ngx.req.set_header("Content-Length", {"0", "x"})',
          'ngx.req.set_header("Content-Length", "99999999999999999999")',
          "return ngx.req.get_headers()", "return ngx.var.host, ngx.var.content_length"),
    "    location /k/var { set $x 1; content_by_lua_block { "
    'P("q", pcall(function() ngx.var.query_string = "a" end)) '
    'P("c", ngx.var[0], ngx.var[0.5], ngx.var[-1]) OUT() } }',
    "    location /k/unset { content_by_lua_block { ngx.var.x = 1 P(\"x\", ngx.var.x) OUT() } }",
    "    location ~ ^/k/re(\\d+) { content_by_lua_block { P(\"c\", ngx.var[0], ngx.var[1]) OUT() } }",
    "}\n"])
KEPT_REQUESTS = [Req("GET", p, [("Host", "kept.req"), ("X_Under", "u")])
                 for p in ("/k/uri", "/k/jump?=&a&&b=1", "/k/args?=b&a=&&b", "/k/hdr",
                           "/k/var?a=1", "/k/unset", "/k/re12")]


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block text, requests)."""
    rng = random.Random(SEED)
    groups = []
    for n in range(SERVERS):
        block, reqs = gen_server(rng, n)
        groups.append((f"server-{n}", block, reqs))
    if KEPT_REQUESTS:
        groups.append(("kept", KEPT, KEPT_REQUESTS))
    conf = ("error_log logs/error.log info;\nevents {}\nhttp {\n    access_log off;\n" + INIT
            + "".join(g[1] for g in groups) + "}\n")
    return conf, groups


CONF, GROUPS = build()


class SocketPair:
    """Real nginx and our server, both asked over a socket (as ``Pair`` is used by
    tests.fuzzing): the requests go through our HTTP/1 parser too, which drops the
    underscored header (and logs it) as nginx does before Lua sees the headers. Our
    listener has a port of its own; its log shows nginx's instead."""

    def __init__(self, conf: str) -> None:
        self.real = RealNginx(conf)
        self.ours = Served(conf)

    def __enter__(self) -> "SocketPair":
        self.real.__enter__()
        self.ours.__enter__()
        self.prefix = self.ours.prefix
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.ours.__exit__(*exc)
        finally:
            self.real.__exit__(*exc)

    @property
    def port(self) -> int:
        return self.real.port

    @property
    def ports(self) -> list[int]:
        return self.real.ports

    def both(self, req: Req) -> tuple[Reply, Reply]:
        raw = req.raw()
        return parse_reply(self.real.request(raw)), parse_reply(self.ours.request(raw))

    def engine_errors(self) -> str:
        return spell_port(self.ours.error_log(), self.ours.port, str(self.real.port))


@pytest.fixture(scope="module")
def fuzz_pair():  # type: ignore[no-untyped-def]
    """One real nginx and one server of ours for all the groups."""
    with SocketPair(CONF) as pair:
        yield pair

#: Response headers a user would compare (Date differs by nature).
SHOWN = {"content-type", "content-length", "location", "transfer-encoding", "connection"}


def seen(reply: Reply) -> tuple:
    """Status, the headers that matter, the body."""
    heads = [(k.lower(), v) for k, v in reply.headers if k.lower() in SHOWN]
    return reply.status, heads, reply.body


def describe(req: Req) -> str:
    """The request, replayable."""
    return f"{req.method} {req.target} {req.version} {req.headers!r} body={req.body!r}"


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 100, 300)


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs,
                          same=lambda real, ours: seen(real) == seen(ours),
                          shown=lambda reply: repr(seen(reply)), describe=describe)
