"""The asyncio edge: HTTP/1.x over real sockets in front of the sans-IO engine.

Everything that touches sockets, timers and signals lives in this package; ``engine.*``
outside it stays free of I/O. :class:`Server` is the entry point (``ngx-explore serve``
and the TUI both use it).
"""

from .listener import BindError, Endpoint, Server

__all__ = ["BindError", "Endpoint", "Server"]
