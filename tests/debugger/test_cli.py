"""``ngx-explore debug``: the batch form, its output and exit statuses."""

from __future__ import annotations

import pytest

from explorer.commands import debug

from .conftest import Site


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = debug.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pauses_evals_and_response(site: Site, capsys) -> None:
    line = site.line("t_call")
    code, out, err = run(capsys, str(site.conf), "GET /t", "-p", str(site.root),
                         "--break", f"nginx.conf:{line}", "--eval", "a", "--eval", "a + 1",
                         "--eval", "ngx.var.uri")
    assert code == 0, err
    first = out.splitlines()[:4]
    assert first == [f"paused at nginx.conf:{line} in content_by_lua(nginx.conf:{line - 4}) "
                     "GET /t", "  a = 1", "  a + 1 = 2", '  ngx.var.uri = "/t"']
    assert "\nHTTP/1.1 200 OK\n" in "\n" + out
    assert out.endswith("\n\na=1 b=2\n")


def test_conditional_break_as_separate_words_and_hits(site: Site, capsys) -> None:
    line = site.line("loop")
    code, out, _ = run(capsys, str(site.conf), "/loop", "-p", str(site.root),
                       "--break", f"nginx.conf:{line}", "if", "i >= 4", "--eval", "i")
    assert code == 0
    assert [ln for ln in out.splitlines() if ln.startswith("  i = ")] == ["  i = 4", "  i = 5"]
    code, out, _ = run(capsys, str(site.conf), "/loop", "-p", str(site.root),
                       "--break", f"nginx.conf:{line} hit %2 if i > 1", "--eval", "i")
    assert [ln for ln in out.splitlines() if ln.startswith("  i = ")] == ["  i = 3", "  i = 5"]


def test_module_subrequest_and_timer(site: Site, capsys) -> None:
    code, out, _ = run(capsys, str(site.conf), "GET /t", "-p", str(site.root),
                       "--break", f"mod.lua:{site.line('double_y', 'mod.lua')}", "--eval", "x",
                       "--stack")
    assert code == 0
    assert f"paused at lua/mod.lua:{site.line('double_y', 'mod.lua')} in content_by_lua(" in out
    assert f"  #1 nginx.conf:{site.line('t_call')} in main chunk" in out
    code, out, _ = run(capsys, str(site.conf), "GET /cap", "-p", str(site.root),
                       "--break", f"nginx.conf:{site.line('sub')}")
    assert "GET /sub?x=1 (subrequest of GET /cap)" not in out  # the subrequest's own uri
    assert "GET /sub (subrequest of GET /cap)" in out
    code, out, _ = run(capsys, str(site.conf), "GET /timer", "-p", str(site.root),
                       "--break", f"nginx.conf:{site.line('timer')}", "--eval", "v")
    assert " ngx.timer\n  v = 42\n" in out


def test_break_on_error_prints_the_stack(site: Site, capsys) -> None:
    code, out, _ = run(capsys, str(site.conf), "GET /err", "-p", str(site.root),
                       "--break-on-error", "--eval", "where")
    assert code == 0
    line = site.line("err")
    assert out.startswith(f"paused on error at nginx.conf:{line} in content_by_lua(")
    assert "attempt to index local 't' (a nil value)\n" in out
    assert f"  #0 nginx.conf:{line} in main chunk" in out
    assert '  where = "before"' in out
    assert "HTTP/1.1 500 Internal Server Error" in out


def test_unresolved_breakpoint_exits_2(site: Site, capsys) -> None:
    listen = site.find("listen 8080;")
    code, out, err = run(capsys, str(site.conf), "GET /t", "-p", str(site.root),
                         "--break", f"nginx.conf:{listen}", "--break", "nope.lua:3")
    assert code == 2
    assert (f"breakpoint nginx.conf:{listen} not set: nginx.conf:{listen} is not inside a "
            "*_by_lua_block") in err
    assert 'breakpoint nope.lua:3 not set: unknown file "nope.lua"' in err
    assert "HTTP/1.1 200 OK" in out  # the request still ran


@pytest.mark.parametrize("argv, message", [
    (["--break", "nginx.conf"], 'invalid breakpoint "nginx.conf"'),
    (["--break", "nginx.conf:x"], 'invalid breakpoint "nginx.conf:x"'),
    (["--break", "nginx.conf:3 when x"], 'invalid breakpoint "nginx.conf:3 when x"'),
    (["--break"], 'option "--break" requires a value'),
    ([], "nothing to stop at"),
])
def test_bad_input_is_a_message_not_a_traceback(site: Site, capsys, argv, message) -> None:
    code, out, err = run(capsys, str(site.conf), "GET /t", *argv)
    assert code == 1
    assert message in err and "Traceback" not in err


def test_bad_condition_and_expression_show_luas_error(site: Site, capsys) -> None:
    line = site.line("t_call")
    code, _, err = run(capsys, str(site.conf), "GET /t", "-p", str(site.root),
                       "--break", f"nginx.conf:{line} if a ==")
    assert code == 1
    assert f"breakpoint nginx.conf:{line} if a ==: bad condition: eval:1: unexpected symbol" \
        in err
    code, out, _ = run(capsys, str(site.conf), "GET /t", "-p", str(site.root),
                       "--break", f"nginx.conf:{line}", "--eval", "a +* 2")
    assert code == 0
    assert "  a +* 2: error: eval:1: unexpected symbol near '*'" in out


def test_bad_config_and_request_line(site: Site, capsys, tmp_path) -> None:
    code, _, err = run(capsys, str(tmp_path / "missing.conf"), "GET /", "--break-on-error")
    assert code == 1 and err.startswith("nginx: [emerg]")
    code, _, err = run(capsys, str(site.conf), "FETCH", "--break-on-error")
    assert code == 1 and "invalid request line" in err


def test_dispatched_by_the_cli(site: Site, capsys) -> None:
    from explorer.cli import main
    assert main(["debug", str(site.conf), "GET /t", "-p", str(site.root), "--break",
                 f"nginx.conf:{site.line('t_a')}"]) == 0
    assert capsys.readouterr().out.startswith("paused at nginx.conf:")
