"""A differential harness for configurations with several servers (front + backends).

Real nginx serves the config on ``{port0}``, ``{port1}``...; the engine loads the same
files and answers in-process, its proxy reaching the backends of the same config
in-process too (they are its own listen addresses). Requests can come from another
loopback source address (``127.1.2.3``) so that ``ip_hash`` sees different clients, and
several can run at once (``least_conn`` needs requests in flight).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time

from tests.differential import Pair, Reply, Req, parse_reply

_LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def read_head(conn: socket.socket, size: int = 4096) -> bytes:
    """What a test backend reads of a request: up to the end of its head (the bytes
    read so far when the client stops sending before that)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(size)
        if not piece:
            break
        data += piece
    return data


def normalize_log(text: str, level: str = "") -> list[str]:
    """Error-log lines without time, pid and connection number: ``[error] message...``."""
    out = []
    for line in text.splitlines():
        m = _LOG_PREFIX.match(line)
        if not m:
            continue
        if level and m.group(1) != level:
            continue
        out.append(f"[{m.group(1)}] {line[m.end():]}")
    return out


class ProxyPair(Pair):
    """A Pair with backends: ``extra_ports`` more listen ports, requests from chosen
    source addresses, concurrent requests, and error logs to compare."""

    def __init__(self, conf: str, extra_ports: int = 3,
                 files: dict[str, str | bytes] | None = None) -> None:
        super().__init__(conf, files, extra_ports)

    # -- real nginx --------------------------------------------------------------------

    def ask_real(self, req: Req, source: str | None = None) -> Reply:
        src = (source, 0) if source else None
        with socket.create_connection(("127.0.0.1", self.real.port), timeout=10,
                                      source_address=src) as s:
            s.sendall(req.raw())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return parse_reply(b"".join(chunks))

    def ask_real_concurrently(self, plan: list[tuple[float, Req]]) -> list[Reply]:
        """Send each request after its delay (seconds), all in flight together."""
        results: list[Reply | None] = [None] * len(plan)

        def run(i: int, delay: float, req: Req) -> None:
            time.sleep(delay)
            results[i] = self.ask_real(req)

        threads = [threading.Thread(target=run, args=(i, d, q)) for i, (d, q) in enumerate(plan)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [r for r in results if r is not None]

    def real_errors(self, level: str = "") -> list[str]:
        time.sleep(0.05)
        return normalize_log(self.real.error_log(), level)

    # -- the engine --------------------------------------------------------------------

    async def _engine(self, req: Req, source: str | None) -> Reply:
        assert self.engine is not None
        http = req.engine_request(self.real.port)
        if source:
            http.client_addr = source
        ex = await self.engine.request(http)
        r = ex.response
        if not r.sent:
            return Reply(0, "connection closed without a response", [], b"")
        return Reply(r.status, r.reason, list(r.headers), r.body)

    def ask_engine(self, req: Req, source: str | None = None) -> Reply:
        return self.loop.run_until_complete(self._engine(req, source))

    def exchange(self, req: Req):  # type: ignore[no-untyped-def]
        """The engine's whole Exchange (trace, logs) for one request."""
        assert self.engine is not None
        return self.loop.run_until_complete(
            self.engine.request(req.engine_request(self.real.port)))

    def ask_engine_concurrently(self, plan: list[tuple[float, Req]]) -> list[Reply]:
        async def one(delay: float, req: Req) -> Reply:
            await asyncio.sleep(delay)
            return await self._engine(req, None)

        async def all_() -> list[Reply]:
            return list(await asyncio.gather(*(one(d, q) for d, q in plan)))

        return self.loop.run_until_complete(all_())

    def engine_errors(self, level: str = "") -> list[str]:
        path = self.prefix / "logs" / "error.log"
        return normalize_log(path.read_text() if path.exists() else "", level)

    def both(self, req: Req, source: str | None = None) -> tuple[Reply, Reply]:
        return self.ask_real(req, source), self.ask_engine(req, source)
