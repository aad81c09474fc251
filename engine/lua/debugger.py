"""Breakpoints, stepping and inspection inside live requests' Lua handlers.

The pausing model is a single-worker nginx stopped in gdb: when a handler reaches a
breakpoint, the line hook (``debugger.lua``) calls :meth:`Debugger.on_pause`
*synchronously*, on the thread running the engine, and the engine with its event loop
stays blocked until ``on_pause`` returns a :class:`Command`. Everything a pause shows
(frames, locals, upvalues, ``ngx.ctx``, variables, evaluation) is read through the
:class:`PauseState` from inside ``on_pause``: LuaJIT's runtime has a lock, and the paused
coroutine is the only code that may run Lua while it waits. A UI that must stay live runs
the engine in a worker thread and uses :class:`ThreadedDebugger`, which forwards each pause
to the UI and serves the UI's requests on the paused thread.

Nothing is paid while no breakpoint is armed: no hook is installed and the JIT is left as
it was. Armed, a line hook runs in every worker VM (hooks are global in LuaJIT) with the
JIT off (hooks never fire in compiled traces); the watchdog's checks move into that hook.
Time spent paused is hidden from the engine: the watchdog's CPU budget restarts and the
event loop's timers (client timeouts, ``ngx.sleep``, ``ngx.timer``) are pushed back by the
pause's length, as if the clock had stopped.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ._loader import load_chunk
from .debugger_lines import Resolution, SourceMap, canonical, check_expression
from .thread import text

if TYPE_CHECKING:
    from ..instance import Engine
    from .runtime import LuaWorker

_HIT = re.compile(r"^\s*(==|>=|>|%)?\s*(\d+)\s*$")
_POSITION = re.compile(r"^[^\n]*?:(\d+): ")


@dataclass(frozen=True)
class Command:
    """How a paused handler goes on: ``continue``, ``over``, ``in``, ``out`` or ``run_to``."""

    action: str = "continue"
    file: str | None = None
    line: int | None = None

    @classmethod
    def cont(cls) -> Command:
        return cls("continue")

    @classmethod
    def step_over(cls) -> Command:
        return cls("over")

    @classmethod
    def step_in(cls) -> Command:
        return cls("in")

    @classmethod
    def step_out(cls) -> Command:
        return cls("out")

    @classmethod
    def run_to(cls, file: str, line: int) -> Command:
        """Go on until ``file:line`` (any request), through a one-shot breakpoint."""
        return cls("run_to", file, line)


CONTINUE = Command()


@dataclass(eq=False)
class Breakpoint:
    """A place to stop, as the user gave it (``file:line``), and what it resolved to.

    ``verified`` is False with ``message`` saying why when the line holds no Lua code (or
    the file is unknown); it is re-resolved on each :meth:`Debugger.attach`, so it
    survives a reload while its line still holds code.
    """

    id: int
    file: str
    line: int
    condition: str | None = None
    #: "N" or "==N" (only the Nth hit), ">=N", ">N", "%N" (every Nth); hits count the
    #: times the line was reached with the condition true.
    hit_condition: str | None = None
    enabled: bool = True
    verified: bool = False
    message: str = ""
    source: str = ""  # chunk source it stops in: "=content_by_lua(nginx.conf:22)", "@/a.lua"
    chunk_line: int = 0
    hits: int = 0
    temporary: bool = False

    def hit_ok(self) -> bool:
        if not self.hit_condition:
            return True
        m = _HIT.match(self.hit_condition)
        assert m is not None  # checked when set
        op, n = m.group(1) or "==", int(m.group(2))
        return {"==": self.hits == n, ">=": self.hits >= n, ">": self.hits > n,
                "%": n > 0 and self.hits % n == 0}[op]

    def describe(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Frame:
    """One Lua frame of a paused thread; ``index`` 0 is where it stopped."""

    index: int
    level: int  # the frame's stack level in the paused coroutine (internal)
    source: str  # the chunk source: "=content_by_lua(nginx.conf:22)" or "@/abs/x.lua"
    chunk: str  # readable: "content_by_lua(nginx.conf:22)", "/abs/x.lua"
    line: int  # line in the chunk
    file: str  # where that is for the user: "nginx.conf", "lua/x.lua"
    file_line: int
    function: str  # "main chunk", "f", "function at line 12"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.file_line}"


@dataclass(frozen=True)
class PauseInfo:
    """A plain-data copy of a pause, safe to hand to another thread (a UI)."""

    reason: str
    where: str
    method: str | None
    uri: str | None
    phase: str
    chunk: str
    error: str | None
    note: str
    frames: tuple[Frame, ...]
    locals: tuple[tuple[str, str], ...]
    upvalues: tuple[tuple[str, str], ...]
    ctx: tuple[tuple[str, str], ...]


class NotPaused(RuntimeError):
    """A PauseState used after its handler went on, or from another thread."""


class PauseState:
    """A stopped handler: where it is, its request, and ways to look inside.

    Its methods run Lua in the paused VM, so they work only on the paused thread and only
    until ``on_pause`` returns (else :class:`NotPaused`).
    """

    def __init__(self, debugger: Debugger, session: _Session, reason: str,
                 breakpoint: Breakpoint | None, error: str | None, note: str) -> None:
        self.debugger = debugger
        self.reason = reason  # "breakpoint", "step", "run_to", "error"
        self.breakpoint = breakpoint
        self.error = error
        self.note = note  # e.g. a condition that failed to evaluate
        self._session = session
        self._thread = threading.get_ident()
        self._live = True
        worker = session.worker
        lr = worker.bridge.current
        self.lua_request = lr
        r = lr.r if lr is not None else None
        self.is_timer = r is not None and getattr(r, "phase_name", "") == "timer" \
            and not hasattr(r, "method")
        self.request = None if r is None or self.is_timer else r
        self.method: str | None = getattr(self.request, "method", None)
        self.uri: str | None = getattr(self.request, "uri", None)
        self.is_subrequest = self.request is not None and self.request.parent is not None
        # the context of what runs: the request's, or init_worker's (which has none)
        self.phase = _context_name(worker, lr.state if lr is not None else
                                   worker.rt[b"current"]())
        self.frames: list[Frame] = debugger._frames(session, error)
        bottom = self.frames[-1] if self.frames else None
        self.chunk = bottom.chunk if bottom else ""

    # -- where -----------------------------------------------------------------------

    @property
    def frame(self) -> Frame | None:
        return self.frames[0] if self.frames else None

    @property
    def where(self) -> str:
        """``paused at nginx.conf:23 in content_by_lua(nginx.conf:22) GET /t``."""
        top = self.frame
        at = top.where if top else "?"
        head = "paused on error at" if self.reason == "error" else "paused at"
        if self.is_timer:
            who = "ngx.timer"
        elif self.request is not None:
            who = f"{self.method} {self.request.unparsed_uri if not self.is_subrequest else self.uri}"
            if self.is_subrequest:
                main = self.request.main
                who += f" (subrequest of {main.method} {main.unparsed_uri})"
        else:
            who = "(no request)"
        return f"{head} {at} in {self.chunk} {who}"

    # -- inspection ------------------------------------------------------------------

    def _d(self) -> _Session:
        if not self._live or threading.get_ident() != self._thread:
            raise NotPaused("the handler is no longer paused here: use the PauseState inside "
                            "on_pause, on the engine's thread")
        return self._session

    def _level(self, frame: int) -> int:
        if not 0 <= frame < len(self.frames):
            raise IndexError(f"no frame {frame} (the stack has {len(self.frames)})")
        return self.frames[frame].level

    def locals(self, frame: int = 0) -> list[tuple[str, str]]:
        """The frame's live locals in declaration order, values shown Lua-style."""
        return _pairs(self._d().locals(self._level(frame)))

    def upvalues(self, frame: int = 0) -> list[tuple[str, str]]:
        return _pairs(self._d().upvalues(self._level(frame)))

    def eval(self, source: str, frame: int = 0) -> tuple[bool, str]:
        """Evaluate an expression, or run a statement (``x = 5`` assigns the local), in a
        frame: (ok, shown values) or (False, Lua's error text)."""
        ok, out = self._d().eval(self._level(frame), source.encode("utf-8", "surrogateescape"))
        return bool(ok), text(out) if out is not None else ""

    def ctx(self) -> list[tuple[str, str]]:
        """``ngx.ctx`` of the request, shown as the trace shows it."""
        self._d()
        lr = self.lua_request
        ctx = lr.state[b"ctx"] if lr is not None else None
        if ctx is None:
            return []
        snap = self._session.worker.rt[b"snapshot"](ctx)
        return sorted((text(k), text(v)) for k, v in snap.items())

    def var(self, name: str) -> str | None:
        """A request variable (``$uri``, ``$arg_x``, ``$http_host``...), None if unset."""
        self._d()
        return self.request.var(name.lstrip("$")) if self.request is not None else None

    def info(self) -> PauseInfo:
        """A copy of this pause as plain data (for a UI thread)."""
        has = bool(self.frames)
        return PauseInfo(self.reason, self.where, self.method, self.uri, self.phase, self.chunk,
                         self.error, self.note, tuple(self.frames),
                         tuple(self.locals()) if has else (),
                         tuple(self.upvalues()) if has else (), tuple(self.ctx()))


