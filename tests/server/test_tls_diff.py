"""``listen ... ssl`` over real sockets, against real nginx: the handshake with the
configured certificate, the server chosen by SNI, ``$scheme``/``$https``/``$ssl_*``,
absolute redirects with https, keep-alive over TLS, plain HTTP sent to the HTTPS port
(nginx's 497 → 400 page, or an ``error_page 497``) and handshakes that fail.

The certificate is a self-signed fixture (tests/server/tls/, valid for a century); the
client does not verify it, as ``curl -k`` does not.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
import ssl
import time
from pathlib import Path

import pytest

from engine import Engine, HttpRequest
from engine.server import BindError, Server
from explorer.commands.check import run_test
from tests.differential import engine_load_error
from tests.oracle import RealNginx, first_emerg, nginx_test, requires_nginx, write_prefix
from tests.server.harness import Served, raw_request, read_all
from tests.server.test_differential import _log_lines

FIXTURE = Path(__file__).parent / "tls"
FILES = {"conf/cert.pem": (FIXTURE / "cert.pem").read_bytes(),
         "conf/key.pem": (FIXTURE / "key.pem").read_bytes()}

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log logs/access.log;
    ssl_certificate cert.pem;
    ssl_certificate_key key.pem;
    server {
        listen 127.0.0.1:{port} ssl;
        server_name a.test;
        location / {
            return 200 "a $scheme|$https|$ssl_protocol|$ssl_server_name|$ssl_session_reused|$server_port|$host\n";
        }
        location /r { return 301 /moved; }
        location /rel { absolute_redirect off; return 302 /rel2; }
        location /dir { }
    }
    server {
        listen 127.0.0.1:{port} ssl;
        server_name b.test;
        error_page 497 =307 https://$host:$server_port$request_uri;
        location / { return 200 "b $ssl_server_name|$host|$scheme\n"; }
    }
}
"""
_DATE = re.compile(rb"\r\nDate: [^\r\n]*")


def _client() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_exchange(port: int, raws: list[bytes], sni: str | None) -> bytes:
    """Send each raw request on one TLS connection (keep-alive), then read to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with _client().wrap_socket(raw, server_hostname=sni) as s:
            for data in raws:
                s.sendall(data)
            return read_all(s)


def _clean(data: bytes, port: int) -> bytes:
    return _DATE.sub(b"", data).replace(b"%d" % port, b"{port}")


@pytest.fixture(scope="module")
def servers():  # type: ignore[no-untyped-def]
    with RealNginx(CONF, FILES) as real, Served(CONF, FILES) as ours:
        yield real, ours


def _get(path: str, host: str | None = "a.test", close: bool = True) -> bytes:
    lines = [f"GET {path} HTTP/1.1"] + ([f"Host: {host}"] if host else [])
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


TLS_CASES = {
    "vars": ([_get("/")], "a.test"),
    "sni picks the server": ([_get("/", "b.test")], "b.test"),
    "sni other than host": ([_get("/", "a.test")], "b.test"),
    "no sni": ([_get("/", "a.test")], None),
    "no host": ([b"GET / HTTP/1.0\r\n\r\n"], "a.test"),
    "redirect is https": ([_get("/r")], "a.test"),
    "relative redirect": ([_get("/rel")], "a.test"),
    "directory slash": ([_get("/dir")], "a.test"),
    "keep-alive": ([_get("/one", close=False), _get("/two")], "a.test"),
    "unknown sni": ([_get("/", "zzz.test")], "zzz.test"),
}


@requires_nginx
@pytest.mark.parametrize("name", list(TLS_CASES))
def test_over_tls_as_nginx(servers, name: str) -> None:  # type: ignore[no-untyped-def]
    real, ours = servers
    raws, sni = TLS_CASES[name]
    want = _clean(tls_exchange(real.port, raws, sni), real.port)
    got = _clean(tls_exchange(ours.port, raws, sni), ours.port)
    assert want.startswith(b"HTTP/1.1 ")
    assert got == want


PLAIN_CASES = {
    "plain http to https port": _get("/"),
    "error_page 497": _get("/x?y=1", "b.test"),
    "bad request first": b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n",
}


@requires_nginx
@pytest.mark.parametrize("name", list(PLAIN_CASES))
def test_plain_http_to_https_port(servers, name: str) -> None:  # type: ignore[no-untyped-def]
    real, ours = servers
    raw = PLAIN_CASES[name]
    want = _clean(raw_request(real.port, raw), real.port)
    got = _clean(raw_request(ours.port, raw), ours.port)
    assert want.startswith(b"HTTP/1.1 4") or want.startswith(b"HTTP/1.1 3")
    assert got == want


def _ssl_lines(server) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    text = (server.prefix / "logs" / "error.log").read_text()
    return [(lvl, re.sub(r"server: 127.0.0.1:\d+", "server: {addr}", msg))
            for lvl, msg in _log_lines(text) if "SSL" in msg or "closed" in msg]


@requires_nginx
def test_failed_handshake_alert_and_log(servers) -> None:  # type: ignore[no-untyped-def]
    """A first byte of 0x16 starts TLS: a broken record gets OpenSSL's alert and no
    HTTP answer, nginx's log line names the OpenSSL error, the next client is served."""
    real, ours = servers
    for server in (real, ours):
        (server.prefix / "logs" / "error.log").write_text("")
    junk = b"\x16\x03\x01\x00\x05hello" + _get("/")
    got = raw_request(ours.port, junk)
    assert got == raw_request(real.port, junk)
    assert got.startswith(b"\x15")  # a TLS alert record
    time.sleep(0.1)
    assert _ssl_lines(ours) == _ssl_lines(real) != []
    assert tls_exchange(ours.port, [_get("/")], "a.test").startswith(b"HTTP/1.1 200")


