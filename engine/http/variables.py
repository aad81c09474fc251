"""Variables and complex values: ``$uri``, ``$http_host``, ``set $x``, ``"a $b ${c}d"``.

Modules add variables to a :class:`VariableTable` (whole names, or prefixes such as
``http_`` and ``arg_``); ``set`` and named regex captures declare theirs at load time.
Like nginx, a complex value is compiled once into literal and variable parts, and an
unknown variable is a config error (``unknown "foo" variable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Union

from ..conf.errors import ConfigError

if TYPE_CHECKING:
    from .request import Request

Getter = Callable[["Request"], "str | None"]
PrefixGetter = Callable[["Request", str], "str | None"]
Setter = Callable[["Request", str], None]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(slots=True)
class Variable:
    name: str
    get: Getter | None = None
    set: Setter | None = None
    #: "set"-declared: stored per request, empty until set (nginx's indexed variables).
    stored: bool = False
    #: nginx's NGX_HTTP_VAR_CHANGEABLE: ``set`` may assign it.
    changeable: bool = False


class VariableTable:
    def __init__(self) -> None:
        self.vars: dict[str, Variable] = {}
        self.prefixes: list[tuple[str, PrefixGetter]] = []

    def add(self, name: str, get: Getter | None = None, set: Setter | None = None,
            changeable: bool = False) -> None:
        self.vars[name] = Variable(name, get, set, changeable=changeable)

    def add_prefix(self, prefix: str, get: PrefixGetter) -> None:
        self.prefixes.append((prefix, get))

    def declare(self, name: str) -> Variable:
        """``set $name`` / a named capture: a per-request stored variable."""
        var = self.vars.get(name)
        if var is None:
            var = self.vars[name] = Variable(name, stored=True, changeable=True)
        return var

    def known(self, name: str) -> bool:
        name = name.lower()
        return name in self.vars or any(name.startswith(p) for p, _ in self.prefixes)

    def get(self, r: Request, name: str) -> str | None:
        """The value of ``$name`` for the request, None when not found (nginx's not_found)."""
        name = name.lower()
        if name in r.variables:
            return r.variables[name]
        var = self.vars.get(name)
        if var is not None:
            if var.get is not None:
                return var.get(r)
            return None
        for prefix, getter in self.prefixes:
            if name.startswith(prefix):
                return getter(r, name[len(prefix):])
        return None

    def set(self, r: Request, name: str, value: str) -> None:
        name = name.lower()
        var = self.vars.get(name)
        if var is not None and var.set is not None:
            var.set(r, value)
        else:
            r.variables[name] = value


# --- complex values ----------------------------------------------------------------------


class ScriptError(Exception):
    """A script stopped on a value it could not copy (its alert is logged): nginx's
    NGX_ERROR from a complex value, a 500 for the request (the header filters' own
    values, add_header's, close the connection instead)."""


def _size(parts: list[str]) -> int:
    return sum(len(p.encode("utf-8", "surrogateescape")) for p in parts)


@dataclass(frozen=True, slots=True)
class VarRef:
    name: str


@dataclass(frozen=True, slots=True)
class CaptureRef:
    index: int


Part = Union[str, VarRef, CaptureRef]


class ComplexValue:
    """A directive argument with variables, compiled once (ngx_http_complex_value_t)."""

    __slots__ = ("source", "parts", "static")

    def __init__(self, source: str, parts: list[Part]) -> None:
        self.source = source
        self.parts = parts
        self.static: str | None = parts[0] if len(parts) == 1 and isinstance(parts[0], str) \
            else ("" if not parts else None)

    def evaluate(self, r: Request) -> str:
        """nginx measures the value (its length codes), then copies it: a regex that
        ran while measuring (a ``map``'s) changes what the copy reads for the captures
        and the named captures before it. A shorter copy is what the value becomes; a
        longer one is refused by the bounds check of nginx's script copy (an alert,
        then :class:`ScriptError`), as Debian's 1.22.1 does."""
        if self.static is not None:
            return self.static
        before = r.captures
        measured = self._parts(r)
        if r.captures is before:  # no regex ran: the copy reads the same values
            return "".join(measured)
        copied = self._parts(r)
        if copied != measured and _size(copied) > _size(measured):
            r.log("alert", "no buffer space in script copy")
            raise ScriptError
        return "".join(copied)

    def _parts(self, r: Request) -> list[str]:
        out = []
        table = r.engine_vars
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, VarRef):
                out.append(table.get(r, part.name) or "")
            else:
                caps = r.captures
                if caps is not None and part.index < len(caps):
                    out.append(caps[part.index] or "")
        return out

    @property
    def has_variables(self) -> bool:
        return self.static is None

    def __repr__(self) -> str:
        return f"ComplexValue({self.source!r})"


def split_value(text: str) -> list[Part] | str:
    """Split ``text`` into parts; returns an error message (str) for bad syntax."""
    parts: list[Part] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$":
            buf.append(ch)
            i += 1
            continue
        i += 1
        if i < n and "1" <= text[i] <= "9":
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(CaptureRef(int(text[i])))
            i += 1
            continue
        bracket = i < n and text[i] == "{"
        if bracket:
            i += 1
        start = i
        while i < n and text[i] in _NAME_CHARS:
            i += 1
        name = text[start:i]
        if bracket:
            if i >= n or text[i] != "}":
                return f'the closing bracket in "{name}" variable is missing'
            i += 1
        if not name:
            return "invalid variable name"
        if buf:
            parts.append("".join(buf))
            buf = []
        parts.append(VarRef(name.lower()))
    if buf:
        parts.append("".join(buf))
    return parts


def compile_value(text: str, table: VariableTable, file: str | None = None,
                  line: int | None = None) -> ComplexValue:
    parts = split_value(text)
    if isinstance(parts, str):
        raise ConfigError(parts, file, line)
    for part in parts:
        if isinstance(part, VarRef) and not table.known(part.name):
            # nginx finds these once the whole configuration is read: no file:line
            raise ConfigError(f'unknown "{part.name}" variable')
    return ComplexValue(text, parts)
