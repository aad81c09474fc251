"""Differential tests of proxy_cache: each case is a sequence of requests (MISS, then HIT...)
run on real nginx and on the engine, compared reply by reply.

The front server ({port0}) caches; the backend ({port1}) counts the requests per URI in a
shared dict and says so in the body, so a HIT shows as a repeated body. Its query string
steers it: ``h=Name:value|Name:value`` adds response headers, ``s=404`` sets the status,
``etag="x"`` sends an ETag and answers a matching If-None-Match with 304, ``sleep=0.5``
waits. The body also shows the method, If-Modified-Since, If-None-Match and Range the
backend received. ``X-Cache: $upstream_cache_status`` and ``X-Up`` are on every reply.

Expiry without sleeping: ``X-Accel-Expires: @1`` stores an entry that expired in 1970.
"""

from __future__ import annotations

import glob
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.differential import Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix
from tests.proxy.harness import ProxyPair

BACKEND = r"""content_by_lua_block {
            local n = ngx.shared.c:incr(ngx.var.uri, 1, 0)
            local a = ngx.req.get_uri_args()
            if a.sleep then ngx.sleep(tonumber(a.sleep)) end
            if a.h then
                for pair in a.h:gmatch("[^|]+") do
                    local k, v = pair:match("([^:]+):(.*)")
                    ngx.header[k] = v
                end
            end
            if a.s then ngx.status = tonumber(a.s) end
            if a.etag then
                ngx.header["ETag"] = a.etag
                if ngx.var.http_if_none_match == a.etag then return ngx.exit(304) end
            end
            ngx.say(n, " ", ngx.req.get_method(), " ", ngx.var.http_if_modified_since or "-",
                    " ", ngx.var.http_if_none_match or "-", " ", ngx.var.http_range or "-")
        }"""

CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    lua_http10_buffering off;
    lua_shared_dict c 1m;
    proxy_cache_path cache levels=1:2 keys_zone=z:1m inactive=10m max_size=10m;
    upstream none { server 127.0.0.1:{port1} down; }
    server {
        listen 127.0.0.1:{port0};
        add_header X-Cache $upstream_cache_status always;
        add_header X-Up "$upstream_addr|$upstream_status" always;
        proxy_cache z;
        proxy_cache_valid 1m;
        location /c/ { proxy_pass http://127.0.0.1:{port1}; }
        location /v11/ { proxy_http_version 1.1; proxy_pass http://127.0.0.1:{port1}; }
        location /nv/ { proxy_cache_valid 0; proxy_pass http://127.0.0.1:{port1}; }
        location /any/ { proxy_cache_valid 404 1m; proxy_cache_valid any 1m; proxy_pass http://127.0.0.1:{port1}; }
        location /ign/ { proxy_ignore_headers Set-Cookie Cache-Control X-Accel-Expires Expires Vary; proxy_pass http://127.0.0.1:{port1}; }
        location /nch/ { proxy_cache_convert_head off; proxy_pass http://127.0.0.1:{port1}; }
        location /post/ { proxy_cache_methods POST; proxy_pass http://127.0.0.1:{port1}; }
        location /off/ { proxy_cache off; proxy_pass http://127.0.0.1:{port1}; }
        location /byp/ { proxy_cache_bypass $arg_b; proxy_no_cache $arg_n $http_x_n; proxy_pass http://127.0.0.1:{port1}; }
        location /min/ { proxy_cache_min_uses 2; proxy_pass http://127.0.0.1:{port1}; }
        location /uh/ { add_header X-U "$upstream_http_x_u"; proxy_pass http://127.0.0.1:{port1}; }
        location /rw/ { rewrite ^/rw/(.*)$ /c/$1 break; proxy_pass http://127.0.0.1:{port1}/p/; }

        location /k/ {
            proxy_cache_key $arg_k;
            location /k/live/ { proxy_pass http://127.0.0.1:{port1}/; }
            location /k/dead/ { proxy_cache_use_stale error timeout; proxy_pass http://127.0.0.1:9/; }
            location /k/deadns/ { proxy_pass http://127.0.0.1:9/; }
            location /k/nolive/ { proxy_cache_use_stale error; proxy_pass http://none/; }
            location /k/s500/ { proxy_cache_use_stale http_500 http_404; proxy_pass http://127.0.0.1:{port1}/; }
            location /k/s500ns/ { proxy_pass http://127.0.0.1:{port1}/; }
            location /k/slow/ { proxy_read_timeout 200ms; proxy_cache_use_stale timeout; proxy_pass http://127.0.0.1:{port1}/; }
            location /k/rv/ { proxy_cache_revalidate on; proxy_pass http://127.0.0.1:{port1}/; }
            location /k/upd/ { proxy_cache_use_stale updating; proxy_pass http://127.0.0.1:{port1}/; }
            location /k/lock/ { proxy_cache_lock on; proxy_pass http://127.0.0.1:{port1}/; }
        }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { BACKEND }
    }
}
""".replace("BACKEND", BACKEND)


def G(target: str, *headers: tuple[str, str], method: str = "GET", version: str = "HTTP/1.1",
      body: bytes = b"") -> Req:
    """A request; the query is percent-encoded (spaces, quotes, ``|`` in header values)."""
    return Req(method, quote(target, safe="/?&=%"), [("Host", "localhost"), *headers], body,
               version)


LM = "Last-Modified:Thu, 01 Jan 2015 00:00:00 GMT"
EXP = "X-Accel-Expires:@1"  # stored, but expired since 1970

SEQUENCES: list[tuple[str, list[Req]]] = [
    ("MISS then HIT", [G("/c/a"), G("/c/a"), G("/c/a?x")]),
    ("HEAD is converted to GET and fills the cache", [G("/c/h", method="HEAD"), G("/c/h"),
                                                      G("/c/h", method="HEAD")]),
    ("convert_head off caches the empty HEAD answer", [G("/nch/h", method="HEAD"), G("/nch/h")]),
    ("POST is not cached by default", [G("/c/p", method="POST", body=b"x"),
                                       G("/c/p", method="POST", body=b"x")]),
    ("proxy_cache_methods POST shares the key with GET", [
        G("/post/p", method="POST", body=b"x"), G("/post/p", method="POST", body=b"x"),
        G("/post/p")]),
    ("proxy_cache off", [G("/off/a"), G("/off/a")]),
    ("HTTP/1.1 chunked upstream, then HTTP/1.0 client", [
        G("/v11/a"), G("/v11/a"), G("/v11/a", version="HTTP/1.0")]),
    ("$upstream_http_ on a HIT reads the stored header", [G("/uh/a?h=X-U:1"), G("/uh/a?h=X-U:1")]),
    ("404 is not cached by proxy_cache_valid <time>", [G("/c/e?s=404"), G("/c/e?s=404")]),
    ("301, 302 are", [G("/c/r1?s=301&h=Location:/x"), G("/c/r1?s=301&h=Location:/x"),
                      G("/c/r2?s=302&h=Location:http://a/"), G("/c/r2?s=302&h=Location:http://a/")]),
    ("500 is not", [G("/c/e5?s=500"), G("/c/e5?s=500")]),
    ("proxy_cache_valid 404 and any", [G("/any/e?s=404"), G("/any/e?s=404"),
                                       G("/any/e?s=503"), G("/any/e?s=503")]),
    ("proxy_cache_valid 0: only headers give a time", [
        G("/nv/a"), G("/nv/a"), G("/nv/b?h=Cache-Control:max-age=60"),
        G("/nv/b?h=Cache-Control:max-age=60"), G("/nv/c?h=Expires:Thu, 01 Jan 2037 00:00:00 GMT"),
        G("/nv/c?h=Expires:Thu, 01 Jan 2037 00:00:00 GMT"), G("/nv/d?h=X-Accel-Expires:60"),
        G("/nv/d?h=X-Accel-Expires:60"), G("/nv/e?h=Cache-Control:public"),
        G("/nv/e?h=Cache-Control:public"), G("/nv/f?s=404&h=Cache-Control:max-age=60"),
        G("/nv/f?s=404&h=Cache-Control:max-age=60")]),
    ("HIT and client conditionals, ranges", [
        G("/c/cond?etag=\"x\"&h=" + LM), G("/c/cond?etag=\"x\"&h=" + LM, ("If-None-Match", '"x"')),
        G("/c/cond?etag=\"x\"&h=" + LM, ("If-Modified-Since", "Thu, 01 Jan 2015 00:00:00 GMT")),
        G("/c/cond?etag=\"x\"&h=" + LM, ("If-None-Match", '"y"'))]),
    ("MISS: the client's conditionals and Range do not go upstream", [
        G("/c/cm?etag=\"x\"", ("If-None-Match", '"x"'), ("Range", "bytes=0-1")),
        G("/c/cm2?h=Set-Cookie:a=1|" + LM, ("If-Modified-Since", "Thu, 01 Jan 2015 00:00:00 GMT")),
        G("/off/cm?etag=\"x\"", ("Range", "bytes=0-1"))]),
    ("Accept-Ranges from upstream is dropped when cacheable", [
        G("/c/ar?h=Accept-Ranges:none"), G("/c/ar?h=Accept-Ranges:none"),
        G("/c/ar2?h=Accept-Ranges:none|Set-Cookie:x=y")]),
    ("Vary: * is not cached, Vary: Accept keeps variants", [
        G("/c/vs?h=Vary:*"), G("/c/vs?h=Vary:*"),
        G("/c/v?h=Vary:Accept", ("Accept", "a")), G("/c/v?h=Vary:Accept", ("Accept", "b")),
        G("/c/v?h=Vary:Accept", ("Accept", "a")), G("/c/v?h=Vary:Accept", ("Accept", "b")),
        G("/c/v?h=Vary:Accept")]),
    ("proxy_cache_bypass and proxy_no_cache", [
        G("/byp/a?b=1"), G("/byp/a"), G("/byp/a?b=1"), G("/byp/a"), G("/byp/b?n=1"),
        G("/byp/b", ("X-N", "0")), G("/byp/b"), G("/byp/c?b=1&n=1"), G("/byp/c")]),
    ("proxy_cache_min_uses 2", [G("/min/m"), G("/min/m"), G("/min/m"), G("/min/m")]),
    ("rewrite ... break and a URI part", [G("/rw/a?q=1"), G("/rw/a?q=1"), G("/c/a?q=1")]),
    ("stale on error, on no live upstreams, not without use_stale", [
        G(f"/k/live/x?k=A&h={EXP}"), G("/k/dead/x?k=A"), G("/k/deadns/x?k=A"),
        G("/k/nolive/x?k=A"), G("/k/dead/x?k=none")]),
    ("stale on http_500 and http_404", [
        G(f"/k/live/y?k=B&h={EXP}"), G("/k/s500/y?s=500&k=B"), G("/k/s500/y?s=404&k=B"),
        G("/k/s500ns/y?k=B&s=500"), G("/k/s500/y?k=B"), G("/k/s500/y?k=B")]),
    ("stale on timeout", [G(f"/k/live/t?k=T&h={EXP}"), G("/k/slow/t?k=T&sleep=0.5")]),
    ("EXPIRED, then a response that may not be stored", [
        G(f"/k/live/w?k=F&h={EXP}"), G("/k/live/w?k=F&s=404"), G("/k/live/w?k=F&s=404"),
        G("/k/live/w?k=F"), G("/k/live/w?k=F")]),
    ("revalidate with If-None-Match", [
        G(f"/k/live/r?etag=\"e1\"&k=D&h={EXP}"), G(f"/k/rv/r?etag=\"e1\"&k=D&h={EXP}"),
        G("/k/rv/r?etag=\"e1\"&k=D"), G("/k/rv/r?etag=\"e2\"&k=D"), G("/k/rv/r?k=D")]),
    ("revalidate with If-Modified-Since", [
        G(f"/k/live/r?k=L&h={LM}|{EXP}"), G("/k/rv/r?k=L"), G("/k/rv/r?k=L")]),
    ("header rules in the order received", [
        G(f"/c/o{i}?h={h}") for i, h in enumerate([
            "Cache-Control:no-cache", "Cache-Control:private, max-age=60",
            "Cache-Control:no-store", "Cache-Control:max-age=0", "Cache-Control:max-age=abc",
            "Cache-Control:s-maxage=0, max-age=60", "Cache-Control:max-age=60",
            "Cache-Control:NO-CACHE", "Set-Cookie:a=b", "X-Accel-Expires:0",
            "X-Accel-Expires:abc", "Expires:Thu, 01 Jan 1970 00:00:01 GMT",
            "Expires:garbage", "X-Accel-Expires:60|Cache-Control:no-cache",
            "Cache-Control:no-cache|X-Accel-Expires:60",
            "Cache-Control:max-age=60|X-Accel-Expires:0", f"{EXP}|Cache-Control:max-age=60",
            "Expires:Thu, 01 Jan 1970 00:00:01 GMT|Cache-Control:max-age=60",
            "Cache-Control:max-age=60|Expires:Thu, 01 Jan 1970 00:00:01 GMT",
            "Cache-Control:stale-if-error=x", EXP]) for _ in (0, 1)]),
    ("proxy_ignore_headers", [
        G(f"/ign/o{i}?h={h}") for i, h in enumerate([
            "Set-Cookie:a=b", "Cache-Control:no-store", "X-Accel-Expires:0",
            "Expires:Thu, 01 Jan 1970 00:00:01 GMT", "Vary:*"]) for _ in (0, 1)]),
]


@pytest.fixture(scope="module")
def pair():
    with ProxyPair(CONF, extra_ports=1) as p:
        yield p


def _view(reply) -> dict:  # type: ignore[no-untyped-def]
    return reply.comparable()


@requires_nginx
@pytest.mark.parametrize("name,seq", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequence_same_as_nginx(pair, name, seq):
    real = [_view(pair.ask_real(q)) for q in seq]
    ours = [_view(pair.ask_engine(q)) for q in seq]
    for i, (a, b) in enumerate(zip(real, ours)):
        assert b == a, f"request {i}: {seq[i].method} {seq[i].target}"


@requires_nginx
def test_updating_serves_stale_while_another_request_updates(pair):
    """use_stale updating: EXPIRED goes upstream, a request meanwhile gets UPDATING; a
    location without it goes upstream too (EXPIRED)."""
    fill = G(f"/k/live/u?k=U&h={EXP}")
    plan = [(0.0, G("/k/upd/u?sleep=0.5&k=U")), (0.15, G("/k/upd/u?k=U")),
            (0.25, G("/k/live/u?k=U"))]
    pair.ask_real(fill)
    real = pair.ask_real_concurrently(plan) + [pair.ask_real(G("/k/upd/u?k=U"))]
    pair.ask_engine(fill)
    ours = pair.ask_engine_concurrently(plan) + [pair.ask_engine(G("/k/upd/u?k=U"))]
    assert [_view(r) for r in ours] == [_view(r) for r in real]
    assert [r.header("X-Cache") for r in real] == ["EXPIRED", "UPDATING", "EXPIRED", "HIT"]


@requires_nginx
def test_lock_makes_the_second_request_wait_for_the_first(pair):
    plan = [(0.0, G("/k/lock/l?sleep=0.5&k=LCK")), (0.15, G("/k/lock/l?k=LCK")),
            (0.25, G("/k/live/l?k=LCK"))]
    real = pair.ask_real_concurrently(plan)
    ours = pair.ask_engine_concurrently(plan)
    assert [_view(r) for r in ours] == [_view(r) for r in real]
    assert [r.header("X-Cache") for r in real] == ["MISS", "HIT", "MISS"]


@requires_nginx
@pytest.mark.parametrize("target,key", [
    ("/c/key1?a=b", "http://127.0.0.1:{port1}/c/key1?a=b"),
    ("/rw/key2?q=1", "http://127.0.0.1:{port1}/c/key2?q=1"),
    ("/c/key%203/./x?y", "http://127.0.0.1:{port1}/c/key%203/./x?y"),
    ("/k/live/key4?k=KEY4", "KEY4"),
])
def test_cache_key_is_nginx_s(pair, target, key):
    """The key: real nginx's cache file is named md5(key) and holds ``KEY: ...``."""
    import hashlib
    key = key.replace("{port1}", str(pair.ports[1]))
    pair.ask_real(G(target))
    ex = pair.exchange(G(target))
    events = [e.data for e in ex.trace if e.kind == "proxy_cache"]
    assert events and events[0]["key"] == key
    name = hashlib.md5(key.encode()).hexdigest()
    files = glob.glob(str(pair.real.prefix / "cache" / "*" / "*" / name))
    assert files, f"real nginx stored no file for {key!r}"
    assert b"\nKEY: " + key.encode() + b"\n" in Path(files[0]).read_bytes()


@requires_nginx
def test_hit_does_not_contact_the_upstream(pair):
    pair.ask_engine(G("/c/trace"))
    ex = pair.exchange(G("/c/trace"))
    kinds = [e.kind for e in ex.trace]
    cache = [e.data for e in ex.trace if e.kind == "proxy_cache"]
    assert cache[0]["status"] == "HIT" and cache[0]["zone"] == "z"
    assert "upstream" not in kinds and "upstream_trace" not in kinds
    ex = pair.exchange(G("/c/trace2"))
    kinds = [e.kind for e in ex.trace]
    assert "upstream" in kinds
    assert [e.data["status"] for e in ex.trace if e.kind == "proxy_cache"] == \
        ["MISS", "MISS"]  # the lookup, then the decision to store


@requires_nginx
def test_error_log_lines(pair):
    """Whatever ran before logged the same error lines on both (stale cases included)."""
    real = pair.real_errors("error")
    ours = pair.engine_errors("error")
    assert sorted(ours) == sorted(real)
    assert any("connect() failed (111: Connection refused)" in line for line in ours)


# --- nginx -t ---------------------------------------------------------------------------


def _conf(http: str, location: str = "") -> str:
    return ("events {}\nhttp {\n" + http + "\nserver { listen 127.0.0.1:8999;\n"
            "location / { proxy_pass http://127.0.0.1:9; " + location + " }\n}\n}\n")


P = "proxy_cache_path /tmp/ngx-explore-cache keys_zone=a:1m;"
CONFIG_CASES = [
    ("unknown zone", _conf("", "proxy_cache x;")),
    ("unknown zone at http level", _conf("proxy_cache q;")),
    ("zone declared after its use", _conf("", "proxy_cache a;") + ""),
    ("no keys_zone", _conf("proxy_cache_path /tmp/x levels=1:2;")),
    ("empty zone name", _conf("proxy_cache_path /tmp/x keys_zone=:1m;")),
    ("keys_zone without size", _conf("proxy_cache_path /tmp/x keys_zone=a;")),
    ("keys_zone bad size", _conf("proxy_cache_path /tmp/x keys_zone=a:xx;")),
    ("keys_zone too small", _conf("proxy_cache_path /tmp/x keys_zone=a:1k;")),
    ("levels=3", _conf("proxy_cache_path /tmp/x levels=3 keys_zone=a:1m;")),
    ("levels=1:2:2:2", _conf("proxy_cache_path /tmp/x levels=1:2:2:2 keys_zone=a:1m;")),
    ("levels=1:", _conf("proxy_cache_path /tmp/x levels=1: keys_zone=a:1m;")),
    ("levels=1:x", _conf("proxy_cache_path /tmp/x levels=1:x keys_zone=a:1m;")),
    ("bad inactive", _conf("proxy_cache_path /tmp/x keys_zone=a:1m inactive=x;")),
    ("bad max_size", _conf("proxy_cache_path /tmp/x keys_zone=a:1m max_size=x;")),
    ("bad use_temp_path", _conf("proxy_cache_path /tmp/x keys_zone=a:1m use_temp_path=1;")),
    ("bad loader_sleep", _conf("proxy_cache_path /tmp/x keys_zone=a:1m loader_sleep=1x;")),
    ("unknown parameter", _conf("proxy_cache_path /tmp/x keys_zone=a:1m foo=bar;")),
    ("duplicate zone", _conf(P + "\nproxy_cache_path /tmp/y keys_zone=a:1m;")),
    ("same path twice", _conf(P + "\nproxy_cache_path /tmp/ngx-explore-cache keys_zone=b:1m;")),
    ("proxy_cache_valid bad time", _conf(P, "proxy_cache a; proxy_cache_valid 200 abc;")),
    ("proxy_cache_valid bad status", _conf(P, "proxy_cache a; proxy_cache_valid 20 1m;")),
    ("proxy_cache_valid status 600", _conf(P, "proxy_cache a; proxy_cache_valid 600 1m;")),
    ("proxy_cache_valid without proxy_cache", _conf(P, "proxy_cache_valid x 1m;")),
    ("proxy_cache_methods PUT", _conf(P, "proxy_cache a; proxy_cache_methods PUT;")),
    ("proxy_cache_min_uses x", _conf(P, "proxy_cache a; proxy_cache_min_uses x;")),
    ("proxy_cache_use_stale foo", _conf(P, "proxy_cache a; proxy_cache_use_stale foo;")),
    ("proxy_ignore_headers Foo", _conf(P, "proxy_cache a; proxy_ignore_headers Foo;")),
    ("proxy_cache_lock_timeout x", _conf(P, "proxy_cache a; proxy_cache_lock_timeout x;")),
    ("proxy_cache_lock maybe", _conf(P, "proxy_cache a; proxy_cache_lock maybe;")),
    ("proxy_cache twice", _conf(P, "proxy_cache a; proxy_cache a;")),
    ("proxy_cache_key unknown variable", _conf(P, "proxy_cache a; proxy_cache_key $nosuch;")),
    ("valid: everything accepted", _conf(
        P.replace("keys_zone", "levels=2:2 inactive=1h max_size=1g use_temp_path=off "
                               "min_free=1m loader_files=10 keys_zone"),
        "proxy_cache a; proxy_cache_valid 200 302 10m; proxy_cache_valid any 1m; "
        "proxy_cache_methods GET post; proxy_cache_use_stale error timeout updating "
        "http_500; proxy_ignore_headers x-accel-expires Expires Cache-Control Set-Cookie "
        "Vary; proxy_cache_min_uses 0; proxy_cache_lock on; proxy_cache_lock_timeout 1s; "
        "proxy_cache_revalidate on; proxy_cache_bypass $arg_a; proxy_no_cache 1; "
        "proxy_cache_key $host$uri; proxy_cache_valid 0;")),
]
CONFIG_CASES[2] = ("zone declared after its use", CONFIG_CASES[2][1].replace(
    "\n}\n}\n", "\n}\n" + P + "\n}\n"))


@requires_nginx
@pytest.mark.parametrize("text", [c[1] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_config_error_same_as_nginx(tmp_path: Path, text: str) -> None:
    write_prefix(tmp_path, text)
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
