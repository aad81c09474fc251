"""ngx_http_gzip_static_module against real nginx: ``gzip_static on|off|always``, the
client checks of ngx_http_gzip_ok as gzip_static applies them (Accept-Encoding,
gzip_http_version, gzip_proxied with Via, gzip_disable), what the ``.gz`` response
carries (its length, Last-Modified and ETag, the original name's Content-Type,
Content-Encoding, no Accept-Ranges, Vary with gzip_vary even for the plain file), HEAD,
Range, 304s, a ``.gz`` that is a directory or unreadable (and the error-log lines), the
gzip filter left out, $gzip_ratio, alias, regex alias, try_files and index in front,
and the ``nginx -t`` errors of the directive."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

from tests.differential import Req, engine_load_error
from tests.lua.cases import mark_logs, new_log_lines
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
events {}
http {
    include mime.types;
    error_log logs/error.log info;
    log_format ratio '$uri $status [$gzip_ratio]';
    access_log logs/ratio.log ratio;
    server {
        listen 127.0.0.1:{port};
        root html;
        gzip_static on;
        location /always/ { alias html/; gzip_static always; }
        location /upper/ { alias html/; gzip_static ON; }
        location /off/ { alias html/; gzip_static off; }
        location /vary/ { alias html/; gzip_vary on; }
        location /varyalways/ { alias html/; gzip_static always; gzip_vary on; }
        location /gz/ { alias html/; gzip on; gzip_types *; gzip_vary on; gzip_min_length 1; }
        location /gznovary/ { alias html/; gzip on; gzip_types *; gzip_min_length 1; }
        location /v10/ { alias html/; gzip_http_version 1.0; }
        location /any/ { alias html/; gzip_proxied any; }
        location /auth/ { alias html/; gzip_proxied auth; }
        location /dis/ { alias html/; gzip_disable "^curl" msie6; }
        location /noetag/ { alias html/; etag off; }
        location /tf/ { try_files $uri /fallback.css; }
        location /tfvary/ { gzip_vary on; try_files $uri $uri/ =404; }
        location ~ ^/re/(.*)$ { alias html/$1; }
        location ~ ^/retf/(.*)$ { alias html/; try_files $1 =404; }
        location /exp/ { alias html/; gzip_proxied expired; expires 1h; }
        location /ssi/ { ssi on; }
        location /ep/ { gzip_vary on; error_page 404 /page404.html; }
        location = /page404.html { gzip_vary on; }
    }
}
"""

PLAIN = b"body { color: red; }\n" * 10
GZ = gzip.compress(PLAIN, mtime=0)
FILES: dict[str, str | bytes] = {
    "html/a.css": PLAIN, "html/a.css.gz": GZ,
    "html/only.js.gz": GZ,
    "html/none.css": "no gz file\n",
    "html/dir.txt": "plain dir\n", "html/dir.txt.gz/x": "x",
    "html/secret.css": "s\n", "html/secret.css.gz": GZ,
    "html/closed/c.css": "c\n", "html/closed/c.css.gz": GZ,
    "html/fallback.css": "fb\n", "html/fallback.css.gz": GZ,
    "html/index.html": "idx\n", "html/index.html.gz": GZ,
    "html/noext": "plain noext\n", "html/noext.gz": GZ,
    "html/page404.html": "custom 404\n", "html/page404.html.gz": GZ,
    "html/ep/x.gz": GZ,
    "html/ssi/page.html": '[<!--# include virtual="/a.css" -->]'
                          '[<!--# include virtual="/always/a.css" -->]',
    "html/fifo.css": "plain beside a fifo\n",
}

#: Applied to both prefixes once the servers run: nginx's workers (nobody) meet the
#: modes, and the .gz file is older than the plain one so their validators differ.
MODES = {"html/secret.css.gz": 0o600, "html/closed": 0o700}
OLD = 1_000_000_000


@pytest.fixture(scope="module")
def gpair(pair):  # type: ignore[no-untyped-def]
    for prefix in (pair.real.prefix, pair.prefix):
        os.utime(prefix / "html/a.css.gz", (OLD, OLD))
        for rel, mode in MODES.items():
            (prefix / rel).chmod(mode)
        os.mkfifo(prefix / "html/fifo.css.gz")
    return pair


AE = ("Accept-Encoding", "gzip")
VIA = ("Via", "1.1 proxy")
GZ_DATE = "Sun, 09 Sep 2001 01:46:40 GMT"  # OLD as an HTTP date


