"""``-t``/``-T``/``-v``/``-V``: output and exit status exactly like nginx's."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.commands.check import VERSION_LINE, main, parse_args, run_test, run_version
from tests.oracle import NGINX, nginx_test, requires_nginx, write_prefix


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_test(argv, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def test_ok_and_failed(tmp_path: Path) -> None:
    conf = write_prefix(tmp_path, "events {}\n")
    rc, out, err = run(["-t", "-p", str(tmp_path), "-c", "conf/nginx.conf"])
    assert rc == 0 and out == ""
    assert err == (f"nginx: the configuration file {conf} syntax is ok\n"
                   f"nginx: configuration file {conf} test is successful\n")
    conf.write_text("events {}\nfoo;\n")
    rc, out, err = run(["-t", "-c", str(conf)])
    assert rc == 1
    assert err == (f'nginx: [emerg] unknown directive "foo" in {conf}:2\n'
                   f"nginx: configuration file {conf} test failed\n")


def test_quiet_and_post_parse_error(tmp_path: Path) -> None:
    conf = write_prefix(tmp_path, "events {}\n")
    assert run(["-tq", "-c", str(conf)]) == (0, "", "")
    conf.write_text("http {}\n")
    rc, _, err = run(["-t", "-c", str(conf)])
    assert rc == 1 and err.splitlines() == [
        f"nginx: the configuration file {conf} syntax is ok",
        'nginx: [emerg] no "events" section in configuration',
        f"nginx: configuration file {conf} test failed"]


def test_dump(tmp_path: Path) -> None:
    conf = write_prefix(tmp_path, "events {}\nhttp { include a.conf; include a.conf; }",
                        {"conf/a.conf": "# hi\n"})
    rc, out, err = run(["-T", "-p", str(tmp_path)])
    assert rc == 0
    assert out == (f"# configuration file {conf}:\nevents {{}}\nhttp {{ include a.conf; "
                   f"include a.conf; }}\n# configuration file {tmp_path}/conf/a.conf:\n# hi\n\n")


@pytest.mark.parametrize("content", [b"\x00\xff\xfe\x80garbage{{{;", b"", b"\xef\xbb\xbfevents {}"])
def test_never_a_traceback(tmp_path: Path, content: bytes) -> None:
    conf = tmp_path / "x.conf"
    conf.write_bytes(content)
    rc, out, err = run(["-T", "-c", str(conf)])
    assert "Traceback" not in err and err.startswith("nginx: ")
    assert rc in (0, 1)


def test_directory_and_missing(tmp_path: Path) -> None:
    rc, _, err = run(["-t", "-c", str(tmp_path)])
    assert rc == 1 and err.startswith(f'nginx: [crit] pread() "{tmp_path}" failed (21: ')
    rc, _, err = run(["-t", "-c", str(tmp_path / "nope.conf")])
    assert err.startswith(f'nginx: [emerg] open() "{tmp_path}/nope.conf" failed (2: No such')


def test_usage_errors() -> None:
    rc, _, err = run(["-t", "-c"])
    assert rc == 1 and err == 'nginx: option "-c" requires file name\n'
    rc, _, err = run(["-x"])
    assert rc == 1 and err == 'nginx: invalid option: "x"\n'


def test_option_forms() -> None:
    o = parse_args(["-tq", "-cfoo.conf", "-p", "/p", "-g", "daemon off;"])
    assert (o.test, o.quiet, o.conf, o.prefix, o.global_directives) == (
        True, True, "foo.conf", "/p", "daemon off;")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v"]) == 0
    assert capsys.readouterr().err == VERSION_LINE + "\n"
    err = io.StringIO()
    run_version(["-V"], err=err)
    assert "ngx_http_lua_module" in err.getvalue()


def test_module_entry_point(tmp_path: Path) -> None:
    conf = write_prefix(tmp_path, "events {}\n")
    proc = subprocess.run([sys.executable, "-m", "explorer.commands.check", "-t", "-c", str(conf)],
                          capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0 and "test is successful" in proc.stderr


@requires_nginx
def test_dump_matches_nginx(tmp_path: Path) -> None:
    write_prefix(tmp_path, "events {}\nhttp { include a/*.conf; }\n# end",
                 {"conf/a/2.conf": "server_tokens off;", "conf/a/1.conf": "\n\n"})
    real = subprocess.run([NGINX, "-T", "-q", "-p", str(tmp_path), "-c", "conf/nginx.conf"],
                          capture_output=True, text=True).stdout
    rc, out, _ = run(["-T", "-q", "-p", str(tmp_path), "-c", "conf/nginx.conf"])
    assert rc == 0 and out == real
    assert nginx_test(tmp_path).returncode == 0
