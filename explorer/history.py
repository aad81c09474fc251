"""The composer's history and the explorer's small preferences, kept between runs.

History is a list of what was *sent* (method, URL, headers text, body), newest last,
stored as JSON in the state directory. Loading it only refills the composer: nothing
is ever re-sent on start, since replaying a POST behind the user's back would be a bug.

The state directory is ``$NGX_EXPLORE_STATE_DIR`` (tests point it at a temp dir), else
``$XDG_STATE_HOME/ngx-explore``, else ``~/.local/state/ngx-explore``. A corrupt or
unreadable file is treated as empty: losing history is better than failing to start.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["HistoryEntry", "History", "Preferences", "state_dir"]

HISTORY_FILE = "history.json"
PREFS_FILE = "preferences.json"


def state_dir() -> Path:
    """Where ngx-explore keeps its state, following the XDG base directory spec."""
    override = os.environ.get("NGX_EXPLORE_STATE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "ngx-explore"


def _write_json(path: Path, data: Any) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class HistoryEntry:
    """One sent request, as the user typed it (not as it was normalised)."""

    method: str
    url: str
    headers: str = ""
    body: str = ""

    @property
    def summary(self) -> str:
        return f"{self.method} {self.url}"


class History:
    """Sent requests, oldest first, de-duplicated against the previous entry and bounded."""

    def __init__(self, path: Path | None = None, limit: int = 200) -> None:
        self.path = path or state_dir() / HISTORY_FILE
        self.limit = limit
        self.entries: list[HistoryEntry] = []

    def load(self) -> History:
        data = _read_json(self.path)
        items = data.get("requests", []) if isinstance(data, dict) else []
        self.entries = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("method"), str) \
                    and isinstance(item.get("url"), str):
                self.entries.append(HistoryEntry(
                    item["method"], item["url"], str(item.get("headers", "")),
                    str(item.get("body", ""))))
        self.entries = self.entries[-self.limit:]
        return self

    def add(self, entry: HistoryEntry) -> None:
        """Record a sent request; repeating the last one does not grow the list."""
        if self.entries and self.entries[-1] == entry:
            return
        self.entries.append(entry)
        del self.entries[:-self.limit]
        self.save()

    def save(self) -> None:
        try:
            _write_json(self.path, {"version": 1,
                                    "requests": [asdict(e) for e in self.entries]})
        except OSError:
            pass  # a read-only home must not break sending requests

    def __len__(self) -> int:
        return len(self.entries)

    def newest_first(self) -> list[HistoryEntry]:
        return list(reversed(self.entries))


class Preferences:
    """Small remembered choices (the theme), one JSON object."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / PREFS_FILE
        data = _read_json(self.path)
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if self.data.get(key) == value:
            return
        self.data[key] = value
        try:
            _write_json(self.path, self.data)
        except OSError:
            pass
