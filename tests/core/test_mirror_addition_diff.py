"""ngx_http_mirror_module and ngx_http_addition_filter_module against real nginx.

mirror: what the mirror location sees (method, arguments, headers, the body with
``mirror_request_body`` on or off, ``$request_uri``), that it runs after a main content
handler that does not yield (a shared-dict counter read by the main request), several
mirrors in order, inheritance and ``off``, ``try_files`` before it, ``return`` before
it, error_page redirects, a mirror target that 404s (its error-log line, with the
``subrequest:`` context), no access-log line for the subrequest, and a slow mirror
holding the main request (and its ``$request_time``) open.

addition: before/after bodies around static files, ``return`` and Lua output, targets
that 404 (nginx's page becomes part of the body), a ``?`` kept in the target's URI, the
header changes (no Content-Length, no Accept-Ranges, weak ETag, Last-Modified kept),
HEAD, Range, HTTP/1.0, non-200 statuses, ``addition_types``, inheritance, sub_filter
on either side, gzip over the whole stream, and a target whose access rules do not apply
(subrequests skip the access phase). ``nginx -t`` errors for both modules' directives.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from engine import Engine, HttpRequest
from tests.core.conftest import with_mime_types
from tests.differential import Pair, Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    root html;
    log_format m '$request_uri|$uri|$request_method|$status|$body_bytes_sent';
    access_log logs/access.log m;
    lua_shared_dict d 1m;
    server {
        listen 127.0.0.1:{port};
        server_name mirror.test;
        location /count { content_by_lua_block { ngx.say("n=", ngx.shared.d:get("n") or 0) } }
        location /lua {
            mirror /m;
            mirror /m2;
            content_by_lua_block { ngx.say("main n=", ngx.shared.d:get("n") or 0) }
        }
        location /body {
            mirror /mb;
            content_by_lua_block { ngx.say("main body=", ngx.req.get_body_data()) }
        }
        location /nobody {
            mirror /mb;
            mirror_request_body off;
            content_by_lua_block {
                ngx.say("before read=", ngx.req.get_body_data())
                ngx.req.read_body()
                ngx.say("after read=", ngx.req.get_body_data())
            }
        }
        location /twice { mirror /m; mirror /m?second; mirror /missing.txt; }
        location /ret { mirror /m; return 200 "ret\n"; }
        location /tf { mirror /m?tf; try_files /nope /fallback; }
        location /fallback { content_by_lua_block { ngx.say("fallback") } }
        location /ep { return 404; error_page 404 /epdst; }
        location /epdst { mirror /m?ep; content_by_lua_block { ngx.say("epdst") } }
        location /slow { mirror /slowm; content_by_lua_block { ngx.say("fast") } }
        location /m {
            internal;
            content_by_lua_block {
                ngx.shared.d:incr("n", 1, 0)
                ngx.log(ngx.WARN, "mirror uri=", ngx.var.uri, " ru=", ngx.var.request_uri,
                        " args=", ngx.var.args, " m=", ngx.req.get_method(),
                        " rm=", ngx.var.request_method, " h=", ngx.var.http_x_h)
                ngx.say("dropped")
            }
        }
        location /m2 { return 404; }
        location /mb {
            content_by_lua_block {
                ngx.log(ngx.WARN, "mb body=", ngx.req.get_body_data(), " cl=",
                        ngx.var.http_content_length, " m=", ngx.req.get_method())
            }
        }
        location /slowm { content_by_lua_block { ngx.sleep(0.3) ngx.log(ngx.WARN, "slow done") } }
    }
    server {
        listen 127.0.0.1:{port};
        server_name inherit.test;
        mirror /m;
        location /inh { content_by_lua_block { ngx.say("inh") } }
        location /off { mirror off; content_by_lua_block { ngx.say("off") } }
        location /own { mirror /m?own; content_by_lua_block { ngx.say("own") } }
        location /m {
            content_by_lua_block { ngx.log(ngx.WARN, "inherit mirror uri=", ngx.var.uri) }
        }
    }
    server {
        listen 127.0.0.1:{port};
        server_name add.test;
        add_before_body /parts/before.txt;
        add_after_body /parts/after.txt;
        location /page.html { }
        location /plain.txt { }
        location /typed { addition_types text/plain; alias html/plain.txt; }
        location /any { addition_types *; alias html/plain.txt; }
        location /ret { default_type text/html; return 200 "ret\n"; }
        location /empty { default_type text/html; return 200; }
        location /lua { default_type text/html; content_by_lua_block { ngx.say("m1") } }
        location /lua404 { default_type text/html; content_by_lua_block { ngx.exit(404) } }
        location /miss { default_type text/html; add_before_body /nope.txt;
                         add_after_body /nope2.txt; return 200 "main\n"; }
        location /q { default_type text/html; add_before_body /ret/target?x=1;
                      add_after_body ""; return 200 "q\n"; }
        location /beforeonly { default_type text/html; add_after_body ""; return 200 "b\n"; }
        location /target { default_type text/html;
                           content_by_lua_block { ngx.say("no") } }
        location /ep { return 404; error_page 404 =200 /page.html; }
        location /ep404 { return 404; error_page 404 /page.html; }
        location /redir { add_before_body /parts/redirect; default_type text/html;
                          return 200 "r\n"; }
        location /parts/redirect { return 302 /elsewhere; }
        location /denied { add_before_body /parts/denied.txt; default_type text/html;
                           return 200 "d\n"; }
        location /parts/denied.txt { deny all; }
        location /subf { sub_filter "BEFORE" "changed"; sub_filter "main" "MAIN";
                         default_type text/html; return 200 "main\n"; }
        location /subt { add_before_body /subtarget/before.txt; default_type text/html;
                         return 200 "main\n"; }
        location /subtarget/ { alias html/parts/; sub_filter "BEFORE" "sub-before"; }
        location /gz { access_log off; gzip on; gzip_min_length 1; default_type text/html;
                       return 200 "gzipped main\n"; }
        location /gzlua { access_log off; gzip on; gzip_min_length 1; default_type text/html;
                          content_by_lua_block { ngx.say("gzipped lua") } }
        location /etag { default_type text/html; add_header ETag '"abc"';
                         return 200 "e\n"; }
        location /etag2 { default_type text/html; add_header ETag 'bare';
                          return 200 "e\n"; }
    }
}
"""

