"""split_clients, referer and secure_link against real nginx: the variables they make
(``$bucket``-style split variables, ``$invalid_referer``, ``$secure_link`` and
``$secure_link_expires``), their caching within a request, and their ``nginx -t``
errors."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from tests.differential import Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
events {}
http {
    split_clients "${arg_x}" $variant { 0.5% tiny; 20% b; 33.33% c; * rest; }
    split_clients "salt-$arg_x" $partial { 10% one; 10.01% two; .5% three; 5.% four; }
    server {
        listen 127.0.0.1:{port};
        server_name localhost www.Site.test ~^img\d+\.cdn\.test$ *.wild.test;

        location = /split { return 200 "$variant $partial $variant\n"; }
        location = /split-set { set $old $variant; set $variant mine;
                                return 200 "$old $variant\n"; }

        location / {
            valid_referers none blocked server_names *.example.com example.org/gallery/
                           www.example.* .dot.test ~\.google\. ~^friend\.net/ok;
            if ($invalid_referer) { return 403; }
            return 200 "ok [$invalid_referer]\n";
        }
        location /strict { valid_referers example.com; return 200 "[$invalid_referer]\n"; }
        location /regex-only { valid_referers ~^Good; return 200 "[$invalid_referer]\n"; }
        location /no-referers { return 200 "[$invalid_referer]\n"; }
        location /first { valid_referers a.test; set $x $invalid_referer;
                          rewrite ^ /second last; }
        location /second { valid_referers b.test; return 200 "[$invalid_referer]\n"; }

        location /s/ {
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri$remote_addr secret";
            if ($secure_link = "") { return 403; }
            if ($secure_link = "0") { return 410; }
            return 200 "ok [$secure_link] [$secure_link_expires]\n";
        }
        location /n/ {
            secure_link $arg_md5;
            secure_link_md5 "$uri secret";
            return 200 "[$secure_link] [$secure_link_expires]\n";
        }
        location /early/ {
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri";
            return 200 "[$secure_link_expires] [$secure_link]\n";
        }
        location /p/ { secure_link_secret word; return 200 "[$secure_link]\n"; }
        location /half/ { secure_link $arg_md5; return 200 "[$secure_link]\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name second.test ~^rx\.test$;
        valid_referers none blocked server_names ~zzz;
        location / { return 200 "[$invalid_referer]\n"; }
        location /own { valid_referers third.test; return 200 "[$invalid_referer]\n"; }
        location /own-regex { valid_referers ~yyy; return 200 "[$invalid_referer]\n"; }
    }
}
"""


# --- split_clients -----------------------------------------------------------------------

@requires_nginx
def test_split_clients_buckets_as_nginx(pair) -> None:  # type: ignore[no-untyped-def]
    """Over 200+ keys every bucket (even the 0.5% one) and the empty rest agree."""
    seen = set()
    for x in [f"v{i}" for i in range(200)] + ["v286", "v479", "", "%C3%A9t%C3%A9"]:
        real, ours = pair.both(Req("GET", f"/split?x={x}"))
        assert ours.comparable() == real.comparable(), x
        seen.update(real.body.split())
    assert {b"tiny", b"b", b"c", b"rest", b"one", b"two", b"three", b"four"} <= seen


@requires_nginx
def test_split_clients_variable_can_be_set(pair) -> None:  # type: ignore[no-untyped-def]
    real, ours = pair.both(Req("GET", "/split-set?x=v286"))
    assert ours.comparable() == real.comparable()
    assert real.body == b"tiny mine\n"


# --- referer -----------------------------------------------------------------------------

REFERERS = [
    None, "", "x", "nothttp", "http://", "http://i.r", "http://i.ru", "https://i.ru",
    "ftp://example.com/", "//example.com/", "example.com",
    "HTTP://EXAMPLE.COM", "http://a.example.com/x", "http://example.com/",
    "https://a.b.example.com:8080/y", "HtTpS://x.example.com", "http://a.example.com.",
    "http://example.org/gallery/1.jpg", "http://example.org/gallery",
    "http://example.org:81/gallery/", "http://example.org/Gallery/", "http://example.org",
    "http://www.example.net/", "http://www.example./", "http://www.example",
    "https://www.example.co.uk/", "http://dot.test", "http://a.dot.test/",
    "http://localhost/", "http://localhost:8080", "http://www.site.test/",
    "http://img12.cdn.test/a", "http://IMG12.cdn.test/a", "http://img.cdn.test/",
    "http://x.wild.test/", "http://wild.test/", "http://www.google.com/search",
    "https://friend.net/ok/x", "https://friend.net/no", "http://evil.com/?a.example.com",
    "http://evil.com/http://a.example.com", "http://" + "a" * 256 + "/",
    "http://" + "a" * 257 + "/", "http:///", "http://:80/", "http://Good.test",
    "https://good.test", "http://exampleXcom/",
]


