"""Fixtures for the explorer's tests: a private state dir and small configs on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

import pytest

SMALL_CONF = """\
events {}
http {
    add_header X-Http on;
    server {
        listen 8080;
        server_name example.com;
        location / {
            return 200 "root\\n";
        }
        location /api/ {
            add_header X-Api 1;
            return 200 "api\\n";
        }
        location ~ \\.php$ {
            return 403;
        }
    }
}
"""


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state dir: history and theme never leak between tests."""
    d = tmp_path / "state"
    monkeypatch.setenv("NGX_EXPLORE_STATE_DIR", str(d))
    return d


@pytest.fixture
def small_conf(tmp_path: Path) -> Path:
    conf = tmp_path / "conf" / "nginx.conf"
    conf.parent.mkdir()
    conf.write_text(SMALL_CONF)
    return conf


async def _wait_for(pilot, cond: Callable[[], object], timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Pump the app until ``cond()`` holds (engine loads and requests run in workers)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


@pytest.fixture
def wait_for():  # type: ignore[no-untyped-def]
    return _wait_for
