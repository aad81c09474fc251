"""Files on disk against real nginx: root/alias, index, the directory redirect,
try_files, error_page, internal, types, conditional requests, ranges, HEAD, odd URIs and
the error-log lines each writes (level and text)."""

from __future__ import annotations

import re
import time

import pytest

from engine import Engine

from tests.differential import Pair, Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    access_log off;
    server {
        listen 127.0.0.1:{port};
        server_name audit.test;
        root html;
        location /al/ { alias html/aliased/; }
        location /alns { alias html/aliased; }
        location ~ ^/re/(.*)$ { alias html/aliased/$1; }
        location ~ ^/renc/ { alias html/aliased/; }
        location /alt/ { alias html/aliased/; try_files $uri $uri/ =404; }
        location /idx/ { index missing.html b.html a.html; }
        location /absidx/ { index /a.txt; }
        location /noidx/ { index nothere.html; }
        location /dirindex/ { index sub; }
        location /rel/ { absolute_redirect off; }
        location /noport/ { port_in_redirect off; }
        location /sname/ { server_name_in_redirect on; }
        location /tf/ { try_files $uri $uri/ /a.txt?from=tf; }
        location /tf404/ { try_files $uri =404; }
        location /tfnamed/ { try_files $uri @named; }
        location /tfvar/ { try_files /$arg_f /a.txt; }
        location /tfeq/ { try_files /none =418; }
        location @named { return 200 "named $uri $args\n"; }
        location /ep/ { error_page 404 /errors/404.html; }
        location /epnamed/ { error_page 404 @named; }
        location /epeq/ { error_page 404 = /a.txt; }
        location /epeqmiss/ { error_page 404 = /nowhere; }
        location /ep200/ { error_page 404 =200 /errors/404.html; }
        location /epurl/ { error_page 404 http://example.test/x; }
        location /epurl301/ { error_page 404 =301 http://example.test/y; }
        location /eprel/ { error_page 404 /errors/404.html?k=v; }
        location /epfail/ { error_page 404 /epfail/missing-too.html; }
        location /eprec/ { recursive_error_pages on; error_page 404 /eprec2/x; }
        location /eprec2/ { error_page 404 /errors/404.html; }
        location /eprecloop/ { recursive_error_pages on; error_page 404 /eprecloop/x; }
        location /ep403/ { error_page 403 /errors/403.html; }
        location /errors/ { internal; }
        location /types/ { types { text/x-foo foo; } default_type application/x-def; }
        location /notypes/ { types {} }
        location /few/ { max_ranges 1; }
        location /zero/ { max_ranges 0; }
        location /quiet/ { log_not_found off; }
        location /noetag/ { etag off; }
        location /imsbefore/ { if_modified_since before; }
        location /imsoff/ { if_modified_since off; }
        location /perm/tf/ { try_files /perm/closed/f.txt /perm/closed/g /a.txt; }
        location /perm/tfdir/ { try_files /perm/closed/ =404; }
        location /perm/ai/ { autoindex on; index none.html; }
        location /slashroot/ { root html/; }
        location /epvar/ { error_page 404 /errors/$arg_p; }
        location /epeqnamed/ { error_page 404 = @named; }
        location /ep405/ { error_page 405 /errors/404.html; }
        location /ep500/ { error_page 404 /ep500/x.txt; error_page 500 /errors/404.html; }
        location ~ ^/rtf/(.*)$ { alias html/aliased/$1; try_files $uri =404; }
        location /altf/ { alias html/aliased/; try_files $uri /al/f.txt; }
        location /idxvar/ { index $arg_i.html; }
        location /tfint/ { try_files $uri /errors/404.html; }
        location /tfzero/ { try_files /none =0; }
        location /tfidx/ { try_files $uri/ =404; }
        location /altf2/ { alias html/aliased/; try_files /f.txt =404; }
        location /altf3/ { alias html/aliased/; try_files /sub/ =404; }
        location ~ ^/rtf2/(.*)$ { alias html/rtf2/$1; try_files /x.txt =404; }
    }
}
"""

FILES = {
    "html/a.txt": "abcdefghijklmnopqrstuvwxyz",
    "html/page.html": "<p>page</p>\n",
    "html/aliased/f.txt": "aliased file\n",
    "html/aliased/index.html": "aliased index\n",
    "html/aliased/sub/g.txt": "aliased sub\n",
    "html/idx/a.html": "a index\n",
    "html/idx/b.html": "b index\n",
    "html/noidx/.keep": "",
    "html/dirindex/sub/x": "",
    "html/dir/index.html": "dir index\n",
    "html/rel/d/index.html": "",
    "html/noport/d/index.html": "",
    "html/sname/d/index.html": "",
    "html/tf/f.txt": "tf file\n",
    "html/tf/d/index.html": "tf dir index\n",
    "html/tfvar/ok.txt": "tfvar\n",
    "html/errors/404.html": "custom 404\n",
    "html/errors/403.html": "custom 403\n",
    "html/ep403/.keep": "",
    "html/types/x.foo": "foo",
    "html/types/x.FOO": "FOO",
    "html/types/x.unknown": "unk",
    "html/types/noext": "noext",
    "html/notypes/x.html": "html",
    "html/x.HTML": "upper",
    "html/x.JpG": "jpg",
    "html/few/b.txt": "0123456789",
    "html/zero/b.txt": "0123456789",
    "html/noetag/e.txt": "no etag",
    "html/imsbefore/i.txt": "ims",
    "html/imsoff/i.txt": "ims",
    "html/sp ace.txt": "space",
    "html/perm/secret.txt": "secret",
    "html/perm/closed/f.txt": "f",
    "html/perm/closed/index.html": "i",
    "html/perm/idx/index.html": "i",
    "html/perm/ai/closed/x": "x",
    "html/perm/ai/unlisted/x": "x",
    "html/slashroot/s.txt": "s",
    "html/idxvar/one.html": "one\n",
    "html/tfidx/d/index.html": "tfidx\n",
    "html/rtf2/d/x.txt": "rtf2 x\n",
    "html/ep405/p.txt": "p",
}

#: chmod after the servers start: nginx's workers (nobody) meet them, root does not.
MODES = {"html/perm/secret.txt": 0o600, "html/perm/closed": 0o700,
         "html/perm/idx/index.html": 0o600, "html/perm/ai/closed": 0o700,
         "html/perm/ai/unlisted": 0o711}

H = [("Host", "audit.test")]


def get(target: str, *extra: tuple[str, str], method: str = "GET") -> Req:
    return Req(method, target, H + list(extra))


CASES = [
    # root and alias
    ("root file", get("/a.txt")),
    ("missing file", get("/nope.txt")),
    ("alias with slash", get("/al/f.txt")),
    ("alias with slash, directory index", get("/al/")),
    ("alias with slash, subdirectory", get("/al/sub")),
    ("alias without slash", get("/alns/f.txt")),
    ("alias without slash, bare", get("/alns")),
    ("alias without slash, glued name", get("/alnsf.txt")),
    ("alias regex capture", get("/re/f.txt")),
    ("alias regex capture, missing", get("/re/zz.txt")),
    ("alias regex capture, directory", get("/re/sub")),
    ("alias regex without capture", get("/renc/f.txt")),
    ("alias + try_files file", get("/alt/f.txt")),
    ("alias + try_files directory", get("/alt/sub/")),
    ("alias + try_files missing", get("/alt/none")),
    # index
    ("index picks the first existing", get("/idx/")),
    ("index with args", get("/idx/?q=1")),
    ("absolute index", get("/absidx/")),
    ("index of a missing file", get("/noidx/")),
    ("index of a missing directory", get("/nosuchdir/")),
    ("index is a directory", get("/dirindex/")),
    ("default index", get("/dir/")),
    # directory without slash
    ("directory redirect", get("/dir")),
    ("directory redirect with args", get("/dir?a=b&c")),
    ("directory redirect, relative", get("/rel/d")),
    ("directory redirect, no port", get("/noport/d")),
    ("directory redirect, server name", Req("GET", "/sname/d", [("Host", "other.test")])),
    ("directory redirect, host with port", Req("GET", "/dir", [("Host", "h.test:8080")])),
    ("directory redirect, HTTP/1.0 no host", Req("GET", "/dir", [], version="HTTP/1.0")),
    ("directory redirect, HEAD", get("/dir", method="HEAD")),
    # try_files
    ("try_files file", get("/tf/f.txt")),
    ("try_files directory", get("/tf/d")),
    ("try_files fallback with args", get("/tf/none?orig=1")),
    ("try_files =404", get("/tf404/none")),
    ("try_files named", get("/tfnamed/none?q=2")),
    ("try_files variable hit", get("/tfvar/x?f=tfvar/ok.txt")),
    ("try_files variable miss", get("/tfvar/x?f=nothing")),
    ("try_files =418", get("/tfeq/x")),
    # error_page
    ("error_page to a uri", get("/ep/none")),
    ("error_page to a uri, HEAD", get("/ep/none", method="HEAD")),
    ("error_page to a uri, POST", Req("POST", "/ep/none", H, b"body")),
    ("error_page named", get("/epnamed/none?z=1")),
    ("error_page = form", get("/epeq/none")),
    ("error_page = form, target missing", get("/epeqmiss/none")),
    ("error_page =200", get("/ep200/none")),
    ("error_page to a URL", get("/epurl/none")),
    ("error_page =301 to a URL", get("/epurl301/none")),
    ("error_page uri with args", get("/eprel/none")),
    ("error_page target fails too", get("/epfail/none")),
    ("recursive_error_pages", get("/eprec/none")),
    ("recursive_error_pages loop", get("/eprecloop/none")),
    ("error_page 403 of a directory", get("/ep403/")),
    ("internal location", get("/errors/404.html")),
    # types
    ("types in a location", get("/types/x.foo")),
    ("types uppercase extension", get("/types/x.FOO")),
    ("types unknown extension", get("/types/x.unknown")),
    ("types no extension", get("/types/noext")),
    ("empty types", get("/notypes/x.html")),
    ("uppercase html", get("/x.HTML")),
    ("mixed case jpg", get("/x.JpG")),
    # odd URIs
    ("encoded space", get("/sp%20ace.txt")),
    ("percent zero zero", get("/a%00.txt")),
    ("dot dot inside", get("/al/../a.txt")),
    ("dot dot above root", get("/../a.txt")),
    ("encoded dot dot", get("/%2e%2e/a.txt")),
    ("encoded slash", get("/al%2Ff.txt")),
    ("double slash", get("//a.txt")),
    ("trailing dot", get("/a.txt.")),
    ("log_not_found off", get("/quiet/none")),
    ("log_not_found off, index", get("/quiet/")),
    ("file with a trailing slash", get("/a.txt/")),
    ("file as a directory", get("/a.txt/x")),
    # methods
    ("POST to a file", Req("POST", "/a.txt", H, b"x")),
    ("PUT to a file", Req("PUT", "/a.txt", H, b"x")),
    ("DELETE to a directory", Req("DELETE", "/dir/", H)),
    ("HEAD a file", get("/a.txt", method="HEAD")),
    ("HEAD missing", get("/nope", method="HEAD")),
    # conditionals
    ("If-Modified-Since garbage", get("/a.txt", ("If-Modified-Since", "yesterday"))),
    ("If-Modified-Since old", get("/a.txt", ("If-Modified-Since",
                                             "Thu, 01 Jan 1970 00:00:01 GMT"))),
    ("If-Modified-Since future", get("/a.txt", ("If-Modified-Since",
                                                "Fri, 01 Jan 2100 00:00:00 GMT"))),
    ("If-Modified-Since future, before", get("/imsbefore/i.txt", (
        "If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"))),
    ("If-Modified-Since future, off", get("/imsoff/i.txt", (
        "If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"))),
    ("If-None-Match star", get("/a.txt", ("If-None-Match", "*"))),
    ("If-None-Match other", get("/a.txt", ("If-None-Match", '"x", W/"y"'))),
    ("If-Match other", get("/a.txt", ("If-Match", '"x"'))),
    ("If-Match star", get("/a.txt", ("If-Match", "*"))),
    ("If-Unmodified-Since old", get("/a.txt", ("If-Unmodified-Since",
                                               "Thu, 01 Jan 1970 00:00:01 GMT"))),
    ("If-Unmodified-Since garbage", get("/a.txt", ("If-Unmodified-Since", "no"))),
    ("If-None-Match without etag", get("/noetag/e.txt", ("If-None-Match", "*"))),
    # ranges
    ("range single", get("/a.txt", ("Range", "bytes=2-4"))),
    ("range suffix", get("/a.txt", ("Range", "bytes=-4"))),
    ("range open", get("/a.txt", ("Range", "bytes=20-"))),
    ("range unsatisfiable", get("/a.txt", ("Range", "bytes=100-200"))),
    ("range unsatisfiable, HEAD", get("/a.txt", ("Range", "bytes=100-"), method="HEAD")),
    ("range zero-length suffix", get("/a.txt", ("Range", "bytes=-0"))),
    ("range multi", get("/a.txt", ("Range", "bytes=0-1,5-6,-2"))),
    ("range multi, HEAD", get("/a.txt", ("Range", "bytes=0-1,5-6"), method="HEAD")),
    ("range uppercase unit", get("/a.txt", ("Range", "Bytes=0-1"))),
    ("range max_ranges 1", get("/few/b.txt", ("Range", "bytes=0-1,3-4"))),
    ("range max_ranges 1 single", get("/few/b.txt", ("Range", "bytes=0-1"))),
    ("range max_ranges 0", get("/zero/b.txt", ("Range", "bytes=0-1"))),
    ("range If-Range garbage", get("/a.txt", ("Range", "bytes=0-1"), ("If-Range", "x"))),
    ("range If-Range other etag", get("/a.txt", ("Range", "bytes=0-1"),
                                      ("If-Range", '"nope"'))),
    ("range on a missing file", get("/nope", ("Range", "bytes=0-1"))),
    ("range on HTTP/1.0", Req("GET", "/a.txt", H + [("Range", "bytes=0-1")],
                               version="HTTP/1.0")),
    ("range on error_page =200", get("/ep200/none", ("Range", "bytes=0-1"))),
    ("range open-ended past max_ranges", get("/few/b.txt", ("Range", "bytes=0-1,3-"))),
    ("range overflowing start", get("/a.txt", ("Range", "bytes=99999999999999999999-"))),
    ("range overflowing suffix", get("/a.txt", ("Range", "bytes=-99999999999999999999"))),
    ("range largest offset", get("/a.txt", ("Range", "bytes=-9223372036854775807"))),
    ("range trailing comma", get("/a.txt", ("Range", "bytes=0-1,"))),
    ("range garbage after", get("/a.txt", ("Range", "bytes=0-1x"))),
    ("range empty start", get("/a.txt", ("Range", "bytes=0-0,-0"))),
    ("range too short header", get("/a.txt", ("Range", "bytes="))),
    ("range sum beyond size", get("/a.txt", ("Range", "bytes=0-25,0-25"))),
    ("root with a trailing slash", get("/slashroot/s.txt")),
    ("error_page with a variable", get("/epvar/none?p=404.html")),
    ("error_page = named", get("/epeqnamed/none")),
    ("error_page for 405", Req("POST", "/ep405/p.txt", H, b"x")),
    ("error_page whose target is missing, then 500", get("/ep500/none")),
    ("alias regex + try_files", get("/rtf/f.txt")),
    ("alias regex + try_files, missing", get("/rtf/none")),
    ("alias + try_files fallback", get("/altf/none")),
    ("index from a variable", get("/idxvar/?i=one")),
    ("index from a variable, empty", get("/idxvar/")),
    ("try_files fallback to an internal location", get("/tfint/none")),
    ("try_files =0", get("/tfzero/x")),
    ("try_files directory then index", get("/tfidx/d/")),
    ("try_files directory without slash", get("/tfidx/d")),
    ("alias + try_files, a name outside the prefix", get("/altf2/q")),
    ("alias + try_files, a directory outside the prefix", get("/altf3/q")),
    ("regex alias + try_files found", get("/rtf2/d/")),
    ("regex alias + try_files missing", get("/rtf2/e/")),
    ("file with args", get("/a.txt?x=1")),
    ("name too long", get("/" + "n" * 300)),
    ("directory name too long", get("/" + "n" * 300 + "/")),
    ("try_files name too long", get("/tf/" + "n" * 300)),
    ("file with a semicolon", get("/a.txt;x")),
    ("root with a trailing slash, missing", get("/slashroot/none")),
]

PERM_CASES = [
    ("unreadable file", get("/perm/secret.txt")),
    ("file in a closed directory", get("/perm/closed/f.txt")),
    ("missing file in a closed directory", get("/perm/closed/none")),
    ("closed directory, no slash", get("/perm/closed")),
    ("closed directory, index", get("/perm/closed/")),
    ("unreadable index file", get("/perm/idx/")),
    ("try_files through a closed directory", get("/perm/tf/")),
    ("try_files directory unreadable", get("/perm/tfdir/")),
    ("autoindex of a closed directory", get("/perm/ai/closed/")),
    ("autoindex of an unlistable directory", get("/perm/ai/unlisted/")),
]

_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def _new(path, seen: dict, prefix) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(level, message) written since the last look, the prefix spelled {prefix}."""
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):]
    seen[path] = len(text)
    fresh = fresh.replace(str(prefix).rstrip("/"), "{prefix}")
    out = []
    for line in fresh.splitlines():
        m = _PREFIX.match(line)
        if m:
            out.append((m.group(1), line[m.end():]))
    return out