FILES = {
    "html/file.txt": "file\n",
    "html/page.html": "<p>page</p>\n",
    "html/plain.txt": "plain\n",
    "html/parts/before.txt": "BEFORE\n",
    "html/parts/after.txt": "AFTER\n",
    "html/parts/denied.txt": "not denied\n",
}

M = [("Host", "mirror.test")]
MH = [("Host", "mirror.test"), ("X-H", "hv")]
I = [("Host", "inherit.test")]
A = [("Host", "add.test")]

CASES = [
    # -- mirror
    ("mirror: main first, then the mirrors", Req("GET", "/lua?x=1&y", MH)),
    ("mirror: the counter went up once", Req("GET", "/count", M)),
    ("mirror: POST with arguments", Req("POST", "/lua?p", M, b"abc")),
    ("mirror: HEAD keeps its method", Req("HEAD", "/lua", M)),
    ("mirror: the body goes along and is read", Req("POST", "/body", M, b"hello")),
    ("mirror: mirror_request_body off", Req("POST", "/nobody", M, b"hello")),
    ("mirror: several mirrors, a missing file", Req("GET", "/twice.txt", M)),
    ("mirror: return answers before mirroring", Req("GET", "/ret", M)),
    ("mirror: try_files runs first", Req("GET", "/tf", M)),
    ("mirror: error_page target mirrors", Req("GET", "/ep", M)),
    ("mirror: the counter after all that", Req("GET", "/count", M)),
    ("mirror: direct request to the internal mirror", Req("GET", "/m", M)),
    ("mirror: inherited from server", Req("GET", "/inh", I)),
    ("mirror: off", Req("GET", "/off", I)),
    ("mirror: own list replaces the inherited one", Req("GET", "/own", I)),
    # -- addition
    ("addition: static html", Req("GET", "/page.html", A)),
    ("addition: HEAD: header only, no subrequest", Req("HEAD", "/page.html", A)),
    ("addition: Range ignored", Req("GET", "/page.html", A + [("Range", "bytes=0-3")])),
    ("addition: If-Modified-Since: 304 first", Req("GET", "/page.html", A + [
        ("If-Modified-Since", "Thu, 01 Jan 2037 00:00:00 GMT")])),
    ("addition: HTTP/1.0", Req("GET", "/page.html", A, version="HTTP/1.0")),
    ("addition: text/plain not in the types", Req("GET", "/plain.txt", A)),
    ("addition: addition_types text/plain", Req("GET", "/typed", A)),
    ("addition: addition_types *", Req("GET", "/any", A)),
    ("addition: return", Req("GET", "/ret", A)),
    ("addition: empty return", Req("GET", "/empty", A)),
    ("addition: Lua output", Req("GET", "/lua", A)),
    ("addition: Lua 404", Req("GET", "/lua404", A)),
    ("addition: targets that 404", Req("GET", "/miss", A)),
    ("addition: ? stays in the target URI", Req("GET", "/q", A)),
    ("addition: before only", Req("GET", "/beforeonly", A)),
    ("addition: error_page =200 gets additions", Req("GET", "/ep", A)),
    ("addition: error_page keeping 404 does not", Req("GET", "/ep404", A)),
    ("addition: a target that redirects", Req("GET", "/redir", A)),
    ("addition: deny does not apply to subrequests", Req("GET", "/denied", A)),
    ("addition: main sub_filter leaves additions alone", Req("GET", "/subf", A)),
    ("addition: the target's own sub_filter", Req("GET", "/subt", A)),
    ("addition: gzip covers the whole stream",
     Req("GET", "/gz", A + [("Accept-Encoding", "gzip")])),
    ("addition: gzip over Lua output",
     Req("GET", "/gzlua", A + [("Accept-Encoding", "gzip")])),
    ("addition: add_header ETag made weak", Req("GET", "/etag", A)),
    ("addition: a bare ETag dropped", Req("GET", "/etag2", A)),
    ("addition: missing main file", Req("GET", "/nothere.html", A)),
]

_LOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")


def _since(path: Path, seen: dict, prefix: Path, error_log: bool = True) -> list:
    """What a log got since the last look (error log: (level, message) pairs)."""
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):]
    seen[path] = len(text)
    fresh = fresh.replace(str(prefix).rstrip("/"), "{p}")
    if not error_log:
        return fresh.splitlines()
    return [m.groups() for m in map(_LOG.match, fresh.splitlines())
            if m and "client closed connection while waiting" not in m.group(2)]


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(CONF, with_mime_types(FILES)) as p:
        yield p


def _logs(pair) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """(real, ours): the error- and access-log lines written since the last call."""
    seen = pair.__dict__.setdefault("_seen", {})
    out = []
    for prefix in (pair.real.prefix, pair.prefix):
        out.append(_since(prefix / "logs" / "error.log", seen, prefix)
                   + _since(prefix / "logs" / "access.log", seen, prefix, False))
    return out[0], out[1]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):  # type: ignore[no-untyped-def]
    _logs(pair)
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
    time.sleep(0.05)  # nginx may write its log lines after the response
    real_log, our_log = _logs(pair)
    assert our_log == real_log


@requires_nginx
def test_slow_mirror_holds_the_request(pair):  # type: ignore[no-untyped-def]
    """The client has its answer at once, but nginx ends the request (log phase,
    connection close) only when the mirror is done; here too."""
    _logs(pair)
    req = Req("GET", "/slow", M)
    t0 = time.time()
    real = pair.ask_real(req)
    real_time = time.time() - t0
    t0 = time.time()
    ours = pair.ask_engine(req)
    our_time = time.time() - t0
    assert ours.comparable() == real.comparable()
    assert real_time >= 0.25 and our_time >= 0.25
    time.sleep(0.05)
    real_log, our_log = _logs(pair)
    assert our_log == real_log
    assert any("slow done" in message for _, message in our_log[:1])


