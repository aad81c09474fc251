"""The variables of the rewrite module: what ``set`` declares (and how an unset one
reads), and the named captures of the configuration's regexes, which nginx makes
variables too and which decide how a ``set`` or ``map`` variable of the same name
reads."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Iterable

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.block import Block
from ..http.location import LocationConf

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_CAPTURE_NAME = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


def capture_sites(cfg: HttpConfig) -> dict[str, int]:
    """The named captures of every regex of the configuration (``if``, ``rewrite``,
    locations, server names, ``map`` keys, any other "~" argument), each with the
    latest place it has: the index, among the http block's directives, of the one it
    is in. nginx gives each such variable a getter that finds nothing, which a later
    ``set`` keeps (reading it unset warns of nothing) and which replaces the getter of a
    map of the same name read before it."""
    assert cfg.http is not None
    http = cfg.http
    order = {id(d): i for i, d in enumerate(http.items)}

    def place(block: Block, d: Directive | None) -> int:
        while block.parent is not None and block.parent is not http:
            block = block.parent
        return order.get(id(d if block is http else block.directive), -1)

    sites: dict[str, int] = {}

    def add(names: Iterable[str], where: int) -> None:
        for name in names:
            sites[name.lower()] = max(where, sites.get(name.lower(), -1))

    for entry in cfg.addresses.values():
        for regex, srv, _pattern in entry.regex:
            add(regex.names, place(srv, None))
    for block in cfg.blocks:
        if isinstance(block, LocationConf) and block.regex is not None:
            add(block.regex.names, place(block, None))
        for d in block.items:
            if d.name in ("if", "rewrite"):
                texts = d.args[:1] if d.name == "rewrite" else d.args
            elif d.name == "map":
                texts = [entry.name for entry in d.children() if entry.name.startswith("~")]
            else:
                texts = [arg for arg in d.args if arg.startswith("~")]
            for text in texts:
                add(_CAPTURE_NAME.findall(text), place(block, d))
    return sites


def declare_set(engine: HttpEngine, d: Directive, captures: set[str]) -> None:
    """``set $name``: a per-request variable (a built-in one nginx cannot change is
    refused); how it reads before it is set depends on what else defines the name."""
    name = d.args[0]
    if not name.startswith("$") or name == "$":
        raise ConfigError(f'invalid variable name "{name}"', d.file, d.line)
    var = engine.variables.vars.get(name[1:].lower())
    if var is not None and not var.changeable and not var.stored:
        raise ConfigError(f'the duplicate "{name[1:]}" variable', d.file, d.line)
    var = engine.variables.declare(name[1:].lower())
    if var.get is not None or var.name in captures:
        return
    prefixed = _prefix_getter(engine, var.name)
    var.get = prefixed if prefixed is not None else _uninitialized(var.name)


def _prefix_getter(engine: HttpEngine, name: str) -> Callable[[Request], str | None] | None:
    """A ``set`` variable is "weak" in nginx: when its name falls under a prefix
    variable (``$arg_x``, ``$http_foo``...), that one's getter wins, so until ``set``
    assigns it the name keeps its usual value, without a warning."""
    found = [(prefix, get) for prefix, get in engine.variables.prefixes
             if name.startswith(prefix)]
    if not found:
        return None
    prefix, get = max(found, key=lambda item: len(item[0]))  # the longest, as nginx
    rest = name[len(prefix):]
    return lambda r: get(r, rest)


def _uninitialized(name: str) -> Callable[[Request], str]:
    """ngx_http_rewrite_var: a ``set`` variable read before this request set it is
    empty, with a warning unless ``uninitialized_variable_warn`` is off. The empty value
    is then cached for the request like any indexed variable: one warning."""
    message = f'using uninitialized "{name}" variable'

    def get(r: Request) -> str:
        if r.loc.flag("uninitialized_variable_warn", True):
            r.log("warn", message)
        r.variables[name] = ""
        return ""
    return get
