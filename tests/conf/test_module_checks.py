"""Checks nginx makes while its modules initialise (after the parse), against real nginx -t:
unknown variables, bad regexes, unknown log formats, bad return codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oracle import nginx_test, requires_nginx, write_prefix

CONFIGS = {
    "unknown variable": 'location / { return 200 "$nope"; }',
    "unknown variable in set": 'location / { set $a $nope2; return 200 "$a"; }',
    "bad location regex": "location ~ (abc { return 200; }",
    "bad rewrite regex": "location / { rewrite (x /y last; }",
    "unknown log format": "access_log logs/a.log nosuch;",
    "bad return code": "location / { return abc; }",
    "bad if condition": "location / { if ($a) { return 200; } }",
    "duplicate log format name": None,  # built below: needs the http level
}


def _conf(body: str) -> str:
    return ("events {}\nhttp {\n    server {\n        listen 127.0.0.1:18999;\n        "
            + body + "\n    }\n}\n")


CONF_TEXT = {k: _conf(v) for k, v in CONFIGS.items() if v}
CONF_TEXT["duplicate log format name"] = (
    "events {}\nhttp {\n    log_format a '$uri';\n    log_format a '$uri';\n"
    "    server { listen 127.0.0.1:18999; }\n}\n")


def _message(stderr: str) -> str:
    """The [emerg] line without nginx's "nginx: " or timestamp prefix."""
    for line in stderr.splitlines():
        m = re.search(r"\[emerg\] (?:\d+#\d+: )?(.*)$", line)
        if m:
            return m.group(1)
    return ""


def _ours(prefix: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "explorer.cli", "-t", "-p", str(prefix),
                           "-c", "conf/nginx.conf"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    return proc.returncode, proc.stderr


@requires_nginx
@pytest.mark.parametrize("name", sorted(CONF_TEXT))
def test_same_error_as_nginx(tmp_path: Path, name: str) -> None:
    write_prefix(tmp_path, CONF_TEXT[name])
    real = nginx_test(tmp_path)
    rc, err = _ours(tmp_path)
    assert (rc != 0) == (real.returncode != 0)
    assert _message(err) == _message(real.output)
