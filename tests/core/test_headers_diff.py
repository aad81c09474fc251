"""``expires`` and ``etag`` against real nginx: the Expires/Cache-Control pair for every
form of ``expires`` (times, ``@daily``, ``modified``, epoch/max/off, values with
variables), and ``etag off``. Expires names a time and, for ``@daily`` and
``modified``, max-age counts from now: those are compared to the second, as the two
servers answer within one."""

from __future__ import annotations

import email.utils

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

LOCATIONS = {
    "/zero": "expires 0;",
    "/minus": "expires -1;",
    "/epoch": "expires epoch;",
    "/max": "expires max;",
    "/off": "expires off;",
    "/hour": "expires 1h;",
    "/minus_hour": "expires -1h;",
    "/daily": "expires @15h30m;",
    "/var": "set $e 2h; expires $e;",
    "/var_epoch": "set $e epoch; expires $e;",
    "/var_bad": "set $e soon; expires $e;",
    "/var_off": "set $e off; expires $e;",
    "/var_minus": "set $e -5m; expires $e;",
    "/var_daily": "set $e @3h; expires $e;",
    "/modified_no_file": "expires modified 1h;",
    "/not_found": "expires 1h; return 404;",
    "/redirect": "expires 1h; return 302 /x;",
}
FILE_LOCATIONS = {
    "/modified": "expires modified 3650d;",
    "/modified_past": "expires modified -1d;",
    "/etag_on": "",
    "/etag_off": "etag off;",
}

CONF = "events {}\nhttp {\n    server {\n        listen 127.0.0.1:{port};\n" + "".join(
    f"        location = {path} {{ {body} {'' if 'return' in body else 'return 200 ok;'} }}\n"
    for path, body in LOCATIONS.items()) + "".join(
    f"        location = {path} {{ {body} alias html/f.txt; }}\n"
    for path, body in FILE_LOCATIONS.items()) + "    }\n}\n"
FILES = {"html/f.txt": "file\n"}


def _when(reply) -> float | None:  # type: ignore[no-untyped-def]
    value = reply.header("Expires")
    return email.utils.parsedate_to_datetime(value).timestamp() if value else None


def _max_age(reply) -> int | None:  # type: ignore[no-untyped-def]
    value = reply.header("Cache-Control") or ""
    return int(value[8:]) if value.startswith("max-age=") else None


@requires_nginx
@pytest.mark.parametrize("path", [*LOCATIONS, *FILE_LOCATIONS])
def test_same_as_nginx(pair, path):
    real, ours = pair.both(Req("GET", path))
    assert ours.comparable({"expires", "cache-control"}) == \
        real.comparable({"expires", "cache-control"})
    if _max_age(real) is None:
        assert ours.header("Cache-Control") == real.header("Cache-Control")
    else:
        assert abs(_max_age(ours) - _max_age(real)) <= 1  # type: ignore[operator]
    assert (ours.header("ETag") is None) == (real.header("ETag") is None)
    want, got = _when(real), _when(ours)
    assert (want is None) == (got is None)
    if want is not None and want > 1:  # epoch and max are fixed strings
        assert abs(got - want) <= 1  # type: ignore[operator]
