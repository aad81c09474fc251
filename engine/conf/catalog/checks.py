"""Parse-time checks done by individual nginx handlers, with nginx's wording.

The generic checks (context, terminator, arity, flag values, duplicates) live in the
loader; these are the ones specific handlers make while the configuration is read:
``location`` modifiers and nesting, the duplicate-location pass at the end of ``http``,
``listen`` addresses and parameters, ``access_log`` formats, ``error_page`` codes, and
the entries of custom-content blocks (``map``, ``geo``, ``types``...). Functions return
the error text (or raise for location) and let the loader attach file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ast import Directive
from ..directives import DirectiveSpec
from ..errors import ConfigError
from .listen import ListenTable, listen_error
from .misc_checks import misc_error
from .modelled_checks import modelled_error
from .upstream_checks import upstream_error
from .value_checks import value_error

__all__ = ["Location", "location", "duplicate_locations", "handler_error", "custom_entry",
           "ListenTable", "server_names", "types_entry"]


@dataclass(slots=True)
class Location:
    """What ``ngx_http_core_location`` records about a location for later checks."""

    name: str
    exact: bool = False
    regex: bool = False
    named: bool = False
    noregex: bool = False
    file: str = ""
    line: int = 0
    children: list[Location] = field(default_factory=list)

    @property
    def static(self) -> bool:
        return not (self.regex or self.named)


def location(d: Directive, parent: Location | None, file: str, line: int) -> Location:
    """Parse ``location [mod] name`` like nginx and check nesting; raises ConfigError."""
    args = d.args
    loc = Location("", file=file, line=line)
    if len(args) == 2:
        mod, name = args
        if mod == "=":
            loc.exact = True
        elif mod == "^~":
            loc.noregex = True
        elif mod in ("~", "~*"):
            loc.regex = True
        else:
            raise ConfigError(f'invalid location modifier "{mod}"', file, line)
    else:
        name = args[0]
        if name.startswith("="):
            loc.exact, name = True, name[1:]
        elif name.startswith("^~"):
            loc.noregex, name = True, name[2:]
        elif name.startswith("~"):
            loc.regex = True
            name = name[2:] if name.startswith("~*") else name[1:]
        elif name.startswith("@"):
            loc.named = True
    loc.name = name
    if parent is not None:
        if parent.exact:
            raise ConfigError(f'location "{name}" cannot be inside the exact location '
                              f'"{parent.name}"', file, line)
        if parent.named:
            raise ConfigError(f'location "{name}" cannot be inside the named location '
                              f'"{parent.name}"', file, line)
        if loc.named:
            raise ConfigError(f'named location "{name}" can be on the server level only',
                              file, line)
        if not loc.regex and not name.startswith(parent.name):
            raise ConfigError(f'location "{name}" is outside location "{parent.name}"',
                              file, line)
        parent.children.append(loc)
    return loc


def duplicate_locations(servers: list[list[Location]]) -> tuple[str, str, int] | None:
    """The ``duplicate location`` pass nginx runs when the ``http`` block ends.

    Per server, depth first, over the static locations sorted as
    ``ngx_http_cmp_locations`` sorts them (by name, exact before prefix): two exact or
    two prefix locations with one name are an error, reported at the later one.
    """

    def check_level(locs: list[Location]) -> tuple[str, str, int] | None:
        prev: Location | None = None
        has_exact = has_incl = False
        for x in locs:
            if prev is not None and prev.name == x.name:
                if (has_exact and x.exact) or (has_incl and not x.exact):
                    return (f'duplicate location "{x.name}"', x.file, x.line)
                has_exact |= x.exact
                has_incl |= not x.exact
                continue
            prev, has_exact, has_incl = x, x.exact, not x.exact
        return None

    def walk(top: list[Location]) -> tuple[str, str, int] | None:
        # iterative post-order (nested levels first), so deep nesting cannot overflow
        stack: list[tuple[list[Location], int]] = [(_sorted_static(top), 0)]
        while stack:
            level, i = stack.pop()
            if i < len(level):
                stack.append((level, i + 1))
                stack.append((_sorted_static(level[i].children), 0))
                continue
            err = check_level(level)
            if err:
                return err
        return None

    for locs in servers:
        err = walk(locs)
        if err:
            return err
    return None


def _sorted_static(locs: list[Location]) -> list[Location]:
    return sorted((x for x in locs if x.static), key=lambda x: (x.name, not x.exact))


def _access_log_params(args: list[str]) -> str | None:
    """``ngx_http_log_set_log``'s checks of ``buffer=``, ``flush=``, ``gzip[=level]``
    and ``if=``, then of what buffering allows."""
    from .slots import nginx_int, nginx_size, nginx_time
    buffered = flush = False
    for p in args[2:]:
        key, eq, value = p.partition("=")
        if key == "buffer" and eq:
            if not nginx_size(value):
                return f'invalid buffer size "{value}"'
            buffered = True
        elif key == "flush" and eq:
            if not nginx_time(value, False):
                return f'invalid flush time "{value}"'
            flush = True
        elif p == "gzip" or (key == "gzip" and eq):
            level = nginx_int(value) if eq else 1
            if level is None or not 1 <= level <= 9:
                return f'invalid compression level "{value}"'
            buffered = True  # gzip buffers (64k) unless buffer= says otherwise
        elif not (key == "if" and eq):
            return f'invalid parameter "{p}"'
    if flush and not buffered:
        return f'no buffer is defined for access_log "{args[0]}"'
    if buffered and "$" in args[0]:
        return "buffered logs cannot have variables in name"
    if buffered and args[0].startswith("syslog:"):
        return "logs to syslog cannot be buffered"
    return None


def _open_log_file_cache(args: list[str]) -> str | None:
    """``open_log_file_cache off`` or ``max=N [inactive=time] [min_uses=N] [valid=time]``."""
    from .slots import nginx_int, nginx_time
    has_max = off = False
    for p in args:
        key, eq, value = p.partition("=")
        if key == "max" and eq:
            ok = nginx_int(value) is not None
            has_max = ok and int(value) > 0
        elif key in ("inactive", "valid") and eq:
            ok = nginx_time(value, True) is not None
        elif key == "min_uses" and eq:
            ok = nginx_int(value) is not None
        elif p == "off":
            ok = off = True
        else:
            ok = False
        if not ok:
            return f'invalid "open_log_file_cache" parameter "{p}"'
    if not off and not has_max:
        return '"open_log_file_cache" must have "max" parameter'
    return None


#: The directives ngx_http_types_slot reads: text/html is always in their list.
TYPES_DIRECTIVES = frozenset({"gzip_types", "sub_filter_types", "ssi_types", "addition_types",
                              "charset_types"})


def duplicate_types(args: list[str], listed: set[str]) -> list[str]:
    """ngx_http_types_slot's warnings for ``args``, which join ``listed`` (a block's
    earlier ones, and text/html): a type given twice, whatever its case."""
    out = []
    for arg in args:
        if arg == "*":
            continue
        low = arg.lower()
        if low in listed:
            out.append(f'duplicate MIME type "{low}"')
        listed.add(low)
    return out


def handler_error(spec: DirectiveSpec, d: Directive, log_formats: set[str],
                  earlier: set[str] | frozenset[str] = frozenset()) -> str | None:
    """Errors a directive's own handler gives for its arguments, or None. ``earlier``:
    the directives already read in the same block (some handlers look at them)."""
    name, args = d.name, d.args
    if spec.module.startswith(("ngx_stream", "ngx_mail")):
        return None
    msg = upstream_error(d, set(earlier)) or misc_error(d) or value_error(d) \
        or modelled_error(d)
    if msg:
        return msg
    if name == "listen" and spec.module == "ngx_http_core_module":
        return listen_error(args)
    if name == "access_log" and spec.module == "ngx_http_log_module":
        if args[0] == "off":
            return f'invalid parameter "{args[1]}"' if len(args) > 1 else None
        if len(args) >= 2 and args[1] not in log_formats:
            return f'unknown log format "{args[1]}"'
        return _access_log_params(args)
    if name == "open_log_file_cache" and spec.module == "ngx_http_log_module":
        return _open_log_file_cache(args)
    if name == "if" and spec.module == "ngx_http_rewrite_module":
        return _if_condition(list(args))
    if name == "error_page":
        for code in args[:-1]:
            if code.startswith("="):
                continue
            if not code.isdigit() or int(code) == 499:
                return f'invalid value "{code}"'
            if not 300 <= int(code) <= 599:
                return f'value "{code}" must be between 300 and 599'
        return None
    if name == "limit_except":  # ngx_http_core_limit_except: nginx's methods, any case
        bad = [m for m in args if m.upper() not in _LIMIT_METHODS]
        return f'invalid method "{bad[0]}"' if bad else None
    return None


_LIMIT_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE",
                            "OPTIONS", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH"})
_REGEX_OPS = frozenset({"~", "~*", "!~", "!~*"})
_FILE_OPS = frozenset({"-f", "!-f", "-d", "!-d", "-e", "!-e", "-x", "!-x"})


def _if_condition(value: list[str]) -> str | None:
    """``ngx_http_rewrite_if_condition``: the parentheses are part of the tokens.

    nginx's tokenizer leaves ``(`` and ``)`` glued to the first and last arguments
    (``if ($a = x)`` is ``($a`` ``=`` ``x)``); the rewrite module strips them here.
    """
    first, last = 0, len(value) - 1
    if not value[0].startswith("("):
        return f'invalid condition "{value[0]}"'
    if value[0] == "(":
        cur = 1
    else:
        cur = 0
        value[0] = value[0][1:]
    if not value[last].endswith(")"):
        return f'invalid condition "{value[last]}"'
    if value[last] == ")":
        last -= 1
    else:
        value[last] = value[last][:-1]
    del first
    p = value[cur]
    if len(p) > 1 and p[0] == "$":
        if cur != last and cur + 2 != last:
            return f'invalid condition "{p}"'
        if cur == last:
            return None
        op = value[cur + 1]
        if op in ("=", "!=") or op in _REGEX_OPS:
            return None
        return f'unexpected "{op}" in condition'
    if p in _FILE_OPS or (len(p) == 2 and p[0] == "-") or (len(p) == 3 and p[:2] == "!-"):
        if cur + 1 != last:
            return f'invalid condition "{p}"'
        return None if p in _FILE_OPS else f'invalid condition "{p}"'
    return f'invalid condition "{p}"'


def custom_entry(kind: str, d: Directive) -> str | None:
    """One line inside ``types``/``map``/``geo``/``split_clients``/``charset_map``."""
    nelts = 1 + len(d.args)
    if kind == "types":
        if d.name == "include" and nelts != 2:
            return 'invalid number of arguments in "include" directive'
        return None
    if kind == "map":
        if nelts == 1 and d.name in ("hostnames", "volatile"):
            return None
        if nelts != 2:
            return "invalid number of the map parameters"
        return None
    if kind == "geo":
        if nelts == 1 and d.name in ("ranges", "proxy_recursive"):
            return None
        if nelts != 2:
            return "invalid number of the geo parameters"
        return None
    if kind == "split_clients":
        pct = d.name
        if pct != "*" and split_clients_percent(pct) is None:
            return f'invalid percent value "{pct}"'
        return None
    if kind == "charset_map":
        if nelts != 2:
            return "invalid parameters number"
        return None
    return None


def split_clients_total(entries: list[Directive]) -> str | None:
    """Checked when the ``split_clients`` block closes: the shares must fit in 100%
    (a ``*``, or a share stored as 0, counts as all that is left)."""
    total = 0
    for d in entries:
        share = 0 if d.name == "*" else split_clients_percent(d.name)
        total = total + share if share else 10000
        if total > 10000:
            return "percent total is greater than 100%"
    return None


_INT_MAX = (1 << 63) - 1


def split_clients_percent(text: str) -> int | None:
    """``"12.5%"`` in hundredths of a percent (1250), as nginx reads it: ngx_atofp with
    two decimals, non-zero, then kept in 32 bits (so it may become 0); None where nginx
    says "invalid percent value"."""
    if not text.endswith("%"):
        return None
    value, dot, point = 0, False, 2
    for ch in text[:-1]:
        if ch == ".":
            if dot:
                return None
            dot = True
        elif "0" <= ch <= "9" and point:
            value = value * 10 + ord(ch) - 48
            if value > _INT_MAX:
                return None
            point -= dot
        else:
            return None
    for _ in range(point):
        if value > _INT_MAX // 10:
            return None
        value *= 10
    return value & 0xFFFFFFFF if value else None


def server_names(args: list[str], warnings: list[str]) -> str | None:
    """``ngx_http_core_server_name``: malformed wildcards, empty and invalid regexes (the
    regex is compiled here, at the directive, as nginx does); a "/" only warns."""
    for name in args:
        if (name[:1] == "*" and (len(name) < 3 or name[1] != ".")) or name == ".":
            return f'server name "{name}" is invalid'
        if "/" in name:
            warnings.append(f'server name "{name}" has suspicious symbols')
        if name[:1] != "~":
            continue
        if len(name) == 1:
            return f'empty regex in server name "{name}"'
        from ...http.regex import Regex, RegexError  # the engine's PCRE2 model
        try:
            Regex(name[1:], False)
        except RegexError as exc:
            return str(exc)
    return None


def types_entry(d: Directive, known: dict[str, str], warnings: list[str]) -> None:
    """``ngx_http_core_type``: an extension given again (in any ``types`` of the block)
    takes the new type, with a warning naming both."""
    for ext in d.args:
        ext = ext.lower()
        old = known.get(ext)
        if old is not None:
            warnings.append(f'duplicate extension "{ext}", content type: "{d.name}", '
                            f'previous content type: "{old}"')
        known[ext] = d.name
