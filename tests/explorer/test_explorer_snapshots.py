"""Snapshots of the main screen (pytest-textual-snapshot); volatile values are hidden.

The app runs with ``stable=True`` (no clock times or durations, masked Date headers)
and the logs pane gets fixed lines, so the SVGs only change when the UI does.
"""

from __future__ import annotations

from pathlib import Path

from explorer.app import NgxExploreApp
from explorer.widgets.config_tree import ConfigTree
from explorer.widgets.log_view import LogView
from textual.widgets import Input

CONF = Path(__file__).parent / "snapshot_conf" / "nginx.conf"
SIZE = (150, 45)


async def _loaded(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    for _ in range(250):
        if app.engine is not None or "failed" in app.sub_title:
            break
        await pilot.pause(0.02)
    logs = app.main.query_one(LogView)
    logs.flush()
    logs.action_clear()
    logs.add_line("notice", "2026/01/01 00:00:00 [notice] 1#1: start worker process 2")
    logs.flush()
    await pilot.pause()


def _app(prefix: Path, conf: Path = CONF) -> NgxExploreApp:
    # the prefix (where logs are written) is a temp dir: never write into the repo
    return NgxExploreApp(str(conf), str(prefix), listen=False, watch=False, stable=True)


def test_location_selected(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _loaded(pilot)
        tree = pilot.app.main.query_one(ConfigTree)
        node = next(n for n in tree._walk(tree.root) if str(n.label) == "location /api/")
        tree.move_cursor(node)
        await pilot.pause()

    assert snap_compare(_app(tmp_path), run_before=run_before, terminal_size=SIZE)


def test_request_traced(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _loaded(pilot)
        pilot.app.main.query_one("#url", Input).value = "http://example.com:8080/api/x"
        await pilot.press("f4", "ctrl+s")
        for _ in range(250):
            if pilot.app.served:
                break
            await pilot.pause(0.02)
        await _loaded(pilot)
        await pilot.press("f7")
        await pilot.pause()

    assert snap_compare(_app(tmp_path), run_before=run_before, terminal_size=SIZE)


def test_config_error(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n    server {\n        listen 8080;\n"
                    "        locaton / { }\n    }\n}\n")

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _loaded(pilot)

    assert snap_compare(_app(tmp_path, conf), run_before=run_before, terminal_size=SIZE)
