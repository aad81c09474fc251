"""Seeded randomized differential test of proxy_pass against real nginx.

One real nginx serves one front server with ``LOCATIONS`` generated proxied locations
(``/lN``...: prefix, exact, regex and named ones) with random proxy directives (the
URI part of ``proxy_pass``, variables, an upstream name, ``rewrite ... break``,
``proxy_set_header`` inherited or replaced, ``proxy_pass_request_headers``/``_body``,
``proxy_method``, ``proxy_http_version``, ``proxy_redirect``, ``proxy_hide_header``,
``proxy_pass_header``, ``proxy_ignore_headers``, ``proxy_intercept_errors`` with
``error_page``, ``proxy_buffering``, ``proxy_cookie_*``, ``proxy_set_body``, an ``if``
inheriting the proxy_pass). Both sides proxy to the same Python backend
(:class:`Backend`), which echoes what it received (request line, headers in order,
body) and answers with the response spec ``SPECS[N]`` that the request names with an
``r=N`` argument (a random status, headers such as Location, Refresh, Set-Cookie,
Server, X-Accel-*, duplicates, and framing by Content-Length, chunks or close). So the
reply compared holds the request each proxy sent upstream, too. Requests have random
methods, %-escapes, args, bodies (some chunked), headers (X-Forwarded-For chains,
hop-by-hop ones), HTTP/1.0 and absolute URIs; not raw spaces in the URI nor ``Expect``
(the in-process engine path skips the listener's request-line parser and its
``100 Continue``). Error-log lines are compared per location. A divergence prints
the seed, the location block and the request, so it can be replayed; the seed is fixed
(``SEED``) so the same cases run every time. Broken proxy directives go through
``nginx -t`` and through our loader.
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.differential import Pair, Reply, Req, dechunk, engine_load_error
from tests.lua.cases import mark_logs, new_log_lines
from tests.oracle import first_emerg, nginx_test, requires_nginx, spell_port, write_prefix
from tests.proxy.harness import read_head

#: Fixed, so every run checks the same cases; set PROXY_FUZZ_SEED to explore others.
SEED = int(os.environ.get("PROXY_FUZZ_SEED", "20261127"))
LOCATIONS = 36
SPEC_COUNT = 24
REQUESTS_PER_LOCATION = 5

# --- the backend's responses ---------------------------------------------------------------

STATUSES = [200, 200, 200, 201, 204, 299, 301, 302, 303, 304, 307, 400, 403, 404, 404,
            410, 500, 502, 503, 599]
#: Headers a spec may carry; ``{B}`` is the backend's address (host:port).
RESPONSE_HEADERS = [
    ("Location", "/loc/a"), ("Location", "http://{B}/x/abc"), ("Location", "http://{B}/"),
    ("Location", "http://other.example/y?q=1"), ("Location", "http://{B}/rw/z"),
    ("Location", "http://{B}/l3/k"), ("Refresh", "5; url=http://{B}/x/r"),
    ("Refresh", "3"), ("Set-Cookie", "a=1; Path=/x/; Domain=127.0.0.1"),
    ("Set-Cookie", "b=2"), ("Server", "pyback/1"), ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
    ("X-Accel-Buffering", "no"), ("X-Accel-Expires", "10"), ("X-Accel-Charset", "utf-8"),
    ("X-Accel-Limit-Rate", "0"), ("X-Accel-Foo", "bar"), ("X-Pad", "pad"), ("X-H1", "one"),
    ("X-H1", "again"), ("X-H2", "two"), ("Content-Type", "text/x-back"),
    ("Cache-Control", "no-store"), ("Vary", "Accept"), ("Link", "</s>; rel=x"),
    ("Expires", "Thu, 01 Jan 1970 00:00:01 GMT"), ("WWW-Authenticate", "Basic realm=x"),
    ("X-Accel-Redirect", "/internal/xa?from=accel"), ("Content-Type", "text/html; charset=koi8-r"),
    ("Set-Cookie", "c=3; domain=.127.0.0.1; path=/x/a; HttpOnly"),
    ("Set-Cookie", "d=4; Path=/X/; Domain=127.0.0.1:{P}"), ("Set-Cookie", "e=5;path=/l1/;domain=x"),
    ("X-Empty", ""), ("location", "/lower"), ("Keep-Alive", "timeout=5"), ("X-Sp", "  padded  "),
]
#: How the body ends; "both" is chunked with a Content-Length too.
FRAMINGS = ["length", "length", "chunked", "close", "both"]


def gen_specs(rng: random.Random) -> list[dict]:
    """The backend's answers: status, headers, framing, whether it closes."""
    specs = []
    for _ in range(SPEC_COUNT):
        status = rng.choice(STATUSES)
        heads = rng.sample(RESPONSE_HEADERS, rng.randint(0, 5))
        if not any(k == "X-Accel-Redirect" for k, _ in heads) and rng.random() < 0.05:
            heads.append(("X-Accel-Redirect", "/internal/xa"))
        if status >= 300 or any(k == "X-Accel-Redirect" for k, _ in heads):
            # left out: X-Accel-Charset outliving the internal redirect to an error page
            # or the X-Accel-Redirect target (the charset filter's business, unmodelled)
            heads = [h for h in heads if h[0] != "X-Accel-Charset"]
        specs.append({"status": status, "headers": heads, "framing": rng.choice(FRAMINGS),
                      "close": rng.random() < 0.3,
                      "extra": rng.choice([b"", b"tail\n", b"z" * 20000]),
                      "reason": rng.choice([f"Back{status}", f"Back{status}", "", "Odd  Words"])})
    specs[0] = {"status": 200, "headers": [], "framing": "length", "close": False,
                "extra": b""}
    return specs