@requires_nginx
def test_in_process_request_over_tls(servers) -> None:  # type: ignore[no-untyped-def]
    """The engine API takes a request "over TLS" without a handshake (the TUI's https://
    URLs): $scheme, $https and redirects as over a socket, the handshake's facts not
    found; plain HTTP to the ssl port is answered 497 as over a socket."""
    real, _ = servers
    engine = Engine.load(str(real.prefix / "conf" / "nginx.conf"), prefix=str(real.prefix))
    for target in ("/r", "/"):
        ex = asyncio.run(engine.request(HttpRequest(
            "GET", target, headers=[("Host", "a.test")], server_port=real.port, tls={})))
        want = tls_exchange(real.port, [_get(target)], "a.test")
        assert ex.response.status == int(want.split()[1])
        if target == "/r":
            assert (b"\r\nLocation: " + ex.response.header("location").encode()) in want
        else:
            # (no handshake: $ssl_protocol, $ssl_server_name, $ssl_session_reused empty)
            assert ex.response.body.startswith(b"a https|on||||")
            assert b"\r\n\r\na https|on|TLSv1.2|a.test|.|" in want
    ex = asyncio.run(engine.request(HttpRequest(
        "GET", "/", headers=[("Host", "a.test")], server_port=real.port, plain_on_https=True)))
    assert ex.response.status == 400
    assert ex.response.body in raw_request(real.port, _get("/"))


@requires_nginx
def test_deprecated_ssl_on() -> None:
    """``ssl on`` in the address's default server makes its connections TLS ones."""
    conf = ('events {}\nhttp { server { listen 127.0.0.1:{port}; ssl on;\n'
            'ssl_certificate cert.pem; ssl_certificate_key key.pem;\n'
            'location / { return 200 "[$scheme|$https]"; } } }\n')
    with RealNginx(conf, FILES) as real, Served(conf, FILES) as ours:
        want = _clean(tls_exchange(real.port, [_get("/")], "a.test"), real.port)
        assert want.endswith(b"[https|on]")
        assert _clean(tls_exchange(ours.port, [_get("/")], "a.test"), ours.port) == want


@requires_nginx
def test_ssl_variables_on_a_plain_port() -> None:
    """Without TLS the ssl variables are not found, $scheme is http."""
    conf = ('events {}\nhttp { server { listen 127.0.0.1:{port};\n'
            'location / { return 200 "[$scheme|$https|$ssl_protocol|$ssl_cipher]"; } } }\n')
    with RealNginx(conf) as real, Served(conf) as ours:
        assert _clean(raw_request(ours.port, _get("/")), ours.port) == \
            _clean(raw_request(real.port, _get("/")), real.port)


@requires_nginx
@pytest.mark.parametrize("body", [
    "server { listen 127.0.0.1:1 ssl; }",
    "server { listen 127.0.0.1:1 ssl; ssl_certificate_key key.pem; }",
    "ssl_certificate cert.pem; server { listen 127.0.0.1:1 ssl; }",
])
def test_config_verdicts(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, "events {}\nhttp {\n" + body + "\n}\n", FILES)
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output)


@requires_nginx
@pytest.mark.parametrize("cert,key", [("nope.pem", "key.pem"), ("cert.pem", "nokey.pem")])
def test_certificate_that_does_not_load(tmp_path: Path, cert: str, key: str) -> None:
    """A missing certificate or key stops the listener's start, and ``ngx-explore -t``,
    with nginx's [emerg]."""
    conf = ("events {}\nhttp { server { listen 127.0.0.1:1 ssl; "
            f"ssl_certificate {cert}; ssl_certificate_key {key}; }} }}\n")
    write_prefix(tmp_path, conf, FILES)
    want = first_emerg(nginx_test(tmp_path).output)
    engine = Engine.load(str(tmp_path / "conf" / "nginx.conf"), prefix=str(tmp_path) + "/")
    with pytest.raises(BindError) as err:
        asyncio.run(Server().start(engine))
    assert f"[emerg] {err.value.strerror}" == want
    out = io.StringIO()
    assert run_test(["-t", "-p", str(tmp_path), "-c", "conf/nginx.conf"], io.StringIO(), out) == 1
    assert out.getvalue().splitlines()[0] == f"nginx: {want}"
