"""ngx.socket.udp: ngx_lua's datagram cosockets on the asyncio loop.

A Lua object (``socket_udp.lua``) holds a number; its connected datagram socket is a
:class:`UdpConn` here. ``receive`` waits with ``loop.sock_recv`` and the object's timeout
(``lua_socket_read_timeout`` by default) and returns one datagram cut to the size asked
(65536 by default); an ICMP "port unreachable" comes back as "connection refused" on the
next receive, as the kernel reports it. The log lines are ngx_lua's UDP ones (no
``ft``/``eof`` fields). A request's UDP sockets close when it ends.
"""

from __future__ import annotations

import asyncio
import errno as errnos
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from .socket_tcp import _PTRS, _ZERO, lua_error, log, request_conf, strerror

if TYPE_CHECKING:
    from .runtime import LuaRequest, LuaWorker

_MAX = 65536


class UdpConn:
    def __init__(self) -> None:
        self.ptr = next(_PTRS)
        self.sock: socket.socket | None = None
        self.owner: Any = None
        self.peer = ""

    def drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class UdpSockets:
    """One worker's UDP cosockets by number."""

    def __init__(self, worker: LuaWorker) -> None:
        self.worker = worker
        self.conns: dict[int, UdpConn] = {}
        self._next = 0

    def py_udp_new(self) -> int:
        self._next += 1
        self.conns[self._next] = UdpConn()
        return self._next

    def py_udp_never(self, what: bytes) -> tuple[Any, ...]:
        cur = self.worker.bridge.current
        if cur is not None:
            log(cur.r, "error", f"attempt to {what.decode()} data on a closed socket: "
                f"u:{_ZERO}, c:{_ZERO}")
        return (None, b"closed")

    def py_udp_close(self, uid: int) -> tuple[Any, ...]:
        conn = self.conns.get(uid)
        if conn is None or conn.sock is None:
            return (None, b"closed")
        conn.drop()
        return (1,)

    def release(self, r: Any) -> None:
        """Close the UDP sockets a request (or timer) left open."""
        for uid, conn in list(self.conns.items()):
            if conn.owner is r or getattr(conn.owner, "main", None) is r:
                conn.drop()
                del self.conns[uid]

    def shutdown(self) -> None:
        for conn in self.conns.values():
            conn.drop()


def _closed(r: Any, conn: UdpConn, what: str) -> tuple[Any, ...]:
    ptrs = f"u:{conn.ptr:016X}, c:{_ZERO}"
    log(r, "error", f"attempt to {what} data on a closed socket: {ptrs}")
    return (b"ok", None, b"closed")


async def carry_out(lr: LuaRequest, op: str, args: list[Any]) -> tuple[Any, ...]:
    """A yielded ``udp_*`` operation: ("ok", results...) or ("raise", message)."""
    udp: UdpSockets = lr.worker.sockets.udp
    r = lr.r
    conn = udp.conns.setdefault(int(args[0]), UdpConn())
    if conn.sock is not None and conn.owner is not r:
        return (b"raise", b"bad request")
    if op == "udp_connect":
        return (b"ok", *await _connect(r, conn, args[1], args[2]))
    if conn.sock is None:
        return _closed(r, conn, "send" if op == "udp_send" else "receive")
    if op == "udp_send":
        try:
            conn.sock.send(args[1])
        except OSError as exc:
            err = exc.errno or errnos.EIO
            log(r, "error", f"send() failed ({err}: {strerror(err)})")
            return (b"ok", None, lua_error(err))
        r.trace.add("socket", op="udp send", peer=conn.peer, bytes=len(args[1]), result="ok")
        return (b"ok", 1)
    size = int(args[1]) if args[1] and 0 < int(args[1]) <= _MAX else _MAX
    wait = int(args[2]) / 1000 if args[2] and int(args[2]) > 0 else request_conf(r).read
    try:
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(conn.sock, _MAX),
                                      wait)
    except asyncio.TimeoutError:
        log(r, "error", "lua udp socket read timed out")
        r.trace.add("socket", op="udp receive", peer=conn.peer, bytes=0, result="timeout")
        return (b"ok", None, b"timeout")
    except OSError as exc:
        err = exc.errno or errnos.EIO
        log(r, "error", f"recv() failed ({err}: {strerror(err)})")
        r.trace.add("socket", op="udp receive", peer=conn.peer, bytes=0,
                    result=lua_error(err).decode())
        return (b"ok", None, lua_error(err))
    r.trace.add("socket", op="udp receive", peer=conn.peer, bytes=len(data), result="ok")
    return (b"ok", data[:size])


async def _connect(r: Any, conn: UdpConn, host: bytes, port: Any) -> tuple[Any, ...]:
    name = host.decode("utf-8", "surrogateescape")
    conn.drop()
    if name.startswith("unix:"):
        family, addr, peer = socket.AF_UNIX, name[5:], name
    else:
        if port is None:
            return (None, b"missing the port number")
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        try:
            ip = ipaddress.ip_address(bare)
        except ValueError:
            if not request_conf(r).resolver:
                return (None, f'no resolver defined to resolve "{name}"'.encode())
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    bare, int(port), family=socket.AF_INET, type=socket.SOCK_DGRAM)
            except OSError:
                return (None, f"{name} could not be resolved (3: Host not found)".encode())
            ip = ipaddress.ip_address(infos[0][4][0])
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        addr, peer = (str(ip), int(port)), f"{ip}:{int(port)}"
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect(addr)
    except OSError as exc:
        sock.close()
        err = exc.errno or errnos.EIO
        log(r, "crit", f"connect() failed ({err}: {strerror(err)})")
        return (None, lua_error(err))
    conn.sock, conn.owner, conn.peer = sock, r, peer
    r.trace.add("socket", op="udp setpeername", peer=peer, bytes=0, result="ok")
    return (1,)
