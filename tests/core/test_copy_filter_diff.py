"""ngx_http_copy_filter_module against real nginx: the parts a static file reaches the
later body filters in. A ``body_filter_by_lua`` that logs each part's size and
``ngx.arg[2]`` shows them: ``output_buffers``-sized pieces (32k by default) of a file,
cut after the range filter, while memory output (Lua's, ``return``'s) passes whole
however large; HEAD passes no body at all, nor does it run SSI's commands. Then the
directive's ``nginx -t`` errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.conftest import MIME_TYPES
from tests.differential import Pair, Req, engine_load_error
from tests.fuzzing import settled_logs
from tests.lua.cases import mark_logs
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

LOG_PARTS = ('body_filter_by_lua_block { ngx.log(ngx.ERR, "part ", #ngx.arg[1], " ", '
             'tostring(ngx.arg[2])) }')
CONF = r"""
events {}
http {
    include mime.types;
    error_log logs/error.log info;
    access_log off;
    server {
        listen 127.0.0.1:{port};
        root html;
        location / { PARTS }
        location /small/ { alias html/; output_buffers 3 10k; PARTS }
        location /gz/ { alias html/; gzip on; gzip_types *; gzip_min_length 1; PARTS }
        location /drop/ { alias html/;
            body_filter_by_lua_block { if ngx.arg[2] then ngx.arg[1] = nil end } }
        location /ssi/ { alias html/; ssi on; ssi_types text/plain; }
        location = /lua { PARTS
            content_by_lua_block { ngx.print(string.rep("x", 70000)) } }
        location = /ret { PARTS return 200 "$request_uri"; }
        location /big/ { alias html/; output_buffers 1 100k; PARTS }
    }
}
""".replace("PARTS", LOG_PARTS)
FILES: dict[str, str | bytes] = {
    "conf/mime.types": MIME_TYPES.read_text(),
    "html/big.txt": "".join(f"{i:05d} a line of text\n" for i in range(4000)),  # 84000 bytes
    "html/exact.txt": "y" * 32768,
    "html/empty.txt": "",
    "html/cmd.txt": '<!--# unknown --> <!--# echo var="uri" -->\n',
}

CASES = [
    ("default 32k pieces", Req("GET", "/big.txt")),
    ("a file of exactly one buffer", Req("GET", "/exact.txt")),
    ("an empty file", Req("GET", "/empty.txt")),
    ("output_buffers 3 10k", Req("GET", "/small/big.txt")),
    ("one buffer larger than the file", Req("GET", "/big/big.txt")),
    ("a range, cut before the pieces", Req("GET", "/small/big.txt",
                                           [("Host", "a"), ("Range", "bytes=100-40000")])),
    ("gzip after the pieces", Req("GET", "/gz/big.txt",
                                  [("Host", "a"), ("Accept-Encoding", "gzip")])),
    ("the last piece dropped", Req("GET", "/drop/big.txt")),
    ("HEAD runs no body filter", Req("HEAD", "/big.txt")),
    ("HEAD runs no SSI command", Req("HEAD", "/ssi/cmd.txt")),
    ("SSI on GET", Req("GET", "/ssi/cmd.txt")),
    ("Lua output passes whole", Req("GET", "/lua")),
    ("return's text passes whole", Req("GET", "/ret?q")),
]

#: Cases whose file nginx passes on in several pieces (the test would mean little if not).
PIECED = {"default 32k pieces", "output_buffers 3 10k", "a range, cut before the pieces",
          "gzip after the pieces"}


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    with Pair(CONF, FILES) as p:
        yield p


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_pieces_as_nginx(pair, name: str, req: Req) -> None:  # type: ignore[no-untyped-def]
    mark_logs(pair)
    real, ours = pair.both(req)
    assert (ours.status, ours.body) == (real.status, real.body)
    ours_log, real_log = settled_logs(pair)
    assert ours_log == real_log
    if name in PIECED:
        assert len(real_log) > 1  # the case shows pieces, not one whole body


BAD = ["output_buffers 0 32k;", "output_buffers 2 0;", "output_buffers 2 x;",
       "output_buffers 2;", "output_buffers x 32k;", "output_buffers 1 1k 2;"]


@requires_nginx
@pytest.mark.parametrize("directive", BAD)
def test_config_errors_as_nginx(tmp_path: Path, directive: str) -> None:
    conf = f"events {{}}\nhttp {{\nserver {{\nlisten 127.0.0.1:1;\n{directive}\n}}\n}}\n"
    write_prefix(tmp_path, conf)
    real = first_emerg(nginx_test(tmp_path).output)
    assert real is not None
    assert engine_load_error(tmp_path) == real
