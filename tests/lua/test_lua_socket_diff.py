"""Cosockets (ngx.socket.tcp / connect / udp) against real OpenResty.

Both sides talk to the same peers: small threaded TCP and UDP servers started by this
module (the engine does not listen on sockets in a Pair, so a second ``server`` block
would only exist on the real side). Each peer port has one behaviour: echo, a fixed text
then end of input, silence, a slow sender, an immediate close, a sender that stays open
with unread data. Replies are compared whole (status, headers, body) and so are the
error-log lines, with ngx_lua's ``u:%p, c:%p`` pointers reduced to zero or not."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from tests.differential import Pair
from tests.lua.cases import log_entries, request_for
from tests.oracle import requires_nginx

SHOW = ('local function show(...) local n = select("#", ...) local t = {n} for i = 1, n do '
        'local v = select(i, ...) t[#t + 1] = type(v) == "string" and ("%q"):format(v) '
        'or type(v) == "function" and "function" or tostring(v) end '
        'ngx.say(table.concat(t, " ")) end ')


def tcp(code: str) -> str:
    return "content_by_lua_block {\n" + SHOW + code + "\n}"


CASES = [
 ("echo round trip", tcp('local s = ngx.socket.tcp() show(s:connect("127.0.0.1", P_ECHO)) '
                         'show(s:send("abc\\n")) show(s:receive()) show(s:close()) show(s:close())')),
 ("refused", tcp('local s = ngx.socket.tcp() show(s:connect("127.0.0.1", P_CLOSED)) '
                 'show(s:send("x"))')),
 ("no resolver", tcp('local s = ngx.socket.tcp() show(s:connect("localhost", P_ECHO))')),
 ("never connected", tcp('local s = ngx.socket.tcp() show(s:send("x")) show(s:receive()) '
                         'show(s:close()) show(s:setkeepalive()) show(s:getreusedtimes()) '
                         'local r = s:receiveuntil("x") show(r()) '
                         'show(pcall(s.getoption, s, "keepalive"))')),
 ("patterns", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_FIXED) show(s:receive()) '
                  'show(s:receive("*l")) show(s:receive(3)) show(s:receive(100)) '
                  'show(s:receive()) show(s:receive("*a")) show(s:send("x")) show(s:close()) '
                  'show(s:send("x")) show(s:close())')),
 ("read all twice", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_FIXED) '
                        'show(s:receive("*a")) show(s:receive("*a")) show(s:receive()) '
                        'show(s:receive())')),
 ("timeouts keep the socket", tcp('local s = ngx.socket.tcp() s:settimeout(100) '
                                  's:connect("127.0.0.1", P_SLOW) show(s:receive()) '
                                  'show(s:receive(2)) show(s:setkeepalive())')),
 ("timeout with a count", tcp('local s = ngx.socket.tcp() s:settimeouts(1000, 1000, 60) '
                              's:connect("127.0.0.1", P_SLOW) show(s:receive(5)) '
                              'show(s:receive("*a"))')),
 ("default read timeout", tcp('local s = ngx.socket.tcp() s:settimeout(0) '
                              's:connect("127.0.0.1", P_SLOW) show(s:receive())'),
  "lua_socket_read_timeout 80ms;"),
 ("negative timeout", tcp('local s = ngx.socket.tcp() s:settimeout(-5)')),
 ("timeout arguments", tcp('local s = ngx.socket.tcp() show(pcall(s.settimeout, s)) '
                           'show(pcall(s.settimeout, s, "x")) show(pcall(s.settimeouts, s, 1)) '
                           'show(pcall(s.settimeout, s, 1, 2))')),
 ("receiveuntil", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_FIXED) '
                      'local r = s:receiveuntil("--") show(r()) show(r()) show(r()) show(r()) '
                      'show(s:receive())')),
 ("receiveuntil inclusive sized", tcp(
     'local s = ngx.socket.tcp() s:connect("127.0.0.1", P_FIXED) '
     'local r = s:receiveuntil("--", {inclusive = true}) show(r()) show(r(2)) show(r(2)) '
     'show(r(2)) show(r(2)) show(r())')),
 ("receiveuntil sized lines", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_FIXED) '
                                  'local r = s:receiveuntil("\\n") show(r(3)) show(r(3)) '
                                  'show(r(3)) show(r(3)) show(r(3))')),
 ("receiveuntil overlaps", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                               'local r = s:receiveuntil("ab") s:send("xxaab") show(r()) '
                               'local r2 = s:receiveuntil("aba") s:send("xabababa") show(r2()) '
                               'show(r2(1))')),
 ("receiveuntil bad input", tcp('local s = ngx.socket.tcp() show(s:receiveuntil("")) '
                                'show(pcall(s.receiveuntil, s)) '
                                'show(pcall(s.receiveuntil, s, "a", {inclusive = 1}))')),
 ("receiveany", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_FIXED) '
                    'show(s:receiveany(4)) show(s:receiveany(100)) show(s:receiveany(100)) '
                    'show(s:receiveany(100))')),
 ("line endings", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                      's:send("abc\\r\\n") show(s:receive("*l")) s:send("\\r\\r\\nq\\n") '
                      'show(s:receive()) show(s:receive()) show(s:receive(0))')),
 ("send values", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                     'show(s:send({"a", {"b", 1}, 2.5})) show(s:send(nil)) show(s:send(true)) '
                     'show(s:receive(13)) show(pcall(s.send, s, {nil, "a"})) '
                     'show(pcall(s.send, s, function() end)) show(pcall(s.send, s, {a = 1})) '
                     'show(pcall(s.send, s))')),
 ("send a boolean in a table", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                                   's:send({"a", true})')),
 ("bad patterns", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                      'show(pcall(s.receive, s, "*x")) show(pcall(s.receive, s, "abc")) '
                      'show(pcall(s.receive, s, -1)) show(pcall(s.receive, s, {})) '
                      'show(pcall(s.receive, s, "*L")) show(pcall(s.receiveany, s, 0)) '
                      'show(pcall(s.receiveany, s)) show(pcall(s.receiveany, s, "x"))')),
 ("too many receive arguments", tcp('local s = ngx.socket.tcp() '
                                    's:connect("127.0.0.1", P_ECHO) s:receive("*l", 5)')),
 ("peer closes at once", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_CLOSER) '
                             'ngx.sleep(0.05) show(s:receive()) show(s:receive()) '
                             'show(s:send("x")) ngx.sleep(0.05) show(s:send("x")) '
                             'show(s:send("y")) show(s:close())')),
 ("keepalive pool", tcp('local s = ngx.socket.tcp() show(s:connect("127.0.0.1", P_ECHO)) '
                        'show(s:getreusedtimes()) show(s:setkeepalive()) '
                        'show(s:getreusedtimes()) show(s:send("x")) '
                        'local s2 = ngx.socket.tcp() show(s2:connect("127.0.0.1", P_ECHO)) '
                        'show(s2:getreusedtimes()) show(s2:setkeepalive(0, 10)) '
                        'local s3 = ngx.socket.tcp() show(s3:connect("127.0.0.1", P_ECHO)) '
                        'show(s3:getreusedtimes()) show(s3:send("ok\\n")) show(s3:receive()) '
                        's3:close()')),
 ("named pools", tcp('local s = ngx.socket.tcp() show(s:connect("127.0.0.1", P_ECHO, '
                     '{pool = "p1"})) show(s:setkeepalive()) local s2 = ngx.socket.tcp() '
                     'show(s2:connect("127.0.0.1", P_ECHO)) show(s2:getreusedtimes()) '
                     'local s3 = ngx.socket.tcp() show(s3:connect("127.0.0.1", P_ECHO, '
                     '{pool = "p1"})) show(s3:getreusedtimes()) s2:close() s3:close()')),
 ("keepalive timeout", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO, '
                           '{pool = "short"}) show(s:setkeepalive(30)) ngx.sleep(0.1) '
                           'local s2 = ngx.socket.tcp() s2:connect("127.0.0.1", P_ECHO, '
                           '{pool = "short"}) show(s2:getreusedtimes()) s2:close()')),
 ("keepalive refused", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_HOLD) '
                           'show(s:receive()) show(s:setkeepalive()) '
                           'local s2 = ngx.socket.tcp() s2:connect("127.0.0.1", P_SLOW) '
                           'ngx.sleep(0.05) show(s2:setkeepalive())')),
 ("keepalive arguments", tcp('local function fresh() local s = ngx.socket.tcp() '
                             's:connect("127.0.0.1", P_ECHO) return s end '
                             'show(pcall(fresh().setkeepalive, fresh(), 10, -1)) '
                             'show(pcall(fresh().setkeepalive, fresh(), 1, 2, 3))')),
 ("connect timeout", tcp('local s = ngx.socket.tcp() s:settimeouts(100, 1000, 1000) '
                         'show(s:connect("127.0.0.1", P_FULL)) show(s:send("x"))')),
 ("ngx.socket.connect", tcp('local s, err = ngx.socket.connect("127.0.0.1", P_ECHO) '
                            'show(type(s), err) show(ngx.socket.connect("127.0.0.1", P_CLOSED)) '
                            'show(s:send("q")) show(s:receive(1))')),
 ("connect arguments", tcp(
     'show(pcall(ngx.socket.tcp, 1)) local s = ngx.socket.tcp() show(pcall(s.connect, s)) '
     'show(pcall(s.connect, s, "127.0.0.1")) show(pcall(s.connect, s, "127.0.0.1", "x")) '
     'show(pcall(s.connect, s, "127.0.0.1", 70000)) show(pcall(s.connect, s, "127.0.0.1", -1)) '
     'show(pcall(s.connect, s, 1234, 80)) '
     'show(pcall(s.connect, s, "127.0.0.1", P_ECHO, {pool_size = "x"})) '
     'show(pcall(s.connect, s, "127.0.0.1", P_ECHO, {backlog = -1})) '
     'show(pcall(s.connect, s, "127.0.0.1", P_ECHO, {pool = {}})) '
     'show(pcall(s.connect, s, "127.0.0.1", P_ECHO, {}, 1))')),
 ("pool_size zero", tcp('local s = ngx.socket.tcp() '
                        's:connect("127.0.0.1", P_ECHO, {pool_size = 0})')),
 ("addresses", tcp('local s = ngx.socket.tcp() show(s:connect("unix:/nonexistent.sock")) '
                   'show(s:connect("unix:")) show(s:connect("127.0.0.1:80")) '
                   'show(s:connect("", 80)) show(s:connect("127.0.0.1", P_ECHO)) '
                   'show(s:connect("127.0.0.1", P_FIXED)) show(s:receive())')),
 ("options", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                 'show(s:setoption("keepalive", true)) show(s:getoption("keepalive")) '
                 'show(s:setoption("bogus", 1)) show(s:setoption("keepalive")) '
                 'show(s:setoption("tcp-nodelay", 1)) show(s:getoption("tcp-nodelay")) '
                 's:close() show(s:setoption("keepalive", 1))')),
 ("error with a socket open", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                                  's:send("x") error("boom")')),
 ("across phases", 'rewrite_by_lua_block { local s = ngx.socket.tcp() ngx.ctx.s = s '
  'ngx.ctx.r = tostring(s:connect("127.0.0.1", P_ECHO)) } access_by_lua_block { '
  'local s = ngx.ctx.s s:send("ac") ngx.ctx.a = s:receive(2) } content_by_lua_block { '
  'local s = ngx.ctx.s s:send("co") ngx.say(ngx.ctx.r, ngx.ctx.a, s:receive(2)) }'),
 ("refused in other phases", 'header_filter_by_lua_block { local ok, err = pcall(ngx.socket.tcp) '
  'ngx.log(ngx.ERR, "hf: ", err) local ok, err = pcall(ngx.socket.udp) ngx.log(ngx.ERR, "hfu: ", err) } '
  'log_by_lua_block { local ok, err = pcall(ngx.socket.tcp) ngx.log(ngx.ERR, "log: ", err) '
  'local ok, err = pcall(ngx.socket.connect, "127.0.0.1", 1) ngx.log(ngx.ERR, "log2: ", err) } '
  'set_by_lua_block $x { local ok, err = pcall(ngx.socket.tcp) return tostring(err) } '
  'return 200 "$x\\n";'),
 ("keep for later", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                        'package.loaded.kept_socket = s ngx.say("kept")')),
 ("used by a later request", tcp('local s = package.loaded.kept_socket '
                                 'show(pcall(s.send, s, "x")) show(pcall(s.receive, s)) '
                                 'show(pcall(s.close, s)) show(s:connect("127.0.0.1", P_ECHO)) '
                                 'show(s:close())')),
 ("a timer uses the request's socket", tcp(
     'local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) ngx.timer.at(0, function() '
     'local ok, a = pcall(s.send, s, "x") ngx.log(ngx.ERR, "timer: ", ok, " ", a) '
     'local ok, a = pcall(s.close, s) ngx.log(ngx.ERR, "timer close: ", ok, " ", a) '
     'local s2 = ngx.socket.tcp() ngx.log(ngx.ERR, "timer connect: ", s2:connect("127.0.0.1", '
     'P_ECHO)) s2:send("t") ngx.log(ngx.ERR, "timer got: ", s2:receive(1)) end) '
     'ngx.sleep(0.05) show(s:send("y"))')),
 ("light thread", tcp('local s = ngx.socket.tcp() s:connect("127.0.0.1", P_ECHO) '
                      'local t = ngx.thread.spawn(function() s:send("th") return s:receive(2) end) '
                      'show(ngx.thread.wait(t))')),
 ("log errors off", tcp('local s = ngx.socket.tcp() s:settimeout(50) '
                        'show(s:connect("127.0.0.1", P_CLOSED)) show(s:send("x")) '
                        's:connect("127.0.0.1", P_SLOW) show(s:receive())'),
  "lua_socket_log_errors off;"),
 ("udp", tcp('local u = ngx.socket.udp() show(u:setpeername("127.0.0.1", P_UDP)) '
             'show(u:send("ping")) u:settimeout(500) show(u:receive()) show(u:send({"a", 1})) '
             'show(u:receive(2)) show(u:close()) show(u:close()) show(u:send("x")) '
             'show(u:receive())')),
 ("udp bad input", tcp('local u = ngx.socket.udp() show(u:send("x")) show(u:receive()) '
                       'show(u:close()) show(pcall(u.setpeername, u)) '
                       'show(u:setpeername("127.0.0.1", 70000)) '
                       'show(u:setpeername("localhost", 53)) u:settimeout(50) '
                       'show(u:setpeername("127.0.0.1", P_UQUIET)) show(u:send("x")) '
                       'show(u:receive()) show(pcall(u.receive, u, "x")) show(pcall(u.send, u, nil)) '
                       'show(pcall(u.send, u, function() end)) show(pcall(u.settimeout, u, -1)) '
                       'show(u:setpeername("unix:/nonexistent.sock"))')),
 ("udp refused", tcp('local u = ngx.socket.udp() show(u:setpeername("127.0.0.1", P_UCLOSED)) '
                     'show(u:send("x")) ngx.sleep(0.02) show(u:receive()) show(u:send("x"))')),
]


class Peers:
    """The peers both sides connect to, one behaviour per port (threads: the real nginx
    talks to them while the engine's loop is idle)."""

    TCP = ("echo", "fixed", "silent", "slow", "closer", "hold")

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self.socks: list[socket.socket] = []
        for kind in self.TCP:
            s = self._bind(socket.SOCK_STREAM)
            s.listen(64)
            threading.Thread(target=self._accept, args=(kind, s), daemon=True).start()
            self.ports[kind] = s.getsockname()[1]
        for kind in ("udp", "uquiet"):
            u = self._bind(socket.SOCK_DGRAM)
            threading.Thread(target=self._datagrams, args=(kind, u), daemon=True).start()
            self.ports[kind] = u.getsockname()[1]
        # a listener whose queue is full: a connect gets no answer (a connect timeout)
        full = self._bind(socket.SOCK_STREAM)
        full.listen(0)
        self.ports["full"] = full.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.ports["full"]))
            self.socks.append(filler)
        for kind, typ in (("closed", socket.SOCK_STREAM), ("uclosed", socket.SOCK_DGRAM)):
            s = socket.socket(socket.AF_INET, typ)  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            self.ports[kind] = s.getsockname()[1]
            s.close()

    def _bind(self, typ: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, typ)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        self.socks.append(s)
        return s

    def _accept(self, kind: str, s: socket.socket) -> None:
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(kind, c), daemon=True).start()

    @staticmethod
    def _serve(kind: str, c: socket.socket) -> None:
        try:
            if kind == "echo":
                while data := c.recv(65536):
                    c.sendall(data)
            elif kind == "fixed":
                c.sendall(b"hello\r\nworld\nabc--xyz--tail")
                c.shutdown(socket.SHUT_WR)
                time.sleep(0.5)
            elif kind == "slow":
                c.sendall(b"par")
                time.sleep(1)
            elif kind == "hold":
                c.sendall(b"line1\nextra")
                time.sleep(1)
            elif kind == "silent":
                time.sleep(1)
        except OSError:
            pass
        finally:
            c.close()

    @staticmethod
    def _datagrams(kind: str, u: socket.socket) -> None:
        while True:
            try:
                data, addr = u.recvfrom(65536)
            except OSError:
                return
            if kind == "udp":
                u.sendto(b"re:" + data, addr)

    def close(self) -> None:
        for s in self.socks:
            s.close()


