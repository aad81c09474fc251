"""Seeded randomized differential tests of static files and the headers around them.

One real nginx serves every generated server (told apart by ``server_name sN.test``),
each with random server- and location-level directives drawn from: root/alias, index,
autoindex, try_files, etag, if_modified_since, add_header (``always`` or not, inherited
or overridden), expires, default_type, types, charset (+ source_charset,
charset_types), gzip (+ gzip_types, gzip_min_length, gzip_vary, gzip_proxied),
gzip_static, max_ranges, error_page (to a file, a named location, ``=code``, a URL),
internal and limit_except. A small tree of files with fixed mtimes (the same on both
sides, so ETag and Last-Modified are compared too) is asked with random methods, ranges,
conditionals and Accept-Encoding. Status, body (gunzipped; multipart boundaries
normalised), the headers a user sees (Expires compared as an absolute date or relative
to Date, so a second ticking between the two requests does not count) and the error-log
lines must agree. A divergence prints the seed, the server block and the request. The
seed is fixed (``SEED``): every run checks the same cases. Broken directive values go
through ``nginx -t`` and through our loader. Named cases keep the minimal forms of what
the fuzzer found (a 416 through error_page, add_header ETag/Last-Modified, gzip_proxied
decided by gzip_static, ``expires modified`` from a variable, the charset_map check).

Requests carry each If-* header once: nginx's server layer refuses a repeated one before
the request gets anywhere, and the engine is asked in-process, behind that layer.
"""

from __future__ import annotations

import email.utils
import gzip
import os
import random
import re
import zlib
from pathlib import Path

import pytest

from tests.core.conftest import MIME_TYPES
from tests.differential import Reply, Req, engine_load_error
from tests.fuzzing import assert_group_as_nginx, pair_fixture
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

#: Fixed, so every run checks the same cases; set STATIC_FUZZ_SEED to explore others.
SEED = int(os.environ.get("STATIC_FUZZ_SEED", "20261127"))
SERVERS = 20
REQUESTS_PER_SERVER = 34
#: Every file and directory of the tree gets this mtime on both sides.
MTIME = 1_600_000_000

BIG = "".join(f"line {i:04d} of a compressible text file\n" for i in range(60))
TEXT_FILES: dict[str, str] = {
    "a.txt": "abcdefghijklmnopqrstuvwxyz",
    "page.html": "<html><body>" + "<p>hello</p>" * 20 + "</body></html>\n",
    "big.txt": BIG,
    "style.css": "body { color: red; }\n" * 8,
    "data.json": '{"k": "v"}\n',
    "noext": "no extension\n",
    "x.unknown": "unknown type\n",
    ".hidden": "dot file\n",
    "dir/index.html": "<p>dir index</p>\n",
    "dir/b.txt": "dir b\n",
    "list/one.txt": "one\n",
    "list/two.html": "<b>two</b>\n",
    "list/sub/three.txt": "three\n",
    "errors/404.html": "<p>custom 404</p>\n",
    "errors/50x.html": "<p>custom 50x</p>\n",
    "lim/f.txt": "limited\n",
}
FILES: dict[str, str | bytes] = {f"html/{k}": v for k, v in TEXT_FILES.items()}
FILES["html/big.txt.gz"] = gzip.compress(BIG.encode(), mtime=0)
FILES["html/style.css.gz"] = gzip.compress(b"precompressed css\n", mtime=0)
FILES["conf/mime.types"] = MIME_TYPES.read_text()


def _size(rel: str) -> int:
    data = FILES[f"html/{rel}"]
    return len(data.encode() if isinstance(data, str) else data)


def etag_of(rel: str) -> str:
    return f'"{MTIME:x}-{_size(rel):x}"'


LAST_MODIFIED = email.utils.formatdate(MTIME, usegmt=True)

# --- the generator ---------------------------------------------------------------------