class Backend:
    """A threaded HTTP/1.x server answering ``SPECS[r]`` with an echo of the request."""

    def __init__(self, specs: list[dict]) -> None:
        self.specs = specs
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(3)
            try:
                self._answer(conn)
            except OSError:
                pass

    def _answer(self, conn: socket.socket) -> None:
        data = read_head(conn, 65536)
        if b"\r\n\r\n" not in data:
            return
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        fields = [ln.partition(b":") for ln in lines[1:]]
        names = {k.strip().lower(): v.strip() for k, _, v in fields}
        if b"x-no-body" not in names:  # proxy_pass_request_body off keeps the length
            if names.get(b"transfer-encoding", b"").lower() == b"chunked":
                while not body.endswith(b"0\r\n\r\n"):
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    body += piece
            else:
                need = int(names.get(b"content-length", b"0") or 0)
                while len(body) < need:
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    body += piece
        found = re.search(rb"[?&]r=(\d+)", lines[0])
        spec = self.specs[int(found.group(1)) % len(self.specs)] if found else self.specs[0]
        conn.sendall(self._reply(spec, head, body, lines[0].startswith(b"HEAD ")))
        time.sleep(0.01)

    def _reply(self, spec: dict, head: bytes, body: bytes, head_only: bool) -> bytes:
        addr = f"127.0.0.1:{self.port}"
        status = spec["status"]
        reason = spec.get("reason", f"Back{status}")
        out = [f"HTTP/1.1 {status}{' ' if reason else ''}{reason}".encode()]
        out += [f"{k}: {v.format(B=addr, P=self.port)}".encode() for k, v in spec["headers"]]
        payload = b"" if status in (204, 304) else b"ECHO\n" + head + b"\n--\n" + body \
            + b"\n" + spec["extra"]
        framing = spec["framing"]
        if status in (204, 304):
            framing = "none"
        if framing in ("length", "both"):
            out.append(f"Content-Length: {len(payload)}".encode())
        if framing in ("chunked", "both"):
            out.append(b"Transfer-Encoding: chunked")
        if spec["close"] or framing == "close":
            out.append(b"Connection: close")
        wire = b"\r\n".join(out) + b"\r\n\r\n"
        if head_only or framing == "none":
            return wire
        if framing in ("chunked", "both"):
            half = len(payload) // 2
            return wire + b"".join(b"%x\r\n%s\r\n" % (len(p), p)
                                   for p in (payload[:half], payload[half:]) if p) + b"0\r\n\r\n"
        return wire + payload

    def close(self) -> None:
        self.sock.close()


# --- the generated configuration -------------------------------------------------------------

