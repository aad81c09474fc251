"""ngx.socket.tcp: ngx_lua's TCP cosockets, with the I/O on the asyncio loop.

The Lua objects (``socket_tcp.lua``) hold a number; the connection behind it is a
:class:`TcpConn` here, in the worker's :class:`Sockets`. Calls that wait (connect, send,
receive, the receiveuntil iterator) yield a ``socket`` operation that :func:`carry_out`
runs with non-blocking sockets and ``loop.sock_*`` (never blocking the loop); the rest
(close, setkeepalive, getreusedtimes, options) are plain calls. As in ngx_lua, results
and error-log lines depend on the connection's state: the peer's end of input closes
reading only (``read_closed``), a failed send closes writing only, a read timeout closes
nothing. A request's sockets are closed when it ends unless they went to the worker's
keepalive pool (keyed by ``host:port`` or the ``pool`` option); an idle pooled
connection is dropped when its timeout passes or the peer sends or closes.
Not modelled: TLS (``sslhandshake`` answers nil, "not modelled"), ``ngx.req.socket``,
the nginx resolver (with a ``resolver`` directive, names go to the system resolver).
"""

from __future__ import annotations

import asyncio
import errno as errnos
import itertools
import os
import select
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conf.errors import ConfigError
from ..conf.values import parse_time, size_arg, time_arg

if TYPE_CHECKING:
    from .runtime import LuaWorker

#: Fake addresses for the ``u:%p, c:%p`` of ngx_lua's "closed socket" log lines.
_PTRS = itertools.count(0x7F3A5C0A1010, 0x2F8)
_ZERO = "0" * 16
_TIME_DIRECTIVES = ("lua_socket_connect_timeout", "lua_socket_send_timeout",
                    "lua_socket_read_timeout", "lua_socket_keepalive_timeout")