ADD_HEADERS = ["add_header X-A a;", "add_header X-B b always;", "add_header X-C $uri;",
               'add_header X-D "";', "add_header Cache-Control private;",
               "add_header X-E e; add_header X-F f always;", "add_header ETag '\"fixed\"';",
               "add_header Last-Modified 'Thu, 01 Jan 2015 00:00:00 GMT';",
               "add_header Link </s.css>; add_header X-G $sent_http_content_type always;"]
EXPIRES = ["expires epoch;", "expires max;", "expires off;", "expires -1;", "expires 1h;",
           "expires modified +1h;", "expires @15h;", "expires 0;", "expires $arg_e;",
           "expires modified $arg_e;"]
GZIP = ["gzip on;", "gzip on; gzip_types *;", "gzip on; gzip_min_length 1; gzip_vary on;",
        "gzip on; gzip_types text/css application/json; gzip_min_length 100;",
        "gzip on; gzip_proxied any; gzip_vary on;", "gzip on; gzip_proxied expired;",
        "gzip off; gzip_vary on;", "gzip on; gzip_http_version 1.1;",
        "gzip on; gzip_disable msie6; gzip_types text/html text/css;",
        'gzip on; gzip_disable "curl/"; gzip_proxied no_etag;']
CHARSET = ["charset utf-8;", "charset koi8-r; source_charset koi8-r;",
           "charset utf-8; charset_types text/css;", "charset utf-8; charset_types *;",
           "charset off;", "charset utf-8; source_charset utf-8; charset_types application/json;"]
TYPES = ["default_type text/x-def;", "types { text/x-t txt; } default_type application/x-d;",
         "types {}", "types { application/x-h html htm; }"]
ERROR_PAGES = ["error_page 404 /errors/404.html;", "error_page 404 @fallback;",
               "error_page 404 =200 /errors/404.html;", "error_page 404 http://e.test/nf;",
               "error_page 404 =302 /a.txt;", "error_page 403 404 /errors/50x.html;",
               "error_page 404 = /a.txt;", "error_page 405 =200 /a.txt;",
               "error_page 416 /errors/50x.html;", "error_page 404 /nowhere.html;"]
MISC = ["etag off;", "if_modified_since off;", "if_modified_since exact;",
        "if_modified_since before;", "max_ranges 1;", "max_ranges 0;", "max_ranges 2;",
        "gzip_static on;", "gzip_static always;", "index page.html;", "index nothere.html;",
        "autoindex on;", "log_not_found off;", "autoindex on; autoindex_format json;",
        "autoindex on; autoindex_exact_size off;", "root html/list;", "internal;",
        "autoindex on; autoindex_format xml;", "gzip_static always; gzip_vary on;",
        "index index.html page.html;", "try_files $uri $uri.txt =404;",
        "error_page 404 = @fallback;", "error_page 404 =410 @fallback;",
        "recursive_error_pages on;", "server_tokens off;", "absolute_redirect off;",
        "msie_padding off;", "port_in_redirect off;"]
POOLS = [ADD_HEADERS, EXPIRES, GZIP, CHARSET, TYPES, ERROR_PAGES, MISC, MISC]


def _directives(rng: random.Random, count: int) -> list[str]:
    """``count`` directives from distinct pools (no directive given twice in a block)."""
    picked: list[str] = []
    seen: set[str] = set()
    for pool in rng.sample(POOLS, min(count, len(POOLS))):
        d = rng.choice(pool)
        names = {part.split()[0] for part in d.split(";") if part.strip()}
        if names & seen:
            continue
        seen |= names
        picked.append(d)
    return picked


#: Location names and the fixed part of their body.
LOCATIONS: list[tuple[str, str]] = [
    ("/", ""),
    ("/dir/", ""),
    ("/list/", ""),
    ("/al/", "alias html/list/;"),
    ("/errors/", "internal;"),
    ("/lim/", "limit_except GET { deny all; }"),
    ("= /big.txt", ""),
    ("@fallback", 'return 200 "fallback $uri\\n";'),
    ("/tf/", "try_files $uri $uri/ /a.txt;"),
    ("/tfn/", "try_files $uri @fallback;"),
    ("/tf404/", "alias html/; try_files $uri =404;"),
    ("~ ^/re/(.*)$", "alias html/$1;"),
    ("~* \\.(css|json)$", ""),
]


