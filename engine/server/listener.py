"""The listening sockets of a configuration, and reloads without dropping connections.

:class:`Server` is what nginx's master and its one worker do with sockets: bind every
``listen`` of the configuration, accept connections (each one an
:class:`~engine.server.http1.HttpConnection`), number them (nginx's ``*N``), and on reload
keep serving: new connections get the new :class:`~engine.Engine`, connections of the old
one finish their current request and close, and the old engine stops when the last one
has gone. The serve command and the TUI both drive it through the same async API::

    server = Server(port_offset=8000, on_exchange=print)
    await server.start(engine)          # raises BindError worded like nginx
    await server.reload(new_engine)
    await server.stop(graceful=True)
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING, Callable

from .http1 import HttpConnection
from .settings import AddressSettings, address_settings
from .tls import TlsError, TlsGate

if TYPE_CHECKING:
    from ..http.api import Exchange
    from ..instance import Engine


class BindError(OSError):
    """A listen could not be bound; ``str()`` is nginx's ``bind() to ... failed`` line."""


class Endpoint:
    """One bound socket: the configured address:port and where it really listens."""

    def __init__(self, server: Server, addr: str, port: int, real_port: int) -> None:
        self.server = server
        self.addr = addr          # as configured: "*", "127.0.0.1", "[::1]"
        self.port = port          # as configured (what the engine sees as $server_port)
        self.real_port = real_port
        self.host = "0.0.0.0" if addr == "*" else addr.strip("[]")
        self.addr_text = f"{addr if addr != '*' else '0.0.0.0'}:{port}"
        self.aserver: asyncio.base_events.Server | None = None
        self._settings: dict[tuple[int, str], AddressSettings] = {}

    def settings_for(self, engine: Engine, local_ip: str | None = None) -> AddressSettings:
        addr = self.addr if local_ip is None or self.addr != "*" else local_ip
        key = (id(engine), addr)
        s = self._settings.get(key)
        if s is None:
            s = self._settings[key] = address_settings(engine, addr, self.port)
        return s

    async def bind(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self.aserver = await loop.create_server(
                self._protocol, self.host, self.real_port, family=family,
                reuse_address=True, backlog=511)
        except OSError as exc:
            shown = f"[{self.host}]" if family == socket.AF_INET6 else self.host
            code = exc.errno or 0
            reason = os.strerror(code) if code else str(exc)
            raise BindError(code, f"bind() to {shown}:{self.real_port} failed "
                                  f"({code}: {reason})") from None

    def _protocol(self) -> asyncio.Protocol:
        """A new connection's protocol: TLS in front of HTTP on an ssl address."""
        conn = HttpConnection(self)
        tls = self.settings_for(conn.engine).tls
        return conn if tls is None else TlsGate(conn, tls)

    def close(self) -> None:
        if self.aserver is not None:
            self.aserver.close()
            self.aserver = None

    @property
    def bound(self) -> tuple[str, int]:
        if self.aserver is not None and self.aserver.sockets:
            name = self.aserver.sockets[0].getsockname()
            return name[0], name[1]
        return self.host, self.real_port


class Server:
    """All listeners of one running configuration."""

    def __init__(self, port_offset: int = 0,
                 on_exchange: Callable[[Exchange], None] | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        #: Added to ports below 1024, so that configs with ``listen 80`` run unprivileged.
        self.port_offset = port_offset
        self.exchange_listeners: list[Callable[[Exchange], None]] = []
        if on_exchange is not None:
            self.exchange_listeners.append(on_exchange)
        self.notify = notify
        self.engine: Engine | None = None  # type: ignore[assignment]
        self.endpoints: dict[tuple[str, int], Endpoint] = {}
        self.connections: set[HttpConnection] = set()
        self._retiring: set[asyncio.Task[None]] = set()

    # -- the public API ------------------------------------------------------------------

    @property
    def bound(self) -> list[tuple[str, int]]:
        """The real (address, port) of every listening socket."""
        return [ep.bound for ep in self.endpoints.values()]

    def on_exchange(self, listener: Callable[[Exchange], None]) -> None:
        self.exchange_listeners.append(listener)

    async def start(self, engine: Engine) -> None:
        """Bind every listen of ``engine`` and start answering; BindError leaves nothing bound."""
        await engine.start()
        self.engine = engine
        self._share_stats(engine, None)
        try:
            await self._bind(self._wanted(engine), engine)
        except BindError:
            self._close_endpoints(list(self.endpoints))
            await engine.stop(False)
            raise

    async def reload(self, engine: Engine) -> None:
        """Serve ``engine`` from now on; connections of the old one finish and close.

        Binding the new configuration's ports happens first: when that fails the old
        engine keeps serving and BindError is raised (the caller logs it, as nginx does).
        """
        old = self.engine
        wanted = self._wanted(engine)
        added = [k for k in wanted if k not in self.endpoints]
        for key in wanted:
            if key in self.endpoints:
                _load_tls(self.endpoints[key], engine)
        try:
            await self._bind({k: wanted[k] for k in added}, engine)
        except BindError:
            self._close_endpoints(added)
            raise
        await engine.start()
        self._close_endpoints([k for k in self.endpoints if k not in wanted])
        if old is not None:  # the counter lives on across reloads, as nginx's in shared memory
            engine.http.connections = max(engine.http.connections, old.http.connections)
        self._share_stats(engine, old)
        self.engine = engine
        if old is not None and old is not engine:
            for conn in list(self.connections):
                if conn.engine is old:
                    conn.drain()
            task = asyncio.get_running_loop().create_task(self._retire(old))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def stop(self, graceful: bool = True, timeout: float | None = None) -> None:
        """Stop listening; graceful waits for requests in progress, fast closes at once."""
        self._close_endpoints(list(self.endpoints))
        for conn in list(self.connections):
            conn.drain() if graceful else conn._abort()
        if graceful:
            await self._wait_idle(lambda: bool(self.connections), timeout)
        for conn in list(self.connections):
            conn._abort()
        for task in list(self._retiring):
            task.cancel()
        engines = {id(c.engine): c.engine for c in self.connections}
        if self.engine is not None:
            engines[id(self.engine)] = self.engine
        for eng in engines.values():
            await eng.stop(graceful)

    # -- used by connections -------------------------------------------------------------

    def next_connection(self) -> int:
        assert self.engine is not None
        return self.engine.http.next_connection()

    def emit(self, exchange: Exchange) -> None:
        for listener in self.exchange_listeners:
            try:
                listener(exchange)
            except Exception:  # a UI callback must not break serving
                pass

    # -- internals ---------------------------------------------------------------------

    def _share_stats(self, engine: Engine, old: Engine | None) -> None:
        """stub_status's counters: one set for the server, kept across reloads (nginx
        keeps them in shared memory); "Reading" comes from the connections."""
        services = engine.http.services
        stats = services.get("connection_stats")
        if stats is None:
            return
        if old is not None and old is not engine:
            stats = services["connection_stats"] = old.http.services.get(
                "connection_stats", stats)
        stats.reading_now = lambda: sum(1 for c in self.connections if c.reading_head)

    def _wanted(self, engine: Engine) -> dict[tuple[str, int], int]:
        """Configured (addr, port) → real port; a ``*:port`` covers that port's addresses."""
        wild = {port for addr, port in engine.listens() if addr == "*"}
        wanted: dict[tuple[str, int], int] = {}
        for addr, port in engine.listens():
            if addr != "*" and port in wild:
                continue
            real = port + self.port_offset if port < 1024 and self.port_offset else port
            if real != port and self.notify is not None and (addr, port) not in self.endpoints:
                self.notify(f"ngx-explore: listen {port} remapped to {real}")
            wanted[(addr, port)] = real
        return wanted

    async def _bind(self, wanted: dict[tuple[str, int], int], engine: Engine) -> None:
        for (addr, port), real in wanted.items():
            ep = Endpoint(self, addr, port, real)
            _load_tls(ep, engine)
            await ep.bind()
            self.endpoints[(addr, port)] = ep

    def _close_endpoints(self, keys: list[tuple[str, int]]) -> None:
        for key in keys:
            ep = self.endpoints.pop(key, None)
            if ep is not None:
                ep.close()

    async def _retire(self, old: Engine) -> None:
        await self._wait_idle(lambda: any(c.engine is old for c in self.connections), None)
        await old.stop(True)

    @staticmethod
    async def _wait_idle(busy: Callable[[], bool], timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while busy():
            if deadline is not None and loop.time() >= deadline:
                return
            await asyncio.sleep(0.02)


def _load_tls(ep: Endpoint, engine: Engine) -> None:
    """Certificates load before a socket answers with them, as nginx's do at start and
    reload; one that does not load stops that like a bind error."""
    try:
        ep.settings_for(engine)
    except TlsError as exc:
        raise BindError(0, str(exc)) from None


__all__ = ["BindError", "Endpoint", "Server"]
