"""How nginx handled the selected request, as a tree in nginx's debug-log words.

Events come from ``engine.http.trace`` (its docstring lists the kinds: that is the
contract rendered here). Events are grouped under the phase they happened in; hops
(internal redirects, exec, subrequests) get their own node with the subrequest's trace
nested, and "ngx.ctx reset" marked, since that is what surprises users; timers go to a
separate lane because they run after the response. Choosing a node that has a
``file``/``line`` shows that source in the config pane.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ..messages import ShowSource
from .response_view import status_style

_LEVEL_STYLE = {"stderr": "bold red", "emerg": "bold red", "alert": "bold red",
                "crit": "bold red", "error": "red", "warn": "yellow", "notice": "cyan",
                "info": "", "debug": "dim"}


def _short(v: Any, limit: int = 60) -> str:
    s = v if isinstance(v, str) else repr(v)
    s = s.replace("\n", "\\n")
    return s if len(s) <= limit else s[: limit - 1] + "…"


class TraceView(Tree[Any]):
    """The selected request's trace: server and location choice, phases, hops, timers.

    | Key | Action |
    |-----|--------|
    | up/down | move |
    | enter | show the event's config line in the config pane |
    | space | expand / collapse |
    | shift+space | expand / collapse all |
    """

    DEFAULT_CSS = """
    TraceView { background: $surface; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__("no request selected", None, name=name, id=id, classes=classes)
        self.guide_depth = 2
        #: Hide times and durations so snapshots are stable.
        self.stable = False

    def _ms(self, value: float) -> str:
        return "" if self.stable else f"  {value:.3f} ms"

    def show(self, exchange: Any) -> None:
        """Render one exchange's trace (replacing the previous one)."""
        self.clear()
        resp = exchange.response
        req = exchange.request
        label = Text.assemble((f"{req.method} {req.target}", "bold"), " → ",
                              (f"{resp.status} {resp.reason}", status_style(resp.status)))
        if exchange.location:
            label.append(f"  location {exchange.location}", style="green")
        if not self.stable:
            label.append(f"  {exchange.duration_ms:.2f} ms", style="dim")
        self.root.set_label(label)
        self.root.data = None
        timers: list[Any] = []
        self._add_events(self.root, exchange.trace, timers)
        if timers:
            lane = self.root.add(Text("timers (after the response)", style="bold magenta"))
            for ev in timers:
                lane.add_leaf(self._label(ev), ev)
            lane.expand()
        self.root.expand()
        for node in self.root.children:
            node.expand()

    def _add_events(self, parent: TreeNode[Any], events: list[Any], timers: list[Any]) -> None:
        phase_node: TreeNode[Any] | None = None
        phase_name = ""
        for ev in events:
            if ev.kind == "timer":
                timers.append(ev)
                continue
            if ev.phase and ev.phase != phase_name:
                phase_name = ev.phase
                phase_node = parent.add(Text(f"{phase_name} phase", style="bold blue"), None)
                phase_node.expand()
            target = phase_node if (ev.phase and phase_node is not None) else parent
            if ev.kind == "hop":
                node = target.add(self._label(ev), ev)
                node.expand()
                if ev.children:
                    self._add_events(node, ev.children, timers)
                else:
                    node.allow_expand = False
            elif ev.kind == "header" and ev.data.get("op") == "send":
                node = target.add(self._label(ev), ev)
                for k, v in ev.data.get("headers", []):
                    if self.stable and k.lower() == "date":
                        v = "…"
                    node.add_leaf(Text.assemble((k, "cyan"), f": {v}"), ev)
            else:
                target.add_leaf(self._label(ev), ev)
            if ev.kind == "phase_done" and phase_node is not None and not self.stable:
                phase_node.label.append(f"  {ev.data.get('duration_ms', 0):.3f} ms", style="dim")

    def _label(self, ev: Any) -> Text:
        d = ev.data
        k = ev.kind
        where = f"  {d['file'].rsplit('/', 1)[-1]}:{d['line']}" if d.get("file") and d.get(
            "line") else ""
        if k == "request":
            return Text(f"request: {d.get('method')} {d.get('uri')} {d.get('protocol', '')} "
                        f"from {d.get('client', '')}")
        if k == "server":
            name = d.get("name") or '""'
            return Text.assemble(("server ", "bold cyan"), f"{name} on {d.get('listen')}  ",
                                 (f"({d.get('reason')})", "italic"), (where, "dim"))
        if k == "location_test":
            return Text.assemble(f"test location: {d.get('location')}  ",
                                 (f"{d.get('verdict')}", "italic dim"))
        if k == "location":
            return Text.assemble(("using configuration ", "bold green"),
                                 (f"{d.get('location')}", "bold green"),
                                 f"  ({d.get('reason')})", (where, "dim"))
        if k == "phase":
            return Text.assemble(("handler ", "bold"), f"{d.get('handler')}", (where, "dim"))
        if k == "phase_done":
            return Text.assemble(f"{d.get('handler')} → ", (f"{d.get('rc')}", "bold"),
                                 (self._ms(d.get("duration_ms", 0.0)), "dim"))
        if k == "hop":
            text = Text.assemble(("⤷ ", "bold magenta"), (f"{d.get('hop')}", "bold magenta"),
                                 f" → {d.get('uri', '')}")
            if d.get("args"):
                text.append(f"?{d['args']}")
            if d.get("status"):
                text.append(f"  (status {d['status']})")
            if d.get("ctx_reset"):
                text.append("  ngx.ctx reset", style="bold yellow")
            return text
        if k == "ctx":
            parts = [f"+{key}={_short(v, 30)}" for key, v in (d.get("added") or {}).items()]
            parts += [f"~{key}: {_short(v[0], 20)} → {_short(v[1], 20)}"
                      if isinstance(v, (list, tuple)) and len(v) == 2 else f"~{key}={_short(v)}"
                      for key, v in (d.get("changed") or {}).items()]
            parts += [f"-{key}" for key in (d.get("removed") or [])]
            return Text.assemble(("ngx.ctx ", "bold yellow"), ", ".join(parts) or "(unchanged)")
        if k == "var":
            return Text(f"${d.get('name')}: {_short(d.get('old'))} → {_short(d.get('new'))}")
        if k == "header":
            if d.get("op") == "send":
                return Text.assemble(("send header ", "bold"),
                                     (f"{d.get('status')}", status_style(int(d.get('status', 0)))),
                                     f"  ({len(d.get('headers', []))} headers)")
            return Text.assemble((f"header {d.get('op')} ", "cyan"),
                                 f"{d.get('name')}: {_short(d.get('value', ''))}", (where, "dim"))
        if k == "log":
            level = d.get("level", "error")
            style = _LEVEL_STYLE.get(level, "")
            if d.get("kept") is False:
                style = "dim"
            return Text(f"[{level}] {_short(d.get('message', ''), 200)}", style=style)
        if k == "api_refused":
            return Text(f"API refused: {d.get('api')} in {d.get('phase')}: {d.get('message')}",
                        style="bold white on red")
        if k == "eof":
            return Text("eof: the client has the whole response here", style="bold")
        if k == "timer":
            return Text(f"timer {d.get('op')} {d.get('name', '')} delay={d.get('delay', '')}"
                        + (" premature" if d.get("premature") else ""), style="magenta")
        if k == "finalize":
            status = int(d.get("status", 0) or 0)
            return Text.assemble("finalize request: ", (f"{status}", status_style(status)),
                                 f"  ({d.get('reason', '')})")
        if k == "script":
            rest = " ".join(f"{key}={_short(v, 40)}" for key, v in d.items()
                            if key not in ("op", "file", "line"))
            return Text.assemble((f"http script {d.get('op')} ", "bold"), rest, (where, "dim"))
        return Text(_short(ev.describe(), 200) + where)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        event.stop()
        ev = event.node.data
        if ev is not None and ev.data.get("file") and ev.data.get("line"):
            self.post_message(ShowSource(ev.data["file"], int(ev.data["line"])))