def _conf(peers: Peers) -> str:
    locations = []
    for i, (_, body, *extra) in enumerate(CASES):
        locations.append(f"        location /c{i} {{\n{extra[0] if extra else ''}\n{body}\n"
                         "        }")
    conf = ("events {}\nhttp {\n    error_log logs/error.log info;\n    server {\n"
            "        listen 127.0.0.1:{port};\n        server_name localhost;\n"
            + "\n".join(locations) + "\n    }\n}\n")
    for kind, port in peers.ports.items():
        conf = re.sub(rf"\bP_{kind.upper()}\b", str(port), conf)
    return conf


@pytest.fixture(scope="module")
def peers():  # type: ignore[no-untyped-def]
    p = Peers()
    yield p
    p.close()


@pytest.fixture(scope="module")
def pair(peers):  # type: ignore[no-untyped-def]
    with Pair(_conf(peers)) as p:
        yield p


_POINTER = re.compile(r"\b(u|c):([0-9A-F]{16})\b")


def _lines(text: str, port: int) -> list[tuple[str, str]]:
    """(level, message) per entry; pointers as 0 or P; hang-ups left out."""
    out = []
    for level, _, msg in log_entries(text, port):
        if "closed connection" in msg:
            continue
        msg = _POINTER.sub(lambda m: f"{m.group(1)}:{'0' if set(m.group(2)) == {'0'} else 'P'}",
                           msg)
        out.append((level, re.sub(r"function: 0x[0-9a-f]+", "function", msg)))
    return out