def get(target: str, *headers: tuple[str, str], method: str = "GET",
        version: str = "HTTP/1.1") -> Req:
    return Req(method, target, [("Host", "localhost"), *headers], version=version)


def gz(target: str, *headers: tuple[str, str], **kw: str) -> Req:
    return get(target, AE, *headers, **kw)


CASES = [
    ("on, gzip accepted", gz("/a.css")),
    ("on, no Accept-Encoding", get("/a.css")),
    ("on, Accept-Encoding refuses", get("/a.css", ("Accept-Encoding", "gzip;q=0"))),
    ("on, deflate only", get("/a.css", ("Accept-Encoding", "deflate"))),
    ("on, GZIP uppercase", get("/a.css", ("Accept-Encoding", "GZIP"))),
    ("on, no .gz file", gz("/none.css")),
    ("only the .gz exists", gz("/only.js")),
    ("only the .gz exists, not accepted", get("/only.js")),
    ("a .gz without an extension before it", gz("/noext")),
    ("HEAD", gz("/a.css", method="HEAD")),
    ("Range: the whole .gz", gz("/a.css", ("Range", "bytes=0-4"))),
    ("Range on the plain file", get("/a.css", ("Range", "bytes=0-4"))),
    ("POST declines to static", gz("/a.css", method="POST")),
    ("DELETE", gz("/a.css", method="DELETE")),
    ("slash: index then .gz", gz("/")),
    ("the .gz itself requested", gz("/a.css.gz")),
    ("always, no Accept-Encoding", get("/always/a.css")),
    ("always, refused", get("/always/a.css", ("Accept-Encoding", "gzip;q=0"))),
    ("always, HTTP/1.0", get("/always/a.css", version="HTTP/1.0")),
    ("always, no .gz", get("/always/none.css")),
    ("ON in capitals", gz("/upper/a.css")),
    ("off", gz("/off/a.css")),
    ("vary, accepted", gz("/vary/a.css")),
    ("vary, not accepted: plain file with Vary", get("/vary/a.css")),
    ("vary, no .gz: no Vary", get("/vary/none.css")),
    ("vary, .gz is a directory", get("/vary/dir.txt")),
    ("vary, only the .gz, not accepted: 404", get("/vary/only.js")),
    ("always with vary: no Vary", get("/varyalways/a.css")),
    ("gzip filter on: not compressed again", gz("/gz/a.css")),
    ("gzip filter on, not accepted", get("/gz/a.css")),
    ("gzip filter on, plain file compressed", gz("/gz/none.css")),
    ("gzip filter on, vary off", gz("/gznovary/a.css")),
    ("HTTP/1.0 under gzip_http_version 1.1", gz("/a.css", version="HTTP/1.0")),
    ("HTTP/1.0 with gzip_http_version 1.0", gz("/v10/a.css", version="HTTP/1.0")),
    ("Via, gzip_proxied off", gz("/a.css", VIA)),
    ("Via, gzip_proxied any", gz("/any/a.css", VIA)),
    ("Via, expired: Expires comes later", gz("/exp/a.css", VIA)),
    ("Via, auth without Authorization", gz("/auth/a.css", VIA)),
    ("Via, auth with Authorization", gz("/auth/a.css", VIA, ("Authorization", "Basic eDp5"))),
    ("gzip_disable regex", gz("/dis/a.css", ("User-Agent", "curl/8"))),
    ("gzip_disable regex no match", gz("/dis/a.css", ("User-Agent", "xcurl/8"))),
    ("gzip_disable msie6", gz("/dis/a.css", ("User-Agent", "Mozilla/4.0 (MSIE 6.0; Win)"))),
    ("etag off", gz("/noetag/a.css")),
    ("If-Modified-Since the .gz's date", gz("/a.css", ("If-Modified-Since", GZ_DATE))),
    ("If-Modified-Since, not accepted", get("/a.css", ("If-Modified-Since", GZ_DATE))),
    ("If-None-Match the .gz's etag", gz("/a.css", ("If-None-Match", '"3b9aca00-2c"'))),
    ("If-None-Match weak", gz("/a.css", ("If-None-Match", 'W/"3b9aca00-2c"'))),
    ("If-None-Match, vary", gz("/vary/a.css", ("If-None-Match", '"3b9aca00-2c"'))),
    ("If-None-Match other", gz("/a.css", ("If-None-Match", '"x"'))),
    ("If-Match fails: 412", gz("/a.css", ("If-Match", '"x"'))),
    ("try_files: existing file", gz("/fallback.css")),
    ("try_files to a fallback", gz("/tf/nope.css")),
    ("try_files, the file under the location", gz("/tfvary/a.css")),
    ("regex alias", gz("/re/a.css")),
    # (a file with an extension here gets text/plain from nginx, text/css from the
    # engine's try_files, with or without gzip_static: not this module's doing)
    ("regex alias with try_files", gz("/retf/noext")),
    ("regex alias with try_files, not accepted", get("/retf/noext")),
    ("error_page to a .gz page", gz("/ep/missing")),
    ("error_page, vary kept over the redirect", get("/ep/x")),
    ("a directory without a slash", gz("/closed")),
    ("the .gz is a fifo", gz("/fifo.css")),
    ("the .gz is a fifo, not accepted", get("/fifo.css")),
    ("always, .gz a directory", get("/always/dir.txt")),
    ("HEAD, vary, not accepted", get("/vary/a.css", method="HEAD")),
    ("Range and If-Modified-Since", gz("/a.css", ("Range", "bytes=1-2"),
                                       ("If-Modified-Since", GZ_DATE))),
    ("subrequests: on declines, always serves", gz("/ssi/page.html")),
    ("an encoded URI", gz("/a%2ecss")),
    ("with arguments", gz("/a.css?v=1")),
]

