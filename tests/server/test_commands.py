"""``ngx-explore serve``, ``-s`` and ``request`` as a user runs them: subprocesses.

Each test gets its own prefix; ``serve`` runs with ``--port-offset`` on a config that
says ``listen 80`` only where the remap itself is tested, elsewhere on a free high port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle import free_port, write_prefix
from tests.server.harness import parse_replies, raw_request, wait_for

ROOT = Path(__file__).resolve().parents[2]
CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:{port};
        location / { return 200 "first\n"; }
    }
}
"""
GET = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


class ServeProcess:
    def __init__(self, prefix: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.cli", "serve", "-p", str(prefix),
             "-c", "conf/nginx.conf", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_listening(self, port: int) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stderr.read())  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False
        assert wait_for(up, 15)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@pytest.fixture
def site(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    write_prefix(tmp_path, CONF.replace("{port}", str(port)))
    return tmp_path, port


def test_serve_answers_reloads_and_stops(site) -> None:  # type: ignore[no-untyped-def]
    prefix, port = site
    proc = ServeProcess(prefix)
    try:
        proc.wait_listening(port)
        assert parse_replies(raw_request(port, GET))[0].body == b"first\n"
        pid = int((prefix / "logs" / "nginx.pid").read_text())
        assert pid == proc.proc.pid
        conf = prefix / "conf" / "nginx.conf"
        conf.write_text(conf.read_text().replace("first", "second"))
        assert _cli("-s", "reload", "-p", str(prefix), "-c", "conf/nginx.conf").returncode == 0
        assert wait_for(lambda: parse_replies(raw_request(port, GET))[0].body == b"second\n")
        # a broken configuration: the old one keeps serving, the error is logged
        conf.write_text(conf.read_text().replace("events {}", "events {}\nbogus;"))
        os.kill(pid, signal.SIGHUP)
        assert wait_for(lambda: 'unknown directive "bogus"' in
                        (prefix / "logs" / "error.log").read_text())
        assert parse_replies(raw_request(port, GET))[0].body == b"second\n"
    finally:
        rc, err = proc.stop()
    assert rc == 0
    assert "Traceback" not in err
    assert 'nginx: [emerg] unknown directive "bogus"' in err
    assert not (prefix / "logs" / "nginx.pid").exists()


def test_signal_stop_and_quit(site) -> None:  # type: ignore[no-untyped-def]
    prefix, port = site
    for name in ("stop", "quit"):
        proc = ServeProcess(prefix)
        proc.wait_listening(port)
        assert _cli("-s", name, "-p", str(prefix), "-c", "conf/nginx.conf").returncode == 0
        assert proc.proc.wait(10) == 0


def test_signal_without_pid_file_is_worded_like_nginx(site) -> None:  # type: ignore[no-untyped-def]
    prefix, _ = site
    res = _cli("-s", "reload", "-p", str(prefix), "-c", "conf/nginx.conf")
    assert res.returncode == 1
    assert res.stderr.strip() == (f'nginx: [error] open() "{prefix}/logs/nginx.pid" failed '
                                  "(2: No such file or directory)")


def test_serve_config_error_exits_1_without_traceback(site) -> None:  # type: ignore[no-untyped-def]
    prefix, _ = site
    (prefix / "conf" / "nginx.conf").write_text("events {}\nhttp { server { listen x:y; } }\n")
    res = _cli("serve", "-p", str(prefix), "-c", "conf/nginx.conf")
    assert res.returncode == 1
    assert res.stderr.startswith("nginx: [emerg] ")
    assert "Traceback" not in res.stderr


def test_serve_bind_error_is_worded_like_nginx(site) -> None:  # type: ignore[no-untyped-def]
    prefix, port = site
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        res = _cli("serve", "-p", str(prefix), "-c", "conf/nginx.conf")
    assert res.returncode == 1
    assert res.stderr.strip() == (f"nginx: [emerg] bind() to 127.0.0.1:{port} failed "
                                  "(98: Address already in use)")


def test_serve_remaps_privileged_ports(tmp_path: Path) -> None:
    offset = free_port() - 80
    write_prefix(tmp_path, CONF.replace("127.0.0.1:{port}", "127.0.0.1:80"))
    proc = ServeProcess(tmp_path, "--port-offset", str(offset))
    try:
        proc.wait_listening(80 + offset)
        reply = parse_replies(raw_request(80 + offset, GET))[0]
        assert reply.body == b"first\n"
    finally:
        rc, err = proc.stop()
    assert f"ngx-explore: listen 80 remapped to {80 + offset}" in err
    assert rc == 0


def test_request_json_shape(site) -> None:  # type: ignore[no-untyped-def]
    prefix, _ = site
    res = _cli("request", str(prefix / "conf" / "nginx.conf"), "POST /x", "-H", "X-A: 1",
               "-d", "hi", "--json", "-p", str(prefix))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["status"] == 200
    assert data["body"] == "first\n"
    assert ["X-A", "1"] in data["request"]["headers"]
    assert all("type" in ev for ev in data["trace"])
    assert {"status", "headers", "body", "trace", "logs"} <= set(data)


def test_request_prints_response_then_trace(site) -> None:  # type: ignore[no-untyped-def]
    prefix, _ = site
    res = _cli("request", str(prefix / "conf" / "nginx.conf"), "GET /", "-p", str(prefix))
    assert res.returncode == 0
    head, _, rest = res.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK\nServer: nginx/1.22.1\n")
    assert "--- trace ---" in rest and "using configuration" in rest


@pytest.mark.parametrize("args, message", [
    (["GET /", "-H", "no colon here"], 'invalid header "no colon here"'),
    (["get"], 'invalid request line "get"'),
    (["GET /", "--bogus"], 'invalid option: "--bogus"'),
])
def test_request_bad_input(site, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    prefix, _ = site
    res = _cli("request", str(prefix / "conf" / "nginx.conf"), *args)
    assert res.returncode == 1
    assert message in res.stderr and "Traceback" not in res.stderr


def test_request_unreadable_conf() -> None:
    res = _cli("request", "/nonexistent/nginx.conf", "GET /")
    assert res.returncode == 1
    assert res.stderr.strip() == ('nginx: [emerg] open() "/nonexistent/nginx.conf" failed '
                                  "(2: No such file or directory)")
