"""``unix:`` upstreams against real nginx: what a failed connect() logs, and a working one.

A unix socket connects synchronously, so nginx words its failure with the socket's name
(``connect() to unix:/x.sock failed (2: No such file or directory)``) and logs it at
``[crit]`` unless the error is one a peer may cause (refused, reset, unreachable...):
a missing socket is [crit], a socket nobody listens on, a regular file or a directory
(all ECONNREFUSED) stay [error]. The status is 502 either way, through ``proxy_pass
http://unix:...:``, an upstream group, or ``https://unix:`` (the connect fails before
any handshake). EACCES (also [crit], nginx's worker runs as nobody) cannot be
reproduced here: the engine runs as root, which no file mode stops.

The socket files live in a directory of their own, readable by nginx's worker; the
working peer is a tiny HTTP/1.0 server on a unix socket, the same for both sides.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator

import pytest

from tests.differential import Pair, Req
from tests.fuzzing import config_verdicts, settled_logs
from tests.lua.cases import mark_logs
from tests.oracle import requires_nginx
from tests.proxy.harness import read_head

_ANSWER = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nover uds"

CONF = """
error_log logs/error.log info;
events {}
http { access_log off;
upstream missing { server unix:/no/such.sock; }
upstream two { server unix:/no/such.sock; server unix:DIR/nolisten.sock; }
upstream works { server unix:DIR/live.sock; }
server { listen 127.0.0.1:{port};
  location /missing { proxy_pass http://unix:/no/such.sock:; }
  location /group { proxy_pass http://missing; }
  location /nolisten { proxy_pass http://unix:DIR/nolisten.sock:/x; }
  location /regular { proxy_pass http://unix:DIR/regular.sock; }
  location /dir { proxy_pass http://unix:DIR/dir.sock:; }
  location /two { proxy_pass http://two; }
  location /tls { proxy_pass https://unix:/no/such.sock:; }
  location /live { proxy_pass http://unix:DIR/live.sock:/; }
  location /works { proxy_pass http://works; }
}}
"""


def _serve(listener: socket.socket) -> None:
    """Answer every connection with one fixed response (after reading its head)."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            read_head(conn)
            conn.sendall(_ANSWER)


@pytest.fixture(scope="module")
def sockets() -> Iterator[str]:
    where = tempfile.mkdtemp(prefix="ngx-uds-")
    os.chmod(where, 0o755)
    idle = socket.socket(socket.AF_UNIX)
    idle.bind(f"{where}/nolisten.sock")  # bound, never listening: ECONNREFUSED
    live = socket.socket(socket.AF_UNIX)
    live.bind(f"{where}/live.sock")
    live.listen(16)
    open(f"{where}/regular.sock", "w").close()
    os.mkdir(f"{where}/dir.sock")
    for name in ("nolisten.sock", "live.sock", "regular.sock", "dir.sock"):
        os.chmod(f"{where}/{name}", 0o777)  # nginx's worker connects as nobody
    thread = threading.Thread(target=_serve, args=(live,), daemon=True)
    thread.start()
    yield where
    live.shutdown(socket.SHUT_RDWR)
    live.close()
    idle.close()
    shutil.rmtree(where)


@pytest.fixture(scope="module")
def pair(sockets: str) -> Iterator[Pair]:
    with Pair(CONF.replace("DIR", sockets)) as p:
        mark_logs(p)
        yield p


#: target -> the (level, start of the message) nginx logs for it, in order
CASES = {
    "/missing?a=1": [("crit", "connect() to unix:/no/such.sock failed (2: No such file")],
    "/group": [("crit", "connect() to unix:/no/such.sock failed (2: No such file")],
    "/nolisten": [("error", "connect() to unix:DIR/nolisten.sock failed (111: Connection "
                            "refused)")],
    "/regular": [("error", "connect() to unix:DIR/regular.sock failed (111: ")],
    "/dir": [("error", "connect() to unix:DIR/dir.sock failed (111: ")],
    "/two": [("crit", "connect() to unix:/no/such.sock failed (2: "),
             ("warn", "upstream server temporarily disabled"),
             ("error", "connect() to unix:DIR/nolisten.sock failed (111: "),
             ("warn", "upstream server temporarily disabled")],
    "/tls": [("crit", "connect() to unix:/no/such.sock failed (2: ")],
    "/live/x?y": [],
    "/works": [],
}


@requires_nginx
@pytest.mark.parametrize("target", list(CASES))
def test_unix_peer_as_nginx(pair: Pair, sockets: str, target: str) -> None:
    real, ours = pair.both(Req("GET", target))
    assert ours.comparable() == real.comparable()
    assert real.status == (200 if not CASES[target] else 502)
    ours_log, real_log = settled_logs(pair)
    assert ours_log == real_log
    # (the case means what it says: nginx's own levels and words)
    want = [(level, text.replace("DIR", sockets)) for level, text in CASES[target]]
    assert [(lv, msg[:len(text)]) for (lv, msg), (_, text) in zip(real_log, want)] == want
    assert len(real_log) == len(want)
    assert all('upstream: "http' in msg for _, msg in real_log)


@requires_nginx
def test_upstream_names_the_socket(pair: Pair) -> None:
    """The log's context names the upstream as nginx does: the socket, ':' and the URI."""
    pair.both(Req("GET", "/missing?q=%20"))
    ours_log, real_log = settled_logs(pair)
    assert ours_log == real_log
    assert real_log[0][1].endswith('upstream: "http://unix:/no/such.sock:/missing?q=%20", '
                                   'host: "localhost"')


_BAD = "events {}\nhttp { server { location / { %s } } }\n"


@requires_nginx
@pytest.mark.parametrize("directive,valid", [
    ("proxy_pass http://unix:;", False), ("proxy_pass http://unix:/;", True),
    ("proxy_pass http://unix:/x.sock:/a:b;", True), ("proxy_pass https://unix:/x.sock:/;", True),
    ("proxy_pass http://unix:/x.sock:$arg_a;", True),
])
def test_nginx_t(tmp_path, directive: str, valid: bool) -> None:  # type: ignore[no-untyped-def]
    ours, real = config_verdicts(tmp_path, _BAD % directive)
    assert ours == real
    assert (real is None) == valid