def _compare(pair: Pair, req: Req) -> None:
    """Same response (status, headers, body) and the same new error-log lines."""
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new(real_log, seen, pair.real.prefix), _new(our_log, seen, pair.prefix)
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
    assert (ours.header("ETag") is None) == (real.header("ETag") is None)
    assert (ours.header("Last-Modified") is None) == (real.header("Last-Modified") is None)
    time.sleep(0.03)  # nginx writes its log line after the response
    assert _new(our_log, seen, pair.prefix) == _new(real_log, seen, pair.real.prefix)


@requires_nginx
@pytest.mark.parametrize("name,req", CASES)
def test_same_as_nginx(pair, name, req):
    _compare(pair, req)


@requires_nginx
@pytest.mark.parametrize("name,req", PERM_CASES, ids=[c[0] for c in PERM_CASES])
def test_permissions_as_nginx_worker(pair, name, req):
    """nginx (started as root here) serves as nobody: 403 and "(13: Permission
    denied)" where the engine, root itself, could read."""
    for prefix in (pair.real.prefix, pair.prefix):
        for rel, mode in MODES.items():
            (prefix / rel).chmod(mode)
    _compare(pair, req)


def _validators(pair: Pair, target: str) -> tuple[str, str]:
    real = pair.ask_real(get(target))
    etag, last = real.header("ETag"), real.header("Last-Modified")
    assert etag and last
    return etag, last