@requires_nginx
def test_cosockets_as_openresty(pair, peers):  # type: ignore[no-untyped-def]
    seen = {"real": 0, "ours": 0}
    differ = []
    for i, case in enumerate(CASES):
        real, ours = pair.both(request_for(i, (case[0], case[1])))
        time.sleep(0.03)  # the real side's timer lines
        texts = {"real": pair.real.error_log(), "ours": pair.engine_errors()}
        logs = {}
        for side, text in texts.items():
            logs[side] = _lines(text[seen[side]:], pair.port)
            seen[side] = len(text)
        if real.comparable() != ours.comparable() or logs["real"] != logs["ours"]:
            differ.append(f"{case[0]}:\n real {real.status} {real.body!r}\n ours {ours.status} "
                          f"{ours.body!r}\n real log {logs['real']}\n ours log {logs['ours']}")
    assert not differ, "\n\n".join(differ)


@requires_nginx
def test_bad_directive_values(tmp_path):  # type: ignore[no-untyped-def]
    from engine import Engine
    from engine.conf.errors import ConfigError
    from tests.oracle import nginx_test, write_prefix
    for directive in ("lua_socket_read_timeout abc;", "lua_socket_buffer_size 1x;",
                      "lua_socket_pool_size x;"):
        prefix = tmp_path / directive.split()[0]
        conf = write_prefix(prefix, "events {}\nhttp {\n    " + directive + "\n}\n")
        real = nginx_test(prefix)
        assert real.returncode != 0
        with pytest.raises(ConfigError) as err:
            Engine.load(str(conf), prefix=str(prefix) + "/")
        message = str(err.value).split(" in /")[0].replace("[emerg] ", "")
        assert f"[emerg] {message}" in re.sub(r"\] \d+#\d+: ", "] ", real.output), \
            (directive, message, real.output)


