"""ngx_http_gzip_filter_module against real nginx: the compressed bytes themselves
(static files of several sizes, return, Lua output with flushes, error pages, proxied
responses), every condition nginx checks before compressing (status, type, length,
Accept-Encoding parsing with q-values, HTTP version, Via + gzip_proxied, gzip_disable
and msie6), the headers a compressed response gets (Content-Encoding, weak ETag, no
Content-Length nor Accept-Ranges, Vary), ranges, HEAD, $gzip_ratio, and the ``nginx -t``
errors of the gzip directives."""

from __future__ import annotations

import email.utils

import time
import zlib
from pathlib import Path

import pytest

from tests.differential import Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
events {}
http {
    include mime.types;
    gzip on;
    log_format ratio '$uri $status $gzip_ratio';
    access_log logs/ratio.log ratio;
    server {
        listen 127.0.0.1:{port};
        root html;
        error_page 418 /page404.html;
        location /l9/ { alias html/; gzip_comp_level 9; }
        location /l5/ { alias html/; gzip_comp_level 5; gzip_window 4k; gzip_hash 1k; }
        location /hash/ { alias html/; gzip_hash 128k; gzip_window 512; }
        location /types/ { alias html/; gzip_types text/plain; gzip_types text/css; }
        location /star/ { alias html/; gzip_types *; }
        location /off/ { alias html/; gzip off; }
        location /vary/ { alias html/; gzip_vary on; add_header X-After-Vary 1; }
        location /min24 { default_type text/html; gzip_min_length 24; return 200 "$uri-$uri-$uri-$uri"; }
        location /min25 { default_type text/html; gzip_min_length 25; return 200 "$uri-$uri-$uri-$uri"; }
        location /ret { default_type text/html; return 200 "<p>hello gzip hello gzip</p>"; }
        location /r403 { default_type text/html; return 403 "<p>forbidden forbidden</p>"; }
        location /r201 { default_type text/html; return 201 "<p>created created created</p>"; }
        location /r500 { default_type text/html; return 500; }
        location /teapot { return 418; }
        location /v10 { default_type text/html; gzip_http_version 1.0; return 200 "<p>one zero one zero</p>"; }
        location /lua {
            default_type text/html;
            content_by_lua_block {
                for i = 1, 50 do ngx.say("<li>item ", i, "</li>") end
                ngx.flush()
                ngx.say("<p>after a flush</p>")
                ngx.flush()
                ngx.flush()
                ngx.print({"<b>", "table", {"</b>"}})
                ngx.print("")
                ngx.say("<p>end</p>")
            }
        }
        location /luawait {
            default_type text/html;
            content_by_lua_block { ngx.send_headers() ngx.flush(true) ngx.say("<p>x</p>") }
        }
        location /luaeof {
            default_type text/html;
            content_by_lua_block { ngx.say("<p>before eof</p>") ngx.flush() ngx.eof() }
        }
        location /lualen {
            content_by_lua_block {
                ngx.header["Content-Type"] = "TEXT/HTML; charset=x"
                ngx.header["Content-Length"] = 29
                ngx.print("<p>length set by lua ...</p>\n")
            }
        }
        location /luaspace {
            content_by_lua_block {
                ngx.header["Content-Type"] = "text/html ; charset=x"
                ngx.say("<p>a space before the semicolon</p>")
            }
        }
        location /luaencoded {
            default_type text/html;
            content_by_lua_block { ngx.header["Content-Encoding"] = "br" ngx.say("<p>br</p>") }
        }
        location /luanotype {
            gzip_types *;
            content_by_lua_block { ngx.header["Content-Type"] = nil ngx.say("<p>no type</p>") }
        }
        location /luaetag {
            default_type text/html;
            content_by_lua_block { ngx.header["ETag"] = ngx.var.arg_e ngx.say("<p>etag</p>") }
        }
        location /px/ { proxy_pass http://127.0.0.1:{port}/backend/; }
        location /backend/ { gzip off; alias html/; }
        location /backend/ce { gzip off; default_type text/html; add_header Content-Encoding br; return 200 "<p>already encoded</p>"; }
        location /p/ {
            default_type text/html;
            location /p/off { return 200 "<p>proxied proxied</p>"; }
            location /p/any { gzip_proxied any; return 200 "<p>proxied proxied</p>"; }
            location /p/offany { gzip_proxied off any; return 200 "<p>proxied proxied</p>"; }
            location /p/auth { gzip_proxied auth; expires 1h; return 200 "<p>proxied proxied</p>"; }
            location /p/fallthrough { gzip_proxied AUTH; return 200 "<p>proxied proxied</p>"; }
            location /p/expired/future { gzip_proxied expired; expires 1h; return 200 "<p>proxied proxied</p>"; }
            location /p/expired/past { gzip_proxied expired; expires -1h; return 200 "<p>proxied proxied</p>"; }
            location /p/expired/epoch { gzip_proxied expired; expires epoch; return 200 "<p>proxied proxied</p>"; }
            location /p/expired/off { gzip_proxied expired; expires off; return 200 "<p>proxied proxied</p>"; }
            location /p/expired/cc { gzip_proxied no-cache; expires epoch; return 200 "<p>proxied proxied</p>"; }
            location /p/expired/bad {
                gzip_proxied expired;
                content_by_lua_block { ngx.header["Expires"] = "not a date" ngx.say("<p>x</p>") }
            }
            location /p/cc {
                gzip_proxied no-cache;
                gzip_proxied no-store private;
                add_header Cache-Control $arg_cc;
                add_header Cache-Control $arg_cc2;
                return 200 "<p>proxied proxied</p>";
            }
            location /p/nolm/ { gzip_proxied no_last_modified; alias html/; }
            location /p/noetag/ { gzip_proxied no_etag; alias html/; }
            location /p/noetaglua {
                gzip_proxied no_etag;
                content_by_lua_block {
                    if ngx.var.arg_e then ngx.header["ETag"] = ngx.var.arg_e end
                    ngx.say("<p>etag or not</p>")
                }
            }
            location /p/lualm {
                gzip_proxied no_last_modified;
                content_by_lua_block { ngx.header["Last-Modified"] = ngx.var.arg_lm ngx.say("<p>lm</p>") }
            }
        }
        location /d/ { default_type text/html; gzip_disable msie6 "^curl" "Fire.ox"; return 200 "<p>disable disable</p>"; }
        location /m6/ { default_type text/html; gzip_disable msie6; return 200 "<p>msie msie msie</p>"; }
    }
}
"""


def _noise(size: int) -> str:
    """Hardly compressible text: many literals, so zlib's memLevel (its symbol buffer
    and hash size) changes the bytes, which it does not for repetitive text."""
    seed, out = 12345, []
    for _ in range(size):
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        out.append("abcdefghijklmnopqrstuvwxyz <>/=\n"[seed >> 16 & 31])
    return "".join(out)


BIG = "".join(f"<li>line {i} of a big html file, {i * 7919 % 1000}</li>\n" for i in range(3000))
FILES = {
    "html/a.html": "".join(f"<p>hello gzip world {i}</p>\n" for i in range(400)),
    "html/big.html": BIG,
    "html/small.html": "<b>" + "x" * 300 + "</b>",
    "html/tiny.html": "0123456789",
    "html/noise12k.html": _noise(12000),
    "html/noise3k.html": _noise(3000),
    "html/noise600.html": _noise(600),
    "html/empty.html": "",
    "html/a.txt": "text " * 100,
    "html/a.css": "p { color: red; }\n" * 20,
    "html/a.js": "var x = 1;\n" * 30,
    "html/page404.html": "<h1>a custom error page, a custom error page</h1>\n",
}

AE = ("Accept-Encoding", "gzip")


def get(target: str, *headers: tuple[str, str], method: str = "GET",
        version: str = "HTTP/1.1") -> Req:
    return Req(method, target, [("Host", "localhost"), *headers], version=version)


def gz(target: str, *headers: tuple[str, str], **kw: str) -> Req:
    return get(target, AE, *headers, **kw)


VIA = ("Via", "1.1 proxy")
MSIE6 = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"

CASES = [
    # static files: the window shrinks with the file's length
    ("static 11k", gz("/a.html")),
    ("static big", gz("/big.html")),
    ("static small", gz("/small.html")),
    ("static under min length", gz("/tiny.html")),
    ("noise 12k: window 14, memLevel 7", gz("/noise12k.html")),
    ("noise 3k: window 12, memLevel 5", gz("/noise3k.html")),
    ("noise 600: window 10, memLevel 3", gz("/noise600.html")),
    ("noise 600, hash 1k: memLevel at least 1", gz("/l5/noise600.html")),
    ("noise 12k, level 9", gz("/l9/noise12k.html")),
    ("static empty", gz("/empty.html")),
    ("level 9", gz("/l9/big.html")),
    ("level 5 window 4k hash 1k", gz("/l5/big.html")),
    ("level 5 window 4k small file", gz("/l5/small.html")),
    ("hash 128k window 512", gz("/hash/a.html")),
    ("text/plain not in default types", gz("/a.txt")),
    ("gzip_types given twice", gz("/types/a.css")),
    ("gzip_types keeps text/html", gz("/types/a.html")),
    ("gzip_types other type", gz("/types/a.js")),
    ("gzip_types *", gz("/star/a.js")),
    ("gzip off", gz("/off/a.html")),
    ("without Accept-Encoding", get("/a.html")),
    ("HEAD", gz("/a.html", method="HEAD")),
    ("HTTP/1.0 below gzip_http_version", gz("/a.html", version="HTTP/1.0")),
    ("HTTP/1.0 with gzip_http_version 1.0", gz("/v10", version="HTTP/1.0")),
    ("range on a gzipped response", gz("/a.html", ("Range", "bytes=0-10"))),
    ("unsatisfiable range on a gzipped response", gz("/a.html", ("Range", "bytes=90000-"))),
    ("range without gzip", get("/a.html", ("Range", "bytes=0-10"))),
    ("vary when compressed", gz("/vary/a.html")),
    ("vary without Accept-Encoding", get("/vary/a.html")),
    ("no vary for a type not compressed", get("/vary/a.txt")),
    # return, statuses, error pages
    ("return 200", gz("/ret")),
    ("min length equal", gz("/min24")),
    ("min length above", gz("/min25")),
    ("403 with a body", gz("/r403")),
    ("201 not compressed", gz("/r201")),
    ("404 page", gz("/missing.html")),
    ("500 page not compressed", gz("/r500")),
    ("error_page to a static file", gz("/teapot")),
    # Lua
    ("lua with flushes", gz("/lua")),
    ("lua flush(true) before data", gz("/luawait")),
    ("lua eof after flush", gz("/luaeof")),
    ("lua Content-Length and uppercase type", gz("/lualen")),
    ("lua type with a space before ;", gz("/luaspace")),
    ("lua Content-Encoding set", gz("/luaencoded")),
    ("gzip_types * without a type", gz("/luanotype")),
    ("weak etag kept", gz('/luaetag?e=W/"abc"')),
    ("unquoted etag dropped", gz("/luaetag?e=abc")),
    # proxied responses
    ("proxied static file", gz("/px/a.html")),
    ("proxied HEAD", gz("/px/a.html", method="HEAD")),
    ("proxied, already encoded", gz("/px/ce")),
    # gzip_disable and msie6
    ("disable regex", gz("/d/", ("User-Agent", "curl/8.0"))),
    ("disable regex is caseless", gz("/d/", ("User-Agent", "CURL/8.0"))),
    ("disable regex no match", gz("/d/", ("User-Agent", "xcurl/8.0"))),
    ("disable second regex", gz("/d/", ("User-Agent", "Mozilla FireFox"))),
    ("msie6", gz("/d/", ("User-Agent", MSIE6))),
    ("msie6 SV1", gz("/d/", ("User-Agent", MSIE6[:-1] + "; SV1)"))),
    ("msie 5.5", gz("/m6/", ("User-Agent", "Mozilla/4.0 (compatible; MSIE 5.5; Windows)"))),
    ("msie 7", gz("/m6/", ("User-Agent", "Mozilla/4.0 (compatible; MSIE 7.0; Windows)"))),
    ("msie 6 at the very end", gz("/m6/", ("User-Agent", "MSIE 6.0"))),
    ("msie without room", gz("/m6/", ("User-Agent", "MSIE 6."))),
    ("msie6 without gzip_disable", gz("/ret", ("User-Agent", MSIE6))),
    ("first User-Agent counts", gz("/d/", ("User-Agent", "x"), ("User-Agent", "curl"))),
    # Via and gzip_proxied
    ("via, proxied off", gz("/p/off", VIA)),
    ("empty via", gz("/p/off", ("Via", ""))),
    ("via, any", gz("/p/any", VIA)),
    ("via, off any", gz("/p/offany", VIA)),
    ("via, auth without Authorization", gz("/p/auth", VIA)),
    ("via, auth with Authorization", gz("/p/auth", VIA, ("Authorization", "Basic eDp5"))),
    ("via, no response header to judge", gz("/p/fallthrough", VIA)),
    ("via, expires in the future", gz("/p/expired/future", VIA)),
    ("via, expires in the past", gz("/p/expired/past", VIA)),
    ("via, expires epoch", gz("/p/expired/epoch", VIA)),
    ("via, expires off", gz("/p/expired/off", VIA)),
    ("via, expires without the expired flag", gz("/p/expired/cc", VIA)),
    ("via, expires not a date", gz("/p/expired/bad", VIA)),
    ("via, no-cache", gz("/p/cc?cc=no-cache", VIA)),
    ("via, NO-CACHE spaced", gz("/p/cc?cc=public,%20NO-CACHE%20%20,x", VIA)),
    ("via, no-cache with a value", gz("/p/cc?cc=no-cache=x", VIA)),
    ("via, no-cachex", gz("/p/cc?cc=no-cachex", VIA)),
    ("via, no-cache then ;", gz("/p/cc?cc=no-cache;x", VIA)),
    ("via, private in a second header", gz("/p/cc?cc=max-age=1&cc2=private", VIA)),
    ("via, no-store after ;", gz("/p/cc?cc=a;no-store", VIA)),
    ("via, other cache-control", gz("/p/cc?cc=public", VIA)),
    ("via, no_last_modified static", gz("/p/nolm/a.html", VIA)),
    ("via, no_etag static", gz("/p/noetag/a.html", VIA)),
    ("via, no_etag without etag", gz("/p/noetaglua", VIA)),
    ("via, no_etag with an etag", gz('/p/noetaglua?e="x"', VIA)),
    ("via, no_last_modified with a header", gz("/p/lualm?lm=x", VIA)),
]

ACCEPT = ["gzip", "GZIP", "gzip,deflate", "deflate, gzip", "deflate,gzip", "x-gzip", "gzipx",
          "gzip;q=0", "gzip; q=0", "gzip;q=0.0", "gzip;q=0.000", "gzip;q=0.0001",
          "gzip;q=0.5", "gzip;q=1", "gzip;q=1.0", "gzip;q=1.5", "gzip;Q=0", "gzip ;q=0",
          "gzip;q=0,gzip", "gzip; x=1", "gzip;q=", "gzip;q=0 ", "gzip;q=0.01",
          "br, gzip;q=0, gzip", "gzi", "", " gzip", "deflate;gzip", "*", "gzip  ,",
          "gzip;q=00", "xgzipgzip", "x-gzip, gzip", "gzip;q=1 ,br", "gzip;  q=0.3"]


def _expires(reply) -> object:  # type: ignore[no-untyped-def]
    """Expires as seconds after Date (the second may tick between the two requests)."""
    exp, date = reply.header("expires"), reply.header("date")
    at, now = (email.utils.parsedate_tz(v) if v else None for v in (exp, date))
    if at is None or now is None:
        return exp
    return email.utils.mktime_tz(at) - email.utils.mktime_tz(now)


def _check(real, ours) -> None:  # type: ignore[no-untyped-def]
    assert ours.comparable({"expires"}) == real.comparable({"expires"})
    assert _expires(ours) == _expires(real)
    # ETag is "volatile" for the generic comparison; its W/ is gzip's doing
    assert ours.header("etag") == real.header("etag")


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    _check(real, ours)


@requires_nginx
@pytest.mark.parametrize("value", ACCEPT)
def test_accept_encoding(pair, value):
    real, ours = pair.both(get("/ret", ("Accept-Encoding", value)))
    _check(real, ours)


@requires_nginx
def test_first_accept_encoding_counts(pair):
    for order in ([("Accept-Encoding", "deflate"), AE], [AE, ("Accept-Encoding", "deflate")]):
        real, ours = pair.both(get("/ret", *order))
        _check(real, ours)


@requires_nginx
def test_bytes_are_a_gzip_stream(pair):
    """The bytes compared above are really gzip, and what nginx had to compress."""
    real, ours = pair.both(gz("/big.html"))
    assert real.header("content-encoding") == "gzip"
    assert zlib.decompress(ours.body, 31) == BIG.encode()
    assert ours.body == real.body


@requires_nginx
def test_gzip_ratio(pair):
    def new_lines(path: Path, seen: dict) -> list[str]:  # type: ignore[type-arg]
        data = path.read_text() if path.exists() else ""
        fresh, seen[path] = data[seen.get(path, 0):], len(data)
        return fresh.splitlines()

    seen: dict = {}  # type: ignore[type-arg]
    logs = (pair.real.prefix / "logs" / "ratio.log", pair.prefix / "logs" / "ratio.log")
    for path in logs:
        new_lines(path, seen)
    for req in (gz("/a.html"), gz("/big.html"), gz("/ret"), gz("/a.html", method="HEAD"),
                get("/a.html"), gz("/missing.html"), gz("/lua"), gz("/empty.html")):
        pair.both(req)
    time.sleep(0.05)
    real, ours = (new_lines(path, seen) for path in logs)
    assert ours == real
    assert any(line.endswith(" 11.25") for line in real)


H = "events {}\nhttp {\n"
CONF_CASES = [
    ("comp level 0", "gzip_comp_level 0;"),
    ("comp level 10", "gzip_comp_level 10;"),
    ("comp level word", "gzip_comp_level x;"),
    ("comp level negative", "gzip_comp_level -1;"),
    ("window 256", "gzip_window 256;"),
    ("window 3k", "gzip_window 3k;"),
    ("window 64k", "gzip_window 64k;"),
    ("window word", "gzip_window x;"),
    ("hash 256", "gzip_hash 256;"),
    ("hash 256k", "gzip_hash 256k;"),
    ("hash word", "gzip_hash abc;"),
    ("min length word", "gzip_min_length x;"),
    ("min length negative", "gzip_min_length -1;"),
    ("buffers size", "gzip_buffers 4 x;"),
    ("buffers number", "gzip_buffers x 4k;"),
    ("buffers zero", "gzip_buffers 0 4k;"),
    ("buffers zero size", "gzip_buffers 4 0;"),
    ("http version", "gzip_http_version 2.0;"),
    ("proxied value", "gzip_proxied foo;"),
    ("proxied value after good ones", "gzip_proxied any off bar;"),
    ("disable regex", 'gzip_disable "(";'),
    ("disable regex after msie6", 'gzip_disable msie6 "a[";'),
    ("postpone size", "postpone_gzipping x;"),
    ("vary flag", "gzip_vary maybe;"),
    ("duplicate comp level", "gzip_comp_level 1; gzip_comp_level 2;"),
    ("comp level in a server", "server { gzip_comp_level 11; }"),
    ("valid", "gzip on; gzip_types a/b; gzip_types *; gzip_proxied OFF; gzip_proxied any; "
              "gzip_disable a; gzip_disable b msie6 degradation; gzip_window 512; "
              "gzip_hash 128k; gzip_min_length 1k; gzip_buffers 16 8k;"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_config_errors_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, H + body + "\n}\n")
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)


SOCKET_CONF = r"""
events {}
http {
    log_format sent '$body_bytes_sent $gzip_ratio';
    access_log logs/access.log sent;
    server {
        listen 127.0.0.1:{port};
        gzip on; gzip_types text/plain;
        location /two { content_by_lua_block { ngx.say("hello world hello world") ngx.say("two") } }
        location /big {
            content_by_lua_block {
                for i = 1, 300 do ngx.say(i, " some text that compresses, but not well ", i * 7919 % 1000) end
            }
        }
        location /flush { content_by_lua_block { ngx.say("a") ngx.flush() ngx.say("b") } }
    }
}
"""


@requires_nginx
def test_compressed_output_is_framed_as_nginx_frames_it() -> None:
    """Over a socket: nginx passes compressed output on in full 4k buffers, on a flush
    and at the end, so the chunks on the wire and $body_bytes_sent match too."""
    from tests.oracle import RealNginx
    from tests.server.harness import Served
    raw = "GET {} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    with RealNginx(SOCKET_CONF) as real, Served(SOCKET_CONF) as ours:
        for path in ("/two", "/big", "/flush"):
            want = real.request(raw.format(path).encode()).partition(b"\r\n\r\n")[2]
            got = ours.request(raw.format(path).encode()).partition(b"\r\n\r\n")[2]
            assert got == want, path
        time.sleep(0.1)  # nginx writes the access log after the response
        assert (ours.prefix / "logs/access.log").read_text() == \
            (real.prefix / "logs/access.log").read_text()
