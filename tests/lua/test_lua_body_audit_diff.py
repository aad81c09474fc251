"""Request bodies against real nginx + ngx_lua (audit round): ngx.req.read_body in each
phase, twice and without a body; get_body_data / get_body_file for a body in memory or in
a temporary file (client_body_buffer_size, client_body_in_file_only on|clean); the
"buffered to a temporary file" line of every reader (Lua, lua_need_request_body,
proxy_pass, mirror) and the file numbers counting up from 0000000001; discard_body,
set_body_data, set_body_file, init_body / append_body / finish_body (a body over the
buffer goes to a file; bad arguments); $request_body, $request_body_file,
$content_length after a change, and what a proxied backend then receives. Each case
compares the response and the error-log lines it writes (prefixes spelled {prefix})."""

from __future__ import annotations

import time

import pytest

from tests.differential import Pair, Req
from tests.lua.cases import build_conf, lua, mark_logs, new_log_lines, point, request_for
from tests.oracle import requires_nginx

H = [("Host", "localhost")]
BIG = b"b" * 20000
#: Lua: the body's data, file and the two variables (the test spells the prefixes).
SHOW = ('local d = ngx.req.get_body_data() '
        'ngx.say("data ", d and #d or "nil", " file ", tostring(ngx.req.get_body_file()), '
        '" rb ", tostring(ngx.var.request_body and #ngx.var.request_body), '
        '" rbf ", tostring(ngx.var.request_body_file), " cl ", tostring(ngx.var.content_length)) ')
READ = "ngx.req.read_body() "
#: Lua: a writable file path of this server's own (/tmp/<prefix>-sbf), spelled the same.
TMP = "local path = ngx.config.prefix():gsub('/$', '') .. '-sbf' "
INFILE = "client_body_in_file_only on;"

