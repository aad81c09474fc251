"""The harness of the realistic scenarios (test_realistic_*.py): configurations the way
people write them, served side by side by real nginx + ngx_lua and by
``ngx-explore serve``'s listener over real sockets.

Each scenario is a complete nginx.conf with its files and the requests a browser, curl or
an API client would send (HEAD, conditional and Range requests, gzip, keep-alive
sequences, odd methods and paths). Both servers get the same bytes; the replies are
compared whole (status line, every header but Date, body) with the ports normalised, and
at the end of the scenario so are the access log and the error log (levels and messages).
The served files get one fixed mtime on both sides so ETag and Last-Modified agree and
conditional requests can be tested.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.core.conftest import with_mime_types
from tests.oracle import RealNginx, free_ports, spell_port
from tests.server.harness import Served, parse_replies, wait_for

#: The mtime every served file gets on both sides (Tue, 14 Nov 2023 22:13:20 GMT).
MTIME = 1700000000
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"

#: An access-log format without times or connection numbers, so both sides can agree.
LOG_FORMAT = (
    "log_format t '$remote_addr \"$request\" $status $body_bytes_sent \"$http_referer\" "
    "\"$http_user_agent\" \"$sent_http_content_type\" $uri $args';"
)


def req(target: str = "/", *headers: str, method: str = "GET", body: bytes = b"",
        host: str | None = "localhost", version: str = "HTTP/1.1", close: bool = True) -> bytes:
    """One request's bytes: ``headers`` as ``"Name: value"`` lines."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += list(headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def keepalive(*requests: bytes) -> bytes:
    """Several requests on one connection (pipelined); all but the last are built with
    ``close=False``, the last one closes."""
    return b"".join(requests)


@dataclass
class Scenario:
    name: str
    conf: str
    files: dict[str, str | bytes]
    requests: list[bytes]
    #: Headers whose values depend on the clock (compared by presence only).
    timed: set[str] = field(default_factory=set)


def _norm(raw: bytes, ports: list[int], prefix: Path) -> bytes:
    raw = raw.replace(str(prefix).encode(), b"{prefix}")
    for i, p in enumerate(ports):
        raw = spell_port(raw, p, b"{port%d}" % i)
    return raw


def _comparable(raw: bytes, timed: set[str]) -> list:
    out = []
    for reply in parse_replies(raw):
        heads = [(k, "<timed>" if k.lower() in timed else v) for k, v in reply.headers
                 if k.lower() != "date"]
        out.append((reply.status_line, heads, reply.body))
    return out


_ELOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")


_STARTUP = re.compile(r"using the |nginx/|OS: |getrlimit|start (worker|cache)")


#: nginx cuts a log line at 2048 bytes (NGX_MAX_ERROR_STR), so how much of a long message
#: is left depends on the digits of the pid and the connection number before it, which
#: differ between the two servers: long messages are compared up to here.
_LONG = 1900


def _error_entries(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _ELOG.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
    return [(level, message[:_LONG]) for level, message in out]


def _fix_mtimes(prefix: Path) -> None:
    for root, dirs, names in os.walk(prefix):
        rel = Path(root).relative_to(prefix)
        if rel.parts[:1] in (("conf",), ("logs",)):
            continue
        for name in names + dirs:
            os.utime(os.path.join(root, name), (MTIME, MTIME))


class Side:
    """One server (real or ours) of a scenario, its own ports substituted."""

    def __init__(self, server_cls: type, conf: str, files: dict) -> None:
        self.extra = free_ports(4)
        for i, p in enumerate(self.extra, start=1):
            conf = conf.replace("{port%d}" % i, str(p))
        self.server = server_cls(conf, files)
        _fix_mtimes(self.server.prefix)

    def __enter__(self) -> "Side":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def ports(self) -> list[int]:
        return [self.server.port, *self.extra]

    def ask(self, raw: bytes) -> bytes:
        return _norm(self.server.request(raw), self.ports, self.server.prefix)

    def logs(self) -> tuple[list[str], list[tuple[str, str]]]:
        prefix = self.server.prefix / "logs"
        access = prefix / "access.log"
        lines = access.read_text().splitlines() if access.exists() else []
        errors = (prefix / "error.log")
        text = errors.read_text() if errors.exists() else ""
        return ([_norm(x.encode(), self.ports, self.server.prefix).decode() for x in lines],
                _error_entries(_norm(text.encode(), self.ports, self.server.prefix).decode()))


def _own_errors(entries: list) -> list:
    """nginx's error-log entries but the oracle's readiness probe (a connection closed
    before any request) and the master's start-up notices."""
    return [e for e in entries
            if "client closed connection while waiting for request" not in e[1]
            and not (e[0] == "notice" and _STARTUP.match(e[1]))]


def _counts(logs: tuple, real: bool) -> tuple[int, int]:
    """How many access and error-log entries a side wrote (nginx's own ones aside)."""
    return len(logs[0]), len(_own_errors(logs[1]) if real else logs[1])


def run(s: Scenario) -> list[str]:
    """Every request of the scenario to both servers: the differences found."""
    files = with_mime_types(s.files)
    diffs: list[str] = []
    with Side(RealNginx, s.conf, files) as real, Side(Served, s.conf, files) as ours:
        for raw in s.requests:
            want = _comparable(real.ask(raw), s.timed)
            got = _comparable(ours.ask(raw), s.timed)
            if got != want:
                diffs.append(f"{raw!r}\n  nginx: {want}\n  ours:  {got}")
        # either side may write its last lines just after its last reply
        wait_for(lambda: _counts(real.logs(), True) == _counts(ours.logs(), False), 2)
        want_logs, got_logs = real.logs(), ours.logs()
        want_errors = _own_errors(want_logs[1])
        if got_logs[0] != want_logs[0]:
            diffs.append(f"access log\n  nginx: {want_logs[0]}\n  ours:  {got_logs[0]}")
        if got_logs[1] != want_errors:
            diffs.append(f"error log\n  nginx: {want_errors}\n  ours:  {got_logs[1]}")
    return diffs
