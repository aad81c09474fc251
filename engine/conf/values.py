"""nginx's argument value syntaxes: sizes (``10m``), times (``1h30s``), flags (``on``/``off``).

The error texts are nginx's (``ngx_conf_set_size_slot`` and friends say
``"x" directive invalid value``).
"""

from __future__ import annotations

import re

from .ast import Directive
from .errors import ConfigError

_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
_TIME_PART = re.compile(r"(\d+)(ms|y|M|w|d|h|m|s|)")
_TIME_UNITS = {"ms": 0.001, "y": 31536000, "M": 2592000, "w": 604800, "d": 86400,
               "h": 3600, "m": 60, "s": 1, "": 1}


def parse_size(text: str) -> int | None:
    """``512``, ``8k``, ``10m``, ``1g`` in bytes; None when invalid."""
    m = _SIZE.match(text)
    if not m:
        return None
    n = int(m.group(1))
    unit = m.group(2).lower()
    return n * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[unit]


def parse_time(text: str) -> float | None:
    """``60``, ``60s``, ``1m30s``, ``500ms`` in seconds; None when invalid."""
    if not text:
        return None
    pos = 0
    total = 0.0
    while pos < len(text):
        m = _TIME_PART.match(text, pos)
        if not m or m.end() == pos:
            return None
        total += int(m.group(1)) * _TIME_UNITS[m.group(2)]
        pos = m.end()
        if m.group(2) == "":
            break
    return total if pos == len(text) else None


def size_arg(d: Directive, index: int = 0) -> int:
    value = parse_size(d.args[index])
    if value is None:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)
    return value


def time_arg(d: Directive, index: int = 0) -> float:
    value = parse_time(d.args[index])
    if value is None:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, d.line)
    return value


def flag_arg(d: Directive) -> bool:
    v = d.args[0].lower()
    if v == "on":
        return True
    if v == "off":
        return False
    raise ConfigError(f'invalid value "{d.args[0]}" in "{d.name}" directive, '
                      f'it must be "on" or "off"', d.file, d.line)