#: setoption's numbers (resty.core) to socket options.
_OPTIONS = {1: (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            2: (socket.SOL_SOCKET, socket.SO_REUSEADDR),
            3: (socket.IPPROTO_TCP, socket.TCP_NODELAY),
            4: (socket.SOL_SOCKET, socket.SO_SNDBUF), 5: (socket.SOL_SOCKET, socket.SO_RCVBUF)}


@dataclass(frozen=True)
class SocketConf:
    """The lua_socket_* directives in force in a block (times in seconds)."""

    connect: float = 60.0
    send: float = 60.0
    read: float = 60.0
    keepalive: float = 60.0
    pool_size: int = 30
    log_errors: bool = True
    resolver: bool = False


def check_directives(blocks: Any) -> None:
    """``nginx -t``'s errors for bad lua_socket_* values (ngx_conf_set_*_slot's)."""
    for block in blocks:
        for name in _TIME_DIRECTIVES:
            for d in block.own.get(name, []):
                time_arg(d)
        for name in ("lua_socket_buffer_size", "lua_socket_send_lowat"):
            for d in block.own.get(name, []):
                size_arg(d)
        for d in block.own.get("lua_socket_pool_size", []):
            if not d.args[0].isdigit():
                raise ConfigError(f'"{d.name}" directive invalid number', d.file, d.line)


def conf_for(block: Any) -> SocketConf:
    """The block's SocketConf, computed once per block."""
    found = block.mod.get("lua_socket")
    if found is None:
        def secs(name: str, default: float) -> float:
            v = block.value(name)
            t = parse_time(v) if v else None
            return default if t is None else t
        size = block.value("lua_socket_pool_size")
        found = block.mod["lua_socket"] = SocketConf(
            secs("lua_socket_connect_timeout", 60), secs("lua_socket_send_timeout", 60),
            secs("lua_socket_read_timeout", 60), secs("lua_socket_keepalive_timeout", 60),
            int(size) if size and size.isdigit() else 30,
            block.flag("lua_socket_log_errors", True), block.first("resolver") is not None)
    return found


def request_conf(r: Any) -> SocketConf:
    """A request's conf (a timer's: its server's http block's)."""
    block = getattr(r, "loc", None)
    if block is None:
        http = r.engine.cfg.http
        return conf_for(http) if http is not None else SocketConf()
    return conf_for(block)


def log(r: Any, level: str, message: str) -> None:
    """An error-log line, when lua_socket_log_errors lets it through."""
    if request_conf(r).log_errors:
        r.log(level, message)


def strerror(err: int) -> str:
    return os.strerror(err)


def lua_error(err: int) -> bytes:
    """ngx_lua's error string for an errno: strerror in lower case (as LuaSocket)."""
    return os.strerror(err).lower().encode()


def owned(conn: TcpConn, r: Any) -> bool:
    """Whether request ``r`` may use the connection (ngx_lua's "bad request" check)."""
    return conn.owner is None or conn.sock is None or conn.owner is r


class TcpConn:
    """ngx_http_lua_socket_tcp_upstream_t: one Lua socket object's connection state."""

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.ptr = next(_PTRS)
        self.sock: socket.socket | None = None
        self.owner: Any = None      # the request (or timer) that connected it
        self.key = ""               # its keepalive pool
        self.pool_size = 0          # the pool_size option of connect
        self.peer = ""
        self.buf = bytearray()
        self.eof = False
        self.read_closed = False
        self.write_closed = False
        self.reused = 0
        self.cptr = 0
        self.ft = 0                 # ngx_lua's ft_type: why it was last closed

    def attach(self, sock: socket.socket, owner: Any, reused: int) -> None:
        self.sock, self.owner, self.reused = sock, owner, reused
        self.buf = bytearray()
        self.eof = self.read_closed = self.write_closed = False
        self.cptr = next(_PTRS) + 0x55A000000000

    def drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def pointers(self) -> str:
        return f"u:{self.ptr:016X}, c:{self.cptr:016X}" if self.sock is not None \
            else f"u:{self.ptr:016X}, c:{_ZERO}"


@dataclass(eq=False)
class Idle:
    """A connection resting in a keepalive pool."""

    sock: socket.socket
    reused: int
    peer: str
    handle: asyncio.TimerHandle | None = None


class Sockets:
    """One worker's cosockets: the connections by number, and the keepalive pools."""

    def __init__(self, worker: LuaWorker) -> None:
        self.worker = worker
        self.conns: dict[int, TcpConn] = {}
        self.pools: dict[str, list[Idle]] = {}
        self.pool_limits: dict[str, int] = {}
        self._ids = itertools.count(1)
        from .socket_udp import UdpSockets
        self.udp = UdpSockets(worker)

    def _current(self) -> Any:
        cur = self.worker.bridge.current
        return cur.r if cur is not None else None

    # -- plain calls from Lua ------------------------------------------------------------

    def py_tcp_new(self) -> int:
        uid = next(self._ids)
        conn = self.conns[uid] = TcpConn(uid)
        conn.owner = self._current()
        return uid

    def py_tcp_never(self, what: bytes) -> tuple[Any, ...]:
        """send/receive on a socket never connected (ngx_lua's u is NULL)."""
        r = self._current()
        if r is not None:
            log(r, "error", f"attempt to {what.decode()} data on a closed socket: "
                f"u:{_ZERO}, c:{_ZERO}, ft:0 eof:0")
        return (None, b"closed")

    def py_tcp_dead(self, uid: int, what: bytes) -> bool:
        """Whether send/receive find the socket closed: ngx_lua says so before it
        looks at their arguments."""
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None:
            return True
        return conn.write_closed if what == b"send" else conn.read_closed

    def py_tcp_close(self, uid: int) -> tuple[Any, ...]:
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None or (conn.read_closed and conn.write_closed):
            return (None, b"closed")
        r = self._current()
        if not owned(conn, r):
            return (b"raise", b"bad request")
        conn.drop()
        if r is not None:
            r.trace.add("socket", op="close", peer=conn.peer, bytes=0, result="1")
        return (1,)

    def py_tcp_reused(self, uid: int) -> tuple[Any, ...]:
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None:
            return (None, b"closed")
        return (conn.reused,)

    def py_tcp_getoption(self, uid: int, opt: int) -> tuple[Any, ...]:
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None:
            return (None, b"closed")
        level, name = _OPTIONS[int(opt)]
        return (conn.sock.getsockopt(level, name),)

    def py_tcp_setoption(self, uid: int, opt: int, value: float) -> tuple[Any, ...]:
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None:
            return (None, b"closed")
        level, name = _OPTIONS[int(opt)]
        try:
            conn.sock.setsockopt(level, name, int(value))
        except OSError as exc:
            return (None, lua_error(exc.errno or errnos.EINVAL))
        return (True,)

    def py_tcp_setkeepalive(self, uid: int, timeout: Any, size: Any, bad_timeout: Any,
                            bad_size: Any) -> tuple[Any, ...]:
        """ngx_lua's order: closed (the peer's end of input too), unread data (both
        leave the socket as it is), the pool size when this call creates the pool
        (an argument error, the socket kept), then the timeout argument (an error, the
        connection gone), then data waiting from the peer ("connection in dubious
        state", the connection closed)."""
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None or (conn.read_closed and conn.write_closed):
            return (None, b"closed")
        r = self._current()
        sock = conn.sock
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLRDHUP)
        events = poller.poll(0)
        flags = events[0][1] if events else 0
        if conn.eof or flags & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
            return (None, b"closed")
        if conn.buf:
            return (None, b"unread data in buffer")
        conf = request_conf(r) if r is not None else SocketConf()
        limit = self.pool_limits.get(conn.key)
        if limit is None:
            if bad_size is not None:
                return (b"argerr", 3, bad_size)
            limit = int(size) if size is not None else conn.pool_size or conf.pool_size
            if limit <= 0:
                return (b"argerr", 3, f'bad "pool_size" option value: {limit}'.encode())
        if bad_timeout is not None:  # (the pool is not created then)
            conn.drop()
            return (b"argerr", 2, bad_timeout)
        if flags & select.POLLIN:
            conn.drop()
            return (None, b"connection in dubious state")
        self.pool_limits.setdefault(conn.key, limit)
        seconds = conf.keepalive if timeout is None else max(int(timeout), 0) / 1000
        conn.sock = None
        self._put(conn.key, Idle(sock, conn.reused, conn.peer), limit, seconds)
        if r is not None:
            r.trace.add("socket", op="setkeepalive", peer=conn.peer, bytes=0,
                        result=f"pooled in {conn.key!r}")
        return (1,)

    # -- the keepalive pool ----------------------------------------------------------------

    def _put(self, key: str, idle: Idle, limit: int, seconds: float) -> None:
        pool = self.pools.setdefault(key, [])
        if len(pool) >= limit:  # full: the least recently used one goes
            self._evict(key, pool[0])
        pool.append(idle)
        loop = asyncio.get_running_loop()
        loop.add_reader(idle.sock.fileno(), self._evict, key, idle)
        if seconds > 0:
            idle.handle = loop.call_later(seconds, self._evict, key, idle)

    def _unwatch(self, idle: Idle) -> None:
        if idle.handle is not None:
            idle.handle.cancel()
        try:
            asyncio.get_running_loop().remove_reader(idle.sock.fileno())
        except (RuntimeError, ValueError):
            pass

    def _evict(self, key: str, idle: Idle) -> None:
        """A pooled connection times out, or its peer spoke or hung up: close it."""
        pool = self.pools.get(key, [])
        if idle in pool:
            pool.remove(idle)
        if not pool:  # ngx_lua frees an empty pool: the next one takes a new size
            self.pool_limits.pop(key, None)
        self._unwatch(idle)
        idle.sock.close()

    def take(self, key: str) -> Idle | None:
        pool = self.pools.get(key)
        if not pool:
            return None
        idle = pool.pop()
        if not pool:
            self.pool_limits.pop(key, None)
        self._unwatch(idle)
        return idle

    # -- the end of a request, of the worker ---------------------------------------------

    def claim(self, r: Any) -> None:
        """A request uses this worker's cosockets: close what it leaves open when it ends
        (ngx_lua's cleanup handler). Timers release theirs themselves."""
        add = getattr(r, "add_cleanup", None)
        if add is None:
            return
        key = f"keep:lua_sockets:{id(self)}"
        main = r.main
        if key not in main.ctx:
            main.ctx[key] = True
            add(lambda: self.release(main))

    def release(self, r: Any) -> None:
        """ngx_http_lua_socket_cleanup: close the sockets a request (or timer) left open."""
        for uid, conn in list(self.conns.items()):
            if conn.owner is r or getattr(conn.owner, "main", None) is r:
                conn.drop()
                del self.conns[uid]  # a Lua object kept beyond it finds it gone: closed
        self.udp.release(r)

    def shutdown(self) -> None:
        for conn in self.conns.values():
            conn.drop()
        self.udp.shutdown()
        for key, pool in list(self.pools.items()):
            for idle in list(pool):
                self._evict(key, idle)


def install(lua: Any, ngx: Any, rt: Any, worker: LuaWorker) -> Sockets:
    """Build ngx.socket.tcp/connect (and udp) in a worker's VM; returns its Sockets."""
    from ._loader import load_chunk
    sockets = Sockets(worker)
    udp = sockets.udp
    names = {**{n[3:]: getattr(sockets, n) for n in dir(sockets) if n.startswith("py_")},
             **{n[3:]: getattr(udp, n) for n in dir(udp) if n.startswith("py_")}}
    py = lua.table_from({k.encode(): v for k, v in names.items()})
    load_chunk(lua, "socket_tcp")(ngx, rt, py)
    load_chunk(lua, "socket_udp")(ngx, rt, py)
    return sockets
