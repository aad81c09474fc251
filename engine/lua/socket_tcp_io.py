"""The waiting half of ngx.socket.tcp: connect, send, receive on the asyncio loop.

Each yielded ``socket`` operation runs here with non-blocking sockets and
``loop.sock_connect`` / ``sock_sendall`` / ``sock_recv`` under the object's timeout (its
``settimeout(s)``, else the location's ``lua_socket_*_timeout``; a read timeout is per
wait, as nginx re-arms its timer on every read event). Reads fill the connection's
buffer and the receive patterns take from it: ``*l`` drops every CR of the line, ``*a``
reads to the end of input, a count or ``receiveany`` their bytes, and the receiveuntil
iterator the data before its pattern (partial pattern bytes are held back). See
socket_tcp.py for the states and what ends them.
"""

from __future__ import annotations

import asyncio
import errno as errnos
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from .socket_tcp import (SocketConf, Sockets, TcpConn, log, lua_error, owned, request_conf,
                         strerror)

if TYPE_CHECKING:
    from .runtime import LuaRequest


def _millis(ms: Any, default: float) -> float:
    return int(ms) / 1000 if ms else default


async def carry_out(lr: LuaRequest, args: list[Any]) -> tuple[Any, ...]:
    """Run a yielded ``socket`` operation; ("ok", results...) or ("raise", message)."""
    from . import socket_udp
    lr.worker.sockets.claim(lr.r)
    op = args[0].decode()
    if op.startswith("udp_"):
        return await socket_udp.carry_out(lr, op, args[1:])
    sockets: Sockets = lr.worker.sockets
    r = lr.r
    uid = int(args[1])
    conn = sockets.conns.get(uid)
    if conn is None:  # its request ended: a new one may connect it again
        conn = sockets.conns[uid] = TcpConn(uid)
        conn.owner = r
    if not owned(conn, r):
        return (b"raise", b"bad request")
    conf = request_conf(r)
    if op == "connect":
        res = await _connect(sockets, r, conf, conn, *args[2:])
    elif op == "send":
        res = await _send(r, conf, conn, args[2], args[3])
    else:
        res = await _receive(r, conf, conn, op, args[2:])
    return (b"ok", *res)


async def _connect(sockets: Sockets, r: Any, conf: SocketConf, conn: TcpConn, host: bytes,
                   port: Any, pool: Any, pool_size: Any, timeout: Any) -> tuple[Any, ...]:
    name = host.decode("utf-8", "surrogateescape")
    is_unix = name.startswith("unix:")
    port_n = None if port is None else int(port)
    if port_n is None and name and not is_unix:  # before ngx_lua drops the connection
        return (None, b"missing the port number")
    conn.drop()
    conn.ft, conn.eof = 0, False
    key = pool.decode("utf-8", "surrogateescape") if pool is not None else \
        name if port_n is None else f"{name}:{port_n}"
    conn.key, conn.pool_size = key, int(pool_size or 0)
    idle = sockets.take(key)
    if idle is not None:
        conn.attach(idle.sock, r, idle.reused + 1)
        conn.peer = idle.peer
        r.trace.add("socket", op="connect", peer=conn.peer, bytes=0,
                    result=f"reused from the pool ({conn.reused})")
        return (1,)
    if is_unix:
        path = name[5:]
        if not path:
            return (None, f'failed to parse host name "{name}": no path in the unix domain '
                    'socket'.encode())
        family, addr, peer = socket.AF_UNIX, path, name
    else:
        if not name:
            return (None, b'failed to parse host name "": no host')
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        try:
            ip = ipaddress.ip_address(bare)
        except ValueError:
            if not conf.resolver:
                conn.ft = 8  # NGX_HTTP_LUA_SOCKET_FT_RESOLVER, in later "closed" lines
                return (None, f'no resolver defined to resolve "{name}"'.encode())
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    bare, port_n, family=socket.AF_INET, type=socket.SOCK_STREAM)
            except OSError:
                return (None, f"{name} could not be resolved (3: Host not found)".encode())
            ip = ipaddress.ip_address(infos[0][4][0])
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        addr = (str(ip), port_n)
        peer = f"[{ip}]:{port_n}" if ip.version == 6 else f"{ip}:{port_n}"
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, addr),
                               _millis(timeout, conf.connect))
    except asyncio.TimeoutError:
        sock.close()
        log(r, "error", f"lua tcp socket connect timed out, when connecting to {peer}")
        r.trace.add("socket", op="connect", peer=peer, bytes=0, result="timeout")
        return (None, b"timeout")
    except OSError as exc:
        sock.close()
        err = exc.errno or errnos.ECONNREFUSED
        if is_unix or err not in (errnos.ECONNREFUSED, errnos.ETIMEDOUT, errnos.EHOSTUNREACH):
            log(r, "crit", f"connect() to {peer} failed ({err}: {strerror(err)})")
        else:
            log(r, "error", f"connect() failed ({err}: {strerror(err)})")
        r.trace.add("socket", op="connect", peer=peer, bytes=0, result=lua_error(err).decode())
        return (None, lua_error(err))
    conn.attach(sock, r, 0)
    conn.peer = peer
    r.trace.add("socket", op="connect", peer=peer, bytes=0, result="connected")
    return (1,)


