"""Real nginx + ngx_lua (Debian's packages) as the oracle for differential tests.

``RealNginx`` starts ``nginx -p PREFIX -c conf/nginx.conf -g 'daemon off; ...'`` from a
temporary prefix on a 127.0.0.1 high port. The Lua and NDK modules are loaded through
``-g`` so that the config file is byte-for-byte the one the engine reads, and error
messages carry the same line numbers on both sides.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr

import pytest

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
MODULES_DIR = "/usr/share/nginx/modules"
LOAD_MODULES = (
    f"load_module {MODULES_DIR}/ndk_http_module.so; "
    f"load_module {MODULES_DIR}/ngx_http_lua_module.so;"
)
HAVE_NGINX = NGINX is not None and os.path.exists(f"{MODULES_DIR}/ngx_http_lua_module.so")

requires_nginx = pytest.mark.skipif(
    not HAVE_NGINX,
    reason="real nginx with the Lua module is not installed "
    "(apt-get install nginx libnginx-mod-http-lua libnginx-mod-http-ndk lua-resty-core)",
)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: the sockets stay bound until all are chosen, since the
    kernel may hand a just-released port out again (two servers of one config on the
    same port would turn a proxy chain into a loop)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class TestResult:
    """What ``nginx -t`` printed and how it exited."""

    returncode: int
    output: str


def spell_port(data: AnyStr, port: int, name: AnyStr) -> AnyStr:
    """``data`` with the number ``port`` spelled ``name`` where it stands alone, not as
    digits inside a longer number (a pid, a body of digits), which chance can make it."""
    pattern = rf"(?<![0-9]){port}(?![0-9])"
    if isinstance(data, bytes):
        return re.sub(pattern.encode(), name, data)  # type: ignore[arg-type]
    return re.sub(pattern, name, data)  # type: ignore[arg-type]


def write_prefix(prefix: Path, conf: str, files: dict[str, str | bytes] | None = None) -> Path:
    """Lay out a prefix: ``conf/nginx.conf`` plus extra files relative to the prefix."""
    (prefix / "conf").mkdir(parents=True, exist_ok=True)
    (prefix / "logs").mkdir(exist_ok=True)
    (prefix / "html").mkdir(exist_ok=True)
    for rel, content in (files or {}).items():
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    conf_path = prefix / "conf" / "nginx.conf"
    conf_path.write_text(conf)
    return conf_path


_EMERG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[emerg\] \d+#\d+: (.*)$", re.M)


def first_emerg(output: str) -> str | None:
    """The first ``[emerg]`` of ``nginx -t``'s output as ``[emerg] message in file:line``,
    which is what ``str()`` of our ConfigError gives; None when there is none."""
    m = _EMERG.search(output)
    return f"[emerg] {m.group(1)}" if m else None


def nginx_test(prefix: Path, conf_rel: str = "conf/nginx.conf") -> TestResult:
    """Run real ``nginx -t`` on a prefix and return its output (stderr)."""
    assert NGINX
    proc = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", conf_rel, "-g", LOAD_MODULES],
        capture_output=True, text=True, timeout=30,
    )
    return TestResult(proc.returncode, proc.stderr)


class RealNginx:
    """A running real nginx for one test; use as a context manager.

    ``{port}`` in the config text is replaced by a free port (``self.port``), and
    ``{prefix}`` by the prefix directory.
    """

    def __init__(self, conf: str, files: dict[str, str | bytes] | None = None,
                 extra_ports: int = 0) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="ngx-oracle-")
        self.prefix = Path(self.tmp.name)
        self.ports = free_ports(1 + extra_ports)
        self.port = self.ports[0]
        fmt = {"port": self.port, "prefix": str(self.prefix)}
        for i, p in enumerate(self.ports):
            fmt[f"port{i}"] = p
        self.conf_text = conf.replace("{port}", str(self.port)).replace("{prefix}", str(self.prefix))
        for i, p in enumerate(self.ports):
            self.conf_text = self.conf_text.replace("{port%d}" % i, str(p))
        write_prefix(self.prefix, self.conf_text, files)
        # nginx's workers run as "nobody": the prefix must be readable by them
        for root, dirs, names in os.walk(self.prefix):
            os.chmod(root, 0o755)
            for name in names:
                os.chmod(os.path.join(root, name), 0o644)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "RealNginx":
        assert NGINX
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", "conf/nginx.conf",
             "-g", LOAD_MODULES + f" daemon off; pid {self.prefix}/logs/nginx.pid;"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"real nginx failed to start:\n{err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("real nginx did not start listening")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()

    def error_log(self) -> str:
        """The error log: stderr (Debian's build logs there by default) or logs/error.log."""
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="surrogateescape") if path.exists() else ""

    def request(self, raw: bytes, port: int | None = None, timeout: float = 5.0) -> bytes:
        """Send raw bytes, read until the server closes (send ``Connection: close``)."""
        with socket.create_connection(("127.0.0.1", port or self.port), timeout=timeout) as s:
            s.sendall(raw)
            chunks = []
            while True:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks)
