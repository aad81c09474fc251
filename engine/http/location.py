"""Location matching, as ``ngx_http_core_find_location`` does it.

nginx sorts a level's prefix and exact locations, folds every location that extends an
earlier prefix into that prefix's sub-list, and builds a binary tree from the sorted
list (``ngx_http_create_locations_tree``). Lookup walks that tree comparing the URI with
each node: an exact match ends the search, the longest prefix wins, ``^~`` stops the
regex search, otherwise regex locations are tried in config order and the first match
wins; nested locations repeat the search inside the winner. Walking the same tree gives
the same ``test location`` sequence as nginx's debug log, which is what the trace shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from .block import Block
from .regex import Regex

if TYPE_CHECKING:
    from ..conf.directives import DirectiveTable


#: Handlers of modules the engine does not model that set ``clcf->auto_redirect``.
_PASS_REDIRECT = frozenset({"fastcgi_pass", "uwsgi_pass", "scgi_pass", "memcached_pass",
                            "grpc_pass"})


class LocationConf(Block):
    """A ``location`` block (also the implicit location of a server)."""

    __slots__ = ("modifier", "name", "regex", "static_tree", "regex_locations",
                 "named", "auto_redirect", "nested", "nameless")

    def __init__(self, directive: Directive | None, parent: Block, items: list[Directive],
                 table: DirectiveTable, modifier: str = "", name: str = "") -> None:
        super().__init__("location", directive, parent, items, table)
        self.modifier = modifier  # "", "=", "^~", "~", "~*", "@"
        self.name = name
        self.regex: Regex | None = None
        self.static_tree: _Node | None = None
        self.regex_locations: list[LocationConf] = []
        self.named: dict[str, LocationConf] = {}
        #: "/x" answers 301 to "/x/" when that is all it lacks: set by modules such as
        #: proxy, and here for the pass directives of the unmodelled upstream modules,
        #: which set it at parse time whatever they would answer afterwards.
        self.auto_redirect = name.endswith("/") and any(d.name in _PASS_REDIRECT
                                                         for d in items)
        self.nested: list[LocationConf] = []
        #: ``if`` and ``limit_except`` blocks directly inside, as nginx's nameless locations.
        self.nameless: list[LocationConf] = []

    @property
    def exact(self) -> bool:
        return self.modifier == "="

    @property
    def noregex(self) -> bool:
        return self.modifier == "^~"

    def display(self) -> str:
        """The location as nginx's debug log quotes it: ``"/x"``, ``= "/x"``, ``~ "\\.php$"``."""
        if self.modifier in ("~", "~*", "="):
            return f'{self.modifier} "{self.name}"'
        return f'"{self.name}"'


def parse_location_args(d: Directive) -> tuple[str, str]:
    """``location [=|~|~*|^~] uri`` / ``location @name`` → (modifier, name)."""
    args = d.args
    if len(args) == 2:
        mod, name = args
        if mod not in ("=", "~", "~*", "^~"):
            raise ConfigError(f'invalid location modifier "{mod}"', d.file, d.line)
        return mod, name
    if len(args) != 1:
        raise ConfigError('invalid number of arguments in "location" directive', d.file, d.line)
    arg = args[0]
    if arg.startswith("="):
        return "=", arg[1:]
    if arg.startswith("^~"):
        return "^~", arg[2:]
    if arg.startswith("~*"):
        return "~*", arg[2:]
    if arg.startswith("~"):
        return "~", arg[1:]
    if arg.startswith("@"):
        return "@", arg
    return "", arg


# --- the static location tree --------------------------------------------------------


@dataclass(eq=False)
class _Queued:
    name: str
    exact: LocationConf | None = None
    inclusive: LocationConf | None = None
    children: list[_Queued] = field(default_factory=list)


@dataclass(eq=False)
class _Node:
    name: str  # the part of the location name below the parent tree's prefix
    key: bytes  # that part as compared: see _order_key
    exact: LocationConf | None
    inclusive: LocationConf | None
    auto_redirect: bool
    left: _Node | None = None
    right: _Node | None = None
    tree: _Node | None = None


def _create_list(queue: list[_Queued]) -> list[_Queued]:
    """Fold locations that extend an inclusive prefix into that prefix's sub-list."""
    out: list[_Queued] = []
    i = 0
    while i < len(queue):
        q = queue[i]
        out.append(q)
        i += 1
        if q.inclusive is None:
            continue
        j = i
        while j < len(queue) and len(queue[j].name) >= len(q.name) \
                and queue[j].name.startswith(q.name):
            j += 1
        if j > i:
            q.children = _create_list(queue[i:j])
            i = j
    return out


def _create_tree(queue: list[_Queued], prefix: int) -> _Node | None:
    if not queue:
        return None
    mid = len(queue) // 2
    q = queue[mid]
    name = q.name[prefix:]
    node = _Node(
        name=name,
        key=_order_key(name),
        exact=q.exact,
        inclusive=q.inclusive,
        auto_redirect=bool((q.exact and q.exact.auto_redirect)
                           or (q.inclusive and q.inclusive.auto_redirect)),
    )
    node.left = _create_tree(queue[:mid], prefix)
    node.right = _create_tree(queue[mid + 1:], prefix)
    if q.children:
        node.tree = _create_tree(q.children, prefix + len(node.name))
    return node


