"""Backends that misbehave at the TCP level: the engine answers like nginx, never a traceback."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx
from tests.proxy.harness import ProxyPair, read_head


class RawServer:
    """Accepts connections, reads the request head, then does ``behaviour``."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    read_head(conn)
                    if self.behaviour == "junk":
                        conn.sendall(b"\x00\x01 this is not http\r\n\r\n")
                    elif self.behaviour == "short":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


CONF = r"""
error_log logs/error.log;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port0};
        server_name localhost;
        location /close { proxy_pass http://127.0.0.1:CLOSE; }
        location /short { proxy_pass http://127.0.0.1:SHORT; }
        location /junk { proxy_pass http://127.0.0.1:JUNK; }
        location /tls { proxy_pass https://127.0.0.1:CLOSE; }
    }
}
"""


@pytest.fixture(scope="module")
def setup():
    servers = {name: RawServer(name.lower()) for name in ("CLOSE", "SHORT", "JUNK")}
    conf = CONF
    for name, srv in servers.items():
        conf = conf.replace(name, str(srv.port))
    with ProxyPair(conf, extra_ports=0) as p:
        yield p
    for srv in servers.values():
        srv.close()


@requires_nginx
def test_closed_before_the_header(setup):
    real, ours = setup.both(Req("GET", "/close"))
    assert ours.comparable() == real.comparable()
    assert real.status == 502
    want = "upstream prematurely closed connection while reading response header from upstream"
    assert any(want in line for line in setup.real_errors("error"))
    assert any(want in line for line in setup.engine_errors("error"))


@requires_nginx
def test_body_shorter_than_its_length(setup):
    real, ours = setup.both(Req("GET", "/short"))
    assert (ours.status, ours.body) == (real.status, real.body) == (200, b"only this")
    want = "upstream prematurely closed connection while reading upstream"
    assert any(want in line for line in setup.real_errors("error"))
    assert any(want in line for line in setup.engine_errors("error"))


@requires_nginx
def test_tls_to_a_plain_server(setup):
    real, ours = setup.both(Req("GET", "/tls"))
    assert ours.comparable() == real.comparable()
    want = "peer closed connection in SSL handshake while SSL handshaking to upstream"
    assert any(want in line for line in setup.real_errors("error"))
    assert any(want in line for line in setup.engine_errors("error"))


@requires_nginx
def test_garbage_instead_of_a_status_line(setup):
    """nginx logs this and relays the bytes as HTTP/0.9; the engine logs the same and
    answers 502 (documented)."""
    setup.real.request(Req("GET", "/junk").raw())
    ours = setup.ask_engine(Req("GET", "/junk"))
    assert ours.status == 502
    want = "upstream sent no valid HTTP/1.0 header while reading response header"
    assert any(want in line for line in setup.real_errors("error"))
    assert any(want in line for line in setup.engine_errors("error"))
    assert not any("engine error" in line for line in setup.engine_errors())