SET_HEADERS = [
    'X-A "$uri|$args"', "Host $host", 'User-Agent ""', 'Connection ""', 'X-Empty ""',
    "X-Forwarded-For $proxy_add_x_forwarded_for", 'Accept-Encoding ""', 'X-M "$request_method"',
    "X-Real-IP $remote_addr", 'X-PH "$proxy_host|$proxy_port"', "Host $proxy_host:8080",
    'X-Cookie "$http_cookie"', 'Content-Type ""',
]
REDIRECTS = [
    "proxy_redirect off;", "proxy_redirect default;", "proxy_redirect http://{B}/x/ /new/;",
    r"proxy_redirect ~^http://127\.0\.0\.1:\d+/(.*)$ /re/$1;",
    "proxy_redirect http://{B}/ http://$host/;",
    "proxy_redirect / /rel/;", r"proxy_redirect ~*/X/(.*) /ci/$1;",
    "proxy_redirect default; proxy_redirect http://other.example/ /o/;",
    "proxy_redirect http://{B}/ $scheme://$host:$server_port/p/;",
]
HIDE = ["X-H1", "Set-Cookie", "Content-Type", "Cache-Control", "Link", "Refresh"]
PASS = ["Server", "X-Accel-Foo", "X-Pad", "X-Accel-Expires"]
IGNORE = ["X-Accel-Redirect", "X-Accel-Expires", "Set-Cookie", "X-Accel-Buffering",
          "X-Accel-Charset", "X-Accel-Limit-Rate", "Expires", "Cache-Control", "Vary"]
COOKIES = [
    "proxy_cookie_domain 127.0.0.1 front.example;", r"proxy_cookie_domain ~^127\.(.*)$ c$1;",
    "proxy_cookie_path /x/ /;", "proxy_cookie_path ~*^/X/(.*)$ /p/$1;", "proxy_cookie_domain off;",
    "proxy_cookie_path /x/ $uri;", "proxy_cookie_domain .127.0.0.1 $host;",
    "proxy_cookie_path / /r/;",
]
IFS = ['if ($arg_i) { add_header X-If "$arg_i"; }', "if ($arg_i) { proxy_pass http://be; }",
       "if ($arg_i = 2) { set $x 1; }", 'if ($arg_i) { return 200 "if\\n"; }']
ERROR_PAGES = ["error_page 404 /ep/page;", "error_page 500 502 503 = @fb;",
               "error_page 403 404 =200 /ep/ok;", "error_page 404 = /ep/eq;",
               "error_page 410 http://ex.test/gone;", "error_page 599 =302 /ep/x;"]


def _targets(kind: str) -> list[str]:
    """proxy_pass URLs valid for a location kind: regex and named ones take no URI part
    unless it has variables."""
    plain = ["http://{B}", "http://be", "http://$bk", "http://{B}$request_uri", "http://be$uri",
             "http://{B}/a$is_args$args", "http://$bk/v/", "http://mix"]
    if kind == "regex":
        plain += ["http://be/re/$1", "http://{B}/$1?cap=$1"]
    if kind in ("prefix", "slashless", "exact"):
        plain += ["http://{B}/", "http://{B}/x/", "http://{B}/x", "http://be/y/",
                  "http://{B}/%20sp/", "http://mix/m/"]
    return plain


