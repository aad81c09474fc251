"""Run one config and the same raw requests on real nginx and on the engine, compare.

The real side is Debian's nginx + ngx_lua from a temporary prefix (tests/oracle.py); the
engine loads the very same files from a copy of that prefix (mtimes kept, so ETag and
Last-Modified agree) and answers in-process. Responses are compared as the client sees
them: status, the headers that matter, and the body (chunked encoding removed).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine import Engine, HttpRequest
from engine.conf.errors import ConfigError
from tests.oracle import RealNginx

#: Headers whose values differ by nature between two servers (time, connection ids).
VOLATILE = {"date", "etag", "last-modified"}


@dataclass
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def comparable(self, ignore: set[str] = frozenset()) -> dict:  # type: ignore[assignment]
        skip = VOLATILE | {h.lower() for h in ignore}
        heads = [(k.lower(), v) for k, v in self.headers if k.lower() not in skip]
        return {"status": self.status, "reason": self.reason, "headers": heads,
                "body": self.body}


@dataclass
class Req:
    method: str = "GET"
    target: str = "/"
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Host", "localhost")])
    body: bytes = b""
    version: str = "HTTP/1.1"

    def raw(self) -> bytes:
        lines = [f"{self.method} {self.target} {self.version}"]
        heads = list(self.headers)
        if self.body and not any(k.lower() in ("content-length", "transfer-encoding")
                                 for k, _ in heads):
            heads.append(("Content-Length", str(len(self.body))))
        heads.append(("Connection", "close"))
        lines += [f"{k}: {v}" for k, v in heads]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body

    def engine_request(self, port: int) -> HttpRequest:
        heads = list(self.headers)
        if self.body and not any(k.lower() in ("content-length", "transfer-encoding")
                                 for k, _ in heads):
            heads.append(("Content-Length", str(len(self.body))))
        heads.append(("Connection", "close"))
        return HttpRequest(self.method, self.target, self.version, heads, self.body,
                           "127.0.0.1", 40000, "127.0.0.1", port)


def parse_reply(raw: bytes) -> Reply:
    if not raw:
        return Reply(0, "connection closed without a response", [], b"")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    proto, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k, v.strip()))
    if any(k.lower() == "transfer-encoding" and v == "chunked" for k, v in headers):
        body = dechunk(body)
    return Reply(int(code), reason, headers, body)


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        line, _, data = data.partition(b"\r\n")
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return bytes(out)


def engine_load_error(prefix: Path) -> str | None:
    """Our side of ``nginx -t``: ``str()`` of the ConfigError loading the prefix's
    ``conf/nginx.conf`` gives (``[emerg] message in file:line``), None when it loads."""
    try:
        Engine.load(str(prefix / "conf" / "nginx.conf"), prefix=str(prefix) + "/")
    except ConfigError as exc:
        return str(exc)
    return None


class Pair:
    """A config served by real nginx and loaded by the engine, from identical prefixes."""

    def __init__(self, conf: str, files: dict[str, str | bytes] | None = None,
                 extra_ports: int = 0) -> None:
        self.real = RealNginx(conf, files, extra_ports=extra_ports)
        self.tmp = tempfile.TemporaryDirectory(prefix="ngx-engine-")
        self.engine: Engine | None = None
        self.loop = asyncio.new_event_loop()

    def __enter__(self) -> "Pair":
        self.real.__enter__()
        prefix = Path(self.tmp.name) / "prefix"
        shutil.copytree(self.real.prefix, prefix, copy_function=shutil.copy2,
                        ignore=shutil.ignore_patterns("*.log", "*.pid"))
        self.prefix = prefix
        self.engine = Engine.load(str(prefix / "conf" / "nginx.conf"), prefix=str(prefix) + "/")
        self.loop.run_until_complete(self.engine.start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.loop.run_until_complete(self.engine.stop())
        self.loop.close()
        self.real.__exit__(*exc)
        self.tmp.cleanup()

    @property
    def port(self) -> int:
        return self.real.port

    @property
    def ports(self) -> list[int]:
        """The listen ports ({port0}, {port1}...) the config's placeholders became."""
        return self.real.ports

    def ask_real(self, req: Req) -> Reply:
        return parse_reply(self.real.request(req.raw()))

    def ask_engine(self, req: Req) -> Reply:
        assert self.engine is not None
        ex = self.loop.run_until_complete(self.engine.request(req.engine_request(self.port)))
        r = ex.response
        if not r.sent:
            return Reply(0, "connection closed without a response", [], b"")
        return Reply(r.status, r.reason, list(r.headers), r.body)

    def both(self, req: Req) -> tuple[Reply, Reply]:
        return self.ask_real(req), self.ask_engine(req)

    def engine_errors(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="surrogateescape") if path.exists() else ""