CASES = [
 ("no body", lua(READ + SHOW)),
 ("not read", lua(SHOW), Req("POST", "/", H, b"abc")),
 ("small in memory", lua(READ + SHOW), Req("POST", "/", H, b"abc")),
 ("read twice", lua(READ + READ + SHOW), Req("POST", "/", H, b"abc")),
 ("max_bytes", lua(READ + 'ngx.say(ngx.req.get_body_data(2), " ", ngx.req.get_body_data(0), " ", pcall(ngx.req.get_body_data, "x"))'), Req("POST", "/", H, b"abcdef")),
 ("big in file", lua(READ + SHOW), Req("POST", "/", H, BIG)),
 ("big in file second", lua(READ + SHOW), Req("POST", "/", H, BIG)),
 ("buffer size small", lua(READ + SHOW, "client_body_buffer_size 8;"), Req("POST", "/", H, b"x" * 2000)),
 ("fits header buffer", lua(READ + SHOW, "client_body_buffer_size 8;"), Req("POST", "/", H, b"x" * 500)),
 # a known length under 1.25 x client_body_buffer_size gets one buffer of its size: memory
 # (what is past the 1k header buffer: 1256 bytes stay, 1306 go to a file)
 ("under a quarter more", lua(READ + SHOW, "client_body_buffer_size 1k;"), Req("POST", "/", H, b"x" * 2200)),
 ("over a quarter more", lua(READ + SHOW, "client_body_buffer_size 1k;"), Req("POST", "/", H, b"x" * 2250)),
 # the default buffer is 8k on x86-64 (two pages): 9000 bytes past the header buffer
 # stay in memory, 11000 do not
 ("default buffer, in memory", lua(READ + SHOW), Req("POST", "/", H, b"x" * 9944)),
 ("default buffer, in a file", lua(READ + SHOW), Req("POST", "/", H, b"x" * 11944)),
 ("in file only", lua(READ + SHOW + 'local f = io.open(ngx.req.get_body_file()) ngx.say(f:read("*a")) f:close()', INFILE), Req("POST", "/", H, b"abc")),
 ("in file only clean", lua(READ + SHOW, "client_body_in_file_only clean;"), Req("POST", "/", H, b"abc")),
 ("in file only no body", lua(READ + SHOW, INFILE)),
 ("in file only empty body", lua(READ + SHOW, INFILE), Req("POST", "/", H + [("Content-Length", "0")])),
 ("single buffer", lua(READ + SHOW, "client_body_in_single_buffer on;"), Req("POST", "/", H, b"x" * 3000)),
 ("discard", lua('ngx.req.discard_body() ' + SHOW), Req("POST", "/", H, b"abc")),
 ("discard then read", lua('ngx.req.discard_body() ' + READ + SHOW), Req("POST", "/", H, b"abc")),
 ("read then discard", lua(READ + 'ngx.req.discard_body() ' + SHOW), Req("POST", "/", H, b"abc")),
 ("need body rewrite", 'lua_need_request_body on; rewrite_by_lua_block { ' + SHOW + ' }  content_by_lua_block { ngx.say("c") }', Req("POST", "/", H, BIG)),
 ("read in rewrite", 'rewrite_by_lua_block { ' + READ + ' } content_by_lua_block { ' + SHOW + ' }', Req("POST", "/", H, b"abc")),
 ("read in access", 'access_by_lua_block { ' + READ + ' } content_by_lua_block { ' + SHOW + ' }', Req("POST", "/", H, b"abc")),
 ("read in header filter", 'header_filter_by_lua_block { ngx.log(ngx.ERR, pcall(ngx.req.read_body)) } return 200 "x\\n";', Req("POST", "/", H, b"abc")),
 ("read in log", 'log_by_lua_block { ngx.log(ngx.ERR, pcall(ngx.req.read_body)) ngx.log(ngx.ERR, tostring(ngx.req.get_body_data())) } return 200 "x\\n";', Req("POST", "/", H, b"abc")),
 ("read in set", 'set_by_lua_block $v { return tostring(pcall(ngx.req.read_body)) } return 200 "$v\\n";', Req("POST", "/", H, b"abc")),
 ("body data in log phase", 'log_by_lua_block { ngx.log(ngx.ERR, "log ", tostring(ngx.req.get_body_data())) } content_by_lua_block { ' + READ + ' ngx.say("ok") }', Req("POST", "/", H, b"abc")),
 ("set_body_data", lua(READ + 'ngx.req.set_body_data("hello") ' + SHOW), Req("POST", "/", H, BIG)),
 ("set_body_data in file only", lua(READ + 'ngx.req.set_body_data("hello") ' + SHOW, INFILE), Req("POST", "/", H, b"abc")),
 ("set_body_data number", lua(READ + 'ngx.req.set_body_data(12) ' + SHOW), Req("POST", "/", H, b"abc")),
 ("set_body_data bad", lua(READ + 'ngx.say(pcall(ngx.req.set_body_data, nil)) ngx.say(pcall(ngx.req.set_body_data, {}))'), Req("POST", "/", H, b"abc")),
 ("set_body_data empty", lua(READ + 'ngx.req.set_body_data("") ' + SHOW), Req("POST", "/", H, b"abc")),
 ("set_body_data no read", lua('ngx.say(pcall(ngx.req.set_body_data, "x"))')),
 ("init append", lua(READ + 'ngx.req.init_body() ngx.req.append_body("ab") ngx.req.append_body("cd") ngx.req.finish_body() ' + SHOW), Req("POST", "/", H, b"xyz")),
 ("init append over buffer", lua(READ + 'ngx.req.init_body(4) ngx.req.append_body("abc") ngx.req.append_body("defgh") ngx.req.finish_body() ' + SHOW + ' local f = io.open(ngx.req.get_body_file()) ngx.say(f:read("*a")) f:close()'), Req("POST", "/", H, b"xyz")),
 ("init append default buffer", lua(READ + 'ngx.req.init_body() ngx.req.append_body(string.rep("a", 20000)) ngx.req.finish_body() ' + SHOW), Req("POST", "/", H, b"xyz")),
 ("init append no finish", lua(READ + 'ngx.req.init_body() ngx.req.append_body("ab") ' + SHOW), Req("POST", "/", H, b"xyz")),
 ("init no read", lua('ngx.req.init_body() ngx.req.append_body("ab") ngx.req.finish_body() ' + SHOW)),
 ("init bad args unread", lua('ngx.say(pcall(ngx.req.init_body, "x")) ngx.say(pcall(ngx.req.init_body, -1)) ngx.say(pcall(ngx.req.init_body, 1, 2))')),
 ("init bad args", lua(READ + 'ngx.say(pcall(ngx.req.init_body, "x")) ngx.say(pcall(ngx.req.init_body, 0)) ngx.say(pcall(ngx.req.init_body, -1)) ngx.say(pcall(ngx.req.init_body, "5")) ngx.say(pcall(ngx.req.init_body, 1.5))'), Req("POST", "/", H, b"abc")),
 ("append bad args", lua(READ + 'ngx.req.init_body(3) ngx.say(pcall(ngx.req.append_body)) ngx.say(pcall(ngx.req.append_body, nil)) ngx.say(pcall(ngx.req.append_body, 5)) ngx.say(pcall(ngx.req.append_body, {})) ngx.say(pcall(ngx.req.append_body, "a", "b")) ngx.say(pcall(ngx.req.finish_body, 1)) ' + SHOW), Req("POST", "/", H, b"abc")),
 ("append after finish", lua(READ + 'ngx.req.init_body(2) ngx.req.append_body("a") ngx.req.finish_body() ngx.say(pcall(ngx.req.finish_body)) ngx.req.append_body("bc") ' + SHOW), Req("POST", "/", H, b"abc")),
 ("finish without init", lua(READ + 'ngx.say(pcall(ngx.req.finish_body)) ngx.say(pcall(ngx.req.append_body, "b")) ' + SHOW), Req("POST", "/", H, b"xyz")),
 ("init twice", lua(READ + 'ngx.req.init_body() ngx.req.append_body("a") ngx.req.init_body() ngx.req.append_body("b") ngx.req.finish_body() ' + SHOW + ' ngx.say(ngx.req.get_body_data())'), Req("POST", "/", H, b"abc")),
 ("init in file only", lua(READ + 'ngx.req.init_body() ngx.req.append_body("ab") ngx.req.finish_body() ' + SHOW, INFILE), Req("POST", "/", H, b"abc")),
 ("set_body_data after append file", lua(READ + 'ngx.req.init_body(4) ngx.req.append_body("abcdefgh") ngx.req.finish_body() ngx.req.set_body_data("x") ' + SHOW), Req("POST", "/", H, b"abc")),
 ("set_body_file", lua(TMP + 'local f = io.open(path, "w") f:write("from file") f:close() ' + READ + 'ngx.req.set_body_file(path) ' + SHOW + ' ngx.req.set_body_data("x") ngx.say(io.open(path) ~= nil) os.remove(path)'), Req("POST", "/", H, b"abc")),
 ("set_body_file auto_clean", lua(TMP + 'local f = io.open(path, "w") f:write("from file") f:close() ' + READ + 'ngx.req.set_body_file(path, true) ' + SHOW + ' ngx.say(io.open(path) ~= nil) ngx.req.set_body_data("x") ngx.say(io.open(path) ~= nil)'), Req("POST", "/", H, b"abc")),
 ("set_body_file auto_clean twice", lua(TMP + 'local f = io.open(path, "w") f:write("from file") f:close() ' + READ + 'ngx.req.set_body_file(path, true) ngx.say(pcall(ngx.req.set_body_file, path, true)) ' + SHOW), Req("POST", "/", H, b"abc")),
 ("set_body_file missing", lua(READ + 'ngx.say(pcall(ngx.req.set_body_file, ngx.config.prefix() .. "nope")) ' + SHOW), Req("POST", "/", H, b"abc")),
 ("set_body_file bad", lua(READ + 'ngx.say(pcall(ngx.req.set_body_file)) ngx.say(pcall(ngx.req.set_body_file, {})) ngx.say(pcall(ngx.req.set_body_file, "a", true, 1))'), Req("POST", "/", H, b"abc")),
 ("set_body_file no read", lua('ngx.say(pcall(ngx.req.set_body_file, "x"))')),
 ("empty body", lua(READ + SHOW), Req("POST", "/", H + [("Content-Length", "0")])),
 ("discard keeps length", lua('ngx.req.discard_body() ngx.say(ngx.var.content_length, " ", tostring(ngx.var.request_body), " ", ngx.req.get_headers()["content-length"])'), Req("POST", "/", H, b"abc")),
 ("proxy after set_body_file", 'rewrite_by_lua_block { ' + TMP + 'local f = io.open(path, "w") f:write("file body") f:close() ' + READ + 'ngx.req.set_body_file(path, true) } proxy_pass http://127.0.0.1:{port}/cecho;', Req("POST", "/", H, b"original")),
 ("proxy after set_body_data", 'rewrite_by_lua_block { ' + READ + 'ngx.req.set_body_data("changed") } proxy_pass http://127.0.0.1:{port}/cecho;', Req("POST", "/", H, b"original")),
 ("proxy after append over buffer", 'rewrite_by_lua_block { ' + READ + 'ngx.req.init_body(4) ngx.req.append_body("abcdefgh") ngx.req.finish_body() } proxy_pass http://127.0.0.1:{port}/cecho;', Req("POST", "/", H, b"original")),
 ("proxy big body", 'proxy_pass http://127.0.0.1:{port}/cecho;', Req("POST", "/", H, BIG)),
 ("mirror big body", "mirror /cecho; " + lua("ngx.say(\"m\")"), Req("POST", "/", H, BIG)),
 ("echo", lua(READ + SHOW + 'ngx.say("method ", ngx.req.get_method(), " ", tostring(ngx.req.get_body_data()))')),
 ("max body content-length", lua(READ + 'ngx.say("read")', "client_max_body_size 10;"), Req("POST", "/", H, b"x" * 20)),
]
CASES = point(CASES, {"/cecho": "echo"})

