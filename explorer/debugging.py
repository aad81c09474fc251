"""The app's side of the Lua debugger: breakpoints as the UI shows them, console commands,
and the one rule for touching the debugger from the UI.

The rule: the UI thread never calls into the debugger or a Lua VM. Adding a breakpoint
resolves it (reading Lua's ``package.path``) and re-arms every worker VM, and a paused
handler holds the Lua runtime's lock, so from the UI thread that could wait for a pause the
UI itself has to end. :meth:`DebugSession.engine_side` runs such work on the paused thread
while a handler is paused (``ThreadedDebugger.submit``), else on the engine thread's loop;
the UI keeps plain-data copies (:class:`BreakMark`, :class:`~engine.lua.debugger.PauseInfo`).

No Textual here: the app wires this to its widgets, and the parsing is plain functions.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from engine.lua.debugger import CONTINUE, Command, Frame, PauseInfo, PauseState
from engine.lua.debugger_threads import ThreadedDebugger

from .engine_thread import EngineHost

T = TypeVar("T")

_BREAK = re.compile(r"^\s*(?P<file>\S+?):(?P<line>\d+)"
                    r"(?:\s+hit\s+(?P<hit>(?:==|>=|>|%)?\s*\d+))?"
                    r"(?:\s+if\s+(?P<cond>.+?))?\s*$", re.S)

#: Console commands and their one-line help (``:help`` prints this).
COMMANDS = {
    "break": ":break FILE:LINE [hit N|>=N|>N|%N] [if EXPR]   stop there (e.g. nginx.conf:22)",
    "delete": ":delete N   delete breakpoint N (:delete all deletes every one)",
    "breaks": ":breaks   list the breakpoints",
    "break-on-error": ":break-on-error on|off   pause where a handler fails, before the 500",
    "help": ":help   these commands",
}


@dataclass(frozen=True)
class BreakSpec:
    """A breakpoint as typed: ``nginx.conf:22 hit >=2 if user == nil``."""

    file: str
    line: int
    condition: str | None = None
    hit_condition: str | None = None


def parse_break(text: str) -> BreakSpec:
    """``FILE:LINE [hit N] [if EXPR]`` → BreakSpec; ValueError with the usage otherwise."""
    m = _BREAK.match(text)
    if m is None:
        raise ValueError("usage: " + COMMANDS["break"])
    hit = m.group("hit")
    return BreakSpec(m.group("file"), int(m.group("line")), m.group("cond"),
                     hit.replace(" ", "") if hit else None)


@dataclass(frozen=True)
class ConsoleCommand:
    """A ``:name arg`` line of the Lua console."""

    name: str
    arg: str = ""


def parse_command(text: str) -> ConsoleCommand | None:
    """A console line starting with ``:`` is a debugger command; anything else is Lua."""
    text = text.strip()
    if not text.startswith(":"):
        return None
    name, _, arg = text[1:].partition(" ")
    return ConsoleCommand(name.strip().lower(), arg.strip())


@dataclass(frozen=True)
class BreakMark:
    """A plain-data copy of a breakpoint for the UI thread (markers, ``:breaks``)."""

    id: int
    file: str
    line: int
    path: str | None  # the absolute file it names; None when it names no known file
    verified: bool
    enabled: bool
    condition: str | None
    hit_condition: str | None
    message: str
    hits: int

    def describe(self) -> str:
        text = f"{self.id}  {self.file}:{self.line}"
        if self.hit_condition:
            text += f" hit {self.hit_condition}"
        if self.condition:
            text += f" if {self.condition}"
        if self.hits:
            text += f"  ({self.hits} hit{'s' if self.hits != 1 else ''})"
        if not self.verified:
            text += f"  — unresolved: {self.message}"
        return text


def short_name(path: str, engine: Any) -> str:
    """How a breakpoint names ``path``: relative to the configuration's directory, else to
    the prefix, else absolute (what the debugger's messages and ``:breaks`` show)."""
    for root in (os.path.dirname(engine.conf_path), engine.prefix):
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return rel
    return path


class AppDebugger(ThreadedDebugger):
    """A ThreadedDebugger that also works out, on the paused thread, which file each frame
    is in (the UI must not ask the debugger itself), and that lets go when the app quits."""

    def __init__(self, pauses: Callable[[PauseInfo], None]) -> None:
        super().__init__(pauses)
        self.closing = False
        #: (absolute path, line) of each frame of the current pause, set before ``pauses``.
        self.frame_paths: tuple[tuple[str, int] | None, ...] = ()

    def on_pause(self, state: PauseState) -> Command:
        if self.closing:
            return CONTINUE
        self.frame_paths = tuple(self._where(f) for f in state.frames)
        return super().on_pause(state)

    def _where(self, frame: Frame) -> tuple[str, int] | None:
        if frame.source.startswith("@"):
            return os.path.realpath(frame.source[1:]), frame.line
        path = self.path_of(frame.file)
        return (path, frame.file_line) if path else None


class DebugSession:
    """The UI thread's handle on the debugger: breakpoints, the current pause, the frame.

    ``pauses(info)`` is called on the engine thread at each pause (hand it to the UI
    through a Mailbox). Every ``async`` method is awaited on the UI loop.
    """

    def __init__(self, host: EngineHost, pauses: Callable[[PauseInfo], None]) -> None:
        self.host = host
        self.debugger = AppDebugger(pauses)
        self.paused: PauseInfo | None = None
        self.frame = 0
        self.marks: tuple[BreakMark, ...] = ()
        self.break_on_error = False

    # -- where debugger work runs -------------------------------------------------------

    async def engine_side(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` where the Lua VMs may be touched: the paused thread, else the engine's."""
        if self.paused is not None:
            return await asyncio.wrap_future(self.debugger.submit(lambda _state: fn()))
        return await self.host.call(fn)

    def before_start(self, engine: Any) -> list[Any]:
        """On the engine thread, before ``engine`` serves: re-attach when debugging is on
        (breakpoints re-resolve against the new configuration); the unresolved come back."""
        dbg = self.debugger
        if not dbg.breakpoints and not dbg.break_on_error and dbg.engine is None:
            return []  # never used: nothing attached, nothing paid
        unresolved = dbg.attach(engine)
        self.marks = self._snapshot()
        return unresolved

    def _attach(self, engine: Any) -> None:
        if self.debugger.engine is not engine:
            engine.debugger = self.debugger

    def _snapshot(self) -> tuple[BreakMark, ...]:
        dbg = self.debugger
        return tuple(BreakMark(bp.id, bp.file, bp.line, dbg.path_of(bp.file), bp.verified,
                               bp.enabled, bp.condition, bp.hit_condition, bp.message, bp.hits)
                     for bp in dbg.breakpoints)

    # -- breakpoints (UI thread; the work runs engine-side) -----------------------------

    async def toggle(self, engine: Any, path: str, line: int) -> tuple[bool, str]:
        """Add or delete the breakpoint at ``path:line``: (ok, what to tell the user). A line
        without Lua code is refused with the debugger's reason."""
        def work() -> tuple[bool, str]:
            self._attach(engine)
            dbg = self.debugger
            there = [bp for bp in dbg.breakpoints
                     if bp.line == line and dbg.path_of(bp.file) == path]
            if there:
                for bp in there:
                    dbg.remove_breakpoint(bp)
                return True, f"breakpoint {there[0].id} deleted ({there[0].describe()})"
            name = short_name(path, engine)
            if dbg.path_of(name) != path:
                name = path
            return self._add(BreakSpec(name, line))
        return await self._mutate(work)

    async def add(self, engine: Any, spec: BreakSpec) -> tuple[bool, str]:
        def work() -> tuple[bool, str]:
            self._attach(engine)
            return self._add(spec)
        return await self._mutate(work)

    def _add(self, spec: BreakSpec) -> tuple[bool, str]:
        dbg = self.debugger
        check = dbg.resolve_location(spec.file, spec.line)
        if not check.verified:
            return False, check.message
        try:
            bp = dbg.add_breakpoint(spec.file, spec.line, spec.condition, spec.hit_condition)
        except ValueError as e:
            return False, str(e)
        return True, f"breakpoint {bp.id} at {bp.describe()}" + (
            f" if {bp.condition}" if bp.condition else "")

    async def delete(self, which: str) -> tuple[bool, str]:
        def work() -> tuple[bool, str]:
            dbg = self.debugger
            if which == "all":
                n = len(dbg.breakpoints)
                dbg.clear()
                return True, f"{n} breakpoint{'s' if n != 1 else ''} deleted"
            if not which.isdigit() or not any(bp.id == int(which) for bp in dbg.breakpoints):
                return False, f'no breakpoint "{which}" (:breaks lists them)'
            dbg.remove_breakpoint(int(which))
            return True, f"breakpoint {which} deleted"
        return await self._mutate(work)

    async def set_break_on_error(self, engine: Any, on: bool) -> tuple[bool, str]:
        def work() -> tuple[bool, str]:
            self._attach(engine)
            self.debugger.break_on_error = on
            return True, f"break on error {'on' if on else 'off'}"
        ok, text = await self._mutate(work)
        self.break_on_error = on
        return ok, text

    async def refresh(self) -> tuple[BreakMark, ...]:
        """Fresh copies (hit counts move on the engine thread)."""
        if self.debugger.engine is not None:
            self.marks = await self.engine_side(self._snapshot)
        return self.marks

    async def _mutate(self, work: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
        def run() -> tuple[bool, str, tuple[BreakMark, ...]]:
            try:
                ok, text = work()
            except Exception as e:  # noqa: BLE001 - said in words, never a traceback
                ok, text = False, f"debugger: {e or type(e).__name__}"
            return ok, text, self._snapshot()
        ok, text, self.marks = await self.engine_side(run)
        return ok, text

    def marks_for(self, path: str | None) -> dict[int, bool]:
        """Lines of ``path`` with a breakpoint → whether it resolved (for the gutter)."""
        out: dict[int, bool] = {}
        for m in self.marks:
            if path is not None and m.path == path:
                out[m.line] = out.get(m.line, False) or m.verified
        return out

    # -- a pause ------------------------------------------------------------------------

    def on_paused(self, info: PauseInfo) -> None:
        self.paused = info
        self.frame = 0

    def frame_path(self, index: int) -> tuple[str, int] | None:
        paths = self.debugger.frame_paths
        return paths[index] if 0 <= index < len(paths) else None

    def resume(self, command: Command = CONTINUE) -> None:
        """Let the paused handler go on (steps end in a new pause, reported the same way)."""
        if self.paused is None:
            return
        self.paused = None
        self.debugger.resume(command)

    async def frame_details(self, frame: int) -> tuple[list[tuple[str, str]],
                                                       list[tuple[str, str]],
                                                       list[tuple[str, str]]]:
        """Locals, upvalues and ``ngx.ctx`` as seen from ``frame`` (read on the paused thread)."""
        def read(state: PauseState) -> Any:
            return state.locals(frame), state.upvalues(frame), state.ctx()
        return await asyncio.wrap_future(self.debugger.submit(read))

    async def evaluate(self, source: str, frame: int) -> tuple[bool, str]:
        """A Lua expression or statement in ``frame``; ``$name`` shows a request variable."""
        source = source.strip()
        if re.fullmatch(r"\$\w+", source):
            name = source[1:]

            def var(state: PauseState) -> tuple[bool, str]:
                value = state.var(name)
                return True, "nil (unset)" if value is None else repr(value)
            return await asyncio.wrap_future(self.debugger.submit(var))
        return await asyncio.wrap_future(self.debugger.evaluate(source, frame))

    async def check_location(self, file: str, line: int) -> str | None:
        """None when ``file:line`` holds Lua code, else the debugger's reason."""
        bp = await self.engine_side(lambda: self.debugger.resolve_location(file, line))
        return None if bp.verified else bp.message

    def release(self) -> None:
        """Quitting: no more pauses, and a paused handler goes on."""
        self.debugger.closing = True
        if self.paused is not None:
            self.resume(CONTINUE)
