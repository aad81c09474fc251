"""Our listener on a real socket, shaped like ``tests.oracle.RealNginx``.

``Served(conf)`` runs :class:`engine.server.Server` on its own event loop in a thread,
so that tests talk to it over real sockets with blocking code, and the differential
tests can send the same bytes to both servers through the same ``request`` method.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine import Engine, Exchange
from engine.server import Server
from tests.oracle import free_port, write_prefix


class Served:
    """A running ``Server`` for one test; use as a context manager."""

    def __init__(self, conf: str, files: dict[str, str | bytes] | None = None,
                 trace: bool = False) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="ngx-serve-")
        self.prefix = Path(self.tmp.name)
        self.port = free_port()
        self.conf_text = conf.replace("{port}", str(self.port)).replace("{prefix}",
                                                                          str(self.prefix))
        self.conf_path = write_prefix(self.prefix, self.conf_text, files)
        self.trace = trace
        self.exchanges: list[Exchange] = []
        self.loop = asyncio.new_event_loop()
        self.server = Server(on_exchange=self.exchanges.append)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro, timeout: float = 10):  # type: ignore[no-untyped-def]
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Served:
        self.thread.start()
        engine = Engine.load(str(self.conf_path), prefix=str(self.prefix), trace=self.trace)
        self.call(self.server.start(engine))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.server.stop(False))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()
            self.tmp.cleanup()

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text() if path.exists() else ""

    def request(self, raw: bytes, port: int | None = None, timeout: float = 5.0) -> bytes:
        return raw_request(port or self.port, raw, timeout)


def raw_request(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or ``timeout`` passes quietly."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return read_all(s)


def read_all(s: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@dataclass
class Reply:
    """One parsed response: status line, headers in order, decoded body."""

    status_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def parse_replies(data: bytes, head_only: bool = False) -> list[Reply]:
    """Split a byte stream into responses (Content-Length, chunked or read-to-close)."""
    out: list[Reply] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        lines = data[pos:end].decode("utf-8", "surrogateescape").split("\r\n")
        reply = Reply(lines[0], [tuple(line.split(": ", 1)) for line in lines[1:]])  # type: ignore[misc]
        pos = end + 4
        if reply.status == 100 or head_only:
            out.append(reply)
            continue
        if reply.header("transfer-encoding") == "chunked":
            body = []
            while True:
                eol = data.index(b"\r\n", pos)
                size = int(data[pos:eol], 16)
                pos = eol + 2
                body.append(data[pos:pos + size])
                pos += size + 2
                if size == 0:
                    break
            reply.body = b"".join(body)
        elif reply.header("content-length") is not None and not data.startswith(b"HTTP/1.", pos):
            # (a reply to HEAD has a Content-Length but no body: the next reply follows)
            n = int(reply.header("content-length") or 0)
            reply.body = data[pos:pos + n]
            pos += n
        else:
            reply.body = data[pos:]
            pos = len(data)
        out.append(reply)
    return out


def wait_for(cond, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False
