"""The ngx-explore app: the main screen's panes and the engine they look at.

The App owns the engine's life (load in a thread worker, reload on a key or when a
watched file changes, the live listener) and hands data down to the screen by method
calls; widgets report up with messages. A config that fails to load never replaces a
serving engine: its error is shown as ``nginx -t`` words it and the old one carries on.

The engine and the listener run on their own thread and loop (``engine_thread``), so a
Lua breakpoint, which blocks the engine's loop, never freezes the UI; the debugger's
keys and panes are wired in ``app_debug``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import TabbedContent

from engine import ConfigError, Engine, HttpRequest
from themes import DEFAULT_THEME, load_themes, syntax_style

from . import export
from .app_debug import DebugMixin
from .debugging import DebugSession
from .engine_thread import EngineHost, Mailbox
from .history import History, Preferences
from .messages import ConfigFailed, EngineLoaded, ExchangeServed
from .screens.export import ExportChooser, ExportScreen
from .screens.help import HelpScreen
from .screens.history_picker import HistoryPicker
from .screens.main import PANES, TABBED, MainScreen
from .widgets.composer import Composer
from .widgets.log_view import LogView
from .widgets.lua_console import LuaConsole
from .widgets.pane import Pane
from .widgets.requests_list import RequestsList
from .widgets.response_view import ResponseView
from .widgets.source_view import SourceView


class NgxExploreApp(DebugMixin, App[int]):
    """Explore an nginx/OpenResty configuration by sending requests through it."""

    CSS_PATH = "app.tcss"
    TITLE = "ngx-explore"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        *[Binding(key, f"focus_pane('{pane}')", title, show=False, priority=True)
          for pane, (title, key, _, _) in PANES.items()],
        Binding("f10", "maximize_pane", "Maximise", priority=True),
        Binding("ctrl+s", "send", "Send", priority=False),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("ctrl+o", "export", "Export"),
        Binding("f11", "tour", "Tour"),
        Binding("c", "debug_step('continue')", "Continue"),
        Binding("n", "debug_step('over')", "Step over"),
        Binding("s", "debug_step('in')", "Step into"),
        Binding("o", "debug_step('out')", "Step out"),
    ]

    def __init__(self, conf_path: str, prefix: str | None = None, *, listen: bool = True,
                 port_offset: int = 0, watch: bool = True, stable: bool = False,
                 history: History | None = None) -> None:
        super().__init__()
        self.conf_path = os.path.abspath(conf_path)
        self.prefix = prefix
        self.listen = listen
        self.port_offset = port_offset
        self.watch_files_enabled = watch
        self.stable = stable
        self.engine: Engine | None = None
        self.host: EngineHost = None  # type: ignore[assignment]  # made on mount
        self.session: DebugSession = None  # type: ignore[assignment]
        self.mailbox: Mailbox | None = None
        self.inflight = 0
        self.prefs = Preferences()
        self.history = (history or History()).load()
        self.served = 0
        self._stop_watch: asyncio.Event | None = None
        # the theme is chosen before the first mount: changing it later re-applies all CSS
        for data in load_themes().values():
            self.register_theme(data.theme)
        wanted = self.prefs.get("theme", DEFAULT_THEME)
        self.theme = wanted if wanted in self.available_themes else DEFAULT_THEME

    # -- start-up ---------------------------------------------------------------------

    async def on_mount(self) -> None:
        self.mailbox = mailbox = Mailbox(self._deliver)
        self.host = EngineHost(listen=self.listen, port_offset=self.port_offset,
                               on_exchange=lambda ex: mailbox.put("exchange", ex),
                               on_notice=lambda msg: mailbox.put("line", ("notice", msg)))
        self.session = DebugSession(self.host, lambda info: mailbox.put("pause", info))
        self.set_interval(0.5, self.tick_debug)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        await self.push_screen(MainScreen(self.history, self.stable))
        self._apply_syntax_theme()
        self.sub_title = f"{self._short(self.conf_path)} — loading"
        # parse after the first frame is on screen: the UI shows up at once
        self.call_after_refresh(self.load_engine, False)

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("main screen not mounted")

    def _short(self, path: str) -> str:
        if self.stable:
            return os.path.basename(path)
        try:
            rel = os.path.relpath(path)
        except ValueError:
            return path
        return rel if not rel.startswith("..") else path

    def _theme_changed(self, theme: Any) -> None:
        self.prefs.set("theme", self.theme)
        self._apply_syntax_theme()

    def _apply_syntax_theme(self) -> None:
        style = syntax_style(self.theme, self.current_theme.dark)
        try:
            main = self.main
        except (LookupError, NoMatches):
            return
        source = main.query_one(SourceView)
        source.syntax_theme = style
        source.rerender()
        main.query_one(ResponseView).syntax_theme = style

    # -- the engine ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def load_engine(self, reloaded: bool) -> None:
        """Parse and build the engine off the UI thread, like ``nginx -t`` then swap."""
        try:
            engine = Engine.load(self.conf_path, prefix=self.prefix)
        except ConfigError as e:
            self.post_message(ConfigFailed(e, serving=self.engine is not None))
            return
        except Exception as e:  # an engine bug is reported the nginx way, not as a traceback
            err = ConfigError(f"engine failed to load the configuration: "
                              f"{type(e).__name__}: {e}", level="alert")
            self.post_message(ConfigFailed(err, serving=self.engine is not None))
            return
        self.post_message(EngineLoaded(engine, reloaded))

    async def on_engine_loaded(self, message: EngineLoaded) -> None:
        old, engine = self.engine, message.engine
        mailbox = self.mailbox
        assert mailbox is not None
        engine.on_log(lambda record: mailbox.put("log", record))
        if self.session.paused is not None:
            self.notify("the new configuration starts once the paused handler goes on",
                        title="Reload")
        outcome = await self.host.serve(engine, old, self.session.before_start)
        for level, text in outcome.problems:
            self._log_line(level, text)
            if level == "emerg":
                self.notify(f"nginx: [emerg] {text}", title="Listener", severity="error")
        if not outcome.serving:
            return
        self.engine = engine
        self.main.show_engine(engine)
        self.sub_title = self._title_text()
        self.report_unresolved(outcome.unresolved)
        if message.reloaded:
            self._log_line("notice", "reconfiguring: new configuration loaded")
            self.notify("configuration reloaded", title="Reload")
        if self.watch_files_enabled:
            self.watch_config(self._watched_paths(engine))

    def on_config_failed(self, message: ConfigFailed) -> None:
        err = message.error
        self.main.show_config_error(err, message.serving, self.conf_path)
        self._log_line(getattr(err, "level", "emerg"), f"{getattr(err, 'message', err)}"
                       + (f" in {err.file}:{err.line}" if getattr(err, "file", None)
                          and getattr(err, "line", None) else ""))
        if message.serving:
            self.notify(f"nginx: {err}\nthe previous configuration keeps serving",
                        title="Reload failed", severity="error", timeout=8)
            self.sub_title = f"{self._short(self.conf_path)} — reload FAILED, old config serving"
        else:
            failed = "start failed" if getattr(err, "level", "emerg") == "error" \
                else "configuration test failed"  # init_by_lua fails at start, not at -t
            self.sub_title = f"{self._short(self.conf_path)} — {failed}"
            if self.watch_files_enabled:
                self.watch_config({self.conf_path})

    def _deliver(self, batch: list[tuple[str, Any]]) -> None:
        """What the engine thread handed over (mailbox), on the UI thread, in order."""
        try:
            main = self.main
            logs = main.query_one(LogView)
        except (LookupError, NoMatches):
            return
        for kind, item in batch:
            if kind == "log":
                logs.add_record(item)
            elif kind == "line":
                self._log_line(*item)
            elif kind == "exchange":
                self.served += 1
                main.add_exchange(item, "listener", select=False)
            elif kind == "pause":
                self.debug_paused(item)

    def _log_line(self, level: str, message: str) -> None:
        from engine.http.log import nginx_time
        try:
            self.main.query_one(LogView).add_line(
                level, f"{nginx_time()} [{level}] {os.getpid()}#{os.getpid()}: {message}")
        except (LookupError, NoMatches):
            pass

    # -- the live listener --------------------------------------------------------------

    def _title_text(self) -> str:
        bound = self.host.bound if self.host is not None else []
        where = ("listening on " + ", ".join(f"{a}:{p}" for a, p in bound) if bound
                 else "in-process only (no listener)")
        return f"{self._short(self.conf_path)} — {where}"

    def on_exchange_served(self, message: ExchangeServed) -> None:
        self.served += 1
        self.main.add_exchange(message.exchange, message.origin,
                               select=message.origin == "composer")

    # -- watching files -------------------------------------------------------------------

    def _watched_paths(self, engine: Engine) -> set[str]:
        paths = set(engine.parsed.files) | {self.conf_path}
        for d in {os.path.dirname(p) for p in paths}:
            paths.add(d)
        return paths

    @work(exclusive=True, group="watch")
    async def watch_config(self, paths: set[str]) -> None:
        """Reload when the config, an included file or a Lua module changes."""
        try:
            from watchfiles import awatch
        except ImportError:
            return
        if self._stop_watch is not None:
            self._stop_watch.set()
        stop = self._stop_watch = asyncio.Event()
        files = {p for p in paths if not os.path.isdir(p)}
        dirs = sorted({p for p in paths if os.path.isdir(p)} or
                      {os.path.dirname(p) for p in files})

        def wanted(_change: Any, path: str) -> bool:
            return path in files or path.endswith(".lua")

        try:
            async for _ in awatch(*dirs, watch_filter=wanted, stop_event=stop,
                                  rust_timeout=500, yield_on_timeout=False):
                self.load_engine(True)
        except (OSError, RuntimeError) as e:
            self._log_line("warn", f"watching files stopped: {e}")

    async def on_unmount(self) -> None:
        if self._stop_watch is not None:
            self._stop_watch.set()
        if self.mailbox is not None:
            self.mailbox.closed = True
        if self.host is not None:
            self.session.release()  # a paused handler goes on, none pauses again
            await self.host.close()

    # -- requests ---------------------------------------------------------------------------

    @on(Composer.SendRequested)
    def _send_requested(self, event: Composer.SendRequested) -> None:
        self.send_request(event.form)

    @work(group="requests")
    async def send_request(self, form: Any) -> None:
        engine = self.engine
        if engine is None:
            self.notify("no configuration is loaded: fix it and reload (ctrl+r)",
                        severity="error")
            return
        port = form.port
        ssl_ports = engine.ssl_ports()
        if port is None and form.tls:
            port = ssl_ports[0] if ssl_ports else 443
        elif port is None:
            default = engine.default_listen()
            port = default[1] if default else 80
        # in-process there is no handshake: TLS without its facts ($ssl_* not found),
        # and plain HTTP to a TLS port gets nginx's 497 as over a socket
        req = HttpRequest(form.method, form.target, headers=form.headers, body=form.body,
                          server_port=port, tls={} if form.tls else None,
                          plain_on_https=not form.tls and port in ssl_ports)
        # no client-side timeout: time paused at a breakpoint is not the engine's to count
        self.inflight += 1
        try:
            exchange = await self.host.request(engine, req)
        except Exception as e:  # noqa: BLE001 - an engine bug, reported as nginx would
            self._log_line("alert", f"engine error: {type(e).__name__}: {e}")
            self.notify(f"engine error: {e}", severity="error")
            return
        finally:
            self.inflight -= 1
        self.post_message(ExchangeServed(exchange, "composer"))

    @on(LuaConsole.EvalRequested)
    def _lua_requested(self, event: LuaConsole.EvalRequested) -> None:
        self.eval_lua(event.console, event.source)

    @work(group="lua")
    async def eval_lua(self, console: LuaConsole, source: str) -> None:
        """Lua in the engine's VM, on the engine thread; while a handler is paused, in its
        selected frame (the paused handler holds the VM)."""
        engine = self.engine
        try:
            if self.session.paused is not None:
                ok, text = await self.session.evaluate(source, self.session.frame)
                text = f"(frame {self.session.frame} of the paused handler) {text}"
            elif engine is None or not hasattr(engine, "lua_eval"):
                ok, text = False, "the Lua runtime is not available in this build"
            else:
                ok, text = await self.host.call(engine.lua_eval, source)
        except Exception as e:  # noqa: BLE001 - Lua errors arrive as (False, msg)
            ok, text = False, str(e)
        console.show_result(ok, text)

    # -- actions ----------------------------------------------------------------------------

    def action_focus_pane(self, pane: str) -> None:
        main = self.main
        if pane in TABBED:
            if pane == "debug":
                main.show_debug_pane(activate=False)
            main.query_one("#bottom", TabbedContent).active = f"tab-{pane}"
        if main.maximized is not None:
            main.minimize()
        target = main.query_one(PANES[pane][2])
        self.call_after_refresh(target.focus)

    def _focused_pane(self) -> Pane | None:
        node = self.focused
        while node is not None and not isinstance(node, Pane):
            node = node.parent  # type: ignore[assignment]
        return node

    def action_maximize_pane(self) -> None:
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
            return
        pane = self._focused_pane()
        if pane is not None:
            screen.maximize(pane, container=False)

    def action_help(self) -> None:
        pane = self._focused_pane()
        title = pane.title if pane else "ngx-explore"
        self.push_screen(HelpScreen(f"{title} pane" if pane else title,
                                    pane.help_class if pane else None))

    def action_send(self) -> None:
        self.main.query_one(Composer).action_send()

    def action_reload(self) -> None:
        self.load_engine(True)

    def action_clear_logs(self) -> None:
        self.main.query_one(LogView).action_clear()

    def action_history(self) -> None:
        def chosen(entry: Any) -> None:
            if entry is not None:
                self.main.query_one(Composer).fill(entry)

        self.push_screen(HistoryPicker(self.history.newest_first()), chosen)

    def action_tour(self) -> None:
        """Pick a concept of the samples' tour: its requests are sent, the first is
        left in the composer."""
        from .screens.tour import TourPicker
        from .tour import load_tour

        def chosen(concept: Any) -> None:
            if concept is None or not concept.requests:
                return
            composer = self.main.query_one(Composer)
            for entry in concept.requests:
                composer.fill(entry)
                composer.action_send()
            composer.fill(concept.requests[0])

        self.push_screen(TourPicker(load_tour()), chosen)

    def action_export(self, kind: str | None = None) -> None:
        ex = self.main.query_one(RequestsList).selected
        if ex is None or self.engine is None:
            self.notify("select a request first", severity="warning")
            return
        if kind is None:
            self.push_screen(ExportChooser(), lambda k: self.action_export(k) if k else None)
            return
        number = self.main.query_one(RequestsList)._numbers.get(id(ex), ex.id)
        if kind == "json":
            text = export.to_json(ex)
        elif kind == "curl":
            text = export.to_curl_command(ex, self._origin())
        else:
            text = export.to_test_nginx(ex, self.engine.parsed, number=1)
        self.push_screen(ExportScreen(kind, text, f"ngx-explore-request-{number}",
                                      os.getcwd()))

    def _origin(self) -> str | None:
        bound = self.host.bound if self.host is not None else None
        if bound:
            first = bound[0]
            if isinstance(first, tuple) and len(first) >= 2:
                host = first[0] if first[0] not in ("*", "0.0.0.0", "") else "127.0.0.1"
                return f"http://{host}:{first[1]}"
        return None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Reload configuration", "Re-read the config (ctrl+r)",
                            self.action_reload)
        for kind, label in (("json", "JSON trace"), ("curl", "curl command"),
                            ("test-nginx", "Test::Nginx block")):
            yield SystemCommand(f"Export request as {label}",
                                "Export the selected request",
                                lambda k=kind: self.action_export(k))
        yield SystemCommand("Clear logs", "Empty the logs pane", self.action_clear_logs)
        yield SystemCommand("Tour of the samples", "Pick a concept and send its requests (F11)",
                            self.action_tour)
        yield SystemCommand("Composer history", "Load a sent request into the composer",
                            self.action_history)
        for pane, (title, key, _, _) in PANES.items():
            yield SystemCommand(f"Focus {title} pane", f"({key.upper()})",
                                lambda p=pane: self.action_focus_pane(p))