def _ref_req(target: str, referer: str | None, host: str = "localhost") -> Req:
    return Req("GET", target, [("Host", host)] + ([("Referer", referer)] if referer is not None
                                                  else []))


@requires_nginx
@pytest.mark.parametrize("target", ["/", "/strict", "/regex-only", "/no-referers"])
def test_invalid_referer_as_nginx(pair, target: str) -> None:  # type: ignore[no-untyped-def]
    statuses = set()
    for referer in REFERERS:
        real, ours = pair.both(_ref_req(target, referer))
        assert ours.comparable() == real.comparable(), referer
        statuses.add(real.body)
    assert target == "/no-referers" or len(statuses) > 1


@requires_nginx
@pytest.mark.parametrize("target", ["/", "/own", "/own-regex"])
@pytest.mark.parametrize("referer", [None, "x", "http://zzz.test", "http://yyy.test",
                                     "http://rx.test", "http://third.test",
                                     "http://second.test/"])
def test_referer_merge_as_nginx(pair, target: str,  # type: ignore[no-untyped-def]
                                referer: str | None) -> None:
    """An inner valid_referers keeps the outer regexes but not "none"/"blocked"."""
    real, ours = pair.both(_ref_req(target, referer, "second.test"))
    assert ours.comparable() == real.comparable()


@requires_nginx
@pytest.mark.parametrize("headers", [
    [("Referer", "http://example.com/"), ("Referer", "http://bad/")],
    [("Referer", "http://bad.com/"), ("Referer", "http://example.com/")],
])
def test_two_referer_headers(pair, headers) -> None:  # type: ignore[no-untyped-def]
    real, ours = pair.both(Req("GET", "/strict", [("Host", "localhost")] + headers))
    assert ours.comparable() == real.comparable()


@requires_nginx
@pytest.mark.parametrize("referer", ["http://a.test/", "http://b.test/"])
def test_invalid_referer_kept_for_the_request(pair,  # type: ignore[no-untyped-def]
                                              referer: str) -> None:
    """Computed in /first, the value survives the rewrite to /second."""
    real, ours = pair.both(_ref_req("/first", referer))
    assert ours.comparable() == real.comparable()


# --- secure_link -------------------------------------------------------------------------

def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.md5(text.encode()).digest()).decode().rstrip("=")


def _hex(link: str) -> str:
    return hashlib.md5((link + "word").encode()).hexdigest()


_OK = _b64("/n/x secret")
SECURE = [
    *(f"/s/f?md5={_b64(e + '/s/f127.0.0.1 secret')}&expires={e}"
      for e in ["4102444800", "99999999999", "1000", "0", "abc", "", "-5", "+5", "5 "]),
    "/s/f?md5=" + _b64("/s/f127.0.0.1 secret"),
    f"/n/x?md5={_OK}", f"/n/x?md5={_OK}==", f"/n/x?md5={_OK}=garbage", f"/n/x?md5={_OK}===xx",
    f"/n/x?md5={_OK[:-1]}", f"/n/x?md5={_OK[:-1]}B", f"/n/x?md5={_OK[:-1]}Q",
    f"/n/x?md5={_OK}A", f"/n/x?md5={_OK}AA", "/n/x?md5=", "/n/x",
    f"/n/x?md5={_OK.replace('-', '+').replace('_', '/')}",
    "/n/x?md5=" + base64.b64encode(hashlib.md5(b"/n/x secret").digest()).decode(),
    f"/n/x?md5={_OK},", f"/n/x?md5={_OK},123", f"/n/y?md5={_OK}", f"/n/x?md5={_OK}%3D%3D",
    f"/early/z?md5={_b64('9999999999/early/z')}&expires=9999999999",
    f"/early/z?md5={_b64('/early/z')}&expires=9999999999", f"/half/x?md5={_OK}",
    f"/p/{_hex('a/b.html')}/a/b.html", f"/p/{_hex('a/b.html').upper()}/a/b.html",
    f"/p/{_hex('a/b.html')}/a/c.html", f"/p/{_hex('f?x=1')}/f?x=1", f"/p/{_hex('f')}/f?x=1",
    f"/p/{_hex('')}/", f"/p/{_hex('x')[:31]}/x", f"/p/{_hex('x')}x/x", "/p/", "/p/abc",
    f"/p/{_hex('x')}", f"/p/zz/{_hex('x')}/x", f"/p/{_hex('%41')}/%41",
    f"/p//{_hex('x')}/x",
]


@requires_nginx
@pytest.mark.parametrize("target", SECURE)
def test_secure_link_as_nginx(pair, target: str) -> None:  # type: ignore[no-untyped-def]
    real, ours = pair.both(Req("GET", target))
    assert ours.comparable() == real.comparable()


# --- configuration errors ----------------------------------------------------------------

H = "events {}\nhttp {\n"


def _split(body: str, target: str = "$v", source: str = "$remote_addr") -> str:
    return H + f"split_clients {source} {target} {{\n{body}\n}}\n}}\n"


