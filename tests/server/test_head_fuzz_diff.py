"""Randomized request heads, as raw bytes over a socket, to real nginx and to our listener.

A fixed seed builds a few hundred heads (valid, odd and malformed request lines, header
lines, body framing, pipelines) from parts known to hit distinct branches of nginx's
parser. Each is sent on a fresh connection to both servers, which then see our side shut
(so that a server waiting for more input answers at once); the bytes sent back (Date
aside) and the error-log lines must be the same. A failure prints the seed and the raw
bytes of every diverging case, so that it can be replayed by hand.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time

import pytest

from tests.oracle import RealNginx, requires_nginx
from tests.server.harness import Served, read_all
from tests.server.test_differential import _log_lines

#: HEAD_FUZZ_SEED explores other cases; the suite runs the fixed one.
SEED = int(os.environ.get("HEAD_FUZZ_SEED", "20221122"))
CASES = 300

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    client_header_timeout 3s;
    client_body_timeout 3s;
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        location / { return 200 "$request_method|$uri|$args|$http_host\n"; }
        location /lua {
            content_by_lua_block {
                ngx.say("headers:")
                local h = ngx.req.get_headers()
                local names = {}
                for k in pairs(h) do names[#names + 1] = k end
                table.sort(names)
                for _, k in ipairs(names) do
                    local v = h[k]
                    if type(v) == "table" then v = table.concat(v, ",") end
                    ngx.say(k, "=", v)
                end
            }
        }
    }
}
"""

METHODS = [b"GET"] * 8 + [b"HEAD", b"POST", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH",
                          b"TRACE", b"PROPFIND", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK",
                          b"FOO", b"BREW", b"get", b"Get", b"M-SEARCH", b"A_B", b"GET1", b"G3T",
                          b"X" * 300, b"", b"GET\t", b"CONNECT"]
PATHS = [b"/", b"/lua", b"/lua/x", b"/a"]
SUFFIXES = [b"", b"", b"", b"?x=1&y", b"/%41%2f%zz", b"/a/../b", b"/../../x", b"//a//b/",
            b"/./c", b"/%2e%2e/x", b"#frag", b"?a#b", b"/a b", b"/a\x01b", b"/\x7f",
            b"/%00", b"/\xc3\xa9", b"/\xff", b"?%zz", b"/" + b"y" * 3000, b"/a%", b"/a%2",
            b"/%2E/x", b"/a/..", b"/a/.", b"/a\tb"]
TARGETS_WHOLE = [b"*", b"http://h.example/x?y", b"http://h.example", b"https://H.Example:80/p",
                 b"http://a..b/x", b"http://h.example:99999/x", b"HTTP://h/x", b"ftp://h/x",
                 b"?x", b"x", b"http:/x", b"http://[::1]/z", b"http://u@h/x", b""]
VERSIONS = [b" HTTP/1.1"] * 8 + [b" HTTP/1.0"] * 3 + [
    b" HTTP/0.9", b" HTTP/2.0", b" HTTP/1.10", b" HTTP/01.1", b" HTTP/1.1x", b" HTTP/x",
    b"", b" http/1.1", b" HTTP/1.1 ", b"  HTTP/1.1", b" HTTP/1", b" HTTP/1.", b" HTTP/9.9",
    b" HTTP/1000.1", b" HTTP/1.1 x", b" HTTP/1.01", b" HTTP/3.0", b" HTTPS/1.1"]
HOSTS = [b"Host: localhost"] * 6 + [
    b"Host: LOCALHOST", b"Host: localhost:8080", b"Host: localhost.", b"Host: a..b",
    b"Host: a/b", b"Host: ", b"Host:", b"Host: [::1]:80", b"Host: a\\b", b"Host: .a",
    b"Host: a:b:c", b"Host: h\xc3\xa9", b"host: x", b"HOST: y", b"Host: a b", b"Host: a\tb",
    b"Host: localhost:", b"Host: [::1", b"Host: 1.2.3.4"]
HEADERS = [b"Accept: */*", b"User-Agent: fuzz", b"X-A: 1", b"X-A: 2", b"X_Y: under",
           b"X@Y: at", b"Bad Name: v", b"X-B : spaced", b"X-C:nospace", b"X-D:", b"X-E: ",
           b"X-F: trail \t", b"X-G:\tlead", b"NoColon", b": noname", b"X-\xc3\xa9: v",
           b"X-H: \xff\xfe", b"X-I: a\x00b", b"X-J: a\rb", b"X-K: v\r", b" folded",
           b"\tfolded", b"X-L: a\x7fb", b"X-M: a\x01b", b"Referer: r", b"Cookie: a=1",
           b"Cookie: b=2", b"If-Modified-Since: x", b"If-Modified-Since: y",
           b"Authorization: a", b"Authorization: b", b"Range: bytes=0-1", b"Range: x",
           b"X-" + b"n" * 200 + b": long", b"X-Long: " + b"v" * 2000, b"x-a: lower",
           b"Content-Type: text/plain", b"Content-Type: a", b"Upgrade: h2c",
           b"Keep-Alive: 300", b"TE: trailers", b"Via: 1.1 x", b"X-Forwarded-For: 1.2.3.4"]
LENGTHS = [b"Content-Length: 3", b"Content-Length: 0", b"Content-Length: -1",
           b"Content-Length: 99999999999999999999", b"Content-Length: 9223372036854775808",
           b"Content-Length:  3 ", b"Content-Length: 3 3", b"Content-Length: +3",
           b"Content-Length: 0x3", b"Content-Length: 03", b"Content-Length: ",
           b"Content-Length: 3\r\nContent-Length: 4", b"Content-Length: 3\r\nContent-Length: 3",
           b"Content-Length: 3,3"]