def gen_server(rng: random.Random, n: int) -> str:
    """One server: random server-level directives and the fixed locations, each with a
    few random ones of its own."""
    lines = ["    listen 127.0.0.1:{port};", f"    server_name s{n}.test;"]
    lines.append("    root html;" if rng.random() < 0.8 else "    root html/;")
    # source_charset only in locations: a location's other charset under a server's
    # source_charset would need a charset_map (recoding is not modelled)
    lines += ["    " + d for d in _directives(rng, rng.randint(0, 4))
              if "source_charset" not in d and not d.startswith(("root", "internal"))]
    for name, fixed in LOCATIONS:
        own = [] if name == "@fallback" and rng.random() < 0.5 else \
            _directives(rng, rng.choice([0, 0, 1, 2, 3]))
        if fixed.startswith(("alias", "try_files", "return")) or name == "@fallback":
            own = [d for d in own if not d.startswith(("error_page", "index"))]
        # no directive twice (root beside alias counts as twice, try_files in front of
        # a return never runs)
        taken = {part.split()[0] for part in fixed.split(";") if part.strip()}
        if "alias" in taken:
            taken.add("root")
        if "return" in taken:
            taken.add("try_files")
        own = [d for d in own if d.split()[0].rstrip(";") not in taken]
        body = " ".join(([fixed] if fixed else []) + own)
        lines.append(f"    location {name} {{ {body} }}")
    return "server {\n" + "\n".join(lines) + "\n}\n"


TARGETS = ["/a.txt", "/page.html", "/big.txt", "/style.css", "/data.json", "/noext",
           "/x.unknown", "/.hidden", "/dir", "/dir/", "/dir/b.txt", "/list/", "/list",
           "/list/sub/", "/list/sub", "/al/one.txt", "/al/", "/al/sub/", "/missing.txt",
           "/errors/404.html", "/lim/f.txt", "/tf/missing", "/tf/", "/tfn/x", "/tf404/a.txt",
           "/tf404/none", "/dir/missing/", "/a.txt?x=1", "/%61.txt", "/a.txt/", "/one.txt",
           "/a.txt?e=1h", "/a.txt?e=-1", "/a.txt?e=@x", "/a.txt?e=epoch", "/big.txt?e=@10h",
           "/style.css?e=modified+1h", "/sub/", "/dir/.hidden", "/%2e%2e/a.txt", "/",
           "/errors/", "/lim/", "/tfn/", "/tf404/", "/tf404/dir", "/a", "/big", "/list/one",
           "/style.css", "/big.txt.gz", "/STYLE.CSS", "/re/a.txt", "/re/dir", "/re/dir/",
           "/re/list/", "/re/missing", "/re/style.css", "/dir/x.json", "/re/data.json"]
METHODS = ["GET"] * 12 + ["HEAD", "HEAD", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]


def _file_of(target: str) -> str | None:
    """The tree's file a target names (for its real ETag), if any."""
    rel = target.split("?")[0].lstrip("/")
    rel = {"dir/": "dir/index.html", "al/one.txt": "list/one.txt",
           "tf404/a.txt": "a.txt", "%61.txt": "a.txt"}.get(rel, rel)
    return rel if f"html/{rel}" in FILES else None


def _range(rng: random.Random) -> str:
    return rng.choice(["bytes=0-4", "bytes=-5", "bytes=10-", "bytes=0-1,5-6", "bytes=0-1,-3",
                       "bytes=100000-", "bytes=5-2", "bytes=x", "bytes=0-0,1-1,2-2",
                       "bytes=-0", "Bytes=1-2", "bytes=0-1, 3-4", "bytes=1-", "items=0-1",
                       "bytes=0-1,0-1", "bytes= 0-1", "bytes=-", "bytes=0-18446744073709551616",
                       "bytes=0-1,2-3,4-5,6-7", "bytes=-100000"])


