"""A raw stream connection to an upstream peer, failing with nginx's error-log wording.

The modules that speak their own protocol over the socket (fastcgi, and the connect
paths of uwsgi, scgi, grpc and memcached) need a plain byte stream, not httpx. nginx
words a refused TCP connect as ``connect() failed (111: Connection refused)`` (the
error arrives later, through ``ngx_http_upstream_test_connect``), but a unix socket
connects synchronously, so its failure is ``connect() to unix:/x.sock failed (2: No such
file or directory)``, at ``[crit]`` unless the error is one nginx expects (refused,
reset, network or host unreachable, EAGAIN), which stay ``[error]``.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import TYPE_CHECKING, Awaitable

from .proxy_transport import CONNECTING, READING_HEADER, AttemptFailure, connect_level, \
    timed_out

if TYPE_CHECKING:
    from .upstream import Peer


class ConnectFailure(AttemptFailure):
    """A failed connect, with the level nginx logs it at."""

    def __init__(self, message: str, level: str) -> None:
        super().__init__("error", message, CONNECTING, False)
        self.level = level


async def open_stream(peer: Peer, timeout: float
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``peer`` within ``timeout`` seconds (0: no limit)."""
    try:
        if peer.unix:
            opening = asyncio.open_unix_connection(peer.addr, limit=1 << 20)
        else:
            opening = asyncio.open_connection(peer.addr, peer.port, limit=1 << 20)
        return await asyncio.wait_for(opening, timeout or None)
    except asyncio.TimeoutError:
        raise timed_out(CONNECTING, False) from None
    except OSError as exc:
        code = exc.errno or errno.ECONNREFUSED
        text = f"({code}: {os.strerror(code)})"
        if peer.unix:
            raise ConnectFailure(f"connect() to {peer.name} failed {text}",
                                 connect_level(code)) from None
        raise ConnectFailure(f"connect() failed {text}", "error") from None


async def read_exactly(reader: asyncio.StreamReader, size: int, timeout: float,
                       action: str = READING_HEADER) -> bytes:
    """``size`` bytes from the peer; a timeout or an early close as nginx logs them."""
    return await read_from_peer(reader.readexactly(size), timeout, action)


async def read_from_peer(reading: Awaitable[bytes], timeout: float, action: str) -> bytes:
    """Await a read from the peer within ``timeout``: a timeout, an early close, a reset
    or a line too long for the buffer fail the attempt as nginx logs them."""
    try:
        return await asyncio.wait_for(reading, timeout or None)
    except asyncio.TimeoutError:
        raise timed_out(action, True) from None
    except asyncio.IncompleteReadError:
        raise AttemptFailure("error", "upstream prematurely closed connection", action,
                             True) from None
    except asyncio.LimitOverrunError:
        raise AttemptFailure("invalid_header", "upstream sent too big header", action,
                             True) from None
    except OSError as exc:
        code = exc.errno or errno.ECONNRESET
        raise AttemptFailure("error", f"recv() failed ({code}: {os.strerror(code)})",
                             action, True) from None