def gen_location(rng: random.Random, n: int) -> tuple[str, str]:
    """A location ``/lN`` block with random proxy directives, and its request prefix."""
    kind = rng.choice(["prefix", "prefix", "prefix", "slashless", "exact", "regex", "named",
                       "rewrite"])
    body: list[str] = []
    if rng.random() < 0.5:
        body += [f"proxy_set_header {h};" for h in rng.sample(SET_HEADERS, rng.randint(1, 3))]
    if rng.random() < 0.15:
        body.append("proxy_pass_request_headers off;")
    if rng.random() < 0.15:
        body += ["proxy_pass_request_body off;", "proxy_set_header X-No-Body 1;"]
    if rng.random() < 0.15:
        body.append(f"proxy_method {rng.choice(['POST', 'PUT', 'GET', 'PROPFIND'])};")
    if rng.random() < 0.3:
        body.append(f"proxy_http_version {rng.choice(['1.0', '1.1'])};")
    redirect = rng.choice(REDIRECTS) if rng.random() < 0.4 else ""
    if rng.random() < 0.3:
        body += [f"proxy_hide_header {h};" for h in rng.sample(HIDE, rng.randint(1, 2))]
    if rng.random() < 0.3:
        body += [f"proxy_pass_header {h};" for h in rng.sample(PASS, rng.randint(1, 2))]
    if rng.random() < 0.3:
        body.append("proxy_ignore_headers " + " ".join(rng.sample(IGNORE, rng.randint(1, 3))) + ";")
    if rng.random() < 0.35:
        body.append("proxy_intercept_errors on;")
        body += rng.sample(ERROR_PAGES, rng.randint(1, 2))
    elif rng.random() < 0.2:
        body.append(rng.choice(ERROR_PAGES))
    if rng.random() < 0.25:
        body.append("proxy_buffering off;")
    if rng.random() < 0.25:
        cookies = rng.sample(COOKIES, rng.randint(1, 2))
        body += cookies[:1] if "off" in " ".join(cookies) else cookies  # "off" goes alone
    target = rng.choice(_targets("regex" if kind == "regex" else "prefix" if kind == "rewrite"
                                 else kind))
    if "$" in target and "default" in redirect:  # nginx -t: a fixed URL is needed
        redirect = ""
    if "$bk" in target:
        body.append("set $bk {B};")
    body += [f"proxy_pass {target};", redirect]  # "default" must follow proxy_pass
    if rng.random() < 0.1:
        body.append("proxy_set_body \"sb $request_method $arg_r\";")
    if rng.random() < 0.2:  # an "if" block inherits the location's proxy_pass
        body.append(rng.choice(IFS))
    inner = " ".join(b for b in body if b)
    p = f"/l{n}"
    if kind == "prefix":
        return f"location {p}/ {{ {inner} }}", f"{p}/"
    if kind == "slashless":
        return f"location {p} {{ {inner} }}", f"{p}"
    if kind == "exact":
        return f"location = {p}/e {{ {inner} }}", f"{p}/e"
    if kind == "regex":
        return f"location ~ ^{p}/(.*)$ {{ {inner} }}", f"{p}/"
    if kind == "rewrite":
        return (f"location {p}/ {{ rewrite ^{p}/(.*)$ /rw/$1 break; {inner} }}", f"{p}/")
    return (f"location {p}/ {{ try_files /nonexistent @n{n}; }}\n"
            f"        location @n{n} {{ {inner} }}", f"{p}/")


TAILS = ["", "a", "a/b", "%20x", "a%2Fb", "é", "%C3%A9", "..%2F", "x?k=v", "q?a=%zz",
         "dir/", "a+b", "%7Eu", "x;p=1", "a//b"]