def gen_request(rng: random.Random, n: int) -> Req:
    """A random request for server ``n``: method, target and a few conditional, range
    and encoding headers (ETags and dates near the file's own)."""
    target = rng.choice(TARGETS)
    method = rng.choice(METHODS)
    rel = _file_of(target)
    etag = etag_of(rel) if rel else '"5f5e1000-1a"'
    heads = [("Host", f"s{n}.test")]
    # each header once (see the module's docstring)
    kinds = ["range", "ims", "inm", "im", "ius", "ifrange", "ae", "via", "ua"]
    for kind in rng.sample(kinds, rng.choice([0, 1, 1, 2, 2, 3])):
        if kind == "ifrange" and any(k == "Range" for k, _ in heads) or \
                kind == "range" and any(k == "If-Range" for k, _ in heads):
            continue
        if kind == "range":
            heads.append(("Range", _range(rng)))
        elif kind == "ims":
            heads.append(("If-Modified-Since", rng.choice([
                LAST_MODIFIED, "Thu, 01 Jan 1970 00:00:01 GMT", "Fri, 01 Jan 2100 00:00:00 GMT",
                "yesterday", email.utils.formatdate(MTIME + 1, usegmt=True),
                "Sun Sep 13 12:26:40 2020", "Sunday, 13-Sep-20 12:26:40 GMT",
                LAST_MODIFIED + "; length=26"])))
        elif kind == "inm":
            heads.append(("If-None-Match", rng.choice(
                ["*", etag, f'"x", {etag}', "W/" + etag, '"other"'])))
        elif kind == "im":
            heads.append(("If-Match", rng.choice(["*", etag, etag, f'"a", {etag}', '"other"',
                                                  "W/" + etag])))
        elif kind == "ius":
            heads.append(("If-Unmodified-Since", rng.choice(
                [LAST_MODIFIED, LAST_MODIFIED, "Thu, 01 Jan 1970 00:00:01 GMT", "bad",
                 "Fri, 01 Jan 2100 00:00:00 GMT"])))
        elif kind == "ifrange":
            heads.append(("Range", "bytes=0-2"))
            heads.append(("If-Range", rng.choice([etag, LAST_MODIFIED, '"other"',
                                                  "Thu, 01 Jan 1970 00:00:01 GMT"])))
        elif kind == "ae":
            heads.append(("Accept-Encoding", rng.choice(
                ["gzip", "identity", "gzip;q=0", "deflate, gzip", "GZIP", "gzip;q=0.5, br",
                 "x-gzip", "gzip;q=0.000", "gzip ;q=1", "*"])))
        elif kind == "via":
            heads.append(("Via", "1.1 proxy"))
        else:
            heads.append(("User-Agent", rng.choice([
                "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", "curl/8.0",
                "Mozilla/5.0 Chrome/120.0 Safari/537.36", "Mozilla/5.0 (MSIE 9.0)"])))
    if rng.random() < 0.4 and not any(k == "Accept-Encoding" for k, _ in heads):
        heads.append(("Accept-Encoding", "gzip"))
    body = b"data" if method in ("POST", "PUT") else b""
    version = "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1"
    return Req(method, target, heads, body, version)


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block, requests)."""
    rng = random.Random(SEED)
    groups = []
    for n in range(SERVERS):
        block = gen_server(rng, n)
        reqs = [gen_request(rng, n) for _ in range(REQUESTS_PER_SERVER)]
        groups.append((f"server-{n}", block, reqs))
    conf = ("events {}\nhttp {\n    include mime.types;\n    error_log logs/error.log info;\n"
            "    access_log off;\n" + "".join(g[1] for g in groups) + "}\n")
    return conf, groups


CONF, GROUPS = build()

# --- comparing -------------------------------------------------------------------------------

_BOUNDARY = re.compile(r"boundary=(\S+)")
_DROP = {"date", "connection"}


def _normalised(reply: Reply, mode: str) -> dict:
    """What the client sees, boundary replaced, body gunzipped and, by ``mode``, Expires
    as is ("abs": epoch, max), as seconds after Date ("delta": ``expires 1h``) or as is
    with max-age relative to it ("rel": @15h, ``modified``). Repeated headers stay."""
    heads = [(k.lower(), v) for k, v in reply.headers if k.lower() not in _DROP]
    first = dict(reversed(heads))
    body = reply.body
    m = _BOUNDARY.search(first.get("content-type", ""))
    if m:
        heads = [(k, v.replace(m.group(1), "B")) for k, v in heads]
        body = body.replace(m.group(1).encode(), b"B")
        # the length is compared through the body: boundaries may differ in length
        heads = [(k, "(multipart)" if k == "content-length" else v) for k, v in heads]
    if first.get("content-encoding") == "gzip" and body:
        try:
            body = zlib.decompress(body, 31)
        except zlib.error:
            body = b"<bad gzip>" + body
    date = email.utils.parsedate_tz(next((v for k, v in reply.headers if k.lower() == "date"),
                                         ""))
    exp = email.utils.parsedate_tz(first.get("expires", ""))
    if exp and date and mode != "abs":
        delta = email.utils.mktime_tz(exp) - email.utils.mktime_tz(date)
        out = []
        for k, v in heads:
            cc = re.fullmatch(r"max-age=(\d+)", v) if k == "cache-control" else None
            if cc and mode == "rel":
                v = f"max-age=Expires-Date{int(cc.group(1)) - delta:+d}"
            elif k == "expires" and mode == "delta":
                v = f"Date{delta:+d}"
            out.append((k, v))
        heads = out
    return {"status": reply.status, "headers": sorted(heads), "body": body}


def same(real: Reply, ours: Reply) -> bool:
    """Equal, but for a second that ticked between the two requests."""
    return any(_normalised(real, m) == _normalised(ours, m) for m in ("abs", "delta", "rel"))


fuzz_pair = pair_fixture(CONF, FILES, MTIME)


def test_enough_cases() -> None:
    """The generator still makes a few hundred requests over varied servers."""
    total = sum(len(g[2]) for g in GROUPS)
    assert 400 <= total <= 900, total
    assert len({g[1] for g in GROUPS}) == SERVERS


def test_comparison_notices_differences() -> None:
    """The normaliser forgives a ticking clock, not a different header or body."""
    base = Reply(200, "OK", [("Date", "Thu, 01 Jan 2026 00:00:00 GMT"),
                             ("Expires", "Thu, 01 Jan 2026 01:00:00 GMT"),
                             ("Cache-Control", "max-age=3600")], b"x")
    later = Reply(200, "OK", [("Date", "Thu, 01 Jan 2026 00:00:01 GMT"),
                              ("Expires", "Thu, 01 Jan 2026 01:00:01 GMT"),
                              ("Cache-Control", "max-age=3600")], b"x")
    assert same(base, later)
    fixed = [("Expires", "Thu, 31 Dec 2037 23:55:55 GMT"), ("Cache-Control", "max-age=315360000")]
    assert same(Reply(200, "OK", base.headers[:1] + fixed, b"x"),
                Reply(200, "OK", later.headers[:1] + fixed, b"x"))
    assert not same(base, Reply(200, "OK", later.headers[:2] + [("Cache-Control", "max-age=1")],
                                b"x"))
    assert not same(base, Reply(200, "OK", base.headers + [("X-A", "a")], b"x"))
    assert not same(Reply(200, "OK", base.headers + [("X-A", "a")], b"x"),
                    Reply(200, "OK", base.headers + [("X-A", "a")] * 2, b"x"))
    assert not same(base, Reply(200, "OK", base.headers, b"y"))


def _show(reply: Reply) -> str:
    heads = " | ".join(f"{k}: {v}" for k, v in reply.headers if k.lower() not in _DROP)
    return f"{reply.status} {heads} {reply.body[:80]!r}"


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_response_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs, same, _show, describe=_describe)


def _describe(req: Req) -> str:
    heads = "; ".join(f"{k}: {v}" for k, v in req.headers[1:])
    return f"{req.method} {req.target} [{heads}]"


# --- bad configurations --------------------------------------------------------------------

BAD_TEMPLATES = [
    "expires {w};", "expires modified {w};", "expires @{n}h;", "expires modified epoch;",
    "expires modified @1h;", "expires 1h 2h;", "add_header X;", "add_header X a {w};",
    "add_header X a always x;", "gzip_min_length {w};", "gzip_proxied {w};",
    "gzip_static {w};", "gzip_vary {w};", "gzip {w};", "charset_types;",
    "charset utf-8; source_charset koi8-r;", "max_ranges {w};", "error_page {n} /x;",
    "error_page 404 ={w} /x;", "error_page 404 =;", "autoindex {w};", "etag {w};",
    "if_modified_since {w};", "default_type;", "location /l {{ limit_except {w} {{ }} }}",
    "location /l {{ limit_except {{ }} }}", "location /l {{ internal x; }}",
    "types {{ {w}; }}", "gzip_types;", "index;",
]
WORDS = ["x", "-1", "1h", "on", "off", "1k", "GET", "always", "any", "3M", "max", "@", "25h"]


def gen_bad_configs() -> list[tuple[str, str]]:
    """Each template (mostly broken, a few valid) filled with random words."""
    rng = random.Random(SEED + 1)
    out = []
    for i, tpl in enumerate(BAD_TEMPLATES):
        body = tpl.format(w=rng.choice(WORDS), n=rng.choice([15, 24, 25, 99, 200, 600]))
        out.append((f"bad-{i}", "events {}\nhttp {\nserver {\nlisten 127.0.0.1:1;\n"
                    + body + "\n}\n}\n"))
    return out


BAD = gen_bad_configs()


@requires_nginx
@pytest.mark.parametrize("label,conf", BAD, ids=[c[0] for c in BAD])
def test_same_config_verdict_as_nginx(tmp_path: Path, label: str, conf: str) -> None:
    write_prefix(tmp_path, conf)
    real = first_emerg(nginx_test(tmp_path).output)
    got = engine_load_error(tmp_path)
    assert got == real or got == (real.replace(str(tmp_path) + "/", "") if real else None), \
        f"seed {SEED + 1}\n{conf}"


# --- named cases: minimal forms of what the fuzzer found -----------------------------------

NAMED_CONF = r"""
events {}
http {
    include mime.types;
    error_log logs/error.log info;
    access_log off;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /r416page/ { alias html/; error_page 416 /errors/50x.html; add_header X-A a; }
        location /r416eq200/ { alias html/; error_page 416 =200 /errors/50x.html; }
        location /r416named/ { alias html/; error_page 416 @fallback; }
        location /r416always/ { alias html/; add_header X-F f always; add_header X-A a; }
        location /r416charset/ { alias html/; charset utf-8; error_page 416 /errors/50x.html; }
        location /r416types/ { alias html/; charset utf-8; charset_types application/json;
                               error_page 416 /plain/50x.html; }
        location /plain/ { alias html/errors/; charset utf-8; }
        location /etag/ { alias html/; add_header ETag '"fixed"'; }
        location /noetag/ { alias html/; add_header ETag ""; add_header Last-Modified ""; }
        location /lm/ { alias html/; add_header Last-Modified "Thu, 01 Jan 2015 00:00:00 GMT"; }
        location /gzexp/ { alias html/; gzip on; gzip_proxied expired; gzip_types *;
                           gzip_static on; expires 1h; }
        location /gzexp2/ { alias html/; gzip on; gzip_proxied expired; gzip_types *;
                            expires 1h; }
        location /expvar/ { alias html/; expires modified $arg_e; }
        location @fallback { return 200 "fallback\n"; }
        location /errors/ { internal; }
    }
}
"""

_R = ("Range", "bytes=1000-")
NAMED_CASES = [
    ("416 to an error_page URI keeps the file's lines", "/r416page/a.txt", [_R]),
    ("416 with =200: the page's own 416", "/r416eq200/a.txt", [_R]),
    ("416 to a named location", "/r416named/a.txt", [_R]),
    ("416 page: an always header is added twice", "/r416always/a.txt", [_R]),
    ("416 page keeps the charset the file got", "/r416charset/a.txt", [_R]),
    ("416 page: the type as first tested decides", "/r416types/a.txt", [_R]),
    ("add_header ETag replaces the file's", "/etag/a.txt", []),
    ("add_header ETag and If-None-Match", "/etag/a.txt", [("If-None-Match", '"fixed"')]),
    ("empty ETag and Last-Modified remove them", "/noetag/a.txt", []),
    ("add_header Last-Modified and If-Range", "/lm/a.txt",
     [("Range", "bytes=0-1"), ("If-Range", LAST_MODIFIED)]),
    ("gzip_proxied expired: gzip_static asked first", "/gzexp/big.txt",
     [("Via", "1.1 p"), ("Accept-Encoding", "gzip")]),
    ("gzip_proxied expired, no gzip_static", "/gzexp2/big.txt",
     [("Via", "1.1 p"), ("Accept-Encoding", "gzip")]),
    ("expires modified from a variable: epoch is no time", "/expvar/a.txt?e=epoch", []),
    ("expires modified from a variable: @ refused", "/expvar/a.txt?e=@1h", []),
    ("expires modified from a variable: +1h", "/expvar/a.txt?e=%2B1h", []),
]


named_pair = pair_fixture(NAMED_CONF, FILES, MTIME)


@requires_nginx
@pytest.mark.parametrize("name,target,heads", NAMED_CASES, ids=[c[0] for c in NAMED_CASES])
def test_named_case_as_nginx(named_pair, name, target, heads) -> None:  # type: ignore[no-untyped-def]
    real, ours = named_pair.both(Req("GET", target, [("Host", "n.test")] + heads))
    assert same(real, ours), f"\n  nginx: {_show(real)}\n  ours:  {_show(ours)}"


#: http-level bodies for the charset_map check: which block needs a map, and which
#: spelling of a charset name nginx's message shows (the first one it read).
CHARSET_CONFIGS = [
    "charset utf-8; source_charset koi8-r;",
    "charset utf-8; source_charset koi8-r; server { }",
    "charset UTF-8; source_charset koi8-r; server { charset utf-8; source_charset Koi8-R; }",
    "server { location / { charset utf-8; source_charset windows-1251; } "
    "location /x { charset koi8-r; source_charset utf-8; } }",
    "server { source_charset utf-8; location / { charset koi8-r; } }",
    "charset_map koi8-r utf-8 { } server { charset utf-8; source_charset KOI8-R; }",
    "server { charset utf-8; source_charset utf-8; location / { charset off; } }",
    "server { location / { charset $arg_c; source_charset koi8-r; } }",
    "server { location / { if ($arg_x) { charset koi8-r; } source_charset utf-8; } }",
]


@requires_nginx
@pytest.mark.parametrize("body", CHARSET_CONFIGS)
def test_charset_map_verdict_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, "events {}\nhttp {\n" + body + "\n}\n")
    real = first_emerg(nginx_test(tmp_path).output)
    got = engine_load_error(tmp_path)
    assert got == real or got == (real.replace(str(tmp_path) + "/", "") if real else None)
