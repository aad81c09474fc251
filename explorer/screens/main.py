"""The main screen: config and source | composer and requests | response and trace, with
logs, the Lua console and the Debug pane as tabs below.

The screen only lays the panes out and hands data down to them; the app owns the engine
and calls the ``show_*`` methods here. The Debug tab stays hidden until debugging is
used, so a session that never sets a breakpoint sees the screen it always had.
"""

from __future__ import annotations

import os
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from engine import Engine

from ..history import History
from ..messages import ShowSource
from ..widgets.composer import Composer
from ..widgets.config_tree import ConfigNode, ConfigTree
from ..widgets.debug_view import DebugView
from ..widgets.line_list import LineList
from ..widgets.log_view import LogView
from ..widgets.lua_console import LuaConsole
from ..widgets.pane import Pane
from ..widgets.requests_list import RequestsList
from ..widgets.response_view import ResponseView
from ..widgets.source_view import SourceView
from ..widgets.trace_view import TraceView

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
    "debug": ("Debug", "f12", "#debug-stack", DebugView),
}

#: panes that live in the bottom tabs (focusing one activates its tab)
TABBED = ("logs", "lua", "debug")


def _pane(pane_id: str) -> Pane:
    title, key, _, cls = PANES[pane_id]
    return Pane(title, key.upper(), help_class=cls, id=f"pane-{pane_id}")


class MainScreen(Screen[None]):
    """Config and source | composer and requests | response and trace; logs, Lua, Debug below."""

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
            with TabPane("Debug · F12", id="tab-debug"):
                with _pane("debug"):
                    yield DebugView(id="debug")
        yield Footer()

    def on_mount(self) -> None:
        for widget in (self.query_one(RequestsList), self.query_one(ResponseView),
                       self.query_one(TraceView)):
            widget.stable = self.stable
        self.query_one("#bottom", TabbedContent).hide_tab("tab-debug")
        self.query_one(ConfigTree).focus()

    # -- data down --------------------------------------------------------------------

    def show_engine(self, engine: Engine) -> None:
        tree = self.query_one(ConfigTree)
        tree.show_config(engine)
        source = self.query_one(SourceView)
        source.modelled = engine.is_modelled
        source.show_node(
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

    def show_debug_pane(self, activate: bool) -> None:
        """Reveal the Debug tab (debugging is in use); ``activate`` brings it to the front."""
        tabs = self.query_one("#bottom", TabbedContent)
        tabs.show_tab("tab-debug")
        if activate:
            tabs.active = "tab-debug"

    def show_location(self, engine: Engine | None, path: str, line: int) -> None:
        """Show ``path:line`` in the source pane: a configuration line through its tree node,
        a Lua file as itself."""
        source = self.query_one(SourceView)
        if engine is not None and path in engine.parsed.files:
            tree = self.query_one(ConfigTree)
            node = tree.node_for(path, line)
            if node is not None and node.data is not None:
                tree.reveal(path, line)
                source.show_node(node.data, engine.parsed)
                return
        if path.endswith(".lua"):
            source.show_lua_file(path)

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