HTTP = """
error_log logs/error.log info;
client_body_temp_path body_temp;
"""


def _conf() -> str:
    return build_conf(CASES, http_extra=HTTP)


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(_conf()) as p:
        mark_logs(p)
        yield p


@requires_nginx
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_same_as_openresty(pair, index):
    real, ours = pair.both(request_for(index, CASES[index]))
    if "log_by_lua" in CASES[index][1]:
        time.sleep(0.05)  # nginx logs after the response is sent
    real.body = real.body.replace(str(pair.real.prefix).encode(), b"{prefix}")
    ours.body = ours.body.replace(str(pair.prefix).encode(), b"{prefix}")
    real_log = new_log_lines(pair, "real")
    ours_log = new_log_lines(pair, "ours")
    # a body naming a prefix has the length of that prefix
    skip = {"content-length"} if b"{prefix}" in real.body else set()
    assert (ours.comparable(skip), ours_log) == (real.comparable(skip), real_log)


SOCKET_CONF = """events {} http { error_log logs/error.log info; client_body_temp_path body_temp;
server { listen 127.0.0.1:{port}; server_name localhost;
location /r { content_by_lua_block { ngx.req.read_body() %s } }
location /s { client_max_body_size 10; content_by_lua_block { ngx.req.read_body() ngx.say("read") } }
} }""" % SHOW