#: (id, headers built from the file's ETag and Last-Modified)
CONDITIONAL = [
    ("If-Modified-Since exact", lambda e, lm: [("If-Modified-Since", lm)]),
    ("If-Modified-Since exact, asctime", lambda e, lm: [("If-Modified-Since", _asctime(lm))]),
    ("If-Modified-Since exact, rfc850", lambda e, lm: [("If-Modified-Since", _rfc850(lm))]),
    ("If-Modified-Since exact, other zone", lambda e, lm: [
        ("If-Modified-Since", lm.replace("GMT", "+0500"))]),
    ("If-Modified-Since exact, no weekday", lambda e, lm: [
        ("If-Modified-Since", lm[5:])]),
    ("If-Modified-Since exact, lowercase month", lambda e, lm: [
        ("If-Modified-Since", lm[:8] + lm[8:11].lower() + lm[11:])]),
    ("If-None-Match exact", lambda e, lm: [("If-None-Match", e)]),
    ("If-None-Match among several", lambda e, lm: [("If-None-Match", f'"a", {e} , "b"')]),
    ("If-None-Match weak", lambda e, lm: [("If-None-Match", "W/" + e)]),
    ("If-None-Match unquoted", lambda e, lm: [("If-None-Match", e.strip('"'))]),
    ("If-None-Match with junk after", lambda e, lm: [("If-None-Match", e + "x")]),
    ("If-None-Match and an old If-Modified-Since", lambda e, lm: [
        ("If-None-Match", e), ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:01 GMT")]),
    ("If-Match exact", lambda e, lm: [("If-Match", e)]),
    ("If-Match weak", lambda e, lm: [("If-Match", "W/" + e)]),
    ("If-Unmodified-Since exact", lambda e, lm: [("If-Unmodified-Since", lm)]),
    ("If-Range date", lambda e, lm: [("Range", "bytes=0-1"), ("If-Range", lm)]),
    ("If-Range etag", lambda e, lm: [("Range", "bytes=0-1"), ("If-Range", e)]),
    ("If-Range weak etag", lambda e, lm: [("Range", "bytes=0-1"), ("If-Range", "W/" + e)]),
    ("If-Range etag, multipart", lambda e, lm: [("Range", "bytes=0-1,3-4"), ("If-Range", e)]),
    ("If-None-Match exact, HEAD", lambda e, lm: [("If-None-Match", e)]),
]


def _asctime(lm: str) -> str:
    """``Sun, 06 Nov 1994 08:49:37 GMT`` as ``Sun Nov  6 08:49:37 1994``."""
    wd, day, mon, year, hms, _ = lm.replace(",", "").split()
    return f"{wd} {mon} {int(day):2d} {hms} {year}"


def _rfc850(lm: str) -> str:
    wd, day, mon, year, hms, _ = lm.replace(",", "").split()
    return f"{wd}day, {day}-{mon}-{year[2:]} {hms} GMT"


@requires_nginx
@pytest.mark.parametrize("name,make", CONDITIONAL, ids=[c[0] for c in CONDITIONAL])
def test_conditional_as_nginx(pair, name, make):
    etag, last = _validators(pair, "/a.txt")
    method = "HEAD" if name.endswith("HEAD") else "GET"
    _compare(pair, get("/a.txt", *make(etag, last), method=method))


#: (id, a server block's body): nginx -t's first [emerg] and ours must agree.
BAD_CONFIGS = [
    ("try_files one argument", "location / { try_files $uri; }"),
    ("try_files letters for a code", "location / { try_files $uri =abc; }"),
    ("try_files code too big", "location / { try_files $uri =1000; }"),
    ("try_files bare =", "location / { try_files $uri =; }"),
    ("try_files code from a variable", "location / { try_files $uri =$arg_c; }"),
    ("try_files twice", "location / { try_files $uri =404; try_files $uri =403; }"),
    ("index empty name", 'location / { index ""; }'),
    ("index absolute not last", "location / { index /a.html b.html; }"),
    ("max_ranges not a number", "location / { max_ranges x; }"),
    ("max_ranges negative", "location / { max_ranges -1; }"),
    ("error_page one argument", "error_page 404;"),
    ("error_page code below 300", "error_page 200 /x;"),
    ("error_page code above 599", "error_page 600 /x;"),
    ("error_page letters for a code", "error_page abc /x;"),
    ("error_page bad overwrite", "error_page 404 =abc /x;"),
    ("error_page overwrite without a uri", "error_page 404 =200;"),
    ("error_page 499", "error_page 499 /x;"),
    ("alias in a named location", "location @n { alias /tmp/; }"),
    ("internal in a server", "internal;"),
    ("types entry without extension", "types { text/html; }"),
    ("default_type two arguments", "default_type a b;"),
    ("if_modified_since bad value", "if_modified_since sometimes;"),
    ("etag bad flag", "etag maybe;"),
    ("recursive_error_pages bad flag", "recursive_error_pages yes;"),
    ("log_not_found bad flag", "log_not_found 1;"),
]


@requires_nginx
@pytest.mark.parametrize("name,body", BAD_CONFIGS)
def test_config_errors_as_nginx(tmp_path, name, body):
    conf = "events {}\nhttp {\nserver {\nlisten 127.0.0.1:1;\n" + body + "\n}\n}\n"
    write_prefix(tmp_path, conf)
    expected = first_emerg(nginx_test(tmp_path).output)
    got = engine_load_error(tmp_path)
    assert got == (expected.replace(str(tmp_path) + "/", "") if expected else None) or \
        got == expected


_WARN = re.compile(r"\[warn\] (?:\d+#\d+: )?(.*)$")


@requires_nginx
def test_absolute_index_warning_as_nginx(tmp_path):
    """An absolute index before the last is only warned about, with nginx's words."""
    conf = ("events {}\nhttp {\nserver {\nlisten 127.0.0.1:1;\n"
            "location / { index /a.html b.html; }\n}\n}\n")
    write_prefix(tmp_path, conf)
    real = [m.group(1).replace(str(tmp_path) + "/", "")
            for m in map(_WARN.search, nginx_test(tmp_path).output.splitlines()) if m]
    engine = Engine.load(str(tmp_path / "conf" / "nginx.conf"), prefix=str(tmp_path) + "/")
    ours = [f"{msg} in {file}:{line}".replace(str(tmp_path) + "/", "")
            for msg, file, line in engine.http.services.get("config_warnings", [])]
    assert real and ours == real
