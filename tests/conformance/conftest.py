"""Collect conformance results per area and print the pass table at the end of the run."""

from __future__ import annotations

from collections import defaultdict

RESULTS: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # passed, failed, skipped


def pytest_runtest_logreport(report):  # type: ignore[no-untyped-def]
    if "tests/conformance/" not in report.nodeid or "[" not in report.nodeid:
        return
    area = report.nodeid.split("[", 1)[1].split(":", 1)[0]
    if report.skipped:
        RESULTS[area][2] += 1
    elif report.when == "call":
        RESULTS[area][0 if report.passed else 1] += 1
    elif report.failed:  # an error while setting the servers up
        RESULTS[area][1] += 1


def pytest_terminal_summary(terminalreporter):  # type: ignore[no-untyped-def]
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("conformance with real nginx + ngx_lua, over sockets")
    tr.write_line(f"{'area':<18}{'passed':>8}{'failed':>8}{'skipped':>9}")
    total = [0, 0, 0]
    for area in sorted(RESULTS):
        p, f, s = RESULTS[area]
        total = [total[0] + p, total[1] + f, total[2] + s]
        tr.write_line(f"{area:<18}{p:>8}{f:>8}{s:>9}")
    tr.write_line(f"{'all':<18}{total[0]:>8}{total[1]:>8}{total[2]:>9}")
