"""The debugger for a UI that runs on another thread than the engine.

A pause blocks the engine's thread inside the Lua hook; only that thread may touch the
VM (lupa's runtime lock), so the UI's questions travel to it through a queue and their
answers come back as Futures.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from .debugger import CONTINUE, Command, Debugger, PauseInfo, PauseState

T = TypeVar("T")


class ThreadedDebugger(Debugger):
    """A :class:`Debugger` for a UI on another thread than the engine's.

    At a pause, ``pauses(info)`` is called *on the engine's thread* with a plain-data
    :class:`PauseInfo` (a Textual app forwards it with ``call_from_thread``); the engine then
    waits on :attr:`commands`. The UI answers with :meth:`resume` (a :class:`Command`), and
    may first ask for anything else through :meth:`submit` / :meth:`evaluate`, which run on
    the paused thread (the only one that may touch the VM) and answer through a Future.
    """

    def __init__(self, pauses: Callable[[PauseInfo], None], break_on_error: bool = False) -> None:
        super().__init__(break_on_error=break_on_error)
        self.pauses = pauses
        self.commands: queue.Queue[Command | tuple[Callable[[PauseState], Any], Future[Any]]] = \
            queue.Queue()

    def on_pause(self, state: PauseState) -> Command:
        self.pauses(state.info())
        while True:
            item = self.commands.get()
            if isinstance(item, Command):
                return item
            fn, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(state))
                except Exception as exc:  # the UI's request failed, not the engine
                    future.set_exception(exc)

    def resume(self, command: Command = CONTINUE) -> None:
        self.commands.put(command)

    def submit(self, fn: Callable[[PauseState], T]) -> Future[T]:
        future: Future[T] = Future()
        self.commands.put((fn, future))
        return future

    def evaluate(self, source: str, frame: int = 0) -> Future[tuple[bool, str]]:
        return self.submit(lambda state: state.eval(source, frame))