async def _send(r: Any, conf: SocketConf, conn: TcpConn, data: bytes,
                timeout: Any) -> tuple[Any, ...]:
    if conn.sock is None or conn.write_closed:
        log(r, "error", f"attempt to send data on a closed socket: {conn.pointers()}, "
            f"ft:{conn.ft} eof:{int(conn.eof)}")
        return (None, b"closed")
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_sendall(conn.sock, data),
                               _millis(timeout, conf.send))
    except asyncio.TimeoutError:
        log(r, "error", "lua tcp socket write timed out")
        conn.write_closed = True
        r.trace.add("socket", op="send", peer=conn.peer, bytes=len(data), result="timeout")
        return (None, b"timeout")
    except OSError as exc:
        err = exc.errno or errnos.EPIPE
        log(r, "error", f"send() failed ({err}: {strerror(err)})")
        conn.write_closed = True
        r.trace.add("socket", op="send", peer=conn.peer, bytes=len(data),
                    result=lua_error(err).decode())
        return (None, lua_error(err))
    r.trace.add("socket", op="send", peer=conn.peer, bytes=len(data), result=str(len(data)))
    return (len(data),)


def _take(conn: TcpConn, n: int, line: bool = False) -> bytes:
    data = bytes(conn.buf[:n])
    del conn.buf[:n]
    return data.replace(b"\r", b"") if line else data


def _until(conn: TcpConn, pattern: bytes, inclusive: bool, size: int) -> tuple[Any, ...] | None:
    """receiveuntil's next piece from the buffer: (data, hit), or None to read more."""
    buf = conn.buf
    at = buf.find(pattern)
    if at >= 0:
        if size and at >= size:
            return (_take(conn, size), False)
        data = _take(conn, at)
        del buf[:len(pattern)]
        return (data + pattern if inclusive else data, True)
    # bytes that may start the pattern are not data yet
    keep = 0
    for k in range(min(len(pattern) - 1, len(buf)), 0, -1):
        if buf.endswith(pattern[:k]):
            keep = k
            break
    if size and len(buf) - keep >= size:
        return (_take(conn, size), False)
    return None


def _ready(conn: TcpConn, kind: Any, n: int) -> tuple[Any, ...] | None:
    """What the buffer already answers, or None to read more."""
    buf = conn.buf
    if kind == "line":
        at = buf.find(b"\n")
        if at >= 0:
            data = _take(conn, at, line=True)
            del buf[:1]
            return (data,)
    elif kind == "n":
        if len(buf) >= n:
            return (_take(conn, n),)
    elif kind == "any":
        if buf:
            return (_take(conn, n),)
    elif kind == "all":
        if conn.eof:
            return (_take(conn, len(buf)),)
    return None


async def _receive(r: Any, conf: SocketConf, conn: TcpConn, op: str,
                   args: list[Any]) -> tuple[Any, ...]:
    if op == "until":
        pattern, inclusive, n, timeout = args[0], bool(args[1]), int(args[2]), args[3]
        kind: Any = None
    else:
        kind, n, timeout = args[0].decode(), int(args[1] or 0), args[2]
    if conn.sock is None or conn.read_closed:
        if op != "until":
            log(r, "error", f"attempt to receive data on a closed socket: "
                f"{conn.pointers()}, ft:{conn.ft} eof:{int(conn.eof)}")
        return (None, b"closed")
    if kind == "n" and n == 0:
        return (b"",)
    loop = asyncio.get_running_loop()
    wait = _millis(timeout, conf.read)
    while True:
        got = _until(conn, pattern, inclusive, n) if op == "until" else _ready(conn, kind, n)
        if got is not None:
            r.trace.add("socket", op="receive", peer=conn.peer, bytes=len(got[0]),
                        result="ok")
            return got
        if conn.eof:
            conn.read_closed = True
            partial = _take(conn, len(conn.buf), line=kind == "line")
            r.trace.add("socket", op="receive", peer=conn.peer, bytes=len(partial),
                        result="closed")
            return (None, b"closed", partial)
        try:
            # (lua_socket_buffer_size: receiveany gets at most what one read brought)
            data = await asyncio.wait_for(loop.sock_recv(conn.sock, 4096), wait)
        except asyncio.TimeoutError:
            log(r, "error", "lua tcp socket read timed out")
            partial = _take(conn, len(conn.buf), line=kind == "line")
            r.trace.add("socket", op="receive", peer=conn.peer, bytes=len(partial),
                        result="timeout")
            return (None, b"timeout", partial)
        except OSError as exc:
            err = exc.errno or errnos.ECONNRESET
            log(r, "error", f"recv() failed ({err}: {strerror(err)})")
            conn.read_closed = True
            partial = _take(conn, len(conn.buf), line=kind == "line")
            r.trace.add("socket", op="receive", peer=conn.peer, bytes=len(partial),
                        result=lua_error(err).decode())
            return (None, lua_error(err), partial)
        if data:
            conn.buf += data
        else:
            conn.eof = True