def _loc(body: str, server: str = "") -> str:
    return H + f"server {{ {server}\nlocation / {{\n{body}\n}}\n}}\n}}\n"


CONF_CASES = [
    ("split valid", _split(" 0.5% a;\n .5% b;\n 5.% c;\n * d;")),
    ("split zero", _split(" 0% a;")),
    ("split three decimals", _split(" 1.234% a;")),
    ("split two dots", _split(" 1.2.3% a;")),
    ("split dot only", _split(" .% a;")),
    ("split no percent sign", _split(" 50 a;")),
    ("split over 100", _split(" 50% a;\n 60% b;")),
    ("split share after star", _split(" * a;\n 1% b;")),
    ("split two stars", _split(" * a;\n * b;")),
    ("split overflow", _split(" 99999999999999999999% a;")),
    ("split wraps to zero", _split(" 42949672.96% a;\n 100% b;")),
    ("split block entry", _split(" 50% { }")),
    ("split bad name", _split(" 50% a;", target="v")),
    ("split bare dollar", _split(" 50% a;", target="$")),
    ("split core variable", _split(" 50% a;", target="$host")),
    ("split module variable", _split(" 50% a;", target="$secure_link")),
    ("split unknown source", _split(" 50% a;", source="$nope")),
    ("split bad source", _split(" 50% a;", source='"${remote_addr"')),
    ("referer none alone", _loc("valid_referers none blocked;")),
    ("referer none with regex only", _loc("valid_referers none ~foo;")),
    ("referer none in server", H + "server { valid_referers none; }\n}\n"),
    ("referer empty", _loc('valid_referers "";')),
    ("referer empty regex", _loc("valid_referers ~;")),
    ("referer bad regex", _loc('valid_referers "~(x";')),
    ("referer star", _loc("valid_referers *;")),
    ("referer star in middle", _loc("valid_referers www.*.com;")),
    ("referer star glued", _loc("valid_referers *example.com;")),
    ("referer star dot", _loc("valid_referers *.;")),
    ("referer double dot", _loc("valid_referers a..b;")),
    ("referer same host two uris", _loc("valid_referers example.com/a example.com/b;")),
    ("referer case conflict", _loc("valid_referers example.com EXAMPLE.com;")),
    ("referer dot then exact", _loc("valid_referers .example.com example.com;")),
    ("referer exact then dot", _loc("valid_referers example.com .Example.com;")),
    ("referer star then dot", _loc("valid_referers *.example.com .example.com;")),
    ("referer tail twice", _loc("valid_referers www.example.* www.example.*;")),
    ("referer server name conflict", _loc("valid_referers server_names example.com;",
                                          "server_name example.com;")),
    ("referer unnamed server", _loc("valid_referers none server_names;")),
    ("referer long name", _loc("valid_referers " + "a" * 42 + ".com;")),
    ("referer too long name", _loc("valid_referers " + "a" * 44 + ".com;")),
    ("referer long dot name", _loc("valid_referers .x." + "b" * 46 + ";")),
    ("referer too long label", _loc("valid_referers *." + "b" * 47 + ".com;")),
    ("referer bigger bucket", _loc("referer_hash_bucket_size 128;\nvalid_referers "
                                   + "c" * 100 + ".com;")),
    ("referer bucket too large", _loc("referer_hash_bucket_size 65473;\n"
                                      "valid_referers a.com;")),
    ("referer max size zero", _loc("referer_hash_max_size 0;\nvalid_referers a.com;")),
    ("referer max size zero regex", _loc("referer_hash_max_size 0;\nvalid_referers ~x;")),
    ("referer bad number", _loc("referer_hash_bucket_size 1k;\nvalid_referers a.com;")),
    ("referer in http", H + "valid_referers a.com;\n}\n"),
    ("secure_link mixed", _loc("secure_link_secret s;\nsecure_link $arg_a;")),
    ("secure_link_md5 mixed", _loc("secure_link_secret s;\nsecure_link_md5 $arg_a;")),
    ("secure_link mixed in http", H + "secure_link_secret s; secure_link $arg_a;\n"
                                      "server { }\n}\n"),
    ("secure_link mixed across blocks", _loc("secure_link_secret s;",
                                             "secure_link $arg_a;")),
    ("secure_link unknown variable", _loc("secure_link $nope;")),
    ("secure_link bad variable", _loc('secure_link "${arg_a";')),
    ("secure_link_md5 twice", _loc("secure_link_md5 a;\nsecure_link_md5 b;")),
    ("set secure_link", _loc("set $secure_link 1;")),
    ("set secure_link_expires", _loc("set $secure_link_expires 1;")),
    ("set invalid_referer", _loc("set $invalid_referer 1;")),
]


@requires_nginx
@pytest.mark.parametrize("conf", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_config_errors_as_nginx(tmp_path: Path, conf: str) -> None:
    write_prefix(tmp_path, conf)
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
