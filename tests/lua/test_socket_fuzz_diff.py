"""Seeded randomized differential test of ngx.socket.tcp (cosockets) against OpenResty.

One real nginx serves ``SERVERS`` generated servers (``server_name gN.sock``), each with
``LOCATIONS`` locations whose ``content_by_lua_block`` runs a random sequence of socket
calls and says every result (its count, each value's type and value) with ``show``.
Both sides talk to one scripted backend started here (an asyncio TCP server on
``{port1}``, in a thread) whose behaviour per connection is chosen by the first line the
client sends (see :class:`Backend`), and connect to ``{port2}`` (bound, not listening:
refused), to a host name (no resolver), to a unix socket that does not exist. The calls
cover connect/send/receive ("*l", "*a", counts, receiveany), receiveuntil (inclusive,
sized, empty pattern), settimeout(s), setkeepalive with reuse, getreusedtimes, close,
calls on a closed socket and bad arguments (under pcall, as functions and as methods).
Read timeouts are tens of ms (``lua_socket_read_timeout``, ``settimeout``), so a silent
peer costs little; after each send the script sleeps 10 ms so that what the peer
answered is there before the next call (no race between setkeepalive and the reply).
Replies and the error-log lines (info; ngx_lua's ``u:%p, c:%p`` pointers reduced to
zero or not) must match. A divergence prints the seed and the server block; set
SOCKET_FUZZ_SEED to explore others. ``KEPT`` holds the cases found so far.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import threading
from typing import Any, Iterator

import pytest

from tests.differential import Pair, Reply, Req
from tests.fuzzing import assert_case_count, assert_group_as_nginx, generated, http_conf
from tests.oracle import requires_nginx

SEED = int(os.environ.get("SOCKET_FUZZ_SEED", "20261128"))
SERVERS = 6
LOCATIONS = 8

SHOW = ('function show(tag, ...) local n = select("#", ...) local t = {tag, n} '
        'for i = 1, n do local v = select(i, ...) local ty = type(v) '
        't[#t + 1] = ty == "string" and (#v > 80 and ("#" .. #v .. ":" .. ("%q"):format('
        'v:sub(1, 30) .. ".." .. v:sub(-30))) or ("%q"):format(v)) '
        'or (ty == "number" or ty == "boolean" or ty == "nil") and tostring(v) or ty end '
        'ngx.say(table.concat(t, " ")) end ')

#: The first line a client sends picks the backend's behaviour for its connection.
MODES = ["ECHO", "LINES 3", "LINES 0", "CLOSE_AFTER 12", "CLOSE_AFTER 0",
         "SILENT", "BIG 3000", "BIG 9000", "NONSENSE"]

CONNECT = [
    'show(K, s:connect("127.0.0.1", {port1}))',
    'show(K, s:connect("127.0.0.1", {port1}, {pool = "POOL"}))',
    'show(K, s:connect("127.0.0.1", {port2}))',
    'show(K, s:connect("no.such.host", {port1}))',
    'show(K, s:connect("unix:/nonexistent/sock"))',
    'show(K, s:connect("127.0.0.1", 70000))',
    'show(K, pcall(s.connect, s, "127.0.0.1", "x"))',
    'show(K, pcall(s.connect, s))',
    'show(K, pcall(function() return s:connect({}, 1) end))',
    'show(K, pcall(s.connect, s, "127.0.0.1", {port1}, {pool_size = 0}))',
]
SEND = [
    'show(K, s:send("abc\\n")) ngx.sleep(0.01)',
    'show(K, s:send({"x--", {"y", 1}, "\\r\\n"})) ngx.sleep(0.01)',
    'show(K, s:send(42)) ngx.sleep(0.01)',
    'show(K, s:send("")) ngx.sleep(0.01)',
    'show(K, pcall(s.send, s, function() end))',
    'show(K, pcall(s.send, s, {true}))',
    'show(K, pcall(s.send, s))',
    'show(K, pcall(function() return s:send({a = 1}) end))',
]
RECEIVE = [
    "show(K, s:receive())", 'show(K, s:receive("*l"))', 'show(K, s:receive("*a"))',
    "show(K, s:receive(0))", "show(K, s:receive(1))", "show(K, s:receive(5))",
    "show(K, s:receive(100))", 'show(K, s:receive("7"))', "show(K, s:receive(2.7))",
    'show(K, pcall(s.receive, s, "*x"))', "show(K, pcall(s.receive, s, -1))",
    'show(K, pcall(function() return s:receive("abc") end))',
    "show(K, pcall(s.receive, s, {}))", 'show(K, pcall(s.receive, s, "*l", 1))',
    "show(K, s:receiveany(3))", "show(K, s:receiveany(5000))",
    "show(K, pcall(s.receiveany, s, 0))",
]
UNTIL = [
    'local it = s:receiveuntil("--") show(K, it()) show(K, it())',
    'local it = s:receiveuntil("--", {inclusive = true}) show(K, it()) show(K, it(2))',
    'local it = s:receiveuntil("\\r\\n") show(K, it(3)) show(K, it(3)) show(K, it(3))',
    'local it = s:receiveuntil("\\n", {inclusive = true}) show(K, it())',
    'local it = s:receiveuntil("line") show(K, it()) show(K, it())',
    'show(K, s:receiveuntil(""))',
    'show(K, pcall(s.receiveuntil, s, "x", {inclusive = 1}))',
    'show(K, pcall(s.receiveuntil, s))',
    'local it = s:receiveuntil("-") show(K, pcall(it, -1))',
]
TIMEOUT = [
    "s:settimeout(20)", "s:settimeouts(100, 100, 20)", "s:settimeout(0)",
    "show(K, pcall(s.settimeout, s, -1))", 'show(K, pcall(s.settimeout, s, "x"))',
    "show(K, pcall(s.settimeouts, s, 1, 2))",
]
KEEP = [
    "show(K, s:setkeepalive())", "show(K, s:setkeepalive(0, 3))",
    "show(K, s:setkeepalive(60000))", "show(K, s:getreusedtimes())",
    'show(K, pcall(s.setkeepalive, s, "x"))', "show(K, pcall(s.setkeepalive, s, 0, -1))",
    "show(K, pcall(s.getreusedtimes, s, 1))",
]
OTHER = ["show(K, s:close())", "show(K, s:close())", "s = ngx.socket.tcp()"]
KINDS = [(CONNECT, 2), (SEND, 2), (RECEIVE, 5), (UNTIL, 2), (TIMEOUT, 1), (KEEP, 2),
         (OTHER, 1)]


def _mode(rng: random.Random) -> str:
    return f'show(K, s:send("{rng.choice(MODES)}\\n")) ngx.sleep(0.01)'


def _script(rng: random.Random, pool: str) -> str:
    """A location's Lua: a socket, maybe connected to the backend in some mode, then a
    random sequence of calls (a connect to the backend is followed by a mode line)."""
    stmts = ["local s = ngx.socket.tcp()"]
    if rng.random() < 0.85:
        stmts += [CONNECT[rng.choice([0, 0, 1])], _mode(rng)]
    pools, weights = zip(*KINDS)
    for _ in range(rng.randint(3, 9)):
        stmt = rng.choice(rng.choices(pools, weights)[0])
        stmts.append(stmt)
        if stmt in CONNECT[:2] and rng.random() < 0.8:
            stmts.append(_mode(rng))
    out = []
    for k, stmt in enumerate(stmts):
        out.append(stmt.replace("POOL", pool).replace("show(K,", f'show("{k}",'))
    return " ".join(out)


def gen_server(rng: random.Random, n: int) -> tuple[str, list[Req]]:
    """A server ``gN.sock`` whose locations each run one generated script."""
    lines = [f"server {{\n    listen 127.0.0.1:{{port}};\n    server_name g{n}.sock;"]
    for i in range(LOCATIONS):
        pool = rng.choice(["p", f"g{n}l{i}"])
        lines.append(f"    location /l{i} {{ content_by_lua_block {{ "
                     f"{_script(rng, pool)} }} }}")
    lines.append("}\n")
    reqs = [Req("GET", f"/l{i}", [("Host", f"g{n}.sock")]) for i in range(LOCATIONS)]
    return "\n".join(lines), reqs


#: Cases found by the generator, kept whatever the seed (one location each): a
#: "connection in dubious state" closes the socket; a closed socket answers "closed"
#: before its arguments are checked; a bad port keeps the connection, a failed name
#: lookup drops it (ft:8 and eof:0 in later lines); setkeepalive's order (unread data
#: before arguments, the pool size only for a new pool and before the timeout, a bad
#: timeout loses the connection, a pool is made only when a connection goes in); a
#: negative receiveuntil size is no limit; receiveany gets one 4k read at most.
KEPT_LOCATIONS: list[str] = [
    's:connect("127.0.0.1", {port1}, {pool = "k0"}) s:send("ECHO\\n") ngx.sleep(0.01) '
    'show(1, s:setkeepalive()) show(2, s:send("x")) show(3, pcall(s.setkeepalive, s, 0, -1))',
    'show(1, pcall(s.receive, s, "*x")) s:connect("127.0.0.1", {port1}) s:close() '
    'show(2, pcall(s.receive, s, "*x")) show(3, pcall(s.send, s, {true})) '
    'local it = s:receiveuntil("-") show(4, pcall(it, -1)) show(5, pcall(s.receiveany, s, 0))',
    's:connect("127.0.0.1", {port1}) s:send("LINES 2\\n") ngx.sleep(0.01) '
    'show(1, pcall(s.connect, s, "127.0.0.1", "x")) show(2, s:receive()) '
    'show(3, s:connect("127.0.0.1", 70000)) show(4, s:receive()) '
    'show(5, s:connect("no.such.host", 1)) show(6, s:receive()) show(7, s:send("x"))',
    's:connect("127.0.0.1", {port1}, {pool = "k3"}) s:send("LINES 2\\n") ngx.sleep(0.01) '
    's:receive() show(1, pcall(s.setkeepalive, s, 0, -1)) show(2, pcall(s.setkeepalive, s, "x")) '
    'show(3, s:receive()) show(4, s:receive()) show(5, pcall(s.setkeepalive, s, "x", -1)) '
    'show(6, pcall(s.setkeepalive, s, 1, 0)) show(7, pcall(s.setkeepalive, s, "x")) '
    'show(8, s:send("x"))',
    's:connect("127.0.0.1", {port1}) s:send("CLOSE_AFTER 3\\n") ngx.sleep(0.01) '
    'show(1, pcall(s.setkeepalive, s, 0, -1)) show(2, s:receive()) show(3, s:setkeepalive())',
    's:connect("127.0.0.1", {port1}) s:send("ECHO\\n") ngx.sleep(0.01) '
    'local it = s:receiveuntil("--") show(1, pcall(it, -1))',
    's:connect("127.0.0.1", {port1}) s:send("BIG 9000\\n") ngx.sleep(0.01) '
    'show(1, s:receive(100)) show(2, s:receiveany(5000))',
    's:connect("127.0.0.1", {port1}) s:send("CLOSE_AFTER 0\\n") ngx.sleep(0.01) '
    's:receive("*a") s:connect("no.such.host", 1) show(1, s:send("x")) show(2, s:receive())',
]


def _kept() -> tuple[str, str, list[Req]]:
    lines = ["server {\n    listen 127.0.0.1:{port};\n    server_name kept.sock;"]
    for i, body in enumerate(KEPT_LOCATIONS):
        lines.append(f"    location /k{i} {{ content_by_lua_block {{ "
                     f"local s = ngx.socket.tcp() {body} }} }}")
    lines.append("}\n")
    return ("kept", "\n".join(lines),
            [Req("GET", f"/k{i}", [("Host", "kept.sock")]) for i in range(len(KEPT_LOCATIONS))])


HEAD = ("    access_log off;\n    init_by_lua_block { " + SHOW + "}\n    lua_socket_read_timeout 30ms;\n"
        "    lua_socket_connect_timeout 500ms;\n    lua_socket_send_timeout 500ms;\n")


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block text, requests)."""
    groups = generated(SEED, SERVERS, gen_server)
    if KEPT_LOCATIONS:
        groups.append(_kept())
    return http_conf(groups, HEAD), groups