ENCODINGS = [b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip",
             b"Transfer-Encoding: chunked, gzip", b"Transfer-Encoding: gzip, chunked",
             b"Transfer-Encoding: Chunked", b"Transfer-Encoding: chunked ",
             b"Transfer-Encoding: identity", b"Transfer-Encoding: ",
             b"Transfer-Encoding: chunked\r\nContent-Length: 3",
             b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"]
EXPECTS = [b"Expect: 100-continue", b"Expect: 100-Continue", b"Expect: 100-continue ",
           b"Expect: 200-ok", b"Expect: ", b"Expect: 100-continue\r\nExpect: x"]
CONNECTIONS = [b"Connection: close", b"Connection: keep-alive", b"Connection: Close",
               b"Connection: close, te", b"Connection: upgrade", b"Connection: ",
               b"Connection: keep-alive\r\nConnection: close", b"Connection: closed"]
#: Bodies are never shorter than their Content-Length: for a body cut short by the
#: client's close, nginx answers a handler that discards it (``return``) first, where
#: the listener reads the whole body before the engine runs (a known difference).
BODIES = [b"abc", b"3\r\nabc\r\n0\r\n\r\n", b"abcdef"]
#: No invalid chunk: a Lua handler that leaves the body makes nginx discard it at once,
#: and close without an answer on a bad chunk, where the listener answers 400 (known).
CHUNKED_BODIES = [b"3\r\nabc\r\n0\r\n\r\n", b"0\r\n\r\n", b"1;x\r\nq\r\n0\r\nT: 1\r\n\r\n"]


def _request_line(rng: random.Random) -> bytes:
    method = rng.choice(METHODS)
    if rng.random() < 0.15:
        target = rng.choice(TARGETS_WHOLE)
    else:
        target = rng.choice(PATHS) + rng.choice(SUFFIXES)
    sep = b" " if rng.random() < 0.95 else rng.choice([b"  ", b"\t", b""])
    return method + sep + target + rng.choice(VERSIONS)


def _head(rng: random.Random) -> bytes:
    """One request: a line, header lines, maybe a body, each part often mangled."""
    lines = [_request_line(rng)]
    if rng.random() < 0.85:
        lines.append(rng.choice(HOSTS))
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
        lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(HEADERS))
    for group, p in ((LENGTHS, 0.2), (ENCODINGS, 0.12), (CONNECTIONS, 0.3)):
        if rng.random() < p:
            lines.append(rng.choice(group))
    if len(lines) > 1 and lines[-1].startswith((b"Content-Length", b"Transfer-Encoding")) \
            and rng.random() < 0.4:
        # (not without a body: nginx sends "100 Continue" whenever a handler discards
        # the body, even an absent one; the listener answers it only to wait for one)
        lines.append(rng.choice(EXPECTS))
    eol = b"\r\n" if rng.random() < 0.9 else b"\n"
    head = eol.join(lines) + eol + eol
    if rng.random() < 0.03:
        head = b"\r\n" + head
    if any(x.startswith(b"Transfer-Encoding") for x in lines[1:]):
        head += rng.choice(CHUNKED_BODIES)
    elif any(x.startswith(b"Content-Length") for x in lines[1:]):
        head += rng.choice(BODIES)
    return head


def generate(seed: int, count: int) -> list[bytes]:
    """The cases of one seed: single heads, and pipelines of two."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        raw = _head(rng)
        if rng.random() < 0.2:
            raw += _head(rng)
        out.append(raw)
    return out


def _send(port: int, raw: bytes) -> bytes:
    """Send ``raw`` then shut our side, so that no server waits for more input."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        return read_all(s)


_DATE = re.compile(rb"\r\nDate: [^\r\n]*")
_LOG_CMP = 1500


def _clean(data: bytes, port: int) -> bytes:
    return _DATE.sub(b"", data).replace(b":%d" % port, b":{port}")


def _logs(server: RealNginx | Served) -> list[tuple[str, str]]:
    """Error-log lines; the log holds request bytes as received, not always UTF-8."""
    text = (server.prefix / "logs" / "error.log").read_bytes().decode("utf-8", "surrogateescape")
    return [(lvl, msg[:_LOG_CMP]) for lvl, msg in _log_lines(text)]


def test_generator_is_deterministic_and_varied() -> None:
    cases = generate(SEED, CASES)
    assert cases == generate(SEED, CASES)
    assert len(set(cases)) > CASES * 0.95
    assert any(b"\nHost: a..b" in c for c in cases) and any(b"\r\n\tfolded" in c for c in cases)


@requires_nginx
def test_random_heads_as_nginx() -> None:
    failures = []
    with RealNginx(CONF) as real, Served(CONF) as ours:
        for i, raw in enumerate(generate(SEED, CASES)):
            for server in (real, ours):
                (server.prefix / "logs" / "error.log").write_text("")
            want = _clean(_send(real.port, raw), real.port)
            got = _clean(_send(ours.port, raw), ours.port)
            time.sleep(0.005)
            want_log, got_log = _logs(real), _logs(ours)
            if got != want or got_log != want_log:
                failures.append(f"case {i}: {raw!r}\n  nginx: {want!r}\n  ours:  {got!r}\n"
                                f"  nginx log: {want_log}\n  our log:   {got_log}")
    if failures:
        pytest.fail(f"seed {SEED}: {len(failures)} of {CASES} cases differ\n"
                    + "\n".join(failures), pytrace=False)
