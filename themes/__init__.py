"""ngx-explore's themes, kept as data: one JSON file per theme.

Each file holds a Textual theme's colours plus a ``syntax`` map of pygments token types
to styles, so the config source, Lua bodies and response bodies are highlighted in
colours that match the UI. :func:`load_themes` turns the files into Textual ``Theme``
objects and pygments ``Style`` classes; nothing else in the app hard-codes a colour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pygments.style import Style
from pygments.token import string_to_tokentype
from textual.theme import Theme

__all__ = ["ThemeData", "load_themes", "syntax_style", "DEFAULT_THEME"]

DEFAULT_THEME = "ngx-dark"
_HERE = Path(__file__).parent
_THEME_FIELDS = ("primary", "secondary", "accent", "warning", "error", "success",
                 "foreground", "background", "surface", "panel", "dark", "variables")


@dataclass(frozen=True)
class ThemeData:
    """A theme file: the Textual theme and its matching pygments style."""

    theme: Theme
    syntax: type[Style]


def _pygments_style(name: str, dark: bool, background: str,
                    tokens: dict[str, str]) -> type[Style]:
    styles = {string_to_tokentype(k): v for k, v in tokens.items()}
    return type(f"{name.title().replace('-', '')}Style", (Style,), {
        "name": name, "background_color": background, "styles": styles,
    })


@lru_cache(maxsize=1)
def load_themes() -> dict[str, ThemeData]:
    """Every ``themes/*.json``, by name; a malformed file is skipped, not fatal."""
    found: dict[str, ThemeData] = {}
    for path in sorted(_HERE.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            kwargs = {k: data[k] for k in _THEME_FIELDS if k in data}
            theme = Theme(name=data["name"], **kwargs)
            style = _pygments_style(data["name"], bool(data.get("dark", True)),
                                    data.get("surface", "#000000"), data.get("syntax", {}))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found[theme.name] = ThemeData(theme, style)
    return found


def syntax_style(theme_name: str, dark: bool) -> str | type[Style]:
    """The pygments style for the UI theme in use (a built-in one for Textual's themes)."""
    data = load_themes().get(theme_name)
    if data is not None:
        return data.syntax
    return "monokai" if dark else "friendly"
