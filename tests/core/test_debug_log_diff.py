"""The location decision in nginx's own words: with ``error_log ... debug``, real nginx
logs every ``test location`` comparison and the ``using configuration`` verdict; the
engine's trace must list the same comparisons in the same order and name the same
configuration (Debian's nginx is built --with-debug)."""

from __future__ import annotations

import re
import time

import pytest

from tests.core import test_locations_diff as scenarios
from tests.differential import Pair, Req
from tests.oracle import requires_nginx

CONF = scenarios.CONF.replace("events {}", "error_log logs/debug.log debug;\nevents {}", 1)
_TEST = re.compile(r'test location: (~ )?"([^"]*)"')
_USING = re.compile(r'using configuration "([^"]*)"')


@pytest.fixture(scope="module")
def debug_pair():
    with Pair(CONF) as p:
        yield p


def _real(pair: Pair, uri: str) -> tuple[list[str], list[str]]:
    log = pair.real.prefix / "logs" / "debug.log"
    before = log.stat().st_size if log.exists() else 0
    pair.ask_real(Req("GET", uri))
    time.sleep(0.03)
    with log.open("rb") as fh:
        fh.seek(before)
        text = fh.read().decode("latin-1")
    tests = [("~ " if regex else "") + name for regex, name in _TEST.findall(text)]
    return tests, _USING.findall(text)


@requires_nginx
@pytest.mark.parametrize("uri", scenarios.URIS)
def test_location_decision_as_in_the_debug_log(debug_pair, uri: str) -> None:
    want_tests, want_using = _real(debug_pair, uri)
    ex = debug_pair.loop.run_until_complete(
        debug_pair.engine.request(Req("GET", uri).engine_request(debug_pair.port)))
    tests = [("~ " if e.data["location"].startswith("~") else "") + e.data["node"]
             for e in ex.trace if e.kind == "location_test"]
    using = [e.data["using"] for e in ex.trace if e.kind == "location" and e.data["using"]]
    assert tests == want_tests
    assert using == want_using
