"""ngx_http_auth_request_module against real nginx: the verdict of each subrequest status,
WWW-Authenticate copied on 401, auth_request_set evaluated in the subrequest (Lua
headers, proxied headers, $uri/$args/$status of the subrequest, $request_uri of the main
request), `satisfy any` with allow/deny, inheritance and `off`, error pages, named
locations, internal auth locations, a subrequest that closes the connection, the
error-log lines, and `nginx -t` errors for bad directives. The trace test checks that
the subrequest is nested in the main request's trace."""

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
    access_log off;
    root html;
    server {
        listen 127.0.0.1:{port0};
        set $sub_method "";
        location /ok {
            auth_request /auth/ok;
            content_by_lua_block {
                ngx.say("uri=", ngx.var.uri, " ru=", ngx.var.request_uri,
                        " m=", ngx.var.request_method, " sub=", ngx.var.sub_method)
            }
        }
        location /lua401 {
            auth_request /auth/lua401;
            auth_request_set $u $sent_http_x_user;
            add_header X-U $u always;
        }
        location /lua403 {
            auth_request /auth/lua403;
            auth_request_set $u $sent_http_x_user;
            add_header X-U $u always;
        }
        location /ret401 { auth_request /auth/ret401; }
        location /ret404 { auth_request /auth/ret404; }
        location /ret500 { auth_request /auth/ret500; }
        location /ret204 { auth_request /auth/ret204; }
        location /nofile { auth_request /auth/nofile; }
        location /redirect { auth_request /auth/redirect; }
        location /close { auth_request /auth/close; }
        location /internal { auth_request /auth/internal; }
        location /errpage { auth_request /auth/errpage; auth_request_set $a "$uri|$status";
                            add_header X-A $a always; }
        location /vars {
            auth_request /auth/hdr?x=1;
            auth_request_set $a "$uri|$args|$is_args|$request_uri|$request_method|$status";
            auth_request_set $b "$sent_http_x_user|$upstream_http_x_user|$1";
            add_header X-A $a;
            add_header X-B $b;
        }
        location /args {
            auth_request /auth/ok;
            auth_request_set $args "from=$sent_http_x_user";
            content_by_lua_block { ngx.say(ngx.var.args, " ", ngx.var.arg_from) }
        }
        location /body {
            auth_request /auth/body;
            auth_request_set $len $sent_http_x_len;
            add_header X-Len $len always;
        }
        location /proxy {
            auth_request /auth/proxy;
            auth_request_set $u "$upstream_http_x_user|$sent_http_x_user|$upstream_status";
            add_header X-U $u always;
        }
        location /proxy401 { auth_request /auth/proxy401; }
        location /intercept401 { auth_request /auth/intercept401; }
        location /any/ok { satisfy any; deny all; auth_request /auth/ok; }
        location /any/deny { satisfy any; deny all; auth_request /auth/lua403; }
        location /any/401 { satisfy any; deny all; auth_request /auth/lua401; }
        location /any/allow { satisfy any; allow 127.0.0.1; auth_request /auth/lua403; }
        location /any/error { satisfy any; deny all; auth_request /auth/ret404; }
        location /all/deny { deny all; auth_request /auth/ok; }
        location /ep401 { auth_request /auth/lua401; error_page 401 = /login; }
        location /ep403 { auth_request /auth/lua403; error_page 403 /denied.html; }
        location /ep500 { auth_request /auth/ret404; error_page 500 = @fallback; }
        location /named { auth_request /auth/ok; try_files /nonexistent @named; }
        location @named {
            auth_request /auth/lua403;
            content_by_lua_block { ngx.say("named") }
        }
        location @fallback { return 200 "fallback\n"; }
        location = /login { auth_request off; return 200 "login page\n"; }
        location = /denied.html { auth_request off; }

        location = /auth/ok {
            content_by_lua_block {
                ngx.var.sub_method = ngx.req.get_method() .. "|" .. ngx.var.request_method
                ngx.header["X-User"] = "bob"
                ngx.say("this body is dropped")
            }
        }
        location = /auth/lua401 {
            content_by_lua_block {
                ngx.header["WWW-Authenticate"] = {'Basic realm="a"', 'Bearer'}
                ngx.header["X-User"] = "eve"
                ngx.exit(401)
            }
        }
        location = /auth/lua403 {
            content_by_lua_block { ngx.header["X-User"] = "eve" ngx.exit(403) }
        }
        location = /auth/ret401 {
            add_header WWW-Authenticate 'Basic realm="r"' always;
            return 401;
        }
        location = /auth/ret404 { return 404; }
        location = /auth/ret500 { return 500; }
        location = /auth/ret204 { return 204; }
        location = /auth/redirect { content_by_lua_block { ngx.redirect("/x") } }
        location = /auth/close { return 444; }
        location = /auth/internal { internal; return 200; }
        location = /auth/errpage { error_page 404 = /auth/ret403; return 404; }
        location = /auth/ret403 { return 403; }
        location /auth/hdr { content_by_lua_block { ngx.header["X-User"] = "hdr" } }
        location = /auth/body {
            content_by_lua_block {
                ngx.req.read_body()
                ngx.header["X-Len"] = tostring(#(ngx.req.get_body_data() or ""))
                ngx.exit(200)
            }
        }
        location = /auth/proxy { proxy_pass http://127.0.0.1:{port1}/check; }
        location = /auth/proxy401 { proxy_pass http://127.0.0.1:{port1}/deny; }
        location = /auth/intercept401 {
            proxy_intercept_errors on;
            error_page 401 = /auth/ret401;
            proxy_pass http://127.0.0.1:{port1}/deny;
        }
    }
    server {
        listen 127.0.0.1:{port0};
        server_name inherit.test;
        auth_request /auth/lua403;
        auth_request_set $u $sent_http_x_user;
        add_header X-U "[$u]" always;
        location /off { auth_request off; }
        location /inherit { }
        location /own { auth_request /auth/ok; auth_request_set $v $sent_http_x_user;
                        add_header X-U "[$u|$v]"; }
        location = /auth/ok { content_by_lua_block { ngx.header["X-User"] = "bob" } }
        location = /auth/lua403 {
            content_by_lua_block { ngx.header["X-User"] = "eve" ngx.exit(403) }
        }
    }
    server {
        listen 127.0.0.1:{port1};
        location /check { add_header X-User "up-$http_authorization"; return 200 "checked"; }
        location /deny {
            add_header WWW-Authenticate "Basic realm=one" always;
            add_header WWW-Authenticate "Basic realm=two" always;
            return 401;
        }
    }
}
"""

_PAGES = ("ret401 ret404 ret500 ret204 nofile redirect close internal errpage vars body "
          "proxy proxy401 intercept401 lua401 lua403 any/ok any/deny any/401 any/allow "
          "any/error all/deny ep401 ep403 ep500 off inherit own")
FILES = {f"html/{name}": f"{name}\n" for name in _PAGES.split()}
FILES["html/denied.html"] = "denied page\n"

A = [("Host", "localhost"), ("Authorization", "Basic dTpw")]
I = [("Host", "inherit.test")]

CASES = [
    ("allowed: 200, body dropped, $request_uri of the main", Req("GET", "/ok?a=1", A)),
    ("HEAD: the subrequest is a GET", Req("HEAD", "/ok", A)),
    ("POST: no body for the subrequest", Req("POST", "/ok", A, b"data")),
    ("Lua 401: last WWW-Authenticate copied", Req("GET", "/lua401", A)),
    ("Lua 403, variable set first", Req("GET", "/lua403", A)),
    ("return 401: add_header does not act in subrequests", Req("GET", "/ret401", A)),
    ("404 is unexpected: 500", Req("GET", "/ret404", A)),
    ("500 is unexpected", Req("GET", "/ret500", A)),
    ("204 allows", Req("GET", "/ret204", A)),
    ("missing file in the auth location", Req("GET", "/nofile", A)),
    ("302 from Lua is unexpected", Req("GET", "/redirect", A)),
    ("444 closes the connection", Req("GET", "/close", A)),
    ("internal auth location", Req("GET", "/internal", A)),
    ("error_page inside the subrequest", Req("GET", "/errpage", A)),
    ("variables of the subrequest; ? kept in its URI", Req("GET", "/vars?q=1", A)),
    ("auth_request_set of $args", Req("GET", "/args?a=1", A)),
    ("request body not passed", Req("POST", "/body", A, b"12345")),
    ("proxied auth: upstream headers", Req("GET", "/proxy", A)),
    ("proxied 401: first WWW-Authenticate", Req("GET", "/proxy401", A)),
    ("proxied 401 intercepted", Req("GET", "/intercept401", A)),
    ("satisfy any: auth allows", Req("GET", "/any/ok", A)),
    ("satisfy any: both deny", Req("GET", "/any/deny", A)),
    ("satisfy any: 401 wins", Req("GET", "/any/401", A)),
    ("satisfy any: allow rule first", Req("GET", "/any/allow", A)),
    ("satisfy any: unexpected status", Req("GET", "/any/error", A)),
    ("satisfy all: deny rule first", Req("GET", "/all/deny", A)),
    ("error_page 401 = /login keeps the header", Req("GET", "/ep401", A)),
    ("error_page 403 to a file", Req("GET", "/ep403", A)),
    ("error_page 500 to a named location", Req("GET", "/ep500", A)),
    ("named location asks again", Req("GET", "/named", A)),
    ("direct request to an internal auth location", Req("GET", "/auth/internal", A)),
    ("inherited from server", Req("GET", "/inherit", I)),
    ("auth_request off", Req("GET", "/off", I)),
    ("own auth_request_set replaces the inherited list", Req("GET", "/own", I)),
]

_LOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")


def _log_since(path: Path, seen: dict, prefix: Path) -> list[tuple[str, str]]:
    """(level, message) of the lines written since the last look, prefix spelled {p}."""
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):]
    seen[path] = len(text)
    fresh = fresh.replace(str(prefix).rstrip("/"), "{p}")
    return [m.groups() for m in map(_LOG.match, fresh.splitlines())
            if m and "client closed connection while waiting" not in m.group(2)]


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(CONF, with_mime_types(FILES), extra_ports=1) as p:
        yield p


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _log_since(real_log, seen, pair.real.prefix), _log_since(our_log, seen, pair.prefix)
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
    time.sleep(0.05)  # nginx may write its log line after the response
    assert _log_since(our_log, seen, pair.prefix) == _log_since(real_log, seen,
                                                                pair.real.prefix)


def test_subrequest_nested_in_trace(tmp_path: Path) -> None:
    """The auth subrequest is a ``subrequest`` hop holding the child's own events; the
    access decision is recorded; the body of the subrequest reaches no one."""
    write_prefix(tmp_path, "events {}\nhttp {\n server {\n  listen 127.0.0.1:8999;\n"
                 "  location /q { auth_request /a; content_by_lua_block { ngx.say('q') } }\n"
                 "  location = /a { content_by_lua_block { ngx.say('secret') } }\n }\n}\n")
    engine = Engine.load(str(tmp_path / "conf/nginx.conf"), prefix=str(tmp_path) + "/")

    async def ask() -> object:
        await engine.start()
        try:
            return await engine.request(HttpRequest(
                "GET", "/q", "HTTP/1.1", [("Host", "x")], b"", "127.0.0.1", 1,
                "127.0.0.1", 8999))
        finally:
            await engine.stop()

    ex = asyncio.run(ask())
    assert ex.response.body == b"q\n"
    hops = [e for e in ex.trace if e.kind == "hop"]
    assert [(h.data["hop"], h.data["uri"], h.data["status"], h.data["by"]) for h in hops] \
        == [("subrequest", "/a", 200, "auth_request")]
    child_kinds = [e.kind for e in hops[0].children]
    assert child_kinds[0] == "request" and "location" in child_kinds
    verdicts = [e.data for e in ex.trace if e.kind == "access"]
    assert [(v["rule"], v["verdict"], v["status"]) for v in verdicts] == [
        ("auth_request /a", "allow", 200)]


CONFIG_CASES = [
    ("duplicate", "location / { auth_request /a; auth_request /b; }"),
    ("duplicate after off", "location / { auth_request off; auth_request /b; }"),
    ("two arguments", "location / { auth_request /a /b; }"),
    ("no argument", "location / { auth_request; }"),
    ("inside if", "location / { if ($args) { auth_request /a; } }"),
    ("set: no $", "location / { auth_request_set u x; }"),
    ("set: one argument", "location / { auth_request_set $u; }"),
    ("set: a lone $", "location / { auth_request_set $ x; }"),
    ("set: builtin variable", "location / { auth_request_set $uri x; }"),
    ("set: another builtin", "location / { auth_request_set $host x; }"),
    ("set: unknown variable in value", "location / { auth_request_set $u $nosuch; }"),
    ("set: unclosed bracket", "location / { auth_request_set $u ${x; }"),
    ("set: empty variable name in value", "location / { auth_request_set $u $; }"),
    ("valid: changeable and prefixed names",
     "location / { set $s 1; auth_request_set $s x; auth_request_set $args y;"
     " auth_request_set $http_x $1; auth_request /a$uri; }"),
]


@requires_nginx
@pytest.mark.parametrize("loc", [c[1] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_same_config_error_as_nginx(tmp_path: Path, loc: str) -> None:
    write_prefix(tmp_path, "events {}\nhttp {\n    server {\n        listen 127.0.0.1:8999;\n"
                 f"        {loc}\n    }}\n}}\n")
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