def _chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


_HEAD = b"POST %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n"
_TE = b"Transfer-Encoding: chunked\r\n"
SOCKET_CASES = [
    ("chunked small", _HEAD % (b"/r", _TE) + _chunked(b"abc")),
    ("chunked to a file", _HEAD % (b"/r", _TE) + _chunked(b"x" * 20000)),
    ("chunked empty", _HEAD % (b"/r", _TE) + _chunked(b"")),
    ("chunked over client_max_body_size", _HEAD % (b"/s", _TE) + _chunked(b"x" * 20)),
    ("expect 100-continue", _HEAD % (b"/r", b"Expect: 100-continue\r\nContent-Length: 3\r\n") + b"abc"),
    ("content-length over client_max_body_size", _HEAD % (b"/s", b"Content-Length: 20\r\n") + b"x" * 20),
]


def _seen(server, raw: bytes) -> tuple[bytes, list[tuple[str, str]]]:
    """The response (prefix spelled out, the date and body-length lines dropped) and the
    error-log lines the request wrote (connection numbers aside: the oracle's
    readiness probe takes one)."""
    from tests.lua.cases import log_entries
    before = len(server.error_log())
    out = server.request(raw).replace(str(server.prefix).encode(), b"{prefix}")
    time.sleep(0.05)
    lines = [line for line in out.split(b"\r\n") if not line.startswith(b"Date:")
             and not (b"{prefix}" in out and len(line) < 4)]
    log = server.error_log()[before:].replace(str(server.prefix), "{prefix}")
    return b"\n".join(lines), [(level, msg) for level, _, msg in log_entries(log, server.port)
                              if "closed connection" not in msg]


@requires_nginx
def test_over_a_socket():
    """Chunked bodies, Expect: 100-continue and client_max_body_size need the listener."""
    from tests.oracle import RealNginx
    from tests.server.harness import Served
    with RealNginx(SOCKET_CONF) as real, Served(SOCKET_CONF) as ours:
        for name, raw in SOCKET_CASES:
            assert _seen(ours, raw) == _seen(real, raw), name
