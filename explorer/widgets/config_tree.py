"""The configuration as a tree: main, events, http, servers, upstreams, locations, ifs.

The tree follows the files as written (``engine.parsed.directives``), so an ``include``
is a sub-tree labelled with the file it brought in, while each node also carries the
engine's model of that block (``Block``) so selecting it can show effective values.
Leaf directives are left to the source view, except Lua handlers, which are the code
users come to look at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

_SHOWN_LEAVES_SUFFIXES = ("_by_lua_block", "_by_lua", "_by_lua_file")


@dataclass
class ConfigNode:
    """What a tree node stands for: a directive (or a whole file) and its model block."""

    kind: str  # "main", "block", "include", "file", "leaf", "error"
    directive: Any = None
    block: Any = None
    file: str = ""

    @property
    def line_range(self) -> tuple[int, int]:
        d = self.directive
        if d is None:
            return (0, 0)
        return (d.line, d.end_line or d.line)


def block_index(config: Any) -> dict[int, Any]:
    """id(Directive) → model Block, for every block the engine built."""
    index: dict[int, Any] = {}

    def add_location(loc: Any) -> None:
        if loc.directive is not None:
            index[id(loc.directive)] = loc
        for child in list(getattr(loc, "nested", [])) + list(getattr(loc, "nameless", [])):
            add_location(child)

    for blk in (config.events, config.http):
        if blk is not None and blk.directive is not None:
            index[id(blk.directive)] = blk
    for srv in config.servers:
        add_location(srv)
    for ups in config.upstreams.values():
        if ups.directive is not None:
            index[id(ups.directive)] = ups
    for blk in getattr(config, "blocks", []):
        if blk.directive is not None:
            index.setdefault(id(blk.directive), blk)
    return index


class ConfigTree(Tree[ConfigNode]):
    """The loaded configuration as blocks; includes as sub-trees labelled with their file.

    | Key | Action |
    |-----|--------|
    | up/down | move |
    | enter | show source and effective directives |
    | space | expand / collapse |
    | shift+space | expand / collapse all |
    """

    DEFAULT_CSS = """
    ConfigTree { background: $surface; }
    """

    class NodeChosen(Message):
        """A config node was highlighted; handled as ``on_config_tree_node_chosen``."""

        def __init__(self, tree: ConfigTree, node: ConfigNode) -> None:
            super().__init__()
            self.tree = tree
            self.node = node

        @property
        def control(self) -> ConfigTree:
            return self.tree

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__("config", ConfigNode("main"), name=name, id=id, classes=classes)
        self.show_root = True
        self.guide_depth = 2
        self._root_dir = ""
        self._config: Any = None

    # -- building ---------------------------------------------------------------------

    def show_config(self, engine: Any) -> None:
        """Rebuild the tree for a loaded engine, keeping the expanded state if possible."""
        self.clear()
        self._config = engine.config
        parsed = engine.parsed
        self._root_dir = os.path.dirname(parsed.conf_path)
        index = block_index(engine.config)
        self.root.set_label(Text.assemble(("main ", "bold"), (self._short(parsed.conf_path),
                                                              "dim")))
        self.root.data = ConfigNode("main", None, engine.config.main, parsed.conf_path)
        self._add(self.root, parsed.directives, index)
        self.root.expand()
        for node in self._walk(self.root):
            data = node.data
            if data is None:
                continue
            if data.kind in ("include", "file"):
                # expand includes that bring servers in, not mime.types-like noise
                if any(c.data is not None and c.data.directive is not None
                       and c.data.directive.name in ("server", "location", "upstream")
                       or c.data is not None and c.data.kind == "file"
                       for c in node.children):
                    node.expand()
                else:
                    node.collapse()
            elif data.directive is not None and data.directive.name in ("http", "server"):
                node.expand()

    def show_error(self, error: Any, shown: str | None = None) -> None:
        """A config that failed to load: one node with nginx's message."""
        self.clear()
        self._config = None
        file = getattr(error, "file", None) or ""
        self.root.set_label(Text("configuration test failed", style="bold red"))
        self.root.data = ConfigNode("error", None, None, file)
        self.root.add_leaf(Text(f"nginx: {shown or error}", style="red"),
                           ConfigNode("error", None, None, file))
        self.root.expand()

    def _short(self, path: str) -> str:
        if self._root_dir and path.startswith(self._root_dir + os.sep):
            return os.path.relpath(path, self._root_dir)
        return path

    def _add(self, parent: TreeNode[ConfigNode], directives: list[Any],
             index: dict[int, Any]) -> None:
        for d in directives:
            if d.name == "include" and d.block is not None:
                self._add_include(parent, d, index)
            elif d.block is not None:
                node = parent.add(self._label(d), ConfigNode("block", d, index.get(id(d)), d.file))
                self._add(node, d.block, index)
                if not node.children:
                    node.allow_expand = False
            elif d.name.endswith(_SHOWN_LEAVES_SUFFIXES):
                parent.add_leaf(self._label(d), ConfigNode("leaf", d, None, d.file))

    def _add_include(self, parent: TreeNode[ConfigNode], d: Any,
                     index: dict[int, Any]) -> None:
        files = d.included or sorted({c.file for c in d.block})
        label = Text.assemble(("include ", "bold magenta"), (" ".join(d.args), "magenta"))
        inc = parent.add(label, ConfigNode("include", d, None, d.file))
        if not files:
            inc.add_leaf(Text("(no files matched)", style="dim italic"),
                         ConfigNode("include", d, None, d.file))
        for path in files:
            children = [c for c in d.block if c.file == path]
            node = inc.add(Text(self._short(path), style="italic magenta"),
                           ConfigNode("file", None, None, path))
            self._add(node, children, index)

    def _label(self, d: Any) -> Text:
        args = " ".join(d.args)
        style = {"server": "bold cyan", "location": "bold green", "if": "bold yellow",
                 "upstream": "bold blue", "http": "bold", "events": "bold"}.get(d.name, "")
        if d.name.endswith(_SHOWN_LEAVES_SUFFIXES):
            style = "bold #C792EA"
        text = Text.assemble((d.name, style or "bold"))
        if args:
            text.append(" " + args)
        if d.name == "server":
            names = [a for c in d.block or [] if c.name == "server_name" for a in c.args]
            listens = [c.args[0] for c in d.block or [] if c.name == "listen" and c.args]
            text.append(f" {' '.join(names) or chr(34) * 2} ({', '.join(listens) or '80'})",
                        style="cyan")
        return text

    def _walk(self, node: TreeNode[ConfigNode]) -> list[TreeNode[ConfigNode]]:
        out = [node]
        for child in node.children:
            out.extend(self._walk(child))
        return out

    # -- finding ------------------------------------------------------------------------

    def node_for(self, file: str, line: int) -> TreeNode[ConfigNode] | None:
        """The innermost node whose source range holds ``file:line``."""
        best: TreeNode[ConfigNode] | None = None
        best_span = 1 << 30
        for node in self._walk(self.root):
            data = node.data
            if data is None or data.directive is None or data.directive.file != file:
                continue
            lo, hi = data.line_range
            if lo <= line <= hi and hi - lo < best_span:
                best, best_span = node, hi - lo
        if best is None:
            for node in self._walk(self.root):
                if node.data is not None and node.data.kind == "file" and node.data.file == file:
                    return node
        return best

    def reveal(self, file: str, line: int) -> bool:
        """Move the cursor to the block holding ``file:line``; False when not found."""
        node = self.node_for(file, line)
        if node is None:
            return False
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.call_after_refresh(self.move_cursor, node)
        return True

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[ConfigNode]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.NodeChosen(self, event.node.data))

    def on_tree_node_selected(self, event: Tree.NodeSelected[ConfigNode]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.NodeChosen(self, event.node.data))
