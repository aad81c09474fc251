"""Composer history and preferences on disk (no Textual)."""

from __future__ import annotations

from pathlib import Path

from explorer.history import History, HistoryEntry, Preferences, state_dir


def test_state_dir_env(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NGX_EXPLORE_STATE_DIR", str(tmp_path / "s"))
    assert state_dir() == tmp_path / "s"
    monkeypatch.delenv("NGX_EXPLORE_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "x"))
    assert state_dir() == tmp_path / "x" / "ngx-explore"


def test_history_persists_and_dedups(state_dir: Path) -> None:
    h = History().load()
    h.add(HistoryEntry("GET", "/a"))
    h.add(HistoryEntry("GET", "/a"))  # same as the last: not repeated
    h.add(HistoryEntry("POST", "/b", "X: 1", "body"))
    again = History().load()
    assert again.entries == [HistoryEntry("GET", "/a"), HistoryEntry("POST", "/b", "X: 1", "body")]
    assert again.newest_first()[0].summary == "POST /b"


def test_history_bounded(tmp_path: Path) -> None:
    h = History(tmp_path / "h.json", limit=3)
    for i in range(5):
        h.add(HistoryEntry("GET", f"/{i}"))
    assert [e.url for e in History(tmp_path / "h.json").load().entries] == ["/2", "/3", "/4"]


def test_corrupt_history_is_empty(tmp_path: Path) -> None:
    p = tmp_path / "h.json"
    p.write_text("{not json")
    assert len(History(p).load()) == 0
    p.write_text('{"requests": [{"method": 1}, "x", {"method": "GET", "url": "/ok"}]}')
    assert [e.url for e in History(p).load().entries] == ["/ok"]


def test_preferences(state_dir: Path) -> None:
    Preferences().set("theme", "ngx-light")
    assert Preferences().get("theme") == "ngx-light"
