"""The ngx-explore app: the main screen's panes and the engine they look at.

The App owns the engine's life (load in a thread worker, reload on a key or when a
watched file changes, the live listener) and hands data down to the screen by method
calls; widgets report up with messages. A config that fails to load never replaces a
serving engine: its error is shown as ``nginx -t`` words it and the old one carries on.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from engine import ConfigError, Engine, HttpRequest
from themes import DEFAULT_THEME, load_themes, syntax_style

from . import export
from .history import History, Preferences
from .messages import ConfigFailed, EngineLoaded, ExchangeServed, ShowSource
from .screens.export import ExportChooser, ExportScreen
from .screens.help import HelpScreen
from .screens.history_picker import HistoryPicker
from .widgets.composer import Composer
from .widgets.config_tree import ConfigNode, ConfigTree
from .widgets.line_list import LineList
from .widgets.log_view import LogView
from .widgets.lua_console import LuaConsole
from .widgets.pane import Pane
from .widgets.requests_list import RequestsList
from .widgets.response_view import ResponseView
from .widgets.source_view import SourceView
from .widgets.trace_view import TraceView

#: pane id → (title, key, focus target selector, help class)
PANES: dict[str, tuple[str, str, str, type]] = {
    "config": ("Config", "f2", "ConfigTree", ConfigTree),
    "source": ("Source", "f3", "SourceView", SourceView),
    "composer": ("Composer", "f4", "#url", Composer),
    "requests": ("Requests", "f5", "RequestsList", RequestsList),
    "response": ("Response", "f6", "ResponseView", ResponseView),
    "trace": ("Trace", "f7", "TraceView", TraceView),
    "logs": ("Logs", "f8", "LogLines", LogView),
    "lua": ("Lua", "f9", "#lua-input", LuaConsole),
}


def _pane(pane_id: str) -> Pane:
    title, key, _, cls = PANES[pane_id]
    return Pane(title, key.upper(), help_class=cls, id=f"pane-{pane_id}")


class MainScreen(Screen[None]):
    """Config and source | composer and requests | response and trace; logs and Lua below."""

    def __init__(self, history: History, stable: bool = False) -> None:
        super().__init__()
        self.history = history
        self.stable = stable

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="top"):
            with Vertical(id="left"):
                with _pane("config"):
                    yield ConfigTree(id="config-tree")
                with _pane("source"):
                    yield SourceView(id="source-view")
            with Vertical(id="middle"):
                with _pane("composer"):
                    yield Composer(history=self.history, id="composer")
                with _pane("requests"):
                    yield RequestsList(id="requests")
            with Vertical(id="right"):
                with _pane("response"):
                    yield ResponseView(id="response")
                with _pane("trace"):
                    yield TraceView(id="trace")
        with TabbedContent(id="bottom"):
            with TabPane("Logs · F8", id="tab-logs"):
                with _pane("logs"):
                    yield LogView(id="logs")
            with TabPane("Lua · F9", id="tab-lua"):
                with _pane("lua"):
                    yield LuaConsole(id="lua")
        yield Footer()

    def on_mount(self) -> None:
        for widget in (self.query_one(RequestsList), self.query_one(ResponseView),
                       self.query_one(TraceView)):
            widget.stable = self.stable
        self.query_one(ConfigTree).focus()

    # -- data down --------------------------------------------------------------------

    def show_engine(self, engine: Engine) -> None:
        tree = self.query_one(ConfigTree)
        tree.show_config(engine)
        self.query_one(SourceView).show_node(
            ConfigNode("main", None, engine.config.main, engine.conf_path), engine.parsed)

    def show_config_error(self, error: Exception, serving: bool, conf_path: str) -> None:
        shown = None
        if self.stable:  # snapshots: no absolute paths
            shown = str(error).replace(os.path.dirname(conf_path) + os.sep, "")
        text = None
        file = getattr(error, "file", None)
        if file:
            try:
                with open(file, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                text = None
        self.query_one(SourceView).show_error(error, text, conf_path, shown)
        if not serving:
            self.query_one(ConfigTree).show_error(error, shown)

    def add_exchange(self, exchange: Any, origin: str, select: bool) -> None:
        requests = self.query_one(RequestsList)
        requests.add(exchange, origin)
        if select:
            requests.flush()
            requests.cursor = 0
            self.show_exchange(exchange)

    def show_exchange(self, exchange: Any) -> None:
        self.query_one(ResponseView).show(exchange)
        self.query_one(TraceView).show(exchange)

    # -- events up --------------------------------------------------------------------

    @on(ConfigTree.NodeChosen)
    def _node_chosen(self, event: ConfigTree.NodeChosen) -> None:
        engine = getattr(self.app, "engine", None)
        if engine is not None and event.node.kind != "error":
            self.query_one(SourceView).show_node(event.node, engine.parsed)

    @on(LineList.Highlighted, "#requests")
    def _request_highlighted(self, event: LineList.Highlighted) -> None:
        ex = self.query_one(RequestsList).selected
        if ex is not None:
            self.show_exchange(ex)

    @on(LineList.Chosen, "#requests")
    def _request_chosen(self, event: LineList.Chosen) -> None:
        self._request_highlighted(event)
        self.query_one(TraceView).focus()

    @on(ShowSource)
    def _show_source(self, event: ShowSource) -> None:
        engine = getattr(self.app, "engine", None)
        tree = self.query_one(ConfigTree)
        node = tree.node_for(event.file, event.line)
        if engine is None or node is None or node.data is None:
            return
        tree.reveal(event.file, event.line)
        self.query_one(SourceView).show_node(node.data, engine.parsed, mark=event.line)


class NgxExploreApp(App[int]):
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
        self.server: Any = None
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
        engine.on_log(self._on_log)
        if not await self._serve(engine, old):
            return
        self.engine = engine
        self.main.show_engine(engine)
        self.sub_title = f"{self._short(self.conf_path)} — {self._listen_text()}"
        if message.reloaded:
            self._log_line("notice", "reconfiguring: new configuration loaded")
            self.notify("configuration reloaded", title="Reload")
        if self.watch_files_enabled:
            self.watch_config(self._watched_paths(engine))

    async def _serve(self, engine: Engine, old: Engine | None) -> bool:
        """Start ``engine`` (through the listener when there is one); False keeps ``old``.

        The listener starts and retires engines itself (reload without dropping
        connections); without it the app does the same in-process.
        """
        server_cls = self._server_class() if self.listen else None
        if server_cls is not None:
            try:
                if self.server is None:
                    server = server_cls(port_offset=self.port_offset,
                                        on_exchange=self._on_exchange,
                                        notify=lambda msg: self._log_line("notice", msg))
                    await server.start(engine)
                    self.server = server
                else:
                    await self.server.reload(engine)
                return True
            except OSError as e:  # BindError: worded like nginx's bind() failure
                self._log_line("emerg", str(e))
                self.notify(f"nginx: [emerg] {e}", title="Listener", severity="error")
                if self.server is not None:
                    return False  # the running listener keeps the old engine
        try:
            await engine.start()
        except Exception as e:  # noqa: BLE001 - reported, never a traceback
            self._log_line("alert", f"engine start failed: {e}")
        if old is not None:
            try:
                await old.stop(True)
            except Exception:  # noqa: BLE001 - the old engine is going away anyway
                pass
        return True

    @staticmethod
    def _server_class() -> Any:
        try:
            from engine.server import Server  # the live listener is optional
        except ImportError:
            return None
        return Server

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
            self.sub_title = f"{self._short(self.conf_path)} — configuration test failed"
            if self.watch_files_enabled:
                self.watch_config({self.conf_path})

    def _on_log(self, record: Any) -> None:
        try:
            self.main.query_one(LogView).add_record(record)
        except (LookupError, NoMatches):
            pass

    def _log_line(self, level: str, message: str) -> None:
        from engine.http.log import nginx_time
        try:
            self.main.query_one(LogView).add_line(
                level, f"{nginx_time()} [{level}] {os.getpid()}#{os.getpid()}: {message}")
        except (LookupError, NoMatches):
            pass

    # -- the live listener --------------------------------------------------------------

    def _listen_text(self) -> str:
        bound = list(getattr(self.server, "bound", []) or []) if self.server else []
        if bound:
            return "listening on " + ", ".join(f"{a}:{p}" for a, p in bound)
        return "in-process only (no listener)"

    def _on_exchange(self, exchange: Any) -> None:
        self.post_message(ExchangeServed(exchange, "listener"))

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
        if self.server is not None:
            try:
                await self.server.stop(False)
            except Exception:  # noqa: BLE001 - quitting
                pass

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
        if port is None:
            default = engine.default_listen()
            port = default[1] if default else 80
        req = HttpRequest(form.method, form.target, headers=form.headers, body=form.body,
                          server_port=port)
        try:
            exchange = await engine.request(req)
        except Exception as e:  # noqa: BLE001 - an engine bug, reported as nginx would
            self._log_line("alert", f"engine error: {type(e).__name__}: {e}")
            self.notify(f"engine error: {e}", severity="error")
            return
        self.post_message(ExchangeServed(exchange, "composer"))

    @on(LuaConsole.EvalRequested)
    def _lua_requested(self, event: LuaConsole.EvalRequested) -> None:
        self.eval_lua(event.console, event.source)

    @work(thread=True, group="lua")
    def eval_lua(self, console: LuaConsole, source: str) -> None:
        engine = self.engine
        if engine is None or not hasattr(engine, "lua_eval"):
            ok, text = False, "the Lua runtime is not available in this build"
        else:
            try:
                ok, text = engine.lua_eval(source)
            except Exception as e:  # noqa: BLE001 - Lua errors arrive as (False, msg)
                ok, text = False, str(e)
        self.call_from_thread(console.show_result, ok, text)

    # -- actions ----------------------------------------------------------------------------

    def action_focus_pane(self, pane: str) -> None:
        main = self.main
        if pane in ("logs", "lua"):
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
        bound = getattr(self.server, "bound", None) if self.server is not None else None
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

