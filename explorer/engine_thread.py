"""The engine and its live listener on a thread of their own, away from the UI's loop.

Why a thread: a Lua breakpoint pauses *synchronously* — the line hook blocks the loop that
runs the engine until the debugger says how to go on (docs/debugger.md, "The pausing
model"). On the UI's loop that would freeze the screen that is meant to show the pause, so
the engine gets its own asyncio loop on a daemon thread, always (one code path; starting a
thread costs well under a millisecond next to parsing the configuration).

The hand-off rules, both ways:

* UI → engine: coroutines and plain calls go through :meth:`EngineHost.run` /
  :meth:`EngineHost.call` (``asyncio.run_coroutine_threadsafe``), awaited on the UI loop as
  futures, so the UI never waits on the engine. Nothing on the UI thread touches a Lua VM:
  LuaJIT's runtime has a lock, and a paused handler holds it.
* engine → UI: log records, listener exchanges and notices are put in a :class:`Mailbox`,
  which wakes the UI loop once per batch (``call_soon_threadsafe``), not once per record.

This module imports no Textual: the app wires it to its widgets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


class Mailbox:
    """Items from the engine thread, delivered in order, in batches, on the UI loop.

    ``deliver(batch)`` runs on the loop that created the mailbox. A put from that loop's own
    thread is delivered the same way (later, in order), so callers need not know where
    they run.
    """

    def __init__(self, deliver: Callable[[list[tuple[str, Any]]], None]) -> None:
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()
        self._items: deque[tuple[str, Any]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self.closed = False

    def put(self, kind: str, item: Any) -> None:
        if self.closed:
            return
        self._items.append((kind, item))
        with self._lock:
            if self._scheduled:
                return  # the pending drain takes this item too (it resets the flag first)
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the UI loop is closing: nothing left to show it on
            self.closed = True

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        batch: list[tuple[str, Any]] = []
        while self._items:
            batch.append(self._items.popleft())
        if batch and not self.closed:
            self._deliver(batch)


@dataclass
class ServeOutcome:
    """What starting an engine gave: whether it serves, and what to log/notify (level, text)."""

    serving: bool
    problems: list[tuple[str, str]] = field(default_factory=list)
    unresolved: list[Any] = field(default_factory=list)  # breakpoints lost in a reload


class EngineHost:
    """Runs engines and the listener on the engine thread's loop.

    ``on_exchange`` and ``on_notice`` are called on the engine thread (give them a
    :class:`Mailbox`'s ``put``). Every ``async`` method here is awaited from the UI loop.
    """

    def __init__(self, *, listen: bool, port_offset: int = 0,
                 on_exchange: Callable[[Any], None] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        self.listen = listen
        self.port_offset = port_offset
        self.on_exchange = on_exchange
        self.on_notice = on_notice
        self.server: Any = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="ngx-engine", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @property
    def on_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # -- hand-off ---------------------------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the engine loop (from any thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the engine loop, from the UI loop, without blocking it."""
        return await asyncio.wrap_future(self.submit(coro))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the engine thread (anything that touches a Lua VM)."""
        async def wrapper() -> T:
            return fn(*args)
        return await self.run(wrapper())

    # -- serving ------------------------------------------------------------------------

    async def serve(self, engine: Any, old: Any,
                    before_start: Callable[[Any], list[Any]] | None = None) -> ServeOutcome:
        """Start ``engine`` (through the listener when there is one) on the engine loop.

        ``before_start(engine)`` runs there first (attaching the debugger) and returns the
        breakpoints that did not resolve. A listener that cannot bind a new port keeps
        the old engine (``serving`` False), as ``nginx -s reload`` does.
        """
        return await self.run(self._serve(engine, old, before_start))

    async def _serve(self, engine: Any, old: Any,
                     before_start: Callable[[Any], list[Any]] | None) -> ServeOutcome:
        out = ServeOutcome(True)
        if before_start is not None:
            try:
                out.unresolved = before_start(engine)
            except Exception as e:  # noqa: BLE001 - the engine serves without a debugger
                out.problems.append(("alert", f"debugger not attached: {e}"))
        server_cls = _server_class() if self.listen else None
        if server_cls is not None:
            try:
                if self.server is None:
                    server = server_cls(port_offset=self.port_offset,
                                        on_exchange=self.on_exchange, notify=self.on_notice)
                    await server.start(engine)
                    self.server = server
                else:
                    await self.server.reload(engine)
                return out
            except OSError as e:  # BindError: worded like nginx's bind() failure
                out.problems.append(("emerg", str(e)))
                if self.server is not None:
                    out.serving = False  # the running listener keeps the old engine
                    return out
        try:
            await engine.start()
        except Exception as e:  # noqa: BLE001 - reported, never a traceback
            out.problems.append(("alert", f"engine start failed: {e}"))
        if old is not None and old is not engine:
            try:
                await old.stop(True)
            except Exception:  # noqa: BLE001 - the old engine is going away anyway
                pass
        return out

    async def request(self, engine: Any, req: Any) -> Any:
        """Send ``req`` through ``engine`` on the engine loop; the exchange comes back."""
        return await self.run(engine.request(req))

    def busy_connections(self) -> int:
        """Listener connections answering a request right now (read while paused, when the
        engine loop is blocked and the set cannot change under us)."""
        server = self.server
        if server is None:
            return 0
        return sum(1 for c in list(server.connections) if getattr(c, "busy", False))

    @property
    def bound(self) -> list[tuple[str, int]]:
        return list(getattr(self.server, "bound", []) or []) if self.server else []

    # -- shutdown -----------------------------------------------------------------------

    async def close(self, timeout: float = 3.0) -> None:
        """Stop the listener (fast) and the loop; a paused engine must be released first."""
        if self.server is not None:
            try:
                await asyncio.wait_for(self.run(self.server.stop(False)), timeout)
            except Exception:  # noqa: BLE001 - quitting
                pass
        self.stop_loop()

    def stop_loop(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            return
        self._thread.join(timeout=1.0)


def _server_class() -> Any:
    try:
        from engine.server import Server  # the live listener is optional
    except ImportError:
        return None
    return Server