def _order_key(name: str) -> bytes:
    """A name as nginx orders and compares locations (ngx_filename_cmp): by bytes, but
    with "/" below every other byte. Sorting and the tree walk must agree with nginx, or
    the walk passes by other nodes: "/a" finds the auto-redirecting "/a/" next to "/a-"
    and "/a.x" only in nginx's order."""
    return name.encode("utf-8", "surrogateescape").replace(b"/", b"\x00")


def build_location_tree(parent: LocationConf, locations: list[LocationConf]) -> None:
    """Index a level's locations (nginx's ngx_http_init_locations + init_static_location_trees)."""
    static: dict[str, _Queued] = {}
    for loc in locations:
        d = loc.directive
        assert d is not None
        if loc.modifier == "@":
            parent.named.setdefault(loc.name, loc)  # nginx allows twice; the first wins
        elif loc.modifier in ("~", "~*"):
            parent.regex_locations.append(loc)
        else:
            q = static.setdefault(loc.name, _Queued(loc.name))
            slot = "exact" if loc.exact else "inclusive"
            if getattr(q, slot) is not None:
                raise ConfigError(f'duplicate location "{loc.name}"', d.file, d.line)
            setattr(q, slot, loc)
    ordered = [static[k] for k in sorted(static, key=_order_key)]
    parent.static_tree = _create_tree(_create_list(ordered), 0)


# --- lookup ----------------------------------------------------------------------------

#: Lookup outcomes, named after nginx's return codes.
OK, AGAIN, DONE, DECLINED = "ok", "again", "done", "declined"

TestCallback = Callable[[LocationConf | None, str, str], None]


def _find_static(uri: str, node: _Node | None,
                 test: TestCallback) -> tuple[str, LocationConf | None]:
    rv, found = DECLINED, None
    key = _order_key(uri)
    while node is not None:
        size = len(node.key)
        n = min(len(key), size)
        shown = node.name  # what nginx's debug log prints: the name below its tree
        head = key[:n]
        target = node.key[:n]
        if head != target:
            test(node.exact or node.inclusive, shown, "no match")
            node = node.left if head < target else node.right
            continue
        if len(key) > size:
            if node.inclusive is not None:
                test(node.inclusive, shown, "prefix match, keep looking for a longer one")
                found, rv = node.inclusive, AGAIN
                key = key[size:]
                node = node.tree
                continue
            test(node.exact, shown, "exact location only, URI is longer")
            node = node.right
            continue
        if len(key) == size:
            if node.exact is not None:
                test(node.exact, shown, "exact match")
                return OK, node.exact
            test(node.inclusive, shown, "prefix match, the whole URI")
            return AGAIN, node.inclusive
        if len(key) + 1 == size and node.auto_redirect:
            found = node.exact or node.inclusive
            test(found, shown, "URI lacks only the trailing slash: redirect")
            rv = DONE
        else:
            test(node.exact or node.inclusive, shown, "no match, URI is shorter")
        node = node.left
    return rv, found


def find_location(level: LocationConf, uri: str, test: TestCallback,
                  regex_test: Callable[[LocationConf], bool]) -> tuple[str, LocationConf | None]:
    """Find the location for ``uri`` below ``level``: (outcome, location or None).

    ``test(location, shown_name, verdict)`` records each comparison; ``regex_test(loc)``
    runs a regex location against the URI (it keeps the captures on a match). ``None``
    means no location matched at this level and the enclosing configuration applies.
    """
    rc, current = _find_static(uri, level.static_tree, test)
    noregex = False
    if rc == AGAIN:
        assert current is not None
        noregex = current.noregex
        rc, nested = find_location(current, uri, test, regex_test)
        if nested is not None:
            current = nested
    if rc in (OK, DONE):
        return rc, current
    if not noregex:
        for loc in level.regex_locations:
            if regex_test(loc):
                _, nested = find_location(loc, uri, test, regex_test)
                return OK, nested or loc
    return rc, current


# --- the trace of a lookup ---------------------------------------------------------------


def no_test(loc: LocationConf | None, shown: str, verdict: str) -> None:
    """The test callback when nothing is traced."""


def test_recorder(tr: Any) -> TestCallback:
    """A test callback that records each comparison as a ``location_test`` event."""
    def test(loc: LocationConf | None, shown: str, verdict: str) -> None:
        tr.add("location_test", location=loc.display() if loc else f'"{shown}"',
               node=shown, verdict=verdict,
               file=loc.directive.file if loc and loc.directive else "",
               line=loc.directive.line if loc and loc.directive else 0)
    return test


def trace_location(tr: Any, rc: str, found: LocationConf | None, used: Any) -> None:
    """The ``location`` event: which configuration applies (``used``) and why."""
    if rc == DONE:
        reason = "the URI lacks only the trailing slash of this location"
    elif found is None:
        reason = "no location matched: the server's configuration applies"
    elif found.exact:
        reason = "exact match"
    elif found.regex is not None:
        reason = "first matching regex, in config order"
    elif found.noregex:
        reason = "longest prefix, ^~ skips the regexes"
    else:
        reason = "longest prefix, no regex matched"
    d = used.directive
    tr.add("location", location=used.display() if found else '"" (server level)',
           reason=reason, outcome=rc, using=debug_name(used) if found else "",
           file=d.file if d else "", line=d.line if d else 0)


def debug_name(loc: LocationConf) -> str:
    """The name nginx's debug log gives in ``using configuration "..."``: ``=`` before
    an exact location, ``*`` for if/limit_except blocks, the bare name otherwise."""
    if loc.kind in ("if", "limit_except"):
        return "*" + loc.name
    return ("=" if loc.exact else "") + loc.name
