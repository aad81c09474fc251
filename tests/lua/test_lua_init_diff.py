"""init_by_lua* failures: ``nginx -t`` never runs the code, starting nginx stops on it.

ngx_lua skips init_by_lua* when nginx only tests its configuration, so a block that
raises (or does not even compile, or names a missing file) passes ``nginx -t``; starting
nginx runs it while the http block is read and exits 1 on ngx_lua's ``[error]
init_by_lua error: ...`` line (a traceback added when the error value is a string or a
number; nothing at all for ``error(nil)``). Ours is compared with the real nginx on both.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import tempfile
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from engine import Engine
from engine.conf.errors import ConfigError
from explorer.commands import check, serve
from tests.oracle import LOAD_MODULES, NGINX, first_emerg, nginx_test, requires_nginx, write_prefix

pytestmark = requires_nginx


def conf(init: str, tail: str = "") -> str:
    return ("events {}\nhttp {\n" + init + "\n    server { listen 127.0.0.1:1; }\n"
            + tail + "}\n")


# (id, nginx.conf, extra files)
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("runtime", conf("    init_by_lua_block {\n        local x = nil\n        x.y = 1\n    }"), {}),
    ("nested", conf("    init_by_lua_block {\n        local function f() error('deep') end\n"
                    "        f()\n    }"), {}),
    ("syntax", conf("    init_by_lua_block {\n        local x =\n    }"), {}),
    ("level0", conf("    init_by_lua_block { error('x', 0) }"), {}),
    ("number", conf("    init_by_lua_block { error(42) }"), {}),
    ("table", conf("    init_by_lua_block { error({}) }"), {}),
    ("nil", conf("    init_by_lua_block { error(nil) }"), {}),
    ("string-form", conf("    init_by_lua 'local t = {} return t.a.b';"), {}),
    ("file", conf("    init_by_lua_file conf/init.lua;"),
     {"conf/init.lua": "local a = nil\nreturn a.b\n"}),
    ("file-syntax", conf("    init_by_lua_file conf/init.lua;"), {"conf/init.lua": "x = = 1\n"}),
    ("file-missing", conf("    init_by_lua_file conf/nope.lua;"), {}),
]

_LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ", re.M)


def real_start(prefix: Path) -> tuple[int, str]:
    """Start the real nginx (it fails before listening) and return its exit status and
    stderr, log lines written as ``[level] message`` (what follows ``nginx: `` for us)."""
    assert NGINX
    proc = subprocess.run(
        [NGINX, "-p", str(prefix), "-c", "conf/nginx.conf",
         "-g", LOAD_MODULES + f" daemon off; pid {prefix}/logs/nginx.pid;"],
        capture_output=True, text=True, timeout=10)
    return proc.returncode, _LOG_LINE.sub(r"\1 ", proc.stderr)


def our_test(prefix: Path) -> tuple[int, str]:
    err = io.StringIO()
    rc = check.run_test(["-t", "-p", str(prefix), "-c", "conf/nginx.conf"], err=err)
    return rc, err.getvalue()


def our_start(prefix: Path) -> tuple[int, str]:
    """``ngx-explore serve``; it must fail before it would listen."""
    err = io.StringIO()
    with redirect_stderr(err):
        rc = serve.main(["-p", str(prefix) + "/", "-c", "conf/nginx.conf"])
    return rc, err.getvalue().replace("nginx: [", "[")


@pytest.mark.parametrize("case,text,files", CASES, ids=[c[0] for c in CASES])
def test_t_passes_and_start_fails_like_nginx(case: str, text: str,
                                             files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp)
        write_prefix(prefix, text, files)
        real = nginx_test(prefix)
        assert real.returncode == 0
        assert our_test(prefix) == (real.returncode, real.output)
        real_rc, real_err = real_start(prefix)
        assert real_rc == 1
        assert our_start(prefix) == (real_rc, real_err)


def test_t_runs_no_init_code() -> None:
    """-t is silent about what init_by_lua would log (it does not run it)."""
    text = conf("    init_by_lua_block { ngx.log(ngx.WARN, 'running') }")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp)
        write_prefix(prefix, text)
        real = nginx_test(prefix)
        assert "running" not in real.output
        assert our_test(prefix) == (real.returncode, real.output)


def test_t_still_reports_errors_after_a_failing_init() -> None:
    """What follows in the http block is still checked: -t fails on it, not on the init."""
    text = conf("    init_by_lua_block { error('boom') }", "    bogus_directive;\n")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp)
        write_prefix(prefix, text)
        real = nginx_test(prefix)
        rc, out = our_test(prefix)
        ours = next(line[len("nginx: "):] for line in out.splitlines()
                    if line.startswith("nginx: [emerg]"))
        assert (rc, ours) == (real.returncode, first_emerg(real.output))
        assert real.returncode == 1 and "boom" not in real.output and "boom" not in out


def test_engine_load_raises_nginx_line() -> None:
    """The engine's own start (what the explorer and the request command load) raises the
    line as a ConfigError at level error, with no place."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp)
        write_prefix(prefix, CASES[1][1])
        _, real_err = real_start(prefix)
        with pytest.raises(ConfigError) as info:
            Engine.load(str(prefix / "conf" / "nginx.conf"), prefix=str(prefix) + "/")
        assert info.value.level == "error" and info.value.file is None
        assert str(info.value) + "\n" == real_err


def test_explorer_shows_init_failure() -> None:
    """The TUI reports the failed start instead of crashing, and serves nothing."""
    from rich.console import Console
    from textual.widgets import Static

    from explorer.app import NgxExploreApp

    async def run(conf_path: Path) -> tuple[str, object]:
        app = NgxExploreApp(str(conf_path), listen=False, watch=False, stable=True)
        async with app.run_test(size=(160, 50)) as pilot:
            for _ in range(250):
                if "failed" in app.sub_title:
                    break
                await pilot.pause(0.02)
            source = app.main.query_one("#source", Static)
            out = Console(width=200, file=io.StringIO(), no_color=True)
            out.print(source.content)
            return out.file.getvalue(), app.engine  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp)
        conf_path = write_prefix(prefix, CASES[1][1])
        shown, engine = asyncio.run(run(conf_path))
    assert engine is None
    assert "nginx: [error] init_by_lua error: init_by_lua(nginx.conf:3):2: deep\n" in shown
    assert "in main chunk" in shown and "test failed" not in shown
