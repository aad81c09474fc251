"""The app's debugger wiring: breakpoint keys and commands, pauses, stepping, evaluation.

A mixin of :class:`explorer.app.NgxExploreApp`, kept apart so the app stays about the
engine's life. The pause model it follows (docs/debugger.md): at a pause the engine's
thread is blocked inside the Lua hook, so everything shown comes from
:class:`explorer.debugging.DebugSession`, which reads the paused VM on that thread.
Handlers never await engine-side work themselves: they start workers, so the app's message
queue (and with it the continue key) is never stuck behind a paused engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches

from engine.lua.debugger import Command, PauseInfo

from .debugging import COMMANDS, DebugSession, parse_break, parse_command
from .engine_thread import EngineHost
from .widgets.debug_view import DebugView
from .widgets.lua_console import LuaConsole
from .widgets.source_view import SourceView

if TYPE_CHECKING:
    from engine import Engine

    from .screens.main import MainScreen

#: action parameter → the command it sends and what the status line says meanwhile
STEPS: dict[str, tuple[Command, str]] = {
    "continue": (Command.cont(), "running"),
    "over": (Command.step_over(), "stepping over"),
    "in": (Command.step_in(), "stepping into"),
    "out": (Command.step_out(), "stepping out"),
}


class DebugMixin:
    """Debugger handlers and actions for the app (see the module docstring)."""

    engine: Engine | None
    host: EngineHost
    session: DebugSession
    inflight: int  # composer requests sent and not answered yet
    main: MainScreen
    sub_title: str

    if TYPE_CHECKING:  # provided by textual.app.App
        def notify(self, message: str, *, title: str = "", severity: Any = "information",
                   timeout: float | None = None, markup: bool = True) -> None: ...
        def refresh_bindings(self) -> None: ...
        def run_worker(self, work: Any, *, group: str = "default", **kw: Any) -> Any: ...
        def call_after_refresh(self, callback: Any, *args: Any) -> bool: ...
        def _title_text(self) -> str: ...

    def _main_screen(self) -> MainScreen | None:
        """The main screen, None while the app starts or quits (late deliveries)."""
        try:
            return self.main
        except (LookupError, NoMatches):
            return None

    # -- engine → UI ----------------------------------------------------------------------

    def debug_paused(self, info: PauseInfo) -> None:
        """A handler stopped (delivered from the engine thread through the mailbox)."""
        session = self.session
        if session.debugger.closing:
            return
        main = self._main_screen()
        if main is None:
            return
        session.on_paused(info)
        main.show_debug_pane(activate=True)
        view = main.query_one(DebugView)
        view.show_pause(info, self.waiting_text())
        self._show_frame_location(0)
        where = info.frames[0].where if info.frames else "?"
        self.sub_title = f"{self._title_text()} — PAUSED at {where}"
        self.refresh_bindings()
        if info.reason == "error":
            self.notify(info.error or "error", title="Paused on error", severity="warning")
        stack = view.query_one("#debug-stack")
        self.call_after_refresh(stack.focus)

    def waiting_text(self) -> str:
        """What the rest of the engine does while one handler is paused, honestly."""
        info = self.session.paused
        if info is None:
            return ""
        composer = self.inflight
        listener = self.host.busy_connections()
        waiting = max(composer + listener - (1 if info.method else 0), 0)
        parts = [f"engine paused — {waiting} other request{'s' if waiting != 1 else ''} "
                 f"waiting (in flight: {composer} from the composer, {listener} on the "
                 "listener, this one included)"]
        if self.host.server is not None:
            parts.append("new connections wait in the listen queue")
        return "; ".join(parts)

    def tick_debug(self) -> None:
        """Keep the waiting count fresh while paused (requests keep arriving)."""
        main = self._main_screen()
        if self.session.paused is not None and main is not None:
            main.query_one(DebugView).show_status(self.waiting_text())

    def debug_marks_changed(self) -> None:
        """Push breakpoint markers (and the paused line) down to the source pane."""
        main = self._main_screen()
        if main is None:
            return
        by_file: dict[str, dict[int, bool]] = {}
        for m in self.session.marks:
            if m.path is not None:
                lines = by_file.setdefault(m.path, {})
                lines[m.line] = lines.get(m.line, False) or m.verified
        paused_at = None
        if self.session.paused is not None:
            paused_at = self.session.frame_path(self.session.frame)
        main.query_one(SourceView).set_debug_marks(by_file, paused_at)
        if self.session.marks or self.session.break_on_error:
            main.show_debug_pane(activate=False)

    def _show_frame_location(self, index: int) -> None:
        self.session.frame = index
        where = self.session.frame_path(index)
        main = self._main_screen()
        if where is not None and main is not None:
            main.show_location(self.engine, *where)
        self.debug_marks_changed()

    def report_unresolved(self, unresolved: list[Any]) -> None:
        """After a reload: the breakpoints whose line lost its code are kept, unresolved."""
        self.debug_marks_changed()
        if unresolved:
            text = "\n".join(f"{bp.id} {bp.describe()}: {bp.message}" for bp in unresolved)
            self.notify(text, title="Breakpoints not resolved after reload",
                        severity="warning", timeout=8)

    # -- actions ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The stepping keys exist only while a handler is paused (so they show in the
        footer then, and ``c``/``s`` keep their meaning elsewhere the rest of the time)."""
        if action == "debug_step":
            session = getattr(self, "session", None)  # None until the app is mounted
            paused = session.paused if session is not None else None
            if paused is None:
                return False
            if paused.reason == "error" and parameters and parameters[0] != "continue":
                return None  # shown disabled: an error only continues
        return True

    def action_debug_step(self, what: str) -> None:
        command, doing = STEPS[what]
        self._resume(command, doing)

    def _resume(self, command: Command, doing: str) -> None:
        if self.session.paused is None:
            return
        self.session.resume(command)
        main = self._main_screen()
        if main is None:
            return
        main.query_one(DebugView).show_running(
            f"{doing}… (the next stop shows here; the response when the request is done)")
        self.sub_title = self._title_text()
        self.debug_marks_changed()
        self.refresh_bindings()

    # -- events up ------------------------------------------------------------------------

    def on_source_view_breakpoint_toggled(self, event: SourceView.BreakpointToggled) -> None:
        engine = self.engine
        if engine is None:
            self.notify("no configuration is loaded", severity="error")
            return

        async def toggle() -> None:
            ok, text = await self.session.toggle(engine, event.file, event.line)
            self.notify(text, title="Breakpoint", severity="information" if ok else "warning")
            self.debug_marks_changed()

        self.run_worker(toggle(), group="debug")

    def on_source_view_run_to_requested(self, event: SourceView.RunToRequested) -> None:
        if self.session.paused is None:
            self.notify("run to line works while a handler is paused", severity="warning")
            return

        async def run_to() -> None:
            try:
                refused = await self.session.check_location(event.file, event.line)
            except Exception as e:  # noqa: BLE001 - said in words, never a traceback
                refused = str(e) or type(e).__name__
            if refused is not None:
                self.notify(refused, title="Run to line", severity="warning")
                return
            self._resume(Command.run_to(event.file, event.line), f"running to line {event.line}")

        self.run_worker(run_to(), group="debug")

    def on_debug_view_frame_selected(self, event: DebugView.FrameSelected) -> None:
        if self.session.paused is None:
            return
        self._show_frame_location(event.index)

        async def details() -> None:
            await self._show_details(event.view, event.index)

        self.run_worker(details(), group="debug-frame", exclusive=True)

    def on_debug_view_eval_requested(self, event: DebugView.EvalRequested) -> None:
        self.run_worker(self._evaluate(event.view, event.source, event.frame), group="debug")

    async def _evaluate(self, view: DebugView, source: str, frame: int) -> None:
        try:
            ok, text = await self.session.evaluate(source, frame)
        except Exception as e:  # noqa: BLE001 - a bad frame or a finished pause, in words
            ok, text = False, str(e) or type(e).__name__
        view.show_result(source, ok, text)
        if self.session.paused is not None:  # an assignment shows in the variables
            await self._show_details(view, frame)

    async def _show_details(self, view: DebugView, frame: int) -> None:
        try:
            locals_, upvalues, ctx = await self.session.frame_details(frame)
        except Exception as e:  # noqa: BLE001 - the pause ended, or a frame went away
            view.show_result(f"(frame {frame})", False, str(e) or type(e).__name__)
            return
        view.show_variables(locals_, upvalues, ctx)

    def on_lua_console_command_requested(self, event: LuaConsole.CommandRequested) -> None:
        self.run_worker(self._console_command(event.console, event.source), group="debug")

    async def _console_command(self, console: LuaConsole, line: str) -> None:
        try:
            await self._run_command(console, line)
        except Exception as e:  # noqa: BLE001 - said in the console, never a traceback
            console.show_result(False, f"debugger: {e or type(e).__name__}")

    async def _run_command(self, console: LuaConsole, line: str) -> None:
        command = parse_command(line)
        engine = self.engine
        if command is None:
            return
        session = self.session
        name, arg = command.name, command.arg
        if name == "help" or name not in COMMANDS:
            head = "" if name == "help" else f'unknown command ":{name}"; '
            console.show_result(name == "help", head + "commands:\n" + "\n".join(COMMANDS.values()))
            return
        if engine is None:
            console.show_result(False, "no configuration is loaded: fix it and reload (ctrl+r)")
            return
        if name == "breaks" or (name == "break" and not arg):
            marks = await session.refresh()
            lines = [m.describe() for m in marks] or ["no breakpoints"]
            lines.append(f"break on error: {'on' if session.break_on_error else 'off'}")
            console.show_result(True, "\n".join(lines))
            return
        if name == "break":
            try:
                spec = parse_break(arg)
            except ValueError as e:
                console.show_result(False, str(e))
                return
            ok, text = await session.add(engine, spec)
        elif name == "delete":
            ok, text = await session.delete(arg or "?")
        else:  # break-on-error
            if arg.lower() not in ("on", "off"):
                console.show_result(False, "usage: " + COMMANDS["break-on-error"])
                return
            ok, text = await session.set_break_on_error(engine, arg.lower() == "on")
        console.show_result(ok, text)
        self.debug_marks_changed()
