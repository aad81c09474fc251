"""``nginx -t``'s ``[warn]`` lines against real nginx: a valid configuration can still
make nginx warn, and ``ngx-explore -t`` (and ``serve``) print the same lines."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from explorer.commands.check import run_test
from tests.oracle import nginx_test, requires_nginx, write_prefix

H = "events {}\nhttp {\n%s\n}\n"
S = "server {\n listen 127.0.0.1:8081;\n%s\n}"

CASES = [
    ("allow with host bits", H % S % " location / { allow 10.0.0.1/8; deny 192.168.1.1/16; }"),
    ("geo duplicate network", H % "geo $g {\n 10.0.0.0/8 a;\n 10.0.0.0/8 b;\n}"),
    ("realip with host bits", H % S % " set_real_ip_from 10.1.2.3/8;"),
    ("conflicting server names", H % (S % " server_name a.test;" + "\n"
                                      + S % " server_name a.test b.test;")),
    ("duplicate MIME types", H % (" sub_filter_types text/plain text/plain TEXT/html;\n"
                                  " gzip_types a/b;\n gzip_types A/B *;\n"
                                  " charset_types text/html text/plain;\n"
                                  " charset_types text/xml; addition_types a/b;\n"
                                  " addition_types a/b text/html;\n"
                                  + S % " ssi_types text/html;")),
    ("server names taken twice on one address",
     H % "\n".join(f"server {{ listen {listen}; server_name {names}; }}" for listen, names in (
         ("9997", "a a .c www.* *.d"), ("9997", "a A c .c www.* *.d"), ("9997", "a ~^a$"),
         ("127.0.0.1:9997", "a"), ("9996", '""'), ("9996", '""')))),
    ("load balancing method redefined",
     H % "upstream u { least_conn; ip_hash; server 127.0.0.1:1; }\n"
         "upstream v { server 127.0.0.1:2; keepalive 2; hash $uri; }"),
    ("deprecated ssl directive", H % S % " ssl off;"),
    ("no warning", H % S % " location / { return 200; }"),
]

_WARN = re.compile(r"\[warn\] (?:\d+#\d+: )?(.*)$")


def _warnings(text: str, prefix: Path) -> list[str]:
    return [m.group(1).replace(str(prefix), "{prefix}") for line in text.splitlines()
            if (m := _WARN.search(line))]


@requires_nginx
@pytest.mark.parametrize("name,conf", CASES, ids=[c[0] for c in CASES])
def test_same_warnings_as_nginx(tmp_path: Path, name: str, conf: str) -> None:
    write_prefix(tmp_path, conf)
    real = nginx_test(tmp_path)
    assert real.returncode == 0, real.output
    err = io.StringIO()
    assert run_test(["-t", "-p", str(tmp_path), "-c", "conf/nginx.conf"],
                    out=io.StringIO(), err=err) == 0, err.getvalue()
    assert _warnings(err.getvalue(), tmp_path) == _warnings(real.output, tmp_path)
