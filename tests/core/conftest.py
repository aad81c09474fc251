"""The core differential modules each define ``CONF`` (and ``FILES``); one real nginx and
one engine serve a whole module. ``include mime.types`` finds the bundled copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential import Pair

MIME_TYPES = Path(__file__).resolve().parents[2] / "engine" / "conf" / "mime.types"


def with_mime_types(files: dict[str, str]) -> dict[str, str]:
    out = dict(files)
    out["conf/mime.types"] = MIME_TYPES.read_text()
    return out


@pytest.fixture(scope="module")
def pair(request):  # type: ignore[no-untyped-def]
    module = request.module
    with Pair(module.CONF, with_mime_types(getattr(module, "FILES", {}))) as p:
        yield p