BAD = [
    ("mirror off; mirror /a;", '"mirror" directive is duplicate'),
    ("mirror /a; mirror off;", '"mirror" directive is duplicate'),
    ("mirror /a; mirror /b; mirror off;", '"mirror" directive is duplicate'),
    ("mirror off; mirror off;", '"mirror" directive is duplicate'),
    ("mirror;", 'invalid number of arguments in "mirror" directive'),
    ("mirror /a /b;", 'invalid number of arguments in "mirror" directive'),
    ("mirror_request_body maybe;", 'invalid value "maybe" in "mirror_request_body"'),
    ("add_before_body /a; add_before_body /b;", '"add_before_body" directive is duplicate'),
    ("add_after_body /a /b;", 'invalid number of arguments in "add_after_body"'),
    ("addition_types;", 'invalid number of arguments in "addition_types" directive'),
    ("mirror /a; mirror /a; location /x { mirror off; }", None),
    ("add_before_body ''; add_after_body /x; addition_types text/plain *;", None),
]


@requires_nginx
@pytest.mark.parametrize("body,expected", BAD, ids=[b for b, _ in BAD])
def test_config_errors_as_nginx(tmp_path: Path, body: str, expected: str | None) -> None:
    conf = "events {}\nhttp {\n server {\n  listen 127.0.0.1:1;\n  location / { %s }\n }\n}\n"
    write_prefix(tmp_path, conf % body)
    real = first_emerg(nginx_test(tmp_path).output)
    ours = engine_load_error(tmp_path)
    assert ours == real
    assert (expected is None and real is None) or (expected is not None and expected in real)


def test_trace_records_mirrors_and_additions(tmp_path: Path) -> None:
    """The mirror decision and the addition decision are trace events, and each
    subrequest is a ``subrequest`` hop with its own events (the mirror's is appended
    when it ends, after the main request's content)."""
    write_prefix(tmp_path, "events {}\nhttp {\n server {\n  listen 127.0.0.1:8999;\n"
                 "  default_type text/html;\n"
                 "  location /q { mirror /m; add_before_body /b; add_after_body /a;\n"
                 "               content_by_lua_block { ngx.say('q') } }\n"
                 "  location /m { return 204; }\n"
                 "  location /b { return 200 'b;'; }\n"
                 "  location /a { return 200 ';a'; }\n }\n}\n")
    engine = Engine.load(str(tmp_path / "conf/nginx.conf"), prefix=str(tmp_path) + "/")

    async def ask() -> object:
        await engine.start()
        try:
            return await engine.request(HttpRequest(
                "POST", "/q?k=v", "HTTP/1.1", [("Host", "x")], b"", "127.0.0.1", 1,
                "127.0.0.1", 8999))
        finally:
            await engine.stop()

    ex = asyncio.run(ask())
    assert ex.response.body == b"b;q\n;a"
    mirror = [e.data for e in ex.trace if e.kind == "mirror"]
    assert mirror == [{"uris": ["/m"], "request_body": True, "method": "POST", "args": "k=v"}]
    addition = [e.data for e in ex.trace if e.kind == "addition"]
    assert addition == [{"decision": "on", "before": "/b", "after": "/a"}]
    hops = [(e.data["uri"], e.data["method"], e.data["status"], e.data["by"])
            for e in ex.trace if e.kind == "hop"]
    assert hops == [("/b", "GET", 200, "add_before_body"), ("/a", "GET", 200, "add_after_body"),
                    ("/m", "POST", 204, "mirror")]
