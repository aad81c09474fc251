"""ngx_http_sub_filter_module and ngx_http_empty_gif_module against real nginx.

sub_filter: which responses are filtered (types, ``*``, empty bodies, error pages, HEAD,
subrequests, proxied and static responses), the header changes (Content-Length,
Last-Modified, ETag made weak or removed), nginx's matching order with several patterns
(the first candidate at the leftmost position, not the longest; a pattern that needs
more data than the response has), ``sub_filter_once`` per pattern, search strings with
variables, and matches that span body parts (Lua output in several prints and flushes,
a static file larger than one buffer). empty_gif: the image, its header, HEAD, 405,
If-Modified-Since. Then the configuration errors through ``nginx -t``.

Date is the only header left out of the comparison: the prefixes are copies with the
same mtimes, so ETag and Last-Modified must agree too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.conf import ConfigError
from tests.differential import Reply, Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

BIG = "".join(f"line {i:05d}: Hello, world! hello again.\n" for i in range(3000))

CONF = r"""
events {}
http {
    include mime.types;
    default_type text/html;
    server {
        listen 127.0.0.1:{port};
        root html;

        location /order/short-first { sub_filter ab X; sub_filter abc Y;
                                      return 200 "xab xabc"; }
        location /order/long-first  { sub_filter abc Y; sub_filter ab X;
                                      sub_filter_once off; return 200 "xab|xabd|xabc|xab"; }
        location /order/byte        { sub_filter zb 1; sub_filter ya 2; sub_filter_once off;
                                      return 200 "yazbya"; }
        location /case              { sub_filter HeLLo "Bye"; return 200 "x HELLO hello"; }
        location /non-ascii         { sub_filter "Ä" "A"; sub_filter_once off;
                                      return 200 "Ä ä Ä"; }
        location /all               { sub_filter hello bye; sub_filter_once off;
                                      return 200 "hello HELLO hellohello hell"; }
        location /once-each         { sub_filter a 1; sub_filter b 2; return 200 "abab"; }
        location /same-twice        { sub_filter a 1; sub_filter a 2; return 200 "aaa"; }
        location /empty-value       { sub_filter a ""; sub_filter b B; return 200 "aab"; }
        location /overlap           { sub_filter aa X; sub_filter_once off; return 200 "aaaaa"; }
        location /prefixes          { sub_filter "<a" "[A"; sub_filter "<a href" "[LINK";
                                      sub_filter_once off; return 200 "<a href=x><abbr>"; }
        location /vars              { sub_filter $arg_s "[$arg_r]"; sub_filter_once off;
                                      sub_filter fixed "F"; return 200 "one two One fixed"; }
        location /vars-empty        { sub_filter $arg_s X; return 200 "abc"; }
        location /empty-body        { sub_filter a b; return 200 ""; }
        location /plain             { sub_filter a b; default_type text/plain; return 200 "aaa"; }
        location /types             { sub_filter a b; sub_filter_types text/plain;
                                      default_type text/plain; return 200 "aaa"; }
        location /star              { sub_filter a b; sub_filter_types *;
                                      default_type application/x-foo; return 200 "aaa"; }
        location /charset           { sub_filter a b; charset utf-8; return 200 "aaa"; }
        location /etag              { sub_filter a b; sub_filter_last_modified on;
                                      add_header ETag '"v1"'; return 200 "aaa"; }
        location /etag-bare         { sub_filter a b; sub_filter_last_modified on;
                                      add_header ETag v1; return 200 "aaa"; }
        location /etag-cleared      { sub_filter a b; add_header ETag '"v1"'; return 200 "aaa"; }
        location /err               { sub_filter nginx NGX; return 404; }
        location /err-all           { sub_filter nginx NGX; sub_filter_once off;
                                      sub_filter_types text/plain; return 403; }
        location /st/               { sub_filter hello bye; sub_filter_once off; }
        location /lm/               { alias html/st/; sub_filter hello bye;
                                      sub_filter_last_modified on; }
        location /nested/           { sub_filter a b;
            location /nested/inherit { return 200 "aaa"; }
            location /nested/own     { sub_filter a c; sub_filter_once off; return 200 "aaa"; }
        }
        location /proxied/          { sub_filter hello bye; sub_filter_last_modified on;
                                      sub_filter_once off;
                                      proxy_pass http://127.0.0.1:{port}/plainfiles/; }
        location /plainfiles/       { alias html/st/; }
        location /anyfiles/         { alias html/st/; sub_filter hello bye; sub_filter_types *; }

        location /lua/split {
            sub_filter world there; sub_filter_once off;
            content_by_lua_block {
                ngx.print("hello wor"); ngx.flush(true)
                ngx.print("ld, wo"); ngx.print("r"); ngx.print("ld!")
            }
        }
        location /lua/held {
            sub_filter abcde 1; sub_filter abc 2;
            content_by_lua_block { ngx.print("xabcd"); ngx.print("X") }
        }
        location /lua/tail {
            sub_filter abcdef 1; sub_filter abc 2;
            content_by_lua_block { ngx.print("zzabc"); ngx.print("de") }
        }
        location /lua/pieces {
            sub_filter "<a href" "[LINK"; sub_filter "<a" "[A"; sub_filter "hello" "bye";
            sub_filter "ell" "3"; sub_filter "lo, w" "_"; sub_filter_once off;
            content_by_lua_block {
                local parts = {}
                for i = 1, 40 do
                    parts[#parts + 1] = "<a href=" .. i .. ">Hello, world</a><abbr>hell</abbr>"
                end
                local s = table.concat(parts)
                local n = tonumber(ngx.var.arg_n)
                for i = 1, #s, n do ngx.print(s:sub(i, i + n - 1)) end
            }
        }
        location /lua/type {
            sub_filter a b;
            content_by_lua_block {
                ngx.header.content_type = ngx.unescape_uri(ngx.var.arg_t)
                ngx.print("aaa")
            }
        }
        location /lua/capture {
            content_by_lua_block {
                local res = ngx.location.capture("/order/short-first")
                ngx.print(res.body, " ", tostring(res.header["Content-Length"]))
            }
        }

        location /gif        { empty_gif; }
        location /gif-if     { if ($arg_x) { set $y 1; } empty_gif; }
        location /gif-limit  { limit_except GET { allow all; } empty_gif; }
        location /gif-sub    { empty_gif; sub_filter GIF gif; sub_filter_types image/gif; }
    }
}
"""

FILES = {
    "html/st/i.html": "hello Hello HELLO\n",
    "html/st/t.txt": "hello text\n",
    "html/st/big.html": BIG,
}


def get(target: str, *headers: tuple[str, str], method: str = "GET",
        version: str = "HTTP/1.1") -> Req:
    return Req(method, target, [("Host", "localhost"), *headers], version=version)


CASES = [
    ("first candidate wins, not the longest", get("/order/short-first")),
    ("a longer candidate needing more data hides a shorter one at the end",
     get("/order/long-first")),
    ("candidates ordered by their byte", get("/order/byte")),
    ("case-insensitive search", get("/case")),
    ("once off", get("/all")),
    ("only ASCII letters are folded", get("/non-ascii")),
    ("once applies per pattern", get("/once-each")),
    ("the same search twice", get("/same-twice")),
    ("empty replacement still counts as applied", get("/empty-value")),
    ("overlapping matches", get("/overlap")),
    ("patterns that are prefixes of each other", get("/prefixes")),
    ("search string from a variable", get("/vars?s=ONE&r=1")),
    ("search string from a variable, empty", get("/vars?r=1")),
    ("every search string empty: no filtering", get("/vars-empty")),
    ("empty body: no filtering", get("/empty-body")),
    ("text/plain is not filtered by default", get("/plain")),
    ("sub_filter_types", get("/types")),
    ("sub_filter_types *", get("/star")),
    ("type with a charset", get("/charset")),
    ("sub_filter_last_modified on: ETag made weak", get("/etag")),
    ("sub_filter_last_modified on: unquoted ETag dropped", get("/etag-bare")),
    ("ETag removed", get("/etag-cleared")),
    ("error page filtered", get("/err")),
    ("error page, once off, HEAD", get("/err-all", method="HEAD")),
    ("static file", get("/st/i.html")),
    ("static file, HEAD", get("/st/i.html", method="HEAD")),
    ("static file, HTTP/1.0", get("/st/i.html", version="HTTP/1.0")),
    ("static text file not filtered", get("/st/t.txt")),
    ("static file, range ignored", get("/st/i.html", ("Range", "bytes=0-3"))),
    ("static file, If-None-Match", get("/st/i.html", ("If-None-Match", "*"))),
    ("static file larger than a buffer", get("/st/big.html")),
    ("static file, Last-Modified kept, weak ETag", get("/lm/i.html")),
    ("types *: a 304 loses its validators", get("/anyfiles/t.txt", ("If-None-Match", "*"))),
    ("types *: a text file", get("/anyfiles/t.txt")),
    ("inherited", get("/nested/inherit")),
    ("own patterns replace the outer ones", get("/nested/own")),
    ("proxied", get("/proxied/i.html")),
    ("proxied, large", get("/proxied/big.html")),
    ("Lua output: matches across prints and a flush", get("/lua/split")),
    ("Lua output: a match inside held bytes", get("/lua/held")),
    ("Lua output: a pending long match completed", get("/lua/tail")),
    *[(f"Lua output in parts of {n} bytes", get(f"/lua/pieces?n={n}"))
      for n in (1, 2, 3, 4, 5, 6, 7, 11, 64, 5000)],
    ("Lua content type with charset", get("/lua/type?t=text/html;%20charset=utf-8")),
    ("Lua content type with another parameter", get("/lua/type?t=text/html;q=1")),
    ("Lua content type with a space before ;", get("/lua/type?t=text/html%20;q=1")),
    ("Lua content type upper case", get("/lua/type?t=TEXT/HTML")),
    ("captured subrequest not filtered", get("/lua/capture")),
    ("empty_gif", get("/gif")),
    ("empty_gif HEAD", get("/gif", method="HEAD")),
    ("empty_gif POST", Req("POST", "/gif", [("Host", "localhost")], b"x=1")),
    ("empty_gif DELETE", get("/gif", method="DELETE")),
    ("empty_gif If-Modified-Since same date",
     get("/gif", ("If-Modified-Since", "Mon, 28 Sep 1970 06:00:00 GMT"))),
    ("empty_gif If-Modified-Since other date",
     get("/gif", ("If-Modified-Since", "Mon, 28 Sep 1970 06:00:01 GMT"))),
    ("empty_gif If-None-Match", get("/gif", ("If-None-Match", "*"))),
    ("empty_gif Range", get("/gif", ("Range", "bytes=0-1"))),
    ("empty_gif HTTP/1.0", get("/gif", version="HTTP/1.0")),
    ("empty_gif in an if", get("/gif-if?x=1")),
    ("empty_gif not kept under limit_except", get("/gif-limit", method="POST")),
    ("empty_gif filtered", get("/gif-sub")),
]


def comparable(reply: Reply) -> dict:
    """Everything but Date (ETag and Last-Modified agree: same files, same mtimes)."""
    return {"status": reply.status, "reason": reply.reason, "body": reply.body,
            "headers": [(k.lower(), v) for k, v in reply.headers if k.lower() != "date"]}


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):  # type: ignore[no-untyped-def]
    real, ours = pair.both(req)
    assert comparable(ours) == comparable(real)


@pytest.mark.parametrize("target", ["/st/big.html", "/proxied/big.html"])
def test_big_file_is_filtered_everywhere(pair, target: str) -> None:  # type: ignore[no-untyped-def]
    """The large file really is replaced all through (two matches per line)."""
    ours = pair.ask_engine(get(target))
    assert ours.body == BIG.replace("Hello", "bye").replace("hello", "bye").encode()


# --- configuration errors ---------------------------------------------------------------

PATTERNS_256 = "".join(f"sub_filter p{i} x;\n" for i in range(256))

ERROR_CASES = [
    ("empty search", 'sub_filter "" x;'),
    ("once not a flag", "sub_filter_once maybe;"),
    ("last_modified not a flag", "sub_filter_last_modified 1;"),
    ("unknown variable in search", "sub_filter $nope x;"),
    ("unknown variable in replacement", "sub_filter a $nope;"),
    ("unclosed bracket", 'sub_filter a "${x";'),
    ("three arguments", "sub_filter a b c;"),
    ("too many patterns", PATTERNS_256),
    ("types accumulate", "sub_filter_types *; sub_filter_types text/css; sub_filter a b;"),
    ("duplicate type is a warning", "sub_filter_types text/html text/css text/css;"),
    ("empty_gif with an argument", "empty_gif on;"),
    ("valid", "sub_filter $Host x; sub_filter_once off; empty_gif;"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_config_errors(tmp_path: Path, body: str) -> None:
    conf = "events {}\nhttp {\n server {\n  location / {\n" + body + "\n  }\n }\n}\n"
    write_prefix(tmp_path, conf)
    real = first_emerg(nginx_test(tmp_path).output)
    ours = engine_load_error(tmp_path)
    assert ours == real


@requires_nginx
def test_empty_gif_not_allowed_in_server(tmp_path: Path) -> None:
    write_prefix(tmp_path, "events {}\nhttp {\n server {\n  empty_gif;\n }\n}\n")
    real = first_emerg(nginx_test(tmp_path).output)
    assert real is not None
    with pytest.raises(ConfigError) as err:
        Engine.load(str(tmp_path / "conf" / "nginx.conf"), prefix=str(tmp_path) + "/")
    assert str(err.value) == real