PERM_CASES = [
    ("unreadable .gz: the plain file", gz("/secret.css")),
    ("unreadable .gz, not accepted", get("/secret.css")),
    ("unreadable .gz, not accepted, vary", get("/vary/secret.css")),
    ("closed directory", gz("/closed/c.css")),
    ("unreadable .gz, always", get("/always/secret.css")),
]


def _check(real, ours) -> None:  # type: ignore[no-untyped-def]
    assert ours.comparable() == real.comparable()
    # both prefixes hold the same files with the same mtimes: validators agree too
    assert ours.header("etag") == real.header("etag")
    assert ours.header("last-modified") == real.header("last-modified")


def _compare(pair, req: Req) -> None:  # type: ignore[no-untyped-def]
    mark_logs(pair)
    real, ours = pair.both(req)
    _check(real, ours)
    time.sleep(0.03)  # nginx writes its log after the response
    assert new_log_lines(pair, "ours") == new_log_lines(pair, "real")


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(gpair, name, req):
    _compare(gpair, req)


@requires_nginx
@pytest.mark.parametrize("name,req", PERM_CASES, ids=[c[0] for c in PERM_CASES])
def test_unreadable_as_nginx_worker(gpair, name, req):
    """nginx's workers run as nobody: an unreadable .gz is logged and the plain file
    served; the engine (root here) must decide as they do."""
    _compare(gpair, req)


@requires_nginx
def test_serves_the_gz_bytes(gpair):
    real, ours = gpair.both(gz("/a.css"))
    assert real.header("content-encoding") == "gzip"
    assert ours.body == real.body == GZ
    assert gzip.decompress(ours.body) == PLAIN


@requires_nginx
def test_gzip_ratio_empty(gpair):
    logs = (gpair.real.prefix / "logs" / "ratio.log", gpair.prefix / "logs" / "ratio.log")
    before = [p.read_text() if p.exists() else "" for p in logs]
    for req in (gz("/a.css"), gz("/gz/a.css"), gz("/gz/none.css"), get("/a.css")):
        gpair.both(req)
    time.sleep(0.05)
    real, ours = (p.read_text()[len(b):] for p, b in zip(logs, before))
    assert ours == real
    assert "/gz/a.css 200 [-]" in real and "/gz/none.css 200 [-]" not in real


H = "events {}\nhttp {\n"
CONF_CASES = [
    ("bad value", "gzip_static yes;"),
    ("empty value", 'gzip_static "";'),
    ("two values", "gzip_static on off;"),
    ("no value", "gzip_static;"),
    ("duplicate", "gzip_static on; gzip_static off;"),
    ("in a server, bad", "server { gzip_static maybe; }"),
    ("in an if", "server { location / { if ($uri) { gzip_static on; } } }"),
    ("valid", "gzip_static Always; server { gzip_static off; location / { gzip_static on; } }"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_config_errors_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, H + body + "\n}\n")
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