LEFT_OPEN = ("events {}\nhttp {\n server {\n  listen 127.0.0.1:{port};\n"
             "  location /left { content_by_lua_block { local s = ngx.socket.tcp() "
             "s:connect('127.0.0.1', P_LEFT) ngx.say('left open') } }\n }\n}\n")


def _closed_after_request(side: str) -> bool:
    """One request whose handler leaves a cosocket open to a listener here: is that
    connection closed (EOF) within a second of the response?"""
    from tests.differential import Req
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        conf = LEFT_OPEN.replace("P_LEFT", str(server.getsockname()[1]))
        replies = []

        def ask() -> None:
            with Pair(conf) as p:
                req = Req("GET", "/left")
                replies.append(p.ask_real(req) if side == "real" else p.ask_engine(req))
                time.sleep(1.2)  # the server stays up while the peer looks for the EOF

        asking = threading.Thread(target=ask)
        asking.start()
        conn, _ = server.accept()
        with conn:
            conn.settimeout(1)
            try:
                closed = conn.recv(16) == b""
            except socket.timeout:
                closed = False
        asking.join(10)
    assert replies and replies[0].body == b"left open\n"
    return closed


@requires_nginx
def test_a_request_closes_the_sockets_it_leaves_open():  # type: ignore[no-untyped-def]
    """ngx_lua's cleanup handler: the end of the request closes its cosockets."""
    assert _closed_after_request("real") and _closed_after_request("ours")
