"""The Lua differential modules each build one config (``_conf()``) of /c0, /c1, ...
locations; one real nginx and one engine serve a whole module."""

from __future__ import annotations

import pytest

from tests.differential import Pair


@pytest.fixture(scope="module")
def pair(request):  # type: ignore[no-untyped-def]
    with Pair(request.module._conf()) as p:
        yield p
