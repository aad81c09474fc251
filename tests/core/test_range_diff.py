"""Byte ranges on static files against real nginx: single, open-ended, suffix, several
(multipart/byteranges), unsatisfiable and malformed (416), If-Range, HEAD."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    include mime.types;
    server {
        listen 127.0.0.1:{port};
        root html;
        location /few/ { max_ranges 1; }
    }
}
"""

FILES = {"html/a.txt": "abcdefghijklmnopqrstuvwxyz", "html/few/b.txt": "0123456789"}


def rng(spec: str, path: str = "/a.txt", extra: list | None = None) -> Req:
    return Req("GET", path, [("Host", "localhost"), ("Range", spec)] + (extra or []))


CASES = [
    ("first bytes", rng("bytes=0-2")),
    ("open ended", rng("bytes=5-")),
    ("suffix", rng("bytes=-3")),
    ("suffix longer than the file", rng("bytes=-100")),
    ("end past the file", rng("bytes=20-100")),
    ("start past the file", rng("bytes=30-40")),
    ("reversed", rng("bytes=3-1")),
    ("malformed", rng("bytes=x")),
    ("not bytes", rng("items=0-1")),
    ("two ranges", rng("bytes=0-1,4-5")),
    ("spaces", rng("bytes= 0-1 , 4-5")),
    ("overlapping ranges", rng("bytes=0-20,5-25")),
    ("max_ranges 1 with two ranges", rng("bytes=0-1,3-4", "/few/b.txt")),
    ("If-Range with an old date", rng("bytes=0-1", extra=[
        ("If-Range", "Thu, 01 Jan 1970 00:00:00 GMT")])),
    ("HEAD with a range", Req("HEAD", "/a.txt", [("Host", "localhost"),
                                                ("Range", "bytes=0-1")])),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
