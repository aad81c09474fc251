"""Fixtures for the ngx_lua API family tests: one real nginx per test module, one VM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.lua_api.harness import VM, Oracle  # noqa: E402
from tests.oracle import HAVE_NGINX  # noqa: E402


@pytest.fixture(scope="module")
def oracle():
    """A real nginx serving snippets for the whole module (starting one costs ~50 ms)."""
    if not HAVE_NGINX:
        pytest.skip("real nginx with the Lua module is not installed")
    with Oracle() as o:
        yield o


@pytest.fixture(scope="module")
def vm() -> VM:
    return VM()
