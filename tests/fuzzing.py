"""What the seeded differential fuzz tests share (tests/*/test_*_fuzz_diff.py): a group
of generated requests answered by real nginx and by the engine from one :class:`Pair`,
the error-log lines both wrote meanwhile, and configuration verdicts against
``nginx -t``. A failure names the seed and shows the generated block, so it can be
replayed."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.differential import Pair, Reply, Req, engine_load_error
from tests.lua.cases import mark_logs, new_log_lines
from tests.oracle import first_emerg, nginx_test, write_prefix


def pair_fixture(conf: str, files: Any = None, mtime: int | None = None) -> Any:
    """The module's ``fuzz_pair`` fixture: ``conf`` served by real nginx and the engine
    for all of the module's groups (``fuzz_pair = pair_fixture(CONF, FILES)``). With
    ``mtime``, html/ and everything under it get it on both sides, so ETag and
    Last-Modified compare too."""
    @pytest.fixture(scope="module")
    def fuzz_pair():  # type: ignore[no-untyped-def]
        with Pair(conf, files) as p:
            if mtime is not None:
                for prefix in (p.real.prefix, p.prefix):
                    for root, dirs, names in os.walk(prefix / "html"):
                        for name in dirs + names:
                            os.utime(os.path.join(root, name), (mtime, mtime))
                    os.utime(prefix / "html", (mtime, mtime))
            yield p
    return fuzz_pair


#: One group of cases: (label, server block, requests).
Group = tuple[str, str, list[Req]]


def generated(seed: int, count: int,
              gen: Callable[[random.Random, int], tuple[str, list[Req]]]) -> list[Group]:
    """``count`` groups ``server-N`` from ``gen(rng, n)``, drawn from one random stream
    seeded with ``seed`` (so a seed names the whole set)."""
    rng = random.Random(seed)
    return [(f"server-{n}", *gen(rng, n)) for n in range(count)]


def http_conf(groups: list[Group], head: str = "    access_log off;\n") -> str:
    """The config serving every group's block, error_log at info, ``head`` first in http."""
    return ("error_log logs/error.log info;\nevents {}\nhttp {\n" + head
            + "".join(g[1] for g in groups) + "}\n")


def assert_case_count(groups: list[tuple], low: int, high: int) -> None:
    """The generator still makes a fair number of requests (not none, not thousands):
    ``groups`` are (label, block, requests...) tuples."""
    total = sum(len(g[2]) for g in groups)
    assert low <= total <= high, total


def settled_logs(pair: Pair, wait: float = 0.3) -> tuple[list, list]:
    """The error-log entries (ours, nginx's) written since the last look; when they
    differ, nginx gets a moment to write its last lines (a loaded machine)."""
    ours, real = new_log_lines(pair, "ours"), new_log_lines(pair, "real")
    if ours != real:
        time.sleep(wait)
        real += new_log_lines(pair, "real")
    return ours, real


def show(reply: Reply) -> str:
    """A reply in a divergence report: status, Location, body."""
    return f"{reply.status} {reply.header('location') or ''} {reply.body!r}"


def assert_group_as_nginx(pair: Pair, seed: int, label: str, block: str, reqs: list[Req],
                          same: Callable[[Reply, Reply], bool] | None = None,
                          shown: Callable[[Reply], str] = show,
                          ask: Callable[[Req], tuple[Reply, Reply]] | None = None,
                          describe: Callable[[Req], str] | None = None,
                          logs: Callable[[list], list] | None = None) -> None:
    """Every request of the group gets the same reply from both (``same(real, ours)``,
    else the comparable parts), then both logged the same lines (as ``logs`` rewrites
    them: for parts that depend on timing)."""
    diffs = []
    mark_logs(pair)
    for req in reqs:
        real, ours = ask(req) if ask is not None else pair.both(req)
        if not (same(real, ours) if same is not None else ours.comparable() == real.comparable()):
            where = describe(req) if describe is not None else f"{req.method} {req.target}"
            diffs.append(f"  {where}\n    nginx: {shown(real)}\n    ours:  {shown(ours)}")
    assert not diffs, (f"seed {seed}, {label}: {len(diffs)} of {len(reqs)} differ\n{block}\n"
                       + "\n".join(diffs))
    ours_log, real_log = settled_logs(pair)
    if logs is not None:
        ours_log, real_log = logs(ours_log), logs(real_log)
    assert ours_log == real_log, f"seed {seed}, {label}: error logs differ\n{block}"


def config_verdicts(tmp_path: Path, conf: str, files: Any = None) -> tuple[str | None, str | None]:
    """(ours, nginx's) first ``[emerg]`` for ``conf`` (None when it loads)."""
    write_prefix(tmp_path, conf, files)
    return engine_load_error(tmp_path), first_emerg(nginx_test(tmp_path).output)