CONF, GROUPS = build()


class Backend:
    """The scripted peer: per connection, the first line picks what it does.

    ``ECHO``: "+ECHO\\n", then everything it gets back. ``LINES n``: n lines (CRLF and
    LF in turn), then silence. ``CLOSE_AFTER n``: n bytes of a text with "--" and line
    ends, then it closes. ``SLOW ms``: "par" now, the rest of a line after ms, then
    closes. ``SILENT``: nothing. ``BIG n``: n bytes, then closes. Anything else: "-ERR"
    and the line, then it closes. Every answer goes out in one write, with the close
    right behind it."""

    TEXT = b"abc--def\r\nghi--jkl\nmno\r\npqr--stu\n"

    def __init__(self, port: int, refused: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = port
        # bound but not listening: a connect is refused, and no one else takes the port
        self.closed = socket.socket()
        self.closed.bind(("127.0.0.1", refused))
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port))
        ready.set()
        self.loop.run_forever()

    @classmethod
    def answer(cls, line: bytes) -> tuple[bytes, bool, str]:
        """(what to send at once, whether to close after it, what to do next)."""
        word, _, arg = line.strip().partition(b" ")
        n = int(arg) if arg.isdigit() else 0
        if word == b"ECHO":
            return b"+ECHO\n", False, "echo"
        if word == b"LINES":
            return b"+LINES\n" + b"".join(b"line %d%s" % (i, b"\r\n" if i % 2 else b"\n")
                                          for i in range(n)), False, "drain"
        if word == b"CLOSE_AFTER":
            return b"+CLOSE\n" + (cls.TEXT * (n // len(cls.TEXT) + 1))[:n], True, ""
        if word == b"SLOW":
            return b"+SLOW\npar", False, f"slow {n}"
        if word == b"SILENT":
            return b"", False, "drain"
        if word == b"BIG":
            return b"+BIG\n" + (b"0123456789abcdef--\n" * (n // 19 + 1))[:n], True, ""
        return b"-ERR " + line, True, ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readline()
            data, close, then = self.answer(first)
            if data:
                writer.write(data)
            if close or not first:
                writer.close()
                return
            if then == "echo":
                while chunk := await reader.read(65536):
                    writer.write(chunk)
            elif then.startswith("slow"):
                await asyncio.sleep(int(then.split()[1]) / 1000)
                writer.write(b"tial\n")
            else:
                while await reader.read(65536):
                    pass
            writer.close()
        except (OSError, asyncio.CancelledError):
            writer.close()

    def stop(self) -> None:
        def halt() -> None:
            self.server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.stop()
        self.loop.call_soon_threadsafe(halt)
        self.thread.join(5)
        self.closed.close()


@pytest.fixture(scope="module")
def fuzz_pair() -> Iterator[Pair]:
    """Both sides, and the backend on the config's {port1} ({port2} refuses)."""
    with Pair(CONF, extra_ports=2) as pair:
        backend = Backend(pair.ports[1], pair.ports[2])
        try:
            yield pair
        finally:
            backend.stop()


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 30, 200)


_POINTER = re.compile(r"\b(u|c):([0-9A-F]{16})\b")


def _logs(entries: list[Any]) -> list[Any]:
    """ngx_lua's pointers as 0 (NULL) or P."""
    return [(level, _POINTER.sub(lambda m: f"{m.group(1)}:"
                                 f"{'0' if set(m.group(2)) == {'0'} else 'P'}", msg))
            for level, msg in entries]


def _shown(reply: Reply) -> str:
    return f"{reply.status}\n{reply.body.decode('utf-8', 'replace')}"


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs, shown=_shown,
                          describe=lambda req: f"{req.headers[0][1]}{req.target}", logs=_logs)