REQ_HEADERS = [
    ("User-Agent", "fuzz/1"), ("X-Forwarded-For", "10.0.0.1"),
    ("X-Forwarded-For", "1.1.1.1, 2.2.2.2"), ("Cookie", "c=1"), ("Accept-Encoding", "gzip"),
    ("X-In", "in value"), ("Connection", "keep-alive"),
    ("TE", "trailers"), ("Keep-Alive", "300"), ("Upgrade", "h2c"), ("Content-Type", "text/plain"),
    ("Accept", "*/*"), ("x-lower", "l"), ("X-Dup", "1"), ("X-Dup", "2"),
    ("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"), ("Range", "bytes=0-3"),
]
METHODS = ["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]


def gen_requests(rng: random.Random, prefix: str) -> list[Req]:
    """Requests for one location: random methods, odd URIs, args naming a spec, bodies."""
    reqs = []
    for _ in range(REQUESTS_PER_LOCATION):
        tail = rng.choice(TAILS) if not prefix.endswith("/e") else rng.choice(["", "?k=1"])
        spec = rng.randrange(SPEC_COUNT)
        sep = "&" if "?" in tail else "?"
        target = f"{prefix}{tail}{sep}r={spec}" + rng.choice(["", "", "", "&i=1", "&i=2"])
        if rng.random() < 0.05:  # an absolute URI: its host is $host
            target = "http://abs.example" + target
        method = rng.choice(METHODS)
        heads = [("Host", rng.choice(["localhost", "Front.Example", "front:81"]))]
        heads += rng.sample(REQ_HEADERS, rng.randint(0, 4))
        body = b""
        if method in ("POST", "PUT", "PATCH") or rng.random() < 0.05:
            body = rng.choice([b"data=1", b"x" * 100, b"", b"line\r\nline2"])
        version = "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1"
        if body and version == "HTTP/1.1" and rng.random() < 0.2:
            heads.append(("Transfer-Encoding", "chunked"))
            body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        reqs.append(Req(method, target, heads, body, version))
    return reqs


def _spec(status: int, headers: list[tuple[str, str]]) -> dict:
    return {"status": status, "headers": headers, "framing": "length", "close": False,
            "extra": b""}


#: Divergences the generator found once, kept whatever the seed (as specs numbered from
#: SPEC_COUNT): several Location lines, the last rewritten one moved to nginx's own place
#: (and made absolute), the others kept; Refresh's url= through proxy_redirect; the
#: charset of an earlier Content-Type line kept for the last one; X-Accel-Redirect
#: keeping a Set-Cookie rewritten by proxy_cookie_path; a passed Server/Date the upstream
#: did not send gives no such line; and (any request) nginx's request line and header
#: order, HTTP/1.0 by default, over TCP.
FIXED_SPECS = [
    _spec(302, [("Location", "http://{B}/"), ("Location", "http://{B}/x/k"), ("X-H1", "one"),
                ("Location", "/loc/a")]),
    _spec(200, [("Refresh", "5; URL=http://{B}/x/r"), ("Refresh", "3"),
                ("Refresh", "0;url=/x/s")]),
    _spec(200, [("Content-Type", "text/html; charset=koi8-r"), ("Content-Type", "text/x-back")]),
    _spec(200, [("Set-Cookie", "a=1; Path=/x/; Domain=127.0.0.1"),
                ("Content-Type", "text/html; charset=koi8-r"), ("Content-Type", "text/x-back"),
                ("X-Accel-Redirect", "/internal/xa")]),
    _spec(200, []),
]
FIXED = ("location /fx/ { proxy_pass http://{B}/x/; proxy_cookie_path /x/ /p/; "
         "proxy_pass_header Server; proxy_pass_header Date; }\n"
         "        location /fr/ { proxy_pass http://{B}/; "
         "proxy_redirect ~^http://[^/]+/(.*)$ /re/$1; }")
FIXED_REQS = [Req("GET", f"/{loc}/k?r={SPEC_COUNT + i}") for loc in ("fx", "fr")
              for i in range(len(FIXED_SPECS))] + [
    Req("POST", "/fx/a%20b?r=0", [("Host", "h"), ("X-B", "1"), ("X-A", "2")], b"body",
        "HTTP/1.0")]


def build() -> tuple[str, list[dict], list[tuple[str, str, list[Req]]]]:
    """The config template (``{B}``: the backend), the specs and the cases."""
    rng = random.Random(SEED)
    specs = gen_specs(rng) + FIXED_SPECS
    groups = []
    for n in range(LOCATIONS):
        block, prefix = gen_location(rng, n)
        groups.append((f"l{n}", block, gen_requests(rng, prefix)))
    groups.append(("fixed", FIXED, FIXED_REQS))
    # inherited by the locations that set none of their own
    server_headers = ("proxy_set_header X-Srv s; proxy_set_header X-Srv2 $host; "
                      "proxy_hide_header X-H2; proxy_redirect http://other.example/ /srv/;")
    conf = (
        "error_log logs/error.log info;\nevents {}\nhttp {\n    access_log off;\n"
        "    upstream be { server {B}; }\n"
        # a refused peer never marked down (max_fails=0): the same order on both sides
        "    upstream mix { server 127.0.0.1:1 max_fails=0; server {B}; }\n"
        "    server {\n        listen 127.0.0.1:{port};\n        server_name localhost;\n"
        f"        {server_headers}\n"
        '        location /ep/ { return 200 "ep $uri $args\\n"; }\n'
        '        location /internal/ { internal;'
        ' return 200 "xa $uri $args $upstream_status\\n"; }\n'
        '        location @fb { return 200 "fallback $status\\n"; }\n'
        + "".join(f"        {g[1]}\n" for g in groups) + "    }\n}\n")
    return conf, specs, groups


CONF, SPECS, GROUPS = build()


@pytest.fixture(scope="module")
def fuzz_pair():  # type: ignore[no-untyped-def]
    backend = Backend(SPECS)
    conf = CONF.replace("{B}", f"127.0.0.1:{backend.port}")
    try:
        with Pair(conf) as p:
            p.backend_port = backend.port
            yield p
    finally:
        backend.close()


def test_enough_cases() -> None:
    """The generator still makes a couple of hundred requests (not none, not thousands)."""
    total = sum(len(g[2]) for g in GROUPS)
    assert 100 <= total <= 400, total


def _show(reply: Reply) -> str:
    heads = [(k, v) for k, v in reply.headers if k.lower() != "date"]
    return f"{reply.status} {reply.reason} {heads}\n      {reply.body!r}"


def _normalized(reply: Reply, port: int) -> dict:
    """What a user sees; the backend's port spelled the same on both sides."""
    seen = reply.comparable()
    seen["body"] = spell_port(seen["body"], port, b"{B}")
    seen["headers"] = [(k, spell_port(v, port, "{B}")) for k, v in seen["headers"]]
    return seen


def _decoded(req: Req) -> Req:
    """The request as the engine's listener hands it on: a chunked body decoded (the
    in-process path skips the listener)."""
    if not any(k == "Transfer-Encoding" for k, _ in req.headers):
        return req
    return Req(req.method, req.target, req.headers, dechunk(req.body), req.version)


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    diffs = []
    mark_logs(fuzz_pair)
    port = fuzz_pair.backend_port
    for req in reqs:
        real, ours = fuzz_pair.ask_real(req), fuzz_pair.ask_engine(_decoded(req))
        if _normalized(ours, port) != _normalized(real, port):
            diffs.append(f"  {req.method} {req.target} {req.version} {req.headers} {req.body!r}\n"
                         f"    nginx: {_show(real)}\n    ours:  {_show(ours)}")
    assert not diffs, (f"seed {SEED}, {label}: {len(diffs)} of {len(reqs)} differ\n{block}\n"
                       + "\n".join(diffs))
    our_log, real_log = new_log_lines(fuzz_pair, "ours"), new_log_lines(fuzz_pair, "real")
    if our_log != real_log:  # give a loaded machine's nginx time to write its last lines
        time.sleep(0.3)
        real_log += new_log_lines(fuzz_pair, "real")
    assert our_log == real_log, f"seed {SEED}, {label}: error logs differ\n{block}"


# --- bad configurations --------------------------------------------------------------------

BAD = [
    "proxy_pass;", "proxy_pass http://;", "proxy_pass ftp://x;", "proxy_pass http://a:99999;",
    "proxy_pass http://127.0.0.1:1; proxy_pass http://127.0.0.1:2;",
    "proxy_redirect;", "proxy_redirect a;", "proxy_redirect off x;", "proxy_redirect ~( /;",
    "proxy_http_version 2.0;", "proxy_method;", "proxy_method a b;",
    "proxy_set_header X;", "proxy_set_header X a b;", "proxy_set_header X $nosuch;",
    "proxy_pass_request_headers maybe;", "proxy_pass_request_body 1;", "proxy_buffering;",
    "proxy_intercept_errors yes;", "proxy_hide_header;", "proxy_pass_header a b;",
    "proxy_ignore_headers Foo;", "proxy_ignore_headers;", "proxy_pass http://[::1;",
    "proxy_pass http://a b;", "proxy_pass http://127.0.0.1:1/$nosuch;",
    "proxy_pass http://127.0.0.1:1; proxy_redirect default; if ($arg_a) { add_header X 1; }",
    "proxy_cookie_domain off; proxy_cookie_domain a b;", "proxy_cookie_path a;",
    "proxy_redirect default x;", "proxy_redirect default; proxy_pass http://127.0.0.1:1;",
    "proxy_pass unix:;", "proxy_http_version;",
]


@requires_nginx
@pytest.mark.parametrize("body", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_same_config_verdict_as_nginx(tmp_path: Path, body: str) -> None:
    conf = ("events {}\nhttp {\nserver {\nlisten 127.0.0.1:8999;\nlocation / {\n" + body
            + "\n}\nlocation ~ ^/re/ { proxy_pass http://127.0.0.1:1; }\n}\n}\n")
    write_prefix(tmp_path, conf)
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output), conf