class _Session:
    """The debugger's part of one worker VM: debugger.lua's functions, fetched once (a
    table lookup through lupa during a pause would misread the VM's stack; calls are safe).
    """

    def __init__(self, worker: LuaWorker, d: Any) -> None:
        self.worker = worker
        self.arm, self.stepping, self.frames = d[b"arm"], d[b"stepping"], d[b"frames"]
        self.locals, self.upvalues, self.eval, self.test = \
            d[b"locals"], d[b"upvalues"], d[b"eval"], d[b"test"]


class Debugger:
    """Breakpoints over an :class:`~engine.instance.Engine`'s Lua handlers.

    Give ``on_pause`` (or subclass and override :meth:`on_pause`), add breakpoints, then
    attach: ``engine.debugger = dbg`` (or ``dbg.attach(engine)``; attaching to a reloaded
    Engine re-resolves every breakpoint against its configuration).
    """

    def __init__(self, on_pause: Callable[[PauseState], Command | None] | None = None,
                 break_on_error: bool = False) -> None:
        self._callback = on_pause
        self._break_on_error = break_on_error
        self.breakpoints: list[Breakpoint] = []
        self.engine: Engine | None = None
        self.last_error = ""  # why the last run_to went nowhere, for a UI to show
        self._sessions: weakref.WeakKeyDictionary[Any, _Session] = weakref.WeakKeyDictionary()
        self._ids = iter(range(1, 1 << 62))
        self._map: SourceMap | None = None
        self._pausing = False
        self._temps: list[Breakpoint] = []  # run_to's one-shot target

    # -- what to do at a pause -----------------------------------------------------------

    def on_pause(self, state: PauseState) -> Command:
        """Called on the engine's thread with the engine blocked; return how to go on."""
        if self._callback is None:
            return CONTINUE
        return self._callback(state) or CONTINUE

    # -- breakpoints -----------------------------------------------------------------

    @property
    def break_on_error(self) -> bool:
        return self._break_on_error

    @break_on_error.setter
    def break_on_error(self, value: bool) -> None:
        self._break_on_error = bool(value)
        self._arm_all()

    def add_breakpoint(self, file: str, line: int, condition: str | None = None,
                       hit_condition: str | None = None) -> Breakpoint:
        """Add and (when attached) resolve a breakpoint; check ``bp.verified``/``message``.

        A condition that does not compile, or a bad hit condition, raises ValueError with
        Lua's (or a plain) message: nothing is added.
        """
        if condition is not None and not condition.strip():
            condition = None
        if condition is not None:
            err = check_expression(condition, expression_only=True)
            if err is not None:
                raise ValueError(f"bad condition: {err}")
        if hit_condition is not None and not _HIT.match(hit_condition):
            raise ValueError(f'bad hit condition "{hit_condition}" (expected N, ==N, >=N, >N '
                             "or %N)")
        bp = Breakpoint(next(self._ids), file, int(line), condition, hit_condition)
        self.breakpoints.append(bp)
        self._resolve(bp)
        self._arm_all()
        return bp

    def remove_breakpoint(self, bp: Breakpoint | int) -> None:
        bp_id = bp if isinstance(bp, int) else bp.id
        self.breakpoints = [b for b in self.breakpoints if b.id != bp_id]
        self._arm_all()

    def set_enabled(self, bp: Breakpoint, enabled: bool) -> None:
        bp.enabled = enabled
        self._arm_all()

    def clear(self) -> None:
        self.breakpoints = []
        self._arm_all()

    def resolve_location(self, file: str, line: int) -> Breakpoint:
        """Resolve ``file:line`` without adding it (a UI checking a target first)."""
        bp = Breakpoint(0, file, int(line), temporary=True)
        self._resolve(bp)
        return bp

    # -- attaching -------------------------------------------------------------------

    def attach(self, engine: Engine) -> list[Breakpoint]:
        """Debug ``engine`` (detaching from the previous one); returns the breakpoints that
        did not resolve against its configuration."""
        if self.engine is not None and self.engine is not engine:
            self.detach()
        service = engine.http.services.get("lua")
        if service is None:
            raise ValueError("the Lua module is not loaded")
        self.engine = engine
        self._map = SourceMap(engine)
        for bp in self.breakpoints:
            self._resolve(bp)
        service.debugger = self
        for worker in service.workers:
            self.add_worker(worker)
        return [bp for bp in self.breakpoints if not bp.verified]

    def detach(self) -> None:
        """Disarm every worker VM and forget the engine (breakpoints are kept)."""
        for session in list(self._sessions.values()):
            session.arm(None, False, False)
        self._sessions = weakref.WeakKeyDictionary()
        if self.engine is not None:
            service = self.engine.http.services.get("lua")
            if service is not None and service.debugger is self:
                service.debugger = None
        self.engine = None

    def add_worker(self, worker: LuaWorker) -> None:
        """Arm a worker VM (the service calls this for VMs made after attach)."""
        if worker in self._sessions:
            return
        ref: Callable[[], _Session | None] = lambda: None

        def event(kind: bytes, bp_id: int, line: int, message: bytes | None) -> bytes:
            s = ref()
            if s is None:
                return b"continue"
            try:
                return self._event(s, text(kind), int(bp_id), message)
            except Exception as exc:  # a failing UI callback must not fail the request
                self._report(exc)
                return b"continue"

        def canon(source: bytes) -> bytes:
            return canonical(text(source)).encode("utf-8", "surrogateescape")

        session = _Session(worker, load_chunk(worker.lua, "debugger")(worker.rt, event, canon))
        ref = weakref.ref(session)
        self._sessions[worker] = session
        self._arm(session, False)

    def _report(self, exc: Exception) -> None:
        """A debugger-side failure: kept for the UI and written to the error log."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.engine is not None:
            self.engine.http.log_global("alert", f"ngx-explore debugger: {self.last_error}")

    # -- arming ----------------------------------------------------------------------

    def _lines(self, session: _Session) -> Any:
        lua = session.worker.lua
        by_line: dict[int, dict[bytes, int]] = {}
        for bp in self.breakpoints + self._temps:
            if bp.verified and bp.enabled:
                key = bp.source.encode("utf-8", "surrogateescape")
                by_line.setdefault(bp.chunk_line, {})[key] = bp.id
        if not by_line:
            return None
        return lua.table_from({line: lua.table_from(ids) for line, ids in by_line.items()})

    def _arm(self, session: _Session, stepping: bool) -> None:
        lines = self._lines(session)
        session.arm(lines, lines is not None or stepping, self._break_on_error)

    def _arm_all(self) -> None:
        for session in list(self._sessions.values()):
            self._arm(session, bool(session.stepping()))

    # -- a stop ----------------------------------------------------------------------

    def _event(self, session: _Session, kind: str, bp_id: int, message: bytes | None) -> bytes:
        """The hook's call: decide whether to pause, pause, and answer the hook."""
        if self._pausing:
            return b"skip"
        # The VM's main stack still holds the resume's arguments, which lupa would read as
        # extra results of table lookups; a call (lupa empties the stack around calls)
        # leaves it clean for the whole pause.
        session.stepping()
        temps = self._temps
        note = ""
        bp = None
        if kind == "bp":
            bp = next((b for b in self.breakpoints + temps if b.id == bp_id), None)
            if bp is None or not bp.enabled:
                return b"skip"
            if bp.condition:
                ok, val = session.test(self._top_level(session),
                                       bp.condition.encode("utf-8", "surrogateescape"))
                if ok and not val:
                    return b"skip"
                if not ok:
                    note = f"condition {bp.condition!r} failed: {text(val)}"
            bp.hits += 1
            if not bp.hit_ok():
                return b"skip"
        reason = {"bp": "run_to" if bp is not None and bp.temporary else "breakpoint",
                  "step": "step", "error": "error"}[kind]
        self._pausing = True
        started = time.monotonic()
        command = CONTINUE
        try:
            state = PauseState(self, session, reason, None if reason == "run_to" else bp,
                               text(message) if message is not None else None, note)
            try:
                command = self.on_pause(state) or CONTINUE
            except Exception as exc:  # a failing UI must not fail the request: go on
                self._report(exc)
            finally:
                state._live = False
        finally:
            self._pausing = False
            self._temps = []
            _freeze_loop_time(time.monotonic() - started)
        action = command.action
        if reason == "error" and action != "continue":
            action = "continue"  # the thread is dead: there is nothing left to step
        if action == "run_to":
            target = self.resolve_location(command.file or "", command.line or 0)
            self.last_error = "" if target.verified else target.message
            self._temps = [target] if target.verified else []
            if target.verified:
                target.id = next(self._ids)
            action = "continue"
        if action not in ("continue", "over", "in", "out"):
            action = "continue"
        for s in list(self._sessions.values()):
            self._arm(s, s is session and action != "continue")
        return action.encode()

    def _top_level(self, session: _Session) -> int:
        frames = session.frames()
        return int(frames[1][b"level"]) if frames[1] is not None else 0

    def _frames(self, session: _Session, error: str | None) -> list[Frame]:
        out = []
        for i, rec in enumerate(_values(session.frames())):
            source = text(rec[b"source"])
            line = int(rec[b"line"] or 0)
            if line <= 0 and i == 0 and error:  # LuaJIT loses the line of a VM error...
                m = _POSITION.match(error)  # ...which its message still carries
                line = int(m.group(1)) if m else line
            file, file_line = self._map.display(source, line) if self._map else (source, line)
            name = text(rec[b"name"]) if rec[b"name"] else ""
            if not name:  # a handler is a function at line 1 of its chunk (runtime.lua)
                defined = int(rec[b"linedefined"] or 0)
                name = "main chunk" if defined <= 1 else f"function at line {defined}"
            out.append(Frame(i, int(rec[b"level"]), source, source[1:], line, file, file_line,
                             name))
        return out

    # -- resolving ---------------------------------------------------------------------

    def path_of(self, file: str) -> str | None:
        """The absolute path ``file`` names, found as breakpoints find it (a configuration
        file, else a Lua file); None when unknown, ambiguous or not attached. A UI puts its
        breakpoint markers on the lines of the file it shows with this."""
        if self._map is None:
            return None
        conf = self._map._conf_file(file)
        if conf is not None:
            return None if conf.startswith("!") else conf
        return self._map._lua_file(file)

    def _resolve(self, bp: Breakpoint) -> None:
        if self._map is None:
            res = Resolution(message="not attached to an engine yet")
        else:
            res = self._map.resolve(bp.file, bp.line)
        bp.verified, bp.message, bp.source, bp.chunk_line = \
            res.ok, res.message, res.source, res.chunk_line


# -- helpers -------------------------------------------------------------------------------

def _values(table: Any) -> list[Any]:
    if table is None:
        return []
    return [table[i] for i in range(1, len(table) + 1)]


def _pairs(table: Any) -> list[tuple[str, str]]:
    flat = [text(v) for v in _values(table)]
    return list(zip(flat[::2], flat[1::2]))


def _context_name(worker: LuaWorker, state: Any) -> str:
    number = state[b"context"] if state is not None else None
    for name, bit in worker.rt[b"CTX"].items():
        if bit == number:
            return text(name)
    return ""


def _freeze_loop_time(elapsed: float) -> None:
    """Push the running event loop's timers back by ``elapsed``: for the engine, the clock
    stood still while it was paused (no client timeout or ngx.sleep fires because of it)."""
    if elapsed < 0.001:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for handle in getattr(loop, "_scheduled", ()):  # a heap: a uniform shift keeps its order
        if hasattr(handle, "_when"):
            handle._when += elapsed
