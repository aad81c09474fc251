"""App-wide messages: what widgets tell the app, and what the app tells the screen.

Widget-specific messages live nested in their widget (``Composer.SendRequested``);
the ones here cross the screen: a request was served (by the composer or by the live
listener), a new engine was loaded, a config failed, a pane asks to show a source line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class ExchangeServed(Message):
    """A request went through the engine; ``origin`` is "composer" or "listener"."""

    exchange: Any
    origin: str = "composer"


@dataclass
class EngineLoaded(Message):
    """A configuration loaded (at start or on reload) and is now serving."""

    engine: Any
    reloaded: bool = False


@dataclass
class ConfigFailed(Message):
    """Loading the configuration failed; ``error`` is the ConfigError (nginx's wording).

    ``serving`` says whether an older engine is still answering requests.
    """

    error: Exception
    serving: bool = False


@dataclass
class ShowSource(Message):
    """Show ``file:line`` in the config pane (from the trace, the logs, an error)."""

    file: str
    line: int


@dataclass
class SelectExchange(Message):
    """The user picked a served request; the response and trace panes show it."""

    exchange: Any
