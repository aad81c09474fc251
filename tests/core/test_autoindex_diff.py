"""``autoindex`` against real nginx, byte for byte: order (directories first), hidden
dot files, padding of short and long names, exact and human sizes, an index file that
takes precedence, HEAD."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    server {
        listen 127.0.0.1:{port};
        root html;
        autoindex on;
        location /human/ { autoindex_exact_size off; }
    }
}
"""

LONG = "a-file-name-that-is-longer-than-fifty-characters-for-sure.txt"
FILES = {
    "html/list/zeta.txt": "z" * 1234,
    "html/list/alpha.txt": "",
    "html/list/.hidden": "secret",
    "html/list/sub/inner.txt": "x",
    f"html/list/{LONG}": "long",
    "html/list/with space.txt": "s",
    "html/withindex/index.html": "the index wins\n",
    "html/withindex/other.txt": "o",
    "html/human/big.bin": "b" * 5000,
    "html/human/small.txt": "s",
}

CASES = [
    ("listing", Req("GET", "/list/")),
    ("sub directory", Req("GET", "/list/sub/")),
    ("index file first", Req("GET", "/withindex/")),
    ("human sizes", Req("GET", "/human/")),
    ("HEAD", Req("HEAD", "/list/")),
    ("missing directory", Req("GET", "/nope/")),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
